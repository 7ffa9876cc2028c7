/* test-batch-csv.c: the holders' CSV of signet batch (libsignet/signet-batch-csv.c):
 * the RFC 4180 forms it reads, and each kind of bad input refused with its
 * line, every problem listed. */
#include "config.h"

#include "libsignet/signet-batch-csv.h"

#include <glib/gstdio.h>
#include <string.h>

static SignetBatchCsv *
parse_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  guint n = 99;
  SignetBatchCsv *csv = signet_batch_csv_parse(text, strlen(text), &n, &error);

  g_assert_no_error(error);
  g_assert_nonnull(csv);
  g_assert_cmpuint(n, ==, 0);
  return csv;
}

/* Parses @text, which must fail with @n_expected problems; the message. */
static char *
parse_bad(const char *text, gsize len, guint n_expected)
{
  g_autoptr(GError) error = NULL;
  guint n = 0;
  SignetBatchCsv *csv = signet_batch_csv_parse(text, len, &n, &error);

  g_assert_null(csv);
  g_assert_error(error, SIGNET_BATCH_CSV_ERROR, SIGNET_BATCH_CSV_ERROR_INVALID);
  g_test_message("%s", error->message);
  g_assert_cmpuint(n, ==, n_expected);
  g_assert_true(g_utf8_validate(error->message, -1, NULL));
  return g_strdup(error->message);
}

#define HAS(message, text) g_assert_nonnull(strstr((message), (text)))

static SignetBatchRow *
row(SignetBatchCsv *csv, guint i)
{
  g_assert_cmpuint(i, <, csv->rows->len);
  return csv->rows->pdata[i];
}

static void
test_simple(void)
{
  g_autoptr(SignetBatchCsv) csv = parse_ok("reference,code,name,email,serial\n"
                                           "R1,C1,Jan Kowalski,jan@example.org,A1\n"
                                           "R2,C2,Anna Nowak,anna@example.org,\n");

  g_assert_cmpint(csv->delimiter, ==, ',');
  g_assert_cmpuint(csv->rows->len, ==, 2);
  g_assert_cmpstr(row(csv, 0)->reference, ==, "R1");
  g_assert_cmpstr(row(csv, 0)->code, ==, "C1");
  g_assert_cmpstr(row(csv, 0)->name, ==, "Jan Kowalski");
  g_assert_cmpstr(row(csv, 0)->email, ==, "jan@example.org");
  g_assert_cmpstr(row(csv, 0)->serial, ==, "A1");
  g_assert_cmpuint(row(csv, 0)->line, ==, 2);
  g_assert_cmpstr(row(csv, 1)->serial, ==, "");
  g_assert_cmpuint(row(csv, 1)->line, ==, 3);
  g_assert_cmpuint(g_strv_length(csv->extra_names), ==, 0);
}

/* BOM, ';', CRLF, any order and case, quoted fields with doubled quotes and
 * line breaks, unknown columns kept, no serial column, no final newline. */
static void
test_forms(void)
{
  g_autoptr(SignetBatchCsv) csv
      = parse_ok("\xef\xbb\xbf"
                 "E-Mail;Department;NAME;Code;Reference;Note\r\n"
                 "ola@example.pl;\"Sales; North\";\"Zo\xc5\xbc\x61 \"\"Ola\"\" Nowak\";c-1;ref 1;"
                 "\"two\r\nlines\"\r\n"
                 "\r\n"
                 "x@example.fr;IT;Ren\xc3\xa9;c-2;ref 2;");

  g_assert_cmpint(csv->delimiter, ==, ';');
  g_assert_cmpuint(csv->rows->len, ==, 0 + 1 + 1 - 1 + 1);
  g_assert_cmpstr(row(csv, 0)->email, ==, "ola@example.pl");
  g_assert_cmpstr(row(csv, 0)->name, ==, "Zo\xc5\xbc\x61 \"Ola\" Nowak");
  g_assert_cmpstr(row(csv, 0)->reference, ==, "ref 1");
  g_assert_cmpstr(row(csv, 0)->serial, ==, "");
  g_assert_cmpuint(g_strv_length(csv->extra_names), ==, 2);
  g_assert_cmpstr(csv->extra_names[0], ==, "Department");
  g_assert_cmpstr(csv->extra_names[1], ==, "Note");
  g_assert_cmpstr(row(csv, 0)->extra[0], ==, "Sales; North");
  g_assert_cmpstr(row(csv, 0)->extra[1], ==, "two\r\nlines");
  /* The second holder starts on line 5: the quoted line break and the blank
   * line count. */
  g_assert_cmpuint(row(csv, 1)->line, ==, 5);
  g_assert_cmpstr(row(csv, 1)->name, ==, "Ren\xc3\xa9");
  g_assert_cmpstr(row(csv, 1)->extra[1], ==, "");
}

