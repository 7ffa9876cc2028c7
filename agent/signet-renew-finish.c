/* signet-renew-finish.c: the steps of a renewal after the CA issued: the
 * chain checked and journaled, the certificate written and read back, the
 * test signature, the old certificate and key removed
 * (signet-renew-private.h). */
#include "config.h"

#include "agent/signet-renew-private.h"

/* ---- the steps after the CA issued ------------------------------------------ */

/* The token's private key @id exists (after login). */
gboolean
signet_renew_has_private_key(Run *run, GBytes *id, GError **error)
{
  g_autoptr(GPtrArray) pairs = signet_p11_session_list_key_pairs(run->r->session, error);

  if (pairs == NULL)
    return FALSE;
  for (guint i = 0; i < pairs->len; i++) {
    SignetP11KeyPair *k = g_ptr_array_index(pairs, i);
    if (k->has_private && g_bytes_equal(k->id, id))
      return TRUE;
  }
  return FALSE;
}

static GVariant *
describe(Run *run, X509 *leaf, guint n_stored, guint n_present, gboolean old_removed)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "profile", g_variant_new_string(run->profile->name));
  g_variant_builder_add(&b, "{sv}", "token_serial", g_variant_new_string(run->serial));
  g_variant_builder_add(&b, "{sv}", "token_label", g_variant_new_string(run->name));
  g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(run->op->new_key_id));
  g_variant_builder_add(&b, "{sv}", "old_id", g_variant_new_string(run->op->old_key_id));
  g_variant_builder_add(&b, "{sv}", "keep_key", g_variant_new_boolean(run->op->keep_key));
  signet_token_dict_add_issued(&b, leaf);
  g_variant_builder_add(&b, "{sv}", "chain_stored", g_variant_new_uint32(n_stored));
  g_variant_builder_add(&b, "{sv}", "chain_present", g_variant_new_uint32(n_present));
  g_variant_builder_add(&b, "{sv}", "old_removed", g_variant_new_boolean(old_removed));
  g_variant_builder_add(&b, "{sv}", "resumed", g_variant_new_boolean(run->resumed));
  return g_variant_builder_end(&b);
}

/* The certificate object on the token under @id that is @leaf (same DER),
 * read back from the token; NO_SUCH_OBJECT if the token has none. */
static SignetP11Certificate *
stored_certificate(Run *run, GBytes *id, X509 *leaf, GError **error)
{
  g_autoptr(GPtrArray) certs = signet_p11_session_list_certificates(run->r->session, error);

  if (certs == NULL)
    return NULL;
  for (guint i = 0; i < certs->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(certs, i);

    if (c->id != NULL && g_bytes_equal(c->id, id) && c->cert != NULL
        && X509_cmp(c->cert, leaf) == 0)
      return g_ptr_array_steal_index(certs, i);
  }
  g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
              "token '%s' does not hold the new certificate under the new key's id %s (read "
              "back after writing it); run signet renew again",
              run->name, run->op->new_key_id);
  return NULL;
}

/* ISSUED: certificates_pem holds the leaf, then the chain. Writes it, tests
 * it, removes the old credential, and finishes the journal entry. Any
 * failure leaves the entry ISSUED: the next renewal resumes here. */
