/* signet-test-cmp-ca: the CMP (RFC 4210, over HTTP as RFC 6712 says) face of
 * the test CA in tests/ca: `signet-test-cmp-ca serve --dir DIR [--port P]`.
 *
 * It speaks CMP with OpenSSL's server (OSSL_CMP_SRV_CTX) over HTTPS on
 * 127.0.0.1, POST /cmp, and issues real certificates for the public key in
 * the request. It keeps no CA state of its own: the directory DIR is the
 * EST test CA's (root.pem, issuing.pem/.key, server.pem/.key, state.json),
 * and every decision (is this reference's code usable, issue or defer or
 * refuse, record what was issued) is asked of the Python signet-test-ca
 * (`cmp-check`, `cmp-issue`), so that codes, mode, clock, pending requests
 * and `issued` are one brain for both protocols. What it keeps in memory is
 * the open CMP transactions (one OSSL_CMP_SRV_CTX each, by transactionID):
 * the secret a MAC transaction was verified with, the request a poll
 * answers. See tests/ca/README.md.
 *
 * Owns: the HTTPS listener, HTTP/1.1 framing, the CMP transactions.
 * May call: OpenSSL, GLib, the signet-test-ca script (a subprocess).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>
#include <glib-unix.h>
#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "common/signet-openssl-util.h"

#define PROG             "signet-test-cmp-ca"
#define MAX_HEADER       (16 * 1024)
#define MAX_BODY         (256 * 1024)
#define IO_TIMEOUT_S     30
#define TXN_LIFETIME_US  (15 * 60 * G_USEC_PER_SEC)
#define MSG_BAD_CODE     "unknown or already used activation code"
#define MSG_WRONG_CODE   "wrong activation code"
#define MSG_EXPIRED_CODE "activation code expired"
#define MSG_NEED_MAC                                                                               \
  "an initial enrollment (ir, cr, p10cr) must be protected with a MAC: senderKID the reference "   \
  "number, secret the activation code"
#define MSG_NEED_SIGNATURE "a renewal (kur) must be signed with the current certificate's key"
#define MSG_NO_CURRENT     "the current certificate is not in the request's extraCerts"
#define MSG_SUBJECT        "subject differs from the current certificate"
#define MSG_INTERNAL       "internal error in the test CA"

/* PKIBody choices (RFC 4210 5.1.2): OpenSSL 3.0 keeps their names internal. */
#ifndef OSSL_CMP_PKIBODY_IR
enum
{
  OSSL_CMP_PKIBODY_IR = 0,
  OSSL_CMP_PKIBODY_IP = 1,
  OSSL_CMP_PKIBODY_CR = 2,
  OSSL_CMP_PKIBODY_CP = 3,
  OSSL_CMP_PKIBODY_P10CR = 4,
  OSSL_CMP_PKIBODY_KUR = 7,
  OSSL_CMP_PKIBODY_KUP = 8,
  OSSL_CMP_PKIBODY_PKICONF = 19,
  OSSL_CMP_PKIBODY_ERROR = 23,
};
#endif

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OSSL_CMP_MSG, OSSL_CMP_MSG_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_ALGOR, X509_ALGOR_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OSSL_CRMF_CERTTEMPLATE, OSSL_CRMF_CERTTEMPLATE_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OSSL_CMP_SRV_CTX, OSSL_CMP_SRV_CTX_free)

typedef struct
{
  char *dir;
  char *script; /* the Python signet-test-ca */
  X509 *root, *issuing;
  /* What signs responses to kur: the CA's server certificate (issued by the
   * issuing CA, KU digitalSignature, which CMP clients require of a
   * signer; the issuing CA's own KU is keyCertSign and cRLSign only). */
  X509 *signer;
  EVP_PKEY *signer_key;
  SSL_CTX *tls;
  GMutex lock;      /* one CMP message at a time: guards transactions */
  GHashTable *txns; /* hex transactionID → Txn */
} Server;

/* One CMP transaction: its own OSSL_CMP_SRV_CTX (OpenSSL's server keeps the
 * transactionID, nonces, certReqId and polling state there). */
typedef struct
{
  Server *server;
  char *tid;
  OSSL_CMP_SRV_CTX *srv;
  gint64 touched; /* g_get_monotonic_time() */
  /* A refusal decided before OpenSSL processes the request (the code): the
   * certificate request callback answers it. */
  int fail_info;
  char *fail_text;
  /* The request: who asks (ref, or the current certificate), for which key. */
  char *ref;
  char *current_b64;
  char *spki_b64;
  const char *op;
  OSSL_CMP_MSG *orig; /* the certificate request, for a poll that ends */
  X509 *ready;        /* issued on a poll, answered by the next callback */
  int http_status;    /* mode http-NNN met in the middle */
  gboolean ended;
} Txn;

static volatile sig_atomic_t stop_requested;
static int stop_pipe[2] = { -1, -1 };

static void
txn_free(gpointer data)
{
  Txn *t = data;

  if (t == NULL)
    return;
  OSSL_CMP_SRV_CTX_free(t->srv);
  OSSL_CMP_MSG_free(t->orig);
  X509_free(t->ready);
  g_free(t->tid);
  g_free(t->fail_text);
  g_free(t->ref);
  g_free(t->current_b64);
  g_free(t->spki_b64);
  g_free(t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Txn, txn_free)

/* --- asking signet-test-ca --------------------------------------------- */

/* Runs signet-test-ca with @args (NULL-terminated, after the command and
 * --dir); its stdout, or NULL (said on stderr). */
static char *
run_script(Server *s, const char *command, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_ptr_array_add(argv, s->script);
  g_ptr_array_add(argv, (char *)command);
  g_ptr_array_add(argv, (char *)"--dir");
  g_ptr_array_add(argv, s->dir);
  for (; args != NULL && *args != NULL; args++)
    g_ptr_array_add(argv, (char *)*args);
  g_ptr_array_add(argv, NULL);
  if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                    &status, &error)) {
    fprintf(stderr, "%s: cannot run %s: %s\n", PROG, s->script, error->message);
    return NULL;
  }
  if (!g_spawn_check_wait_status(status, &error)) {
    fprintf(stderr, "%s: %s %s: %s\n", PROG, s->script, command, error->message);
    return NULL;
  }
  return g_steal_pointer(&out);
}

