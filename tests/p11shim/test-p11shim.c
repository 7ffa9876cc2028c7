/* test-p11shim: the PKCS#11 test shim over a throwaway SoftHSM2 token.
 * Checks the default model (PIN/SO PIN tries, flags, lock, unblock,
 * persistence), the tries log, the injected faults (token pulled, delay,
 * one-shot error, extractable key) and the OpenSC card model (OpenSC 0.23's
 * flags, the unblock by C_SetPIN logged out, the card's SO PIN, private key
 * attributes, a public key beside each certificate). */
#include "config.h"
#include "tests/testutil/signet-test-util.h"
#include "common/signet-openssl-util.h"

#include <dlfcn.h>
#include <glib.h>
#include <glib/gstdio.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#define USER_PIN   "123456"
#define SO_PIN     "12345678"
#define USER_FLAGS (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)
#define SO_FLAGS   (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED)

/* The fixture's options (user_data). */
enum
{
  NO_STATE = 1 << 0, /* no SIGNET_SHIM_STATE */
  CARD = 1 << 1      /* SIGNET_SHIM_MODEL=opensc-card */
};

/* DER of the OID of P-256: CKA_EC_PARAMS. */
static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

static CK_FUNCTION_LIST_PTR p11; /* the shim's list */
static const char *softhsm_util;
static const char *softhsm_module;

typedef struct
{
  char *dir;       /* temporary: softhsm2.conf, tokens/, state/ */
  char *state_dir; /* SIGNET_SHIM_STATE */
  CK_SLOT_ID slot; /* the token labelled "L" */
  char serial[17];
  GString *tries; /* the tries log expected so far */
} Fixture;

static char *
state_file(Fixture *fx, const char *name)
{
  return g_build_filename(fx->state_dir, name, NULL);
}

static void
write_state(Fixture *fx, const char *name, const char *text)
{
  g_autofree char *path = state_file(fx, name);
  g_autoptr(GError) error = NULL;
  g_file_set_contents(path, text, -1, &error);
  g_assert_no_error(error);
}

static void
find_token(Fixture *fx)
{
  CK_SLOT_ID slots[8];
  CK_ULONG n = G_N_ELEMENTS(slots);
  g_assert_cmphex(p11->C_GetSlotList(CK_TRUE, slots, &n), ==, CKR_OK);
  for (CK_ULONG i = 0; i < n; i++) {
    CK_TOKEN_INFO ti;
    g_assert_cmphex(p11->C_GetTokenInfo(slots[i], &ti), ==, CKR_OK);
    if (memcmp(ti.label, "L ", 2) == 0) {
      fx->slot = slots[i];
      g_strlcpy(fx->serial, (const char *)ti.serialNumber, sizeof fx->serial);
      g_strchomp(fx->serial);
      return;
    }
  }
  g_assert_not_reached();
}

/* A fresh token and shim state; USER_DATA: the options (NO_STATE, CARD). */
static void
setup(Fixture *fx, gconstpointer user_data)
{
  int options = GPOINTER_TO_INT(user_data);

  fx->dir = signet_test_softhsm_dir("test-p11shim");
  fx->state_dir = g_build_filename(fx->dir, "state", NULL);
  fx->tries = g_string_new("");
  g_assert_cmpint(g_mkdir(fx->state_dir, 0700), ==, 0);
  /* Test-only PINs of a throwaway token; TESTING.md's recipe. */
  signet_test_softhsm_init_token("L", USER_PIN, SO_PIN);

  if (options & NO_STATE)
    g_unsetenv("SIGNET_SHIM_STATE");
  else
    g_setenv("SIGNET_SHIM_STATE", fx->state_dir, TRUE);
  if (options & CARD)
    g_setenv("SIGNET_SHIM_MODEL", "opensc-card", TRUE);
  else
    g_unsetenv("SIGNET_SHIM_MODEL");
  g_setenv("SIGNET_SHIM_TARGET", softhsm_module, TRUE);
  g_assert_cmphex(p11->C_Initialize(NULL), ==, CKR_OK);
  find_token(fx);
}

static void
teardown(Fixture *fx, gconstpointer user_data)
{
  g_assert_cmphex(p11->C_Finalize(NULL), ==, CKR_OK);
  signet_test_remove_tree(fx->dir);
  g_free(fx->dir);
  g_free(fx->state_dir);
  g_string_free(fx->tries, TRUE);
}

/* The contents of the state file NAME, "" if there is none. */
static char *
read_state(Fixture *fx, const char *name)
{
  g_autofree char *path = state_file(fx, name);
  char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    text = g_strdup("");
  return text;
}

/* One more line expected in the tries log: "KIND RESULT FUNCTION". */
static void
want_try(Fixture *fx, const char *try)
{
  g_string_append_printf(fx->tries, "%s %s\n", fx->serial, try);
}

/* The tries log is exactly the lines expected so far. */
static void
check_tries(Fixture *fx)
{
  g_autofree char *text = read_state(fx, "tries");
  g_assert_cmpstr(text, ==, fx->tries->str);
}

/* The "pins" line of the token is "SERIAL WANT". */
static void
check_pins(Fixture *fx, const char *want)
{
  g_autofree char *text = read_state(fx, "pins");
  g_autofree char *line = g_strdup_printf("\n%s %s\n", fx->serial, want);
  if (strstr(text, line) == NULL)
    g_error("pins: want '%s %s' in:\n%s", fx->serial, want, text);
}

static CK_SESSION_HANDLE
open_session(Fixture *fx)
{
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  g_assert_cmphex(p11->C_OpenSession(fx->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
                  ==, CKR_OK);
  return s;
}

static CK_RV
login(CK_SESSION_HANDLE s, CK_USER_TYPE user, const char *pin)
{
  return p11->C_Login(s, user, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

static CK_RV
set_pin(CK_SESSION_HANDLE s, const char *old_pin, const char *new_pin)
{
  return p11->C_SetPIN(s, (CK_UTF8CHAR_PTR)old_pin, strlen(old_pin), (CK_UTF8CHAR_PTR)new_pin,
                       strlen(new_pin));
}

static CK_FLAGS
token_flags(Fixture *fx)
{
  CK_TOKEN_INFO ti;
  g_assert_cmphex(p11->C_GetTokenInfo(fx->slot, &ti), ==, CKR_OK);
  return ti.flags;
}

static CK_RV
generate_ec_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out_priv)
{
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
  CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (CK_BYTE *)p256, sizeof p256 },
                         { CKA_VERIFY, &yes, sizeof yes },
                         { CKA_TOKEN, &no, sizeof no } };
  CK_ATTRIBUTE priv[] = { { CKA_SIGN, &yes, sizeof yes },
                          { CKA_SENSITIVE, &yes, sizeof yes },
                          { CKA_TOKEN, &no, sizeof no } };
  CK_OBJECT_HANDLE pub_key;
  return p11->C_GenerateKeyPair(s, &mech, pub, G_N_ELEMENTS(pub), priv, G_N_ELEMENTS(priv),
                                &pub_key, out_priv);
}

