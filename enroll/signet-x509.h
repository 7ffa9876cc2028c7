/* signet-x509.h: certificates, certificate files and certificate requests.
 *
 * Owns: parsing certificate files as CAs and their portals hand them out
 * (PEM, DER, .cer/.crt, PKCS#7 .p7b/.p7c, PEM bundles with the chain),
 * describing certificates (subject, issuer, serial, validity), parsing a
 * subject ("CN=…,O=…,C=…" or "/CN=…/O=…"), and building a PKCS#10 request
 * signed with a given EVP_PKEY (which may live on a token).
 * May call: common/, OpenSSL, GLib. Never PKCS#11, never D-Bus.
 * Parsers here take outside input: they are bounded and fuzzed.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/signet-secret.h"

G_BEGIN_DECLS

#define SIGNET_ENROLL_ERROR (signet_enroll_error_quark())
GQuark signet_enroll_error_quark(void);

typedef enum
{
  SIGNET_ENROLL_ERROR_FAILED,
  SIGNET_ENROLL_ERROR_BAD_INPUT,   /* a file or response that is not what it should be */
  SIGNET_ENROLL_ERROR_BAD_SUBJECT, /* a subject that cannot be parsed */
  /* Talking to a CA (signet-est.h); each message says what to do next. */
  SIGNET_ENROLL_ERROR_RESOLVE,       /* the CA's host name does not resolve (DNS) */
  SIGNET_ENROLL_ERROR_CONNECT,       /* no connection (refused, unreachable, proxy) */
  SIGNET_ENROLL_ERROR_TLS,           /* TLS failed: certificate not trusted, wrong host name, ... */
  SIGNET_ENROLL_ERROR_TIMEOUT,       /* the CA did not answer in time */
  SIGNET_ENROLL_ERROR_CODE_REJECTED, /* unknown or already used activation code (401) */
  SIGNET_ENROLL_ERROR_CODE_EXPIRED,  /* activation code expired: ask the CA for a new one */
  SIGNET_ENROLL_ERROR_REFUSED,       /* request refused by the CA (400/403, with its text) */
  SIGNET_ENROLL_ERROR_UNAVAILABLE,   /* CA unavailable (5xx): try again later */
  SIGNET_ENROLL_ERROR_BAD_RESPONSE,  /* response not understood (or truncated, or 404) */
  SIGNET_ENROLL_ERROR_PROFILE,       /* no such CA profile, or a broken one */
  SIGNET_ENROLL_ERROR_CERT_MISMATCH, /* issued certificate: another key, or no chain to the CA */
} SignetEnrollError;

/* Largest certificate file accepted (a chain of a few certificates is ~10 KiB). */
#define SIGNET_CERTFILE_MAX (1024 * 1024)
/* Most certificates accepted in one file (after removing duplicates). */
#define SIGNET_CERTFILE_MAX_CERTS 64

/* Reads every certificate in @data: PEM (CERTIFICATE, X509 CERTIFICATE,
 * TRUSTED CERTIFICATE, PKCS7 blocks, any number, text around them ignored),
 * DER X.509, DER PKCS#7 (signed-data, certs-only), or base64 of either
 * without PEM armour. Returns a GPtrArray of X509* (freed with X509_free) in
 * file order, never empty; BAD_INPUT with a message saying what the file
 * looked like and what is expected otherwise. */
GPtrArray *signet_certfile_parse(const guint8 *data, gsize len, GError **error);

/* TRUE if @cert is a CA certificate (basicConstraints CA:TRUE), or is
 * self-signed. */
gboolean signet_x509_is_ca(X509 *cert);

/* The certificates of @first, then those of @second (may be NULL) that are
 * not there already (X509_cmp), in order: a CA's answer with what its
 * GetCACert or /cacerts gave, each certificate once. The array borrows
 * them (no free function). */
GPtrArray *signet_x509_join_unique(GPtrArray *first, GPtrArray *second);

