/* signet-hotplug-signals.c: what clients are told about a reader
 * (docs/dbus-api.md; docs/internals/hotplug.md, "From snapshots to
 * signals").
 *
 * Owns: the reader's dictionary (reader, state, card_present, in_use,
 * message, atr, pkcs11, and the token's label, serial, uri and module), the
 * signals ReaderAdded, ReaderRemoved, TokenAdded, TokenRemoved and
 * TokenChanged, and the log line that times each one (bench/).
 * May call: the agent's skeleton (signet-dbus-generated.h), GLib/GIO.
 *
 * Threads: the main context.
 */
#include "config.h"

#include "agent/signet-hotplug.h"
#include "agent/signet-hotplug-private.h"

static const char *const pkcs11_names[] = { NULL, "reading", "token", "none" };

static const char *const event_names[]
    = { "ReaderAdded", "ReaderRemoved", "TokenAdded", "TokenRemoved", "TokenChanged" };

static const char *
state_name(const Reader *r)
{
  const SignetReaderState *st = r->state;

  if (signet_hotplug_reader_in_use(r))
    return "in-use";
  if (!st->present)
    return "empty";
  if (st->mute)
    return "mute";
  return "present";
}

static char *
atr_hex(GBytes *atr)
{
  gsize n;
  const guint8 *p = g_bytes_get_data(atr, &n);
  GString *s = g_string_sized_new(n * 2 + 1);

  for (gsize i = 0; i < n; i++)
    g_string_append_printf(s, "%02X", p[i]);
  return g_string_free(s, FALSE);
}

/* The dictionary of every signal and of ListReaders (docs/dbus-api.md). */
GVariant *
signet_hotplug_reader_dict(const Reader *r)
{
  const SignetReaderState *st = r->state;
  GVariantDict d;

  g_variant_dict_init(&d, NULL);
  g_variant_dict_insert(&d, "reader", "s", st->name);
  g_variant_dict_insert(&d, "state", "s", state_name(r));
  g_variant_dict_insert(&d, "card_present", "b", st->present);
  g_variant_dict_insert(&d, "in_use", "b", signet_hotplug_reader_in_use(r));
  if (signet_hotplug_reader_in_use(r))
    g_variant_dict_insert(&d, "message", "s", "reader in use by another program");
  else if (st->present && st->mute)
    g_variant_dict_insert(&d, "message", "s", "the card does not answer");
  /* TokenRemoved still names the card that went away. */
  if (st->atr != NULL) {
    g_autofree char *hex = atr_hex(st->atr);
    g_variant_dict_insert(&d, "atr", "s", hex);
  }
  if (r->pkcs11 != PKCS11_UNSET)
    g_variant_dict_insert(&d, "pkcs11", "s", pkcs11_names[r->pkcs11]);
  if (r->serial != NULL) {
    g_variant_dict_insert(&d, "label", "s", r->label ? r->label : "");
    g_variant_dict_insert(&d, "serial", "s", r->serial);
    if (r->uri != NULL)
      g_variant_dict_insert(&d, "uri", "s", r->uri);
    if (r->module != NULL)
      g_variant_dict_insert(&d, "module", "s", r->module);
  }
  return g_variant_dict_end(&d);
}

void
signet_hotplug_emit(SignetHotplug *hp, EventKind kind, const Reader *r, gint64 seen)
{
  GVariant *dict = signet_hotplug_reader_dict(r);

  switch (kind) {
    case EVENT_READER_ADDED:
      signet_agent1_emit_reader_added(hp->skeleton, dict);
      break;
    case EVENT_READER_REMOVED:
      signet_agent1_emit_reader_removed(hp->skeleton, dict);
      break;
    case EVENT_TOKEN_ADDED:
      signet_agent1_emit_token_added(hp->skeleton, dict);
      break;
    case EVENT_TOKEN_REMOVED:
      signet_agent1_emit_token_removed(hp->skeleton, dict);
      break;
    case EVENT_TOKEN_CHANGED:
      signet_agent1_emit_token_changed(hp->skeleton, dict);
      break;
  }
  /* Monotonic times, for measuring the event path (bench/). */
  g_debug("hotplug: %s \"%s\"%s%s%s at %" G_GINT64_FORMAT " us monotonic, %" G_GINT64_FORMAT
          " us after PC/SC saw it",
          event_names[kind], r->state->name, r->serial ? " token \"" : "",
          r->serial ? r->label : "", r->serial ? "\"" : "", g_get_monotonic_time(),
          g_get_monotonic_time() - seen);
}
