/* signet-reminders.c: see signet-reminders.h and docs/internals/reminders.md. */
#include "config.h"

#include "agent/signet-reminders.h"

#include <openssl/asn1.h>
#include <string.h>

#include "agent/signet-dbus-generated.h"
#include "agent/signet-state.h"
#include "agent/signet-testhooks.h"
#include "agent/signet-token-dict.h"
#include "enroll/signet-x509.h"

#define KEY_DAYS          "days"
#define KEY_RENEW_COMMAND "renew-command"
#define SECONDS_PER_DAY   86400
#define CHECK_INTERVAL_S  (24 * 3600)
#define MAX_TOKEN_SERIAL  64
#define MAX_KEY_ID_HEX    256
#define ACTION_RENEW      "renew"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)

struct _SignetReminders
{
  GApplication *app; /* not owned: it owns us (signetd) */
  SignetAgent *agent;
  guint days[SIGNET_REMINDERS_MAX_THRESHOLDS];
  guint n_days;
  GStrv renew_argv;
  guint timer_id;
  GCancellable *cancellable;
  gboolean running;       /* a check is in its worker */
  gboolean pending_all;   /* asked for meanwhile: every token */
  GHashTable *pending;    /* asked for meanwhile: these serials */
  gboolean told_no_state; /* said once that reminders cannot be remembered */
};

/* ---- configuration ------------------------------------------------------ */

static int
compare_desc(gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *)a, y = *(const guint *)b;

  return x < y ? 1 : x > y ? -1 : 0;
}

gboolean
signet_reminders_parse_days(const char *value, guint *out_days, guint *out_n, GError **error)
{
  g_auto(GStrv) items = g_strsplit_set(value, ";,", -1);
  guint days[SIGNET_REMINDERS_MAX_THRESHOLDS];
  guint n = 0;

  for (guint i = 0; items[i] != NULL; i++) {
    char *item = g_strstrip(items[i]);
    guint64 d;

    if (*item == '\0')
      continue;
    if (!g_ascii_string_to_unsigned(item, 10, 1, SIGNET_REMINDERS_MAX_DAYS, &d, NULL)) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "\"%s\" is not a number of days from 1 to %u", item, SIGNET_REMINDERS_MAX_DAYS);
      return FALSE;
    }
    for (guint j = 0; j < n; j++)
      if (days[j] == d) {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%u days is given twice", (guint)d);
        return FALSE;
      }
    if (n == SIGNET_REMINDERS_MAX_THRESHOLDS) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "more than %u thresholds", SIGNET_REMINDERS_MAX_THRESHOLDS);
      return FALSE;
    }
    days[n++] = (guint)d;
  }
  if (n == 0) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "no number of days given (e.g. days=45;15)");
    return FALSE;
  }
  qsort(days, n, sizeof days[0], compare_desc);
  memcpy(out_days, days, n * sizeof days[0]);
  *out_n = n;
  return TRUE;
}

gboolean
signet_reminders_check_command(const char *const *argv, GError **error)
{
  if (argv == NULL || argv[0] == NULL || *argv[0] == '\0') {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "no command given");
    return FALSE;
  }
  for (guint i = 0; argv[i] != NULL; i++)
    for (const char *p = strchr(argv[i], '%'); p != NULL; p = strchr(p + 2, '%'))
      if (p[1] != 't' && p[1] != 'c' && p[1] != '%') {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "unknown \"%%%.1s\" in \"%s\" (%%t is the token serial, %%c the "
                    "certificate's id, %%%% a %%)",
                    p[1] != '\0' ? p + 1 : "", argv[i]);
        return FALSE;
      }
  return TRUE;
}

GStrv
signet_reminders_expand_command(const char *const *argv, const char *token_serial,
                                const char *key_id)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();

  for (guint i = 0; argv != NULL && argv[i] != NULL; i++) {
    g_autoptr(GString) s = g_string_new(NULL);

    for (const char *p = argv[i]; *p != '\0'; p++) {
      if (*p != '%' || p[1] == '\0') {
        g_string_append_c(s, *p);
        continue;
      }
      p++;
      if (*p == 't')
        g_string_append(s, token_serial);
      else if (*p == 'c')
        g_string_append(s, key_id);
      else if (*p == '%')
        g_string_append_c(s, '%');
      else
        g_string_append_c(s, '%'), g_string_append_c(s, *p); /* refused at load */
    }
    g_strv_builder_add(b, s->str);
  }
  return g_strv_builder_end(b);
}

