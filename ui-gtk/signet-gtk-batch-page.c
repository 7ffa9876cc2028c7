/* signet-gtk-batch-page.c: see signet-gtk-batch-page.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-batch-page.h"

#include "common/signet-secret.h"
#include "common/signet-util.h"
#include "ui-gtk/signet-gtk-secret.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <unistd.h>

struct _SignetGtkBatchPage
{
  GtkBox parent_instance;

  SignetAgent1 *proxy;
  GPtrArray *profiles; /* names, in the combo's order */
  GtkWidget *form_box, *run_box;
  AdwComboRow *ca_row;
  GtkEditable *file_entry, *report_entry, *pin_entry;
  GtkSwitch *resume_switch;
  GtkLabel *form_error;
  GtkLabel *run_label, *summary_label;
  GtkListBox *rows;
  GHashTable *row_labels; /* "line N" / "token SERIAL" → GtkLabel */
  GtkButton *stop_button, *done_button;

  GSubprocess *child;
  GCancellable *cancellable;
  GString *stderr_text;
  gboolean summary_seen;
  guint streams_open; /* stdout and stderr, until both end */
  gboolean running;
};

G_DEFINE_TYPE(SignetGtkBatchPage, signet_gtk_batch_page, GTK_TYPE_BOX)

enum
{
  PROP_0,
  PROP_RUNNING,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

/* A row's status in words (signet batch's status names). */
static const char *
status_words(const char *status)
{
  static const struct
  {
    const char *name;
    const char *words;
  } words[] = {
    { "waiting", N_("waiting for its token") },
    { "running", N_("activating") },
    { "activated", N_("activated") },
    { "skipped", N_("skipped") },
    { "failed", N_("failed") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
    if (g_strcmp0(words[i].name, status) == 0)
      return _(words[i].words);
  return status;
}

static void
set_running(SignetGtkBatchPage *self, gboolean running)
{
  if (self->running == running)
    return;
  self->running = running;
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RUNNING]);
}

/* --- the certificate authorities -------------------------------------------------- */

static void
on_profiles_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBatchPage) self = data;
  g_autoptr(GVariant) profiles = NULL, problems = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GtkStringList) names = gtk_string_list_new(NULL);
  GVariantIter iter;
  GVariant *profile;

  if (!signet_agent1_call_list_profiles_finish(SIGNET_AGENT1(source), &profiles, &problems, res,
                                               &error)) {
    gtk_label_set_text(self->form_error, error->message);
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
    return;
  }
  g_ptr_array_set_size(self->profiles, 0);
  g_variant_iter_init(&iter, profiles);
  while ((profile = g_variant_iter_next_value(&iter)) != NULL) {
    const char *name = "", *display = "";

    (void)g_variant_lookup(profile, "name", "&s", &name);
    (void)g_variant_lookup(profile, "display_name", "&s", &display);
    g_ptr_array_add(self->profiles, g_strdup(name));
    gtk_string_list_append(names, *display != '\0' ? display : name);
    g_variant_unref(profile);
  }
  adw_combo_row_set_model(self->ca_row, G_LIST_MODEL(names));
  if (self->profiles->len == 0) {
    gtk_label_set_text(self->form_error,
                       _("No certificate authority is set up on this computer. Your certificate "
                         "authority provides a profile file for Signet: install it, then come "
                         "back here."));
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
  }
}

void
signet_gtk_batch_page_open(SignetGtkBatchPage *self, SignetAgent1 *proxy)
{
  g_return_if_fail(SIGNET_GTK_IS_BATCH_PAGE(self));

  g_set_object(&self->proxy, proxy);
  if (self->running)
    return;
  gtk_widget_set_visible(self->form_box, TRUE);
  gtk_widget_set_visible(self->run_box, FALSE);
  gtk_widget_set_visible(GTK_WIDGET(self->form_error), FALSE);
  if (proxy != NULL)
    signet_agent1_call_list_profiles(proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_profiles_cb,
                                     g_object_ref(self));
}

/* --- what the batch prints --------------------------------------------------------- */

