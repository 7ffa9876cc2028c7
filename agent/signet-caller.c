/* signet-caller.c: see signet-caller.h. */
#include "config.h"

#include "agent/signet-caller.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "agent/signet-errors.h"

/* The bus daemon answers at once; a stuck bus refuses the call. */
#define CREDENTIALS_TIMEOUT_MS 10000
/* /proc/PID/stat and cgroup are small; .flatpak-info is a few lines. */
#define READ_MAX (64 * 1024)
/* Flatpak never has a FUSE root (linux/magic.h). */
#define FUSE_SUPER_MAGIC 0x65735546
#define APP_ID_MAX       255
#define SNAP_NAME_MAX    64

/* ---- the methods ------------------------------------------------------------ */

typedef struct
{
  const char *name;
  SignetCallerMethod rule;
} MethodRule;

#define OPEN    SIGNET_CALLER_METHOD_OPEN
#define GUARDED SIGNET_CALLER_METHOD_GUARDED

/* Every method of io.signet.Agent1 (libsignet/io.signet.Agent1.xml), in its
 * order. A method not listed is guarded: a new method stays closed to
 * sandboxes until someone decides here (test-agent-units checks that the
 * table names every method of the interface). */
static const MethodRule method_rules[] = {
  { "ListTokens", OPEN },
  { "GetToken", OPEN },
  { "GetTokenStatus", OPEN },
  { "GenerateKey", GUARDED },       /* the PIN; writes a key pair */
  { "CreateRequest", GUARDED },     /* the PIN; writes a key pair */
  { "ImportCertificate", GUARDED }, /* the PIN; writes certificates */
  { "DeleteKey", GUARDED },         /* the PIN; deletes a key pair */
  { "ChangePin", GUARDED },         /* the PIN and a new one: costs a PIN try */
  { "UnblockPin", GUARDED },        /* the PUK and a new PIN: costs a PUK try */
  { "ListProfiles", OPEN },
  { "GetProfile", OPEN },
  { "Activate", GUARDED }, /* the activation code and the PIN; writes */
  { "ListReaders", OPEN },
  { "Renew", GUARDED }, /* the PIN; writes, then deletes the old credential */
  { "GetHistory", OPEN },
  { "GetHistoryFd", OPEN },
  { "ExportCertificate", OPEN }, /* public objects only */
  { "WatchTokens", OPEN },
  { "UnwatchTokens", OPEN },
};

#undef OPEN
#undef GUARDED

SignetCallerMethod
signet_caller_method_rule(const char *method)
{
  for (gsize i = 0; method != NULL && i < G_N_ELEMENTS(method_rules); i++)
    if (g_str_equal(method_rules[i].name, method))
      return method_rules[i].rule;
  return SIGNET_CALLER_METHOD_UNLISTED;
}

/* ---- parsers ---------------------------------------------------------------- */

/* The rest of the first cgroup path (a /proc/PID/cgroup line is
 * "hierarchy-ID:controller-list:path") that holds @marker, after it; only
 * in the hierarchies where systemd puts scopes (name=systemd, the unified
 * one) and, with @freezer, snapd's freezer. NULL when none does. */
static char *
cgroup_path_after(const char *text, const char *marker, gboolean freezer)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) fields = g_strsplit(lines[i], ":", 3);
    const char *at;

    if (g_strv_length(fields) != 3)
      continue;
    if (!(freezer && g_str_equal(fields[1], "freezer")) && !g_str_equal(fields[1], "name=systemd")
        && fields[1][0] != '\0')
      continue;
    at = strstr(fields[2], marker);
    if (at != NULL)
      return g_strdup(at + strlen(marker));
  }
  return NULL;
}

