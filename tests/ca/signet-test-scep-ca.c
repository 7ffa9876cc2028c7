/* signet-test-scep-ca: a test SCEP CA (RFC 8894) for what no real SCEP
 * server on Debian shows, above all PENDING: it answers a PKCSReq or
 * RenewalReq PENDING and issues on the CertPoll (GetCertInitial) that
 * follows, keeping the request in memory meanwhile, so an agent restarted
 * in between is tested against the same CA.
 *
 *   signet-test-scep-ca --ca-cert PEM --ca-key PEM [--key-pass PASS]
 *                       [--port PORT] [--mode MODE] [--challenge CODE]
 *                       [--days N] [--log FILE]
 *
 * Plain HTTP on 127.0.0.1 (tests put tests/ca/tls-relay.py in front);
 * prints "listening on PORT" once it accepts connections; one line per
 * request on stderr; runs until killed. The answers are
 * tests/ca/signet-scep-fake.c's, which the SCEP connector's unit test uses
 * in a thread. See tests/ca/README.md.
 *
 * Owns: the listener, the options, the log file.
 * May call: signet-scep-fake.h, OpenSSL, GLib.
 */
#include "config.h"

#include "tests/ca/signet-scep-fake.h"

#include "common/signet-openssl-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "signet-test-scep-ca"

static void
usage(FILE *out)
{
  fprintf(out, "Usage: " PROG " --ca-cert PEM --ca-key PEM [--key-pass PASS] [--port PORT]\n"
               "       [--mode MODE] [--challenge CODE] [--days N] [--log FILE]\n"
               "\n"
               "A test SCEP CA on http://127.0.0.1:PORT/ (0 or none: a free port), signing\n"
               "with the CA certificate and key given (the key's pass: PASS, default empty,\n"
               "as scepserver's depot keeps it). Prints \"listening on PORT\", then serves\n"
               "until killed. MODE:\n"
               "  pending      PKCSReq, RenewalReq: PENDING; CertPoll: issued (default)\n"
               "  issue        PKCSReq, RenewalReq: issued at once\n"
               "  bad-time     FAILURE badTime to every pkiMessage\n"
               "  wrong-nonce  PENDING with another recipientNonce\n"
               "--challenge: a PKCSReq whose challengePassword differs gets FAILURE\n"
               "badRequest. --days: validity of issued certificates (365). --log: a line\n"
               "appended per pkiMessage: \"TYPE NAME TRANSACTION-ID ANSWER\".\n");
}

static X509 *
load_cert(const char *path)
{
  g_autoptr(BIO) bio = BIO_new_file(path, "r");

  return bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
}

static EVP_PKEY *
load_key(const char *path, const char *pass)
{
  g_autoptr(BIO) bio = BIO_new_file(path, "r");

  return bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)pass) : NULL;
}

static int
listen_on(guint port, guint *out_port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((guint16)port);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
      || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0
      || getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
    int saved = errno;

    close(fd);
    errno = saved;
    return -1;
  }
  *out_port = ntohs(addr.sin_port);
  return fd;
}

int
main(int argc, char **argv)
{
  const char *ca_cert = NULL, *ca_key = NULL, *pass = "", *mode_text = "pending";
  const char *challenge = NULL, *log_path = NULL;
  guint port = 0, days = 365;
  SignetScepFakeMode mode;
  g_autoptr(X509) ca = NULL;
  g_autoptr(EVP_PKEY) key = NULL;
  g_autoptr(SignetScepFake) fake = NULL;
  int log_fd = -1, listen_fd;

  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;

    if (g_str_equal(opt, "--help")) {
      usage(stdout);
      return 0;
    }
    if (value == NULL) {
      usage(stderr);
      return 2;
    }
    i++;
    if (g_str_equal(opt, "--ca-cert"))
      ca_cert = value;
    else if (g_str_equal(opt, "--ca-key"))
      ca_key = value;
    else if (g_str_equal(opt, "--key-pass"))
      pass = value;
    else if (g_str_equal(opt, "--mode"))
      mode_text = value;
    else if (g_str_equal(opt, "--challenge"))
      challenge = value;
    else if (g_str_equal(opt, "--log"))
      log_path = value;
    else if (g_str_equal(opt, "--port") || g_str_equal(opt, "--days")) {
      char *rest = NULL;
      guint64 n = g_ascii_strtoull(value, &rest, 10);

      if (*value == '\0' || *rest != '\0' || n > (g_str_equal(opt, "--port") ? 65535 : 36500)) {
        fprintf(stderr, "%s: %s: not a number in range: %s\n", PROG, opt, value);
        return 2;
      }
      if (g_str_equal(opt, "--port"))
        port = (guint)n;
      else
        days = (guint)n;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (ca_cert == NULL || ca_key == NULL) {
    usage(stderr);
    return 2;
  }
  /* forged needs a second signer, which this program does not load. */
  if (!signet_scep_fake_mode_parse(mode_text, &mode) || mode == SIGNET_SCEP_FAKE_FORGED) {
    fprintf(stderr, "%s: no such mode: %s\n", PROG, mode_text);
    return 2;
  }
  ca = load_cert(ca_cert);
  key = load_key(ca_key, pass);
  if (ca == NULL || key == NULL || X509_check_private_key(ca, key) != 1) {
    fprintf(stderr, "%s: could not load the CA certificate %s and its key %s\n", PROG, ca_cert,
            ca_key);
    return 1;
  }
  if (log_path != NULL) {
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      fprintf(stderr, "%s: %s: %s\n", PROG, log_path, g_strerror(errno));
      return 1;
    }
  }
  fake = signet_scep_fake_new(ca, key);
  signet_scep_fake_set_mode(fake, mode);
  signet_scep_fake_set_challenge(fake, challenge);
  signet_scep_fake_set_days(fake, days);
  signet_scep_fake_set_log_fd(fake, log_fd);

  listen_fd = listen_on(port, &port);
  if (listen_fd < 0) {
    fprintf(stderr, "%s: cannot listen on 127.0.0.1:%u: %s\n", PROG, port, g_strerror(errno));
    return 1;
  }
  printf("listening on %u\n", port);
  fflush(stdout);
  for (;;) {
    g_autofree char *summary = NULL;
    int client = accept(listen_fd, NULL, NULL);

    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      fprintf(stderr, "%s: accept: %s\n", PROG, g_strerror(errno));
      return 1;
    }
    signet_scep_fake_serve(fake, client, &summary);
    close(client);
    fprintf(stderr, "%s\n", summary != NULL ? summary : "(no request)");
  }
}
