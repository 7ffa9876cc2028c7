/* signet-p11.h: the token layer's whole public API.
 *
 * Owns: PKCS#11 modules (loaded through p11-kit), slots and tokens, sessions,
 * logins, key generation, certificate and key objects, PIN change and PIN
 * unblock, PKCS#11 URIs (RFC 7512, parsed by p11-kit).
 * May call: common/, p11-kit, OpenSSL (to read certificates and public keys,
 * and to hand an on-token private key to OpenSSL as an EVP_PKEY).
 * Never: enroll/, agent/, D-Bus. Never logs above debug, never logs a secret.
 *
 * Thread model: a SignetP11Context may be shared by threads (modules are
 * initialised with CKF_OS_LOCKING_OK); a SignetP11Session belongs to one
 * thread at a time. Every call may block (a card reader): call from a worker.
 *
 * Rules kept here: private keys are generated CKA_SENSITIVE, not
 * CKA_EXTRACTABLE; a PIN or PUK is used once, never retried, never kept; after
 * a failed login the token flags are read again and reported in the error.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "common/signet-secret.h"

G_BEGIN_DECLS

#define SIGNET_P11_ERROR (signet_p11_error_quark())
GQuark signet_p11_error_quark(void);

/* Codes a caller can act on. Messages carry the raw CKR_ name and say what
 * the user can do next. Registered as D-Bus errors by the agent. */
typedef enum
{
  SIGNET_P11_ERROR_FAILED,          /* anything not listed below */
  SIGNET_P11_ERROR_MODULE,          /* a PKCS#11 module could not be loaded */
  SIGNET_P11_ERROR_NO_SUCH_TOKEN,   /* nothing matches the token spec */
  SIGNET_P11_ERROR_AMBIGUOUS_TOKEN, /* several tokens match the spec */
  SIGNET_P11_ERROR_PIN_INCORRECT,   /* wrong PIN; the token flags are in the message */
  SIGNET_P11_ERROR_PIN_LOCKED,      /* the PIN is blocked: unblock it with the PUK */
  SIGNET_P11_ERROR_PIN_INVALID,     /* a new PIN the token refuses (length, characters) */
  SIGNET_P11_ERROR_PUK_INCORRECT,   /* wrong PUK */
  SIGNET_P11_ERROR_PUK_LOCKED,      /* the PUK is blocked too */
  SIGNET_P11_ERROR_TOKEN_REMOVED,   /* the token or reader went away */
  SIGNET_P11_ERROR_NOT_SUPPORTED,   /* this token or module cannot do it */
  SIGNET_P11_ERROR_NO_MATCHING_KEY, /* a certificate matches no key on the token */
  SIGNET_P11_ERROR_NO_SUCH_OBJECT,  /* no key or certificate with that id */
  SIGNET_P11_ERROR_TOKEN_FULL,      /* no room left on the token */
  SIGNET_P11_ERROR_READ_ONLY,       /* the token is write-protected */
  SIGNET_P11_ERROR_FINAL_TRY,       /* refused to send: one try left, not confirmed */
  SIGNET_P11_ERROR_BAD_URI,         /* a PKCS#11 URI that is malformed, repeats or does not
                                       know an attribute, or holds a PIN */
} SignetP11Error;

/* ---- key types ---------------------------------------------------------- */

typedef enum
{
  SIGNET_P11_KEY_RSA_2048,
  SIGNET_P11_KEY_RSA_3072,
  SIGNET_P11_KEY_RSA_4096,
  SIGNET_P11_KEY_EC_P256,
  SIGNET_P11_KEY_EC_P384,
} SignetP11KeyType;

/* "rsa:2048", "rsa:3072", "rsa:4096", "ec:p256", "ec:p384". */
gboolean signet_p11_key_type_parse(const char *name, SignetP11KeyType *out_type, GError **error);
const char *signet_p11_key_type_to_string(SignetP11KeyType type);

/* ---- unblock methods (TOKENS.md) ---------------------------------------- */

