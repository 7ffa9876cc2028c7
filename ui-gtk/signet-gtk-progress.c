/* signet-gtk-progress.c: see signet-gtk-progress.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-progress.h"

#include "libsignet/signet-client.h"
#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-rules.h"
#include "ui-gtk/signet-gtk-screenshot.h"
#include "ui-gtk/signet-gtk-secret.h"

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

/* --- an operation page ----------------------------------------------------- */

static void
set_running(SignetGtkOperation *op, gboolean running)
{
  op->running = running;
  gtk_widget_set_sensitive(GTK_WIDGET(op->start_button), !running);
  g_object_notify_by_pspec(G_OBJECT(op->page), op->running_pspec);
}

static void
screenshot(SignetGtkOperation *op, const char *suffix)
{
  g_autofree char *name = g_strconcat(op->name, suffix, NULL);
  signet_gtk_screenshot_later(op->page, name);
}

void
signet_gtk_operation_show_form(SignetGtkOperation *op)
{
  gtk_widget_set_visible(op->run_box, FALSE);
  gtk_widget_set_visible(op->form_box, TRUE);
  screenshot(op, "");
}

void
signet_gtk_operation_form_error(SignetGtkOperation *op, const char *text)
{
  gtk_label_set_text(op->form_error, text);
  gtk_widget_set_visible(GTK_WIDGET(op->form_error), TRUE);
}

/* The form's PIN row says the state read again after an error, so that
 * Try Again shows the tries left now, not those when the page opened. */
typedef struct
{
  SignetGtkOperation *op;
  GtkWidget *page; /* referenced: @op lives in it */
} StateRead;

static void
on_state_read_cb(GVariant *status, gpointer data)
{
  StateRead *read = data;

  if (status != NULL) {
    g_autofree char *pin_state
        = g_strdup_printf(_("The PIN: %s"), signet_gtk_pin_short_state(status));

    adw_action_row_set_subtitle(read->op->pin_row, pin_state);
  }
  g_object_unref(read->page);
  g_free(read);
}

static void
show_error(SignetGtkOperation *op, GtkLabel *label, const GError *error)
{
  (void)signet_gtk_secret_show_error(label, op->proxy, op->token, error,
                                     SIGNET_GTK_TRIES_PIN_AND_PUK, NULL, NULL);
}

/* show_error() in the form, the PIN row updated from what is read. */
static void
show_form_error(SignetGtkOperation *op, const GError *error)
{
  StateRead *read = g_new0(StateRead, 1);

  read->op = op;
  read->page = g_object_ref(op->page);
  (void)signet_gtk_secret_show_error(op->form_error, op->proxy, op->token, error,
                                     SIGNET_GTK_TRIES_PIN_AND_PUK, on_state_read_cb, read);
}

/* The call answered; @data: the operation, its page referenced. */
static void
on_done_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  SignetGtkOperation *op = data;
  g_autoptr(GtkWidget) page = op->page; /* the reference the call held */
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;

  if (!op->finish(SIGNET_AGENT1(source), &result, res, &error)) {
    signet_gtk_progress_finish(op->progress, FALSE);
    gtk_label_set_text(op->run_label, op->failed_text);
    show_error(op, op->run_error, error);
    show_form_error(op, error);
    gtk_widget_set_visible(GTK_WIDGET(op->again_button), TRUE);
  } else {
    signet_gtk_progress_finish(op->progress, TRUE);
    signet_gtk_progress_set_result(op->progress, result);
    gtk_label_set_text(op->run_label, op->done_text);
    if (op->succeeded != NULL)
      op->succeeded(op);
  }
  set_running(op, FALSE);
  screenshot(op, "-result");
}

