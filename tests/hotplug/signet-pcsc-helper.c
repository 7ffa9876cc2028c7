/* signet-pcsc-helper.c: a small PC/SC client for the hotplug tests, talking
 * to pcscd directly (the reference the agent is compared with).
 *
 *   signet-pcsc-helper list
 *       the readers, one per line (exit 1 when pcscd does not answer)
 *   signet-pcsc-helper wait READER present|absent [TIMEOUT_MS]
 *       blocks in SCardGetStatusChange until READER has (or has no) card,
 *       prints the wall-clock time then (seconds since the epoch, with
 *       microseconds) and exits 0; 1 on timeout or error
 *   signet-pcsc-helper hold READER
 *       connects to READER's card exclusively, prints "held", and keeps it
 *       until its standard input is closed (another program holding the
 *       reader, as scdaemon does)
 */
#include "config.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winscard.h>

static int
fail(const char *what, LONG rv)
{
  fprintf(stderr, "signet-pcsc-helper: %s: %s (0x%08lx)\n", what, pcsc_stringify_error(rv),
          (unsigned long)rv);
  return 1;
}

static int
cmd_list(SCARDCONTEXT ctx)
{
  DWORD len = 0;
  g_autofree char *buf = NULL;
  LONG rv = SCardListReaders(ctx, NULL, NULL, &len);

  if (rv == SCARD_E_NO_READERS_AVAILABLE)
    return 0;
  if (rv != SCARD_S_SUCCESS)
    return fail("SCardListReaders", rv);
  buf = g_malloc0(len + 1);
  rv = SCardListReaders(ctx, NULL, buf, &len);
  if (rv != SCARD_S_SUCCESS)
    return fail("SCardListReaders", rv);
  for (const char *p = buf; *p != '\0'; p += strlen(p) + 1)
    printf("%s\n", p);
  return 0;
}

static int
cmd_wait(SCARDCONTEXT ctx, const char *reader, gboolean want_present, DWORD timeout)
{
  SCARD_READERSTATE st = { .szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE };
  gint64 end = g_get_monotonic_time() + (gint64)timeout * 1000;

  for (;;) {
    gint64 left = (end - g_get_monotonic_time()) / 1000;
    LONG rv = SCardGetStatusChange(ctx, left > 0 ? (DWORD)left : 0, &st, 1);

    if (rv != SCARD_S_SUCCESS)
      return fail("SCardGetStatusChange", rv);
    st.dwCurrentState = st.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
    if (((st.dwEventState & SCARD_STATE_PRESENT) != 0) == want_present) {
      printf("%.6f\n", (double)g_get_real_time() / G_USEC_PER_SEC);
      return 0;
    }
  }
}

static int
cmd_hold(SCARDCONTEXT ctx, const char *reader)
{
  SCARDHANDLE card;
  DWORD protocol;
  char c;
  LONG rv = SCardConnect(ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                         &card, &protocol);

  if (rv != SCARD_S_SUCCESS)
    return fail("SCardConnect (exclusive)", rv);
  printf("held\n");
  fflush(stdout);
  while (read(STDIN_FILENO, &c, 1) > 0)
    ;
  SCardDisconnect(card, SCARD_LEAVE_CARD);
  return 0;
}

int
main(int argc, char **argv)
{
  SCARDCONTEXT ctx;
  LONG rv;
  int status;

  if (argc < 2) {
    fprintf(stderr, "usage: signet-pcsc-helper list | wait READER present|absent [MS] | hold "
                    "READER\n");
    return 2;
  }
  rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
  if (rv != SCARD_S_SUCCESS)
    return fail("SCardEstablishContext", rv);
  if (strcmp(argv[1], "list") == 0)
    status = cmd_list(ctx);
  else if (strcmp(argv[1], "wait") == 0 && argc >= 4)
    status = cmd_wait(ctx, argv[2], strcmp(argv[3], "present") == 0,
                      argc > 4 ? (DWORD)strtoul(argv[4], NULL, 10) : 10000);
  else if (strcmp(argv[1], "hold") == 0 && argc == 3)
    status = cmd_hold(ctx, argv[2]);
  else
    status = 2;
  SCardReleaseContext(ctx);
  return status;
}
