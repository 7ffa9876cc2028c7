/* signet-install.c: see signet-install.h. */
#include "config.h"

#include "agent/signet-install.h"

#include "agent/signet-clock.h"
#include "enroll/signet-x509.h"

gboolean
signet_install_leaf(SignetP11Session *session, X509 *leaf, GBytes *id, const char *label,
                    gboolean *out_present, GError **error)
{
  g_autoptr(GError) local = NULL;
  gboolean there = signet_p11_session_has_certificate(session, leaf, &local);

  if (out_present != NULL)
    *out_present = FALSE;
  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (out_present != NULL)
    *out_present = there;
  return there || signet_p11_session_store_certificate(session, leaf, id, label, FALSE, error);
}

gboolean
signet_install_chain(SignetP11Session *session, X509 *leaf, GPtrArray *chain,
                     const char *chain_label, guint *n_stored, guint *n_present, GError **error)
{
  for (guint i = 0; i < chain->len; i++) {
    X509 *c = g_ptr_array_index(chain, i);
    g_autoptr(GError) local = NULL;
    gboolean there;

    if (c == leaf || X509_cmp(c, leaf) == 0)
      continue;
    if (!signet_x509_is_ca(c)) {
      g_debug("certificate %u of the chain is neither the holder's nor a CA's: not stored", i);
      continue;
    }
    there = signet_p11_session_has_certificate(session, c, &local);
    if (local != NULL) {
      g_propagate_error(error, g_steal_pointer(&local));
      return FALSE;
    }
    if (there) {
      (*n_present)++;
      continue;
    }
    if (!signet_p11_session_store_certificate(session, c, NULL, chain_label, TRUE, error))
      return FALSE;
    (*n_stored)++;
  }
  return TRUE;
}

void
signet_install_track(SignetState *state, const char *token_serial, const char *key_id, X509 *cert,
                     const char *profile, const char *legacy_algorithms)
{
  SignetStateCert c = { 0 };
  g_autoptr(GError) local = NULL;
  g_autofree char *serial = NULL;
  g_autofree char *issuer = NULL;
  g_autofree char *subject = NULL;

  if (state == NULL)
    return;
  serial = signet_x509_serial_to_string(cert);
  issuer = signet_x509_name_to_string(X509_get_issuer_name(cert));
  subject = signet_x509_name_to_string(X509_get_subject_name(cert));
  c.token_serial = (char *)token_serial;
  c.key_id = (char *)key_id;
  c.serial = serial;
  c.issuer = issuer;
  c.subject = subject;
  c.profile = (char *)profile;
  c.legacy_algorithms = (char *)legacy_algorithms;
  c.not_before = signet_asn1_time_to_unix(X509_get0_notBefore(cert));
  c.not_after = signet_asn1_time_to_unix(X509_get0_notAfter(cert));
  c.present = TRUE;
  if (!signet_state_cert_track(state, &c, signet_clock_now(), &local))
    g_warning("could not record the certificate of '%s': %s", subject, local->message);
}
