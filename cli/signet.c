/* signet.c: the command line. Talks only D-Bus to the agent (signetd),
 * through the generated io.signet.Agent1 proxy; no PKCS#11 here.
 *
 *   signet list
 *   signet status TOKEN
 *   signet keygen TOKEN --type T [--label L]
 *   signet csr TOKEN --subject SUBJECT [--type T] [--label L] [--out FILE]
 *   signet import TOKEN FILE [--anchor ROOTS]
 *   signet pin change TOKEN
 *   signet pin unblock TOKEN
 *   signet monitor
 *   signet activate TOKEN --profile NAME [--reference REF]
 *   signet renew TOKEN [--cert ID] [--profile NAME]
 *   signet history [TOKEN] [--limit N] [--before TIME]
 *   signet profile list
 *   signet profile show NAME
 *   signet batch activate FILE.csv --profile NAME [--report FILE] [--resume] [--wait]
 *
 * Every command takes --json; exit codes are in cli/signet-cli-errors.h.
 * Before a PIN is asked for, the token's status is read: a locked PIN is
 * reported at once, and at the final try the user confirms first.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libsignet/signet-dbus-generated.h"
#include "common/signet-util.h"
#include "libsignet/signet-client.h"
#include "cli/signet-cli-batch.h"
#include "cli/signet-cli-errors.h"
#include "cli/signet-cli-monitor.h"
#include "cli/signet-cli-output.h"
#include "cli/signet-cli-secret.h"

#define AGENT_BUS_NAME    "io.signet.Agent"
#define AGENT_OBJECT_PATH "/io/signet/Agent"

/* Timeouts (ms). Key generation on a card takes up to ~25 s for RSA and
 * must never be timed out as if it had hung. */
#define TIMEOUT_READ   120000
#define TIMEOUT_WRITE  600000
#define TIMEOUT_KEYGEN G_MAXINT

static const char *const key_types[]
    = { "rsa:2048", "rsa:3072", "rsa:4096", "ec:p256", "ec:p384", NULL };

typedef enum
{
  OPT_PIN = 1 << 0,
  OPT_PUK = 1 << 1,
  OPT_NEW_PIN = 1 << 2,
  OPT_CONFIRM = 1 << 3,
  OPT_TYPE = 1 << 4,
  OPT_LABEL = 1 << 5,
  OPT_SUBJECT = 1 << 6,
  OPT_OUT = 1 << 7,
  OPT_PROFILE = 1 << 8,
  OPT_REFERENCE = 1 << 9,
  OPT_CODE = 1 << 10,
  OPT_CERT = 1 << 11,
  OPT_LIMIT = 1 << 12,
  OPT_ALLOW_EXPIRED = 1 << 13,
  OPT_REPLACE = 1 << 14,
  OPT_EXPORT = 1 << 15, /* --der, --no-chain */
  OPT_ANCHOR = 1 << 16,
  OPT_BATCH = 1 << 17, /* --report, --resume, --wait */
} OptionSet;

/* A --*-fd option not given (any negative number given is refused). */
#define FD_UNSET G_MININT
/* --limit not given: every entry. */
#define LIMIT_UNSET G_MININT

typedef struct
{
  gboolean json;
  int pin_fd;
  int puk_fd;
  int new_pin_fd;
  gboolean confirm_final_try;
  char *type;
  char *label;
  char *subject;
  char *out;
  char *profile;
  char *reference;
  int code_fd;
  char *cert;
  int limit;
  gboolean allow_expired;
  gboolean replace;
  char *anchor; /* import: a file of root certificates the holder trusts */
  char *before; /* history: older than this time */
  GBytes *anchor_data;
  gboolean der;      /* export: DER, the holder certificate only */
  gboolean no_chain; /* export: without the CA chain */
  char *report;      /* batch: the report file */
  gboolean resume;   /* batch: continue from the state file */
  gboolean wait;     /* batch: wait for tokens until every row is settled */
  SignetAgent1 *proxy;
} Cli;

/* What the options and the commands left in @cli: freed on every way out
 * of main. */
static void
cli_clear(Cli *cli)
{
  g_clear_object(&cli->proxy);
  g_free(cli->type);
  g_free(cli->label);
  g_free(cli->subject);
  g_free(cli->out);
  g_free(cli->profile);
  g_free(cli->reference);
  g_free(cli->cert);
  g_free(cli->anchor);
  g_free(cli->before);
  g_free(cli->report);
  g_clear_pointer(&cli->anchor_data, g_bytes_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Cli, cli_clear)

typedef struct
{
  const char *name; /* "list", "pin change" */
  const char *params;
  const char *summary;
  guint n_args;     /* required arguments */
  guint n_optional; /* optional arguments after them */
  OptionSet options;
  gboolean (*run)(Cli *cli, char **args, GError **error);
} Command;

/* ---- helpers ------------------------------------------------------------ */

static gboolean
connect_agent(Cli *cli, GError **error)
{
  cli->proxy = signet_agent1_proxy_new_for_bus_sync(G_BUS_TYPE_SESSION,
                                                    G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES
                                                        | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
                                                    AGENT_BUS_NAME, AGENT_OBJECT_PATH, NULL, error);
  if (cli->proxy == NULL) {
    g_prefix_error(error, "%s", _("Could not connect to the session bus: "));
    return FALSE;
  }
  return TRUE;
}

/* Errors of the bus itself (the agent not running, no reply) get a hint;
 * the agent's own io.signet.Error.* answers speak for themselves. */
static gboolean
agent_failed(GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *message = NULL;

  if (error == NULL || *error == NULL)
    return FALSE;
  name = g_dbus_error_get_remote_error(*error);
  if (name != NULL && !g_str_has_prefix(name, "io.signet.Error.")) {
    g_dbus_error_strip_remote_error(*error);
    message = g_strdup_printf(_("Could not reach the Signet agent (signetd) on the session bus: "
                                "%s"),
                              (*error)->message);
    g_clear_error(error);
    /* Keep the name for the JSON document. */
    *error = g_dbus_error_new_for_dbus_error(name, message);
  }
  return FALSE;
}

/* The token and its unfinished work; @objects: with its certificates and
 * keys (GetTokenStatus), else without them (GetToken: what is asked before
 * a PIN prompt). */
static GVariant *
read_token(Cli *cli, const char *token, gboolean objects, GError **error)
{
  GVariant *status = NULL;
  gboolean ok
      = objects ? signet_agent1_call_get_token_status_sync(
            cli->proxy, token, G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ, &status, NULL, error)
                : signet_agent1_call_get_token_sync(cli->proxy, token, G_DBUS_CALL_FLAGS_NONE,
                                                    TIMEOUT_READ, &status, NULL, error);

  if (!ok) {
    agent_failed(error);
    return NULL;
  }
  return status;
}

static const char *
status_label(GVariant *status, const char *fallback)
{
  const char *label = NULL;

  /* Printed and put in prompts: one line, no terminal escapes. */
  if (g_variant_lookup(status, "label", "&s", &label) && *label != '\0') {
    g_autofree char *safe = signet_escape_control_chars(label, FALSE);
    return g_intern_string(safe);
  }
  return fallback;
}

/* The client rule before a PIN or PUK is asked for: a refusal (locked,
 * unknown unblock method) is an error that also names the command to run
 * next; at the final try, on a terminal the user confirms, from a file
 * descriptor the agent refuses unless --confirm-final-try was given. */
static SignetClientAsk
before_secret(Cli *cli, GVariant *status, SignetClientOp op, const char *token, int fd,
              GError **error)
{
  g_autofree char *question = NULL;
  gboolean puk = signet_client_op_secret(op) == SIGNET_CLIENT_SECRET_PUK;
  const char *label = status_label(status, token);
  SignetClientAsk ask;

  ask = signet_client_before_secret(status, op, label, error);
  if (ask == SIGNET_CLIENT_REFUSE) {
    if (error != NULL && *error != NULL
        && g_error_matches(*error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_PIN_LOCKED)) {
      g_autofree char *quoted = g_shell_quote(token);

      g_free((*error)->message);
      /* TRANSLATORS: a token's label, then the token as the command takes it. */
      (*error)->message = g_strdup_printf(
          _("The PIN of token '%s' is locked. Unblock it with the PUK: signet pin unblock %s"),
          label, quoted);
    }
    return ask;
  }
  if (ask != SIGNET_CLIENT_ASK_FINAL_TRY || cli->confirm_final_try)
    return ask;
  if (fd >= 0) {
    /* From a file descriptor: the PIN's final try is the agent's to refuse
     * (it knows), the PUK's is refused here. */
    if (op != SIGNET_CLIENT_OP_UNBLOCK_PIN)
      return ask;
    g_set_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_FINAL_TRY,
                _("Token '%s' has one PUK try left: a wrong PUK now locks it for good. "
                  "Nothing was sent; pass --confirm-final-try to go on"),
                label);
    return SIGNET_CLIENT_REFUSE;
  }
  /* TRANSLATORS: a token's label, then the word to type (signet_cli_yes_word). */
  question = g_strdup_printf(puk ? _("One try left: a wrong PUK now locks token '%s'. Type '%s' to "
                                     "continue")
                                 : _("One try left: a wrong PIN now locks token '%s'. Type '%s' to "
                                     "continue"),
                             status_label(status, ""), signet_cli_yes_word());
  if (!signet_cli_confirm(question, error)) {
    if (error != NULL && *error == NULL)
      g_set_error_literal(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_FINAL_TRY,
                          puk ? _("Cancelled: no PUK was sent to the token")
                              : _("Cancelled: no PIN was sent to the token"));
    return SIGNET_CLIENT_REFUSE;
  }
  cli->confirm_final_try = TRUE;
  return ask;
}

