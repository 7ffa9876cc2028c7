/* signet-gtk-progress.c: see signet-gtk-progress.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-progress.h"

#include "libsignet/signet-client.h"
#include "ui-gtk/signet-gtk-rules.h"

#include <glib/gi18n.h>

typedef enum
{
  STEP_WAITING,
  STEP_RUNNING,
  STEP_DONE,
  STEP_FAILED,
  STEP_SKIPPED,
} StepState;

struct _SignetGtkProgress
{
  GtkBox parent_instance;
  GtkWidget *group;
  GtkLabel *note;
  GtkWidget *result;
  GPtrArray *rows; /* AdwActionRow, in order */
  SignetAgent1 *proxy;
  gulong handler;
  char *request_id;
  char *operation;
};

G_DEFINE_TYPE(SignetGtkProgress, signet_gtk_progress, GTK_TYPE_BOX)

static void
set_row_state(GtkWidget *row, StepState state, const char *message)
{
  GtkStack *icon = g_object_get_data(G_OBJECT(row), "icon");
  const char *step = g_object_get_data(G_OBJECT(row), "step");
  const char *words = "";
  g_autofree char *subtitle = NULL;

  g_object_set_data(G_OBJECT(row), "state", GINT_TO_POINTER(state));
  switch (state) {
    case STEP_WAITING:
      words = _("Waiting");
      gtk_stack_set_visible_child_name(icon, "waiting");
      break;
    case STEP_RUNNING:
      words = _("Running");
      gtk_stack_set_visible_child_name(icon, "running");
      break;
    case STEP_DONE:
      words = _("Done");
      gtk_stack_set_visible_child_name(icon, "done");
      break;
    case STEP_FAILED:
      words = _("Failed");
      gtk_stack_set_visible_child_name(icon, "failed");
      break;
    case STEP_SKIPPED:
      words = _("Not needed");
      gtk_stack_set_visible_child_name(icon, "waiting");
      break;
  }
  gtk_spinner_set_spinning(GTK_SPINNER(gtk_stack_get_child_by_name(icon, "running")),
                           state == STEP_RUNNING);
  if (message == NULL)
    message = g_object_get_data(G_OBJECT(row), "message");
  else
    g_object_set_data_full(G_OBJECT(row), "message", g_strdup(message), g_free);
  if (g_strcmp0(step, "generate-key") == 0 && (state == STEP_WAITING || state == STEP_RUNNING))
    message = _("A key on a card can take up to 25 seconds: Signet has not hung.");
  subtitle = message != NULL && *message != '\0' ? g_strdup_printf("%s · %s", words, message)
                                                 : g_strdup(words);
  adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
  gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, subtitle,
                                 -1);
}

static GtkWidget *
add_row(SignetGtkProgress *self, const char *step)
{
  GtkWidget *row = adw_action_row_new();
  GtkWidget *icon = gtk_stack_new();

  gtk_stack_add_named(GTK_STACK(icon), gtk_image_new_from_icon_name("content-loading-symbolic"),
                      "waiting");
  gtk_stack_add_named(GTK_STACK(icon), gtk_spinner_new(), "running");
  gtk_stack_add_named(GTK_STACK(icon), gtk_image_new_from_icon_name("object-select-symbolic"),
                      "done");
  gtk_stack_add_named(GTK_STACK(icon), gtk_image_new_from_icon_name("dialog-error-symbolic"),
                      "failed");
  adw_action_row_add_prefix(ADW_ACTION_ROW(row), icon);
  adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row),
                                signet_gtk_step_title(self->operation, step));
  adw_action_row_set_subtitle_lines(ADW_ACTION_ROW(row), 0);
  g_object_set_data(G_OBJECT(row), "icon", icon);
  g_object_set_data_full(G_OBJECT(row), "step", g_strdup(step), g_free);
  set_row_state(row, STEP_WAITING, NULL);
  adw_preferences_group_add(ADW_PREFERENCES_GROUP(self->group), row);
  g_ptr_array_add(self->rows, row);
  return row;
}

static StepState
row_state(GtkWidget *row)
{
  return (StepState)GPOINTER_TO_INT(g_object_get_data(G_OBJECT(row), "state"));
}

void
signet_gtk_progress_step(SignetGtkProgress *self, const char *step, const char *message)
{
  GtkWidget *found = NULL;
  guint at = 0;

  g_return_if_fail(SIGNET_GTK_IS_PROGRESS(self));
  for (guint i = 0; i < self->rows->len && found == NULL; i++)
    if (g_strcmp0(g_object_get_data(self->rows->pdata[i], "step"), step) == 0) {
      found = self->rows->pdata[i];
      at = i;
    }
  if (found == NULL) {
    found = add_row(self, step);
    at = self->rows->len - 1;
  }
  /* What ran before is done; what was never announced before it was not needed. */
  for (guint i = 0; i < self->rows->len; i++) {
    GtkWidget *row = self->rows->pdata[i];
    if (row == found)
      continue;
    if (row_state(row) == STEP_RUNNING)
      set_row_state(row, STEP_DONE, NULL);
    else if (i < at && row_state(row) == STEP_WAITING)
      set_row_state(row, STEP_SKIPPED, NULL);
  }
  set_row_state(found, STEP_RUNNING, message);
}

