/* signet-p11-objects.c: certificates and keys on a token: listing, reading
 * public keys, matching a certificate to its key, writing certificates,
 * deleting a key pair. Keys are found by CKA_ID, never by label. */
#include "config.h"

#include "pkcs11/signet-p11-private.h"
#include "common/signet-util.h"
#include "common/signet-openssl-util.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <string.h>

/* Largest attribute read from a token (a certificate is a few KiB). */
#define MAX_ATTRIBUTE (256 * 1024)

/* ---- what this session has read ---------------------------------------- */

/* An operation looks at the same objects several times (the status before
 * it, the key lookup, the checks before and after a write). Within one
 * session a search or an attribute read is answered from what the token
 * said. A write through the session forgets only what it can change
 * (docs/internals/pkcs11.md rule 12): an object created forgets the
 * searches that could find it, except "every object of its class", which
 * gains it; an object destroyed leaves every search's answer and takes its
 * attributes with it. A login shows the private objects: every search is
 * forgotten (signet_p11_session_forget_searches()), what was read of the
 * objects seen stays; a write whose outcome is not known forgets it all
 * (signet_p11_session_forget()). Only public attributes go
 * through here (the private key's parts are asked for by value_unreadable()
 * alone, and only for their length); it is freed with the session. */

typedef struct
{
  gboolean ok;
  GBytes *value;
} SeenAttribute;

static void
seen_attribute_free(SeenAttribute *a)
{
  g_clear_pointer(&a->value, g_bytes_unref);
  g_free(a);
}

/* A search remembered: the class its template names (CKO_VENDOR_DEFINED
 * with none), whether the class is all it names, and the handles found. */
typedef struct
{
  CK_OBJECT_CLASS klass;
  gboolean class_only;
  GArray *found;
} SeenSearch;

static void
seen_search_free(SeenSearch *search)
{
  g_array_unref(search->found);
  g_free(search);
}

void
signet_p11_session_forget(SignetP11Session *s)
{
  g_clear_pointer(&s->seen_attributes, g_hash_table_unref);
  g_clear_pointer(&s->seen_searches, g_hash_table_unref);
}

void
signet_p11_session_forget_searches(SignetP11Session *s)
{
  g_clear_pointer(&s->seen_searches, g_hash_table_unref);
}

static gboolean
attribute_of(gpointer key, gpointer value, gpointer prefix)
{
  return g_str_has_prefix(key, prefix);
}

/* Forgets @obj's attributes: a module may give a destroyed object's handle
 * to the next object it makes. */
static void
forget_object(SignetP11Session *s, CK_OBJECT_HANDLE obj)
{
  g_autofree char *prefix = g_strdup_printf("%lu:", (unsigned long)obj);

  if (s->seen_attributes != NULL)
    g_hash_table_foreach_remove(s->seen_attributes, attribute_of, prefix);
}

static gboolean
search_may_find(gpointer key, gpointer value, gpointer created)
{
  SeenSearch *search = value;
  const CK_OBJECT_HANDLE *obj = created;

  if (search->klass != CKO_VENDOR_DEFINED && search->klass != obj[0])
    return FALSE; /* another class: the new object is not among its answers */
  if (search->class_only) {
    g_array_append_val(search->found, obj[1]);
    return FALSE;
  }
  return TRUE; /* it might match: search again */
}

void
signet_p11_session_created(SignetP11Session *s, CK_OBJECT_CLASS klass, CK_OBJECT_HANDLE obj)
{
  CK_OBJECT_HANDLE created[2] = { klass, obj };

  forget_object(s, obj);
  if (s->seen_searches != NULL)
    g_hash_table_foreach_remove(s->seen_searches, search_may_find, created);
}

void
signet_p11_session_destroyed(SignetP11Session *s, CK_OBJECT_HANDLE obj)
{
  GHashTableIter iter;
  SeenSearch *search;

  forget_object(s, obj);
  if (s->seen_searches == NULL)
    return;
  g_hash_table_iter_init(&iter, s->seen_searches);
  while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&search))
    for (guint i = search->found->len; i-- > 0;)
      if (g_array_index(search->found, CK_OBJECT_HANDLE, i) == obj)
        g_array_remove_index(search->found, i);
}

/* The session's attributes read so far. */
static GHashTable *
seen_attributes(SignetP11Session *s)
{
  if (s->seen_attributes == NULL)
    s->seen_attributes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify)seen_attribute_free);
  return s->seen_attributes;
}

static char *
attribute_key(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
  return g_strdup_printf("%lu:%lu", (unsigned long)obj, (unsigned long)type);
}

/* The value of @type of @obj (NULL with *ok FALSE when the token would not
 * say), read once per session. @fixed: the value's size when known (one
 * call), else 0 (the length first, then the value). */
static GBytes *
read_attribute(SignetP11Session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, gsize fixed,
               gboolean *ok)
{
  g_autofree char *key = attribute_key(obj, type);
  SeenAttribute *seen;
  CK_ATTRIBUTE attr = { type, NULL, 0 };
  guint8 *buf = NULL;
  CK_RV rv;

  seen = g_hash_table_lookup(seen_attributes(s), key);
  if (seen != NULL) {
    *ok = seen->ok;
    return seen->value != NULL ? g_bytes_ref(seen->value) : NULL;
  }
  seen = g_new0(SeenAttribute, 1);
  if (fixed == 0) {
    SIGNET_P11_READ_BEGIN(s);
    rv = s->f->C_GetAttributeValue(s->handle, obj, &attr, 1);
    SIGNET_P11_READ_END(s);
    if (rv == CKR_OK && attr.ulValueLen != CK_UNAVAILABLE_INFORMATION
        && attr.ulValueLen <= MAX_ATTRIBUTE)
      fixed = attr.ulValueLen;
    else
      goto done;
  }
  buf = g_malloc0(fixed ? fixed : 1);
  attr.pValue = buf;
  attr.ulValueLen = fixed;
  SIGNET_P11_READ_BEGIN(s);
  rv = s->f->C_GetAttributeValue(s->handle, obj, &attr, 1);
  SIGNET_P11_READ_END(s);
  if (rv == CKR_OK && attr.ulValueLen <= fixed) {
    seen->ok = TRUE;
    seen->value = g_bytes_new_take(g_steal_pointer(&buf), attr.ulValueLen);
  }
done:
  g_free(buf);
  g_hash_table_replace(s->seen_attributes, g_steal_pointer(&key), seen);
  *ok = seen->ok;
  return seen->value != NULL ? g_bytes_ref(seen->value) : NULL;
}

/* The room a first read of @type gets: enough for almost every value of
 * its kind (a certificate, an RSA 4096 modulus, a label). */
