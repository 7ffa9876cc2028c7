/* signet-p11-session.c: sessions and logins. A PIN is sent once; after a
 * failure the token flags are read again and reported. */
#include "config.h"

#include "pkcs11/signet-p11-private.h"

#include <string.h>

SignetP11Session *
signet_p11_session_open(SignetP11Context *ctx, const SignetP11Token *token, GError **error)
{
  g_autoptr(SignetP11Session) s = NULL;
  g_autoptr(SignetP11Token) now = NULL;
  CK_RV rv;

  g_return_val_if_fail(token->module_index < ctx->modules->len, NULL);
  now = signet_p11_token_read(ctx, token->module_index, token->slot_id, error);
  if (now == NULL)
    return NULL;
  if (g_strcmp0(now->serial, token->serial) != 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_TOKEN_REMOVED,
                "Token \"%s\" (serial %s) was replaced by another one in the same slot: "
                "plug the right token in and retry",
                token->label, token->serial);
    return NULL;
  }
  s = g_new0(SignetP11Session, 1);
  s->ctx = ctx;
  s->module = g_ptr_array_index(ctx->modules, token->module_index);
  s->f = s->module->funcs;
  s->handle = CK_INVALID_HANDLE;
  s->token = g_steal_pointer(&now);
  rv = s->f->C_OpenSession(token->slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                           &s->handle);
  /* A write-protected token still reads: writes then fail as READ_ONLY. */
  if (rv == CKR_TOKEN_WRITE_PROTECTED)
    rv = s->f->C_OpenSession(token->slot_id, CKF_SERIAL_SESSION, NULL, NULL, &s->handle);
  if (rv != CKR_OK) {
    s->handle = CK_INVALID_HANDLE;
    signet_p11_set_error(error, rv, "Could not open a session with the token");
    return NULL;
  }
  return g_steal_pointer(&s);
}

void
signet_p11_session_free(SignetP11Session *s)
{
  if (s == NULL)
    return;
  if (s->handle != CK_INVALID_HANDLE) {
    /* Log out so that the login does not outlive this operation: login
     * state is shared by all sessions of the process on that token. */
    if (s->logged_in)
      (void)s->f->C_Logout(s->handle);
    (void)s->f->C_CloseSession(s->handle);
  }
  signet_p11_session_forget(s);
  signet_p11_token_free(s->token);
  g_free(s);
}

const SignetP11Token *
signet_p11_session_get_token(SignetP11Session *s)
{
  return s->token;
}

gboolean
signet_p11_session_refresh_token(SignetP11Session *s, GError **error)
{
  SignetP11Token *now
      = signet_p11_token_read(s->ctx, s->token->module_index, s->token->slot_id, error);
  if (now == NULL)
    return FALSE;
  signet_p11_token_free(s->token);
  s->token = now;
  return TRUE;
}

/* The PIN or PUK of the session's token is locked; @rv is the module's
 * answer when it said so (CKR_OK when the flags did). */
static void
set_locked_error(SignetP11Session *s, CK_USER_TYPE who, CK_RV rv, GError **error)
{
  g_autofree char *code
      = rv != CKR_OK ? g_strdup_printf(" (%s)", signet_p11_rv_name(rv)) : g_strdup("");

  if (who == CKU_SO)
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PUK_LOCKED,
                "The PUK of token \"%s\" is locked%s: the PIN cannot be unblocked any more; "
                "ask your CA or the token's issuer for a new token",
                s->token->label, code);
  else
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_LOCKED,
                "The PIN of token \"%s\" is locked%s: unblock it with the PUK "
                "(signet pin unblock)",
                s->token->label, code);
}

/* After a failed PIN or PUK: read the flags again (never assume: some drivers
 * answer a wrong PIN with CKR_GENERAL_ERROR) and say what they are. */
