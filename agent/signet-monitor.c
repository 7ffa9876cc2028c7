/* signet-monitor.c: see signet-monitor.h. */
#include "config.h"

#include "agent/signet-monitor.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <winscard.h>

#define PNP_READER "\\\\?PnP?\\Notification"

struct _SignetMonitor
{
  gatomicrefcount ref;
  GMainContext *context;
  SignetMonitorFunc func;
  gpointer user_data;
  GThread *thread;

  /* Shared with the worker, under lock. */
  GMutex lock;
  GCond cond;
  gboolean stopping;
  gboolean finished;
  gboolean have_ctx;
  SCARDCONTEXT ctx;
  int wake_fd; /* an eventfd written to stop a wait for pcscd's socket */

  /* The worker's own. */
  SignetReaderSnapshot *published;
};

const char *
signet_monitor_rv_name(long rv)
{
  static char unknown[32];

  switch ((LONG)rv) {
#define NAME(x)                                                                                    \
  case x:                                                                                          \
    return #x
    NAME(SCARD_S_SUCCESS);
    NAME(SCARD_E_CANCELLED);
    NAME(SCARD_E_INVALID_HANDLE);
    NAME(SCARD_E_INVALID_PARAMETER);
    NAME(SCARD_E_NO_MEMORY);
    NAME(SCARD_E_TIMEOUT);
    NAME(SCARD_E_UNKNOWN_READER);
    NAME(SCARD_E_READER_UNAVAILABLE);
    NAME(SCARD_E_NO_SERVICE);
    NAME(SCARD_E_SERVICE_STOPPED);
    NAME(SCARD_E_NO_READERS_AVAILABLE);
    NAME(SCARD_E_SHARING_VIOLATION);
    NAME(SCARD_E_NO_SMARTCARD);
    NAME(SCARD_F_COMM_ERROR);
    NAME(SCARD_F_INTERNAL_ERROR);
    NAME(SCARD_W_REMOVED_CARD);
#undef NAME
    default:
      /* Only for messages; a race on the buffer garbles a log line at worst. */
      g_snprintf(unknown, sizeof unknown, "SCARD_0x%08lx", (unsigned long)rv);
      return unknown;
  }
}

/* ---- states and snapshots ------------------------------------------------ */

void
signet_reader_state_free(SignetReaderState *state)
{
  if (state == NULL)
    return;
  g_free(state->name);
  g_clear_pointer(&state->atr, g_bytes_unref);
  g_free(state);
}

SignetReaderState *
signet_reader_state_copy(const SignetReaderState *state)
{
  SignetReaderState *c = g_memdup2(state, sizeof *state);

  c->name = g_strdup(state->name);
  c->atr = state->atr != NULL ? g_bytes_ref(state->atr) : NULL;
  return c;
}

gboolean
signet_reader_state_equal(const SignetReaderState *a, const SignetReaderState *b)
{
  if (g_strcmp0(a->name, b->name) != 0 || a->present != b->present || a->exclusive != b->exclusive
      || a->mute != b->mute || a->event_count != b->event_count)
    return FALSE;
  if (a->atr == NULL || b->atr == NULL)
    return a->atr == b->atr;
  return g_bytes_equal(a->atr, b->atr);
}

void
signet_reader_snapshot_free(SignetReaderSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_clear_pointer(&snapshot->readers, g_ptr_array_unref);
  g_free(snapshot);
}

static SignetReaderSnapshot *
snapshot_new(gboolean service)
{
  SignetReaderSnapshot *s = g_new0(SignetReaderSnapshot, 1);

  s->service = service;
  s->readers = g_ptr_array_new_with_free_func((GDestroyNotify)signet_reader_state_free);
  s->time = g_get_monotonic_time();
  return s;
}

static SignetReaderSnapshot *
snapshot_copy(const SignetReaderSnapshot *s)
{
  SignetReaderSnapshot *c = snapshot_new(s->service);

  c->time = s->time;
  for (guint i = 0; i < s->readers->len; i++)
    g_ptr_array_add(c->readers, signet_reader_state_copy(g_ptr_array_index(s->readers, i)));
  return c;
}

