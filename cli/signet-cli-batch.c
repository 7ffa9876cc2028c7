/* signet-cli-batch.c: see signet-cli-batch.h. */
#include "config.h"

#include "cli/signet-cli-batch.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cli/signet-cli-errors.h"
#include "cli/signet-cli-output.h"
#include "cli/signet-cli-secret.h"
#include "common/signet-secret.h"
#include "common/signet-util.h"
#include "libsignet/signet-batch-csv.h"
#include "libsignet/signet-client.h"

#define AGENT_OBJECT_PATH "/io/signet/Agent"
#define AGENT_INTERFACE   "io.signet.Agent1"
#define TIMEOUT_READ      120000
#define ERROR_PREFIX      "io.signet.Error."

typedef enum
{
  ROW_WAITING,   /* no outcome yet: free, or bound to a token that is not here */
  ROW_RUNNING,   /* Activate in flight */
  ROW_ACTIVATED, /* the token holds the certificate */
  ROW_SKIPPED,   /* the token already had a certificate of the profile */
  ROW_FAILED,
} RowStatus;

static const char *const status_names[]
    = { "waiting", "running", "activated", "skipped", "failed" };

typedef struct _Batch Batch;

typedef struct
{
  Batch *batch;
  SignetBatchRow *row; /* NULL: a token skipped that no row names */
  RowStatus status;
  char *token; /* the token's serial once bound: never another token after that */
  char *reason;
  char *cert_serial;
  char *subject;
  char *not_before;
  char *not_after;
  gint64 time;
  gboolean from_file; /* the outcome is the state file's, not checked on the token */
  char *request_id;
} Entry;

struct _Batch
{
  SignetAgent1 *proxy;
  GDBusConnection *connection;
  const SignetCliBatchOptions *options;
  SignetBatchCsv *csv;
  GPtrArray *entries;     /* Entry: the rows in file order, then skipped tokens */
  GHashTable *by_request; /* request id → Entry */
  GHashTable *decided;    /* serials of unbound tokens already looked at */
  GQueue queue;           /* serials to look at */
  GQueue looks;           /* Look: tokens whose status was asked, in queue order */
  SignetSecret *pin;
  char *state_path;
  GKeyFile *state;
  guint running;
  guint retrying;      /* rows whose token was busy, to be tried again */
  gboolean pin_proven; /* one activation passed its login */
  gboolean stopping;
  char *stop_reason;
  GMainLoop *loop;
  guint subscriptions[3];
  guint signals[2];
  char *run_id; /* this run's part of the request ids */
};

static void
entry_free(gpointer p)
{
  Entry *e = p;

  g_free(e->token);
  g_free(e->reason);
  g_free(e->cert_serial);
  g_free(e->subject);
  g_free(e->not_before);
  g_free(e->not_after);
  g_free(e->request_id);
  g_free(e);
}

static const char *
dict_str(GVariant *dict, const char *key)
{
  const char *value = NULL;

  if (dict == NULL || !g_variant_lookup(dict, key, "&s", &value))
    return "";
  return value;
}

/* A token's serial or a value from the agent, as printed: one line. */
static char *
safe(const char *text)
{
  return signet_escape_control_chars(text != NULL ? text : "", FALSE);
}

static guint
entry_line(const Entry *e)
{
  return e->row != NULL ? e->row->line : 0;
}

/* ---- the state file ----------------------------------------------------- */

static char *
state_group(const Entry *e)
{
  return g_strdup_printf("line %u", entry_line(e));
}

static gboolean
state_save(Batch *b, GError **error)
{
  g_autofree char *data = NULL;
  gsize len;

  data = g_key_file_to_data(b->state, &len, NULL);
  if (!g_file_set_contents_full(b->state_path, data, (gssize)len,
                                G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
                                error)) {
    g_prefix_error(error, _("Could not write the batch's state file: "));
    return FALSE;
  }
  return TRUE;
}

/* Records @e (rows only). "assigned" for a row whose Activate is about to
 * start or that waits for its token. */
static void
state_record(Batch *b, Entry *e)
{
  g_autofree char *group = NULL;
  g_autoptr(GError) error = NULL;
  const char *status;

  if (e->row == NULL || e->token == NULL)
    return;
  group = state_group(e);
  status
      = e->status == ROW_WAITING || e->status == ROW_RUNNING ? "assigned" : status_names[e->status];
  g_key_file_set_string(b->state, group, "reference", e->row->reference);
  g_key_file_set_string(b->state, group, "token", e->token);
  g_key_file_set_string(b->state, group, "status", status);
  g_key_file_set_string(b->state, group, "reason", e->reason != NULL ? e->reason : "");
  g_key_file_set_string(b->state, group, "certificate_serial",
                        e->cert_serial != NULL ? e->cert_serial : "");
  g_key_file_set_string(b->state, group, "subject", e->subject != NULL ? e->subject : "");
  g_key_file_set_string(b->state, group, "not_before", e->not_before != NULL ? e->not_before : "");
  g_key_file_set_string(b->state, group, "not_after", e->not_after != NULL ? e->not_after : "");
  g_key_file_set_int64(b->state, group, "time", e->time);
  if (!state_save(b, &error)) {
    /* Without the record a resume could give the row to another token:
     * start nothing more. */
    g_printerr("signet: %s\n", error->message);
    b->stopping = TRUE;
    if (b->stop_reason == NULL)
      b->stop_reason = g_strdup(error->message);
  }
}

