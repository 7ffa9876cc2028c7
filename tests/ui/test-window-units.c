/* test-window-units.c: the window in-process (GTK under Xvfb, run by
 * tests/ui/test-window-units.sh): the rules of ui-gtk/signet-gtk-rules.h as
 * plain functions (the short PIN words, what a token page offers, the
 * expiry banner from 45 days), and the main window and pages built from
 * their templates, drawn, with the roles and accessible names that
 * docs/internals/window.md promises the end-to-end tests. */
#include "config.h"

#include "ui-gtk/signet-gtk-activate-page.h"
#include "ui-gtk/signet-gtk-history-page.h"
#include "ui-gtk/signet-gtk-rules.h"
#include "ui-gtk/signet-gtk-secret.h"
#include "ui-gtk/signet-gtk-token-page.h"
#include "ui-gtk/signet-gtk-window.h"

#include <adwaita.h>

/* A status with @pin_flags ("locked,final_try", …) set in its "pin". */
static GVariant *
status_with(const char *pin_flags, const char *puk_flags, const char *method,
            gboolean write_protected, GVariant *certs)
{
  GVariantBuilder pin, puk, status;
  g_auto(GStrv) pf = g_strsplit(pin_flags, ",", -1);
  g_auto(GStrv) kf = g_strsplit(puk_flags, ",", -1);

  g_variant_builder_init(&pin, G_VARIANT_TYPE_VARDICT);
  for (int i = 0; pf[i] != NULL; i++)
    if (*pf[i] != '\0')
      g_variant_builder_add(&pin, "{sv}", pf[i], g_variant_new_boolean(TRUE));
  g_variant_builder_init(&puk, G_VARIANT_TYPE_VARDICT);
  for (int i = 0; kf[i] != NULL; i++)
    if (*kf[i] != '\0')
      g_variant_builder_add(&puk, "{sv}", kf[i], g_variant_new_boolean(TRUE));
  g_variant_builder_init(&status, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&status, "{sv}", "label", g_variant_new_string("Test Token"));
  g_variant_builder_add(&status, "{sv}", "serial", g_variant_new_string("0123abcd"));
  g_variant_builder_add(&status, "{sv}", "model", g_variant_new_string("SoftHSM v2"));
  g_variant_builder_add(&status, "{sv}", "unblock_method", g_variant_new_string(method));
  g_variant_builder_add(&status, "{sv}", "write_protected", g_variant_new_boolean(write_protected));
  g_variant_builder_add(&status, "{sv}", "pin", g_variant_builder_end(&pin));
  g_variant_builder_add(&status, "{sv}", "puk", g_variant_builder_end(&puk));
  if (certs != NULL)
    g_variant_builder_add(&status, "{sv}", "certificates", certs);
  return g_variant_ref_sink(g_variant_builder_end(&status));
}

static GVariant *
cert(gint64 days_left, gboolean authority, gboolean has_key)
{
  GVariantBuilder b;
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "subject",
                        g_variant_new_string("CN=Jan Kowalski,O=Example,C=PL"));
  g_variant_builder_add(&b, "{sv}", "issuer", g_variant_new_string("CN=Test CA"));
  g_variant_builder_add(&b, "{sv}", "serial", g_variant_new_string("1a2b"));
  g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string("abcd"));
  g_variant_builder_add(&b, "{sv}", "not_before", g_variant_new_string("2026-01-01T00:00:00Z"));
  g_variant_builder_add(&b, "{sv}", "not_after", g_variant_new_string("2027-01-01T00:00:00Z"));
  g_variant_builder_add(&b, "{sv}", "days_left", g_variant_new_int64(days_left));
  g_variant_builder_add(&b, "{sv}", "expired", g_variant_new_boolean(days_left < 0));
  g_variant_builder_add(&b, "{sv}", "authority", g_variant_new_boolean(authority));
  g_variant_builder_add(&b, "{sv}", "has_key", g_variant_new_boolean(has_key));
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

