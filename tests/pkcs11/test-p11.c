/* test-p11.c: the token layer on a fresh SoftHSM2 token per test, each token
 * test on SoftHSM2 and on the test shim's OpenSC card model. */
#include "config.h"

#include "pkcs11/signet-p11.h"
#include "tests/testutil/signet-test-util.h"
#include "common/signet-openssl-util.h"

#include <dlfcn.h>
#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define PIN    "123456"
#define SO_PIN "12345678"

/* Each token test runs twice: on SoftHSM2 (behind the test shim's default
 * model, which only counts tries), and on the shim's model of an OpenSC
 * 0.23 PKCS#15 card (tests/p11shim/README.md). */
typedef enum
{
  MODEL_SOFTHSM,
  MODEL_CARD,
} Model;

typedef struct
{
  char *dir;
  char *shim_state;
  Model model;
  gsize tries_seen; /* lines of the tries log already checked */
  SignetP11Context *ctx;
  SignetP11Token *token;
  char *spy_log; /* OpenSC's pkcs11-spy logs every call here (spy fixture) */
} Fixture;

static const char *
softhsm_module(void)
{
  const char *m = g_getenv("SOFTHSM2_MODULE");
  return m != NULL && *m != '\0' ? m : "/usr/lib/softhsm/libsofthsm2.so";
}

/* OpenSC's PKCS#11 call logger (opensc-pkcs11), put between us and the
 * module by the spy fixtures; configure finds it. */
static const char *
spy_module(void)
{
  const char *m = g_getenv("PKCS11_SPY_MODULE");
  return m != NULL && g_file_test(m, G_FILE_TEST_EXISTS) ? m : NULL;
}

static const char *
shim_module(void)
{
  const char *m = g_getenv("SIGNET_SHIM_MODULE");
  return m != NULL && *m != '\0' ? m : NULL;
}

static void
fixture_setup_model(Fixture *f, Model model, const char *second_label)
{
  g_autoptr(GError) error = NULL;

  f->dir = signet_test_softhsm_dir("signet-p11");
  f->model = model;
  signet_test_softhsm_init_token("Signet Test", PIN, SO_PIN);
  if (second_label != NULL)
    signet_test_softhsm_init_token(second_label, PIN, SO_PIN);

  if (shim_module() != NULL) {
    /* The shim reads these at C_Initialize. */
    f->shim_state = g_build_filename(f->dir, "shim", NULL);
    g_assert_cmpint(g_mkdir(f->shim_state, 0700), ==, 0);
    g_setenv("SIGNET_SHIM_STATE", f->shim_state, TRUE);
    g_setenv("SIGNET_SHIM_TARGET", softhsm_module(), TRUE);
    g_setenv("SIGNET_SHIM_MODEL", model == MODEL_CARD ? "opensc-card" : "softhsm", TRUE);
  }
  if (f->spy_log != NULL) {
    g_setenv("PKCS11SPY", shim_module() != NULL ? shim_module() : softhsm_module(), TRUE);
    g_setenv("PKCS11SPY_OUTPUT", f->spy_log, TRUE);
  }
  f->ctx = signet_p11_context_new(f->spy_log != NULL      ? spy_module()
                                  : shim_module() != NULL ? shim_module()
                                                          : softhsm_module(),
                                  SIGNET_P11_UNBLOCK_UNKNOWN, &error);
  g_assert_no_error(error);
  {
    g_autoptr(GPtrArray) list = signet_p11_context_list_tokens(f->ctx, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(list->len, >=, 1);
    f->token = signet_p11_token_copy(g_ptr_array_index(list, 0));
  }
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  fixture_setup_model(f, MODEL_SOFTHSM, data);
}

static void
fixture_setup_card(Fixture *f, gconstpointer data)
{
  fixture_setup_model(f, MODEL_CARD, data);
}

static void
fixture_setup_spy(Fixture *f, gconstpointer data)
{
  f->spy_log = g_build_filename(g_get_tmp_dir(), "signet-p11-spy-XXXXXX", NULL);
  g_close(g_mkstemp(f->spy_log), NULL);
  fixture_setup_model(f, MODEL_SOFTHSM, data);
}

static void
fixture_setup_card_spy(Fixture *f, gconstpointer data)
{
  f->spy_log = g_build_filename(g_get_tmp_dir(), "signet-p11-spy-XXXXXX", NULL);
  g_close(g_mkstemp(f->spy_log), NULL);
  fixture_setup_model(f, MODEL_CARD, data);
}

/* How many calls of @function the spy logged so far. */
static guint
spy_count(Fixture *f, const char *function)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *want = g_strconcat(": ", function, NULL);
  guint n = 0;

  g_assert_true(g_file_get_contents(f->spy_log, &text, NULL, NULL));
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_suffix(lines[i], want) && g_ascii_isdigit(lines[i][0]))
      n++;
  return n;
}

/* The length of the data the last C_Sign in the spy log was given. */
static guint
spy_last_sign_length(Fixture *f)
{
  g_autofree char *text = NULL;
  const char *call, *data;

  g_assert_true(g_file_get_contents(f->spy_log, &text, NULL, NULL));
  call = g_strrstr(text, ": C_Sign\n");
  g_assert_nonnull(call);
  data = strstr(call, "pData[ulDataLen] ");
  g_assert_nonnull(data);
  data = strstr(data, " / ");
  g_assert_nonnull(data);
  return (guint)g_ascii_strtoull(data + 3, NULL, 10);
}

/* The tries the shim logged since the last call, "KIND RESULT" each, a
 * right PIN left out (it spends nothing), joined by ", ". */
static char *
new_tries(Fixture *f)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GString) out = g_string_new(NULL);
  gsize n = 0;

  if (f->shim_state == NULL)
    return g_strdup("(no shim)");
  path = g_build_filename(f->shim_state, "tries", NULL);
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return g_strdup("");
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) w = g_strsplit(lines[i], " ", -1);

    if (g_strv_length(w) < 3)
      continue;
    if (n++ < f->tries_seen)
      continue;
    if (g_str_equal(w[1], "pin") && g_str_equal(w[2], "ok"))
      continue;
    g_string_append_printf(out, "%s%s %s", out->len ? ", " : "", w[1], w[2]);
  }
  f->tries_seen = n;
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Exactly the tries @want were spent since the last check. */
#define assert_tries(f, want)                                                                      \
  do {                                                                                             \
    g_autofree char *seen_ = new_tries(f);                                                         \
    if ((f)->shim_state != NULL)                                                                   \
      g_assert_cmpstr(seen_, ==, (want));                                                          \
  } while (0)

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  /* No test may spend a try it did not check. */
  assert_tries(f, "");
  signet_p11_token_free(f->token);
  signet_p11_context_free(f->ctx);
  if (f->spy_log != NULL) {
    g_unlink(f->spy_log);
    g_unsetenv("PKCS11SPY");
    g_unsetenv("PKCS11SPY_OUTPUT");
  }
  g_free(f->spy_log);
  signet_test_remove_tree(f->dir);
  g_free(f->dir);
  g_free(f->shim_state);
  g_unsetenv("SIGNET_SHIM_STATE");
  g_unsetenv("SIGNET_SHIM_MODEL");
}

static SignetSecret *
secret(const char *s)
{
  return signet_secret_new(s, strlen(s));
}

static SignetP11Session *
logged_in_session(Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) pin = secret(PIN);
  SignetP11Session *s = signet_p11_session_open(f->ctx, f->token, &error);

  g_assert_no_error(error);
  signet_p11_session_login(s, pin, FALSE, &error);
  g_assert_no_error(error);
  return s;
}

