/* fuzz-cmp.c: libFuzzer harness for what the CMP connector does with a CA's
 * answer (enroll/signet-cmp-private.h): the input is what the CA's server
 * sends back, to an ir protected with the reference number and code, then
 * to a kur signed with the current key. The bytes go through the
 * connector's transfer callback (one whole PKIMessage, or a message in
 * words), OpenSSL's checks of the message, and the PKIStatusInfo,
 * statusString and failInfo put in the holder's words.
 *
 * A real answer carries the transaction ID and the request's nonce, which
 * OpenSSL makes random for each message: an input that reads as a
 * PKIMessage gets the request's two values written into its header where
 * it has those fields, so that the fuzzer reaches past OpenSSL's nonce
 * check (an unprotected error answer, which the connector accepts, then
 * reaches the connector's own reading of the status).
 *
 * Seeds (tests/fuzz/corpus/cmp): answers of OpenSSL's mock CMP server, saved
 * by its client, for the reference and code this harness uses, with a
 * software EC P-256 key.pem and self-signed cert.pem and ca.pem:
 *   C="openssl cmp -config /dev/null -use_mock_srv -cmd ir -ref REF-1
 *      -secret pass:fuzz-code -newkey key.pem -subject /CN=fuzz -srv_ref REF-1
 *      -srv_secret pass:fuzz-code -rsp_cert cert.pem -unprotected_errors
 *      -certout out.pem"
 *   ip.der, pkiconf.der          $C -rspout ip.der,pkiconf.der
 *   ip-capubs.der                $C -rsp_extracerts ca.pem -rsp_capubs ca.pem
 *   ip-waiting.der, pollrep.der  $C -poll_count 1 -check_after 5
 *   error-badmessagecheck.der    $C -send_error -send_unprotected
 *   ip-badtime.der               $C -send_unprot_err -pkistatus 2 -failure 3
 *                                   -statusstring "code expired"
 *   ip-badrequest.der            … -failure 2 -statusstring "unknown reference"
 *   ip-systemunavail.der         … -failurebits 16777216, a statusString with
 *                                   an escape sequence in it
 *   not-der.txt                  not a PKIMessage
 * The MAC-protected ones fail their MAC once the harness has set their
 * nonces (it cannot protect them again); the unprotected rejections reach
 * the connector's words ("… says the activation code has expired").
 */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "common/signet-secret.h"
#include "common/signet-util.h"
#include "enroll/signet-cmp-private.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

typedef struct
{
  SignetProfile *profile;
  EVP_PKEY *key;
  X509 *cert;
  char *csr_pem;
  SignetSecret *code;
} Setup;

static const char profile_text[] = "[profile]\n"
                                   "display-name=Fuzz CA\n"
                                   "protocol=cmp\n"
                                   "url=https://ca.invalid/cmp\n"
                                   "key-type=ec:p256\n"
                                   "subject=CN=${reference}\n";

static char *
make_csr_pem(EVP_PKEY *key)
{
  X509_REQ *req = X509_REQ_new();
  BIO *bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  long len;
  char *pem;

  g_assert_nonnull(req);
  g_assert_nonnull(bio);
  g_assert_cmpint(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                                             (const unsigned char *)"fuzz", -1, -1, 0),
                  ==, 1);
  g_assert_cmpint(X509_REQ_set_pubkey(req, key), ==, 1);
  g_assert_cmpint(X509_REQ_sign(req, key, EVP_sha256()), >, 0);
  g_assert_cmpint(PEM_write_bio_X509_REQ(bio, req), ==, 1);
  len = BIO_get_mem_data(bio, &data);
  pem = g_strndup(data, (gsize)len);
  BIO_free(bio);
  X509_REQ_free(req);
  return pem;
}

static X509 *
make_cert(EVP_PKEY *key)
{
  X509 *cert = X509_new();

  g_assert_nonnull(cert);
  g_assert_cmpint(X509_set_version(cert, 2), ==, 1);
  g_assert_cmpint(ASN1_INTEGER_set(X509_get_serialNumber(cert), 1), ==, 1);
  g_assert_cmpint(X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                                             (const unsigned char *)"fuzz", -1, -1, 0),
                  ==, 1);
  g_assert_cmpint(X509_set_issuer_name(cert, X509_get_subject_name(cert)), ==, 1);
  g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
  g_assert_nonnull(X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 30));
  g_assert_cmpint(X509_set_pubkey(cert, key), ==, 1);
  g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);
  return cert;
}

/* Made once: a software key stands in for the token's. */
static const Setup *
setup(void)
{
  static Setup s;

  if (s.profile == NULL) {
    g_autoptr(GError) error = NULL;

    s.profile = signet_profile_parse("/nonexistent/fuzz-cmp.conf", profile_text,
                                     strlen(profile_text), NULL, &error);
    g_assert_no_error(error);
    s.key = EVP_EC_gen("P-256");
    g_assert_nonnull(s.key);
    s.cert = make_cert(s.key);
    s.csr_pem = make_csr_pem(s.key);
    s.code = signet_secret_new("fuzz-code", strlen("fuzz-code"));
  }
  return &s;
}

