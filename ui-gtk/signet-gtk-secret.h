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

/* Shows @error in @label (made visible): its kind in words, the agent's
 * message and the next step; after a wrong or locked PIN or PUK, the
 * token's state read again (GetTokenStatus) is added: the tries left. */
void signet_gtk_secret_show_error(GtkLabel *label, SignetAgent1 *proxy, const char *token,
                                  const GError *error);

G_END_DECLS
