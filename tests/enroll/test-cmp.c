/* test-cmp.c: the CMP connector (enroll/signet-cmp-connector.c) through
 * the seam, against a real CMP peer: OpenSSL's mock server
 * (`openssl cmp -port 0 -srv_ref … -srv_secret … -rsp_cert …`, which
 * answers one fixed certificate), behind a TLS relay this program runs
 * (the product speaks https only; the mock speaks plain HTTP).
 *
 * The request's key is on a throwaway SoftHSM2 token, generated and bound
 * to OpenSSL by Signet's token layer (pkcs11/, signet_p11_*) as the agent
 * hands it over; the fixed certificate the mock
 * answers is issued (by `openssl x509 -req`) for that key's request, since
 * OpenSSL's client checks that the certificate holds the key.
 *
 * The relay can also answer by itself (garbage, HTTP 503) for the
 * answers the mock never gives. Every mock and the relay are local; no
 * check depends on time but retry_at, compared with the clock read
 * around the call.
 */
#include "config.h"

#include "common/signet-openssl-util.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-x509.h"
#include "pkcs11/signet-p11.h"
#include "tests/testutil/signet-test-util.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Throwaway test token and test codes only. */
#define PIN       "123456"
#define SO_PIN    "12345678"
#define REFERENCE "REF-4711"
#define CODE      "K7-Q2-ZP"

typedef enum
{
  RELAY_FORWARD, /* to the mock */
  RELAY_GARBAGE, /* 200 application/pkixcmp, not a PKIMessage */
  RELAY_503,     /* 503 text/plain */
} RelayMode;

typedef struct
{
  GSubprocess *proc;
  GThread *drain;
  guint port;
} Mock;

static struct
{
  char *dir;
  char *root;       /* ca.pem: issues the leaf and the relay's TLS certificate */
  char *other_root; /* a root that issued nothing here */
  char *issued;     /* the certificate the mocks answer */
  char *csr_pem;
  const char *module;
  SignetP11Context *p11;
  SignetP11Session *session; /* logged in; outlives key */
  EVP_PKEY *key;             /* on the token, bound to session */
  X509 *issued_cert;
  /* The relay. */
  int listen_fd;
  int stop[2];
  guint relay_port;
  SSL_CTX *tls;
  GThread *relay;
  gint mode;        /* RelayMode */
  gint target_port; /* the mock it forwards to */
  gint connections; /* TLS connections it accepted */
  Mock plain;       /* -srv_secret: MAC-protected answers */
  Mock waiting;     /* the same, answering "waiting" first */
  Mock signing;     /* no secret: signed answers (kur) */
} rig;

/* ---- tools ------------------------------------------------------------ */

static void
run(const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_true(g_spawn_sync(rig.dir, (char **)argv, NULL,
                             G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                             &err, &status, &error));
  g_assert_no_error(error);
  if (!g_spawn_check_wait_status(status, NULL))
    g_error("%s failed: %s", argv[0], err);
}

static void
on_child_setup(gpointer data)
{
  /* The mock goes when this program goes, even when an assertion aborts. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gpointer
drain(gpointer data)
{
  GInputStream *in = data;
  char buf[4096];

  while (g_input_stream_read(in, buf, sizeof buf, NULL, NULL) > 0)
    ;
  g_object_unref(in);
  return NULL;
}

/* openssl cmp -port 0 … EXTRA…: started once it accepts connections. */
static void
mock_start(Mock *mock, const char *const *extra)
{
  g_autoptr(GSubprocessLauncher) launcher
      = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  const char *base[] = { "openssl", "cmp", "-port", "0", "-rsp_cert", rig.issued, NULL };

  for (const char *const *a = base; *a != NULL; a++)
    g_ptr_array_add(argv, (gpointer)*a);
  for (const char *const *a = extra; *a != NULL; a++)
    g_ptr_array_add(argv, (gpointer)*a);
  g_ptr_array_add(argv, NULL);
  g_subprocess_launcher_set_cwd(launcher, rig.dir);
  g_subprocess_launcher_set_child_setup(launcher, on_child_setup, NULL, NULL);
  mock->proc = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
  g_assert_no_error(error);
  in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(mock->proc));
  g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(in), FALSE);
  /* It says "ACCEPT [::]:PORT PID=…" once it listens, or dies. */
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line(in, NULL, NULL, &error);
    const char *colon;

    g_assert_no_error(error);
    if (line == NULL)
      g_error("openssl cmp -port 0 did not start");
    if (!g_str_has_prefix(line, "ACCEPT "))
      continue;
    colon = strstr(line, "]:");
    g_assert_nonnull(colon);
    mock->port = (guint)g_ascii_strtoull(colon + 2, NULL, 10);
    g_assert_cmpuint(mock->port, >, 0);
    break;
  }
  mock->drain = g_thread_new("drain", drain, g_object_ref(G_INPUT_STREAM(in)));
}

