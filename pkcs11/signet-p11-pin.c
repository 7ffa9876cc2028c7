/* signet-p11-pin.c: changing the PIN, and unblocking it with the PUK by the
 * one method the module needs (TOKENS.md). One attempt; never a fallback. */
#include "config.h"

#include "pkcs11/signet-p11-private.h"

#include <string.h>

static gboolean
check_new_pin(SignetP11Session *s, const SignetSecret *new_pin, GError **error)
{
  gsize len = signet_secret_get_len(new_pin);
  const SignetP11Token *t = s->token;

  if (len == 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INVALID, "The new PIN is empty");
    return FALSE;
  }
  if (t->min_pin_len > 0 && len < t->min_pin_len) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INVALID,
                "The new PIN is too short: token \"%s\" needs at least %lu characters", t->label,
                t->min_pin_len);
    return FALSE;
  }
  if (t->max_pin_len > 0 && t->max_pin_len < G_MAXULONG && len > t->max_pin_len) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INVALID,
                "The new PIN is too long: token \"%s\" takes at most %lu characters", t->label,
                t->max_pin_len);
    return FALSE;
  }
  return TRUE;
}

static void
set_new_pin_error(SignetP11Session *s, CK_RV rv, GError **error)
{
  if (rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID)
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INVALID,
                "Token \"%s\" does not accept the new PIN (%s): check its length (%lu to %lu) "
                "and characters",
                s->token->label, signet_p11_rv_name(rv), s->token->min_pin_len,
                s->token->max_pin_len);
  else
    signet_p11_set_error(error, rv, "Could not set the new PIN");
}

gboolean
signet_p11_session_change_pin(SignetP11Session *s, const SignetSecret *old_pin,
                              const SignetSecret *new_pin, gboolean confirm_final_try,
                              GError **error)
{
  CK_RV rv;
  gboolean pad = s->token->protected_auth_path && signet_secret_get_len(old_pin) == 0;

  if (!check_new_pin(s, new_pin, error))
    return FALSE;
  /* Log in as the user with the current PIN, then C_SetPIN in that session.
   * Never C_SetPIN logged out: OpenSC with set_pin_in_unlogged_session
   * (which the agent sets for unblocking) sends that to the card as RESET
   * RETRY COUNTER, the current PIN taken as the PUK: a right PIN changes
   * nothing and a PUK try is spent (docs/internals/pkcs11.md). The login is
   * the one check of the current PIN, with its final-try guard; it costs
   * exactly one PIN try when the PIN is wrong. */
  if (!signet_p11_session_login_as(s, CKU_USER, pad ? NULL : old_pin, confirm_final_try, error))
    return FALSE;
  SIGNET_P11_WRITE_BEGIN(s);
  if (pad)
    rv = s->f->C_SetPIN(s->handle, NULL, 0, NULL, 0);
  else
    rv = s->f->C_SetPIN(
        s->handle, (CK_UTF8CHAR_PTR)signet_secret_get_data(old_pin), signet_secret_get_len(old_pin),
        (CK_UTF8CHAR_PTR)signet_secret_get_data(new_pin), signet_secret_get_len(new_pin));
  SIGNET_P11_WRITE_END(s);
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
    signet_p11_session_set_pin_error(s, rv, FALSE, error);
    return FALSE;
  }
  if (rv != CKR_OK) {
    set_new_pin_error(s, rv, error);
    return FALSE;
  }
  (void)signet_p11_session_refresh_token(s, NULL);
  return TRUE;
}

static gboolean
unblock_so_login_init_pin(SignetP11Session *s, const SignetSecret *puk, const SignetSecret *new_pin,
                          GError **error)
{
  CK_RV rv;

  /* The final try was checked by the caller. */
  if (!signet_p11_session_login_as(s, CKU_SO, puk, TRUE, error))
    return FALSE;
  SIGNET_P11_WRITE_BEGIN(s);
  rv = s->f->C_InitPIN(s->handle, (CK_UTF8CHAR_PTR)signet_secret_get_data(new_pin),
                       signet_secret_get_len(new_pin));
  SIGNET_P11_WRITE_END(s);
  if (rv != CKR_OK) {
    set_new_pin_error(s, rv, error);
    return FALSE;
  }
  return TRUE;
}

