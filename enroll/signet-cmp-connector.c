/* signet-cmp-connector.c: CMP (RFC 4210, lightweight profile RFC 9483) as
 * a connector (signet-connector.h), on OpenSSL 3.0's CMP client
 * (OSSL_CMP_CTX), over signet-http.c (RFC 6712: POST, application/pkixcmp).
 *
 * The profile's [cmp] group:
 *   recipient = CN=…           the CA's name in the messages' header
 *                              (RFC 4514 form); default: the NULL-DN,
 *                              which RFC 9483 3.1 allows with MAC
 *                              protection.
 *   implicit-confirm = no      yes: ask for implicit confirmation (no
 *                              certConf/pkiConf round); the CA decides.
 *
 * Enroll is an ir protected with a MAC (PasswordBasedMac, RFC 4210
 * 5.1.3.1) from the reference number (senderKID) and the activation code; reenroll a kur signed
 * with the current certificate's key. The certificate template comes from the agent's PKCS#10
 * request (subject, public key, extensions), the proof of possession is signed with the request's
 * key on the token (@request_key). A "waiting" answer (and the pollRep that follows it) is
 * SIGNET_ANSWER_PENDING at checkAfter; poll is a new transaction with the same request (OpenSSL 3.0
 * cannot resume a transaction in a new context: no public setter for the recipNonce, nor for the
 * waiting state), so poll_state is NULL. docs/internals/cmp.md.
 */
#include "config.h"

#include "common/signet-openssl-util.h"
#include "common/signet-secret.h"
#include "enroll/signet-cmp-private.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-enroll-private.h"
#include "enroll/signet-http.h"
#include "enroll/signet-x509.h"

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OSSL_CMP_CTX, OSSL_CMP_CTX_free)

/* Longest piece of the CA's text put in a message. */
#define CA_TEXT_MAX 200
/* A checkAfter is kept within a minute and thirty days. */
#define CHECK_AFTER_MIN 1
#define CHECK_AFTER_MAX (30 * 24 * 3600)

typedef struct
{
  const SignetProfile *profile;
  X509_NAME *recipient;
  gboolean implicit_confirm;
  /* What the last issued answer carried besides the leaf (extraCerts,
   * caPubs): part of ca_certs(). */
  GPtrArray *seen;
} CmpConnector;

/* One transaction's transfer state (the transfer callback's argument). */
typedef struct
{
  CmpConnector *self;
  SignetHttpConnections *connections;
  GError *error; /* the transport's failure, which OpenSSL cannot carry */
  /* Where the answers come from instead of the CA's server (fuzzing,
   * signet-cmp-private.h); NULL: over HTTP. */
  SignetCmpAnswerFunc answer_func;
  gpointer answer_data;
} Exchange;

static const char *const cmp_keys[] = { "recipient", "implicit-confirm", NULL };

static gboolean
parse_bool(const char *value, gboolean *out)
{
  if (g_ascii_strcasecmp(value, "yes") == 0 || g_ascii_strcasecmp(value, "true") == 0) {
    *out = TRUE;
    return TRUE;
  }
  if (g_ascii_strcasecmp(value, "no") == 0 || g_ascii_strcasecmp(value, "false") == 0) {
    *out = FALSE;
    return TRUE;
  }
  return FALSE;
}

static gboolean
cmp_check_settings(GHashTable *settings, SignetConnectorReport report, gpointer data)
{
  const char *recipient = g_hash_table_lookup(settings, "recipient");
  const char *implicit = g_hash_table_lookup(settings, "implicit-confirm");
  gboolean ok = TRUE, flag;

  if (recipient != NULL) {
    g_autoptr(GError) local = NULL;
    g_autoptr(X509_NAME) name = signet_subject_parse(recipient, &local);

    if (name == NULL) {
      g_autofree char *message = g_strdup_printf(
          "recipient: %s; write the CA's name as your CA gives it, e.g. recipient = CN=Example CA",
          local->message);

      report("recipient", message, data);
      ok = FALSE;
    }
  }
  if (implicit == NULL)
    g_hash_table_insert(settings, g_strdup("implicit-confirm"), g_strdup("no"));
  else if (!parse_bool(implicit, &flag)) {
    report("implicit-confirm", "implicit-confirm: yes or no", data);
    ok = FALSE;
  }
  return ok;
}

