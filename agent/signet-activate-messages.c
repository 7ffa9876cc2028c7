/* signet-activate-messages.c: what the holder is told when an
 * activation's answer was lost or refused, and what to tell the CA
 * (signet-activate-private.h). */
#include "config.h"

#include "agent/signet-activate-private.h"

/* "2026-12-04 10:00:00 UTC" for Unix seconds (0: not known) */
char *
signet_activate_format_utc(gint64 unix_time)
{
  g_autoptr(GDateTime) t = unix_time != 0 ? g_date_time_new_from_unix_utc(unix_time) : NULL;

  return t != NULL ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("an unknown time");
}

/* The request of an earlier attempt went to the CA and no answer came back
 * while the agent ran (it stopped): that attempt goes into the history
 * now, at the time it was sent. */
void
signet_activate_audit_interrupted(Run *run)
{
  const SignetOperation *r = run->op;
  g_autofree char *when = signet_activate_format_utc(r->sent_at);
  g_autofree char *fingerprint = signet_csr_fingerprint(r->request_pem, NULL);
  g_autofree char *detail = NULL;
  g_autoptr(GError) local = NULL;

  if (run->a->state == NULL || r->answer_lost != NULL)
    return;
  detail = g_strdup_printf("interrupted: the request (SHA-256 %s) was sent to the CA on %s with "
                           "reference %s and the agent stopped before the answer arrived",
                           fingerprint != NULL ? fingerprint : "unknown", when,
                           r->reference != NULL ? r->reference : "(not recorded)");
  if (!signet_state_audit(run->a->state, run->serial, run->name, "activate", "interrupted", detail,
                          r->sent_at != 0 ? r->sent_at : signet_clock_now(), &local))
    g_warning("activate: could not write the audit log: %s", local->message);
}

/* An error of the enroll step after which the CA may have issued the
 * certificate (and spent the code): the request reached it, the answer did
 * not come back whole. A refusal, or no connection at all, is not one. */
gboolean
signet_activate_answer_may_be_lost(const GError *error)
{
  return error != NULL && error->domain == SIGNET_ENROLL_ERROR
         && (error->code == SIGNET_ENROLL_ERROR_TIMEOUT
             || error->code == SIGNET_ENROLL_ERROR_BAD_RESPONSE
             || error->code == SIGNET_ENROLL_ERROR_FAILED);
}

gboolean
signet_activate_is_refusal(const GError *error)
{
  return error != NULL && error->domain == SIGNET_ENROLL_ERROR
         && (error->code == SIGNET_ENROLL_ERROR_CODE_REJECTED
             || error->code == SIGNET_ENROLL_ERROR_CODE_EXPIRED
             || error->code == SIGNET_ENROLL_ERROR_REFUSED);
}

/* A profile's prompt ("Reference number") inside a sentence. */
char *
signet_activate_in_sentence(const char *prompt)
{
  char *word = g_strdup(prompt);

  if (g_ascii_isupper(word[0]) && !g_ascii_isupper(word[1]))
    word[0] = g_ascii_tolower(word[0]);
  return word;
}

/* @message without its final full stop, to go on in another sentence. */
char *
signet_activate_without_stop(const char *message)
{
  gsize len = strlen(message);

  return g_strndup(message, len > 0 && message[len - 1] == '.' ? len - 1 : len);
}

/* @error gets @message (taken), keeping its domain and code. */
void
signet_activate_reword(GError **error, char *message)
{
  g_free((*error)->message);
  (*error)->message = message;
}

/* What the holder tells the CA about a request whose answer was lost: the
 * request of the earlier attempt (run->lost) with the reference it was
 * sent with, else the entry's. */
char *
signet_activate_what_to_tell(Run *run)
{
  gboolean lost = run->lost.fingerprint != NULL;
  g_autofree char *when = signet_activate_format_utc(lost ? run->lost.sent_at : run->op->sent_at);
  g_autofree char *fingerprint
      = lost ? g_strdup(run->lost.fingerprint) : signet_csr_fingerprint(run->op->request_pem, NULL);
  const char *reference = lost ? run->lost.reference : run->op->reference;
  g_autofree char *word = signet_shell_word(run->serial);
  g_autofree char *ref_words = signet_activate_in_sentence(run->a->profile->reference_prompt);
  g_autofree char *code_words = signet_activate_in_sentence(run->a->profile->code_prompt);

  if (reference == NULL || *reference == '\0')
    reference = run->a->reference;
  /* A request that carries the code is never sent with another: a new
   * code makes a new request for the same key. */
  return g_strdup_printf(
      "Tell your CA: %s %s, request sent on %s, request fingerprint SHA-256 %s. If it gives you "
      "the certificate, import it: signet import %s FILE. If it gives you a new %s, run the "
      "activation again with it: %s",
      ref_words, reference != NULL && *reference != '\0' ? reference : "(not recorded)", when,
      fingerprint != NULL ? fingerprint : "unknown", word, code_words,
      lost && run->lost.has_code ? "a new request for the same key is made with it"
                                 : "the same request (the same key) is sent");
}
