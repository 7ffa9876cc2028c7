/* signet-test-util.h: helpers shared by the C test programs: throwaway
 * directories and SoftHSM2 tokens (TESTING.md's recipe). Test code only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes @path and everything below it (symbolic links are not followed). */
void signet_test_remove_tree(const char *path);

/* A fresh temporary directory (named after @prefix) holding tokens/ and a
 * softhsm2.conf whose token directory is tokens/; SOFTHSM2_CONF points at it.
 * Returns the directory; remove it with signet_test_remove_tree(). */
char *signet_test_softhsm_dir(const char *prefix);

/* softhsm2-util --init-token --free (from $SOFTHSM2_UTIL or PATH): a new
 * token in the first free slot of the SOFTHSM2_CONF in force. Asserts that it
 * worked. */
void signet_test_softhsm_init_token(const char *label, const char *pin, const char *so_pin);

/* TRUE in a build with AddressSanitizer (its allocator has no glibc arenas,
 * and its mlock() is a no-op that succeeds). */
gboolean signet_test_under_asan(void);

G_END_DECLS
