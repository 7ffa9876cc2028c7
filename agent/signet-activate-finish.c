/* signet-activate-finish.c: the steps of an activation after the CA
 * issued: the leaf found and checked, the chain verified and journaled,
 * the certificate and chain installed; a kept certificate finished; a
 * generated key cleaned up (signet-activate-private.h). */
#include "config.h"

#include "agent/signet-activate-private.h"

/* The certificate among @certs that holds the new key's public half: read
 * from the request when there is one (the CA's answer is checked, and kept,
 * before the token is touched again), else from the token. */
static X509 *
find_leaf(Run *run, GPtrArray *certs, GError **error)
{
  g_autoptr(EVP_PKEY) public_key
      = run->op->request_pem != NULL
            ? signet_csr_public_key(run->op->request_pem, error)
            : signet_p11_session_get_public_key(run->a->session, run->new_id, error);

  if (public_key == NULL)
    return NULL;
  for (guint i = 0; i < certs->len; i++)
    if (signet_x509_matches_key(g_ptr_array_index(certs, i), public_key))
      return g_ptr_array_index(certs, i);
  g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                      "The CA returned a certificate for another key, not for the key "
                      "generated on your token; nothing was written to the token. Try again "
                      "later, or contact your CA");
  return NULL;
}

/* Stores @leaf under @id and the CA certificates of @chain; counts them. */
static gboolean
store(Run *run, X509 *leaf, GPtrArray *chain, guint *n_stored, guint *n_present, GError **error)
{
  SignetP11Session *s = run->a->session;
  const SignetProfile *p = run->a->profile;
  const char *label = run->a->label != NULL ? run->a->label : p->certificate_label;

  return signet_install_leaf(s, leaf, run->new_id, label, NULL, error)
         && signet_install_chain(s, leaf, chain, p->chain_label, n_stored, n_present, error);
}

static GVariant *
describe(Run *run, X509 *leaf, guint n_stored, guint n_present)
{
  g_autofree char *hex = signet_token_dict_id_to_hex(run->new_id);
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "profile", g_variant_new_string(run->a->profile->name));
  g_variant_builder_add(&b, "{sv}", "token_serial", g_variant_new_string(run->serial));
  g_variant_builder_add(&b, "{sv}", "token_label", g_variant_new_string(run->name));
  g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(hex));
  signet_token_dict_add_issued(&b, leaf);
  g_variant_builder_add(&b, "{sv}", "chain_stored", g_variant_new_uint32(n_stored));
  g_variant_builder_add(&b, "{sv}", "chain_present", g_variant_new_uint32(n_present));
  return g_variant_builder_end(&b);
}

/* Writes what the CA issued (@certs: the CA's answer; @cacerts: /cacerts
 * or NULL when the answer holds the chain) after checking it. */