/* Reads the status, then the PIN the operation needs (unless locked). */
static SignetSecret *
obtain_pin(Cli *cli, const char *token, GVariant *status, GError **error)
{
  g_autofree char *prompt = NULL;
  SignetClientAsk ask
      = before_secret(cli, status, SIGNET_CLIENT_OP_GENERATE_KEY, token, cli->pin_fd, error);

  if (ask == SIGNET_CLIENT_REFUSE)
    return NULL;
  if (ask == SIGNET_CLIENT_ASK_PIN_PAD && cli->pin_fd < 0) {
    g_printerr("%s\n", _("Enter the PIN on the reader's PIN pad."));
    return signet_secret_new("", 0);
  }
  prompt = g_strdup_printf(_("PIN for token '%s': "), status_label(status, token));
  return signet_cli_read_secret(cli->pin_fd, "--pin-fd", prompt, error);
}

static GVariant *
write_options(Cli *cli, gboolean with_label)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  if (with_label && cli->label != NULL)
    g_variant_builder_add(&b, "{sv}", "label", g_variant_new_string(cli->label));
  if (cli->confirm_final_try)
    g_variant_builder_add(&b, "{sv}", "confirm-final-try", g_variant_new_boolean(TRUE));
  /* Only import has --allow-expired and --replace. */
  if (cli->allow_expired)
    g_variant_builder_add(&b, "{sv}", "allow-expired", g_variant_new_boolean(TRUE));
  if (cli->replace)
    g_variant_builder_add(&b, "{sv}", "replace", g_variant_new_boolean(TRUE));
  if (cli->anchor_data != NULL)
    g_variant_builder_add(
        &b, "{sv}", "anchor",
        g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, cli->anchor_data, TRUE));
  return g_variant_builder_end(&b);
}

static gboolean
check_key_type(const char *type, GError **error)
{
  if (type != NULL && g_strv_contains(key_types, type))
    return TRUE;
  g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
              _("Unknown key type '%s'; use rsa:2048, rsa:3072, rsa:4096, ec:p256 or ec:p384"),
              type ? type : "");
  return FALSE;
}

/* The PIN and PUK state after a change, for --json. */
static void
print_secret_states(Cli *cli, const char *token)
{
  g_autoptr(GVariant) status = read_token(cli, token, FALSE, NULL);
  g_autoptr(GVariant) pin = NULL;
  g_autoptr(GVariant) puk = NULL;
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  if (status != NULL) {
    pin = g_variant_lookup_value(status, "pin", G_VARIANT_TYPE_VARDICT);
    puk = g_variant_lookup_value(status, "puk", G_VARIANT_TYPE_VARDICT);
    if (pin != NULL)
      g_variant_builder_add(&b, "{sv}", "pin", pin);
    if (puk != NULL)
      g_variant_builder_add(&b, "{sv}", "puk", puk);
  }
  {
    g_autoptr(GVariant) dict = g_variant_ref_sink(g_variant_builder_end(&b));
    signet_cli_print_variant_json(dict);
  }
}

/* ---- commands ----------------------------------------------------------- */

static gboolean
cmd_list(Cli *cli, char **args, GError **error)
{
  g_autoptr(GVariant) tokens = NULL;
  gsize n;

  if (!signet_agent1_call_list_tokens_sync(cli->proxy, G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ,
                                           &tokens, NULL, error))
    return agent_failed(error);
  if (cli->json) {
    signet_cli_print_variant_json(tokens);
    return TRUE;
  }
  n = g_variant_n_children(tokens);
  if (n == 0)
    g_print("%s\n",
            _("No token found. Plug in a token, or check the PKCS#11 module in signet.conf."));
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) t = g_variant_get_child_value(tokens, i);
    signet_cli_print_token_line(t);
  }
  return TRUE;
}

static gboolean
cmd_status(Cli *cli, char **args, GError **error)
{
  g_autoptr(GVariant) status = read_token(cli, args[0], TRUE, error);

  if (status == NULL)
    return FALSE;
  if (cli->json)
    signet_cli_print_variant_json(status);
  else
    signet_cli_print_status(status, args[0]);
  return TRUE;
}

static gboolean
cmd_keygen(Cli *cli, char **args, GError **error)
{
  const char *token = args[0];
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) key = NULL;
  SignetSecret *pin;

  if (cli->type == NULL) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("Say which key to generate with --type (rsa:2048, rsa:3072, rsa:4096, ec:p256 "
                  "or ec:p384)"));
    return FALSE;
  }
  if (!check_key_type(cli->type, error))
    return FALSE;
  status = read_token(cli, token, FALSE, error);
  if (status == NULL)
    return FALSE;
  pin = obtain_pin(cli, token, status, error);
  if (pin == NULL)
    return FALSE;
  if (!cli->json && isatty(STDERR_FILENO))
    g_printerr(_("Generating a %s key pair on token '%s'; on a card this can take a minute…\n"),
               cli->type, status_label(status, token));
  if (!signet_agent1_call_generate_key_sync(
          cli->proxy, token, cli->type, signet_cli_secret_to_variant(pin), write_options(cli, TRUE),
          G_DBUS_CALL_FLAGS_NONE, TIMEOUT_KEYGEN, &key, NULL, error))
    return agent_failed(error);
  if (cli->json)
    signet_cli_print_variant_json(key);
  else
    signet_cli_print_new_key(key, status_label(status, token));
  return TRUE;
}

static gboolean
cmd_csr(Cli *cli, char **args, GError **error)
{
  const char *token = args[0];
  const char *type = cli->type != NULL ? cli->type : "rsa:2048";
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) key = NULL;
  g_autofree char *pem = NULL;
  g_autoptr(GError) write_error = NULL;
  SignetSecret *pin;

  if (cli->subject == NULL || *cli->subject == '\0') {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("Give the request's subject with --subject, e.g. "
                  "--subject 'CN=Jan Kowalski,O=Example,C=PL'"));
    return FALSE;
  }
  if (!check_key_type(type, error))
    return FALSE;
  status = read_token(cli, token, FALSE, error);
  if (status == NULL)
    return FALSE;
  pin = obtain_pin(cli, token, status, error);
  if (pin == NULL)
    return FALSE;
  if (!cli->json && isatty(STDERR_FILENO))
    g_printerr(_("Generating a %s key pair on token '%s' and the request; on a card this can "
                 "take a minute…\n"),
               type, status_label(status, token));
  if (!signet_agent1_call_create_request_sync(cli->proxy, token, cli->subject, type,
                                              signet_cli_secret_to_variant(pin),
                                              write_options(cli, TRUE), G_DBUS_CALL_FLAGS_NONE,
                                              TIMEOUT_KEYGEN, &pem, &key, NULL, error))
    return agent_failed(error);

  if (cli->out != NULL && !g_file_set_contents(cli->out, pem, -1, &write_error)) {
    /* The key is on the token now: never lose its request. */
    g_print("%s", pem);
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                _("Could not write the request to %s (%s); it is printed on standard output "
                  "instead"),
                cli->out, write_error->message);
    return FALSE;
  }
  if (cli->json) {
    GVariantBuilder b;
    g_autoptr(GVariant) doc = NULL;

    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "request_pem", g_variant_new_string(pem));
    g_variant_builder_add(&b, "{sv}", "key", key);
    doc = g_variant_ref_sink(g_variant_builder_end(&b));
    signet_cli_print_variant_json(doc);
  } else if (cli->out != NULL) {
    signet_cli_print_new_key(key, status_label(status, token));
    g_print(_("Wrote the request to %s.\n"), cli->out);
  } else
    g_print("%s", pem);
  return TRUE;
}

