/* signet-client.c: see signet-client.h. */
#include "config.h"

#include <time.h>

#include "libsignet/signet-client.h"

#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <string.h>

G_DEFINE_QUARK(signet - client - error - quark, signet_client_error)

#define PREFIX "io.signet.Error."

SignetClientSecret
signet_client_op_secret(SignetClientOp op)
{
  return op == SIGNET_CLIENT_OP_UNBLOCK_PIN ? SIGNET_CLIENT_SECRET_PUK : SIGNET_CLIENT_SECRET_PIN;
}

gboolean
signet_client_op_sets_new_pin(SignetClientOp op)
{
  return op == SIGNET_CLIENT_OP_CHANGE_PIN || op == SIGNET_CLIENT_OP_UNBLOCK_PIN;
}

gboolean
signet_client_state_flag(GVariant *status, const char *which, const char *flag)
{
  g_autoptr(GVariant) state = NULL;
  gboolean value = FALSE;

  if (status == NULL)
    return FALSE;
  state = g_variant_lookup_value(status, which, G_VARIANT_TYPE_VARDICT);
  if (state != NULL)
    (void)g_variant_lookup(state, flag, "b", &value);
  return value;
}

SignetClientAsk
signet_client_before_secret(GVariant *status, SignetClientOp op, const char *label, GError **error)
{
  const char *method = NULL;

  if (op == SIGNET_CLIENT_OP_UNBLOCK_PIN) {
    if (signet_client_state_flag(status, "puk", "locked")) {
      g_set_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_PUK_LOCKED,
                  _("The PUK of token '%s' is locked: the PIN cannot be unblocked any more. Ask "
                    "the token's issuer for a new token"),
                  label);
      return SIGNET_CLIENT_REFUSE;
    }
    if (g_variant_lookup(status, "unblock_method", "&s", &method)
        && g_str_equal(method, "unknown")) {
      g_set_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_NOT_SUPPORTED,
                  _("Signet does not know how this token's module unblocks a PIN, and will not "
                    "guess (a wrong guess costs a PUK try). Set unblock-method in signet.conf"));
      return SIGNET_CLIENT_REFUSE;
    }
    return signet_client_state_flag(status, "puk", "final_try") ? SIGNET_CLIENT_ASK_FINAL_TRY
                                                                : SIGNET_CLIENT_ASK;
  }
  if (signet_client_state_flag(status, "pin", "locked")) {
    g_set_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_PIN_LOCKED,
                _("The PIN of token '%s' is locked. Unblock it with the PUK"), label);
    return SIGNET_CLIENT_REFUSE;
  }
  if (signet_client_state_flag(status, "pin", "final_try"))
    return SIGNET_CLIENT_ASK_FINAL_TRY;
  /* A PIN change always asks for both PINs, pad or not. */
  if (op != SIGNET_CLIENT_OP_CHANGE_PIN && signet_client_state_flag(status, "pin", "pin_pad"))
    return SIGNET_CLIENT_ASK_PIN_PAD;
  return SIGNET_CLIENT_ASK;
}

gboolean
signet_client_dict_bool(GVariant *dict, const char *key)
{
  gboolean b = FALSE;

  if (dict != NULL)
    (void)g_variant_lookup(dict, key, "b", &b);
  return b;
}

char *
signet_client_describe_secret_state(GVariant *state, gboolean is_puk)
{
  GString *s;

  /* TRANSLATORS: the state of a PIN or a PUK, as in "PIN: unknown". */
  if (state == NULL)
    return g_strdup(_("unknown"));
  if (signet_client_dict_bool(state, "locked"))
    /* TRANSLATORS: the state of a PIN or a PUK. */
    s = g_string_new(_("locked"));
  else if (signet_client_dict_bool(state, "final_try"))
    s = g_string_new(is_puk ? _("one try left: a wrong PUK locks it")
                            : _("one try left: a wrong PIN locks it"));
  else if (signet_client_dict_bool(state, "count_low"))
    s = g_string_new(_("fewer tries left than the maximum"));
  else
    s = g_string_new(_("no warning from the token"));
  if (!is_puk && signet_client_dict_bool(state, "to_be_changed"))
    /* TRANSLATORS: added to a PIN's state, as in "locked, must be changed". */
    g_string_append(s, _(", must be changed"));
  if (!is_puk && signet_client_dict_bool(state, "pin_pad"))
    /* TRANSLATORS: added to a PIN's state. */
    g_string_append(s, _(", entered on the reader's PIN pad"));
  return g_string_free(s, FALSE);
}

