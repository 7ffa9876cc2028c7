/* signet-p11-token.c: slots and tokens: what is present, what it is, its PIN
 * state, what it can generate, how its PIN is unblocked; finding a token by
 * URI, serial or label. */
#include "config.h"

#include "pkcs11/signet-p11-private.h"
#include "common/signet-util.h"

#include <p11-kit/uri.h>
#include <string.h>

/* ---- key types ---------------------------------------------------------- */

static const struct
{
  SignetP11KeyType type;
  const char *name;
  gboolean ec;
  gulong bits;
} key_types[] = {
  { SIGNET_P11_KEY_RSA_2048, "rsa:2048", FALSE, 2048 },
  { SIGNET_P11_KEY_RSA_3072, "rsa:3072", FALSE, 3072 },
  { SIGNET_P11_KEY_RSA_4096, "rsa:4096", FALSE, 4096 },
  { SIGNET_P11_KEY_EC_P256, "ec:p256", TRUE, 256 },
  { SIGNET_P11_KEY_EC_P384, "ec:p384", TRUE, 384 },
};

gboolean
signet_p11_key_type_parse(const char *name, SignetP11KeyType *out_type, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS(key_types); i++)
    if (name != NULL && g_ascii_strcasecmp(name, key_types[i].name) == 0) {
      *out_type = key_types[i].type;
      return TRUE;
    }
  g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
              "Unknown key type \"%s\": use rsa:2048, rsa:3072, rsa:4096, ec:p256 or ec:p384",
              name ? name : "");
  return FALSE;
}

const char *
signet_p11_key_type_to_string(SignetP11KeyType type)
{
  for (gsize i = 0; i < G_N_ELEMENTS(key_types); i++)
    if (key_types[i].type == type)
      return key_types[i].name;
  return "unknown";
}

static gboolean
token_can_generate(const SignetP11Token *token, gsize i)
{
  gulong min = key_types[i].ec ? token->ec_min_bits : token->rsa_min_bits;
  gulong max = key_types[i].ec ? token->ec_max_bits : token->rsa_max_bits;

  if (max == 0 && min == 0)
    return FALSE; /* no such mechanism */
  if (max == G_MAXULONG)
    return TRUE; /* mechanism present, sizes not reported */
  return key_types[i].bits >= min && key_types[i].bits <= max;
}

GStrv
signet_p11_token_key_types(const SignetP11Token *token)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();

  for (gsize i = 0; i < G_N_ELEMENTS(key_types); i++)
    if (token_can_generate(token, i))
      g_strv_builder_add(b, key_types[i].name);
  return g_strv_builder_end(b);
}

gboolean
signet_p11_token_check_key_type(const SignetP11Token *token, SignetP11KeyType type, GError **error)
{
  g_auto(GStrv) can = NULL;
  g_autofree char *list = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS(key_types); i++)
    if (key_types[i].type == type && token_can_generate(token, i))
      return TRUE;
  can = signet_p11_token_key_types(token);
  list = g_strjoinv(", ", can);
  if (can[0] == NULL)
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
                "Token \"%s\" cannot generate keys through its PKCS#11 module (%s); a "
                "vendor module may be needed",
                token->label, token->module_name);
  else
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
                "Token \"%s\" cannot generate %s keys; it can generate: %s", token->label,
                signet_p11_key_type_to_string(type), list);
  return FALSE;
}

gboolean
signet_p11_token_check_decrypt(const SignetP11Token *token, SignetP11KeyType type,
                               const char *needed_by, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS(key_types); i++)
    if (key_types[i].type == type && !key_types[i].ec && token->can_decrypt_rsa)
      return TRUE;
  g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
              "Token \"%s\" cannot decrypt with an %s key through its PKCS#11 module (%s), and "
              "%s needs that: the CA encrypts the certificate to the new key. Nothing was "
              "changed on the token; use a token whose keys can decrypt, or ask the CA for a "
              "profile over another protocol",
              token->label, signet_p11_key_type_to_string(type), token->module_name, needed_by);
  return FALSE;
}

/* ---- unblock methods ---------------------------------------------------- */

