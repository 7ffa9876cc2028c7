/* signet-agent-dbus.c: the agent's D-Bus face: each io.signet.Agent1
 * method's handler checks its arguments on the main thread (secrets into
 * SignetSecret buffers, options against the method's list, token and key
 * arguments) and hands an Op to signet_op_submit(); ListProfiles,
 * GetProfile and GetHistory answer here. See signet-agent.c for the
 * pipeline.
 */
/* memfd_create() and the seals of GetHistoryFd. */
#define _GNU_SOURCE
#include "config.h"

#include "agent/signet-agent.h"
#include "agent/signet-agent-private.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <p11-kit/uri.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/signet-activate.h"
#include "agent/signet-card.h"
#include "agent/signet-caller.h"
#include "agent/signet-reminders.h"
#include "agent/signet-renew.h"
#include "agent/signet-state.h"
#include "libsignet/signet-dbus-generated.h"
#include "agent/signet-errors.h"
#include "agent/signet-token-dict.h"
#include "common/signet-secret.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-profile.h"
#include "enroll/signet-x509.h"

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
    } else if (g_str_equal(key, "anchor")) {
      gsize len = 0;

      if (!g_variant_is_of_type(value, G_VARIANT_TYPE_BYTESTRING)) {
        g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                    "Option 'anchor' must be a byte array: the content of a file of root "
                    "certificates");
        g_variant_unref(value);
        return FALSE;
      }
      (void)g_variant_get_fixed_array(value, &len, 1);
      if (len == 0 || len > SIGNET_CERTFILE_MAX) {
        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                    "The anchor file has %" G_GSIZE_FORMAT
                    " bytes: not a certificate file (PEM, DER or PKCS#7 of at most %d bytes); "
                    "give the root certificate of the CA that issued your certificate",
                    len, SIGNET_CERTFILE_MAX);
        g_variant_unref(value);
        return FALSE;
      }
      g_clear_pointer(&op->anchor, g_bytes_unref);
      op->anchor = g_variant_get_data_as_bytes(value);
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

/* ---- method handlers (main thread) -------------------------------------- */

static const char *const options_label_confirm[] = { "label", "confirm-final-try", NULL };
static const char *const options_import[]
    = { "label", "confirm-final-try", "allow-expired", "replace", "anchor", NULL };
static const char *const options_confirm[] = { "confirm-final-try", NULL };

static gboolean
on_handle_list_tokens_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                         SignetAgent *agent)
{
  signet_op_submit(signet_op_new(agent, invocation, OP_LIST_TOKENS, "listing tokens", FALSE, NULL),
                   NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static const char *const options_export[] = { "chain", NULL };

static gboolean
on_handle_export_certificate_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                                const char *token, const char *cert, GVariant *options,
                                SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_EXPORT_CERTIFICATE, "exporting a certificate", FALSE,
                         token);
  GError *error = NULL;

  op->chain = TRUE;
  if (*cert != '\0')
    op->cert_id = g_strdup(cert);
  if (check_token_arg(token, &error))
    (void)parse_options(options, options_export, op, &error);
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_get_token_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation, const char *token,
                       SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_GET_TOKEN, "reading it", FALSE, token);
  GError *error = NULL;

  (void)check_token_arg(token, &error);
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_get_token_status_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                              const char *token, SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_GET_STATUS, "reading its status", FALSE, token);
  GError *error = NULL;

  (void)check_token_arg(token, &error);
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_generate_key_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                          const char *token, const char *key_type, GVariant *pin, GVariant *options,
                          SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_GENERATE_KEY, "generating a key", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(pin, "PIN", &error);
  if (op->pin != NULL && check_token_arg(token, &error)
      && parse_key_type(key_type, &op->key_type, &error))
    (void)parse_options(options, options_label_confirm, op, &error);
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_create_request_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                            const char *token, const char *subject, const char *key_type,
                            GVariant *pin, GVariant *options, SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_CREATE_REQUEST, "generating a key for a request",
                         TRUE, token);
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
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_import_certificate_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                                const char *token, GVariant *data, GVariant *pin, GVariant *options,
                                SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_IMPORT_CERTIFICATE, "importing a certificate", TRUE,
                         token);
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
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_delete_key_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                        const char *token, const char *key_id, GVariant *pin, GVariant *options,
                        SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_DELETE_KEY, "deleting a key", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(pin, "PIN", &error);
  if (op->pin != NULL && check_token_arg(token, &error)
      && parse_options(options, options_confirm, op, &error))
    op->key_id = parse_key_id(key_id, &error);
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_change_pin_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                        const char *token, GVariant *old_pin, GVariant *new_pin, GVariant *options,
                        SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_CHANGE_PIN, "changing the PIN", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(old_pin, "current PIN", &error);
  op->new_pin = take_secret(new_pin, "new PIN", error != NULL ? NULL : &error);
  if (op->pin != NULL && op->new_pin != NULL && check_token_arg(token, &error))
    (void)parse_options(options, options_confirm, op, &error);
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_unblock_pin_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                         const char *token, GVariant *puk, GVariant *new_pin, GVariant *options,
                         SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_UNBLOCK_PIN, "unblocking the PIN", TRUE, token);
  GError *error = NULL;

  op->puk = take_secret(puk, "PUK", &error);
  op->new_pin = take_secret(new_pin, "new PIN", error != NULL ? NULL : &error);
  if (op->puk != NULL && op->new_pin != NULL && check_token_arg(token, &error))
    (void)parse_options(options, options_confirm, op, &error);
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static const char *const options_activate[] = { "request-id", "label", "confirm-final-try", NULL };

