/* signet-gtk-screenshot.h: pictures of the window's pages, for the docs and
 * the screenshot script: with SIGNET_GTK_SCREENSHOT=DIR in the environment,
 * each page is saved as DIR/NAME.png once it has been drawn (GTK's own
 * rendering: the window's snapshot rendered by its renderer, then
 * gdk_texture_save_to_png). Without the variable nothing happens.
 *
 * Owns: that variable and the PNG files. May call: GTK.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Saves the window of @widget as NAME.png after its next frames. */
void signet_gtk_screenshot_later(GtkWidget *widget, const char *name);

/* Saves @window as @path now; FALSE (and @error) when it cannot. */
gboolean signet_gtk_screenshot_save(GtkWidget *window, const char *path, GError **error);

G_END_DECLS
