/* test-secret.c: the secret buffer's memory and the process protection. */
#include "config.h"

#include "common/signet-secret.h"
#include "tests/testutil/signet-test-util.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* kB locked of the mapping that holds @addr, from /proc/self/smaps; -1 if
 * the mapping is not found. */
static long
locked_kb(const void *addr)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean in = FALSE;

  g_assert_true(g_file_get_contents("/proc/self/smaps", &text, NULL, NULL));
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    unsigned long start, end;
    long kb;

    if (sscanf(lines[i], "%lx-%lx ", &start, &end) == 2)
      in = (guintptr)addr >= start && (guintptr)addr < end;
    else if (in && sscanf(lines[i], "Locked: %ld kB", &kb) == 1)
      return kb;
  }
  return -1;
}

/* AddressSanitizer intercepts mlock() and makes it a no-op that succeeds. */
static gboolean
mlock_works(void)
{
  return !signet_test_under_asan();
}

static void
test_own_pages(void)
{
  g_autoptr(SignetSecret) a = signet_secret_new("123456", 6);
  SignetSecret *b = signet_secret_new("87654321", 8);
  long page = sysconf(_SC_PAGESIZE);

  g_assert_nonnull(a);
  g_assert_nonnull(b);
  g_assert_cmpmem(signet_secret_get_data(a), signet_secret_get_len(a), "123456", 6);
  /* Each secret starts a page of its own: none shares a page. */
  g_assert_cmpuint((guintptr)a % (guintptr)page, ==, 0);
  g_assert_cmpuint((guintptr)b % (guintptr)page, ==, 0);
  g_assert_cmpuint((guintptr)a / page, !=, (guintptr)b / page);
  if (!signet_secret_is_locked(a) || !signet_secret_is_locked(b) || !mlock_works()) {
    /* The pages are still the secrets' own (checked above). */
    g_test_message("mlock does not lock here: the Locked checks run in a plain build");
    signet_secret_free(b);
    return;
  }
  g_assert_cmpint(locked_kb(a), >, 0);
  g_assert_cmpint(locked_kb(b), >, 0);
  /* Freeing one leaves the other locked. */
  signet_secret_free(b);
  g_assert_cmpint(locked_kb(a), >, 0);
  g_assert_cmpmem(signet_secret_get_data(a), signet_secret_get_len(a), "123456", 6);
}

static void
test_many(void)
{
  SignetSecret *s[64];

  for (guint i = 0; i < G_N_ELEMENTS(s); i++) {
    char pin[16];
    int n = g_snprintf(pin, sizeof pin, "pin-%u", i);
    s[i] = signet_secret_new(pin, (gsize)n);
  }
  for (guint i = 0; i < G_N_ELEMENTS(s); i += 2)
    g_clear_pointer(&s[i], signet_secret_free);
  for (guint i = 1; i < G_N_ELEMENTS(s); i += 2) {
    g_autofree char *want = g_strdup_printf("pin-%u", i);
    g_assert_cmpmem(signet_secret_get_data(s[i]), signet_secret_get_len(s[i]), want, strlen(want));
    if (signet_secret_is_locked(s[i]) && mlock_works())
      g_assert_cmpint(locked_kb(s[i]), >, 0);
    signet_secret_free(s[i]);
  }
}

static void
test_not_dumpable(void)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), ==, 1);
  g_assert_true(signet_secret_protect_process(&error));
  g_assert_no_error(error);
  g_assert_cmpint(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), ==, 0);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/secret/own-pages", test_own_pages);
  g_test_add_func("/secret/many", test_many);
  g_test_add_func("/secret/not-dumpable", test_not_dumpable);
  return g_test_run();
}
