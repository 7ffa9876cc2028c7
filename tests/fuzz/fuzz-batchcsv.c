/* fuzz-batchcsv.c: libFuzzer harness for signet_batch_csv_parse(), the
 * holders' CSV of signet batch (a file an administrator got from elsewhere:
 * any bytes). Checks what the parser promises: a result or a list of
 * problems, never both; every value of a row valid UTF-8 without control
 * characters (line breaks only in unknown columns); no code in a message. */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "common/signet-util.h"
#include "libsignet/signet-batch-csv.h"

#include <string.h>

static void
check_value(const char *value, gboolean required)
{
  g_assert_nonnull(value);
  g_assert_true(g_utf8_validate(value, -1, NULL));
  g_assert_false(signet_has_control_chars(value));
  if (required)
    g_assert_cmpuint(strlen(value), >, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SignetBatchCsv) csv = NULL;
  guint n = 0;

  if (size > 65536)
    return 0;
  csv = signet_batch_csv_parse((const char *)data, size, &n, &error);
  if (csv == NULL) {
    g_assert_nonnull(error);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    if (error->code == SIGNET_BATCH_CSV_ERROR_INVALID)
      g_assert_cmpuint(n, >, 0);
    return 0;
  }
  g_assert_null(error);
  g_assert_cmpuint(n, ==, 0);
  g_assert_cmpuint(csv->rows->len, >, 0);
  g_assert_true(csv->delimiter == ',' || csv->delimiter == ';');
  for (guint i = 0; i < csv->rows->len; i++) {
    SignetBatchRow *row = csv->rows->pdata[i];

    g_assert_cmpuint(row->line, >=, 2);
    if (i > 0)
      g_assert_cmpuint(row->line, >, ((SignetBatchRow *)csv->rows->pdata[i - 1])->line);
    check_value(row->reference, TRUE);
    check_value(row->code, TRUE);
    check_value(row->name, TRUE);
    check_value(row->email, TRUE);
    check_value(row->serial, FALSE);
    g_assert_nonnull(strchr(row->email, '@'));
    g_assert_cmpuint(g_strv_length(row->extra), ==, g_strv_length(csv->extra_names));
    for (guint e = 0; row->extra[e] != NULL; e++)
      g_assert_true(g_utf8_validate(row->extra[e], -1, NULL));
    for (guint j = 0; j < i; j++) {
      SignetBatchRow *other = csv->rows->pdata[j];

      g_assert_cmpstr(row->reference, !=, other->reference);
      g_assert_cmpstr(row->code, !=, other->code);
      if (*row->serial != '\0')
        g_assert_cmpstr(row->serial, !=, other->serial);
    }
  }
  return 0;
}