/* The request header's field [@tag] (an OCTET STRING), by walking the
 * request's DER: OpenSSL 3.0 has no getter for the senderNonce. */
static GBytes *
request_header_field(const OSSL_CMP_MSG *request, int tag)
{
  unsigned char *der = NULL;
  int len = i2d_OSSL_CMP_MSG(request, &der);
  const unsigned char *p = der, *end;
  GBytes *found = NULL;
  long inner;
  int t, cls;

  /* PKIMessage SEQUENCE, then PKIHeader SEQUENCE. */
  if (len <= 0 || ASN1_get_object(&p, &inner, &t, &cls, len) & 0x80
      || ASN1_get_object(&p, &inner, &t, &cls, (long)(der + len - p)) & 0x80) {
    OPENSSL_free(der);
    return NULL;
  }
  end = p + inner;
  while (p < end && found == NULL) {
    long field_len;

    if (ASN1_get_object(&p, &field_len, &t, &cls, (long)(end - p)) & 0x80)
      break;
    if (cls == V_ASN1_CONTEXT_SPECIFIC && t == tag) {
      const unsigned char *q = p;
      ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &q, field_len);

      if (os != NULL)
        found = g_bytes_new(ASN1_STRING_get0_data(os), (gsize)ASN1_STRING_length(os));
      ASN1_OCTET_STRING_free(os);
    }
    p += field_len;
  }
  OPENSSL_free(der);
  return found;
}

static void
overwrite(ASN1_OCTET_STRING *field, GBytes *value)
{
  if (field != NULL && value != NULL)
    (void)ASN1_OCTET_STRING_set(field, g_bytes_get_data(value, NULL), (int)g_bytes_get_size(value));
}

typedef struct
{
  const uint8_t *data;
  size_t size;
} Input;

/* The input as the server's answer to @request, its header matched to the
 * request where it reads as a PKIMessage. */
static GBytes *
answer(const OSSL_CMP_MSG *request, gpointer user_data)
{
  const Input *in = user_data;
  const unsigned char *p = in->data;
  OSSL_CMP_MSG *msg = d2i_OSSL_CMP_MSG(NULL, &p, (long)in->size);
  unsigned char *der = NULL;
  int len;
  GBytes *out;

  if (msg == NULL) {
    ERR_clear_error();
    return g_bytes_new(in->data, in->size);
  }
  {
    OSSL_CMP_PKIHEADER *hdr = OSSL_CMP_MSG_get0_header(msg);
    g_autoptr(GBytes) transaction_id = request_header_field(request, 4);
    g_autoptr(GBytes) sender_nonce = request_header_field(request, 5);

    overwrite(OSSL_CMP_HDR_get0_transactionID(hdr), transaction_id);
    overwrite(OSSL_CMP_HDR_get0_recipNonce(hdr), sender_nonce);
  }
  len = i2d_OSSL_CMP_MSG(msg, &der);
  out = len > 0 ? g_bytes_new(der, (gsize)len) : g_bytes_new(in->data, in->size);
  OPENSSL_free(der);
  OSSL_CMP_MSG_free(msg);
  ERR_clear_error();
  return out;
}

/* What the holder may be shown: words only, no escape a CA could slip in. */
static void
check_result(SignetAnswer *result, GError *error)
{
  g_assert_true((result != NULL) != (error != NULL));
  if (error != NULL) {
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_false(signet_has_control_chars(error->message));
    return;
  }
  if (result->message != NULL) {
    g_assert_true(g_utf8_validate(result->message, -1, NULL));
    g_assert_false(signet_has_control_chars(result->message));
  }
  if (result->status == SIGNET_ANSWER_ISSUED) {
    g_assert_nonnull(result->certs);
    g_assert_cmpuint(result->certs->len, >, 0);
  } else {
    g_assert_cmpint(result->status, ==, SIGNET_ANSWER_PENDING);
    g_assert_nonnull(result->retry_at);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const Setup *s = setup();
  Input in = { data, size };
  SignetConnectorCode code = { .reference = "REF-1", .code = s->code };
  SignetConnectorIdentity identity = { .cert = s->cert, .key = s->key };

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(SignetAnswer) result = signet_cmp_exchange_with(s->profile, &code, NULL, s->csr_pem,
                                                              s->key, answer, &in, &error);

    check_result(result, error);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(SignetAnswer) result = signet_cmp_exchange_with(
        s->profile, NULL, &identity, s->csr_pem, s->key, answer, &in, &error);

    check_result(result, error);
  }
  return 0;
}
