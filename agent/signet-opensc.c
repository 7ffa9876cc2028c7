/* signet-opensc.c: see signet-opensc.h. */
#include "config.h"

#include "agent/signet-opensc.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "agent/signet-errors.h"

static gboolean
make_private_dir(const char *dir, GError **error)
{
  GStatBuf st;

  if (g_mkdir_with_parents(dir, 0700) != 0) {
    int saved = errno;
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                "Could not create the directory %s: %s", dir, g_strerror(saved));
    return FALSE;
  }
  if (g_stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED, "%s is not a directory", dir);
    return FALSE;
  }
  if ((st.st_mode & 0777) != 0700 && g_chmod(dir, 0700) != 0) {
    int saved = errno;
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                "Could not make %s private (mode 0700): %s", dir, g_strerror(saved));
    return FALSE;
  }
  return TRUE;
}

gboolean
signet_opensc_prepare(const char *runtime_dir, const char *system_conf, char **out_path,
                      GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *system_text = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GString) text = NULL;
  const char *current = g_getenv("OPENSC_CONF");
  const char *source;

  if (runtime_dir == NULL)
    runtime_dir = g_get_user_runtime_dir();
  dir = g_build_filename(runtime_dir, "signet", NULL);
  path = g_build_filename(dir, "opensc.conf", NULL);

  if (current != NULL && *current != '\0' && g_strcmp0(current, path) != 0)
    source = current;
  else
    source = system_conf != NULL ? system_conf : SIGNET_OPENSC_SYSTEM_CONF;

  if (g_strcmp0(current, path) == 0 && g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
    /* Inherited from an earlier agent: that file already holds our block
     * and the system config; appending it to itself would repeat both. */
    g_debug("OPENSC_CONF already names %s", path);
    if (out_path != NULL)
      *out_path = g_steal_pointer(&path);
    return TRUE;
  }

  if (!make_private_dir(dir, error))
    return FALSE;

  text = g_string_new("# Written by signetd for its own process; do not edit.\n"
                      "# PUK unblock through C_SetPIN in a logged-out session:\n");
  g_string_append(text, SIGNET_OPENSC_BLOCK);
  if (!g_file_get_contents(source, &system_text, NULL, &local)) {
    if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                  "Could not read OpenSC's configuration %s: %s", source, local->message);
      return FALSE;
    }
    g_debug("no OpenSC configuration at %s; writing only our block", source);
    g_clear_error(&local);
  } else {
    g_string_append_printf(text, "\n# The system's configuration, from %s:\n", source);
    g_string_append(text, system_text);
    if (text->len > 0 && text->str[text->len - 1] != '\n')
      g_string_append_c(text, '\n');
  }

  if (!g_file_set_contents_full(path, text->str, (gssize)text->len, G_FILE_SET_CONTENTS_CONSISTENT,
                                0600, &local)) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED, "Could not write %s: %s",
                path, local->message);
    return FALSE;
  }
  if (!g_setenv("OPENSC_CONF", path, TRUE)) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED, "Could not set OPENSC_CONF");
    return FALSE;
  }
  g_debug("OpenSC configuration for this process: %s (system part from %s)", path, source);
  if (out_path != NULL)
    *out_path = g_steal_pointer(&path);
  return TRUE;
}
