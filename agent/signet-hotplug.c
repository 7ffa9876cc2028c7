/* signet-hotplug.c: the readers as told to clients (see signet-hotplug.h
 * and docs/internals/hotplug.md).
 *
 * Owns: the object's life, the readers as told (in pcscd's order), the
 * monitor's snapshots turned into events (one per change, in order: the
 * diff against what was told), ListReaders (the readers with a card probed
 * for a hold, what changed told, then the answer; calls before the first
 * snapshot wait for it).
 * May call: signet-monitor (snapshots, probes), signet-hotplug-tokens.c
 * (the read of a card's token), signet-hotplug-signals.c (the signals and
 * the dictionary), signet-hotplug-idle.c, the agent's skeleton
 * (signet-agent.h), GLib/GIO.
 *
 * The other files: signet-hotplug-tokens.c (the PKCS#11 token in each
 * card), signet-hotplug-signals.c (what clients are told),
 * signet-hotplug-idle.c (the idle rule); signet-hotplug-private.h is what
 * they share.
 *
 * Threads: the main context; probes run in a GTask worker.
 */
#include "config.h"

#include "agent/signet-hotplug.h"
#include "agent/signet-hotplug-private.h"
#include "agent/signet-worker.h"

static void tell_in_use_changed(SignetHotplug *hp, Reader *r, gboolean was_in_use, gint64 seen);

/* ---- readers and workers ---------------------------------------------------- */

static void
reader_free(Reader *r)
{
  signet_reader_state_free(r->state);
  signet_hotplug_reader_clear_token(r);
  g_free(r);
}

Reader *
signet_hotplug_find_reader(SignetHotplug *hp, const char *name)
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

void
signet_hotplug_run_worker(SignetHotplug *hp, const char *name, gpointer data,
                          GDestroyNotify data_free, GTaskThreadFunc func, GAsyncReadyCallback done)
{
  g_autoptr(GTask) task = g_task_new(NULL, hp->cancellable, done, hp);

  hp->n_reads++;
  g_task_set_name(task, name);
  g_task_set_task_data(task, data, data_free);
  signet_worker_run(task, func);
}

/* ---- ListReaders: asks whether cards are held ------------------------------ */

static void
answer_list_readers(SignetHotplug *hp, GDBusMethodInvocation *invocation)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; i < hp->readers->len; i++)
    g_variant_builder_add_value(&b, signet_hotplug_reader_dict(g_ptr_array_index(hp->readers, i)));
  signet_agent1_complete_list_readers(hp->skeleton, invocation, g_variant_builder_end(&b));
}

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
    Reader *r = signet_hotplug_find_reader(hp, p->reader);
    gboolean was_in_use;

    if (r == NULL || r->generation != p->generation || !r->state->present)
      continue;
    was_in_use = signet_hotplug_reader_in_use(r);
    if (p->result == SIGNET_READER_PROBE_IN_USE) {
      r->held = TRUE;
    } else if (p->result == SIGNET_READER_PROBE_FREE) {
      r->held = FALSE;
      r->state->exclusive = FALSE;
    }
    if (was_in_use != signet_hotplug_reader_in_use(r))
      tell_in_use_changed(hp, r, was_in_use, g_get_monotonic_time());
  }
  answer_list_readers(hp, job->invocation);
  signet_hotplug_update_idle(hp);
}

/* Probes the readers with a card (held by another program?), tells what
 * changed, then answers. */
static void
list_readers(SignetHotplug *hp, GDBusMethodInvocation *invocation)
{
  ProbeJob *job = g_new0(ProbeJob, 1);

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
  signet_hotplug_run_worker(hp, "list_readers", job, (GDestroyNotify)probe_job_free, probe_thread,
                            on_probes_done_cb);
}

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

/* ---- from snapshots to events --------------------------------------------- */

static void
tell_token_removed(SignetHotplug *hp, Reader *r, gint64 seen)
{
  r->state->present = FALSE;
  r->state->mute = FALSE;
  r->held = FALSE;
  r->generation++;
  signet_hotplug_emit(hp, EVENT_TOKEN_REMOVED, r, seen);
  g_clear_pointer(&r->state->atr, g_bytes_unref);
  signet_hotplug_reader_clear_token(r);
  r->pkcs11 = PKCS11_UNSET;
}

static void
tell_token_added(SignetHotplug *hp, Reader *r, const SignetReaderState *st, gint64 seen)
{
  signet_reader_state_free(r->state);
  r->state = signet_reader_state_copy(st);
  r->generation++;
  r->held = FALSE;
  signet_hotplug_reader_clear_token(r);
  /* Told at once with the reader and the ATR: reading the token can take
   * seconds (OpenSC tries its drivers), TokenChanged follows with it. */
  r->pkcs11 = signet_hotplug_can_read(hp, st) ? PKCS11_READING : PKCS11_NONE;
  signet_hotplug_emit(hp, EVENT_TOKEN_ADDED, r, seen);
  if (r->pkcs11 == PKCS11_READING)
    signet_hotplug_start_read(hp, r, seen);
}

/* The card's state changed (held, released, mute): TokenChanged; released
 * before its token could be read, it is read now. */
static void
tell_in_use_changed(SignetHotplug *hp, Reader *r, gboolean was_in_use, gint64 seen)
{
  gboolean released = was_in_use && !signet_hotplug_reader_in_use(r);

  if (released && r->serial == NULL && r->pkcs11 != PKCS11_READING
      && signet_hotplug_can_read(hp, r->state)) {
    r->pkcs11 = PKCS11_READING;
    signet_hotplug_emit(hp, EVENT_TOKEN_CHANGED, r, seen);
    signet_hotplug_start_read(hp, r, seen);
  } else {
    signet_hotplug_emit(hp, EVENT_TOKEN_CHANGED, r, seen);
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
    signet_hotplug_emit(hp, EVENT_READER_REMOVED, r, want->time);
    g_ptr_array_remove_index(hp->readers, i);
  }

  for (guint i = 0; i < want->readers->len; i++) {
    const SignetReaderState *st = g_ptr_array_index(want->readers, i);
    Reader *r = signet_hotplug_find_reader(hp, st->name);

    if (r == NULL) {
      r = g_new0(Reader, 1);
      r->state = g_new0(SignetReaderState, 1);
      r->state->name = g_strdup(st->name);
      r->state->event_count = st->event_count;
      g_ptr_array_insert(hp->readers, (gint)MIN(i, hp->readers->len), r);
      signet_hotplug_emit(hp, EVENT_READER_ADDED, r, want->time);
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
      gboolean was_in_use = signet_hotplug_reader_in_use(r);
      gboolean was_mute = r->state->mute;

      signet_reader_state_free(r->state);
      r->state = signet_reader_state_copy(st);
      /* pcsc-lite's word is newer than our probe's. */
      r->held = FALSE;
      if (was_in_use != signet_hotplug_reader_in_use(r) || was_mute != r->state->mute)
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
  signet_hotplug_update_idle(hp);
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

/* ---- the object -------------------------------------------------------------- */

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
  hp->list_readers_id = g_signal_connect(hp->skeleton, "handle-list-readers",
                                         G_CALLBACK(on_handle_list_readers_cb), hp);
  signet_hotplug_idle_connect(hp);
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
  g_clear_signal_handler(&hp->list_readers_id, hp->skeleton);
  for (guint i = 0; i < G_N_ELEMENTS(hp->idle_ids); i++)
    g_clear_signal_handler(&hp->idle_ids[i], hp->skeleton);
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
