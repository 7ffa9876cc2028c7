/* signet-hotplug.c: see signet-hotplug.h and docs/internals/hotplug.md. */
#include "config.h"

#include "agent/signet-hotplug.h"

#include <string.h>

#include "libsignet/signet-dbus-generated.h"
#include "agent/signet-monitor.h"

/* What the agent knows of the card through PKCS#11 (the "pkcs11" key). */
typedef enum
{
  PKCS11_UNSET,   /* no card */
  PKCS11_READING, /* a read runs; TokenChanged tells the result */
  PKCS11_TOKEN,   /* a module has a token for it: label, serial, … */
  PKCS11_NONE,    /* no module knows the card, or it could not be read */
} Pkcs11State;

static const char *const pkcs11_names[] = { NULL, "reading", "token", "none" };

/* A reader as told to clients, with the token found for its card. */
typedef struct
{
  SignetReaderState *state;
  guint generation; /* the card's: a read's result is for the card it started with */
  Pkcs11State pkcs11;
  gboolean held; /* a probe found the card held by another program */
  char *label;
  char *serial;
  char *uri;
  char *module;
} Reader;

typedef enum
{
  EVENT_READER_ADDED,
  EVENT_READER_REMOVED,
  EVENT_TOKEN_ADDED,
  EVENT_TOKEN_REMOVED,
  EVENT_TOKEN_CHANGED,
} EventKind;

static const char *const event_names[]
    = { "ReaderAdded", "ReaderRemoved", "TokenAdded", "TokenRemoved", "TokenChanged" };

struct _SignetHotplug
{
  SignetAgent *agent;
  SignetAgent1 *skeleton;
  gulong handler_ids[4];
  SignetMonitor *monitor;

  GPtrArray *readers;            /* Reader, in pcscd's order, as told */
  SignetReaderSnapshot *latest;  /* the monitor's last word */
  gboolean ready;                /* the first snapshot has been told */
  GPtrArray *pending_list_calls; /* ListReaders calls waiting for ready */

  guint n_reads; /* PKCS#11 reads running (workers) */
  GCancellable *cancellable;

  GHashTable *watchers; /* unique bus name → g_bus_watch_name id */

  guint idle_seconds;
  guint idle_id;
  gint last_call; /* monotonic seconds of the last method call (any thread) */
  GSourceFunc idle_func;
  gpointer idle_data;

  SignetHotplugTokenFunc token_func;
  gpointer token_data;
};

static void update_idle(SignetHotplug *hp);
static void tell_in_use_changed(SignetHotplug *hp, Reader *r, gboolean was_in_use, gint64 seen);
static void answer_list_readers(SignetHotplug *hp, GDBusMethodInvocation *invocation);

/* ---- the matching rule ------------------------------------------------------ */

#define SLOT_DESCRIPTION_LEN 64

static char *
strip_trailing_blanks(const char *s, gsize max)
{
  gsize n = strnlen(s, max);

  while (n > 0 && s[n - 1] == ' ')
    n--;
  return g_strndup(s, n);
}

gboolean
signet_hotplug_slot_matches_reader(const char *slot_description, const char *reader)
{
  g_autofree char *slot = NULL;
  g_autofree char *name = NULL;

  if (slot_description == NULL || reader == NULL || *reader == '\0')
    return FALSE;
  slot = strip_trailing_blanks(slot_description, G_MAXSSIZE);
  /* OpenSC copies the reader's name into the 64-byte slot description,
   * cut there and padded with blanks. Whole names are compared: "Foo 00 00"
   * is not "Foo 00 01". */
  name = strip_trailing_blanks(reader, SLOT_DESCRIPTION_LEN);
  return g_strcmp0(slot, name) == 0;
}

/* ---- readers and dictionaries ---------------------------------------------- */

static void
reader_clear_token(Reader *r)
{
  g_clear_pointer(&r->label, g_free);
  g_clear_pointer(&r->serial, g_free);
  g_clear_pointer(&r->uri, g_free);
  g_clear_pointer(&r->module, g_free);
}

static void
reader_free(Reader *r)
{
  signet_reader_state_free(r->state);
  reader_clear_token(r);
  g_free(r);
}

