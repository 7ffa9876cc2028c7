/* test-profile.c: enroll/signet-profile.h: CA profile files, their defaults,
 * the directories searched, broken files reported with file and line, and
 * templates.
 *
 * Every test writes its profiles into a fresh temporary directory; GLib's
 * isolated directories keep $XDG_CONFIG_HOME away from the user's.
 */
#include "config.h"

#include "enroll/signet-profile.h"
#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"
#include "tests/testutil/signet-test-util.h"

#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  (void)data;
  f->dir = g_dir_make_tmp("test-profile.XXXXXX", NULL);
  g_assert_nonnull(f->dir);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  (void)data;
  signet_test_remove_tree(f->dir);
  g_free(f->dir);
}

/* Writes @text to DIR/@rel (directories made as needed); returns the path. */
static char *
write_file(const char *dir, const char *rel, const char *text, gssize len)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
  g_file_set_contents(path, text, len, &error);
  g_assert_no_error(error);
  return g_steal_pointer(&path);
}

/* A self-signed CA certificate as PEM. */
static char *
make_ca_pem(void)
{
  g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
  g_autoptr(X509) cert = X509_new();
  g_autoptr(X509_NAME) name = signet_subject_parse("CN=Profile Test Root", NULL);
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
  char *mem = NULL;
  long len;

  g_assert_nonnull(key);
  g_assert_nonnull(name);
  g_assert_cmpint(X509_set_version(cert, 2), ==, 1);
  g_assert_cmpint(ASN1_INTEGER_set(X509_get_serialNumber(cert), 1), ==, 1);
  g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), 0));
  g_assert_nonnull(X509_gmtime_adj(X509_getm_notAfter(cert), 86400));
  g_assert_cmpint(X509_set_subject_name(cert, name), ==, 1);
  g_assert_cmpint(X509_set_issuer_name(cert, name), ==, 1);
  g_assert_cmpint(X509_set_pubkey(cert, key), ==, 1);
  g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);
  g_assert_cmpint(PEM_write_bio_X509(bio, cert), ==, 1);
  len = BIO_get_mem_data(bio, &mem);
  return g_strndup(mem, (gsize)len);
}

/* A certificate as PEM: self-signed when @issuer is NULL (then a CA's, as
 * a root), else an end-entity certificate of @issuer's name (signed with
 * its own key: a ca-roots file must refuse it for not being a CA's); valid
 * from @from_days to @to_days from now. */
static char *
make_cert_pem(const char *subject, const char *issuer, long from_days, long to_days)
{
  g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
  g_autoptr(X509) cert = X509_new();
  g_autoptr(X509_NAME) name = signet_subject_parse(subject, NULL);
  g_autoptr(X509_NAME) issuer_name = signet_subject_parse(issuer != NULL ? issuer : subject, NULL);
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
  char *mem = NULL;
  long len;

  g_assert_nonnull(key);
  g_assert_cmpint(X509_set_version(cert, 2), ==, 1);
  g_assert_cmpint(ASN1_INTEGER_set(X509_get_serialNumber(cert), 2), ==, 1);
  g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), from_days * 86400));
  g_assert_nonnull(X509_gmtime_adj(X509_getm_notAfter(cert), to_days * 86400));
  g_assert_cmpint(X509_set_subject_name(cert, name), ==, 1);
  g_assert_cmpint(X509_set_issuer_name(cert, issuer_name), ==, 1);
  g_assert_cmpint(X509_set_pubkey(cert, key), ==, 1);
  g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);
  g_assert_cmpint(PEM_write_bio_X509(bio, cert), ==, 1);
  len = BIO_get_mem_data(bio, &mem);
  return g_strndup(mem, (gsize)len);
}

/* The smallest valid profile. */
#define MINIMAL                                                                                    \
  "[profile]\n"                                                                                    \
  "protocol = est\n"                                                                               \
  "url = https://ca.example/.well-known/est\n"                                                     \
  "key-type = ec:p256\n"                                                                           \
  "subject = CN=${reference},O=Example\n"

static SignetProfile *
load_ok(const char *path, GPtrArray *problems)
{
  g_autoptr(GError) error = NULL;
  SignetProfile *profile = signet_profile_load_file(path, problems, &error);

  g_assert_no_error(error);
  g_assert_nonnull(profile);
  return profile;
}

static GPtrArray *
problems_new(void)
{
  return g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_problem_free);
}

/* ---- tests ---- */

