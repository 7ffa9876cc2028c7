/* signet-agent-import.c: ImportCertificate in a worker: the file's
 * holder certificate matched to a key on the token, the chain checked, the
 * certificate and the CA certificates written, the key's other
 * certificates replaced when asked, and an activation waiting for this
 * certificate settled.
 */
#include "config.h"

#include "agent/signet-agent.h"
#include "agent/signet-agent-private.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <p11-kit/uri.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "agent/signet-activate.h"
#include "agent/signet-card.h"
#include "agent/signet-caller.h"
#include "agent/signet-reminders.h"
#include "agent/signet-renew.h"
#include "agent/signet-state.h"
#include "agent/signet-clock.h"
#include "agent/signet-install.h"
#include "libsignet/signet-dbus-generated.h"
#include "agent/signet-errors.h"
#include "agent/signet-token-dict.h"
#include "agent/signet-trust.h"
#include "common/signet-secret.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-profile.h"
#include "enroll/signet-x509.h"

/* The certificates of an --anchor file: CA certificates the holder trusts.
 * Read before the token is touched. */
static GPtrArray *
parse_anchors(GBytes *data, GError **error)
{
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data(data, &len);
  g_autoptr(GPtrArray) certs = signet_certfile_parse(bytes, len, error);
  GPtrArray *anchors;

  if (certs == NULL) {
    g_prefix_error(error, "The anchor file is not a certificate file; nothing was written. ");
    return NULL;
  }
  anchors = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  for (guint i = 0; i < certs->len; i++) {
    X509 *c = g_ptr_array_index(certs, i);

    if (signet_x509_is_ca(c)) {
      X509_up_ref(c);
      g_ptr_array_add(anchors, c);
    }
  }
  if (anchors->len == 0) {
    g_ptr_array_unref(anchors);
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT,
                "The anchor file holds no CA certificate (%u certificate%s, none a CA's); "
                "nothing was written. Give the root certificate of the CA that issued your "
                "certificate",
                certs->len, certs->len == 1 ? "" : "s");
    return NULL;
  }
  return anchors;
}

static gboolean
is_anchor(GPtrArray *anchors, X509 *cert)
{
  for (guint i = 0; anchors != NULL && i < anchors->len; i++)
    if (X509_cmp(g_ptr_array_index(anchors, i), cert) == 0)
      return TRUE;
  return FALSE;
}

/* Does @leaf chain to a root the holder trusts: the system's trusted
 * certificates or one of @anchors (--anchor)? The file's other
 * certificates only build the chain; a root in the file is never trusted
 * for being there. Verified: @out_root, the root it ends at, and
 * @out_source (SIGNET_TRUST_ANCHOR or SIGNET_TRUST_SYSTEM). Not verified:
 * @out_reason says why and what to do. */
static gboolean
verify_chain(X509 *leaf, GPtrArray *certs, GPtrArray *anchors, X509 **out_root,
             const char **out_source, char **out_reason)
{
  g_autoptr(X509_STORE) store = X509_STORE_new();
  g_autoptr(GDateTime) now = signet_clock_now_utc();
  g_autoptr(GError) local = NULL;
  g_autofree char *what = NULL;
  const char *where = anchors != NULL
                          ? "neither among the system's trusted certificates nor in the anchor "
                            "file given"
                          : "not among the system's trusted certificates";
  X509 *root = NULL;
  X509 *top;

  if (store == NULL) {
    *out_reason = g_strdup("out of memory");
    return FALSE;
  }
  /* The system's trusted certificates (/etc/ssl/certs, or SSL_CERT_FILE
   * and SSL_CERT_DIR), then the holder's own. */
  if (X509_STORE_set_default_paths(store) != 1)
    ERR_clear_error();
  for (guint i = 0; anchors != NULL && i < anchors->len; i++)
    if (X509_STORE_add_cert(store, g_ptr_array_index(anchors, i)) != 1)
      ERR_clear_error();
  if (signet_x509_verify_chain_with_store(leaf, certs, store, now, &root, &local)) {
    *out_source = is_anchor(anchors, root) ? SIGNET_TRUST_ANCHOR : SIGNET_TRUST_SYSTEM;
    *out_root = root;
    return TRUE;
  }
  top = signet_x509_chain_top(leaf, certs);
  what = signet_x509_describe(top);
  if (top != leaf && signet_x509_is_self_signed(top)) {
    g_autoptr(GError) top_error = NULL;

    if (signet_x509_verify_chain_with_store(top, NULL, store, now, NULL, &top_error))
      *out_reason = g_strdup_printf("the chain does not verify to the trusted root %s "
                                    "(OpenSSL: %s)",
                                    what, local->message);
    else
      *out_reason = g_strdup_printf(
          "the chain ends at the root %s, which is %s (OpenSSL: %s). If you trust this root "
          "(compare its SHA-256 fingerprint with the one your CA publishes), import again "
          "naming it: signet import --anchor ROOT-FILE TOKEN FILE",
          what, where, local->message);
  } else {
    g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(top));

    *out_reason = g_strdup_printf(
        "the chain stops at %s: its issuer %s is not in the file, and is %s (OpenSSL: %s). "
        "Import again naming the CA's root certificate: signet import --anchor ROOT-FILE TOKEN "
        "FILE (with the CA certificates between them in FILE)",
        top == leaf ? "the certificate itself" : what, issuer, where, local->message);
  }
  return FALSE;
}

