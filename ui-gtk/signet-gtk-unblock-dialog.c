/* signet-gtk-unblock-dialog.c: Unblock with PUK (signet_gtk_unblock_pin).
 *
 * The PIN's and PUK's states; a locked PUK or an unblock method the agent
 * does not know offers nothing to send (signet_client_before_secret says
 * why); the PUK's final try is confirmed first; the PUK and the new PIN
 * twice, checked against the token's length limits. */
#include "config.h"

#include "ui-gtk/signet-gtk-dialogs.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-base-dialog.h"
#include "ui-gtk/signet-gtk-secret.h"

#include <glib/gi18n.h>

#define RESOURCE "/io/signet/Signet/dialogs/signet-gtk-unblock-dialog.ui"

static void
update(SignetGtkBaseDialog *dialog)
{
  g_autoptr(GVariant) pin = signet_gtk_dialog_secret_state(dialog->status, "pin");
  g_autoptr(GVariant) puk = signet_gtk_dialog_secret_state(dialog->status, "puk");
  g_autofree char *pin_words = NULL, *puk_words = NULL, *notice_text = NULL;
  g_autoptr(GError) refusal = NULL;
  GtkLabel *notice = signet_gtk_base_dialog_get(dialog, "notice_label");
  gboolean refused = FALSE, new_ok;
  const char *puk_text;

  if (dialog->status == NULL) {
    signet_gtk_base_dialog_set_ready(dialog, FALSE);
    return;
  }
  pin_words = signet_client_describe_secret_state(pin, FALSE);
  puk_words = signet_client_describe_secret_state(puk, TRUE);
  adw_action_row_set_subtitle(signet_gtk_base_dialog_get(dialog, "pin_state_row"), pin_words);
  adw_action_row_set_subtitle(signet_gtk_base_dialog_get(dialog, "puk_state_row"), puk_words);
  switch (signet_client_before_secret(dialog->status, SIGNET_CLIENT_OP_UNBLOCK_PIN, dialog->label,
                                      &refusal)) {
    case SIGNET_CLIENT_REFUSE:
      refused = TRUE;
      notice_text = g_strdup(refusal->message);
      break;
    case SIGNET_CLIENT_ASK_FINAL_TRY:
      notice_text = g_strdup(_("The PUK has one try left: a wrong PUK locks it for good. You "
                               "will be asked to confirm before it is sent."));
      break;
    case SIGNET_CLIENT_ASK_PIN_PAD:
    case SIGNET_CLIENT_ASK:
      break;
  }
  gtk_label_set_text(notice, notice_text != NULL ? notice_text : "");
  gtk_widget_set_visible(GTK_WIDGET(notice), notice_text != NULL);
  /* Refused: no field, nothing to send. */
  gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "entries_group"), !refused);
  gtk_widget_set_visible(GTK_WIDGET(dialog->action_button), !refused && !dialog->finished);
  new_ok = signet_gtk_base_dialog_check_new_pin(dialog);
  if (refused)
    gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "new_pin_hint"), FALSE);
  puk_text = gtk_editable_get_text(signet_gtk_base_dialog_get(dialog, "puk"));
  signet_gtk_base_dialog_set_ready(dialog, !refused && new_ok && *puk_text != '\0');
}

static void
on_unblock_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!signet_agent1_call_unblock_pin_finish(SIGNET_AGENT1(source), res, &error)) {
    signet_gtk_base_dialog_set_busy(dialog, NULL);
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  text = g_strdup_printf(_("The PIN of “%s” is unblocked and set to the new PIN."), dialog->label);
  signet_gtk_base_dialog_finish(dialog, text);
}

static void
on_secret_ready_cb(gboolean go, gboolean confirmed, gboolean pin_pad, const GError *error,
                   gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  SignetSecret *puk, *new_pin;

  (void)pin_pad;
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
  if (!signet_gtk_base_dialog_check_new_pin(dialog)) {
    update(dialog);
    return;
  }
  puk = signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "puk"));
  new_pin = signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "new_pin"));
  signet_secret_free(signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "new_pin_again")));
  if (puk == NULL || new_pin == NULL) {
    g_clear_pointer(&puk, signet_secret_free);
    g_clear_pointer(&new_pin, signet_secret_free);
    update(dialog);
    return;
  }
  signet_gtk_base_dialog_set_busy(dialog, _("Unblocking the PIN on the token…"));
  signet_agent1_call_unblock_pin(dialog->agent, dialog->token, signet_gtk_secret_to_variant(puk),
                                 signet_gtk_secret_to_variant(new_pin),
                                 signet_gtk_dialog_options(confirmed, NULL, FALSE),
                                 G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT, NULL,
                                 on_unblock_cb, signet_gtk_base_dialog_ref(dialog));
}

static void
on_action_clicked_cb(GtkButton *button, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;

  (void)button;
  if (dialog->busy || dialog->finished)
    return;
  signet_gtk_base_dialog_set_busy(dialog, _("Reading the token…"));
  signet_gtk_secret_check(GTK_WIDGET(dialog->window), dialog->agent, dialog->token, dialog->label,
                          SIGNET_CLIENT_OP_UNBLOCK_PIN, on_secret_ready_cb,
                          signet_gtk_base_dialog_ref(dialog));
}

void
signet_gtk_unblock_pin(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial)
{
  static const char *const entries[] = { "puk", "new_pin", "new_pin_again", NULL };
  g_autoptr(SignetGtkBaseDialog) dialog = signet_gtk_base_dialog_new(
      parent, agent, token_serial, RESOURCE, _("Unblock PIN with PUK"), _("_Unblock"));

  gtk_widget_set_name(GTK_WIDGET(dialog->window), "signet-unblock-pin");
  dialog->update = update;
  signet_gtk_base_dialog_watch_entries(dialog, entries);
  gtk_window_set_default_widget(dialog->window, GTK_WIDGET(dialog->action_button));
  g_signal_connect(dialog->action_button, "clicked", G_CALLBACK(on_action_clicked_cb), dialog);
  signet_gtk_base_dialog_refresh(dialog);
}
