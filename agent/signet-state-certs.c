/* signet-state-certs.c: tokens seen and certificates tracked (see signet-state.h). */
#include "config.h"

#include "agent/signet-state-private.h"

#include <string.h>

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
  g_free(cert->legacy_algorithms);
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
  stmt
      = signet_db_prepare(state,
                          "INSERT INTO certificates (token_serial, key_id, serial, issuer, subject,"
                          "  profile, not_before, not_after, first_seen, last_seen, present,"
                          "  legacy_algorithms)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 1, ?10)"
                          " ON CONFLICT (token_serial, issuer, serial) DO UPDATE SET"
                          "  key_id = excluded.key_id,"
                          "  subject = excluded.subject,"
                          "  profile = IFNULL(excluded.profile, profile),"
                          "  legacy_algorithms = IFNULL(excluded.legacy_algorithms,"
                          "                             legacy_algorithms),"
                          "  not_before = excluded.not_before,"
                          "  not_after = excluded.not_after,"
                          "  last_seen = excluded.last_seen,"
                          "  present = 1",
                          error);
  if (stmt == NULL)
    return FALSE;
  signet_db_bind_text(stmt, 1, cert->token_serial);
  signet_db_bind_text(stmt, 2, cert->key_id);
  signet_db_bind_text(stmt, 3, cert->serial);
  signet_db_bind_text(stmt, 4, cert->issuer);
  signet_db_bind_text(stmt, 5, cert->subject);
  signet_db_bind_text(stmt, 6, cert->profile);
  sqlite3_bind_int64(stmt, 7, cert->not_before);
  sqlite3_bind_int64(stmt, 8, cert->not_after);
  sqlite3_bind_int64(stmt, 9, now);
  signet_db_bind_text(stmt, 10, cert->legacy_algorithms);
  return signet_db_step_done(state, stmt, "record the certificate", error);
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
  if (!signet_db_begin(state, error))
    return FALSE;
  {
    g_autoptr(SignetStmt) stmt = signet_db_prepare(
        state,
        "SELECT id, issuer, serial FROM certificates WHERE token_serial = ?1 AND present = 1",
        error);
    int row;

    if (stmt == NULL)
      goto fail;
    signet_db_bind_text(stmt, 1, token_serial);
    while ((row = signet_db_step_row(state, stmt, "list the token's certificates", error)) == 1) {
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
        = signet_db_prepare(state, "UPDATE certificates SET present = 0 WHERE id = ?1", error);

    if (stmt == NULL)
      goto fail;
    for (guint i = 0; i < gone->len; i++) {
      sqlite3_reset(stmt);
      sqlite3_bind_int64(stmt, 1, g_array_index(gone, gint64, i));
      if (!signet_db_step_done(state, stmt, "mark a certificate absent", error))
        goto fail;
    }
  }
  if (!signet_db_commit(state, error))
    goto fail;
  return TRUE;

fail:
  signet_db_rollback(state);
  return FALSE;
}

#define CERT_COLUMNS                                                                               \
  "token_serial, key_id, serial, issuer, subject, profile, not_before, not_after, first_seen, "    \
  "last_seen, present, legacy_algorithms"

static SignetStateCert *
cert_from_row(SignetStmt *stmt)
{
  SignetStateCert *cert = g_new0(SignetStateCert, 1);

  cert->token_serial = signet_db_column_text(stmt, 0);
  cert->key_id = signet_db_column_text(stmt, 1);
  cert->serial = signet_db_column_text(stmt, 2);
  cert->issuer = signet_db_column_text(stmt, 3);
  cert->subject = signet_db_column_text(stmt, 4);
  cert->profile = signet_db_column_text(stmt, 5);
  cert->not_before = sqlite3_column_int64(stmt, 6);
  cert->not_after = sqlite3_column_int64(stmt, 7);
  cert->first_seen = sqlite3_column_int64(stmt, 8);
  cert->last_seen = sqlite3_column_int64(stmt, 9);
  cert->present = sqlite3_column_int(stmt, 10) != 0;
  cert->legacy_algorithms = signet_db_column_text(stmt, 11);
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
  stmt = signet_db_prepare(state,
                           "SELECT " CERT_COLUMNS " FROM certificates"
                           " WHERE (?1 IS NULL OR token_serial = ?1) AND (?2 = 0 OR present = 1)"
                           " ORDER BY present DESC, not_after DESC, id",
                           error);
  if (stmt == NULL)
    return NULL;
  signet_db_bind_text(stmt, 1, token_serial);
  sqlite3_bind_int(stmt, 2, present_only ? 1 : 0);
  certs = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_cert_free);
  while ((row = signet_db_step_row(state, stmt, "list certificates", error)) == 1)
    g_ptr_array_add(certs, cert_from_row(stmt));
  if (row < 0)
    return NULL;
  return g_steal_pointer(&certs);
}

