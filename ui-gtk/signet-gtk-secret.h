/* signet-gtk-secret.h: a PIN from the window to the agent.
 *
 * Owns: the step before a PIN is sent (GetTokenStatus read again, the rule
 * of signet_client_before_secret, the final-try confirmation of the dialogs
 * whose Cancel sends nothing), and taking the PIN out of a GtkPasswordEntry
 * into a SignetSecret (the entry wiped at once) and from there into the
 * "ay" the proxy takes, as cli/signet-cli-secret.c does.
 * May call: libsignet/, common/, ui-gtk/signet-gtk-dialogs.h, GTK.
 */
#pragma once

#include <gtk/gtk.h>

#include "common/signet-secret.h"
#include "libsignet/signet-client.h"
#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

/* The outcome of the rule: @go FALSE when nothing may be sent (@error says
 * why, or NULL when the holder cancelled the final-try confirmation);
 * @confirmed_final_try for the call's "confirm-final-try" option; @pin_pad
 * when the reader's pad asks (send an empty secret). */
typedef void (*SignetGtkSecretReady)(gboolean go, gboolean confirmed_final_try, gboolean pin_pad,
                                     const GError *error, gpointer data);

/* Reads @token's status again and applies the rule before asking for the
 * secret @op sends; calls @ready once. @parent is the confirmation's parent. */
void signet_gtk_secret_check(GtkWidget *parent, SignetAgent1 *proxy, const char *token,
                             const char *label, SignetClientOp op, SignetGtkSecretReady ready,
                             gpointer data);

/* The entry's text as a secret, the entry emptied; NULL when it was empty. */
SignetSecret *signet_gtk_secret_take(GtkEditable *entry);

/* A floating "ay" that owns @secret and frees (wipes) it with the message. */
GVariant *signet_gtk_secret_to_variant(SignetSecret *secret);

/* The words the token's state read again adds to an error. */
typedef enum
{
  /* The window's pages: "The PIN now: SHORT (WORDS)." and the PUK's short
   * state where the token reports one. */
  SIGNET_GTK_TRIES_PIN_AND_PUK,
  /* The dialogs: "PIN now: WORDS." or "PUK now: WORDS.", for the secret
   * the error is about. */
  SIGNET_GTK_TRIES_CONCERNED,
} SignetGtkTriesWords;

/* Called once the error label says all, with the token's state read again
 * (NULL where none was read). */
typedef void (*SignetGtkErrorShown)(GVariant *status, gpointer data);

/* Shows @error in @label (made visible): its kind in words, the agent's
 * message and the next step. After a wrong or locked PIN or PUK (and, in
 * @words SIGNET_GTK_TRIES_PIN_AND_PUK, a refused final try) @token's state
 * is read again (GetTokenStatus) and added in @words: the tries left; the
 * label stays hidden until then. @shown (may be NULL) is called exactly
 * once, when the label says all (at once when nothing is read). Returns TRUE
 * when the state is being read. A NULL @label (a dialog closed) shows
 * nothing; a label gone before the answer is left alone. */
gboolean signet_gtk_secret_show_error(GtkLabel *label, SignetAgent1 *proxy, const char *token,
                                      const GError *error, SignetGtkTriesWords words,
                                      SignetGtkErrorShown shown, gpointer data);

G_END_DECLS
