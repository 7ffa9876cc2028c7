/* signet-x509.c: describing certificates (names, serial, validity, CA or
 * not, matching a key) and the enrollment error domain. See signet-x509.h. */
#include "config.h"

#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <time.h>

G_DEFINE_QUARK(signet - enroll - error - quark, signet_enroll_error)

char *
signet_openssl_error_text(void)
{
  unsigned long first = ERR_get_error();
  const char *reason;

  if (first == 0)
    return g_strdup("unknown error");
  while (ERR_get_error() != 0)
    ;
  reason = ERR_reason_error_string(first);
  if (reason == NULL)
    return g_strdup_printf("error %lx", first);
  return g_strdup(reason);
}

char *
signet_enroll_printable_text(const char *text, gsize max)
{
  g_autofree char *valid = g_utf8_make_valid(text, -1);
  GString *out = g_string_new(NULL);
  gsize count = 0;

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);

    if (count++ == max) {
      g_string_append(out, "…");
      break;
    }
    g_string_append_unichar(out, g_unichar_isprint(c) ? c : '?');
  }
  return g_string_free(out, FALSE);
}

GPtrArray *
signet_x509_join_unique(GPtrArray *first, GPtrArray *second)
{
  GPtrArray *all = g_ptr_array_new();
  GPtrArray *parts[] = { first, second };

  for (gsize p = 0; p < G_N_ELEMENTS(parts); p++)
    for (guint i = 0; parts[p] != NULL && i < parts[p]->len; i++) {
      X509 *c = g_ptr_array_index(parts[p], i);
      gboolean seen = FALSE;

      for (guint j = 0; j < all->len && !seen; j++)
        seen = X509_cmp(g_ptr_array_index(all, j), c) == 0;
      if (!seen)
        g_ptr_array_add(all, c);
    }
  return all;
}

gboolean
signet_x509_is_ca(X509 *cert)
{
  gboolean self_signed;

  g_return_val_if_fail(cert != NULL, FALSE);

  if (X509_get_extension_flags(cert) & EXFLAG_CA)
    return TRUE;
  ERR_set_mark();
  self_signed = X509_self_signed(cert, 1) == 1;
  ERR_pop_to_mark();
  return self_signed;
}

char *
signet_x509_name_to_string(const X509_NAME *name)
{
  g_autoptr(BIO) bio = NULL;
  char *text = NULL;
  long len;

  if (name == NULL)
    return g_strdup("");
  bio = BIO_new(BIO_s_mem());
  if (bio == NULL)
    return g_strdup("");
  /* Without ESC_MSB, UTF-8 stays readable ("CN=Zażółć") instead of "\C5\BC". */
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    ERR_clear_error();
    return g_strdup("");
  }
  len = BIO_get_mem_data(bio, &text);
  if (len <= 0 || text == NULL)
    return g_strdup("");
  /* A hostile certificate can carry bytes that are not UTF-8 in a
   * UTF8String; callers put this on D-Bus, which takes only UTF-8. */
  return g_utf8_make_valid(text, len);
}

char *
signet_x509_serial_to_string(X509 *cert)
{
  g_autoptr(BIGNUM) bn = NULL;
  char *hex;
  char *out;

  g_return_val_if_fail(cert != NULL, NULL);

  bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
  if (bn == NULL) {
    ERR_clear_error();
    return g_strdup("");
  }
  hex = BN_bn2hex(bn);
  if (hex == NULL) {
    ERR_clear_error();
    return g_strdup("");
  }
  out = g_ascii_strdown(hex, -1);
  OPENSSL_free(hex);
  return out;
}

/* @time as a UTC GDateTime, or NULL if it is malformed. */
static GDateTime *
asn1_time_to_date_time(const ASN1_TIME *time)
{
  struct tm tm = { 0 };

  if (time == NULL || ASN1_TIME_to_tm(time, &tm) != 1) {
    ERR_clear_error();
    return NULL;
  }
  /* A leap second ("…235960Z") is not a time GDateTime takes. */
  return g_date_time_new_utc(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                             MIN(tm.tm_sec, 59));
}

gint64
signet_asn1_time_to_unix(const ASN1_TIME *time)
{
  g_autoptr(GDateTime) dt = asn1_time_to_date_time(time);

  return dt != NULL ? g_date_time_to_unix(dt) : 0;
}

char *
signet_asn1_time_to_iso8601(const ASN1_TIME *time)
{
  g_autoptr(GDateTime) dt = asn1_time_to_date_time(time);

  if (dt == NULL)
    return NULL;
  return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02dZ", g_date_time_get_year(dt),
                         g_date_time_get_month(dt), g_date_time_get_day_of_month(dt),
                         g_date_time_get_hour(dt), g_date_time_get_minute(dt),
                         g_date_time_get_second(dt));
}

