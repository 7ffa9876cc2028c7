/* signet-reminders.h: certificate expiry reminders (docs/internals/reminders.md).
 * One file per part (signet-reminders-private.h is what they share):
 * signet-reminders.c the configuration and the object, -schedule.c when
 * checks run, -due.c which reminders are due, -delivery.c shown or not
 * shown (notification, signal, marks), -action.c the action "renew".
 *
 * Owns: the [reminders] group of signet.conf,
 *   [reminders]
 *   days=45;15            ; thresholds in days before expiry (1 to 366, distinct)
 *   renew-command=…       ; argv (shell quoting); %t token serial, %c hex CKA_ID, %% a %
 *                         ; default: the window, signet-gtk --token %t --renew %c, when it
 *                         ; is installed (PATH, then bindir); else
 *                         ; x-terminal-emulator -e signet renew %t --cert %c
 * the checks (on start, when a token appears, after a certificate was
 * stored, when a notification service appears while a reminder waits, and
 * once a day on ONE timer), the desktop notification (GNotification, id
 * "renew-SERIAL-KEYID"), the D-Bus signal RenewalReminder, the application
 * action "renew" (ss) that runs the renew command, and the certificate's
 * "reminders_not_shown" in GetTokenStatus.
 * May call: pkcs11/ (read-only: certificates and key pairs, never a login),
 * enroll/ (describing certificates), the state database (signet-state.h),
 * the agent's skeleton and context (signet-agent.h), signet_clock_now(),
 * GLib/GIO.
 *
 * Threads: one check at a time runs in a GTask worker (PKCS#11 reads, the
 * state database); a check asked for meanwhile runs after it. Notifications,
 * signals and the action run in the main context.
 *
 * The rule: for each leaf certificate with a key on a present token, the
 * thresholds crossed are those with (not_after - now) <= days * 86400; if
 * the smallest one crossed has not been sent for this certificate, ONE
 * reminder goes out (for that threshold) and every threshold crossed is
 * marked sent. Expired certificates get none.
 *
 * Shown, not just sent: GApplication's send_notification reports nothing,
 * so a reminder goes out (and is marked sent, before it goes: at most once)
 * only when the bus name of the notification backend GLib uses has an owner
 * or can be started by the bus. Otherwise nothing is marked; the state
 * database records it as not shown (when, why), and the next check tries
 * again (a daily one, a token that appears, a certificate stored, or
 * org.freedesktop.Notifications / org.gtk.Notifications taking its name).
 */
#pragma once

#include <gio/gio.h>

#include "agent/signet-agent.h"
#include "agent/signet-state.h"
#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

#define SIGNET_REMINDERS_GROUP           "reminders"
#define SIGNET_REMINDERS_DEFAULT_COMMAND "x-terminal-emulator -e signet renew %t --cert %c"
#define SIGNET_REMINDERS_WINDOW          "signet-gtk"
#define SIGNET_REMINDERS_MAX_DAYS        366
#define SIGNET_REMINDERS_MAX_THRESHOLDS  16

typedef struct _SignetReminders SignetReminders;

/* The window's program (SIGNET_REMINDERS_WINDOW in PATH, else in the
 * configured bindir), or NULL when it is not installed. */
char *signet_reminders_window_program(void);

/* Reads [reminders] from @keyfile (@path names the file in messages: an
 * error says file and key) and adds the action "renew" to @app (before it
 * is registered). @agent gives the token context, the state database and
 * the skeleton. */
SignetReminders *signet_reminders_new(GApplication *app, SignetAgent *agent, GKeyFile *keyfile,
                                      const char *path, GError **error);

/* Once the bus name is owned: checks every present token, and arms the
 * daily timer. */
void signet_reminders_start(SignetReminders *reminders);

/* A token appeared: checks it (@serial NULL: every token). */
void signet_reminders_check(SignetReminders *reminders, const char *serial);

/* For the agent, in the main context, after an operation stored a
 * certificate on @token (Activate, ImportCertificate, Renew, a pending
 * renewal written later): checks that token now, so that a certificate
 * already within a threshold gets its reminder at once rather than at the
 * next start or daily check. @certs and @keys (SignetP11Certificate,
 * SignetP11KeyPair), when the operation read them through its own session
 * after its writes, are what the token holds: the check does not read the
 * token again. NULL: it reads the token. Finds the reminders through
 * @agent (signet_reminders_new attached them); nothing when there are none. */
void signet_reminders_certificate_stored(SignetAgent *agent, const SignetP11Token *token,
                                         GPtrArray *certs, GPtrArray *keys);
/* signet_reminders_check() for one token whose contents are given. */
void signet_reminders_check_contents(SignetReminders *reminders, const SignetP11Token *token,
                                     GPtrArray *certs, GPtrArray *keys);

/* Adds "reminders_not_shown" (aa{sv}: threshold u, first_try x, last_try x,
 * tries u, reason s; empty when none) to @cert, the status dictionary of
 * the certificate (issuer, serial) on token @token_serial. Reads @state
 * (NULL: an empty list). */
void signet_reminders_status_add(GVariantDict *cert, SignetState *state, const char *token_serial,
                                 const char *issuer, const char *serial);

/* The thresholds, largest first. */
const guint *signet_reminders_get_days(SignetReminders *reminders, guint *out_n);

/* Stops the timer and waits for a check in progress (its reminders still
 * go out). */
void signet_reminders_free(SignetReminders *reminders);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetReminders, signet_reminders_free)

/* ---- the pieces, exposed for the unit tests --------------------------- */

/* "45;15" (also "45, 15"): 1..SIGNET_REMINDERS_MAX_DAYS, distinct, sorted
 * largest first into @out_days (SIGNET_REMINDERS_MAX_THRESHOLDS slots). */
gboolean signet_reminders_parse_days(const char *value, guint *out_days, guint *out_n,
                                     GError **error);

/* Checks a renew command (argv as g_shell_parse_argv makes it; only %t, %c
 * and %% are known). */
gboolean signet_reminders_check_command(const char *const *argv, GError **error);

/* @argv with %t, %c and %% replaced. */
GStrv signet_reminders_expand_command(const char *const *argv, const char *token_serial,
                                      const char *key_id);

/* The threshold to send now for a certificate with @seconds_left, given
 * @days (largest first) and which of them were sent (@sent[i] for @days[i]):
 * 0 when none. @out_crossed gets how many thresholds are crossed (the first
 * @out_crossed entries of @days). */
guint signet_reminders_pick(const guint *days, guint n_days, const gboolean *sent,
                            gint64 seconds_left, guint *out_crossed);

/* The bus name GLib's notification backend talks to, by GLib's rule:
 * @env_backend (GNOTIFICATION_BACKEND, may be NULL) when it names a
 * supported backend, else portal (@use_portal), gtk (@gtk_owned: the name
 * org.gtk.Notifications has an owner), freedesktop. */
const char *signet_reminders_notification_service(const char *env_backend, gboolean use_portal,
                                                  gboolean gtk_owned);

G_END_DECLS
