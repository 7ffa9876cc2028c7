/* signet-state.h: the agent's state database, SQLite in
 * $XDG_STATE_HOME/signet/signet.db (docs/internals/state.md).
 *
 * Owns: the schema (versioned with PRAGMA user_version, migrated forward on
 * open, one transaction per migration), tokens seen, certificates tracked,
 * the roots each certificate's chain may end at, the operations journal
 * (activation and renewal), reminders sent (and those
 * due but not shown yet), and the audit log. Never holds a secret (PIN, PUK,
 * activation code): no column can.
 * May call: SQLite, GLib. Never: PKCS#11, enroll/, D-Bus.
 *
 * Durability: journal_mode=WAL, synchronous=FULL: a call that returned TRUE
 * survives a crash or a power cut. One writer: only signetd opens the
 * database for writing (it owns the bus name, so there is one agent per
 * user); inside it one connection, serialised by a mutex, so every function
 * may be called from any thread. Another process may read it (sqlite3).
 *
 * Times are Unix seconds (UTC). Key IDs (CKA_ID) and certificate serials are
 * lower-case hex strings, as the rest of the agent shows them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SIGNET_STATE_SCHEMA_VERSION 7

typedef struct _SignetState SignetState;

/* @path: the database file, or NULL for $XDG_STATE_HOME/signet/signet.db
 * (the directory is made 0700, the file 0600). Creates or migrates the
 * schema. A file with a newer schema than this program knows is refused
 * with a message saying so (never downgraded). */
SignetState *signet_state_open(const char *path, GError **error);
void signet_state_free(SignetState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetState, signet_state_free)
const char *signet_state_get_path(SignetState *state);
/* Test builds' fault (SIGNET_FAULT=STEP:disk-full, signet-testhooks.h),
 * process-wide: while TRUE every statement that writes fails as on a full
 * disk (G_IO_ERROR_NO_SPACE, "database or disk is full"); reads work.
 * Nothing else sets it. */
void signet_state_set_disk_full(gboolean full);
int signet_state_get_schema_version(SignetState *state);
/* The connection's settings as SQLite reports them (for diagnostics and
 * tests): journal mode ("wal"), synchronous (2 = FULL), foreign keys, busy
 * timeout in milliseconds. Any out_ may be NULL; *out_journal_mode is freed
 * by the caller. */
gboolean signet_state_get_settings(SignetState *state, char **out_journal_mode,
                                   int *out_synchronous, gboolean *out_foreign_keys,
                                   int *out_busy_timeout_ms, GError **error);

/* ---- tokens seen ---------------------------------------------------------- */
gboolean signet_state_token_seen(SignetState *state, const char *serial, const char *label,
                                 const char *model, gint64 now, GError **error);

/* ---- certificates tracked -------------------------------------------------- */
typedef struct
{
  char *token_serial;
  char *key_id;  /* hex CKA_ID */
  char *serial;  /* hex certificate serial */
  char *issuer;  /* RFC 4514 */
  char *subject; /* RFC 4514 */
  char *profile; /* the CA profile that issued or renews it, or NULL */
  gint64 not_before, not_after;
  gint64 first_seen, last_seen;
  gboolean present; /* on the token at the last look */
  /* The legacy algorithms the CA forced when it issued it ("DES, SHA-1":
   * SCEP), or NULL: none, or not known. */
  char *legacy_algorithms;
} SignetStateCert;

void signet_state_cert_free(SignetStateCert *cert);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetStateCert, signet_state_cert_free)

/* Adds or updates (token_serial, issuer, serial); a NULL profile or
 * legacy_algorithms keeps the one recorded. */
gboolean signet_state_cert_track(SignetState *state, const SignetStateCert *cert, gint64 now,
                                 GError **error);
/* Marks every tracked certificate of @token_serial not in @present (serials,
 * NULL-terminated, "ISSUER\nSERIAL" pairs as made by
 * signet_state_cert_key()) as no longer present. */
gboolean signet_state_certs_sync(SignetState *state, const char *token_serial,
                                 const char *const *present, GError **error);
char *signet_state_cert_key(const char *issuer, const char *serial);
/* Certificates of @token_serial (NULL: all), present ones first, newest
 * not_after first; SignetStateCert elements. */
GPtrArray *signet_state_certs_list(SignetState *state, const char *token_serial,
                                   gboolean present_only, GError **error);
/* The profile recorded for a certificate, or NULL (no error) if none. */
char *signet_state_cert_profile(SignetState *state, const char *token_serial, const char *issuer,
                                const char *serial, GError **error);
/* The legacy algorithms recorded for a certificate ("DES, SHA-1"), or NULL
 * (no error) if none. */
char *signet_state_cert_legacy_algorithms(SignetState *state, const char *token_serial,
                                          const char *issuer, const char *serial, GError **error);

