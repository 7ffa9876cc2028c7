/* signet-cli-output.c: see signet-cli-output.h. */
#include "config.h"

#include "cli/signet-cli-output.h"

#include <stdio.h>

static gboolean json_lines;

void
signet_cli_set_json_lines(gboolean lines)
{
  json_lines = lines;
}

void
signet_cli_print_json(JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new();
  g_autofree char *text = NULL;

  json_generator_set_pretty(gen, !json_lines);
  json_generator_set_indent(gen, 2);
  json_generator_set_root(gen, node);
  text = json_generator_to_data(gen, NULL);
  g_print("%s\n", text);
  fflush(stdout);
}

void
signet_cli_print_variant_json(GVariant *value)
{
  g_autoptr(JsonNode) node = json_gvariant_serialize(value);

  signet_cli_print_json(node);
}

static const char *
lookup_str(GVariant *dict, const char *key)
{
  const char *s = NULL;

  if (dict == NULL || !g_variant_lookup(dict, key, "&s", &s))
    return "";
  return s;
}

static gboolean
lookup_bool(GVariant *dict, const char *key)
{
  gboolean b = FALSE;

  if (dict != NULL)
    (void)g_variant_lookup(dict, key, "b", &b);
  return b;
}

char *
signet_cli_describe_secret_state(GVariant *state, gboolean is_puk)
{
  const char *what = is_puk ? "PUK" : "PIN";
  GString *s;

  if (state == NULL)
    return g_strdup("unknown");
  if (lookup_bool(state, "locked"))
    s = g_string_new("locked");
  else if (lookup_bool(state, "final_try")) {
    s = g_string_new(NULL);
    g_string_printf(s, "one try left: a wrong %s locks it", what);
  } else if (lookup_bool(state, "count_low"))
    s = g_string_new("fewer tries left than the maximum");
  else
    s = g_string_new("no warning from the token");
  if (!is_puk && lookup_bool(state, "to_be_changed"))
    g_string_append(s, ", must be changed");
  if (!is_puk && lookup_bool(state, "pin_pad"))
    g_string_append(s, ", entered on the reader's PIN pad");
  return g_string_free(s, FALSE);
}

void
signet_cli_print_token_line(GVariant *token)
{
  g_autoptr(GVariant) pin = g_variant_lookup_value(token, "pin", G_VARIANT_TYPE_VARDICT);
  g_autofree char *pin_state = signet_cli_describe_secret_state(pin, FALSE);

  g_print("'%s'  serial %s  model %s %s  reader '%s'  PIN: %s\n", lookup_str(token, "label"),
          lookup_str(token, "serial"), lookup_str(token, "manufacturer"),
          lookup_str(token, "model"), lookup_str(token, "slot"), pin_state);
}

static void
print_certificate(GVariant *cert)
{
  gint64 days_left = 0;
  gboolean authority = lookup_bool(cert, "authority");

  (void)g_variant_lookup(cert, "days_left", "x", &days_left);
  g_print("  %s %s\n",
          authority ? "CA certificate:" : "Certificate:   ", lookup_str(cert, "subject"));
  g_print("    issuer      %s\n", lookup_str(cert, "issuer"));
  g_print("    serial      %s\n", lookup_str(cert, "serial"));
  g_print("    not before  %s\n", lookup_str(cert, "not_before"));
  if (lookup_bool(cert, "expired"))
    g_print("    not after   %s (expired %" G_GINT64_FORMAT " day%s ago)\n",
            lookup_str(cert, "not_after"), -days_left, days_left == -1 ? "" : "s");
  else
    g_print("    not after   %s (%" G_GINT64_FORMAT " day%s left)\n", lookup_str(cert, "not_after"),
            days_left, days_left == 1 ? "" : "s");
  g_print("    id          %s%s\n", lookup_str(cert, "id"),
          lookup_bool(cert, "has_key") ? " (its key is on the token)" : "");
}

static void
print_key(GVariant *key)
{
  g_autoptr(GString) parts = g_string_new(NULL);
  const char *label = lookup_str(key, "label");

  if (lookup_bool(key, "has_private"))
    g_string_append_printf(parts, "private key (%s, %s)",
                           lookup_bool(key, "sensitive") ? "sensitive" : "NOT sensitive",
                           lookup_bool(key, "extractable") ? "EXTRACTABLE" : "not extractable");
  if (lookup_bool(key, "has_public"))
    g_string_append_printf(parts, "%spublic key", parts->len ? ", " : "");
  if (lookup_bool(key, "has_certificate"))
    g_string_append_printf(parts, "%scertificate", parts->len ? ", " : "");
  g_print("  %s %s%s%s%s: %s\n", lookup_str(key, "type"), lookup_str(key, "id"), *label ? " '" : "",
          label, *label ? "'" : "", parts->str);
}

