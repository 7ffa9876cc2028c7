/* signet-client.h: what every client of signetd needs beyond the generated
 * proxy (libsignet/signet-dbus-generated.h): one implementation for the
 * command line (cli/) and the window (ui-gtk/).
 *
 * Owns: which secret an operation asks for; the rule before a PIN or PUK is
 * sent (locked: nothing to send; final try: the holder confirms first; PIN
 * pad: the reader asks); the words for a secret's state and for a
 * certificate's end of validity; an agent error's kind (io.signet.Error.*
 * name → SignetClientErrorKind) and the next step for it.
 * May call: common/, GLib/GIO.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The secret an operation sends to the token. */
typedef enum
{
  SIGNET_CLIENT_SECRET_PIN,
  SIGNET_CLIENT_SECRET_PUK,
} SignetClientSecret;

/* The agent's operations that send a secret, as the window and the CLI name
 * them. */
typedef enum
{
  SIGNET_CLIENT_OP_GENERATE_KEY,
  SIGNET_CLIENT_OP_CREATE_REQUEST,
  SIGNET_CLIENT_OP_IMPORT,
  SIGNET_CLIENT_OP_DELETE_KEY,
  SIGNET_CLIENT_OP_ACTIVATE,
  SIGNET_CLIENT_OP_RENEW,
  SIGNET_CLIENT_OP_CHANGE_PIN,
  SIGNET_CLIENT_OP_UNBLOCK_PIN,
} SignetClientOp;

/* The secret @op proves the holder with (the PUK for unblock, else the
 * PIN), and whether it also sets a new PIN (change, unblock). */
SignetClientSecret signet_client_op_secret(SignetClientOp op);
gboolean signet_client_op_sets_new_pin(SignetClientOp op);

/* What to do before asking for @which on the token whose GetTokenStatus
 * answer is @status. */
typedef enum
{
  SIGNET_CLIENT_ASK,           /* ask for it and send it */
  SIGNET_CLIENT_ASK_FINAL_TRY, /* one try left: the holder confirms first, or nothing is sent */
  SIGNET_CLIENT_ASK_PIN_PAD,   /* the reader's PIN pad asks: send an empty secret */
  SIGNET_CLIENT_REFUSE,        /* nothing can be sent: @error says why and what to do */
} SignetClientAsk;

/* The final-try rule, and the states in which nothing may be sent: a
 * locked PIN (unblock it with the PUK), a locked PUK (ask the issuer for a
 * new token), an unblock method the agent does not know (it would guess
 * and could spend a PUK try). @error is set for SIGNET_CLIENT_REFUSE only,
 * in SIGNET_CLIENT_ERROR; @label names the token in its message. */
SignetClientAsk signet_client_before_secret(GVariant *status, SignetClientOp op, const char *label,
                                            GError **error);

/* The boolean @key of an a{sv} @dict; FALSE when absent, not a boolean or
 * @dict is NULL. */
gboolean signet_client_dict_bool(GVariant *dict, const char *key);

/* A boolean @flag of the "pin" or "puk" dictionary (@which) of a status or
 * ListTokens entry; FALSE when absent. */
gboolean signet_client_state_flag(GVariant *status, const char *which, const char *flag);

/* "locked", "one try left: a wrong PIN locks it", "fewer tries left than
 * the maximum", "no warning from the token", "unknown" (no dictionary),
 * with ", must be changed" and ", entered on the reader's PIN pad" for a
 * PIN: a "pin" or "puk" dictionary in words. */
char *signet_client_describe_secret_state(GVariant *state, gboolean is_puk);

/* A certificate's end of validity as every face writes it: its "not_after"
 * as the agent sends it (ISO 8601, UTC) and, when @dict has "days_left",
 * "(365 days left)", "(1 day left)" or "(expired 3 days ago)". */
char *signet_client_format_not_after(GVariant *dict);

/* ImportCertificate's word on the chain, one sentence: "The chain was NOT
 * verified: WHY." (chain_error, the agent's English), or "The chain
 * verifies to ROOT, a root the system trusts." / "..., a root from
 * @anchor_source." (chain_anchor "anchor": the caller's words for the
 * anchor file, "the --anchor file"). */
char *signet_client_describe_import_chain(GVariant *result, const char *anchor_source);

