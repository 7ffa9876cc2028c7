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
#include "common/signet-secret.h"
#include "agent/signet-reminders.h"
#include "agent/signet-testhooks.h"
#include "agent/signet-worker.h"

/* The agent as a GApplication (io.signet.Agent, a service): GApplication
 * owns the bus name, and exports our object beside its own interfaces on
 * /io/signet/Agent in dbus_register. It is what GNotification needs, and
 * where notification actions arrive. */
#define SIGNET_TYPE_DAEMON (signet_daemon_get_type())
G_DECLARE_FINAL_TYPE(SignetDaemon, signet_daemon, SIGNET, DAEMON, GApplication)

struct _SignetDaemon
{
  GApplication parent_instance;
  SignetAgent *agent;
  SignetReminders *reminders;  /* owned by main() */
  GDBusConnection *connection; /* to flush the last answers before exiting */
  gulong closed_id;
  GError *export_error; /* dbus_register could not export the agent */
  gboolean held;
  int exit_status;
};

G_DEFINE_TYPE(SignetDaemon, signet_daemon, G_TYPE_APPLICATION)

static void
on_connection_closed_cb(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                        gpointer user_data)
{
  SignetDaemon *d = user_data;

  g_message("lost the connection to the session bus%s%s; stopping", error ? ": " : "",
            error ? error->message : "");
  d->exit_status = EXIT_FAILURE;
  g_application_quit(G_APPLICATION(d));
}

