/* signet-state-private.h: what the state database's files share (the
 * connection, its lock, and the SQLite statement helpers); nothing outside
 * agent/signet-state*.c includes it.
 *
 * The database's parts, one file each: signet-state.c (opening, the schema
 * and its migrations, the helpers below), signet-state-certs.c (tokens seen,
 * certificates tracked), signet-state-journal.c (the operations journal),
 * signet-state-reminders.c, signet-state-audit.c.
 */
#pragma once

#include <gio/gio.h>
#include <sqlite3.h>

#include "agent/signet-state.h"

G_BEGIN_DECLS

struct _SignetState
{
  char *path;
  sqlite3 *db;
  GMutex lock; /* around every call: one statement or one transaction at a time */
};

typedef sqlite3_stmt SignetStmt;
static inline void
signet_db_stmt_finalize(SignetStmt *stmt)
{
  sqlite3_finalize(stmt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetStmt, signet_db_stmt_finalize)

/* Sets @error from the connection's last error: "PATH: could not WHAT: sqlite
 * message (SQLite code N); advice". */
void signet_db_set_error(SignetState *state, GError **error, const char *what);
SignetStmt *signet_db_prepare(SignetState *state, const char *sql, GError **error);
/* Binds @text, or NULL as SQL NULL. */
void signet_db_bind_text(SignetStmt *stmt, int index, const char *text);
/* The column as a new string, or NULL. */
char *signet_db_column_text(SignetStmt *stmt, int index);
/* Runs a statement that returns no row. */
gboolean signet_db_step_done(SignetState *state, SignetStmt *stmt, const char *what,
                             GError **error);
/* SQLITE_ROW → 1, SQLITE_DONE → 0, an error → -1 with @error set. */
int signet_db_step_row(SignetState *state, SignetStmt *stmt, const char *what, GError **error);
gboolean signet_db_exec(SignetState *state, const char *sql, const char *what, GError **error);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (if a transaction is open). */
gboolean signet_db_begin(SignetState *state, GError **error);
gboolean signet_db_commit(SignetState *state, GError **error);
void signet_db_rollback(SignetState *state);
/* One audit entry; the caller holds the lock (signet-state-audit.c). */
gboolean signet_db_audit_locked(SignetState *state, const char *token_serial,
                                const char *token_label, const char *operation, const char *outcome,
                                const char *detail, gint64 now, GError **error);

G_END_DECLS
