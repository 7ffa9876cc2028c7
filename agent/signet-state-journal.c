/* signet-state-journal.c: the operations journal (see signet-state.h and docs/internals/state.md).
 */
#include "config.h"

#include "agent/signet-state-private.h"

#include <string.h>

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
  g_free(op->reference);
  g_free(op->answer_lost);
  g_clear_pointer(&op->poll_state, g_bytes_unref);
  g_free(op->legacy_algorithms);
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
  copy->reference = g_strdup(op->reference);
  copy->answer_lost = g_strdup(op->answer_lost);
  copy->poll_state = op->poll_state != NULL ? g_bytes_ref(op->poll_state) : NULL;
  copy->legacy_algorithms = g_strdup(op->legacy_algorithms);
  return copy;
}

#define OP_COLUMNS                                                                                 \
  "id, kind, token_serial, token_label, profile, old_key_id, old_cert_serial, old_cert_issuer, "   \
  "new_key_id, keep_key, key_made, step, state, request_pem, certificates_pem, cert_stored, "      \
  "retry_at, started, updated, message, reference, sent_at, answer_lost, poll_state, revision, "   \
  "legacy_algorithms"

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
  op->token_serial = signet_db_column_text(stmt, 2);
  op->token_label = signet_db_column_text(stmt, 3);
  op->profile = signet_db_column_text(stmt, 4);
  op->old_key_id = signet_db_column_text(stmt, 5);
  op->old_cert_serial = signet_db_column_text(stmt, 6);
  op->old_cert_issuer = signet_db_column_text(stmt, 7);
  op->new_key_id = signet_db_column_text(stmt, 8);
  op->keep_key = sqlite3_column_int(stmt, 9) != 0;
  op->key_made = sqlite3_column_int(stmt, 10) != 0;
  op->step = signet_db_column_text(stmt, 11);
  op->request_pem = signet_db_column_text(stmt, 13);
  op->certificates_pem = signet_db_column_text(stmt, 14);
  op->cert_stored = sqlite3_column_int(stmt, 15) != 0;
  op->retry_at = sqlite3_column_int64(stmt, 16);
  op->started = sqlite3_column_int64(stmt, 17);
  op->updated = sqlite3_column_int64(stmt, 18);
  op->message = signet_db_column_text(stmt, 19);
  op->reference = signet_db_column_text(stmt, 20);
  op->sent_at = sqlite3_column_int64(stmt, 21);
  op->answer_lost = signet_db_column_text(stmt, 22);
  if (sqlite3_column_type(stmt, 23) != SQLITE_NULL)
    op->poll_state
        = g_bytes_new(sqlite3_column_blob(stmt, 23), (gsize)sqlite3_column_bytes(stmt, 23));
  op->revision = sqlite3_column_int64(stmt, 24);
  op->legacy_algorithms = signet_db_column_text(stmt, 25);
  return g_steal_pointer(&op);
}

/* Binds every field of @op but id, started, updated and revision to ?1 …
 * ?17, ?20 … ?23 and ?25. */
