/* signet-scep-connector.c: SCEP (RFC 8894) as a connector
 * (signet-connector.h), on OpenSSL's PKCS#7 API, over signet-http.c.
 *
 * The profile's [scep] group:
 *   ca-identifier = NAME       the "message" of GetCACert and GetCACaps,
 *                              for a server that hosts several CAs
 *                              (RFC 8894 4.2, 4.5); default: none.
 *
 * The activation code is the request's challengePassword (RFC 8894
 * 3.3.1): subject_hint() asks the agent to put it in the PKCS#10 request,
 * which the agent signs on the token; the reference number is not sent
 * (a profile uses it in its subject template, ${reference}, if the CA
 * wants it). Enroll is a PKCSReq, signed with the request's key on the
 * token under a throwaway self-signed certificate; reenroll a RenewalReq
 * signed with the current certificate and its key on the token; a PENDING
 * answer is SIGNET_ANSWER_PENDING and poll a CertPoll (GetCertInitial)
 * with the same transactionID (derived from the request's public key, so
 * poll_state is NULL). The CA's answer is enveloped to the signer's key,
 * which the token decrypts (RSA PKCS#1 v1.5 through the EVP_PKEY): SCEP
 * needs an RSA key, and an EC profile is refused when the connector is
 * opened, before anything is sent or made. Algorithms: AES-128-CBC and
 * SHA-256 when GetCACaps offers them, else 3DES and SHA-1 (legacy, said in
 * the answer's message); an answer the CA enveloped with single DES (as
 * Debian's scepserver does) is decrypted in a library context of its own
 * with OpenSSL's legacy provider, never the process's default one.
 * docs/internals/scep.md.
 */
#include "config.h"

#include "common/signet-openssl-util.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-enroll-private.h"
#include "enroll/signet-http.h"
#include "enroll/signet-scep-private.h"
#include "enroll/signet-x509.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_CIPHER, EVP_CIPHER_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)

/* When to ask again about a PENDING request (SCEP gives no time). */
#define POLL_AFTER_SECONDS 300
/* senderNonce length (RFC 8894 3.2.1.5: 16 octets). */
#define NONCE_LEN 16
/* Longest piece of a CA's HTTP error text put in a message. */
#define CA_TEXT_MAX 200

/* SCEP messageType values (RFC 8894 3.2.1.2). */
#define MSG_CERTREP    "3"
#define MSG_RENEWALREQ "17"
#define MSG_PKCSREQ    "19"
#define MSG_CERTPOLL   "20"

/* GetCACaps keywords (RFC 8894 3.5.2). */
enum
{
  CAP_POST = 1 << 0,
  CAP_AES = 1 << 1,
  CAP_SHA256 = 1 << 2,
  CAP_SHA512 = 1 << 3,
  CAP_DES3 = 1 << 4,
  CAP_SHA1 = 1 << 5,
  CAP_RENEWAL = 1 << 6,
  CAP_STANDARD = 1 << 7, /* SCEPStandard: AES, SHA-256 and POST */
};

typedef struct
{
  const SignetProfile *profile;
  char *ca_identifier;
  gboolean caps_read;
  guint caps;
  GPtrArray *ca_certs; /* GetCACert's, checked against the trust anchors */
} ScepConnector;

static const char *const scep_keys[] = { "ca-identifier", NULL };

/* ---- the SCEP attributes (id-VeriSign 2.16.840.1.113733.1.9.x) ---------- */

static struct
{
  int message_type, pki_status, fail_info, sender_nonce, recipient_nonce, transaction_id;
} nids;

static int
nid_of(const char *oid, const char *name)
{
  int nid = OBJ_txt2nid(oid);

  return nid != NID_undef ? nid : OBJ_create(oid, name, name);
}

static void
register_attributes(void)
{
  static gsize once = 0;

  if (g_once_init_enter(&once)) {
    nids.message_type = nid_of("2.16.840.1.113733.1.9.2", "scep-messageType");
    nids.pki_status = nid_of("2.16.840.1.113733.1.9.3", "scep-pkiStatus");
    nids.fail_info = nid_of("2.16.840.1.113733.1.9.4", "scep-failInfo");
    nids.sender_nonce = nid_of("2.16.840.1.113733.1.9.5", "scep-senderNonce");
    nids.recipient_nonce = nid_of("2.16.840.1.113733.1.9.6", "scep-recipientNonce");
    nids.transaction_id = nid_of("2.16.840.1.113733.1.9.7", "scep-transactionID");
    g_once_init_leave(&once, 1);
  }
}

/* ---- reading answers (signet-scep-private.h) ------------------------------ */

void
signet_scep_reply_free(SignetScepReply *reply)
{
  if (reply == NULL)
    return;
  PKCS7_free(reply->p7);
  g_free(reply->transaction_id);
  g_clear_pointer(&reply->recipient_nonce, g_bytes_unref);
  g_clear_pointer(&reply->sender_nonce, g_bytes_unref);
  g_clear_pointer(&reply->enveloped, g_bytes_unref);
  g_free(reply);
}

/* A PrintableString attribute's value, printable ASCII, or NULL. */
static char *
printable_attr(PKCS7_SIGNER_INFO *si, int nid)
{
  ASN1_TYPE *t = PKCS7_get_signed_attribute(si, nid);
  const unsigned char *data;
  int len;

  if (t == NULL || t->type != V_ASN1_PRINTABLESTRING)
    return NULL;
  data = ASN1_STRING_get0_data(t->value.printablestring);
  len = ASN1_STRING_length(t->value.printablestring);
  if (len <= 0 || len > SIGNET_SCEP_ATTR_MAX)
    return NULL;
  for (int i = 0; i < len; i++)
    if (data[i] < 0x20 || data[i] > 0x7e)
      return NULL;
  return g_strndup((const char *)data, (gsize)len);
}

/* An OCTET STRING attribute's value, or NULL. */
static GBytes *
octets_attr(PKCS7_SIGNER_INFO *si, int nid)
{
  ASN1_TYPE *t = PKCS7_get_signed_attribute(si, nid);
  int len;

  if (t == NULL || t->type != V_ASN1_OCTET_STRING)
    return NULL;
  len = ASN1_STRING_length(t->value.octet_string);
  if (len <= 0 || len > SIGNET_SCEP_ATTR_MAX)
    return NULL;
  return g_bytes_new(ASN1_STRING_get0_data(t->value.octet_string), (gsize)len);
}

static gboolean
bad_response(GError **error, const char *what)
{
  g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
              "The CA's SCEP answer is not valid (%s): nothing was changed on the token; try "
              "again later or contact your CA",
              what);
  return FALSE;
}

