/* signet-curl.c: libcurl opened at its first use (signet-curl.h). */
#include "config.h"

#include "enroll/signet-curl.h"
#include "enroll/signet-x509.h"

#include <dlfcn.h>
#include <string.h>

/* The soname of Debian 12's libcurl4 (and libcurl3-gnutls's is another
 * library: the OpenSSL flavour is the one the agent's TLS code expects). */
#define LIBCURL_SONAME "libcurl.so.4"

SignetCurlFunctions signet_curl_functions;

typedef struct
{
  gboolean ok;
  char *why;
} LoadResult;

static gpointer
load_once(gpointer data)
{
  LoadResult *r = g_new0(LoadResult, 1);
  SignetCurlFunctions f = { 0 };
  void *lib;
  CURLcode rc;
  static const struct
  {
    const char *name;
    gsize offset;
  } symbols[] = {
#define SYMBOL(name, field) { name, G_STRUCT_OFFSET(SignetCurlFunctions, field) }
    SYMBOL("curl_global_init", global_init),
    SYMBOL("curl_easy_init", easy_init),
    SYMBOL("curl_easy_setopt", easy_setopt),
    SYMBOL("curl_easy_perform", easy_perform),
    SYMBOL("curl_easy_getinfo", easy_getinfo),
    SYMBOL("curl_easy_cleanup", easy_cleanup),
    SYMBOL("curl_easy_strerror", easy_strerror),
    SYMBOL("curl_share_init", share_init),
    SYMBOL("curl_share_setopt", share_setopt),
    SYMBOL("curl_share_cleanup", share_cleanup),
    SYMBOL("curl_slist_append", slist_append),
    SYMBOL("curl_slist_free_all", slist_free_all),
    SYMBOL("curl_getdate", getdate),
#undef SYMBOL
  };

  (void)data;
  /* Kept open for the life of the process: libcurl is never unloaded. */
  lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    const char *why = dlerror();

    r->why = g_strdup_printf("libcurl, which Signet talks to CAs with, could not be loaded (%s): "
                             "install it (apt-get install libcurl4)",
                             why != NULL ? why : LIBCURL_SONAME);
    return r;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(symbols); i++) {
    void *sym = dlsym(lib, symbols[i].name);

    if (sym == NULL) {
      r->why = g_strdup_printf("%s has no %s: it is too old for Signet (libcurl 7.74 or later "
                               "is needed)",
                               LIBCURL_SONAME, symbols[i].name);
      return r;
    }
    /* POSIX makes a function's address from dlsym() usable as one. */
    memcpy(G_STRUCT_MEMBER_P(&f, symbols[i].offset), &sym, sizeof sym);
  }
  rc = f.global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    r->why = g_strdup_printf("libcurl could not be initialised (%s)", f.easy_strerror(rc));
    return r;
  }
  signet_curl_functions = f;
  r->ok = TRUE;
  return r;
}

gboolean
signet_curl_load(GError **error)
{
  static GOnce once = G_ONCE_INIT;
  const LoadResult *r = g_once(&once, load_once, NULL);

  if (!r->ok)
    g_set_error_literal(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED, r->why);
  return r->ok;
}
