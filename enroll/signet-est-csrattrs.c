/* signet-est-csrattrs.c: the body of an EST /csrattrs answer (RFC 7030
 * 4.5.2, base64 of a DER CsrAttrs) read into a SignetEstCsrAttrs. The
 * convention it reads: docs/internals/est.md ("The CsrAttrs convention").
 *
 * Owns: signet_est_csr_attrs_parse() (declared in signet-http.h, for tests
 * and the fuzz harness tests/fuzz/fuzz-csrattrs.c) and
 * signet_est_csr_attrs_free(). signet-est.c fetches the body.
 * May call: enroll/ (subjects), OpenSSL, GLib. No I/O.
 *
 * The body is outside input from the CA's server: bounded everywhere
 * (CSRATTRS_*), every DER element required to use its whole input, and
 * OpenSSL's error queue left empty.
 */
#include "config.h"

#include "enroll/signet-est.h"
#include "enroll/signet-http.h"
#include "enroll/signet-enroll-private.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <string.h>

/* CsrAttrs: base64 body, entries, bytes of one value. */
#define CSRATTRS_BODY_MAX    (64 * 1024)
#define CSRATTRS_ENTRIES_MAX 128
#define CSRATTRS_SUBJECT_MAX 64
#define CSRATTRS_VALUE_MAX   1024

void
signet_est_csr_attrs_free(SignetEstCsrAttrs *attrs)
{
  if (attrs == NULL)
    return;
  g_free(attrs->subject);
  g_strfreev(attrs->oids);
  g_free(attrs);
}

static gboolean
fail_csrattrs(GError **error, const char *what)
{
  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
              "The CA's answer to /csrattrs is not what EST sends (%s): ask your CA, or set the "
              "subject in the profile",
              what);
  return FALSE;
}

/* Attribute types that go into a subject: X.520's (2.5.4.*), and the name
 * attributes from elsewhere that subjects use. */
static gboolean
is_name_attribute(const ASN1_OBJECT *obj)
{
  static const unsigned char id_at[] = { 0x55, 0x04 }; /* 2.5.4 */
  int nid = OBJ_obj2nid(obj);
  size_t len = OBJ_length(obj);
  const unsigned char *data = OBJ_get0_data(obj);

  if (nid == NID_pkcs9_emailAddress || nid == NID_domainComponent || nid == NID_userId)
    return TRUE;
  return len > sizeof id_at && data != NULL && memcmp(data, id_at, sizeof id_at) == 0;
}

/* Appends @value with RFC 4514 escapes (and '=', which
 * signet_subject_parse() wants escaped too). */
static void
append_escaped(GString *out, const char *value)
{
  gsize len = strlen(value);

  for (gsize i = 0; i < len; i++) {
    char c = value[i];

    if (strchr(",+\"\\<>;=", c) != NULL || (i == 0 && (c == ' ' || c == '#'))
        || (i == len - 1 && c == ' '))
      g_string_append_c(out, '\\');
    g_string_append_c(out, c);
  }
}

static gboolean
is_string_type(int type)
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

static void
add_oid(GPtrArray *oids, const ASN1_OBJECT *obj)
{
  char buf[128];

  if (OBJ_obj2txt(buf, sizeof buf, obj, 1) <= 0 || strlen(buf) >= sizeof buf - 1)
    return;
  for (guint i = 0; i < oids->len; i++)
    if (g_str_equal(oids->pdata[i], buf))
      return;
  g_ptr_array_add(oids, g_strdup(buf));
}

/* One Attribute that names a subject RDN: added to @name and, escaped, to
 * @rdns. FALSE (not an error) if it is not one. */
static gboolean
add_subject_attribute(X509_ATTRIBUTE *attr, X509_NAME *name, GPtrArray *rdns, GError **error,
                      gboolean *failed)
{
  ASN1_OBJECT *obj = X509_ATTRIBUTE_get0_object(attr);
  ASN1_TYPE *value;
  g_autofree unsigned char *utf8 = NULL;
  g_autofree char *type_name = NULL;
  GString *rdn;
  int utf8_len;

  *failed = FALSE;
  if (!is_name_attribute(obj) || X509_ATTRIBUTE_count(attr) != 1)
    return FALSE;
  value = X509_ATTRIBUTE_get0_type(attr, 0);
  if (value == NULL || !is_string_type(value->type))
    return FALSE;
  type_name = signet_subject_attribute_name(obj);
  if (type_name == NULL)
    return FALSE;
  utf8_len = ASN1_STRING_to_UTF8(&utf8, value->value.asn1_string);
  if (utf8_len < 0) {
    ERR_clear_error();
    *failed = TRUE;
    return fail_csrattrs(error, "a subject attribute's value is not a valid string");
  }
  if (utf8_len == 0 || utf8_len > CSRATTRS_VALUE_MAX) {
    *failed = TRUE;
    return fail_csrattrs(error, "a subject attribute's value is empty or too long");
  }
  for (int i = 0; i < utf8_len; i++)
    if (utf8[i] < 0x20 || utf8[i] == 0x7f) {
      *failed = TRUE;
      return fail_csrattrs(error, "a subject attribute's value holds a control character");
    }
  if (!X509_NAME_add_entry_by_OBJ(name, obj, value->type, value->value.asn1_string->data,
                                  value->value.asn1_string->length, -1, 0)) {
    g_autofree char *reason = signet_openssl_error_text();
    g_autofree char *what = g_strdup_printf("the value of %s: %s", type_name, reason);

    *failed = TRUE;
    return fail_csrattrs(error, what);
  }
  rdn = g_string_new(type_name);
  g_string_append_c(rdn, '=');
  append_escaped(rdn, (const char *)utf8);
  g_ptr_array_add(rdns, g_string_free(rdn, FALSE));
  return TRUE;
}

