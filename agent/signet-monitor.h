/* signet-monitor.h: the PC/SC monitor. One worker thread watches every
 * reader plus the "\\?PnP?\Notification" pseudo-reader with
 * SCardGetStatusChange and no timeout, and hands the main context a
 * snapshot of all readers after every change it sees.
 *
 * Owns: the worker's PC/SC context; reconnecting to pcscd with a capped
 * backoff when it is absent, stopped or restarted (then the snapshot is
 * empty with service FALSE until pcscd answers again), and once the backoff
 * reaches its cap, waiting with inotify for pcscd's socket
 * ($PCSCLITE_CSOCK_NAME, else /run/pcscd/pcscd.comm, or the directory on
 * its way) to appear instead of on a timer: no wakeup until pcscd starts.
 * May call: pcsc-lite, GLib. Never PKCS#11, never D-Bus.
 *
 * Threads: the worker blocks in SCardGetStatusChange (INFINITE) while pcscd
 * is up, waits on a condition variable between the first reconnect
 * attempts while it is not, then in poll() on the inotify descriptor and an
 * eventfd that signet_monitor_free() writes: no polling and no sleeps
 * otherwise. signet_monitor_free()
 * cancels the wait with SCardCancel and joins the worker (well under a
 * second). Snapshots are delivered in the thread-default main context of the
 * caller of signet_monitor_new(), in the order the worker saw them; nothing
 * is delivered after signet_monitor_free() returns.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Reconnect backoff while pcscd does not answer (docs/internals/hotplug.md). */
#define SIGNET_MONITOR_BACKOFF_FIRST_MS 100
#define SIGNET_MONITOR_BACKOFF_MAX_MS   5000

typedef struct
{
  char *name;         /* the reader's PC/SC name, e.g. "Virtual PCD 00 00" */
  gboolean present;   /* a card is in the reader (SCARD_STATE_PRESENT) */
  gboolean exclusive; /* another program holds it exclusively (SCARD_STATE_EXCLUSIVE) */
  gboolean mute;      /* the card does not answer (SCARD_STATE_MUTE) */
  GBytes *atr;        /* the card's ATR when present, else NULL */
  guint event_count;  /* pcsc-lite's card event counter: changes on every insertion/removal */
} SignetReaderState;

typedef struct
{
  gboolean service;   /* pcscd answered */
  GPtrArray *readers; /* SignetReaderState, in pcscd's order */
  gint64 time;        /* g_get_monotonic_time() when the worker saw this state */
} SignetReaderSnapshot;

void signet_reader_state_free(SignetReaderState *state);
SignetReaderState *signet_reader_state_copy(const SignetReaderState *state);
/* TRUE if @a and @b differ in anything a client is told about (the card
 * event counter included). */
gboolean signet_reader_state_equal(const SignetReaderState *a, const SignetReaderState *b);
void signet_reader_snapshot_free(SignetReaderSnapshot *snapshot);

/* Called in the main context with a snapshot the callee may keep (owned by
 * the callee: free it with signet_reader_snapshot_free). */
typedef void (*SignetMonitorFunc)(SignetReaderSnapshot *snapshot, gpointer user_data);

typedef struct _SignetMonitor SignetMonitor;

/* Starts the worker. @func is called in the current thread-default main
 * context: first with the state found at start (pcscd absent: empty, service
 * FALSE), then after every change. */
SignetMonitor *signet_monitor_new(SignetMonitorFunc func, gpointer user_data);

/* Stops the worker (SCardCancel) and waits for it. NULL is ignored. */
void signet_monitor_free(SignetMonitor *monitor);

/* Is the card in @reader held by another program? pcsc-lite does not wake a
 * waiting SCardGetStatusChange when a program connects to or leaves a card
 * (SCARD_STATE_EXCLUSIVE is only seen at the next card or reader event), so
 * the agent asks: a shared connection, left at once (SCARD_LEAVE_CARD).
 * Blocks briefly: call from a worker. */
typedef enum
{
  SIGNET_READER_PROBE_FREE,    /* a shared connection worked */
  SIGNET_READER_PROBE_IN_USE,  /* SCARD_E_SHARING_VIOLATION: held exclusively */
  SIGNET_READER_PROBE_NO_CARD, /* no card (any more) */
  SIGNET_READER_PROBE_FAILED,  /* anything else (pcscd gone, mute card): unknown */
} SignetReaderProbe;

SignetReaderProbe signet_monitor_probe_reader(const char *reader);

/* "SCARD_E_NO_SERVICE" for SCARD_E_NO_SERVICE, "SCARD_0x…" when unknown. */
const char *signet_monitor_rv_name(long rv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetReaderState, signet_reader_state_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetReaderSnapshot, signet_reader_snapshot_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetMonitor, signet_monitor_free)

G_END_DECLS
