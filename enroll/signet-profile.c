/* signet-profile.c: CA profiles. See signet-profile.h for the file format.
 *
 * A profile file is outside input (a CA ships it, a user edits it): it is
 * bounded (64 KiB, a regular file), read once, and checked completely before
 * anything uses it. GKeyFile parses it; GKeyFile keeps no line numbers, so a
 * small scanner reads the same text for the line of every group and key
 * (GKeyFile's rules for a valid file: leading blanks dropped, "#" comments,
 * "[group]", "key = value" with blanks around the key dropped; a group
 * written twice is one group, a key written twice keeps its last value).
 * Where GKeyFile refuses a file, the first line it refuses is found by
 * parsing growing prefixes (a bisection: a prefix fails exactly when it holds
 * the bad line).
 *
 * Every mistake in a file is collected (a typo'd key and the missing key it
 * was meant to be are reported together); the first, in line order, is the
 * GError of signet_profile_load_file().
 */
#include "config.h"

#include "common/signet-util.h"
#include "enroll/signet-profile.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"

#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest profile file read. */
#define PROFILE_MAX (64 * 1024)
/* Most entries read from one profiles directory. */
#define DIR_ENTRIES_MAX 1000
/* Bounds of the [network] timeouts, in seconds. */
#define CONNECT_TIMEOUT_MAX 300
#define TIMEOUT_MAX         3600

/* The administrator's profiles, then those a package installs (a CA's own
 * package puts its profile in /usr/share; a file of the same name in /etc
 * hides it, as /etc does for every packaged default). */
#define SYSTEM_PROFILES_DIR  "/etc/signet/profiles.d"
#define PACKAGE_PROFILES_DIR "/usr/share/signet/profiles.d"

/* Sample values a template is checked with. */
#define SAMPLE_REFERENCE "REF-0001"
#define SAMPLE_SERIAL    "0123456789abcdef"

#define KEY_TYPES "rsa:2048, rsa:3072, rsa:4096, ec:p256 or ec:p384"

static const char *const key_types[]
    = { "rsa:2048", "rsa:3072", "rsa:4096", "ec:p256", "ec:p384", NULL };

/* The groups and keys a profile may have; "*" marks a key that may also be
 * written per language (display-name[pl]), as desktop files do. */
static const struct
{
  const char *group;
  const char *const keys[9];
} schema[] = {
  { "profile",
    { "display-name*", "protocol", "url", "trust-anchors", "ca-roots", "key-type", "subject",
      "renewal-key", NULL } },
  { "labels", { "key", "certificate", "chain", NULL } },
  { "activation", { "username", "reference-prompt*", "code-prompt*", NULL } },
  { "network", { "connect-timeout", "timeout", NULL } },
};

/* The keys of @group in the schema (NULL-terminated, never NULL). */
static const char *const *
schema_keys(const char *group)
{
  static const char *const none[] = { NULL };

  for (guint g = 0; g < G_N_ELEMENTS(schema); g++)
    if (g_str_equal(schema[g].group, group))
      return schema[g].keys;
  return none;
}

void
signet_profile_free(SignetProfile *profile)
{
  if (profile == NULL)
    return;
  g_free(profile->name);
  g_free(profile->display_name);
  g_free(profile->file);
  g_free(profile->url);
  g_free(profile->trust_anchors);
  g_free(profile->ca_roots);
  g_free(profile->key_type);
  g_free(profile->subject);
  g_free(profile->key_label);
  g_free(profile->certificate_label);
  g_free(profile->chain_label);
  g_free(profile->protocol);
  g_clear_pointer(&profile->settings, g_hash_table_unref);
  g_free(profile->reference_prompt);
  g_free(profile->code_prompt);
  g_free(profile);
}

const char *
signet_renewal_key_to_string(SignetRenewalKey policy)
{
  switch (policy) {
    case SIGNET_RENEWAL_NEW_KEY:
      return "new";
    case SIGNET_RENEWAL_SAME_KEY:
      return "same";
    default:
      return "unknown";
  }
}

void
signet_profile_problem_free(SignetProfileProblem *problem)
{
  if (problem == NULL)
    return;
  g_free(problem->file);
  g_free(problem->message);
  g_free(problem);
}

static SignetProfileProblem *
problem_new(const char *file, guint line, char *message /* taken */)
{
  SignetProfileProblem *problem = g_new0(SignetProfileProblem, 1);

  problem->file = g_strdup(file);
  problem->line = line;
  problem->message = message;
  return problem;
}

void
signet_profile_set_free(SignetProfileSet *set)
{
  if (set == NULL)
    return;
  g_clear_pointer(&set->profiles, g_ptr_array_unref);
  g_clear_pointer(&set->problems, g_ptr_array_unref);
  g_free(set);
}

/* ---- templates ---- */

