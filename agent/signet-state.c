/* signet-state.c: see signet-state.h and docs/internals/state.md. */
#include "config.h"

#include "agent/signet-state.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define SQLITE_MAGIC    "SQLite format 3"

struct _SignetState
{
  char *path;
  sqlite3 *db;
  GMutex lock; /* around every call: one statement or one transaction at a time */
};

/* ---- schema ------------------------------------------------------------------------------ */

/* migrations[N] takes the schema from version N to N + 1, in one transaction,
 * and ends by setting user_version to N + 1. Never edit an entry once released:
 * add one (and bump SIGNET_STATE_SCHEMA_VERSION). */
static const char *const migrations[] = {
  /* 0 → 1 */
  "CREATE TABLE tokens ("
  "  serial TEXT PRIMARY KEY NOT NULL,"
  "  label TEXT,"
  "  model TEXT,"
  "  first_seen INTEGER NOT NULL,"
  "  last_seen INTEGER NOT NULL"
  ");"
  "CREATE TABLE certificates ("
  "  id INTEGER PRIMARY KEY,"
  "  token_serial TEXT NOT NULL,"
  "  key_id TEXT,"
  "  serial TEXT NOT NULL,"
  "  issuer TEXT NOT NULL,"
  "  subject TEXT,"
  "  profile TEXT,"
  "  not_before INTEGER NOT NULL DEFAULT 0,"
  "  not_after INTEGER NOT NULL DEFAULT 0,"
  "  first_seen INTEGER NOT NULL,"
  "  last_seen INTEGER NOT NULL,"
  "  present INTEGER NOT NULL DEFAULT 1 CHECK (present IN (0, 1)),"
  "  UNIQUE (token_serial, issuer, serial)"
  ");"
  "CREATE INDEX certificates_by_expiry ON certificates (token_serial, present, not_after);"
  "CREATE TABLE operations ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  kind TEXT NOT NULL CHECK (kind IN ('activate', 'renew')),"
  "  token_serial TEXT NOT NULL,"
  "  token_label TEXT,"
  "  profile TEXT,"
  "  old_key_id TEXT,"
  "  old_cert_serial TEXT,"
  "  old_cert_issuer TEXT,"
  "  new_key_id TEXT,"
  "  keep_key INTEGER NOT NULL DEFAULT 0 CHECK (keep_key IN (0, 1)),"
  "  key_made INTEGER NOT NULL DEFAULT 0 CHECK (key_made IN (0, 1)),"
  "  step TEXT,"
  "  state TEXT NOT NULL CHECK (state IN ('running', 'pending', 'issued', 'finished',"
  "                                       'rolled-back', 'failed')),"
  "  request_pem TEXT,"
  "  certificates_pem TEXT,"
  "  cert_stored INTEGER NOT NULL DEFAULT 0 CHECK (cert_stored IN (0, 1)),"
  "  retry_at INTEGER NOT NULL DEFAULT 0,"
  "  started INTEGER NOT NULL,"
  "  updated INTEGER NOT NULL,"
  "  message TEXT"
  ");"
  /* At most one open operation of a kind per token and profile, even with
   * two processes writing. */
  "CREATE UNIQUE INDEX operations_one_open ON operations (kind, token_serial, IFNULL(profile, ''))"
  "  WHERE state IN ('running', 'pending', 'issued');"
  "CREATE INDEX operations_open_by_token ON operations (token_serial, started)"
  "  WHERE state IN ('running', 'pending', 'issued');"
  "CREATE INDEX operations_pending_retry ON operations (retry_at) WHERE state = 'pending';"
  "CREATE TABLE reminders ("
  "  token_serial TEXT NOT NULL,"
  "  issuer TEXT NOT NULL,"
  "  serial TEXT NOT NULL,"
  "  threshold INTEGER NOT NULL,"
  "  sent INTEGER NOT NULL,"
  "  PRIMARY KEY (token_serial, issuer, serial, threshold)"
  ");"
  "CREATE TABLE audit ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  time INTEGER NOT NULL,"
  "  token_serial TEXT,"
  "  token_label TEXT,"
  "  operation TEXT NOT NULL,"
  "  outcome TEXT NOT NULL,"
  "  detail TEXT"
  ");"
  "CREATE INDEX audit_by_time ON audit (time, id);"
  "CREATE INDEX audit_by_token ON audit (token_serial, time, id);"
  "PRAGMA user_version = 1;",
  /* 1 → 2: a reminder due but not shown (no notification service on the
   * bus), per certificate and threshold, until it is sent. */
  "CREATE TABLE reminders_not_shown ("
  "  token_serial TEXT NOT NULL,"
  "  issuer TEXT NOT NULL,"
  "  serial TEXT NOT NULL,"
  "  threshold INTEGER NOT NULL,"
  "  first_try INTEGER NOT NULL,"
  "  last_try INTEGER NOT NULL,"
  "  tries INTEGER NOT NULL DEFAULT 1,"
  "  reason TEXT NOT NULL,"
  "  PRIMARY KEY (token_serial, issuer, serial, threshold)"
  ");"
  "PRAGMA user_version = 2;",
  /* 2 → 3: the roots a certificate's chain may end at, recorded when it was
   * issued or imported (docs/internals/trust.md). */
  "CREATE TABLE certificate_roots ("
  "  token_serial TEXT NOT NULL,"
  "  issuer TEXT NOT NULL,"
  "  serial TEXT NOT NULL,"
  "  root_sha256 TEXT NOT NULL,"
  "  root_pem TEXT NOT NULL,"
  "  source TEXT NOT NULL,"
  "  recorded INTEGER NOT NULL,"
  "  PRIMARY KEY (token_serial, issuer, serial, root_sha256)"
  ");"
  "PRAGMA user_version = 3;",
};

G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == SIGNET_STATE_SCHEMA_VERSION);

/* ---- errors ------------------------------------------------------------------------------ */

static GIOErrorEnum
io_code_for(int rc)
{
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return G_IO_ERROR_BUSY;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return G_IO_ERROR_INVALID_DATA;
    case SQLITE_FULL:
      return G_IO_ERROR_NO_SPACE;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return G_IO_ERROR_PERMISSION_DENIED;
    case SQLITE_CANTOPEN:
      return G_IO_ERROR_NOT_FOUND;
    case SQLITE_CONSTRAINT:
      return G_IO_ERROR_EXISTS;
    default:
      return G_IO_ERROR_FAILED;
  }
}

static const char *
advice_for(int rc)
{
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "another program holds it locked (is a second signetd or an sqlite3 shell "
             "running?); close it and try again";
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return "the file is damaged or not a Signet database: move it away and Signet makes a "
             "new one; the journal it held is then lost";
    case SQLITE_FULL:
      return "the disk is full: free some space and try again";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return "the file or its directory is not writable: check its owner and permissions";
    case SQLITE_CANTOPEN:
      return "check that its directory exists and is writable";
    case SQLITE_IOERR:
      return "the disk reported an error: check it (dmesg) and try again";
    default:
      return "see the message above; if it persists, report it";
  }
}

