/* minimal-service.c: the reference of bench/ops/coldstart.sh: the smallest
 * GLib D-Bus service started the way signetd is, by D-Bus activation of a
 * GApplication with G_APPLICATION_IS_SERVICE. It owns the name given as
 * argv[1] (default io.signet.BenchMinimal) and exports one interface of one
 * method on the application's object path (the name with '.' as '/'):
 *
 *   io.signet.BenchMinimal.Ping () -> (s "pong")
 *
 * Nothing else: no configuration, no module, no database, no thread of its
 * own. It holds itself, as signetd does, and runs until SIGTERM or SIGINT.
 *
 * Built by the bench script itself:
 *   cc -O2 -Wall -Wextra $(pkg-config --cflags gio-2.0) minimal-service.c \
 *      $(pkg-config --libs gio-2.0) -o minimal-service
 * Not part of the build or of `make check`.
 */
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>

#define INTERFACE "io.signet.BenchMinimal"

static const char introspection_xml[] = "<node>"
                                        "  <interface name='" INTERFACE "'>"
                                        "    <method name='Ping'>"
                                        "      <arg type='s' name='answer' direction='out'/>"
                                        "    </method>"
                                        "  </interface>"
                                        "</node>";

static GDBusNodeInfo *introspection;
static guint registration_id;

static void
on_method_call_cb(GDBusConnection *connection, const char *sender, const char *object_path,
                  const char *interface_name, const char *method_name, GVariant *parameters,
                  GDBusMethodInvocation *invocation, gpointer user_data)
{
  (void)connection, (void)sender, (void)object_path, (void)interface_name, (void)parameters;
  (void)user_data;
  if (g_strcmp0(method_name, "Ping") == 0)
    g_dbus_method_invocation_return_value(invocation, g_variant_new("(s)", "pong"));
  else
    g_dbus_method_invocation_return_error(invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                          "No method %s", method_name);
}

static const GDBusInterfaceVTable vtable = { on_method_call_cb, NULL, NULL, { 0 } };

/* As signetd: the object is exported in dbus_register, before the name. */
static gboolean
on_dbus_register(GApplication *app, GDBusConnection *connection, const char *object_path,
                 GError **error)
{
  (void)app;
  registration_id = g_dbus_connection_register_object(
      connection, object_path, introspection->interfaces[0], &vtable, NULL, NULL, error);
  return registration_id != 0;
}

static gboolean
on_signal_cb(gpointer user_data)
{
  g_application_quit(G_APPLICATION(user_data));
  return G_SOURCE_CONTINUE;
}

typedef GApplicationClass MinimalServiceClass;
typedef GApplication MinimalService;
G_DEFINE_TYPE(MinimalService, minimal_service, G_TYPE_APPLICATION)

static void
minimal_service_class_init(MinimalServiceClass *klass)
{
  klass->dbus_register = on_dbus_register;
}

static void
minimal_service_init(MinimalService *app)
{
  (void)app;
}

int
main(int argc, char **argv)
{
  const char *name = argc > 1 ? argv[1] : INTERFACE;
  char *run_argv[] = { argv[0], NULL };
  GApplication *app;
  int status;

  introspection = g_dbus_node_info_new_for_xml(introspection_xml, NULL);
  g_assert_nonnull(introspection);
  app = g_object_new(minimal_service_get_type(), "application-id", name, "flags",
                     G_APPLICATION_IS_SERVICE, NULL);
  g_unix_signal_add(SIGTERM, on_signal_cb, app);
  g_unix_signal_add(SIGINT, on_signal_cb, app);
  /* Held until a signal, as signetd is until its idle timeout. */
  g_application_hold(app);
  status = g_application_run(app, 1, run_argv);
  g_object_unref(app);
  g_dbus_node_info_unref(introspection);
  return status;
}
