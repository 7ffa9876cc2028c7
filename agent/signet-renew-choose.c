/* signet-renew-choose.c: which certificate a renewal renews, and with
 * which profile (signet-renew-private.h). */
#include "config.h"

#include "agent/signet-renew-private.h"

/* ---- choosing the certificate --------------------------------------------- */

/* Leaf certificates with a key pair id on the token. */
static GPtrArray *
renewable_certificates(Run *run, GError **error)
{
  g_autoptr(GPtrArray) certs = signet_p11_session_list_certificates(run->r->session, error);
  GPtrArray *out;

  if (certs == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_certificate_free);
  for (guint i = 0; i < certs->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(certs, i);
    if (c->authority || c->id == NULL || g_bytes_get_size(c->id) == 0 || signet_x509_is_ca(c->cert))
      continue;
    g_ptr_array_add(out, g_steal_pointer(&certs->pdata[i]));
  }
  return out;
}

/* @text without colons, spaces and leading zeros, in lower case: how a
 * serial, a key id or a fingerprint is compared. */
char *
signet_renew_normalize_hex(const char *text)
{
  GString *out = g_string_new(NULL);

  for (const char *p = text; *p != '\0'; p++)
    if (*p != ':' && *p != ' ' && !(out->len == 0 && *p == '0'))
      g_string_append_c(out, g_ascii_tolower(*p));
  return g_string_free(out, FALSE);
}

gboolean
signet_renewal_cert_matches(const char *selector, const char *key_id, X509 *cert)
{
  g_autofree char *want = signet_renew_normalize_hex(selector);
  g_autofree char *id = key_id != NULL ? signet_renew_normalize_hex(key_id) : NULL;
  g_autofree char *serial = NULL;
  g_autofree char *serial_hex = NULL;
  guint8 md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  g_autofree char *fingerprint = NULL;

  if (*want == '\0')
    return FALSE;
  if (id != NULL && g_str_equal(want, id))
    return TRUE;
  if (cert == NULL)
    return FALSE;
  serial = signet_x509_serial_to_string(cert);
  serial_hex = signet_renew_normalize_hex(serial);
  if (g_str_equal(want, serial_hex))
    return TRUE;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1)
    return FALSE;
  fingerprint = signet_hex_encode(md, md_len);
  g_autofree char *fp = signet_renew_normalize_hex(fingerprint);
  return g_str_equal(want, fp);
}

/* "serial 1a2b (key id 01ab, CN=…, valid until 2027-01-01)" for each. */
char *
signet_renew_list_certificates(GPtrArray *certs)
{
  GString *out = g_string_new(NULL);

  for (guint i = 0; i < certs->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(certs, i);
    g_autofree char *hex = signet_token_dict_id_to_hex(c->id);
    g_autofree char *serial = signet_x509_serial_to_string(c->cert);
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(c->cert));
    g_autofree char *until = signet_asn1_time_to_iso8601(X509_get0_notAfter(c->cert));

    g_string_append_printf(out, "%sserial %s (key id %s, %s, valid until %.10s)", i > 0 ? "; " : "",
                           serial, hex, subject, until != NULL ? until : "?");
  }
  return g_string_free(out, FALSE);
}

/* The holder certificates still under key @id. */
GPtrArray *
signet_renew_certificates_of_key(Run *run, GBytes *id, GError **error)
{
  g_autoptr(GPtrArray) certs = renewable_certificates(run, error);
  GPtrArray *out;

  if (certs == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_certificate_free);
  for (guint i = 0; i < certs->len; i++)
    if (g_bytes_equal(((SignetP11Certificate *)g_ptr_array_index(certs, i))->id, id))
      g_ptr_array_add(out, g_steal_pointer(&certs->pdata[i]));
  return out;
}

