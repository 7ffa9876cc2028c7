/* signet-est-connector.c: EST (RFC 7030) as a connector
 * (signet-connector.h), on the EST client of signet-est.h.
 *
 * The profile's [est] group:
 *   username = ${reference}    the HTTP Basic user name of /simpleenroll
 *                              and /csrattrs (a template: ${reference},
 *                              ${serial}); the password is the activation
 *                              code. Profiles written before the group
 *                              existed say it as [activation] username.
 *   reenroll-username = U      HTTP credentials for /simplereenroll, sent
 *   reenroll-password = P      besides the client certificate (Basic, or
 *                              Digest when the CA challenges for it): both
 *                              or neither. A credential the CA publishes
 *                              for its renewal endpoint, the same for every
 *                              holder: not a holder's secret, and readable
 *                              by anyone who can read the profile (and in
 *                              the profile's settings over D-Bus).
 *
 * Enroll is /simpleenroll with Basic credentials (Digest on a challenge),
 * reenroll /simplereenroll with TLS client authentication and the reenroll
 * credentials, if any; poll the same request
 * again with what the holder has at hand (the code; the client identity,
 * or none when the agent polls without the PIN). EST keeps nothing between
 * a pending answer and its poll but the request itself: poll_state is
 * NULL.
 */
#include "config.h"

#include "enroll/signet-connector.h"
#include "enroll/signet-est.h"
#include "enroll/signet-x509.h"

#include <string.h>

/* Sample values a template is checked with (as signet-profile.c does). */
#define SAMPLE_REFERENCE "REF-0001"
#define SAMPLE_SERIAL    "0123456789abcdef"

typedef struct
{
  const SignetProfile *profile;
  SignetEst *est;
} EstConnector;

static const char *const est_keys[]
    = { "username", "reenroll-username", "reenroll-password", NULL };

/* TRUE if @text has a control character (none goes into an HTTP header). */
static gboolean
has_control(const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar)*p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

/* [est] reenroll-username and reenroll-password: both or neither. */
static gboolean
check_reenroll_auth(GHashTable *settings, SignetConnectorReport report, gpointer data)
{
  const char *user = g_hash_table_lookup(settings, "reenroll-username");
  const char *password = g_hash_table_lookup(settings, "reenroll-password");

  if (user == NULL && password == NULL)
    return TRUE;
  if (user == NULL || password == NULL) {
    report(user != NULL ? "reenroll-username" : "reenroll-password",
           user != NULL ? "reenroll-username: set without reenroll-password: the CA's "
                          "credentials for renewal are both or neither"
                        : "reenroll-password: set without reenroll-username: the CA's "
                          "credentials for renewal are both or neither",
           data);
    return FALSE;
  }
  if (*user == '\0' || strchr(user, ':') != NULL || has_control(user)) {
    report("reenroll-username",
           "reenroll-username: an HTTP user name is not empty and holds no ':' or control "
           "character (RFC 7617); write it as your CA gave it",
           data);
    return FALSE;
  }
  if (*password == '\0' || has_control(password) || strlen(password) > SIGNET_SECRET_MAX) {
    report("reenroll-password",
           "reenroll-password: not empty, no control character, at most 256 bytes; write it "
           "as your CA gave it",
           data);
    return FALSE;
  }
  return TRUE;
}

static gboolean
est_check_settings(GHashTable *settings, SignetConnectorReport report, gpointer data)
{
  const char *user = g_hash_table_lookup(settings, "username");
  g_autoptr(GError) local = NULL;
  g_autofree char *expanded = NULL;
  gboolean ok = check_reenroll_auth(settings, report, data);

  if (user == NULL) {
    g_hash_table_insert(settings, g_strdup("username"), g_strdup("${reference}"));
    return ok;
  }
  expanded = signet_profile_expand(user, SAMPLE_REFERENCE, SAMPLE_SERIAL, &local);
  if (expanded == NULL) {
    g_autofree char *message = g_strdup_printf("username: %s", local->message);

    report("username", message, data);
    return FALSE;
  }
  if (*expanded == '\0' || strchr(expanded, ':') != NULL) {
    report("username",
           "username: an HTTP user name is not empty and holds no ':' (RFC 7617); "
           "write for example username = ${reference}",
           data);
    return FALSE;
  }
  return ok;
}

static gpointer
est_open(const SignetProfile *profile, GError **error)
{
  SignetEstConfig config = {
    .url = profile->url,
    .trust_anchors = profile->trust_anchors,
    .connect_timeout = profile->connect_timeout,
    .timeout = profile->timeout,
  };
  SignetEst *est = signet_est_new(&config, error);
  EstConnector *self;
  const char *user = NULL, *password = NULL;

  if (est == NULL)
    return NULL;
  if (profile->settings != NULL) {
    user = g_hash_table_lookup(profile->settings, "reenroll-username");
    password = g_hash_table_lookup(profile->settings, "reenroll-password");
  }
  if (user != NULL && password != NULL) {
    g_autoptr(SignetSecret) secret = signet_secret_new(password, strlen(password));

    signet_est_set_reenroll_auth(est, user, secret);
  }
  self = g_new0(EstConnector, 1);
  self->profile = profile;
  self->est = est;
  return self;
}