static gboolean
read_config(SignetReminders *r, GKeyFile *keyfile, const char *path, GError **error)
{
  g_autofree char *days = NULL;
  g_autofree char *command = NULL;
  g_auto(GStrv) keys = NULL;
  g_autoptr(GError) local = NULL;

  keys = g_key_file_get_keys(keyfile, SIGNET_REMINDERS_GROUP, NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    if (g_strcmp0(keys[i], KEY_DAYS) != 0 && g_strcmp0(keys[i], KEY_RENEW_COMMAND) != 0)
      g_message("%s: ignoring unknown key \"%s\" in [" SIGNET_REMINDERS_GROUP "]", path, keys[i]);

  r->days[0] = 45;
  r->days[1] = 15;
  r->n_days = 2;
  days = g_key_file_get_value(keyfile, SIGNET_REMINDERS_GROUP, KEY_DAYS, NULL);
  if (days != NULL && !signet_reminders_parse_days(days, r->days, &r->n_days, &local)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s: " KEY_DAYS "=\"%s\" in [" SIGNET_REMINDERS_GROUP
                "]: %s; give the days before expiry, e.g. " KEY_DAYS "=45;15",
                path, days, local->message);
    return FALSE;
  }

  command = g_key_file_get_value(keyfile, SIGNET_REMINDERS_GROUP, KEY_RENEW_COMMAND, NULL);
  if (command != NULL)
    g_strstrip(command);
  if (!g_shell_parse_argv(command != NULL ? command : SIGNET_REMINDERS_DEFAULT_COMMAND, NULL,
                          &r->renew_argv, &local)
      || !signet_reminders_check_command((const char *const *)r->renew_argv, &local)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s: " KEY_RENEW_COMMAND "=\"%s\" in [" SIGNET_REMINDERS_GROUP "]: %s", path,
                command != NULL ? command : "", local->message);
    return FALSE;
  }
  return TRUE;
}

/* ---- the rule ----------------------------------------------------------- */

guint
signet_reminders_pick(const guint *days, guint n_days, const gboolean *sent, gint64 seconds_left,
                      guint *out_crossed)
{
  guint crossed = 0;

  if (out_crossed != NULL)
    *out_crossed = 0;
  if (seconds_left <= 0)
    return 0; /* expired: renewal is refused, a reminder would only mislead */
  for (guint i = 0; i < n_days; i++)
    if (seconds_left <= (gint64)days[i] * SECONDS_PER_DAY)
      crossed++;
  if (out_crossed != NULL)
    *out_crossed = crossed;
  /* Largest first: the crossed ones come first, the smallest of them last. */
  if (crossed == 0 || sent[crossed - 1])
    return 0;
  return days[crossed - 1];
}

/* ---- the check (worker) ------------------------------------------------- */

typedef struct
{
  char *token_serial;
  char *token_label;
  char *key_id;
  char *subject;
  gint64 not_after;
  gint64 days_left;
  guint threshold;
  gboolean last; /* the smallest threshold: high priority */
} Reminder;

static void
reminder_free(Reminder *rem)
{
  g_free(rem->token_serial);
  g_free(rem->token_label);
  g_free(rem->key_id);
  g_free(rem->subject);
  g_free(rem);
}

typedef struct
{
  SignetP11Context *ctx; /* the agent's: outlives the check (signetd waits) */
  SignetState *state;
  guint days[SIGNET_REMINDERS_MAX_THRESHOLDS];
  guint n_days;
  GStrv serials; /* NULL: every token */
} CheckData;

static void
check_data_free(CheckData *cd)
{
  g_strfreev(cd->serials);
  g_free(cd);
}

static gboolean
has_key(GPtrArray *keys, GBytes *id)
{
  for (guint i = 0; keys != NULL && id != NULL && i < keys->len; i++) {
    const SignetP11KeyPair *k = g_ptr_array_index(keys, i);

    if (k->id != NULL && g_bytes_equal(k->id, id) && (k->has_private || k->has_public))
      return TRUE;
  }
  return FALSE;
}