char *
signet_profile_expand(const char *template_, const char *reference, const char *serial,
                      GError **error)
{
  g_autoptr(GString) out = NULL;
  const char *p;

  g_return_val_if_fail(template_ != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  out = g_string_sized_new(strlen(template_) + 32);
  for (p = template_; *p != '\0'; p++) {
    const char *end, *value;
    g_autofree char *name = NULL;

    if (*p != '$') {
      g_string_append_c(out, *p);
      continue;
    }
    if (p[1] == '$') {
      g_string_append_c(out, '$');
      p++;
      continue;
    }
    if (p[1] != '{' || (end = strchr(p + 2, '}')) == NULL) {
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                  "a lone \"$\" in \"%s\": write ${reference} or ${serial}, or $$ for a \"$\"",
                  template_);
      return NULL;
    }
    name = g_strndup(p + 2, (gsize)(end - (p + 2)));
    if (g_str_equal(name, "reference"))
      value = reference;
    else if (g_str_equal(name, "serial"))
      value = serial;
    else {
      g_autofree char *quoted = g_strescape(name, NULL);

      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                  "unknown variable ${%s} in \"%s\": known are ${reference} and ${serial} ($$ "
                  "is a \"$\")",
                  quoted, template_);
      return NULL;
    }
    if (value == NULL) {
      g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE,
                  "\"%s\" needs ${%s}, and none was given: %s", template_, name,
                  g_str_equal(name, "reference") ? "give the reference number your CA sent"
                                                 : "the token's serial number is not known");
      return NULL;
    }
    g_string_append(out, value);
    p = end;
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- the scanner: lines of groups and keys ---- */

typedef struct
{
  char *group;
  char *key; /* NULL: the group's header */
  guint line;
} Entry;

static void
entry_free(Entry *entry)
{
  g_free(entry->group);
  g_free(entry->key);
  g_free(entry);
}

typedef struct
{
  GPtrArray *entries; /* Entry*, file order */
} Scan;

static void
scan_clear(Scan *scan)
{
  g_clear_pointer(&scan->entries, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Scan, scan_clear)

/* Reads @text as GKeyFile does a file it accepts. */
static void
scan_text(Scan *scan, const char *text)
{
  g_autofree char *group = NULL;
  guint line = 0;
  const char *p = text;

  scan->entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    gsize len = nl != NULL ? (gsize)(nl - p) : strlen(p);
    g_autofree char *copy = g_strndup(p, len);
    char *s = copy;

    line++;
    p += len + (nl != NULL ? 1 : 0);
    while (g_ascii_isspace(*s))
      s++;
    if (*s == '\0' || *s == '#')
      continue;
    if (*s == '[') {
      char *close = strchr(s, ']');
      Entry *entry;

      if (close == NULL)
        continue;
      g_free(group);
      group = g_strndup(s + 1, (gsize)(close - (s + 1)));
      entry = g_new0(Entry, 1);
      entry->group = g_strdup(group);
      entry->line = line;
      g_ptr_array_add(scan->entries, entry);
    } else {
      char *equal = strchr(s, '=');
      Entry *entry;

      if (equal == NULL || group == NULL)
        continue;
      *equal = '\0';
      entry = g_new0(Entry, 1);
      entry->group = g_strdup(group);
      entry->key = g_strdup(g_strchomp(s));
      entry->line = line;
      g_ptr_array_add(scan->entries, entry);
    }
  }
}

/* The line of the first header of @group, 0 if there is none. */
static guint
group_line(const Scan *scan, const char *group)
{
  for (guint i = 0; i < scan->entries->len; i++) {
    const Entry *entry = g_ptr_array_index(scan->entries, i);

    if (entry->key == NULL && g_str_equal(entry->group, group))
      return entry->line;
  }
  return 0;
}

/* The line of @key in @group (its last one: that value counts), else the
 * group's line, else 0. */
static guint
key_line(const Scan *scan, const char *group, const char *key)
{
  for (guint i = scan->entries->len; i > 0; i--) {
    const Entry *entry = g_ptr_array_index(scan->entries, i - 1);

    if (entry->key != NULL && g_str_equal(entry->group, group) && g_str_equal(entry->key, key))
      return entry->line;
  }
  return group_line(scan, group);
}

/* ---- checking one file ---- */

typedef struct
{
  const char *path;
  const Scan *scan;
  GKeyFile *keyfile;
  GPtrArray *errors;   /* SignetProfileProblem*: the file does not load */
  GPtrArray *warnings; /* SignetProfileProblem*: it loads anyway */
} Check;

static void add_error(Check *check, guint line, const char *format, ...) G_GNUC_PRINTF(3, 4);
static void add_warning(Check *check, guint line, const char *format, ...) G_GNUC_PRINTF(3, 4);

static void
add_error(Check *check, guint line, const char *format, ...)
{
  va_list args;

  va_start(args, format);
  g_ptr_array_add(check->errors, problem_new(check->path, line, g_strdup_vprintf(format, args)));
  va_end(args);
}

static void
add_warning(Check *check, guint line, const char *format, ...)
{
  va_list args;

  va_start(args, format);
  g_ptr_array_add(check->warnings, problem_new(check->path, line, g_strdup_vprintf(format, args)));
  va_end(args);
}

/* TRUE when the value of @key (and, @localized, of each key[LANG]) has
 * only the escapes GKeyFile knows (signet_key_file_escapes_valid()). */
static gboolean
escapes_valid(GKeyFile *keyfile, const char *group, const char *key, gboolean localized)
{
  g_auto(GStrv) keys = g_key_file_get_keys(keyfile, group, NULL, NULL);
  gsize n = strlen(key);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
    g_autofree char *raw = NULL;

    if (!g_str_equal(keys[i], key)
        && !(localized && strncmp(keys[i], key, n) == 0 && keys[i][n] == '['))
      continue;
    raw = g_key_file_get_value(keyfile, group, keys[i], NULL);
    if (raw != NULL && !signet_key_file_escapes_valid(raw))
      return FALSE;
  }
  return TRUE;
}

/* The value of @key, blanks around it removed; NULL if absent (or unusable:
 * an error is added). Empty values are errors: a key written without a
 * value is a mistake, leaving it out gives the default. */