/* Three wrong PINs: COUNT_LOW, FINAL_TRY, LOCKED; then even the right PIN is
 * refused; the SO login + C_InitPIN unblock gives all tries back. */
static void
test_user_pin_lock(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);

  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, CKF_USER_PIN_COUNT_LOW);
  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==,
                  CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, CKF_USER_PIN_LOCKED);

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_PIN_LOCKED);
  g_assert_cmphex(set_pin(s, USER_PIN, "654321"), ==, CKR_PIN_LOCKED);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, CKF_USER_PIN_LOCKED);

  g_assert_cmphex(login(s, CKU_SO, SO_PIN), ==, CKR_OK);
  g_assert_cmphex(p11->C_InitPIN(s, (CK_UTF8CHAR_PTR) "111111", 6), ==, CKR_OK);
  g_assert_cmphex(p11->C_Logout(s), ==, CKR_OK);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, CKF_USER_PIN_COUNT_LOW);
  g_assert_cmphex(login(s, CKU_USER, "111111"), ==, CKR_OK);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, 0);
}

/* A PIN change with a wrong old PIN costs a try; a right one restores them. */
static void
test_set_pin_counts(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  g_assert_cmphex(set_pin(s, "999999", "222222"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, CKF_USER_PIN_COUNT_LOW);
  g_assert_cmphex(set_pin(s, USER_PIN, "222222"), ==, CKR_OK);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, 0);
  g_assert_cmphex(login(s, CKU_USER, "222222"), ==, CKR_OK);
}

/* Ten wrong SO PINs block the SO PIN (the PUK); the user PIN is untouched. */
static void
test_so_pin_lock(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  for (int i = 1; i <= 10; i++) {
    CK_FLAGS want = i == 10  ? CKF_SO_PIN_LOCKED
                    : i == 9 ? CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY
                             : CKF_SO_PIN_COUNT_LOW;
    g_assert_cmphex(login(s, CKU_SO, "87654321"), ==, CKR_PIN_INCORRECT);
    g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, want);
  }
  g_assert_cmphex(login(s, CKU_SO, SO_PIN), ==, CKR_PIN_LOCKED);
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
}

/* The counters live in the state dir: they survive C_Finalize/C_Initialize
 * and a test can preset them. */
static void
test_persist(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  g_autofree char *pins = state_file(fx, "pins");
  g_autofree char *text = NULL;
  g_autofree char *want = g_strdup_printf("%s 1 10 3\n", fx->serial);

  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(p11->C_Finalize(NULL), ==, CKR_OK);
  g_assert_cmphex(p11->C_Initialize(NULL), ==, CKR_OK);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==,
                  CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
  g_assert_true(g_file_get_contents(pins, &text, NULL, NULL));
  g_assert_nonnull(strstr(text, want));

  g_autofree char *preset = g_strdup_printf("%s 0 1\n", fx->serial);
  write_state(fx, "pins", preset);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==,
                  CKF_USER_PIN_LOCKED | CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY);
  s = open_session(fx);
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_PIN_LOCKED);
}

/* Without SIGNET_SHIM_STATE the counters still work, in memory. */
static void
test_no_state(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, CKF_USER_PIN_COUNT_LOW);
  g_autofree char *pins = state_file(fx, "pins");
  g_autofree char *tries = state_file(fx, "tries");
  g_assert_false(g_file_test(pins, G_FILE_TEST_EXISTS));
  g_assert_false(g_file_test(tries, G_FILE_TEST_EXISTS));
}

/* A second user in the same process (another library loading the same
 * path) gets CKR_CRYPTOKI_ALREADY_INITIALIZED from C_Initialize, which
 * changes nothing; the one C_Finalize then ends it for both. */
static void
test_double_init(Fixture *fx, gconstpointer user_data)
{
  CK_SLOT_ID slots[8];
  CK_ULONG n = G_N_ELEMENTS(slots);
  void *dl = dlopen(g_getenv("SIGNET_SHIM_MODULE"), RTLD_NOW | RTLD_LOCAL);
  g_assert_nonnull(dl);
  CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
  CK_FUNCTION_LIST_PTR second = NULL;
  g_assert_cmphex(get(&second), ==, CKR_OK);
  g_assert_true(second == p11);
  g_assert_cmpint(second->version.major, ==, 2);
  g_assert_cmpint(second->version.minor, ==, 40);

  CK_SESSION_HANDLE s = open_session(fx);
  /* A second C_Initialize is answered as SoftHSM2 and OpenSC answer it, and
   * changes nothing. */
  g_assert_cmphex(second->C_Initialize(NULL), ==, CKR_CRYPTOKI_ALREADY_INITIALIZED);
  g_assert_cmphex(p11->C_GetSlotList(CK_TRUE, slots, &n), ==, CKR_OK);
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  dlclose(dl);

  g_assert_cmphex(p11->C_Finalize(NULL), ==, CKR_OK);
  g_assert_cmphex(p11->C_GetSlotList(CK_TRUE, slots, &n), ==, CKR_CRYPTOKI_NOT_INITIALIZED);
  g_assert_cmphex(p11->C_Finalize(NULL), ==, CKR_CRYPTOKI_NOT_INITIALIZED);
  g_assert_cmphex(p11->C_Initialize(NULL), ==, CKR_OK);
}

/* "C_GenerateKeyPair remove": the token is pulled at that call and comes
 * back, with fresh sessions, when the fault file is deleted. */
static void
test_remove(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx), s2;
  CK_OBJECT_HANDLE key;
  CK_SLOT_ID slots[8];
  CK_ULONG n = G_N_ELEMENTS(slots);
  CK_SLOT_INFO si;
  CK_TOKEN_INFO ti;
  g_autofree char *fault = state_file(fx, "fault");

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  write_state(fx, "fault", "C_GenerateKeyPair remove\n");
  g_assert_cmphex(p11->C_GetSlotList(CK_TRUE, slots, &n), ==, CKR_OK);
  g_assert_cmpuint(n, >, 0); /* armed, not yet pulled */

  g_assert_cmphex(generate_ec_key(s, &key), ==, CKR_DEVICE_REMOVED);
  n = G_N_ELEMENTS(slots);
  g_assert_cmphex(p11->C_GetSlotList(CK_TRUE, slots, &n), ==, CKR_OK);
  g_assert_cmpuint(n, ==, 0);
  n = G_N_ELEMENTS(slots);
  g_assert_cmphex(p11->C_GetSlotList(CK_FALSE, slots, &n), ==, CKR_OK);
  g_assert_cmpuint(n, >, 0);
  g_assert_cmphex(p11->C_GetSlotInfo(fx->slot, &si), ==, CKR_OK);
  g_assert_cmphex(si.flags & CKF_TOKEN_PRESENT, ==, 0);
  g_assert_cmphex(p11->C_GetTokenInfo(fx->slot, &ti), ==, CKR_TOKEN_NOT_PRESENT);
  g_assert_cmphex(p11->C_FindObjectsInit(s, NULL, 0), ==, CKR_DEVICE_REMOVED);
  g_assert_cmphex(p11->C_OpenSession(fx->slot, CKF_SERIAL_SESSION, NULL, NULL, &s2), ==,
                  CKR_DEVICE_REMOVED);

  g_assert_cmpint(g_unlink(fault), ==, 0);
  g_assert_cmphex(p11->C_FindObjectsInit(s, NULL, 0), ==, CKR_SESSION_HANDLE_INVALID);
  g_assert_cmphex(p11->C_GetSlotInfo(fx->slot, &si), ==, CKR_OK);
  g_assert_cmphex(si.flags & CKF_TOKEN_PRESENT, ==, CKF_TOKEN_PRESENT);
  s2 = open_session(fx);
  g_assert_cmphex(login(s2, CKU_USER, USER_PIN), ==, CKR_OK);
  g_assert_cmphex(generate_ec_key(s2, &key), ==, CKR_OK);
}

