/* signet-agent-private.h: what the files of the agent object share
 * (signet-agent.c, signet-agent-dbus.c, signet-agent-ops.c,
 * signet-agent-import.c, signet-agent-background.c): the object's fields,
 * the operation (Op) every method becomes, and the functions one file
 * gives the others. Not for use outside agent/.
 */
#pragma once

#include <gio/gio.h>
#include <p11-kit/uri.h>

#include "agent/signet-agent.h"
#include "agent/signet-state.h"
#include "common/signet-secret.h"
#include "enroll/signet-profile.h"
#include "libsignet/signet-dbus-generated.h"
#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

/* Local names for OpenSSL types so that g_autoptr works without clashing
 * with a cleanup function another header may define for the real names. */
typedef P11KitUri AgentP11Uri;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AgentP11Uri, p11_kit_uri_free)

struct _SignetAgent
{
  GObject parent_instance;

  SignetP11Context *ctx; /* NULL when the modules could not be loaded */
  GError *ctx_error;
  SignetAgent1 *skeleton;
  SignetState *state; /* the journal; NULL if it could not be opened */
  GError *state_error;
  guint poll_id;         /* the one timer for pending renewals */
  gint64 poll_at;        /* when it fires (Unix seconds), 0 if not armed */
  gboolean polling;      /* a poll runs in a worker */
  GArray *reminder_days; /* guint, largest first */
  GHashTable *busy;      /* token key → what runs on it; main thread only */
  GHashTable *backoff;   /* token key + "pin"/"puk" → PinBackoff; main thread only */
  guint n_running;
};

typedef enum
{
  OP_LIST_TOKENS,
  OP_GET_STATUS,
  OP_GENERATE_KEY,
  OP_CREATE_REQUEST,
  OP_IMPORT_CERTIFICATE,
  OP_DELETE_KEY,
  OP_CHANGE_PIN,
  OP_UNBLOCK_PIN,
  OP_ACTIVATE,
  OP_RENEW,
  OP_EXPORT_CERTIFICATE,
  OP_GET_TOKEN,
} OpKind;

typedef struct
{
  OpKind kind;
  const char *what; /* for the Busy message: "generating a key" */
  gboolean exclusive;
  SignetAgent *agent;
  GDBusMethodInvocation *invocation;

  char *token_spec;
  SignetP11Token *token; /* resolved */
  char *busy_key;        /* set while this operation holds the token */

  /* arguments, as they apply */
  SignetP11KeyType key_type;
  char *subject;
  char *label;
  GBytes *key_id;
  GBytes *data;
  gboolean confirm_final_try;
  gboolean allow_expired; /* ImportCertificate: store an expired certificate anyway */
  gboolean replace;       /* ImportCertificate: the key's other certificates go */
  GBytes *anchor;         /* ImportCertificate: root certificates the holder trusts */
  gboolean chain;         /* ExportCertificate: with the CA chain (default) */
  SignetSecret *pin;      /* PIN, or the old PIN for ChangePin */
  SignetSecret *puk;
  SignetSecret *new_pin;
  /* Activate */
  SignetProfileSet *profiles;
  const SignetProfile *profile; /* in @profiles */
  char *reference;
  SignetSecret *code;
  char *request_id;
  /* Renew */
  char *cert_id;
  char *profile_name;
  gboolean journal_closed; /* the journal wrote the audit entry */
  gint64 backoff_until;    /* agent clock: wait until then (the last PIN was wrong) */
  gint64 backoff_s;        /* how long that was when the token was claimed */
  /* After a certificate was stored: what the token holds, read through the
   * operation's own session before it closed (the reminders check's input;
   * signet_op_note_contents). */
  GPtrArray *token_certs; /* SignetP11Certificate */
  GPtrArray *token_keys;  /* SignetP11KeyPair */
} Op;

/* signet-agent.c: the operation's life. */
void signet_op_free(Op *op);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Op, signet_op_free)
Op *signet_op_new(SignetAgent *agent, GDBusMethodInvocation *invocation, OpKind kind,
                  const char *what, gboolean exclusive, const char *token_spec);
/* Starts @op, or answers the error why it cannot start (and frees @op). */
void signet_op_submit(Op *op, GError *error);

/* signet-agent-ops.c: the work of each kind (in a worker). */
GVariant *signet_op_run(Op *op, GError **error);
SignetP11Session *signet_op_open_session(Op *op, GError **error);
gboolean signet_op_login(Op *op, SignetP11Session *session, GError **error);
/* Keeps what @session sees on the token now (its certificates and key
 * pairs) in @op, for the reminders check after the operation: read through
 * the session that wrote them, most of it is known already. */
void signet_op_note_contents(Op *op, SignetP11Session *session);

/* signet-agent-import.c: ImportCertificate (in a worker). */
GVariant *signet_op_run_import(Op *op, GError **error);

/* signet-agent-dbus.c: the method handlers. */
void signet_agent_dbus_connect(SignetAgent *agent);

/* signet-agent-background.c: the journal's poll. */
void signet_agent_schedule_poll(SignetAgent *agent);

G_END_DECLS
