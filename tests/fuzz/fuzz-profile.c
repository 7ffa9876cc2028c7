/* fuzz-profile.c: libFuzzer harness for signet_profile_parse(), the CA
 * profile parser (a CA ships the file, a user edits it: outside input).
 * The profile is parsed as the file /nonexistent/signet-fuzz/fuzz.conf:
 * trust-anchors and ca-roots relative to it name no file. */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "common/signet-util.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-enroll-private.h"
#include "enroll/signet-profile.h"
#include "enroll/signet-x509.h"

#include <openssl/err.h>
#include <string.h>

#define FUZZ_PATH "/nonexistent/signet-fuzz/fuzz.conf"

/* A string shown to a user or written on a token. */
static void
check_text(const char *text)
{
  g_assert_nonnull(text);
  g_assert_true(g_utf8_validate(text, -1, NULL));
  g_assert_cmpstr(text, !=, "");
  g_assert_false(signet_has_control_chars(text));
}

static void
check_profile(const SignetProfile *profile)
{
  static const char *const key_types[]
      = { "rsa:2048", "rsa:3072", "rsa:4096", "ec:p256", "ec:p384", NULL };
  const SignetConnectorClass *connector;

  g_assert_cmpstr(profile->name, ==, "fuzz");
  g_assert_cmpstr(profile->file, ==, FUZZ_PATH);
  check_text(profile->display_name);
  g_assert_nonnull(profile->protocol);
  connector = signet_connector_find(profile->protocol);
  g_assert_nonnull(connector);
  g_assert_cmpstr(connector->name, ==, profile->protocol);
  g_assert_nonnull(profile->url);
  g_assert_true(g_ascii_strncasecmp(profile->url, "https:", 6) == 0);
  g_assert_true(g_strv_contains(key_types, profile->key_type));
  if (profile->subject_from_ca)
    g_assert_null(profile->subject);
  else {
    g_autoptr(GError) error = NULL;
    g_autofree char *subject = NULL;

    check_text(profile->subject);
    /* Checked with sample values: it expands with others too. */
    subject = signet_profile_expand(profile->subject, "R-1", "00ff", &error);
    g_assert_no_error(error);
    g_assert_nonnull(subject);
  }
  g_assert_true(profile->renewal_key == SIGNET_RENEWAL_NEW_KEY
                || profile->renewal_key == SIGNET_RENEWAL_SAME_KEY);
  check_text(profile->key_label);
  check_text(profile->certificate_label);
  check_text(profile->chain_label);
  check_text(profile->reference_prompt);
  check_text(profile->code_prompt);
  g_assert_cmpuint(profile->connect_timeout, >=, 1);
  g_assert_cmpuint(profile->connect_timeout, <=, 300);
  g_assert_cmpuint(profile->timeout, >=, 1);
  g_assert_cmpuint(profile->timeout, <=, 3600);
  g_assert_cmpuint(profile->connect_timeout, <=, profile->timeout);
  /* Nothing relative to a directory that does not exist can load. */
  if (profile->trust_anchors != NULL)
    g_assert_false(g_str_has_prefix(profile->trust_anchors, "/nonexistent/"));
  if (profile->ca_roots != NULL)
    g_assert_false(g_str_has_prefix(profile->ca_roots, "/nonexistent/"));
  if (profile->settings != NULL) {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init(&iter, profile->settings);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
      g_assert_true(g_strv_contains(connector->keys, key));
      check_text(value);
    }
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) problems
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_problem_free);
  g_autoptr(SignetProfile) profile = NULL;
  guint lines = 1;

  profile = signet_profile_parse(FUZZ_PATH, (const char *)data, size, problems, &error);
  g_assert_true((profile != NULL) != (error != NULL));
  for (size_t i = 0; i < size; i++)
    if (data[i] == '\n')
      lines++;
  /* Every problem names the file, a line of it (or none), in line order. */
  for (guint i = 0; i < problems->len; i++) {
    const SignetProfileProblem *problem = g_ptr_array_index(problems, i);

    g_assert_cmpstr(problem->file, ==, FUZZ_PATH);
    g_assert_cmpuint(problem->line, <=, lines);
    g_assert_true(g_utf8_validate(problem->message, -1, NULL));
    g_assert_cmpstr(problem->message, !=, "");
    if (i > 0)
      g_assert_cmpuint(problem->line, >=,
                       ((const SignetProfileProblem *)g_ptr_array_index(problems, i - 1))->line);
  }
  if (profile == NULL) {
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_true(g_str_has_prefix(error->message, FUZZ_PATH));
    g_assert_cmpuint(problems->len, >, 0);
  } else
    check_profile(profile);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
  return 0;
}
