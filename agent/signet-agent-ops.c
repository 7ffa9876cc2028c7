/* signet-agent-ops.c: the work of every operation but the import, in a
 * worker thread: sessions and the one login, the status and its
 * dictionaries, keys, requests, PIN change and unblock, activation and
 * renewal (their engines: signet-activate.c, signet-renew.c), export; and
 * the words for a PIN error.
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
#include "common/signet-secret.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-profile.h"
#include "enroll/signet-x509.h"

/* ---- messages ----------------------------------------------------------- */

/* The raw CKR_ name in a token-layer message, if any. */
static char *
find_ckr_name(const char *message)
{
  const char *p = strstr(message, "CKR_");
  gsize n = 0;

  if (p == NULL)
    return NULL;
  while (g_ascii_isalnum(p[n]) || p[n] == '_')
    n++;
  return g_strndup(p, n);
}

/* Rewrites a refused PIN's message with what the token reports now, in the
 * words the user needs ("Wrong PIN. The token reports one try left: …"). */
static void
explain_pin_error(GError *error, const SignetP11Token *token)
{
  g_autofree char *ckr = NULL;
  g_autofree char *message = NULL;
  const char *state;

  if (error == NULL || error->domain != SIGNET_P11_ERROR || token == NULL)
    return;
  ckr = find_ckr_name(error->message);
  if (error->code == SIGNET_P11_ERROR_PIN_INCORRECT && ckr != NULL) {
    if (token->user_pin.locked)
      state = "The token reports the PIN is now locked: unblock it with the PUK (signet pin "
              "unblock).";
    else if (token->user_pin.final_try)
      state = "The token reports one try left: the next wrong PIN locks it.";
    else if (token->user_pin.count_low)
      state = "The token reports fewer tries left than the maximum; check the PIN before "
              "trying again.";
    else
      state = "The token reports no warning (it does not say how many tries are left).";
    message = g_strdup_printf("Wrong PIN for token '%s'. %s The PIN was not retried (%s).",
                              signet_token_dict_name(token), state, ckr);
  } else if (error->code == SIGNET_P11_ERROR_PIN_LOCKED) {
    /* A command the holder can paste into a shell, whatever the label holds. */
    g_autofree char *quoted = g_shell_quote(signet_token_dict_name(token));

    message = g_strdup_printf("The PIN of token '%s' is locked. Unblock it with the PUK: "
                              "signet pin unblock %s%s%s%s",
                              signet_token_dict_name(token), quoted, ckr ? " (" : "",
                              ckr ? ckr : "", ckr ? ")" : "");
  } else if (error->code == SIGNET_P11_ERROR_PUK_INCORRECT && ckr != NULL) {
    if (token->so_pin.locked)
      state = "The token reports the PUK is now locked.";
    else if (token->so_pin.final_try)
      state = "The token reports one PUK try left: the next wrong PUK locks it for good.";
    else if (token->so_pin.count_low)
      state = "The token reports fewer PUK tries left than the maximum.";
    else
      state = "The token reports no warning (it does not say how many tries are left).";
    message = g_strdup_printf("Wrong PUK for token '%s'. %s The PUK was not retried and the "
                              "PIN %s (%s).",
                              signet_token_dict_name(token), state,
                              token->user_pin.locked ? "is still locked" : "was not changed", ckr);
  }
  if (message != NULL) {
    g_free(error->message);
    error->message = g_steal_pointer(&message);
  }
}

/* ---- workers (any thread) ------------------------------------------------ */

SignetP11Session *
signet_op_open_session(Op *op, GError **error)
{
  /* The session's token is read as it opens: the operation acts on the
   * flags as they are now, not as they were when resolved. */
  return signet_p11_session_open(op->agent->ctx, op->token, error);
}

/* Sends @pin once. An empty PIN is only for a token with a PIN pad. */
gboolean
signet_op_login(Op *op, SignetP11Session *session, GError **error)
{
  const SignetP11Token *token = signet_p11_session_get_token(session);
  gboolean empty = op->pin == NULL || signet_secret_get_len(op->pin) == 0;
  g_autoptr(GError) local = NULL;

  if (empty && !token->protected_auth_path) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "No PIN given for token '%s': an empty PIN is only for a reader with a PIN "
                "pad",
                signet_token_dict_name(token));
    return FALSE;
  }
  if (!signet_p11_session_login(session, empty ? NULL : op->pin, op->confirm_final_try, &local)) {
    explain_pin_error(local, signet_p11_session_get_token(session));
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  /* Used once: do not keep it for the rest of the operation. */
  g_clear_pointer(&op->pin, signet_secret_free);
  return TRUE;
}

