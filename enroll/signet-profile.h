/* signet-profile.h: CA profiles, GKeyFile files a CA can ship.
 *
 * Owns: reading profiles from $XDG_CONFIG_HOME/signet/profiles.d/NAME.conf,
 * /etc/signet/profiles.d/NAME.conf and /usr/share/signet/profiles.d/NAME.conf
 * (a CA's package; the first directory with a file of that name wins);
 * reporting a broken file with its path and
 * line without stopping the others. May call: common/, GLib.
 *
 * A profile (NAME is the file name without ".conf", [a-z0-9._-]):
 *
 *   [profile]
 *   display-name = Example Qualified CA           (default: NAME)
 *   protocol = est                                (a connector's name:
 *                                                  signet-connector.c)
 *   url = https://ca.example/.well-known/est/q    (https only)
 *   trust-anchors = example-root.pem              (PEM file, relative to the
 *                                                  profile's directory;
 *                                                  absent: system store)
 *                                                 the CAs that sign the CA
 *                                                 server's TLS certificate
 *   ca-roots = example-qualified-root.pem         (PEM, DER or PKCS#7 file,
 *                                                  relative to the profile's
 *                                                  directory: the roots the
 *                                                  CA issues holder
 *                                                  certificates under; an
 *                                                  issued chain must end at
 *                                                  one of them. Absent: the
 *                                                  self-signed certificates
 *                                                  of EST /cacerts, fetched
 *                                                  over TLS verified with
 *                                                  trust-anchors; see
 *                                                  docs/internals/trust.md)
 *   key-type = ec:p256                            (rsa:2048 rsa:3072 rsa:4096
 *                                                  ec:p256 ec:p384)
 *   subject = CN=${reference},O=Example           (a template, RFC 4514 or
 *                                                  /X=…/ form; or "ask-ca":
 *                                                  EST /csrattrs)
 *   renewal-key = new                             (new | same)
 *   [labels]
 *   key = Qualified signature                     (label of the key pair)
 *   certificate = Qualified signature             (of the certificate)
 *   chain = Example CA                            (of the CA certificates)
 *   [activation]
 *   reference-prompt = Reference number
 *   code-prompt = Activation code
 *   [network]
 *   connect-timeout = 15                          (seconds)
 *   timeout = 120                                 (seconds)
 *   [est]                                         (the protocol's own group,
 *   username = ${reference}                        its keys named and checked
 *                                                  by its connector: see
 *                                                  signet-est-connector.c)
 *   [cmp]  recipient, implicit-confirm            (protocol = cmp: see
 *                                                  signet-cmp-connector.c)
 *   [scep] ca-identifier                          (protocol = scep: see
 *                                                  signet-scep-connector.c;
 *                                                  key-type must be rsa:*)
 *
 * Templates know ${reference} and ${serial} (the token's serial); "$$" is a
 * "$". Unknown groups or keys are reported as problems (a typo must not
 * pass silently) but the profile still loads.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  SIGNET_RENEWAL_NEW_KEY,
  SIGNET_RENEWAL_SAME_KEY,
} SignetRenewalKey;

typedef struct
{
  char *name;
  char *display_name;
  char *file;     /* absolute path it was read from */
  char *protocol; /* a connector's name, lower case: "est" */
  char *url;
  char *trust_anchors; /* absolute path, or NULL: system store */
  char *ca_roots;      /* absolute path of the issuing roots, or NULL: /cacerts */
  char *key_type;      /* "ec:p256", … */
  char *subject;       /* template; NULL when subject_from_ca */
  gboolean subject_from_ca;
  SignetRenewalKey renewal_key;
  char *key_label;         /* never NULL: default display_name */
  char *certificate_label; /* never NULL: default key_label */
  char *chain_label;       /* never NULL: default "CA certificate" */
  char *reference_prompt;  /* default "Reference number" */
  char *code_prompt;       /* default "Activation code" */
  guint connect_timeout;   /* default 15 */
  guint timeout;           /* default 120 */
  /* The protocol's group: key → value, checked and completed with its
   * defaults by the connector (signet-connector.h). */
  GHashTable *settings;
} SignetProfile;

void signet_profile_free(SignetProfile *profile);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetProfile, signet_profile_free)

const char *signet_renewal_key_to_string(SignetRenewalKey policy); /* "new", "same" */

typedef struct
{
  char *file;
  guint line;    /* 1-based; 0 when it concerns the whole file */
  char *message; /* without "FILE:LINE: ": show "%s:%u: %s" (or "%s: %s") */
} SignetProfileProblem;

void signet_profile_problem_free(SignetProfileProblem *problem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetProfileProblem, signet_profile_problem_free)

typedef struct
{
  GPtrArray *profiles; /* SignetProfile*, sorted by name */
  GPtrArray *problems; /* SignetProfileProblem*, in file order */
} SignetProfileSet;

void signet_profile_set_free(SignetProfileSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetProfileSet, signet_profile_set_free)

/* The directories searched, most important first: $XDG_CONFIG_HOME/signet/
 * profiles.d, then $SIGNET_PROFILES_DIR if set (colon-separated, for tests
 * and packagers), then /etc/signet/profiles.d, then
 * /usr/share/signet/profiles.d (where a CA's package installs its profile). */
GStrv signet_profile_dirs(void);

/* Loads every NAME.conf of @dirs (NULL: signet_profile_dirs()). A missing
 * directory is not a problem; an unreadable one is. A name found in an
 * earlier directory hides the later ones. Never fails. */
SignetProfileSet *signet_profiles_load(const char *const *dirs);

/* One file. On failure, SIGNET_ENROLL_ERROR_PROFILE "FILE:LINE: what is
 * wrong" (the first mistake); @problems (may be NULL; frees its elements
 * with signet_profile_problem_free) collects, in line order, the warnings
 * of a file that loads, and every mistake and warning of one that does not. */
SignetProfile *signet_profile_load_file(const char *path, GPtrArray *problems, GError **error);

/* The same for a profile already read: @data (@len bytes, any bytes; at
 * most 64 KiB make a profile) as if read from the file @path, which gives
 * the profile's name and the directory its trust-anchors and ca-roots are
 * relative to (those files are read). signet_profile_load_file() reads the
 * file and calls this parser; tests/fuzz/fuzz-profile.c fuzzes it. */
SignetProfile *signet_profile_parse(const char *path, const char *data, gsize len,
                                    GPtrArray *problems, GError **error);

/* The profile named @name in @set, or NULL. */
const SignetProfile *signet_profile_set_lookup(const SignetProfileSet *set, const char *name);

/* Expands ${reference} and ${serial} in @template ("$$" is "$"); an
 * unknown variable or a lone "$" is SIGNET_ENROLL_ERROR_PROFILE. */
char *signet_profile_expand(const char *template_, const char *reference, const char *serial,
                            GError **error);

G_END_DECLS
