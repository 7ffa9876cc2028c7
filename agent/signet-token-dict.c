/* signet-token-dict.c: see signet-token-dict.h. */
#include "config.h"

#include "agent/signet-token-dict.h"

#include "agent/signet-state.h"
#include "agent/signet-clock.h"

#include "common/signet-util.h"
#include "enroll/signet-connector.h"
#include "enroll/signet-x509.h"

#define PIN_SOURCE "module flags"

static void
add(GVariantBuilder *b, const char *key, GVariant *value)
{
  g_variant_builder_add(b, "{sv}", key, value);
}

static GVariant *
str(const char *s)
{
  return g_variant_new_string(s != NULL ? s : "");
}

char *
signet_token_dict_id_to_hex(GBytes *id)
{
  gsize len = 0;
  const guint8 *data;

  if (id == NULL)
    return g_strdup("");
  data = g_bytes_get_data(id, &len);
  return signet_hex_encode(data, len);
}

/* The flags a PIN and the PUK share: what the module reports. */
static void
add_pin_flags(GVariantBuilder *b, const SignetP11PinState *state)
{
  add(b, "count_low", g_variant_new_boolean(state->count_low));
  add(b, "final_try", g_variant_new_boolean(state->final_try));
  add(b, "locked", g_variant_new_boolean(state->locked));
}

static GVariant *
pin_dict(const SignetP11Token *token)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  add_pin_flags(&b, &token->user_pin);
  add(&b, "to_be_changed", g_variant_new_boolean(token->user_pin.to_be_changed));
  add(&b, "min_length", g_variant_new_uint32((guint32)MIN(token->min_pin_len, G_MAXUINT32)));
  add(&b, "max_length", g_variant_new_uint32((guint32)MIN(token->max_pin_len, G_MAXUINT32)));
  add(&b, "pin_pad", g_variant_new_boolean(token->protected_auth_path));
  add(&b, "source", str(PIN_SOURCE));
  return g_variant_builder_end(&b);
}

static GVariant *
puk_dict(const SignetP11Token *token)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  add_pin_flags(&b, &token->so_pin);
  add(&b, "source", str(PIN_SOURCE));
  return g_variant_builder_end(&b);
}

static void
add_token_entries(GVariantBuilder *b, const SignetP11Token *token)
{
  g_auto(GStrv) key_types = signet_p11_token_key_types(token);

  add(b, "serial", str(token->serial));
  add(b, "label", str(token->label));
  add(b, "manufacturer", str(token->manufacturer));
  add(b, "model", str(token->model));
  add(b, "uri", str(token->uri));
  add(b, "slot", str(token->slot_description));
  add(b, "module", str(token->module_name));
  add(b, "removable", g_variant_new_boolean(token->removable));
  add(b, "write_protected", g_variant_new_boolean(token->write_protected));
  add(b, "initialized", g_variant_new_boolean(token->initialized));
  add(b, "unblock_method", str(signet_p11_unblock_method_to_string(token->unblock_method)));
  add(b, "objects_cached", g_variant_new_boolean(token->objects_cached));
  add(b, "private_keys_listed", g_variant_new_boolean(token->private_keys_listed));
  add(b, "key_types",
      g_variant_new_strv((const char *const *)key_types, key_types != NULL ? -1 : 0));
  add(b, "pin", pin_dict(token));
  add(b, "puk", puk_dict(token));
}

GVariant *
signet_token_dict_new(const SignetP11Token *token)
{
  GVariantBuilder b;

  g_return_val_if_fail(token != NULL, NULL);
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  add_token_entries(&b, token);
  return g_variant_builder_end(&b);
}

GVariant *
signet_token_dict_certificate(const SignetP11Certificate *cert, gboolean has_key, GDateTime *now)
{
  GVariantBuilder b;
  g_autofree char *id = signet_token_dict_id_to_hex(cert->id);
  g_autofree char *subject = NULL;
  g_autofree char *issuer = NULL;
  g_autofree char *serial = NULL;
  g_autofree char *not_before = NULL;
  g_autofree char *not_after = NULL;
  gint64 days_left = 0;

  if (cert->cert != NULL) {
    subject = signet_x509_name_to_string(X509_get_subject_name(cert->cert));
    issuer = signet_x509_name_to_string(X509_get_issuer_name(cert->cert));
    serial = signet_x509_serial_to_string(cert->cert);
    not_before = signet_asn1_time_to_iso8601(X509_get0_notBefore(cert->cert));
    not_after = signet_asn1_time_to_iso8601(X509_get0_notAfter(cert->cert));
    days_left = signet_x509_days_left(cert->cert, now);
  }

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  add(&b, "id", str(id));
  add(&b, "label", str(cert->label));
  add(&b, "subject", str(subject));
  add(&b, "issuer", str(issuer));
  add(&b, "serial", str(serial));
  add(&b, "not_before", str(not_before));
  add(&b, "not_after", str(not_after));
  add(&b, "days_left", g_variant_new_int64(days_left));
  add(&b, "expired", g_variant_new_boolean(cert->cert != NULL && days_left < 0));
  add(&b, "authority", g_variant_new_boolean(cert->authority));
  add(&b, "has_key", g_variant_new_boolean(has_key));
  return g_variant_builder_end(&b);
}

