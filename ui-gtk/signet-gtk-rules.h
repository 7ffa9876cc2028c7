/* signet-gtk-rules.h: what the window decides from the agent's answers, as
 * plain functions (no widgets), so that tests/ui/test-window-units.c can
 * check them: the short words for a PIN's state, which operations a token
 * page offers for a GetTokenStatus answer, the expiry banner rule (from 45
 * days), what the holder has to do about an unfinished operation, the title
 * of a Progress step, and an error in words.
 *
 * Owns: the window's own short forms only. The rules themselves (final try,
 * locked, unblock method, the state words, validity words, error kinds and
 * next steps) are libsignet/signet-client.h's: called, never re-written.
 * May call: libsignet/, GLib.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A certificate gets the "Renew" banner from this many days before expiry. */
#define SIGNET_GTK_BANNER_DAYS 45

/* The PIN's state in the window's short form, from a GetTokenStatus answer
 * (or a ListTokens entry): "locked: unblock it with your PUK", "last try",
 * "must be changed", "a wrong PIN was entered", or "the token does not say"
 * (no flag set: the module does not report tries). Translated, static. */
const char *signet_gtk_pin_short_state(GVariant *status);

/* The PUK's state in short form, or NULL when the token reports nothing
 * about it (OpenSC never does): "locked", "last try", "a wrong PUK was
 * entered". */
const char *signet_gtk_puk_short_state(GVariant *status);

/* What a token page offers. */
typedef enum
{
  SIGNET_GTK_OFFER_ACTIVATE = 1 << 0,
  SIGNET_GTK_OFFER_CHANGE_PIN = 1 << 1,
  SIGNET_GTK_OFFER_UNBLOCK = 1 << 2,
  SIGNET_GTK_OFFER_REQUEST = 1 << 3,
  SIGNET_GTK_OFFER_IMPORT = 1 << 4,
  SIGNET_GTK_OFFER_HISTORY = 1 << 5,
} SignetGtkOffers;

/* The operations offered for @status: each one signet_client_before_secret
 * does not refuse (a locked PIN leaves the unblock; a locked PUK or an
 * unknown unblock method takes the unblock away), none that writes on a
 * write-protected token; the history always. */
SignetGtkOffers signet_gtk_token_offers(GVariant *status);

/* A certificate's state as the token page shows it. */
typedef enum
{
  SIGNET_GTK_CERT_VALID,      /* more than SIGNET_GTK_BANNER_DAYS left */
  SIGNET_GTK_CERT_RENEW_SOON, /* a holder certificate with its key, 0..45 days left: the banner */
  SIGNET_GTK_CERT_EXPIRED,    /* a holder certificate past not_after: ask the CA for a new one */
  SIGNET_GTK_CERT_AUTHORITY,  /* a CA certificate of the chain */
} SignetGtkCertState;

SignetGtkCertState signet_gtk_cert_state(GVariant *cert);

/* TRUE when @cert can be renewed from the window: a holder certificate,
 * not expired, with its key pair on the token. */
gboolean signet_gtk_cert_renewable(GVariant *cert);

/* What the holder has to do about one entry of GetTokenStatus's
 * "operations" (translated, newly allocated). */
char *signet_gtk_operation_todo(GVariant *operation);

/* The title of a Progress step of @operation ("activate" or "renew"), in
 * words; the step's own name for a step the window does not know. */
const char *signet_gtk_step_title(const char *operation, const char *step);

/* The steps of @operation in order, NULL-terminated (static). */
const char *const *signet_gtk_steps(const char *operation);

/* An error kind's name in words ("Wrong PIN", "The certificate authority
 * cannot be reached"). Translated, static. */
const char *signet_gtk_error_title(const GError *error);

/* The whole text the window shows for @error: its kind in words, the
 * agent's message (the remote error name stripped) and the next step from
 * signet_client_error_next_step(), one per line. */
char *signet_gtk_error_text(const GError *error);

G_END_DECLS