/* The certificate of the file whose public key is a key pair's on the
 * token: end-entity certificates first, then CA or self-signed ones. */
static gboolean
find_leaf(SignetP11Session *session, GPtrArray *certs, X509 **out_leaf, GBytes **out_id,
          GError **error)
{
  g_autoptr(GError) no_match = NULL;
  guint holders = 0;

  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < certs->len; i++) {
      X509 *c = g_ptr_array_index(certs, i);
      g_autoptr(GError) local = NULL;
      GBytes *id = NULL;

      if (signet_x509_is_ca(c) != (pass == 1))
        continue;
      if (signet_p11_session_find_key_for_certificate(session, c, &id, &local)) {
        *out_leaf = c;
        *out_id = id;
        return TRUE;
      }
      if (!g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_MATCHING_KEY)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
      }
      g_clear_error(&no_match);
      no_match = g_steal_pointer(&local);
    }
  for (guint i = 0; i < certs->len; i++)
    if (!signet_x509_is_ca(g_ptr_array_index(certs, i)))
      holders++;
  if (holders == 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_MATCHING_KEY,
                "The file holds only CA certificates (%u): your own certificate is not in it; "
                "nothing was written. Import the file with your certificate (the CA's portal "
                "often offers it as a download of its own)",
                certs->len);
    return FALSE;
  }
  /* The token layer's word for it (with what OpenSC's cache means). */
  g_propagate_error(error, g_steal_pointer(&no_match));
  return FALSE;
}

/* A file whose holder certificates (those that are not CA certificates)
 * are all expired, or not valid yet, is refused before the token is
 * touched: such a certificate cannot sign, and storing it silently hides
 * that. (With allow-expired it is stored.) */
static gboolean
check_not_expired(GPtrArray *certs, GError **error)
{
  g_autoptr(GDateTime) now = signet_clock_now_utc();
  X509 *expired = NULL;
  guint holders = 0;

  for (guint i = 0; i < certs->len; i++) {
    X509 *c = g_ptr_array_index(certs, i);

    if (signet_x509_is_ca(c))
      continue;
    holders++;
    if (signet_x509_days_left(c, now) >= 0 && X509_cmp_time(X509_get0_notBefore(c), NULL) <= 0)
      return TRUE; /* one that is valid now */
    expired = c;
  }
  if (holders == 0 || expired == NULL)
    return TRUE; /* the key match says what is wrong with the file */
  {
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(expired));
    gint64 days = signet_x509_days_left(expired, now);

    if (days < 0)
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_EXPIRED,
                  "The certificate in the file (%s) expired %" G_GINT64_FORMAT
                  " day%s ago: it can no longer sign. Nothing was written. Ask your CA for a "
                  "new certificate; to store this one anyway, pass allow-expired "
                  "(signet import --allow-expired)",
                  subject, -days, days == -1 ? "" : "s");
    else
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_EXPIRED,
                  "The certificate in the file (%s) is not valid yet: check the computer's "
                  "clock. Nothing was written; to store it anyway, pass allow-expired "
                  "(signet import --allow-expired)",
                  subject);
  }
  return FALSE;
}

