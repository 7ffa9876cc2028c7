/* test-reminders-units.c: the pieces of agent/signet-reminders.c that need
 * no token or bus: [reminders] days= parsing, the renew command's checks
 * and expansion, and the rule that picks the one reminder to send. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "agent/signet-reminders.h"
#include "agent/signet-state.h"

#define DAY 86400

static void
test_days_parse(void)
{
  guint days[SIGNET_REMINDERS_MAX_THRESHOLDS];
  guint n = 0;
  g_autoptr(GError) error = NULL;

  g_assert_true(signet_reminders_parse_days("15;45", days, &n, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(n, ==, 2);
  g_assert_cmpuint(days[0], ==, 45);
  g_assert_cmpuint(days[1], ==, 15);

  g_assert_true(signet_reminders_parse_days(" 7 , 30; 90 ;", days, &n, &error));
  g_assert_cmpuint(n, ==, 3);
  g_assert_cmpuint(days[0], ==, 90);
  g_assert_cmpuint(days[1], ==, 30);
  g_assert_cmpuint(days[2], ==, 7);

  g_assert_true(signet_reminders_parse_days("30", days, &n, &error));
  g_assert_cmpuint(n, ==, 1);
  g_assert_cmpuint(days[0], ==, 30);
}

static void
test_days_refused(void)
{
  const char *bad[] = { "", ";", "0", "-5", "45;45", "ten", "45;15x", "367", "4e1", NULL };
  guint days[SIGNET_REMINDERS_MAX_THRESHOLDS] = { 99 };
  guint n = 7;

  for (guint i = 0; bad[i] != NULL; i++) {
    g_autoptr(GError) error = NULL;

    g_test_message("days=%s", bad[i]);
    g_assert_false(signet_reminders_parse_days(bad[i], days, &n, &error));
    g_assert_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
    /* untouched on failure */
    g_assert_cmpuint(n, ==, 7);
    g_assert_cmpuint(days[0], ==, 99);
  }
  {
    g_autoptr(GError) error = NULL;
    g_assert_false(signet_reminders_parse_days("45;15;45", days, &n, &error));
    g_assert_nonnull(strstr(error->message, "45 days is given twice"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_assert_false(
        signet_reminders_parse_days("1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17", days, &n, &error));
    g_assert_nonnull(strstr(error->message, "more than"));
  }
}

static void
test_command(void)
{
  const char *ok[] = { "renew-it", "%t", "--cert=%c", "100%%", NULL };
  const char *unknown[] = { "renew-it", "%t", "%x", NULL };
  const char *trailing[] = { "renew-it", "50%", NULL };
  const char *empty[] = { NULL };
  g_auto(GStrv) out = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true(signet_reminders_check_command(ok, &error));
  g_assert_no_error(error);
  g_assert_false(signet_reminders_check_command(unknown, &error));
  g_assert_nonnull(strstr(error->message, "%x"));
  g_clear_error(&error);
  g_assert_false(signet_reminders_check_command(trailing, &error));
  g_clear_error(&error);
  g_assert_false(signet_reminders_check_command(empty, &error));
  g_clear_error(&error);

  out = signet_reminders_expand_command(ok, "a1b2", "0aff");
  g_assert_cmpuint(g_strv_length(out), ==, 4);
  g_assert_cmpstr(out[0], ==, "renew-it");
  g_assert_cmpstr(out[1], ==, "a1b2");
  g_assert_cmpstr(out[2], ==, "--cert=0aff");
  g_assert_cmpstr(out[3], ==, "100%");
}

static void
test_default_command(void)
{
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) out = NULL;

  g_assert_true(g_shell_parse_argv(SIGNET_REMINDERS_DEFAULT_COMMAND, NULL, &argv, NULL));
  g_assert_true(signet_reminders_check_command((const char *const *)argv, NULL));
  out = signet_reminders_expand_command((const char *const *)argv, "SER", "01");
  g_assert_cmpstr(out[0], ==, "x-terminal-emulator");
  g_assert_cmpstr(out[3], ==, "renew");
  g_assert_cmpstr(out[4], ==, "SER");
  g_assert_cmpstr(out[5], ==, "--cert");
  g_assert_cmpstr(out[6], ==, "01");
}

