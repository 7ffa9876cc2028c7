/* signet-cli-secret.h: getting PINs and PUKs from the user, and asking for
 * confirmation at the final try.
 *
 * Owns: the choice between a file descriptor (--pin-fd N …) and the
 * terminal, and turning a secret into the "ay" the agent takes.
 * May call: common/ (secret buffers), GLib.
 * Secrets never come from argv or the environment.
 */
#pragma once

#include <glib.h>

#include "common/signet-secret.h"

G_BEGIN_DECLS

/* Reads one secret from @fd (>= 0), else asks on the terminal with @prompt.
 * With neither, a usage error that names @fd_option ("--pin-fd"). */
SignetSecret *signet_cli_read_secret(int fd, const char *fd_option, const char *prompt,
                                     GError **error);

/* A new PIN: one line from @fd (>= 0), else asked twice on the terminal;
 * two different answers are an error (and nothing is sent). */
SignetSecret *signet_cli_read_new_pin(int fd, GError **error);

/* The word that confirms, in the user's language ("yes" in English). */
const char *signet_cli_yes_word(void);

/* Asks @question on the terminal; TRUE only if the answer is "yes" or
 * signet_cli_yes_word(). Fails (usage error) when there is no terminal. */
gboolean signet_cli_confirm(const char *question, GError **error);

/* Asks @prompt on the terminal (with echo: not for secrets) and returns the
 * answer without surrounding blanks, at most @max bytes kept. G_IO_ERROR_NOT_FOUND
 * when there is no terminal. */
char *signet_cli_ask_line(const char *prompt, gsize max, GError **error);

/* Is there a terminal to ask on? */
gboolean signet_cli_have_terminal(void);

/* The "ay" for @secret (taken): the GVariant points at the secret's buffer
 * and wipes and frees it when the value is dropped. */
GVariant *signet_cli_secret_to_variant(SignetSecret *secret);

G_END_DECLS
