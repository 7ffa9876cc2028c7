/* signet-agent.c: see signet-agent.h.
 *
 * Every method goes through one pipeline (Op):
 *   handler (main thread)  checks the arguments, copies secrets into
 *                          SignetSecret buffers and wipes the message's copy;
 *   resolve (worker)       finds the token the caller named;
 *   claim (main thread)    exclusive operations mark the token busy, or fail
 *                          with Busy if it already is;
 *   run (worker)           opens a session, logs in once, does the work;
 *   finish (main thread)   releases the token, answers, wipes the secrets.
 * Read-only operations resolve and run in one worker and claim nothing.
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
#include "agent/signet-activation-upgrade.h"
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

G_DEFINE_TYPE(SignetAgent, signet_agent, G_TYPE_OBJECT)

/* ---- operations --------------------------------------------------------- */

void
signet_op_free(Op *op)
{
  g_clear_object(&op->agent);
  g_clear_object(&op->invocation);
  g_free(op->token_spec);
  g_clear_pointer(&op->token, signet_p11_token_free);
  g_free(op->busy_key);
  g_free(op->subject);
  g_free(op->label);
  g_clear_pointer(&op->key_id, g_bytes_unref);
  g_clear_pointer(&op->data, g_bytes_unref);
  g_clear_pointer(&op->anchor, g_bytes_unref);
  g_clear_pointer(&op->pin, signet_secret_free);
  g_clear_pointer(&op->puk, signet_secret_free);
  g_clear_pointer(&op->new_pin, signet_secret_free);
  g_clear_pointer(&op->profiles, signet_profile_set_free);
  g_free(op->reference);
  g_clear_pointer(&op->code, signet_secret_free);
  g_free(op->request_id);
  g_free(op->cert_id);
  g_free(op->profile_name);
  g_clear_pointer(&op->token_certs, g_ptr_array_unref);
  g_clear_pointer(&op->token_keys, g_ptr_array_unref);
  g_free(op);
}

Op *
signet_op_new(SignetAgent *agent, GDBusMethodInvocation *invocation, OpKind kind, const char *what,
              gboolean exclusive, const char *token_spec)
{
  Op *op = g_new0(Op, 1);

  op->kind = kind;
  op->what = what;
  op->exclusive = exclusive;
  op->agent = g_object_ref(agent);
  op->invocation = g_object_ref(invocation);
  op->token_spec = g_strdup(token_spec);
  return op;
}

static char *
token_busy_key(const SignetP11Token *token)
{
  return g_strdup_printf("%s\n%lu\n%s\n%s", token->module_path ? token->module_path : "",
                         (unsigned long)token->slot_id, token->serial ? token->serial : "",
                         token->label ? token->label : "");
}

/* After an operation on @token, its sessions closed: reset an OpenSC
 * token's card so that it does not stay PIN-verified (signet-card.h). */
static void
end_card_verification(const SignetP11Token *token)
{
  g_autoptr(GError) error = NULL;
  gboolean gone = FALSE;

  if (!signet_card_needs_reset(token))
    return;
  if (signet_card_reset(token->slot_description, &gone, &error) && gone)
    g_debug("no card in reader '%s' any more: its PIN verification left with it",
            token->slot_description);
  else if (error == NULL)
    g_debug("reset the card in reader '%s': its PIN verification ended with the operation",
            token->slot_description);
  else
    g_message("%s: the card may stay PIN-verified until it is removed", error->message);
}

/* ---- back-off after a wrong PIN or PUK ------------------------------------
 *
 * After a wrong PIN (or PUK) for a token, the next operation that sends one
 * to that token waits before it runs: 1 s after the first wrong one,
 * doubling with each further one, at most 30 s; a right one ends it. A
 * client flooding PIN methods is slowed down this way, and the holder's own
 * next attempt is never refused for it, only delayed. Kept in memory only:
 * the token's own retry counter is what protects the PIN across restarts.
 *
 * The times are the agent's clock (signet-clock.h), so that a test moves
 * them. A test build (--enable-fault-injection) backs off only when
 * $SIGNET_TEST_BACKOFF is 1, so that the other tests' wrong PINs cost no
 * time, and waits for a fake clock for up to 120 s of real time. */