GVariant *
signet_token_dict_key(const SignetP11KeyPair *key)
{
  GVariantBuilder b;
  g_autofree char *id = signet_token_dict_id_to_hex(key->id);

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  add(&b, "id", str(id));
  add(&b, "label", str(key->label));
  add(&b, "type", str(key->key_type));
  add(&b, "has_private", g_variant_new_boolean(key->has_private));
  add(&b, "has_public", g_variant_new_boolean(key->has_public));
  add(&b, "has_certificate", g_variant_new_boolean(key->has_certificate));
  add(&b, "sensitive", g_variant_new_boolean(key->sensitive));
  add(&b, "extractable", g_variant_new_boolean(key->extractable));
  add(&b, "protection", str(signet_p11_key_protection_to_string(key->protection)));
  return g_variant_builder_end(&b);
}

GVariant *
signet_token_dict_new_key_short(GBytes *id, const char *label, const char *type)
{
  GVariantBuilder b;
  g_autofree char *hex = signet_token_dict_id_to_hex(id);

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  add(&b, "id", str(hex));
  add(&b, "label", str(label));
  add(&b, "type", str(type));
  return g_variant_builder_end(&b);
}

static gboolean
key_exists(GPtrArray *keys, GBytes *id)
{
  if (keys == NULL || id == NULL)
    return FALSE;
  for (guint i = 0; i < keys->len; i++) {
    const SignetP11KeyPair *k = g_ptr_array_index(keys, i);
    if (k->id != NULL && g_bytes_equal(k->id, id) && (k->has_private || k->has_public))
      return TRUE;
  }
  return FALSE;
}

GVariant *
signet_token_dict_new_status(const SignetP11Token *token, GPtrArray *certs, GPtrArray *keys,
                             GDateTime *now)
{
  GVariantBuilder b, cb, kb;

  g_return_val_if_fail(token != NULL, NULL);
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  add_token_entries(&b, token);

  g_variant_builder_init(&cb, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; certs != NULL && i < certs->len; i++) {
    const SignetP11Certificate *c = g_ptr_array_index(certs, i);
    g_variant_builder_add_value(&cb,
                                signet_token_dict_certificate(c, key_exists(keys, c->id), now));
  }
  add(&b, "certificates", g_variant_builder_end(&cb));

  g_variant_builder_init(&kb, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; keys != NULL && i < keys->len; i++)
    g_variant_builder_add_value(&kb, signet_token_dict_key(g_ptr_array_index(keys, i)));
  add(&b, "keys", g_variant_builder_end(&kb));
  return g_variant_builder_end(&b);
}

void
signet_token_dict_add_issued(GVariantBuilder *b, X509 *cert)
{
  g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(cert));
  g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(cert));
  g_autofree char *serial = signet_x509_serial_to_string(cert);
  g_autofree char *not_before = signet_asn1_time_to_iso8601(X509_get0_notBefore(cert));
  g_autofree char *not_after = signet_asn1_time_to_iso8601(X509_get0_notAfter(cert));
  g_autoptr(GDateTime) now = signet_clock_now_utc();

  g_variant_builder_add(b, "{sv}", "subject", g_variant_new_string(subject ? subject : ""));
  g_variant_builder_add(b, "{sv}", "issuer", g_variant_new_string(issuer ? issuer : ""));
  g_variant_builder_add(b, "{sv}", "serial", g_variant_new_string(serial ? serial : ""));
  g_variant_builder_add(b, "{sv}", "not_before",
                        g_variant_new_string(not_before ? not_before : ""));
  g_variant_builder_add(b, "{sv}", "not_after", g_variant_new_string(not_after ? not_after : ""));
  g_variant_builder_add(b, "{sv}", "days_left",
                        g_variant_new_int64(signet_x509_days_left(cert, now)));
}

gboolean
signet_token_check_key_use(const SignetP11Token *token, const SignetProfile *profile,
                           SignetP11KeyType type, GError **error)
{
  const SignetConnectorClass *klass
      = profile->protocol != NULL ? signet_connector_find(profile->protocol) : NULL;
  g_autofree char *name = NULL;

  /* An EC key: the connector refuses the profile itself, in its words. */
  if (klass == NULL || !klass->key_decrypts
      || g_str_has_prefix(signet_p11_key_type_to_string(type), "ec:"))
    return TRUE;
  name = g_ascii_strup(klass->name, -1);
  return signet_p11_token_check_decrypt(token, type, name, error);
}

const char *
signet_token_dict_name(const SignetP11Token *token)
{
  if (token->label != NULL && *token->label != '\0')
    return token->label;
  return token->serial != NULL ? token->serial : "";
}

GVariant *
signet_token_dict_progress(const char *message, const char *serial, const char *profile)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "message", g_variant_new_string(message));
  g_variant_builder_add(&b, "{sv}", "token", g_variant_new_string(serial));
  if (profile != NULL)
    g_variant_builder_add(&b, "{sv}", "profile", g_variant_new_string(profile));
  return g_variant_builder_end(&b);
}
