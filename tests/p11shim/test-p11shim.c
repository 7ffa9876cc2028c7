/* test-p11shim: the PKCS#11 test shim over a throwaway SoftHSM2 token.
 * Checks the card model (PIN/SO PIN tries, flags, lock, unblock, persistence)
 * and the injected faults (token pulled, delay, one-shot error). */
#include "config.h"
#include "tests/testutil/signet-test-util.h"

#include <dlfcn.h>
#include <glib.h>
#include <glib/gstdio.h>

#include <p11-kit/pkcs11.h>

#define USER_PIN   "123456"
#define SO_PIN     "12345678"
#define USER_FLAGS (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)
#define SO_FLAGS   (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED)

static CK_FUNCTION_LIST_PTR p11; /* the shim's list */
static const char *softhsm_util;
static const char *softhsm_module;

typedef struct
{
  char *dir;       /* temporary: softhsm2.conf, tokens/, state/ */
  char *state_dir; /* SIGNET_SHIM_STATE */
  CK_SLOT_ID slot; /* the token labelled "L" */
  char serial[17];
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

/* A fresh token and shim state; USER_DATA non-NULL: no SIGNET_SHIM_STATE. */
static void
setup(Fixture *fx, gconstpointer user_data)
{
  fx->dir = signet_test_softhsm_dir("test-p11shim");
  fx->state_dir = g_build_filename(fx->dir, "state", NULL);
  g_assert_cmpint(g_mkdir(fx->state_dir, 0700), ==, 0);
  /* Test-only PINs of a throwaway token; TESTING.md's recipe. */
  signet_test_softhsm_init_token("L", USER_PIN, SO_PIN);

  if (user_data != NULL)
    g_unsetenv("SIGNET_SHIM_STATE");
  else
    g_setenv("SIGNET_SHIM_STATE", fx->state_dir, TRUE);
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
  static CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
  CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, p256, sizeof p256 },
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
  g_autofree char *want = g_strdup_printf("%s 1 10\n", fx->serial);

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
  g_assert_false(g_file_test(pins, G_FILE_TEST_EXISTS));
}

/* A second user in the same process (libp11 loading the same path) gets
 * CKR_OK from C_Initialize, and its C_Finalize leaves the first one working. */
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
  g_assert_cmphex(second->C_Initialize(NULL), ==, CKR_OK);
  g_assert_cmphex(second->C_Finalize(NULL), ==, CKR_OK);
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

#define ADD(path, fn, data) g_test_add(path, Fixture, data, setup, fn, teardown)
  ADD("/p11shim/user-pin-lock", test_user_pin_lock, NULL);
  ADD("/p11shim/set-pin-counts", test_set_pin_counts, NULL);
  ADD("/p11shim/so-pin-lock", test_so_pin_lock, NULL);
  ADD("/p11shim/persist", test_persist, NULL);
  ADD("/p11shim/no-state", test_no_state, "no state");
  ADD("/p11shim/double-init", test_double_init, NULL);
  ADD("/p11shim/remove", test_remove, NULL);
  ADD("/p11shim/delay", test_delay, NULL);
  ADD("/p11shim/error-once", test_error_once, NULL);
  return g_test_run();
}