/* Sets @error from the connection's last error: "PATH: could not WHAT: sqlite
 * message (SQLite code N); advice". */
static void
set_db_error(SignetState *state, GError **error, const char *what)
{
  int rc = sqlite3_extended_errcode(state->db);

  g_set_error(error, G_IO_ERROR, io_code_for(rc), "%s: could not %s: %s (SQLite error %d); %s",
              state->path, what, sqlite3_errmsg(state->db), rc, advice_for(rc));
}

/* ---- statements -------------------------------------------------------------------------- */

typedef sqlite3_stmt SignetStmt;
static void
stmt_finalize(SignetStmt *stmt)
{
  sqlite3_finalize(stmt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetStmt, stmt_finalize)

static SignetStmt *
prepare(SignetState *state, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2(state->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    set_db_error(state, error, "prepare a statement");
    sqlite3_finalize(stmt);
    return NULL;
  }
  return stmt;
}

static void
bind_text(SignetStmt *stmt, int index, const char *text)
{
  if (text == NULL)
    sqlite3_bind_null(stmt, index);
  else
    sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
}

static char *
column_text(SignetStmt *stmt, int index)
{
  const unsigned char *text = sqlite3_column_text(stmt, index);

  return text != NULL ? g_strdup((const char *)text) : NULL;
}

/* Runs a statement that returns no row. */
static gboolean
step_done(SignetState *state, SignetStmt *stmt, const char *what, GError **error)
{
  int rc = sqlite3_step(stmt);

  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    set_db_error(state, error, what);
    return FALSE;
  }
  return TRUE;
}

/* SQLITE_ROW → 1, SQLITE_DONE → 0, an error → -1 with @error set. */
static int
step_row(SignetState *state, SignetStmt *stmt, const char *what, GError **error)
{
  int rc = sqlite3_step(stmt);

  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  set_db_error(state, error, what);
  return -1;
}

static gboolean
exec(SignetState *state, const char *sql, const char *what, GError **error)
{
  if (sqlite3_exec(state->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    set_db_error(state, error, what);
    return FALSE;
  }
  return TRUE;
}

static gboolean
begin(SignetState *state, GError **error)
{
  return exec(state, "BEGIN IMMEDIATE", "start a transaction", error);
}

static gboolean
commit(SignetState *state, GError **error)
{
  return exec(state, "COMMIT", "commit a transaction", error);
}

static void
rollback(SignetState *state)
{
  if (!sqlite3_get_autocommit(state->db))
    sqlite3_exec(state->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
read_user_version(SignetState *state, GError **error)
{
  g_autoptr(SignetStmt) stmt = prepare(state, "PRAGMA user_version", error);

  if (stmt == NULL)
    return -1;
  if (step_row(state, stmt, "read the schema version", error) != 1) {
    if (error != NULL && *error == NULL)
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: could not read the schema version",
                  state->path);
    return -1;
  }
  return sqlite3_column_int(stmt, 0);
}

/* ---- opening ----------------------------------------------------------------------------- */

/* Makes every missing directory of @dir, each 0700 whatever the umask. */
static gboolean
make_private_dirs(const char *dir, GError **error)
{
  g_autofree char *parent = NULL;

  if (g_file_test(dir, G_FILE_TEST_IS_DIR))
    return TRUE;
  parent = g_path_get_dirname(dir);
  if (g_strcmp0(parent, dir) != 0 && !make_private_dirs(parent, error))
    return FALSE;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    int saved = errno;

    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                "could not make the directory %s for Signet's state: %s; check that its parent "
                "is writable",
                dir, g_strerror(saved));
    return FALSE;
  }
  if (chmod(dir, 0700) != 0) {
    int saved = errno;

    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                "could not make %s private (0700): %s", dir, g_strerror(saved));
    return FALSE;
  }
  return TRUE;
}

static void
sync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

/* Creates @path empty with mode 0600 if it does not exist (SQLite would
 * create it 0644 minus the umask, and gives its -wal and -shm files the
 * database's mode). An existing file is only read: if it is not empty and
 * does not start with SQLite's header, it is refused and left as it is. */
static gboolean
prepare_file(const char *path, gboolean *out_created, GError **error)
{
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  char header[16] = { 0 };
  ssize_t n;

  if (fd >= 0) {
    int ok = fchmod(fd, 0600) == 0 && fsync(fd) == 0;
    int saved = errno;

    close(fd);
    if (!ok) {
      g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                  "could not create %s (mode 0600): %s; check that its directory is writable", path,
                  g_strerror(saved));
      return FALSE;
    }
    *out_created = TRUE;
    return TRUE;
  }
  if (errno != EEXIST) {
    int saved = errno;

    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                "could not create %s: %s; check that its directory is writable", path,
                g_strerror(saved));
    return FALSE;
  }

  *out_created = FALSE;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int saved = errno;

    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                "could not open %s: %s; check that it is a regular file you own", path,
                g_strerror(saved));
    return FALSE;
  }
  n = read(fd, header, sizeof header);
  close(fd);
  if (n < 0) {
    int saved = errno;

    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "could not read %s: %s", path,
                g_strerror(saved));
    return FALSE;
  }
  if (n > 0 && (n < (ssize_t)sizeof header || memcmp(header, SQLITE_MAGIC, sizeof header) != 0)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s is not a Signet state database (not an SQLite file); it was left as it is: "
                "move it away and Signet makes a new one; the journal it held is then lost",
                path);
    return FALSE;
  }
  return TRUE;
}

static const char *const sidecars[] = { "-wal", "-shm", "-journal" };

/* chmod 0600 (without following a symbolic link); a missing file is fine
 * unless @must_exist. */
static gboolean
make_private_file(const char *path, gboolean must_exist, GError **error)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  int saved;

  if (fd < 0 && errno == ENOENT && !must_exist)
    return TRUE;
  if (fd >= 0) {
    struct stat st;

    if (fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600) {
      close(fd);
      return TRUE;
    }
    if (fchmod(fd, 0600) == 0) {
      close(fd);
      return TRUE;
    }
    saved = errno;
    close(fd);
  } else {
    saved = errno;
  }
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
              "could not make %s private (0600): %s; check that you own it", path,
              g_strerror(saved));
  return FALSE;
}

