/* test-hotplug-units.c: the matching rule between PKCS#11 slots and PC/SC
 * readers, reader states, and the monitor's start and prompt stop whether
 * or not pcscd answers. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "agent/signet-hotplug.h"
#include "agent/signet-monitor.h"

static void
test_match_exact(void)
{
  g_assert_true(signet_hotplug_slot_matches_reader("Virtual PCD 00 00", "Virtual PCD 00 00"));
  /* Blank-padded as PKCS#11 pads it. */
  g_assert_true(signet_hotplug_slot_matches_reader(
      "Virtual PCD 00 00                                               ", "Virtual PCD 00 00"));
  /* Readers sharing a prefix are different readers. */
  g_assert_false(signet_hotplug_slot_matches_reader("Virtual PCD 00 00", "Virtual PCD 00 01"));
  g_assert_false(signet_hotplug_slot_matches_reader("Virtual PCD 00 01", "Virtual PCD 00 00"));
  g_assert_false(signet_hotplug_slot_matches_reader("Virtual PCD 00 00", "Virtual PCD 00 00 1"));
  g_assert_false(signet_hotplug_slot_matches_reader("Virtual PCD", "Virtual PCD 00 00"));
  /* SoftHSM2 names its slots nothing like a reader. */
  g_assert_false(signet_hotplug_slot_matches_reader("SoftHSM slot ID 0x1", "Virtual PCD 00 00"));
  g_assert_false(signet_hotplug_slot_matches_reader("", ""));
  g_assert_false(signet_hotplug_slot_matches_reader(NULL, "Virtual PCD 00 00"));
}

static void
test_match_long_name(void)
{
  /* 70 bytes: OpenSC keeps the first 64 in the slot description. */
  const char *reader = "Very Long Vendor Name Smart Card Reader Interface With Suffix (1) 00 00";
  const char *other = "Very Long Vendor Name Smart Card Reader Interface With Suffix (1) 00 01";
  g_autofree char *cut = g_strndup(reader, 64);

  g_assert_cmpuint(strlen(reader), >, 64);
  g_assert_true(signet_hotplug_slot_matches_reader(cut, reader));
  /* A slot description has 64 bytes: it is never the whole long name. */
  g_assert_false(signet_hotplug_slot_matches_reader(reader, reader));
  /* Two long names that differ only after 64 bytes cannot be told apart by
   * the slot description: both match (docs/internals/hotplug.md). */
  g_assert_true(signet_hotplug_slot_matches_reader(cut, other));
  g_assert_false(signet_hotplug_slot_matches_reader("Very Long Vendor", reader));
}

static void
test_reader_state_equal(void)
{
  static const guint8 atr1[] = { 0x3B, 0x95, 0x13, 0x81 };
  static const guint8 atr2[] = { 0x3B, 0x95, 0x13, 0x82 };
  SignetReaderState a = { .name = (char *)"R 00 00", .present = TRUE, .event_count = 1 };
  g_autoptr(SignetReaderState) b = NULL;

  a.atr = g_bytes_new_static(atr1, sizeof atr1);
  b = signet_reader_state_copy(&a);
  g_assert_true(signet_reader_state_equal(&a, b));
  /* Another card in the same reader (counted by pcsc-lite). */
  b->event_count = 3;
  g_assert_false(signet_reader_state_equal(&a, b));
  b->event_count = 1;
  g_bytes_unref(b->atr);
  b->atr = g_bytes_new_static(atr2, sizeof atr2);
  g_assert_false(signet_reader_state_equal(&a, b));
  g_clear_pointer(&b->atr, g_bytes_unref);
  b->atr = g_bytes_ref(a.atr);
  b->exclusive = TRUE;
  g_assert_false(signet_reader_state_equal(&a, b));
  g_bytes_unref(a.atr);
}

static void
on_snapshot_cb(SignetReaderSnapshot *snapshot, gpointer user_data)
{
  SignetReaderSnapshot **out = user_data;

  signet_reader_snapshot_free(*out);
  *out = snapshot;
}

static void
test_monitor_start_stop(void)
{
  SignetReaderSnapshot *first = NULL;
  SignetMonitor *m = signet_monitor_new(on_snapshot_cb, &first);
  gint64 end = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
  gint64 t0;

  /* Whether pcscd runs here or not, the first state comes at once. */
  while (first == NULL && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, TRUE);
  g_assert_nonnull(first);
  g_assert_nonnull(first->readers);
  if (!first->service)
    g_assert_cmpuint(first->readers->len, ==, 0);
  t0 = g_get_monotonic_time();
  signet_monitor_free(m);
  g_assert_cmpint(g_get_monotonic_time() - t0, <, G_TIME_SPAN_SECOND);
  signet_reader_snapshot_free(first);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/hotplug/match/exact", test_match_exact);
  g_test_add_func("/hotplug/match/long-name", test_match_long_name);
  g_test_add_func("/hotplug/reader-state/equal", test_reader_state_equal);
  g_test_add_func("/hotplug/monitor/start-stop", test_monitor_start_stop);
  return g_test_run();
}