/* Opens or creates the state file; binds the rows it names (--resume). */
static gboolean
state_open(Batch *b, const char *sha256, GError **error)
{
  g_autofree char *dir = g_build_filename(g_get_user_state_dir(), "signet", NULL);
  g_autofree char *name = g_strdup_printf("batch-%.16s.state", sha256);
  g_autoptr(GError) local = NULL;
  g_autofree char *profile = NULL;

  b->state_path = g_build_filename(dir, name, NULL);
  b->state = g_key_file_new();
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    int saved = errno;
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED, _("Could not create %s: %s"), dir,
                g_strerror(saved));
    return FALSE;
  }
  if (!g_key_file_load_from_file(b->state, b->state_path, G_KEY_FILE_NONE, &local)) {
    if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                  _("Could not read the batch's state file %s: %s"), b->state_path, local->message);
      return FALSE;
    }
    g_key_file_set_string(b->state, "batch", "csv", b->options->csv_path);
    g_key_file_set_string(b->state, "batch", "sha256", sha256);
    g_key_file_set_string(b->state, "batch", "profile", b->options->profile);
    g_key_file_set_int64(b->state, "batch", "started", g_get_real_time() / G_USEC_PER_SEC);
    /* Written with the first row given to a token: a run that stops
     * before (no PIN, no token) leaves nothing to resume. */
    return TRUE;
  }
  if (!b->options->resume) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("This CSV was started as a batch before (state in %s). Continue it with "
                  "--resume: rows already given to a token stay with that token and no code is "
                  "sent twice. To start over, delete that file first."),
                b->state_path);
    return FALSE;
  }
  profile = g_key_file_get_string(b->state, "batch", "profile", NULL);
  if (g_strcmp0(profile, b->options->profile) != 0) {
    g_autofree char *shown = safe(profile);
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("This batch was started with --profile %s; resume it with the same profile"),
                shown);
    return FALSE;
  }
  for (guint i = 0; i < b->entries->len; i++) {
    Entry *e = b->entries->pdata[i];
    g_autofree char *group = state_group(e);
    g_autofree char *token = g_key_file_get_string(b->state, group, "token", NULL);
    g_autofree char *status = g_key_file_get_string(b->state, group, "status", NULL);

    if (token == NULL || *token == '\0')
      continue;
    e->token = g_steal_pointer(&token);
    if (g_strcmp0(status, "skipped") == 0) {
      /* Nothing was sent for it: it stays skipped. */
      e->status = ROW_SKIPPED;
      e->reason = g_key_file_get_string(b->state, group, "reason", NULL);
      e->time = g_key_file_get_int64(b->state, group, "time", NULL);
    } else if (g_strcmp0(status, "activated") == 0) {
      /* Reported as the file says unless its token comes and tells. */
      e->status = ROW_ACTIVATED;
      e->from_file = TRUE;
      e->cert_serial = g_key_file_get_string(b->state, group, "certificate_serial", NULL);
      e->subject = g_key_file_get_string(b->state, group, "subject", NULL);
      e->not_before = g_key_file_get_string(b->state, group, "not_before", NULL);
      e->not_after = g_key_file_get_string(b->state, group, "not_after", NULL);
      e->time = g_key_file_get_int64(b->state, group, "time", NULL);
    } else {
      /* assigned (cut short) or failed: again on the same token only; the
       * agent's journal resumes or rolls back what was half done. */
      e->status = ROW_WAITING;
      e->reason = g_key_file_get_string(b->state, group, "reason", NULL);
    }
  }
  return TRUE;
}

/* ---- output ------------------------------------------------------------- */

static void
print_event(Batch *b, const char *event, Entry *e, const char *step, const char *message)
{
  if (b->options->json) {
    g_autoptr(JsonBuilder) j = json_builder_new();
    g_autoptr(JsonNode) node = NULL;

    json_builder_begin_object(j);
    json_builder_set_member_name(j, "event");
    json_builder_add_string_value(j, event);
    json_builder_set_member_name(j, "line");
    json_builder_add_int_value(j, entry_line(e));
    json_builder_set_member_name(j, "reference");
    json_builder_add_string_value(j, e->row != NULL ? e->row->reference : "");
    json_builder_set_member_name(j, "token");
    json_builder_add_string_value(j, e->token != NULL ? e->token : "");
    if (step != NULL) {
      json_builder_set_member_name(j, "step");
      json_builder_add_string_value(j, step);
    }
    if (g_str_equal(event, "row")) {
      json_builder_set_member_name(j, "status");
      json_builder_add_string_value(j, status_names[e->status]);
    }
    json_builder_set_member_name(j, "message");
    json_builder_add_string_value(j, message != NULL ? message : "");
    json_builder_end_object(j);
    node = json_builder_get_root(j);
    signet_cli_print_json(node);
  } else {
    g_autofree char *token = safe(e->token);
    g_autofree char *text = safe(message);

    if (e->row != NULL)
      /* TRANSLATORS: the CSV's line, the token's serial, what happens. */
      g_print(_("line %-4u %-18s %s\n"), e->row->line, token, text);
    else
      g_print(_("token    %-18s %s\n"), token, text);
  }
  fflush(stdout);
}

