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

#include <openssl/err.h>
#include <openssl/pem.h>
#include <p11-kit/uri.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "agent/signet-activate.h"
#include "agent/signet-card.h"
#include "agent/signet-activation-record.h"
#include "agent/signet-caller.h"
#include "agent/signet-reminders.h"
#include "agent/signet-renew.h"
#include "agent/signet-state.h"
#include "agent/signet-testhooks.h"
#include "libsignet/signet-dbus-generated.h"
#include "agent/signet-errors.h"
#include "agent/signet-token-dict.h"
#include "common/signet-secret.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-profile.h"
#include "enroll/signet-x509.h"

/* Local names for OpenSSL types so that g_autoptr works without clashing
 * with a cleanup function another header may define for the real names. */
typedef P11KitUri AgentP11Uri;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AgentP11Uri, p11_kit_uri_free)

struct _SignetAgent
{
  GObject parent_instance;

  SignetP11Context *ctx; /* NULL when the modules could not be loaded */
  GError *ctx_error;
  SignetAgent1 *skeleton;
  char *state_dir;    /* activation records */
  SignetState *state; /* the journal; NULL if it could not be opened */
  GError *state_error;
  guint poll_id;         /* the one timer for pending renewals */
  gint64 poll_at;        /* when it fires (Unix seconds), 0 if not armed */
  gboolean polling;      /* a poll runs in a worker */
  GArray *reminder_days; /* guint, largest first */
  GHashTable *busy;      /* token key → what runs on it; main thread only */
  guint n_running;
};

G_DEFINE_TYPE(SignetAgent, signet_agent, G_TYPE_OBJECT)

/* ---- operations --------------------------------------------------------- */

typedef enum
{
  OP_LIST_TOKENS,
  OP_GET_STATUS,
  OP_GENERATE_KEY,
  OP_CREATE_REQUEST,
  OP_IMPORT_CERTIFICATE,
  OP_DELETE_KEY,
  OP_CHANGE_PIN,
  OP_UNBLOCK_PIN,
  OP_ACTIVATE,
  OP_RENEW,
  OP_EXPORT_CERTIFICATE,
} OpKind;

typedef struct
{
  OpKind kind;
  const char *what; /* for the Busy message: "generating a key" */
  gboolean exclusive;
  SignetAgent *agent;
  GDBusMethodInvocation *invocation;

  char *token_spec;
  SignetP11Token *token; /* resolved */
  char *busy_key;        /* set while this operation holds the token */

  /* arguments, as they apply */
  SignetP11KeyType key_type;
  char *subject;
  char *label;
  GBytes *key_id;
  GBytes *data;
  gboolean confirm_final_try;
  gboolean allow_expired; /* ImportCertificate: store an expired certificate anyway */
  gboolean replace;       /* ImportCertificate: the key's other certificates go */
  gboolean chain;         /* ExportCertificate: with the CA chain (default) */
  SignetSecret *pin;      /* PIN, or the old PIN for ChangePin */
  SignetSecret *puk;
  SignetSecret *new_pin;
  /* Activate */
  SignetProfileSet *profiles;
  const SignetProfile *profile; /* in @profiles */
  char *reference;
  SignetSecret *code;
  char *request_id;
  /* Renew */
  char *cert_id;
  char *profile_name;
  gboolean journal_closed; /* the journal wrote the audit entry */
} Op;

static void
op_free(Op *op)
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
  g_clear_pointer(&op->pin, signet_secret_free);
  g_clear_pointer(&op->puk, signet_secret_free);
  g_clear_pointer(&op->new_pin, signet_secret_free);
  g_clear_pointer(&op->profiles, signet_profile_set_free);
  g_free(op->reference);
  g_clear_pointer(&op->code, signet_secret_free);
  g_free(op->request_id);
  g_free(op->cert_id);
  g_free(op->profile_name);
  g_free(op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Op, op_free)

static Op *
op_new(SignetAgent *agent, GDBusMethodInvocation *invocation, OpKind kind, const char *what,
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

/* ---- argument checks (main thread) -------------------------------------- */

/* Copies a secret out of the message into a SignetSecret and wipes the
 * message's copy of the bytes (the GVariant is ours: a byte array inside a
 * received message, and zeroing bytes changes no framing). */
static SignetSecret *
take_secret(GVariant *value, const char *what, GError **error)
{
  gsize len = 0, full;
  guint8 *bytes;
  SignetSecret *secret = NULL;

  if (value == NULL || !g_variant_is_of_type(value, G_VARIANT_TYPE_BYTESTRING)) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "The %s must be a byte array", what);
    return NULL;
  }
  bytes = (guint8 *)g_variant_get_fixed_array(value, &len, 1);
  full = len;
  /* A GVariant bytestring (g_variant_new_bytestring, gdbus's b'…') ends in
   * one NUL that is not part of the secret. */
  if (len > 0 && bytes[len - 1] == 0)
    len--;
  if (len > SIGNET_SECRET_MAX)
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "The %s is longer than %d bytes", what, SIGNET_SECRET_MAX);
  else if (len > 0 && memchr(bytes, 0, len) != NULL)
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "The %s contains a NUL byte; give it without one", what);
  else
    secret = signet_secret_new(bytes, len);
  if (bytes != NULL && full > 0)
    explicit_bzero(bytes, full);
  return secret;
}

