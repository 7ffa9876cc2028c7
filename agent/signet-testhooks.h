/* signet-testhooks.h: the agent's clock, and the test-only fault points.
 *
 * Owns: what "now" is for the agent (certificate validity, days left,
 * reminders, retry times), and the places where a test may stop an
 * operation. In a build configured with --enable-fault-injection (the test
 * builds; never a build for users) two environment variables act:
 *   SIGNET_FAKE_NOW   a file holding the time (Unix seconds, or ISO 8601),
 *                     re-read at every call, so that a test can move the
 *                     clock of a running agent
 *   SIGNET_FAULT      STEP:KIND (e.g. "store:crash"), KIND one of
 *                     crash    the process is killed (SIGKILL) as the step
 *                              starts, after the journal has it
 *                     remove   the token is pulled as the step starts:
 *                              "* remove" goes into the PKCS#11 shim's
 *                              fault file ($SIGNET_SHIM_STATE/fault, see
 *                              tests/p11shim/README.md)
 *                     ca-down  from this step on, every connection to the
 *                              CA is refused (the EST client connects to a
 *                              closed port)
 *                     The fault fires once per process.
 * Without the configure flag the variables are ignored and the functions
 * below are the real clock and no-ops. May call: GLib, enroll/ (its test
 * knob), libc.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Unix seconds now (or the fake time). */
gint64 signet_clock_now(void);
/* The same, as a UTC GDateTime. */
GDateTime *signet_clock_now_utc(void);

/* An operation is about to run @step (already journaled). May not return
 * (crash). */
void signet_fault_point(const char *step);

/* TRUE if this build has the hooks (for the agent's --version and logs). */
gboolean signet_testhooks_compiled_in(void);

G_END_DECLS