static void
est_close(gpointer impl)
{
  EstConnector *self = impl;

  signet_est_free(self->est);
  g_free(self);
}

static GPtrArray *
est_ca_certs(gpointer impl, GError **error)
{
  EstConnector *self = impl;

  return signet_est_get_cacerts(self->est, error);
}

/* HTTP Basic from the holder's reference and code ([est] username). */
static gboolean
set_code(EstConnector *self, const SignetConnectorCode *code, GError **error)
{
  const char *template_ = NULL;
  g_autofree char *user = NULL;

  if (self->profile->settings != NULL)
    template_ = g_hash_table_lookup(self->profile->settings, "username");
  user = signet_profile_expand(template_ != NULL ? template_ : "${reference}", code->reference,
                               code->token_serial != NULL ? code->token_serial : "", error);
  if (user == NULL)
    return FALSE;
  signet_est_set_basic_auth(self->est, user, code->code);
  return TRUE;
}

static SignetSubjectHint *
est_subject_hint(gpointer impl, const SignetConnectorCode *code,
                 const SignetConnectorIdentity *identity, GError **error)
{
  EstConnector *self = impl;
  g_autoptr(SignetEstCsrAttrs) attrs = NULL;
  SignetSubjectHint *hint;

  if (code != NULL && !set_code(self, code, error))
    return NULL;
  /* Before a renewal: as /simplereenroll, with the current certificate. */
  if (identity != NULL
      && !signet_est_set_client_identity(self->est, identity->cert, identity->key, error))
    return NULL;
  attrs = signet_est_get_csr_attrs(self->est, error);
  if (attrs == NULL)
    return NULL;
  hint = g_new0(SignetSubjectHint, 1);
  hint->subject = g_steal_pointer(&attrs->subject);
  hint->key_type = g_steal_pointer(&attrs->key_type);
  hint->hash = g_steal_pointer(&attrs->hash);
  hint->challenge_password = attrs->challenge_password;
  hint->oids = attrs->oids != NULL ? g_steal_pointer(&attrs->oids) : g_new0(char *, 1);
  return hint;
}

/* SignetEstResult → SignetAnswer. */
static SignetAnswer *
answer_from(SignetEstResult *result)
{
  SignetAnswer *answer;

  if (result == NULL)
    return NULL;
  answer = g_new0(SignetAnswer, 1);
  answer->status
      = result->status == SIGNET_EST_ISSUED ? SIGNET_ANSWER_ISSUED : SIGNET_ANSWER_PENDING;
  answer->certs = g_steal_pointer(&result->certs);
  answer->retry_at = g_steal_pointer(&result->retry_at);
  answer->message = g_steal_pointer(&result->message);
  signet_est_result_free(result);
  return answer;
}

static SignetAnswer *
est_enroll(gpointer impl, const SignetConnectorCode *code, const char *csr_pem,
           EVP_PKEY *request_key, GError **error)
{
  EstConnector *self = impl;

  (void)request_key; /* EST's proof of possession is the request's signature */
  if (!set_code(self, code, error))
    return NULL;
  return answer_from(signet_est_simple_enroll(self->est, csr_pem, error));
}

static SignetAnswer *
est_reenroll(gpointer impl, const SignetConnectorIdentity *identity, const char *csr_pem,
             EVP_PKEY *request_key, GError **error)
{
  EstConnector *self = impl;

  (void)request_key;
  if (!signet_est_set_client_identity(self->est, identity->cert, identity->key, error))
    return NULL;
  return answer_from(signet_est_simple_reenroll(self->est, csr_pem, error));
}

static SignetAnswer *
est_poll(gpointer impl, const SignetConnectorPoll *poll, GError **error)
{
  EstConnector *self = impl;

  if (!poll->renewal) {
    if (poll->code == NULL) {
      g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                          "An EST CA is asked about a pending activation with the activation "
                          "code again: run the activation again with the same reference and "
                          "code");
      return NULL;
    }
    return est_enroll(impl, poll->code, poll->csr_pem, NULL, error);
  }
  if (poll->identity != NULL
      && !signet_est_set_client_identity(self->est, poll->identity->cert, poll->identity->key,
                                         error))
    return NULL;
  return answer_from(signet_est_poll_reenroll(self->est, poll->csr_pem, error));
}

extern const SignetConnectorClass signet_est_connector_class;
const SignetConnectorClass signet_est_connector_class = {
  .name = "est",
  .description = "EST (RFC 7030)",
  .keys = est_keys,
  .check_settings = est_check_settings,
  .open = est_open,
  .close = est_close,
  .ca_certs = est_ca_certs,
  .subject_hint = est_subject_hint,
  .enroll = est_enroll,
  .reenroll = est_reenroll,
  .poll = est_poll,
};