static void
test_header(void)
{
  g_autofree char *m1 = parse_bad("reference,name,email\nR,N,n@example.org\n",
                                  strlen("reference,name,email\nR,N,n@example.org\n"), 1);
  g_autofree char *m2 = NULL;
  g_autofree char *m3 = NULL;

  HAS(m1, "line 1: the header names no column 'code'");
  g_autofree char *m4 = NULL;

  m2 = parse_bad("reference,code,Code,name,email\n", 31, 1);
  HAS(m2, "line 1: column 'code' appears twice (columns 2 and 3)");
  m3 = parse_bad("", 0, 1);
  HAS(m3, "line 1: the file is empty");
  m4 = parse_bad("\xef\xbb\xbfReference;Code;Name;Email\r\n\r\n", 32, 1);
  HAS(m4, "line 1: no holder follows the header");
}

/* Every kind of bad row at once: each reported with its line. */
static void
test_bad_rows(void)
{
  const char text[] = "reference,code,name,email,serial,note\n"
                      "R1,C1,Jan,jan@example.org,S1,\n"      /* 2: fine */
                      "R1,C2,Ewa,ewa@example.org,S2,\n"      /* 3: duplicate reference */
                      "R3,C3,Ola,ola@example.org,S1,\n"      /* 4: duplicate serial */
                      ",C4,Iza,iza@example.org,,\n"          /* 5: missing reference */
                      "R6,,Ala,ala@example.org,,\n"          /* 6: missing code */
                      "R7,C7,Ida,ida.example.org,,\n"        /* 7: e-mail without @ */
                      "R8,C8,\xff\xfe,ala8@example.org,,\n"  /* 8: invalid UTF-8 */
                      "R9,C9,Bad\x1b[31m,b9@example.org,,\n" /* 9: control character */
                      "R10,C10,Too,few\n"                    /* 10: field count */
                      "R11,C1,Same Code,s11@example.org,,\n" /* 11: duplicate code */
                      "R12,C12,Quote\"s,q@example.org,,\n"   /* 12: stray quote */
                      "R13,C13,Ser,s13@example.org,A B,\n"   /* 13: bad serial */
                      "R14,C14,\"Jo\"x,j@example.org,,\n";   /* 14: text after quote */
  g_autofree char *m = parse_bad(text, sizeof(text) - 1, 12);

  HAS(m, "line 3: reference 'R1' is also on line 2");
  HAS(m, "line 4: token serial 'S1' is also on line 2");
  HAS(m, "line 5: the reference is missing");
  HAS(m, "line 6: the code is missing");
  HAS(m, "line 7: 'ida.example.org' is not an e-mail address");
  HAS(m, "line 8: column 'name' is not valid UTF-8");
  HAS(m, "line 9: column 'name' holds a control character");
  HAS(m, "line 10: 4 fields where the header has 6");
  HAS(m, "line 11: the same code is also on line 2");
  HAS(m, "line 12: a quote (\") inside a field");
  HAS(m, "line 13: 'A B' is not a token serial number");
  HAS(m, "line 14: text after the closing quote");
  /* In line order. */
  g_assert_true(strstr(m, "line 3:") < strstr(m, "line 12:"));
  /* A code is never quoted. */
  g_assert_null(strstr(m, "C1"));
  /* The terminal escape is not in the message. */
  g_assert_null(strstr(m, "\x1b"));
}

