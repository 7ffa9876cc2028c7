/* test-dialogs-units.c: the dialogs of signet-gtk (ui-gtk/signet-gtk-dialogs.h)
 * built in-process under Xvfb, without an agent: the final-try confirmation's
 * answers, the rules that keep a button insensitive until a secret may be
 * sent, the export formats, and the accessible roles and names the
 * end-to-end tests drive the dialogs by. */
#include "config.h"

#include <adwaita.h>
#include <gtk/gtk.h>

#include "ui-gtk/signet-gtk-base-dialog.h"
#include "ui-gtk/signet-gtk-dialogs.h"

#include <string.h>

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

/* --- pure rules ------------------------------------------------------------ */

static void
test_new_pin_check(void)
{
  g_assert_cmpint(signet_gtk_new_pin_check("", "", 4, 8), ==, SIGNET_GTK_NEW_PIN_EMPTY);
  g_assert_cmpint(signet_gtk_new_pin_check("123", "123", 4, 8), ==, SIGNET_GTK_NEW_PIN_TOO_SHORT);
  g_assert_cmpint(signet_gtk_new_pin_check("123456789", "123456789", 4, 8), ==,
                  SIGNET_GTK_NEW_PIN_TOO_LONG);
  g_assert_cmpint(signet_gtk_new_pin_check("1234", "1235", 4, 8), ==, SIGNET_GTK_NEW_PIN_MISMATCH);
  g_assert_cmpint(signet_gtk_new_pin_check("1234", "123", 4, 8), ==, SIGNET_GTK_NEW_PIN_MISMATCH);
  g_assert_cmpint(signet_gtk_new_pin_check("1234", "1234", 4, 8), ==, SIGNET_GTK_NEW_PIN_OK);
  g_assert_cmpint(signet_gtk_new_pin_check("12345678", "12345678", 4, 8), ==,
                  SIGNET_GTK_NEW_PIN_OK);
  /* No limits given: any non-empty PIN up to SIGNET_SECRET_MAX. */
  g_assert_cmpint(signet_gtk_new_pin_check("1", "1", 0, 0), ==, SIGNET_GTK_NEW_PIN_OK);
}

static void
test_request_subject(void)
{
  g_autofree char *plain = signet_gtk_request_subject("Jan Kowalski", "Example", NULL, "PL", "");
  g_autofree char *escaped
      = signet_gtk_request_subject(" Example, Inc. ", "A+B \"C\"", "#1", NULL, "jan@example.pl");

  g_assert_cmpstr(plain, ==, "CN=Jan Kowalski,O=Example,C=PL");
  g_assert_cmpstr(escaped, ==,
                  "CN=Example\\, Inc.,emailAddress=jan@example.pl,OU=\\#1,O=A\\+B \\\"C\\\"");
  g_assert_null(signet_gtk_request_subject("  ", "Example", NULL, "PL", NULL));
  g_assert_null(signet_gtk_request_subject(NULL, "Example", NULL, "PL", NULL));
}

static GVariant *
two_certificates(void)
{
  static const guint8 holder[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
  static const guint8 ca[] = { 0x30, 0x03, 0x02, 0x01, 0x02 };
  GVariant *items[2];

  items[0] = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, holder, sizeof holder, 1);
  items[1] = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, ca, sizeof ca, 1);
  return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE_BYTESTRING, items, 2));
}