static void
settle(Batch *b, Entry *e, RowStatus status, const char *reason)
{
  g_autofree char *message = NULL;

  e->status = status;
  g_free(e->reason);
  e->reason = g_strdup(reason);
  e->time = g_get_real_time() / G_USEC_PER_SEC;
  state_record(b, e);
  if (status == ROW_ACTIVATED)
    /* TRANSLATORS: a certificate's serial, its subject, its end of validity. */
    message = g_strdup_printf(_("activated: certificate %s, %s, valid until %s"), e->cert_serial,
                              e->subject, e->not_after);
  else if (status == ROW_SKIPPED)
    message = g_strdup_printf(_("skipped: %s"), reason);
  else
    message = g_strdup_printf(_("failed: %s"), reason);
  print_event(b, "row", e, NULL, message);
}

/* ---- tokens ------------------------------------------------------------- */

/* The token's valid holder certificate of the profile (a dictionary of its
 * status), or NULL. */
static GVariant *
profile_certificate(GVariant *status, const char *profile)
{
  g_autoptr(GVariant) certs
      = g_variant_lookup_value(status, "certificates", G_VARIANT_TYPE("aa{sv}"));
  gsize n = certs != NULL ? g_variant_n_children(certs) : 0;

  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) c = g_variant_get_child_value(certs, i);
    gboolean expired = FALSE, authority = FALSE;

    g_variant_lookup(c, "expired", "b", &expired);
    g_variant_lookup(c, "authority", "b", &authority);
    if (!expired && !authority && g_str_equal(dict_str(c, "profile"), profile))
      return g_steal_pointer(&c);
  }
  return NULL;
}

static void
take_certificate(Entry *e, GVariant *cert)
{
  g_free(e->cert_serial);
  g_free(e->subject);
  g_free(e->not_before);
  g_free(e->not_after);
  e->cert_serial = g_strdup(dict_str(cert, "serial"));
  e->subject = g_strdup(dict_str(cert, "subject"));
  e->not_before = g_strdup(dict_str(cert, "not_before"));
  e->not_after = g_strdup(dict_str(cert, "not_after"));
}

static Entry *
find_bound(Batch *b, const char *serial)
{
  for (guint i = 0; i < b->entries->len; i++) {
    Entry *e = b->entries->pdata[i];

    if (e->row != NULL && g_strcmp0(e->token, serial) == 0)
      return e;
  }
  return NULL;
}

/* The row for a new token: the one naming its serial, else the first free
 * row that names none. */
static Entry *
free_row_for(Batch *b, const char *serial)
{
  for (guint i = 0; i < b->entries->len; i++) {
    Entry *e = b->entries->pdata[i];

    if (e->row != NULL && e->token == NULL && g_str_equal(e->row->serial, serial))
      return e->status == ROW_WAITING ? e : NULL;
  }
  for (guint i = 0; i < b->entries->len; i++) {
    Entry *e = b->entries->pdata[i];

    if (e->row != NULL && e->token == NULL && e->status == ROW_WAITING && *e->row->serial == '\0')
      return e;
  }
  return NULL;
}

static gboolean
all_settled(Batch *b)
{
  for (guint i = 0; i < b->entries->len; i++) {
    Entry *e = b->entries->pdata[i];

    if (e->status == ROW_WAITING || e->status == ROW_RUNNING)
      return FALSE;
  }
  return TRUE;
}

static void pump(Batch *b);
static void enqueue(Batch *b, const char *serial);

static void
check_end(Batch *b)
{
  if (b->running > 0 || b->retrying > 0 || !g_queue_is_empty(&b->looks) || b->loop == NULL)
    return;
  if (all_settled(b) || b->stopping || (!b->options->wait && g_queue_is_empty(&b->queue)))
    g_main_loop_quit(b->loop);
}

/* A token that was busy (its earlier activation still runs in the agent,
 * e.g. after the CLI was killed): looked at again a second later. */
static gboolean
on_retry_cb(gpointer user_data)
{
  Entry *e = user_data;
  Batch *b = e->batch;

  b->retrying--;
  if (!b->stopping) {
    enqueue(b, e->token);
    pump(b);
  }
  check_end(b);
  return G_SOURCE_REMOVE;
}

/* The agent left the bus before it answered (@name: the D-Bus error's
 * name, before it was stripped). */
static gboolean
agent_gone(const char *name, const GError *error)
{
  static const char *const names[]
      = { "org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.ServiceUnknown",
          "org.freedesktop.DBus.Error.NameHasNoOwner", "org.freedesktop.DBus.Error.Disconnected",
          NULL };

  return (name != NULL && g_strv_contains(names, name))
         || g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY)
         || g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)
         || g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)
         || g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED)
         || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static void