/* The line of @text that starts with @word and a space: the rest, or NULL. */
static char *
line_after(const char *text, const char *word)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  size_t n = strlen(word);

  for (char **l = lines; *l != NULL; l++)
    if (strncmp(*l, word, n) == 0 && (*l)[n] == ' ')
      return g_strdup(*l + n + 1);
  return NULL;
}

static char *
der_base64(const unsigned char *der, int len)
{
  return len > 0 ? g_base64_encode(der, (gsize)len) : NULL;
}

static char *
pubkey_base64(EVP_PKEY *key)
{
  unsigned char *der = NULL;
  int len = key != NULL ? i2d_PUBKEY(key, &der) : -1;
  char *b64 = der_base64(der, len);

  OPENSSL_free(der);
  return b64;
}

static char *
cert_base64(X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509(cert, &der);
  char *b64 = der_base64(der, len);

  OPENSSL_free(der);
  return b64;
}

/* --- bounded DER walking (what OpenSSL 3.0 has no getter for) ------------ */

/* One TLV at *@p within @end: its content, length, tag, class; advances *@p
 * past it. FALSE if it does not parse. */
static gboolean
der_next(const unsigned char **p, const unsigned char *end, const unsigned char **content,
         long *len, int *tag, int *xclass, gboolean *constructed)
{
  const unsigned char *q = *p;
  int ret;

  if (q >= end)
    return FALSE;
  ret = ASN1_get_object(&q, len, tag, xclass, end - q);
  if ((ret & 0x80) != 0 || *len < 0 || *len > end - q)
    return FALSE;
  *content = q;
  *constructed = (ret & V_ASN1_CONSTRUCTED) != 0;
  *p = q + *len;
  return TRUE;
}

/* From the raw PKIMessage: whether the header says PasswordBasedMac, and the
 * senderKID as text (printable ASCII only, else NULL). */
static void
header_protection(const unsigned char *der, long der_len, gboolean *out_pbm, char **out_kid)
{
  const unsigned char *p = der, *end = der + der_len, *c, *h, *hend;
  long len;
  int tag, xclass, i = 0;
  gboolean cons;

  *out_pbm = FALSE;
  *out_kid = NULL;
  if (!der_next(&p, end, &c, &len, &tag, &xclass, &cons) || tag != V_ASN1_SEQUENCE)
    return;
  p = c;
  end = c + len;
  if (!der_next(&p, end, &h, &len, &tag, &xclass, &cons) || tag != V_ASN1_SEQUENCE)
    return;
  hend = h + len;
  /* pvno, sender, recipient, then [0] messageTime, [1] protectionAlg,
   * [2] senderKID, … (explicit tags) */
  while (der_next(&h, hend, &c, &len, &tag, &xclass, &cons)) {
    if (i++ < 3 || xclass != V_ASN1_CONTEXT_SPECIFIC)
      continue;
    if (tag == 1) {
      const unsigned char *q = c;
      g_autoptr(X509_ALGOR) alg = d2i_X509_ALGOR(NULL, &q, len);
      const ASN1_OBJECT *oid = NULL;

      if (alg != NULL) {
        X509_ALGOR_get0(&oid, NULL, NULL, alg);
        *out_pbm = OBJ_obj2nid(oid) == NID_id_PasswordBasedMAC;
      }
    } else if (tag == 2) {
      const unsigned char *q = c;
      g_autoptr(ASN1_OCTET_STRING) kid = d2i_ASN1_OCTET_STRING(NULL, &q, len);
      int n = kid != NULL ? ASN1_STRING_length(kid) : 0;
      const unsigned char *d = kid != NULL ? ASN1_STRING_get0_data(kid) : NULL;
      gboolean ok = n > 0 && n <= 64;

      for (int k = 0; ok && k < n; k++)
        ok = g_ascii_isgraph(d[k]);
      if (ok)
        *out_kid = g_strndup((const char *)d, n);
    }
  }
}

/* The public key of a CRMF certificate template ([6] IMPLICIT
 * SubjectPublicKeyInfo), base64 DER SPKI, or NULL. */
static char *
template_spki_base64(const OSSL_CRMF_CERTTEMPLATE *tmpl)
{
  unsigned char *der = NULL;
  int der_len = i2d_OSSL_CRMF_CERTTEMPLATE((OSSL_CRMF_CERTTEMPLATE *)tmpl, &der);
  const unsigned char *p = der, *end, *c;
  long len;
  int tag, xclass;
  gboolean cons;
  char *b64 = NULL;

  if (der_len <= 0)
    return NULL;
  end = der + der_len;
  if (der_next(&p, end, &c, &len, &tag, &xclass, &cons) && tag == V_ASN1_SEQUENCE) {
    p = c;
    end = c + len;
    while (der_next(&p, end, &c, &len, &tag, &xclass, &cons)) {
      if (xclass == V_ASN1_CONTEXT_SPECIFIC && tag == 6 && cons) {
        int hl = ASN1_object_size(1, len, V_ASN1_SEQUENCE) - (int)len;
        g_autofree unsigned char *spki = g_malloc((gsize)(hl + len));
        unsigned char *w = spki;
        const unsigned char *q = spki;
        g_autoptr(EVP_PKEY) key = NULL;

        ASN1_put_object(&w, 1, len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
        memcpy(w, c, (size_t)len);
        key = d2i_PUBKEY(NULL, &q, hl + len);
        b64 = pubkey_base64(key);
        break;
      }
    }
  }
  OPENSSL_free(der);
  return b64;
}

/* --- the CMP server's callbacks ------------------------------------------ */

static OSSL_CMP_PKISI *
refuse(Txn *t, int fail_bit, const char *text)
{
  t->ended = TRUE;
  return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit, text);
}

