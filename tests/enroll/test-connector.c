/* test-connector.c: the connector seam (enroll/signet-connector.h): the
 * factory, the checks every protocol's answers pass, and a protocol's own
 * profile group. A protocol written here (FakeCa) gives the answers a real
 * CA would not give on demand; EST through the seam against the test CA is
 * in test-est.c (/est/connector/...).
 */
#include "config.h"

#include "enroll/signet-connector.h"
#include "enroll/signet-x509.h"
#include "tests/testutil/signet-test-util.h"

#include <glib/gstdio.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <string.h>

/* ---- a protocol written by the test ---------------------------------------- */

typedef struct
{
  SignetAnswerStatus status;
  gboolean with_certs;
  gboolean with_retry;
  guint calls; /* enroll, reenroll and poll calls that reached the protocol */
} Fake;

static Fake fake;

static gpointer
fake_open(const SignetProfile *profile, GError **error)
{
  if (g_str_equal(profile->url, "https://refused.example/")) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE, "refused");
    return NULL;
  }
  return &fake;
}

static void
fake_close(gpointer impl)
{
  g_assert_true(impl == &fake);
}

static X509 *
self_signed(void)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = X509_new();

  g_assert_nonnull(key);
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             (const unsigned char *)"Fake", -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);
  EVP_PKEY_free(key);
  return cert;
}

static GPtrArray *
fake_ca_certs(gpointer impl, GError **error)
{
  /* An empty list: the seam refuses it, whatever the protocol. */
  return g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
}

static SignetAnswer *
fake_answer(void)
{
  SignetAnswer *answer = g_new0(SignetAnswer, 1);

  fake.calls++;
  answer->status = fake.status;
  if (fake.with_certs) {
    answer->certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
    g_ptr_array_add(answer->certs, self_signed());
  }
  if (fake.with_retry)
    answer->retry_at = g_date_time_new_now_utc();
  answer->poll_state = g_bytes_new_static("txn-7", 5);
  return answer;
}

static SignetAnswer *
fake_enroll(gpointer impl, const SignetConnectorCode *code, const char *csr_pem,
            EVP_PKEY *request_key, GError **error)
{
  return fake_answer();
}

static SignetAnswer *
fake_reenroll(gpointer impl, const SignetConnectorIdentity *identity, const char *csr_pem,
              EVP_PKEY *request_key, GError **error)
{
  return fake_answer();
}

static SignetAnswer *
fake_poll(gpointer impl, const SignetConnectorPoll *poll, GError **error)
{
  g_assert_nonnull(poll->poll_state);
  return fake_answer();
}

static const SignetConnectorClass fake_class = {
  .name = "fake",
  .description = "Fake (a test)",
  .keys = (const char *const[]){ NULL },
  .open = fake_open,
  .close = fake_close,
  .ca_certs = fake_ca_certs,
  .subject_hint = NULL,
  .enroll = fake_enroll,
  .reenroll = fake_reenroll,
  .poll = fake_poll,
};

static SignetProfile *
profile_new(const char *protocol, const char *url)
{
  SignetProfile *profile = g_new0(SignetProfile, 1);

  profile->name = g_strdup("t");
  profile->protocol = g_strdup(protocol);
  profile->url = g_strdup(url);
  profile->connect_timeout = 5;
  profile->timeout = 5;
  return profile;
}

/* ---- the factory ------------------------------------------------------------- */