static GVariant *
run_list_tokens(Op *op, GError **error)
{
  g_autoptr(GPtrArray) tokens = signet_p11_context_list_tokens(op->agent->ctx, error);
  GVariantBuilder b;

  if (tokens == NULL)
    return NULL;
  g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; i < tokens->len; i++)
    g_variant_builder_add_value(&b, signet_token_dict_new(g_ptr_array_index(tokens, i)));
  return g_variant_new("(aa{sv})", &b);
}

/* A certificate's dictionary plus what the state database knows of it:
 * "profile" (s), "legacy_algorithms" (as) with its "legacy_note" (s), and
 * "reminders_sent" (au). */
static GVariant *
certificate_with_state(SignetAgent *agent, const char *token_serial, GVariant *cert)
{
  GVariantDict d;
  const char *issuer = NULL, *serial = NULL;
  g_autofree char *profile = NULL;
  g_autofree char *legacy = NULL;
  GVariantBuilder sent, configured;

  g_variant_dict_init(&d, cert);
  if (agent->state == NULL || !g_variant_dict_lookup(&d, "issuer", "&s", &issuer)
      || !g_variant_dict_lookup(&d, "serial", "&s", &serial))
    return g_variant_dict_end(&d);
  profile = signet_state_cert_profile(agent->state, token_serial, issuer, serial, NULL);
  if (profile != NULL)
    g_variant_dict_insert(&d, "profile", "s", profile);
  legacy = signet_state_cert_legacy_algorithms(agent->state, token_serial, issuer, serial, NULL);
  if (legacy != NULL) {
    g_auto(GStrv) names = g_strsplit(legacy, ", ", -1);
    g_autofree char *note
        = g_strdup_printf("The CA forced legacy algorithms (%s) when it issued this "
                          "certificate: it should be configured for AES and SHA-256",
                          legacy);

    g_variant_dict_insert_value(&d, "legacy_algorithms",
                                g_variant_new_strv((const char *const *)names, -1));
    g_variant_dict_insert(&d, "legacy_note", "s", note);
  }
  g_variant_builder_init(&sent, G_VARIANT_TYPE("au"));
  g_variant_builder_init(&configured, G_VARIANT_TYPE("au"));
  for (guint i = 0; i < agent->reminder_days->len; i++) {
    guint days = g_array_index(agent->reminder_days, guint, i);
    gboolean was_sent = FALSE;

    g_variant_builder_add(&configured, "u", days);
    if (signet_state_reminder_get(agent->state, token_serial, issuer, serial, days, &was_sent, NULL,
                                  NULL)
        && was_sent)
      g_variant_builder_add(&sent, "u", days);
  }
  g_variant_dict_insert_value(&d, "reminder_days", g_variant_builder_end(&configured));
  g_variant_dict_insert_value(&d, "reminders_sent", g_variant_builder_end(&sent));
  signet_reminders_status_add(&d, agent->state, token_serial, issuer, serial);
  return g_variant_dict_end(&d);
}