static void
on_progress_cb(SignetAgent1 *proxy, const char *request_id, const char *operation, const char *step,
               GVariant *details, SignetGtkProgress *self)
{
  const char *message = NULL;

  if (g_strcmp0(request_id, self->request_id) != 0)
    return;
  (void)g_variant_lookup(details, "message", "&s", &message);
  signet_gtk_progress_step(self, step, message);
}

static void
stop_following(SignetGtkProgress *self)
{
  if (self->proxy != NULL && self->handler != 0)
    g_signal_handler_disconnect(self->proxy, self->handler);
  self->handler = 0;
  g_clear_object(&self->proxy);
}

const char *
signet_gtk_progress_start(SignetGtkProgress *self, SignetAgent1 *proxy, const char *operation)
{
  const char *const *steps = signet_gtk_steps(operation);

  g_return_val_if_fail(SIGNET_GTK_IS_PROGRESS(self), NULL);
  stop_following(self);
  signet_gtk_progress_set_result(self, NULL);
  for (guint i = 0; i < self->rows->len; i++)
    adw_preferences_group_remove(ADW_PREFERENCES_GROUP(self->group), self->rows->pdata[i]);
  g_ptr_array_set_size(self->rows, 0);
  g_free(self->operation);
  self->operation = g_strdup(operation);
  g_free(self->request_id);
  self->request_id = g_uuid_string_random();
  for (gsize i = 0; steps[i] != NULL; i++)
    add_row(self, steps[i]);
  if (proxy != NULL) {
    self->proxy = g_object_ref(proxy);
    self->handler = g_signal_connect(proxy, "progress", G_CALLBACK(on_progress_cb), self);
  }
  return self->request_id;
}

void
signet_gtk_progress_finish(SignetGtkProgress *self, gboolean ok)
{
  g_return_if_fail(SIGNET_GTK_IS_PROGRESS(self));
  stop_following(self);
  for (guint i = 0; i < self->rows->len; i++) {
    GtkWidget *row = self->rows->pdata[i];
    if (row_state(row) == STEP_RUNNING)
      set_row_state(row, ok ? STEP_DONE : STEP_FAILED, NULL);
    else if (ok && row_state(row) == STEP_WAITING)
      set_row_state(row, STEP_SKIPPED, NULL);
  }
}

static void
add_result_row(SignetGtkProgress *self, const char *title, const char *value)
{
  GtkWidget *row = adw_action_row_new();
  adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
  adw_action_row_set_subtitle(ADW_ACTION_ROW(row), value);
  adw_preferences_group_add(ADW_PREFERENCES_GROUP(self->result), row);
}

void
signet_gtk_progress_set_result(SignetGtkProgress *self, GVariant *result)
{
  const char *subject = "", *issuer = "", *serial = "";
  g_autofree char *until = NULL;

  g_return_if_fail(SIGNET_GTK_IS_PROGRESS(self));
  if (self->result != NULL)
    gtk_box_remove(GTK_BOX(self), self->result);
  self->result = NULL;
  if (result == NULL)
    return;
  self->result = adw_preferences_group_new();
  adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(self->result), _("Your New Certificate"));
  (void)g_variant_lookup(result, "subject", "&s", &subject);
  (void)g_variant_lookup(result, "issuer", "&s", &issuer);
  (void)g_variant_lookup(result, "serial", "&s", &serial);
  until = signet_client_format_not_after(result);
  add_result_row(self, _("Holder"), subject);
  add_result_row(self, _("Issuer"), issuer);
  add_result_row(self, _("Valid until"), until);
  add_result_row(self, _("Serial number"), serial);
  gtk_box_append(GTK_BOX(self), self->result);
}

static void
signet_gtk_progress_dispose(GObject *object)
{
  SignetGtkProgress *self = SIGNET_GTK_PROGRESS(object);
  stop_following(self);
  G_OBJECT_CLASS(signet_gtk_progress_parent_class)->dispose(object);
}

static void
signet_gtk_progress_finalize(GObject *object)
{
  SignetGtkProgress *self = SIGNET_GTK_PROGRESS(object);
  g_ptr_array_unref(self->rows);
  g_free(self->request_id);
  g_free(self->operation);
  G_OBJECT_CLASS(signet_gtk_progress_parent_class)->finalize(object);
}

static void
signet_gtk_progress_class_init(SignetGtkProgressClass *klass)
{
  G_OBJECT_CLASS(klass)->dispose = signet_gtk_progress_dispose;
  G_OBJECT_CLASS(klass)->finalize = signet_gtk_progress_finalize;
}

static void
signet_gtk_progress_init(SignetGtkProgress *self)
{
  gtk_orientable_set_orientation(GTK_ORIENTABLE(self), GTK_ORIENTATION_VERTICAL);
  gtk_box_set_spacing(GTK_BOX(self), 24);
  self->rows = g_ptr_array_new();
  self->group = adw_preferences_group_new();
  adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(self->group), _("Steps"));
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->group), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                 _("Steps"), -1);
  gtk_box_append(GTK_BOX(self), self->group);
}
