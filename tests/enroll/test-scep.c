/* test-scep.c: the SCEP connector (enroll/signet-scep-connector.c) through
 * the seam, against a real SCEP CA: Debian's scepserver (package scep),
 * behind a TLS relay (tests/ca/tls-relay.py; the product speaks https
 * only, scepserver plain HTTP).
 *
 * scepserver listens on every interface and cannot bind loopback, so this
 * program runs itself again in a network namespace that has only loopback
 * (unshare -n; root, as CI runs; without root it skips, saying why). Two
 * scepservers on copies of one CA: one with a challenge (the activation
 * code), one without for the RenewalReq, which scepserver would otherwise
 * check the challenge of too.
 *
 * The key is an RSA key that decrypts, generated on a throwaway SoftHSM2
 * token and bound to OpenSSL by Signet's token layer (pkcs11/, signet_p11_*)
 * as the agent hands it over: the request is signed, and the CA's
 * DES-enveloped answer decrypted, on the token. A small fake CA (scepserver's
 * CA key, in a thread, behind the same relay) answers what scepserver never
 * does: PENDING, FAILURE badTime, another nonce, a forged signature
 * (tests/ca/signet-scep-fake.c, which tests/ca/signet-test-scep-ca serves
 * to the agent's tests).
 */
#include "config.h"

#include "common/signet-openssl-util.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-x509.h"
#include "pkcs11/signet-p11.h"
#include "tests/ca/signet-scep-fake.h"
#include "tests/testutil/signet-test-util.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <openssl/err.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Throwaway test token and test code only. */
#define PIN          "123456"
#define SO_PIN       "12345678"
#define CODE         "K7Q2-ZP4M-SCEP"
#define PORT_CODE    18080 /* the namespace is ours: any port is free */
#define PORT_RENEWAL 18081

typedef struct
{
  GSubprocess *proc;
  guint port;
} Served;

static struct
{
  char *dir;
  char *anchors;  /* TLS root + scepserver's CA */
  char *tls_only; /* the TLS root alone */
  char *ca_pem;   /* scepserver's CA */
  const char *module;
  SignetP11Context *p11;
  SignetP11Session *session; /* logged in; outlives key */
  EVP_PKEY *key;             /* on the token, bound to session */
  EVP_PKEY *pub;
  X509 *issued; /* by test_enroll, for test_reenroll */
  Served scep_code, scep_renewal, relay_code, relay_renewal;
  Served relay_legacy; /* answers GetCACaps with nothing */
  Served relay_fake;   /* in front of the fake CA below */
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
  (void)data;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void
serve(Served *s, const char *const *argv, guint port)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_set_cwd(launcher, rig.dir);
  g_subprocess_launcher_set_child_setup(launcher, on_child_setup, NULL, NULL);
  s->proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
  g_assert_no_error(error);
  s->port = port;
}

/* The relay in front of @target, on a free port it prints; with @caps,
 * it answers GetCACaps itself with them. */
static void
relay(Served *s, guint target, const char *caps)
{
  const char *top = g_getenv("top_srcdir");
  g_autofree char *script
      = g_build_filename(top != NULL ? top : ".", "tests", "ca", "tls-relay.py", NULL);
  g_autofree char *target_text = g_strdup_printf("%u", target);
  const char *argv[] = { "/usr/bin/python3",
                         script,
                         "--cert",
                         "tls.pem",
                         "--key",
                         "tls.key",
                         "--target",
                         target_text,
                         caps != NULL ? "--caps" : NULL,
                         caps,
                         NULL };
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  g_subprocess_launcher_set_cwd(launcher, rig.dir);
  g_subprocess_launcher_set_child_setup(launcher, on_child_setup, NULL, NULL);
  s->proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
  g_assert_no_error(error);
  in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(s->proc));
  line = g_data_input_stream_read_line(in, NULL, NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(line);
  g_assert_true(g_str_has_prefix(line, "listening on "));
  s->port = (guint)g_ascii_strtoull(line + 13, NULL, 10);
  g_assert_cmpuint(s->port, >, 0);
}