/* A certificate file (@anchor: the --anchor one), bounded
 * (signet_client_read_certfile): BAD_INPUT saying which and why. */
static GBytes *
read_certfile(const char *path, gboolean anchor, GError **error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg(path);
  g_autoptr(GError) read_error = NULL;
  GBytes *bytes = signet_client_read_certfile(file, NULL, &read_error);

  if (bytes != NULL)
    return bytes;
  if (anchor)
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_BAD_INPUT,
                _("Could not read the anchor file: %s"), read_error->message);
  else
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_BAD_INPUT,
                _("Could not read the certificate file: %s"), read_error->message);
  return NULL;
}

static gboolean
cmd_import(Cli *cli, char **args, GError **error)
{
  const char *token = args[0];
  const char *file = args[1];
  g_autoptr(GBytes) contents = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) result = NULL;
  SignetSecret *pin;

  /* Read the files before the PIN: a missing or wrong file costs nothing. */
  contents = read_certfile(file, FALSE, error);
  if (contents == NULL)
    return FALSE;
  if (cli->anchor != NULL) {
    cli->anchor_data = read_certfile(cli->anchor, TRUE, error);
    if (cli->anchor_data == NULL)
      return FALSE;
  }
  status = read_token(cli, token, FALSE, error);
  if (status == NULL)
    return FALSE;
  pin = obtain_pin(cli, token, status, error);
  if (pin == NULL)
    return FALSE;
  if (!signet_agent1_call_import_certificate_sync(
          cli->proxy, token, g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, contents, TRUE),
          signet_cli_secret_to_variant(pin), write_options(cli, TRUE), G_DBUS_CALL_FLAGS_NONE,
          TIMEOUT_WRITE, &result, NULL, error))
    return agent_failed(error);
  if (cli->json)
    signet_cli_print_variant_json(result);
  else
    signet_cli_print_import(result, status_label(status, token));
  {
    gint64 days_left = 0;

    if (g_variant_lookup(result, "days_left", "x", &days_left) && days_left < 0)
      g_printerr(ngettext("Warning: this certificate expired %" PRId64
                          " day ago and can no longer sign: ask your CA for a new one.\n",
                          "Warning: this certificate expired %" PRId64
                          " days ago and can no longer sign: ask your CA for a new one.\n",
                          days_left < -1000000 ? 1000000 : (unsigned long)-days_left),
                 (int64_t)-days_left);
  }
  return TRUE;
}

static gboolean
cmd_pin_change(Cli *cli, char **args, GError **error)
{
  const char *token = args[0];
  g_autoptr(GVariant) status = NULL;
  g_autoptr(SignetSecret) old_pin = NULL;
  g_autoptr(SignetSecret) new_pin = NULL;
  g_autofree char *prompt = NULL;

  status = read_token(cli, token, FALSE, error);
  if (status == NULL)
    return FALSE;
  if (before_secret(cli, status, SIGNET_CLIENT_OP_CHANGE_PIN, token, cli->pin_fd, error)
      == SIGNET_CLIENT_REFUSE)
    return FALSE;
  prompt = g_strdup_printf(_("Current PIN for token '%s': "), status_label(status, token));
  old_pin = signet_cli_read_secret(cli->pin_fd, "--pin-fd", prompt, error);
  if (old_pin == NULL)
    return FALSE;
  new_pin = signet_cli_read_new_pin(cli->new_pin_fd, error);
  if (new_pin == NULL)
    return FALSE;
  if (!signet_agent1_call_change_pin_sync(
          cli->proxy, token, signet_cli_secret_to_variant(g_steal_pointer(&old_pin)),
          signet_cli_secret_to_variant(g_steal_pointer(&new_pin)), write_options(cli, FALSE),
          G_DBUS_CALL_FLAGS_NONE, TIMEOUT_WRITE, NULL, error))
    return agent_failed(error);
  if (cli->json)
    print_secret_states(cli, token);
  else
    g_print(_("Changed the PIN of token '%s'.\n"), status_label(status, token));
  return TRUE;
}

static gboolean
cmd_pin_unblock(Cli *cli, char **args, GError **error)
{
  const char *token = args[0];
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) pin_state = NULL;
  g_autoptr(GVariant) puk_state = NULL;
  g_autoptr(SignetSecret) puk = NULL;
  g_autoptr(SignetSecret) new_pin = NULL;
  g_autofree char *pin_text = NULL;
  g_autofree char *puk_text = NULL;
  g_autofree char *prompt = NULL;
  const char *label;

  status = read_token(cli, token, FALSE, error);
  if (status == NULL)
    return FALSE;
  label = status_label(status, token);
  pin_state = g_variant_lookup_value(status, "pin", G_VARIANT_TYPE_VARDICT);
  puk_state = g_variant_lookup_value(status, "puk", G_VARIANT_TYPE_VARDICT);
  pin_text = signet_client_describe_secret_state(pin_state, FALSE);
  puk_text = signet_client_describe_secret_state(puk_state, TRUE);
  /* TRANSLATORS: a token's label, the PIN's state, the PUK's state. */
  g_printerr(_("Token '%s': PIN %s; PUK %s (as the module reports them).\n"), label, pin_text,
             puk_text);

  if (before_secret(cli, status, SIGNET_CLIENT_OP_UNBLOCK_PIN, token, cli->puk_fd, error)
      == SIGNET_CLIENT_REFUSE)
    return FALSE;
  prompt = g_strdup_printf(_("PUK for token '%s': "), label);
  puk = signet_cli_read_secret(cli->puk_fd, "--puk-fd", prompt, error);
  if (puk == NULL)
    return FALSE;
  new_pin = signet_cli_read_new_pin(cli->new_pin_fd, error);
  if (new_pin == NULL)
    return FALSE;
  if (!signet_agent1_call_unblock_pin_sync(
          cli->proxy, token, signet_cli_secret_to_variant(g_steal_pointer(&puk)),
          signet_cli_secret_to_variant(g_steal_pointer(&new_pin)), write_options(cli, FALSE),
          G_DBUS_CALL_FLAGS_NONE, TIMEOUT_WRITE, NULL, error))
    return agent_failed(error);
  if (cli->json)
    print_secret_states(cli, token);
  else
    g_print(_("Unblocked the PIN of token '%s'; the new PIN is set.\n"), label);
  return TRUE;
}

static gboolean
cmd_monitor(Cli *cli, char **args, GError **error)
{
  return signet_cli_monitor(cli->proxy, cli->json, error);
}

/* ---- CA profiles and activation ----------------------------------------- */

static GVariant *
get_profile(Cli *cli, const char *name, GError **error)
{
  GVariant *profile = NULL;

  if (!signet_agent1_call_get_profile_sync(cli->proxy, name, G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ,
                                           &profile, NULL, error)) {
    agent_failed(error);
    return NULL;
  }
  return profile;
}

static const char *
dict_string(GVariant *dict, const char *key)
{
  const char *value = NULL;

  if (dict == NULL || !g_variant_lookup(dict, key, "&s", &value))
    return "";
  return value;
}