/* signet-test-ca's `refused REASON TEXT` → failInfo (README's table). */
static int
reason_fail_bit(const char *reason)
{
  static const struct
  {
    const char *reason;
    int bit;
  } map[] = {
    { "unknown", OSSL_CMP_PKIFAILUREINFO_badRequest },
    { "used", OSSL_CMP_PKIFAILUREINFO_badRequest },
    { "expired", OSSL_CMP_PKIFAILUREINFO_badTime },
    { "not-ours", OSSL_CMP_PKIFAILUREINFO_signerNotTrusted },
    { "cert-expired", OSSL_CMP_PKIFAILUREINFO_badTime },
    { "cert-not-yet", OSSL_CMP_PKIFAILUREINFO_badTime },
    { "subject", OSSL_CMP_PKIFAILUREINFO_badCertTemplate },
    { "bad-key", OSSL_CMP_PKIFAILUREINFO_badCertTemplate },
  };

  for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
    if (strcmp(map[i].reason, reason) == 0)
      return map[i].bit;
  return OSSL_CMP_PKIFAILUREINFO_systemFailure;
}

typedef enum
{
  DECIDE_ISSUED,
  DECIDE_WAITING,
  DECIDE_REFUSED,
  DECIDE_HTTP,
  DECIDE_ERROR
} Decision;

/* Asks signet-test-ca cmp-issue about @t's request: the certificate, the
 * seconds to wait, a refusal (failInfo bit, text) or an HTTP status. */
static Decision
decide(Txn *t, X509 **out_cert, int64_t *out_wait, int *out_bit, char **out_text)
{
  g_autofree char *spki_arg = g_strconcat("--spki=", t->spki_b64, NULL);
  g_autofree char *op_arg = g_strconcat("--op=", t->op, NULL);
  g_autofree char *who_arg = t->ref != NULL ? g_strconcat("--ref=", t->ref, NULL)
                                            : g_strconcat("--renew=", t->current_b64, NULL);
  const char *args[] = { spki_arg, op_arg, who_arg, NULL };
  g_autofree char *out = run_script(t->server, "cmp-issue", args);
  g_autofree char *rest = NULL;

  if (out == NULL)
    return DECIDE_ERROR;
  if (g_str_has_prefix(out, "issued\n")) {
    g_autoptr(BIO) bio = BIO_new_mem_buf(out + 7, -1);
    X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    if (cert == NULL)
      return DECIDE_ERROR;
    *out_cert = cert;
    return DECIDE_ISSUED;
  }
  if ((rest = line_after(out, "waiting")) != NULL) {
    *out_wait = g_ascii_strtoll(rest, NULL, 10);
    return DECIDE_WAITING;
  }
  g_clear_pointer(&rest, g_free);
  if ((rest = line_after(out, "http")) != NULL) {
    t->http_status = (int)g_ascii_strtoll(rest, NULL, 10);
    return t->http_status >= 400 && t->http_status <= 599 ? DECIDE_HTTP : DECIDE_ERROR;
  }
  g_clear_pointer(&rest, g_free);
  if ((rest = line_after(out, "refused")) != NULL) {
    char *space = strchr(rest, ' ');

    if (space != NULL)
      *space = '\0';
    *out_bit = reason_fail_bit(rest);
    *out_text = g_strdup(space != NULL ? space + 1 : rest);
    return DECIDE_REFUSED;
  }
  return DECIDE_ERROR;
}

/* kur: the holder's current certificate, from the request's extraCerts
 * (which OpenSSL's server prepends to its context's untrusted certificates):
 * the one the template's oldCertID names, else the first that is no CA. */
static X509 *
current_certificate(OSSL_CMP_CTX *ctx, const OSSL_CRMF_MSG *crm)
{
  STACK_OF(X509) *certs = OSSL_CMP_CTX_get0_untrusted(ctx);
  const OSSL_CRMF_CERTID *id = crm != NULL ? OSSL_CRMF_MSG_get0_regCtrl_oldCertID(crm) : NULL;

  for (int i = 0; i < sk_X509_num(certs); i++) {
    X509 *c = sk_X509_value(certs, i);

    if (X509_check_ca(c) != 0)
      continue;
    if (id == NULL
        || (ASN1_INTEGER_cmp(X509_get0_serialNumber(c), OSSL_CRMF_CERTID_get0_serialNumber(id)) == 0
            && X509_NAME_cmp(X509_get_issuer_name(c), OSSL_CRMF_CERTID_get0_issuer(id)) == 0))
      return c;
  }
  return NULL;
}

