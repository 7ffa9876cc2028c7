/* signet-connector.h: the contract a CA protocol fills in, and the one
 * factory that builds a connector from a profile.
 *
 * Owns: the table of protocols (signet-connector.c: one line per protocol),
 * the dispatch from the agent's engines (activation, renewal, the
 * background poll) to a protocol, the checks every answer passes before the
 * agent sees it (an issued answer holds certificates, a pending one a
 * retry time), and the protocol's own group of a profile ([est], ...),
 * whose keys the protocol declares and checks.
 * May call: common/, enroll/ (the protocols' clients), OpenSSL, GLib.
 * Never PKCS#11, never D-Bus: the agent hands in what lives on the token
 * (a key as an EVP_PKEY bound to it by pkcs11/,
 * signet_p11_session_get_private_key).
 *
 * A protocol is one file (signet-est-connector.c) that defines a
 * SignetConnectorClass, and one line in the factory's table. Models: curl's
 * struct Curl_ssl (lib/vtls/vtls_int.h) and fwupd's FuPlugin vfuncs. The
 * contract, what the agent journals of it and how a pending answer
 * survives a restart: docs/internals/connector.md.
 *
 * Threads: a connector is used by one thread at a time; every call blocks
 * (the agent calls it from a GTask worker).
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/signet-secret.h"
#include "enroll/signet-profile.h"

G_BEGIN_DECLS

/* What a holder proves a first enrollment with: the reference number and
 * the one-time activation code the CA sent. */
typedef struct
{
  const char *reference;
  const SignetSecret *code;
  const char *token_serial; /* for the profile's templates (${serial}) */
} SignetConnectorCode;

/* A client identity: the current certificate and its key on the token. */
typedef struct
{
  X509 *cert;
  EVP_PKEY *key;
} SignetConnectorIdentity;

typedef enum
{
  SIGNET_ANSWER_ISSUED,  /* certs holds the certificate(s) */
  SIGNET_ANSWER_PENDING, /* ask again (poll) at retry_at */
} SignetAnswerStatus;

/* A CA's answer to enroll, reenroll or poll. */
typedef struct
{
  SignetAnswerStatus status;
  GPtrArray *certs;    /* ISSUED: X509*, as the CA sent them (leaf among them) */
  GDateTime *retry_at; /* PENDING: when to ask again (UTC) */
  GBytes *poll_state;  /* PENDING: what poll() needs besides the request,
                        * journaled as is; NULL: nothing (EST) */
  char *message;       /* the CA's text, if any */
  /* ISSUED: the legacy algorithms the CA forced on the exchange, for a
   * person ("DES, SHA-1"); NULL: none (SCEP only says any). */
  char *legacy_algorithms;
} SignetAnswer;
void signet_answer_free(SignetAnswer *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetAnswer, signet_answer_free)

/* What the CA says about the request before it is made. */
typedef struct
{
  /* "CN=…,O=…" (RFC 4514 form), NULL if the CA named none. */
  char *subject;
  /* The key the CA wants, in a profile's key-type form: "ec:p256",
   * "ec:p384", "rsa:2048", "rsa:3072", "rsa:4096"; "ec" or "rsa" when it
   * names the algorithm only; NULL when it names none Signet knows (one it
   * does not know is then among @oids: signet_subject_hint_check()). */
  char *key_type;
  /* The hash the CA wants the request signed with ("sha256", "sha384",
   * "sha512", or one Signet cannot make: "sha1", ...), NULL if it named
   * none. */
  char *hash;
  /* The CA wants a challengePassword attribute in the request. */
  gboolean challenge_password;
  /* Other OIDs the CA asked for (dotted), never NULL. */
  GStrv oids;
} SignetSubjectHint;
void signet_subject_hint_free(SignetSubjectHint *hint);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetSubjectHint, signet_subject_hint_free)

/* Whether a request made with the profile's key type (@profile_key_type,
 * SignetProfile.key_type: "ec:p256", ...) can give the CA what @hint asks
 * for. Pure: no I/O. SIGNET_ENROLL_ERROR_PROFILE, naming both and what to
 * do (ask the CA for an updated profile), when the CA asks for another key
 * type ("ec" and "rsa" match any curve or size of theirs), or for a key
 * Signet cannot make (an id-ecPublicKey or rsaEncryption among @hint's
 * oids, with no key type it knows); SIGNET_ENROLL_ERROR_PROFILE too when
 * it asks for a hash Signet does not sign with (anything but sha256,
 * sha384 and sha512). The subject and challenge_password are the caller's
 * business. */
gboolean signet_subject_hint_check(const SignetSubjectHint *hint, const char *profile_key_type,
                                   GError **error);

/* A poll for a request the CA answered PENDING. */
typedef struct
{
  const char *csr_pem;                     /* the request the CA accepted */
  EVP_PKEY *request_key;                   /* its key on the token (see enroll), or NULL */
  GBytes *poll_state;                      /* the pending answer's poll_state, or NULL */
  gboolean renewal;                        /* TRUE: a reenroll, FALSE: an enroll */
  const SignetConnectorCode *code;         /* an enroll: the code again, or NULL */
  const SignetConnectorIdentity *identity; /* a reenroll: when the PIN is at hand, or NULL */
} SignetConnectorPoll;

/* Reports one mistake in the protocol's profile group: @key is the key it
 * concerns (its line is found), NULL for the group as a whole. */
typedef void (*SignetConnectorReport)(const char *key, const char *message, gpointer data);

