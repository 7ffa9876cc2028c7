/* signet-scep-fake.c: see signet-scep-fake.h. */
#include "config.h"

#include "tests/ca/signet-scep-fake.h"

#include "common/signet-openssl-util.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <string.h>
#include <unistd.h>

/* Longest HTTP request read (a pkiMessage with a 4096-bit request is far
 * smaller). */
#define MAX_REQUEST (1024 * 1024)

/* SCEP's attributes (RFC 8894 3.2.1). */
#define OID_MESSAGE_TYPE    "2.16.840.1.113733.1.9.2"
#define OID_PKI_STATUS      "2.16.840.1.113733.1.9.3"
#define OID_FAIL_INFO       "2.16.840.1.113733.1.9.4"
#define OID_SENDER_NONCE    "2.16.840.1.113733.1.9.5"
#define OID_RECIPIENT_NONCE "2.16.840.1.113733.1.9.6"
#define OID_TRANSACTION_ID  "2.16.840.1.113733.1.9.7"

/* pkiStatus and failInfo (RFC 8894 3.2.1.3, 3.2.1.4). */
#define STATUS_SUCCESS   "0"
#define STATUS_FAILURE   "2"
#define STATUS_PENDING   "3"
#define FAIL_BAD_REQUEST "2"
#define FAIL_BAD_TIME    "3"
#define FAIL_BAD_CERT_ID "4"

typedef struct
{
  X509_REQ *req;
  X509 *issued; /* once issued: the same certificate to every later poll */
} Pending;

struct SignetScepFake
{
  GMutex lock;
  X509 *ca;
  EVP_PKEY *ca_key;
  X509 *forger;
  EVP_PKEY *forger_key;
  SignetScepFakeMode mode;
  char *challenge;
  guint days;
  int log_fd;
  GHashTable *pending; /* transactionID → Pending */
  GHashTable *counts;  /* messageType → count (GUINT_TO_POINTER) */
};

static void
pending_free(gpointer data)
{
  Pending *p = data;

  X509_REQ_free(p->req);
  X509_free(p->issued);
  g_free(p);
}

SignetScepFake *
signet_scep_fake_new(X509 *ca, EVP_PKEY *ca_key)
{
  SignetScepFake *fake = g_new0(SignetScepFake, 1);

  g_mutex_init(&fake->lock);
  X509_up_ref(ca);
  EVP_PKEY_up_ref(ca_key);
  fake->ca = ca;
  fake->ca_key = ca_key;
  fake->mode = SIGNET_SCEP_FAKE_PENDING;
  fake->days = 365;
  fake->log_fd = -1;
  fake->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, pending_free);
  fake->counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  return fake;
}

void
signet_scep_fake_free(SignetScepFake *fake)
{
  if (fake == NULL)
    return;
  X509_free(fake->ca);
  EVP_PKEY_free(fake->ca_key);
  X509_free(fake->forger);
  EVP_PKEY_free(fake->forger_key);
  g_free(fake->challenge);
  g_hash_table_destroy(fake->pending);
  g_hash_table_destroy(fake->counts);
  g_mutex_clear(&fake->lock);
  g_free(fake);
}

void
signet_scep_fake_set_mode(SignetScepFake *fake, SignetScepFakeMode mode)
{
  g_mutex_lock(&fake->lock);
  fake->mode = mode;
  g_mutex_unlock(&fake->lock);
}

gboolean
signet_scep_fake_mode_parse(const char *text, SignetScepFakeMode *out_mode)
{
  static const struct
  {
    const char *name;
    SignetScepFakeMode mode;
  } modes[] = {
    { "pending", SIGNET_SCEP_FAKE_PENDING },   { "issue", SIGNET_SCEP_FAKE_ISSUE },
    { "bad-time", SIGNET_SCEP_FAKE_BAD_TIME }, { "wrong-nonce", SIGNET_SCEP_FAKE_WRONG_NONCE },
    { "forged", SIGNET_SCEP_FAKE_FORGED },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(modes); i++)
    if (g_strcmp0(text, modes[i].name) == 0) {
      *out_mode = modes[i].mode;
      return TRUE;
    }
  return FALSE;
}

