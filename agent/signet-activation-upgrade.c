/* signet-activation-upgrade.c: see signet-activation-upgrade.h. */
#include "config.h"

#include "agent/signet-activation-upgrade.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "agent/signet-clock.h"

#define GROUP "activation"

char *
signet_activation_records_dir(void)
{
  return g_build_filename(g_get_user_state_dir(), "signet", "activations", NULL);
}

/* ISO 8601 (as the files hold times) to Unix seconds; 0 if absent. */
static gint64
unix_time(GKeyFile *kf, const char *key)
{
  g_autofree char *text = g_key_file_get_string(kf, GROUP, key, NULL);
  g_autoptr(GDateTime) t = text != NULL ? g_date_time_new_from_iso8601(text, NULL) : NULL;

  return t != NULL ? g_date_time_to_unix(t) : 0;
}

/* The entry a record file stands for, or NULL (@error says why). */
static SignetOperation *
entry_from_file(const char *path, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(SignetOperation) op = g_new0(SignetOperation, 1);
  g_autofree char *stage = NULL;

  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error))
    return NULL;
  op->kind = SIGNET_OP_ACTIVATE;
  op->profile = g_key_file_get_string(kf, GROUP, "profile", NULL);
  op->token_serial = g_key_file_get_string(kf, GROUP, "token-serial", NULL);
  op->token_label = g_key_file_get_string(kf, GROUP, "token-label", NULL);
  op->new_key_id = g_key_file_get_string(kf, GROUP, "key-id", NULL);
  op->request_pem = g_key_file_get_string(kf, GROUP, "request", NULL);
  op->reference = g_key_file_get_string(kf, GROUP, "reference", NULL);
  op->answer_lost = g_key_file_get_string(kf, GROUP, "answer-lost", NULL);
  op->certificates_pem = g_key_file_get_string(kf, GROUP, "certificates", NULL);
  op->sent_at = unix_time(kf, "sent-at");
  op->retry_at = unix_time(kf, "retry-at");
  op->key_made = TRUE;
  stage = g_key_file_get_string(kf, GROUP, "stage", NULL);
  if (g_strcmp0(stage, "generated") == 0) {
    op->state = SIGNET_OP_RUNNING;
    op->step = g_strdup("generate-key");
    g_clear_pointer(&op->request_pem, g_free);
    op->sent_at = 0;
  } else if (g_strcmp0(stage, "sent") == 0) {
    op->state = SIGNET_OP_RUNNING;
    op->step = g_strdup("enroll");
    if (op->sent_at == 0)
      op->sent_at = unix_time(kf, "updated");
  } else if (g_strcmp0(stage, "pending") == 0) {
    op->state = SIGNET_OP_PENDING;
    op->step = g_strdup("pending");
  } else if (g_strcmp0(stage, "issued") == 0) {
    op->state = SIGNET_OP_ISSUED;
    op->step = g_strdup("store");
  } else
    g_clear_pointer(&stage, g_free);
  if (op->profile == NULL || op->token_serial == NULL || stage == NULL || op->new_key_id == NULL
      || (op->state == SIGNET_OP_ISSUED && op->certificates_pem == NULL)
      || (op->state != SIGNET_OP_ISSUED && g_strcmp0(stage, "generated") != 0
          && (op->request_pem == NULL || op->sent_at == 0))) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s is not a complete activation record; it was left in place", path);
    return NULL;
  }
  return g_steal_pointer(&op);
}

guint
signet_activation_records_upgrade(SignetState *state, const char *dir)
{
  g_autofree char *owned = dir == NULL ? signet_activation_records_dir() : NULL;
  g_autoptr(GDir) d = NULL;
  const char *name;
  guint moved = 0;

  g_return_val_if_fail(state != NULL, 0);
  if (dir == NULL)
    dir = owned;
  d = g_dir_open(dir, 0, NULL);
  if (d == NULL)
    return 0;
  while ((name = g_dir_read_name(d)) != NULL) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(SignetOperation) op = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_str_has_suffix(name, ".conf"))
      continue;
    op = entry_from_file(path, &local);
    if (op == NULL || !signet_state_op_begin(state, op, signet_clock_now(), &local)) {
      g_warning("activation record %s: %s", path, local->message);
      continue;
    }
    if (g_unlink(path) != 0)
      g_warning("activation record %s is in the journal now but could not be removed: %s", path,
                g_strerror(errno));
    g_message("the unfinished activation of token %s through profile %s (%s) is in the "
              "journal now",
              op->token_serial, op->profile, signet_op_state_to_string(op->state));
    moved++;
  }
  g_clear_pointer(&d, g_dir_close);
  (void)g_rmdir(dir); /* only if empty */
  return moved;
}