static gboolean
migrate(SignetState *state, GError **error)
{
  for (;;) {
    int version = read_user_version(state, error);

    if (version < 0)
      return FALSE;
    if (version >= SIGNET_STATE_SCHEMA_VERSION)
      return TRUE;
    if (!begin(state, error))
      return FALSE;
    /* Another process may have migrated since we looked: look again inside. */
    version = read_user_version(state, error);
    if (version < 0) {
      rollback(state);
      return FALSE;
    }
    if (version < SIGNET_STATE_SCHEMA_VERSION) {
      g_autofree char *what
          = g_strdup_printf("migrate the schema from version %d to %d", version, version + 1);

      if (!exec(state, migrations[version], what, error)) {
        rollback(state);
        return FALSE;
      }
      if (read_user_version(state, NULL) != version + 1) {
        rollback(state);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "%s: the migration from version %d did not set version %d (a bug in "
                    "Signet: please report it)",
                    state->path, version, version + 1);
        return FALSE;
      }
    }
    if (!commit(state, error)) {
      rollback(state);
      return FALSE;
    }
  }
}

void
signet_state_free(SignetState *state)
{
  if (state == NULL)
    return;
  if (state->db != NULL)
    sqlite3_close_v2(state->db);
  g_mutex_clear(&state->lock);
  g_free(state->path);
  g_free(state);
}

SignetState *
signet_state_open(const char *path, GError **error)
{
  g_autoptr(SignetState) state = g_new0(SignetState, 1);
  g_autofree char *dir = NULL;
  gboolean created = FALSE;
  int version;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;

  g_mutex_init(&state->lock);
  if (path != NULL)
    state->path = g_strdup(path);
  else
    state->path = g_build_filename(g_get_user_state_dir(), "signet", "signet.db", NULL);

  dir = g_path_get_dirname(state->path);
  if (!make_private_dirs(dir, error))
    return NULL;
  if (path == NULL && chmod(dir, 0700) != 0) {
    int saved = errno;

    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                "could not make %s private (0700): %s", dir, g_strerror(saved));
    return NULL;
  }
  if (!prepare_file(state->path, &created, error))
    return NULL;
  if (created)
    sync_dir(dir);

#ifdef SQLITE_OPEN_NOFOLLOW
  flags |= SQLITE_OPEN_NOFOLLOW;
#endif
  if (sqlite3_open_v2(state->path, &state->db, flags, NULL) != SQLITE_OK) {
    if (state->db == NULL) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s: could not open: out of memory",
                  state->path);
      return NULL;
    }
    set_db_error(state, error, "open the database");
    return NULL;
  }
  sqlite3_extended_result_codes(state->db, 1);
  sqlite3_busy_timeout(state->db, BUSY_TIMEOUT_MS);

  /* Read before writing anything: a newer schema is refused untouched. */
  version = read_user_version(state, error);
  if (version < 0)
    return NULL;
  if (version > SIGNET_STATE_SCHEMA_VERSION) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "%s was made by a newer Signet (schema version %d; this Signet knows up to "
                "version %d): run the newer Signet, or move the file away and Signet makes a "
                "new one; the journal it held is then lost",
                state->path, version, SIGNET_STATE_SCHEMA_VERSION);
    return NULL;
  }

  /* Private whatever made it or the umask, once it is known to be ours and
   * before the first write (SQLite gives new -wal and -shm files the
   * database's mode; those left by an earlier run are fixed too). */
  if (!make_private_file(state->path, TRUE, error))
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS(sidecars); i++) {
    g_autofree char *sidecar = g_strconcat(state->path, sidecars[i], NULL);

    if (!make_private_file(sidecar, FALSE, error))
      return NULL;
  }

  {
    g_autoptr(SignetStmt) stmt = prepare(state, "PRAGMA journal_mode = WAL", error);
    const unsigned char *mode;

    if (stmt == NULL || step_row(state, stmt, "switch to WAL journaling", error) != 1) {
      if (error != NULL && *error == NULL)
        set_db_error(state, error, "switch to WAL journaling");
      return NULL;
    }
    mode = sqlite3_column_text(stmt, 0);
    if (mode == NULL || g_ascii_strcasecmp((const char *)mode, "wal") != 0) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                  "%s: could not switch to WAL journaling (the journal mode stayed %s); put "
                  "the state directory on a local file system",
                  state->path, mode != NULL ? (const char *)mode : "unknown");
      return NULL;
    }
  }
  if (!exec(state, "PRAGMA synchronous = FULL", "set synchronous=FULL", error)
      || !exec(state, "PRAGMA foreign_keys = ON", "enable foreign keys", error))
    return NULL;

  if (!migrate(state, error))
    return NULL;

  return g_steal_pointer(&state);
}

const char *
signet_state_get_path(SignetState *state)
{
  g_return_val_if_fail(state != NULL, NULL);
  return state->path;
}

int
signet_state_get_schema_version(SignetState *state)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail(state != NULL, -1);
  locker = g_mutex_locker_new(&state->lock);
  return read_user_version(state, NULL);
}

static gboolean
read_pragma(SignetState *state, const char *sql, char **out_text, int *out_int, GError **error)
{
  g_autoptr(SignetStmt) stmt = prepare(state, sql, error);

  if (stmt == NULL)
    return FALSE;
  if (step_row(state, stmt, "read a setting", error) != 1) {
    if (error != NULL && *error == NULL)
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: could not read a setting (%s)",
                  state->path, sql);
    return FALSE;
  }
  if (out_text != NULL)
    *out_text = column_text(stmt, 0);
  if (out_int != NULL)
    *out_int = sqlite3_column_int(stmt, 0);
  return TRUE;
}

gboolean
signet_state_get_settings(SignetState *state, char **out_journal_mode, int *out_synchronous,
                          gboolean *out_foreign_keys, int *out_busy_timeout_ms, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autofree char *mode = NULL;
  int sync = 0, fk = 0, busy = 0;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  if (!read_pragma(state, "PRAGMA journal_mode", &mode, NULL, error)
      || !read_pragma(state, "PRAGMA synchronous", NULL, &sync, error)
      || !read_pragma(state, "PRAGMA foreign_keys", NULL, &fk, error)
      || !read_pragma(state, "PRAGMA busy_timeout", NULL, &busy, error))
    return FALSE;
  if (out_journal_mode != NULL)
    *out_journal_mode = g_steal_pointer(&mode);
  if (out_synchronous != NULL)
    *out_synchronous = sync;
  if (out_foreign_keys != NULL)
    *out_foreign_keys = fk != 0;
  if (out_busy_timeout_ms != NULL)
    *out_busy_timeout_ms = busy;
  return TRUE;
}

/* ---- tokens seen ------------------------------------------------------------------------- */

gboolean
signet_state_token_seen(SignetState *state, const char *serial, const char *label,
                        const char *model, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(serial != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "INSERT INTO tokens (serial, label, model, first_seen, last_seen)"
                 " VALUES (?1, ?2, ?3, ?4, ?4)"
                 " ON CONFLICT (serial) DO UPDATE SET"
                 "  label = IFNULL(excluded.label, label),"
                 "  model = IFNULL(excluded.model, model),"
                 "  last_seen = excluded.last_seen",
                 error);
  if (stmt == NULL)
    return FALSE;
  bind_text(stmt, 1, serial);
  bind_text(stmt, 2, label);
  bind_text(stmt, 3, model);
  sqlite3_bind_int64(stmt, 4, now);
  return step_done(state, stmt, "record the token", error);
}

