/* signet-certfile.c: reading the certificates in a file as users and CA
 * portals hand them out. See signet_certfile_parse() in signet-x509.h.
 *
 * The input is untrusted: everything is bounded (file size, number of PEM
 * blocks, number of certificates), lengths come from OpenSSL's parsers only,
 * and OpenSSL's error queue is left empty. Fuzzed by tests/fuzz/fuzz-certfile.c.
 *
 * Order of recognition:
 *  1. DER: one SEQUENCE whose header fits the data: X.509 (also several
 *     concatenated), PKCS#7 or CMS signed-data; otherwise what else it is
 *     (a request, a private key, PKCS#12, a CRL, a public key) for the message.
 *  2. PEM: every "-----BEGIN " in the data starts a block; each block must
 *     parse (a damaged block fails the file: a half-imported chain is worse
 *     than a clear error). Blocks that are not certificates are skipped when
 *     the file holds certificates too (a key next to its certificate).
 *     A block OpenSSL's reader refuses is read once more forgiving nothing
 *     but whitespace, as text copied from a web page or an e-mail arrives:
 *     line breaks lost or turned into spaces, lines indented, blank lines,
 *     CR line ends. A CERTIFICATE block that holds PKCS#7 (Microsoft AD CS
 *     portals save the chain so) is read as PKCS#7.
 *  3. Binary that starts like DER but does not fit: truncated or damaged DER.
 *  4. Base64 without armour (EST answers so): decoded, then as 1.
 */
#include "config.h"

#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

/* More blocks than this is not a certificate file. */
#define MAX_PEM_BLOCKS 256

#define EXPECTED "expected PEM, DER or PKCS#7 (.p7b) data"

static gboolean is_base64_char(guint8 c);

/* What the file held besides certificates, for the message when it holds
 * none; a higher rank wins (a private key is the thing to point out). */
typedef enum
{
  OTHER_NONE,
  OTHER_UNKNOWN_PEM,
  OTHER_PKCS7_OTHER,
  OTHER_PKCS7_EMPTY,
  OTHER_PUBLIC_KEY,
  OTHER_CRL,
  OTHER_CSR,
  OTHER_PKCS12,
  OTHER_PRIVATE_KEY,
} OtherKind;

typedef struct
{
  GPtrArray *certs; /* X509*, owned, file order, no duplicates */
  OtherKind other;
  char *other_detail; /* PEM name or PKCS#7 type, already quoted */
} Found;

typedef enum
{
  NOT_RECOGNIZED, /* not this format: try the next */
  RECOGNIZED,     /* certificates added or found->other set */
  DAMAGED,        /* error set */
} Outcome;

static void
note_other(Found *found, OtherKind kind, const char *detail)
{
  if (kind <= found->other)
    return;
  found->other = kind;
  g_free(found->other_detail);
  found->other_detail = g_strdup(detail);
}

/* A string from the file, made safe to show: printable ASCII, bounded. */
static char *
quote_from_file(const char *text)
{
  g_autofree char *escaped = g_strescape(text, NULL);

  if (strlen(escaped) > 40)
    return g_strdup_printf("\"%.40s…\"", escaped);
  return g_strdup_printf("\"%s\"", escaped);
}

/* Takes @cert. */
static gboolean
add_cert(Found *found, X509 *cert, GError **error)
{
  g_autoptr(X509) owned = cert;

  for (guint i = 0; i < found->certs->len; i++)
    if (X509_cmp(g_ptr_array_index(found->certs, i), cert) == 0)
      return TRUE;
  if (found->certs->len >= SIGNET_CERTFILE_MAX_CERTS) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                "The file holds more than %d certificates: expected a certificate and its "
                "chain, a few certificates at most",
                SIGNET_CERTFILE_MAX_CERTS);
    return FALSE;
  }
  g_ptr_array_add(found->certs, g_steal_pointer(&owned));
  return TRUE;
}

