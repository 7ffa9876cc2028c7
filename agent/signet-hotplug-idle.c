/* signet-hotplug-idle.c: when the agent may exit by itself
 * (docs/internals/hotplug.md, "Idle exit").
 *
 * Owns: the clients watching (WatchTokens, UnwatchTokens, the name
 * vanishing), the time of the last method call (g-authorize-method), the
 * idle rule (no card, no client watching, no read, no call, no operation
 * running), and its ONE timer, armed only while quiet.
 * May call: the agent's skeleton and its count of running operations
 * (signet-agent.h), the session bus (name watches), GLib/GIO.
 *
 * Threads: the main context; the note of a method call comes from GDBus's
 * worker thread (an atomic store).
 */
#include "config.h"

#include "agent/signet-hotplug.h"
#include "agent/signet-hotplug-private.h"

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
    signet_hotplug_update_idle(hp);
    return G_SOURCE_REMOVE;
  }
  if (signet_agent_get_next_poll(hp->agent) != 0) {
    /* A pending renewal is asked about at its time, not at the next start:
     * stay until then (a poll that finds it issued or refused ends it). */
    g_message("idle: a renewal is pending at the CA (next poll at %" G_GINT64_FORMAT
              "); staying to ask it",
              signet_agent_get_next_poll(hp->agent));
    signet_hotplug_update_idle(hp);
    return G_SOURCE_REMOVE;
  }
  g_message("idle for %u s (no card, no client watching, no call): exiting", hp->idle_seconds);
  hp->idle_func(hp->idle_data);
  return G_SOURCE_REMOVE;
}

/* One timer, armed only while quiet. */
void
signet_hotplug_update_idle(SignetHotplug *hp)
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

/* ---- the clients watching ------------------------------------------------- */

static void
on_watcher_vanished_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
  SignetHotplug *hp = user_data;

  g_debug("idle: %s stopped watching (left the bus)", name);
  g_hash_table_remove(hp->watchers, name);
  signet_hotplug_update_idle(hp);
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
  signet_hotplug_update_idle(hp);
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
  signet_hotplug_update_idle(hp);
  signet_agent1_complete_unwatch_tokens(skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
unwatch(gpointer id)
{
  g_bus_unwatch_name(GPOINTER_TO_UINT(id));
}

void
signet_hotplug_idle_connect(SignetHotplug *hp)
{
  hp->watchers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, unwatch);
  hp->idle_ids[0] = g_signal_connect(hp->skeleton, "handle-watch-tokens",
                                     G_CALLBACK(on_handle_watch_tokens_cb), hp);
  hp->idle_ids[1] = g_signal_connect(hp->skeleton, "handle-unwatch-tokens",
                                     G_CALLBACK(on_handle_unwatch_tokens_cb), hp);
  hp->idle_ids[2] = g_signal_connect(hp->skeleton, "g-authorize-method",
                                     G_CALLBACK(on_skeleton_authorize_method_cb), hp);
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
  signet_hotplug_update_idle(hp);
}