static void
test_full(Fixture *f, gconstpointer data)
{
  g_autofree char *pem = make_ca_pem();
  g_autofree char *anchors = write_file(f->dir, "anchors/root.pem", pem, -1);
  g_autofree char *text = g_strdup_printf("# A CA ships this.\n"
                                          "[profile]\n"
                                          "display-name = Example Qualified CA\n"
                                          "display-name[pl] = Przykładowe CA\n"
                                          "protocol = est\n"
                                          "url = https://ca.example:8443/.well-known/est/q\n"
                                          "trust-anchors = %s\n"
                                          "key-type = rsa:3072\n"
                                          "subject = /C=PL/O=Example/CN=${reference} $$1\n"
                                          "renewal-key = same\n"
                                          "\n"
                                          "[labels]\n"
                                          "key = Qualified key\n"
                                          "certificate = Qualified certificate\n"
                                          "chain = Example CA\n"
                                          "[activation]\n"
                                          "reference-prompt = Order number\n"
                                          "code-prompt = PIN letter code\n"
                                          "[network]\n"
                                          "connect-timeout = 7\n"
                                          "timeout = 300\n"
                                          "[est]\n"
                                          "username = u-${serial}-${reference}\n",
                                          anchors);
  g_autofree char *path = write_file(f->dir, "example-q.conf", text, -1);
  g_autoptr(GPtrArray) problems = problems_new();
  g_autoptr(SignetProfile) profile = load_ok(path, problems);
  g_autofree char *username = NULL;
  g_autoptr(GError) error = NULL;

  (void)data;
  g_assert_cmpuint(problems->len, ==, 0);
  g_assert_cmpstr(profile->name, ==, "example-q");
  g_assert_cmpstr(profile->display_name, ==, "Example Qualified CA");
  g_assert_cmpstr(profile->file, ==, path);
  g_assert_cmpstr(profile->protocol, ==, "est");
  g_assert_cmpstr(profile->url, ==, "https://ca.example:8443/.well-known/est/q");
  g_assert_cmpstr(profile->trust_anchors, ==, anchors);
  g_assert_cmpstr(profile->key_type, ==, "rsa:3072");
  g_assert_cmpstr(profile->subject, ==, "/C=PL/O=Example/CN=${reference} $$1");
  g_assert_false(profile->subject_from_ca);
  g_assert_cmpint(profile->renewal_key, ==, SIGNET_RENEWAL_SAME_KEY);
  g_assert_cmpstr(signet_renewal_key_to_string(profile->renewal_key), ==, "same");
  g_assert_cmpstr(profile->key_label, ==, "Qualified key");
  g_assert_cmpstr(profile->certificate_label, ==, "Qualified certificate");
  g_assert_cmpstr(profile->chain_label, ==, "Example CA");
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "username"), ==,
                  "u-${serial}-${reference}");
  g_assert_cmpstr(profile->reference_prompt, ==, "Order number");
  g_assert_cmpstr(profile->code_prompt, ==, "PIN letter code");
  g_assert_cmpuint(profile->connect_timeout, ==, 7);
  g_assert_cmpuint(profile->timeout, ==, 300);

  username = signet_profile_expand(g_hash_table_lookup(profile->settings, "username"), "R-1",
                                   "0a1b", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(username, ==, "u-0a1b-R-1");
}

static void
test_defaults(Fixture *f, gconstpointer data)
{
  g_autofree char *path = write_file(f->dir, "minimal.conf", MINIMAL, -1);
  g_autoptr(GPtrArray) problems = problems_new();
  g_autoptr(SignetProfile) profile = load_ok(path, problems);

  (void)data;
  g_assert_cmpuint(problems->len, ==, 0);
  g_assert_cmpstr(profile->name, ==, "minimal");
  g_assert_cmpstr(profile->display_name, ==, "minimal");
  g_assert_null(profile->trust_anchors);
  g_assert_cmpstr(profile->subject, ==, "CN=${reference},O=Example");
  g_assert_cmpint(profile->renewal_key, ==, SIGNET_RENEWAL_NEW_KEY);
  g_assert_cmpstr(profile->key_label, ==, "minimal");
  g_assert_cmpstr(profile->certificate_label, ==, "minimal");
  g_assert_cmpstr(profile->chain_label, ==, "CA certificate");
  g_assert_cmpstr(g_hash_table_lookup(profile->settings, "username"), ==, "${reference}");
  g_assert_cmpstr(profile->reference_prompt, ==, "Reference number");
  g_assert_cmpstr(profile->code_prompt, ==, "Activation code");
  g_assert_cmpuint(profile->connect_timeout, ==, 15);
  g_assert_cmpuint(profile->timeout, ==, 120);
}

