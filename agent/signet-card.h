/* signet-card.h: the card behind a token, as PC/SC sees it.
 *
 * Owns: ending a card's PIN verification after an operation. OpenSC logs a
 * card out (C_Logout, or its last session closing) only through the card
 * driver's logout command, and many drivers have none (MyEID among them):
 * the card then stays PIN-verified after Signet is done, and another
 * program could sign without a PIN until the card is reset or removed
 * (seen with OpenSC 0.24). So after every operation on an OpenSC token the
 * agent resets the card in its reader (SCardDisconnect with
 * SCARD_RESET_CARD), which clears its security state.
 * May call: pcsc-lite, GLib. Blocks: call from a worker.
 */
#pragma once

#include <glib.h>

#include "pkcs11/signet-p11.h"

G_BEGIN_DECLS

/* TRUE when @token sits in a PC/SC reader whose card must be reset to end
 * its PIN verification: an OpenSC module, the slot named after the reader. */
gboolean signet_card_needs_reset(const SignetP11Token *token);

/* Resets the card in reader @reader (a warm reset). Another program using
 * the card sees the reset too and must log in again, as after removal.
 * A card no longer in the reader (or a reader gone) needs none: TRUE with
 * @out_gone set. */
gboolean signet_card_reset(const char *reader, gboolean *out_gone, GError **error);

G_END_DECLS