on_activate_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
  Entry *e = user_data;
  Batch *b = e->batch;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;

  b->running--;
  g_hash_table_remove(b->by_request, e->request_id);
  if (signet_agent1_call_activate_finish(SIGNET_AGENT1(source), &result, res, &error)) {
    b->pin_proven = TRUE;
    take_certificate(e, result);
    e->from_file = FALSE;
    settle(b, e, ROW_ACTIVATED, NULL);
  } else {
    g_autofree char *name = g_dbus_error_get_remote_error(error);
    const char *kind
        = name != NULL && g_str_has_prefix(name, ERROR_PREFIX) ? name + strlen(ERROR_PREFIX) : "";

    g_dbus_error_strip_remote_error(error);
    if (agent_gone(name, error)) {
      /* The agent went away with the call (killed, crashed): what it did is
       * in its journal, which the next agent takes up. The row stays with
       * this token, and nothing more is started. */
      e->status = ROW_WAITING;
      g_free(e->reason);
      e->reason = g_strdup(error->message);
      state_record(b, e);
      print_event(b, "row", e, NULL,
                  _("the agent stopped before it answered; the row stays with this token (the "
                    "next agent finishes or rolls back what was half done)"));
      b->stopping = TRUE;
      if (b->stop_reason == NULL)
        b->stop_reason = g_strdup(_("The agent (signetd) stopped in the middle of the batch: no "
                                    "other activation was started. Run the same command with "
                                    "--resume once it runs again: each row stays with its token "
                                    "and no code is sent twice."));
    } else if (g_str_equal(kind, "Busy")) {
      e->status = ROW_WAITING;
      print_event(b, "progress", e, "busy",
                  _("the token is busy with another operation; trying again when it is free"));
      b->retrying++;
      g_timeout_add_seconds(1, on_retry_cb, e);
    } else if (g_str_equal(kind, "TokenRemoved") || g_str_equal(kind, "NoSuchToken")) {
      /* The row stays with this token until it comes back. */
      e->status = ROW_WAITING;
      g_free(e->reason);
      e->reason = g_strdup(error->message);
      state_record(b, e);
      print_event(b, "row", e, NULL,
                  _("the token went away; its row waits for it to come back (the agent "
                    "resumes or rolls back what was half done)"));
    } else {
      if (g_str_equal(kind, "PinIncorrect") || g_str_equal(kind, "PinLocked")
          || g_str_equal(kind, "FinalTry")) {
        /* Never the same PIN on the next token. */
        b->stopping = TRUE;
        if (b->stop_reason == NULL)
          b->stop_reason = g_strdup(_("The transport PIN was refused: the batch stopped, no "
                                      "other token was tried with it. Run it again with "
                                      "--resume and the right PIN."));
      }
      settle(b, e, ROW_FAILED, error->message);
    }
  }
  pump(b);
  check_end(b);
}

static void
start_activation(Batch *b, Entry *e)
{
  GVariantBuilder options;
  SignetSecret *pin;
  SignetSecret *code;
  e->status = ROW_RUNNING;
  g_free(e->request_id);
  e->request_id = g_strdup_printf("batch-%s-line-%u", b->run_id, e->row->line);
  /* Before the call: a resume gives this row to this token only. */
  state_record(b, e);
  if (b->stopping) {
    e->status = ROW_WAITING;
    return;
  }
  g_hash_table_insert(b->by_request, e->request_id, e);
  b->running++;
  pin = signet_secret_new(signet_secret_get_data(b->pin), signet_secret_get_len(b->pin));
  code = signet_secret_new(e->row->code, strlen(e->row->code));
  g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&options, "{sv}", "request-id", g_variant_new_string(e->request_id));
  print_event(b, "progress", e, "start", _("activating"));
  signet_agent1_call_activate(b->proxy, e->token, b->options->profile, e->row->reference,
                              signet_cli_secret_to_variant(code), signet_cli_secret_to_variant(pin),
                              g_variant_builder_end(&options), G_DBUS_CALL_FLAGS_NONE, G_MAXINT,
                              NULL, on_activate_done_cb, e);
}

/* A skipped token that no row names: an entry of its own for the report. */
static void
skip_token(Batch *b, const char *serial, const char *reason)
{
  Entry *e = g_new0(Entry, 1);

  e->batch = b;
  e->token = g_strdup(serial);
  g_ptr_array_add(b->entries, e);
  settle(b, e, ROW_SKIPPED, reason);
}

static void
note_token(Batch *b, const char *serial, const char *message)
{
  Entry tmp = { .token = (char *)serial };

  print_event(b, "token", &tmp, NULL, message);
}

/* A token being looked at: its status asked of the agent. The answers are
 * taken in the order the tokens were queued (the rows without a serial go
 * to the tokens in that order), while the questions all run at once. */
typedef struct
{
  Batch *batch;
  char *serial;
  gboolean done;
  GVariant *status; /* NULL: see error */
  GError *error;
} Look;

static void
look_free(Look *l)
{
  g_free(l->serial);
  g_clear_pointer(&l->status, g_variant_unref);
  g_clear_error(&l->error);
  g_free(l);
}

/* Resumes the token's row, skips it, or gives it the next row, from its
 * status. */