static void
test_list(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = signet_p11_context_list_tokens(f->ctx, &error);
  g_auto(GStrv) types = NULL;
  SignetP11Token *t;

  g_assert_no_error(error);
  g_assert_cmpuint(tokens->len, ==, 1); /* the free slot is not listed */
  t = g_ptr_array_index(tokens, 0);
  g_assert_cmpstr(t->label, ==, "Signet Test");
  g_assert_cmpstr(t->manufacturer, ==, "SoftHSM project");
  g_assert_cmpuint(strlen(t->serial), >, 0);
  g_assert_true(g_str_has_prefix(t->uri, "pkcs11:"));
  g_assert_nonnull(strstr(t->uri, "token=Signet%20Test"));
  g_assert_false(t->user_pin.locked);
  g_assert_false(t->user_pin.final_try);
  if (f->model == MODEL_CARD) {
    /* What the agent sees of an OpenSC 0.23 card. */
    g_assert_cmpint(t->unblock_method, ==, SIGNET_P11_UNBLOCK_SET_PIN_UNLOGGED);
    g_assert_true(t->objects_cached);
    g_assert_true(t->private_keys_listed);
    g_assert_cmpstr(t->slot_description, ==, "Signet Test Reader 00 00");
    g_assert_true(g_str_has_prefix(t->library_manufacturer, "OpenSC"));
  } else {
    g_assert_cmpint(t->unblock_method, ==, SIGNET_P11_UNBLOCK_SO_LOGIN_INIT_PIN);
    g_assert_false(t->objects_cached);
  }
  g_assert_cmpuint(t->min_pin_len, ==, 4);
  types = signet_p11_token_key_types(t);
  g_assert_true(g_strv_contains((const char *const *)types, "rsa:2048"));
  g_assert_true(g_strv_contains((const char *const *)types, "rsa:4096"));
  g_assert_true(g_strv_contains((const char *const *)types, "ec:p256"));
  g_assert_true(g_strv_contains((const char *const *)types, "ec:p384"));
}

static void
test_find(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Token) by_serial = NULL, by_uri = NULL, none = NULL, ambiguous = NULL;
  g_autoptr(SignetP11Token) bad_uri = NULL, by_label = NULL;
  g_autofree char *uri = g_strdup_printf("pkcs11:serial=%s;id=%%01;type=private", f->token->serial);

  by_serial = signet_p11_context_find_token(f->ctx, f->token->serial, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(by_serial->label, ==, "Signet Test");
  by_uri = signet_p11_context_find_token(f->ctx, uri, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(by_uri->serial, ==, f->token->serial);
  g_clear_pointer(&by_uri, signet_p11_token_free);
  by_uri = signet_p11_context_find_token(f->ctx, f->token->uri, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(by_uri->serial, ==, f->token->serial);

  none = signet_p11_context_find_token(f->ctx, "No Such Token", &error);
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_TOKEN);
  g_assert_null(none);
  g_clear_error(&error);
  none = signet_p11_context_find_token(f->ctx, "pkcs11:token=Other", &error);
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_TOKEN);
  g_clear_error(&error);
  bad_uri = signet_p11_context_find_token(f->ctx, "pkcs11:token=%zz", &error);
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_BAD_URI);
  g_assert_nonnull(strstr(error->message, "not a valid PKCS#11 URI"));
  g_clear_error(&error);
  {
    /* What p11-kit lets pass silently is refused, naming the attribute. */
    static const struct
    {
      const char *uri;
      const char *says;
    } bad[] = {
      { "pkcs11:token=Signet%20Test;token=Other", "\"token\" more than once" },
      { "pkcs11:token=Signet%20Test;colour=blue", "does not know: \"colour\"" },
      { "pkcs11:token=Signet%20Test;serial", "does not know: \"serial\"" },
      { "pkcs11:token=Signet%20Test?pin-value=123456", "never takes a PIN" },
      { "pkcs11:token=Signet%20Test?pin-source=file:/tmp/pin", "never takes a PIN" },
      { "pkcs11:token=Signet%20Test?module-name=a&module-name=b", "\"module-name\" more" },
      { "pkcs11:token=Signet%20Test?frobnicate=1", "does not know: \"frobnicate\"" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
      g_autoptr(SignetP11Token) t = signet_p11_context_find_token(f->ctx, bad[i].uri, &error);

      g_test_message("%s", bad[i].uri);
      g_assert_null(t);
      g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_BAD_URI);
      g_assert_nonnull(strstr(error->message, bad[i].says));
      /* The PIN is never repeated in the message. */
      g_assert_null(strstr(error->message, "123456"));
      g_clear_error(&error);
    }
  }

  if (data != NULL) {
    /* Two tokens share the label: the label is ambiguous, a serial is not. */
    ambiguous = signet_p11_context_find_token(f->ctx, "Signet Test", &error);
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_AMBIGUOUS_TOKEN);
    g_assert_null(ambiguous);
    g_clear_error(&error);
    by_label = signet_p11_context_find_token(f->ctx, "pkcs11:token=Signet%20Test", &error);
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_AMBIGUOUS_TOKEN);
    g_assert_null(by_label);
  }
}

static void
test_login(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) wrong = secret("000000");
  g_autoptr(SignetSecret) right = secret(PIN);
  g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);

  g_assert_no_error(error);
  g_assert_false(signet_p11_session_login(s, wrong, FALSE, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INCORRECT);
  g_assert_nonnull(strstr(error->message, "CKR_PIN_INCORRECT"));
  g_assert_nonnull(strstr(error->message, "not retried"));
  g_clear_error(&error);
  assert_tries(f, "pin wrong");
  /* SoftHSM2's model raises count low after a wrong PIN; the card sets no
   * flag after the first (OpenSC does not know its maximum). */
  g_assert_cmpint(signet_p11_session_get_token(s)->user_pin.count_low, ==,
                  f->model == MODEL_SOFTHSM);
  g_assert_true(signet_p11_session_login(s, right, FALSE, &error));
  g_assert_no_error(error);
  /* The right PIN reset the counter: the flags the wrong one raised (count
   * low, in SoftHSM2's model) are read again, and down. */
  g_assert_false(signet_p11_session_get_token(s)->user_pin.count_low);
  g_assert_false(signet_p11_session_get_token(s)->user_pin.final_try);
}

/* The final try is never sent unconfirmed; the wrong PIN that spends it is
 * reported as locked. */
static void
test_final_try(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) wrong = secret("000000");
  g_autoptr(SignetSecret) right = secret(PIN);

  if (f->shim_state == NULL) {
    g_test_skip("needs the test shim (SIGNET_SHIM_MODULE): SoftHSM2 never locks a PIN");
    return;
  }
  for (int i = 0; i < 2; i++) {
    g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);
    g_assert_false(signet_p11_session_login(s, wrong, FALSE, &error));
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INCORRECT);
    g_clear_error(&error);
    /* The card sets no flag after the first wrong PIN (OpenSC does not know
     * its maximum); SoftHSM2's model says count low. */
    if (i == 0) {
      gboolean low = signet_p11_session_get_token(s)->user_pin.count_low;
      gboolean want_low = f->model == MODEL_SOFTHSM;
      g_assert_cmpint(low, ==, want_low);
    }
  }
  assert_tries(f, "pin wrong, pin wrong");
  {
    g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);
    g_assert_true(signet_p11_session_get_token(s)->user_pin.final_try);
    g_assert_false(signet_p11_session_login(s, right, FALSE, &error));
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FINAL_TRY);
    g_clear_error(&error);
    assert_tries(f, ""); /* nothing was sent */
    g_assert_false(signet_p11_session_login(s, wrong, TRUE, &error));
    /* Locked now: the card says so, SoftHSM2's model after the flags are
     * read again. */
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_LOCKED);
    g_clear_error(&error);
    g_assert_true(signet_p11_session_get_token(s)->user_pin.locked);
    assert_tries(f, "pin wrong");
    /* Locked: not even the right PIN is sent. */
    g_assert_false(signet_p11_session_login(s, right, TRUE, &error));
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_LOCKED);
    assert_tries(f, "");
  }
}

