/* signet-gtk-import-dialog.c: Import a certificate
 * (signet_gtk_import_certificate): a file chosen (PEM, DER, .cer, .crt,
 * .p7b, .pem) and read before the PIN is asked, ImportCertificate with the
 * PIN; an expired certificate offers "import anyway" (allow-expired) after a
 * clear warning, a second certificate for the key offers replace; the
 * agent's other answers (CA certificates only, no matching key) in words.
 * A file of roots the holder trusts for the CA may be chosen too (anchor):
 * the result says whether the chain verified, and to which root. */
#include "config.h"

#include "ui-gtk/signet-gtk-dialogs.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-base-dialog.h"

#include <glib/gi18n.h>
#include <string.h>

#define RESOURCE "/io/signet/Signet/dialogs/signet-gtk-import-dialog.ui"

/* A file the dialog reads: the certificate (needed) or the roots the
 * holder trusts for it (optional: ImportCertificate's anchor). */
typedef struct
{
  GBytes *data;
  const char *row;   /* its row in the template */
  const char *none;  /* the row's subtitle while no file is read */
  const char *title; /* the file chooser's */
  gboolean is_cert;
} Slot;

typedef struct
{
  Slot cert;
  Slot anchor;
  GtkFileChooserNative *chooser;
} Import;

/* A file being chosen and read; holds the dialog. */
typedef struct
{
  SignetGtkBaseDialog *dialog;
  Slot *slot;
} Choosing;

static void
import_free(gpointer data)
{
  Import *import = data;

  g_clear_pointer(&import->cert.data, g_bytes_unref);
  g_clear_pointer(&import->anchor.data, g_bytes_unref);
  g_clear_object(&import->chooser);
  g_free(import);
}

static void
choosing_free(Choosing *choosing)
{
  signet_gtk_base_dialog_unref(choosing->dialog);
  g_free(choosing);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Choosing, choosing_free)

static void
update(SignetGtkBaseDialog *dialog)
{
  Import *import = dialog->priv;

  signet_gtk_base_dialog_set_ready(dialog, signet_gtk_base_dialog_pin_ready(dialog)
                                               && import->cert.data != NULL);
}

static void
on_file_loaded_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(Choosing) choosing = data;
  SignetGtkBaseDialog *dialog = choosing->dialog;
  Slot *slot = choosing->slot;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_file_get_parse_name(G_FILE(source));

  signet_gtk_base_dialog_set_busy(dialog, NULL);
  g_clear_pointer(&slot->data, g_bytes_unref);
  slot->data = signet_client_read_certfile_finish(res, &error);
  if (slot->data == NULL) {
    /* Too large and empty say it in words; else what reading said. */
    g_autofree char *text = error->domain == G_IO_ERROR
                                    && (error->code == G_IO_ERROR_MESSAGE_TOO_LARGE
                                        || error->code == G_IO_ERROR_INVALID_DATA)
                                ? g_strdup(error->message)
                                : g_strdup_printf(_("Could not read %s: %s"), name, error->message);
    signet_gtk_base_dialog_show_error_text(dialog, text);
  }
  if (dialog->window == NULL)
    return;
  adw_action_row_set_subtitle(signet_gtk_base_dialog_get(dialog, slot->row),
                              slot->data != NULL ? name : slot->none);
  if (slot->is_cert) {
    /* What the agent said of the previous file does not hold for this one. */
    gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "allow_expired"), FALSE);
    gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "replace"), FALSE);
    gtk_check_button_set_active(signet_gtk_base_dialog_get(dialog, "allow_expired"), FALSE);
    gtk_check_button_set_active(signet_gtk_base_dialog_get(dialog, "replace"), FALSE);
  }
  update(dialog);
}

static void
on_open_response_cb(GtkNativeDialog *chooser, int response, gpointer data)
{
  g_autoptr(Choosing) choosing = data;
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(chooser));
  gtk_native_dialog_destroy(chooser);
  if (file != NULL) {
    /* Read before the PIN is asked: a wrong file costs nothing. */
    signet_gtk_base_dialog_set_busy(choosing->dialog, _("Reading the file…"));
    signet_client_read_certfile_async(file, NULL, on_file_loaded_cb, g_steal_pointer(&choosing));
  }
}

static void
choose(SignetGtkBaseDialog *dialog, Slot *slot)
{
  Import *import = dialog->priv;
  GtkFileFilter *filter = gtk_file_filter_new();
  static const char *const globs[] = { "*.pem", "*.crt", "*.cer", "*.der", "*.p7b", "*.p7c" };
  Choosing *choosing = g_new0(Choosing, 1);

  choosing->dialog = signet_gtk_base_dialog_ref(dialog);
  choosing->slot = slot;
  g_clear_object(&import->chooser);
  import->chooser = gtk_file_chooser_native_new(
      slot->title, dialog->window, GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(import->chooser), TRUE);
  gtk_file_filter_set_name(filter, _("Certificates (PEM, DER, .cer, .crt, .p7b)"));
  for (gsize i = 0; i < G_N_ELEMENTS(globs); i++)
    gtk_file_filter_add_pattern(filter, globs[i]);
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(import->chooser), filter);
  g_object_unref(filter);
  filter = gtk_file_filter_new();
  gtk_file_filter_set_name(filter, _("All files"));
  gtk_file_filter_add_pattern(filter, "*");
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(import->chooser), filter);
  g_object_unref(filter);
  g_signal_connect(import->chooser, "response", G_CALLBACK(on_open_response_cb), choosing);
  gtk_native_dialog_show(GTK_NATIVE_DIALOG(import->chooser));
}

