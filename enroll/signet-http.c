/* signet-http.c: see signet-http.h. */
#include "config.h"

#include "enroll/signet-http.h"
#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"

#include "enroll/signet-curl.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURL, curl_easy_cleanup)

/* Longest header value kept (Retry-After is a date at most). */
#define HEADER_VALUE_MAX 256
/* Longest WWW-Authenticate value kept (a Digest challenge's nonce and
 * opaque can be long; only the schemes are read from it). */
#define CHALLENGE_MAX 1024
/* Longest piece of outside text (a URL, curl's detail) put in a message. */
#define MESSAGE_PART_MAX 200

/* ---- locked memory for the Authorization header ------------------------ */

typedef struct
{
  gsize size;
  gboolean locked;
  char *data;
} LockedBuf;

/* signet_http_set_unreachable(): port 1 on the loopback is closed. */
static gint unreachable;
static struct curl_slist unreachable_list[] = { { (char *)"::127.0.0.1:1", NULL } };

void
signet_http_set_unreachable(gboolean value)
{
  g_atomic_int_set(&unreachable, value ? 1 : 0);
}

static LockedBuf *
locked_buf_new(gsize size)
{
  LockedBuf *buf = g_new0(LockedBuf, 1);

  buf->size = size;
  buf->data = g_malloc0(size);
  /* Best effort, as SignetSecret: wiped on free either way. */
  buf->locked = mlock(buf->data, size) == 0;
#ifdef MADV_DONTDUMP
  {
    long page = sysconf(_SC_PAGESIZE);
    guintptr start = (guintptr)buf->data & ~((guintptr)page - 1);
    guintptr end = ((guintptr)buf->data + size + page - 1) & ~((guintptr)page - 1);

    (void)madvise((void *)start, end - start, MADV_DONTDUMP);
  }
#endif
  return buf;
}

static void
locked_buf_free(LockedBuf *buf)
{
  if (buf == NULL)
    return;
  explicit_bzero(buf->data, buf->size);
  if (buf->locked)
    munlock(buf->data, buf->size);
  g_free(buf->data);
  g_free(buf);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LockedBuf, locked_buf_free)

/* "Authorization: Basic base64(user:password)", NUL-terminated, built in
 * locked memory without a plain-text copy of the password anywhere. */
static LockedBuf *
basic_auth_header(const char *username, const SignetSecret *password)
{
  static const char prefix[] = "Authorization: Basic ";
  gsize user_len = strlen(username);
  gsize pass_len = signet_secret_get_len(password);
  /* g_base64_encode_step() needs (len / 3 + 1) * 4 + 4 per call, close 5. */
  gsize size = sizeof prefix + (user_len / 3 + 1) * 4 + 4 + (1 / 3 + 1) * 4 + 4
               + (pass_len / 3 + 1) * 4 + 4 + 5;
  LockedBuf *buf = locked_buf_new(size);
  char *out = buf->data;
  int state = 0, save = 0;

  memcpy(out, prefix, sizeof prefix - 1);
  out += sizeof prefix - 1;
  out += g_base64_encode_step((const guchar *)username, user_len, FALSE, out, &state, &save);
  out += g_base64_encode_step((const guchar *)":", 1, FALSE, out, &state, &save);
  out += g_base64_encode_step(signet_secret_get_data(password), pass_len, FALSE, out, &state,
                              &save);
  out += g_base64_encode_close(FALSE, out, &state, &save);
  *out = '\0';
  g_assert((gsize)(out - buf->data) < size);
  /* g_base64_encode_step() keeps up to two input bytes in @save. */
  explicit_bzero(&save, sizeof save);
  return buf;
}

/* ---- helpers --------------------------------------------------------- */

struct _SignetHttpConnections
{
  CURLSH *share;
};

SignetHttpConnections *
signet_http_connections_new(void)
{
  SignetHttpConnections *connections = g_new0(SignetHttpConnections, 1);

  /* libcurl not there: no cache, and the request says why. */
  if (signet_curl_load(NULL))
    connections->share = curl_share_init();
  if (connections->share != NULL
      && curl_share_setopt(connections->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT)
             != CURLSHE_OK)
    g_clear_pointer(&connections->share, curl_share_cleanup);
  /* Without a cache each request has its own connection, as without. */
  return connections;
}