typedef struct
{
  /* The profile's "protocol = NAME" and its group "[NAME]". */
  const char *name;
  /* For messages: "EST (RFC 7030)". */
  const char *description;
  /* The keys of [NAME] (NULL-terminated); any other key is reported. */
  const char *const *keys;
  /* Checks the values of [NAME] (@settings: key → value, only known keys)
   * and adds the defaults of the keys not given. Reports each mistake;
   * returns FALSE if there was one. May be NULL (no checks). */
  gboolean (*check_settings)(GHashTable *settings, SignetConnectorReport report, gpointer data);

  /* Everything below gets what open() returned. */
  gpointer (*open)(const SignetProfile *profile, GError **error);
  void (*close)(gpointer impl);
  /* The CA's certificates (never empty), as the protocol fetches them. */
  GPtrArray *(*ca_certs)(gpointer impl, GError **error);
  /* What the CA wants in the request; NULL (the method) when the protocol
   * cannot say: a profile with subject = ask-ca is then refused. Asked
   * with the holder's code before an enrollment, with the client identity
   * before a renewal (one of them non-NULL). */
  SignetSubjectHint *(*subject_hint)(gpointer impl, const SignetConnectorCode *code,
                                     const SignetConnectorIdentity *identity, GError **error);
  /* A first certificate for @csr_pem, proven with the holder's code.
   * @request_key: the private key of @csr_pem's public key, on the token
   * (an EVP_PKEY bound to it by pkcs11/), for a protocol that proves
   * possession of the key in its own message (CMP's POP); NULL when the
   * caller has none, and then such a protocol fails (EST ignores it). */
  SignetAnswer *(*enroll)(gpointer impl, const SignetConnectorCode *code, const char *csr_pem,
                          EVP_PKEY *request_key, GError **error);
  /* A renewal, authenticated with the current certificate and key;
   * @request_key as for enroll (the new key, or the current one when the
   * renewal keeps it). */
  SignetAnswer *(*reenroll)(gpointer impl, const SignetConnectorIdentity *identity,
                            const char *csr_pem, EVP_PKEY *request_key, GError **error);
  /* Asks again about a request answered PENDING. */
  SignetAnswer *(*poll)(gpointer impl, const SignetConnectorPoll *poll, GError **error);
  /* TRUE: the CA encrypts its answer to the request's key (SCEP), so the
   * agent makes an RSA key that decrypts (CKA_DECRYPT) as well as signs. */
  gboolean key_decrypts;
  /* TRUE: the CA answers a renewal's poll only when it is asked with the
   * current certificate's key (SCEP's CertPoll, CMP's kur), so only the
   * holder, with the PIN, can ask again: a pending renewal waits for the
   * holder from the start, never for the agent's background poll. */
  gboolean renewal_poll_needs_identity;
  /* TRUE: enroll, reenroll and poll use @request_key (CMP's POP, SCEP's
   * signed and encrypted messages); FALSE (EST): the caller need not bind
   * the key to OpenSSL at all. */
  gboolean uses_request_key;
} SignetConnectorClass;

/* The protocol named @name (case-insensitive), or NULL. */
const SignetConnectorClass *signet_connector_find(const char *name);
/* The protocols' names for a message: "est" (or "cmp, est and scep"). */
char *signet_connector_list_names(void);

typedef struct _SignetConnector SignetConnector;

/* The connector of @profile's protocol (the profile was loaded, so its
 * protocol is known and its group checked); @profile must outlive it. */
SignetConnector *signet_connector_new(const SignetProfile *profile, GError **error);
/* The same with an explicit protocol: for tests (a protocol whose answers
 * the test writes) and a protocol under development before its line in
 * the factory. */
SignetConnector *signet_connector_new_for_class(const SignetConnectorClass *klass,
                                                const SignetProfile *profile, GError **error);
void signet_connector_free(SignetConnector *connector);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetConnector, signet_connector_free)

const SignetConnectorClass *signet_connector_get_class(SignetConnector *connector);

GPtrArray *signet_connector_ca_certs(SignetConnector *connector, GError **error);
/* SIGNET_ENROLL_ERROR_PROFILE when the protocol cannot say. */
/* Whether the protocol can ask the CA what a request must hold. */
gboolean signet_connector_has_subject_hint(SignetConnector *connector);
SignetSubjectHint *signet_connector_subject_hint(SignetConnector *connector,
                                                 const SignetConnectorCode *code,
                                                 const SignetConnectorIdentity *identity,
                                                 GError **error);
SignetAnswer *signet_connector_enroll(SignetConnector *connector, const SignetConnectorCode *code,
                                      const char *csr_pem, EVP_PKEY *request_key, GError **error);
SignetAnswer *signet_connector_reenroll(SignetConnector *connector,
                                        const SignetConnectorIdentity *identity,
                                        const char *csr_pem, EVP_PKEY *request_key, GError **error);
SignetAnswer *signet_connector_poll(SignetConnector *connector, const SignetConnectorPoll *poll,
                                    GError **error);

/* Test-only knob, process-wide: while TRUE every connection of every
 * protocol goes to a closed local port, so every request fails as with the
 * CA down (SIGNET_ENROLL_ERROR_CONNECT) through the real connection code.
 * The agent's fault hook (SIGNET_FAULT=STEP:ca-down, test builds only)
 * sets it; nothing else does. */
void signet_connector_set_unreachable(gboolean unreachable);

G_END_DECLS