static CK_ULONG
first_guess(CK_ATTRIBUTE_TYPE type)
{
  switch (type) {
    case CKA_CLASS:
    case CKA_KEY_TYPE:
    case CKA_CERTIFICATE_TYPE:
    case CKA_CERTIFICATE_CATEGORY:
    case CKA_MODULUS_BITS:
      return sizeof(CK_ULONG);
    case CKA_TOKEN:
    case CKA_PRIVATE:
    case CKA_SENSITIVE:
    case CKA_EXTRACTABLE:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
      return sizeof(CK_BBOOL);
    case CKA_VALUE:
      return 8192;
    default:
      return 1024;
  }
}

/* TRUE when first_guess()'s room holds every value @type can have on a
 * key of @key_type (CK_UNAVAILABLE_INFORMATION when not known): a fixed
 * size, a public exponent, a curve's name or point, or an RSA part of a key
 * that is not RSA. A first read's "unavailable" for such an attribute then
 * means the object does not have it (or hides it), not that the room was
 * short: nothing to ask again. */
static gboolean
first_guess_holds_all(CK_ATTRIBUTE_TYPE type, CK_KEY_TYPE key_type)
{
  switch (type) {
    case CKA_PUBLIC_EXPONENT:
    case CKA_EC_PARAMS:
    case CKA_EC_POINT:
      return TRUE;
    case CKA_MODULUS:
      return key_type != CK_UNAVAILABLE_INFORMATION && key_type != CKK_RSA;
    default:
      /* A fixed size (a CK_ULONG, a CK_BBOOL): first_guess() gives exactly it. */
      return first_guess(type) <= sizeof(CK_ULONG);
  }
}

static void
remember_attribute(SignetP11Session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, GBytes *value)
{
  SeenAttribute *seen = g_new0(SeenAttribute, 1);

  seen->ok = value != NULL;
  seen->value = value;
  g_hash_table_replace(seen_attributes(s), attribute_key(obj, type), seen);
}

/* Reads @types of @obj in two calls (their lengths, then their values). A
 * module that refuses the whole template (PKCS#11 wants it to fill what it
 * can and mark the rest unavailable) is then asked one attribute at a
 * time. */
static void
read_lengths_then_values(SignetP11Session *s, CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE_TYPE *types,
                         gsize n)
{
  g_autofree CK_ATTRIBUTE *tmpl = g_new0(CK_ATTRIBUTE, n);
  g_autofree CK_ATTRIBUTE *avail = g_new0(CK_ATTRIBUTE, n);
  gsize n_avail = 0;
  CK_RV rv;

  for (gsize i = 0; i < n; i++)
    tmpl[i].type = types[i];
  SIGNET_P11_READ_BEGIN(s);
  rv = s->f->C_GetAttributeValue(s->handle, obj, tmpl, n);
  SIGNET_P11_READ_END(s);
  if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
    return;
  for (gsize i = 0; i < n; i++)
    if (tmpl[i].ulValueLen != CK_UNAVAILABLE_INFORMATION && tmpl[i].ulValueLen <= MAX_ATTRIBUTE) {
      avail[n_avail].type = tmpl[i].type;
      avail[n_avail].ulValueLen = tmpl[i].ulValueLen;
      avail[n_avail].pValue = g_malloc0(tmpl[i].ulValueLen ? tmpl[i].ulValueLen : 1);
      n_avail++;
    }
  rv = CKR_OK;
  if (n_avail > 0) {
    SIGNET_P11_READ_BEGIN(s);
    rv = s->f->C_GetAttributeValue(s->handle, obj, avail, n_avail);
    SIGNET_P11_READ_END(s);
  }
  for (gsize i = 0, a = 0; i < n; i++) {
    if (a < n_avail && avail[a].type == tmpl[i].type) {
      if (rv != CKR_OK) {
        g_free(avail[a++].pValue);
        continue; /* not known: read alone when asked for */
      }
      remember_attribute(s, obj, tmpl[i].type,
                         g_bytes_new_take(avail[a].pValue, avail[a].ulValueLen));
      a++;
    } else
      remember_attribute(s, obj, tmpl[i].type, NULL); /* the module does not have it */
  }
}

/* Reads @types of @obj for the reads that follow, in one call when each
 * value fits the room it is given (@room, or first_guess()). What did not
 * come is then read in two (read_lengths_then_values), unless its room
 * holds every value it can have (first_guess_holds_all) and an attribute
 * after it came (so the module did look at it): then the object does not
 * have it. Public attributes only. */
static void
prefetch_in(SignetP11Session *s, CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE_TYPE *types,
            const CK_ULONG *room, gsize n)
{
  g_autofree CK_ATTRIBUTE *tmpl = g_new0(CK_ATTRIBUTE, n);
  g_autofree CK_ATTRIBUTE_TYPE *rest = g_new0(CK_ATTRIBUTE_TYPE, n);
  g_autofree CK_ULONG *roomy = g_new0(CK_ULONG, n);
  gsize missing = 0, n_rest = 0;
  CK_KEY_TYPE key_type = CK_UNAVAILABLE_INFORMATION;
  gsize last_came = 0;
  gboolean answered;
  CK_RV rv;

  for (gsize i = 0; i < n; i++) {
    g_autofree char *key = attribute_key(obj, types[i]);

    if (!g_hash_table_contains(seen_attributes(s), key)) {
      tmpl[missing].type = types[i];
      tmpl[missing].ulValueLen = room != NULL ? room[i] : first_guess(types[i]);
      tmpl[missing].pValue = g_malloc0(tmpl[missing].ulValueLen ? tmpl[missing].ulValueLen : 1);
      roomy[missing] = tmpl[missing].ulValueLen;
      missing++;
    }
  }
  if (missing == 0)
    return;
  SIGNET_P11_READ_BEGIN(s);
  rv = s->f->C_GetAttributeValue(s->handle, obj, tmpl, missing);
  SIGNET_P11_READ_END(s);
  /* These three are no errors: the module answered every attribute it
   * could and marked the others unavailable (PKCS#11 2.40, 5.7). */
  answered = rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE
             || rv == CKR_BUFFER_TOO_SMALL;
  for (gsize i = 0; answered && i < missing; i++)
    if (tmpl[i].type == CKA_KEY_TYPE && tmpl[i].ulValueLen == sizeof key_type)
      memcpy(&key_type, tmpl[i].pValue, sizeof key_type);
  if (key_type == CK_UNAVAILABLE_INFORMATION) {
    g_autofree char *key = attribute_key(obj, CKA_KEY_TYPE);
    SeenAttribute *seen = g_hash_table_lookup(seen_attributes(s), key);

    if (seen != NULL && seen->value != NULL && g_bytes_get_size(seen->value) == sizeof key_type)
      memcpy(&key_type, g_bytes_get_data(seen->value, NULL), sizeof key_type);
  }
  /* The last attribute that came: one unavailable before it was looked at
   * (a module that gave up at the first attribute it does not have, against
   * PKCS#11, leaves every later one unavailable). */
  for (gsize i = 0; answered && i < missing; i++)
    if (tmpl[i].ulValueLen != CK_UNAVAILABLE_INFORMATION && tmpl[i].ulValueLen <= roomy[i])
      last_came = i + 1;
  for (gsize i = 0; i < missing; i++) {
    gboolean came = answered && tmpl[i].ulValueLen != CK_UNAVAILABLE_INFORMATION
                    && tmpl[i].ulValueLen <= roomy[i];

    if (came)
      remember_attribute(s, obj, tmpl[i].type,
                         g_bytes_new_take(g_steal_pointer(&tmpl[i].pValue), tmpl[i].ulValueLen));
    else if (answered && i + 1 < last_came && roomy[i] >= first_guess(tmpl[i].type)
             && first_guess_holds_all(tmpl[i].type, key_type))
      remember_attribute(s, obj, tmpl[i].type, NULL); /* the object does not have it */
    else
      rest[n_rest++] = tmpl[i].type;
    g_free(tmpl[i].pValue);
  }
  if (n_rest > 0)
    read_lengths_then_values(s, obj, rest, n_rest);
}

