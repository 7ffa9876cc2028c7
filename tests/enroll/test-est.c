/* test-est.c: the EST client (enroll/signet-est.h) against the real test CA
 * (tests/ca/signet-test-ca), started once for the whole program on a free
 * port of 127.0.0.1 and stopped at the end; and the CsrAttrs parser on
 * hand-made DER.
 *
 * TLS client authentication for /simplereenroll uses keys on a throwaway
 * SoftHSM2 token through pkcs11/ (as the agent does), EC P-256 and RSA 2048,
 * over TLS 1.2 and 1.3: the test CA accepts both, so the client side is
 * capped with signet_est_set_tls_max_version(), a test-only knob.
 */
#include "config.h"

#include "enroll/signet-est.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-http.h"
#include "enroll/signet-enroll-private.h"
#include "pkcs11/signet-p11.h"
#include "tests/testutil/signet-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Throwaway test token only. */
#define PIN    "123456"
#define SO_PIN "12345678"

typedef struct
{
  char *tmp;     /* everything this program writes */
  char *ca_dir;  /* the test CA's directory */
  char *ca_tool; /* tests/ca/signet-test-ca */
  GSubprocess *ca;
  char *url;  /* https://127.0.0.1:PORT/.well-known/est */
  char *root; /* the CA's root: the trust anchor */
  /* the SoftHSM2 token, made on first use */
  char *token_dir;
  SignetP11Context *p11;
  SignetP11Session *session;
} Rig;

static Rig rig;

static gboolean
in_ci(void)
{
  return g_strcmp0(g_getenv("CI"), "true") == 0;
}

/* ---- the test CA ------------------------------------------------------ */

static void
on_ca_child_setup(gpointer data)
{
  /* The CA goes when this program goes, even when an assertion aborts it. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* signet-test-ca ARGS... --dir DIR; returns its standard output. */
static char *
ca_run(const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  va_list ap;

  g_ptr_array_add(argv, rig.ca_tool);
  va_start(ap, first);
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
    g_ptr_array_add(argv, (gpointer)a);
  va_end(ap);
  g_ptr_array_add(argv, "--dir");
  g_ptr_array_add(argv, rig.ca_dir);
  g_ptr_array_add(argv, NULL);
  proc = g_subprocess_newv((const char *const *)argv->pdata,
                           G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error(error);
  g_subprocess_communicate_utf8(proc, NULL, NULL, &out, &err, &error);
  g_assert_no_error(error);
  if (!g_subprocess_get_successful(proc))
    g_error("signet-test-ca %s failed: %s", first, err);
  return g_steal_pointer(&out);
}

static void
ca_mode(const char *mode)
{
  g_free(ca_run("mode", mode, NULL));
}

/* What /csrattrs answers (signet-test-ca csrattrs ANSWER). */
static void
ca_csrattrs(const char *answer)
{
  g_free(ca_run("csrattrs", answer, NULL));
}

static void
ca_clock(const char *when)
{
  g_free(ca_run("clock", when, NULL));
}

/* A fresh reference number and activation code (for @subject, or the CA's
 * default subject). */
static void
ca_new_code(const char *subject, char **out_ref, SignetSecret **out_code)
{
  g_autofree char *out
      = subject != NULL ? ca_run("new-code", "--subject", subject, NULL) : ca_run("new-code", NULL);
  g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

  g_assert_cmpuint(g_strv_length(lines), >=, 2);
  g_assert_cmpstr(lines[0], !=, "");
  g_assert_cmpstr(lines[1], !=, "");
  *out_ref = g_strdup(lines[0]);
  *out_code = signet_secret_new(lines[1], strlen(lines[1]));
  explicit_bzero(lines[1], strlen(lines[1]));
}

static void
ca_start(void)
{
  g_autoptr(GSubprocessLauncher) launcher
      = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { rig.ca_tool, "serve", "--dir", rig.ca_dir, "--port", "0", NULL };
  g_autofree char *line = NULL;
  const char *prefix = "listening on ";

  g_subprocess_launcher_set_child_setup(launcher, on_ca_child_setup, NULL, NULL);
  rig.ca = g_subprocess_launcher_spawnv(launcher, argv, &error);
  g_assert_no_error(error);
  /* It prints the line once it accepts connections, or dies. */
  in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(rig.ca));
  line = g_data_input_stream_read_line(in, NULL, NULL, &error);
  g_assert_no_error(error);
  if (line == NULL || !g_str_has_prefix(line, prefix))
    g_error("signet-test-ca serve did not start (it said: %s)", line != NULL ? line : "nothing");
  rig.url = g_strconcat(line + strlen(prefix), "/.well-known/est", NULL);
  rig.root = g_build_filename(rig.ca_dir, "root.pem", NULL);
  g_test_message("test CA at %s", rig.url);
}

static void
ca_stop(void)
{
  if (rig.ca == NULL)
    return;
  g_subprocess_send_signal(rig.ca, SIGTERM);
  g_subprocess_wait(rig.ca, NULL, NULL);
  g_clear_object(&rig.ca);
}

/* ---- helpers ------------------------------------------------------------- */

static SignetEst *
est_new_timeouts(const char *url, const char *anchors, guint connect_timeout, guint timeout)
{
  g_autoptr(GError) error = NULL;
  SignetEstConfig config = {
    .url = url, .trust_anchors = anchors, .connect_timeout = connect_timeout, .timeout = timeout
  };
  SignetEst *est = signet_est_new(&config, &error);

  g_assert_no_error(error);
  g_assert_nonnull(est);
  return est;
}

static SignetEst *
est_new_full(const char *url, const char *anchors, guint timeout)
{
  return est_new_timeouts(url, anchors, 5, timeout);
}

static SignetEst *
est_new(void)
{
  return est_new_full(rig.url, rig.root, 30);
}

/* An EST client holding a fresh code of the CA's. */
static SignetEst *
est_with_code(const char *subject)
{
  SignetEst *est = est_new();
  g_autofree char *ref = NULL;
  g_autoptr(SignetSecret) code = NULL;

  ca_new_code(subject, &ref, &code);
  signet_est_set_basic_auth(est, ref, code);
  return est;
}

static EVP_PKEY *
ec_key(void)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");

  g_assert_nonnull(key);
  return key;
}

static char *
csr_for(EVP_PKEY *key, const char *subject)
{
  g_autoptr(GError) error = NULL;
  char *pem = signet_csr_build_pem(key, NULL, subject, &error);

  g_assert_no_error(error);
  return pem;
}

static X509 *
load_pem_cert(const char *path)
{
  g_autoptr(BIO) bio = BIO_new_file(path, "r");
  X509 *cert;

  g_assert_nonnull(bio);
  cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  g_assert_nonnull(cert);
  return cert;
}

/* A self-signed certificate for @key, as PEM in @path. */
static X509 *
self_signed(EVP_PKEY *key, const char *cn, const char *path)
{
  X509 *cert = X509_new();
  X509_NAME *name = X509_get_subject_name(cert);

  g_assert_cmpint(X509_set_version(cert, 2), ==, 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600 * 24);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);
  if (path != NULL) {
    g_autoptr(BIO) bio = BIO_new_file(path, "w");

    g_assert_nonnull(bio);
    g_assert_cmpint(PEM_write_bio_X509(bio, cert), ==, 1);
  }
  return cert;
}

/* A port of 127.0.0.1 nobody listens on (bound, then closed). */
static guint
closed_port(void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  g_assert_cmpint(fd, >=, 0);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
  close(fd);
  return ntohs(addr.sin_port);
}

/* A listening socket on a free port of 127.0.0.1 (the port in
 * @out_port), with room for @backlog connections nobody accepts. */
static int
listening_socket(int backlog, guint *out_port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint(fd, >=, 0);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint(listen(fd, backlog), ==, 0);
  g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
  *out_port = ntohs(addr.sin_port);
  return fd;
}

/* A server that accepts one connection and then does @what: "close" (it
 * shuts its side at once), or "plain" (answers in plain HTTP, as a server
 * without TLS). */
typedef struct
{
  int fd;
  const char *what;
} FakeServer;