void
signet_http_connections_free(SignetHttpConnections *connections)
{
  if (connections == NULL)
    return;
  g_clear_pointer(&connections->share, curl_share_cleanup);
  g_free(connections);
}

/* Outside text for a message: valid UTF-8, printable characters only, at
 * most @max characters. */
static char *
printable(const char *text, gsize max)
{
  return signet_enroll_printable_text(text != NULL ? text : "", max);
}

char *
signet_http_url_host(const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
  const char *host = uri != NULL ? g_uri_get_host(uri) : NULL;

  return host != NULL && *host != '\0' ? g_strdup(host) : NULL;
}

/* "HOST:PORT" of an https URL for messages (the port 443 when the URL
 * names none; an IPv6 address in brackets), or NULL. */
static char *
url_host_port(const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
  const char *host = uri != NULL ? g_uri_get_host(uri) : NULL;
  int port = uri != NULL ? g_uri_get_port(uri) : -1;

  if (host == NULL || *host == '\0')
    return NULL;
  if (port < 0)
    port = 443;
  if (strchr(host, ':') != NULL)
    return g_strdup_printf("[%s]:%d", host, port);
  return g_strdup_printf("%s:%d", host, port);
}

SignetHttpResponse *
signet_http_response_new(long status, const char *content_type, const char *retry_after,
                         const char *const *www_authenticate, GBytes *body)
{
  SignetHttpResponse *response = g_new0(SignetHttpResponse, 1);
  g_autoptr(GPtrArray) challenges = g_ptr_array_new();

  response->status = status;
  response->body = body != NULL ? g_bytes_ref(body) : g_bytes_new(NULL, 0);
  if (content_type != NULL) {
    g_autofree char *value = g_strstrip(g_strdup(content_type));

    response->content_type = printable(value, HEADER_VALUE_MAX);
  }
  if (retry_after != NULL) {
    g_autofree char *value = g_strstrip(g_strdup(retry_after));

    response->retry_after = printable(value, HEADER_VALUE_MAX);
  }
  for (guint i = 0; www_authenticate != NULL && www_authenticate[i] != NULL
                    && challenges->len < SIGNET_HTTP_CHALLENGES_MAX;
       i++) {
    g_autofree char *value = g_strstrip(g_strdup(www_authenticate[i]));

    g_ptr_array_add(challenges, printable(value, CHALLENGE_MAX));
  }
  g_ptr_array_add(challenges, NULL);
  response->www_authenticate = (GStrv)g_ptr_array_free(g_steal_pointer(&challenges), FALSE);
  return response;
}

void
signet_http_response_free(SignetHttpResponse *response)
{
  if (response == NULL)
    return;
  g_bytes_unref(response->body);
  g_free(response->content_type);
  g_free(response->retry_after);
  g_strfreev(response->www_authenticate);
  g_free(response);
}

/* ---- one transfer ---------------------------------------------------- */

typedef struct
{
  GByteArray *body;
  gboolean too_large;
  char *retry_after;
  GPtrArray *challenges; /* WWW-Authenticate values */
  /* TLS client authentication */
  X509 *client_cert;
  EVP_PKEY *client_key;
  char *client_error; /* why the client identity could not be used */
  /* curl called on_ssl_ctx_cb: the TCP connection (through a proxy's
   * tunnel, if any) was up and the TLS handshake began. curl 7.88 leaves
   * CURLINFO_CONNECT_TIME at 0 until the TLS handshake is done too, so it
   * cannot tell a server that never accepted from one that stalls TLS. */
  gboolean tls_started;
} Transfer;

static size_t
on_write_cb(char *data, size_t size, size_t nmemb, void *user_data)
{
  Transfer *t = user_data;
  gsize len = size * nmemb;

  if (len > SIGNET_HTTP_BODY_MAX || t->body->len + len > SIGNET_HTTP_BODY_MAX) {
    t->too_large = TRUE;
    return 0;
  }
  g_byte_array_append(t->body, (const guint8 *)data, (guint)len);
  return len;
}

