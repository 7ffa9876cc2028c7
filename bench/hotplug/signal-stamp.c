/* signal-stamp.c: the D-Bus client of bench/hotplug/latency.sh. It
 * subscribes to the agent's signals (io.signet.Agent1 at /io/signet/Agent on
 * the session bus) and prints one line per signal:
 *
 *   MEMBER WIRE_US DISPATCH_US READER
 *
 * WIRE_US is CLOCK_MONOTONIC (microseconds) when GDBus's worker thread read
 * the message off the bus socket (a connection filter, the earliest a GDBus
 * client can see it); DISPATCH_US when the subscription's callback ran in
 * the main loop, as an application sees it. READER is the "reader" entry of
 * the signal's dictionary ("-" when absent). Runs until killed; prints
 * "ready" once subscribed.
 *
 * Built by the bench scripts themselves:
 *   cc -O2 -Wall -Wextra $(pkg-config --cflags gio-2.0) signal-stamp.c \
 *      $(pkg-config --libs gio-2.0) -o signal-stamp
 * Not part of the build or of `make check`.
 */
#include <gio/gio.h>
#include <stdio.h>

#define AGENT_NAME  "io.signet.Agent"
#define AGENT_PATH  "/io/signet/Agent"
#define AGENT_IFACE "io.signet.Agent1"

/* Wire times of the agent's signals read but not dispatched yet, in order:
 * the filter runs in GDBus's worker thread, the callback later in the main
 * loop, both in the order the messages came. */
static GMutex lock;
static GQueue wire_times = G_QUEUE_INIT;

static GDBusMessage *
on_message_filter_cb(GDBusConnection *connection, GDBusMessage *message, gboolean incoming,
                     gpointer user_data)
{
  gint64 t = g_get_monotonic_time();

  if (incoming && g_dbus_message_get_message_type(message) == G_DBUS_MESSAGE_TYPE_SIGNAL
      && g_strcmp0(g_dbus_message_get_interface(message), AGENT_IFACE) == 0) {
    g_mutex_lock(&lock);
    g_queue_push_tail(&wire_times, g_memdup2(&t, sizeof t));
    g_mutex_unlock(&lock);
  }
  return message;
}

static void
on_agent_signal_cb(GDBusConnection *connection, const char *sender, const char *path,
                   const char *iface, const char *member, GVariant *params, gpointer user_data)
{
  gint64 dispatch = g_get_monotonic_time();
  const char *reader = "-";
  g_autoptr(GVariant) dict = NULL;
  g_autofree gint64 *wire_t = NULL;

  if (g_variant_is_of_type(params, G_VARIANT_TYPE("(a{sv})"))) {
    dict = g_variant_get_child_value(params, 0);
    g_variant_lookup(dict, "reader", "&s", &reader);
  }
  g_mutex_lock(&lock);
  wire_t = g_queue_pop_head(&wire_times);
  g_mutex_unlock(&lock);
  printf("%s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %s\n", member, wire_t ? *wire_t : -1,
         dispatch, reader);
  fflush(stdout);
}

int
main(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);

  bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL) {
    fprintf(stderr, "signal-stamp: %s\n", error->message);
    return 1;
  }
  g_dbus_connection_add_filter(bus, on_message_filter_cb, NULL, NULL);
  g_dbus_connection_signal_subscribe(bus, NULL, AGENT_IFACE, NULL, AGENT_PATH, NULL,
                                     G_DBUS_SIGNAL_FLAGS_NONE, on_agent_signal_cb, NULL, NULL);
  /* A round trip, so that the match rule is in place before "ready". */
  g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                              "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                              G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  printf("ready\n");
  fflush(stdout);
  g_main_loop_run(loop);
  return 0;
}