static void
test_export_bytes(void)
{
  g_autoptr(GVariant) certs = two_certificates();
  g_autoptr(GVariant) none
      = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE_BYTESTRING, NULL, 0));
  g_autoptr(GBytes) chain = signet_gtk_export_bytes(certs, SIGNET_GTK_EXPORT_PEM_CHAIN, NULL);
  g_autoptr(GBytes) holder = signet_gtk_export_bytes(certs, SIGNET_GTK_EXPORT_PEM_HOLDER, NULL);
  g_autoptr(GBytes) der = signet_gtk_export_bytes(certs, SIGNET_GTK_EXPORT_DER_HOLDER, NULL);
  g_autoptr(GError) error = NULL;
  static const char chain_pem[]
      = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"
        "-----BEGIN CERTIFICATE-----\nMAMCAQI=\n-----END CERTIFICATE-----\n";
  static const char holder_pem[]
      = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
  static const guint8 holder_der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
  gsize len;
  const char *data;

  data = g_bytes_get_data(chain, &len);
  g_assert_cmpmem(data, len, chain_pem, strlen(chain_pem));
  data = g_bytes_get_data(holder, &len);
  g_assert_cmpmem(data, len, holder_pem, strlen(holder_pem));
  data = g_bytes_get_data(der, &len);
  g_assert_cmpmem(data, len, holder_der, sizeof holder_der);
  g_assert_null(signet_gtk_export_bytes(none, SIGNET_GTK_EXPORT_PEM_CHAIN, &error));
  g_assert_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_FAILED);
  g_assert_cmpstr(signet_gtk_export_suggested_name(SIGNET_GTK_EXPORT_DER_HOLDER), ==,
                  "certificate.cer");
}

/* --- fake statuses ---------------------------------------------------------- */

typedef struct
{
  gboolean pin_locked, pin_final, pin_pad, puk_locked, puk_final;
  const char *unblock_method;
} Fake;

static GVariant *
fake_status(const Fake *fake)
{
  GVariantBuilder b, pin, puk;

  g_variant_builder_init(&pin, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&pin, "{sv}", "locked", g_variant_new_boolean(fake->pin_locked));
  g_variant_builder_add(&pin, "{sv}", "final_try", g_variant_new_boolean(fake->pin_final));
  g_variant_builder_add(&pin, "{sv}", "count_low", g_variant_new_boolean(fake->pin_final));
  g_variant_builder_add(&pin, "{sv}", "pin_pad", g_variant_new_boolean(fake->pin_pad));
  g_variant_builder_add(&pin, "{sv}", "min_length", g_variant_new_uint32(4));
  g_variant_builder_add(&pin, "{sv}", "max_length", g_variant_new_uint32(8));
  g_variant_builder_init(&puk, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&puk, "{sv}", "locked", g_variant_new_boolean(fake->puk_locked));
  g_variant_builder_add(&puk, "{sv}", "final_try", g_variant_new_boolean(fake->puk_final));
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "serial", g_variant_new_string("T1"));
  g_variant_builder_add(&b, "{sv}", "label", g_variant_new_string("Test token"));
  g_variant_builder_add(&b, "{sv}", "unblock_method",
                        g_variant_new_string(fake->unblock_method != NULL ? fake->unblock_method
                                                                          : "so-login-init-pin"));
  g_variant_builder_add(&b, "{sv}", "pin", g_variant_builder_end(&pin));
  g_variant_builder_add(&b, "{sv}", "puk", g_variant_builder_end(&puk));
  return g_variant_builder_end(&b);
}

static SignetGtkBaseDialog *
open_dialog(void (*open)(GtkWindow *, SignetAgent1 *, const char *), const char *name,
            const Fake *fake)
{
  GtkWidget *window;
  SignetGtkBaseDialog *dialog;

  open(parent_window, NULL, "T1");
  window = find_toplevel(name);
  g_assert_nonnull(window);
  dialog = signet_gtk_base_dialog_from_window(GTK_WINDOW(window));
  g_assert_nonnull(dialog);
  /* Before the status is read nothing can be sent. */
  g_assert_false(gtk_widget_get_sensitive(GTK_WIDGET(dialog->action_button)));
  signet_gtk_base_dialog_set_status(dialog, fake_status(fake));
  gtk_test_widget_wait_for_draw(window);
  return dialog;
}

static void
close_dialog(SignetGtkBaseDialog *dialog, const char *name)
{
  gtk_window_destroy(dialog->window);
  WAIT_UNTIL(find_toplevel(name) == NULL);
  g_assert_null(find_toplevel(name));
}

static void
type(SignetGtkBaseDialog *dialog, const char *id, const char *text)
{
  gtk_editable_set_text(signet_gtk_base_dialog_get(dialog, id), text);
}

