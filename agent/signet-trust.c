/* signet-trust.c: see signet-trust.h and docs/internals/trust.md. */
#include "config.h"

#include "agent/signet-trust.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "agent/signet-clock.h"
#include "common/signet-openssl-util.h"
#include "enroll/signet-x509.h"

typedef struct
{
  X509 *cert;
  char *source;        /* SIGNET_TRUST_*: where it came from first */
  gboolean from_state; /* read back from the state database */
} Root;

struct _SignetTrust
{
  GPtrArray *roots; /* Root* */
};

static void
root_free(Root *root)
{
  X509_free(root->cert);
  g_free(root->source);
  g_free(root);
}

SignetTrust *
signet_trust_new(void)
{
  SignetTrust *trust = g_new0(SignetTrust, 1);

  trust->roots = g_ptr_array_new_with_free_func((GDestroyNotify)root_free);
  return trust;
}

void
signet_trust_free(SignetTrust *trust)
{
  if (trust == NULL)
    return;
  g_ptr_array_unref(trust->roots);
  g_free(trust);
}

guint
signet_trust_count(const SignetTrust *trust)
{
  return trust->roots->len;
}

static gboolean
add_root(SignetTrust *trust, X509 *cert, const char *source, gboolean from_state)
{
  Root *root;

  g_return_val_if_fail(cert != NULL, FALSE);

  if (!signet_x509_is_ca(cert))
    return FALSE;
  for (guint i = 0; i < trust->roots->len; i++)
    if (X509_cmp(((Root *)g_ptr_array_index(trust->roots, i))->cert, cert) == 0)
      return TRUE;
  root = g_new0(Root, 1);
  X509_up_ref(cert);
  root->cert = cert;
  root->source = g_strdup(source);
  root->from_state = from_state;
  g_ptr_array_add(trust->roots, root);
  return TRUE;
}

gboolean
signet_trust_add(SignetTrust *trust, X509 *root, const char *source)
{
  return add_root(trust, root, source, FALSE);
}

gboolean
signet_trust_add_profile_roots(SignetTrust *trust, const SignetProfile *profile, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  g_autoptr(GError) local = NULL;
  gsize len = 0;

  if (profile->ca_roots == NULL)
    return TRUE;
  if (!g_file_get_contents(profile->ca_roots, &contents, &len, &local) || len > SIGNET_CERTFILE_MAX
      || (certs = signet_certfile_parse((const guint8 *)contents, len, &local)) == NULL) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "The root certificates of profile '%s' (ca-roots = %s) cannot be read: %s. "
                "Reinstall the CA's profile",
                profile->name, profile->ca_roots,
                local != NULL ? local->message : "the file is too large");
    return FALSE;
  }
  for (guint i = 0; i < certs->len; i++)
    (void)add_root(trust, g_ptr_array_index(certs, i), SIGNET_TRUST_CA_ROOTS, FALSE);
  return TRUE;
}

guint
signet_trust_add_cacerts_roots(SignetTrust *trust, GPtrArray *cacerts)
{
  guint n = 0;

  for (guint i = 0; cacerts != NULL && i < cacerts->len; i++) {
    X509 *c = g_ptr_array_index(cacerts, i);

    if (signet_x509_is_ca(c) && signet_x509_is_self_signed(c)
        && add_root(trust, c, SIGNET_TRUST_CACERTS, FALSE))
      n++;
  }
  return n;
}

