/* signet-gtk-export-dialog.c: Export a certificate
 * (signet_gtk_export_certificate): the format (PEM with the chain, PEM or
 * DER of the holder's only), ExportCertificate, a file chosen, written with
 * GIO, and where it went. No PIN: public objects only. */
#include "config.h"

#include "ui-gtk/signet-gtk-dialogs.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-base-dialog.h"

#include <glib/gi18n.h>

#define RESOURCE "/io/signet/Signet/dialogs/signet-gtk-export-dialog.ui"

static SignetGtkExportFormat
chosen_format(SignetGtkBaseDialog *dialog)
{
  return (SignetGtkExportFormat)adw_combo_row_get_selected(
      signet_gtk_base_dialog_get(dialog, "format_row"));
}

static void
update(SignetGtkBaseDialog *dialog)
{
  signet_gtk_base_dialog_set_ready(dialog, TRUE);
}

static void
on_saved_cb(SignetGtkBaseDialog *dialog, const char *path)
{
  g_autofree char *text = NULL;

  if (path == NULL) {
    update(dialog);
    return;
  }
  text = g_strdup_printf(_("Saved to %s."), path);
  signet_gtk_base_dialog_finish(dialog, text);
}

static void
on_export_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SignetGtkBaseDialog) dialog = data;
  g_autoptr(GVariant) certificates = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  SignetGtkExportFormat format;

  signet_gtk_base_dialog_set_busy(dialog, NULL);
  if (!signet_agent1_call_export_certificate_finish(SIGNET_AGENT1(source), &certificates, res,
                                                    &error)) {
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  if (dialog->window == NULL)
    return;
  format = chosen_format(dialog);
  bytes = signet_gtk_export_bytes(certificates, format, &error);
  if (bytes == NULL) {
    signet_gtk_base_dialog_show_error(dialog, error);
    return;
  }
  signet_gtk_base_dialog_set_busy(dialog, _("Choosing a file…"));
  signet_gtk_base_dialog_save(
      dialog, _("Save the Certificate"), signet_gtk_export_suggested_name(format),
      format == SIGNET_GTK_EXPORT_DER_HOLDER ? _("DER certificates") : _("PEM certificates"),
      format == SIGNET_GTK_EXPORT_DER_HOLDER ? "*.cer;*.der;*.crt" : "*.pem;*.crt;*.cer", bytes,
      on_saved_cb);
}

static void
on_action_clicked_cb(GtkButton *button, gpointer data)
{
  SignetGtkBaseDialog *dialog = data;
  GVariantBuilder options;
  const char *cert = g_object_get_data(G_OBJECT(dialog->window), "signet-cert");

  (void)button;
  if (dialog->busy || dialog->finished)
    return;
  g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(
      &options, "{sv}", "chain",
      g_variant_new_boolean(chosen_format(dialog) == SIGNET_GTK_EXPORT_PEM_CHAIN));
  signet_gtk_base_dialog_set_busy(dialog, _("Reading the certificates from the token…"));
  signet_agent1_call_export_certificate(dialog->agent, dialog->token, cert != NULL ? cert : "",
                                        g_variant_builder_end(&options), G_DBUS_CALL_FLAGS_NONE,
                                        SIGNET_GTK_CALL_TIMEOUT, NULL, on_export_cb,
                                        signet_gtk_base_dialog_ref(dialog));
}

void
signet_gtk_export_certificate(GtkWindow *parent, SignetAgent1 *agent, const char *token_serial,
                              const char *cert_serial)
{
  g_autoptr(SignetGtkBaseDialog) dialog = signet_gtk_base_dialog_new(
      parent, agent, token_serial, RESOURCE, _("Export Certificate"), _("_Export…"));

  gtk_widget_set_name(GTK_WIDGET(dialog->window), "signet-export");
  g_object_set_data_full(G_OBJECT(dialog->window), "signet-cert",
                         g_strdup(cert_serial != NULL ? cert_serial : ""), g_free);
  dialog->update = update;
  gtk_window_set_default_widget(dialog->window, GTK_WIDGET(dialog->action_button));
  g_signal_connect(dialog->action_button, "clicked", G_CALLBACK(on_action_clicked_cb), dialog);
  signet_gtk_base_dialog_refresh(dialog);
}
