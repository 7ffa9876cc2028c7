/* signet-clock.h: what "now" is for the agent.
 *
 * Owns: the time the agent judges by (certificate validity, days left,
 * reminders, retry times, the journal's and history's times). In a build
 * configured with --enable-fault-injection (the test builds; never a build
 * for users) SIGNET_FAKE_NOW names a file holding the time (Unix seconds, or
 * ISO 8601), re-read at every call, so that a test can move the clock of a
 * running agent; without the flag, or without the file, the real clock.
 * May call: GLib.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Unix seconds now (or the fake time). */
gint64 signet_clock_now(void);
/* The same, as a UTC GDateTime. */
GDateTime *signet_clock_now_utc(void);

G_END_DECLS