static void
test_pin_short_state(void)
{
  g_autoptr(GVariant) none = status_with("", "", "so-login-init-pin", FALSE, NULL);
  g_autoptr(GVariant) last
      = status_with("count_low,final_try", "", "so-login-init-pin", FALSE, NULL);
  g_autoptr(GVariant) locked = status_with("locked", "", "so-login-init-pin", FALSE, NULL);
  g_autoptr(GVariant) low = status_with("count_low", "final_try", "so-login-init-pin", FALSE, NULL);

  g_assert_cmpstr(signet_gtk_pin_short_state(none), ==, "the token does not say");
  g_assert_cmpstr(signet_gtk_pin_short_state(NULL), ==, "the token does not say");
  g_assert_cmpstr(signet_gtk_pin_short_state(last), ==, "last try");
  g_assert_cmpstr(signet_gtk_pin_short_state(locked), ==, "locked: unblock it with your PUK");
  g_assert_cmpstr(signet_gtk_pin_short_state(low), ==, "a wrong PIN was entered");
  g_assert_null(signet_gtk_puk_short_state(none));
  g_assert_cmpstr(signet_gtk_puk_short_state(low), ==, "last try");
}

static void
test_offers(void)
{
  const SignetGtkOffers all = SIGNET_GTK_OFFER_ACTIVATE | SIGNET_GTK_OFFER_CHANGE_PIN
                              | SIGNET_GTK_OFFER_UNBLOCK | SIGNET_GTK_OFFER_REQUEST
                              | SIGNET_GTK_OFFER_IMPORT | SIGNET_GTK_OFFER_HISTORY;
  g_autoptr(GVariant) fine = status_with("", "", "so-login-init-pin", FALSE, NULL);
  g_autoptr(GVariant) final = status_with("final_try", "", "so-login-init-pin", FALSE, NULL);
  g_autoptr(GVariant) locked = status_with("locked", "", "so-login-init-pin", FALSE, NULL);
  g_autoptr(GVariant) puk_locked
      = status_with("locked", "locked", "so-login-init-pin", FALSE, NULL);
  g_autoptr(GVariant) unknown = status_with("", "", "unknown", FALSE, NULL);
  g_autoptr(GVariant) ro = status_with("", "", "so-login-init-pin", TRUE, NULL);

  g_assert_cmpint(signet_gtk_token_offers(fine), ==, all);
  /* The final try is asked (with a confirmation), not refused. */
  g_assert_cmpint(signet_gtk_token_offers(final), ==, all);
  g_assert_cmpint(signet_gtk_token_offers(locked), ==,
                  SIGNET_GTK_OFFER_UNBLOCK | SIGNET_GTK_OFFER_HISTORY);
  g_assert_cmpint(signet_gtk_token_offers(puk_locked), ==, SIGNET_GTK_OFFER_HISTORY);
  g_assert_cmpint(signet_gtk_token_offers(unknown), ==, all & ~SIGNET_GTK_OFFER_UNBLOCK);
  g_assert_cmpint(signet_gtk_token_offers(ro), ==,
                  SIGNET_GTK_OFFER_CHANGE_PIN | SIGNET_GTK_OFFER_UNBLOCK
                      | SIGNET_GTK_OFFER_HISTORY);
}

static void
test_banner_rule(void)
{
  static const struct
  {
    gint64 days;
    gboolean authority, has_key;
    SignetGtkCertState state;
    gboolean renewable;
  } cases[] = {
    { 365, FALSE, TRUE, SIGNET_GTK_CERT_VALID, TRUE },
    { 46, FALSE, TRUE, SIGNET_GTK_CERT_VALID, TRUE },
    { 45, FALSE, TRUE, SIGNET_GTK_CERT_RENEW_SOON, TRUE },
    { 15, FALSE, TRUE, SIGNET_GTK_CERT_RENEW_SOON, TRUE },
    { 0, FALSE, TRUE, SIGNET_GTK_CERT_RENEW_SOON, TRUE },
    { -1, FALSE, TRUE, SIGNET_GTK_CERT_EXPIRED, FALSE },
    { 10, FALSE, FALSE, SIGNET_GTK_CERT_VALID, FALSE }, /* no key: nothing to renew with */
    { 10, TRUE, FALSE, SIGNET_GTK_CERT_AUTHORITY, FALSE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GVariant) c = cert(cases[i].days, cases[i].authority, cases[i].has_key);
    g_test_message("case %" G_GSIZE_FORMAT ": %" G_GINT64_FORMAT " days", i, cases[i].days);
    g_assert_cmpint(signet_gtk_cert_state(c), ==, cases[i].state);
    g_assert_cmpint(signet_gtk_cert_renewable(c), ==, cases[i].renewable);
  }
}