static char *
get_string(Check *check, const char *group, const char *key, gboolean localized)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *value = NULL;

  if (!g_key_file_has_key(check->keyfile, group, key, NULL))
    return NULL;
  if (!escapes_valid(check->keyfile, group, key, localized)) {
    add_error(check, key_line(check->scan, group, key),
              "%s: a \"\\\" escape that is not \\s, \\n, \\t, \\r or \\\\: write \\\\ for a "
              "backslash",
              key);
    return NULL;
  }
  if (localized)
    value = g_key_file_get_locale_string(check->keyfile, group, key, NULL, &local_error);
  else
    value = g_key_file_get_string(check->keyfile, group, key, &local_error);
  /* GKeyFile may return a value and an error (a bad escape). */
  if (value == NULL || local_error != NULL) {
    add_error(check, key_line(check->scan, group, key),
              "%s: a \"\\\" escape that is not \\s, \\n, \\t, \\r or \\\\: write \\\\ for a "
              "backslash",
              key);
    return NULL;
  }
  g_strstrip(value);
  if (value[0] == '\0') {
    add_error(check, key_line(check->scan, group, key),
              "%s: empty value: give one, or leave the key out", key);
    return NULL;
  }
  if (signet_has_control_chars(value)) {
    /* Names and labels end up on tokens and in everyone's terminal. */
    add_error(check, key_line(check->scan, group, key),
              "%s: a control character (\\n, \\t, an escape …): write printable characters only",
              key);
    return NULL;
  }
  return g_steal_pointer(&value);
}

static guint
get_seconds(Check *check, const char *key, guint fallback, guint max)
{
  g_autofree char *value = get_string(check, "network", key, FALSE);
  guint64 n = 0;

  if (value == NULL)
    return fallback;
  if (!g_ascii_string_to_unsigned(value, 10, 1, max, &n, NULL) || value[0] == '+') {
    g_autofree char *quoted = g_strescape(value, NULL);

    add_error(check, key_line(check->scan, "network", key),
              "%s: \"%s\" is not a number of seconds from 1 to %u", key, quoted, max);
    return fallback;
  }
  return (guint)n;
}

static gboolean
check_url(Check *check, const char *url)
{
  guint line = key_line(check->scan, "profile", "url");
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;

  uri = g_uri_parse(url, G_URI_FLAGS_NONE, &local_error);
  if (uri == NULL) {
    add_error(check, line, "url: \"%s\" is not a URL (%s): write https://HOST/.well-known/est", url,
              local_error->message);
    return FALSE;
  }
  if (g_ascii_strcasecmp(g_uri_get_scheme(uri), "https") != 0) {
    add_error(check, line,
              "url: \"%s\" is not https: Signet talks to a CA only over verified TLS; write "
              "https://…",
              url);
    return FALSE;
  }
  if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
    add_error(check, line, "url: \"%s\" names no host: write https://HOST/…", url);
    return FALSE;
  }
  if (g_uri_get_userinfo(uri) != NULL) {
    add_error(check, line,
              "url: \"%s\" holds a user name or password: leave them out (the activation "
              "data authenticates)",
              url);
    return FALSE;
  }
  if (g_uri_get_fragment(uri) != NULL) {
    add_error(check, line, "url: \"%s\" has a #fragment, which a CA's address does not have", url);
    return FALSE;
  }
  return TRUE;
}

/* @value resolved against the profile's directory; an error unless it is
 * a regular file holding PEM certificates (curl reads a CA file as PEM). */
static char *
check_trust_anchors(Check *check, const char *value)
{
  guint line = key_line(check->scan, "profile", "trust-anchors");
  g_autofree char *dir = g_path_get_dirname(check->path);
  g_autofree char *path = g_canonicalize_filename(value, dir);
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  gsize len = 0;
  GStatBuf st;

  if (g_stat(path, &st) != 0) {
    int saved = errno;

    add_error(check, line, "trust-anchors: %s: %s: give the CA's root certificate file (PEM)", path,
              g_strerror(saved));
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    add_error(check, line, "trust-anchors: %s is not a regular file: give a PEM file", path);
    return NULL;
  }
  if (st.st_size > SIGNET_CERTFILE_MAX) {
    add_error(check, line, "trust-anchors: %s is too large for a certificate file", path);
    return NULL;
  }
  if (!g_file_get_contents(path, &contents, &len, &local_error)) {
    add_error(check, line, "trust-anchors: %s", local_error->message);
    return NULL;
  }
  certs = signet_certfile_parse((const guint8 *)contents, len, &local_error);
  if (certs == NULL) {
    add_error(check, line, "trust-anchors: %s: %s", path, local_error->message);
    return NULL;
  }
  if (strstr(contents, "-----BEGIN") == NULL) {
    add_error(check, line,
              "trust-anchors: %s holds certificates, but not as PEM: convert it (openssl x509 "
              "-inform DER -in FILE -out FILE.pem)",
              path);
    return NULL;
  }
  return g_steal_pointer(&path);
}

/* ca-roots: @value resolved against the profile's directory; an error
 * unless it is a regular file of certificates (PEM, DER or PKCS#7) that are
 * all CA certificates; a warning for one that has expired. */