static Reader *
find_reader(SignetHotplug *hp, const char *name)
{
  for (guint i = 0; i < hp->readers->len; i++) {
    Reader *r = g_ptr_array_index(hp->readers, i);
    if (g_strcmp0(r->state->name, name) == 0)
      return r;
  }
  return NULL;
}

static const SignetReaderState *
find_state(const SignetReaderSnapshot *s, const char *name)
{
  for (guint i = 0; i < s->readers->len; i++) {
    const SignetReaderState *st = g_ptr_array_index(s->readers, i);
    if (g_strcmp0(st->name, name) == 0)
      return st;
  }
  return NULL;
}

/* Held by another program: pcsc-lite says so (SCARD_STATE_EXCLUSIVE, seen
 * at events only), or our own probe found it (signet-monitor.h). */
static gboolean
reader_in_use(const Reader *r)
{
  return r->state->present && (r->state->exclusive || r->held);
}

static const char *
state_name(const Reader *r)
{
  const SignetReaderState *st = r->state;

  if (reader_in_use(r))
    return "in-use";
  if (!st->present)
    return "empty";
  if (st->mute)
    return "mute";
  return "present";
}

static char *
atr_hex(GBytes *atr)
{
  gsize n;
  const guint8 *p = g_bytes_get_data(atr, &n);
  GString *s = g_string_sized_new(n * 2 + 1);

  for (gsize i = 0; i < n; i++)
    g_string_append_printf(s, "%02X", p[i]);
  return g_string_free(s, FALSE);
}

/* The dictionary of every signal and of ListReaders (docs/dbus-api.md). */
static GVariant *
reader_dict(const Reader *r)
{
  const SignetReaderState *st = r->state;
  GVariantDict d;

  g_variant_dict_init(&d, NULL);
  g_variant_dict_insert(&d, "reader", "s", st->name);
  g_variant_dict_insert(&d, "state", "s", state_name(r));
  g_variant_dict_insert(&d, "card_present", "b", st->present);
  g_variant_dict_insert(&d, "in_use", "b", reader_in_use(r));
  if (reader_in_use(r))
    g_variant_dict_insert(&d, "message", "s", "reader in use by another program");
  else if (st->present && st->mute)
    g_variant_dict_insert(&d, "message", "s", "the card does not answer");
  /* TokenRemoved still names the card that went away. */
  if (st->atr != NULL) {
    g_autofree char *hex = atr_hex(st->atr);
    g_variant_dict_insert(&d, "atr", "s", hex);
  }
  if (r->pkcs11 != PKCS11_UNSET)
    g_variant_dict_insert(&d, "pkcs11", "s", pkcs11_names[r->pkcs11]);
  if (r->serial != NULL) {
    g_variant_dict_insert(&d, "label", "s", r->label ? r->label : "");
    g_variant_dict_insert(&d, "serial", "s", r->serial);
    if (r->uri != NULL)
      g_variant_dict_insert(&d, "uri", "s", r->uri);
    if (r->module != NULL)
      g_variant_dict_insert(&d, "module", "s", r->module);
  }
  return g_variant_dict_end(&d);
}

static void
emit(SignetHotplug *hp, EventKind kind, const Reader *r, gint64 seen)
{
  GVariant *dict = reader_dict(r);

  switch (kind) {
    case EVENT_READER_ADDED:
      signet_agent1_emit_reader_added(hp->skeleton, dict);
      break;
    case EVENT_READER_REMOVED:
      signet_agent1_emit_reader_removed(hp->skeleton, dict);
      break;
    case EVENT_TOKEN_ADDED:
      signet_agent1_emit_token_added(hp->skeleton, dict);
      break;
    case EVENT_TOKEN_REMOVED:
      signet_agent1_emit_token_removed(hp->skeleton, dict);
      break;
    case EVENT_TOKEN_CHANGED:
      signet_agent1_emit_token_changed(hp->skeleton, dict);
      break;
  }
  /* Monotonic times, for measuring the event path (bench/). */
  g_debug("hotplug: %s \"%s\"%s%s%s at %" G_GINT64_FORMAT " us monotonic, %" G_GINT64_FORMAT
          " us after PC/SC saw it",
          event_names[kind], r->state->name, r->serial ? " token \"" : "",
          r->serial ? r->label : "", r->serial ? "\"" : "", g_get_monotonic_time(),
          g_get_monotonic_time() - seen);
}