static gpointer
fake_server_thread(gpointer data)
{
  FakeServer *server = data;
  static const char plain[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  int conn = accept(server->fd, NULL, NULL);
  char buf[512];

  g_assert_cmpint(conn, >=, 0);
  if (g_str_equal(server->what, "plain"))
    g_assert_cmpint(write(conn, plain, sizeof plain - 1), ==, (gssize)(sizeof plain - 1));
  else
    g_assert_cmpint(shutdown(conn, SHUT_WR), ==, 0);
  /* Until the client gives up and closes: closing with its hello unread
   * would send a reset instead (another curl message: either may come). */
  while (read(conn, buf, sizeof buf) > 0)
    ;
  close(conn);
  return NULL;
}

/* /cacerts from a server at 127.0.0.1:@port; asserts it fails with @code
 * and a message naming 127.0.0.1:@port and holding @needle. */
static void
assert_cacerts_fails(guint port, guint connect_timeout, guint timeout, int code, const char *needle)
{
  g_autofree char *url = g_strdup_printf("https://127.0.0.1:%u/.well-known/est", port);
  g_autofree char *where = g_strdup_printf("127.0.0.1:%u", port);
  g_autoptr(SignetEst) est = est_new_timeouts(url, rig.root, connect_timeout, timeout);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_est_get_cacerts(est, &error);

  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, code);
  g_test_message("%s", error->message);
  if (strstr(error->message, needle) == NULL)
    g_error("'%s' not in the message: %s", needle, error->message);
  if (strstr(error->message, where) == NULL)
    g_error("'%s' not in the message: %s", where, error->message);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

/* Enrolls with a fresh in-memory key; asserts the outcome is an error. */
static void
assert_enroll_fails(SignetEst *est, GQuark domain, int code, const char *needle)
{
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Ignored");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstResult) result = signet_est_simple_enroll(est, csr, &error);

  g_assert_null(result);
  g_assert_error(error, domain, code);
  g_test_message("%s", error->message);
  if (needle != NULL && strstr(error->message, needle) == NULL)
    g_error("'%s' not in the message: %s", needle, error->message);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

/* ---- signet_est_new ---------------------------------------------------- */

static void
test_new_checks(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *http = g_strdup(rig.url);
  SignetEstConfig config = { .url = NULL };
  g_autoptr(SignetEst) est = NULL;
  g_autofree char *missing = g_build_filename(rig.tmp, "missing.pem", NULL);
  g_autofree char *junk = g_build_filename(rig.tmp, "junk.pem", NULL);

  /* http:// is refused: no CA is ever talked to without TLS. */
  memcpy(http, "http ", 5);
  memmove(http + 4, http + 5, strlen(http + 5) + 1);
  g_assert_true(g_str_has_prefix(http, "http://"));
  config.url = http;
  est = signet_est_new(&config, &error);
  g_assert_null(est);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_nonnull(strstr(error->message, "https://"));
  g_clear_error(&error);

  config.url = NULL;
  g_assert_null(signet_est_new(&config, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_clear_error(&error);

  config.url = "https://user:pass@127.0.0.1/.well-known/est";
  g_assert_null(signet_est_new(&config, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_clear_error(&error);

  config.url = rig.url;
  config.trust_anchors = missing;
  g_assert_null(signet_est_new(&config, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_clear_error(&error);

  g_file_set_contents(junk, "not a certificate\n", -1, &error);
  g_assert_no_error(error);
  config.trust_anchors = junk;
  g_assert_null(signet_est_new(&config, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_clear_error(&error);

  /* A trailing '/' is fine. */
  {
    g_autofree char *slash = g_strconcat(rig.url, "/", NULL);
    g_autoptr(SignetEst) ok = est_new_full(slash, rig.root, 30);
    g_autoptr(GPtrArray) certs = signet_est_get_cacerts(ok, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(certs->len, ==, 2);
  }
}

/* ---- /cacerts --------------------------------------------------------- */

static void
test_cacerts(void)
{
  g_autoptr(SignetEst) est = est_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_est_get_cacerts(est, &error);
  g_autoptr(X509) root = load_pem_cert(rig.root);
  g_autofree char *issuing_path = g_build_filename(rig.ca_dir, "issuing.pem", NULL);
  g_autoptr(X509) issuing = load_pem_cert(issuing_path);

  g_assert_no_error(error);
  g_assert_nonnull(certs);
  g_assert_cmpuint(certs->len, ==, 2);
  g_assert_cmpint(X509_cmp(g_ptr_array_index(certs, 0), issuing), ==, 0);
  g_assert_cmpint(X509_cmp(g_ptr_array_index(certs, 1), root), ==, 0);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

/* ---- /csrattrs -------------------------------------------------------- */

static void
test_csrattrs(void)
{
  /* A subject with characters RFC 4514 escapes, in DER order C, O,
   * serialNumber, CN. */
  const char *subject = "CN=Jan \\\"JK\\\" Kowalski,serialNumber=PNOPL-1234,O=Example\\, "
                        "Inc.,C=PL";
  g_autoptr(SignetEst) est = est_with_code(subject);
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstCsrAttrs) attrs = signet_est_get_csr_attrs(est, &error);
  g_autoptr(X509_NAME) got = NULL;
  g_autoptr(X509_NAME) want = NULL;

  g_assert_no_error(error);
  g_assert_nonnull(attrs);
  g_assert_cmpstr(attrs->subject, ==, subject);
  got = signet_subject_parse(attrs->subject, &error);
  g_assert_no_error(error);
  want = signet_subject_parse(subject, &error);
  g_assert_no_error(error);
  g_assert_cmpint(X509_NAME_cmp(got, want), ==, 0);
  /* DER order: C first, CN last. */
  g_assert_cmpint(X509_NAME_entry_count(got), ==, 4);
  g_assert_cmpint(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(got, 0))), ==,
                  NID_countryName);
  g_assert_cmpint(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(got, 3))), ==,
                  NID_commonName);
  /* The bare OID the test CA asks for, ecdsa-with-SHA256: its hash. */
  g_assert_cmpstr(attrs->hash, ==, "sha256");
  g_assert_nonnull(attrs->oids);
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 0);
}

static void
test_csrattrs_credentials(void)
{
  g_autoptr(SignetEst) est = est_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstCsrAttrs) attrs = signet_est_get_csr_attrs(est, &error);
  g_autoptr(SignetSecret) wrong = signet_secret_new("AAAA-BBBB-CCCC-DDDD", 19);

  /* Without credentials: the CA says 401, the request is refused. */
  g_assert_null(attrs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_clear_error(&error);

  signet_est_set_basic_auth(est, "REF-00000000", wrong);
  attrs = signet_est_get_csr_attrs(est, &error);
  g_assert_null(attrs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED);
}

/* The test CA's canned answers: a key type, a hash and challengePassword
 * besides the subject, slack after the base64, garbage, 204. */
static void
test_csrattrs_canned(void)
{
  g_autoptr(SignetEst) est = est_with_code("CN=Canned,O=Example,C=PL");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstCsrAttrs) attrs = NULL;

  ca_csrattrs("ec-p384");
  attrs = signet_est_get_csr_attrs(est, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(attrs->subject, ==, "CN=Canned,O=Example,C=PL");
  g_assert_cmpstr(attrs->key_type, ==, "ec:p384");
  g_assert_cmpstr(attrs->hash, ==, "sha384");
  g_assert_true(attrs->challenge_password);
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 1);
  g_assert_cmpstr(attrs->oids[0], ==, "1.2.840.113549.1.9.14"); /* extensionRequest */
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);

  ca_csrattrs("rsa-3072");
  attrs = signet_est_get_csr_attrs(est, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(attrs->subject, ==, "CN=Canned,O=Example,C=PL");
  g_assert_cmpstr(attrs->key_type, ==, "rsa:3072");
  g_assert_cmpstr(attrs->hash, ==, "sha256");
  g_assert_false(attrs->challenge_password);
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 0);
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);

  ca_csrattrs("with-trailing-nul");
  attrs = signet_est_get_csr_attrs(est, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(attrs->subject, ==, "CN=Canned,O=Example,C=PL");
  g_assert_cmpstr(attrs->hash, ==, "sha256");
  g_assert_null(attrs->key_type);
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);

  ca_csrattrs("garbage");
  attrs = signet_est_get_csr_attrs(est, &error);
  g_assert_null(attrs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_assert_nonnull(strstr(error->message, "not base64"));
  g_clear_error(&error);

  ca_csrattrs("none");
  attrs = signet_est_get_csr_attrs(est, &error);
  ca_csrattrs("subject");
  g_assert_no_error(error);
  g_assert_null(attrs->subject);
  g_assert_null(attrs->key_type);
  g_assert_null(attrs->hash);
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 0);
}

/* ---- /simpleenroll ------------------------------------------------------ */

static void
test_enroll(void)
{
  g_autoptr(SignetEst) est = est_with_code(NULL);
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstCsrAttrs) attrs = signet_est_get_csr_attrs(est, &error);
  g_autofree char *csr = NULL;
  g_autoptr(SignetEstResult) result = NULL;
  g_autoptr(SignetEstResult) again = NULL;
  g_autoptr(X509_NAME) want = NULL;
  X509 *leaf;

  g_assert_no_error(error);
  g_assert_nonnull(attrs->subject);
  csr = csr_for(key, attrs->subject);
  result = signet_est_simple_enroll(est, csr, &error);
  g_assert_no_error(error);
  g_assert_nonnull(result);
  g_assert_cmpint(result->status, ==, SIGNET_EST_ISSUED);
  g_assert_nonnull(result->certs);
  g_assert_cmpuint(result->certs->len, ==, 1);
  g_assert_null(result->retry_at);
  leaf = g_ptr_array_index(result->certs, 0);
  g_assert_true(signet_x509_matches_key(leaf, key));
  want = signet_subject_parse(attrs->subject, &error);
  g_assert_no_error(error);
  g_assert_cmpint(X509_NAME_cmp(X509_get_subject_name(leaf), want), ==, 0);

  /* The same code a second time: used. */
  again = signet_est_simple_enroll(est, csr, &error);
  g_assert_null(again);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED);
  g_assert_nonnull(strstr(error->message, "ask your CA for a new activation code"));
  g_assert_nonnull(strstr(error->message, "already used"));
}

static void
test_enroll_expired(void)
{
  g_autoptr(SignetEst) est = est_with_code(NULL);

  ca_clock("+16d");
  assert_enroll_fails(est, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_EXPIRED,
                      "Ask your CA for a new one");
  ca_clock("now");
}

static void
test_enroll_bad_csr(void)
{
  g_autoptr(SignetEst) est = est_with_code(NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstResult) result = signet_est_simple_enroll(est, "not a request", &error);

  g_assert_null(result);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

static void
test_enroll_deferred(void)
{
  g_autoptr(SignetEst) est = est_with_code(NULL);
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Deferred");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstResult) pending = NULL;
  g_autoptr(SignetEstResult) issued = NULL;
  g_autoptr(GDateTime) now = NULL;
  GTimeSpan ahead;

  ca_mode("deferred:3");
  pending = signet_est_simple_enroll(est, csr, &error);
  g_assert_no_error(error);
  g_assert_cmpint(pending->status, ==, SIGNET_EST_PENDING);
  g_assert_null(pending->certs);
  g_assert_nonnull(pending->retry_at);
  g_assert_nonnull(pending->message); /* the CA's "request pending: …" */
  now = g_date_time_new_now_utc();
  ahead = g_date_time_difference(pending->retry_at, now);
  g_test_message("retry in %.1f s", (double)ahead / G_TIME_SPAN_SECOND);
  g_assert_cmpint(ahead, >, 1 * G_TIME_SPAN_SECOND);
  g_assert_cmpint(ahead, <=, 3 * G_TIME_SPAN_SECOND + G_TIME_SPAN_SECOND / 2);

  /* Asked again at retry_at: issued. */
  g_usleep((gulong)ahead + G_USEC_PER_SEC / 5);
  issued = signet_est_simple_enroll(est, csr, &error);
  g_assert_no_error(error);
  g_assert_cmpint(issued->status, ==, SIGNET_EST_ISSUED);
  g_assert_true(signet_x509_matches_key(g_ptr_array_index(issued->certs, 0), key));
  ca_mode("normal");
}

static void
test_enroll_http_errors(void)
{
  static const struct
  {
    const char *mode;
    int code;
    const char *needle;
  } cases[] = {
    { "http-401", SIGNET_ENROLL_ERROR_CODE_REJECTED, "Check them, or ask your CA" },
    { "http-403", SIGNET_ENROLL_ERROR_REFUSED, "The CA refused the request: request refused" },
    { "http-500", SIGNET_ENROLL_ERROR_UNAVAILABLE, "The CA is unavailable (HTTP 500). Try again" },
    { "http-503", SIGNET_ENROLL_ERROR_UNAVAILABLE, "The CA is unavailable (HTTP 503). Try again" },
    { "truncated", SIGNET_ENROLL_ERROR_BAD_RESPONSE, "cut short" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(SignetEst) est = est_with_code(NULL);

    g_test_message("mode %s", cases[i].mode);
    ca_mode(cases[i].mode);
    assert_enroll_fails(est, SIGNET_ENROLL_ERROR, cases[i].code, cases[i].needle);
  }
  ca_mode("normal");
}

/* Answers a client must bound (issue 16): a redirect is not followed, a body
 * over the cap is refused whether or not it says its length, and neither
 * spends the code: the same client enrolls once the CA behaves. */
static void
test_enroll_hostile(void)
{
  static const struct
  {
    const char *mode;
    const char *needle;
  } cases[] = {
    { "redirect",
      "answered with a redirect (HTTP 302) to https://ca.elsewhere.example/.well-known/est/"
      "simpleenroll, which Signet does not follow" },
    { "oversize", "is larger than 1024 KiB" },
    { "oversize-unsized", "is larger than 1024 KiB" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(SignetEst) est = est_with_code(NULL);
    g_autoptr(EVP_PKEY) key = ec_key();
    g_autofree char *csr = csr_for(key, "CN=Hostile");
    g_autoptr(GError) error = NULL;
    g_autoptr(SignetEstResult) result = NULL;

    g_test_message("mode %s", cases[i].mode);
    ca_mode(cases[i].mode);
    assert_enroll_fails(est, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                        cases[i].needle);
    ca_mode("normal");
    result = signet_est_simple_enroll(est, csr, &error);
    g_assert_no_error(error);
    g_assert_cmpint(result->status, ==, SIGNET_EST_ISSUED);
  }
}

/* A certificate for another key comes back as issued: the caller checks it
 * against its key (the agent does, and refuses it). */
static void
test_enroll_wrong_key(void)
{
  g_autoptr(SignetEst) est = est_with_code(NULL);
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Wrong Key");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstResult) result = NULL;

  ca_mode("wrong-key");
  result = signet_est_simple_enroll(est, csr, &error);
  ca_mode("normal");
  g_assert_no_error(error);
  g_assert_cmpint(result->status, ==, SIGNET_EST_ISSUED);
  g_assert_false(signet_x509_matches_key(g_ptr_array_index(result->certs, 0), key));
}

/* Enrolls against the CA in @mode with a 2 s timeout: the request's timeout
 * ends it, TIMEOUT with @needle, after 2 s and well before the CA is done
 * (the CA would answer after 8 s, or 4096 s). */
static void
assert_times_out(const char *mode, const char *needle)
{
  g_autoptr(SignetEst) est = est_new_full(rig.url, rig.root, 2);
  g_autofree char *ref = NULL;
  g_autoptr(SignetSecret) code = NULL;
  gint64 start;
  gint64 elapsed;

  ca_new_code(NULL, &ref, &code);
  signet_est_set_basic_auth(est, ref, code);
  ca_mode(mode);
  start = g_get_monotonic_time();
  assert_enroll_fails(est, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TIMEOUT, needle);
  elapsed = g_get_monotonic_time() - start;
  ca_mode("normal");
  g_test_message("timed out after %.1f s", (double)elapsed / G_USEC_PER_SEC);
  g_assert_cmpint(elapsed, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpint(elapsed, >=, 2 * G_USEC_PER_SEC - G_USEC_PER_SEC / 10);
}

static void
test_timeout(void)
{
  /* TLS was up and the request went out: TIMEOUT (the CA may have acted
   * on it), not "did not accept a connection". */
  assert_times_out("slow:8", "took the request but did not answer within 2 s");
}

/* A slow loris: the CA sends its answer one byte a second. The request's
 * timeout ends it, with words that say the answer began. */
static void
test_slow_loris(void)
{
  assert_times_out("trickle", "began to answer but did not finish within 2 s (bytes received: ");
}

/* ---- transport failures ---------------------------------------------------- */

static void
test_wrong_trust_anchor(void)
{
  g_autofree char *path = g_build_filename(rig.tmp, "wrong-root.pem", NULL);
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autoptr(X509) cert = self_signed(key, "Somebody Else's Root", path);
  g_autoptr(SignetEst) est = est_new_full(rig.url, path, 10);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_est_get_cacerts(est, &error);

  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS);
  g_test_message("%s", error->message);
  g_assert_nonnull(strstr(error->message, path));
  g_assert_nonnull(strstr(error->message, "do not continue"));
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

/* The system store does not know the test CA either. Loading the whole
 * store under ASan on a loaded machine took more than the 5 s connect
 * timeout once (CONNECT, not TLS): this test is about the store, so the
 * handshake gets 30 s. */
static void
test_system_store(void)
{
  g_autoptr(SignetEst) est = est_new_timeouts(rig.url, NULL, 30, 30);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_est_get_cacerts(est, &error);

  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS);
}

/* The host name is checked: the test CA's certificate names 127.0.0.1 and
 * localhost; reached as the IPv4-mapped IPv6 address ::ffff:127.0.0.1 (the
 * same listener), the name does not match. */
static void
test_host_name_checked(void)
{
  const char *p = strstr(rig.url, "127.0.0.1:");
  g_autofree char *url = NULL;
  g_autoptr(SignetEst) est = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = NULL;

  g_assert_nonnull(p);
  url = g_strconcat("https://[::ffff:127.0.0.1]", p + strlen("127.0.0.1"), NULL);
  est = est_new_full(url, rig.root, 10);
  certs = signet_est_get_cacerts(est, &error);
  g_assert_null(certs);
  g_test_message("%s", error->message);
  /* Either no IPv6 here (CONNECT) or the name does not match (TLS): never
   * a success. */
  g_assert_true(g_error_matches(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS)
                || g_error_matches(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT));
  if (error->code == SIGNET_ENROLL_ERROR_TLS)
    g_assert_nonnull(strstr(error->message, "for another name"));
}

static void
test_connect(void)
{
  g_autofree char *url = g_strdup_printf("https://127.0.0.1:%u/.well-known/est", closed_port());
  g_autoptr(SignetEst) est = est_new_full(url, rig.root, 10);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_est_get_cacerts(est, &error);

  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT);
  g_test_message("%s", error->message);
  g_assert_nonnull(strstr(error->message, "127.0.0.1"));
  g_assert_nonnull(strstr(error->message, "refused the connection"));
}

/* A server that accepts TCP and never speaks TLS (issue 11, point 9). The
 * kernel completes the TCP handshake for a listening socket on its own, as
 * for a server too busy to read: nobody here ever reads or writes, and the
 * client's connect timeout (1 s) is what ends it. curl 7.88 reports it as
 * CURLE_OPERATION_TIMEDOUT with CURLINFO_CONNECT_TIME still 0, as when no
 * connection was made: only its SSL_CTX callback shows the TCP part was
 * done. */
static void
test_tls_stall(void)
{
  guint port;
  int fd = listening_socket(8, &port);

  assert_cacerts_fails(port, 1, 30, SIGNET_ENROLL_ERROR_CONNECT,
                       "accepted the connection but did not complete the TLS handshake within "
                       "1 s");
  /* The whole request's timeout, when shorter, is the one named. */
  assert_cacerts_fails(port, 5, 1, SIGNET_ENROLL_ERROR_CONNECT,
                       "did not complete the TLS handshake within 1 s");
  close(fd);
}

/* A server whose queue of connections is full: the kernel drops the SYN,
 * so no TCP connection is made and the connect timeout (1 s) ends it. The
 * queue of listen(fd, 0) holds one connection: one made beforehand, never
 * accepted, fills it. */
static void
test_connect_timeout(void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  guint port;
  int fd = listening_socket(0, &port);
  int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct pollfd pfd = { .fd = filler, .events = POLLOUT };
  int so_error = -1;
  socklen_t len = sizeof so_error;

  g_assert_cmpint(filler, >=, 0);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(filler, (struct sockaddr *)&addr, sizeof addr) != 0)
    g_assert_cmpint(errno, ==, EINPROGRESS);
  /* Connected (and in the queue) before the client tries. */
  g_assert_cmpint(poll(&pfd, 1, 10000), ==, 1);
  g_assert_cmpint(getsockopt(filler, SOL_SOCKET, SO_ERROR, &so_error, &len), ==, 0);
  g_assert_cmpint(so_error, ==, 0);

  assert_cacerts_fails(port, 1, 30, SIGNET_ENROLL_ERROR_CONNECT,
                       "did not accept a connection within 1 s");
  close(filler);
  close(fd);
}

/* A server that accepts and closes at once (CURLE_SSL_CONNECT_ERROR,
 * SSL_ERROR_SYSCALL: no connection, try later) and one that answers in
 * plain HTTP (CURLE_SSL_CONNECT_ERROR, "wrong version number": a TLS
 * failure, check the URL), each saying what happened. */
static void
test_tls_broken(void)
{
  static const struct
  {
    const char *what;
    int code;
    const char *needle;
  } cases[] = {
    { "close", SIGNET_ENROLL_ERROR_CONNECT, "closed the connection during the TLS handshake" },
    { "plain", SIGNET_ENROLL_ERROR_TLS, "does not speak TLS" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    guint port;
    FakeServer server = { .fd = listening_socket(8, &port), .what = cases[i].what };
    GThread *thread = g_thread_new("fake-server", fake_server_thread, &server);

    assert_cacerts_fails(port, 5, 10, cases[i].code, cases[i].needle);
    g_thread_join(thread);
    close(server.fd);
  }
}

static void
test_resolve(void)
{
  g_autoptr(SignetEst) est
      = est_new_full("https://nonexistent.invalid/.well-known/est", rig.root, 10);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_est_get_cacerts(est, &error);

  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_RESOLVE);
  g_test_message("%s", error->message);
  g_assert_nonnull(strstr(error->message, "nonexistent.invalid"));
  g_assert_nonnull(strstr(error->message, "check your network connection"));
}

/* No EST service at that path: 404 → BAD_RESPONSE (but /csrattrs' 404 is
 * "no attributes"). */
static void
test_not_found(void)
{
  g_autofree char *url = g_strconcat(rig.url, "/a/b", NULL);
  g_autoptr(SignetEst) est = est_new_full(url, rig.root, 10);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_est_get_cacerts(est, &error);
  g_autoptr(SignetEstCsrAttrs) attrs = NULL;

  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_assert_nonnull(strstr(error->message, "HTTP 404"));
  g_clear_error(&error);

  attrs = signet_est_get_csr_attrs(est, &error);
  g_assert_no_error(error);
  g_assert_null(attrs->subject);
  g_assert_nonnull(attrs->oids);
  g_assert_null(attrs->oids[0]);
}

/* Proxies come from the environment (libcurl reads https_proxy and
 * no_proxy): a proxy nobody runs fails to connect, no_proxy bypasses it. */
static void
test_proxy_from_environment(void)
{
  g_autofree char *proxy = g_strdup_printf("http://127.0.0.1:%u", closed_port());
  g_autoptr(SignetEst) est = est_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = NULL;

  g_setenv("https_proxy", proxy, TRUE);
  certs = signet_est_get_cacerts(est, &error);
  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT);
  g_clear_error(&error);

  g_setenv("no_proxy", "127.0.0.1", TRUE);
  certs = signet_est_get_cacerts(est, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(certs->len, ==, 2);
  g_unsetenv("https_proxy");
  g_unsetenv("no_proxy");
}

/* ---- /simplereenroll with an on-token key ---------------------------------- */

typedef struct
{
  SignetP11KeyType type;
  guint tls;
} ReenrollCase;

static const ReenrollCase reenroll_cases[] = {
  { SIGNET_P11_KEY_EC_P256, 12 },
  { SIGNET_P11_KEY_EC_P256, 13 },
  { SIGNET_P11_KEY_RSA_2048, 12 },
  { SIGNET_P11_KEY_RSA_2048, 13 },
};

static gboolean
token_setup(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(SignetSecret) pin = signet_secret_new(PIN, strlen(PIN));
  const char *module = g_getenv("SOFTHSM2_MODULE");

  if (rig.session != NULL)
    return TRUE;
  if (module == NULL || *module == '\0')
    module = "/usr/lib/softhsm/libsofthsm2.so";
  if (!g_file_test(module, G_FILE_TEST_EXISTS)) {
    if (in_ci())
      g_error("SoftHSM2 is not installed (%s), and CI=true: nothing may skip", module);
    g_test_skip("SoftHSM2 is not installed: apt-get install softhsm2");
    return FALSE;
  }
  rig.token_dir = signet_test_softhsm_dir("signet-test-est");
  signet_test_softhsm_init_token("EST Test", PIN, SO_PIN);
  rig.p11 = signet_p11_context_new(module, SIGNET_P11_UNBLOCK_UNKNOWN, &error);
  g_assert_no_error(error);
  tokens = signet_p11_context_list_tokens(rig.p11, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(tokens->len, >=, 1);
  rig.session = signet_p11_session_open(rig.p11, g_ptr_array_index(tokens, 0), &error);
  g_assert_no_error(error);
  signet_p11_session_login(rig.session, pin, FALSE, &error);
  g_assert_no_error(error);
  return TRUE;
}

static void
test_reenroll_token(gconstpointer data)
{
  const ReenrollCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) id = NULL;
  g_autoptr(EVP_PKEY) token_key = NULL;
  g_autoptr(EVP_PKEY) token_public = NULL;
  g_autoptr(EVP_PKEY) new_key = ec_key();
  g_autoptr(SignetEst) est = NULL;
  g_autoptr(SignetEstResult) first = NULL;
  g_autoptr(SignetEstResult) renewed = NULL;
  g_autofree char *csr = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *renew_csr = NULL;
  X509 *cert;

  if (!token_setup())
    return;
  g_assert_true(
      signet_p11_session_generate_key_pair(rig.session, c->type, "est test", &id, &error));
  g_assert_no_error(error);
  token_key = signet_p11_session_get_private_key(rig.session, id, &error);
  g_assert_no_error(error);
  token_public = signet_p11_session_get_public_key(rig.session, id, &error);
  g_assert_no_error(error);

  /* Activation: a certificate for the on-token key. */
  est = est_with_code(NULL);
  signet_est_set_tls_max_version(est, c->tls);
  subject = g_strdup_printf("CN=Token %s TLS 1.%u", signet_p11_key_type_to_string(c->type),
                            c->tls % 10);
  csr = signet_csr_build_pem(token_key, token_public, "CN=Ignored", &error);
  g_assert_no_error(error);
  first = signet_est_simple_enroll(est, csr, &error);
  g_assert_no_error(error);
  g_assert_cmpint(first->status, ==, SIGNET_EST_ISSUED);
  cert = g_ptr_array_index(first->certs, 0);
  g_assert_true(signet_x509_matches_key(cert, token_public));

  /* Renewal, logged in with that certificate and the on-token key over TLS
   * 1.(c->tls % 10); the new request for the same subject. */
  g_assert_true(signet_est_set_client_identity(est, cert, token_key, &error));
  g_assert_no_error(error);
  {
    g_autofree char *name = signet_x509_name_to_string(X509_get_subject_name(cert));

    renew_csr = csr_for(new_key, name);
  }
  renewed = signet_est_simple_reenroll(est, renew_csr, &error);
  g_assert_no_error(error);
  g_assert_cmpint(renewed->status, ==, SIGNET_EST_ISSUED);
  g_assert_true(signet_x509_matches_key(g_ptr_array_index(renewed->certs, 0), new_key));
  g_assert_cmpint(X509_NAME_cmp(X509_get_subject_name(g_ptr_array_index(renewed->certs, 0)),
                                X509_get_subject_name(cert)),
                  ==, 0);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);

  /* The key must not outlive the session it is bound to. */
  g_clear_pointer(&est, signet_est_free);
  g_assert_true(signet_p11_session_delete_key_pair(rig.session, id, &error));
  g_assert_no_error(error);
}

static void
test_reenroll_without_identity(void)
{
  g_autoptr(SignetEst) est = est_new();
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Nobody");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstResult) result = signet_est_simple_reenroll(est, csr, &error);

  g_assert_null(result);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
}

/* A certificate the CA did not issue → REFUSED, saying the current
 * certificate was not accepted. The test CA answers 401; a CA whose TLS
 * layer ends the handshake over it instead (an "unknown ca" alert, which
 * TLS 1.3 delivers after the client's handshake, as a read error) gets the
 * same code from signet-http.c. */
static void
test_reenroll_foreign_certificate(gconstpointer data)
{
  guint tls = GPOINTER_TO_UINT(data);
  g_autoptr(SignetEst) est = est_new();
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autoptr(X509) cert = self_signed(key, "Not From This CA", NULL);
  g_autoptr(EVP_PKEY) other = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Not From This CA");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstResult) result = NULL;

  /* The key must be the certificate's. */
  g_assert_false(signet_est_set_client_identity(est, cert, other, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH);
  g_clear_error(&error);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);

  signet_est_set_tls_max_version(est, tls);
  g_assert_true(signet_est_set_client_identity(est, cert, key, &error));
  result = signet_est_simple_reenroll(est, csr, &error);
  g_assert_null(result);
  g_test_message("%s", error->message);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "current certificate"));
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