guint
signet_trust_add_recorded(SignetTrust *trust, SignetState *state, const char *token_serial,
                          const char *issuer, const char *serial, GError **error)
{
  g_autoptr(GPtrArray) rows = NULL;
  guint n = 0;

  if (state == NULL || token_serial == NULL || issuer == NULL || serial == NULL)
    return 0;
  rows = signet_state_roots_list(state, token_serial, issuer, serial, error);
  if (rows == NULL)
    return 0;
  for (guint i = 0; i < rows->len; i++) {
    const SignetStateRoot *row = g_ptr_array_index(rows, i);
    g_autoptr(GPtrArray) certs = NULL;
    g_autoptr(GError) local = NULL;

    certs = signet_certfile_parse((const guint8 *)row->pem, strlen(row->pem), &local);
    if (certs == NULL) {
      g_warning("the recorded root %s of certificate %s (%s) cannot be read, ignored: %s",
                row->sha256, serial, issuer, local->message);
      continue;
    }
    for (guint j = 0; j < certs->len; j++)
      if (add_root(trust, g_ptr_array_index(certs, j),
                   row->source != NULL && *row->source != '\0' ? row->source
                                                               : SIGNET_TRUST_RECORDED,
                   TRUE))
        n++;
  }
  return n;
}

static GPtrArray *
root_certs(const SignetTrust *trust)
{
  GPtrArray *certs = g_ptr_array_new();

  for (guint i = 0; i < trust->roots->len; i++)
    g_ptr_array_add(certs, ((Root *)g_ptr_array_index(trust->roots, i))->cert);
  return certs;
}

static const char *
source_words(const Root *root)
{
  if (root->from_state)
    return "recorded for the certificate renewed";
  if (g_strcmp0(root->source, SIGNET_TRUST_CA_ROOTS) == 0)
    return "from the profile's ca-roots";
  if (g_strcmp0(root->source, SIGNET_TRUST_CACERTS) == 0)
    return "from the CA's /cacerts";
  if (g_strcmp0(root->source, SIGNET_TRUST_ANCHOR) == 0)
    return "from the anchor file given";
  if (g_strcmp0(root->source, SIGNET_TRUST_SYSTEM) == 0)
    return "from the system's trusted certificates";
  return "trusted";
}

char *
signet_trust_describe(const SignetTrust *trust)
{
  GString *out = g_string_new(NULL);

  for (guint i = 0; i < trust->roots->len; i++) {
    const Root *root = g_ptr_array_index(trust->roots, i);
    g_autofree char *name = signet_x509_describe(root->cert);

    g_string_append_printf(out, "%s%s, %s", i > 0 ? "; " : "", name, source_words(root));
  }
  if (out->len == 0)
    g_string_append(out, "none");
  return g_string_free(out, FALSE);
}

static const Root *
find_root(const SignetTrust *trust, X509 *cert)
{
  for (guint i = 0; i < trust->roots->len; i++) {
    const Root *root = g_ptr_array_index(trust->roots, i);

    if (X509_cmp(root->cert, cert) == 0)
      return root;
  }
  return NULL;
}

/* Where @leaf's chain really ends in @untrusted, and why that is not one of
 * the set's roots, as a clause. */
static char *
explain(const SignetTrust *trust, X509 *leaf, GPtrArray *untrusted, const char *reason)
{
  X509 *top = signet_x509_chain_top(leaf, untrusted);
  g_autofree char *trusted = signet_trust_describe(trust);
  g_autofree char *name = signet_x509_describe(top);

  if (signet_x509_is_self_signed(top) && top != leaf) {
    if (find_root(trust, top) != NULL)
      return g_strdup_printf("it does not verify to the trusted root %s (%s)", name, reason);
    return g_strdup_printf("its chain ends at the root %s, which is not one of the roots trusted "
                           "for this CA: %s (OpenSSL: %s)",
                           name, trusted, reason);
  }
  {
    g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(top));

    return g_strdup_printf("its chain stops at %s, whose issuer %s is neither in the answer nor "
                           "one of the roots trusted for this CA: %s (OpenSSL: %s)",
                           top == leaf ? "the certificate itself" : name, issuer, trusted, reason);
  }
}

gboolean
signet_trust_verify(const SignetTrust *trust, X509 *leaf, GPtrArray *untrusted, GDateTime *now,
                    X509 **out_anchor, GError **error)
{
  g_autoptr(GPtrArray) anchors = root_certs(trust);
  g_autoptr(GError) local = NULL;

  if (signet_x509_verify_chain(leaf, untrusted, anchors, now, out_anchor, &local))
    return TRUE;
  if (trust->roots->len == 0) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  {
    g_autofree char *why = explain(trust, leaf, untrusted, local->message);

    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH, why);
  }
  return FALSE;
}

