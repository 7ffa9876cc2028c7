/* signet-p11-private.h: structures shared by the files of pkcs11/ only. */
#pragma once

#include <openssl/ec.h>

#include "pkcs11/signet-p11.h"

typedef struct
{
  CK_FUNCTION_LIST_PTR funcs; /* as p11-kit handed it */
  char *name;
  char *path; /* the module file */
  CK_INFO info;
  gboolean initialized; /* we called C_Initialize (and must finalize) */
  /* What each token can do (its mechanisms), read once: "SLOT:SERIAL" →
   * SignetP11Mechanisms. A token does not change its mechanisms; another
   * token in the slot has another serial. */
  GMutex mech_lock;
  GHashTable *mechanisms;
  /* Who reads and who writes each slot's token: CK_SLOT_ID → GRWLock*,
   * made on first use and kept with the module (signet_p11_access_begin). */
  GMutex access_lock;
  GHashTable *access;
  /* What the module's slots are, kept between looks (under slot_lock):
   * the slots with a token at the last C_GetSlotList, a count bumped each
   * time that list changes (a reader or token came or went), each slot's
   * CK_SLOT_INFO (CK_SLOT_ID → CK_SLOT_INFO*, forgotten when the list
   * changes: a reader's description and flags do not change while it is
   * there), and which slot each name found last ("spec" → SlotHint*). */
  GMutex slot_lock;
  GArray *slots;
  guint slots_generation;
  GHashTable *slot_infos;
  GHashTable *hints;
} SignetP11ModuleEntry;

/* The module's slots with a token (C_GetSlotList(TRUE)), noting a change
 * in the list; NULL with the module's failure in @out_rv. */
GArray *signet_p11_module_slots(SignetP11ModuleEntry *m, CK_RV *out_rv);

/* A token's objects (and its PIN state) are read and written by one call at
 * a time (reads too: SoftHSM2 2.6 crashed under fifty concurrent readers, so
 * signet_p11_access_begin() takes the writer's side for both):
 * every call that creates, changes or destroys an object, logs in or sets a
 * PIN runs between signet_p11_access_begin(…, TRUE) and _end, every call
 * that reads objects between (…, FALSE) and _end (not C_GetTokenInfo: finding
 * a token never waits). PKCS#11 promises no more than the module's own locks, and SoftHSM2
 * 2.6's file store fails a key generation (CKR_FUNCTION_FAILED) when
 * another session re-reads the token's directory in the middle of it
 * (SoftHSMv2 issue #573); OpenSC locks the card for each call itself. The
 * sections hold one call each (or a search), never another section. */
void signet_p11_access_begin(SignetP11ModuleEntry *m, CK_SLOT_ID slot, gboolean write);
void signet_p11_access_end(SignetP11ModuleEntry *m, CK_SLOT_ID slot, gboolean write);
#define SIGNET_P11_READ_BEGIN(s)  signet_p11_access_begin((s)->module, (s)->token->slot_id, FALSE)
#define SIGNET_P11_READ_END(s)    signet_p11_access_end((s)->module, (s)->token->slot_id, FALSE)
#define SIGNET_P11_WRITE_BEGIN(s) signet_p11_access_begin((s)->module, (s)->token->slot_id, TRUE)
#define SIGNET_P11_WRITE_END(s)   signet_p11_access_end((s)->module, (s)->token->slot_id, TRUE)

struct _SignetP11Context
{
  GPtrArray *modules;                   /* SignetP11ModuleEntry* */
  CK_FUNCTION_LIST_PTR *p11kit_modules; /* p11_kit_modules_load() result, or NULL */
  SignetP11UnblockMethod unblock_override;
};

struct _SignetP11Session
{
  SignetP11Context *ctx;
  SignetP11ModuleEntry *module;
  CK_FUNCTION_LIST_PTR f;
  CK_SESSION_HANDLE handle;
  SignetP11Token *token;
  gboolean logged_in;
  /* What this session read (signet-p11-objects.c): "HANDLE:TYPE" → the
   * attribute, a search template's bytes → the handles found. */
  GHashTable *seen_attributes;
  GHashTable *seen_searches;
};

/* Sets @error from @rv for the operation @what ("Could not generate the key"),
 * choosing the code a caller can act on. */
void signet_p11_set_error(GError **error, CK_RV rv, const char *what);
/* The private key object @id and its CKA_KEY_TYPE (@out_type), or
 * CK_INVALID_HANDLE and NO_SUCH_OBJECT. */
CK_OBJECT_HANDLE signet_p11_find_private_key(SignetP11Session *s, GBytes *id, CK_KEY_TYPE *out_type,
                                             GError **error);