static void
test_unclosed_quote(void)
{
  const char text[] = "reference,code,name,email\n"
                      "R1,C1,A,a@example.org\n"
                      "R2,C2,\"B\n"
                      "R3,C3,C,c@example.org\n";
  g_autofree char *m = parse_bad(text, sizeof(text) - 1, 1);

  HAS(m, "line 3: a quoted field is not closed");
}

static void
test_nul_byte(void)
{
  const char text[] = "reference,code,name,email\nR1,C\0,A,a@example.org\n";
  g_autofree char *m = parse_bad(text, sizeof(text) - 1, 1);

  HAS(m, "line 2: column 'code' holds a control character");
}

/* The unknown columns may hold line breaks (quoted), the known ones not. */
static void
test_line_break_in_name(void)
{
  const char text[] = "reference,code,name,email\nR1,C1,\"A\nB\",a@example.org\n";
  g_autofree char *m = parse_bad(text, sizeof(text) - 1, 1);

  HAS(m, "line 2: column 'name' holds a control character");
}

static void
test_size_cap(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp("test-batch-csv-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autofree char *big = NULL;
  g_autofree char *sha = NULL;
  g_autoptr(SignetBatchCsv) csv = NULL;
  gsize len = SIGNET_BATCH_CSV_MAX_BYTES + 1;

  g_assert_no_error(error);
  path = g_build_filename(dir, "big.csv", NULL);
  big = g_malloc(len);
  memset(big, 'x', len);
  g_assert_true(g_file_set_contents(path, big, (gssize)len, &error));
  csv = signet_batch_csv_load(path, &sha, NULL, &error);
  g_assert_null(csv);
  g_assert_error(error, SIGNET_BATCH_CSV_ERROR, SIGNET_BATCH_CSV_ERROR_TOO_BIG);
  g_assert_null(sha);
  g_clear_error(&error);

  g_assert_true(
      g_file_set_contents(path, "reference,code,name,email\nR,C,N,n@example.org\n", -1, &error));
  csv = signet_batch_csv_load(path, &sha, NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(csv);
  g_assert_cmpuint(strlen(sha), ==, 64);
  g_assert_cmpint(g_unlink(path), ==, 0);
  g_assert_cmpint(g_rmdir(dir), ==, 0);

  g_clear_pointer(&csv, signet_batch_csv_free);
  csv = signet_batch_csv_load("/nonexistent/x.csv", NULL, NULL, &error);
  g_assert_null(csv);
  g_assert_error(error, SIGNET_BATCH_CSV_ERROR, SIGNET_BATCH_CSV_ERROR_READ);
}

static void
test_too_many_rows(void)
{
  g_autoptr(GString) s = g_string_new("reference,code,name,email\n");
  g_autofree char *m = NULL;

  for (guint i = 0; i <= SIGNET_BATCH_CSV_MAX_ROWS; i++)
    g_string_append_printf(s, "R%u,C%u,N,n@example.org\n", i, i);
  m = parse_bad(s->str, s->len, 1);
  HAS(m, "more than 10000 rows");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/batch-csv/simple", test_simple);
  g_test_add_func("/batch-csv/forms", test_forms);
  g_test_add_func("/batch-csv/header", test_header);
  g_test_add_func("/batch-csv/bad-rows", test_bad_rows);
  g_test_add_func("/batch-csv/unclosed-quote", test_unclosed_quote);
  g_test_add_func("/batch-csv/nul-byte", test_nul_byte);
  g_test_add_func("/batch-csv/line-break-in-name", test_line_break_in_name);
  g_test_add_func("/batch-csv/size-cap", test_size_cap);
  g_test_add_func("/batch-csv/too-many-rows", test_too_many_rows);
  return g_test_run();
}
