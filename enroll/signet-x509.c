/* signet-x509.c: describing certificates (names, serial, validity, CA or
 * not, matching a key) and the enrollment error domain. See signet-x509.h. */
#include "config.h"

#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"

#include <openssl/err.h>
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