static gboolean
cmd_profile_list(Cli *cli, char **args, GError **error)
{
  g_autoptr(GVariant) profiles = NULL;
  g_autoptr(GVariant) problems = NULL;
  gsize n, n_problems;

  if (!signet_agent1_call_list_profiles_sync(cli->proxy, G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ,
                                             &profiles, &problems, NULL, error))
    return agent_failed(error);
  n = g_variant_n_children(profiles);
  n_problems = g_variant_n_children(problems);
  for (gsize i = 0; i < n_problems; i++) {
    g_autoptr(GVariant) p = g_variant_get_child_value(problems, i);
    guint32 line = 0;

    (void)g_variant_lookup(p, "line", "u", &line);
    /* TRANSLATORS: a problem in a profile file: file, line, what (in English
     * from the agent). */
    if (line > 0)
      g_printerr(_("signet: warning: %s:%u: %s\n"), dict_string(p, "file"), line,
                 dict_string(p, "message"));
    else
      g_printerr(_("signet: warning: %s: %s\n"), dict_string(p, "file"), dict_string(p, "message"));
  }
  if (cli->json) {
    GVariantBuilder b;
    g_autoptr(GVariant) doc = NULL;

    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "profiles", profiles);
    g_variant_builder_add(&b, "{sv}", "problems", problems);
    doc = g_variant_ref_sink(g_variant_builder_end(&b));
    signet_cli_print_variant_json(doc);
    return TRUE;
  }
  if (n == 0) {
    g_print(_("No CA profiles. A CA's profile file goes in %s/signet/profiles.d/ "
              "(or /etc/signet/profiles.d/).\n"),
            g_get_user_config_dir());
    return TRUE;
  }
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) p = g_variant_get_child_value(profiles, i);

    g_print("%-20s %-5s %-8s %s\n", dict_string(p, "name"), dict_string(p, "protocol"),
            dict_string(p, "key_type"), dict_string(p, "display_name"));
  }
  return TRUE;
}

static gboolean
cmd_profile_show(Cli *cli, char **args, GError **error)
{
  g_autoptr(GVariant) p = get_profile(cli, args[0], error);
  gboolean from_ca = FALSE;
  guint32 connect_timeout = 0, timeout = 0;
  /* TRANSLATORS: the lines of signet profile show. */
  const char *labels[] = { _("Profile:"),       _("File:"),     _("Protocol:"),   _("URL:"),
                           _("Trust anchors:"), _("CA roots:"), _("Key type:"),   _("Subject:"),
                           _("Renewal:"),       _("Labels:"),   _("Activation:"), _("Timeouts:") };
  g_autofree char *value = NULL;
  int width;

  if (p == NULL)
    return FALSE;
  if (cli->json) {
    signet_cli_print_variant_json(p);
    return TRUE;
  }
  (void)g_variant_lookup(p, "subject_from_ca", "b", &from_ca);
  (void)g_variant_lookup(p, "connect_timeout", "u", &connect_timeout);
  (void)g_variant_lookup(p, "timeout", "u", &timeout);
  width = signet_cli_label_width(labels, G_N_ELEMENTS(labels), 2);
  value = g_strdup_printf("%s (%s)", dict_string(p, "name"), dict_string(p, "display_name"));
  signet_cli_print_field("", labels[0], width, value);
  g_clear_pointer(&value, g_free);
  signet_cli_print_field("", labels[1], width, dict_string(p, "file"));
  signet_cli_print_field("", labels[2], width, dict_string(p, "protocol"));
  signet_cli_print_field("", labels[3], width, dict_string(p, "url"));
  signet_cli_print_field("", labels[4], width,
                         *dict_string(p, "trust_anchors") != '\0'
                             ? dict_string(p, "trust_anchors")
                             : _("the system's certificate store"));
  /* TRANSLATORS: a profile without ca-roots: the issuing roots are those
   * the CA's EST /cacerts gives, over TLS verified with the trust anchors. */
  signet_cli_print_field("", labels[5], width,
                         *dict_string(p, "ca_roots") != '\0'
                             ? dict_string(p, "ca_roots")
                             : _("the CA's own, from EST /cacerts"));
  signet_cli_print_field("", labels[6], width, dict_string(p, "key_type"));
  signet_cli_print_field("", labels[7], width,
                         from_ca ? _("asked from the CA (EST csrattrs)")
                                 : dict_string(p, "subject"));
  /* TRANSLATORS: a profile's renewal key: "new" or "same", as in the file. */
  value = g_strdup_printf(_("%s key"), dict_string(p, "renewal_key"));
  signet_cli_print_field("", labels[8], width, value);
  g_clear_pointer(&value, g_free);
  /* TRANSLATORS: the labels a profile gives to the objects it writes. */
  value = g_strdup_printf(_("key '%s', certificate '%s', chain '%s'"), dict_string(p, "key_label"),
                          dict_string(p, "certificate_label"), dict_string(p, "chain_label"));
  signet_cli_print_field("", labels[9], width, value);
  g_clear_pointer(&value, g_free);
  /* TRANSLATORS: how the activation logs in to the CA: the reference's name,
   * the user name sent, the activation code's name. */
  value = g_strdup_printf(_("%s as user name '%s'; %s as password"),
                          dict_string(p, "reference_prompt"), dict_string(p, "username"),
                          dict_string(p, "code_prompt"));
  signet_cli_print_field("", labels[10], width, value);
  g_clear_pointer(&value, g_free);
  value = g_strdup_printf(_("connect %u s, whole request %u s"), connect_timeout, timeout);
  signet_cli_print_field("", labels[11], width, value);
  return TRUE;
}

/* The unfinished activation of @profile on the token (a dictionary of the
 * status's "activations"), or NULL. */
static GVariant *
find_activation(GVariant *status, const char *profile)
{
  g_autoptr(GVariant) list
      = g_variant_lookup_value(status, "activations", G_VARIANT_TYPE("aa{sv}"));
  gsize n = list != NULL ? g_variant_n_children(list) : 0;

  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) a = g_variant_get_child_value(list, i);

    if (g_str_equal(dict_string(a, "profile"), profile))
      return g_steal_pointer(&a);
  }
  return NULL;
}

/* A long operation (Activate, Renew): its Progress signals printed as they
 * come, one line per step (--json: one object per line), until the call
 * returns. */
typedef gboolean (*LongOpFinish)(SignetAgent1 *proxy, GVariant **out_result, GAsyncResult *res,
                                 GError **error);

typedef struct
{
  Cli *cli;
  GMainLoop *loop;
  char *request_id;
  LongOpFinish finish;
  GVariant *result;
  GError *error;
  GDBusConnection *connection;
  guint subscription;
} LongOp;

static void
on_progress_cb(GDBusConnection *connection, const char *sender, const char *path, const char *iface,
               const char *signal, GVariant *parameters, gpointer user_data)
{
  LongOp *op = user_data;
  const char *request_id, *operation, *step;
  g_autoptr(GVariant) details = NULL;

  if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sssa{sv})")))
    return;
  g_variant_get(parameters, "(&s&s&s@a{sv})", &request_id, &operation, &step, &details);
  if (!g_str_equal(request_id, op->request_id))
    return;
  if (op->cli->json) {
    GVariantBuilder b;
    g_autoptr(GVariant) doc = NULL;

    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "event", g_variant_new_string("progress"));
    g_variant_builder_add(&b, "{sv}", "step", g_variant_new_string(step));
    g_variant_builder_add(&b, "{sv}", "message",
                          g_variant_new_string(dict_string(details, "message")));
    doc = g_variant_ref_sink(g_variant_builder_end(&b));
    signet_cli_print_variant_json(doc);
  } else
    g_print("- %s\n", dict_string(details, "message"));
  fflush(stdout);
}

static void
on_long_op_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  LongOp *op = user_data;

  if (!op->finish(SIGNET_AGENT1(source), &op->result, result, &op->error))
    agent_failed(&op->error);
  g_main_loop_quit(op->loop);
}

/* Subscribes to Progress before the call is made, so that no step is
 * missed; @op->request_id is the id to pass in the call's options. */
static void
long_op_begin(LongOp *op, Cli *cli, LongOpFinish finish)
{
  op->cli = cli;
  op->finish = finish;
  op->request_id = g_uuid_string_random();
  op->loop = g_main_loop_new(NULL, FALSE);
  op->connection = g_dbus_proxy_get_connection(G_DBUS_PROXY(cli->proxy));
  op->subscription = g_dbus_connection_signal_subscribe(
      op->connection, NULL, "io.signet.Agent1", "Progress", AGENT_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_progress_cb, op, NULL);
}

/* Runs until the call made with on_long_op_done_cb and @op returns; the
 * result (owned by the caller), or NULL with @error. */
static GVariant *
long_op_wait(LongOp *op, GError **error)
{
  g_main_loop_run(op->loop);
  g_dbus_connection_signal_unsubscribe(op->connection, op->subscription);
  g_clear_pointer(&op->loop, g_main_loop_unref);
  g_clear_pointer(&op->request_id, g_free);
  if (op->error != NULL) {
    g_propagate_error(error, g_steal_pointer(&op->error));
    return NULL;
  }
  return g_steal_pointer(&op->result);
}