static void
test_pick(void)
{
  const guint days[] = { 45, 15 };
  gboolean none[] = { FALSE, FALSE };
  gboolean first[] = { TRUE, FALSE };
  gboolean both[] = { TRUE, TRUE };
  guint crossed = 99;

  /* Not yet. */
  g_assert_cmpuint(signet_reminders_pick(days, 2, none, 46 * (gint64)DAY, &crossed), ==, 0);
  g_assert_cmpuint(crossed, ==, 0);
  /* Exactly 45 days left: within 45 days. */
  g_assert_cmpuint(signet_reminders_pick(days, 2, none, 45 * (gint64)DAY, &crossed), ==, 45);
  g_assert_cmpuint(crossed, ==, 1);
  g_assert_cmpuint(signet_reminders_pick(days, 2, none, 44 * (gint64)DAY, &crossed), ==, 45);
  /* Sent already: nothing more until 15. */
  g_assert_cmpuint(signet_reminders_pick(days, 2, first, 44 * (gint64)DAY, &crossed), ==, 0);
  g_assert_cmpuint(crossed, ==, 1);
  g_assert_cmpuint(signet_reminders_pick(days, 2, first, 14 * (gint64)DAY, &crossed), ==, 15);
  g_assert_cmpuint(crossed, ==, 2);
  /* First seen at 10 days: one reminder, the 15-day one; both crossed. */
  g_assert_cmpuint(signet_reminders_pick(days, 2, none, 10 * (gint64)DAY, &crossed), ==, 15);
  g_assert_cmpuint(crossed, ==, 2);
  g_assert_cmpuint(signet_reminders_pick(days, 2, both, 10 * (gint64)DAY, &crossed), ==, 0);
  /* Expired, or expiring this second: none. */
  g_assert_cmpuint(signet_reminders_pick(days, 2, none, 0, &crossed), ==, 0);
  g_assert_cmpuint(signet_reminders_pick(days, 2, none, -3 * (gint64)DAY, &crossed), ==, 0);
  g_assert_cmpuint(crossed, ==, 0);
  /* One second left: still the last reminder. */
  g_assert_cmpuint(signet_reminders_pick(days, 2, none, 1, NULL), ==, 15);
}

/* GLib's choice of notification backend, which decides whose bus name must
 * be there for a reminder to count as shown. */
static void
test_service(void)
{
  /* No environment: portal in a sandbox, GNOME Shell's name when owned. */
  g_assert_cmpstr(signet_reminders_notification_service(NULL, FALSE, FALSE), ==,
                  "org.freedesktop.Notifications");
  g_assert_cmpstr(signet_reminders_notification_service(NULL, FALSE, TRUE), ==,
                  "org.gtk.Notifications");
  g_assert_cmpstr(signet_reminders_notification_service(NULL, TRUE, TRUE), ==,
                  "org.freedesktop.portal.Desktop");
  /* GNOTIFICATION_BACKEND wins when supported, */
  g_assert_cmpstr(signet_reminders_notification_service("freedesktop", FALSE, TRUE), ==,
                  "org.freedesktop.Notifications");
  g_assert_cmpstr(signet_reminders_notification_service("freedesktop", TRUE, TRUE), ==,
                  "org.freedesktop.Notifications");
  g_assert_cmpstr(signet_reminders_notification_service("gtk", FALSE, TRUE), ==,
                  "org.gtk.Notifications");
  /* else GLib falls back by priority. */
  g_assert_cmpstr(signet_reminders_notification_service("gtk", FALSE, FALSE), ==,
                  "org.freedesktop.Notifications");
  g_assert_cmpstr(signet_reminders_notification_service("portal", FALSE, TRUE), ==,
                  "org.gtk.Notifications");
  g_assert_cmpstr(signet_reminders_notification_service("nonsense", FALSE, FALSE), ==,
                  "org.freedesktop.Notifications");
}

