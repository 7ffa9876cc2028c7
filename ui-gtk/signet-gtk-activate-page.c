/* signet-gtk-activate-page.c: see signet-gtk-activate-page.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-activate-page.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-progress.h"
#include "ui-gtk/signet-gtk-rules.h"
#include "ui-gtk/signet-gtk-secret.h"

#include <glib/gi18n.h>

struct _SignetGtkActivatePage
{
  GtkBox parent_instance;

  SignetGtkOperation op; /* the form, the PIN, the steps, the result */
  AdwComboRow *ca_row;
  AdwActionRow *reference_row, *code_row;
  GtkEditable *reference_entry, *code_entry;

  char *want_profile;
  GPtrArray *profiles; /* names, in the combo's order */
};

G_DEFINE_TYPE(SignetGtkActivatePage, signet_gtk_activate_page, GTK_TYPE_BOX)

enum
{
  PROP_0,
  PROP_RUNNING,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

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
  if (name != NULL && self->op.proxy != NULL)
    signet_agent1_call_get_profile(self->op.proxy, name, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
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
    (void)signet_gtk_secret_show_error(self->op.form_error, NULL, NULL, error,
                                       SIGNET_GTK_TRIES_PIN_AND_PUK, NULL, NULL);
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
  if (self->profiles->len == 0)
    signet_gtk_operation_form_error(
        &self->op, _("No certificate authority is set up on this computer. Your certificate "
                     "authority provides a profile file for Signet: install it, then come back "
                     "here."));
  g_object_unref(self);
}

/* --- the activation ---------------------------------------------------------------- */

static gboolean
ready(SignetGtkOperation *op)
{
  SignetGtkActivatePage *self = SIGNET_GTK_ACTIVATE_PAGE(op->page);

  if (selected_profile(self) != NULL)
    return TRUE;
  signet_gtk_operation_form_error(op, _("Choose your certificate authority first."));
  return FALSE;
}

static void
send(SignetGtkOperation *op, GVariant *pin, GVariantDict *options, GAsyncReadyCallback done)
{
  SignetGtkActivatePage *self = SIGNET_GTK_ACTIVATE_PAGE(op->page);
  SignetSecret *code = signet_gtk_secret_take(self->code_entry);

  if (code == NULL)
    code = signet_secret_new("", 0);
  signet_agent1_call_activate(op->proxy, op->token, selected_profile(self),
                              gtk_editable_get_text(self->reference_entry),
                              signet_gtk_secret_to_variant(code), pin, g_variant_dict_end(options),
                              G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT, NULL, done, op);
}

static void
succeeded(SignetGtkOperation *op)
{
  gtk_editable_set_text(SIGNET_GTK_ACTIVATE_PAGE(op->page)->reference_entry, "");
}

void
signet_gtk_activate_page_open(SignetGtkActivatePage *self, SignetAgent1 *proxy, const char *token,
                              const char *label, GVariant *status)
{
  g_autoptr(GVariant) activations = NULL;

  g_return_if_fail(SIGNET_GTK_IS_ACTIVATE_PAGE(self));
  if (!signet_gtk_operation_open(&self->op, proxy, token, label, status))
    return;
  g_clear_pointer(&self->want_profile, g_free);
  /* An unfinished activation: its CA first. */
  activations = status != NULL
                    ? g_variant_lookup_value(status, "activations", G_VARIANT_TYPE("aa{sv}"))
                    : NULL;
  if (activations != NULL && g_variant_n_children(activations) > 0) {
    g_autoptr(GVariant) first = g_variant_get_child_value(activations, 0);
    (void)g_variant_lookup(first, "profile", "s", &self->want_profile);
  }
  gtk_editable_set_text(self->code_entry, "");
  signet_gtk_operation_show_form(&self->op);
  if (proxy != NULL)
    signet_agent1_call_list_profiles(proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_profiles_cb,
                                     g_object_ref(self));
}

gboolean
signet_gtk_activate_page_get_running(SignetGtkActivatePage *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_ACTIVATE_PAGE(self), FALSE);
  return self->op.running;
}

static void
signet_gtk_activate_page_get_property(GObject *object, guint prop_id, GValue *value,
                                      GParamSpec *pspec)
{
  if (prop_id == PROP_RUNNING)
    g_value_set_boolean(value, SIGNET_GTK_ACTIVATE_PAGE(object)->op.running);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void
signet_gtk_activate_page_dispose(GObject *object)
{
  SignetGtkActivatePage *self = SIGNET_GTK_ACTIVATE_PAGE(object);
  signet_gtk_operation_clear(&self->op);
  gtk_widget_dispose_template(GTK_WIDGET(self), SIGNET_GTK_TYPE_ACTIVATE_PAGE);
  G_OBJECT_CLASS(signet_gtk_activate_page_parent_class)->dispose(object);
}

static void
signet_gtk_activate_page_finalize(GObject *object)
{
  SignetGtkActivatePage *self = SIGNET_GTK_ACTIVATE_PAGE(object);
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
  gtk_widget_class_set_template_from_resource(widget_class,
                                              "/io/signet/Signet/signet-gtk-activate-page.ui");
  signet_gtk_operation_bind_template(widget_class, G_STRUCT_OFFSET(SignetGtkActivatePage, op));
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, SignetGtkActivatePage, name)
  BIND(ca_row);
  BIND(reference_row);
  BIND(code_row);
  BIND(reference_entry);
  BIND(code_entry);
#undef BIND
}

static void
signet_gtk_activate_page_init(SignetGtkActivatePage *self)
{
  gtk_widget_init_template(GTK_WIDGET(self));
  self->profiles = g_ptr_array_new_with_free_func(g_free);
  self->op.running_pspec = props[PROP_RUNNING];
  self->op.name = "activate";
  self->op.op = SIGNET_CLIENT_OP_ACTIVATE;
  self->op.running_text = _("Activating… You may close the window: the agent keeps working.");
  self->op.done_text = _("The token is activated");
  self->op.failed_text = _("The activation did not finish");
  self->op.ready = ready;
  self->op.send = send;
  self->op.finish = signet_agent1_call_activate_finish;
  self->op.succeeded = succeeded;
  signet_gtk_operation_init(&self->op, GTK_WIDGET(self));
  g_signal_connect(self->ca_row, "notify::selected", G_CALLBACK(on_ca_selected_cb), self);
  g_signal_connect_swapped(self->code_entry, "activate", G_CALLBACK(gtk_widget_grab_focus),
                           self->op.pin_entry);
}