static gpointer
cmp_open(const SignetProfile *profile, GError **error)
{
  CmpConnector *self;
  const char *recipient = NULL, *implicit = NULL;
  g_autoptr(X509_NAME) name = NULL;

  if (profile->url == NULL || g_ascii_strncasecmp(profile->url, "https://", 8) != 0) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Profile '%s': a CMP CA is reached over https only, and the URL is '%s': ask "
                "your CA for an https URL",
                profile->name, profile->url != NULL ? profile->url : "");
    return NULL;
  }
  if (profile->trust_anchors != NULL
      && !g_file_test(profile->trust_anchors, G_FILE_TEST_IS_REGULAR)) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Profile '%s': the trust anchors '%s' cannot be read", profile->name,
                profile->trust_anchors);
    return NULL;
  }
  if (profile->settings != NULL) {
    recipient = g_hash_table_lookup(profile->settings, "recipient");
    implicit = g_hash_table_lookup(profile->settings, "implicit-confirm");
  }
  if (recipient != NULL && (name = signet_subject_parse(recipient, error)) == NULL)
    return NULL;
  self = g_new0(CmpConnector, 1);
  self->profile = profile;
  self->recipient = g_steal_pointer(&name);
  if (implicit != NULL)
    (void)parse_bool(implicit, &self->implicit_confirm);
  self->seen = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  return self;
}

static void
cmp_close(gpointer impl)
{
  CmpConnector *self = impl;

  X509_NAME_free(self->recipient);
  g_ptr_array_unref(self->seen);
  g_free(self);
}

/* Adds @cert (a new reference) to @certs unless it is there already. */
static void
add_cert(GPtrArray *certs, X509 *cert)
{
  for (guint i = 0; i < certs->len; i++)
    if (X509_cmp(g_ptr_array_index(certs, i), cert) == 0)
      return;
  X509_up_ref(cert);
  g_ptr_array_add(certs, cert);
}

/* CMP in OpenSSL 3.0 cannot ask for the CA certificates (no getCACerts
 * genm): the profile's trust anchors and what the last answer carried. */
static GPtrArray *
cmp_ca_certs(gpointer impl, GError **error)
{
  CmpConnector *self = impl;
  g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);

  if (self->profile->trust_anchors != NULL) {
    g_autoptr(BIO) bio = BIO_new_file(self->profile->trust_anchors, "r");
    X509 *cert;

    while (bio != NULL && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
      add_cert(certs, cert);
      X509_free(cert);
    }
    ERR_clear_error();
  }
  for (guint i = 0; i < self->seen->len; i++)
    add_cert(certs, g_ptr_array_index(self->seen, i));
  if (certs->len == 0) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Profile '%s': CMP cannot ask the CA for its certificates, and the profile "
                "names none (trust-anchors): ask your CA for a profile with its root",
                self->profile->name);
    return NULL;
  }
  return g_steal_pointer(&certs);
}

/* The CA's text, printable and bounded. */
static char *
printable(const char *text)
{
  return signet_enroll_printable_text(text, CA_TEXT_MAX);
}

/* ---- the transport ------------------------------------------------------- */

