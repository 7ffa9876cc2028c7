/* signet-est.c: the EST client (RFC 7030). See signet-est.h; the HTTP
 * status mapping and the CsrAttrs convention are in docs/internals/est.md.
 *
 * Everything a CA sends is outside input: bodies are at most
 * SIGNET_HTTP_BODY_MAX bytes (signet-http.c), the CsrAttrs parser is bounded
 * and fuzzable (signet_est_csr_attrs_parse()), and the CA's text goes into
 * messages only as one printable line of at most CA_TEXT_MAX characters.
 */
#include "config.h"

#include "enroll/signet-est.h"
#include "enroll/signet-http.h"
#include "enroll/signet-enroll-private.h"

#include "enroll/signet-curl.h"
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <string.h>

/* Defaults of SignetEstConfig, seconds. */
#define DEFAULT_CONNECT_TIMEOUT 15
#define DEFAULT_TIMEOUT         120
/* Retry-After: when missing or unreadable, and the bounds of what we keep. */
#define RETRY_AFTER_DEFAULT 60
#define RETRY_AFTER_MIN     1
#define RETRY_AFTER_MAX     (7 * 24 * 3600)
/* The CA's text in a message: characters of its first line. */
#define CA_TEXT_MAX 200

struct _SignetEst
{
  char *url; /* without a trailing '/' */
  char *host;
  char *trust_anchors;
  guint connect_timeout;
  guint timeout;
  guint tls_max_version;
  char *username; /* /csrattrs, /simpleenroll */
  SignetSecret *password;
  char *reenroll_username; /* /simplereenroll, besides the client identity */
  SignetSecret *reenroll_password;
  X509 *client_cert;
  EVP_PKEY *client_key;
};

/* Indexed by SignetEstOperation (signet-http.h). */
static const char *const op_paths[]
    = { "/cacerts", "/csrattrs", "/simpleenroll", "/simplereenroll" };

/* ---- SignetEst --------------------------------------------------------- */

SignetEst *
signet_est_new(const SignetEstConfig *config, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(SignetEst) est = NULL;
  const char *host;

  g_return_val_if_fail(config != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (config->url == NULL || *config->url == '\0') {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                        "The CA profile has no URL: add e.g. "
                        "url = https://ca.example/.well-known/est");
    return NULL;
  }
  uri = g_uri_parse(config->url, G_URI_FLAGS_NONE, &local);
  if (uri == NULL || g_ascii_strcasecmp(g_uri_get_scheme(uri), "https") != 0) {
    g_autofree char *shown = g_strndup(config->url, 200);

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "The CA's URL '%s' is not an https:// URL: Signet talks to a CA over verified "
                "TLS only; ask your CA for the right profile",
                shown);
    return NULL;
  }
  host = g_uri_get_host(uri);
  if (host == NULL || *host == '\0' || g_uri_get_userinfo(uri) != NULL
      || g_uri_get_query(uri) != NULL || g_uri_get_fragment(uri) != NULL) {
    g_autofree char *shown = g_strndup(config->url, 200);

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "The CA's URL '%s' must be https://HOST[:PORT]/PATH, with no user name, query "
                "or fragment: ask your CA for the right profile",
                shown);
    return NULL;
  }
  if (config->trust_anchors != NULL) {
    g_autofree char *contents = NULL;
    g_autoptr(GPtrArray) certs = NULL;
    gsize len = 0;

    if (!g_file_get_contents(config->trust_anchors, &contents, &len, &local)) {
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                  "The CA profile's trust anchor file cannot be read: %s", local->message);
      return NULL;
    }
    certs = len <= SIGNET_CERTFILE_MAX
                ? signet_certfile_parse((const guint8 *)contents, len, &local)
                : NULL;
    if (certs == NULL || strstr(contents, "-----BEGIN ") == NULL) {
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                  "The CA profile's trust anchor file %s is not a PEM file of certificates%s%s",
                  config->trust_anchors, local != NULL ? ": " : "",
                  local != NULL ? local->message : "");
      return NULL;
    }
  }

  est = g_new0(SignetEst, 1);
  est->url = g_strdup(config->url);
  while (g_str_has_suffix(est->url, "/"))
    est->url[strlen(est->url) - 1] = '\0';
  est->host = g_strdup(host);
  est->trust_anchors = g_strdup(config->trust_anchors);
  est->connect_timeout
      = config->connect_timeout != 0 ? config->connect_timeout : DEFAULT_CONNECT_TIMEOUT;
  est->timeout = config->timeout != 0 ? config->timeout : DEFAULT_TIMEOUT;
  return g_steal_pointer(&est);
}

