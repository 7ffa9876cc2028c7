/* signet-state-reminders.c: reminders sent and not shown (see signet-state.h). */
#include "config.h"

#include "agent/signet-state-private.h"

#include <string.h>

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
  stmt = signet_db_prepare(
      state,
      "SELECT sent FROM reminders"
      " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3 AND threshold = ?4",
      error);
  if (stmt == NULL)
    return FALSE;
  signet_db_bind_text(stmt, 1, token_serial);
  signet_db_bind_text(stmt, 2, issuer);
  signet_db_bind_text(stmt, 3, serial);
  sqlite3_bind_int64(stmt, 4, threshold);
  row = signet_db_step_row(state, stmt, "read the reminders sent", error);
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
  stmt = signet_db_prepare(
      state,
      "INSERT OR IGNORE INTO reminders (token_serial, issuer, serial, threshold, sent)"
      " VALUES (?1, ?2, ?3, ?4, ?5)",
      error);
  if (stmt == NULL)
    return FALSE;
  clear = signet_db_prepare(
      state,
      "DELETE FROM reminders_not_shown"
      " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3 AND threshold = ?4",
      error);
  if (clear == NULL)
    return FALSE;
  signet_db_bind_text(stmt, 1, token_serial);
  signet_db_bind_text(stmt, 2, issuer);
  signet_db_bind_text(stmt, 3, serial);
  sqlite3_bind_int64(stmt, 4, threshold);
  sqlite3_bind_int64(stmt, 5, now);
  signet_db_bind_text(clear, 1, token_serial);
  signet_db_bind_text(clear, 2, issuer);
  signet_db_bind_text(clear, 3, serial);
  sqlite3_bind_int64(clear, 4, threshold);
  /* Sent and no longer "not shown", together. */
  if (!signet_db_begin(state, error))
    return FALSE;
  if (!signet_db_step_done(state, stmt, "record the reminder", error)
      || !signet_db_step_done(state, clear, "record the reminder", error)) {
    signet_db_rollback(state);
    return FALSE;
  }
  if (!signet_db_commit(state, error)) {
    signet_db_rollback(state);
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
  stmt = signet_db_prepare(
      state,
      "INSERT INTO reminders_not_shown"
      " (token_serial, issuer, serial, threshold, first_try, last_try, tries, reason)"
      " SELECT ?1, ?2, ?3, ?4, ?5, ?5, 1, ?6 WHERE NOT EXISTS (SELECT 1 FROM reminders"
      "   WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3 AND threshold = ?4)"
      " ON CONFLICT (token_serial, issuer, serial, threshold) DO UPDATE SET"
      "   last_try = excluded.last_try, tries = tries + 1, reason = excluded.reason",
      error);
  if (stmt == NULL)
    return FALSE;
  signet_db_bind_text(stmt, 1, token_serial);
  signet_db_bind_text(stmt, 2, issuer);
  signet_db_bind_text(stmt, 3, serial);
  sqlite3_bind_int64(stmt, 4, threshold);
  sqlite3_bind_int64(stmt, 5, now);
  signet_db_bind_text(stmt, 6, reason);
  return signet_db_step_done(state, stmt, "record a reminder not shown", error);
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
  stmt = signet_db_prepare(
      state,
      "SELECT threshold, first_try, last_try, tries, reason FROM reminders_not_shown"
      " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3"
      " ORDER BY threshold DESC",
      error);
  if (stmt == NULL)
    return NULL;
  signet_db_bind_text(stmt, 1, token_serial);
  signet_db_bind_text(stmt, 2, issuer);
  signet_db_bind_text(stmt, 3, serial);
  entries = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_reminder_not_shown_free);
  while ((row = signet_db_step_row(state, stmt, "read the reminders not shown", error)) == 1) {
    SignetStateReminderNotShown *entry = g_new0(SignetStateReminderNotShown, 1);

    entry->threshold = (guint)sqlite3_column_int64(stmt, 0);
    entry->first_try = sqlite3_column_int64(stmt, 1);
    entry->last_try = sqlite3_column_int64(stmt, 2);
    entry->tries = (guint)sqlite3_column_int64(stmt, 3);
    entry->reason = signet_db_column_text(stmt, 4);
    g_ptr_array_add(entries, entry);
  }
  if (row < 0)
    return NULL;
  return g_steal_pointer(&entries);
}
