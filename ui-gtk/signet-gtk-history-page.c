/* signet-gtk-history-page.c: see signet-gtk-history-page.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-history-page.h"

#include "libsignet/signet-client.h"
#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-rules.h"
#include "ui-gtk/signet-gtk-screenshot.h"

#include <glib/gi18n.h>

struct _SignetGtkHistoryPage
{
  GtkBox parent_instance;
  GtkWidget *group;
  GtkLabel *error_label;
  GPtrArray *rows;
  GCancellable *cancellable;
};

G_DEFINE_TYPE(SignetGtkHistoryPage, signet_gtk_history_page, GTK_TYPE_BOX)

static const struct
{
  const char *name;
  const char *words;
} operations[] = {
  { "generate-key", N_("Key generated") },
  { "create-request", N_("Request made") },
  { "import", N_("Certificate imported") },
  { "delete-key", N_("Key deleted") },
  { "change-pin", N_("PIN changed") },
  { "unblock-pin", N_("PIN unblocked") },
  { "activate", N_("Activation") },
  { "renew", N_("Renewal") },
  { "export", N_("Certificate exported") },
},
  outcomes[] = {
    { "ok", N_("done") },
    { "failed", N_("failed") },
    { "pending", N_("waiting for the certificate authority") },
    { "rolled-back", N_("undone") },
    { "refused", N_("refused") },
    { "interrupted", N_("interrupted") },
  };

const char *
signet_gtk_history_operation(const char *operation)
{
  for (gsize i = 0; i < G_N_ELEMENTS(operations); i++)
    if (g_strcmp0(operations[i].name, operation) == 0)
      return _(operations[i].words);
  return operation;
}

const char *
signet_gtk_history_outcome(const char *outcome)
{
  for (gsize i = 0; i < G_N_ELEMENTS(outcomes); i++)
    if (g_strcmp0(outcomes[i].name, outcome) == 0)
      return _(outcomes[i].words);
  return outcome;
}

void
signet_gtk_history_page_set_entries(SignetGtkHistoryPage *self, GVariant *entries)
{
  GVariantIter iter;
  GVariant *entry;

  g_return_if_fail(SIGNET_GTK_IS_HISTORY_PAGE(self));
  for (guint i = 0; i < self->rows->len; i++)
    adw_preferences_group_remove(ADW_PREFERENCES_GROUP(self->group), self->rows->pdata[i]);
  g_ptr_array_set_size(self->rows, 0);
  adw_preferences_group_set_description(ADW_PREFERENCES_GROUP(self->group),
                                        entries == NULL || g_variant_n_children(entries) == 0
                                            ? _("Nothing was done on this token with Signet yet.")
                                            : NULL);
  if (entries == NULL)
    return;
  g_variant_iter_init(&iter, entries);
  while ((entry = g_variant_iter_next_value(&iter)) != NULL) {
    const char *operation = "", *outcome = "", *detail = "";
    g_autoptr(GVariant) time = g_variant_lookup_value(entry, "time", G_VARIANT_TYPE_INT64);
    g_autofree char *when = signet_client_format_time(time);
    g_autofree char *title = NULL;
    g_autofree char *subtitle = NULL;
    GtkWidget *row = adw_action_row_new();

    (void)g_variant_lookup(entry, "operation", "&s", &operation);
    (void)g_variant_lookup(entry, "outcome", "&s", &outcome);
    (void)g_variant_lookup(entry, "detail", "&s", &detail);
    /* TRANSLATORS: an operation and its outcome: "Renewal: done" */
    title = g_strdup_printf(_("%s: %s"), signet_gtk_history_operation(operation),
                            signet_gtk_history_outcome(outcome));
    subtitle = *detail != '\0' ? g_strdup_printf("%s · %s", when, detail) : g_strdup(when);
    adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
    adw_action_row_set_subtitle_lines(ADW_ACTION_ROW(row), 0);
    adw_action_row_add_prefix(ADW_ACTION_ROW(row),
                              gtk_image_new_from_icon_name(
                                  g_str_equal(outcome, "ok")        ? "object-select-symbolic"
                                  : g_str_equal(outcome, "pending") ? "content-loading-symbolic"
                                                                    : "dialog-warning-symbolic"));
    gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                   subtitle, -1);
    adw_preferences_group_add(ADW_PREFERENCES_GROUP(self->group), row);
    g_ptr_array_add(self->rows, row);
    g_variant_unref(entry);
  }
}