void
signet_est_free(SignetEst *est)
{
  if (est == NULL)
    return;
  g_free(est->url);
  g_free(est->host);
  g_free(est->trust_anchors);
  g_free(est->username);
  signet_secret_free(est->password);
  g_free(est->reenroll_username);
  signet_secret_free(est->reenroll_password);
  X509_free(est->client_cert);
  EVP_PKEY_free(est->client_key);
  g_free(est);
}

void
signet_est_set_basic_auth(SignetEst *est, const char *username, const SignetSecret *password)
{
  g_return_if_fail(est != NULL);

  g_clear_pointer(&est->username, g_free);
  g_clear_pointer(&est->password, signet_secret_free);
  if (username == NULL || password == NULL)
    return;
  est->username = g_strdup(username);
  est->password
      = signet_secret_new(signet_secret_get_data(password), signet_secret_get_len(password));
}

void
signet_est_set_reenroll_auth(SignetEst *est, const char *username, const SignetSecret *password)
{
  g_return_if_fail(est != NULL);

  g_clear_pointer(&est->reenroll_username, g_free);
  g_clear_pointer(&est->reenroll_password, signet_secret_free);
  if (username == NULL || password == NULL)
    return;
  est->reenroll_username = g_strdup(username);
  est->reenroll_password
      = signet_secret_new(signet_secret_get_data(password), signet_secret_get_len(password));
}

gboolean
signet_est_set_client_identity(SignetEst *est, X509 *cert, EVP_PKEY *key, GError **error)
{
  g_return_val_if_fail(est != NULL, FALSE);
  g_return_val_if_fail(cert != NULL && key != NULL, FALSE);

  ERR_clear_error();
  if (X509_check_private_key(cert, key) != 1) {
    g_autofree char *reason = signet_openssl_error_text();

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                "The certificate to renew with does not belong to its key (%s)", reason);
    return FALSE;
  }
  X509_up_ref(cert);
  EVP_PKEY_up_ref(key);
  X509_free(est->client_cert);
  EVP_PKEY_free(est->client_key);
  est->client_cert = cert;
  est->client_key = key;
  return TRUE;
}

void
signet_est_set_tls_max_version(SignetEst *est, guint version)
{
  g_return_if_fail(est != NULL);
  g_return_if_fail(version == 0 || version == 12 || version == 13);
  est->tls_max_version = version;
}

void
signet_est_result_free(SignetEstResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer(&result->certs, g_ptr_array_unref);
  g_clear_pointer(&result->retry_at, g_date_time_unref);
  g_free(result->message);
  g_free(result);
}

/* ---- HTTP ---------------------------------------------------------------- */

/* Sends one EST request, with the credentials of @op: Basic
 * pre-emptively; when the CA answers 401 with a Digest challenge, once
 * more with libcurl's Digest. @out_sent: what went, in the end. */