/* The holder certificates other than @leaf stored under the key @id. */
static GPtrArray *
other_certificates(SignetP11Session *session, GBytes *id, X509 *leaf, GError **error)
{
  g_autoptr(GPtrArray) all = signet_p11_session_list_certificates(session, error);
  GPtrArray *out;

  if (all == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_certificate_free);
  for (guint i = 0; i < all->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(all, i);

    if (c->authority || c->id == NULL || !g_bytes_equal(c->id, id) || X509_cmp(c->cert, leaf) == 0)
      continue;
    g_ptr_array_add(out, g_steal_pointer(&all->pdata[i]));
  }
  return out;
}

/* "serial 1a2b (CN=…, valid until 2027-01-01)", for each of @certs. */
static char *
describe_certificates(GPtrArray *certs)
{
  GString *out = g_string_new(NULL);

  for (guint i = 0; i < certs->len; i++) {
    X509 *c = ((SignetP11Certificate *)g_ptr_array_index(certs, i))->cert;
    g_autofree char *serial = signet_x509_serial_to_string(c);
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(c));
    g_autofree char *until = signet_asn1_time_to_iso8601(X509_get0_notAfter(c));

    g_string_append_printf(out, "%sserial %s (%s, valid until %.10s)", i > 0 ? "; " : "", serial,
                           subject, until != NULL ? until : "?");
  }
  return g_string_free(out, FALSE);
}

/* A certificate for the key of an unfinished activation is imported (the
 * CA gave it to the holder some other way): that activation is over, and
 * its profile is where the certificate is renewed. */
static void
settle_activations(Op *op, GBytes *id, X509 *leaf)
{
  const char *serial = op->token->serial != NULL ? op->token->serial : "";
  g_autoptr(GPtrArray) open = NULL;
  g_autofree char *hex = signet_token_dict_id_to_hex(id);

  if (op->agent->state == NULL || *serial == '\0')
    return;
  open = signet_state_op_list_open(op->agent->state, serial, NULL);
  for (guint i = 0; open != NULL && i < open->len; i++) {
    SignetOperation *r = g_ptr_array_index(open, i);
    g_autoptr(GError) local = NULL;
    g_autofree char *message = NULL;

    if (r->kind != SIGNET_OP_ACTIVATE || r->state == SIGNET_OP_ISSUED
        || g_strcmp0(r->new_key_id, hex) != 0)
      continue;
    signet_install_track(op->agent->state, serial, hex, leaf, r->profile, NULL);
    message = g_strdup_printf("finished by the imported certificate (key %s)", hex);
    if (!signet_state_op_close(op->agent->state, r, SIGNET_OP_FINISHED, message, signet_clock_now(),
                               &local))
      g_message("import: %s", local->message);
    else
      g_message("import: the activation of token '%s' through profile %s is finished by the "
                "imported certificate (key %s)",
                signet_token_dict_name(op->token), r->profile, hex);
  }
}