/* The open journal entries of @serial (docs/dbus-api.md, "operations"). */
static GVariant *
operations_list(SignetAgent *agent, const char *serial)
{
  g_autoptr(GPtrArray) open = NULL;
  GVariantBuilder list;

  g_variant_builder_init(&list, G_VARIANT_TYPE("aa{sv}"));
  if (agent->state != NULL && serial != NULL && *serial != '\0')
    open = signet_state_op_list_open(agent->state, serial, NULL);
  for (guint i = 0; open != NULL && i < open->len; i++) {
    const SignetOperation *op = g_ptr_array_index(open, i);
    GVariantBuilder e;

    /* Activations have their own list ("activations"). */
    if (op->kind != SIGNET_OP_RENEW)
      continue;
    g_variant_builder_init(&e, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&e, "{sv}", "id", g_variant_new_int64(op->id));
    g_variant_builder_add(&e, "{sv}", "kind",
                          g_variant_new_string(signet_op_kind_to_string(op->kind)));
    g_variant_builder_add(&e, "{sv}", "profile",
                          g_variant_new_string(op->profile ? op->profile : ""));
    g_variant_builder_add(&e, "{sv}", "step", g_variant_new_string(op->step ? op->step : ""));
    g_variant_builder_add(&e, "{sv}", "state",
                          g_variant_new_string(signet_op_state_to_string(op->state)));
    g_variant_builder_add(&e, "{sv}", "retry_at", g_variant_new_int64(op->retry_at));
    g_variant_builder_add(&e, "{sv}", "updated", g_variant_new_int64(op->updated));
    g_variant_builder_add(&e, "{sv}", "message",
                          g_variant_new_string(op->message ? op->message : ""));
    if (op->old_key_id != NULL)
      g_variant_builder_add(&e, "{sv}", "old_id", g_variant_new_string(op->old_key_id));
    if (op->old_cert_serial != NULL)
      g_variant_builder_add(&e, "{sv}", "old_serial", g_variant_new_string(op->old_cert_serial));
    if (op->kind == SIGNET_OP_RENEW)
      g_variant_builder_add(&e, "{sv}", "resume",
                            g_variant_new_string(signet_renewal_resume_action(op)));
    /* Only a PENDING one goes on without the holder (the agent asks the
     * CA), unless the CA wants to be asked with the client certificate. */
    g_variant_builder_add(&e, "{sv}", "needs_pin",
                          g_variant_new_boolean(op->state != SIGNET_OP_PENDING
                                                || signet_renewal_waits_for_holder(op)));
    g_variant_builder_add_value(&list, g_variant_builder_end(&e));
  }
  return g_variant_builder_end(&list);
}

/* @key: @unix_time as ISO 8601 UTC ("2026-12-04T10:00:00Z"). */
static void
add_iso8601(GVariantBuilder *b, const char *key, gint64 unix_time)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(unix_time);
  g_autofree char *when = t != NULL ? g_date_time_format_iso8601(t) : NULL;

  if (when != NULL)
    g_variant_builder_add(b, "{sv}", key, g_variant_new_string(when));
}

/* @status plus "activations": the unfinished activations of the token. */
static GVariant *
add_activations(SignetAgent *agent, GVariant *status)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(status);
  g_autoptr(GPtrArray) open = NULL;
  const char *serial = NULL;
  GVariantBuilder b, list;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init(&iter, owned);
  while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
    if (g_str_equal(key, "serial") && g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
      serial = g_variant_get_string(value, NULL);
  g_variant_iter_init(&iter, owned);
  while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
    if (g_str_equal(key, "certificates") && g_variant_is_of_type(value, G_VARIANT_TYPE("aa{sv}"))) {
      GVariantBuilder certs;
      GVariantIter ci;
      GVariant *c;

      g_variant_builder_init(&certs, G_VARIANT_TYPE("aa{sv}"));
      g_variant_iter_init(&ci, value);
      while ((c = g_variant_iter_next_value(&ci)) != NULL) {
        g_variant_builder_add_value(&certs, certificate_with_state(agent, serial ? serial : "", c));
        g_variant_unref(c);
      }
      g_variant_builder_add(&b, "{sv}", key, g_variant_builder_end(&certs));
      continue;
    }
    g_variant_builder_add(&b, "{sv}", key, value);
  }
  g_variant_builder_add(&b, "{sv}", "operations", operations_list(agent, serial));
  g_variant_builder_init(&list, G_VARIANT_TYPE("aa{sv}"));
  if (agent->state != NULL && serial != NULL && *serial != '\0')
    open = signet_state_op_list_open(agent->state, serial, NULL);
  for (guint i = 0; open != NULL && i < open->len; i++) {
    const SignetOperation *r = g_ptr_array_index(open, i);
    GVariantBuilder e;

    if (r->kind != SIGNET_OP_ACTIVATE)
      continue;
    g_variant_builder_init(&e, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&e, "{sv}", "profile",
                          g_variant_new_string(r->profile ? r->profile : ""));
    g_variant_builder_add(&e, "{sv}", "stage", g_variant_new_string(signet_activation_stage(r)));
    g_variant_builder_add(&e, "{sv}", "id",
                          g_variant_new_string(r->new_key_id ? r->new_key_id : ""));
    if (r->retry_at != 0)
      add_iso8601(&e, "retry_at", r->retry_at);
    if (r->sent_at != 0)
      add_iso8601(&e, "sent_at", r->sent_at);
    if (r->reference != NULL)
      g_variant_builder_add(&e, "{sv}", "reference", g_variant_new_string(r->reference));
    if (r->request_pem != NULL) {
      g_autofree char *fingerprint = signet_csr_fingerprint(r->request_pem, NULL);
      if (fingerprint != NULL)
        g_variant_builder_add(&e, "{sv}", "request_sha256", g_variant_new_string(fingerprint));
    }
    if (r->answer_lost != NULL)
      g_variant_builder_add(&e, "{sv}", "answer_lost", g_variant_new_string(r->answer_lost));
    g_variant_builder_add_value(&list, g_variant_builder_end(&e));
  }
  g_variant_builder_add(&b, "{sv}", "activations", g_variant_builder_end(&list));
  return g_variant_builder_end(&b);
}