static void
mock_stop(Mock *mock)
{
  if (mock->proc == NULL)
    return;
  g_subprocess_send_signal(mock->proc, SIGTERM);
  g_subprocess_wait(mock->proc, NULL, NULL);
  g_thread_join(mock->drain);
  g_clear_object(&mock->proc);
}

/* ---- the TLS relay -------------------------------------------------------- */

/* Reads one HTTP request (headers and Content-Length body) from @ssl. */
static gboolean
read_request(SSL *ssl)
{
  GString *in = g_string_new(NULL);
  char buf[4096];
  gboolean ok = FALSE;

  for (;;) {
    int n = SSL_read(ssl, buf, sizeof buf);
    const char *end, *length;

    if (n <= 0)
      break;
    g_string_append_len(in, buf, n);
    end = strstr(in->str, "\r\n\r\n");
    if (end == NULL)
      continue;
    length = g_strstr_len(in->str, end - in->str, "Content-Length:");
    if (length == NULL
        || (gsize)(end + 4 - in->str) + g_ascii_strtoull(length + 15, NULL, 10) <= in->len) {
      ok = TRUE;
      break;
    }
  }
  g_string_free(in, TRUE);
  return ok;
}

static void
answer_by_itself(SSL *ssl, RelayMode mode)
{
  const char *garbage = "HTTP/1.1 200 OK\r\nContent-Type: application/pkixcmp\r\n"
                        "Content-Length: 11\r\nConnection: close\r\n\r\nnot a PKIMsg";
  const char *unavailable = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 5\r\nConnection: close\r\n\r\nlater";
  const char *text = mode == RELAY_GARBAGE ? garbage : unavailable;

  if (read_request(ssl))
    (void)SSL_write(ssl, text, (int)strlen(text));
}

/* Copies both ways between @ssl and the mock until either side closes. */
static void
forward(SSL *ssl, int client)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  int mock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  char buf[16384];

  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((guint16)g_atomic_int_get(&rig.target_port));
  if (mock < 0 || connect(mock, (struct sockaddr *)&addr, sizeof addr) != 0) {
    if (mock >= 0)
      close(mock);
    return;
  }
  for (;;) {
    struct pollfd fds[2] = { { client, POLLIN, 0 }, { mock, POLLIN, 0 } };
    ssize_t n;

    if (SSL_pending(ssl) == 0 && poll(fds, 2, -1) < 0)
      break;
    if (SSL_pending(ssl) > 0 || (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      int got = SSL_read(ssl, buf, sizeof buf);

      if (got <= 0) {
        if (SSL_get_error(ssl, got) == SSL_ERROR_WANT_READ)
          continue;
        break;
      }
      if (write(mock, buf, (size_t)got) != got)
        break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      n = read(mock, buf, sizeof buf);
      if (n <= 0 || SSL_write(ssl, buf, (int)n) != (int)n)
        break;
    }
  }
  close(mock);
}