static gboolean
add_cert_stack(Found *found, const STACK_OF(X509) * stack, GError **error)
{
  int n = stack != NULL ? sk_X509_num(stack) : 0;

  for (int i = 0; i < n; i++) {
    X509 *cert = sk_X509_value(stack, i);

    if (cert == NULL || X509_up_ref(cert) != 1)
      continue;
    if (!add_cert(found, cert, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
add_pkcs7(Found *found, PKCS7 *p7, GError **error)
{
  const STACK_OF(X509) *certs = NULL;
  int nid = p7->type != NULL ? OBJ_obj2nid(p7->type) : NID_undef;

  if (nid != NID_pkcs7_signed) {
    const char *type = nid != NID_undef ? OBJ_nid2ln(nid) : "unknown";

    note_other(found, OTHER_PKCS7_OTHER, type != NULL ? type : "unknown");
    return TRUE;
  }
  if (p7->d.sign != NULL)
    certs = p7->d.sign->cert;
  if (certs == NULL || sk_X509_num(certs) <= 0) {
    note_other(found, OTHER_PKCS7_EMPTY, NULL);
    return TRUE;
  }
  return add_cert_stack(found, certs, error);
}

static gboolean
is_padding(const guint8 *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (data[i] != '\0' && !g_ascii_isspace(data[i]))
      return FALSE;
  return TRUE;
}

/* TRUE if @data is one DER SEQUENCE whose length fits (indefinite length,
 * as BER PKCS#7 from some tools has, counts). */
static gboolean
looks_like_der(const guint8 *data, gsize len)
{
  const unsigned char *p = data;
  long content_len = 0;
  int tag = 0, xclass = 0, ret;

  if (len < 2 || data[0] != 0x30 || len > G_MAXLONG)
    return FALSE;
  ret = ASN1_get_object(&p, &content_len, &tag, &xclass, (long)len);
  ERR_clear_error();
  if (ret & 0x80)
    return FALSE;
  if (ret == 0x21)
    return TRUE;
  return (gsize)(p - data) + (gsize)content_len <= len;
}

/* PKCS#7 signed-data (.p7b/.p7c, DER or BER), or CMS signed-data that
 * PKCS#7's stricter syntax rejects. */
static Outcome
parse_pkcs7(const guint8 *data, gsize len, Found *found, GError **error)
{
  long der_len = (long)MIN(len, (gsize)G_MAXLONG);
  const unsigned char *p = data;
  g_autoptr(PKCS7) p7 = NULL;
  g_autoptr(CMS_ContentInfo) cms = NULL;
  STACK_OF(X509) * certs;
  gboolean ok;

  p7 = d2i_PKCS7(NULL, &p, der_len);
  ERR_clear_error();
  if (p7 != NULL)
    return add_pkcs7(found, p7, error) ? RECOGNIZED : DAMAGED;

  p = data;
  cms = d2i_CMS_ContentInfo(NULL, &p, der_len);
  ERR_clear_error();
  if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
    return NOT_RECOGNIZED;
  certs = CMS_get1_certs(cms);
  ERR_clear_error();
  if (certs == NULL || sk_X509_num(certs) <= 0) {
    sk_X509_pop_free(certs, X509_free);
    note_other(found, OTHER_PKCS7_EMPTY, NULL);
    return RECOGNIZED;
  }
  ok = add_cert_stack(found, certs, error);
  sk_X509_pop_free(certs, X509_free);
  return ok ? RECOGNIZED : DAMAGED;
}

/* Certificates in DER data that looks_like_der(), or what else it is.
 * @what says where the data came from for messages ("The file",
 * "The base64 data"). */
static Outcome
parse_der(const guint8 *data, gsize len, const char *what, Found *found, GError **error)
{
  const unsigned char *p = data;
  g_autofree char *x509_error = NULL;
  g_autoptr(X509) cert = NULL;
  long der_len = (long)MIN(len, (gsize)G_MAXLONG);
  Outcome outcome;

  /* X.509, possibly several concatenated. */
  cert = d2i_X509(NULL, &p, der_len);
  if (cert != NULL) {
    guint count = 1;

    if (!add_cert(found, g_steal_pointer(&cert), error))
      return DAMAGED;
    while (!is_padding(p, len - (gsize)(p - data))) {
      const unsigned char *next = p;

      cert = d2i_X509(NULL, &next, (long)(len - (gsize)(p - data)));
      if (cert == NULL) {
        g_autofree char *reason = signet_openssl_error_text();

        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                    "%s holds %u DER certificate(s) followed by %" G_GSIZE_FORMAT
                    " bytes that are not a certificate (%s): expected a complete "
                    "certificate file",
                    what, count, len - (gsize)(p - data), reason);
        return DAMAGED;
      }
      p = next;
      count++;
      if (!add_cert(found, g_steal_pointer(&cert), error))
        return DAMAGED;
    }
    return RECOGNIZED;
  }
  x509_error = signet_openssl_error_text();

  outcome = parse_pkcs7(data, len, found, error);
  if (outcome != NOT_RECOGNIZED)
    return outcome;

  /* Not certificates: say what it is. */
  {
    g_autoptr(X509_REQ) req = NULL;
    g_autoptr(PKCS12) p12 = NULL;
    g_autoptr(PKCS8_PRIV_KEY_INFO) p8 = NULL;
    g_autoptr(X509_SIG) p8_encrypted = NULL;
    g_autoptr(EVP_PKEY) key = NULL;
    g_autoptr(X509_CRL) crl = NULL;

    p = data;
    if ((req = d2i_X509_REQ(NULL, &p, der_len)) != NULL)
      note_other(found, OTHER_CSR, NULL);
    else if ((p = data, p12 = d2i_PKCS12(NULL, &p, der_len)) != NULL)
      note_other(found, OTHER_PKCS12, NULL);
    else if ((p = data, p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, der_len)) != NULL)
      note_other(found, OTHER_PRIVATE_KEY, NULL);
    else if ((p = data, p8_encrypted = d2i_X509_SIG(NULL, &p, der_len)) != NULL)
      note_other(found, OTHER_PRIVATE_KEY, NULL);
    else if ((p = data, key = d2i_AutoPrivateKey(NULL, &p, der_len)) != NULL)
      note_other(found, OTHER_PRIVATE_KEY, NULL);
    else if ((p = data, crl = d2i_X509_CRL(NULL, &p, der_len)) != NULL)
      note_other(found, OTHER_CRL, NULL);
    else if ((p = data, key = d2i_PUBKEY(NULL, &p, der_len)) != NULL)
      note_other(found, OTHER_PUBLIC_KEY, NULL);
    ERR_clear_error();
    if (found->other != OTHER_NONE)
      return RECOGNIZED;
  }

  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
              "Not a certificate: %s holds DER (binary ASN.1) data that is damaged or "
              "of another kind (%s); " EXPECTED,
              g_str_equal(what, "The file") ? "the file" : "the base64 data", x509_error);
  return DAMAGED;
}

static const guint8 *
find_bytes(const guint8 *data, gsize len, const char *needle)
{
  gsize n = strlen(needle);

  if (len < n)
    return NULL;
  for (gsize i = 0; i + n <= len; i++)
    if (data[i] == (guint8)needle[0] && memcmp(data + i, needle, n) == 0)
      return data + i;
  return NULL;
}

/* Where the "-----" that closes the BEGIN line at @line is, NULL if the line
 * has none after a name. */
static const guint8 *
begin_line_close(const guint8 *line, gsize len)
{
  const guint8 *end = memchr(line, '\n', len);
  gsize n = end != NULL ? (gsize)(end - line) : len;
  gsize skip = strlen("-----BEGIN ");
  const guint8 *close;

  if (n <= skip)
    return NULL;
  close = find_bytes(line + skip, n - skip, "-----");
  return close != NULL && close > line + skip ? close : NULL;
}

/* TRUE if the line at @line is a complete "-----BEGIN NAME-----" line (the
 * base64 may follow on the same line). */
static gboolean
begin_line_complete(const guint8 *line, gsize len)
{
  return begin_line_close(line, len) != NULL;
}

/* TRUE if the line at @line is "-----BEGIN NAME-----" and nothing else, as
 * OpenSSL's reader wants it (it skips any other line and would read the
 * next block in this one's place). */
static gboolean
begin_line_alone(const guint8 *line, gsize len)
{
  const guint8 *close = begin_line_close(line, len);
  const guint8 *end = memchr(line, '\n', len);
  gsize n = end != NULL ? (gsize)(end - line) : len;

  while (n > 0 && g_ascii_isspace(line[n - 1]))
    n--;
  return close != NULL && close + 5 == line + n;
}

static gboolean
name_is(const char *name, const char *const *names)
{
  for (; *names != NULL; names++)
    if (g_str_equal(name, *names))
      return TRUE;
  return FALSE;
}

static gboolean
pem_block_damaged(guint block, const char *name, const char *reason, GError **error)
{
  g_autofree char *quoted = name != NULL ? quote_from_file(name) : NULL;

  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
              "PEM block %u%s%s%s is damaged (%s): export the certificate again or ask your CA "
              "for a new copy",
              block, quoted != NULL ? " (" : "", quoted != NULL ? quoted : "",
              quoted != NULL ? ")" : "", reason);
  return FALSE;
}