static const struct
{
  SignetP11UnblockMethod method;
  const char *name;
} unblock_methods[] = {
  { SIGNET_P11_UNBLOCK_UNKNOWN, "unknown" },
  { SIGNET_P11_UNBLOCK_SO_LOGIN_INIT_PIN, "so-login-init-pin" },
  { SIGNET_P11_UNBLOCK_SET_PIN_UNLOGGED, "set-pin-unlogged" },
  { SIGNET_P11_UNBLOCK_YKCS11, "ykcs11" },
};

gboolean
signet_p11_unblock_method_parse(const char *name, SignetP11UnblockMethod *out_method,
                                GError **error)
{
  for (gsize i = 1; i < G_N_ELEMENTS(unblock_methods); i++)
    if (name != NULL && g_strcmp0(name, unblock_methods[i].name) == 0) {
      *out_method = unblock_methods[i].method;
      return TRUE;
    }
  g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NOT_SUPPORTED,
              "Unknown unblock method \"%s\": use so-login-init-pin, set-pin-unlogged or ykcs11",
              name ? name : "");
  return FALSE;
}

const char *
signet_p11_unblock_method_to_string(SignetP11UnblockMethod method)
{
  for (gsize i = 0; i < G_N_ELEMENTS(unblock_methods); i++)
    if (unblock_methods[i].method == method)
      return unblock_methods[i].name;
  return "unknown";
}

gboolean
signet_p11_module_is_opensc(const CK_INFO *info)
{
  g_autofree char *manufacturer
      = signet_padded_to_string(info->manufacturerID, sizeof info->manufacturerID);

  return g_str_has_prefix(manufacturer, "OpenSC");
}

/* What the module needs (TOKENS.md), from what it says it is. */
static SignetP11UnblockMethod
unblock_method_for_module(const CK_INFO *info)
{
  g_autofree char *manufacturer
      = signet_padded_to_string(info->manufacturerID, sizeof info->manufacturerID);

  if (g_str_has_prefix(manufacturer, "SoftHSM"))
    return SIGNET_P11_UNBLOCK_SO_LOGIN_INIT_PIN;
  if (g_str_has_prefix(manufacturer, "OpenSC"))
    return SIGNET_P11_UNBLOCK_SET_PIN_UNLOGGED;
  if (g_str_has_prefix(manufacturer, "Yubico"))
    return SIGNET_P11_UNBLOCK_YKCS11;
  return SIGNET_P11_UNBLOCK_UNKNOWN;
}

/* ---- tokens ------------------------------------------------------------- */

void
signet_p11_token_free(SignetP11Token *t)
{
  if (t == NULL)
    return;
  g_free(t->module_name);
  g_free(t->module_path);
  g_free(t->library_description);
  g_free(t->library_manufacturer);
  g_free(t->slot_description);
  g_free(t->slot_manufacturer);
  g_free(t->label);
  g_free(t->manufacturer);
  g_free(t->model);
  g_free(t->serial);
  g_free(t->uri);
  g_free(t);
}

SignetP11Token *
signet_p11_token_copy(const SignetP11Token *t)
{
  SignetP11Token *c = g_memdup2(t, sizeof *t);

  c->module_name = g_strdup(t->module_name);
  c->module_path = g_strdup(t->module_path);
  c->library_description = g_strdup(t->library_description);
  c->library_manufacturer = g_strdup(t->library_manufacturer);
  c->slot_description = g_strdup(t->slot_description);
  c->slot_manufacturer = g_strdup(t->slot_manufacturer);
  c->label = g_strdup(t->label);
  c->manufacturer = g_strdup(t->manufacturer);
  c->model = g_strdup(t->model);
  c->serial = g_strdup(t->serial);
  c->uri = g_strdup(t->uri);
  return c;
}

char *
signet_p11_describe_pin_state(const SignetP11PinState *s)
{
  if (s->locked)
    return g_strdup("locked");
  if (s->final_try)
    return g_strdup("one try left: the next wrong try locks it");
  if (s->count_low)
    return g_strdup("fewer tries left than the maximum");
  return NULL;
}

