/* signet-p11shim: a PKCS#11 interposer for tests. It forwards every call to a
 * real module (SoftHSM2) and makes it behave like a smart card: PIN and SO
 * PIN (PUK) try counters that lock, the matching token flags, and faults
 * injected from a file (token pulled, slow token, one-shot errors).
 * What it models and every knob: tests/p11shim/README.md.
 * May call: libc, libdl, the target module. Test rig only, never installed. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define DEFAULT_TARGET "/usr/lib/softhsm/libsofthsm2.so"
#define USER_TRIES     3
#define SO_TRIES       10
#define MAX_TOKENS     16
#define MAX_FAULTS     32
#define MAX_FAULT_TEXT 8192

/* One lock for all of the shim's state; never held while sleeping. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static CK_FUNCTION_LIST_PTR T; /* the target's function list, loaded once */
static unsigned refs;          /* C_Initialize calls not yet finalized */
static bool own_target;        /* we initialized the target, so we finalize it */
static char state_dir[2048];   /* "": counters in memory only, no faults */
static bool removed_seen;      /* this process saw the token pulled */

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

/* --- PIN counters: file "pins", lines "SERIAL USER-TRIES-LEFT SO-TRIES-LEFT" --- */

struct counter
{
  char serial[17];
  int user, so;
};
static struct counter counters[MAX_TOKENS];
static unsigned n_counters;

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
    if (line[0] != '#' && sscanf(line, "%16s %d %d", c->serial, &c->user, &c->so) == 3) {
      c->user = clamp(c->user, USER_TRIES);
      c->so = clamp(c->so, SO_TRIES);
      n_counters++;
    }
  }
  fclose(f);
}

static void
counters_save(void)
{
  char text[64 + MAX_TOKENS * 48];
  size_t len = 0;
  if (state_dir[0] == '\0')
    return;
  len += snprintf(text, sizeof text, "# serial user-pin-tries-left so-pin-tries-left\n");
  for (unsigned i = 0; i < n_counters; i++)
    len += snprintf(text + len, sizeof text - len, "%s %d %d\n", counters[i].serial,
                    counters[i].user, counters[i].so);
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
    if (strcmp(counters[i].serial, serial) == 0)
      return &counters[i];
  if (n_counters == MAX_TOKENS)
    return NULL;
  struct counter *c = &counters[n_counters++];
  snprintf(c->serial, sizeof c->serial, "%s", serial);
  c->user = USER_TRIES;
  c->so = SO_TRIES;
  return c;
}

