/* signet-subject.c: parsing a subject as a user types it. See
 * signet_subject_parse() in signet-x509.h.
 *
 * Two syntaxes, told apart by the first character:
 *   "CN=Jan Kowalski,O=Example\, Inc.,C=PL"   (RFC 4514 escapes)
 *   "/CN=Jan Kowalski/O=Example/C=PL"          (OpenSSL's -subj, '\/' escape)
 * In both, RDNs go into the name in the order written (the first written is
 * the first RDN, as `openssl req -subj` does), '+' joins attributes into one
 * multi-valued RDN, '\' escapes the next character ("\," "\+" "\=" "\\"
 * "\"" "\ " "\/") or two hex digits give a byte ("\C3\B3"), a value may be
 * in double quotes, and spaces around names and values are dropped.
 *
 * The input is untrusted (it may come over D-Bus from any client): lengths
 * and counts are bounded. Fuzzed by tests/fuzz/fuzz-subject.c.
 */
#include "config.h"

#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <string.h>

/* Longest subject accepted, in bytes; more attributes than any CA wants. */
#define SUBJECT_MAX    4096
#define ATTRIBUTES_MAX 64
/* Longest value for an attribute without an ASN.1 upper bound (e.g. an OID). */
#define VALUE_MAX 1024

#define ATTRIBUTE_HINT                                                                             \
  "use CN, O, OU, C, L, ST, street, serialNumber, emailAddress, givenName, surname, title, DC, "   \
  "UID, organizationIdentifier or a dotted OID"

/* Attribute types a subject may use, by OpenSSL's short and long names (any
 * case). */
static const int known_nids[] = {
  NID_commonName,
  NID_surname,
  NID_serialNumber,
  NID_countryName,
  NID_localityName,
  NID_stateOrProvinceName,
  NID_streetAddress,
  NID_organizationName,
  NID_organizationalUnitName,
  NID_title,
  NID_description,
  NID_businessCategory,
  NID_postalAddress,
  NID_postalCode,
  NID_postOfficeBox,
  NID_telephoneNumber,
  NID_name,
  NID_givenName,
  NID_initials,
  NID_generationQualifier,
  NID_dnQualifier,
  NID_pseudonym,
  NID_role,
  NID_organizationIdentifier,
  NID_domainComponent,
  NID_userId,
  NID_pkcs9_emailAddress,
  NID_pkcs9_unstructuredName,
  NID_jurisdictionLocalityName,
  NID_jurisdictionStateOrProvinceName,
  NID_jurisdictionCountryName,
};

char *
signet_subject_attribute_name(const ASN1_OBJECT *obj)
{
  int nid = OBJ_obj2nid(obj);
  char buf[128];

  for (gsize i = 0; i < G_N_ELEMENTS(known_nids); i++)
    if (known_nids[i] == nid)
      return g_strdup(OBJ_nid2sn(nid));
  if (OBJ_obj2txt(buf, sizeof buf, obj, 1) <= 0 || strlen(buf) >= sizeof buf - 1)
    return NULL;
  return g_strdup(buf);
}

/* Other spellings in common use (Windows' certutil, LDAP). */
static const struct
{
  const char *name;
  int nid;
} aliases[] = {
  { "E", NID_pkcs9_emailAddress },
  { "EMAIL", NID_pkcs9_emailAddress },
  { "S", NID_stateOrProvinceName },
  { "G", NID_givenName },
  { "T", NID_title },
};

typedef struct
{
  const char *text; /* the whole subject */
  gboolean slash;   /* OpenSSL syntax */
  const char *raw;  /* start of the part being parsed, for messages */
  gsize raw_len;
} Parser;

/* A part of the subject as written, quoted for a message. */
static char *
quote_part(const char *raw, gsize len)
{
  g_autofree char *part = g_strndup(raw, len);

  /* Nothing that a terminal would act on goes into a message. */
  for (char *c = part; *c != '\0'; c++)
    if ((guchar)*c < 0x20 || *c == 0x7f)
      *c = '?';
  g_strstrip(part);
  if (g_utf8_strlen(part, -1) > 60) {
    g_autofree char *cut = g_utf8_substring(part, 0, 60);

    return g_strdup_printf("'%s…'", cut);
  }
  return g_strdup_printf("'%s'", part);
}

/* Fails with @before, the part being parsed quoted, then @after. */
static gboolean
fail(const Parser *parser, GError **error, const char *before, const char *after)
{
  g_autofree char *quoted = quote_part(parser->raw, parser->raw_len);

  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT, "%s%s%s", before, quoted,
              after);
  return FALSE;
}

static gboolean
is_separator(const Parser *parser, char c)
{
  return c == '+' || (parser->slash ? c == '/' : c == ',');
}

/* Finds where the part starting at @p ends (an unescaped separator outside
 * quotes, or the end), for messages. */
static gsize
part_length(const Parser *parser, const char *p)
{
  const char *start = p;
  gboolean quoted = FALSE;

  for (; *p != '\0'; p++) {
    if (*p == '\\' && p[1] != '\0')
      p++;
    else if (*p == '"')
      quoted = !quoted;
    else if (!quoted && is_separator(parser, *p))
      break;
  }
  return (gsize)(p - start);
}