static void
bind_op_fields(SignetStmt *stmt, const SignetOperation *op)
{
  signet_db_bind_text(stmt, 1, signet_op_kind_to_string(op->kind));
  signet_db_bind_text(stmt, 2, op->token_serial);
  signet_db_bind_text(stmt, 3, op->token_label);
  signet_db_bind_text(stmt, 4, op->profile);
  signet_db_bind_text(stmt, 5, op->old_key_id);
  signet_db_bind_text(stmt, 6, op->old_cert_serial);
  signet_db_bind_text(stmt, 7, op->old_cert_issuer);
  signet_db_bind_text(stmt, 8, op->new_key_id);
  sqlite3_bind_int(stmt, 9, op->keep_key ? 1 : 0);
  sqlite3_bind_int(stmt, 10, op->key_made ? 1 : 0);
  signet_db_bind_text(stmt, 11, op->step);
  signet_db_bind_text(stmt, 12, signet_op_state_to_string(op->state));
  signet_db_bind_text(stmt, 13, op->request_pem);
  signet_db_bind_text(stmt, 14, op->certificates_pem);
  sqlite3_bind_int(stmt, 15, op->cert_stored ? 1 : 0);
  sqlite3_bind_int64(stmt, 16, op->retry_at);
  signet_db_bind_text(stmt, 17, op->message);
  signet_db_bind_text(stmt, 20, op->reference);
  sqlite3_bind_int64(stmt, 21, op->sent_at);
  signet_db_bind_text(stmt, 22, op->answer_lost);
  if (op->poll_state != NULL) {
    gsize len = 0;
    gconstpointer data = g_bytes_get_data(op->poll_state, &len);

    sqlite3_bind_blob(stmt, 23, data != NULL ? data : "", (int)len, SQLITE_TRANSIENT);
  } else
    sqlite3_bind_null(stmt, 23);
  signet_db_bind_text(stmt, 25, op->legacy_algorithms);
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

  stmt = signet_db_prepare(state,
                           "SELECT " OP_COLUMNS " FROM operations"
                           " WHERE state IN ('running', 'pending', 'issued') AND kind = ?1"
                           "  AND token_serial = ?2"
                           "  AND (?4 = 0 AND ?3 IS NULL OR IFNULL(profile, '') = IFNULL(?3, ''))"
                           " ORDER BY started, id LIMIT 1",
                           error);
  if (stmt == NULL)
    return NULL;
  signet_db_bind_text(stmt, 1, signet_op_kind_to_string(kind));
  signet_db_bind_text(stmt, 2, token_serial);
  signet_db_bind_text(stmt, 3, profile);
  sqlite3_bind_int(stmt, 4, exact_profile ? 1 : 0);
  row = signet_db_step_row(state, stmt, "look up open operations", error);
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
  if (!signet_db_begin(state, error))
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
  stmt = signet_db_prepare(
      state,
      "INSERT INTO operations (kind, token_serial, token_label, profile, old_key_id,"
      "  old_cert_serial, old_cert_issuer, new_key_id, keep_key, key_made, step, state,"
      "  request_pem, certificates_pem, cert_stored, retry_at, message, started,"
      "  updated, reference, sent_at, answer_lost, poll_state, revision, legacy_algorithms)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
      "  ?17, ?18, ?18, ?20, ?21, ?22, ?23, 0, ?25)",
      error);
  if (stmt == NULL)
    goto fail;
  bind_op_fields(stmt, op);
  sqlite3_bind_int64(stmt, 18, now);
  if (sqlite3_step(stmt) != SQLITE_DONE) {
    if ((sqlite3_extended_errcode(state->db) & 0xff) == SQLITE_CONSTRAINT)
      set_exists_error(state, NULL, op, error);
    else
      signet_db_set_error(state, error, "journal the operation");
    goto fail;
  }
  if (!signet_db_commit(state, error))
    goto fail;
  op->id = sqlite3_last_insert_rowid(state->db);
  op->started = now;
  op->updated = now;
  op->revision = 0;
  return TRUE;

fail:
  signet_db_rollback(state);
  return FALSE;
}

gboolean
signet_state_error_is_conflict(const GError *error)
{
  return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WRONG_ETAG);
}

/* Why an UPDATE at @op->revision changed nothing: the entry is gone, or
 * another task moved it on (closed it, or wrote it at that revision first).
 * Called with the lock held. */
static void
set_conflict_error(SignetState *state, const SignetOperation *op, GError **error)
{
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(SignetOperation) now = NULL;

  stmt = signet_db_prepare(state, "SELECT " OP_COLUMNS " FROM operations WHERE id = ?1", &local);
  if (stmt != NULL) {
    sqlite3_bind_int64(stmt, 1, op->id);
    if (signet_db_step_row(state, stmt, "read the operation", &local) == 1)
      now = op_from_row(state, stmt, &local);
  }
  if (now == NULL) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "%s: no operation %" G_GINT64_FORMAT " in the journal (a bug in Signet: please "
                "report it)",
                state->path, op->id);
    return;
  }
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_WRONG_ETAG,
              "the %s of token %s (operation %" G_GINT64_FORMAT ") was changed by another task "
              "while this one worked on it (now %s at step %s, revision %" G_GINT64_FORMAT
              "; this task read revision %" G_GINT64_FORMAT "): this task stopped without "
              "changing anything; see signet status",
              signet_op_kind_to_string(now->kind), now->token_serial, op->id,
              signet_op_state_to_string(now->state), now->step != NULL ? now->step : "none",
              now->revision, op->revision);
}

/* UPDATE of every field by id, compare-and-set on the revision and on the
 * entry being open; the new revision in @out_revision. Called with the lock
 * held. */
static gboolean
save_locked(SignetState *state, const SignetOperation *op, gint64 now, gint64 *out_revision,
            GError **error)
{
  g_autoptr(SignetStmt) stmt = NULL;

  stmt = signet_db_prepare(
      state,
      "UPDATE operations SET kind = ?1, token_serial = ?2, token_label = ?3,"
      "  profile = ?4, old_key_id = ?5, old_cert_serial = ?6, old_cert_issuer = ?7,"
      "  new_key_id = ?8, keep_key = ?9, key_made = ?10, step = ?11, state = ?12,"
      "  request_pem = ?13, certificates_pem = ?14, cert_stored = ?15, retry_at = ?16,"
      "  message = ?17, updated = ?18, reference = ?20, sent_at = ?21, answer_lost = ?22,"
      "  poll_state = ?23, legacy_algorithms = ?25, revision = revision + 1"
      " WHERE id = ?19 AND revision = ?24 AND state IN ('running', 'pending', 'issued')",
      error);
  if (stmt == NULL)
    return FALSE;
  bind_op_fields(stmt, op);
  sqlite3_bind_int64(stmt, 18, now);
  sqlite3_bind_int64(stmt, 19, op->id);
  sqlite3_bind_int64(stmt, 24, op->revision);
  if (sqlite3_step(stmt) != SQLITE_DONE) {
    if ((sqlite3_extended_errcode(state->db) & 0xff) == SQLITE_CONSTRAINT)
      set_exists_error(state, NULL, op, error);
    else
      signet_db_set_error(state, error, "journal the operation");
    return FALSE;
  }
  if (sqlite3_changes(state->db) != 1) {
    set_conflict_error(state, op, error);
    return FALSE;
  }
  *out_revision = op->revision + 1;
  return TRUE;
}

