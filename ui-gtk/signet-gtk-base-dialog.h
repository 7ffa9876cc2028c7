/* signet-gtk-base-dialog.h: what every dialog of signet-gtk-dialogs.h shares.
 *
 * Owns: the dialog's frame (signet-gtk-dialog.ui: Cancel, the action button,
 * a spinner with what is happening, the error label) around the dialog's own
 * content (its .ui, object "page"); the token's status as last read; one
 * operation at a time; errors in place, with the tries left after a wrong
 * PIN or PUK; the pure rules the tests call (new PIN checks, subject
 * escaping, export formats).
 * May call: libsignet/, common/, ui-gtk/signet-gtk-secret.h and
 * ui-gtk/signet-gtk-rules.h (the window's, for the rule before a secret and
 * an error's words), GTK, libadwaita.
 */
#pragma once

#include <adwaita.h>
#include <gtk/gtk.h>

#include "libsignet/signet-client.h"
#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

typedef struct _SignetGtkBaseDialog SignetGtkBaseDialog;
typedef void (*SignetGtkBaseDialogFunc)(SignetGtkBaseDialog *dialog);
/* Sends the dialog's operation once the rule before its secret allowed it
 * (the dialog still open): @confirmed for "confirm-final-try", @pin_pad when
 * the reader's pad asks. */
typedef void (*SignetGtkBaseDialogSend)(SignetGtkBaseDialog *dialog, gboolean confirmed,
                                        gboolean pin_pad);

struct _SignetGtkBaseDialog
{
  gint ref_count;
  GtkWindow *window;   /* NULL once the holder closed it */
  GtkBuilder *builder; /* NULL once closed */
  SignetAgent1 *agent;
  char *token;
  char *label;       /* the token's label, else its serial */
  GVariant *status;  /* GetTokenStatus, last read; NULL before the first answer */
  gboolean busy;     /* an operation runs */
  gboolean held;     /* and the dialog cannot be closed until it ends */
  gboolean finished; /* done: the action button is gone, Cancel says Close */
  GtkButton *action_button;
  GtkButton *cancel_button;
  /* Set by the dialog: called when the status was read or an entry
   * changed, to fill in the states and set the action's sensitivity. */
  SignetGtkBaseDialogFunc update;
  /* Set by signet_gtk_base_dialog_set_operation. */
  SignetClientOp op;
  SignetGtkBaseDialogSend send;
  /* Set by the dialog (may be NULL): called first when the action is
   * clicked; TRUE when it did what the action does now instead of the
   * operation (the request's "Save Request…"). */
  gboolean (*action)(SignetGtkBaseDialog *dialog);
  gpointer priv;
  GDestroyNotify priv_free;
};

/* Builds the frame and @content_resource's "page", modal on @parent, and
 * reads the token's status (update is called with it). */
SignetGtkBaseDialog *signet_gtk_base_dialog_new(GtkWindow *parent, SignetAgent1 *agent,
                                                const char *token, const char *content_resource,
                                                const char *title, const char *action_label);
SignetGtkBaseDialog *signet_gtk_base_dialog_ref(SignetGtkBaseDialog *dialog);
void signet_gtk_base_dialog_unref(SignetGtkBaseDialog *dialog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SignetGtkBaseDialog, signet_gtk_base_dialog_unref)

/* An object of the dialog's builder, or NULL once the dialog is closed. */
gpointer signet_gtk_base_dialog_get(SignetGtkBaseDialog *dialog, const char *id);

/* Starts (@what: what is happening, shown beside the spinner) or ends
 * (NULL) an operation: the action button is insensitive while one runs. */
void signet_gtk_base_dialog_set_busy(SignetGtkBaseDialog *dialog, const char *what);
/* As signet_gtk_base_dialog_set_busy, and the dialog cannot be closed until
 * the operation ends (set_busy NULL): Cancel is insensitive and closing
 * (Escape, the window manager) is refused. For work whose answer must not be
 * lost with the dialog. */
