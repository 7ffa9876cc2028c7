/* signet-reminders.c: see signet-reminders.h and docs/internals/reminders.md. */
#include "config.h"

#include "agent/signet-reminders.h"

#include <openssl/asn1.h>
#include <string.h>

#include "libsignet/signet-dbus-generated.h"
#include "agent/signet-state.h"
#include "agent/signet-clock.h"
#include "agent/signet-token-dict.h"
#include "enroll/signet-x509.h"
#include "common/signet-openssl-util.h"

#define KEY_DAYS          "days"
#define KEY_RENEW_COMMAND "renew-command"
#define SECONDS_PER_DAY   86400
#define CHECK_INTERVAL_S  (24 * 3600)
#define MAX_TOKEN_SERIAL  64
#define MAX_KEY_ID_HEX    256
#define ACTION_RENEW      "renew"
#define BUS_CALL_TIMEOUT  5000 /* ms: the bus daemon answers at once */

/* The bus names GLib's notification backends talk to (gio/g*notificationbackend.c). */
#define SERVICE_FREEDESKTOP "org.freedesktop.Notifications"
#define SERVICE_GTK         "org.gtk.Notifications"
#define SERVICE_PORTAL      "org.freedesktop.portal.Desktop"

/* What a reminder not shown says, in the state database and in status. */
#define REASON_NO_SERVICE "no notification service"
#define REASON_NO_ANSWER  "the session bus did not answer"

struct _SignetReminders
{
  GApplication *app; /* not owned: it owns us (signetd) */
  SignetAgent *agent;
  guint days[SIGNET_REMINDERS_MAX_THRESHOLDS];
  guint n_days;
  GStrv renew_argv;          /* renew-command, or the terminal's default */
  gboolean renew_configured; /* renew-command was given: always that */
  guint timer_id;
  GCancellable *cancellable;
  gboolean running;       /* a check is in its worker */
  gboolean pending_all;   /* asked for meanwhile: every token */
  GHashTable *pending;    /* asked for meanwhile: these serials */
  gboolean told_no_state; /* said once that reminders cannot be remembered */
  char *env_backend;      /* GNOTIFICATION_BACKEND, as GLib reads it */
  gboolean use_portal;    /* GLib sends through the portal (a sandbox) */
  char *service;          /* the bus name GLib's backend uses, once it sent one */
  gboolean not_shown;     /* the last check had reminders it could not show */
  guint watch_ids[3];     /* the notification services' bus names */
};

static GQuark
reminders_quark(void)
{
  return g_quark_from_static_string("signet-reminders");
}

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
  /* Not configured: the window when it is installed, else the terminal
   * (chosen when the action comes: the window may be installed since). */
  r->renew_configured = command != NULL;
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
  char *issuer; /* the certificate, as the state database knows it */
  char *serial;
  gint64 not_after;
  gint64 days_left;
  guint threshold;
  gboolean last; /* the smallest threshold: high priority */
  /* The thresholds crossed and not sent yet: marked sent when it is shown. */
  guint marks[SIGNET_REMINDERS_MAX_THRESHOLDS];
  guint n_marks;
} Reminder;

static void
reminder_free(Reminder *rem)
{
  if (rem == NULL)
    return;
  g_free(rem->token_serial);
  g_free(rem->token_label);
  g_free(rem->key_id);
  g_free(rem->subject);
  g_free(rem->issuer);
  g_free(rem->serial);
  g_free(rem);
}

typedef struct
{
  SignetP11Context *ctx; /* the agent's: outlives the check (signetd waits) */
  SignetState *state;
  GDBusConnection *bus; /* NULL: none */
  guint days[SIGNET_REMINDERS_MAX_THRESHOLDS];
  guint n_days;
  GStrv serials;     /* NULL: every token */
  char *service;     /* the one GLib's backend uses, NULL before the first */
  char *env_backend; /* GNOTIFICATION_BACKEND */
  gboolean use_portal;
} CheckData;

static void
check_data_free(CheckData *cd)
{
  g_clear_object(&cd->bus);
  g_strfreev(cd->serials);
  g_free(cd->service);
  g_free(cd->env_backend);
  g_free(cd);
}

/* What a check found: reminders to send (marked sent already) and how many
 * were due but could not be shown. */
