/* signet-renew.c: see signet-renew.h; the files of the engine:
 * signet-renew-private.h. */
#include "config.h"

#include "agent/signet-renew-private.h"

void
signet_renew_progress(Run *run, const char *step, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  g_debug("renew: %s: %s", step, message);
  if (run->r->progress == NULL)
    return;
  run->r->progress(run->r->data, step,
                   signet_token_dict_progress(message, run->serial,
                                              run->profile != NULL ? run->profile->name : NULL));
}

/* Journals @step (durably) before it runs, then the test hook. */
gboolean
signet_renew_step(Run *run, const char *name, GError **error)
{
  if (run->op != NULL && run->op->id != 0
      && !signet_state_op_step(run->r->state, run->op, name, signet_clock_now(), error)) {
    if (error != NULL && signet_state_error_is_conflict(*error)) {
      run->conflict = TRUE;
      g_prefix_error(error, "The renewal stopped before step %s: ", name);
    } else
      g_prefix_error(error,
                     "Could not write the renewal journal, so step %s was not started: ", name);
    return FALSE;
  }
  signet_fault_point(name);
  return TRUE;
}

void
signet_renew_save(Run *run)
{
  g_autoptr(GError) local = NULL;

  if (signet_state_op_save(run->r->state, run->op, signet_clock_now(), &local))
    return;
  run->conflict = run->conflict || signet_state_error_is_conflict(local);
  g_warning("renew: could not update the journal: %s", local->message);
}

char *
signet_renew_certs_to_pem(X509 *leaf, GPtrArray *chain)
{
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  long len;

  if (bio == NULL || PEM_write_bio_X509(bio, leaf) != 1)
    return NULL;
  for (guint i = 0; chain != NULL && i < chain->len; i++) {
    X509 *c = g_ptr_array_index(chain, i);
    if (c != leaf && X509_cmp(c, leaf) != 0 && signet_x509_is_ca(c)
        && PEM_write_bio_X509(bio, c) != 1)
      return NULL;
  }
  len = BIO_get_mem_data(bio, &data);
  return g_strndup(data, (gsize)len);
}

GBytes *
signet_renew_op_new_id(Run *run)
{
  return run->op->new_key_id != NULL ? signet_hex_decode(run->op->new_key_id) : NULL;
}

GBytes *
signet_renew_op_old_id(Run *run)
{
  return run->op->old_key_id != NULL ? signet_hex_decode(run->op->old_key_id) : NULL;
}

void
signet_renew_close_op(Run *run, SignetOpState final, const char *message)
{
  g_autoptr(GError) local = NULL;

  if (run->op == NULL || run->op->id == 0)
    return;
  if (!signet_state_op_close(run->r->state, run->op, final, message, signet_clock_now(), &local)) {
    run->conflict = run->conflict || signet_state_error_is_conflict(local);
    g_warning("renew: could not close the journal entry: %s", local->message);
  } else if (run->r->out_journal_closed != NULL && !run->resumed)
    *run->r->out_journal_closed = TRUE;
}

/* ---- rolling back ------------------------------------------------------------ */

/* Before ISSUED: deletes the new key (never the kept one) and closes the
 * entry ROLLED_BACK. FALSE when the key could not be deleted (the entry
 * stays open: the next renewal of this token does it). */
