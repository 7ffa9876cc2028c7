/* signet-p11shim: a PKCS#11 interposer for tests. It forwards every call to a
 * real module (SoftHSM2) and makes it behave like a smart card: PIN and PUK
 * try counters that lock, the matching token flags, a log of every PIN/PUK
 * try, and faults injected from a file (token pulled, slow token, one-shot
 * errors, an extractable key, a card whose keys only sign). Two models: the default one keeps
 * SoftHSM2's ways (SO PIN = PUK); SIGNET_SHIM_MODEL=opensc-card shows a MyEID-family PKCS#15 card
 * through OpenSC 0.23 (tries, flags, unblock by C_SetPIN in a logged-out session, key attributes, a
 * public key per certificate). What it models and every knob: tests/p11shim/README.md. May call:
 * libc, libdl, libcrypto (to read certificates), the target module. Test rig only, never installed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#define DEFAULT_TARGET    "/usr/lib/softhsm/libsofthsm2.so"
#define USER_TRIES        3
#define SOFTHSM_PUK_TRIES 10 /* the default model: SoftHSM2's SO PIN plays the PUK */
#define CARD_PUK_TRIES    3
#define CARD_SO_TRIES     3 /* the card model's own SO PIN */
#define MAX_TOKENS        16
#define MAX_FAULTS        32
#define MAX_FAULT_TEXT    8192
#define MAX_COMPANIONS    64
#define MAX_ID            128 /* CKA_ID bytes a companion can be remembered by */

/* OpenSC 0.23 as C_GetInfo shows it, and the reader its slots are named after. */
#define CARD_MANUFACTURER "OpenSC Project"
#define CARD_LIBRARY      "OpenSC smartcard framework"
#define CARD_READER       "Signet Test Reader 00"

enum model
{
  MODEL_SOFTHSM, /* SIGNET_SHIM_MODEL unset or "softhsm" */
  MODEL_CARD     /* "opensc-card" */
};

/* One lock for all of the shim's state; never held while sleeping. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static CK_FUNCTION_LIST_PTR T; /* the target's function list, loaded once */
static unsigned refs;          /* C_Initialize calls not yet finalized */
static bool own_target;        /* we initialized the target, so we finalize it */
static char state_dir[2048];   /* "": counters in memory only, no faults, no log */
static bool removed_seen;      /* this process saw the token pulled */
static enum model model;       /* read with SIGNET_SHIM_STATE */

static CK_FUNCTION_LIST shim_list;

static void
state_path(char *buf, size_t size, const char *name)
{
  snprintf(buf, size, "%s/%s", state_dir, name);
}

static void
sleep_ms(unsigned long ms)
{
  struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Write TEXT to the state file NAME atomically (temp file + rename). */
static void
write_state_file(const char *name, const char *text, size_t len)
{
  char path[2200], tmp[2300];
  state_path(path, sizeof path, name);
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (f == NULL)
    return;
  bool ok = fwrite(text, 1, len, f) == len;
  if (fclose(f) != 0 || !ok || rename(tmp, path) != 0)
    unlink(tmp);
}

/* Space-pad S into the fixed-size PKCS#11 field F. */
static void
pad_field(CK_UTF8CHAR *f, size_t size, const char *s)
{
  size_t n = strlen(s) < size ? strlen(s) : size;
  memset(f, ' ', size);
  memcpy(f, s, n);
}

/* --- Return codes by name: the fault file and the tries log --- */

/* clang-format off */
#define CKR(name) { #name, name }
static const struct
{
  const char *name;
  CK_RV rv;
} ckr_names[] = {
  CKR(CKR_CANCEL), CKR(CKR_HOST_MEMORY), CKR(CKR_SLOT_ID_INVALID), CKR(CKR_GENERAL_ERROR),
  CKR(CKR_FUNCTION_FAILED), CKR(CKR_ARGUMENTS_BAD), CKR(CKR_NO_EVENT), CKR(CKR_NEED_TO_CREATE_THREADS),
  CKR(CKR_CANT_LOCK), CKR(CKR_ATTRIBUTE_READ_ONLY), CKR(CKR_ATTRIBUTE_SENSITIVE),
  CKR(CKR_ATTRIBUTE_TYPE_INVALID), CKR(CKR_ATTRIBUTE_VALUE_INVALID), CKR(CKR_DATA_INVALID),
  CKR(CKR_DATA_LEN_RANGE), CKR(CKR_DEVICE_ERROR), CKR(CKR_DEVICE_MEMORY), CKR(CKR_DEVICE_REMOVED),
  CKR(CKR_ENCRYPTED_DATA_INVALID), CKR(CKR_ENCRYPTED_DATA_LEN_RANGE), CKR(CKR_FUNCTION_CANCELED),
  CKR(CKR_FUNCTION_NOT_PARALLEL), CKR(CKR_FUNCTION_NOT_SUPPORTED), CKR(CKR_KEY_HANDLE_INVALID),
  CKR(CKR_KEY_SIZE_RANGE), CKR(CKR_KEY_TYPE_INCONSISTENT), CKR(CKR_MECHANISM_INVALID),
  CKR(CKR_MECHANISM_PARAM_INVALID), CKR(CKR_OBJECT_HANDLE_INVALID), CKR(CKR_OPERATION_ACTIVE),
  CKR(CKR_OPERATION_NOT_INITIALIZED), CKR(CKR_PIN_INCORRECT), CKR(CKR_PIN_INVALID),
  CKR(CKR_PIN_LEN_RANGE), CKR(CKR_PIN_EXPIRED), CKR(CKR_PIN_LOCKED), CKR(CKR_SESSION_CLOSED),
  CKR(CKR_SESSION_COUNT), CKR(CKR_SESSION_HANDLE_INVALID), CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
  CKR(CKR_SESSION_READ_ONLY), CKR(CKR_SESSION_EXISTS), CKR(CKR_SESSION_READ_ONLY_EXISTS),
  CKR(CKR_SESSION_READ_WRITE_SO_EXISTS), CKR(CKR_SIGNATURE_INVALID), CKR(CKR_SIGNATURE_LEN_RANGE),
  CKR(CKR_TEMPLATE_INCOMPLETE), CKR(CKR_TEMPLATE_INCONSISTENT), CKR(CKR_TOKEN_NOT_PRESENT),
  CKR(CKR_TOKEN_NOT_RECOGNIZED), CKR(CKR_TOKEN_WRITE_PROTECTED), CKR(CKR_USER_ALREADY_LOGGED_IN),
  CKR(CKR_USER_NOT_LOGGED_IN), CKR(CKR_USER_PIN_NOT_INITIALIZED), CKR(CKR_USER_TYPE_INVALID),
  CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN), CKR(CKR_USER_TOO_MANY_TYPES), CKR(CKR_RANDOM_NO_RNG),
  CKR(CKR_DOMAIN_PARAMS_INVALID), CKR(CKR_BUFFER_TOO_SMALL), CKR(CKR_SAVED_STATE_INVALID),
  CKR(CKR_INFORMATION_SENSITIVE), CKR(CKR_STATE_UNSAVEABLE), CKR(CKR_CRYPTOKI_NOT_INITIALIZED),
  CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED), CKR(CKR_MUTEX_BAD), CKR(CKR_MUTEX_NOT_LOCKED),
};
/* clang-format on */

static bool
parse_ckr(const char *s, unsigned long *out)
{
  char *end;
  for (size_t i = 0; i < sizeof ckr_names / sizeof ckr_names[0]; i++)
    if (strcmp(s, ckr_names[i].name) == 0) {
      *out = ckr_names[i].rv;
      return true;
    }
  errno = 0;
  *out = strtoul(s, &end, 0);
  return errno == 0 && end != s && *end == '\0' && *out != CKR_OK;
}

/* RV's CKR_ name, or "0x%08lx" for a code the table does not know. */
static const char *
ckr_name(CK_RV rv, char buf[24])
{
  for (size_t i = 0; i < sizeof ckr_names / sizeof ckr_names[0]; i++)
    if (ckr_names[i].rv == rv)
      return ckr_names[i].name;
  snprintf(buf, 24, "0x%08lx", (unsigned long)rv);
  return buf;
}