static X509 *
make_cert(EVP_PKEY *subject_key, EVP_PKEY *ca_key, const char *cn, gboolean ca, int days)
{
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();

  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), g_random_int_range(1, G_MAXINT32));
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  X509_set_subject_name(x, name);
  X509_set_issuer_name(x, name);
  X509_NAME_free(name);
  X509_set_pubkey(x, subject_key);
  if (ca) {
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  g_assert_cmpint(X509_sign(x, ca_key, EVP_sha256()), >, 0);
  return x;
}

static void
check_generate(Fixture *f, SignetP11KeyType type, const char *expect)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Session) s = logged_in_session(f);
  g_autoptr(GBytes) id = NULL, found_id = NULL;
  g_autoptr(GPtrArray) pairs = NULL, certs = NULL;
  g_autoptr(EVP_PKEY) pub = NULL, priv = NULL, ca_key = NULL;
  g_autoptr(X509) cert = NULL, other = NULL;
  g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
  unsigned char sig[1024];
  size_t siglen = sizeof sig;
  SignetP11KeyPair *k;

  g_assert_true(signet_p11_session_generate_key_pair(s, type, "test key", &id, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(g_bytes_get_size(id), ==, 20);

  pairs = signet_p11_session_list_key_pairs(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 1);
  k = g_ptr_array_index(pairs, 0);
  g_assert_true(g_bytes_equal(k->id, id));
  g_assert_cmpstr(k->key_type, ==, expect);
  g_assert_cmpstr(k->label, ==, "test key");
  g_assert_true(k->has_private);
  g_assert_true(k->has_public);
  g_assert_false(k->has_certificate);
  g_assert_false(k->extractable);
  if (f->model == MODEL_CARD) {
    /* OpenSC 0.23 reads CKA_SENSITIVE back false for a card's key: kept,
     * as not extractable with its value unreadable. */
    g_assert_false(k->sensitive);
    g_assert_cmpint(k->protection, ==, SIGNET_P11_KEY_PROTECTION_CARD);
  } else {
    g_assert_true(k->sensitive);
    g_assert_cmpint(k->protection, ==, SIGNET_P11_KEY_PROTECTION_SENSITIVE);
  }

  /* The private key signs on the token through OpenSSL's EVP; the token's
   * public key verifies it. */
  pub = signet_p11_session_get_public_key(s, id, &error);
  g_assert_no_error(error);
  priv = signet_p11_session_get_private_key(s, id, &error);
  g_assert_no_error(error);
  g_assert_cmpint(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv), ==, 1);
  g_assert_cmpint(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)"signet", 6), ==, 1);
  EVP_MD_CTX_reset(md);
  g_assert_cmpint(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), ==, 1);
  g_assert_cmpint(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)"signet", 6), ==, 1);

  /* A certificate for that key finds it and is stored under its CKA_ID. */
  ca_key = EVP_EC_gen("P-256");
  cert = make_cert(pub, ca_key, "Holder", FALSE, 30);
  g_assert_true(signet_p11_session_find_key_for_certificate(s, cert, &found_id, &error));
  g_assert_no_error(error);
  g_assert_true(g_bytes_equal(found_id, id));
  g_assert_false(signet_p11_session_has_certificate(s, cert, NULL));
  g_assert_true(signet_p11_session_store_certificate(s, cert, id, "test key", FALSE, &error));
  g_assert_no_error(error);
  g_assert_true(signet_p11_session_has_certificate(s, cert, NULL));
  certs = signet_p11_session_list_certificates(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(certs->len, ==, 1);
  g_assert_true(g_bytes_equal(((SignetP11Certificate *)g_ptr_array_index(certs, 0))->id, id));
  g_assert_false(((SignetP11Certificate *)g_ptr_array_index(certs, 0))->authority);

  /* A certificate for another key matches nothing. */
  other = make_cert(ca_key, ca_key, "Other", TRUE, 30);
  g_clear_pointer(&found_id, g_bytes_unref);
  g_assert_false(signet_p11_session_find_key_for_certificate(s, other, &found_id, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_MATCHING_KEY);
  g_assert_null(found_id);
  g_clear_error(&error);
  /* A CA certificate is stored as an authority object. */
  g_assert_true(signet_p11_session_store_certificate(s, other, NULL, "CA", TRUE, &error));
  g_assert_no_error(error);
  g_clear_pointer(&certs, g_ptr_array_unref);
  certs = signet_p11_session_list_certificates(s, &error);
  g_assert_cmpuint(certs->len, ==, 2);
  /* The CA certificate is no key pair, even where the module shows a public
   * key for it (OpenSC does): still one pair, with its certificate. */
  g_clear_pointer(&pairs, g_ptr_array_unref);
  pairs = signet_p11_session_list_key_pairs(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 1);
  g_assert_true(g_bytes_equal(((SignetP11KeyPair *)g_ptr_array_index(pairs, 0))->id, id));
  g_assert_true(((SignetP11KeyPair *)g_ptr_array_index(pairs, 0))->has_certificate);

  /* Deleting the pair takes its certificate, not the CA's. */
  g_clear_pointer(&priv, EVP_PKEY_free);
  g_assert_true(signet_p11_session_delete_key_pair(s, id, &error));
  g_assert_no_error(error);
  g_clear_pointer(&pairs, g_ptr_array_unref);
  pairs = signet_p11_session_list_key_pairs(s, &error);
  for (guint i = 0; i < pairs->len; i++)
    g_assert_false(g_bytes_equal(((SignetP11KeyPair *)g_ptr_array_index(pairs, i))->id, id));
  g_clear_pointer(&certs, g_ptr_array_unref);
  certs = signet_p11_session_list_certificates(s, &error);
  g_assert_cmpuint(certs->len, ==, 1);
  g_assert_true(((SignetP11Certificate *)g_ptr_array_index(certs, 0))->authority);
  g_assert_false(signet_p11_session_delete_key_pair(s, id, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT);
}

static void
test_generate_rsa(Fixture *f, gconstpointer data)
{
  check_generate(f, SIGNET_P11_KEY_RSA_2048, "rsa:2048");
}

static void
test_generate_p256(Fixture *f, gconstpointer data)
{
  check_generate(f, SIGNET_P11_KEY_EC_P256, "ec:p256");
}

static void
test_generate_p384(Fixture *f, gconstpointer data)
{
  check_generate(f, SIGNET_P11_KEY_EC_P384, "ec:p384");
}

static void
test_key_type_parse(void)
{
  g_autoptr(GError) error = NULL;
  SignetP11KeyType t;

  g_assert_true(signet_p11_key_type_parse("ec:p384", &t, &error));
  g_assert_cmpint(t, ==, SIGNET_P11_KEY_EC_P384);
  g_assert_cmpstr(signet_p11_key_type_to_string(SIGNET_P11_KEY_RSA_3072), ==, "rsa:3072");
  g_assert_false(signet_p11_key_type_parse("rsa:1024", &t, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED);
}

static void
test_change_pin(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) old = secret(PIN), wrong = secret("999999");
  g_autoptr(SignetSecret) shrt = secret("12"), fresh = secret("654321");
  g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);
  g_autoptr(SignetP11Session) s2 = NULL;

  /* A wrong current PIN: exactly one PIN try, no PUK try (on OpenSC a
   * PIN change in a logged-out session spent a PUK try). */
  g_assert_false(signet_p11_session_change_pin(s, wrong, fresh, FALSE, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INCORRECT);
  g_clear_error(&error);
  assert_tries(f, "pin wrong");
  g_assert_false(signet_p11_session_change_pin(s, old, shrt, FALSE, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INVALID);
  g_assert_nonnull(strstr(error->message, "at least 4"));
  g_clear_error(&error);
  assert_tries(f, "");
  g_clear_pointer(&s, signet_p11_session_free);
  s = signet_p11_session_open(f->ctx, f->token, &error);
  g_assert_true(signet_p11_session_change_pin(s, old, fresh, FALSE, &error));
  g_assert_no_error(error);
  assert_tries(f, ""); /* right PINs only */
  g_clear_pointer(&s, signet_p11_session_free);

  s2 = signet_p11_session_open(f->ctx, f->token, &error);
  g_assert_false(signet_p11_session_login(s2, old, FALSE, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INCORRECT);
  g_clear_error(&error);
  assert_tries(f, "pin wrong");
  g_assert_true(signet_p11_session_login(s2, fresh, FALSE, &error));
  g_assert_no_error(error);
}

static void
test_unblock(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) puk = secret(SO_PIN), wrong = secret("00000000");
  g_autoptr(SignetSecret) fresh = secret("24682468");
  g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);
  g_autoptr(SignetP11Session) s2 = NULL, s3 = NULL;

  g_assert_false(signet_p11_session_unblock_pin(s, wrong, fresh, FALSE, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PUK_INCORRECT);
  g_assert_nonnull(strstr(error->message, "Wrong PUK"));
  g_clear_error(&error);
  assert_tries(f, "puk wrong");

  s2 = signet_p11_session_open(f->ctx, f->token, &error);
  g_assert_true(signet_p11_session_unblock_pin(s2, puk, fresh, FALSE, &error));
  g_assert_no_error(error);
  g_clear_pointer(&s2, signet_p11_session_free);
  assert_tries(f, "puk ok");

  s3 = signet_p11_session_open(f->ctx, f->token, &error);
  g_assert_true(signet_p11_session_login(s3, fresh, FALSE, &error));
  g_assert_no_error(error);
}

/* A token that really makes an extractable key (the shim's fault): the key
 * is refused and deleted, on both models. */
static void
test_extractable(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Session) s = NULL;
  g_autoptr(GBytes) id = NULL;
  g_autoptr(GPtrArray) pairs = NULL;
  g_autofree char *fault = NULL;

  if (f->shim_state == NULL) {
    g_test_skip("needs the test shim (SIGNET_SHIM_MODULE)");
    return;
  }
  fault = g_build_filename(f->shim_state, "fault", NULL);
  g_assert_true(g_file_set_contents(fault, "C_GenerateKeyPair extractable\n", -1, NULL));
  s = logged_in_session(f);
  g_assert_false(
      signet_p11_session_generate_key_pair(s, SIGNET_P11_KEY_EC_P256, "leaky", &id, &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED);
  g_assert_nonnull(strstr(error->message, "can be extracted"));
  g_assert_null(id);
  pairs = signet_p11_session_list_key_pairs(s, NULL);
  g_assert_cmpuint(pairs->len, ==, 0);
}

/* What a CA that encrypts its answer to the key needs: SoftHSM2 and the card
 * model decrypt with RSA (CKM_RSA_PKCS, CKF_DECRYPT); an EC key never does,
 * and the refusal names who needs it. (A token whose keys only sign:
 * tests/agent/test-scep.sh, through the shim's "sign-only".) */
static void
test_check_decrypt(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true(f->token->can_decrypt_rsa);
  g_assert_true(signet_p11_token_check_decrypt(f->token, SIGNET_P11_KEY_RSA_2048, "SCEP", &error));
  g_assert_no_error(error);
  g_assert_false(signet_p11_token_check_decrypt(f->token, SIGNET_P11_KEY_EC_P256, "SCEP", &error));
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED);
  g_assert_nonnull(strstr(error->message, "cannot decrypt with an ec:p256 key"));
  g_assert_nonnull(strstr(error->message, "SCEP needs that"));
}

/* One after another in one context, as an agent runs them: a key, a
 * signature through OpenSSL's EVP, a certificate, a wrong PIN change, an
 * unblock. Nothing the earlier ones did may be left open to get in the
 * way: SoftHSM2 refuses the unblock's SO login with
 * CKR_SESSION_READ_ONLY_EXISTS while a session is. */
static void
test_sequence(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) id = NULL;
  g_autoptr(SignetSecret) right = secret(PIN), wrong = secret("999999");
  g_autoptr(SignetSecret) fresh = secret("55555555"), puk = secret(SO_PIN);
  g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
  unsigned char sig[1024];
  size_t siglen = sizeof sig;

  {
    g_autoptr(SignetP11Session) s = logged_in_session(f);
    g_autoptr(EVP_PKEY) priv = NULL, pub = NULL, ca_key = EVP_EC_gen("P-256");
    g_autoptr(X509) cert = NULL;

    g_assert_true(
        signet_p11_session_generate_key_pair(s, SIGNET_P11_KEY_EC_P256, "seq", &id, &error));
    g_assert_no_error(error);
    priv = signet_p11_session_get_private_key(s, id, &error);
    g_assert_no_error(error);
    g_assert_cmpint(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv), ==, 1);
    g_assert_cmpint(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)"x", 1), ==, 1);
    /* As the agent does: nothing that holds the key outlives the operation
     * (the key reaches the token through the operation's session). */
    EVP_MD_CTX_reset(md);
    pub = signet_p11_session_get_public_key(s, id, &error);
    g_assert_no_error(error);
    cert = make_cert(pub, ca_key, "Sequence", FALSE, 30);
    g_assert_true(signet_p11_session_store_certificate(s, cert, id, "seq", FALSE, &error));
    g_assert_no_error(error);
  }
  {
    g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);
    g_assert_false(signet_p11_session_change_pin(s, wrong, fresh, FALSE, &error));
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INCORRECT);
    g_clear_error(&error);
  }
  assert_tries(f, "pin wrong");
  {
    g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);
    g_assert_true(signet_p11_session_unblock_pin(s, puk, fresh, FALSE, &error));
    g_assert_no_error(error);
  }
  assert_tries(f, "puk ok");
  {
    g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);
    g_assert_true(signet_p11_session_login(s, fresh, FALSE, &error));
    g_assert_no_error(error);
    g_assert_false(signet_p11_session_get_token(s)->user_pin.count_low);
  }
}

