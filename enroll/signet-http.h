/* signet-http.h: one HTTPS request to a CA, over libcurl. Private to enroll/
 * (and its tests): its callers are the EST client (signet-est.c) and the
 * CMP connector's transfer callback (signet-cmp-connector.c), which sends
 * the messages of one CMP transaction over one kept connection
 * (SignetHttpConnections).
 *
 * Owns: libcurl's global state (initialised once), one easy handle per
 * request; TLS always verified (peer and host name) against the given trust
 * anchors or the system store, https only, redirects never followed (a 3xx
 * is BAD_RESPONSE naming where it pointed), proxies from the environment
 * (libcurl reads https_proxy / no_proxy itself), the User-Agent
 * "Signet/VERSION", connect and total timeouts, answers of at most
 * SIGNET_HTTP_BODY_MAX bytes; HTTP Basic credentials built in locked memory,
 * sent pre-emptively; HTTP Digest (RFC 7616) left to libcurl, on request;
 * TLS client authentication with a certificate and an EVP_PKEY that may
 * live on a token (set in curl's SSL_CTX); transport failures as
 * SIGNET_ENROLL_ERROR_RESOLVE / CONNECT / TLS / TIMEOUT / BAD_RESPONSE with
 * a message saying what failed and what to do. HTTP statuses are the
 * caller's to interpret (only 3xx is an error here).
 * May call: common/, OpenSSL, libcurl, GLib. Never logs a credential.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/signet-secret.h"
#include "enroll/signet-est.h"

G_BEGIN_DECLS

/* Largest answer accepted from a CA. */
#define SIGNET_HTTP_BODY_MAX (1024 * 1024)

/* Connections kept from one request to the next (libcurl's connection
 * cache, shared between easy handles): the messages of one CMP
 * transaction go over one connection, as servers that keep a transaction
 * per connection want. Used by one thread at a time. */
typedef struct _SignetHttpConnections SignetHttpConnections;
SignetHttpConnections *signet_http_connections_new(void);
void signet_http_connections_free(SignetHttpConnections *connections);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetHttpConnections, signet_http_connections_free)

typedef struct
{
  const char *method;        /* "GET" or "POST" */
  const char *url;           /* https://… (checked by the caller) */
  const char *trust_anchors; /* PEM file, or NULL: the system store */
  guint connect_timeout;     /* seconds, > 0 */
  guint timeout;             /* seconds, > 0 */
  /* POST: the body and the headers that describe it, e.g.
   * "Content-Type: application/pkcs10" (NULL-terminated; may be NULL). */
  GBytes *body;
  const char *const *headers;
  /* HTTP credentials: both or neither. Sent as Basic (RFC 7617),
   * pre-emptively, or, with @digest, as libcurl's Digest (RFC 7616): the
   * request goes without credentials, and the server's Digest challenge is
   * answered (libcurl copies the password into its own memory for it). */
  const char *username;
  const SignetSecret *password;
  gboolean digest;
  /* TLS client authentication: both or neither. */
  X509 *client_cert;
  EVP_PKEY *client_key;
  /* Highest TLS version offered: 0 (TLS 1.3), 12 or 13. Never below 1.2. */
  guint tls_max_version;
  /* Where the connection comes from and goes back to, or NULL: a
   * connection of its own, closed after the answer. */
  SignetHttpConnections *connections;
} SignetHttpRequest;

typedef struct
{
  long status;        /* HTTP status of the final answer */
  GBytes *body;       /* never NULL, maybe empty */
  char *content_type; /* NULL if none */
  char *retry_after;  /* the Retry-After header's value, NULL if none */
  /* The WWW-Authenticate headers' values (printable, at most
   * SIGNET_HTTP_CHALLENGES_MAX), never NULL, maybe empty. */
  GStrv www_authenticate;
} SignetHttpResponse;

/* WWW-Authenticate headers kept from one answer. */
#define SIGNET_HTTP_CHALLENGES_MAX 8

/* The authentication schemes an answer's WWW-Authenticate headers ask for
 * (RFC 9110 11.6.1: a header holds one or more challenges, each a scheme
 * and its parameters). */
typedef enum
{
  SIGNET_HTTP_AUTH_BASIC = 1 << 0,
  SIGNET_HTTP_AUTH_DIGEST = 1 << 1,
  SIGNET_HTTP_AUTH_OTHER = 1 << 2, /* any scheme Signet does not speak */
} SignetHttpAuthSchemes;
SignetHttpAuthSchemes signet_http_response_auth_schemes(const SignetHttpResponse *response);

