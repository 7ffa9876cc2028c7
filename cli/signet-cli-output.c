/* signet-cli-output.c: see signet-cli-output.h. */
#include "config.h"

#include "cli/signet-cli-output.h"
#include "cli/signet-cli-errors.h"

#include "common/signet-util.h"
#include "libsignet/signet-client.h"

#include <glib/gi18n.h>
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

int
signet_cli_label_width(const char *const *labels, gsize n, int gap)
{
  glong w = 0;

  for (gsize i = 0; i < n; i++)
    w = MAX(w, g_utf8_strlen(labels[i], -1));
  return (int)w + gap;
}

void
signet_cli_print_field(const char *indent, const char *label, int width, const char *value)
{
  int pad = width - (int)g_utf8_strlen(label, -1);

  g_print("%s%s%*s%s\n", indent, label, MAX(pad, 1), "", value);
}

void
signet_cli_print_token_line(GVariant *token)
{
  g_autoptr(GVariant) pin = g_variant_lookup_value(token, "pin", G_VARIANT_TYPE_VARDICT);
  g_autofree char *pin_state = signet_client_describe_secret_state(pin, FALSE);

  /* TRANSLATORS: signet list, one token: label, serial, manufacturer and
   * model, reader, PIN state. */
  g_print(_("'%s'  serial %s  model %s %s  reader '%s'  PIN: %s"), lookup_str(token, "label"),
          lookup_str(token, "serial"), lookup_str(token, "manufacturer"),
          lookup_str(token, "model"), lookup_str(token, "slot"), pin_state);
  g_print("\n");
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
      /* TRANSLATORS: between the last two numbers of days in "60, 45 and 15". */
      g_string_append(s, i + 1 == n ? _(" and ") : ", ");
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

/* The labels of signet status's lines. */
static int
status_label_width(void)
{
  const char *labels[]
      = { _("Token"),        _("Serial"), _("Model"),     _("Reader"),  _("Module"),
          _("URI"),          _("PIN"),    _("PUK"),       _("Unblock"), _("Generates"),
          _("Certificates"), _("Keys"),   _("Unfinished") };

  return signet_cli_label_width(labels, G_N_ELEMENTS(labels), 2);
}

/* The labels of a certificate's lines in signet status. */
static int
cert_label_width(void)
{
  const char *labels[] = { _("issuer"), _("serial"),  _("not before"), _("not after"),
                           _("id"),     _("profile"), _("reminders"),  _("note") };

  return signet_cli_label_width(labels, G_N_ELEMENTS(labels), 2);
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
    /* TRANSLATORS: reminders of a certificate. */
    g_string_append(line, _("none configured"));
  for (gsize i = 0; i < n_days; i++) {
    const char *reason = not_shown_reason(not_shown, days[i]);

    if (i > 0)
      g_string_append(line, "; ");
    /* TRANSLATORS: a reminder's threshold, followed by its state ("sent",
     * "not yet"). */
    g_string_append_printf(line, ngettext("%u day before: ", "%u days before: ", days[i]), days[i]);
    if (days_contain(done, n_done, days[i]))
      /* TRANSLATORS: a reminder's state. */
      g_string_append(line, _("sent"));
    else if (reason != NULL)
      /* TRANSLATORS: a reminder's state; %s says why. */
      g_string_append_printf(line, _("could not be shown (%s), will retry"),
                             *reason != '\0' ? reason : _("no notification service"));
    else
      /* TRANSLATORS: a reminder's state. */
      g_string_append(line, _("not yet"));
  }
  /* Sent under thresholds no longer configured. */
  {
    g_autoptr(GArray) other = g_array_new(FALSE, FALSE, sizeof(guint32));

    for (gsize i = 0; i < n_done; i++)
      if (!days_contain(days, n_days, done[i]))
        g_array_append_val(other, done[i]);
    if (other->len > 0) {
      g_autofree char *list = join_days((const guint32 *)(gpointer)other->data, other->len);

      if (line->len > 0)
        g_string_append(line, "; ");
      /* TRANSLATORS: %s is a list of numbers of days, "60 and 30". */
      g_string_append_printf(line, _("sent at %s days before"), list);
    }
  }
  signet_cli_print_field("    ", _("reminders"), cert_label_width(),
                         line->len > 0 ? line->str : _("none sent yet"));
}

static void
print_certificate(GVariant *cert)
{
  gboolean authority = signet_client_dict_bool(cert, "authority");
  const char *profile = lookup_str(cert, "profile");
  g_autoptr(GVariant) legacy
      = g_variant_lookup_value(cert, "legacy_algorithms", G_VARIANT_TYPE_STRING_ARRAY);
  g_autofree char *not_after = signet_client_format_not_after(cert);
  g_autofree char *id = NULL;
  const char *kinds[] = { _("CA certificate:"), _("Certificate:") };
  int width = cert_label_width();

  signet_cli_print_field("  ", authority ? kinds[0] : kinds[1], signet_cli_label_width(kinds, 2, 1),
                         lookup_str(cert, "subject"));
  signet_cli_print_field("    ", _("issuer"), width, lookup_str(cert, "issuer"));
  signet_cli_print_field("    ", _("serial"), width, lookup_str(cert, "serial"));
  signet_cli_print_field("    ", _("not before"), width, lookup_str(cert, "not_before"));
  signet_cli_print_field("    ", _("not after"), width, not_after);
  id = g_strconcat(lookup_str(cert, "id"),
                   signet_client_dict_bool(cert, "has_key") ? _(" (its key is on the token)") : "",
                   NULL);
  signet_cli_print_field("    ", _("id"), width, id);
  if (*profile != '\0')
    signet_cli_print_field("    ", _("profile"), width, profile);
  if (legacy != NULL && g_variant_n_children(legacy) > 0) {
    g_autofree const char **names = g_variant_get_strv(legacy, NULL);
    g_autofree char *list = g_strjoinv(", ", (char **)names);
    g_autofree char *note = NULL;

    /* TRANSLATORS: %s lists algorithms: "DES, SHA-1". */
    note = g_strdup_printf(_("the CA forced legacy algorithms (%s) when it issued this "
                             "certificate: ask it to be configured for AES and SHA-256"),
                           list);
    signet_cli_print_field("    ", _("note"), width, note);
  }
  /* Reminders are for the holder's certificates, not the CA's. */
  if (!authority)
    print_reminders(cert);
}

static void
print_key(GVariant *key)
{
  g_autoptr(GString) parts = g_string_new(NULL);
  const char *label = lookup_str(key, "label");

  if (signet_client_dict_bool(key, "has_private")) {
    const char *protection = lookup_str(key, "protection");

    if (g_str_equal(protection, "card"))
      /* OpenSC before 0.24 does not report CKA_SENSITIVE for a card's key. */
      g_string_append(parts, _("private key (kept on the card: not extractable, its value "
                               "unreadable; this OpenSC does not report 'sensitive')"));
    else
      /* TRANSLATORS: "private key (sensitive, not extractable)". */
      g_string_append_printf(
          parts, _("private key (%s, %s)"),
          signet_client_dict_bool(key, "sensitive") ? _("sensitive") : _("NOT sensitive"),
          signet_client_dict_bool(key, "extractable") ? _("EXTRACTABLE") : _("not extractable"));
  }
  if (signet_client_dict_bool(key, "has_public"))
    g_string_append_printf(parts, "%s%s", parts->len ? ", " : "", _("public key"));
  if (signet_client_dict_bool(key, "has_certificate"))
    g_string_append_printf(parts, "%s%s", parts->len ? ", " : "", _("certificate"));
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
      /* TRANSLATORS: what to do next; keep the command between `` as it is. */
      return g_strdup_printf(_("run `signet activate %s --profile %s` with the same activation "
                               "code: the same request is sent again"),
                             word, *profile != '\0' ? pword : "NAME");
    /* TRANSLATORS: what to do next; keep the command between `` as it is;
     * the last %s is empty or " (no activation code needed)". */
    return g_strdup_printf(_("run `signet activate %s --profile %s` to finish%s"), word,
                           *profile != '\0' ? pword : "NAME",
                           g_str_equal(stage, "issued") ? _(" (no activation code needed)") : "");
  }
  {
    const char *serial = lookup_str(op, "old_serial");
    const char *resume = lookup_str(op, "resume");
    const char *step = lookup_str(op, "step");
    g_autofree char *command = *serial != '\0'
                                   ? g_strdup_printf("signet renew %s --cert %s", word, serial)
                                   : g_strdup_printf("signet renew %s", word);

    if (g_str_equal(resume, "send-again"))
      /* TRANSLATORS: what to do next; the first %s is a command, the second
       * a step's name. */
      return g_strdup_printf(_("run `%s`: it sends the same request to the CA again (the "
                               "renewal stopped at step %s, before the CA's answer arrived)"),
                             command, step);
    if (g_str_equal(resume, "undo"))
      /* TRANSLATORS: what to do next; the first %s is a command, the second
       * a step's name. */
      return g_strdup_printf(_("run `%s`: it undoes the interrupted renewal (stopped at step %s), "
                               "then renews from the start"),
                             command, step);
    /* TRANSLATORS: what to do next; %s is a command. */
    return g_strdup_printf(_("run `%s` to finish"), command);
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
  {
    g_autofree char *count = g_strdup_printf("%" G_GSIZE_FORMAT, n_shown);

    signet_cli_print_field("", _("Unfinished"), status_label_width(), count);
  }

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
    /* TRANSLATORS: an unfinished operation whose kind is not known. */
    g_print("  %s", *kind != '\0' ? kind : _("operation"));
    if (id != 0)
      g_print(" #%" G_GINT64_FORMAT, id);
    if (*profile != '\0')
      g_print(_(" (profile %s)"), profile);
    if (*state != '\0')
      g_print(": %s", state);
    if (*step != '\0')
      /* TRANSLATORS: after an operation's state; %s is the step's name. */
      g_print(_(", at step %s"), step);
    if (*updated != '\0')
      /* TRANSLATORS: %s is a date and time. */
      g_print(_(", since %s"), updated);
    g_print("\n");
    if (*message != '\0')
      g_print("    %s\n", message);
    if (g_str_equal(state, "pending") && g_str_equal(lookup_str(op, "resume"), "ask-again")) {
      g_print("    ");
      if (*retry != '\0')
        /* TRANSLATORS: %s is a date and time. */
        g_print(_("The CA issues the certificate later, from %s, and answers only when asked "
                  "with your current certificate: the agent cannot ask it by itself."),
                retry);
      else
        g_print("%s", _("The CA issues the certificate later, and answers only when asked with "
                        "your current certificate: the agent cannot ask it by itself."));
      g_print("\n");
    } else if (g_str_equal(state, "pending")) {
      g_print("    ");
      if (*retry != '\0')
        /* TRANSLATORS: %s is a date and time. */
        g_print(_("The CA issues the certificate later, from %s; the agent asks it again then "
                  "by itself."),
                retry);
      else
        g_print("%s", _("The CA issues the certificate later; the agent asks it again then by "
                        "itself."));
      g_print("\n");
    }
    g_print("    ");
    if (!has_needs_pin || signet_client_dict_bool(op, "needs_pin")) {
      hint = finish_hint(op, *kind != '\0' ? kind : "renew", token);
      /* TRANSLATORS: the first %s is what to do ("run `signet renew …` to
       * finish"), the second empty or " (it needs your PIN)". */
      g_print(_("To do: %s%s."), hint, has_needs_pin ? _(" (it needs your PIN)") : "");
    } else
      g_print("%s", _("Nothing to do: the agent finishes it by itself when the token is present."));
    g_print("\n");
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
    /* TRANSLATORS: an unfinished activation: profile, stage ("sent",
     * "issued", "pending"), key id. */
    g_print("  ");
    g_print(_("activate (profile %s): %s, key id %s"), lookup_str(a, "profile"), stage,
            lookup_str(a, "id"));
    g_print("\n");
    if (g_str_equal(stage, "pending") && *retry != '\0') {
      g_print("    ");
      /* TRANSLATORS: %s is a date and time. */
      g_print(_("The CA issues the certificate later, from %s."), retry);
      g_print("\n");
    }
    if (g_str_equal(stage, "sent")) {
      g_autofree char *sent = lookup_time(a, "sent_at");
      g_autofree char *on = *sent != '\0' ? g_strdup_printf(_(" on %s"), sent) : g_strdup("");
      const char *lost = lookup_str(a, "answer_lost");
      g_autofree char *why = *lost != '\0' ? g_strconcat(": ", lost, NULL) : g_strdup("");

      g_print("    ");
      /* TRANSLATORS: the first %s is empty or " on DATE", the last empty or
       * ": WHY" (the reason, in English from the agent). */
      g_print(_("The request went to the CA%s (reference %s, request SHA-256 %s) and its answer "
                "did not arrive%s: the CA may have issued the certificate."),
              on, lookup_str(a, "reference"), lookup_str(a, "request_sha256"), why);
      g_print("\n");
    }
    hint = finish_hint(a, "activate", token);
    g_print("    ");
    g_print(_("To do: %s."), hint);
    g_print("\n");
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
  g_autofree char *value = NULL;
  int width;
  gsize n;

  if (g_variant_lookup(status, "key_types", "^a&s", &key_types))
    types = g_strjoinv(", ", (char **)key_types);
  if (pin != NULL) {
    (void)g_variant_lookup(pin, "min_length", "u", &min_len);
    (void)g_variant_lookup(pin, "max_length", "u", &max_len);
  }

  width = status_label_width();
  value = g_strdup_printf("'%s'", lookup_str(status, "label"));
  signet_cli_print_field("", _("Token"), width, value);
  g_clear_pointer(&value, g_free);
  signet_cli_print_field("", _("Serial"), width, lookup_str(status, "serial"));
  value = g_strdup_printf("%s %s", lookup_str(status, "manufacturer"), lookup_str(status, "model"));
  signet_cli_print_field("", _("Model"), width, value);
  g_clear_pointer(&value, g_free);
  signet_cli_print_field("", _("Reader"), width, lookup_str(status, "slot"));
  signet_cli_print_field("", _("Module"), width, lookup_str(status, "module"));
  signet_cli_print_field("", _("URI"), width, lookup_str(status, "uri"));
  /* TRANSLATORS: the PIN's state, where it comes from ("module flags"), and
   * its shortest and longest length. */
  value = g_strdup_printf(_("%s (%s; %u to %u characters)"), pin_state, lookup_str(pin, "source"),
                          min_len, max_len);
  signet_cli_print_field("", _("PIN"), width, value);
  g_clear_pointer(&value, g_free);
  value = g_strdup_printf("%s (%s)", puk_state, lookup_str(puk, "source"));
  signet_cli_print_field("", _("PUK"), width, value);
  g_clear_pointer(&value, g_free);
  signet_cli_print_field("", _("Unblock"), width, lookup_str(status, "unblock_method"));
  signet_cli_print_field("", _("Generates"), width,
                         types != NULL && *types ? types : _("no key type"));
  if (signet_client_dict_bool(status, "write_protected"))
    g_print("%s\n", _("Write-protected"));

  n = certs != NULL ? g_variant_n_children(certs) : 0;
  value = g_strdup_printf("%" G_GSIZE_FORMAT, n);
  signet_cli_print_field("", _("Certificates"), width, value);
  g_clear_pointer(&value, g_free);
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) c = g_variant_get_child_value(certs, i);
    print_certificate(c);
  }
  n = keys != NULL ? g_variant_n_children(keys) : 0;
  value = g_strdup_printf("%" G_GSIZE_FORMAT "%s", n,
                          n > 0 && !signet_client_dict_bool(status, "private_keys_listed")
                              ? _(" (private keys show only after a login)")
                              : "");
  signet_cli_print_field("", _("Keys"), width, value);
  g_clear_pointer(&value, g_free);
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) k = g_variant_get_child_value(keys, i);
    print_key(k);
  }
  if (signet_client_dict_bool(status, "objects_cached"))
    g_print("%s\n", _("Note: the module (OpenSC) reads the card's objects once; a key or "
                      "certificate another program wrote since signetd started shows after you "
                      "take the card out and put it back."));
  print_unfinished(status, token);
}