/* A certificate of the CA's that has expired by its clock: 401 → REFUSED;
 * a request for another subject: 403 → REFUSED with the CA's text. */
static void
test_reenroll_refused(void)
{
  g_autoptr(SignetEst) est = est_with_code(NULL);
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autoptr(EVP_PKEY) new_key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Ignored");
  g_autofree char *name = NULL;
  g_autofree char *renew_csr = NULL;
  g_autofree char *other_csr = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstResult) first = signet_est_simple_enroll(est, csr, &error);
  g_autoptr(SignetEstResult) result = NULL;
  X509 *cert;

  g_assert_no_error(error);
  cert = g_ptr_array_index(first->certs, 0);
  g_assert_true(signet_est_set_client_identity(est, cert, key, &error));
  name = signet_x509_name_to_string(X509_get_subject_name(cert));
  renew_csr = csr_for(new_key, name);
  other_csr = csr_for(new_key, "CN=Somebody Else,O=Signet Test,C=PL");

  result = signet_est_simple_reenroll(est, other_csr, &error);
  g_assert_null(result);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "subject differs"));
  g_clear_error(&error);

  ca_clock("+400d");
  result = signet_est_simple_reenroll(est, renew_csr, &error);
  ca_clock("now");
  g_assert_null(result);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "HTTP 401"));
  g_assert_nonnull(strstr(error->message, "has expired"));
  g_clear_error(&error);

  result = signet_est_simple_reenroll(est, renew_csr, &error);
  g_assert_no_error(error);
  g_assert_cmpint(result->status, ==, SIGNET_EST_ISSUED);
}

