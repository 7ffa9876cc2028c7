/* signet-clock.c: see signet-clock.h. */
#include "config.h"

#include "agent/signet-clock.h"

#ifdef SIGNET_FAULT_INJECTION
/* The fake time in $SIGNET_FAKE_NOW's file, or -1 to use the real clock. */
static gint64
fake_now(void)
{
  const char *path = g_getenv("SIGNET_FAKE_NOW");
  g_autofree char *text = NULL;
  g_autoptr(GDateTime) dt = NULL;
  char *end = NULL;
  gint64 value;

  if (path == NULL || *path == '\0' || !g_file_get_contents(path, &text, NULL, NULL))
    return -1;
  g_strstrip(text);
  value = g_ascii_strtoll(text, &end, 10);
  if (end != text && *end == '\0')
    return value;
  dt = g_date_time_new_from_iso8601(text, g_time_zone_new_utc());
  if (dt == NULL) {
    g_warning("SIGNET_FAKE_NOW: '%s' is neither Unix seconds nor ISO 8601; using the real clock",
              text);
    return -1;
  }
  return g_date_time_to_unix(dt);
}
#endif

gint64
signet_clock_now(void)
{
#ifdef SIGNET_FAULT_INJECTION
  gint64 fake = fake_now();

  if (fake >= 0)
    return fake;
#endif
  return g_get_real_time() / G_USEC_PER_SEC;
}

GDateTime *
signet_clock_now_utc(void)
{
  return g_date_time_new_from_unix_utc(signet_clock_now());
}
