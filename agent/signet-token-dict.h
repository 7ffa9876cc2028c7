/* signet-token-dict.h: the a{sv} dictionaries of the D-Bus API (token, PIN
 * and PUK state, certificate, key), exactly as docs/dbus-api.md lists them.
 *
 * Owns: the mapping from pkcs11/ structures to dictionaries; what a
 * profile's protocol needs of a token's keys.
 * May call: GLib, pkcs11/ (types), enroll/ (describing certificates), common/.
 * Every function returns a floating GVariant of type a{sv}.
 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

#include "enroll/signet-profile.h"
#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

/* A ListTokens entry. */
GVariant *signet_token_dict_new(const SignetP11Token *token);

/* GetTokenStatus: the token entry plus "certificates" and "keys".
 * @certs: SignetP11Certificate; @keys: SignetP11KeyPair; @now: NULL for now. */
GVariant *signet_token_dict_new_status(const SignetP11Token *token, GPtrArray *certs,
                                       GPtrArray *keys, GDateTime *now);

/* A "certificates" entry. @has_key: a key pair with the same CKA_ID exists. */
GVariant *signet_token_dict_certificate(const SignetP11Certificate *cert, gboolean has_key,
                                        GDateTime *now);

/* A "keys" entry (the full form). */
GVariant *signet_token_dict_key(const SignetP11KeyPair *key);

/* The short key dictionary GenerateKey and CreateRequest return: id, label, type. */
GVariant *signet_token_dict_new_key_short(GBytes *id, const char *label, const char *type);

/* Adds what a holder wants to know of a certificate just stored: subject,
 * issuer, serial, not_before, not_after (s), days_left (x). */
void signet_token_dict_add_issued(GVariantBuilder *builder, X509 *cert);

/* Can a @type key on @token do what @profile's protocol needs of it
 * besides signing (SCEP: decrypt the CA's answer)? NOT_SUPPORTED before
 * anything is made or sent. */
gboolean signet_token_check_key_use(const SignetP11Token *token, const SignetProfile *profile,
                                    SignetP11KeyType type, GError **error);

/* How users name a token in messages: its label, else its serial. */
const char *signet_token_dict_name(const SignetP11Token *token);

/* Lower-case hex of a CKA_ID ("" for NULL). */
char *signet_token_dict_id_to_hex(GBytes *id);

/* The details of a Progress signal: "message", "token" (serial) and, when
 * known, "profile" (floating a{sv}). */
GVariant *signet_token_dict_progress(const char *message, const char *serial, const char *profile);

G_END_DECLS