static void
set_pin_error(SignetP11Session *s, CK_RV rv, CK_USER_TYPE who, GError **error)
{
  g_autoptr(GError) refresh_error = NULL;
  const SignetP11PinState *state;
  g_autofree char *described = NULL;
  const char *what = who == CKU_SO ? "PUK" : "PIN";
  gboolean refreshed = signet_p11_session_refresh_token(s, &refresh_error);

  if (!refreshed
      && g_error_matches(refresh_error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_TOKEN_REMOVED)) {
    g_propagate_error(error, g_steal_pointer(&refresh_error));
    return;
  }
  state = who == CKU_SO ? &s->token->so_pin : &s->token->user_pin;
  described = refreshed ? signet_p11_describe_pin_state(state) : NULL;

  if (rv == CKR_PIN_LOCKED || (refreshed && state->locked)) {
    set_locked_error(s, who, rv, error);
    return;
  }
  if (rv == CKR_PIN_INCORRECT) {
    g_set_error(error, SIGNET_P11_ERROR,
                who == CKU_SO ? SIGNET_P11_ERROR_PUK_INCORRECT : SIGNET_P11_ERROR_PIN_INCORRECT,
                "Wrong %s for token \"%s\" (%s). The token reports: %s. It was not retried.", what,
                s->token->label, signet_p11_rv_name(rv),
                described != NULL ? described
                : refreshed       ? "no warning flag (tries left unknown)"
                                  : "nothing (its state could not be read)");
    return;
  }
  if (rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID) {
    g_set_error(error, SIGNET_P11_ERROR,
                who == CKU_SO ? SIGNET_P11_ERROR_PUK_INCORRECT : SIGNET_P11_ERROR_PIN_INCORRECT,
                "The %s has a length or characters token \"%s\" does not accept (%s)", what,
                s->token->label, signet_p11_rv_name(rv));
    return;
  }
  if (rv == CKR_SESSION_READ_ONLY_EXISTS || rv == CKR_USER_ANOTHER_ALREADY_LOGGED_IN
      || rv == CKR_USER_TOO_MANY_TYPES || rv == CKR_USER_TYPE_INVALID || rv == CKR_OPERATION_ACTIVE
      || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED
      || rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
    /* The module refused the login before looking at the secret. */
    g_autofree char *msg = g_strdup_printf(
        "The token did not check the %s: the module refused the login in the state it is in "
        "(another login or session of this process is in the way); no try was spent. Retry; "
        "if it persists, restart signetd",
        what);
    signet_p11_set_error(error, rv, msg);
    return;
  }
  {
    /* Some drivers report a wrong PIN as a general error: say what the flags
     * say now, without guessing. */
    g_autofree char *msg
        = g_strdup_printf("The token refused the %s%s%s", what,
                          described ? "; it now reports: " : "", described ? described : "");
    signet_p11_set_error(error, rv, msg);
  }
}

gboolean
signet_p11_check_final_try(SignetP11Session *s, CK_USER_TYPE who, gboolean confirmed,
                           GError **error)
{
  const SignetP11PinState *state = who == CKU_SO ? &s->token->so_pin : &s->token->user_pin;

  if (state->locked) {
    set_locked_error(s, who, CKR_OK, error);
    return FALSE;
  }
  if (state->final_try && !confirmed) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FINAL_TRY,
                "Token \"%s\" has one %s try left: a wrong %s now locks it. Nothing was "
                "sent; confirm to go on (--confirm-final-try)",
                s->token->label, who == CKU_SO ? "PUK" : "PIN", who == CKU_SO ? "PUK" : "PIN");
    return FALSE;
  }
  return TRUE;
}

gboolean
signet_p11_session_login_as(SignetP11Session *s, CK_USER_TYPE who, const SignetSecret *secret,
                            gboolean confirm_final_try, GError **error)
{
  CK_RV rv;

  if (!signet_p11_check_final_try(s, who, confirm_final_try, error))
    return FALSE;
  /* Logged in, the token shows other objects: every search may find more.
   * What was read of the objects seen so far stays what it was. */
  signet_p11_session_forget_searches(s);
  if (secret == NULL && !s->token->protected_auth_path) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INCORRECT, "No %s given",
                who == CKU_SO ? "PUK" : "PIN");
    return FALSE;
  }
  /* A login writes the token's PIN state (counters, flags). */
  SIGNET_P11_WRITE_BEGIN(s);
  if (s->token->protected_auth_path && (secret == NULL || signet_secret_get_len(secret) == 0))
    rv = s->f->C_Login(s->handle, who, NULL, 0);
  else
    rv = s->f->C_Login(s->handle, who, (CK_UTF8CHAR_PTR)signet_secret_get_data(secret),
                       signet_secret_get_len(secret));
  if (rv == CKR_USER_ALREADY_LOGGED_IN) {
    /* Another session of this process is logged in: log out and send the
     * PIN once, so that it is checked for this operation. */
    (void)s->f->C_Logout(s->handle);
    rv = s->f->C_Login(s->handle, who,
                       secret ? (CK_UTF8CHAR_PTR)signet_secret_get_data(secret) : NULL,
                       secret ? signet_secret_get_len(secret) : 0);
  }
  SIGNET_P11_WRITE_END(s);
  if (rv != CKR_OK) {
    set_pin_error(s, rv, who, error);
    return FALSE;
  }
  s->logged_in = TRUE;
  /* A successful login resets the counters: show the fresh state, read
   * again when the session's last read had a counter flag up. When none
   * was, the login leaves none (it clears them, and sets no other), so
   * reading again would only say the same. */
  {
    const SignetP11PinState *st = who == CKU_SO ? &s->token->so_pin : &s->token->user_pin;

    if (st->count_low || st->final_try)
      (void)signet_p11_session_refresh_token(s, NULL);
  }
  return TRUE;
}

gboolean
signet_p11_session_login(SignetP11Session *s, const SignetSecret *pin, gboolean confirm_final_try,
                         GError **error)
{
  return signet_p11_session_login_as(s, CKU_USER, pin, confirm_final_try, error);
}

void
signet_p11_session_set_pin_error(SignetP11Session *s, CK_RV rv, gboolean puk, GError **error)
{
  set_pin_error(s, rv, puk ? CKU_SO : CKU_USER, error);
}