static OSSL_CMP_MSG *
on_transfer_cb(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
  Exchange *x = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
  const SignetProfile *profile = x->self->profile;
  static const char *const headers[]
      = { "Content-Type: application/pkixcmp", "Connection: keep-alive", NULL };
  unsigned char *der = NULL;
  int len;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(SignetHttpResponse) response = NULL;
  SignetHttpRequest request = {
    .method = "POST",
    .url = profile->url,
    .trust_anchors = profile->trust_anchors,
    .connect_timeout = profile->connect_timeout,
    .timeout = profile->timeout,
    .headers = headers,
    .connections = x->connections,
  };
  const unsigned char *p;
  gsize size;
  OSSL_CMP_MSG *rsp;

  if (x->error != NULL)
    return NULL;
  len = i2d_OSSL_CMP_MSG(req, &der);
  if (len <= 0) {
    g_set_error_literal(&x->error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "The CMP message could not be encoded");
    return NULL;
  }
  body = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  request.body = body;
  if (x->answer_func != NULL) {
    /* As if the server had sent these bytes, whatever they are. */
    response = g_new0(SignetHttpResponse, 1);
    response->status = 200;
    response->body = x->answer_func(req, x->answer_data);
    if (response->body == NULL)
      response->body = g_bytes_new(NULL, 0);
    response->content_type = g_strdup("application/pkixcmp");
    response->www_authenticate = g_new0(char *, 1);
  } else
    response = signet_http_request(&request, &x->error);
  if (response == NULL)
    return NULL;
  p = g_bytes_get_data(response->body, &size);
  rsp = size > 0 && size <= G_MAXLONG ? d2i_OSSL_CMP_MSG(NULL, &p, (long)size) : NULL;
  if (rsp != NULL && p == (const unsigned char *)g_bytes_get_data(response->body, NULL) + size) {
    /* A PKIMessage whatever the HTTP status (RFC 6712 3.3: an error
     * message may come with 4xx/5xx): its PKIStatusInfo says more. */
    g_debug("CMP: HTTP %ld, %" G_GSIZE_FORMAT " bytes", response->status, size);
    return rsp;
  }
  OSSL_CMP_MSG_free(rsp);
  ERR_clear_error();
  {
    g_autofree char *host = signet_http_url_host(profile->url);

    if (response->status >= 500)
      g_set_error(&x->error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_UNAVAILABLE,
                  "The CA's server %s is unavailable (HTTP %ld): try again later",
                  host != NULL ? host : profile->url, response->status);
    else if (response->status != 200)
      g_set_error(&x->error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                  "The CA's server %s answered HTTP %ld without a CMP message: check the "
                  "profile's URL, or contact your CA",
                  host != NULL ? host : profile->url, response->status);
    else
      g_set_error(&x->error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                  "The CA's server %s answered with something that is not a CMP message (%s, "
                  "%" G_GSIZE_FORMAT " bytes): nothing was changed on the token; contact your CA",
                  host != NULL ? host : profile->url,
                  response->content_type != NULL ? response->content_type : "no type", size);
  }
  return NULL;
}

/* OpenSSL's CMP log, to debug (it never holds the secret). */
static int
on_log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level, const char *msg)
{
  (void)file;
  (void)line;
  g_debug("CMP %s (%d): %s", func != NULL ? func : "", (int)level, msg);
  return 1;
}

/* ---- one transaction ----------------------------------------------------- */

static OSSL_CMP_CTX *
new_ctx(CmpConnector *self, Exchange *x, const char *csr_pem, EVP_PKEY *request_key, GError **error)
{
  g_autoptr(OSSL_CMP_CTX) ctx = OSSL_CMP_CTX_new(NULL, NULL);
  g_autoptr(BIO) bio = BIO_new_mem_buf(csr_pem, -1);
  g_autoptr(X509_REQ) csr = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;

  if (csr == NULL) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                        "The certificate request is not a PEM PKCS#10 request");
    return NULL;
  }
  if (request_key == NULL || EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), request_key) != 1) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "CMP proves possession of the request's key by signing with it, and "
                        "the key on the token was not given or is not the request's");
    return NULL;
  }
  if (ctx == NULL || !OSSL_CMP_CTX_set_log_cb(ctx, on_log_cb)
      || !OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_DEBUG)
      || !OSSL_CMP_CTX_set_transfer_cb(ctx, on_transfer_cb)
      || !OSSL_CMP_CTX_set_transfer_cb_arg(ctx, x) || !OSSL_CMP_CTX_set1_p10CSR(ctx, csr)
      || !EVP_PKEY_up_ref(request_key)) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "The CMP client could not be set up (out of memory?)");
    return NULL;
  }
  if (!OSSL_CMP_CTX_set0_newPkey(ctx, 1, request_key)) {
    EVP_PKEY_free(request_key);
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "The CMP client could not be set up (out of memory?)");
    return NULL;
  }
  /* A CA that cannot check the request's protection cannot protect its
   * error answer with the holder's secret either (RFC 9483 3.6.4). */
  (void)OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_ERRORS, 1);
  (void)OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, self->implicit_confirm);
  (void)OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_POPO_METHOD, OSSL_CRMF_POPO_SIGNATURE);
  if (self->recipient != NULL)
    (void)OSSL_CMP_CTX_set1_recipient(ctx, self->recipient);
  if (self->profile->trust_anchors != NULL) {
    X509_STORE *store = X509_STORE_new();

    /* A CA's signed answer (a kup) is checked against the profile's
     * anchors; an answer to an ir is checked with the code's MAC. */
    if (store == NULL || X509_STORE_load_file(store, self->profile->trust_anchors) != 1
        || !OSSL_CMP_CTX_set0_trustedStore(ctx, store)) {
      X509_STORE_free(store);
      ERR_clear_error();
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                  "Profile '%s': the trust anchors '%s' cannot be read", self->profile->name,
                  self->profile->trust_anchors);
      return NULL;
    }
  }
  return g_steal_pointer(&ctx);
}

