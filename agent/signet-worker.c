/* signet-worker.c: see signet-worker.h. */
#include "config.h"

#include "agent/signet-worker.h"

#include <openssl/crypto.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static GQuark
func_quark(void)
{
  static GQuark q;

  if (q == 0)
    q = g_quark_from_static_string("signet-worker-func");
  return q;
}

static void
run_then_stop(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GTaskThreadFunc func = (GTaskThreadFunc)g_object_get_qdata(G_OBJECT(task), func_quark());

  func(task, source, data, cancellable);
  signet_worker_done();
}

void
signet_worker_run(GTask *task, GTaskThreadFunc func)
{
  g_object_set_qdata(G_OBJECT(task), func_quark(), (gpointer)func);
  g_task_run_in_thread(task, run_then_stop);
}

void
signet_worker_done(void)
{
  OPENSSL_thread_stop();
}

guint
signet_worker_limit_arenas(void)
{
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
  guint arenas = MAX(g_get_num_processors(), 2);

  if (mallopt(M_ARENA_MAX, (int)arenas) == 1)
    return arenas;
#endif
  return 0;
}
