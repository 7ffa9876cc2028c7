/* signet-gtk-window.c: see signet-gtk-window.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-window.h"

#include "ui-gtk/signet-gtk-activate-page.h"
#include "ui-gtk/signet-gtk-batch-page.h"
#include "ui-gtk/signet-gtk-history-page.h"
#include "ui-gtk/signet-gtk-renew-page.h"
#include "ui-gtk/signet-gtk-screenshot.h"
#include "ui-gtk/signet-gtk-token-page.h"

#include <glib/gi18n.h>

struct _SignetGtkWindow
{
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toasts;
  GtkStack *main_stack;
  AdwStatusPage *no_agent_page;
  GtkButton *retry_button;
  AdwLeaflet *leaflet;
  GtkWidget *sidebar;
  GtkWidget *content;
  GtkListBox *token_list;
  GtkButton *back_button;
  AdwWindowTitle *content_title;
  GtkStack *content_stack;
  SignetGtkTokenPage *token_page;
  SignetGtkActivatePage *activate_page;
  SignetGtkRenewPage *renew_page;
  SignetGtkHistoryPage *history_page;
  SignetGtkBatchPage *batch_page;
  GtkButton *batch_button;

  SignetGtkAgent *agent;
  SignetAgent1 *proxy; /* the agent's, while it is there */
  GCancellable *cancellable;
  char *serial;        /* the token shown */
  char *want_serial;   /* --token: open when it appears */
  char *want_renew;    /* --renew: its renewal page once the token is shown */
  guint running;       /* operations running: the window stays */
  gboolean list_again; /* hotplug while ListTokens ran */
  gboolean listing;
};

G_DEFINE_TYPE(SignetGtkWindow, signet_gtk_window, ADW_TYPE_APPLICATION_WINDOW)

/* The GResource glib-compile-resources made (ui-gtk/signet-gtk-resources.c):
 * named here so that the linker keeps it out of the convenience library; its
 * constructor registers it. */
GResource *signet_gtk_get_resource(void);

static void list_tokens(SignetGtkWindow *self);

void
signet_gtk_window_toast(GtkWidget *widget, const char *text)
{
  GtkRoot *root = gtk_widget_get_root(widget);
  if (SIGNET_GTK_IS_WINDOW(root))
    adw_toast_overlay_add_toast(SIGNET_GTK_WINDOW(root)->toasts, adw_toast_new(text));
}

/* --- navigation ---------------------------------------------------------------- */

static const char *
token_label(SignetGtkWindow *self)
{
  const char *label = signet_gtk_token_page_get_label(self->token_page);
  return label != NULL && *label != '\0' ? label : self->serial;
}

static void
show_content(SignetGtkWindow *self, const char *name)
{
  static const struct
  {
    const char *name;
    const char *title;
  } titles[] = {
    { "none", N_("Signet") }, { "token", N_("Token") },     { "activate", N_("Activate") },
    { "renew", N_("Renew") }, { "history", N_("History") }, { "batch", N_("Group Activation") },
  };
  const char *title = "";

  for (gsize i = 0; i < G_N_ELEMENTS(titles); i++)
    if (g_str_equal(titles[i].name, name))
      title = _(titles[i].title);
  adw_window_title_set_title(self->content_title, title);
  adw_window_title_set_subtitle(
      self->content_title,
      g_str_equal(name, "none") || g_str_equal(name, "batch") ? "" : token_label(self));
  gtk_stack_set_visible_child_name(self->content_stack, name);
  if (!g_str_equal(name, "none"))
    adw_leaflet_set_visible_child(self->leaflet, self->content);
  gtk_widget_set_visible(GTK_WIDGET(self->back_button),
                         !g_str_equal(name, "token") || adw_leaflet_get_folded(self->leaflet));
  if (g_str_equal(name, "none"))
    gtk_widget_set_visible(GTK_WIDGET(self->back_button), adw_leaflet_get_folded(self->leaflet));
  signet_gtk_screenshot_later(GTK_WIDGET(self), name);
}