static gpointer
relay_main(gpointer data)
{
  for (;;) {
    struct pollfd fds[2] = { { rig.listen_fd, POLLIN, 0 }, { rig.stop[0], POLLIN, 0 } };
    int client;
    SSL *ssl;

    if (poll(fds, 2, -1) < 0 || fds[1].revents != 0)
      break;
    client = accept(rig.listen_fd, NULL, NULL);
    if (client < 0)
      continue;
    g_atomic_int_inc(&rig.connections);
    ssl = SSL_new(rig.tls);
    SSL_set_fd(ssl, client);
    if (SSL_accept(ssl) == 1) {
      RelayMode mode = g_atomic_int_get(&rig.mode);

      if (mode == RELAY_FORWARD)
        forward(ssl, client);
      else
        answer_by_itself(ssl, mode);
      (void)SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(client);
    ERR_clear_error();
  }
  return NULL;
}

static void
relay_start(void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  g_autofree char *cert = g_build_filename(rig.dir, "tls.pem", NULL);
  g_autofree char *key = g_build_filename(rig.dir, "tls.key", NULL);

  rig.tls = SSL_CTX_new(TLS_server_method());
  g_assert_nonnull(rig.tls);
  g_assert_cmpint(SSL_CTX_use_certificate_chain_file(rig.tls, cert), ==, 1);
  g_assert_cmpint(SSL_CTX_use_PrivateKey_file(rig.tls, key, SSL_FILETYPE_PEM), ==, 1);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rig.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint(rig.listen_fd, >=, 0);
  g_assert_cmpint(bind(rig.listen_fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint(listen(rig.listen_fd, 8), ==, 0);
  g_assert_cmpint(getsockname(rig.listen_fd, (struct sockaddr *)&addr, &len), ==, 0);
  rig.relay_port = ntohs(addr.sin_port);
  g_assert_cmpint(pipe(rig.stop), ==, 0);
  rig.relay = g_thread_new("relay", relay_main, NULL);
}

static void
relay_stop(void)
{
  if (rig.relay == NULL)
    return;
  g_assert_cmpint(write(rig.stop[1], "x", 1), ==, 1);
  g_thread_join(rig.relay);
  close(rig.stop[0]);
  close(rig.stop[1]);
  close(rig.listen_fd);
  SSL_CTX_free(rig.tls);
}

/* ---- helpers ------------------------------------------------------------- */

static SignetProfile *
profile_new(guint port, const char *anchors)
{
  SignetProfile *profile = g_new0(SignetProfile, 1);

  profile->name = g_strdup("test-cmp");
  profile->display_name = g_strdup("Test CMP CA");
  profile->protocol = g_strdup("cmp");
  profile->url = g_strdup_printf("https://127.0.0.1:%u/pkix/", port);
  profile->trust_anchors = g_strdup(anchors);
  profile->connect_timeout = 5;
  profile->timeout = 30;
  return profile;
}

/* Sends the token key's request through a connector for the relay (with
 * the relay forwarding to @mock, or answering as @mode says). */
static SignetAnswer *
enroll_with(Mock *mock, RelayMode mode, const char *reference, const char *code, EVP_PKEY *key,
            GError **error)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_port, rig.root);
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, error);
  g_autoptr(SignetSecret) secret = signet_secret_new(code, strlen(code));
  SignetConnectorCode holder = { reference, secret, "0a" };

  g_assert_nonnull(connector);
  g_atomic_int_set(&rig.target_port, mock != NULL ? (gint)mock->port : 1);
  g_atomic_int_set(&rig.mode, mode);
  return signet_connector_enroll(connector, &holder, rig.csr_pem, key, error);
}

/* The issued answer holds the mock's certificate and what came with it. */
static void
check_issued(SignetAnswer *answer)
{
  gboolean leaf = FALSE, root = FALSE;
  g_autoptr(BIO) bio = BIO_new_file(rig.root, "r");
  X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);

  g_assert_nonnull(answer);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_nonnull(answer->certs);
  for (guint i = 0; i < answer->certs->len; i++) {
    X509 *cert = g_ptr_array_index(answer->certs, i);

    if (X509_cmp(cert, rig.issued_cert) == 0) {
      leaf = TRUE;
      g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(cert), rig.key), ==, 1);
    }
    if (X509_cmp(cert, ca) == 0)
      root = TRUE;
  }
  g_assert_true(leaf);
  /* extraCerts and caPubs (the same root, once). */
  g_assert_true(root);
  g_assert_cmpuint(answer->certs->len, ==, 2);
  X509_free(ca);
}