/* ---- the PKCS#11 read after an insertion ------------------------------ */

typedef struct
{
  SignetP11Context *ctx;
  char *reader;
  guint generation;
  gint64 seen;
  gboolean held; /* result: the probe found the card held */
} ReadJob;

static void
read_job_free(ReadJob *job)
{
  g_free(job->reader);
  g_free(job);
}

static void
read_token_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ReadJob *job = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = NULL;

  /* Held by another program: PKCS#11 could not read it either. */
  if (signet_monitor_probe_reader(job->reader) == SIGNET_READER_PROBE_IN_USE) {
    job->held = TRUE;
    g_task_return_pointer(task, NULL, NULL);
    return;
  }
  /* The slot list is read afresh: OpenSC looks at its readers again then. */
  tokens = signet_p11_context_list_tokens(job->ctx, &error);
  if (tokens == NULL) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  for (guint i = 0; i < tokens->len; i++) {
    SignetP11Token *t = g_ptr_array_index(tokens, i);

    if (signet_hotplug_slot_matches_reader(t->slot_description, job->reader)) {
      g_task_return_pointer(task, signet_p11_token_copy(t), (GDestroyNotify)signet_p11_token_free);
      return;
    }
  }
  g_task_return_pointer(task, NULL, NULL);
}

static void
on_read_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = G_TASK(result);
  SignetHotplug *hp = user_data;
  ReadJob *job = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Token) token = g_task_propagate_pointer(task, &error);
  Reader *r;

  /* signet_hotplug_free() waits for every read; it tells nothing more. */
  hp->n_reads--;
  if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
    return;
  r = find_reader(hp, job->reader);
  if (r == NULL || r->generation != job->generation || !r->state->present) {
    g_debug("hotplug: the card read in \"%s\" is gone; result dropped", job->reader);
    update_idle(hp);
    return;
  }
  reader_clear_token(r);
  r->held = job->held;
  if (token != NULL) {
    r->pkcs11 = PKCS11_TOKEN;
    r->label = g_strdup(token->label);
    r->serial = g_strdup(token->serial);
    r->uri = g_strdup(token->uri);
    r->module = g_strdup(token->module_name);
  } else {
    r->pkcs11 = PKCS11_NONE;
    if (job->held)
      g_debug("hotplug: the card in \"%s\" is held by another program", job->reader);
    else if (error != NULL)
      g_debug("hotplug: no token read in \"%s\": %s", job->reader, error->message);
    else
      g_debug("hotplug: no PKCS#11 module knows the card in \"%s\"", job->reader);
  }
  emit(hp, EVENT_TOKEN_CHANGED, r, job->seen);
  if (r->pkcs11 == PKCS11_TOKEN && r->serial != NULL && hp->token_func != NULL)
    hp->token_func(r->serial, hp->token_data);
  update_idle(hp);
}

void
signet_hotplug_set_token_func(SignetHotplug *hp, SignetHotplugTokenFunc func, gpointer user_data)
{
  hp->token_func = func;
  hp->token_data = user_data;
}

/* Can the card in @st be read now? Not without a module, nor while another
 * program holds the reader (the read would fail). */
static gboolean
can_read(SignetHotplug *hp, const SignetReaderState *st)
{
  return signet_agent_get_context(hp->agent) != NULL && !st->exclusive;
}

/* Reads the token of @r's card in a worker; TokenChanged tells the result. */
static void
start_read(SignetHotplug *hp, Reader *r, gint64 seen)
{
  ReadJob *job = g_new0(ReadJob, 1);
  g_autoptr(GTask) task = NULL;

  job->ctx = signet_agent_get_context(hp->agent);
  job->reader = g_strdup(r->state->name);
  job->generation = r->generation;
  job->seen = seen;
  hp->n_reads++;
  task = g_task_new(NULL, hp->cancellable, on_read_done_cb, hp);
  g_task_set_source_tag(task, start_read);
  g_task_set_task_data(task, job, (GDestroyNotify)read_job_free);
  g_task_run_in_thread(task, read_token_thread);
}

/* ---- ListReaders: asks whether cards are held ------------------------------ */