/* RFC 2253-like one-line form: "CN=Jan Kowalski,O=Example,C=PL". */
char *signet_x509_name_to_string(const X509_NAME *name);
/* Serial number as lower-case hex. */
char *signet_x509_serial_to_string(X509 *cert);
/* ISO 8601 UTC: "2027-11-21T13:37:00Z"; NULL if @time is malformed. */
char *signet_asn1_time_to_iso8601(const ASN1_TIME *time);
/* @time as Unix seconds (UTC), 0 if it is malformed. */
gint64 signet_asn1_time_to_unix(const ASN1_TIME *time);
/* Whole days from @now (NULL: the current time) to notAfter, negative once
 * expired: floor ((notAfter - now) / 86400 s). G_MININT32 if notAfter is
 * malformed (long expired, as far as a caller is concerned). */
gint64 signet_x509_days_left(X509 *cert, GDateTime *now);
/* Does @leaf chain to one of @anchors, the roots the caller already trusts
 * (docs/internals/trust.md)? @untrusted: the intermediates to build the
 * chain with (what came with the certificate; may be NULL). Nothing in
 * @untrusted is ever an anchor, self-signed or not: a root that came in the
 * same answer as the leaf makes no chain verify. Of @anchors only CA
 * certificates (signet_x509_is_ca) count; a CA certificate that is not
 * self-signed counts as an anchor too (it was given as trusted: a partial
 * chain ending there verifies). An anchor must be valid at @now like every
 * other certificate of the chain. @now: NULL for the current time.
 * @out_anchor (may be NULL): the anchor the chain ends at (a new reference).
 * FALSE with CERT_MISMATCH saying why (no anchor given, or OpenSSL's
 * reason: "unable to get local issuer certificate", "self-signed
 * certificate in certificate chain", "certificate has expired", …). */
gboolean signet_x509_verify_chain(X509 *leaf, GPtrArray *untrusted, GPtrArray *anchors,
                                  GDateTime *now, X509 **out_anchor, GError **error);
/* The same with the anchors in @store (e.g. the system's, from
 * X509_STORE_set_default_paths, plus the caller's own); every certificate
 * of @store is an anchor (partial chains verify). @store is not changed. */
gboolean signet_x509_verify_chain_with_store(X509 *leaf, GPtrArray *untrusted, X509_STORE *store,
                                             GDateTime *now, X509 **out_anchor, GError **error);
/* The certificate a chain from @leaf ends at inside @certs: its issuer,
 * that issuer's issuer, … as long as @certs holds one (by name, key
 * identifier and signature), up to a self-signed one. @leaf itself when
 * @certs holds no issuer of it. Not a verification: what a message names as
 * "the root the CA used". Borrowed from @certs (or @leaf). */
X509 *signet_x509_chain_top(X509 *leaf, GPtrArray *certs);
/* TRUE if @cert is self-signed (its own issuer, its signature verifies with
 * its own key). */
gboolean signet_x509_is_self_signed(X509 *cert);
/* SHA-256 of @cert's DER, "3F:A2:…" (upper case with colons, as `openssl
 * x509 -fingerprint -sha256` prints it). */
char *signet_x509_fingerprint(X509 *cert);
/* "CN=Example Root CA,O=Example (SHA-256 3F:A2:…)": a certificate named so
 * that a person can compare it with what the CA publishes. */
char *signet_x509_describe(X509 *cert);

/* TRUE if @cert holds @key's public key. */
gboolean signet_x509_matches_key(X509 *cert, EVP_PKEY *key);
/* @cert's key in a profile's key-type form: "ec:p256", "ec:p384",
 * "rsa:3072", …; "ec" (another curve) or "rsa"; NULL for another
 * algorithm. */
char *signet_x509_key_type(X509 *cert);

