/* signet-p11-error.c: the token layer's error domain and CKR_ names. */
#include "config.h"

#include "pkcs11/signet-p11-private.h"

G_DEFINE_QUARK(signet - p11 - error - quark, signet_p11_error)

#define RV(x)                                                                                      \
  {                                                                                                \
    x, #x                                                                                          \
  }
static const struct
{
  CK_RV rv;
  const char *name;
} rv_names[] = {
  RV(CKR_OK),
  RV(CKR_CANCEL),
  RV(CKR_HOST_MEMORY),
  RV(CKR_SLOT_ID_INVALID),
  RV(CKR_GENERAL_ERROR),
  RV(CKR_FUNCTION_FAILED),
  RV(CKR_ARGUMENTS_BAD),
  RV(CKR_NO_EVENT),
  RV(CKR_CANT_LOCK),
  RV(CKR_ATTRIBUTE_READ_ONLY),
  RV(CKR_ATTRIBUTE_SENSITIVE),
  RV(CKR_ATTRIBUTE_TYPE_INVALID),
  RV(CKR_ATTRIBUTE_VALUE_INVALID),
  RV(CKR_DATA_INVALID),
  RV(CKR_DATA_LEN_RANGE),
  RV(CKR_DEVICE_ERROR),
  RV(CKR_DEVICE_MEMORY),
  RV(CKR_DEVICE_REMOVED),
  RV(CKR_FUNCTION_CANCELED),
  RV(CKR_FUNCTION_NOT_PARALLEL),
  RV(CKR_FUNCTION_NOT_SUPPORTED),
  RV(CKR_KEY_HANDLE_INVALID),
  RV(CKR_KEY_SIZE_RANGE),
  RV(CKR_KEY_TYPE_INCONSISTENT),
  RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
  RV(CKR_MECHANISM_INVALID),
  RV(CKR_MECHANISM_PARAM_INVALID),
  RV(CKR_OBJECT_HANDLE_INVALID),
  RV(CKR_OPERATION_ACTIVE),
  RV(CKR_OPERATION_NOT_INITIALIZED),
  RV(CKR_PIN_INCORRECT),
  RV(CKR_PIN_INVALID),
  RV(CKR_PIN_LEN_RANGE),
  RV(CKR_PIN_EXPIRED),
  RV(CKR_PIN_LOCKED),
  RV(CKR_SESSION_CLOSED),
  RV(CKR_SESSION_COUNT),
  RV(CKR_SESSION_HANDLE_INVALID),
  RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
  RV(CKR_SESSION_READ_ONLY),
  RV(CKR_SESSION_EXISTS),
  RV(CKR_SESSION_READ_ONLY_EXISTS),
  RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
  RV(CKR_SIGNATURE_INVALID),
  RV(CKR_SIGNATURE_LEN_RANGE),
  RV(CKR_TEMPLATE_INCOMPLETE),
  RV(CKR_TEMPLATE_INCONSISTENT),
  RV(CKR_TOKEN_NOT_PRESENT),
  RV(CKR_TOKEN_NOT_RECOGNIZED),
  RV(CKR_TOKEN_WRITE_PROTECTED),
  RV(CKR_USER_ALREADY_LOGGED_IN),
  RV(CKR_USER_NOT_LOGGED_IN),
  RV(CKR_USER_PIN_NOT_INITIALIZED),
  RV(CKR_USER_TYPE_INVALID),
  RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
  RV(CKR_USER_TOO_MANY_TYPES),
  RV(CKR_DOMAIN_PARAMS_INVALID),
  RV(CKR_CURVE_NOT_SUPPORTED),
  RV(CKR_BUFFER_TOO_SMALL),
  RV(CKR_CRYPTOKI_NOT_INITIALIZED),
  RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
  RV(CKR_FUNCTION_REJECTED),
};
#undef RV

const char *
signet_p11_rv_name(CK_RV rv)
{
  static GMutex lock;
  static GHashTable *unknown; /* rv → "CKR_0x…", kept for the process */
  const char *name;

  for (gsize i = 0; i < G_N_ELEMENTS(rv_names); i++)
    if (rv_names[i].rv == rv)
      return rv_names[i].name;
  g_mutex_lock(&lock);
  if (unknown == NULL)
    unknown = g_hash_table_new_full(NULL, NULL, NULL, g_free);
  name = g_hash_table_lookup(unknown, GSIZE_TO_POINTER(rv));
  if (name == NULL) {
    char *n = g_strdup_printf("CKR_0x%08lx", (unsigned long)rv);
    g_hash_table_insert(unknown, GSIZE_TO_POINTER(rv), n);
    name = n;
  }
  g_mutex_unlock(&lock);
  return name;
}

gboolean
signet_p11_rv_is_removal(CK_RV rv)
{
  return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_SLOT_ID_INVALID
         || rv == CKR_TOKEN_NOT_RECOGNIZED || rv == CKR_SESSION_CLOSED;
}

SignetP11Error
signet_p11_error_code_for_rv(CK_RV rv)
{
  if (signet_p11_rv_is_removal(rv))
    return SIGNET_P11_ERROR_TOKEN_REMOVED;
  switch (rv) {
    case CKR_PIN_INCORRECT:
      return SIGNET_P11_ERROR_PIN_INCORRECT;
    case CKR_PIN_LOCKED:
      return SIGNET_P11_ERROR_PIN_LOCKED;
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
      return SIGNET_P11_ERROR_PIN_INVALID;
    case CKR_DEVICE_MEMORY:
      return SIGNET_P11_ERROR_TOKEN_FULL;
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_SESSION_READ_ONLY:
      return SIGNET_P11_ERROR_READ_ONLY;
    case CKR_MECHANISM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_DOMAIN_PARAMS_INVALID:
      return SIGNET_P11_ERROR_NOT_SUPPORTED;
    default:
      return SIGNET_P11_ERROR_FAILED;
  }
}

void
signet_p11_set_error(GError **error, CK_RV rv, const char *what)
{
  SignetP11Error code = signet_p11_error_code_for_rv(rv);
  const char *next;

  switch (code) {
    case SIGNET_P11_ERROR_TOKEN_REMOVED:
      next = "The token was removed or its reader disconnected: plug it in again and retry";
      break;
    case SIGNET_P11_ERROR_TOKEN_FULL:
      next = "The token has no room left: remove keys or certificates you no longer need";
      break;
    case SIGNET_P11_ERROR_READ_ONLY:
      next = "The token is write-protected";
      break;
    case SIGNET_P11_ERROR_NOT_SUPPORTED:
      next = "This token or its PKCS#11 module does not support it";
      break;
    case SIGNET_P11_ERROR_PIN_LOCKED:
      next = "The PIN is locked: unblock it with the PUK (signet pin unblock)";
      break;
    default:
      next = NULL;
      break;
  }
  if (next != NULL)
    g_set_error(error, SIGNET_P11_ERROR, code, "%s (%s). %s.", what, signet_p11_rv_name(rv), next);
  else
    g_set_error(error, SIGNET_P11_ERROR, code, "%s (%s)", what, signet_p11_rv_name(rv));
}
