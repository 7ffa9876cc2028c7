/* signet-activate.c: see signet-activate.h; the files of the engine:
 * signet-activate-private.h. */
#include "config.h"

#include "agent/signet-activate-private.h"

void
signet_activate_progress(Run *run, const char *step, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  g_debug("activate: %s: %s", step, message);
  /* Every step is announced before it runs: the test hook stops it here. */
  signet_fault_point(step);
  if (run->a->progress == NULL)
    return;
  run->a->progress(run->a->data, step,
                   signet_token_dict_progress(message, run->serial, run->a->profile->name));
}

const char *
signet_activation_stage(const SignetOperation *op)
{
  switch (op->state) {
    case SIGNET_OP_PENDING:
      return "pending";
    case SIGNET_OP_ISSUED:
      return "issued";
    case SIGNET_OP_RUNNING:
      return op->request_pem != NULL && op->sent_at != 0 ? "sent" : "generated";
    case SIGNET_OP_FINISHED:
    case SIGNET_OP_ROLLED_BACK:
    case SIGNET_OP_FAILED:
      break;
  }
  return "closed";
}

static gboolean
stage_is(const SignetOperation *op, const char *stage)
{
  return op != NULL && g_str_equal(signet_activation_stage(op), stage);
}

/* Writes the journal entry (compare-and-set: see signet_state_op_save()). */
gboolean
signet_activate_journal(Run *run, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (signet_state_op_save(run->a->state, run->op, signet_clock_now(), &local))
    return TRUE;
  run->conflict = run->conflict || signet_state_error_is_conflict(local);
  g_propagate_error(error, g_steal_pointer(&local));
  return FALSE;
}

/* Closes the journal entry @final with @message, one audit entry for it. */
void
signet_activate_close_entry(Run *run, SignetOpState final, const char *message)
{
  g_autoptr(GError) local = NULL;

  if (run->op == NULL || run->op->id == 0 || !signet_op_state_is_open(run->op->state))
    return;
  if (!signet_state_op_close(run->a->state, run->op, final, message, signet_clock_now(), &local)) {
    run->conflict = run->conflict || signet_state_error_is_conflict(local);
    g_warning("activate: could not close the journal entry: %s", local->message);
    return;
  }
  if (run->a->out_journal_closed != NULL)
    *run->a->out_journal_closed = TRUE;
}

/* Deletes the key this call generated (a failure before anything was
 * stored): the token is left as it was, and the entry is closed FAILED
 * with @why (nothing is left to undo). When the key cannot be deleted the
 * entry stays open: the next activation deletes it. */
static void
roll_back(Run *run, const GError *why)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *hex = NULL;

  if (run->new_id == NULL || run->keep_key || run->conflict)
    return;
  hex = signet_token_dict_id_to_hex(run->new_id);
  /* Journaled before the key goes: the entry is then one whose key has no
   * request at the CA (stage generated), so that whatever happens next it
   * is cleaned up, never sent again for a key that is gone. If even that
   * cannot be written, nothing is deleted. */
  if (run->op != NULL && run->op->id != 0) {
    g_autofree char *request = g_steal_pointer(&run->op->request_pem);
    gint64 sent_at = run->op->sent_at;

    run->op->sent_at = 0;
    signet_activate_set_step(run, "roll-back");
    if (!signet_activate_journal(run, &local)) {
      run->op->request_pem = g_steal_pointer(&request);
      run->op->sent_at = sent_at;
      g_message("activate: the new key %s on token '%s' stays (%s); the next activation "
                "takes it from the journal",
                hex, run->name, local->message);
      return;
    }
  }
  if (signet_p11_session_delete_key_pair(run->a->session, run->new_id, &local)
      || g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
    g_message("activate: deleted the new key %s again on token '%s'", hex, run->name);
    signet_activate_close_entry(run, SIGNET_OP_FAILED,
                                why != NULL ? why->message : "failed; its key deleted");
    return;
  }
  g_message("activate: could not delete the new key %s on token '%s': %s; the next "
            "activation of this token deletes it",
            hex, run->name, local->message);
}