/* The PUK's last try is never sent unconfirmed, where the module reports
 * the PUK's state (SoftHSM2's model does; OpenSC never does). */
static void
test_puk_final_try(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) wrong = secret("00000000"), fresh = secret("24682468");
  g_autofree char *pins = NULL;
  g_autofree char *text = NULL;

  if (f->shim_state == NULL) {
    g_test_skip("needs the test shim (SIGNET_SHIM_MODULE)");
    return;
  }
  /* One PUK try left. */
  pins = g_build_filename(f->shim_state, "pins", NULL);
  text = g_strdup_printf("%s 3 1\n", f->token->serial);
  g_assert_true(g_file_set_contents(pins, text, -1, NULL));
  {
    g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);
    g_assert_true(signet_p11_session_get_token(s)->so_pin.final_try);
    g_assert_false(signet_p11_session_unblock_pin(s, wrong, fresh, FALSE, &error));
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FINAL_TRY);
    g_assert_nonnull(strstr(error->message, "PUK"));
    g_clear_error(&error);
    assert_tries(f, "");
    g_assert_false(signet_p11_session_unblock_pin(s, wrong, fresh, TRUE, &error));
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PUK_LOCKED);
    assert_tries(f, "puk wrong");
  }
}

/* Within one session a search or an attribute read goes to the token once,
 * until something is written or the login changes; an object's attributes
 * are read together (its lengths, then its values). Counted by OpenSC's
 * pkcs11-spy between us and the module, in a process of its own (the spy
 * keeps its target and its log file for as long as it is loaded). */
