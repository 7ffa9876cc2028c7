/* signet-agent-background.c: the journal in the background: unfinished
 * operations recovered when their token appears, pending ones polled on
 * one timer.
 */
#include "config.h"

#include "agent/signet-agent.h"
#include "agent/signet-agent-private.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <p11-kit/uri.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "agent/signet-activate.h"
#include "agent/signet-card.h"
#include "agent/signet-caller.h"
#include "agent/signet-reminders.h"
#include "agent/signet-renew.h"
#include "agent/signet-state.h"
#include "agent/signet-clock.h"
#include "libsignet/signet-dbus-generated.h"
#include "agent/signet-errors.h"
#include "agent/signet-token-dict.h"
#include "agent/signet-worker.h"
#include "common/signet-secret.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-profile.h"
#include "enroll/signet-x509.h"

/* ---- the journal in the background --------------------------------------- */

/* Work on @serial's journal that needs no PIN (worker thread). */
static void
recover_token(SignetAgent *agent, const SignetP11Token *token)
{
  g_autoptr(SignetP11Session) session = NULL;
  g_autoptr(GError) error = NULL;
  SignetRenewal renewal = { .state = agent->state };
  guint waiting;

  if (token->serial == NULL || *token->serial == '\0')
    return;
  if (!signet_state_token_seen(agent->state, token->serial, token->label, token->model,
                               signet_clock_now(), &error)) {
    g_message("state: %s", error->message);
    g_clear_error(&error);
  }
  session = signet_p11_session_open(agent->ctx, token, &error);
  if (session == NULL) {
    g_debug("recovery: token '%s': %s", token->serial, error->message);
    return;
  }
  renewal.session = session;
  waiting = signet_renewal_recover_without_pin(&renewal, &error);
  if (error != NULL)
    g_message("recovery: token '%s': %s", token->serial, error->message);
  else if (waiting > 0)
    g_message("token '%s' has %u unfinished operation(s) that need its PIN: signet status "
              "shows them, signet renew finishes them",
              token->serial, waiting);
}

typedef struct
{
  SignetAgent *agent;
  char *serial;  /* NULL: every token present */
  gboolean poll; /* ask the CA again for the pending renewals due */
} Background;

static void
background_free(Background *bg)
{
  g_object_unref(bg->agent);
  g_free(bg->serial);
  g_free(bg);
}

/* Pending renewals whose time has come: the CA is asked again (no PIN). */
static void
poll_due(SignetAgent *agent)
{
  g_autoptr(GPtrArray) open = NULL;
  g_autoptr(SignetProfileSet) profiles = signet_profiles_load(NULL);
  g_autoptr(GError) error = NULL;
  gint64 now = signet_clock_now();

  open = signet_state_op_list_open(agent->state, NULL, &error);
  if (open == NULL) {
    g_warning("poll: %s", error->message);
    return;
  }
  for (guint i = 0; i < open->len; i++) {
    SignetOperation *op = g_ptr_array_index(open, i);
    g_autoptr(GError) local = NULL;

    if (op->kind != SIGNET_OP_RENEW || op->state != SIGNET_OP_PENDING || op->retry_at > now
        || signet_renewal_waits_for_holder(op))
      continue;
    if (signet_renewal_poll(agent->state, profiles, op, &local)) {
      if (op->state == SIGNET_OP_ISSUED)
        g_message("poll: the CA issued the renewed certificate of token '%s'; it is written when "
                  "the token is present",
                  op->token_serial);
      else
        g_message("poll: the renewal of token '%s' is still pending at the CA", op->token_serial);
      continue;
    }
    if (signet_state_error_is_conflict(local)) {
      /* A signet renew took the entry meanwhile: it is that task's now. */
      g_message("poll: %s", local->message);
      continue;
    }
    if (g_error_matches(local, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_REFUSED)
        || g_error_matches(local, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CODE_REJECTED)) {
      /* The CA answers only a poll authenticated as the request was (or
       * refuses outright): the holder asks, with the PIN, and learns which. */
      g_message("poll: the CA did not answer about the renewal of token '%s' without the "
                "current certificate (%s); the holder renews again with the PIN",
                op->token_serial, local->message);
      g_free(op->step);
      op->step = g_strdup(SIGNET_RENEWAL_STEP_WAIT_HOLDER);
      g_free(op->message);
      op->message = g_strdup_printf(
          "The CA answers about this renewal only when it is asked with your current "
          "certificate, which needs your PIN; it said: %s",
          local->message);
      g_clear_error(&local);
      if (!signet_state_op_save(agent->state, op, now, &local))
        g_warning("poll: %s", local->message);
      continue;
    }
    /* Not now (the CA down, ...): again in ten minutes, not at once. */
    g_message("poll: could not ask the CA about the renewal of token '%s': %s; trying again "
              "in 10 minutes",
              op->token_serial, local->message);
    op->retry_at = now + 600;
    g_clear_error(&local);
    if (!signet_state_op_save(agent->state, op, now, &local))
      g_warning("poll: %s", local->message);
  }
}

