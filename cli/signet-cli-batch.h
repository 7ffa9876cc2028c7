/* signet-cli-batch.h: signet batch activate, a group activation from a CSV
 * of holders (issue 15).
 *
 * Owns: pairing tokens with the CSV's rows (the serial column, else the
 * next free row in file order), one Activate per token in flight at once,
 * the live progress lines, the batch's state file and the report.
 * May call: libsignet/ (the proxy, the CSV reader, the client rules),
 * common/ (secrets), cli/ helpers, GLib/GIO, json-glib.
 *
 * The transport PIN is read once (terminal without echo, or --pin-fd),
 * held in a SignetSecret for the batch and wiped at its end. It never goes
 * to the state file, the report or any output; a fresh copy travels with
 * each Activate call. Until one activation has passed its login, a single
 * token is tried at a time: a wrong transport PIN costs one try on one
 * token, and then the batch stops.
 *
 * State file: $XDG_STATE_HOME/signet/batch-HASH.state (HASH: the first 16
 * hex digits of the CSV's SHA-256), a key file written atomically (0600)
 * before each Activate (row → token) and after it (the outcome). No PIN,
 * no code (they are in the CSV). With it present the batch runs only with
 * --resume, which binds every row it names to the same token again and
 * reads the outcome from the token, never from the file.
 */
#pragma once

#include <gio/gio.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

typedef struct
{
  const char *csv_path;
  const char *profile;
  const char *report; /* NULL: none; *.json: JSON, else CSV */
  int pin_fd;         /* -1: the terminal */
  gboolean json;
  gboolean resume;
  gboolean wait; /* keep waiting for tokens until every row is settled */
} SignetCliBatchOptions;

/* Runs the batch. TRUE when every row ended activated or skipped; FALSE
 * with @error when it could not start (bad CSV, state file, PIN) or when
 * rows failed or still wait for a token (the summary says which). */
gboolean signet_cli_batch_activate(SignetAgent1 *proxy, const SignetCliBatchOptions *options,
                                   GError **error);

G_END_DECLS
