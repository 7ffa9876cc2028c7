/* signet-gtk-base-dialog.c: see signet-gtk-base-dialog.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-base-dialog.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-dialogs-resources.h"
#include "ui-gtk/signet-gtk-rules.h"
#include "ui-gtk/signet-gtk-secret.h"

#include <glib/gi18n.h>
#include <string.h>

#define FRAME_RESOURCE "/io/signet/Signet/dialogs/signet-gtk-dialog.ui"

SignetGtkBaseDialog *
signet_gtk_base_dialog_ref(SignetGtkBaseDialog *dialog)
{
  g_atomic_int_inc(&dialog->ref_count);
  return dialog;
}

void
signet_gtk_base_dialog_unref(SignetGtkBaseDialog *dialog)
{
  if (dialog == NULL || !g_atomic_int_dec_and_test(&dialog->ref_count))
    return;
  if (dialog->priv_free != NULL)
    dialog->priv_free(dialog->priv);
  g_clear_object(&dialog->builder);
  g_clear_object(&dialog->agent);
  g_clear_pointer(&dialog->status, g_variant_unref);
  g_free(dialog->token);
  g_free(dialog->label);
  g_free(dialog);
}

gpointer
signet_gtk_base_dialog_get(SignetGtkBaseDialog *dialog, const char *id)
{
  if (dialog->builder == NULL)
    return NULL;
  return gtk_builder_get_object(dialog->builder, id);
}

/* The holder closed the dialog: the agent's work goes on, its answer finds
 * no widgets to touch. */
static void
on_window_destroy_cb(GtkWidget *window, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;

  (void)window;
  dialog->window = NULL;
  dialog->action_button = NULL;
  dialog->cancel_button = NULL;
  g_clear_object(&dialog->builder);
}

static void
on_cancel_clicked_cb(GtkButton *button, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;

  (void)button;
  if (dialog->window != NULL && !dialog->held)
    gtk_window_destroy(dialog->window);
}

/* Closing (Escape, the window manager) while an operation that must not be
 * lost runs: refused. */
static gboolean
on_close_request_cb(GtkWindow *window, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;

  (void)window;
  return dialog->held;
}

static void
on_status_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;

  signet_gtk_base_dialog_set_busy(dialog, NULL);
  if (!signet_agent1_call_get_token_status_finish(SIGNET_AGENT1(source), &status, res, &error)) {
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  signet_gtk_base_dialog_set_status(dialog, status);
}

void
signet_gtk_base_dialog_set_status(SignetGtkBaseDialog *dialog, GVariant *status)
{
  g_clear_pointer(&dialog->status, g_variant_unref);
  dialog->status = g_variant_ref_sink(status);
  g_free(dialog->label);
  dialog->label = NULL;
  if (!g_variant_lookup(dialog->status, "label", "s", &dialog->label) || *dialog->label == '\0') {
    g_free(dialog->label);
    dialog->label = g_strdup(dialog->token);
  }
  if (dialog->window != NULL && dialog->update != NULL)
    dialog->update(dialog);
}

SignetGtkBaseDialog *
signet_gtk_base_dialog_from_window(GtkWindow *window)
{
  return g_object_get_data(G_OBJECT(window), "signet-dialog");
}

void
signet_gtk_base_dialog_refresh(SignetGtkBaseDialog *dialog)
{
  if (dialog->agent == NULL)
    return;
  signet_gtk_base_dialog_set_busy(dialog, _("Reading the token…"));
  signet_agent1_call_get_token_status(dialog->agent, dialog->token, G_DBUS_CALL_FLAGS_NONE,
                                      SIGNET_GTK_CALL_TIMEOUT, NULL, on_status_cb,
                                      signet_gtk_base_dialog_ref(dialog));
}