void
signet_scep_fake_set_forger(SignetScepFake *fake, X509 *cert, EVP_PKEY *key)
{
  X509_up_ref(cert);
  EVP_PKEY_up_ref(key);
  g_mutex_lock(&fake->lock);
  X509_free(fake->forger);
  EVP_PKEY_free(fake->forger_key);
  fake->forger = cert;
  fake->forger_key = key;
  g_mutex_unlock(&fake->lock);
}

void
signet_scep_fake_set_challenge(SignetScepFake *fake, const char *challenge)
{
  g_mutex_lock(&fake->lock);
  g_free(fake->challenge);
  fake->challenge = g_strdup(challenge);
  g_mutex_unlock(&fake->lock);
}

void
signet_scep_fake_set_days(SignetScepFake *fake, guint days)
{
  g_mutex_lock(&fake->lock);
  fake->days = days;
  g_mutex_unlock(&fake->lock);
}

void
signet_scep_fake_set_log_fd(SignetScepFake *fake, int fd)
{
  g_mutex_lock(&fake->lock);
  fake->log_fd = fd;
  g_mutex_unlock(&fake->lock);
}

guint
signet_scep_fake_count(SignetScepFake *fake, const char *type)
{
  guint n;

  g_mutex_lock(&fake->lock);
  n = GPOINTER_TO_UINT(g_hash_table_lookup(fake->counts, type));
  g_mutex_unlock(&fake->lock);
  return n;
}

/* ---- the pkiMessage ------------------------------------------------------- */

static int
nid_of(const char *oid)
{
  int nid = OBJ_txt2nid(oid);

  return nid != NID_undef ? nid : OBJ_create(oid, NULL, NULL);
}

static gboolean
add_printable(PKCS7_SIGNER_INFO *si, const char *oid, const char *value)
{
  ASN1_STRING *s = ASN1_PRINTABLESTRING_new();

  if (s == NULL || ASN1_STRING_set(s, value, -1) != 1
      || PKCS7_add_signed_attribute(si, nid_of(oid), V_ASN1_PRINTABLESTRING, s) != 1) {
    ASN1_STRING_free(s);
    return FALSE;
  }
  return TRUE;
}

static gboolean
add_octets(PKCS7_SIGNER_INFO *si, const char *oid, const guint8 *data, int len)
{
  ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

  if (s == NULL || ASN1_OCTET_STRING_set(s, data, len) != 1
      || PKCS7_add_signed_attribute(si, nid_of(oid), V_ASN1_OCTET_STRING, s) != 1) {
    ASN1_OCTET_STRING_free(s);
    return FALSE;
  }
  return TRUE;
}

/* A signed attribute of @si that is a PrintableString, as text, or NULL. */
static char *
printable_attr(PKCS7_SIGNER_INFO *si, const char *oid)
{
  ASN1_TYPE *t = PKCS7_get_signed_attribute(si, nid_of(oid));

  if (t == NULL || t->type != V_ASN1_PRINTABLESTRING)
    return NULL;
  return g_strndup((const char *)ASN1_STRING_get0_data(t->value.printablestring),
                   (gsize)ASN1_STRING_length(t->value.printablestring));
}

static gboolean
fail(GError **error, const char *what)
{
  unsigned long e = ERR_get_error();
  char buf[256] = "";

  if (e != 0)
    ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  g_set_error(error, g_quark_from_static_string("signet-scep-fake"), 0, "%s%s%s", what,
              *buf ? ": " : "", buf);
  return FALSE;
}

static const char *
type_name(const char *type)
{
  if (g_strcmp0(type, "19") == 0)
    return "PKCSReq";
  if (g_strcmp0(type, "17") == 0)
    return "RenewalReq";
  if (g_strcmp0(type, "20") == 0)
    return "CertPoll";
  return "other";
}

