/* signet-gtk-rules.c: see signet-gtk-rules.h. */
#include "config.h"

#include "ui-gtk/signet-gtk-rules.h"

#include "libsignet/signet-client.h"

#include <glib/gi18n.h>

static gboolean
flag(GVariant *status, const char *which, const char *name)
{
  return signet_client_state_flag(status, which, name);
}

static gboolean
dict_bool(GVariant *dict, const char *key)
{
  gboolean value = FALSE;
  if (dict != NULL)
    (void)g_variant_lookup(dict, key, "b", &value);
  return value;
}

const char *
signet_gtk_pin_short_state(GVariant *status)
{
  if (flag(status, "pin", "locked"))
    return _("locked: unblock it with your PUK");
  if (flag(status, "pin", "final_try"))
    return _("last try");
  if (flag(status, "pin", "to_be_changed"))
    return _("must be changed");
  if (flag(status, "pin", "count_low"))
    return _("a wrong PIN was entered");
  return _("the token does not say");
}

const char *
signet_gtk_puk_short_state(GVariant *status)
{
  if (flag(status, "puk", "locked"))
    return _("locked");
  if (flag(status, "puk", "final_try"))
    return _("last try");
  if (flag(status, "puk", "count_low"))
    return _("a wrong PUK was entered");
  return NULL;
}

static gboolean
allowed(GVariant *status, SignetClientOp op)
{
  g_autoptr(GError) error = NULL;
  return signet_client_before_secret(status, op, "", &error) != SIGNET_CLIENT_REFUSE;
}

SignetGtkOffers
signet_gtk_token_offers(GVariant *status)
{
  SignetGtkOffers offers = SIGNET_GTK_OFFER_HISTORY;
  gboolean writable = !dict_bool(status, "write_protected");

  if (allowed(status, SIGNET_CLIENT_OP_CHANGE_PIN))
    offers |= SIGNET_GTK_OFFER_CHANGE_PIN;
  if (allowed(status, SIGNET_CLIENT_OP_UNBLOCK_PIN))
    offers |= SIGNET_GTK_OFFER_UNBLOCK;
  if (writable && allowed(status, SIGNET_CLIENT_OP_ACTIVATE))
    offers |= SIGNET_GTK_OFFER_ACTIVATE;
  if (writable && allowed(status, SIGNET_CLIENT_OP_CREATE_REQUEST))
    offers |= SIGNET_GTK_OFFER_REQUEST;
  if (writable && allowed(status, SIGNET_CLIENT_OP_IMPORT))
    offers |= SIGNET_GTK_OFFER_IMPORT;
  return offers;
}

SignetGtkCertState
signet_gtk_cert_state(GVariant *cert)
{
  gint64 days_left = G_MAXINT64;

  if (dict_bool(cert, "authority"))
    return SIGNET_GTK_CERT_AUTHORITY;
  (void)g_variant_lookup(cert, "days_left", "x", &days_left);
  if (dict_bool(cert, "expired") || days_left < 0)
    return SIGNET_GTK_CERT_EXPIRED;
  if (days_left <= SIGNET_GTK_BANNER_DAYS && dict_bool(cert, "has_key"))
    return SIGNET_GTK_CERT_RENEW_SOON;
  return SIGNET_GTK_CERT_VALID;
}

gboolean
signet_gtk_cert_renewable(GVariant *cert)
{
  SignetGtkCertState state = signet_gtk_cert_state(cert);
  return (state == SIGNET_GTK_CERT_VALID || state == SIGNET_GTK_CERT_RENEW_SOON)
         && dict_bool(cert, "has_key");
}

char *
signet_gtk_operation_todo(GVariant *operation)
{
  const char *kind = "", *state = "", *message = "";
  gboolean needs_pin = dict_bool(operation, "needs_pin");
  gboolean renew;

  (void)g_variant_lookup(operation, "kind", "&s", &kind);
  (void)g_variant_lookup(operation, "state", "&s", &state);
  (void)g_variant_lookup(operation, "message", "&s", &message);
  renew = g_str_equal(kind, "renew");

  const char *todo;
  if (needs_pin)
    todo = renew ? _("Renew again with your PIN to finish it.")
                 : _("Activate again with your PIN to finish it (the same reference number; a "
                     "new code if the CA gave you one).");
  else if (g_str_equal(state, "pending"))
    todo = _("Nothing to do: the agent asks the CA again by itself and writes the certificate "
             "when the token is plugged in.");
  else
    todo = _("Nothing to do: the agent finishes it by itself when the token is plugged in.");
  if (*message == '\0')
    return g_strdup(todo);
  return g_strdup_printf("%s\n%s", message, todo);
}

static const struct
{
  const char *operation; /* NULL: any */
  const char *step;
  const char *title;
} step_titles[] = {
  { NULL, "check-token", N_("Check the token") },
  { NULL, "check-certificate", N_("Check the certificate") },
  { NULL, "ca-certificates", N_("Fetch the certificate authority's certificates") },
  { NULL, "subject", N_("Prepare the name on the certificate") },
  { NULL, "login", N_("Log in with the PIN") },
  { NULL, "ask-ca", N_("Ask the certificate authority what the request must hold") },
  { NULL, "cleanup", N_("Remove what an earlier attempt left") },
  { NULL, "check-room", N_("Check for room on the token") },
  { NULL, "generate-key", N_("Generate the key on the token") },
  { NULL, "request", N_("Sign the request on the token") },
  { NULL, "resend", N_("Send the kept request again") },
  { NULL, "enroll", N_("Send the request to the certificate authority") },
  { NULL, "reenroll", N_("Send the renewal request to the certificate authority") },
  { NULL, "pending", N_("Wait for the certificate authority") },
  { NULL, "verify", N_("Check the issued certificate") },
  { NULL, "store", N_("Store the certificate on the token") },
  { NULL, "test-signature", N_("Test a signature with the new key") },
  { NULL, "remove-old", N_("Remove the old certificate") },
  { NULL, "done", N_("Finish") },
};