static void
test_operation_and_errors(void)
{
  GVariantBuilder b;
  g_autoptr(GVariant) op = NULL;
  g_autofree char *todo = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) wrong
      = g_dbus_error_new_for_dbus_error("io.signet.Error.PinIncorrect", "Wrong PIN for token 'x'");
  g_autoptr(GError) expired
      = g_dbus_error_new_for_dbus_error("io.signet.Error.CodeExpired", "The code expired");

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "kind", g_variant_new_string("renew"));
  g_variant_builder_add(&b, "{sv}", "state", g_variant_new_string("running"));
  g_variant_builder_add(&b, "{sv}", "message", g_variant_new_string("cut short at store"));
  g_variant_builder_add(&b, "{sv}", "needs_pin", g_variant_new_boolean(TRUE));
  op = g_variant_ref_sink(g_variant_builder_end(&b));
  todo = signet_gtk_operation_todo(op);
  g_assert_true(g_str_has_prefix(todo, "cut short at store\n"));
  g_assert_nonnull(strstr(todo, "Renew again with your PIN"));

  g_assert_cmpstr(signet_gtk_step_title("activate", "generate-key"), ==,
                  "Generate the key on the token");
  g_assert_cmpstr(signet_gtk_step_title("renew", "new-step"), ==, "new-step");
  g_assert_cmpstr(signet_gtk_steps("renew")[0], ==, "check-certificate");
  g_assert_cmpstr(signet_gtk_steps("activate")[0], ==, "check-token");

  g_assert_cmpstr(signet_gtk_error_title(wrong), ==, "Wrong PIN");
  g_assert_cmpstr(signet_gtk_error_title(expired), ==, "The activation code has expired");
  text = signet_gtk_error_text(wrong);
  /* Kind, the agent's message without the D-Bus name, the next step. */
  g_assert_true(g_str_has_prefix(text, "Wrong PIN\nWrong PIN for token 'x'\nCheck the PIN"));
  g_assert_null(strstr(text, "io.signet.Error"));
}

/* --- widgets ----------------------------------------------------------------------- */

static GtkWidget *
find_button(GtkWidget *widget, const char *label)
{
  if (GTK_IS_BUTTON(widget) && g_strcmp0(gtk_button_get_label(GTK_BUTTON(widget)), label) == 0)
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child(widget); c != NULL;
       c = gtk_widget_get_next_sibling(c)) {
    GtkWidget *found = find_button(c, label);
    if (found != NULL)
      return found;
  }
  return NULL;
}

static GtkWidget *
child(GtkWidget *widget, GType type, const char *name)
{
  GObject *object = gtk_widget_get_template_child(widget, type, name);
  g_assert_nonnull(object);
  return GTK_WIDGET(object);
}

