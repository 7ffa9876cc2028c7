/* signet-state-audit.c: the audit log (see signet-state.h). */
#include "config.h"

#include "agent/signet-state-private.h"

#include <string.h>

gboolean
signet_db_audit_locked(SignetState *state, const char *token_serial, const char *token_label,
                       const char *operation, const char *outcome, const char *detail, gint64 now,
                       GError **error)
{
  g_autoptr(SignetStmt) stmt = NULL;

  stmt = signet_db_prepare(
      state,
      "INSERT INTO audit (time, token_serial, token_label, operation, outcome, detail)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, now);
  signet_db_bind_text(stmt, 2, token_serial);
  signet_db_bind_text(stmt, 3, token_label);
  signet_db_bind_text(stmt, 4, operation);
  signet_db_bind_text(stmt, 5, outcome);
  signet_db_bind_text(stmt, 6, detail);
  return signet_db_step_done(state, stmt, "write the audit log", error);
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
  return signet_db_audit_locked(state, token_serial, token_label, operation, outcome, detail, now,
                                error);
}

GPtrArray *
signet_state_audit_list(SignetState *state, const SignetAuditQuery *query, GError **error)
{
  static const SignetAuditQuery all = { 0 };
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (query == NULL)
    query = &all;
  locker = g_mutex_locker_new(&state->lock);
  stmt = signet_db_prepare(state,
                           "SELECT id, time, token_serial, token_label, operation, outcome, detail"
                           " FROM audit"
                           " WHERE (?1 IS NULL OR token_serial = ?1 OR token_label = ?1)"
                           " AND (?2 IS NULL OR token_serial = ?2)"
                           " AND (?3 IS NULL OR token_label = ?3)"
                           " AND (?4 IS NULL OR time < ?4)"
                           " ORDER BY time DESC, id DESC LIMIT ?5",
                           error);
  if (stmt == NULL)
    return NULL;
  signet_db_bind_text(stmt, 1, query->token);
  signet_db_bind_text(stmt, 2, query->serial);
  signet_db_bind_text(stmt, 3, query->label);
  if (query->before != 0)
    sqlite3_bind_int64(stmt, 4, query->before);
  sqlite3_bind_int64(stmt, 5, query->limit > 0 ? (gint64)query->limit : -1);
  entries = g_ptr_array_new_with_free_func((GDestroyNotify)signet_audit_entry_free);
  while ((row = signet_db_step_row(state, stmt, "read the audit log", error)) == 1) {
    SignetAuditEntry *entry = g_new0(SignetAuditEntry, 1);

    entry->id = sqlite3_column_int64(stmt, 0);
    entry->time = sqlite3_column_int64(stmt, 1);
    entry->token_serial = signet_db_column_text(stmt, 2);
    entry->token_label = signet_db_column_text(stmt, 3);
    entry->operation = signet_db_column_text(stmt, 4);
    entry->outcome = signet_db_column_text(stmt, 5);
    entry->detail = signet_db_column_text(stmt, 6);
    g_ptr_array_add(entries, entry);
  }
  if (row < 0)
    return NULL;
  return g_steal_pointer(&entries);
}
