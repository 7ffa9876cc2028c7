/* signet-cli-output.c: see signet-cli-output.h. */
#include "config.h"

#include "cli/signet-cli-output.h"

#include "common/signet-util.h"
#include "libsignet/signet-client.h"

#include <stdio.h>
#include <string.h>

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
  if (signet_has_control_chars(s)) {
    /* A value from a token or a CA is printed on one line, escaped (the
     * CLI lives briefly: the interned copy is no leak that matters). */
    g_autofree char *safe = signet_escape_control_chars(s, FALSE);
    return g_intern_string(safe);
  }
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

void
signet_cli_print_token_line(GVariant *token)
{
  g_autoptr(GVariant) pin = g_variant_lookup_value(token, "pin", G_VARIANT_TYPE_VARDICT);
  g_autofree char *pin_state = signet_client_describe_secret_state(pin, FALSE);

  g_print("'%s'  serial %s  model %s %s  reader '%s'  PIN: %s\n", lookup_str(token, "label"),
          lookup_str(token, "serial"), lookup_str(token, "manufacturer"),
          lookup_str(token, "model"), lookup_str(token, "slot"), pin_state);
}

/* The time under @key of @dict (x or s), formatted; "" when absent. */
static char *
lookup_time(GVariant *dict, const char *key)
{
  g_autoptr(GVariant) value = dict != NULL ? g_variant_lookup_value(dict, key, NULL) : NULL;

  return signet_client_format_time(value);
}

/* "45 and 15", "60, 45 and 15". */
static char *
join_days(const guint32 *days, gsize n)
{
  GString *s = g_string_new(NULL);

  for (gsize i = 0; i < n; i++) {
    if (i > 0)
      g_string_append(s, i + 1 == n ? " and " : ", ");
    g_string_append_printf(s, "%u", days[i]);
  }
  return g_string_free(s, FALSE);
}

static gboolean
days_contain(const guint32 *days, gsize n, guint32 day)
{
  for (gsize i = 0; i < n; i++)
    if (days[i] == day)
      return TRUE;
  return FALSE;
}

/* The reason the reminder for @day could not be shown, from
 * "reminders_not_shown" (aa{sv}), or NULL. */
static const char *
not_shown_reason(GVariant *not_shown, guint32 day)
{
  gsize n = not_shown != NULL ? g_variant_n_children(not_shown) : 0;

  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) e = g_variant_get_child_value(not_shown, i);
    guint32 threshold = 0;

    if (g_variant_lookup(e, "threshold", "u", &threshold) && threshold == day)
      return lookup_str(e, "reason"); /* escaped, "" when absent */
  }
  return NULL;
}

/* "reminders   45 days before: sent; 15 days before: not yet", from the
 * thresholds configured and those sent; a reminder due that no
 * notification service could show: "could not be shown (REASON), will
 * retry". Nothing when the agent sends neither. */
static void
print_reminders(GVariant *cert)
{
  g_autoptr(GVariant) configured
      = g_variant_lookup_value(cert, "reminder_days", G_VARIANT_TYPE("au"));
  g_autoptr(GVariant) sent = g_variant_lookup_value(cert, "reminders_sent", G_VARIANT_TYPE("au"));
  g_autoptr(GVariant) not_shown
      = g_variant_lookup_value(cert, "reminders_not_shown", G_VARIANT_TYPE("aa{sv}"));
  g_autoptr(GString) line = g_string_new(NULL);
  const guint32 *days = NULL, *done = NULL;
  gsize n_days = 0, n_done = 0;

  if (configured == NULL && sent == NULL)
    return;
  if (configured != NULL)
    days = g_variant_get_fixed_array(configured, &n_days, sizeof(guint32));
  if (sent != NULL)
    done = g_variant_get_fixed_array(sent, &n_done, sizeof(guint32));
  if (configured != NULL && n_days == 0)
    g_string_append(line, "none configured");
  for (gsize i = 0; i < n_days; i++) {
    const char *reason = not_shown_reason(not_shown, days[i]);

    g_string_append_printf(line, "%s%u days before: ", i > 0 ? "; " : "", days[i]);
    if (days_contain(done, n_done, days[i]))
      g_string_append(line, "sent");
    else if (reason != NULL)
      g_string_append_printf(line, "could not be shown (%s), will retry",
                             *reason != '\0' ? reason : "no notification service");
    else
      g_string_append(line, "not yet");
  }
  /* Sent under thresholds no longer configured. */
  {
    g_autoptr(GArray) other = g_array_new(FALSE, FALSE, sizeof(guint32));

    for (gsize i = 0; i < n_done; i++)
      if (!days_contain(days, n_days, done[i]))
        g_array_append_val(other, done[i]);
    if (other->len > 0) {
      g_autofree char *list = join_days((const guint32 *)(gpointer)other->data, other->len);

      g_string_append_printf(line, "%ssent at %s days before", line->len > 0 ? "; " : "", list);
    }
  }
  g_print("    reminders   %s\n", line->len > 0 ? line->str : "none sent yet");
}