/* The line of the list for @key, made on first use, in the order seen. */
static GtkLabel *
row_label(SignetGtkBatchPage *self, const char *key)
{
  GtkLabel *label = g_hash_table_lookup(self->row_labels, key);

  if (label == NULL) {
    label = GTK_LABEL(gtk_label_new(NULL));
    gtk_label_set_xalign(label, 0);
    gtk_label_set_wrap(label, TRUE);
    gtk_label_set_selectable(label, TRUE);
    gtk_widget_set_margin_top(GTK_WIDGET(label), 6);
    gtk_widget_set_margin_bottom(GTK_WIDGET(label), 6);
    gtk_widget_set_margin_start(GTK_WIDGET(label), 12);
    gtk_widget_set_margin_end(GTK_WIDGET(label), 12);
    gtk_list_box_append(self->rows, GTK_WIDGET(label));
    g_hash_table_insert(self->row_labels, g_strdup(key), label);
  }
  return label;
}

static const char *
member_string(JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member(o, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE(node)
                 && json_node_get_value_type(node) == G_TYPE_STRING
             ? json_node_get_string(node)
             : "";
}

static gint64
member_int(JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member(o, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE(node)
                 && json_node_get_value_type(node) == G_TYPE_INT64
             ? json_node_get_int(node)
             : 0;
}

gboolean
signet_gtk_batch_page_take_line(SignetGtkBatchPage *self, const char *line)
{
  g_autoptr(JsonNode) node = json_from_string(line, NULL);
  JsonObject *o;
  const char *event, *token, *message;
  gint64 row_line;
  g_autofree char *key = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail(SIGNET_GTK_IS_BATCH_PAGE(self), FALSE);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
    return FALSE;
  o = json_node_get_object(node);
  event = member_string(o, "event");
  token = member_string(o, "token");
  message = member_string(o, "message");
  row_line = member_int(o, "line");

  if (g_str_equal(event, "summary")) {
    /* TRANSLATORS: the end of a group activation: the file's rows by what
     * became of them. */
    text = g_strdup_printf(
        _("Rows: %d. Activated: %d, skipped: %d, failed: %d, waiting for their token: %d."),
        (int)member_int(o, "rows"), (int)member_int(o, "activated"), (int)member_int(o, "skipped"),
        (int)member_int(o, "failed"), (int)member_int(o, "waiting"));
    gtk_label_set_text(self->summary_label, text);
    gtk_widget_set_visible(GTK_WIDGET(self->summary_label), TRUE);
    self->summary_seen = TRUE;
    return TRUE;
  }
  if (!g_str_equal(event, "row") && !g_str_equal(event, "progress") && !g_str_equal(event, "token"))
    return FALSE;
  if (row_line > 0) {
    const char *what
        = g_str_equal(event, "row") ? status_words(member_string(o, "status")) : _("activating");

    key = g_strdup_printf("line %" G_GINT64_FORMAT, row_line);
    /* TRANSLATORS: one row of the holders' file: its line, the token's
     * serial (or "no token yet"), what became of it, and in what words. */
    text = g_strdup_printf(_("Line %d · %s · %s%s%s"), (int)row_line,
                           *token != '\0' ? token : _("no token yet"), what,
                           *message != '\0' ? ": " : "", message);
  } else {
    key = g_strdup_printf("token %s", token);
    /* TRANSLATORS: a token that is not one of the file's rows. */
    text = g_strdup_printf(_("Token %s · %s"), token, message);
  }
  gtk_label_set_text(row_label(self, key), text);
  return TRUE;
}

/* --- the batch ---------------------------------------------------------------------- */

static void read_next(SignetGtkBatchPage *self, GDataInputStream *in, gboolean is_stdout);

static void
finished(SignetGtkBatchPage *self)
{
  int status
      = g_subprocess_get_if_exited(self->child) ? g_subprocess_get_exit_status(self->child) : -1;

  gtk_widget_set_visible(GTK_WIDGET(self->stop_button), FALSE);
  gtk_widget_set_visible(GTK_WIDGET(self->done_button), TRUE);
  if (!self->summary_seen) {
    /* Refused before it started (the file's problems, each with its line,
     * a profile, a PIN fd): what it said, on the form. */
    g_strstrip(self->stderr_text->str);
    gtk_label_set_text(self->form_error,
                       self->stderr_text->len > 0
                           ? self->stderr_text->str
                           : _("The group activation stopped before it started."));
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
    gtk_widget_set_visible(self->form_box, TRUE);
    gtk_widget_set_visible(self->run_box, FALSE);
  } else {
    gtk_label_set_text(self->run_label, status == 0 ? _("Group activation finished.")
                                                    : _("Group activation ended; some rows are "
                                                        "not done (see each line). Run it again "
                                                        "with Resume to go on."));
  }
  g_clear_object(&self->child);
  set_running(self, FALSE);
}

static void
on_wait_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBatchPage) self = data;

  (void)g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
  if (self->child == G_SUBPROCESS(source))
    finished(self);
}

