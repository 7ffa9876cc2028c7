/* signet-test-util.c: see signet-test-util.h. */
#include "config.h"

#include "tests/testutil/signet-test-util.h"

#include <glib/gstdio.h>

void
signet_test_remove_tree(const char *path)
{
  g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *child = g_build_filename(path, name, NULL);
    if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
      signet_test_remove_tree(child);
    else
      g_remove(child);
  }
  g_rmdir(path);
}

char *
signet_test_softhsm_dir(const char *prefix)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
  g_autofree char *dir = g_dir_make_tmp(tmpl, &error);
  g_autofree char *tokens = NULL, *conf = NULL, *text = NULL;

  g_assert_no_error(error);
  tokens = g_build_filename(dir, "tokens", NULL);
  g_assert_cmpint(g_mkdir(tokens, 0700), ==, 0);
  conf = g_build_filename(dir, "softhsm2.conf", NULL);
  text = g_strdup_printf("directories.tokendir = %s\nobjectstore.backend = file\n"
                         "log.level = ERROR\n",
                         tokens);
  g_file_set_contents(conf, text, -1, &error);
  g_assert_no_error(error);
  g_setenv("SOFTHSM2_CONF", conf, TRUE);
  return g_steal_pointer(&dir);
}

void
signet_test_softhsm_init_token(const char *label, const char *pin, const char *so_pin)
{
  g_autoptr(GError) error = NULL;
  const char *util = g_getenv("SOFTHSM2_UTIL");
  const char *argv[] = { util != NULL && *util != '\0' ? util : "softhsm2-util",
                         "--init-token",
                         "--free",
                         "--label",
                         label,
                         "--pin",
                         pin,
                         "--so-pin",
                         so_pin,
                         NULL };
  g_autofree char *err = NULL;
  int status = -1;

  g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
               NULL, NULL, &err, &status, &error);
  g_assert_no_error(error);
  if (!g_spawn_check_wait_status(status, &error))
    g_printerr("softhsm2-util: %s\n", err);
  g_assert_no_error(error);
}

gboolean
signet_test_under_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return TRUE;
#else
  return FALSE;
#endif
#else
  return FALSE;
#endif
}
