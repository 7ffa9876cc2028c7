/* fuzz-csrattrs.c: libFuzzer harness for the EST /csrattrs parser (the
 * body comes from the CA's server: outside input). */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "common/signet-util.h"
#include "enroll/signet-http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstCsrAttrs) attrs = signet_est_csr_attrs_parse(data, size, &error);

  g_assert_true((attrs != NULL) != (error != NULL));
  if (attrs == NULL) {
    /* Shown to a holder: no escape a CA could slip in. */
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_false(signet_has_control_chars(error->message));
  } else {
    static const char *const key_types[]
        = { "ec", "rsa", "ec:p256", "ec:p384", "rsa:2048", "rsa:3072", "rsa:4096", NULL };

    if (attrs->subject != NULL)
      g_assert_true(g_utf8_validate(attrs->subject, -1, NULL));
    if (attrs->key_type != NULL)
      g_assert_true(g_strv_contains(key_types, attrs->key_type));
    if (attrs->hash != NULL)
      g_assert_true(g_utf8_validate(attrs->hash, -1, NULL) && *attrs->hash != '\0');
    g_assert_nonnull(attrs->oids);
  }
  return 0;
}