static gboolean
snapshot_equal(const SignetReaderSnapshot *a, const SignetReaderSnapshot *b)
{
  if (a->service != b->service || a->readers->len != b->readers->len)
    return FALSE;
  for (guint i = 0; i < a->readers->len; i++)
    if (!signet_reader_state_equal(g_ptr_array_index(a->readers, i),
                                   g_ptr_array_index(b->readers, i)))
      return FALSE;
  return TRUE;
}

/* ---- delivery to the main context ----------------------------------------- */

static SignetMonitor *
monitor_ref(SignetMonitor *m)
{
  g_atomic_ref_count_inc(&m->ref);
  return m;
}

static void
monitor_unref(SignetMonitor *m)
{
  if (!g_atomic_ref_count_dec(&m->ref))
    return;
  signet_reader_snapshot_free(m->published);
  if (m->wake_fd >= 0)
    close(m->wake_fd);
  g_main_context_unref(m->context);
  g_mutex_clear(&m->lock);
  g_cond_clear(&m->cond);
  g_free(m);
}

typedef struct
{
  SignetMonitor *monitor;
  SignetReaderSnapshot *snapshot;
} Delivery;

static void
delivery_free(gpointer data)
{
  Delivery *d = data;

  signet_reader_snapshot_free(d->snapshot);
  monitor_unref(d->monitor);
  g_free(d);
}

static gboolean
deliver_cb(gpointer data)
{
  Delivery *d = data;
  SignetMonitor *m = d->monitor;
  gboolean stopping;

  g_mutex_lock(&m->lock);
  stopping = m->stopping;
  g_mutex_unlock(&m->lock);
  if (!stopping)
    m->func(g_steal_pointer(&d->snapshot), m->user_data);
  return G_SOURCE_REMOVE;
}

/* Worker: hands a copy of @s to the main context if it differs from what was
 * handed over last. */
static void
publish(SignetMonitor *m, SignetReaderSnapshot *s)
{
  Delivery *d;

  if (m->published != NULL && snapshot_equal(m->published, s)) {
    signet_reader_snapshot_free(s);
    return;
  }
  signet_reader_snapshot_free(m->published);
  m->published = s;
  d = g_new0(Delivery, 1);
  d->monitor = monitor_ref(m);
  d->snapshot = snapshot_copy(s);
  g_main_context_invoke_full(m->context, G_PRIORITY_DEFAULT, deliver_cb, d, delivery_free);
}

/* ---- the worker ------------------------------------------------------------ */

static gboolean
is_stopping(SignetMonitor *m)
{
  gboolean stopping;

  g_mutex_lock(&m->lock);
  stopping = m->stopping;
  g_mutex_unlock(&m->lock);
  return stopping;
}

/* Waits @ms or until stopped; TRUE if stopping. */
static gboolean
wait_or_stop(SignetMonitor *m, guint ms)
{
  gint64 end = g_get_monotonic_time() + (gint64)ms * G_TIME_SPAN_MILLISECOND;
  gboolean stopping;

  g_mutex_lock(&m->lock);
  while (!m->stopping && g_cond_wait_until(&m->cond, &m->lock, end))
    ;
  stopping = m->stopping;
  g_mutex_unlock(&m->lock);
  return stopping;
}

typedef struct
{
  char *name;
  DWORD current; /* the state pcscd last reported; SCARD_STATE_UNAWARE when new */
  DWORD event;
  BYTE atr[MAX_ATR_SIZE];
  DWORD atr_len;
} Watched;

static void
watched_free(Watched *w)
{
  if (w == NULL)
    return;
  g_free(w->name);
  g_free(w);
}