SignetGtkBaseDialog *
signet_gtk_base_dialog_new(GtkWindow *parent, SignetAgent1 *agent, const char *token,
                           const char *content_resource, const char *title,
                           const char *action_label)
{
  SignetGtkBaseDialog *dialog = g_new0(SignetGtkBaseDialog, 1);
  g_autoptr(GError) error = NULL;
  GtkShortcutController *shortcuts;
  GtkWidget *page;

  dialog->ref_count = 1;
  dialog->agent = agent != NULL ? g_object_ref(agent) : NULL;
  dialog->token = g_strdup(token != NULL ? token : "");
  dialog->label = g_strdup(dialog->token);
  /* Referenced, so that the linker keeps the dialogs' GResource (its
   * constructor registers it) when they come from a static library: a
   * program that never names it lost every dialog. */
  (void)signet_gtk_dialogs_get_resource();
  dialog->builder = gtk_builder_new();
  if (!gtk_builder_add_from_resource(dialog->builder, FRAME_RESOURCE, &error)
      || !gtk_builder_add_from_resource(dialog->builder, content_resource, &error))
    g_error("%s", error->message); /* a resource of this program: a build bug */
  dialog->window = GTK_WINDOW(gtk_builder_get_object(dialog->builder, "window"));
  dialog->action_button = GTK_BUTTON(gtk_builder_get_object(dialog->builder, "action_button"));
  dialog->cancel_button = GTK_BUTTON(gtk_builder_get_object(dialog->builder, "cancel_button"));
  page = GTK_WIDGET(gtk_builder_get_object(dialog->builder, "page"));
  gtk_box_prepend(GTK_BOX(gtk_builder_get_object(dialog->builder, "content")), page);

  gtk_window_set_title(dialog->window, title);
  gtk_button_set_label(dialog->action_button, action_label);
  if (parent != NULL)
    gtk_window_set_transient_for(dialog->window, parent);
  gtk_window_set_destroy_with_parent(dialog->window, TRUE);
  /* Escape cancels. */
  shortcuts = GTK_SHORTCUT_CONTROLLER(gtk_shortcut_controller_new());
  gtk_shortcut_controller_add_shortcut(shortcuts,
                                       gtk_shortcut_new(gtk_keyval_trigger_new(GDK_KEY_Escape, 0),
                                                        gtk_named_action_new("window.close")));
  gtk_widget_add_controller(GTK_WIDGET(dialog->window), GTK_EVENT_CONTROLLER(shortcuts));

  g_object_set_data_full(G_OBJECT(dialog->window), "signet-dialog",
                         signet_gtk_base_dialog_ref(dialog),
                         (GDestroyNotify)signet_gtk_base_dialog_unref);
  g_signal_connect(dialog->window, "destroy", G_CALLBACK(on_window_destroy_cb), dialog);
  g_signal_connect(dialog->cancel_button, "clicked", G_CALLBACK(on_cancel_clicked_cb), dialog);
  g_signal_connect(dialog->window, "close-request", G_CALLBACK(on_close_request_cb), dialog);
  gtk_window_present(dialog->window);
  return dialog;
}

static void
set_busy(SignetGtkBaseDialog *dialog, const char *what, gboolean held)
{
  GtkWidget *box = signet_gtk_base_dialog_get(dialog, "busy_box");
  GtkSpinner *spinner = signet_gtk_base_dialog_get(dialog, "spinner");

  dialog->busy = what != NULL;
  dialog->held = what != NULL && held;
  if (box == NULL)
    return;
  gtk_widget_set_sensitive(GTK_WIDGET(dialog->cancel_button), !dialog->held);
  gtk_widget_set_sensitive(signet_gtk_base_dialog_get(dialog, "page"),
                           what == NULL && !dialog->finished);
  gtk_label_set_text(signet_gtk_base_dialog_get(dialog, "busy_label"), what != NULL ? what : "");
  gtk_spinner_set_spinning(spinner, what != NULL);
  gtk_widget_set_visible(box, what != NULL);
  if (what != NULL) {
    gtk_widget_set_sensitive(GTK_WIDGET(dialog->action_button), FALSE);
    signet_gtk_base_dialog_show_error_text(dialog, NULL);
  }
}

void
signet_gtk_base_dialog_set_busy(SignetGtkBaseDialog *dialog, const char *what)
{
  set_busy(dialog, what, FALSE);
}

void
signet_gtk_base_dialog_set_busy_held(SignetGtkBaseDialog *dialog, const char *what)
{
  set_busy(dialog, what, TRUE);
}