static GVariant *
run_get_status(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = signet_op_open_session(op, error);
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GDateTime) now = signet_clock_now_utc();

  if (session == NULL)
    return NULL;
  certs = signet_p11_session_list_certificates(session, error);
  if (certs == NULL)
    return NULL;
  keys = signet_p11_session_list_key_pairs(session, error);
  if (keys == NULL)
    return NULL;
  return g_variant_new(
      "(@a{sv})",
      add_activations(op->agent, signet_token_dict_new_status(signet_p11_session_get_token(session),
                                                              certs, keys, now)));
}

/* The label and type the token reports for the new pair @id. */
static GVariant *
new_key_dict(SignetP11Session *session, GBytes *id, Op *op)
{
  g_autoptr(GPtrArray) keys = signet_p11_session_list_key_pairs(session, NULL);

  for (guint i = 0; keys != NULL && i < keys->len; i++) {
    const SignetP11KeyPair *k = g_ptr_array_index(keys, i);
    if (k->id != NULL && g_bytes_equal(k->id, id))
      return signet_token_dict_new_key_short(id, k->label, k->key_type);
  }
  return signet_token_dict_new_key_short(id, op->label,
                                         signet_p11_key_type_to_string(op->key_type));
}

static GVariant *
run_generate_key(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = signet_op_open_session(op, error);
  g_autoptr(GBytes) id = NULL;
  g_autofree char *hex = NULL;

  if (session == NULL)
    return NULL;
  if (!signet_p11_token_check_key_type(signet_p11_session_get_token(session), op->key_type, error))
    return NULL;
  if (!signet_op_login(op, session, error))
    return NULL;
  if (!signet_p11_session_generate_key_pair(session, op->key_type, op->label, &id, error))
    return NULL;
  hex = signet_token_dict_id_to_hex(id);
  g_message("generated a %s key pair with id %s on token '%s'",
            signet_p11_key_type_to_string(op->key_type), hex, signet_token_dict_name(op->token));
  return g_variant_new("(@a{sv})", new_key_dict(session, id, op));
}

/* Builds the request with the new key; on failure the caller deletes it. */
static char *
build_request(Op *op, SignetP11Session *session, GBytes *id, GError **error)
{
  g_autoptr(EVP_PKEY) public_key = NULL;
  g_autoptr(X509_NAME) name = NULL;
  SignetP11KeyRef key = { session, id };
  const SignetCsrOptions options = { .sign = signet_p11_key_ref_sign, .sign_data = &key };

  public_key = signet_p11_session_get_public_key(session, id, error);
  if (public_key == NULL)
    return NULL;
  name = signet_subject_parse(op->subject, error);
  if (name == NULL)
    return NULL;
  /* Signed through this session. */
  return signet_csr_build_pem_with(NULL, public_key, name, &options, error);
}