gint64
signet_x509_days_left(X509 *cert, GDateTime *now)
{
  g_autoptr(GDateTime) not_after = NULL;
  g_autoptr(GDateTime) current = NULL;
  GTimeSpan span;
  gint64 days;

  g_return_val_if_fail(cert != NULL, G_MININT32);

  not_after = asn1_time_to_date_time(X509_get0_notAfter(cert));
  if (not_after == NULL)
    return G_MININT32;
  current = now != NULL ? g_date_time_ref(now) : g_date_time_new_now_utc();
  span = g_date_time_difference(not_after, current);
  /* Floor, not truncation: one second past notAfter is day -1. */
  days = span / G_TIME_SPAN_DAY;
  if (span % G_TIME_SPAN_DAY < 0)
    days--;
  return days;
}

gboolean
signet_x509_matches_key(X509 *cert, EVP_PKEY *key)
{
  EVP_PKEY *cert_key;
  gboolean match;

  g_return_val_if_fail(cert != NULL, FALSE);

  if (key == NULL)
    return FALSE;
  ERR_set_mark();
  cert_key = X509_get0_pubkey(cert);
  match = cert_key != NULL && EVP_PKEY_eq(cert_key, key) == 1;
  ERR_pop_to_mark();
  return match;
}

char *
signet_x509_key_type(X509 *cert)
{
  EVP_PKEY *key;
  char group[64] = "";

  g_return_val_if_fail(cert != NULL, NULL);

  key = X509_get0_pubkey(cert);
  if (key == NULL)
    return NULL;
  if (EVP_PKEY_is_a(key, "RSA"))
    return g_strdup_printf("rsa:%d", EVP_PKEY_get_bits(key));
  if (!EVP_PKEY_is_a(key, "EC"))
    return NULL;
  if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, NULL) == 1) {
    if (g_str_equal(group, "prime256v1") || g_str_equal(group, "P-256"))
      return g_strdup("ec:p256");
    if (g_str_equal(group, "secp384r1") || g_str_equal(group, "P-384"))
      return g_strdup("ec:p384");
  }
  return g_strdup("ec");
}

typedef STACK_OF(X509) X509Stack;
static void
x509_stack_free(X509Stack *stack)
{
  sk_X509_free(stack);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509Stack, x509_stack_free)

gboolean
signet_x509_is_self_signed(X509 *cert)
{
  gboolean self_signed;

  g_return_val_if_fail(cert != NULL, FALSE);

  ERR_set_mark();
  self_signed = X509_self_signed(cert, 1) == 1;
  ERR_pop_to_mark();
  return self_signed;
}

char *
signet_x509_fingerprint(X509 *cert)
{
  guint8 md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  GString *out;

  g_return_val_if_fail(cert != NULL, NULL);

  if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1) {
    ERR_clear_error();
    return g_strdup("?");
  }
  out = g_string_sized_new(md_len * 3);
  for (unsigned int i = 0; i < md_len; i++)
    g_string_append_printf(out, "%s%02X", i > 0 ? ":" : "", md[i]);
  return g_string_free(out, FALSE);
}

char *
signet_x509_describe(X509 *cert)
{
  g_autofree char *subject = NULL;
  g_autofree char *fingerprint = NULL;

  g_return_val_if_fail(cert != NULL, NULL);

  subject = signet_x509_name_to_string(X509_get_subject_name(cert));
  fingerprint = signet_x509_fingerprint(cert);
  return g_strdup_printf("%s (SHA-256 %s)", *subject != '\0' ? subject : "(no name)", fingerprint);
}

/* Did @issuer issue @cert: names and key identifiers match and @cert's
 * signature verifies with @issuer's key? */
static gboolean
issued_by(X509 *cert, X509 *issuer)
{
  EVP_PKEY *key;
  gboolean ok;

  ERR_set_mark();
  key = X509_get0_pubkey(issuer);
  ok = X509_check_issued(issuer, cert) == X509_V_OK && key != NULL && X509_verify(cert, key) == 1;
  ERR_pop_to_mark();
  return ok;
}

X509 *
signet_x509_chain_top(X509 *leaf, GPtrArray *certs)
{
  X509 *top = leaf;

  g_return_val_if_fail(leaf != NULL, NULL);

  /* A chain longer than the file's certificates is a loop. */
  for (guint depth = 0; certs != NULL && depth <= certs->len; depth++) {
    X509 *next = NULL;

    if (signet_x509_is_self_signed(top))
      break;
    for (guint i = 0; i < certs->len && next == NULL; i++) {
      X509 *c = g_ptr_array_index(certs, i);

      if (c != top && X509_cmp(c, top) != 0 && issued_by(top, c))
        next = c;
    }
    if (next == NULL)
      break;
    top = next;
  }
  return top;
}