static char *
check_ca_roots(Check *check, const char *value)
{
  guint line = key_line(check->scan, "profile", "ca-roots");
  g_autofree char *dir = g_path_get_dirname(check->path);
  g_autofree char *path = g_canonicalize_filename(value, dir);
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  gsize len = 0;
  GStatBuf st;

  if (g_stat(path, &st) != 0) {
    int saved = errno;

    add_error(check, line,
              "ca-roots: %s: %s: give the file of the root certificates the CA issues under", path,
              g_strerror(saved));
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    add_error(check, line, "ca-roots: %s is not a regular file: give a certificate file", path);
    return NULL;
  }
  if (st.st_size > SIGNET_CERTFILE_MAX) {
    add_error(check, line, "ca-roots: %s is too large for a certificate file", path);
    return NULL;
  }
  if (!g_file_get_contents(path, &contents, &len, &local_error)) {
    add_error(check, line, "ca-roots: %s", local_error->message);
    return NULL;
  }
  certs = signet_certfile_parse((const guint8 *)contents, len, &local_error);
  if (certs == NULL) {
    add_error(check, line, "ca-roots: %s: %s", path, local_error->message);
    return NULL;
  }
  for (guint i = 0; i < certs->len; i++) {
    X509 *c = g_ptr_array_index(certs, i);
    g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(c));

    if (!signet_x509_is_ca(c)) {
      add_error(check, line,
                "ca-roots: %s holds %s, which is not a CA certificate: give only the CA's root "
                "certificates",
                path, subject);
      return NULL;
    }
    if (X509_cmp_time(X509_get0_notAfter(c), NULL) < 0) {
      g_autofree char *until = signet_asn1_time_to_iso8601(X509_get0_notAfter(c));

      add_warning(check, line,
                  "ca-roots: %s: the root %s expired on %s: no certificate verifies to it any "
                  "more; ask the CA for its current profile",
                  path, subject, until != NULL ? until : "(unknown)");
    }
  }
  return g_steal_pointer(&path);
}

static gboolean
key_allowed(const char *const *keys, const char *key)
{
  g_autofree char *base = NULL;
  const char *bracket = strchr(key, '[');

  if (bracket != NULL && g_str_has_suffix(key, "]") && bracket > key)
    base = g_strndup(key, (gsize)(bracket - key));
  for (guint i = 0; keys[i] != NULL; i++) {
    const char *known = keys[i];
    gsize n = strlen(known);
    gboolean localizable = n > 0 && known[n - 1] == '*';

    if (localizable)
      n--;
    if (base == NULL && strlen(key) == n && strncmp(key, known, n) == 0)
      return TRUE;
    if (base != NULL && localizable && strlen(base) == n && strncmp(base, known, n) == 0)
      return TRUE;
  }
  return FALSE;
}

/* Warnings: unknown groups and keys, and a key written twice. */
static void
check_names(Check *check)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < check->scan->entries->len; i++) {
    const Entry *entry = g_ptr_array_index(check->scan->entries, i);
    const char *const *keys = NULL;
    g_autofree char *known = NULL;
    g_autofree char *quoted_group = g_strescape(entry->group, NULL);
    g_autofree char *quoted_key = entry->key != NULL ? g_strescape(entry->key, NULL) : NULL;
    g_autofree char *id = NULL;
    gpointer previous;

    for (guint g = 0; g < G_N_ELEMENTS(schema); g++)
      if (g_str_equal(schema[g].group, entry->group))
        keys = schema[g].keys;
    /* The profile's protocol's own group: its connector names the keys
     * (another protocol's group is unknown here). */
    if (keys == NULL && signet_connector_find(entry->group) != NULL
        && g_str_equal(signet_connector_find(entry->group)->name, entry->group)) {
      g_autofree char *protocol = g_key_file_get_value(check->keyfile, "profile", "protocol", NULL);

      if (protocol != NULL
          && signet_connector_find(g_strstrip(protocol)) == signet_connector_find(entry->group))
        keys = signet_connector_find(entry->group)->keys;
    }
    if (entry->key == NULL) {
      if (keys == NULL) {
        g_autofree char *names = signet_connector_list_names();

        add_warning(check, entry->line,
                    "unknown group [%s], ignored: a profile has [profile], [labels], "
                    "[activation], [network] and its protocol's group (one of %s, as "
                    "protocol = says)",
                    quoted_group, names);
      }
      continue;
    }
    if (keys == NULL)
      continue; /* the group is reported */
    if (!key_allowed(keys, entry->key)) {
      g_autoptr(GString) list = g_string_new(NULL);

      for (guint k = 0; keys[k] != NULL; k++) {
        if (k > 0)
          g_string_append(list, ", ");
        g_string_append_len(list, keys[k], (gssize)strcspn(keys[k], "*"));
      }
      add_warning(check, entry->line, "unknown key \"%s\" in [%s], ignored: known keys are %s",
                  quoted_key, quoted_group, list->str);
      continue;
    }
    id = g_strconcat(entry->group, "\n", entry->key, NULL);
    if (g_hash_table_lookup_extended(seen, id, NULL, &previous))
      add_warning(check, entry->line,
                  "\"%s\" is set twice in [%s] (also on line %u): this later value counts",
                  quoted_key, quoted_group, GPOINTER_TO_UINT(previous));
    g_hash_table_insert(seen, g_steal_pointer(&id), GUINT_TO_POINTER(entry->line));
  }
}

/* A template is checked by expanding it with sample values. */
static gboolean
check_template(Check *check, const char *group, const char *key, const char *template_,
               char **out_expanded)
{
  g_autoptr(GError) local_error = NULL;
  char *expanded = signet_profile_expand(template_, SAMPLE_REFERENCE, SAMPLE_SERIAL, &local_error);

  if (expanded == NULL) {
    add_error(check, key_line(check->scan, group, key), "%s: %s", key, local_error->message);
    return FALSE;
  }
  if (out_expanded != NULL)
    *out_expanded = expanded;
  else
    g_free(expanded);
  return TRUE;
}

