/* signet-p11-evp.c: an on-token private key as an OpenSSL EVP_PKEY, for
 * what only OpenSSL drives (TLS client authentication, a CMP message's
 * protection, a SCEP answer's decryption). Its private operations run in
 * the operation's own session (C_Sign, C_Decrypt); nothing of the key
 * leaves the token.
 *
 * The key is a legacy RSA / EC_KEY with a method of ours (RSA_METHOD,
 * EC_KEY_METHOD): OpenSSL 3 sees it as a "foreign" key and uses it through
 * its legacy EVP_PKEY_METHOD path, which hands the method the padded
 * block (RSA) or the hash (ECDSA). What it asks of the token:
 *   - RSA, PKCS#1 v1.5 signature: CKM_RSA_PKCS over the DigestInfo;
 *   - RSA, PSS signature (TLS 1.3) or OAEP decryption: OpenSSL pads, the
 *     token does raw RSA (CKM_RSA_X_509);
 *   - RSA, PKCS#1 v1.5 decryption (SCEP's envelope): CKM_RSA_PKCS;
 *   - EC: CKM_ECDSA over the hash.
 * The private key object is looked up by id at each operation, from what
 * the session remembers (docs/internals/pkcs11.md rule 12): no call. */
#include "config.h"

#include "common/signet-openssl-util.h"
#include "pkcs11/signet-p11-private.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <string.h>

/* What a bound key needs to reach the token: the session lives longer than
 * the key (the agent's operations keep both and free the key first). */
typedef struct
{
  SignetP11Session *session;
  GBytes *id;
} BoundKey;

static int rsa_index = -1;
static int ec_index = -1;
static RSA_METHOD *rsa_method;
static EC_KEY_METHOD *ec_method;

static void
bound_key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
  BoundKey *k = ptr;

  (void)parent;
  (void)ad;
  (void)idx;
  (void)argl;
  (void)argp;
  if (k == NULL)
    return;
  g_bytes_unref(k->id);
  g_free(k);
}

/* OpenSSL copying a bound key (EVP_PKEY_dup, EC_KEY_dup) copies the data
 * too, each copy owning its own. */
static int
bound_key_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx, long argl,
              void *argp)
{
  BoundKey *k = from_d != NULL ? *from_d : NULL;

  (void)to;
  (void)from;
  (void)idx;
  (void)argl;
  (void)argp;
  if (k != NULL) {
    BoundKey *copy = g_new0(BoundKey, 1);

    copy->session = k->session;
    copy->id = g_bytes_ref(k->id);
    *from_d = copy;
  }
  return 1;
}

/* The failure in OpenSSL's error queue, where the caller of OpenSSL (curl,
 * the CMP or SCEP connector) finds it: the token's words, not a bare
 * "operation failed". */
static void
raise_error(GError *error)
{
  ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s",
                 error != NULL ? error->message : "the key is not bound to a token");
}

/* One private operation with @k's key; the result's length, or -1. */
static int
private_op(BoundKey *k, CK_MECHANISM_TYPE mech, gboolean decrypt, const guint8 *in, gsize in_len,
           guint8 *out, gsize room)
{
  g_autoptr(GError) error = NULL;
  CK_KEY_TYPE type = CK_UNAVAILABLE_INFORMATION;
  CK_OBJECT_HANDLE key;
  gsize len = room;

  if (k == NULL) {
    raise_error(NULL);
    return -1;
  }
  key = signet_p11_find_private_key(k->session, k->id, &type, &error);
  if (key == CK_INVALID_HANDLE
      || !signet_p11_key_operation(k->session, key, mech, decrypt, in, in_len, out, &len, &error)) {
    raise_error(error);
    return -1;
  }
  return (int)len;
}

/* A signature, and raw RSA's result, are as long as the modulus: a module
 * that drops their leading zero bytes gets them back (a verifier refuses a
 * short signature). */