/* --- PIN counters: file "pins", lines "SERIAL USER PUK [SO]" (tries left) --- */

struct counter
{
  char serial[17];
  int user; /* the user PIN */
  int puk;  /* the PUK: SoftHSM2's SO PIN in the default model */
  int so;   /* the card model's own SO PIN, which no test knows */
};
static struct counter counters[MAX_TOKENS];
static unsigned n_counters;

static int
puk_tries(void)
{
  return model == MODEL_CARD ? CARD_PUK_TRIES : SOFTHSM_PUK_TRIES;
}

static int
clamp(int v, int max)
{
  return v < 0 ? 0 : v > max ? max : v;
}

static void
counters_load(void)
{
  char path[2200], line[256];
  if (state_dir[0] == '\0')
    return; /* in memory only */
  n_counters = 0;
  state_path(path, sizeof path, "pins");
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return;
  while (fgets(line, sizeof line, f) != NULL && n_counters < MAX_TOKENS) {
    struct counter *c = &counters[n_counters];
    c->so = CARD_SO_TRIES; /* a 3-column line (as before the card model) */
    if (line[0] != '#'
        && sscanf(line, "%16s %d %d %d", c->serial, &c->user, &c->puk, &c->so) >= 3) {
      c->user = clamp(c->user, USER_TRIES);
      c->puk = clamp(c->puk, puk_tries());
      c->so = clamp(c->so, CARD_SO_TRIES);
      n_counters++;
    }
  }
  fclose(f);
}

static void
counters_save(void)
{
  char text[96 + MAX_TOKENS * 64];
  size_t len = 0;
  if (state_dir[0] == '\0')
    return;
  len += snprintf(text, sizeof text,
                  "# serial user-pin-tries-left puk-tries-left so-pin-tries-left\n");
  for (unsigned i = 0; i < n_counters; i++)
    len += snprintf(text + len, sizeof text - len, "%s %d %d %d\n", counters[i].serial,
                    counters[i].user, counters[i].puk, counters[i].so);
  write_state_file("pins", text, len);
}

/* The token's serial without its padding; false when it has none. */
static bool
info_serial(const CK_TOKEN_INFO *ti, char out[17])
{
  size_t n = sizeof ti->serialNumber;
  while (n > 0 && (ti->serialNumber[n - 1] == ' ' || ti->serialNumber[n - 1] == '\0'))
    n--;
  memcpy(out, ti->serialNumber, n);
  out[n] = '\0';
  return n > 0 && strchr(out, ' ') == NULL;
}

/* The counters of SERIAL (re-read from the state dir), NULL if the table is full. */
static struct counter *
counter_get(const char *serial)
{
  counters_load();
  for (unsigned i = 0; i < n_counters; i++)
    if (strcmp(counters[i].serial, serial) == 0) {
      counters[i].puk = clamp(counters[i].puk, puk_tries()); /* in memory, after a model change */
      return &counters[i];
    }
  if (n_counters == MAX_TOKENS)
    return NULL;
  struct counter *c = &counters[n_counters++];
  snprintf(c->serial, sizeof c->serial, "%s", serial);
  c->user = USER_TRIES;
  c->puk = puk_tries();
  c->so = CARD_SO_TRIES;
  return c;
}

/* The counters of the token in SLOT; its token info in *OUT_TI if not NULL. */
static struct counter *
counter_for_slot(CK_SLOT_ID slot, CK_TOKEN_INFO *out_ti)
{
  CK_TOKEN_INFO ti;
  char serial[17];
  if (T->C_GetTokenInfo(slot, &ti) != CKR_OK || !info_serial(&ti, serial))
    return NULL;
  if (out_ti != NULL)
    *out_ti = ti;
  return counter_get(serial);
}

static struct counter *
counter_for_session(CK_SESSION_HANDLE h, CK_STATE *out_state)
{
  CK_SESSION_INFO si;
  if (T->C_GetSessionInfo(h, &si) != CKR_OK)
    return NULL;
  if (out_state != NULL)
    *out_state = si.state;
  return counter_for_slot(si.slotID, NULL);
}

/* Account for the target's answer to a PIN check against *LEFT tries. */
static void
count_pin_result(int *left, int max, CK_RV rv)
{
  if (rv == CKR_PIN_INCORRECT && *left > 0)
    (*left)--;
  else if (rv == CKR_OK && *left != max)
    *left = max;
  else
    return;
  counters_save();
}

static CK_FLAGS
tries_flags(int left, int max, CK_FLAGS low, CK_FLAGS final, CK_FLAGS locked)
{
  if (left <= 0)
    return locked;
  return (left < max ? low : 0) | (left == 1 ? final : 0);
}

/* --- The tries log: file "tries", lines "SERIAL KIND RESULT FUNCTION" --- */

/* One line per PIN/PUK try: KIND "pin", "puk" or "so-pin"; RESULT "locked"
 * when the shim REFUSED it for want of tries (nothing sent), else "ok",
 * "wrong" (CKR_PIN_INCORRECT) or "error:CKR_NAME" after RV. Appended in one
 * write(2) under the lock; C (the counters) NULL: serial "-". */
static void
log_try(const struct counter *c, const char *kind, CK_RV rv, bool refused, const char *fn)
{
  char path[2200], line[160], result[48], buf[24];
  if (state_dir[0] == '\0')
    return;
  if (refused)
    snprintf(result, sizeof result, "locked");
  else if (rv == CKR_OK)
    snprintf(result, sizeof result, "ok");
  else if (rv == CKR_PIN_INCORRECT)
    snprintf(result, sizeof result, "wrong");
  else
    snprintf(result, sizeof result, "error:%s", ckr_name(rv, buf));
  int n
      = snprintf(line, sizeof line, "%s %s %s %s\n", c != NULL ? c->serial : "-", kind, result, fn);
  state_path(path, sizeof path, "tries");
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, line, (size_t)n) != n)
    fprintf(stderr, "signet-p11shim: %s: cannot append: %s\n", path, strerror(errno));
  if (fd >= 0)
    close(fd);
}

/* --- Faults: file "fault", lines "FUNCTION ACTION [ARG]" --- */

enum action
{
  ACT_DELAY,
  ACT_HOLD,
  ACT_REMOVE,
  ACT_ERROR,
  ACT_MODE /* extractable (C_GenerateKeyPair), sign-only (C_GetMechanismInfo) */
};
struct fault
{
  char fn[48];
  enum action action;
  unsigned long arg;
  size_t start, len; /* the line in fault_text, to consume it */
};
static struct fault faults[MAX_FAULTS];
static unsigned n_faults;
static char fault_text[MAX_FAULT_TEXT];
static struct stat fault_st; /* of the file last parsed */
static bool fault_cached;

static bool
parse_fault(const char *line, struct fault *f)
{
  char fn[48], act[16], arg[64] = "";
  char *end;
  int n = sscanf(line, "%47s %15s %63s", fn, act, arg);
  if (n < 2 || fn[0] == '#')
    return false;
  memcpy(f->fn, fn, sizeof fn);
  if (strcmp(act, "remove") == 0) {
    f->action = ACT_REMOVE;
    return true;
  }
  if (strcmp(act, "hold") == 0) {
    f->action = ACT_HOLD;
    return n == 2;
  }
  if (strcmp(act, "delay") == 0) {
    f->action = ACT_DELAY;
    f->arg = strtoul(arg, &end, 10);
    return n == 3 && *end == '\0';
  }
  if (strcmp(act, "extractable") == 0 || strcmp(act, "sign-only") == 0) {
    f->action = ACT_MODE;
    return n == 2 && strcmp(fn, act[0] == 'e' ? "C_GenerateKeyPair" : "C_GetMechanismInfo") == 0;
  }
  f->action = ACT_ERROR;
  return strcmp(act, "error") == 0 && n == 3 && parse_ckr(arg, &f->arg);
}