static void
print_certificate(GVariant *cert)
{
  gboolean authority = lookup_bool(cert, "authority");
  const char *profile = lookup_str(cert, "profile");
  g_autofree char *not_after = signet_client_format_not_after(cert);

  g_print("  %s %s\n",
          authority ? "CA certificate:" : "Certificate:   ", lookup_str(cert, "subject"));
  g_print("    issuer      %s\n", lookup_str(cert, "issuer"));
  g_print("    serial      %s\n", lookup_str(cert, "serial"));
  g_print("    not before  %s\n", lookup_str(cert, "not_before"));
  g_print("    not after   %s\n", not_after);
  g_print("    id          %s%s\n", lookup_str(cert, "id"),
          lookup_bool(cert, "has_key") ? " (its key is on the token)" : "");
  if (*profile != '\0')
    g_print("    profile     %s\n", profile);
  /* Reminders are for the holder's certificates, not the CA's. */
  if (!authority)
    print_reminders(cert);
}

static void
print_key(GVariant *key)
{
  g_autoptr(GString) parts = g_string_new(NULL);
  const char *label = lookup_str(key, "label");

  if (lookup_bool(key, "has_private")) {
    const char *protection = lookup_str(key, "protection");

    if (g_str_equal(protection, "card"))
      /* OpenSC before 0.24 does not report CKA_SENSITIVE for a card's key. */
      g_string_append(parts, "private key (kept on the card: not extractable, its value "
                             "unreadable; this OpenSC does not report 'sensitive')");
    else
      g_string_append_printf(parts, "private key (%s, %s)",
                             lookup_bool(key, "sensitive") ? "sensitive" : "NOT sensitive",
                             lookup_bool(key, "extractable") ? "EXTRACTABLE" : "not extractable");
  }
  if (lookup_bool(key, "has_public"))
    g_string_append_printf(parts, "%spublic key", parts->len ? ", " : "");
  if (lookup_bool(key, "has_certificate"))
    g_string_append_printf(parts, "%scertificate", parts->len ? ", " : "");
  g_print("  %s %s%s%s%s: %s\n", lookup_str(key, "type"), lookup_str(key, "id"), *label ? " '" : "",
          label, *label ? "'" : "", parts->str);
}

/* What the holder does to finish operation @op (kind "renew" or
 * "activate"), or NULL when the agent finishes it without them. */
static char *
finish_hint(GVariant *op, const char *kind, const char *token)
{
  g_autofree char *word = signet_shell_word(token);
  const char *profile = lookup_str(op, "profile");

  if (g_str_equal(kind, "activate")) {
    g_autofree char *pword = signet_shell_word(profile);

    const char *stage = lookup_str(op, "stage");

    if (g_str_equal(stage, "sent"))
      return g_strdup_printf("run `signet activate %s --profile %s` with the same activation "
                             "code: the same request is sent again",
                             word, *profile != '\0' ? pword : "NAME");
    return g_strdup_printf("run `signet activate %s --profile %s` to finish%s", word,
                           *profile != '\0' ? pword : "NAME",
                           g_str_equal(stage, "issued") ? " (no activation code needed)" : "");
  }
  {
    const char *serial = lookup_str(op, "old_serial");
    const char *resume = lookup_str(op, "resume");
    const char *step = lookup_str(op, "step");
    g_autofree char *command = *serial != '\0'
                                   ? g_strdup_printf("signet renew %s --cert %s", word, serial)
                                   : g_strdup_printf("signet renew %s", word);

    if (g_str_equal(resume, "send-again"))
      return g_strdup_printf("run `%s`: it sends the same request to the CA again (the "
                             "renewal stopped at step %s, before the CA's answer arrived)",
                             command, step);
    if (g_str_equal(resume, "undo"))
      return g_strdup_printf("run `%s`: it undoes the interrupted renewal (stopped at step %s), "
                             "then renews from the start",
                             command, step);
    return g_strdup_printf("run `%s` to finish", command);
  }
}

