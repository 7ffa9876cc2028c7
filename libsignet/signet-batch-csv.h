/* signet-batch-csv.h: the holders' CSV of a group activation (signet batch).
 *
 * Owns: parsing and checking the whole file before anything starts:
 * RFC 4180 (quoted fields, doubled quotes, CRLF or LF, line breaks inside
 * quotes), UTF-8 with or without a BOM, ',' or ';' (whichever the header
 * uses), a header naming the columns reference, code, name, email and the
 * optional serial in any order and any case; other columns are kept for the
 * report. Every problem is found, each with its line, not only the first.
 * May call: GLib, libc. Shared by the command line and the window.
 *
 * The activation codes are in the file in clear (the CA sent them so); the
 * parsed rows hold them in ordinary memory and wipe them when freed. Error
 * messages never quote a code.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Largest file accepted (checked before it is read), rows and field size. */
#define SIGNET_BATCH_CSV_MAX_BYTES (4 * 1024 * 1024)
#define SIGNET_BATCH_CSV_MAX_ROWS  10000
#define SIGNET_BATCH_CSV_MAX_FIELD 4096

#define SIGNET_BATCH_CSV_ERROR (signet_batch_csv_error_quark())
GQuark signet_batch_csv_error_quark(void);

typedef enum
{
  SIGNET_BATCH_CSV_ERROR_INVALID, /* the message lists every problem, one per line */
  SIGNET_BATCH_CSV_ERROR_TOO_BIG,
  SIGNET_BATCH_CSV_ERROR_READ,
} SignetBatchCsvError;

typedef struct
{
  guint line; /* the line the row starts on (the header is line 1) */
  char *reference;
  char *code;
  char *name;
  char *email;
  char *serial; /* "" when the row names no token */
  GStrv extra;  /* the unknown columns' values, in the order of extra_names */
} SignetBatchRow;

typedef struct
{
  GPtrArray *rows;   /* SignetBatchRow, in file order */
  GStrv extra_names; /* the unknown columns' names as written */
  char delimiter;    /* ',' or ';' */
} SignetBatchCsv;

/* Parses and checks @len bytes of @data. On failure NULL, and @error holds
 * every problem as "line N: …" lines (SIGNET_BATCH_CSV_ERROR_INVALID);
 * @out_n_problems (may be NULL) gets how many. */
SignetBatchCsv *signet_batch_csv_parse(const char *data, gsize len, guint *out_n_problems,
                                       GError **error);

/* Reads @path (refused before reading when larger than
 * SIGNET_BATCH_CSV_MAX_BYTES) and parses it. @out_sha256 (may be NULL): the
 * file's SHA-256 in hex, which names the batch's state. */
SignetBatchCsv *signet_batch_csv_load(const char *path, char **out_sha256, guint *out_n_problems,
                                      GError **error);

void signet_batch_csv_free(SignetBatchCsv *csv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetBatchCsv, signet_batch_csv_free)

G_END_DECLS