gboolean
signet_trust_check_cacerts(const SignetTrust *trust, GPtrArray *cacerts, GDateTime *now,
                           GError **error)
{
  g_autoptr(GPtrArray) anchors = root_certs(trust);
  g_autoptr(GString) shown = g_string_new(NULL);

  for (guint i = 0; cacerts != NULL && i < cacerts->len; i++) {
    X509 *c = g_ptr_array_index(cacerts, i);

    if (!signet_x509_is_ca(c))
      continue;
    if (find_root(trust, c) != NULL)
      return TRUE;
    if (signet_x509_verify_chain(c, cacerts, anchors, now, NULL, NULL))
      return TRUE;
  }
  for (guint i = 0; cacerts != NULL && i < cacerts->len; i++) {
    X509 *c = g_ptr_array_index(cacerts, i);
    X509 *top;
    g_autofree char *name = NULL;

    if (!signet_x509_is_ca(c))
      continue;
    top = signet_x509_chain_top(c, cacerts);
    name = signet_x509_describe(top);
    if (strstr(shown->str, name) == NULL)
      g_string_append_printf(shown, "%s%s", shown->len > 0 ? "; " : "", name);
  }
  {
    g_autofree char *trusted = signet_trust_describe(trust);

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_TLS,
                "the CA's certificates (/cacerts) lead to %s, which is not one of the roots "
                "trusted for this CA: %s",
                shown->len > 0 ? shown->str : "no CA certificate", trusted);
  }
  return FALSE;
}

static char *
to_pem(X509 *cert)
{
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  long len;

  if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1) {
    ERR_clear_error();
    return NULL;
  }
  len = BIO_get_mem_data(bio, &data);
  return g_strndup(data, (gsize)len);
}

static void
record(SignetState *state, const char *token_serial, X509 *cert, GPtrArray *rows)
{
  g_autofree char *serial = NULL;
  g_autofree char *issuer = NULL;
  g_autoptr(GError) local = NULL;

  if (state == NULL || token_serial == NULL || rows->len == 0)
    return;
  serial = signet_x509_serial_to_string(cert);
  issuer = signet_x509_name_to_string(X509_get_issuer_name(cert));
  if (!signet_state_roots_add(state, token_serial, issuer, serial, rows, signet_clock_now(),
                              &local))
    g_warning("could not record the roots of certificate %s: %s", serial, local->message);
}

static SignetStateRoot *
state_root(X509 *root, const char *source)
{
  SignetStateRoot *row;
  char *pem = to_pem(root);

  if (pem == NULL)
    return NULL;
  row = g_new0(SignetStateRoot, 1);
  row->pem = pem;
  row->sha256 = signet_x509_fingerprint(root);
  row->source = g_strdup(source);
  return row;
}

void
signet_trust_record(const SignetTrust *trust, SignetState *state, const char *token_serial,
                    X509 *cert)
{
  g_autoptr(GPtrArray) rows
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_root_free);

  for (guint i = 0; i < trust->roots->len; i++) {
    const Root *root = g_ptr_array_index(trust->roots, i);
    SignetStateRoot *row = state_root(root->cert, root->source);

    if (row != NULL)
      g_ptr_array_add(rows, row);
  }
  record(state, token_serial, cert, rows);
}

void
signet_trust_record_root(SignetState *state, const char *token_serial, X509 *cert, X509 *root,
                         const char *source)
{
  g_autoptr(GPtrArray) rows
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_state_root_free);
  SignetStateRoot *row = root != NULL ? state_root(root, source) : NULL;

  if (row == NULL)
    return;
  g_ptr_array_add(rows, row);
  record(state, token_serial, cert, rows);
}