/* ---- certificates tracked ---------------------------------------------------------------- */

void
signet_state_cert_free(SignetStateCert *cert)
{
  if (cert == NULL)
    return;
  g_free(cert->token_serial);
  g_free(cert->key_id);
  g_free(cert->serial);
  g_free(cert->issuer);
  g_free(cert->subject);
  g_free(cert->profile);
  g_free(cert);
}

char *
signet_state_cert_key(const char *issuer, const char *serial)
{
  return g_strconcat(issuer != NULL ? issuer : "", "\n", serial != NULL ? serial : "", NULL);
}

gboolean
signet_state_cert_track(SignetState *state, const SignetStateCert *cert, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(cert != NULL, FALSE);
  g_return_val_if_fail(cert->token_serial != NULL, FALSE);
  g_return_val_if_fail(cert->issuer != NULL, FALSE);
  g_return_val_if_fail(cert->serial != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  /* Tracking a certificate is seeing it on the token: present, last_seen = now. */
  stmt = prepare(state,
                 "INSERT INTO certificates (token_serial, key_id, serial, issuer, subject,"
                 "  profile, not_before, not_after, first_seen, last_seen, present)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 1)"
                 " ON CONFLICT (token_serial, issuer, serial) DO UPDATE SET"
                 "  key_id = excluded.key_id,"
                 "  subject = excluded.subject,"
                 "  profile = IFNULL(excluded.profile, profile),"
                 "  not_before = excluded.not_before,"
                 "  not_after = excluded.not_after,"
                 "  last_seen = excluded.last_seen,"
                 "  present = 1",
                 error);
  if (stmt == NULL)
    return FALSE;
  bind_text(stmt, 1, cert->token_serial);
  bind_text(stmt, 2, cert->key_id);
  bind_text(stmt, 3, cert->serial);
  bind_text(stmt, 4, cert->issuer);
  bind_text(stmt, 5, cert->subject);
  bind_text(stmt, 6, cert->profile);
  sqlite3_bind_int64(stmt, 7, cert->not_before);
  sqlite3_bind_int64(stmt, 8, cert->not_after);
  sqlite3_bind_int64(stmt, 9, now);
  return step_done(state, stmt, "record the certificate", error);
}

gboolean
signet_state_certs_sync(SignetState *state, const char *token_serial, const char *const *present,
                        GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(gint64));

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(token_serial != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  for (gsize i = 0; present != NULL && present[i] != NULL; i++)
    g_hash_table_add(keep, (gpointer)present[i]);

  locker = g_mutex_locker_new(&state->lock);
  if (!begin(state, error))
    return FALSE;
  {
    g_autoptr(SignetStmt) stmt = prepare(
        state,
        "SELECT id, issuer, serial FROM certificates WHERE token_serial = ?1 AND present = 1",
        error);
    int row;

    if (stmt == NULL)
      goto fail;
    bind_text(stmt, 1, token_serial);
    while ((row = step_row(state, stmt, "list the token's certificates", error)) == 1) {
      g_autofree char *key = signet_state_cert_key((const char *)sqlite3_column_text(stmt, 1),
                                                   (const char *)sqlite3_column_text(stmt, 2));

      if (!g_hash_table_contains(keep, key)) {
        gint64 id = sqlite3_column_int64(stmt, 0);

        g_array_append_val(gone, id);
      }
    }
    if (row < 0)
      goto fail;
  }
  if (gone->len > 0) {
    g_autoptr(SignetStmt) stmt
        = prepare(state, "UPDATE certificates SET present = 0 WHERE id = ?1", error);

    if (stmt == NULL)
      goto fail;
    for (guint i = 0; i < gone->len; i++) {
      sqlite3_reset(stmt);
      sqlite3_bind_int64(stmt, 1, g_array_index(gone, gint64, i));
      if (!step_done(state, stmt, "mark a certificate absent", error))
        goto fail;
    }
  }
  if (!commit(state, error))
    goto fail;
  return TRUE;

fail:
  rollback(state);
  return FALSE;
}

#define CERT_COLUMNS                                                                               \
  "token_serial, key_id, serial, issuer, subject, profile, not_before, not_after, first_seen, "    \
  "last_seen, present"

static SignetStateCert *
cert_from_row(SignetStmt *stmt)
{
  SignetStateCert *cert = g_new0(SignetStateCert, 1);

  cert->token_serial = column_text(stmt, 0);
  cert->key_id = column_text(stmt, 1);
  cert->serial = column_text(stmt, 2);
  cert->issuer = column_text(stmt, 3);
  cert->subject = column_text(stmt, 4);
  cert->profile = column_text(stmt, 5);
  cert->not_before = sqlite3_column_int64(stmt, 6);
  cert->not_after = sqlite3_column_int64(stmt, 7);
  cert->first_seen = sqlite3_column_int64(stmt, 8);
  cert->last_seen = sqlite3_column_int64(stmt, 9);
  cert->present = sqlite3_column_int(stmt, 10) != 0;
  return cert;
}

GPtrArray *
signet_state_certs_list(SignetState *state, const char *token_serial, gboolean present_only,
                        GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "SELECT " CERT_COLUMNS " FROM certificates"
                 " WHERE (?1 IS NULL OR token_serial = ?1) AND (?2 = 0 OR present = 1)"
                 " ORDER BY present DESC, not_after DESC, id",
                 error);
  if (stmt == NULL)
    return NULL;
  bind_text(stmt, 1, token_serial);
  sqlite3_bind_int(stmt, 2, present_only ? 1 : 0);
  certs = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_cert_free);
  while ((row = step_row(state, stmt, "list certificates", error)) == 1)
    g_ptr_array_add(certs, cert_from_row(stmt));
  if (row < 0)
    return NULL;
  return g_steal_pointer(&certs);
}

char *
signet_state_cert_profile(SignetState *state, const char *token_serial, const char *issuer,
                          const char *serial, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "SELECT profile FROM certificates"
                 " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3",
                 error);
  if (stmt == NULL)
    return NULL;
  bind_text(stmt, 1, token_serial);
  bind_text(stmt, 2, issuer);
  bind_text(stmt, 3, serial);
  row = step_row(state, stmt, "read a certificate's profile", error);
  if (row != 1)
    return NULL;
  return column_text(stmt, 0);
}

/* ---- the roots of a certificate ------------------------------------------------------------ */

void
signet_state_root_free(SignetStateRoot *root)
{
  if (root == NULL)
    return;
  g_free(root->sha256);
  g_free(root->pem);
  g_free(root->source);
  g_free(root);
}