/* One decoded PEM block. */
static gboolean
take_pem_block(Found *found, guint block, const char *name, const guint8 *body, long body_len,
               GError **error)
{
  static const char *const cert_names[] = { "CERTIFICATE", "X509 CERTIFICATE", NULL };
  static const char *const pkcs7_names[] = { "PKCS7", "PKCS #7 SIGNED DATA", "CMS", NULL };
  static const char *const csr_names[] = { "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", NULL };
  const unsigned char *p = body;

  if (name_is(name, cert_names) || g_str_equal(name, "TRUSTED CERTIFICATE")) {
    g_autoptr(X509) cert = NULL;

    if (g_str_equal(name, "TRUSTED CERTIFICATE"))
      cert = d2i_X509_AUX(NULL, &p, body_len);
    else
      cert = d2i_X509(NULL, &p, body_len);
    if (cert == NULL) {
      g_autofree char *reason = signet_openssl_error_text();

      /* PKCS#7 in CERTIFICATE armour: what Microsoft AD CS's web enrollment
       * saves as a "Base 64 encoded" certificate chain (.p7b). */
      if (!g_str_equal(name, "TRUSTED CERTIFICATE")) {
        GError *pkcs7_error = NULL;
        Outcome outcome = parse_pkcs7(body, (gsize)MAX(body_len, 0), found, &pkcs7_error);

        ERR_clear_error();
        if (outcome == RECOGNIZED)
          return TRUE;
        if (outcome == DAMAGED) {
          g_propagate_error(error, pkcs7_error);
          return FALSE;
        }
      }
      return pem_block_damaged(block, name, reason, error);
    }
    if (p != body + body_len)
      return pem_block_damaged(block, name, "extra data after the certificate", error);
    return add_cert(found, g_steal_pointer(&cert), error);
  }
  if (name_is(name, pkcs7_names)) {
    Outcome outcome = parse_pkcs7(body, (gsize)MAX(body_len, 0), found, error);

    if (outcome == NOT_RECOGNIZED) {
      g_autofree char *reason = NULL;

      /* Parse once more for OpenSSL's reason. */
      p = body;
      PKCS7_free(d2i_PKCS7(NULL, &p, body_len));
      reason = signet_openssl_error_text();
      return pem_block_damaged(block, name, reason, error);
    }
    return outcome != DAMAGED;
  }
  if (name_is(name, csr_names))
    note_other(found, OTHER_CSR, NULL);
  else if (g_str_has_suffix(name, "PRIVATE KEY"))
    note_other(found, OTHER_PRIVATE_KEY, NULL);
  else if (g_str_has_suffix(name, "PUBLIC KEY"))
    note_other(found, OTHER_PUBLIC_KEY, NULL);
  else if (g_str_equal(name, "X509 CRL"))
    note_other(found, OTHER_CRL, NULL);
  else if (g_str_equal(name, "PKCS12"))
    note_other(found, OTHER_PKCS12, NULL);
  else {
    g_autofree char *quoted = quote_from_file(name);

    note_other(found, OTHER_UNKNOWN_PEM, quoted);
  }
  return TRUE;
}