/* Lists the readers again, keeping what is known of those still there. */
static LONG
relist(SCARDCONTEXT ctx, GPtrArray *watched)
{
  g_autofree char *buf = NULL;
  DWORD len = 0;
  LONG rv;
  g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func((GDestroyNotify)watched_free);

  /* The list can grow between the two calls: ask again if it did. */
  for (int attempt = 0; attempt < 4; attempt++) {
    rv = SCardListReaders(ctx, NULL, NULL, &len);
    if (rv != SCARD_S_SUCCESS)
      break;
    g_free(buf);
    buf = g_malloc0(len + 1);
    rv = SCardListReaders(ctx, NULL, buf, &len);
    if (rv != SCARD_E_INSUFFICIENT_BUFFER)
      break;
  }
  if (rv == SCARD_E_NO_READERS_AVAILABLE) {
    g_clear_pointer(&buf, g_free);
    rv = SCARD_S_SUCCESS;
  }
  if (rv != SCARD_S_SUCCESS)
    return rv;
  for (const char *p = buf; p != NULL && *p != '\0'; p += strlen(p) + 1) {
    Watched *w = NULL;

    for (guint i = 0; i < watched->len; i++) {
      Watched *old = g_ptr_array_index(watched, i);
      if (old != NULL && g_strcmp0(old->name, p) == 0) {
        w = g_steal_pointer(&g_ptr_array_index(watched, i));
        break;
      }
    }
    if (w == NULL) {
      w = g_new0(Watched, 1);
      w->name = g_strdup(p);
      w->current = SCARD_STATE_UNAWARE;
    }
    g_ptr_array_add(fresh, w);
  }
  g_ptr_array_set_size(watched, 0);
  for (guint i = 0; i < fresh->len; i++)
    g_ptr_array_add(watched, g_steal_pointer(&g_ptr_array_index(fresh, i)));
  return SCARD_S_SUCCESS;
}

static SignetReaderSnapshot *
snapshot_of(GPtrArray *watched)
{
  SignetReaderSnapshot *s = snapshot_new(TRUE);

  for (guint i = 0; i < watched->len; i++) {
    Watched *w = g_ptr_array_index(watched, i);
    SignetReaderState *r = g_new0(SignetReaderState, 1);

    r->name = g_strdup(w->name);
    r->present = (w->current & SCARD_STATE_PRESENT) != 0;
    r->exclusive = (w->current & SCARD_STATE_EXCLUSIVE) != 0;
    r->mute = (w->current & SCARD_STATE_MUTE) != 0;
    /* pcsc-lite counts card insertions and removals in the upper 16 bits. */
    r->event_count = (guint)((w->current >> 16) & 0xFFFF);
    if (r->present && w->atr_len > 0)
      r->atr = g_bytes_new(w->atr, w->atr_len);
    g_ptr_array_add(s->readers, r);
  }
  return s;
}

/* Watches until an error, or SCARD_E_CANCELLED. */
static LONG
watch(SignetMonitor *m, SCARDCONTEXT ctx)
{
  g_autoptr(GPtrArray) watched = g_ptr_array_new_with_free_func((GDestroyNotify)watched_free);
  g_autofree SCARD_READERSTATE *states = NULL;
  DWORD pnp_state = SCARD_STATE_UNAWARE;
  gboolean need_list = TRUE;
  LONG rv;

  for (;;) {
    gboolean all_known = TRUE;
    guint n;

    if (need_list) {
      rv = relist(ctx, watched);
      if (rv != SCARD_S_SUCCESS)
        return rv;
      need_list = FALSE;
      g_debug("PC/SC: %u reader(s)", watched->len);
    }
    for (guint i = 0; i < watched->len; i++)
      if (((Watched *)g_ptr_array_index(watched, i))->current == SCARD_STATE_UNAWARE)
        all_known = FALSE;
    /* A reader just listed is reported by the next call at once. */
    if (all_known)
      publish(m, snapshot_of(watched));

    n = watched->len + 1;
    g_free(states);
    states = g_new0(SCARD_READERSTATE, n);
    states[0].szReader = PNP_READER;
    states[0].dwCurrentState = pnp_state;
    for (guint i = 0; i < watched->len; i++) {
      Watched *w = g_ptr_array_index(watched, i);
      states[i + 1].szReader = w->name;
      states[i + 1].dwCurrentState = w->current;
    }
    if (is_stopping(m))
      return SCARD_E_CANCELLED;
    rv = SCardGetStatusChange(ctx, INFINITE, states, n);
    if (rv == SCARD_E_UNKNOWN_READER) {
      /* A reader went away between the list and the wait. */
      need_list = TRUE;
      continue;
    }
    if (rv != SCARD_S_SUCCESS)
      return rv;
    if (states[0].dwEventState & SCARD_STATE_CHANGED) {
      pnp_state = states[0].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
      need_list = TRUE;
    }
    for (guint i = 0; i < watched->len; i++) {
      Watched *w = g_ptr_array_index(watched, i);
      DWORD ev = states[i + 1].dwEventState;

      if ((ev & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) != 0) {
        need_list = TRUE;
        continue;
      }
      if ((ev & SCARD_STATE_CHANGED) == 0 && w->current != SCARD_STATE_UNAWARE)
        continue;
      w->current = ev & ~(DWORD)SCARD_STATE_CHANGED;
      w->atr_len = MIN(states[i + 1].cbAtr, (DWORD)sizeof w->atr);
      memcpy(w->atr, states[i + 1].rgbAtr, w->atr_len);
    }
  }
}