/* ---- the CsrAttrs parser, on hand-made DER ------------------------------------ */

static GByteArray *
tlv(guint8 tag, GByteArray *content)
{
  GByteArray *out = g_byte_array_new();
  guint len = content->len;

  g_byte_array_append(out, &tag, 1);
  if (len < 0x80) {
    guint8 b = (guint8)len;

    g_byte_array_append(out, &b, 1);
  } else {
    guint8 b[3] = { 0x82, (guint8)(len >> 8), (guint8)len };

    g_assert_cmpuint(len, <, 0x10000);
    g_byte_array_append(out, b, 3);
  }
  g_byte_array_append(out, content->data, content->len);
  g_byte_array_unref(content);
  return out;
}

static GByteArray *
bytes(const void *data, gsize len)
{
  GByteArray *out = g_byte_array_new();

  g_byte_array_append(out, data, (guint)len);
  return out;
}

static GByteArray *
oid(const char *dotted)
{
  g_autoptr(ASN1_OBJECT) obj = OBJ_txt2obj(dotted, 1);

  g_assert_nonnull(obj);
  return tlv(0x06, bytes(OBJ_get0_data(obj), OBJ_length(obj)));
}

static GByteArray *
str(guint8 tag, const char *s)
{
  return tlv(tag, bytes(s, strlen(s)));
}