typedef enum
{
  SIGNET_P11_UNBLOCK_UNKNOWN,           /* we do not know how: refuse, never guess */
  SIGNET_P11_UNBLOCK_SO_LOGIN_INIT_PIN, /* C_Login(CKU_SO, puk) + C_InitPIN(new): SoftHSM2 */
  SIGNET_P11_UNBLOCK_SET_PIN_UNLOGGED,  /* C_SetPIN(puk, new) logged out: OpenSC with
                                           user_pin_unblock_style = set_pin_in_unlogged_session */
  SIGNET_P11_UNBLOCK_YKCS11,            /* C_SetPIN("puk:<PUK>", "pin:<new>"): Yubico ykcs11 */
} SignetP11UnblockMethod;

gboolean signet_p11_unblock_method_parse(const char *name, SignetP11UnblockMethod *out_method,
                                         GError **error);
const char *signet_p11_unblock_method_to_string(SignetP11UnblockMethod method);

/* ---- context: the loaded modules ---------------------------------------- */

typedef struct _SignetP11Context SignetP11Context;

/* Loads @module_path, or every module registered with p11-kit (as its proxy
 * would: modules with "disable-in: p11-kit-proxy" are left out) when NULL.
 * @unblock_override: the unblock method to use for every token, or
 * SIGNET_P11_UNBLOCK_UNKNOWN to choose per module (TOKENS.md). */
SignetP11Context *signet_p11_context_new(const char *module_path,
                                         SignetP11UnblockMethod unblock_override, GError **error);
void signet_p11_context_free(SignetP11Context *ctx);

/* ---- tokens ------------------------------------------------------------- */

typedef struct
{
  gboolean count_low; /* CKF_USER_PIN_COUNT_LOW / CKF_SO_PIN_COUNT_LOW */
  gboolean final_try; /* ..._FINAL_TRY: one more wrong try locks it */
  gboolean locked;    /* ..._LOCKED */
  gboolean to_be_changed;
} SignetP11PinState;

typedef struct
{
  /* where it is */
  char *module_name; /* p11-kit's name for the module, or the file's basename */
  char *module_path;
  char *library_description;
  char *library_manufacturer;
  CK_SLOT_ID slot_id;
  char *slot_description; /* the reader, for OpenSC */
  char *slot_manufacturer;
  gboolean removable;
  /* what it is */
  char *label;
  char *manufacturer;
  char *model;
  char *serial;
  char *uri;      /* pkcs11:model=…;manufacturer=…;serial=…;token=… */
  CK_FLAGS flags; /* raw CK_TOKEN_INFO flags, as last read */
  /* the module's answers, as last read (a URI is matched against them) */
  CK_SLOT_INFO slot_info;
  CK_TOKEN_INFO token_info;
  SignetP11PinState user_pin;
  SignetP11PinState so_pin; /* the PUK's state where the module reports it */
  gboolean login_required;
  gboolean protected_auth_path; /* PIN pad: the PIN is typed on the reader */
  gboolean write_protected;
  gboolean initialized;
  gulong min_pin_len;
  gulong max_pin_len;
  /* bytes free, or CK_UNAVAILABLE_INFORMATION / CK_EFFECTIVELY_INFINITE */
  gulong free_public_memory;
  gulong free_private_memory;
  /* what it can generate: 0 when the mechanism is absent */
  gulong rsa_min_bits, rsa_max_bits;
  gulong ec_min_bits, ec_max_bits;
  gboolean can_sign_rsa, can_sign_ec;
  gboolean can_decrypt_rsa; /* CKM_RSA_PKCS with CKF_DECRYPT */
  SignetP11UnblockMethod unblock_method;
  /* The module reads the card's objects once per process (OpenSC): what
   * another program writes meanwhile shows only after the card is
   * re-inserted. */
  gboolean objects_cached;
  /* The module lists private key objects without a login (OpenSC). */
  gboolean private_keys_listed;
  /* private */
  guint module_index;
} SignetP11Token;

void signet_p11_token_free(SignetP11Token *token);
SignetP11Token *signet_p11_token_copy(const SignetP11Token *token);

/* Every token present now, in module then slot order. */
GPtrArray *signet_p11_context_list_tokens(SignetP11Context *ctx, GError **error);