/* ---- the tests ------------------------------------------------------------ */

/* An ir with the MAC from the reference and the code (typed with spaces
 * around it), POP signed on the token, certConf: issued. */
static void
test_enroll(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  gint before = g_atomic_int_get(&rig.connections);

  answer = enroll_with(&rig.plain, RELAY_FORWARD, REFERENCE, "  " CODE "\n", rig.key, &error);
  g_assert_no_error(error);
  check_issued(answer);
  /* ir/ip and certConf/pkiConf over one kept connection. */
  g_assert_cmpint(g_atomic_int_get(&rig.connections) - before, ==, 1);
}

/* ca_certs: the profile's anchors and what the last answer carried. */
static void
test_ca_certs(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_port, rig.root);
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull(connector);
  certs = signet_connector_ca_certs(connector, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(certs->len, ==, 1);
  g_clear_pointer(&certs, g_ptr_array_unref);

  /* Without anchors there is nothing to name: refused in words. */
  g_clear_pointer(&profile->trust_anchors, g_free);
  g_clear_pointer(&connector, signet_connector_free);
  connector = signet_connector_new(profile, &error);
  g_assert_no_error(error);
  certs = signet_connector_ca_certs(connector, &error);
  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
}

/* The MAC does not verify at the CA: the mock says badRequest, "wrong
 * pbm value", in an error message it cannot protect with the holder's
 * code (accepted unprotected, RFC 9483 3.6.4). */
static void
test_wrong_code(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer
      = enroll_with(&rig.plain, RELAY_FORWARD, REFERENCE, "K7-Q2-ZX", rig.key, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED);
  g_assert_nonnull(strstr(error->message, "\"wrong pbm value\""));
}

typedef struct
{
  const char *failure; /* the failInfo bit the mock answers */
  const char *text;    /* its statusString */
  int code;            /* SIGNET_ENROLL_ERROR_… */
  const char *words;   /* in the message */
} Rejection;

static const Rejection rejections[] = {
  { "1", "wrong activation code", SIGNET_ENROLL_ERROR_CODE_REJECTED, "wrong activation code" },
  { "2", "unknown or already used activation code", SIGNET_ENROLL_ERROR_CODE_REJECTED,
    "unknown, already used" },
  { "3", "activation code expired", SIGNET_ENROLL_ERROR_CODE_EXPIRED, "has expired" },
  { "9", "bad POP\x01\x7f", SIGNET_ENROLL_ERROR_REFUSED, "failInfo badPOP" },
};

/* A rejection (PKIStatus 2) with each failInfo: the error code, the
 * words, and the CA's text kept, printable. */
static void
test_rejection(gconstpointer data)
{
  const Rejection *r = data;
  Mock mock = { 0 };
  const char *args[] = { "-srv_ref", REFERENCE,  "-srv_secret",   "pass:" CODE, "-srv_cert",
                         "ca.pem",   "-srv_key", "ca.key",        "-pkistatus", "2",
                         "-failure", r->failure, "-statusstring", r->text,      NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  g_autofree char *printable = g_strndup(r->text, strcspn(r->text, "\x01"));

  mock_start(&mock, args);
  answer = enroll_with(&mock, RELAY_FORWARD, REFERENCE, CODE, rig.key, &error);
  mock_stop(&mock);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, r->code);
  g_assert_nonnull(strstr(error->message, r->words));
  g_assert_nonnull(strstr(error->message, printable));
  g_assert_null(strchr(error->message, '\x01'));
  g_assert_null(strchr(error->message, '\x7f'));
}