/* The statusString's texts, joined. */
static char *
status_text(OSSL_CMP_CTX *ctx)
{
  OSSL_CMP_PKIFREETEXT *text = OSSL_CMP_CTX_get0_statusString(ctx);
  GString *out = g_string_new(NULL);
  g_autofree char *joined = NULL;

  for (int i = 0; text != NULL && i < sk_ASN1_UTF8STRING_num(text); i++) {
    ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(text, i);

    if (out->len > 0)
      g_string_append(out, "; ");
    g_string_append_len(out, (const char *)ASN1_STRING_get0_data(s),
                        MIN(ASN1_STRING_length(s), CA_TEXT_MAX * 4));
  }
  joined = g_string_free(out, FALSE);
  return *joined != '\0' ? printable(joined) : NULL;
}

/* The failInfo bits by name (RFC 4210 5.2.3), for a message. */
static char *
describe_fail_info(int info)
{
  static const char *const names[] = {
    "badAlg",
    "badMessageCheck",
    "badRequest",
    "badTime",
    "badCertId",
    "badDataFormat",
    "wrongAuthority",
    "incorrectData",
    "missingTimeStamp",
    "badPOP",
    "certRevoked",
    "certConfirmed",
    "wrongIntegrity",
    "badRecipientNonce",
    "timeNotAvailable",
    "unacceptedPolicy",
    "unacceptedExtension",
    "addInfoNotAvailable",
    "badSenderNonce",
    "badCertTemplate",
    "signerNotTrusted",
    "transactionIdInUse",
    "unsupportedVersion",
    "notAuthorized",
    "systemUnavail",
    "systemFailure",
    "duplicateCertReq",
  };
  GString *out = g_string_new(NULL);

  for (guint bit = 0; bit < G_N_ELEMENTS(names); bit++)
    if (info & (1 << bit)) {
      if (out->len > 0)
        g_string_append(out, ", ");
      g_string_append(out, names[bit]);
    }
  if (out->len == 0)
    g_string_append(out, "none");
  return g_string_free(out, FALSE);
}

/* A CA's rejection (PKIStatusInfo) in the enrollment error's words. */
static void
set_rejection(CmpConnector *self, OSSL_CMP_CTX *ctx, gboolean renewal, GError **error)
{
  int info = OSSL_CMP_CTX_get_failInfoCode(ctx);
  g_autofree char *text = status_text(ctx);
  g_autofree char *bits = NULL;
  g_autofree char *says
      = text != NULL ? g_strdup_printf(" The CA says: \"%s\".", text) : g_strdup("");
  const char *ca = self->profile->display_name != NULL ? self->profile->display_name : "The CA";

  if (info < 0)
    info = 0;
  g_debug("CMP: rejection, failInfo 0x%x", (unsigned)info);
  if (!renewal && (info & OSSL_CMP_CTX_FAILINFO_badTime))
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_EXPIRED,
                "%s says the activation code has expired.%s Ask your CA for a new one", ca, says);
  else if (!renewal && (info & OSSL_CMP_CTX_FAILINFO_badMessageCheck))
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED,
                "%s did not accept the activation code for this reference number: wrong "
                "activation code.%s Type the code again as your CA sent it, or ask it for a "
                "new one",
                ca, says);
  else if (!renewal && (info & OSSL_CMP_CTX_FAILINFO_badRequest))
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED,
                "%s did not accept the reference number and activation code (unknown, already "
                "used or mistyped).%s Check both as your CA sent them, or ask it for a new code",
                ca, says);
  else
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                "%s refused the %s (CMP failInfo %s).%s Contact your CA", ca,
                renewal ? "renewal" : "request", bits = describe_fail_info(info), says);
}

