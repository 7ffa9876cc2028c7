/* signet-gtk-progress.h: an activation or a renewal as it runs: the steps,
 * one row per step with its state (waiting, running with a spinner, done,
 * failed, not needed), fed by the agent's Progress signal; and the flow the
 * two pages share, from the start button to the result.
 *
 * Owns: following the Progress signals of one request id on the proxy and
 * showing them; the note that a key on a card can take up to 25 seconds;
 * an operation page's run (SignetGtkOperation): one at a time, the rule
 * before the PIN, the PIN out of its entry, the steps, the result or the
 * error in place with "Try Again".
 * May call: ui-gtk/signet-gtk-rules.h, ui-gtk/signet-gtk-secret.h,
 * ui-gtk/signet-gtk-screenshot.h, libsignet/ (generated proxy), GTK.
 */
#pragma once

#include <adwaita.h>

#include "libsignet/signet-client.h"
#include "libsignet/signet-dbus-generated.h"

G_BEGIN_DECLS

#define SIGNET_GTK_TYPE_PROGRESS (signet_gtk_progress_get_type())
G_DECLARE_FINAL_TYPE(SignetGtkProgress, signet_gtk_progress, SIGNET_GTK, PROGRESS, GtkBox)

/* Starts following @operation ("activate" or "renew") on @proxy: every step
 * waiting. Returns the request id to pass in the call's options (owned by
 * the widget, valid until the next start). */
const char *signet_gtk_progress_start(SignetGtkProgress *self, SignetAgent1 *proxy,
                                      const char *operation);

/* One step starts (what a Progress signal of our request id does). */
void signet_gtk_progress_step(SignetGtkProgress *self, const char *step, const char *message);

/* The call returned: the running step done (@ok) or failed; steps never
 * announced are "not needed" after success. Stops following the signals. */
void signet_gtk_progress_finish(SignetGtkProgress *self, gboolean ok);

/* Shows the certificate of an Activate or Renew result under the steps
 * (holder, issuer, validity with the days left, serial); NULL hides it. */
void signet_gtk_progress_set_result(SignetGtkProgress *self, GVariant *result);

/* --- an operation page: the form, then the steps and the result ----------- */

typedef struct _SignetGtkOperation SignetGtkOperation;

/* Makes the page's call once the PIN may be sent: @pin a floating "ay"
 * owning the secret, @options with the request id and the final-try
 * confirmation (the page adds its own, then ends it); the call finishes with
 * @done and @op as its data. */
typedef void (*SignetGtkOperationSend)(SignetGtkOperation *op, GVariant *pin, GVariantDict *options,
                                       GAsyncReadyCallback done);
/* The call's finish function on the proxy (signet_agent1_call_renew_finish…). */
typedef gboolean (*SignetGtkOperationFinish)(SignetAgent1 *proxy, GVariant **out_result,
                                             GAsyncResult *res, GError **error);

/* Embedded in the page; the page's template children of the same names are
 * bound into it (signet_gtk_operation_bind_template). */
struct _SignetGtkOperation
{
  GtkWidget *form_box, *run_box;
  AdwActionRow *pin_row;
  GtkEditable *pin_entry;
  GtkLabel *form_error, *run_label, *run_error;
  GtkButton *start_button, *again_button;
  SignetGtkProgress *progress;

  /* Set by the page in its init. */
  GtkWidget *page;
  GParamSpec *running_pspec; /* the page's "running", notified */
  const char *name; /* "activate", "renew": the steps, and the screenshots NAME, NAME-progress,
                       NAME-result */
  SignetClientOp op;
  const char *running_text, *done_text, *failed_text; /* run_label's */
  /* Before the PIN is asked (may be NULL): FALSE when the form is not
   * complete (the page shows why with signet_gtk_operation_form_error). */
  gboolean (*ready)(SignetGtkOperation *op);
  /* The PIN may be sent, the steps shown: the page takes its other
   * secrets and makes the call. */
  SignetGtkOperationSend send;
  SignetGtkOperationFinish finish;
  /* After the call succeeded (may be NULL). */
  void (*succeeded)(SignetGtkOperation *op);

  SignetAgent1 *proxy;
  char *token;
  char *label;
  gboolean running; /* from the click until the agent answers */
};

/* Binds the shared children of @klass's template ("form_box", "run_box",
 * "pin_row", "pin_entry", "form_error", "run_label", "run_error",
 * "start_button", "again_button", "progress") into the SignetGtkOperation
 * at @offset of the page's instance struct. */
void signet_gtk_operation_bind_template(GtkWidgetClass *klass, gsize offset);
/* After gtk_widget_init_template: the buttons and the PIN's Enter. */
void signet_gtk_operation_init(SignetGtkOperation *op, GtkWidget *page);
/* For the page's dispose and finalize. */
void signet_gtk_operation_clear(SignetGtkOperation *op);

/* The form for @token (@status: its GetTokenStatus answer, for the PIN's
 * state), the PIN entry and the error emptied; FALSE (nothing changed)
 * while the operation runs. The page fills in its own, then shows the form. */
gboolean signet_gtk_operation_open(SignetGtkOperation *op, SignetAgent1 *proxy, const char *token,
                                   const char *label, GVariant *status);
void signet_gtk_operation_show_form(SignetGtkOperation *op);
/* @text in the form's error label, shown. */
void signet_gtk_operation_form_error(SignetGtkOperation *op, const char *text);

G_END_DECLS