char *
signet_activate_certs_to_pem(GPtrArray *certs, GError **error)
{
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  long len;

  for (guint i = 0; bio != NULL && i < certs->len; i++)
    if (PEM_write_bio_X509(bio, g_ptr_array_index(certs, i)) != 1) {
      ERR_clear_error();
      g_set_error_literal(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                          "Could not write the certificates as PEM");
      return NULL;
    }
  if (bio == NULL)
    return NULL;
  len = BIO_get_mem_data(bio, &data);
  return g_strndup(data, (gsize)len);
}

/* Begins the journal entry, with the id of the key about to be made:
 * nothing the token gets is unknown to the journal. */
static gboolean
begin_entry(Run *run, GError **error)
{
  g_autoptr(SignetOperation) op = g_new0(SignetOperation, 1);

  op->kind = SIGNET_OP_ACTIVATE;
  op->token_serial = g_strdup(run->serial);
  op->token_label = g_strdup(run->name);
  op->profile = g_strdup(run->a->profile->name);
  op->new_key_id = signet_token_dict_id_to_hex(run->new_id);
  op->step = g_strdup("generate-key");
  op->state = SIGNET_OP_RUNNING;
  op->reference = g_strdup(run->a->reference);
  if (!signet_state_op_begin(run->a->state, op, signet_clock_now(), error))
    return FALSE;
  run->op = g_steal_pointer(&op);
  return TRUE;
}

/* Sets the entry's step (journaled by the caller). */
void
signet_activate_set_step(Run *run, const char *step)
{
  g_free(run->op->step);
  run->op->step = g_strdup(step);
}

/* The roots the issued chain must end at (docs/internals/trust.md): the
 * profile's ca-roots, else the self-signed certificates of @cacerts (the
 * CA's /cacerts, fetched over TLS verified with the profile's trust
 * anchors), and @cacerts must lead to them. Before the token is touched. */
static gboolean
choose_roots(Run *run, GPtrArray *cacerts, GError **error)
{
  const SignetProfile *p = run->a->profile;
  g_autoptr(SignetTrust) trust = signet_trust_new();
  g_autoptr(GError) local = NULL;

  if (!signet_trust_add_profile_roots(trust, p, error))
    return FALSE;
  if (signet_trust_count(trust) == 0 && signet_trust_add_cacerts_roots(trust, cacerts) == 0) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                "The CA's certificates (/cacerts) hold no root certificate, so the certificate "
                "it issues could not be checked; nothing was changed on the token. Ask your CA "
                "for a profile that names its root certificates (ca-roots)");
    return FALSE;
  }
  if (!signet_trust_check_cacerts(trust, cacerts, NULL, &local)) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                "The CA does not issue under a root profile '%s' trusts: %s. Nothing was "
                "changed on the token. If your CA has changed its root certificate, install its "
                "updated profile; otherwise contact your CA",
                p->name, local->message);
    return FALSE;
  }
  run->trust = g_steal_pointer(&trust);
  return TRUE;
}

/* A certificate kept from an earlier run (ISSUED): the roots recorded for
 * it when it was checked, and the profile's ca-roots; a record from before
 * roots were recorded asks the CA's /cacerts as activation does. */
gboolean
signet_activate_choose_kept_roots(Run *run, X509 *leaf, GError **error)
{
  g_autoptr(SignetTrust) trust = signet_trust_new();
  g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(leaf));
  g_autofree char *serial = signet_x509_serial_to_string(leaf);
  g_autoptr(GError) local = NULL;

  if (!signet_trust_add_profile_roots(trust, run->a->profile, error))
    return FALSE;
  (void)signet_trust_add_recorded(trust, run->a->state, run->serial, issuer, serial, &local);
  if (local != NULL)
    g_warning("activate: %s", local->message);
  if (signet_trust_count(trust) > 0) {
    run->trust = g_steal_pointer(&trust);
    return TRUE;
  }
  {
    g_autoptr(SignetConnector) connector = NULL;
    g_autoptr(GPtrArray) cacerts = NULL;

    signet_activate_progress(run, "ca-certificates", "Connecting to %s for its root certificates",
                             run->a->profile->display_name);
    connector = signet_connector_new(run->a->profile, error);
    if (connector == NULL || (cacerts = signet_connector_ca_certs(connector, error)) == NULL)
      return FALSE;
    return choose_roots(run, cacerts, error);
  }
}