/* --json: {"event": EVENT, "certificate": RESULT} on one line. */
static void
print_long_op_result(const char *event, GVariant *result)
{
  GVariantBuilder b;
  g_autoptr(GVariant) doc = NULL;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "event", g_variant_new_string(event));
  g_variant_builder_add(&b, "{sv}", "certificate", result);
  doc = g_variant_ref_sink(g_variant_builder_end(&b));
  signet_cli_print_variant_json(doc);
}

static gboolean
cmd_activate(Cli *cli, char **args, GError **error)
{
  const char *token = args[0];
  g_autoptr(GVariant) profile = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autofree char *reference = NULL;
  g_autoptr(SignetSecret) code = NULL;
  g_autoptr(GVariant) unfinished = NULL;
  g_autoptr(GVariant) result = NULL;
  const char *stage;
  SignetSecret *pin;
  LongOp op = { 0 };
  GVariantBuilder options;

  /* Progress events, the result and any error: one JSON object per line. */
  signet_cli_set_json_lines(TRUE);
  if (cli->profile == NULL || *cli->profile == '\0') {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("Name your CA's profile with --profile NAME (signet profile list shows them)"));
    return FALSE;
  }
  profile = get_profile(cli, cli->profile, error);
  if (profile == NULL)
    return FALSE;
  status = read_token(cli, token, FALSE, error);
  if (status == NULL)
    return FALSE;
  unfinished = find_activation(status, cli->profile);
  stage = unfinished != NULL ? dict_string(unfinished, "stage") : "";

  if (g_str_equal(stage, "issued")) {
    if (!cli->json)
      g_print("%s\n", _("The CA issued a certificate for this token earlier that is not on it yet; "
                        "writing it now (no activation code needed)."));
    reference = g_strdup(cli->reference ? cli->reference : "");
    code = signet_secret_new("", 0);
  } else {
    const char *kept = unfinished != NULL ? dict_string(unfinished, "reference") : "";

    if (g_str_equal(stage, "pending") && !cli->json)
      g_print(_("The CA asked to be asked again after %s; sending the same request again.\n"),
              dict_string(unfinished, "retry_at"));
    if (g_str_equal(stage, "sent") && !cli->json)
      /* TRANSLATORS: the agent sends the request the earlier attempt
       * sent, unless the code given now differs from the one in it (a CA
       * may have spent that one): then a new request for the same key. */
      g_print(_("An earlier attempt sent this token's request to the CA on %s and its answer "
                "did not arrive; sending the same request again (or, if the activation code is "
                "a new one, a new request for the same key).\n"),
              dict_string(unfinished, "sent_at"));
    if (cli->reference != NULL)
      reference = g_strdup(cli->reference);
    else if (*kept != '\0') {
      /* The same request goes with the reference it was sent with. */
      reference = g_strdup(kept);
      if (!cli->json)
        /* TRANSLATORS: the profile's name for the reference ("Reference
         * number"), the reference. */
        g_print(_("%s: %s (as sent before; --reference REF gives another)\n"),
                dict_string(profile, "reference_prompt"), reference);
    } else {
      g_autofree char *prompt = g_strdup_printf("%s: ", dict_string(profile, "reference_prompt"));
      g_autoptr(GError) local = NULL;

      reference = signet_cli_ask_line(prompt, 256, &local);
      if (reference == NULL) {
        g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                    _("No terminal to ask for the %s on; give it with --reference REF"),
                    dict_string(profile, "reference_prompt"));
        return FALSE;
      }
    }
    if (*reference == '\0') {
      /* TRANSLATORS: %s is the profile's name for the reference. */
      g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE, _("No %s given"),
                  dict_string(profile, "reference_prompt"));
      return FALSE;
    }
    {
      g_autofree char *prompt = g_strdup_printf("%s: ", dict_string(profile, "code_prompt"));
      code = signet_cli_read_secret(cli->code_fd, "--code-fd", prompt, error);
      if (code == NULL)
        return FALSE;
    }
  }
  pin = obtain_pin(cli, token, status, error);
  if (pin == NULL)
    return FALSE;

  long_op_begin(&op, cli, signet_agent1_call_activate_finish);
  g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&options, "{sv}", "request-id", g_variant_new_string(op.request_id));
  if (cli->label != NULL)
    g_variant_builder_add(&options, "{sv}", "label", g_variant_new_string(cli->label));
  if (cli->confirm_final_try)
    g_variant_builder_add(&options, "{sv}", "confirm-final-try", g_variant_new_boolean(TRUE));
  signet_agent1_call_activate(cli->proxy, token, cli->profile, reference,
                              signet_cli_secret_to_variant(g_steal_pointer(&code)),
                              signet_cli_secret_to_variant(pin), g_variant_builder_end(&options),
                              G_DBUS_CALL_FLAGS_NONE, TIMEOUT_KEYGEN, NULL, on_long_op_done_cb,
                              &op);
  result = long_op_wait(&op, error);
  if (result == NULL)
    return FALSE;
  if (cli->json)
    print_long_op_result("activated", result);
  else
    signet_cli_print_activated(result);
  return TRUE;
}

/* ---- renewal and history ------------------------------------------------ */

/* The certificates Renew can renew: not CA certificates, with their key on
 * the token. */
static GPtrArray *
renewable_certificates(GVariant *status)
{
  g_autoptr(GVariant) certs
      = g_variant_lookup_value(status, "certificates", G_VARIANT_TYPE("aa{sv}"));
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
  gsize n = certs != NULL ? g_variant_n_children(certs) : 0;

  for (gsize i = 0; i < n; i++) {
    GVariant *c = g_variant_get_child_value(certs, i);
    gboolean authority = FALSE, has_key = FALSE;

    (void)g_variant_lookup(c, "authority", "b", &authority);
    (void)g_variant_lookup(c, "has_key", "b", &has_key);
    if (!authority && has_key)
      g_ptr_array_add(out, c);
    else
      g_variant_unref(c);
  }
  return out;
}

/* The agent decides; this only spares the holder a PIN for a renewal that
 * cannot happen: the one certificate it would renew has expired. */
static gboolean
check_not_expired(Cli *cli, GVariant *status, const char *token, GError **error)
{
  g_autoptr(GPtrArray) certs = renewable_certificates(status);
  GVariant *cert = NULL;
  g_autoptr(GVariant) not_after = NULL;
  g_autofree char *when = NULL;
  gboolean expired = FALSE;

  for (guint i = 0; i < certs->len; i++) {
    GVariant *c = certs->pdata[i];

    if (cli->cert == NULL ? certs->len == 1
                          : (g_ascii_strcasecmp(dict_string(c, "id"), cli->cert) == 0
                             || g_ascii_strcasecmp(dict_string(c, "serial"), cli->cert) == 0))
      cert = c;
  }
  if (cert == NULL || !g_variant_lookup(cert, "expired", "b", &expired) || !expired)
    return TRUE;
  not_after = g_variant_lookup_value(cert, "not_after", NULL);
  when = signet_client_format_time(not_after);
  g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_EXPIRED,
              _("The certificate '%s' on token '%s' expired on %s: renewal is no longer "
                "possible; request a new certificate from your CA (then signet activate)"),
              dict_string(cert, "subject"), status_label(status, token), when);
  return FALSE;
}

/* io.signet.Error.CertificateExpired always says what to do next. */
static void
explain_expired(GError *error)
{
  g_autofree char *name = NULL;
  char *message;

  if (error == NULL || error->domain == SIGNET_CLI_ERROR)
    return;
  name = g_dbus_error_get_remote_error(error);
  if (name == NULL || !g_str_equal(name, "io.signet.Error.CertificateExpired")
      || strstr(error->message, "new certificate") != NULL)
    return;
  message = g_strconcat(error->message, ". ",
                        _("Renewal is no longer possible; request a new certificate from your CA"),
                        NULL);
  g_free(error->message);
  error->message = message;
}

