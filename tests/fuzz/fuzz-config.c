/* fuzz-config.c: libFuzzer harness for signet_config_load_data(), the
 * parser of the agent's signet.conf (a user's file, copied from examples
 * and edited by hand). What it logs is checked too: valid UTF-8, nothing
 * above a message (a mistake in the file is an error, not a warning). */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "agent/signet-config.h"
#include "agent/signet-errors.h"

#include <string.h>

#define FUZZ_PATH "/nonexistent/signet-fuzz/signet.conf"

static GLogWriterOutput
log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  g_assert_cmpint(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING), ==, 0);
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal(fields[i].key, "MESSAGE"))
      g_assert_true(g_utf8_validate(fields[i].value, fields[i].length, NULL));
  return G_LOG_WRITER_HANDLED; /* dropped: thousands of runs a second */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static gsize logging = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetConfig) config = NULL;

  if (g_once_init_enter(&logging)) {
    g_log_set_writer_func(log_writer, NULL, NULL);
    g_once_init_leave(&logging, 1);
  }
  config = signet_config_load_data(FUZZ_PATH, (const char *)data, size, &error);
  g_assert_true((config != NULL) != (error != NULL));
  if (config == NULL) {
    g_assert_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_nonnull(strstr(error->message, FUZZ_PATH));
    return 0;
  }
  g_assert_true(config->loaded);
  g_assert_cmpstr(config->path, ==, FUZZ_PATH);
  g_assert_nonnull(config->keyfile);
  if (config->module_path != NULL) {
    gsize len = strlen(config->module_path);

    g_assert_true(g_utf8_validate(config->module_path, -1, NULL));
    g_assert_cmpuint(len, >, 0);
    g_assert_false(g_ascii_isspace(config->module_path[0]));
    g_assert_false(g_ascii_isspace(config->module_path[len - 1]));
  }
  if (config->unblock_method != SIGNET_P11_UNBLOCK_UNKNOWN) {
    const char *name = signet_p11_unblock_method_to_string(config->unblock_method);
    SignetP11UnblockMethod again = SIGNET_P11_UNBLOCK_UNKNOWN;

    /* A method the parser knows, and its name reads back as itself. */
    g_assert_nonnull(name);
    g_assert_true(signet_p11_unblock_method_parse(name, &again, NULL));
    g_assert_cmpint(again, ==, config->unblock_method);
  }
  return 0;
}
