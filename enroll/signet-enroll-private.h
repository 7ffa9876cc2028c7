/* signet-enroll-private.h: helpers shared by the files of enroll/ and its tests.
 *
 * Owns: turning OpenSSL's error queue into a message (the g_autoptr
 * cleanup functions for OpenSSL types are common/signet-openssl-util.h's,
 * included here). Not installed, not for use outside enroll/ and
 * tests/enroll/.
 * May call: OpenSSL, GLib.
 */
#pragma once

#include <glib.h>

#include "common/signet-openssl-util.h"

G_BEGIN_DECLS

/* The reason of the oldest error on OpenSSL's error queue (the root cause,
 * e.g. "header too long"), or "unknown error" when the queue is empty.
 * Empties the queue. */
char *signet_openssl_error_text(void);

/* What a CA said, for a holder to read: @text (any bytes) as valid UTF-8,
 * each character that is not printable as '?', cut after @max characters
 * with "…". Never NULL. */
char *signet_enroll_printable_text(const char *text, gsize max);

/* The name signet_subject_parse() reads back for the attribute type @obj:
 * OpenSSL's short name ("CN") for the types it knows, else the dotted OID;
 * NULL for an OID too long to write. */
char *signet_subject_attribute_name(const ASN1_OBJECT *obj);

/* Whether an ASN1_TYPE of @type holds text ASN1_STRING_to_UTF8() reads: a
 * DirectoryString, or the IA5, Visible or Numeric strings some tools write
 * (a CsrAttrs value, a challengePassword). */
gboolean signet_asn1_is_text_type(int type);

G_END_DECLS
