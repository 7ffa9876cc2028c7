/* signet-gtk-token-page.c: see signet-gtk-token-page.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-token-page.h"

#include "libsignet/signet-client.h"
#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-dialogs.h"
#include "ui-gtk/signet-gtk-rules.h"

#include <glib/gi18n.h>

struct _SignetGtkTokenPage
{
  GtkBox parent_instance;

  GtkLabel *error_label;
  GtkBox *notices;
  AdwActionRow *label_row, *model_row, *serial_row, *reader_row, *pin_row, *puk_row;
  GtkWidget *activate_button, *change_pin_button, *unblock_button, *request_button, *import_button,
      *history_button;
  GtkBox *details;

  SignetAgent1 *proxy;
  char *serial;
  char *label;
  GVariant *status;
  GCancellable *cancellable;
  gboolean busy;
};

G_DEFINE_TYPE(SignetGtkTokenPage, signet_gtk_token_page, GTK_TYPE_BOX)

enum
{
  SIGNAL_STATUS_LOADED,
  SIGNAL_ACTIVATE_REQUESTED,
  SIGNAL_RENEW_REQUESTED,
  SIGNAL_HISTORY_REQUESTED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static const char *
lookup_str(GVariant *dict, const char *key)
{
  const char *value = "";
  if (dict != NULL)
    (void)g_variant_lookup(dict, key, "&s", &value);
  return value;
}

/* The CN of a one-line subject, for a title; the whole subject without one. */
static char *
common_name(const char *subject)
{
  const char *cn = strstr(subject, "CN=");
  const char *end;

  if (cn == NULL)
    return g_strdup(subject);
  cn += 3;
  for (end = cn; *end != '\0' && *end != ','; end++)
    if (*end == '\\' && end[1] != '\0')
      end++;
  return g_strndup(cn, (gsize)(end - cn));
}

static void
clear_box(GtkBox *box)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child(GTK_WIDGET(box))) != NULL)
    gtk_box_remove(box, child);
}

static void
set_value(AdwActionRow *row, const char *value)
{
  adw_action_row_set_subtitle(row, value != NULL && *value != '\0' ? value : _("not known"));
}

static GtkWidget *
suffix_button(GtkWidget *row, const char *label, const char *accessible, gboolean suggested)
{
  GtkWidget *button = gtk_button_new_with_mnemonic(label);

  gtk_widget_set_valign(button, GTK_ALIGN_CENTER);
  if (suggested)
    gtk_widget_add_css_class(button, "suggested-action");
  gtk_accessible_update_property(GTK_ACCESSIBLE(button), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                 -1);
  gtk_widget_set_sensitive(button, FALSE); /* update_sensitivity() decides */
  g_object_set_data(G_OBJECT(button), "signet-start", GINT_TO_POINTER(1));
  if (ADW_IS_EXPANDER_ROW(row))
    adw_expander_row_add_action(ADW_EXPANDER_ROW(row), button);
  else
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), button);
  return button;
}

/* --- the buttons ----------------------------------------------------------------- */

static GtkWindow *
parent_window(SignetGtkTokenPage *self)
{
  GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
  return GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL;
}

static void
on_change_pin_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  signet_gtk_change_pin(parent_window(self), self->proxy, self->serial);
}

static void
on_unblock_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  signet_gtk_unblock_pin(parent_window(self), self->proxy, self->serial);
}

static void
on_request_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  signet_gtk_make_request(parent_window(self), self->proxy, self->serial);
}

static void
on_import_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  signet_gtk_import_certificate(parent_window(self), self->proxy, self->serial);
}

static void
on_export_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  signet_gtk_export_certificate(parent_window(self), self->proxy, self->serial,
                                g_object_get_data(G_OBJECT(button), "cert"));
}

static void
on_activate_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  g_signal_emit(self, signals[SIGNAL_ACTIVATE_REQUESTED], 0);
}

static void
on_renew_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  g_signal_emit(self, signals[SIGNAL_RENEW_REQUESTED], 0,
                g_object_get_data(G_OBJECT(button), "cert"));
}

static void
on_history_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  g_signal_emit(self, signals[SIGNAL_HISTORY_REQUESTED], 0);
}

static void
update_sensitivity_in(GtkWidget *widget, gboolean can_start)
{
  for (GtkWidget *child = gtk_widget_get_first_child(widget); child != NULL;
       child = gtk_widget_get_next_sibling(child)) {
    if (g_object_get_data(G_OBJECT(child), "signet-start") != NULL)
      gtk_widget_set_sensitive(child, can_start);
    update_sensitivity_in(child, can_start);
  }
}