/* The PKCS#10 request inside @req's pkcsPKIEnvelope (to the CA). */
static X509_REQ *
inner_request(SignetScepFake *fake, PKCS7 *req, GError **error)
{
  const unsigned char *q;
  ASN1_OCTET_STRING *inner;
  g_autoptr(PKCS7) env = NULL;
  g_autoptr(BIO) plain = BIO_new(BIO_s_mem());
  BUF_MEM *mem = NULL;
  X509_REQ *csr;

  if (req->d.sign->contents == NULL || !PKCS7_type_is_data(req->d.sign->contents)
      || (inner = req->d.sign->contents->d.data) == NULL) {
    fail(error, "the pkiMessage has no pkcsPKIEnvelope");
    return NULL;
  }
  q = ASN1_STRING_get0_data(inner);
  env = d2i_PKCS7(NULL, &q, ASN1_STRING_length(inner));
  if (env == NULL || plain == NULL || PKCS7_decrypt(env, fake->ca_key, fake->ca, plain, 0) != 1) {
    fail(error, "the pkcsPKIEnvelope could not be decrypted with the CA's key");
    return NULL;
  }
  BIO_get_mem_ptr(plain, &mem);
  q = (const unsigned char *)mem->data;
  csr = d2i_X509_REQ(NULL, &q, (long)mem->length);
  if (csr == NULL)
    fail(error, "the pkcsPKIEnvelope holds no PKCS#10 request");
  return csr;
}

/* Whether @csr's challengePassword is @want. */
static gboolean
challenge_is(X509_REQ *csr, const char *want)
{
  int i = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1);
  X509_ATTRIBUTE *attr = i >= 0 ? X509_REQ_get_attr(csr, i) : NULL;
  ASN1_TYPE *t = attr != NULL ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
  const ASN1_STRING *s;

  if (t == NULL || (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING))
    return FALSE;
  s = t->value.asn1_string;
  return (gsize)ASN1_STRING_length(s) == strlen(want)
         && memcmp(ASN1_STRING_get0_data(s), want, strlen(want)) == 0;
}

/* A certificate for @csr from the CA (a random serial, @days). */
static X509 *
issue(SignetScepFake *fake, X509_REQ *csr, GError **error)
{
  g_autoptr(X509) leaf = X509_new();
  g_autoptr(BIGNUM) serial = BN_new();

  if (leaf == NULL || serial == NULL
      || BN_rand(serial, 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1
      || BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(leaf)) == NULL
      || X509_set_version(leaf, 2) != 1
      || X509_set_subject_name(leaf, X509_REQ_get_subject_name(csr)) != 1
      || X509_set_issuer_name(leaf, X509_get_subject_name(fake->ca)) != 1
      || X509_gmtime_adj(X509_getm_notBefore(leaf), -60) == NULL
      || X509_time_adj_ex(X509_getm_notAfter(leaf), (int)fake->days, 0, NULL) == NULL
      || X509_set_pubkey(leaf, X509_REQ_get0_pubkey(csr)) != 1
      || X509_sign(leaf, fake->ca_key, EVP_sha256()) <= 0) {
    fail(error, "the certificate could not be made");
    return NULL;
  }
  return g_steal_pointer(&leaf);
}

/* @leaf in a certs-only PKCS#7, enveloped (AES-128) to @recipient (DER). */
static GBytes *
enveloped(X509 *leaf, X509 *recipient, GError **error)
{
  g_autoptr(PKCS7) certs = PKCS7_new();
  g_autoptr(PKCS7) env = NULL;
  g_autoptr(BIO) in = NULL;
  STACK_OF(X509) *to = sk_X509_new_null();
  unsigned char *der = NULL;
  int len;
  GBytes *out;

  if (certs == NULL || to == NULL || PKCS7_set_type(certs, NID_pkcs7_signed) != 1
      || PKCS7_content_new(certs, NID_pkcs7_data) != 1 || PKCS7_add_certificate(certs, leaf) != 1
      || (len = i2d_PKCS7(certs, &der)) <= 0 || (in = BIO_new_mem_buf(der, len)) == NULL
      || sk_X509_push(to, recipient) <= 0
      || (env = PKCS7_encrypt(to, in, EVP_aes_128_cbc(), PKCS7_BINARY)) == NULL) {
    sk_X509_free(to);
    OPENSSL_free(der);
    fail(error, "the certificate could not be enveloped to the requester");
    return NULL;
  }
  sk_X509_free(to);
  OPENSSL_free(der);
  der = NULL;
  len = i2d_PKCS7(env, &der);
  if (len <= 0) {
    fail(error, "the envelope could not be encoded");
    return NULL;
  }
  out = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  return out;
}