void
signet_gtk_base_dialog_set_ready(SignetGtkBaseDialog *dialog, gboolean ready)
{
  if (dialog->action_button == NULL)
    return;
  gtk_widget_set_sensitive(GTK_WIDGET(dialog->action_button),
                           ready && !dialog->busy && !dialog->finished);
}

void
signet_gtk_base_dialog_show_error_text(SignetGtkBaseDialog *dialog, const char *text)
{
  GtkLabel *label = signet_gtk_base_dialog_get(dialog, "error_label");

  if (label == NULL)
    return;
  gtk_label_set_text(label, text != NULL ? text : "");
  gtk_widget_set_visible(GTK_WIDGET(label), text != NULL);
}

static void
on_error_shown_cb(GVariant *status, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;

  signet_gtk_base_dialog_set_busy(dialog, NULL);
  if (status != NULL)
    signet_gtk_base_dialog_set_status(dialog, status); /* runs update */
  else if (dialog->window != NULL && dialog->update != NULL)
    dialog->update(dialog);
}

void
signet_gtk_base_dialog_show_error(SignetGtkBaseDialog *dialog, const GError *error)
{
  signet_gtk_base_dialog_set_busy(dialog, NULL);
  if (signet_gtk_secret_show_error(signet_gtk_base_dialog_get(dialog, "error_label"), dialog->agent,
                                   dialog->token, error, SIGNET_GTK_TRIES_CONCERNED,
                                   on_error_shown_cb, signet_gtk_base_dialog_ref(dialog)))
    signet_gtk_base_dialog_set_busy(dialog, _("Reading the tries left…"));
}

void
signet_gtk_base_dialog_finish(SignetGtkBaseDialog *dialog, const char *text)
{
  GtkLabel *result = signet_gtk_base_dialog_get(dialog, "result_label");

  dialog->finished = TRUE;
  signet_gtk_base_dialog_set_busy(dialog, NULL);
  signet_gtk_base_dialog_show_error_text(dialog, NULL);
  if (result == NULL)
    return;
  gtk_label_set_text(result, text);
  gtk_widget_set_visible(GTK_WIDGET(result), TRUE);
  gtk_widget_set_visible(GTK_WIDGET(dialog->action_button), FALSE);
  gtk_button_set_label(dialog->cancel_button, _("_Close"));
  gtk_window_set_default_widget(dialog->window, GTK_WIDGET(dialog->cancel_button));
  gtk_widget_grab_focus(GTK_WIDGET(dialog->cancel_button));
}

GVariant *
signet_gtk_dialog_secret_state(GVariant *status, const char *which)
{
  if (status == NULL)
    return NULL;
  return g_variant_lookup_value(status, which, G_VARIANT_TYPE_VARDICT);
}

void
signet_gtk_dialog_pin_limits(GVariant *status, guint *out_min, guint *out_max)
{
  g_autoptr(GVariant) pin = signet_gtk_dialog_secret_state(status, "pin");
  guint32 min = 0, max = 0;

  if (pin != NULL) {
    (void)g_variant_lookup(pin, "min_length", "u", &min);
    (void)g_variant_lookup(pin, "max_length", "u", &max);
  }
  *out_min = min;
  *out_max = max;
}

/* --- pure rules ---------------------------------------------------------- */

SignetGtkNewPin
signet_gtk_new_pin_check(const char *pin, const char *again, guint min_length, guint max_length)
{
  gsize len = pin != NULL ? strlen(pin) : 0;
  gsize len_again = again != NULL ? strlen(again) : 0;
  guint8 diff = 0;

  if (len == 0)
    return SIGNET_GTK_NEW_PIN_EMPTY;
  if (min_length > 0 && len < min_length)
    return SIGNET_GTK_NEW_PIN_TOO_SHORT;
  if ((max_length > 0 && len > max_length) || len > 256)
    return SIGNET_GTK_NEW_PIN_TOO_LONG;
  if (len_again != len)
    return SIGNET_GTK_NEW_PIN_MISMATCH;
  for (gsize i = 0; i < len; i++)
    diff |= (guint8)(pin[i] ^ again[i]);
  return diff == 0 ? SIGNET_GTK_NEW_PIN_OK : SIGNET_GTK_NEW_PIN_MISMATCH;
}

