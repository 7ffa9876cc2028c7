/* signet-gtk-agent.c: see signet-gtk-agent.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-agent.h"

#include <glib/gi18n.h>

struct _SignetGtkAgent
{
  GObject parent_instance;
  guint watch_id;
  GDBusConnection *connection;
  SignetAgent1 *proxy;
  GCancellable *cancellable;
  char *problem;
  gboolean connecting;
};

G_DEFINE_TYPE(SignetGtkAgent, signet_gtk_agent, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PROXY,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void
set_state(SignetGtkAgent *self, SignetAgent1 *proxy, const char *problem)
{
  self->connecting = FALSE;
  g_free(self->problem);
  self->problem = g_strdup(problem);
  g_set_object(&self->proxy, proxy);
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PROXY]);
}

static void
on_watch_tokens_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  if (!signet_agent1_call_watch_tokens_finish(SIGNET_AGENT1(source), res, &error))
    g_debug("WatchTokens: %s", error->message);
}

static void
on_proxy_ready_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetAgent1) proxy = signet_agent1_proxy_new_finish(res, &error);
  SignetGtkAgent *self;

  if (proxy == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = SIGNET_GTK_AGENT(data);
  if (proxy == NULL) {
    g_autofree char *why
        = g_strdup_printf(_("The agent's interface could not be read: %s"), error->message);
    set_state(self, NULL, why);
    return;
  }
  /* The agent stays while the window watches (it exits when idle otherwise). */
  signet_agent1_call_watch_tokens(proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_watch_tokens_cb,
                                  NULL);
  set_state(self, proxy, NULL);
}

static void
on_name_appeared_cb(GDBusConnection *connection, const char *name, const char *owner, gpointer data)
{
  SignetGtkAgent *self = SIGNET_GTK_AGENT(data);

  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  self->cancellable = g_cancellable_new();
  g_set_object(&self->connection, connection);
  signet_agent1_proxy_new(connection, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, name,
                          SIGNET_GTK_AGENT_OBJECT_PATH, self->cancellable, on_proxy_ready_cb, self);
}

static void
on_name_vanished_cb(GDBusConnection *connection, const char *name, gpointer data)
{
  SignetGtkAgent *self = SIGNET_GTK_AGENT(data);

  g_cancellable_cancel(self->cancellable);
  g_set_object(&self->connection, connection);
  if (connection == NULL)
    set_state(self, NULL, _("There is no session bus to reach the Signet agent on."));
  else
    set_state(self, NULL,
              _("The Signet agent (signetd) is not running and could not be started. Check that "
                "Signet is installed completely; the window connects as soon as the agent "
                "starts."));
}

void
signet_gtk_agent_retry(SignetGtkAgent *self)
{
  g_return_if_fail(SIGNET_GTK_IS_AGENT(self));
  if (self->connection == NULL || self->proxy != NULL)
    return;
  /* The watch sees the name appear; an error leaves the page as it is. */
  g_dbus_connection_call(self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                         "org.freedesktop.DBus", "StartServiceByName",
                         g_variant_new("(su)", SIGNET_GTK_AGENT_BUS_NAME, 0u), NULL,
                         G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
}

SignetAgent1 *
signet_gtk_agent_get_proxy(SignetGtkAgent *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_AGENT(self), NULL);
  return self->proxy;
}

gboolean
signet_gtk_agent_is_connecting(SignetGtkAgent *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_AGENT(self), FALSE);
  return self->connecting;
}

const char *
signet_gtk_agent_get_problem(SignetGtkAgent *self)
{
  g_return_val_if_fail(SIGNET_GTK_IS_AGENT(self), NULL);
  return self->problem;
}

static void
signet_gtk_agent_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SignetGtkAgent *self = SIGNET_GTK_AGENT(object);
  switch (prop_id) {
    case PROP_PROXY:
      g_value_set_object(value, self->proxy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void
signet_gtk_agent_dispose(GObject *object)
{
  SignetGtkAgent *self = SIGNET_GTK_AGENT(object);

  if (self->watch_id != 0)
    g_bus_unwatch_name(self->watch_id);
  self->watch_id = 0;
  g_cancellable_cancel(self->cancellable);
  g_clear_object(&self->cancellable);
  g_clear_object(&self->proxy);
  g_clear_object(&self->connection);
  G_OBJECT_CLASS(signet_gtk_agent_parent_class)->dispose(object);
}

static void
signet_gtk_agent_finalize(GObject *object)
{
  g_free(SIGNET_GTK_AGENT(object)->problem);
  G_OBJECT_CLASS(signet_gtk_agent_parent_class)->finalize(object);
}

static void
signet_gtk_agent_class_init(SignetGtkAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);

  object_class->get_property = signet_gtk_agent_get_property;
  object_class->dispose = signet_gtk_agent_dispose;
  object_class->finalize = signet_gtk_agent_finalize;
  props[PROP_PROXY] = g_param_spec_object("proxy", NULL, NULL, SIGNET_TYPE_AGENT1,
                                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);
}

static void
signet_gtk_agent_init(SignetGtkAgent *self)
{
  self->connecting = TRUE;
}

SignetGtkAgent *
signet_gtk_agent_new(void)
{
  SignetGtkAgent *self = g_object_new(SIGNET_GTK_TYPE_AGENT, NULL);

  /* AUTO_START: the bus starts signetd by D-Bus activation. */
  self->watch_id = g_bus_watch_name(G_BUS_TYPE_SESSION, SIGNET_GTK_AGENT_BUS_NAME,
                                    G_BUS_NAME_WATCHER_FLAGS_AUTO_START, on_name_appeared_cb,
                                    on_name_vanished_cb, self, NULL);
  return self;
}