static void
prefetch(SignetP11Session *s, CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE_TYPE *types, gsize n)
{
  prefetch_in(s, obj, types, NULL, n);
}

/* What is read of a certificate object, and of a key object.
 * A public key's parts of its type only (ec_public, rsa_public): asked for
 * the other type's, a module answers that it has none, and the values come
 * in a second call (read_lengths_then_values). */
static const CK_ATTRIBUTE_TYPE ec_public[]
    = { CKA_ID, CKA_LABEL, CKA_EC_PARAMS, CKA_EC_POINT, CKA_KEY_TYPE };
static const CK_ATTRIBUTE_TYPE rsa_public[] = {
  CKA_ID, CKA_LABEL, CKA_MODULUS_BITS, CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_KEY_TYPE,
};
/* Each list ends with an attribute every such object has: what is
 * unavailable before it was looked at (prefetch_in). */
static const CK_ATTRIBUTE_TYPE certificate_attributes[]
    = { CKA_VALUE, CKA_ID, CKA_LABEL, CKA_CERTIFICATE_CATEGORY, CKA_CERTIFICATE_TYPE };
static const CK_ATTRIBUTE_TYPE key_attributes[] = {
  CKA_ID,
  CKA_LABEL,
  CKA_MODULUS_BITS,
  CKA_MODULUS,
  CKA_PUBLIC_EXPONENT,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_SENSITIVE,
  CKA_EXTRACTABLE,
  CKA_ALWAYS_SENSITIVE,
  CKA_NEVER_EXTRACTABLE,
  CKA_KEY_TYPE,
};

GBytes *
signet_p11_get_attribute(SignetP11Session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
  gboolean ok;

  return read_attribute(s, obj, type, 0, &ok);
}

gboolean
signet_p11_get_bool(SignetP11Session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                    gboolean fallback)
{
  gboolean ok;
  g_autoptr(GBytes) v = read_attribute(s, obj, type, sizeof(CK_BBOOL), &ok);

  if (!ok || g_bytes_get_size(v) != sizeof(CK_BBOOL))
    return fallback;
  return *(const CK_BBOOL *)g_bytes_get_data(v, NULL) == CK_TRUE;
}

static CK_ULONG
get_ulong(SignetP11Session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, CK_ULONG fallback)
{
  gboolean ok;
  g_autoptr(GBytes) v = read_attribute(s, obj, type, sizeof(CK_ULONG), &ok);
  CK_ULONG value;

  if (!ok || g_bytes_get_size(v) != sizeof value)
    return fallback;
  memcpy(&value, g_bytes_get_data(v, NULL), sizeof value);
  return value;
}

/* The search template as bytes, the key of what it found. */
static GBytes *
search_key(const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
  GByteArray *b = g_byte_array_new();

  for (CK_ULONG i = 0; i < count; i++) {
    g_byte_array_append(b, (const guint8 *)&tmpl[i].type, sizeof tmpl[i].type);
    g_byte_array_append(b, (const guint8 *)&tmpl[i].ulValueLen, sizeof tmpl[i].ulValueLen);
    if (tmpl[i].pValue != NULL)
      g_byte_array_append(b, tmpl[i].pValue, (guint)tmpl[i].ulValueLen);
  }
  return g_byte_array_free_to_bytes(b);
}

static SeenSearch *
seen_search_new(const CK_ATTRIBUTE *tmpl, CK_ULONG count, GArray *found)
{
  SeenSearch *search = g_new0(SeenSearch, 1);

  search->klass = CKO_VENDOR_DEFINED;
  for (CK_ULONG i = 0; i < count; i++)
    if (tmpl[i].type == CKA_CLASS && tmpl[i].ulValueLen == sizeof(CK_OBJECT_CLASS)
        && tmpl[i].pValue != NULL)
      memcpy(&search->klass, tmpl[i].pValue, sizeof search->klass);
  search->class_only = count == 1 && search->klass != CKO_VENDOR_DEFINED;
  search->found = g_array_ref(found);
  return search;
}

static void
remember_search(SignetP11Session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG count, GArray *found)
{
  if (s->seen_searches == NULL)
    s->seen_searches
        = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                (GDestroyNotify)seen_search_free);
  g_hash_table_replace(s->seen_searches, search_key(tmpl, count),
                       seen_search_new(tmpl, count, found));
}