static PKCS7 *
read_pkcs7(const guint8 *der, gsize len)
{
  const unsigned char *p = der;
  PKCS7 *p7;

  if (der == NULL || len == 0 || len > SIGNET_HTTP_BODY_MAX)
    return NULL;
  p7 = d2i_PKCS7(NULL, &p, (long)len);
  if (p7 != NULL && p != der + len) {
    PKCS7_free(p7);
    p7 = NULL;
  }
  ERR_clear_error();
  return p7;
}

SignetScepReply *
signet_scep_reply_parse(const guint8 *der, gsize len, GError **error)
{
  g_autoptr(SignetScepReply) reply = g_new0(SignetScepReply, 1);
  STACK_OF(PKCS7_SIGNER_INFO) * infos;
  PKCS7_SIGNER_INFO *si;
  g_autofree char *type = NULL;
  g_autofree char *status = NULL;
  PKCS7 *inner;

  register_attributes();
  reply->p7 = read_pkcs7(der, len);
  if (reply->p7 == NULL || !PKCS7_type_is_signed(reply->p7) || reply->p7->d.sign == NULL) {
    bad_response(error, "not a PKCS#7 signedData");
    return NULL;
  }
  infos = PKCS7_get_signer_info(reply->p7);
  if (infos == NULL || sk_PKCS7_SIGNER_INFO_num(infos) != 1) {
    bad_response(error, "not exactly one signer");
    return NULL;
  }
  si = sk_PKCS7_SIGNER_INFO_value(infos, 0);
  type = printable_attr(si, nids.message_type);
  if (type == NULL || !g_str_equal(type, MSG_CERTREP)) {
    bad_response(error, "not a CertRep");
    return NULL;
  }
  status = printable_attr(si, nids.pki_status);
  if (status == NULL) {
    bad_response(error, "no pkiStatus");
    return NULL;
  }
  if (g_str_equal(status, "0"))
    reply->status = SIGNET_SCEP_STATUS_SUCCESS;
  else if (g_str_equal(status, "2"))
    reply->status = SIGNET_SCEP_STATUS_FAILURE;
  else if (g_str_equal(status, "3"))
    reply->status = SIGNET_SCEP_STATUS_PENDING;
  else {
    bad_response(error, "unknown pkiStatus");
    return NULL;
  }
  reply->transaction_id = printable_attr(si, nids.transaction_id);
  reply->recipient_nonce = octets_attr(si, nids.recipient_nonce);
  reply->sender_nonce = octets_attr(si, nids.sender_nonce);
  if (reply->transaction_id == NULL || reply->recipient_nonce == NULL) {
    bad_response(error, "no transactionID or recipientNonce");
    return NULL;
  }
  reply->fail_info = -1;
  if (reply->status == SIGNET_SCEP_STATUS_FAILURE) {
    g_autofree char *info = printable_attr(si, nids.fail_info);

    if (info != NULL && strlen(info) == 1 && info[0] >= '0' && info[0] <= '4')
      reply->fail_info = info[0] - '0';
  }
  if (reply->status == SIGNET_SCEP_STATUS_SUCCESS) {
    inner = reply->p7->d.sign->contents;
    if (inner == NULL || !PKCS7_type_is_data(inner) || inner->d.data == NULL
        || ASN1_STRING_length(inner->d.data) <= 0) {
      bad_response(error, "SUCCESS without content");
      return NULL;
    }
    reply->enveloped = g_bytes_new(ASN1_STRING_get0_data(inner->d.data),
                                   (gsize)ASN1_STRING_length(inner->d.data));
  }
  return g_steal_pointer(&reply);
}

GPtrArray *
signet_scep_certs_only_parse(const guint8 *der, gsize len, GError **error)
{
  g_autoptr(PKCS7) p7 = read_pkcs7(der, len);
  g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  STACK_OF(X509) * stack;

  if (p7 == NULL || !PKCS7_type_is_signed(p7) || p7->d.sign == NULL) {
    bad_response(error, "not a certs-only PKCS#7");
    return NULL;
  }
  stack = p7->d.sign->cert;
  for (int i = 0; stack != NULL && i < sk_X509_num(stack); i++) {
    X509 *cert = sk_X509_value(stack, i);

    X509_up_ref(cert);
    g_ptr_array_add(certs, cert);
  }
  if (certs->len == 0) {
    bad_response(error, "no certificate in the PKCS#7");
    return NULL;
  }
  return g_steal_pointer(&certs);
}

GPtrArray *
signet_scep_ca_certs_parse(const char *content_type, const guint8 *body, gsize len, GError **error)
{
  if (content_type != NULL
      && g_ascii_strncasecmp(content_type, "application/x-x509-ca-cert", 26) == 0 && body != NULL
      && len > 0 && len <= SIGNET_HTTP_BODY_MAX) {
    const unsigned char *p = body;
    X509 *cert = d2i_X509(NULL, &p, (long)len);

    if (cert != NULL && p == body + len) {
      GPtrArray *certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);

      g_ptr_array_add(certs, cert);
      return certs;
    }
    X509_free(cert);
    ERR_clear_error();
  }
  return signet_scep_certs_only_parse(body, len, error);
}

/* ---- the profile group ----------------------------------------------------- */

static gboolean
scep_check_settings(GHashTable *settings, SignetConnectorReport report, gpointer data)
{
  const char *id = g_hash_table_lookup(settings, "ca-identifier");

  if (id != NULL) {
    gsize len = strlen(id);

    for (gsize i = 0; i < len; i++)
      if ((guchar)id[i] < 0x20 || id[i] == 0x7f) {
        report("ca-identifier",
               "ca-identifier: no control characters; write it as your CA "
               "gives it",
               data);
        return FALSE;
      }
    if (len == 0 || len > 256) {
      report("ca-identifier", "ca-identifier: 1 to 256 characters", data);
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- the connector ------------------------------------------------------- */

static gpointer
scep_open(const SignetProfile *profile, GError **error)
{
  ScepConnector *self;

  if (profile->url == NULL || g_ascii_strncasecmp(profile->url, "https://", 8) != 0) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Profile '%s': a SCEP CA is reached over https only, and the URL is '%s': ask "
                "your CA for an https URL",
                profile->name, profile->url != NULL ? profile->url : "");
    return NULL;
  }
  /* Refused before anything is made or sent: SCEP envelopes its answer to
   * the requester's key, which must decrypt. */
  if (profile->key_type != NULL && g_ascii_strncasecmp(profile->key_type, "rsa", 3) != 0) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Profile '%s' asks for a %s key, and SCEP needs an RSA key (the CA encrypts "
                "its answer to the key, which must decrypt it): nothing was sent; ask your CA "
                "for a profile with key-type=rsa:2048 or larger",
                profile->name, profile->key_type);
    return NULL;
  }
  if (profile->trust_anchors != NULL
      && !g_file_test(profile->trust_anchors, G_FILE_TEST_IS_REGULAR)) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Profile '%s': the trust anchors '%s' cannot be read", profile->name,
                profile->trust_anchors);
    return NULL;
  }
  self = g_new0(ScepConnector, 1);
  self->profile = profile;
  if (profile->settings != NULL)
    self->ca_identifier = g_strdup(g_hash_table_lookup(profile->settings, "ca-identifier"));
  register_attributes();
  return self;
}