/* The connector's report of a mistake in its group, at the key's line. */
typedef struct
{
  Check *check;
  const char *group;
  GHashTable *from; /* key → the group it was read from, when not @group */
} GroupReport;

static void
report_group_problem(const char *key, const char *message, gpointer data)
{
  GroupReport *r = data;
  const char *group = key != NULL && g_hash_table_contains(r->from, key)
                          ? g_hash_table_lookup(r->from, key)
                          : r->group;
  guint line = key != NULL ? key_line(r->check->scan, group, key) : 0;

  add_error(r->check, line != 0 ? line : group_line(r->check->scan, group), "%s", message);
}

/* The protocol's own group ([est], ...): its known keys as key → value,
 * checked and completed with defaults by the connector. A key of that
 * group that a profile from before the group existed wrote in
 * [activation] (EST's username) is read from there, with a warning. */
static GHashTable *
check_protocol_group(Check *check, const SignetConnectorClass *connector)
{
  g_autoptr(GHashTable) settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) from = g_hash_table_new(g_str_hash, g_str_equal);
  GroupReport report = { check, connector->name, from };

  for (guint k = 0; connector->keys[k] != NULL; k++) {
    const char *key = connector->keys[k];
    char *value = get_string(check, connector->name, key, FALSE);

    if (value == NULL && g_strv_contains(schema_keys("activation"), key)
        && (value = get_string(check, "activation", key, FALSE)) != NULL) {
      add_warning(check, key_line(check->scan, "activation", key),
                  "%s: belongs in [%s] now (read from [activation] for older profiles): move it "
                  "there",
                  key, connector->name);
      g_hash_table_insert(from, (gpointer)key, (gpointer) "activation");
    }
    if (value != NULL)
      g_hash_table_insert(settings, g_strdup(key), value);
  }
  if (connector->check_settings != NULL
      && !connector->check_settings(settings, report_group_problem, &report))
    return NULL;
  return g_steal_pointer(&settings);
}

static SignetProfile *
check_profile(Check *check, const char *name)
{
  g_autoptr(SignetProfile) profile = g_new0(SignetProfile, 1);
  g_autofree char *protocol = NULL, *key_type = NULL, *subject = NULL, *renewal = NULL;
  g_autofree char *anchors = NULL;
  g_autofree char *roots = NULL;
  guint profile_line = group_line(check->scan, "profile");
  const SignetConnectorClass *connector = NULL;

  profile->name = g_strdup(name);
  profile->file = g_strdup(check->path);

  check_names(check);
  if (!g_key_file_has_group(check->keyfile, "profile")) {
    add_error(check, 0,
              "no [profile] group: a profile starts with [profile] and its url, protocol, "
              "key-type and subject");
    return NULL;
  }

  profile->display_name = get_string(check, "profile", "display-name", TRUE);
  if (profile->display_name == NULL)
    profile->display_name = g_strdup(name);

  protocol = get_string(check, "profile", "protocol", FALSE);
  if (protocol == NULL) {
    if (!g_key_file_has_key(check->keyfile, "profile", "protocol", NULL))
      add_error(check, profile_line, "protocol: missing: write protocol = est");
  } else if ((connector = signet_connector_find(protocol)) != NULL)
    profile->protocol = g_strdup(connector->name);
  else {
    g_autofree char *known = signet_connector_list_names();

    add_error(check, key_line(check->scan, "profile", "protocol"),
              "protocol: \"%s\" is not supported: this version of Signet knows %s", protocol,
              known);
  }

  profile->url = get_string(check, "profile", "url", FALSE);
  if (profile->url == NULL) {
    if (!g_key_file_has_key(check->keyfile, "profile", "url", NULL))
      add_error(check, profile_line, "url: missing: write the CA's https:// address");
  } else
    check_url(check, profile->url);

  anchors = get_string(check, "profile", "trust-anchors", FALSE);
  if (anchors != NULL)
    profile->trust_anchors = check_trust_anchors(check, anchors);
  roots = get_string(check, "profile", "ca-roots", FALSE);
  if (roots != NULL)
    profile->ca_roots = check_ca_roots(check, roots);

  key_type = get_string(check, "profile", "key-type", FALSE);
  if (key_type == NULL) {
    if (!g_key_file_has_key(check->keyfile, "profile", "key-type", NULL))
      add_error(check, profile_line, "key-type: missing: write one of " KEY_TYPES);
  } else if (!g_strv_contains(key_types, key_type))
    add_error(check, key_line(check->scan, "profile", "key-type"),
              "key-type: \"%s\" is not one of " KEY_TYPES, key_type);
  else
    profile->key_type = g_steal_pointer(&key_type);

  subject = get_string(check, "profile", "subject", FALSE);
  if (subject == NULL) {
    if (!g_key_file_has_key(check->keyfile, "profile", "subject", NULL))
      add_error(check, profile_line,
                "subject: missing: write a template such as CN=${reference},O=Example, or "
                "ask-ca for the subject the CA gives (EST /csrattrs)");
  } else if (g_str_equal(subject, "ask-ca"))
    profile->subject_from_ca = TRUE;
  else {
    g_autofree char *expanded = NULL;

    if (check_template(check, "profile", "subject", subject, &expanded)) {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(X509_NAME) parsed = signet_subject_parse(expanded, &local_error);

      if (parsed == NULL)
        add_error(check, key_line(check->scan, "profile", "subject"),
                  "subject: \"%s\" does not make a subject: %s", subject, local_error->message);
      else
        profile->subject = g_steal_pointer(&subject);
    }
  }

  renewal = get_string(check, "profile", "renewal-key", FALSE);
  if (renewal == NULL || g_str_equal(renewal, "new"))
    profile->renewal_key = SIGNET_RENEWAL_NEW_KEY;
  else if (g_str_equal(renewal, "same"))
    profile->renewal_key = SIGNET_RENEWAL_SAME_KEY;
  else
    add_error(check, key_line(check->scan, "profile", "renewal-key"),
              "renewal-key: \"%s\" is neither new (a new key pair at each renewal) nor same "
              "(renew the key in use)",
              renewal);

  profile->key_label = get_string(check, "labels", "key", FALSE);
  if (profile->key_label == NULL)
    profile->key_label = g_strdup(profile->display_name);
  profile->certificate_label = get_string(check, "labels", "certificate", FALSE);
  if (profile->certificate_label == NULL)
    profile->certificate_label = g_strdup(profile->key_label);
  profile->chain_label = get_string(check, "labels", "chain", FALSE);
  if (profile->chain_label == NULL)
    profile->chain_label = g_strdup("CA certificate");

  if (connector != NULL)
    profile->settings = check_protocol_group(check, connector);
  profile->reference_prompt = get_string(check, "activation", "reference-prompt", TRUE);
  if (profile->reference_prompt == NULL)
    profile->reference_prompt = g_strdup("Reference number");
  profile->code_prompt = get_string(check, "activation", "code-prompt", TRUE);
  if (profile->code_prompt == NULL)
    profile->code_prompt = g_strdup("Activation code");

  profile->connect_timeout = get_seconds(check, "connect-timeout", 15, CONNECT_TIMEOUT_MAX);
  profile->timeout = get_seconds(check, "timeout", 120, TIMEOUT_MAX);
  if (profile->connect_timeout > profile->timeout)
    add_error(check, key_line(check->scan, "network", "connect-timeout"),
              "connect-timeout: %u s is longer than the whole request may take (timeout = %u s)",
              profile->connect_timeout, profile->timeout);

  if (check->errors->len > 0)
    return NULL;
  return g_steal_pointer(&profile);
}