GArray *
signet_p11_find_objects(SignetP11Session *s, CK_ATTRIBUTE *tmpl, CK_ULONG count, GError **error)
{
  g_autoptr(GArray) found = NULL;
  SeenSearch *seen = NULL;
  CK_RV rv;

  if (s->seen_searches != NULL) {
    g_autoptr(GBytes) key = search_key(tmpl, count);
    seen = g_hash_table_lookup(s->seen_searches, key);
  }
  if (seen != NULL) {
    found = g_array_sized_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE), seen->found->len);
    g_array_append_vals(found, seen->found->data, seen->found->len);
    return g_steal_pointer(&found);
  }
  found = g_array_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE));
  SIGNET_P11_READ_BEGIN(s);
  rv = s->f->C_FindObjectsInit(s->handle, tmpl, count);
  if (rv != CKR_OK) {
    SIGNET_P11_READ_END(s);
    signet_p11_set_error(error, rv, "Could not search the token");
    return NULL;
  }
  /* A batch shorter than the room given ends the search, as p11-kit's own
   * iterator takes it (p11_kit_iter_next): modules fill the room while
   * they have objects, so a token's few objects come in one call, not two
   * (the second would only say 0). */
  for (;;) {
    CK_OBJECT_HANDLE batch[64];
    CK_ULONG n = 0;

    rv = s->f->C_FindObjects(s->handle, batch, G_N_ELEMENTS(batch), &n);
    if (rv != CKR_OK)
      break;
    g_array_append_vals(found, batch, MIN(n, G_N_ELEMENTS(batch)));
    if (n < G_N_ELEMENTS(batch))
      break;
  }
  (void)s->f->C_FindObjectsFinal(s->handle);
  SIGNET_P11_READ_END(s);
  if (rv != CKR_OK) {
    signet_p11_set_error(error, rv, "Could not search the token");
    return NULL;
  }
  /* A copy: the caller may change what it gets. */
  {
    GArray *kept = g_array_sized_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE), found->len);
    g_array_append_vals(kept, found->data, found->len);
    remember_search(s, tmpl, count, kept);
    g_array_unref(kept);
  }
  return g_steal_pointer(&found);
}

void
signet_p11_session_generated(SignetP11Session *s, GBytes *id, CK_KEY_TYPE key_type,
                             CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
  static const CK_ATTRIBUTE_TYPE private_attributes[]
      = { CKA_ID, CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_KEY_TYPE };
  const CK_OBJECT_HANDLE objects[] = { pub, priv };
  const CK_OBJECT_CLASS classes[] = { CKO_PUBLIC_KEY, CKO_PRIVATE_KEY };

  signet_p11_session_created(s, CKO_PUBLIC_KEY, pub);
  signet_p11_session_created(s, CKO_PRIVATE_KEY, priv);
  /* What the request and the checks after it read of the pair, read now. */
  if (key_type == CKK_EC)
    prefetch(s, pub, ec_public, G_N_ELEMENTS(ec_public));
  else
    prefetch(s, pub, rsa_public, G_N_ELEMENTS(rsa_public));
  prefetch(s, priv, private_attributes, G_N_ELEMENTS(private_attributes));
  /* The id is new (signet_p11_new_key_id(): 20 random bytes, journaled
   * before the pair was made): each key the token says carries it is the
   * only object of its class that does, and a search for it need not be
   * sent. */
  for (gsize i = 0; i < G_N_ELEMENTS(objects); i++) {
    g_autoptr(GBytes) got = signet_p11_get_attribute(s, objects[i], CKA_ID);
    CK_OBJECT_CLASS klass = classes[i];
    gsize len;
    CK_ATTRIBUTE tmpl[2] = { { CKA_CLASS, &klass, sizeof klass },
                             { CKA_ID, (void *)g_bytes_get_data(id, &len), 0 } };
    g_autoptr(GArray) found = NULL;

    if (got == NULL || !g_bytes_equal(got, id))
      continue;
    tmpl[1].ulValueLen = len;
    found = g_array_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE));
    g_array_append_val(found, objects[i]);
    remember_search(s, tmpl, G_N_ELEMENTS(tmpl), found);
  }
}

/* The objects of @klass with CKA_ID @id, from what the session knows: the
 * remembered list of every object of @klass, each with its CKA_ID read.
 * NULL when that is not known (a search is sent then). */
static GArray *
known_by_id(SignetP11Session *s, CK_OBJECT_CLASS klass, GBytes *id)
{
  CK_ATTRIBUTE all = { CKA_CLASS, &klass, sizeof klass };
  g_autoptr(GBytes) key = search_key(&all, 1);
  SeenSearch *search = s->seen_searches != NULL ? g_hash_table_lookup(s->seen_searches, key) : NULL;
  g_autoptr(GArray) found = NULL;

  if (search == NULL)
    return NULL;
  found = g_array_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE));
  for (guint i = 0; i < search->found->len; i++) {
    CK_OBJECT_HANDLE h = g_array_index(search->found, CK_OBJECT_HANDLE, i);
    g_autofree char *akey = attribute_key(h, CKA_ID);
    SeenAttribute *seen = g_hash_table_lookup(seen_attributes(s), akey);

    if (seen == NULL)
      return NULL; /* an id not read: ask the token */
    if (seen->ok && seen->value != NULL && g_bytes_equal(seen->value, id))
      g_array_append_val(found, h);
  }
  return g_steal_pointer(&found);
}

/* The objects of @klass, or those of them with CKA_ID @id. An object
 * looked for by id is found in the list of its whole class, each object of
 * it read as a listing reads it: an operation that looks one key or
 * certificate up lists its class too, most often (a renewal checks the
 * current key, then lists the keys for the request), and a token holds
 * few objects. One search and a read per object, where a search by id and
 * the class's listing after it were two searches. Another class, or ids a
 * module would not tell, are searched for by id. */
static GArray *
find_class(SignetP11Session *s, CK_OBJECT_CLASS klass, GBytes *id, GError **error)
{
  CK_ATTRIBUTE tmpl[2] = { { CKA_CLASS, &klass, sizeof klass } };
  GArray *known;
  gsize len;

  if (id == NULL)
    return signet_p11_find_objects(s, tmpl, 1, error);
  known = known_by_id(s, klass, id);
  if (known != NULL)
    return known;
  tmpl[1].type = CKA_ID;
  tmpl[1].pValue = (void *)g_bytes_get_data(id, &len);
  tmpl[1].ulValueLen = len;
  if (s->seen_searches != NULL) {
    g_autoptr(GBytes) key = search_key(tmpl, 2);

    /* A new pair's keys, known by their id (signet_p11_session_generated). */
    if (g_hash_table_contains(s->seen_searches, key))
      return signet_p11_find_objects(s, tmpl, 2, error);
  }
  if (klass == CKO_PRIVATE_KEY || klass == CKO_PUBLIC_KEY || klass == CKO_CERTIFICATE) {
    g_autoptr(GArray) every = signet_p11_find_objects(s, tmpl, 1, error);

    if (every == NULL)
      return NULL;
    for (guint i = 0; i < every->len; i++) {
      CK_OBJECT_HANDLE h = g_array_index(every, CK_OBJECT_HANDLE, i);

      if (klass == CKO_CERTIFICATE)
        prefetch(s, h, certificate_attributes, G_N_ELEMENTS(certificate_attributes));
      else
        prefetch(s, h, key_attributes, G_N_ELEMENTS(key_attributes));
    }
    known = known_by_id(s, klass, id);
    if (known != NULL)
      return known;
  }
  return signet_p11_find_objects(s, tmpl, 2, error);
}