/* The request's key is needed for the proof of possession. */
static void
test_no_key(void)
{
  g_autoptr(GError) error = NULL;
  gint before = g_atomic_int_get(&rig.connections);
  g_autoptr(SignetAnswer) answer
      = enroll_with(&rig.plain, RELAY_FORWARD, REFERENCE, CODE, NULL, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
  g_assert_cmpint(g_atomic_int_get(&rig.connections), ==, before);
}

static void
test_garbage(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer
      = enroll_with(NULL, RELAY_GARBAGE, REFERENCE, CODE, rig.key, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_assert_nonnull(strstr(error->message, "not a CMP message"));
}

static void
test_unavailable(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = enroll_with(NULL, RELAY_503, REFERENCE, CODE, rig.key, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_UNAVAILABLE);
  g_assert_nonnull(strstr(error->message, "HTTP 503"));
}

/* Nothing listens: CONNECT, as signet-http says it. */
static void
test_refused(void)
{
  g_autoptr(SignetProfile) profile = profile_new(1, rig.root);
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autoptr(SignetSecret) secret = signet_secret_new(CODE, strlen(CODE));
  SignetConnectorCode holder = { REFERENCE, secret, "0a" };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer
      = signet_connector_enroll(connector, &holder, rig.csr_pem, rig.key, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT);
}

/* The relay's certificate does not chain to the profile's anchors. */
static void
test_untrusted(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_port, rig.other_root);
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autoptr(SignetSecret) secret = signet_secret_new(CODE, strlen(CODE));
  SignetConnectorCode holder = { REFERENCE, secret, "0a" };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;

  g_atomic_int_set(&rig.target_port, (gint)rig.plain.port);
  g_atomic_int_set(&rig.mode, RELAY_FORWARD);
  answer = signet_connector_enroll(connector, &holder, rig.csr_pem, rig.key, &error);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS);
}

/* The test-only knob: every connection to a closed port, then back. */
static void
test_unreachable(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  gint before = g_atomic_int_get(&rig.connections);

  signet_connector_set_unreachable(TRUE);
  answer = enroll_with(&rig.plain, RELAY_FORWARD, REFERENCE, CODE, rig.key, &error);
  signet_connector_set_unreachable(FALSE);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT);
  g_assert_cmpint(g_atomic_int_get(&rig.connections), ==, before);
  g_clear_error(&error);

  answer = enroll_with(&rig.plain, RELAY_FORWARD, REFERENCE, CODE, rig.key, &error);
  g_assert_no_error(error);
  check_issued(answer);
}

/* "waiting", then a pollRep with checkAfter 7: pending, to ask again in
 * 7 s (against the clock read around the call); nothing to keep. */
static void
test_pending(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  g_autoptr(GDateTime) before = g_date_time_new_now_utc();
  g_autoptr(GDateTime) after = NULL;

  answer = enroll_with(&rig.waiting, RELAY_FORWARD, REFERENCE, CODE, rig.key, &error);
  after = g_date_time_new_now_utc();
  g_assert_no_error(error);
  g_assert_nonnull(answer);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_PENDING);
  g_assert_null(answer->certs);
  g_assert_null(answer->poll_state);
  g_assert_cmpint(g_date_time_to_unix(answer->retry_at), >=, g_date_time_to_unix(before) + 7);
  g_assert_cmpint(g_date_time_to_unix(answer->retry_at), <=, g_date_time_to_unix(after) + 7);
}

/* The background poll of a renewal has no key: REFUSED (the agent then
 * leaves it to the holder), without a word to the CA. */
static void
test_poll_without_identity(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_port, rig.root);
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  SignetConnectorPoll poll = { .csr_pem = rig.csr_pem, .renewal = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  gint before = g_atomic_int_get(&rig.connections);

  answer = signet_connector_poll(connector, &poll, &error);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_cmpint(g_atomic_int_get(&rig.connections), ==, before);
}

/* A kur signed with the current certificate's key on the token (a
 * renewal that keeps the key), answered by a signing mock whose
 * signature is checked against the profile's anchors. */
static void
test_reenroll(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_port, rig.root);
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  SignetConnectorIdentity identity = { rig.issued_cert, rig.key };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;

  g_atomic_int_set(&rig.target_port, (gint)rig.signing.port);
  g_atomic_int_set(&rig.mode, RELAY_FORWARD);
  answer = signet_connector_reenroll(connector, &identity, rig.csr_pem, rig.key, &error);
  g_assert_no_error(error);
  g_assert_nonnull(answer);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_true(X509_cmp(g_ptr_array_index(answer->certs, 0), rig.issued_cert) == 0);
}

