/* signet-cli-monitor.c: see signet-cli-monitor.h.
 *
 * The monitor subscribes to the agent's hotplug signals first, then calls
 * WatchTokens (which starts the agent through D-Bus activation if needed and
 * keeps it from exiting when idle while we are connected), then watches the
 * agent's bus name: if it goes away, so do we (exit 1).
 */
#include "config.h"

#include "cli/signet-cli-monitor.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>

#include "cli/signet-cli-errors.h"

#define AGENT_INTERFACE "io.signet.Agent1"

typedef struct
{
  GMainLoop *loop;
  gboolean json;
  gboolean agent_gone;
} Monitor;

static const struct
{
  const char *signal;
  const char *event;
} events[] = {
  { "ReaderAdded", "reader-added" },   { "ReaderRemoved", "reader-removed" },
  { "TokenAdded", "token-added" },     { "TokenRemoved", "token-removed" },
  { "TokenChanged", "token-changed" },
};

static char *
now_iso8601(void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autofree char *date = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");
  g_autofree char *zone = g_date_time_format(now, "%:z");

  return g_strdup_printf("%s.%03d%s", date, g_date_time_get_microsecond(now) / 1000, zone);
}

static void
print_json(const char *time, const char *event, GVariant *dict)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonGenerator) gen = json_generator_new();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  json_builder_begin_object(b);
  json_builder_set_member_name(b, "time");
  json_builder_add_string_value(b, time);
  json_builder_set_member_name(b, "event");
  json_builder_add_string_value(b, event);
  g_variant_iter_init(&iter, dict);
  while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
      json_builder_set_member_name(b, key);
      json_builder_add_string_value(b, g_variant_get_string(value, NULL));
    } else if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
      json_builder_set_member_name(b, key);
      json_builder_add_boolean_value(b, g_variant_get_boolean(value));
    } else {
      g_autoptr(JsonNode) node = json_gvariant_serialize(value);
      json_builder_set_member_name(b, key);
      json_builder_add_value(b, g_steal_pointer(&node));
    }
    g_variant_unref(value);
  }
  json_builder_end_object(b);
  root = json_builder_get_root(b);
  json_generator_set_root(gen, root);
  text = json_generator_to_data(gen, NULL);
  printf("%s\n", text);
}

/* TIME EVENT "READER"[ "LABEL" (SERIAL)][: MESSAGE] */
static void
print_text(const char *time, const char *event, GVariant *dict)
{
  const char *reader = "?", *label = NULL, *serial = NULL, *message = NULL;
  g_autoptr(GString) line = g_string_new(NULL);

  g_variant_lookup(dict, "reader", "&s", &reader);
  g_variant_lookup(dict, "label", "&s", &label);
  g_variant_lookup(dict, "serial", "&s", &serial);
  g_variant_lookup(dict, "message", "&s", &message);
  g_string_append_printf(line, "%s %s \"%s\"", time, event, reader);
  if (serial != NULL)
    g_string_append_printf(line, " \"%s\" (%s)", label ? label : "", serial);
  if (message != NULL)
    g_string_append_printf(line, ": %s", message);
  printf("%s\n", line->str);
}

static void
on_agent_signal_cb(GDBusConnection *connection, const char *sender, const char *path,
                   const char *interface, const char *signal, GVariant *parameters,
                   gpointer user_data)
{
  Monitor *m = user_data;
  g_autoptr(GVariant) dict = NULL;
  g_autofree char *time = NULL;
  const char *event = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(events); i++)
    if (g_strcmp0(signal, events[i].signal) == 0)
      event = events[i].event;
  if (event == NULL || !g_variant_is_of_type(parameters, G_VARIANT_TYPE("(a{sv})")))
    return;
  g_variant_get(parameters, "(@a{sv})", &dict);
  time = now_iso8601();
  if (m->json)
    print_json(time, event, dict);
  else
    print_text(time, event, dict);
  /* One event per line, as it happens, also into a pipe. */
  fflush(stdout);
}

static void
on_agent_vanished_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
  Monitor *m = user_data;

  m->agent_gone = TRUE;
  g_main_loop_quit(m->loop);
}

static gboolean
on_signal_cb(gpointer user_data)
{
  Monitor *m = user_data;

  g_main_loop_quit(m->loop);
  return G_SOURCE_CONTINUE;
}

gboolean
signet_cli_monitor(SignetAgent1 *proxy, gboolean json, GError **error)
{
  GDBusConnection *connection = g_dbus_proxy_get_connection(G_DBUS_PROXY(proxy));
  const char *name = g_dbus_proxy_get_name(G_DBUS_PROXY(proxy));
  const char *path = g_dbus_proxy_get_object_path(G_DBUS_PROXY(proxy));
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  Monitor m = { .loop = loop, .json = json };
  guint subscription, watch, sigint_id, sigterm_id;

  /* Subscribe first, so that nothing between WatchTokens and here is lost. */
  subscription
      = g_dbus_connection_signal_subscribe(connection, name, AGENT_INTERFACE, NULL, path, NULL,
                                           G_DBUS_SIGNAL_FLAGS_NONE, on_agent_signal_cb, &m, NULL);
  if (!signet_agent1_call_watch_tokens_sync(proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, error)) {
    g_dbus_connection_signal_unsubscribe(connection, subscription);
    if (error != NULL && *error != NULL)
      g_dbus_error_strip_remote_error(*error);
    g_prefix_error(error, "%s",
                   _("Could not reach the Signet agent (signetd) on the session bus: "));
    return FALSE;
  }
  watch = g_bus_watch_name_on_connection(connection, name, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                         on_agent_vanished_cb, &m, NULL);
  sigint_id = g_unix_signal_add(SIGINT, on_signal_cb, &m);
  sigterm_id = g_unix_signal_add(SIGTERM, on_signal_cb, &m);

  g_main_loop_run(loop);

  g_source_remove(sigint_id);
  g_source_remove(sigterm_id);
  g_bus_unwatch_name(watch);
  g_dbus_connection_signal_unsubscribe(connection, subscription);
  if (m.agent_gone) {
    g_set_error_literal(error, SIGNET_CLI_ERROR, SIGNET_CLI_ERROR_FAILED,
                        _("The Signet agent (signetd) went away; no more events"));
    return FALSE;
  }
  return TRUE;
}