gboolean
signet_state_roots_add(SignetState *state, const char *token_serial, const char *issuer,
                       const char *serial, GPtrArray *roots, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(token_serial != NULL && issuer != NULL && serial != NULL, FALSE);
  g_return_val_if_fail(roots != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  for (guint i = 0; i < roots->len; i++) {
    const SignetStateRoot *root = g_ptr_array_index(roots, i);

    g_return_val_if_fail(root->sha256 != NULL && root->pem != NULL, FALSE);
  }

  locker = g_mutex_locker_new(&state->lock);
  if (!begin(state, error))
    return FALSE;
  /* A root recorded before keeps its first source and time. */
  stmt = prepare(state,
                 "INSERT OR IGNORE INTO certificate_roots (token_serial, issuer, serial,"
                 "  root_sha256, root_pem, source, recorded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                 error);
  if (stmt == NULL)
    goto fail;
  for (guint i = 0; i < roots->len; i++) {
    const SignetStateRoot *root = g_ptr_array_index(roots, i);

    sqlite3_reset(stmt);
    bind_text(stmt, 1, token_serial);
    bind_text(stmt, 2, issuer);
    bind_text(stmt, 3, serial);
    bind_text(stmt, 4, root->sha256);
    bind_text(stmt, 5, root->pem);
    bind_text(stmt, 6, root->source != NULL ? root->source : "");
    sqlite3_bind_int64(stmt, 7, now);
    if (!step_done(state, stmt, "record a certificate's root", error))
      goto fail;
  }
  g_clear_pointer(&stmt, stmt_finalize);
  if (!commit(state, error))
    goto fail;
  return TRUE;

fail:
  rollback(state);
  return FALSE;
}

GPtrArray *
signet_state_roots_list(SignetState *state, const char *token_serial, const char *issuer,
                        const char *serial, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(GPtrArray) roots = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "SELECT root_sha256, root_pem, source, recorded FROM certificate_roots"
                 " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3"
                 " ORDER BY recorded, root_sha256",
                 error);
  if (stmt == NULL)
    return NULL;
  bind_text(stmt, 1, token_serial);
  bind_text(stmt, 2, issuer);
  bind_text(stmt, 3, serial);
  roots = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_root_free);
  while ((row = step_row(state, stmt, "read a certificate's roots", error)) == 1) {
    SignetStateRoot *root = g_new0(SignetStateRoot, 1);

    root->sha256 = column_text(stmt, 0);
    root->pem = column_text(stmt, 1);
    root->source = column_text(stmt, 2);
    root->recorded = sqlite3_column_int64(stmt, 3);
    g_ptr_array_add(roots, root);
  }
  if (row < 0)
    return NULL;
  return g_steal_pointer(&roots);
}

/* ---- the operations journal -------------------------------------------------------------- */

static const char *const kind_names[] = {
  [SIGNET_OP_ACTIVATE] = "activate",
  [SIGNET_OP_RENEW] = "renew",
};

static const char *const state_names[] = {
  [SIGNET_OP_RUNNING] = "running",         [SIGNET_OP_PENDING] = "pending",
  [SIGNET_OP_ISSUED] = "issued",           [SIGNET_OP_FINISHED] = "finished",
  [SIGNET_OP_ROLLED_BACK] = "rolled-back", [SIGNET_OP_FAILED] = "failed",
};

const char *
signet_op_kind_to_string(SignetOpKind kind)
{
  if ((guint)kind < G_N_ELEMENTS(kind_names))
    return kind_names[kind];
  return "unknown";
}

const char *
signet_op_state_to_string(SignetOpState state)
{
  if ((guint)state < G_N_ELEMENTS(state_names))
    return state_names[state];
  return "unknown";
}

gboolean
signet_op_state_is_open(SignetOpState state)
{
  return state == SIGNET_OP_RUNNING || state == SIGNET_OP_PENDING || state == SIGNET_OP_ISSUED;
}

static gboolean
kind_from_string(const char *text, SignetOpKind *out_kind)
{
  for (guint i = 0; i < G_N_ELEMENTS(kind_names); i++)
    if (g_strcmp0(text, kind_names[i]) == 0) {
      *out_kind = (SignetOpKind)i;
      return TRUE;
    }
  return FALSE;
}

static gboolean
state_from_string(const char *text, SignetOpState *out_state)
{
  for (guint i = 0; i < G_N_ELEMENTS(state_names); i++)
    if (g_strcmp0(text, state_names[i]) == 0) {
      *out_state = (SignetOpState)i;
      return TRUE;
    }
  return FALSE;
}

void
signet_operation_free(SignetOperation *op)
{
  if (op == NULL)
    return;
  g_free(op->token_serial);
  g_free(op->token_label);
  g_free(op->profile);
  g_free(op->old_key_id);
  g_free(op->old_cert_serial);
  g_free(op->old_cert_issuer);
  g_free(op->new_key_id);
  g_free(op->step);
  g_free(op->request_pem);
  g_free(op->certificates_pem);
  g_free(op->message);
  g_free(op);
}

SignetOperation *
signet_operation_copy(const SignetOperation *op)
{
  SignetOperation *copy;

  g_return_val_if_fail(op != NULL, NULL);
  copy = g_memdup2(op, sizeof *op);
  copy->token_serial = g_strdup(op->token_serial);
  copy->token_label = g_strdup(op->token_label);
  copy->profile = g_strdup(op->profile);
  copy->old_key_id = g_strdup(op->old_key_id);
  copy->old_cert_serial = g_strdup(op->old_cert_serial);
  copy->old_cert_issuer = g_strdup(op->old_cert_issuer);
  copy->new_key_id = g_strdup(op->new_key_id);
  copy->step = g_strdup(op->step);
  copy->request_pem = g_strdup(op->request_pem);
  copy->certificates_pem = g_strdup(op->certificates_pem);
  copy->message = g_strdup(op->message);
  return copy;
}

#define OP_COLUMNS                                                                                 \
  "id, kind, token_serial, token_label, profile, old_key_id, old_cert_serial, old_cert_issuer, "   \
  "new_key_id, keep_key, key_made, step, state, request_pem, certificates_pem, cert_stored, "      \
  "retry_at, started, updated, message"

