/* signet-gtk-application.c: see signet-gtk-application.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-application.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-window.h"

#include <glib/gi18n.h>

struct _SignetGtkApplication
{
  AdwApplication parent_instance;
  SignetGtkAgent *agent;
};

G_DEFINE_TYPE(SignetGtkApplication, signet_gtk_application, ADW_TYPE_APPLICATION)

static SignetGtkWindow *
main_window(SignetGtkApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(self));

  if (SIGNET_GTK_IS_WINDOW(window))
    return SIGNET_GTK_WINDOW(window);
  if (self->agent == NULL)
    self->agent = signet_gtk_agent_new();
  return signet_gtk_window_new(self, self->agent);
}

static void
signet_gtk_application_activate(GApplication *app)
{
  gtk_window_present(GTK_WINDOW(main_window(SIGNET_GTK_APPLICATION(app))));
}

static int
signet_gtk_application_command_line(GApplication *app, GApplicationCommandLine *cmdline)
{
  SignetGtkApplication *self = SIGNET_GTK_APPLICATION(app);
  GVariantDict *options = g_application_command_line_get_options_dict(cmdline);
  const char *token = NULL, *renew = NULL;
  SignetGtkWindow *window;

  (void)g_variant_dict_lookup(options, "token", "&s", &token);
  (void)g_variant_dict_lookup(options, "renew", "&s", &renew);
  window = main_window(self);
  if (token != NULL || renew != NULL)
    signet_gtk_window_open(window, token, renew);
  gtk_window_present(GTK_WINDOW(window));
  return 0;
}

static void
signet_gtk_application_dispose(GObject *object)
{
  g_clear_object(&SIGNET_GTK_APPLICATION(object)->agent);
  G_OBJECT_CLASS(signet_gtk_application_parent_class)->dispose(object);
}

static void
signet_gtk_application_class_init(SignetGtkApplicationClass *klass)
{
  G_OBJECT_CLASS(klass)->dispose = signet_gtk_application_dispose;
  G_APPLICATION_CLASS(klass)->activate = signet_gtk_application_activate;
  G_APPLICATION_CLASS(klass)->command_line = signet_gtk_application_command_line;
}

static void
signet_gtk_application_init(SignetGtkApplication *self)
{
  static const GOptionEntry entries[] = {
    { "token", 't', 0, G_OPTION_ARG_STRING, NULL,
      N_("Open the token with this serial number (it may be plugged in later)"), N_("SERIAL") },
    { "renew", 'r', 0, G_OPTION_ARG_STRING, NULL,
      N_("Open the renewal of this certificate (serial, SHA-256 fingerprint or key id)"),
      N_("CERT") },
    { NULL },
  };
  g_application_add_main_option_entries(G_APPLICATION(self), entries);
  g_application_set_option_context_summary(
      G_APPLICATION(self), _("The window of Signet: your e-signature tokens and certificates."));
}

SignetGtkApplication *
signet_gtk_application_new(void)
{
  return g_object_new(SIGNET_GTK_TYPE_APPLICATION, "application-id", SIGNET_GTK_APPLICATION_ID,
                      "flags", G_APPLICATION_HANDLES_COMMAND_LINE, "resource-base-path",
                      "/io/signet/Signet", NULL);
}