/* @spec is a PKCS#11 URI ("pkcs11:…", token attributes only are matched),
 * a serial number or a label. Exactly one token must match. A URI that is
 * malformed, gives an attribute twice, has one RFC 7512 does not define or
 * holds a PIN (pin-value, pin-source) is BAD_URI. */
SignetP11Token *signet_p11_context_find_token(SignetP11Context *ctx, const char *spec,
                                              GError **error);

/* The serial number and label a PKCS#11 URI names (NULL for one it does not
 * give), checked as signet_p11_context_find_token() checks a URI (BAD_URI):
 * to match records of a token that may not be present. */
gboolean signet_p11_uri_token_names(const char *uri, char **out_serial, char **out_label,
                                    GError **error);

/* The key types @token can generate ("rsa:2048", …), from its mechanisms. */
GStrv signet_p11_token_key_types(const SignetP11Token *token);

/* Can @token generate @type? NOT_SUPPORTED with what it can do otherwise. */
gboolean signet_p11_token_check_key_type(const SignetP11Token *token, SignetP11KeyType type,
                                         GError **error);

/* Can a @type key on @token decrypt (an RSA key, CKM_RSA_PKCS with
 * CKF_DECRYPT)? What a CA that encrypts its answer to the key needs
 * (@needed_by names it: "SCEP"). NOT_SUPPORTED otherwise, before anything
 * is made. */
gboolean signet_p11_token_check_decrypt(const SignetP11Token *token, SignetP11KeyType type,
                                        const char *needed_by, GError **error);

/* ---- sessions ----------------------------------------------------------- */

typedef struct _SignetP11Session SignetP11Session;

/* A read-write session on @token's slot (read-only when the token is
 * write-protected). The token must still be the same one (its serial is
 * checked); the session's token (signet_p11_session_get_token) is read
 * afresh as the session opens. */
SignetP11Session *signet_p11_session_open(SignetP11Context *ctx, const SignetP11Token *token,
                                          GError **error);
void signet_p11_session_free(SignetP11Session *session);

/* The token as last read by this session (refreshed after a failed login).
 * The pointer is valid until the next call on @session that may read the
 * token again (login, PIN change, unblock, refresh): copy what you keep. */
const SignetP11Token *signet_p11_session_get_token(SignetP11Session *session);

/* Re-reads the token's info and flags. */
gboolean signet_p11_session_refresh_token(SignetP11Session *session, GError **error);

/* Logs the user in with @pin, once. Refuses to send the PIN when the token
 * is at FINAL_TRY and @confirm_final_try is FALSE (SIGNET_P11_ERROR_FINAL_TRY).
 * On failure the token flags are read again and the message says what they
 * are now. A token with a protected authentication path gets a NULL PIN. */
gboolean signet_p11_session_login(SignetP11Session *session, const SignetSecret *pin,
                                  gboolean confirm_final_try, GError **error);

/* ---- objects ------------------------------------------------------------ */

typedef struct
{
  GBytes *id; /* CKA_ID */
  char *label;
  gboolean authority; /* CKA_CERTIFICATE_CATEGORY = authority, or a CA certificate */
  X509 *cert;
  CK_OBJECT_HANDLE handle;
} SignetP11Certificate;

void signet_p11_certificate_free(SignetP11Certificate *cert);

/* How a private key is kept from leaving the token, as far as the module
 * can promise it (docs/internals/pkcs11.md, "Is the key safe?"). */
typedef enum
{
  SIGNET_P11_KEY_PROTECTION_UNKNOWN,       /* the private key is not visible (not logged in) */
  SIGNET_P11_KEY_PROTECTION_SENSITIVE,     /* CKA_SENSITIVE, not CKA_EXTRACTABLE */
  SIGNET_P11_KEY_PROTECTION_CARD,          /* not CKA_EXTRACTABLE, its value unreadable, on a
                                              module known not to report CKA_SENSITIVE for
                                              card keys (OpenSC before 0.24) */
  SIGNET_P11_KEY_PROTECTION_NOT_SENSITIVE, /* not sensitive, not extractable, and nothing
                                              more can be promised */
  SIGNET_P11_KEY_PROTECTION_EXTRACTABLE,   /* CKA_EXTRACTABLE: it can be exported */
} SignetP11KeyProtection;