/* An answer as signet_http_request() keeps it, from what the server sent
 * (any bytes but NUL): @content_type, @retry_after (header values, NULL:
 * none) and each of @www_authenticate (NULL-terminated, may be NULL; the
 * first SIGNET_HTTP_CHALLENGES_MAX kept) as trimmed, printable, bounded
 * UTF-8; @body (NULL: empty) referenced. Fuzzed (tests/fuzz/fuzz-http.c). */
SignetHttpResponse *signet_http_response_new(long status, const char *content_type,
                                             const char *retry_after,
                                             const char *const *www_authenticate, GBytes *body);
void signet_http_response_free(SignetHttpResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetHttpResponse, signet_http_response_free)

/* Sends @request and returns the answer, whatever its HTTP status but 3xx.
 * Transport failures: RESOLVE, CONNECT (the request never left: refused,
 * no connection within the connect timeout, or a TLS handshake that the
 * server accepted but never completed), TLS, TIMEOUT (only once TLS was up:
 * the request went out and no answer came in time, so the CA may have acted
 * on it), BAD_RESPONSE (cut short, too large, a redirect), REFUSED (a TLS
 * alert over the client certificate: the same as a 401 on
 * /simplereenroll), FAILED (anything else). */
SignetHttpResponse *signet_http_request(const SignetHttpRequest *request, GError **error);

/* While TRUE, every connection goes to a closed local port (see
 * signet_connector_set_unreachable(), its only caller). */
void signet_http_set_unreachable(gboolean unreachable);

/* The host part of an https URL (for messages), or NULL. */
char *signet_http_url_host(const char *url);

/* ---- EST internals, for tests/enroll and fuzzing --------------------- */

/* The body of a /csrattrs answer (base64 of a DER CsrAttrs, RFC 7030
 * 4.5.2; whitespace allowed) as signet_est_get_csr_attrs() returns it;
 * BAD_RESPONSE if it is not one. Bounded; takes any bytes (fuzzed). */
SignetEstCsrAttrs *signet_est_csr_attrs_parse(const guint8 *body, gsize len, GError **error);

/* The EST operations, and the HTTP credentials a request went with in
 * the end. */
typedef enum
{
  SIGNET_EST_OP_CACERTS,
  SIGNET_EST_OP_CSRATTRS,
  SIGNET_EST_OP_ENROLL,
  SIGNET_EST_OP_REENROLL,
} SignetEstOperation;

typedef enum
{
  SIGNET_EST_SENT_NONE,
  SIGNET_EST_SENT_BASIC,
  SIGNET_EST_SENT_DIGEST,
} SignetEstAuthSent;

/* What the CA's answer @response to @op (/cacerts, /simpleenroll or
 * /simplereenroll, at the EST base @url, sent with @sent) means, as the
 * table in signet-est.h says: 200 → ISSUED and the certificates (never
 * empty); 202 → PENDING (not for /cacerts), retry_at from @now (NULL: the
 * current time) plus the Retry-After (delta-seconds or an HTTP date; 60 s
 * when absent or unreadable) kept within 1 s and 7 days; any other status
 * → the error of that table. The EST client's only reading of an answer;
 * fuzzed (tests/fuzz/fuzz-http.c). */
SignetEstResult *signet_est_answer_parse(const char *url, SignetEstOperation op,
                                         const SignetHttpResponse *response, SignetEstAuthSent sent,
                                         GDateTime *now, GError **error);

/* The same for /csrattrs: 204 or 404 → no attributes, 200 →
 * signet_est_csr_attrs_parse() of the body, any other status → the error. */
SignetEstCsrAttrs *signet_est_csr_attrs_answer_parse(const char *url,
                                                     const SignetHttpResponse *response,
                                                     SignetEstAuthSent sent, GError **error);

/* Test-only knob: the highest TLS version the EST client offers (12 or
 * 13; 0: the default, 1.3). tests/enroll/test-est.c uses it to run TLS
 * client authentication with on-token keys over both TLS 1.2 and 1.3;
 * nothing else sets it. */
void signet_est_set_tls_max_version(SignetEst *est, guint version);

G_END_DECLS
