/* signet-p11-keys.c: generating key pairs on the token, and binding an
 * on-token private key with the operation's own session. */
#include "config.h"

#include "pkcs11/signet-p11-private.h"

#include <openssl/ec.h>
#include <openssl/x509.h>
#include <openssl/rand.h>
#include <string.h>

/* DER of the named curves' OIDs (ECParameters). */
static const guint8 oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const guint8 oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };

#define KEY_ID_LEN 20

GBytes *
signet_p11_new_key_id(GError **error)
{
  guint8 id[KEY_ID_LEN];

  if (RAND_bytes(id, sizeof id) != 1) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                "Could not make a key id (no randomness)");
    return NULL;
  }
  return g_bytes_new(id, sizeof id);
}

gboolean
signet_p11_session_generate_key_pair(SignetP11Session *s, SignetP11KeyType type, const char *label,
                                     GBytes **out_id, GError **error)
{
  g_autoptr(GBytes) id = signet_p11_new_key_id(error);

  if (id == NULL)
    return FALSE;
  if (!signet_p11_session_generate_key_pair_with_id(s, type, label, id, error))
    return FALSE;
  *out_id = g_steal_pointer(&id);
  return TRUE;
}

static gboolean generate_key_pair(SignetP11Session *s, SignetP11KeyType type, const char *label,
                                  GBytes *id_bytes, gboolean decrypt, GError **error);

gboolean
signet_p11_session_generate_key_pair_with_id(SignetP11Session *s, SignetP11KeyType type,
                                             const char *label, GBytes *id_bytes, GError **error)
{
  return generate_key_pair(s, type, label, id_bytes, FALSE, error);
}

gboolean
signet_p11_session_generate_decrypting_key_pair_with_id(SignetP11Session *s, SignetP11KeyType type,
                                                        const char *label, GBytes *id_bytes,
                                                        GError **error)
{
  if (type != SIGNET_P11_KEY_RSA_2048 && type != SIGNET_P11_KEY_RSA_3072
      && type != SIGNET_P11_KEY_RSA_4096) {
    g_set_error_literal(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
                        "A key that decrypts is an RSA key: use an RSA key type");
    return FALSE;
  }
  return generate_key_pair(s, type, label, id_bytes, TRUE, error);
}