static void
test_factory(void)
{
  g_autofree char *names = signet_connector_list_names();
  g_autoptr(SignetProfile) est = profile_new("est", "https://ca.example/.well-known/est");
  g_autoptr(SignetProfile) cmp = profile_new("cmp", "https://ca.example/cmp");
  g_autoptr(SignetProfile) scep = profile_new("scep", "https://ca.example/scep");
  g_autoptr(SignetProfile) acme = profile_new("acme", "https://ca.example/");
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr(names, ==, "cmp, est and scep");
  g_assert_nonnull(signet_connector_find("est"));
  g_assert_true(signet_connector_find("EST") == signet_connector_find("est"));
  g_assert_cmpstr(signet_connector_find("est")->name, ==, "est");
  g_assert_cmpstr(signet_connector_find("CMP")->name, ==, "cmp");
  g_assert_cmpstr(signet_connector_find("cmp")->description, ==, "CMP (RFC 4210, RFC 9483)");
  g_assert_cmpstr(signet_connector_find("SCEP")->name, ==, "scep");
  g_assert_true(signet_connector_find("scep")->key_decrypts);
  g_assert_false(signet_connector_find("est")->key_decrypts);
  g_assert_false(signet_connector_find("cmp")->key_decrypts);
  g_assert_true(signet_connector_find("scep")->renewal_poll_needs_identity);
  g_assert_true(signet_connector_find("cmp")->renewal_poll_needs_identity);
  g_assert_false(signet_connector_find("est")->renewal_poll_needs_identity);
  g_assert_null(signet_connector_find("acme"));
  g_assert_null(signet_connector_find(""));

  connector = signet_connector_new(est, &error);
  g_assert_no_error(error);
  g_assert_true(signet_connector_get_class(connector) == signet_connector_find("est"));
  g_clear_pointer(&connector, signet_connector_free);

  connector = signet_connector_new(cmp, &error);
  g_assert_no_error(error);
  g_assert_true(signet_connector_get_class(connector) == signet_connector_find("cmp"));
  /* CMP cannot ask the CA what the request must hold. */
  g_assert_false(signet_connector_has_subject_hint(connector));
  g_clear_pointer(&connector, signet_connector_free);

  /* SCEP: RSA only, refused for an EC key before any I/O; with an RSA
   * key it has a (constant) subject hint. */
  scep->key_type = g_strdup("ec:p256");
  connector = signet_connector_new(scep, &error);
  g_assert_null(connector);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_nonnull(strstr(error->message, "SCEP needs an RSA key"));
  g_clear_error(&error);
  g_free(scep->key_type);
  scep->key_type = g_strdup("rsa:2048");
  connector = signet_connector_new(scep, &error);
  g_assert_no_error(error);
  g_assert_true(signet_connector_has_subject_hint(connector));
  g_clear_pointer(&connector, signet_connector_free);

  /* A protocol this build does not speak: said, with what it knows. */
  connector = signet_connector_new(acme, &error);
  g_assert_null(connector);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_nonnull(strstr(error->message, "'acme'"));
  g_assert_nonnull(strstr(error->message, "it knows cmp, est and scep"));
  g_clear_error(&error);

  /* CMP is https only too. */
  g_free(cmp->url);
  cmp->url = g_strdup("http://ca.example/cmp");
  connector = signet_connector_new(cmp, &error);
  g_assert_null(connector);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_nonnull(strstr(error->message, "https only"));
  g_clear_error(&error);

  /* The protocol's own checks run when it opens (EST: https only). */
  g_free(est->url);
  est->url = g_strdup("http://ca.example/.well-known/est");
  connector = signet_connector_new(est, &error);
  g_assert_null(connector);
  g_assert_nonnull(error);
}

/* ---- what every answer passes ------------------------------------------------ */

static void
expect_refused(SignetAnswer *answer, GError *error, const char *needle)
{
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_assert_nonnull(strstr(error->message, "Fake (a test)"));
  g_assert_nonnull(strstr(error->message, needle));
}

