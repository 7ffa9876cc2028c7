/* signet-trust.h: the roots a certificate the CA issued must chain to
 * (docs/internals/trust.md).
 *
 * Owns: the set of roots the holder trusts for a CA at one moment, put
 * together from what the holder already had: the profile's ca-roots, the
 * roots recorded for a certificate in the state database, or (when there is
 * neither) the self-signed certificates of the CA's /cacerts, fetched over
 * TLS verified with the profile's trust anchors (RFC 7030 4.1.3: a request
 * of its own, never the answer that carries the issued certificate).
 * Checking a chain against the set (nothing that came with the chain is
 * ever a root), naming the root a chain really ends at, and recording the
 * set for a new certificate.
 * May call: enroll/ (X.509 helpers, profiles), the state database, GLib,
 * OpenSSL. Never PKCS#11, never D-Bus.
 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

#include "agent/signet-state.h"
#include "enroll/signet-profile.h"

G_BEGIN_DECLS

/* Where a root of the set came from; the word is what the state database
 * records ("source"). */
#define SIGNET_TRUST_CA_ROOTS "ca-roots" /* the profile's ca-roots file */
#define SIGNET_TRUST_CACERTS  "cacerts"  /* the CA's /cacerts over verified TLS */
#define SIGNET_TRUST_RECORDED "recorded" /* recorded for the certificate renewed */
#define SIGNET_TRUST_ANCHOR   "anchor"   /* a file the holder named (import --anchor) */
#define SIGNET_TRUST_SYSTEM   "system"   /* the system's trusted certificates (import) */

typedef struct _SignetTrust SignetTrust;

SignetTrust *signet_trust_new(void);
void signet_trust_free(SignetTrust *trust);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetTrust, signet_trust_free)

/* How many roots the set holds. */
guint signet_trust_count(const SignetTrust *trust);

/* Adds @root (a reference is taken) from @source, unless the same
 * certificate is there already. A certificate that is not a CA's is not
 * added (FALSE). */
gboolean signet_trust_add(SignetTrust *trust, X509 *root, const char *source);

/* The roots in @profile's ca-roots file: TRUE and nothing added when the
 * profile has none; SIGNET_ENROLL_ERROR_PROFILE when the file cannot be
 * read any more (it was checked when the profile was loaded). */
gboolean signet_trust_add_profile_roots(SignetTrust *trust, const SignetProfile *profile,
                                        GError **error);

/* The self-signed CA certificates of @cacerts (the CA's /cacerts answer);
 * returns how many were added. */
guint signet_trust_add_cacerts_roots(SignetTrust *trust, GPtrArray *cacerts);

/* The roots recorded for the certificate (token_serial, issuer, serial);
 * returns how many were added (0 with no error when none are recorded). */
guint signet_trust_add_recorded(SignetTrust *trust, SignetState *state, const char *token_serial,
                                const char *issuer, const char *serial, GError **error);

/* Does @leaf chain to one of the set's roots, with @untrusted (what came
 * with it) as intermediates only? @now: NULL for the current time.
 * @out_anchor (may be NULL): the root it ends at. FALSE with
 * SIGNET_ENROLL_ERROR_CERT_MISMATCH whose message is a clause that names
 * the root the chain really ends at and the roots trusted ("its chain ends
 * at the root CN=… (SHA-256 …), which is not one of the roots trusted for
 * this CA: …"); the caller says what happened and what to do around it. */
gboolean signet_trust_verify(const SignetTrust *trust, X509 *leaf, GPtrArray *untrusted,
                             GDateTime *now, X509 **out_anchor, GError **error);

/* Does the CA's @cacerts lead to one of the set's roots (one of its CA
 * certificates is a root of the set, or chains to one)? FALSE with
 * SIGNET_ENROLL_ERROR_TLS whose message is a clause naming the root(s)
 * /cacerts shows and the roots trusted. */
gboolean signet_trust_check_cacerts(const SignetTrust *trust, GPtrArray *cacerts, GDateTime *now,
                                    GError **error);

/* "CN=A (SHA-256 …), from the CA's /cacerts; CN=B (…), from the profile's
 * ca-roots": the set for a message. */
char *signet_trust_describe(const SignetTrust *trust);

/* Records every root of the set for @cert (on token @token_serial) in
 * @state (may be NULL: nothing); a failure is logged, never fatal. */
void signet_trust_record(const SignetTrust *trust, SignetState *state, const char *token_serial,
                         X509 *cert);
/* Records @root alone for @cert, from @source. */
void signet_trust_record_root(SignetState *state, const char *token_serial, X509 *cert, X509 *root,
                              const char *source);

G_END_DECLS