CK_OBJECT_HANDLE
signet_p11_find_private_key(SignetP11Session *s, GBytes *id, CK_KEY_TYPE *out_type, GError **error)
{
  g_autoptr(GArray) handles = find_class(s, CKO_PRIVATE_KEY, id, error);
  CK_OBJECT_HANDLE obj;

  if (handles == NULL)
    return CK_INVALID_HANDLE;
  if (handles->len == 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
                "The token has no private key with this id");
    return CK_INVALID_HANDLE;
  }
  obj = g_array_index(handles, CK_OBJECT_HANDLE, 0);
  *out_type = get_ulong(s, obj, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
  return obj;
}

/* ---- public keys -------------------------------------------------------- */

static EVP_PKEY *
rsa_public_key(GBytes *modulus, GBytes *exponent)
{
  g_autoptr(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new();
  g_autoptr(BIGNUM) n
      = BN_bin2bn(g_bytes_get_data(modulus, NULL), (int)g_bytes_get_size(modulus), NULL);
  g_autoptr(BIGNUM) e
      = BN_bin2bn(g_bytes_get_data(exponent, NULL), (int)g_bytes_get_size(exponent), NULL);
  g_autoptr(EVP_PKEY_CTX) pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
  OSSL_PARAM *params;
  EVP_PKEY *pkey = NULL;

  if (bld == NULL || n == NULL || e == NULL || pctx == NULL)
    return NULL;
  if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
      || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    return NULL;
  params = OSSL_PARAM_BLD_to_param(bld);
  if (params == NULL)
    return NULL;
  if (EVP_PKEY_fromdata_init(pctx) <= 0
      || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    pkey = NULL;
  OSSL_PARAM_free(params);
  return pkey;
}

/* The curve's NID from DER ECParameters (a named curve OID). */
static int
ec_params_nid(GBytes *params)
{
  const unsigned char *p = g_bytes_get_data(params, NULL);
  g_autoptr(ASN1_OBJECT) oid = d2i_ASN1_OBJECT(NULL, &p, (long)g_bytes_get_size(params));

  return oid != NULL ? OBJ_obj2nid(oid) : NID_undef;
}

static EVP_PKEY *
ec_public_key(GBytes *params, GBytes *point)
{
  int nid = ec_params_nid(params);
  const unsigned char *p = g_bytes_get_data(point, NULL);
  gsize len = g_bytes_get_size(point);
  g_autoptr(ASN1_OCTET_STRING) wrapped = NULL;
  g_autoptr(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new();
  g_autoptr(EVP_PKEY_CTX) pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  OSSL_PARAM *ossl_params;
  EVP_PKEY *pkey = NULL;

  if (nid == NID_undef || bld == NULL || pctx == NULL || len == 0)
    return NULL;
  /* CKA_EC_POINT is a DER OCTET STRING holding the point; some modules give
   * the bare point. */
  if (p[0] == 0x04 && len > 2) {
    const unsigned char *q = p;
    wrapped = d2i_ASN1_OCTET_STRING(NULL, &q, (long)len);
    if (wrapped != NULL && q == p + len) {
      p = ASN1_STRING_get0_data(wrapped);
      len = (gsize)ASN1_STRING_length(wrapped);
    }
  }
  if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0)
      || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, p, len))
    return NULL;
  ossl_params = OSSL_PARAM_BLD_to_param(bld);
  if (ossl_params == NULL)
    return NULL;
  if (EVP_PKEY_fromdata_init(pctx) <= 0
      || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, ossl_params) <= 0)
    pkey = NULL;
  OSSL_PARAM_free(ossl_params);
  return pkey;
}

EVP_PKEY *
signet_p11_object_public_key(SignetP11Session *s, CK_OBJECT_HANDLE obj)
{
  CK_KEY_TYPE type = get_ulong(s, obj, CKA_KEY_TYPE, (CK_ULONG)-1);

  /* Its type's parts only: asked for the other type's, a module says it
   * has none and the values take a second call. */
  if (type == CKK_RSA)
    prefetch(s, obj, rsa_public, G_N_ELEMENTS(rsa_public));
  else if (type == CKK_EC)
    prefetch(s, obj, ec_public, G_N_ELEMENTS(ec_public));

  if (type == CKK_RSA) {
    g_autoptr(GBytes) n = signet_p11_get_attribute(s, obj, CKA_MODULUS);
    g_autoptr(GBytes) e = signet_p11_get_attribute(s, obj, CKA_PUBLIC_EXPONENT);
    return n && e ? rsa_public_key(n, e) : NULL;
  }
  if (type == CKK_EC) {
    g_autoptr(GBytes) params = signet_p11_get_attribute(s, obj, CKA_EC_PARAMS);
    g_autoptr(GBytes) point = signet_p11_get_attribute(s, obj, CKA_EC_POINT);
    return params && point ? ec_public_key(params, point) : NULL;
  }
  return NULL;
}

static char *
key_type_string(SignetP11Session *s, CK_OBJECT_HANDLE obj)
{
  CK_KEY_TYPE type = get_ulong(s, obj, CKA_KEY_TYPE, (CK_ULONG)-1);

  if (type == CKK_RSA) {
    CK_ULONG bits = get_ulong(s, obj, CKA_MODULUS_BITS, 0);
    if (bits == 0) {
      g_autoptr(GBytes) n = signet_p11_get_attribute(s, obj, CKA_MODULUS);
      bits = n ? g_bytes_get_size(n) * 8 : 0;
    }
    return bits ? g_strdup_printf("rsa:%lu", (unsigned long)bits) : g_strdup("rsa");
  }
  if (type == CKK_EC) {
    g_autoptr(GBytes) params = signet_p11_get_attribute(s, obj, CKA_EC_PARAMS);
    int nid = params ? ec_params_nid(params) : NID_undef;
    switch (nid) {
      case NID_X9_62_prime256v1:
        return g_strdup("ec:p256");
      case NID_secp384r1:
        return g_strdup("ec:p384");
      case NID_secp521r1:
        return g_strdup("ec:p521");
      case NID_undef:
        return g_strdup("ec");
      default:
        return g_strdup_printf("ec:%s", OBJ_nid2sn(nid));
    }
  }
  return g_strdup_printf("0x%lx", (unsigned long)type);
}

/* ---- listing ------------------------------------------------------------ */

void
signet_p11_certificate_free(SignetP11Certificate *c)
{
  if (c == NULL)
    return;
  g_clear_pointer(&c->id, g_bytes_unref);
  g_free(c->label);
  X509_free(c->cert);
  g_free(c);
}