static gboolean
roll_back(Run *run, const char *why, GError **error)
{
  g_autoptr(GBytes) new_id = signet_renew_op_new_id(run);
  g_autoptr(GError) local = NULL;

  /* The entry is another task's now (it may have kept a certificate for
   * the new key): nothing is undone on its behalf. */
  if (run->conflict) {
    g_message("renew: not undoing anything on token '%s': another task changed the journal "
              "entry (%s)",
              run->name, why);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_WRONG_ETAG,
                "Another task changed this renewal's journal entry; nothing was undone");
    return FALSE;
  }
  /* Journaled before anything is deleted: from here the entry is undone,
   * never sent again (a key the CA may still issue for stays otherwise). */
  if (new_id != NULL && !run->op->keep_key && !signet_renew_step(run, "roll-back", &local)) {
    g_message("renew: nothing deleted on token '%s' (%s): %s; the next renewal of this token "
              "takes it from the journal",
              run->name, why, local->message);
    if (error != NULL)
      g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (new_id != NULL && !run->op->keep_key
      && !signet_p11_session_delete_key_pair(run->r->session, new_id, &local)
      && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
    g_message("renew: could not delete the new key %s on token '%s': %s; the next renewal of "
              "this token deletes it",
              run->op->new_key_id, run->name, local->message);
    g_free(run->op->message);
    run->op->message = g_strdup_printf("%s; the new key is still to be deleted", why);
    signet_renew_save(run);
    if (error != NULL)
      g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (new_id != NULL && !run->op->keep_key)
    g_message("renew: deleted the new key %s on token '%s'; the current certificate stays",
              run->op->new_key_id, run->name);
  signet_renew_close_op(run, SIGNET_OP_ROLLED_BACK, why);
  return TRUE;
}

/* ---- the CA ------------------------------------------------------------------ */

/* What a PENDING answer asks to keep for the poll (journaled with it). */
void
signet_renew_set_poll_state(SignetOperation *op, const SignetAnswer *answer)
{
  g_clear_pointer(&op->poll_state, g_bytes_unref);
  if (answer->poll_state != NULL)
    op->poll_state = g_bytes_ref(answer->poll_state);
}

/* Sends the request (new, or again) or asks about the PENDING one,
 * authenticated with the old certificate and key. Returns the answer or
 * NULL. */
static SignetAnswer *
reenroll(Run *run, SignetConnector *connector, GError **error)
{
  SignetConnectorIdentity identity;

  g_autoptr(GBytes) old_id = signet_renew_op_old_id(run);
  g_autoptr(GBytes) new_id = signet_renew_op_new_id(run);
  g_autoptr(EVP_PKEY) old_key = NULL;
  g_autoptr(EVP_PKEY) new_key = NULL;

  if (run->old_cert == NULL) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
                "The certificate being renewed is no longer on token '%s'", run->name);
    return NULL;
  }
  old_key = signet_p11_session_get_private_key(run->r->session, old_id, error);
  if (old_key == NULL)
    return NULL;
  identity.cert = run->old_cert;
  identity.key = old_key;
  /* The request's key, for a protocol that proves possession with it
   * (CMP) or decrypts the answer with it (SCEP): the old one when the
   * renewal keeps it. EST has no use for it: not looked up. */
  if (!run->op->keep_key && new_id != NULL
      && signet_connector_get_class(connector)->uses_request_key)
    new_key = signet_p11_session_get_private_key(run->r->session, new_id, NULL);
  if (run->op->state == SIGNET_OP_PENDING) {
    SignetConnectorPoll poll = {
      .csr_pem = run->op->request_pem,
      .request_key = run->op->keep_key ? old_key : new_key,
      .poll_state = run->op->poll_state,
      .renewal = TRUE,
      .identity = &identity,
    };

    return signet_connector_poll(connector, &poll, error);
  }
  return signet_connector_reenroll(connector, &identity, run->op->request_pem,
                                   run->op->keep_key ? old_key : new_key, error);
}

static void
set_pending_error(Run *run, SignetAnswer *result, GError **error)
{
  g_autoptr(GDateTime) at = g_date_time_new_from_unix_utc(run->op->retry_at);
  g_autofree char *when = g_date_time_format(at, "%Y-%m-%d %H:%M:%S UTC");
  g_autofree char *iso = g_date_time_format_iso8601(at);

  signet_renew_progress(run, "pending", "The CA will issue the new certificate later (after %s)",
                        when);
  if (signet_renewal_waits_for_holder(run->op))
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_PENDING,
                "The CA has accepted the renewal and will issue the certificate later (after %s, "
                "retry-at %s). It answers only when asked with your current certificate, so "
                "Signet cannot ask it by itself: run this renewal again after that time (it "
                "needs your PIN); the current certificate stays valid and in use until then%s%s",
                when, iso, result != NULL && result->message ? "; the CA says: " : "",
                result != NULL && result->message ? result->message : "");
  else
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_PENDING,
                "The CA has accepted the renewal and will issue the certificate later (after %s, "
                "retry-at %s). Signet asks the CA again then and writes the certificate when the "
                "token is present; the current certificate stays valid and in use until then%s%s",
                when, iso, result != NULL && result->message ? "; the CA says: " : "",
                result != NULL && result->message ? result->message : "");
}

/* ---- the renewal ------------------------------------------------------------- */