static void
on_back_clicked_cb(GtkButton *button, SignetGtkWindow *self)
{
  const char *name = gtk_stack_get_visible_child_name(self->content_stack);

  if (self->serial != NULL && g_strcmp0(name, "token") != 0 && g_strcmp0(name, "none") != 0) {
    signet_gtk_token_page_reload(self->token_page);
    show_content(self, "token");
  } else {
    adw_leaflet_navigate(self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
  }
}

static void
on_folded_cb(GObject *leaflet, GParamSpec *pspec, SignetGtkWindow *self)
{
  show_content(self, gtk_stack_get_visible_child_name(self->content_stack));
}

static void
show_token(SignetGtkWindow *self, const char *serial)
{
  if (g_strcmp0(self->serial, serial) != 0) {
    g_free(self->serial);
    self->serial = g_strdup(serial);
  }
  signet_gtk_token_page_show(self->token_page, self->proxy, serial);
  show_content(self, "token");
}

static void
on_token_selected_cb(GtkListBox *list, GtkListBoxRow *row, SignetGtkWindow *self)
{
  const char *serial;

  if (row == NULL)
    return;
  serial = g_object_get_data(G_OBJECT(row), "serial");
  /* A page of the same token keeps its place (a running activation). */
  if (g_strcmp0(serial, self->serial) == 0
      && g_strcmp0(gtk_stack_get_visible_child_name(self->content_stack), "none") != 0) {
    adw_leaflet_set_visible_child(self->leaflet, self->content);
    return;
  }
  show_token(self, serial);
}

static void
on_status_loaded_cb(SignetGtkTokenPage *page, SignetGtkWindow *self)
{
  g_autofree char *cert = g_steal_pointer(&self->want_renew);

  adw_window_title_set_subtitle(self->content_title, token_label(self));
  if (cert != NULL)
    signet_gtk_renew_page_open(self->renew_page, self->proxy, self->serial, token_label(self),
                               signet_gtk_token_page_get_status(page), cert);
  if (cert != NULL)
    show_content(self, "renew");
}

static void
on_activate_requested_cb(SignetGtkTokenPage *page, SignetGtkWindow *self)
{
  signet_gtk_activate_page_open(self->activate_page, self->proxy, self->serial, token_label(self),
                                signet_gtk_token_page_get_status(page));
  show_content(self, "activate");
}

static void
on_renew_requested_cb(SignetGtkTokenPage *page, const char *cert, SignetGtkWindow *self)
{
  signet_gtk_renew_page_open(self->renew_page, self->proxy, self->serial, token_label(self),
                             signet_gtk_token_page_get_status(page), cert);
  show_content(self, "renew");
}

static void
on_batch_clicked_cb(GtkButton *button, SignetGtkWindow *self)
{
  signet_gtk_batch_page_open(self->batch_page, self->proxy);
  show_content(self, "batch");
}

static void
on_history_requested_cb(SignetGtkTokenPage *page, SignetGtkWindow *self)
{
  signet_gtk_history_page_load(self->history_page, self->proxy, self->serial, token_label(self));
  show_content(self, "history");
}

/* An operation started or ended: while one runs, closing only hides. */
static void
on_running_cb(GObject *page, GParamSpec *pspec, SignetGtkWindow *self)
{
  gboolean running = FALSE;
  GtkApplication *app = gtk_window_get_application(GTK_WINDOW(self));

  g_object_get(page, "running", &running, NULL);
  if (running) {
    self->running++;
    if (app != NULL)
      g_application_hold(G_APPLICATION(app));
  } else if (self->running > 0) {
    self->running--;
    if (app != NULL)
      g_application_release(G_APPLICATION(app));
    signet_gtk_token_page_reload(self->token_page);
  }
  gtk_window_set_hide_on_close(GTK_WINDOW(self), self->running > 0);
  signet_gtk_token_page_set_busy(self->token_page, self->running > 0);
  /* Closed while it ran: the operation is over, so is the window. */
  if (self->running == 0 && !gtk_widget_get_visible(GTK_WIDGET(self)))
    gtk_window_destroy(GTK_WINDOW(self));
}

/* --- the token list ------------------------------------------------------------ */

static GtkWidget *
token_row(GVariant *token)
{
  const char *serial = "", *label = "", *model = "", *manufacturer = "";
  g_autofree char *subtitle = NULL;
  GtkWidget *row = adw_action_row_new();
  GtkWidget *icon = gtk_image_new_from_icon_name("io.signet.Signet-symbolic");

  (void)g_variant_lookup(token, "serial", "&s", &serial);
  (void)g_variant_lookup(token, "label", "&s", &label);
  (void)g_variant_lookup(token, "model", "&s", &model);
  (void)g_variant_lookup(token, "manufacturer", "&s", &manufacturer);
  subtitle = g_strdup_printf(_("%s · serial %s"), *model != '\0' ? model : manufacturer, serial);
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), *label != '\0' ? label : serial);
  adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
  adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
  adw_action_row_add_prefix(ADW_ACTION_ROW(row), icon);
  gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row), TRUE);
  gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                 *label != '\0' ? label : serial,
                                 GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, subtitle, -1);
  g_object_set_data_full(G_OBJECT(row), "serial", g_strdup(serial), g_free);
  return row;
}

