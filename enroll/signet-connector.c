/* signet-connector.c: the factory and the dispatch of signet-connector.h.
 *
 * A new protocol is one file that defines its SignetConnectorClass and one
 * line in `protocols` below.
 */
#include "config.h"

#include "enroll/signet-connector.h"
#include "enroll/signet-enroll-private.h"
#include "enroll/signet-http.h"
#include "enroll/signet-x509.h"

#include <string.h>

/* ---- the factory: one line per protocol ---------------------------------- */

/* Each defined in its own file (signet-NAME-connector.c). */
extern const SignetConnectorClass signet_cmp_connector_class;
extern const SignetConnectorClass signet_est_connector_class;
extern const SignetConnectorClass signet_scep_connector_class;

static const SignetConnectorClass *const protocols[] = {
  &signet_cmp_connector_class,
  &signet_est_connector_class,
  &signet_scep_connector_class,
};

const SignetConnectorClass *
signet_connector_find(const char *name)
{
  g_return_val_if_fail(name != NULL, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS(protocols); i++)
    if (g_ascii_strcasecmp(protocols[i]->name, name) == 0)
      return protocols[i];
  return NULL;
}

char *
signet_connector_list_names(void)
{
  GString *out = g_string_new(NULL);

  for (gsize i = 0; i < G_N_ELEMENTS(protocols); i++) {
    if (i > 0)
      g_string_append(out, i + 1 == G_N_ELEMENTS(protocols) ? " and " : ", ");
    g_string_append(out, protocols[i]->name);
  }
  return g_string_free(out, FALSE);
}

/* ---- one connector ------------------------------------------------------- */

struct _SignetConnector
{
  const SignetConnectorClass *klass;
  gpointer impl;
};

void
signet_answer_free(SignetAnswer *answer)
{
  if (answer == NULL)
    return;
  g_clear_pointer(&answer->certs, g_ptr_array_unref);
  g_clear_pointer(&answer->retry_at, g_date_time_unref);
  g_clear_pointer(&answer->poll_state, g_bytes_unref);
  g_free(answer->message);
  g_free(answer->legacy_algorithms);
  g_free(answer);
}

void
signet_subject_hint_free(SignetSubjectHint *hint)
{
  if (hint == NULL)
    return;
  g_free(hint->subject);
  g_free(hint->key_type);
  g_free(hint->hash);
  g_strfreev(hint->oids);
  g_free(hint);
}

/* "ec:p384" → "EC P-384", "rsa:3072" → "RSA 3072-bit", "ec" → "EC". */
static char *
describe_key_type(const char *key_type)
{
  const char *size = strchr(key_type, ':');
  g_autofree char *family = g_ascii_strup(key_type, size != NULL ? size - key_type : -1);

  if (size == NULL)
    return g_steal_pointer(&family);
  if (g_str_equal(family, "EC") && size[1] == 'p')
    return g_strdup_printf("EC P-%s", size + 2);
  return g_strdup_printf("%s %s-bit", family, size + 1);
}

/* "ec:p384" is an "ec" key; "ec:p384" only an "ec:p384" one. */
static gboolean
key_type_matches(const char *wanted, const char *have)
{
  gsize len = strlen(wanted);

  if (g_str_equal(wanted, have))
    return TRUE;
  return strchr(wanted, ':') == NULL && strncmp(have, wanted, len) == 0 && have[len] == ':';
}

gboolean
signet_subject_hint_check(const SignetSubjectHint *hint, const char *profile_key_type,
                          GError **error)
{
  static const char *const hashes[] = { "sha256", "sha384", "sha512", NULL };
  static const char *const key_oids[] = { "1.2.840.10045.2.1", "1.2.840.113549.1.1.1", NULL };

  g_return_val_if_fail(hint != NULL && profile_key_type != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  if (hint->key_type != NULL && !key_type_matches(hint->key_type, profile_key_type)) {
    g_autofree char *wanted = describe_key_type(hint->key_type);
    g_autofree char *as_profile = strchr(hint->key_type, ':') != NULL
                                      ? g_strdup_printf(" (key-type %s)", hint->key_type)
                                      : g_strdup("");

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "The CA asks for an %s key%s, but the profile makes key-type = %s keys: ask "
                "your CA for an updated profile",
                wanted, as_profile, profile_key_type);
    return FALSE;
  }
  if (hint->key_type == NULL && hint->oids != NULL)
    for (const char *const *k = key_oids; *k != NULL; k++)
      if (g_strv_contains((const char *const *)hint->oids, *k)) {
        gboolean ec = g_str_equal(*k, key_oids[0]);

        g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                    "The CA asks for %s key Signet cannot make (%s), and the profile makes "
                    "key-type = %s keys: ask your CA for an updated profile",
                    ec ? "an EC" : "an RSA",
                    ec ? "a curve other than P-256 or P-384"
                       : "a size other than 2048, 3072 or 4096 bits",
                    profile_key_type);
        return FALSE;
      }
  if (hint->hash != NULL && !g_strv_contains(hashes, hint->hash)) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "The CA asks for requests signed with '%s', which Signet does not do (it "
                "signs with sha256, sha384 or sha512): ask your CA to accept SHA-256 or "
                "stronger, or for an updated profile",
                hint->hash);
    return FALSE;
  }
  return TRUE;
}