/* "C_Sign delay N" slows every C_Sign; "*" matches every function. */
static void
test_delay(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  CK_OBJECT_HANDLE key;
  CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
  CK_BYTE hash[32] = { 1 }, sig[128];
  CK_ULONG sig_len = sizeof sig;
  CK_INFO info;

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  g_assert_cmphex(generate_ec_key(s, &key), ==, CKR_OK);
  write_state(fx, "fault", "C_Sign delay 400\n");
  g_assert_cmphex(p11->C_SignInit(s, &mech, key), ==, CKR_OK);
  gint64 start = g_get_monotonic_time();
  g_assert_cmphex(p11->C_Sign(s, hash, sizeof hash, sig, &sig_len), ==, CKR_OK);
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 400 * 1000);
  g_assert_cmpuint(sig_len, ==, 64);

  write_state(fx, "fault", "* delay 250\n");
  start = g_get_monotonic_time();
  g_assert_cmphex(p11->C_GetInfo(&info), ==, CKR_OK);
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 250 * 1000);
}

typedef struct
{
  CK_SESSION_HANDLE session;
  CK_ULONG sig_len;
  CK_RV rv;
  gint done;
} HeldSign;

static gpointer
held_sign_thread(gpointer data)
{
  HeldSign *h = data;
  CK_BYTE hash[32] = { 1 }, sig[128];

  h->sig_len = sizeof sig;
  h->rv = p11->C_Sign(h->session, hash, sizeof hash, sig, &h->sig_len);
  g_atomic_int_set(&h->done, 1);
  return NULL;
}

/* "FUNCTION hold" stops the call until the line is gone from the fault
 * file; meanwhile the state file "held" names the function. */
static void
test_hold(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  CK_OBJECT_HANDLE key;
  CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
  g_autofree char *held = state_file(fx, "held");
  g_autofree char *text = NULL;
  HeldSign h = { 0 };
  GThread *thread;
  CK_INFO info;

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  g_assert_cmphex(generate_ec_key(s, &key), ==, CKR_OK);
  g_assert_cmphex(p11->C_SignInit(s, &mech, key), ==, CKR_OK);
  write_state(fx, "fault", "C_Sign hold\n");
  h.session = s;
  thread = g_thread_new("held-sign", held_sign_thread, &h);
  while (!g_file_test(held, G_FILE_TEST_EXISTS))
    g_usleep(5000);
  g_assert_true(g_file_get_contents(held, &text, NULL, NULL));
  g_assert_cmpstr(text, ==, "C_Sign");
  /* Held, other calls go on. */
  g_assert_cmphex(p11->C_GetInfo(&info), ==, CKR_OK);
  g_assert_cmpint(g_atomic_int_get(&h.done), ==, 0);
  write_state(fx, "fault", "C_Sign delay 1\n");
  g_thread_join(thread);
  g_assert_cmphex(h.rv, ==, CKR_OK);
  g_assert_cmpuint(h.sig_len, ==, 64);
  g_assert_false(g_file_test(held, G_FILE_TEST_EXISTS));
}

/* "FUNCTION error CODE" answers CODE once, then the line is consumed. */
static void
test_error_once(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  CK_TOKEN_INFO ti;
  g_autofree char *fault = state_file(fx, "fault");
  g_autofree char *text = NULL;

  write_state(fx, "fault",
              "# one-shot errors\nC_Login error CKR_GENERAL_ERROR\nC_GetTokenInfo error 0x30\n"
              "C_Sign delay 1\n");
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_GENERAL_ERROR);
  g_assert_cmphex(p11->C_GetTokenInfo(fx->slot, &ti), ==, CKR_DEVICE_ERROR);
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, 0); /* no try was spent */
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  g_assert_true(g_file_get_contents(fault, &text, NULL, NULL));
  g_assert_cmpstr(text, ==, "# one-shot errors\nC_Sign delay 1\n");
}

/* --- The tries log, the extractable fault (both models) --- */

static CK_BBOOL
get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
  CK_BBOOL value = 0xff;
  CK_ATTRIBUTE a = { type, &value, sizeof value };
  g_assert_cmphex(p11->C_GetAttributeValue(s, o, &a, 1), ==, CKR_OK);
  g_assert_cmpuint(a.ulValueLen, ==, sizeof value);
  return value;
}

/* One attribute's value; NULL when the target does not give it. */
static GBytes *
get_bytes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
  CK_ATTRIBUTE a = { type, NULL, 0 };
  if (p11->C_GetAttributeValue(s, o, &a, 1) != CKR_OK)
    return NULL;
  a.pValue = g_malloc(a.ulValueLen + 1);
  g_assert_cmphex(p11->C_GetAttributeValue(s, o, &a, 1), ==, CKR_OK);
  return g_bytes_new_take(a.pValue, a.ulValueLen);
}

/* Every PIN/PUK try, one line each, in the default model: ok, wrong,
 * locked, error:CKR_…; no line for an injected error. */