typedef struct
{
  gulong rsa_min_bits, rsa_max_bits;
  gulong ec_min_bits, ec_max_bits;
  gboolean can_sign_rsa, can_sign_ec, can_decrypt_rsa;
} SignetP11Mechanisms;

static void
read_mechanisms(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID slot, SignetP11Token *t)
{
  CK_ULONG n = 0;
  g_autofree CK_MECHANISM_TYPE *mechs = NULL;

  if (f->C_GetMechanismList(slot, NULL, &n) != CKR_OK || n == 0 || n > 4096)
    return;
  mechs = g_new0(CK_MECHANISM_TYPE, n);
  if (f->C_GetMechanismList(slot, mechs, &n) != CKR_OK)
    return;
  for (CK_ULONG i = 0; i < n; i++) {
    CK_MECHANISM_INFO info;

    if (f->C_GetMechanismInfo(slot, mechs[i], &info) != CKR_OK)
      continue;
    switch (mechs[i]) {
      case CKM_RSA_PKCS_KEY_PAIR_GEN:
        if (!(info.flags & CKF_GENERATE_KEY_PAIR))
          break;
        t->rsa_min_bits = info.ulMinKeySize;
        t->rsa_max_bits = info.ulMaxKeySize ? info.ulMaxKeySize : G_MAXULONG;
        break;
      case CKM_EC_KEY_PAIR_GEN:
        if (!(info.flags & CKF_GENERATE_KEY_PAIR))
          break;
        t->ec_min_bits = info.ulMinKeySize;
        t->ec_max_bits = info.ulMaxKeySize ? info.ulMaxKeySize : G_MAXULONG;
        break;
      case CKM_RSA_PKCS:
        if (info.flags & CKF_SIGN)
          t->can_sign_rsa = TRUE;
        /* what a SCEP CA's answer needs: it is enveloped to the key */
        if (info.flags & CKF_DECRYPT)
          t->can_decrypt_rsa = TRUE;
        break;
      case CKM_SHA256_RSA_PKCS:
        if (info.flags & CKF_SIGN)
          t->can_sign_rsa = TRUE;
        break;
      case CKM_ECDSA:
      case CKM_ECDSA_SHA256:
        if (info.flags & CKF_SIGN)
          t->can_sign_ec = TRUE;
        break;
      default:
        break;
    }
  }
}

/* read_mechanisms() once per token: a token's mechanisms do not change,
 * and reading them is one call per mechanism (70 on SoftHSM2) at every
 * look at the token. */
static void
cached_mechanisms(SignetP11ModuleEntry *m, CK_FUNCTION_LIST_PTR f, CK_SLOT_ID slot,
                  SignetP11Token *t)
{
  g_autofree char *key = g_strdup_printf("%lu:%s", (unsigned long)slot, t->serial ? t->serial : "");
  SignetP11Mechanisms *c;

  g_mutex_lock(&m->mech_lock);
  c = t->serial != NULL && *t->serial != '\0' ? g_hash_table_lookup(m->mechanisms, key) : NULL;
  if (c == NULL) {
    read_mechanisms(f, slot, t);
    c = g_new0(SignetP11Mechanisms, 1);
    c->rsa_min_bits = t->rsa_min_bits;
    c->rsa_max_bits = t->rsa_max_bits;
    c->ec_min_bits = t->ec_min_bits;
    c->ec_max_bits = t->ec_max_bits;
    c->can_sign_rsa = t->can_sign_rsa;
    c->can_sign_ec = t->can_sign_ec;
    c->can_decrypt_rsa = t->can_decrypt_rsa;
    if (t->serial != NULL && *t->serial != '\0')
      g_hash_table_replace(m->mechanisms, g_steal_pointer(&key), c);
    else
      g_free(c);
  } else {
    t->rsa_min_bits = c->rsa_min_bits;
    t->rsa_max_bits = c->rsa_max_bits;
    t->ec_min_bits = c->ec_min_bits;
    t->ec_max_bits = c->ec_max_bits;
    t->can_sign_rsa = c->can_sign_rsa;
    t->can_sign_ec = c->can_sign_ec;
    t->can_decrypt_rsa = c->can_decrypt_rsa;
  }
  g_mutex_unlock(&m->mech_lock);
}