static gboolean
serial_wanted(const CheckData *cd, const char *serial)
{
  return cd->serials == NULL
         || (serial != NULL && g_strv_contains((const char *const *)cd->serials, serial));
}

/* One certificate: tracked, and a reminder to send if one is due. */
static Reminder *
check_certificate(const CheckData *cd, const SignetP11Token *token, const SignetP11Certificate *c,
                  gint64 now, GPtrArray *present)
{
  SignetStateCert sc = { 0 };
  g_autofree char *key_id = signet_token_dict_id_to_hex(c->id);
  g_autofree char *serial = signet_x509_serial_to_string(c->cert);
  g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(c->cert));
  g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(c->cert));
  gboolean sent[SIGNET_REMINDERS_MAX_THRESHOLDS] = { FALSE };
  g_autoptr(GError) error = NULL;
  gint64 not_before = 0, not_after = 0;
  guint crossed = 0, threshold;
  Reminder *rem;

  if (serial == NULL || issuer == NULL || subject == NULL
      || (not_after = signet_asn1_time_to_unix(X509_get0_notAfter(c->cert))) == 0) {
    g_debug("reminders: token %s: certificate %s is not readable; skipped", token->serial, key_id);
    return NULL;
  }
  not_before = signet_asn1_time_to_unix(X509_get0_notBefore(c->cert));
  sc.token_serial = token->serial;
  sc.key_id = key_id;
  sc.serial = serial;
  sc.issuer = issuer;
  sc.subject = subject;
  sc.profile = NULL; /* keeps what activation or renewal recorded */
  sc.not_before = not_before;
  sc.not_after = not_after;
  sc.present = TRUE;
  if (!signet_state_cert_track(cd->state, &sc, now, &error)) {
    g_message("reminders: could not record certificate %s of token %s: %s", key_id, token->serial,
              error->message);
    return NULL;
  }
  g_ptr_array_add(present, signet_state_cert_key(issuer, serial));

  if (not_after <= now) {
    g_debug("reminders: token %s: certificate %s (%s) has expired; no reminder", token->serial,
            key_id, subject);
    return NULL;
  }
  for (guint i = 0; i < cd->n_days; i++)
    if (!signet_state_reminder_get(cd->state, token->serial, issuer, serial, cd->days[i], &sent[i],
                                   NULL, &error)) {
      g_message("reminders: could not read the reminders of certificate %s of token %s: %s", key_id,
                token->serial, error->message);
      return NULL;
    }
  threshold = signet_reminders_pick(cd->days, cd->n_days, sent, not_after - now, &crossed);
  /* Every threshold crossed is marked, so that each goes out at most once
   * and a certificate first seen late gets one reminder, not several. The
   * mark is durable before the notification goes out: at most once. */
  for (guint i = 0; i < crossed; i++)
    if (!sent[i]
        && !signet_state_reminder_mark(cd->state, token->serial, issuer, serial, cd->days[i], now,
                                       &error)) {
      g_message("reminders: could not record the reminder of certificate %s of token %s: %s",
                key_id, token->serial, error->message);
      return NULL;
    }
  g_debug("reminders: token %s: certificate %s (%s): %" G_GINT64_FORMAT
          " s left, %u threshold(s) crossed, %s",
          token->serial, key_id, subject, not_after - now, crossed,
          threshold != 0 ? "reminder due" : "nothing to send");
  if (threshold == 0)
    return NULL;
  rem = g_new0(Reminder, 1);
  rem->token_serial = g_strdup(token->serial);
  rem->token_label = g_strdup(token->label != NULL ? token->label : "");
  rem->key_id = g_steal_pointer(&key_id);
  rem->subject = g_steal_pointer(&subject);
  rem->not_after = not_after;
  rem->days_left = (not_after - now) / SECONDS_PER_DAY;
  rem->threshold = threshold;
  rem->last = threshold == cd->days[cd->n_days - 1];
  return rem;
}

