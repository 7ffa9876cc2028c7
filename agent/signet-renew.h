/* signet-renew.h: renewing a certificate on the token in place, journaled
 * step by step, in a worker thread (docs/internals/renewal.md).
 *
 * Owns: the order of the renewal steps, what each journals before it runs,
 * and how an interrupted renewal is resumed or rolled back.
 *   check-certificate  the certificate to renew is on the token with its
 *                      key, still valid (else CertificateExpired), and has a
 *                      CA profile
 *   ca-certificates    EST /cacerts (TLS verified) before any PIN or key
 *   login              the PIN, once
 *   ask-ca             what the CA wants in the request (EST /csrattrs,
 *                      with the current certificate), held against the
 *                      key the request will carry; its hash is used
 *   check-room         room for a second key pair (token free memory, when
 *                      the token says); skipped for keep-key
 *   generate-key       the new key's CKA_ID is journaled first, then made
 *   request            PKCS#10 signed with the new (or kept) key
 *   reenroll           EST /simplereenroll, TLS client authentication with
 *                      the current certificate and key; a 202 keeps key and
 *                      request (journal PENDING) and ends with Pending
 *   verify             new public key, chain to the CA's certificates; the
 *                      certificates are journaled (ISSUED) before any write
 *   store              the certificate under the new key's CKA_ID and the
 *                      chain as authority certificates
 *   test-signature     a signature made on the token with the new key,
 *                      verified with the new certificate's public key
 *   remove-old         the old certificate and (not keep-key) its key
 *   done
 * Rule: nothing old is deleted before the new certificate is stored and the
 * test signature verifies. A failure before store rolls back (the new key is
 * deleted; the old credential is untouched); a failure from store on keeps
 * what the CA issued in the journal and resumes forward next time.
 * May call: pkcs11/, enroll/, common/, signet-state, signet-testhooks.
 */
#pragma once

#include <gio/gio.h>

#include "agent/signet-state.h"
#include "common/signet-secret.h"
#include "enroll/signet-profile.h"
#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

typedef struct
{
  SignetP11Session *session; /* open, with fresh token flags */
  SignetState *state;        /* the journal */
  /* The profiles known (to find the certificate's profile), and the one the
   * caller named (or NULL). */
  const SignetProfileSet *profiles;
  const char *profile_name;
  const char *cert_id; /* the certificate to renew (key id, serial or SHA-256
                        * fingerprint, see signet_renewal_cert_matches), or NULL */
  /* Sends the PIN (once); TRUE when logged in. NULL: no PIN available
   * (recovery on insertion): steps that need a login are left for later. */
  gboolean (*login)(gpointer data, SignetP11Session *session, GError **error);
  void (*progress)(gpointer data, const char *step, GVariant *details);
  gpointer data;
  /* Set TRUE when the journal entry of this call was closed (it then wrote
   * the audit entry); may be NULL. */
  gboolean *out_journal_closed;
} SignetRenewal;

/* Renews (first resuming or rolling back an interrupted renewal of the same
 * certificate); returns a floating a{sv} (docs/dbus-api.md, Renew). */
GVariant *signet_renewal_run(const SignetRenewal *renewal, GError **error);

/* Work on the open journal entries of the token of @renewal->session that
 * needs no PIN: an ISSUED renewal's certificate is written when the token
 * accepts a write without login. Called on start and on insertion. Returns
 * the number of operations that still need the holder (their PIN). */
guint signet_renewal_recover_without_pin(const SignetRenewal *renewal, GError **error);

/* Asks the CA again for PENDING renewal @op (no PIN, no token needed: the
 * request is sent again as it was accepted). ISSUED: certificates verified
 * against the CA's chain and journaled; still PENDING: retry_at updated.
 * FALSE with an error when the CA could not be asked (retry later). */
gboolean signet_renewal_poll(SignetState *state, const SignetProfileSet *profiles,
                             SignetOperation *op, GError **error);

/* How the next Renew resumes open entry @op (what status tells the holder,
 * and what signet_renewal_run then does): "send-again" (RUNNING, the
 * request went to the CA: the same request is sent again), "undo"
 * (RUNNING before that: rolled back, then a renewal from the start),
 * "finish" (ISSUED), "wait" (PENDING: the agent asks the CA itself),
 * "ask-again" (PENDING at a CA that answers only a poll authenticated as
 * the request was: the holder asks, with the PIN), or "none" (closed). */
const char *signet_renewal_resume_action(const SignetOperation *op);

/* The step of a PENDING renewal that the agent no longer asks the CA about
 * by itself: the CA refused a poll without the client certificate (strict
 * EST servers want a poll authenticated as the request was, RFC 7030
 * 4.2.3), and only the holder's PIN unlocks the key for that. */
#define SIGNET_RENEWAL_STEP_WAIT_HOLDER "wait-holder"
gboolean signet_renewal_waits_for_holder(const SignetOperation *op);

/* Does @selector (what --cert gives: a key id, a certificate serial, or its
 * SHA-256 fingerprint; hex, any case, colons allowed) name the certificate
 * @cert (may be NULL: only the key id is compared) under key @key_id? */
gboolean signet_renewal_cert_matches(const char *selector, const char *key_id, X509 *cert);

G_END_DECLS