static SignetOperation *
op_from_row(SignetState *state, SignetStmt *stmt, GError **error)
{
  g_autoptr(SignetOperation) op = g_new0(SignetOperation, 1);
  const char *kind = (const char *)sqlite3_column_text(stmt, 1);
  const char *op_state = (const char *)sqlite3_column_text(stmt, 12);

  op->id = sqlite3_column_int64(stmt, 0);
  if (!kind_from_string(kind, &op->kind) || !state_from_string(op_state, &op->state)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s: operation %" G_GINT64_FORMAT " has an unknown kind \"%s\" or state \"%s\" "
                "(written by another Signet?); move the file away and Signet makes a new one",
                state->path, op->id, kind != NULL ? kind : "", op_state != NULL ? op_state : "");
    return NULL;
  }
  op->token_serial = column_text(stmt, 2);
  op->token_label = column_text(stmt, 3);
  op->profile = column_text(stmt, 4);
  op->old_key_id = column_text(stmt, 5);
  op->old_cert_serial = column_text(stmt, 6);
  op->old_cert_issuer = column_text(stmt, 7);
  op->new_key_id = column_text(stmt, 8);
  op->keep_key = sqlite3_column_int(stmt, 9) != 0;
  op->key_made = sqlite3_column_int(stmt, 10) != 0;
  op->step = column_text(stmt, 11);
  op->request_pem = column_text(stmt, 13);
  op->certificates_pem = column_text(stmt, 14);
  op->cert_stored = sqlite3_column_int(stmt, 15) != 0;
  op->retry_at = sqlite3_column_int64(stmt, 16);
  op->started = sqlite3_column_int64(stmt, 17);
  op->updated = sqlite3_column_int64(stmt, 18);
  op->message = column_text(stmt, 19);
  return g_steal_pointer(&op);
}

/* Binds every field of @op but id, started and updated to ?1 … ?17. */
static void
bind_op_fields(SignetStmt *stmt, const SignetOperation *op)
{
  bind_text(stmt, 1, signet_op_kind_to_string(op->kind));
  bind_text(stmt, 2, op->token_serial);
  bind_text(stmt, 3, op->token_label);
  bind_text(stmt, 4, op->profile);
  bind_text(stmt, 5, op->old_key_id);
  bind_text(stmt, 6, op->old_cert_serial);
  bind_text(stmt, 7, op->old_cert_issuer);
  bind_text(stmt, 8, op->new_key_id);
  sqlite3_bind_int(stmt, 9, op->keep_key ? 1 : 0);
  sqlite3_bind_int(stmt, 10, op->key_made ? 1 : 0);
  bind_text(stmt, 11, op->step);
  bind_text(stmt, 12, signet_op_state_to_string(op->state));
  bind_text(stmt, 13, op->request_pem);
  bind_text(stmt, 14, op->certificates_pem);
  sqlite3_bind_int(stmt, 15, op->cert_stored ? 1 : 0);
  sqlite3_bind_int64(stmt, 16, op->retry_at);
  bind_text(stmt, 17, op->message);
}

static gboolean
op_is_valid(const SignetOperation *op)
{
  return op->token_serial != NULL && (guint)op->kind < G_N_ELEMENTS(kind_names)
         && (guint)op->state < G_N_ELEMENTS(state_names);
}

/* The open operation of @kind, @token_serial and @profile (NULL: any), oldest
 * first; NULL with @error unset if none. Called with the lock held. */
static SignetOperation *
find_open_locked(SignetState *state, SignetOpKind kind, const char *token_serial,
                 const char *profile, gboolean exact_profile, GError **error)
{
  g_autoptr(SignetStmt) stmt = NULL;
  int row;

  stmt = prepare(state,
                 "SELECT " OP_COLUMNS " FROM operations"
                 " WHERE state IN ('running', 'pending', 'issued') AND kind = ?1"
                 "  AND token_serial = ?2"
                 "  AND (?4 = 0 AND ?3 IS NULL OR IFNULL(profile, '') = IFNULL(?3, ''))"
                 " ORDER BY started, id LIMIT 1",
                 error);
  if (stmt == NULL)
    return NULL;
  bind_text(stmt, 1, signet_op_kind_to_string(kind));
  bind_text(stmt, 2, token_serial);
  bind_text(stmt, 3, profile);
  sqlite3_bind_int(stmt, 4, exact_profile ? 1 : 0);
  row = step_row(state, stmt, "look up open operations", error);
  if (row != 1)
    return NULL;
  return op_from_row(state, stmt, error);
}

static void
set_exists_error(SignetState *state, const SignetOperation *open, const SignetOperation *op,
                 GError **error)
{
  g_set_error(
      error, G_IO_ERROR, G_IO_ERROR_EXISTS,
      "a \"%s\" operation on token %s%s%s%s is already under way (operation %" G_GINT64_FORMAT
      ", %s at step \"%s\"): let it finish or be rolled back first",
      signet_op_kind_to_string(op->kind), op->token_serial,
      op->profile != NULL ? " with profile \"" : "", op->profile != NULL ? op->profile : "",
      op->profile != NULL ? "\"" : "", open != NULL ? open->id : 0,
      open != NULL ? signet_op_state_to_string(open->state) : "open",
      open != NULL && open->step != NULL ? open->step : "none");
  (void)state;
}

gboolean
signet_state_op_begin(SignetState *state, SignetOperation *op, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetOperation) open = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(SignetStmt) stmt = NULL;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(op != NULL, FALSE);
  g_return_val_if_fail(op_is_valid(op), FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  if (!begin(state, error))
    return FALSE;
  if (signet_op_state_is_open(op->state)) {
    open = find_open_locked(state, op->kind, op->token_serial, op->profile, TRUE, &local);
    if (local != NULL) {
      g_propagate_error(error, g_steal_pointer(&local));
      goto fail;
    }
    if (open != NULL) {
      set_exists_error(state, open, op, error);
      goto fail;
    }
  }
  stmt = prepare(state,
                 "INSERT INTO operations (kind, token_serial, token_label, profile, old_key_id,"
                 "  old_cert_serial, old_cert_issuer, new_key_id, keep_key, key_made, step, state,"
                 "  request_pem, certificates_pem, cert_stored, retry_at, message, started,"
                 "  updated)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                 "  ?17, ?18, ?18)",
                 error);
  if (stmt == NULL)
    goto fail;
  bind_op_fields(stmt, op);
  sqlite3_bind_int64(stmt, 18, now);
  if (sqlite3_step(stmt) != SQLITE_DONE) {
    if ((sqlite3_extended_errcode(state->db) & 0xff) == SQLITE_CONSTRAINT)
      set_exists_error(state, NULL, op, error);
    else
      set_db_error(state, error, "journal the operation");
    goto fail;
  }
  if (!commit(state, error))
    goto fail;
  op->id = sqlite3_last_insert_rowid(state->db);
  op->started = now;
  op->updated = now;
  return TRUE;

fail:
  rollback(state);
  return FALSE;
}

