/* signet-activation-upgrade.h: the activation record files of Signet
 * before the one journal, read once into it.
 *
 * Owns: the NAME.conf files of $XDG_STATE_HOME/signet/activations, written by earlier
 * versions (one GKeyFile per token and profile: stage generated, sent,
 * pending or issued, the key id, the request, the certificates). Each file
 * becomes an open activate entry of the journal with the same meaning
 * (docs/internals/state.md, "Activation in the journal") and is then
 * removed; a file that cannot be read is left in place with a warning. The
 * directory goes when it is empty. Nothing else reads or writes it.
 * May call: the state database, common/, GLib.
 */
#pragma once

#include "agent/signet-state.h"

G_BEGIN_DECLS

/* g_get_user_state_dir()/signet/activations */
char *signet_activation_records_dir(void);

/* Moves every record of @dir (NULL: signet_activation_records_dir()) into
 * @state's journal; returns how many. */
guint signet_activation_records_upgrade(SignetState *state, const char *dir);

G_END_DECLS