/* ---- the roots of a certificate --------------------------------------------- */
/* The root certificates the holder trusted for a certificate when it was
 * issued or imported (docs/internals/trust.md): its renewal must chain to
 * one of them (or to the profile's ca-roots). Public data only. */
typedef struct
{
  char *sha256; /* SHA-256 of the root's DER, "AB:CD:…" */
  char *pem;    /* the root certificate */
  char *source; /* where it came from, for a person: "ca-roots", "cacerts", … */
  gint64 recorded;
} SignetStateRoot;

void signet_state_root_free(SignetStateRoot *root);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetStateRoot, signet_state_root_free)

/* Records @roots (SignetStateRoot; sha256 and pem set) for the certificate
 * (token_serial, issuer, serial), in one transaction; a root recorded
 * already keeps its first source and time. */
gboolean signet_state_roots_add(SignetState *state, const char *token_serial, const char *issuer,
                                const char *serial, GPtrArray *roots, gint64 now, GError **error);
/* The roots recorded for that certificate, oldest first (empty: none). */
GPtrArray *signet_state_roots_list(SignetState *state, const char *token_serial, const char *issuer,
                                   const char *serial, GError **error);

/* ---- the operations journal ------------------------------------------------- */
typedef enum
{
  SIGNET_OP_ACTIVATE,
  SIGNET_OP_RENEW,
} SignetOpKind;

typedef enum
{
  SIGNET_OP_RUNNING,     /* a step is running or was cut short: resume or roll back */
  SIGNET_OP_PENDING,     /* the CA will issue later: request_pem and retry_at kept */
  SIGNET_OP_ISSUED,      /* the CA issued: certificates_pem kept, not finished on the token */
  SIGNET_OP_FINISHED,    /* done */
  SIGNET_OP_ROLLED_BACK, /* undone: the token is as before */
  SIGNET_OP_FAILED,      /* stopped for good (message says why); nothing left to undo */
} SignetOpState;

const char *signet_op_kind_to_string(SignetOpKind kind);
const char *signet_op_state_to_string(SignetOpState state);
/* Open: RUNNING, PENDING or ISSUED. */
gboolean signet_op_state_is_open(SignetOpState state);

typedef struct
{
  gint64 id; /* 0 until signet_state_op_begin() */
  SignetOpKind kind;
  char *token_serial;
  char *token_label;
  char *profile;
  /* Renewal: the credential being renewed. */
  char *old_key_id;      /* hex CKA_ID, NULL for an activation */
  char *old_cert_serial; /* hex */
  char *old_cert_issuer; /* RFC 4514 */
  /* The key the operation made (or, keep-key renewal, reuses). Written to
   * the journal BEFORE the key is generated, so a crash in between leaves
   * no key the journal does not know. */
  char *new_key_id;
  gboolean keep_key; /* renewal keeps the current key: new_key_id == old_key_id */
  gboolean key_made; /* the key new_key_id exists (generation returned) */
  char *step;        /* the step that runs now, or ran last */
  SignetOpState state;
  char *request_pem;      /* the CSR sent (PENDING: to send again) */
  char *certificates_pem; /* ISSUED: the leaf first, then its CA chain */
  gboolean cert_stored;   /* the new certificate is on the token */
  gint64 retry_at;        /* PENDING: when the CA said to come back; 0 none */
  gint64 started, updated;
  char *message; /* the outcome in words (never a secret) */
  /* Activation: what the request was sent with, for what the holder tells
   * the CA if its answer is lost. */
  char *reference;    /* the reference number (not a secret; the code is) */
  gint64 sent_at;     /* when the request first went to the CA; 0: not yet */
  char *answer_lost;  /* why the answer did not arrive, when the agent saw it */
  GBytes *poll_state; /* PENDING: what the CA's protocol sends again (never a secret) */
  /* ISSUED: the legacy algorithms the CA forced ("DES, SHA-1"), recorded
   * with the certificate once it is stored; NULL: none. */
  char *legacy_algorithms;
  /* Compare-and-set: the revision this copy was read or last written at.
   * Every write succeeds only if the entry is still at it, and moves it on
   * by one: two tasks holding the same entry cannot write over each other. */
  gint64 revision;
} SignetOperation;

void signet_operation_free(SignetOperation *op);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetOperation, signet_operation_free)
SignetOperation *signet_operation_copy(const SignetOperation *op);

/* Inserts @op (state RUNNING unless set, started/updated = @now) and sets
 * op->id. Fails with G_IO_ERROR_EXISTS if an open operation of the same kind
 * exists for the same token and profile. */
gboolean signet_state_op_begin(SignetState *state, SignetOperation *op, gint64 now, GError **error);
/* Writes every field of @op (by op->id), updated = @now. Durable on return.
 * Compare-and-set: only if the entry is still open and at op->revision
 * (then op->revision moves on); otherwise nothing is written and the error
 * is G_IO_ERROR_WRONG_ETAG (signet_state_error_is_conflict()): another
 * task changed the entry since @op was read. Its caller must stop without
 * touching the token: the entry belongs to the task that changed it. */
