/* fuzz-subject.c: libFuzzer harness for signet_subject_parse() (a subject
 * may come over D-Bus from any client). */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "enroll/signet-x509.h"

#include <openssl/err.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *subject = NULL;
  g_autoptr(GError) error = NULL;
  X509_NAME *name;

  /* The subject is a C string: stop at a NUL, as a caller would. */
  if (size > 8192)
    return 0;
  subject = g_strndup((const char *)data, size);
  name = signet_subject_parse(subject, &error);
  if (name == NULL) {
    g_assert_nonnull(error);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
  } else {
    g_autofree char *text = signet_x509_name_to_string(name);
    unsigned char *der = NULL;

    g_assert_null(error);
    g_assert_cmpint(X509_NAME_entry_count(name), >, 0);
    g_assert_true(g_utf8_validate(text, -1, NULL));
    g_assert_cmpint(i2d_X509_NAME(name, &der), >, 0);
    OPENSSL_free(der);
    X509_NAME_free(name);
  }
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
  return 0;
}
