/* signet-state.c: see signet-state.h and docs/internals/state.md. */
#include "config.h"

#include "agent/signet-state-private.h"

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
  /* 2 → 3: one journal for activation and renewal (docs/internals/state.md):
   * a revision every update compares and sets, what an activation sent
   * (the reference, when, why its answer was lost), and what a connector
   * needs to ask the CA again about a pending request. */
  "ALTER TABLE operations ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE operations ADD COLUMN reference TEXT;"
  "ALTER TABLE operations ADD COLUMN sent_at INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE operations ADD COLUMN answer_lost TEXT;"
  "ALTER TABLE operations ADD COLUMN poll_state BLOB;"
  "PRAGMA user_version = 3;",
  /* 3 → 4: the roots a certificate's chain may end at, recorded when it was
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
  "PRAGMA user_version = 4;",
  /* 4 → 5: the history of a token named by its label, in SQL. */
  "CREATE INDEX audit_by_label ON audit (token_label, time, id);"
  "PRAGMA user_version = 5;",
  /* 5 → 6: a closed activation forgets its request, which may hold the
   * activation code as a challengePassword (docs/internals/state.md). */
  "UPDATE operations SET request_pem = NULL"
  "  WHERE kind = 'activate' AND state IN ('finished', 'rolled-back', 'failed');"
  "PRAGMA user_version = 6;",
  /* 6 → 7: the legacy algorithms a CA forced (SCEP's DES, 3DES, SHA-1),
   * with the answer in the journal and then with the certificate, for
   * `signet status`. */
  "ALTER TABLE operations ADD COLUMN legacy_algorithms TEXT;"
  "ALTER TABLE certificates ADD COLUMN legacy_algorithms TEXT;"
  "PRAGMA user_version = 7;",
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
void
signet_db_set_error(SignetState *state, GError **error, const char *what)
{
  int rc = sqlite3_extended_errcode(state->db);

  g_set_error(error, G_IO_ERROR, io_code_for(rc), "%s: could not %s: %s (SQLite error %d); %s",
              state->path, what, sqlite3_errmsg(state->db), rc, advice_for(rc));
}

/* ---- statements -------------------------------------------------------------------------- */

static gint disk_full; /* signet_state_set_disk_full(): test builds' fault */

void
signet_state_set_disk_full(gboolean full)
{
  g_atomic_int_set(&disk_full, full ? 1 : 0);
}

/* With the disk-full fault on, a statement that writes fails as SQLite
 * fails on a full disk (SQLITE_FULL), before it runs. */
static gboolean
check_disk_full(SignetState *state, const char *sql, GError **error)
{
  static const char *const writes[] = { "INSERT", "UPDATE", "DELETE", "BEGIN", "REPLACE" };

  if (!g_atomic_int_get(&disk_full))
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(writes); i++)
    if (g_ascii_strncasecmp(sql, writes[i], strlen(writes[i])) == 0) {
      g_set_error(error, G_IO_ERROR, io_code_for(SQLITE_FULL),
                  "%s: could not write: database or disk is full (SQLite error %d); %s",
                  state->path, SQLITE_FULL, advice_for(SQLITE_FULL));
      return FALSE;
    }
  return TRUE;
}

SignetStmt *
signet_db_prepare(SignetState *state, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (!check_disk_full(state, sql, error))
    return NULL;

  if (sqlite3_prepare_v2(state->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    signet_db_set_error(state, error, "prepare a statement");
    sqlite3_finalize(stmt);
    return NULL;
  }
  return stmt;
}

void
signet_db_bind_text(SignetStmt *stmt, int index, const char *text)
{
  if (text == NULL)
    sqlite3_bind_null(stmt, index);
  else
    sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
}

char *
signet_db_column_text(SignetStmt *stmt, int index)
{
  const unsigned char *text = sqlite3_column_text(stmt, index);

  return text != NULL ? g_strdup((const char *)text) : NULL;
}

/* Runs a statement that returns no row. */
gboolean
signet_db_step_done(SignetState *state, SignetStmt *stmt, const char *what, GError **error)
{
  int rc = sqlite3_step(stmt);

  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    signet_db_set_error(state, error, what);
    return FALSE;
  }
  return TRUE;
}

/* SQLITE_ROW → 1, SQLITE_DONE → 0, an error → -1 with @error set. */
int
signet_db_step_row(SignetState *state, SignetStmt *stmt, const char *what, GError **error)
{
  int rc = sqlite3_step(stmt);

  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  signet_db_set_error(state, error, what);
  return -1;
}