/* Re-read the fault file if it changed since last time. */
static void
faults_load(void)
{
  char path[2200];
  struct stat st;
  state_path(path, sizeof path, "fault");
  if (state_dir[0] == '\0' || stat(path, &st) != 0) {
    n_faults = 0;
    fault_cached = false;
    return;
  }
  if (fault_cached && st.st_ino == fault_st.st_ino && st.st_size == fault_st.st_size
      && st.st_mtim.tv_sec == fault_st.st_mtim.tv_sec
      && st.st_mtim.tv_nsec == fault_st.st_mtim.tv_nsec)
    return;
  fault_st = st;
  fault_cached = true;
  n_faults = 0;
  FILE *f = fopen(path, "r");
  size_t len = f != NULL ? fread(fault_text, 1, sizeof fault_text - 1, f) : 0;
  if (f != NULL)
    fclose(f);
  fault_text[len] = '\0';
  for (size_t start = 0, lineno = 1; start < len && n_faults < MAX_FAULTS; lineno++) {
    size_t end = start + strcspn(fault_text + start, "\n");
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(end - start), fault_text + start);
    struct fault *ft = &faults[n_faults];
    if (parse_fault(line, ft)) {
      ft->start = start;
      ft->len = end < len ? end - start + 1 : end - start;
      n_faults++;
    } else if (line[strspn(line, " \t")] != '\0' && line[0] != '#') {
      fprintf(stderr, "signet-p11shim: %s:%zu: ignored: %s\n", path, lineno, line);
    }
    start = end + 1;
  }
}

/* Drop a one-shot fault's line from the fault file. */
static void
fault_consume(const struct fault *f)
{
  char text[MAX_FAULT_TEXT];
  size_t len = strlen(fault_text);
  memcpy(text, fault_text, f->start);
  memcpy(text + f->start, fault_text + f->start + f->len, len - f->start - f->len);
  write_state_file("fault", text, len - f->len);
  fault_cached = false;
}

static bool
faults_have_remove(void)
{
  for (unsigned i = 0; i < n_faults; i++)
    if (faults[i].action == ACT_REMOVE)
      return true;
  return false;
}

static void
close_all_sessions(void)
{
  CK_SLOT_ID slots[64];
  CK_ULONG n = 64;
  if (T->C_GetSlotList(CK_FALSE, slots, &n) == CKR_OK)
    for (CK_ULONG i = 0; i < n; i++)
      T->C_CloseAllSessions(slots[i]);
}

/* True while the token counts as pulled: the state file "removed" exists
 * and the fault file still has a remove line. The first time a process sees
 * it, the target's sessions are closed, as a real card's are. */
static bool
token_removed(void)
{
  char path[2200];
  state_path(path, sizeof path, "removed");
  bool removed = state_dir[0] != '\0' && access(path, F_OK) == 0;
  if (removed && !faults_have_remove()) {
    unlink(path); /* reinserted */
    removed = false;
  }
  if (removed && !removed_seen && refs > 0)
    close_all_sessions();
  removed_seen = removed;
  return removed;
}

/* Apply the faults for FN (under lock): returns an injected error or CKR_OK.
 * *OUT_MODE (if not NULL): a mode line for FN is in force ("extractable",
 * "sign-only": each is valid for one function only). */
static CK_RV
faults_apply(const char *fn, unsigned long *out_delay_ms, bool *out_mode, bool *out_hold)
{
  CK_RV rv = CKR_OK;
  faults_load();
  for (unsigned i = 0; i < n_faults; i++) {
    struct fault *f = &faults[i];
    if (strcmp(f->fn, "*") != 0 && strcmp(f->fn, fn) != 0)
      continue;
    if (f->action == ACT_HOLD) {
      if (out_hold != NULL)
        *out_hold = true;
    } else if (f->action == ACT_DELAY) {
      *out_delay_ms += f->arg;
    } else if (f->action == ACT_MODE) {
      if (out_mode != NULL)
        *out_mode = true;
    } else if (f->action == ACT_REMOVE) {
      char path[2200];
      state_path(path, sizeof path, "removed");
      if (access(path, F_OK) != 0)
        write_state_file("removed", "", 0); /* pulled */
    } else if (rv == CKR_OK) {
      rv = f->arg;
      fault_consume(f);
    }
  }
  if (rv != CKR_OK)
    faults_load();
  return rv;
}

/* A "hold" line for FN is in the fault file (under lock). */
static bool
hold_in_force(const char *fn)
{
  bool hold = false;
  faults_load();
  for (unsigned i = 0; i < n_faults; i++)
    if (faults[i].action == ACT_HOLD
        && (strcmp(faults[i].fn, "*") == 0 || strcmp(faults[i].fn, fn) == 0))
      hold = true;
  return hold;
}

/* Run before every forwarded call: faults, then the removal state. A held
 * call says so in the state file "held" (its function's name) and waits
 * until no hold line for it is left in the fault file. */
static CK_RV
pre_ex(const char *fn, bool *out_removed, bool *out_mode)
{
  unsigned long delay_ms = 0;
  bool hold = false;
  pthread_mutex_lock(&lock);
  CK_RV rv = refs > 0 ? faults_apply(fn, &delay_ms, out_mode, &hold) : CKR_CRYPTOKI_NOT_INITIALIZED;
  *out_removed = rv == CKR_OK && token_removed();
  if (hold)
    write_state_file("held", fn, strlen(fn));
  pthread_mutex_unlock(&lock);
  while (hold) {
    sleep_ms(10);
    pthread_mutex_lock(&lock);
    hold = hold_in_force(fn);
    if (!hold) {
      char path[2200];
      state_path(path, sizeof path, "held");
      unlink(path);
    }
    pthread_mutex_unlock(&lock);
  }
  if (delay_ms > 0)
    sleep_ms(delay_ms);
  return rv;
}

static CK_RV
pre(const char *fn, bool *out_removed)
{
  return pre_ex(fn, out_removed, NULL);
}

/* --- Companion public keys (card model): file "companions" --- */

/* The public key of a certificate, as attribute values for C_CreateObject. */
struct pubkey
{
  CK_KEY_TYPE type;
  unsigned char *a, *b; /* RSA: modulus, exponent; EC: params (DER), point (DER OCTET STRING) */
  size_t a_len, b_len;
};

static void
pubkey_clear(struct pubkey *k)
{
  OPENSSL_free(k->a);
  OPENSSL_free(k->b);
  memset(k, 0, sizeof *k);
}

static unsigned char *
bn_bytes(const EVP_PKEY *pkey, const char *param, size_t *out_len)
{
  BIGNUM *bn = NULL;
  unsigned char *buf = NULL;
  if (EVP_PKEY_get_bn_param(pkey, param, &bn) == 1
      && (buf = OPENSSL_malloc((size_t)BN_num_bytes(bn) + 1)) != NULL)
    *out_len = (size_t)BN_bn2bin(bn, buf);
  BN_free(bn);
  return buf;
}