void
signet_cli_print_status(GVariant *status)
{
  g_autoptr(GVariant) pin = g_variant_lookup_value(status, "pin", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) puk = g_variant_lookup_value(status, "puk", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) certs
      = g_variant_lookup_value(status, "certificates", G_VARIANT_TYPE("aa{sv}"));
  g_autoptr(GVariant) keys = g_variant_lookup_value(status, "keys", G_VARIANT_TYPE("aa{sv}"));
  g_autofree const char **key_types = NULL;
  g_autofree char *types = NULL;
  g_autofree char *pin_state = signet_cli_describe_secret_state(pin, FALSE);
  g_autofree char *puk_state = signet_cli_describe_secret_state(puk, TRUE);
  guint32 min_len = 0, max_len = 0;
  gsize n;

  if (g_variant_lookup(status, "key_types", "^a&s", &key_types))
    types = g_strjoinv(", ", (char **)key_types);
  if (pin != NULL) {
    (void)g_variant_lookup(pin, "min_length", "u", &min_len);
    (void)g_variant_lookup(pin, "max_length", "u", &max_len);
  }

  g_print("Token         '%s'\n", lookup_str(status, "label"));
  g_print("Serial        %s\n", lookup_str(status, "serial"));
  g_print("Model         %s %s\n", lookup_str(status, "manufacturer"), lookup_str(status, "model"));
  g_print("Reader        %s\n", lookup_str(status, "slot"));
  g_print("Module        %s\n", lookup_str(status, "module"));
  g_print("URI           %s\n", lookup_str(status, "uri"));
  g_print("PIN           %s (%s; %u to %u characters)\n", pin_state, lookup_str(pin, "source"),
          min_len, max_len);
  g_print("PUK           %s (%s)\n", puk_state, lookup_str(puk, "source"));
  g_print("Unblock       %s\n", lookup_str(status, "unblock_method"));
  g_print("Generates     %s\n", types != NULL && *types ? types : "no key type");
  if (lookup_bool(status, "write_protected"))
    g_print("Write-protected\n");

  n = certs != NULL ? g_variant_n_children(certs) : 0;
  g_print("Certificates  %" G_GSIZE_FORMAT "\n", n);
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) c = g_variant_get_child_value(certs, i);
    print_certificate(c);
  }
  n = keys != NULL ? g_variant_n_children(keys) : 0;
  g_print("Keys          %" G_GSIZE_FORMAT "%s\n", n,
          n > 0 ? " (private keys show only after a login)" : "");
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) k = g_variant_get_child_value(keys, i);
    print_key(k);
  }
}

void
signet_cli_print_new_key(GVariant *key, const char *token)
{
  const char *label = lookup_str(key, "label");

  g_print("Generated a key pair on token '%s': type %s, id %s%s%s%s\n", token,
          lookup_str(key, "type"), lookup_str(key, "id"), *label ? ", label '" : "", label,
          *label ? "'" : "");
}

void
signet_cli_print_import(GVariant *result, const char *token)
{
  gint64 days_left = 0;
  guint32 stored = 0, present = 0;

  (void)g_variant_lookup(result, "days_left", "x", &days_left);
  (void)g_variant_lookup(result, "chain_stored", "u", &stored);
  (void)g_variant_lookup(result, "chain_present", "u", &present);
  if (lookup_bool(result, "already_present"))
    g_print("The certificate was already on token '%s' under key %s; not written again.\n", token,
            lookup_str(result, "id"));
  else
    g_print("Stored the certificate on token '%s' under key %s.\n", token,
            lookup_str(result, "id"));
  g_print("  subject     %s\n", lookup_str(result, "subject"));
  g_print("  issuer      %s\n", lookup_str(result, "issuer"));
  g_print("  serial      %s\n", lookup_str(result, "serial"));
  g_print("  not after   %s (%" G_GINT64_FORMAT " days left)\n", lookup_str(result, "not_after"),
          days_left);
  g_print("  CA certificates: %u stored, %u already on the token\n", stored, present);
  if (lookup_bool(result, "chain_verified"))
    g_print("  The certificate verifies against the chain in the file.\n");
  else
    g_print("  The chain was not verified: %s.\n", lookup_str(result, "chain_error"));
}