static void
scep_close(gpointer impl)
{
  ScepConnector *self = impl;

  g_clear_pointer(&self->ca_certs, g_ptr_array_unref);
  g_free(self->ca_identifier);
  g_free(self);
}

static const char *
ca_name(ScepConnector *self)
{
  return self->profile->display_name != NULL ? self->profile->display_name : "The CA";
}

/* One HTTP request: GET OPERATION (with @message, already base64 or the
 * CA identifier), or POST @body. */
static SignetHttpResponse *
scep_http(ScepConnector *self, const char *operation, const char *message, GBytes *body,
          GError **error)
{
  static const char *const headers[] = { "Content-Type: application/x-pki-message", NULL };
  const char *url = self->profile->url;
  g_autofree char *escaped = message != NULL ? g_uri_escape_string(message, NULL, FALSE) : NULL;
  g_autofree char *full = g_strdup_printf(
      "%s%coperation=%s%s%s", url, strchr(url, '?') != NULL ? '&' : '?', operation,
      escaped != NULL ? "&message=" : "", escaped != NULL ? escaped : "");
  SignetHttpRequest request = {
    .method = body != NULL ? "POST" : "GET",
    .url = full,
    .trust_anchors = self->profile->trust_anchors,
    .connect_timeout = self->profile->connect_timeout,
    .timeout = self->profile->timeout,
    .body = body,
    .headers = body != NULL ? headers : NULL,
  };

  g_debug("SCEP: %s %s", request.method, operation);
  return signet_http_request(&request, error);
}

/* The HTTP failure of an answer that is not what @what should be. */
static void
set_http_error(ScepConnector *self, const SignetHttpResponse *response, const char *what,
               GError **error)
{
  g_autofree char *host = signet_http_url_host(self->profile->url);
  gsize size = 0;
  const char *data = g_bytes_get_data(response->body, &size);
  g_autofree char *raw = data != NULL ? g_strndup(data, MIN(size, CA_TEXT_MAX * 4)) : NULL;
  g_autofree char *text = raw != NULL && *raw != '\0' && response->status != 200
                              ? signet_enroll_printable_text(raw, CA_TEXT_MAX)
                              : NULL;
  g_autofree char *says
      = text != NULL ? g_strdup_printf(" The CA says: \"%s\".", text) : g_strdup("");

  if (response->status >= 500)
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_UNAVAILABLE,
                "The CA's server %s is unavailable (HTTP %ld).%s Try again later",
                host != NULL ? host : self->profile->url, response->status, says);
  else
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The CA's server %s answered HTTP %ld (%s) without %s.%s Nothing was changed on "
                "the token; check the profile's URL, or contact your CA",
                host != NULL ? host : self->profile->url, response->status,
                response->content_type != NULL ? response->content_type : "no type", what, says);
}

/* GetCACaps, once per connector. A CA that does not answer it offers
 * nothing (RFC 8894 3.5.1), and gets the legacy algorithms. */
static gboolean
read_caps(ScepConnector *self, GError **error)
{
  g_autoptr(SignetHttpResponse) response = NULL;
  g_auto(GStrv) lines = NULL;
  gsize size = 0;
  const char *data;
  g_autofree char *text = NULL;

  if (self->caps_read)
    return TRUE;
  response = scep_http(self, "GetCACaps", self->ca_identifier, NULL, error);
  if (response == NULL)
    return FALSE;
  if (response->status >= 500) {
    set_http_error(self, response, "its capabilities", error);
    return FALSE;
  }
  self->caps_read = TRUE;
  if (response->status != 200)
    return TRUE;
  data = g_bytes_get_data(response->body, &size);
  text = g_strndup(data != NULL ? data : "", MIN(size, 4096));
  lines = g_strsplit_set(text, "\r\n", -1);
  for (char **l = lines; *l != NULL; l++) {
    static const struct
    {
      const char *word;
      guint cap;
    } words[] = {
      { "POSTPKIOperation", CAP_POST },
      { "AES", CAP_AES },
      { "SHA-256", CAP_SHA256 },
      { "SHA-512", CAP_SHA512 },
      { "DES3", CAP_DES3 },
      { "SHA-1", CAP_SHA1 },
      { "Renewal", CAP_RENEWAL },
      { "SCEPStandard", CAP_STANDARD },
    };

    g_strstrip(*l);
    for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
      if (g_ascii_strcasecmp(*l, words[i].word) == 0)
        self->caps |= words[i].cap;
  }
  if (self->caps & CAP_STANDARD)
    self->caps |= CAP_AES | CAP_SHA256 | CAP_POST;
  g_debug("SCEP: capabilities 0x%x", self->caps);
  return TRUE;
}

static gboolean
legacy_algorithms(ScepConnector *self)
{
  return !(self->caps & CAP_AES) || !(self->caps & (CAP_SHA256 | CAP_SHA512));
}

/* GetCACert's certificates must chain to the profile's ca-roots when it
 * names them (docs/internals/trust.md); without them, TLS verified with
 * the trust anchors vouches for what the server sends, as for EST's
 * /cacerts, and the agent pins the root of the first issued chain. */
static gboolean
check_ca_certs(ScepConnector *self, GPtrArray *certs, GError **error)
{
  g_autofree char *data = NULL;
  gsize size = 0;
  g_autoptr(GPtrArray) roots = NULL;
  g_autoptr(GError) local = NULL;

  if (self->profile->ca_roots == NULL)
    return TRUE;
  if (!g_file_get_contents(self->profile->ca_roots, &data, &size, NULL)
      || (roots = signet_certfile_parse((const guint8 *)data, size, &local)) == NULL) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Profile '%s': the CA roots '%s' cannot be read", self->profile->name,
                self->profile->ca_roots);
    return FALSE;
  }
  for (guint i = 0; i < certs->len; i++) {
    g_autoptr(GError) why = NULL;

    if (!signet_x509_verify_chain(g_ptr_array_index(certs, i), certs, roots, NULL, NULL, &why)) {
      g_autofree char *subject
          = signet_x509_name_to_string(X509_get_subject_name(g_ptr_array_index(certs, i)));

      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                  "The SCEP CA's certificate \"%s\" does not chain to the CA roots of profile "
                  "'%s' (%s): nothing was sent; ask your CA for an up-to-date profile",
                  subject != NULL ? subject : "?", self->profile->name, why->message);
      return FALSE;
    }
  }
  return TRUE;
}