static void
update_sensitivity(SignetGtkTokenPage *self)
{
  SignetGtkOffers offers = self->status != NULL ? signet_gtk_token_offers(self->status) : 0;
  gboolean can = self->status != NULL && self->proxy != NULL && !self->busy;

  gtk_widget_set_sensitive(self->activate_button, can && (offers & SIGNET_GTK_OFFER_ACTIVATE));
  gtk_widget_set_sensitive(self->change_pin_button, can && (offers & SIGNET_GTK_OFFER_CHANGE_PIN));
  gtk_widget_set_sensitive(self->unblock_button, can && (offers & SIGNET_GTK_OFFER_UNBLOCK));
  gtk_widget_set_sensitive(self->request_button, can && (offers & SIGNET_GTK_OFFER_REQUEST));
  gtk_widget_set_sensitive(self->import_button, can && (offers & SIGNET_GTK_OFFER_IMPORT));
  gtk_widget_set_sensitive(self->history_button, self->proxy != NULL);
  update_sensitivity_in(GTK_WIDGET(self->notices), can);
  update_sensitivity_in(GTK_WIDGET(self->details), can);
}

/* --- the dynamic parts ----------------------------------------------------------- */

static void
add_notice(SignetGtkTokenPage *self, GVariant *cert, SignetGtkCertState state)
{
  g_autofree char *name = common_name(lookup_str(cert, "subject"));
  g_autofree char *title = NULL;
  GtkWidget *group = adw_preferences_group_new();
  GtkWidget *row = adw_action_row_new();
  GtkWidget *button;
  gint64 days = 0;

  (void)g_variant_lookup(cert, "days_left", "x", &days);
  adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
  adw_action_row_add_prefix(ADW_ACTION_ROW(row),
                            gtk_image_new_from_icon_name(state == SIGNET_GTK_CERT_EXPIRED
                                                             ? "dialog-error-symbolic"
                                                             : "dialog-warning-symbolic"));
  if (state == SIGNET_GTK_CERT_EXPIRED) {
    title = g_strdup_printf(_("The certificate of %s has expired"), name);
    adw_action_row_set_subtitle(
        ADW_ACTION_ROW(row),
        _("An expired certificate cannot be renewed. Ask your certificate authority for a new "
          "certificate, then activate the token with the reference number and code it sends "
          "you."));
    gtk_widget_add_css_class(row, "error");
  } else {
    title = g_strdup_printf(ngettext("The certificate of %s expires in %d day",
                                     "The certificate of %s expires in %d days", (gulong)days),
                            name, (int)days);
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row),
                                _("Renew it now: the token stays the same, and so does your PIN."));
    button = suffix_button(row, _("_Renew"), _("Renew now"), TRUE);
    g_object_set_data_full(G_OBJECT(button), "cert", g_strdup(lookup_str(cert, "serial")), g_free);
    g_signal_connect(button, "clicked", G_CALLBACK(on_renew_cb), self);
    gtk_widget_add_css_class(row, "warning");
  }
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
  adw_action_row_set_subtitle_lines(ADW_ACTION_ROW(row), 0);
  adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
  gtk_box_append(self->notices, group);
}

static GtkWidget *
detail_row(const char *title, const char *value)
{
  GtkWidget *row = adw_action_row_new();
  adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
  adw_action_row_set_subtitle(ADW_ACTION_ROW(row), value);
  return row;
}