/* The n ngettext() takes: a count of days fits; more than it can hold is
 * many. */
static unsigned long
plural_n(gint64 n)
{
  if (n < 0)
    n = -n;
  return n > 1000000 ? 1000000 : (unsigned long)n;
}

char *
signet_client_format_not_after(GVariant *dict)
{
  const char *not_after = "";
  gint64 days_left = 0;

  if (dict == NULL)
    return g_strdup("");
  (void)g_variant_lookup(dict, "not_after", "&s", &not_after);
  if (!g_variant_lookup(dict, "days_left", "x", &days_left))
    return g_strdup(not_after);
  /* TRANSLATORS: the first %s is a date and time (UTC). */
  if (signet_client_dict_bool(dict, "expired") || days_left < 0)
    return g_strdup_printf(ngettext("%s (expired %" PRId64 " day ago)",
                                    "%s (expired %" PRId64 " days ago)", plural_n(-days_left)),
                           not_after, (int64_t)-days_left);
  /* TRANSLATORS: the first %s is a date and time (UTC). */
  return g_strdup_printf(
      ngettext("%s (%" PRId64 " day left)", "%s (%" PRId64 " days left)", plural_n(days_left)),
      not_after, (int64_t)days_left);
}

static const char *
dict_str(GVariant *dict, const char *key)
{
  const char *value = "";

  (void)g_variant_lookup(dict, key, "&s", &value);
  return value;
}

char *
signet_client_describe_import_chain(GVariant *result, const char *anchor_source)
{
  g_return_val_if_fail(result != NULL, NULL);

  if (!signet_client_dict_bool(result, "chain_verified"))
    /* TRANSLATORS: %s is why, and what to do, in English from the agent. */
    return g_strdup_printf(_("The chain was NOT verified: %s."), dict_str(result, "chain_error"));
  if (g_str_equal(dict_str(result, "chain_anchor"), "anchor"))
    /* TRANSLATORS: the first %s names a root certificate: "CN=… (SHA-256
       3F:A2:…)"; the second the file it came from: "the --anchor file",
       "the root file you chose". */
    return g_strdup_printf(_("The chain verifies to %s, a root from %s."),
                           dict_str(result, "chain_root"), anchor_source);
  /* TRANSLATORS: %s names a root certificate: "CN=… (SHA-256 3F:A2:…)". */
  return g_strdup_printf(_("The chain verifies to %s, a root the system trusts."),
                         dict_str(result, "chain_root"));
}

char *
signet_client_format_time(GVariant *value)
{
  g_autoptr(GDateTime) utc = NULL;
  gint64 t;

  if (value == NULL)
    return g_strdup("");
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT64)) {
    t = g_variant_get_int64(value);
    if (t == 0)
      return g_strdup("");
  } else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
    const char *text = g_variant_get_string(value, NULL);

    if (*text == '\0')
      return g_strdup("");
    utc = g_date_time_new_from_iso8601(text, NULL);
    if (utc == NULL)
      return g_strdup(text);
    t = g_date_time_to_unix(utc);
  } else
    return g_strdup("");
  return signet_client_format_unix_time(t);
}

char *
signet_client_format_unix_time(gint64 t)
{
  /* localtime_r() reads the zone once per process (tzset), not once per
   * time printed: a history has thousands. */
  time_t tt = (time_t)t;
  struct tm tm;
  char text[32];

  if (t == 0 || localtime_r(&tt, &tm) == NULL
      || strftime(text, sizeof text, "%Y-%m-%d %H:%M", &tm) == 0)
    return g_strdup("");
  return g_strdup(text);
}

