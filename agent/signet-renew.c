/* signet-renew.c: see signet-renew.h. */
#include "config.h"

#include "agent/signet-renew.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "agent/signet-errors.h"
#include "agent/signet-clock.h"
#include "agent/signet-install.h"
#include "agent/signet-testhooks.h"
#include "agent/signet-token-dict.h"
#include "agent/signet-trust.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-x509.h"

typedef struct
{
  const SignetRenewal *r;
  char *serial;                 /* the token's serial (copied: the session re-reads it) */
  char *name;                   /* its label, else its serial */
  SignetOperation *op;          /* the journal entry */
  const SignetProfile *profile; /* the CA */
  X509 *old_cert;               /* the certificate being renewed (owned) */
  char *old_label;
  gboolean resumed;
  gboolean send_again; /* resumed: the request was sent, its answer never came */
  gboolean logged_in;  /* the PIN is sent once per call */
  char *selector;      /* which certificate (--cert, or the interrupted one's serial) */
  gboolean conflict;   /* another task changed the journal entry: touch nothing more */
  SignetTrust *trust;  /* the roots the new chain must end at */
} Run;

static void progress(Run *run, const char *step, const char *format, ...) G_GNUC_PRINTF(3, 4);

static void
progress(Run *run, const char *step, const char *format, ...)
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
static gboolean
step(Run *run, const char *name, GError **error)
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

static void
save(Run *run)
{
  g_autoptr(GError) local = NULL;

  if (signet_state_op_save(run->r->state, run->op, signet_clock_now(), &local))
    return;
  run->conflict = run->conflict || signet_state_error_is_conflict(local);
  g_warning("renew: could not update the journal: %s", local->message);
}

static char *
certs_to_pem(X509 *leaf, GPtrArray *chain)
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

static GBytes *
op_new_id(Run *run)
{
  return run->op->new_key_id != NULL ? signet_hex_decode(run->op->new_key_id) : NULL;
}

static GBytes *
op_old_id(Run *run)
{
  return run->op->old_key_id != NULL ? signet_hex_decode(run->op->old_key_id) : NULL;
}

static void
close_op(Run *run, SignetOpState final, const char *message)
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
static char *
normalize_hex(const char *text)
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
  g_autofree char *want = normalize_hex(selector);
  g_autofree char *id = key_id != NULL ? normalize_hex(key_id) : NULL;
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
  serial_hex = normalize_hex(serial);
  if (g_str_equal(want, serial_hex))
    return TRUE;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1)
    return FALSE;
  fingerprint = signet_hex_encode(md, md_len);
  g_autofree char *fp = normalize_hex(fingerprint);
  return g_str_equal(want, fp);
}

/* "serial 1a2b (key id 01ab, CN=…, valid until 2027-01-01)" for each. */
static char *
list_certificates(GPtrArray *certs)
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
static GPtrArray *
certificates_of_key(Run *run, GBytes *id, GError **error)
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

