/* signet-testhooks.h: the test-only fault points (the settable clock of the
 * test builds is signet-clock.h's).
 *
 * Owns: the places where a test may stop an operation. In a build
 * configured with --enable-fault-injection (the test builds; never a build
 * for users) an environment variable acts:
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
 *                     disk-full from this step on, every write to the state
 *                              database fails as on a full disk
 *                              (signet_state_set_disk_full())
 *                     The fault fires once per process. A STEP ending in
 *                     "+" ("generate-key+", "store+", "remove-old+") is the
 *                     point inside that step after its PKCS#11 call and
 *                     before the journal records what it did.
 * Without the configure flag the variable is ignored and the functions
 * below are no-ops. May call: GLib, enroll/ (its test
 * knob), libc.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An operation is about to run @step (already journaled). May not return
 * (crash). */
void signet_fault_point(const char *step);

/* TRUE if this build has the hooks (for the agent's --version and logs). */
gboolean signet_testhooks_compiled_in(void);

G_END_DECLS