/* Where pcsc-lite's clients reach pcscd: $PCSCLITE_CSOCK_NAME, as the
 * library reads it, else its built-in path (pcsc-lite 1.9). */
static const char *
pcscd_socket_path(void)
{
  const char *path = g_getenv("PCSCLITE_CSOCK_NAME");

  return path != NULL && *path == '/' ? path : "/run/pcscd/pcscd.comm";
}

/* Waits, with no timer, until pcscd's socket (or a missing directory on its
 * way) appears or is replaced, or until the monitor stops: pcscd creates it
 * when it starts, systemd when pcscd.socket starts. TRUE when stopping;
 * FALSE to try connecting again, also when inotify is not available (the
 * caller then waits on its timer). */
static gboolean
wait_for_socket(SignetMonitor *m, gboolean *watched)
{
  const char *path = pcscd_socket_path();
  g_autofree char *dir = g_path_get_dirname(path);
  g_autofree char *want = g_path_get_basename(path);
  int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  gboolean stopping = FALSE;

  *watched = FALSE;
  if (in < 0)
    return FALSE;
  /* The nearest directory that exists, for the next name on the way. */
  while (inotify_add_watch(in, dir, IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_ONLYDIR) < 0) {
    char *parent;

    if (errno != ENOENT || g_str_equal(dir, "/")) {
      close(in);
      return FALSE;
    }
    g_free(want);
    want = g_path_get_basename(dir);
    parent = g_path_get_dirname(dir);
    g_free(dir);
    dir = parent;
  }
  *watched = TRUE;
  g_debug("PC/SC: pcscd does not answer; waiting for %s to appear in %s (no polling)", want, dir);
  for (;;) {
    struct pollfd fds[2]
        = { { .fd = in, .events = POLLIN }, { .fd = m->wake_fd, .events = POLLIN } };
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    gboolean relevant = FALSE;
    ssize_t len;

    if (poll(fds, G_N_ELEMENTS(fds), -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if ((fds[1].revents & POLLIN) != 0 || is_stopping(m)) {
      stopping = TRUE;
      break;
    }
    while ((len = read(in, buf, sizeof buf)) > 0)
      for (char *p = buf; p < buf + len;) {
        const struct inotify_event *ev = (const struct inotify_event *)p;

        if (ev->len > 0 && g_str_equal(ev->name, want))
          relevant = TRUE;
        p += sizeof *ev + ev->len;
      }
    if (relevant) {
      g_debug("PC/SC: %s appeared in %s; connecting", want, dir);
      break;
    }
  }
  close(in);
  return stopping;
}

static gpointer
worker(gpointer data)
{
  SignetMonitor *m = data;
  guint backoff = 0;

  while (!is_stopping(m)) {
    SCARDCONTEXT ctx = 0;
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);

    if (rv == SCARD_S_SUCCESS) {
      gboolean stopping;

      g_mutex_lock(&m->lock);
      stopping = m->stopping;
      m->ctx = ctx;
      m->have_ctx = TRUE;
      g_mutex_unlock(&m->lock);
      if (!stopping) {
        g_debug("PC/SC: connected to pcscd");
        rv = watch(m, ctx);
      }
      g_mutex_lock(&m->lock);
      SCardReleaseContext(ctx);
      m->have_ctx = FALSE;
      g_mutex_unlock(&m->lock);
      if (stopping || (rv == SCARD_E_CANCELLED && is_stopping(m)))
        break;
      /* It worked for a while: try again at once, then back off. */
      backoff = 0;
    }
    /* pcscd absent, stopped or restarted: no reader until it answers. */
    publish(m, snapshot_new(FALSE));
    if (backoff == SIGNET_MONITOR_BACKOFF_MAX_MS) {
      gboolean watched;

      /* It did not answer for seconds: wait for its socket, not a timer. */
      if (wait_for_socket(m, &watched))
        break;
      if (watched) {
        backoff = 0;
        continue;
      }
    }
    g_debug("PC/SC: %s; connecting again in %u ms", signet_monitor_rv_name(rv), backoff);
    if (backoff > 0 && wait_or_stop(m, backoff))
      break;
    backoff = backoff == 0 ? SIGNET_MONITOR_BACKOFF_FIRST_MS
                           : MIN(backoff * 2, SIGNET_MONITOR_BACKOFF_MAX_MS);
  }

  g_mutex_lock(&m->lock);
  m->finished = TRUE;
  g_cond_broadcast(&m->cond);
  g_mutex_unlock(&m->lock);
  monitor_unref(m);
  return NULL;
}

/* ---- probing a reader -------------------------------------------------------- */

SignetReaderProbe
signet_monitor_probe_reader(const char *reader)
{
  SCARDCONTEXT ctx;
  SCARDHANDLE card;
  DWORD protocol;
  LONG rv;

  /* A context per thread, as pcsc-lite wants. */
  rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
  if (rv != SCARD_S_SUCCESS)
    return SIGNET_READER_PROBE_FAILED;
  rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card,
                    &protocol);
  if (rv == SCARD_S_SUCCESS)
    SCardDisconnect(card, SCARD_LEAVE_CARD);
  SCardReleaseContext(ctx);
  g_debug("PC/SC: probing \"%s\": %s", reader, signet_monitor_rv_name(rv));
  switch (rv) {
    case SCARD_S_SUCCESS:
      return SIGNET_READER_PROBE_FREE;
    case SCARD_E_SHARING_VIOLATION:
      return SIGNET_READER_PROBE_IN_USE;
    case SCARD_E_NO_SMARTCARD:
    case SCARD_W_REMOVED_CARD:
      return SIGNET_READER_PROBE_NO_CARD;
    default:
      return SIGNET_READER_PROBE_FAILED;
  }
}

