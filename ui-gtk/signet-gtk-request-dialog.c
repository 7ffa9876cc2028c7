/* signet-gtk-request-dialog.c: Make a request for a web portal
 * (signet_gtk_make_request): the subject's fields, the key type (rsa:2048
 * unless chosen), the PIN; CreateRequest; a file chosen to save the CSR in
 * (PEM, .csr/.req); and what to do next. The request is kept until it is
 * saved: the key is on the token already. */
#include "config.h"

#include "ui-gtk/signet-gtk-dialogs.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-base-dialog.h"
#include "ui-gtk/signet-gtk-secret.h"

#include <glib/gi18n.h>
#include <string.h>

#define RESOURCE         "/io/signet/Signet/dialogs/signet-gtk-request-dialog.ui"
#define DEFAULT_KEY_TYPE "rsa:2048"

typedef struct
{
  GBytes *pem; /* made, not saved yet */
  gboolean types_set;
} Request;

static void
request_free(gpointer data)
{
  Request *request = data;

  g_clear_pointer(&request->pem, g_bytes_unref);
  g_free(request);
}

static char *
subject(SignetGtkBaseDialog *dialog)
{
#define TEXT(id) gtk_editable_get_text(signet_gtk_base_dialog_get(dialog, id))
  return signet_gtk_request_subject(TEXT("common_name"), TEXT("organization"), NULL,
                                    TEXT("country"), TEXT("email"));
#undef TEXT
}

static void
update(SignetGtkBaseDialog *dialog)
{
  Request *request = dialog->priv;
  g_autoptr(GError) refusal = NULL;
  g_autofree char *name = NULL;
  GtkLabel *notice = signet_gtk_base_dialog_get(dialog, "notice_label");
  gboolean refused = FALSE, pin_pad = FALSE;

  if (request->pem != NULL) {
    signet_gtk_base_dialog_set_ready(dialog, TRUE); /* "Save Request…" */
    return;
  }
  if (dialog->status != NULL && !request->types_set) {
    GtkStringList *types = signet_gtk_base_dialog_get(dialog, "key_types");
    g_autofree const char **list = NULL;
    guint chosen = 0;

    request->types_set = TRUE;
    if (!g_variant_lookup(dialog->status, "key_types", "^a&s", &list) || list[0] == NULL) {
      g_free(list);
      list = g_new0(const char *, 2);
      list[0] = DEFAULT_KEY_TYPE;
    }
    for (guint i = 0; list[i] != NULL; i++) {
      gtk_string_list_append(types, list[i]);
      if (g_str_equal(list[i], DEFAULT_KEY_TYPE))
        chosen = i;
    }
    adw_combo_row_set_selected(signet_gtk_base_dialog_get(dialog, "key_type_row"), chosen);
  }
  if (dialog->status != NULL) {
    switch (signet_client_before_secret(dialog->status, SIGNET_CLIENT_OP_CREATE_REQUEST,
                                        dialog->label, &refusal)) {
      case SIGNET_CLIENT_REFUSE:
        refused = TRUE;
        break;
      case SIGNET_CLIENT_ASK_PIN_PAD:
        pin_pad = TRUE;
        break;
      case SIGNET_CLIENT_ASK_FINAL_TRY:
      case SIGNET_CLIENT_ASK:
        break;
    }
  }
  gtk_label_set_text(notice, refusal != NULL ? refusal->message
                             : pin_pad       ? _("The reader's PIN pad asks for the PIN.")
                                             : "");
  gtk_widget_set_visible(GTK_WIDGET(notice), refusal != NULL || pin_pad);
  gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "pin"), !pin_pad);
  name = subject(dialog);
  signet_gtk_base_dialog_set_ready(
      dialog,
      dialog->status != NULL && !refused && name != NULL
          && (pin_pad
              || *gtk_editable_get_text(signet_gtk_base_dialog_get(dialog, "pin")) != '\0'));
}

static void
on_saved_cb(SignetGtkBaseDialog *dialog, const char *path)
{
  g_autofree char *text = NULL;

  if (path == NULL) {
    signet_gtk_base_dialog_show_error_text(
        dialog, _("The request is not saved yet. The key is on the token already: save the "
                  "request with “Save Request…”."));
    update(dialog);
    return;
  }
  text = g_strdup_printf(_("The request is saved in %s. The key stays on the token “%s”.\n\nNext: "
                           "paste the request into your certificate authority's web portal (or "
                           "upload the file). When the authority has issued the certificate, "
                           "import it into the token with “Import Certificate”."),
                         path, dialog->label);
  signet_gtk_base_dialog_finish(dialog, text);
}