/* The labels follow one another: certificate from key, key from the name. */
static void
test_label_defaults(Fixture *f, gconstpointer data)
{
  g_autofree char *path = write_file(
      f->dir, "labels.conf", MINIMAL "display-name = Example CA\n[labels]\nkey = Signing\n", -1);
  g_autoptr(SignetProfile) profile = load_ok(path, NULL);

  (void)data;
  g_assert_cmpstr(profile->display_name, ==, "Example CA");
  g_assert_cmpstr(profile->key_label, ==, "Signing");
  g_assert_cmpstr(profile->certificate_label, ==, "Signing");
}

static void
test_ask_ca(Fixture *f, gconstpointer data)
{
  g_autofree char *path = write_file(f->dir, "ask.conf",
                                     "[profile]\nprotocol = est\nurl = https://ca.example/est\n"
                                     "key-type = ec:p384\nsubject = ask-ca\n",
                                     -1);
  g_autoptr(SignetProfile) profile = load_ok(path, NULL);

  (void)data;
  g_assert_true(profile->subject_from_ca);
  g_assert_null(profile->subject);
  g_assert_cmpstr(profile->key_type, ==, "ec:p384");
}

static void
test_trust_anchors_relative(Fixture *f, gconstpointer data)
{
  g_autofree char *pem = make_ca_pem();
  g_autofree char *anchors = write_file(f->dir, "d/certs/root.pem", pem, -1);
  g_autofree char *path
      = write_file(f->dir, "d/rel.conf", MINIMAL "trust-anchors = certs/root.pem\n", -1);
  g_autoptr(SignetProfile) profile = NULL;
  g_autofree char *cwd = g_get_current_dir();

  (void)data;
  /* Relative to the profile's directory, not to the current one. */
  g_assert_cmpint(g_chdir("/"), ==, 0);
  profile = load_ok(path, NULL);
  g_assert_cmpint(g_chdir(cwd), ==, 0);
  g_assert_cmpstr(profile->trust_anchors, ==, anchors);
}

/* ca-roots: the issuing roots, relative to the profile's directory like
 * trust-anchors, and separate from them; any certificate file format. */
static void
test_ca_roots(Fixture *f, gconstpointer data)
{
  g_autofree char *tls = make_ca_pem();
  g_autofree char *root1 = make_cert_pem("CN=Qualified Root 1", NULL, -1, 3650);
  g_autofree char *root2 = make_cert_pem("CN=Qualified Root 2", NULL, -1, 3650);
  g_autofree char *both = g_strconcat(root1, root2, NULL);
  g_autofree char *anchors = write_file(f->dir, "q/tls.pem", tls, -1);
  g_autofree char *roots = write_file(f->dir, "q/roots/qualified.pem", both, -1);
  g_autofree char *path = write_file(f->dir, "q/q.conf",
                                     MINIMAL "trust-anchors = tls.pem\n"
                                             "ca-roots = roots/qualified.pem\n",
                                     -1);
  g_autoptr(GPtrArray) problems = problems_new();
  g_autoptr(SignetProfile) profile = NULL;
  g_autoptr(SignetProfile) plain = NULL;
  g_autofree char *cwd = g_get_current_dir();
  g_autofree char *minimal = write_file(f->dir, "plain.conf", MINIMAL, -1);

  (void)data;
  g_assert_cmpint(g_chdir("/"), ==, 0);
  profile = load_ok(path, problems);
  g_assert_cmpint(g_chdir(cwd), ==, 0);
  g_assert_cmpuint(problems->len, ==, 0);
  g_assert_cmpstr(profile->trust_anchors, ==, anchors);
  g_assert_cmpstr(profile->ca_roots, ==, roots);
  /* Absent: NULL (the CA's /cacerts). */
  plain = load_ok(minimal, NULL);
  g_assert_null(plain->ca_roots);
}

/* A root in ca-roots that has expired: the profile loads, with a warning. */
static void
test_ca_roots_expired(Fixture *f, gconstpointer data)
{
  g_autofree char *old = make_cert_pem("CN=Old Root", NULL, -20, -10);
  g_autofree char *roots = write_file(f->dir, "old.pem", old, -1);
  g_autofree char *path = write_file(f->dir, "old.conf", MINIMAL "ca-roots = old.pem\n", -1);
  g_autoptr(GPtrArray) problems = problems_new();
  g_autoptr(SignetProfile) profile = load_ok(path, problems);
  const SignetProfileProblem *p;

  (void)data;
  g_assert_cmpstr(profile->ca_roots, ==, roots);
  g_assert_cmpuint(problems->len, ==, 1);
  p = g_ptr_array_index(problems, 0);
  g_assert_cmpuint(p->line, ==, 6);
  g_assert_nonnull(strstr(p->message, "ca-roots:"));
  g_assert_nonnull(strstr(p->message, "CN=Old Root expired on"));
}