/* GetCACert, once per connector. */
static gboolean
read_ca_certs(ScepConnector *self, GError **error)
{
  g_autoptr(SignetHttpResponse) response = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  gsize size = 0;
  const guint8 *data;

  if (self->ca_certs != NULL)
    return TRUE;
  response = scep_http(self, "GetCACert", self->ca_identifier, NULL, error);
  if (response == NULL)
    return FALSE;
  if (response->status != 200) {
    set_http_error(self, response, "its CA certificate", error);
    return FALSE;
  }
  data = g_bytes_get_data(response->body, &size);
  certs = signet_scep_ca_certs_parse(response->content_type, data, size, error);
  if (certs == NULL) {
    g_prefix_error(error, "GetCACert: ");
    return FALSE;
  }
  if (!check_ca_certs(self, certs, error))
    return FALSE;
  self->ca_certs = g_steal_pointer(&certs);
  return TRUE;
}

/* The certificate requests are encrypted to: an RA's (a certificate that
 * is not a CA's) when there is one, else the CA's (RFC 8894 2.2). */
static X509 *
recipient_cert(ScepConnector *self)
{
  for (guint i = 0; i < self->ca_certs->len; i++)
    if (X509_check_ca(g_ptr_array_index(self->ca_certs, i)) == 0)
      return g_ptr_array_index(self->ca_certs, i);
  for (guint i = 0; i < self->ca_certs->len; i++)
    if (X509_check_ca(g_ptr_array_index(self->ca_certs, i)) > 0)
      return g_ptr_array_index(self->ca_certs, i);
  return g_ptr_array_index(self->ca_certs, 0);
}

/* The issuing CA: the first CA certificate. */
static X509 *
issuer_cert(ScepConnector *self)
{
  for (guint i = 0; i < self->ca_certs->len; i++)
    if (X509_check_ca(g_ptr_array_index(self->ca_certs, i)) > 0)
      return g_ptr_array_index(self->ca_certs, i);
  return g_ptr_array_index(self->ca_certs, 0);
}

static GPtrArray *
scep_ca_certs(gpointer impl, GError **error)
{
  ScepConnector *self = impl;
  GPtrArray *certs;

  if (!read_ca_certs(self, error))
    return NULL;
  certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  for (guint i = 0; i < self->ca_certs->len; i++) {
    X509_up_ref(g_ptr_array_index(self->ca_certs, i));
    g_ptr_array_add(certs, g_ptr_array_index(self->ca_certs, i));
  }
  return certs;
}

/* No I/O: SCEP has no question for the CA; what it needs is always the
 * same. The activation code is the challengePassword. */
static SignetSubjectHint *
scep_subject_hint(gpointer impl, const SignetConnectorCode *code,
                  const SignetConnectorIdentity *identity, GError **error)
{
  SignetSubjectHint *hint = g_new0(SignetSubjectHint, 1);

  (void)impl;
  (void)identity;
  (void)error;
  hint->key_type = g_strdup("rsa");
  hint->challenge_password = code != NULL;
  hint->oids = g_new0(char *, 1);
  return hint;
}

/* ---- making a pkiMessage --------------------------------------------------- */

/* A throwaway self-signed certificate for @key (the request's public key,
 * @subject), signed on the token: a PKCSReq's signer (RFC 8894 2.3). */
static X509 *
self_signed(X509_NAME *subject, EVP_PKEY *pub, EVP_PKEY *key)
{
  g_autoptr(X509) cert = X509_new();
  g_autoptr(BIGNUM) bn = BN_new();
  g_autoptr(X509_NAME) fallback = NULL;

  if (subject == NULL || X509_NAME_entry_count(subject) == 0) {
    fallback = X509_NAME_new();
    if (fallback == NULL
        || !X509_NAME_add_entry_by_txt(fallback, "CN", MBSTRING_ASC,
                                       (const unsigned char *)"SCEP requester", -1, -1, 0))
      return NULL;
    subject = fallback;
  }
  if (cert == NULL || bn == NULL || !BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
      || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) || !X509_set_version(cert, 2)
      || !X509_set_subject_name(cert, subject) || !X509_set_issuer_name(cert, subject)
      || X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL
      || X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600) == NULL || !X509_set_pubkey(cert, pub)
      || X509_sign(cert, key, EVP_sha256()) <= 0)
    return NULL;
  return g_steal_pointer(&cert);
}

/* The transactionID: the hex SHA-256 of the request's public key (RFC
 * 8894 3.2.1.1), the same for its polls. */
static char *
transaction_id(EVP_PKEY *pub)
{
  unsigned char *der = NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  int len = i2d_PUBKEY(pub, &der);
  GString *out;

  if (len <= 0 || !EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL)) {
    OPENSSL_free(der);
    return NULL;
  }
  OPENSSL_free(der);
  out = g_string_new(NULL);
  for (unsigned int i = 0; i < md_len; i++)
    g_string_append_printf(out, "%02X", md[i]);
  return g_string_free(out, FALSE);
}

static gboolean
add_printable(PKCS7_SIGNER_INFO *si, int nid, const char *value)
{
  ASN1_STRING *s = ASN1_PRINTABLESTRING_new();

  if (s == NULL || !ASN1_STRING_set(s, value, -1)
      || !PKCS7_add_signed_attribute(si, nid, V_ASN1_PRINTABLESTRING, s)) {
    ASN1_STRING_free(s);
    return FALSE;
  }
  return TRUE;
}

/* signedData(envelopedData(@content)) with the SCEP attributes, signed
 * with @key (on the token) under @signer. */