static gboolean
choose_certificate(Run *run, GError **error)
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
    g_autofree char *list = list_certificates(certs);

    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
                "Token '%s' has no certificate with key id, serial or fingerprint %s; it has: "
                "%s",
                run->name, selector, list);
    return FALSE;
  }
  if (matches->len > 1) {
    g_autofree char *list = list_certificates(matches);

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
static gboolean
find_old_certificate(Run *run, GError **error)
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

static gboolean
check_validity(Run *run, GError **error)
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

static gboolean
find_profile(Run *run, GError **error)
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

/* ---- the steps after the CA issued ------------------------------------------ */

/* The token's private key @id exists (after login). */
static gboolean
has_private_key(Run *run, GBytes *id, GError **error)
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
static GVariant *
finish_issued(Run *run, GError **error)
{
  const char *pem = run->op->certificates_pem;
  g_autoptr(GPtrArray) chain = NULL;
  g_autoptr(GBytes) new_id = op_new_id(run);
  g_autoptr(GBytes) old_id = op_old_id(run);
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

  if (!step(run, "store", error))
    return NULL;
  progress(run, "store", "Writing the new certificate and the CA chain to the token");
  /* Written again unless the token holds it (a journal that says it was
   * stored is not proof: the object may have gone since). */
  if (!signet_install_leaf(run->r->session, leaf, new_id, label, NULL, error))
    return NULL;
  if (!signet_install_chain(run->r->session, leaf, chain, run->profile->chain_label, &n_stored,
                            &n_present, error))
    return NULL;
  signet_fault_point("store+");
  run->op->cert_stored = TRUE;
  save(run);

  if (!step(run, "test-signature", error))
    return NULL;
  progress(run, "test-signature", "Signing a test message with the new key on the token");
  {
    /* Nothing on the journal's word: the certificate the test checks is
     * the object read back from the token. */
    g_autoptr(SignetP11Certificate) stored = stored_certificate(run, new_id, leaf, error);
    g_autoptr(EVP_PKEY) key = NULL;

    if (stored != NULL)
      key = signet_p11_session_get_private_key(run->r->session, new_id, error);
    if (key == NULL || !signet_x509_test_signature(key, stored->cert, error)) {
      g_prefix_error(error, "The new certificate was written to the token but the check of it "
                            "there failed, so the old certificate and key were kept: ");
      return NULL;
    }
  }

  if (!step(run, "remove-old", error))
    return NULL;
  if (run->op->keep_key) {
    progress(run, "remove-old", "Removing the old certificate (the key stays: it is renewed)");
    if (run->old_cert != NULL
        && !signet_p11_session_delete_certificate(run->r->session, run->old_cert, &local)
        && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
  } else {
    g_autoptr(GPtrArray) others = NULL;

    progress(run, "remove-old", "Removing the old certificate and its key");
    /* The renewed certificate only: other certificates of the old key are
     * the holder's, and keep their key. */
    if (run->old_cert != NULL
        && !signet_p11_session_delete_certificate(run->r->session, run->old_cert, &local)
        && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
    g_clear_error(&local);
    others = old_id != NULL ? certificates_of_key(run, old_id, error) : NULL;
    if (old_id != NULL && others == NULL)
      return NULL;
    if (others != NULL && others->len > 0) {
      g_autofree char *list = list_certificates(others);
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

  if (!step(run, "done", error))
    return NULL;
  signet_install_track(run->r->state, run->serial, run->op->new_key_id, leaf, run->profile->name);
  {
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(leaf));
    g_autofree char *serial = signet_x509_serial_to_string(leaf);
    g_autofree char *message = g_strdup_printf("renewed '%s': new certificate %s, key %s", subject,
                                               serial, run->op->new_key_id);
    close_op(run, SIGNET_OP_FINISHED, message);
    g_message("renew: %s on token '%s'", message, run->name);
  }
  progress(run, "done",
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
static SignetTrust *
renewal_roots(SignetState *state, const SignetProfile *profile, const SignetOperation *op,
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
static gboolean
journal_issued(SignetState *state, SignetOperation *op, EVP_PKEY *public_key, GPtrArray *certs,
               GPtrArray *cacerts, const SignetTrust *trust, GError **error)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new();
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
  for (guint i = 0; i < certs->len; i++)
    g_ptr_array_add(all, g_ptr_array_index(certs, i));
  for (guint i = 0; cacerts != NULL && i < cacerts->len; i++)
    g_ptr_array_add(all, g_ptr_array_index(cacerts, i));
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
  pem = certs_to_pem(leaf, all);
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
static gboolean
verify_issued(Run *run, GPtrArray *certs, GPtrArray *cacerts, GError **error)
{
  g_autoptr(GBytes) new_id = op_new_id(run);
  g_autoptr(EVP_PKEY) public_key = NULL;

  if (!step(run, "verify", error))
    return FALSE;
  progress(run, "verify", "Checking the new certificate: your new key, and the CA's chain");
  public_key = signet_p11_session_get_public_key(run->r->session, new_id, error);
  if (public_key == NULL)
    return FALSE;
  if (journal_issued(run->r->state, run->op, public_key, certs, cacerts, run->trust, error))
    return TRUE;
  run->conflict = error != NULL && signet_state_error_is_conflict(*error);
  return FALSE;
}

/* ---- rolling back ------------------------------------------------------------ */

/* Before ISSUED: deletes the new key (never the kept one) and closes the
 * entry ROLLED_BACK. FALSE when the key could not be deleted (the entry
 * stays open: the next renewal of this token does it). */
static gboolean
roll_back(Run *run, const char *why, GError **error)
{
  g_autoptr(GBytes) new_id = op_new_id(run);
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
  if (new_id != NULL && !run->op->keep_key && !step(run, "roll-back", &local)) {
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
    save(run);
    if (error != NULL)
      g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (new_id != NULL && !run->op->keep_key)
    g_message("renew: deleted the new key %s on token '%s'; the current certificate stays",
              run->op->new_key_id, run->name);
  close_op(run, SIGNET_OP_ROLLED_BACK, why);
  return TRUE;
}

/* ---- the CA ------------------------------------------------------------------ */

/* What a PENDING answer asks to keep for the poll (journaled with it). */
static void
set_poll_state(SignetOperation *op, const SignetAnswer *answer)
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

  g_autoptr(GBytes) old_id = op_old_id(run);
  g_autoptr(EVP_PKEY) old_key = NULL;

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
  if (run->op->state == SIGNET_OP_PENDING) {
    SignetConnectorPoll poll = {
      .csr_pem = run->op->request_pem,
      .poll_state = run->op->poll_state,
      .renewal = TRUE,
      .identity = &identity,
    };

    return signet_connector_poll(connector, &poll, error);
  }
  return signet_connector_reenroll(connector, &identity, run->op->request_pem, error);
}

static void
set_pending_error(Run *run, SignetAnswer *result, GError **error)
{
  g_autoptr(GDateTime) at = g_date_time_new_from_unix_utc(run->op->retry_at);
  g_autofree char *when = g_date_time_format(at, "%Y-%m-%d %H:%M:%S UTC");
  g_autofree char *iso = g_date_time_format_iso8601(at);

  progress(run, "pending", "The CA will issue the new certificate later (after %s)", when);
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
  else if (!step(run, "login", error))
    return FALSE;
  if (run->logged_in)
    return TRUE;
  progress(run, "login", "Logging in to token '%s'", run->name);
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
  g_autoptr(GBytes) old_id = op_old_id(run);

  if (!step(run, "check-room", error))
    return FALSE;
  progress(run, "check-room", "Checking the token has the current key and room for a new one");
  if (!has_private_key(run, old_id, error)) {
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

static gboolean
make_request(Run *run, GError **error)
{
  g_autoptr(GBytes) new_id = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(EVP_PKEY) priv = NULL;

  if (!run->op->keep_key) {
    SignetP11KeyType key_type;

    if (!signet_p11_key_type_parse(run->profile->key_type, &key_type, error))
      return FALSE;
    new_id = signet_p11_new_key_id(error);
    if (new_id == NULL)
      return FALSE;
    /* The id is journaled before the key exists. */
    run->op->new_key_id = signet_token_dict_id_to_hex(new_id);
    if (!step(run, "generate-key", error))
      return FALSE;
    progress(run, "generate-key", "Generating a new %s key pair on the token",
             run->profile->key_type);
    if (!signet_p11_session_generate_key_pair_with_id(
            run->r->session, key_type,
            run->old_label != NULL ? run->old_label : run->profile->key_label, new_id, error))
      return FALSE;
    signet_fault_point("generate-key+");
    run->op->key_made = TRUE;
    save(run);
  } else {
    new_id = op_new_id(run);
  }

  if (!step(run, "request", error))
    return FALSE;
  progress(run, "request", "Making the certificate request, signed on the token");
  pub = signet_p11_session_get_public_key(run->r->session, new_id, error);
  if (pub != NULL)
    priv = signet_p11_session_get_private_key(run->r->session, new_id, error);
  if (priv == NULL)
    return FALSE;
  /* The same subject, RDN for RDN (RFC 7030 4.2.2). */
  run->op->request_pem
      = signet_csr_build_pem_for_name(priv, pub, X509_get_subject_name(run->old_cert), error);
  if (run->op->request_pem == NULL)
    return FALSE;
  save(run);
  return TRUE;
}

/* An open entry in RUNNING: what it left on the token goes (the old
 * credential was never touched before ISSUED). */
static gboolean
recover_running(Run *run, GError **error)
{
  g_autofree char *why = g_strdup_printf("interrupted at step %s; rolled back",
                                         run->op->step != NULL ? run->op->step : "(none)");

  progress(run, "cleanup", "Undoing a renewal that was interrupted (at step %s)",
           run->op->step != NULL ? run->op->step : "start");
  return roll_back(run, why, error);
}

const char *
signet_renewal_resume_action(const SignetOperation *op)
{
  switch (op->state) {
    case SIGNET_OP_PENDING:
      return "wait";
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

static GVariant *
run_renewal(Run *run, GError **error)
{
  g_autoptr(SignetConnector) connector = NULL;
  g_autoptr(GPtrArray) cacerts = NULL;
  g_autoptr(SignetAnswer) result = NULL;
  g_autoptr(GError) local = NULL;
  GVariant *reply;
  gboolean fresh = run->op->id == 0;

  if (fresh) {
    progress(run, "check-certificate", "Checking the certificate to renew on token '%s'",
             run->name);
    if (!choose_certificate(run, error) || !check_validity(run, error) || !find_profile(run, error))
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
    if (!step(run, "ca-certificates", error))
      goto fail;
    progress(run, "ca-certificates", "Connecting to %s", run->profile->display_name);
    connector = signet_connector_new(run->profile, error);
    if (connector == NULL || (cacerts = signet_connector_ca_certs(connector, error)) == NULL)
      goto fail;
    run->trust = renewal_roots(run->r->state, run->profile, run->op, cacerts, error);
    if (run->trust == NULL)
      goto fail;
  }

  if (!login(run, error))
    goto fail;

  if (run->op->state == SIGNET_OP_ISSUED)
    return finish_issued(run, error);

  if (run->op->state == SIGNET_OP_RUNNING && !run->send_again) {
    if (!run->op->keep_key && !check_room(run, error))
      goto fail;
    if (!make_request(run, error))
      goto fail;
  }

  if (!step(run, "reenroll", error))
    goto fail;
  progress(run, "reenroll",
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
    set_poll_state(run->op, result);
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
  if (!verify_issued(run, result->certs, cacerts, error))
    goto fail;
  reply = finish_issued(run, error);
  return reply;

fail:
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
    g_autofree char *want = r->cert_id != NULL ? normalize_hex(r->cert_id) : NULL;
    g_autofree char *serial = normalize_hex(open->old_cert_serial ? open->old_cert_serial : "");

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
    if (!find_profile(&run, error) || !find_old_certificate(&run, error))
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
        progress(&run, "resume",
                 "Sending the same renewal request to %s again: the earlier attempt stopped (at "
                 "step %s) before the CA's answer arrived",
                 run.profile->display_name, run.op->step);
      } else
        progress(&run, "resume", "Resuming the renewal of token '%s' (%s)", run.name,
                 signet_op_state_to_string(run.op->state));
      if (run.op->state != SIGNET_OP_ISSUED && run.old_cert != NULL && !check_validity(&run, error))
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
  trust = renewal_roots(state, profile, op, cacerts, error);
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
    set_poll_state(op, result);
    return signet_state_op_save(state, op, signet_clock_now(), error);
  }
  /* The request holds the new key's public half (no token needed). */
  {
    g_autoptr(BIO) bio = BIO_new_mem_buf(op->request_pem, -1);
    X509_REQ *req = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    gboolean ok;

    g_free(op->step);
    op->step = g_strdup("verify");
    ok = journal_issued(state, op, req != NULL ? X509_REQ_get0_pubkey(req) : NULL, result->certs,
                        cacerts, trust, error);
    X509_REQ_free(req);
    return ok;
  }
}
