/* signet-config.c: see signet-config.h. */
#include "config.h"

#include "agent/signet-config.h"

#include "agent/signet-errors.h"
#include "common/signet-util.h"

#define GROUP_PKCS11 "pkcs11"

char *
signet_config_default_path(void)
{
  return g_build_filename(g_get_user_config_dir(), "signet", "signet.conf", NULL);
}

void
signet_config_free(SignetConfig *config)
{
  if (config == NULL)
    return;
  g_free(config->path);
  g_free(config->module_path);
  g_clear_pointer(&config->keyfile, g_key_file_unref);
  g_free(config);
}

/* An escape GKeyFile does not know is an error (and GLib 2.74 warns when
 * it reads some: signet_key_file_escapes_valid()). */
static gboolean
check_escapes(const SignetConfig *config, GKeyFile *kf, const char *key, GError **error)
{
  g_autofree char *raw = g_key_file_get_value(kf, GROUP_PKCS11, key, NULL);

  if (raw == NULL || signet_key_file_escapes_valid(raw))
    return TRUE;
  g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
              "%s: %s in [" GROUP_PKCS11 "] has a \"\\\" escape that is not \\s, \\n, \\t, "
              "\\r or \\\\: write \\\\ for a backslash",
              config->path, key);
  return FALSE;
}

static gboolean
read_pkcs11_group(SignetConfig *config, GKeyFile *kf, GError **error)
{
  g_auto(GStrv) keys = NULL;
  g_autofree char *module = NULL;
  g_autofree char *method = NULL;

  if (!g_key_file_has_group(kf, GROUP_PKCS11))
    return TRUE;

  keys = g_key_file_get_keys(kf, GROUP_PKCS11, NULL, NULL);
  for (gsize i = 0; keys != NULL && keys[i] != NULL; i++)
    if (g_strcmp0(keys[i], "module") != 0 && g_strcmp0(keys[i], "unblock-method") != 0) {
      /* GKeyFile takes key names that are not UTF-8; a log line must be. */
      g_autofree char *key = g_utf8_make_valid(keys[i], -1);

      g_message("%s: ignoring unknown key \"%s\" in [" GROUP_PKCS11 "]", config->path, key);
    }

  if (!check_escapes(config, kf, "module", error)
      || !check_escapes(config, kf, "unblock-method", error))
    return FALSE;
  module = g_key_file_get_string(kf, GROUP_PKCS11, "module", NULL);
  if (module != NULL)
    g_strstrip(module);
  if (module != NULL && *module != '\0')
    config->module_path = g_steal_pointer(&module);

  method = g_key_file_get_string(kf, GROUP_PKCS11, "unblock-method", NULL);
  if (method != NULL)
    g_strstrip(method);
  if (method != NULL && *method != '\0') {
    SignetP11UnblockMethod m = SIGNET_P11_UNBLOCK_UNKNOWN;

    if (!signet_p11_unblock_method_parse(method, &m, NULL) || m == SIGNET_P11_UNBLOCK_UNKNOWN) {
      g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                  "%s: unknown unblock-method \"%s\" in [" GROUP_PKCS11
                  "]; use so-login-init-pin, set-pin-unlogged or ykcs11, or remove the "
                  "line to let the agent choose per module",
                  config->path, method);
      return FALSE;
    }
    config->unblock_method = m;
  }
  return TRUE;
}

SignetConfig *
signet_config_load_data(const char *path, const char *data, gsize len, GError **error)
{
  g_autoptr(SignetConfig) config = g_new0(SignetConfig, 1);
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) groups = NULL;

  g_return_val_if_fail(data != NULL || len == 0, NULL);

  config->path = path != NULL ? g_strdup(path) : signet_config_default_path();
  config->unblock_method = SIGNET_P11_UNBLOCK_UNKNOWN;
  config->keyfile = g_key_file_ref(kf);

  if (!g_key_file_load_from_data(kf, data != NULL ? data : "", len, G_KEY_FILE_NONE, &local)) {
    /* GKeyFile quotes the line it refuses as it is, UTF-8 or not. */
    g_autofree char *why = g_utf8_make_valid(local->message, -1);

    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "Could not read the configuration file %s: %s", config->path, why);
    return NULL;
  }
  config->loaded = TRUE;

  groups = g_key_file_get_groups(kf, NULL);
  for (gsize i = 0; groups[i] != NULL; i++)
    if (g_strcmp0(groups[i], GROUP_PKCS11) != 0) {
      g_autofree char *group = g_utf8_make_valid(groups[i], -1);

      g_debug("%s: group [%s] is not the agent's; left alone", config->path, group);
    }

  if (!read_pkcs11_group(config, kf, error))
    return NULL;
  return g_steal_pointer(&config);
}

SignetConfig *
signet_config_load(const char *path, GError **error)
{
  g_autofree char *file = path != NULL ? g_strdup(path) : signet_config_default_path();
  g_autofree char *data = NULL;
  g_autoptr(GError) local = NULL;
  gsize len = 0;

  if (!g_file_get_contents(file, &data, &len, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      /* No file: the defaults. */
      SignetConfig *config = g_new0(SignetConfig, 1);

      config->path = g_steal_pointer(&file);
      config->unblock_method = SIGNET_P11_UNBLOCK_UNKNOWN;
      config->keyfile = g_key_file_new();
      return config;
    }
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_INVALID_ARGS,
                "Could not read the configuration file %s: %s", file, local->message);
    return NULL;
  }
  return signet_config_load_data(file, data, len, error);
}
