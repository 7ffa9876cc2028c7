/* signet-est.h: an EST client (RFC 7030) over libcurl.
 *
 * Owns: HTTPS to a CA (signet-http.c: timeouts, proxies from the
 * environment, User-Agent "Signet/VERSION", TLS always verified against the
 * given trust anchors or the system store, host name checked, no option to
 * turn verification off; failures as SIGNET_ENROLL_ERROR_RESOLVE / CONNECT /
 * TLS / TIMEOUT / ... with a message a holder understands), and the EST
 * operations /cacerts, /csrattrs, /simpleenroll (HTTP Basic, or Digest when
 * the CA challenges for it) and /simplereenroll (TLS client authentication
 * with a certificate and its key, which may be an on-token EVP_PKEY bound by
 * pkcs11/; and HTTP credentials too, when the CA wants them).
 *
 * HTTP authentication (RFC 7030 3.2.3): Basic (RFC 7617) is sent
 * pre-emptively; a 401 whose WWW-Authenticate challenges for Digest
 * (RFC 7616) is answered once, by libcurl's Digest (MD5, SHA-256).
 * May call: common/, OpenSSL, libcurl, GLib. Never PKCS#11, never D-Bus.
 *
 * Threads: a SignetEst is used by one thread at a time; every call blocks
 * (the agent calls it from a GTask worker).
 *
 * HTTP status → error (the CA's text, when it sent one, is in the message):
 *   200 → result; 202 + Retry-After → SIGNET_EST_PENDING (not an error);
 *   400, 403 → REFUSED; 401 on /simpleenroll → CODE_REJECTED (naming the
 *   scheme the CA challenged for), or CODE_EXPIRED when the CA's text says
 *   the code expired; 401 on /simplereenroll → REFUSED: with a challenge,
 *   the CA wants HTTP credentials (the scheme named; the profile's
 *   [est] reenroll-username / reenroll-password, missing or not accepted),
 *   without one, the current certificate was not accepted; a challenge
 *   only for schemes Signet does not speak → REFUSED;
 *   404 → BAD_RESPONSE (no EST service at that URL: check the profile);
 *   5xx → UNAVAILABLE; a body that is not what RFC 7030 says, or cut short
 *   → BAD_RESPONSE.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/signet-secret.h"
#include "enroll/signet-x509.h"

G_BEGIN_DECLS

typedef struct
{
  /* EST base URL, https only: "https://host[:port]/.well-known/est[/label]";
   * the operation names are appended ("/cacerts", ...). */
  const char *url;
  /* PEM file of the CA certificates that may sign the server's TLS
   * certificate; NULL: the system store. */
  const char *trust_anchors;
  guint connect_timeout; /* seconds; 0: 15 */
  guint timeout;         /* seconds for a whole request; 0: 120 */
} SignetEstConfig;

typedef struct _SignetEst SignetEst;

/* Checks @config (an https URL, a readable trust anchor file); copies it. */
SignetEst *signet_est_new(const SignetEstConfig *config, GError **error);
void signet_est_free(SignetEst *est);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetEst, signet_est_free)

/* HTTP Basic credentials for /csrattrs and /simpleenroll. @password is
 * copied into locked memory, wiped with @est. */
void signet_est_set_basic_auth(SignetEst *est, const char *username, const SignetSecret *password);

/* HTTP credentials for /simplereenroll, sent besides the client identity
 * (and with signet_est_poll_reenroll()): a credential the CA publishes for
 * its renewal endpoint, the same for every holder, not a holder's secret.
 * Basic, or Digest when challenged, as above. @password is copied into
 * locked memory. NULL, NULL: none (the default). */
void signet_est_set_reenroll_auth(SignetEst *est, const char *username,
                                  const SignetSecret *password);