/* Concatenates NULL-terminated arguments, consuming them. */
static GByteArray *
cat(GByteArray *first, ...)
{
  GByteArray *out = g_byte_array_new();
  va_list ap;

  va_start(ap, first);
  for (GByteArray *a = first; a != NULL; a = va_arg(ap, GByteArray *)) {
    g_byte_array_append(out, a->data, a->len);
    g_byte_array_unref(a);
  }
  va_end(ap);
  return out;
}

/* Attribute { type, SET { values } }. */
static GByteArray *
attr(const char *dotted, GByteArray *values)
{
  return tlv(0x30, cat(oid(dotted), tlv(0x31, values), NULL));
}

static SignetEstCsrAttrs *
parse_der(GByteArray *der, GError **error)
{
  g_autofree char *b64 = g_base64_encode(der->data, der->len);
  g_autoptr(GString) body = g_string_new(NULL);
  SignetEstCsrAttrs *attrs;

  /* As a CA sends it: lines of 76 characters. */
  for (gsize i = 0; i < strlen(b64); i += 76) {
    g_string_append_len(body, b64 + i, (gssize)MIN((gsize)76, strlen(b64) - i));
    g_string_append(body, "\r\n");
  }
  g_byte_array_unref(der);
  attrs = signet_est_csr_attrs_parse((const guint8 *)body->str, body->len, error);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
  return attrs;
}

static void
test_csrattrs_parse(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstCsrAttrs) attrs = NULL;
  g_autoptr(X509_NAME) name = NULL;

  /* Empty: no subject, no OIDs. */
  attrs = parse_der(tlv(0x30, g_byte_array_new()), &error);
  g_assert_no_error(error);
  g_assert_null(attrs->subject);
  g_assert_null(attrs->key_type);
  g_assert_null(attrs->hash);
  g_assert_false(attrs->challenge_password);
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 0);
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);

  /* Values that need escapes, in DER order C, O, OU, CN, plus an attribute
   * with a SEQUENCE value (extensionRequest) and an attribute with two
   * values: both go to the OIDs, as do unknown bare ones (once each). The
   * signature algorithm (twice) is the hash, challengePassword a flag. */
  attrs = parse_der(
      tlv(0x30,
          cat(attr("2.5.4.6", str(0x13, "PL")), attr("2.5.4.10", str(0x0c, "A,B+C;D<E>F=G")),
              attr("2.5.4.11", str(0x0c, " #lead and trail ")), oid("1.2.840.10045.4.3.2"),
              attr("1.2.840.113549.1.9.14", tlv(0x30, g_byte_array_new())),
              attr("1.2.840.113549.1.9.7", str(0x13, "secret")),
              attr("2.5.4.12", cat(str(0x0c, "one"), str(0x0c, "two"), NULL)),
              attr("2.5.4.3", str(0x0c, "Zoë \"Z\" \\ Nowak")), oid("1.2.840.10045.4.3.2"), NULL)),
      &error);
  g_assert_no_error(error);
  g_assert_cmpstr(
      attrs->subject, ==,
      "CN=Zoë \\\"Z\\\" \\\\ Nowak,OU=\\ #lead and trail\\ ,O=A\\,B\\+C\\;D\\<E\\>F\\=G,"
      "C=PL");
  name = signet_subject_parse(attrs->subject, &error);
  g_assert_no_error(error);
  g_assert_cmpint(X509_NAME_entry_count(name), ==, 4);
  {
    ASN1_STRING *ou = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, 2));

    g_assert_cmpmem(ASN1_STRING_get0_data(ou), ASN1_STRING_length(ou), " #lead and trail ", 17);
  }
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 2);
  g_assert_cmpstr(attrs->oids[0], ==, "1.2.840.113549.1.9.14");
  g_assert_cmpstr(attrs->oids[1], ==, "2.5.4.12");
  g_assert_cmpstr(attrs->hash, ==, "sha256");
  g_assert_true(attrs->challenge_password);
  g_assert_null(attrs->key_type);
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);

  /* An OID OpenSSL has no name for: written dotted. */
  attrs = parse_der(tlv(0x30, cat(attr("2.5.4.97", str(0x0c, "VATPL-1234567890")),
                                  attr("2.5.4.3", str(0x0c, "X")), NULL)),
                    &error);
  g_assert_no_error(error);
  g_assert_cmpstr(attrs->subject, ==, "CN=X,organizationIdentifier=VATPL-1234567890");
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);
  attrs = parse_der(tlv(0x30, attr("2.5.4.99.1", str(0x0c, "x"))), &error);
  g_assert_no_error(error);
  g_assert_cmpstr(attrs->subject, ==, "2.5.4.99.1=x");
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);
}

/* base64 of @der with @tail after it, parsed. */
static SignetEstCsrAttrs *
parse_with_tail(GByteArray *der, const void *tail, gsize tail_len, GError **error)
{
  g_autofree char *b64 = g_base64_encode(der->data, der->len);
  g_autoptr(GByteArray) body = bytes(b64, strlen(b64));
  SignetEstCsrAttrs *attrs;

  g_byte_array_append(body, tail, (guint)tail_len);
  g_byte_array_unref(der);
  attrs = signet_est_csr_attrs_parse(body->data, body->len, error);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
  return attrs;
}

static GByteArray *
integer(const void *be, gsize len)
{
  return tlv(0x02, bytes(be, len));
}

#define ID_EC_PUBLIC_KEY "1.2.840.10045.2.1"
#define RSA_ENCRYPTION   "1.2.840.113549.1.1.1"
#define PRIME256V1       "1.2.840.10045.3.1.7"
#define SECP384R1        "1.3.132.0.34"
#define SECP521R1        "1.3.132.0.35"

/* The key type a CA asks for (RFC 9908): id-ecPublicKey { curve },
 * rsaEncryption { INTEGER bits }, or either bare. */
static void
test_csrattrs_parse_key_type(void)
{
  struct
  {
    const char *what;
    GByteArray *items;
    const char *key_type; /* NULL: none */
    const char *oid;      /* listed in oids, or NULL: nothing listed */
  } cases[] = {
    { "P-256", attr(ID_EC_PUBLIC_KEY, oid(PRIME256V1)), "ec:p256", NULL },
    { "P-384", attr(ID_EC_PUBLIC_KEY, oid(SECP384R1)), "ec:p384", NULL },
    { "P-521: unknown, listed", attr(ID_EC_PUBLIC_KEY, oid(SECP521R1)), NULL, ID_EC_PUBLIC_KEY },
    { "a curve that is not an OID", attr(ID_EC_PUBLIC_KEY, str(0x0c, "P-256")), NULL,
      ID_EC_PUBLIC_KEY },
    { "two curves", attr(ID_EC_PUBLIC_KEY, cat(oid(PRIME256V1), oid(SECP384R1), NULL)), NULL,
      ID_EC_PUBLIC_KEY },
    { "bare id-ecPublicKey", oid(ID_EC_PUBLIC_KEY), "ec", NULL },
    { "bare rsaEncryption", oid(RSA_ENCRYPTION), "rsa", NULL },
    { "RSA 2048", attr(RSA_ENCRYPTION, integer("\x08\x00", 2)), "rsa:2048", NULL },
    { "RSA 3072", attr(RSA_ENCRYPTION, integer("\x0c\x00", 2)), "rsa:3072", NULL },
    { "RSA 4096", attr(RSA_ENCRYPTION, integer("\x10\x00", 2)), "rsa:4096", NULL },
    { "RSA 1024: unknown", attr(RSA_ENCRYPTION, integer("\x04\x00", 2)), NULL, RSA_ENCRYPTION },
    { "RSA -2048", attr(RSA_ENCRYPTION, integer("\xf8\x00", 2)), NULL, RSA_ENCRYPTION },
    { "RSA 2^72+2048",
      attr(RSA_ENCRYPTION, integer("\x01\x00\x00\x00\x00\x00\x00\x00\x08\x00", 10)), NULL,
      RSA_ENCRYPTION },
    { "RSA size as a string", attr(RSA_ENCRYPTION, str(0x13, "2048")), NULL, RSA_ENCRYPTION },
    { "a bare algorithm refined",
      cat(oid(ID_EC_PUBLIC_KEY), attr(ID_EC_PUBLIC_KEY, oid(SECP384R1)), NULL), "ec:p384", NULL },
    { "the first one counts",
      cat(attr(RSA_ENCRYPTION, integer("\x0c\x00", 2)), attr(ID_EC_PUBLIC_KEY, oid(SECP384R1)),
          oid(ID_EC_PUBLIC_KEY), NULL),
      "rsa:3072", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(SignetEstCsrAttrs) attrs = parse_der(tlv(0x30, cases[i].items), &error);

    g_test_message("%s", cases[i].what);
    g_assert_no_error(error);
    g_assert_cmpstr(attrs->key_type, ==, cases[i].key_type);
    g_assert_cmpuint(g_strv_length(attrs->oids), ==, cases[i].oid != NULL ? 1 : 0);
    if (cases[i].oid != NULL)
      g_assert_cmpstr(attrs->oids[0], ==, cases[i].oid);
    g_assert_null(attrs->hash);
    g_assert_false(attrs->challenge_password);
  }
}

/* The hash of the signature algorithm a CA asks for, and challengePassword. */
static void
test_csrattrs_parse_hash(void)
{
  static const struct
  {
    const char *oid;
    const char *hash; /* NULL: not a hash, listed */
  } cases[] = {
    { "1.2.840.10045.4.3.2", "sha256" },   /* ecdsa-with-SHA256 */
    { "1.2.840.10045.4.3.3", "sha384" },   /* ecdsa-with-SHA384 */
    { "1.2.840.10045.4.3.4", "sha512" },   /* ecdsa-with-SHA512 */
    { "1.2.840.113549.1.1.11", "sha256" }, /* sha256WithRSAEncryption */
    { "1.2.840.113549.1.1.12", "sha384" }, /* sha384WithRSAEncryption */
    { "1.2.840.113549.1.1.13", "sha512" }, /* sha512WithRSAEncryption */
    { "1.2.840.113549.1.1.5", "sha1" },    /* sha1WithRSAEncryption */
    { "1.2.840.10045.4.1", "sha1" },       /* ecdsa-with-SHA1 */
    { "1.2.840.113549.1.1.10", NULL },     /* RSASSA-PSS: no hash in the OID */
    { "1.3.101.112", NULL },               /* Ed25519 */
    { "2.16.840.1.101.3.4.3.2", NULL },    /* dsa-with-sha256: not ECDSA or RSA */
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstCsrAttrs) attrs = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    attrs = parse_der(tlv(0x30, oid(cases[i].oid)), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(attrs->hash, ==, cases[i].hash);
    g_assert_cmpuint(g_strv_length(attrs->oids), ==, cases[i].hash == NULL ? 1 : 0);
    g_assert_null(attrs->key_type);
    g_clear_pointer(&attrs, signet_est_csr_attrs_free);
  }

  /* The first signature algorithm named counts. */
  attrs = parse_der(tlv(0x30, cat(oid("1.2.840.10045.4.3.3"), oid("1.2.840.10045.4.3.2"), NULL)),
                    &error);
  g_assert_no_error(error);
  g_assert_cmpstr(attrs->hash, ==, "sha384");
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 0);
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);

  /* challengePassword: bare (RFC 7030's example), or an Attribute with or
   * without a value. */
  attrs = parse_der(tlv(0x30, oid("1.2.840.113549.1.9.7")), &error);
  g_assert_no_error(error);
  g_assert_true(attrs->challenge_password);
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 0);
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);
  attrs = parse_der(tlv(0x30, attr("1.2.840.113549.1.9.7", g_byte_array_new())), &error);
  g_assert_no_error(error);
  g_assert_true(attrs->challenge_password);
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 0);
  g_clear_pointer(&attrs, signet_est_csr_attrs_free);

  /* RFC 7030 4.5.2's example, after a subject. */
  attrs = parse_der(tlv(0x30, cat(attr("2.5.4.3", str(0x0c, "Jan")), oid("1.2.840.113549.1.9.7"),
                                  attr(ID_EC_PUBLIC_KEY, oid(SECP384R1)),
                                  attr("1.2.840.113549.1.9.14", oid("1.3.6.1.1.1.1.22")),
                                  oid("1.2.840.10045.4.3.3"), NULL)),
                    &error);
  g_assert_no_error(error);
  g_assert_cmpstr(attrs->subject, ==, "CN=Jan");
  g_assert_cmpstr(attrs->key_type, ==, "ec:p384");
  g_assert_cmpstr(attrs->hash, ==, "sha384");
  g_assert_true(attrs->challenge_password);
  g_assert_cmpuint(g_strv_length(attrs->oids), ==, 1);
  g_assert_cmpstr(attrs->oids[0], ==, "1.2.840.113549.1.9.14");
}

