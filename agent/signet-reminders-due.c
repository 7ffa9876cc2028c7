/* signet-reminders-due.c: which reminders are due (docs/internals/reminders.md,
 * "The rule").
 *
 * Owns: the rule (signet_reminders_pick) and a check's work in its worker:
 * the tokens listed and read (certificates and key pairs, never a login),
 * each leaf certificate with its key tracked in the state database, and the
 * reminders due, handed to the delivery to be marked and shown.
 * May call: pkcs11/ (read-only), enroll/ (describing certificates), the
 * state database (signet-state.h), signet-token-dict.h, signet_clock_now(),
 * signet-reminders-delivery.c (signet_reminders_deliver), GLib/GIO.
 *
 * Threads: the check runs in its worker (signet-reminders-schedule.c
 * starts it), one check at a time; the rule is a pure function.
 */
#include "config.h"

#include "agent/signet-reminders.h"
#include "agent/signet-reminders-private.h"

#include "agent/signet-state.h"
#include "agent/signet-clock.h"
#include "agent/signet-token-dict.h"
#include "enroll/signet-x509.h"
#include "common/signet-openssl-util.h"

#define SECONDS_PER_DAY 86400

/* ---- the rule ----------------------------------------------------------- */

guint
signet_reminders_pick(const guint *days, guint n_days, const gboolean *sent, gint64 seconds_left,
                      guint *out_crossed)
{
  guint crossed = 0;

  if (out_crossed != NULL)
    *out_crossed = 0;
  if (seconds_left <= 0)
    return 0; /* expired: renewal is refused, a reminder would only mislead */
  for (guint i = 0; i < n_days; i++)
    if (seconds_left <= (gint64)days[i] * SECONDS_PER_DAY)
      crossed++;
  if (out_crossed != NULL)
    *out_crossed = crossed;
  /* Largest first: the crossed ones come first, the smallest of them last. */
  if (crossed == 0 || sent[crossed - 1])
    return 0;
  return days[crossed - 1];
}

/* ---- what a check found ------------------------------------------------- */

void
signet_reminders_reminder_free(Reminder *rem)
{
  if (rem == NULL)
    return;
  g_free(rem->token_serial);
  g_free(rem->token_label);
  g_free(rem->key_id);
  g_free(rem->subject);
  g_free(rem->issuer);
  g_free(rem->serial);
  g_free(rem);
}

void
signet_reminders_check_result_free(CheckResult *res)
{
  g_ptr_array_unref(res->due);
  g_free(res->service);
  g_free(res);
}

/* ---- the check (worker) ------------------------------------------------- */

static gboolean
has_key(GPtrArray *keys, GBytes *id)
{
  for (guint i = 0; keys != NULL && id != NULL && i < keys->len; i++) {
    const SignetP11KeyPair *k = g_ptr_array_index(keys, i);

    if (k->id != NULL && g_bytes_equal(k->id, id) && (k->has_private || k->has_public))
      return TRUE;
  }
  return FALSE;
}

static gboolean
serial_wanted(const CheckData *cd, const char *serial)
{
  return cd->serials == NULL
         || (serial != NULL && g_strv_contains((const char *const *)cd->serials, serial));
}

/* One certificate: tracked, and a reminder to send if one is due. */
static Reminder *
check_certificate(const CheckData *cd, const SignetP11Token *token, const SignetP11Certificate *c,
                  gint64 now, GPtrArray *present)
{
  SignetStateCert sc = { 0 };
  g_autofree char *key_id = signet_token_dict_id_to_hex(c->id);
  g_autofree char *serial = signet_x509_serial_to_string(c->cert);
  g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(c->cert));
  g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(c->cert));
  gboolean sent[SIGNET_REMINDERS_MAX_THRESHOLDS] = { FALSE };
  g_autoptr(GError) error = NULL;
  gint64 not_before = 0, not_after = 0;
  guint crossed = 0, threshold;
  Reminder *rem;

  if (serial == NULL || issuer == NULL || subject == NULL
      || (not_after = signet_asn1_time_to_unix(X509_get0_notAfter(c->cert))) == 0) {
    g_debug("reminders: token %s: certificate %s is not readable; skipped", token->serial, key_id);
    return NULL;
  }
  not_before = signet_asn1_time_to_unix(X509_get0_notBefore(c->cert));
  sc.token_serial = token->serial;
  sc.key_id = key_id;
  sc.serial = serial;
  sc.issuer = issuer;
  sc.subject = subject;
  sc.profile = NULL; /* keeps what activation or renewal recorded */
  sc.not_before = not_before;
  sc.not_after = not_after;
  sc.present = TRUE;
  if (!signet_state_cert_track(cd->state, &sc, now, &error)) {
    g_message("reminders: could not record certificate %s of token %s: %s", key_id, token->serial,
              error->message);
    return NULL;
  }
  g_ptr_array_add(present, signet_state_cert_key(issuer, serial));

  if (not_after <= now) {
    g_debug("reminders: token %s: certificate %s (%s) has expired; no reminder", token->serial,
            key_id, subject);
    return NULL;
  }
  for (guint i = 0; i < cd->n_days; i++)
    if (!signet_state_reminder_get(cd->state, token->serial, issuer, serial, cd->days[i], &sent[i],
                                   NULL, &error)) {
      g_message("reminders: could not read the reminders of certificate %s of token %s: %s", key_id,
                token->serial, error->message);
      return NULL;
    }
  threshold = signet_reminders_pick(cd->days, cd->n_days, sent, not_after - now, &crossed);
  g_debug("reminders: token %s: certificate %s (%s): %" G_GINT64_FORMAT
          " s left, %u threshold(s) crossed, %s",
          token->serial, key_id, subject, not_after - now, crossed,
          threshold != 0 ? "reminder due" : "nothing to send");
  if (threshold == 0)
    return NULL;
  rem = g_new0(Reminder, 1);
  rem->token_serial = g_strdup(token->serial);
  rem->token_label = g_strdup(token->label != NULL ? token->label : "");
  rem->key_id = g_steal_pointer(&key_id);
  rem->subject = g_steal_pointer(&subject);
  rem->not_after = not_after;
  rem->days_left = (not_after - now) / SECONDS_PER_DAY;
  rem->issuer = g_steal_pointer(&issuer);
  rem->serial = g_steal_pointer(&serial);
  rem->threshold = threshold;
  rem->last = threshold == cd->days[cd->n_days - 1];
  /* Every threshold crossed is marked once it is shown, so that each goes
   * out at most once and a certificate first seen late gets one reminder,
   * not several (see signet_reminders_deliver()). */
  for (guint i = 0; i < crossed; i++)
    if (!sent[i])
      rem->marks[rem->n_marks++] = cd->days[i];
  return rem;
}