static void
test_answers_checked(void)
{
  g_autoptr(SignetProfile) profile = profile_new("fake", "https://fake.example/");
  g_autoptr(SignetConnector) connector = signet_connector_new_for_class(&fake_class, profile, NULL);
  g_autoptr(SignetSecret) secret = signet_secret_new("123456", 6);
  SignetConnectorCode code = { "REF-1", secret, "0a" };
  SignetConnectorIdentity identity = { NULL, NULL };
  g_autoptr(GBytes) state = g_bytes_new_static("txn-7", 5);
  SignetConnectorPoll poll = { .csr_pem = "csr", .poll_state = state, .code = &code };
  g_autoptr(GError) error = NULL;
  SignetAnswer *answer;

  g_assert_nonnull(connector);
  memset(&fake, 0, sizeof fake);

  /* Issued with no certificate, pending with no time: refused. */
  fake.status = SIGNET_ANSWER_ISSUED;
  answer = signet_connector_enroll(connector, &code, "csr", NULL, &error);
  expect_refused(answer, error, "no certificate");
  g_clear_error(&error);
  fake.status = SIGNET_ANSWER_PENDING;
  answer = signet_connector_poll(connector, &poll, &error);
  expect_refused(answer, error, "no time to ask again");
  g_clear_error(&error);

  /* Complete answers pass, with what the protocol keeps for its poll. */
  fake.with_retry = TRUE;
  answer = signet_connector_poll(connector, &poll, &error);
  g_assert_no_error(error);
  g_assert_cmpint(answer->status, ==, SIGNET_ANSWER_PENDING);
  g_assert_cmpmem(g_bytes_get_data(answer->poll_state, NULL), 5, "txn-7", 5);
  signet_answer_free(answer);
  fake.status = SIGNET_ANSWER_ISSUED;
  fake.with_certs = TRUE;
  answer = signet_connector_enroll(connector, &code, "csr", NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(answer->certs->len, ==, 1);
  signet_answer_free(answer);
  g_assert_cmpuint(fake.calls, ==, 4);

  /* A renewal without a client identity never reaches the protocol. */
  answer = signet_connector_reenroll(connector, &identity, "csr", NULL, &error);
  g_assert_null(answer);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
  g_clear_error(&error);
  answer = signet_connector_reenroll(connector, NULL, "csr", NULL, &error);
  g_assert_null(answer);
  g_assert_nonnull(error);
  g_clear_error(&error);
  g_assert_cmpuint(fake.calls, ==, 4);

  /* An empty CA certificate list, and a protocol that cannot say the
   * subject: both said in words. */
  g_assert_null(signet_connector_ca_certs(connector, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  g_clear_error(&error);
  g_assert_null(signet_connector_subject_hint(connector, &code, NULL, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_nonnull(strstr(error->message, "must name the subject"));
  g_clear_error(&error);

  /* A protocol that refuses to open: its error, no connector. */
  g_free(profile->url);
  profile->url = g_strdup("https://refused.example/");
  g_assert_null(signet_connector_new_for_class(&fake_class, profile, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
}

/* ---- the protocol's profile group -------------------------------------------- */

static char *tmpdir;

static SignetProfile *
load(const char *text, GPtrArray *problems, GError **error)
{
  g_autofree char *path = g_build_filename(tmpdir, "p.conf", NULL);

  g_assert_true(g_file_set_contents(path, text, -1, NULL));
  return signet_profile_load_file(path, problems, error);
}

#define HEAD                                                                                       \
  "[profile]\n"                                                                                    \
  "protocol = EST\n"                                                                               \
  "url = https://ca.example/.well-known/est\n"                                                     \
  "key-type = ec:p256\n"                                                                           \
  "subject = CN=${reference}\n"

static gboolean
has_problem(GPtrArray *problems, guint line, const char *needle)
{
  for (guint i = 0; i < problems->len; i++) {
    const SignetProfileProblem *p = g_ptr_array_index(problems, i);

    g_test_message("line %u: %s", p->line, p->message);
    if (p->line == line && strstr(p->message, needle) != NULL)
      return TRUE;
  }
  return FALSE;
}

static void
test_profile_group(void)
{
  g_autoptr(GPtrArray) problems
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_problem_free);
  g_autoptr(GError) error = NULL;
  SignetProfile *profile;

  /* The protocol is named in any case; its group holds its keys. */
  profile = load(HEAD "[est]\nusername = u-${serial}\n", problems, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(profile->protocol, ==, "est");
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "username"), ==, "u-${serial}");
  g_assert_cmpuint(problems->len, ==, 0);
  signet_profile_free(profile);

  /* A key the protocol does not know: named, with the keys it knows. */
  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[est]\nusrname = x\n", problems, &error);
  g_assert_no_error(error);
  g_assert_true(has_problem(problems, 7, "unknown key \"usrname\" in [est]"));
  g_assert_true(has_problem(problems, 7, "known keys are username"));
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "username"), ==, "${reference}");
  signet_profile_free(profile);

  /* Another protocol's group is not this profile's. */
  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[cmp]\nreference = x\n", problems, &error);
  g_assert_no_error(error);
  g_assert_true(has_problem(problems, 6, "unknown group [cmp]"));
  signet_profile_free(profile);

  /* A profile from before [est]: its [activation] username still counts,
   * with a warning at its line. */
  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[activation]\nusername = old-${reference}\n", problems, &error);
  g_assert_no_error(error);
  g_assert_true(has_problem(problems, 7, "belongs in [est] now"));
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "username"), ==, "old-${reference}");
  signet_profile_free(profile);

  /* [est] wins over the old place. */
  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[activation]\nusername = old\n[est]\nusername = new\n", problems, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "username"), ==, "new");
  signet_profile_free(profile);

  /* The connector's check of a value: at its line, the profile refused. */
  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[est]\n\nusername = ${nope}\n", problems, &error);
  g_assert_null(profile);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_true(has_problem(problems, 8, "username: unknown variable"));
  g_clear_error(&error);

  /* A protocol this build does not know: the known ones are listed. */
  g_ptr_array_set_size(problems, 0);
  profile = load("[profile]\nprotocol = acme\nurl = https://x/\nkey-type = ec:p256\n"
                 "subject = CN=x\n",
                 problems, &error);
  g_assert_null(profile);
  g_assert_true(has_problem(problems, 2, "this version of Signet knows cmp, est and scep"));
}

#define CMP_HEAD                                                                                   \
  "[profile]\n"                                                                                    \
  "protocol = cmp\n"                                                                               \
  "url = https://ca.example/cmp\n"                                                                 \
  "key-type = ec:p256\n"                                                                           \
  "subject = CN=${reference}\n"

/* [cmp]: recipient (a name) and implicit-confirm (yes/no, default no). */
static void
test_profile_cmp_group(void)
{
  g_autoptr(GPtrArray) problems
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_problem_free);
  g_autoptr(GError) error = NULL;
  SignetProfile *profile;

  profile = load(CMP_HEAD "[cmp]\nrecipient = CN=Example CA,O=Example\n", problems, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(profile->protocol, ==, "cmp");
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "recipient"), ==,
                  "CN=Example CA,O=Example");
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "implicit-confirm"), ==, "no");
  g_assert_cmpuint(problems->len, ==, 0);
  signet_profile_free(profile);

  /* EST's group in a CMP profile is another protocol's: unknown here. */
  g_ptr_array_set_size(problems, 0);
  profile = load(CMP_HEAD "[est]\nusername = x\n", problems, &error);
  g_assert_no_error(error);
  g_assert_true(has_problem(problems, 6, "unknown group [est]"));
  signet_profile_free(profile);

  g_ptr_array_set_size(problems, 0);
  profile = load(CMP_HEAD "[cmp]\nimplicit-confirm = maybe\n", problems, &error);
  g_assert_null(profile);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_true(has_problem(problems, 7, "implicit-confirm: yes or no"));
  g_clear_error(&error);

  g_ptr_array_set_size(problems, 0);
  profile = load(CMP_HEAD "[cmp]\nrecipient = not a name\n", problems, &error);
  g_assert_null(profile);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_true(has_problem(problems, 7, "recipient:"));
  g_clear_error(&error);

  g_ptr_array_set_size(problems, 0);
  profile = load(CMP_HEAD "[cmp]\nreference = x\n", problems, &error);
  g_assert_no_error(error);
  g_assert_true(has_problem(problems, 7, "known keys are recipient, implicit-confirm"));
  signet_profile_free(profile);
}