/* Parses "CN=Jan Kowalski,O=Example\, Inc.,C=PL" (RFC 4514: the last RDN
 * written is the first in the certificate, so the name prints back as
 * written; '\' escapes) or OpenSSL's "/C=PL/O=Example/CN=Jan Kowalski"
 * (ASN.1 order, as openssl -subj).
 * Attribute names OpenSSL knows (CN, O, OU, C, L, ST, serialNumber,
 * emailAddress, givenName, surname, title, …) or dotted OIDs. UTF-8 values. */
X509_NAME *signet_subject_parse(const char *subject, GError **error);

/* A PKCS#10 request for @subject with @public_key (NULL: @signer's public
 * part), signed with @signer (SHA-256; RSA PKCS#1 v1.5 or ECDSA), as PEM.
 * @signer may be bound to a token key (pkcs11/). The signature is checked
 * with the public key before the request is returned. */
char *signet_csr_build_pem(EVP_PKEY *signer, EVP_PKEY *public_key, const char *subject,
                           GError **error);
/* The same for a subject given as a name (renewal: the current
 * certificate's subject, RDN for RDN). */
char *signet_csr_build_pem_for_name(EVP_PKEY *signer, EVP_PKEY *public_key, const X509_NAME *name,
                                    GError **error);
/* What a CA asked the request to be (its subject hint): the hash to sign
 * with ("sha256", the default when NULL; "sha384"; "sha512") and a
 * challengePassword attribute (@challenge_password, UTF-8, not
 * NUL-terminated, or NULL for none). */
/* Signs @len bytes of @data with @md on the token (the request's key):
 * the signature as X.509 carries it (RSA PKCS#1 v1.5; ECDSA as a DER
 * Ecdsa-Sig-Value), or NULL and @error. */
typedef GBytes *(*SignetCsrSignFunc)(const EVP_MD *md, const guint8 *data, gsize len,
                                     gpointer user_data, GError **error);
typedef struct
{
  const char *hash;
  const guint8 *challenge_password;
  gsize challenge_password_len;
  /* Signs instead of @signer (which is then NULL; @public_key is needed):
   * the request signed through the caller's own session on the token,
   * without an EVP_PKEY bound to it. */
  SignetCsrSignFunc sign;
  gpointer sign_data;
} SignetCsrOptions;
/* A test signature: has @sign (with @sign_data) sign fresh random data
 * (SHA-256; PKCS#1 v1.5 for RSA, ECDSA for EC: a token's key, through the
 * agent's session) and verifies it with @cert's public key. CERT_MISMATCH
 * when it does not verify; @sign's own error, prefixed, when it could not
 * sign. */
gboolean signet_x509_test_signature(SignetCsrSignFunc sign, gpointer sign_data, X509 *cert,
                                    GError **error);

/* signet_csr_build_pem_for_name() as @options say (NULL: as there).
 * BAD_INPUT for a hash other than the three. */
char *signet_csr_build_pem_with(EVP_PKEY *signer, EVP_PKEY *public_key, const X509_NAME *name,
                                const SignetCsrOptions *options, GError **error);
/* The public key in the PEM request @pem (BAD_INPUT if it is not one). */
EVP_PKEY *signet_csr_public_key(const char *pem, GError **error);
/* SHA-256 of the request's DER, "3F:A2:…" (as `openssl req -outform DER |
 * sha256sum` gives it, in upper case with colons): what a CA can look up. */
char *signet_csr_fingerprint(const char *pem, GError **error);

/* What a PEM request was made with, to make another for the same key
 * (signet_csr_build_pem_with()): its subject, the hash it is signed with
 * ("sha256", "sha384" or "sha512": static strings) and its
 * challengePassword (an activation code: a secret, wiped when freed; NULL
 * when the request has none). */
typedef struct
{
  X509_NAME *subject;
  const char *hash;
  SignetSecret *challenge_password;
} SignetCsrContent;
/* BAD_INPUT when @pem is not a request, is signed with another hash, or its
 * challengePassword is not a string. */
SignetCsrContent *signet_csr_read_content(const char *pem, GError **error);
void signet_csr_content_free(SignetCsrContent *content);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetCsrContent, signet_csr_content_free)

G_END_DECLS