static char *
token_uri(const CK_TOKEN_INFO *info)
{
  P11KitUri *uri = p11_kit_uri_new();
  char *s = NULL;

  memcpy(p11_kit_uri_get_token_info(uri), info, sizeof *info);
  if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_TOKEN, &s) != P11_KIT_URI_OK)
    s = NULL;
  p11_kit_uri_free(uri);
  return s;
}

GArray *
signet_p11_module_slots(SignetP11ModuleEntry *m, CK_RV *out_rv)
{
  g_autofree CK_SLOT_ID *slots = NULL;
  CK_ULONG n = 16;
  CK_RV rv;
  GArray *list;

  /* One call where the slots fit in a first guess; otherwise ask the
   * count, which can change between the two calls (a reader plugged in):
   * retry while the module says the buffer is too small. */
  slots = g_new0(CK_SLOT_ID, n);
  rv = m->funcs->C_GetSlotList(CK_TRUE, slots, &n);
  for (int attempt = 0; rv == CKR_BUFFER_TOO_SMALL && attempt < 4; attempt++) {
    rv = m->funcs->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK || n == 0)
      break;
    g_free(slots);
    slots = g_new0(CK_SLOT_ID, n);
    rv = m->funcs->C_GetSlotList(CK_TRUE, slots, &n);
  }
  *out_rv = rv;
  if (rv != CKR_OK)
    return NULL;
  list = g_array_sized_new(FALSE, FALSE, sizeof(CK_SLOT_ID), (guint)n);
  g_array_append_vals(list, slots, (guint)n);

  g_mutex_lock(&m->slot_lock);
  if (m->slots == NULL || m->slots->len != list->len
      || (list->len > 0
          && memcmp(m->slots->data, list->data, sizeof(CK_SLOT_ID) * list->len) != 0)) {
    /* A reader or a token came or went: what was kept of the slots may
     * no longer hold. */
    g_clear_pointer(&m->slots, g_array_unref);
    m->slots = g_array_ref(list);
    m->slots_generation++;
    g_hash_table_remove_all(m->slot_infos);
    g_hash_table_remove_all(m->hints);
  }
  g_mutex_unlock(&m->slot_lock);
  return list;
}

/* The slot's CK_SLOT_INFO, read once while the module's slot list stays
 * the same (signet_p11_module_slots). The token in it is read every time. */
static CK_RV
slot_info(SignetP11ModuleEntry *m, CK_SLOT_ID slot, CK_SLOT_INFO *out)
{
  gint64 key = (gint64)slot;
  CK_SLOT_INFO *kept;
  CK_RV rv;

  g_mutex_lock(&m->slot_lock);
  kept = g_hash_table_lookup(m->slot_infos, &key);
  if (kept != NULL)
    *out = *kept;
  g_mutex_unlock(&m->slot_lock);
  if (kept != NULL)
    return CKR_OK;
  rv = m->funcs->C_GetSlotInfo(slot, out);
  if (rv == CKR_OK && (out->flags & CKF_TOKEN_PRESENT)) {
    g_mutex_lock(&m->slot_lock);
    g_hash_table_insert(m->slot_infos, g_memdup2(&key, sizeof key), g_memdup2(out, sizeof *out));
    g_mutex_unlock(&m->slot_lock);
  }
  return rv;
}

