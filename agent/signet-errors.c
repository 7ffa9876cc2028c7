/* signet-errors.c: see signet-errors.h. */
#include "config.h"

#include "agent/signet-errors.h"

#include "enroll/signet-x509.h"
#include "pkcs11/signet-p11.h"

G_DEFINE_QUARK(signet - agent - error - quark, signet_agent_error)

#define PREFIX "io.signet.Error."

typedef struct
{
  int code;
  const char *name;
} ErrorName;

static const ErrorName agent_names[] = {
  { SIGNET_AGENT_ERROR_FAILED, PREFIX "Failed" },
  { SIGNET_AGENT_ERROR_BUSY, PREFIX "Busy" },
  { SIGNET_AGENT_ERROR_INVALID_ARGS, PREFIX "InvalidArgs" },
  { SIGNET_AGENT_ERROR_PENDING, PREFIX "Pending" },
  { SIGNET_AGENT_ERROR_EXPIRED, PREFIX "CertificateExpired" },
  { SIGNET_AGENT_ERROR_NOT_AUTHORIZED, PREFIX "NotAuthorized" },
  { SIGNET_AGENT_ERROR_CERTIFICATE_EXISTS, PREFIX "CertificateExists" },
};

static const ErrorName p11_names[] = {
  { SIGNET_P11_ERROR_FAILED, PREFIX "Failed" },
  { SIGNET_P11_ERROR_MODULE, PREFIX "Module" },
  { SIGNET_P11_ERROR_NO_SUCH_TOKEN, PREFIX "NoSuchToken" },
  { SIGNET_P11_ERROR_AMBIGUOUS_TOKEN, PREFIX "AmbiguousToken" },
  { SIGNET_P11_ERROR_PIN_INCORRECT, PREFIX "PinIncorrect" },
  { SIGNET_P11_ERROR_PIN_LOCKED, PREFIX "PinLocked" },
  { SIGNET_P11_ERROR_PIN_INVALID, PREFIX "PinInvalid" },
  { SIGNET_P11_ERROR_PUK_INCORRECT, PREFIX "PukIncorrect" },
  { SIGNET_P11_ERROR_PUK_LOCKED, PREFIX "PukLocked" },
  { SIGNET_P11_ERROR_TOKEN_REMOVED, PREFIX "TokenRemoved" },
  { SIGNET_P11_ERROR_NOT_SUPPORTED, PREFIX "NotSupported" },
  { SIGNET_P11_ERROR_NO_MATCHING_KEY, PREFIX "NoMatchingKey" },
  { SIGNET_P11_ERROR_NO_SUCH_OBJECT, PREFIX "NoSuchObject" },
  { SIGNET_P11_ERROR_TOKEN_FULL, PREFIX "TokenFull" },
  { SIGNET_P11_ERROR_READ_ONLY, PREFIX "ReadOnly" },
  { SIGNET_P11_ERROR_FINAL_TRY, PREFIX "FinalTry" },
  { SIGNET_P11_ERROR_BAD_URI, PREFIX "BadUri" },
};

static const ErrorName enroll_names[] = {
  { SIGNET_ENROLL_ERROR_FAILED, PREFIX "Failed" },
  { SIGNET_ENROLL_ERROR_BAD_INPUT, PREFIX "BadInput" },
  { SIGNET_ENROLL_ERROR_BAD_SUBJECT, PREFIX "BadSubject" },
  { SIGNET_ENROLL_ERROR_RESOLVE, PREFIX "CaNotFound" },
  { SIGNET_ENROLL_ERROR_CONNECT, PREFIX "CaUnreachable" },
  { SIGNET_ENROLL_ERROR_TLS, PREFIX "CaNotTrusted" },
  { SIGNET_ENROLL_ERROR_TIMEOUT, PREFIX "CaTimeout" },
  { SIGNET_ENROLL_ERROR_CODE_REJECTED, PREFIX "CodeRejected" },
  { SIGNET_ENROLL_ERROR_CODE_EXPIRED, PREFIX "CodeExpired" },
  { SIGNET_ENROLL_ERROR_REFUSED, PREFIX "CaRefused" },
  { SIGNET_ENROLL_ERROR_UNAVAILABLE, PREFIX "CaUnavailable" },
  { SIGNET_ENROLL_ERROR_BAD_RESPONSE, PREFIX "CaResponse" },
  { SIGNET_ENROLL_ERROR_PROFILE, PREFIX "Profile" },
  { SIGNET_ENROLL_ERROR_CERT_MISMATCH, PREFIX "CertificateMismatch" },
};

static const char *
lookup(const ErrorName *names, gsize n, int code)
{
  for (gsize i = 0; i < n; i++)
    if (names[i].code == code)
      return names[i].name;
  return NULL;
}

static void
register_names(GQuark domain, const ErrorName *names, gsize n)
{
  for (gsize i = 0; i < n; i++)
    /* A D-Bus name maps back to one (domain, code) only: the first
     * registration of "Failed" (the agent's) wins, the others are mapped
     * by signet_errors_dbus_name() when returned. */
    (void)g_dbus_error_register_error(domain, names[i].code, names[i].name);
}

void
signet_errors_register(void)
{
  static gsize done = 0;

  if (g_once_init_enter(&done)) {
    register_names(SIGNET_AGENT_ERROR, agent_names, G_N_ELEMENTS(agent_names));
    register_names(SIGNET_P11_ERROR, p11_names, G_N_ELEMENTS(p11_names));
    register_names(SIGNET_ENROLL_ERROR, enroll_names, G_N_ELEMENTS(enroll_names));
    g_once_init_leave(&done, 1);
  }
}

const char *
signet_errors_dbus_name(const GError *error)
{
  const char *name = NULL;

  g_return_val_if_fail(error != NULL, PREFIX "Failed");
  if (error->domain == SIGNET_AGENT_ERROR)
    name = lookup(agent_names, G_N_ELEMENTS(agent_names), error->code);
  else if (error->domain == SIGNET_P11_ERROR)
    name = lookup(p11_names, G_N_ELEMENTS(p11_names), error->code);
  else if (error->domain == SIGNET_ENROLL_ERROR)
    name = lookup(enroll_names, G_N_ELEMENTS(enroll_names), error->code);
  return name != NULL ? name : PREFIX "Failed";
}

void
signet_errors_return(GDBusMethodInvocation *invocation, const GError *error)
{
  g_dbus_method_invocation_return_dbus_error(invocation, signet_errors_dbus_name(error),
                                             error->message);
}

void
signet_errors_recode_if_removed(SignetP11Session *session, const char *operation, GError **error)
{
  g_autoptr(GError) local = NULL;
  GError *removed;

  if (error == NULL || *error == NULL || session == NULL
      || g_error_matches(*error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_TOKEN_REMOVED))
    return;
  if (signet_p11_session_refresh_token(session, &local)
      || !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_TOKEN_REMOVED))
    return;
  removed = g_error_new(SIGNET_P11_ERROR, SIGNET_P11_ERROR_TOKEN_REMOVED,
                        "%s. The token is no longer in its slot: it was removed during the %s. "
                        "Plug it in again and run the same %s: Signet finishes or rolls back "
                        "what was half done",
                        (*error)->message, operation, operation);
  g_clear_error(error);
  *error = removed;
}