static void
test_tries_log(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);

  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  want_try(fx, "pin wrong C_Login");
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  want_try(fx, "pin ok C_Login");
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_USER_ALREADY_LOGGED_IN);
  want_try(fx, "pin error:CKR_USER_ALREADY_LOGGED_IN C_Login");
  g_assert_cmphex(set_pin(s, "999999", "222222"), ==, CKR_PIN_INCORRECT);
  want_try(fx, "pin wrong C_SetPIN");
  g_assert_cmphex(set_pin(s, USER_PIN, "222222"), ==, CKR_OK);
  want_try(fx, "pin ok C_SetPIN");
  g_assert_cmphex(p11->C_Logout(s), ==, CKR_OK);
  check_tries(fx);

  g_assert_cmphex(login(s, CKU_SO, "87654321"), ==, CKR_PIN_INCORRECT);
  want_try(fx, "puk wrong C_Login");
  write_state(fx, "fault", "C_Login error CKR_GENERAL_ERROR\nC_SetPIN error CKR_DEVICE_ERROR\n");
  g_assert_cmphex(login(s, CKU_SO, SO_PIN), ==, CKR_GENERAL_ERROR); /* not a try */
  g_assert_cmphex(login(s, CKU_SO, SO_PIN), ==, CKR_OK);
  want_try(fx, "puk ok C_Login");
  g_assert_cmphex(set_pin(s, SO_PIN, "87654321"), ==, CKR_DEVICE_ERROR); /* not a try */
  g_assert_cmphex(set_pin(s, "11111111", "87654321"), ==, CKR_PIN_INCORRECT);
  want_try(fx, "puk wrong C_SetPIN");
  g_assert_cmphex(set_pin(s, SO_PIN, "87654321"), ==, CKR_OK);
  want_try(fx, "puk ok C_SetPIN");
  g_assert_cmphex(p11->C_Logout(s), ==, CKR_OK);
  check_tries(fx);

  for (int i = 0; i < 3; i++) {
    g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
    want_try(fx, "pin wrong C_Login");
  }
  g_assert_cmphex(login(s, CKU_USER, "222222"), ==, CKR_PIN_LOCKED);
  want_try(fx, "pin locked C_Login");
  g_assert_cmphex(set_pin(s, "222222", "333333"), ==, CKR_PIN_LOCKED);
  want_try(fx, "pin locked C_SetPIN");

  g_assert_cmphex(p11->C_CloseAllSessions(fx->slot), ==, CKR_OK);
  CK_UTF8CHAR label[32];
  memset(label, ' ', sizeof label);
  label[0] = 'L';
  g_assert_cmphex(p11->C_InitToken(fx->slot, (CK_UTF8CHAR_PTR) "00000000", 8, label), ==,
                  CKR_PIN_INCORRECT);
  want_try(fx, "puk wrong C_InitToken");
  check_tries(fx);
  check_pins(fx, "0 9 3");
}

/* "C_GenerateKeyPair extractable": the key comes out CKA_SENSITIVE false and
 * CKA_EXTRACTABLE true although the caller asked for a sensitive one; it
 * stays until the line goes. */
static void
test_extractable(Fixture *fx, gconstpointer user_data)
{
  gboolean card = GPOINTER_TO_INT(user_data) & CARD;
  CK_SESSION_HANDLE s = open_session(fx);
  CK_OBJECT_HANDLE key;
  g_autofree char *fault = state_file(fx, "fault");

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  g_assert_cmphex(generate_ec_key(s, &key), ==, CKR_OK);
  g_assert_cmpint(get_bool(s, key, CKA_SENSITIVE), ==, card ? CK_FALSE : CK_TRUE);
  g_assert_cmpint(get_bool(s, key, CKA_EXTRACTABLE), ==, CK_FALSE);
  g_assert_null(get_bytes(s, key, CKA_VALUE));

  write_state(fx, "fault", "C_GenerateKeyPair extractable\n");
  for (int i = 0; i < 2; i++) {
    g_assert_cmphex(generate_ec_key(s, &key), ==, CKR_OK);
    g_assert_cmpint(get_bool(s, key, CKA_SENSITIVE), ==, CK_FALSE);
    g_assert_cmpint(get_bool(s, key, CKA_EXTRACTABLE), ==, CK_TRUE);
    g_autoptr(GBytes) value = get_bytes(s, key, CKA_VALUE);
    g_assert_nonnull(value);
    /* The P-256 scalar, as a big integer: SoftHSM2 drops leading zero
     * bytes, so one key in 256 has 31 bytes or fewer. */
    g_assert_cmpuint(g_bytes_get_size(value), >=, 16);
    g_assert_cmpuint(g_bytes_get_size(value), <=, 32);
  }
  g_assert_cmpint(g_unlink(fault), ==, 0);
  g_assert_cmphex(generate_ec_key(s, &key), ==, CKR_OK);
  g_assert_cmpint(get_bool(s, key, CKA_EXTRACTABLE), ==, CK_FALSE);
  g_assert_null(get_bytes(s, key, CKA_VALUE));
}

/* "C_GetMechanismInfo sign-only": CKM_RSA_PKCS signs but no longer says it
 * decrypts (nor any other mechanism that it encrypts, wraps or unwraps);
 * without the line it decrypts again. */
static void
test_sign_only(Fixture *fx, gconstpointer user_data)
{
  CK_MECHANISM_INFO info;
  g_autofree char *fault = state_file(fx, "fault");

  (void)user_data;
  g_assert_cmphex(p11->C_GetMechanismInfo(fx->slot, CKM_RSA_PKCS, &info), ==, CKR_OK);
  g_assert_true(info.flags & CKF_DECRYPT);
  write_state(fx, "fault", "C_GetMechanismInfo sign-only\n");
  g_assert_cmphex(p11->C_GetMechanismInfo(fx->slot, CKM_RSA_PKCS, &info), ==, CKR_OK);
  g_assert_true(info.flags & CKF_SIGN);
  g_assert_false(info.flags & (CKF_DECRYPT | CKF_ENCRYPT | CKF_WRAP | CKF_UNWRAP));
  g_assert_cmphex(p11->C_GetMechanismInfo(fx->slot, CKM_RSA_PKCS_OAEP, &info), ==, CKR_OK);
  g_assert_false(info.flags & (CKF_DECRYPT | CKF_ENCRYPT | CKF_WRAP | CKF_UNWRAP));
  g_assert_cmpint(g_unlink(fault), ==, 0);
  g_assert_cmphex(p11->C_GetMechanismInfo(fx->slot, CKM_RSA_PKCS, &info), ==, CKR_OK);
  g_assert_true(info.flags & CKF_DECRYPT);
}

/* --- The card model --- */

/* C_GetInfo says OpenSC 0.23; C_GetSlotInfo names a reader. */
static void
test_card_info(Fixture *fx, gconstpointer user_data)
{
  CK_INFO info;
  CK_SLOT_INFO si;

  g_assert_cmphex(p11->C_GetInfo(&info), ==, CKR_OK);
  g_assert_cmpint(info.cryptokiVersion.major, ==, 2);
  g_assert_cmpint(info.cryptokiVersion.minor, ==, 20);
  g_assert_cmpmem(info.manufacturerID, sizeof info.manufacturerID,
                  "OpenSC Project                  ", 32);
  g_assert_cmpmem(info.libraryDescription, sizeof info.libraryDescription,
                  "OpenSC smartcard framework      ", 32);
  g_assert_cmpint(info.libraryVersion.major, ==, 0);
  g_assert_cmpint(info.libraryVersion.minor, ==, 23);

  g_assert_cmphex(p11->C_GetSlotInfo(fx->slot, &si), ==, CKR_OK);
  g_autofree char *desc = g_strndup((const char *)si.slotDescription, sizeof si.slotDescription);
  g_assert_true(g_str_has_prefix(desc, "Signet Test Reader 00 0"));
  g_assert_cmpuint(strlen(g_strchomp(desc)), ==, strlen("Signet Test Reader 00 00"));
  g_assert_cmphex(si.flags & CKF_TOKEN_PRESENT, ==, CKF_TOKEN_PRESENT);
}