/* ---- the rig -------------------------------------------------------------- */

static gboolean
setup(void)
{
  g_autofree char *openssl = g_find_program_in_path("openssl");
  g_autofree char *ext = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) pin = signet_secret_new(PIN, strlen(PIN));
  g_autoptr(SignetP11Token) token = NULL;
  g_autoptr(GPtrArray) pairs = NULL;
  g_autoptr(GBytes) id = NULL;

  rig.module = g_getenv("SOFTHSM2_MODULE") != NULL ? g_getenv("SOFTHSM2_MODULE")
                                                   : "/usr/lib/softhsm/libsofthsm2.so";
  if (!g_file_test(rig.module, G_FILE_TEST_EXISTS) || openssl == NULL) {
    /* Under automake's TAP driver a skip is a plan of 0. */
    g_print("1..0 # SKIP SoftHSM2 or openssl is not installed\n");
    return FALSE;
  }
  rig.dir = signet_test_softhsm_dir("signet-test-cmp");
  rig.root = g_build_filename(rig.dir, "ca.pem", NULL);
  rig.other_root = g_build_filename(rig.dir, "other.pem", NULL);
  rig.issued = g_build_filename(rig.dir, "issued.pem", NULL);
  ext = g_build_filename(rig.dir, "tls.ext", NULL);
  g_file_set_contents(ext, "subjectAltName = IP:127.0.0.1\n", -1, &error);
  g_assert_no_error(error);

  {
    const char *root[] = {
      "openssl", "req",     "-x509",  "-newkey", "ec",     "-pkeyopt", "ec_paramgen_curve:P-256",
      "-nodes",  "-keyout", "ca.key", "-out",    "ca.pem", "-subj",    "/CN=Signet CMP Test Root",
      "-days",   "30",      NULL
    };
    const char *other[] = { "openssl",
                            "req",
                            "-x509",
                            "-newkey",
                            "ec",
                            "-pkeyopt",
                            "ec_paramgen_curve:P-256",
                            "-nodes",
                            "-keyout",
                            "other.key",
                            "-out",
                            "other.pem",
                            "-subj",
                            "/CN=Some Other Root",
                            "-days",
                            "30",
                            NULL };
    const char *tls_req[] = {
      "openssl", "req",     "-new",    "-newkey", "ec",      "-pkeyopt", "ec_paramgen_curve:P-256",
      "-nodes",  "-keyout", "tls.key", "-out",    "tls.csr", "-subj",    "/CN=127.0.0.1",
      NULL
    };
    const char *tls[]
        = { "openssl", "x509", "-req",    "-in",   "tls.csr", "-CA",      "ca.pem",  "-CAkey",
            "ca.key",  "-out", "tls.pem", "-days", "30",      "-extfile", "tls.ext", NULL };

    run(root);
    run(other);
    run(tls_req);
    run(tls);
    signet_test_softhsm_init_token("CMP Test", PIN, SO_PIN);
  }

  /* An EC P-256 key pair generated on the token, its private key bound to
   * OpenSSL: every private operation (the request, POP, a kur's
   * protection) is C_Sign on the token. */
  rig.p11 = signet_p11_context_new(rig.module, SIGNET_P11_UNBLOCK_UNKNOWN, &error);
  g_assert_no_error(error);
  token = signet_p11_context_find_token(rig.p11, "CMP Test", &error);
  g_assert_no_error(error);
  rig.session = signet_p11_session_open(rig.p11, token, &error);
  g_assert_no_error(error);
  g_assert_true(signet_p11_session_login(rig.session, pin, FALSE, &error));
  g_assert_no_error(error);
  g_assert_true(signet_p11_session_generate_key_pair(rig.session, SIGNET_P11_KEY_EC_P256, "cmp",
                                                     &id, &error));
  g_assert_no_error(error);
  pairs = signet_p11_session_list_key_pairs(rig.session, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 1);
  rig.key = signet_p11_session_get_private_key(rig.session, id, &error);
  g_assert_no_error(error);
  g_assert_nonnull(rig.key);

  /* The request, signed on the token, and the certificate for it. */
  {
    EVP_PKEY *pub = signet_p11_session_get_public_key(rig.session, id, &error);
    g_autofree char *csr_path = g_build_filename(rig.dir, "request.pem", NULL);
    const char *issue[]
        = { "openssl", "x509",   "-req", "-in",        "request.pem", "-CA", "ca.pem",
            "-CAkey",  "ca.key", "-out", "issued.pem", "-days",       "10",  NULL };
    g_autoptr(BIO) bio = NULL;

    g_assert_no_error(error);
    g_assert_nonnull(pub);
    rig.csr_pem = signet_csr_build_pem(rig.key, pub, "CN=Jan Kowalski,O=Example", &error);
    g_assert_no_error(error);
    EVP_PKEY_free(pub);
    g_file_set_contents(csr_path, rig.csr_pem, -1, &error);
    g_assert_no_error(error);
    run(issue);
    bio = BIO_new_file(rig.issued, "r");
    rig.issued_cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    g_assert_nonnull(rig.issued_cert);
  }

  {
    const char *plain[]
        = { "-srv_ref",    REFERENCE,  "-srv_secret", "pass:" CODE,      "-srv_cert",
            "ca.pem",      "-srv_key", "ca.key",      "-rsp_extracerts", "ca.pem",
            "-rsp_capubs", "ca.pem",   NULL };
    const char *waiting[] = { "-srv_ref",     REFERENCE,  "-srv_secret", "pass:" CODE,  "-srv_cert",
                              "ca.pem",       "-srv_key", "ca.key",      "-poll_count", "3",
                              "-check_after", "7",        NULL };
    const char *signing[]
        = { "-srv_cert", "ca.pem", "-srv_key", "ca.key", "-srv_trusted", "ca.pem", NULL };

    mock_start(&rig.plain, plain);
    mock_start(&rig.waiting, waiting);
    mock_start(&rig.signing, signing);
  }
  relay_start();
  return TRUE;
}

