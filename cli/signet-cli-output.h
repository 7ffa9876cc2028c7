/* signet-cli-output.h: what the CLI prints on success.
 *
 * Owns: the human-readable forms of the agent's dictionaries and their JSON
 * form (the same keys, pretty-printed, one document on stdout).
 * May call: GLib, json-glib.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Pretty-prints @node as one JSON document on stdout. */
void signet_cli_print_json(JsonNode *node);

/* From now on every JSON document (results and errors) is printed on one
 * line: for commands that print a stream of events (JSON Lines). */
void signet_cli_set_json_lines(gboolean lines);
/* The widest of @n labels in characters (UTF-8: a translation pads by
 * characters, not bytes), plus @gap: the label column of a block of fields. */
int signet_cli_label_width(const char *const *labels, gsize n, int gap);
/* INDENT LABEL, padded to @width characters (at least one space), VALUE. */
void signet_cli_print_field(const char *indent, const char *label, int width, const char *value);
/* The JSON form of a D-Bus value (a{sv} → object, aa{sv} → array, …). */
void signet_cli_print_variant_json(GVariant *value);

/* One line for a ListTokens entry. */
void signet_cli_print_token_line(GVariant *token);
/* The readable block for a GetTokenStatus answer; @token is what the user
 * named the token with, for the commands it suggests. Keys the agent does
 * not send are not printed. */
void signet_cli_print_status(GVariant *status, const char *token);
/* The GetHistory entries as a table, newest first as the agent sends them. */
/* The history table of GetHistoryFd's @records (@len bytes, @n entries of
 * six NUL-terminated fields), at most @shown of them; when there are more,
 * the page ends at a second (an entry with the time of the first one left
 * out is left out too) and a line on stderr gives the command for the
 * older ones (@token as given, maybe ""). FALSE when the records are not
 * in that form. */
gboolean signet_cli_print_history(const char *records, gsize len, gsize n, const char *token,
                                  gsize shown, GError **error);
/* An Activate result, and a Renew result: their certificates in the same
 * lines ("Valid:     NOT_BEFORE to signet_client_format_not_after()"). */
void signet_cli_print_activated(GVariant *result);
void signet_cli_print_renewed(GVariant *result);
/* A GenerateKey / CreateRequest key dictionary. */
void signet_cli_print_new_key(GVariant *key, const char *token);
/* An ImportCertificate result. */
void signet_cli_print_import(GVariant *result, const char *token);

G_END_DECLS