static OSSL_CMP_PKISI *
on_cert_request_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int cert_req_id,
                   const OSSL_CRMF_MSG *crm, const X509_REQ *p10cr, X509 **out_cert,
                   STACK_OF(X509) * *out_chain, STACK_OF(X509) * *out_ca_pubs)
{
  Txn *t = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
  OSSL_CMP_CTX *ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
  int type = OSSL_CMP_MSG_get_bodytype(req);
  X509 *cert = NULL;
  int64_t wait = 0;
  int bit = 0;
  g_autofree char *text = NULL;

  if (t->fail_text != NULL)
    return refuse(t, t->fail_info, t->fail_text);
  if (t->ready != NULL) {
    cert = g_steal_pointer(&t->ready);
  } else {
    if (t->spki_b64 == NULL) {
      /* The first time: who asks, for which key. */
      if (p10cr != NULL) {
        t->spki_b64 = pubkey_base64(X509_REQ_get0_pubkey((X509_REQ *)p10cr));
      } else if (crm != NULL) {
        t->spki_b64 = template_spki_base64(OSSL_CRMF_MSG_get0_tmpl(crm));
      }
      if (t->spki_b64 == NULL)
        return refuse(t, OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
                      "the request carries no public key");
      t->op = type == OSSL_CMP_PKIBODY_IR    ? "ir"
              : type == OSSL_CMP_PKIBODY_CR  ? "cr"
              : type == OSSL_CMP_PKIBODY_KUR ? "kur"
                                             : "p10cr";
      if (type == OSSL_CMP_PKIBODY_KUR) {
        X509 *current = current_certificate(ctx, crm);
        const X509_NAME *asked = OSSL_CRMF_CERTTEMPLATE_get0_subject(OSSL_CRMF_MSG_get0_tmpl(crm));

        if (current == NULL)
          return refuse(t, OSSL_CMP_PKIFAILUREINFO_signerNotTrusted, MSG_NO_CURRENT);
        if (asked != NULL && X509_NAME_entry_count(asked) > 0
            && X509_NAME_cmp(asked, X509_get_subject_name(current)) != 0)
          return refuse(t, OSSL_CMP_PKIFAILUREINFO_badCertTemplate, MSG_SUBJECT);
        t->current_b64 = cert_base64(current);
      }
      t->orig = OSSL_CMP_MSG_dup(req);
    }
    switch (decide(t, &cert, &wait, &bit, &text)) {
      case DECIDE_ISSUED:
        break;
      case DECIDE_WAITING: {
        g_autofree char *words
            = g_strdup_printf("request pending: ask again in %" G_GINT64_FORMAT " s", wait);

        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_waiting, 0, words);
      }
      case DECIDE_REFUSED:
        return refuse(t, bit, text);
      case DECIDE_HTTP:
        return refuse(t, OSSL_CMP_PKIFAILUREINFO_systemUnavail, "service unavailable");
      case DECIDE_ERROR:
      default:
        return refuse(t, OSSL_CMP_PKIFAILUREINFO_systemFailure, MSG_INTERNAL);
    }
  }
  *out_cert = cert;
  *out_chain = sk_X509_new_null();
  sk_X509_push(*out_chain, X509_dup(t->server->issuing));
  *out_ca_pubs = sk_X509_new_null();
  sk_X509_push(*out_ca_pubs, X509_dup(t->server->root));
  return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}

static int
on_poll_req_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int cert_req_id,
               OSSL_CMP_MSG **out_req, int64_t *out_check_after)
{
  Txn *t = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
  X509 *cert = NULL;
  int64_t wait = 0;
  int bit = 0;
  g_autofree char *text = NULL;

  *out_req = NULL;
  *out_check_after = 0;
  if (t->orig == NULL || t->spki_b64 == NULL) {
    ERR_raise(ERR_LIB_CMP, CMP_R_UNEXPECTED_PKIBODY);
    return 0;
  }
  switch (decide(t, &cert, &wait, &bit, &text)) {
    case DECIDE_WAITING:
      *out_check_after = wait;
      return 1;
    case DECIDE_ISSUED:
      t->ready = cert;
      break;
    case DECIDE_REFUSED:
      t->fail_info = bit;
      t->fail_text = g_steal_pointer(&text);
      break;
    case DECIDE_HTTP:
      break;
    case DECIDE_ERROR:
    default:
      t->fail_info = OSSL_CMP_PKIFAILUREINFO_systemFailure;
      t->fail_text = g_strdup(MSG_INTERNAL);
      break;
  }
  /* The answer to the request itself (certificate or rejection). */
  *out_req = OSSL_CMP_MSG_dup(t->orig);
  return *out_req != NULL;
}

static int
on_cert_conf_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, int cert_req_id,
                const ASN1_OCTET_STRING *cert_hash, const OSSL_CMP_PKISI *si)
{
  Txn *t = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);

  t->ended = TRUE;
  return 1;
}

static void
on_error_cb(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req, const OSSL_CMP_PKISI *si,
            const ASN1_INTEGER *error_code, const OSSL_CMP_PKIFREETEXT *details)
{
  Txn *t = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv);
  char buf[512];

  t->ended = TRUE;
  fprintf(stderr, "%s: the client reports an error: %s\n", PROG,
          si != NULL ? OSSL_CMP_snprint_PKIStatusInfo(si, buf, sizeof(buf)) : "(no status)");
}

/* OpenSSL's own CMP messages, errors only (never a secret: OpenSSL does not
 * log them). */
static int
on_cmp_log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level,
              const char *msg)
{
  fprintf(stderr, "%s: openssl: %s\n", PROG, msg);
  return 1;
}

/* --- transactions ---------------------------------------------------------- */

static Txn *
txn_new(Server *s, const char *tid, gboolean signing)
{
  g_autoptr(Txn) t = g_new0(Txn, 1);
  OSSL_CMP_CTX *ctx;

  t->server = s;
  t->tid = g_strdup(tid);
  t->touched = g_get_monotonic_time();
  t->srv = OSSL_CMP_SRV_CTX_new(NULL, NULL);
  if (t->srv == NULL
      || !OSSL_CMP_SRV_CTX_init(t->srv, t, on_cert_request_cb, NULL, NULL, on_error_cb,
                                on_cert_conf_cb, on_poll_req_cb)
      || !OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(t->srv, 1))
    return NULL;
  ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(t->srv);
  OSSL_CMP_CTX_set_log_cb(ctx, on_cmp_log_cb);
  OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_ERR);
  if (signing) {
    /* kur: requests are signed by a holder's certificate, validated up to
     * the root without a time check (the CA's clock decides validity, in
     * signet-test-ca); responses are signed with the server certificate. */
    g_autoptr(X509_STORE) store = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    gboolean ok;

    ok = store != NULL && untrusted != NULL && X509_STORE_add_cert(store, s->root)
         && X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME)
         && sk_X509_push(untrusted, s->issuing) > 0 && OSSL_CMP_CTX_set1_untrusted(ctx, untrusted)
         && OSSL_CMP_CTX_set0_trustedStore(ctx, store) && OSSL_CMP_CTX_set1_cert(ctx, s->signer)
         && OSSL_CMP_CTX_set1_pkey(ctx, s->signer_key);
    if (ok)
      store = NULL; /* the context has it */
    sk_X509_free(untrusted);
    if (!ok)
      return NULL;
  }
  return g_steal_pointer(&t);
}