void
signet_cli_print_new_key(GVariant *key, const char *token)
{
  const char *label = lookup_str(key, "label");

  g_autofree char *with_label = *label ? g_strdup_printf(_(", label '%s'"), label) : g_strdup("");

  /* TRANSLATORS: token label, key type ("ec:p256"), key id, then empty or
   * ", label 'LABEL'". */
  g_print(_("Generated a key pair on token '%s': type %s, id %s%s"), token, lookup_str(key, "type"),
          lookup_str(key, "id"), with_label);
  g_print("\n");
}

void
signet_cli_print_import(GVariant *result, const char *token)
{
  g_autofree char *not_after = signet_client_format_not_after(result);
  guint32 stored = 0, present = 0;
  const char *labels[] = { _("subject"), _("issuer"), _("serial"), _("not after") };
  int width = signet_cli_label_width(labels, G_N_ELEMENTS(labels), 3);

  (void)g_variant_lookup(result, "chain_stored", "u", &stored);
  (void)g_variant_lookup(result, "chain_present", "u", &present);
  if (signet_client_dict_bool(result, "already_present"))
    g_print(_("The certificate was already on token '%s' under key %s; not written again."), token,
            lookup_str(result, "id"));
  else
    g_print(_("Stored the certificate on token '%s' under key %s."), token,
            lookup_str(result, "id"));
  g_print("\n");
  signet_cli_print_field("  ", labels[0], width, lookup_str(result, "subject"));
  signet_cli_print_field("  ", labels[1], width, lookup_str(result, "issuer"));
  signet_cli_print_field("  ", labels[2], width, lookup_str(result, "serial"));
  signet_cli_print_field("  ", labels[3], width, not_after);
  g_print("  ");
  g_print(_("CA certificates: %u stored, %u already on the token"), stored, present);
  g_print("\n  ");
  {
    /* TRANSLATORS: where a root came from, in "The chain verifies to %s, a
       root from %s.". */
    g_autofree char *chain = signet_client_describe_import_chain(result, _("the --anchor file"));

    g_print("%s\n", chain);
  }
  {
    g_autofree const char **replaced = NULL;

    if (g_variant_lookup(result, "replaced", "^a&s", &replaced))
      for (gsize i = 0; replaced[i] != NULL; i++) {
        g_print("  ");
        g_print(_("Removed the key's other certificate, serial %s (replaced)."), replaced[i]);
        g_print("\n");
      }
  }
}