/* The public key in the X.509 certificate DER (RSA or EC); false for others. */
static bool
pubkey_from_cert(const unsigned char *der, size_t len, struct pubkey *out)
{
  const unsigned char *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)len);
  X509_PUBKEY *xpk = x != NULL ? X509_get_X509_PUBKEY(x) : NULL;
  ASN1_OBJECT *alg = NULL;
  const unsigned char *pk = NULL;
  int pk_len = 0;
  X509_ALGOR *algor = NULL;
  bool ok = false;
  memset(out, 0, sizeof *out);
  if (xpk == NULL || X509_PUBKEY_get0_param(&alg, &pk, &pk_len, &algor, xpk) != 1)
    goto done;
  if (OBJ_obj2nid(alg) == NID_rsaEncryption) {
    EVP_PKEY *pkey = X509_get0_pubkey(x);
    out->type = CKK_RSA;
    out->a = pkey != NULL ? bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_N, &out->a_len) : NULL;
    out->b = pkey != NULL ? bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_E, &out->b_len) : NULL;
    ok = out->a != NULL && out->b != NULL;
  } else if (OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && pk_len > 0 && pk_len < 0x10000) {
    int ptype;
    const void *pval;
    X509_ALGOR_get0(NULL, &ptype, &pval, algor);
    out->type = CKK_EC;
    if (ptype == V_ASN1_OBJECT) { /* namedCurve: the OID's DER */
      unsigned char *d = NULL;
      int n = i2d_ASN1_OBJECT(pval, &d);
      out->a = n > 0 ? d : NULL;
      out->a_len = n > 0 ? (size_t)n : 0;
    } else if (ptype == V_ASN1_SEQUENCE) { /* explicit parameters, already DER */
      const ASN1_STRING *s = pval;
      out->a_len = (size_t)ASN1_STRING_length(s);
      out->a = OPENSSL_memdup(ASN1_STRING_get0_data(s), out->a_len);
    }
    /* CKA_EC_POINT: the point as a DER OCTET STRING */
    size_t hdr = pk_len < 0x80 ? 2 : pk_len < 0x100 ? 3 : 4;
    out->b = OPENSSL_malloc(hdr + (size_t)pk_len);
    if (out->b != NULL) {
      out->b[0] = 0x04;
      if (hdr == 2) {
        out->b[1] = (unsigned char)pk_len;
      } else if (hdr == 3) {
        out->b[1] = 0x81;
        out->b[2] = (unsigned char)pk_len;
      } else {
        out->b[1] = 0x82;
        out->b[2] = (unsigned char)(pk_len >> 8);
        out->b[3] = (unsigned char)pk_len;
      }
      memcpy(out->b + hdr, pk, (size_t)pk_len);
      out->b_len = hdr + (size_t)pk_len;
    }
    ok = out->a != NULL && out->b != NULL;
  }
done:
  if (!ok)
    pubkey_clear(out);
  X509_free(x);
  return ok;
}

/* A certificate the shim made a companion for: token SERIAL, the
 * certificate's CKA_ID and the SHA-256 of its value, all in hex. */
struct companion
{
  char serial[17];
  char id[2 * MAX_ID + 1]; /* "-" for an empty CKA_ID */
  char cert[65];
};
static struct companion companions[MAX_COMPANIONS];
static unsigned n_companions;

static void
companions_load(void)
{
  char path[2200], line[512];
  if (state_dir[0] == '\0')
    return; /* in memory only */
  n_companions = 0;
  state_path(path, sizeof path, "companions");
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return;
  while (fgets(line, sizeof line, f) != NULL && n_companions < MAX_COMPANIONS) {
    struct companion *c = &companions[n_companions];
    if (line[0] != '#' && sscanf(line, "%16s %256s %64s", c->serial, c->id, c->cert) == 3)
      n_companions++;
  }
  fclose(f);
}

static void
companions_save(void)
{
  static char text[64 + MAX_COMPANIONS * (17 + 2 * MAX_ID + 1 + 65 + 3)];
  size_t len = 0;
  if (state_dir[0] == '\0')
    return;
  len += snprintf(text, sizeof text, "# serial certificate-id certificate-sha256\n");
  for (unsigned i = 0; i < n_companions; i++)
    len += snprintf(text + len, sizeof text - len, "%s %s %s\n", companions[i].serial,
                    companions[i].id, companions[i].cert);
  write_state_file("companions", text, len);
}

static void
hex(const unsigned char *data, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  out[2 * len] = '\0';
  if (len == 0)
    strcpy(out, "-");
}

/* One attribute of object O, allocated (free() it); NULL if unreadable. */
static unsigned char *
get_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG *out_len)
{
  CK_ATTRIBUTE a = { type, NULL, 0 };
  if (T->C_GetAttributeValue(h, o, &a, 1) != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
    return NULL;
  a.pValue = malloc(a.ulValueLen + 1); /* +1: never malloc(0) */
  if (a.pValue != NULL && T->C_GetAttributeValue(h, o, &a, 1) != CKR_OK) {
    free(a.pValue);
    return NULL;
  }
  *out_len = a.ulValueLen;
  return a.pValue;
}

/* What the shim needs to know of a certificate object to pair it with a
 * companion: its slot, token, CKA_ID, label, privacy and public key. */
struct cert_info
{
  CK_SLOT_ID slot;
  char serial[17];
  unsigned char *id, *label;
  CK_ULONG id_len, label_len;
  CK_BBOOL private_;
  struct pubkey key;
  struct companion entry;
};

static void
cert_info_clear(struct cert_info *ci)
{
  free(ci->id);
  free(ci->label);
  pubkey_clear(&ci->key);
  memset(ci, 0, sizeof *ci);
}

/* Fill CI for object O if it is an X.509 certificate on a token (under lock). */
static bool
cert_info_get(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, struct cert_info *ci)
{
  CK_OBJECT_CLASS cls = 0;
  CK_CERTIFICATE_TYPE ctype = 0;
  CK_BBOOL token = CK_FALSE;
  CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof cls },
                       { CKA_CERTIFICATE_TYPE, &ctype, sizeof ctype },
                       { CKA_TOKEN, &token, sizeof token },
                       { CKA_PRIVATE, &ci->private_, sizeof ci->private_ } };
  CK_SESSION_INFO si;
  CK_TOKEN_INFO ti;
  CK_ULONG value_len = 0;
  unsigned char md[32];
  unsigned int md_len = 0;
  memset(ci, 0, sizeof *ci);
  if (T->C_GetAttributeValue(h, o, a, 4) != CKR_OK || cls != CKO_CERTIFICATE || ctype != CKC_X_509
      || token != CK_TRUE || T->C_GetSessionInfo(h, &si) != CKR_OK
      || T->C_GetTokenInfo(si.slotID, &ti) != CKR_OK || !info_serial(&ti, ci->serial))
    return false;
  ci->slot = si.slotID;
  unsigned char *value = get_attr(h, o, CKA_VALUE, &value_len);
  ci->id = get_attr(h, o, CKA_ID, &ci->id_len);
  ci->label = get_attr(h, o, CKA_LABEL, &ci->label_len);
  bool ok = value != NULL && ci->id != NULL && ci->id_len <= MAX_ID
            && pubkey_from_cert(value, value_len, &ci->key)
            && EVP_Digest(value, value_len, md, &md_len, EVP_sha256(), NULL) == 1;
  if (ok) {
    snprintf(ci->entry.serial, sizeof ci->entry.serial, "%s", ci->serial);
    hex(ci->id, ci->id_len, ci->entry.id);
    hex(md, md_len, ci->entry.cert);
  } else {
    cert_info_clear(ci);
  }
  free(value);
  return ok;
}

/* The first object of TEMPLATE in session S, or CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE
find_one(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
  CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
  CK_ULONG found = 0;
  if (T->C_FindObjectsInit(s, tmpl, n) != CKR_OK)
    return CK_INVALID_HANDLE;
  if (T->C_FindObjects(s, &o, 1, &found) != CKR_OK || found == 0)
    o = CK_INVALID_HANDLE;
  T->C_FindObjectsFinal(s);
  return o;
}

/* The companion's attributes into TMPL (at least 10); returns how many. */
static CK_ULONG
companion_template(struct cert_info *ci, CK_ATTRIBUTE *tmpl, bool for_search)
{
  static CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
  static CK_BBOOL yes = CK_TRUE;
  static unsigned char empty;
  CK_ULONG n = 0;
  bool rsa = ci->key.type == CKK_RSA;
  tmpl[n++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof cls };
  tmpl[n++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof yes };
  tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, ci->id_len > 0 ? ci->id : &empty, ci->id_len };
  tmpl[n++] = (CK_ATTRIBUTE){ rsa ? CKA_MODULUS : CKA_EC_POINT, rsa ? ci->key.a : ci->key.b,
                              rsa ? ci->key.a_len : ci->key.b_len };
  if (for_search)
    return n;
  tmpl[n++] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &ci->key.type, sizeof ci->key.type };
  tmpl[n++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &ci->private_, sizeof ci->private_ };
  tmpl[n++] = (CK_ATTRIBUTE){ CKA_VERIFY, &yes, sizeof yes };
  tmpl[n++] = (CK_ATTRIBUTE){ rsa ? CKA_PUBLIC_EXPONENT : CKA_EC_PARAMS,
                              rsa ? ci->key.b : ci->key.a, rsa ? ci->key.b_len : ci->key.a_len };
  if (ci->label_len > 0)
    tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, ci->label, ci->label_len };
  return n;
}

