/* signet-cmp-private.h: the CMP connector's transaction with its answers
 * taken from a function instead of the CA's server, for the fuzzer
 * (tests/fuzz/fuzz-cmp.c); private to enroll/.
 *
 * Everything the connector does with a CA's answer runs as it does over
 * HTTP: the transfer callback's reading of the bytes (one whole PKIMessage
 * or a message in words), OpenSSL's checks of the message (transaction ID,
 * nonces, protection), and the PKIStatusInfo, statusString and failInfo put
 * in the holder's words. May call: OpenSSL, GLib.
 */
#pragma once

#include <glib.h>
#include <openssl/cmp.h>

#include "enroll/signet-connector.h"
#include "enroll/signet-profile.h"

G_BEGIN_DECLS

/* The bytes the CA's server answers @request with (HTTP 200,
 * application/pkixcmp); NULL: an empty body. */
typedef GBytes *(*SignetCmpAnswerFunc)(const OSSL_CMP_MSG *request, gpointer data);

/* One ir (with @code: protected with a MAC from its reference and code) or
 * kur (with @identity) for @csr_pem and its key @request_key, through the
 * connector of @profile (a CMP profile), every answer from @answer_func. */
SignetAnswer *signet_cmp_exchange_with(const SignetProfile *profile,
                                       const SignetConnectorCode *code,
                                       const SignetConnectorIdentity *identity, const char *csr_pem,
                                       EVP_PKEY *request_key, SignetCmpAnswerFunc answer_func,
                                       gpointer answer_data, GError **error);

G_END_DECLS