/* options: only the keys in @allowed ("label", "confirm-final-try"). */
static gboolean
parse_options(GVariant *options, const char *const *allowed, Op *op, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init(&iter, options);
  while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
    if (allowed == NULL || !g_strv_contains(allowed, key)) {
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS, "Unknown option '%s'",
                  key);
      g_variant_unref(value);
      return FALSE;
    }
    if (g_str_equal(key, "label")) {
      if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
        g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                    "Option 'label' must be a string");
        g_variant_unref(value);
        return FALSE;
      }
      g_free(op->label);
      op->label = g_variant_dup_string(value, NULL);
      if (signet_has_control_chars(op->label)) {
        /* A label is printed in everyone's status: no terminal escapes. */
        g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                    "Option 'label' holds a control character (a newline, an escape, …): "
                    "give a label of printable characters");
        g_variant_unref(value);
        return FALSE;
      }
      if (*op->label == '\0')
        g_clear_pointer(&op->label, g_free);
    } else if (g_str_equal(key, "confirm-final-try") || g_str_equal(key, "allow-expired")
               || g_str_equal(key, "replace") || g_str_equal(key, "chain")) {
      gboolean *field = g_str_equal(key, "replace")         ? &op->replace
                        : g_str_equal(key, "allow-expired") ? &op->allow_expired
                        : g_str_equal(key, "chain")         ? &op->chain
                                                            : &op->confirm_final_try;

      if (!g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
        g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                    "Option '%s' must be a boolean", key);
        g_variant_unref(value);
        return FALSE;
      }
      *field = g_variant_get_boolean(value);
    } else if (g_str_equal(key, "request-id")) {
      if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
        g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                    "Option 'request-id' must be a string");
        g_variant_unref(value);
        return FALSE;
      }
      g_free(op->request_id);
      op->request_id = g_variant_dup_string(value, NULL);
    } else if (g_str_equal(key, "cert") || g_str_equal(key, "profile")) {
      char **target = g_str_equal(key, "cert") ? &op->cert_id : &op->profile_name;

      if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
        g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                    "Option '%s' must be a string", key);
        g_variant_unref(value);
        return FALSE;
      }
      g_free(*target);
      *target = g_variant_dup_string(value, NULL);
      if (**target == '\0')
        g_clear_pointer(target, g_free);
    }
  }
  return TRUE;
}

static gboolean
check_token_arg(const char *token, GError **error)
{
  if (token == NULL || *token == '\0') {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "No token given: name one by PKCS#11 URI, serial number or label");
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_key_type(const char *name, SignetP11KeyType *out_type, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (!signet_p11_key_type_parse(name, out_type, &local)) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "Unknown key type '%s'; use rsa:2048, rsa:3072, rsa:4096, ec:p256 or ec:p384",
                name);
    return FALSE;
  }
  return TRUE;
}

/* key_id: hex (an optional ':' between bytes) or a PKCS#11 URI with id=. */
static GBytes *
parse_key_id(const char *text, GError **error)
{
  GBytes *id = NULL;

  if (g_str_has_prefix(text, "pkcs11:")) {
    g_autoptr(AgentP11Uri) uri = p11_kit_uri_new();
    CK_ATTRIBUTE_PTR attr;

    if (p11_kit_uri_parse(text, P11_KIT_URI_FOR_OBJECT, uri) == P11_KIT_URI_OK
        && (attr = p11_kit_uri_get_attribute(uri, CKA_ID)) != NULL && attr->ulValueLen > 0
        && attr->ulValueLen != (CK_ULONG)-1)
      id = g_bytes_new(attr->pValue, attr->ulValueLen);
  } else {
    id = signet_hex_decode(text);
    if (id != NULL && g_bytes_get_size(id) == 0)
      g_clear_pointer(&id, g_bytes_unref);
  }
  if (id == NULL)
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "'%s' is not a key id: give the key's CKA_ID in hex (as signet status shows "
                "it) or a PKCS#11 URI with id=",
                text);
  return id;
}

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

static SignetP11Session *
open_session(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = NULL;

  session = signet_p11_session_open(op->agent->ctx, op->token, error);
  if (session == NULL)
    return NULL;
  /* Act on the flags as they are now, not as they were when resolved. */
  if (!signet_p11_session_refresh_token(session, error))
    return NULL;
  return g_steal_pointer(&session);
}

/* Sends @pin once. An empty PIN is only for a token with a PIN pad. */
static gboolean
login(Op *op, SignetP11Session *session, GError **error)
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
 * "profile" (s) and "reminders_sent" (au). */
static GVariant *
certificate_with_state(SignetAgent *agent, const char *token_serial, GVariant *cert)
{
  GVariantDict d;
  const char *issuer = NULL, *serial = NULL;
  g_autofree char *profile = NULL;
  GVariantBuilder sent, configured;

  g_variant_dict_init(&d, cert);
  if (agent->state == NULL || !g_variant_dict_lookup(&d, "issuer", "&s", &issuer)
      || !g_variant_dict_lookup(&d, "serial", "&s", &serial))
    return g_variant_dict_end(&d);
  profile = signet_state_cert_profile(agent->state, token_serial, issuer, serial, NULL);
  if (profile != NULL)
    g_variant_dict_insert(&d, "profile", "s", profile);
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
    /* Only a PENDING one goes on without the holder (the agent asks the CA). */
    g_variant_builder_add(&e, "{sv}", "needs_pin",
                          g_variant_new_boolean(op->state != SIGNET_OP_PENDING));
    g_variant_builder_add_value(&list, g_variant_builder_end(&e));
  }
  return g_variant_builder_end(&list);
}

