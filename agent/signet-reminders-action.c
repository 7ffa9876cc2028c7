/* signet-reminders-action.c: the application action "renew" (ss), what
 * "Renew now" on a reminder runs (docs/internals/reminders.md, "The action
 * renew").
 *
 * Owns: the action on the GApplication, its target checked (it comes over
 * the session bus), the renew command: renew-command= checked and expanded
 * (%t, %c, %%), else the window (signet-gtk --token … --renew …) when it is
 * installed, else the terminal; and the command started (GSubprocess, not
 * waited for).
 * May call: GLib/GIO (GAction, GSubprocess).
 *
 * Threads: the main context.
 */
#include "config.h"

#include "agent/signet-reminders.h"
#include "agent/signet-reminders-private.h"

#include <string.h>

#define MAX_TOKEN_SERIAL 64
#define MAX_KEY_ID_HEX   256

/* ---- the command ---------------------------------------------------------- */

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

char *
signet_reminders_window_program(void)
{
  char *found = g_find_program_in_path(SIGNET_REMINDERS_WINDOW);

  if (found == NULL
      && g_file_test(SIGNET_BINDIR "/" SIGNET_REMINDERS_WINDOW, G_FILE_TEST_IS_EXECUTABLE))
    found = g_strdup(SIGNET_BINDIR "/" SIGNET_REMINDERS_WINDOW);
  return found;
}

/* ---- the action ----------------------------------------------------------- */

/* 1 to @max characters, each one @allowed says yes to. */
static gboolean
is_short_word(const char *s, gsize max, gboolean (*allowed)(char c))
{
  gsize n = strlen(s);

  if (n == 0 || n > max)
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!allowed(*p))
      return FALSE;
  return TRUE;
}

static gboolean
is_serial_char(char c)
{
  return g_ascii_isalnum(c) || strchr("-_.:", c) != NULL;
}

static gboolean
is_hex_char(char c)
{
  return g_ascii_isxdigit(c);
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
  if (!is_short_word(serial, MAX_TOKEN_SERIAL, is_serial_char)
      || !is_short_word(key_id, MAX_KEY_ID_HEX, is_hex_char)) {
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

void
signet_reminders_action_add(SignetReminders *r)
{
  g_autoptr(GSimpleAction) action = g_simple_action_new(ACTION_RENEW, G_VARIANT_TYPE("(ss)"));

  g_signal_connect(action, "activate", G_CALLBACK(on_renew_activate_cb), r);
  g_action_map_add_action(G_ACTION_MAP(r->app), G_ACTION(action));
}

void
signet_reminders_action_remove(SignetReminders *r)
{
  if (r->app != NULL && g_action_map_lookup_action(G_ACTION_MAP(r->app), ACTION_RENEW) != NULL)
    g_action_map_remove_action(G_ACTION_MAP(r->app), ACTION_RENEW);
}
