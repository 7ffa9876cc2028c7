/* signet-secret.h: the one type that holds a PIN, a PUK or an activation code.
 *
 * Owns: a small buffer on pages of its own (mmap), locked (mlock), excluded
 * from core dumps (MADV_DONTDUMP) and forked children (MADV_WIPEONFORK),
 * wiped with explicit_bzero() and unmapped when freed.
 * May call: GLib, libc.
 *
 * A secret lives from the prompt (terminal, file descriptor, D-Bus) to the
 * PKCS#11 call that consumes it, and is freed right after. Never log one.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Longest secret accepted from any source; PKCS#11 PINs are far shorter. */
#define SIGNET_SECRET_MAX 256

typedef struct _SignetSecret SignetSecret;

SignetSecret *signet_secret_new(const void *data, gsize len);
void signet_secret_free(SignetSecret *secret);
const guint8 *signet_secret_get_data(const SignetSecret *secret);
gsize signet_secret_get_len(const SignetSecret *secret);
gboolean signet_secret_equal(const SignetSecret *a, const SignetSecret *b);
/* TRUE when the secret's pages are locked in memory (mlock succeeded). */
gboolean signet_secret_is_locked(const SignetSecret *secret);

/* Makes the calling process non-dumpable (prctl PR_SET_DUMPABLE 0): no core
 * dump, no ptrace or /proc/PID/mem by other processes of the user. Called
 * first thing by signetd and signet, which hold PINs. */
gboolean signet_secret_protect_process(GError **error);

/* Reads one secret from @fd: up to the first newline or end of file, at most
 * SIGNET_SECRET_MAX bytes. A trailing "\r\n" or "\n" is not part of it. */
SignetSecret *signet_secret_read_fd(int fd, GError **error);

/* Asks on the controlling terminal (/dev/tty) with echo off. Fails with
 * G_IO_ERROR_NOT_FOUND when there is no terminal. */
SignetSecret *signet_secret_read_tty(const char *prompt, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetSecret, signet_secret_free)

G_END_DECLS