static void
log_line(SignetScepFake *fake, const char *line)
{
  gsize len = strlen(line);
  ssize_t n;

  if (fake->log_fd < 0)
    return;
  do
    n = write(fake->log_fd, line, len);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)len)
    g_printerr("signet-scep-fake: the log line could not be written: %s\n", g_strerror(errno));
}

/* Decides the answer (under the lock): status, failInfo and the content
 * (the enveloped certificate) for a message of @type in transaction @tid. */
static gboolean
decide(SignetScepFake *fake, PKCS7 *req, const char *type, const char *tid, X509 *requester,
       const char **out_status, const char **out_fail, GBytes **out_content, GError **error)
{
  gboolean request = g_str_equal(type, "19") || g_str_equal(type, "17");
  Pending *p;

  *out_status = STATUS_PENDING;
  *out_fail = NULL;
  *out_content = NULL;
  if (fake->mode == SIGNET_SCEP_FAKE_BAD_TIME) {
    *out_status = STATUS_FAILURE;
    *out_fail = FAIL_BAD_TIME;
    return TRUE;
  }
  if (request) {
    g_autoptr(X509_REQ) csr = inner_request(fake, req, error);

    if (csr == NULL)
      return FALSE;
    if (g_str_equal(type, "19") && fake->challenge != NULL && !challenge_is(csr, fake->challenge)) {
      *out_status = STATUS_FAILURE;
      *out_fail = FAIL_BAD_REQUEST;
      return TRUE;
    }
    p = g_new0(Pending, 1);
    p->req = g_steal_pointer(&csr);
    g_hash_table_replace(fake->pending, g_strdup(tid), p);
    if (fake->mode != SIGNET_SCEP_FAKE_ISSUE)
      return TRUE; /* PENDING, kept for the poll */
  } else if (g_str_equal(type, "20")) {
    p = g_hash_table_lookup(fake->pending, tid);
    if (p == NULL) {
      *out_status = STATUS_FAILURE;
      *out_fail = FAIL_BAD_CERT_ID;
      return TRUE;
    }
    if (fake->mode != SIGNET_SCEP_FAKE_PENDING && fake->mode != SIGNET_SCEP_FAKE_ISSUE)
      return TRUE;
  } else {
    *out_status = STATUS_FAILURE;
    *out_fail = FAIL_BAD_REQUEST;
    return TRUE;
  }
  if (p->issued == NULL && (p->issued = issue(fake, p->req, error)) == NULL)
    return FALSE;
  *out_content = enveloped(p->issued, requester, error);
  if (*out_content == NULL)
    return FALSE;
  *out_status = STATUS_SUCCESS;
  return TRUE;
}

