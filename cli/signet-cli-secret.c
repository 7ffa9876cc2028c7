/* signet-cli-secret.c: see signet-cli-secret.h. */
#include "config.h"

#include "cli/signet-cli-secret.h"

#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <string.h>
#include <unistd.h>

#include "cli/signet-cli-errors.h"

gboolean
signet_cli_have_terminal(void)
{
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    return FALSE;
  close(fd);
  return TRUE;
}

SignetSecret *
signet_cli_read_secret(int fd, const char *fd_option, const char *prompt, GError **error)
{
  g_autoptr(GError) local = NULL;
  SignetSecret *secret;

  if (fd >= 0) {
    secret = signet_secret_read_fd(fd, &local);
    if (secret == NULL)
      g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE, "%s", local->message);
    return secret;
  }
  secret = signet_secret_read_tty(prompt, &local);
  if (secret == NULL) {
    if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
      g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                  _("No terminal to ask on; pass it on a file descriptor with %s N"), fd_option);
    else
      g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED, "%s", local->message);
  }
  return secret;
}

SignetSecret *
signet_cli_read_new_pin(int fd, GError **error)
{
  g_autoptr(SignetSecret) first = NULL;
  g_autoptr(SignetSecret) second = NULL;

  if (fd >= 0)
    return signet_cli_read_secret(fd, "--new-pin-fd", NULL, error);
  first = signet_cli_read_secret(-1, "--new-pin-fd", _("New PIN: "), error);
  if (first == NULL)
    return NULL;
  second = signet_cli_read_secret(-1, "--new-pin-fd", _("New PIN again: "), error);
  if (second == NULL)
    return NULL;
  if (!signet_secret_equal(first, second)) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                _("The two new PINs differ; nothing was sent to the token. Try again"));
    return NULL;
  }
  return g_steal_pointer(&first);
}

char *
signet_cli_ask_line(const char *prompt, gsize max, GError **error)
{
  g_autoptr(GString) answer = g_string_new(NULL);
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

  if (fd < 0) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("No terminal to ask on"));
    return NULL;
  }
  if (write(fd, prompt, strlen(prompt)) < 0) {
    /* Asking is a courtesy; the answer still decides. */
  }
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);

    if (n <= 0 || c == '\n')
      break;
    if (answer->len < max)
      g_string_append_c(answer, c);
  }
  close(fd);
  g_strstrip(answer->str);
  return g_strdup(answer->str);
}

const char *
signet_cli_yes_word(void)
{
  /* TRANSLATORS: the word the user types to confirm a final PIN or PUK try
   * ("Type 'yes' to continue"); "yes" in English is always taken too. */
  return C_("confirm", "yes");
}

gboolean
signet_cli_confirm(const char *question, GError **error)
{
  g_autofree char *prompt = g_strconcat(question, ": ", NULL);
  g_autofree char *answer = signet_cli_ask_line(prompt, 64, NULL);
  g_autofree char *folded = NULL;
  g_autofree char *yes = NULL;

  if (answer == NULL) {
    g_set_error(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_USAGE,
                _("No terminal to ask for confirmation on; pass --confirm-final-try"));
    return FALSE;
  }
  /* "yes" always does, and the word the question asks for in the user's
   * language (signet_cli_yes_word()). */
  if (g_ascii_strcasecmp(answer, "yes") == 0)
    return TRUE;
  if (!g_utf8_validate(answer, -1, NULL))
    return FALSE;
  folded = g_utf8_casefold(answer, -1);
  yes = g_utf8_casefold(signet_cli_yes_word(), -1);
  return g_str_equal(folded, yes);
}

GVariant *
signet_cli_secret_to_variant(SignetSecret *secret)
{
  g_return_val_if_fail(secret != NULL, NULL);
  return g_variant_new_from_data(G_VARIANT_TYPE_BYTESTRING, signet_secret_get_data(secret),
                                 signet_secret_get_len(secret), TRUE,
                                 (GDestroyNotify)signet_secret_free, secret);
}