/* "sensitive", "card", "not-sensitive", "extractable", "unknown". */
const char *signet_p11_key_protection_to_string(SignetP11KeyProtection protection);

typedef struct
{
  GBytes *id; /* CKA_ID shared by the pair (and its certificate) */
  char *label;
  char *key_type; /* "rsa:2048", "ec:p256", …, or "rsa:1024" etc. as found */
  gboolean has_private;
  gboolean has_public;
  gboolean has_certificate;
  /* attributes of the private key, when visible (logged in or public) */
  gboolean sensitive;
  gboolean extractable;
  gboolean always_sensitive;
  gboolean never_extractable;
  SignetP11KeyProtection protection;
} SignetP11KeyPair;

void signet_p11_key_pair_free(SignetP11KeyPair *key);

/* Certificates on the token (SignetP11Certificate). */
GPtrArray *signet_p11_session_list_certificates(SignetP11Session *session, GError **error);
/* Key pairs on the token grouped by CKA_ID (SignetP11KeyPair). A key pair
 * means a private key: where private keys are visible (logged in, or a
 * module such as OpenSC that shows them without a login) a public key
 * without one is not a pair (OpenSC shows a public key for every
 * certificate, CA certificates included). Where they are not visible yet
 * (SoftHSM2 before login), a public key lists, unless it only shadows a CA
 * certificate; a certificate alone never does. */
GPtrArray *signet_p11_session_list_key_pairs(SignetP11Session *session, GError **error);

/* Generates a key pair on the token: private key CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_SIGN; public key CKA_TOKEN,
 * CKA_VERIFY; both with a fresh random CKA_ID, returned in @out_id.
 * Needs a logged-in session. */
gboolean signet_p11_session_generate_key_pair(SignetP11Session *session, SignetP11KeyType type,
                                              const char *label, GBytes **out_id, GError **error);

/* The same with the CKA_ID @id chosen by the caller (from
 * signet_p11_new_key_id()), so that it can be journaled before the key
 * exists: a crash in between leaves no key nobody knows of. */
gboolean signet_p11_session_generate_key_pair_with_id(SignetP11Session *session,
                                                      SignetP11KeyType type, const char *label,
                                                      GBytes *id, GError **error);
/* The same, an RSA key pair whose private key also decrypts (CKA_DECRYPT,
 * the public key CKA_ENCRYPT): for a protocol whose CA encrypts its answer
 * to the request's key (SCEP, RFC 8894 3.3.2). NOT_SUPPORTED for EC. */
gboolean signet_p11_session_generate_decrypting_key_pair_with_id(SignetP11Session *session,
                                                                 SignetP11KeyType type,
                                                                 const char *label, GBytes *id,
                                                                 GError **error);
/* A fresh random CKA_ID for a new key pair. */
GBytes *signet_p11_new_key_id(GError **error);

/* The public key of the pair @id, from its public key object, or its
 * certificate when the public object is gone. */
EVP_PKEY *signet_p11_session_get_public_key(SignetP11Session *session, GBytes *id, GError **error);

/* The private key @id as an OpenSSL EVP_PKEY whose private operations
 * (signing, RSA decryption) run on the token through @session
 * (signet-p11-evp.c): for TLS client authentication, CMP and SCEP. Needs a
 * logged-in session; valid while @session lives. NOT_SUPPORTED for a key
 * neither RSA nor EC; NO_SUCH_OBJECT without that key, or without its
 * public key (a public key object or a certificate). */
EVP_PKEY *signet_p11_session_get_private_key(SignetP11Session *session, GBytes *id, GError **error);

/* Signs @len bytes of @data with the private key @id through @session
 * (logged in), without OpenSSL's key: hashed with @md here, then CKM_RSA_PKCS
 * over its DigestInfo (RSA) or CKM_ECDSA over the hash (EC), which every
 * token that signs has. The signature as X.509 carries it: PKCS#1 v1.5
 * for RSA, a DER Ecdsa-Sig-Value for EC. NO_SUCH_OBJECT without that key. */