static void
stream_ended(SignetGtkBatchPage *self)
{
  if (--self->streams_open == 0 && self->child != NULL)
    g_subprocess_wait_async(self->child, self->cancellable, on_wait_cb, g_object_ref(self));
}

static void
on_line_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBatchPage) self = data;
  GDataInputStream *in = G_DATA_INPUT_STREAM(source);
  gboolean is_stdout = GPOINTER_TO_INT(g_object_get_data(source, "stdout"));
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8(in, res, NULL, NULL);

  if (line == NULL) {
    stream_ended(self);
    return;
  }
  if (is_stdout)
    (void)signet_gtk_batch_page_take_line(self, line);
  else if (self->stderr_text->len < 64 * 1024)
    g_string_append_printf(self->stderr_text, "%s\n", line);
  read_next(self, in, is_stdout);
}

static void
read_next(SignetGtkBatchPage *self, GDataInputStream *in, gboolean is_stdout)
{
  g_object_set_data(G_OBJECT(in), "stdout", GINT_TO_POINTER(is_stdout));
  g_data_input_stream_read_line_async(in, G_PRIORITY_DEFAULT, self->cancellable, on_line_cb,
                                      g_object_ref(self));
}

static const char *
cli_program(void)
{
  const char *path = g_getenv("SIGNET_CLI");

  return path != NULL && *path != '\0' ? path : SIGNET_BINDIR "/signet";
}

static gboolean
start(SignetGtkBatchPage *self, GError **error)
{
  guint i = adw_combo_row_get_selected(self->ca_row);
  const char *file = gtk_editable_get_text(self->file_entry);
  const char *report = gtk_editable_get_text(self->report_entry);
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(SignetSecret) pin = NULL;
  g_autoptr(GDataInputStream) out = NULL, err = NULL;
  int fds[2];
  gboolean written;

  if (self->profiles->len == 0 || i >= self->profiles->len) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        _("Choose the certificate authority."));
    return FALSE;
  }
  if (*file == '\0') {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        _("Choose the holders' file (CSV)."));
    return FALSE;
  }
  pin = signet_gtk_secret_take(self->pin_entry);
  if (pin == NULL) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        _("Type the tokens' PIN (the transport PIN they came with)."));
    return FALSE;
  }
  g_ptr_array_add(argv, (char *)cli_program());
  g_ptr_array_add(argv, (char *)"batch");
  g_ptr_array_add(argv, (char *)"activate");
  g_ptr_array_add(argv, (char *)file);
  g_ptr_array_add(argv, (char *)"--profile");
  g_ptr_array_add(argv, self->profiles->pdata[i]);
  g_ptr_array_add(argv, (char *)"--json");
  g_ptr_array_add(argv, (char *)"--wait");
  g_ptr_array_add(argv, (char *)"--pin-fd");
  g_ptr_array_add(argv, (char *)"3");
  if (*report != '\0') {
    g_ptr_array_add(argv, (char *)"--report");
    g_ptr_array_add(argv, (char *)report);
  }
  if (gtk_switch_get_active(self->resume_switch))
    g_ptr_array_add(argv, (char *)"--resume");
  g_ptr_array_add(argv, NULL);

  /* The PIN through a pipe: a few bytes, which the pipe holds before the
   * program reads them. */
  if (!g_unix_open_pipe(fds, FD_CLOEXEC, error))
    return FALSE;
  launcher
      = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_take_fd(launcher, fds[0], 3);
  self->child = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, error);
  if (self->child == NULL) {
    close(fds[1]);
    return FALSE;
  }
  written = write(fds[1], signet_secret_get_data(pin), signet_secret_get_len(pin))
                == (ssize_t)signet_secret_get_len(pin)
            && write(fds[1], "\n", 1) == 1;
  close(fds[1]);
  if (!written) {
    g_subprocess_force_exit(self->child);
    g_clear_object(&self->child);
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        _("The PIN could not be handed to the group activation."));
    return FALSE;
  }

  self->summary_seen = FALSE;
  g_string_truncate(self->stderr_text, 0);
  g_hash_table_remove_all(self->row_labels);
  for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->rows)); row != NULL;
       row = gtk_widget_get_first_child(GTK_WIDGET(self->rows)))
    gtk_list_box_remove(self->rows, row);
  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  self->cancellable = g_cancellable_new();
  out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(self->child));
  err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(self->child));
  self->streams_open = 2;
  read_next(self, out, TRUE);
  read_next(self, err, FALSE);
  return TRUE;
}

