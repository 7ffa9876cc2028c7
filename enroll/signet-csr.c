/* signet-csr.c: the PKCS#10 certificate request. See signet_csr_build_pem()
 * in signet-x509.h.
 *
 * The signer may be an EVP_PKEY that libp11 binds to a key on a token (a
 * legacy RSA_METHOD / EC_KEY_METHOD key), so signing goes through the classic
 * EVP_DigestSignInit (ctx, NULL, EVP_sha256 () -- or the hash the CA asked
 * for --, NULL, key) path, which OpenSSL 3 routes to such keys, and never
 * through provider-only calls.
 */
#include "config.h"

#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"

#include <openssl/err.h>
#include <openssl/pem.h>

static void
set_openssl_error(GError **error, const char *what)
{
  g_autofree char *reason = signet_openssl_error_text();

  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED, "%s (OpenSSL: %s)", what,
              reason);
}

char *
signet_csr_build_pem(EVP_PKEY *signer, EVP_PKEY *public_key, const char *subject, GError **error)
{
  g_autoptr(X509_NAME) name = NULL;

  g_return_val_if_fail(signer != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  name = signet_subject_parse(subject, error);
  if (name == NULL)
    return NULL;
  return signet_csr_build_pem_for_name(signer, public_key, name, error);
}

char *
signet_csr_build_pem_for_name(EVP_PKEY *signer, EVP_PKEY *public_key, const X509_NAME *name,
                              GError **error)
{
  return signet_csr_build_pem_with(signer, public_key, name, NULL, error);
}

static const EVP_MD *
csr_hash(const char *name, GError **error)
{
  if (name == NULL || g_str_equal(name, "sha256"))
    return EVP_sha256();
  if (g_str_equal(name, "sha384"))
    return EVP_sha384();
  if (g_str_equal(name, "sha512"))
    return EVP_sha512();
  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
              "Signet signs requests with sha256, sha384 or sha512, not '%s'", name);
  return NULL;
}

char *
signet_csr_build_pem_with(EVP_PKEY *signer, EVP_PKEY *public_key, const X509_NAME *name,
                          const SignetCsrOptions *options, GError **error)
{
  static const SignetCsrOptions defaults = { 0 };
  g_autoptr(X509_REQ) req = NULL;
  g_autoptr(EVP_MD_CTX) md_ctx = NULL;
  g_autoptr(BIO) bio = NULL;
  const EVP_MD *md;
  EVP_PKEY *key;
  char *pem = NULL;
  long pem_len;

  g_return_val_if_fail(signer != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (options == NULL)
    options = &defaults;
  md = csr_hash(options->hash, error);
  if (md == NULL)
    return NULL;
  key = public_key != NULL ? public_key : signer;
  ERR_clear_error();
  req = X509_REQ_new();
  if (req == NULL || !X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name)
      || !X509_REQ_set_pubkey(req, key)) {
    set_openssl_error(error, "Cannot build the certificate request");
    return NULL;
  }
  /* A DirectoryString, as a UTF8String (OpenSSL's default string mask). */
  if (options->challenge_password != NULL
      && !X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                    options->challenge_password,
                                    (int)options->challenge_password_len)) {
    set_openssl_error(error, "Cannot put the challengePassword the CA asked for into the "
                             "certificate request");
    return NULL;
  }

  md_ctx = EVP_MD_CTX_new();
  if (md_ctx == NULL || EVP_DigestSignInit(md_ctx, NULL, md, NULL, signer) != 1) {
    set_openssl_error(error, "Cannot sign the certificate request with this key (RSA or EC "
                             "keys sign with SHA-256, SHA-384 or SHA-512)");
    return NULL;
  }
  if (X509_REQ_sign_ctx(req, md_ctx) <= 0) {
    set_openssl_error(error, "Signing the certificate request failed");
    return NULL;
  }

  /* A token that signs wrongly, or a public key that is not the signer's,
   * must not reach the CA. */
  if (X509_REQ_verify(req, key) != 1) {
    set_openssl_error(error, "The signature on the certificate request does not verify with "
                             "its public key: the signing key and the public key do not "
                             "match, or the token signed wrongly");
    return NULL;
  }

  bio = BIO_new(BIO_s_mem());
  if (bio == NULL || !PEM_write_bio_X509_REQ(bio, req)) {
    set_openssl_error(error, "Cannot write the certificate request as PEM");
    return NULL;
  }
  pem_len = BIO_get_mem_data(bio, &pem);
  if (pem_len <= 0 || pem == NULL) {
    set_openssl_error(error, "Cannot write the certificate request as PEM");
    return NULL;
  }
  ERR_clear_error();
  return g_strndup(pem, (gsize)pem_len);
}

static X509_REQ *
read_request(const char *pem, GError **error)
{
  g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
  X509_REQ *req = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;

  if (req == NULL) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                        "The kept certificate request is not a PEM PKCS#10 request");
  }
  return req;
}

EVP_PKEY *
signet_csr_public_key(const char *pem, GError **error)
{
  g_autoptr(X509_REQ) req = read_request(pem, error);
  EVP_PKEY *key;

  if (req == NULL)
    return NULL;
  key = X509_REQ_get_pubkey(req);
  if (key == NULL)
    set_openssl_error(error, "The certificate request holds no public key");
  return key;
}

char *
signet_csr_fingerprint(const char *pem, GError **error)
{
  g_autoptr(X509_REQ) req = read_request(pem, error);
  unsigned char *der = NULL;
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  GString *out;
  int len;

  if (req == NULL)
    return NULL;
  len = i2d_X509_REQ(req, &der);
  if (len <= 0) {
    set_openssl_error(error, "The certificate request could not be encoded");
    return NULL;
  }
  g_checksum_update(sum, der, (gssize)len);
  OPENSSL_free(der);
  g_checksum_get_digest(sum, digest, &digest_len);
  out = g_string_sized_new(3 * digest_len);
  for (gsize i = 0; i < digest_len; i++)
    g_string_append_printf(out, "%s%02X", i > 0 ? ":" : "", digest[i]);
  return g_string_free(out, FALSE);
}