static void
on_list_tokens_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GVariant) tokens = NULL;
  g_autoptr(GError) error = NULL;
  SignetGtkWindow *self;
  GtkWidget *child;
  GtkListBoxRow *select = NULL;
  gboolean shown_present = FALSE;
  GVariantIter iter;
  GVariant *token;

  if (!signet_agent1_call_list_tokens_finish(SIGNET_AGENT1(source), &tokens, res, &error)
      && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = SIGNET_GTK_WINDOW(data);
  self->listing = FALSE;
  if (tokens == NULL) {
    g_autofree char *text
        = g_strdup_printf(_("The tokens could not be listed: %s"), error->message);
    signet_gtk_window_toast(GTK_WIDGET(self), text);
    return;
  }
  while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->token_list))) != NULL
         && GTK_IS_LIST_BOX_ROW(child))
    gtk_list_box_remove(self->token_list, child);
  g_variant_iter_init(&iter, tokens);
  while ((token = g_variant_iter_next_value(&iter)) != NULL) {
    GtkWidget *row = token_row(token);
    const char *serial = g_object_get_data(G_OBJECT(row), "serial");
    gtk_list_box_append(self->token_list, row);
    if (g_strcmp0(serial, self->want_serial) == 0
        || (self->want_serial == NULL && g_strcmp0(serial, self->serial) == 0))
      select = GTK_LIST_BOX_ROW(row);
    if (g_strcmp0(serial, self->serial) == 0)
      shown_present = TRUE;
    g_variant_unref(token);
  }
  /* --renew alone, and one token: that one. */
  if (select == NULL && self->want_renew != NULL && g_variant_n_children(tokens) == 1)
    select = gtk_list_box_get_row_at_index(self->token_list, 0);
  if (select != NULL) {
    g_signal_handlers_block_by_func(self->token_list, on_token_selected_cb, self);
    gtk_list_box_select_row(self->token_list, select);
    g_signal_handlers_unblock_by_func(self->token_list, on_token_selected_cb, self);
    if (g_strcmp0(g_object_get_data(G_OBJECT(select), "serial"), self->serial) != 0
        || self->want_serial != NULL || self->want_renew != NULL)
      show_token(self, g_object_get_data(G_OBJECT(select), "serial"));
    else if (g_strcmp0(gtk_stack_get_visible_child_name(self->content_stack), "token") == 0)
      signet_gtk_token_page_reload(self->token_page);
    g_clear_pointer(&self->want_serial, g_free);
  } else if (!shown_present && self->running == 0) {
    /* The token shown went away. */
    g_clear_pointer(&self->serial, g_free);
    show_content(self, "none");
  }
  if (self->list_again) {
    self->list_again = FALSE;
    list_tokens(self);
  }
}

static void
list_tokens(SignetGtkWindow *self)
{
  if (self->proxy == NULL)
    return;
  if (self->listing) {
    self->list_again = TRUE;
    return;
  }
  self->listing = TRUE;
  signet_agent1_call_list_tokens(self->proxy, G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT,
                                 self->cancellable, on_list_tokens_cb, self);
}

static void
on_hotplug_cb(SignetAgent1 *proxy, GVariant *reader, SignetGtkWindow *self)
{
  list_tokens(self);
}

/* --- the agent ------------------------------------------------------------------- */

static void
on_agent_proxy_cb(GObject *agent, GParamSpec *pspec, SignetGtkWindow *self)
{
  SignetAgent1 *proxy = signet_gtk_agent_get_proxy(self->agent);

  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data(self->proxy, self);
  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  self->cancellable = g_cancellable_new();
  self->listing = FALSE;
  g_set_object(&self->proxy, proxy);
  if (proxy == NULL) {
    if (signet_gtk_agent_is_connecting(self->agent)) {
      gtk_stack_set_visible_child_name(self->main_stack, "connecting");
    } else {
      adw_status_page_set_description(self->no_agent_page,
                                      signet_gtk_agent_get_problem(self->agent));
      gtk_stack_set_visible_child_name(self->main_stack, "no-agent");
      signet_gtk_screenshot_later(GTK_WIDGET(self), "no-agent");
    }
    return;
  }
  g_signal_connect(proxy, "token-added", G_CALLBACK(on_hotplug_cb), self);
  g_signal_connect(proxy, "token-removed", G_CALLBACK(on_hotplug_cb), self);
  g_signal_connect(proxy, "token-changed", G_CALLBACK(on_hotplug_cb), self);
  gtk_stack_set_visible_child_name(self->main_stack, "main");
  if (self->serial == NULL)
    show_content(self, "none");
  list_tokens(self);
}

/* A dialog (PIN change, unblock, import) closed: read the token again. */
static void
on_is_active_cb(GObject *window, GParamSpec *pspec, SignetGtkWindow *self)
{
  if (gtk_window_is_active(GTK_WINDOW(self)) && self->serial != NULL
      && g_strcmp0(gtk_stack_get_visible_child_name(self->content_stack), "token") == 0)
    signet_gtk_token_page_reload(self->token_page);
}

static void
on_retry_clicked_cb(GtkButton *button, SignetGtkWindow *self)
{
  if (self->agent != NULL)
    signet_gtk_agent_retry(self->agent);
}