/* The profile dictionary of ListProfiles and GetProfile (docs/dbus-api.md). */
static gint
compare_keys(gconstpointer a, gconstpointer b, gpointer data)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The protocol group's settings as a{ss}, sorted by key. */
static GVariant *
settings_dict(GHashTable *settings)
{
  GVariantBuilder b;
  g_autofree gpointer *keys = NULL;
  guint n = 0;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a{ss}"));
  if (settings != NULL)
    keys = g_hash_table_get_keys_as_array(settings, &n);
  if (keys != NULL)
    g_qsort_with_data(keys, (gint)n, sizeof(gpointer), compare_keys, NULL);
  for (guint i = 0; i < n; i++)
    g_variant_builder_add(&b, "{ss}", (const char *)keys[i],
                          (const char *)g_hash_table_lookup(settings, keys[i]));
  return g_variant_builder_end(&b);
}

static GVariant *
profile_dict(const SignetProfile *p)
{
  GVariantBuilder b;
  /* EST's user name, for clients of before [est] (docs/dbus-api.md). */
  const char *username = p->settings != NULL ? g_hash_table_lookup(p->settings, "username") : NULL;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "name", g_variant_new_string(p->name));
  g_variant_builder_add(&b, "{sv}", "display_name", g_variant_new_string(p->display_name));
  g_variant_builder_add(&b, "{sv}", "file", g_variant_new_string(p->file ? p->file : ""));
  g_variant_builder_add(&b, "{sv}", "protocol", g_variant_new_string(p->protocol));
  g_variant_builder_add(&b, "{sv}", "url", g_variant_new_string(p->url));
  g_variant_builder_add(&b, "{sv}", "trust_anchors",
                        g_variant_new_string(p->trust_anchors ? p->trust_anchors : ""));
  g_variant_builder_add(&b, "{sv}", "ca_roots",
                        g_variant_new_string(p->ca_roots ? p->ca_roots : ""));
  g_variant_builder_add(&b, "{sv}", "key_type", g_variant_new_string(p->key_type));
  g_variant_builder_add(&b, "{sv}", "subject", g_variant_new_string(p->subject ? p->subject : ""));
  g_variant_builder_add(&b, "{sv}", "subject_from_ca", g_variant_new_boolean(p->subject_from_ca));
  g_variant_builder_add(&b, "{sv}", "renewal_key",
                        g_variant_new_string(signet_renewal_key_to_string(p->renewal_key)));
  g_variant_builder_add(&b, "{sv}", "key_label", g_variant_new_string(p->key_label));
  g_variant_builder_add(&b, "{sv}", "certificate_label",
                        g_variant_new_string(p->certificate_label));
  g_variant_builder_add(&b, "{sv}", "chain_label", g_variant_new_string(p->chain_label));
  g_variant_builder_add(&b, "{sv}", "username", g_variant_new_string(username ? username : ""));
  g_variant_builder_add(&b, "{sv}", "settings", settings_dict(p->settings));
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
  Op *op = signet_op_new(agent, invocation, OP_ACTIVATE, "activating it", TRUE, token);
  GError *error = NULL;

  op->code = take_secret(code, "activation code", &error);
  op->pin = take_secret(pin, "PIN", error != NULL ? NULL : &error);
  if (op->code != NULL && op->pin != NULL && check_token_arg(token, &error)
      && parse_options(options, options_activate, op, &error)) {
    op->profiles = signet_profiles_load(NULL);
    op->profile = lookup_profile(op->profiles, profile, &error);
    op->reference = g_strdup(reference);
  }
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static const char *const options_renew[]
    = { "request-id", "cert", "profile", "confirm-final-try", NULL };