typedef struct
{
  char *reader;
  guint generation;
  SignetReaderProbe result;
} Probe;

static void
probe_free(Probe *p)
{
  g_free(p->reader);
  g_free(p);
}

typedef struct
{
  GPtrArray *probes; /* Probe */
  GDBusMethodInvocation *invocation;
} ProbeJob;

static void
probe_job_free(ProbeJob *job)
{
  g_ptr_array_unref(job->probes);
  g_free(job);
}

static void
probe_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ProbeJob *job = data;

  for (guint i = 0; i < job->probes->len; i++) {
    Probe *p = g_ptr_array_index(job->probes, i);
    p->result = signet_monitor_probe_reader(p->reader);
  }
  g_task_return_boolean(task, TRUE);
}

static void
on_probes_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = G_TASK(result);
  SignetHotplug *hp = user_data;
  ProbeJob *job = g_task_get_task_data(task);

  hp->n_reads--;
  if (g_cancellable_is_cancelled(g_task_get_cancellable(task))) {
    g_dbus_method_invocation_return_dbus_error(job->invocation, "io.signet.Error.Failed",
                                               "The agent is stopping");
    return;
  }
  for (guint i = 0; i < job->probes->len; i++) {
    Probe *p = g_ptr_array_index(job->probes, i);
    Reader *r = find_reader(hp, p->reader);
    gboolean was_in_use;

    if (r == NULL || r->generation != p->generation || !r->state->present)
      continue;
    was_in_use = reader_in_use(r);
    if (p->result == SIGNET_READER_PROBE_IN_USE) {
      r->held = TRUE;
    } else if (p->result == SIGNET_READER_PROBE_FREE) {
      r->held = FALSE;
      r->state->exclusive = FALSE;
    }
    if (was_in_use != reader_in_use(r))
      tell_in_use_changed(hp, r, was_in_use, g_get_monotonic_time());
  }
  answer_list_readers(hp, job->invocation);
  update_idle(hp);
}

/* Probes the readers with a card (held by another program?), tells what
 * changed, then answers. */
static void
list_readers(SignetHotplug *hp, GDBusMethodInvocation *invocation)
{
  ProbeJob *job = g_new0(ProbeJob, 1);
  g_autoptr(GTask) task = NULL;

  job->probes = g_ptr_array_new_with_free_func((GDestroyNotify)probe_free);
  job->invocation = invocation;
  for (guint i = 0; i < hp->readers->len; i++) {
    Reader *r = g_ptr_array_index(hp->readers, i);
    Probe *p;

    if (!r->state->present)
      continue;
    p = g_new0(Probe, 1);
    p->reader = g_strdup(r->state->name);
    p->generation = r->generation;
    g_ptr_array_add(job->probes, p);
  }
  if (job->probes->len == 0) {
    probe_job_free(job);
    answer_list_readers(hp, invocation);
    return;
  }
  hp->n_reads++;
  task = g_task_new(NULL, hp->cancellable, on_probes_done_cb, hp);
  g_task_set_source_tag(task, list_readers);
  g_task_set_task_data(task, job, (GDestroyNotify)probe_job_free);
  g_task_run_in_thread(task, probe_thread);
}

/* ---- from snapshots to events --------------------------------------------- */

static void
answer_list_readers(SignetHotplug *hp, GDBusMethodInvocation *invocation)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; i < hp->readers->len; i++)
    g_variant_builder_add_value(&b, reader_dict(g_ptr_array_index(hp->readers, i)));
  signet_agent1_complete_list_readers(hp->skeleton, invocation, g_variant_builder_end(&b));
}

static void
tell_token_removed(SignetHotplug *hp, Reader *r, gint64 seen)
{
  r->state->present = FALSE;
  r->state->mute = FALSE;
  r->held = FALSE;
  r->generation++;
  emit(hp, EVENT_TOKEN_REMOVED, r, seen);
  g_clear_pointer(&r->state->atr, g_bytes_unref);
  reader_clear_token(r);
  r->pkcs11 = PKCS11_UNSET;
}

