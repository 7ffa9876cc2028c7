/* signet-reminders-delivery.c: shown, or not shown
 * (docs/internals/reminders.md, "Shown, or not shown" and "The notification").
 *
 * Owns: which bus name GLib's notification backend talks to and whether it
 * is there (NameHasOwner, ListActivatableNames), the reminders' marks in the
 * state database (sent, or not shown: when, why), the desktop notification
 * (GNotification, id "renew-SERIAL-KEYID", the button "Renew now"), the
 * D-Bus signal RenewalReminder, and the certificate's "reminders_not_shown"
 * in GetTokenStatus.
 * May call: the state database (signet-state.h), the agent's skeleton
 * (signet-agent.h), enroll/ (the subject's CN), the session bus, GLib/GIO.
 *
 * Threads: signet_reminders_deliver() runs in the check's worker; the
 * notification and the signal go out in the main context.
 */
#include "config.h"

#include "agent/signet-reminders.h"
#include "agent/signet-reminders-private.h"

#include <openssl/asn1.h>

#include "libsignet/signet-dbus-generated.h"
#include "agent/signet-state.h"
#include "enroll/signet-x509.h"
#include "common/signet-openssl-util.h"

#define BUS_CALL_TIMEOUT 5000 /* ms: the bus daemon answers at once */

/* What a reminder not shown says, in the state database and in status. */
#define REASON_NO_SERVICE "no notification service"
#define REASON_NO_ANSWER  "the session bus did not answer"

/* ---- which service GLib's backend talks to --------------------------------- */

void
signet_reminders_read_backend(SignetReminders *r)
{
  /* Read once, as GLib does when it chooses its notification backend
   * (glib_should_use_portal: a Flatpak sandbox, or GTK_USE_PORTAL=1 / GIO_USE_PORTALS=1). */
  r->env_backend = g_strdup(g_getenv("GNOTIFICATION_BACKEND"));
  r->use_portal = g_file_test("/.flatpak-info", G_FILE_TEST_EXISTS)
                  || g_strcmp0(g_getenv("GTK_USE_PORTAL"), "1") == 0
                  || g_strcmp0(g_getenv("GIO_USE_PORTALS"), "1") == 0;
}

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

/* ---- is a notification service there? (worker) --------------------------- */

/* Calls @method of the bus daemon on @bus: its reply, of @reply_type, or
 * NULL with @error set when it did not answer. */
static GVariant *
call_bus_daemon(GDBusConnection *bus, const char *method, GVariant *parameters,
                const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", method, parameters,
                                     G_VARIANT_TYPE(reply_type), G_DBUS_CALL_FLAGS_NONE,
                                     BUS_CALL_TIMEOUT, NULL, error);
}

/* TRUE in @out_owned if @name has an owner on @bus. */
static gboolean
name_has_owner(GDBusConnection *bus, const char *name, gboolean *out_owned, GError **error)
{
  g_autoptr(GVariant) reply
      = call_bus_daemon(bus, "NameHasOwner", g_variant_new("(s)", name), "(b)", error);

  if (reply == NULL)
    return FALSE;
  g_variant_get(reply, "(b)", out_owned);
  return TRUE;
}

/* TRUE in @out_activatable if the bus starts @name when called. */
static gboolean
name_activatable(GDBusConnection *bus, const char *name, gboolean *out_activatable, GError **error)
{
  g_autoptr(GVariant) reply = call_bus_daemon(bus, "ListActivatableNames", NULL, "(as)", error);
  g_autofree const char **names = NULL;

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

/* ---- the marks (worker) --------------------------------------------------- */

/* Reminders due in @res->due: marked sent and kept when a notification
 * service is there (the mark is durable before the notification goes out:
 * at most once), else recorded as not shown and dropped. */
void
signet_reminders_deliver(const CheckData *cd, CheckResult *res, gint64 now)
{
  const char *reason = service_missing(cd, &res->service);
  g_autoptr(GPtrArray) due = g_steal_pointer(&res->due);

  res->due = g_ptr_array_new_with_free_func((GDestroyNotify)signet_reminders_reminder_free);
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

void
signet_reminders_send(SignetReminders *r, const Reminder *rem)
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

/* ---- not shown, in status ------------------------------------------------- */

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