/* The file name and a value's line: "FILE:LINE: " in the GError. */
static void
assert_broken(const char *path, guint line, const char *contains)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) problems = problems_new();
  g_autoptr(SignetProfile) profile = signet_profile_load_file(path, problems, &error);
  g_autofree char *prefix
      = line > 0 ? g_strdup_printf("%s:%u: ", path, line) : g_strdup_printf("%s: ", path);
  gboolean in_problems = FALSE;

  g_assert_null(profile);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
  if (!g_str_has_prefix(error->message, prefix) || strstr(error->message, contains) == NULL)
    g_error("expected \"%s…%s…\", got \"%s\"", prefix, contains, error->message);
  for (guint i = 0; i < problems->len; i++) {
    const SignetProfileProblem *problem = g_ptr_array_index(problems, i);

    g_assert_cmpstr(problem->file, ==, path);
    if (problem->line == line && strstr(problem->message, contains) != NULL)
      in_problems = TRUE;
  }
  g_assert_true(in_problems);
}

static const struct
{
  const char *name;
  const char *text;
  guint line;
  const char *contains;
} broken[] = {
  { "syntax", "[profile]\nprotocol = est\nthis line is wrong\nurl = https://x/\n", 3,
    "not a [group], a key = value line or a # comment" },
  { "group-unclosed", "# x\n[profile\nurl = https://x/\n", 2, "closing \"]\"" },
  { "key-before-group", "\n\nurl = https://x/\n[profile]\n", 3, "before any [group]" },
  { "no-profile-group", "[labels]\nkey = x\n", 0, "no [profile] group" },
  { "missing-url", "[profile]\nprotocol = est\nkey-type = ec:p256\nsubject = CN=x\n", 1,
    "url: missing" },
  { "http-url", MINIMAL "url = http://ca.example/est\n", 6, "is not https" },
  { "not-a-url", MINIMAL "url = https://[zz/x\n", 6, "is not a URL" },
  { "url-password", MINIMAL "url = https://u:p@ca.example/\n", 6, "user name or password" },
  { "empty-url", MINIMAL "url =\n", 6, "url: empty value" },
  { "protocol",
    "[profile]\nurl = https://x/\nprotocol = acme\nkey-type = ec:p256\nsubject = CN=x\n", 3,
    "this version of Signet knows cmp, est and scep" },
  { "protocol-missing", "[profile]\nurl = https://x/\nkey-type = ec:p256\nsubject = CN=x\n", 1,
    "protocol: missing" },
  { "key-type", MINIMAL "key-type = rsa:1024\n", 6,
    "rsa:2048, rsa:3072, rsa:4096, ec:p256 or ec:p384" },
  { "subject-variable", MINIMAL "subject = CN=${name}\n", 6, "unknown variable ${name}" },
  { "subject-lone-dollar", MINIMAL "subject = CN=$reference\n", 6, "a lone \"$\"" },
  { "subject-parse", MINIMAL "subject = CN=${reference},XYZ=1\n", 6, "does not make a subject" },
  { "subject-missing", "[profile]\nprotocol = est\nurl = https://x/\nkey-type = ec:p256\n", 1,
    "subject: missing" },
  { "renewal-key", MINIMAL "renewal-key = sometimes\n", 6, "neither new" },
  { "anchors-missing", MINIMAL "trust-anchors = nowhere.pem\n", 6, "nowhere.pem" },
  { "anchors-not-cert", MINIMAL "trust-anchors = anchors-not-cert.conf\n", 6,
    "anchors-not-cert.conf: Not a certificate" },
  { "ca-roots-missing", MINIMAL "ca-roots = nowhere.pem\n", 6, "ca-roots: " },
  { "ca-roots-not-cert", MINIMAL "ca-roots = ca-roots-not-cert.conf\n", 6,
    "ca-roots-not-cert.conf: Not a certificate" },
  { "ca-roots-holder", MINIMAL "ca-roots = holder.pem\n", 6,
    "holder.pem holds CN=Holder, which is not a CA certificate" },
  { "timeout-zero", MINIMAL "[network]\ntimeout = 0\n", 7, "from 1 to 3600" },
  { "timeout-text", MINIMAL "[network]\nconnect-timeout = 15s\n", 7, "\"15s\" is not a number" },
  { "timeout-huge", MINIMAL "[network]\ntimeout = 99999999999999999999\n", 7, "from 1 to 3600" },
  { "timeout-negative", MINIMAL "[network]\ntimeout = -5\n", 7, "from 1 to 3600" },
  { "connect-longer", MINIMAL "[network]\nconnect-timeout = 200\ntimeout = 100\n", 7,
    "longer than the whole request" },
  { "username", MINIMAL "[est]\nusername = ${user}\n", 7, "username: unknown variable" },
  { "username-old-group", MINIMAL "[activation]\nusername = ${user}\n", 7,
    "username: unknown variable" },
  { "username-colon", MINIMAL "[est]\nusername = a:${reference}\n", 7, "holds no ':'" },
  { "bad-escape", MINIMAL "[labels]\nkey = a\\qb\n", 7, "key: a \"\\\" escape" },
  { "nul", MINIMAL "[labels]\nkey = a\0b\n", 7, "NUL byte" },
  { "latin1",
    MINIMAL "[labels]\n\nkey = Gr\xfc"
            "n\n",
    8, "not UTF-8" },
  { "empty", "", 0, "no [profile] group" },
};