/* [est] reenroll-username and reenroll-password: both or neither, the one
 * given alone reported at its line; an HTTP user name without ':'. */
static void
test_profile_reenroll_auth(void)
{
  g_autoptr(GPtrArray) problems
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_problem_free);
  g_autoptr(GError) error = NULL;
  SignetProfile *profile;

  profile = load(HEAD "[est]\nreenroll-username = estuser\nreenroll-password = est pwd\n", problems,
                 &error);
  g_assert_no_error(error);
  g_assert_cmpuint(problems->len, ==, 0);
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "reenroll-username"), ==, "estuser");
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "reenroll-password"), ==, "est pwd");
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "username"), ==, "${reference}");
  signet_profile_free(profile);

  /* Neither: nothing is added. */
  profile = load(HEAD "[est]\nusername = ${reference}\n", problems, &error);
  g_assert_no_error(error);
  g_assert_false(g_hash_table_contains(profile->settings, "reenroll-username"));
  g_assert_false(g_hash_table_contains(profile->settings, "reenroll-password"));
  signet_profile_free(profile);

  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[est]\nusername = ${reference}\nreenroll-username = estuser\n", problems,
                 &error);
  g_assert_null(profile);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_true(has_problem(problems, 8, "set without reenroll-password"));
  g_clear_error(&error);

  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[est]\n\nreenroll-password = estpwd\n", problems, &error);
  g_assert_null(profile);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  g_assert_true(has_problem(problems, 8, "set without reenroll-username"));
  g_clear_error(&error);

  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[est]\nreenroll-username = est:user\nreenroll-password = estpwd\n", problems,
                 &error);
  g_assert_null(profile);
  g_assert_true(has_problem(problems, 7, "reenroll-username: an HTTP user name"));
  g_clear_error(&error);

  /* Both mistakes at once are both reported. */
  g_ptr_array_set_size(problems, 0);
  profile = load(HEAD "[est]\nusername = ${nope}\nreenroll-password = estpwd\n", problems, &error);
  g_assert_null(profile);
  g_assert_true(has_problem(problems, 7, "username: unknown variable"));
  g_assert_true(has_problem(problems, 8, "set without reenroll-username"));
}

