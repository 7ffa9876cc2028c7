/* signet-gtk-change-pin-dialog.c: Change PIN (signet_gtk_change_pin).
 *
 * The current PIN and the new one twice; the action is sensitive only when
 * the new ones match and fit the token's length limits. The PIN's state is
 * shown before the attempt; a locked PIN offers the unblock instead; the
 * final try is confirmed first (signet_gtk_secret_check). */
#include "config.h"

#include "ui-gtk/signet-gtk-dialogs.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-base-dialog.h"

#include <glib/gi18n.h>

#define RESOURCE "/io/signet/Signet/dialogs/signet-gtk-change-pin-dialog.ui"

static void
update(SignetGtkBaseDialog *dialog)
{
  g_autoptr(GVariant) pin = signet_gtk_dialog_secret_state(dialog->status, "pin");
  g_autofree char *words = NULL;
  gboolean allowed;

  if (dialog->status == NULL) {
    signet_gtk_base_dialog_set_ready(dialog, FALSE);
    return;
  }
  words = signet_client_describe_secret_state(pin, FALSE);
  adw_action_row_set_subtitle(signet_gtk_base_dialog_get(dialog, "pin_state_row"), words);
  allowed = signet_gtk_base_dialog_apply_rule(
      dialog,
      _("One try is left: a wrong current PIN locks the PIN. You will be asked to confirm before "
        "it is sent."),
      _("This reader has a PIN pad: if it asks for the PINs, enter them there."), NULL);
  /* A locked PIN: nothing to send here, the unblock instead. */
  gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "unblock_button"),
                         !allowed && signet_client_state_flag(dialog->status, "pin", "locked"));
  signet_gtk_base_dialog_update_new_pin(dialog, allowed, "current_pin");
}

static void
on_change_pin_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!signet_agent1_call_change_pin_finish(SIGNET_AGENT1(source), res, &error)) {
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  text = g_strdup_printf(_("The PIN of “%s” was changed. Use the new PIN from now on."),
                         dialog->label);
  signet_gtk_base_dialog_finish(dialog, text);
}

static void
send(SignetGtkBaseDialog *dialog, gboolean confirmed, gboolean pin_pad)
{
  GVariant *old_pin, *new_pin;

  (void)pin_pad; /* a PIN change asks for both PINs, pad or not */
  if (!signet_gtk_base_dialog_take_new_pin(dialog, "current_pin", &old_pin, &new_pin))
    return;
  signet_gtk_base_dialog_set_busy(dialog, _("Changing the PIN on the token…"));
  signet_agent1_call_change_pin(dialog->agent, dialog->token, old_pin, new_pin,
                                signet_gtk_dialog_options(confirmed, NULL, FALSE),
                                G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT, NULL,
                                on_change_pin_cb, signet_gtk_base_dialog_ref(dialog));
}

static void
on_unblock_clicked_cb(GtkButton *button, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;
  GtkWindow *parent = gtk_window_get_transient_for(dialog->window);

  (void)button;
  signet_gtk_unblock_pin(parent, dialog->agent, dialog->token);
  gtk_window_destroy(dialog->window);
}

void
signet_gtk_change_pin(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial)
{
  static const char *const entries[] = { "current_pin", "new_pin", "new_pin_again", NULL };
  g_autoptr(SignetGtkBaseDialog) dialog = signet_gtk_base_dialog_new(
      parent, agent, token_serial, RESOURCE, _("Change PIN"), _("C_hange PIN"));

  gtk_widget_set_name(GTK_WIDGET(dialog->window), "signet-change-pin");
  dialog->update = update;
  signet_gtk_base_dialog_set_operation(dialog, SIGNET_CLIENT_OP_CHANGE_PIN, send);
  signet_gtk_base_dialog_watch_entries(dialog, entries);
  g_signal_connect(signet_gtk_base_dialog_get(dialog, "unblock_button"), "clicked",
                   G_CALLBACK(on_unblock_clicked_cb), dialog);
  signet_gtk_base_dialog_refresh(dialog);
}
