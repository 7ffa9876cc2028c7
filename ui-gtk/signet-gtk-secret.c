/* signet-gtk-secret.c: see signet-gtk-secret.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-secret.h"

#include "ui-gtk/signet-gtk-agent.h"
#include "ui-gtk/signet-gtk-dialogs.h"
#include "ui-gtk/signet-gtk-rules.h"

#include <glib/gi18n.h>

#include <string.h>

typedef struct
{
  GtkWidget *parent; /* weak */
  char *label;
  SignetClientOp op;
  SignetGtkSecretReady ready;
  gpointer data;
} Check;

static void
check_free(Check *check)
{
  g_clear_weak_pointer(&check->parent);
  g_free(check->label);
  g_free(check);
}

static void
on_final_try_done_cb(gboolean confirmed, gpointer data)
{
  Check *check = data;
  /* Cancel: nothing is sent, and no error to show. */
  check->ready(confirmed, confirmed, FALSE, NULL, check->data);
  check_free(check);
}

static void
on_status_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  Check *check = data;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;
  SignetClientAsk ask;

  if (!signet_agent1_call_get_token_status_finish(SIGNET_AGENT1(source), &status, res, &error)) {
    check->ready(FALSE, FALSE, FALSE, error, check->data);
    check_free(check);
    return;
  }
  ask = signet_client_before_secret(status, check->op, check->label, &error);
  switch (ask) {
    case SIGNET_CLIENT_REFUSE:
      check->ready(FALSE, FALSE, FALSE, error, check->data);
      break;
    case SIGNET_CLIENT_ASK_FINAL_TRY: {
      GtkRoot *root = check->parent != NULL ? gtk_widget_get_root(check->parent) : NULL;
      signet_gtk_confirm_final_try(GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
                                   signet_client_op_secret(check->op), check->label,
                                   on_final_try_done_cb, check);
      return;
    }
    case SIGNET_CLIENT_ASK_PIN_PAD:
      check->ready(TRUE, FALSE, TRUE, NULL, check->data);
      break;
    case SIGNET_CLIENT_ASK:
      check->ready(TRUE, FALSE, FALSE, NULL, check->data);
      break;
  }
  check_free(check);
}

void
signet_gtk_secret_check(GtkWidget *parent, SignetAgent1 *proxy, const char *token,
                        const char *label, SignetClientOp op, SignetGtkSecretReady ready,
                        gpointer data)
{
  Check *check = g_new0(Check, 1);

  g_set_weak_pointer(&check->parent, parent);
  check->label = g_strdup(label != NULL && *label != '\0' ? label : token);
  check->op = op;
  check->ready = ready;
  check->data = data;
  signet_agent1_call_get_token_status(proxy, token, G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT,
                                      NULL, on_status_cb, check);
}

SignetSecret *
signet_gtk_secret_take(GtkEditable *entry)
{
  const char *text = gtk_editable_get_text(entry);
  SignetSecret *secret = NULL;

  if (text != NULL && *text != '\0')
    secret = signet_secret_new(text, strlen(text));
  /* The entry's own buffer is wiped by GTK when the text is replaced. */
  gtk_editable_set_text(entry, "");
  return secret;
}

GVariant *
signet_gtk_secret_to_variant(SignetSecret *secret)
{
  g_return_val_if_fail(secret != NULL, NULL);
  return g_variant_new_from_data(G_VARIANT_TYPE_BYTESTRING, signet_secret_get_data(secret),
                                 signet_secret_get_len(secret), TRUE,
                                 (GDestroyNotify)signet_secret_free, secret);
}

static void
on_error_status_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  GWeakRef *ref = data;
  g_autoptr(GtkLabel) label = g_weak_ref_get(ref);
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) pin = NULL;
  g_autofree char *pin_words = NULL;
  g_autofree char *text = NULL;
  const char *puk;

  g_weak_ref_clear(ref);
  g_free(ref);
  /* The label may have gone with its page before the answer came. */
  if (!signet_agent1_call_get_token_status_finish(SIGNET_AGENT1(source), &status, res, NULL)
      || label == NULL)
    return;
  pin = g_variant_lookup_value(status, "pin", G_VARIANT_TYPE_VARDICT);
  pin_words = signet_client_describe_secret_state(pin, FALSE);
  puk = signet_gtk_puk_short_state(status);
  text = g_strdup_printf(_("%s\nThe PIN now: %s (%s)."), gtk_label_get_text(label),
                         signet_gtk_pin_short_state(status), pin_words);
  if (puk != NULL) {
    char *more = g_strdup_printf(_("%s\nThe PUK now: %s."), text, puk);
    g_free(text);
    text = more;
  }
  gtk_label_set_text(label, text);
}

void
signet_gtk_secret_show_error(GtkLabel *label, SignetAgent1 *proxy, const char *token,
                             const GError *error)
{
  g_autofree char *text = signet_gtk_error_text(error);
  GWeakRef *ref;

  gtk_label_set_text(label, text);
  gtk_widget_set_visible(GTK_WIDGET(label), TRUE);
  switch (signet_client_error_kind(error)) {
    case SIGNET_CLIENT_ERROR_PIN_INCORRECT:
    case SIGNET_CLIENT_ERROR_PIN_LOCKED:
    case SIGNET_CLIENT_ERROR_PUK_INCORRECT:
    case SIGNET_CLIENT_ERROR_FINAL_TRY:
      if (proxy == NULL || token == NULL)
        break;
      ref = g_new0(GWeakRef, 1);
      g_weak_ref_init(ref, label);
      signet_agent1_call_get_token_status(proxy, token, G_DBUS_CALL_FLAGS_NONE,
                                          SIGNET_GTK_CALL_TIMEOUT, NULL, on_error_status_cb, ref);
      break;
    default:
      break;
  }
}
