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

typedef struct
{
  GWeakRef label;
  char *text; /* the error in words */
  SignetClientErrorKind kind;
  SignetGtkTriesWords words;
  SignetGtkErrorShown shown;
  gpointer data;
} ErrorRead;

/* Whether the state read again says more after an error of @kind. */
static gboolean
reads_tries(SignetClientErrorKind kind, SignetGtkTriesWords words)
{
  switch (kind) {
    case SIGNET_CLIENT_ERROR_PIN_INCORRECT:
    case SIGNET_CLIENT_ERROR_PIN_LOCKED:
    case SIGNET_CLIENT_ERROR_PUK_INCORRECT:
    case SIGNET_CLIENT_ERROR_PUK_LOCKED:
      return TRUE;
    case SIGNET_CLIENT_ERROR_FINAL_TRY:
      /* It does not say which secret: only the words naming both. */
      return words == SIGNET_GTK_TRIES_PIN_AND_PUK;
    default:
      return FALSE;
  }
}

/* @text with the tries left of @status added in @words. */
static char *
tries_text(const char *text, GVariant *status, SignetClientErrorKind kind,
           SignetGtkTriesWords words)
{
  if (words == SIGNET_GTK_TRIES_CONCERNED) {
    gboolean is_puk
        = kind == SIGNET_CLIENT_ERROR_PUK_INCORRECT || kind == SIGNET_CLIENT_ERROR_PUK_LOCKED;
    g_autoptr(GVariant) state
        = g_variant_lookup_value(status, is_puk ? "puk" : "pin", G_VARIANT_TYPE_VARDICT);
    g_autofree char *state_words = signet_client_describe_secret_state(state, is_puk);
    g_autofree char *line = NULL;

    /* TRANSLATORS: after a wrong PIN or PUK; %s is its state in words,
       e.g. "one try left: a wrong PIN locks it". */
    line = g_strdup_printf(is_puk ? _("PUK now: %s.") : _("PIN now: %s."), state_words);
    return g_strdup_printf("%s\n%s", text, line);
  } else {
    g_autoptr(GVariant) pin = g_variant_lookup_value(status, "pin", G_VARIANT_TYPE_VARDICT);
    g_autofree char *pin_words = signet_client_describe_secret_state(pin, FALSE);
    const char *puk = signet_gtk_puk_short_state(status);
    char *all = g_strdup_printf(_("%s\nThe PIN now: %s (%s)."), text,
                                signet_gtk_pin_short_state(status), pin_words);

    if (puk != NULL) {
      char *more = g_strdup_printf(_("%s\nThe PUK now: %s."), all, puk);
      g_free(all);
      all = more;
    }
    return all;
  }
}

static void
show_text(GtkLabel *label, const char *text)
{
  gtk_label_set_text(label, text);
  gtk_widget_set_visible(GTK_WIDGET(label), TRUE);
}

static void
on_error_status_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  ErrorRead *read = data;
  g_autoptr(GtkLabel) label = g_weak_ref_get(&read->label);
  g_autoptr(GVariant) status = NULL;

  /* The label may have gone with its page or dialog before the answer came. */
  if (signet_agent1_call_get_token_status_finish(SIGNET_AGENT1(source), &status, res, NULL)) {
    g_autofree char *text = tries_text(read->text, status, read->kind, read->words);
    if (label != NULL)
      show_text(label, text);
  } else if (label != NULL)
    show_text(label, read->text);
  if (read->shown != NULL)
    read->shown(status, read->data);
  g_weak_ref_clear(&read->label);
  g_free(read->text);
  g_free(read);
}

gboolean
signet_gtk_secret_show_error(GtkLabel *label, SignetAgent1 *proxy, const char *token,
                             const GError *error, SignetGtkTriesWords words,
                             SignetGtkErrorShown shown, gpointer data)
{
  g_autofree char *text = signet_gtk_error_text(error);
  SignetClientErrorKind kind = signet_client_error_kind(error);
  ErrorRead *read;

  if (label == NULL || proxy == NULL || token == NULL || !reads_tries(kind, words)) {
    if (label != NULL)
      show_text(label, text);
    if (shown != NULL)
      shown(NULL, data);
    return FALSE;
  }
  gtk_widget_set_visible(GTK_WIDGET(label), FALSE);
  read = g_new0(ErrorRead, 1);
  g_weak_ref_init(&read->label, label);
  read->text = g_steal_pointer(&text);
  read->kind = kind;
  read->words = words;
  read->shown = shown;
  read->data = data;
  signet_agent1_call_get_token_status(proxy, token, G_DBUS_CALL_FLAGS_NONE, SIGNET_GTK_CALL_TIMEOUT,
                                      NULL, on_error_status_cb, read);
  return TRUE;
}
