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

#include <glib/gi18n.h>

#define RESOURCE "/io/signet/Signet/dialogs/signet-gtk-unblock-dialog.ui"

static void
update(SignetGtkBaseDialog *dialog)
{
  g_autoptr(GVariant) pin = signet_gtk_dialog_secret_state(dialog->status, "pin");
  g_autoptr(GVariant) puk = signet_gtk_dialog_secret_state(dialog->status, "puk");
  g_autofree char *pin_words = NULL, *puk_words = NULL;
  gboolean allowed;

  if (dialog->status == NULL) {
    signet_gtk_base_dialog_set_ready(dialog, FALSE);
    return;
  }
  pin_words = signet_client_describe_secret_state(pin, FALSE);
  puk_words = signet_client_describe_secret_state(puk, TRUE);
  adw_action_row_set_subtitle(signet_gtk_base_dialog_get(dialog, "pin_state_row"), pin_words);
  adw_action_row_set_subtitle(signet_gtk_base_dialog_get(dialog, "puk_state_row"), puk_words);
  allowed = signet_gtk_base_dialog_apply_rule(
      dialog,
      _("The PUK has one try left: a wrong PUK locks it for good. You will be asked to confirm "
        "before it is sent."),
      NULL, NULL);
  /* Refused: no field, nothing to send. */
  gtk_widget_set_visible(GTK_WIDGET(dialog->action_button), allowed && !dialog->finished);
  signet_gtk_base_dialog_update_new_pin(dialog, allowed, "puk");
}

static void
on_unblock_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!signet_agent1_call_unblock_pin_finish(SIGNET_AGENT1(source), res, &error)) {
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  text = g_strdup_printf(_("The PIN of “%s” is unblocked and set to the new PIN."), dialog->label);
  signet_gtk_base_dialog_finish(dialog, text);
}

static void
send(SignetGtkBaseDialog *dialog, gboolean confirmed, gboolean pin_pad)
{
  GVariant *puk, *new_pin;

  (void)pin_pad;
  if (!signet_gtk_base_dialog_take_new_pin(dialog, "puk", &puk, &new_pin))
    return;
  signet_gtk_base_dialog_set_busy(dialog, _("Unblocking the PIN on the token…"));
  signet_agent1_call_unblock_pin(dialog->agent, dialog->token, puk, new_pin,
                                 signet_gtk_dialog_options(confirmed, NULL, FALSE),
                                 G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT, NULL,
                                 on_unblock_cb, signet_gtk_base_dialog_ref(dialog));
}

void
signet_gtk_unblock_pin(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial)
{
  static const char *const entries[] = { "puk", "new_pin", "new_pin_again", NULL };
  g_autoptr(SignetGtkBaseDialog) dialog = signet_gtk_base_dialog_new(
      parent, agent, token_serial, RESOURCE, _("Unblock PIN with PUK"), _("_Unblock"));

  gtk_widget_set_name(GTK_WIDGET(dialog->window), "signet-unblock-pin");
  dialog->update = update;
  signet_gtk_base_dialog_set_operation(dialog, SIGNET_CLIENT_OP_UNBLOCK_PIN, send);
  signet_gtk_base_dialog_watch_entries(dialog, entries);
  signet_gtk_base_dialog_refresh(dialog);
}