char *
signet_caller_snap_from_cgroup(const char *text)
{
  g_autofree char *snap = NULL;
  gsize n;

  g_return_val_if_fail(text != NULL, NULL);
  /* snap.NAME.APP-UUID.scope, snap.NAME.APP.service, or snap.NAME
   * (freezer); NAME may carry an instance key after '_'. */
  snap = cgroup_path_after(text, "/snap.", TRUE);
  if (snap == NULL)
    return NULL;
  n = strspn(snap, "abcdefghijklmnopqrstuvwxyz0123456789-_");
  return g_strdup_printf("snap.%.*s", (int)MIN(n, SNAP_NAME_MAX), snap);
}

static gboolean is_app_id(const char *id);

char *
signet_caller_flatpak_from_cgroup(const char *text)
{
  g_autofree char *scope = NULL;
  g_autofree char *id = NULL;
  const char *end;

  g_return_val_if_fail(text != NULL, NULL);
  /* flatpak run puts the app in app-flatpak-APPID-NUMBER.scope. */
  scope = cgroup_path_after(text, "/app-flatpak-", FALSE);
  if (scope == NULL || !g_str_has_suffix(scope, ".scope"))
    return NULL;
  end = strrchr(scope, '-');
  if (end == NULL || end == scope)
    return NULL;
  id = g_strndup(scope, (gsize)(end - scope));
  return is_app_id(id) ? g_steal_pointer(&id) : g_strdup("(unreadable app id)");
}