static void
test_main_window(void)
{
  SignetGtkWindow *window = signet_gtk_window_new(NULL, NULL);
  GtkWidget *w = GTK_WIDGET(window);

  gtk_window_present(GTK_WINDOW(window));
  gtk_test_widget_wait_for_draw(w);
  gtk_test_accessible_assert_role(GTK_ACCESSIBLE(window), GTK_ACCESSIBLE_ROLE_WINDOW);
  /* Without an agent it says it is connecting. */
  g_assert_cmpstr(
      gtk_stack_get_visible_child_name(GTK_STACK(child(w, SIGNET_GTK_TYPE_WINDOW, "main_stack"))),
      ==, "connecting");
  gtk_test_accessible_assert_role(child(w, SIGNET_GTK_TYPE_WINDOW, "token_list"),
                                  GTK_ACCESSIBLE_ROLE_LIST);
  gtk_test_accessible_assert_property(child(w, SIGNET_GTK_TYPE_WINDOW, "token_list"),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, "Tokens");
  gtk_test_accessible_assert_role(child(w, SIGNET_GTK_TYPE_WINDOW, "retry_button"),
                                  GTK_ACCESSIBLE_ROLE_BUTTON);
  gtk_test_accessible_assert_property(child(w, SIGNET_GTK_TYPE_WINDOW, "back_button"),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, "Back");
  gtk_window_destroy(GTK_WINDOW(window));
}

static GtkWidget *
in_window(GtkWidget *page)
{
  GtkWidget *window = gtk_window_new();
  gtk_window_set_default_size(GTK_WINDOW(window), 800, 900);
  gtk_window_set_child(GTK_WINDOW(window), page);
  gtk_window_present(GTK_WINDOW(window));
  gtk_test_widget_wait_for_draw(window);
  return window;
}