static void
tell_token_added(SignetHotplug *hp, Reader *r, const SignetReaderState *st, gint64 seen)
{
  signet_reader_state_free(r->state);
  r->state = signet_reader_state_copy(st);
  r->generation++;
  r->held = FALSE;
  reader_clear_token(r);
  /* Told at once with the reader and the ATR: reading the token can take
   * seconds (OpenSC tries its drivers), TokenChanged follows with it. */
  r->pkcs11 = can_read(hp, st) ? PKCS11_READING : PKCS11_NONE;
  emit(hp, EVENT_TOKEN_ADDED, r, seen);
  if (r->pkcs11 == PKCS11_READING)
    start_read(hp, r, seen);
}

/* The card's state changed (held, released, mute): TokenChanged; released
 * before its token could be read, it is read now. */
static void
tell_in_use_changed(SignetHotplug *hp, Reader *r, gboolean was_in_use, gint64 seen)
{
  gboolean released = was_in_use && !reader_in_use(r);

  if (released && r->serial == NULL && r->pkcs11 != PKCS11_READING && can_read(hp, r->state)) {
    r->pkcs11 = PKCS11_READING;
    emit(hp, EVENT_TOKEN_CHANGED, r, seen);
    start_read(hp, r, seen);
  } else {
    emit(hp, EVENT_TOKEN_CHANGED, r, seen);
  }
}

/* Tells clients the difference between what they were told and the
 * monitor's last snapshot, one event per change, in order. */
static void
reconcile(SignetHotplug *hp)
{
  const SignetReaderSnapshot *want = hp->latest;

  if (want == NULL)
    return;

  /* Readers gone (pcscd stopped: all of them). */
  for (guint i = hp->readers->len; i-- > 0;) {
    Reader *r = g_ptr_array_index(hp->readers, i);

    if (find_state(want, r->state->name) != NULL)
      continue;
    if (r->state->present)
      tell_token_removed(hp, r, want->time);
    emit(hp, EVENT_READER_REMOVED, r, want->time);
    g_ptr_array_remove_index(hp->readers, i);
  }

  for (guint i = 0; i < want->readers->len; i++) {
    const SignetReaderState *st = g_ptr_array_index(want->readers, i);
    Reader *r = find_reader(hp, st->name);

    if (r == NULL) {
      r = g_new0(Reader, 1);
      r->state = g_new0(SignetReaderState, 1);
      r->state->name = g_strdup(st->name);
      r->state->event_count = st->event_count;
      g_ptr_array_insert(hp->readers, (gint)MIN(i, hp->readers->len), r);
      emit(hp, EVENT_READER_ADDED, r, want->time);
    }
    /* The card went away, or another one took its place. */
    if (r->state->present
        && (!st->present || st->event_count != r->state->event_count
            || (st->atr != NULL && r->state->atr != NULL
                && !g_bytes_equal(st->atr, r->state->atr))))
      tell_token_removed(hp, r, want->time);
    if (!r->state->present && st->present) {
      tell_token_added(hp, r, st, want->time);
      continue;
    }
    if (r->state->present && st->present
        && (r->state->exclusive != st->exclusive || r->state->mute != st->mute)) {
      gboolean was_in_use = reader_in_use(r);
      gboolean was_mute = r->state->mute;

      signet_reader_state_free(r->state);
      r->state = signet_reader_state_copy(st);
      /* pcsc-lite's word is newer than our probe's. */
      r->held = FALSE;
      if (was_in_use != reader_in_use(r) || was_mute != r->state->mute)
        tell_in_use_changed(hp, r, was_in_use, want->time);
      continue;
    }
    if (!signet_reader_state_equal(r->state, st)) {
      /* Nothing a client is told about for a reader without a card. */
      signet_reader_state_free(r->state);
      r->state = signet_reader_state_copy(st);
    }
  }

  if (!hp->ready) {
    hp->ready = TRUE;
    for (guint i = 0; i < hp->pending_list_calls->len; i++)
      list_readers(hp, g_ptr_array_index(hp->pending_list_calls, i));
    g_ptr_array_set_size(hp->pending_list_calls, 0);
  }
  update_idle(hp);
}

static void
on_snapshot_cb(SignetReaderSnapshot *snapshot, gpointer user_data)
{
  SignetHotplug *hp = user_data;

  g_debug("hotplug: PC/SC %s, %u reader(s), seen at %" G_GINT64_FORMAT " us monotonic",
          snapshot->service ? "up" : "down", snapshot->readers->len, snapshot->time);
  signet_reader_snapshot_free(hp->latest);
  hp->latest = snapshot;
  reconcile(hp);
}

