/* signet-scep-private.h: the SCEP connector's readers of a CA's answers
 * (RFC 8894), exposed for tests/enroll and the fuzzers; private to enroll/.
 *
 * Owns: reading a GetCACert answer, a CertRep pkiMessage's signedData and
 * its SCEP attributes, and the certs-only PKCS#7 inside a SUCCESS reply.
 * Pure and bounded: no I/O, no key, no clock; any bytes in (fuzzed by
 * tests/fuzz/fuzz-scep.c). Checking the signature, the nonces and
 * decrypting the envelope are the connector's (signet-scep-connector.c).
 * May call: OpenSSL, GLib.
 */
#pragma once

#include <glib.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

G_BEGIN_DECLS

/* Largest SCEP attribute value read (transactionID, nonces). */
#define SIGNET_SCEP_ATTR_MAX 128

typedef enum
{
  SIGNET_SCEP_STATUS_SUCCESS = 0,
  SIGNET_SCEP_STATUS_FAILURE = 2,
  SIGNET_SCEP_STATUS_PENDING = 3,
} SignetScepStatus;

/* A CertRep as read, not yet checked. */
typedef struct
{
  PKCS7 *p7;               /* the whole signedData */
  SignetScepStatus status; /* pkiStatus */
  int fail_info;           /* FAILURE: failInfo (0..4), -1 when absent */
  char *transaction_id;    /* printable, never NULL */
  GBytes *recipient_nonce; /* never NULL */
  GBytes *sender_nonce;    /* NULL when absent */
  GBytes *enveloped;       /* SUCCESS: the signed content (DER envelopedData) */
} SignetScepReply;
void signet_scep_reply_free(SignetScepReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetScepReply, signet_scep_reply_free)

/* A CertRep pkiMessage (DER): a signedData with one signer, messageType
 * CertRep (3), a pkiStatus, a transactionID and a recipientNonce; SUCCESS
 * carries content, FAILURE a failInfo. SIGNET_ENROLL_ERROR_BAD_RESPONSE
 * saying what is missing otherwise. */
SignetScepReply *signet_scep_reply_parse(const guint8 *der, gsize len, GError **error);

/* A GetCACert answer: "application/x-x509-ca-cert" is one DER certificate
 * (a CA alone), "application/x-x509-ca-ra-cert" a certs-only PKCS#7 (an
 * RA and its CA); a certs-only PKCS#7 is accepted under either type.
 * X509* (never empty), or BAD_RESPONSE. */
GPtrArray *signet_scep_ca_certs_parse(const char *content_type, const guint8 *body, gsize len,
                                      GError **error);

/* The certificates of a certs-only (degenerate signedData) PKCS#7, DER:
 * X509* (never empty), or BAD_RESPONSE. */
GPtrArray *signet_scep_certs_only_parse(const guint8 *der, gsize len, GError **error);

G_END_DECLS