static void
test_token_page(void)
{
  GtkWidget *page = g_object_new(SIGNET_GTK_TYPE_TOKEN_PAGE, NULL);
  GtkWidget *window = in_window(page);
  g_autoptr(GVariant) soon = cert(30, FALSE, TRUE);
  g_autoptr(GVariant) ca = cert(3000, TRUE, FALSE);
  GVariant *list[] = { soon, ca };
  g_autoptr(GVariant) status
      = status_with("", "", "so-login-init-pin", FALSE,
                    g_variant_new_array(G_VARIANT_TYPE_VARDICT, list, G_N_ELEMENTS(list)));
  g_autoptr(GVariant) locked = status_with("locked", "", "so-login-init-pin", FALSE, NULL);
  static const char *const buttons[][2] = {
    { "activate_button", "Activate" },
    { "change_pin_button", "Change PIN" },
    { "unblock_button", "Unblock with PUK" },
    { "request_button", "Make a request for a web portal" },
    { "import_button", "Import a certificate" },
    { "history_button", "History" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(buttons); i++) {
    GtkWidget *b = child(page, SIGNET_GTK_TYPE_TOKEN_PAGE, buttons[i][0]);
    gtk_test_accessible_assert_role(b, GTK_ACCESSIBLE_ROLE_BUTTON);
    gtk_test_accessible_assert_property(b, GTK_ACCESSIBLE_PROPERTY_LABEL, buttons[i][1]);
  }
  signet_gtk_token_page_set_status(SIGNET_GTK_TOKEN_PAGE(page), status);
  gtk_test_widget_wait_for_draw(window);
  /* 30 days left: the banner with its Renew button; the certificate's own. */
  g_assert_nonnull(find_button(page, "_Renew"));
  g_assert_nonnull(find_button(page, "Re_new…"));
  g_assert_nonnull(find_button(page, "_Export…"));
  g_assert_cmpstr(adw_action_row_get_subtitle(
                      ADW_ACTION_ROW(child(page, SIGNET_GTK_TYPE_TOKEN_PAGE, "pin_row"))),
                  ==, "the token does not say (no warning from the token)");

  /* A locked PIN: only the unblock (and the history) can start. */
  signet_gtk_token_page_set_status(SIGNET_GTK_TOKEN_PAGE(page), locked);
  g_assert_false(
      gtk_widget_get_sensitive(child(page, SIGNET_GTK_TYPE_TOKEN_PAGE, "change_pin_button")));
  g_assert_false(
      gtk_widget_get_sensitive(child(page, SIGNET_GTK_TYPE_TOKEN_PAGE, "activate_button")));
  g_assert_null(find_button(page, "_Renew"));
  gtk_window_destroy(GTK_WINDOW(window));
}

static void
test_activate_page(void)
{
  GtkWidget *page = g_object_new(SIGNET_GTK_TYPE_ACTIVATE_PAGE, NULL);
  GtkWidget *window = in_window(page);
  GtkWidget *pin = child(page, SIGNET_GTK_TYPE_ACTIVATE_PAGE, "pin_entry");
  SignetSecret *secret;

  gtk_test_accessible_assert_property(pin, GTK_ACCESSIBLE_PROPERTY_LABEL, "PIN");
  gtk_test_accessible_assert_property(child(page, SIGNET_GTK_TYPE_ACTIVATE_PAGE, "code_entry"),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, "Activation code");
  gtk_test_accessible_assert_property(child(page, SIGNET_GTK_TYPE_ACTIVATE_PAGE, "reference_entry"),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, "Reference number");
  gtk_test_accessible_assert_role(child(page, SIGNET_GTK_TYPE_ACTIVATE_PAGE, "start_button"),
                                  GTK_ACCESSIBLE_ROLE_BUTTON);
  gtk_test_accessible_assert_property(child(page, SIGNET_GTK_TYPE_ACTIVATE_PAGE, "start_button"),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, "Start activation");
  g_assert_false(signet_gtk_activate_page_get_running(SIGNET_GTK_ACTIVATE_PAGE(page)));

  /* The PIN leaves the entry into a secret; the entry is empty after. */
  gtk_editable_set_text(GTK_EDITABLE(pin), "123456");
  secret = signet_gtk_secret_take(GTK_EDITABLE(pin));
  g_assert_nonnull(secret);
  g_assert_cmpmem(signet_secret_get_data(secret), signet_secret_get_len(secret), "123456", 6);
  g_assert_cmpstr(gtk_editable_get_text(GTK_EDITABLE(pin)), ==, "");
  g_assert_null(signet_gtk_secret_take(GTK_EDITABLE(pin)));
  g_variant_unref(g_variant_ref_sink(signet_gtk_secret_to_variant(secret)));
  gtk_window_destroy(GTK_WINDOW(window));
}

static void
test_history_page(void)
{
  GtkWidget *page = g_object_new(SIGNET_GTK_TYPE_HISTORY_PAGE, NULL);
  GtkWidget *window = in_window(page);
  g_autoptr(GVariant) entries = g_variant_ref_sink(g_variant_new_parsed(
      "[{'time': <int64 1700000000>, 'operation': <'renew'>, 'outcome': <'ok'>, 'detail': <''>},"
      " {'time': <int64 1690000000>, 'operation': <'change-pin'>, 'outcome': <'failed'>,"
      "  'detail': <'wrong PIN'>}]"));

  signet_gtk_history_page_set_entries(SIGNET_GTK_HISTORY_PAGE(page), entries);
  gtk_test_widget_wait_for_draw(window);
  g_assert_cmpstr(signet_gtk_history_operation("renew"), ==, "Renewal");
  g_assert_cmpstr(signet_gtk_history_outcome("rolled-back"), ==, "undone");
  g_assert_cmpstr(signet_gtk_history_outcome("new-outcome"), ==, "new-outcome");
  gtk_window_destroy(GTK_WINDOW(window));
}

int
main(int argc, char **argv)
{
  gtk_test_init(&argc, &argv, NULL);
  adw_init();
  g_test_set_nonfatal_assertions();

  g_test_add_func("/window/rules/pin-short-state", test_pin_short_state);
  g_test_add_func("/window/rules/offers", test_offers);
  g_test_add_func("/window/rules/banner-from-45-days", test_banner_rule);
  g_test_add_func("/window/rules/operations-and-errors", test_operation_and_errors);
  g_test_add_func("/window/main-window", test_main_window);
  g_test_add_func("/window/token-page", test_token_page);
  g_test_add_func("/window/activate-page", test_activate_page);
  g_test_add_func("/window/history-page", test_history_page);
  return g_test_run();
}