static gboolean
generate_key_pair(SignetP11Session *s, SignetP11KeyType type, const char *label, GBytes *id_bytes,
                  gboolean decrypt, GError **error)
{
  CK_BBOOL decrypts = decrypt ? CK_TRUE : CK_FALSE;
  guint8 id[KEY_ID_LEN];
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG bits = 0;
  CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
  const guint8 *ec_params = NULL;
  gsize ec_params_len = 0;
  const char *lbl = label != NULL ? label : "";
  CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
  SignetP11KeyProtection protection;
  CK_RV rv;

  if (!signet_p11_token_check_key_type(s->token, type, error))
    return FALSE;
  switch (type) {
    case SIGNET_P11_KEY_RSA_2048:
      bits = 2048;
      break;
    case SIGNET_P11_KEY_RSA_3072:
      bits = 3072;
      break;
    case SIGNET_P11_KEY_RSA_4096:
      bits = 4096;
      break;
    case SIGNET_P11_KEY_EC_P256:
      ec_params = oid_p256;
      ec_params_len = sizeof oid_p256;
      break;
    case SIGNET_P11_KEY_EC_P384:
      ec_params = oid_p384;
      ec_params_len = sizeof oid_p384;
      break;
    default:
      g_return_val_if_reached(FALSE);
  }

  /* The CKA_ID shared by both keys and later the certificate. */
  if (id_bytes == NULL || g_bytes_get_size(id_bytes) != sizeof id) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                "A new key id must be %u bytes (signet_p11_new_key_id)", (guint)sizeof id);
    return FALSE;
  }
  memcpy(id, g_bytes_get_data(id_bytes, NULL), sizeof id);

  {
    CK_ATTRIBUTE pub_rsa[] = {
      { CKA_TOKEN, &yes, sizeof yes },
      { CKA_PRIVATE, &no, sizeof no },
      { CKA_VERIFY, &yes, sizeof yes },
      { CKA_ENCRYPT, &decrypts, sizeof decrypts },
      { CKA_WRAP, &no, sizeof no },
      { CKA_LABEL, (void *)lbl, strlen(lbl) },
      { CKA_ID, id, sizeof id },
      { CKA_MODULUS_BITS, &bits, sizeof bits },
      { CKA_PUBLIC_EXPONENT, exponent, sizeof exponent },
    };
    CK_ATTRIBUTE pub_ec[] = {
      { CKA_TOKEN, &yes, sizeof yes },  { CKA_PRIVATE, &no, sizeof no },
      { CKA_VERIFY, &yes, sizeof yes }, { CKA_LABEL, (void *)lbl, strlen(lbl) },
      { CKA_ID, id, sizeof id },        { CKA_EC_PARAMS, (void *)ec_params, ec_params_len },
    };
    CK_ATTRIBUTE priv_tmpl[] = {
      { CKA_TOKEN, &yes, sizeof yes },         { CKA_PRIVATE, &yes, sizeof yes },
      { CKA_SENSITIVE, &yes, sizeof yes },     { CKA_EXTRACTABLE, &no, sizeof no },
      { CKA_SIGN, &yes, sizeof yes },          { CKA_DECRYPT, &decrypts, sizeof decrypts },
      { CKA_UNWRAP, &no, sizeof no },          { CKA_DERIVE, &no, sizeof no },
      { CKA_LABEL, (void *)lbl, strlen(lbl) }, { CKA_ID, id, sizeof id },
    };
    gboolean ec = ec_params != NULL;

    if (ec)
      mech.mechanism = CKM_EC_KEY_PAIR_GEN;
    SIGNET_P11_WRITE_BEGIN(s);
    rv = s->f->C_GenerateKeyPair(s->handle, &mech, ec ? pub_ec : pub_rsa,
                                 ec ? G_N_ELEMENTS(pub_ec) : G_N_ELEMENTS(pub_rsa), priv_tmpl,
                                 G_N_ELEMENTS(priv_tmpl), &pub, &priv);
    SIGNET_P11_WRITE_END(s);
  }
  if (rv != CKR_OK) {
    signet_p11_session_forget(s);
    signet_p11_set_error(error, rv, "Could not generate the key pair on the token");
    return FALSE;
  }
  signet_p11_session_generated(s, id_bytes, ec_params != NULL ? CKK_EC : CKK_RSA, pub, priv);
  /* Check what the token made: a module may ignore parts of a template. */
  protection = signet_p11_private_key_protection(s, priv);
  if (protection != SIGNET_P11_KEY_PROTECTION_SENSITIVE
      && protection != SIGNET_P11_KEY_PROTECTION_CARD) {
    SIGNET_P11_WRITE_BEGIN(s);
    (void)s->f->C_DestroyObject(s->handle, priv);
    (void)s->f->C_DestroyObject(s->handle, pub);
    SIGNET_P11_WRITE_END(s);
    signet_p11_session_forget(s);
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
                "The token made a private key that %s; it was deleted. Use another token or "
                "module",
                protection == SIGNET_P11_KEY_PROTECTION_EXTRACTABLE
                    ? "can be extracted (CKA_EXTRACTABLE)"
                    : "is not sensitive and whose value the module may give out");
    return FALSE;
  }
  return TRUE;
}

const char *
signet_p11_key_protection_to_string(SignetP11KeyProtection protection)
{
  switch (protection) {
    case SIGNET_P11_KEY_PROTECTION_SENSITIVE:
      return "sensitive";
    case SIGNET_P11_KEY_PROTECTION_CARD:
      return "card";
    case SIGNET_P11_KEY_PROTECTION_NOT_SENSITIVE:
      return "not-sensitive";
    case SIGNET_P11_KEY_PROTECTION_EXTRACTABLE:
      return "extractable";
    case SIGNET_P11_KEY_PROTECTION_UNKNOWN:
    default:
      return "unknown";
  }
}