static void
stop(Served *s)
{
  if (s->proc == NULL)
    return;
  g_subprocess_send_signal(s->proc, SIGTERM);
  g_subprocess_wait(s->proc, NULL, NULL);
  g_clear_object(&s->proc);
}

/* scepserver answers GetCACaps (at most 10 s). */
static void
wait_scep(guint port)
{
  g_autofree char *url = g_strdup_printf("http://127.0.0.1:%u/scep?operation=GetCACaps", port);
  const char *argv[] = { "curl", "-sf", "-o", "/dev/null", url, NULL };

  for (int i = 0; i < 200; i++) {
    int status = 0;

    if (g_spawn_sync(NULL, (char **)argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL)
        && g_spawn_check_wait_status(status, NULL))
      return;
    g_usleep(50000);
  }
  g_error("scepserver did not start on port %u", port);
}

static SignetProfile *
profile_new(guint port, const char *anchors, const char *key_type)
{
  SignetProfile *profile = g_new0(SignetProfile, 1);

  profile->name = g_strdup("test-scep");
  profile->display_name = g_strdup("Test SCEP CA");
  profile->protocol = g_strdup("scep");
  profile->url = g_strdup_printf("https://127.0.0.1:%u/scep", port);
  profile->trust_anchors = g_strdup(anchors);
  profile->key_type = g_strdup(key_type);
  profile->connect_timeout = 5;
  profile->timeout = 30;
  return profile;
}

static char *
csr_with(const char *challenge)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(X509_NAME) name = signet_subject_parse("CN=Jan Kowalski,O=Example", &error);
  SignetCsrOptions options = {
    .challenge_password = (const guint8 *)challenge,
    .challenge_password_len = challenge != NULL ? strlen(challenge) : 0,
  };
  char *pem;

  g_assert_no_error(error);
  pem = signet_csr_build_pem_with(rig.key, rig.pub, name, &options, &error);
  g_assert_no_error(error);
  return pem;
}

static X509 *
load_ca(void)
{
  g_autoptr(BIO) bio = BIO_new_file(rig.ca_pem, "r");

  return PEM_read_bio_X509(bio, NULL, NULL, NULL);
}

static SignetAnswer *
enroll_with(const char *challenge, EVP_PKEY *key, GError **error)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_code.port, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, error);
  g_autofree char *csr = csr_with(challenge);
  g_autoptr(SignetSecret) secret = signet_secret_new(CODE, strlen(CODE));
  SignetConnectorCode code = { "REF-1", secret, "0a" };

  g_assert_nonnull(connector);
  return signet_connector_enroll(connector, &code, csr, key, error);
}

/* ---- the tests ------------------------------------------------------------ */

/* GetCACert: scepserver's CA alone, over TLS verified with the anchors. */
static void
test_ca_certs(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_code.port, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) ca = load_ca();

  g_assert_nonnull(connector);
  certs = signet_connector_ca_certs(connector, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(certs->len, ==, 1);
  g_assert_cmpint(X509_cmp(g_ptr_array_index(certs, 0), ca), ==, 0);
}

/* A CA certificate that does not chain to the profile's ca-roots: refused
 * before any request is made. */
static void
test_untrusted_ca(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_code.port, rig.tls_only, "rsa:2048");
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GError) error = NULL;

  profile->ca_roots = g_strdup(rig.tls_only); /* a root that did not issue it */
  connector = signet_connector_new(profile, NULL);
  g_assert_nonnull(connector);
  certs = signet_connector_ca_certs(connector, &error);
  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH);
  g_assert_nonnull(strstr(error->message, "CA roots"));
  g_clear_error(&error);
  /* Its own root as ca-roots: accepted. */
  g_free(profile->ca_roots);
  profile->ca_roots = g_strdup(rig.ca_pem);
  g_clear_pointer(&connector, signet_connector_free);
  connector = signet_connector_new(profile, NULL);
  certs = signet_connector_ca_certs(connector, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(certs->len, ==, 1);
}

