/* signet-gtk-application.h: the application io.signet.Signet.
 *
 * Owns: the single instance (a second launch hands its command line to the
 * running one), the command line (--token SERIAL, --renew CERT), the one
 * connection to the agent, and the main window.
 * May call: ui-gtk/signet-gtk-window.h, ui-gtk/signet-gtk-agent.h, libadwaita.
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SIGNET_GTK_APPLICATION_ID "io.signet.Signet"

#define SIGNET_GTK_TYPE_APPLICATION (signet_gtk_application_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkApplication, signet_gtk_application, SIGNET_GTK, APPLICATION,
                     AdwApplication)

SignetGtkApplication *signet_gtk_application_new(void);

G_END_DECLS