void signet_gtk_base_dialog_set_busy_held(SignetGtkBaseDialog *dialog, const char *what);
/* The action's sensitivity when no operation runs. */
void signet_gtk_base_dialog_set_ready(SignetGtkBaseDialog *dialog, gboolean ready);
/* Shows @text in the error label (NULL hides it). */
void signet_gtk_base_dialog_show_error_text(SignetGtkBaseDialog *dialog, const char *text);
/* Ends the operation and shows @error in words
 * (signet_gtk_secret_show_error); after a wrong or locked PIN or PUK the
 * status is read again (it becomes the dialog's, update runs) and the tries
 * left are added; the dialog stays open. */
void signet_gtk_base_dialog_show_error(SignetGtkBaseDialog *dialog, const GError *error);
/* The operation succeeded: @text replaces the content's first words
 * ("result" label), the action button goes, Cancel becomes Close. */
void signet_gtk_base_dialog_finish(SignetGtkBaseDialog *dialog, const char *text);
/* Reads the status again; update runs with it (nothing without an agent). */
void signet_gtk_base_dialog_refresh(SignetGtkBaseDialog *dialog);
/* Takes @status (a GetTokenStatus answer, sunk) as the token's and runs
 * update: what an answer does, and what the tests call. */
void signet_gtk_base_dialog_set_status(SignetGtkBaseDialog *dialog, GVariant *status);
/* The dialog of a window made by signet_gtk_base_dialog_new, or NULL. */
SignetGtkBaseDialog *signet_gtk_base_dialog_from_window(GtkWindow *window);

/* The "pin" or "puk" dictionary of @status, or NULL. */
GVariant *signet_gtk_dialog_secret_state(GVariant *status, const char *which);

/* --- pure rules, called by the tests ------------------------------------- */

/* Whether a new PIN typed twice may be sent. */
typedef enum
{
  SIGNET_GTK_NEW_PIN_OK,
  SIGNET_GTK_NEW_PIN_EMPTY,
  SIGNET_GTK_NEW_PIN_TOO_SHORT,
  SIGNET_GTK_NEW_PIN_TOO_LONG,
  SIGNET_GTK_NEW_PIN_MISMATCH,
} SignetGtkNewPin;

/* @min_length and @max_length from the "pin" dictionary (0: not given);
 * lengths in bytes as PKCS#11 counts them; the two compared in constant
 * time when their lengths are equal. */
SignetGtkNewPin signet_gtk_new_pin_check(const char *pin, const char *again, guint min_length,
                                         guint max_length);
/* The hint under the new PIN fields (translated), NULL for OK and EMPTY. */
char *signet_gtk_new_pin_hint(SignetGtkNewPin check, guint min_length, guint max_length);

/* The token's PIN length limits from @status ("pin" min_length and
 * max_length); 0 where not given. */
void signet_gtk_dialog_pin_limits(GVariant *status, guint *out_min, guint *out_max);

/* A subject in RFC 4514 as CreateRequest takes it, from the fields of the
 * request dialog (NULL or "" left out; @common_name required): "CN=…,O=…,C=…"
 * with , + " \ < > ; = escaped, and a leading # or space and a trailing
 * space. NULL when @common_name is empty. */
char *signet_gtk_request_subject(const char *common_name, const char *organization,
                                 const char *organizational_unit, const char *country,
                                 const char *email);

/* The export formats of the export dialog. */
typedef enum
{
  SIGNET_GTK_EXPORT_PEM_CHAIN,  /* PEM, the holder's then the CA certificates */
  SIGNET_GTK_EXPORT_PEM_HOLDER, /* PEM, the holder's only */
  SIGNET_GTK_EXPORT_DER_HOLDER, /* DER, the holder's only */
} SignetGtkExportFormat;

/* The bytes of the file for @format from an ExportCertificate answer
 * (@certificates "aay", holder first); NULL with @error when there is no
 * certificate or one is empty. */
GBytes *signet_gtk_export_bytes(GVariant *certificates, SignetGtkExportFormat format,
                                GError **error);
/* The file name suggested for @format ("certificate.pem", "….cer"). */
const char *signet_gtk_export_suggested_name(SignetGtkExportFormat format);

