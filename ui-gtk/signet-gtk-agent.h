/* signet-gtk-agent.h: the window's connection to signetd.
 *
 * Owns: watching the session bus name io.signet.Agent (D-Bus activation
 * starts the agent when it is not running), the generated proxy while the
 * agent is there, WatchTokens (so that an idle agent stays for the window's
 * hotplug signals), and why the agent cannot be reached when it is not.
 * "notify::proxy" tells the window when the agent comes and goes.
 * May call: libsignet/ (the generated proxy), GIO.
 */
#pragma once

#include <gio/gio.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

#define SIGNET_GTK_AGENT_BUS_NAME    "io.signet.Agent"
#define SIGNET_GTK_AGENT_OBJECT_PATH "/io/signet/Agent"
/* Token operations can take minutes (a key on a card, a CA): no 25 s default. */
#define SIGNET_GTK_CALL_TIMEOUT G_MAXINT

#define SIGNET_GTK_TYPE_AGENT (signet_gtk_agent_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkAgent, signet_gtk_agent, SIGNET_GTK, AGENT, GObject)

/* Starts watching the agent's name on the session bus. */
SignetGtkAgent *signet_gtk_agent_new(void);

/* The proxy while the agent is on the bus, else NULL. */
SignetAgent1 *signet_gtk_agent_get_proxy(SignetGtkAgent *self);

/* TRUE until the first answer: the name appeared (proxy set) or vanished. */
gboolean signet_gtk_agent_is_connecting(SignetGtkAgent *self);

/* Why the agent cannot be reached (translated), or NULL. */
const char *signet_gtk_agent_get_problem(SignetGtkAgent *self);

/* Asks the bus to start the agent again (D-Bus activation). */
void signet_gtk_agent_retry(SignetGtkAgent *self);

G_END_DECLS
