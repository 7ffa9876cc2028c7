/* signet-cli-monitor.c: see signet-cli-monitor.h. (Being written.) */
#include "config.h"

#include "cli/signet-cli-monitor.h"

#include "cli/signet-cli-errors.h"

gboolean
signet_cli_monitor(SignetAgent1 *proxy, gboolean json, GError **error)
{
  g_set_error_literal(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_NOT_SUPPORTED,
                      "signet monitor is not available yet");
  return FALSE;
}