static gboolean
cmd_renew(Cli *cli, char **args, GError **error)
{
  const char *token = args[0];
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) result = NULL;
  SignetSecret *pin;
  LongOp op = { 0 };
  GVariantBuilder options;

  /* Progress events, the result and any error: one JSON object per line. */
  signet_cli_set_json_lines(TRUE);
  if (cli->cert != NULL && *cli->cert == '\0') {
    g_set_error(
        error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
        _("An empty --cert was given; signet status shows each certificate's serial and key id"));
    return FALSE;
  }
  if (cli->profile != NULL && *cli->profile == '\0') {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("An empty --profile was given (signet profile list shows them)"));
    return FALSE;
  }
  status = read_token(cli, token, TRUE, error);
  if (status == NULL)
    return FALSE;
  if (!check_not_expired(cli, status, token, error))
    return FALSE;
  pin = obtain_pin(cli, token, status, error);
  if (pin == NULL)
    return FALSE;

  long_op_begin(&op, cli, signet_agent1_call_renew_finish);
  g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&options, "{sv}", "request-id", g_variant_new_string(op.request_id));
  if (cli->cert != NULL)
    g_variant_builder_add(&options, "{sv}", "cert", g_variant_new_string(cli->cert));
  if (cli->profile != NULL)
    g_variant_builder_add(&options, "{sv}", "profile", g_variant_new_string(cli->profile));
  if (cli->confirm_final_try)
    g_variant_builder_add(&options, "{sv}", "confirm-final-try", g_variant_new_boolean(TRUE));
  signet_agent1_call_renew(cli->proxy, token, signet_cli_secret_to_variant(pin),
                           g_variant_builder_end(&options), G_DBUS_CALL_FLAGS_NONE, TIMEOUT_KEYGEN,
                           NULL, on_long_op_done_cb, &op);
  result = long_op_wait(&op, error);
  if (result == NULL) {
    explain_expired(error != NULL ? *error : NULL);
    return FALSE;
  }
  if (cli->json)
    print_long_op_result("renewed", result);
  else
    signet_cli_print_renewed(result);
  return TRUE;
}

/* --before's TIME: a date (its midnight), a date and time (as history
 * prints it, seconds optional), both local unless ISO 8601 with a zone
 * says otherwise; or @SECONDS since the epoch. */
static gboolean
parse_before(const char *text, gint64 *out)
{
  g_autoptr(GTimeZone) local = g_time_zone_new_local();
  g_autoptr(GDateTime) t = NULL;
  g_autofree char *iso = NULL;
  guint64 seconds;

  if (text[0] == '@')
    return g_ascii_string_to_unsigned(text + 1, 10, 1, G_MAXINT64, &seconds, NULL)
           && (*out = (gint64)seconds, TRUE);
  iso = strlen(text) == 10 ? g_strconcat(text, "T00:00:00", NULL) : g_strdup(text);
  if (strlen(iso) > 10 && iso[10] == ' ')
    iso[10] = 'T';
  /* "14:30" as history prints it: GLib wants the seconds. */
  if (strlen(iso) == 16) {
    char *with_seconds = g_strconcat(iso, ":00", NULL);

    g_free(iso);
    iso = with_seconds;
  }
  t = g_date_time_new_from_iso8601(iso, local);
  if (t == NULL)
    return FALSE;
  *out = g_date_time_to_unix(t);
  return TRUE;
}

static gboolean
cmd_history(Cli *cli, char **args, GError **error)
{
  g_autoptr(GVariant) entries = NULL;
  g_autoptr(GVariant) records = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GMappedFile) map = NULL;
  GVariantBuilder options;
  const char *token = args[0] != NULL ? args[0] : "";
  gint64 before = 0;
  guint count = 0;
  int fd;

  if (cli->before != NULL && !parse_before(cli->before, &before)) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("--before takes a time such as 2026-12-01 or 2026-12-01 14:30:05, not '%s'"),
                cli->before);
    return FALSE;
  }
  g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
  /* One more than shown: whether there is an older page. */
  if (cli->limit != LIMIT_UNSET)
    g_variant_builder_add(&options, "{sv}", "limit",
                          g_variant_new_uint32((guint32)cli->limit + (cli->json ? 0 : 1)));
  if (before != 0)
    g_variant_builder_add(&options, "{sv}", "before", g_variant_new_int64(before));
  if (cli->json) {
    if (!signet_agent1_call_get_history_sync(cli->proxy, token, g_variant_builder_end(&options),
                                             G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ, &entries, NULL,
                                             error))
      return agent_failed(error);
    signet_cli_print_variant_json(entries);
    return TRUE;
  }
  /* The table: the entries through a descriptor (GetHistoryFd), not
   * thousands of dictionaries in a message. */
  if (!signet_agent1_call_get_history_fd_sync(cli->proxy, token, g_variant_builder_end(&options),
                                              G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ, NULL, &records,
                                              &count, &fds, NULL, error))
    return agent_failed(error);
  fd = g_unix_fd_list_get(fds, g_variant_get_handle(records), error);
  if (fd < 0)
    return FALSE;
  map = g_mapped_file_new_from_fd(fd, FALSE, error);
  close(fd);
  if (map == NULL)
    return FALSE;
  return signet_cli_print_history(g_mapped_file_get_contents(map), g_mapped_file_get_length(map),
                                  count, token,
                                  cli->limit != LIMIT_UNSET ? (gsize)cli->limit : G_MAXSIZE, error);
}

/* signet export TOKEN [--cert C] [--no-chain] [--der] [-o FILE]: the
 * holder certificate and its CA chain as the token holds them. */
static gboolean
cmd_export(Cli *cli, char **args, GError **error)
{
  g_autoptr(GVariant) certs = NULL;
  g_autoptr(GError) write_error = NULL;
  g_autofree char *pem = NULL;
  g_autoptr(GVariant) first = NULL;
  GVariantBuilder options;
  const guint8 *data;
  gsize len = 0;

  if (cli->der && cli->out == NULL && isatty(STDOUT_FILENO)) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("DER is binary: give a file with -o FILE, or redirect standard output"));
    return FALSE;
  }
  g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
  if (cli->no_chain || cli->der)
    g_variant_builder_add(&options, "{sv}", "chain", g_variant_new_boolean(FALSE));
  if (!signet_agent1_call_export_certificate_sync(
          cli->proxy, args[0], cli->cert != NULL ? cli->cert : "", g_variant_builder_end(&options),
          G_DBUS_CALL_FLAGS_NONE, TIMEOUT_READ, &certs, NULL, error))
    return agent_failed(error);
  if (g_variant_n_children(certs) == 0) {
    g_set_error_literal(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                        _("The agent sent no certificate"));
    return FALSE;
  }
  if (cli->json) {
    GVariantBuilder b;
    g_autoptr(GVariant) doc = NULL;

    pem = signet_client_certificates_to_pem(certs);
    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "pem", g_variant_new_string(pem != NULL ? pem : ""));
    g_variant_builder_add(&b, "{sv}", "count",
                          g_variant_new_uint32((guint32)g_variant_n_children(certs)));
    doc = g_variant_ref_sink(g_variant_builder_end(&b));
    signet_cli_print_variant_json(doc);
    return TRUE;
  }
  first = g_variant_get_child_value(certs, 0);
  data = g_variant_get_fixed_array(first, &len, sizeof(guint8));
  if (!cli->der) {
    pem = signet_client_certificates_to_pem(certs);
    if (pem == NULL) {
      g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                  _("The agent sent an empty certificate"));
      return FALSE;
    }
    data = (const guint8 *)pem;
    len = strlen(pem);
  }
  if (cli->out == NULL) {
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
      g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                  _("Could not write to standard output"));
      return FALSE;
    }
    return TRUE;
  }
  if (!g_file_set_contents(cli->out, (const char *)data, (gssize)len, &write_error)) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED, _("Could not write %s: %s"),
                cli->out, write_error->message);
    return FALSE;
  }
  if (cli->der)
    g_print(_("Wrote the certificate (DER) to %s.\n"), cli->out);
  else if (g_variant_n_children(certs) == 1)
    g_print(_("Wrote the certificate (PEM) to %s.\n"), cli->out);
  else
    g_print(_("Wrote the certificate and its CA chain (PEM) to %s.\n"), cli->out);
  return TRUE;
}

static gboolean
cmd_batch_activate(Cli *cli, char **args, GError **error)
{
  SignetCliBatchOptions options = { .csv_path = args[0],
                                    .profile = cli->profile,
                                    .report = cli->report,
                                    .pin_fd = cli->pin_fd,
                                    .json = cli->json,
                                    .resume = cli->resume,
                                    .wait = cli->wait };

  if (cli->profile == NULL || *cli->profile == '\0') {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("Name your CA's profile with --profile NAME (signet profile list shows them)"));
    return FALSE;
  }
  if (!signet_cli_batch_activate(cli->proxy, &options, error))
    return agent_failed(error);
  return TRUE;
}