typedef struct
{
  GPtrArray *due;  /* Reminder */
  char *service;   /* where they go (the bus name) */
  guint not_shown; /* due, recorded as not shown */
} CheckResult;

static void
check_result_free(CheckResult *res)
{
  g_ptr_array_unref(res->due);
  g_free(res->service);
  g_free(res);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CheckResult, check_result_free)

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
  rem->issuer = g_steal_pointer(&issuer);
  rem->serial = g_steal_pointer(&serial);
  rem->threshold = threshold;
  rem->last = threshold == cd->days[cd->n_days - 1];
  /* Every threshold crossed is marked once it is shown, so that each goes
   * out at most once and a certificate first seen late gets one reminder,
   * not several (see deliver()). */
  for (guint i = 0; i < crossed; i++)
    if (!sent[i])
      rem->marks[rem->n_marks++] = cd->days[i];
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

/* ---- is a notification service there? (worker) --------------------------- */

const char *
signet_reminders_notification_service(const char *env_backend, gboolean use_portal,
                                      gboolean gtk_owned)
{
  /* GLib 2.74's rule (gio/giomodule.c, _g_io_module_get_default_type): the
   * backend GNOTIFICATION_BACKEND names if it is supported, else the
   * supported one of highest priority: portal (110) in a sandbox, gtk (100)
   * when org.gtk.Notifications has an owner, freedesktop (0) always. */
  if (g_strcmp0(env_backend, "portal") == 0 && use_portal)
    return SERVICE_PORTAL;
  if (g_strcmp0(env_backend, "gtk") == 0 && gtk_owned)
    return SERVICE_GTK;
  if (g_strcmp0(env_backend, "freedesktop") == 0)
    return SERVICE_FREEDESKTOP;
  if (use_portal)
    return SERVICE_PORTAL;
  if (gtk_owned)
    return SERVICE_GTK;
  return SERVICE_FREEDESKTOP;
}

/* TRUE in @out_owned if @name has an owner on @bus. */
static gboolean
name_has_owner(GDBusConnection *bus, const char *name, gboolean *out_owned, GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", "NameHasOwner",
                                      g_variant_new("(s)", name), G_VARIANT_TYPE("(b)"),
                                      G_DBUS_CALL_FLAGS_NONE, BUS_CALL_TIMEOUT, NULL, error);
  if (reply == NULL)
    return FALSE;
  g_variant_get(reply, "(b)", out_owned);
  return TRUE;
}

/* TRUE in @out_activatable if the bus starts @name when called. */
static gboolean
name_activatable(GDBusConnection *bus, const char *name, gboolean *out_activatable, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autofree const char **names = NULL;

  reply = g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", "ListActivatableNames", NULL,
                                      G_VARIANT_TYPE("(as)"), G_DBUS_CALL_FLAGS_NONE,
                                      BUS_CALL_TIMEOUT, NULL, error);
  if (reply == NULL)
    return FALSE;
  g_variant_get(reply, "(^a&s)", &names);
  *out_activatable = g_strv_contains(names, name);
  return TRUE;
}

/* GApplication's send_notification reports nothing: a notification is taken
 * as shown when the bus name its backend talks to has an owner, or the bus
 * starts one when called (every backend calls with auto-start). NULL when
 * it can be shown; else the reason (REASON_*), and the service is put in
 * @out_service either way. */
static const char *
service_missing(const CheckData *cd, char **out_service)
{
  g_autoptr(GError) error = NULL;
  const char *service = cd->service;
  gboolean there = FALSE;

  *out_service = NULL;
  if (cd->bus == NULL) {
    g_message("reminders: not connected to the session bus: no notification can be shown");
    return REASON_NO_SERVICE;
  }
  /* Before GLib chose its backend (at the first notification), the choice it
   * will make; afterwards, the one it made. */
  if (service == NULL) {
    gboolean gtk_owned = FALSE;

    if (!cd->use_portal && !name_has_owner(cd->bus, SERVICE_GTK, &gtk_owned, &error))
      goto no_answer;
    service = signet_reminders_notification_service(cd->env_backend, cd->use_portal, gtk_owned);
  }
  *out_service = g_strdup(service);
  if (!name_has_owner(cd->bus, service, &there, &error))
    goto no_answer;
  if (!there && !name_activatable(cd->bus, service, &there, &error))
    goto no_answer;
  if (!there) {
    g_message("reminders: nobody owns %s on the session bus and the bus cannot start it: "
              "no notification service",
              service);
    return REASON_NO_SERVICE;
  }
  return NULL;

no_answer:
  g_message("reminders: could not ask the session bus for the notification service: %s",
            error->message);
  return REASON_NO_ANSWER;
}