GVariant *
signet_op_run_import(Op *op, GError **error)
{
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(SignetP11Session) session = NULL;
  g_autoptr(GBytes) id = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *hex = NULL;
  g_autofree char *chain_error = NULL;
  g_autoptr(GPtrArray) others = NULL;
  g_autoptr(GPtrArray) replaced = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) anchors = NULL;
  g_autoptr(X509) root = NULL;
  const char *root_source = NULL;
  X509 *leaf = NULL;
  gboolean present, verified;
  guint32 chain_stored = 0, chain_present = 0;
  GVariantBuilder b;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data(op->data, &len);

  /* Parse before touching the token: a bad file costs no PIN. */
  certs = signet_certfile_parse(data, len, error);
  if (certs == NULL)
    return NULL;
  if (!op->allow_expired && !check_not_expired(certs, error))
    return NULL;
  if (op->anchor != NULL && (anchors = parse_anchors(op->anchor, error)) == NULL)
    return NULL;

  session = signet_op_open_session(op, error);
  if (session == NULL)
    return NULL;
  if (!signet_op_login(op, session, error))
    return NULL;
  if (!find_leaf(session, certs, &leaf, &id, error))
    return NULL;

  verified = verify_chain(leaf, certs, anchors, &root, &root_source, &chain_error);
  present = signet_p11_session_has_certificate(session, leaf, &local);
  if (local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  hex = signet_token_dict_id_to_hex(id);
  others = other_certificates(session, id, leaf, error);
  if (others == NULL)
    return NULL;
  if (others->len > 0 && !present && !op->replace) {
    g_autofree char *list = describe_certificates(others);

    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_CERTIFICATE_EXISTS,
                "Key %s on token '%s' already has a certificate: %s. Two certificates for one "
                "key confuse signing programs (they may pick either), so nothing was written. "
                "To store this one instead, import it again replacing the other (signet "
                "import --replace): the other is removed only once this one is stored",
                hex, signet_token_dict_name(op->token), list);
    return NULL;
  }
  if (!present) {
    if (!signet_install_leaf(session, leaf, id, op->label, NULL, error))
      return NULL;
    g_message("stored a certificate under key %s on token '%s'", hex,
              signet_token_dict_name(op->token));
  }
  if (op->replace && others->len > 0) {
    /* Stored and read back first: only then does what it replaces go. */
    gboolean stored = signet_p11_session_has_certificate(session, leaf, &local);

    if (!stored) {
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                  "The certificate could not be read back from token '%s'%s%s; the key's other "
                  "certificate was kept",
                  signet_token_dict_name(op->token), local != NULL ? ": " : "",
                  local != NULL ? local->message : "");
      return NULL;
    }
    for (guint i = 0; i < others->len; i++) {
      X509 *c = ((SignetP11Certificate *)g_ptr_array_index(others, i))->cert;
      g_autofree char *serial = signet_x509_serial_to_string(c);

      if (!signet_p11_session_delete_certificate(session, c, &local)
          && !g_error_matches(local, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT)) {
        g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                   "The certificate was stored, but the one it replaces (serial "
                                   "%s) could not be removed: ",
                                   serial);
        return NULL;
      }
      g_clear_error(&local);
      g_message("removed certificate %s of key %s on token '%s': replaced by the import", serial,
                hex, signet_token_dict_name(op->token));
      g_ptr_array_add(replaced, g_steal_pointer(&serial));
    }
  }
  settle_activations(op, id, leaf);
  /* A renewal of this certificate ends at the same root. */
  if (root != NULL && op->token->serial != NULL)
    signet_trust_record_root(op->agent->state, op->token->serial, leaf, root, root_source);

  if (!signet_install_chain(session, leaf, certs, NULL, &chain_stored, &chain_present, &local)) {
    g_propagate_prefixed_error(error, g_steal_pointer(&local),
                               "The certificate was %s, but the chain could not be stored: ",
                               present ? "already on the token" : "stored");
    return NULL;
  }

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(hex));
  signet_token_dict_add_issued(&b, leaf);
  g_variant_builder_add(&b, "{sv}", "already_present", g_variant_new_boolean(present));
  g_variant_builder_add(&b, "{sv}", "chain_stored", g_variant_new_uint32(chain_stored));
  g_variant_builder_add(&b, "{sv}", "chain_present", g_variant_new_uint32(chain_present));
  g_variant_builder_add(&b, "{sv}", "chain_verified", g_variant_new_boolean(verified));
  if (verified) {
    g_autofree char *root_name = signet_x509_describe(root);

    g_variant_builder_add(&b, "{sv}", "chain_root", g_variant_new_string(root_name));
    g_variant_builder_add(&b, "{sv}", "chain_anchor", g_variant_new_string(root_source));
  }
  signet_op_note_contents(op, session);
  g_ptr_array_add(replaced, NULL);
  g_variant_builder_add(&b, "{sv}", "replaced",
                        g_variant_new_strv((const char *const *)replaced->pdata, -1));
  if (!verified)
    g_variant_builder_add(&b, "{sv}", "chain_error", g_variant_new_string(chain_error));
  return g_variant_new("(a{sv})", &b);
}