void
signet_p11_key_pair_free(SignetP11KeyPair *k)
{
  if (k == NULL)
    return;
  g_clear_pointer(&k->id, g_bytes_unref);
  g_free(k->label);
  g_free(k->key_type);
  g_free(k);
}

static char *
get_label(SignetP11Session *s, CK_OBJECT_HANDLE obj)
{
  g_autoptr(GBytes) label = signet_p11_get_attribute(s, obj, CKA_LABEL);
  if (label == NULL)
    return g_strdup("");
  return signet_padded_to_string(g_bytes_get_data(label, NULL), g_bytes_get_size(label));
}

static GBytes *
get_id(SignetP11Session *s, CK_OBJECT_HANDLE obj)
{
  GBytes *id = signet_p11_get_attribute(s, obj, CKA_ID);
  return id != NULL ? id : g_bytes_new(NULL, 0);
}

GPtrArray *
signet_p11_session_list_certificates(SignetP11Session *s, GError **error)
{
  g_autoptr(GPtrArray) certs
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_certificate_free);
  g_autoptr(GArray) handles = find_class(s, CKO_CERTIFICATE, NULL, error);

  if (handles == NULL)
    return NULL;
  for (guint i = 0; i < handles->len; i++) {
    CK_OBJECT_HANDLE h = g_array_index(handles, CK_OBJECT_HANDLE, i);
    g_autoptr(GBytes) value = NULL;
    const unsigned char *p;
    SignetP11Certificate *c;
    X509 *x;

    prefetch(s, h, certificate_attributes, G_N_ELEMENTS(certificate_attributes));
    if (get_ulong(s, h, CKA_CERTIFICATE_TYPE, CKC_X_509) != CKC_X_509)
      continue;
    value = signet_p11_get_attribute(s, h, CKA_VALUE);
    if (value == NULL)
      continue;
    p = g_bytes_get_data(value, NULL);
    x = d2i_X509(NULL, &p, (long)g_bytes_get_size(value));
    if (x == NULL) {
      g_debug("certificate object %lu does not parse", (unsigned long)h);
      continue;
    }
    c = g_new0(SignetP11Certificate, 1);
    c->cert = x;
    c->handle = h;
    c->id = get_id(s, h);
    c->label = get_label(s, h);
    c->authority = get_ulong(s, h, CKA_CERTIFICATE_CATEGORY, 0) == 2 || X509_check_ca(x) > 0;
    g_ptr_array_add(certs, c);
  }
  return g_steal_pointer(&certs);
}

static SignetP11KeyPair *
pair_for_id(GPtrArray *pairs, GBytes *id)
{
  SignetP11KeyPair *k;

  for (guint i = 0; i < pairs->len; i++) {
    k = g_ptr_array_index(pairs, i);
    if (g_bytes_equal(k->id, id))
      return k;
  }
  k = g_new0(SignetP11KeyPair, 1);
  k->id = g_bytes_ref(id);
  g_ptr_array_add(pairs, k);
  return k;
}

GPtrArray *
signet_p11_session_list_key_pairs(SignetP11Session *s, GError **error)
{
  g_autoptr(GPtrArray) pairs
      = g_ptr_array_new_with_free_func((GDestroyNotify)signet_p11_key_pair_free);
  static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };
  g_autoptr(GPtrArray) certs = NULL;
  gboolean private_visible = FALSE;

  for (gsize c = 0; c < G_N_ELEMENTS(classes); c++) {
    g_autoptr(GArray) handles = find_class(s, classes[c], NULL, error);

    if (handles == NULL)
      return NULL;
    for (guint i = 0; i < handles->len; i++) {
      CK_OBJECT_HANDLE h = g_array_index(handles, CK_OBJECT_HANDLE, i);
      g_autoptr(GBytes) id = NULL;
      SignetP11KeyPair *k;

      prefetch(s, h, key_attributes, G_N_ELEMENTS(key_attributes));
      id = get_id(s, h);
      k = pair_for_id(pairs, id);

      if (k->label == NULL || *k->label == '\0') {
        g_free(k->label);
        k->label = get_label(s, h);
      }
      if (k->key_type == NULL)
        k->key_type = key_type_string(s, h);
      if (classes[c] == CKO_PRIVATE_KEY) {
        k->has_private = TRUE;
        k->sensitive = signet_p11_get_bool(s, h, CKA_SENSITIVE, FALSE);
        k->extractable = signet_p11_get_bool(s, h, CKA_EXTRACTABLE, TRUE);
        k->always_sensitive = signet_p11_get_bool(s, h, CKA_ALWAYS_SENSITIVE, FALSE);
        k->never_extractable = signet_p11_get_bool(s, h, CKA_NEVER_EXTRACTABLE, FALSE);
        k->protection = signet_p11_private_key_protection(s, h);
        private_visible = TRUE;
      } else
        k->has_public = TRUE;
    }
  }
  if (s->logged_in)
    private_visible = TRUE;
  certs = signet_p11_session_list_certificates(s, error);
  if (certs == NULL)
    return NULL;
  for (guint j = 0; j < pairs->len;) {
    SignetP11KeyPair *k = g_ptr_array_index(pairs, j);
    gboolean ca_only = FALSE;

    for (guint i = 0; i < certs->len; i++) {
      SignetP11Certificate *c = g_ptr_array_index(certs, i);
      if (g_bytes_get_size(k->id) > 0 && g_bytes_equal(k->id, c->id)) {
        ca_only = (k->has_certificate ? ca_only : TRUE) && c->authority;
        k->has_certificate = TRUE;
      }
    }
    /* A key pair means a private key (see the header). */
    if (k->has_private || (!private_visible && k->has_public && !ca_only))
      j++;
    else
      g_ptr_array_remove_index(pairs, j);
  }
  return g_steal_pointer(&pairs);
}

gboolean
signet_p11_session_has_key(SignetP11Session *s, GBytes *id, GError **error)
{
  static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };

  for (gsize c = 0; c < G_N_ELEMENTS(classes); c++) {
    g_autoptr(GArray) found = find_class(s, classes[c], id, error);

    if (found == NULL)
      return FALSE;
    if (found->len > 0)
      return TRUE;
  }
  return FALSE;
}

/* ---- matching ----------------------------------------------------------- */

/* Is the public key with CKA_ID @id one of a key pair (list_key_pairs'
 * rule)? With a private key of that id, yes. Without one where private keys
 * are visible (logged in, or a module that lists them without a login), no:
 * OpenSC shows a public key beside every certificate. Where they are not
 * visible yet, yes unless only CA certificates carry that id. */