/* A spy test runs in a subprocess of its own (the spy's log is per
 * process): TRUE there; in the parent, runs it and checks it passed (or
 * skips without pkcs11-spy), FALSE. */
static gboolean
spy_test_runs_here(Fixture *f)
{
  if (f->spy_log == NULL || spy_module() == NULL) {
    g_test_skip("no pkcs11-spy (apt-get install opensc-pkcs11)");
    return FALSE;
  }
  if (!g_test_subprocess()) {
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
    return FALSE;
  }
  return TRUE;
}

/* A token found once is found again with one C_GetSlotList and one
 * C_GetTokenInfo, however many tokens there are; slots are read once while
 * the module's slot list stays the same. A token pulled is not found from
 * what was kept; put back, it is found and its slot read again. */
static void
test_find_again(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Token) t = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *serial = NULL;
  guint slot_lists, slot_infos, token_infos;

  (void)data;
  if (!spy_test_runs_here(f))
    return;
  t = signet_p11_context_find_token(f->ctx, "Signet Test", &error);
  g_assert_no_error(error);
  serial = g_strdup(t->serial);
  g_clear_pointer(&t, signet_p11_token_free);
  slot_lists = spy_count(f, "C_GetSlotList");
  slot_infos = spy_count(f, "C_GetSlotInfo");
  token_infos = spy_count(f, "C_GetTokenInfo");

  t = signet_p11_context_find_token(f->ctx, "Signet Test", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(t->serial, ==, serial);
  g_assert_cmpstr(t->label, ==, "Signet Test");
  g_clear_pointer(&t, signet_p11_token_free);
  g_assert_cmpuint(spy_count(f, "C_GetSlotList"), ==, slot_lists + 1);
  g_assert_cmpuint(spy_count(f, "C_GetTokenInfo"), ==, token_infos + 1);
  g_assert_cmpuint(spy_count(f, "C_GetSlotInfo"), ==, slot_infos);

  /* The other token, by its own name: every token read, no slot. */
  t = signet_p11_context_find_token(f->ctx, "Second Token", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(t->label, ==, "Second Token");
  g_clear_pointer(&t, signet_p11_token_free);
  list = signet_p11_context_list_tokens(f->ctx, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  g_assert_cmpuint(spy_count(f, "C_GetSlotInfo"), ==, slot_infos);

  if (f->shim_state == NULL)
    return;
  /* Pulled: not found from what was kept. */
  {
    g_autofree char *removed = g_build_filename(f->shim_state, "removed", NULL);
    g_autofree char *fault = g_build_filename(f->shim_state, "fault", NULL);

    g_assert_true(g_file_set_contents(fault, "C_GetSlotList remove\n", -1, NULL));
    t = signet_p11_context_find_token(f->ctx, "Signet Test", &error);
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_TOKEN);
    g_assert_null(t);
    g_clear_error(&error);
    g_assert_cmpint(g_unlink(fault), ==, 0);
    g_assert_cmpint(g_unlink(removed), ==, 0);
  }
  slot_infos = spy_count(f, "C_GetSlotInfo");
  t = signet_p11_context_find_token(f->ctx, "Signet Test", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(t->serial, ==, serial);
  g_assert_cmpuint(spy_count(f, "C_GetSlotInfo"), >, slot_infos);
}

static void
test_reads_once(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Session) s = NULL;
  g_autoptr(SignetSecret) pin = secret(PIN);
  g_autoptr(GPtrArray) pairs = NULL, certs = NULL;
  g_autoptr(GBytes) id = NULL;
  g_autoptr(EVP_PKEY) pub = NULL, ca_key = EVP_EC_gen("P-256");
  g_autoptr(X509) cert = NULL;
  guint finds, reads, infos;

  (void)data;
  if (!spy_test_runs_here(f))
    return;
  s = signet_p11_session_open(f->ctx, f->token, &error);
  g_assert_no_error(error);
  pairs = signet_p11_session_list_key_pairs(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 0);
  finds = spy_count(f, "C_FindObjectsInit");
  reads = spy_count(f, "C_GetAttributeValue");
  g_assert_cmpuint(finds, ==, 3); /* private keys, public keys, certificates */
  /* Each search in one C_FindObjects: a batch shorter than its room ends it. */
  g_assert_cmpuint(spy_count(f, "C_FindObjects"), ==, finds);
  /* Asked again, with nothing written: nothing is sent. */
  g_clear_pointer(&pairs, g_ptr_array_unref);
  pairs = signet_p11_session_list_key_pairs(s, &error);
  certs = signet_p11_session_list_certificates(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds);
  g_assert_cmpuint(spy_count(f, "C_GetAttributeValue"), ==, reads);

  /* Logged in, the token shows its private objects: searched again. With
   * no counter flag up before, the login reads no token information again
   * (it leaves none up). */
  infos = spy_count(f, "C_GetTokenInfo");
  g_assert_true(signet_p11_session_login(s, pin, FALSE, &error));
  g_assert_cmpuint(spy_count(f, "C_GetTokenInfo"), ==, infos);
  g_assert_true(signet_p11_session_generate_key_pair(s, SIGNET_P11_KEY_EC_P256, "k", &id, &error));
  g_assert_no_error(error);
  finds = spy_count(f, "C_FindObjectsInit");
  g_clear_pointer(&pairs, g_ptr_array_unref);
  pairs = signet_p11_session_list_key_pairs(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 1); /* the new key: a write is never hidden */
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds + 3);
  g_assert_cmpuint(spy_count(f, "C_FindObjects"), ==, finds + 3);

  /* The new pair's keys are known by their id without a search (the id is
   * new: nothing else carries it), and the public key was read with them. */
  finds = spy_count(f, "C_FindObjectsInit");
  reads = spy_count(f, "C_GetAttributeValue");
  pub = signet_p11_session_get_public_key(s, id, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds);
  g_assert_cmpuint(spy_count(f, "C_GetAttributeValue"), ==, reads);
  /* Bound to OpenSSL, the private key costs no call either, and a
   * signature through it is C_SignInit and C_Sign in this session, nothing
   * else (as a TLS handshake makes it). */
  {
    g_autoptr(EVP_PKEY) priv = signet_p11_session_get_private_key(s, id, &error);
    g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
    guint signs = spy_count(f, "C_Sign");
    unsigned char sig[128];
    size_t siglen = sizeof sig;

    g_assert_no_error(error);
    g_assert_cmpint(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv), ==, 1);
    g_assert_cmpint(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)"x", 1), ==, 1);
    g_assert_cmpuint(spy_count(f, "C_Sign"), ==, signs + 1);
    g_assert_cmpuint(spy_last_sign_length(f), ==, 32);
    /* SHA-512 with this P-256 key: the token is given the hash's leftmost
     * 32 bytes, as ECDSA signs them (not all 64, which a card may refuse). */
    EVP_MD_CTX_reset(md);
    siglen = sizeof sig;
    g_assert_cmpint(EVP_DigestSignInit(md, NULL, EVP_sha512(), NULL, priv), ==, 1);
    g_assert_cmpint(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)"x", 1), ==, 1);
    g_assert_cmpuint(spy_count(f, "C_Sign"), ==, signs + 2);
    g_assert_cmpuint(spy_last_sign_length(f), ==, 32);
    g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds);
    g_assert_cmpuint(spy_count(f, "C_GetAttributeValue"), ==, reads);
    g_assert_cmpuint(spy_count(f, "C_OpenSession"), ==, 1);
  }

  /* A certificate written is seen at once with no search sent again: the
   * list of every certificate gains it, its value is what was read back,
   * and the rest of it comes in one call (plus the card's check that a
   * private key's value is unreadable, value_unreadable(): up to three). */
  cert = make_cert(pub, ca_key, "Holder", FALSE, 30);
  g_assert_true(signet_p11_session_store_certificate(s, cert, id, "k", FALSE, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds);
  reads = spy_count(f, "C_GetAttributeValue");
  g_assert_true(signet_p11_session_has_certificate(s, cert, &error));
  g_clear_pointer(&pairs, g_ptr_array_unref);
  pairs = signet_p11_session_list_key_pairs(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 1);
  g_assert_true(((SignetP11KeyPair *)g_ptr_array_index(pairs, 0))->has_certificate);
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds);
  g_assert_cmpuint(spy_count(f, "C_GetAttributeValue") - reads, <=,
                   1 + (f->model == MODEL_CARD ? 3 : 0));
  reads = spy_count(f, "C_GetAttributeValue");
  g_clear_pointer(&certs, g_ptr_array_unref);
  certs = signet_p11_session_list_certificates(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(certs->len, ==, 1);
  g_assert_cmpuint(spy_count(f, "C_GetAttributeValue"), ==, reads);
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds);

  /* Another operation (a new session; the login is the process's, so it
   * sees the private key too) reads the token itself: three searches of
   * one C_FindObjects each, and each object it finds (the private key, the
   * public key, the certificate) in one C_GetAttributeValue: an EC key's
   * absent RSA parts and a public key's absent private flags are known
   * absent from the first answer, not asked again (before, each key took
   * a second call). */
  {
    g_autoptr(SignetP11Session) other = signet_p11_session_open(f->ctx, f->token, &error);
    g_autoptr(GPtrArray) listed = NULL;
    guint searches = spy_count(f, "C_FindObjects");

    g_autoptr(EVP_PKEY) other_pub = NULL;

    g_assert_no_error(error);
    reads = spy_count(f, "C_GetAttributeValue");
    /* A key looked up by id is found in its class's list, which the
     * listing below then takes as it is: one search, not two. */
    other_pub = signet_p11_session_get_public_key(other, id, &error);
    g_assert_no_error(error);
    g_assert_true(EVP_PKEY_eq(other_pub, pub) == 1);
    g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds + 1);
    listed = signet_p11_session_list_key_pairs(other, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(listed->len, ==, 1);
    g_assert_true(((SignetP11KeyPair *)g_ptr_array_index(listed, 0))->has_certificate);
    g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds + 3);
    g_assert_cmpuint(spy_count(f, "C_FindObjects"), ==, searches + 3);
    /* On the card, the private key's unreadable value is checked too
     * (value_unreadable(): three length queries). */
    g_assert_cmpuint(spy_count(f, "C_GetAttributeValue") - reads, ==,
                     3 + (f->model == MODEL_CARD ? 3 : 0));
    finds = spy_count(f, "C_FindObjectsInit");
  }

  /* Deleted, the pair leaves every answer kept: none of it is listed. Its
   * objects are found by id in the lists of every key and certificate with
   * their ids read, so the deletion sends no search either. */
  g_assert_true(signet_p11_session_delete_key_pair(s, id, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds);
  g_assert_cmpuint(spy_count(f, "C_DestroyObject"), ==, 3);
  g_clear_pointer(&pairs, g_ptr_array_unref);
  pairs = signet_p11_session_list_key_pairs(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 0);
  g_clear_pointer(&certs, g_ptr_array_unref);
  certs = signet_p11_session_list_certificates(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(certs->len, ==, 0);
  g_assert_false(signet_p11_session_has_certificate(s, cert, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds);
  /* A new session (another operation) asks the token itself. */
  g_clear_pointer(&s, signet_p11_session_free);
  s = signet_p11_session_open(f->ctx, f->token, &error);
  g_assert_no_error(error);
  g_clear_pointer(&pairs, g_ptr_array_unref);
  pairs = signet_p11_session_list_key_pairs(s, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 0);
  g_assert_cmpuint(spy_count(f, "C_FindObjectsInit"), ==, finds + 3);
}

/* More objects than one C_FindObjects batch holds (64): the search goes on
 * past a full batch, and a new session lists them all. */
static void
test_many_objects(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EVP_PKEY) ca_key = EVP_EC_gen("P-256");
  g_autoptr(GPtrArray) certs = NULL;
  const guint n = 70;

  (void)data;
  {
    g_autoptr(SignetP11Session) s = logged_in_session(f);

    for (guint i = 0; i < n; i++) {
      g_autofree char *name = g_strdup_printf("CA %u", i);
      g_autoptr(X509) cert = make_cert(ca_key, ca_key, name, TRUE, 30);

      g_assert_true(signet_p11_session_store_certificate(s, cert, NULL, name, TRUE, &error));
      g_assert_no_error(error);
    }
  }
  {
    g_autoptr(SignetP11Session) s = signet_p11_session_open(f->ctx, f->token, &error);

    g_assert_no_error(error);
    certs = signet_p11_session_list_certificates(s, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(certs->len, ==, n);
  }
}

static void
test_bad_module(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Context) ctx
      = signet_p11_context_new("/nonexistent/module.so", SIGNET_P11_UNBLOCK_UNKNOWN, &error);
  g_assert_null(ctx);
  g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_MODULE);
  g_assert_nonnull(strstr(error->message, "/nonexistent/module.so"));
}

