/* signet-install.h: putting an issued certificate and its CA chain on a
 * token, the one way import, activation and renewal do it.
 *
 * Owns: the rule for what goes on the token: the holder certificate under
 * its key's CKA_ID unless the token already has it (same DER), and each CA
 * certificate of the chain that is not on the token yet, as a CA object
 * (never a second copy, never a certificate that is neither the holder's nor
 * a CA's); the counts the answers report (chain_stored, chain_present);
 * recording the certificate in the state database once it is on the token.
 * May call: pkcs11/ (a session the caller logged in), enroll/ (X.509
 * helpers), the state database, GLib.
 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

#include "agent/signet-state.h"
#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

/* Writes @leaf under @id with @label (NULL: the module's default) unless the
 * token holds it already; @out_present (may be NULL) says which. */
gboolean signet_install_leaf(SignetP11Session *session, X509 *leaf, GBytes *id, const char *label,
                             gboolean *out_present, GError **error);

/* Writes every CA certificate of @chain that is not @leaf and not on the
 * token yet, with @chain_label (NULL: the module's default); adds to
 * @n_stored those written and to @n_present those the token had. A
 * certificate that is neither @leaf nor a CA is skipped (logged). */
gboolean signet_install_chain(SignetP11Session *session, X509 *leaf, GPtrArray *chain,
                              const char *chain_label, guint *n_stored, guint *n_present,
                              GError **error);

/* Records @cert (on token @token_serial under the hex CKA_ID @key_id,
 * issued through @profile, may be NULL, with the legacy algorithms the CA
 * forced, @legacy_algorithms, NULL: none) in the state database (may be
 * NULL: nothing); a failure is logged, never fatal: the certificate is on
 * the token. */
void signet_install_track(SignetState *state, const char *token_serial, const char *key_id,
                          X509 *cert, const char *profile, const char *legacy_algorithms);

G_END_DECLS