static void
on_start_clicked_cb(GtkButton *button, SignetGtkBatchPage *self)
{
  g_autoptr(GError) error = NULL;

  if (self->running)
    return;
  if (!start(self, &error)) {
    gtk_label_set_text(self->form_error, error->message);
    gtk_widget_set_visible(GTK_WIDGET(self->form_error), TRUE);
    return;
  }
  set_running(self, TRUE);
  gtk_widget_set_visible(GTK_WIDGET(self->form_error), FALSE);
  gtk_widget_set_visible(self->form_box, FALSE);
  gtk_widget_set_visible(self->run_box, TRUE);
  gtk_widget_set_visible(GTK_WIDGET(self->summary_label), FALSE);
  gtk_widget_set_visible(GTK_WIDGET(self->stop_button), TRUE);
  gtk_widget_set_visible(GTK_WIDGET(self->done_button), FALSE);
  gtk_label_set_text(self->run_label, _("Insert the tokens into any reader, in any order. Each "
                                        "is activated as it comes."));
}

static void
on_stop_clicked_cb(GtkButton *button, SignetGtkBatchPage *self)
{
  /* As Ctrl-C: the activations under way finish, the rest waits for
   * Resume. */
  if (self->child != NULL)
    g_subprocess_send_signal(self->child, SIGINT);
  gtk_label_set_text(self->run_label, _("Stopping once the activations under way finish…"));
}

static void
on_done_clicked_cb(GtkButton *button, SignetGtkBatchPage *self)
{
  signet_gtk_batch_page_open(self, self->proxy);
}

static void
on_file_chosen_cb(GtkNativeDialog *dialog, int response, SignetGtkBatchPage *self)
{
  if (response == GTK_RESPONSE_ACCEPT) {
    g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
    g_autofree char *path = file != NULL ? g_file_get_path(file) : NULL;

    if (path != NULL)
      gtk_editable_set_text(self->file_entry, path);
  }
  g_object_unref(dialog);
}

static void
on_choose_clicked_cb(GtkButton *button, SignetGtkBatchPage *self)
{
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
      _("Holders' File"), GTK_WINDOW(gtk_widget_get_root(GTK_WIDGET(self))),
      GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new();

  gtk_file_filter_set_name(filter, _("CSV files"));
  gtk_file_filter_add_suffix(filter, "csv");
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(dialog), filter);
  g_signal_connect(dialog, "response", G_CALLBACK(on_file_chosen_cb), self);
  gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

/* --- the widgets ------------------------------------------------------------------- */

static GtkWidget *
entry_row(const char *title, const char *accessible, GtkWidget *entry, GtkWidget *extra)
{
  GtkWidget *row = adw_action_row_new();

  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
  adw_preferences_row_set_use_underline(ADW_PREFERENCES_ROW(row), TRUE);
  gtk_widget_set_valign(entry, GTK_ALIGN_CENTER);
  gtk_accessible_update_property(GTK_ACCESSIBLE(entry), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                 -1);
  adw_action_row_add_suffix(ADW_ACTION_ROW(row), entry);
  if (extra != NULL)
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), extra);
  adw_action_row_set_activatable_widget(ADW_ACTION_ROW(row), entry);
  return row;
}