/* Runs one ir or kur on @ctx and makes the answer of it. */
static SignetAnswer *
transact(CmpConnector *self, OSSL_CMP_CTX *ctx, Exchange *x, int type, GError **error)
{
  int check_after = 0;
  int res;
  SignetAnswer *answer;

  ERR_clear_error();
  res = OSSL_CMP_try_certreq(ctx, type, NULL, &check_after);
  if (res == -1) {
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    gint64 seconds = CLAMP(check_after, CHECK_AFTER_MIN, CHECK_AFTER_MAX);

    answer = g_new0(SignetAnswer, 1);
    answer->status = SIGNET_ANSWER_PENDING;
    answer->retry_at = g_date_time_add_seconds(now, (gdouble)seconds);
    answer->message = status_text(ctx);
    g_debug("CMP: waiting, checkAfter %d: in %" G_GINT64_FORMAT " s", check_after, seconds);
    ERR_clear_error();
    return answer;
  }
  if (res == 1 && OSSL_CMP_CTX_get0_newCert(ctx) != NULL) {
    STACK_OF(X509) *extra = OSSL_CMP_CTX_get1_extraCertsIn(ctx);
    STACK_OF(X509) *ca_pubs = OSSL_CMP_CTX_get1_caPubs(ctx);

    answer = g_new0(SignetAnswer, 1);
    answer->status = SIGNET_ANSWER_ISSUED;
    answer->certs = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
    add_cert(answer->certs, OSSL_CMP_CTX_get0_newCert(ctx));
    /* Never trusted for coming here: the agent checks the chain against
     * the profile's roots. */
    for (int i = 0; extra != NULL && i < sk_X509_num(extra); i++) {
      add_cert(answer->certs, sk_X509_value(extra, i));
      add_cert(self->seen, sk_X509_value(extra, i));
    }
    for (int i = 0; ca_pubs != NULL && i < sk_X509_num(ca_pubs); i++) {
      add_cert(answer->certs, sk_X509_value(ca_pubs, i));
      add_cert(self->seen, sk_X509_value(ca_pubs, i));
    }
    sk_X509_pop_free(extra, X509_free);
    sk_X509_pop_free(ca_pubs, X509_free);
    answer->message = status_text(ctx);
    ERR_clear_error();
    return answer;
  }
  if (x->error != NULL) {
    g_propagate_error(error, g_steal_pointer(&x->error));
  } else if (OSSL_CMP_CTX_get_status(ctx) == OSSL_CMP_PKISTATUS_rejection
             && OSSL_CMP_CTX_get0_newCert(ctx) != NULL) {
    /* The certificate came, and the CA refused its confirmation: not a
     * word about the code. */
    g_autofree char *text = status_text(ctx);
    int info = OSSL_CMP_CTX_get_failInfoCode(ctx);
    g_autofree char *bits = describe_fail_info(info < 0 ? 0 : info);

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                "%s sent the certificate but refused its confirmation (certConf; CMP failInfo "
                "%s)%s%s%s: it may be revoked; try again, and contact your CA if it persists",
                self->profile->display_name != NULL ? self->profile->display_name : "The CA", bits,
                text != NULL ? ". The CA says: \"" : "", text != NULL ? text : "",
                text != NULL ? "\"" : "");
  } else if (OSSL_CMP_CTX_get_status(ctx) == OSSL_CMP_PKISTATUS_rejection) {
    set_rejection(self, ctx, type == OSSL_CMP_KUR, error);
  } else {
    g_autofree char *why = signet_openssl_error_text();
    g_autofree char *host = signet_http_url_host(self->profile->url);

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The CA's CMP answer from %s could not be used (%s): nothing was changed on "
                "the token; try again later or contact your CA",
                host != NULL ? host : self->profile->url, why);
  }
  ERR_clear_error();
  return NULL;
}

static SignetAnswer *
enroll_with(CmpConnector *self, Exchange *exchange, const SignetConnectorCode *code,
            const char *csr_pem, EVP_PKEY *request_key, GError **error)
{
  Exchange x = *exchange;
  g_autoptr(OSSL_CMP_CTX) ctx = new_ctx(self, &x, csr_pem, request_key, error);
  const char *secret;
  gsize len;
  SignetAnswer *answer;

  if (ctx == NULL)
    return NULL;
  /* The code as the holder typed it, surrounding whitespace trimmed; the
   * context copies it and wipes its copy when freed. */
  secret = (const char *)signet_secret_get_data(code->code);
  len = signet_secret_get_len(code->code);
  while (len > 0 && g_ascii_isspace(secret[0])) {
    secret++;
    len--;
  }
  while (len > 0 && g_ascii_isspace(secret[len - 1]))
    len--;
  if (code->reference == NULL || *code->reference == '\0' || len == 0
      || !OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)code->reference,
                                           (int)strlen(code->reference))
      || !OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)secret, (int)len)) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                        "CMP activation needs the reference number and the activation code");
    return NULL;
  }
  answer = transact(self, ctx, &x, OSSL_CMP_IR, error);
  g_clear_error(&x.error);
  return answer;
}