static GBytes *
build_message(ScepConnector *self, const char *msg_type, const guint8 *content, gsize content_len,
              X509 *signer, EVP_PKEY *key, const char *tid, const guint8 *nonce, GError **error)
{
  const EVP_CIPHER *cipher = (self->caps & CAP_AES) ? EVP_aes_128_cbc() : EVP_des_ede3_cbc();
  const EVP_MD *md = (self->caps & CAP_SHA256)   ? EVP_sha256()
                     : (self->caps & CAP_SHA512) ? EVP_sha512()
                                                 : EVP_sha1();
  g_autoptr(BIO) in = BIO_new_mem_buf(content, (int)content_len);
  STACK_OF(X509) *recipients = sk_X509_new_null();
  g_autoptr(PKCS7) env = NULL;
  g_autoptr(PKCS7) p7 = NULL;
  g_autoptr(BIO) data = NULL;
  g_autoptr(ASN1_OCTET_STRING) nonce_string = ASN1_OCTET_STRING_new();
  PKCS7_SIGNER_INFO *si;
  unsigned char *env_der = NULL, *der = NULL;
  int env_len, len;
  GBytes *out;

  if (recipients != NULL && sk_X509_push(recipients, recipient_cert(self)) > 0 && in != NULL)
    env = PKCS7_encrypt(recipients, in, cipher, PKCS7_BINARY);
  sk_X509_free(recipients);
  if (env == NULL || (env_len = i2d_PKCS7(env, &env_der)) <= 0)
    goto fail;
  p7 = PKCS7_new();
  if (p7 == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed)
      || (si = PKCS7_add_signature(p7, signer, key, md)) == NULL
      || !PKCS7_add_certificate(p7, signer) || !PKCS7_content_new(p7, NID_pkcs7_data)
      || !PKCS7_add_attrib_content_type(si, NULL) || !add_printable(si, nids.message_type, msg_type)
      || !add_printable(si, nids.transaction_id, tid) || nonce_string == NULL
      || !ASN1_OCTET_STRING_set(nonce_string, nonce, NONCE_LEN)
      || !PKCS7_add_signed_attribute(si, nids.sender_nonce, V_ASN1_OCTET_STRING, nonce_string))
    goto fail;
  nonce_string = NULL; /* the attribute owns it */
  data = PKCS7_dataInit(p7, NULL);
  if (data == NULL || BIO_write(data, env_der, env_len) != env_len || BIO_flush(data) != 1
      || !PKCS7_dataFinal(p7, data) || (len = i2d_PKCS7(p7, &der)) <= 0)
    goto fail;
  OPENSSL_free(env_der);
  out = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  return out;

fail:
  OPENSSL_free(env_der);
  {
    g_autofree char *why = signet_openssl_error_text();

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                "The SCEP message could not be made or signed on the token (%s)", why);
  }
  return NULL;
}

/* ---- reading the CertRep ----------------------------------------------------- */

/* OpenSSL's legacy provider, in a library context of its own: only for
 * single DES, which some SCEP CAs (Debian's scepserver) still envelope
 * their answers with. NULL if the provider cannot be loaded. */
static OSSL_LIB_CTX *
legacy_ctx(void)
{
  static gsize once = 0;
  static OSSL_LIB_CTX *ctx;

  if (g_once_init_enter(&once)) {
    OSSL_LIB_CTX *c = OSSL_LIB_CTX_new();

    if (c != NULL
        && (OSSL_PROVIDER_load(c, "legacy") == NULL || OSSL_PROVIDER_load(c, "default") == NULL)) {
      OSSL_LIB_CTX_free(c);
      c = NULL;
    }
    ERR_clear_error();
    ctx = c;
    g_once_init_leave(&once, 1);
  }
  return ctx;
}

/* Decrypts a SUCCESS reply's envelopedData with @key (the token's, RSA
 * PKCS#1 v1.5) into the content. *@out_legacy: "3DES" or "DES" when the CA
 * used one of them, else untouched. */
static GBytes *
decrypt_envelope(GBytes *enveloped, X509 *signer, EVP_PKEY *key, const char **out_legacy,
                 GError **error)
{
  gsize size = 0;
  const guint8 *der = g_bytes_get_data(enveloped, &size);
  g_autoptr(PKCS7) p7 = read_pkcs7(der, size);
  STACK_OF(PKCS7_RECIP_INFO) * infos;
  PKCS7_RECIP_INFO *ri = NULL;
  PKCS7_ENC_CONTENT *ec;
  g_autoptr(EVP_PKEY_CTX) pctx = NULL;
  g_autoptr(EVP_CIPHER) cipher = NULL;
  g_autoptr(EVP_CIPHER_CTX) cctx = NULL;
  unsigned char iv[EVP_MAX_IV_LENGTH];
  unsigned char *cek = NULL;
  size_t cek_len = 0;
  unsigned char *plain = NULL;
  int plain_len = 0, final_len = 0, iv_len, nid;
  const char *name;
  OSSL_LIB_CTX *libctx = NULL;
  GBytes *out = NULL;

  if (p7 == NULL || !PKCS7_type_is_enveloped(p7) || p7->d.enveloped == NULL
      || p7->d.enveloped->enc_data == NULL || p7->d.enveloped->enc_data->enc_data == NULL
      || p7->d.enveloped->enc_data->algorithm == NULL) {
    bad_response(error, "the reply's content is not an envelopedData");
    return NULL;
  }
  infos = p7->d.enveloped->recipientinfo;
  for (int i = 0; infos != NULL && i < sk_PKCS7_RECIP_INFO_num(infos); i++) {
    PKCS7_RECIP_INFO *r = sk_PKCS7_RECIP_INFO_value(infos, i);

    if (r->issuer_and_serial != NULL
        && X509_NAME_cmp(r->issuer_and_serial->issuer, X509_get_issuer_name(signer)) == 0
        && ASN1_INTEGER_cmp(r->issuer_and_serial->serial, X509_get0_serialNumber(signer)) == 0)
      ri = r;
  }
  if (ri == NULL && infos != NULL && sk_PKCS7_RECIP_INFO_num(infos) == 1)
    ri = sk_PKCS7_RECIP_INFO_value(infos, 0);
  if (ri == NULL || ri->enc_key == NULL) {
    bad_response(error, "the reply is not encrypted to this request's key");
    return NULL;
  }
  ec = p7->d.enveloped->enc_data;
  nid = OBJ_obj2nid(ec->algorithm->algorithm);
  switch (nid) {
    case NID_aes_128_cbc:
      name = "AES-128-CBC";
      break;
    case NID_aes_192_cbc:
      name = "AES-192-CBC";
      break;
    case NID_aes_256_cbc:
      name = "AES-256-CBC";
      break;
    case NID_des_ede3_cbc:
      name = "DES-EDE3-CBC";
      *out_legacy = "3DES";
      break;
    case NID_des_cbc:
      name = "DES-CBC";
      *out_legacy = "DES";
      libctx = legacy_ctx();
      if (libctx == NULL) {
        g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                            "The CA encrypted its SCEP answer with single DES, which needs "
                            "OpenSSL's legacy provider, and it could not be loaded: ask your CA "
                            "to offer AES");
        return NULL;
      }
      break;
    default:
      bad_response(error, "the reply is encrypted with an algorithm Signet does not know");
      return NULL;
  }
  cipher = EVP_CIPHER_fetch(libctx, name, NULL);
  iv_len = cipher != NULL ? EVP_CIPHER_get_iv_length(cipher) : -1;
  if (cipher == NULL || iv_len <= 0 || iv_len > (int)sizeof iv
      || ASN1_TYPE_get_octetstring(ec->algorithm->parameter, iv, (int)sizeof iv) != iv_len) {
    ERR_clear_error();
    bad_response(error, "the reply's cipher or its IV cannot be used");
    return NULL;
  }
  pctx = EVP_PKEY_CTX_new(key, NULL);
  if (pctx == NULL || EVP_PKEY_decrypt_init(pctx) <= 0
      || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0
      || EVP_PKEY_decrypt(pctx, NULL, &cek_len, ASN1_STRING_get0_data(ri->enc_key),
                          (size_t)ASN1_STRING_length(ri->enc_key))
             <= 0) {
    g_autofree char *why = signet_openssl_error_text();

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                "The token could not decrypt the CA's SCEP answer (%s)", why);
    return NULL;
  }
  cek = OPENSSL_malloc(cek_len > 0 ? cek_len : 1);
  if (cek == NULL
      || EVP_PKEY_decrypt(pctx, cek, &cek_len, ASN1_STRING_get0_data(ri->enc_key),
                          (size_t)ASN1_STRING_length(ri->enc_key))
             <= 0
      || (int)cek_len != EVP_CIPHER_get_key_length(cipher)) {
    g_autofree char *why = signet_openssl_error_text();

    OPENSSL_clear_free(cek, cek_len);
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The CA's SCEP answer could not be decrypted with the token's key (%s): nothing "
                "was changed on the token; contact your CA",
                why);
    return NULL;
  }
  plain = g_malloc((gsize)ASN1_STRING_length(ec->enc_data) + EVP_MAX_BLOCK_LENGTH);
  cctx = EVP_CIPHER_CTX_new();
  if (cctx == NULL || !EVP_DecryptInit_ex2(cctx, cipher, cek, iv, NULL)
      || !EVP_DecryptUpdate(cctx, plain, &plain_len, ASN1_STRING_get0_data(ec->enc_data),
                            ASN1_STRING_length(ec->enc_data))
      || !EVP_DecryptFinal_ex(cctx, plain + plain_len, &final_len)) {
    ERR_clear_error();
    bad_response(error, "the reply's content does not decrypt");
  } else
    out = g_bytes_new(plain, (gsize)(plain_len + final_len));
  OPENSSL_clear_free(cek, cek_len);
  g_free(plain);
  g_debug("SCEP: answer enveloped with %s", name);
  return out;
}