static void
txns_prune(Server *s)
{
  GHashTableIter it;
  gpointer value;
  gint64 now = g_get_monotonic_time();

  g_hash_table_iter_init(&it, s->txns);
  while (g_hash_table_iter_next(&it, NULL, &value))
    if (now - ((Txn *)value)->touched > TXN_LIFETIME_US)
      g_hash_table_iter_remove(&it);
}

static const char *
body_name(int type)
{
  static const char *const names[]
      = { "ir",   "ip",     "cr",    "cp",       "p10cr",   "popdecc", "popdecr",
          "kur",  "kup",    "krr",   "krp",      "rr",      "rp",      "ccr",
          "ccp",  "ckuann", "cann",  "rann",     "crlann",  "pkiconf", "nested",
          "genm", "genp",   "error", "certConf", "pollReq", "pollRep" };

  return type >= 0 && type < (int)G_N_ELEMENTS(names) ? names[type] : "?";
}

/* One CMP message in, one out (DER in *@out_rsp): the HTTP status to send
 * (200, or 400 for what is not CMP, or the mode's http-NNN). @what: words
 * for the log line. */
static int
process_message(Server *s, const unsigned char *body, long len, unsigned char **out_rsp,
                int *out_rsp_len, char **out_what)
{
  const unsigned char *p = body;
  g_autoptr(OSSL_CMP_MSG) req = d2i_OSSL_CMP_MSG(NULL, &p, len);
  g_autoptr(OSSL_CMP_MSG) rsp = NULL;
  g_autoptr(Txn) temporary = NULL;
  g_autofree char *kid = NULL, *check = NULL, *mode = NULL, *code_line = NULL, *tid = NULL;
  ASN1_OCTET_STRING *tid_der;
  gboolean pbm = FALSE;
  Txn *t;
  int type, rsp_type;

  if (req == NULL || p != body + len || OSSL_CMP_MSG_get0_header(req) == NULL) {
    ERR_clear_error();
    g_clear_pointer(&req, OSSL_CMP_MSG_free);
  }
  if (req != NULL) {
    type = OSSL_CMP_MSG_get_bodytype(req);
    tid_der = OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req));
    if (tid_der != NULL) { /* OPENSSL_buf2hexstr's memory into GLib's */
      char *hex = OPENSSL_buf2hexstr(ASN1_STRING_get0_data(tid_der), ASN1_STRING_length(tid_der));

      tid = g_strdup(hex);
      OPENSSL_free(hex);
    }
    header_protection(body, len, &pbm, &kid);
  } else {
    type = -1;
  }

  {
    /* The mode answers every POST /cmp, CMP or not, as EST's does. */
    g_autofree char *ref_arg = pbm && kid != NULL ? g_strconcat("--ref=", kid, NULL) : NULL;
    const char *args[] = { ref_arg, NULL };

    check = run_script(s, "cmp-check", args);
  }
  if (check == NULL) {
    *out_what = g_strdup_printf("%s: the CA's state cannot be read", body_name(type));
    return 500;
  }
  mode = line_after(check, "mode");
  if (mode != NULL && g_str_has_prefix(mode, "http-")) {
    *out_what = g_strdup_printf("%s: mode %s", body_name(type), mode);
    return (int)g_ascii_strtoll(mode + 5, NULL, 10);
  }
  if (req == NULL) {
    *out_what = g_strdup("not a CMP message");
    return 400;
  }
  code_line = line_after(check, "code");

  txns_prune(s);
  if (type == OSSL_CMP_PKIBODY_IR || type == OSSL_CMP_PKIBODY_CR || type == OSSL_CMP_PKIBODY_P10CR
      || type == OSSL_CMP_PKIBODY_KUR) {
    gboolean kur = type == OSSL_CMP_PKIBODY_KUR;
    const char *fail_text = NULL;
    int fail_bit = 0;

    t = txn_new(s, tid != NULL ? tid : "", kur);
    if (t == NULL) {
      *out_what = g_strdup_printf("%s: cannot set up a transaction", body_name(type));
      return 500;
    }
    if (tid != NULL)
      g_hash_table_replace(s->txns, t->tid, t);
    else
      temporary = t;
    if (kur) {
      if (pbm) {
        fail_bit = OSSL_CMP_PKIFAILUREINFO_wrongIntegrity;
        fail_text = MSG_NEED_SIGNATURE;
      }
    } else if (!pbm || kid == NULL) {
      fail_bit = OSSL_CMP_PKIFAILUREINFO_wrongIntegrity;
      fail_text = MSG_NEED_MAC;
    } else if (code_line == NULL || !g_str_has_prefix(code_line, "ok ")) {
      gboolean expired = code_line != NULL && strcmp(code_line, "expired ") == 0;

      fail_bit = expired ? OSSL_CMP_PKIFAILUREINFO_badTime : OSSL_CMP_PKIFAILUREINFO_badRequest;
      fail_text = expired ? MSG_EXPIRED_CODE : MSG_BAD_CODE;
    } else {
      OSSL_CMP_CTX *ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(t->srv);
      const char *code = code_line + 3;

      t->ref = g_strdup(kid);
      if (!OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)code, (int)strlen(code))
          || !OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)kid, (int)strlen(kid))) {
        *out_what = g_strdup_printf("%s: cannot set the secret", body_name(type));
        return 500;
      }
      if (!OSSL_CMP_validate_msg(ctx, req)) {
        ERR_clear_error();
        fail_bit = OSSL_CMP_PKIFAILUREINFO_badMessageCheck;
        fail_text = MSG_WRONG_CODE;
        /* Whoever sent it does not share the secret: answer unprotected. */
        OSSL_CMP_CTX_set1_secretValue(ctx, NULL, 0);
      }
    }
    if (fail_text != NULL) {
      /* Refused with our own words and failInfo: OpenSSL lets the request
       * through (its protection could not be checked) to the callback,
       * which refuses it, unprotected. */
      t->fail_info = fail_bit;
      t->fail_text = g_strdup(fail_text);
      OSSL_CMP_SRV_CTX_set_accept_unprotected(t->srv, 1);
      OSSL_CMP_SRV_CTX_set_send_unprotected_errors(t->srv, 1);
    }
  } else {
    t = tid != NULL ? g_hash_table_lookup(s->txns, tid) : NULL;
    if (t == NULL) {
      /* No such transaction: OpenSSL answers with an (unprotected) error. */
      t = temporary = txn_new(s, "", FALSE);
      if (t == NULL) {
        *out_what = g_strdup_printf("%s: cannot set up a transaction", body_name(type));
        return 500;
      }
      OSSL_CMP_SRV_CTX_set_send_unprotected_errors(t->srv, 1);
    }
  }
  t->touched = g_get_monotonic_time();
  t->http_status = 0;
  rsp = OSSL_CMP_SRV_process_request(t->srv, req);
  ERR_clear_error();
  if (t->http_status != 0) {
    int status = t->http_status;

    *out_what = g_strdup_printf("%s: mode http-%d", body_name(type), status);
    if (t->tid != NULL && t != temporary)
      g_hash_table_remove(s->txns, t->tid);
    return status;
  }
  if (rsp == NULL) {
    *out_what = g_strdup_printf("%s: no CMP answer", body_name(type));
    return 500;
  }
  rsp_type = OSSL_CMP_MSG_get_bodytype(rsp);
  *out_what = g_strdup_printf("%s -> %s%s", body_name(type), body_name(rsp_type),
                              t->fail_text != NULL ? " (refused)" : "");
  if (t != temporary
      && (t->ended || rsp_type == OSSL_CMP_PKIBODY_PKICONF || rsp_type == OSSL_CMP_PKIBODY_ERROR
          || ((rsp_type == OSSL_CMP_PKIBODY_IP || rsp_type == OSSL_CMP_PKIBODY_CP
               || rsp_type == OSSL_CMP_PKIBODY_KUP)
              && OSSL_CMP_CTX_get_option(OSSL_CMP_SRV_CTX_get0_cmp_ctx(t->srv),
                                         OSSL_CMP_OPT_IMPLICIT_CONFIRM)
                     == 1)))
    g_hash_table_remove(s->txns, t->tid);
  *out_rsp = NULL;
  *out_rsp_len = i2d_OSSL_CMP_MSG(rsp, out_rsp);
  if (*out_rsp_len <= 0)
    return 500;
  return 200;
}

