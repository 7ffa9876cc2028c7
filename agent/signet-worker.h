/* signet-worker.h: the agent's work in threads, and what OpenSSL keeps for
 * each of them.
 *
 * OpenSSL keeps per thread an error queue and, once the thread wants random
 * bytes (a key id, a signature, a TLS handshake), two DRBGs; it frees them
 * when the thread exits, through a thread-local key that OPENSSL_cleanup()
 * deletes at the process's exit. GLib's thread pools stop an idle thread
 * after a while, whenever that is: one that stops after OPENSSL_cleanup()
 * ran leaves its DRBGs unreachable (LeakSanitizer found them, now and then,
 * at a signetd's exit in the ASan stage of the CI: 80 bytes direct in two
 * EVP_RAND_CTX and 45 objects indirect; a small program that lets a thread
 * end after OPENSSL_cleanup() shows the same report, and none when the
 * thread called OPENSSL_thread_stop() first). So every job run in a thread
 * frees this state when it ends, and no idle thread holds any.
 *
 * Owns: nothing.
 * May call: GLib/GIO, OpenSSL.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* g_task_run_in_thread(@task, @func), then OPENSSL_thread_stop() in that
 * thread once @func has returned. */
void signet_worker_run(GTask *task, GTaskThreadFunc func);

/* What a job that ran in a thread of another pool calls as it ends:
 * OPENSSL_thread_stop() (the thread may use OpenSSL again: its state is
 * made afresh). */
void signet_worker_done(void);

G_END_DECLS