SignetConnector *
signet_connector_new(const SignetProfile *profile, GError **error)
{
  const SignetConnectorClass *klass;

  g_return_val_if_fail(profile != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  klass = profile->protocol != NULL ? signet_connector_find(profile->protocol) : NULL;
  if (klass == NULL) {
    g_autofree char *known = signet_connector_list_names();

    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "Profile '%s' uses protocol '%s', which this version of Signet does not speak "
                "(it knows %s): install a newer Signet or ask your CA for another profile",
                profile->name, profile->protocol ? profile->protocol : "", known);
    return NULL;
  }
  return signet_connector_new_for_class(klass, profile, error);
}

SignetConnector *
signet_connector_new_for_class(const SignetConnectorClass *klass, const SignetProfile *profile,
                               GError **error)
{
  SignetConnector *connector;
  gpointer impl;

  g_return_val_if_fail(klass != NULL && profile != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  impl = klass->open(profile, error);
  if (impl == NULL)
    return NULL;
  connector = g_new0(SignetConnector, 1);
  connector->klass = klass;
  connector->impl = impl;
  return connector;
}

void
signet_connector_free(SignetConnector *connector)
{
  if (connector == NULL)
    return;
  connector->klass->close(connector->impl);
  g_free(connector);
}

const SignetConnectorClass *
signet_connector_get_class(SignetConnector *connector)
{
  g_return_val_if_fail(connector != NULL, NULL);
  return connector->klass;
}

/* Every answer is checked here, whatever the protocol: an issued answer
 * holds certificates, a pending one says when to ask again. */
static SignetAnswer *
checked(const SignetConnectorClass *klass, SignetAnswer *answer, GError **error)
{
  gboolean ok;

  if (answer == NULL)
    return NULL;
  ok = answer->status == SIGNET_ANSWER_ISSUED ? answer->certs != NULL && answer->certs->len > 0
                                              : answer->retry_at != NULL;
  if (!ok) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The CA's %s answer was incomplete (%s): nothing was changed on the token; "
                "try again later or contact your CA",
                klass->description,
                answer->status == SIGNET_ANSWER_ISSUED ? "no certificate" : "no time to ask again");
    signet_answer_free(answer);
    return NULL;
  }
  return answer;
}

GPtrArray *
signet_connector_ca_certs(SignetConnector *connector, GError **error)
{
  GPtrArray *certs;

  g_return_val_if_fail(connector != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  certs = connector->klass->ca_certs(connector->impl, error);
  if (certs != NULL && certs->len == 0) {
    g_ptr_array_unref(certs);
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_RESPONSE,
                "The CA sent no CA certificate (%s): contact your CA",
                connector->klass->description);
    return NULL;
  }
  return certs;
}

gboolean
signet_connector_has_subject_hint(SignetConnector *connector)
{
  g_return_val_if_fail(connector != NULL, FALSE);
  return connector->klass->subject_hint != NULL;
}

SignetSubjectHint *
signet_connector_subject_hint(SignetConnector *connector, const SignetConnectorCode *code,
                              const SignetConnectorIdentity *identity, GError **error)
{
  g_return_val_if_fail(connector != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (connector->klass->subject_hint == NULL) {
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                "%s cannot ask the CA which name to request: the profile must name the subject "
                "(a template such as CN=${reference})",
                connector->klass->description);
    return NULL;
  }
  return connector->klass->subject_hint(connector->impl, code, identity, error);
}

SignetAnswer *
signet_connector_enroll(SignetConnector *connector, const SignetConnectorCode *code,
                        const char *csr_pem, EVP_PKEY *request_key, GError **error)
{
  g_return_val_if_fail(connector != NULL && code != NULL && csr_pem != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  return checked(connector->klass,
                 connector->klass->enroll(connector->impl, code, csr_pem, request_key, error),
                 error);
}

SignetAnswer *
signet_connector_reenroll(SignetConnector *connector, const SignetConnectorIdentity *identity,
                          const char *csr_pem, EVP_PKEY *request_key, GError **error)
{
  g_return_val_if_fail(connector != NULL && csr_pem != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (identity == NULL || identity->cert == NULL || identity->key == NULL) {
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED,
                        "Renewal is authenticated with the current certificate and its key, and "
                        "none was given: renew a token that holds a valid certificate, or "
                        "activate it again with a new activation code");
    return NULL;
  }
  return checked(connector->klass,
                 connector->klass->reenroll(connector->impl, identity, csr_pem, request_key, error),
                 error);
}

SignetAnswer *
signet_connector_poll(SignetConnector *connector, const SignetConnectorPoll *poll, GError **error)
{
  g_return_val_if_fail(connector != NULL && poll != NULL && poll->csr_pem != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  return checked(connector->klass, connector->klass->poll(connector->impl, poll, error), error);
}

void
signet_connector_set_unreachable(gboolean unreachable)
{
  /* Every protocol goes through signet-http.c. */
  signet_http_set_unreachable(unreachable);
}