static void
decide(Batch *b, const char *serial, GVariant *status)
{
  g_autoptr(GVariant) cert = NULL;
  g_autoptr(GError) error = NULL;
  Entry *e = find_bound(b, serial);
  SignetClientAsk ask;

  /* Looked at again since it was asked (a second TokenChanged). */
  if (e != NULL && e->status != ROW_WAITING && !(e->status == ROW_ACTIVATED && e->from_file))
    return;
  if (e == NULL && g_hash_table_contains(b->decided, serial))
    return;
  cert = profile_certificate(status, b->options->profile);
  if (e != NULL) {
    if (cert != NULL) {
      /* Read from the token: the row's certificate is there. */
      take_certificate(e, cert);
      e->from_file = FALSE;
      settle(b, e, ROW_ACTIVATED, NULL);
      return;
    }
    start_activation(b, e);
    return;
  }
  g_hash_table_add(b->decided, g_strdup(serial));
  if (cert != NULL) {
    g_autofree char *reason = g_strdup_printf(
        _("the token already holds a valid certificate of profile %s (serial %s); not "
          "overwritten"),
        b->options->profile, dict_str(cert, "serial"));
    Entry *row = NULL;

    for (guint i = 0; i < b->entries->len && row == NULL; i++) {
      Entry *r = b->entries->pdata[i];

      if (r->row != NULL && r->token == NULL && r->status == ROW_WAITING
          && g_str_equal(r->row->serial, serial))
        row = r;
    }
    if (row != NULL) {
      row->token = g_strdup(serial);
      take_certificate(row, cert);
      settle(b, row, ROW_SKIPPED, reason);
    } else
      skip_token(b, serial, reason);
    return;
  }
  ask = signet_client_before_secret(status, SIGNET_CLIENT_OP_GENERATE_KEY, serial, &error);
  if (ask != SIGNET_CLIENT_ASK) {
    note_token(b, serial,
               ask == SIGNET_CLIENT_REFUSE ? error->message
               : ask == SIGNET_CLIENT_ASK_FINAL_TRY
                   ? _("one PIN try left on this token: left alone (activate it on its own)")
                   : _("this token has a PIN pad: left alone (activate it on its own)"));
    return;
  }
  e = free_row_for(b, serial);
  if (e == NULL) {
    note_token(b, serial, _("no row of the CSV is left for this token: left alone"));
    return;
  }
  e->token = g_strdup(serial);
  start_activation(b, e);
}

static void
on_status_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
  Look *l = user_data;
  Batch *b = l->batch;

  if (!signet_agent1_call_get_token_status_finish(SIGNET_AGENT1(source), &l->status, res,
                                                  &l->error))
    g_dbus_error_strip_remote_error(l->error);
  l->done = TRUE;
  if (b == NULL) {
    /* The batch is over. */
    look_free(l);
    return;
  }
  /* In queue order: a token answered early waits for those before it. */
  while (!g_queue_is_empty(&b->looks) && ((Look *)g_queue_peek_head(&b->looks))->done) {
    Look *head = g_queue_pop_head(&b->looks);

    if (head->status == NULL)
      note_token(b, head->serial, head->error->message);
    else if (!b->stopping)
      decide(b, head->serial, head->status);
    look_free(head);
  }
  pump(b);
  check_end(b);
}

/* Asks for the token's status; decide() takes it from there. */
static void
consider(Batch *b, const char *serial)
{
  Entry *e = find_bound(b, serial);
  Look *l;

  if (e != NULL && e->status != ROW_WAITING && !(e->status == ROW_ACTIVATED && e->from_file))
    return;
  if (e == NULL && g_hash_table_contains(b->decided, serial))
    return;
  l = g_new0(Look, 1);
  l->batch = b;
  l->serial = g_strdup(serial);
  g_queue_push_tail(&b->looks, l);
  signet_agent1_call_get_token_status(b->proxy, serial, G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ, NULL,
                                      on_status_cb, l);
}

/* Looks at the queued tokens: one at a time until the PIN has been taken
 * once, then all at once. */
static void
pump(Batch *b)
{
  while (!b->stopping && !g_queue_is_empty(&b->queue)
         && (b->pin_proven || (b->running == 0 && g_queue_is_empty(&b->looks)))) {
    g_autofree char *serial = g_queue_pop_head(&b->queue);

    consider(b, serial);
  }
}

static void
enqueue(Batch *b, const char *serial)
{
  if (*serial == '\0' || g_queue_find_custom(&b->queue, serial, (GCompareFunc)g_strcmp0) != NULL)
    return;
  g_queue_push_tail(&b->queue, g_strdup(serial));
}

/* Steps after the login: the PIN was right. */
static gboolean
after_login(const char *step)
{
  static const char *const steps[] = { "cleanup", "generate-key", "request", "enroll", "resend",
                                       "verify",  "store",        "done",    NULL };

  return g_strv_contains(steps, step);
}

static void
on_progress_cb(GDBusConnection *connection, const char *sender, const char *path, const char *iface,
               const char *signal, GVariant *parameters, gpointer user_data)
{
  Batch *b = user_data;
  const char *request_id, *operation, *step;
  g_autoptr(GVariant) details = NULL;
  Entry *e;

  if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sssa{sv})")))
    return;
  g_variant_get(parameters, "(&s&s&s@a{sv})", &request_id, &operation, &step, &details);
  e = g_hash_table_lookup(b->by_request, request_id);
  if (e == NULL)
    return;
  print_event(b, "progress", e, step, dict_str(details, "message"));
  if (!b->pin_proven && after_login(step)) {
    b->pin_proven = TRUE;
    pump(b);
  }
}

