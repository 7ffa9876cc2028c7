/* test-csr-token.c: signet_csr_build_pem() with a signer that Signet's
 * token layer binds to a key on a token (signet_p11_session_get_private_key:
 * RSA_METHOD / EC_KEY_METHOD keys), as the agent passes it: on a throwaway
 * SoftHSM2 token, keys made by pkcs11-tool.
 *
 * enroll/ never calls PKCS#11; this test does, through pkcs11/, to hand it
 * such a key.
 */
#include "config.h"

#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"
#include "pkcs11/signet-p11.h"
#include "tests/testutil/signet-test-util.h"

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

/* Throwaway test token only. */
#define PIN    "123456"
#define SO_PIN "12345678"

typedef struct
{
  char *dir;
  const char *module;
  SignetP11Context *p11;
  SignetP11Session *session; /* logged in; outlives every key bound to it */
  GPtrArray *pairs;          /* SignetP11KeyPair: what is on the token */
} Token;

static Token token;

static const char *
tool(const char *env, const char *fallback)
{
  const char *value = g_getenv(env);

  return value != NULL && *value != '\0' ? value : fallback;
}

static void
run(const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_true(g_spawn_sync(token.dir, (char **)argv, NULL,
                             G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                             &err, &status, &error));
  g_assert_no_error(error);
  if (!g_spawn_check_wait_status(status, NULL))
    g_error("%s failed: %s", argv[0], err);
}

/* The CKA_ID of the key pair labelled @label. */
static GBytes *
find_key(const char *label)
{
  for (guint i = 0; i < token.pairs->len; i++) {
    SignetP11KeyPair *pair = g_ptr_array_index(token.pairs, i);

    if (g_strcmp0(pair->label, label) == 0)
      return pair->id;
  }
  g_error("no key labelled %s on the token", label);
  return NULL;
}

/* The private key of the pair labelled @label, bound to the token. */
static EVP_PKEY *
token_private_key(const char *label)
{
  g_autoptr(GError) error = NULL;
  EVP_PKEY *key = signet_p11_session_get_private_key(token.session, find_key(label), &error);

  g_assert_no_error(error);
  return key;
}

/* Its public key, read from the token. */
static EVP_PKEY *
token_public_key(const char *label)
{
  g_autoptr(GError) error = NULL;
  EVP_PKEY *key = signet_p11_session_get_public_key(token.session, find_key(label), &error);

  g_assert_no_error(error);
  return key;
}

static void
check_request(const char *pem, EVP_PKEY *public_key, int sig_nid)
{
  g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
  g_autoptr(X509_REQ) req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
  g_autoptr(X509_NAME) expected = signet_subject_parse("CN=Jan Kowalski,O=Example,C=PL", NULL);
  g_autofree char *path = g_build_filename(token.dir, "request.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *openssl = g_find_program_in_path("openssl");
  const char *verify[] = { openssl, "req", "-in", "request.pem", "-verify", "-noout", NULL };

  g_assert_nonnull(req);
  g_assert_cmpint(X509_REQ_verify(req, public_key), ==, 1);
  g_assert_cmpint(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), public_key), ==, 1);
  g_assert_cmpint(X509_REQ_get_signature_nid(req), ==, sig_nid);
  g_assert_cmpint(X509_NAME_cmp(X509_REQ_get_subject_name(req), expected), ==, 0);

  /* An independent check, where the openssl command is installed. */
  if (openssl != NULL) {
    g_file_set_contents(path, pem, -1, &error);
    g_assert_no_error(error);
    run(verify);
  }
}

static void
test_token_key(const char *label, int sig_nid)
{
  EVP_PKEY *signer = token_private_key(label);
  EVP_PKEY *public_key = token_public_key(label);
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = NULL;

  g_assert_nonnull(signer);
  g_assert_nonnull(public_key);

  pem = signet_csr_build_pem(signer, public_key, "CN=Jan Kowalski,O=Example,C=PL", &error);
  g_assert_no_error(error);
  g_assert_nonnull(pem);
  check_request(pem, public_key, sig_nid);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
  EVP_PKEY_free(signer);
  EVP_PKEY_free(public_key);
}

static void
test_token_rsa(void)
{
  test_token_key("rsa", NID_sha256WithRSAEncryption);
}

static void
test_token_ec(void)
{
  test_token_key("ec", NID_ecdsa_with_SHA256);
}