/* UPDATE of every field by id. Called with the lock held. */
static gboolean
save_locked(SignetState *state, const SignetOperation *op, gint64 now, GError **error)
{
  g_autoptr(SignetStmt) stmt = NULL;

  stmt = prepare(state,
                 "UPDATE operations SET kind = ?1, token_serial = ?2, token_label = ?3,"
                 "  profile = ?4, old_key_id = ?5, old_cert_serial = ?6, old_cert_issuer = ?7,"
                 "  new_key_id = ?8, keep_key = ?9, key_made = ?10, step = ?11, state = ?12,"
                 "  request_pem = ?13, certificates_pem = ?14, cert_stored = ?15, retry_at = ?16,"
                 "  message = ?17, updated = ?18"
                 " WHERE id = ?19",
                 error);
  if (stmt == NULL)
    return FALSE;
  bind_op_fields(stmt, op);
  sqlite3_bind_int64(stmt, 18, now);
  sqlite3_bind_int64(stmt, 19, op->id);
  if (sqlite3_step(stmt) != SQLITE_DONE) {
    if ((sqlite3_extended_errcode(state->db) & 0xff) == SQLITE_CONSTRAINT)
      set_exists_error(state, NULL, op, error);
    else
      set_db_error(state, error, "journal the operation");
    return FALSE;
  }
  if (sqlite3_changes(state->db) != 1) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "%s: no operation %" G_GINT64_FORMAT " in the journal (a bug in Signet: please "
                "report it)",
                state->path, op->id);
    return FALSE;
  }
  return TRUE;
}

gboolean
signet_state_op_save(SignetState *state, SignetOperation *op, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(op != NULL, FALSE);
  g_return_val_if_fail(op->id > 0, FALSE);
  g_return_val_if_fail(op_is_valid(op), FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  if (!save_locked(state, op, now, error))
    return FALSE;
  op->updated = now;
  return TRUE;
}

gboolean
signet_state_op_step(SignetState *state, SignetOperation *op, const char *step, gint64 now,
                     GError **error)
{
  g_return_val_if_fail(op != NULL, FALSE);

  if (op->step != step) {
    g_free(op->step);
    op->step = g_strdup(step);
  }
  return signet_state_op_save(state, op, now, error);
}

static const char *
outcome_for(SignetOpState final)
{
  switch (final) {
    case SIGNET_OP_FINISHED:
      return "ok";
    case SIGNET_OP_ROLLED_BACK:
      return "rolled-back";
    case SIGNET_OP_FAILED:
    default:
      return "failed";
  }
}

static gboolean
audit_locked(SignetState *state, const char *token_serial, const char *token_label,
             const char *operation, const char *outcome, const char *detail, gint64 now,
             GError **error)
{
  g_autoptr(SignetStmt) stmt = NULL;

  stmt = prepare(state,
                 "INSERT INTO audit (time, token_serial, token_label, operation, outcome, detail)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                 error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, now);
  bind_text(stmt, 2, token_serial);
  bind_text(stmt, 3, token_label);
  bind_text(stmt, 4, operation);
  bind_text(stmt, 5, outcome);
  bind_text(stmt, 6, detail);
  return step_done(state, stmt, "write the audit log", error);
}

gboolean
signet_state_op_close(SignetState *state, SignetOperation *op, SignetOpState final,
                      const char *message, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetOperation) saved = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  SignetOpState was;
  int row;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(op != NULL, FALSE);
  g_return_val_if_fail(op->id > 0, FALSE);
  g_return_val_if_fail(op_is_valid(op), FALSE);
  g_return_val_if_fail(!signet_op_state_is_open(final), FALSE);
  g_return_val_if_fail((guint) final < G_N_ELEMENTS(state_names), FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  if (!begin(state, error))
    return FALSE;

  /* Closing twice would log the outcome twice: refuse. */
  stmt = prepare(state, "SELECT state FROM operations WHERE id = ?1", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64(stmt, 1, op->id);
  row = step_row(state, stmt, "read the operation", error);
  if (row < 0)
    goto fail;
  if (row == 0 || !state_from_string((const char *)sqlite3_column_text(stmt, 0), &was)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "%s: no operation %" G_GINT64_FORMAT " in the journal (a bug in Signet: please "
                "report it)",
                state->path, op->id);
    goto fail;
  }
  if (!signet_op_state_is_open(was)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                "%s: operation %" G_GINT64_FORMAT " is already closed (%s); nothing to do",
                state->path, op->id, signet_op_state_to_string(was));
    goto fail;
  }
  g_clear_pointer(&stmt, stmt_finalize);

  saved = signet_operation_copy(op);
  saved->state = final;
  if (message != NULL) {
    g_free(saved->message);
    saved->message = g_strdup(message);
  }
  if (!save_locked(state, saved, now, error))
    goto fail;
  if (!audit_locked(state, saved->token_serial, saved->token_label,
                    signet_op_kind_to_string(saved->kind), outcome_for(final), saved->message, now,
                    error))
    goto fail;
  if (!commit(state, error))
    goto fail;

  op->state = final;
  if (message != NULL) {
    g_free(op->message);
    op->message = g_strdup(message);
  }
  op->updated = now;
  return TRUE;

fail:
  rollback(state);
  return FALSE;
}

SignetOperation *
signet_state_op_get(SignetState *state, gint64 id, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state, "SELECT " OP_COLUMNS " FROM operations WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64(stmt, 1, id);
  row = step_row(state, stmt, "read the operation", error);
  if (row < 0)
    return NULL;
  if (row == 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "%s: no operation %" G_GINT64_FORMAT " in the journal", state->path, id);
    return NULL;
  }
  return op_from_row(state, stmt, error);
}

SignetOperation *
signet_state_op_find_open(SignetState *state, SignetOpKind kind, const char *token_serial,
                          const char *profile, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(token_serial != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  return find_open_locked(state, kind, token_serial, profile, FALSE, error);
}

GPtrArray *
signet_state_op_list_open(SignetState *state, const char *token_serial, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(GPtrArray) ops = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "SELECT " OP_COLUMNS " FROM operations"
                 " WHERE state IN ('running', 'pending', 'issued')"
                 "  AND (?1 IS NULL OR token_serial = ?1)"
                 " ORDER BY started, id",
                 error);
  if (stmt == NULL)
    return NULL;
  bind_text(stmt, 1, token_serial);
  ops = g_ptr_array_new_with_free_func((GDestroyNotify)signet_operation_free);
  while ((row = step_row(state, stmt, "list open operations", error)) == 1) {
    SignetOperation *op = op_from_row(state, stmt, error);

    if (op == NULL)
      return NULL;
    g_ptr_array_add(ops, op);
  }
  if (row < 0)
    return NULL;
  return g_steal_pointer(&ops);
}

gint64
signet_state_op_next_retry(SignetState *state, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;

  g_return_val_if_fail(state != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "SELECT MIN(retry_at) FROM operations WHERE state = 'pending' AND retry_at > 0",
                 error);
  if (stmt == NULL)
    return 0;
  if (step_row(state, stmt, "read the next retry time", error) != 1)
    return 0;
  return sqlite3_column_int64(stmt, 0); /* NULL (none) reads as 0 */
}

/* ---- reminders sent ---------------------------------------------------------------------- */