static int
full_length_op(BoundKey *k, CK_MECHANISM_TYPE mech, gboolean decrypt, int flen,
               const unsigned char *from, unsigned char *to, RSA *rsa)
{
  int size = RSA_size(rsa);
  int len = private_op(k, mech, decrypt, from, (gsize)flen, to, (gsize)size);

  if (len < 0 || len >= size)
    return len;
  memmove(to + (size - len), to, (size_t)len);
  memset(to, 0, (size_t)(size - len));
  return size;
}

static int
rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
  BoundKey *k = RSA_get_ex_data(rsa, rsa_index);

  switch (padding) {
    case RSA_PKCS1_PADDING:
      return full_length_op(k, CKM_RSA_PKCS, FALSE, flen, from, to, rsa);
    case RSA_NO_PADDING:
      return full_length_op(k, CKM_RSA_X_509, FALSE, flen, from, to, rsa);
    default:
      ERR_raise_data(ERR_LIB_USER, ERR_R_UNSUPPORTED, "RSA padding %d on a token key", padding);
      return -1;
  }
}

static int
rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
  BoundKey *k = RSA_get_ex_data(rsa, rsa_index);

  switch (padding) {
    case RSA_PKCS1_PADDING:
      return private_op(k, CKM_RSA_PKCS, TRUE, from, (gsize)flen, to, (gsize)RSA_size(rsa));
    case RSA_NO_PADDING:
      return full_length_op(k, CKM_RSA_X_509, TRUE, flen, from, to, rsa);
    default:
      ERR_raise_data(ERR_LIB_USER, ERR_R_UNSUPPORTED, "RSA padding %d on a token key", padding);
      return -1;
  }
}

static ECDSA_SIG *
ec_sign_sig(const unsigned char *dgst, int dgst_len, const BIGNUM *kinv, const BIGNUM *r,
            EC_KEY *ec)
{
  BoundKey *k = EC_KEY_get_ex_data(ec, ec_index);
  guint8 raw[264]; /* r and s of a 1056-bit order at most */
  int order_bits = EC_GROUP_order_bits(EC_KEY_get0_group(ec));
  int len;
  ECDSA_SIG *sig;

  (void)kinv;
  (void)r;
  /* ECDSA signs the hash's leftmost bits, as many as the order has (SEC 1
   * 4.1.3): a longer hash (SHA-384 with P-256, which TLS 1.2 allows) is cut
   * here, where a whole number of bytes does it, rather than left to the
   * token (a card's driver may refuse it). */
  if (order_bits > 0 && order_bits % 8 == 0 && dgst_len > order_bits / 8)
    dgst_len = order_bits / 8;
  len = private_op(k, CKM_ECDSA, FALSE, dgst, (gsize)dgst_len, raw, sizeof raw);
  if (len < 0)
    return NULL;
  /* r and s, each as long as the order: nothing longer fits ECDSA_size(). */
  sig = len == 2 * ((order_bits + 7) / 8) ? signet_p11_ecdsa_sig_from_raw(raw, (gsize)len) : NULL;
  if (sig == NULL)
    ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL,
                   "The token's ECDSA signature could not be read");
  return sig;
}

static int
ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *out, unsigned int *out_len,
        const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
  ECDSA_SIG *sig = ec_sign_sig(dgst, dlen, kinv, r, ec);
  unsigned char *p = out;
  int len;

  (void)type;
  if (sig == NULL)
    return 0;
  /* @out has ECDSA_size() bytes, which the DER of r and s no longer than
   * the order never exceeds (checked all the same). */
  len = i2d_ECDSA_SIG(sig, NULL);
  if (len <= 0 || len > ECDSA_size(ec)) {
    ECDSA_SIG_free(sig);
    return 0;
  }
  len = i2d_ECDSA_SIG(sig, &p);
  ECDSA_SIG_free(sig);
  if (len <= 0)
    return 0;
  *out_len = (unsigned int)len;
  return 1;
}

