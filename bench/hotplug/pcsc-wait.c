/* pcsc-wait.c: the reference for bench/hotplug/latency.sh, a bare PC/SC
 * client with nothing between it and pcscd.
 *
 *   pcsc-wait list
 *       the readers, one per line (exit 1 when pcscd does not answer)
 *   pcsc-wait watch READER
 *       blocks in SCardGetStatusChange (INFINITE) on READER and prints one
 *       line per card transition, "present MONO_US" or "absent MONO_US",
 *       MONO_US being CLOCK_MONOTONIC in microseconds when the call
 *       returned; runs until killed or until pcscd goes away (exit 1)
 *
 * Built by the bench scripts themselves:
 *   cc -O2 -Wall -Wextra $(pkg-config --cflags libpcsclite) pcsc-wait.c \
 *      $(pkg-config --libs libpcsclite) -o pcsc-wait
 * Not part of the build or of `make check`.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <winscard.h>

static int64_t
monotonic_us(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
fail(const char *what, LONG rv)
{
  fprintf(stderr, "pcsc-wait: %s: %s (0x%08lx)\n", what, pcsc_stringify_error(rv),
          (unsigned long)rv);
  return 1;
}

static int
cmd_list(SCARDCONTEXT ctx)
{
  DWORD len = 0;
  char *buf;
  LONG rv = SCardListReaders(ctx, NULL, NULL, &len);

  if (rv == SCARD_E_NO_READERS_AVAILABLE)
    return 0;
  if (rv != SCARD_S_SUCCESS)
    return fail("SCardListReaders", rv);
  buf = calloc(1, len + 1);
  if (buf == NULL)
    return 1;
  rv = SCardListReaders(ctx, NULL, buf, &len);
  if (rv != SCARD_S_SUCCESS) {
    free(buf);
    return fail("SCardListReaders", rv);
  }
  for (const char *p = buf; *p != '\0'; p += strlen(p) + 1)
    printf("%s\n", p);
  free(buf);
  return 0;
}

static int
cmd_watch(SCARDCONTEXT ctx, const char *reader)
{
  SCARD_READERSTATE st = { .szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE };
  int present = -1;

  for (;;) {
    LONG rv = SCardGetStatusChange(ctx, INFINITE, &st, 1);
    int64_t t = monotonic_us();
    int now;

    if (rv != SCARD_S_SUCCESS)
      return fail("SCardGetStatusChange", rv);
    st.dwCurrentState = st.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
    now = (st.dwEventState & SCARD_STATE_PRESENT) != 0;
    if (now != present) {
      /* The first line is the state at start, not a transition. */
      printf("%s %" PRId64 "%s\n", now ? "present" : "absent", t, present < 0 ? " initial" : "");
      fflush(stdout);
      present = now;
    }
  }
}

int
main(int argc, char **argv)
{
  SCARDCONTEXT ctx;
  LONG rv;
  int status;

  if (argc < 2) {
    fprintf(stderr, "usage: pcsc-wait list | watch READER\n");
    return 2;
  }
  rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
  if (rv != SCARD_S_SUCCESS)
    return fail("SCardEstablishContext", rv);
  if (strcmp(argv[1], "list") == 0)
    status = cmd_list(ctx);
  else if (strcmp(argv[1], "watch") == 0 && argc == 3)
    status = cmd_watch(ctx, argv[2]);
  else
    status = 2;
  SCardReleaseContext(ctx);
  return status;
}
