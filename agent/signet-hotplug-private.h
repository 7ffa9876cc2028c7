/* signet-hotplug-private.h: what the files of hotplug share
 * (signet-hotplug.c, signet-hotplug-tokens.c, signet-hotplug-signals.c,
 * signet-hotplug-idle.c). Not for use outside those files.
 *
 * Owns: the object's fields, a reader as told to clients (Reader, with its
 * PKCS#11 state), the kinds of event, whether a reader is in use, and the
 * functions one file gives the others.
 * May call: nothing (declarations, and one inline test of a reader's
 * fields); includes signet-hotplug.h, signet-monitor.h and the generated
 * D-Bus skeleton for the types.
 */
#pragma once

#include <gio/gio.h>

#include "agent/signet-hotplug.h"
#include "agent/signet-monitor.h"
#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

/* What the agent knows of the card through PKCS#11 (the "pkcs11" key). */
typedef enum
{
  PKCS11_UNSET,   /* no card */
  PKCS11_READING, /* a read runs; TokenChanged tells the result */
  PKCS11_TOKEN,   /* a module has a token for it: label, serial, … */
  PKCS11_NONE,    /* no module knows the card, or it could not be read */
} Pkcs11State;

/* A reader as told to clients, with the token found for its card. */
typedef struct
{
  SignetReaderState *state;
  guint generation; /* the card's: a read's result is for the card it started with */
  Pkcs11State pkcs11;
  gboolean held; /* a probe found the card held by another program */
  char *label;
  char *serial;
  char *uri;
  char *module;
} Reader;

typedef enum
{
  EVENT_READER_ADDED,
  EVENT_READER_REMOVED,
  EVENT_TOKEN_ADDED,
  EVENT_TOKEN_REMOVED,
  EVENT_TOKEN_CHANGED,
} EventKind;

struct _SignetHotplug
{
  SignetAgent *agent;
  SignetAgent1 *skeleton;
  gulong list_readers_id; /* handle-list-readers */
  gulong idle_ids[3];     /* the handlers of signet-hotplug-idle.c */
  SignetMonitor *monitor;

  GPtrArray *readers;            /* Reader, in pcscd's order, as told */
  SignetReaderSnapshot *latest;  /* the monitor's last word */
  gboolean ready;                /* the first snapshot has been told */
  GPtrArray *pending_list_calls; /* ListReaders calls waiting for ready */

  guint n_reads; /* PKCS#11 reads running (workers) */
  GCancellable *cancellable;

  GHashTable *watchers; /* unique bus name → g_bus_watch_name id */

  guint idle_seconds;
  guint idle_id;
  gint last_call; /* monotonic seconds of the last method call (any thread) */
  GSourceFunc idle_func;
  gpointer idle_data;

  SignetHotplugTokenFunc token_func;
  gpointer token_data;
};

/* Held by another program: pcsc-lite says so (SCARD_STATE_EXCLUSIVE, seen
 * at events only), or our own probe found it (signet-monitor.h). */
static inline gboolean
signet_hotplug_reader_in_use(const Reader *r)
{
  return r->state->present && (r->state->exclusive || r->held);
}

/* signet-hotplug.c: the readers as told, and the workers. */
Reader *signet_hotplug_find_reader(SignetHotplug *hp, const char *name);
/* Runs @func in a GTask worker (named @name) with @data (freed with
 * @data_free), then @done in the main context, which must decrement
 * hp->n_reads: the worker counts there from now on (the idle rule, and
 * signet_hotplug_free() waits for it). */
void signet_hotplug_run_worker(SignetHotplug *hp, const char *name, gpointer data,
                               GDestroyNotify data_free, GTaskThreadFunc func,
                               GAsyncReadyCallback done);

/* signet-hotplug-tokens.c: the PKCS#11 token in each card. */
void signet_hotplug_reader_clear_token(Reader *r);
/* Can the card in @st be read now? */
gboolean signet_hotplug_can_read(SignetHotplug *hp, const SignetReaderState *st);
/* Reads the token of @r's card in a worker; TokenChanged tells the result. */
void signet_hotplug_start_read(SignetHotplug *hp, Reader *r, gint64 seen);

/* signet-hotplug-signals.c: what clients are told. */
/* The dictionary of every signal and of ListReaders (docs/dbus-api.md). */
GVariant *signet_hotplug_reader_dict(const Reader *r);
/* Emits @kind for @r; @seen is when PC/SC saw it (monotonic µs). */
void signet_hotplug_emit(SignetHotplug *hp, EventKind kind, const Reader *r, gint64 seen);

/* signet-hotplug-idle.c: the idle rule. */
/* Creates the set of watchers and connects WatchTokens, UnwatchTokens and
 * the note of every method call. */
void signet_hotplug_idle_connect(SignetHotplug *hp);
/* Arms the one timer while quiet, removes it otherwise. */
void signet_hotplug_update_idle(SignetHotplug *hp);

G_END_DECLS