static gboolean
action_ready(SignetGtkBaseDialog *dialog)
{
  return gtk_widget_get_visible(GTK_WIDGET(dialog->action_button))
         && gtk_widget_get_sensitive(GTK_WIDGET(dialog->action_button));
}

static gboolean
shown(SignetGtkBaseDialog *dialog, const char *id)
{
  return gtk_widget_get_visible(signet_gtk_base_dialog_get(dialog, id));
}

/* The field a holder types into is a text box named as its title. */
static void
assert_entry(SignetGtkBaseDialog *dialog, const char *id, const char *name)
{
  GtkWidget *row = signet_gtk_base_dialog_get(dialog, id);
  GtkEditable *text = gtk_editable_get_delegate(GTK_EDITABLE(row));

  /* AdwEntryRow is the text box; the GtkText inside is not shown to
   * accessibility technologies (role none) but is named too. */
  gtk_test_accessible_assert_role(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_ROLE_TEXT_BOX);
  gtk_test_accessible_assert_property(GTK_ACCESSIBLE(text), GTK_ACCESSIBLE_PROPERTY_LABEL, name);
  gtk_test_accessible_assert_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_LABEL, name);
}

static void
assert_button(GtkWidget *button, const char *name)
{
  gtk_test_accessible_assert_role(GTK_ACCESSIBLE(button), GTK_ACCESSIBLE_ROLE_BUTTON);
  g_assert_cmpstr(gtk_button_get_label(GTK_BUTTON(button)), ==, name);
}

/* --- Change PIN ---------------------------------------------------------------- */

static void
test_change_pin_rules(void)
{
  Fake fake = { 0 };
  SignetGtkBaseDialog *dialog = open_dialog(signet_gtk_change_pin, "signet-change-pin", &fake);

  assert_entry(dialog, "current_pin", "Current PIN");
  assert_entry(dialog, "new_pin", "New PIN");
  assert_entry(dialog, "new_pin_again", "New PIN again");
  assert_button(GTK_WIDGET(dialog->action_button), "C_hange PIN");
  assert_button(GTK_WIDGET(dialog->cancel_button), "_Cancel");
  g_assert_cmpstr(adw_action_row_get_subtitle(signet_gtk_base_dialog_get(dialog, "pin_state_row")),
                  ==, "no warning from the token");
  g_assert_false(action_ready(dialog));

  type(dialog, "current_pin", "1111");
  type(dialog, "new_pin", "5678");
  type(dialog, "new_pin_again", "567");
  g_assert_false(action_ready(dialog));
  type(dialog, "new_pin_again", "5679");
  g_assert_false(action_ready(dialog));
  g_assert_true(shown(dialog, "new_pin_hint"));
  type(dialog, "new_pin_again", "5678");
  g_assert_true(action_ready(dialog));
  /* Outside the token's limits (4 to 8). */
  type(dialog, "new_pin", "567");
  type(dialog, "new_pin_again", "567");
  g_assert_false(action_ready(dialog));
  g_assert_true(shown(dialog, "new_pin_hint"));
  type(dialog, "new_pin", "123456789");
  type(dialog, "new_pin_again", "123456789");
  g_assert_false(action_ready(dialog));
  type(dialog, "new_pin", "12345678");
  type(dialog, "new_pin_again", "12345678");
  g_assert_true(action_ready(dialog));
  /* No current PIN: nothing to send. */
  type(dialog, "current_pin", "");
  g_assert_false(action_ready(dialog));
  close_dialog(dialog, "signet-change-pin");
}

static void
test_change_pin_locked(void)
{
  Fake fake = { .pin_locked = TRUE };
  SignetGtkBaseDialog *dialog = open_dialog(signet_gtk_change_pin, "signet-change-pin", &fake);

  g_assert_false(shown(dialog, "entries_group"));
  g_assert_true(shown(dialog, "unblock_button"));
  assert_button(signet_gtk_base_dialog_get(dialog, "unblock_button"), "_Unblock with PUK…");
  g_assert_true(shown(dialog, "notice_label"));
  g_assert_false(action_ready(dialog));
  close_dialog(dialog, "signet-change-pin");

  fake = (Fake){ .pin_final = TRUE };
  dialog = open_dialog(signet_gtk_change_pin, "signet-change-pin", &fake);
  g_assert_true(shown(dialog, "entries_group"));
  g_assert_true(shown(dialog, "notice_label"));
  g_assert_nonnull(strstr(gtk_label_get_text(signet_gtk_base_dialog_get(dialog, "notice_label")),
                          "One try is left"));
  close_dialog(dialog, "signet-change-pin");
}

