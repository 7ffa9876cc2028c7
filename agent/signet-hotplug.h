/* signet-hotplug.h: readers and cards as the PC/SC monitor sees them, joined
 * with the PKCS#11 tokens in them, told to clients as D-Bus signals
 * (ReaderAdded, ReaderRemoved, TokenAdded, TokenRemoved, TokenChanged);
 * the methods ListReaders, WatchTokens and UnwatchTokens; and the agent's
 * idle rule.
 *
 * Owns: the readers as told to clients, the clients watching, the idle timer.
 * May call: signet-monitor, pkcs11/ (a token list on insertion, in a GTask
 * worker), the agent's skeleton and context (signet-agent.h), GLib/GIO.
 *
 * Threads: everything here runs in the main context; PKCS#11 reads run in a
 * worker, one at a time, and events are told in the order they happened.
 * docs/internals/hotplug.md explains the matching rule and the idle rule.
 *
 * One file per part (signet-hotplug-private.h is what they share):
 * signet-hotplug.c the readers as told (snapshots to events, ListReaders),
 * -tokens.c the PKCS#11 token in each card, -signals.c what clients are
 * told, -idle.c the idle rule.
 */
#pragma once

#include <gio/gio.h>

#include "agent/signet-agent.h"

G_BEGIN_DECLS

typedef struct _SignetHotplug SignetHotplug;

/* Connects ListReaders, WatchTokens and UnwatchTokens on @agent's skeleton
 * (before it is exported). The monitor starts with signet_hotplug_start(). */
SignetHotplug *signet_hotplug_new(SignetAgent *agent);

/* Starts watching PC/SC: call once the bus name is owned, so that clients
 * matching on it get every signal. */
void signet_hotplug_start(SignetHotplug *hotplug);

/* @func is called (once) when the agent has been idle for @seconds: no card
 * in any reader, no client watching (WatchTokens), no method call for
 * @seconds and no operation running. 0 seconds: never. */
void signet_hotplug_set_idle_timeout(SignetHotplug *hotplug, guint seconds, GSourceFunc func,
                                     gpointer user_data);

/* @func is called on the main loop with the serial of each PKCS#11 token
 * that appears in a reader (after its TokenChanged): the agent resumes
 * journaled operations and checks reminders then. */
typedef void (*SignetHotplugTokenFunc)(const char *serial, gpointer user_data);
void signet_hotplug_set_token_func(SignetHotplug *hotplug, SignetHotplugTokenFunc func,
                                   gpointer user_data);

/* Stops the monitor, waits for a token read in progress, unwatches clients. */
void signet_hotplug_free(SignetHotplug *hotplug);

/* The matching rule: is @slot_description (a PKCS#11 slot description,
 * blank-padded to 64 bytes) the PC/SC reader @reader? Exact, after trailing
 * blanks; a reader name longer than 64 bytes matches its first 64 bytes. */
gboolean signet_hotplug_slot_matches_reader(const char *slot_description, const char *reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetHotplug, signet_hotplug_free)

G_END_DECLS