/* After C_CreateObject made certificate O: a public key beside it, unless one
 * with its CKA_ID is there already; remembered in "companions" (under lock). */
static void
companion_create(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
  struct cert_info ci;
  CK_SESSION_HANDLE s;
  CK_ATTRIBUTE tmpl[10];
  CK_OBJECT_HANDLE key;
  if (!cert_info_get(h, o, &ci))
    return;
  if (T->C_OpenSession(ci.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) == CKR_OK) {
    CK_ULONG n = companion_template(&ci, tmpl, false);
    CK_RV rv = CKR_OK;
    if (find_one(s, tmpl, 3) == CK_INVALID_HANDLE) { /* class, token, CKA_ID */
      rv = T->C_CreateObject(s, tmpl, n, &key);
      companions_load();
      if (rv == CKR_OK && n_companions < MAX_COMPANIONS) {
        companions[n_companions++] = ci.entry;
        companions_save();
      }
    }
    if (rv != CKR_OK)
      fprintf(stderr, "signet-p11shim: no public key beside certificate %s: 0x%lx\n", ci.entry.id,
              (unsigned long)rv);
    T->C_CloseSession(s);
  }
  cert_info_clear(&ci);
}

/* After certificate CI was destroyed: destroy its companion, if the shim made one. */
static void
companion_destroy(struct cert_info *ci)
{
  CK_SESSION_HANDLE s;
  CK_ATTRIBUTE tmpl[10];
  unsigned i;
  companions_load();
  for (i = 0; i < n_companions; i++)
    if (strcmp(companions[i].serial, ci->entry.serial) == 0
        && strcmp(companions[i].id, ci->entry.id) == 0
        && strcmp(companions[i].cert, ci->entry.cert) == 0)
      break;
  if (i == n_companions)
    return;
  companions[i] = companions[--n_companions];
  companions_save();
  if (T->C_OpenSession(ci->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK)
    return;
  CK_OBJECT_HANDLE key = find_one(s, tmpl, companion_template(ci, tmpl, true));
  if (key != CK_INVALID_HANDLE)
    T->C_DestroyObject(s, key);
  T->C_CloseSession(s);
}

/* C_InitToken wiped the token: forget its companions. */
static void
companions_forget(const char *serial)
{
  unsigned kept = 0;
  companions_load();
  for (unsigned i = 0; i < n_companions; i++)
    if (strcmp(companions[i].serial, serial) != 0)
      companions[kept++] = companions[i];
  if (kept != n_companions) {
    n_companions = kept;
    companions_save();
  }
}

/* --- Calls with card behaviour --- */

static CK_RV
shim_C_Initialize(CK_VOID_PTR args)
{
  CK_RV rv = CKR_OK;
  unsigned long delay_ms = 0;
  pthread_mutex_lock(&lock);
  if (refs > 0) {
    /* As SoftHSM2 and OpenSC answer a second C_Initialize (another library
     * loading the module p11-kit initialized): nothing changes, and the one
     * C_Finalize ends it for both. */
    pthread_mutex_unlock(&lock);
    return CKR_CRYPTOKI_ALREADY_INITIALIZED;
  }
  {
    const char *dir = getenv("SIGNET_SHIM_STATE");
    const char *m = getenv("SIGNET_SHIM_MODEL");
    snprintf(state_dir, sizeof state_dir, "%s", dir != NULL ? dir : "");
    removed_seen = false;
    if (m == NULL || *m == '\0' || strcmp(m, "softhsm") == 0) {
      model = MODEL_SOFTHSM;
    } else if (strcmp(m, "opensc-card") == 0) {
      model = MODEL_CARD;
    } else {
      fprintf(stderr, "signet-p11shim: unknown SIGNET_SHIM_MODEL '%s' (softhsm, opensc-card)\n", m);
      rv = CKR_GENERAL_ERROR;
    }
  }
  if (rv == CKR_OK && T == NULL) {
    const char *target = getenv("SIGNET_SHIM_TARGET");
    void *dl = dlopen(target != NULL && *target ? target : DEFAULT_TARGET, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get
        = dl != NULL ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    if (get == NULL || get(&T) != CKR_OK || T == &shim_list) {
      fprintf(stderr, "signet-p11shim: cannot load target: %s\n",
              dl ? "no function list" : dlerror());
      T = NULL;
      rv = CKR_GENERAL_ERROR;
    }
  }
  if (rv == CKR_OK)
    rv = faults_apply("C_Initialize", &delay_ms, NULL, NULL);
  if (rv == CKR_OK && refs == 0) {
    rv = T->C_Initialize(args);
    own_target = rv == CKR_OK;
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
      rv = CKR_OK; /* someone else in this process initialized it */
  }
  if (rv == CKR_OK)
    refs = 1;
  pthread_mutex_unlock(&lock);
  if (delay_ms > 0)
    sleep_ms(delay_ms);
  return rv;
}

static CK_RV
shim_C_Finalize(CK_VOID_PTR reserved)
{
  CK_RV rv = CKR_OK;
  pthread_mutex_lock(&lock);
  if (refs == 0)
    rv = CKR_CRYPTOKI_NOT_INITIALIZED;
  else if (--refs == 0 && own_target)
    rv = T->C_Finalize(reserved);
  pthread_mutex_unlock(&lock);
  return rv;
}

/* The card model says OpenSC 0.23. */
static CK_RV
shim_C_GetInfo(CK_INFO_PTR info)
{
  bool removed;
  CK_RV rv = pre("C_GetInfo", &removed);
  if (rv == CKR_OK)
    rv = T->C_GetInfo(info);
  if (rv == CKR_OK && model == MODEL_CARD) {
    info->cryptokiVersion = (CK_VERSION){ 2, 20 };
    pad_field(info->manufacturerID, sizeof info->manufacturerID, CARD_MANUFACTURER);
    info->flags = 0;
    pad_field(info->libraryDescription, sizeof info->libraryDescription, CARD_LIBRARY);
    info->libraryVersion = (CK_VERSION){ 0, 23 };
  }
  return rv;
}

static CK_RV
shim_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
  bool removed;
  CK_RV rv = pre("C_GetSlotList", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed && present) {
    if (count == NULL)
      return CKR_ARGUMENTS_BAD;
    *count = 0; /* the only token behind the shim is out */
    return CKR_OK;
  }
  return T->C_GetSlotList(present, list, count);
}

/* The card model names each slot after a reader: "Signet Test Reader 00 NN",
 * NN the slot's place in the target's list. */
static CK_RV
shim_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
  bool removed;
  CK_RV rv = pre("C_GetSlotInfo", &removed);
  if (rv == CKR_OK)
    rv = T->C_GetSlotInfo(slot, info);
  if (rv == CKR_OK && removed)
    info->flags &= ~CKF_TOKEN_PRESENT;
  if (rv == CKR_OK && model == MODEL_CARD) {
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64, i = 0;
    char name[64];
    if (T->C_GetSlotList(CK_FALSE, slots, &n) == CKR_OK)
      while (i < n && slots[i] != slot)
        i++;
    snprintf(name, sizeof name, "%s %02lu", CARD_READER, (unsigned long)i);
    pad_field(info->slotDescription, sizeof info->slotDescription, name);
  }
  return rv;
}