static gboolean
login(Run *run, GError **error)
{
  /* Resuming, the journal keeps the step the entry stopped at: that is
   * what status shows and what decides how it resumes. */
  if (run->resumed)
    signet_fault_point("login");
  else if (!signet_renew_step(run, "login", error))
    return FALSE;
  if (run->logged_in)
    return TRUE;
  signet_renew_progress(run, "login", "Logging in to token '%s'", run->name);
  if (run->r->login == NULL) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "The renewal needs the token's PIN");
    return FALSE;
  }
  run->logged_in = run->r->login(run->r->data, run->r->session, error);
  return run->logged_in;
}

static gboolean
check_room(Run *run, GError **error)
{
  const SignetP11Token *t = signet_p11_session_get_token(run->r->session);
  g_autoptr(GBytes) old_id = signet_renew_op_old_id(run);

  if (!signet_renew_step(run, "check-room", error))
    return FALSE;
  signet_renew_progress(run, "check-room",
                        "Checking the token has the current key and room for a new one");
  if (!signet_renew_has_private_key(run, old_id, error)) {
    if (error != NULL && *error == NULL)
      g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_MATCHING_KEY,
                  "Token '%s' does not have the private key of the certificate to renew (id "
                  "%s), so the CA cannot check it is yours; request a new certificate from "
                  "your CA",
                  run->name, run->op->old_key_id);
    return FALSE;
  }
  /* Where the token says how much memory is free: a key pair with its
   * certificate needs a few kilobytes on a card. */
  if (t->free_private_memory != CK_UNAVAILABLE_INFORMATION
      && t->free_private_memory != CK_EFFECTIVELY_INFINITE && t->free_private_memory < 4096) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_TOKEN_FULL,
                "Token '%s' has only %lu bytes free: not enough for a second key pair next to "
                "the current one. Nothing was changed. Delete keys you no longer use (signet "
                "status lists them), or renew with a profile that keeps the key "
                "(renewal-key=same)",
                run->name, t->free_private_memory);
    return FALSE;
  }
  return TRUE;
}

/* What the CA asks a new request to hold, when the protocol can ask: asked
 * with the current certificate (so after the login), before anything is
 * made on the token. The key the request will carry (a new one of the
 * profile's key type, or the current one) must be what the CA asks for;
 * the hash it names is the one the request is signed with. The subject
 * stays the current certificate's whatever the answer says (RFC 7030
 * 4.2.2), and a challengePassword cannot be given (a renewal has no
 * code): a CA that insists refuses the request, with its reason. */
static gboolean
ask_ca(Run *run, SignetConnector *connector, GError **error)
{
  g_autoptr(SignetSubjectHint) hint = NULL;
  g_autoptr(GBytes) old_id = NULL;
  g_autoptr(EVP_PKEY) old_key = NULL;
  g_autofree char *current_type = NULL;
  SignetConnectorIdentity identity;

  if (!signet_connector_has_subject_hint(connector))
    return TRUE;
  if (!signet_renew_step(run, "ask-ca", error))
    return FALSE;
  signet_renew_progress(run, "ask-ca", "Asking %s what the renewal request must hold",
                        run->profile->display_name);
  old_id = signet_renew_op_old_id(run);
  old_key = signet_p11_session_get_private_key(run->r->session, old_id, error);
  if (old_key == NULL)
    return FALSE;
  identity.cert = run->old_cert;
  identity.key = old_key;
  hint = signet_connector_subject_hint(connector, NULL, &identity, error);
  if (hint == NULL)
    return FALSE;
  if (run->op->keep_key) {
    current_type = signet_x509_key_type(run->old_cert);
    if (!signet_subject_hint_check(hint, current_type != NULL ? current_type : "unknown", error)) {
      g_prefix_error(error, "The renewal keeps the current key (renewal-key=same), and the CA "
                            "no longer accepts it: ");
      return FALSE;
    }
  } else if (!signet_subject_hint_check(hint, run->profile->key_type, error))
    return FALSE;
  run->hash = g_steal_pointer(&hint->hash);
  return TRUE;
}