/* The hint asks for an RSA key and, for an enrollment only, the code as
 * challengePassword; no I/O. */
static void
test_subject_hint(void)
{
  g_autoptr(SignetProfile) profile = profile_new(1, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autoptr(SignetSecret) secret = signet_secret_new(CODE, strlen(CODE));
  SignetConnectorCode code = { "REF-1", secret, "0a" };
  SignetConnectorIdentity identity = { NULL, NULL };
  g_autoptr(SignetSubjectHint) first = NULL;
  g_autoptr(SignetSubjectHint) renewal = NULL;
  g_autoptr(GError) error = NULL;

  first = signet_connector_subject_hint(connector, &code, NULL, &error);
  g_assert_no_error(error);
  g_assert_true(first->challenge_password);
  g_assert_cmpstr(first->key_type, ==, "rsa");
  g_assert_true(signet_subject_hint_check(first, "rsa:2048", NULL));
  g_assert_false(signet_subject_hint_check(first, "ec:p256", NULL));
  renewal = signet_connector_subject_hint(connector, NULL, &identity, &error);
  g_assert_no_error(error);
  g_assert_false(renewal->challenge_password);
}

/* PKCSReq with the code as challengePassword, signed on the token; the
 * DES-enveloped CertRep decrypted on the token: issued, leaf first. */
static void
test_enroll(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = enroll_with(CODE, rig.key, &error);
  g_autoptr(X509) ca = load_ca();
  X509 *leaf;

  g_assert_no_error(error);
  g_assert_nonnull(answer);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_cmpuint(answer->certs->len, >=, 2);
  leaf = g_ptr_array_index(answer->certs, 0);
  g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(leaf), rig.pub), ==, 1);
  g_assert_cmpint(X509_verify(leaf, X509_get0_pubkey(ca)), ==, 1);
  /* scepserver envelopes with single DES whatever it offers: said. */
  g_assert_nonnull(answer->message);
  g_assert_nonnull(strstr(answer->message, "legacy"));
  /* … and which: DES for the envelope, SHA-1 for its signature (it offers
   * AES and SHA-256, which the request used). */
  g_assert_cmpstr(answer->legacy_algorithms, ==, "DES, SHA-1");
  X509_up_ref(leaf);
  rig.issued = leaf;
}

/* A CA that offers nothing in GetCACaps: the legacy algorithms (3DES,
 * SHA-1) and GET with base64, which scepserver takes too; said in the
 * answer's message. */
static void
test_legacy(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_legacy.port, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autofree char *csr = csr_with(CODE);
  g_autoptr(SignetSecret) secret = signet_secret_new(CODE, strlen(CODE));
  SignetConnectorCode code = { "REF-1", secret, "0a" };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = signet_connector_enroll(connector, &code, csr, rig.key, &error);

  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(g_ptr_array_index(answer->certs, 0)), rig.pub), ==,
                  1);
  g_assert_nonnull(answer->message);
  g_assert_nonnull(strstr(answer->message, "only legacy SCEP algorithms (3DES, SHA-1)"));
  /* The request's 3DES and SHA-1, and scepserver's DES. */
  g_assert_cmpstr(answer->legacy_algorithms, ==, "3DES, SHA-1, DES");
}

static void
test_wrong_code(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = enroll_with("WRONG-CODE", rig.key, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED);
  g_assert_nonnull(strstr(error->message, "badRequest"));
  g_assert_nonnull(strstr(error->message, "activation code"));
}

/* Without the request's key on the token nothing is sent. */
static void
test_no_key(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = enroll_with(CODE, NULL, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
}

/* An EC profile: refused when the connector is made, before any I/O. */
static void
test_ec_profile(void)
{
  g_autoptr(SignetProfile) profile = profile_new(1, rig.anchors, "ec:p256");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, &error);

  g_assert_null(connector);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_nonnull(strstr(error->message, "SCEP needs an RSA key"));
}