/* OpenSC's flags on this card: none after the first wrong PIN, FINAL_TRY
 * after the second, LOCKED after the third, never COUNT_LOW or a SO flag;
 * a right PIN gives the tries back. */
static void
test_card_pin_flags(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);

  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  g_assert_cmphex(p11->C_Logout(s), ==, CKR_OK);
  want_try(fx, "pin wrong C_Login");
  want_try(fx, "pin ok C_Login");
  check_pins(fx, "3 3 3");

  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);
  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, CKF_USER_PIN_FINAL_TRY);
  /* The wrong PIN that spends the last try: the card says locked. */
  g_assert_cmphex(login(s, CKU_USER, "000000"), ==, CKR_PIN_LOCKED);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, CKF_USER_PIN_LOCKED);
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_PIN_LOCKED);
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, CKF_USER_PIN_LOCKED);
  for (int i = 0; i < 3; i++)
    want_try(fx, "pin wrong C_Login");
  want_try(fx, "pin locked C_Login");
  check_tries(fx);
  check_pins(fx, "0 3 3");
}

/* C_SetPIN logged out is an unblock: the right *user PIN* there is a wrong
 * PUK. The PIN is not changed, a PUK try is spent, OpenSC shows no flag. */
static void
test_card_user_pin_is_wrong_puk(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);

  g_assert_cmphex(set_pin(s, USER_PIN, "111111"), ==, CKR_PIN_INCORRECT);
  want_try(fx, "puk wrong C_SetPIN");
  check_tries(fx);
  check_pins(fx, "3 2 3");
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);

  g_assert_cmphex(login(s, CKU_USER, "111111"), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  want_try(fx, "pin wrong C_Login");
  want_try(fx, "pin ok C_Login");
  check_tries(fx);
  check_pins(fx, "3 2 3");
}

/* C_SetPIN(PUK, new) logged out unblocks a locked PIN and sets the new one;
 * a right PUK gives the PUK's tries back. What OpenSC refuses itself (a new
 * PIN of the wrong length, a read-only session) is no try and no line; what
 * SoftHSM2 refuses the SO login for is passed through ("error:…"). */
static void
test_card_unblock(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx), ro;

  for (int i = 0; i < 3; i++) {
    /* The third spends the last try: the card answers locked. */
    g_assert_cmphex(login(s, CKU_USER, "000000"), ==, i < 2 ? CKR_PIN_INCORRECT : CKR_PIN_LOCKED);
    want_try(fx, "pin wrong C_Login");
  }
  g_assert_cmphex(token_flags(fx) & USER_FLAGS, ==, CKF_USER_PIN_LOCKED);
  g_assert_cmphex(set_pin(s, "87654321", "111111"), ==, CKR_PIN_INCORRECT);
  want_try(fx, "puk wrong C_SetPIN");
  check_pins(fx, "0 2 3");

  g_assert_cmphex(set_pin(s, SO_PIN, "111"), ==, CKR_PIN_LEN_RANGE);
  g_assert_cmphex(p11->C_OpenSession(fx->slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), ==, CKR_OK);
  g_assert_cmphex(set_pin(ro, SO_PIN, "111111"), ==, CKR_SESSION_READ_ONLY);
  check_tries(fx);
  /* SoftHSM2 refuses the SO login while a read-only session is open: passed through */
  g_assert_cmphex(set_pin(s, SO_PIN, "111111"), ==, CKR_SESSION_READ_ONLY_EXISTS);
  want_try(fx, "puk error:CKR_SESSION_READ_ONLY_EXISTS C_SetPIN");
  g_assert_cmphex(p11->C_CloseSession(ro), ==, CKR_OK);
  check_tries(fx);
  check_pins(fx, "0 2 3");

  g_assert_cmphex(set_pin(s, SO_PIN, "111111"), ==, CKR_OK);
  want_try(fx, "puk ok C_SetPIN");
  check_pins(fx, "3 3 3");
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_PIN_INCORRECT);
  g_assert_cmphex(login(s, CKU_USER, "111111"), ==, CKR_OK);
  want_try(fx, "pin wrong C_Login");
  want_try(fx, "pin ok C_Login");
  check_tries(fx);
  check_pins(fx, "3 3 3");
}

/* Logged in as the user, C_SetPIN is a PIN change: the old PIN is checked
 * against the user PIN (a try, a "pin" line). */
static void
test_card_change_pin(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  want_try(fx, "pin ok C_Login");
  g_assert_cmphex(set_pin(s, "999999", "222222"), ==, CKR_PIN_INCORRECT);
  want_try(fx, "pin wrong C_SetPIN");
  check_pins(fx, "2 3 3");
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);
  g_assert_cmphex(set_pin(s, USER_PIN, "222222"), ==, CKR_OK);
  want_try(fx, "pin ok C_SetPIN");
  check_pins(fx, "3 3 3");
  g_assert_cmphex(p11->C_Logout(s), ==, CKR_OK);

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_PIN_INCORRECT);
  want_try(fx, "pin wrong C_Login");
  g_assert_cmphex(login(s, CKU_USER, "222222"), ==, CKR_OK);
  want_try(fx, "pin ok C_Login");
  check_tries(fx);
}

/* C_Login(CKU_SO) checks the card's own SO PIN, which no test knows: every
 * try is wrong and spends one of 3 (the 4th pins column), then locked; never
 * a flag. C_InitPIN has no SO session to run in. A 3-column pins file (as
 * the default model wrote it) reads as the SO PIN untouched. */
static void
test_card_so_login(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  g_autofree char *preset = g_strdup_printf("%s 2 3\n", fx->serial);

  write_state(fx, "pins", preset);
  for (int i = 0; i < 3; i++) {
    g_assert_cmphex(login(s, CKU_SO, SO_PIN), ==, CKR_PIN_INCORRECT);
    want_try(fx, "so-pin wrong C_Login");
    g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);
  }
  check_pins(fx, "2 3 0");
  g_assert_cmphex(login(s, CKU_SO, SO_PIN), ==, CKR_PIN_LOCKED);
  want_try(fx, "so-pin locked C_Login");
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);
  g_assert_cmphex(p11->C_InitPIN(s, (CK_UTF8CHAR_PTR) "111111", 6), ==, CKR_USER_NOT_LOGGED_IN);

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  want_try(fx, "pin ok C_Login");
  /* OpenSC answers this one itself: no try, no line */
  g_assert_cmphex(login(s, CKU_SO, SO_PIN), ==, CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
  check_tries(fx);
  check_pins(fx, "3 3 0");
}

/* Three wrong PUKs block the PUK: then even the right one is refused
 * unsent. The default model's "10" reads as the card's 3. */