/* ---- reading one file ---- */

static gboolean
name_valid(const char *name)
{
  if (name[0] == '\0' || name[0] == '.')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '.' || *p == '_' || *p == '-'))
      return FALSE;
  return TRUE;
}

/* NAME of "DIR/NAME.conf", or NULL if the file name is not that. */
static char *
name_from_path(const char *path)
{
  g_autofree char *base = g_path_get_basename(path);
  g_autofree char *name = NULL;

  if (!g_str_has_suffix(base, ".conf"))
    return NULL;
  name = g_strndup(base, strlen(base) - strlen(".conf"));
  return name_valid(name) ? g_steal_pointer(&name) : NULL;
}

/* The whole of a regular file, NUL-terminated, or its first PROFILE_MAX + 1
 * bytes (parse_data() refuses a file that large). */
static char *
read_bounded(const char *path, gsize *out_len, char **out_message)
{
  g_autofree char *data = NULL;
  struct stat st;
  gsize len = 0;
  int fd;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int saved = errno;

    *out_message = g_strdup_printf("cannot read it: %s", g_strerror(saved));
    return NULL;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *out_message = g_strdup("not a regular file: a profile is a NAME.conf file");
    close(fd);
    return NULL;
  }
  data = g_malloc(PROFILE_MAX + 2);
  while (len < PROFILE_MAX + 1) {
    ssize_t n = read(fd, data + len, PROFILE_MAX + 1 - len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;

      *out_message = g_strdup_printf("cannot read it: %s", g_strerror(saved));
      close(fd);
      return NULL;
    }
    if (n == 0)
      break;
    len += (gsize)n;
  }
  close(fd);
  data[len] = '\0';
  *out_len = len;
  return g_steal_pointer(&data);
}

/* The line of the first NUL byte or invalid UTF-8, 0 if none. */
static guint
first_binary_line(const char *data, gsize len, const char **out_what)
{
  const char *end = NULL;
  const char *nul = memchr(data, '\0', len);
  gsize valid_len = len;
  guint line = 1;

  if (!g_utf8_validate(data, (gssize)len, &end))
    valid_len = (gsize)(end - data);
  if (nul != NULL && (gsize)(nul - data) <= valid_len) {
    valid_len = (gsize)(nul - data);
    *out_what = "a NUL byte: the file is not text";
  } else if (valid_len < len)
    *out_what = "text that is not UTF-8: save the file as UTF-8";
  else
    return 0;
  for (gsize i = 0; i < valid_len; i++)
    if (data[i] == '\n')
      line++;
  return line;
}

/* The first line GKeyFile refuses (its prefix up to that line fails). */
static guint
first_refused_line(const char *text)
{
  g_autoptr(GArray) starts = g_array_new(FALSE, FALSE, sizeof(gsize));
  guint lo = 1, hi;

  for (gsize i = 0;; i++) {
    if (text[i] == '\n' || text[i] == '\0') {
      g_array_append_val(starts, i);
      if (text[i] == '\0')
        break;
    }
  }
  /* Entry k is where line k + 1 ends. */
  hi = starts->len;
  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    g_autoptr(GKeyFile) keyfile = g_key_file_new();
    gsize prefix = g_array_index(starts, gsize, mid - 1);

    if (g_key_file_load_from_data(keyfile, text, prefix, G_KEY_FILE_NONE, NULL))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void
refused_message(Check *check, const char *text, guint line)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", (gint)line + 1);
  const char *s = g_strv_length(lines) >= line ? lines[line - 1] : "";
  gboolean before_group = TRUE;

  for (guint i = 0; i + 1 < line && lines[i] != NULL; i++)
    if (g_strstrip(lines[i])[0] == '[')
      before_group = FALSE;
  while (g_ascii_isspace(*s))
    s++;
  if (*s == '[')
    add_error(check, line, "a group header without its closing \"]\": write [group]");
  else if (before_group && strchr(s, '=') != NULL)
    add_error(check, line, "a key before any [group]: start the file with [profile]");
  else
    add_error(check, line,
              "not a [group], a key = value line or a # comment: fix or remove the line");
}

