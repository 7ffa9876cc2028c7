/* signetd.c: the agent's main(): options, configuration, OpenSC setting,
 * token context, the bus name io.signet.Agent and the main loop.
 *
 * Runs in the foreground on the session bus DBUS_SESSION_BUS_ADDRESS names,
 * until SIGTERM or SIGINT, until another process takes the name or the bus
 * goes away, or until it has been idle for the idle timeout (--idle-timeout,
 * or idle-timeout= in the [agent] group of signet.conf; 0: never; see
 * signet-hotplug.h for what idle means). Operations still running then are
 * let finish first. D-Bus activation starts it again on demand.
 */
#include "config.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/signet-agent.h"
#include "agent/signet-config.h"
#include "agent/signet-errors.h"
#include "agent/signet-hotplug.h"
#include "agent/signet-opensc.h"

typedef struct
{
  GMainLoop *loop;
  SignetAgent *agent;
  SignetHotplug *hotplug;
  GDBusConnection *connection; /* to flush the last answers before exiting */
  gboolean acquired;
  int exit_status;
} Daemon;

static gboolean
on_signal_cb(gpointer user_data)
{
  Daemon *d = user_data;

  g_message("signal received; stopping");
  g_main_loop_quit(d->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_acquired_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
  Daemon *d = user_data;
  g_autoptr(GError) error = NULL;

  g_set_object(&d->connection, connection);
  if (!signet_agent_export(d->agent, connection, &error)) {
    g_printerr("signetd: could not export %s: %s\n", SIGNET_AGENT_OBJECT_PATH, error->message);
    d->exit_status = EXIT_FAILURE;
    g_main_loop_quit(d->loop);
  }
}

static void
on_name_acquired_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
  Daemon *d = user_data;

  d->acquired = TRUE;
  g_debug("owns %s on the session bus", name);
  /* Signals go out from now on: clients match on the name. */
  signet_hotplug_start(d->hotplug);
}

static void
on_name_lost_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
  Daemon *d = user_data;

  if (connection == NULL)
    g_printerr("signetd: could not connect to the session bus (is DBUS_SESSION_BUS_ADDRESS "
               "set?)\n");
  else if (!d->acquired)
    g_printerr("signetd: the name %s is owned by another process (another signetd?)\n", name);
  else
    g_message("lost the name %s; stopping", name);
  if (!d->acquired || connection == NULL)
    d->exit_status = EXIT_FAILURE;
  g_main_loop_quit(d->loop);
}

static gboolean
on_idle_cb(gpointer user_data)
{
  Daemon *d = user_data;

  g_main_loop_quit(d->loop);
  return G_SOURCE_REMOVE;
}

#define DEFAULT_IDLE_TIMEOUT 600
#define GROUP_AGENT          "agent"
#define KEY_IDLE_TIMEOUT     "idle-timeout"

/* idle-timeout= in the [agent] group (signet-config.c reads only
 * [pkcs11]): seconds, 0 for never; absent: the default. */
static gboolean
read_idle_timeout(const SignetConfig *config, guint *out_seconds, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) local = NULL;
  g_autofree char *value = NULL;
  guint64 n;

  if (!config->loaded)
    return TRUE;
  if (!g_key_file_load_from_file(kf, config->path, G_KEY_FILE_NONE, error))
    return FALSE;
  value = g_key_file_get_value(kf, GROUP_AGENT, KEY_IDLE_TIMEOUT, &local);
  if (value == NULL)
    return TRUE;
  g_strstrip(value);
  if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT / 1000, &n, NULL)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s: " KEY_IDLE_TIMEOUT "=\"%s\" in [" GROUP_AGENT
                "] is not a number of seconds (0 for never)",
                config->path, value);
    return FALSE;
  }
  *out_seconds = (guint)n;
  return TRUE;
}

/* --verbose shows the debug messages of Signet's own domains; other
 * libraries' follow G_MESSAGES_DEBUG as usual. */
static GLogWriterOutput
log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  gboolean verbose = GPOINTER_TO_INT(user_data);

  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) != 0) {
    const char *domain = NULL;

    for (gsize i = 0; i < n_fields; i++)
      if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
        domain = fields[i].value;
    if (!(verbose && domain != NULL && g_str_has_prefix(domain, "signet"))
        && g_log_writer_default_would_drop(level, domain))
      return G_LOG_WRITER_HANDLED;
  }
  if (g_log_writer_is_journald(fileno(stderr)))
    return g_log_writer_journald(level, fields, n_fields, NULL);
  return g_log_writer_standard_streams(level, fields, n_fields, NULL);
}

