/* signet-reminders.c: the reminders' object (see signet-reminders.h and
 * docs/internals/reminders.md).
 *
 * Owns: the [reminders] group of signet.conf (days=, renew-command=; the
 * file and the key in every error), the SignetReminders object's life, and
 * how the agent finds it (signet_reminders_certificate_stored).
 * May call: the other files of the reminders (signet-reminders-private.h),
 * the agent (signet-agent.h), GLib/GIO.
 *
 * The other files: signet-reminders-schedule.c (when checks run),
 * signet-reminders-due.c (which reminders are due, in the worker),
 * signet-reminders-delivery.c (shown or not shown: the notification, the
 * signal, the marks), signet-reminders-action.c (the action "renew").
 */
#include "config.h"

#include "agent/signet-reminders.h"
#include "agent/signet-reminders-private.h"

#include <string.h>

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

/* ---- the object ----------------------------------------------------------- */

SignetReminders *
signet_reminders_new(GApplication *app, SignetAgent *agent, GKeyFile *keyfile, const char *path,
                     GError **error)
{
  g_autoptr(SignetReminders) r = g_new0(SignetReminders, 1);

  g_return_val_if_fail(G_IS_APPLICATION(app) && SIGNET_IS_AGENT(agent), NULL);
  r->app = app;
  r->agent = g_object_ref(agent);
  r->cancellable = g_cancellable_new();
  r->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  if (!read_config(r, keyfile, path, error))
    return NULL;
  signet_reminders_read_backend(r);
  signet_reminders_action_add(r);
  /* signet_reminders_certificate_stored() finds us through the agent. */
  g_object_set_qdata(G_OBJECT(agent), reminders_quark(), r);
  return g_steal_pointer(&r);
}

void
signet_reminders_certificate_stored(SignetAgent *agent, const SignetP11Token *token,
                                    GPtrArray *certs, GPtrArray *keys)
{
  SignetReminders *r;

  g_return_if_fail(SIGNET_IS_AGENT(agent));
  r = g_object_get_qdata(G_OBJECT(agent), reminders_quark());
  if (r == NULL || token == NULL || token->serial == NULL || *token->serial == '\0')
    return;
  g_debug("reminders: a certificate was stored on token %s: checking it%s", token->serial,
          certs != NULL && keys != NULL ? " as the operation left it" : "");
  if (certs != NULL && keys != NULL)
    signet_reminders_check_contents(r, token, certs, keys);
  else
    signet_reminders_check(r, token->serial);
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
  if (r->agent != NULL && g_object_get_qdata(G_OBJECT(r->agent), reminders_quark()) == r)
    g_object_set_qdata(G_OBJECT(r->agent), reminders_quark(), NULL);
  signet_reminders_schedule_stop(r);
  signet_reminders_action_remove(r);
  g_clear_object(&r->cancellable);
  g_clear_pointer(&r->pending, g_hash_table_unref);
  g_strfreev(r->renew_argv);
  g_free(r->env_backend);
  g_free(r->service);
  g_clear_object(&r->agent);
  g_free(r);
}
