/* signet-cli-errors.c: see signet-cli-errors.h. */
#include "config.h"

#include "cli/signet-cli-errors.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cli/signet-cli-output.h"

G_DEFINE_QUARK(signet - cli - error - quark, signet_cli_error)

#define PREFIX "io.signet.Error."

static const struct
{
  const char *name;
  int exit_code;
} exit_codes[] = {
  { PREFIX "InvalidArgs", SIGNET_EXIT_USAGE },
  { PREFIX "BadUri", SIGNET_EXIT_USAGE },
  { PREFIX "PinIncorrect", SIGNET_EXIT_WRONG_SECRET },
  { PREFIX "PukIncorrect", SIGNET_EXIT_WRONG_SECRET },
  { PREFIX "PinLocked", SIGNET_EXIT_LOCKED },
  { PREFIX "PukLocked", SIGNET_EXIT_LOCKED },
  { PREFIX "NoSuchToken", SIGNET_EXIT_NO_TOKEN },
  { PREFIX "TokenRemoved", SIGNET_EXIT_NO_TOKEN },
  { PREFIX "Busy", SIGNET_EXIT_BUSY },
  { PREFIX "Pending", SIGNET_EXIT_PENDING },
  { PREFIX "CaNotFound", SIGNET_EXIT_CA_UNAVAILABLE },
  { PREFIX "CaUnreachable", SIGNET_EXIT_CA_UNAVAILABLE },
  { PREFIX "CaTimeout", SIGNET_EXIT_CA_UNAVAILABLE },
  { PREFIX "CaUnavailable", SIGNET_EXIT_CA_UNAVAILABLE },
  { PREFIX "CertificateExpired", SIGNET_EXIT_EXPIRED },
  { PREFIX "NotAuthorized", SIGNET_EXIT_NOT_AUTHORIZED },
};

int
signet_cli_exit_code_for_name(const char *name)
{
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS(exit_codes); i++)
    if (g_str_equal(name, exit_codes[i].name))
      return exit_codes[i].exit_code;
  return SIGNET_EXIT_FAILURE;
}

static const char *
cli_error_name(int code)
{
  switch ((SignetCliError)code) {
    case SIGNET_CLI_ERROR_USAGE:
      return PREFIX "InvalidArgs";
    case SIGNET_CLI_ERROR_PIN_LOCKED:
      return PREFIX "PinLocked";
    case SIGNET_CLI_ERROR_PUK_LOCKED:
      return PREFIX "PukLocked";
    case SIGNET_CLI_ERROR_FINAL_TRY:
      return PREFIX "FinalTry";
    case SIGNET_CLI_ERROR_BAD_INPUT:
      return PREFIX "BadInput";
    case SIGNET_CLI_ERROR_NOT_SUPPORTED:
      return PREFIX "NotSupported";
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

  if (copy->domain == SIGNET_CLI_ERROR) {
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