char *
signet_gtk_new_pin_hint(SignetGtkNewPin check, guint min_length, guint max_length)
{
  switch (check) {
    case SIGNET_GTK_NEW_PIN_OK:
    case SIGNET_GTK_NEW_PIN_EMPTY:
      return NULL;
    case SIGNET_GTK_NEW_PIN_TOO_SHORT:
      return g_strdup_printf(ngettext("The new PIN needs at least %u character.",
                                      "The new PIN needs at least %u characters.", min_length),
                             min_length);
    case SIGNET_GTK_NEW_PIN_TOO_LONG:
      if (max_length == 0)
        max_length = 256;
      return g_strdup_printf(ngettext("The new PIN can have at most %u character.",
                                      "The new PIN can have at most %u characters.", max_length),
                             max_length);
    case SIGNET_GTK_NEW_PIN_MISMATCH:
      return g_strdup(_("The two new PINs are not the same."));
  }
  return NULL;
}

static void
append_rdn(GString *subject, const char *type, const char *value)
{
  gsize len;

  if (value == NULL)
    return;
  while (*value == ' ')
    value++;
  len = strlen(value);
  while (len > 0 && value[len - 1] == ' ')
    len--;
  if (len == 0)
    return;
  if (subject->len > 0)
    g_string_append_c(subject, ',');
  g_string_append_printf(subject, "%s=", type);
  for (gsize i = 0; i < len; i++) {
    char c = value[i];
    if (strchr(",+\"\\<>;=", c) != NULL || (i == 0 && c == '#'))
      g_string_append_c(subject, '\\');
    g_string_append_c(subject, c);
  }
}

char *
signet_gtk_request_subject(const char *common_name, const char *organization,
                           const char *organizational_unit, const char *country, const char *email)
{
  GString *subject = g_string_new(NULL);

  append_rdn(subject, "CN", common_name);
  if (subject->len == 0) {
    g_string_free(subject, TRUE);
    return NULL;
  }
  append_rdn(subject, "emailAddress", email);
  append_rdn(subject, "OU", organizational_unit);
  append_rdn(subject, "O", organization);
  append_rdn(subject, "C", country);
  return g_string_free(subject, FALSE);
}

GBytes *
signet_gtk_export_bytes(GVariant *certificates, SignetGtkExportFormat format, GError **error)
{
  g_autoptr(GVariant) first = NULL;
  gsize n;

  g_return_val_if_fail(g_variant_is_of_type(certificates, G_VARIANT_TYPE("aay")), NULL);
  n = g_variant_n_children(certificates);
  if (n > 0)
    first = g_variant_get_child_value(certificates, 0);
  if (first == NULL || g_variant_get_size(first) == 0) {
    g_set_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_FAILED,
                _("The agent sent no certificate to export."));
    return NULL;
  }
  switch (format) {
    case SIGNET_GTK_EXPORT_DER_HOLDER: {
      gsize len = 0;
      const guint8 *der = g_variant_get_fixed_array(first, &len, 1);
      return g_bytes_new(der, len);
    }
    case SIGNET_GTK_EXPORT_PEM_HOLDER:
    case SIGNET_GTK_EXPORT_PEM_CHAIN: {
      g_autoptr(GVariant) holder = NULL;
      char *pem;

      if (format == SIGNET_GTK_EXPORT_PEM_HOLDER) {
        holder = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE_BYTESTRING, &first, 1));
        pem = signet_client_certificates_to_pem(holder);
      } else
        pem = signet_client_certificates_to_pem(certificates);
      if (pem == NULL) {
        g_set_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_FAILED,
                    _("The agent sent an empty certificate."));
        return NULL;
      }
      return g_bytes_new_take(pem, strlen(pem));
    }
  }
  g_return_val_if_reached(NULL);
}