/* --- Unblock ------------------------------------------------------------------- */

static void
test_unblock_rules(void)
{
  Fake fake = { .pin_locked = TRUE };
  SignetGtkBaseDialog *dialog = open_dialog(signet_gtk_unblock_pin, "signet-unblock-pin", &fake);

  assert_entry(dialog, "puk", "PUK");
  assert_entry(dialog, "new_pin", "New PIN");
  assert_entry(dialog, "new_pin_again", "New PIN again");
  g_assert_cmpstr(adw_action_row_get_subtitle(signet_gtk_base_dialog_get(dialog, "pin_state_row")),
                  ==, "locked");
  g_assert_true(shown(dialog, "entries_group"));
  type(dialog, "puk", "12345678");
  type(dialog, "new_pin", "4321");
  type(dialog, "new_pin_again", "4321");
  g_assert_true(action_ready(dialog));
  type(dialog, "new_pin_again", "432");
  g_assert_false(action_ready(dialog));
  type(dialog, "new_pin_again", "4321");
  type(dialog, "puk", "");
  g_assert_false(action_ready(dialog));
  close_dialog(dialog, "signet-unblock-pin");
}

/* A locked PUK, or a method the agent does not know: no field, nothing to
 * send, and the dialog says why. */
static void
test_unblock_refused(gconstpointer data)
{
  Fake fake = { .pin_locked = TRUE };
  SignetGtkBaseDialog *dialog;

  if (g_str_equal(data, "puk-locked"))
    fake.puk_locked = TRUE;
  else
    fake.unblock_method = "unknown";
  dialog = open_dialog(signet_gtk_unblock_pin, "signet-unblock-pin", &fake);
  g_assert_false(shown(dialog, "entries_group"));
  g_assert_false(action_ready(dialog));
  g_assert_true(shown(dialog, "notice_label"));
  g_assert_cmpstr(gtk_label_get_text(signet_gtk_base_dialog_get(dialog, "notice_label")), !=, "");
  type(dialog, "puk", "12345678");
  type(dialog, "new_pin", "4321");
  type(dialog, "new_pin_again", "4321");
  g_assert_false(action_ready(dialog));
  close_dialog(dialog, "signet-unblock-pin");
}

/* --- Make a request, Import, Export: built from their .ui, the action only
 * when there is something to send ------------------------------------------ */

static void
test_request_rules(void)
{
  Fake fake = { 0 };
  SignetGtkBaseDialog *dialog = open_dialog(signet_gtk_make_request, "signet-request", &fake);

  assert_entry(dialog, "common_name", "Name (CN)");
  assert_entry(dialog, "pin", "PIN");
  gtk_test_accessible_assert_role(signet_gtk_base_dialog_get(dialog, "key_type_row"),
                                  GTK_ACCESSIBLE_ROLE_COMBO_BOX);
  assert_button(GTK_WIDGET(dialog->action_button), "_Make Request");
  g_assert_false(action_ready(dialog));
  type(dialog, "pin", "1234");
  g_assert_false(action_ready(dialog));
  type(dialog, "common_name", "Jan Kowalski");
  g_assert_true(action_ready(dialog));
  type(dialog, "pin", "");
  g_assert_false(action_ready(dialog));
  close_dialog(dialog, "signet-request");
}

/* While CreateRequest runs the key is being made on the token and the
 * request exists only in the answer the dialog waits for: the dialog cannot
 * be closed (Cancel insensitive, closing refused) and says it will offer to
 * save the request. Once the answer came it closes again. */