/* The block at @begin read forgiving whitespace only: anywhere in the body
 * (line breaks lost, turned into spaces, indented lines, blank lines, CR
 * line ends); the body must be base64 (no RFC 1421 headers) and the END
 * line must name the same type. Returns the length read, 0 if the block
 * is not that; the name and body are OpenSSL allocations, as from
 * PEM_read_bio(). */
static gsize
read_pem_lenient(const guint8 *begin, gsize avail, char **out_name, unsigned char **out_body,
                 long *out_len)
{
  const guint8 *name_start = begin + strlen("-----BEGIN ");
  const guint8 *close = begin_line_close(begin, avail);
  const guint8 *body_start, *end;
  g_autofree char *name = NULL;
  g_autofree char *end_line = NULL;
  g_autofree guint8 *text = NULL;
  unsigned char *body;
  gsize n = 0, padding = 0;
  int decoded;

  if (close == NULL || close - name_start > 80)
    return 0;
  for (const guint8 *p = name_start; p < close; p++)
    if (*p < 0x20 || *p > 0x7e)
      return 0;
  name = g_strndup((const char *)name_start, (gsize)(close - name_start));
  body_start = close + 5;
  end_line = g_strdup_printf("-----END %s-----", name);
  end = find_bytes(body_start, avail - (gsize)(body_start - begin), end_line);
  if (end == NULL)
    return 0;
  text = g_malloc((gsize)(end - body_start) + 1);
  for (const guint8 *p = body_start; p < end; p++) {
    if (g_ascii_isspace(*p))
      continue;
    if (*p == '=' && padding < 2 && n > 0)
      padding++;
    else if (!is_base64_char(*p) || padding > 0)
      return 0;
    text[n++] = *p;
  }
  if (n == 0 || n % 4 != 0 || n > G_MAXINT)
    return 0;
  body = OPENSSL_malloc(n / 4 * 3);
  if (body == NULL)
    return 0;
  decoded = EVP_DecodeBlock(body, text, (int)n);
  ERR_clear_error();
  if (decoded < 0 || (gsize)decoded < padding) {
    OPENSSL_clear_free(body, n / 4 * 3);
    return 0;
  }
  *out_name = OPENSSL_strdup(name);
  *out_body = body;
  *out_len = decoded - (int)padding;
  return (gsize)(end - begin) + strlen(end_line);
}