static void
test_broken(Fixture *f, gconstpointer data)
{
  (void)data;
  for (guint i = 0; i < G_N_ELEMENTS(broken); i++) {
    g_autofree char *file = g_strdup_printf("%s.conf", broken[i].name);
    gsize len = strlen(broken[i].text);
    g_autofree char *path = NULL;

    if (g_str_equal(broken[i].name, "nul"))
      len = strlen(MINIMAL "[labels]\nkey = a") + 3;
    path = write_file(f->dir, file, broken[i].text, (gssize)len);
    if (g_str_equal(broken[i].name, "ca-roots-holder")) {
      g_autofree char *holder = make_cert_pem("CN=Holder", "CN=Some CA", -1, 30);
      g_autofree char *written = write_file(f->dir, "holder.pem", holder, -1);
    }
    g_test_message("%s", broken[i].name);
    assert_broken(path, broken[i].line, broken[i].contains);
  }
}

/* A key named in one group is looked up in its own: [labels] key= is line 3,
 * not the "key" in [network]'s line. */
static void
test_line_of_key_in_group(Fixture *f, gconstpointer data)
{
  g_autofree char *path
      = write_file(f->dir, "groups.conf",
                   "[network]\ntimeout = 30\n[profile]\nprotocol = est\nurl = https://x/\n"
                   "key-type = ec:p256\nsubject = CN=x\n[activation]\ntimeout = 3\n"
                   "[network]\nconnect-timeout = 31\n",
                   -1);

  (void)data;
  /* timeout (30) from [network] line 2, connect-timeout line 11. */
  assert_broken(path, 11, "connect-timeout: 31 s is longer");
}

static void
test_many_errors_in_line_order(Fixture *f, gconstpointer data)
{
  g_autofree char *path = write_file(f->dir, "many.conf",
                                     "[profile]\nulr = https://x/\nprotocol = est\n"
                                     "key-type = dsa\nsubject = CN=x\n",
                                     -1);
  g_autoptr(GPtrArray) problems = problems_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetProfile) profile = signet_profile_load_file(path, problems, &error);
  const SignetProfileProblem *p;

  (void)data;
  g_assert_null(profile);
  /* The GError is the first in line order: url missing (the group's line). */
  g_assert_true(
      g_str_has_suffix(error->message, ":1: url: missing: write the CA's https:// address"));
  g_assert_cmpuint(problems->len, ==, 3);
  p = g_ptr_array_index(problems, 0);
  g_assert_cmpuint(p->line, ==, 1);
  g_assert_nonnull(strstr(p->message, "url: missing"));
  p = g_ptr_array_index(problems, 1);
  g_assert_cmpuint(p->line, ==, 2);
  g_assert_nonnull(strstr(p->message, "unknown key \"ulr\" in [profile]"));
  g_assert_nonnull(strstr(p->message, "display-name, protocol, url, trust-anchors"));
  p = g_ptr_array_index(problems, 2);
  g_assert_cmpuint(p->line, ==, 4);
  g_assert_nonnull(strstr(p->message, "key-type: \"dsa\""));
}

