/* signet-util.c: see signet-util.h. */
#include "config.h"

#include "common/signet-util.h"

#include <string.h>

char *
signet_hex_encode(const guint8 *data, gsize len)
{
  static const char digits[] = "0123456789abcdef";
  char *out = g_malloc(len * 2 + 1);

  for (gsize i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  out[len * 2] = '\0';
  return out;
}

GBytes *
signet_hex_decode(const char *hex)
{
  g_autoptr(GByteArray) out = g_byte_array_new();

  g_return_val_if_fail(hex != NULL, NULL);
  while (*hex != '\0') {
    int hi, lo;
    guint8 b;

    if (*hex == ':' && out->len > 0 && hex[1] != '\0')
      hex++;
    hi = g_ascii_xdigit_value(hex[0]);
    lo = hi < 0 ? -1 : g_ascii_xdigit_value(hex[1]);
    if (hi < 0 || lo < 0)
      return NULL;
    b = (guint8)(hi << 4 | lo);
    g_byte_array_append(out, &b, 1);
    hex += 2;
  }
  if (out->len == 0)
    return NULL;
  return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

char *
signet_padded_to_string(const guint8 *field, gsize len)
{
  gsize end = len;

  while (end > 0 && (field[end - 1] == ' ' || field[end - 1] == '\0'))
    end--;
  if (!g_utf8_validate((const char *)field, (gssize)end, NULL))
    return g_utf8_make_valid((const char *)field, (gssize)end);
  return g_strndup((const char *)field, end);
}

/* The length of the control character at @p (1, or 2 for a UTF-8 encoded
 * C1 code point), or 0. @keep_layout: newline and tab are not counted. */
static gsize
control_at(const char *p, gboolean keep_layout)
{
  guchar c = (guchar)p[0];

  if (c < 0x20 || c == 0x7f)
    return keep_layout && (c == '\n' || c == '\t') ? 0 : 1;
  if (c == 0xc2 && (guchar)p[1] >= 0x80 && (guchar)p[1] <= 0x9f)
    return 2;
  return 0;
}

gboolean
signet_key_file_escapes_valid(const char *raw)
{
  for (const char *p = raw; *p != '\0'; p++)
    if (*p == '\\') {
      p++;
      if (*p == '\0' || strchr("sntr\\", *p) == NULL)
        return FALSE;
    }
  return TRUE;
}

gboolean
signet_has_control_chars(const char *s)
{
  for (const char *p = s; p != NULL && *p != '\0'; p++)
    if (control_at(p, FALSE) > 0)
      return TRUE;
  return FALSE;
}

char *
signet_escape_control_chars(const char *s, gboolean keep_layout)
{
  GString *out;

  if (s == NULL)
    return NULL;
  out = g_string_sized_new(strlen(s));
  for (const char *p = s; *p != '\0';) {
    gsize n = control_at(p, keep_layout);

    if (n == 1)
      g_string_append_printf(out, "\\x%02x", (guchar)*p);
    else if (n == 2)
      g_string_append_printf(out, "\\u%04x", (guint)(guchar)p[1]);
    else {
      g_string_append_c(out, *p);
      n = 1;
    }
    p += n;
  }
  return g_string_free(out, FALSE);
}

char *
signet_shell_word(const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum(*p) && strchr("-_.:/=%@+,", *p) == NULL)
      return g_shell_quote(text);
  return g_strdup(text);
}