const char *
signet_gtk_export_suggested_name(SignetGtkExportFormat format)
{
  switch (format) {
    case SIGNET_GTK_EXPORT_PEM_CHAIN:
      return "certificate-chain.pem";
    case SIGNET_GTK_EXPORT_PEM_HOLDER:
      return "certificate.pem";
    case SIGNET_GTK_EXPORT_DER_HOLDER:
      return "certificate.cer";
  }
  return "certificate.pem";
}

/* --- helpers of the dialogs' own pages ----------------------------------- */

gboolean
signet_gtk_base_dialog_check_new_pin(SignetGtkBaseDialog *dialog)
{
  GtkEditable *pin = signet_gtk_base_dialog_get(dialog, "new_pin");
  GtkEditable *again = signet_gtk_base_dialog_get(dialog, "new_pin_again");
  GtkLabel *hint = signet_gtk_base_dialog_get(dialog, "new_pin_hint");
  g_autofree char *text = NULL;
  SignetGtkNewPin check;
  guint min = 0, max = 0;

  if (pin == NULL || again == NULL)
    return FALSE;
  signet_gtk_dialog_pin_limits(dialog->status, &min, &max);
  check = signet_gtk_new_pin_check(gtk_editable_get_text(pin), gtk_editable_get_text(again), min,
                                   max);
  /* A mismatch is shown once the second one is as long as the first. */
  if (check == SIGNET_GTK_NEW_PIN_MISMATCH
      && strlen(gtk_editable_get_text(again)) < strlen(gtk_editable_get_text(pin)))
    text = NULL;
  else
    text = signet_gtk_new_pin_hint(check, min, max);
  if (text == NULL && min > 0 && max > 0)
    text = g_strdup_printf(_("The new PIN takes %u to %u characters."), min, max);
  if (hint != NULL) {
    gtk_label_set_text(hint, text != NULL ? text : "");
    gtk_widget_set_visible(GTK_WIDGET(hint), text != NULL);
  }
  return check == SIGNET_GTK_NEW_PIN_OK;
}

void
signet_gtk_dialog_name_entry(GtkWidget *row, const char *name)
{
  GtkEditable *delegate
      = GTK_IS_EDITABLE(row) ? gtk_editable_get_delegate(GTK_EDITABLE(row)) : NULL;

  gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
  if (delegate != NULL && GTK_WIDGET(delegate) != row)
    gtk_accessible_update_property(GTK_ACCESSIBLE(delegate), GTK_ACCESSIBLE_PROPERTY_LABEL, name,
                                   -1);
}

static void
on_entry_changed_cb(GtkEditable *editable, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;

  (void)editable;
  if (dialog->window != NULL && dialog->update != NULL)
    dialog->update(dialog);
}

void
signet_gtk_base_dialog_watch_entries(SignetGtkBaseDialog *dialog, const char *const *ids)
{
  for (gsize i = 0; ids[i] != NULL; i++) {
    GtkWidget *entry = signet_gtk_base_dialog_get(dialog, ids[i]);

    g_signal_connect(entry, "changed", G_CALLBACK(on_entry_changed_cb), dialog);
    if (ADW_IS_PREFERENCES_ROW(entry)) {
      /* The title without its mnemonic's underscore. */
      g_auto(GStrv) parts
          = g_strsplit(adw_preferences_row_get_title(ADW_PREFERENCES_ROW(entry)), "_", -1);
      g_autofree char *name = g_strjoinv("", parts);
      signet_gtk_dialog_name_entry(entry, name);
    }
  }
}

GVariant *
signet_gtk_dialog_empty_secret(void)
{
  return g_variant_new_from_data(G_VARIANT_TYPE_BYTESTRING, "", 0, TRUE, NULL, NULL);
}

GVariant *
signet_gtk_dialog_options(gboolean confirmed, const char *key, gboolean value)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  if (confirmed)
    g_variant_builder_add(&b, "{sv}", "confirm-final-try", g_variant_new_boolean(TRUE));
  if (key != NULL && value)
    g_variant_builder_add(&b, "{sv}", key, g_variant_new_boolean(TRUE));
  return g_variant_builder_end(&b);
}

/* --- the operation: the rule before the secret, then the dialog's send ------ */