gboolean
signet_state_op_save(SignetState *state, SignetOperation *op, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  gint64 revision = 0;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(op != NULL, FALSE);
  g_return_val_if_fail(op->id > 0, FALSE);
  g_return_val_if_fail(op_is_valid(op), FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  if (!save_locked(state, op, now, &revision, error))
    return FALSE;
  op->updated = now;
  op->revision = revision;
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

gboolean
signet_state_op_close(SignetState *state, SignetOperation *op, SignetOpState final,
                      const char *message, gint64 now, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetOperation) saved = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  g_autoptr(GError) local = NULL;
  SignetOpState was;
  gint64 revision = 0;
  int row;

  g_return_val_if_fail(state != NULL, FALSE);
  g_return_val_if_fail(op != NULL, FALSE);
  g_return_val_if_fail(op->id > 0, FALSE);
  g_return_val_if_fail(op_is_valid(op), FALSE);
  g_return_val_if_fail(!signet_op_state_is_open(final), FALSE);
  g_return_val_if_fail((guint) final < G_N_ELEMENTS(state_names), FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new(&state->lock);
  if (!signet_db_begin(state, error))
    return FALSE;

  /* Closing twice would log the outcome twice: refuse. */
  stmt = signet_db_prepare(state, "SELECT state FROM operations WHERE id = ?1", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64(stmt, 1, op->id);
  row = signet_db_step_row(state, stmt, "read the operation", error);
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
  g_clear_pointer(&stmt, signet_db_stmt_finalize);

  saved = signet_operation_copy(op);
  saved->state = final;
  /* An activation's request may hold the activation code (a challengePassword
   * the CA asked for). It is kept only while it may have to be sent again:
   * a closed activation never sends it, so its row forgets it. */
  if (saved->kind == SIGNET_OP_ACTIVATE)
    g_clear_pointer(&saved->request_pem, g_free);
  if (message != NULL) {
    g_free(saved->message);
    saved->message = g_strdup(message);
  }
  if (!save_locked(state, saved, now, &revision, error))
    goto fail;
  if (!signet_db_audit_locked(state, saved->token_serial, saved->token_label,
                              signet_op_kind_to_string(saved->kind), outcome_for(final),
                              saved->message, now, error))
    goto fail;
  if (!signet_db_commit(state, error))
    goto fail;
  /* The request's old text stays in the WAL until a checkpoint copies the
   * row over it (secure_delete zeroes the freed cells in the database);
   * truncating the WAL then leaves no copy in either file. */
  if (op->kind == SIGNET_OP_ACTIVATE && op->request_pem != NULL
      && !signet_db_exec(state, "PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint the journal",
                         &local))
    g_message("state: the closed activation's request may stay in %s-wal until the next "
              "checkpoint: %s",
              state->path, local->message);

  op->state = final;
  if (message != NULL) {
    g_free(op->message);
    op->message = g_strdup(message);
  }
  op->updated = now;
  op->revision = revision;
  return TRUE;

fail:
  signet_db_rollback(state);
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
  stmt = signet_db_prepare(state, "SELECT " OP_COLUMNS " FROM operations WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64(stmt, 1, id);
  row = signet_db_step_row(state, stmt, "read the operation", error);
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
  stmt = signet_db_prepare(state,
                           "SELECT " OP_COLUMNS " FROM operations"
                           " WHERE state IN ('running', 'pending', 'issued')"
                           "  AND (?1 IS NULL OR token_serial = ?1)"
                           " ORDER BY started, id",
                           error);
  if (stmt == NULL)
    return NULL;
  signet_db_bind_text(stmt, 1, token_serial);
  ops = g_ptr_array_new_with_free_func((GDestroyNotify)signet_operation_free);
  while ((row = signet_db_step_row(state, stmt, "list open operations", error)) == 1) {
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
  stmt = signet_db_prepare(
      state,
      "SELECT MIN(retry_at) FROM operations WHERE state = 'pending' AND kind = 'renew'"
      " AND COALESCE(step, '') != 'wait-holder'"
      " AND retry_at > 0",
      error);
  if (stmt == NULL)
    return 0;
  if (signet_db_step_row(state, stmt, "read the next retry time", error) != 1)
    return 0;
  return sqlite3_column_int64(stmt, 0); /* NULL (none) reads as 0 */
}
