/* test-agent-units: the agent's modules that need no token: the OpenSC
 * configuration file (signet-opensc), the configuration file
 * (signet-config), the D-Bus error names (signet-errors), who may call
 * (signet-caller: the method table, the parsers, this process's checks) and
 * the cap on malloc arenas (signet-worker). */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/signet-caller.h"
#include "agent/signet-config.h"
#include "agent/signet-errors.h"
#include "agent/signet-opensc.h"
#include "agent/signet-worker.h"
#include "libsignet/signet-dbus-generated.h"
#include "enroll/signet-x509.h"
#include "pkcs11/signet-p11.h"
#include "tests/testutil/signet-test-util.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fx->dir = g_dir_make_tmp("signet-agent-units-XXXXXX", &error);
  g_assert_no_error(error);
  g_unsetenv("OPENSC_CONF");
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
  signet_test_remove_tree(fx->dir);
  g_free(fx->dir);
  g_unsetenv("OPENSC_CONF");
}

static char *
write_file(Fixture *fx, const char *name, const char *text)
{
  char *path = g_build_filename(fx->dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents(path, text, -1, &error);
  g_assert_no_error(error);
  return path;
}

static char *
read_file(const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents(path, &text, NULL, &error);
  g_assert_no_error(error);
  return text;
}

static guint
file_mode(const char *path)
{
  GStatBuf st;

  g_assert_cmpint(g_stat(path, &st), ==, 0);
  return st.st_mode & 07777;
}

/* ---- signet-opensc ------------------------------------------------------ */

#define SYSTEM_CONF "app default {\n  debug = 0;\n  framework pkcs15 { }\n}\n"

static void
test_opensc_system_default(Fixture *fx, gconstpointer data)
{
  g_autofree char *system = write_file(fx, "system-opensc.conf", SYSTEM_CONF);
  g_autofree char *runtime = g_build_filename(fx->dir, "run", NULL);
  g_autofree char *dir = g_build_filename(runtime, "signet", NULL);
  g_autofree char *expected = g_build_filename(dir, "opensc.conf", NULL);
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  const char *block;

  g_assert_true(signet_opensc_prepare(runtime, system, &path, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(path, ==, expected);
  g_assert_cmpstr(g_getenv("OPENSC_CONF"), ==, expected);
  g_assert_cmphex(file_mode(path), ==, 0600);
  g_assert_cmphex(file_mode(dir), ==, 0700);

  text = read_file(path);
  block = strstr(text, SIGNET_OPENSC_BLOCK);
  g_assert_nonnull(block);
  /* Our block first, then the system's config, whole. */
  g_assert_nonnull(strstr(block + strlen(SIGNET_OPENSC_BLOCK), SYSTEM_CONF));
  g_assert_true(g_str_has_suffix(text, SYSTEM_CONF));
}

static void
test_opensc_follows_opensc_conf(Fixture *fx, gconstpointer data)
{
  g_autofree char *user = write_file(fx, "user-opensc.conf", "app default { debug = 3; }\n");
  g_autofree char *system = write_file(fx, "system-opensc.conf", SYSTEM_CONF);
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;
  g_autoptr(GError) error = NULL;

  g_setenv("OPENSC_CONF", user, TRUE);
  g_assert_true(signet_opensc_prepare(fx->dir, system, &path, &error));
  g_assert_no_error(error);
  text = read_file(path);
  /* The file OPENSC_CONF named is the system part, not the default one. */
  g_assert_nonnull(strstr(text, "debug = 3;"));
  g_assert_null(strstr(text, "framework pkcs15"));
  g_assert_cmpstr(g_getenv("OPENSC_CONF"), ==, path);

  /* Inherited by a second start: left as it is, not appended to itself. */
  g_clear_pointer(&path, g_free);
  g_assert_true(signet_opensc_prepare(fx->dir, system, &path, &error));
  g_assert_no_error(error);
  again = read_file(path);
  g_assert_cmpstr(again, ==, text);
}

static void
test_opensc_no_system_conf(Fixture *fx, gconstpointer data)
{
  g_autofree char *missing = g_build_filename(fx->dir, "absent.conf", NULL);
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true(signet_opensc_prepare(fx->dir, missing, &path, &error));
  g_assert_no_error(error);
  text = read_file(path);
  g_assert_nonnull(strstr(text, SIGNET_OPENSC_BLOCK));
}

static void
test_opensc_private_dir(Fixture *fx, gconstpointer data)
{
  g_autofree char *dir = g_build_filename(fx->dir, "signet", NULL);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  /* An existing directory that others could read is made private. */
  g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
  g_assert_cmpint(g_chmod(dir, 0755), ==, 0);
  g_assert_true(signet_opensc_prepare(fx->dir, "/nonexistent/opensc.conf", &path, &error));
  g_assert_no_error(error);
  g_assert_cmphex(file_mode(dir), ==, 0700);
  g_assert_cmphex(file_mode(path), ==, 0600);
}

/* ---- signet-config ------------------------------------------------------ */

static void
test_config_absent(Fixture *fx, gconstpointer data)
{
  g_autofree char *path = g_build_filename(fx->dir, "none.conf", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetConfig) config = signet_config_load(path, &error);

  g_assert_no_error(error);
  g_assert_nonnull(config);
  g_assert_false(config->loaded);
  g_assert_null(config->module_path);
  g_assert_cmpint(config->unblock_method, ==, SIGNET_P11_UNBLOCK_UNKNOWN);
}

static void
test_config_values(Fixture *fx, gconstpointer data)
{
  g_autofree char *path = write_file(fx, "signet.conf",
                                     "# CA profiles live here too\n"
                                     "[profile example]\nprotocol=est\n\n"
                                     "[pkcs11]\nmodule = /opt/module.so \n"
                                     "unblock-method=set-pin-unlogged\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetConfig) config = signet_config_load(path, &error);

  g_assert_no_error(error);
  g_assert_true(config->loaded);
  g_assert_cmpstr(config->module_path, ==, "/opt/module.so");
  g_assert_cmpint(config->unblock_method, ==, SIGNET_P11_UNBLOCK_SET_PIN_UNLOGGED);
}

static void
test_config_empty_values(Fixture *fx, gconstpointer data)
{
  g_autofree char *path = write_file(fx, "signet.conf", "[pkcs11]\nmodule=\nunblock-method=\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetConfig) config = signet_config_load(path, &error);

  g_assert_no_error(error);
  g_assert_null(config->module_path);
  g_assert_cmpint(config->unblock_method, ==, SIGNET_P11_UNBLOCK_UNKNOWN);
}

static void
test_config_bad_unblock_method(Fixture *fx, gconstpointer data)
{
  g_autofree char *path
      = write_file(fx, "signet.conf", "[pkcs11]\nunblock-method=try-everything\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetConfig) config = signet_config_load(path, &error);

  g_assert_null(config);
  g_assert_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS);
  /* Names the file and the value, and says what is accepted. */
  g_assert_nonnull(strstr(error->message, path));
  g_assert_nonnull(strstr(error->message, "\"try-everything\""));
  g_assert_nonnull(strstr(error->message, "so-login-init-pin"));
}

static void
test_config_malformed(Fixture *fx, gconstpointer data)
{
  g_autofree char *path = write_file(fx, "signet.conf", "this is not a key file\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetConfig) config = signet_config_load(path, &error);

  g_assert_null(config);
  g_assert_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS);
  g_assert_nonnull(strstr(error->message, path));
}

/* ---- signet-errors ------------------------------------------------------ */

static void
test_error_names(void)
{
  static const struct
  {
    GQuark (*domain)(void);
    int code;
    const char *name;
  } cases[] = {
    { signet_agent_error_quark, SIGNET_AGENT_ERROR_BUSY, "io.signet.Error.Busy" },
    { signet_agent_error_quark, SIGNET_AGENT_ERROR_INVALID_ARGS, "io.signet.Error.InvalidArgs" },
    { signet_agent_error_quark, SIGNET_AGENT_ERROR_FAILED, "io.signet.Error.Failed" },
    { signet_agent_error_quark, SIGNET_AGENT_ERROR_NOT_AUTHORIZED,
      "io.signet.Error.NotAuthorized" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_FAILED, "io.signet.Error.Failed" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_MODULE, "io.signet.Error.Module" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_NO_SUCH_TOKEN, "io.signet.Error.NoSuchToken" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_AMBIGUOUS_TOKEN, "io.signet.Error.AmbiguousToken" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_PIN_INCORRECT, "io.signet.Error.PinIncorrect" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_PIN_LOCKED, "io.signet.Error.PinLocked" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_PIN_INVALID, "io.signet.Error.PinInvalid" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_PUK_INCORRECT, "io.signet.Error.PukIncorrect" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_PUK_LOCKED, "io.signet.Error.PukLocked" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_TOKEN_REMOVED, "io.signet.Error.TokenRemoved" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_NOT_SUPPORTED, "io.signet.Error.NotSupported" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_NO_MATCHING_KEY, "io.signet.Error.NoMatchingKey" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_NO_SUCH_OBJECT, "io.signet.Error.NoSuchObject" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_TOKEN_FULL, "io.signet.Error.TokenFull" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_READ_ONLY, "io.signet.Error.ReadOnly" },
    { signet_p11_error_quark, SIGNET_P11_ERROR_FINAL_TRY, "io.signet.Error.FinalTry" },
    { signet_enroll_error_quark, SIGNET_ENROLL_ERROR_FAILED, "io.signet.Error.Failed" },
    { signet_enroll_error_quark, SIGNET_ENROLL_ERROR_BAD_INPUT, "io.signet.Error.BadInput" },
    { signet_enroll_error_quark, SIGNET_ENROLL_ERROR_BAD_SUBJECT, "io.signet.Error.BadSubject" },
    { g_io_error_quark, G_IO_ERROR_FAILED, "io.signet.Error.Failed" },
  };

  signet_errors_register();
  signet_errors_register(); /* idempotent */
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) e = g_error_new_literal(cases[i].domain(), cases[i].code, "x");
    g_autoptr(GError) back = NULL;

    g_assert_cmpstr(signet_errors_dbus_name(e), ==, cases[i].name);
    /* A client gets the same domain and code back, except for the names
     * several codes share. */
    back = g_dbus_error_new_for_dbus_error(cases[i].name, "x");
    if (!g_str_equal(cases[i].name, "io.signet.Error.Failed"))
      g_assert_error(back, cases[i].domain(), cases[i].code);
  }
}

/* ---- signet-caller ---------------------------------------------------------- */

/* Every method of the interface has a rule; the guarded ones are exactly
 * those that take a secret or write to a token. */
static void
test_caller_methods(void)
{
  static const char *const guarded[] = { "GenerateKey", "CreateRequest", "ImportCertificate",
                                         "DeleteKey",   "ChangePin",     "UnblockPin",
                                         "Activate",    "Renew",         NULL };
  GDBusInterfaceInfo *info = signet_agent1_interface_info();
  guint n_guarded = 0;

  for (guint i = 0; info->methods[i] != NULL; i++) {
    const char *name = info->methods[i]->name;
    SignetCallerMethod rule = signet_caller_method_rule(name);

    g_test_message("%s", name);
    g_assert_cmpint(rule, !=, SIGNET_CALLER_METHOD_UNLISTED);
    g_assert_cmpint(rule == SIGNET_CALLER_METHOD_GUARDED, ==, g_strv_contains(guarded, name));
    n_guarded += rule == SIGNET_CALLER_METHOD_GUARDED;
  }
  g_assert_cmpuint(n_guarded, ==, g_strv_length((char **)guarded));
  g_assert_cmpint(signet_caller_method_rule("NotAMethod"), ==, SIGNET_CALLER_METHOD_UNLISTED);
  g_assert_cmpint(signet_caller_method_rule(NULL), ==, SIGNET_CALLER_METHOD_UNLISTED);
}

static void
test_caller_snap_cgroup(void)
{
  static const struct
  {
    const char *text;
    const char *snap;
  } cases[] = {
    /* cgroup v2: a snap's app scope under the user's manager */
    { "0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
      "snap.firefox.firefox-1f2e3d4c.scope\n",
      "snap.firefox" },
    /* hybrid: the unified hierarchy after v1 ones */
    { "12:cpu,cpuacct:/\n1:name=systemd:/user.slice/user-1000.slice/user@1000.service/"
      "snap.signet-test.app.scope\n0::/user.slice/user-1000.slice/user@1000.service\n",
      "snap.signet-test" },
    /* v1: snapd's freezer group per snap; an instance key */
    { "7:freezer:/snap.code_insiders\n1:name=systemd:/user.slice\n", "snap.code_insiders" },
    /* a daemon's service unit */
    { "0::/system.slice/snap.lxd.daemon.service\n", "snap.lxd" },
    /* not a hierarchy snapd uses */
    { "4:memory:/snap.firefox\n0::/user.slice/user-1000.slice/session-2.scope\n", NULL },
    /* not a snap */
    { "0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
      "app-flatpak-org.example.App-1234.scope\n",
      NULL },
    { "0::/user.slice/snapshot.scope\n", NULL },
    { "0::/\n", NULL },
    { "", NULL },
    { "garbage without colons\n", NULL },
    /* what snap names hold is kept, the rest cut */
    { "0::/snap.Bad$Name.app.scope\n", "snap." },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *snap = signet_caller_snap_from_cgroup(cases[i].text);

    g_test_message("case %" G_GSIZE_FORMAT, i);
    g_assert_cmpstr(snap, ==, cases[i].snap);
  }
}

static void
test_caller_flatpak_cgroup(void)
{
  static const struct
  {
    const char *text;
    const char *app;
  } cases[] = {
    /* cgroup v2: flatpak run's scope under the user's manager */
    { "0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
      "app-flatpak-org.example.App-1234.scope\n",
      "org.example.App" },
    /* hybrid: name=systemd */
    { "12:cpu,cpuacct:/\n1:name=systemd:/user.slice/user-1000.slice/user@1000.service/"
      "app.slice/app-flatpak-com.github.Some_App-99.scope\n",
      "com.github.Some_App" },
    /* not flatpak's */
    { "0::/user.slice/user-1000.slice/session-2.scope\n", NULL },
    { "0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
      "app-gnome-org.gnome.Terminal-4242.scope\n",
      NULL },
    { "4:memory:/app-flatpak-org.example.App-1.scope\n", NULL },
    { "0::/app-flatpak-org.example.App-1.service\n", NULL },
    { "0::/app-flatpak--1.scope\n", NULL },
    { "", NULL },
    { "garbage\n", NULL },
    /* what is not an app id is not passed on */
    { "0::/app-flatpak-bad$id-1.scope\n", "(unreadable app id)" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *app = signet_caller_flatpak_from_cgroup(cases[i].text);

    g_test_message("case %" G_GSIZE_FORMAT, i);
    g_assert_cmpstr(app, ==, cases[i].app);
  }
}

static void
test_caller_flatpak_info(void)
{
  static const struct
  {
    const char *text;
    const char *id;
  } cases[] = {
    { "[Application]\nname=org.example.App\nruntime=runtime/org.gnome.Platform/x86_64/47\n"
      "\n[Instance]\ninstance-id=1234\n",
      "org.example.App" },
    { "[Runtime]\nname=org.gnome.Sdk\n\n[Application]\nname=org.example.App\n", "org.gnome.Sdk" },
    { "[Application]\nruntime=x\n", NULL },
    { "[Application]\nname=../../etc/passwd\n", NULL },
    { "[Application]\nname=org.example.App; rm -rf\n", NULL },
    { "[Application]\nname=\n", NULL },
    { "not a key file", NULL },
    { "", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *id = signet_caller_flatpak_app_id(cases[i].text, strlen(cases[i].text));

    g_test_message("case %" G_GSIZE_FORMAT, i);
    g_assert_cmpstr(id, ==, cases[i].id);
  }
}

static void
test_caller_start_time(void)
{
  guint64 t = 0;

  g_assert_true(signet_caller_parse_start_time(
      "4242 (gdbus) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 "
      "230000000 2000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n",
      &t));
  g_assert_cmpuint(t, ==, 987654);
  /* A command name with blanks and parentheses. */
  g_assert_true(signet_caller_parse_start_time(
      "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 1 1 1\n", &t));
  g_assert_cmpuint(t, ==, 55);
  g_assert_false(signet_caller_parse_start_time("7 (x) R 1 2 3\n", &t));
  g_assert_false(signet_caller_parse_start_time("no parenthesis 1 2 3", &t));
  g_assert_false(
      signet_caller_parse_start_time("7 (x) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5x5 1\n", &t));
  g_assert_false(signet_caller_parse_start_time("", &t));
}

/* This test program is the agent's user, outside any sandbox. */
static void
test_caller_self(void)
{
  g_autofree char *reason = NULL;

  g_assert_cmpint(signet_caller_check_process((guint32)getpid(), (guint32)getuid(),
                                              signet_caller_now_ticks(), &reason),
                  ==, SIGNET_CALLER_HOST);
  g_test_message("%s", reason);
}

static void
test_caller_other_user(void)
{
  g_autofree char *reason = NULL;

  g_assert_cmpint(signet_caller_check_process((guint32)getpid(), (guint32)getuid() + 1,
                                              signet_caller_now_ticks(), &reason),
                  ==, SIGNET_CALLER_OTHER_USER);
  g_assert_nonnull(strstr(reason, "another user"));
}

static guint32
subprocess_pid(GSubprocess *p)
{
  return (guint32)g_ascii_strtoull(g_subprocess_get_identifier(p), NULL, 10);
}

/* A process gone (its /proc/PID with it), and a process that started after
 * the call (a PID taken by another process): both refused. */
static void
test_caller_unchecked(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) gone = NULL;
  g_autoptr(GSubprocess) later = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *reason2 = NULL;
  g_autofree char *reason3 = NULL;
  guint64 called_at;

  /* Its PID taken while it runs: GSubprocess forgets it once the child is
   * reaped, which a "true" may be before we ask. */
  gone = g_subprocess_new(G_SUBPROCESS_FLAGS_NONE, &error, "sleep", "10", NULL);
  g_assert_no_error(error);
  {
    guint32 pid = subprocess_pid(gone);

    g_subprocess_force_exit(gone);
    g_subprocess_wait(gone, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(
        signet_caller_check_process(pid, (guint32)getuid(), signet_caller_now_ticks(), &reason), ==,
        SIGNET_CALLER_UNCHECKED);
    g_test_message("%s", reason);
  }

  called_at = signet_caller_now_ticks();
  g_usleep(50 * 1000); /* a few clock ticks */
  later = g_subprocess_new(G_SUBPROCESS_FLAGS_NONE, &error, "sleep", "10", NULL);
  g_assert_no_error(error);
  g_assert_cmpint(
      signet_caller_check_process(subprocess_pid(later), (guint32)getuid(), called_at, &reason2),
      ==, SIGNET_CALLER_UNCHECKED);
  g_assert_nonnull(strstr(reason2, "started after the call"));
  /* The same process, for a call that came in after it started. */
  g_assert_cmpint(signet_caller_check_process(subprocess_pid(later), (guint32)getuid(),
                                              signet_caller_now_ticks(), &reason3),
                  ==, SIGNET_CALLER_HOST);
  g_subprocess_force_exit(later);
  g_subprocess_wait(later, NULL, NULL);

  g_clear_pointer(&reason, g_free);
  g_assert_cmpint(
      signet_caller_check_process(0, (guint32)getuid(), signet_caller_now_ticks(), &reason), ==,
      SIGNET_CALLER_UNCHECKED);
}

/* ---- signet-worker: malloc arenas ---------------------------------------- */

typedef struct
{
  GMutex lock;
  GCond cond;
  guint started;
  gboolean release;
} ArenaRig;

static gpointer
arena_thread(gpointer data)
{
  ArenaRig *rig = data;
  /* The thread's first allocation: glibc gives it an arena then. */
  g_autofree char *block = g_malloc0(64);

  g_mutex_lock(&rig->lock);
  rig->started++;
  g_cond_broadcast(&rig->cond);
  while (!rig->release)
    g_cond_wait(&rig->cond, &rig->lock);
  g_mutex_unlock(&rig->lock);
  return NULL;
}

/* Allocations go to glibc's malloc: not under AddressSanitizer, which has
 * one of its own. */
static gboolean
glibc_malloc(void)
{
#if defined(__GLIBC__)
  return !signet_test_under_asan();
#else
  return FALSE;
#endif
}

/* A few more threads than arenas_cap(): what a batch does, and still below
 * glibc's own limit (8 arenas per CPU). */
static guint
arenas_cap(void)
{
  return MAX(g_get_num_processors(), 2);
}

#if defined(__GLIBC__)
/* The malloc arenas there are while arenas_cap() + 4 threads, each of which
 * has allocated, are alive at once (malloc_info(): one <heap> per arena). */
static guint
arenas_with_threads(void)
{
  guint n_threads = arenas_cap() + 4;
  g_autofree GThread **threads = g_new0(GThread *, n_threads);
  ArenaRig rig = { 0 };
  char *xml = NULL;
  size_t len = 0;
  FILE *f;
  guint n = 0;

  g_mutex_init(&rig.lock);
  g_cond_init(&rig.cond);
  for (guint i = 0; i < n_threads; i++)
    threads[i] = g_thread_new("arena", arena_thread, &rig);
  g_mutex_lock(&rig.lock);
  while (rig.started < n_threads)
    g_cond_wait(&rig.cond, &rig.lock);
  f = open_memstream(&xml, &len);
  g_assert_nonnull(f);
  g_assert_cmpint(malloc_info(0, f), ==, 0);
  g_assert_cmpint(fclose(f), ==, 0);
  for (const char *p = xml; (p = strstr(p, "<heap nr=")) != NULL; p++)
    n++;
  free(xml);
  rig.release = TRUE;
  g_cond_broadcast(&rig.cond);
  g_mutex_unlock(&rig.lock);
  for (guint i = 0; i < n_threads; i++)
    g_thread_join(threads[i]);
  g_mutex_clear(&rig.lock);
  g_cond_clear(&rig.cond);
  g_test_message("%u threads alive: %u malloc arenas", n_threads, n);
  return n;
}
#endif

/* In a fresh process (no thread yet): without the cap, every thread has
 * an arena of its own, which is what the count sees... */
static void
test_worker_arenas_uncapped(void)
{
#if defined(__GLIBC__)
  g_assert_cmpuint(arenas_with_threads(), >, arenas_cap());
#endif
}

/* ...with it, there are no more arenas than it says, however many threads. */
static void
test_worker_arenas_capped(void)
{
#if defined(__GLIBC__)
  g_assert_cmpuint(signet_worker_limit_arenas(), ==, arenas_cap());
  g_assert_cmpuint(arenas_with_threads(), <=, arenas_cap());
#endif
}

/* The agent's threads share at most one malloc arena per CPU (at least 2),
 * so that its memory does not grow with the threads of a batch
 * (bench/README.md, group activation). */
static void
test_worker_arenas(void)
{
  g_test_trap_subprocess("/agent/worker/arenas/subprocess/uncapped", 0,
                         G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed();
  g_test_trap_subprocess("/agent/worker/arenas/subprocess/capped", 0,
                         G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed();
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define FX(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  FX("/agent/opensc/system-default", test_opensc_system_default);
  FX("/agent/opensc/follows-OPENSC_CONF", test_opensc_follows_opensc_conf);
  FX("/agent/opensc/no-system-conf", test_opensc_no_system_conf);
  FX("/agent/opensc/private-dir", test_opensc_private_dir);
  FX("/agent/config/absent", test_config_absent);
  FX("/agent/config/values", test_config_values);
  FX("/agent/config/empty-values", test_config_empty_values);
  FX("/agent/config/bad-unblock-method", test_config_bad_unblock_method);
  FX("/agent/config/malformed", test_config_malformed);
#undef FX
  g_test_add_func("/agent/errors/names", test_error_names);
  g_test_add_func("/agent/caller/methods", test_caller_methods);
  g_test_add_func("/agent/caller/snap-cgroup", test_caller_snap_cgroup);
  g_test_add_func("/agent/caller/flatpak-info", test_caller_flatpak_info);
  g_test_add_func("/agent/caller/flatpak-cgroup", test_caller_flatpak_cgroup);
  g_test_add_func("/agent/caller/start-time", test_caller_start_time);
  g_test_add_func("/agent/caller/self", test_caller_self);
  g_test_add_func("/agent/caller/other-user", test_caller_other_user);
  g_test_add_func("/agent/caller/unchecked", test_caller_unchecked);
  /* glibc's malloc only: AddressSanitizer's has no arenas (the ASan stage
   * leaves the test out rather than list a skip). */
  if (glibc_malloc()) {
    g_test_add_func("/agent/worker/arenas", test_worker_arenas);
    g_test_add_func("/agent/worker/arenas/subprocess/uncapped", test_worker_arenas_uncapped);
    g_test_add_func("/agent/worker/arenas/subprocess/capped", test_worker_arenas_capped);
  }
  return g_test_run();
}
