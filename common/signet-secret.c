/* signet-secret.c: see signet-secret.h. */
#include "config.h"

#include "common/signet-secret.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

struct _SignetSecret
{
  gsize len;
  gboolean locked;
  guint8 data[SIGNET_SECRET_MAX];
};

/* Each secret has pages of its own (mmap): locked (mlock), left out of core
 * dumps (MADV_DONTDUMP) and of a forked child (MADV_WIPEONFORK), and
 * unmapped on free. A heap buffer would share its page with other data,
 * and munlock() of one secret would unlock another that sits on the same
 * page. */
static gsize
secret_map_size(void)
{
  static gsize size;

  if (size == 0) {
    long page = sysconf(_SC_PAGESIZE);
    gsize p = page > 0 ? (gsize)page : 4096;
    size = (sizeof(SignetSecret) + p - 1) / p * p;
  }
  return size;
}

static SignetSecret *
secret_alloc(void)
{
  gsize size = secret_map_size();
  SignetSecret *s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  if (s == MAP_FAILED)
    g_error("signet: no memory for a secret (%s)", g_strerror(errno));
  /* Best effort: an unprivileged process may exceed RLIMIT_MEMLOCK. The buffer
   * is wiped on free either way. */
  s->locked = mlock(s, size) == 0;
#ifdef MADV_DONTDUMP
  (void)madvise(s, size, MADV_DONTDUMP);
#endif
#ifdef MADV_WIPEONFORK
  (void)madvise(s, size, MADV_WIPEONFORK);
#endif
  return s;
}

SignetSecret *
signet_secret_new(const void *data, gsize len)
{
  SignetSecret *s;

  g_return_val_if_fail(len <= SIGNET_SECRET_MAX, NULL);
  s = secret_alloc();
  if (len > 0)
    memcpy(s->data, data, len);
  s->len = len;
  return s;
}

void
signet_secret_free(SignetSecret *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero(secret, sizeof *secret);
  /* The pages are the secret's own: unlocking them unlocks no other. */
  (void)munlock(secret, secret_map_size());
  (void)munmap(secret, secret_map_size());
}

gboolean
signet_secret_is_locked(const SignetSecret *secret)
{
  return secret != NULL && secret->locked;
}

gboolean
signet_secret_protect_process(GError **error)
{
  /* Not dumpable: no core file, and no other process of the user may
   * ptrace it or read its memory through /proc while it holds a PIN. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
    int saved = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                "Could not make the process non-dumpable: %s", g_strerror(saved));
    return FALSE;
  }
  return TRUE;
}

const guint8 *
signet_secret_get_data(const SignetSecret *secret)
{
  g_return_val_if_fail(secret != NULL, NULL);
  return secret->data;
}

gsize
signet_secret_get_len(const SignetSecret *secret)
{
  g_return_val_if_fail(secret != NULL, 0);
  return secret->len;
}

gboolean
signet_secret_equal(const SignetSecret *a, const SignetSecret *b)
{
  guint8 diff = 0;

  g_return_val_if_fail(a != NULL && b != NULL, FALSE);
  /* Constant time over the buffer, whatever the lengths. */
  for (gsize i = 0; i < SIGNET_SECRET_MAX; i++)
    diff |= a->data[i] ^ b->data[i];
  return (diff | (guint8)(a->len != b->len)) == 0;
}

static void
strip_newline(SignetSecret *s)
{
  if (s->len > 0 && s->data[s->len - 1] == '\n')
    s->data[--s->len] = 0;
  if (s->len > 0 && s->data[s->len - 1] == '\r')
    s->data[--s->len] = 0;
}

/* Set by the signal handlers of signet_secret_read_tty(). */
static volatile sig_atomic_t tty_signal;
/* While signet_secret_read_tty() waits: the signal mask to wait with (the
 * caller's, with the terminal signals deliverable). Outside the wait they
 * are blocked, so that one cannot arrive between a check and a read. */
static sigset_t tty_wait_mask;

static SignetSecret *read_line(int fd, gboolean interruptible, GError **error);

SignetSecret *
signet_secret_read_fd(int fd, GError **error)
{
  return read_line(fd, FALSE, error);
}

