/* signet-batch-csv.c: see signet-batch-csv.h. */
#include "config.h"

#include "libsignet/signet-batch-csv.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/signet-secret.h"
#include "common/signet-util.h"

G_DEFINE_QUARK(signet - batch - csv - error - quark, signet_batch_csv_error)

/* The longest reference and serial accepted. */
#define MAX_REFERENCE 256
#define MAX_SERIAL    64

enum
{
  COL_REFERENCE,
  COL_CODE,
  COL_NAME,
  COL_EMAIL,
  COL_SERIAL,
  N_KNOWN
};

/* Column names as the header writes them (case aside, and "e-mail" for
 * email): not translated. */
static const char *const known_names[N_KNOWN] = { "reference", "code", "name", "email", "serial" };

/* One record as read: its fields (GString, may hold any byte) and the line
 * each field starts on. */
typedef struct
{
  guint line;
  GPtrArray *fields;
  GArray *lines;
} Record;

static void
wipe_string(char *s)
{
  if (s != NULL) {
    explicit_bzero(s, strlen(s));
    g_free(s);
  }
}

static void
gstring_wipe_free(gpointer p)
{
  GString *s = p;

  explicit_bzero(s->str, s->allocated_len);
  g_string_free(s, TRUE);
}

static void
record_free(gpointer p)
{
  Record *r = p;

  g_ptr_array_unref(r->fields);
  g_array_unref(r->lines);
  g_free(r);
}

static Record *
record_new(guint line)
{
  Record *r = g_new0(Record, 1);

  r->line = line;
  r->fields = g_ptr_array_new_with_free_func(gstring_wipe_free);
  r->lines = g_array_new(FALSE, FALSE, sizeof(guint));
  return r;
}

static void
row_free(gpointer p)
{
  SignetBatchRow *row = p;

  wipe_string(row->reference);
  wipe_string(row->code);
  wipe_string(row->name);
  wipe_string(row->email);
  wipe_string(row->serial);
  g_strfreev(row->extra);
  g_free(row);
}

void
signet_batch_csv_free(SignetBatchCsv *csv)
{
  if (csv == NULL)
    return;
  g_clear_pointer(&csv->rows, g_ptr_array_unref);
  g_strfreev(csv->extra_names);
  g_free(csv);
}

static void problem(GPtrArray *problems, guint line, const char *format, ...) G_GNUC_PRINTF(3, 4);

static void
problem(GPtrArray *problems, guint line, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start(args, format);
  text = g_strdup_vprintf(format, args);
  va_end(args);
  /* The line first, for sorting: stripped when the message is made. */
  g_ptr_array_add(problems, g_strdup_printf("%010u|%s", line, text));
}

/* Problems in line order; a stable sort keeps each line's own order. */
static gint
compare_problems(gconstpointer a, gconstpointer b)
{
  return strncmp(*(const char *const *)a, *(const char *const *)b, 10);
}

/* The header's delimiter: ';' when its first line (outside quotes) has
 * more semicolons than commas, else ','. */
static char
detect_delimiter(const char *p, const char *end)
{
  guint commas = 0, semicolons = 0;
  gboolean quoted = FALSE;

  for (; p < end; p++) {
    if (*p == '"')
      quoted = !quoted;
    else if (!quoted && (*p == '\n' || *p == '\r'))
      break;
    else if (!quoted && *p == ',')
      commas++;
    else if (!quoted && *p == ';')
      semicolons++;
  }
  return semicolons > commas ? ';' : ',';
}

static gboolean
is_line_end(const char *p, const char *end)
{
  return p < end && (*p == '\n' || *p == '\r');
}

/* Splits @p..@end into records (RFC 4180). Blank lines are skipped. FALSE
 * when the rest cannot be read (an unclosed quote, too many rows); other
 * problems are added and reading goes on. */