static const Command commands[] = {
  { "list", "", N_("List the tokens present."), 0, 0, 0, cmd_list },
  { "status", "TOKEN",
    N_("Show a token's PIN state, certificates (days left, reminders) and keys, and unfinished "
       "operations."),
    1, 0, 0, cmd_status },
  { "keygen", "TOKEN", N_("Generate a key pair on the token."), 1, 0,
    OPT_PIN | OPT_CONFIRM | OPT_TYPE | OPT_LABEL, cmd_keygen },
  { "csr", "TOKEN",
    N_("Generate a fresh key pair on the token and write a certificate request (PEM) for it."), 1,
    0, OPT_PIN | OPT_CONFIRM | OPT_TYPE | OPT_LABEL | OPT_SUBJECT | OPT_OUT, cmd_csr },
  { "import", "TOKEN FILE",
    N_("Store the certificate issued for a key on the token, and its CA chain (PEM, DER, "
       ".cer/.crt, PKCS#7 .p7b/.p7c, PEM bundle)."),
    2, 0, OPT_PIN | OPT_CONFIRM | OPT_LABEL | OPT_ALLOW_EXPIRED | OPT_REPLACE | OPT_ANCHOR,
    cmd_import },
  { "pin change", "TOKEN", N_("Change the PIN."), 1, 0, OPT_PIN | OPT_NEW_PIN | OPT_CONFIRM,
    cmd_pin_change },
  { "pin unblock", "TOKEN", N_("Unblock the PIN with the PUK and set a new PIN."), 1, 0,
    OPT_PUK | OPT_NEW_PIN | OPT_CONFIRM, cmd_pin_unblock },
  { "monitor", "", N_("Print reader and token events as they happen, until interrupted."), 0, 0, 0,
    cmd_monitor },
  { "activate", "TOKEN",
    N_("Activate the token through a CA: key generated on the token, certificate and chain "
       "written to it."),
    1, 0, OPT_PROFILE | OPT_REFERENCE | OPT_CODE | OPT_PIN | OPT_CONFIRM | OPT_LABEL,
    cmd_activate },
  { "renew", "TOKEN",
    N_("Renew a certificate on the token in place before it expires: new key and certificate "
       "from the CA, the old ones removed once the new ones work."),
    1, 0, OPT_CERT | OPT_PROFILE | OPT_PIN | OPT_CONFIRM, cmd_renew },
  { "history", "[TOKEN]", N_("Show the operations done on tokens and their outcome, newest first."),
    0, 1, OPT_LIMIT, cmd_history },
  { "export", "TOKEN",
    N_("Write a certificate on the token and its CA chain (PEM; --der: the certificate only), "
       "for a portal that asks for them."),
    1, 0, OPT_CERT | OPT_OUT | OPT_EXPORT, cmd_export },
  { "profile list", "", N_("List the CA profiles installed."), 0, 0, 0, cmd_profile_list },
  { "profile show", "NAME", N_("Show a CA profile's settings."), 1, 0, 0, cmd_profile_show },
  { "batch activate", "FILE",
    N_("Activate many tokens from a CSV of holders (reference, code, name, email, serial), "
       "several at once, as they are inserted; resumable."),
    1, 0, OPT_PROFILE | OPT_PIN | OPT_BATCH, cmd_batch_activate },
};

/* ---- main --------------------------------------------------------------- */

static void
print_main_help(FILE *out)
{
  /* COMMAND, OPTION and TOKEN are the words of the syntax: not translated. */
  fprintf(out, "%s\n  signet COMMAND [OPTION…]\n\n%s\n\n%s\n", _("Usage:"),
          _("Signet: e-signature tokens and smart cards, through the Signet agent."),
          _("Commands:"));
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
    g_autofree char *usage = g_strdup_printf("%s %s", commands[i].name, commands[i].params);
    fprintf(out, "  %-22s %s\n", usage, _(commands[i].summary));
  }
  fprintf(out, "\n%s\n%s\n%s\n", _("TOKEN is a PKCS#11 URI, a serial number or a label."),
          _("Every command takes --json; see signet COMMAND --help."),
          /* TRANSLATORS: keep the line breaks where they fit. */
          _("Exit codes: 0 success, 1 failure, 2 usage, 3 wrong PIN or PUK, 4 PIN or PUK locked,\n"
            "5 no such token or token removed, 6 token busy, 7 the CA issues later (run again),\n"
            "8 the CA cannot be reached or is unavailable (try later),\n"
            "9 the certificate has expired (request a new one from your CA),\n"
            "10 the agent refused the caller (run signet outside any sandbox)."));
}

static const Command *
find_command(int argc, char **argv, int *out_consumed)
{
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
    g_auto(GStrv) words = g_strsplit(commands[i].name, " ", -1);
    guint n = g_strv_length(words);
    gboolean match = (guint)argc > n;

    for (guint w = 0; match && w < n; w++)
      match = g_str_equal(argv[1 + w], words[w]);
    if (match) {
      *out_consumed = (int)n;
      return &commands[i];
    }
  }
  return NULL;
}

static GOptionEntry *
command_entries(const Command *command, Cli *cli)
{
  GArray *a = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
  const GOptionEntry all[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &cli->json, N_("Print one JSON document"), NULL },
    { "type", 0, 0, G_OPTION_ARG_STRING, &cli->type,
      N_("Key type: rsa:2048, rsa:3072, rsa:4096, ec:p256 or ec:p384"), "TYPE" },
    { "label", 0, 0, G_OPTION_ARG_STRING, &cli->label, N_("Label of the new objects"), "LABEL" },
    { "subject", 0, 0, G_OPTION_ARG_STRING, &cli->subject,
      N_("Subject, e.g. 'CN=Jan Kowalski,O=Example,C=PL'"), "SUBJECT" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &cli->out,
      N_("Write the request (csr) or the certificates (export) to FILE"), "FILE" },
    { "pin-fd", 0, 0, G_OPTION_ARG_INT, &cli->pin_fd,
      N_("Read the (current) PIN from file descriptor N"), "N" },
    { "puk-fd", 0, 0, G_OPTION_ARG_INT, &cli->puk_fd, N_("Read the PUK from file descriptor N"),
      "N" },
    { "new-pin-fd", 0, 0, G_OPTION_ARG_INT, &cli->new_pin_fd,
      N_("Read the new PIN from file descriptor N"), "N" },
    { "confirm-final-try", 0, 0, G_OPTION_ARG_NONE, &cli->confirm_final_try,
      N_("Send the secret even if the token has one try left"), NULL },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &cli->profile, N_("The CA profile to use"), "NAME" },
    { "reference", 0, 0, G_OPTION_ARG_STRING, &cli->reference,
      N_("The reference number the CA sent (asked if absent)"), "REF" },
    { "code-fd", 0, 0, G_OPTION_ARG_INT, &cli->code_fd,
      N_("Read the activation code from file descriptor N"), "N" },
    { "cert", 0, 0, G_OPTION_ARG_STRING, &cli->cert,
      N_("The certificate to renew or export: its serial, SHA-256 fingerprint or key id (signet "
         "status shows them); needed when the token has several"),
      "SERIAL" },
    { "limit", 0, 0, G_OPTION_ARG_INT, &cli->limit, N_("Show at most N entries, the newest"), "N" },
    { "before", 0, 0, G_OPTION_ARG_STRING, &cli->before,
      N_("Show only entries older than TIME (2026-12-01, 2026-12-01 14:30:05, or ISO 8601)"),
      "TIME" },
    { "allow-expired", 0, 0, G_OPTION_ARG_NONE, &cli->allow_expired,
      N_("Store the certificate even if it has expired or is not valid yet"), NULL },
    { "replace", 0, 0, G_OPTION_ARG_NONE, &cli->replace,
      N_("Remove the key's other certificates once this one is stored"), NULL },
    { "der", 0, 0, G_OPTION_ARG_NONE, &cli->der,
      N_("Write the certificate alone, DER-encoded (.cer, .der)"), NULL },
    { "no-chain", 0, 0, G_OPTION_ARG_NONE, &cli->no_chain,
      N_("Write the certificate without its CA chain"), NULL },
    { "anchor", 0, 0, G_OPTION_ARG_FILENAME, &cli->anchor,
      N_("Also trust the root certificate(s) in FILE when checking the chain"), "FILE" },
    { "report", 0, 0, G_OPTION_ARG_FILENAME, &cli->report,
      N_("Write the batch's report to FILE (CSV; JSON when FILE ends in .json)"), "FILE" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &cli->resume,
      N_("Continue the batch of this CSV where it stopped"), NULL },
    { "wait", 0, 0, G_OPTION_ARG_NONE, &cli->wait,
      N_("Wait for more tokens until every row is done (Ctrl-C stops)"), NULL },
  };
  const OptionSet need[]
      = { 0,          OPT_TYPE,    OPT_LABEL,   OPT_SUBJECT,       OPT_OUT,       OPT_PIN,
          OPT_PUK,    OPT_NEW_PIN, OPT_CONFIRM, OPT_PROFILE,       OPT_REFERENCE, OPT_CODE,
          OPT_CERT,   OPT_LIMIT,   OPT_LIMIT,   OPT_ALLOW_EXPIRED, OPT_REPLACE,   OPT_EXPORT,
          OPT_EXPORT, OPT_ANCHOR,  OPT_BATCH,   OPT_BATCH,         OPT_BATCH };

  for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
    if (need[i] == 0 || (command->options & need[i]) != 0)
      g_array_append_val(a, all[i]);
  return (GOptionEntry *)g_array_free(a, FALSE);
}