/* @status plus "activations": the unfinished activations of the token. */
static GVariant *
add_activations(SignetAgent *agent, GVariant *status)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(status);
  g_autoptr(GPtrArray) records = NULL;
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
  records = signet_activation_records_for_token(agent->state_dir, serial ? serial : "");
  for (guint i = 0; serial != NULL && *serial != '\0' && i < records->len; i++) {
    const SignetActivationRecord *r = g_ptr_array_index(records, i);
    g_autofree char *id = signet_token_dict_id_to_hex(r->key_id);
    GVariantBuilder e;

    g_variant_builder_init(&e, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&e, "{sv}", "profile", g_variant_new_string(r->profile));
    g_variant_builder_add(&e, "{sv}", "stage",
                          g_variant_new_string(signet_activation_stage_to_string(r->stage)));
    g_variant_builder_add(&e, "{sv}", "id", g_variant_new_string(id));
    if (r->retry_at != NULL) {
      g_autofree char *when = g_date_time_format_iso8601(r->retry_at);
      g_variant_builder_add(&e, "{sv}", "retry_at", g_variant_new_string(when));
    }
    if (r->sent_at != NULL) {
      g_autofree char *when = g_date_time_format_iso8601(r->sent_at);
      g_variant_builder_add(&e, "{sv}", "sent_at", g_variant_new_string(when));
    }
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
  g_autoptr(SignetP11Session) session = open_session(op, error);
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
  g_autoptr(SignetP11Session) session = open_session(op, error);
  g_autoptr(GBytes) id = NULL;
  g_autofree char *hex = NULL;

  if (session == NULL)
    return NULL;
  if (!signet_p11_token_check_key_type(signet_p11_session_get_token(session), op->key_type, error))
    return NULL;
  if (!login(op, session, error))
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
  g_autoptr(EVP_PKEY) private_key = NULL;

  public_key = signet_p11_session_get_public_key(session, id, error);
  if (public_key == NULL)
    return NULL;
  private_key = signet_p11_session_get_private_key(session, id, error);
  if (private_key == NULL)
    return NULL;
  return signet_csr_build_pem(private_key, public_key, op->subject, error);
}

static GVariant *
run_create_request(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = open_session(op, error);
  g_autoptr(GBytes) id = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *hex = NULL;
  g_autoptr(GError) local = NULL;

  if (session == NULL)
    return NULL;
  if (!signet_p11_token_check_key_type(signet_p11_session_get_token(session), op->key_type, error))
    return NULL;
  if (!login(op, session, error))
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

/* Does @leaf verify against the other certificates of the file? @out_reason
 * says why not. */
static gboolean
verify_chain(X509 *leaf, GPtrArray *certs, char **out_reason)
{
  g_autoptr(GError) local = NULL;

  if (signet_x509_verify_chain(leaf, certs, NULL, &local))
    return TRUE;
  *out_reason = g_strdup(local->message);
  return FALSE;
}

/* The certificate of the file whose public key is a key pair's on the
 * token: end-entity certificates first, then CA or self-signed ones. */
static gboolean
find_leaf(SignetP11Session *session, GPtrArray *certs, X509 **out_leaf, GBytes **out_id,
          GError **error)
{
  g_autoptr(GError) no_match = NULL;
  guint holders = 0;

  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < certs->len; i++) {
      X509 *c = g_ptr_array_index(certs, i);
      g_autoptr(GError) local = NULL;
      GBytes *id = NULL;

      if (signet_x509_is_ca(c) != (pass == 1))
        continue;
      if (signet_p11_session_find_key_for_certificate(session, c, &id, &local)) {
        *out_leaf = c;
        *out_id = id;
        return TRUE;
      }
      if (!g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_MATCHING_KEY)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
      }
      g_clear_error(&no_match);
      no_match = g_steal_pointer(&local);
    }
  for (guint i = 0; i < certs->len; i++)
    if (!signet_x509_is_ca(g_ptr_array_index(certs, i)))
      holders++;
  if (holders == 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_MATCHING_KEY,
                "The file holds only CA certificates (%u): your own certificate is not in it; "
                "nothing was written. Import the file with your certificate (the CA's portal "
                "often offers it as a download of its own)",
                certs->len);
    return FALSE;
  }
  /* The token layer's word for it (with what OpenSC's cache means). */
  g_propagate_error(error, g_steal_pointer(&no_match));
  return FALSE;
}

/* A file whose holder certificates (those that are not CA certificates)
 * are all expired, or not valid yet, is refused before the token is
 * touched: such a certificate cannot sign, and storing it silently hides
 * that. (With allow-expired it is stored.) */
static gboolean
check_not_expired(GPtrArray *certs, GError **error)
{
  g_autoptr(GDateTime) now = signet_clock_now_utc();
  X509 *expired = NULL;
  guint holders = 0;

  for (guint i = 0; i < certs->len; i++) {
    X509 *c = g_ptr_array_index(certs, i);

    if (signet_x509_is_ca(c))
      continue;
    holders++;
    if (signet_x509_days_left(c, now) >= 0 && X509_cmp_time(X509_get0_notBefore(c), NULL) <= 0)
      return TRUE; /* one that is valid now */
    expired = c;
  }
  if (holders == 0 || expired == NULL)
    return TRUE; /* the key match says what is wrong with the file */
  {
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(expired));
    gint64 days = signet_x509_days_left(expired, now);

    if (days < 0)
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_EXPIRED,
                  "The certificate in the file (%s) expired %" G_GINT64_FORMAT
                  " day%s ago: it can no longer sign. Nothing was written. Ask your CA for a "
                  "new certificate; to store this one anyway, pass allow-expired "
                  "(signet import --allow-expired)",
                  subject, -days, days == -1 ? "" : "s");
    else
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_EXPIRED,
                  "The certificate in the file (%s) is not valid yet: check the computer's "
                  "clock. Nothing was written; to store it anyway, pass allow-expired "
                  "(signet import --allow-expired)",
                  subject);
  }
  return FALSE;
}

/* The holder certificates other than @leaf stored under the key @id. */
static GPtrArray *
other_certificates(SignetP11Session *session, GBytes *id, X509 *leaf, GError **error)
{
  g_autoptr(GPtrArray) all = signet_p11_session_list_certificates(session, error);
  GPtrArray *out;

  if (all == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_certificate_free);
  for (guint i = 0; i < all->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(all, i);

    if (c->authority || c->id == NULL || !g_bytes_equal(c->id, id) || X509_cmp(c->cert, leaf) == 0)
      continue;
    g_ptr_array_add(out, g_steal_pointer(&all->pdata[i]));
  }
  return out;
}