static void
add_certificate(SignetGtkTokenPage *self, GtkWidget *group, GVariant *cert)
{
  SignetGtkCertState state = signet_gtk_cert_state(cert);
  const char *serial = lookup_str(cert, "serial");
  g_autofree char *name = common_name(lookup_str(cert, "subject"));
  g_autofree char *until = signet_client_format_not_after(cert);
  g_autoptr(GVariant) from_v = g_variant_new_string(lookup_str(cert, "not_before"));
  g_autoptr(GVariant) until_v = g_variant_new_string(lookup_str(cert, "not_after"));
  g_autofree char *from_local = signet_client_format_time(from_v);
  g_autofree char *until_local = signet_client_format_time(until_v);
  g_autofree char *subtitle = NULL;
  GtkWidget *row = adw_expander_row_new();
  GtkWidget *button;

  switch (state) {
    case SIGNET_GTK_CERT_AUTHORITY:
      subtitle = g_strdup_printf(_("Certificate authority · valid until %s"), until);
      break;
    case SIGNET_GTK_CERT_EXPIRED:
      subtitle
          = g_strdup_printf(_("Expired: %s. Ask your certificate authority for a new one."), until);
      break;
    case SIGNET_GTK_CERT_VALID:
    case SIGNET_GTK_CERT_RENEW_SOON:
      subtitle = g_strdup_printf(_("Valid until %s"), until);
      break;
  }
  adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), name);
  adw_expander_row_set_subtitle(ADW_EXPANDER_ROW(row), subtitle);
  adw_expander_row_set_expanded(ADW_EXPANDER_ROW(row), state != SIGNET_GTK_CERT_AUTHORITY);
  gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, subtitle,
                                 -1);
  adw_expander_row_add_row(ADW_EXPANDER_ROW(row),
                           detail_row(_("Holder"), lookup_str(cert, "subject")));
  adw_expander_row_add_row(ADW_EXPANDER_ROW(row),
                           detail_row(_("Issuer"), lookup_str(cert, "issuer")));
  adw_expander_row_add_row(ADW_EXPANDER_ROW(row), detail_row(_("Valid from"), from_local));
  {
    g_autofree char *until_text = g_strdup_printf("%s · %s", until_local, until);
    adw_expander_row_add_row(ADW_EXPANDER_ROW(row), detail_row(_("Valid until"), until_text));
  }
  adw_expander_row_add_row(ADW_EXPANDER_ROW(row), detail_row(_("Serial number"), serial));
  if (state != SIGNET_GTK_CERT_AUTHORITY) {
    g_autofree char *export_name = g_strdup_printf(_("Export certificate %s"), serial);
    button = suffix_button(row, _("_Export…"), export_name, FALSE);
    g_object_set_data_full(G_OBJECT(button), "cert", g_strdup(serial), g_free);
    g_signal_connect(button, "clicked", G_CALLBACK(on_export_cb), self);
  }
  if (signet_gtk_cert_renewable(cert)) {
    g_autofree char *renew_name = g_strdup_printf(_("Renew certificate %s"), serial);
    button = suffix_button(row, _("Re_new…"), renew_name, FALSE);
    g_object_set_data_full(G_OBJECT(button), "cert", g_strdup(serial), g_free);
    g_signal_connect(button, "clicked", G_CALLBACK(on_renew_cb), self);
  }
  adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
}

static void
on_continue_cb(GtkButton *button, SignetGtkTokenPage *self)
{
  const char *cert = g_object_get_data(G_OBJECT(button), "cert");
  if (cert != NULL)
    g_signal_emit(self, signals[SIGNAL_RENEW_REQUESTED], 0, cert);
  else
    g_signal_emit(self, signals[SIGNAL_ACTIVATE_REQUESTED], 0);
}

static void
add_operations(SignetGtkTokenPage *self, GVariant *operations)
{
  GtkWidget *group;
  GVariantIter iter;
  GVariant *op;

  if (operations == NULL || g_variant_n_children(operations) == 0)
    return;
  group = adw_preferences_group_new();
  adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(group), _("Unfinished Operations"));
  g_variant_iter_init(&iter, operations);
  while ((op = g_variant_iter_next_value(&iter)) != NULL) {
    gboolean renew = g_str_equal(lookup_str(op, "kind"), "renew");
    gboolean needs_pin = FALSE;
    g_autofree char *todo = signet_gtk_operation_todo(op);
    g_autofree char *title = g_strdup_printf(
        "%s (%s)", renew ? _("Renewal not finished") : _("Activation not finished"),
        signet_gtk_step_title(renew ? "renew" : "activate", lookup_str(op, "step")));
    GtkWidget *row = adw_action_row_new();

    adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), todo);
    adw_action_row_set_subtitle_lines(ADW_ACTION_ROW(row), 0);
    (void)g_variant_lookup(op, "needs_pin", "b", &needs_pin);
    if (needs_pin) {
      GtkWidget *button
          = suffix_button(row, _("_Continue…"),
                          renew ? _("Continue the renewal") : _("Continue the activation"), TRUE);
      if (renew)
        g_object_set_data_full(G_OBJECT(button), "cert", g_strdup(lookup_str(op, "old_serial")),
                               g_free);
      g_signal_connect(button, "clicked", G_CALLBACK(on_continue_cb), self);
    }
    adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
    g_variant_unref(op);
  }
  gtk_box_append(self->details, group);
}