static void
test_card_puk_lock(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  g_autofree char *preset = g_strdup_printf("%s 3 10 3\n", fx->serial);

  write_state(fx, "pins", preset);
  for (int i = 0; i < 3; i++) {
    g_assert_cmphex(set_pin(s, "87654321", "111111"), ==, CKR_PIN_INCORRECT);
    want_try(fx, "puk wrong C_SetPIN");
  }
  check_pins(fx, "3 0 3");
  g_assert_cmphex(set_pin(s, SO_PIN, "111111"), ==, CKR_PIN_LOCKED);
  want_try(fx, "puk locked C_SetPIN");
  g_assert_cmphex(token_flags(fx) & (USER_FLAGS | SO_FLAGS), ==, 0);
  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK); /* the PIN is as it was */
  want_try(fx, "pin ok C_Login");
  check_tries(fx);
}

/* A private key reads back as OpenSC 0.23 shows one made on the card:
 * SENSITIVE, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE and LOCAL false, PRIVATE
 * true and listed without a login, the rest
 * (EXTRACTABLE, the sensitive value) as the target says; per-attribute
 * answers and length queries as PKCS#11 wants them. */
static void
test_card_key_attributes(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  CK_OBJECT_HANDLE key;
  CK_BBOOL b[6];
  CK_BYTE value[64];
  CK_OBJECT_CLASS cls;

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  g_assert_cmphex(generate_ec_key(s, &key), ==, CKR_OK);
  memset(b, 0x55, sizeof b);
  CK_ATTRIBUTE t[] = { { CKA_SENSITIVE, &b[0], 1 },         { CKA_ALWAYS_SENSITIVE, &b[1], 1 },
                       { CKA_NEVER_EXTRACTABLE, &b[2], 1 }, { CKA_LOCAL, &b[3], 1 },
                       { CKA_EXTRACTABLE, &b[4], 1 },       { CKA_SIGN, &b[5], 1 },
                       { CKA_CLASS, &cls, sizeof cls } };
  g_assert_cmphex(p11->C_GetAttributeValue(s, key, t, G_N_ELEMENTS(t)), ==, CKR_OK);
  for (int i = 0; i < 5; i++) {
    g_assert_cmpint(b[i], ==, CK_FALSE);
    g_assert_cmpuint(t[i].ulValueLen, ==, 1);
  }
  g_assert_cmpint(b[5], ==, CK_TRUE);
  g_assert_cmpuint(cls, ==, CKO_PRIVATE_KEY);

  /* the value stays sensitive in the target; lengths with NULL pValue */
  CK_ATTRIBUTE q[] = { { CKA_VALUE, NULL, 0 },
                       { CKA_SENSITIVE, NULL, 0 },
                       { CKA_EC_PARAMS, NULL, 0 },
                       { CKA_LOCAL, NULL, 0 } };
  g_assert_cmphex(p11->C_GetAttributeValue(s, key, q, G_N_ELEMENTS(q)), ==,
                  CKR_ATTRIBUTE_SENSITIVE);
  g_assert_cmpuint(q[0].ulValueLen, ==, CK_UNAVAILABLE_INFORMATION);
  g_assert_cmpuint(q[1].ulValueLen, ==, 1);
  g_assert_cmpuint(q[2].ulValueLen, ==, sizeof p256);
  g_assert_cmpuint(q[3].ulValueLen, ==, 1);

  /* a buffer too small for one of the four */
  CK_ATTRIBUTE small[] = { { CKA_NEVER_EXTRACTABLE, value, 0 }, { CKA_SIGN, &b[0], 1 } };
  g_assert_cmphex(p11->C_GetAttributeValue(s, key, small, 2), ==, CKR_BUFFER_TOO_SMALL);
  g_assert_cmpuint(small[0].ulValueLen, ==, CK_UNAVAILABLE_INFORMATION);
  g_assert_cmpuint(small[1].ulValueLen, ==, 1);

  /* an attribute a private key has not */
  CK_ATTRIBUTE bad[] = { { CKA_ALWAYS_SENSITIVE, &b[0], 1 }, { CKA_MODULUS, value, sizeof value } };
  g_assert_cmphex(p11->C_GetAttributeValue(s, key, bad, 2), ==, CKR_ATTRIBUTE_TYPE_INVALID);
  g_assert_cmpint(b[0], ==, CK_FALSE);
  g_assert_cmpuint(bad[1].ulValueLen, ==, CK_UNAVAILABLE_INFORMATION);

  /* not a private key: as the target says (the public key was made here) */
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
  CK_ATTRIBUTE find[] = { { CKA_CLASS, &pub_class, sizeof pub_class } };
  CK_OBJECT_HANDLE pub;
  CK_ULONG n = 0;
  g_assert_cmphex(p11->C_FindObjectsInit(s, find, 1), ==, CKR_OK);
  g_assert_cmphex(p11->C_FindObjects(s, &pub, 1, &n), ==, CKR_OK);
  g_assert_cmphex(p11->C_FindObjectsFinal(s), ==, CKR_OK);
  g_assert_cmpuint(n, ==, 1);
  g_assert_cmpint(get_bool(s, pub, CKA_LOCAL), ==, CK_TRUE);

  /* As OpenSC lists a card's private keys: without a login too, and
   * reading CKA_PRIVATE true. */
  g_assert_cmpint(get_bool(s, key, CKA_PRIVATE), ==, CK_TRUE);
  g_assert_cmphex(p11->C_Logout(s), ==, CKR_OK);
  CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE find_priv[] = { { CKA_CLASS, &priv_class, sizeof priv_class } };
  CK_OBJECT_HANDLE found;
  n = 0;
  g_assert_cmphex(p11->C_FindObjectsInit(s, find_priv, 1), ==, CKR_OK);
  g_assert_cmphex(p11->C_FindObjects(s, &found, 1, &n), ==, CKR_OK);
  g_assert_cmphex(p11->C_FindObjectsFinal(s), ==, CKR_OK);
  g_assert_cmpuint(n, ==, 1);
  g_assert_cmpint(get_bool(s, found, CKA_PRIVATE), ==, CK_TRUE);
  g_assert_cmpint(get_bool(s, found, CKA_SENSITIVE), ==, CK_FALSE);
}

/* --- Companion public keys --- */

/* A self-signed X.509 certificate of KEY, DER. */
static GBytes *
make_cert(EVP_PKEY *key, const char *cn)
{
  g_autoptr(X509) x = X509_new();
  unsigned char *der = NULL;
  g_assert_nonnull(x);
  g_assert_cmpint(X509_set_version(x, 2), ==, 1);
  g_assert_cmpint(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), ==, 1);
  g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
  g_assert_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
  X509_NAME *name = X509_get_subject_name(x);
  g_assert_cmpint(
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
      ==, 1);
  g_assert_cmpint(X509_set_issuer_name(x, name), ==, 1);
  g_assert_cmpint(X509_set_pubkey(x, key), ==, 1);
  g_assert_cmpint(X509_sign(x, key, EVP_sha256()), >, 0);
  int len = i2d_X509(x, &der);
  g_assert_cmpint(len, >, 0);
  GBytes *bytes = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  return bytes;
}

