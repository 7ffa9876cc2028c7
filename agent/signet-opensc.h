/* signet-opensc.h: OpenSC's PUK unblock setting, for the agent's own process.
 *
 * OpenSC turns C_SetPIN(puk, new) in a logged-out session into an unblock
 * only with user_pin_unblock_style = set_pin_in_unlogged_session (TOKENS.md).
 * Before any module is loaded the agent writes
 *   $XDG_RUNTIME_DIR/signet/opensc.conf  (directory 0700, file 0600)
 * = that block followed by the system's OpenSC config (the file OPENSC_CONF
 * named, else /etc/opensc/opensc.conf), and points OPENSC_CONF at it. Nothing
 * else the system config says changes, except that its own
 * "app opensc-pkcs11" block, if it has one, is shadowed by ours (OpenSC reads
 * the first block of a name).
 *
 * Owns: that file. May call: GLib, libc. Call from main() before threads.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SIGNET_OPENSC_SYSTEM_CONF "/etc/opensc/opensc.conf"
#define SIGNET_OPENSC_BLOCK                                                                        \
  "app opensc-pkcs11 {\n"                                                                          \
  "  pkcs11 {\n"                                                                                   \
  "    user_pin_unblock_style = set_pin_in_unlogged_session;\n"                                    \
  "  }\n"                                                                                          \
  "}\n"

/* Writes the file under @runtime_dir (NULL: g_get_user_runtime_dir()) and
 * sets OPENSC_CONF, unless OPENSC_CONF already names that file and it
 * exists. @system_conf: the config to append when OPENSC_CONF is unset
 * (NULL: SIGNET_OPENSC_SYSTEM_CONF); a missing one is fine. On success
 * @out_path (optional) gets the file's path. */
gboolean signet_opensc_prepare(const char *runtime_dir, const char *system_conf, char **out_path,
                               GError **error);

G_END_DECLS