static gboolean
make_request(Run *run, SignetConnector *connector, GError **error)
{
  g_autoptr(GBytes) new_id = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;

  if (!run->op->keep_key) {
    SignetP11KeyType key_type;

    if (!signet_p11_key_type_parse(run->profile->key_type, &key_type, error))
      return FALSE;
    new_id = signet_p11_new_key_id(error);
    if (new_id == NULL)
      return FALSE;
    /* The id is journaled before the key exists. */
    run->op->new_key_id = signet_token_dict_id_to_hex(new_id);
    if (!signet_renew_step(run, "generate-key", error))
      return FALSE;
    signet_renew_progress(run, "generate-key", "Generating a new %s key pair on the token",
                          run->profile->key_type);
    /* A protocol whose CA encrypts its answer to the key (SCEP) needs a
     * key that decrypts. */
    if (!(signet_connector_get_class(connector)->key_decrypts
              ? signet_p11_session_generate_decrypting_key_pair_with_id
              : signet_p11_session_generate_key_pair_with_id)(
            run->r->session, key_type,
            run->old_label != NULL ? run->old_label : run->profile->key_label, new_id, error))
      return FALSE;
    signet_fault_point("generate-key+");
    run->op->key_made = TRUE;
    signet_renew_save(run);
  } else {
    new_id = signet_renew_op_new_id(run);
  }

  if (!signet_renew_step(run, "request", error))
    return FALSE;
  signet_renew_progress(run, "request", "Making the certificate request, signed on the token");
  pub = signet_p11_session_get_public_key(run->r->session, new_id, error);
  if (pub == NULL)
    return FALSE;
  /* The same subject, RDN for RDN (RFC 7030 4.2.2), signed with the hash
   * the CA asked for, through the operation's own session. */
  {
    SignetP11KeyRef key = { run->r->session, new_id };
    SignetCsrOptions options = {
      .hash = run->hash,
      .sign = signet_p11_key_ref_sign,
      .sign_data = &key,
    };

    run->op->request_pem = signet_csr_build_pem_with(
        NULL, pub, X509_get_subject_name(run->old_cert), &options, error);
  }
  if (run->op->request_pem == NULL)
    return FALSE;
  signet_renew_save(run);
  return TRUE;
}

/* An open entry in RUNNING: what it left on the token goes (the old
 * credential was never touched before ISSUED). */
static gboolean
recover_running(Run *run, GError **error)
{
  g_autofree char *why = g_strdup_printf("interrupted at step %s; rolled back",
                                         run->op->step != NULL ? run->op->step : "(none)");

  signet_renew_progress(run, "cleanup", "Undoing a renewal that was interrupted (at step %s)",
                        run->op->step != NULL ? run->op->step : "start");
  return roll_back(run, why, error);
}

gboolean
signet_renewal_waits_for_holder(const SignetOperation *op)
{
  return op->state == SIGNET_OP_PENDING && op->step != NULL
         && g_str_equal(op->step, SIGNET_RENEWAL_STEP_WAIT_HOLDER);
}

const char *
signet_renewal_resume_action(const SignetOperation *op)
{
  switch (op->state) {
    case SIGNET_OP_PENDING:
      return signet_renewal_waits_for_holder(op) ? "ask-again" : "wait";
    case SIGNET_OP_ISSUED:
      return "finish";
    case SIGNET_OP_RUNNING:
      /* From reenroll on, the CA may have the request: it is sent again,
       * never thrown away (and a new key made) while its answer may come. */
      if (op->request_pem != NULL && op->step != NULL
          && (g_str_equal(op->step, "reenroll") || g_str_equal(op->step, "verify")))
        return "send-again";
      return "undo";
    case SIGNET_OP_FINISHED:
    case SIGNET_OP_ROLLED_BACK:
    case SIGNET_OP_FAILED:
      break;
  }
  return "none";
}

/* What the profile's protocol needs of the token's keys besides signing,
 * before anything is journaled, made or sent. */
static gboolean
check_key_use(Run *run, GError **error)
{
  SignetP11KeyType key_type;

  if (!signet_p11_key_type_parse(run->profile->key_type, &key_type, error))
    return FALSE;
  return signet_token_check_key_use(signet_p11_session_get_token(run->r->session), run->profile,
                                    key_type, error);
}