void
signet_gtk_token_page_set_status(SignetGtkTokenPage *self, GVariant *status)
{
  g_autoptr(GVariant) certs = NULL;
  g_autoptr(GVariant) operations = NULL;
  g_autoptr(GVariant) pin = NULL;
  g_autoptr(GVariant) puk = NULL;
  g_autofree char *pin_words = NULL;
  g_autofree char *pin_text = NULL;
  const char *puk_short;
  const char *model, *manufacturer;
  GtkWidget *group;
  GVariantIter iter;
  GVariant *cert;
  gsize n_holder = 0;

  g_return_if_fail(SIGNET_GTK_IS_TOKEN_PAGE(self));
  g_clear_pointer(&self->status, g_variant_unref);
  self->status = g_variant_ref_sink(status);
  g_free(self->label);
  self->label = g_strdup(lookup_str(status, "label"));
  gtk_widget_set_visible(GTK_WIDGET(self->error_label), FALSE);

  model = lookup_str(status, "model");
  manufacturer = lookup_str(status, "manufacturer");
  set_value(self->label_row, self->label);
  {
    g_autofree char *m = *manufacturer != '\0' && *model != '\0'
                             ? g_strdup_printf("%s (%s)", model, manufacturer)
                             : g_strconcat(model, manufacturer, NULL);
    set_value(self->model_row, m);
  }
  set_value(self->serial_row, lookup_str(status, "serial"));
  set_value(self->reader_row, lookup_str(status, "slot"));

  pin = g_variant_lookup_value(status, "pin", G_VARIANT_TYPE_VARDICT);
  pin_words = signet_client_describe_secret_state(pin, FALSE);
  pin_text = g_strdup_printf("%s (%s)", signet_gtk_pin_short_state(status), pin_words);
  set_value(self->pin_row, pin_text);
  puk = g_variant_lookup_value(status, "puk", G_VARIANT_TYPE_VARDICT);
  puk_short = signet_gtk_puk_short_state(status);
  gtk_widget_set_visible(GTK_WIDGET(self->puk_row), puk_short != NULL);
  set_value(self->puk_row, puk_short);

  clear_box(self->notices);
  clear_box(self->details);
  certs = g_variant_lookup_value(status, "certificates", G_VARIANT_TYPE("aa{sv}"));
  if (certs != NULL) {
    g_variant_iter_init(&iter, certs);
    while ((cert = g_variant_iter_next_value(&iter)) != NULL) {
      SignetGtkCertState state = signet_gtk_cert_state(cert);
      if (state == SIGNET_GTK_CERT_RENEW_SOON || state == SIGNET_GTK_CERT_EXPIRED)
        add_notice(self, cert, state);
      g_variant_unref(cert);
    }
  }
  operations = g_variant_lookup_value(status, "operations", G_VARIANT_TYPE("aa{sv}"));
  add_operations(self, operations);

  group = adw_preferences_group_new();
  adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(group), _("Certificates"));
  if (certs != NULL) {
    g_variant_iter_init(&iter, certs);
    while ((cert = g_variant_iter_next_value(&iter)) != NULL) {
      if (signet_gtk_cert_state(cert) != SIGNET_GTK_CERT_AUTHORITY)
        n_holder++;
      add_certificate(self, group, cert);
      g_variant_unref(cert);
    }
  }
  if (n_holder == 0)
    adw_preferences_group_set_description(
        ADW_PREFERENCES_GROUP(group),
        _("No certificate of yours is on this token yet. Activate it with the reference number "
          "and activation code your certificate authority sent you."));
  gtk_box_append(self->details, group);
  if (n_holder == 0)
    gtk_widget_add_css_class(self->activate_button, "suggested-action");
  else
    gtk_widget_remove_css_class(self->activate_button, "suggested-action");
  update_sensitivity(self);
  g_signal_emit(self, signals[SIGNAL_STATUS_LOADED], 0);
}

static void
on_status_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;
  SignetGtkTokenPage *self;

  if (!signet_agent1_call_get_token_status_finish(SIGNET_AGENT1(source), &status, res, &error)
      && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = SIGNET_GTK_TOKEN_PAGE(data);
  if (status == NULL) {
    g_autofree char *text = signet_gtk_error_text(error);
    gtk_label_set_text(self->error_label, text);
    gtk_widget_set_visible(GTK_WIDGET(self->error_label), TRUE);
    return;
  }
  signet_gtk_token_page_set_status(self, status);
}