/* One column of a tracked certificate (@sql selects it), or NULL. */
static char *
cert_column(SignetState *state, const char *sql, const char *what, const char *token_serial,
            const char *issuer, const char *serial, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(SignetStmt) stmt = NULL;
  int row;

  g_return_val_if_fail(state != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new(&state->lock);
  stmt = signet_db_prepare(state, sql, error);
  if (stmt == NULL)
    return NULL;
  signet_db_bind_text(stmt, 1, token_serial);
  signet_db_bind_text(stmt, 2, issuer);
  signet_db_bind_text(stmt, 3, serial);
  row = signet_db_step_row(state, stmt, what, error);
  if (row != 1)
    return NULL;
  return signet_db_column_text(stmt, 0);
}

char *
signet_state_cert_profile(SignetState *state, const char *token_serial, const char *issuer,
                          const char *serial, GError **error)
{
  return cert_column(state,
                     "SELECT profile FROM certificates"
                     " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3",
                     "read a certificate's profile", token_serial, issuer, serial, error);
}

char *
signet_state_cert_legacy_algorithms(SignetState *state, const char *token_serial,
                                    const char *issuer, const char *serial, GError **error)
{
  return cert_column(state,
                     "SELECT legacy_algorithms FROM certificates"
                     " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3",
                     "read a certificate's legacy algorithms", token_serial, issuer, serial, error);
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
  if (!signet_db_begin(state, error))
    return FALSE;
  /* A root recorded before keeps its first source and time. */
  stmt = signet_db_prepare(
      state,
      "INSERT OR IGNORE INTO certificate_roots (token_serial, issuer, serial,"
      "  root_sha256, root_pem, source, recorded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      error);
  if (stmt == NULL)
    goto fail;
  for (guint i = 0; i < roots->len; i++) {
    const SignetStateRoot *root = g_ptr_array_index(roots, i);

    sqlite3_reset(stmt);
    signet_db_bind_text(stmt, 1, token_serial);
    signet_db_bind_text(stmt, 2, issuer);
    signet_db_bind_text(stmt, 3, serial);
    signet_db_bind_text(stmt, 4, root->sha256);
    signet_db_bind_text(stmt, 5, root->pem);
    signet_db_bind_text(stmt, 6, root->source != NULL ? root->source : "");
    sqlite3_bind_int64(stmt, 7, now);
    if (!signet_db_step_done(state, stmt, "record a certificate's root", error))
      goto fail;
  }
  g_clear_pointer(&stmt, signet_db_stmt_finalize);
  if (!signet_db_commit(state, error))
    goto fail;
  return TRUE;

fail:
  signet_db_rollback(state);
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
  stmt = signet_db_prepare(state,
                           "SELECT root_sha256, root_pem, source, recorded FROM certificate_roots"
                           " WHERE token_serial = ?1 AND issuer = ?2 AND serial = ?3"
                           " ORDER BY recorded, root_sha256",
                           error);
  if (stmt == NULL)
    return NULL;
  signet_db_bind_text(stmt, 1, token_serial);
  signet_db_bind_text(stmt, 2, issuer);
  signet_db_bind_text(stmt, 3, serial);
  roots = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_root_free);
  while ((row = signet_db_step_row(state, stmt, "read a certificate's roots", error)) == 1) {
    SignetStateRoot *root = g_new0(SignetStateRoot, 1);

    root->sha256 = signet_db_column_text(stmt, 0);
    root->pem = signet_db_column_text(stmt, 1);
    root->source = signet_db_column_text(stmt, 2);
    root->recorded = sqlite3_column_int64(stmt, 3);
    g_ptr_array_add(roots, root);
  }
  if (row < 0)
    return NULL;
  return g_steal_pointer(&roots);
}