static void
background_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Background *bg = task_data;
  SignetAgent *agent = bg->agent;
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(GError) error = NULL;

  if (bg->poll)
    poll_due(agent);
  if (agent->ctx == NULL)
    return;
  tokens = signet_p11_context_list_tokens(agent->ctx, &error);
  if (tokens == NULL) {
    g_debug("recovery: %s", error->message);
    return;
  }
  for (guint i = 0; i < tokens->len; i++) {
    const SignetP11Token *t = g_ptr_array_index(tokens, i);
    if (bg->serial == NULL || g_strcmp0(bg->serial, t->serial) == 0)
      recover_token(agent, t);
  }
}

static void
on_background_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  SignetAgent *agent = SIGNET_AGENT(source);
  Background *bg = g_task_get_task_data(G_TASK(result));

  if (bg->poll)
    agent->polling = FALSE;
  agent->n_running--;
  signet_agent_schedule_poll(agent);
}

static void
background_start(SignetAgent *agent, const char *serial, gboolean poll)
{
  g_autoptr(GTask) task = NULL;
  Background *bg;

  if (agent->state == NULL)
    return;
  if (g_hash_table_size(agent->busy) > 0) {
    /* An operation has a token: it handles its own journal; again later. */
    g_debug("recovery: a token is busy; the journal is looked at when it is done");
    return;
  }
  bg = g_new0(Background, 1);
  bg->agent = g_object_ref(agent);
  bg->serial = g_strdup(serial);
  bg->poll = poll;
  if (poll)
    agent->polling = TRUE;
  task = g_task_new(agent, NULL, on_background_done_cb, NULL);
  g_task_set_name(task, "journal recovery");
  g_task_set_task_data(task, bg, (GDestroyNotify)background_free);
  agent->n_running++;
  signet_worker_run(task, background_thread);
}

static gboolean
on_poll_cb(gpointer user_data)
{
  SignetAgent *agent = user_data;

  agent->poll_id = 0;
  agent->poll_at = 0;
  background_start(agent, NULL, TRUE);
  return G_SOURCE_REMOVE;
}

/* (Re)arms the one timer at the earliest retry time in the journal. */
void
signet_agent_schedule_poll(SignetAgent *agent)
{
  g_autoptr(GError) error = NULL;
  gint64 next, now;

  if (agent->state == NULL || agent->polling)
    return;
  next = signet_state_op_next_retry(agent->state, &error);
  if (error != NULL) {
    g_warning("poll: %s", error->message);
    return;
  }
  if (next == agent->poll_at && agent->poll_id != 0)
    return;
  g_clear_handle_id(&agent->poll_id, g_source_remove);
  agent->poll_at = 0;
  if (next == 0)
    return;
  now = signet_clock_now();
  agent->poll_at = next;
  agent->poll_id
      = g_timeout_add_seconds((guint)CLAMP(next - now, 0, G_MAXINT32), on_poll_cb, agent);
  g_debug("poll: the CA is asked again about pending renewals in %" G_GINT64_FORMAT " s",
          MAX(next - now, 0));
}

void
signet_agent_start_background(SignetAgent *agent)
{
  g_return_if_fail(SIGNET_IS_AGENT(agent));
  background_start(agent, NULL, FALSE);
}

void
signet_agent_token_present(SignetAgent *agent, const char *serial)
{
  g_return_if_fail(SIGNET_IS_AGENT(agent));
  background_start(agent, serial, FALSE);
}