/* TLS client authentication for /simplereenroll, and for /csrattrs when no
 * Basic credentials were set (asked before a renewal, with the renewal
 * credentials too): @cert and its private key
 * @key (an on-token key bound by pkcs11/ works: the key never leaves the
 * token; RSA and EC; TLS 1.2 and 1.3). References are taken. */
gboolean signet_est_set_client_identity(SignetEst *est, X509 *cert, EVP_PKEY *key, GError **error);

/* /cacerts: the CA certificates (base64 PKCS#7 certs-only), as X509*,
 * never empty. */
GPtrArray *signet_est_get_cacerts(SignetEst *est, GError **error);

/* /csrattrs (RFC 7030 4.5.2, as RFC 9908 (draft-ietf-lamps-rfc7030-csrattrs)
 * clarifies it): what the CA wants in the request, as far as Signet
 * understands it. The subject: Attribute entries whose type is a name
 * attribute (CN, O, C, serialNumber, ...) with one string value each, in
 * the order given (Signet's convention). The key type: an id-ecPublicKey
 * Attribute with its curve, an rsaEncryption Attribute with its size
 * (INTEGER), or either OID bare. The hash: a bare signature algorithm OID
 * (ECDSA or RSA with a hash). challengePassword, bare or as an Attribute.
 * Everything else, and a key type Signet does not know (another curve or
 * size), is listed in @oids. Details: docs/internals/est.md. 204 or 404: no
 * attributes (not an error). */
typedef struct
{
  /* "CN=…,O=…" (RFC 4514 form), NULL if the CA named none. */
  char *subject;
  /* As a profile's key-type: "ec:p256", "ec:p384", "rsa:2048", "rsa:3072",
   * "rsa:4096"; "ec" or "rsa" when the CA names the algorithm only; NULL:
   * none Signet knows. The first the CA names (a precise one refines a
   * bare algorithm). */
  char *key_type;
  /* The hash of the first signature algorithm the CA names, by OpenSSL's
   * name: "sha256", "sha384", "sha512", "sha1", ...; NULL: none named. */
  char *hash;
  /* The CA asks for a challengePassword attribute. */
  gboolean challenge_password;
  /* Other OIDs the CA asked for (dotted), maybe empty. */
  GStrv oids;
} SignetEstCsrAttrs;
void signet_est_csr_attrs_free(SignetEstCsrAttrs *attrs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetEstCsrAttrs, signet_est_csr_attrs_free)
SignetEstCsrAttrs *signet_est_get_csr_attrs(SignetEst *est, GError **error);

typedef enum
{
  SIGNET_EST_ISSUED,  /* certs holds the certificate(s) */
  SIGNET_EST_PENDING, /* 202: ask again at retry_at with the same request */
} SignetEstStatus;

typedef struct
{
  SignetEstStatus status;
  GPtrArray *certs;    /* ISSUED: X509*, as the CA sent them (leaf among them) */
  GDateTime *retry_at; /* PENDING: when to ask again (UTC) */
  char *message;       /* the CA's text, if any */
} SignetEstResult;
void signet_est_result_free(SignetEstResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetEstResult, signet_est_result_free)

/* /simpleenroll with @csr_pem (a PEM PKCS#10; sent as base64 DER,
 * application/pkcs10). Uses the Basic credentials. */
SignetEstResult *signet_est_simple_enroll(SignetEst *est, const char *csr_pem, GError **error);
/* /simplereenroll: the same, authenticated with the client identity. */
SignetEstResult *signet_est_simple_reenroll(SignetEst *est, const char *csr_pem, GError **error);
/* /simplereenroll again for a request the CA answered 202, with the
 * client identity if one was set, else without (the agent polls without
 * the PIN: the CA recognises the request it accepted; one that insists on
 * client authentication answers 401, SIGNET_ENROLL_ERROR_REFUSED). The
 * reenroll credentials go with it, when set. */
SignetEstResult *signet_est_poll_reenroll(SignetEst *est, const char *csr_pem, GError **error);

G_END_DECLS