static void
on_secret_ready_cb(gboolean go, gboolean confirmed, gboolean pin_pad, const GError *error,
                   gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;

  signet_gtk_base_dialog_set_busy(dialog, NULL);
  if (dialog->window == NULL)
    return; /* closed while the status was read: nothing is sent */
  if (!go) {
    if (error != NULL)
      signet_gtk_base_dialog_show_error(dialog, error);
    else
      signet_gtk_base_dialog_show_error_text(dialog, _("Cancelled: nothing was sent."));
    return;
  }
  dialog->send(dialog, confirmed, pin_pad);
}

static void
on_action_clicked_cb(GtkButton *button, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;

  (void)button;
  if (dialog->busy || dialog->finished)
    return;
  if (dialog->action != NULL && dialog->action(dialog))
    return;
  signet_gtk_base_dialog_set_busy(dialog, _("Reading the token…"));
  signet_gtk_secret_check(GTK_WIDGET(dialog->window), dialog->agent, dialog->token, dialog->label,
                          dialog->op, on_secret_ready_cb, signet_gtk_base_dialog_ref(dialog));
}

void
signet_gtk_base_dialog_set_operation(SignetGtkBaseDialog *dialog, SignetClientOp op,
                                     SignetGtkBaseDialogSend send)
{
  dialog->op = op;
  dialog->send = send;
  gtk_window_set_default_widget(dialog->window, GTK_WIDGET(dialog->action_button));
  g_signal_connect(dialog->action_button, "clicked", G_CALLBACK(on_action_clicked_cb), dialog);
}

gboolean
signet_gtk_base_dialog_apply_rule(SignetGtkBaseDialog *dialog, const char *final_try_notice,
                                  const char *pin_pad_notice, gboolean *out_pin_pad)
{
  GtkLabel *notice = signet_gtk_base_dialog_get(dialog, "notice_label");
  g_autoptr(GError) refusal = NULL;
  SignetClientAsk ask = SIGNET_CLIENT_REFUSE;
  const char *text = NULL;

  if (dialog->status != NULL)
    ask = signet_client_before_secret(dialog->status, dialog->op, dialog->label, &refusal);
  if (refusal != NULL)
    text = refusal->message;
  else if (ask == SIGNET_CLIENT_ASK_FINAL_TRY)
    text = final_try_notice;
  else if (ask != SIGNET_CLIENT_REFUSE
           && signet_client_state_flag(dialog->status, "pin", "pin_pad"))
    text = pin_pad_notice;
  if (notice != NULL) {
    gtk_label_set_text(notice, text != NULL ? text : "");
    gtk_widget_set_visible(GTK_WIDGET(notice), text != NULL);
  }
  if (out_pin_pad != NULL)
    *out_pin_pad = ask == SIGNET_CLIENT_ASK_PIN_PAD;
  return ask != SIGNET_CLIENT_REFUSE;
}

void
signet_gtk_base_dialog_update_new_pin(SignetGtkBaseDialog *dialog, gboolean allowed,
                                      const char *first_id)
{
  gboolean new_ok;

  gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "entries_group"), allowed);
  new_ok = signet_gtk_base_dialog_check_new_pin(dialog);
  if (!allowed)
    gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "new_pin_hint"), FALSE);
  signet_gtk_base_dialog_set_ready(
      dialog, allowed && new_ok
                  && *gtk_editable_get_text(signet_gtk_base_dialog_get(dialog, first_id)) != '\0');
}

gboolean
signet_gtk_base_dialog_pin_ready(SignetGtkBaseDialog *dialog)
{
  gboolean pin_pad = FALSE;
  gboolean allowed = signet_gtk_base_dialog_apply_rule(
      dialog, NULL, _("The reader's PIN pad asks for the PIN."), &pin_pad);

  gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "pin"), !pin_pad);
  return allowed
         && (pin_pad || *gtk_editable_get_text(signet_gtk_base_dialog_get(dialog, "pin")) != '\0');
}