static size_t
on_header_cb(char *data, size_t size, size_t nmemb, void *user_data)
{
  Transfer *t = user_data;
  gsize len = size * nmemb;
  static const char name[] = "retry-after:";
  static const char challenge[] = "www-authenticate:";

  /* A new answer (after "100 Continue", a proxy's CONNECT, or the 401 that
   * libcurl answers with Digest): only the final one counts, its headers
   * and its body. */
  if (len >= 5 && g_ascii_strncasecmp(data, "HTTP/", 5) == 0) {
    g_clear_pointer(&t->retry_after, g_free);
    g_ptr_array_set_size(t->challenges, 0);
    g_byte_array_set_size(t->body, 0);
  } else if (len > sizeof name - 1 && g_ascii_strncasecmp(data, name, sizeof name - 1) == 0) {
    g_autofree char *value = g_strndup(data + sizeof name - 1, len - (sizeof name - 1));

    g_free(t->retry_after);
    t->retry_after = g_steal_pointer(&value);
  } else if (len > sizeof challenge - 1
             && g_ascii_strncasecmp(data, challenge, sizeof challenge - 1) == 0
             && t->challenges->len < SIGNET_HTTP_CHALLENGES_MAX) {
    g_autofree char *value = g_strndup(data + sizeof challenge - 1, len - (sizeof challenge - 1));

    g_ptr_array_add(t->challenges, g_steal_pointer(&value));
  }
  return len;
}