static const char *const activate_steps[] = {
  "check-token", "ca-certificates", "subject", "login", "cleanup", "generate-key",
  "request",     "enroll",          "verify",  "store", "done",    NULL,
};

static const char *const renew_steps[] = {
  "check-certificate", "ca-certificates", "login",    "ask-ca", "check-room",
  "generate-key",      "request",         "reenroll", "verify", "store",
  "test-signature",    "remove-old",      "done",     NULL,
};

const char *const *
signet_gtk_steps(const char *operation)
{
  return g_strcmp0(operation, "renew") == 0 ? renew_steps : activate_steps;
}

const char *
signet_gtk_step_title(const char *operation, const char *step)
{
  for (gsize i = 0; i < G_N_ELEMENTS(step_titles); i++)
    if ((step_titles[i].operation == NULL || g_strcmp0(step_titles[i].operation, operation) == 0)
        && g_strcmp0(step_titles[i].step, step) == 0)
      return _(step_titles[i].title);
  return step;
}

/* Names the kinds do not tell apart, but the holder should read at once. */
static const struct
{
  const char *name;
  const char *title;
} name_titles[] = {
  { "io.signet.Error.CodeExpired", N_("The activation code has expired") },
  { "io.signet.Error.CodeRejected", N_("The certificate authority did not accept the code") },
  { "io.signet.Error.TokenFull", N_("The token is full") },
  { "io.signet.Error.ReadOnly", N_("The token is write-protected") },
  { "io.signet.Error.CaNotTrusted", N_("The certificate authority's server is not trusted") },
  { "io.signet.Error.CaRefused", N_("The certificate authority refused the request") },
  { "io.signet.Error.PinInvalid", N_("The token does not take this PIN") },
  { "io.signet.Error.NoMatchingKey", N_("The certificate matches no key on the token") },
  { "io.signet.Error.Profile", N_("The certificate authority's profile is missing or broken") },
};

const char *
signet_gtk_error_title(const GError *error)
{
  g_autofree char *remote = error != NULL ? g_dbus_error_get_remote_error(error) : NULL;

  for (gsize i = 0; remote != NULL && i < G_N_ELEMENTS(name_titles); i++)
    if (g_str_equal(remote, name_titles[i].name))
      return _(name_titles[i].title);
  if (error != NULL && g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN))
    return _("The Signet agent cannot be reached");
  switch (signet_client_error_kind(error)) {
    case SIGNET_CLIENT_ERROR_PIN_INCORRECT:
      return _("Wrong PIN");
    case SIGNET_CLIENT_ERROR_PUK_INCORRECT:
      return _("Wrong PUK");
    case SIGNET_CLIENT_ERROR_PIN_LOCKED:
      return _("The PIN is locked");
    case SIGNET_CLIENT_ERROR_PUK_LOCKED:
      return _("The PUK is locked");
    case SIGNET_CLIENT_ERROR_FINAL_TRY:
      return _("Last PIN try: not confirmed, nothing was sent");
    case SIGNET_CLIENT_ERROR_NO_TOKEN:
      return _("The token is not there");
    case SIGNET_CLIENT_ERROR_BUSY:
      return _("The token is busy");
    case SIGNET_CLIENT_ERROR_PENDING:
      return _("The certificate authority issues the certificate later");
    case SIGNET_CLIENT_ERROR_CA_UNAVAILABLE:
      return _("The certificate authority cannot be reached");
    case SIGNET_CLIENT_ERROR_EXPIRED:
      return _("The certificate has expired");
    case SIGNET_CLIENT_ERROR_NOT_AUTHORIZED:
      return _("Not allowed from here");
    case SIGNET_CLIENT_ERROR_NOT_SUPPORTED:
      return _("The token cannot do this");
    case SIGNET_CLIENT_ERROR_CERTIFICATE_EXISTS:
      return _("This key already has a certificate");
    case SIGNET_CLIENT_ERROR_INVALID_ARGS:
    case SIGNET_CLIENT_ERROR_BAD_INPUT:
      return _("Something typed or chosen is not right");
    case SIGNET_CLIENT_ERROR_FAILED:
      break;
  }
  return _("It did not work");
}

char *
signet_gtk_error_text(const GError *error)
{
  g_autofree char *message = NULL;
  const char *next;
  GString *text = g_string_new(signet_gtk_error_title(error));

  if (error != NULL) {
    GError *copy = g_error_copy(error);
    g_dbus_error_strip_remote_error(copy);
    message = g_strdup(copy->message);
    g_error_free(copy);
  }
  if (message != NULL && *message != '\0')
    g_string_append_printf(text, "\n%s", message);
  next = signet_client_error_next_step(signet_client_error_kind(error));
  if (next != NULL)
    g_string_append_printf(text, "\n%s", next);
  return g_string_free(text, FALSE);
}