static gboolean
wants_json(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    if (g_str_equal(argv[i], "--"))
      break;
    if (g_str_equal(argv[i], "--json"))
      return TRUE;
  }
  return FALSE;
}

static int usage_error(gboolean json, const char *format, ...) G_GNUC_PRINTF(2, 3);

static int
usage_error(gboolean json, const char *format, ...)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  va_list args;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  error = g_error_new_literal(SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE, message);
  return signet_cli_report_error(error, json);
}

/* A --*-fd option names an open file descriptor, or was not given (then
 * -1: ask on the terminal). Checked before the agent is asked anything. */
static gboolean
check_fd_option(const char *option, int *fd, GError **error)
{
  if (*fd == FD_UNSET) {
    *fd = -1;
    return TRUE;
  }
  if (*fd < 0 || fcntl(*fd, F_GETFD) == -1) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                /* TRANSLATORS: the option, the number given, the option again. */
                _("%s %d: no such open file descriptor; open it for signet, e.g. %s 3 3<FILE"),
                option, *fd, option);
    return FALSE;
  }
  return TRUE;
}

static void
write_escaped(FILE *out, const char *text)
{
  g_autofree char *safe = signet_escape_control_chars(text, TRUE);

  fputs(safe, out);
  fflush(out);
}

static void
print_escaped(const char *text)
{
  write_escaped(stdout, text);
}

static void
printerr_escaped(const char *text)
{
  write_escaped(stderr, text);
}

/* Messages in the user's language (docs/internals/i18n.md): the catalogs of
 * the installed locale directory, or of SIGNET_LOCALEDIR (the build tree's
 * po/locale, for the tests). Every message is written as UTF-8. */
static void
setup_translations(void)
{
  const char *dir = g_getenv("SIGNET_LOCALEDIR");

  bindtextdomain(GETTEXT_PACKAGE, dir != NULL && *dir != '\0' ? dir : SIGNET_LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);
}

int
main(int argc, char **argv)
{
  g_auto(Cli) cli = { .pin_fd = FD_UNSET,
                      .puk_fd = FD_UNSET,
                      .new_pin_fd = FD_UNSET,
                      .code_fd = FD_UNSET,
                      .limit = LIMIT_UNSET };
  const Command *command;
  int consumed = 0;
  g_autoptr(GOptionContext) context = NULL;
  g_autofree GOptionEntry *entries = NULL;
  g_autofree char *params = NULL;
  g_autofree char *prgname = NULL;
  g_auto(GStrv) args = NULL;
  g_autoptr(GError) error = NULL;
  gboolean json = wants_json(argc, argv);
  int status;

  setlocale(LC_ALL, "");
  setup_translations();
  /* What a token, a certificate or a CA says is printed as text: no control
   * character of theirs reaches the terminal (JSON escapes them itself). */
  g_set_print_handler(print_escaped);
  g_set_printerr_handler(printerr_escaped);
  /* PINs pass through this process: no core dump, no ptrace by others. */
  if (!signet_secret_protect_process(&error)) {
    g_printerr("signet: %s\n", error->message);
    return SIGNET_EXIT_FAILURE;
  }
  if (argc < 2) {
    print_main_help(stderr);
    return SIGNET_EXIT_USAGE;
  }
  if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h")
      || g_str_equal(argv[1], "help")) {
    print_main_help(stdout);
    return SIGNET_EXIT_OK;
  }
  if (g_str_equal(argv[1], "--version")) {
    g_print("signet %s\n", PACKAGE_VERSION);
    return SIGNET_EXIT_OK;
  }
  command = find_command(argc, argv, &consumed);
  if (command == NULL) {
    if (g_str_equal(argv[1], "pin"))
      return usage_error(json, "%s",
                         _("Say 'signet pin change TOKEN' or 'signet pin unblock TOKEN'"));
    if (g_str_equal(argv[1], "profile"))
      return usage_error(json, "%s", _("Say 'signet profile list' or 'signet profile show NAME'"));
    if (g_str_equal(argv[1], "batch"))
      return usage_error(json, "%s", _("Say 'signet batch activate FILE.csv --profile NAME'"));
    return usage_error(json, _("Unknown command '%s' (see signet --help)"), argv[1]);
  }

  /* Parse "signet CMD [args…]" as its own program. */
  prgname = g_strdup_printf("signet %s", command->name);
  g_set_prgname(prgname);
  args = g_new0(char *, argc - consumed + 1);
  args[0] = g_strdup(prgname);
  for (int i = 1 + consumed; i < argc; i++)
    args[i - consumed] = g_strdup(argv[i]);

  entries = command_entries(command, &cli);
  context = g_option_context_new(command->params);
  g_option_context_set_summary(context, command->summary);
  /* The summary, the description and the options' descriptions are
   * translated by the context, in Signet's domain. */
  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  g_option_context_set_description(context, N_("TOKEN is a PKCS#11 URI, a serial number or a "
                                               "label. Secrets come from the terminal or the "
                                               "--*-fd options, never from the command line."));
  g_option_context_add_main_entries(context, entries, NULL);
  if (!g_option_context_parse_strv(context, &args, &error))
    /* TRANSLATORS: GLib's message about the options, then "signet COMMAND". */
    return usage_error(json, _("%s (see %s --help)"), error->message, prgname);
  if (g_strv_length(args) - 1 < command->n_args
      || g_strv_length(args) - 1 > command->n_args + command->n_optional)
    return *command->params != '\0'
               /* TRANSLATORS: "signet status takes TOKEN (see signet status --help)". */
               ? usage_error(json, _("%s takes %s (see %s --help)"), prgname, command->params,
                             prgname)
               : usage_error(json, _("%s takes no argument (see %s --help)"), prgname, prgname);
  if (!check_fd_option("--pin-fd", &cli.pin_fd, &error)
      || !check_fd_option("--puk-fd", &cli.puk_fd, &error)
      || !check_fd_option("--new-pin-fd", &cli.new_pin_fd, &error)
      || !check_fd_option("--code-fd", &cli.code_fd, &error))
    return signet_cli_report_error(error, json);
  if (cli.limit != LIMIT_UNSET && cli.limit <= 0)
    return usage_error(json, _("--limit takes a positive number of entries, not %d"), cli.limit);
  for (guint i = 1; args[i] != NULL; i++)
    if (*args[i] == '\0') {
      g_autofree char *bare = g_strdup(command->params);
      g_auto(GStrv) names = NULL;

      /* "[TOKEN]" names an optional TOKEN. */
      g_strdelimit(bare, "[]", ' ');
      names = g_strsplit(g_strstrip(bare), " ", -1);
      if (i > g_strv_length(names))
        return usage_error(json, "%s", _("An empty argument was given"));
      /* TRANSLATORS: %s is TOKEN, FILE or NAME (not translated). */
      return usage_error(json, _("An empty %s was given"), names[i - 1]);
    }

  if (!connect_agent(&cli, &error) || !command->run(&cli, args + 1, &error))
    status = signet_cli_report_error(error, cli.json || json);
  else
    status = SIGNET_EXIT_OK;
  return status;
}