/* "2026-11-21 15:20" in local time, from Unix seconds (x) or an ISO 8601
 * string (s); "" for 0, NULL or an unreadable time. */
char *signet_client_format_time(GVariant *value);
/* The same from Unix seconds; "" for 0. */
char *signet_client_format_unix_time(gint64 t);

/* The certificates of an ExportCertificate answer (aay, DER each) as PEM,
 * one after another in the order given; NULL if one is empty. */
char *signet_client_certificates_to_pem(GVariant *certificates);

/* The largest certificate file a holder may give (ImportCertificate's own
 * limit: PEM, DER or PKCS#7 of a chain). */
#define SIGNET_CLIENT_CERTFILE_MAX (1024 * 1024)

/* A certificate file the holder chose, read whole, but never more than
 * one byte past SIGNET_CLIENT_CERTFILE_MAX: a device (/dev/zero), a pipe
 * that does not end or a 2 GB file is refused without being read into
 * memory. G_IO_ERROR_MESSAGE_TOO_LARGE when longer, G_IO_ERROR_INVALID_DATA
 * when empty (both say in words what a certificate file is), else GIO's
 * error reading it. Blocking: the window calls it in a thread
 * (signet_client_read_certfile_async). */
GBytes *signet_client_read_certfile(GFile *file, GCancellable *cancellable, GError **error);
void signet_client_read_certfile_async(GFile *file, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
GBytes *signet_client_read_certfile_finish(GAsyncResult *result, GError **error);

/* --- errors ---------------------------------------------------------------- */

#define SIGNET_CLIENT_ERROR (signet_client_error_quark())
GQuark signet_client_error_quark(void);

/* The kinds of failure a client tells apart: each io.signet.Error.* name
 * maps to one; the client's own refusals use the same codes in
 * SIGNET_CLIENT_ERROR. */
typedef enum
{
  SIGNET_CLIENT_ERROR_FAILED,         /* Failed, and any name not below */
  SIGNET_CLIENT_ERROR_INVALID_ARGS,   /* InvalidArgs, BadUri */
  SIGNET_CLIENT_ERROR_BAD_INPUT,      /* BadInput: a file or value that is not what it must be */
  SIGNET_CLIENT_ERROR_PIN_INCORRECT,  /* PinIncorrect */
  SIGNET_CLIENT_ERROR_PUK_INCORRECT,  /* PukIncorrect */
  SIGNET_CLIENT_ERROR_PIN_LOCKED,     /* PinLocked */
  SIGNET_CLIENT_ERROR_PUK_LOCKED,     /* PukLocked */
  SIGNET_CLIENT_ERROR_FINAL_TRY,      /* FinalTry: not confirmed, nothing sent */
  SIGNET_CLIENT_ERROR_NO_TOKEN,       /* NoSuchToken, TokenRemoved */
  SIGNET_CLIENT_ERROR_BUSY,           /* Busy */
  SIGNET_CLIENT_ERROR_PENDING,        /* Pending: the CA issues later */
  SIGNET_CLIENT_ERROR_CA_UNAVAILABLE, /* CaNotFound, CaUnreachable, CaTimeout, CaUnavailable */
  SIGNET_CLIENT_ERROR_EXPIRED,        /* CertificateExpired */
  SIGNET_CLIENT_ERROR_NOT_AUTHORIZED, /* NotAuthorized */
  SIGNET_CLIENT_ERROR_NOT_SUPPORTED,  /* NotSupported */
  /* CertificateExists: the key has another certificate; import again replacing it */
  SIGNET_CLIENT_ERROR_CERTIFICATE_EXISTS,
} SignetClientErrorKind;

/* The kind of @name (an io.signet.Error.* name; FAILED for NULL or another). */
SignetClientErrorKind signet_client_error_kind_for_name(const char *name);
/* The io.signet.Error.* name of @kind ("io.signet.Error.Failed" for FAILED). */
const char *signet_client_error_name(SignetClientErrorKind kind);
/* The kind of @error: a SIGNET_CLIENT_ERROR's code, a remote D-Bus error's
 * name, FAILED for anything else. */
SignetClientErrorKind signet_client_error_kind(const GError *error);
/* The next step for @kind in a few words, for a face to show beside the
 * agent's message ("Check the PIN and try again."); NULL where the message
 * says all there is. */
const char *signet_client_error_next_step(SignetClientErrorKind kind);

G_END_DECLS