/* OpenSC before 0.24 does not carry CKA_SENSITIVE (nor ALWAYS_SENSITIVE,
 * NEVER_EXTRACTABLE, LOCAL) from the template to a PKCS#15 card's key
 * object: a key generated on the card reads back CKA_SENSITIVE false
 * ("Access: none" in pkcs11-tool) although the card never gives it out.
 * 0.24 reads back true. */
static gboolean
module_hides_sensitive(const CK_INFO *info)
{
  return signet_p11_module_is_opensc(info) && info->libraryVersion.major == 0
         && info->libraryVersion.minor < 24;
}

/* TRUE when the module will not give out the private key's value: asked for
 * the length of its secret part, it answers that the attribute is
 * sensitive, unavailable or not there. Only the length is asked for. */
static gboolean
value_unreadable(SignetP11Session *s, CK_OBJECT_HANDLE priv)
{
  static const CK_ATTRIBUTE_TYPE secret[] = { CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_VALUE };

  for (gsize i = 0; i < G_N_ELEMENTS(secret); i++) {
    CK_ATTRIBUTE attr = { secret[i], NULL, 0 };
    CK_RV rv;

    SIGNET_P11_READ_BEGIN(s);
    rv = s->f->C_GetAttributeValue(s->handle, priv, &attr, 1);
    SIGNET_P11_READ_END(s);

    if (rv == CKR_OK && attr.ulValueLen != CK_UNAVAILABLE_INFORMATION)
      return FALSE;
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_SENSITIVE && rv != CKR_ATTRIBUTE_TYPE_INVALID)
      return FALSE; /* cannot tell: promise nothing */
  }
  return TRUE;
}

SignetP11KeyProtection
signet_p11_private_key_protection(SignetP11Session *s, CK_OBJECT_HANDLE priv)
{
  if (signet_p11_get_bool(s, priv, CKA_EXTRACTABLE, TRUE))
    return SIGNET_P11_KEY_PROTECTION_EXTRACTABLE;
  if (signet_p11_get_bool(s, priv, CKA_SENSITIVE, FALSE))
    return SIGNET_P11_KEY_PROTECTION_SENSITIVE;
  if (module_hides_sensitive(&s->module->info) && value_unreadable(s, priv))
    return SIGNET_P11_KEY_PROTECTION_CARD;
  return SIGNET_P11_KEY_PROTECTION_NOT_SENSITIVE;
}

/* A private key is used only in a session logged in (or on a token that
 * needs no login). */
gboolean
signet_p11_check_logged_in(SignetP11Session *s, GError **error)
{
  if (!s->logged_in && s->token->login_required) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                "Internal error: the private key is used before logging in");
    return FALSE;
  }
  return TRUE;
}

/* DER DigestInfo of @digest (RFC 8017 9.2): what CKM_RSA_PKCS signs. */
static GBytes *
digest_info(const EVP_MD *md, const guint8 *digest, guint digest_len)
{
  X509_SIG *sig = X509_SIG_new();
  X509_ALGOR *alg = NULL;
  ASN1_OCTET_STRING *value = NULL;
  unsigned char *der = NULL;
  GBytes *out = NULL;
  int len = 0;

  if (sig != NULL) {
    X509_SIG_getm(sig, &alg, &value);
    if (X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL)
        && ASN1_OCTET_STRING_set(value, digest, (int)digest_len))
      len = i2d_X509_SIG(sig, &der);
  }
  if (len > 0)
    out = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  X509_SIG_free(sig);
  return out;
}

ECDSA_SIG *
signet_p11_ecdsa_sig_from_raw(const guint8 *raw, gsize len)
{
  ECDSA_SIG *sig;
  BIGNUM *r, *s;

  if (len == 0 || len % 2 != 0)
    return NULL;
  sig = ECDSA_SIG_new();
  r = BN_bin2bn(raw, (int)(len / 2), NULL);
  s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
  if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return NULL;
  }
  return sig;
}

