/* signet-gtk-renew-page.h: the renewal of one certificate in place.
 *
 * Owns: which certificate (a serial, SHA-256 fingerprint or key id, as the
 * Renew call's "cert" option and `signet renew --cert` take it), the PIN in
 * a GtkPasswordEntry (wiped when sent) under the rule before a PIN
 * (ui-gtk/signet-gtk-secret.h), the Renew call with its steps, the result,
 * and the errors in place with the next step (an expired certificate: ask
 * the CA for a new one). "running" as for the activation page.
 * May call: ui-gtk/signet-gtk-secret.h, ui-gtk/signet-gtk-progress.h,
 * ui-gtk/signet-gtk-rules.h, libsignet/, GTK.
 */
#pragma once

#include <adwaita.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

#define SIGNET_GTK_TYPE_RENEW_PAGE (signet_gtk_renew_page_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkRenewPage, signet_gtk_renew_page, SIGNET_GTK, RENEW_PAGE, GtkBox)

/* Shows the form for certificate @cert of @token (@status: its
 * GetTokenStatus answer, for the certificate's details and the PIN's state),
 * unless a renewal runs: then it stays as it is. */
void signet_gtk_renew_page_open(SignetGtkRenewPage *self, SignetAgent1 *proxy, const char *token,
                                const char *label, GVariant *status, const char *cert);

gboolean signet_gtk_renew_page_get_running(SignetGtkRenewPage *self);

G_END_DECLS