static struct counter *
counter_for_slot(CK_SLOT_ID slot)
{
  CK_TOKEN_INFO ti;
  char serial[17];
  if (T->C_GetTokenInfo(slot, &ti) != CKR_OK || !info_serial(&ti, serial))
    return NULL;
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
  return counter_for_slot(si.slotID);
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

/* --- Faults: file "fault", lines "FUNCTION ACTION [ARG]" --- */

enum action
{
  ACT_DELAY,
  ACT_REMOVE,
  ACT_ERROR
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

/* clang-format off */
#define CKR(name) { #name, name }
static const struct
{
  const char *name;
  CK_RV rv;
} ckr_names[] = {
  CKR(CKR_CANCEL), CKR(CKR_HOST_MEMORY), CKR(CKR_SLOT_ID_INVALID), CKR(CKR_GENERAL_ERROR),
  CKR(CKR_FUNCTION_FAILED), CKR(CKR_ARGUMENTS_BAD), CKR(CKR_DATA_LEN_RANGE), CKR(CKR_DEVICE_ERROR),
  CKR(CKR_DEVICE_MEMORY), CKR(CKR_DEVICE_REMOVED), CKR(CKR_FUNCTION_CANCELED),
  CKR(CKR_KEY_SIZE_RANGE), CKR(CKR_MECHANISM_INVALID), CKR(CKR_OPERATION_ACTIVE),
  CKR(CKR_PIN_INCORRECT), CKR(CKR_PIN_INVALID), CKR(CKR_PIN_LEN_RANGE), CKR(CKR_PIN_EXPIRED),
  CKR(CKR_PIN_LOCKED), CKR(CKR_SESSION_CLOSED), CKR(CKR_SESSION_COUNT),
  CKR(CKR_SESSION_HANDLE_INVALID), CKR(CKR_SESSION_READ_ONLY), CKR(CKR_TEMPLATE_INCONSISTENT),
  CKR(CKR_TOKEN_NOT_PRESENT), CKR(CKR_TOKEN_NOT_RECOGNIZED), CKR(CKR_TOKEN_WRITE_PROTECTED),
  CKR(CKR_USER_NOT_LOGGED_IN), CKR(CKR_USER_PIN_NOT_INITIALIZED), CKR(CKR_BUFFER_TOO_SMALL),
  CKR(CKR_CRYPTOKI_NOT_INITIALIZED),
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
  if (strcmp(act, "delay") == 0) {
    f->action = ACT_DELAY;
    f->arg = strtoul(arg, &end, 10);
    return n == 3 && *end == '\0';
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

/* Apply the faults for FN (under lock): returns an injected error or CKR_OK. */
static CK_RV
faults_apply(const char *fn, unsigned long *out_delay_ms)
{
  CK_RV rv = CKR_OK;
  faults_load();
  for (unsigned i = 0; i < n_faults; i++) {
    struct fault *f = &faults[i];
    if (strcmp(f->fn, "*") != 0 && strcmp(f->fn, fn) != 0)
      continue;
    if (f->action == ACT_DELAY) {
      *out_delay_ms += f->arg;
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

/* Run before every forwarded call: faults, then the removal state. */
static CK_RV
pre(const char *fn, bool *out_removed)
{
  unsigned long delay_ms = 0;
  pthread_mutex_lock(&lock);
  CK_RV rv = refs > 0 ? faults_apply(fn, &delay_ms) : CKR_CRYPTOKI_NOT_INITIALIZED;
  *out_removed = rv == CKR_OK && token_removed();
  pthread_mutex_unlock(&lock);
  if (delay_ms > 0)
    sleep_ms(delay_ms);
  return rv;
}

/* --- Calls with card behaviour --- */

static CK_RV
shim_C_Initialize(CK_VOID_PTR args)
{
  CK_RV rv = CKR_OK;
  unsigned long delay_ms = 0;
  pthread_mutex_lock(&lock);
  if (refs == 0) {
    const char *dir = getenv("SIGNET_SHIM_STATE");
    snprintf(state_dir, sizeof state_dir, "%s", dir != NULL ? dir : "");
    removed_seen = false;
  }
  if (T == NULL) {
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
    rv = faults_apply("C_Initialize", &delay_ms);
  if (rv == CKR_OK && refs == 0) {
    rv = T->C_Initialize(args);
    own_target = rv == CKR_OK;
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
      rv = CKR_OK; /* someone else in this process initialized it */
  }
  if (rv == CKR_OK)
    refs++; /* a second user (libp11 in the same process) gets CKR_OK too */
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

static CK_RV
shim_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
  bool removed;
  CK_RV rv = pre("C_GetSlotInfo", &removed);
  if (rv == CKR_OK)
    rv = T->C_GetSlotInfo(slot, info);
  if (rv == CKR_OK && removed)
    info->flags &= ~CKF_TOKEN_PRESENT;
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
    info->flags |= tries_flags(c->user, USER_TRIES, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                               CKF_USER_PIN_LOCKED);
    info->flags |= tries_flags(c->so, SO_TRIES, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
                               CKF_SO_PIN_LOCKED);
  }
  pthread_mutex_unlock(&lock);
  return rv;
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
  struct counter *c = counter_for_session(h, NULL);
  int *left = c == NULL ? NULL : user == CKU_SO ? &c->so : &c->user;
  if (left != NULL && *left == 0) {
    rv = CKR_PIN_LOCKED;
  } else {
    rv = T->C_Login(h, user, pin, pin_len);
    if (left != NULL)
      count_pin_result(left, user == CKU_SO ? SO_TRIES : USER_TRIES, rv);
  }
  pthread_mutex_unlock(&lock);
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
  struct counter *c = counter_for_session(h, &state);
  bool so = state == CKS_RW_SO_FUNCTIONS;
  int *left = c == NULL ? NULL : so ? &c->so : &c->user;
  if (left != NULL && *left == 0) {
    rv = CKR_PIN_LOCKED;
  } else {
    rv = T->C_SetPIN(h, old_pin, old_len, new_pin, new_len);
    if (left != NULL)
      count_pin_result(left, so ? SO_TRIES : USER_TRIES, rv);
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

/* C_InitPIN in an SO session: the unblock; the user PIN gets all its tries back. */
static CK_RV
shim_C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
  bool removed;
  CK_RV rv = pre("C_InitPIN", &removed);
  if (rv != CKR_OK)
    return rv;
  if (removed)
    return CKR_DEVICE_REMOVED;
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

/* C_InitToken checks the SO PIN; success starts the token afresh. */
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
  struct counter *c = counter_for_slot(slot);
  if (c != NULL && c->so == 0) {
    rv = CKR_PIN_LOCKED;
  } else {
    rv = T->C_InitToken(slot, pin, pin_len, label);
    if (c != NULL)
      count_pin_result(&c->so, SO_TRIES, rv);
    if (rv == CKR_OK && (c = counter_for_slot(slot)) != NULL) {
      c->user = USER_TRIES;
      counters_save();
    }
  }
  pthread_mutex_unlock(&lock);
  return rv;
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
FORWARD(C_GetInfo, 0, (CK_INFO_PTR i), (i))
FORWARD(C_GetMechanismList, 1, (CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR l, LP n), (s, l, n))
FORWARD(C_GetMechanismInfo, 1, (CK_SLOT_ID s, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO_PTR i), (s, t, i))
FORWARD(C_OpenSession, 1, (CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR a, CK_NOTIFY n, CK_SESSION_HANDLE_PTR h), (s, f, a, n, h))
FORWARD(C_CloseSession, 0, (SH h), (h))
FORWARD(C_CloseAllSessions, 0, (CK_SLOT_ID s), (s))
FORWARD(C_GetSessionInfo, 1, (SH h, CK_SESSION_INFO_PTR i), (h, i))
FORWARD(C_GetOperationState, 1, (SH h, BP s, LP n), (h, s, n))
FORWARD(C_SetOperationState, 1, (SH h, BP s, UL n, OH e, OH a), (h, s, n, e, a))
FORWARD(C_Logout, 1, (SH h), (h))
FORWARD(C_CreateObject, 1, (SH h, AP t, UL n, CK_OBJECT_HANDLE_PTR o), (h, t, n, o))
FORWARD(C_CopyObject, 1, (SH h, OH o, AP t, UL n, CK_OBJECT_HANDLE_PTR r), (h, o, t, n, r))
FORWARD(C_DestroyObject, 1, (SH h, OH o), (h, o))
FORWARD(C_GetObjectSize, 1, (SH h, OH o, LP n), (h, o, n))
FORWARD(C_GetAttributeValue, 1, (SH h, OH o, AP t, UL n), (h, o, t, n))
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
FORWARD(C_Sign, 1, (SH h, BP d, UL n, BP o, LP on), (h, d, n, o, on))
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
FORWARD(C_GenerateKeyPair, 1, (SH h, MP m, AP pt, UL pn, AP vt, UL vn, CK_OBJECT_HANDLE_PTR pk, CK_OBJECT_HANDLE_PTR vk), (h, m, pt, pn, vt, vn, pk, vk))
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