/* "serial 1a2b (CN=…, valid until 2027-01-01)", for each of @certs. */
static char *
describe_certificates(GPtrArray *certs)
{
  GString *out = g_string_new(NULL);

  for (guint i = 0; i < certs->len; i++) {
    X509 *c = ((SignetP11Certificate *)g_ptr_array_index(certs, i))->cert;
    g_autofree char *serial = signet_x509_serial_to_string(c);
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(c));
    g_autofree char *until = signet_asn1_time_to_iso8601(X509_get0_notAfter(c));

    g_string_append_printf(out, "%sserial %s (%s, valid until %.10s)", i > 0 ? "; " : "", serial,
                           subject, until != NULL ? until : "?");
  }
  return g_string_free(out, FALSE);
}

/* A certificate for the key of an unfinished activation is imported (the
 * CA gave it to the holder some other way): that activation is over, and
 * its profile is where the certificate is renewed. */
static void
settle_activations(Op *op, GBytes *id, X509 *leaf)
{
  const char *serial = op->token->serial != NULL ? op->token->serial : "";
  g_autoptr(GPtrArray) records = signet_activation_records_for_token(op->agent->state_dir, serial);
  g_autofree char *hex = signet_token_dict_id_to_hex(id);

  for (guint i = 0; *serial != '\0' && i < records->len; i++) {
    const SignetActivationRecord *r = g_ptr_array_index(records, i);
    g_autoptr(GError) local = NULL;

    if (r->stage == SIGNET_ACTIVATION_ISSUED || !g_bytes_equal(r->key_id, id))
      continue;
    signet_token_dict_track_certificate(op->agent->state, serial, hex, leaf, r->profile);
    if (!signet_activation_record_remove(op->agent->state_dir, serial, r->profile, &local))
      g_message("import: %s", local->message);
    else
      g_message("import: the activation of token '%s' through profile %s is finished by the "
                "imported certificate (key %s)",
                signet_token_dict_name(op->token), r->profile, hex);
  }
}

static GVariant *
run_import_certificate(Op *op, GError **error)
{
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(SignetP11Session) session = NULL;
  g_autoptr(GBytes) id = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *hex = NULL;
  g_autofree char *chain_error = NULL;
  g_autoptr(GPtrArray) others = NULL;
  g_autoptr(GPtrArray) replaced = g_ptr_array_new_with_free_func(g_free);
  X509 *leaf = NULL;
  gboolean present, verified;
  guint32 chain_stored = 0, chain_present = 0;
  GVariantBuilder b;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data(op->data, &len);

  /* Parse before touching the token: a bad file costs no PIN. */
  certs = signet_certfile_parse(data, len, error);
  if (certs == NULL)
    return NULL;
  if (!op->allow_expired && !check_not_expired(certs, error))
    return NULL;

  session = open_session(op, error);
  if (session == NULL)
    return NULL;
  if (!login(op, session, error))
    return NULL;
  if (!find_leaf(session, certs, &leaf, &id, error))
    return NULL;

  verified = verify_chain(leaf, certs, &chain_error);
  present = signet_p11_session_has_certificate(session, leaf, &local);
  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  hex = signet_token_dict_id_to_hex(id);
  others = other_certificates(session, id, leaf, error);
  if (others == NULL)
    return NULL;
  if (others->len > 0 && !present && !op->replace) {
    g_autofree char *list = describe_certificates(others);

    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                "Key %s on token '%s' already has a certificate: %s. Two certificates for one "
                "key confuse signing programs (they may pick either), so nothing was written. "
                "To store this one instead, import it again with --replace: the other is "
                "removed only once this one is stored",
                hex, signet_token_dict_name(op->token), list);
    return NULL;
  }
  if (!present) {
    if (!signet_p11_session_store_certificate(session, leaf, id, op->label, FALSE, error))
      return NULL;
    g_message("stored a certificate under key %s on token '%s'", hex,
              signet_token_dict_name(op->token));
  }
  if (op->replace && others->len > 0) {
    /* Stored and read back first: only then does what it replaces go. */
    gboolean stored = signet_p11_session_has_certificate(session, leaf, &local);

    if (!stored) {
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                  "The certificate could not be read back from token '%s'%s%s; the key's other "
                  "certificate was kept",
                  signet_token_dict_name(op->token), local != NULL ? ": " : "",
                  local != NULL ? local->message : "");
      return NULL;
    }
    for (guint i = 0; i < others->len; i++) {
      X509 *c = ((SignetP11Certificate *)g_ptr_array_index(others, i))->cert;
      g_autofree char *serial = signet_x509_serial_to_string(c);

      if (!signet_p11_session_delete_certificate(session, c, &local)
          && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
        g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                   "The certificate was stored, but the one it replaces (serial "
                                   "%s) could not be removed: ",
                                   serial);
        return NULL;
      }
      g_clear_error(&local);
      g_message("removed certificate %s of key %s on token '%s': replaced by the import", serial,
                hex, signet_token_dict_name(op->token));
      g_ptr_array_add(replaced, g_steal_pointer(&serial));
    }
  }
  settle_activations(op, id, leaf);

  for (guint i = 0; i < certs->len; i++) {
    X509 *c = g_ptr_array_index(certs, i);
    gboolean there;

    if (c == leaf || X509_cmp(c, leaf) == 0)
      continue;
    if (!signet_x509_is_ca(c)) {
      g_debug("certificate %u of the file is neither the leaf nor a CA; not stored", i);
      continue;
    }
    there = signet_p11_session_has_certificate(session, c, &local);
    if (local != NULL) {
      g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                 "The certificate was %s, but the chain could not be "
                                 "stored: ",
                                 present ? "already on the token" : "stored");
      return NULL;
    }
    if (there) {
      chain_present++;
      continue;
    }
    if (!signet_p11_session_store_certificate(session, c, NULL, NULL, TRUE, &local)) {
      g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                 "The certificate was %s, but the chain could not be "
                                 "stored: ",
                                 present ? "already on the token" : "stored");
      return NULL;
    }
    chain_stored++;
  }

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(hex));
  signet_token_dict_add_issued(&b, leaf);
  g_variant_builder_add(&b, "{sv}", "already_present", g_variant_new_boolean(present));
  g_variant_builder_add(&b, "{sv}", "chain_stored", g_variant_new_uint32(chain_stored));
  g_variant_builder_add(&b, "{sv}", "chain_present", g_variant_new_uint32(chain_present));
  g_variant_builder_add(&b, "{sv}", "chain_verified", g_variant_new_boolean(verified));
  g_ptr_array_add(replaced, NULL);
  g_variant_builder_add(&b, "{sv}", "replaced",
                        g_variant_new_strv((const char *const *)replaced->pdata, -1));
  if (!verified)
    g_variant_builder_add(&b, "{sv}", "chain_error", g_variant_new_string(chain_error));
  return g_variant_new("(a{sv})", &b);
}