/* Each operation logs in on its own session; a key bound to OpenSSL in one
 * is the key generated there, found after its generation (RSA then EC then
 * RSA again, a new session each time). */
static void
test_private_key_twice(Fixture *f, gconstpointer data)
{
  for (int round = 0; round < 3; round++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(SignetP11Session) s = logged_in_session(f);
    g_autoptr(GBytes) id = NULL;
    g_autoptr(EVP_PKEY) priv = NULL, pub = NULL;

    g_assert_true(signet_p11_session_generate_key_pair(
        s, round == 1 ? SIGNET_P11_KEY_EC_P256 : SIGNET_P11_KEY_RSA_2048, "k", &id, &error));
    g_assert_no_error(error);
    priv = signet_p11_session_get_private_key(s, id, &error);
    g_assert_no_error(error);
    g_assert_nonnull(priv);
    pub = signet_p11_session_get_public_key(s, id, &error);
    g_assert_no_error(error);
    g_assert_cmpint(EVP_PKEY_eq(priv, pub), ==, 1);
  }
}

/* Signs @what with @priv through OpenSSL's EVP (@pss: RSA-PSS as TLS 1.3
 * has it) and checks the signature with @pub. */
static void
assert_evp_signs(EVP_PKEY *priv, EVP_PKEY *pub, const EVP_MD *md, gboolean pss)
{
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char sig[1024];
  size_t siglen = sizeof sig;
  static const unsigned char what[] = "signet";

  g_assert_cmpint(EVP_DigestSignInit(ctx, &pctx, md, NULL, priv), ==, 1);
  if (pss) {
    g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), ==, 1);
    g_assert_cmpint(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), ==, 1);
  }
  g_assert_cmpint(EVP_DigestSign(ctx, sig, &siglen, what, sizeof what - 1), ==, 1);
  EVP_MD_CTX_reset(ctx);
  g_assert_cmpint(EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pub), ==, 1);
  if (pss) {
    g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), ==, 1);
    g_assert_cmpint(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), ==, 1);
  }
  g_assert_cmpint(EVP_DigestVerify(ctx, sig, siglen, what, sizeof what - 1), ==, 1);
  /* Not a signature of something else. */
  EVP_MD_CTX_reset(ctx);
  g_assert_cmpint(EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pub), ==, 1);
  if (pss)
    g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), ==, 1);
  g_assert_cmpint(EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)"signed", 6), ==, 0);
  ERR_clear_error();
}

