/* signet-gtk-screenshot.c: see signet-gtk-screenshot.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-screenshot.h"

gboolean
signet_gtk_screenshot_save(GtkWidget *window, const char *path, GError **error)
{
  int width = gtk_widget_get_width(window), height = gtk_widget_get_height(window);
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GtkSnapshot *snapshot;
  GskRenderer *renderer;

  renderer = GTK_IS_NATIVE(window) ? gtk_native_get_renderer(GTK_NATIVE(window)) : NULL;
  if (width <= 0 || height <= 0 || renderer == NULL) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "the window is not shown");
    return FALSE;
  }
  paintable = gtk_widget_paintable_new(window);
  snapshot = gtk_snapshot_new();
  gdk_paintable_snapshot(paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node(snapshot);
  if (node == NULL) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "nothing was drawn");
    return FALSE;
  }
  texture = gsk_renderer_render_texture(renderer, node,
                                        &GRAPHENE_RECT_INIT(0, 0, (float)width, (float)height));
  if (!gdk_texture_save_to_png(texture, path)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s could not be written", path);
    return FALSE;
  }
  return TRUE;
}

typedef struct
{
  char *name;
  int frames;
} Later;

static void
later_free(gpointer data)
{
  Later *later = data;
  g_free(later->name);
  g_free(later);
}

static gboolean
on_tick_cb(GtkWidget *window, GdkFrameClock *clock, gpointer data)
{
  Later *later = data;
  const char *dir = g_getenv("SIGNET_GTK_SCREENSHOT");
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  /* A few frames: the page laid out, its first answer drawn. */
  if (++later->frames < 5)
    return G_SOURCE_CONTINUE;
  /* Not on screen yet (the first page of a starting window): wait. */
  if ((gtk_widget_get_width(window) <= 0 || !gtk_widget_get_mapped(window)) && later->frames < 600)
    return G_SOURCE_CONTINUE;
  g_object_set_data(G_OBJECT(window), "signet-screenshot", NULL);
  file = g_strconcat(later->name, ".png", NULL);
  path = g_build_filename(dir, file, NULL);
  if (g_mkdir_with_parents(dir, 0755) != 0 || !signet_gtk_screenshot_save(window, path, &error))
    g_message("screenshot %s: %s", path, error != NULL ? error->message : g_strerror(errno));
  return G_SOURCE_REMOVE;
}

void
signet_gtk_screenshot_later(GtkWidget *widget, const char *name)
{
  const char *dir = g_getenv("SIGNET_GTK_SCREENSHOT");
  GtkRoot *root;
  Later *later;

  if (dir == NULL || *dir == '\0' || widget == NULL)
    return;
  root = gtk_widget_get_root(widget);
  if (root == NULL)
    return;
  /* A page shown before the last one was saved: only the last is saved. */
  guint pending = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(root), "signet-screenshot"));
  if (pending != 0)
    gtk_widget_remove_tick_callback(GTK_WIDGET(root), pending);
  later = g_new0(Later, 1);
  later->name = g_strdup(name);
  pending = gtk_widget_add_tick_callback(GTK_WIDGET(root), on_tick_cb, later, later_free);
  g_object_set_data(G_OBJECT(root), "signet-screenshot", GUINT_TO_POINTER(pending));
  gtk_widget_queue_draw(GTK_WIDGET(root));
}
