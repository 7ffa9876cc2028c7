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

/* TRUE when @s holds a control character: C0 (below 0x20), DEL, or a C1
 * code point (U+0080 to U+009F, which some terminals obey as escapes).
 * Labels Signet writes must not: a label is printed in everyone's status. */
gboolean signet_has_control_chars(const char *s);

/* @text as one shell word for a command line to copy: as it is when it
 * needs no quoting, else quoted (g_shell_quote). */
char *signet_shell_word(const char *text);

/* @s with every control character written as \xNN (C1 code points as
 * \u0080...), so that text from a token, a certificate or a CA cannot drive
 * the terminal it is printed on. @keep_layout: newline and tab stay (for
 * whole messages; a single value such as a label escapes them too, so that
 * it cannot fake lines of its own). */
char *signet_escape_control_chars(const char *s, gboolean keep_layout);

/* TRUE when @raw, a GKeyFile value as written (g_key_file_get_value()),
 * has only the escapes GKeyFile knows: \s \n \t \r \\. Check it before
 * g_key_file_get_string(): GLib 2.74 sets its GError twice (a warning,
 * fatal in the tests) for a value with an unknown escape and a "\" at its
 * end, e.g. "C:\Program Files\" (found by tests/fuzz/fuzz-profile). */
gboolean signet_key_file_escapes_valid(const char *raw);

G_END_DECLS