void
signet_gtk_token_page_reload(SignetGtkTokenPage *self)
{
  g_return_if_fail(SIGNET_GTK_IS_TOKEN_PAGE(self));
  if (self->proxy == NULL || self->serial == NULL)
    return;
  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  self->cancellable = g_cancellable_new();
  signet_agent1_call_get_token_status(self->proxy, self->serial, G_DBUS_CALL_FLAGS_NONE,
                                      SIGNET_GTK_CALL_TIMEOUT, self->cancellable, on_status_cb,
                                      self);
}

void
signet_gtk_token_page_show(SignetGtkTokenPage *self, SignetAgent1 *proxy, const char *serial)
{
  g_return_if_fail(SIGNET_GTK_IS_TOKEN_PAGE(self));
  if (g_strcmp0(serial, self->serial) != 0) {
    g_clear_pointer(&self->status, g_variant_unref);
    g_free(self->serial);
    self->serial = g_strdup(serial);
  }
  g_set_object(&self->proxy, proxy);
  update_sensitivity(self);
  signet_gtk_token_page_reload(self);
}

GVariant *
signet_gtk_token_page_get_status(SignetGtkTokenPage *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_TOKEN_PAGE(self), NULL);
  return self->status;
}

const char *
signet_gtk_token_page_get_label(SignetGtkTokenPage *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_TOKEN_PAGE(self), NULL);
  return self->label;
}

void
signet_gtk_token_page_set_busy(SignetGtkTokenPage *self, gboolean busy)
{
  g_return_if_fail(SIGNET_GTK_IS_TOKEN_PAGE(self));
  self->busy = busy;
  update_sensitivity(self);
}

static void
signet_gtk_token_page_dispose(GObject *object)
{
  SignetGtkTokenPage *self = SIGNET_GTK_TOKEN_PAGE(object);

  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  g_clear_object(&self->proxy);
  g_clear_pointer(&self->status, g_variant_unref);
  gtk_widget_dispose_template(GTK_WIDGET(self), SIGNET_GTK_TYPE_TOKEN_PAGE);
  G_OBJECT_CLASS(signet_gtk_token_page_parent_class)->dispose(object);
}

static void
signet_gtk_token_page_finalize(GObject *object)
{
  SignetGtkTokenPage *self = SIGNET_GTK_TOKEN_PAGE(object);
  g_free(self->serial);
  g_free(self->label);
  G_OBJECT_CLASS(signet_gtk_token_page_parent_class)->finalize(object);
}

static void
signet_gtk_token_page_class_init(SignetGtkTokenPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

  G_OBJECT_CLASS(klass)->dispose = signet_gtk_token_page_dispose;
  G_OBJECT_CLASS(klass)->finalize = signet_gtk_token_page_finalize;
  signals[SIGNAL_STATUS_LOADED]
      = g_signal_new("status-loaded", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_ACTIVATE_REQUESTED]
      = g_signal_new("activate-requested", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_RENEW_REQUESTED]
      = g_signal_new("renew-requested", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_HISTORY_REQUESTED]
      = g_signal_new("history-requested", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 0);
  gtk_widget_class_set_template_from_resource(widget_class,
                                              "/io/signet/Signet/signet-gtk-token-page.ui");
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, SignetGtkTokenPage, name)
  BIND(error_label);
  BIND(notices);
  BIND(label_row);
  BIND(model_row);
  BIND(serial_row);
  BIND(reader_row);
  BIND(pin_row);
  BIND(puk_row);
  BIND(activate_button);
  BIND(change_pin_button);
  BIND(unblock_button);
  BIND(request_button);
  BIND(import_button);
  BIND(history_button);
  BIND(details);
#undef BIND
}

static void
signet_gtk_token_page_init(SignetGtkTokenPage *self)
{
  gtk_widget_init_template(GTK_WIDGET(self));
  g_signal_connect(self->activate_button, "clicked", G_CALLBACK(on_activate_cb), self);
  g_signal_connect(self->change_pin_button, "clicked", G_CALLBACK(on_change_pin_cb), self);
  g_signal_connect(self->unblock_button, "clicked", G_CALLBACK(on_unblock_cb), self);
  g_signal_connect(self->request_button, "clicked", G_CALLBACK(on_request_cb), self);
  g_signal_connect(self->import_button, "clicked", G_CALLBACK(on_import_cb), self);
  g_signal_connect(self->history_button, "clicked", G_CALLBACK(on_history_cb), self);
  update_sensitivity(self);
}
