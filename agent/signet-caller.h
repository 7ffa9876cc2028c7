/* signet-caller.h: who calls the agent, and whether that caller may use a
 * method that takes a secret or writes to a token (docs/dbus-api.md, "Who
 * may call").
 *
 * The rule: the guarded methods (the table in signet-caller.c: every method
 * that takes a PIN, PUK or activation code, or writes to a token) answer
 * only a process of the agent's own Unix user outside any sandbox. Refused,
 * with io.signet.Error.NotAuthorized: a Flatpak sandbox (a /.flatpak-info
 * in the caller's root directory, as xdg-desktop-portal tells them), a Snap
 * (a snap.* cgroup in the freezer, name=systemd or unified hierarchy, as
 * xdg-desktop-portal tells them), another Unix user, and a caller that
 * cannot be checked (the bus gives no credentials, /proc/PID cannot be
 * read, the process is gone or started after the call): it fails closed.
 * One exception to reading the root: a process of the agent's user that
 * made itself non-dumpable (signet does, while it holds a PIN) has its
 * /proc/PID given to root, and its root is closed to the agent; it is then
 * judged by its cgroup alone (a Flatpak app's app-flatpak-*.scope, a
 * Snap's snap.* scope).
 * The read-only methods are open to every caller on the bus.
 *
 * The caller's process is the one the bus daemon names
 * (org.freedesktop.DBus.GetConnectionCredentials: ProcessID, UnixUserID).
 * Against a PID reused by another process: /proc/PID is opened once and
 * everything is read through that directory (it stays bound to the process
 * it was opened for); the process must have started before the call came
 * in, and must still be there, with the same start time, once everything
 * was read. (What is left: a PID taken by a process of the host in the
 * moment between the caller's exit and the agent taking up its call. A bus
 * that hands out the caller's pidfd, ProcessFD, would close that too;
 * dbus-daemon 1.14 does not.)
 *
 * Owns: the table of guarded methods; the checks of a caller's process.
 * May call: GLib/GIO (the bus daemon), /proc, signet-errors.
 *
 * Threads: the g-authorize-method handler runs in a GDBus worker thread
 * (GDBus emits the signal there); it blocks on the bus and /proc and touches
 * no agent state. Nothing it logs is a secret: it never reads the call's
 * arguments.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Refuses the guarded methods of @skeleton to the callers above: connects a
 * g-authorize-method handler (connect it before any other, so that a
 * refused call goes no further). Returns the handler id. */
gulong signet_caller_guard(GDBusInterfaceSkeleton *skeleton);

typedef enum
{
  SIGNET_CALLER_METHOD_OPEN,     /* read-only: every caller */
  SIGNET_CALLER_METHOD_GUARDED,  /* takes a secret or writes to a token */
  SIGNET_CALLER_METHOD_UNLISTED, /* not in the table: treated as guarded */
} SignetCallerMethod;

/* The table's word on io.signet.Agent1's method @method. */
SignetCallerMethod signet_caller_method_rule(const char *method);

typedef enum
{
  SIGNET_CALLER_HOST,       /* the agent's user, no sandbox found: allowed */
  SIGNET_CALLER_FLATPAK,    /* refused */
  SIGNET_CALLER_SNAP,       /* refused */
  SIGNET_CALLER_OTHER_USER, /* refused */
  SIGNET_CALLER_UNCHECKED,  /* could not be checked: refused */
} SignetCallerKind;

/* Now, in the clock of /proc/PID/stat's start times (clock ticks since
 * boot, CLOCK_BOOTTIME): take it when the call comes in. */
guint64 signet_caller_now_ticks(void);

/* What the process @pid of Unix user @uid is, for a call that came in at
 * @called_at (signet_caller_now_ticks()). @out_reason: a phrase for
 * messages and logs, "a Flatpak sandbox (app id org.example.App from
 * .flatpak-info)", "a Snap (snap.NAME)", … (always set; free it). */
SignetCallerKind signet_caller_check_process(guint32 pid, guint32 uid, guint64 called_at,
                                             char **out_reason);

/* Parsers of what the checks read (exposed for the unit tests). */

/* The Flatpak app of a /proc/PID/cgroup text: "flatpak run" puts an app in
 * a systemd scope app-flatpak-APPID-NUMBER.scope (name=systemd or unified
 * hierarchy). Returns APPID, or NULL. Used for a caller that is not
 * dumpable, whose root (and so its /.flatpak-info) is closed to the agent. */
char *signet_caller_flatpak_from_cgroup(const char *text);

/* The snap of a /proc/PID/cgroup text ("ID:CONTROLLERS:PATH" lines): the
 * first path in the freezer, name=systemd or unified (empty controllers)
 * hierarchy that holds "/snap.", as "snap.NAME" (NAME cut to the characters
 * snap names use); NULL when there is none. */
char *signet_caller_snap_from_cgroup(const char *text);

/* The app id in a .flatpak-info (key file): name= of [Runtime] if there is
 * such a group, else of [Application]; NULL when it cannot be read or is not
 * a valid app id (only A–Z a–z 0–9 . _ -, at most 255 bytes). */
char *signet_caller_flatpak_app_id(const char *data, gsize length);

/* The start time (field 22, clock ticks since boot) of a /proc/PID/stat
 * text; the command name (field 2) may hold blanks and parentheses. */
gboolean signet_caller_parse_start_time(const char *stat, guint64 *out_ticks);

G_END_DECLS