static SignetHttpResponse *
est_request(SignetEst *est, SignetEstOperation op, GBytes *body, SignetEstAuthSent *out_sent,
            GError **error)
{
  static const char *const pkcs10_headers[]
      = { "Content-Type: application/pkcs10", "Content-Transfer-Encoding: base64", NULL };
  g_autofree char *url = g_strconcat(est->url, op_paths[op], NULL);
  SignetHttpRequest request = {
    .method = body != NULL ? "POST" : "GET",
    .url = url,
    .trust_anchors = est->trust_anchors,
    .connect_timeout = est->connect_timeout,
    .timeout = est->timeout,
    .body = body,
    .headers = body != NULL ? pkcs10_headers : NULL,
    .tls_max_version = est->tls_max_version,
  };

  SignetHttpResponse *response;
  /* /csrattrs before a renewal (no holder's code, a client identity) is
   * asked as /simplereenroll is. */
  gboolean as_renewal
      = op == SIGNET_EST_OP_REENROLL
        || (op == SIGNET_EST_OP_CSRATTRS && est->password == NULL && est->client_cert != NULL);

  if ((op == SIGNET_EST_OP_CSRATTRS || op == SIGNET_EST_OP_ENROLL) && est->password != NULL) {
    request.username = est->username;
    request.password = est->password;
  }
  if (as_renewal) {
    request.client_cert = est->client_cert;
    request.client_key = est->client_key;
    if (est->reenroll_password != NULL) {
      request.username = est->reenroll_username;
      request.password = est->reenroll_password;
    }
  }
  *out_sent = request.password != NULL ? SIGNET_EST_SENT_BASIC : SIGNET_EST_SENT_NONE;
  response = signet_http_request(&request, error);
  if (response != NULL && response->status == 401 && request.password != NULL
      && (signet_http_response_auth_schemes(response) & SIGNET_HTTP_AUTH_DIGEST) != 0) {
    g_debug("%s: HTTP 401 with a Digest challenge: once more with Digest", op_paths[op]);
    g_clear_pointer(&response, signet_http_response_free);
    request.digest = TRUE;
    *out_sent = SIGNET_EST_SENT_DIGEST;
    response = signet_http_request(&request, error);
  }
  return response;
}

/* What the CA's WWW-Authenticate headers ask for, for a message:
 * "HTTP Digest authentication", ...; NULL when there was no challenge. */
static char *
wanted_auth(const SignetHttpResponse *response)
{
  SignetHttpAuthSchemes schemes = signet_http_response_auth_schemes(response);

  if ((schemes & SIGNET_HTTP_AUTH_BASIC) != 0 && (schemes & SIGNET_HTTP_AUTH_DIGEST) != 0)
    return g_strdup("HTTP Basic or Digest authentication");
  if ((schemes & SIGNET_HTTP_AUTH_DIGEST) != 0)
    return g_strdup("HTTP Digest authentication");
  if ((schemes & SIGNET_HTTP_AUTH_BASIC) != 0)
    return g_strdup("HTTP Basic authentication");
  if (schemes != 0) {
    /* The first challenge's scheme, as the CA wrote it, cut after 40
     * characters (not bytes: a message is UTF-8). */
    const char *value = response->www_authenticate[0];
    g_autofree char *scheme = g_strndup(value, strcspn(value, " \t,"));
    g_autofree char *shown = signet_enroll_printable_text(scheme, 40);

    return g_strdup_printf("HTTP authentication of a kind Signet does not support (\"%s\")", shown);
  }
  return NULL;
}

/* TRUE when the CA challenges only for schemes Signet does not speak. */
static gboolean
wants_only_other(const SignetHttpResponse *response)
{
  return signet_http_response_auth_schemes(response) == SIGNET_HTTP_AUTH_OTHER;
}

/* Tags out of an HTML page, so that its text can be read. */
static char *
strip_tags(const char *text)
{
  GString *out = g_string_new(NULL);
  gboolean in_tag = FALSE;

  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '<')
      in_tag = TRUE;
    else if (*p == '>' && in_tag) {
      in_tag = FALSE;
      g_string_append_c(out, '\n');
    } else if (!in_tag)
      g_string_append_c(out, *p);
  }
  return g_string_free(out, FALSE);
}

/* The CA's text: the first non-empty line of a textual answer, printable,
 * at most CA_TEXT_MAX characters; NULL if there is none. */
static char *
ca_text(const SignetHttpResponse *response)
{
  gsize len = 0;
  const char *data = g_bytes_get_data(response->body, &len);
  g_autofree char *text = NULL;
  g_autofree char *valid = NULL;
  g_auto(GStrv) lines = NULL;
  const char *type = response->content_type;

  if (len == 0)
    return NULL;
  /* A binary answer (PKCS#7, ASN.1) has no text for a holder. */
  if (type != NULL && !g_str_has_prefix(type, "text/") && strstr(type, "json") == NULL
      && strstr(type, "html") == NULL)
    return NULL;
  text = g_strndup(data, MIN(len, (gsize)16384));
  if (type != NULL && strstr(type, "html") != NULL) {
    char *stripped = strip_tags(text);

    g_free(text);
    text = stripped;
  }
  valid = g_utf8_make_valid(text, -1);
  lines = g_strsplit_set(valid, "\r\n", -1);
  for (char **line = lines; *line != NULL; line++) {
    g_strstrip(*line);
    if (**line != '\0')
      return signet_enroll_printable_text(*line, CA_TEXT_MAX);
  }
  return NULL;
}