/* The unfinished operations of the journal ("operations") and unfinished
 * activations ("activations"), each with what to do. */
static void
print_unfinished(GVariant *status, const char *token)
{
  g_autoptr(GVariant) ops = g_variant_lookup_value(status, "operations", G_VARIANT_TYPE("aa{sv}"));
  g_autoptr(GVariant) acts
      = g_variant_lookup_value(status, "activations", G_VARIANT_TYPE("aa{sv}"));
  g_autoptr(GPtrArray) journal_profiles = g_ptr_array_new();
  gsize n_ops = ops != NULL ? g_variant_n_children(ops) : 0;
  gsize n_acts = acts != NULL ? g_variant_n_children(acts) : 0;
  gsize n_shown = 0;

  /* An activation the journal knows is shown once, from the journal. */
  for (gsize i = 0; i < n_ops; i++) {
    g_autoptr(GVariant) op = g_variant_get_child_value(ops, i);

    if (g_str_equal(lookup_str(op, "kind"), "activate"))
      g_ptr_array_add(journal_profiles, (gpointer)lookup_str(op, "profile"));
  }
  for (gsize i = 0; i < n_acts; i++) {
    g_autoptr(GVariant) a = g_variant_get_child_value(acts, i);
    gboolean dup = FALSE;

    for (guint j = 0; j < journal_profiles->len; j++)
      dup = dup || g_str_equal(journal_profiles->pdata[j], lookup_str(a, "profile"));
    n_shown += dup ? 0 : 1;
  }
  n_shown += n_ops;
  if (n_shown == 0)
    return;
  g_print("Unfinished    %" G_GSIZE_FORMAT "\n", n_shown);

  for (gsize i = 0; i < n_ops; i++) {
    g_autoptr(GVariant) op = g_variant_get_child_value(ops, i);
    const char *kind = lookup_str(op, "kind");
    const char *state = lookup_str(op, "state");
    const char *step = lookup_str(op, "step");
    const char *profile = lookup_str(op, "profile");
    const char *message = lookup_str(op, "message");
    g_autofree char *updated = lookup_time(op, "updated");
    g_autofree char *retry = lookup_time(op, "retry_at");
    g_autofree char *hint = NULL;
    gint64 id = 0;
    gboolean has_needs_pin = g_variant_lookup(op, "needs_pin", "b", NULL);

    (void)g_variant_lookup(op, "id", "x", &id);
    g_print("  %s", *kind != '\0' ? kind : "operation");
    if (id != 0)
      g_print(" #%" G_GINT64_FORMAT, id);
    if (*profile != '\0')
      g_print(" (profile %s)", profile);
    if (*state != '\0')
      g_print(": %s", state);
    if (*step != '\0')
      g_print(", at step %s", step);
    if (*updated != '\0')
      g_print(", since %s", updated);
    g_print("\n");
    if (*message != '\0')
      g_print("    %s\n", message);
    if (g_str_equal(state, "pending"))
      g_print("    The CA issues the certificate later%s%s; the agent asks it again then by "
              "itself.\n",
              *retry != '\0' ? ", from " : "", retry);
    if (!has_needs_pin || lookup_bool(op, "needs_pin")) {
      hint = finish_hint(op, *kind != '\0' ? kind : "renew", token);
      g_print("    To do: %s%s.\n", hint, has_needs_pin ? " (it needs your PIN)" : "");
    } else
      g_print("    Nothing to do: the agent finishes it by itself when the token is present.\n");
  }
  for (gsize i = 0; i < n_acts; i++) {
    g_autoptr(GVariant) a = g_variant_get_child_value(acts, i);
    const char *stage = lookup_str(a, "stage");
    g_autofree char *retry = lookup_time(a, "retry_at");
    g_autofree char *hint = NULL;
    gboolean dup = FALSE;

    for (guint j = 0; j < journal_profiles->len; j++)
      dup = dup || g_str_equal(journal_profiles->pdata[j], lookup_str(a, "profile"));
    if (dup)
      continue;
    g_print("  activate (profile %s): %s, key id %s\n", lookup_str(a, "profile"), stage,
            lookup_str(a, "id"));
    if (g_str_equal(stage, "pending") && *retry != '\0')
      g_print("    The CA issues the certificate later, from %s.\n", retry);
    if (g_str_equal(stage, "sent")) {
      g_autofree char *sent = lookup_time(a, "sent_at");
      const char *lost = lookup_str(a, "answer_lost");

      g_print("    The request went to the CA%s%s (reference %s, request SHA-256 %s) and its "
              "answer did not arrive%s%s: the CA may have issued the certificate.\n",
              *sent != '\0' ? " on " : "", sent, lookup_str(a, "reference"),
              lookup_str(a, "request_sha256"), *lost != '\0' ? ": " : "", lost);
    }
    hint = finish_hint(a, "activate", token);
    g_print("    To do: %s.\n", hint);
  }
}

