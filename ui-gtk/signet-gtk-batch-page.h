/* signet-gtk-batch-page.h: group activation, a whole organisation's tokens
 * from a CSV file (signet batch activate, signet(1)).
 *
 * Owns: the form (the certificate authority, the holders' file, the tokens'
 * transport PIN, a report file, resuming an interrupted batch), then one
 * line per row of the file and per token as they go, and the summary. The
 * batch itself is the CLI's (cli/signet-cli-batch.c: pairing tokens with
 * rows, the state file, --resume, the report): this page runs
 * `signet batch activate FILE --profile NAME --json --wait --pin-fd 3`
 * and shows the events it prints, so that the window and the command line
 * do one thing one way. The PIN goes to it through a pipe on fd 3, never
 * its command line or environment; Stop sends it SIGINT, which ends the
 * batch as Ctrl-C does (the rows under way finish, the state is kept for
 * Resume). The program is $SIGNET_CLI when set (the tests' build tree),
 * else signet in the directory signet-gtk was installed to.
 * May call: libsignet/, common/, GTK, libadwaita, json-glib.
 */
#pragma once

#include <adwaita.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

#define SIGNET_GTK_TYPE_BATCH_PAGE (signet_gtk_batch_page_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkBatchPage, signet_gtk_batch_page, SIGNET_GTK, BATCH_PAGE, GtkBox)

/* Shows the form (unless a batch runs), the certificate authorities read
 * from the agent through @proxy. */
void signet_gtk_batch_page_open(SignetGtkBatchPage *self, SignetAgent1 *proxy);

/* Handles one line the batch printed (a JSON object, signet(1)); FALSE when
 * it is not one. For the tests. */
gboolean signet_gtk_batch_page_take_line(SignetGtkBatchPage *self, const char *line);

G_END_DECLS