static GVariant *
run_delete_key(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = open_session(op, error);
  g_autofree char *hex = signet_token_dict_id_to_hex(op->key_id);

  if (session == NULL)
    return NULL;
  if (!login(op, session, error))
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

static GVariant *
run_change_pin(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = open_session(op, error);
  g_autoptr(GError) local = NULL;
  const SignetP11Token *token;

  if (session == NULL)
    return NULL;
  token = signet_p11_session_get_token(session);
  if (!check_new_pin(token, op->new_pin, error))
    return NULL;
  if (signet_secret_get_len(op->pin) == 0 && !token->protected_auth_path) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "No current PIN given for token '%s'", signet_token_dict_name(token));
    return NULL;
  }
  if (!signet_p11_session_change_pin(session, op->pin, op->new_pin, op->confirm_final_try,
                                     &local)) {
    explain_pin_error(local, signet_p11_session_get_token(session));
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  g_message("changed the PIN of token '%s'", signet_token_dict_name(op->token));
  return g_variant_new("()");
}

static GVariant *
run_unblock_pin(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = open_session(op, error);
  g_autoptr(GError) local = NULL;
  const SignetP11Token *token;

  if (session == NULL)
    return NULL;
  token = signet_p11_session_get_token(session);
  if (!check_new_pin(token, op->new_pin, error))
    return NULL;
  if (signet_secret_get_len(op->puk) == 0 && !token->protected_auth_path) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "No PUK given for token '%s'", signet_token_dict_name(token));
    return NULL;
  }
  if (!signet_p11_session_unblock_pin(session, op->puk, op->new_pin, op->confirm_final_try,
                                      &local)) {
    explain_pin_error(local, signet_p11_session_get_token(session));
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  /* The session re-read the token: @token is stale now. */
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
  return login(data, session, error);
}