typedef struct
{
  guint failures; /* wrong ones in a row */
  gint64 until;   /* agent clock, Unix seconds: the next one waits until then */
} PinBackoff;

#define BACKOFF_MAX_S 30

static gboolean
backoff_enabled(void)
{
#ifdef SIGNET_FAULT_INJECTION
  return g_strcmp0(g_getenv("SIGNET_TEST_BACKOFF"), "1") == 0;
#else
  return TRUE;
#endif
}

/* Worker: waits until the agent's clock reaches @until (at most @seconds
 * of real time and a second more, whatever the clock does). */
static void
backoff_wait(gint64 until, gint64 seconds)
{
  gint64 deadline = g_get_monotonic_time() + (seconds + 1) * G_USEC_PER_SEC;

#ifdef SIGNET_FAULT_INJECTION
  if (g_getenv("SIGNET_FAKE_NOW") != NULL)
    deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;
#endif
  while (signet_clock_now() < until && g_get_monotonic_time() < deadline)
    g_usleep(G_USEC_PER_SEC / 10);
}

/* The secret @op sends to its token ("pin", "puk"), or NULL. */
static const char *
op_secret_kind(const Op *op)
{
  if (op->kind == OP_UNBLOCK_PIN)
    return "puk";
  return op->pin != NULL ? "pin" : NULL;
}

static char *
backoff_key(const Op *op)
{
  const char *kind = op_secret_kind(op);

  if (kind == NULL || op->busy_key == NULL)
    return NULL;
  return g_strconcat(op->busy_key, "\n", kind, NULL);
}

/* Main thread, when @op has claimed its token: how long it must wait. */
static void
backoff_check(Op *op)
{
  g_autofree char *key = backoff_key(op);
  const PinBackoff *b = key != NULL ? g_hash_table_lookup(op->agent->backoff, key) : NULL;
  gint64 now = signet_clock_now();

  op->backoff_until = b != NULL && b->until > now ? b->until : 0;
  op->backoff_s = op->backoff_until > 0 ? MIN(b->until - now, BACKOFF_MAX_S) : 0;
}

/* Main thread, when @op ended: a wrong secret lengthens the wait, a right
 * one (the operation succeeded) ends it. */
static void
backoff_record(Op *op, const GError *error)
{
  g_autofree char *key = backoff_key(op);
  gboolean wrong;
  PinBackoff *b;

  if (key == NULL || !backoff_enabled())
    return;
  wrong = g_error_matches(error, SIGNET_P11_ERROR,
                          g_str_has_suffix(key, "puk") ? SIGNET_P11_ERROR_PUK_INCORRECT
                                                       : SIGNET_P11_ERROR_PIN_INCORRECT);
  if (!wrong) {
    if (error == NULL)
      g_hash_table_remove(op->agent->backoff, key);
    return;
  }
  b = g_hash_table_lookup(op->agent->backoff, key);
  if (b == NULL) {
    b = g_new0(PinBackoff, 1);
    g_hash_table_insert(op->agent->backoff, g_strdup(key), b);
  }
  b->failures++;
  b->until = signet_clock_now()
             + (b->failures > 5 ? BACKOFF_MAX_S : MIN(1 << (b->failures - 1), BACKOFF_MAX_S));
}

/* Worker: resolve the token (unless already resolved), then run unless the
 * operation must first claim the token on the main thread. */