static void
on_secret_ready_cb(gboolean go, gboolean confirmed_final_try, gboolean pin_pad, const GError *error,
                   gpointer data)
{
  SignetGtkOperation *op = data; /* its page referenced: dropped here or by on_done_cb */
  g_autoptr(GVariantDict) options = NULL;
  SignetSecret *pin;

  if (!go) {
    /* Nothing is sent: a refusal, or the final try not confirmed. */
    gtk_editable_set_text(op->pin_entry, "");
    if (error != NULL)
      show_form_error(op, error);
    else
      signet_gtk_operation_form_error(op, _("Nothing was sent to the token."));
    set_running(op, FALSE);
    g_object_unref(op->page);
    return;
  }
  pin = pin_pad ? signet_secret_new("", 0) : signet_gtk_secret_take(op->pin_entry);
  if (pin == NULL) {
    signet_gtk_operation_form_error(op, _("Type the token's PIN first."));
    set_running(op, FALSE);
    g_object_unref(op->page);
    return;
  }
  options = g_variant_dict_new(NULL);
  g_variant_dict_insert(options, "request-id", "s",
                        signet_gtk_progress_start(op->progress, op->proxy, op->name));
  if (confirmed_final_try)
    g_variant_dict_insert(options, "confirm-final-try", "b", TRUE);
  gtk_label_set_text(op->run_label, op->running_text);
  gtk_widget_set_visible(GTK_WIDGET(op->run_error), FALSE);
  gtk_widget_set_visible(GTK_WIDGET(op->again_button), FALSE);
  gtk_widget_set_visible(op->form_box, FALSE);
  gtk_widget_set_visible(op->run_box, TRUE);
  op->send(op, signet_gtk_secret_to_variant(pin), options, on_done_cb);
  screenshot(op, "-progress");
}

static void
on_start_clicked_cb(GtkWidget *widget, SignetGtkOperation *op)
{
  (void)widget;
  if (op->running || op->proxy == NULL)
    return;
  gtk_widget_set_visible(GTK_WIDGET(op->form_error), FALSE);
  if (op->ready != NULL && !op->ready(op))
    return;
  set_running(op, TRUE);
  g_object_ref(op->page);
  signet_gtk_secret_check(op->page, op->proxy, op->token, op->label, op->op, on_secret_ready_cb,
                          op);
}

static void
on_again_clicked_cb(GtkButton *button, SignetGtkOperation *op)
{
  (void)button;
  signet_gtk_operation_show_form(op);
}

gboolean
signet_gtk_operation_open(SignetGtkOperation *op, SignetAgent1 *proxy, const char *token,
                          const char *label, GVariant *status)
{
  g_autofree char *pin_state = NULL;

  if (op->running)
    return FALSE;
  g_set_object(&op->proxy, proxy);
  g_free(op->token);
  op->token = g_strdup(token);
  g_free(op->label);
  op->label = g_strdup(label);
  pin_state = g_strdup_printf(_("The PIN: %s"), signet_gtk_pin_short_state(status));
  adw_action_row_set_subtitle(op->pin_row, pin_state);
  gtk_editable_set_text(op->pin_entry, "");
  gtk_widget_set_visible(GTK_WIDGET(op->form_error), FALSE);
  return TRUE;
}

void
signet_gtk_operation_bind_template(GtkWidgetClass *klass, gsize offset)
{
#define BIND(field)                                                                                \
  gtk_widget_class_bind_template_child_full(klass, #field, FALSE,                                  \
                                            offset + G_STRUCT_OFFSET(SignetGtkOperation, field))
  BIND(form_box);
  BIND(run_box);
  BIND(pin_row);
  BIND(pin_entry);
  BIND(form_error);
  BIND(run_label);
  BIND(run_error);
  BIND(start_button);
  BIND(again_button);
  BIND(progress);
#undef BIND
  g_type_ensure(SIGNET_GTK_TYPE_PROGRESS);
}

void
signet_gtk_operation_init(SignetGtkOperation *op, GtkWidget *page)
{
  op->page = page;
  g_signal_connect(op->start_button, "clicked", G_CALLBACK(on_start_clicked_cb), op);
  g_signal_connect(op->again_button, "clicked", G_CALLBACK(on_again_clicked_cb), op);
  g_signal_connect(op->pin_entry, "activate", G_CALLBACK(on_start_clicked_cb), op);
}

void
signet_gtk_operation_clear(SignetGtkOperation *op)
{
  g_clear_object(&op->proxy);
  g_clear_pointer(&op->token, g_free);
  g_clear_pointer(&op->label, g_free);
}
