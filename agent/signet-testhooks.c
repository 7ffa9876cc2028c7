/* signet-testhooks.c: see signet-testhooks.h. */
#include "config.h"

#include "agent/signet-testhooks.h"

#ifdef SIGNET_FAULT_INJECTION
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/signet-state.h"
#include "enroll/signet-connector.h"
#endif

gboolean
signet_testhooks_compiled_in(void)
{
#ifdef SIGNET_FAULT_INJECTION
  return TRUE;
#else
  return FALSE;
#endif
}

#ifdef SIGNET_FAULT_INJECTION
/* The PKCS#11 shim's fault file gets "* remove": the token is pulled. */
static void
pull_token(const char *step)
{
  const char *dir = g_getenv("SIGNET_SHIM_STATE");
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (dir == NULL || *dir == '\0') {
    g_warning("fault %s:remove: SIGNET_SHIM_STATE is not set; nothing pulled", step);
    return;
  }
  path = g_build_filename(dir, "fault", NULL);
  if (!g_file_set_contents(path, "* remove\n", -1, &error))
    g_warning("fault %s:remove: %s", step, error->message);
}
#endif

void
signet_fault_point(const char *step)
{
#ifdef SIGNET_FAULT_INJECTION
  static gint fired;
  const char *spec = g_getenv("SIGNET_FAULT");
  const char *colon;
  const char *kind;

  if (spec == NULL || (colon = strrchr(spec, ':')) == NULL)
    return;
  if ((gsize)(colon - spec) != strlen(step) || strncmp(spec, step, strlen(step)) != 0)
    return;
  if (!g_atomic_int_compare_and_exchange(&fired, 0, 1))
    return;
  kind = colon + 1;
  g_message("fault injected: %s at step %s", kind, step);
  if (strcmp(kind, "crash") == 0) {
    raise(SIGKILL);
    _exit(137); /* not reached */
  } else if (strcmp(kind, "remove") == 0) {
    pull_token(step);
  } else if (strcmp(kind, "ca-down") == 0) {
    signet_connector_set_unreachable(TRUE);
  } else if (strcmp(kind, "disk-full") == 0) {
    signet_state_set_disk_full(TRUE);
  } else {
    g_warning("SIGNET_FAULT: unknown kind '%s' (crash, remove, ca-down, disk-full)", kind);
  }
#else
  (void)step;
#endif
}