static void
op_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Op *op = task_data;
  GError *error = NULL;
  GVariant *reply;

  if (op->kind != OP_LIST_TOKENS && op->token == NULL) {
    op->token = signet_p11_context_find_token(op->agent->ctx, op->token_spec, &error);
    if (op->token == NULL) {
      g_task_return_error(task, error);
      return;
    }
    if (op->exclusive) {
      /* Back to the main thread to claim the token. */
      g_task_return_pointer(task, NULL, NULL);
      return;
    }
  }
  if (op->backoff_until > 0) {
    g_message("token '%s': waiting %" G_GINT64_FORMAT " s before sending the %s: the last one "
              "sent to it was wrong",
              signet_token_dict_name(op->token), op->backoff_s,
              op->kind == OP_UNBLOCK_PIN ? "PUK" : "PIN");
    backoff_wait(op->backoff_until, op->backoff_s);
  }
  reply = signet_op_run(op, &error);
  if (op->exclusive)
    end_card_verification(op->token);
  if (reply == NULL)
    g_task_return_error(task, error);
  else
    g_task_return_pointer(task, g_variant_ref_sink(reply), (GDestroyNotify)g_variant_unref);
}

static void op_start(Op *op);

static void
op_release(Op *op)
{
  if (op->busy_key != NULL) {
    g_hash_table_remove(op->agent->busy, op->busy_key);
    g_clear_pointer(&op->busy_key, g_free);
  }
}

static void
op_answer_error(Op *op, GError *error)
{
  const char *method = g_dbus_method_invocation_get_method_name(op->invocation);

  g_debug("%s failed: %s: %s", method, signet_errors_dbus_name(error), error->message);
  signet_errors_return(op->invocation, error);
}

/* The audit log's name of an operation that writes to a token. */
static const char *
op_audit_name(OpKind kind)
{
  switch (kind) {
    case OP_GENERATE_KEY:
      return "generate-key";
    case OP_CREATE_REQUEST:
      return "create-request";
    case OP_IMPORT_CERTIFICATE:
      return "import";
    case OP_DELETE_KEY:
      return "delete-key";
    case OP_CHANGE_PIN:
      return "change-pin";
    case OP_UNBLOCK_PIN:
      return "unblock-pin";
    case OP_ACTIVATE:
      return "activate";
    case OP_RENEW:
      return "renew";
    case OP_LIST_TOKENS:
    case OP_GET_STATUS:
    case OP_GET_TOKEN:
    case OP_EXPORT_CERTIFICATE:
      break;
  }
  return NULL;
}

/* One audit entry for a finished call on a token (never a secret: the
 * messages the layers make never hold one). */
static void
op_audit(Op *op, const GError *error)
{
  const char *name = op_audit_name(op->kind);
  const char *outcome = "ok";
  g_autoptr(GError) local = NULL;

  if (name == NULL || op->token == NULL || op->agent->state == NULL || op->journal_closed)
    return;
  if (error != NULL) {
    if (g_error_matches(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_PENDING))
      outcome = "pending";
    else if (g_error_matches(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_EXPIRED)
             || g_error_matches(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_BUSY))
      outcome = "refused";
    else
      outcome = "failed";
  }
  if (!signet_state_audit(op->agent->state, op->token->serial, op->token->label, name, outcome,
                          error != NULL ? error->message : NULL, signet_clock_now(), &local))
    g_warning("could not write the audit log: %s", local->message);
}