static GBytes *
cert_rep_locked(SignetScepFake *fake, const guint8 *req_der, gsize req_len, char **out_said,
                GError **error)
{
  const unsigned char *p = req_der;
  g_autoptr(PKCS7) req = d2i_PKCS7(NULL, &p, (long)req_len);
  g_autoptr(PKCS7) rep = PKCS7_new();
  g_autoptr(GBytes) content = NULL;
  g_autoptr(BIO) data = NULL;
  g_autofree char *type = NULL;
  g_autofree char *tid = NULL;
  PKCS7_SIGNER_INFO *rsi, *si;
  ASN1_TYPE *nonce;
  X509 *requester, *signer;
  EVP_PKEY *signer_key;
  guint8 nonce_bytes[16] = { 0 };
  guint8 own_nonce[16] = { 0 };
  const char *status, *fail_info;
  unsigned char *der = NULL;
  int len;
  GBytes *out;

  if (req == NULL || !PKCS7_type_is_signed(req) || req->d.sign == NULL) {
    fail(error, "the body is not a signed PKCS#7 pkiMessage");
    return NULL;
  }
  rsi = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(req), 0);
  requester = sk_X509_value(req->d.sign->cert, 0);
  if (rsi == NULL || requester == NULL) {
    fail(error, "the pkiMessage has no signer or no signer certificate");
    return NULL;
  }
  type = printable_attr(rsi, OID_MESSAGE_TYPE);
  tid = printable_attr(rsi, OID_TRANSACTION_ID);
  nonce = PKCS7_get_signed_attribute(rsi, nid_of(OID_SENDER_NONCE));
  if (type == NULL || tid == NULL || nonce == NULL || nonce->type != V_ASN1_OCTET_STRING
      || ASN1_STRING_length(nonce->value.octet_string) != 16) {
    fail(error, "the pkiMessage lacks its messageType, transactionID or a 16-byte senderNonce");
    return NULL;
  }
  memcpy(nonce_bytes, ASN1_STRING_get0_data(nonce->value.octet_string), 16);
  if (fake->mode == SIGNET_SCEP_FAKE_WRONG_NONCE)
    nonce_bytes[0] ^= 0xff;
  g_hash_table_insert(
      fake->counts, g_strdup(type),
      GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(fake->counts, type)) + 1));
  if (!decide(fake, req, type, tid, requester, &status, &fail_info, &content, error))
    return NULL;
  if (RAND_bytes(own_nonce, sizeof own_nonce) != 1) {
    fail(error, "no senderNonce");
    return NULL;
  }

  signer = fake->ca;
  signer_key = fake->ca_key;
  if (fake->mode == SIGNET_SCEP_FAKE_FORGED) {
    if (fake->forger == NULL) {
      fail(error, "mode forged without a forger's certificate");
      return NULL;
    }
    signer = fake->forger;
    signer_key = fake->forger_key;
  }
  if (rep == NULL || PKCS7_set_type(rep, NID_pkcs7_signed) != 1
      || (si = PKCS7_add_signature(rep, signer, signer_key, EVP_sha256())) == NULL
      || PKCS7_add_certificate(rep, signer) != 1 || PKCS7_content_new(rep, NID_pkcs7_data) != 1
      || PKCS7_add_attrib_content_type(si, NULL) != 1 || !add_printable(si, OID_MESSAGE_TYPE, "3")
      || !add_printable(si, OID_PKI_STATUS, status)
      || (fail_info != NULL && !add_printable(si, OID_FAIL_INFO, fail_info))
      || !add_printable(si, OID_TRANSACTION_ID, tid)
      || !add_octets(si, OID_RECIPIENT_NONCE, nonce_bytes, 16)
      || !add_octets(si, OID_SENDER_NONCE, own_nonce, 16)
      || (data = PKCS7_dataInit(rep, NULL)) == NULL
      || (content != NULL
          && BIO_write(data, g_bytes_get_data(content, NULL), (int)g_bytes_get_size(content)) <= 0)
      || BIO_flush(data) <= 0 || PKCS7_dataFinal(rep, data) != 1
      || (len = i2d_PKCS7(rep, &der)) <= 0) {
    fail(error, "the CertRep could not be made");
    return NULL;
  }
  out = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  *out_said = g_strdup_printf("%s %s %s %s", type, type_name(type), tid,
                              g_str_equal(status, STATUS_SUCCESS)   ? "SUCCESS"
                              : g_str_equal(status, STATUS_PENDING) ? "PENDING"
                                                                    : "FAILURE");
  if (fail_info != NULL) {
    char *longer = g_strdup_printf("%s failInfo=%s", *out_said, fail_info);

    g_free(*out_said);
    *out_said = longer;
  }
  return out;
}

/* The CertRep, logged; @out_said: the log line without its newline. */
static GBytes *
cert_rep(SignetScepFake *fake, const guint8 *req, gsize req_len, char **out_said, GError **error)
{
  g_autofree char *said = NULL;
  GBytes *out;

  g_mutex_lock(&fake->lock);
  out = cert_rep_locked(fake, req, req_len, &said, error);
  if (out != NULL) {
    g_autofree char *line = g_strconcat(said, "\n", NULL);

    log_line(fake, line);
  }
  g_mutex_unlock(&fake->lock);
  if (out != NULL && out_said != NULL)
    *out_said = g_steal_pointer(&said);
  return out;
}

GBytes *
signet_scep_fake_cert_rep(SignetScepFake *fake, const guint8 *req, gsize req_len, GError **error)
{
  return cert_rep(fake, req, req_len, NULL, error);
}

/* ---- HTTP ------------------------------------------------------------------- */