/* Reminders due in @res->due: marked sent and kept when a notification
 * service is there (the mark is durable before the notification goes out:
 * at most once), else recorded as not shown and dropped. */
static void
deliver(const CheckData *cd, CheckResult *res, gint64 now)
{
  const char *reason = service_missing(cd, &res->service);
  g_autoptr(GPtrArray) due = g_steal_pointer(&res->due);

  res->due = g_ptr_array_new_with_free_func((GDestroyNotify)reminder_free);
  for (guint i = 0; i < due->len; i++) {
    Reminder *rem = g_ptr_array_index(due, i);
    g_autoptr(GError) error = NULL;
    gboolean ok = TRUE;

    for (guint j = 0; j < rem->n_marks && ok; j++)
      ok = reason != NULL
               ? signet_state_reminder_not_shown(cd->state, rem->token_serial, rem->issuer,
                                                 rem->serial, rem->marks[j], reason, now, &error)
               : signet_state_reminder_mark(cd->state, rem->token_serial, rem->issuer, rem->serial,
                                            rem->marks[j], now, &error);
    if (!ok) {
      g_message("reminders: could not record the reminder of certificate %s of token %s: %s",
                rem->key_id, rem->token_serial, error->message);
      continue;
    }
    if (reason != NULL) {
      g_message(
          "reminder not shown: certificate %s (\"%s\") on token %s expires in %" G_GINT64_FORMAT
          " day(s) (threshold %u days): %s; will retry at the next check and when a "
          "notification service appears on the session bus",
          rem->key_id, rem->subject, rem->token_serial, rem->days_left, rem->threshold, reason);
      res->not_shown++;
      continue;
    }
    g_ptr_array_add(res->due, g_steal_pointer(&due->pdata[i]));
  }
}

