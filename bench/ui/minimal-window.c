/* bench/ui/minimal-window.c: the reference for bench/ui/launch.sh: the
 * smallest GTK 4 + libadwaita window that shows what signet-gtk's first
 * filled frame shows, a list with one row named after a token (argv[1]),
 * built in code at startup (no D-Bus call, no GResource). Built by the
 * bench script with cc and pkg-config, never by make. */
#include <adwaita.h>

static const char *row_name = "token";

static void
on_activate_cb(GtkApplication *app, gpointer data)
{
  GtkWidget *win = adw_application_window_new(app);
  GtkWidget *list = gtk_list_box_new();
  GtkWidget *row = adw_action_row_new();

  (void)data;
  adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), row_name);
  gtk_list_box_append(GTK_LIST_BOX(list), row);
  gtk_accessible_update_property(GTK_ACCESSIBLE(list), GTK_ACCESSIBLE_PROPERTY_LABEL, "Tokens", -1);
  adw_application_window_set_content(ADW_APPLICATION_WINDOW(win), list);
  gtk_window_set_title(GTK_WINDOW(win), "Minimal");
  gtk_window_set_default_size(GTK_WINDOW(win), 800, 600);
  gtk_window_present(GTK_WINDOW(win));
}

int
main(int argc, char **argv)
{
  g_autoptr(AdwApplication) app = NULL;

  if (argc > 1)
    row_name = argv[1];
  app = adw_application_new("io.signet.BenchMinimal", G_APPLICATION_NON_UNIQUE);
  g_signal_connect(app, "activate", G_CALLBACK(on_activate_cb), NULL);
  return g_application_run(G_APPLICATION(app), 1, argv);
}