SignetP11Token *
signet_p11_token_read(SignetP11Context *ctx, guint module_index, CK_SLOT_ID slot, GError **error)
{
  SignetP11ModuleEntry *m = g_ptr_array_index(ctx->modules, module_index);
  CK_FUNCTION_LIST_PTR f = m->funcs;
  CK_SLOT_INFO sinfo;
  CK_TOKEN_INFO tinfo;
  CK_RV rv;
  g_autoptr(SignetP11Token) t = g_new0(SignetP11Token, 1);
  char *uri;

  rv = slot_info(m, slot, &sinfo);
  if (rv != CKR_OK) {
    signet_p11_set_error(error, rv, "Could not read the token's slot");
    return NULL;
  }
  if (!(sinfo.flags & CKF_TOKEN_PRESENT)) {
    signet_p11_set_error(error, CKR_TOKEN_NOT_PRESENT, "No token in the slot");
    return NULL;
  }
  /* Not a section of signet_p11_access_begin: finding a token never waits
   * for another operation's write, so that an operation on a busy token is
   * told so at once (Busy), not after the other's key generation. */
  rv = f->C_GetTokenInfo(slot, &tinfo);
  if (rv != CKR_OK) {
    signet_p11_set_error(error, rv, "Could not read the token");
    return NULL;
  }

  t->module_index = module_index;
  t->module_name = g_strdup(m->name);
  t->module_path = g_strdup(m->path);
  t->library_description
      = signet_padded_to_string(m->info.libraryDescription, sizeof m->info.libraryDescription);
  t->library_manufacturer
      = signet_padded_to_string(m->info.manufacturerID, sizeof m->info.manufacturerID);
  t->slot_id = slot;
  t->slot_description
      = signet_padded_to_string(sinfo.slotDescription, sizeof sinfo.slotDescription);
  t->slot_manufacturer = signet_padded_to_string(sinfo.manufacturerID, sizeof sinfo.manufacturerID);
  t->removable = (sinfo.flags & CKF_REMOVABLE_DEVICE) != 0;
  t->label = signet_padded_to_string(tinfo.label, sizeof tinfo.label);
  t->manufacturer = signet_padded_to_string(tinfo.manufacturerID, sizeof tinfo.manufacturerID);
  t->model = signet_padded_to_string(tinfo.model, sizeof tinfo.model);
  t->serial = signet_padded_to_string(tinfo.serialNumber, sizeof tinfo.serialNumber);
  uri = token_uri(&tinfo);
  t->uri = g_strdup(uri);
  free(uri);
  t->flags = tinfo.flags;
  t->slot_info = sinfo;
  t->token_info = tinfo;
  t->user_pin.count_low = (tinfo.flags & CKF_USER_PIN_COUNT_LOW) != 0;
  t->user_pin.final_try = (tinfo.flags & CKF_USER_PIN_FINAL_TRY) != 0;
  t->user_pin.locked = (tinfo.flags & CKF_USER_PIN_LOCKED) != 0;
  t->user_pin.to_be_changed = (tinfo.flags & CKF_USER_PIN_TO_BE_CHANGED) != 0;
  t->so_pin.count_low = (tinfo.flags & CKF_SO_PIN_COUNT_LOW) != 0;
  t->so_pin.final_try = (tinfo.flags & CKF_SO_PIN_FINAL_TRY) != 0;
  t->so_pin.locked = (tinfo.flags & CKF_SO_PIN_LOCKED) != 0;
  t->so_pin.to_be_changed = (tinfo.flags & CKF_SO_PIN_TO_BE_CHANGED) != 0;
  t->login_required = (tinfo.flags & CKF_LOGIN_REQUIRED) != 0;
  t->protected_auth_path = (tinfo.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
  t->write_protected = (tinfo.flags & CKF_WRITE_PROTECTED) != 0;
  t->initialized = (tinfo.flags & CKF_TOKEN_INITIALIZED) != 0;
  t->min_pin_len = tinfo.ulMinPinLen;
  t->max_pin_len = tinfo.ulMaxPinLen;
  t->free_public_memory = tinfo.ulFreePublicMemory;
  t->free_private_memory = tinfo.ulFreePrivateMemory;
  /* An uninitialised token (SoftHSM2's free slot) is never worked with:
   * reading its mechanisms would cost one call each at every look. */
  if (t->initialized)
    cached_mechanisms(m, f, slot, t);
  t->unblock_method = ctx->unblock_override != SIGNET_P11_UNBLOCK_UNKNOWN
                          ? ctx->unblock_override
                          : unblock_method_for_module(&m->info);
  t->objects_cached = t->private_keys_listed = signet_p11_module_is_opensc(&m->info);
  return g_steal_pointer(&t);
}

GPtrArray *
signet_p11_context_list_tokens(SignetP11Context *ctx, GError **error)
{
  g_autoptr(GPtrArray) tokens
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_token_free);

  for (guint mi = 0; mi < ctx->modules->len; mi++) {
    SignetP11ModuleEntry *m = g_ptr_array_index(ctx->modules, mi);
    g_autoptr(GArray) slots = NULL;
    CK_RV rv;

    slots = signet_p11_module_slots(m, &rv);
    if (slots == NULL) {
      /* One module failing does not hide the others' tokens. */
      g_debug("module %s: C_GetSlotList: %s", m->name, signet_p11_rv_name(rv));
      continue;
    }
    for (guint i = 0; i < slots->len; i++) {
      CK_SLOT_ID slot = g_array_index(slots, CK_SLOT_ID, i);
      g_autoptr(GError) local = NULL;
      SignetP11Token *t = signet_p11_token_read(ctx, mi, slot, &local);

      if (t == NULL) {
        g_debug("module %s slot %lu: %s", m->name, (unsigned long)slot, local->message);
        continue;
      }
      /* An uninitialised token (SoftHSM2's free slot) is not a token to
       * work with. */
      if (!t->initialized) {
        signet_p11_token_free(t);
        continue;
      }
      g_ptr_array_add(tokens, t);
    }
  }
  return g_steal_pointer(&tokens);
}