static gboolean
signet_daemon_dbus_register(GApplication *app, GDBusConnection *connection, const char *object_path,
                            GError **error)
{
  SignetDaemon *d = SIGNET_DAEMON(app);
  g_autoptr(GError) local = NULL;

  if (!G_APPLICATION_CLASS(signet_daemon_parent_class)
           ->dbus_register(app, connection, object_path, error))
    return FALSE;
  /* GApplication's path for io.signet.Agent is ours: /io/signet/Agent. */
  g_warn_if_fail(g_strcmp0(object_path, SIGNET_AGENT_OBJECT_PATH) == 0);
  if (!signet_agent_export(d->agent, connection, &local)) {
    d->export_error = g_error_copy(local);
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  g_set_object(&d->connection, connection);
  /* The bus going away is a failure (exit 1), not a SIGTERM. */
  g_dbus_connection_set_exit_on_close(connection, FALSE);
  d->closed_id = g_signal_connect(connection, "closed", G_CALLBACK(on_connection_closed_cb), d);
  return TRUE;
}

static void
signet_daemon_dbus_unregister(GApplication *app, GDBusConnection *connection,
                              const char *object_path)
{
  SignetDaemon *d = SIGNET_DAEMON(app);

  signet_agent_unexport(d->agent);
  G_APPLICATION_CLASS(signet_daemon_parent_class)->dbus_unregister(app, connection, object_path);
}

/* org.freedesktop.Application.Activate: a service has no window to show. */
static void
signet_daemon_activate(GApplication *app)
{
  g_debug("activated over D-Bus: nothing to show");
}

static void
signet_daemon_finalize(GObject *object)
{
  SignetDaemon *d = SIGNET_DAEMON(object);

  if (d->connection != NULL && d->closed_id != 0)
    g_signal_handler_disconnect(d->connection, d->closed_id);
  g_clear_object(&d->connection);
  g_clear_error(&d->export_error);
  g_clear_object(&d->agent);
  G_OBJECT_CLASS(signet_daemon_parent_class)->finalize(object);
}

static void
signet_daemon_class_init(SignetDaemonClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS(klass);

  G_OBJECT_CLASS(klass)->finalize = signet_daemon_finalize;
  app_class->dbus_register = signet_daemon_dbus_register;
  app_class->dbus_unregister = signet_daemon_dbus_unregister;
  app_class->activate = signet_daemon_activate;
}

static void
signet_daemon_init(SignetDaemon *d)
{
  d->exit_status = EXIT_SUCCESS;
}

static SignetDaemon *
signet_daemon_new(SignetAgent *agent)
{
  SignetDaemon *d = g_object_new(SIGNET_TYPE_DAEMON, "application-id", SIGNET_AGENT_BUS_NAME,
                                 "flags", G_APPLICATION_IS_SERVICE, NULL);

  d->agent = g_object_ref(agent);
  return d;
}

static gboolean
on_signal_cb(gpointer user_data)
{
  SignetDaemon *d = user_data;

  g_message("signal received; stopping");
  g_application_quit(G_APPLICATION(d));
  return G_SOURCE_CONTINUE;
}

/* Idle for the idle timeout: the hold taken at start is released, and
 * g_application_run() returns. */
static gboolean
on_idle_cb(gpointer user_data)
{
  SignetDaemon *d = user_data;

  if (d->held) {
    d->held = FALSE;
    g_application_release(G_APPLICATION(d));
  }
  return G_SOURCE_REMOVE;
}

static void
on_token_present_cb(const char *serial, gpointer user_data)
{
  SignetDaemon *d = user_data;

  signet_agent_token_present(d->agent, serial);
  signet_reminders_check(d->reminders, serial);
}

#define DEFAULT_IDLE_TIMEOUT 600
#define GROUP_AGENT          "agent"
#define KEY_IDLE_TIMEOUT     "idle-timeout"

/* idle-timeout= in the [agent] group (signet-config.c reads only
 * [pkcs11]): seconds, 0 for never; absent: the default. */
static gboolean
read_idle_timeout(const SignetConfig *config, guint *out_seconds, GError **error)
{
  g_autofree char *value = NULL;
  guint64 n;

  value = g_key_file_get_value(config->keyfile, GROUP_AGENT, KEY_IDLE_TIMEOUT, NULL);
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
  g_autoptr(SignetAgent) agent = NULL;
  g_autoptr(SignetDaemon) d = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  SignetHotplug *hotplug;
  SignetReminders *reminders;
  SignetP11Context *ctx;
  char *run_argv[] = { argv[0], NULL };
  guint sigterm_id, sigint_id;
  int exit_status;

  setlocale(LC_ALL, "");
  /* PINs pass through this process: no core dump, no ptrace by others. */
  if (!signet_secret_protect_process(&error)) {
    g_printerr("signetd: %s\n", error->message);
    return 1;
  }
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
    if (signet_testhooks_compiled_in())
      g_print("fault injection: yes (a test build: SIGNET_FAULT and SIGNET_FAKE_NOW act)\n");
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
  /* Before any thread exists: memory that does not grow with the threads
   * of a batch (signet-worker.h). */
  {
    guint arenas = signet_worker_limit_arenas();

    if (arenas > 0)
      g_debug("malloc arenas: at most %u", arenas);
  }

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

  /* The main thread owns the default context from now on, before any
   * thread exists: a worker's g_main_context_invoke() (the PC/SC monitor's
   * snapshots, GTask completions) then always queues to it, never runs in
   * the worker because nobody held the context yet (and
   * g_application_run(), which needs to acquire it, never finds it taken). */
  if (!g_main_context_acquire(NULL)) {
    g_printerr("signetd: could not own the main context\n");
    return 1;
  }

  /* Before any module is loaded, and before any thread exists (setenv). */
  if (!signet_opensc_prepare(NULL, NULL, NULL, &error)) {
    g_printerr("signetd: %s\n", error->message);
    return 1;
  }

  signet_errors_register();
  ctx = signet_p11_context_new(config->module_path, config->unblock_method, &ctx_error);
  if (ctx == NULL)
    g_message("could not load the PKCS#11 modules: %s", ctx_error->message);

  agent = signet_agent_new(ctx, ctx == NULL ? g_steal_pointer(&ctx_error) : NULL);
  d = signet_daemon_new(agent);
  /* [reminders] checked now: a broken one stops the agent, saying why. */
  reminders = signet_reminders_new(G_APPLICATION(d), agent, config->keyfile, config->path, &error);
  if (reminders == NULL) {
    g_printerr("signetd: %s\n", error->message);
    return 1;
  }
  d->reminders = reminders;
  {
    guint n_days;
    const guint *days = signet_reminders_get_days(reminders, &n_days);

    /* GetTokenStatus shows them beside the reminders sent. */
    signet_agent_set_reminder_days(agent, days, n_days);
  }
  /* Before the agent is exported (it connects its methods on the skeleton). */
  hotplug = signet_hotplug_new(agent);
  signet_hotplug_set_idle_timeout(hotplug, idle_timeout, on_idle_cb, d);
  signet_hotplug_set_token_func(hotplug, on_token_present_cb, d);

  sigterm_id = g_unix_signal_add(SIGTERM, on_signal_cb, d);
  sigint_id = g_unix_signal_add(SIGINT, on_signal_cb, d);

  /* GApplication would run without a bus when it cannot connect (it then
   * takes it for a plain process): we cannot. The connection is shared, so
   * GApplication uses this one. */
  connection = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &error);
  if (connection == NULL) {
    g_printerr("signetd: could not connect to the session bus (is DBUS_SESSION_BUS_ADDRESS "
               "set?): %s\n",
               error->message);
    d->exit_status = EXIT_FAILURE;
  } else if (!g_application_register(G_APPLICATION(d), NULL, &error)) {
    /* Connects, exports the agent (dbus_register) and takes the name. */
    if (d->export_error != NULL)
      g_printerr("signetd: could not export %s: %s\n", SIGNET_AGENT_OBJECT_PATH,
                 d->export_error->message);
    else
      g_printerr("signetd: the name %s is owned by another process (another signetd?): %s\n",
                 SIGNET_AGENT_BUS_NAME, error->message);
    d->exit_status = EXIT_FAILURE;
  } else {
    g_debug("owns %s on the session bus", SIGNET_AGENT_BUS_NAME);
    /* Runs until a signal, the idle timeout (releases this) or the bus goes;
     * a bus that went away between the two calls is told by "closed". */
    g_application_hold(G_APPLICATION(d));
    d->held = TRUE;
    /* Signals go out from now on: clients match on the name. */
    signet_hotplug_start(hotplug);
    signet_agent_start_background(agent);
    signet_reminders_start(reminders);
    (void)g_application_run(G_APPLICATION(d), 1, run_argv);
  }

  /* No more events: the PC/SC worker is cancelled and joined. */
  g_clear_pointer(&hotplug, signet_hotplug_free);
  /* A check still running finishes, and its reminders go out. */
  d->reminders = NULL;
  g_clear_pointer(&reminders, signet_reminders_free);
  signet_agent_unexport(agent);
  exit_status = d->exit_status;
  /* Unregisters from the bus and gives the name up. */
  g_clear_object(&d);
  if (signet_agent_get_n_running(agent) > 0)
    g_message("waiting for %u operation(s) to finish", signet_agent_get_n_running(agent));
  while (signet_agent_get_n_running(agent) > 0)
    g_main_context_iteration(NULL, TRUE);
  /* Answers are queued to GDBus's worker thread: send them before exiting. */
  if (connection != NULL && !g_dbus_connection_is_closed(connection))
    (void)g_dbus_connection_flush_sync(connection, NULL, NULL);
  g_source_remove(sigterm_id);
  g_source_remove(sigint_id);
  g_main_context_release(NULL);
  return exit_status;
}