static void
on_token_event_cb(GDBusConnection *connection, const char *sender, const char *path,
                  const char *iface, const char *signal, GVariant *parameters, gpointer user_data)
{
  Batch *b = user_data;
  g_autoptr(GVariant) token = NULL;

  if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(a{sv})")))
    return;
  token = g_variant_get_child_value(parameters, 0);
  if (!g_str_equal(dict_str(token, "pkcs11"), "token"))
    return;
  enqueue(b, dict_str(token, "serial"));
  pump(b);
}

static gboolean
on_interrupt_cb(gpointer user_data)
{
  Batch *b = user_data;

  if (b->stopping) {
    /* Twice: leave now; the agent finishes what runs, --resume takes it up. */
    g_main_loop_quit(b->loop);
    return G_SOURCE_CONTINUE;
  }
  b->stopping = TRUE;
  if (b->stop_reason == NULL)
    b->stop_reason = g_strdup(_("Interrupted: no new activation was started. Continue with "
                                "--resume."));
  g_printerr(ngettext("Stopping: waiting for the %u activation running (interrupt again to leave "
                      "at once; the agent finishes it anyway)\n",
                      "Stopping: waiting for the %u activations running (interrupt again to "
                      "leave at once; the agent finishes them anyway)\n",
                      b->running),
             b->running);
  check_end(b);
  return G_SOURCE_CONTINUE;
}

/* ---- the report --------------------------------------------------------- */

static void
csv_field(GString *out, const char *value)
{
  if (value == NULL)
    value = "";
  if (strpbrk(value, ",;\"\r\n") == NULL) {
    g_string_append(out, value);
    return;
  }
  g_string_append_c(out, '"');
  for (const char *c = value; *c != '\0'; c++) {
    if (*c == '"')
      g_string_append_c(out, '"');
    g_string_append_c(out, *c);
  }
  g_string_append_c(out, '"');
}

static char *
iso_time(gint64 t)
{
  g_autoptr(GDateTime) dt = t > 0 ? g_date_time_new_from_unix_utc(t) : NULL;

  return dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("");
}

static const char *const report_columns[]
    = { "line",   "reference",          "name",    "email",      "token_serial", "status",
        "reason", "certificate_serial", "subject", "not_before", "not_after",    "time",
        NULL };

static GPtrArray *
report_values(Entry *e)
{
  GPtrArray *v = g_ptr_array_new_with_free_func(g_free);

  g_ptr_array_add(v, e->row != NULL ? g_strdup_printf("%u", e->row->line) : g_strdup(""));
  g_ptr_array_add(v, g_strdup(e->row != NULL ? e->row->reference : ""));
  g_ptr_array_add(v, g_strdup(e->row != NULL ? e->row->name : ""));
  g_ptr_array_add(v, g_strdup(e->row != NULL ? e->row->email : ""));
  g_ptr_array_add(v, g_strdup(e->token != NULL ? e->token : ""));
  g_ptr_array_add(v, g_strdup(e->status == ROW_RUNNING ? "waiting" : status_names[e->status]));
  g_ptr_array_add(v, g_strdup(e->reason != NULL ? e->reason : ""));
  g_ptr_array_add(v, g_strdup(e->cert_serial != NULL ? e->cert_serial : ""));
  g_ptr_array_add(v, g_strdup(e->subject != NULL ? e->subject : ""));
  g_ptr_array_add(v, g_strdup(e->not_before != NULL ? e->not_before : ""));
  g_ptr_array_add(v, g_strdup(e->not_after != NULL ? e->not_after : ""));
  g_ptr_array_add(v, iso_time(e->time));
  return v;
}

static gboolean
write_report(Batch *b, const char *path, GError **error)
{
  g_autoptr(GString) out = g_string_new(NULL);
  gboolean json = g_str_has_suffix(path, ".json");
  guint n_extra = g_strv_length(b->csv->extra_names);

  if (json) {
    g_autoptr(JsonBuilder) j = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;

    json_builder_begin_object(j);
    json_builder_set_member_name(j, "profile");
    json_builder_add_string_value(j, b->options->profile);
    json_builder_set_member_name(j, "rows");
    json_builder_begin_array(j);
    for (guint i = 0; i < b->entries->len; i++) {
      Entry *e = b->entries->pdata[i];
      g_autoptr(GPtrArray) v = report_values(e);

      json_builder_begin_object(j);
      for (guint c = 0; report_columns[c] != NULL; c++) {
        json_builder_set_member_name(j, report_columns[c]);
        if (c == 0)
          json_builder_add_int_value(j, entry_line(e));
        else
          json_builder_add_string_value(j, v->pdata[c]);
      }
      json_builder_set_member_name(j, "checked_on_token");
      json_builder_add_boolean_value(j, !e->from_file);
      json_builder_set_member_name(j, "columns");
      json_builder_begin_object(j);
      for (guint x = 0; x < n_extra; x++) {
        json_builder_set_member_name(j, b->csv->extra_names[x]);
        json_builder_add_string_value(j, e->row != NULL ? e->row->extra[x] : "");
      }
      json_builder_end_object(j);
      json_builder_end_object(j);
    }
    json_builder_end_array(j);
    json_builder_end_object(j);
    root = json_builder_get_root(j);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    text = json_generator_to_data(gen, NULL);
    g_string_append(out, text);
    g_string_append_c(out, '\n');
  } else {
    for (guint c = 0; report_columns[c] != NULL; c++) {
      if (c > 0)
        g_string_append_c(out, ',');
      g_string_append(out, report_columns[c]);
    }
    for (guint x = 0; x < n_extra; x++) {
      g_string_append_c(out, ',');
      csv_field(out, b->csv->extra_names[x]);
    }
    g_string_append(out, "\r\n");
    for (guint i = 0; i < b->entries->len; i++) {
      Entry *e = b->entries->pdata[i];
      g_autoptr(GPtrArray) v = report_values(e);

      for (guint c = 0; c < v->len; c++) {
        if (c > 0)
          g_string_append_c(out, ',');
        csv_field(out, v->pdata[c]);
      }
      for (guint x = 0; x < n_extra; x++) {
        g_string_append_c(out, ',');
        csv_field(out, e->row != NULL ? e->row->extra[x] : "");
      }
      g_string_append(out, "\r\n");
    }
  }
  if (!g_file_set_contents_full(path, out->str, (gssize)out->len, G_FILE_SET_CONTENTS_CONSISTENT,
                                0644, error)) {
    g_prefix_error(error, _("Could not write the report: "));
    return FALSE;
  }
  return TRUE;
}