GVariant *
signet_gtk_base_dialog_take_pin(SignetGtkBaseDialog *dialog, gboolean pin_pad)
{
  SignetSecret *secret;

  if (pin_pad)
    return signet_gtk_dialog_empty_secret();
  secret = signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "pin"));
  if (secret == NULL) {
    dialog->update(dialog);
    return NULL;
  }
  return signet_gtk_secret_to_variant(secret);
}

gboolean
signet_gtk_base_dialog_take_new_pin(SignetGtkBaseDialog *dialog, const char *first_id,
                                    GVariant **out_first, GVariant **out_new_pin)
{
  SignetSecret *first, *new_pin;

  /* Checked again: the entries are what is sent. */
  if (!signet_gtk_base_dialog_check_new_pin(dialog)) {
    dialog->update(dialog);
    return FALSE;
  }
  first = signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, first_id));
  new_pin = signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "new_pin"));
  /* The second new PIN equals the first (checked above): wiped. */
  signet_secret_free(signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "new_pin_again")));
  if (first == NULL || new_pin == NULL) {
    g_clear_pointer(&first, signet_secret_free);
    g_clear_pointer(&new_pin, signet_secret_free);
    dialog->update(dialog);
    return FALSE;
  }
  *out_first = signet_gtk_secret_to_variant(first);
  *out_new_pin = signet_gtk_secret_to_variant(new_pin);
  return TRUE;
}

typedef struct
{
  SignetGtkBaseDialog *dialog;
  GBytes *bytes;
  SignetGtkSaved saved;
  GtkFileChooserNative *chooser;
  char *path;
} Save;

static void
save_free(Save *save)
{
  signet_gtk_base_dialog_unref(save->dialog);
  g_bytes_unref(save->bytes);
  g_clear_object(&save->chooser);
  g_free(save->path);
  g_free(save);
}

static void
on_replaced_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  Save *save = data;
  g_autoptr(GError) error = NULL;

  signet_gtk_base_dialog_set_busy(save->dialog, NULL);
  if (!g_file_replace_contents_finish(G_FILE(source), res, NULL, &error)) {
    g_autofree char *text
        = g_strdup_printf(_("Could not write %s: %s"), save->path, error->message);
    signet_gtk_base_dialog_show_error_text(save->dialog, text);
    save->saved(save->dialog, NULL);
  } else
    save->saved(save->dialog, save->path);
  save_free(save);
}

static void
on_chooser_response_cb(GtkNativeDialog *chooser, int response, gpointer data)
{
  Save *save = data;
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(chooser));
  gtk_native_dialog_destroy(chooser);
  if (file == NULL) {
    save->saved(save->dialog, NULL);
    save_free(save);
    return;
  }
  save->path = g_file_get_parse_name(file);
  signet_gtk_base_dialog_set_busy(save->dialog, _("Writing the file…"));
  g_file_replace_contents_bytes_async(file, save->bytes, NULL, FALSE, G_FILE_CREATE_NONE, NULL,
                                      on_replaced_cb, save);
}

void
signet_gtk_base_dialog_save(SignetGtkBaseDialog *dialog, const char *title, const char *name,
                            const char *filter_name, const char *patterns, GBytes *bytes,
                            SignetGtkSaved saved)
{
  Save *save = g_new0(Save, 1);
  GtkFileFilter *filter = gtk_file_filter_new();
  g_auto(GStrv) globs = g_strsplit(patterns, ";", -1);

  save->dialog = signet_gtk_base_dialog_ref(dialog);
  save->bytes = g_bytes_ref(bytes);
  save->saved = saved;
  save->chooser = gtk_file_chooser_native_new(title, dialog->window, GTK_FILE_CHOOSER_ACTION_SAVE,
                                              _("_Save"), _("_Cancel"));
  gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(save->chooser), TRUE);
  gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(save->chooser), name);
  gtk_file_filter_set_name(filter, filter_name);
  for (gsize i = 0; globs[i] != NULL; i++)
    gtk_file_filter_add_pattern(filter, globs[i]);
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(save->chooser), filter);
  g_object_unref(filter);
  g_signal_connect(save->chooser, "response", G_CALLBACK(on_chooser_response_cb), save);
  gtk_native_dialog_show(GTK_NATIVE_DIALOG(save->chooser));
}