GBytes *
signet_client_read_certfile(GFile *file, GCancellable *cancellable, GError **error)
{
  g_autoptr(GFileInputStream) in = NULL;
  g_autofree guint8 *buf = NULL;
  g_autofree char *name = NULL;
  gsize len = 0;

  g_return_val_if_fail(G_IS_FILE(file), NULL);

  in = g_file_read(file, cancellable, error);
  if (in == NULL)
    return NULL;
  buf = g_malloc(SIGNET_CLIENT_CERTFILE_MAX + 1);
  if (!g_input_stream_read_all(G_INPUT_STREAM(in), buf, SIGNET_CLIENT_CERTFILE_MAX + 1, &len,
                               cancellable, error))
    return NULL;
  name = g_file_get_parse_name(file);
  if (len > SIGNET_CLIENT_CERTFILE_MAX) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                _("%s is larger than 1 MiB: not a certificate file (PEM, DER or PKCS#7)"), name);
    return NULL;
  }
  if (len == 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                _("%s is empty: not a certificate file (PEM, DER or PKCS#7)"), name);
    return NULL;
  }
  return g_bytes_new_take(g_realloc(g_steal_pointer(&buf), len), len);
}

static void
read_certfile_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GError *error = NULL;
  GBytes *bytes = signet_client_read_certfile(G_FILE(source), cancellable, &error);

  (void)data;
  if (bytes == NULL)
    g_task_return_error(task, error);
  else
    g_task_return_pointer(task, bytes, (GDestroyNotify)g_bytes_unref);
}

void
signet_client_read_certfile_async(GFile *file, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new(file, cancellable, callback, user_data);

  g_task_set_source_tag(task, signet_client_read_certfile_async);
  g_task_run_in_thread(task, read_certfile_thread);
}

GBytes *
signet_client_read_certfile_finish(GAsyncResult *result, GError **error)
{
  g_return_val_if_fail(G_IS_TASK(result), NULL);
  g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == signet_client_read_certfile_async,
                       NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}

char *
signet_client_certificates_to_pem(GVariant *certificates)
{
  g_autoptr(GString) pem = g_string_new(NULL);
  GVariantIter iter;
  GVariant *der;

  g_variant_iter_init(&iter, certificates);
  while ((der = g_variant_iter_next_value(&iter)) != NULL) {
    gsize len = 0;
    const guint8 *data = g_variant_get_fixed_array(der, &len, sizeof(guint8));
    g_autofree char *b64 = len > 0 ? g_base64_encode(data, len) : NULL;
    gsize n = b64 != NULL ? strlen(b64) : 0;

    g_variant_unref(der);
    if (n == 0)
      return NULL;
    g_string_append(pem, "-----BEGIN CERTIFICATE-----\n");
    for (gsize i = 0; i < n; i += 64) {
      g_string_append_len(pem, b64 + i, (gssize)MIN(64, n - i));
      g_string_append_c(pem, '\n');
    }
    g_string_append(pem, "-----END CERTIFICATE-----\n");
  }
  return g_string_free(g_steal_pointer(&pem), FALSE);
}

/* --- errors ------------------------------------------------------------------ */

static const struct
{
  const char *name; /* after PREFIX */
  SignetClientErrorKind kind;
} error_names[] = {
  /* The first entry of a kind is its name (signet_client_error_name). */
  { "Failed", SIGNET_CLIENT_ERROR_FAILED },
  { "InvalidArgs", SIGNET_CLIENT_ERROR_INVALID_ARGS },
  { "BadUri", SIGNET_CLIENT_ERROR_INVALID_ARGS },
  { "BadInput", SIGNET_CLIENT_ERROR_BAD_INPUT },
  { "PinIncorrect", SIGNET_CLIENT_ERROR_PIN_INCORRECT },
  { "PukIncorrect", SIGNET_CLIENT_ERROR_PUK_INCORRECT },
  { "PinLocked", SIGNET_CLIENT_ERROR_PIN_LOCKED },
  { "PukLocked", SIGNET_CLIENT_ERROR_PUK_LOCKED },
  { "FinalTry", SIGNET_CLIENT_ERROR_FINAL_TRY },
  { "NoSuchToken", SIGNET_CLIENT_ERROR_NO_TOKEN },
  { "TokenRemoved", SIGNET_CLIENT_ERROR_NO_TOKEN },
  { "Busy", SIGNET_CLIENT_ERROR_BUSY },
  { "Pending", SIGNET_CLIENT_ERROR_PENDING },
  { "CaUnavailable", SIGNET_CLIENT_ERROR_CA_UNAVAILABLE },
  { "CaNotFound", SIGNET_CLIENT_ERROR_CA_UNAVAILABLE },
  { "CaUnreachable", SIGNET_CLIENT_ERROR_CA_UNAVAILABLE },
  { "CaTimeout", SIGNET_CLIENT_ERROR_CA_UNAVAILABLE },
  { "CertificateExpired", SIGNET_CLIENT_ERROR_EXPIRED },
  { "NotAuthorized", SIGNET_CLIENT_ERROR_NOT_AUTHORIZED },
  { "NotSupported", SIGNET_CLIENT_ERROR_NOT_SUPPORTED },
  { "CertificateExists", SIGNET_CLIENT_ERROR_CERTIFICATE_EXISTS },
};