/* ---- the batch ---------------------------------------------------------- */

static void
batch_clear(Batch *b)
{
  for (guint i = 0; i < G_N_ELEMENTS(b->subscriptions); i++)
    if (b->subscriptions[i] != 0)
      g_dbus_connection_signal_unsubscribe(b->connection, b->subscriptions[i]);
  for (guint i = 0; i < G_N_ELEMENTS(b->signals); i++)
    if (b->signals[i] != 0)
      g_source_remove(b->signals[i]);
  g_clear_pointer(&b->by_request, g_hash_table_unref);
  g_clear_pointer(&b->entries, g_ptr_array_unref);
  g_clear_pointer(&b->decided, g_hash_table_unref);
  g_queue_clear_full(&b->queue, g_free);
  /* Left with a status still asked only by a second Ctrl-C: its callback
   * frees it. */
  while (!g_queue_is_empty(&b->looks)) {
    Look *l = g_queue_pop_head(&b->looks);

    if (l->done)
      look_free(l);
    else
      l->batch = NULL;
  }
  g_clear_pointer(&b->pin, signet_secret_free);
  g_clear_pointer(&b->csv, signet_batch_csv_free);
  g_clear_pointer(&b->state, g_key_file_unref);
  g_clear_pointer(&b->loop, g_main_loop_unref);
  g_free(b->state_path);
  g_free(b->stop_reason);
  g_free(b->run_id);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Batch, batch_clear)