static GtkWidget *
pill_button(const char *label, const char *accessible, gboolean suggested)
{
  GtkWidget *button = gtk_button_new_with_mnemonic(label);

  gtk_widget_set_halign(button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class(button, "pill");
  if (suggested)
    gtk_widget_add_css_class(button, "suggested-action");
  gtk_accessible_update_property(GTK_ACCESSIBLE(button), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                 -1);
  return button;
}

static void
signet_gtk_batch_page_init(SignetGtkBatchPage *self)
{
  GtkWidget *scrolled = gtk_scrolled_window_new();
  GtkWidget *clamp = adw_clamp_new();
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 24);
  GtkWidget *group = adw_preferences_group_new();
  GtkWidget *choose = gtk_button_new_with_mnemonic(_("C_hoose…"));
  GtkWidget *resume_row = adw_action_row_new();
  GtkWidget *report_row, *pin_row;
  GtkWidget *start_button = pill_button(_("_Start"), _("Start group activation"), TRUE);

  self->profiles = g_ptr_array_new_with_free_func(g_free);
  self->row_labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  self->stderr_text = g_string_new(NULL);
  self->cancellable = g_cancellable_new();
  gtk_orientable_set_orientation(GTK_ORIENTABLE(self), GTK_ORIENTATION_VERTICAL);

  gtk_widget_set_vexpand(scrolled, TRUE);
  gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER,
                                 GTK_POLICY_AUTOMATIC);
  adw_clamp_set_maximum_size(ADW_CLAMP(clamp), 720);
  gtk_widget_set_margin_top(box, 24);
  gtk_widget_set_margin_bottom(box, 24);
  gtk_widget_set_margin_start(box, 12);
  gtk_widget_set_margin_end(box, 12);

  /* The form. */
  self->form_box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 24);
  adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(group), _("Activate a Group of Tokens"));
  adw_preferences_group_set_description(
      ADW_PREFERENCES_GROUP(group),
      _("One row per holder in a CSV file from your certificate authority: reference number, "
        "activation code, name, e-mail and, optionally, the token's serial number. Every row is "
        "checked before anything starts."));
  self->ca_row = ADW_COMBO_ROW(adw_combo_row_new());
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(self->ca_row), _("Certificate _authority"));
  adw_preferences_row_set_use_underline(ADW_PREFERENCES_ROW(self->ca_row), TRUE);
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->ca_row), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                 _("Certificate authority"), -1);
  adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), GTK_WIDGET(self->ca_row));
  self->file_entry = GTK_EDITABLE(gtk_entry_new());
  gtk_widget_set_valign(choose, GTK_ALIGN_CENTER);
  adw_preferences_group_add(
      ADW_PREFERENCES_GROUP(group),
      entry_row(_("_Holders' file"), _("Holders' file"), GTK_WIDGET(self->file_entry), choose));
  self->pin_entry = GTK_EDITABLE(gtk_password_entry_new());
  pin_row = entry_row(_("_Transport PIN"), _("Transport PIN"), GTK_WIDGET(self->pin_entry), NULL);
  adw_action_row_set_subtitle(ADW_ACTION_ROW(pin_row),
                              _("The PIN the tokens came with, the same on every token."));
  adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), pin_row);
  self->report_entry = GTK_EDITABLE(gtk_entry_new());
  report_row = entry_row(_("_Report file"), _("Report file"), GTK_WIDGET(self->report_entry), NULL);
  adw_action_row_set_subtitle(ADW_ACTION_ROW(report_row),
                              _("Optional. Ending in .csv or .json: one line per holder, with "
                                "the certificate issued or why not."));
  adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), report_row);
  self->resume_switch = GTK_SWITCH(gtk_switch_new());
  gtk_widget_set_valign(GTK_WIDGET(self->resume_switch), GTK_ALIGN_CENTER);
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->resume_switch), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                 _("Resume"), -1);
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(resume_row), _("Resume"));
  adw_action_row_set_subtitle(ADW_ACTION_ROW(resume_row),
                              _("Go on with a group activation that was interrupted: each row "
                                "stays with its token, no code is spent twice."));
  adw_action_row_add_suffix(ADW_ACTION_ROW(resume_row), GTK_WIDGET(self->resume_switch));
  adw_action_row_set_activatable_widget(ADW_ACTION_ROW(resume_row),
                                        GTK_WIDGET(self->resume_switch));
  adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), resume_row);
  gtk_box_append(GTK_BOX(self->form_box), group);
  self->form_error = GTK_LABEL(gtk_label_new(NULL));
  gtk_label_set_wrap(self->form_error, TRUE);
  gtk_label_set_xalign(self->form_error, 0);
  gtk_label_set_selectable(self->form_error, TRUE);
  gtk_widget_add_css_class(GTK_WIDGET(self->form_error), "error");
  gtk_widget_set_visible(GTK_WIDGET(self->form_error), FALSE);
  gtk_box_append(GTK_BOX(self->form_box), GTK_WIDGET(self->form_error));
  gtk_box_append(GTK_BOX(self->form_box), start_button);
  gtk_box_append(GTK_BOX(box), self->form_box);

  /* The batch as it runs. */
  self->run_box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 18);
  self->run_label = GTK_LABEL(gtk_label_new(NULL));
  gtk_label_set_wrap(self->run_label, TRUE);
  gtk_label_set_xalign(self->run_label, 0);
  gtk_box_append(GTK_BOX(self->run_box), GTK_WIDGET(self->run_label));
  self->rows = GTK_LIST_BOX(gtk_list_box_new());
  gtk_list_box_set_selection_mode(self->rows, GTK_SELECTION_NONE);
  gtk_widget_add_css_class(GTK_WIDGET(self->rows), "boxed-list");
  gtk_accessible_update_property(GTK_ACCESSIBLE(self->rows), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                 _("Rows"), -1);
  gtk_box_append(GTK_BOX(self->run_box), GTK_WIDGET(self->rows));
  self->summary_label = GTK_LABEL(gtk_label_new(NULL));
  gtk_label_set_wrap(self->summary_label, TRUE);
  gtk_label_set_xalign(self->summary_label, 0);
  gtk_label_set_selectable(self->summary_label, TRUE);
  gtk_box_append(GTK_BOX(self->run_box), GTK_WIDGET(self->summary_label));
  self->stop_button = GTK_BUTTON(pill_button(_("_Stop"), _("Stop group activation"), FALSE));
  gtk_widget_add_css_class(GTK_WIDGET(self->stop_button), "destructive-action");
  gtk_box_append(GTK_BOX(self->run_box), GTK_WIDGET(self->stop_button));
  self->done_button = GTK_BUTTON(pill_button(_("_Done"), _("Done"), TRUE));
  gtk_box_append(GTK_BOX(self->run_box), GTK_WIDGET(self->done_button));
  gtk_widget_set_visible(self->run_box, FALSE);
  gtk_box_append(GTK_BOX(box), self->run_box);

  adw_clamp_set_child(ADW_CLAMP(clamp), box);
  gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), clamp);
  gtk_box_append(GTK_BOX(self), scrolled);

  g_signal_connect(start_button, "clicked", G_CALLBACK(on_start_clicked_cb), self);
  g_signal_connect(choose, "clicked", G_CALLBACK(on_choose_clicked_cb), self);
  g_signal_connect(self->stop_button, "clicked", G_CALLBACK(on_stop_clicked_cb), self);
  g_signal_connect(self->done_button, "clicked", G_CALLBACK(on_done_clicked_cb), self);
}