static gboolean
token_matches_uri(SignetP11Context *ctx, const SignetP11Token *t, P11KitUri *uri)
{
  SignetP11ModuleEntry *m = g_ptr_array_index(ctx->modules, t->module_index);
  const char *module_name = p11_kit_uri_get_module_name(uri);
  const char *module_path = p11_kit_uri_get_module_path(uri);
  CK_SLOT_ID uri_slot = p11_kit_uri_get_slot_id(uri);
  /* p11-kit takes them as writable, and only reads them */
  CK_TOKEN_INFO tinfo = t->token_info;
  CK_SLOT_INFO sinfo = t->slot_info;

  if (!p11_kit_uri_match_token_info(uri, &tinfo) || !p11_kit_uri_match_slot_info(uri, &sinfo)
      || !p11_kit_uri_match_module_info(uri, &m->info))
    return FALSE;
  if (uri_slot != (CK_SLOT_ID)-1 && uri_slot != t->slot_id)
    return FALSE;
  if (module_name != NULL && g_strcmp0(module_name, m->name) != 0)
    return FALSE;
  if (module_path != NULL && g_strcmp0(module_path, m->path) != 0)
    return FALSE;
  return TRUE;
}

/* RFC 7512's attributes (and p11-kit's slot ones): a token is chosen by the
 * token, slot and library ones; the object ones (id, object, type) name an
 * object on it and are accepted, and play no part in choosing the token. */
static const char *const uri_path_attributes[] = { "token",
                                                   "manufacturer",
                                                   "serial",
                                                   "model",
                                                   "library-manufacturer",
                                                   "library-description",
                                                   "library-version",
                                                   "slot-description",
                                                   "slot-manufacturer",
                                                   "slot-id",
                                                   "id",
                                                   "object",
                                                   "type",
                                                   NULL };
static const char *const uri_query_attributes[] = { "module-name", "module-path", NULL };

/* What p11-kit's parser lets pass silently: an attribute given twice (the
 * last one wins), one it does not know (ignored), a PIN in the URI. A URI
 * that names a token must mean exactly what it says. */