static void
test_unknown_warns(Fixture *f, gconstpointer data)
{
  g_autofree char *path = write_file(f->dir, "warn.conf",
                                     MINIMAL "colour = blue\n[labels]\nkey = A\nkey = B\n"
                                             "[extras]\nx = 1\n",
                                     -1);
  g_autoptr(GPtrArray) problems = problems_new();
  g_autoptr(SignetProfile) profile = load_ok(path, problems);
  const SignetProfileProblem *p;

  (void)data;
  g_assert_cmpstr(profile->key_label, ==, "B");
  g_assert_cmpuint(problems->len, ==, 3);
  p = g_ptr_array_index(problems, 0);
  g_assert_cmpstr(p->file, ==, path);
  g_assert_cmpuint(p->line, ==, 6);
  g_assert_nonnull(strstr(p->message, "unknown key \"colour\" in [profile], ignored"));
  p = g_ptr_array_index(problems, 1);
  g_assert_cmpuint(p->line, ==, 9);
  g_assert_nonnull(strstr(p->message, "set twice in [labels] (also on line 8)"));
  p = g_ptr_array_index(problems, 2);
  g_assert_cmpuint(p->line, ==, 10);
  g_assert_nonnull(strstr(p->message, "unknown group [extras]"));
}

/* Windows editors: a byte order mark and CRLF line ends; blanks around
 * values; a localized key in a group that does not allow it. */
static void
test_odd_but_fine(Fixture *f, gconstpointer data)
{
  g_autofree char *path = write_file(
      f->dir, "windows.conf",
      "\xef\xbb\xbf[profile]\r\nprotocol = est  \r\nurl =   https://ca.example/est \r\n"
      "key-type = ec:p256\r\nsubject = CN=${reference}\r\nurl[pl] = https://x/\r\n",
      -1);
  g_autoptr(GPtrArray) problems = problems_new();
  g_autoptr(SignetProfile) profile = load_ok(path, problems);
  const SignetProfileProblem *p;

  (void)data;
  g_assert_cmpstr(profile->url, ==, "https://ca.example/est");
  g_assert_cmpuint(problems->len, ==, 1);
  p = g_ptr_array_index(problems, 0);
  g_assert_cmpuint(p->line, ==, 6);
  g_assert_nonnull(strstr(p->message, "unknown key \"url[pl]\""));
}

static void
test_large_and_odd_files(Fixture *f, gconstpointer data)
{
  g_autoptr(GString) big = g_string_new(MINIMAL);
  g_autofree char *path = NULL;
  g_autofree char *fifo = g_build_filename(f->dir, "fifo.conf", NULL);
  g_autofree char *subdir = g_build_filename(f->dir, "dir.conf", NULL);

  (void)data;
  while (big->len <= 64 * 1024)
    g_string_append(big, "# padding padding padding padding padding padding padding\n");
  path = write_file(f->dir, "big.conf", big->str, (gssize)big->len);
  assert_broken(path, 0, "larger than 64 KiB");

  /* Just under the bound loads. */
  g_string_truncate(big, 64 * 1024 - 1);
  g_string_append_c(big, '\n');
  g_clear_pointer(&path, g_free);
  path = write_file(f->dir, "justfits.conf", big->str, (gssize)big->len);
  signet_profile_free(load_ok(path, NULL));

  /* A FIFO is not read (and does not block). */
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  assert_broken(fifo, 0, "not a regular file");
  g_assert_cmpint(g_mkdir(subdir, 0700), ==, 0);
  assert_broken(subdir, 0, "not a regular file");

  /* A name Signet does not take. */
  g_clear_pointer(&path, g_free);
  path = write_file(f->dir, "Upper.conf", MINIMAL, -1);
  assert_broken(path, 0, "NAME.conf");
  g_clear_pointer(&path, g_free);
  path = write_file(f->dir, "minimal.ini", MINIMAL, -1);
  assert_broken(path, 0, "NAME.conf");

  /* Binary garbage. */
  g_clear_pointer(&path, g_free);
  path = write_file(f->dir, "garbage.conf", "\x30\x82\x01\x00\xff\xfe\x00\x01", 8);
  assert_broken(path, 1, "");
}

