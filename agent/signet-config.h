/* signet-config.h: the agent's configuration file.
 *
 * Owns: reading $XDG_CONFIG_HOME/signet/signet.conf (GKeyFile):
 *   [pkcs11]
 *   module=/path/to/module.so   ; absent: every module registered with p11-kit
 *   unblock-method=so-login-init-pin|set-pin-unlogged|ykcs11 ; absent: per module
 * A missing file means the defaults; a malformed one, or an unknown
 * unblock-method, is an error that names the file and the key.
 * May call: GLib, pkcs11/ (to parse the unblock method).
 */
#pragma once

#include <glib.h>

#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

typedef struct
{
  char *path;                            /* the file looked at */
  gboolean loaded;                       /* TRUE if it existed */
  char *module_path;                     /* NULL: p11-kit's registered modules */
  SignetP11UnblockMethod unblock_method; /* UNKNOWN: chosen per module */
  GKeyFile *keyfile;                     /* the whole file (empty if absent): other groups, e.g.
                                          * [agent] and [reminders], are read by their owners */
} SignetConfig;

/* The default file: g_get_user_config_dir()/signet/signet.conf. */
char *signet_config_default_path(void);

/* Reads @path (NULL: the default file) and parses it with
 * signet_config_load_data(). */
SignetConfig *signet_config_load(const char *path, GError **error);
/* Parses @data (@len bytes, any bytes) as the file @path (NULL: the
 * default file; it names the file in messages). The parser of
 * signet_config_load(); tests/fuzz/fuzz-config.c fuzzes it. */
SignetConfig *signet_config_load_data(const char *path, const char *data, gsize len,
                                      GError **error);
void signet_config_free(SignetConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetConfig, signet_config_free)

G_END_DECLS