static gboolean
write_all(int fd, const void *data, gsize len)
{
  const char *p = data;

  while (len > 0) {
    ssize_t n = write(fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    p += n;
    len -= (gsize)n;
  }
  return TRUE;
}

static gboolean
respond(int fd, int code, const char *type, GBytes *body)
{
  const char *reason = code == 200   ? "OK"
                       : code == 400 ? "Bad Request"
                       : code == 404 ? "Not Found"
                                     : "Internal Server Error";
  g_autofree char *head
      = g_strdup_printf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %" G_GSIZE_FORMAT
                        "\r\nConnection: close\r\n\r\n",
                        code, reason, type, g_bytes_get_size(body));

  return write_all(fd, head, strlen(head))
         && write_all(fd, g_bytes_get_data(body, NULL), g_bytes_get_size(body));
}

static gboolean
respond_text(int fd, int code, const char *text)
{
  g_autoptr(GBytes) body = g_bytes_new(text, strlen(text));

  respond(fd, code, "text/plain", body);
  return FALSE;
}

gboolean
signet_scep_fake_serve(SignetScepFake *fake, int fd, char **out_summary)
{
  g_autoptr(GString) in = g_string_new(NULL);
  char buf[16384];
  const char *end = NULL;
  gsize want = 0;
  g_autofree char *line = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *said = NULL;
  gboolean ok;

  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    g_string_append_len(in, buf, n);
    if (in->len > MAX_REQUEST)
      break;
    if (end == NULL && (end = strstr(in->str, "\r\n\r\n")) != NULL) {
      g_autofree char *head = g_ascii_strdown(in->str, end - in->str);
      const char *length = strstr(head, "\r\ncontent-length:");

      want = (gsize)(end + 4 - in->str)
             + (length != NULL ? g_ascii_strtoull(length + 17, NULL, 10) : 0);
    }
    if (end != NULL && in->len >= want)
      break;
  }
  if (end == NULL || in->len < want || in->len > MAX_REQUEST) {
    if (out_summary != NULL)
      *out_summary = g_strdup("(an incomplete or oversized request) 400");
    return respond_text(fd, 400, "incomplete or oversized HTTP request\n");
  }
  line = g_strndup(in->str, strcspn(in->str, "\r\n"));

  if (g_str_has_prefix(line, "GET ") && strstr(line, "operation=GetCACaps") != NULL) {
    static const char caps[] = "POSTPKIOperation\nAES\nSHA-256\nRenewal\n";

    body = g_bytes_new_static(caps, sizeof caps - 1);
    ok = respond(fd, 200, "text/plain", body);
    said = g_strdup("GetCACaps 200");
  } else if (g_str_has_prefix(line, "GET ") && strstr(line, "operation=GetCACert") != NULL) {
    unsigned char *der = NULL;
    int len;

    g_mutex_lock(&fake->lock);
    len = i2d_X509(fake->ca, &der);
    g_mutex_unlock(&fake->lock);
    if (len <= 0)
      return respond_text(fd, 500, "the CA certificate could not be encoded\n");
    body = g_bytes_new(der, (gsize)len);
    OPENSSL_free(der);
    ok = respond(fd, 200, "application/x-x509-ca-cert", body);
    said = g_strdup("GetCACert 200");
  } else if (g_str_has_prefix(line, "POST ") && strstr(line, "operation=PKIOperation") != NULL) {
    gsize off = (gsize)(end + 4 - in->str);
    g_autofree char *text = NULL;
    g_autofree char *message = NULL;

    body = cert_rep(fake, (const guint8 *)in->str + off, in->len - off, &message, &error);
    if (body == NULL) {
      g_printerr("signet-scep-fake: %s\n", error->message);
      text = g_strconcat(error->message, "\n", NULL);
      if (out_summary != NULL)
        *out_summary = g_strdup_printf("PKIOperation 500 (%s)", error->message);
      return respond_text(fd, 500, text);
    }
    ok = respond(fd, 200, "application/x-pki-message", body);
    said = g_strdup_printf("PKIOperation 200 %s", message);
  } else {
    if (out_summary != NULL)
      *out_summary = g_strdup_printf("%s 404", line);
    return respond_text(fd, 404, "not a SCEP operation of this CA\n");
  }
  if (out_summary != NULL)
    *out_summary = g_steal_pointer(&said);
  return ok;
}