static gboolean
tokenize(const char *p, const char *end, char delim, GPtrArray *records, GPtrArray *problems)
{
  guint line = 1;

  while (p < end) {
    Record *r = record_new(line);

    for (;;) {
      GString *f = g_string_new(NULL);
      guint fline = line;
      gboolean too_long = FALSE;

      if (p < end && *p == '"') {
        p++;
        for (;;) {
          if (p >= end) {
            problem(problems, fline, "%s",
                    _("a quoted field is not closed: a quote (\") is missing before the end of "
                      "the file"));
            gstring_wipe_free(f);
            record_free(r);
            return FALSE;
          }
          if (*p == '"') {
            if (p + 1 < end && p[1] == '"') {
              p++;
            } else {
              p++;
              break;
            }
          } else if (*p == '\n' || (*p == '\r' && (p + 1 >= end || p[1] != '\n')))
            line++;
          if (f->len < SIGNET_BATCH_CSV_MAX_FIELD)
            g_string_append_c(f, *p);
          else
            too_long = TRUE;
          p++;
        }
        if (p < end && *p != delim && !is_line_end(p, end)) {
          problem(problems, line, "%s",
                  _("text after the closing quote of a field (double a quote inside a quoted "
                    "field: \"\")"));
          while (p < end && *p != delim && !is_line_end(p, end))
            p++;
        }
      } else {
        gboolean bad_quote = FALSE;

        while (p < end && *p != delim && !is_line_end(p, end)) {
          if (*p == '"' && !bad_quote) {
            problem(problems, line, "%s",
                    _("a quote (\") inside a field that does not start with one (quote the "
                      "whole field and double the quote)"));
            bad_quote = TRUE;
          }
          if (f->len < SIGNET_BATCH_CSV_MAX_FIELD)
            g_string_append_c(f, *p);
          else
            too_long = TRUE;
          p++;
        }
      }
      if (too_long)
        problem(problems, fline, _("a field longer than %u bytes"), SIGNET_BATCH_CSV_MAX_FIELD);
      g_ptr_array_add(r->fields, f);
      g_array_append_val(r->lines, fline);
      if (p < end && *p == delim) {
        p++;
        continue;
      }
      if (p < end && *p == '\r')
        p++;
      if (p < end && *p == '\n')
        p++;
      line++;
      break;
    }
    if (r->fields->len == 1 && ((GString *)r->fields->pdata[0])->len == 0)
      record_free(r); /* a blank line */
    else
      g_ptr_array_add(records, r);
    if (records->len > SIGNET_BATCH_CSV_MAX_ROWS + 1) {
      problem(problems, line, _("more than %u rows; split the file"), SIGNET_BATCH_CSV_MAX_ROWS);
      return FALSE;
    }
  }
  return TRUE;
}

/* A well-formed e-mail address for the report: one '@', something before
 * it, a domain after it with a dot inside, no blank. */
static gboolean
email_valid(const char *s)
{
  const char *at = strchr(s, '@');
  const char *dot;

  if (at == NULL || at == s || strchr(at + 1, '@') != NULL || strpbrk(s, " \t") != NULL)
    return FALSE;
  dot = strchr(at + 1, '.');
  return dot != NULL && dot != at + 1 && dot[1] != '\0';
}

static gboolean
serial_valid(const char *s)
{
  for (; *s != '\0'; s++)
    if ((guchar)*s <= 0x20 || (guchar)*s >= 0x7f)
      return FALSE;
  return TRUE;
}

/* A value as text: valid UTF-8 without NUL. A problem and FALSE otherwise. */
static gboolean
field_text(GString *f, guint line, const char *column, gboolean keep_layout, GPtrArray *problems)
{
  if (strlen(f->str) != f->len) {
    problem(problems, line, _("column '%s' holds a control character"), column);
    return FALSE;
  }
  if (!g_utf8_validate(f->str, (gssize)f->len, NULL)) {
    /* TRANSLATORS: %s is a column's name as the header writes it. */
    problem(problems, line, _("column '%s' is not valid UTF-8 (save the file as UTF-8)"), column);
    return FALSE;
  }
  if (keep_layout) {
    for (const char *c = f->str; *c != '\0'; c = g_utf8_next_char(c)) {
      gunichar u = g_utf8_get_char(c);

      if ((u < 0x20 && u != '\t' && u != '\n' && u != '\r') || (u >= 0x7f && u <= 0x9f)) {
        problem(problems, line, _("column '%s' holds a control character"), column);
        return FALSE;
      }
    }
  } else if (signet_has_control_chars(f->str)) {
    problem(problems, line, _("column '%s' holds a control character"), column);
    return FALSE;
  }
  return TRUE;
}