SignetEstCsrAttrs *
signet_est_csr_attrs_parse(const guint8 *body, gsize len, GError **error)
{
  g_autoptr(GString) b64 = g_string_new(NULL);
  g_autofree guchar *der = NULL;
  gsize der_len = 0;
  const unsigned char *p;
  STACK_OF(ASN1_TYPE) *seq = NULL;
  g_autoptr(X509_NAME) name = X509_NAME_new();
  g_autoptr(GPtrArray) rdns = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) oids = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(SignetEstCsrAttrs) attrs = g_new0(SignetEstCsrAttrs, 1);
  gboolean ok = FALSE;

  g_return_val_if_fail(body != NULL || len == 0, NULL);

  if (len > CSRATTRS_BODY_MAX) {
    fail_csrattrs(error, "far too long");
    return NULL;
  }
  /* Base64 with any whitespace (RFC 7030 4.5.2: base64 of the DER). */
  for (gsize i = 0; i < len; i++) {
    guchar c = body[i];

    if (g_ascii_isspace(c))
      continue;
    if (!g_ascii_isalnum(c) && c != '+' && c != '/' && c != '=') {
      fail_csrattrs(error, "not base64");
      return NULL;
    }
    if (b64->len > 0 && b64->str[b64->len - 1] == '=' && c != '=') {
      fail_csrattrs(error, "base64 that goes on after its end");
      return NULL;
    }
    g_string_append_c(b64, (char)c);
  }
  if (b64->len % 4 != 0) {
    fail_csrattrs(error, "base64 of a wrong length");
    return NULL;
  }
  if (b64->len > 0) {
    der = g_base64_decode(b64->str, &der_len);
    if (der_len == 0) {
      fail_csrattrs(error, "not base64");
      return NULL;
    }
  }

  if (der_len > 0) {
    ERR_clear_error();
    p = der;
    seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)der_len);
    if (seq == NULL || p != der + der_len) {
      fail_csrattrs(error, seq == NULL ? "not a DER SEQUENCE" : "data after the SEQUENCE");
      goto out;
    }
    if (sk_ASN1_TYPE_num(seq) > CSRATTRS_ENTRIES_MAX) {
      fail_csrattrs(error, "too many entries");
      goto out;
    }
    for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
      ASN1_TYPE *item = sk_ASN1_TYPE_value(seq, i);
      g_autoptr(X509_ATTRIBUTE) attr = NULL;
      const unsigned char *q;
      gboolean failed = FALSE;

      if (item->type == V_ASN1_OBJECT) {
        add_oid(oids, item->value.object);
        continue;
      }
      if (item->type != V_ASN1_SEQUENCE) {
        fail_csrattrs(error, "an entry that is neither an OID nor an attribute");
        goto out;
      }
      /* An ASN1_TYPE SEQUENCE holds its whole DER encoding. */
      q = item->value.sequence->data;
      attr = d2i_X509_ATTRIBUTE(NULL, &q, item->value.sequence->length);
      if (attr == NULL || q != item->value.sequence->data + item->value.sequence->length) {
        fail_csrattrs(error, "an attribute that does not parse");
        goto out;
      }
      if (add_subject_attribute(attr, name, rdns, error, &failed)) {
        if (rdns->len > CSRATTRS_SUBJECT_MAX) {
          fail_csrattrs(error, "too many subject attributes");
          goto out;
        }
        continue;
      }
      if (failed)
        goto out;
      add_oid(oids, X509_ATTRIBUTE_get0_object(attr));
    }
  }

  if (rdns->len > 0) {
    /* RFC 4514 writes the last RDN first. */
    GString *subject = g_string_new(NULL);
    g_autoptr(X509_NAME) back = NULL;
    g_autoptr(GError) local = NULL;

    for (guint i = rdns->len; i > 0; i--) {
      if (subject->len > 0)
        g_string_append_c(subject, ',');
      g_string_append(subject, rdns->pdata[i - 1]);
    }
    attrs->subject = g_string_free(subject, FALSE);
    /* What we hand out must read back as the CA asked. */
    back = signet_subject_parse(attrs->subject, &local);
    if (back == NULL || X509_NAME_cmp(back, name) != 0) {
      g_autofree char *what
          = g_strdup_printf("a subject Signet cannot write back: %s",
                            local != NULL ? local->message : "it reads back differently");

      fail_csrattrs(error, what);
      goto out;
    }
  }
  g_ptr_array_add(oids, NULL);
  attrs->oids = (GStrv)g_ptr_array_free(g_steal_pointer(&oids), FALSE);
  ok = TRUE;

out:
  ERR_clear_error();
  sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
  return ok ? g_steal_pointer(&attrs) : NULL;
}