/* Decrypts with @priv what @pub encrypted, with @padding. */
static void
assert_evp_decrypts(EVP_PKEY *priv, EVP_PKEY *pub, int padding)
{
  g_autoptr(EVP_PKEY_CTX) enc = EVP_PKEY_CTX_new(pub, NULL);
  g_autoptr(EVP_PKEY_CTX) dec = EVP_PKEY_CTX_new(priv, NULL);
  static const unsigned char secret_key[] = "a content-encryption key";
  unsigned char wrapped[512], out[512];
  size_t wrapped_len = sizeof wrapped, out_len = sizeof out;

  g_assert_cmpint(EVP_PKEY_encrypt_init(enc), ==, 1);
  g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(enc, padding), ==, 1);
  g_assert_cmpint(EVP_PKEY_encrypt(enc, wrapped, &wrapped_len, secret_key, sizeof secret_key - 1),
                  ==, 1);
  g_assert_cmpint(EVP_PKEY_decrypt_init(dec), ==, 1);
  g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(dec, padding), ==, 1);
  g_assert_cmpint(EVP_PKEY_decrypt(dec, out, &out_len, wrapped, wrapped_len), ==, 1);
  g_assert_cmpmem(out, out_len, secret_key, sizeof secret_key - 1);
}

/* A token key as OpenSSL's EVP_PKEY (signet-p11-evp.c), as TLS, CMP and
 * SCEP use it: RSA signs with PKCS#1 v1.5 (CKM_RSA_PKCS over the
 * DigestInfo) and PSS (OpenSSL's padding, raw RSA on the token), decrypts
 * PKCS#1 v1.5 (SCEP's envelope) and OAEP; EC P-256 and P-384 sign
 * (CKM_ECDSA), with their own hash and with a longer one. Each checked
 * with the token's public key. Once the key is deleted, a signature fails
 * with the token's reason in OpenSSL's error queue, where curl and the
 * connectors read it. */
static void
test_private_key_evp(Fixture *f, gconstpointer data)
{
  static const SignetP11KeyType types[]
      = { SIGNET_P11_KEY_RSA_2048, SIGNET_P11_KEY_EC_P256, SIGNET_P11_KEY_EC_P384 };
  g_autoptr(SignetP11Session) s = logged_in_session(f);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
    g_autoptr(GBytes) id = NULL;
    g_autoptr(EVP_PKEY) priv = NULL, pub = NULL;
    g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    const char *why;

    /* An RSA key that decrypts too, as SCEP's request key is. */
    id = signet_p11_new_key_id(&error);
    g_assert_no_error(error);
    if (types[i] == SIGNET_P11_KEY_RSA_2048)
      g_assert_true(
          signet_p11_session_generate_decrypting_key_pair_with_id(s, types[i], "k", id, &error));
    else
      g_assert_true(signet_p11_session_generate_key_pair_with_id(s, types[i], "k", id, &error));
    g_assert_no_error(error);
    priv = signet_p11_session_get_private_key(s, id, &error);
    g_assert_no_error(error);
    pub = signet_p11_session_get_public_key(s, id, &error);
    g_assert_no_error(error);
    if (types[i] == SIGNET_P11_KEY_RSA_2048) {
      assert_evp_signs(priv, pub, EVP_sha256(), FALSE);
      assert_evp_signs(priv, pub, EVP_sha256(), TRUE);
      assert_evp_decrypts(priv, pub, RSA_PKCS1_PADDING);
      assert_evp_decrypts(priv, pub, RSA_PKCS1_OAEP_PADDING);
    } else {
      assert_evp_signs(priv, pub, i == 2 ? EVP_sha384() : EVP_sha256(), FALSE);
      /* A hash longer than the curve's order (TLS 1.2 allows SHA-512 with
       * P-256): its leftmost bytes are signed, as a verifier takes them. */
      assert_evp_signs(priv, pub, EVP_sha512(), FALSE);
    }

    g_assert_true(signet_p11_session_delete_key_pair(s, id, &error));
    g_assert_no_error(error);
    ERR_clear_error();
    g_assert_cmpint(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, priv), ==, 1);
    g_assert_cmpint(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)"x", 1), !=, 1);
    g_assert_cmpint(ERR_peek_last_error_data(&why, NULL), !=, 0);
    g_assert_nonnull(strstr(why, "no private key with this id"));
    ERR_clear_error();
  }
  {
    g_autoptr(GBytes) none = g_bytes_new_static("\x01\x02", 2);
    g_autoptr(EVP_PKEY) priv = signet_p11_session_get_private_key(s, none, &error);

    g_assert_null(priv);
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT);
  }
}

/* A signature made by signet_p11_session_sign() verifies with the
 * pair's public key, for RSA (CKM_RSA_PKCS over the DigestInfo) and EC
 * (CKM_ECDSA, the raw r and s turned into DER); a key that is not there is
 * NO_SUCH_OBJECT. */
static void
test_sign_own_session(Fixture *f, gconstpointer data)
{
  static const SignetP11KeyType types[]
      = { SIGNET_P11_KEY_RSA_2048, SIGNET_P11_KEY_EC_P256, SIGNET_P11_KEY_EC_P384 };
  g_autoptr(SignetP11Session) s = logged_in_session(f);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
    g_autoptr(GBytes) id = NULL;
    g_autoptr(GBytes) sig = NULL;
    g_autoptr(EVP_PKEY) pub = NULL;
    g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
    const EVP_MD *hash = i == 2 ? EVP_sha384() : EVP_sha256();
    gsize len;
    const guint8 *bytes;

    g_assert_true(signet_p11_session_generate_key_pair(s, types[i], "k", &id, &error));
    g_assert_no_error(error);
    sig = signet_p11_session_sign(s, id, hash, (const guint8 *)"signet", 6, &error);
    g_assert_no_error(error);
    g_assert_nonnull(sig);
    pub = signet_p11_session_get_public_key(s, id, &error);
    g_assert_no_error(error);
    bytes = g_bytes_get_data(sig, &len);
    g_assert_cmpint(EVP_DigestVerifyInit(md, NULL, hash, NULL, pub), ==, 1);
    g_assert_cmpint(EVP_DigestVerify(md, bytes, len, (const unsigned char *)"signet", 6), ==, 1);
    /* Not a signature of something else. */
    EVP_MD_CTX_reset(md);
    g_assert_cmpint(EVP_DigestVerifyInit(md, NULL, hash, NULL, pub), ==, 1);
    g_assert_cmpint(EVP_DigestVerify(md, bytes, len, (const unsigned char *)"signed", 6), ==, 0);
  }
  {
    g_autoptr(GBytes) none = g_bytes_new_static("\x01\x02", 2);
    g_autoptr(GBytes) sig
        = signet_p11_session_sign(s, none, EVP_sha256(), (const guint8 *)"x", 1, &error);

    g_assert_null(sig);
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT);
  }
}

/* Initialises SoftHSM2's free slot in this process, as a token put in a
 * reader while the agent runs: SoftHSM2 learns of tokens another process
 * makes only when it starts, so softhsm2-util cannot be used here. */