static ASN1_OBJECT *
lookup_attribute(const char *type)
{
  gboolean dotted = TRUE;
  gboolean has_dot = FALSE;

  for (const char *c = type; *c != '\0'; c++) {
    if (*c == '.')
      has_dot = TRUE;
    else if (!g_ascii_isdigit(*c))
      dotted = FALSE;
  }
  if (dotted && has_dot) {
    ASN1_OBJECT *obj = OBJ_txt2obj(type, 1);

    ERR_clear_error();
    return obj;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(aliases); i++)
    if (g_ascii_strcasecmp(type, aliases[i].name) == 0)
      return OBJ_nid2obj(aliases[i].nid);
  for (gsize i = 0; i < G_N_ELEMENTS(known_nids); i++) {
    const char *sn = OBJ_nid2sn(known_nids[i]);
    const char *ln = OBJ_nid2ln(known_nids[i]);

    if ((sn != NULL && g_ascii_strcasecmp(type, sn) == 0)
        || (ln != NULL && g_ascii_strcasecmp(type, ln) == 0))
      return OBJ_nid2obj(known_nids[i]);
  }
  return NULL;
}

/* Reads a value up to the next unescaped separator; @p points after '='. */
static gboolean
read_value(Parser *parser, const char **pp, GString *value, GError **error)
{
  const char *p = *pp;
  gsize keep = 0; /* length without trailing unescaped spaces */

  while (*p == ' ')
    p++;
  if (*p == '"') {
    for (p++; *p != '"'; p++) {
      if (*p == '\0')
        return fail(parser, error, "Missing closing '\"' in ", "");
      if (*p == '\\' && p[1] != '\0')
        p++;
      g_string_append_c(value, *p);
    }
    p++;
    while (*p == ' ')
      p++;
    if (*p != '\0' && !is_separator(parser, *p))
      return fail(parser, error, "Text after the closing '\"' in ", "");
    *pp = p;
    return TRUE;
  }
  while (*p != '\0' && !is_separator(parser, *p)) {
    if (*p == '\\') {
      int hi = g_ascii_xdigit_value(p[1]);
      int lo = hi >= 0 ? g_ascii_xdigit_value(p[2]) : -1;

      if (p[1] == '\0')
        return fail(parser, error, "", " ends with a lone '\\': write '\\\\' for a backslash");
      if (hi >= 0 && lo >= 0) {
        g_string_append_c(value, (char)(hi << 4 | lo));
        p += 3;
      } else {
        g_string_append_c(value, p[1]);
        p += 2;
      }
      keep = value->len;
      continue;
    }
    if (*p == '=')
      return fail(parser, error, "Unescaped '=' in the value of ",
                  parser->slash ? ": write '\\=' for a literal '='"
                                : ": separate attributes with ',' (or write '\\=' for a "
                                  "literal '=')");
    g_string_append_c(value, *p);
    if (*p != ' ')
      keep = value->len;
    p++;
  }
  g_string_truncate(value, keep);
  *pp = p;
  return TRUE;
}

static gboolean
check_value(Parser *parser, int nid, const char *type, GString *value, GError **error)
{
  const ASN1_STRING_TABLE *table = nid != NID_undef ? ASN1_STRING_TABLE_get(nid) : NULL;
  glong chars;
  glong max_chars = table != NULL && table->maxsize > 0 ? table->maxsize : VALUE_MAX;

  if (value->len == 0)
    return fail(parser, error, "Empty value in ", ": write ATTRIBUTE=VALUE");
  if (memchr(value->str, '\0', value->len) != NULL)
    return fail(parser, error, "", " contains a NUL character");
  if (!g_utf8_validate(value->str, (gssize)value->len, NULL))
    return fail(parser, error, "The value in ", " is not valid UTF-8");
  for (gsize i = 0; i < value->len; i++)
    if ((guchar)value->str[i] < 0x20 || value->str[i] == 0x7f)
      return fail(parser, error, "", " contains a control character");
  if (nid == NID_countryName || nid == NID_jurisdictionCountryName) {
    if (value->len != 2 || !g_ascii_isalpha(value->str[0]) || !g_ascii_isalpha(value->str[1]))
      return fail(parser, error, "", ": the country must be a two-letter ISO 3166 code, e.g. C=PL");
    value->str[0] = g_ascii_toupper(value->str[0]);
    value->str[1] = g_ascii_toupper(value->str[1]);
    return TRUE;
  }
  chars = g_utf8_strlen(value->str, (gssize)value->len);
  if (chars > max_chars) {
    g_autofree char *quoted = quote_part(parser->raw, parser->raw_len);

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT,
                "The value in %s is too long: %ld characters, at most %ld for %s", quoted, chars,
                max_chars, type);
    return FALSE;
  }
  if (table != NULL && table->minsize > 0 && chars < table->minsize) {
    g_autofree char *quoted = quote_part(parser->raw, parser->raw_len);

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT,
                "The value in %s is too short: %ld characters, at least %ld for %s", quoted, chars,
                table->minsize, type);
    return FALSE;
  }
  return TRUE;
}