static GVariant *
run_renewal(Run *run, GError **error)
{
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(GPtrArray) cacerts = NULL;
  g_autoptr(SignetAnswer) result = NULL;
  g_autoptr(GError) local = NULL;
  GVariant *reply;
  gboolean fresh = run->op->id == 0;
  /* A CA that answers only an authenticated poll: still pending, the entry
   * keeps waiting for the holder rather than for the background poll. */
  gboolean holder_asks = signet_renewal_waits_for_holder(run->op);

  if (fresh) {
    signet_renew_progress(run, "check-certificate",
                          "Checking the certificate to renew on token '%s'", run->name);
    if (!signet_renew_choose_certificate(run, error) || !signet_renew_check_validity(run, error)
        || !signet_renew_find_profile(run, error) || !check_key_use(run, error))
      return NULL;
    run->op->keep_key = run->profile->renewal_key == SIGNET_RENEWAL_SAME_KEY;
    if (run->op->keep_key) {
      run->op->new_key_id = g_strdup(run->op->old_key_id);
      run->op->key_made = TRUE;
    }
    run->op->step = g_strdup("check-certificate");
    if (!signet_state_op_begin(run->r->state, run->op, signet_clock_now(), error)) {
      g_prefix_error(error, "Could not start the renewal journal: ");
      return NULL;
    }
    signet_fault_point("check-certificate");
  }

  if (run->op->state != SIGNET_OP_ISSUED) {
    if (!signet_renew_step(run, "ca-certificates", error))
      goto fail;
    signet_renew_progress(run, "ca-certificates", "Connecting to %s", run->profile->display_name);
    connector = signet_connector_new(run->profile, error);
    if (connector == NULL || (cacerts = signet_connector_ca_certs(connector, error)) == NULL)
      goto fail;
    run->trust = signet_renew_roots(run->r->state, run->profile, run->op, cacerts, error);
    if (run->trust == NULL)
      goto fail;
  }

  if (!login(run, error))
    goto fail;

  if (run->op->state == SIGNET_OP_ISSUED)
    return signet_renew_finish_issued(run, error);

  if (run->op->state == SIGNET_OP_RUNNING && !run->send_again) {
    if (!ask_ca(run, connector, error))
      goto fail;
    if (!run->op->keep_key && !check_room(run, error))
      goto fail;
    if (!make_request(run, connector, error))
      goto fail;
  }

  if (!signet_renew_step(run, "reenroll", error))
    goto fail;
  signet_renew_progress(run, "reenroll",
                        "Sending the renewal request to %s, signed in with the current "
                        "certificate",
                        run->profile->display_name);
  result = reenroll(run, connector, error);
  /* The CA has answered (or given up): a test stops the agent here. */
  signet_fault_point("answered");
  if (result == NULL)
    goto fail;
  if (result->status == SIGNET_ANSWER_PENDING) {
    run->op->state = SIGNET_OP_PENDING;
    run->op->retry_at = g_date_time_to_unix(result->retry_at);
    signet_renew_set_poll_state(run->op, result);
    /* A CA asked again only with the current certificate's key: the holder
     * asks, from the start (the message and status say so). */
    if (holder_asks || signet_connector_get_class(connector)->renewal_poll_needs_identity) {
      g_free(run->op->step);
      run->op->step = g_strdup(SIGNET_RENEWAL_STEP_WAIT_HOLDER);
    }
    if (!signet_state_op_save(run->r->state, run->op, signet_clock_now(), &local)) {
      g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                 "The CA will issue the certificate later, but the request "
                                 "could not be kept: ");
      run->op->state = SIGNET_OP_RUNNING;
      goto fail;
    }
    set_pending_error(run, result, error);
    return NULL;
  }
  /* What the CA's connector says besides (SCEP: legacy algorithms); those
   * are journaled with the answer and recorded with the certificate. */
  if (result->message != NULL)
    signet_renew_progress(run, "reenroll", "%s: %s", run->profile->display_name, result->message);
  g_free(run->op->legacy_algorithms);
  run->op->legacy_algorithms = g_strdup(result->legacy_algorithms);
  if (!signet_renew_verify_issued(run, result->certs, cacerts, error))
    goto fail;
  reply = signet_renew_finish_issued(run, error);
  return reply;

fail:
  /* Pulled mid-way (SCEP: the CA's answer could not be decrypted): said so. */
  signet_errors_recode_if_removed(run->r->session, "renewal", error);
  /* Before ISSUED the old credential was never touched: undo ours. A
   * PENDING entry keeps its key and request unless the CA said no. */
  if (run->op->id != 0 && run->op->state == SIGNET_OP_RUNNING) {
    g_autofree char *why
        = g_strdup_printf("failed at step %s: %s", run->op->step ? run->op->step : "?",
                          error != NULL && *error != NULL ? (*error)->message : "unknown error");
    (void)roll_back(run, why, NULL);
  } else if (run->op->id != 0 && run->op->state == SIGNET_OP_PENDING && error != NULL
             && *error != NULL && (*error)->domain == SIGNET_ENROLL_ERROR
             && ((*error)->code == SIGNET_ENROLL_ERROR_REFUSED
                 || (*error)->code == SIGNET_ENROLL_ERROR_CODE_REJECTED)) {
    g_autofree char *why
        = g_strdup_printf("the CA refused the pending renewal: %s", (*error)->message);
    run->op->state = SIGNET_OP_RUNNING;
    (void)roll_back(run, why, NULL);
  }
  return NULL;
}