GVariant *
signet_renew_finish_issued(Run *run, GError **error)
{
  const char *pem = run->op->certificates_pem;
  g_autoptr(GPtrArray) chain = NULL;
  g_autoptr(GBytes) new_id = signet_renew_op_new_id(run);
  g_autoptr(GBytes) old_id = signet_renew_op_old_id(run);
  g_autoptr(GError) local = NULL;
  guint n_stored = 0, n_present = 0;
  gboolean old_removed = FALSE;
  const char *label;
  X509 *leaf;

  chain = signet_certfile_parse((const guint8 *)pem, strlen(pem), error);
  if (chain == NULL || new_id == NULL) {
    g_prefix_error(error, "The journal's certificate could not be read back: ");
    return NULL;
  }
  leaf = g_ptr_array_index(chain, 0);
  label = run->old_label != NULL && *run->old_label != '\0' ? run->old_label
                                                            : run->profile->certificate_label;

  if (!signet_renew_step(run, "store", error))
    return NULL;
  signet_renew_progress(run, "store", "Writing the new certificate and the CA chain to the token");
  /* Written again unless the token holds it (a journal that says it was
   * stored is not proof: the object may have gone since). */
  if (!signet_install_leaf(run->r->session, leaf, new_id, label, NULL, error))
    return NULL;
  if (!signet_install_chain(run->r->session, leaf, chain, run->profile->chain_label, &n_stored,
                            &n_present, error))
    return NULL;
  signet_fault_point("store+");
  run->op->cert_stored = TRUE;
  signet_renew_save(run);

  if (!signet_renew_step(run, "test-signature", error))
    return NULL;
  signet_renew_progress(run, "test-signature",
                        "Signing a test message with the new key on the token");
  {
    /* Nothing on the journal's word: the certificate the test checks is
     * the object read back from the token. */
    g_autoptr(SignetP11Certificate) stored = stored_certificate(run, new_id, leaf, error);
    /* Signed through the operation's own session: a token pulled meanwhile
     * is told as such (TokenRemoved). */
    SignetP11KeyRef key = { run->r->session, new_id };

    if (stored == NULL
        || !signet_x509_test_signature(signet_p11_key_ref_sign, &key, stored->cert, error)) {
      g_prefix_error(error, "The new certificate was written to the token but the check of it "
                            "there failed, so the old certificate and key were kept: ");
      return NULL;
    }
  }

  if (!signet_renew_step(run, "remove-old", error))
    return NULL;
  if (run->op->keep_key) {
    signet_renew_progress(run, "remove-old",
                          "Removing the old certificate (the key stays: it is renewed)");
    if (run->old_cert != NULL
        && !signet_p11_session_delete_certificate(run->r->session, run->old_cert, &local)
        && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
  } else {
    g_autoptr(GPtrArray) others = NULL;

    signet_renew_progress(run, "remove-old", "Removing the old certificate and its key");
    /* The renewed certificate only: other certificates of the old key are
     * the holder's, and keep their key. */
    if (run->old_cert != NULL
        && !signet_p11_session_delete_certificate(run->r->session, run->old_cert, &local)
        && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
    g_clear_error(&local);
    others = old_id != NULL ? signet_renew_certificates_of_key(run, old_id, error) : NULL;
    if (old_id != NULL && others == NULL)
      return NULL;
    if (others != NULL && others->len > 0) {
      g_autofree char *list = signet_renew_list_certificates(others);
      g_message("renew: kept the old key %s on token '%s': other certificates use it (%s)",
                run->op->old_key_id, run->name, list);
    } else if (old_id != NULL
               && !signet_p11_session_delete_key_pair(run->r->session, old_id, &local)
               && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
  }
  g_clear_error(&local);
  old_removed = TRUE;
  signet_fault_point("remove-old+");

  if (!signet_renew_step(run, "done", error))
    return NULL;
  signet_install_track(run->r->state, run->serial, run->op->new_key_id, leaf, run->profile->name,
                       run->op->legacy_algorithms);
  {
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(leaf));
    g_autofree char *serial = signet_x509_serial_to_string(leaf);
    g_autofree char *message = g_strdup_printf("renewed '%s': new certificate %s, key %s", subject,
                                               serial, run->op->new_key_id);
    signet_renew_close_op(run, SIGNET_OP_FINISHED, message);
    g_message("renew: %s on token '%s'", message, run->name);
  }
  signet_renew_progress(run, "done",
                        "Renewed: the new certificate is on the token and the old one is removed. "
                        "Institutions you sign with may need the new certificate");
  return describe(run, leaf, n_stored, n_present, old_removed);
}

/* The roots a renewal of @op's certificate must chain to
 * (docs/internals/trust.md): the profile's ca-roots and the roots recorded
 * for the certificate renewed (at its activation, renewal or import); with
 * neither (a certificate from before roots were recorded, or imported
 * unverified), the self-signed certificates of @cacerts, as at activation.
 * @cacerts (the CA's /cacerts over verified TLS) must lead to them: a CA
 * that now issues under another root is refused here, before the token is
 * touched. */
SignetTrust *
signet_renew_roots(SignetState *state, const SignetProfile *profile, const SignetOperation *op,
                   GPtrArray *cacerts, GError **error)
{
  g_autoptr(SignetTrust) trust = signet_trust_new();
  g_autoptr(GError) local = NULL;
  g_autoptr(GDateTime) now = signet_clock_now_utc();

  if (!signet_trust_add_profile_roots(trust, profile, error))
    return NULL;
  (void)signet_trust_add_recorded(trust, state, op->token_serial, op->old_cert_issuer,
                                  op->old_cert_serial, &local);
  if (local != NULL) {
    g_warning("renew: %s", local->message);
    g_clear_error(&local);
  }
  if (signet_trust_count(trust) == 0 && signet_trust_add_cacerts_roots(trust, cacerts) == 0) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                "Signet has no record of the root certificate this certificate was issued "
                "under, and the CA's certificates (/cacerts) hold none, so the renewed "
                "certificate could not be checked; nothing was changed on the token. Ask your "
                "CA for a profile that names its root certificates (ca-roots)");
    return NULL;
  }
  if (!signet_trust_check_cacerts(trust, cacerts, now, &local)) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                "The CA now issues under another root certificate: %s. Nothing was changed on "
                "the token, the current certificate stays. If your CA has changed its root "
                "certificate, install its updated profile (with the new root in ca-roots) and "
                "renew again; otherwise contact your CA",
                local->message);
    return NULL;
  }
  return g_steal_pointer(&trust);
}