/* ---- public ---------------------------------------------------------------- */

SignetMonitor *
signet_monitor_new(SignetMonitorFunc func, gpointer user_data)
{
  SignetMonitor *m = g_new0(SignetMonitor, 1);

  g_return_val_if_fail(func != NULL, NULL);
  g_atomic_ref_count_init(&m->ref);
  g_mutex_init(&m->lock);
  g_cond_init(&m->cond);
  m->context = g_main_context_ref_thread_default();
  m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  m->func = func;
  m->user_data = user_data;
  m->thread = g_thread_new("signet-pcsc", worker, monitor_ref(m));
  return m;
}

void
signet_monitor_free(SignetMonitor *m)
{
  if (m == NULL)
    return;
  g_mutex_lock(&m->lock);
  m->stopping = TRUE;
  g_cond_broadcast(&m->cond);
  if (m->wake_fd >= 0) {
    guint64 one = 1;

    if (write(m->wake_fd, &one, sizeof one) < 0)
      g_debug("PC/SC: could not wake the worker: %s", g_strerror(errno));
  }
  /* SCardCancel only stops a wait in progress: repeat it until the worker
   * is out, in case it was about to enter one. */
  while (!m->finished) {
    if (m->have_ctx)
      SCardCancel(m->ctx);
    g_cond_wait_until(&m->cond, &m->lock, g_get_monotonic_time() + 50 * G_TIME_SPAN_MILLISECOND);
  }
  g_mutex_unlock(&m->lock);
  g_thread_join(m->thread);
  monitor_unref(m);
}
