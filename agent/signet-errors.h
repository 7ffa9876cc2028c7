/* signet-errors.h: the agent's error domain, and every layer's errors as
 * io.signet.Error.* D-Bus names (one name per code, docs/dbus-api.md).
 *
 * Owns: SIGNET_AGENT_ERROR; the GError → D-Bus name table.
 * May call: GLib/GIO, pkcs11/ and enroll/ (their error quarks; a session's
 * token re-read, to tell a pulled token).
 */
#pragma once

#include <gio/gio.h>

#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

#define SIGNET_AGENT_ERROR (signet_agent_error_quark())
GQuark signet_agent_error_quark(void);

typedef enum
{
  SIGNET_AGENT_ERROR_FAILED,       /* io.signet.Error.Failed */
  SIGNET_AGENT_ERROR_BUSY,         /* io.signet.Error.Busy: another operation runs on the token */
  SIGNET_AGENT_ERROR_INVALID_ARGS, /* io.signet.Error.InvalidArgs */
  SIGNET_AGENT_ERROR_PENDING,      /* io.signet.Error.Pending: the CA issues later */
  SIGNET_AGENT_ERROR_EXPIRED,      /* io.signet.Error.CertificateExpired: too late to renew */
  /* io.signet.Error.NotAuthorized: a sandbox or another user (signet-caller.h) */
  SIGNET_AGENT_ERROR_NOT_AUTHORIZED,
  /* io.signet.Error.CertificateExists: the key already has another
   * certificate (ImportCertificate without "replace") */
  SIGNET_AGENT_ERROR_CERTIFICATE_EXISTS,
} SignetAgentError;

/* Registers SIGNET_AGENT_ERROR, SIGNET_P11_ERROR and SIGNET_ENROLL_ERROR
 * as D-Bus errors, so that clients get the same domains back. Idempotent. */
void signet_errors_register(void);

/* The io.signet.Error.* name for @error. Codes that share a name (every
 * layer's FAILED) all map to io.signet.Error.Failed, as does any other domain. */
const char *signet_errors_dbus_name(const GError *error);

/* Returns @error on @invocation under its io.signet.Error.* name. */
void signet_errors_return(GDBusMethodInvocation *invocation, const GError *error);

/* An operation failed with *@error: when @session's token has left its slot
 * meanwhile (the CA's answer could not be decrypted, a write failed), the
 * error becomes SIGNET_P11_ERROR_TOKEN_REMOVED (io.signet.Error.TokenRemoved,
 * the CLI's exit 5) that keeps what *@error said and tells the holder to plug
 * the token in and run the same @operation ("activation", "renewal"). An
 * error that says so already, or a token still there, is left as it is. */
void signet_errors_recode_if_removed(SignetP11Session *session, const char *operation,
                                     GError **error);

G_END_DECLS
