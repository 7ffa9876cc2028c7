/* signet-activation-record.h: what an unfinished activation leaves behind,
 * so that nothing the CA did is lost and nothing is orphaned on the token.
 *
 * Owns: one small file per token and profile in
 * $XDG_STATE_HOME/signet/activations/ (mode 0600, written durably: fsync
 * and rename), holding the token's serial, the CKA_ID of the key generated
 * for the activation and how far it got:
 *   GENERATED  the key exists, no request has gone to the CA: the next
 *              activation deletes that key first (it has no certificate).
 *   SENT       the request went to the CA (journaled before it was sent)
 *              and its answer never arrived (the agent stopped, the answer
 *              timed out or was cut short): the CA may have issued it and
 *              spent the code. The key and the request are kept; the next
 *              activation sends the same request again, never a new one.
 *   PENDING    the CA answered 202: the key and the request are kept, the
 *              next activation sends the same request again.
 *   ISSUED     the CA issued the certificate (kept here, with the chain)
 *              but it is not on the token yet: the next activation writes
 *              it, without the activation code.
 * Never a secret: no PIN, no activation code. The renewal journal (SQLite)
 * will take this over. May call: GLib, common/.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  SIGNET_ACTIVATION_GENERATED,
  SIGNET_ACTIVATION_SENT,
  SIGNET_ACTIVATION_PENDING,
  SIGNET_ACTIVATION_ISSUED,
} SignetActivationStage;

typedef struct
{
  char *profile;
  char *token_serial;
  char *token_label;
  GBytes *key_id;
  SignetActivationStage stage;
  char *request_pem;      /* SENT, PENDING: the request sent */
  char *reference;        /* SENT, PENDING: the reference number it was sent with */
  GDateTime *sent_at;     /* SENT, PENDING: when it was first sent (the agent's clock) */
  char *answer_lost;      /* SENT: why the answer did not arrive, when the agent saw it
                           * (NULL: the agent stopped while it waited) */
  char *certificates_pem; /* ISSUED: the leaf, then the CA certificates */
  GDateTime *retry_at;    /* PENDING: when the CA said to ask again */
  GDateTime *updated;
} SignetActivationRecord;

void signet_activation_record_free(SignetActivationRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetActivationRecord, signet_activation_record_free)

const char *signet_activation_stage_to_string(SignetActivationStage stage);

/* g_get_user_state_dir()/signet/activations */
char *signet_activation_dir(void);

/* The record of @serial and @profile in @dir: NULL without an error when
 * there is none; an error for a file that cannot be read or makes no
 * sense (it is then left in place for a person to look at). */
SignetActivationRecord *signet_activation_record_load(const char *dir, const char *serial,
                                                      const char *profile, GError **error);

/* Every record of the token @serial (for its status), sorted by profile;
 * unreadable files are skipped with a warning. */
GPtrArray *signet_activation_records_for_token(const char *dir, const char *serial);

/* Writes @record durably (creating @dir 0700), replacing the previous one. */
gboolean signet_activation_record_save(const char *dir, SignetActivationRecord *record,
                                       GError **error);

/* Removes the record of @serial and @profile (no error if none). */
gboolean signet_activation_record_remove(const char *dir, const char *serial, const char *profile,
                                         GError **error);

G_END_DECLS
