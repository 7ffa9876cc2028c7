/* signet-agent.h: the exported io.signet.Agent1 object and its methods.
 *
 * Owns: the D-Bus skeleton at /io/signet/Agent, the token context, and the
 * set of busy tokens. May call: pkcs11/, enroll/, common/, the generated
 * D-Bus code, signet-token-dict, signet-errors.
 *
 * Threads: every method runs its PKCS#11 work in a GTask worker and answers
 * on the main loop; the busy set lives on the main thread only.
 *
 * Concurrency rule: an operation that writes to a token or sends it a secret
 * (GenerateKey, CreateRequest, ImportCertificate, DeleteKey, ChangePin,
 * UnblockPin) is exclusive per token: a second one on the same token fails
 * at once with io.signet.Error.Busy. The read-only calls (ListTokens,
 * GetTokenStatus) may run at any time, also while a token is busy: they open
 * their own session and never log in (modules are initialised for OS
 * locking, so PKCS#11 calls from several threads are safe).
 */
#pragma once

#include <gio/gio.h>

#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

#define SIGNET_AGENT_OBJECT_PATH "/io/signet/Agent"
#define SIGNET_AGENT_BUS_NAME    "io.signet.Agent"

#define SIGNET_TYPE_AGENT (signet_agent_get_type())
G_DECLARE_FINAL_TYPE(SignetAgent, signet_agent, SIGNET, AGENT, GObject)

/* @ctx: the loaded modules (taken), or NULL with @ctx_error (taken) saying
 * why they could not be loaded: every token method then answers that error. */
SignetAgent *signet_agent_new(SignetP11Context *ctx, GError *ctx_error);

gboolean signet_agent_export(SignetAgent *agent, GDBusConnection *connection, GError **error);
void signet_agent_unexport(SignetAgent *agent);

/* Operations started and not answered yet: the context must outlive them. */
guint signet_agent_get_n_running(SignetAgent *agent);
/* When the background poll next asks the CA about a pending renewal (Unix
 * seconds), or 0 when nothing is pending. Idle exit waits for it. */
gint64 signet_agent_get_next_poll(SignetAgent *agent);

/* The exported skeleton (for other parts of the agent to emit signals and
 * answer their own methods, e.g. hotplug), and the token context (NULL when
 * the modules could not be loaded). Owned by @agent. */
/* The state database (journal, certificates tracked, reminders, audit),
 * opened by signet_agent_new(); NULL if it could not be opened (then
 * renewal and activation refuse to run, saying why). Owned by @agent. */
struct _SignetState;
struct _SignetState *signet_agent_get_state(SignetAgent *agent);

/* Once exported and the bus name is owned: resumes what the journal holds
 * that needs no PIN on the tokens present, and arms the one timer that asks
 * the CA again for pending renewals (at the earliest retry time). */
void signet_agent_start_background(SignetAgent *agent);

/* A token with @serial is present (inserted, or seen on start): resume its
 * journaled operations where no PIN is needed; record it as seen. */
void signet_agent_token_present(SignetAgent *agent, const char *serial);

/* The reminder thresholds in days (largest first), shown per certificate
 * in GetTokenStatus ("reminder_days", "reminders_sent"). Copied. */
void signet_agent_set_reminder_days(SignetAgent *agent, const guint *days, guint n_days);

struct _SignetAgent1;
struct _SignetAgent1 *signet_agent_get_skeleton(SignetAgent *agent);
SignetP11Context *signet_agent_get_context(SignetAgent *agent);

G_END_DECLS