static void
run_clear(Run *run)
{
  g_free(run->serial);
  g_free(run->name);
  g_clear_pointer(&run->op, signet_operation_free);
  g_clear_pointer(&run->old_cert, X509_free);
  g_free(run->old_label);
  g_free(run->selector);
  g_clear_pointer(&run->trust, signet_trust_free);
  g_free(run->hash);
}

GVariant *
signet_renewal_run(const SignetRenewal *r, GError **error)
{
  Run run = { .r = r };
  g_autoptr(SignetOperation) open = NULL;
  g_autoptr(GError) local = NULL;
  GVariant *reply = NULL;

  {
    const SignetP11Token *token = signet_p11_session_get_token(r->session);
    run.serial = g_strdup(token->serial != NULL ? token->serial : "");
    run.name = g_strdup(signet_token_dict_name(token));
  }
  if (r->state == NULL) {
    g_set_error_literal(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                        "The agent's state database could not be opened, and renewal needs its "
                        "journal: see the agent's log (journalctl --user -u signetd)");
    goto out;
  }
  if (*run.serial == '\0') {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
                "Token '%s' has no serial number; Signet cannot journal its renewal", run.name);
    goto out;
  }

  open = signet_state_op_find_open(r->state, SIGNET_OP_RENEW, run.serial, NULL, &local);
  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    goto out;
  }
  run.selector = g_strdup(r->cert_id);
  if (open != NULL) {
    /* An unfinished renewal of this token comes first. */
    g_autofree char *want = r->cert_id != NULL ? signet_renew_normalize_hex(r->cert_id) : NULL;
    g_autofree char *serial
        = signet_renew_normalize_hex(open->old_cert_serial ? open->old_cert_serial : "");

    if (r->cert_id != NULL && !signet_renewal_cert_matches(r->cert_id, open->old_key_id, NULL)
        && !g_str_equal(want, serial)) {
      g_autofree char *serial_word = signet_shell_word(run.serial);

      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                  "The renewal of another certificate (serial %s, key id %s) on token '%s' is "
                  "unfinished (%s): run signet renew %s --cert %s first",
                  open->old_cert_serial, open->old_key_id, run.name,
                  signet_op_state_to_string(open->state), serial_word, open->old_cert_serial);
      goto out;
    }
    run.op = g_steal_pointer(&open);
    run.resumed = TRUE;
    if (!signet_renew_find_profile(&run, error) || !signet_renew_find_old_certificate(&run, error))
      goto out;
    if (g_str_equal(signet_renewal_resume_action(run.op), "undo")) {
      /* Roll back needs the PIN (the new private key is a private object). */
      if (!login(&run, error))
        goto out;
      if (!recover_running(&run, error))
        goto out;
      /* Then the renewal asked for, from the start (already logged in), of
       * the same certificate unless --cert named one. */
      if (run.selector == NULL)
        run.selector = g_strdup(run.op->old_cert_serial);
      g_clear_pointer(&run.op, signet_operation_free);
      g_clear_pointer(&run.old_cert, X509_free);
      g_clear_pointer(&run.old_label, g_free);
      run.profile = NULL;
      run.resumed = FALSE;
    } else {
      if (run.op->state == SIGNET_OP_RUNNING) {
        run.send_again = TRUE;
        signet_renew_progress(
            &run, "resume",
            "Sending the same renewal request to %s again: the earlier attempt stopped (at "
            "step %s) before the CA's answer arrived",
            run.profile->display_name, run.op->step);
      } else
        signet_renew_progress(&run, "resume", "Resuming the renewal of token '%s' (%s)", run.name,
                              signet_op_state_to_string(run.op->state));
      if (run.op->state != SIGNET_OP_ISSUED && run.old_cert != NULL
          && !signet_renew_check_validity(&run, error))
        goto out;
      reply = run_renewal(&run, error);
      goto out;
    }
  }

  run.op = g_new0(SignetOperation, 1);
  run.op->kind = SIGNET_OP_RENEW;
  run.op->token_serial = g_strdup(run.serial);
  run.op->token_label = g_strdup(run.name);
  run.op->state = SIGNET_OP_RUNNING;
  reply = run_renewal(&run, error);

out:
  run_clear(&run);
  return reply;
}