/* Slack real servers send after the base64 is taken; garbage is not. */
static void
test_csrattrs_parse_slack(void)
{
  static const struct
  {
    const char *tail;
    gsize len;
    gboolean ok;
  } cases[] = {
    { "\0", 1, TRUE },
    { "\n\0", 2, TRUE },
    { "\r\n\0\0", 4, TRUE },
    { "\r\n \t\r\n", 6, TRUE },
    { "\0\n", 2, TRUE },
    { "\0A", 2, FALSE },          /* base64 after a NUL */
    { "x\0", 2, FALSE },          /* not base64 */
    { "\n<html>\n", 8, FALSE },   /* a web page after it */
    { "\0\0\0\0MA==", 8, FALSE }, /* NULs, then more */
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(SignetEstCsrAttrs) attrs = parse_with_tail(
        tlv(0x30, cat(attr("2.5.4.3", str(0x0c, "Jan")), oid("1.2.840.10045.4.3.2"), NULL)),
        cases[i].tail, cases[i].len, &error);

    g_test_message("case %" G_GSIZE_FORMAT, i);
    if (cases[i].ok) {
      g_assert_no_error(error);
      g_assert_cmpstr(attrs->subject, ==, "CN=Jan");
      g_assert_cmpstr(attrs->hash, ==, "sha256");
    } else {
      g_assert_null(attrs);
      g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
    }
  }
  /* A NUL inside the base64, and one before it. */
  {
    static const char inside[] = "MAoGCCqG\0SM49BAMC";
    static const char before[] = "\0MAoGCCqGSM49BAMC";
    g_autoptr(GError) error = NULL;

    g_assert_null(signet_est_csr_attrs_parse((const guint8 *)inside, sizeof inside - 1, &error));
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
    g_clear_error(&error);
    g_assert_null(signet_est_csr_attrs_parse((const guint8 *)before, sizeof before - 1, &error));
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  }
}