/* Choose File… or Choose Root…: the slot the button fills. */
static void
on_choose_clicked_cb(GtkButton *button, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;
  Import *import = dialog->priv;

  choose(dialog, GTK_WIDGET(button) == signet_gtk_base_dialog_get(dialog, "anchor_button")
                     ? &import->anchor
                     : &import->cert);
}

static void
on_import_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *not_after = NULL, *text = NULL, *chain = NULL, *text_chain = NULL;
  const char *subject = "";

  if (!signet_agent1_call_import_certificate_finish(SIGNET_AGENT1(source), &result, res, &error)) {
    SignetClientErrorKind kind = signet_client_error_kind(error);

    signet_gtk_base_dialog_show_error(dialog, error);
    if (dialog->window == NULL)
      return;
    /* Offered only after the agent said why, with its words above. */
    if (kind == SIGNET_CLIENT_ERROR_EXPIRED)
      gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "allow_expired"), TRUE);
    else if (kind == SIGNET_CLIENT_ERROR_CERTIFICATE_EXISTS)
      gtk_widget_set_visible(signet_gtk_base_dialog_get(dialog, "replace"), TRUE);
    return;
  }
  (void)g_variant_lookup(result, "subject", "&s", &subject);
  not_after = signet_client_format_not_after(result);
  /* TRANSLATORS: where a root came from, in "The chain verifies to %s, a
     root from %s.". */
  chain = signet_client_describe_import_chain(result, _("the root file you chose"));
  text = g_strdup_printf(_("The certificate of %s is on the token “%s”. It is valid until %s."),
                         subject, dialog->label, not_after);
  text_chain = g_strdup_printf("%s\n%s", text, chain);
  signet_gtk_base_dialog_finish(dialog, text_chain);
}

static void
send(SignetGtkBaseDialog *dialog, gboolean confirmed, gboolean pin_pad)
{
  Import *import = dialog->priv;
  GVariantBuilder options;
  GVariant *pin = signet_gtk_base_dialog_take_pin(dialog, pin_pad);

  if (pin == NULL)
    return;
  g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
  if (confirmed)
    g_variant_builder_add(&options, "{sv}", "confirm-final-try", g_variant_new_boolean(TRUE));
  if (gtk_check_button_get_active(signet_gtk_base_dialog_get(dialog, "allow_expired")))
    g_variant_builder_add(&options, "{sv}", "allow-expired", g_variant_new_boolean(TRUE));
  if (gtk_check_button_get_active(signet_gtk_base_dialog_get(dialog, "replace")))
    g_variant_builder_add(&options, "{sv}", "replace", g_variant_new_boolean(TRUE));
  if (import->anchor.data != NULL)
    g_variant_builder_add(
        &options, "{sv}", "anchor",
        g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, import->anchor.data, TRUE));
  signet_gtk_base_dialog_set_busy(dialog, pin_pad ? _("Enter the PIN on the reader's PIN pad…")
                                                  : _("Storing the certificate…"));
  signet_agent1_call_import_certificate(
      dialog->agent, dialog->token,
      g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, import->cert.data, TRUE), pin,
      g_variant_builder_end(&options), G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT, NULL,
      on_import_cb, signet_gtk_base_dialog_ref(dialog));
}

void
signet_gtk_import_certificate(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial)
{
  static const char *const entries[] = { "pin", NULL };
  g_autoptr(SignetGtkBaseDialog) dialog = signet_gtk_base_dialog_new(
      parent, agent, token_serial, RESOURCE, _("Import Certificate"), _("_Import"));
  Import *import = g_new0(Import, 1);

  gtk_widget_set_name(GTK_WIDGET(dialog->window), "signet-import");
  import->cert = (Slot){ .row = "file_row",
                         .none = _("No file chosen"),
                         .title = _("Choose the Certificate File"),
                         .is_cert = TRUE };
  import->anchor = (Slot){ .row = "anchor_row",
                           .none = _("Only the roots this computer trusts"),
                           .title = _("Choose the CA's Root Certificate") };
  dialog->priv = import;
  dialog->priv_free = import_free;
  dialog->update = update;
  signet_gtk_base_dialog_set_operation(dialog, SIGNET_CLIENT_OP_IMPORT, send);
  signet_gtk_base_dialog_watch_entries(dialog, entries);
  g_signal_connect(signet_gtk_base_dialog_get(dialog, "choose_button"), "clicked",
                   G_CALLBACK(on_choose_clicked_cb), dialog);
  g_signal_connect(signet_gtk_base_dialog_get(dialog, "anchor_button"), "clicked",
                   G_CALLBACK(on_choose_clicked_cb), dialog);
  signet_gtk_base_dialog_refresh(dialog);
}