/* One history entry: its fields point into the records, or into @escaped
 * when they had to be made printable. */
typedef struct
{
  gint64 time;
  char *when; /* local, as printed */
  const char *serial, *label, *operation, *outcome, *detail;
} HistoryRow;

/* @field, or an escaped copy kept in @owned when it has control characters
 * (a value from a token or a CA is printed on one line). */
static const char *
printable(const char *field, GPtrArray *owned)
{
  char *safe;

  if (!signet_has_control_chars(field))
    return field;
  safe = signet_escape_control_chars(field, FALSE);
  g_ptr_array_add(owned, safe);
  return safe;
}

/* The token's label, else its serial, else "-". */
static const char *
history_row_token(const HistoryRow *row)
{
  if (*row->label != '\0')
    return row->label;
  return *row->serial != '\0' ? row->serial : "-";
}

/* Reads up to @max rows of GetHistoryFd's records into @rows; how many, or
 * -1 when the records are not six NUL-terminated fields each. */
static gssize
history_rows_read(const char *records, gsize len, HistoryRow *rows, gsize max, GPtrArray *owned)
{
  gsize at = 0, count = 0;

  while (at < len && count < max) {
    const char *fields[6];
    HistoryRow *row = &rows[count];
    char *end = NULL;

    for (gsize f = 0; f < G_N_ELEMENTS(fields); f++) {
      const char *nul = at < len ? memchr(records + at, '\0', len - at) : NULL;

      if (nul == NULL)
        return -1;
      fields[f] = records + at;
      at = (gsize)(nul - records) + 1;
    }
    row->time = g_ascii_strtoll(fields[0], &end, 10);
    if (end == fields[0] || *end != '\0')
      return -1;
    row->serial = printable(fields[1], owned);
    row->label = printable(fields[2], owned);
    row->operation = printable(fields[3], owned);
    row->outcome = printable(fields[4], owned);
    row->detail = printable(fields[5], owned);
    row->when = signet_client_format_unix_time(row->time);
    count++;
  }
  return (gssize)count;
}