/* The state database: not shown until marked; marking forgets it; a
 * reminder sent is never recorded as not shown. */
static void
test_state_not_shown(void)
{
  g_autofree char *dir = g_dir_make_tmp("signet-reminders-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "signet.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  const char *const sidecars[] = { "", "-wal", "-shm", "-journal" };
  const SignetStateReminderNotShown *e;
  SignetState *state;
  gboolean sent = TRUE;

  g_assert_nonnull(dir);
  state = signet_state_open(path, &error);
  g_assert_no_error(error);
  g_assert_nonnull(state);

  g_assert_true(signet_state_reminder_not_shown(state, "T1", "CN=CA", "01", 45,
                                                "no notification service", 1000, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_reminder_not_shown(state, "T1", "CN=CA", "01", 45,
                                                "the session bus did not answer", 2000, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_reminder_not_shown(state, "T1", "CN=CA", "01", 15,
                                                "no notification service", 2000, &error));
  g_assert_no_error(error);
  /* Another certificate's. */
  g_assert_true(signet_state_reminder_not_shown(state, "T1", "CN=CA", "02", 45,
                                                "no notification service", 2000, &error));
  g_assert_no_error(error);

  list = signet_state_reminder_list_not_shown(state, "T1", "CN=CA", "01", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  e = g_ptr_array_index(list, 0);
  g_assert_cmpuint(e->threshold, ==, 45);
  g_assert_cmpint(e->first_try, ==, 1000);
  g_assert_cmpint(e->last_try, ==, 2000);
  g_assert_cmpuint(e->tries, ==, 2);
  g_assert_cmpstr(e->reason, ==, "the session bus did not answer");
  e = g_ptr_array_index(list, 1);
  g_assert_cmpuint(e->threshold, ==, 15);
  g_assert_cmpuint(e->tries, ==, 1);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* Not shown is not sent. */
  g_assert_true(signet_state_reminder_get(state, "T1", "CN=CA", "01", 45, &sent, NULL, &error));
  g_assert_no_error(error);
  g_assert_false(sent);

  /* Marked sent: no longer "not shown"; recording it again changes nothing. */
  g_assert_true(signet_state_reminder_mark(state, "T1", "CN=CA", "01", 45, 3000, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_reminder_not_shown(state, "T1", "CN=CA", "01", 45,
                                                "no notification service", 4000, &error));
  g_assert_no_error(error);
  list = signet_state_reminder_list_not_shown(state, "T1", "CN=CA", "01", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpuint(((const SignetStateReminderNotShown *)g_ptr_array_index(list, 0))->threshold, ==,
                   15);
  g_clear_pointer(&list, g_ptr_array_unref);
  g_assert_true(signet_state_reminder_get(state, "T1", "CN=CA", "01", 45, &sent, NULL, &error));
  g_assert_true(sent);

  /* The other certificate's is untouched. */
  list = signet_state_reminder_list_not_shown(state, "T1", "CN=CA", "02", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  g_clear_pointer(&list, g_ptr_array_unref);

  signet_state_free(state);
  for (guint i = 0; i < G_N_ELEMENTS(sidecars); i++) {
    g_autofree char *f = g_strconcat(path, sidecars[i], NULL);

    g_remove(f);
  }
  g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/reminders/days/parse", test_days_parse);
  g_test_add_func("/reminders/days/refused", test_days_refused);
  g_test_add_func("/reminders/command", test_command);
  g_test_add_func("/reminders/command/default", test_default_command);
  g_test_add_func("/reminders/pick", test_pick);
  g_test_add_func("/reminders/service", test_service);
  g_test_add_func("/reminders/state/not-shown", test_state_not_shown);
  return g_test_run();
}