static void
check_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  CheckData *cd = task_data;
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(CheckResult) res = g_new0(CheckResult, 1);
  g_autoptr(GError) error = NULL;
  gint64 now = signet_clock_now();

  res->due = g_ptr_array_new_with_free_func((GDestroyNotify)reminder_free);
  tokens = signet_p11_context_list_tokens(cd->ctx, &error);
  if (tokens == NULL) {
    g_message("reminders: could not list the tokens: %s", error->message);
    g_task_return_pointer(task, g_steal_pointer(&res), (GDestroyNotify)check_result_free);
    return;
  }
  for (guint i = 0; i < tokens->len && !g_cancellable_is_cancelled(cancellable); i++) {
    const SignetP11Token *token = g_ptr_array_index(tokens, i);

    if (token->serial != NULL && *token->serial != '\0' && serial_wanted(cd, token->serial))
      check_token(cd, token, now, res->due);
  }
  if (res->due->len > 0)
    deliver(cd, res, now);
  g_task_return_pointer(task, g_steal_pointer(&res), (GDestroyNotify)check_result_free);
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
    send_reminder(r, g_ptr_array_index(res->due, i));
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
  cd->bus = g_application_get_dbus_connection(r->app);
  if (cd->bus != NULL)
    g_object_ref(cd->bus);
  cd->service = g_strdup(r->service);
  cd->env_backend = g_strdup(r->env_backend);
  cd->use_portal = r->use_portal;
  r->running = TRUE;
  g_debug("reminders: check started (%s)", serials == NULL ? "every token" : "some tokens");
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
signet_reminders_certificate_stored(SignetAgent *agent, const char *token_serial)
{
  SignetReminders *r;

  g_return_if_fail(SIGNET_IS_AGENT(agent));
  r = g_object_get_qdata(G_OBJECT(agent), reminders_quark());
  if (r == NULL || token_serial == NULL || *token_serial == '\0')
    return;
  g_debug("reminders: a certificate was stored on token %s: checking it", token_serial);
  signet_reminders_check(r, token_serial);
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
signet_reminders_status_add(GVariantDict *cert, SignetState *state, const char *token_serial,
                            const char *issuer, const char *serial)
{
  g_autoptr(GPtrArray) entries = NULL;
  GVariantBuilder b;

  g_return_if_fail(cert != NULL);
  g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
  if (state != NULL && token_serial != NULL && issuer != NULL && serial != NULL)
    entries = signet_state_reminder_list_not_shown(state, token_serial, issuer, serial, NULL);
  for (guint i = 0; entries != NULL && i < entries->len; i++) {
    const SignetStateReminderNotShown *e = g_ptr_array_index(entries, i);

    g_variant_builder_open(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "threshold", g_variant_new_uint32(e->threshold));
    g_variant_builder_add(&b, "{sv}", "first_try", g_variant_new_int64(e->first_try));
    g_variant_builder_add(&b, "{sv}", "last_try", g_variant_new_int64(e->last_try));
    g_variant_builder_add(&b, "{sv}", "tries", g_variant_new_uint32(e->tries));
    g_variant_builder_add(&b, "{sv}", "reason", g_variant_new_string(e->reason));
    g_variant_builder_close(&b);
  }
  g_variant_dict_insert_value(cert, "reminders_not_shown", g_variant_builder_end(&b));
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

char *
signet_reminders_window_program(void)
{
  char *found = g_find_program_in_path(SIGNET_REMINDERS_WINDOW);

  if (found == NULL
      && g_file_test(SIGNET_BINDIR "/" SIGNET_REMINDERS_WINDOW, G_FILE_TEST_IS_EXECUTABLE))
    found = g_strdup(SIGNET_BINDIR "/" SIGNET_REMINDERS_WINDOW);
  return found;
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
  if (!r->renew_configured) {
    g_autofree char *window = signet_reminders_window_program();

    /* The window opens on the renewal of that certificate and asks for the
     * PIN itself; a second launch goes to a window already open. */
    if (window != NULL)
      argv = g_strdupv(
          (char *[]){ window, "--token", (char *)serial, "--renew", (char *)key_id, NULL });
  }
  if (argv == NULL)
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
  /* Read once, as GLib does when it chooses its notification backend
   * (glib_should_use_portal: a Flatpak sandbox, or GTK_USE_PORTAL=1 / GIO_USE_PORTALS=1). */
  r->env_backend = g_strdup(g_getenv("GNOTIFICATION_BACKEND"));
  r->use_portal = g_file_test("/.flatpak-info", G_FILE_TEST_EXISTS)
                  || g_strcmp0(g_getenv("GTK_USE_PORTAL"), "1") == 0
                  || g_strcmp0(g_getenv("GIO_USE_PORTALS"), "1") == 0;
  action = g_simple_action_new(ACTION_RENEW, G_VARIANT_TYPE("(ss)"));
  g_signal_connect(action, "activate", G_CALLBACK(on_renew_activate_cb), r);
  g_action_map_add_action(G_ACTION_MAP(app), G_ACTION(action));
  /* signet_reminders_certificate_stored() finds us through the agent. */
  g_object_set_qdata(G_OBJECT(agent), reminders_quark(), r);
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
  for (guint i = 0; i < G_N_ELEMENTS(r->watch_ids); i++)
    g_clear_handle_id(&r->watch_ids[i], g_bus_unwatch_name);
  if (r->agent != NULL && g_object_get_qdata(G_OBJECT(r->agent), reminders_quark()) == r)
    g_object_set_qdata(G_OBJECT(r->agent), reminders_quark(), NULL);
  g_cancellable_cancel(r->cancellable);
  while (r->running)
    g_main_context_iteration(NULL, TRUE);
  if (r->app != NULL && g_action_map_lookup_action(G_ACTION_MAP(r->app), ACTION_RENEW) != NULL)
    g_action_map_remove_action(G_ACTION_MAP(r->app), ACTION_RENEW);
  g_clear_object(&r->cancellable);
  g_clear_pointer(&r->pending, g_hash_table_unref);
  g_strfreev(r->renew_argv);
  g_free(r->env_backend);
  g_free(r->service);
  g_clear_object(&r->agent);
  g_free(r);
}
