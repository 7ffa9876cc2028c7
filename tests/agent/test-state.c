/* test-state: the state database (agent/signet-state.[ch]): schema and
 * settings, file modes, refusals that leave the file alone, tokens,
 * certificates, the operations journal and its uniqueness rule, reminders,
 * the audit log, two threads writing, and durability across a process that
 * exits without closing. Each test in a fresh temporary directory. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/signet-state.h"
#include "tests/testutil/signet-test-util.h"

#define NOW ((gint64)1700000000)

typedef struct
{
  char *dir;
  char *path;
  SignetState *state;
} Fixture;

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fx->dir = g_dir_make_tmp("signet-state-XXXXXX", &error);
  g_assert_no_error(error);
  fx->path = g_build_filename(fx->dir, "signet.db", NULL);
  if (data != NULL) {
    fx->state = signet_state_open(fx->path, &error);
    g_assert_no_error(error);
    g_assert_nonnull(fx->state);
  }
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
  g_clear_pointer(&fx->state, signet_state_free);
  signet_test_remove_tree(fx->dir);
  g_free(fx->path);
  g_free(fx->dir);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static char *
read_bytes(const char *path, gsize *out_len)
{
  g_autoptr(GError) error = NULL;
  char *data = NULL;

  g_file_get_contents(path, &data, out_len, &error);
  g_assert_no_error(error);
  return data;
}

static guint
file_mode(const char *path)
{
  struct stat st;

  g_assert_cmpint(g_stat(path, &st), ==, 0);
  return st.st_mode & 07777;
}

/* A separate, raw connection (as another process would have). */
static sqlite3 *
raw_open(const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

static gint64
raw_int(sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return value;
}

static char *
raw_text(sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  char *value;

  g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
  value = g_strdup((const char *)sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  return value;
}

static SignetOperation *
new_op(SignetOpKind kind, const char *token, const char *profile)
{
  SignetOperation *op = g_new0(SignetOperation, 1);

  op->kind = kind;
  op->token_serial = g_strdup(token);
  op->profile = g_strdup(profile);
  return op;
}

static void
assert_op_equal(const SignetOperation *a, const SignetOperation *b)
{
  g_assert_cmpint(a->id, ==, b->id);
  g_assert_cmpint(a->kind, ==, b->kind);
  g_assert_cmpstr(a->token_serial, ==, b->token_serial);
  g_assert_cmpstr(a->token_label, ==, b->token_label);
  g_assert_cmpstr(a->profile, ==, b->profile);
  g_assert_cmpstr(a->old_key_id, ==, b->old_key_id);
  g_assert_cmpstr(a->old_cert_serial, ==, b->old_cert_serial);
  g_assert_cmpstr(a->old_cert_issuer, ==, b->old_cert_issuer);
  g_assert_cmpstr(a->new_key_id, ==, b->new_key_id);
  g_assert_cmpint(a->keep_key, ==, b->keep_key);
  g_assert_cmpint(a->key_made, ==, b->key_made);
  g_assert_cmpstr(a->step, ==, b->step);
  g_assert_cmpint(a->state, ==, b->state);
  g_assert_cmpstr(a->request_pem, ==, b->request_pem);
  g_assert_cmpstr(a->certificates_pem, ==, b->certificates_pem);
  g_assert_cmpint(a->cert_stored, ==, b->cert_stored);
  g_assert_cmpint(a->retry_at, ==, b->retry_at);
  g_assert_cmpint(a->started, ==, b->started);
  g_assert_cmpint(a->updated, ==, b->updated);
  g_assert_cmpstr(a->message, ==, b->message);
  g_assert_cmpstr(a->reference, ==, b->reference);
  g_assert_cmpint(a->sent_at, ==, b->sent_at);
  g_assert_cmpstr(a->answer_lost, ==, b->answer_lost);
  g_assert_true((a->poll_state == NULL) == (b->poll_state == NULL));
  if (a->poll_state != NULL)
    g_assert_true(g_bytes_equal(a->poll_state, b->poll_state));
  g_assert_cmpint(a->revision, ==, b->revision);
}

static SignetOperation *
get_op(SignetState *state, gint64 id)
{
  g_autoptr(GError) error = NULL;
  SignetOperation *op = signet_state_op_get(state, id, &error);

  g_assert_no_error(error);
  g_assert_nonnull(op);
  return op;
}

/* ---- opening, schema, settings, modes ---------------------------------------------------- */

static void
test_open_settings(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *mode = NULL;
  g_autofree char *raw_mode = NULL;
  int sync = -1, busy = -1;
  gboolean fk = FALSE;
  sqlite3 *db;

  g_assert_cmpstr(signet_state_get_path(fx->state), ==, fx->path);
  g_assert_cmpint(signet_state_get_schema_version(fx->state), ==, SIGNET_STATE_SCHEMA_VERSION);
  g_assert_true(signet_state_get_settings(fx->state, &mode, &sync, &fk, &busy, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(mode, ==, "wal");
  g_assert_cmpint(sync, ==, 2);
  g_assert_true(fk);
  g_assert_cmpint(busy, >=, 1000);
  g_assert_cmpint(busy, <=, 30000);
  /* All out_ may be NULL. */
  g_assert_true(signet_state_get_settings(fx->state, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error(error);

  /* What another process sees in the file. */
  db = raw_open(fx->path);
  g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, SIGNET_STATE_SCHEMA_VERSION);
  raw_mode = raw_text(db, "PRAGMA journal_mode");
  g_assert_cmpstr(raw_mode, ==, "wal");
  g_assert_cmpint(raw_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                              " ('tokens', 'certificates', 'operations', 'reminders', 'audit')"),
                  ==, 5);
  g_assert_cmpint(raw_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name ="
                              " 'operations_one_open'"),
                  ==, 1);
  g_assert_cmpint(raw_int(db, "SELECT COUNT(*) FROM pragma_integrity_check WHERE"
                              " integrity_check = 'ok'"),
                  ==, 1);
  sqlite3_close(db);

  /* Reopening an existing database keeps it and its data. */
  g_assert_true(signet_state_token_seen(fx->state, "T1", "Label", "Model", NOW, &error));
  g_assert_no_error(error);
  g_clear_pointer(&fx->state, signet_state_free);
  fx->state = signet_state_open(fx->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(signet_state_get_schema_version(fx->state), ==, SIGNET_STATE_SCHEMA_VERSION);
  db = raw_open(fx->path);
  g_assert_cmpint(raw_int(db, "SELECT COUNT(*) FROM tokens WHERE serial = 'T1'"), ==, 1);
  sqlite3_close(db);
}

static void
test_modes(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *nested = g_build_filename(fx->dir, "a", "b", "signet.db", NULL);
  g_autofree char *dir_a = g_build_filename(fx->dir, "a", NULL);
  g_autofree char *dir_b = g_build_filename(fx->dir, "a", "b", NULL);
  g_autofree char *wal = g_strconcat(nested, "-wal", NULL);
  g_autofree char *shm = g_strconcat(nested, "-shm", NULL);
  g_autofree char *loose = g_build_filename(fx->dir, "loose.db", NULL);
  g_autoptr(SignetState) state = NULL;
  g_autoptr(SignetState) state2 = NULL;
  mode_t old = umask(0);

  /* Whatever the umask: missing directories 0700, the file 0600, and SQLite's
   * -wal and -shm files after it. */
  state = signet_state_open(nested, &error);
  g_assert_no_error(error);
  g_assert_true(signet_state_token_seen(state, "T1", NULL, NULL, NOW, &error));
  g_assert_no_error(error);
  g_assert_cmphex(file_mode(dir_a), ==, 0700);
  g_assert_cmphex(file_mode(dir_b), ==, 0700);
  g_assert_cmphex(file_mode(nested), ==, 0600);
  g_assert_true(g_file_test(wal, G_FILE_TEST_EXISTS));
  g_assert_cmphex(file_mode(wal), ==, 0600);
  g_assert_cmphex(file_mode(shm), ==, 0600);

  /* An existing database with a loose mode is made private, and so are the
   * -wal and -shm files made after it. */
  {
    sqlite3 *db = NULL;

    g_assert_cmpint(sqlite3_open(loose, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db, "CREATE TABLE x (a)", NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close(db);
    g_assert_cmpint(g_chmod(loose, 0666), ==, 0);
  }
  umask(old);
  state2 = signet_state_open(loose, &error);
  g_assert_no_error(error);
  g_assert_true(signet_state_token_seen(state2, "T1", NULL, NULL, NOW, &error));
  g_assert_no_error(error);
  g_assert_cmphex(file_mode(loose), ==, 0600);
  {
    g_autofree char *loose_wal = g_strconcat(loose, "-wal", NULL);
    g_autofree char *loose_shm = g_strconcat(loose, "-shm", NULL);

    g_assert_cmphex(file_mode(loose_wal), ==, 0600);
    g_assert_cmphex(file_mode(loose_shm), ==, 0600);
  }
  /* The existing directory (not made by Signet) is left as it is. */
  g_assert_cmphex(file_mode(fx->dir), ==, 0700);
}

static void
test_default_path(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetState) state = NULL;
  g_autofree char *expected = g_build_filename(g_get_user_state_dir(), "signet", "signet.db", NULL);
  g_autofree char *dir = g_build_filename(g_get_user_state_dir(), "signet", NULL);

  /* G_TEST_OPTION_ISOLATE_DIRS: g_get_user_state_dir() is a throwaway. */
  g_assert_true(g_str_has_prefix(g_get_user_state_dir(), g_get_tmp_dir()));
  state = signet_state_open(NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(signet_state_get_path(state), ==, expected);
  g_assert_true(g_file_test(expected, G_FILE_TEST_IS_REGULAR));
  g_assert_cmphex(file_mode(dir), ==, 0700);
  g_assert_cmphex(file_mode(expected), ==, 0600);
}

static void
test_newer_refused(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len = 0, after_len = 0;
  SignetState *state;
  sqlite3 *db = NULL;

  g_autofree char *sql = g_strdup_printf("CREATE TABLE future (a); PRAGMA user_version = %d;",
                                         SIGNET_STATE_SCHEMA_VERSION + 1);
  g_autofree char *newer = g_strdup_printf("version %d", SIGNET_STATE_SCHEMA_VERSION + 1);
  g_autofree char *ours = g_strdup_printf("version %d", SIGNET_STATE_SCHEMA_VERSION);

  g_assert_cmpint(sqlite3_open(fx->path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close(db);
  g_assert_cmpint(g_chmod(fx->path, 0644), ==, 0);
  before = read_bytes(fx->path, &before_len);

  state = signet_state_open(fx->path, &error);
  g_assert_null(state);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_nonnull(strstr(error->message, fx->path));
  g_assert_nonnull(strstr(error->message, "made by a newer Signet"));
  g_assert_nonnull(strstr(error->message, newer));
  g_assert_nonnull(strstr(error->message, ours));

  after = read_bytes(fx->path, &after_len);
  g_assert_cmpmem(before, before_len, after, after_len);
  g_assert_cmphex(file_mode(fx->path), ==, 0644);
  db = raw_open(fx->path);
  g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, SIGNET_STATE_SCHEMA_VERSION + 1);
  sqlite3_close(db);
}

static void
check_garbage_refused(Fixture *fx, const char *content, gsize len)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *after = NULL;
  gsize after_len = 0;
  SignetState *state;

  g_file_set_contents(fx->path, content, len, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_chmod(fx->path, 0644), ==, 0);

  state = signet_state_open(fx->path, &error);
  g_assert_null(state);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull(strstr(error->message, fx->path));
  g_assert_nonnull(strstr(error->message, "move it away"));

  g_assert_true(g_file_test(fx->path, G_FILE_TEST_IS_REGULAR));
  after = read_bytes(fx->path, &after_len);
  g_assert_cmpmem(content, len, after, after_len);
  g_assert_cmphex(file_mode(fx->path), ==, 0644);
}

static void
test_garbage_refused(Fixture *fx, gconstpointer data)
{
  static const char text[] = "this is not a database, it is someone's notes\n";
  char fake[4096];

  check_garbage_refused(fx, text, sizeof text - 1);
  check_garbage_refused(fx, "x", 1);

  /* SQLite's magic, then nonsense: SQLite itself refuses it. */
  memset(fake, 0xab, sizeof fake);
  memcpy(fake, "SQLite format 3", 16);
  check_garbage_refused(fx, fake, sizeof fake);
}

static void
test_unwritable_dir(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_build_filename(fx->dir, "file", NULL);
  g_autofree char *below = g_build_filename(file, "signet.db", NULL);
  SignetState *state;

  /* A path below a regular file cannot be made: a clear error, no crash. */
  g_file_set_contents(file, "x", 1, &error);
  g_assert_no_error(error);
  state = signet_state_open(below, &error);
  g_assert_null(state);
  g_assert_nonnull(error);
  g_assert_nonnull(strstr(error->message, fx->dir));
}

/* ---- tokens ------------------------------------------------------------------------------- */

static void
test_tokens(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *label = NULL;
  g_autofree char *model = NULL;
  sqlite3 *db;

  g_assert_true(signet_state_token_seen(fx->state, "0011aa", "Alice", "SoftHSM v2", NOW, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_token_seen(fx->state, "0022bb", NULL, NULL, NOW + 1, &error));
  g_assert_no_error(error);
  /* Seen again: last_seen moves, first_seen stays, a NULL label keeps the old one. */
  g_assert_true(
      signet_state_token_seen(fx->state, "0011aa", NULL, "SoftHSM v2.6", NOW + 100, &error));
  g_assert_no_error(error);

  db = raw_open(fx->path);
  g_assert_cmpint(raw_int(db, "SELECT COUNT(*) FROM tokens"), ==, 2);
  g_assert_cmpint(raw_int(db, "SELECT first_seen FROM tokens WHERE serial = '0011aa'"), ==, NOW);
  g_assert_cmpint(raw_int(db, "SELECT last_seen FROM tokens WHERE serial = '0011aa'"), ==,
                  NOW + 100);
  label = raw_text(db, "SELECT label FROM tokens WHERE serial = '0011aa'");
  g_assert_cmpstr(label, ==, "Alice");
  model = raw_text(db, "SELECT model FROM tokens WHERE serial = '0011aa'");
  g_assert_cmpstr(model, ==, "SoftHSM v2.6");
  g_assert_cmpint(raw_int(db, "SELECT label IS NULL FROM tokens WHERE serial = '0022bb'"), ==, 1);
  sqlite3_close(db);
}

/* ---- certificates ------------------------------------------------------------------------- */

static void
track(SignetState *state, const char *token, const char *issuer, const char *serial,
      const char *profile, gint64 not_after, gint64 now)
{
  g_autoptr(GError) error = NULL;
  SignetStateCert c = {
    .token_serial = (char *)token,
    .key_id = (char *)"01ab",
    .serial = (char *)serial,
    .issuer = (char *)issuer,
    .subject = (char *)"CN=Alice",
    .profile = (char *)profile,
    .not_before = not_after - 365 * 86400,
    .not_after = not_after,
    .present = TRUE,
  };

  g_assert_true(signet_state_cert_track(state, &c, now, &error));
  g_assert_no_error(error);
}

static void
test_certs(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *profile = NULL;
  g_autofree char *key_a = signet_state_cert_key("CN=CA", "0a");
  SignetStateCert *c;

  g_assert_cmpstr(key_a, ==, "CN=CA\n0a");

  track(fx->state, "T1", "CN=CA", "0a", "corp", NOW + 10 * 86400, NOW);
  track(fx->state, "T1", "CN=CA", "0b", NULL, NOW + 30 * 86400, NOW);
  track(fx->state, "T1", "CN=Other CA", "0a", "other", NOW + 20 * 86400, NOW);
  track(fx->state, "T2", "CN=CA", "0c", NULL, NOW + 5 * 86400, NOW);

  /* Same (token, issuer, serial): updated, and a NULL profile keeps the one recorded. */
  {
    SignetStateCert u = {
      .token_serial = (char *)"T1",
      .key_id = (char *)"02cd",
      .serial = (char *)"0a",
      .issuer = (char *)"CN=CA",
      .subject = (char *)"CN=Alice 2",
      .profile = NULL,
      .not_before = 0,
      .not_after = NOW + 11 * 86400,
      .present = TRUE,
    };

    g_assert_true(signet_state_cert_track(fx->state, &u, NOW + 50, &error));
    g_assert_no_error(error);
  }
  profile = signet_state_cert_profile(fx->state, "T1", "CN=CA", "0a", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(profile, ==, "corp");
  g_clear_pointer(&profile, g_free);
  profile = signet_state_cert_profile(fx->state, "T1", "CN=CA", "0b", &error);
  g_assert_no_error(error);
  g_assert_null(profile);
  profile = signet_state_cert_profile(fx->state, "T9", "CN=CA", "0a", &error);
  g_assert_no_error(error);
  g_assert_null(profile);
  /* A profile given later replaces the recorded one. */
  track(fx->state, "T1", "CN=CA", "0b", "late", NOW + 30 * 86400, NOW + 60);
  profile = signet_state_cert_profile(fx->state, "T1", "CN=CA", "0b", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(profile, ==, "late");

  /* Newest not_after first. */
  list = signet_state_certs_list(fx->state, "T1", FALSE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 3);
  c = g_ptr_array_index(list, 0);
  g_assert_cmpstr(c->serial, ==, "0b");
  c = g_ptr_array_index(list, 1);
  g_assert_cmpstr(c->issuer, ==, "CN=Other CA");
  c = g_ptr_array_index(list, 2);
  g_assert_cmpstr(c->token_serial, ==, "T1");
  g_assert_cmpstr(c->issuer, ==, "CN=CA");
  g_assert_cmpstr(c->serial, ==, "0a");
  g_assert_cmpstr(c->key_id, ==, "02cd");
  g_assert_cmpstr(c->subject, ==, "CN=Alice 2");
  g_assert_cmpstr(c->profile, ==, "corp");
  g_assert_cmpint(c->not_before, ==, 0);
  g_assert_cmpint(c->not_after, ==, NOW + 11 * 86400);
  g_assert_cmpint(c->first_seen, ==, NOW);
  g_assert_cmpint(c->last_seen, ==, NOW + 50);
  g_assert_true(c->present);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* Sync: the newest ("0b") is gone from the token; T2's are untouched. */
  {
    g_autofree char *k1 = signet_state_cert_key("CN=CA", "0a");
    g_autofree char *k2 = signet_state_cert_key("CN=Other CA", "0a");
    const char *const present[] = { k1, k2, NULL };

    g_assert_true(signet_state_certs_sync(fx->state, "T1", present, &error));
    g_assert_no_error(error);
  }
  list = signet_state_certs_list(fx->state, "T1", FALSE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 3);
  /* Present ones first, the absent one last though its not_after is the newest. */
  c = g_ptr_array_index(list, 0);
  g_assert_cmpstr(c->issuer, ==, "CN=Other CA");
  g_assert_true(c->present);
  c = g_ptr_array_index(list, 1);
  g_assert_cmpstr(c->serial, ==, "0a");
  g_assert_true(c->present);
  c = g_ptr_array_index(list, 2);
  g_assert_cmpstr(c->serial, ==, "0b");
  g_assert_false(c->present);
  g_clear_pointer(&list, g_ptr_array_unref);

  list = signet_state_certs_list(fx->state, "T1", TRUE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* All tokens. */
  list = signet_state_certs_list(fx->state, NULL, FALSE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 4);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_certs_list(fx->state, "T2", TRUE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* An empty (or NULL) list: all absent. Tracked again: present again. */
  g_assert_true(signet_state_certs_sync(fx->state, "T1", NULL, &error));
  g_assert_no_error(error);
  list = signet_state_certs_list(fx->state, "T1", TRUE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 0);
  g_clear_pointer(&list, g_ptr_array_unref);
  track(fx->state, "T1", "CN=CA", "0b", NULL, NOW + 30 * 86400, NOW + 70);
  list = signet_state_certs_list(fx->state, "T1", TRUE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  c = g_ptr_array_index(list, 0);
  g_assert_cmpstr(c->profile, ==, "late");
  g_assert_cmpint(c->last_seen, ==, NOW + 70);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* Unknown token: empty, no error. */
  list = signet_state_certs_list(fx->state, "nope", FALSE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 0);
}

/* ---- the roots of a certificate ------------------------------------------------------------ */

static SignetStateRoot *
root_new(const char *sha256, const char *pem, const char *source)
{
  SignetStateRoot *root = g_new0(SignetStateRoot, 1);

  root->sha256 = g_strdup(sha256);
  root->pem = g_strdup(pem);
  root->source = g_strdup(source);
  return root;
}

/* The legacy algorithms a CA forced (SCEP): journaled with the answer,
 * recorded with the certificate, kept when the certificate is tracked
 * again without them (the reminders' scan of the token), and absent for
 * one that had none. */
static void
test_cert_legacy(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetOperation) op = new_op(SIGNET_OP_ACTIVATE, "T1", "scep");
  g_autoptr(SignetOperation) got = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *legacy = NULL;
  SignetStateCert c = {
    .token_serial = (char *)"T1",
    .key_id = (char *)"01ab",
    .serial = (char *)"0a",
    .issuer = (char *)"CN=SCEP CA",
    .subject = (char *)"CN=Alice",
    .profile = (char *)"scep",
    .not_after = NOW + 86400,
    .present = TRUE,
    .legacy_algorithms = (char *)"DES, SHA-1",
  };

  g_assert_true(signet_state_op_begin(fx->state, op, NOW, &error));
  g_assert_no_error(error);
  op->legacy_algorithms = g_strdup("3DES, SHA-1");
  g_assert_true(signet_state_op_save(fx->state, op, NOW + 1, &error));
  g_assert_no_error(error);
  got = get_op(fx->state, op->id);
  g_assert_cmpstr(got->legacy_algorithms, ==, "3DES, SHA-1");

  g_assert_true(signet_state_cert_track(fx->state, &c, NOW, &error));
  g_assert_no_error(error);
  c.legacy_algorithms = NULL;
  g_assert_true(signet_state_cert_track(fx->state, &c, NOW + 5, &error));
  g_assert_no_error(error);
  legacy = signet_state_cert_legacy_algorithms(fx->state, "T1", "CN=SCEP CA", "0a", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(legacy, ==, "DES, SHA-1");
  g_clear_pointer(&legacy, g_free);

  c.serial = (char *)"0b";
  c.issuer = (char *)"CN=EST CA";
  g_assert_true(signet_state_cert_track(fx->state, &c, NOW, &error));
  g_assert_no_error(error);
  legacy = signet_state_cert_legacy_algorithms(fx->state, "T1", "CN=EST CA", "0b", &error);
  g_assert_no_error(error);
  g_assert_null(legacy);

  list = signet_state_certs_list(fx->state, "T1", FALSE, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  for (guint i = 0; i < list->len; i++) {
    SignetStateCert *e = g_ptr_array_index(list, i);

    g_assert_cmpstr(e->legacy_algorithms, ==, g_str_equal(e->serial, "0a") ? "DES, SHA-1" : NULL);
  }
}

static void
test_roots(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) add = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_root_free);
  g_autoptr(GPtrArray) list = NULL;
  const SignetStateRoot *r;

  /* None recorded: an empty list, no error. */
  list = signet_state_roots_list(fx->state, "T1", "CN=CA", "0a", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 0);
  g_clear_pointer(&list, g_ptr_array_unref);

  g_ptr_array_add(add, root_new("AA:01", "-----BEGIN CERTIFICATE-----\nA\n", "cacerts"));
  g_ptr_array_add(add, root_new("BB:02", "-----BEGIN CERTIFICATE-----\nB\n", "cacerts"));
  g_assert_true(signet_state_roots_add(fx->state, "T1", "CN=CA", "0a", add, NOW, &error));
  g_assert_no_error(error);
  /* Again, one known and one new: the known keeps its first source and time. */
  g_ptr_array_set_size(add, 0);
  g_ptr_array_add(add, root_new("AA:01", "-----BEGIN CERTIFICATE-----\nA\n", "renewal"));
  g_ptr_array_add(add, root_new("CC:03", "-----BEGIN CERTIFICATE-----\nC\n", "ca-roots"));
  g_assert_true(signet_state_roots_add(fx->state, "T1", "CN=CA", "0a", add, NOW + 10, &error));
  g_assert_no_error(error);
  /* Another certificate of the token, and the same on another token. */
  g_ptr_array_set_size(add, 0);
  g_ptr_array_add(add, root_new("DD:04", "D", "import"));
  g_assert_true(signet_state_roots_add(fx->state, "T1", "CN=CA", "0b", add, NOW, &error));
  g_assert_true(signet_state_roots_add(fx->state, "T2", "CN=CA", "0a", add, NOW, &error));
  g_assert_no_error(error);

  list = signet_state_roots_list(fx->state, "T1", "CN=CA", "0a", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 3);
  r = g_ptr_array_index(list, 0);
  g_assert_cmpstr(r->sha256, ==, "AA:01");
  g_assert_cmpstr(r->source, ==, "cacerts");
  g_assert_cmpint(r->recorded, ==, NOW);
  g_assert_cmpstr(r->pem, ==, "-----BEGIN CERTIFICATE-----\nA\n");
  r = g_ptr_array_index(list, 1);
  g_assert_cmpstr(r->sha256, ==, "BB:02");
  r = g_ptr_array_index(list, 2);
  g_assert_cmpstr(r->sha256, ==, "CC:03");
  g_assert_cmpstr(r->source, ==, "ca-roots");
  g_assert_cmpint(r->recorded, ==, NOW + 10);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_roots_list(fx->state, "T2", "CN=CA", "0a", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpstr(((SignetStateRoot *)g_ptr_array_index(list, 0))->sha256, ==, "DD:04");
}

/* ---- the operations journal --------------------------------------------------------------- */

static void
test_op_strings(void)
{
  g_assert_cmpstr(signet_op_kind_to_string(SIGNET_OP_ACTIVATE), ==, "activate");
  g_assert_cmpstr(signet_op_kind_to_string(SIGNET_OP_RENEW), ==, "renew");
  g_assert_cmpstr(signet_op_state_to_string(SIGNET_OP_RUNNING), ==, "running");
  g_assert_cmpstr(signet_op_state_to_string(SIGNET_OP_PENDING), ==, "pending");
  g_assert_cmpstr(signet_op_state_to_string(SIGNET_OP_ISSUED), ==, "issued");
  g_assert_cmpstr(signet_op_state_to_string(SIGNET_OP_FINISHED), ==, "finished");
  g_assert_cmpstr(signet_op_state_to_string(SIGNET_OP_ROLLED_BACK), ==, "rolled-back");
  g_assert_cmpstr(signet_op_state_to_string(SIGNET_OP_FAILED), ==, "failed");
  g_assert_true(signet_op_state_is_open(SIGNET_OP_RUNNING));
  g_assert_true(signet_op_state_is_open(SIGNET_OP_PENDING));
  g_assert_true(signet_op_state_is_open(SIGNET_OP_ISSUED));
  g_assert_false(signet_op_state_is_open(SIGNET_OP_FINISHED));
  g_assert_false(signet_op_state_is_open(SIGNET_OP_ROLLED_BACK));
  g_assert_false(signet_op_state_is_open(SIGNET_OP_FAILED));
}

static void
test_op_lifecycle(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetOperation) op = new_op(SIGNET_OP_RENEW, "T1", "corp");
  g_autoptr(SignetOperation) got = NULL;
  g_autoptr(SignetOperation) copy = NULL;
  g_autoptr(GPtrArray) audit = NULL;
  SignetAuditEntry *entry;

  op->token_label = g_strdup("Alice's token");
  op->old_key_id = g_strdup("01ab");
  op->old_cert_serial = g_strdup("7f00");
  op->old_cert_issuer = g_strdup("CN=Test CA,O=Signet");
  /* new_key_id, step, PEMs, message: NULL; flags and retry_at: 0. */
  g_assert_cmpint(op->id, ==, 0);
  g_assert_true(signet_state_op_begin(fx->state, op, NOW, &error));
  g_assert_no_error(error);
  g_assert_cmpint(op->id, >, 0);
  g_assert_cmpint(op->state, ==, SIGNET_OP_RUNNING);
  g_assert_cmpint(op->started, ==, NOW);
  g_assert_cmpint(op->updated, ==, NOW);
  got = get_op(fx->state, op->id);
  assert_op_equal(got, op);
  g_assert_null(got->new_key_id);
  g_assert_null(got->step);
  g_assert_null(got->message);
  g_clear_pointer(&got, signet_operation_free);

  /* Step: journaled before it runs. */
  op->new_key_id = g_strdup("02cd");
  g_assert_true(signet_state_op_step(fx->state, op, "generate-key", NOW + 1, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(op->step, ==, "generate-key");
  g_assert_cmpint(op->updated, ==, NOW + 1);
  got = get_op(fx->state, op->id);
  assert_op_equal(got, op);
  g_assert_cmpstr(got->new_key_id, ==, "02cd");
  g_clear_pointer(&got, signet_operation_free);

  /* Save every field, including pending with its request and retry time. */
  op->key_made = TRUE;
  op->keep_key = TRUE;
  op->state = SIGNET_OP_PENDING;
  op->request_pem = g_strdup("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE "
                             "REQUEST-----\n");
  op->retry_at = NOW + 3 * 86400;
  op->message = g_strdup("the CA issues later");
  g_assert_true(signet_state_op_save(fx->state, op, NOW + 2, &error));
  g_assert_no_error(error);
  g_assert_cmpint(op->updated, ==, NOW + 2);
  got = get_op(fx->state, op->id);
  assert_op_equal(got, op);
  g_clear_pointer(&got, signet_operation_free);

  /* Issued, then back to NULL and 0: NULLs and zeros are written too. */
  op->state = SIGNET_OP_ISSUED;
  op->certificates_pem = g_strdup("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
  g_clear_pointer(&op->request_pem, g_free);
  g_clear_pointer(&op->message, g_free);
  op->retry_at = 0;
  op->keep_key = FALSE;
  op->cert_stored = TRUE;
  g_assert_true(signet_state_op_step(fx->state, op, "write-certificate", NOW + 3, &error));
  g_assert_no_error(error);
  got = get_op(fx->state, op->id);
  assert_op_equal(got, op);
  g_assert_null(got->request_pem);
  g_assert_null(got->message);
  g_assert_cmpint(got->retry_at, ==, 0);
  g_assert_false(got->keep_key);
  g_clear_pointer(&got, signet_operation_free);

  /* A copy is deep and equal. */
  copy = signet_operation_copy(op);
  g_assert_true(copy->certificates_pem != op->certificates_pem);
  assert_op_equal(copy, op);

  /* Close: state, message, and one audit entry. */
  g_assert_true(signet_state_op_close(fx->state, op, SIGNET_OP_FINISHED, "renewed until 2026",
                                      NOW + 4, &error));
  g_assert_no_error(error);
  g_assert_cmpint(op->state, ==, SIGNET_OP_FINISHED);
  g_assert_cmpstr(op->message, ==, "renewed until 2026");
  got = get_op(fx->state, op->id);
  assert_op_equal(got, op);
  g_clear_pointer(&got, signet_operation_free);

  audit = signet_state_audit_list(fx->state, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(audit->len, ==, 1);
  entry = g_ptr_array_index(audit, 0);
  g_assert_cmpint(entry->time, ==, NOW + 4);
  g_assert_cmpstr(entry->token_serial, ==, "T1");
  g_assert_cmpstr(entry->token_label, ==, "Alice's token");
  g_assert_cmpstr(entry->operation, ==, "renew");
  g_assert_cmpstr(entry->outcome, ==, "ok");
  g_assert_cmpstr(entry->detail, ==, "renewed until 2026");
  g_clear_pointer(&audit, g_ptr_array_unref);

  /* Closing twice is refused and logs nothing more. */
  g_assert_false(signet_state_op_close(fx->state, op, SIGNET_OP_FAILED, "again", NOW + 5, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error(&error);
  audit = signet_state_audit_list(fx->state, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(audit->len, ==, 1);

  /* Unknown id. */
  got = signet_state_op_get(fx->state, 9999, &error);
  g_assert_null(got);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

/* Two tasks hold the same entry (the background poll and a signet renew):
 * the second write is refused, nothing of it lands, and a closed entry is
 * never reopened by a late write. */
static void
test_op_compare_and_set(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetOperation) op = new_op(SIGNET_OP_RENEW, "T1", "corp");
  g_autoptr(SignetOperation) poll = NULL;
  g_autoptr(SignetOperation) renew = NULL;
  g_autoptr(SignetOperation) got = NULL;
  g_autoptr(GPtrArray) audit = NULL;

  op->state = SIGNET_OP_PENDING;
  op->request_pem = g_strdup("REQ");
  op->poll_state = g_bytes_new_static("\x01\x00\x02", 3);
  g_assert_true(signet_state_op_begin(fx->state, op, NOW, &error));
  g_assert_no_error(error);
  g_assert_cmpint(op->revision, ==, 0);

  poll = get_op(fx->state, op->id);
  renew = get_op(fx->state, op->id);
  assert_op_equal(poll, renew);

  /* The renewal resumes first: RUNNING at revision 1. */
  renew->state = SIGNET_OP_RUNNING;
  g_assert_true(signet_state_op_step(fx->state, renew, "login", NOW + 1, &error));
  g_assert_no_error(error);
  g_assert_cmpint(renew->revision, ==, 1);

  /* The poll, slow, comes back with what it read: refused, nothing written. */
  poll->state = SIGNET_OP_ISSUED;
  poll->certificates_pem = g_strdup("CERTS");
  g_assert_false(signet_state_op_save(fx->state, poll, NOW + 2, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WRONG_ETAG);
  g_assert_true(signet_state_error_is_conflict(error));
  g_assert_nonnull(strstr(error->message, "changed by another task"));
  g_assert_nonnull(strstr(error->message, "running at step login"));
  g_clear_error(&error);
  g_assert_cmpint(poll->revision, ==, 0);
  got = get_op(fx->state, op->id);
  assert_op_equal(got, renew);
  g_assert_null(got->certificates_pem);
  g_clear_pointer(&got, signet_operation_free);

  /* Nor can it close the entry. */
  g_assert_false(
      signet_state_op_close(fx->state, poll, SIGNET_OP_FAILED, "poll gave up", NOW + 3, &error));
  g_assert_true(signet_state_error_is_conflict(error));
  g_clear_error(&error);

  /* The renewal finishes; a late write of the stale copy cannot reopen it,
   * even at the revision it once had. */
  g_assert_true(
      signet_state_op_close(fx->state, renew, SIGNET_OP_FINISHED, "renewed", NOW + 4, &error));
  g_assert_no_error(error);
  g_assert_cmpint(renew->revision, ==, 2);
  poll->revision = renew->revision;
  g_assert_false(signet_state_op_save(fx->state, poll, NOW + 5, &error));
  g_assert_true(signet_state_error_is_conflict(error));
  g_assert_nonnull(strstr(error->message, "now finished"));
  g_clear_error(&error);
  got = get_op(fx->state, op->id);
  g_assert_cmpint(got->state, ==, SIGNET_OP_FINISHED);
  g_assert_cmpstr(got->message, ==, "renewed");
  audit = signet_state_audit_list(fx->state, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(audit->len, ==, 1);

  /* A copy keeps its revision: writing it after the original moved on is
   * refused too. */
  g_clear_pointer(&op, signet_operation_free);
  op = new_op(SIGNET_OP_ACTIVATE, "T2", "corp");
  g_assert_true(signet_state_op_begin(fx->state, op, NOW, &error));
  g_clear_pointer(&renew, signet_operation_free);
  renew = signet_operation_copy(op);
  g_assert_true(signet_state_op_step(fx->state, op, "enroll", NOW + 1, &error));
  g_assert_false(signet_state_op_step(fx->state, renew, "generate-key", NOW + 2, &error));
  g_assert_true(signet_state_error_is_conflict(error));
}

/* @sql run on the closed database at @path (taking it back to an older
 * schema), then the database opened again: migrated to the current schema. */
static SignetState *
reopen_migrated(const char *path, const char *sql)
{
  g_autoptr(GError) error = NULL;
  sqlite3 *db = raw_open(path);
  SignetState *state;

  g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close(db);
  state = signet_state_open(path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(signet_state_get_schema_version(state), ==, SIGNET_STATE_SCHEMA_VERSION);
  return state;
}

/* A database of schema 2 (before the journal's revision and activation
 * columns, the roots and the label index) opens, migrates, and its entries read back with revision
 * 0 and can be written. */
static void
test_migrate_from_2(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetOperation) op = new_op(SIGNET_OP_RENEW, "T1", "corp");
  g_autoptr(SignetOperation) got = NULL;
  SignetState *state;

  state = signet_state_open(fx->path, &error);
  g_assert_no_error(error);
  g_assert_true(signet_state_op_begin(state, op, NOW, &error));
  g_assert_no_error(error);
  signet_state_free(state);

  state = reopen_migrated(fx->path, "ALTER TABLE operations DROP COLUMN revision;"
                                    "ALTER TABLE operations DROP COLUMN reference;"
                                    "ALTER TABLE operations DROP COLUMN sent_at;"
                                    "ALTER TABLE operations DROP COLUMN answer_lost;"
                                    "ALTER TABLE operations DROP COLUMN poll_state;"
                                    "DROP TABLE certificate_roots;"
                                    "DROP INDEX audit_by_label;"
                                    "ALTER TABLE operations DROP COLUMN legacy_algorithms;"
                                    "ALTER TABLE certificates DROP COLUMN legacy_algorithms;"
                                    "PRAGMA user_version = 2;");
  got = get_op(state, op->id);
  g_assert_cmpint(got->revision, ==, 0);
  g_assert_null(got->reference);
  g_assert_cmpstr(got->token_serial, ==, "T1");
  got->reference = g_strdup("REF-1");
  g_assert_true(signet_state_op_step(state, got, "login", NOW + 1, &error));
  g_assert_no_error(error);
  g_assert_cmpint(got->revision, ==, 1);
  {
    g_autoptr(GPtrArray) add
        = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_root_free);
    g_autoptr(GPtrArray) list = signet_state_roots_list(state, "T1", "CN=CA", "0a", &error);

    g_assert_no_error(error);
    g_assert_cmpuint(list->len, ==, 0);
    g_clear_pointer(&list, g_ptr_array_unref);
    g_ptr_array_add(add, root_new("AA:01", "A", "cacerts"));
    g_assert_true(signet_state_roots_add(state, "T1", "CN=CA", "0a", add, NOW, &error));
    g_assert_no_error(error);
    list = signet_state_roots_list(state, "T1", "CN=CA", "0a", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(list->len, ==, 1);
  }
  signet_state_free(state);
}

static void
test_op_close_outcomes(Fixture *fx, gconstpointer data)
{
  static const struct
  {
    SignetOpKind kind;
    SignetOpState final;
    const char *message;
    const char *outcome;
  } cases[] = {
    { SIGNET_OP_ACTIVATE, SIGNET_OP_FINISHED, "activated", "ok" },
    { SIGNET_OP_RENEW, SIGNET_OP_ROLLED_BACK, "the CA was down; nothing changed", "rolled-back" },
    { SIGNET_OP_RENEW, SIGNET_OP_FAILED, "the certificate expired", "failed" },
    { SIGNET_OP_ACTIVATE, SIGNET_OP_FAILED, NULL, "failed" },
  };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(SignetOperation) op = new_op(cases[i].kind, "T1", NULL);
    g_autoptr(GPtrArray) audit = NULL;
    g_autoptr(SignetOperation) got = NULL;
    SignetAuditEntry *entry;

    op->message = g_strdup("earlier words");
    g_assert_true(signet_state_op_begin(fx->state, op, NOW + i, &error));
    g_assert_no_error(error);
    g_assert_true(
        signet_state_op_close(fx->state, op, cases[i].final, cases[i].message, NOW + i, &error));
    g_assert_no_error(error);
    got = get_op(fx->state, op->id);
    g_assert_cmpint(got->state, ==, cases[i].final);
    audit = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .limit = 1 }, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(audit->len, ==, 1);
    entry = g_ptr_array_index(audit, 0);
    g_assert_cmpstr(entry->operation, ==, signet_op_kind_to_string(cases[i].kind));
    g_assert_cmpstr(entry->outcome, ==, cases[i].outcome);
    /* A NULL message keeps the operation's own. */
    g_assert_cmpstr(entry->detail, ==,
                    cases[i].message != NULL ? cases[i].message : "earlier words");
    g_assert_cmpstr(got->message, ==, entry->detail);
  }
}

/* TRUE when @needle is anywhere in the database file or its WAL. */
static gboolean
file_holds(const char *path, const char *needle)
{
  const char *suffixes[] = { "", "-wal" };

  for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
    g_autofree char *name = g_strconcat(path, suffixes[i], NULL);
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!g_file_test(name, G_FILE_TEST_EXISTS))
      continue;
    data = read_bytes(name, &len);
    for (gsize at = 0; at + strlen(needle) <= len; at++)
      if (memcmp(data + at, needle, strlen(needle)) == 0)
        return TRUE;
  }
  return FALSE;
}

/* A closed activation forgets its request (which may hold the activation
 * code as a challengePassword), in the row and in the files; a renewal's
 * request, which holds no secret, stays; an open activation keeps its own
 * (it may have to be sent again). A database of schema 5 forgets the
 * requests of its closed activations when it is opened. */
static void
test_op_close_forgets_request(Fixture *fx, gconstpointer data)
{
  static const char activation_request[] = "REQUEST-WITH-CODE-Zq81xK";
  static const char renewal_request[] = "RENEWAL-REQUEST-Pm02";
  static const char open_request[] = "OPEN-REQUEST-Tt55";
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetOperation) act = new_op(SIGNET_OP_ACTIVATE, "T1", "corp");
  g_autoptr(SignetOperation) renew = new_op(SIGNET_OP_RENEW, "T1", "corp");
  g_autoptr(SignetOperation) open_act = new_op(SIGNET_OP_ACTIVATE, "T2", "corp");
  g_autoptr(SignetOperation) got = NULL;
  g_autofree char *filler = g_strnfill(5000, 'A');
  SignetState *state;

  /* As long as a real request, over more than one page. */
  act->request_pem = g_strconcat(activation_request, filler, activation_request, NULL);
  renew->request_pem = g_strdup(renewal_request);
  g_assert_true(signet_state_op_begin(fx->state, act, NOW, &error));
  g_assert_true(signet_state_op_step(fx->state, act, "enroll", NOW + 1, &error));
  g_assert_true(signet_state_op_begin(fx->state, renew, NOW, &error));
  g_assert_no_error(error);
  g_assert_true(file_holds(fx->path, activation_request));

  g_assert_true(
      signet_state_op_close(fx->state, act, SIGNET_OP_FINISHED, "activated", NOW + 2, &error));
  g_assert_true(
      signet_state_op_close(fx->state, renew, SIGNET_OP_FINISHED, "renewed", NOW + 2, &error));
  g_assert_no_error(error);
  /* The caller's copy is left alone: its messages may still name it. */
  g_assert_true(g_str_has_prefix(act->request_pem, activation_request));
  got = get_op(fx->state, act->id);
  g_assert_null(got->request_pem);
  g_clear_pointer(&got, signet_operation_free);
  got = get_op(fx->state, renew->id);
  g_assert_cmpstr(got->request_pem, ==, renewal_request);
  g_clear_pointer(&got, signet_operation_free);
  g_assert_false(file_holds(fx->path, activation_request));

  /* Schema 5: its closed activation's request is forgotten on opening,
   * an open one's kept. */
  open_act->request_pem = g_strdup(open_request);
  g_assert_true(signet_state_op_begin(fx->state, open_act, NOW, &error));
  g_assert_no_error(error);
  g_clear_pointer(&fx->state, signet_state_free);
  state = reopen_migrated(fx->path, "UPDATE operations SET request_pem = 'OLD-CLOSED-REQUEST'"
                                    "  WHERE kind = 'activate' AND state = 'finished';"
                                    "ALTER TABLE operations DROP COLUMN legacy_algorithms;"
                                    "ALTER TABLE certificates DROP COLUMN legacy_algorithms;"
                                    "PRAGMA user_version = 5;");
  got = get_op(state, act->id);
  g_assert_null(got->request_pem);
  g_clear_pointer(&got, signet_operation_free);
  got = get_op(state, open_act->id);
  g_assert_cmpstr(got->request_pem, ==, open_request);
  g_clear_pointer(&got, signet_operation_free);
  got = get_op(state, renew->id);
  g_assert_cmpstr(got->request_pem, ==, renewal_request);
  signet_state_free(state);
}

static void
test_op_unique(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetOperation) a = new_op(SIGNET_OP_RENEW, "T1", "corp");
  g_autoptr(SignetOperation) b = new_op(SIGNET_OP_RENEW, "T1", "corp");
  g_autoptr(SignetOperation) other_profile = new_op(SIGNET_OP_RENEW, "T1", "other");
  g_autoptr(SignetOperation) other_kind = new_op(SIGNET_OP_ACTIVATE, "T1", "corp");
  g_autoptr(SignetOperation) other_token = new_op(SIGNET_OP_RENEW, "T2", "corp");
  g_autoptr(SignetOperation) null1 = new_op(SIGNET_OP_ACTIVATE, "T3", NULL);
  g_autoptr(SignetOperation) null2 = new_op(SIGNET_OP_ACTIVATE, "T3", NULL);
  g_autoptr(SignetOperation) again = new_op(SIGNET_OP_RENEW, "T1", "corp");
  g_autoptr(GPtrArray) open = NULL;
  sqlite3 *db;
  int rc;

  g_assert_true(signet_state_op_begin(fx->state, a, NOW, &error));
  g_assert_no_error(error);

  g_assert_false(signet_state_op_begin(fx->state, b, NOW + 1, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_nonnull(strstr(error->message, "T1"));
  g_clear_error(&error);
  g_assert_cmpint(b->id, ==, 0);

  /* Other profile, kind or token: allowed. */
  g_assert_true(signet_state_op_begin(fx->state, other_profile, NOW, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_op_begin(fx->state, other_kind, NOW, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_op_begin(fx->state, other_token, NOW, &error));
  g_assert_no_error(error);

  /* No profile counts as one profile. */
  g_assert_true(signet_state_op_begin(fx->state, null1, NOW, &error));
  g_assert_no_error(error);
  g_assert_false(signet_state_op_begin(fx->state, null2, NOW, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error(&error);

  /* Pending and issued are open too. */
  a->state = SIGNET_OP_PENDING;
  g_assert_true(signet_state_op_save(fx->state, a, NOW + 2, &error));
  g_assert_no_error(error);
  g_assert_false(signet_state_op_begin(fx->state, b, NOW + 3, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error(&error);
  a->state = SIGNET_OP_ISSUED;
  g_assert_true(signet_state_op_save(fx->state, a, NOW + 2, &error));
  g_assert_no_error(error);
  g_assert_false(signet_state_op_begin(fx->state, b, NOW + 3, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error(&error);

  /* Saving an operation into a clash is refused too. */
  g_free(other_profile->profile);
  other_profile->profile = g_strdup("corp");
  g_assert_false(signet_state_op_save(fx->state, other_profile, NOW + 3, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error(&error);

  /* The rule is in the database: another process writing SQL by hand hits it. */
  db = raw_open(fx->path);
  rc = sqlite3_exec(db,
                    "INSERT INTO operations (kind, token_serial, profile, state, started, updated)"
                    " VALUES ('renew', 'T1', 'corp', 'running', 1, 1)",
                    NULL, NULL, NULL);
  g_assert_cmpint(rc & 0xff, ==, SQLITE_CONSTRAINT);
  rc = sqlite3_exec(db,
                    "INSERT INTO operations (kind, token_serial, profile, state, started, updated)"
                    " VALUES ('activate', 'T3', NULL, 'pending', 1, 1)",
                    NULL, NULL, NULL);
  g_assert_cmpint(rc & 0xff, ==, SQLITE_CONSTRAINT);
  /* Closed ones do not count. */
  rc = sqlite3_exec(db,
                    "INSERT INTO operations (kind, token_serial, profile, state, started, updated)"
                    " VALUES ('renew', 'T1', 'corp', 'failed', 1, 1)",
                    NULL, NULL, NULL);
  g_assert_cmpint(rc, ==, SQLITE_OK);
  sqlite3_close(db);

  /* After close, a new one is allowed. */
  g_assert_true(
      signet_state_op_close(fx->state, a, SIGNET_OP_ROLLED_BACK, "undone", NOW + 4, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_op_begin(fx->state, again, NOW + 5, &error));
  g_assert_no_error(error);
  g_assert_cmpint(again->id, >, a->id);

  open = signet_state_op_list_open(fx->state, "T1", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(open->len, ==, 3); /* other_profile, other_kind, again */
}

static void
test_op_queries(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetOperation) r1 = new_op(SIGNET_OP_RENEW, "T1", "corp");
  g_autoptr(SignetOperation) r2 = new_op(SIGNET_OP_RENEW, "T1", "other");
  g_autoptr(SignetOperation) a1 = new_op(SIGNET_OP_ACTIVATE, "T2", NULL);
  g_autoptr(SignetOperation) r3 = new_op(SIGNET_OP_RENEW, "T3", "corp");
  g_autoptr(SignetOperation) done = new_op(SIGNET_OP_RENEW, "T4", "corp");
  g_autoptr(SignetOperation) found = NULL;
  g_autoptr(GPtrArray) open = NULL;
  gint64 next;

  /* Empty journal. */
  next = signet_state_op_next_retry(fx->state, &error);
  g_assert_no_error(error);
  g_assert_cmpint(next, ==, 0);
  found = signet_state_op_find_open(fx->state, SIGNET_OP_RENEW, "T1", NULL, &error);
  g_assert_no_error(error);
  g_assert_null(found);
  open = signet_state_op_list_open(fx->state, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(open->len, ==, 0);
  g_clear_pointer(&open, g_ptr_array_unref);

  r3->state = SIGNET_OP_PENDING; /* begun as pending */
  r3->retry_at = NOW + 500;
  g_assert_true(signet_state_op_begin(fx->state, r3, NOW + 30, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_op_begin(fx->state, r1, NOW + 10, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_op_begin(fx->state, r2, NOW + 20, &error));
  g_assert_no_error(error);
  /* A pending activation does not count for next_retry: the agent cannot
   * ask the CA about it without the code (a due one made the poll spin). */
  a1->state = SIGNET_OP_PENDING;
  a1->retry_at = NOW + 5;
  g_assert_true(signet_state_op_begin(fx->state, a1, NOW + 40, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_op_begin(fx->state, done, NOW, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_op_close(fx->state, done, SIGNET_OP_FINISHED, "ok", NOW + 1, &error));
  g_assert_no_error(error);

  /* find_open: by kind and token, profile exact or any (oldest). */
  found = signet_state_op_find_open(fx->state, SIGNET_OP_RENEW, "T1", "other", &error);
  g_assert_no_error(error);
  g_assert_nonnull(found);
  g_assert_cmpint(found->id, ==, r2->id);
  g_clear_pointer(&found, signet_operation_free);
  found = signet_state_op_find_open(fx->state, SIGNET_OP_RENEW, "T1", NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(found);
  g_assert_cmpint(found->id, ==, r1->id);
  g_clear_pointer(&found, signet_operation_free);
  found = signet_state_op_find_open(fx->state, SIGNET_OP_RENEW, "T1", "nope", &error);
  g_assert_no_error(error);
  g_assert_null(found);
  found = signet_state_op_find_open(fx->state, SIGNET_OP_ACTIVATE, "T1", NULL, &error);
  g_assert_no_error(error);
  g_assert_null(found);
  found = signet_state_op_find_open(fx->state, SIGNET_OP_ACTIVATE, "T2", NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(found);
  g_assert_cmpint(found->state, ==, SIGNET_OP_PENDING);
  g_clear_pointer(&found, signet_operation_free);
  /* Closed operations are not found. */
  found = signet_state_op_find_open(fx->state, SIGNET_OP_RENEW, "T4", NULL, &error);
  g_assert_no_error(error);
  g_assert_null(found);

  /* list_open: oldest first, every token or one. */
  open = signet_state_op_list_open(fx->state, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(open->len, ==, 4);
  g_assert_cmpint(((SignetOperation *)g_ptr_array_index(open, 0))->id, ==, r1->id);
  g_assert_cmpint(((SignetOperation *)g_ptr_array_index(open, 1))->id, ==, r2->id);
  g_assert_cmpint(((SignetOperation *)g_ptr_array_index(open, 2))->id, ==, r3->id);
  g_assert_cmpint(((SignetOperation *)g_ptr_array_index(open, 3))->id, ==, a1->id);
  g_clear_pointer(&open, g_ptr_array_unref);
  open = signet_state_op_list_open(fx->state, "T1", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(open->len, ==, 2);
  g_clear_pointer(&open, g_ptr_array_unref);
  open = signet_state_op_list_open(fx->state, "T4", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(open->len, ==, 0);

  /* next_retry: the earliest among PENDING only. */
  next = signet_state_op_next_retry(fx->state, &error);
  g_assert_no_error(error);
  g_assert_cmpint(next, ==, NOW + 500);
  r1->state = SIGNET_OP_PENDING;
  r1->retry_at = NOW + 200;
  g_assert_true(signet_state_op_save(fx->state, r1, NOW + 50, &error));
  g_assert_no_error(error);
  r2->retry_at = NOW + 100; /* running: its retry_at does not count */
  g_assert_true(signet_state_op_save(fx->state, r2, NOW + 50, &error));
  g_assert_no_error(error);
  next = signet_state_op_next_retry(fx->state, &error);
  g_assert_no_error(error);
  g_assert_cmpint(next, ==, NOW + 200);
  g_assert_true(
      signet_state_op_close(fx->state, r1, SIGNET_OP_FAILED, "gave up", NOW + 60, &error));
  g_assert_no_error(error);
  next = signet_state_op_next_retry(fx->state, &error);
  g_assert_no_error(error);
  g_assert_cmpint(next, ==, NOW + 500);

  /* A pending renewal that waits for the holder (a CA that answers only an
   * authenticated poll) does not count: nothing is due for the agent. */
  g_free(r3->step);
  r3->step = g_strdup("wait-holder");
  g_assert_true(signet_state_op_save(fx->state, r3, NOW + 70, &error));
  g_assert_no_error(error);
  next = signet_state_op_next_retry(fx->state, &error);
  g_assert_no_error(error);
  g_assert_cmpint(next, ==, 0);
}

/* ---- reminders ---------------------------------------------------------------------------- */

static void
test_reminders(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean sent = TRUE;
  gint64 when = -1;

  g_assert_true(
      signet_state_reminder_get(fx->state, "T1", "CN=CA", "0a", 45, &sent, &when, &error));
  g_assert_no_error(error);
  g_assert_false(sent);
  g_assert_cmpint(when, ==, 0);

  g_assert_true(signet_state_reminder_mark(fx->state, "T1", "CN=CA", "0a", 45, NOW, &error));
  g_assert_no_error(error);
  g_assert_true(
      signet_state_reminder_get(fx->state, "T1", "CN=CA", "0a", 45, &sent, &when, &error));
  g_assert_no_error(error);
  g_assert_true(sent);
  g_assert_cmpint(when, ==, NOW);

  /* Idempotent: marking again keeps the first time. */
  g_assert_true(signet_state_reminder_mark(fx->state, "T1", "CN=CA", "0a", 45, NOW + 9, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_reminder_get(fx->state, "T1", "CN=CA", "0a", 45, &sent, NULL, &error));
  g_assert_no_error(error);
  g_assert_true(sent);
  g_assert_true(
      signet_state_reminder_get(fx->state, "T1", "CN=CA", "0a", 45, &sent, &when, &error));
  g_assert_cmpint(when, ==, NOW);

  /* Per threshold, certificate (issuer and serial) and token. */
  g_assert_true(signet_state_reminder_get(fx->state, "T1", "CN=CA", "0a", 15, &sent, NULL, &error));
  g_assert_false(sent);
  g_assert_true(signet_state_reminder_get(fx->state, "T1", "CN=CA", "0b", 45, &sent, NULL, &error));
  g_assert_false(sent);
  g_assert_true(signet_state_reminder_get(fx->state, "T1", "CN=X", "0a", 45, &sent, NULL, &error));
  g_assert_false(sent);
  g_assert_true(signet_state_reminder_get(fx->state, "T2", "CN=CA", "0a", 45, &sent, NULL, &error));
  g_assert_false(sent);
  g_assert_no_error(error);

  /* Remembered across a reopen. */
  g_assert_true(signet_state_reminder_mark(fx->state, "T1", "CN=CA", "0a", 15, NOW + 30, &error));
  g_assert_no_error(error);
  g_clear_pointer(&fx->state, signet_state_free);
  fx->state = signet_state_open(fx->path, &error);
  g_assert_no_error(error);
  g_assert_true(
      signet_state_reminder_get(fx->state, "T1", "CN=CA", "0a", 15, &sent, &when, &error));
  g_assert_no_error(error);
  g_assert_true(sent);
  g_assert_cmpint(when, ==, NOW + 30);
}

/* ---- audit -------------------------------------------------------------------------------- */

static void
test_audit(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  SignetAuditEntry *e;

  list = signet_state_audit_list(fx->state, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 0);
  g_clear_pointer(&list, g_ptr_array_unref);

  g_assert_true(
      signet_state_audit(fx->state, "T1", "Alice", "activate", "ok", "activated", NOW, &error));
  g_assert_no_error(error);
  g_assert_true(signet_state_audit(fx->state, "T2", NULL, "change-pin", "failed",
                                   "wrong PIN (2 tries left)", NOW + 10, &error));
  g_assert_no_error(error);
  g_assert_true(
      signet_state_audit(fx->state, NULL, NULL, "import", "refused", NULL, NOW + 20, &error));
  g_assert_no_error(error);
  /* Same second as the previous: the later-written one is newer. */
  g_assert_true(signet_state_audit(fx->state, "T1", "Alice", "renew", "pending",
                                   "the CA issues on 2025-03-01", NOW + 20, &error));
  g_assert_no_error(error);

  list = signet_state_audit_list(fx->state, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 4);
  e = g_ptr_array_index(list, 0);
  g_assert_cmpstr(e->operation, ==, "renew");
  g_assert_cmpstr(e->outcome, ==, "pending");
  g_assert_cmpint(e->time, ==, NOW + 20);
  e = g_ptr_array_index(list, 1);
  g_assert_cmpstr(e->operation, ==, "import");
  g_assert_null(e->token_serial);
  g_assert_null(e->token_label);
  g_assert_null(e->detail);
  e = g_ptr_array_index(list, 2);
  g_assert_cmpstr(e->token_serial, ==, "T2");
  g_assert_cmpstr(e->detail, ==, "wrong PIN (2 tries left)");
  e = g_ptr_array_index(list, 3);
  g_assert_cmpstr(e->token_label, ==, "Alice");
  g_assert_cmpint(e->time, ==, NOW);
  g_assert_cmpint(e->id, >, 0);
  g_assert_cmpint(((SignetAuditEntry *)g_ptr_array_index(list, 0))->id, >, e->id);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* Limit. */
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .limit = 2 }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  g_assert_cmpstr(((SignetAuditEntry *)g_ptr_array_index(list, 1))->operation, ==, "import");
  g_clear_pointer(&list, g_ptr_array_unref);

  /* Token filter, with and without a limit. */
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .serial = "T1" }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  g_assert_cmpstr(((SignetAuditEntry *)g_ptr_array_index(list, 0))->operation, ==, "renew");
  g_assert_cmpstr(((SignetAuditEntry *)g_ptr_array_index(list, 1))->operation, ==, "activate");
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .serial = "T1", .limit = 1 },
                                 &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpstr(((SignetAuditEntry *)g_ptr_array_index(list, 0))->operation, ==, "renew");
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .serial = "T9" }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 0);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* A token named by serial or label (either), or by both as a URI does. */
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .token = "Alice" }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .token = "T2" }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .label = "Alice" }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .serial = "T2", .label = "Alice" },
                                 &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 0);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* Pages back in time: older than a time, limited. */
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .before = NOW + 20 }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  g_assert_cmpint(((SignetAuditEntry *)g_ptr_array_index(list, 0))->time, ==, NOW + 10);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_audit_list(
      fx->state, &(SignetAuditQuery){ .token = "Alice", .before = NOW + 20, .limit = 5 }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpstr(((SignetAuditEntry *)g_ptr_array_index(list, 0))->operation, ==, "activate");
  g_clear_pointer(&list, g_ptr_array_unref);
  list = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .before = NOW }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 0);
}

/* ---- threads ------------------------------------------------------------------------------ */

#define ROWS_PER_THREAD 200

typedef struct
{
  SignetState *state;
  const char *token;
} Writer;

static gpointer
writer_thread(gpointer data)
{
  Writer *w = data;

  for (int i = 0; i < ROWS_PER_THREAD; i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *detail = g_strdup_printf("row %d", i);

    if (!signet_state_audit(w->state, w->token, NULL, "test", "ok", detail, NOW + i, &error))
      return g_strdup(error->message);
  }
  return NULL;
}

static void
test_threads(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) one = NULL;
  Writer w1 = { fx->state, "T1" };
  Writer w2 = { fx->state, "T2" };
  GThread *t1 = g_thread_new("writer-1", writer_thread, &w1);
  GThread *t2 = g_thread_new("writer-2", writer_thread, &w2);
  g_autofree char *err1 = g_thread_join(t1);
  g_autofree char *err2 = g_thread_join(t2);

  g_assert_null(err1);
  g_assert_null(err2);
  all = signet_state_audit_list(fx->state, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(all->len, ==, 2 * ROWS_PER_THREAD);
  one = signet_state_audit_list(fx->state, &(SignetAuditQuery){ .serial = "T2" }, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(one->len, ==, ROWS_PER_THREAD);
}

/* ---- durability --------------------------------------------------------------------------- */

static void
test_durable_across_exit(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetOperation) found = NULL;
  g_autoptr(SignetState) parent = NULL;
  int status = 0;
  pid_t pid;

  /* The parent has the database open too (as a reader would). */
  parent = signet_state_open(fx->path, &error);
  g_assert_no_error(error);

  pid = fork();
  g_assert_cmpint(pid, >=, 0);
  if (pid == 0) {
    /* The child: open, begin, and leave without closing anything. */
    SignetState *state = signet_state_open(fx->path, NULL);
    SignetOperation op = {
      .kind = SIGNET_OP_RENEW,
      .token_serial = (char *)"T1",
      .profile = (char *)"corp",
      .new_key_id = (char *)"02cd",
      .step = (char *)"generate-key",
    };

    if (state == NULL || !signet_state_op_begin(state, &op, NOW, NULL))
      _exit(1);
    _exit(0);
  }
  g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);

  found = signet_state_op_find_open(parent, SIGNET_OP_RENEW, "T1", "corp", &error);
  g_assert_no_error(error);
  g_assert_nonnull(found);
  g_assert_cmpstr(found->step, ==, "generate-key");
  g_assert_cmpstr(found->new_key_id, ==, "02cd");
  g_assert_cmpint(found->state, ==, SIGNET_OP_RUNNING);
  g_clear_pointer(&found, signet_operation_free);

  /* And in a fresh open, as the agent after a crash. */
  g_clear_pointer(&parent, signet_state_free);
  parent = signet_state_open(fx->path, &error);
  g_assert_no_error(error);
  found = signet_state_op_find_open(parent, SIGNET_OP_RENEW, "T1", NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(found);
  g_assert_cmpint(found->started, ==, NOW);
}

int
main(int argc, char **argv)
{
  static const int open_db = 1;

  g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(name, fn, open)                                                                        \
  g_test_add("/state/" name, Fixture, (open) ? &open_db : NULL, fixture_set_up, fn,                \
             fixture_tear_down)
  ADD("open-settings", test_open_settings, TRUE);
  ADD("modes", test_modes, FALSE);
  ADD("default-path", test_default_path, FALSE);
  ADD("newer-refused", test_newer_refused, FALSE);
  ADD("garbage-refused", test_garbage_refused, FALSE);
  ADD("unwritable-dir", test_unwritable_dir, FALSE);
  ADD("tokens", test_tokens, TRUE);
  ADD("certs", test_certs, TRUE);
  ADD("cert-legacy", test_cert_legacy, TRUE);
  ADD("roots", test_roots, TRUE);
  g_test_add_func("/state/op-strings", test_op_strings);
  ADD("op-lifecycle", test_op_lifecycle, TRUE);
  ADD("op-close-outcomes", test_op_close_outcomes, TRUE);
  ADD("op-close-forgets-request", test_op_close_forgets_request, TRUE);
  ADD("op-compare-and-set", test_op_compare_and_set, TRUE);
  ADD("migrate-from-2", test_migrate_from_2, FALSE);
  ADD("op-unique", test_op_unique, TRUE);
  ADD("op-queries", test_op_queries, TRUE);
  ADD("reminders", test_reminders, TRUE);
  ADD("audit", test_audit, TRUE);
  ADD("threads", test_threads, TRUE);
  ADD("durable-across-exit", test_durable_across_exit, FALSE);
#undef ADD

  return g_test_run();
}
