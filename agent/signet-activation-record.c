/* signet-activation-record.c: see signet-activation-record.h. */
#include "config.h"

#include "agent/signet-activation-record.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "common/signet-util.h"

#define GROUP "activation"

void
signet_activation_record_free(SignetActivationRecord *record)
{
  if (record == NULL)
    return;
  g_free(record->profile);
  g_free(record->token_serial);
  g_free(record->token_label);
  g_clear_pointer(&record->key_id, g_bytes_unref);
  g_free(record->request_pem);
  g_free(record->reference);
  g_clear_pointer(&record->sent_at, g_date_time_unref);
  g_free(record->answer_lost);
  g_free(record->certificates_pem);
  g_clear_pointer(&record->retry_at, g_date_time_unref);
  g_clear_pointer(&record->updated, g_date_time_unref);
  g_free(record);
}

static const char *const stage_names[] = { "generated", "sent", "pending", "issued" };

const char *
signet_activation_stage_to_string(SignetActivationStage stage)
{
  g_return_val_if_fail((guint)stage < G_N_ELEMENTS(stage_names), "unknown");
  return stage_names[stage];
}

char *
signet_activation_dir(void)
{
  return g_build_filename(g_get_user_state_dir(), "signet", "activations", NULL);
}

/* A file name from the serial and the profile: both hex-encoded, so that
 * no serial (which comes from the token) can make a path. */
static char *
record_path(const char *dir, const char *serial, const char *profile)
{
  g_autofree char *s = signet_hex_encode((const guint8 *)serial, strlen(serial));
  g_autofree char *p = signet_hex_encode((const guint8 *)profile, strlen(profile));
  g_autofree char *name = g_strdup_printf("%s-%s.conf", s, p);

  return g_build_filename(dir, name, NULL);
}

static SignetActivationRecord *
record_from_file(const char *path, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(SignetActivationRecord) r = g_new0(SignetActivationRecord, 1);
  g_autofree char *stage = NULL;
  g_autofree char *id = NULL;
  g_autofree char *retry = NULL;
  g_autofree char *updated = NULL;
  g_autofree char *sent = NULL;
  gboolean found = FALSE;

  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error))
    return NULL;
  r->profile = g_key_file_get_string(kf, GROUP, "profile", NULL);
  r->token_serial = g_key_file_get_string(kf, GROUP, "token-serial", NULL);
  r->token_label = g_key_file_get_string(kf, GROUP, "token-label", NULL);
  stage = g_key_file_get_string(kf, GROUP, "stage", NULL);
  id = g_key_file_get_string(kf, GROUP, "key-id", NULL);
  r->request_pem = g_key_file_get_string(kf, GROUP, "request", NULL);
  r->reference = g_key_file_get_string(kf, GROUP, "reference", NULL);
  sent = g_key_file_get_string(kf, GROUP, "sent-at", NULL);
  r->answer_lost = g_key_file_get_string(kf, GROUP, "answer-lost", NULL);
  r->certificates_pem = g_key_file_get_string(kf, GROUP, "certificates", NULL);
  retry = g_key_file_get_string(kf, GROUP, "retry-at", NULL);
  updated = g_key_file_get_string(kf, GROUP, "updated", NULL);

  for (guint i = 0; stage != NULL && i < G_N_ELEMENTS(stage_names); i++)
    if (g_str_equal(stage, stage_names[i])) {
      r->stage = (SignetActivationStage)i;
      found = TRUE;
    }
  if (id != NULL)
    r->key_id = signet_hex_decode(id);
  if (r->profile == NULL || r->token_serial == NULL || !found || r->key_id == NULL
      || g_bytes_get_size(r->key_id) == 0
      || ((r->stage == SIGNET_ACTIVATION_PENDING || r->stage == SIGNET_ACTIVATION_SENT)
          && r->request_pem == NULL)
      || (r->stage == SIGNET_ACTIVATION_ISSUED && r->certificates_pem == NULL)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s is not a complete activation record; it was left in place", path);
    return NULL;
  }
  if (retry != NULL)
    r->retry_at = g_date_time_new_from_iso8601(retry, NULL);
  if (updated != NULL)
    r->updated = g_date_time_new_from_iso8601(updated, NULL);
  if (sent != NULL)
    r->sent_at = g_date_time_new_from_iso8601(sent, NULL);
  return g_steal_pointer(&r);
}

