/* signet-gtk-request-dialog.c: Make a request for a web portal
 * (signet_gtk_make_request): the subject's fields, the key type (rsa:2048
 * unless chosen), the PIN; CreateRequest; a file chosen to save the CSR in
 * (PEM, .csr/.req); and what to do next. The request is kept until it is
 * saved: the key is on the token already. */
#include "config.h"

#include "ui-gtk/signet-gtk-dialogs.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-base-dialog.h"

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
  g_autofree char *name = NULL;

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
  name = subject(dialog);
  signet_gtk_base_dialog_set_ready(dialog,
                                   signet_gtk_base_dialog_pin_ready(dialog) && name != NULL);
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

  if (!signet_agent1_call_create_request_finish(SIGNET_AGENT1(source), &pem, &key, res, &error)) {
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  signet_gtk_base_dialog_set_busy(dialog, NULL);
  request->pem = g_bytes_new_take(pem, strlen(pem));
  if (dialog->window == NULL) {
    /* The dialog cannot be closed while the request is made (it is held):
       only its parent going can take it. The key is on the token. */
    g_warning("the certificate request was made after its dialog went and is not saved");
    return;
  }
  gtk_button_set_label(dialog->action_button, _("_Save Request…"));
  gtk_widget_set_sensitive(signet_gtk_base_dialog_get(dialog, "page"), FALSE);
  save(dialog);
}

void
signet_gtk_request_dialog_set_making(SignetGtkBaseDialog *dialog)
{
  /* Held: the key is made on the token whatever happens, and the request
     exists only in the answer this dialog waits for. */
  signet_gtk_base_dialog_set_busy_held(
      dialog, _("Making the key pair on the token and the request; on a card this can take a "
                "minute. This dialog stays open until the request is made, then offers to save "
                "it."));
}

static void
send(SignetGtkBaseDialog *dialog, gboolean confirmed, gboolean pin_pad)
{
  g_autofree char *name = subject(dialog);
  GtkStringObject *type
      = adw_combo_row_get_selected_item(signet_gtk_base_dialog_get(dialog, "key_type_row"));
  GVariant *pin;

  if (name == NULL) {
    update(dialog);
    return;
  }
  pin = signet_gtk_base_dialog_take_pin(dialog, pin_pad);
  if (pin == NULL)
    return;
  signet_gtk_request_dialog_set_making(dialog);
  signet_agent1_call_create_request(
      dialog->agent, dialog->token, name,
      type != NULL ? gtk_string_object_get_string(type) : DEFAULT_KEY_TYPE, pin,
      signet_gtk_dialog_options(confirmed, NULL, FALSE), G_DBUS_CALL_FLAGS_NONE,
      SIGNET_GTK_CALL_TIMEOUT, NULL, on_request_cb, signet_gtk_base_dialog_ref(dialog));
}

/* After CreateRequest the action saves the request kept: no PIN again. */
static gboolean
action(SignetGtkBaseDialog *dialog)
{
  Request *request = dialog->priv;

  if (request->pem == NULL)
    return FALSE;
  save(dialog);
  return TRUE;
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
  dialog->action = action;
  signet_gtk_base_dialog_set_operation(dialog, SIGNET_CLIENT_OP_CREATE_REQUEST, send);
  signet_gtk_base_dialog_watch_entries(dialog, entries);
  signet_gtk_base_dialog_refresh(dialog);
}