/* What @token holds (@certs, @keys): each leaf certificate tracked, and the
 * reminders due added to @out. */
static void
check_contents(const CheckData *cd, const SignetP11Token *token, GPtrArray *certs, GPtrArray *keys,
               gint64 now, GPtrArray *out)
{
  g_autoptr(GPtrArray) present = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;

  if (!signet_state_token_seen(cd->state, token->serial, token->label, token->model, now, &error)) {
    g_message("reminders: could not record token %s: %s", token->serial, error->message);
    return;
  }
  for (guint i = 0; i < certs->len; i++) {
    const SignetP11Certificate *c = g_ptr_array_index(certs, i);
    Reminder *rem;

    /* Leaf certificates with their key: the ones a holder renews. */
    if (c->cert == NULL || c->authority || signet_x509_is_ca(c->cert) || !has_key(keys, c->id))
      continue;
    rem = check_certificate(cd, token, c, now, present);
    if (rem != NULL)
      g_ptr_array_add(out, rem);
  }
  g_ptr_array_add(present, NULL);
  if (!signet_state_certs_sync(cd->state, token->serial, (const char *const *)present->pdata,
                               &error))
    g_message("reminders: could not update the certificates of token %s: %s", token->serial,
              error->message);
}

static void
check_token(const CheckData *cd, const SignetP11Token *token, gint64 now, GPtrArray *out)
{
  g_autoptr(SignetP11Session) session = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GError) error = NULL;

  /* Never logs in: certificates and public keys are public objects. */
  session = signet_p11_session_open(cd->ctx, token, &error);
  if (session != NULL)
    certs = signet_p11_session_list_certificates(session, &error);
  if (certs != NULL)
    keys = signet_p11_session_list_key_pairs(session, &error);
  if (keys == NULL) {
    g_message("reminders: could not read token %s: %s", token->serial, error->message);
    return;
  }
  check_contents(cd, token, certs, keys, now, out);
}

void
signet_reminders_check_thread(GTask *task, gpointer source, gpointer task_data,
                              GCancellable *cancellable)
{
  CheckData *cd = task_data;
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(CheckResult) res = g_new0(CheckResult, 1);
  g_autoptr(GError) error = NULL;
  gint64 now = signet_clock_now();

  res->due = g_ptr_array_new_with_free_func((GDestroyNotify)signet_reminders_reminder_free);
  if (cd->token != NULL) {
    /* A token just written, as the operation read it (with its login: it
     * saw the private keys too). */
    check_contents(cd, cd->token, cd->certs, cd->keys, now, res->due);
    tokens = g_ptr_array_new();
  } else if (cd->serials != NULL) {
    /* Some tokens (one just written, one just plugged in): each found by
     * its serial, which reads that token only (signet_p11_context_find_token
     * remembers its slot), not every token present. One gone meanwhile is
     * checked when it comes back. */
    tokens = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_token_free);
    for (guint i = 0; cd->serials[i] != NULL; i++) {
      g_autoptr(GError) local = NULL;
      SignetP11Token *t = signet_p11_context_find_token(cd->ctx, cd->serials[i], &local);

      if (t != NULL && g_strcmp0(t->serial, cd->serials[i]) == 0)
        g_ptr_array_add(tokens, t);
      else {
        if (t != NULL)
          signet_p11_token_free(t);
        g_debug("reminders: token %s not checked: %s", cd->serials[i],
                local != NULL ? local->message : "another token has that label");
      }
    }
  } else
    tokens = signet_p11_context_list_tokens(cd->ctx, &error);
  if (tokens == NULL) {
    g_message("reminders: could not list the tokens: %s", error->message);
    g_task_return_pointer(task, g_steal_pointer(&res),
                          (GDestroyNotify)signet_reminders_check_result_free);
    return;
  }
  for (guint i = 0; i < tokens->len && !g_cancellable_is_cancelled(cancellable); i++) {
    const SignetP11Token *token = g_ptr_array_index(tokens, i);

    if (token->serial != NULL && *token->serial != '\0' && serial_wanted(cd, token->serial))
      check_token(cd, token, now, res->due);
  }
  if (res->due->len > 0)
    signet_reminders_deliver(cd, res, now);
  g_task_return_pointer(task, g_steal_pointer(&res),
                        (GDestroyNotify)signet_reminders_check_result_free);
}
