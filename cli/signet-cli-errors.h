/* signet-cli-errors.h: how the CLI reports a failure: exit codes from the
 * io.signet.Error.* names, the one "signet: MESSAGE" line on stderr, and
 * the {"error": …} JSON document.
 *
 * Owns: the error kind → exit code table (the kinds: libsignet/).
 * May call: libsignet/, GLib/GIO, json-glib.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Exit codes of every command (the CLI contract). */
enum
{
  SIGNET_EXIT_OK = 0,
  SIGNET_EXIT_FAILURE = 1,
  SIGNET_EXIT_USAGE = 2,
  SIGNET_EXIT_WRONG_SECRET = 3,   /* wrong PIN or PUK */
  SIGNET_EXIT_LOCKED = 4,         /* PIN or PUK locked */
  SIGNET_EXIT_NO_TOKEN = 5,       /* no such token, or token removed */
  SIGNET_EXIT_BUSY = 6,           /* token busy with another operation */
  SIGNET_EXIT_PENDING = 7,        /* the CA issues later: run the same command again then */
  SIGNET_EXIT_CA_UNAVAILABLE = 8, /* the CA cannot be reached or is unavailable: try later */
  SIGNET_EXIT_EXPIRED = 9,        /* the certificate has expired: renewal is no longer possible */
  /* the agent refuses this caller (a sandbox, another user): run it from the user's session */
  SIGNET_EXIT_NOT_AUTHORIZED = 10,
};

#define SIGNET_CLI_ERROR (signet_cli_error_quark())
GQuark signet_cli_error_quark(void);

/* The CLI's own failures, before or instead of asking the agent. Each code
 * is reported under the io.signet.Error.* name it stands for; refusals by
 * the client rule (a locked PIN, a final try not confirmed) are in
 * SIGNET_CLIENT_ERROR (libsignet/signet-client.h). */
typedef enum
{
  SIGNET_CLI_ERROR_FAILED,    /* io.signet.Error.Failed */
  SIGNET_CLI_ERROR_USAGE,     /* io.signet.Error.InvalidArgs, exit 2 */
  SIGNET_CLI_ERROR_BAD_INPUT, /* io.signet.Error.BadInput */
  SIGNET_CLI_ERROR_EXPIRED,   /* io.signet.Error.CertificateExpired, exit 9 */
} SignetCliError;

/* The exit code for an io.signet.Error.* name (1 for any other name). */
int signet_cli_exit_code_for_name(const char *name);

/* Reports @error (a D-Bus error from the agent, a CLI error, or any other)
 * and returns the exit code: "signet: MESSAGE" on stderr, and with @json
 * also {"error":{"name":…,"message":…}} on stdout. */
int signet_cli_report_error(const GError *error, gboolean json);

G_END_DECLS