static gint
problem_compare(gconstpointer a, gconstpointer b)
{
  const SignetProfileProblem *pa = *(SignetProfileProblem *const *)a;
  const SignetProfileProblem *pb = *(SignetProfileProblem *const *)b;

  return pa->line < pb->line ? -1 : pa->line > pb->line;
}

/* Every problem of the profile @data (@len bytes, any bytes) of the file
 * at @path (absolute: it gives the profile's name and the directory its
 * files are relative to), in line order, into @problems (errors and
 * warnings); the profile if it has no error. */
static SignetProfile *
parse_data(const char *path, const char *data, gsize len, GPtrArray *problems,
           SignetProfileProblem **out_first_error)
{
  g_autoptr(GPtrArray) errors
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_problem_free);
  g_autoptr(GPtrArray) warnings
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_problem_free);
  g_autoptr(GKeyFile) keyfile = g_key_file_new();
  g_auto(Scan) scan = { NULL };
  Check check = { path, &scan, keyfile, errors, warnings };
  g_autofree char *name = name_from_path(path);
  g_autofree char *copy = NULL;
  SignetProfile *profile = NULL;
  const char *text, *what = NULL;
  guint line;

  if (name == NULL) {
    add_error(&check, 0,
              "not loaded: a profile's file is NAME.conf, NAME of a-z, 0-9, \".\", \"_\" and "
              "\"-\"");
    goto out;
  }
  if (len > PROFILE_MAX) {
    add_error(&check, 0, "larger than %d KiB: not a profile", PROFILE_MAX / 1024);
    goto out;
  }
  if ((line = first_binary_line(data, len, &what)) != 0) {
    add_error(&check, line, "%s", what);
    goto out;
  }
  copy = g_strndup(data, len);
  text = copy;
  if (g_str_has_prefix(text, "\xef\xbb\xbf")) /* byte order mark (Windows editors) */
    text += 3;
  scan_text(&scan, text);
  if (!g_key_file_load_from_data(keyfile, text, (gsize)-1, G_KEY_FILE_NONE, NULL)) {
    refused_message(&check, text, first_refused_line(text));
    goto out;
  }
  profile = check_profile(&check, name);

out:
  g_ptr_array_sort(errors, problem_compare);
  if (errors->len > 0 && out_first_error != NULL) {
    const SignetProfileProblem *first = g_ptr_array_index(errors, 0);

    *out_first_error = problem_new(first->file, first->line, g_strdup(first->message));
  }
  if (problems != NULL) {
    g_autoptr(GPtrArray) all = g_ptr_array_new();

    g_ptr_array_extend_and_steal(all, g_steal_pointer(&errors));
    g_ptr_array_extend_and_steal(all, g_steal_pointer(&warnings));
    g_ptr_array_sort(all, problem_compare);
    for (guint i = 0; i < all->len; i++)
      g_ptr_array_add(problems, g_ptr_array_index(all, i));
  }
  return profile;
}

/* The file at @path (absolute), read (bounded) and parsed: parse_data(). */
static SignetProfile *
load_file(const char *path, GPtrArray *problems, SignetProfileProblem **out_first_error)
{
  g_autofree char *data = NULL;
  g_autofree char *message = NULL;
  g_autofree char *name = name_from_path(path);
  gsize len = 0;

  /* A badly named file is not opened: parse_data() says why. */
  if (name != NULL && (data = read_bounded(path, &len, &message)) == NULL) {
    SignetProfileProblem *problem = problem_new(path, 0, g_steal_pointer(&message));

    if (out_first_error != NULL)
      *out_first_error = problem_new(path, 0, g_strdup(problem->message));
    if (problems != NULL)
      g_ptr_array_add(problems, problem);
    else
      signet_profile_problem_free(problem);
    return NULL;
  }
  return parse_data(path, data != NULL ? data : "", len, problems, out_first_error);
}

static GPtrArray *
problems_new(void)
{
  return g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_problem_free);
}

/* The GError of a profile that did not load: its first error. */
static void
set_profile_error(GError **error, const SignetProfileProblem *first)
{
  if (first->line > 0)
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE, "%s:%u: %s", first->file,
                first->line, first->message);
  else
    g_set_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_PROFILE, "%s: %s", first->file,
                first->message);
}

/* signet_profile_load_file() (@data NULL: the file is read) and
 * signet_profile_parse(). */
static SignetProfile *
load_or_parse(const char *path, const char *data, gsize len, GPtrArray *problems, GError **error)
{
  g_autofree char *absolute = g_canonicalize_filename(path, NULL);
  g_autoptr(GPtrArray) found = problems_new();
  SignetProfileProblem *first = NULL;
  SignetProfile *profile;

  if (data == NULL)
    profile = load_file(absolute, found, &first);
  else
    profile = parse_data(absolute, data, len, found, &first);
  if (profile == NULL) {
    g_assert(first != NULL);
    set_profile_error(error, first);
    signet_profile_problem_free(first);
  }
  if (problems != NULL)
    g_ptr_array_extend_and_steal(problems, g_steal_pointer(&found));
  return profile;
}