static gpointer
make_methods(gpointer data)
{
  int (*sign_setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

  (void)data;
  rsa_index = RSA_get_ex_new_index(0, NULL, NULL, bound_key_dup, bound_key_free);
  ec_index = EC_KEY_get_ex_new_index(0, NULL, NULL, bound_key_dup, bound_key_free);
  rsa_method = RSA_meth_dup(RSA_PKCS1_OpenSSL());
  ec_method = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
  if (rsa_index < 0 || ec_index < 0 || rsa_method == NULL || ec_method == NULL)
    return NULL;
  if (!RSA_meth_set1_name(rsa_method, "signet token key")
      || !RSA_meth_set_priv_enc(rsa_method, rsa_priv_enc)
      || !RSA_meth_set_priv_dec(rsa_method, rsa_priv_dec))
    return NULL;
  EC_KEY_METHOD_get_sign(EC_KEY_OpenSSL(), NULL, &sign_setup, NULL);
  EC_KEY_METHOD_set_sign(ec_method, ec_sign, sign_setup, ec_sign_sig);
  return GINT_TO_POINTER(1);
}

static EVP_PKEY *
bind_rsa(EVP_PKEY *pub, BoundKey *k)
{
  RSA *cached = EVP_PKEY_get1_RSA(pub);
  RSA *rsa = cached != NULL ? RSAPublicKey_dup(cached) : NULL;
  EVP_PKEY *pkey = NULL;

  RSA_free(cached);
  if (rsa != NULL && RSA_set_method(rsa, rsa_method) && RSA_set_ex_data(rsa, rsa_index, k)) {
    k = NULL; /* the RSA owns it now */
    pkey = EVP_PKEY_new();
    if (pkey != NULL && EVP_PKEY_assign_RSA(pkey, rsa))
      return pkey;
  }
  EVP_PKEY_free(pkey);
  RSA_free(rsa);
  bound_key_free(NULL, k, NULL, 0, 0, NULL);
  return NULL;
}

static EVP_PKEY *
bind_ec(EVP_PKEY *pub, BoundKey *k)
{
  EC_KEY *cached = EVP_PKEY_get1_EC_KEY(pub);
  EC_KEY *ec = cached != NULL ? EC_KEY_dup(cached) : NULL;
  EVP_PKEY *pkey = NULL;

  EC_KEY_free(cached);
  if (ec != NULL && EC_KEY_set_method(ec, ec_method) && EC_KEY_set_ex_data(ec, ec_index, k)) {
    k = NULL; /* the EC_KEY owns it now */
    pkey = EVP_PKEY_new();
    if (pkey != NULL && EVP_PKEY_assign_EC_KEY(pkey, ec))
      return pkey;
  }
  EVP_PKEY_free(pkey);
  EC_KEY_free(ec);
  bound_key_free(NULL, k, NULL, 0, 0, NULL);
  return NULL;
}

EVP_PKEY *
signet_p11_session_get_private_key(SignetP11Session *s, GBytes *id, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  g_autoptr(EVP_PKEY) pub = NULL;
  CK_KEY_TYPE type = CK_UNAVAILABLE_INFORMATION;
  BoundKey *k;
  EVP_PKEY *pkey = NULL;

  if (!signet_p11_check_logged_in(s, error))
    return NULL;
  if (signet_p11_find_private_key(s, id, &type, error) == CK_INVALID_HANDLE)
    return NULL;
  if (type != CKK_RSA && type != CKK_EC) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
                "The private key is neither RSA nor EC: Signet cannot use it");
    return NULL;
  }
  pub = signet_p11_session_get_public_key(s, id, error);
  if (pub == NULL)
    return NULL;
  if (g_once(&once, make_methods, NULL) == NULL) {
    g_set_error_literal(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                        "OpenSSL could not make the methods of a token key");
    return NULL;
  }
  k = g_new0(BoundKey, 1);
  k->session = s;
  k->id = g_bytes_ref(id);
  if (type == CKK_RSA && EVP_PKEY_is_a(pub, "RSA"))
    pkey = bind_rsa(pub, k);
  else if (type == CKK_EC && EVP_PKEY_is_a(pub, "EC"))
    pkey = bind_ec(pub, k);
  else
    bound_key_free(NULL, k, NULL, 0, 0, NULL);
  if (pkey == NULL) {
    g_set_error_literal(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                        "The token's private key could not be bound to OpenSSL (its public key "
                        "does not match its type)");
    ERR_clear_error();
  }
  return pkey;
}