/* PKCS#11's ECDSA signature (r and s, each as long as the order) as DER. */
static GBytes *
ecdsa_der(const guint8 *raw, gsize len)
{
  ECDSA_SIG *sig = signet_p11_ecdsa_sig_from_raw(raw, len);
  unsigned char *der = NULL;
  GBytes *out = NULL;
  int der_len;

  if (sig == NULL)
    return NULL;
  der_len = i2d_ECDSA_SIG(sig, &der);
  if (der_len > 0)
    out = g_bytes_new(der, (gsize)der_len);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

gboolean
signet_p11_key_operation(SignetP11Session *s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mechanism,
                         gboolean decrypt, const guint8 *in, gsize in_len, guint8 *out,
                         gsize *out_len, GError **error)
{
  CK_MECHANISM mech = { mechanism, NULL, 0 };
  CK_ULONG len = *out_len;
  CK_RV rv;

  SIGNET_P11_READ_BEGIN(s);
  if (decrypt) {
    rv = s->f->C_DecryptInit(s->handle, &mech, key);
    if (rv == CKR_OK)
      rv = s->f->C_Decrypt(s->handle, (CK_BYTE_PTR)in, in_len, out, &len);
  } else {
    rv = s->f->C_SignInit(s->handle, &mech, key);
    if (rv == CKR_OK)
      rv = s->f->C_Sign(s->handle, (CK_BYTE_PTR)in, in_len, out, &len);
  }
  if (rv == CKR_BUFFER_TOO_SMALL && len > *out_len && len <= 65536) {
    /* Too small, the operation stays active (PKCS#11 5.2) and the session
     * could start no other: it is finished into a buffer of the size the
     * module asked for, and its result dropped. */
    g_autofree guint8 *spill = g_malloc(len);
    CK_RV done = decrypt ? s->f->C_Decrypt(s->handle, (CK_BYTE_PTR)in, in_len, spill, &len)
                         : s->f->C_Sign(s->handle, (CK_BYTE_PTR)in, in_len, spill, &len);

    (void)done;
    OPENSSL_cleanse(spill, len);
  }
  SIGNET_P11_READ_END(s);
  if (rv != CKR_OK) {
    signet_p11_set_error(error, rv,
                         decrypt ? "The token could not decrypt" : "The token could not sign");
    return FALSE;
  }
  *out_len = len;
  return TRUE;
}

GBytes *
signet_p11_session_sign(SignetP11Session *s, GBytes *id, const EVP_MD *md, const guint8 *data,
                        gsize len, GError **error)
{
  guint8 digest[EVP_MAX_MD_SIZE];
  guint digest_len = 0;
  g_autoptr(GBytes) input = NULL;
  GBytes *der;
  CK_KEY_TYPE type = CK_UNAVAILABLE_INFORMATION;
  CK_OBJECT_HANDLE key;
  CK_MECHANISM_TYPE mech = CKM_RSA_PKCS;
  guint8 sig[1024]; /* RSA 8192, or r and s of any curve */
  gsize sig_len = sizeof sig;
  gsize input_len;
  const guint8 *input_data;

  if (!signet_p11_check_logged_in(s, error))
    return NULL;
  key = signet_p11_find_private_key(s, id, &type, error);
  if (key == CK_INVALID_HANDLE)
    return NULL;
  if (EVP_Digest(data, len, digest, &digest_len, md, NULL) != 1) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED, "Could not hash what to sign");
    return NULL;
  }
  if (type == CKK_RSA)
    input = digest_info(md, digest, digest_len);
  else if (type == CKK_EC) {
    mech = CKM_ECDSA;
    input = g_bytes_new(digest, digest_len);
  } else {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                "The private key is neither RSA nor EC: Signet cannot sign with it");
    return NULL;
  }
  if (input == NULL) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED, "Could not encode the hash");
    return NULL;
  }
  input_data = g_bytes_get_data(input, &input_len);
  if (!signet_p11_key_operation(s, key, mech, FALSE, input_data, input_len, sig, &sig_len, error))
    return NULL;
  if (type == CKK_RSA)
    return g_bytes_new(sig, sig_len);
  der = ecdsa_der(sig, sig_len);
  if (der == NULL)
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                "The token's ECDSA signature could not be read");
  return der;
}

GBytes *
signet_p11_key_ref_sign(const EVP_MD *md, const guint8 *data, gsize len, gpointer key_ref,
                        GError **error)
{
  const SignetP11KeyRef *ref = key_ref;

  return signet_p11_session_sign(ref->session, ref->id, md, data, len, error);
}