/* The CA's failInfo in words (RFC 8894 3.2.1.4). */
static void
set_failure(ScepConnector *self, int info, gboolean renewal, GError **error)
{
  const char *ca = ca_name(self);

  g_debug("SCEP: FAILURE, failInfo %d", info);
  switch (info) {
    case 2: /* badRequest */
      if (!renewal)
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED,
                    "%s did not accept the request (SCEP failInfo badRequest): the activation "
                    "code (challenge password) is wrong, expired or already used, or the CA does "
                    "not allow this request. Type the code again as your CA sent it, or ask it "
                    "for a new one",
                    ca);
      else
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                    "%s refused the renewal (SCEP failInfo badRequest: it does not allow this "
                    "request, e.g. not yet, or not for this certificate). Contact your CA",
                    ca);
      break;
    case 0:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "%s refused the %s: it does not accept its algorithms (SCEP failInfo badAlg). "
                  "Contact your CA",
                  ca, renewal ? "renewal" : "request");
      break;
    case 1:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "%s refused the %s: it could not check its signature (SCEP failInfo "
                  "badMessageCheck). Contact your CA",
                  ca, renewal ? "renewal" : "request");
      break;
    case 3:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "%s refused the %s: its time is wrong (SCEP failInfo badTime). Check this "
                  "computer's date and time, then try again",
                  ca, renewal ? "renewal" : "request");
      break;
    case 4:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "%s refused the %s: it does not know the certificate it names (SCEP failInfo "
                  "badCertId). Contact your CA",
                  ca, renewal ? "renewal" : "request");
      break;
    default:
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                  "%s refused the %s (SCEP FAILURE, no reason given). Contact your CA", ca,
                  renewal ? "renewal" : "request");
  }
}

/* Checks @reply's signature against the CA's certificates (GetCACert, which
 * chain to the profile's anchors), its transactionID and recipientNonce. */
static gboolean
check_reply(ScepConnector *self, SignetScepReply *reply, const char *tid, const guint8 *nonce,
            GError **error)
{
  STACK_OF(X509) *certs = sk_X509_new_null();
  PKCS7 *inner = reply->p7->d.sign->contents;
  g_autoptr(BIO) empty = NULL;
  gsize nonce_len = 0;
  const guint8 *got = g_bytes_get_data(reply->recipient_nonce, &nonce_len);
  int ok;

  for (guint i = 0; certs != NULL && i < self->ca_certs->len; i++)
    (void)sk_X509_push(certs, g_ptr_array_index(self->ca_certs, i));
  /* A FAILURE or PENDING reply may carry no content. */
  if (inner == NULL || !PKCS7_type_is_data(inner) || inner->d.data == NULL)
    empty = BIO_new_mem_buf("", 0);
  ok = certs != NULL
       && PKCS7_verify(reply->p7, certs, NULL, empty, NULL,
                       PKCS7_NOINTERN | PKCS7_NOVERIFY | PKCS7_NOCHAIN)
              == 1;
  sk_X509_free(certs);
  if (!ok) {
    g_autofree char *why = signet_openssl_error_text();

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The SCEP answer is not signed by the CA's certificate (%s): nothing was "
                "changed on the token; contact your CA",
                why);
    return FALSE;
  }
  if (!g_str_equal(reply->transaction_id, tid) || nonce_len != NONCE_LEN
      || CRYPTO_memcmp(got, nonce, NONCE_LEN) != 0)
    return bad_response(error, "another transactionID, or a recipientNonce that is not ours");
  return TRUE;
}

/* The key of a PEM request, and the request. */
static X509_REQ *
read_csr(const char *csr_pem, GError **error)
{
  g_autoptr(BIO) bio = BIO_new_mem_buf(csr_pem, -1);
  X509_REQ *csr = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;

  if (csr == NULL || X509_REQ_get0_pubkey(csr) == NULL) {
    X509_REQ_free(csr);
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                        "The certificate request is not a PEM PKCS#10 request");
    return NULL;
  }
  if (EVP_PKEY_get_base_id(X509_REQ_get0_pubkey(csr)) != EVP_PKEY_RSA) {
    X509_REQ_free(csr);
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                        "SCEP needs an RSA key (the CA encrypts its answer to the key, which "
                        "must decrypt it), and the request's key is not one: nothing was sent; "
                        "use a profile with key-type=rsa:2048 or larger");
    return NULL;
  }
  return csr;
}