static GVariant *
run_create_request(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = signet_op_open_session(op, error);
  g_autoptr(GBytes) id = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *hex = NULL;
  g_autoptr(GError) local = NULL;

  if (session == NULL)
    return NULL;
  if (!signet_p11_token_check_key_type(signet_p11_session_get_token(session), op->key_type, error))
    return NULL;
  if (!signet_op_login(op, session, error))
    return NULL;
  if (!signet_p11_session_generate_key_pair(session, op->key_type, op->label, &id, error))
    return NULL;
  hex = signet_token_dict_id_to_hex(id);

  pem = build_request(op, session, id, &local);
  if (pem == NULL) {
    g_autoptr(GError) delete_error = NULL;

    /* Leave nothing orphaned: the key exists only for this request. */
    if (signet_p11_session_delete_key_pair(session, id, &delete_error))
      g_message("request for token '%s' failed; deleted the new key pair %s again",
                signet_token_dict_name(op->token), hex);
    else
      g_message("request for token '%s' failed, and the new key pair %s could not be "
                "deleted: %s",
                signet_token_dict_name(op->token), hex, delete_error->message);
    g_propagate_prefixed_error(error, g_steal_pointer(&local),
                               "Could not build the request; the new key was %s: ",
                               delete_error == NULL ? "deleted again" : "left on the token");
    return NULL;
  }
  g_message("generated a %s key pair with id %s and a request for \"%s\" on token '%s'",
            signet_p11_key_type_to_string(op->key_type), hex, op->subject,
            signet_token_dict_name(op->token));
  return g_variant_new("(s@a{sv})", pem, new_key_dict(session, id, op));
}

static GVariant *
run_delete_key(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = signet_op_open_session(op, error);
  g_autofree char *hex = signet_token_dict_id_to_hex(op->key_id);

  if (session == NULL)
    return NULL;
  if (!signet_op_login(op, session, error))
    return NULL;
  if (!signet_p11_session_delete_key_pair(session, op->key_id, error))
    return NULL;
  g_message("deleted key pair %s on token '%s'", hex, signet_token_dict_name(op->token));
  return g_variant_new("()");
}

/* The new PIN against the token's limits, before anything is sent. */
static gboolean
check_new_pin(const SignetP11Token *token, const SignetSecret *new_pin, GError **error)
{
  gsize len = signet_secret_get_len(new_pin);

  if (len == 0 && token->protected_auth_path)
    return TRUE;
  if (len == 0 || (token->min_pin_len > 0 && len < token->min_pin_len)
      || (token->max_pin_len > 0 && len > token->max_pin_len)) {
    if (token->max_pin_len > 0 && token->max_pin_len < G_MAXUINT32)
      g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INVALID,
                  "The new PIN has %" G_GSIZE_FORMAT " characters; token '%s' takes %lu to "
                  "%lu. Nothing was changed: choose a PIN of that length.",
                  len, signet_token_dict_name(token), token->min_pin_len, token->max_pin_len);
    else
      g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INVALID,
                  "The new PIN has %" G_GSIZE_FORMAT " characters; token '%s' takes at "
                  "least %lu. Nothing was changed: choose a longer PIN.",
                  len, signet_token_dict_name(token), MAX(token->min_pin_len, 1));
    return FALSE;
  }
  return TRUE;
}

/* ChangePin and UnblockPin: the new PIN checked against the token's
 * limits, @proof (@proof_name: the current PIN, or the PUK) present unless the reader
 * has a PIN pad, then @set sends both; nothing is sent when a check fails. */
typedef gboolean (*SetPinFunc)(SignetP11Session *session, const SignetSecret *proof,
                               const SignetSecret *new_pin, gboolean confirm_final_try,
                               GError **error);

static SignetP11Session *
set_pin(Op *op, const SignetSecret *proof, const char *proof_name, SetPinFunc set, GError **error)
{
  g_autoptr(SignetP11Session) session = signet_op_open_session(op, error);
  g_autoptr(GError) local = NULL;
  const SignetP11Token *token;

  if (session == NULL)
    return NULL;
  token = signet_p11_session_get_token(session);
  if (!check_new_pin(token, op->new_pin, error))
    return NULL;
  if (signet_secret_get_len(proof) == 0 && !token->protected_auth_path) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "No %s given for token '%s'", proof_name, signet_token_dict_name(token));
    return NULL;
  }
  if (!set(session, proof, op->new_pin, op->confirm_final_try, &local)) {
    explain_pin_error(local, signet_p11_session_get_token(session));
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  return g_steal_pointer(&session);
}

static GVariant *
run_change_pin(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = set_pin(op, op->pin, "No current PIN given for token '%s'",
                                                signet_p11_session_change_pin, error);

  if (session == NULL)
    return NULL;
  g_message("changed the PIN of token '%s'", signet_token_dict_name(op->token));
  return g_variant_new("()");
}