static gboolean
unblock_set_pin(SignetP11Session *s, const guint8 *old, gsize old_len, const guint8 *new,
                gsize new_len, GError **error)
{
  CK_RV rv;

  SIGNET_P11_WRITE_BEGIN(s);
  rv = s->f->C_SetPIN(s->handle, (CK_UTF8CHAR_PTR)old, old_len, (CK_UTF8CHAR_PTR) new, new_len);
  SIGNET_P11_WRITE_END(s);

  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
    signet_p11_session_set_pin_error(s, rv, TRUE, error);
    return FALSE;
  }
  if (rv != CKR_OK) {
    set_new_pin_error(s, rv, error);
    return FALSE;
  }
  return TRUE;
}

static gboolean
unblock_ykcs11(SignetP11Session *s, const SignetSecret *puk, const SignetSecret *new_pin,
               GError **error)
{
  /* ykcs11 takes "puk:<PUK>" and "pin:<new>"; build both in locked memory. */
  guint8 buf[SIGNET_SECRET_MAX + 8];
  g_autoptr(SignetSecret) old = NULL, new = NULL;
  gsize pl = signet_secret_get_len(puk), nl = signet_secret_get_len(new_pin);

  if (pl + 4 > SIGNET_SECRET_MAX || nl + 4 > SIGNET_SECRET_MAX) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_PIN_INVALID, "PIN or PUK too long");
    return FALSE;
  }
  memcpy(buf, "puk:", 4);
  memcpy(buf + 4, signet_secret_get_data(puk), pl);
  old = signet_secret_new(buf, pl + 4);
  memcpy(buf, "pin:", 4);
  memcpy(buf + 4, signet_secret_get_data(new_pin), nl);
  new = signet_secret_new(buf, nl + 4);
  explicit_bzero(buf, sizeof buf);
  return unblock_set_pin(s, signet_secret_get_data(old), signet_secret_get_len(old),
                         signet_secret_get_data(new), signet_secret_get_len(new), error);
}

gboolean
signet_p11_session_unblock_pin(SignetP11Session *s, const SignetSecret *puk,
                               const SignetSecret *new_pin, gboolean confirm_final_try,
                               GError **error)
{
  gboolean ok = FALSE;

  if (!check_new_pin(s, new_pin, error))
    return FALSE;
  /* The PUK's last try is never sent unconfirmed, whatever the method,
   * where the module reports the PUK's state (OpenSC never does). */
  if (!signet_p11_check_final_try(s, CKU_SO, confirm_final_try, error))
    return FALSE;

  switch (s->token->unblock_method) {
    case SIGNET_P11_UNBLOCK_SO_LOGIN_INIT_PIN:
      ok = unblock_so_login_init_pin(s, puk, new_pin, error);
      break;
    case SIGNET_P11_UNBLOCK_SET_PIN_UNLOGGED:
      ok = unblock_set_pin(s, signet_secret_get_data(puk), signet_secret_get_len(puk),
                           signet_secret_get_data(new_pin), signet_secret_get_len(new_pin), error);
      break;
    case SIGNET_P11_UNBLOCK_YKCS11:
      ok = unblock_ykcs11(s, puk, new_pin, error);
      break;
    case SIGNET_P11_UNBLOCK_UNKNOWN:
    default:
      g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
                  "Signet does not know how the PKCS#11 module \"%s\" (%s) unblocks a PIN, "
                  "and will not guess with your PUK. Set unblock-method in signet.conf if you "
                  "know it, or use the token vendor's tool. Nothing was sent",
                  s->token->module_name, s->token->library_manufacturer);
      return FALSE;
  }
  if (ok)
    (void)signet_p11_session_refresh_token(s, NULL);
  return ok;
}
