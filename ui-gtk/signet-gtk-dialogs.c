/* signet-gtk-dialogs.c: see signet-gtk-dialogs.h. This file holds the
 * final-try confirmation; each other dialog has its own
 * signet-gtk-*-dialog.c. */
#include "config.h"

#include "ui-gtk/signet-gtk-dialogs.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#define RESPONSE_CANCEL   "cancel"
#define RESPONSE_CONTINUE "continue"

typedef struct
{
  SignetGtkConfirmDone done;
  gpointer data;
  gboolean answered;
} Confirm;

static void
on_confirm_response_cb(AdwMessageDialog *dialog, const char *response, gpointer data)
{
  Confirm *confirm = data;

  (void)dialog;
  if (confirm->answered)
    return;
  confirm->answered = TRUE;
  confirm->done(g_strcmp0(response, RESPONSE_CONTINUE) == 0, confirm->data);
}

/* The dialog went away without an answer (destroyed with its parent): the
 * holder did not choose to go on. */
static void
confirm_free(gpointer data, GClosure *closure)
{
  Confirm *confirm = data;

  (void)closure;
  if (!confirm->answered)
    confirm->done(FALSE, confirm->data);
  g_free(confirm);
}

void
signet_gtk_confirm_final_try(GtkWindow *parent, SignetClientSecret which, const char *token_label,
                             SignetGtkConfirmDone done, gpointer data)
{
  Confirm *confirm;
  GtkWidget *dialog;
  g_autofree char *body = NULL;
  const char *label = token_label != NULL && *token_label != '\0' ? token_label : _("the token");

  g_return_if_fail(done != NULL);
  if (which == SIGNET_CLIENT_SECRET_PUK)
    body = g_strdup_printf(_("The PUK of “%s” has one try left. If this PUK is wrong too, the "
                             "PUK locks for good: the token can no longer be unblocked and you "
                             "will need a new token from its issuer.\n\nGo on only if you are "
                             "sure of the PUK."),
                           label);
  else
    body = g_strdup_printf(_("The PIN of “%s” has one try left. If this PIN is wrong too, the "
                             "PIN locks and only the PUK can unblock it.\n\nGo on only if you "
                             "are sure of the PIN."),
                           label);
  dialog = adw_message_dialog_new(
      parent, which == SIGNET_CLIENT_SECRET_PUK ? _("Last PUK Try") : _("Last PIN Try"), body);
  gtk_window_set_modal(GTK_WINDOW(dialog), TRUE);
  adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(dialog), RESPONSE_CANCEL, _("_Cancel"));
  adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(dialog), RESPONSE_CONTINUE, _("C_ontinue"));
  adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), RESPONSE_CONTINUE,
                                             ADW_RESPONSE_DESTRUCTIVE);
  /* A mistake costs the last try: Enter and Escape both cancel. */
  adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), RESPONSE_CANCEL);
  adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(dialog), RESPONSE_CANCEL);
  gtk_widget_set_name(dialog, "signet-final-try");

  confirm = g_new0(Confirm, 1);
  confirm->done = done;
  confirm->data = data;
  g_signal_connect_data(dialog, "response", G_CALLBACK(on_confirm_response_cb), confirm,
                        confirm_free, 0);
  gtk_window_present(GTK_WINDOW(dialog));
}
