/* signet-gtk-activate-page.c: see signet-gtk-activate-page.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-activate-page.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-progress.h"
#include "ui-gtk/signet-gtk-rules.h"
#include "ui-gtk/signet-gtk-screenshot.h"
#include "ui-gtk/signet-gtk-secret.h"

#include <glib/gi18n.h>

struct _SignetGtkActivatePage
{
  GtkBox parent_instance;

  GtkWidget *form_box, *run_box;
  AdwComboRow *ca_row;
  AdwActionRow *reference_row, *code_row, *pin_row;
  GtkEditable *reference_entry, *code_entry, *pin_entry;
  GtkLabel *form_error, *run_label, *run_error;
  GtkButton *start_button, *again_button;
  SignetGtkProgress *progress;

  SignetAgent1 *proxy;
  char *token;
  char *label;
  char *want_profile;
  GPtrArray *profiles; /* names, in the combo's order */
  gboolean running;
};

G_DEFINE_TYPE(SignetGtkActivatePage, signet_gtk_activate_page, GTK_TYPE_BOX)

enum
{
  PROP_0,
  PROP_RUNNING,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void
set_running(SignetGtkActivatePage *self, gboolean running)
{
  self->running = running;
  gtk_widget_set_sensitive(GTK_WIDGET(self->start_button), !running);
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RUNNING]);
}

static void
show_form(SignetGtkActivatePage *self)
{
  gtk_widget_set_visible(self->run_box, FALSE);
  gtk_widget_set_visible(self->form_box, TRUE);
  signet_gtk_screenshot_later(GTK_WIDGET(self), "activate");
}

/* --- the CA ------------------------------------------------------------------ */

static void
on_profile_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkActivatePage) self = data;
  g_autoptr(GVariant) profile = NULL;
  const char *prompt = "";

  if (!signet_agent1_call_get_profile_finish(SIGNET_AGENT1(source), &profile, res, NULL))
    return;
  (void)g_variant_lookup(profile, "reference_prompt", "&s", &prompt);
  adw_action_row_set_subtitle(self->reference_row, prompt);
  prompt = "";
  (void)g_variant_lookup(profile, "code_prompt", "&s", &prompt);
  adw_action_row_set_subtitle(self->code_row, prompt);
}

static const char *
selected_profile(SignetGtkActivatePage *self)
{
  guint i = adw_combo_row_get_selected(self->ca_row);
  return self->profiles != NULL && i < self->profiles->len ? self->profiles->pdata[i] : NULL;
}

static void
on_ca_selected_cb(GObject *row, GParamSpec *pspec, SignetGtkActivatePage *self)
{
  const char *name = selected_profile(self);
  adw_action_row_set_subtitle(self->reference_row, "");
  adw_action_row_set_subtitle(self->code_row, "");
  if (name != NULL && self->proxy != NULL)
    signet_agent1_call_get_profile(self->proxy, name, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                   on_profile_cb, g_object_ref(self));
}

static void
on_profiles_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GVariant) profiles = NULL;
  g_autoptr(GVariant) problems = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GtkStringList) names = gtk_string_list_new(NULL);
  SignetGtkActivatePage *self = SIGNET_GTK_ACTIVATE_PAGE(data);
  guint select = 0;
  GVariantIter iter;
  GVariant *profile;

  if (!signet_agent1_call_list_profiles_finish(SIGNET_AGENT1(source), &profiles, &problems, res,
                                               &error)) {
    signet_gtk_secret_show_error(self->form_error, NULL, NULL, error);
    g_object_unref(self);
    return;
  }
  g_ptr_array_set_size(self->profiles, 0);
  g_variant_iter_init(&iter, profiles);
  while ((profile = g_variant_iter_next_value(&iter)) != NULL) {
    const char *name = "", *display = "";
    (void)g_variant_lookup(profile, "name", "&s", &name);
    (void)g_variant_lookup(profile, "display_name", "&s", &display);
    if (g_strcmp0(name, self->want_profile) == 0)
      select = self->profiles->len;
    g_ptr_array_add(self->profiles, g_strdup(name));
    gtk_string_list_append(names, *display != '\0' ? display : name);
    g_variant_unref(profile);
  }
  adw_combo_row_set_model(self->ca_row, G_LIST_MODEL(names));
  if (self->profiles->len > 0)
    adw_combo_row_set_selected(self->ca_row, select);
  on_ca_selected_cb(NULL, NULL, self);
  if (self->profiles->len == 0) {
    gtk_label_set_text(self->form_error,
                       _("No certificate authority is set up on this computer. Your certificate "
                         "authority provides a profile file for Signet: install it, then come "
                         "back here."));
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
  }
  g_object_unref(self);
}