static void
test_request_held(void)
{
  Fake fake = { 0 };
  SignetGtkBaseDialog *dialog = open_dialog(signet_gtk_make_request, "signet-request", &fake);
  GtkLabel *busy = signet_gtk_base_dialog_get(dialog, "busy_label");

  g_assert_true(gtk_widget_get_sensitive(GTK_WIDGET(dialog->cancel_button)));
  signet_gtk_request_dialog_set_making(dialog);
  g_assert_true(shown(dialog, "busy_box"));
  g_assert_nonnull(strstr(gtk_label_get_text(busy), "offers to save"));
  g_assert_false(gtk_widget_get_sensitive(GTK_WIDGET(dialog->cancel_button)));
  g_assert_false(action_ready(dialog));
  /* Escape and the window manager close through close-request. */
  gtk_window_close(dialog->window);
  for (int i = 0; i < 20; i++)
    g_main_context_iteration(NULL, FALSE);
  g_assert_nonnull(find_toplevel("signet-request"));
  g_assert_nonnull(dialog->window);

  /* The answer came (an error here: the dialog stays, and may close). */
  signet_gtk_base_dialog_set_busy(dialog, NULL);
  g_assert_true(gtk_widget_get_sensitive(GTK_WIDGET(dialog->cancel_button)));
  g_assert_false(shown(dialog, "busy_box"));
  gtk_window_close(dialog->window);
  WAIT_UNTIL(find_toplevel("signet-request") == NULL);
  g_assert_null(find_toplevel("signet-request"));
}

static void
test_import_rules(void)
{
  Fake fake = { 0 };
  SignetGtkBaseDialog *dialog = open_dialog(signet_gtk_import_certificate, "signet-import", &fake);

  assert_entry(dialog, "pin", "PIN");
  assert_button(signet_gtk_base_dialog_get(dialog, "choose_button"), "C_hoose File…");
  assert_button(signet_gtk_base_dialog_get(dialog, "anchor_button"), "Choose _Root…");
  g_assert_cmpstr(adw_action_row_get_subtitle(signet_gtk_base_dialog_get(dialog, "anchor_row")), ==,
                  "Only the roots this computer trusts");
  assert_button(GTK_WIDGET(dialog->action_button), "_Import");
  /* No file chosen: nothing to send, whatever the PIN. */
  type(dialog, "pin", "1234");
  g_assert_false(action_ready(dialog));
  g_assert_false(shown(dialog, "allow_expired"));
  g_assert_false(shown(dialog, "replace"));
  close_dialog(dialog, "signet-import");
}

static void
open_export(GtkWindow *parent, SignetAgent1 *agent, const char *token)
{
  signet_gtk_export_certificate(parent, agent, token, "01AB");
}

static void
test_export_dialog(void)
{
  Fake fake = { 0 };
  SignetGtkBaseDialog *dialog = open_dialog(open_export, "signet-export", &fake);

  gtk_test_accessible_assert_role(signet_gtk_base_dialog_get(dialog, "format_row"),
                                  GTK_ACCESSIBLE_ROLE_COMBO_BOX);
  assert_button(GTK_WIDGET(dialog->action_button), "_Export…");
  g_assert_true(action_ready(dialog));
  close_dialog(dialog, "signet-export");
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
  g_test_add_func("/dialogs/rules/new-pin", test_new_pin_check);
  g_test_add_func("/dialogs/rules/subject", test_request_subject);
  g_test_add_func("/dialogs/rules/export-bytes", test_export_bytes);
  g_test_add_func("/dialogs/change-pin/rules", test_change_pin_rules);
  g_test_add_func("/dialogs/change-pin/locked", test_change_pin_locked);
  g_test_add_func("/dialogs/unblock/rules", test_unblock_rules);
  g_test_add_data_func("/dialogs/unblock/puk-locked", "puk-locked", test_unblock_refused);
  g_test_add_data_func("/dialogs/unblock/unknown-method", "unknown", test_unblock_refused);
  g_test_add_func("/dialogs/request/rules", test_request_rules);
  g_test_add_func("/dialogs/request/held", test_request_held);
  g_test_add_func("/dialogs/import/rules", test_import_rules);
  g_test_add_func("/dialogs/export/dialog", test_export_dialog);
  return g_test_run();
}