/* What the CA issued (@certs; @cacerts may add the chain) for @public_key,
 * checked: the leaf holds that key and chains to the CA's certificates.
 * Journals it as ISSUED (the leaf first, then its CA chain) before anything
 * is written to a token: from here on the CA's work must not be lost. */
gboolean
signet_renew_journal_issued(SignetState *state, SignetOperation *op, EVP_PKEY *public_key,
                            GPtrArray *certs, GPtrArray *cacerts, const SignetTrust *trust,
                            GError **error)
{
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GDateTime) now = signet_clock_now_utc();
  g_autofree char *pem = NULL;
  X509 *leaf = NULL;

  for (guint i = 0; public_key != NULL && i < certs->len && leaf == NULL; i++)
    if (signet_x509_matches_key(g_ptr_array_index(certs, i), public_key))
      leaf = g_ptr_array_index(certs, i);
  if (leaf == NULL) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                        "The CA returned a certificate for another key, not for the new key on "
                        "your token; nothing was written, the current certificate stays. Try "
                        "again later, or contact your CA");
    return FALSE;
  }
  all = signet_x509_join_unique(certs, cacerts);
  /* What came with the certificate (and /cacerts) only builds the chain:
   * it must end at a root the holder trusted before. */
  if (!signet_trust_verify(trust, leaf, all, now, NULL, &local)) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                "The new certificate does not chain to a root you trust for this CA: %s. "
                "Nothing was written to the token, the current certificate stays. If your CA "
                "has changed its root certificate, install its updated profile (with the new "
                "root in ca-roots) and renew again; otherwise contact your CA",
                local->message);
    return FALSE;
  }
  /* The next renewal of the new certificate ends at the same roots. */
  signet_trust_record(trust, state, op->token_serial, leaf);
  pem = signet_renew_certs_to_pem(leaf, all);
  if (pem == NULL) {
    g_set_error_literal(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                        "Could not write the certificates as PEM");
    return FALSE;
  }
  g_free(op->certificates_pem);
  op->certificates_pem = g_steal_pointer(&pem);
  op->state = SIGNET_OP_ISSUED;
  op->retry_at = 0;
  if (!signet_state_op_save(state, op, signet_clock_now(), error)) {
    g_prefix_error(error, "The CA issued the certificate but the journal could not keep it: ");
    return FALSE;
  }
  return TRUE;
}

/* The verify step: the new key's public half from the token. */
gboolean
signet_renew_verify_issued(Run *run, GPtrArray *certs, GPtrArray *cacerts, GError **error)
{
  g_autoptr(GBytes) new_id = signet_renew_op_new_id(run);
  g_autoptr(EVP_PKEY) public_key = NULL;

  if (!signet_renew_step(run, "verify", error))
    return FALSE;
  signet_renew_progress(run, "verify",
                        "Checking the new certificate: your new key, and the CA's chain");
  public_key = signet_p11_session_get_public_key(run->r->session, new_id, error);
  if (public_key == NULL)
    return FALSE;
  if (signet_renew_journal_issued(run->r->state, run->op, public_key, certs, cacerts, run->trust,
                                  error))
    return TRUE;
  run->conflict = error != NULL && signet_state_error_is_conflict(*error);
  return FALSE;
}