void
signet_cli_print_status(GVariant *status, const char *token)
{
  g_autoptr(GVariant) pin = g_variant_lookup_value(status, "pin", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) puk = g_variant_lookup_value(status, "puk", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) certs
      = g_variant_lookup_value(status, "certificates", G_VARIANT_TYPE("aa{sv}"));
  g_autoptr(GVariant) keys = g_variant_lookup_value(status, "keys", G_VARIANT_TYPE("aa{sv}"));
  g_autofree const char **key_types = NULL;
  g_autofree char *types = NULL;
  g_autofree char *pin_state = signet_client_describe_secret_state(pin, FALSE);
  g_autofree char *puk_state = signet_client_describe_secret_state(puk, TRUE);
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
          n > 0 && !lookup_bool(status, "private_keys_listed")
              ? " (private keys show only after a login)"
              : "");
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) k = g_variant_get_child_value(keys, i);
    print_key(k);
  }
  if (lookup_bool(status, "objects_cached"))
    g_print("Note: the module (OpenSC) reads the card's objects once; a key or certificate "
            "another program wrote since signetd started shows after you take the card out "
            "and put it back.\n");
  print_unfinished(status, token);
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
  g_autofree char *not_after = signet_client_format_not_after(result);
  guint32 stored = 0, present = 0;

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
  g_print("  not after   %s\n", not_after);
  g_print("  CA certificates: %u stored, %u already on the token\n", stored, present);
  if (lookup_bool(result, "chain_verified"))
    g_print("  The certificate verifies against the chain in the file.\n");
  else
    g_print("  The chain was not verified: %s.\n", lookup_str(result, "chain_error"));
  {
    g_autofree const char **replaced = NULL;

    if (g_variant_lookup(result, "replaced", "^a&s", &replaced))
      for (gsize i = 0; replaced[i] != NULL; i++)
        g_print("  Removed the key's other certificate, serial %s (replaced).\n", replaced[i]);
  }
}

