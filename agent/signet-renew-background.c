/* signet-renew-background.c: what the agent does for a renewal without the
 * holder's PIN: recovery at start and the poll of a pending request
 * (signet-renew-private.h). */
#include "config.h"

#include "agent/signet-renew-private.h"

/* ---- without a PIN --------------------------------------------------------- */

guint
signet_renewal_recover_without_pin(const SignetRenewal *r, GError **error)
{
  const SignetP11Token *token = signet_p11_session_get_token(r->session);
  g_autoptr(GPtrArray) open = NULL;
  guint waiting = 0;

  if (r->state == NULL || token->serial == NULL)
    return 0;
  open = signet_state_op_list_open(r->state, token->serial, error);
  if (open == NULL)
    return 0;
  for (guint i = 0; i < open->len; i++) {
    SignetOperation *op = g_ptr_array_index(open, i);
    g_autoptr(GPtrArray) chain = NULL;
    g_autoptr(GBytes) new_id = NULL;
    g_autoptr(GError) local = NULL;
    X509 *leaf;

    waiting++;
    if (op->kind != SIGNET_OP_RENEW || op->state != SIGNET_OP_ISSUED || op->cert_stored
        || op->certificates_pem == NULL)
      continue;
    /* The certificate is public: tokens that allow it take it without the
     * PIN (SoftHSM2 does; most cards want the PIN and refuse). */
    chain = signet_certfile_parse((const guint8 *)op->certificates_pem,
                                  strlen(op->certificates_pem), &local);
    new_id = op->new_key_id != NULL ? signet_hex_decode(op->new_key_id) : NULL;
    if (chain == NULL || chain->len == 0 || new_id == NULL)
      continue;
    leaf = g_ptr_array_index(chain, 0);
    if (!signet_install_leaf(r->session, leaf, new_id, NULL, NULL, &local)) {
      g_debug("renew: the issued certificate waits for the PIN to be written to token '%s': %s",
              token->serial, local->message);
      continue;
    }
    op->cert_stored = TRUE;
    if (!signet_state_op_save(r->state, op, signet_clock_now(), &local))
      g_warning("renew: %s", local->message);
    else
      g_message("renew: wrote the renewed certificate to token '%s'; the renewal finishes "
                "(test signature, old certificate removed) at the next signet renew",
                token->serial);
  }
  return waiting;
}

gboolean
signet_renewal_poll(SignetState *state, const SignetProfileSet *profiles, SignetOperation *op,
                    GError **error)
{
  const SignetProfile *profile;
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(GPtrArray) cacerts = NULL;
  g_autoptr(SignetAnswer) result = NULL;
  g_autoptr(SignetTrust) trust = NULL;

  g_return_val_if_fail(op->state == SIGNET_OP_PENDING, FALSE);
  profile = op->profile != NULL && profiles != NULL
                ? signet_profile_set_lookup(profiles, op->profile)
                : NULL;
  if (profile == NULL) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "The CA profile '%s' of a pending renewal is gone", op->profile);
    return FALSE;
  }
  connector = signet_connector_new(profile, error);
  if (connector == NULL || (cacerts = signet_connector_ca_certs(connector, error)) == NULL)
    return FALSE;
  trust = signet_renew_roots(state, profile, op, cacerts, error);
  if (trust == NULL)
    return FALSE;
  /* No PIN here, so no TLS client authentication: the CA recognises the
   * request it accepted (docs/internals/renewal.md). */
  {
    SignetConnectorPoll poll = {
      .csr_pem = op->request_pem,
      .poll_state = op->poll_state,
      .renewal = TRUE,
    };

    result = signet_connector_poll(connector, &poll, error);
  }
  if (result == NULL)
    return FALSE;
  if (result->status == SIGNET_ANSWER_PENDING) {
    op->retry_at = g_date_time_to_unix(result->retry_at);
    signet_renew_set_poll_state(op, result);
    return signet_state_op_save(state, op, signet_clock_now(), error);
  }
  /* The request holds the new key's public half (no token needed). */
  {
    g_autoptr(BIO) bio = BIO_new_mem_buf(op->request_pem, -1);
    X509_REQ *req = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    gboolean ok;

    g_free(op->step);
    op->step = g_strdup("verify");
    g_free(op->legacy_algorithms);
    op->legacy_algorithms = g_strdup(result->legacy_algorithms);
    ok = signet_renew_journal_issued(state, op, req != NULL ? X509_REQ_get0_pubkey(req) : NULL,
                                     result->certs, cacerts, trust, error);
    X509_REQ_free(req);
    return ok;
  }
}