static gboolean
is_app_id(const char *id)
{
  gsize n = strlen(id);

  return n > 0 && n <= APP_ID_MAX
         && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

char *
signet_caller_flatpak_app_id(const char *data, gsize length)
{
  g_autoptr(GKeyFile) keys = g_key_file_new();
  g_autofree char *id = NULL;
  const char *group;

  g_return_val_if_fail(data != NULL, NULL);
  if (!g_key_file_load_from_data(keys, data, length, G_KEY_FILE_NONE, NULL))
    return NULL;
  group = g_key_file_has_group(keys, "Runtime") ? "Runtime" : "Application";
  id = g_key_file_get_string(keys, group, "name", NULL);
  if (id == NULL || !is_app_id(id))
    return NULL;
  return g_steal_pointer(&id);
}

gboolean
signet_caller_parse_start_time(const char *stat, guint64 *out_ticks)
{
  const char *p;
  char *end = NULL;
  guint64 ticks;

  g_return_val_if_fail(stat != NULL, FALSE);
  /* "PID (COMM) STATE PPID …": COMM may hold anything, so fields count from
   * the last ')'. Field 3 (state) comes next; the start time is field 22. */
  p = strrchr(stat, ')');
  if (p == NULL)
    return FALSE;
  p++;
  for (int field = 3; field < 22; field++) {
    while (*p == ' ')
      p++;
    if (*p == '\0')
      return FALSE;
    while (*p != ' ' && *p != '\0')
      p++;
  }
  while (*p == ' ')
    p++;
  if (!g_ascii_isdigit(*p))
    return FALSE;
  errno = 0;
  ticks = g_ascii_strtoull(p, &end, 10);
  if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
    return FALSE;
  *out_ticks = ticks;
  return TRUE;
}

/* ---- the caller's process ------------------------------------------------- */

guint64
signet_caller_now_ticks(void)
{
  struct timespec ts;
  long hz = sysconf(_SC_CLK_TCK);

  if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
    return G_MAXUINT64; /* no bound then; the other checks still hold */
  /* As the kernel rounds a start time: down to whole ticks. */
  return (guint64)ts.tv_sec * (guint64)hz
         + (guint64)ts.tv_nsec / (G_GUINT64_CONSTANT(1000000000) / (guint64)hz);
}

/* Reads @fd to its end, at most READ_MAX bytes; NUL-terminated. Sets errno
 * and returns NULL on failure, or when there is more (EFBIG). */
static char *
read_fd(int fd, gsize *out_length)
{
  g_autofree char *buf = g_malloc(READ_MAX + 1);
  gsize n = 0;

  for (;;) {
    ssize_t r = read(fd, buf + n, READ_MAX + 1 - n);

    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return NULL;
    if (r == 0)
      break;
    n += (gsize)r;
    if (n > READ_MAX) {
      errno = EFBIG;
      return NULL;
    }
  }
  buf[n] = '\0';
  if (out_length != NULL)
    *out_length = n;
  return g_steal_pointer(&buf);
}

/* The file @name in the directory @dir_fd (a /proc file: its size is known
 * only by reading it). NULL with errno set when it cannot be read. */
static char *
read_at(int dir_fd, const char *name)
{
  int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  char *text;
  int saved;

  if (fd < 0)
    return NULL;
  text = read_fd(fd, NULL);
  saved = errno;
  close(fd);
  errno = saved;
  return text;
}

static gboolean
start_time_at(int proc_fd, guint64 *out_ticks, int *out_errno)
{
  g_autofree char *stat = read_at(proc_fd, "stat");

  if (stat == NULL) {
    *out_errno = errno;
    return FALSE;
  }
  if (!signet_caller_parse_start_time(stat, out_ticks)) {
    *out_errno = EINVAL;
    return FALSE;
  }
  return TRUE;
}

typedef enum
{
  FLATPAK_NO,
  FLATPAK_YES,
  FLATPAK_UNKNOWN,
  FLATPAK_UNDUMPABLE, /* its root is closed to us: the process is not dumpable */
} FlatpakAnswer;

/* Is there a /.flatpak-info in the root directory of the process of
 * @proc_fd? As xdg-desktop-portal looks: open the root as a directory, then
 * the file relative to it. @out_detail: the app id (YES) or what failed
 * (UNKNOWN). */
static FlatpakAnswer
look_for_flatpak(int proc_fd, guint32 pid, char **out_detail)
{
  int root_fd, info_fd, saved;
  struct stat st;
  g_autofree char *info = NULL;
  gsize length = 0;

  root_fd = openat(proc_fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (root_fd < 0) {
    saved = errno;
    if (saved == EACCES) {
      /* A FUSE root refuses us (a toolbox container): never a Flatpak,
       * whose root is bubblewrap's tmpfs. Through @proc_fd, not the PID. */
      g_autofree char *path = g_strdup_printf("/proc/self/fd/%d/root", proc_fd);
      struct statfs fs;

      struct stat proc_st;

      if (statfs(path, &fs) == 0 && fs.f_type == FUSE_SUPER_MAGIC)
        return FLATPAK_NO;
      /* A process of our user that made itself non-dumpable (signet does,
       * while it holds a PIN): the kernel gives its /proc/PID entries to root and
       * closes its root to us. Not a reason to refuse it: its cgroup tells
       * the rest (check_process). */
      if (fstatat(proc_fd, "root", &proc_st, AT_SYMLINK_NOFOLLOW) == 0 && proc_st.st_uid == 0
          && getuid() != 0)
        return FLATPAK_UNDUMPABLE;
    }
    *out_detail = g_strdup_printf("/proc/%u/root cannot be opened: %s", pid, g_strerror(saved));
    return FLATPAK_UNKNOWN;
  }
  info_fd
      = openat(root_fd, ".flatpak-info", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
  saved = errno;
  close(root_fd);
  if (info_fd < 0) {
    if (saved == ENOENT)
      return FLATPAK_NO;
    *out_detail = g_strdup_printf("its /.flatpak-info cannot be opened: %s", g_strerror(saved));
    return FLATPAK_UNKNOWN;
  }
  if (fstat(info_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(info_fd);
    *out_detail = g_strdup("its /.flatpak-info is not a regular file");
    return FLATPAK_UNKNOWN;
  }
  info = read_fd(info_fd, &length);
  close(info_fd);
  *out_detail = info != NULL ? signet_caller_flatpak_app_id(info, length) : NULL;
  return FLATPAK_YES;
}

SignetCallerKind
signet_caller_check_process(guint32 pid, guint32 uid, guint64 called_at, char **out_reason)
{
  g_autofree char *proc_path = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *cgroup = NULL;
  g_autofree char *snap = NULL;
  g_autofree char *app = NULL;
  guint64 started = 0, started_again = 0;
  int proc_fd, err = 0;
  SignetCallerKind kind;
  FlatpakAnswer flatpak;

  g_return_val_if_fail(out_reason != NULL, SIGNET_CALLER_UNCHECKED);
  if (uid != (guint32)getuid()) {
    *out_reason
        = g_strdup_printf("another user (uid %u; the agent runs as uid %u)", uid, (guint)getuid());
    return SIGNET_CALLER_OTHER_USER;
  }
  if (pid == 0) {
    *out_reason = g_strdup("a process the agent could not check (the bus gave no process ID)");
    return SIGNET_CALLER_UNCHECKED;
  }

  /* Everything below is read through this directory: it stays bound to the
   * process it was opened for, even if the PID is reused. */
  proc_path = g_strdup_printf("/proc/%u", pid);
  proc_fd = open(proc_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
  if (proc_fd < 0) {
    err = errno;
    *out_reason = g_strdup_printf("a process the agent could not check (%s: %s)", proc_path,
                                  g_strerror(err));
    return SIGNET_CALLER_UNCHECKED;
  }
  if (!start_time_at(proc_fd, &started, &err)) {
    *out_reason = g_strdup_printf("a process the agent could not check (%s/stat: %s)", proc_path,
                                  g_strerror(err));
    close(proc_fd);
    return SIGNET_CALLER_UNCHECKED;
  }
  if (started > called_at) {
    /* Not the process that called: the caller is gone and its PID taken. */
    *out_reason = g_strdup_printf("a process the agent could not check (process %u started after "
                                  "the call: the caller has gone)",
                                  pid);
    close(proc_fd);
    return SIGNET_CALLER_UNCHECKED;
  }

  flatpak = look_for_flatpak(proc_fd, pid, &detail);
  if (flatpak == FLATPAK_YES) {
    kind = SIGNET_CALLER_FLATPAK;
    *out_reason = detail != NULL
                      ? g_strdup_printf("a Flatpak sandbox (app id %s from .flatpak-info)", detail)
                      : g_strdup("a Flatpak sandbox (no valid app id in .flatpak-info)");
  } else if (flatpak == FLATPAK_UNKNOWN) {
    kind = SIGNET_CALLER_UNCHECKED;
    *out_reason = g_strdup_printf("a process the agent could not check (%s)", detail);
  } else if ((cgroup = read_at(proc_fd, "cgroup")) == NULL) {
    err = errno;
    kind = SIGNET_CALLER_UNCHECKED;
    *out_reason = g_strdup_printf("a process the agent could not check (%s/cgroup: %s)", proc_path,
                                  g_strerror(err));
  } else if ((snap = signet_caller_snap_from_cgroup(cgroup)) != NULL) {
    kind = SIGNET_CALLER_SNAP;
    *out_reason = g_strdup_printf("a Snap (%s)", snap);
  } else if (flatpak == FLATPAK_UNDUMPABLE
             && (app = signet_caller_flatpak_from_cgroup(cgroup)) != NULL) {
    kind = SIGNET_CALLER_FLATPAK;
    *out_reason = g_strdup_printf("a Flatpak sandbox (app id %s from its cgroup)", app);
  } else if (flatpak == FLATPAK_UNDUMPABLE) {
    kind = SIGNET_CALLER_HOST;
    *out_reason = g_strdup_printf("process %u of uid %u, not dumpable (its root is closed to the "
                                  "agent), in no Flatpak or Snap cgroup",
                                  pid, uid);
  } else {
    kind = SIGNET_CALLER_HOST;
    *out_reason = g_strdup_printf("process %u of uid %u, outside any sandbox", pid, uid);
  }

  /* The process read is still there, and still the same one. */
  if (kind == SIGNET_CALLER_HOST
      && (!start_time_at(proc_fd, &started_again, &err) || started_again != started)) {
    kind = SIGNET_CALLER_UNCHECKED;
    g_free(*out_reason);
    *out_reason = g_strdup_printf("a process the agent could not check (process %u went away "
                                  "while it was checked)",
                                  pid);
  }
  close(proc_fd);
  return kind;
}

/* ---- the bus ------------------------------------------------------------------ */

static gboolean
get_credentials(GDBusConnection *connection, const char *sender, guint32 *out_pid, guint32 *out_uid,
                GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) creds = NULL;
  guint32 pid, uid;

  reply = g_dbus_connection_call_sync(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", "GetConnectionCredentials",
                                      g_variant_new("(s)", sender), G_VARIANT_TYPE("(a{sv})"),
                                      G_DBUS_CALL_FLAGS_NONE, CREDENTIALS_TIMEOUT_MS, NULL, error);
  if (reply == NULL) {
    g_dbus_error_strip_remote_error(*error);
    return FALSE;
  }
  creds = g_variant_get_child_value(reply, 0);
  if (!g_variant_lookup(creds, "ProcessID", "u", &pid)
      || !g_variant_lookup(creds, "UnixUserID", "u", &uid)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "the bus gives no ProcessID or UnixUserID");
    return FALSE;
  }
  *out_pid = pid;
  *out_uid = uid;
  return TRUE;
}

/* In a GDBus worker thread (see signet-caller.h). FALSE stops the call:
 * the invocation is then answered here (which consumes the reference GDBus
 * handed over with it: with GLib 2.74 a refused invocation is finalized
 * once this returns, checked with a weak reference). */
static gboolean
on_skeleton_authorize_method_cb(GDBusInterfaceSkeleton *skeleton, GDBusMethodInvocation *invocation,
                                gpointer user_data)
{
  const char *method = g_dbus_method_invocation_get_method_name(invocation);
  const char *sender = g_dbus_method_invocation_get_sender(invocation);
  guint64 called_at = signet_caller_now_ticks();
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) refusal = NULL;
  g_autofree char *reason = NULL;
  guint32 pid = 0, uid = 0;
  SignetCallerKind kind;

  if (signet_caller_method_rule(method) == SIGNET_CALLER_METHOD_OPEN)
    return TRUE;
  if (sender == NULL) {
    kind = SIGNET_CALLER_UNCHECKED;
    reason = g_strdup("a process the agent could not check (not on a message bus)");
  } else if (!get_credentials(g_dbus_method_invocation_get_connection(invocation), sender, &pid,
                              &uid, &error)) {
    kind = SIGNET_CALLER_UNCHECKED;
    reason = g_strdup_printf(
        "a process the agent could not check (no credentials from the bus: %s)", error->message);
  } else {
    kind = signet_caller_check_process(pid, uid, called_at, &reason);
  }

  if (kind == SIGNET_CALLER_HOST) {
    g_debug("caller: %s from %s allowed: %s", method, sender, reason);
    return TRUE;
  }
  g_info("caller: refused %s from %s (pid %u): the caller is %s", method,
         sender != NULL ? sender : "(no name)", pid, reason);
  refusal = g_error_new(SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_NOT_AUTHORIZED,
                        "%s refused: the caller is %s. A method that takes a PIN, PUK or "
                        "activation code, or writes to a token, answers only programs of the "
                        "agent's own user outside any sandbox: run signet from a terminal of "
                        "the user's desktop session, outside the sandbox.",
                        method, reason);
  signet_errors_return(invocation, refusal);
  return FALSE;
}

gulong
signet_caller_guard(GDBusInterfaceSkeleton *skeleton)
{
  g_return_val_if_fail(G_IS_DBUS_INTERFACE_SKELETON(skeleton), 0);
  return g_signal_connect(skeleton, "g-authorize-method",
                          G_CALLBACK(on_skeleton_authorize_method_cb), NULL);
}