static gboolean
public_key_is_pair(SignetP11Session *s, GBytes *id)
{
  g_autoptr(GArray) priv = find_class(s, CKO_PRIVATE_KEY, id, NULL);
  g_autoptr(GPtrArray) certs = NULL;
  gboolean any_cert = FALSE, ca_only = TRUE;

  if (priv != NULL && priv->len > 0)
    return TRUE;
  if (s->logged_in || s->token->private_keys_listed)
    return FALSE;
  certs = signet_p11_session_list_certificates(s, NULL);
  for (guint i = 0; certs != NULL && i < certs->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(certs, i);
    if (c->id != NULL && g_bytes_equal(c->id, id)) {
      any_cert = TRUE;
      ca_only = ca_only && c->authority;
    }
  }
  return !(any_cert && ca_only);
}

EVP_PKEY *
signet_p11_session_get_public_key(SignetP11Session *s, GBytes *id, GError **error)
{
  g_autoptr(GArray) handles = find_class(s, CKO_PUBLIC_KEY, id, error);
  g_autoptr(GPtrArray) certs = NULL;

  if (handles == NULL)
    return NULL;
  for (guint i = 0; i < handles->len; i++) {
    EVP_PKEY *k = signet_p11_object_public_key(s, g_array_index(handles, CK_OBJECT_HANDLE, i));
    if (k != NULL)
      return k;
  }
  /* No public key object: the certificate holds it too. */
  certs = signet_p11_session_list_certificates(s, error);
  if (certs == NULL)
    return NULL;
  for (guint i = 0; i < certs->len; i++) {
    SignetP11Certificate *c = g_ptr_array_index(certs, i);
    if (g_bytes_equal(c->id, id)) {
      EVP_PKEY *k = X509_get_pubkey(c->cert);
      if (k != NULL)
        return k;
    }
  }
  g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
              "The token has no public key with this id");
  return NULL;
}

gboolean
signet_p11_session_find_key_for_certificate(SignetP11Session *s, X509 *cert, GBytes **out_id,
                                            GError **error)
{
  EVP_PKEY *want = X509_get0_pubkey(cert);
  static const CK_OBJECT_CLASS classes[] = { CKO_PUBLIC_KEY, CKO_PRIVATE_KEY };

  if (want == NULL) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_MATCHING_KEY,
                "The certificate's public key cannot be read");
    return FALSE;
  }
  for (gsize c = 0; c < G_N_ELEMENTS(classes); c++) {
    g_autoptr(GArray) handles = find_class(s, classes[c], NULL, error);

    if (handles == NULL)
      return FALSE;
    for (guint i = 0; i < handles->len; i++) {
      CK_OBJECT_HANDLE h = g_array_index(handles, CK_OBJECT_HANDLE, i);
      g_autoptr(EVP_PKEY) have = signet_p11_object_public_key(s, h);

      if (have != NULL && EVP_PKEY_eq(have, want) == 1) {
        g_autoptr(GBytes) id = get_id(s, h);
        if (g_bytes_get_size(id) == 0)
          continue; /* a key without CKA_ID cannot be paired */
        if (classes[c] == CKO_PUBLIC_KEY && !public_key_is_pair(s, id))
          continue; /* only a certificate's shadow (OpenSC) */
        *out_id = g_steal_pointer(&id);
        return TRUE;
      }
    }
  }
  g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_MATCHING_KEY,
              "No key on token \"%s\" matches this certificate; nothing was written. Import "
              "the certificate issued for a request made on this token.%s",
              s->token->label,
              s->token->objects_cached
                  ? " A key another program made while signetd runs shows only after the card is "
                    "taken out and put back: OpenSC reads a card's objects once."
                  : "");
  return FALSE;
}

/* ---- writing ------------------------------------------------------------ */

static GBytes *
cert_der(X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509(cert, &der);
  GBytes *b;

  if (len <= 0)
    return NULL;
  b = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  return b;
}

/* The certificate objects whose value is @der. Every certificate is
 * listed and compared here rather than searched for by value: the class's
 * list is kept across the writes of one operation, a search by value is
 * not (docs/internals/pkcs11.md rule 12). */
static GArray *
certificate_handles(SignetP11Session *s, GBytes *der, GError **error)
{
  g_autoptr(GArray) all = find_class(s, CKO_CERTIFICATE, NULL, error);
  GArray *found;

  if (all == NULL)
    return NULL;
  found = g_array_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE));
  for (guint i = 0; i < all->len; i++) {
    CK_OBJECT_HANDLE h = g_array_index(all, CK_OBJECT_HANDLE, i);
    g_autoptr(GBytes) value = NULL;

    prefetch(s, h, certificate_attributes, G_N_ELEMENTS(certificate_attributes));
    value = signet_p11_get_attribute(s, h, CKA_VALUE);
    if (value != NULL && g_bytes_equal(value, der))
      g_array_append_val(found, h);
  }
  return found;
}

gboolean
signet_p11_session_has_certificate(SignetP11Session *s, X509 *cert, GError **error)
{
  g_autoptr(GBytes) der = cert_der(cert);
  g_autoptr(GArray) found = NULL;

  if (der == NULL)
    return FALSE;
  found = certificate_handles(s, der, error);
  return found != NULL && found->len > 0;
}

gboolean
signet_p11_session_delete_certificate(SignetP11Session *s, X509 *cert, GError **error)
{
  g_autoptr(GBytes) der = cert_der(cert);
  g_autoptr(GArray) found = NULL;

  if (der == NULL) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED, "Not a certificate");
    return FALSE;
  }
  found = certificate_handles(s, der, error);
  if (found == NULL)
    return FALSE;
  if (found->len == 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
                "The certificate is not on token \"%s\"", s->token->label);
    return FALSE;
  }
  for (guint i = 0; i < found->len; i++) {
    CK_OBJECT_HANDLE h = g_array_index(found, CK_OBJECT_HANDLE, i);
    CK_RV rv;

    SIGNET_P11_WRITE_BEGIN(s);
    rv = s->f->C_DestroyObject(s->handle, h);
    SIGNET_P11_WRITE_END(s);
    if (rv != CKR_OK) {
      signet_p11_session_forget(s);
      signet_p11_set_error(error, rv, "Could not delete the certificate");
      return FALSE;
    }
    signet_p11_session_destroyed(s, h);
  }
  return TRUE;
}

static GBytes *
name_der(const X509_NAME *name)
{
  unsigned char *der = NULL;
  int len = i2d_X509_NAME(name, &der);
  GBytes *b;

  if (len <= 0)
    return g_bytes_new(NULL, 0);
  b = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  return b;
}