static GVariant *
run_unblock_pin(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session
      = set_pin(op, op->puk, "PUK", signet_p11_session_unblock_pin, error);

  if (session == NULL)
    return NULL;
  /* The session re-read the token: op->token is stale now. */
  g_message(
      "unblocked the PIN of token '%s' with the PUK (%s)", signet_token_dict_name(op->token),
      signet_p11_unblock_method_to_string(signet_p11_session_get_token(session)->unblock_method));
  return g_variant_new("()");
}

typedef struct
{
  SignetAgent *agent;
  char *request_id;
  const char *operation; /* "activate", "renew" */
  char *step;
  GVariant *details;
} ProgressEvent;

static gboolean
emit_progress_cb(gpointer user_data)
{
  ProgressEvent *e = user_data;

  signet_agent1_emit_progress(e->agent->skeleton, e->request_id, e->operation, e->step, e->details);
  return G_SOURCE_REMOVE;
}

static void
progress_event_free(gpointer data)
{
  ProgressEvent *e = data;

  g_object_unref(e->agent);
  g_free(e->request_id);
  g_free(e->step);
  g_variant_unref(e->details);
  g_free(e);
}

/* From the worker: the signal goes out on the main thread, in order. */
static void
activate_progress(gpointer data, const char *step, GVariant *details)
{
  Op *op = data;
  ProgressEvent *e = g_new0(ProgressEvent, 1);

  e->agent = g_object_ref(op->agent);
  e->operation = op->kind == OP_RENEW ? "renew" : "activate";
  e->request_id = g_strdup(op->request_id ? op->request_id : "");
  e->step = g_strdup(step);
  e->details = g_variant_ref_sink(details);
  g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, emit_progress_cb, e, progress_event_free);
}

static gboolean
activate_login(gpointer data, SignetP11Session *session, GError **error)
{
  return signet_op_login(data, session, error);
}

static GVariant *
run_activate(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = signet_op_open_session(op, error);
  SignetActivation activation = {
    .profile = op->profile,
    .reference = op->reference,
    .code = op->code,
    .label = op->label,
    .state = op->agent->state,
    .out_journal_closed = &op->journal_closed,
    .login = activate_login,
    .progress = activate_progress,
    .data = op,
  };
  GVariant *result;

  if (session == NULL)
    return NULL;
  activation.session = session;
  result = signet_activation_run(&activation, error);
  /* The code is used (or refused) once: do not keep it. */
  g_clear_pointer(&op->code, signet_secret_free);
  if (result == NULL)
    return NULL;
  signet_op_note_contents(op, session);
  return g_variant_new("(@a{sv})", result);
}

void
signet_op_note_contents(Op *op, SignetP11Session *session)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = signet_p11_session_list_certificates(session, &error);
  g_autoptr(GPtrArray) keys
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_key_pair_free);

  /* The reminders ask of a key only whether a certificate's id has one:
   * asked per certificate (the new key's answer is known already), not by
   * listing every key with its attributes. */
  for (guint i = 0; certs != NULL && i < certs->len; i++) {
    const SignetP11Certificate *c = g_ptr_array_index(certs, i);
    SignetP11KeyPair *k;

    if (c->authority || c->id == NULL || g_bytes_get_size(c->id) == 0)
      continue;
    if (!signet_p11_session_has_key(session, c->id, &error)) {
      if (error != NULL)
        g_clear_pointer(&certs, g_ptr_array_unref);
      continue;
    }
    k = g_new0(SignetP11KeyPair, 1);
    k->id = g_bytes_ref(c->id);
    k->has_private = TRUE; /* a key of that id: all the check's has_key() asks */
    g_ptr_array_add(keys, k);
  }
  if (certs == NULL) {
    g_debug("%s: the token's contents after it are not known (%s): the reminders check reads "
            "them",
            op->what, error->message);
    return;
  }
  g_clear_pointer(&op->token_certs, g_ptr_array_unref);
  g_clear_pointer(&op->token_keys, g_ptr_array_unref);
  op->token_certs = g_steal_pointer(&certs);
  op->token_keys = g_steal_pointer(&keys);
}