static gboolean
on_handle_renew_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation, const char *token,
                   GVariant *pin, GVariant *options, SignetAgent *agent)
{
  Op *op = signet_op_new(agent, invocation, OP_RENEW, "renewing a certificate", TRUE, token);
  GError *error = NULL;

  op->pin = take_secret(pin, "PIN", &error);
  if (op->pin != NULL && check_token_arg(token, &error)
      && parse_options(options, options_renew, op, &error)) {
    op->profiles = signet_profiles_load(NULL);
    if (op->profile_name != NULL)
      (void)lookup_profile(op->profiles, op->profile_name, &error);
  }
  signet_op_submit(op, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The entries GetHistory's and GetHistoryFd's token and options name;
 * NULL with the error already returned to the caller. */
static GPtrArray *
history_entries(GDBusMethodInvocation *invocation, SignetAgent *agent, const char *token,
                GVariant *options)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *uri_serial = NULL;
  g_autofree char *uri_label = NULL;
  SignetAuditQuery query = { 0 };
  GPtrArray *entries;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init(&iter, options);
  while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
    if (g_str_equal(key, "limit") && g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32))
      query.limit = g_variant_get_uint32(value);
    else if (g_str_equal(key, "before") && g_variant_is_of_type(value, G_VARIANT_TYPE_INT64))
      query.before = g_variant_get_int64(value);
    else {
      g_autoptr(GError) bad
          = g_error_new(SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                        "Unknown option '%s' (GetHistory takes limit, u, and before, x)", key);
      signet_errors_return(invocation, bad);
      g_variant_unref(value);
      return NULL;
    }
  }
  if (agent->state == NULL) {
    signet_errors_return(invocation, agent->state_error);
    return NULL;
  }
  /* A token is named by its serial, its label or a URI (as signet list
   * prints it: the serial and label it gives), as everywhere; the token
   * need not be present. */
  if (g_str_has_prefix(token, "pkcs11:")) {
    if (!signet_p11_uri_token_names(token, &uri_serial, &uri_label, &error)) {
      signet_errors_return(invocation, error);
      return NULL;
    }
    query.serial = uri_serial;
    query.label = uri_label;
  } else if (*token != '\0')
    query.token = token;
  entries = signet_state_audit_list(agent->state, &query, &error);
  if (entries == NULL)
    signet_errors_return(invocation, error);
  return entries;
}

static gboolean
on_handle_get_history_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                         const char *token, GVariant *options, SignetAgent *agent)
{
  g_autoptr(GPtrArray) entries = NULL;
  GVariantBuilder b;

  entries = history_entries(invocation, agent, token, options);
  if (entries == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; i < entries->len; i++) {
    const SignetAuditEntry *e = g_ptr_array_index(entries, i);
    GVariantBuilder d;

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
  }
  signet_agent1_complete_get_history(skeleton, invocation, g_variant_builder_end(&b));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* A sealed memfd holding @text (@len bytes), at offset 0; -1 with @error. */
static int
sealed_memfd(const char *name, const char *text, gsize len, GError **error)
{
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  gsize done = 0;

  if (fd < 0)
    goto fail;
  while (done < len) {
    ssize_t n = write(fd, text + done, len - done);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      goto fail;
    done += (gsize)n;
  }
  if (lseek(fd, 0, SEEK_SET) != 0
      || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    goto fail;
  return fd;

fail : {
  int saved = errno;

  g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
              "Could not hand the history over (memfd): %s", g_strerror(saved));
  if (fd >= 0)
    close(fd);
  return -1;
}
}

static gboolean
on_handle_get_history_fd_cb(SignetAgent1 *skeleton, GDBusMethodInvocation *invocation,
                            GUnixFDList *in_fds, const char *token, GVariant *options,
                            SignetAgent *agent)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int fd;

  (void)in_fds;
  entries = history_entries(invocation, agent, token, options);
  if (entries == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  out = g_string_sized_new(96 * entries->len + 1);
  for (guint i = 0; i < entries->len; i++) {
    const SignetAuditEntry *e = g_ptr_array_index(entries, i);
    const char *fields[] = { e->token_serial, e->token_label, e->operation, e->outcome, e->detail };

    g_string_append_printf(out, "%" G_GINT64_FORMAT, e->time);
    g_string_append_c(out, '\0');
    for (gsize f = 0; f < G_N_ELEMENTS(fields); f++) {
      g_string_append(out, fields[f] != NULL ? fields[f] : "");
      g_string_append_c(out, '\0');
    }
  }
  fd = sealed_memfd("signet-history", out->str, out->len, &error);
  if (fd < 0) {
    signet_errors_return(invocation, error);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  fds = g_unix_fd_list_new_from_array(&fd, 1); /* takes the descriptor */
  signet_agent1_complete_get_history_fd(skeleton, invocation, fds, g_variant_new_handle(0),
                                        entries->len);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Connects every method handler of @agent's skeleton. */
void
signet_agent_dbus_connect(SignetAgent *agent)
{
  g_signal_connect(agent->skeleton, "handle-list-tokens", G_CALLBACK(on_handle_list_tokens_cb),
                   agent);
  g_signal_connect(agent->skeleton, "handle-get-token-status",
                   G_CALLBACK(on_handle_get_token_status_cb), agent);
  g_signal_connect(agent->skeleton, "handle-get-token", G_CALLBACK(on_handle_get_token_cb), agent);
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
  g_signal_connect(agent->skeleton, "handle-get-history-fd",
                   G_CALLBACK(on_handle_get_history_fd_cb), agent);
}