/* " The CA said: \"TEXT\"." or "". */
static char *
ca_said(const char *text)
{
  return text != NULL ? g_strdup_printf(" The CA said: \"%s\".", text) : g_strdup("");
}

/* An HTTP status other than the expected ones, as the contract in
 * signet-est.h says. */
static void
set_status_error(const char *url, SignetEstOperation op, const SignetHttpResponse *response,
                 SignetEstAuthSent sent, GError **error)
{
  long status = response->status;
  g_autofree char *text = ca_text(response);
  g_autofree char *said = ca_said(text);
  /* What the CA's challenge (WWW-Authenticate) asks for, if it sent one. */
  g_autofree char *wanted = status == 401 ? wanted_auth(response) : NULL;

  if (status == 401 && wanted != NULL && wants_only_other(response)) {
    /* Nothing the holder can type in will help. */
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                "The CA wants %s for %s (HTTP 401): ask your CA for a profile Signet can use.%s",
                wanted, op_paths[op], said);
    return;
  }
  if (status == 401 && (op == SIGNET_EST_OP_ENROLL || op == SIGNET_EST_OP_CSRATTRS)
      && sent != SIGNET_EST_SENT_NONE) {
    g_autofree char *lower = text != NULL ? g_utf8_strdown(text, -1) : NULL;

    if (lower != NULL && strstr(lower, "expired") != NULL)
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_EXPIRED,
                  "The activation code has expired. Ask your CA for a new one.%s", said);
    else if (wanted != NULL)
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED,
                  "The CA wants %s and did not accept the reference number and activation code "
                  "(unknown or already used; sent with HTTP %s). Check them, or ask your CA for "
                  "a new activation code.%s",
                  wanted, sent == SIGNET_EST_SENT_DIGEST ? "Digest" : "Basic", said);
    else
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED,
                  "The CA did not accept the reference number and activation code (unknown or "
                  "already used). Check them, or ask your CA for a new activation code.%s",
                  said);
    return;
  }
  if (status == 401 && op == SIGNET_EST_OP_REENROLL && wanted != NULL) {
    /* A challenge: the CA wants HTTP credentials besides the certificate. */
    if (sent == SIGNET_EST_SENT_NONE)
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "The CA wants %s for renewal, besides the current certificate, and the "
                  "profile gives no credentials for it (HTTP 401): ask your CA for a profile "
                  "with [est] reenroll-username and reenroll-password.%s",
                  wanted, said);
    else
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "The CA wants %s for renewal and did not accept the profile's credentials "
                  "([est] reenroll-username and reenroll-password, sent with HTTP %s; HTTP "
                  "401): ask your CA for an up-to-date profile.%s",
                  wanted, sent == SIGNET_EST_SENT_DIGEST ? "Digest" : "Basic", said);
    return;
  }
  if (status == 401 && op == SIGNET_EST_OP_REENROLL) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                "The CA did not accept the current certificate for renewal (HTTP 401). If it "
                "has expired or was revoked, activate the token again with a new activation "
                "code from your CA.%s",
                said);
    return;
  }
  if (status == 400 || status == 401 || status == 403) {
    if (text != NULL)
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "The CA refused the request: %s (HTTP %ld)", text, status);
    else
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "The CA refused the request (HTTP %ld) without saying why: ask your CA", status);
    return;
  }
  if (status == 404) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "There is no EST service at %s%s (HTTP 404): check the profile's URL, or ask "
                "your CA for the right profile",
                url, op_paths[op]);
    return;
  }
  if (status >= 500 || status == 429) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_UNAVAILABLE,
                "The CA is unavailable (HTTP %ld). Try again later.%s", status, said);
    return;
  }
  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
              "The CA answered %s with HTTP %ld, which is not what an EST server says: check "
              "the profile's URL, or ask your CA.%s",
              op_paths[op], status, said);
}

/* Certificates from an answer (base64 PKCS#7 certs-only, RFC 7030 4.1.3
 * and 4.2.3; any certificate file format is taken). */
