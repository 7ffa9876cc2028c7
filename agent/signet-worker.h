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
 * glibc's malloc gives each new thread an arena of its own, up to 8 per CPU
 * (16 on 2 CPUs), and an arena keeps pages it was given after they are
 * freed: the 16 threads of a 16-token batch left signetd's RssAnon 8 to 12
 * MB higher, and later batches, run by other threads on other arenas, kept
 * adding (4.9 MB over 11 more batches; 0.1 MB with 2 arenas, no slower:
 * bench/README.md, group activation). The agent's threads mostly wait for a
 * card or a CA: one arena per CPU is enough.
 *
 * Owns: nothing.
 * May call: GLib/GIO, OpenSSL, the C library's malloc tuning.
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

/* Caps the C library's malloc arenas at one per CPU, at least 2; called
 * once, before the process starts any thread. Returns the cap, or 0 where
 * the C library has no such setting (not glibc) or refused it. */
guint signet_worker_limit_arenas(void);

G_END_DECLS