/* --- the activation ---------------------------------------------------------------- */

static void
on_activated_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkActivatePage) self = data;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;

  if (!signet_agent1_call_activate_finish(SIGNET_AGENT1(source), &result, res, &error)) {
    signet_gtk_progress_finish(self->progress, FALSE);
    gtk_label_set_text(self->run_label, _("The activation did not finish"));
    signet_gtk_secret_show_error(self->run_error, self->proxy, self->token, error);
    signet_gtk_secret_show_error(self->form_error, self->proxy, self->token, error);
    gtk_widget_set_visible(GTK_WIDGET(self->again_button), TRUE);
  } else {
    signet_gtk_progress_finish(self->progress, TRUE);
    signet_gtk_progress_set_result(self->progress, result);
    gtk_label_set_text(self->run_label, _("The token is activated"));
    gtk_editable_set_text(self->reference_entry, "");
  }
  set_running(self, FALSE);
  signet_gtk_screenshot_later(GTK_WIDGET(self), "activate-result");
}

static void
on_secret_ready_cb(gboolean go, gboolean confirmed_final_try, gboolean pin_pad, const GError *error,
                   gpointer data)
{
  SignetGtkActivatePage *self = data; /* a reference, dropped here or by on_activated_cb */
  g_autoptr(GVariantDict) options = g_variant_dict_new(NULL);
  SignetSecret *pin, *code;
  const char *request_id;

  if (!go) {
    /* Nothing is sent: a refusal, or the final try not confirmed. */
    gtk_editable_set_text(self->pin_entry, "");
    if (error != NULL)
      signet_gtk_secret_show_error(self->form_error, self->proxy, self->token, error);
    else {
      gtk_label_set_text(self->form_error, _("Nothing was sent to the token."));
      gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
    }
    set_running(self, FALSE);
    g_object_unref(self);
    return;
  }
  pin = pin_pad ? signet_secret_new("", 0) : signet_gtk_secret_take(self->pin_entry);
  if (pin == NULL) {
    gtk_label_set_text(self->form_error, _("Type the token's PIN first."));
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
    set_running(self, FALSE);
    g_object_unref(self);
    return;
  }
  code = signet_gtk_secret_take(self->code_entry);
  if (code == NULL)
    code = signet_secret_new("", 0);
  request_id = signet_gtk_progress_start(self->progress, self->proxy, "activate");
  g_variant_dict_insert(options, "request-id", "s", request_id);
  if (confirmed_final_try)
    g_variant_dict_insert(options, "confirm-final-try", "b", TRUE);
  gtk_label_set_text(self->run_label,
                     _("Activating… You may close the window: the agent keeps working."));
  gtk_widget_set_visible(GTK_WIDGET(self->run_error), FALSE);
  gtk_widget_set_visible(GTK_WIDGET(self->again_button), FALSE);
  gtk_widget_set_visible(self->form_box, FALSE);
  gtk_widget_set_visible(self->run_box, TRUE);
  signet_agent1_call_activate(self->proxy, self->token, selected_profile(self),
                              gtk_editable_get_text(self->reference_entry),
                              signet_gtk_secret_to_variant(code), signet_gtk_secret_to_variant(pin),
                              g_variant_dict_end(options), G_DBUS_CALL_FLAGS_NONE,
                              SIGNET_GTK_CALL_TIMEOUT, NULL, on_activated_cb, self);
  signet_gtk_screenshot_later(GTK_WIDGET(self), "activate-progress");
}

static void
on_start_clicked_cb(GtkWidget *button, SignetGtkActivatePage *self)
{
  if (self->running || self->proxy == NULL)
    return;
  gtk_widget_set_visible(GTK_WIDGET(self->form_error), FALSE);
  if (selected_profile(self) == NULL) {
    gtk_label_set_text(self->form_error, _("Choose your certificate authority first."));
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
    return;
  }
  set_running(self, TRUE);
  signet_gtk_secret_check(GTK_WIDGET(self), self->proxy, self->token, self->label,
                          SIGNET_CLIENT_OP_ACTIVATE, on_secret_ready_cb, g_object_ref(self));
}

static void
on_again_clicked_cb(GtkButton *button, SignetGtkActivatePage *self)
{
  show_form(self);
}

