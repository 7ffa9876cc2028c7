/* signet-reminders-schedule.c: when the reminders are checked
 * (docs/internals/reminders.md, "When a check runs").
 *
 * Owns: the checks' triggers (start, a token that appears, a certificate
 * stored, a notification service that takes its name while a reminder
 * waits, and ONE daily timer), the watches on the notification services'
 * bus names, one check at a time (a check asked for meanwhile is queued:
 * every token, or a set of serials), the check's GTask, and what its end
 * does in the main context (the reminders found go out).
 * May call: the agent's context and state database (signet-agent.h),
 * signet-reminders-due.c (the worker), signet-reminders-delivery.c
 * (sending), GLib/GIO.
 *
 * Threads: everything here runs in the main context; the check itself runs
 * in a GTask worker (signet_reminders_check_thread).
 */
#include "config.h"

#include "agent/signet-reminders.h"
#include "agent/signet-reminders-private.h"
#include "agent/signet-worker.h"

#include <string.h>

#define CHECK_INTERVAL_S (24 * 3600)

static void
check_data_free(CheckData *cd)
{
  g_clear_object(&cd->bus);
  g_strfreev(cd->serials);
  g_clear_pointer(&cd->token, signet_p11_token_free);
  g_clear_pointer(&cd->certs, g_ptr_array_unref);
  g_clear_pointer(&cd->keys, g_ptr_array_unref);
  g_free(cd->service);
  g_free(cd->env_backend);
  g_free(cd);
}

/* ---- one check at a time ------------------------------------------------ */

static void start_check(SignetReminders *r, GStrv serials, CheckData *contents);
static void start_pending(SignetReminders *r);

static void
on_check_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  SignetReminders *r = user_data;
  const CheckData *cd = g_task_get_task_data(G_TASK(result));
  gboolean every_token = cd->serials == NULL;
  g_autoptr(CheckResult) res = g_task_propagate_pointer(G_TASK(result), NULL);
  guint n_sent = res != NULL ? res->due->len : 0;
  guint n_not_shown = res != NULL ? res->not_shown : 0;

  r->running = FALSE;
  /* GLib chooses its backend at the first notification and keeps it. */
  if (n_sent > 0 && r->service == NULL)
    r->service = g_strdup(res->service);
  /* Marked sent in the worker already: send even when stopping. */
  for (guint i = 0; i < n_sent; i++)
    signet_reminders_send(r, g_ptr_array_index(res->due, i));
  /* Only a check of every token tells that none is left. */
  if (n_not_shown > 0 || every_token)
    r->not_shown = n_not_shown > 0;
  if (!g_cancellable_is_cancelled(r->cancellable))
    start_pending(r);
  /* Last: a check queued meanwhile has said "started" already (tests wait
   * for as many "done" as "started"). */
  g_debug("reminders: check done (%u reminder(s) sent, %u not shown)", n_sent, n_not_shown);
}

static void
start_pending(SignetReminders *r)
{
  g_autoptr(GStrvBuilder) next = NULL;

  if (r->pending_all) {
    r->pending_all = FALSE;
    g_hash_table_remove_all(r->pending);
    start_check(r, NULL, NULL);
  } else if (g_hash_table_size(r->pending) > 0) {
    GHashTableIter iter;
    gpointer key;

    next = g_strv_builder_new();
    g_hash_table_iter_init(&iter, r->pending);
    while (g_hash_table_iter_next(&iter, &key, NULL))
      g_strv_builder_add(next, key);
    g_hash_table_remove_all(r->pending);
    start_check(r, g_strv_builder_end(next), NULL);
  }
}

/* Takes @serials (NULL: every token) and @contents (NULL, or a CheckData
 * holding only a token and what it holds). */