/* RenewalReq signed with the current certificate and its key (kept here),
 * answered enveloped to that key. */
static void
test_reenroll(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_renewal.port, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autofree char *csr = csr_with(NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  SignetConnectorIdentity identity = { rig.issued, rig.key };
  g_autoptr(X509) ca = load_ca();
  X509 *leaf;

  g_assert_nonnull(rig.issued);
  answer = signet_connector_reenroll(connector, &identity, csr, rig.key, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_ISSUED);
  leaf = g_ptr_array_index(answer->certs, 0);
  g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(leaf), rig.pub), ==, 1);
  /* (Not compared with the first certificate: the renewal CA is a copy of
   * the first, same serial counter, and RSA signatures are deterministic,
   * so within the same second it may issue the very same bytes.) */
  g_assert_cmpint(X509_verify(leaf, X509_get0_pubkey(ca)), ==, 1);
}

/* A renewal whose current key is not RSA (the answer could not be
 * decrypted): refused before anything is sent. */
static void
test_reenroll_ec_identity(void)
{
  g_autoptr(SignetProfile) profile = profile_new(PORT_RENEWAL + 1, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autofree char *csr = csr_with(NULL);
  g_autoptr(EVP_PKEY) ec = EVP_EC_gen("P-256");
  g_autoptr(X509) ca = load_ca();
  SignetConnectorIdentity identity = { ca, ec };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;

  g_assert_nonnull(ec);
  answer = signet_connector_reenroll(connector, &identity, csr, rig.key, &error);
  g_assert_null(answer);
  /* PROFILE, not CONNECT: nothing listens there, and nothing was tried. */
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_nonnull(strstr(error->message, "RSA key"));
}

/* A pending renewal is asked about only with the current key at hand. */
static void
test_poll_without_identity(void)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_code.port, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autofree char *csr = csr_with(NULL);
  SignetConnectorPoll poll = { .csr_pem = csr, .renewal = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = signet_connector_poll(connector, &poll, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
}

/* Nothing listens: the CA down, "try later". */
static void
test_unreachable(void)
{
  g_autoptr(SignetProfile) profile = profile_new(PORT_RENEWAL + 1, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, NULL);
  g_autofree char *csr = csr_with(CODE);
  g_autoptr(SignetSecret) secret = signet_secret_new(CODE, strlen(CODE));
  SignetConnectorCode code = { "REF-1", secret, "0a" };
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = signet_connector_enroll(connector, &code, csr, rig.key, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CONNECT);
}

/* ---- a fake SCEP CA, for what scepserver never answers ---------------------- */

/* Behind the same relay, with scepserver's CA certificate and key: it
 * answers GetCACaps and GetCACert itself, and a PKIOperation as its mode
 * says: PENDING to a PKCSReq then the certificate to the CertPoll, a
 * FAILURE badTime, another recipientNonce, or an answer signed by a key
 * that is not the CA's. The answers are tests/ca/signet-scep-fake.c's,
 * which tests/ca/signet-test-scep-ca serves to the agent's tests too; here
 * in a thread. */
static struct
{
  int listen_fd;
  int stop[2];
  guint port;
  GThread *thread;
  SignetScepFake *ca;
} fake;

static gpointer
fake_main(gpointer data)
{
  (void)data;
  for (;;) {
    struct pollfd fds[2] = { { fake.listen_fd, POLLIN, 0 }, { fake.stop[0], POLLIN, 0 } };
    int client;

    if (poll(fds, 2, -1) < 0 || fds[1].revents != 0)
      break;
    client = accept(fake.listen_fd, NULL, NULL);
    if (client < 0)
      continue;
    signet_scep_fake_serve(fake.ca, client, NULL);
    close(client);
  }
  return NULL;
}

static X509 *
load_pem_cert(const char *path)
{
  g_autoptr(BIO) bio = BIO_new_file(path, "r");

  return bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
}

static EVP_PKEY *
load_pem_key(const char *path)
{
  g_autoptr(BIO) bio = BIO_new_file(path, "r");

  /* scepserver's CA key is encrypted with its -capass, empty by default. */
  return bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
}

static void
fake_start(void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  g_autofree char *key = g_build_filename(rig.dir, "depot", "ca.key", NULL);
  g_autofree char *other = g_build_filename(rig.dir, "other.pem", NULL);
  g_autofree char *other_key = g_build_filename(rig.dir, "other.key", NULL);
  const char *make_other[]
      = { "openssl", "req",       "-x509", "-newkey",   "rsa:2048", "-nodes",
          "-keyout", "other.key", "-out",  "other.pem", "-subj",    "/CN=Not The SCEP CA",
          "-days",   "2",         NULL };

  g_autoptr(X509) ca = NULL;
  g_autoptr(EVP_PKEY) ca_key = NULL;
  g_autoptr(X509) forger = NULL; /* a self-signed certificate that is not the CA's */
  g_autoptr(EVP_PKEY) forger_key = NULL;

  run(make_other);
  ca = load_pem_cert(rig.ca_pem);
  ca_key = load_pem_key(key);
  forger = load_pem_cert(other);
  forger_key = load_pem_key(other_key);
  g_assert_nonnull(ca);
  g_assert_nonnull(ca_key);
  g_assert_nonnull(forger);
  g_assert_nonnull(forger_key);
  fake.ca = signet_scep_fake_new(ca, ca_key);
  signet_scep_fake_set_forger(fake.ca, forger, forger_key);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fake.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint(fake.listen_fd, >=, 0);
  g_assert_cmpint(bind(fake.listen_fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint(listen(fake.listen_fd, 8), ==, 0);
  g_assert_cmpint(getsockname(fake.listen_fd, (struct sockaddr *)&addr, &len), ==, 0);
  fake.port = ntohs(addr.sin_port);
  g_assert_cmpint(pipe(fake.stop), ==, 0);
  fake.thread = g_thread_new("fake-scep", fake_main, NULL);
}

static void
fake_stop(void)
{
  if (fake.thread == NULL)
    return;
  g_assert_cmpint(write(fake.stop[1], "x", 1), ==, 1);
  g_thread_join(fake.thread);
  close(fake.stop[0]);
  close(fake.stop[1]);
  close(fake.listen_fd);
  g_clear_pointer(&fake.ca, signet_scep_fake_free);
}

static SignetAnswer *
fake_enroll(SignetScepFakeMode mode, GError **error)
{
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_fake.port, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = signet_connector_new(profile, error);
  g_autofree char *csr = csr_with(CODE);
  g_autoptr(SignetSecret) secret = signet_secret_new(CODE, strlen(CODE));
  SignetConnectorCode code = { "REF-1", secret, "0a" };

  g_assert_nonnull(connector);
  signet_scep_fake_set_mode(fake.ca, mode);
  return signet_connector_enroll(connector, &code, csr, rig.key, error);
}

/* PENDING → SIGNET_ANSWER_PENDING in 5 minutes; the poll (CertPoll, a new
 * connector as after a restart) gets the certificate. */
static void
test_pending(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = NULL;
  g_autoptr(SignetAnswer) issued = NULL;
  g_autoptr(GDateTime) before = g_date_time_new_now_utc();
  g_autoptr(SignetProfile) profile = profile_new(rig.relay_fake.port, rig.anchors, "rsa:2048");
  g_autoptr(SignetConnector) connector = NULL;
  g_autofree char *csr = csr_with(CODE);
  SignetConnectorPoll poll = { .csr_pem = csr, .request_key = rig.key, .renewal = FALSE };
  guint pkcsreqs = signet_scep_fake_count(fake.ca, "19");
  guint polls = signet_scep_fake_count(fake.ca, "20");

  answer = fake_enroll(SIGNET_SCEP_FAKE_PENDING, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_PENDING);
  g_assert_null(answer->poll_state);
  g_assert_cmpint(g_date_time_difference(answer->retry_at, before), >=, 299 * G_TIME_SPAN_SECOND);
  connector = signet_connector_new(profile, &error);
  g_assert_no_error(error);
  issued = signet_connector_poll(connector, &poll, &error);
  g_assert_no_error(error);
  g_assert_cmpint(issued->status, ==, SIGNET_ANSWER_ISSUED);
  g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(g_ptr_array_index(issued->certs, 0)), rig.pub), ==,
                  1);
  g_assert_cmpuint(signet_scep_fake_count(fake.ca, "19"), ==, pkcsreqs + 1);
  g_assert_cmpuint(signet_scep_fake_count(fake.ca, "20"), ==, polls + 1);
  /* AES both ways: nothing legacy to say. */
  g_assert_null(issued->message);
  g_assert_null(issued->legacy_algorithms);
}

static void
test_bad_time(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = fake_enroll(SIGNET_SCEP_FAKE_BAD_TIME, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED);
  g_assert_nonnull(strstr(error->message, "badTime"));
  g_assert_nonnull(strstr(error->message, "date and time"));
}

/* An answer to another request (its recipientNonce is not our nonce). */
static void
test_wrong_nonce(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = fake_enroll(SIGNET_SCEP_FAKE_WRONG_NONCE, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_assert_nonnull(strstr(error->message, "recipientNonce"));
}

/* An answer signed by a certificate it carries itself, not the CA's. */
static void
test_forged(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAnswer) answer = fake_enroll(SIGNET_SCEP_FAKE_FORGED, &error);

  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_assert_nonnull(strstr(error->message, "not signed by the CA"));
}

/* ---- the rig ---------------------------------------------------------------- */

static gboolean
setup(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) pin = signet_secret_new(PIN, strlen(PIN));
  g_autoptr(SignetP11Token) token = NULL;
  g_autoptr(GPtrArray) pairs = NULL;
  g_autoptr(GBytes) id = NULL;
  g_autofree char *ext = NULL;
  g_autofree char *tls_root = NULL;
  g_autofree char *scep_ca = NULL;
  g_autofree char *both = NULL;
  g_autofree char *depot = NULL;
  g_autofree char *depot2 = NULL;

  rig.module = g_getenv("SOFTHSM2_MODULE") != NULL ? g_getenv("SOFTHSM2_MODULE")
                                                   : "/usr/lib/softhsm/libsofthsm2.so";
  rig.dir = signet_test_softhsm_dir("signet-test-scep");
  depot = g_build_filename(rig.dir, "depot", NULL);
  depot2 = g_build_filename(rig.dir, "depot-renewal", NULL);
  rig.ca_pem = g_build_filename(depot, "ca.pem", NULL);
  rig.tls_only = g_build_filename(rig.dir, "root.pem", NULL);
  rig.anchors = g_build_filename(rig.dir, "anchors.pem", NULL);
  ext = g_build_filename(rig.dir, "tls.ext", NULL);
  g_file_set_contents(ext, "subjectAltName = IP:127.0.0.1\n", -1, &error);
  g_assert_no_error(error);
  {
    const char *ca_init[]
        = { "scepserver", "ca", "-init", "-depot", "depot", "-keySize", "2048", NULL };
    const char *copy[] = { "cp", "-r", "depot", "depot-renewal", NULL };
    const char *root[] = { "openssl",
                           "req",
                           "-x509",
                           "-newkey",
                           "ec",
                           "-pkeyopt",
                           "ec_paramgen_curve:P-256",
                           "-nodes",
                           "-keyout",
                           "root.key",
                           "-out",
                           "root.pem",
                           "-subj",
                           "/CN=Signet SCEP TLS Root",
                           "-days",
                           "30",
                           NULL };
    const char *tls_req[] = {
      "openssl", "req",     "-new",    "-newkey", "ec",      "-pkeyopt", "ec_paramgen_curve:P-256",
      "-nodes",  "-keyout", "tls.key", "-out",    "tls.csr", "-subj",    "/CN=127.0.0.1",
      NULL
    };
    const char *tls[]
        = { "openssl",  "x509", "-req",    "-in",   "tls.csr", "-CA",      "root.pem", "-CAkey",
            "root.key", "-out", "tls.pem", "-days", "30",      "-extfile", "tls.ext",  NULL };

    run(ca_init);
    run(copy);
    run(root);
    run(tls_req);
    run(tls);
    signet_test_softhsm_init_token("SCEP Test", PIN, SO_PIN);
  }
  g_file_get_contents(rig.tls_only, &tls_root, NULL, &error);
  g_assert_no_error(error);
  g_file_get_contents(rig.ca_pem, &scep_ca, NULL, &error);
  g_assert_no_error(error);
  both = g_strconcat(tls_root, scep_ca, NULL);
  g_file_set_contents(rig.anchors, both, -1, &error);
  g_assert_no_error(error);

  /* An RSA 2048 key pair generated on the token as the agent makes one for
   * SCEP (CKA_SIGN and CKA_DECRYPT), its private key bound to OpenSSL:
   * the request's signature is C_Sign, the answer's envelope C_Decrypt,
   * on the token. */
  rig.p11 = signet_p11_context_new(rig.module, SIGNET_P11_UNBLOCK_UNKNOWN, &error);
  g_assert_no_error(error);
  token = signet_p11_context_find_token(rig.p11, "SCEP Test", &error);
  g_assert_no_error(error);
  g_assert_true(signet_p11_token_check_decrypt(token, SIGNET_P11_KEY_RSA_2048, "SCEP", &error));
  g_assert_no_error(error);
  rig.session = signet_p11_session_open(rig.p11, token, &error);
  g_assert_no_error(error);
  g_assert_true(signet_p11_session_login(rig.session, pin, FALSE, &error));
  g_assert_no_error(error);
  id = signet_p11_new_key_id(&error);
  g_assert_no_error(error);
  g_assert_true(signet_p11_session_generate_decrypting_key_pair_with_id(
      rig.session, SIGNET_P11_KEY_RSA_2048, "scep", id, &error));
  g_assert_no_error(error);
  pairs = signet_p11_session_list_key_pairs(rig.session, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 1);
  rig.key = signet_p11_session_get_private_key(rig.session, id, &error);
  g_assert_no_error(error);
  rig.pub = signet_p11_session_get_public_key(rig.session, id, &error);
  g_assert_no_error(error);
  g_assert_nonnull(rig.key);
  g_assert_nonnull(rig.pub);

  {
    const char *with_code[] = { "scepserver", "-depot", "depot",       "-port", "18080",
                                "-challenge", CODE,     "-allowrenew", "0",     NULL };
    const char *renewal[]
        = { "scepserver", "-depot", "depot-renewal", "-port", "18081", "-allowrenew", "0", NULL };

    serve(&rig.scep_code, with_code, PORT_CODE);
    serve(&rig.scep_renewal, renewal, PORT_RENEWAL);
    wait_scep(PORT_CODE);
    wait_scep(PORT_RENEWAL);
    relay(&rig.relay_code, PORT_CODE, NULL);
    relay(&rig.relay_renewal, PORT_RENEWAL, NULL);
    relay(&rig.relay_legacy, PORT_CODE, "");
    fake_start();
    relay(&rig.relay_fake, fake.port, NULL);
  }
  return TRUE;
}

static void
teardown(void)
{
  stop(&rig.relay_code);
  stop(&rig.relay_renewal);
  stop(&rig.relay_legacy);
  stop(&rig.relay_fake);
  fake_stop();
  stop(&rig.scep_code);
  stop(&rig.scep_renewal);
  /* The key before the session it is bound to, the session before its
   * context. */
  EVP_PKEY_free(rig.key);
  EVP_PKEY_free(rig.pub);
  X509_free(rig.issued);
  g_clear_pointer(&rig.session, signet_p11_session_free);
  g_clear_pointer(&rig.p11, signet_p11_context_free);
  if (rig.dir != NULL)
    signet_test_remove_tree(rig.dir);
  g_free(rig.dir);
  g_free(rig.anchors);
  g_free(rig.tls_only);
  g_free(rig.ca_pem);
}

/* Runs this program again in a loopback-only network namespace; returns
 * only when it cannot (having printed the skip), or inside it. */
static gboolean
enter_namespace(char **argv)
{
  g_autofree char *scepserver = g_find_program_in_path("scepserver");
  g_autofree char *unshare = g_find_program_in_path("unshare");
  const char *module = g_getenv("SOFTHSM2_MODULE") != NULL ? g_getenv("SOFTHSM2_MODULE")
                                                           : "/usr/lib/softhsm/libsofthsm2.so";
  int status = -1;

  if (g_getenv("SIGNET_SCEP_NETNS") != NULL) {
    const char *up[] = { "ip", "link", "set", "lo", "up", NULL };

    if (!g_spawn_sync(NULL, (char **)up, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                      NULL)
        || !g_spawn_check_wait_status(status, NULL)) {
      g_print("Bail out! cannot bring up loopback in the namespace\n");
      exit(1);
    }
    return TRUE;
  }
  /* Under automake's TAP driver a skip is a plan of 0. */
  if (scepserver == NULL || unshare == NULL || !g_file_test(module, G_FILE_TEST_EXISTS)
      || !g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)) {
    g_print("1..0 # SKIP scepserver, unshare, python3 or SoftHSM2 is not installed "
            "(apt-get install scep util-linux python3 softhsm2)\n");
    return FALSE;
  }
  if (geteuid() != 0) {
    g_print("1..0 # SKIP scepserver listens on every interface: the test needs root for a "
            "loopback-only network namespace\n");
    return FALSE;
  }
  {
    const char *probe[] = { unshare, "-n", "true", NULL };

    if (!g_spawn_sync(NULL, (char **)probe, NULL,
                      G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL,
                      NULL, &status, NULL)
        || !g_spawn_check_wait_status(status, NULL)) {
      g_print("1..0 # SKIP unshare -n is not permitted here\n");
      return FALSE;
    }
  }
  {
    GPtrArray *args = g_ptr_array_new();

    g_ptr_array_add(args, "unshare");
    g_ptr_array_add(args, "-n");
    g_ptr_array_add(args, "--");
    for (char **a = argv; *a != NULL; a++)
      g_ptr_array_add(args, *a);
    g_ptr_array_add(args, NULL);
    g_setenv("SIGNET_SCEP_NETNS", "1", TRUE);
    execvp(unshare, (char **)args->pdata);
    g_print("1..0 # SKIP unshare -n is not permitted here\n");
    g_ptr_array_free(args, TRUE);
    return FALSE;
  }
}