static GVariant *
run_renew(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = signet_op_open_session(op, error);
  SignetRenewal renewal = {
    .state = op->agent->state,
    .profiles = op->profiles,
    .profile_name = op->profile_name,
    .cert_id = op->cert_id,
    .login = activate_login,
    .progress = activate_progress,
    .data = op,
    .out_journal_closed = &op->journal_closed,
  };
  GVariant *result;

  if (session == NULL)
    return NULL;
  renewal.session = session;
  result = signet_renewal_run(&renewal, error);
  if (result == NULL)
    return NULL;
  signet_op_note_contents(op, session);
  return g_variant_new("(@a{sv})", result);
}

/* The holder certificate @op->cert_id names (or the only one), then the CA
 * certificates of its chain on the token, each after the one it issued. */
static GVariant *
run_export_certificate(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = signet_op_open_session(op, error);
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GPtrArray) chosen = g_ptr_array_new();
  GVariantBuilder b;
  X509 *cur;

  if (session == NULL)
    return NULL;
  certs = signet_p11_session_list_certificates(session, error);
  if (certs == NULL)
    return NULL;
  for (guint i = 0; i < certs->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(certs, i);
    g_autofree char *id = NULL;

    if (c->authority || c->cert == NULL)
      continue;
    id = c->id != NULL ? signet_hex_encode(g_bytes_get_data(c->id, NULL), g_bytes_get_size(c->id))
                       : g_strdup("");
    if (op->cert_id == NULL || signet_renewal_cert_matches(op->cert_id, id, c->cert))
      g_ptr_array_add(chosen, c);
  }
  if (chosen->len == 0 && op->cert_id != NULL) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "Token '%s' has no certificate '%s' (give its serial, SHA-256 fingerprint or "
                "key id as signet status shows them)",
                op->token->label, op->cert_id);
    return NULL;
  }
  if (chosen->len == 0) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "Token '%s' holds no certificate of its own, only CA certificates or none",
                op->token->label);
    return NULL;
  }
  if (chosen->len > 1) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "Token '%s' has %u certificates that match: say which one by its serial or "
                "SHA-256 fingerprint",
                op->token->label, chosen->len);
    return NULL;
  }
  g_variant_builder_init(&b, G_VARIANT_TYPE("aay"));
  cur = ((SignetP11Certificate *)g_ptr_array_index(chosen, 0))->cert;
  /* At most one pass per certificate on the token: a loop of issuers ends. */
  for (guint n = 0; cur != NULL && n <= certs->len; n++) {
    unsigned char *der = NULL;
    int len = i2d_X509(cur, &der);
    X509 *issuer = NULL;

    if (len <= 0) {
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                  "A certificate on token '%s' could not be encoded", op->token->label);
      return NULL;
    }
    g_variant_builder_add_value(
        &b, g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, der, (gsize)len, sizeof(guint8)));
    OPENSSL_free(der);
    if (!op->chain || X509_check_issued(cur, cur) == X509_V_OK)
      break;
    for (guint i = 0; i < certs->len && issuer == NULL; i++) {
      SignetP11Certificate *c = g_ptr_array_index(certs, i);

      if (c->cert != NULL && c->cert != cur && X509_check_issued(c->cert, cur) == X509_V_OK)
        issuer = c->cert;
    }
    cur = issuer;
  }
  return g_variant_new("(aay)", &b);
}

GVariant *
signet_op_run(Op *op, GError **error)
{
  switch (op->kind) {
    case OP_LIST_TOKENS:
      return run_list_tokens(op, error);
    case OP_GET_STATUS:
      return run_get_status(op, error);
    case OP_GET_TOKEN:
      /* Found just now (op_thread): its PIN flags are the token's own. No
       * session, no object read. */
      return g_variant_new("(@a{sv})",
                           add_activations(op->agent, signet_token_dict_new(op->token)));
    case OP_GENERATE_KEY:
      return run_generate_key(op, error);
    case OP_CREATE_REQUEST:
      return run_create_request(op, error);
    case OP_IMPORT_CERTIFICATE:
      return signet_op_run_import(op, error);
    case OP_DELETE_KEY:
      return run_delete_key(op, error);
    case OP_CHANGE_PIN:
      return run_change_pin(op, error);
    case OP_UNBLOCK_PIN:
      return run_unblock_pin(op, error);
    case OP_ACTIVATE:
      return run_activate(op, error);
    case OP_RENEW:
      return run_renew(op, error);
    case OP_EXPORT_CERTIFICATE:
      return run_export_certificate(op, error);
  }
  g_assert_not_reached();
}