SignetClientErrorKind
signet_client_error_kind_for_name(const char *name)
{
  if (name == NULL || !g_str_has_prefix(name, PREFIX))
    return SIGNET_CLIENT_ERROR_FAILED;
  for (gsize i = 0; i < G_N_ELEMENTS(error_names); i++)
    if (g_str_equal(name + strlen(PREFIX), error_names[i].name))
      return error_names[i].kind;
  return SIGNET_CLIENT_ERROR_FAILED;
}

const char *
signet_client_error_name(SignetClientErrorKind kind)
{
  for (gsize i = 0; i < G_N_ELEMENTS(error_names); i++)
    if (error_names[i].kind == kind) {
      g_autofree char *name = g_strconcat(PREFIX, error_names[i].name, NULL);
      return g_intern_string(name);
    }
  return PREFIX "Failed";
}

SignetClientErrorKind
signet_client_error_kind(const GError *error)
{
  g_autofree char *remote = NULL;

  if (error == NULL)
    return SIGNET_CLIENT_ERROR_FAILED;
  if (error->domain == SIGNET_CLIENT_ERROR)
    return (SignetClientErrorKind)error->code;
  remote = g_dbus_error_get_remote_error(error);
  return signet_client_error_kind_for_name(remote);
}

const char *
signet_client_error_next_step(SignetClientErrorKind kind)
{
  switch (kind) {
    case SIGNET_CLIENT_ERROR_PIN_INCORRECT:
      return _("Check the PIN and try again: every wrong PIN spends one of the token's tries.");
    case SIGNET_CLIENT_ERROR_PUK_INCORRECT:
      return _("Check the PUK (it came with the token, in the issuer's letter) and try again.");
    case SIGNET_CLIENT_ERROR_PIN_LOCKED:
      return _("Unblock the PIN with the PUK.");
    case SIGNET_CLIENT_ERROR_PUK_LOCKED:
      return _("Ask the token's issuer for a new token.");
    case SIGNET_CLIENT_ERROR_NO_TOKEN:
      return _("Insert the token and try again.");
    case SIGNET_CLIENT_ERROR_BUSY:
      return _("Wait until the other operation on this token has finished.");
    case SIGNET_CLIENT_ERROR_PENDING:
      return _("The CA issues the certificate later: do the same again then.");
    case SIGNET_CLIENT_ERROR_CA_UNAVAILABLE:
      return _("Check the network connection and try again later.");
    case SIGNET_CLIENT_ERROR_EXPIRED:
      return _("An expired certificate cannot be renewed: ask the CA for a new one.");
    case SIGNET_CLIENT_ERROR_NOT_AUTHORIZED:
      return _("Run it from your own desktop session, outside a sandbox.");
    case SIGNET_CLIENT_ERROR_FAILED:
    case SIGNET_CLIENT_ERROR_INVALID_ARGS:
    case SIGNET_CLIENT_ERROR_BAD_INPUT:
    case SIGNET_CLIENT_ERROR_FINAL_TRY:
    case SIGNET_CLIENT_ERROR_NOT_SUPPORTED:
    case SIGNET_CLIENT_ERROR_CERTIFICATE_EXISTS: /* the message says how to replace it */
      break;
  }
  return NULL;
}
