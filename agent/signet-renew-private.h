/* signet-renew-private.h: what the files of the renewal engine share
 * (signet-renew.c: the run and its steps up to the CA, rolling back;
 * signet-renew-choose.c: which certificate and profile; signet-renew-finish.c:
 * the steps after the CA issued; signet-renew-background.c: what the agent
 * does without the PIN). Not for use outside them.
 *
 * Owns: the Run of one signet_renewal_run() call.
 * May call: what signet-renew.c may.
 */
#pragma once

#include "agent/signet-renew.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "agent/signet-errors.h"
#include "agent/signet-clock.h"
#include "agent/signet-install.h"
#include "agent/signet-testhooks.h"
#include "agent/signet-token-dict.h"
#include "agent/signet-trust.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-x509.h"

G_BEGIN_DECLS

typedef struct
{
  const SignetRenewal *r;
  char *serial;                 /* the token's serial (copied: the session re-reads it) */
  char *name;                   /* its label, else its serial */
  SignetOperation *op;          /* the journal entry */
  const SignetProfile *profile; /* the CA */
  X509 *old_cert;               /* the certificate being renewed (owned) */
  char *old_label;
  gboolean resumed;
  gboolean send_again; /* resumed: the request was sent, its answer never came */
  gboolean logged_in;  /* the PIN is sent once per call */
  char *selector;      /* which certificate (--cert, or the interrupted one's serial) */
  gboolean conflict;   /* another task changed the journal entry: touch nothing more */
  SignetTrust *trust;  /* the roots the new chain must end at */
  char *hash;          /* what the CA asked the request signed with, or NULL */
} Run;

void signet_renew_progress(Run *run, const char *step, const char *format, ...) G_GNUC_PRINTF(3, 4);

/* Journals @step (durably) before it runs, then the test hook. */
gboolean signet_renew_step(Run *run, const char *name, GError **error);

void signet_renew_save(Run *run);

char *signet_renew_certs_to_pem(X509 *leaf, GPtrArray *chain);

GBytes *signet_renew_op_new_id(Run *run);

GBytes *signet_renew_op_old_id(Run *run);

void signet_renew_close_op(Run *run, SignetOpState final, const char *message);

/* @text without colons, spaces and leading zeros, in lower case: how a
 * serial, a key id or a fingerprint is compared. */
char *signet_renew_normalize_hex(const char *text);

/* "serial 1a2b (key id 01ab, CN=…, valid until 2027-01-01)" for each. */
char *signet_renew_list_certificates(GPtrArray *certs);

/* The holder certificates still under key @id. */
GPtrArray *signet_renew_certificates_of_key(Run *run, GBytes *id, GError **error);

gboolean signet_renew_choose_certificate(Run *run, GError **error);

/* The certificate of an interrupted renewal, found again by value. */
gboolean signet_renew_find_old_certificate(Run *run, GError **error);

gboolean signet_renew_check_validity(Run *run, GError **error);

gboolean signet_renew_find_profile(Run *run, GError **error);

/* The token's private key @id exists (after login). */
gboolean signet_renew_has_private_key(Run *run, GBytes *id, GError **error);

/* ISSUED: certificates_pem holds the leaf, then the chain. Writes it, tests
 * it, removes the old credential, and finishes the journal entry. Any
 * failure leaves the entry ISSUED: the next renewal resumes here. */
GVariant *signet_renew_finish_issued(Run *run, GError **error);

/* The roots a renewal of @op's certificate must chain to
 * (docs/internals/trust.md): the profile's ca-roots and the roots recorded
 * for the certificate renewed (at its activation, renewal or import); with
 * neither (a certificate from before roots were recorded, or imported
 * unverified), the self-signed certificates of @cacerts, as at activation.
 * @cacerts (the CA's /cacerts over verified TLS) must lead to them: a CA
 * that now issues under another root is refused here, before the token is
 * touched. */
SignetTrust *signet_renew_roots(SignetState *state, const SignetProfile *profile,
                                const SignetOperation *op, GPtrArray *cacerts, GError **error);

/* What the CA issued (@certs; @cacerts may add the chain) for @public_key,
 * checked: the leaf holds that key and chains to the CA's certificates.
 * Journals it as ISSUED (the leaf first, then its CA chain) before anything
 * is written to a token: from here on the CA's work must not be lost. */
gboolean signet_renew_journal_issued(SignetState *state, SignetOperation *op, EVP_PKEY *public_key,
                                     GPtrArray *certs, GPtrArray *cacerts, const SignetTrust *trust,
                                     GError **error);

/* The verify step: the new key's public half from the token. */
gboolean signet_renew_verify_issued(Run *run, GPtrArray *certs, GPtrArray *cacerts, GError **error);

/* What a PENDING answer asks to keep for the poll (journaled with it). */
void signet_renew_set_poll_state(SignetOperation *op, const SignetAnswer *answer);

G_END_DECLS
