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
#include "ui-gtk/signet-gtk-secret.h"

#include <glib/gi18n.h>

#define RESOURCE "/io/signet/Signet/dialogs/signet-gtk-change-pin-dialog.ui"

static void
update(SignetGtkBaseDialog *dialog)
{
  g_autoptr(GVariant) pin = signet_gtk_dialog_secret_state(dialog->status, "pin");
  g_autofree char *words = NULL;
  g_autoptr(GError) refusal = NULL;
  GtkLabel *notice = signet_gtk_base_dialog_get(dialog, "notice_label");
  g_autofree char *notice_text = NULL;
  gboolean refused = FALSE, new_ok;
  const char *current;

  if (dialog->status == NULL) {
    signet_gtk_base_dialog_set_ready(dialog, FALSE);
    return;
  }
  words = signet_client_describe_secret_state(pin, FALSE);
  adw_action_row_set_subtitle(signet_gtk_base_dialog_get(dialog, "pin_state_row"), words);
  switch (signet_client_before_secret(dialog->status, SIGNET_CLIENT_OP_CHANGE_PIN, dialog->label,
                                      &refusal)) {
    case SIGNET_CLIENT_REFUSE:
      refused = TRUE;
      notice_text = g_strdup(refusal->message);
      break;
    case SIGNET_CLIENT_ASK_FINAL_TRY:
      notice_text = g_strdup(_("One try is left: a wrong current PIN locks the PIN. You will be "
                               "asked to confirm before it is sent."));
      break;
    case SIGNET_CLIENT_ASK_PIN_PAD:
    case SIGNET_CLIENT_ASK:
      break;
  }
  if (notice_text == NULL && signet_client_state_flag(dialog->status, "pin", "pin_pad"))
    notice_text = g_strdup(_("This reader has a PIN pad: if it asks for the PINs, enter them "
                             "there."));
  gtk_label_set_text(notice, notice_text != NULL ? notice_text : "");
  gtk_widget_set_visible(GTK_WIDGET(notice), notice_text != NULL);
  /* A locked PIN: nothing to send here, the unblock instead. */
  gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "unblock_button"),
                         refused && signet_client_state_flag(dialog->status, "pin", "locked"));
  gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "entries_group"), !refused);
  new_ok = signet_gtk_base_dialog_check_new_pin(dialog);
  if (refused)
    gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "new_pin_hint"), FALSE);
  current = gtk_editable_get_text(signet_gtk_base_dialog_get(dialog, "current_pin"));
  signet_gtk_base_dialog_set_ready(dialog, !refused && new_ok && *current != '\0');
}

static void
on_change_pin_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!signet_agent1_call_change_pin_finish(SIGNET_AGENT1(source), res, &error)) {
    signet_gtk_base_dialog_set_busy(dialog, NULL);
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  text = g_strdup_printf(_("The PIN of “%s” was changed. Use the new PIN from now on."),
                         dialog->label);
  signet_gtk_base_dialog_finish(dialog, text);
}

static void
on_secret_ready_cb(gboolean go, gboolean confirmed, gboolean pin_pad, const GError *error,
                   gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  SignetSecret *old_pin, *new_pin;
  GVariant *old_v, *new_v;

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
  /* Checked again: the entries are what is sent. */
  if (!signet_gtk_base_dialog_check_new_pin(dialog)) {
    update(dialog);
    return;
  }
  old_pin = signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "current_pin"));
  new_pin = signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "new_pin"));
  /* The second new PIN equals the first (checked above): wiped. */
  signet_secret_free(signet_gtk_secret_take(signet_gtk_base_dialog_get(dialog, "new_pin_again")));
  if (old_pin == NULL || new_pin == NULL) {
    g_clear_pointer(&old_pin, signet_secret_free);
    g_clear_pointer(&new_pin, signet_secret_free);
    update(dialog);
    return;
  }
  old_v = signet_gtk_secret_to_variant(old_pin);
  new_v = signet_gtk_secret_to_variant(new_pin);
  signet_gtk_base_dialog_set_busy(dialog, _("Changing the PIN on the token…"));
  signet_agent1_call_change_pin(dialog->agent, dialog->token, old_v, new_v,
                                signet_gtk_dialog_options(confirmed, NULL, FALSE),
                                G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT, NULL,
                                on_change_pin_cb, signet_gtk_base_dialog_ref(dialog));
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
                          SIGNET_CLIENT_OP_CHANGE_PIN, on_secret_ready_cb,
                          signet_gtk_base_dialog_ref(dialog));
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
  signet_gtk_base_dialog_watch_entries(dialog, entries);
  gtk_window_set_default_widget(dialog->window, GTK_WIDGET(dialog->action_button));
  g_signal_connect(dialog->action_button, "clicked", G_CALLBACK(on_action_clicked_cb), dialog);
  g_signal_connect(signet_gtk_base_dialog_get(dialog, "unblock_button"), "clicked",
                   G_CALLBACK(on_unblock_clicked_cb), dialog);
  signet_gtk_base_dialog_refresh(dialog);
}