/* ---- signet_subject_hint_check() ------------------------------------------- */

static void
test_subject_hint_check(void)
{
  static const struct
  {
    const char *key_type; /* the hint's */
    const char *hash;
    const char *oid; /* one other OID, or NULL */
    const char *profile;
    const char *needles; /* NULL: accepted; else '|'-separated parts of the message */
  } cases[] = {
    /* Nothing asked: anything goes. */
    { NULL, NULL, NULL, "rsa:2048", NULL },
    { NULL, NULL, "1.2.840.113549.1.9.14", "ec:p256", NULL },
    /* The same key type; the algorithm alone matches any of its sizes. */
    { "ec:p384", NULL, NULL, "ec:p384", NULL },
    { "rsa:3072", "sha256", NULL, "rsa:3072", NULL },
    { "ec", "sha384", NULL, "ec:p256", NULL },
    { "rsa", "sha512", NULL, "rsa:4096", NULL },
    /* Another key type: both named, and what to do. */
    { "ec:p384", NULL, NULL, "ec:p256", "EC P-384|ec:p384|ec:p256|updated profile" },
    { "rsa:3072", NULL, NULL, "rsa:2048", "RSA 3072-bit|rsa:3072|rsa:2048|updated profile" },
    { "rsa:2048", NULL, NULL, "ec:p256", "rsa:2048|ec:p256" },
    { "ec", NULL, NULL, "rsa:2048", "an EC key|rsa:2048|updated profile" },
    { "rsa", NULL, NULL, "ec:p384", "an RSA key|ec:p384" },
    { "ec", NULL, NULL, "ecx:p256", "ecx:p256" }, /* a prefix is not an algorithm */
    /* A key Signet cannot make (P-521, RSA 1024: listed as OIDs). */
    { NULL, NULL, "1.2.840.10045.2.1", "ec:p256", "an EC key Signet cannot make|ec:p256" },
    { NULL, NULL, "1.2.840.113549.1.1.1", "rsa:2048", "an RSA key Signet cannot make" },
    /* ...unless it also named one Signet knows. */
    { "ec:p256", NULL, "1.2.840.10045.2.1", "ec:p256", NULL },
    /* A hash Signet does not sign with. */
    { NULL, "sha1", NULL, "rsa:2048", "'sha1'|sha256, sha384 or sha512" },
    { "ec:p256", "sha224", NULL, "ec:p256", "'sha224'" },
    { NULL, "md5", NULL, "ec:p256", "'md5'" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    const char *oids[] = { cases[i].oid, NULL };
    SignetSubjectHint hint = {
      .key_type = (char *)cases[i].key_type,
      .hash = (char *)cases[i].hash,
      .oids = (GStrv)oids,
    };
    gboolean ok = signet_subject_hint_check(&hint, cases[i].profile, &error);

    g_test_message("case %" G_GSIZE_FORMAT ": %s", i, error != NULL ? error->message : "ok");
    if (cases[i].needles == NULL) {
      g_assert_no_error(error);
      g_assert_true(ok);
    } else {
      g_auto(GStrv) needles = g_strsplit(cases[i].needles, "|", -1);

      g_assert_false(ok);
      g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
      for (char **n = needles; *n != NULL; n++)
        g_assert_nonnull(strstr(error->message, *n));
    }
  }
}

int
main(int argc, char **argv)
{
  int status;

  g_test_init(&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp("signet-test-connector-XXXXXX", NULL);
  g_assert_nonnull(tmpdir);
  g_test_add_func("/connector/factory", test_factory);
  g_test_add_func("/connector/answers-checked", test_answers_checked);
  g_test_add_func("/connector/profile-group", test_profile_group);
  g_test_add_func("/connector/profile-reenroll-auth", test_profile_reenroll_auth);
  g_test_add_func("/connector/profile-cmp-group", test_profile_cmp_group);
  g_test_add_func("/connector/subject-hint-check", test_subject_hint_check);
  status = g_test_run();
  signet_test_remove_tree(tmpdir);
  g_free(tmpdir);
  return status;
}