gboolean
signet_cli_print_history(const char *records, gsize records_len, gsize n, const char *token,
                         gsize shown, GError **error)
{
  gboolean more = n > shown;
  g_autofree HistoryRow *rows = NULL;
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func(g_free);
  gssize got;
  g_autoptr(GString) out = NULL;
  /* TRANSLATORS: the columns of signet history. */
  const char *heads[] = { C_("history", "TIME"), C_("history", "TOKEN"), C_("history", "OPERATION"),
                          C_("history", "OUTCOME"), C_("history", "DETAIL") };
  int w_time = (int)g_utf8_strlen(heads[0], -1), w_token = (int)g_utf8_strlen(heads[1], -1);
  int w_op = (int)g_utf8_strlen(heads[2], -1), w_outcome = (int)g_utf8_strlen(heads[3], -1);
  gsize count;

  if (n == 0) {
    g_print("%s\n", _("No operations recorded."));
    return TRUE;
  }
  /* One more than shown was asked for: read it only for its time. */
  count = MIN(n, shown == G_MAXSIZE ? n : shown + 1);
  rows = g_new0(HistoryRow, count);
  got = history_rows_read(records, records_len, rows, count, owned);
  if (got != (gssize)count) {
    for (gsize i = 0; got > 0 && i < (gsize)got; i++)
      g_free(rows[i].when);
    g_set_error_literal(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                        _("The agent's history was not in the form it should be"));
    return FALSE;
  }
  n = count;
  if (more) {
    /* The next page is "older than the last time shown": every entry of
     * that second must be on this one. */
    gint64 first_left = rows[shown].time;

    n = shown;
    while (n > 0 && rows[n - 1].time == first_left)
      n--;
    if (n == 0) /* a page's worth in one second: show them all */
      n = shown;
  }
  for (gsize i = 0; i < n; i++) {
    w_time = MAX(w_time, (int)g_utf8_strlen(rows[i].when, -1));
    w_token = MAX(w_token, (int)g_utf8_strlen(history_row_token(&rows[i]), -1));
    w_op = MAX(w_op, (int)g_utf8_strlen(rows[i].operation, -1));
    w_outcome = MAX(w_outcome, (int)g_utf8_strlen(rows[i].outcome, -1));
  }
  w_token = MIN(w_token, 32);
  out = g_string_sized_new(64 + 96 * n);
  {
    const int widths[] = { w_time, w_token, w_op, w_outcome };

    for (gsize c = 0; c < G_N_ELEMENTS(widths); c++)
      g_string_append_printf(out, "%s%*s  ", heads[c],
                             (int)MAX(0, widths[c] - g_utf8_strlen(heads[c], -1)), "");
    g_string_append_printf(out, "%s\n", heads[4]);
  }
  for (gsize i = 0; i < n; i++) {
    const char *cols[]
        = { rows[i].when, history_row_token(&rows[i]), rows[i].operation, rows[i].outcome };
    const int widths[] = { w_time, w_token, w_op, w_outcome };
    gsize detail_at;

    /* printf pads bytes, not characters: pad by hand for UTF-8 labels. */
    for (gsize c = 0; c < G_N_ELEMENTS(cols); c++) {
      glong len = g_utf8_strlen(cols[c], -1);

      g_string_append(out, cols[c]);
      g_string_append_printf(out, "%*s  ", (int)MAX(0, widths[c] - len), "");
    }
    detail_at = out->len;
    g_string_append(out, rows[i].detail);
    g_strdelimit(out->str + detail_at, "\r\n\t", ' ');
    g_string_append_c(out, '\n');
  }
  /* One write for the whole table. */
  fwrite(out->str, 1, out->len, stdout);
  fflush(stdout);
  if (more) {
    g_autoptr(GDateTime) last = g_date_time_new_from_unix_local(rows[n - 1].time);
    g_autofree char *when = last != NULL ? g_date_time_format(last, "%Y-%m-%d %H:%M:%S") : NULL;
    g_autofree char *quoted = *token != '\0' ? g_shell_quote(token) : NULL;

    if (when != NULL)
      /* TRANSLATORS: after a page of signet history; the command is not
       * translated. */
      g_printerr(_("Older entries: signet history %s%s--before '%s'\n"),
                 quoted != NULL ? quoted : "", quoted != NULL ? " " : "", when);
  }
  for (gsize i = 0; i < count; i++)
    g_free(rows[i].when);
  return TRUE;
}

