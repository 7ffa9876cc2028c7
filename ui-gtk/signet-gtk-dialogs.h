/* signet-gtk-dialogs.h: the dialogs the window opens on a token.
 *
 * Owns: the final-try confirmation, Change PIN, Unblock with PUK, Make a
 * request for a web portal, Import and Export a certificate. Each dialog is
 * modal on @parent, runs one operation at a time, shows the agent's errors
 * in place (signet_client_error_kind() in words, the agent's message and the
 * next step) and never sends a secret before every check passed. Closing a
 * dialog while the agent works does not cancel the agent's work: it
 * finishes, and the token page refreshes from TokenChanged.
 * May call: libsignet/, common/, GTK, libadwaita.
 */
#pragma once

#include <gtk/gtk.h>

#include "libsignet/signet-client.h"
#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

void signet_gtk_change_pin(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial);
void signet_gtk_unblock_pin(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial);
void signet_gtk_make_request(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial);
void signet_gtk_import_certificate(GtkWindow *parent, SignetAgent1 *agent,
                                   const char *token_serial);
void signet_gtk_export_certificate(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial,
                                   const char *cert_serial);

/* The final-try confirmation: calls done(TRUE, data) only when the holder
 * chose to go on ("Continue"); "Cancel", Escape or closing the dialog call
 * done(FALSE, data), and nothing may be sent. @done is called exactly once.
 * which: SIGNET_CLIENT_SECRET_PIN or _PUK; @token_label names the token. */
typedef void (*SignetGtkConfirmDone)(gboolean confirmed, gpointer data);
void signet_gtk_confirm_final_try(GtkWindow *parent, SignetClientSecret which,
                                  const char *token_label, SignetGtkConfirmDone done,
                                  gpointer data);

G_END_DECLS