static void
teardown(void)
{
  relay_stop();
  mock_stop(&rig.plain);
  mock_stop(&rig.waiting);
  mock_stop(&rig.signing);
  /* The key before the session it is bound to, the session before its
   * context. */
  EVP_PKEY_free(rig.key);
  X509_free(rig.issued_cert);
  g_clear_pointer(&rig.session, signet_p11_session_free);
  g_clear_pointer(&rig.p11, signet_p11_context_free);
  if (rig.dir != NULL)
    signet_test_remove_tree(rig.dir);
  g_free(rig.dir);
  g_free(rig.root);
  g_free(rig.other_root);
  g_free(rig.issued);
  g_free(rig.csr_pem);
}

int
main(int argc, char **argv)
{
  int ret;

  g_test_init(&argc, &argv, NULL);
  if (!setup())
    return 0;
  g_test_add_func("/cmp/enroll", test_enroll);
  g_test_add_func("/cmp/ca-certs", test_ca_certs);
  g_test_add_func("/cmp/wrong-code", test_wrong_code);
  g_test_add_data_func("/cmp/rejection/bad-message-check", &rejections[0], test_rejection);
  g_test_add_data_func("/cmp/rejection/bad-request", &rejections[1], test_rejection);
  g_test_add_data_func("/cmp/rejection/bad-time", &rejections[2], test_rejection);
  g_test_add_data_func("/cmp/rejection/bad-pop", &rejections[3], test_rejection);
  g_test_add_func("/cmp/no-key", test_no_key);
  g_test_add_func("/cmp/garbage", test_garbage);
  g_test_add_func("/cmp/unavailable", test_unavailable);
  g_test_add_func("/cmp/refused", test_refused);
  g_test_add_func("/cmp/untrusted", test_untrusted);
  g_test_add_func("/cmp/unreachable", test_unreachable);
  g_test_add_func("/cmp/pending", test_pending);
  g_test_add_func("/cmp/poll-without-identity", test_poll_without_identity);
  g_test_add_func("/cmp/reenroll", test_reenroll);
  ret = g_test_run();
  teardown();
  return ret;
}