GBytes *signet_p11_session_sign(SignetP11Session *session, GBytes *id, const EVP_MD *md,
                                const guint8 *data, gsize len, GError **error);
/* A private key on the token, as signet_p11_key_ref_sign() takes it. */
typedef struct
{
  SignetP11Session *session;
  GBytes *id;
} SignetP11KeyRef;
/* signet_p11_session_sign() with @key_ref (a SignetP11KeyRef*), in the
 * form of enroll/'s SignetCsrSignFunc: a request signed on the token. */
GBytes *signet_p11_key_ref_sign(const EVP_MD *md, const guint8 *data, gsize len, gpointer key_ref,
                                GError **error);

/* The CKA_ID of the key pair whose public key is @cert's, or NO_MATCHING_KEY.
 * Looks at public key objects and, when logged in, private keys. */
gboolean signet_p11_session_find_key_for_certificate(SignetP11Session *session, X509 *cert,
                                                     GBytes **out_id, GError **error);

/* TRUE if the token has a private key (visible when logged in) or a public
 * key with CKA_ID @id; FALSE with @error set when it could not be searched. */
gboolean signet_p11_session_has_key(SignetP11Session *session, GBytes *id, GError **error);

/* TRUE if a certificate object with the same DER is on the token already. */
gboolean signet_p11_session_has_certificate(SignetP11Session *session, X509 *cert, GError **error);

/* Writes @cert as a certificate object: under @id for a leaf (the key's
 * CKA_ID), with CKA_CERTIFICATE_CATEGORY authority for a CA certificate
 * (@authority TRUE, @id may be NULL: then an id is made from the subject key
 * identifier or a hash of the certificate). Needs a logged-in session. */
gboolean signet_p11_session_store_certificate(SignetP11Session *session, X509 *cert, GBytes *id,
                                              const char *label, gboolean authority,
                                              GError **error);

/* Deletes the certificate objects whose value is @cert (and nothing else).
 * NO_SUCH_OBJECT if there is none. Needs a logged-in session. */
gboolean signet_p11_session_delete_certificate(SignetP11Session *session, X509 *cert,
                                               GError **error);

/* Deletes the private key, public key and certificates with CKA_ID @id.
 * NO_SUCH_OBJECT if there is none. Needs a logged-in session. */
gboolean signet_p11_session_delete_key_pair(SignetP11Session *session, GBytes *id, GError **error);

/* ---- PIN management ----------------------------------------------------- */

/* Changes the user PIN from @old_pin to @new_pin: C_Login(CKU_USER, old) and
 * C_SetPIN(old, new) in that logged-in session, on every module (never
 * C_SetPIN logged out: OpenSC may take that as an unblock with the PUK).
 * @new_pin is checked against the token's length limits first; the login
 * has the final-try guard. */
gboolean signet_p11_session_change_pin(SignetP11Session *session, const SignetSecret *old_pin,
                                       const SignetSecret *new_pin, gboolean confirm_final_try,
                                       GError **error);

/* Unblocks the user PIN with @puk and sets @new_pin, by the token's unblock
 * method: one attempt, never a second method with the same PUK. A wrong PUK
 * is PUK_INCORRECT, a blocked one PUK_LOCKED. Where the module reports the
 * PUK at its final try, nothing is sent unless @confirm_final_try (FINAL_TRY). */
gboolean signet_p11_session_unblock_pin(SignetP11Session *session, const SignetSecret *puk,
                                        const SignetSecret *new_pin, gboolean confirm_final_try,
                                        GError **error);

/* ---- helpers ------------------------------------------------------------ */

/* "CKR_PIN_INCORRECT" for CKR_PIN_INCORRECT, "CKR_0x…" when unknown. */
const char *signet_p11_rv_name(CK_RV rv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetP11Context, signet_p11_context_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetP11Token, signet_p11_token_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetP11Session, signet_p11_session_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetP11Certificate, signet_p11_certificate_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetP11KeyPair, signet_p11_key_pair_free)

G_END_DECLS