/* --- HTTP over TLS ------------------------------------------------------------ */

typedef struct
{
  SSL *ssl;
  char buf[MAX_HEADER];
  size_t len;      /* bytes in buf not yet consumed */
  unsigned served; /* requests answered on this connection */
} Conn;

/* Reads more into c->buf; FALSE on close, error or a full buffer. */
static gboolean
conn_fill(Conn *c)
{
  int n;

  if (c->len >= sizeof(c->buf))
    return FALSE;
  n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
  if (n <= 0)
    return FALSE;
  c->len += (size_t)n;
  return TRUE;
}

static gboolean
send_all(SSL *ssl, const void *data, size_t len)
{
  const char *p = data;

  while (len > 0) {
    int n = SSL_write(ssl, p, (int)MIN(len, (size_t)G_MAXINT));

    if (n <= 0)
      return FALSE;
    p += n;
    len -= (size_t)n;
  }
  return TRUE;
}

static const char *
reason_phrase(int status)
{
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

static gboolean
send_response(SSL *ssl, int status, const char *ctype, const void *body, size_t len,
              gboolean keep_alive)
{
  g_autofree char *head = g_strdup_printf("HTTP/1.1 %d %s\r\n"
                                          "Content-Type: %s\r\n"
                                          "Content-Length: %zu\r\n"
                                          "Cache-Control: no-cache\r\n"
                                          "%s"
                                          "Connection: %s\r\n\r\n",
                                          status, reason_phrase(status), ctype, len,
                                          status == 503 ? "Retry-After: 60\r\n" : "",
                                          keep_alive ? "keep-alive" : "close");

  return send_all(ssl, head, strlen(head)) && send_all(ssl, body, len);
}

static gboolean
send_text(SSL *ssl, int status, const char *text)
{
  g_autofree char *body = g_strconcat(text, "\n", NULL);

  return send_response(ssl, status, "text/plain; charset=utf-8", body, strlen(body), FALSE);
}

/* Does the comma-separated header value @value hold the token @token? */
static gboolean
has_token(const char *value, const char *token)
{
  g_auto(GStrv) parts = g_strsplit(value, ",", -1);

  for (char **p = parts; *p != NULL; p++)
    if (g_ascii_strcasecmp(g_strstrip(*p), token) == 0)
      return TRUE;
  return FALSE;
}

/* One HTTP request on @c and its answer; FALSE when the connection is to
 * be closed. */
static gboolean
serve_request(Server *s, Conn *c)
{
  char *end;
  size_t head_len;
  g_autofree char *head = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) request_line = NULL;
  gboolean keep_alive = FALSE, pkixcmp = FALSE, chunked = FALSE, has_length = FALSE;
  gboolean expect_continue = FALSE;
  gint64 length = 0;
  g_autofree unsigned char *body = NULL;
  unsigned char *rsp = NULL;
  int rsp_len = 0, status;
  g_autofree char *what = NULL;
  gboolean ok;

  while ((end = g_strstr_len(c->buf, (gssize)c->len, "\r\n\r\n")) == NULL) {
    if (c->len >= sizeof(c->buf)) {
      fprintf(stderr, "%s: request headers too large\n", PROG);
      send_text(c->ssl, 400, "request headers too large");
      return FALSE;
    }
    if (!conn_fill(c))
      return FALSE; /* closed between requests, or cut short */
  }
  head_len = (size_t)(end - c->buf) + 4;
  head = g_strndup(c->buf, head_len - 4);
  memmove(c->buf, c->buf + head_len, c->len - head_len);
  c->len -= head_len;

  lines = g_strsplit(head, "\r\n", -1);
  request_line = g_strsplit(lines[0], " ", 3);
  if (g_strv_length(request_line) != 3 || !g_str_has_prefix(request_line[2], "HTTP/1.")) {
    fprintf(stderr, "%s: not an HTTP request\n", PROG);
    send_text(c->ssl, 400, "not an HTTP/1.1 request");
    return FALSE;
  }
  for (char **l = lines + 1; *l != NULL; l++) {
    char *colon = strchr(*l, ':');
    g_autofree char *name = NULL;
    char *value;

    if (colon == NULL)
      continue;
    name = g_strndup(*l, (gsize)(colon - *l));
    value = g_strstrip(colon + 1);
    if (g_ascii_strcasecmp(name, "Connection") == 0)
      keep_alive = has_token(value, "keep-alive");
    else if (g_ascii_strcasecmp(name, "Content-Type") == 0)
      pkixcmp = g_ascii_strncasecmp(value, "application/pkixcmp", 19) == 0
                && (value[19] == '\0' || value[19] == ';' || value[19] == ' ');
    else if (g_ascii_strcasecmp(name, "Expect") == 0)
      expect_continue = g_ascii_strcasecmp(value, "100-continue") == 0;
    else if (g_ascii_strcasecmp(name, "Transfer-Encoding") == 0)
      chunked = TRUE;
    else if (g_ascii_strcasecmp(name, "Content-Length") == 0) {
      char *rest = NULL;

      has_length = TRUE;
      length = g_ascii_strtoll(value, &rest, 10);
      if (rest == value || *rest != '\0' || length < 0)
        length = -1;
    }
  }
  status = 0;
  if (strcmp(request_line[1], "/cmp") != 0)
    status = 404;
  else if (strcmp(request_line[0], "POST") != 0)
    status = 405;
  else if (chunked || !has_length)
    status = 411;
  else if (length < 0)
    status = 400;
  else if (length > MAX_BODY)
    status = 413;
  else if (!pkixcmp)
    status = 415;
  if (status != 0) {
    fprintf(stderr, "%s: %s %s %d\n", PROG, request_line[0], request_line[1], status);
    send_text(c->ssl, status,
              status == 404   ? "not found (CMP is at /cmp)"
              : status == 405 ? "only POST"
              : status == 411 ? "a Content-Length is required"
              : status == 413 ? "request too large"
              : status == 415 ? "Content-Type must be application/pkixcmp"
                              : "bad Content-Length");
    return FALSE;
  }

  /* libcurl asks before it sends a larger body; without an answer it
   * waits a second. */
  if (expect_continue && c->len == 0) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    if (!send_all(c->ssl, cont, sizeof(cont) - 1))
      return FALSE;
  }
  body = g_malloc((gsize)length + 1);
  {
    size_t have = MIN(c->len, (size_t)length);

    memcpy(body, c->buf, have);
    memmove(c->buf, c->buf + have, c->len - have);
    c->len -= have;
    while (have < (size_t)length) {
      int n = SSL_read(c->ssl, body + have, (int)((size_t)length - have));

      if (n <= 0)
        return FALSE;
      have += (size_t)n;
    }
  }

  g_mutex_lock(&s->lock);
  status = process_message(s, body, (long)length, &rsp, &rsp_len, &what);
  g_mutex_unlock(&s->lock);
  c->served++;
  if (c->served > 1) /* a persistent connection (Connection: keep-alive) */
    fprintf(stderr, "%s: POST /cmp %d %s (request %u on this connection)\n", PROG, status, what,
            c->served);
  else
    fprintf(stderr, "%s: POST /cmp %d %s\n", PROG, status, what);
  if (status == 200) {
    ok = send_response(c->ssl, 200, "application/pkixcmp", rsp, (size_t)rsp_len, keep_alive);
    OPENSSL_free(rsp);
    return ok && keep_alive;
  }
  OPENSSL_free(rsp);
  {
    g_autofree char *text
        = status == 400
              ? g_strdup("the body is not a CMP message (DER PKIMessage)")
              : g_strdup_printf("%s (test CA in mode http-%d)", reason_phrase(status), status);

    send_text(c->ssl, status, text);
  }
  return FALSE;
}