/* --- helpers of the dialogs' own pages ----------------------------------- */

/* The new PIN entries "new_pin" and "new_pin_again" of the page, checked
 * against the token's limits; the hint shown in "new_pin_hint". TRUE when
 * the new PIN may be sent. */
gboolean signet_gtk_base_dialog_check_new_pin(SignetGtkBaseDialog *dialog);

/* Gives the editable inside @row (an AdwEntryRow) the row's accessible
 * name, so that the field typed into is named too. */
void signet_gtk_dialog_name_entry(GtkWidget *row, const char *name);

/* Calls update when any of the editables @ids (NULL-terminated) changes. */
void signet_gtk_base_dialog_watch_entries(SignetGtkBaseDialog *dialog, const char *const *ids);

/* The dialog's operation: the action button (the default widget) reads the
 * status again and applies the rule before @op's secret (the final try
 * confirmed first), then calls @send, or shows why nothing was sent. */
void signet_gtk_base_dialog_set_operation(SignetGtkBaseDialog *dialog, SignetClientOp op,
                                          SignetGtkBaseDialogSend send);

/* The rule before the operation's secret on the status as last read, in the
 * page's "notice_label": the refusal's words, @final_try_notice at the final
 * try, @pin_pad_notice where the reader has a PIN pad (either NULL: none).
 * FALSE when nothing may be sent (refused, or no status yet); @out_pin_pad
 * (may be NULL): the pad asks for the PIN itself. */
gboolean signet_gtk_base_dialog_apply_rule(SignetGtkBaseDialog *dialog,
                                           const char *final_try_notice, const char *pin_pad_notice,
                                           gboolean *out_pin_pad);

/* A dialog sending a new PIN typed twice after @first_id (the current PIN,
 * the PUK): the entries shown when @allowed, the new PIN checked, the
 * action ready when all is typed and fits. */
void signet_gtk_base_dialog_update_new_pin(SignetGtkBaseDialog *dialog, gboolean allowed,
                                           const char *first_id);
/* Takes @first_id's secret and the new PIN (the second one wiped) once the
 * new PIN checks again, as "ay" owning them; FALSE (update run, nothing
 * taken) otherwise. */
gboolean signet_gtk_base_dialog_take_new_pin(SignetGtkBaseDialog *dialog, const char *first_id,
                                             GVariant **out_first, GVariant **out_new_pin);

/* A dialog sending the PIN ("pin", hidden where the reader's pad asks):
 * the rule applied, TRUE when it may be sent (typed, or the pad asks). */
gboolean signet_gtk_base_dialog_pin_ready(SignetGtkBaseDialog *dialog);
/* The PIN to send: an empty secret where the pad asks, else the entry's
 * text (the entry emptied); NULL (update run) when none was typed. */
GVariant *signet_gtk_base_dialog_take_pin(SignetGtkBaseDialog *dialog, gboolean pin_pad);

/* The request dialog while CreateRequest runs (what it does when it sends,
 * and what the tests call): busy and held, saying that the request is being
 * made and that the dialog then offers to save it. */
void signet_gtk_request_dialog_set_making(SignetGtkBaseDialog *dialog);

/* An empty "ay": the secret a PIN pad reader asks for itself. */
GVariant *signet_gtk_dialog_empty_secret(void);

/* An a{sv} with "confirm-final-try" when @confirmed (floating). */
GVariant *signet_gtk_dialog_options(gboolean confirmed, const char *key, gboolean value);

G_END_DECLS

G_BEGIN_DECLS
/* Asks for a file to save @bytes in (a file chooser on the dialog, @name
 * suggested, @patterns "*.pem;*.crt" in one filter named @filter_name) and
 * writes it with GIO; @saved gets the path, or NULL (and an error shown)
 * when nothing was written. */
typedef void (*SignetGtkSaved)(SignetGtkBaseDialog *dialog, const char *path);
void signet_gtk_base_dialog_save(SignetGtkBaseDialog *dialog, const char *title, const char *name,
                                 const char *filter_name, const char *patterns, GBytes *bytes,
                                 SignetGtkSaved saved);
G_END_DECLS
