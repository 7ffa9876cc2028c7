/* fuzz-main.c: runs a libFuzzer harness without libFuzzer, as a regression
 * test in `make check`: over every file of the seed corpus (FUZZ_CORPUS,
 * under $top_srcdir, or the files and directories given as arguments), and
 * over every prefix of each, which finds most length bugs cheaply. One TAP
 * line per corpus file; a crash or a failed assertion fails the test.
 */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* g_ptr_array_sort() passes pointers to the elements. */
static gint
compare_paths(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static void
collect(const char *path, GPtrArray *files)
{
  GDir *dir = g_dir_open(path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  if (dir == NULL) {
    g_ptr_array_add(files, g_strdup(path));
    return;
  }
  while ((name = g_dir_read_name(dir)) != NULL)
    g_ptr_array_add(names, g_build_filename(path, name, NULL));
  g_dir_close(dir);
  g_ptr_array_sort(names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add(files, g_strdup(names->pdata[i]));
}

int
main(int argc, char **argv)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
  guint failed = 0;

  if (argc > 1)
    for (int i = 1; i < argc; i++)
      collect(argv[i], files);
  else {
    const char *top = g_getenv("top_srcdir");
    g_autofree char *corpus = g_build_filename(top != NULL ? top : ".", FUZZ_CORPUS, NULL);

    collect(corpus, files);
  }

  if (files->len == 0) {
    printf("1..0 # SKIP no corpus files found\n");
    return 0;
  }
  printf("1..%u\n", files->len);
  for (guint i = 0; i < files->len; i++) {
    const char *file = files->pdata[i];
    g_autofree char *base = g_path_get_basename(file);
    g_autoptr(GError) error = NULL;
    char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(file, &data, &len, &error)) {
      printf("not ok %u - %s: %s\n", i + 1, base, error->message);
      failed++;
      continue;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    for (gsize cut = 0; cut < len; cut++) {
      /* A copy of exactly @cut bytes, so that ASan sees a read past it;
       * never NULL, also for no bytes, as libFuzzer passes it (malloc(0),
       * not g_malloc(0), which is NULL). */
      guint8 *prefix = malloc(cut);

      g_assert_nonnull(prefix);
      if (cut > 0)
        memcpy(prefix, data, cut);
      LLVMFuzzerTestOneInput(prefix, cut);
      free(prefix);
    }
    g_free(data);
    printf("ok %u - %s (and its %" G_GSIZE_FORMAT " prefixes)\n", i + 1, base, len);
    fflush(stdout);
  }
  return failed > 0 ? 1 : 0;
}