static void
test_load_dirs(Fixture *f, gconstpointer data)
{
  g_autofree char *user = g_build_filename(f->dir, "user", NULL);
  g_autofree char *system = g_build_filename(f->dir, "system", NULL);
  g_autofree char *missing = g_build_filename(f->dir, "missing", NULL);
  g_autofree char *not_dir = write_file(f->dir, "plain-file", "x", -1);
  const char *dirs[] = { user, missing, system, not_dir, NULL };
  g_autoptr(SignetProfileSet) set = NULL;
  g_autofree char *broken_user = NULL, *bad_name = NULL;
  const SignetProfile *profile;
  const SignetProfileProblem *p;
  g_autofree char *shadowed = NULL;

  (void)data;
  g_free(write_file(user, "zeta.conf", MINIMAL "display-name = Zeta (user)\n", -1));
  g_free(write_file(system, "zeta.conf", MINIMAL "display-name = Zeta (system)\n", -1));
  g_free(write_file(system, "alpha.conf", MINIMAL, -1));
  g_free(write_file(system, "mid.conf", MINIMAL, -1));
  /* The user's broken copy hides the system's good one. */
  broken_user = write_file(user, "mid.conf",
                           "[profile]\nprotocol = est\nurl = https://x/\nkey-type = ec:p999\n"
                           "subject = CN=x\n",
                           -1);
  g_free(write_file(user, "beta.conf", "[profile]\nurl = http://x/\n", -1));
  bad_name = write_file(user, "Bad Name.conf", MINIMAL, -1);
  g_free(write_file(user, "gamma.conf~", "garbage", -1));
  g_free(write_file(user, ".hidden.conf", "garbage", -1));
  g_free(write_file(system, "gamma.conf.dpkg-old", "garbage", -1));

  set = signet_profiles_load(dirs);
  g_assert_cmpuint(set->profiles->len, ==, 2);
  g_assert_cmpstr(((SignetProfile *)g_ptr_array_index(set->profiles, 0))->name, ==, "alpha");
  g_assert_cmpstr(((SignetProfile *)g_ptr_array_index(set->profiles, 1))->name, ==, "zeta");
  profile = signet_profile_set_lookup(set, "zeta");
  g_assert_nonnull(profile);
  g_assert_cmpstr(profile->display_name, ==, "Zeta (user)");
  shadowed = g_build_filename(user, "zeta.conf", NULL);
  g_assert_cmpstr(profile->file, ==, shadowed);
  g_assert_null(signet_profile_set_lookup(set, "mid"));
  g_assert_null(signet_profile_set_lookup(set, "beta"));

  /* Problems in file order: the user's directory (sorted), then the file in
   * place of a directory. */
  for (guint i = 0; i < set->problems->len; i++) {
    p = g_ptr_array_index(set->problems, i);
    g_test_message("%s:%u: %s", p->file, p->line, p->message);
  }
  g_assert_cmpuint(set->problems->len, ==, 7);
  p = g_ptr_array_index(set->problems, 0);
  g_assert_cmpstr(p->file, ==, bad_name);
  g_assert_cmpuint(p->line, ==, 0);
  /* beta.conf: every mistake, in line order (the missing keys at the
   * group's line). */
  for (guint i = 1; i <= 4; i++) {
    p = g_ptr_array_index(set->problems, i);
    g_assert_true(g_str_has_suffix(p->file, "/user/beta.conf"));
    g_assert_cmpuint(p->line, ==, i < 4 ? 1 : 2);
  }
  p = g_ptr_array_index(set->problems, 1);
  g_assert_nonnull(strstr(p->message, "protocol: missing"));
  p = g_ptr_array_index(set->problems, 4);
  g_assert_nonnull(strstr(p->message, "is not https"));
  p = g_ptr_array_index(set->problems, 5);
  g_assert_cmpstr(p->file, ==, broken_user);
  g_assert_cmpuint(p->line, ==, 4);
  g_assert_nonnull(strstr(p->message, "ec:p999"));
  p = g_ptr_array_index(set->problems, 6);
  g_assert_cmpstr(p->file, ==, not_dir);
  g_assert_nonnull(strstr(p->message, "cannot read the profiles directory"));
}

static void
test_empty_and_missing_dirs(Fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename(f->dir, "none", NULL);
  const char *dirs[] = { missing, f->dir, NULL };
  g_autoptr(SignetProfileSet) set = signet_profiles_load(dirs);

  (void)data;
  g_assert_cmpuint(set->profiles->len, ==, 0);
  g_assert_cmpuint(set->problems->len, ==, 0);
  g_assert_null(signet_profile_set_lookup(set, "anything"));
}