/* The labels of the certificate an Activate or Renew result describes. */
static int
issued_label_width(void)
{
  const char *labels[]
      = { _("Subject:"), _("Issuer:"), _("Serial:"), _("Valid:"), _("Key id:"), _("CA chain:") };

  return signet_cli_label_width(labels, G_N_ELEMENTS(labels), 2);
}

/* The certificate an Activate or Renew result describes
 * (signet_token_dict_add_issued()): the same lines for both. */
static void
print_issued(GVariant *r)
{
  g_autofree char *not_after = signet_client_format_not_after(r);
  /* TRANSLATORS: from a date to a date. */
  g_autofree char *valid = g_strdup_printf(_("%s to %s"), lookup_str(r, "not_before"), not_after);
  int width = issued_label_width();

  signet_cli_print_field("  ", _("Subject:"), width, lookup_str(r, "subject"));
  signet_cli_print_field("  ", _("Issuer:"), width, lookup_str(r, "issuer"));
  signet_cli_print_field("  ", _("Serial:"), width, lookup_str(r, "serial"));
  signet_cli_print_field("  ", _("Valid:"), width, valid);
}

/* "  CA chain:  N certificate(s) stored, M already on the token" */
static void
print_chain(GVariant *r)
{
  guint32 stored = 0, present = 0;
  g_autofree char *chain = NULL;

  (void)g_variant_lookup(r, "chain_stored", "u", &stored);
  (void)g_variant_lookup(r, "chain_present", "u", &present);
  chain = g_strdup_printf(_("%u certificate(s) stored, %u already on the token"), stored, present);
  signet_cli_print_field("  ", _("CA chain:"), issued_label_width(), chain);
}