gboolean
signet_x509_verify_chain_with_store(X509 *leaf, GPtrArray *untrusted, X509_STORE *store,
                                    GDateTime *now, X509 **out_anchor, GError **error)
{
  g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new();
  g_autoptr(X509Stack) chain = sk_X509_new_null();
  X509_VERIFY_PARAM *param;
  int err;

  g_return_val_if_fail(leaf != NULL && store != NULL, FALSE);
  if (ctx == NULL || chain == NULL) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED, "Out of memory");
    return FALSE;
  }
  /* The intermediates: never trusted, only material to build the chain. */
  for (guint i = 0; untrusted != NULL && i < untrusted->len; i++) {
    X509 *c = g_ptr_array_index(untrusted, i);

    if (c != leaf && X509_cmp(c, leaf) != 0 && sk_X509_push(chain, c) <= 0) {
      g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED, "Out of memory");
      return FALSE;
    }
  }
  if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "Could not set up the certificate verification");
    return FALSE;
  }
  /* On this verification only (the caller's store stays as it is): a
   * trusted certificate ends the chain, self-signed or not. */
  param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (now != NULL)
    X509_STORE_CTX_set_time(ctx, 0, (time_t)g_date_time_to_unix(now));
  if (X509_verify_cert(ctx) == 1) {
    STACK_OF(X509) *verified = X509_STORE_CTX_get0_chain(ctx);
    int n = verified != NULL ? sk_X509_num(verified) : 0;

    if (out_anchor != NULL) {
      X509 *anchor = n > 0 ? sk_X509_value(verified, n - 1) : NULL;

      if (anchor != NULL)
        X509_up_ref(anchor);
      *out_anchor = anchor;
    }
    return TRUE;
  }
  err = X509_STORE_CTX_get_error(ctx);
  ERR_clear_error();
  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH, "%s",
              X509_verify_cert_error_string(err));
  return FALSE;
}

gboolean
signet_x509_verify_chain(X509 *leaf, GPtrArray *untrusted, GPtrArray *anchors, GDateTime *now,
                         X509 **out_anchor, GError **error)
{
  g_autoptr(X509_STORE) store = X509_STORE_new();
  guint n_anchors = 0;

  g_return_val_if_fail(leaf != NULL, FALSE);
  if (store == NULL) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED, "Out of memory");
    return FALSE;
  }
  for (guint i = 0; anchors != NULL && i < anchors->len; i++) {
    X509 *c = g_ptr_array_index(anchors, i);

    /* A holder certificate is nobody's anchor. */
    if (!signet_x509_is_ca(c))
      continue;
    if (X509_STORE_add_cert(store, c) != 1) {
      ERR_clear_error();
      continue; /* the same certificate twice */
    }
    n_anchors++;
  }
  if (n_anchors == 0) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                        "there is no trusted root certificate to verify the certificate with");
    return FALSE;
  }
  return signet_x509_verify_chain_with_store(leaf, untrusted, store, now, out_anchor, error);
}

gboolean
signet_x509_test_signature(SignetCsrSignFunc sign, gpointer sign_data, X509 *cert, GError **error)
{
  guint8 data[32];
  g_autoptr(EVP_MD_CTX) verify_ctx = EVP_MD_CTX_new();
  g_autoptr(GBytes) sig = NULL;
  EVP_PKEY *pub = X509_get0_pubkey(cert);

  if (verify_ctx == NULL || pub == NULL || RAND_bytes(data, sizeof data) != 1) {
    g_autofree char *why = signet_openssl_error_text();
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                "The test signature could not be prepared (%s)", why);
    return FALSE;
  }
  sig = sign(EVP_sha256(), data, sizeof data, sign_data, error);
  if (sig == NULL) {
    g_prefix_error(error, "The key could not make a test signature: ");
    return FALSE;
  }
  if (EVP_DigestVerifyInit(verify_ctx, NULL, EVP_sha256(), NULL, pub) != 1
      || EVP_DigestVerify(verify_ctx, g_bytes_get_data(sig, NULL), g_bytes_get_size(sig), data,
                          sizeof data)
             != 1) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                        "The test signature made with the key does not verify with the "
                        "certificate: they do not belong together");
    return FALSE;
  }
  return TRUE;
}

gboolean
signet_asn1_is_text_type(int type)
{
  switch (type) {
    case V_ASN1_UTF8STRING:
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_T61STRING:
    case V_ASN1_BMPSTRING:
    case V_ASN1_UNIVERSALSTRING:
    case V_ASN1_VISIBLESTRING:
    case V_ASN1_NUMERICSTRING:
      return TRUE;
    default:
      return FALSE;
  }
}