/* TRUE if only blanks (or a byte order mark) precede @off on its line. */
static gboolean
at_line_start(const guint8 *data, gsize off)
{
  while (off > 0 && data[off - 1] != '\n') {
    guint8 c = data[off - 1];

    if (!g_ascii_isspace(c) && c != 0xef && c != 0xbb && c != 0xbf)
      return FALSE;
    off--;
  }
  return TRUE;
}

/* TRUE if the "-----BEGIN " at @begin has no END line after it, or one on
 * the same line. */
static gboolean
prose_mention(const guint8 *begin, gsize avail)
{
  const guint8 *newline = memchr(begin, '\n', avail);
  const guint8 *end = find_bytes(begin, avail, "-----END ");

  return end == NULL || (newline != NULL && end < newline);
}

/* The body may be a private key: wipe it. */
static void
free_pem_block(char *name, char *header, unsigned char *body, long body_len)
{
  OPENSSL_clear_free(body, body_len > 0 ? (size_t)body_len : 0);
  OPENSSL_free(name);
  OPENSSL_free(header);
}

static Outcome
parse_pem(const guint8 *data, gsize len, Found *found, GError **error)
{
  gsize pos = 0;
  guint block = 0;
  const guint8 *begin;

  while ((begin = find_bytes(data + pos, len - pos, "-----BEGIN ")) != NULL) {
    gsize off = (gsize)(begin - data);
    g_autoptr(BIO) bio = NULL;
    g_autofree char *reason = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *body = NULL;
    long body_len = 0;
    GError *local_error = NULL;
    gsize consumed;

    block++;
    if (block > MAX_PEM_BLOCKS) {
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                  "The file holds more than %d PEM blocks: expected a certificate and its "
                  "chain, a few blocks at most",
                  MAX_PEM_BLOCKS);
      return DAMAGED;
    }
    /* PEM_read_bio() would skip a broken BEGIN line and read the next
     * block in its place. */
    if (!begin_line_complete(begin, len - off)) {
      pem_block_damaged(block, NULL, "its BEGIN line is incomplete", error);
      return DAMAGED;
    }
    if (begin_line_alone(begin, len - off)) {
      bio = BIO_new_mem_buf(begin, (int)(len - off));
      if (bio == NULL) {
        g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                            "Out of memory");
        return DAMAGED;
      }
      if (PEM_read_bio(bio, &name, &header, &body, &body_len)) {
        gboolean ok = take_pem_block(found, block, name, body, body_len, &local_error);

        consumed = (len - off) - (gsize)BIO_pending(bio);
        free_pem_block(name, header, body, body_len);
        if (ok) {
          pos = off + MAX(consumed, strlen("-----BEGIN "));
          continue;
        }
      } else
        reason = signet_openssl_error_text();
    }

    /* Once more, forgiving whitespace. */
    consumed = read_pem_lenient(begin, len - off, &name, &body, &body_len);
    if (consumed > 0) {
      GError *retry_error = NULL;
      gboolean ok = take_pem_block(found, block, name, body, body_len, &retry_error);

      free_pem_block(name, NULL, body, body_len);
      if (ok) {
        g_clear_error(&local_error);
        pos = off + consumed;
        continue;
      }
      /* The first reader's complaint, if it had one, is the one to show. */
      if (local_error == NULL)
        local_error = retry_error;
      else
        g_error_free(retry_error);
    }
    /* Prose that names the armour ("paste everything from -----BEGIN
     * CERTIFICATE----- to -----END CERTIFICATE-----") is text around the
     * blocks; a block spread over lines after other text is damaged. */
    if (!at_line_start(data, off) && prose_mention(begin, len - off)) {
      g_clear_error(&local_error);
      block--;
      pos = off + strlen("-----BEGIN ");
      continue;
    }
    if (local_error != NULL)
      g_propagate_error(error, local_error);
    else if (find_bytes(begin, len - off, "-----END ") == NULL)
      pem_block_damaged(block, NULL, "it has no END line: the file is cut short", error);
    else
      pem_block_damaged(block, NULL, reason != NULL ? reason : "no END line that matches", error);
    return DAMAGED;
  }
  return block > 0 ? RECOGNIZED : NOT_RECOGNIZED;
}