static void
on_op_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_task_propagate_pointer(G_TASK(result), &error);
  SignetAgent *agent = op->agent;

  if (error != NULL) {
    if (op->busy_key != NULL)
      op_audit(op, error);
    backoff_record(op, error);
    op_release(op);
    op_answer_error(op, error);
    agent->n_running--;
    if (op->kind == OP_RENEW)
      signet_agent_schedule_poll(agent);
    return;
  }
  if (reply != NULL) {
    if (op->busy_key != NULL)
      op_audit(op, NULL);
    backoff_record(op, NULL);
    op_release(op);
    /* A certificate already within a reminder threshold: its reminder now. */
    if ((op->kind == OP_ACTIVATE || op->kind == OP_IMPORT_CERTIFICATE || op->kind == OP_RENEW)
        && op->token != NULL && op->token->serial != NULL)
      signet_reminders_certificate_stored(agent, op->token, op->token_certs, op->token_keys);
    g_dbus_method_invocation_return_value(op->invocation, reply);
    agent->n_running--;
    return;
  }

  /* Resolved an exclusive operation: claim its token. */
  {
    g_autofree char *key = token_busy_key(op->token);
    const char *running = g_hash_table_lookup(agent->busy, key);

    if (running != NULL) {
      g_autoptr(GError) busy = g_error_new(
          SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_BUSY,
          "Token '%s' is busy with another operation (%s); try again when it finishes",
          signet_token_dict_name(op->token), running);
      op_answer_error(op, busy);
      agent->n_running--;
      return;
    }
    g_hash_table_insert(agent->busy, g_strdup(key), (gpointer)op->what);
    g_debug("%s: token '%s' is now busy (%s)",
            g_dbus_method_invocation_get_method_name(op->invocation),
            signet_token_dict_name(op->token), op->what);
    op->busy_key = g_steal_pointer(&key);
    backoff_check(op);
  }
  agent->n_running--; /* op_start counts it again */
  op_start(g_steal_pointer(&op));
}

/* The threads of the operations that claim a token (exclusive: an
 * activation, a key generation, a PIN change): one each, at once, up to
 * OP_THREADS_MAX. Not g_task_run_in_thread(): GLib's pool for it has 10
 * threads and adds one only every 0.1 s or so while they are all taken
 * (GLib 2.74); an activation holds its thread through the token's key
 * generation (seconds on a card), so the 11th and later activations of a
 * batch started up to a second late (bench/README.md, group activation).
 * The others (status, lists: short, and many at once under load) stay in
 * GLib's pool, whose few threads keep the memory flat
 * (tests/agent/test-load.sh). */
#define OP_THREADS_MAX 64

static void
op_pool_run(gpointer data, gpointer user_data)
{
  GTask *task = data;

  op_thread(task, g_task_get_source_object(task), g_task_get_task_data(task),
            g_task_get_cancellable(task));
  g_object_unref(task);
  signet_worker_done();
}

static void
op_start(Op *op)
{
  static GThreadPool *pool;
  g_autoptr(GTask) task = g_task_new(op->agent, NULL, on_op_done_cb, op);

  op->agent->n_running++;
  g_task_set_source_tag(task, op_start);
  g_task_set_name(task, op->what);
  /* The callback owns @op; the task only borrows it. */
  g_task_set_task_data(task, op, NULL);
  if (!op->exclusive) {
    signet_worker_run(task, op_thread);
    return;
  }
  if (g_once_init_enter(&pool))
    g_once_init_leave(&pool, g_thread_pool_new(op_pool_run, NULL, OP_THREADS_MAX, FALSE, NULL));
  /* The pool's thread holds a reference until op_thread() has returned. */
  g_thread_pool_push(pool, g_object_ref(task), NULL);
}

/* Starts @op, or answers the error why it cannot start. */
void
signet_op_submit(Op *op, GError *error)
{
  if (error == NULL && op->agent->ctx == NULL)
    error = g_error_copy(op->agent->ctx_error);
  if (error != NULL) {
    op_answer_error(op, error);
    g_error_free(error);
    signet_op_free(op);
    return;
  }
  op_start(op);
}

/* ---- the object --------------------------------------------------------- */

static void
signet_agent_finalize(GObject *object)
{
  SignetAgent *agent = SIGNET_AGENT(object);

  signet_agent_unexport(agent);
  g_clear_object(&agent->skeleton);
  g_clear_pointer(&agent->busy, g_hash_table_unref);
  g_clear_pointer(&agent->backoff, g_hash_table_unref);
  g_clear_handle_id(&agent->poll_id, g_source_remove);
  g_clear_pointer(&agent->reminder_days, g_array_unref);
  g_clear_pointer(&agent->state, signet_state_free);
  g_clear_error(&agent->state_error);
  g_clear_pointer(&agent->ctx, signet_p11_context_free);
  g_clear_error(&agent->ctx_error);
  G_OBJECT_CLASS(signet_agent_parent_class)->finalize(object);
}

