/* signet-gtk-window.h: the main window.
 *
 * Owns: what the holder sees of the agent's state (connecting, cannot be
 * reached: an AdwStatusPage, and the window returns when the agent's name
 * appears), the token list that follows hotplug live (ListTokens again on
 * every TokenAdded, TokenRemoved and TokenChanged; no refresh button), the
 * AdwLeaflet of list and pages, the navigation between the token page and
 * its activation, renewal and history pages, and keeping the window (and the
 * process) while an operation runs: closing it then only hides it.
 * May call: the ui-gtk pages, ui-gtk/signet-gtk-agent.h, libsignet/, GTK.
 */
#pragma once

#include <adwaita.h>

#include "ui-gtk/signet-gtk-agent.h"

G_BEGIN_DECLS

#define SIGNET_GTK_TYPE_WINDOW (signet_gtk_window_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkWindow, signet_gtk_window, SIGNET_GTK, WINDOW, AdwApplicationWindow)

/* @app may be NULL (tests build the window alone); @agent may be NULL too:
 * the window then stays on its "connecting" page. */
SignetGtkWindow *signet_gtk_window_new(gpointer app, SignetGtkAgent *agent);

/* Opens the token whose serial is @token (NULL: the one shown, or the only
 * one), now or when it is plugged in; with @renew_cert its renewal page. */
void signet_gtk_window_open(SignetGtkWindow *self, const char *token, const char *renew_cert);

/* Shows @text as a toast. */
void signet_gtk_window_toast(GtkWidget *widget, const char *text);

G_END_DECLS