/* A value quoted in a message: one line, no terminal escapes. */
static char *
shown(const char *value)
{
  return signet_escape_control_chars(value, FALSE);
}

/* Reads the header: the index of each known column (-1 when absent), the
 * unknown columns' names. FALSE when the rows cannot be checked. */
static gboolean
read_header(Record *header, int *known, GPtrArray *extra_names, GArray *extra_index,
            GPtrArray *problems)
{
  gboolean ok = TRUE;

  for (guint k = 0; k < N_KNOWN; k++)
    known[k] = -1;
  for (guint i = 0; i < header->fields->len; i++) {
    GString *f = header->fields->pdata[i];
    g_autofree char *name = NULL;
    g_autofree char *folded = NULL;
    guint k;

    if (!g_utf8_validate(f->str, (gssize)f->len, NULL) || strlen(f->str) != f->len
        || signet_has_control_chars(f->str)) {
      problem(problems, header->line,
              _("the name of column %u is not text (valid UTF-8 without control characters)"),
              i + 1);
      ok = FALSE;
      continue;
    }
    name = g_strstrip(g_strdup(f->str));
    folded = g_ascii_strdown(name, -1);
    if (g_str_equal(folded, "e-mail"))
      g_strlcpy(folded, "email", strlen(folded) + 1);
    for (k = 0; k < N_KNOWN; k++)
      if (g_str_equal(folded, known_names[k]))
        break;
    if (k == N_KNOWN) {
      g_ptr_array_add(extra_names, g_steal_pointer(&name));
      g_array_append_val(extra_index, i);
    } else if (known[k] >= 0) {
      problem(problems, header->line, _("column '%s' appears twice (columns %d and %u)"),
              known_names[k], known[k] + 1, i + 1);
      ok = FALSE;
    } else
      known[k] = (int)i;
  }
  for (guint k = 0; k < N_KNOWN; k++)
    if (known[k] < 0 && k != COL_SERIAL) {
      /* TRANSLATORS: the column's name (not translated: it is what the
       * header must say). */
      problem(problems, header->line,
              _("the header names no column '%s' (it needs reference, code, name and email; "
                "serial is optional)"),
              known_names[k]);
      ok = FALSE;
    }
  return ok;
}

/* The line @value was first seen on, or 0 (and then it is recorded as seen
 * on @line). An empty value is never a duplicate. */
static guint
seen_before(GHashTable *seen, const char *value, guint line)
{
  gpointer earlier;

  if (*value == '\0')
    return 0;
  if (g_hash_table_lookup_extended(seen, value, NULL, &earlier))
    return GPOINTER_TO_UINT(earlier);
  g_hash_table_insert(seen, g_strdup(value), GUINT_TO_POINTER(line));
  return 0;
}

static void
wipe_key(gpointer p)
{
  wipe_string(p);
}