void
signet_cli_print_history(GVariant *entries)
{
  gsize n = entries != NULL ? g_variant_n_children(entries) : 0;
  g_autoptr(GPtrArray) times = g_ptr_array_new_with_free_func(g_free);
  int w_time = (int)strlen("TIME"), w_token = (int)strlen("TOKEN");
  int w_op = (int)strlen("OPERATION"), w_outcome = (int)strlen("OUTCOME");

  if (n == 0) {
    g_print("No operations recorded.\n");
    return;
  }
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) e = g_variant_get_child_value(entries, i);
    const char *label = lookup_str(e, "token_label");
    const char *token = *label != '\0' ? label : lookup_str(e, "token_serial");
    char *t = lookup_time(e, "time");

    g_ptr_array_add(times, t);
    w_time = MAX(w_time, (int)g_utf8_strlen(t, -1));
    w_token = MAX(w_token, (int)g_utf8_strlen(*token != '\0' ? token : "-", -1));
    w_op = MAX(w_op, (int)g_utf8_strlen(lookup_str(e, "operation"), -1));
    w_outcome = MAX(w_outcome, (int)g_utf8_strlen(lookup_str(e, "outcome"), -1));
  }
  w_token = MIN(w_token, 32);
  g_print("%-*s  %-*s  %-*s  %-*s  %s\n", w_time, "TIME", w_token, "TOKEN", w_op, "OPERATION",
          w_outcome, "OUTCOME", "DETAIL");
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) e = g_variant_get_child_value(entries, i);
    const char *label = lookup_str(e, "token_label");
    const char *token = *label != '\0' ? label : lookup_str(e, "token_serial");
    g_autofree char *detail = g_strdup(lookup_str(e, "detail"));
    const char *cols[] = { times->pdata[i], *token != '\0' ? token : "-",
                           lookup_str(e, "operation"), lookup_str(e, "outcome") };
    const int widths[] = { w_time, w_token, w_op, w_outcome };

    /* printf pads bytes, not characters: pad by hand for UTF-8 labels. */
    for (gsize c = 0; c < G_N_ELEMENTS(cols); c++) {
      glong len = g_utf8_strlen(cols[c], -1);

      g_print("%s%*s  ", cols[c], (int)MAX(0, widths[c] - len), "");
    }
    g_strdelimit(detail, "\r\n\t", ' ');
    g_print("%s\n", detail);
  }
}

/* The certificate an Activate or Renew result describes
 * (signet_token_dict_add_issued()): the same lines for both. */
static void
print_issued(GVariant *r)
{
  g_autofree char *not_after = signet_client_format_not_after(r);

  g_print("  Subject:   %s\n", lookup_str(r, "subject"));
  g_print("  Issuer:    %s\n", lookup_str(r, "issuer"));
  g_print("  Serial:    %s\n", lookup_str(r, "serial"));
  g_print("  Valid:     %s to %s\n", lookup_str(r, "not_before"), not_after);
}

void
signet_cli_print_activated(GVariant *r)
{
  const char *label = lookup_str(r, "token_label");
  guint32 stored = 0, present = 0;

  (void)g_variant_lookup(r, "chain_stored", "u", &stored);
  (void)g_variant_lookup(r, "chain_present", "u", &present);
  g_print("\nActivated token '%s' with a certificate from %s:\n",
          *label != '\0' ? label : lookup_str(r, "token_serial"), lookup_str(r, "profile"));
  print_issued(r);
  g_print("  Key id:    %s\n", lookup_str(r, "id"));
  g_print("  CA chain:  %u certificate(s) stored, %u already on the token\n", stored, present);
}

void
signet_cli_print_renewed(GVariant *r)
{
  const char *label = lookup_str(r, "token_label");
  const char *old_id = lookup_str(r, "old_id");
  guint32 stored = 0, present = 0;

  (void)g_variant_lookup(r, "chain_stored", "u", &stored);
  (void)g_variant_lookup(r, "chain_present", "u", &present);
  g_print("\nRenewed the certificate on token '%s'%s%s%s:\n",
          *label != '\0' ? label : lookup_str(r, "token_serial"),
          *lookup_str(r, "profile") != '\0' ? " through " : "", lookup_str(r, "profile"),
          lookup_bool(r, "resumed") ? " (an interrupted renewal, finished now)" : "");
  print_issued(r);
  if (lookup_bool(r, "keep_key"))
    g_print("  Key id:    %s (the same key pair as before)\n", lookup_str(r, "id"));
  else
    g_print("  Key id:    %s (a new key pair, generated on the token)\n", lookup_str(r, "id"));
  g_print("  CA chain:  %u certificate(s) stored, %u already on the token\n", stored, present);
  if (lookup_bool(r, "old_removed"))
    g_print("  The old certificate%s%s%s was removed from the token.\n", *old_id ? " (key id " : "",
            old_id, *old_id ? ")" : "");
  else
    g_print("  The old certificate%s%s%s is still on the token.\n", *old_id ? " (key id " : "",
            old_id, *old_id ? ")" : "");
  g_print("\nInstitutions you sign with (a bank, a tax office, a registry, your employer) may "
          "need the new certificate: register it with them where they ask for it.\n");
}