static void
on_history_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GVariant) entries = NULL;
  g_autoptr(GError) error = NULL;
  SignetGtkHistoryPage *self;

  if (!signet_agent1_call_get_history_finish(SIGNET_AGENT1(source), &entries, res, &error)
      && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = SIGNET_GTK_HISTORY_PAGE(data);
  if (entries == NULL) {
    g_autofree char *text = signet_gtk_error_text(error);
    gtk_label_set_text(self->error_label, text);
    gtk_widget_set_visible(GTK_WIDGET(self->error_label), TRUE);
    return;
  }
  signet_gtk_history_page_set_entries(self, entries);
  signet_gtk_screenshot_later(GTK_WIDGET(self), "history");
}

void
signet_gtk_history_page_load(SignetGtkHistoryPage *self, SignetAgent1 *proxy, const char *token,
                             const char *label)
{
  g_autofree char *title = g_strdup_printf(_("History of %s"), label);

  g_return_if_fail(SIGNET_GTK_IS_HISTORY_PAGE(self));
  adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(self->group), title);
  gtk_widget_set_visible(GTK_WIDGET(self->error_label), FALSE);
  signet_gtk_history_page_set_entries(self, NULL);
  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  self->cancellable = g_cancellable_new();
  if (proxy != NULL)
    signet_agent1_call_get_history(proxy, token, g_variant_new("a{sv}", NULL),
                                   G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT,
                                   self->cancellable, on_history_cb, self);
}

static void
signet_gtk_history_page_dispose(GObject *object)
{
  SignetGtkHistoryPage *self = SIGNET_GTK_HISTORY_PAGE(object);
  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  G_OBJECT_CLASS(signet_gtk_history_page_parent_class)->dispose(object);
}

static void
signet_gtk_history_page_finalize(GObject *object)
{
  g_ptr_array_unref(SIGNET_GTK_HISTORY_PAGE(object)->rows);
  G_OBJECT_CLASS(signet_gtk_history_page_parent_class)->finalize(object);
}

static void
signet_gtk_history_page_class_init(SignetGtkHistoryPageClass *klass)
{
  G_OBJECT_CLASS(klass)->dispose = signet_gtk_history_page_dispose;
  G_OBJECT_CLASS(klass)->finalize = signet_gtk_history_page_finalize;
}

static void
signet_gtk_history_page_init(SignetGtkHistoryPage *self)
{
  GtkWidget *scrolled = gtk_scrolled_window_new();
  GtkWidget *clamp = adw_clamp_new();
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 24);

  gtk_orientable_set_orientation(GTK_ORIENTABLE(self), GTK_ORIENTATION_VERTICAL);
  self->rows = g_ptr_array_new();
  gtk_widget_set_vexpand(scrolled, TRUE);
  gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER,
                                 GTK_POLICY_AUTOMATIC);
  adw_clamp_set_maximum_size(ADW_CLAMP(clamp), 720);
  g_object_set(box, "margin-top", 24, "margin-bottom", 24, "margin-start", 12, "margin-end", 12,
               NULL);
  self->error_label = GTK_LABEL(gtk_label_new(NULL));
  gtk_label_set_wrap(self->error_label, TRUE);
  gtk_label_set_xalign(self->error_label, 0);
  gtk_widget_add_css_class(GTK_WIDGET(self->error_label), "error");
  gtk_widget_set_visible(GTK_WIDGET(self->error_label), FALSE);
  self->group = adw_preferences_group_new();
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->group), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                 _("History"), -1);
  gtk_box_append(GTK_BOX(box), GTK_WIDGET(self->error_label));
  gtk_box_append(GTK_BOX(box), self->group);
  adw_clamp_set_child(ADW_CLAMP(clamp), box);
  gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), clamp);
  gtk_box_append(GTK_BOX(self), scrolled);
}