/* The SignetP11Error code for @rv. */
SignetP11Error signet_p11_error_code_for_rv(CK_RV rv);
gboolean signet_p11_rv_is_removal(CK_RV rv);

/* Fills a SignetP11Token for @slot of @module; NULL with @error when the slot
 * has no token or the token is gone. */
SignetP11Token *signet_p11_token_read(SignetP11Context *ctx, guint module_index, CK_SLOT_ID slot,
                                      GError **error);
/* Describes the PIN state for a message: "one try left", … or NULL. */
char *signet_p11_describe_pin_state(const SignetP11PinState *state);

/* Reads one public attribute of @obj into a new GBytes, or NULL if
 * absent/unreadable; once per session (signet_p11_session_forget()). */
GBytes *signet_p11_get_attribute(SignetP11Session *session, CK_OBJECT_HANDLE obj,
                                 CK_ATTRIBUTE_TYPE type);
gboolean signet_p11_get_bool(SignetP11Session *session, CK_OBJECT_HANDLE obj,
                             CK_ATTRIBUTE_TYPE type, gboolean fallback);
/* Drops what the session read: after a write whose outcome is not known. */
void signet_p11_session_forget(SignetP11Session *session);
/* Drops the searches only: at a login, which shows the private objects. */
void signet_p11_session_forget_searches(SignetP11Session *session);
/* After a write through @session: @obj of @klass was created (searches that
 * could find it are forgotten, "every object of @klass" gains it), or @obj
 * was destroyed (it leaves every search's answer). Either way its
 * attributes are forgotten. */
void signet_p11_session_created(SignetP11Session *session, CK_OBJECT_CLASS klass,
                                CK_OBJECT_HANDLE obj);
void signet_p11_session_destroyed(SignetP11Session *session, CK_OBJECT_HANDLE obj);
/* After C_GenerateKeyPair made @pub and @priv with the new key id @id:
 * reads what is read of them next (their ids, the public key, the private
 * key's protection) and remembers the search for each by @id. */
void signet_p11_session_generated(SignetP11Session *session, GBytes *id, CK_KEY_TYPE key_type,
                                  CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv);
/* Finds every object matching @tmpl (the same search again in the session,
 * with nothing written since, is not sent again). */
GArray *signet_p11_find_objects(SignetP11Session *session, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                GError **error);

/* Refuses to send a secret to a locked PIN/PUK, or at FINAL_TRY unless
 * @confirmed. */
gboolean signet_p11_check_final_try(SignetP11Session *session, CK_USER_TYPE who, gboolean confirmed,
                                    GError **error);
/* C_Login as @who (CKU_USER or CKU_SO) with @secret, once. */
gboolean signet_p11_session_login_as(SignetP11Session *session, CK_USER_TYPE who,
                                     const SignetSecret *secret, gboolean confirm_final_try,
                                     GError **error);
/* The error for a refused PIN (@puk FALSE) or PUK, after re-reading the flags. */
void signet_p11_session_set_pin_error(SignetP11Session *session, CK_RV rv, gboolean puk,
                                      GError **error);
/* The module says it is OpenSC (C_GetInfo's manufacturer). */
gboolean signet_p11_module_is_opensc(const CK_INFO *info);
/* How the private key @priv is kept on the token (see SignetP11KeyProtection). */
SignetP11KeyProtection signet_p11_private_key_protection(SignetP11Session *session,
                                                         CK_OBJECT_HANDLE priv);
/* The public key of object @obj (a public key, or an RSA private key). */
EVP_PKEY *signet_p11_object_public_key(SignetP11Session *session, CK_OBJECT_HANDLE obj);

/* A private key is used only in a session logged in (or on a token that
 * needs no login): FALSE with an internal error otherwise. */
gboolean signet_p11_check_logged_in(SignetP11Session *session, GError **error);
/* One C_SignInit + C_Sign (or C_DecryptInit + C_Decrypt when @decrypt) with
 * @key and @mechanism (no parameter) over @in, into @out of *@out_len bytes
 * (set to the result's length). */
gboolean signet_p11_key_operation(SignetP11Session *session, CK_OBJECT_HANDLE key,
                                  CK_MECHANISM_TYPE mechanism, gboolean decrypt, const guint8 *in,
                                  gsize in_len, guint8 *out, gsize *out_len, GError **error);
/* CKM_ECDSA's signature (r then s, each half of @len) as an ECDSA_SIG, or
 * NULL when it cannot be one. */
ECDSA_SIG *signet_p11_ecdsa_sig_from_raw(const guint8 *raw, gsize len);