static gboolean
is_base64_char(guint8 c)
{
  return g_ascii_isalnum(c) || c == '+' || c == '/';
}

/* Base64 of DER without PEM armour, whitespace anywhere. */
static Outcome
parse_bare_base64(const guint8 *data, gsize len, Found *found, GError **error)
{
  g_autofree guint8 *text = g_malloc(len + 4);
  g_autofree guint8 *der = NULL;
  gsize n = 0, padding = 0;
  int decoded;
  Outcome outcome;

  if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
    data += 3, len -= 3;
  for (gsize i = 0; i < len; i++) {
    guint8 c = data[i];

    if (g_ascii_isspace(c))
      continue;
    if (c == '=' && padding < 2 && n > 0)
      padding++;
    else if (!is_base64_char(c) || padding > 0)
      return NOT_RECOGNIZED;
    text[n++] = c;
  }
  /* Accept missing padding. */
  if (padding == 0)
    while (n % 4 != 0 && n % 4 != 1)
      text[n++] = '=', padding++;
  if (n < 8 || n % 4 != 0 || n > G_MAXINT)
    return NOT_RECOGNIZED;

  der = g_malloc(n / 4 * 3);
  decoded = EVP_DecodeBlock(der, text, (int)n);
  ERR_clear_error();
  if (decoded < 0 || (gsize)decoded < padding)
    return NOT_RECOGNIZED;
  decoded -= (int)padding;
  if (!looks_like_der(der, (gsize)decoded))
    return NOT_RECOGNIZED;
  outcome = parse_der(der, (gsize)decoded, "The base64 data", found, error);
  OPENSSL_cleanse(der, n / 4 * 3);
  return outcome;
}

/* Text: UTF-8 without control characters other than line breaks and tabs. */
static gboolean
is_text(const guint8 *data, gsize len)
{
  if (!g_utf8_validate((const char *)data, (gssize)len, NULL))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (data[i] < 0x20 && !g_ascii_isspace(data[i]))
      return FALSE;
  return TRUE;
}

static Outcome
parse_any(const guint8 *data, gsize len, Found *found, GError **error)
{
  Outcome outcome;

  if (looks_like_der(data, len))
    return parse_der(data, len, "The file", found, error);
  outcome = parse_pem(data, len, found, error);
  if (outcome != NOT_RECOGNIZED)
    return outcome;
  if (data[0] == 0x30 && !is_text(data, len)) {
    const unsigned char *p = data;
    long content_len = 0;
    int tag = 0, xclass = 0;
    int ret = ASN1_get_object(&p, &content_len, &tag, &xclass, (long)MIN(len, G_MAXLONG));
    g_autofree char *reason = signet_openssl_error_text();
    gsize header_len = (gsize)(p - data);

    if ((ret & 0x80) && content_len >= 0 && header_len > 0 && (gsize)content_len > len - header_len)
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                  "The file looks like DER (binary) data but is cut short: it has %" G_GSIZE_FORMAT
                  " bytes, its header announces %" G_GSIZE_FORMAT
                  ": download or export the certificate again",
                  len, header_len + (gsize)content_len);
    else
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                  "The file looks like DER (binary) data but is truncated or damaged (%s): "
                  "expected a complete certificate or PKCS#7 (.p7b) file",
                  reason);
    return DAMAGED;
  }
  return parse_bare_base64(data, len, found, error);
}