SignetActivationRecord *
signet_activation_record_load(const char *dir, const char *serial, const char *profile,
                              GError **error)
{
  g_autofree char *path = record_path(dir, serial, profile);
  g_autoptr(GError) local = NULL;
  SignetActivationRecord *r = record_from_file(path, &local);

  if (r == NULL) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return NULL;
    g_propagate_prefixed_error(error, g_steal_pointer(&local),
                               "The record of an earlier activation could not be read: ");
    return NULL;
  }
  /* The file name says whose it is; the content must agree. */
  if (!g_str_equal(r->token_serial, serial) || !g_str_equal(r->profile, profile)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s does not belong to token %s and profile %s; it was left in place", path, serial,
                profile);
    signet_activation_record_free(r);
    return NULL;
  }
  return r;
}

static int
compare_profile(gconstpointer a, gconstpointer b)
{
  const SignetActivationRecord *ra = *(SignetActivationRecord *const *)a;
  const SignetActivationRecord *rb = *(SignetActivationRecord *const *)b;

  return g_strcmp0(ra->profile, rb->profile);
}

GPtrArray *
signet_activation_records_for_token(const char *dir, const char *serial)
{
  GPtrArray *records
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_activation_record_free);
  g_autofree char *prefix = NULL;
  g_autofree char *hex = signet_hex_encode((const guint8 *)serial, strlen(serial));
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return records;
  prefix = g_strconcat(hex, "-", NULL);
  while ((name = g_dir_read_name(d)) != NULL) {
    g_autofree char *path = NULL;
    g_autoptr(GError) local = NULL;
    SignetActivationRecord *r;

    if (!g_str_has_prefix(name, prefix) || !g_str_has_suffix(name, ".conf"))
      continue;
    path = g_build_filename(dir, name, NULL);
    r = record_from_file(path, &local);
    if (r == NULL)
      g_warning("%s", local->message);
    else if (!g_str_equal(r->token_serial, serial))
      signet_activation_record_free(r);
    else
      g_ptr_array_add(records, r);
  }
  g_ptr_array_sort(records, compare_profile);
  return records;
}

gboolean
signet_activation_record_save(const char *dir, SignetActivationRecord *record, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autofree char *path = record_path(dir, record->token_serial, record->profile);
  g_autofree char *id
      = signet_hex_encode(g_bytes_get_data(record->key_id, NULL), g_bytes_get_size(record->key_id));
  g_autofree char *data = NULL;
  g_autofree char *now = NULL;
  gsize len = 0;

  if (g_mkdir_with_parents(dir, 0700) != 0) {
    int e = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "Cannot create %s: %s", dir,
                g_strerror(e));
    return FALSE;
  }
  g_clear_pointer(&record->updated, g_date_time_unref);
  record->updated = g_date_time_new_now_utc();
  now = g_date_time_format_iso8601(record->updated);

  g_key_file_set_comment(
      kf, NULL, NULL, " An unfinished Signet activation (signet(1), activate). Do not edit.", NULL);
  g_key_file_set_string(kf, GROUP, "profile", record->profile);
  g_key_file_set_string(kf, GROUP, "token-serial", record->token_serial);
  if (record->token_label != NULL)
    g_key_file_set_string(kf, GROUP, "token-label", record->token_label);
  g_key_file_set_string(kf, GROUP, "key-id", id);
  g_key_file_set_string(kf, GROUP, "stage", signet_activation_stage_to_string(record->stage));
  if (record->request_pem != NULL)
    g_key_file_set_string(kf, GROUP, "request", record->request_pem);
  if (record->reference != NULL)
    g_key_file_set_string(kf, GROUP, "reference", record->reference);
  if (record->sent_at != NULL) {
    g_autofree char *sent = g_date_time_format_iso8601(record->sent_at);
    g_key_file_set_string(kf, GROUP, "sent-at", sent);
  }
  if (record->answer_lost != NULL)
    g_key_file_set_string(kf, GROUP, "answer-lost", record->answer_lost);
  if (record->certificates_pem != NULL)
    g_key_file_set_string(kf, GROUP, "certificates", record->certificates_pem);
  if (record->retry_at != NULL) {
    g_autofree char *retry = g_date_time_format_iso8601(record->retry_at);
    g_key_file_set_string(kf, GROUP, "retry-at", retry);
  }
  g_key_file_set_string(kf, GROUP, "updated", now);
  data = g_key_file_to_data(kf, &len, NULL);
  return g_file_set_contents_full(path, data, (gssize)len,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0600, error);
}

gboolean
signet_activation_record_remove(const char *dir, const char *serial, const char *profile,
                                GError **error)
{
  g_autofree char *path = record_path(dir, serial, profile);

  if (g_unlink(path) != 0 && errno != ENOENT) {
    int e = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "Cannot remove %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  return TRUE;
}