static void
test_csrattrs_parse_hostile(void)
{
  static const char *const bodies[] = {
    "not base64!",  "MAA",  /* wrong length */
    "MA==MA==",     "AAAA", /* not a SEQUENCE */
    "MAYGAyoDBA==",         /* the SEQUENCE says 6 bytes, holds 5 */
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) big = g_byte_array_new();

  for (gsize i = 0; i < G_N_ELEMENTS(bodies); i++) {
    g_assert_null(signet_est_csr_attrs_parse((const guint8 *)bodies[i], strlen(bodies[i]), &error));
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
    g_clear_error(&error);
    g_assert_cmpuint(ERR_peek_error(), ==, 0);
  }

  /* An entry that is neither an OID nor an attribute. */
  g_assert_null(parse_der(tlv(0x30, str(0x0c, "x")), &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_clear_error(&error);
  /* Trailing bytes after the SEQUENCE. */
  g_assert_null(parse_der(cat(tlv(0x30, g_byte_array_new()), bytes("\x00", 1), NULL), &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_clear_error(&error);
  /* A control character in a value. */
  g_assert_null(parse_der(tlv(0x30, attr("2.5.4.3", str(0x0c, "a\nb"))), &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_clear_error(&error);
  /* A country that is not two letters: Signet cannot write it back. */
  g_assert_null(parse_der(tlv(0x30, attr("2.5.4.6", str(0x13, "POL"))), &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_test_message("%s", error->message);
  g_clear_error(&error);
  /* An attribute whose value is not a valid string of its type. */
  g_assert_null(parse_der(tlv(0x30, attr("2.5.4.3", tlv(0x1e, bytes("\xd8\x00", 2)))), &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_clear_error(&error);
  /* Too many entries. */
  {
    GByteArray *items = g_byte_array_new();

    for (int i = 0; i < 200; i++) {
      g_autoptr(GByteArray) o = oid("1.2.3.4");

      g_byte_array_append(items, o->data, o->len);
    }
    g_assert_null(parse_der(tlv(0x30, items), &error));
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
    g_clear_error(&error);
  }
  /* Far too long a body. */
  g_byte_array_set_size(big, 100 * 1024);
  memset(big->data, 'A', big->len);
  g_assert_null(signet_est_csr_attrs_parse(big->data, big->len, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_clear_error(&error);
  /* Every prefix of a good answer fails cleanly or parses. */
  {
    g_autoptr(GByteArray) der
        = tlv(0x30, cat(attr("2.5.4.6", str(0x13, "PL")), attr("2.5.4.3", str(0x0c, "Jan")),
                        oid("1.2.840.10045.4.3.2"), NULL));

    for (guint len = 0; len < der->len; len++) {
      g_autoptr(SignetEstCsrAttrs) a = parse_der(bytes(der->data, len), &error);

      g_assert_true(a != NULL || error != NULL);
      if (len > 0) /* only the empty body is "no attributes" */
        g_assert_null(a);
      g_clear_error(&error);
    }
  }
}

/* ---- main --------------------------------------------------------------- */

static gboolean
setup(void)
{
  g_autoptr(GError) error = NULL;
  const char *srcdir = g_getenv("top_srcdir");

  rig.ca_tool
      = g_build_filename(srcdir != NULL ? srcdir : ".", "tests", "ca", "signet-test-ca", NULL);
  if (!g_file_test(rig.ca_tool, G_FILE_TEST_IS_EXECUTABLE)
      || !g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)) {
    if (in_ci())
      g_error("the test CA %s or /usr/bin/python3 is missing, and CI=true", rig.ca_tool);
    g_print("1..0 # SKIP the test CA (%s) or python3 is missing: apt-get install python3 "
            "python3-cryptography\n",
            rig.ca_tool);
    return FALSE;
  }
  /* Nothing from the caller's environment between us and the test CA. */
  for (const char *const *v = (const char *const[]){ "https_proxy", "HTTPS_PROXY", "all_proxy",
                                                     "ALL_PROXY", "no_proxy", "NO_PROXY", NULL };
       *v != NULL; v++)
    g_unsetenv(*v);
  rig.tmp = g_dir_make_tmp("signet-test-est-XXXXXX", &error);
  g_assert_no_error(error);
  rig.ca_dir = g_build_filename(rig.tmp, "ca", NULL);
  ca_start();
  return TRUE;
}

static void
teardown(void)
{
  ca_stop();
  g_clear_pointer(&rig.session, signet_p11_session_free);
  g_clear_pointer(&rig.p11, signet_p11_context_free);
  if (rig.token_dir != NULL)
    signet_test_remove_tree(rig.token_dir);
  if (rig.tmp != NULL)
    signet_test_remove_tree(rig.tmp);
  g_free(rig.token_dir);
  g_free(rig.tmp);
  g_free(rig.ca_dir);
  g_free(rig.ca_tool);
  g_free(rig.url);
  g_free(rig.root);
}

/* ---- EST through the connector seam (signet-connector.h) ----------------- */

/* A profile as the loader makes it, for the test CA; @username: [est]. */
static SignetProfile *
connector_profile(const char *username)
{
  SignetProfile *profile = g_new0(SignetProfile, 1);

  profile->name = g_strdup("test-ca");
  profile->protocol = g_strdup("est");
  profile->url = g_strdup(rig.url);
  profile->trust_anchors = g_strdup(rig.root);
  profile->connect_timeout = 5;
  profile->timeout = 30;
  profile->settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert(profile->settings, g_strdup("username"), g_strdup(username));
  return profile;
}

static void
test_connector_enroll(void)
{
  g_autoptr(SignetProfile) profile = connector_profile("${reference}");
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(GPtrArray) cacerts = NULL;
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Through the seam");
  g_autofree char *ref = NULL;
  g_autoptr(SignetSecret) secret = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  g_autoptr(GError) error = NULL;
  SignetConnectorCode code;

  connector = signet_connector_new(profile, &error);
  g_assert_no_error(error);
  cacerts = signet_connector_ca_certs(connector, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(cacerts->len, >, 0);

  ca_new_code(NULL, &ref, &secret);
  code = (SignetConnectorCode){ ref, secret, "0a1b" };
  answer = signet_connector_enroll(connector, &code, csr, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_true(signet_x509_matches_key(g_ptr_array_index(answer->certs, 0), key));
  g_assert_null(answer->poll_state); /* EST keeps nothing but the request */
  g_clear_pointer(&answer, signet_answer_free);

  /* The code was spent: the same again is the CA's refusal, in words. */
  answer = signet_connector_enroll(connector, &code, csr, NULL, &error);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED);
}

/* [est] username is the HTTP user name: a template the CA does not know
 * as a reference makes it refuse the code. */
static void
test_connector_username(void)
{
  g_autoptr(SignetProfile) right = connector_profile("${reference}");
  g_autoptr(SignetProfile) wrong = connector_profile("user-${serial}");
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Username");
  g_autofree char *ref = NULL;
  g_autoptr(SignetSecret) secret = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  g_autoptr(GError) error = NULL;
  SignetConnectorCode code;

  ca_new_code(NULL, &ref, &secret);
  code = (SignetConnectorCode){ ref, secret, "0a1b" };
  connector = signet_connector_new(wrong, &error);
  g_assert_no_error(error);
  answer = signet_connector_enroll(connector, &code, csr, NULL, &error);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED);
  g_clear_error(&error);
  g_clear_pointer(&connector, signet_connector_free);

  /* The code was not spent by the refusal. */
  connector = signet_connector_new(right, &error);
  g_assert_no_error(error);
  answer = signet_connector_enroll(connector, &code, csr, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
}

/* The connector's subject hint carries the key type, hash and
 * challengePassword; signet_subject_hint_check() holds it against the
 * profile's key type. */
static void
test_connector_subject_hint(void)
{
  g_autoptr(SignetProfile) profile = connector_profile("${reference}");
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(SignetSubjectHint) hint = NULL;
  g_autofree char *ref = NULL;
  g_autoptr(SignetSecret) secret = NULL;
  g_autoptr(GError) error = NULL;
  SignetConnectorCode code;

  profile->key_type = g_strdup("ec:p256");
  connector = signet_connector_new(profile, &error);
  g_assert_no_error(error);
  ca_new_code("CN=Hinted,C=PL", &ref, &secret);
  code = (SignetConnectorCode){ ref, secret, "0a1b" };

  /* The default answer: a subject and ecdsa-with-SHA256, nothing else. */
  hint = signet_connector_subject_hint(connector, &code, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(hint->subject, ==, "CN=Hinted,C=PL");
  g_assert_null(hint->key_type);
  g_assert_cmpstr(hint->hash, ==, "sha256");
  g_assert_false(hint->challenge_password);
  g_assert_true(signet_subject_hint_check(hint, profile->key_type, &error));
  g_assert_no_error(error);
  g_clear_pointer(&hint, signet_subject_hint_free);

  /* An EC P-384 key: not what the profile makes. */
  ca_csrattrs("ec-p384");
  hint = signet_connector_subject_hint(connector, &code, NULL, &error);
  ca_csrattrs("subject");
  g_assert_no_error(error);
  g_assert_cmpstr(hint->subject, ==, "CN=Hinted,C=PL");
  g_assert_cmpstr(hint->key_type, ==, "ec:p384");
  g_assert_cmpstr(hint->hash, ==, "sha384");
  g_assert_true(hint->challenge_password);
  g_assert_cmpuint(g_strv_length(hint->oids), ==, 1);
  g_assert_false(signet_subject_hint_check(hint, profile->key_type, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_nonnull(strstr(error->message, "ec:p384"));
  g_assert_nonnull(strstr(error->message, "ec:p256"));
  g_clear_error(&error);
  g_assert_true(signet_subject_hint_check(hint, "ec:p384", &error));
  g_assert_no_error(error);
}

/* A pending activation is asked about with the code again (EST has no
 * other way); without it the connector says what to do and sends nothing. */
static void
test_connector_poll(void)
{
  g_autoptr(SignetProfile) profile = connector_profile("${reference}");
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Pending");
  g_autofree char *ref = NULL;
  g_autoptr(SignetSecret) secret = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  g_autoptr(GError) error = NULL;
  SignetConnectorCode code;
  SignetConnectorPoll poll = { .csr_pem = csr, .renewal = FALSE };

  connector = signet_connector_new(profile, &error);
  g_assert_no_error(error);
  ca_new_code(NULL, &ref, &secret);
  code = (SignetConnectorCode){ ref, secret, "0a1b" };
  ca_mode("deferred:3600");
  answer = signet_connector_enroll(connector, &code, csr, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_PENDING);
  g_assert_nonnull(answer->retry_at);
  g_clear_pointer(&answer, signet_answer_free);

  answer = signet_connector_poll(connector, &poll, &error);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
  g_assert_nonnull(strstr(error->message, "same reference and code"));
  g_clear_error(&error);

  /* Too early: still pending. At the CA's ready time: issued. */
  poll.code = &code;
  answer = signet_connector_poll(connector, &poll, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_PENDING);
  g_clear_pointer(&answer, signet_answer_free);
  ca_clock("+2h");
  answer = signet_connector_poll(connector, &poll, &error);
  ca_clock("now");
  ca_mode("normal");
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_true(signet_x509_matches_key(g_ptr_array_index(answer->certs, 0), key));
}

/* ---- HTTP authentication as EST servers ask for it (RFC 7030 3.2.3) ------ */

/* The schemes of WWW-Authenticate challenges (RFC 9110 11.6.1): several
 * per header, parameters with quoted commas, a token68, any case. */
static void
test_auth_schemes(void)
{
  static const struct
  {
    const char *values[3];
    SignetHttpAuthSchemes schemes;
  } cases[] = {
    { { NULL }, 0 },
    { { "Basic realm=\"est\"" }, SIGNET_HTTP_AUTH_BASIC },
    { { "digest realm=\"a, Basic b\", nonce=\"x\", qop=\"auth\"" }, SIGNET_HTTP_AUTH_DIGEST },
    { { "Digest realm=\"r\", algorithm=SHA-256", "Digest realm=\"r\", algorithm=MD5" },
      SIGNET_HTTP_AUTH_DIGEST },
    { { "Basic realm=\"x\", Digest realm=\"y\", nonce=\"n\"" },
      SIGNET_HTTP_AUTH_BASIC | SIGNET_HTTP_AUTH_DIGEST },
    { { "Bearer realm=\"x\"", "Negotiate abc==" }, SIGNET_HTTP_AUTH_OTHER },
    { { "Negotiate abc==, Basic realm=\"x\"" }, SIGNET_HTTP_AUTH_OTHER | SIGNET_HTTP_AUTH_BASIC },
    { { "realm=\"orphan\", =, \"unterminated" }, 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    SignetHttpResponse response = { .www_authenticate = (GStrv)cases[i].values };

    g_assert_cmpint(signet_http_response_auth_schemes(&response), ==, cases[i].schemes);
  }
}

/* The CA's renewal credentials in mode reenroll-auth (signet-test-ca). */
#define REENROLL_USER     "estuser"
#define REENROLL_PASSWORD "estpwd"

/* A CA that wants Digest (RFC 7616): the Basic credentials sent first are
 * answered 401 with a Digest challenge, which libcurl's Digest answers
 * (SHA-256, the CA's first choice; MD5 when it offers only that). A wrong
 * code: CODE_REJECTED, saying the CA wanted Digest. */
static void
test_enroll_digest(void)
{
  static const char *const modes[] = { "digest", "digest:md5", "digest:sha-256" };

  for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
    g_autoptr(SignetEst) est = NULL;
    g_autoptr(SignetEst) wrong = est_new();
    g_autoptr(EVP_PKEY) key = ec_key();
    g_autofree char *csr = csr_for(key, "CN=Ignored");
    g_autofree char *ref = NULL;
    g_autoptr(SignetSecret) code = NULL;
    g_autoptr(SignetSecret) bad = signet_secret_new("AAAA-BBBB-CCCC-DDDD", 19);
    g_autoptr(SignetEstCsrAttrs) attrs = NULL;
    g_autoptr(SignetEstResult) result = NULL;
    g_autoptr(GError) error = NULL;

    g_test_message("mode %s", modes[i]);
    ca_mode(modes[i]);
    ca_new_code("CN=Digest Holder,O=Signet Test,C=PL", &ref, &code);

    /* The wrong code for the right reference: refused, the code unspent. */
    signet_est_set_basic_auth(wrong, ref, bad);
    result = signet_est_simple_enroll(wrong, csr, &error);
    g_assert_null(result);
    g_test_message("%s", error->message);
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED);
    g_assert_nonnull(strstr(error->message, "The CA wants HTTP Digest authentication and did "
                                            "not accept the reference number and activation "
                                            "code"));
    g_assert_nonnull(strstr(error->message, "sent with HTTP Digest"));
    g_clear_error(&error);

    est = est_new();
    signet_est_set_basic_auth(est, ref, code);
    attrs = signet_est_get_csr_attrs(est, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(attrs->subject, ==, "CN=Digest Holder,O=Signet Test,C=PL");

    result = signet_est_simple_enroll(est, csr, &error);
    g_assert_no_error(error);
    g_assert_cmpint(result->status, ==, SIGNET_EST_ISSUED);
    g_assert_true(signet_x509_matches_key(g_ptr_array_index(result->certs, 0), key));
    g_clear_pointer(&result, signet_est_result_free);

    /* Spent. */
    result = signet_est_simple_enroll(est, csr, &error);
    g_assert_null(result);
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED);
    g_assert_nonnull(strstr(error->message, "HTTP Digest"));
  }
  ca_mode("normal");
}

/* An enrolled in-memory key and its certificate, and a renewal request for
 * the same subject with a new key. */
static SignetEst *
est_enrolled(EVP_PKEY *key, EVP_PKEY *new_key, X509 **out_cert, char **out_renew_csr)
{
  g_autoptr(SignetEst) est = est_with_code(NULL);
  g_autofree char *csr = csr_for(key, "CN=Ignored");
  g_autofree char *name = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstResult) first = signet_est_simple_enroll(est, csr, &error);
  X509 *cert;

  g_assert_no_error(error);
  cert = g_ptr_array_index(first->certs, 0);
  g_assert_true(signet_est_set_client_identity(est, cert, key, &error));
  g_assert_no_error(error);
  name = signet_x509_name_to_string(X509_get_subject_name(cert));
  *out_renew_csr = csr_for(new_key, name);
  X509_up_ref(cert);
  *out_cert = cert;
  return g_steal_pointer(&est);
}

/* A CA that wants HTTP credentials on /simplereenroll besides the client
 * certificate: without them, the message says so (the scheme, the profile
 * keys to ask for), not that the certificate was refused; the wrong ones
 * are named as such; the right ones renew. A 401 without a challenge still
 * means the certificate. */
static void
test_reenroll_http_auth(void)
{
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autoptr(EVP_PKEY) new_key = ec_key();
  g_autoptr(X509) cert = NULL;
  g_autofree char *renew_csr = NULL;
  g_autoptr(SignetEst) est = est_enrolled(key, new_key, &cert, &renew_csr);
  g_autoptr(SignetSecret) right = signet_secret_new(REENROLL_PASSWORD, strlen(REENROLL_PASSWORD));
  g_autoptr(SignetSecret) wrong = signet_secret_new("guess", 5);
  g_autoptr(SignetEstResult) result = NULL;
  g_autoptr(GError) error = NULL;

  ca_mode("reenroll-auth");
  result = signet_est_simple_reenroll(est, renew_csr, &error);
  g_assert_null(result);
  g_test_message("%s", error->message);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "The CA wants HTTP Basic authentication for renewal"));
  g_assert_nonnull(strstr(error->message, "[est] reenroll-username and reenroll-password"));
  g_assert_null(strstr(error->message, "did not accept the current certificate"));
  g_clear_error(&error);

  signet_est_set_reenroll_auth(est, REENROLL_USER, wrong);
  result = signet_est_simple_reenroll(est, renew_csr, &error);
  g_assert_null(result);
  g_test_message("%s", error->message);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "did not accept the profile's credentials"));
  g_assert_nonnull(strstr(error->message, "sent with HTTP Basic"));
  g_clear_error(&error);

  /* The enrollment's code credentials are not the renewal's. */
  signet_est_set_reenroll_auth(est, NULL, NULL);
  result = signet_est_simple_reenroll(est, renew_csr, &error);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_clear_error(&error);

  signet_est_set_reenroll_auth(est, REENROLL_USER, right);
  result = signet_est_simple_reenroll(est, renew_csr, &error);
  g_assert_no_error(error);
  g_assert_cmpint(result->status, ==, SIGNET_EST_ISSUED);
  g_assert_true(signet_x509_matches_key(g_ptr_array_index(result->certs, 0), new_key));
  g_clear_pointer(&result, signet_est_result_free);

  /* 401 without WWW-Authenticate: the certificate, as before. */
  ca_mode("http-401");
  result = signet_est_simple_reenroll(est, renew_csr, &error);
  ca_mode("normal");
  g_assert_null(result);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "did not accept the current certificate"));
}

/* [est] reenroll-username / reenroll-password reach the CA through the
 * connector: on a renewal and on the background poll (no client identity)
 * of a renewal the CA answered pending. */
static void
test_connector_reenroll_auth(void)
{
  g_autoptr(SignetProfile) plain = connector_profile("${reference}");
  g_autoptr(SignetProfile) with_auth = connector_profile("${reference}");
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(SignetConnector) without = NULL;
  g_autoptr(EVP_PKEY) key = ec_key();
  g_autoptr(EVP_PKEY) new_key = ec_key();
  g_autoptr(EVP_PKEY) third_key = ec_key();
  g_autofree char *csr = csr_for(key, "CN=Ignored");
  g_autofree char *renew_csr = NULL;
  g_autofree char *third_csr = NULL;
  g_autofree char *ref = NULL;
  g_autofree char *name = NULL;
  g_autoptr(SignetSecret) secret = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  g_autoptr(GError) error = NULL;
  SignetConnectorCode code;
  SignetConnectorIdentity identity;
  SignetConnectorPoll poll = { .renewal = TRUE };

  g_hash_table_insert(with_auth->settings, g_strdup("reenroll-username"), g_strdup(REENROLL_USER));
  g_hash_table_insert(with_auth->settings, g_strdup("reenroll-password"),
                      g_strdup(REENROLL_PASSWORD));
  connector = signet_connector_new(with_auth, &error);
  g_assert_no_error(error);
  without = signet_connector_new(plain, &error);
  g_assert_no_error(error);

  ca_new_code(NULL, &ref, &secret);
  code = (SignetConnectorCode){ ref, secret, "0a1b" };
  answer = signet_connector_enroll(connector, &code, csr, NULL, &error);
  g_assert_no_error(error);
  identity = (SignetConnectorIdentity){ g_ptr_array_index(answer->certs, 0), key };
  X509_up_ref(identity.cert);
  name = signet_x509_name_to_string(X509_get_subject_name(identity.cert));
  renew_csr = csr_for(new_key, name);
  third_csr = csr_for(third_key, name);
  g_clear_pointer(&answer, signet_answer_free);

  ca_mode("reenroll-auth");
  answer = signet_connector_reenroll(without, &identity, renew_csr, NULL, &error);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "reenroll-username"));
  g_clear_error(&error);

  answer = signet_connector_reenroll(connector, &identity, renew_csr, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_true(signet_x509_matches_key(g_ptr_array_index(answer->certs, 0), new_key));
  g_clear_pointer(&answer, signet_answer_free);

  /* A renewal the CA defers, then asks credentials for on every request:
   * the background poll (no PIN, no client identity) sends them too. */
  ca_mode("deferred:3600");
  answer = signet_connector_reenroll(connector, &identity, third_csr, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_PENDING);
  g_clear_pointer(&answer, signet_answer_free);
  ca_mode("reenroll-auth");
  poll.csr_pem = third_csr;
  answer = signet_connector_poll(without, &poll, &error);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "wants HTTP Basic authentication"));
  g_clear_error(&error);
  ca_clock("+2h");
  answer = signet_connector_poll(connector, &poll, &error);
  ca_clock("now");
  ca_mode("normal");
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_true(signet_x509_matches_key(g_ptr_array_index(answer->certs, 0), third_key));
  X509_free(identity.cert);
}

int
main(int argc, char **argv)
{
  int ret;

  g_test_init(&argc, &argv, NULL);
  /* Parser tests need no CA. */
  g_test_add_func("/est/csrattrs/parse", test_csrattrs_parse);
  g_test_add_func("/est/csrattrs/parse-hostile", test_csrattrs_parse_hostile);
  g_test_add_func("/est/csrattrs/parse-key-type", test_csrattrs_parse_key_type);
  g_test_add_func("/est/csrattrs/parse-hash", test_csrattrs_parse_hash);
  g_test_add_func("/est/csrattrs/parse-slack", test_csrattrs_parse_slack);
  if (!setup())
    return 0;
  g_test_add_func("/est/new/checks", test_new_checks);
  g_test_add_func("/est/cacerts", test_cacerts);
  g_test_add_func("/est/csrattrs/subject", test_csrattrs);
  g_test_add_func("/est/csrattrs/credentials", test_csrattrs_credentials);
  g_test_add_func("/est/csrattrs/canned", test_csrattrs_canned);
  g_test_add_func("/est/enroll/issued-then-used", test_enroll);
  g_test_add_func("/est/enroll/expired", test_enroll_expired);
  g_test_add_func("/est/enroll/bad-csr", test_enroll_bad_csr);
  g_test_add_func("/est/enroll/deferred", test_enroll_deferred);
  g_test_add_func("/est/enroll/http-errors", test_enroll_http_errors);
  g_test_add_func("/est/enroll/wrong-key", test_enroll_wrong_key);
  g_test_add_func("/est/enroll/timeout", test_timeout);
  g_test_add_func("/est/enroll/hostile", test_enroll_hostile);
  g_test_add_func("/est/enroll/slow-loris", test_slow_loris);
  g_test_add_func("/est/tls/wrong-trust-anchor", test_wrong_trust_anchor);
  g_test_add_func("/est/tls/system-store", test_system_store);
  g_test_add_func("/est/tls/host-name", test_host_name_checked);
  g_test_add_func("/est/net/connect", test_connect);
  g_test_add_func("/est/net/connect-timeout", test_connect_timeout);
  g_test_add_func("/est/net/tls-stall", test_tls_stall);
  g_test_add_func("/est/net/tls-broken", test_tls_broken);
  g_test_add_func("/est/net/resolve", test_resolve);
  g_test_add_func("/est/net/not-found", test_not_found);
  g_test_add_func("/est/net/proxy", test_proxy_from_environment);
  for (gsize i = 0; i < G_N_ELEMENTS(reenroll_cases); i++) {
    const ReenrollCase *c = &reenroll_cases[i];
    g_autofree char *path
        = g_strdup_printf("/est/reenroll/token-%s-tls1.%u",
                          c->type == SIGNET_P11_KEY_EC_P256 ? "ec-p256" : "rsa-2048", c->tls % 10);

    g_test_add_data_func(path, c, test_reenroll_token);
  }
  g_test_add_func("/est/reenroll/without-identity", test_reenroll_without_identity);
  g_test_add_data_func("/est/reenroll/foreign-certificate-tls1.2", GUINT_TO_POINTER(12),
                       test_reenroll_foreign_certificate);
  g_test_add_data_func("/est/reenroll/foreign-certificate-tls1.3", GUINT_TO_POINTER(13),
                       test_reenroll_foreign_certificate);
  g_test_add_func("/est/reenroll/refused", test_reenroll_refused);
  g_test_add_func("/est/connector/enroll", test_connector_enroll);
  g_test_add_func("/est/connector/username", test_connector_username);
  g_test_add_func("/est/connector/poll", test_connector_poll);
  g_test_add_func("/est/auth/schemes", test_auth_schemes);
  g_test_add_func("/est/auth/enroll-digest", test_enroll_digest);
  g_test_add_func("/est/auth/reenroll-http-auth", test_reenroll_http_auth);
  g_test_add_func("/est/connector/reenroll-auth", test_connector_reenroll_auth);
  g_test_add_func("/est/connector/subject-hint", test_connector_subject_hint);
  ret = g_test_run();
  teardown();
  return ret;
}