GVariant *
signet_activate_verify_and_store(Run *run, GPtrArray *certs, GPtrArray *cacerts, GError **error)
{
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *kept = NULL;
  guint n_stored = 0, n_present = 0;
  X509 *leaf;

  signet_activate_progress(run, "verify",
                           "Checking the certificate: your new key, and the CA's chain");
  leaf = find_leaf(run, certs, error);
  if (leaf == NULL)
    return NULL;
  all = signet_x509_join_unique(certs, cacerts);
  if (run->trust == NULL && !signet_activate_choose_kept_roots(run, leaf, error))
    return NULL;
  /* What came with the certificate (and /cacerts) only builds the chain:
   * it must end at a root the holder trusted before. */
  if (!signet_trust_verify(run->trust, leaf, all, NULL, NULL, &local)) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH,
                "The certificate the CA returned does not chain to a root you trust for this "
                "CA: %s. Nothing was written to the token. Contact your CA; if it has changed "
                "its root certificate, install its updated profile",
                local->message);
    return NULL;
  }
  /* Its renewal must end at the same roots. */
  signet_trust_record(run->trust, run->a->state, run->serial, leaf);

  /* From here on the CA's work must not be lost, and its key is never
   * deleted: the certificate is kept in the journal before the token is
   * written, and if it cannot be kept (disk full), nothing is written. */
  run->keep_key = TRUE;
  if (run->op->state != SIGNET_OP_ISSUED) {
    g_autoptr(GPtrArray) ordered = g_ptr_array_new();
    g_autofree char *pem = NULL;

    g_ptr_array_add(ordered, leaf);
    for (guint i = 0; i < all->len; i++)
      if (g_ptr_array_index(all, i) != leaf && signet_x509_is_ca(g_ptr_array_index(all, i)))
        g_ptr_array_add(ordered, g_ptr_array_index(all, i));
    pem = signet_activate_certs_to_pem(ordered, error);
    if (pem == NULL)
      return NULL;
    g_free(run->op->certificates_pem);
    run->op->certificates_pem = g_steal_pointer(&pem);
    run->op->state = SIGNET_OP_ISSUED;
    run->op->retry_at = 0;
    signet_activate_set_step(run, "store");
    if (!signet_activate_journal(run, &local)) {
      g_autofree char *why = signet_activate_without_stop(local->message);

      run->op->state = SIGNET_OP_RUNNING;
      g_set_error(error, local->domain, local->code,
                  "The CA issued your certificate, but Signet could not keep it before writing "
                  "it to the token (%s), so nothing was written. Fix that and run the same "
                  "activation again: the same request is sent again and the new key stays on "
                  "the token for it",
                  why);
      return NULL;
    }
  }

  signet_activate_progress(run, "store", "Writing the certificate and the CA chain to the token");
  if (!store(run, leaf, all, &n_stored, &n_present, &local)) {
    g_set_error(error, local->domain, local->code,
                "The CA issued your certificate, but it could not be written to the token: "
                "%s. Signet keeps it; run the same activation again to write it (the "
                "activation code is not needed again)",
                local->message);
    return NULL;
  }
  signet_fault_point("store+");
  kept = signet_x509_name_to_string(X509_get_subject_name(leaf));
  g_message("activate: stored the certificate of '%s' and %u CA certificate(s) on token '%s'", kept,
            n_stored, run->name);
  {
    g_autofree char *key_id = signet_token_dict_id_to_hex(run->new_id);
    /* Renewal goes back to the CA that issued it. */
    signet_install_track(run->a->state, run->serial, key_id, leaf, run->a->profile->name,
                         run->op->legacy_algorithms);
  }
  {
    g_autofree char *serial = signet_x509_serial_to_string(leaf);
    g_autofree char *until = signet_asn1_time_to_iso8601(X509_get0_notAfter(leaf));
    g_autofree char *message = g_strdup_printf("activated: certificate %s of %s, valid until %s",
                                               serial, kept, until != NULL ? until : "?");

    signet_activate_close_entry(run, SIGNET_OP_FINISHED, message);
  }
  signet_activate_progress(run, "done",
                           "Activated: the certificate and its chain are on the token");
  return describe(run, leaf, n_stored, n_present);
}

/* A key left by an activation that stopped before the CA answered. */
gboolean
signet_activate_clean_up_generated(Run *run, GError **error)
{
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) key_id = signet_hex_decode(run->op->new_key_id);
  const char *hex = run->op->new_key_id;
  gboolean has_cert = FALSE;
  g_autofree char *why = NULL;

  signet_activate_progress(run, "cleanup",
                           "Removing the key left by an activation that did not finish");
  certs = signet_p11_session_list_certificates(run->a->session, error);
  if (certs == NULL)
    return FALSE;
  for (guint i = 0; i < certs->len; i++) {
    const SignetP11Certificate *c = g_ptr_array_index(certs, i);
    if (c->id != NULL && key_id != NULL && g_bytes_equal(c->id, key_id))
      has_cert = TRUE;
  }
  if (!has_cert && key_id != NULL
      && !signet_p11_session_delete_key_pair(run->a->session, key_id, &local)
      && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  g_message("activate: removed key %s left by an unfinished activation on token '%s'", hex,
            run->name);
  why = g_strdup_printf("interrupted at step %s before the request was sent; its key %s was "
                        "removed by the next activation",
                        run->op->step != NULL ? run->op->step : "(none)", hex);
  signet_activate_close_entry(run, SIGNET_OP_ROLLED_BACK, why);
  if (run->conflict) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WRONG_ETAG,
                        "Another task changed this activation's journal entry: run the "
                        "activation again");
    return FALSE;
  }
  g_clear_pointer(&run->op, signet_operation_free);
  run->resumed = FALSE;
  return TRUE;
}

GVariant *
signet_activate_finish_kept(Run *run, GError **error)
{
  g_autoptr(GPtrArray) certs = NULL;
  const char *pem = run->op->certificates_pem != NULL ? run->op->certificates_pem : "";

  signet_activate_progress(run, "enroll",
                           "Using the certificate the CA issued earlier (kept since then)");
  certs = signet_certfile_parse((const guint8 *)pem, strlen(pem), error);
  if (certs == NULL)
    return NULL;
  run->keep_key = TRUE;
  return signet_activate_verify_and_store(run, certs, NULL, error);
}