static GPtrArray *
parse_certs(const SignetHttpResponse *response, SignetEstOperation op, GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data(response->body, &len);
  g_autoptr(GError) local = NULL;
  GPtrArray *certs;

  /* Loosely: EST says application/pkcs7-mime, but what counts is the body. */
  if (response->content_type != NULL && strstr(response->content_type, "pkcs7") == NULL)
    g_debug("%s: Content-Type %s, not application/pkcs7-mime", op_paths[op],
            response->content_type);
  certs = len > 0 ? signet_certfile_parse(data, len, &local) : NULL;
  if (certs == NULL) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The CA's answer to %s is not the certificates EST sends (%s%s%s): check the "
                "profile's URL, or ask your CA",
                op_paths[op], local != NULL ? local->message : "an empty answer",
                response->content_type != NULL ? ", Content-Type " : "",
                response->content_type != NULL ? response->content_type : "");
    return NULL;
  }
  return certs;
}

GPtrArray *
signet_est_get_cacerts(SignetEst *est, GError **error)
{
  g_autoptr(SignetHttpResponse) response = NULL;
  g_autoptr(SignetEstResult) result = NULL;
  SignetEstAuthSent sent = SIGNET_EST_SENT_NONE;

  g_return_val_if_fail(est != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  response = est_request(est, SIGNET_EST_OP_CACERTS, NULL, &sent, error);
  if (response == NULL)
    return NULL;
  result = signet_est_answer_parse(est->url, SIGNET_EST_OP_CACERTS, response, sent, NULL, error);
  return result != NULL ? g_steal_pointer(&result->certs) : NULL;
}

/* ---- /csrattrs (the parser: signet-est-csrattrs.c) ------------------------ */

SignetEstCsrAttrs *
signet_est_get_csr_attrs(SignetEst *est, GError **error)
{
  g_autoptr(SignetHttpResponse) response = NULL;
  SignetEstAuthSent sent = SIGNET_EST_SENT_NONE;

  g_return_val_if_fail(est != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  response = est_request(est, SIGNET_EST_OP_CSRATTRS, NULL, &sent, error);
  if (response == NULL)
    return NULL;
  return signet_est_csr_attrs_answer_parse(est->url, response, sent, error);
}

SignetEstCsrAttrs *
signet_est_csr_attrs_answer_parse(const char *url, const SignetHttpResponse *response,
                                  SignetEstAuthSent sent, GError **error)
{
  gsize len = 0;
  const guint8 *data;

  g_return_val_if_fail(url != NULL && response != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (response->status == 204 || response->status == 404) {
    SignetEstCsrAttrs *attrs = g_new0(SignetEstCsrAttrs, 1);

    attrs->oids = g_new0(char *, 1);
    return attrs;
  }
  if (response->status != 200) {
    set_status_error(url, SIGNET_EST_OP_CSRATTRS, response, sent, error);
    return NULL;
  }
  data = g_bytes_get_data(response->body, &len);
  return signet_est_csr_attrs_parse(data, len, error);
}

/* ---- /simpleenroll, /simplereenroll --------------------------------------- */

/* Seconds from now that a Retry-After value (delta-seconds or an HTTP
 * date) asks for, within [RETRY_AFTER_MIN, RETRY_AFTER_MAX]. */
static gint64
retry_after_seconds(const char *value, GDateTime *now)
{
  gint64 seconds = RETRY_AFTER_DEFAULT;
  guint64 number = 0;

  if (value == NULL || *value == '\0')
    return RETRY_AFTER_DEFAULT;
  if (g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &number, NULL))
    seconds = (gint64)MIN(number, (guint64)RETRY_AFTER_MAX);
  else {
    /* An HTTP-date: libcurl is loaded, the answer came through it. */
    time_t when = signet_curl_load(NULL) ? curl_getdate(value, NULL) : -1;

    if (when == -1)
      return RETRY_AFTER_DEFAULT;
    seconds = (gint64)when - g_date_time_to_unix(now);
  }
  return CLAMP(seconds, RETRY_AFTER_MIN, RETRY_AFTER_MAX);
}

static SignetEstResult *
enroll(SignetEst *est, SignetEstOperation op, const char *csr_pem, GError **error)
{
  g_autoptr(BIO) bio = NULL;
  g_autoptr(X509_REQ) req = NULL;
  g_autoptr(SignetHttpResponse) response = NULL;
  SignetEstAuthSent sent = SIGNET_EST_SENT_NONE;
  g_autofree unsigned char *der = NULL;
  g_autofree char *b64 = NULL;
  GString *wrapped;
  g_autoptr(GBytes) body = NULL;
  int der_len;
  gsize b64_len;

  ERR_clear_error();
  bio = BIO_new_mem_buf(csr_pem, -1);
  req = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
  if (req == NULL) {
    g_autofree char *reason = signet_openssl_error_text();

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                "The certificate request is not a PEM PKCS#10 request (%s)", reason);
    return NULL;
  }
  der_len = i2d_X509_REQ(req, &der);
  if (der_len <= 0) {
    g_autofree char *reason = signet_openssl_error_text();

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                "The certificate request cannot be encoded (%s)", reason);
    return NULL;
  }
  /* Base64 in lines of 64 characters (RFC 7030 4.2.1; RFC 2045 wants at
   * most 76). */
  b64 = g_base64_encode(der, (gsize)der_len);
  b64_len = strlen(b64);
  wrapped = g_string_sized_new(b64_len + b64_len / 64 + 2);
  for (gsize i = 0; i < b64_len; i += 64) {
    g_string_append_len(wrapped, b64 + i, (gssize)MIN((gsize)64, b64_len - i));
    g_string_append(wrapped, "\r\n");
  }
  body = g_string_free_to_bytes(wrapped);

  response = est_request(est, op, body, &sent, error);
  if (response == NULL)
    return NULL;
  return signet_est_answer_parse(est->url, op, response, sent, NULL, error);
}