static CK_RV
shim_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
  bool removed;
  char serial[17];
  CK_RV rv = pre("C_GetTokenInfo", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_TOKEN_NOT_PRESENT;
  rv = T->C_GetTokenInfo(slot, info);
  if (rv != CKR_OK || !info_serial(info, serial))
    return rv;
  pthread_mutex_lock(&lock);
  struct counter *c = counter_get(serial);
  if (c != NULL) {
    info->flags &= ~(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED
                     | CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED);
    if (model == MODEL_CARD) {
      /* OpenSC: FINAL_TRY at one try left, LOCKED at none, nothing else
       * (it does not know the card's maximum); never a SO/PUK flag. */
      info->flags |= c->user == 0 ? CKF_USER_PIN_LOCKED : c->user == 1 ? CKF_USER_PIN_FINAL_TRY : 0;
    } else {
      info->flags |= tries_flags(c->user, USER_TRIES, CKF_USER_PIN_COUNT_LOW,
                                 CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
      info->flags |= tries_flags(c->puk, SOFTHSM_PUK_TRIES, CKF_SO_PIN_COUNT_LOW,
                                 CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
    }
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

/* The card model's C_Login(CKU_SO): the card's own SO PIN, which no test
 * knows. Never forwarded: every try is wrong and spends one (under lock). */
static CK_RV
card_so_login(CK_SESSION_HANDLE h)
{
  CK_SESSION_INFO si;
  CK_RV rv = T->C_GetSessionInfo(h, &si);
  if (rv != CKR_OK)
    return rv;
  if (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS)
    return CKR_USER_ANOTHER_ALREADY_LOGGED_IN; /* OpenSC answers without the card */
  struct counter *c = counter_for_slot(si.slotID, NULL);
  if (c != NULL && c->so == 0) {
    log_try(c, "so-pin", CKR_PIN_LOCKED, true, "C_Login");
    return CKR_PIN_LOCKED;
  }
  if (c != NULL) {
    c->so--;
    counters_save();
  }
  log_try(c, "so-pin", CKR_PIN_INCORRECT, false, "C_Login");
  return CKR_PIN_INCORRECT;
}

static CK_RV
shim_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
  bool removed;
  CK_RV rv = pre("C_Login", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  pthread_mutex_lock(&lock); /* held across the check, so that tries are counted exactly */
  if (model == MODEL_CARD && user == CKU_SO) {
    rv = card_so_login(h);
  } else {
    struct counter *c = counter_for_session(h, NULL);
    bool so = user == CKU_SO;
    int *left = c == NULL ? NULL : so ? &c->puk : &c->user;
    if (left != NULL && *left == 0) {
      rv = CKR_PIN_LOCKED;
      log_try(c, so ? "puk" : "pin", rv, true, "C_Login");
    } else {
      rv = T->C_Login(h, user, pin, pin_len);
      if (left != NULL)
        count_pin_result(left, so ? puk_tries() : USER_TRIES, rv);
      log_try(c, so ? "puk" : "pin", rv, false, "C_Login");
      /* The card answers the wrong PIN that used up the last try with
       * 63C0, which OpenSC reports as CKR_PIN_LOCKED for this card
       * (TOKENS.md): the try is spent, the answer says locked. */
      if (model == MODEL_CARD && !so && rv == CKR_PIN_INCORRECT && left != NULL && *left == 0)
        rv = CKR_PIN_LOCKED;
    }
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

/* The card model's C_SetPIN in a logged-out session: OpenSC with
 * user_pin_unblock_style = set_pin_in_unlogged_session sends RESET RETRY
 * COUNTER: OLD is the PUK, NEW the user PIN's new value. The PUK is checked
 * as the target's SO PIN in a session of our own (under lock). */
static CK_RV
card_unblock(CK_SLOT_ID slot, struct counter *c, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
             CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
  CK_SESSION_HANDLE s;
  if (c != NULL && c->puk == 0) {
    log_try(c, "puk", CKR_PIN_LOCKED, true, "C_SetPIN");
    return CKR_PIN_LOCKED;
  }
  CK_RV rv = T->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
  if (rv == CKR_OK) {
    rv = T->C_Login(s, CKU_SO, old_pin, old_len);
    if (rv == CKR_OK) {
      /* Refused (e.g. CKR_PIN_LEN_RANGE): the counters stay as they were. */
      rv = T->C_InitPIN(s, new_pin, new_len);
      T->C_Logout(s);
      if (rv == CKR_OK && c != NULL) {
        c->user = USER_TRIES;
        c->puk = CARD_PUK_TRIES;
        counters_save();
      }
    } else if (c != NULL) {
      count_pin_result(&c->puk, CARD_PUK_TRIES, rv); /* a wrong PUK spends a try */
    }
    T->C_CloseSession(s);
  }
  log_try(c, "puk", rv, false, "C_SetPIN");
  return rv;
}

/* The card model's C_SetPIN: what OpenSC checks before the card (RW session,
 * the new PIN's length: no try, no log line), then an unblock when logged
 * out or a PIN change when logged in (under lock). */
static CK_RV
card_set_pin(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
             CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
  CK_SESSION_INFO si;
  CK_TOKEN_INFO ti;
  CK_RV rv = T->C_GetSessionInfo(h, &si);
  if (rv != CKR_OK)
    return rv;
  if (!(si.flags & CKF_RW_SESSION))
    return CKR_SESSION_READ_ONLY;
  struct counter *c = counter_for_slot(si.slotID, &ti);
  if (c != NULL && (new_len < ti.ulMinPinLen || new_len > ti.ulMaxPinLen))
    return CKR_PIN_LEN_RANGE;
  if (si.state == CKS_RO_PUBLIC_SESSION || si.state == CKS_RW_PUBLIC_SESSION)
    return card_unblock(si.slotID, c, old_pin, old_len, new_pin, new_len);
  bool so = si.state == CKS_RW_SO_FUNCTIONS; /* not reachable through the shim */
  int *left = c == NULL ? NULL : so ? &c->puk : &c->user;
  if (left != NULL && *left == 0) {
    log_try(c, so ? "puk" : "pin", CKR_PIN_LOCKED, true, "C_SetPIN");
    return CKR_PIN_LOCKED;
  }
  rv = T->C_SetPIN(h, old_pin, old_len, new_pin, new_len);
  if (left != NULL)
    count_pin_result(left, so ? CARD_PUK_TRIES : USER_TRIES, rv);
  log_try(c, so ? "puk" : "pin", rv, false, "C_SetPIN");
  return rv;
}

/* A PIN change: counts against the SO PIN in an SO session, else the user PIN. */
static CK_RV
shim_C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
              CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
  bool removed;
  CK_STATE state = 0;
  CK_RV rv = pre("C_SetPIN", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  pthread_mutex_lock(&lock);
  if (model == MODEL_CARD) {
    rv = card_set_pin(h, old_pin, old_len, new_pin, new_len);
    pthread_mutex_unlock(&lock);
    return rv;
  }
  struct counter *c = counter_for_session(h, &state);
  bool so = state == CKS_RW_SO_FUNCTIONS;
  int *left = c == NULL ? NULL : so ? &c->puk : &c->user;
  if (left != NULL && *left == 0) {
    rv = CKR_PIN_LOCKED;
    log_try(c, so ? "puk" : "pin", rv, true, "C_SetPIN");
  } else {
    rv = T->C_SetPIN(h, old_pin, old_len, new_pin, new_len);
    if (left != NULL)
      count_pin_result(left, so ? SOFTHSM_PUK_TRIES : USER_TRIES, rv);
    log_try(c, so ? "puk" : "pin", rv, false, "C_SetPIN");
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

/* C_InitPIN in an SO session: the unblock; the user PIN gets all its tries
 * back. The card model has no SO session, so OpenSC refuses it. */
static CK_RV
shim_C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
  bool removed;
  CK_SESSION_INFO si;
  CK_RV rv = pre("C_InitPIN", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  if (model == MODEL_CARD) {
    rv = T->C_GetSessionInfo(h, &si);
    if (rv == CKR_OK)
      rv = si.flags & CKF_RW_SESSION ? CKR_USER_NOT_LOGGED_IN : CKR_SESSION_READ_ONLY;
    return rv;
  }
  rv = T->C_InitPIN(h, pin, pin_len);
  if (rv == CKR_OK) {
    pthread_mutex_lock(&lock);
    struct counter *c = counter_for_session(h, NULL);
    if (c != NULL && c->user != USER_TRIES) {
      c->user = USER_TRIES;
      counters_save();
    }
    pthread_mutex_unlock(&lock);
  }
  return rv;
}

/* C_InitToken checks the SO PIN (the PUK column); success starts the token afresh. */
static CK_RV
shim_C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
  bool removed;
  CK_RV rv = pre("C_InitToken", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  pthread_mutex_lock(&lock);
  struct counter *c = counter_for_slot(slot, NULL);
  if (c != NULL && c->puk == 0) {
    rv = CKR_PIN_LOCKED;
    log_try(c, "puk", rv, true, "C_InitToken");
  } else {
    rv = T->C_InitToken(slot, pin, pin_len, label);
    if (c != NULL)
      count_pin_result(&c->puk, puk_tries(), rv);
    log_try(c, "puk", rv, false, "C_InitToken");
    if (rv == CKR_OK && (c = counter_for_slot(slot, NULL)) != NULL) {
      c->user = USER_TRIES;
      c->so = CARD_SO_TRIES;
      counters_save();
      companions_forget(c->serial);
    }
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

/* The card model reads private keys back as OpenSC 0.23 shows a PKCS#15 key
 * generated on the card ("Access: none"). */
static bool
card_forced(CK_ATTRIBUTE_TYPE type)
{
  return type == CKA_SENSITIVE || type == CKA_ALWAYS_SENSITIVE || type == CKA_NEVER_EXTRACTABLE
         || type == CKA_LOCAL || type == CKA_PRIVATE;
}

/* What the card model answers for @type (card_forced): the four access
 * flags false, CKA_PRIVATE true (the target holds the key not private, so
 * that it lists without a login, as OpenSC lists a card's keys). */
static CK_BBOOL
card_forced_value(CK_ATTRIBUTE_TYPE type)
{
  return type == CKA_PRIVATE ? CK_TRUE : CK_FALSE;
}

static CK_RV
shim_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
  bool removed, any = false;
  CK_OBJECT_CLASS cls;
  CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof cls };
  CK_RV rv = pre("C_GetAttributeValue", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  for (CK_ULONG i = 0; model == MODEL_CARD && tmpl != NULL && i < n; i++)
    any = any || card_forced(tmpl[i].type);
  if (!any)
    return T->C_GetAttributeValue(h, o, tmpl, n);
  rv = T->C_GetAttributeValue(h, o, &a, 1);
  if (rv != CKR_OK || cls != CKO_PRIVATE_KEY)
    return rv != CKR_OK ? rv : T->C_GetAttributeValue(h, o, tmpl, n);

  /* The four from the shim, the others from the target in one call, so that
   * its answer speaks of them only. */
  CK_ATTRIBUTE *rest = malloc(n * sizeof *rest);
  CK_ULONG *where = malloc(n * sizeof *where), m = 0;
  bool too_small = false;
  if (rest == NULL || where == NULL) {
    free(rest);
    free(where);
    return CKR_HOST_MEMORY;
  }
  for (CK_ULONG i = 0; i < n; i++) {
    if (!card_forced(tmpl[i].type)) {
      rest[m] = tmpl[i];
      where[m++] = i;
    } else if (tmpl[i].pValue == NULL) {
      tmpl[i].ulValueLen = sizeof(CK_BBOOL);
    } else if (tmpl[i].ulValueLen < sizeof(CK_BBOOL)) {
      tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      too_small = true;
    } else {
      *(CK_BBOOL *)tmpl[i].pValue = card_forced_value(tmpl[i].type);
      tmpl[i].ulValueLen = sizeof(CK_BBOOL);
    }
  }
  rv = m > 0 ? T->C_GetAttributeValue(h, o, rest, m) : CKR_OK;
  if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID
      || rv == CKR_BUFFER_TOO_SMALL)
    for (CK_ULONG j = 0; j < m; j++)
      tmpl[where[j]].ulValueLen = rest[j].ulValueLen;
  if (rv == CKR_OK && too_small)
    rv = CKR_BUFFER_TOO_SMALL;
  free(rest);
  free(where);
  return rv;
}

/* "C_GetMechanismInfo sign-only": a card whose keys only sign (as many
 * qualified-signature cards): no mechanism says it decrypts, encrypts,
 * wraps or unwraps. */
static CK_RV
shim_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
  bool removed, sign_only = false;
  CK_RV rv = pre_ex("C_GetMechanismInfo", &removed, &sign_only);

  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  rv = T->C_GetMechanismInfo(slot, type, info);
  if (rv == CKR_OK && sign_only && info != NULL)
    info->flags &= ~(CK_FLAGS)(CKF_DECRYPT | CKF_ENCRYPT | CKF_WRAP | CKF_UNWRAP);
  return rv;
}

/* "C_GenerateKeyPair extractable": the private key is made CKA_SENSITIVE
 * false and CKA_EXTRACTABLE true, whatever the caller asked. */
static CK_RV
shim_C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub,
                       CK_ULONG pub_n, CK_ATTRIBUTE_PTR priv, CK_ULONG priv_n,
                       CK_OBJECT_HANDLE_PTR pub_key, CK_OBJECT_HANDLE_PTR priv_key)
{
  static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  bool removed, extractable = false;
  CK_RV rv = pre_ex("C_GenerateKeyPair", &removed, &extractable);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  bool card = model == MODEL_CARD;
  if ((!extractable && !card) || (priv == NULL && priv_n > 0))
    return T->C_GenerateKeyPair(h, mech, pub, pub_n, priv, priv_n, pub_key, priv_key);
  CK_ATTRIBUTE *t = malloc((priv_n + 3) * sizeof *t);
  CK_ULONG m = 0;
  if (t == NULL)
    return CKR_HOST_MEMORY;
  for (CK_ULONG i = 0; i < priv_n; i++)
    if (!(extractable && (priv[i].type == CKA_SENSITIVE || priv[i].type == CKA_EXTRACTABLE))
        && !(card && priv[i].type == CKA_PRIVATE))
      t[m++] = priv[i];
  if (extractable) {
    t[m++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &no, sizeof no };
    t[m++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &yes, sizeof yes };
  }
  /* The card model: the target keeps the key not private, so that it lists
   * without a login as OpenSC lists a card's private keys; it reads back
   * CKA_PRIVATE true (shim_C_GetAttributeValue). */
  if (card)
    t[m++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &no, sizeof no };
  rv = T->C_GenerateKeyPair(h, mech, pub, pub_n, t, m, pub_key, priv_key);
  free(t);
  return rv;
}

/* The card model shows a public key beside every X.509 certificate. */
static CK_RV
shim_C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR o)
{
  bool removed;
  CK_RV rv = pre("C_CreateObject", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  rv = T->C_CreateObject(h, tmpl, n, o);
  if (rv == CKR_OK && model == MODEL_CARD && o != NULL) {
    pthread_mutex_lock(&lock);
    companion_create(h, *o);
    pthread_mutex_unlock(&lock);
  }
  return rv;
}

/* ... and takes it away with the certificate. */
static CK_RV
shim_C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
  bool removed;
  struct cert_info ci;
  CK_RV rv = pre("C_DestroyObject", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  if (model != MODEL_CARD)
    return T->C_DestroyObject(h, o);
  pthread_mutex_lock(&lock);
  bool cert = cert_info_get(h, o, &ci);
  rv = T->C_DestroyObject(h, o);
  if (cert && rv == CKR_OK)
    companion_destroy(&ci);
  if (cert)
    cert_info_clear(&ci);
  pthread_mutex_unlock(&lock);
  return rv;
}

/* --- C_Sign: a refusal ends the operation, as on a token --- */

/* PKCS#11 2.40, 5.12: a C_Sign call always ends the signing operation, but
 * for CKR_BUFFER_TOO_SMALL or a successful length query. A fault the shim
 * answers is passed on first (its answer dropped), so that the target's
 * operation ends too and the session takes the next call, as after a
 * token's own failure. */
static CK_RV
shim_C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
            CK_ULONG_PTR sig_len)
{
  bool removed;
  CK_RV rv = pre("C_Sign", &removed);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
    CK_BYTE scratch[1024];
    CK_ULONG scratch_len = sizeof scratch;
    (void)T->C_Sign(h, data, len, scratch, &scratch_len);
    OPENSSL_cleanse(scratch, sizeof scratch);
    return rv;
  }
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
  return T->C_Sign(h, data, len, sig, sig_len);
}

/* --- Everything else forwards; TOKEN says whether it touches the token --- */

#define FORWARD(name, token, params, args)                                                         \
  static CK_RV shim_##name params                                                                  \
  {                                                                                                \
    bool removed;                                                                                  \
    CK_RV rv = pre(#name, &removed);                                                               \
    if (rv != CKR_OK)                                                                              \
      return rv;                                                                                   \
    if (token && removed)                                                                          \
      return CKR_DEVICE_REMOVED;                                                                   \
    return T->name args;                                                                           \
  }

typedef CK_SESSION_HANDLE SH;
typedef CK_OBJECT_HANDLE OH;
typedef CK_ATTRIBUTE_PTR AP;
typedef CK_MECHANISM_PTR MP;
typedef CK_BYTE_PTR BP;
typedef CK_ULONG_PTR LP;
typedef CK_ULONG UL;

/* clang-format off */
FORWARD(C_GetMechanismList, 1, (CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR l, LP n), (s, l, n))
FORWARD(C_OpenSession, 1, (CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR a, CK_NOTIFY n, CK_SESSION_HANDLE_PTR h), (s, f, a, n, h))
FORWARD(C_CloseSession, 0, (SH h), (h))
FORWARD(C_CloseAllSessions, 0, (CK_SLOT_ID s), (s))
FORWARD(C_GetSessionInfo, 1, (SH h, CK_SESSION_INFO_PTR i), (h, i))
FORWARD(C_GetOperationState, 1, (SH h, BP s, LP n), (h, s, n))
FORWARD(C_SetOperationState, 1, (SH h, BP s, UL n, OH e, OH a), (h, s, n, e, a))
FORWARD(C_Logout, 1, (SH h), (h))
FORWARD(C_CopyObject, 1, (SH h, OH o, AP t, UL n, CK_OBJECT_HANDLE_PTR r), (h, o, t, n, r))
FORWARD(C_GetObjectSize, 1, (SH h, OH o, LP n), (h, o, n))
FORWARD(C_SetAttributeValue, 1, (SH h, OH o, AP t, UL n), (h, o, t, n))
FORWARD(C_FindObjectsInit, 1, (SH h, AP t, UL n), (h, t, n))
FORWARD(C_FindObjects, 1, (SH h, CK_OBJECT_HANDLE_PTR o, UL m, LP n), (h, o, m, n))
FORWARD(C_FindObjectsFinal, 1, (SH h), (h))
FORWARD(C_EncryptInit, 1, (SH h, MP m, OH k), (h, m, k))
FORWARD(C_Encrypt, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_EncryptUpdate, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_EncryptFinal, 1, (SH h, BP o, LP on), (h, o, on))
FORWARD(C_DecryptInit, 1, (SH h, MP m, OH k), (h, m, k))
FORWARD(C_Decrypt, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_DecryptUpdate, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_DecryptFinal, 1, (SH h, BP o, LP on), (h, o, on))
FORWARD(C_DigestInit, 1, (SH h, MP m), (h, m))
FORWARD(C_Digest, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_DigestUpdate, 1, (SH h, BP d, UL n), (h, d, n))
FORWARD(C_DigestKey, 1, (SH h, OH k), (h, k))
FORWARD(C_DigestFinal, 1, (SH h, BP o, LP on), (h, o, on))
FORWARD(C_SignInit, 1, (SH h, MP m, OH k), (h, m, k))
FORWARD(C_SignUpdate, 1, (SH h, BP d, UL n), (h, d, n))
FORWARD(C_SignFinal, 1, (SH h, BP o, LP on), (h, o, on))
FORWARD(C_SignRecoverInit, 1, (SH h, MP m, OH k), (h, m, k))
FORWARD(C_SignRecover, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_VerifyInit, 1, (SH h, MP m, OH k), (h, m, k))
FORWARD(C_Verify, 1, (SH h, BP d, UL n, BP s, UL sn), (h, d, n, s, sn))
FORWARD(C_VerifyUpdate, 1, (SH h, BP d, UL n), (h, d, n))
FORWARD(C_VerifyFinal, 1, (SH h, BP s, UL sn), (h, s, sn))
FORWARD(C_VerifyRecoverInit, 1, (SH h, MP m, OH k), (h, m, k))
FORWARD(C_VerifyRecover, 1, (SH h, BP s, UL sn, BP o, LP on), (h, s, sn, o, on))
FORWARD(C_DigestEncryptUpdate, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_DecryptDigestUpdate, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_SignEncryptUpdate, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_DecryptVerifyUpdate, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
FORWARD(C_GenerateKey, 1, (SH h, MP m, AP t, UL n, CK_OBJECT_HANDLE_PTR k), (h, m, t, n, k))
FORWARD(C_WrapKey, 1, (SH h, MP m, OH w, OH k, BP o, LP on), (h, m, w, k, o, on))
FORWARD(C_UnwrapKey, 1, (SH h, MP m, OH u, BP d, UL n, AP t, UL tn, CK_OBJECT_HANDLE_PTR k), (h, m, u, d, n, t, tn, k))
FORWARD(C_DeriveKey, 1, (SH h, MP m, OH b, AP t, UL n, CK_OBJECT_HANDLE_PTR k), (h, m, b, t, n, k))
FORWARD(C_SeedRandom, 1, (SH h, BP d, UL n), (h, d, n))
FORWARD(C_GenerateRandom, 1, (SH h, BP d, UL n), (h, d, n))
FORWARD(C_GetFunctionStatus, 0, (SH h), (h))
FORWARD(C_CancelFunction, 0, (SH h), (h))
FORWARD(C_WaitForSlotEvent, 0, (CK_FLAGS f, CK_SLOT_ID_PTR s, CK_VOID_PTR r), (f, s, r))
/* clang-format on */

/* clang-format off */
static CK_FUNCTION_LIST shim_list = {
  { 2, 40 }, /* the version of the list, whatever the target says */
  shim_C_Initialize, shim_C_Finalize, shim_C_GetInfo, C_GetFunctionList, shim_C_GetSlotList,
  shim_C_GetSlotInfo, shim_C_GetTokenInfo, shim_C_GetMechanismList, shim_C_GetMechanismInfo,
  shim_C_InitToken, shim_C_InitPIN, shim_C_SetPIN, shim_C_OpenSession, shim_C_CloseSession,
  shim_C_CloseAllSessions, shim_C_GetSessionInfo, shim_C_GetOperationState,
  shim_C_SetOperationState, shim_C_Login, shim_C_Logout, shim_C_CreateObject, shim_C_CopyObject,
  shim_C_DestroyObject, shim_C_GetObjectSize, shim_C_GetAttributeValue, shim_C_SetAttributeValue,
  shim_C_FindObjectsInit, shim_C_FindObjects, shim_C_FindObjectsFinal, shim_C_EncryptInit,
  shim_C_Encrypt, shim_C_EncryptUpdate, shim_C_EncryptFinal, shim_C_DecryptInit, shim_C_Decrypt,
  shim_C_DecryptUpdate, shim_C_DecryptFinal, shim_C_DigestInit, shim_C_Digest, shim_C_DigestUpdate,
  shim_C_DigestKey, shim_C_DigestFinal, shim_C_SignInit, shim_C_Sign, shim_C_SignUpdate,
  shim_C_SignFinal, shim_C_SignRecoverInit, shim_C_SignRecover, shim_C_VerifyInit, shim_C_Verify,
  shim_C_VerifyUpdate, shim_C_VerifyFinal, shim_C_VerifyRecoverInit, shim_C_VerifyRecover,
  shim_C_DigestEncryptUpdate, shim_C_DecryptDigestUpdate, shim_C_SignEncryptUpdate,
  shim_C_DecryptVerifyUpdate, shim_C_GenerateKey, shim_C_GenerateKeyPair, shim_C_WrapKey,
  shim_C_UnwrapKey, shim_C_DeriveKey, shim_C_SeedRandom, shim_C_GenerateRandom,
  shim_C_GetFunctionStatus, shim_C_CancelFunction, shim_C_WaitForSlotEvent,
};
/* clang-format on */

/* The module's only exported symbol. */
CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
  if (list == NULL)
    return CKR_ARGUMENTS_BAD;
  *list = &shim_list;
  return CKR_OK;
}