static const char *
other_message(const Found *found, char **out_owned)
{
  switch (found->other) {
    case OTHER_PRIVATE_KEY:
      return "The file holds a private key, not a certificate: import the certificate your CA "
             "issued";
    case OTHER_PKCS12:
      return "The file is a PKCS#12 (.p12/.pfx) container, which holds a private key, not a "
             "certificate: import the certificate your CA issued (PEM, DER or .p7b)";
    case OTHER_CSR:
      return "The file is a certificate request (CSR), not a certificate: send it to your CA "
             "and import what it returns";
    case OTHER_CRL:
      return "The file holds a certificate revocation list (CRL), not a certificate: import "
             "the certificate your CA issued";
    case OTHER_PUBLIC_KEY:
      return "The file holds a public key, not a certificate: import the certificate your CA "
             "issued";
    case OTHER_PKCS7_EMPTY:
      return "The PKCS#7 data holds no certificate: ask your CA for the issued certificate "
             "(PEM, DER or a .p7b that contains it)";
    case OTHER_PKCS7_OTHER:
      *out_owned = g_strdup_printf("The file is PKCS#7 %s data, not a certificate bundle "
                                   "(signed-data): " EXPECTED,
                                   found->other_detail);
      return *out_owned;
    case OTHER_UNKNOWN_PEM:
      *out_owned = g_strdup_printf("The file holds a PEM block %s, not a certificate: " EXPECTED,
                                   found->other_detail);
      return *out_owned;
    case OTHER_NONE:
    default:
      return "Not a certificate: " EXPECTED;
  }
}

/* Text that some Windows editors save as UTF-16 (with a byte order mark),
 * as UTF-8; NULL if @data is not that. */
static char *
utf16_to_utf8(const guint8 *data, gsize len, gsize *out_len)
{
  gboolean le = data[0] == 0xff && data[1] == 0xfe;
  gsize n = (len - 2) / 2;
  g_autofree gunichar2 *units = NULL;
  glong written = 0;
  char *utf8;

  if (len < 4 || len % 2 != 0 || !(le || (data[0] == 0xfe && data[1] == 0xff)))
    return NULL;
  units = g_new(gunichar2, n);
  for (gsize i = 0; i < n; i++) {
    const guint8 *unit = data + 2 + 2 * i;

    units[i] = le ? (gunichar2)(unit[0] | unit[1] << 8) : (gunichar2)(unit[0] << 8 | unit[1]);
  }
  utf8 = g_utf16_to_utf8(units, (glong)n, NULL, &written, NULL);
  if (utf8 == NULL || written <= 0) {
    g_free(utf8);
    return NULL;
  }
  *out_len = (gsize)written;
  return utf8;
}

GPtrArray *
signet_certfile_parse(const guint8 *data, gsize len, GError **error)
{
  g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  Found found = { certs, OTHER_NONE, NULL };
  Outcome outcome;
  GError *local_error = NULL;
  g_autofree char *utf8 = NULL;
  gsize utf8_len = 0;

  g_return_val_if_fail(data != NULL || len == 0, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (len == 0 || is_padding(data, len)) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                        "The file is empty: expected a certificate (PEM, DER or PKCS#7 .p7b)");
    return NULL;
  }
  if (len > SIGNET_CERTFILE_MAX) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                "The file is too large (%" G_GSIZE_FORMAT
                " bytes) for a certificate file: expected at most %d bytes",
                len, SIGNET_CERTFILE_MAX);
    return NULL;
  }

  if (len >= 4 && data[0] >= 0xfe && data[1] >= 0xfe
      && (utf8 = utf16_to_utf8(data, len, &utf8_len)) != NULL) {
    data = (const guint8 *)utf8;
    len = utf8_len;
  }

  ERR_clear_error();
  outcome = parse_any(data, len, &found, &local_error);
  ERR_clear_error();
  if (outcome == DAMAGED) {
    g_free(found.other_detail);
    g_propagate_error(error, local_error);
    return NULL;
  }
  if (certs->len == 0) {
    g_autofree char *owned = NULL;
    const char *message;

    if (outcome == NOT_RECOGNIZED && is_text(data, len))
      message = "Not a certificate: the file is text without a PEM block "
                "(-----BEGIN CERTIFICATE-----); " EXPECTED;
    else
      message = other_message(&found, &owned);
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT, message);
    g_free(found.other_detail);
    return NULL;
  }
  g_free(found.other_detail);
  return g_steal_pointer(&certs);
}