typedef struct
{
  Server *server;
  int fd;
} ConnJob;

static gpointer
connection_thread(gpointer data)
{
  ConnJob *job = data;
  g_autofree Conn *c = g_new0(Conn, 1);
  struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

  setsockopt(job->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(job->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  c->ssl = SSL_new(job->server->tls);
  if (c->ssl != NULL && SSL_set_fd(c->ssl, job->fd) == 1 && SSL_accept(c->ssl) == 1) {
    while (serve_request(job->server, c))
      ;
    SSL_shutdown(c->ssl);
  }
  ERR_clear_error();
  SSL_free(c->ssl);
  close(job->fd);
  g_free(job);
  return NULL;
}

/* --- serve ------------------------------------------------------------------------ */

static void
on_stop_signal(int sig)
{
  char b = 1;
  ssize_t ignored;

  stop_requested = 1;
  ignored = write(stop_pipe[1], &b, 1);
  (void)ignored;
}

static gboolean
write_atomically(const char *path, const char *text)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents(path, text, -1, &error)) {
    fprintf(stderr, "%s: %s\n", PROG, error->message);
    return FALSE;
  }
  return TRUE;
}

static gboolean
write_profile(Server *s, int port)
{
  g_autofree char *path = g_build_filename(s->dir, "cmp-profile.conf", NULL);
  g_autofree char *root = g_build_filename(s->dir, "root.pem", NULL);
  g_autofree char *text
      = g_strdup_printf("# A Signet CA profile for the CMP test CA; written by %s serve.\n"
                        "# Copy it to profiles.d/signet-test-cmp.conf.\n"
                        "[profile]\n"
                        "display-name=Signet Test CA (CMP)\n"
                        "protocol=cmp\n"
                        "url=https://127.0.0.1:%d/cmp\n"
                        "trust-anchors=%s\n"
                        "key-type=ec:p256\n"
                        "subject=CN=${reference},O=Signet Test\n"
                        "renewal-key=new\n"
                        "\n"
                        "[labels]\n"
                        "key=Signet test signature\n"
                        "certificate=Signet test signature\n"
                        "chain=Signet Test CA\n",
                        PROG, port, root);
  g_autofree char *port_path = g_build_filename(s->dir, "cmp-port", NULL);
  g_autofree char *port_text = g_strdup_printf("%d\n", port);

  return write_atomically(path, text) && write_atomically(port_path, port_text);
}