gboolean
signet_renew_choose_certificate(Run *run, GError **error)
{
  g_autoptr(GPtrArray) certs = renewable_certificates(run, error);
  g_autoptr(GPtrArray) matches = g_ptr_array_new();
  const char *selector = run->selector;
  SignetP11Certificate *chosen;

  if (certs == NULL)
    return FALSE;
  if (certs->len == 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
                "Token '%s' has no certificate with a key to renew; activate it first "
                "(signet activate)",
                run->name);
    return FALSE;
  }
  for (guint i = 0; i < certs->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(certs, i);
    g_autofree char *hex = signet_token_dict_id_to_hex(c->id);

    if (selector == NULL || signet_renewal_cert_matches(selector, hex, c->cert))
      g_ptr_array_add(matches, c);
  }
  if (matches->len == 0) {
    g_autofree char *list = signet_renew_list_certificates(certs);

    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
                "Token '%s' has no certificate with key id, serial or fingerprint %s; it has: "
                "%s",
                run->name, selector, list);
    return FALSE;
  }
  if (matches->len > 1) {
    g_autofree char *list = signet_renew_list_certificates(matches);

    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "Token '%s' has %u certificates%s%s: say which one to renew with --cert SERIAL "
                "(%s)",
                run->name, matches->len, selector != NULL ? " for " : "",
                selector != NULL ? selector : "", list);
    return FALSE;
  }
  chosen = g_ptr_array_index(matches, 0);
  run->old_cert = X509_dup(chosen->cert);
  run->old_label = g_strdup(chosen->label);
  run->op->old_key_id = signet_token_dict_id_to_hex(chosen->id);
  run->op->old_cert_serial = signet_x509_serial_to_string(chosen->cert);
  run->op->old_cert_issuer = signet_x509_name_to_string(X509_get_issuer_name(chosen->cert));
  return TRUE;
}

/* The certificate of an interrupted renewal, found again by value. */
gboolean
signet_renew_find_old_certificate(Run *run, GError **error)
{
  g_autoptr(GPtrArray) certs = renewable_certificates(run, error);

  if (certs == NULL)
    return FALSE;
  for (guint i = 0; i < certs->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(certs, i);
    g_autofree char *serial = signet_x509_serial_to_string(c->cert);
    g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(c->cert));

    if (g_strcmp0(serial, run->op->old_cert_serial) == 0
        && g_strcmp0(issuer, run->op->old_cert_issuer) == 0) {
      run->old_cert = X509_dup(c->cert);
      run->old_label = g_strdup(c->label);
      return TRUE;
    }
  }
  return TRUE; /* gone: removed by the interrupted renewal itself */
}

gboolean
signet_renew_check_validity(Run *run, GError **error)
{
  g_autoptr(GDateTime) now = signet_clock_now_utc();
  gint64 t = g_date_time_to_unix(now);
  gint64 not_after = signet_asn1_time_to_unix(X509_get0_notAfter(run->old_cert));
  gint64 not_before = signet_asn1_time_to_unix(X509_get0_notBefore(run->old_cert));
  g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(run->old_cert));

  if (not_after <= t) {
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(not_after);
    g_autofree char *date = g_date_time_format(when, "%Y-%m-%d");

    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_EXPIRED,
                "The certificate of '%s' on token '%s' expired on %s: renewal is authenticated "
                "with the current certificate, so it is no longer possible. Request a new "
                "certificate from your CA (activation), on this token",
                subject, run->name, date);
    return FALSE;
  }
  if (not_before > t) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "The certificate of '%s' on token '%s' is not valid yet; check the computer's "
                "clock",
                subject, run->name);
    return FALSE;
  }
  return TRUE;
}

gboolean
signet_renew_find_profile(Run *run, GError **error)
{
  const char *name = run->r->profile_name;
  g_autofree char *recorded = NULL;

  if (name == NULL && run->op->profile != NULL)
    name = run->op->profile;
  if (name == NULL) {
    g_autoptr(GError) local = NULL;
    recorded = signet_state_cert_profile(run->r->state, run->serial, run->op->old_cert_issuer,
                                         run->op->old_cert_serial, &local);
    if (local != NULL)
      g_warning("renew: %s", local->message);
    name = recorded;
  }
  if (name == NULL) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Signet has no record of which CA issued this certificate (it was not activated "
                "with Signet): name the CA's profile with --profile NAME (signet profile list)");
    return FALSE;
  }
  run->profile
      = run->r->profiles != NULL ? signet_profile_set_lookup(run->r->profiles, name) : NULL;
  if (run->profile == NULL) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "No CA profile named '%s' (signet profile list shows them)", name);
    return FALSE;
  }
  if (run->op->profile == NULL)
    run->op->profile = g_strdup(run->profile->name);
  return TRUE;
}