/* One ATTRIBUTE=VALUE at *@pp, added to @name (to the previous RDN if
 * @join); *@pp is left at the separator after it or the end. */
static gboolean
parse_part(Parser *parser, const char **pp, X509_NAME *name, gboolean join, GError **error)
{
  g_autoptr(GString) value = g_string_new(NULL);
  g_autoptr(ASN1_OBJECT) obj = NULL;
  g_autofree char *type = NULL;
  const char *p = *pp;
  const char *type_start = p;
  int nid;

  parser->raw = p;
  parser->raw_len = part_length(parser, p);
  if (strspn(p, " ") >= parser->raw_len) {
    parser->raw = parser->text;
    parser->raw_len = strlen(parser->text);
    return fail(parser, error, "Empty part in ",
                parser->slash ? ": remove the extra '/' or '+'" : ": remove the extra ',' or '+'");
  }

  /* ATTRIBUTE */
  while (*p != '\0' && *p != '=' && !is_separator(parser, *p))
    p++;
  if (*p != '=')
    return fail(parser, error, "Missing '=' in ",
                ": write ATTRIBUTE=VALUE (escape a literal ',', '+' or '/' "
                "with '\\')");
  type = g_strstrip(g_strndup(type_start, (gsize)(p - type_start)));
  if (type[0] == '\0')
    return fail(parser, error, "Missing attribute name in ", ": write ATTRIBUTE=VALUE");
  obj = lookup_attribute(type);
  if (obj == NULL)
    return fail(parser, error, "Unknown attribute in ", ": " ATTRIBUTE_HINT);
  nid = OBJ_obj2nid(obj);

  /* =VALUE */
  p++;
  if (!read_value(parser, &p, value, error))
    return FALSE;
  if (!check_value(parser, nid, type, value, error))
    return FALSE;
  /* "/C=PL/O=Ex/CN=Jan" is in ASN.1 order, as openssl -subj writes it;
   * "CN=Jan,O=Ex,C=PL" is RFC 4514: its last RDN comes first in the
   * certificate, so it reads back exactly as it was written. */
  if (!X509_NAME_add_entry_by_OBJ(name, obj, MBSTRING_UTF8, (const unsigned char *)value->str,
                                  (int)value->len, parser->slash ? -1 : 0,
                                  join ? (parser->slash ? -1 : 1) : 0)) {
    const ASN1_STRING_TABLE *table = nid != NID_undef ? ASN1_STRING_TABLE_get(nid) : NULL;
    g_autofree char *reason = signet_openssl_error_text();
    g_autofree char *quoted = quote_part(parser->raw, parser->raw_len);
    const char *allowed = "";

    if (table != NULL && table->mask == B_ASN1_IA5STRING)
      allowed = ": it takes ASCII characters only";
    else if (table != NULL && table->mask == B_ASN1_PRINTABLESTRING)
      allowed = ": it takes only letters A-Z and a-z, digits, spaces and ' ( ) + , - . / : = ?";
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT,
                "The value in %s has characters %s does not allow (%s)%s", quoted, type, reason,
                allowed);
    return FALSE;
  }
  *pp = p;
  return TRUE;
}

X509_NAME *
signet_subject_parse(const char *subject, GError **error)
{
  g_autoptr(X509_NAME) name = NULL;
  Parser parser = { 0 };
  const char *p;
  guint count = 0;
  gboolean join = FALSE;

  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (subject == NULL)
    subject = "";
  parser.text = parser.raw = subject;
  p = subject;
  while (g_ascii_isspace(*p))
    p++;
  if (*p == '\0') {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT,
                        "The subject is empty: write e.g. \"CN=Jan Kowalski,O=Example,C=PL\"");
    return NULL;
  }
  if (strlen(subject) > SUBJECT_MAX) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT,
                "The subject is too long: %" G_GSIZE_FORMAT " bytes, at most %d", strlen(subject),
                SUBJECT_MAX);
    return NULL;
  }
  if (!g_utf8_validate(subject, -1, NULL)) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT,
                        "The subject is not valid UTF-8");
    return NULL;
  }
  if (*p == '/') {
    parser.slash = TRUE;
    p++;
  }

  name = X509_NAME_new();
  if (name == NULL) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED, "Out of memory");
    return NULL;
  }
  ERR_clear_error();
  for (;;) {
    if (++count > ATTRIBUTES_MAX) {
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT,
                  "The subject has more than %d attributes", ATTRIBUTES_MAX);
      return NULL;
    }
    if (!parse_part(&parser, &p, name, join, error))
      return NULL;
    if (*p == '\0')
      break;
    join = *p == '+';
    p++;
    /* "/CN=x/" or "CN=x," ends with a separator: nothing follows it. */
    while (*p == ' ')
      p++;
    if (*p == '\0' && !join)
      break;
  }
  return g_steal_pointer(&name);
}
