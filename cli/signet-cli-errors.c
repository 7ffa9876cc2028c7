/* signet-cli-errors.c: see signet-cli-errors.h. */
#include "config.h"

#include "cli/signet-cli-errors.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cli/signet-cli-output.h"
#include "libsignet/signet-client.h"

G_DEFINE_QUARK(signet - cli - error - quark, signet_cli_error)

#define PREFIX "io.signet.Error."

/* The exit status of each kind of error (the kinds of the io.signet.Error.*
 * names: libsignet/signet-client.c); any kind not here exits 1.
 * docs/check-man.sh reads both tables. */
static const struct
{
  SignetClientErrorKind kind;
  int exit_code;
} exit_codes[] = {
  { SIGNET_CLIENT_ERROR_INVALID_ARGS, SIGNET_EXIT_USAGE },
  { SIGNET_CLIENT_ERROR_PIN_INCORRECT, SIGNET_EXIT_WRONG_SECRET },
  { SIGNET_CLIENT_ERROR_PUK_INCORRECT, SIGNET_EXIT_WRONG_SECRET },
  { SIGNET_CLIENT_ERROR_PIN_LOCKED, SIGNET_EXIT_LOCKED },
  { SIGNET_CLIENT_ERROR_PUK_LOCKED, SIGNET_EXIT_LOCKED },
  { SIGNET_CLIENT_ERROR_NO_TOKEN, SIGNET_EXIT_NO_TOKEN },
  { SIGNET_CLIENT_ERROR_BUSY, SIGNET_EXIT_BUSY },
  { SIGNET_CLIENT_ERROR_PENDING, SIGNET_EXIT_PENDING },
  { SIGNET_CLIENT_ERROR_CA_UNAVAILABLE, SIGNET_EXIT_CA_UNAVAILABLE },
  { SIGNET_CLIENT_ERROR_EXPIRED, SIGNET_EXIT_EXPIRED },
  { SIGNET_CLIENT_ERROR_NOT_AUTHORIZED, SIGNET_EXIT_NOT_AUTHORIZED },
};

static int
exit_code_for_kind(SignetClientErrorKind kind)
{
  for (gsize i = 0; i < G_N_ELEMENTS(exit_codes); i++)
    if (exit_codes[i].kind == kind)
      return exit_codes[i].exit_code;
  return SIGNET_EXIT_FAILURE;
}

int
signet_cli_exit_code_for_name(const char *name)
{
  return exit_code_for_kind(signet_client_error_kind_for_name(name));
}

static const char *
cli_error_name(int code)
{
  switch ((SignetCliError)code) {
    case SIGNET_CLI_ERROR_USAGE:
      return PREFIX "InvalidArgs";
    case SIGNET_CLI_ERROR_BAD_INPUT:
      return PREFIX "BadInput";
    case SIGNET_CLI_ERROR_EXPIRED:
      return PREFIX "CertificateExpired";
    case SIGNET_CLI_ERROR_FAILED:
      break;
  }
  return PREFIX "Failed";
}

int
signet_cli_report_error(const GError *error, gboolean json)
{
  g_autoptr(GError) copy = g_error_copy(error);
  g_autofree char *remote = NULL;
  const char *name;
  int code;

  if (copy->domain == SIGNET_CLIENT_ERROR) {
    name = signet_client_error_name((SignetClientErrorKind)copy->code);
    code = exit_code_for_kind((SignetClientErrorKind)copy->code);
  } else if (copy->domain == SIGNET_CLI_ERROR) {
    name = cli_error_name(copy->code);
    code = copy->code == SIGNET_CLI_ERROR_USAGE ? SIGNET_EXIT_USAGE
                                                : signet_cli_exit_code_for_name(name);
  } else {
    remote = g_dbus_error_get_remote_error(copy);
    g_dbus_error_strip_remote_error(copy);
    name = remote != NULL ? remote : PREFIX "Failed";
    code = signet_cli_exit_code_for_name(remote);
  }

  /* One line: a message never spans several. */
  g_strdelimit(copy->message, "\r\n", ' ');
  if (json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, name);
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, copy->message);
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    signet_cli_print_json(root);
  }
  g_printerr("signet: %s\n", copy->message);
  return code;
}