/* ---- idle ------------------------------------------------------------------- */

/* Idle as far as events go: no card anywhere, nobody watching, no read. */
static gboolean
is_quiet(SignetHotplug *hp)
{
  if (hp->n_reads > 0 || g_hash_table_size(hp->watchers) > 0)
    return FALSE;
  for (guint i = 0; i < hp->readers->len; i++)
    if (((Reader *)g_ptr_array_index(hp->readers, i))->state->present)
      return FALSE;
  if (hp->latest != NULL)
    for (guint i = 0; i < hp->latest->readers->len; i++)
      if (((SignetReaderState *)g_ptr_array_index(hp->latest->readers, i))->present)
        return FALSE;
  return TRUE;
}

static gboolean
on_idle_timeout_cb(gpointer user_data)
{
  SignetHotplug *hp = user_data;

  hp->idle_id = 0;
  {
    gint64 since = g_get_monotonic_time() / G_USEC_PER_SEC - g_atomic_int_get(&hp->last_call);

    if (since >= 0 && since < (gint64)hp->idle_seconds) {
      /* A method call came in while the timer ran: count from it. */
      hp->idle_id
          = g_timeout_add_seconds((guint)MAX(hp->idle_seconds - since, 1), on_idle_timeout_cb, hp);
      g_source_set_name_by_id(hp->idle_id, "signet idle exit");
      g_debug("idle: a call %" G_GINT64_FORMAT " s ago; exit postponed", since);
      return G_SOURCE_REMOVE;
    }
  }
  if (signet_agent_get_n_running(hp->agent) > 0) {
    /* Operations do not tell when they end: look again one idle time on. */
    g_debug("idle: %u operation(s) running; exit postponed", signet_agent_get_n_running(hp->agent));
    update_idle(hp);
    return G_SOURCE_REMOVE;
  }
  g_message("idle for %u s (no card, no client watching, no call): exiting", hp->idle_seconds);
  hp->idle_func(hp->idle_data);
  return G_SOURCE_REMOVE;
}

/* One timer, armed only while quiet. */
static void
update_idle(SignetHotplug *hp)
{
  if (hp->idle_seconds == 0 || hp->idle_func == NULL)
    return;
  if (is_quiet(hp)) {
    if (hp->idle_id == 0) {
      hp->idle_id = g_timeout_add_seconds(hp->idle_seconds, on_idle_timeout_cb, hp);
      g_source_set_name_by_id(hp->idle_id, "signet idle exit");
      g_debug("idle: exit in %u s unless something happens", hp->idle_seconds);
    }
  } else if (hp->idle_id != 0) {
    g_clear_handle_id(&hp->idle_id, g_source_remove);
    g_debug("idle: not idle any more");
  }
}

/* Any method call starts the countdown again. */
static gboolean
on_skeleton_authorize_method_cb(GDBusInterfaceSkeleton *skeleton, GDBusMethodInvocation *invocation,
                                gpointer user_data)
{
  SignetHotplug *hp = user_data;

  /* GDBus emits this in a worker thread: only note the time; the idle
   * timer (main thread) counts from it. */
  g_atomic_int_set(&hp->last_call, (gint)(g_get_monotonic_time() / G_USEC_PER_SEC));
  return TRUE;
}

/* ---- methods ------------------------------------------------------------------ */