static SignetSecret *
read_line(int fd, gboolean interruptible, GError **error)
{
  g_autoptr(SignetSecret) s = secret_alloc();

  /* One byte at a time so that nothing past the first line is consumed: the
   * same descriptor may carry further secrets. */
  for (;;) {
    guint8 c;
    ssize_t n;

    if (interruptible) {
      /* Wait with the signals deliverable, atomically (pselect): a Ctrl-C
       * just before the wait still ends it. */
      fd_set readable;

      if (tty_signal != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Interrupted");
        return NULL;
      }
      FD_ZERO(&readable);
      FD_SET(fd, &readable);
      if (pselect(fd + 1, &readable, NULL, NULL, NULL, &tty_wait_mask) < 0) {
        if (errno == EINTR)
          continue;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "Could not read from the terminal: %s", g_strerror(errno));
        return NULL;
      }
    }
    n = read(fd, &c, 1);

    if (n < 0 && errno == EINTR && interruptible && tty_signal != 0) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Interrupted");
      return NULL;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                  "Could not read the secret from file descriptor %d: %s", fd, g_strerror(saved));
      return NULL;
    }
    if (n == 0 || c == '\n')
      break;
    if (s->len == SIGNET_SECRET_MAX) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                  "The secret on file descriptor %d is longer than %d bytes: no token takes "
                  "one that long (signet status shows the PIN lengths yours takes)",
                  fd, SIGNET_SECRET_MAX);
      return NULL;
    }
    s->data[s->len++] = c;
  }
  strip_newline(s);
  return g_steal_pointer(&s);
}

static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void
on_tty_signal(int signo)
{
  tty_signal = signo;
}

SignetSecret *
signet_secret_read_tty(const char *prompt, GError **error)
{
  g_autoptr(SignetSecret) s = NULL;
  struct termios old, noecho;
  struct sigaction saved[G_N_ELEMENTS(tty_signals)];
  sigset_t blocked, old_mask;
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  gboolean restored;
  GError *local = NULL;

  if (fd < 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "No terminal to ask on; pass the secret on a file descriptor instead");
    return NULL;
  }
  if (tcgetattr(fd, &old) != 0) {
    close(fd);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "No terminal to ask on; pass the secret on a file descriptor instead");
    return NULL;
  }
  noecho = old;
  noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
  noecho.c_lflag |= ICANON;
  if (write(fd, prompt, strlen(prompt)) < 0) { /* The prompt is a courtesy; reading still works. */
  }
  /* A signal while echo is off (Ctrl-C at the prompt) must not leave the
   * terminal without echo: catch it, restore the terminal, then deliver it
   * with its old disposition. No SA_RESTART, so read() returns EINTR. */
  tty_signal = 0;
  sigemptyset(&blocked);
  for (gsize i = 0; i < G_N_ELEMENTS(tty_signals); i++) {
    struct sigaction sa = { 0 };
    sa.sa_handler = on_tty_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(tty_signals[i], &sa, &saved[i]);
    sigaddset(&blocked, tty_signals[i]);
  }
  sigprocmask(SIG_BLOCK, &blocked, &old_mask);
  tty_wait_mask = old_mask;
  for (gsize i = 0; i < G_N_ELEMENTS(tty_signals); i++)
    sigdelset(&tty_wait_mask, tty_signals[i]);
  (void)tcsetattr(fd, TCSAFLUSH, &noecho);
  s = read_line(fd, TRUE, &local);
  restored = tcsetattr(fd, TCSAFLUSH, &old) == 0;
  if (write(fd, "\n", 1) < 0) {
  }
  close(fd);
  for (gsize i = 0; i < G_N_ELEMENTS(tty_signals); i++)
    sigaction(tty_signals[i], &saved[i], NULL);
  /* A signal still pending now goes with its old disposition. */
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  if (tty_signal != 0) {
    g_clear_error(&local);
    raise(tty_signal);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Interrupted");
    return NULL;
  }
  if (!restored)
    g_debug("could not restore the terminal's echo");
  if (s == NULL) {
    g_propagate_error(error, local);
    return NULL;
  }
  return g_steal_pointer(&s);
}