void
signet_gtk_window_open(SignetGtkWindow *self, const char *token, const char *renew_cert)
{
  g_return_if_fail(SIGNET_GTK_IS_WINDOW(self));
  g_free(self->want_serial);
  self->want_serial = g_strdup(token != NULL ? token : self->serial);
  g_free(self->want_renew);
  self->want_renew = g_strdup(renew_cert);
  list_tokens(self);
}

static void
signet_gtk_window_dispose(GObject *object)
{
  SignetGtkWindow *self = SIGNET_GTK_WINDOW(object);

  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data(self->proxy, self);
  g_clear_object(&self->proxy);
  if (self->agent != NULL)
    g_signal_handlers_disconnect_by_data(self->agent, self);
  g_clear_object(&self->agent);
  gtk_widget_dispose_template(GTK_WIDGET(self), SIGNET_GTK_TYPE_WINDOW);
  G_OBJECT_CLASS(signet_gtk_window_parent_class)->dispose(object);
}

static void
signet_gtk_window_finalize(GObject *object)
{
  SignetGtkWindow *self = SIGNET_GTK_WINDOW(object);
  g_free(self->serial);
  g_free(self->want_serial);
  g_free(self->want_renew);
  G_OBJECT_CLASS(signet_gtk_window_parent_class)->finalize(object);
}

static void
signet_gtk_window_class_init(SignetGtkWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

  G_OBJECT_CLASS(klass)->dispose = signet_gtk_window_dispose;
  G_OBJECT_CLASS(klass)->finalize = signet_gtk_window_finalize;
  (void)signet_gtk_get_resource();
  g_type_ensure(SIGNET_GTK_TYPE_TOKEN_PAGE);
  g_type_ensure(SIGNET_GTK_TYPE_ACTIVATE_PAGE);
  g_type_ensure(SIGNET_GTK_TYPE_RENEW_PAGE);
  g_type_ensure(SIGNET_GTK_TYPE_HISTORY_PAGE);
  g_type_ensure(SIGNET_GTK_TYPE_BATCH_PAGE);
  gtk_widget_class_set_template_from_resource(widget_class,
                                              "/io/signet/Signet/signet-gtk-window.ui");
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, toasts);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, main_stack);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, no_agent_page);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, retry_button);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, leaflet);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, sidebar);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, content);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, token_list);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, back_button);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, content_title);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, content_stack);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, token_page);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, activate_page);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, renew_page);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, history_page);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, batch_page);
  gtk_widget_class_bind_template_child(widget_class, SignetGtkWindow, batch_button);
}

static void
signet_gtk_window_init(SignetGtkWindow *self)
{
  gtk_widget_init_template(GTK_WIDGET(self));
  self->cancellable = g_cancellable_new();
  g_signal_connect(self->back_button, "clicked", G_CALLBACK(on_back_clicked_cb), self);
  g_signal_connect(self->retry_button, "clicked", G_CALLBACK(on_retry_clicked_cb), self);
  g_signal_connect(self, "notify::is-active", G_CALLBACK(on_is_active_cb), self);
  g_signal_connect(self->leaflet, "notify::folded", G_CALLBACK(on_folded_cb), self);
  g_signal_connect(self->token_list, "row-selected", G_CALLBACK(on_token_selected_cb), self);
  g_signal_connect(self->token_page, "status-loaded", G_CALLBACK(on_status_loaded_cb), self);
  g_signal_connect(self->token_page, "activate-requested", G_CALLBACK(on_activate_requested_cb),
                   self);
  g_signal_connect(self->token_page, "renew-requested", G_CALLBACK(on_renew_requested_cb), self);
  g_signal_connect(self->token_page, "history-requested", G_CALLBACK(on_history_requested_cb),
                   self);
  g_signal_connect(self->activate_page, "notify::running", G_CALLBACK(on_running_cb), self);
  g_signal_connect(self->renew_page, "notify::running", G_CALLBACK(on_running_cb), self);
  g_signal_connect(self->batch_page, "notify::running", G_CALLBACK(on_running_cb), self);
  g_signal_connect(self->batch_button, "clicked", G_CALLBACK(on_batch_clicked_cb), self);
}

SignetGtkWindow *
signet_gtk_window_new(gpointer app, SignetGtkAgent *agent)
{
  SignetGtkWindow *self = g_object_new(SIGNET_GTK_TYPE_WINDOW, "application", app, NULL);

  if (agent != NULL) {
    self->agent = g_object_ref(agent);
    g_signal_connect(agent, "notify::proxy", G_CALLBACK(on_agent_proxy_cb), self);
    if (!signet_gtk_agent_is_connecting(agent))
      on_agent_proxy_cb(G_OBJECT(agent), NULL, self);
  }
  return self;
}