void
signet_gtk_activate_page_open(SignetGtkActivatePage *self, SignetAgent1 *proxy, const char *token,
                              const char *label, GVariant *status)
{
  g_autoptr(GVariant) activations = NULL;
  g_autofree char *pin_state = NULL;

  g_return_if_fail(SIGNET_GTK_IS_ACTIVATE_PAGE(self));
  if (self->running)
    return;
  g_set_object(&self->proxy, proxy);
  g_free(self->token);
  self->token = g_strdup(token);
  g_free(self->label);
  self->label = g_strdup(label);
  g_clear_pointer(&self->want_profile, g_free);
  /* An unfinished activation: its CA first. */
  activations = status != NULL
                    ? g_variant_lookup_value(status, "activations", G_VARIANT_TYPE("aa{sv}"))
                    : NULL;
  if (activations != NULL && g_variant_n_children(activations) > 0) {
    g_autoptr(GVariant) first = g_variant_get_child_value(activations, 0);
    (void)g_variant_lookup(first, "profile", "s", &self->want_profile);
  }
  pin_state = g_strdup_printf(_("The PIN: %s"), signet_gtk_pin_short_state(status));
  adw_action_row_set_subtitle(self->pin_row, pin_state);
  gtk_editable_set_text(self->code_entry, "");
  gtk_editable_set_text(self->pin_entry, "");
  gtk_widget_set_visible(GTK_WIDGET(self->form_error), FALSE);
  show_form(self);
  if (proxy != NULL)
    signet_agent1_call_list_profiles(proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_profiles_cb,
                                     g_object_ref(self));
}

gboolean
signet_gtk_activate_page_get_running(SignetGtkActivatePage *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_ACTIVATE_PAGE(self), FALSE);
  return self->running;
}

static void
signet_gtk_activate_page_get_property(GObject *object, guint prop_id, GValue *value,
                                      GParamSpec *pspec)
{
  if (prop_id == PROP_RUNNING)
    g_value_set_boolean(value, SIGNET_GTK_ACTIVATE_PAGE(object)->running);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void
signet_gtk_activate_page_dispose(GObject *object)
{
  SignetGtkActivatePage *self = SIGNET_GTK_ACTIVATE_PAGE(object);
  g_clear_object(&self->proxy);
  gtk_widget_dispose_template(GTK_WIDGET(self), SIGNET_GTK_TYPE_ACTIVATE_PAGE);
  G_OBJECT_CLASS(signet_gtk_activate_page_parent_class)->dispose(object);
}

static void
signet_gtk_activate_page_finalize(GObject *object)
{
  SignetGtkActivatePage *self = SIGNET_GTK_ACTIVATE_PAGE(object);
  g_free(self->token);
  g_free(self->label);
  g_free(self->want_profile);
  g_ptr_array_unref(self->profiles);
  G_OBJECT_CLASS(signet_gtk_activate_page_parent_class)->finalize(object);
}

static void
signet_gtk_activate_page_class_init(SignetGtkActivatePageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
  GObjectClass *object_class = G_OBJECT_CLASS(klass);

  object_class->get_property = signet_gtk_activate_page_get_property;
  object_class->dispose = signet_gtk_activate_page_dispose;
  object_class->finalize = signet_gtk_activate_page_finalize;
  props[PROP_RUNNING] = g_param_spec_boolean("running", NULL, NULL, FALSE,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);
  g_type_ensure(SIGNET_GTK_TYPE_PROGRESS);
  gtk_widget_class_set_template_from_resource(widget_class,
                                              "/io/signet/Signet/signet-gtk-activate-page.ui");
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, SignetGtkActivatePage, name)
  BIND(form_box);
  BIND(run_box);
  BIND(ca_row);
  BIND(reference_row);
  BIND(code_row);
  BIND(pin_row);
  BIND(reference_entry);
  BIND(code_entry);
  BIND(pin_entry);
  BIND(form_error);
  BIND(run_label);
  BIND(run_error);
  BIND(start_button);
  BIND(again_button);
  BIND(progress);
#undef BIND
}

static void
signet_gtk_activate_page_init(SignetGtkActivatePage *self)
{
  gtk_widget_init_template(GTK_WIDGET(self));
  self->profiles = g_ptr_array_new_with_free_func(g_free);
  g_signal_connect(self->start_button, "clicked", G_CALLBACK(on_start_clicked_cb), self);
  g_signal_connect(self->again_button, "clicked", G_CALLBACK(on_again_clicked_cb), self);
  g_signal_connect(self->ca_row, "notify::selected", G_CALLBACK(on_ca_selected_cb), self);
  g_signal_connect(self->pin_entry, "activate", G_CALLBACK(on_start_clicked_cb), self);
  g_signal_connect_swapped(self->code_entry, "activate", G_CALLBACK(gtk_widget_grab_focus),
                           self->pin_entry);
}