static gboolean
check_uri_attributes(const char *spec, GError **error)
{
  const char *rest = spec + strlen("pkcs11:");
  const char *q = strchr(rest, '?');
  g_autofree char *path = q != NULL ? g_strndup(rest, (gsize)(q - rest)) : g_strdup(rest);
  g_auto(GStrv) attrs = g_strsplit(path, ";", -1);
  g_auto(GStrv) query = g_strsplit(q != NULL ? q + 1 : "", "&", -1);
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

  /* A PIN first, in the query where RFC 7512 puts it or in the path where
   * it does not belong, so that no message below repeats it. */
  for (int part = 0; part < 2; part++) {
    char **list = part == 0 ? attrs : query;

    for (guint i = 0; list[i] != NULL; i++)
      if (g_str_has_prefix(list[i], "pin-value") || g_str_has_prefix(list[i], "pin-source")) {
        g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_BAD_URI,
                    "The PKCS#11 URI holds a PIN (%s): Signet never takes a PIN from a URI. "
                    "Leave it out; Signet asks for the PIN (or reads it from --pin-fd)",
                    g_str_has_prefix(list[i], "pin-value") ? "pin-value" : "pin-source");
        return FALSE;
      }
  }
  for (int part = 0; part < 2; part++) {
    char **list = part == 0 ? attrs : query;
    const char *const *known = part == 0 ? uri_path_attributes : uri_query_attributes;

    for (guint i = 0; list[i] != NULL; i++) {
      const char *eq = strchr(list[i], '=');
      g_autofree char *name = NULL;

      if (list[i][0] == '\0')
        continue;
      name = eq != NULL ? g_strndup(list[i], (gsize)(eq - list[i])) : g_strdup(list[i]);
      if (eq == NULL || !g_strv_contains(known, name)) {
        g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_BAD_URI,
                    "The PKCS#11 URI \"%s\" has an attribute Signet does not know: \"%s\" "
                    "(a token is named by token, serial, model, manufacturer, slot and library "
                    "attributes, as signet list prints them)",
                    spec, name);
        return FALSE;
      }
      if (!g_hash_table_add(seen, (gpointer)g_intern_string(name))) {
        g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_BAD_URI,
                    "The PKCS#11 URI \"%s\" gives \"%s\" more than once: say it once", spec, name);
        return FALSE;
      }
    }
  }
  return TRUE;
}

/* @spec ("pkcs11:…") checked (check_uri_attributes) and parsed; NULL with
 * BAD_URI. */
static P11KitUri *
parse_uri(const char *spec, GError **error)
{
  P11KitUri *uri;
  int r;

  if (!check_uri_attributes(spec, error))
    return NULL;
  uri = p11_kit_uri_new();
  r = p11_kit_uri_parse(spec, P11_KIT_URI_FOR_ANY, uri);
  if (r != P11_KIT_URI_OK) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_BAD_URI,
                "\"%s\" is not a valid PKCS#11 URI (%s): copy the URI signet list prints", spec,
                p11_kit_uri_message(r));
    p11_kit_uri_free(uri);
    return NULL;
  }
  return uri;
}

gboolean
signet_p11_uri_token_names(const char *uri, char **out_serial, char **out_label, GError **error)
{
  P11KitUri *parsed;
  CK_TOKEN_INFO *info;

  g_return_val_if_fail(uri != NULL && g_str_has_prefix(uri, "pkcs11:"), FALSE);
  parsed = parse_uri(uri, error);
  if (parsed == NULL)
    return FALSE;
  info = p11_kit_uri_get_token_info(parsed);
  /* p11-kit leaves a field it was not given all zero bytes. */
  *out_serial = info->serialNumber[0] != 0
                    ? signet_padded_to_string(info->serialNumber, sizeof info->serialNumber)
                    : NULL;
  *out_label
      = info->label[0] != 0 ? signet_padded_to_string(info->label, sizeof info->label) : NULL;
  p11_kit_uri_free(parsed);
  return TRUE;
}

/* The slot a name found last, in the module's slot list of then. */
typedef struct
{
  CK_SLOT_ID slot;
  guint generation;
  char serial[33];
} SlotHint;

/* Hints kept per module at most: a name is what a holder or the agent
 * types, a handful; past this many they are all forgotten. */
#define SLOT_HINTS_MAX 64

static gboolean
token_matches_spec(SignetP11Context *ctx, const SignetP11Token *t, const char *spec, P11KitUri *uri)
{
  return uri != NULL ? token_matches_uri(ctx, t, uri)
                     : g_strcmp0(t->serial, spec) == 0 || g_strcmp0(t->label, spec) == 0;
}

/* The token @spec found alone last time, read again (one C_GetTokenInfo
 * after the slot list) while the module's slots are the same and it is
 * still the same token and still matches; otherwise NULL, and the caller
 * looks at every token. A label another token took meanwhile (only by
 * initialising it again, which a card is taken out for) is then not seen
 * as ambiguous until a reader or a token comes or goes. */
