/* signet-enroll-private.h: helpers shared by the files of enroll/ and its tests.
 *
 * Owns: g_autoptr cleanup functions for the OpenSSL types enroll/ uses, and
 * turning OpenSSL's error queue into a message. Not installed, not for use
 * outside enroll/ and tests/enroll/ (another layer may define the same
 * cleanup functions for the same OpenSSL types; two definitions in one
 * translation unit do not compile).
 * May call: OpenSSL, GLib.
 */
#pragma once

#include <glib.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_REQ, X509_REQ_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME_ENTRY, X509_NAME_ENTRY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_CRL, X509_CRL_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_SIG, X509_SIG_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PKCS7, PKCS7_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PKCS12, PKCS12_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CMS_ContentInfo, CMS_ContentInfo_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free_all)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_OBJECT, ASN1_OBJECT_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_TIME, ASN1_TIME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)

/* The reason of the oldest error on OpenSSL's error queue (the root cause,
 * e.g. "header too long"), or "unknown error" when the queue is empty.
 * Empties the queue. */
char *signet_openssl_error_text(void);

/* The name signet_subject_parse() reads back for the attribute type @obj:
 * OpenSSL's short name ("CN") for the types it knows, else the dotted OID;
 * NULL for an OID too long to write. */
char *signet_subject_attribute_name(const ASN1_OBJECT *obj);

G_END_DECLS