static CK_OBJECT_HANDLE
create_cert(CK_SESSION_HANDLE s, GBytes *der, const char *id, const char *label)
{
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE type = CKC_X_509;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  gsize len;
  const unsigned char *data = g_bytes_get_data(der, &len), *p = data;
  g_autoptr(X509) x = d2i_X509(NULL, &p, (long)len);
  unsigned char *subject = NULL;
  g_assert_nonnull(x);
  int subject_len = i2d_X509_NAME(X509_get_subject_name(x), &subject); /* SoftHSM2 wants it */
  g_assert_cmpint(subject_len, >, 0);
  CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                       { CKA_CERTIFICATE_TYPE, &type, sizeof type },
                       { CKA_TOKEN, &yes, sizeof yes },
                       { CKA_PRIVATE, &no, sizeof no },
                       { CKA_SUBJECT, subject, (CK_ULONG)subject_len },
                       { CKA_VALUE, (void *)data, len },
                       { CKA_LABEL, (void *)label, strlen(label) },
                       { CKA_ID, (void *)id, strlen(id) } };
  CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
  g_assert_cmphex(p11->C_CreateObject(s, t, G_N_ELEMENTS(t), &o), ==, CKR_OK);
  OPENSSL_free(subject);
  return o;
}

/* The objects of class CLS with CKA_ID ID ("" included) on the token. */
static CK_ULONG
find_by_id(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *id, CK_OBJECT_HANDLE *out)
{
  static char empty;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                       { CKA_TOKEN, &yes, sizeof yes },
                       { CKA_ID, *id ? (void *)id : &empty, strlen(id) } };
  CK_OBJECT_HANDLE found[8];
  CK_ULONG n = 0;
  g_assert_cmphex(p11->C_FindObjectsInit(s, t, G_N_ELEMENTS(t)), ==, CKR_OK);
  g_assert_cmphex(p11->C_FindObjects(s, found, G_N_ELEMENTS(found), &n), ==, CKR_OK);
  g_assert_cmphex(p11->C_FindObjectsFinal(s), ==, CKR_OK);
  if (out != NULL && n > 0)
    *out = found[0];
  return n;
}

static void
assert_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, const void *want,
            gsize want_len)
{
  g_autoptr(GBytes) got = get_bytes(s, o, type);
  g_assert_nonnull(got);
  g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), want, want_len);
}

static GBytes *
bn_param(EVP_PKEY *key, const char *name)
{
  g_autoptr(BIGNUM) bn = NULL;
  g_assert_cmpint(EVP_PKEY_get_bn_param(key, name, &bn), ==, 1);
  guchar *buf = g_malloc(BN_num_bytes(bn));
  int len = BN_bn2bin(bn, buf);
  return g_bytes_new_take(buf, (gsize)len);
}

/* A certificate stored on the token brings a public key with its CKA_ID,
 * label and key (EC and RSA, a CA certificate with an empty CKA_ID too);
 * destroying the certificate takes it away, in another "process" too. */
static void
test_card_companion(Fixture *fx, gconstpointer user_data)
{
  gboolean state = !(GPOINTER_TO_INT(user_data) & NO_STATE);
  CK_SESSION_HANDLE s = open_session(fx);
  CK_OBJECT_HANDLE pub, cert;
  g_autoptr(EVP_PKEY) ec = EVP_EC_gen("P-256");
  g_autoptr(EVP_PKEY) rsa = EVP_RSA_gen(2048);
  g_autoptr(GBytes) ec_der = make_cert(ec, "Signet leaf");
  g_autoptr(GBytes) rsa_der = make_cert(rsa, "Signet CA");
  guchar point[128], ec_point[130];
  size_t point_len = 0;

  g_assert_nonnull(ec);
  g_assert_nonnull(rsa);
  g_assert_cmpint(
      EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &point_len),
      ==, 1);
  g_assert_cmpuint(point_len, ==, 65);
  ec_point[0] = 0x04;
  ec_point[1] = (guchar)point_len;
  memcpy(ec_point + 2, point, point_len);

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  create_cert(s, ec_der, "\x01\x02\x03", "Signet leaf");
  create_cert(s, rsa_der, "", "Signet CA");
  g_assert_cmpuint(find_by_id(s, CKO_PUBLIC_KEY, "\x01\x02\x03", &pub), ==, 1);
  CK_KEY_TYPE ckk_ec = CKK_EC, ckk_rsa = CKK_RSA;
  assert_attr(s, pub, CKA_KEY_TYPE, &ckk_ec, sizeof ckk_ec);
  assert_attr(s, pub, CKA_LABEL, "Signet leaf", strlen("Signet leaf"));
  assert_attr(s, pub, CKA_EC_PARAMS, p256, sizeof p256);
  assert_attr(s, pub, CKA_EC_POINT, ec_point, point_len + 2);
  g_assert_cmpint(get_bool(s, pub, CKA_VERIFY), ==, CK_TRUE);
  g_assert_cmpint(get_bool(s, pub, CKA_PRIVATE), ==, CK_FALSE);

  g_assert_cmpuint(find_by_id(s, CKO_PUBLIC_KEY, "", &pub), ==, 1);
  g_autoptr(GBytes) n = bn_param(rsa, OSSL_PKEY_PARAM_RSA_N);
  g_autoptr(GBytes) e = bn_param(rsa, OSSL_PKEY_PARAM_RSA_E);
  assert_attr(s, pub, CKA_KEY_TYPE, &ckk_rsa, sizeof ckk_rsa);
  assert_attr(s, pub, CKA_LABEL, "Signet CA", strlen("Signet CA"));
  assert_attr(s, pub, CKA_MODULUS, g_bytes_get_data(n, NULL), g_bytes_get_size(n));
  assert_attr(s, pub, CKA_PUBLIC_EXPONENT, g_bytes_get_data(e, NULL), g_bytes_get_size(e));
  g_assert_cmpint(get_bool(s, pub, CKA_VERIFY), ==, CK_TRUE);
  if (state) {
    g_autofree char *text = read_state(fx, "companions");
    g_autofree char *leaf = g_strdup_printf("\n%s 010203 ", fx->serial);
    g_autofree char *ca = g_strdup_printf("\n%s - ", fx->serial);
    g_assert_nonnull(strstr(text, leaf));
    g_assert_nonnull(strstr(text, ca));
  }

  /* handles change with the process: the companion is found by what it is */
  g_assert_cmphex(p11->C_Finalize(NULL), ==, CKR_OK);
  g_assert_cmphex(p11->C_Initialize(NULL), ==, CKR_OK);
  s = open_session(fx);
  g_assert_cmpuint(find_by_id(s, CKO_CERTIFICATE, "\x01\x02\x03", &cert), ==, 1);
  g_assert_cmphex(p11->C_DestroyObject(s, cert), ==, CKR_OK);
  g_assert_cmpuint(find_by_id(s, CKO_PUBLIC_KEY, "\x01\x02\x03", NULL), ==, 0);
  g_assert_cmpuint(find_by_id(s, CKO_PUBLIC_KEY, "", NULL), ==, 1);
  g_assert_cmpuint(find_by_id(s, CKO_CERTIFICATE, "", &cert), ==, 1);
  g_assert_cmphex(p11->C_DestroyObject(s, cert), ==, CKR_OK);
  g_assert_cmpuint(find_by_id(s, CKO_PUBLIC_KEY, "", NULL), ==, 0);
  if (state) {
    g_autofree char *text = read_state(fx, "companions");
    g_assert_null(strstr(text, fx->serial));
  }
}