gboolean signet_state_op_save(SignetState *state, SignetOperation *op, gint64 now, GError **error);
/* op->step = @step, then signet_state_op_save(): call BEFORE the step runs. */
gboolean signet_state_op_step(SignetState *state, SignetOperation *op, const char *step, gint64 now,
                              GError **error);
/* op->state = @final (FINISHED, ROLLED_BACK or FAILED), message, saved; and
 * one audit entry for the operation. Compare-and-set as
 * signet_state_op_save(). */
gboolean signet_state_op_close(SignetState *state, SignetOperation *op, SignetOpState final,
                               const char *message, gint64 now, GError **error);
/* TRUE if @error says another task changed the entry first. */
gboolean signet_state_error_is_conflict(const GError *error);
SignetOperation *signet_state_op_get(SignetState *state, gint64 id, GError **error);
/* The open operation of @kind for @token_serial (and @profile unless NULL),
 * or NULL with no error when there is none. */
SignetOperation *signet_state_op_find_open(SignetState *state, SignetOpKind kind,
                                           const char *token_serial, const char *profile,
                                           GError **error);
/* Open operations, oldest first, of @token_serial (NULL: every token). */
GPtrArray *signet_state_op_list_open(SignetState *state, const char *token_serial, GError **error);
/* The earliest retry_at among PENDING renewals (the ones the agent asks
 * the CA about by itself; a pending activation needs its code again), 0 if
 * none. */
gint64 signet_state_op_next_retry(SignetState *state, GError **error);

/* ---- reminders sent ------------------------------------------------------- */
/* TRUE in @out_sent (and the time in @out_when, may be NULL) if the reminder
 * for @threshold days was sent for this certificate. */
gboolean signet_state_reminder_get(SignetState *state, const char *token_serial, const char *issuer,
                                   const char *serial, guint threshold, gboolean *out_sent,
                                   gint64 *out_when, GError **error);
/* Records the reminder for @threshold as sent at @now (the first time stays)
 * and forgets that it could not be shown, in one transaction. */
gboolean signet_state_reminder_mark(SignetState *state, const char *token_serial,
                                    const char *issuer, const char *serial, guint threshold,
                                    gint64 now, GError **error);

/* A reminder due but not shown (e.g. no notification service on the bus):
 * the first try, the last, how many, and why (for a person, no secret). */
typedef struct
{
  guint threshold;
  gint64 first_try;
  gint64 last_try;
  guint tries;
  char *reason;
} SignetStateReminderNotShown;

void signet_state_reminder_not_shown_free(SignetStateReminderNotShown *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetStateReminderNotShown, signet_state_reminder_not_shown_free)

/* Records that the reminder for @threshold could not be shown at @now, for
 * @reason; again: last_try and reason change, tries counts. Nothing for a
 * reminder already sent. */
gboolean signet_state_reminder_not_shown(SignetState *state, const char *token_serial,
                                         const char *issuer, const char *serial, guint threshold,
                                         const char *reason, gint64 now, GError **error);
/* The reminders of this certificate not shown yet, largest threshold first
 * (SignetStateReminderNotShown; empty when none). */
GPtrArray *signet_state_reminder_list_not_shown(SignetState *state, const char *token_serial,
                                                const char *issuer, const char *serial,
                                                GError **error);

/* ---- the audit log ---------------------------------------------------------- */
typedef struct
{
  gint64 id;
  gint64 time;
  char *token_serial; /* may be NULL (an operation on no token) */
  char *token_label;
  char *operation; /* "activate", "renew", "import", "change-pin", ... */
  char *outcome;   /* "ok", "failed", "pending", "rolled-back", "refused" */
  char *detail;    /* one line for a person, never a secret */
} SignetAuditEntry;

void signet_audit_entry_free(SignetAuditEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetAuditEntry, signet_audit_entry_free)

gboolean signet_state_audit(SignetState *state, const char *token_serial, const char *token_label,
                            const char *operation, const char *outcome, const char *detail,
                            gint64 now, GError **error);
/* Which audit entries: every condition set must hold. */
typedef struct
{
  const char *token;  /* a serial or a label (either matches), NULL: any */
  const char *serial; /* exactly this serial (a PKCS#11 URI's), NULL: any */
  const char *label;  /* exactly this label (a PKCS#11 URI's), NULL: any */
  gint64 before;      /* only entries older than this (Unix seconds), 0: any */
  guint limit;        /* at most this many, the newest, 0: all */
} SignetAuditQuery;

/* The entries @query (NULL: all) names, newest first, filtered and limited
 * by SQLite (indexes on token serial, label and time). */
GPtrArray *signet_state_audit_list(SignetState *state, const SignetAuditQuery *query,
                                   GError **error);

G_END_DECLS
