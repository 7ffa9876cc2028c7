/* signet-gtk-activate-page.h: the activation of a token.
 *
 * Owns: the form (the CA from ListProfiles/GetProfile, the reference
 * number, the activation code and the PIN in GtkPasswordEntry, wiped when
 * sent), the rule before the PIN (ui-gtk/signet-gtk-secret.h: locked, final
 * try confirmed or nothing sent), the Activate call with its steps
 * (ui-gtk/signet-gtk-progress.h), the result, and the errors in place with
 * the next step. "running" is TRUE from the click until the agent answers:
 * the operation cannot be started twice.
 * May call: ui-gtk/signet-gtk-secret.h, ui-gtk/signet-gtk-progress.h,
 * ui-gtk/signet-gtk-rules.h, libsignet/, GTK.
 */
#pragma once

#include <adwaita.h>

#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

#define SIGNET_GTK_TYPE_ACTIVATE_PAGE (signet_gtk_activate_page_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkActivatePage, signet_gtk_activate_page, SIGNET_GTK, ACTIVATE_PAGE,
                     GtkBox)

/* Shows the form for @token (its GetTokenStatus answer @status, for the PIN's
 * state and an unfinished activation's CA), unless an activation runs:
 * then it stays as it is. */
void signet_gtk_activate_page_open(SignetGtkActivatePage *self, SignetAgent1 *proxy,
                                   const char *token, const char *label, GVariant *status);

gboolean signet_gtk_activate_page_get_running(SignetGtkActivatePage *self);

G_END_DECLS