static GVariant *
run_activate(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = open_session(op, error);
  SignetActivation activation = {
    .profile = op->profile,
    .reference = op->reference,
    .code = op->code,
    .label = op->label,
    .state_dir = op->agent->state_dir,
    .state = op->agent->state,
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
  return g_variant_new("(@a{sv})", result);
}

static GVariant *
run_renew(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = open_session(op, error);
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
  return g_variant_new("(@a{sv})", result);
}

/* The holder certificate @op->cert_id names (or the only one), then the CA
 * certificates of its chain on the token, each after the one it issued. */
static GVariant *
run_export_certificate(Op *op, GError **error)
{
  g_autoptr(SignetP11Session) session = open_session(op, error);
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

static GVariant *
op_run(Op *op, GError **error)
{
  switch (op->kind) {
    case OP_LIST_TOKENS:
      return run_list_tokens(op, error);
    case OP_GET_STATUS:
      return run_get_status(op, error);
    case OP_GENERATE_KEY:
      return run_generate_key(op, error);
    case OP_CREATE_REQUEST:
      return run_create_request(op, error);
    case OP_IMPORT_CERTIFICATE:
      return run_import_certificate(op, error);
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

/* After an operation on @token, its sessions closed: reset an OpenSC
 * token's card so that it does not stay PIN-verified (signet-card.h). */
static void
end_card_verification(const SignetP11Token *token)
{
  g_autoptr(GError) error = NULL;

  if (!signet_card_needs_reset(token))
    return;
  if (signet_card_reset(token->slot_description, &error))
    g_debug("reset the card in reader '%s': its PIN verification ended with the operation",
            token->slot_description);
  else
    g_message("%s: the card may stay PIN-verified until it is removed", error->message);
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
  reply = op_run(op, &error);
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

static void signet_agent_schedule_poll(SignetAgent *agent);

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
    op_release(op);
    /* A certificate already within a reminder threshold: its reminder now. */
    if ((op->kind == OP_ACTIVATE || op->kind == OP_IMPORT_CERTIFICATE || op->kind == OP_RENEW)
        && op->token != NULL && op->token->serial != NULL)
      signet_reminders_certificate_stored(agent, op->token->serial);
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
  }
  agent->n_running--; /* op_start counts it again */
  op_start(g_steal_pointer(&op));
}

static void
op_start(Op *op)
{
  g_autoptr(GTask) task = g_task_new(op->agent, NULL, on_op_done_cb, op);

  op->agent->n_running++;
  g_task_set_source_tag(task, op_start);
  g_task_set_name(task, op->what);
  /* The callback owns @op; the task only borrows it. */
  g_task_set_task_data(task, op, NULL);
  g_task_run_in_thread(task, op_thread);
}

/* Starts @op, or answers the error why it cannot start. */
static void
op_submit(Op *op, GError *error)
{
  if (error == NULL && op->agent->ctx == NULL)
    error = g_error_copy(op->agent->ctx_error);
  if (error != NULL) {
    op_answer_error(op, error);
    g_error_free(error);
    op_free(op);
    return;
  }
  op_start(op);
}

/* ---- method handlers (main thread) -------------------------------------- */

static const char *const options_label_confirm[] = { "label", "confirm-final-try", NULL };
static const char *const options_import[]
    = { "label", "confirm-final-try", "allow-expired", "replace", NULL };
static const char *const options_confirm[] = { "confirm-final-try", NULL };

static gboolean
on_handle_list_tokens_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                         SignetAgent *agent)
{
  op_submit(op_new(agent, invocation, OP_LIST_TOKENS, "listing tokens", FALSE, NULL), NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static const char *const options_export[] = { "chain", NULL };

static gboolean
on_handle_export_certificate_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                                const char *token, const char *cert, GVariant *options,
                                SignetAgent *agent)
{
  Op *op
      = op_new(agent, invocation, OP_EXPORT_CERTIFICATE, "exporting a certificate", FALSE, token);
  GError *error = NULL;

  op->chain = TRUE;
  if (*cert != '\0')
    op->cert_id = g_strdup(cert);
  if (check_token_arg(token, &error))
    (void)parse_options(options, options_export, op, &error);
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_get_token_status_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                              const char *token, SignetAgent *agent)
{
  Op *op = op_new(agent, invocation, OP_GET_STATUS, "reading its status", FALSE, token);
  GError *error = NULL;

  (void)check_token_arg(token, &error);
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_generate_key_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                          const char *token, const char *key_type, GVariant *pin, GVariant *options,
                          SignetAgent *agent)
{
  Op *op = op_new(agent, invocation, OP_GENERATE_KEY, "generating a key", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(pin, "PIN", &error);
  if (op->pin != NULL && check_token_arg(token, &error)
      && parse_key_type(key_type, &op->key_type, &error))
    (void)parse_options(options, options_label_confirm, op, &error);
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_create_request_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                            const char *token, const char *subject, const char *key_type,
                            GVariant *pin, GVariant *options, SignetAgent *agent)
{
  Op *op
      = op_new(agent, invocation, OP_CREATE_REQUEST, "generating a key for a request", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(pin, "PIN", &error);
  if (op->pin != NULL && check_token_arg(token, &error)
      && parse_key_type(key_type, &op->key_type, &error)
      && parse_options(options, options_label_confirm, op, &error)) {
    /* The subject must parse before anything is generated. */
    X509_NAME *name = signet_subject_parse(subject, &error);

    if (name != NULL) {
      X509_NAME_free(name);
      op->subject = g_strdup(subject);
    }
  }
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_import_certificate_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                                const char *token, GVariant *data, GVariant *pin, GVariant *options,
                                SignetAgent *agent)
{
  Op *op = op_new(agent, invocation, OP_IMPORT_CERTIFICATE, "importing a certificate", TRUE, token);
  GError *error = NULL;
  gsize len = 0;
  const guint8 *bytes = g_variant_get_fixed_array(data, &len, 1);

  op->pin = take_secret(pin, "PIN", &error);
  if (op->pin != NULL && check_token_arg(token, &error)
      && parse_options(options, options_import, op, &error)) {
    if (len == 0)
      g_set_error(&error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                  "The certificate file is empty");
    else if (len > SIGNET_CERTFILE_MAX)
      g_set_error(&error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                  "The certificate file has %" G_GSIZE_FORMAT
                  " bytes; a certificate with its chain has a few KiB (at most %d accepted)",
                  len, SIGNET_CERTFILE_MAX);
    else
      op->data = g_bytes_new(bytes, len);
  }
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_delete_key_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                        const char *token, const char *key_id, GVariant *pin, GVariant *options,
                        SignetAgent *agent)
{
  Op *op = op_new(agent, invocation, OP_DELETE_KEY, "deleting a key", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(pin, "PIN", &error);
  if (op->pin != NULL && check_token_arg(token, &error)
      && parse_options(options, options_confirm, op, &error))
    op->key_id = parse_key_id(key_id, &error);
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_change_pin_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                        const char *token, GVariant *old_pin, GVariant *new_pin, GVariant *options,
                        SignetAgent *agent)
{
  Op *op = op_new(agent, invocation, OP_CHANGE_PIN, "changing the PIN", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(old_pin, "current PIN", &error);
  op->new_pin = take_secret(new_pin, "new PIN", error != NULL ? NULL : &error);
  if (op->pin != NULL && op->new_pin != NULL && check_token_arg(token, &error))
    (void)parse_options(options, options_confirm, op, &error);
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_unblock_pin_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                         const char *token, GVariant *puk, GVariant *new_pin, GVariant *options,
                         SignetAgent *agent)
{
  Op *op = op_new(agent, invocation, OP_UNBLOCK_PIN, "unblocking the PIN", TRUE, token);
  GError *error = NULL;

  op->puk = take_secret(puk, "PUK", &error);
  op->new_pin = take_secret(new_pin, "new PIN", error != NULL ? NULL : &error);
  if (op->puk != NULL && op->new_pin != NULL && check_token_arg(token, &error))
    (void)parse_options(options, options_confirm, op, &error);
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static const char *const options_activate[] = { "request-id", "label", "confirm-final-try", NULL };

/* The profile dictionary of ListProfiles and GetProfile (docs/dbus-api.md). */
static GVariant *
profile_dict(const SignetProfile *p)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "name", g_variant_new_string(p->name));
  g_variant_builder_add(&b, "{sv}", "display_name", g_variant_new_string(p->display_name));
  g_variant_builder_add(&b, "{sv}", "file", g_variant_new_string(p->file ? p->file : ""));
  g_variant_builder_add(&b, "{sv}", "protocol",
                        g_variant_new_string(signet_protocol_to_string(p->protocol)));
  g_variant_builder_add(&b, "{sv}", "url", g_variant_new_string(p->url));
  g_variant_builder_add(&b, "{sv}", "trust_anchors",
                        g_variant_new_string(p->trust_anchors ? p->trust_anchors : ""));
  g_variant_builder_add(&b, "{sv}", "key_type", g_variant_new_string(p->key_type));
  g_variant_builder_add(&b, "{sv}", "subject", g_variant_new_string(p->subject ? p->subject : ""));
  g_variant_builder_add(&b, "{sv}", "subject_from_ca", g_variant_new_boolean(p->subject_from_ca));
  g_variant_builder_add(&b, "{sv}", "renewal_key",
                        g_variant_new_string(signet_renewal_key_to_string(p->renewal_key)));
  g_variant_builder_add(&b, "{sv}", "key_label", g_variant_new_string(p->key_label));
  g_variant_builder_add(&b, "{sv}", "certificate_label",
                        g_variant_new_string(p->certificate_label));
  g_variant_builder_add(&b, "{sv}", "chain_label", g_variant_new_string(p->chain_label));
  g_variant_builder_add(&b, "{sv}", "username", g_variant_new_string(p->username));
  g_variant_builder_add(&b, "{sv}", "reference_prompt", g_variant_new_string(p->reference_prompt));
  g_variant_builder_add(&b, "{sv}", "code_prompt", g_variant_new_string(p->code_prompt));
  g_variant_builder_add(&b, "{sv}", "connect_timeout", g_variant_new_uint32(p->connect_timeout));
  g_variant_builder_add(&b, "{sv}", "timeout", g_variant_new_uint32(p->timeout));
  return g_variant_builder_end(&b);
}

static gboolean
on_handle_list_profiles_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                           SignetAgent *agent)
{
  g_autoptr(SignetProfileSet) set = signet_profiles_load(NULL);
  GVariantBuilder profiles, problems;

  g_variant_builder_init(&profiles, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; i < set->profiles->len; i++)
    g_variant_builder_add_value(&profiles, profile_dict(g_ptr_array_index(set->profiles, i)));
  g_variant_builder_init(&problems, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; i < set->problems->len; i++) {
    const SignetProfileProblem *p = g_ptr_array_index(set->problems, i);
    GVariantBuilder e;

    g_variant_builder_init(&e, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&e, "{sv}", "file", g_variant_new_string(p->file));
    g_variant_builder_add(&e, "{sv}", "line", g_variant_new_uint32(p->line));
    g_variant_builder_add(&e, "{sv}", "message", g_variant_new_string(p->message));
    g_variant_builder_add_value(&problems, g_variant_builder_end(&e));
  }
  signet_agent1_complete_list_profiles(skeleton, invocation, g_variant_builder_end(&profiles),
                                       g_variant_builder_end(&problems));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The profile @name of @set, or an error that says what to do. */
static const SignetProfile *
lookup_profile(SignetProfileSet *set, const char *name, GError **error)
{
  const SignetProfile *profile = signet_profile_set_lookup(set, name);
  g_autoptr(GString) why = NULL;
  g_autofree char *suffix = g_strdup_printf("/%s.conf", name);

  if (profile != NULL)
    return profile;
  why = g_string_new(NULL);
  for (guint i = 0; i < set->problems->len; i++) {
    const SignetProfileProblem *p = g_ptr_array_index(set->problems, i);
    if (g_str_has_suffix(p->file, suffix)) {
      if (p->line > 0)
        g_string_append_printf(why, " %s:%u: %s.", p->file, p->line, p->message);
      else
        g_string_append_printf(why, " %s: %s.", p->file, p->message);
    }
  }
  if (why->len > 0)
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "The CA profile '%s' is broken:%s", name, why->str);
  else
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "There is no CA profile named '%s'. 'signet profile list' shows the profiles "
                "installed; your CA's profile goes in %s/signet/profiles.d/",
                name, g_get_user_config_dir());
  return NULL;
}

static gboolean
on_handle_get_profile_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                         const char *name, SignetAgent *agent)
{
  g_autoptr(SignetProfileSet) set = signet_profiles_load(NULL);
  g_autoptr(GError) error = NULL;
  const SignetProfile *profile = lookup_profile(set, name, &error);

  if (profile == NULL)
    signet_errors_return(invocation, error);
  else
    signet_agent1_complete_get_profile(skeleton, invocation, profile_dict(profile));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_activate_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation, const char *token,
                      const char *profile, const char *reference, GVariant *code, GVariant *pin,
                      GVariant *options, SignetAgent *agent)
{
  Op *op = op_new(agent, invocation, OP_ACTIVATE, "activating it", TRUE, token);
  GError *error = NULL;

  op->code = take_secret(code, "activation code", &error);
  op->pin = take_secret(pin, "PIN", error != NULL ? NULL : &error);
  if (op->code != NULL && op->pin != NULL && check_token_arg(token, &error)
      && parse_options(options, options_activate, op, &error)) {
    op->profiles = signet_profiles_load(NULL);
    op->profile = lookup_profile(op->profiles, profile, &error);
    op->reference = g_strdup(reference);
  }
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static const char *const options_renew[]
    = { "request-id", "cert", "profile", "confirm-final-try", NULL };

static gboolean
on_handle_renew_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation, const char *token,
                   GVariant *pin, GVariant *options, SignetAgent *agent)
{
  Op *op = op_new(agent, invocation, OP_RENEW, "renewing a certificate", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(pin, "PIN", &error);
  if (op->pin != NULL && check_token_arg(token, &error)
      && parse_options(options, options_renew, op, &error)) {
    op->profiles = signet_profiles_load(NULL);
    if (op->profile_name != NULL)
      (void)lookup_profile(op->profiles, op->profile_name, &error);
  }
  op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_get_history_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                         const char *token, GVariant *options, SignetAgent *agent)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri_serial = NULL;
  g_autofree char *uri_label = NULL;
  guint limit = 0, n = 0;
  GVariantBuilder b;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init(&iter, options);
  while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
    if (!g_str_equal(key, "limit") || !g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32)) {
      g_autoptr(GError) bad = g_error_new(SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                                          "Unknown option '%s' (GetHistory takes limit, u)", key);
      signet_errors_return(invocation, bad);
      g_variant_unref(value);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
    limit = g_variant_get_uint32(value);
  }
  if (agent->state == NULL) {
    signet_errors_return(invocation, agent->state_error);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  /* A PKCS#11 URI (as signet list prints it) names the token by the
   * serial and label it gives; the token need not be present. */
  if (g_str_has_prefix(token, "pkcs11:")
      && !signet_p11_uri_token_names(token, &uri_serial, &uri_label, &error)) {
    signet_errors_return(invocation, error);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  entries = signet_state_audit_list(agent->state, NULL, 0, &error);
  if (entries == NULL) {
    signet_errors_return(invocation, error);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; i < entries->len && (limit == 0 || n < limit); i++) {
    const SignetAuditEntry *e = g_ptr_array_index(entries, i);
    GVariantBuilder d;

    /* A token is named by its serial, its label or a URI, as everywhere. */
    if (g_str_has_prefix(token, "pkcs11:")) {
      if ((uri_serial != NULL && g_strcmp0(uri_serial, e->token_serial) != 0)
          || (uri_label != NULL && g_strcmp0(uri_label, e->token_label) != 0))
        continue;
    } else if (*token != '\0' && g_strcmp0(token, e->token_serial) != 0
               && g_strcmp0(token, e->token_label) != 0)
      continue;
    g_variant_builder_init(&d, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&d, "{sv}", "time", g_variant_new_int64(e->time));
    g_variant_builder_add(&d, "{sv}", "token_serial",
                          g_variant_new_string(e->token_serial ? e->token_serial : ""));
    g_variant_builder_add(&d, "{sv}", "token_label",
                          g_variant_new_string(e->token_label ? e->token_label : ""));
    g_variant_builder_add(&d, "{sv}", "operation", g_variant_new_string(e->operation));
    g_variant_builder_add(&d, "{sv}", "outcome", g_variant_new_string(e->outcome));
    g_variant_builder_add(&d, "{sv}", "detail", g_variant_new_string(e->detail ? e->detail : ""));
    g_variant_builder_add_value(&b, g_variant_builder_end(&d));
    n++;
  }
  signet_agent1_complete_get_history(skeleton, invocation, g_variant_builder_end(&b));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

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

    if (op->kind != SIGNET_OP_RENEW || op->state != SIGNET_OP_PENDING || op->retry_at > now)
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
  g_task_run_in_thread(task, background_thread);
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
static void
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

/* ---- the object --------------------------------------------------------- */

static void
signet_agent_finalize(GObject *object)
{
  SignetAgent *agent = SIGNET_AGENT(object);

  signet_agent_unexport(agent);
  g_clear_object(&agent->skeleton);
  g_clear_pointer(&agent->busy, g_hash_table_unref);
  g_free(agent->state_dir);
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
  agent->reminder_days = g_array_new(FALSE, FALSE, sizeof(guint));
  {
    static const guint defaults[] = { 45, 15 };
    g_array_append_vals(agent->reminder_days, defaults, G_N_ELEMENTS(defaults));
  }
  agent->state_dir = signet_activation_dir();
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
  agent->skeleton = signet_agent1_skeleton_new();
  signet_agent1_set_version(agent->skeleton, PACKAGE_VERSION);
  /* Answers come from workers' completions, in the main context. */
  g_dbus_interface_skeleton_set_flags(G_DBUS_INTERFACE_SKELETON(agent->skeleton),
                                      G_DBUS_INTERFACE_SKELETON_FLAGS_NONE);
  /* First of the g-authorize-method handlers: a refused call goes no further. */
  signet_caller_guard(G_DBUS_INTERFACE_SKELETON(agent->skeleton));
  g_signal_connect(agent->skeleton, "handle-list-tokens", G_CALLBACK(on_handle_list_tokens_cb),
                   agent);
  g_signal_connect(agent->skeleton, "handle-get-token-status",
                   G_CALLBACK(on_handle_get_token_status_cb), agent);
  g_signal_connect(agent->skeleton, "handle-generate-key", G_CALLBACK(on_handle_generate_key_cb),
                   agent);
  g_signal_connect(agent->skeleton, "handle-create-request",
                   G_CALLBACK(on_handle_create_request_cb), agent);
  g_signal_connect(agent->skeleton, "handle-import-certificate",
                   G_CALLBACK(on_handle_import_certificate_cb), agent);
  g_signal_connect(agent->skeleton, "handle-delete-key", G_CALLBACK(on_handle_delete_key_cb),
                   agent);
  g_signal_connect(agent->skeleton, "handle-change-pin", G_CALLBACK(on_handle_change_pin_cb),
                   agent);
  g_signal_connect(agent->skeleton, "handle-unblock-pin", G_CALLBACK(on_handle_unblock_pin_cb),
                   agent);
  g_signal_connect(agent->skeleton, "handle-list-profiles", G_CALLBACK(on_handle_list_profiles_cb),
                   agent);
  g_signal_connect(agent->skeleton, "handle-get-profile", G_CALLBACK(on_handle_get_profile_cb),
                   agent);
  g_signal_connect(agent->skeleton, "handle-activate", G_CALLBACK(on_handle_activate_cb), agent);
  g_signal_connect(agent->skeleton, "handle-renew", G_CALLBACK(on_handle_renew_cb), agent);
  g_signal_connect(agent->skeleton, "handle-export-certificate",
                   G_CALLBACK(on_handle_export_certificate_cb), agent);
  g_signal_connect(agent->skeleton, "handle-get-history", G_CALLBACK(on_handle_get_history_cb),
                   agent);
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