static void
start_check(SignetReminders *r, GStrv serials, CheckData *contents)
{
  g_autoptr(GTask) task = NULL;
  CheckData *cd = contents != NULL ? contents : g_new0(CheckData, 1);

  if (signet_agent_get_context(r->agent) == NULL) {
    g_strfreev(serials);
    check_data_free(cd);
    return; /* no modules: nothing to read (said at start) */
  }
  if (signet_agent_get_state(r->agent) == NULL) {
    if (!r->told_no_state)
      g_message("reminders: the state database is not open: no expiry reminders");
    r->told_no_state = TRUE;
    g_strfreev(serials);
    check_data_free(cd);
    return;
  }
  cd->ctx = signet_agent_get_context(r->agent);
  cd->state = signet_agent_get_state(r->agent);
  memcpy(cd->days, r->days, sizeof r->days);
  cd->n_days = r->n_days;
  cd->serials = serials;
  cd->bus = g_application_get_dbus_connection(r->app);
  if (cd->bus != NULL)
    g_object_ref(cd->bus);
  cd->service = g_strdup(r->service);
  cd->env_backend = g_strdup(r->env_backend);
  cd->use_portal = r->use_portal;
  r->running = TRUE;
  g_debug("reminders: check started (%s)", cd->token != NULL ? "a token just written"
                                           : serials == NULL ? "every token"
                                                             : "some tokens");
  task = g_task_new(NULL, r->cancellable, on_check_done_cb, r);
  g_task_set_source_tag(task, start_check);
  g_task_set_task_data(task, cd, (GDestroyNotify)check_data_free);
  signet_worker_run(task, signet_reminders_check_thread);
}

void
signet_reminders_check(SignetReminders *r, const char *serial)
{
  g_return_if_fail(r != NULL);
  if (g_cancellable_is_cancelled(r->cancellable))
    return;
  if (r->running) {
    /* One check at a time: this one runs after it. */
    if (serial == NULL)
      r->pending_all = TRUE;
    else
      g_hash_table_add(r->pending, g_strdup(serial));
    return;
  }
  if (serial == NULL) {
    start_check(r, NULL, NULL);
  } else {
    GStrv serials = g_new0(char *, 2);

    serials[0] = g_strdup(serial);
    start_check(r, serials, NULL);
  }
}

void
signet_reminders_check_contents(SignetReminders *r, const SignetP11Token *token, GPtrArray *certs,
                                GPtrArray *keys)
{
  CheckData *contents;

  g_return_if_fail(r != NULL && token != NULL && certs != NULL && keys != NULL);
  if (g_cancellable_is_cancelled(r->cancellable))
    return;
  if (r->running) {
    /* After the check running, the token is read again. */
    signet_reminders_check(r, token->serial);
    return;
  }
  contents = g_new0(CheckData, 1);
  contents->token = signet_p11_token_copy(token);
  contents->certs = g_ptr_array_ref(certs);
  contents->keys = g_ptr_array_ref(keys);
  start_check(r, NULL, contents);
}

/* ---- the triggers ------------------------------------------------------- */

static gboolean
on_daily_cb(gpointer user_data)
{
  SignetReminders *r = user_data;

  g_debug("reminders: the daily check");
  signet_reminders_check(r, NULL);
  return G_SOURCE_CONTINUE;
}

/* A notification service took its name: the reminders not shown go out now
 * rather than at the next daily check. */
static void
on_service_appeared_cb(GDBusConnection *bus, const char *name, const char *owner,
                       gpointer user_data)
{
  SignetReminders *r = user_data;

  g_debug("reminders: %s appeared on the session bus%s", name,
          r->not_shown ? ": checking the reminders not shown" : "");
  if (r->not_shown)
    signet_reminders_check(r, NULL);
}

void
signet_reminders_start(SignetReminders *r)
{
  GDBusConnection *bus;

  g_return_if_fail(r != NULL);
  if (r->timer_id == 0)
    r->timer_id = g_timeout_add_seconds(CHECK_INTERVAL_S, on_daily_cb, r);
  bus = g_application_get_dbus_connection(r->app);
  if (bus != NULL && r->watch_ids[0] == 0) {
    const char *names[] = { SERVICE_FREEDESKTOP, SERVICE_GTK, SERVICE_PORTAL };

    G_STATIC_ASSERT(G_N_ELEMENTS(names) == G_N_ELEMENTS(r->watch_ids));
    for (guint i = 0; i < G_N_ELEMENTS(names); i++)
      if (i < 2 || r->use_portal)
        r->watch_ids[i] = g_bus_watch_name_on_connection(
            bus, names[i], G_BUS_NAME_WATCHER_FLAGS_NONE, on_service_appeared_cb, NULL, r, NULL);
  }
  signet_reminders_check(r, NULL);
}

void
signet_reminders_schedule_stop(SignetReminders *r)
{
  g_clear_handle_id(&r->timer_id, g_source_remove);
  for (guint i = 0; i < G_N_ELEMENTS(r->watch_ids); i++)
    g_clear_handle_id(&r->watch_ids[i], g_bus_unwatch_name);
  g_cancellable_cancel(r->cancellable);
  while (r->running)
    g_main_context_iteration(NULL, TRUE);
}
