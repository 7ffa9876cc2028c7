/* signet-gtk-token-page.h: the page of one token.
 *
 * Owns: showing a GetTokenStatus answer: label, model, serial, reader; the
 * PIN's and PUK's state in words; the certificates (holder, issuer,
 * validity, days left) with the "Renew" banner from 45 days before expiry
 * and the expired state; the unfinished operations and what the holder has
 * to do; the buttons of what can be done, which open the dialogs
 * (ui-gtk/signet-gtk-dialogs.h) or ask the window for a page (signals
 * "activate-requested", "renew-requested" (cert serial), "history-requested").
 * "status-loaded" follows every answer.
 * May call: ui-gtk/signet-gtk-rules.h, ui-gtk/signet-gtk-dialogs.h, libsignet/, GTK.
 */
#pragma once

#include <adwaita.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

#define SIGNET_GTK_TYPE_TOKEN_PAGE (signet_gtk_token_page_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkTokenPage, signet_gtk_token_page, SIGNET_GTK, TOKEN_PAGE, GtkBox)

/* Shows the token @serial: reads its status (again on reload). */
void signet_gtk_token_page_show(SignetGtkTokenPage *self, SignetAgent1 *proxy, const char *serial);
void signet_gtk_token_page_reload(SignetGtkTokenPage *self);

/* Shows @status as it is (no D-Bus): what show() does with the answer. */
void signet_gtk_token_page_set_status(SignetGtkTokenPage *self, GVariant *status);

/* The last answer (NULL before the first) and the token's label. */
GVariant *signet_gtk_token_page_get_status(SignetGtkTokenPage *self);
const char *signet_gtk_token_page_get_label(SignetGtkTokenPage *self);

/* While an operation runs, nothing else can be started from the page. */
void signet_gtk_token_page_set_busy(SignetGtkTokenPage *self, gboolean busy);

G_END_DECLS