SignetBatchCsv *
signet_batch_csv_parse(const char *data, gsize len, guint *out_n_problems, GError **error)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func(record_free);
  g_autoptr(GPtrArray) extra_names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GArray) extra_index = g_array_new(FALSE, FALSE, sizeof(guint));
  g_autoptr(GHashTable) references = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) serials = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) codes = g_hash_table_new_full(g_str_hash, g_str_equal, wipe_key, NULL);
  g_autoptr(SignetBatchCsv) csv = g_new0(SignetBatchCsv, 1);
  const char *end = data + len;
  int known[N_KNOWN];

  csv->rows = g_ptr_array_new_with_free_func(row_free);
  if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
    data += 3;
  csv->delimiter = detect_delimiter(data, end);

  if (len > SIGNET_BATCH_CSV_MAX_BYTES) {
    g_set_error(error, SIGNET_BATCH_CSV_ERROR, SIGNET_BATCH_CSV_ERROR_TOO_BIG,
                _("The file is larger than %u bytes; split it"), SIGNET_BATCH_CSV_MAX_BYTES);
    return NULL;
  }
  if (tokenize(data, end, csv->delimiter, records, problems) && records->len == 0)
    problem(problems, 1, "%s",
            _("the file is empty (a header naming reference, code, name and email comes first)"));
  else if (records->len > 0
           && read_header(records->pdata[0], known, extra_names, extra_index, problems)) {
    Record *header = records->pdata[0];

    if (records->len == 1)
      problem(problems, header->line, "%s", _("no holder follows the header"));
    for (guint i = 1; i < records->len; i++) {
      Record *r = records->pdata[i];
      SignetBatchRow *row;
      gboolean ok = TRUE;
      char *value[N_KNOWN] = { NULL };
      guint earlier;

      if (r->fields->len != header->fields->len) {
        problem(problems, r->line, _("%u fields where the header has %u"), r->fields->len,
                header->fields->len);
        continue;
      }
      for (guint k = 0; k < N_KNOWN; k++) {
        guint line;

        if (known[k] < 0) {
          value[k] = g_strdup("");
          continue;
        }
        line = g_array_index(r->lines, guint, known[k]);
        if (!field_text(r->fields->pdata[known[k]], line, known_names[k], FALSE, problems)) {
          ok = FALSE;
          value[k] = g_strdup("");
          continue;
        }
        value[k] = g_strstrip(g_strdup(((GString *)r->fields->pdata[known[k]])->str));
        if (*value[k] == '\0' && k != COL_SERIAL) {
          /* TRANSLATORS: %s is a column's name (reference, code, name, email). */
          problem(problems, line, _("the %s is missing"), known_names[k]);
          ok = FALSE;
        }
      }
      for (guint e = 0; e < extra_index->len; e++) {
        guint col = g_array_index(extra_index, guint, e);

        if (!field_text(r->fields->pdata[col], g_array_index(r->lines, guint, col),
                        extra_names->pdata[e], TRUE, problems))
          ok = FALSE;
      }
      if (strlen(value[COL_REFERENCE]) > MAX_REFERENCE) {
        problem(problems, r->line, _("the reference is longer than %u bytes"), MAX_REFERENCE);
        ok = FALSE;
      }
      if (strlen(value[COL_CODE]) > SIGNET_SECRET_MAX) {
        problem(problems, r->line, _("the code is longer than %u bytes"), SIGNET_SECRET_MAX);
        ok = FALSE;
      }
      if (*value[COL_EMAIL] != '\0' && !email_valid(value[COL_EMAIL])) {
        g_autofree char *s = shown(value[COL_EMAIL]);
        problem(problems, r->line, _("'%s' is not an e-mail address (name@example.org)"), s);
        ok = FALSE;
      }
      if (strlen(value[COL_SERIAL]) > MAX_SERIAL || !serial_valid(value[COL_SERIAL])) {
        g_autofree char *s = shown(value[COL_SERIAL]);
        problem(problems, r->line,
                _("'%s' is not a token serial number (letters and digits, as signet list shows "
                  "them)"),
                s);
        ok = FALSE;
      }
      if ((earlier = seen_before(references, value[COL_REFERENCE], r->line)) != 0) {
        g_autofree char *s = shown(value[COL_REFERENCE]);
        problem(problems, r->line, _("reference '%s' is also on line %u"), s, earlier);
      }
      if ((earlier = seen_before(serials, value[COL_SERIAL], r->line)) != 0) {
        g_autofree char *s = shown(value[COL_SERIAL]);
        problem(problems, r->line, _("token serial '%s' is also on line %u"), s, earlier);
      }
      /* Never quoted: a code is a secret. */
      if ((earlier = seen_before(codes, value[COL_CODE], r->line)) != 0)
        problem(problems, r->line, _("the same code is also on line %u"), earlier);
      if (!ok || problems->len > 0) {
        for (guint k = 0; k < N_KNOWN; k++)
          wipe_string(value[k]);
        continue;
      }
      row = g_new0(SignetBatchRow, 1);
      row->line = r->line;
      row->reference = value[COL_REFERENCE];
      row->code = value[COL_CODE];
      row->name = value[COL_NAME];
      row->email = value[COL_EMAIL];
      row->serial = value[COL_SERIAL];
      row->extra = g_new0(char *, extra_index->len + 1);
      for (guint e = 0; e < extra_index->len; e++)
        row->extra[e]
            = g_strdup(((GString *)r->fields->pdata[g_array_index(extra_index, guint, e)])->str);
      g_ptr_array_add(csv->rows, row);
    }
  }

  if (out_n_problems != NULL)
    *out_n_problems = problems->len;
  if (problems->len > 0) {
    g_autoptr(GString) text = g_string_new(NULL);

    g_string_append_printf(
        text, ngettext("The file has %u problem:", "The file has %u problems:", problems->len),
        problems->len);
    g_ptr_array_sort(problems, compare_problems);
    for (guint i = 0; i < problems->len; i++) {
      const char *p = problems->pdata[i];
      guint line = (guint)g_ascii_strtoull(p, NULL, 10);

      g_string_append(text, "\n  ");
      /* TRANSLATORS: a line number of the CSV file, then what is wrong there. */
      g_string_append_printf(text, _("line %u: %s"), line, p + 11);
    }
    g_set_error_literal(error, SIGNET_BATCH_CSV_ERROR, SIGNET_BATCH_CSV_ERROR_INVALID, text->str);
    return NULL;
  }
  g_ptr_array_add(extra_names, NULL);
  csv->extra_names = (GStrv)g_ptr_array_free(g_steal_pointer(&extra_names), FALSE);
  return g_steal_pointer(&csv);
}