SignetProfile *
signet_profile_load_file(const char *path, GPtrArray *problems, GError **error)
{
  g_return_val_if_fail(path != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  return load_or_parse(path, NULL, 0, problems, error);
}

SignetProfile *
signet_profile_parse(const char *path, const char *data, gsize len, GPtrArray *problems,
                     GError **error)
{
  g_return_val_if_fail(path != NULL, NULL);
  g_return_val_if_fail(data != NULL || len == 0, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  return load_or_parse(path, data != NULL ? data : "", len, problems, error);
}

/* ---- directories ---- */

GStrv
signet_profile_dirs(void)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *user = g_build_filename(g_get_user_config_dir(), "signet", "profiles.d", NULL);
  const char *extra = g_getenv("SIGNET_PROFILES_DIR");
  g_auto(GStrv) extras = g_strsplit(extra != NULL ? extra : "", ":", -1);
  g_autoptr(GPtrArray) all = g_ptr_array_new();

  g_ptr_array_add(all, user);
  for (guint i = 0; extras[i] != NULL; i++)
    if (extras[i][0] != '\0')
      g_ptr_array_add(all, extras[i]);
  g_ptr_array_add(all, (gpointer)SYSTEM_PROFILES_DIR);
  g_ptr_array_add(all, (gpointer)PACKAGE_PROFILES_DIR);
  for (guint i = 0; i < all->len; i++) {
    g_autofree char *dir = g_canonicalize_filename(g_ptr_array_index(all, i), NULL);

    if (g_hash_table_contains(seen, dir))
      continue;
    g_strv_builder_add(builder, dir);
    g_hash_table_add(seen, g_steal_pointer(&dir));
  }
  return g_strv_builder_end(builder);
}

/* Files a package manager or an editor leaves next to a profile. */
static gboolean
is_leftover(const char *entry)
{
  static const char *const suffixes[]
      = { "~",        ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-bak", ".dpkg-tmp",
          ".ucf-old", ".ucf-new",  ".ucf-dist", ".rpmnew",    ".rpmsave",  ".rpmorig",
          ".swp",     ".bak",      ".orig",     NULL };

  if (entry[0] == '.')
    return TRUE;
  for (guint i = 0; suffixes[i] != NULL; i++)
    if (g_str_has_suffix(entry, suffixes[i]))
      return TRUE;
  return FALSE;
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static gint
compare_profiles(gconstpointer a, gconstpointer b)
{
  return strcmp((*(SignetProfile *const *)a)->name, (*(SignetProfile *const *)b)->name);
}

static void
load_dir(const char *dir, GHashTable *names, SignetProfileSet *set)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) handle = g_dir_open(dir, 0, &local_error);
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func(g_free);
  const char *entry;

  if (handle == NULL) {
    if (!g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      g_ptr_array_add(set->problems,
                      problem_new(dir, 0,
                                  g_strdup_printf("cannot read the profiles directory: %s",
                                                  local_error->message)));
    return;
  }
  while ((entry = g_dir_read_name(handle)) != NULL) {
    if (entries->len >= DIR_ENTRIES_MAX) {
      g_ptr_array_add(set->problems,
                      problem_new(dir, 0,
                                  g_strdup_printf("more than %d entries: only the first %d "
                                                  "(in directory order) are read",
                                                  DIR_ENTRIES_MAX, DIR_ENTRIES_MAX)));
      break;
    }
    if (!is_leftover(entry))
      g_ptr_array_add(entries, g_strdup(entry));
  }
  g_ptr_array_sort(entries, compare_strings);

  for (guint i = 0; i < entries->len; i++) {
    const char *base = g_ptr_array_index(entries, i);
    g_autofree char *path = g_build_filename(dir, base, NULL);
    g_autofree char *name = name_from_path(path);
    SignetProfile *profile;

    if (name == NULL) {
      g_ptr_array_add(set->problems,
                      problem_new(path, 0,
                                  g_strdup("not loaded: a profile's file is NAME.conf, NAME of "
                                           "a-z, 0-9, \".\", \"_\" and \"-\"")));
      continue;
    }
    /* An earlier directory's file of the same name hides this one, even if
     * that file is broken: a user's fix-up must not fall back silently. */
    if (g_hash_table_contains(names, name))
      continue;
    g_hash_table_add(names, g_strdup(name));
    profile = load_file(path, set->problems, NULL);
    if (profile != NULL)
      g_ptr_array_add(set->profiles, profile);
  }
}

SignetProfileSet *
signet_profiles_load(const char *const *dirs)
{
  SignetProfileSet *set = g_new0(SignetProfileSet, 1);
  g_auto(GStrv) defaults = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  set->profiles = g_ptr_array_new_with_free_func((GDestroyNotify)signet_profile_free);
  set->problems = problems_new();
  if (dirs == NULL) {
    defaults = signet_profile_dirs();
    dirs = (const char *const *)defaults;
  }
  for (guint i = 0; dirs[i] != NULL; i++) {
    g_autofree char *dir = g_canonicalize_filename(dirs[i], NULL);

    load_dir(dir, names, set);
  }
  g_ptr_array_sort(set->profiles, compare_profiles);
  return set;
}

const SignetProfile *
signet_profile_set_lookup(const SignetProfileSet *set, const char *name)
{
  g_return_val_if_fail(set != NULL, NULL);
  g_return_val_if_fail(name != NULL, NULL);

  for (guint i = 0; i < set->profiles->len; i++) {
    const SignetProfile *profile = g_ptr_array_index(set->profiles, i);

    if (g_str_equal(profile->name, name))
      return profile;
  }
  return NULL;
}