gboolean
signet_state_reminder_get(SignetState *state, const char *token_serial, const char *issuer,
                          const char *serial, guint threshold, gboolean *out_sent, gint64 *out_when,
                          GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  int row;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(out_sent != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "SELECT sent FROM reminders"
                 " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3 AND threshold = ?4",
                 error);
  if (stmt == NULL)
    return FALSE;
  bind_text(stmt, 1, token_serial);
  bind_text(stmt, 2, issuer);
  bind_text(stmt, 3, serial);
  sqlite3_bind_int64(stmt, 4, threshold);
  row = step_row(state, stmt, "read the reminders sent", error);
  if (row < 0)
    return FALSE;
  *out_sent = row == 1;
  if (out_when != NULL)
    *out_when = row == 1 ? sqlite3_column_int64(stmt, 0) : 0;
  return TRUE;
}

gboolean
signet_state_reminder_mark(SignetState *state, const char *token_serial, const char *issuer,
                           const char *serial, guint threshold, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(SignetStmt) clear = NULL;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(token_serial != NULL && issuer != NULL && serial != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  /* Marking again keeps the first time. */
  stmt = prepare(state,
                 "INSERT OR IGNORE INTO reminders (token_serial, issuer, serial, threshold, sent)"
                 " VALUES (?1, ?2, ?3, ?4, ?5)",
                 error);
  if (stmt == NULL)
    return FALSE;
  clear = prepare(state,
                  "DELETE FROM reminders_not_shown"
                  " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3 AND threshold = ?4",
                  error);
  if (clear == NULL)
    return FALSE;
  bind_text(stmt, 1, token_serial);
  bind_text(stmt, 2, issuer);
  bind_text(stmt, 3, serial);
  sqlite3_bind_int64(stmt, 4, threshold);
  sqlite3_bind_int64(stmt, 5, now);
  bind_text(clear, 1, token_serial);
  bind_text(clear, 2, issuer);
  bind_text(clear, 3, serial);
  sqlite3_bind_int64(clear, 4, threshold);
  /* Sent and no longer "not shown", together. */
  if (!begin(state, error))
    return FALSE;
  if (!step_done(state, stmt, "record the reminder", error)
      || !step_done(state, clear, "record the reminder", error)) {
    rollback(state);
    return FALSE;
  }
  if (!commit(state, error)) {
    rollback(state);
    return FALSE;
  }
  return TRUE;
}

gboolean
signet_state_reminder_not_shown(SignetState *state, const char *token_serial, const char *issuer,
                                const char *serial, guint threshold, const char *reason, gint64 now,
                                GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(token_serial != NULL && issuer != NULL && serial != NULL, FALSE);
  g_return_val_if_fail(reason != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  /* Never for a reminder already sent; again: the first time stays. */
  stmt = prepare(state,
                 "INSERT INTO reminders_not_shown"
                 " (token_serial, issuer, serial, threshold, first_try, last_try, tries, reason)"
                 " SELECT ?1, ?2, ?3, ?4, ?5, ?5, 1, ?6 WHERE NOT EXISTS (SELECT 1 FROM reminders"
                 "   WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3 AND threshold = ?4)"
                 " ON CONFLICT (token_serial, issuer, serial, threshold) DO UPDATE SET"
                 "   last_try = excluded.last_try, tries = tries + 1, reason = excluded.reason",
                 error);
  if (stmt == NULL)
    return FALSE;
  bind_text(stmt, 1, token_serial);
  bind_text(stmt, 2, issuer);
  bind_text(stmt, 3, serial);
  sqlite3_bind_int64(stmt, 4, threshold);
  sqlite3_bind_int64(stmt, 5, now);
  bind_text(stmt, 6, reason);
  return step_done(state, stmt, "record a reminder not shown", error);
}

void
signet_state_reminder_not_shown_free(SignetStateReminderNotShown *entry)
{
  if (entry == NULL)
    return;
  g_free(entry->reason);
  g_free(entry);
}

GPtrArray *
signet_state_reminder_list_not_shown(SignetState *state, const char *token_serial,
                                     const char *issuer, const char *serial, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "SELECT threshold, first_try, last_try, tries, reason FROM reminders_not_shown"
                 " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3"
                 " ORDER BY threshold DESC",
                 error);
  if (stmt == NULL)
    return NULL;
  bind_text(stmt, 1, token_serial);
  bind_text(stmt, 2, issuer);
  bind_text(stmt, 3, serial);
  entries = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_reminder_not_shown_free);
  while ((row = step_row(state, stmt, "read the reminders not shown", error)) == 1) {
    SignetStateReminderNotShown *entry = g_new0(SignetStateReminderNotShown, 1);

    entry->threshold = (guint)sqlite3_column_int64(stmt, 0);
    entry->first_try = sqlite3_column_int64(stmt, 1);
    entry->last_try = sqlite3_column_int64(stmt, 2);
    entry->tries = (guint)sqlite3_column_int64(stmt, 3);
    entry->reason = column_text(stmt, 4);
    g_ptr_array_add(entries, entry);
  }
  if (row < 0)
    return NULL;
  return g_steal_pointer(&entries);
}

/* ---- the audit log ----------------------------------------------------------------------- */

void
signet_audit_entry_free(SignetAuditEntry *entry)
{
  if (entry == NULL)
    return;
  g_free(entry->token_serial);
  g_free(entry->token_label);
  g_free(entry->operation);
  g_free(entry->outcome);
  g_free(entry->detail);
  g_free(entry);
}

gboolean
signet_state_audit(SignetState *state, const char *token_serial, const char *token_label,
                   const char *operation, const char *outcome, const char *detail, gint64 now,
                   GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(operation != NULL, FALSE);
  g_return_val_if_fail(outcome != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  return audit_locked(state, token_serial, token_label, operation, outcome, detail, now, error);
}

GPtrArray *
signet_state_audit_list(SignetState *state, const char *token_serial, guint limit, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  stmt = prepare(state,
                 "SELECT id, time, token_serial, token_label, operation, outcome, detail"
                 " FROM audit WHERE (?1 IS NULL OR token_serial = ?1)"
                 " ORDER BY time DESC, id DESC LIMIT ?2",
                 error);
  if (stmt == NULL)
    return NULL;
  bind_text(stmt, 1, token_serial);
  sqlite3_bind_int64(stmt, 2, limit > 0 ? (gint64)limit : -1);
  entries = g_ptr_array_new_with_free_func((GDestroyNotify)signet_audit_entry_free);
  while ((row = step_row(state, stmt, "read the audit log", error)) == 1) {
    SignetAuditEntry *entry = g_new0(SignetAuditEntry, 1);

    entry->id = sqlite3_column_int64(stmt, 0);
    entry->time = sqlite3_column_int64(stmt, 1);
    entry->token_serial = column_text(stmt, 2);
    entry->token_label = column_text(stmt, 3);
    entry->operation = column_text(stmt, 4);
    entry->outcome = column_text(stmt, 5);
    entry->detail = column_text(stmt, 6);
    g_ptr_array_add(entries, entry);
  }
  if (row < 0)
    return NULL;
  return g_steal_pointer(&entries);
}