static gboolean
on_handle_list_readers_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                          gpointer user_data)
{
  SignetHotplug *hp = user_data;

  /* Just started (activated by this call): answer once PC/SC was asked. */
  if (!hp->ready)
    g_ptr_array_add(hp->pending_list_calls, invocation);
  else
    list_readers(hp, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_watcher_vanished_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
  SignetHotplug *hp = user_data;

  g_debug("idle: %s stopped watching (left the bus)", name);
  g_hash_table_remove(hp->watchers, name);
  update_idle(hp);
}

static gboolean
on_handle_watch_tokens_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                          gpointer user_data)
{
  SignetHotplug *hp = user_data;
  const char *sender = g_dbus_method_invocation_get_sender(invocation);

  if (sender != NULL && !g_hash_table_contains(hp->watchers, sender)) {
    guint id = g_bus_watch_name_on_connection(g_dbus_method_invocation_get_connection(invocation),
                                              sender, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                              on_watcher_vanished_cb, hp, NULL);
    g_hash_table_insert(hp->watchers, g_strdup(sender), GUINT_TO_POINTER(id));
    g_debug("idle: %s watches tokens (%u watching)", sender, g_hash_table_size(hp->watchers));
  }
  update_idle(hp);
  signet_agent1_complete_watch_tokens(skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_unwatch_tokens_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                            gpointer user_data)
{
  SignetHotplug *hp = user_data;
  const char *sender = g_dbus_method_invocation_get_sender(invocation);

  if (sender != NULL && g_hash_table_remove(hp->watchers, sender))
    g_debug("idle: %s stopped watching", sender);
  update_idle(hp);
  signet_agent1_complete_unwatch_tokens(skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
unwatch(gpointer id)
{
  g_bus_unwatch_name(GPOINTER_TO_UINT(id));
}

/* ---- public ------------------------------------------------------------------ */

SignetHotplug *
signet_hotplug_new(SignetAgent *agent)
{
  SignetHotplug *hp = g_new0(SignetHotplug, 1);

  hp->agent = g_object_ref(agent);
  hp->skeleton = g_object_ref(signet_agent_get_skeleton(agent));
  hp->readers = g_ptr_array_new_with_free_func((GDestroyNotify)reader_free);
  /* Invocations are owned until completed (which consumes them). */
  hp->pending_list_calls = g_ptr_array_new();
  hp->cancellable = g_cancellable_new();
  hp->watchers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, unwatch);
  hp->handler_ids[0] = g_signal_connect(hp->skeleton, "handle-list-readers",
                                        G_CALLBACK(on_handle_list_readers_cb), hp);
  hp->handler_ids[1] = g_signal_connect(hp->skeleton, "handle-watch-tokens",
                                        G_CALLBACK(on_handle_watch_tokens_cb), hp);
  hp->handler_ids[2] = g_signal_connect(hp->skeleton, "handle-unwatch-tokens",
                                        G_CALLBACK(on_handle_unwatch_tokens_cb), hp);
  hp->handler_ids[3] = g_signal_connect(hp->skeleton, "g-authorize-method",
                                        G_CALLBACK(on_skeleton_authorize_method_cb), hp);
  return hp;
}

void
signet_hotplug_start(SignetHotplug *hp)
{
  g_return_if_fail(hp != NULL);
  if (hp->monitor == NULL)
    hp->monitor = signet_monitor_new(on_snapshot_cb, hp);
}

void
signet_hotplug_set_idle_timeout(SignetHotplug *hp, guint seconds, GSourceFunc func,
                                gpointer user_data)
{
  g_return_if_fail(hp != NULL);
  g_clear_handle_id(&hp->idle_id, g_source_remove);
  hp->idle_seconds = seconds;
  hp->idle_func = func;
  hp->idle_data = user_data;
  update_idle(hp);
}

void
signet_hotplug_free(SignetHotplug *hp)
{
  if (hp == NULL)
    return;
  g_clear_handle_id(&hp->idle_id, g_source_remove);
  hp->idle_func = NULL;
  g_clear_pointer(&hp->monitor, signet_monitor_free);
  /* A PKCS#11 read uses the agent's context: let it end first. */
  g_cancellable_cancel(hp->cancellable);
  while (hp->n_reads > 0)
    g_main_context_iteration(NULL, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS(hp->handler_ids); i++)
    g_clear_signal_handler(&hp->handler_ids[i], hp->skeleton);
  for (guint i = 0; i < hp->pending_list_calls->len; i++)
    g_dbus_method_invocation_return_dbus_error(g_ptr_array_index(hp->pending_list_calls, i),
                                               "io.signet.Error.Failed", "The agent is stopping");
  g_ptr_array_unref(hp->pending_list_calls);
  g_hash_table_unref(hp->watchers);
  g_ptr_array_unref(hp->readers);
  signet_reader_snapshot_free(hp->latest);
  g_object_unref(hp->cancellable);
  g_object_unref(hp->skeleton);
  g_object_unref(hp->agent);
  g_free(hp);
}