/* Without a separate public key: the signer's own public part. */
static void
test_token_signer_only(gconstpointer data)
{
  const char *label = data;
  EVP_PKEY *signer = token_private_key(label);
  EVP_PKEY *public_key = token_public_key(label);
  g_autoptr(GError) error = NULL;
  g_autofree char *pem
      = signet_csr_build_pem(signer, NULL, "CN=Jan Kowalski,O=Example,C=PL", &error);

  g_assert_no_error(error);
  check_request(pem, public_key,
                g_str_equal(label, "rsa") ? NID_sha256WithRSAEncryption : NID_ecdsa_with_SHA256);
  EVP_PKEY_free(signer);
  EVP_PKEY_free(public_key);
}

/* A token key with someone else's public key: refused, not sent to a CA. */
static void
test_token_mismatch(void)
{
  EVP_PKEY *signer = token_private_key("ec");
  EVP_PKEY *other = token_public_key("ec2");
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = signet_csr_build_pem(signer, other, "CN=Jan Kowalski", &error);

  g_assert_null(pem);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
  g_assert_nonnull(strstr(error->message, "does not verify"));
  EVP_PKEY_free(signer);
  EVP_PKEY_free(other);
}

static gboolean
setup(void)
{
  g_autoptr(GError) error = NULL;
  const char *p11tool = tool("PKCS11_TOOL", "pkcs11-tool");
  g_autofree char *p11tool_path = NULL;
  g_autoptr(SignetSecret) pin = signet_secret_new(PIN, strlen(PIN));
  g_autoptr(SignetP11Token) found = NULL;

  token.module = tool("SOFTHSM2_MODULE", "/usr/lib/softhsm/libsofthsm2.so");
  if (!g_file_test(token.module, G_FILE_TEST_EXISTS)) {
    /* Under automake's TAP driver a skip is a plan of 0. */
    g_print("1..0 # SKIP SoftHSM2 is not installed (%s): apt-get install softhsm2\n", token.module);
    return FALSE;
  }
  p11tool_path = g_find_program_in_path(p11tool);
  if (p11tool_path == NULL) {
    g_print("1..0 # SKIP pkcs11-tool is not installed: apt-get install opensc\n");
    return FALSE;
  }

  token.dir = signet_test_softhsm_dir("signet-test-csr-token");

  {
    const char *rsa[]
        = { p11tool,      "--module", token.module, "--login", "--pin",   PIN,   "--keypairgen",
            "--key-type", "rsa:2048", "--id",       "01",      "--label", "rsa", NULL };
    const char *ec[]
        = { p11tool,      "--module",      token.module, "--login", "--pin",   PIN,  "--keypairgen",
            "--key-type", "EC:prime256v1", "--id",       "02",      "--label", "ec", NULL };
    const char *ec2[]
        = { p11tool,        "--module",   token.module,    "--login", "--pin", PIN,
            "--keypairgen", "--key-type", "EC:prime256v1", "--id",    "03",    "--label",
            "ec2",          NULL };

    signet_test_softhsm_init_token("Enroll Test", PIN, SO_PIN);
    run(rsa);
    run(ec);
    run(ec2);
  }

  token.p11 = signet_p11_context_new(token.module, SIGNET_P11_UNBLOCK_UNKNOWN, &error);
  g_assert_no_error(error);
  found = signet_p11_context_find_token(token.p11, "Enroll Test", &error);
  g_assert_no_error(error);
  token.session = signet_p11_session_open(token.p11, found, &error);
  g_assert_no_error(error);
  g_assert_true(signet_p11_session_login(token.session, pin, FALSE, &error));
  g_assert_no_error(error);
  token.pairs = signet_p11_session_list_key_pairs(token.session, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(token.pairs->len, ==, 3);
  return TRUE;
}

static void
teardown(void)
{
  g_clear_pointer(&token.pairs, g_ptr_array_unref);
  g_clear_pointer(&token.session, signet_p11_session_free);
  g_clear_pointer(&token.p11, signet_p11_context_free);
  if (token.dir != NULL) {
    signet_test_remove_tree(token.dir);
    g_free(token.dir);
  }
}

int
main(int argc, char **argv)
{
  int ret;

  g_test_init(&argc, &argv, NULL);
  if (!setup())
    return 0;
  g_test_add_func("/enroll/csr-token/rsa", test_token_rsa);
  g_test_add_func("/enroll/csr-token/ec", test_token_ec);
  g_test_add_data_func("/enroll/csr-token/rsa-signer-only", "rsa", test_token_signer_only);
  g_test_add_data_func("/enroll/csr-token/ec-signer-only", "ec", test_token_signer_only);
  g_test_add_func("/enroll/csr-token/mismatch", test_token_mismatch);
  ret = g_test_run();
  teardown();
  return ret;
}
