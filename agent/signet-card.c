/* signet-card.c: see signet-card.h. */
#include "config.h"

#include "agent/signet-card.h"

#include <string.h>
#include <winscard.h>

#include "agent/signet-errors.h"

gboolean
signet_card_needs_reset(const SignetP11Token *token)
{
  return token != NULL && token->library_manufacturer != NULL
         && g_str_has_prefix(token->library_manufacturer, "OpenSC")
         && token->slot_description != NULL && *token->slot_description != '\0';
}

gboolean
signet_card_reset(const char *reader, gboolean *out_gone, GError **error)
{
  SCARDCONTEXT context = 0;
  SCARDHANDLE card = 0;
  DWORD protocol = 0;
  LONG rv;

  rv = SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &context);
  if (rv == SCARD_S_SUCCESS) {
    rv = SCardConnect(context, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                      &card, &protocol);
    if (rv == SCARD_S_SUCCESS)
      rv = SCardDisconnect(card, SCARD_RESET_CARD);
    (void)SCardReleaseContext(context);
  }
  /* The card (or its reader) left: its verification left with it. */
  *out_gone = rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_REMOVED_CARD
              || rv == SCARD_E_UNKNOWN_READER || rv == SCARD_E_READER_UNAVAILABLE;
  if (*out_gone)
    return TRUE;
  if (rv != SCARD_S_SUCCESS) {
    g_set_error(error, SIGNET_AGENT_ERROR, SIGNET_AGENT_ERROR_FAILED,
                "Could not reset the card in reader '%s' (%s, 0x%08lx)", reader,
                pcsc_stringify_error(rv), (unsigned long)rv);
    return FALSE;
  }
  return TRUE;
}