/* RFC 9110 5.6.2: tchar. */
static gboolean
is_tchar(char c)
{
  return g_ascii_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The schemes in one WWW-Authenticate value: a list of challenges, each
 * "SCHEME [token68 | param=value, ...]", where a quoted value may hold
 * commas. An element that is a token not followed by '=' is a scheme. */
static SignetHttpAuthSchemes
challenge_schemes(const char *value)
{
  SignetHttpAuthSchemes schemes = 0;
  const char *p = value;

  while (*p != '\0') {
    const char *token;
    gsize token_len;

    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    token = p;
    while (is_tchar(*p))
      p++;
    token_len = (gsize)(p - token);
    while (*p == ' ' || *p == '\t')
      p++;
    if (token_len > 0 && *p != '=') {
      /* A scheme; what follows it needs no comma. */
      if (token_len == 5 && g_ascii_strncasecmp(token, "Basic", 5) == 0)
        schemes |= SIGNET_HTTP_AUTH_BASIC;
      else if (token_len == 6 && g_ascii_strncasecmp(token, "Digest", 6) == 0)
        schemes |= SIGNET_HTTP_AUTH_DIGEST;
      else
        schemes |= SIGNET_HTTP_AUTH_OTHER;
      continue;
    }
    /* A parameter, a token68 or junk: on to the next comma outside quotes. */
    while (*p != '\0' && *p != ',') {
      if (*p == '"') {
        for (p++; *p != '\0' && *p != '"'; p++)
          if (*p == '\\' && p[1] != '\0')
            p++;
        if (*p == '\0')
          break;
      }
      p++;
    }
  }
  return schemes;
}

SignetHttpAuthSchemes
signet_http_response_auth_schemes(const SignetHttpResponse *response)
{
  SignetHttpAuthSchemes schemes = 0;

  g_return_val_if_fail(response != NULL, 0);
  for (char **v = response->www_authenticate; v != NULL && *v != NULL; v++)
    schemes |= challenge_schemes(*v);
  return schemes;
}

/* curl calls this with its SSL_CTX before each TLS handshake, once the
 * connection below it is up. */
static CURLcode
on_ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *user_data)
{
  Transfer *t = user_data;
  SSL_CTX *ctx = ssl_ctx;

  t->tls_started = TRUE;
  if (t->client_cert == NULL)
    return CURLE_OK;
  ERR_clear_error();
  if (SSL_CTX_use_certificate(ctx, t->client_cert) != 1
      || SSL_CTX_use_PrivateKey(ctx, t->client_key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    g_free(t->client_error);
    t->client_error = signet_openssl_error_text();
    return CURLE_SSL_CERTPROBLEM;
  }
  return CURLE_OK;
}

static gboolean
is_verification_error(CURLcode code)
{
  return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE
         || code == CURLE_SSL_ISSUER_ERROR || code == CURLE_SSL_PINNEDPUBKEYNOTMATCH
         || code == CURLE_SSL_INVALIDCERTSTATUS;
}

/* TRUE if the server ended the handshake over our client certificate (a
 * TLS alert; in TLS 1.3 it arrives after the client's handshake is done,
 * as a read error). */
static gboolean
is_client_certificate_alert(const char *detail)
{
  static const char *const alerts[] = {
    "alert unknown ca",
    "alert bad certificate",
    "alert certificate required",
    "alert certificate expired",
    "alert certificate revoked",
    "alert certificate unknown",
    "alert unsupported certificate",
    "alert access denied",
  };

  for (gsize i = 0; i < G_N_ELEMENTS(alerts); i++)
    if (strstr(detail, alerts[i]) != NULL)
      return TRUE;
  return FALSE;
}

/* A transport failure as a message a holder can act on. */
static void
set_transfer_error(GError **error, CURL *curl, CURLcode code, const char *errbuf,
                   const SignetHttpRequest *request, const Transfer *t)
{
  g_autofree char *host = signet_http_url_host(request->url);
  g_autofree char *detail
      = printable(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(code), MESSAGE_PART_MAX);
  g_autofree char *where = url_host_port(request->url);
  curl_off_t appconnect_time = 0;
  long os_errno = 0;
  long status = 0;
  guint setup_limit;

  if (host == NULL)
    host = g_strdup(request->url);
  if (where == NULL)
    where = g_strdup(host);
  if (request->client_cert != NULL
      && (code == CURLE_SSL_CONNECT_ERROR || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR)
      && is_client_certificate_alert(detail)) {
    /* As a 401 on /simplereenroll: the current certificate is not accepted. */
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                "The CA's server at %s did not accept the current certificate (%s). If it has "
                "expired or was revoked, activate the token again with a new activation code "
                "from your CA.",
                host, detail);
    return;
  }
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_RESOLVE,
                  "Cannot find the CA's server %s: check your network connection or the "
                  "profile's URL",
                  host);
      return;
    case CURLE_COULDNT_RESOLVE_PROXY:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_RESOLVE,
                  "Cannot find the proxy server on the way to the CA (%s): check your network "
                  "connection or the proxy setting (https_proxy)",
                  detail);
      return;
    case CURLE_COULDNT_CONNECT:
      curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno == ECONNREFUSED)
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT,
                    "The CA's server at %s refused the connection (%s): nothing takes "
                    "connections on that port; check the profile's URL and your proxy setting "
                    "(https_proxy), or try again later if the CA is down",
                    where, detail);
      else
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT,
                    "Cannot connect to the CA's server at %s (%s): check your network "
                    "connection and proxy setting, or try again later if the CA is down",
                    where, detail);
      return;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT,
                  "The connection to the CA's server %s broke (%s): check your network "
                  "connection and try again",
                  host, detail);
      return;
    case CURLE_OPERATION_TIMEDOUT:
      /* While connecting, the connect timeout or the whole request's
       * timeout ends it, whichever is shorter. */
      setup_limit = MIN(request->connect_timeout, request->timeout);
      curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &appconnect_time);
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      if (appconnect_time > 0 && status > 0)
        /* The answer began and never ended: a CA dribbling it out (a slow
         * loris) ends here, at the request's own timeout. */
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TIMEOUT,
                    "The CA's server at %s began to answer but did not finish within %u s "
                    "(bytes received: %u): it may be overloaded, or something on the way holds "
                    "the connection; try again later, or tell your CA if this goes on",
                    where, request->timeout, t->body->len);
      else if (appconnect_time > 0)
        /* TLS was set up and the request went out (or was going out). */
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TIMEOUT,
                    "The CA's server at %s took the request but did not answer within %u s: "
                    "it may be overloaded; try again later, or tell your CA if this goes on",
                    where, request->timeout);
      else if (t->tls_started)
        /* Nothing was sent: CONNECT, not TIMEOUT (the CA cannot have acted
         * on a request it never got). */
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT,
                    "The CA's server at %s accepted the connection but did not complete the "
                    "TLS handshake within %u s: the server is overloaded or something between "
                    "you and it (a proxy, a firewall) holds the connection; try again later, "
                    "or tell your CA",
                    where, setup_limit);
      else
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT,
                    "The CA's server at %s did not accept a connection within %u s: it is "
                    "down or unreachable, or a firewall drops the connection; check your "
                    "network connection and proxy setting (https_proxy), or try again later",
                    where, setup_limit);
      return;
    case CURLE_SSL_CERTPROBLEM:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                  "The current certificate and its key could not be used to log in to the CA's "
                  "server at %s (%s)",
                  host, t->client_error != NULL ? t->client_error : detail);
      return;
    case CURLE_PARTIAL_FILE:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                  "The CA's answer was cut short (%s): try again", detail);
      return;
    case CURLE_GOT_NOTHING:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                  "The CA's server %s closed the connection without answering: try again later",
                  host);
      return;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      if (code == CURLE_FILESIZE_EXCEEDED || t->too_large) {
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                    "The answer from %s is larger than %d KiB, far more than a CA sends: check "
                    "the profile's URL",
                    host, SIGNET_HTTP_BODY_MAX / 1024);
        return;
      }
      break;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                  "The server at %s did not answer as an HTTPS server does (%s): check the "
                  "profile's URL",
                  host, detail);
      return;
    default:
      break;
  }
  if (is_verification_error(code)) {
    if (strstr(detail, "host name") != NULL || strstr(detail, "hostname") != NULL)
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                  "The CA's server at %s could not be verified (%s): its certificate is for "
                  "another name — do not continue on an untrusted connection; check the "
                  "profile's URL, or ask your CA for the right profile",
                  host, detail);
    else if (request->trust_anchors != NULL)
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                  "The CA's server at %s could not be verified (%s): the profile's trust "
                  "anchors (%s) do not match this server — do not continue on an untrusted "
                  "connection; ask your CA for the right profile",
                  host, detail, request->trust_anchors);
    else
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                  "The CA's server at %s could not be verified (%s): no certificate authority "
                  "this system trusts vouches for it — do not continue on an untrusted "
                  "connection; ask your CA for the right profile",
                  host, detail);
    return;
  }
  if (code == CURLE_SSL_CONNECT_ERROR && strstr(detail, "wrong version number") != NULL) {
    /* What came back was not TLS: plain HTTP, or another protocol. */
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                "The server at %s does not speak TLS (%s): the profile's URL names the wrong "
                "port or a server without HTTPS; check it, or ask your CA for the right profile",
                where, detail);
    return;
  }
  if (code == CURLE_SSL_CONNECT_ERROR
      && (strstr(detail, "SSL_ERROR_SYSCALL") != NULL
          || strstr(detail, "Connection reset by peer") != NULL)) {
    /* The server closed the connection in the middle of the handshake (a
     * FIN: SSL_ERROR_SYSCALL; a close with our hello unread: a reset):
     * no connection (CONNECT, "try later"), not an untrusted one. */
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT,
                "The CA's server at %s closed the connection during the TLS handshake (%s): it "
                "may be overloaded, or something between you and it (a proxy, a firewall) cut "
                "it; try again later, or tell your CA",
                where, detail);
    return;
  }
  if (code == CURLE_SSL_CONNECT_ERROR || code == CURLE_SSL_CIPHER
      || code == CURLE_SSL_ENGINE_INITFAILED || code == CURLE_USE_SSL_FAILED
      || code == CURLE_SSL_SHUTDOWN_FAILED) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                "A secure connection to the CA's server at %s could not be set up (%s): do not "
                "continue on an untrusted connection; check the profile's URL or ask your CA",
                host, detail);
    return;
  }
  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
              "Talking to the CA's server %s failed (%s; curl error %d)", host, detail, (int)code);
}