/* Adds @name to @legacy (const char *) unless it is there. */
static void
add_legacy(GPtrArray *legacy, const char *name)
{
  for (guint i = 0; i < legacy->len; i++)
    if (g_str_equal(g_ptr_array_index(legacy, i), name))
      return;
  g_ptr_array_add(legacy, (gpointer)name);
}

/* The legacy digest @reply was signed with ("SHA-1", "MD5"), or NULL. */
static const char *
reply_legacy_digest(SignetScepReply *reply)
{
  STACK_OF(PKCS7_SIGNER_INFO) *infos = PKCS7_get_signer_info(reply->p7);
  PKCS7_SIGNER_INFO *si = infos != NULL && sk_PKCS7_SIGNER_INFO_num(infos) > 0
                              ? sk_PKCS7_SIGNER_INFO_value(infos, 0)
                              : NULL;

  if (si == NULL || si->digest_alg == NULL)
    return NULL;
  switch (OBJ_obj2nid(si->digest_alg->algorithm)) {
    case NID_sha1:
      return "SHA-1";
    case NID_md5:
      return "MD5";
    default:
      return NULL;
  }
}

/* One SCEP transaction step: @msg_type with @content, signed with @key
 * under @signer, and the answer of it. */
static SignetAnswer *
exchange(ScepConnector *self, const char *msg_type, const guint8 *content, gsize content_len,
         X509 *signer, EVP_PKEY *key, EVP_PKEY *request_pub, gboolean renewal, GError **error)
{
  g_autofree char *tid = transaction_id(request_pub);
  guint8 nonce[NONCE_LEN];
  g_autoptr(GBytes) message = NULL;
  g_autoptr(SignetHttpResponse) response = NULL;
  g_autoptr(SignetScepReply) reply = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GPtrArray) issued = NULL;
  g_autoptr(GPtrArray) legacy = g_ptr_array_new(); /* const char *, what the CA forced */
  const char *reply_cipher = NULL;
  SignetAnswer *answer;
  gsize size = 0;
  const guint8 *data;

  if (tid == NULL || RAND_bytes(nonce, sizeof nonce) != 1) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "The SCEP transaction could not be set up (out of memory?)");
    return NULL;
  }
  message = build_message(self, msg_type, content, content_len, signer, key, tid, nonce, error);
  if (message == NULL)
    return NULL;
  if (self->caps & CAP_POST)
    response = scep_http(self, "PKIOperation", NULL, message, error);
  else {
    g_autofree char *b64
        = g_base64_encode(g_bytes_get_data(message, NULL), g_bytes_get_size(message));

    response = scep_http(self, "PKIOperation", b64, NULL, error);
  }
  if (response == NULL)
    return NULL;
  data = g_bytes_get_data(response->body, &size);
  if (response->status != 200 || response->content_type == NULL
      || g_ascii_strncasecmp(response->content_type, "application/x-pki-message", 25) != 0) {
    set_http_error(self, response, "a SCEP answer", error);
    return NULL;
  }
  reply = signet_scep_reply_parse(data, size, error);
  if (reply == NULL || !check_reply(self, reply, tid, nonce, error))
    return NULL;
  if (reply->status == SIGNET_SCEP_STATUS_FAILURE) {
    set_failure(self, reply->fail_info, renewal, error);
    return NULL;
  }
  answer = g_new0(SignetAnswer, 1);
  if (legacy_algorithms(self))
    answer->message = g_strdup("the CA offers only legacy SCEP algorithms (3DES, SHA-1): ask "
                               "it to offer AES and SHA-256");
  if (reply->status == SIGNET_SCEP_STATUS_PENDING) {
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();

    answer->status = SIGNET_ANSWER_PENDING;
    answer->retry_at = g_date_time_add_seconds(now, POLL_AFTER_SECONDS);
    g_debug("SCEP: PENDING, asking again in %d s", POLL_AFTER_SECONDS);
    return answer;
  }
  plain = decrypt_envelope(reply->enveloped, signer, key, &reply_cipher, error);
  if (plain != NULL)
    issued = signet_scep_certs_only_parse(g_bytes_get_data(plain, NULL), g_bytes_get_size(plain),
                                          error);
  if (issued == NULL) {
    signet_answer_free(answer);
    return NULL;
  }
  /* What was legacy both ways: our message (only when the CA offered
   * nothing better) and the CA's answer. */
  if (!(self->caps & CAP_AES))
    add_legacy(legacy, "3DES");
  if (!(self->caps & (CAP_SHA256 | CAP_SHA512)))
    add_legacy(legacy, "SHA-1");
  if (reply_cipher != NULL)
    add_legacy(legacy, reply_cipher);
  if (reply_legacy_digest(reply) != NULL)
    add_legacy(legacy, reply_legacy_digest(reply));
  if (legacy->len > 0) {
    g_ptr_array_add(legacy, NULL);
    answer->legacy_algorithms = g_strjoinv(", ", (char **)legacy->pdata);
  }
  if (answer->legacy_algorithms != NULL && answer->message == NULL)
    answer->message = g_strdup_printf("the CA used legacy algorithms (%s) for its answer: ask it "
                                      "to use AES and SHA-256",
                                      answer->legacy_algorithms);
  answer->status = SIGNET_ANSWER_ISSUED;
  answer->certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  /* The leaf (the request's key) first, then the rest and the CA's. */
  for (guint i = 0; i < issued->len; i++)
    if (EVP_PKEY_eq(X509_get0_pubkey(g_ptr_array_index(issued, i)), request_pub) == 1) {
      X509_up_ref(g_ptr_array_index(issued, i));
      g_ptr_array_add(answer->certs, g_ptr_array_index(issued, i));
    }
  ERR_clear_error();
  if (answer->certs->len == 0) {
    signet_answer_free(answer);
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                "%s answered SCEP SUCCESS without a certificate for the request's key: nothing "
                "was changed on the token; contact your CA",
                ca_name(self));
    return NULL;
  }
  for (guint i = 0; i < issued->len; i++)
    if (EVP_PKEY_eq(X509_get0_pubkey(g_ptr_array_index(issued, i)), request_pub) != 1) {
      X509_up_ref(g_ptr_array_index(issued, i));
      g_ptr_array_add(answer->certs, g_ptr_array_index(issued, i));
    }
  for (guint i = 0; i < self->ca_certs->len; i++) {
    X509_up_ref(g_ptr_array_index(self->ca_certs, i));
    g_ptr_array_add(answer->certs, g_ptr_array_index(self->ca_certs, i));
  }
  ERR_clear_error();
  return answer;
}

