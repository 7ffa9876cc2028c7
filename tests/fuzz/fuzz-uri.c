/* fuzz-uri.c: libFuzzer harness for the PKCS#11 URIs the agent takes
 * (signet_p11_uri_token_names(): the checks and the parsing
 * signet_p11_context_find_token() uses too). A URI comes over D-Bus or the
 * command line: a string, valid UTF-8 (D-Bus guarantees it) without NUL;
 * the input is used as such, "pkcs11:" put in front when it lacks it. */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "pkcs11/signet-p11.h"

#include <string.h>

/* A name read from a URI: as a token's padded field would give it (maybe
 * "": a field of blanks). */
static void
check_name(const char *name, gsize field)
{
  if (name == NULL)
    return;
  g_assert_true(g_utf8_validate(name, -1, NULL));
  /* Each byte of the field at most one U+FFFD (3 bytes). */
  g_assert_cmpuint(strlen(name), <=, 3 * field);
}

/* The first PIN attribute of @uri ("pin-value=VALUE"), as check_uri_attributes()
 * splits it (the path at ';', the query after '?' at '&'), or NULL;
 * @where: "path" or "query". */
static char *
pin_value(const char *uri, const char **out_where)
{
  const char *rest = uri + strlen("pkcs11:");
  const char *q = strchr(rest, '?');
  g_autofree char *path = q != NULL ? g_strndup(rest, (gsize)(q - rest)) : g_strdup(rest);
  g_auto(GStrv) attrs = g_strsplit(path, ";", -1);
  g_auto(GStrv) query = g_strsplit(q != NULL ? q + 1 : "", "&", -1);

  for (int part = 0; part < 2; part++)
    for (char **a = part == 0 ? attrs : query; *a != NULL; a++)
      if (g_str_has_prefix(*a, "pin-value=") || g_str_has_prefix(*a, "pin-source=")) {
        *out_where = part == 0 ? "path" : "query";
        return g_strdup(*a);
      }
  return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *uri = NULL;
  g_autofree char *serial = NULL;
  g_autofree char *label = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;
  const char *where = NULL;
  gboolean ok;

  if (size > 4096 || memchr(data, '\0', size) != NULL
      || !g_utf8_validate((const char *)data, (gssize)size, NULL))
    return 0;
  if (size >= 7 && memcmp(data, "pkcs11:", 7) == 0)
    uri = g_strndup((const char *)data, size);
  else
    uri = g_strdup_printf("pkcs11:%.*s", (int)size, (const char *)data);

  ok = signet_p11_uri_token_names(uri, &serial, &label, &error);
  g_assert_true(ok != (error != NULL));
  pin = pin_value(uri, &where);
  if (!ok) {
    g_assert_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_BAD_URI);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_null(serial);
    g_assert_null(label);
    /* A PIN is refused without being repeated, in the query where RFC 7512
     * puts it and in the path ("pkcs11:token=A;pin-value=123456"). */
    if (pin != NULL && strstr(error->message, pin) != NULL)
      g_error("a PIN in the %s of %s is in the message %s", where, uri, error->message);
    return 0;
  }
  /* Given only by the attribute of that name. */
  check_name(serial, 16);
  check_name(label, 32);
  if (serial != NULL)
    g_assert_nonnull(strstr(uri, "serial="));
  if (label != NULL)
    g_assert_nonnull(strstr(uri, "token="));
  /* No URI that holds a PIN is taken. */
  g_assert_null(pin);
  return 0;
}