static void
check_token(const CheckData *cd, const SignetP11Token *token, gint64 now, GPtrArray *out)
{
  g_autoptr(SignetP11Session) session = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GPtrArray) present = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;

  /* Never logs in: certificates and public keys are public objects. */
  session = signet_p11_session_open(cd->ctx, token, &error);
  if (session != NULL)
    certs = signet_p11_session_list_certificates(session, &error);
  if (certs != NULL)
    keys = signet_p11_session_list_key_pairs(session, &error);
  if (keys == NULL) {
    g_message("reminders: could not read token %s: %s", token->serial, error->message);
    return;
  }
  if (!signet_state_token_seen(cd->state, token->serial, token->label, token->model, now, &error)) {
    g_message("reminders: could not record token %s: %s", token->serial, error->message);
    return;
  }
  for (guint i = 0; i < certs->len; i++) {
    const SignetP11Certificate *c = g_ptr_array_index(certs, i);
    Reminder *rem;

    /* Leaf certificates with their key: the ones a holder renews. */
    if (c->cert == NULL || c->authority || signet_x509_is_ca(c->cert) || !has_key(keys, c->id))
      continue;
    rem = check_certificate(cd, token, c, now, present);
    if (rem != NULL)
      g_ptr_array_add(out, rem);
  }
  g_ptr_array_add(present, NULL);
  if (!signet_state_certs_sync(cd->state, token->serial, (const char *const *)present->pdata,
                               &error))
    g_message("reminders: could not update the certificates of token %s: %s", token->serial,
              error->message);
}

static void
check_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  CheckData *cd = task_data;
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)reminder_free);
  g_autoptr(GError) error = NULL;
  gint64 now = signet_clock_now();

  tokens = signet_p11_context_list_tokens(cd->ctx, &error);
  if (tokens == NULL) {
    g_message("reminders: could not list the tokens: %s", error->message);
    g_task_return_pointer(task, g_steal_pointer(&out), (GDestroyNotify)g_ptr_array_unref);
    return;
  }
  for (guint i = 0; i < tokens->len && !g_cancellable_is_cancelled(cancellable); i++) {
    const SignetP11Token *token = g_ptr_array_index(tokens, i);

    if (token->serial != NULL && *token->serial != '\0' && serial_wanted(cd, token->serial))
      check_token(cd, token, now, out);
  }
  g_task_return_pointer(task, g_steal_pointer(&out), (GDestroyNotify)g_ptr_array_unref);
}

/* ---- sending (main context) --------------------------------------------- */

/* The holder's name: the CN when there is one, else the whole subject. */
static char *
subject_name(const char *subject)
{
  g_autoptr(X509_NAME) name = signet_subject_parse(subject, NULL);
  int i = name != NULL ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
  ASN1_STRING *value;
  unsigned char *utf8 = NULL;
  char *out;
  int len;

  if (i < 0)
    return g_strdup(subject);
  value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len <= 0 || !g_utf8_validate((const char *)utf8, len, NULL)) {
    OPENSSL_free(utf8);
    return g_strdup(subject);
  }
  out = g_strndup((const char *)utf8, len);
  OPENSSL_free(utf8);
  return out;
}