static GBytes *
authority_id(X509 *cert)
{
  const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cert);
  unsigned char md[SHA_DIGEST_LENGTH];
  g_autoptr(GBytes) der = NULL;

  if (skid != NULL && ASN1_STRING_length(skid) > 0)
    return g_bytes_new(ASN1_STRING_get0_data(skid), (gsize)ASN1_STRING_length(skid));
  der = cert_der(cert);
  SHA1(g_bytes_get_data(der, NULL), g_bytes_get_size(der), md);
  return g_bytes_new(md, sizeof md);
}

gboolean
signet_p11_session_store_certificate(SignetP11Session *s, X509 *cert, GBytes *id, const char *label,
                                     gboolean authority, GError **error)
{
  g_autoptr(GBytes) der = cert_der(cert);
  g_autoptr(GBytes) subject = name_der(X509_get_subject_name(cert));
  g_autoptr(GBytes) issuer = name_der(X509_get_issuer_name(cert));
  g_autoptr(GBytes) the_id = id ? g_bytes_ref(id) : authority_id(cert);
  g_autoptr(GBytes) serial = NULL;
  g_autoptr(GBytes) readback = NULL;
  gboolean read_ok = FALSE;
  unsigned char *serial_der = NULL;
  int serial_len;
  CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE ctype = CKC_X_509;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG category = authority ? 2 : 1;
  CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
  const char *lbl = label != NULL ? label : "";
  CK_RV rv;

  if (der == NULL) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                "The certificate cannot be encoded");
    return FALSE;
  }
  serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &serial_der);
  serial = g_bytes_new(serial_der, serial_len > 0 ? (gsize)serial_len : 0);
  OPENSSL_free(serial_der);

  {
    CK_ATTRIBUTE tmpl[] = {
      { CKA_CLASS, &klass, sizeof klass },
      { CKA_CERTIFICATE_TYPE, &ctype, sizeof ctype },
      { CKA_TOKEN, &yes, sizeof yes },
      { CKA_PRIVATE, &no, sizeof no },
      { CKA_LABEL, (void *)lbl, strlen(lbl) },
      { CKA_ID, (void *)g_bytes_get_data(the_id, NULL), g_bytes_get_size(the_id) },
      { CKA_SUBJECT, (void *)g_bytes_get_data(subject, NULL), g_bytes_get_size(subject) },
      { CKA_ISSUER, (void *)g_bytes_get_data(issuer, NULL), g_bytes_get_size(issuer) },
      { CKA_SERIAL_NUMBER, (void *)g_bytes_get_data(serial, NULL), g_bytes_get_size(serial) },
      { CKA_VALUE, (void *)g_bytes_get_data(der, NULL), g_bytes_get_size(der) },
      /* last, so that it can be dropped for modules that do not know it */
      { CKA_CERTIFICATE_CATEGORY, &category, sizeof category },
    };
    CK_ULONG n = G_N_ELEMENTS(tmpl);

    SIGNET_P11_WRITE_BEGIN(s);
    rv = s->f->C_CreateObject(s->handle, tmpl, n, &obj);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_VALUE_INVALID)
      rv = s->f->C_CreateObject(s->handle, tmpl, n - 1, &obj);
    SIGNET_P11_WRITE_END(s);
  }
  if (rv != CKR_OK) {
    signet_p11_session_forget(s);
    signet_p11_set_error(error, rv, "Could not write the certificate to the token");
    return FALSE;
  }
  signet_p11_session_created(s, CKO_CERTIFICATE, obj);
  /* Read it back: what is on the token must be what we meant to store. In
   * one call with what is read of a certificate later, the value with room
   * for exactly that: a longer one does not fit, and is read in full. */
  {
    CK_ULONG room[G_N_ELEMENTS(certificate_attributes)];

    for (gsize i = 0; i < G_N_ELEMENTS(certificate_attributes); i++)
      room[i] = certificate_attributes[i] == CKA_VALUE ? g_bytes_get_size(der)
                                                       : first_guess(certificate_attributes[i]);
    prefetch_in(s, obj, certificate_attributes, room, G_N_ELEMENTS(certificate_attributes));
  }
  readback = read_attribute(s, obj, CKA_VALUE, g_bytes_get_size(der), &read_ok);
  if (readback == NULL || !g_bytes_equal(readback, der)) {
    SIGNET_P11_WRITE_BEGIN(s);
    (void)s->f->C_DestroyObject(s->handle, obj);
    SIGNET_P11_WRITE_END(s);
    signet_p11_session_forget(s);
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_FAILED,
                "The certificate read back from the token differs from the one written; "
                "it was removed again");
    return FALSE;
  }
  return TRUE;
}

gboolean
signet_p11_session_delete_key_pair(SignetP11Session *s, GBytes *id, GError **error)
{
  /* Certificate first, then the public key, and the private key last: a
   * failure part-way leaves the key that matters. */
  static const CK_OBJECT_CLASS order[] = { CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY };
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
  guint total = 0;

  if (id == NULL || g_bytes_get_size(id) == 0) {
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT, "No key id given");
    return FALSE;
  }
  for (gsize c = 0; c < G_N_ELEMENTS(order); c++) {
    GArray *h = find_class(s, order[c], id, error);
    if (h == NULL)
      return FALSE;
    total += h->len;
    g_ptr_array_add(found, h);
  }
  if (total == 0
      || ((GArray *)g_ptr_array_index(found, 1))->len + ((GArray *)g_ptr_array_index(found, 2))->len
             == 0) {
    g_autofree char *hex = signet_hex_encode(g_bytes_get_data(id, NULL), g_bytes_get_size(id));
    g_set_error(error, SIGNET_P11_ERROR, SIGNET_P11_ERROR_NO_SUCH_OBJECT,
                "Token \"%s\" has no key with id %s (signet status lists the keys)",
                s->token->label, hex);
    return FALSE;
  }
  for (guint c = 0; c < found->len; c++) {
    GArray *h = g_ptr_array_index(found, c);
    for (guint i = 0; i < h->len; i++) {
      CK_OBJECT_HANDLE obj = g_array_index(h, CK_OBJECT_HANDLE, i);
      CK_RV rv;

      SIGNET_P11_WRITE_BEGIN(s);
      rv = s->f->C_DestroyObject(s->handle, obj);
      SIGNET_P11_WRITE_END(s);
      if (rv != CKR_OK) {
        signet_p11_session_forget(s);
        signet_p11_set_error(error, rv, "Could not delete the key pair");
        return FALSE;
      }
      signet_p11_session_destroyed(s, obj);
    }
  }
  return TRUE;
}
