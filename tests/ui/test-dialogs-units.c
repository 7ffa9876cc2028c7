/* test-dialogs-units.c: the dialogs of signet-gtk (ui-gtk/signet-gtk-dialogs.h)
 * built in-process under Xvfb, without an agent: the final-try confirmation's
 * answers, the rules that keep a button insensitive until a secret may be
 * sent, the export formats, and the accessible roles and names the
 * end-to-end tests drive the dialogs by. */
#include "config.h"

#include <adwaita.h>
#include <gtk/gtk.h>

#include "ui-gtk/signet-gtk-dialogs.h"

/* Iterates the main loop until @cond holds, at most ~5 s of iterations
 * (bounded, never a fixed sleep). */
#define WAIT_UNTIL(cond)                                                                           \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 _end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;                                     \
    while (!(cond) && g_get_monotonic_time() < _end)                                               \
      g_main_context_iteration(NULL, FALSE);                                                       \
  }                                                                                                \
  G_STMT_END

/* The window the dialogs are modal on, as the token page is. */
static GtkWindow *parent_window;

static GtkWidget *
find_toplevel(const char *name)
{
  GListModel *toplevels = gtk_window_get_toplevels();

  for (guint i = 0; i < g_list_model_get_n_items(toplevels); i++) {
    g_autoptr(GtkWidget) w = g_list_model_get_item(toplevels, i);
    if (g_strcmp0(gtk_widget_get_name(w), name) == 0 && gtk_widget_get_visible(w))
      return w;
  }
  return NULL;
}

/* The button labelled @label (mnemonic included) under @root, or NULL. */
static GtkWidget *
find_button(GtkWidget *root, const char *label)
{
  if (GTK_IS_BUTTON(root) && g_strcmp0(gtk_button_get_label(GTK_BUTTON(root)), label) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child(root); c != NULL;
       c = gtk_widget_get_next_sibling(c)) {
    GtkWidget *found = find_button(c, label);
    if (found != NULL)
      return found;
  }
  return NULL;
}

/* Activates @button as a keyboard user does; GTK 4 emits "clicked" once its
 * press animation ran, so iterate until it did. */
static void
on_clicked_cb(GtkButton *button, gpointer data)
{
  (void)button;
  *(gboolean *)data = TRUE;
}

static void
press(GtkWidget *button)
{
  gboolean clicked = FALSE;
  gulong id;

  g_assert_nonnull(button);
  g_assert_true(gtk_widget_is_sensitive(button));
  id = g_signal_connect(button, "clicked", G_CALLBACK(on_clicked_cb), &clicked);
  g_object_ref(button);
  gtk_widget_activate(button);
  WAIT_UNTIL(clicked);
  g_assert_true(clicked);
  g_signal_handler_disconnect(button, id);
  g_object_unref(button);
}

/* --- the final-try confirmation ------------------------------------------ */

typedef struct
{
  int calls;
  gboolean confirmed;
} Answer;

static void
on_done_cb(gboolean confirmed, gpointer data)
{
  Answer *answer = data;
  answer->calls++;
  answer->confirmed = confirmed;
}

static AdwMessageDialog *
open_confirm(SignetClientSecret which, Answer *answer)
{
  GtkWidget *dialog;

  signet_gtk_confirm_final_try(parent_window, which, "Test token", on_done_cb, answer);
  dialog = find_toplevel("signet-final-try");
  g_assert_nonnull(dialog);
  g_assert_true(ADW_IS_MESSAGE_DIALOG(dialog));
  gtk_test_widget_wait_for_draw(dialog);
  return ADW_MESSAGE_DIALOG(dialog);
}

static void
test_confirm_answers(gconstpointer data)
{
  SignetClientSecret which = GPOINTER_TO_INT(data);
  Answer answer = { 0, TRUE };
  AdwMessageDialog *dialog = open_confirm(which, &answer);

  /* The safe answer is the default (Enter) and the close (Escape) one. */
  g_assert_cmpstr(adw_message_dialog_get_default_response(dialog), ==, "cancel");
  g_assert_cmpstr(adw_message_dialog_get_close_response(dialog), ==, "cancel");
  g_assert_cmpint(adw_message_dialog_get_response_appearance(dialog, "continue"), ==,
                  ADW_RESPONSE_DESTRUCTIVE);
  g_assert_cmpstr(adw_message_dialog_get_heading(dialog), ==,
                  which == SIGNET_CLIENT_SECRET_PUK ? "Last PUK Try" : "Last PIN Try");
  g_assert_nonnull(strstr(adw_message_dialog_get_body(dialog), "Test token"));
  gtk_test_accessible_assert_role(GTK_ACCESSIBLE(dialog), GTK_ACCESSIBLE_ROLE_DIALOG);

  gtk_test_accessible_assert_role(GTK_ACCESSIBLE(find_button(GTK_WIDGET(dialog), "_Cancel")),
                                  GTK_ACCESSIBLE_ROLE_BUTTON);
  press(find_button(GTK_WIDGET(dialog), "_Cancel"));
  WAIT_UNTIL(answer.calls > 0);
  g_assert_cmpint(answer.calls, ==, 1);
  g_assert_false(answer.confirmed);
  WAIT_UNTIL(find_toplevel("signet-final-try") == NULL);
  g_assert_null(find_toplevel("signet-final-try"));
  g_assert_cmpint(answer.calls, ==, 1);

  answer = (Answer){ 0, FALSE };
  dialog = open_confirm(which, &answer);
  press(find_button(GTK_WIDGET(dialog), "C_ontinue"));
  WAIT_UNTIL(answer.calls > 0);
  g_assert_cmpint(answer.calls, ==, 1);
  g_assert_true(answer.confirmed);
  WAIT_UNTIL(find_toplevel("signet-final-try") == NULL);
  g_assert_cmpint(answer.calls, ==, 1);
}

/* Closing the window (Escape, the window manager) or destroying it is a
 * Cancel: done(FALSE), once. */
static void
test_confirm_closed(void)
{
  Answer answer = { 0, TRUE };
  AdwMessageDialog *dialog = open_confirm(SIGNET_CLIENT_SECRET_PIN, &answer);

  gtk_window_close(GTK_WINDOW(dialog));
  WAIT_UNTIL(answer.calls > 0);
  g_assert_cmpint(answer.calls, ==, 1);
  g_assert_false(answer.confirmed);

  answer = (Answer){ 0, TRUE };
  dialog = open_confirm(SIGNET_CLIENT_SECRET_PUK, &answer);
  gtk_window_destroy(GTK_WINDOW(dialog));
  WAIT_UNTIL(answer.calls > 0);
  g_assert_cmpint(answer.calls, ==, 1);
  g_assert_false(answer.confirmed);
}

int
main(int argc, char **argv)
{
  gtk_test_init(&argc, &argv, NULL);
  adw_init();
  parent_window = GTK_WINDOW(gtk_window_new());
  gtk_window_present(parent_window);

  g_test_add_data_func("/dialogs/confirm/pin", GINT_TO_POINTER(SIGNET_CLIENT_SECRET_PIN),
                       test_confirm_answers);
  g_test_add_data_func("/dialogs/confirm/puk", GINT_TO_POINTER(SIGNET_CLIENT_SECRET_PUK),
                       test_confirm_answers);
  g_test_add_func("/dialogs/confirm/closed", test_confirm_closed);
  return g_test_run();
}