static void
send_reminder(SignetReminders *r, const Reminder *rem)
{
  g_autoptr(GNotification) n = NULL;
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(rem->not_after);
  g_autoptr(GDateTime) local = utc != NULL ? g_date_time_to_local(utc) : NULL;
  g_autofree char *date = local != NULL ? g_date_time_format(local, "%Y-%m-%d") : g_strdup("?");
  g_autofree char *who = subject_name(rem->subject);
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  g_autofree char *id = g_strdup_printf("renew-%s-%s", rem->token_serial, rem->key_id);
  const char *token_name = *rem->token_label != '\0' ? rem->token_label : rem->token_serial;
  GVariantBuilder b;
  SignetAgent1 *skeleton;

  if (rem->days_left == 0)
    title = g_strdup("Certificate expires today");
  else if (rem->days_left == 1)
    title = g_strdup("Certificate expires in 1 day");
  else
    title = g_strdup_printf("Certificate expires in %" G_GINT64_FORMAT " days", rem->days_left);
  body = g_strdup_printf("The certificate of “%s” on the token “%s” expires on %s. While it is "
                         "still valid it can be renewed on the same token: choose “Renew now” "
                         "(the PIN is asked then).",
                         who, token_name, date);
  n = g_notification_new(title);
  g_notification_set_body(n, body);
  g_notification_set_priority(n, rem->last ? G_NOTIFICATION_PRIORITY_HIGH
                                           : G_NOTIFICATION_PRIORITY_NORMAL);
  g_notification_add_button_with_target(n, "Renew now", "app." ACTION_RENEW, "(ss)",
                                        rem->token_serial, rem->key_id);
  g_notification_set_default_action_and_target(n, "app." ACTION_RENEW, "(ss)", rem->token_serial,
                                               rem->key_id);
  g_application_send_notification(r->app, id, n);
  g_message("reminder sent: certificate %s (\"%s\") on token \"%s\" expires in %" G_GINT64_FORMAT
            " day(s), on %s (threshold %u days)",
            rem->key_id, rem->subject, token_name, rem->days_left, date, rem->threshold);

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "token_serial", g_variant_new_string(rem->token_serial));
  g_variant_builder_add(&b, "{sv}", "token_label", g_variant_new_string(rem->token_label));
  g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(rem->key_id));
  g_variant_builder_add(&b, "{sv}", "subject", g_variant_new_string(rem->subject));
  g_variant_builder_add(&b, "{sv}", "not_after", g_variant_new_int64(rem->not_after));
  g_variant_builder_add(&b, "{sv}", "days_left", g_variant_new_int32((gint32)rem->days_left));
  g_variant_builder_add(&b, "{sv}", "threshold", g_variant_new_uint32(rem->threshold));
  skeleton = signet_agent_get_skeleton(r->agent);
  signet_agent1_emit_renewal_reminder(skeleton, g_variant_builder_end(&b));
}

static void start_check(SignetReminders *r, GStrv serials);

static void
on_check_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  SignetReminders *r = user_data;
  g_autoptr(GPtrArray) out = g_task_propagate_pointer(G_TASK(result), NULL);
  g_autoptr(GStrvBuilder) next = NULL;

  r->running = FALSE;
  /* Marked sent in the worker already: send even when stopping. */
  for (guint i = 0; out != NULL && i < out->len; i++)
    send_reminder(r, g_ptr_array_index(out, i));
  g_debug("reminders: check done (%u reminder(s) sent)", out != NULL ? out->len : 0);
  if (g_cancellable_is_cancelled(r->cancellable))
    return;
  if (r->pending_all) {
    r->pending_all = FALSE;
    g_hash_table_remove_all(r->pending);
    start_check(r, NULL);
  } else if (g_hash_table_size(r->pending) > 0) {
    GHashTableIter iter;
    gpointer key;

    next = g_strv_builder_new();
    g_hash_table_iter_init(&iter, r->pending);
    while (g_hash_table_iter_next(&iter, &key, NULL))
      g_strv_builder_add(next, key);
    g_hash_table_remove_all(r->pending);
    start_check(r, g_strv_builder_end(next));
  }
}

/* Takes @serials (NULL: every token). */
static void
start_check(SignetReminders *r, GStrv serials)
{
  g_autoptr(GTask) task = NULL;
  CheckData *cd;

  if (signet_agent_get_context(r->agent) == NULL) {
    g_strfreev(serials);
    return; /* no modules: nothing to read (said at start) */
  }
  if (signet_agent_get_state(r->agent) == NULL) {
    if (!r->told_no_state)
      g_message("reminders: the state database is not open: no expiry reminders");
    r->told_no_state = TRUE;
    g_strfreev(serials);
    return;
  }
  cd = g_new0(CheckData, 1);
  cd->ctx = signet_agent_get_context(r->agent);
  cd->state = signet_agent_get_state(r->agent);
  memcpy(cd->days, r->days, sizeof r->days);
  cd->n_days = r->n_days;
  cd->serials = serials;
  r->running = TRUE;
  task = g_task_new(NULL, r->cancellable, on_check_done_cb, r);
  g_task_set_source_tag(task, start_check);
  g_task_set_task_data(task, cd, (GDestroyNotify)check_data_free);
  g_task_run_in_thread(task, check_thread);
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
    start_check(r, NULL);
  } else {
    GStrv serials = g_new0(char *, 2);

    serials[0] = g_strdup(serial);
    start_check(r, serials);
  }
}

