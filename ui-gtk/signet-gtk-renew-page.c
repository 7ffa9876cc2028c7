/* signet-gtk-renew-page.c: see signet-gtk-renew-page.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-renew-page.h"

#include "libsignet/signet-client.h"
#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-progress.h"
#include "ui-gtk/signet-gtk-rules.h"
#include "ui-gtk/signet-gtk-screenshot.h"
#include "ui-gtk/signet-gtk-secret.h"

#include <glib/gi18n.h>

struct _SignetGtkRenewPage
{
  GtkBox parent_instance;

  GtkWidget *form_box, *run_box;
  AdwActionRow *holder_row, *until_row, *pin_row;
  GtkEditable *pin_entry;
  GtkLabel *form_error, *run_label, *run_error;
  GtkButton *start_button, *again_button;
  SignetGtkProgress *progress;

  SignetAgent1 *proxy;
  char *token;
  char *label;
  char *cert;
  gboolean running;
};

G_DEFINE_TYPE(SignetGtkRenewPage, signet_gtk_renew_page, GTK_TYPE_BOX)

enum
{
  PROP_0,
  PROP_RUNNING,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void
set_running(SignetGtkRenewPage *self, gboolean running)
{
  self->running = running;
  gtk_widget_set_sensitive(GTK_WIDGET(self->start_button), !running);
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RUNNING]);
}

static void
show_form(SignetGtkRenewPage *self)
{
  gtk_widget_set_visible(self->run_box, FALSE);
  gtk_widget_set_visible(self->form_box, TRUE);
  signet_gtk_screenshot_later(GTK_WIDGET(self), "renew");
}

static void
on_renewed_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkRenewPage) self = data;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;

  if (!signet_agent1_call_renew_finish(SIGNET_AGENT1(source), &result, res, &error)) {
    signet_gtk_progress_finish(self->progress, FALSE);
    gtk_label_set_text(self->run_label, _("The renewal did not finish"));
    signet_gtk_secret_show_error(self->run_error, self->proxy, self->token, error);
    signet_gtk_secret_show_error(self->form_error, self->proxy, self->token, error);
    gtk_widget_set_visible(GTK_WIDGET(self->again_button), TRUE);
  } else {
    signet_gtk_progress_finish(self->progress, TRUE);
    signet_gtk_progress_set_result(self->progress, result);
    gtk_label_set_text(self->run_label, _("The certificate is renewed"));
  }
  set_running(self, FALSE);
  signet_gtk_screenshot_later(GTK_WIDGET(self), "renew-result");
}

static void
on_secret_ready_cb(gboolean go, gboolean confirmed_final_try, gboolean pin_pad, const GError *error,
                   gpointer data)
{
  SignetGtkRenewPage *self = data; /* a reference, dropped here or by on_renewed_cb */
  g_autoptr(GVariantDict) options = g_variant_dict_new(NULL);
  SignetSecret *pin;
  const char *request_id;

  if (!go) {
    gtk_editable_set_text(self->pin_entry, "");
    if (error != NULL)
      signet_gtk_secret_show_error(self->form_error, self->proxy, self->token, error);
    else {
      gtk_label_set_text(self->form_error, _("Nothing was sent to the token."));
      gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
    }
    set_running(self, FALSE);
    g_object_unref(self);
    return;
  }
  pin = pin_pad ? signet_secret_new("", 0) : signet_gtk_secret_take(self->pin_entry);
  if (pin == NULL) {
    gtk_label_set_text(self->form_error, _("Type the token's PIN first."));
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
    set_running(self, FALSE);
    g_object_unref(self);
    return;
  }
  request_id = signet_gtk_progress_start(self->progress, self->proxy, "renew");
  g_variant_dict_insert(options, "request-id", "s", request_id);
  if (self->cert != NULL && *self->cert != '\0')
    g_variant_dict_insert(options, "cert", "s", self->cert);
  if (confirmed_final_try)
    g_variant_dict_insert(options, "confirm-final-try", "b", TRUE);
  gtk_label_set_text(self->run_label,
                     _("Renewing… You may close the window: the agent keeps working."));
  gtk_widget_set_visible(GTK_WIDGET(self->run_error), FALSE);
  gtk_widget_set_visible(GTK_WIDGET(self->again_button), FALSE);
  gtk_widget_set_visible(self->form_box, FALSE);
  gtk_widget_set_visible(self->run_box, TRUE);
  signet_agent1_call_renew(self->proxy, self->token, signet_gtk_secret_to_variant(pin),
                           g_variant_dict_end(options), G_DBUS_CALL_FLAGS_NONE,
                           SIGNET_GTK_CALL_TIMEOUT, NULL, on_renewed_cb, self);
  signet_gtk_screenshot_later(GTK_WIDGET(self), "renew-progress");
}

static void
on_start_clicked_cb(GtkWidget *widget, SignetGtkRenewPage *self)
{
  if (self->running || self->proxy == NULL)
    return;
  gtk_widget_set_visible(GTK_WIDGET(self->form_error), FALSE);
  set_running(self, TRUE);
  signet_gtk_secret_check(GTK_WIDGET(self), self->proxy, self->token, self->label,
                          SIGNET_CLIENT_OP_RENEW, on_secret_ready_cb, g_object_ref(self));
}

static void
on_again_clicked_cb(GtkButton *button, SignetGtkRenewPage *self)
{
  show_form(self);
}

/* Hex without colons, lower case: how serials and ids compare. */
static char *
normal_hex(const char *text)
{
  GString *s = g_string_new(NULL);
  for (; text != NULL && *text != '\0'; text++)
    if (*text != ':')
      g_string_append_c(s, g_ascii_tolower(*text));
  return g_string_free(s, FALSE);
}

