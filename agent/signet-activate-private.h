/* signet-activate-private.h: what the files of the activation engine
 * share (signet-activate.c: the run, its journal entry and the steps up to
 * the CA's answer; signet-activate-finish.c: the steps after the CA
 * issued, and a kept certificate finished; signet-activate-messages.c:
 * what the holder is told when an answer is lost or refused). Not for use
 * outside them.
 *
 * Owns: the Run of one signet_activation_run() call.
 * May call: what signet-activate.c may.
 */
#pragma once

#include "agent/signet-activate.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "agent/signet-errors.h"
#include "agent/signet-state.h"
#include "agent/signet-clock.h"
#include "agent/signet-install.h"
#include "agent/signet-testhooks.h"
#include "agent/signet-token-dict.h"
#include "agent/signet-trust.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-x509.h"

G_BEGIN_DECLS

typedef struct
{
  const SignetActivation *a;
  /* Copies: the session re-reads its token (after a login, a write), and
   * the token it returns then is a new one. */
  const char *serial;
  const char *name; /* the token's label, else its serial */
  /* The journal entry (kind activate): an earlier unfinished activation of
   * this token and profile, or the one this call began; NULL before. Its
   * stage (signet_activation_stage()) says how far it got. */
  SignetOperation *op;
  gboolean resumed;   /* op was open before this call */
  GBytes *new_id;     /* the key of op */
  gboolean keep_key;  /* the CA may have (or has) a certificate for it: never delete it */
  gboolean conflict;  /* another task changed op: touch nothing more */
  SignetTrust *trust; /* the roots the issued chain must end at */
  /* The request an earlier attempt sent and whose answer did not arrive
   * (stage sent), as the journal had it before this call: what the holder
   * tells the CA about it. */
  struct
  {
    char *fingerprint; /* SHA-256 of its DER; NULL before it is known */
    gint64 sent_at;
    char *reference;   /* the reference it was sent with */
    gboolean has_code; /* it carries the code (challengePassword) */
    gboolean remade;   /* this call made a new one for the new code */
  } lost;
} Run;

void signet_activate_progress(Run *run, const char *step, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

/* Writes the journal entry (compare-and-set: see signet_state_op_save()). */
gboolean signet_activate_journal(Run *run, GError **error);

/* Closes the journal entry @final with @message, one audit entry for it. */
void signet_activate_close_entry(Run *run, SignetOpState final, const char *message);

char *signet_activate_certs_to_pem(GPtrArray *certs, GError **error);

/* Sets the entry's step (journaled by the caller). */
void signet_activate_set_step(Run *run, const char *step);

/* A certificate kept from an earlier run (ISSUED): the roots recorded for
 * it when it was checked, and the profile's ca-roots; a record from before
 * roots were recorded asks the CA's /cacerts as activation does. */
gboolean signet_activate_choose_kept_roots(Run *run, X509 *leaf, GError **error);

/* Writes what the CA issued (@certs: the CA's answer; @cacerts: /cacerts
 * or NULL when the answer holds the chain) after checking it. */
GVariant *signet_activate_verify_and_store(Run *run, GPtrArray *certs, GPtrArray *cacerts,
                                           GError **error);

/* A key left by an activation that stopped before the CA answered. */
gboolean signet_activate_clean_up_generated(Run *run, GError **error);

GVariant *signet_activate_finish_kept(Run *run, GError **error);

/* "2026-12-04 10:00:00 UTC" for Unix seconds (0: not known) */
char *signet_activate_format_utc(gint64 unix_time);

/* The request of an earlier attempt went to the CA and no answer came back
 * while the agent ran (it stopped): that attempt goes into the history
 * now, at the time it was sent. */
void signet_activate_audit_interrupted(Run *run);

/* An error of the enroll step after which the CA may have issued the
 * certificate (and spent the code): the request reached it, the answer did
 * not come back whole. A refusal, or no connection at all, is not one. */
gboolean signet_activate_answer_may_be_lost(const GError *error);

gboolean signet_activate_is_refusal(const GError *error);

/* A profile's prompt ("Reference number") inside a sentence. */
char *signet_activate_in_sentence(const char *prompt);

/* @message without its final full stop, to go on in another sentence. */
char *signet_activate_without_stop(const char *message);

/* @error gets @message (taken), keeping its domain and code. */
void signet_activate_reword(GError **error, char *message);

/* What the holder tells the CA about a request whose answer was lost. */
char *signet_activate_what_to_tell(Run *run);

G_END_DECLS
