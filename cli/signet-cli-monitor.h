/* signet-cli-monitor.h: `signet monitor [--json]`: one line per reader or
 * token event from the agent (ReaderAdded, ReaderRemoved, TokenAdded,
 * TokenRemoved, TokenChanged) until interrupted.
 *
 * Owns: subscribing to the agent's hotplug signals and printing them.
 * May call: the generated D-Bus proxy, GLib/GIO, json-glib.
 */
#pragma once

#include <gio/gio.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

/* Runs until SIGINT or SIGTERM (then returns TRUE), or until the agent's
 * connection is lost (FALSE with @error). Text: "TIME EVENT READER [LABEL
 * (SERIAL)]" per line; @json: one JSON object per line. */
gboolean signet_cli_monitor(SignetAgent1 *proxy, gboolean json, GError **error);

G_END_DECLS