/* DER bytes wiped when freed: the request holds the challenge. */
typedef struct
{
  unsigned char *der;
  gsize len;
} Wiped;

static void
wiped_free(gpointer data)
{
  Wiped *w = data;

  OPENSSL_clear_free(w->der, w->len);
  g_free(w);
}

static GBytes *
csr_der(X509_REQ *csr)
{
  Wiped *w = g_new0(Wiped, 1);
  int len = i2d_X509_REQ(csr, &w->der);

  if (len <= 0) {
    g_free(w);
    return NULL;
  }
  w->len = (gsize)len;
  return g_bytes_new_with_free_func(w->der, w->len, wiped_free, w);
}

static gboolean
ready(ScepConnector *self, GError **error)
{
  return read_caps(self, error) && read_ca_certs(self, error);
}

/* PKCSReq (@renewal FALSE) or RenewalReq, or their CertPoll (@poll). */
static SignetAnswer *
request(ScepConnector *self, const char *csr_pem, EVP_PKEY *request_key,
        const SignetConnectorIdentity *identity, gboolean poll, GError **error)
{
  g_autoptr(X509_REQ) csr = read_csr(csr_pem, error);
  g_autoptr(X509) own = NULL;
  g_autoptr(GBytes) content = NULL;
  X509 *signer;
  EVP_PKEY *key;
  const char *type;

  if (csr == NULL)
    return NULL;
  if (identity != NULL
      && (identity->cert == NULL || identity->key == NULL
          || EVP_PKEY_get_base_id(identity->key) != EVP_PKEY_RSA)) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                        "A SCEP renewal is signed with the current certificate's key and the "
                        "CA encrypts its answer to that key, so it must be an RSA key, and it "
                        "is not: nothing was sent; activate a new RSA key instead");
    return NULL;
  }
  if (!ready(self, error))
    return NULL;
  if (identity != NULL) {
    signer = identity->cert;
    key = identity->key;
    type = MSG_RENEWALREQ;
    if (!(self->caps & CAP_RENEWAL))
      g_debug("SCEP: the CA does not say it offers Renewal; asking anyway");
  } else {
    if (request_key == NULL || EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), request_key) != 1) {
      ERR_clear_error();
      g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                          "SCEP signs the request with its own key, and the key on the token "
                          "was not given or is not the request's");
      return NULL;
    }
    own = self_signed(X509_REQ_get_subject_name(csr), X509_REQ_get0_pubkey(csr), request_key);
    if (own == NULL) {
      g_autofree char *why = signet_openssl_error_text();

      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                  "The SCEP signer certificate could not be signed on the token (%s)", why);
      return NULL;
    }
    signer = own;
    key = request_key;
    type = MSG_PKCSREQ;
  }
  if (poll) {
    /* IssuerAndSubject (RFC 8894 3.3.3): SEQUENCE { issuer, subject }. */
    unsigned char *a = NULL, *b = NULL;
    int la = i2d_X509_NAME(X509_get_subject_name(issuer_cert(self)), &a);
    int lb = i2d_X509_NAME(X509_REQ_get_subject_name(csr), &b);
    GByteArray *seq = g_byte_array_new();
    guint8 head[4] = { 0x30 };
    guint hlen;

    if (la <= 0 || lb <= 0 || la + lb > 0xffff) {
      OPENSSL_free(a);
      OPENSSL_free(b);
      g_byte_array_unref(seq);
      g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                          "The SCEP CertPoll could not be made");
      return NULL;
    }
    if (la + lb < 0x80) {
      head[1] = (guint8)(la + lb);
      hlen = 2;
    } else if (la + lb < 0x100) {
      head[1] = 0x81;
      head[2] = (guint8)(la + lb);
      hlen = 3;
    } else {
      head[1] = 0x82;
      head[2] = (guint8)((la + lb) >> 8);
      head[3] = (guint8)((la + lb) & 0xff);
      hlen = 4;
    }
    g_byte_array_append(seq, head, hlen);
    g_byte_array_append(seq, a, (guint)la);
    g_byte_array_append(seq, b, (guint)lb);
    OPENSSL_free(a);
    OPENSSL_free(b);
    content = g_byte_array_free_to_bytes(seq);
    type = MSG_CERTPOLL;
  } else
    content = csr_der(csr);
  if (content == NULL) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "The certificate request could not be encoded");
    return NULL;
  }
  return exchange(self, type, g_bytes_get_data(content, NULL), g_bytes_get_size(content), signer,
                  key, X509_REQ_get0_pubkey(csr), identity != NULL, error);
}

static SignetAnswer *
scep_enroll(gpointer impl, const SignetConnectorCode *code, const char *csr_pem,
            EVP_PKEY *request_key, GError **error)
{
  (void)code; /* its code is the request's challengePassword */
  return request(impl, csr_pem, request_key, NULL, FALSE, error);
}

static SignetAnswer *
scep_reenroll(gpointer impl, const SignetConnectorIdentity *identity, const char *csr_pem,
              EVP_PKEY *request_key, GError **error)
{
  (void)request_key; /* the answer is enveloped to the signer: the current key */
  return request(impl, csr_pem, NULL, identity, FALSE, error);
}

static SignetAnswer *
scep_poll(gpointer impl, const SignetConnectorPoll *poll, GError **error)
{
  if (!poll->renewal)
    return request(impl, poll->csr_pem, poll->request_key, NULL, TRUE, error);
  if (poll->identity == NULL) {
    /* REFUSED: the agent's background poll leaves it to the holder. */
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                        "a SCEP CA is asked about a pending renewal only in a message signed "
                        "with the current certificate's key on the token");
    return NULL;
  }
  return request(impl, poll->csr_pem, NULL, poll->identity, TRUE, error);
}

extern const SignetConnectorClass signet_scep_connector_class;
const SignetConnectorClass signet_scep_connector_class = {
  .name = "scep",
  .description = "SCEP (RFC 8894)",
  .keys = scep_keys,
  .check_settings = scep_check_settings,
  .open = scep_open,
  .close = scep_close,
  .ca_certs = scep_ca_certs,
  .subject_hint = scep_subject_hint,
  .enroll = scep_enroll,
  .reenroll = scep_reenroll,
  .poll = scep_poll,
  .key_decrypts = TRUE,
  .renewal_poll_needs_identity = TRUE,
  .uses_request_key = TRUE,
};
