/* fuzz-certfile.c: libFuzzer harness for signet_certfile_parse() and for
 * describing whatever certificates it returns (both see outside input). */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "enroll/signet-x509.h"

#include <openssl/err.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_certfile_parse(data, size, &error);

  if (certs == NULL) {
    g_assert_nonnull(error);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_cmpuint(ERR_peek_error(), ==, 0);
    return 0;
  }
  g_assert_null(error);
  g_assert_cmpuint(certs->len, >, 0);
  g_assert_cmpuint(certs->len, <=, SIGNET_CERTFILE_MAX_CERTS);
  for (guint i = 0; i < certs->len; i++) {
    X509 *cert = g_ptr_array_index(certs, i);
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(cert));
    g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(cert));
    g_autofree char *serial = signet_x509_serial_to_string(cert);
    g_autofree char *not_after = signet_asn1_time_to_iso8601(X509_get0_notAfter(cert));

    g_assert_true(g_utf8_validate(subject, -1, NULL));
    g_assert_true(g_utf8_validate(issuer, -1, NULL));
    g_assert_nonnull(serial);
    (void)signet_x509_days_left(cert, NULL);
    (void)signet_x509_is_ca(cert);
    (void)signet_x509_matches_key(cert, X509_get0_pubkey(cert));
  }
  ERR_clear_error();
  return 0;
}
