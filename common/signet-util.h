/* signet-util.h: tiny helpers shared by every layer.
 * Owns nothing. May call: GLib, libc. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Lower-case hex of @len bytes. */
char *signet_hex_encode(const guint8 *data, gsize len);
/* Parses hex (either case, an optional ':' between bytes); NULL if malformed. */
GBytes *signet_hex_decode(const char *hex);

/* Copies a blank-padded PKCS#11 string field (label, serial, …) to a
 * NUL-terminated UTF-8 string with the padding removed. */
char *signet_padded_to_string(const guint8 *field, gsize len);

G_END_DECLS