static void
signet_gtk_batch_page_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  SignetGtkBatchPage *self = SIGNET_GTK_BATCH_PAGE(object);

  if (id == PROP_RUNNING)
    g_value_set_boolean(value, self->running);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void
signet_gtk_batch_page_dispose(GObject *object)
{
  SignetGtkBatchPage *self = SIGNET_GTK_BATCH_PAGE(object);

  /* The window going away does not leave a batch without its reader:
   * stopped as by Ctrl-C. */
  if (self->child != NULL)
    g_subprocess_send_signal(self->child, SIGINT);
  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  g_clear_object(&self->child);
  g_clear_object(&self->proxy);
  G_OBJECT_CLASS(signet_gtk_batch_page_parent_class)->dispose(object);
}

static void
signet_gtk_batch_page_finalize(GObject *object)
{
  SignetGtkBatchPage *self = SIGNET_GTK_BATCH_PAGE(object);

  g_ptr_array_unref(self->profiles);
  g_hash_table_unref(self->row_labels);
  g_string_free(self->stderr_text, TRUE);
  G_OBJECT_CLASS(signet_gtk_batch_page_parent_class)->finalize(object);
}

static void
signet_gtk_batch_page_class_init(SignetGtkBatchPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);

  object_class->get_property = signet_gtk_batch_page_get_property;
  object_class->dispose = signet_gtk_batch_page_dispose;
  object_class->finalize = signet_gtk_batch_page_finalize;
  props[PROP_RUNNING] = g_param_spec_boolean("running", NULL, NULL, FALSE,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);
}