int
main(int argc, char **argv)
{
  int ret;

  if (!enter_namespace(argv))
    return 0;
  g_test_init(&argc, &argv, NULL);
  setup();
  g_test_add_func("/scep/ca-certs", test_ca_certs);
  g_test_add_func("/scep/untrusted-ca", test_untrusted_ca);
  g_test_add_func("/scep/subject-hint", test_subject_hint);
  g_test_add_func("/scep/ec-profile", test_ec_profile);
  g_test_add_func("/scep/no-key", test_no_key);
  g_test_add_func("/scep/wrong-code", test_wrong_code);
  g_test_add_func("/scep/enroll", test_enroll);
  g_test_add_func("/scep/legacy", test_legacy);
  g_test_add_func("/scep/reenroll", test_reenroll);
  g_test_add_func("/scep/reenroll-ec-identity", test_reenroll_ec_identity);
  g_test_add_func("/scep/poll-without-identity", test_poll_without_identity);
  g_test_add_func("/scep/fake/pending", test_pending);
  g_test_add_func("/scep/fake/bad-time", test_bad_time);
  g_test_add_func("/scep/fake/wrong-nonce", test_wrong_nonce);
  g_test_add_func("/scep/fake/forged", test_forged);
  g_test_add_func("/scep/unreachable", test_unreachable);
  ret = g_test_run();
  teardown();
  return ret;
}
