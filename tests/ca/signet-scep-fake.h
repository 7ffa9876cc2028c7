/* signet-scep-fake.h: a fake SCEP CA (RFC 8894), the answers only: what
 * Debian's scepserver never answers (PENDING then the certificate on the
 * CertPoll, FAILURE badTime, another recipientNonce, a forged signature),
 * signed with a real CA's certificate and key (scepserver's depot). One
 * copy for the SCEP connector's unit test (tests/enroll/test-scep.c, in a
 * thread) and the standalone test CA (tests/ca/signet-test-scep-ca.c).
 *
 * It keeps the requests it answered PENDING in memory, by transactionID,
 * and issues on their CertPoll (a certificate for the request's key and
 * subject, enveloped with AES-128 to the poll's signer). It verifies no
 * request signature: a test shim, not a CA. Safe to call from several
 * threads (one lock).
 *
 * Owns: the fake's state (mode, pending requests, counters), the HTTP
 * exchange on one connected socket.
 * May call: OpenSSL, GLib.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

G_BEGIN_DECLS

typedef enum
{
  /* PKCSReq, RenewalReq: PENDING (the request kept); CertPoll: issued. */
  SIGNET_SCEP_FAKE_PENDING,
  /* PKCSReq, RenewalReq, CertPoll of a kept request: issued at once. */
  SIGNET_SCEP_FAKE_ISSUE,
  /* FAILURE badTime to everything. */
  SIGNET_SCEP_FAKE_BAD_TIME,
  /* PENDING with a recipientNonce that is not the sender's. */
  SIGNET_SCEP_FAKE_WRONG_NONCE,
  /* PENDING signed by the forger's certificate (set_forger), carried along. */
  SIGNET_SCEP_FAKE_FORGED,
} SignetScepFakeMode;

typedef struct SignetScepFake SignetScepFake;

/* @ca and @ca_key are referenced, not copied. */
SignetScepFake *signet_scep_fake_new(X509 *ca, EVP_PKEY *ca_key);
void signet_scep_fake_free(SignetScepFake *fake);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetScepFake, signet_scep_fake_free)

void signet_scep_fake_set_mode(SignetScepFake *fake, SignetScepFakeMode mode);
/* "pending", "issue", "bad-time", "wrong-nonce", "forged". */
gboolean signet_scep_fake_mode_parse(const char *text, SignetScepFakeMode *out_mode);
/* The certificate and key of SIGNET_SCEP_FAKE_FORGED (referenced). */
void signet_scep_fake_set_forger(SignetScepFake *fake, X509 *cert, EVP_PKEY *key);
/* A PKCSReq whose challengePassword is not @challenge gets FAILURE
 * badRequest; NULL (the default): any, or none. */
void signet_scep_fake_set_challenge(SignetScepFake *fake, const char *challenge);
/* Days an issued certificate lasts (default 365). */
void signet_scep_fake_set_days(SignetScepFake *fake, guint days);
/* Appends a line for every pkiMessage to @fd (-1: none): its messageType
 * number and name, transactionID and the answer, e.g. "19 PKCSReq 6A2F…
 * PENDING", in one write(). The caller keeps @fd open. */
void signet_scep_fake_set_log_fd(SignetScepFake *fake, int fd);
/* How many pkiMessages of messageType @type ("19", "17", "20") arrived. */
guint signet_scep_fake_count(SignetScepFake *fake, const char *type);

/* The CertRep to the pkiMessage @req (DER), or NULL and @error. */
GBytes *signet_scep_fake_cert_rep(SignetScepFake *fake, const guint8 *req, gsize req_len,
                                  GError **error);
/* Reads one HTTP request from the connected socket @fd and answers it:
 * GetCACaps, GetCACert, POST PKIOperation; 404 for anything else, 400 for
 * what does not parse, 500 with the reason where an answer could not be
 * made. Sets @out_summary (may be NULL) to one line for a log ("POST
 * PKIOperation 200 19 PKCSReq -> PENDING"). Returns FALSE on a 4xx or 5xx,
 * or when the connection broke. Does not close @fd. */
gboolean signet_scep_fake_serve(SignetScepFake *fake, int fd, char **out_summary);

G_END_DECLS