static void
signet_agent_class_init(SignetAgentClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = signet_agent_finalize;
}

static void
signet_agent_init(SignetAgent *agent)
{
  agent->busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  agent->backoff = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  agent->reminder_days = g_array_new(FALSE, FALSE, sizeof(guint));
  {
    static const guint defaults[] = { 45, 15 };
    g_array_append_vals(agent->reminder_days, defaults, G_N_ELEMENTS(defaults));
  }
}

SignetAgent *
signet_agent_new(SignetP11Context *ctx, GError *ctx_error)
{
  SignetAgent *agent = g_object_new(SIGNET_TYPE_AGENT, NULL);

  g_return_val_if_fail(ctx != NULL || ctx_error != NULL, NULL);
  agent->ctx = ctx;
  agent->ctx_error = ctx_error;
  agent->state = signet_state_open(NULL, &agent->state_error);
  if (agent->state == NULL)
    g_warning("%s", agent->state_error->message);
  else
    (void)signet_activation_records_upgrade(agent->state, NULL);
  agent->skeleton = signet_agent1_skeleton_new();
  signet_agent1_set_version(agent->skeleton, PACKAGE_VERSION);
  /* Answers come from workers' completions, in the main context. */
  g_dbus_interface_skeleton_set_flags(G_DBUS_INTERFACE_SKELETON(agent->skeleton),
                                      G_DBUS_INTERFACE_SKELETON_FLAGS_NONE);
  /* First of the g-authorize-method handlers: a refused call goes no further. */
  signet_caller_guard(G_DBUS_INTERFACE_SKELETON(agent->skeleton));
  signet_agent_dbus_connect(agent);
  return agent;
}

gboolean
signet_agent_export(SignetAgent *agent, GDBusConnection *connection, GError **error)
{
  g_return_val_if_fail(SIGNET_IS_AGENT(agent), FALSE);
  return g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(agent->skeleton), connection,
                                          SIGNET_AGENT_OBJECT_PATH, error);
}

void
signet_agent_unexport(SignetAgent *agent)
{
  GDBusInterfaceSkeleton *skeleton;

  g_return_if_fail(SIGNET_IS_AGENT(agent));
  if (agent->skeleton == NULL)
    return;
  skeleton = G_DBUS_INTERFACE_SKELETON(agent->skeleton);
  if (g_dbus_interface_skeleton_get_connection(skeleton) != NULL)
    g_dbus_interface_skeleton_unexport(skeleton);
}

gint64
signet_agent_get_next_poll(SignetAgent *agent)
{
  g_return_val_if_fail(SIGNET_IS_AGENT(agent), 0);
  if (agent->polling)
    return agent->poll_at != 0 ? agent->poll_at : 1;
  return agent->poll_id != 0 ? agent->poll_at : 0;
}

guint
signet_agent_get_n_running(SignetAgent *agent)
{
  g_return_val_if_fail(SIGNET_IS_AGENT(agent), 0);
  return agent->n_running;
}

SignetAgent1 *
signet_agent_get_skeleton(SignetAgent *agent)
{
  g_return_val_if_fail(SIGNET_IS_AGENT(agent), NULL);
  return agent->skeleton;
}

SignetP11Context *
signet_agent_get_context(SignetAgent *agent)
{
  g_return_val_if_fail(SIGNET_IS_AGENT(agent), NULL);
  return agent->ctx;
}

void
signet_agent_set_reminder_days(SignetAgent *agent, const guint *days, guint n_days)
{
  g_return_if_fail(SIGNET_IS_AGENT(agent));
  g_array_set_size(agent->reminder_days, 0);
  g_array_append_vals(agent->reminder_days, days, n_days);
}

SignetState *
signet_agent_get_state(SignetAgent *agent)
{
  g_return_val_if_fail(SIGNET_IS_AGENT(agent), NULL);
  return agent->state;
}
