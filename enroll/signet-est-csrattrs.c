/* signet-est-csrattrs.c: the body of an EST /csrattrs answer (RFC 7030
 * 4.5.2, base64 of a DER CsrAttrs) read into a SignetEstCsrAttrs. The
 * convention it reads: docs/internals/est.md ("The CsrAttrs convention").
 *
 * Owns: signet_est_csr_attrs_parse() (declared in signet-http.h, for tests
 * and the fuzz harness tests/fuzz/fuzz-csrattrs.c) and
 * signet_est_csr_attrs_free(). signet-est.c fetches the body.
 * May call: enroll/ (subjects), OpenSSL, GLib. No I/O.
 *
 * What it understands (RFC 7030 4.5.2 and RFC 9908, which clarifies it):
 * subject attributes (Signet's convention), the key type (id-ecPublicKey
 * with a curve, rsaEncryption with a size, or either bare), the signature
 * algorithm (its hash), challengePassword; everything else is listed as an
 * OID for the caller.
 *
 * The body is outside input from the CA's server: bounded everywhere
 * (CSRATTRS_*), every DER element required to use its whole input, and
 * OpenSSL's error queue left empty. Slack real servers send is taken: NUL
 * bytes and whitespace after the base64, CRLF line breaks.
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
  g_free(attrs->key_type);
  g_free(attrs->hash);
  g_strfreev(attrs->oids);
  g_free(attrs);
}

/* @what may quote the CA's values (a subject's): printable only, so that
 * a CA cannot put escapes (a C1 CSI, U+009B) in front of a holder. */
static gboolean
fail_csrattrs(GError **error, const char *what)
{
  g_autofree char *shown = signet_enroll_printable_text(what, 400);

  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
              "The CA's answer to /csrattrs is not what EST sends (%s): ask your CA, or set the "
              "subject in the profile",
              shown);
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

/* The key type: the first the CA names, or a more precise one of the same
 * algorithm after a bare algorithm ("ec" then "ec:p384"). */
static void
set_key_type(SignetEstCsrAttrs *attrs, const char *key_type)
{
  if (attrs->key_type != NULL
      && (strchr(attrs->key_type, ':') != NULL || !g_str_has_prefix(key_type, attrs->key_type)))
    return;
  g_free(attrs->key_type);
  attrs->key_type = g_strdup(key_type);
}

/* A bare OID Signet understands: TRUE when it went into @attrs. */
static gboolean
take_oid(SignetEstCsrAttrs *attrs, const ASN1_OBJECT *obj)
{
  int nid = OBJ_obj2nid(obj);
  int md_nid = NID_undef, pkey_nid = NID_undef;
  const char *hash;

  switch (nid) {
    case NID_undef:
      return FALSE;
    case NID_X9_62_id_ecPublicKey:
      set_key_type(attrs, "ec");
      return TRUE;
    case NID_rsaEncryption:
      set_key_type(attrs, "rsa");
      return TRUE;
    case NID_pkcs9_challengePassword:
      attrs->challenge_password = TRUE;
      return TRUE;
    default:
      break;
  }
  /* A signature algorithm (ECDSA or RSA PKCS#1 v1.5 with a hash): its hash,
   * by OpenSSL's name ("sha256"). The first one named counts. */
  if (!OBJ_find_sigid_algs(nid, &md_nid, &pkey_nid) || md_nid == NID_undef
      || (pkey_nid != NID_X9_62_id_ecPublicKey && pkey_nid != NID_rsaEncryption))
    return FALSE;
  hash = OBJ_nid2ln(md_nid);
  if (hash == NULL)
    return FALSE;
  if (attrs->hash == NULL)
    attrs->hash = g_ascii_strdown(hash, -1);
  return TRUE;
}

/* An Attribute (not a subject's) Signet understands: TRUE when it went
 * into @attrs. A key type Signet does not know (another curve, another RSA
 * size, a value of the wrong type) is not taken: its OID is listed. */
static gboolean
take_attribute(SignetEstCsrAttrs *attrs, X509_ATTRIBUTE *attr)
{
  int count = X509_ATTRIBUTE_count(attr);
  ASN1_TYPE *value = count == 1 ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
  int64_t bits = 0;

  switch (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr))) {
    case NID_pkcs9_challengePassword: /* whatever its value says */
      attrs->challenge_password = TRUE;
      return TRUE;
    case NID_X9_62_id_ecPublicKey: /* { namedCurve } */
      if (count == 0) {
        set_key_type(attrs, "ec");
        return TRUE;
      }
      if (value == NULL || value->type != V_ASN1_OBJECT)
        return FALSE;
      switch (OBJ_obj2nid(value->value.object)) {
        case NID_X9_62_prime256v1:
          set_key_type(attrs, "ec:p256");
          return TRUE;
        case NID_secp384r1:
          set_key_type(attrs, "ec:p384");
          return TRUE;
        default:
          return FALSE;
      }
    case NID_rsaEncryption: /* { INTEGER bits } */
      if (count == 0) {
        set_key_type(attrs, "rsa");
        return TRUE;
      }
      if (value == NULL || value->type != V_ASN1_INTEGER)
        return FALSE;
      if (!ASN1_INTEGER_get_int64(&bits, value->value.integer)) {
        ERR_clear_error();
        return FALSE;
      }
      if (bits != 2048 && bits != 3072 && bits != 4096)
        return FALSE;
      {
        g_autofree char *key_type = g_strdup_printf("rsa:%d", (int)bits);

        set_key_type(attrs, key_type);
      }
      return TRUE;
    default:
      return FALSE;
  }
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
  if (value == NULL || !signet_asn1_is_text_type(value->type))
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
  /* NUL bytes and whitespace after the base64: slack some servers send. */
  while (len > 0 && (body[len - 1] == '\0' || g_ascii_isspace(body[len - 1])))
    len--;
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
        if (!take_oid(attrs, item->value.object))
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
      if (!take_attribute(attrs, attr))
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
