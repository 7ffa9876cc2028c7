/* signet-hotplug-tokens.c: the PKCS#11 token in each card
 * (docs/internals/hotplug.md, "Matching readers with PKCS#11 slots").
 *
 * Owns: the matching rule (a slot description against a reader name), the
 * read after an insertion or a release (the probe, then the token list
 * read afresh, in a GTask worker), its result on the reader (label, serial,
 * URI, module; dropped when the card is gone since), and the token
 * callback (signet_hotplug_set_token_func).
 * May call: pkcs11/ (a token list, in the worker), signet-monitor (the
 * probe), the agent's context (signet-agent.h), signet-hotplug-signals.c
 * (TokenChanged), signet-hotplug-idle.c, GLib/GIO.
 *
 * Threads: the read runs in a worker; its result is told in the main
 * context, in the order the events happened.
 */
#include "config.h"

#include "agent/signet-hotplug.h"
#include "agent/signet-hotplug-private.h"

#include <string.h>

/* ---- the matching rule ------------------------------------------------------ */

#define SLOT_DESCRIPTION_LEN 64

static char *
strip_trailing_blanks(const char *s, gsize max)
{
  gsize n = strnlen(s, max);

  while (n > 0 && s[n - 1] == ' ')
    n--;
  return g_strndup(s, n);
}

gboolean
signet_hotplug_slot_matches_reader(const char *slot_description, const char *reader)
{
  g_autofree char *slot = NULL;
  g_autofree char *name = NULL;

  if (slot_description == NULL || reader == NULL || *reader == '\0')
    return FALSE;
  slot = strip_trailing_blanks(slot_description, G_MAXSSIZE);
  /* OpenSC copies the reader's name into the 64-byte slot description,
   * cut there and padded with blanks. Whole names are compared: "Foo 00 00"
   * is not "Foo 00 01". */
  name = strip_trailing_blanks(reader, SLOT_DESCRIPTION_LEN);
  return g_strcmp0(slot, name) == 0;
}

/* ---- the token on a reader ------------------------------------------------- */

void
signet_hotplug_reader_clear_token(Reader *r)
{
  g_clear_pointer(&r->label, g_free);
  g_clear_pointer(&r->serial, g_free);
  g_clear_pointer(&r->uri, g_free);
  g_clear_pointer(&r->module, g_free);
}

/* ---- the PKCS#11 read after an insertion ------------------------------ */

typedef struct
{
  SignetP11Context *ctx;
  char *reader;
  guint generation;
  gint64 seen;
  gboolean held; /* result: the probe found the card held */
} ReadJob;

static void
read_job_free(ReadJob *job)
{
  g_free(job->reader);
  g_free(job);
}

static void
read_token_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ReadJob *job = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = NULL;

  /* Held by another program: PKCS#11 could not read it either. */
  if (signet_monitor_probe_reader(job->reader) == SIGNET_READER_PROBE_IN_USE) {
    job->held = TRUE;
    g_task_return_pointer(task, NULL, NULL);
    return;
  }
  /* The slot list is read afresh: OpenSC looks at its readers again then. */
  tokens = signet_p11_context_list_tokens(job->ctx, &error);
  if (tokens == NULL) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  for (guint i = 0; i < tokens->len; i++) {
    SignetP11Token *t = g_ptr_array_index(tokens, i);

    if (signet_hotplug_slot_matches_reader(t->slot_description, job->reader)) {
      g_task_return_pointer(task, signet_p11_token_copy(t), (GDestroyNotify)signet_p11_token_free);
      return;
    }
  }
  g_task_return_pointer(task, NULL, NULL);
}

static void
on_read_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = G_TASK(result);
  SignetHotplug *hp = user_data;
  ReadJob *job = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetP11Token) token = g_task_propagate_pointer(task, &error);
  Reader *r;

  /* signet_hotplug_free() waits for every read; it tells nothing more. */
  hp->n_reads--;
  if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
    return;
  r = signet_hotplug_find_reader(hp, job->reader);
  if (r == NULL || r->generation != job->generation || !r->state->present) {
    g_debug("hotplug: the card read in \"%s\" is gone; result dropped", job->reader);
    signet_hotplug_update_idle(hp);
    return;
  }
  signet_hotplug_reader_clear_token(r);
  r->held = job->held;
  if (token != NULL) {
    r->pkcs11 = PKCS11_TOKEN;
    r->label = g_strdup(token->label);
    r->serial = g_strdup(token->serial);
    r->uri = g_strdup(token->uri);
    r->module = g_strdup(token->module_name);
  } else {
    r->pkcs11 = PKCS11_NONE;
    if (job->held)
      g_debug("hotplug: the card in \"%s\" is held by another program", job->reader);
    else if (error != NULL)
      g_debug("hotplug: no token read in \"%s\": %s", job->reader, error->message);
    else
      g_debug("hotplug: no PKCS#11 module knows the card in \"%s\"", job->reader);
  }
  signet_hotplug_emit(hp, EVENT_TOKEN_CHANGED, r, job->seen);
  if (r->pkcs11 == PKCS11_TOKEN && r->serial != NULL && hp->token_func != NULL)
    hp->token_func(r->serial, hp->token_data);
  signet_hotplug_update_idle(hp);
}

void
signet_hotplug_set_token_func(SignetHotplug *hp, SignetHotplugTokenFunc func, gpointer user_data)
{
  hp->token_func = func;
  hp->token_data = user_data;
}

/* Can the card in @st be read now? Not without a module, nor while another
 * program holds the reader (the read would fail). */
gboolean
signet_hotplug_can_read(SignetHotplug *hp, const SignetReaderState *st)
{
  return signet_agent_get_context(hp->agent) != NULL && !st->exclusive;
}

/* Reads the token of @r's card in a worker; TokenChanged tells the result. */
void
signet_hotplug_start_read(SignetHotplug *hp, Reader *r, gint64 seen)
{
  ReadJob *job = g_new0(ReadJob, 1);

  job->ctx = signet_agent_get_context(hp->agent);
  job->reader = g_strdup(r->state->name);
  job->generation = r->generation;
  job->seen = seen;
  signet_hotplug_run_worker(hp, "start_read", job, (GDestroyNotify)read_job_free, read_token_thread,
                            on_read_done_cb);
}