SignetEstResult *
signet_est_answer_parse(const char *url, SignetEstOperation op, const SignetHttpResponse *response,
                        SignetEstAuthSent sent, GDateTime *now, GError **error)
{
  g_autoptr(SignetEstResult) result = NULL;

  g_return_val_if_fail(url != NULL && response != NULL, NULL);
  g_return_val_if_fail(op == SIGNET_EST_OP_CACERTS || op == SIGNET_EST_OP_ENROLL
                           || op == SIGNET_EST_OP_REENROLL,
                       NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  result = g_new0(SignetEstResult, 1);
  if (response->status == 200) {
    result->status = SIGNET_EST_ISSUED;
    result->certs = parse_certs(response, op, error);
    if (result->certs == NULL)
      return NULL;
    return g_steal_pointer(&result);
  }
  if (response->status == 202 && op != SIGNET_EST_OP_CACERTS) {
    g_autoptr(GDateTime) utc = now != NULL ? g_date_time_to_utc(now) : g_date_time_new_now_utc();
    gint64 seconds = retry_after_seconds(response->retry_after, utc);

    result->status = SIGNET_EST_PENDING;
    result->retry_at = g_date_time_add_seconds(utc, (gdouble)seconds);
    result->message = ca_text(response);
    g_debug("%s: pending, Retry-After %s: in %" G_GINT64_FORMAT " s", op_paths[op],
            response->retry_after != NULL ? response->retry_after : "(none)", seconds);
    return g_steal_pointer(&result);
  }
  set_status_error(url, op, response, sent, error);
  return NULL;
}

SignetEstResult *
signet_est_simple_enroll(SignetEst *est, const char *csr_pem, GError **error)
{
  g_return_val_if_fail(est != NULL && csr_pem != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  return enroll(est, SIGNET_EST_OP_ENROLL, csr_pem, error);
}

SignetEstResult *
signet_est_simple_reenroll(SignetEst *est, const char *csr_pem, GError **error)
{
  g_return_val_if_fail(est != NULL && csr_pem != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (est->client_cert == NULL) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "Renewal is authenticated with the current certificate and its key, and "
                        "none was given: renew a token that holds a valid certificate, or "
                        "activate it again with a new activation code");
    return NULL;
  }
  return enroll(est, SIGNET_EST_OP_REENROLL, csr_pem, error);
}

SignetEstResult *
signet_est_poll_reenroll(SignetEst *est, const char *csr_pem, GError **error)
{
  g_return_val_if_fail(est != NULL && csr_pem != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  return enroll(est, SIGNET_EST_OP_REENROLL, csr_pem, error);
}
