/* signet-reminders-private.h: what the files of the reminders share
 * (signet-reminders.c, signet-reminders-schedule.c, signet-reminders-due.c,
 * signet-reminders-delivery.c, signet-reminders-action.c). Not for use
 * outside those files.
 *
 * Owns: the object's fields, the names both sides of a file boundary use
 * (configuration keys, the action, the notification services' bus names),
 * what a check is given (CheckData) and what it found (Reminder,
 * CheckResult), and the functions one file gives the others.
 * May call: nothing (declarations); includes signet-reminders.h,
 * signet-state.h and pkcs11/signet-p11.h for the types.
 */
#pragma once

#include <gio/gio.h>

#include "agent/signet-reminders.h"
#include "agent/signet-state.h"
#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

#define KEY_DAYS          "days"
#define KEY_RENEW_COMMAND "renew-command"
#define ACTION_RENEW      "renew"

/* The bus names GLib's notification backends talk to (gio/g*notificationbackend.c). */
#define SERVICE_FREEDESKTOP "org.freedesktop.Notifications"
#define SERVICE_GTK         "org.gtk.Notifications"
#define SERVICE_PORTAL      "org.freedesktop.portal.Desktop"

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

/* A reminder due for one certificate. */
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

/* What a check is given (a copy: the worker reads it while the main
 * context goes on). */
typedef struct
{
  SignetP11Context *ctx; /* the agent's: outlives the check (signetd waits) */
  SignetState *state;
  GDBusConnection *bus; /* NULL: none */
  guint days[SIGNET_REMINDERS_MAX_THRESHOLDS];
  guint n_days;
  GStrv serials; /* NULL: every token */
  /* Set: that token's contents as the operation that wrote it just read
   * them through its own session, checked without reading it again. */
  SignetP11Token *token;
  GPtrArray *certs;  /* SignetP11Certificate */
  GPtrArray *keys;   /* SignetP11KeyPair */
  char *service;     /* the one GLib's backend uses, NULL before the first */
  char *env_backend; /* GNOTIFICATION_BACKEND */
  gboolean use_portal;
} CheckData;

/* What a check found: reminders to send (marked sent already) and how many
 * were due but could not be shown. */
typedef struct
{
  GPtrArray *due;  /* Reminder */
  char *service;   /* where they go (the bus name) */
  guint not_shown; /* due, recorded as not shown */
} CheckResult;

/* signet-reminders-due.c: which reminders are due (the check's worker). */
void signet_reminders_reminder_free(Reminder *rem);
void signet_reminders_check_result_free(CheckResult *res);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CheckResult, signet_reminders_check_result_free)
/* The GTaskThreadFunc of a check: @task_data is its CheckData; returns a
 * CheckResult. */
void signet_reminders_check_thread(GTask *task, gpointer source, gpointer task_data,
                                   GCancellable *cancellable);

/* signet-reminders-delivery.c: shown, or not shown. */
/* Reads the environment once, as GLib does when it chooses its notification
 * backend. */
void signet_reminders_read_backend(SignetReminders *r);
/* In the worker: marks the reminders in @res->due sent and keeps them when
 * a notification service is there, else records them as not shown and
 * drops them. */
void signet_reminders_deliver(const CheckData *cd, CheckResult *res, gint64 now);
/* In the main context: the notification and the signal RenewalReminder. */
void signet_reminders_send(SignetReminders *r, const Reminder *rem);

/* signet-reminders-schedule.c: when checks run. */
/* Removes the timer and the watches, cancels, and waits for a check in
 * progress (its reminders still go out). */
void signet_reminders_schedule_stop(SignetReminders *r);

/* signet-reminders-action.c: the action "renew" (ss). */
void signet_reminders_action_add(SignetReminders *r);
void signet_reminders_action_remove(SignetReminders *r);

G_END_DECLS