static SignetP11Token *
find_by_hint(SignetP11Context *ctx, const char *spec, P11KitUri *uri)
{
  for (guint mi = 0; mi < ctx->modules->len; mi++) {
    SignetP11ModuleEntry *m = g_ptr_array_index(ctx->modules, mi);
    g_autoptr(GArray) slots = NULL;
    g_autoptr(SignetP11Token) t = NULL;
    SlotHint hint, *kept;
    gboolean same;
    CK_RV rv;

    g_mutex_lock(&m->slot_lock);
    kept = g_hash_table_lookup(m->hints, spec);
    if (kept != NULL)
      hint = *kept;
    g_mutex_unlock(&m->slot_lock);
    if (kept == NULL)
      continue;
    slots = signet_p11_module_slots(m, &rv);
    g_mutex_lock(&m->slot_lock);
    same = slots != NULL && m->slots_generation == hint.generation;
    g_mutex_unlock(&m->slot_lock);
    if (!same)
      return NULL;
    t = signet_p11_token_read(ctx, mi, hint.slot, NULL);
    if (t != NULL && t->initialized && g_strcmp0(t->serial, hint.serial) == 0
        && token_matches_spec(ctx, t, spec, uri))
      return g_steal_pointer(&t);
    return NULL;
  }
  return NULL;
}

static void
remember_hint(SignetP11Context *ctx, const char *spec, const SignetP11Token *t)
{
  SignetP11ModuleEntry *m = g_ptr_array_index(ctx->modules, t->module_index);
  SlotHint *hint = g_new0(SlotHint, 1);

  hint->slot = t->slot_id;
  g_strlcpy(hint->serial, t->serial != NULL ? t->serial : "", sizeof hint->serial);
  g_mutex_lock(&m->slot_lock);
  hint->generation = m->slots_generation;
  if (g_hash_table_size(m->hints) >= SLOT_HINTS_MAX)
    g_hash_table_remove_all(m->hints);
  g_hash_table_insert(m->hints, g_strdup(spec), hint);
  g_mutex_unlock(&m->slot_lock);
}

SignetP11Token *
signet_p11_context_find_token(SignetP11Context *ctx, const char *spec, GError **error)
{
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new();
  P11KitUri *uri = NULL;
  SignetP11Token *hinted;

  if (spec == NULL || *spec == '\0') {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_TOKEN,
                "No token named: give a PKCS#11 URI, a serial number or a label "
                "(signet list shows them)");
    return NULL;
  }
  if (g_str_has_prefix(spec, "pkcs11:")) {
    uri = parse_uri(spec, error);
    if (uri == NULL)
      return NULL;
  }

  hinted = find_by_hint(ctx, spec, uri);
  if (hinted != NULL) {
    p11_kit_uri_free(uri);
    return hinted;
  }
  tokens = signet_p11_context_list_tokens(ctx, error);
  if (tokens == NULL) {
    p11_kit_uri_free(uri);
    return NULL;
  }
  for (guint i = 0; i < tokens->len; i++) {
    SignetP11Token *t = g_ptr_array_index(tokens, i);

    if (token_matches_spec(ctx, t, spec, uri))
      g_ptr_array_add(found, t);
  }
  p11_kit_uri_free(uri);

  if (found->len == 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_TOKEN,
                "No token matches \"%s\": check that it is plugged in, and name it by a "
                "serial number, label or PKCS#11 URI that signet list shows",
                spec);
    return NULL;
  }
  if (found->len > 1) {
    /* A serial that matches exactly one token wins over labels. */
    SignetP11Token *by_serial = NULL;
    guint serial_matches = 0;

    for (guint i = 0; i < found->len; i++) {
      SignetP11Token *t = g_ptr_array_index(found, i);
      if (g_strcmp0(t->serial, spec) == 0) {
        by_serial = t;
        serial_matches++;
      }
    }
    if (serial_matches == 1)
      return signet_p11_token_copy(by_serial);
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_AMBIGUOUS_TOKEN,
                "%u tokens match \"%s\": name one by its serial number or its PKCS#11 URI "
                "(signet list shows them)",
                found->len, spec);
    return NULL;
  }
  remember_hint(ctx, spec, g_ptr_array_index(found, 0));
  return signet_p11_token_copy(g_ptr_array_index(found, 0));
}