SignetBatchCsv *
signet_batch_csv_load(const char *path, char **out_sha256, guint *out_n_problems, GError **error)
{
  int fd;
  struct stat st;
  g_autofree char *data = NULL;
  gsize len = 0;
  gssize n;
  SignetBatchCsv *csv;

  fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || fstat(fd, &st) != 0) {
    int saved = errno;

    if (fd >= 0)
      close(fd);
    /* TRANSLATORS: a file name, then the system's reason. */
    g_set_error(error, SIGNET_BATCH_CSV_ERROR, SIGNET_BATCH_CSV_ERROR_READ,
                _("Could not open '%s': %s"), path, g_strerror(saved));
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > SIGNET_BATCH_CSV_MAX_BYTES) {
    close(fd);
    g_set_error(error, SIGNET_BATCH_CSV_ERROR, SIGNET_BATCH_CSV_ERROR_TOO_BIG,
                !S_ISREG(st.st_mode) ? _("'%s' is not a regular file")
                                     : _("'%s' is larger than 4 MiB; split it"),
                path);
    return NULL;
  }
  /* One byte more than the cap: a file that grew meanwhile is seen. */
  data = g_malloc(SIGNET_BATCH_CSV_MAX_BYTES + 1);
  while (len <= SIGNET_BATCH_CSV_MAX_BYTES
         && (n = read(fd, data + len, SIGNET_BATCH_CSV_MAX_BYTES + 1 - len)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;

      close(fd);
      g_set_error(error, SIGNET_BATCH_CSV_ERROR, SIGNET_BATCH_CSV_ERROR_READ,
                  _("Could not read '%s': %s"), path, g_strerror(saved));
      explicit_bzero(data, len);
      return NULL;
    }
    len += (gsize)n;
  }
  close(fd);
  csv = signet_batch_csv_parse(data, len, out_n_problems, error);
  if (csv != NULL && out_sha256 != NULL)
    *out_sha256 = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
  explicit_bzero(data, len);
  return csv;
}