static SignetAnswer *
cmp_enroll(gpointer impl, const SignetConnectorCode *code, const char *csr_pem,
           EVP_PKEY *request_key, GError **error)
{
  g_autoptr(SignetHttpConnections) connections = signet_http_connections_new();
  Exchange x = { .self = impl, .connections = connections };

  return enroll_with(impl, &x, code, csr_pem, request_key, error);
}

static SignetAnswer *
reenroll_with(CmpConnector *self, Exchange *exchange, const SignetConnectorIdentity *identity,
              const char *csr_pem, EVP_PKEY *request_key, GError **error)
{
  Exchange x = *exchange;
  g_autoptr(OSSL_CMP_CTX) ctx = new_ctx(self, &x, csr_pem, request_key, error);
  SignetAnswer *answer;

  if (ctx == NULL)
    return NULL;
  if (!OSSL_CMP_CTX_set1_cert(ctx, identity->cert) || !OSSL_CMP_CTX_set1_pkey(ctx, identity->key)
      || !OSSL_CMP_CTX_set1_oldCert(ctx, identity->cert)) {
    ERR_clear_error();
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "The current certificate and its key could not be used for CMP");
    return NULL;
  }
  answer = transact(self, ctx, &x, OSSL_CMP_KUR, error);
  g_clear_error(&x.error);
  return answer;
}

static SignetAnswer *
cmp_reenroll(gpointer impl, const SignetConnectorIdentity *identity, const char *csr_pem,
             EVP_PKEY *request_key, GError **error)
{
  g_autoptr(SignetHttpConnections) connections = signet_http_connections_new();
  Exchange x = { .self = impl, .connections = connections };

  return reenroll_with(impl, &x, identity, csr_pem, request_key, error);
}

SignetAnswer *
signet_cmp_exchange_with(const SignetProfile *profile, const SignetConnectorCode *code,
                         const SignetConnectorIdentity *identity, const char *csr_pem,
                         EVP_PKEY *request_key, SignetCmpAnswerFunc answer_func,
                         gpointer answer_data, GError **error)
{
  CmpConnector *self;
  Exchange x = { .answer_func = answer_func, .answer_data = answer_data };
  SignetAnswer *answer;

  g_return_val_if_fail(profile != NULL, NULL);
  g_return_val_if_fail((code != NULL) != (identity != NULL), NULL);
  g_return_val_if_fail(answer_func != NULL, NULL);

  self = cmp_open(profile, error);
  if (self == NULL)
    return NULL;
  x.self = self;
  answer = code != NULL ? enroll_with(self, &x, code, csr_pem, request_key, error)
                        : reenroll_with(self, &x, identity, csr_pem, request_key, error);
  cmp_close(self);
  return answer;
}

static SignetAnswer *
cmp_poll(gpointer impl, const SignetConnectorPoll *poll, GError **error)
{
  if (!poll->renewal) {
    if (poll->code == NULL) {
      g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                          "A CMP CA is asked about a pending activation with the activation "
                          "code again: run the activation again with the same reference and "
                          "code");
      return NULL;
    }
    return cmp_enroll(impl, poll->code, poll->csr_pem, poll->request_key, error);
  }
  if (poll->identity == NULL || poll->request_key == NULL) {
    /* REFUSED: the agent's background poll leaves it to the holder. */
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED,
                        "a CMP CA is asked about a pending renewal only in a message signed "
                        "with the current certificate's key on the token");
    return NULL;
  }
  return cmp_reenroll(impl, poll->identity, poll->csr_pem, poll->request_key, error);
}

extern const SignetConnectorClass signet_cmp_connector_class;
const SignetConnectorClass signet_cmp_connector_class = {
  .name = "cmp",
  .description = "CMP (RFC 4210, RFC 9483)",
  .keys = cmp_keys,
  .check_settings = cmp_check_settings,
  .open = cmp_open,
  .close = cmp_close,
  .ca_certs = cmp_ca_certs,
  .subject_hint = NULL,
  .enroll = cmp_enroll,
  .reenroll = cmp_reenroll,
  .poll = cmp_poll,
  .renewal_poll_needs_identity = TRUE,
  .uses_request_key = TRUE,
};