int
main(int argc, char **argv)
{
  gboolean verbose = FALSE, version = FALSE;
  gint idle_option = -1;
  guint idle_timeout = DEFAULT_IDLE_TIMEOUT;
  GOptionEntry entries[] = {
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_option,
      "Exit after SECONDS idle: no card, no client watching, no call (default 600; 0: never)",
      "SECONDS" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetConfig) config = NULL;
  g_autoptr(GError) ctx_error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  SignetP11Context *ctx;
  Daemon d = { 0 };
  guint owner_id, sigterm_id, sigint_id;

  setlocale(LC_ALL, "");
  options = g_option_context_new(NULL);
  g_option_context_set_summary(
      options, "The Signet agent: token operations over D-Bus as " SIGNET_AGENT_BUS_NAME
               " on the session bus.");
  g_option_context_add_main_entries(options, entries, NULL);
  if (!g_option_context_parse(options, &argc, &argv, &error)) {
    g_printerr("signetd: %s (see signetd --help)\n", error->message);
    return 2;
  }
  if (version) {
    g_print("signetd %s\n", PACKAGE_VERSION);
    return 0;
  }
  if (argc > 1) {
    g_printerr("signetd: unexpected argument '%s' (see signetd --help)\n", argv[1]);
    return 2;
  }
  if (idle_option < -1 || idle_option > (gint)(G_MAXUINT / 1000)) {
    g_printerr("signetd: --idle-timeout takes a number of seconds, 0 for never\n");
    return 2;
  }
  /* Every log line on stderr, unbuffered: journald or the caller's file. */
  g_log_writer_default_set_use_stderr(TRUE);
  g_log_set_writer_func(log_writer, GINT_TO_POINTER(verbose), NULL);
  /* A dead client socket must not kill the agent. */
  signal(SIGPIPE, SIG_IGN);

  config = signet_config_load(NULL, &error);
  if (config == NULL) {
    g_printerr("signetd: %s\n", error->message);
    return 1;
  }
  g_debug("configuration %s%s; module %s; unblock method %s", config->path,
          config->loaded ? "" : " (absent: defaults)",
          config->module_path ? config->module_path : "(every p11-kit module)",
          config->unblock_method == SIGNET_P11_UNBLOCK_UNKNOWN
              ? "per module"
              : signet_p11_unblock_method_to_string(config->unblock_method));
  if (!read_idle_timeout(config, &idle_timeout, &error)) {
    g_printerr("signetd: %s\n", error->message);
    return 1;
  }
  if (idle_option >= 0)
    idle_timeout = (guint)idle_option;
  if (idle_timeout > 0)
    g_debug("idle timeout %u s", idle_timeout);
  else
    g_debug("no idle timeout: runs until stopped");

  /* Before any module is loaded, and before any thread exists (setenv). */
  if (!signet_opensc_prepare(NULL, NULL, NULL, &error)) {
    g_printerr("signetd: %s\n", error->message);
    return 1;
  }

  signet_errors_register();
  ctx = signet_p11_context_new(config->module_path, config->unblock_method, &ctx_error);
  if (ctx == NULL)
    g_message("could not load the PKCS#11 modules: %s", ctx_error->message);

  loop = g_main_loop_new(NULL, FALSE);
  d.loop = loop;
  d.agent = signet_agent_new(ctx, ctx == NULL ? g_steal_pointer(&ctx_error) : NULL);
  d.exit_status = EXIT_SUCCESS;
  d.hotplug = signet_hotplug_new(d.agent);
  signet_hotplug_set_idle_timeout(d.hotplug, idle_timeout, on_idle_cb, &d);

  sigterm_id = g_unix_signal_add(SIGTERM, on_signal_cb, &d);
  sigint_id = g_unix_signal_add(SIGINT, on_signal_cb, &d);
  owner_id = g_bus_own_name(G_BUS_TYPE_SESSION, SIGNET_AGENT_BUS_NAME,
                            G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE, on_bus_acquired_cb,
                            on_name_acquired_cb, on_name_lost_cb, &d, NULL);

  g_main_loop_run(loop);

  /* No more events: the PC/SC worker is cancelled and joined. */
  g_clear_pointer(&d.hotplug, signet_hotplug_free);
  signet_agent_unexport(d.agent);
  g_bus_unown_name(owner_id);
  if (signet_agent_get_n_running(d.agent) > 0)
    g_message("waiting for %u operation(s) to finish", signet_agent_get_n_running(d.agent));
  while (signet_agent_get_n_running(d.agent) > 0)
    g_main_context_iteration(NULL, TRUE);
  /* Answers are queued to GDBus's worker thread: send them before exiting. */
  if (d.connection != NULL && !g_dbus_connection_is_closed(d.connection))
    (void)g_dbus_connection_flush_sync(d.connection, NULL, NULL);
  g_clear_object(&d.connection);
  g_source_remove(sigterm_id);
  g_source_remove(sigint_id);
  g_clear_object(&d.agent);
  return d.exit_status;
}