static void
save(SignetGtkBaseDialog *dialog)
{
  Request *request = dialog->priv;

  signet_gtk_base_dialog_set_busy(dialog, _("Choosing a file…"));
  signet_gtk_base_dialog_save(dialog, _("Save the Certificate Request"), "request.csr",
                              _("Certificate requests (PEM)"), "*.csr;*.req;*.pem", request->pem,
                              on_saved_cb);
}

static void
on_request_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  Request *request = dialog->priv;
  g_autoptr(GVariant) key = NULL;
  g_autoptr(GError) error = NULL;
  char *pem = NULL;

  signet_gtk_base_dialog_set_busy(dialog, NULL);
  if (!signet_agent1_call_create_request_finish(SIGNET_AGENT1(source), &pem, &key, res, &error)) {
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  request->pem = g_bytes_new_take(pem, strlen(pem));
  if (dialog->window == NULL) {
    /* Closed while the key was made: the key is on the token, and the
       request is lost with the dialog; the token page shows the new key. */
    g_warning("the certificate request was made after its dialog closed and is not saved");
    return;
  }
  gtk_button_set_label(dialog->action_button, _("_Save Request…"));
  gtk_widget_set_sensitive(signet_gtk_base_dialog_get(dialog, "page"), FALSE);
  save(dialog);
}

static void
on_secret_ready_cb(gboolean go, gboolean confirmed, gboolean pin_pad, const GError *error,
                   gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  g_autofree char *name = NULL;
  GtkStringObject *type;
  GVariant *pin;

  signet_gtk_base_dialog_set_busy(dialog, NULL);
  if (dialog->window == NULL)
    return;
  if (!go) {
    if (error != NULL)
      signet_gtk_base_dialog_show_error(dialog, error);
    else
      signet_gtk_base_dialog_show_error_text(dialog, _("Cancelled: nothing was sent."));
    return;
  }
  name = subject(dialog);
  type = adw_combo_row_get_selected_item(signet_gtk_base_dialog_get(dialog, "key_type_row"));
  if (name == NULL) {
    update(dialog);
    return;
  }
  if (pin_pad)
    pin = signet_gtk_dialog_empty_secret();
  else {
    SignetSecret *secret = signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "pin"));
    if (secret == NULL) {
      update(dialog);
      return;
    }
    pin = signet_gtk_secret_to_variant(secret);
  }
  signet_gtk_base_dialog_set_busy(
      dialog, _("Making the key pair on the token and the request; on a card this can take a "
                "minute…"));
  signet_agent1_call_create_request(
      dialog->agent, dialog->token, name,
      type != NULL ? gtk_string_object_get_string(type) : DEFAULT_KEY_TYPE, pin,
      signet_gtk_dialog_options(confirmed, NULL, FALSE), G_DBUS_CALL_FLAGS_NONE,
      SIGNET_GTK_CALL_TIMEOUT, NULL, on_request_cb, signet_gtk_base_dialog_ref(dialog));
}

static void
on_action_clicked_cb(GtkButton *button, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;
  Request *request = dialog->priv;

  (void)button;
  if (dialog->busy || dialog->finished)
    return;
  if (request->pem != NULL) {
    save(dialog);
    return;
  }
  signet_gtk_base_dialog_set_busy(dialog, _("Reading the token…"));
  signet_gtk_secret_check(GTK_WIDGET(dialog->window), dialog->agent, dialog->token, dialog->label,
                          SIGNET_CLIENT_OP_CREATE_REQUEST, on_secret_ready_cb,
                          signet_gtk_base_dialog_ref(dialog));
}

void
signet_gtk_make_request(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial)
{
  static const char *const entries[]
      = { "common_name", "email", "organization", "country", "pin", NULL };
  g_autoptr(SignetGtkBaseDialog) dialog
      = signet_gtk_base_dialog_new(parent, agent, token_serial, RESOURCE,
                                   _("Make a Request for a Web Portal"), _("_Make Request"));

  gtk_widget_set_name(GTK_WIDGET(dialog->window), "signet-request");
  dialog->priv = g_new0(Request, 1);
  dialog->priv_free = request_free;
  dialog->update = update;
  signet_gtk_base_dialog_watch_entries(dialog, entries);
  gtk_window_set_default_widget(dialog->window, GTK_WIDGET(dialog->action_button));
  g_signal_connect(dialog->action_button, "clicked", G_CALLBACK(on_action_clicked_cb), dialog);
  signet_gtk_base_dialog_refresh(dialog);
}