gboolean
signet_db_exec(SignetState *state, const char *sql, const char *what, GError **error)
{
  if (!check_disk_full(state, sql, error))
    return FALSE;
  if (sqlite3_exec(state->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    signet_db_set_error(state, error, what);
    return FALSE;
  }
  return TRUE;
}

gboolean
signet_db_begin(SignetState *state, GError **error)
{
  return signet_db_exec(state, "BEGIN IMMEDIATE", "start a transaction", error);
}

gboolean
signet_db_commit(SignetState *state, GError **error)
{
  return signet_db_exec(state, "COMMIT", "commit a transaction", error);
}

void
signet_db_rollback(SignetState *state)
{
  if (!sqlite3_get_autocommit(state->db))
    sqlite3_exec(state->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
read_user_version(SignetState *state, GError **error)
{
  g_autoptr(SignetStmt) stmt = signet_db_prepare(state, "PRAGMA user_version", error);

  if (stmt == NULL)
    return -1;
  if (signet_db_step_row(state, stmt, "read the schema version", error) != 1) {
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
    if (!signet_db_begin(state, error))
      return FALSE;
    /* Another process may have migrated since we looked: look again inside. */
    version = read_user_version(state, error);
    if (version < 0) {
      signet_db_rollback(state);
      return FALSE;
    }
    if (version < SIGNET_STATE_SCHEMA_VERSION) {
      g_autofree char *what
          = g_strdup_printf("migrate the schema from version %d to %d", version, version + 1);

      if (!signet_db_exec(state, migrations[version], what, error)) {
        signet_db_rollback(state);
        return FALSE;
      }
      if (read_user_version(state, NULL) != version + 1) {
        signet_db_rollback(state);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "%s: the migration from version %d did not set version %d (a bug in "
                    "Signet: please report it)",
                    state->path, version, version + 1);
        return FALSE;
      }
    }
    if (!signet_db_commit(state, error)) {
      signet_db_rollback(state);
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
    signet_db_set_error(state, error, "open the database");
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
    g_autoptr(SignetStmt) stmt = signet_db_prepare(state, "PRAGMA journal_mode = WAL", error);
    const unsigned char *mode;

    if (stmt == NULL || signet_db_step_row(state, stmt, "switch to WAL journaling", error) != 1) {
      if (error != NULL && *error == NULL)
        signet_db_set_error(state, error, "switch to WAL journaling");
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
  /* SQLite's page cache (2 MB by default) keeps every page read until it
   * is full: the agent's memory would grow with the database for its first
   * hundreds of operations. Its queries touch a few pages each (indexes by
   * token and time): 256 KiB is plenty (bench/ops/growth.sh). */
  if (!signet_db_exec(state, "PRAGMA synchronous = FULL", "set synchronous=FULL", error)
      || !signet_db_exec(state, "PRAGMA foreign_keys = ON", "enable foreign keys", error)
      || !signet_db_exec(state, "PRAGMA cache_size = -256", "set the cache size", error)
      /* What a row forgets (an activation's request) is zeroed in the
       * file, not left in a free page. */
      || !signet_db_exec(state, "PRAGMA secure_delete = ON", "set secure_delete", error))
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
  g_autoptr(SignetStmt) stmt = signet_db_prepare(state, sql, error);

  if (stmt == NULL)
    return FALSE;
  if (signet_db_step_row(state, stmt, "read a setting", error) != 1) {
    if (error != NULL && *error == NULL)
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: could not read a setting (%s)",
                  state->path, sql);
    return FALSE;
  }
  if (out_text != NULL)
    *out_text = signet_db_column_text(stmt, 0);
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
  stmt = signet_db_prepare(state,
                           "INSERT INTO tokens (serial, label, model, first_seen, last_seen)"
                           " VALUES (?1, ?2, ?3, ?4, ?4)"
                           " ON CONFLICT (serial) DO UPDATE SET"
                           "  label = IFNULL(excluded.label, label),"
                           "  model = IFNULL(excluded.model, model),"
                           "  last_seen = excluded.last_seen",
                           error);
  if (stmt == NULL)
    return FALSE;
  signet_db_bind_text(stmt, 1, serial);
  signet_db_bind_text(stmt, 2, label);
  signet_db_bind_text(stmt, 3, model);
  sqlite3_bind_int64(stmt, 4, now);
  return signet_db_step_done(state, stmt, "record the token", error);
}
