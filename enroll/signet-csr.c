/* signet-csr.c: the PKCS#10 certificate request. See signet_csr_build_pem()
 * in signet-x509.h.
 *
 * The signer may be an EVP_PKEY that pkcs11/ binds to a key on a token
 * (signet_p11_session_get_private_key: a legacy RSA_METHOD / EC_KEY_METHOD
 * key), so signing goes through the classic EVP_DigestSignInit (ctx, NULL,
 * EVP_sha256 () -- or the hash the CA asked for --, NULL, key) path, which
 * OpenSSL 3 routes to such keys, and never through provider-only calls.
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

/* Signs @req through @options->sign: the algorithm set, the
 * CertificationRequestInfo encoded and signed, the signature set. */
static gboolean
sign_with(X509_REQ *req, EVP_PKEY *key, const EVP_MD *md, const SignetCsrOptions *options,
          GError **error)
{
  X509_ALGOR *alg = NULL;
  g_autoptr(GBytes) sig = NULL;
  ASN1_BIT_STRING *bits = NULL;
  unsigned char *tbs = NULL;
  int key_nid = EVP_PKEY_get_base_id(key);
  int sig_nid = NID_undef;
  int tbs_len;
  gsize sig_len;
  const guint8 *sig_data;

  if ((key_nid != EVP_PKEY_RSA && key_nid != EVP_PKEY_EC)
      || !OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(md), key_nid)) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                        "Cannot sign the certificate request with this key (RSA or EC keys "
                        "sign with SHA-256, SHA-384 or SHA-512)");
    return FALSE;
  }
  /* RSA's algorithm has NULL parameters, ECDSA's none (RFC 4055, 5758). */
  alg = X509_ALGOR_new();
  if (alg == NULL
      || !X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid),
                          key_nid == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL)
      || !X509_REQ_set1_signature_algo(req, alg)) {
    X509_ALGOR_free(alg);
    set_openssl_error(error, "Cannot build the certificate request");
    return FALSE;
  }
  X509_ALGOR_free(alg);
  tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
  if (tbs_len <= 0) {
    set_openssl_error(error, "Cannot encode the certificate request");
    return FALSE;
  }
  sig = options->sign(md, tbs, (gsize)tbs_len, options->sign_data, error);
  OPENSSL_free(tbs);
  if (sig == NULL) {
    g_prefix_error(error, "Signing the certificate request failed: ");
    return FALSE;
  }
  sig_data = g_bytes_get_data(sig, &sig_len);
  bits = ASN1_BIT_STRING_new();
  if (bits == NULL || sig_len > G_MAXINT
      || !ASN1_BIT_STRING_set(bits, (guint8 *)sig_data, (int)sig_len)) {
    ASN1_BIT_STRING_free(bits);
    set_openssl_error(error, "Cannot build the certificate request");
    return FALSE;
  }
  /* A whole number of bytes: no unused bits, said so, or the encoder
   * would drop the signature's trailing zero bits (as ASN1_item_sign). */
  bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  X509_REQ_set0_signature(req, bits);
  return TRUE;
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

  if (options == NULL)
    options = &defaults;
  g_return_val_if_fail(options->sign != NULL ? public_key != NULL : signer != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

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

  if (options->sign != NULL) {
    if (!sign_with(req, key, md, options, error))
      return NULL;
  } else {
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

/* The hash a request is signed with, as csr_hash() names it. */
static const char *
request_hash(const X509_REQ *req, GError **error)
{
  int md_nid = NID_undef;

  if (!OBJ_find_sigid_algs(X509_REQ_get_signature_nid(req), &md_nid, NULL))
    md_nid = NID_undef;
  switch (md_nid) {
    case NID_sha256:
      return "sha256";
    case NID_sha384:
      return "sha384";
    case NID_sha512:
      return "sha512";
    default:
      break;
  }
  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
              "The kept certificate request is signed with %s, not with sha256, sha384 or "
              "sha512",
              md_nid != NID_undef ? OBJ_nid2sn(md_nid) : "an unknown algorithm");
  return NULL;
}

/* The request's challengePassword in *@out (NULL when it has none). Its
 * UTF-8 copy from OpenSSL is wiped before it is freed. */
static gboolean
request_challenge(X509_REQ *req, SignetSecret **out, GError **error)
{
  int at = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
  X509_ATTRIBUTE *attr;
  ASN1_TYPE *value;
  unsigned char *utf8 = NULL;
  int len;

  *out = NULL;
  if (at < 0)
    return TRUE;
  attr = X509_REQ_get_attr(req, at);
  value
      = attr != NULL && X509_ATTRIBUTE_count(attr) == 1 ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
  /* A DirectoryString, or the IA5String some tools write. */
  if (value != NULL && signet_asn1_is_text_type(value->type))
    len = ASN1_STRING_to_UTF8(&utf8, value->value.asn1_string);
  else
    len = -1;
  if (len < 0 || len > SIGNET_SECRET_MAX) {
    if (utf8 != NULL)
      OPENSSL_clear_free(utf8, (size_t)len);
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                        "The kept certificate request's challengePassword is not a string "
                        "Signet can read");
    return FALSE;
  }
  *out = signet_secret_new(utf8, (gsize)len);
  OPENSSL_clear_free(utf8, (size_t)len);
  return TRUE;
}

SignetCsrContent *
signet_csr_read_content(const char *pem, GError **error)
{
  g_autoptr(X509_REQ) req = NULL;
  g_autoptr(SignetCsrContent) content = g_new0(SignetCsrContent, 1);

  g_return_val_if_fail(pem != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  req = read_request(pem, error);
  if (req == NULL)
    return NULL;
  content->hash = request_hash(req, error);
  if (content->hash == NULL)
    return NULL;
  content->subject = X509_NAME_dup(X509_REQ_get_subject_name(req));
  if (content->subject == NULL) {
    set_openssl_error(error, "Cannot read the kept certificate request's subject");
    return NULL;
  }
  if (!request_challenge(req, &content->challenge_password, error))
    return NULL;
  return g_steal_pointer(&content);
}

void
signet_csr_content_free(SignetCsrContent *content)
{
  if (content == NULL)
    return;
  X509_NAME_free(content->subject);
  signet_secret_free(content->challenge_password);
  g_free(content);
}
