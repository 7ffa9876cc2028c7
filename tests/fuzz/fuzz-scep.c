/* fuzz-scep.c: libFuzzer harness for the SCEP connector's readers of a CA's
 * answers (enroll/signet-scep-private.h): a CertRep pkiMessage, a
 * GetCACert answer under both of its content types, and the certs-only
 * PKCS#7 inside a SUCCESS reply. All come from the CA's server: outside
 * input. Each input goes through every reader. */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "common/signet-util.h"
#include "enroll/signet-scep-private.h"

#include <string.h>

/* An error shown to a holder: no escape a CA could slip in. */
static void
check_error(const GError *error)
{
  g_assert_nonnull(error);
  g_assert_true(g_utf8_validate(error->message, -1, NULL));
  g_assert_false(signet_has_control_chars(error->message));
}

static void
check_certs(GPtrArray *certs, GError *error)
{
  g_assert_true((certs != NULL) != (error != NULL));
  if (certs == NULL)
    check_error(error);
  else {
    g_assert_cmpuint(certs->len, >, 0);
    for (guint i = 0; i < certs->len; i++)
      g_assert_nonnull(g_ptr_array_index(certs, i));
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(SignetScepReply) reply = signet_scep_reply_parse(data, size, &error);

    g_assert_true((reply != NULL) != (error != NULL));
    if (reply == NULL)
      check_error(error);
    else {
      g_assert_nonnull(reply->p7);
      g_assert_nonnull(reply->transaction_id);
      g_assert_cmpuint(strlen(reply->transaction_id), <=, SIGNET_SCEP_ATTR_MAX);
      g_assert_nonnull(reply->recipient_nonce);
      g_assert_cmpuint(g_bytes_get_size(reply->recipient_nonce), <=, SIGNET_SCEP_ATTR_MAX);
      g_assert_true(reply->status == SIGNET_SCEP_STATUS_SUCCESS
                    || reply->status == SIGNET_SCEP_STATUS_FAILURE
                    || reply->status == SIGNET_SCEP_STATUS_PENDING);
      g_assert_true((reply->enveloped != NULL) == (reply->status == SIGNET_SCEP_STATUS_SUCCESS));
      g_assert_cmpint(reply->fail_info, >=, -1);
      g_assert_cmpint(reply->fail_info, <=, 4);
    }
  }
  {
    static const char *const types[]
        = { "application/x-x509-ca-cert", "application/x-x509-ca-ra-cert", NULL };

    for (const char *const *t = types; *t != NULL; t++) {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) certs = signet_scep_ca_certs_parse(*t, data, size, &error);

      check_certs(certs, error);
    }
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) certs = signet_scep_certs_only_parse(data, size, &error);

    check_certs(certs, error);
  }
  return 0;
}