static void
test_dirs(void)
{
  g_autofree char *user = g_build_filename(g_get_user_config_dir(), "signet", "profiles.d", NULL);
  g_auto(GStrv) dirs = NULL;
  g_auto(GStrv) plain = NULL;

  g_setenv("SIGNET_PROFILES_DIR", "/opt/a/profiles::/opt/b/", TRUE);
  dirs = signet_profile_dirs();
  g_assert_cmpuint(g_strv_length(dirs), ==, 5);
  g_assert_cmpstr(dirs[0], ==, user);
  g_assert_cmpstr(dirs[1], ==, "/opt/a/profiles");
  g_assert_cmpstr(dirs[2], ==, "/opt/b");
  g_assert_cmpstr(dirs[3], ==, "/etc/signet/profiles.d");
  g_assert_cmpstr(dirs[4], ==, "/usr/share/signet/profiles.d");

  g_unsetenv("SIGNET_PROFILES_DIR");
  plain = signet_profile_dirs();
  g_assert_cmpuint(g_strv_length(plain), ==, 3);
  g_assert_cmpstr(plain[0], ==, user);
  g_assert_cmpstr(plain[1], ==, "/etc/signet/profiles.d");
  g_assert_cmpstr(plain[2], ==, "/usr/share/signet/profiles.d");
}

/* signet_profiles_load(NULL): the user's directory from XDG_CONFIG_HOME. */
static void
test_load_default_dirs(void)
{
  g_autofree char *user = g_build_filename(g_get_user_config_dir(), "signet", "profiles.d", NULL);
  g_autoptr(SignetProfileSet) set = NULL;

  g_unsetenv("SIGNET_PROFILES_DIR");
  g_free(write_file(user, "mine.conf", MINIMAL, -1));
  set = signet_profiles_load(NULL);
  g_assert_nonnull(signet_profile_set_lookup(set, "mine"));
}

static void
test_expand(void)
{
  static const struct
  {
    const char *template_, *expected;
  } good[] = {
    { "CN=${reference},serialNumber=${serial}", "CN=R/42,serialNumber=ab12" },
    { "price $$5 $${reference}", "price $5 ${reference}" },
    { "", "" },
    { "no variables", "no variables" },
    { "${reference}${reference}", "R/42R/42" },
  };
  static const struct
  {
    const char *template_, *contains;
  } bad[] = {
    { "CN=${x}", "unknown variable ${x}" },
    { "CN=${}", "unknown variable ${}" },
    { "CN=$", "a lone \"$\"" },
    { "CN=$reference", "a lone \"$\"" },
    { "CN=${reference", "a lone \"$\"" },
    { "a $ b", "a lone \"$\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *out = signet_profile_expand(good[i].template_, "R/42", "ab12", &error);

    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, good[i].expected);
  }
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *out = signet_profile_expand(bad[i].template_, "R/42", "ab12", &error);

    g_assert_null(out);
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
    if (strstr(error->message, bad[i].contains) == NULL)
      g_error("%s: expected \"%s\" in \"%s\"", bad[i].template_, bad[i].contains, error->message);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *out = signet_profile_expand("CN=${reference}", NULL, "ab12", &error);

    g_assert_null(out);
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
    g_assert_nonnull(strstr(error->message, "reference number"));
  }
}

static void
test_to_string(void)
{
  g_assert_cmpstr(signet_renewal_key_to_string(SIGNET_RENEWAL_NEW_KEY), ==, "new");
  g_assert_cmpstr(signet_renewal_key_to_string(SIGNET_RENEWAL_SAME_KEY), ==, "same");
  signet_profile_free(NULL);
  signet_profile_set_free(NULL);
  signet_profile_problem_free(NULL);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD("/profile/full", test_full);
  ADD("/profile/defaults", test_defaults);
  ADD("/profile/label-defaults", test_label_defaults);
  ADD("/profile/ask-ca", test_ask_ca);
  ADD("/profile/trust-anchors-relative", test_trust_anchors_relative);
  ADD("/profile/ca-roots", test_ca_roots);
  ADD("/profile/ca-roots-expired", test_ca_roots_expired);
  ADD("/profile/broken", test_broken);
  ADD("/profile/line-of-key-in-group", test_line_of_key_in_group);
  ADD("/profile/many-errors", test_many_errors_in_line_order);
  ADD("/profile/unknown-warns", test_unknown_warns);
  ADD("/profile/odd-but-fine", test_odd_but_fine);
  ADD("/profile/large-and-odd-files", test_large_and_odd_files);
  ADD("/profile/load-dirs", test_load_dirs);
  ADD("/profile/empty-and-missing-dirs", test_empty_and_missing_dirs);
#undef ADD
  g_test_add_func("/profile/dirs", test_dirs);
  g_test_add_func("/profile/load-default-dirs", test_load_default_dirs);
  g_test_add_func("/profile/expand", test_expand);
  g_test_add_func("/profile/to-string", test_to_string);
  return g_test_run();
}