/* The holder's reference and code, as the connector gets them. */
static gboolean
check_code(Run *run, SignetConnectorCode *code, GError **error)
{
  if (run->a->code == NULL || signet_secret_get_len(run->a->code) == 0) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "No %s given: the CA needs the %s and %s it sent you", run->a->profile->code_prompt,
                run->a->profile->reference_prompt, run->a->profile->code_prompt);
    return FALSE;
  }
  if (run->a->reference == NULL || *run->a->reference == '\0') {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "No %s given: the CA needs the %s and %s it sent you",
                run->a->profile->reference_prompt, run->a->profile->reference_prompt,
                run->a->profile->code_prompt);
    return FALSE;
  }
  code->reference = run->a->reference;
  code->code = run->a->code;
  code->token_serial = run->serial;
  return TRUE;
}

/* The name to request, and in *@hint what the CA asked the request to
 * hold (asked before every new request when the protocol can ask, held
 * against the profile's key type before anything touches the token), or
 * NULL when the protocol cannot ask. */
static char *
find_subject(Run *run, SignetConnector *connector, const SignetConnectorCode *code,
             SignetSubjectHint **hint, GError **error)
{
  const SignetProfile *p = run->a->profile;
  g_autofree char *subject = NULL;
  g_autoptr(X509_NAME) name = NULL;

  if (p->subject_from_ca || signet_connector_has_subject_hint(connector)) {
    signet_activate_progress(run, "subject", "Asking the CA what the request must hold");
    *hint = signet_connector_subject_hint(connector, code, NULL, error);
    if (*hint == NULL)
      return NULL;
    if (!signet_subject_hint_check(*hint, p->key_type, error))
      return NULL;
  }
  if (p->subject_from_ca) {
    if ((*hint)->subject == NULL) {
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                  "The CA did not say which name (subject) to request, and profile '%s' asks "
                  "it to (subject=ask-ca): ask your CA for an up-to-date profile",
                  p->name);
      return NULL;
    }
    subject = g_strdup((*hint)->subject);
  } else {
    if (*hint == NULL)
      signet_activate_progress(run, "subject", "Filling in the name to request from the profile");
    subject = signet_profile_expand(p->subject, run->a->reference, run->serial, error);
    if (subject == NULL)
      return NULL;
  }
  name = signet_subject_parse(subject, error);
  if (name == NULL) {
    g_prefix_error(error, "The name to request (%s) is not valid: ", subject);
    return NULL;
  }
  return g_steal_pointer(&subject);
}

/* Frees @text after wiping it: a request that holds an activation code. */
static void
free_wiped(char *text)
{
  if (text == NULL)
    return;
  explicit_bzero(text, strlen(text));
  g_free(text);
}

/* The request an earlier attempt sent (stage sent), as journaled, before
 * this call changes the entry: what the holder tells the CA about it. */
static void
remember_lost(Run *run)
{
  run->lost.fingerprint = signet_csr_fingerprint(run->op->request_pem, NULL);
  run->lost.sent_at = run->op->sent_at;
  run->lost.reference = g_strdup(run->op->reference);
}

/* The request an earlier attempt sent carries a code (its challengePassword)
 * other than the one given now, which a CA with one-time codes may have
 * spent when its answer was lost: a new request for the same key (already
 * made, the token logged in), with @kept's subject and hash and the code
 * given now, journaled before it is sent as a fresh one is. The earlier
 * request goes from the entry, wiped. */