void
signet_cli_print_activated(GVariant *r)
{
  const char *label = lookup_str(r, "token_label");

  g_print("\n");
  /* TRANSLATORS: a token's label, a CA profile's name. */
  g_print(_("Activated token '%s' with a certificate from %s:"),
          *label != '\0' ? label : lookup_str(r, "token_serial"), lookup_str(r, "profile"));
  g_print("\n");
  print_issued(r);
  signet_cli_print_field("  ", _("Key id:"), issued_label_width(), lookup_str(r, "id"));
  print_chain(r);
}

void
signet_cli_print_renewed(GVariant *r)
{
  const char *label = lookup_str(r, "token_label");
  const char *old_id = lookup_str(r, "old_id");
  const char *profile = lookup_str(r, "profile");
  g_autofree char *through
      = *profile != '\0' ? g_strdup_printf(_(" through %s"), profile) : g_strdup("");
  g_autofree char *key_id = NULL;
  g_autofree char *which = *old_id ? g_strdup_printf(_(" (key id %s)"), old_id) : g_strdup("");

  g_print("\n");
  /* TRANSLATORS: a token's label, then empty or " through PROFILE", then
   * empty or " (an interrupted renewal, finished now)". */
  g_print(_("Renewed the certificate on token '%s'%s%s:"),
          *label != '\0' ? label : lookup_str(r, "token_serial"), through,
          signet_client_dict_bool(r, "resumed") ? _(" (an interrupted renewal, finished now)")
                                                : "");
  g_print("\n");
  print_issued(r);
  if (signet_client_dict_bool(r, "keep_key"))
    key_id = g_strdup_printf(_("%s (the same key pair as before)"), lookup_str(r, "id"));
  else
    key_id = g_strdup_printf(_("%s (a new key pair, generated on the token)"), lookup_str(r, "id"));
  signet_cli_print_field("  ", _("Key id:"), issued_label_width(), key_id);
  print_chain(r);
  g_print("  ");
  if (signet_client_dict_bool(r, "old_removed"))
    /* TRANSLATORS: %s is empty or " (key id ID)". */
    g_print(_("The old certificate%s was removed from the token."), which);
  else
    /* TRANSLATORS: %s is empty or " (key id ID)". */
    g_print(_("The old certificate%s is still on the token."), which);
  g_print("\n\n%s\n", _("Institutions you sign with (a bank, a tax office, a registry, your "
                        "employer) may need the new certificate: register it with them where "
                        "they ask for it."));
}
