/* fuzz-csrattrs.c: libFuzzer harness for the EST /csrattrs parser (the
 * body comes from the CA's server: outside input). */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "enroll/signet-http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetEstCsrAttrs) attrs = signet_est_csr_attrs_parse(data, size, &error);

  g_assert_true((attrs != NULL) != (error != NULL));
  if (attrs == NULL)
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
  else if (attrs->subject != NULL)
    g_assert_true(g_utf8_validate(attrs->subject, -1, NULL));
  return 0;
}