static gboolean
remake_request(Run *run, const SignetCsrContent *kept, GError **error)
{
  const SignetActivation *a = run->a;
  g_autoptr(EVP_PKEY) pub = NULL;
  /* Signed through the operation's own session. */
  SignetP11KeyRef key = { a->session, run->new_id };
  const SignetCsrOptions options = {
    .hash = kept->hash,
    .challenge_password = signet_secret_get_data(a->code),
    .challenge_password_len = signet_secret_get_len(a->code),
    .sign = signet_p11_key_ref_sign,
    .sign_data = &key,
  };
  char *pem;
  char *earlier;
  char *answer_lost;
  gint64 sent_at;

  if (run->new_id == NULL) {
    g_set_error_literal(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                        "The journal names no key for the request an earlier attempt sent, so "
                        "no new request can be made for it");
    return FALSE;
  }
  pub = signet_p11_session_get_public_key(a->session, run->new_id, error);
  if (pub == NULL)
    return FALSE;
  pem = signet_csr_build_pem_with(NULL, pub, kept->subject, &options, error);
  if (pem == NULL)
    return FALSE;
  earlier = g_steal_pointer(&run->op->request_pem);
  answer_lost = g_steal_pointer(&run->op->answer_lost); /* that request's */
  sent_at = run->op->sent_at;
  run->op->request_pem = pem;
  run->op->sent_at = signet_clock_now();
  signet_activate_set_step(run, "enroll");
  if (!signet_activate_journal(run, error)) {
    g_prefix_error(error, "Could not journal the new request before sending it: ");
    free_wiped(g_steal_pointer(&run->op->request_pem));
    run->op->request_pem = earlier;
    run->op->answer_lost = answer_lost;
    run->op->sent_at = sent_at;
    return FALSE;
  }
  free_wiped(earlier);
  g_free(answer_lost);
  run->lost.remade = TRUE;
  return TRUE;
}

/* The open entry of this token and profile, if any (run->op, resumed). */
static gboolean
find_entry(Run *run, GError **error)
{
  g_autoptr(GError) local = NULL;

  run->op = signet_state_op_find_open(run->a->state, SIGNET_OP_ACTIVATE, run->serial,
                                      run->a->profile->name, &local);
  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (run->op != NULL) {
    run->resumed = TRUE;
    run->new_id = run->op->new_key_id != NULL ? signet_hex_decode(run->op->new_key_id) : NULL;
  }
  return TRUE;
}