static void
init_token_in_process(const char *label)
{
  void *module = dlopen(softhsm_module(), RTLD_NOW | RTLD_LOCAL);
  CK_C_GetFunctionList get = NULL;
  CK_FUNCTION_LIST_PTR p11 = NULL;
  CK_SLOT_ID slots[16];
  CK_ULONG n = G_N_ELEMENTS(slots);
  CK_UTF8CHAR padded[32];
  CK_SESSION_HANDLE h;
  gboolean done = FALSE;

  g_assert_nonnull(module);
  get = (CK_C_GetFunctionList)dlsym(module, "C_GetFunctionList");
  g_assert_nonnull(get);
  g_assert_cmphex(get(&p11), ==, CKR_OK);
  g_assert_cmphex(p11->C_GetSlotList(CK_TRUE, slots, &n), ==, CKR_OK);
  memset(padded, ' ', sizeof padded);
  memcpy(padded, label, strlen(label));
  for (CK_ULONG i = 0; i < n && !done; i++) {
    CK_TOKEN_INFO info;

    g_assert_cmphex(p11->C_GetTokenInfo(slots[i], &info), ==, CKR_OK);
    if (info.flags & CKF_TOKEN_INITIALIZED)
      continue;
    g_assert_cmphex(p11->C_InitToken(slots[i], (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), padded), ==,
                    CKR_OK);
    g_assert_cmphex(
        p11->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h), ==,
        CKR_OK);
    g_assert_cmphex(p11->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)), ==, CKR_OK);
    g_assert_cmphex(p11->C_InitPIN(h, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)), ==, CKR_OK);
    g_assert_cmphex(p11->C_Logout(h), ==, CKR_OK);
    g_assert_cmphex(p11->C_CloseSession(h), ==, CKR_OK);
    done = TRUE;
  }
  g_assert_true(done);
  dlclose(module);
}

/* A token that comes while another token's key is bound (one put in a
 * reader in the middle of a batch) is found and its key bound without
 * closing the first token's session: the first key still signs. (libp11,
 * which bound keys before, enumerated the slots anew and sent
 * C_CloseAllSessions for each: CKR_SESSION_HANDLE_INVALID at the first
 * key's next signature.) */
static void
test_token_added_later(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetSecret) pin = secret(PIN);
  g_autoptr(SignetP11Session) first = logged_in_session(f);
  g_autoptr(SignetP11Session) second = NULL;
  g_autoptr(SignetP11Token) added = NULL;
  g_autoptr(GBytes) id_first = NULL, id_second = NULL;
  g_autoptr(EVP_PKEY) priv_first = NULL, priv_second = NULL;
  g_autoptr(EVP_PKEY) pub_first = NULL;
  g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
  g_autoptr(GPtrArray) pairs = NULL;
  unsigned char sig[512];
  size_t siglen = sizeof sig;

  /* The first token's key, bound to OpenSSL. */
  g_assert_true(
      signet_p11_session_generate_key_pair(first, SIGNET_P11_KEY_EC_P256, "a", &id_first, &error));
  g_assert_no_error(error);
  priv_first = signet_p11_session_get_private_key(first, id_first, &error);
  g_assert_no_error(error);

  /* A second token arrives; its key is bound too. */
  init_token_in_process("Added Later");
  added = signet_p11_context_find_token(f->ctx, "Added Later", &error);
  g_assert_no_error(error);
  second = signet_p11_session_open(f->ctx, added, &error);
  g_assert_no_error(error);
  g_assert_true(signet_p11_session_login(second, pin, FALSE, &error));
  g_assert_no_error(error);
  g_assert_true(signet_p11_session_generate_key_pair(second, SIGNET_P11_KEY_EC_P256, "b",
                                                     &id_second, &error));
  g_assert_no_error(error);
  priv_second = signet_p11_session_get_private_key(second, id_second, &error);
  g_assert_no_error(error);
  g_assert_nonnull(priv_second);

  /* The first token's session still works, logged in, and its key signs. */
  pairs = signet_p11_session_list_key_pairs(first, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pairs->len, ==, 1);
  g_assert_true(((SignetP11KeyPair *)g_ptr_array_index(pairs, 0))->has_private);
  g_assert_cmpint(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv_first), ==, 1);
  g_assert_cmpint(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)"signet", 6), ==, 1);
  EVP_MD_CTX_reset(md);
  pub_first = signet_p11_session_get_public_key(first, id_first, &error);
  g_assert_no_error(error);
  g_assert_cmpint(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub_first), ==, 1);
  g_assert_cmpint(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)"signet", 6), ==, 1);
}

/* Without a module= setting, every module registered with p11-kit is
 * loaded, as its proxy would: SoftHSM2's registration finds our token. */
static void
test_p11kit_default(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Context) ctx = NULL;
  g_autoptr(SignetP11Token) t = NULL;

  if (!g_file_test("/usr/share/p11-kit/modules/softhsm2.module", G_FILE_TEST_EXISTS)) {
    g_test_skip("SoftHSM2 is not registered with p11-kit");
    return;
  }
  ctx = signet_p11_context_new(NULL, SIGNET_P11_UNBLOCK_UNKNOWN, &error);
  g_assert_no_error(error);
  t = signet_p11_context_find_token(ctx, f->token->serial, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(t->module_name, ==, "softhsm2");
  g_assert_cmpstr(t->label, ==, "Signet Test");
}

int
main(int argc, char **argv)
{
  const char *m;

  g_test_init(&argc, &argv, NULL);
  m = softhsm_module();
  if (!g_file_test(m, G_FILE_TEST_EXISTS)) {
    /* Under automake's TAP driver a skip is a plan of 0, not exit 77. */
    g_print("1..0 # SKIP SoftHSM2 is not installed (%s): apt-get install softhsm2\n", m);
    return 0;
  }
#define ADD(name, fn, data) g_test_add(name, Fixture, data, fixture_setup, fn, fixture_teardown)
#define ADD_BOTH(name, fn, data)                                                                   \
  do {                                                                                             \
    ADD("/p11/softhsm/" name, fn, data);                                                           \
    if (shim_module() != NULL)                                                                     \
      g_test_add("/p11/card/" name, Fixture, data, fixture_setup_card, fn, fixture_teardown);      \
  } while (0)
  g_test_add_func("/p11/key-type-parse", test_key_type_parse);
  g_test_add_func("/p11/bad-module", test_bad_module);
  ADD_BOTH("list", test_list, NULL);
  ADD_BOTH("find", test_find, NULL);
  ADD_BOTH("find-ambiguous", test_find, "Signet Test");
  ADD_BOTH("login", test_login, NULL);
  ADD_BOTH("final-try", test_final_try, NULL);
  ADD_BOTH("private-key-twice", test_private_key_twice, NULL);
  ADD("/p11/softhsm/p11kit-default", test_p11kit_default, NULL);
  ADD_BOTH("private-key-evp", test_private_key_evp, NULL);
  ADD("/p11/softhsm/many-objects", test_many_objects, NULL);
  ADD_BOTH("token-added-later", test_token_added_later, NULL);
  ADD_BOTH("sign-own-session", test_sign_own_session, NULL);
  ADD_BOTH("generate/rsa-2048", test_generate_rsa, NULL);
  ADD_BOTH("generate/ec-p256", test_generate_p256, NULL);
  ADD_BOTH("generate/ec-p384", test_generate_p384, NULL);
  ADD_BOTH("generate/extractable", test_extractable, NULL);
  ADD_BOTH("check-decrypt", test_check_decrypt, NULL);
  ADD_BOTH("change-pin", test_change_pin, NULL);
  ADD_BOTH("unblock", test_unblock, NULL);
  ADD_BOTH("sequence", test_sequence, NULL);
  ADD("/p11/softhsm/puk-final-try", test_puk_final_try, NULL);
  g_test_add("/p11/softhsm/reads-once", Fixture, NULL, fixture_setup_spy, test_reads_once,
             fixture_teardown);
  g_test_add("/p11/softhsm/find-again", Fixture, "Second Token", fixture_setup_spy, test_find_again,
             fixture_teardown);
  if (shim_module() != NULL)
    g_test_add("/p11/card/reads-once", Fixture, NULL, fixture_setup_card_spy, test_reads_once,
               fixture_teardown);
  return g_test_run();
}