static X509 *
load_cert(const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(BIO) bio = BIO_new_file(path, "r");
  X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

  if (cert == NULL)
    fprintf(stderr, "%s: cannot read %s\n", PROG, path);
  return cert;
}

static EVP_PKEY *
load_key(const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(BIO) bio = BIO_new_file(path, "r");
  EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

  if (key == NULL)
    fprintf(stderr, "%s: cannot read %s\n", PROG, path);
  return key;
}

static SSL_CTX *
tls_context(const char *dir)
{
  g_autofree char *cert = g_build_filename(dir, "server.pem", NULL);
  g_autofree char *key = g_build_filename(dir, "server.key", NULL);
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

  if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
      || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1
      || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
      || SSL_CTX_check_private_key(ctx) != 1) {
    fprintf(stderr, "%s: cannot set up TLS with %s and %s\n", PROG, cert, key);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static int
listen_loopback(int port, int *out_port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  socklen_t addr_len = sizeof(addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
      || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 16) != 0
      || getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
    fprintf(stderr, "%s: cannot listen on 127.0.0.1:%d: %s\n", PROG, port, g_strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  *out_port = ntohs(addr.sin_port);
  return fd;
}

static int
serve(Server *s, int port)
{
  struct sigaction sa = { .sa_handler = on_stop_signal };
  int fd, actual_port = 0;

  {
    /* The CA (root, issuing CA, TLS certificate) is made on first use. */
    g_autofree char *out = run_script(s, "cmp-check", NULL);

    if (out == NULL)
      return 1;
  }
  s->root = load_cert(s->dir, "root.pem");
  s->issuing = load_cert(s->dir, "issuing.pem");
  s->signer = load_cert(s->dir, "server.pem");
  s->signer_key = load_key(s->dir, "server.key");
  s->tls = tls_context(s->dir);
  if (s->root == NULL || s->issuing == NULL || s->signer == NULL || s->signer_key == NULL
      || s->tls == NULL)
    return 1;
  if (!g_unix_open_pipe(stop_pipe, FD_CLOEXEC, NULL))
    return 1;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  fd = listen_loopback(port, &actual_port);
  if (fd < 0 || !write_profile(s, actual_port))
    return 1;
  printf("listening on https://127.0.0.1:%d/cmp\n", actual_port);
  fflush(stdout);

  while (!stop_requested) {
    struct pollfd fds[2]
        = { { .fd = fd, .events = POLLIN }, { .fd = stop_pipe[0], .events = POLLIN } };
    ConnJob *job;
    int cfd;

    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "%s: poll: %s\n", PROG, g_strerror(errno));
      break;
    }
    if (stop_requested || (fds[0].revents & POLLIN) == 0)
      continue;
    cfd = accept(fd, NULL, NULL);
    if (cfd < 0)
      continue;
    job = g_new0(ConnJob, 1);
    job->server = s;
    job->fd = cfd;
    g_thread_unref(g_thread_new("connection", connection_thread, job));
  }
  close(fd);
  fprintf(stderr, "%s: stopped\n", PROG);
  return 0;
}

static void
usage(FILE *f)
{
  fprintf(f,
          "Usage: %s serve --dir DIR [--port PORT] [--test-ca PATH]\n"
          "The CMP face of the test CA (tests/ca/README.md): HTTPS on 127.0.0.1, POST /cmp.\n"
          "PORT 0 or none picks a free port; writes DIR/cmp-port and DIR/cmp-profile.conf.\n"
          "PATH: the signet-test-ca script (default: $SIGNET_TEST_CA, or the source tree's).\n",
          PROG);
}

int
main(int argc, char **argv)
{
  Server s = { 0 };
  int port = 0;
  const char *script = g_getenv("SIGNET_TEST_CA");
  int rc;

  if (argc < 2 || strcmp(argv[1], "serve") != 0) {
    usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
      s.dir = g_canonicalize_filename(argv[++i], NULL);
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      char *rest = NULL;

      port = (int)g_ascii_strtoll(argv[++i], &rest, 10);
      if (*rest != '\0' || port < 0 || port > 65535) {
        fprintf(stderr, "%s: not a port: %s\n", PROG, argv[i]);
        return 2;
      }
    } else if (strcmp(argv[i], "--test-ca") == 0 && i + 1 < argc)
      script = argv[++i];
    else {
      usage(stderr);
      return 2;
    }
  }
  if (s.dir == NULL) {
    usage(stderr);
    return 2;
  }
  s.script = g_strdup(script != NULL && *script != '\0' ? script : SIGNET_TEST_CA_SCRIPT);
  g_mutex_init(&s.lock);
  s.txns = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, txn_free);
  rc = serve(&s, port);
  g_mutex_lock(&s.lock); /* no message half processed while we go */
  return rc;
}