GVariant *
signet_activation_run(const SignetActivation *a, GError **error)
{
  Run run = { .a = a };
  g_autofree char *serial = NULL;
  g_autofree char *name = NULL;
  g_autoptr(SignetConnector) connector = NULL;
  SignetConnectorCode code = { 0 };
  g_autoptr(GPtrArray) cacerts = NULL;
  g_autoptr(SignetAnswer) result = NULL;
  g_autoptr(EVP_PKEY) request_key = NULL;
  g_autofree char *subject = NULL;
  g_autoptr(SignetSubjectHint) hint = NULL;
  g_autoptr(GError) local = NULL;
  SignetP11KeyType key_type;
  const char *resumed = "none"; /* the stage an earlier attempt left: sent, pending */
  GVariant *reply = NULL;

  {
    const SignetP11Token *token = signet_p11_session_get_token(a->session);

    serial = g_strdup(token->serial != NULL ? token->serial : "");
    name = g_strdup(signet_token_dict_name(token));
    run.serial = serial;
    run.name = name;
  }

  signet_activate_progress(&run, "check-token", "Checking that token '%s' can make a %s key",
                           run.name, a->profile->key_type);
  if (!signet_p11_key_type_parse(a->profile->key_type, &key_type, error))
    return NULL;
  if (!signet_p11_token_check_key_type(signet_p11_session_get_token(a->session), key_type, error)
      || !signet_token_check_key_use(signet_p11_session_get_token(a->session), a->profile, key_type,
                                     error))
    return NULL;
  if (*run.serial == '\0') {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
                "Token '%s' has no serial number; Signet cannot keep track of its activation",
                run.name);
    return NULL;
  }
  if (a->state == NULL) {
    g_set_error_literal(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                        "The agent's state database could not be opened, and activation needs "
                        "its journal: see the agent's log (journalctl --user -u signetd)");
    return NULL;
  }
  if (!find_entry(&run, error))
    goto out;

  if (stage_is(run.op, "issued")) {
    signet_activate_progress(&run, "login", "Logging in to token '%s'", run.name);
    if (!a->login(a->data, a->session, error))
      goto out;
    reply = signet_activate_finish_kept(&run, error);
    goto out;
  }

  signet_activate_progress(&run, "ca-certificates", "Connecting to %s", a->profile->display_name);
  connector = signet_connector_new(a->profile, error);
  if (connector == NULL)
    goto out;
  cacerts = signet_connector_ca_certs(connector, error);
  if (cacerts == NULL)
    goto out;
  if (!choose_roots(&run, cacerts, error))
    goto out;
  if (!check_code(&run, &code, error))
    goto out;
  if (run.op == NULL || stage_is(run.op, "generated")) {
    subject = find_subject(&run, connector, &code, &hint, error);
    if (subject == NULL)
      goto out;
  }

  signet_activate_progress(&run, "login", "Logging in to token '%s'", run.name);
  if (!a->login(a->data, a->session, error))
    goto out;

  if (stage_is(run.op, "generated")) {
    if (!signet_activate_clean_up_generated(&run, error))
      goto out;
    g_clear_pointer(&run.new_id, g_bytes_unref);
  }

  if (run.op != NULL) {
    /* PENDING: the CA asked us to come back with the same request. SENT:
     * it may have issued it already; a new request would need a new code. */
    resumed = signet_activation_stage(run.op);
    run.keep_key = TRUE;
    if (g_str_equal(resumed, "sent")) {
      signet_activate_audit_interrupted(&run);
      remember_lost(&run);
    }
    /* The reference the holder gives now is the one it is sent with. */
    if (a->reference != NULL && *a->reference != '\0') {
      g_free(run.op->reference);
      run.op->reference = g_strdup(a->reference);
    }
    if (g_str_equal(resumed, "sent")) {
      g_autofree char *when = signet_activate_format_utc(run.op->sent_at);
      g_autoptr(GError) unread = NULL;
      g_autoptr(SignetCsrContent) kept = signet_csr_read_content(run.op->request_pem, &unread);

      /* Not readable (it never is: the agent made it): sent as it is. */
      if (kept == NULL)
        g_message("activate: the kept request is sent again as it is: %s", unread->message);
      /* The same code: the same request (the CA may answer it again). A
       * new one: a new request for the same key, since the code inside
       * the earlier one may be spent (a CertPoll, stage pending, carries
       * no code). Constant time; neither code is logged. */
      run.lost.has_code = kept != NULL && kept->challenge_password != NULL;
      if (run.lost.has_code && !signet_secret_equal(kept->challenge_password, a->code)) {
        g_autofree char *code_words = signet_activate_in_sentence(a->profile->code_prompt);

        signet_activate_progress(&run, "request",
                                 "Making a new request for the key kept on the token, signed on "
                                 "the token: the %s has changed since an earlier attempt sent "
                                 "its request on %s and its answer did not arrive",
                                 code_words, when);
        if (!remake_request(&run, kept, error))
          goto fail;
      } else
        signet_activate_progress(
            &run, "resend",
            "Sending the same request again: an earlier attempt sent it on %s and its answer "
            "did not arrive",
            when);
    }
  } else {
    const char *label = a->label != NULL ? a->label : a->profile->key_label;

    /* The key's id is journaled before the key exists: a crash in between
     * leaves no key that nothing knows of. */
    run.new_id = signet_p11_new_key_id(error);
    if (run.new_id == NULL)
      goto out;
    if (!begin_entry(&run, error)) {
      g_prefix_error(error, "Could not journal the activation before generating its key: ");
      goto out;
    }
    signet_activate_progress(&run, "generate-key", "Generating a %s key pair on the token",
                             a->profile->key_type);
    /* A protocol whose CA encrypts its answer to the key (SCEP) needs a
     * key that decrypts. */
    if (!(signet_connector_get_class(connector)->key_decrypts
              ? signet_p11_session_generate_decrypting_key_pair_with_id
              : signet_p11_session_generate_key_pair_with_id)(a->session, key_type, label,
                                                              run.new_id, error))
      goto fail;
    signet_fault_point("generate-key+");
    run.op->key_made = TRUE;

    signet_activate_progress(&run, "request",
                             "Making the certificate request, signed on the token");
    {
      g_autoptr(EVP_PKEY) pub = signet_p11_session_get_public_key(a->session, run.new_id, error);
      g_autoptr(X509_NAME) subject_name = pub != NULL ? signet_subject_parse(subject, error) : NULL;
      /* Signed through the operation's own session. */
      SignetP11KeyRef key = { a->session, run.new_id };
      /* A challengePassword, when the CA asks for one, is the activation
       * code: the one secret the CA gave for this request (docs/internals/
       * connector.md). */
      SignetCsrOptions options = {
        .hash = hint != NULL ? hint->hash : NULL,
        .challenge_password
        = hint != NULL && hint->challenge_password ? signet_secret_get_data(a->code) : NULL,
        .challenge_password_len = signet_secret_get_len(a->code),
        .sign = signet_p11_key_ref_sign,
        .sign_data = &key,
      };

      if (subject_name != NULL)
        run.op->request_pem = signet_csr_build_pem_with(NULL, pub, subject_name, &options, error);
    }
    if (run.op->request_pem == NULL)
      goto fail;
    /* Journaled before it is sent: whatever happens to the agent from here
     * on, the next activation sends this request again, never a new one. */
    run.op->sent_at = signet_clock_now();
    signet_activate_set_step(&run, "enroll");
    if (!signet_activate_journal(&run, error)) {
      g_prefix_error(error, "Could not journal the request before sending it: ");
      g_clear_pointer(&run.op->request_pem, g_free);
      run.op->sent_at = 0;
      goto fail;
    }
  }

  if (g_str_equal(resumed, "pending"))
    signet_activate_progress(&run, "enroll", "Asking %s about the request it accepted earlier",
                             a->profile->display_name);
  else
    signet_activate_progress(&run, "enroll", "Sending the request to %s", a->profile->display_name);
  /* The request's key, for a protocol that proves possession with it
   * (CMP) or decrypts the answer with it (SCEP): not found, it is NULL and
   * that protocol says so. EST has no use for it: not looked up. */
  request_key = run.new_id != NULL && signet_connector_get_class(connector)->uses_request_key
                    ? signet_p11_session_get_private_key(a->session, run.new_id, NULL)
                    : NULL;
  if (g_str_equal(resumed, "pending")) {
    SignetConnectorPoll poll = {
      .csr_pem = run.op->request_pem,
      .request_key = request_key,
      .poll_state = run.op->poll_state,
      .renewal = FALSE,
      .code = &code,
    };

    result = signet_connector_poll(connector, &poll, error);
  } else
    result = signet_connector_enroll(connector, &code, run.op->request_pem, request_key, error);
  /* The CA has answered (or given up): a test stops the agent here. */
  signet_fault_point("answered");
  if (result == NULL) {
    const GError *e = error != NULL ? *error : NULL;

    if (g_str_equal(resumed, "pending")) {
      /* A code the CA refused is final for this request: start afresh. */
      if (signet_activate_is_refusal(e))
        run.keep_key = FALSE;
    } else if (g_str_equal(resumed, "sent")) {
      /* The key stays: the CA may have issued a certificate for it. */
      if (signet_activate_is_refusal(e)) {
        g_autofree char *tell = signet_activate_what_to_tell(&run);
        g_autofree char *when = signet_activate_format_utc(run.lost.sent_at);
        g_autofree char *said = signet_activate_without_stop(e->message);
        g_autofree char *code_words = signet_activate_in_sentence(a->profile->code_prompt);

        if (run.lost.remade)
          signet_activate_reword(
              error, g_strdup_printf("The CA refuses the new request made with the %s given "
                                     "now. The CA says: %s. An earlier attempt sent this "
                                     "token's request to the CA on %s and its answer did not "
                                     "arrive, so it may have issued your certificate already. "
                                     "%s. The new key stays on the token for that certificate",
                                     code_words, said, when, tell));
        else
          signet_activate_reword(
              error, g_strdup_printf("An earlier attempt sent this token's request to the CA "
                                     "on %s and its answer did not arrive; the CA now refuses "
                                     "the same request, so it may have issued your "
                                     "certificate already. The CA says: %s. %s. The new key "
                                     "stays on the token for that certificate",
                                     when, said, tell));
      }
    } else if (signet_activate_answer_may_be_lost(e)) {
      g_autofree char *why = signet_activate_without_stop(e->message);
      g_autofree char *ref_words = signet_activate_in_sentence(a->profile->reference_prompt);
      g_autofree char *code_words = signet_activate_in_sentence(a->profile->code_prompt);

      /* The entry (sent) of before the request was sent stays either way. */
      run.keep_key = TRUE;
      run.op->answer_lost = g_strdup(why);
      if (!signet_activate_journal(&run, &local))
        g_message("activate: could not note why the answer was lost: %s", local->message);
      signet_activate_reword(
          error, g_strdup_printf("The request reached the CA, but its answer did not "
                                 "arrive: %s. The CA may have issued the certificate: run "
                                 "the same activation again with the same %s and %s to "
                                 "fetch it (the same request is sent; the new key stays on "
                                 "the token until then)",
                                 why, ref_words, code_words));
    } else {
      /* Refused, or never reached: nothing was issued. */
      run.keep_key = FALSE;
    }
    goto fail;
  }
  if (result->status == SIGNET_ANSWER_PENDING) {
    g_autofree char *when = g_date_time_format(result->retry_at, "%Y-%m-%d %H:%M:%S UTC");
    g_autofree char *iso = g_date_time_format_iso8601(result->retry_at);

    run.op->state = SIGNET_OP_PENDING;
    run.op->retry_at = g_date_time_to_unix(result->retry_at);
    g_clear_pointer(&run.op->poll_state, g_bytes_unref);
    if (result->poll_state != NULL)
      run.op->poll_state = g_bytes_ref(result->poll_state);
    signet_activate_set_step(&run, "pending");
    if (!signet_activate_journal(&run, &local)) {
      g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                 "The CA will issue the certificate later, but the request "
                                 "could not be kept: ");
      run.keep_key = TRUE; /* the CA holds a request for this key */
      goto fail;
    }
    run.keep_key = TRUE;
    signet_activate_progress(&run, "pending", "The CA will issue the certificate later (after %s)",
                             when);
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_PENDING,
                "The CA has accepted the request and will issue the certificate later: run the "
                "same activation again after %s (retry-at %s). The new key stays on the token "
                "until then%s%s",
                when, iso, result->message ? "; the CA says: " : "",
                result->message ? result->message : "");
    goto out;
  }
  /* What the CA's connector says besides (SCEP: legacy algorithms); those
   * are journaled with the answer and recorded with the certificate. */
  if (result->message != NULL)
    signet_activate_progress(&run, "enroll", "%s: %s", a->profile->display_name, result->message);
  g_free(run.op->legacy_algorithms);
  run.op->legacy_algorithms = g_strdup(result->legacy_algorithms);
  reply = signet_activate_verify_and_store(&run, result->certs, cacerts, error);
  if (reply != NULL)
    goto out;

fail:
  /* A step that failed because the token was pulled does not always say
   * so: a module that closed the session on removal answers
   * CKR_SESSION_HANDLE_INVALID to the call in flight, and a signature
   * OpenSSL asked for (CMP, SCEP) reports an OpenSSL error. Said as TokenRemoved, a caller (a
   * batch) keeps the row for this token and runs it again when it is back. */
  signet_errors_recode_if_removed(a->session, "activation", error);
  roll_back(&run, error != NULL ? *error : NULL);
out:
  g_clear_pointer(&run.new_id, g_bytes_unref);
  g_clear_pointer(&run.op, signet_operation_free);
  g_clear_pointer(&run.trust, signet_trust_free);
  g_free(run.lost.fingerprint);
  g_free(run.lost.reference);
  return reply;
}