/* A certificate under the CKA_ID of a key pair gets no second public key,
 * and destroying it leaves the key pair's public key alone. */
static void
test_card_companion_key_pair(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  CK_BBOOL yes = CK_TRUE;
  CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
  CK_ATTRIBUTE pub_t[] = { { CKA_EC_PARAMS, (CK_BYTE *)p256, sizeof p256 },
                           { CKA_TOKEN, &yes, sizeof yes },
                           { CKA_ID, "\x09", 1 } };
  CK_ATTRIBUTE priv_t[] = { { CKA_SIGN, &yes, sizeof yes },
                            { CKA_TOKEN, &yes, sizeof yes },
                            { CKA_PRIVATE, &yes, sizeof yes },
                            { CKA_ID, "\x09", 1 } };
  CK_OBJECT_HANDLE pub, priv, found, cert;
  g_autoptr(EVP_PKEY) ec = EVP_EC_gen("P-256");
  g_autoptr(GBytes) der = make_cert(ec, "Signet leaf");

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  g_assert_cmphex(p11->C_GenerateKeyPair(s, &mech, pub_t, G_N_ELEMENTS(pub_t), priv_t,
                                         G_N_ELEMENTS(priv_t), &pub, &priv),
                  ==, CKR_OK);
  cert = create_cert(s, der, "\x09", "Signet leaf");
  g_assert_cmpuint(find_by_id(s, CKO_PUBLIC_KEY, "\x09", &found), ==, 1);
  g_assert_cmpuint(found, ==, pub);
  g_autofree char *text = read_state(fx, "companions");
  g_assert_null(strstr(text, fx->serial));
  g_assert_cmphex(p11->C_DestroyObject(s, cert), ==, CKR_OK);
  g_assert_cmpuint(find_by_id(s, CKO_PUBLIC_KEY, "\x09", NULL), ==, 1);
  g_assert_cmpuint(find_by_id(s, CKO_PRIVATE_KEY, "\x09", NULL), ==, 1);
}

/* The default model makes no companion. */
static void
test_no_companion(Fixture *fx, gconstpointer user_data)
{
  CK_SESSION_HANDLE s = open_session(fx);
  g_autoptr(EVP_PKEY) ec = EVP_EC_gen("P-256");
  g_autoptr(GBytes) der = make_cert(ec, "Signet leaf");

  g_assert_cmphex(login(s, CKU_USER, USER_PIN), ==, CKR_OK);
  create_cert(s, der, "\x01", "Signet leaf");
  g_assert_cmpuint(find_by_id(s, CKO_PUBLIC_KEY, "\x01", NULL), ==, 0);
  g_assert_cmpuint(find_by_id(s, CKO_CERTIFICATE, "\x01", NULL), ==, 1);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  softhsm_util = g_getenv("SOFTHSM2_UTIL");
  if (softhsm_util == NULL || *softhsm_util == '\0')
    softhsm_util = g_find_program_in_path("softhsm2-util");
  softhsm_module = g_getenv("SOFTHSM2_MODULE");
  if (softhsm_module == NULL || *softhsm_module == '\0')
    softhsm_module = "/usr/lib/softhsm/libsofthsm2.so";
  if (softhsm_util == NULL || !g_file_test(softhsm_module, G_FILE_TEST_EXISTS)) {
    /* Under automake's TAP driver a skip is an empty plan, not exit 77. */
    g_print("1..0 # SKIP SoftHSM2 not found (apt-get install softhsm2)\n");
    return 0;
  }
  const char *shim = g_getenv("SIGNET_SHIM_MODULE");
  void *dl = shim != NULL ? dlopen(shim, RTLD_NOW | RTLD_LOCAL) : NULL;
  CK_C_GetFunctionList get
      = dl != NULL ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
  if (get == NULL || get(&p11) != CKR_OK) {
    g_print("Bail out! cannot load the shim from SIGNET_SHIM_MODULE=%s: %s\n",
            shim != NULL ? shim : "(unset; run through make check)",
            dl == NULL && shim != NULL ? dlerror() : "no C_GetFunctionList");
    return 1;
  }

#define ADD(path, fn, options)                                                                     \
  g_test_add(path, Fixture, GINT_TO_POINTER(options), setup, fn, teardown)
  ADD("/p11shim/user-pin-lock", test_user_pin_lock, 0);
  ADD("/p11shim/set-pin-counts", test_set_pin_counts, 0);
  ADD("/p11shim/so-pin-lock", test_so_pin_lock, 0);
  ADD("/p11shim/persist", test_persist, 0);
  ADD("/p11shim/no-state", test_no_state, NO_STATE);
  ADD("/p11shim/double-init", test_double_init, 0);
  ADD("/p11shim/remove", test_remove, 0);
  ADD("/p11shim/delay", test_delay, 0);
  ADD("/p11shim/hold", test_hold, 0);
  ADD("/p11shim/error-once", test_error_once, 0);
  ADD("/p11shim/tries-log", test_tries_log, 0);
  ADD("/p11shim/extractable", test_extractable, 0);
  ADD("/p11shim/sign-only", test_sign_only, 0);
  ADD("/p11shim/no-companion", test_no_companion, 0);
  ADD("/p11shim/card/info", test_card_info, CARD);
  ADD("/p11shim/card/pin-flags", test_card_pin_flags, CARD);
  ADD("/p11shim/card/set-pin-user-pin-is-wrong-puk", test_card_user_pin_is_wrong_puk, CARD);
  ADD("/p11shim/card/unblock", test_card_unblock, CARD);
  ADD("/p11shim/card/change-pin", test_card_change_pin, CARD);
  ADD("/p11shim/card/so-login", test_card_so_login, CARD);
  ADD("/p11shim/card/puk-lock", test_card_puk_lock, CARD);
  ADD("/p11shim/card/key-attributes", test_card_key_attributes, CARD);
  ADD("/p11shim/card/extractable", test_extractable, CARD);
  ADD("/p11shim/card/companion", test_card_companion, CARD);
  ADD("/p11shim/card/companion-no-state", test_card_companion, CARD | NO_STATE);
  ADD("/p11shim/card/companion-key-pair", test_card_companion_key_pair, CARD);
  return g_test_run();
}