gboolean
signet_cli_batch_activate(SignetAgent1 *proxy, const SignetCliBatchOptions *options, GError **error)
{
  g_auto(Batch) b = { 0 };
  g_autofree char *sha256 = NULL;
  g_autoptr(GVariant) profile = NULL;
  g_autoptr(GVariant) tokens = NULL;
  g_autoptr(GError) local = NULL;
  guint counts[G_N_ELEMENTS(status_names)] = { 0 };
  guint n_rows = 0;

  b.proxy = proxy;
  b.run_id = g_uuid_string_random();
  b.options = options;
  b.connection = g_dbus_proxy_get_connection(G_DBUS_PROXY(proxy));
  b.entries = g_ptr_array_new_with_free_func(entry_free);
  b.by_request = g_hash_table_new(g_str_hash, g_str_equal);
  b.decided = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init(&b.queue);
  g_queue_init(&b.looks);
  signet_cli_set_json_lines(TRUE);

  /* 1. The whole file is checked before anything starts. */
  b.csv = signet_batch_csv_load(options->csv_path, &sha256, NULL, &local);
  if (b.csv == NULL) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_BAD_INPUT, "%s: %s", options->csv_path,
                local->message);
    return FALSE;
  }
  for (guint i = 0; i < b.csv->rows->len; i++) {
    Entry *e = g_new0(Entry, 1);

    e->batch = &b;
    e->row = b.csv->rows->pdata[i];
    g_ptr_array_add(b.entries, e);
  }
  n_rows = b.csv->rows->len;
  /* 2. The profile exists (the agent's answer), before the PIN is asked. */
  if (!signet_agent1_call_get_profile_sync(proxy, options->profile, G_DBUS_CALL_FLAGS_NONE,
                                           TIMEOUT_READ, &profile, NULL, error))
    return FALSE;
  /* 3. The state file: refused without --resume when the batch ran before. */
  if (!state_open(&b, sha256, error))
    return FALSE;
  /* 4. The transport PIN, once. */
  b.pin = signet_cli_read_secret(options->pin_fd, "--pin-fd",
                                 _("Transport PIN of the batch's tokens: "), error);
  if (b.pin == NULL)
    return FALSE;
  if (signet_secret_get_len(b.pin) == 0) {
    g_set_error_literal(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                        _("No PIN given; nothing was sent"));
    return FALSE;
  }

  /* 5. Tokens as they come. */
  b.loop = g_main_loop_new(NULL, FALSE);
  b.subscriptions[0] = g_dbus_connection_signal_subscribe(
      b.connection, NULL, AGENT_INTERFACE, "Progress", AGENT_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_progress_cb, &b, NULL);
  b.subscriptions[1] = g_dbus_connection_signal_subscribe(
      b.connection, NULL, AGENT_INTERFACE, "TokenAdded", AGENT_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_token_event_cb, &b, NULL);
  b.subscriptions[2] = g_dbus_connection_signal_subscribe(
      b.connection, NULL, AGENT_INTERFACE, "TokenChanged", AGENT_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_token_event_cb, &b, NULL);
  if (!signet_agent1_call_watch_tokens_sync(proxy, G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ, NULL,
                                            error))
    return FALSE;
  b.signals[0] = g_unix_signal_add(SIGINT, on_interrupt_cb, &b);
  b.signals[1] = g_unix_signal_add(SIGTERM, on_interrupt_cb, &b);
  if (!signet_agent1_call_list_tokens_sync(proxy, G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ, &tokens,
                                           NULL, error))
    return FALSE;
  for (gsize i = 0; i < g_variant_n_children(tokens); i++) {
    g_autoptr(GVariant) t = g_variant_get_child_value(tokens, i);

    enqueue(&b, dict_str(t, "serial"));
  }
  pump(&b);
  check_end(&b);
  if (b.running > 0 || !g_queue_is_empty(&b.queue) || !g_queue_is_empty(&b.looks)
      || options->wait) {
    if (!all_settled(&b) && options->wait && !options->json)
      g_print("%s\n", _("Waiting for tokens (insert them in any reader; Ctrl-C stops)."));
    if (!(all_settled(&b) && b.running == 0 && g_queue_is_empty(&b.looks)))
      g_main_loop_run(b.loop);
  }
  g_clear_pointer(&b.pin, signet_secret_free);

  /* 6. Report and summary. */
  for (guint i = 0; i < b.entries->len; i++) {
    Entry *e = b.entries->pdata[i];

    if (e->row != NULL)
      counts[e->status]++;
  }
  if (options->report != NULL && !write_report(&b, options->report, error))
    return FALSE;
  if (options->json) {
    g_autoptr(JsonBuilder) j = json_builder_new();
    g_autoptr(JsonNode) node = NULL;

    json_builder_begin_object(j);
    json_builder_set_member_name(j, "event");
    json_builder_add_string_value(j, "summary");
    json_builder_set_member_name(j, "rows");
    json_builder_add_int_value(j, n_rows);
    for (guint s = 0; s < G_N_ELEMENTS(status_names); s++) {
      json_builder_set_member_name(j, status_names[s]);
      json_builder_add_int_value(j, s == ROW_WAITING ? counts[s] + counts[ROW_RUNNING] : counts[s]);
    }
    json_builder_set_member_name(j, "state_file");
    json_builder_add_string_value(j, b.state_path);
    json_builder_end_object(j);
    node = json_builder_get_root(j);
    signet_cli_print_json(node);
  } else {
    guint waiting = counts[ROW_WAITING] + counts[ROW_RUNNING];
    g_autofree char *rows
        = g_strdup_printf(ngettext("Batch: %u row", "Batch: %u rows", n_rows), n_rows);
    /* TRANSLATORS: counts of rows in the batch's summary, each on its own. */
    g_autofree char *activated = g_strdup_printf(
        ngettext("%u activated", "%u activated", counts[ROW_ACTIVATED]), counts[ROW_ACTIVATED]);
    g_autofree char *skipped = g_strdup_printf(
        ngettext("%u skipped", "%u skipped", counts[ROW_SKIPPED]), counts[ROW_SKIPPED]);
    g_autofree char *failed = g_strdup_printf(
        ngettext("%u failed", "%u failed", counts[ROW_FAILED]), counts[ROW_FAILED]);
    g_autofree char *waits = g_strdup_printf(
        ngettext("%u waiting for its token", "%u waiting for their tokens", waiting), waiting);

    /* TRANSLATORS: "Batch: 8 rows", then the counts: "5 activated", "1
     * skipped", "2 failed", "0 waiting for their tokens". */
    g_print(_("%s: %s, %s, %s, %s.\n"), rows, activated, skipped, failed, waits);
  }
  if (b.stop_reason != NULL) {
    g_set_error_literal(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED, b.stop_reason);
    return FALSE;
  }
  if (counts[ROW_WAITING] + counts[ROW_RUNNING] > 0) {
    guint waiting = counts[ROW_WAITING] + counts[ROW_RUNNING];

    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                ngettext("%u row waits for a token: insert more tokens and run the same command "
                         "with --resume (or with --wait to wait for it)",
                         "%u rows wait for a token: insert more tokens and run the same command "
                         "with --resume (or with --wait to wait for them)",
                         waiting),
                waiting);
    return FALSE;
  }
  if (counts[ROW_FAILED] > 0) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                options->report != NULL
                    ? ngettext("%u row failed (the reason is above and in the report)",
                               "%u rows failed (the reasons are above and in the report)",
                               counts[ROW_FAILED])
                    : ngettext("%u row failed (the reason is above)",
                               "%u rows failed (the reasons are above)", counts[ROW_FAILED]),
                counts[ROW_FAILED]);
    return FALSE;
  }
  return TRUE;
}