/* Options that must be set; a libcurl without them cannot be used safely. */
#define SETOPT(curl, option, value)                                                                \
  G_STMT_START                                                                                     \
  {                                                                                                \
    CURLcode setopt_rc = curl_easy_setopt(curl, option, value);                                    \
    if (setopt_rc != CURLE_OK) {                                                                   \
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,                          \
                  "libcurl refused the option %s (%s): it may be too old or built without "        \
                  "OpenSSL",                                                                       \
                  #option, curl_easy_strerror(setopt_rc));                                         \
      goto out;                                                                                    \
    }                                                                                              \
  }                                                                                                \
  G_STMT_END

SignetHttpResponse *
signet_http_request(const SignetHttpRequest *request, GError **error)
{
  g_autoptr(CURL) curl = NULL;
  g_autoptr(LockedBuf) auth = NULL;
  g_autoptr(LockedBuf) digest_password = NULL;
  struct curl_slist *headers = NULL;
  struct curl_slist auth_node = { 0 };
  struct curl_slist *first = NULL;
  char errbuf[CURL_ERROR_SIZE] = "";
  Transfer t = { 0 };
  SignetHttpResponse *response = NULL;
  g_autoptr(GBytes) body = NULL;
  CURLcode rc;
  long ssl_version = CURL_SSLVERSION_TLSv1_2;
  long status = 0;
  char *content_type = NULL;

  g_return_val_if_fail(request != NULL && request->url != NULL, NULL);
  g_return_val_if_fail((request->username == NULL) == (request->password == NULL), NULL);
  g_return_val_if_fail((request->client_cert == NULL) == (request->client_key == NULL), NULL);

  if (!signet_curl_load(error))
    return NULL;
  curl = curl_easy_init();
  if (curl == NULL) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "libcurl could not be initialised (out of memory?)");
    return NULL;
  }
  t.body = g_byte_array_new();
  t.challenges = g_ptr_array_new_with_free_func(g_free);
  t.client_cert = request->client_cert;
  t.client_key = request->client_key;

  /* Headers: the caller's, no "Expect: 100-continue", and the credentials
   * in a list node of our own pointing at locked memory, so that
   * curl_slist_append() makes no copy of them. */
  headers = curl_slist_append(NULL, "Expect:");
  for (const char *const *h = request->headers; h != NULL && *h != NULL; h++)
    headers = curl_slist_append(headers, *h);
  first = headers;
  if (request->password != NULL && !request->digest) {
    auth = basic_auth_header(request->username, request->password);
    auth_node.data = auth->data;
    auth_node.next = headers;
    first = &auth_node;
  } else if (request->password != NULL) {
    /* Digest is libcurl's: it wants the password as a C string, which we
     * build in locked memory; libcurl copies it (strdup) into the handle,
     * and that copy, and the hashes it computes from it, are freed
     * without being wiped when the handle goes. */
    gsize len = signet_secret_get_len(request->password);

    if (memchr(signet_secret_get_data(request->password), '\0', len) != NULL) {
      g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                          "The password holds a NUL byte and cannot be sent with HTTP Digest");
      goto out;
    }
    digest_password = locked_buf_new(len + 1);
    memcpy(digest_password->data, signet_secret_get_data(request->password), len);
  }

  SETOPT(curl, CURLOPT_URL, request->url);
  SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
  SETOPT(curl, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  SETOPT(curl, CURLOPT_PROTOCOLS_STR, "https");
  SETOPT(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
  SETOPT(curl, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
  SETOPT(curl, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
  SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);
  if (g_atomic_int_get(&unreachable))
    SETOPT(curl, CURLOPT_CONNECT_TO, unreachable_list);
  SETOPT(curl, CURLOPT_USERAGENT, "Signet/" PACKAGE_VERSION);
  SETOPT(curl, CURLOPT_CONNECTTIMEOUT, (long)request->connect_timeout);
  SETOPT(curl, CURLOPT_TIMEOUT, (long)request->timeout);
  /* TLS: always verified, peer and host name; nothing turns it off. */
  SETOPT(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  SETOPT(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (request->trust_anchors != NULL) {
    /* The profile's anchors only: not the system's directory as well. */
    SETOPT(curl, CURLOPT_CAINFO, request->trust_anchors);
    SETOPT(curl, CURLOPT_CAPATH, NULL);
  }
  if (request->tls_max_version == 12)
    ssl_version |= CURL_SSLVERSION_MAX_TLSv1_2;
  else if (request->tls_max_version == 13)
    ssl_version |= CURL_SSLVERSION_MAX_TLSv1_3;
  SETOPT(curl, CURLOPT_SSLVERSION, ssl_version);
  /* Always: it also tells a stalled TLS handshake from no connection. */
  SETOPT(curl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx_cb);
  SETOPT(curl, CURLOPT_SSL_CTX_DATA, &t);
  SETOPT(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SIGNET_HTTP_BODY_MAX);
  SETOPT(curl, CURLOPT_WRITEFUNCTION, on_write_cb);
  SETOPT(curl, CURLOPT_WRITEDATA, &t);
  SETOPT(curl, CURLOPT_HEADERFUNCTION, on_header_cb);
  SETOPT(curl, CURLOPT_HEADERDATA, &t);
  SETOPT(curl, CURLOPT_HTTPHEADER, first);
  if (request->connections != NULL && request->connections->share != NULL)
    SETOPT(curl, CURLOPT_SHARE, request->connections->share);
  if (digest_password != NULL) {
    SETOPT(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
    SETOPT(curl, CURLOPT_USERNAME, request->username);
    SETOPT(curl, CURLOPT_PASSWORD, digest_password->data);
  }
  if (g_strcmp0(request->method, "POST") == 0) {
    gsize len = 0;
    const void *data = request->body != NULL ? g_bytes_get_data(request->body, &len) : "";

    SETOPT(curl, CURLOPT_POST, 1L);
    SETOPT(curl, CURLOPT_POSTFIELDS, data);
    SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  } else {
    SETOPT(curl, CURLOPT_HTTPGET, 1L);
  }

  g_debug("%s %s%s", request->method, request->url,
          digest_password != NULL ? " (HTTP Digest)" : "");
  ERR_clear_error();
  rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    long fresh = -1;

    /* A kept connection was up, TLS and all: what failed on it failed
     * after the request went out. */
    if (request->connections != NULL
        && curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &fresh) == CURLE_OK && fresh == 0)
      t.tls_started = TRUE;
    set_transfer_error(error, curl, rc, errbuf, request, &t);
    g_debug("%s %s: curl error %d (%s)", request->method, request->url, (int)rc, errbuf);
    ERR_clear_error();
    goto out;
  }
  ERR_clear_error();
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  g_debug("%s %s: HTTP %ld, %u bytes", request->method, request->url, status, t.body->len);
  if (status >= 300 && status < 400) {
    char *location = NULL;
    g_autofree char *host = signet_http_url_host(request->url);
    g_autofree char *where = NULL;

    curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
    where = printable(location != NULL ? location : "(nowhere)", MESSAGE_PART_MAX);
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The CA's server %s answered with a redirect (HTTP %ld) to %s, which Signet does "
                "not follow: check the profile's URL, or ask your CA for the right profile",
                host != NULL ? host : request->url, status, where);
    goto out;
  }
  if (status < 100 || status > 599) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The CA's server answered with an impossible HTTP status (%ld)", status);
    goto out;
  }

  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
  g_ptr_array_add(t.challenges, NULL);
  body = g_byte_array_free_to_bytes(g_steal_pointer(&t.body));
  response = signet_http_response_new(status, content_type, t.retry_after,
                                      (const char *const *)t.challenges->pdata, body);

out:
  /* The handle first: it points at the headers. Then only our list:
   * auth_node lives on the stack, its data in @auth (wiped on return). */
  g_clear_pointer(&curl, curl_easy_cleanup);
  curl_slist_free_all(headers);
  if (t.body != NULL)
    g_byte_array_unref(t.body);
  g_free(t.retry_after);
  if (t.challenges != NULL)
    g_ptr_array_unref(t.challenges);
  g_free(t.client_error);
  return response;
}
