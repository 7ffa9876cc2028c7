/* signet-gtk-renew-page.c: see signet-gtk-renew-page.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-renew-page.h"

#include "libsignet/signet-client.h"
#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-progress.h"
#include "ui-gtk/signet-gtk-rules.h"
#include "ui-gtk/signet-gtk-secret.h"

#include <glib/gi18n.h>

struct _SignetGtkRenewPage
{
  GtkBox parent_instance;

  SignetGtkOperation op; /* the form, the PIN, the steps, the result */
  AdwActionRow *holder_row, *until_row;

  char *cert;
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
send(SignetGtkOperation *op, GVariant *pin, GVariantDict *options, GAsyncReadyCallback done)
{
  SignetGtkRenewPage *self = SIGNET_GTK_RENEW_PAGE(op->page);

  if (self->cert != NULL && *self->cert != '\0')
    g_variant_dict_insert(options, "cert", "s", self->cert);
  signet_agent1_call_renew(op->proxy, op->token, pin, g_variant_dict_end(options),
                           G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT, NULL, done, op);
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

  g_return_if_fail(SIGNET_GTK_IS_RENEW_PAGE(self));
  if (!signet_gtk_operation_open(&self->op, proxy, token, label, status))
    return;
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
  if (found != NULL && signet_gtk_cert_state(found) == SIGNET_GTK_CERT_EXPIRED)
    signet_gtk_operation_form_error(
        &self->op, _("This certificate has expired and cannot be renewed any more. Ask your "
                     "certificate authority for a new certificate, then activate the token with "
                     "it."));
  signet_gtk_operation_show_form(&self->op);
}

gboolean
signet_gtk_renew_page_get_running(SignetGtkRenewPage *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_RENEW_PAGE(self), FALSE);
  return self->op.running;
}

static void
signet_gtk_renew_page_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  if (prop_id == PROP_RUNNING)
    g_value_set_boolean(value, SIGNET_GTK_RENEW_PAGE(object)->op.running);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void
signet_gtk_renew_page_dispose(GObject *object)
{
  SignetGtkRenewPage *self = SIGNET_GTK_RENEW_PAGE(object);
  signet_gtk_operation_clear(&self->op);
  gtk_widget_dispose_template(GTK_WIDGET(self), SIGNET_GTK_TYPE_RENEW_PAGE);
  G_OBJECT_CLASS(signet_gtk_renew_page_parent_class)->dispose(object);
}

static void
signet_gtk_renew_page_finalize(GObject *object)
{
  SignetGtkRenewPage *self = SIGNET_GTK_RENEW_PAGE(object);
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
  gtk_widget_class_set_template_from_resource(widget_class,
                                              "/io/signet/Signet/signet-gtk-renew-page.ui");
  signet_gtk_operation_bind_template(widget_class, G_STRUCT_OFFSET(SignetGtkRenewPage, op));
  gtk_widget_class_bind_template_child(widget_class, SignetGtkRenewPage, holder_row);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkRenewPage, until_row);
}

static void
signet_gtk_renew_page_init(SignetGtkRenewPage *self)
{
  gtk_widget_init_template(GTK_WIDGET(self));
  self->op.running_pspec = props[PROP_RUNNING];
  self->op.name = "renew";
  self->op.op = SIGNET_CLIENT_OP_RENEW;
  self->op.running_text = _("Renewing… You may close the window: the agent keeps working.");
  self->op.done_text = _("The certificate is renewed");
  self->op.failed_text = _("The renewal did not finish");
  self->op.send = send;
  self->op.finish = signet_agent1_call_renew_finish;
  signet_gtk_operation_init(&self->op, GTK_WIDGET(self));
}
