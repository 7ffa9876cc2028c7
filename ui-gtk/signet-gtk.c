/* signet-gtk.c: main() of the window, signet-gtk.
 *
 * Owns: the locale and the message catalogs (SIGNET_LOCALEDIR in the
 * environment overrides the compiled-in directory, as for the CLI), then
 * hands over to the application (ui-gtk/signet-gtk-application.h).
 * May call: ui-gtk/signet-gtk-application.h.
 */
#include "config.h"

#include "ui-gtk/signet-gtk-application.h"

#include <glib/gi18n.h>
#include <locale.h>

#ifndef GETTEXT_PACKAGE
#define GETTEXT_PACKAGE "signet"
#endif
#ifndef SIGNET_LOCALEDIR
#define SIGNET_LOCALEDIR "/usr/share/locale"
#endif

int
main(int argc, char **argv)
{
  const char *localedir = g_getenv("SIGNET_LOCALEDIR");
  g_autoptr(SignetGtkApplication) app = NULL;

  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE,
                 localedir != NULL && *localedir != '\0' ? localedir : SIGNET_LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);

  app = signet_gtk_application_new();
  return g_application_run(G_APPLICATION(app), argc, argv);
}