static gboolean
on_daily_cb(gpointer user_data)
{
  SignetReminders *r = user_data;

  g_debug("reminders: the daily check");
  signet_reminders_check(r, NULL);
  return G_SOURCE_CONTINUE;
}

void
signet_reminders_start(SignetReminders *r)
{
  g_return_if_fail(r != NULL);
  if (r->timer_id == 0)
    r->timer_id = g_timeout_add_seconds(CHECK_INTERVAL_S, on_daily_cb, r);
  signet_reminders_check(r, NULL);
}

/* ---- the action "renew" (ss) -------------------------------------------- */

static gboolean
is_token_serial(const char *s)
{
  gsize n = strlen(s);

  if (n == 0 || n > MAX_TOKEN_SERIAL)
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!g_ascii_isalnum(*p) && strchr("-_.:", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
is_hex_id(const char *s)
{
  gsize n = strlen(s);

  if (n == 0 || n > MAX_KEY_ID_HEX)
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!g_ascii_isxdigit(*p))
      return FALSE;
  return TRUE;
}

static void
on_renew_activate_cb(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  SignetReminders *r = user_data;
  const char *serial, *key_id;
  g_auto(GStrv) argv = NULL;
  g_autofree char *shown = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;

  g_variant_get(parameter, "(&s&s)", &serial, &key_id);
  /* The target comes over the session bus: only a serial and a hex id go
   * into the command line (a terminal may hand its -e to a shell). */
  if (!is_token_serial(serial) || !is_hex_id(key_id)) {
    g_message("renew action refused: token serial or certificate id malformed");
    return;
  }
  argv = signet_reminders_expand_command((const char *const *)r->renew_argv, serial, key_id);
  shown = g_strjoinv(" ", argv);
  g_message("renew asked for certificate %s on token %s: running %s", key_id, serial, shown);
  /* Not waited for (GSubprocess reaps it); its output goes to our log. */
  child = g_subprocess_newv((const char *const *)argv, G_SUBPROCESS_FLAGS_NONE, &error);
  if (child == NULL)
    g_message("could not run the renew command (%s in [" SIGNET_REMINDERS_GROUP "] of "
              "signet.conf): %s",
              KEY_RENEW_COMMAND, error->message);
}

/* ---- the object ----------------------------------------------------------- */

SignetReminders *
signet_reminders_new(GApplication *app, SignetAgent *agent, GKeyFile *keyfile, const char *path,
                     GError **error)
{
  g_autoptr(SignetReminders) r = g_new0(SignetReminders, 1);
  g_autoptr(GSimpleAction) action = NULL;

  g_return_val_if_fail(G_IS_APPLICATION(app) && SIGNET_IS_AGENT(agent), NULL);
  r->app = app;
  r->agent = g_object_ref(agent);
  r->cancellable = g_cancellable_new();
  r->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  if (!read_config(r, keyfile, path, error))
    return NULL;
  action = g_simple_action_new(ACTION_RENEW, G_VARIANT_TYPE("(ss)"));
  g_signal_connect(action, "activate", G_CALLBACK(on_renew_activate_cb), r);
  g_action_map_add_action(G_ACTION_MAP(app), G_ACTION(action));
  return g_steal_pointer(&r);
}

const guint *
signet_reminders_get_days(SignetReminders *r, guint *out_n)
{
  g_return_val_if_fail(r != NULL, NULL);
  if (out_n != NULL)
    *out_n = r->n_days;
  return r->days;
}

void
signet_reminders_free(SignetReminders *r)
{
  if (r == NULL)
    return;
  g_clear_handle_id(&r->timer_id, g_source_remove);
  g_cancellable_cancel(r->cancellable);
  while (r->running)
    g_main_context_iteration(NULL, TRUE);
  if (r->app != NULL && g_action_map_lookup_action(G_ACTION_MAP(r->app), ACTION_RENEW) != NULL)
    g_action_map_remove_action(G_ACTION_MAP(r->app), ACTION_RENEW);
  g_clear_object(&r->cancellable);
  g_clear_pointer(&r->pending, g_hash_table_unref);
  g_strfreev(r->renew_argv);
  g_clear_object(&r->agent);
  g_free(r);
}