/* The certificate @cert names in @status (by serial or key id), or NULL. */
static GVariant *
find_certificate(GVariant *status, const char *cert)
{
  g_autoptr(GVariant) certs = NULL;
  g_autofree char *want = normal_hex(cert);
  GVariantIter iter;
  GVariant *c;

  certs = status != NULL ? g_variant_lookup_value(status, "certificates", G_VARIANT_TYPE("aa{sv}"))
                         : NULL;
  if (certs == NULL)
    return NULL;
  g_variant_iter_init(&iter, certs);
  while ((c = g_variant_iter_next_value(&iter)) != NULL) {
    const char *serial = "", *id = "";
    g_autofree char *s = NULL, *i = NULL;
    (void)g_variant_lookup(c, "serial", "&s", &serial);
    (void)g_variant_lookup(c, "id", "&s", &id);
    s = normal_hex(serial);
    i = normal_hex(id);
    if (signet_gtk_cert_state(c) != SIGNET_GTK_CERT_AUTHORITY
        && (*want == '\0' || g_str_equal(s, want) || g_str_equal(i, want)))
      return c;
    g_variant_unref(c);
  }
  return NULL;
}

void
signet_gtk_renew_page_open(SignetGtkRenewPage *self, SignetAgent1 *proxy, const char *token,
                           const char *label, GVariant *status, const char *cert)
{
  g_autoptr(GVariant) found = NULL;
  g_autofree char *pin_state = NULL;

  g_return_if_fail(SIGNET_GTK_IS_RENEW_PAGE(self));
  if (self->running)
    return;
  g_set_object(&self->proxy, proxy);
  g_free(self->token);
  self->token = g_strdup(token);
  g_free(self->label);
  self->label = g_strdup(label);
  g_free(self->cert);
  self->cert = g_strdup(cert);
  found = find_certificate(status, cert);
  if (found != NULL) {
    const char *subject = "";
    g_autofree char *until = signet_client_format_not_after(found);
    (void)g_variant_lookup(found, "subject", "&s", &subject);
    adw_action_row_set_subtitle(self->holder_row, subject);
    adw_action_row_set_subtitle(self->until_row, until);
  } else {
    adw_action_row_set_subtitle(self->holder_row, cert != NULL ? cert : "");
    adw_action_row_set_subtitle(self->until_row, _("not known"));
  }
  pin_state = g_strdup_printf(_("The PIN: %s"), signet_gtk_pin_short_state(status));
  adw_action_row_set_subtitle(self->pin_row, pin_state);
  gtk_editable_set_text(self->pin_entry, "");
  gtk_widget_set_visible(GTK_WIDGET(self->form_error), FALSE);
  if (found != NULL && signet_gtk_cert_state(found) == SIGNET_GTK_CERT_EXPIRED) {
    gtk_label_set_text(self->form_error,
                       _("This certificate has expired and cannot be renewed any more. Ask your "
                         "certificate authority for a new certificate, then activate the token "
                         "with it."));
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
  }
  show_form(self);
}

gboolean
signet_gtk_renew_page_get_running(SignetGtkRenewPage *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_RENEW_PAGE(self), FALSE);
  return self->running;
}

static void
signet_gtk_renew_page_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  if (prop_id == PROP_RUNNING)
    g_value_set_boolean(value, SIGNET_GTK_RENEW_PAGE(object)->running);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void
signet_gtk_renew_page_dispose(GObject *object)
{
  SignetGtkRenewPage *self = SIGNET_GTK_RENEW_PAGE(object);
  g_clear_object(&self->proxy);
  gtk_widget_dispose_template(GTK_WIDGET(self), SIGNET_GTK_TYPE_RENEW_PAGE);
  G_OBJECT_CLASS(signet_gtk_renew_page_parent_class)->dispose(object);
}

static void
signet_gtk_renew_page_finalize(GObject *object)
{
  SignetGtkRenewPage *self = SIGNET_GTK_RENEW_PAGE(object);
  g_free(self->token);
  g_free(self->label);
  g_free(self->cert);
  G_OBJECT_CLASS(signet_gtk_renew_page_parent_class)->finalize(object);
}

static void
signet_gtk_renew_page_class_init(SignetGtkRenewPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
  GObjectClass *object_class = G_OBJECT_CLASS(klass);

  object_class->get_property = signet_gtk_renew_page_get_property;
  object_class->dispose = signet_gtk_renew_page_dispose;
  object_class->finalize = signet_gtk_renew_page_finalize;
  props[PROP_RUNNING] = g_param_spec_boolean("running", NULL, NULL, FALSE,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);
  g_type_ensure(SIGNET_GTK_TYPE_PROGRESS);
  gtk_widget_class_set_template_from_resource(widget_class,
                                              "/io/signet/Signet/signet-gtk-renew-page.ui");
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, SignetGtkRenewPage, name)
  BIND(form_box);
  BIND(run_box);
  BIND(holder_row);
  BIND(until_row);
  BIND(pin_row);
  BIND(pin_entry);
  BIND(form_error);
  BIND(run_label);
  BIND(run_error);
  BIND(start_button);
  BIND(again_button);
  BIND(progress);
#undef BIND
}

static void
signet_gtk_renew_page_init(SignetGtkRenewPage *self)
{
  gtk_widget_init_template(GTK_WIDGET(self));
  g_signal_connect(self->start_button, "clicked", G_CALLBACK(on_start_clicked_cb), self);
  g_signal_connect(self->again_button, "clicked", G_CALLBACK(on_again_clicked_cb), self);
  g_signal_connect(self->pin_entry, "activate", G_CALLBACK(on_start_clicked_cb), self);
}
