/* signet-curl.h: libcurl, loaded when the first request is made, not when
 * the agent starts (private to enroll/).
 *
 * libcurl brings some twenty libraries with it (GnuTLS, Kerberos, LDAP,
 * SSH, RTMP, …): about 3 MB of the agent's memory, spent for as long as it
 * waits for a token, though most runs never talk to a CA
 * (bench/README.md). So the agent does not link libcurl: the first
 * signet_curl_load() opens libcurl.so.4 and takes the functions below from
 * it; until then none of it is mapped. Include this header instead of
 * <curl/curl.h>: it names those functions after the table, so that the
 * code calls curl_easy_init() as usual once signet_curl_load() succeeded.
 * Thread-safe: the library is opened once, under a GOnce.
 */
#pragma once

#include <curl/curl.h>
#include <glib.h>
#include <time.h>

G_BEGIN_DECLS

typedef struct
{
  CURLcode (*global_init)(long flags);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL *curl);
  CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
  void (*easy_cleanup)(CURL *curl);
  const char *(*easy_strerror)(CURLcode code);
  CURLSH *(*share_init)(void);
  CURLSHcode (*share_setopt)(CURLSH *share, CURLSHoption option, ...);
  CURLSHcode (*share_cleanup)(CURLSH *share);
  struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
  void (*slist_free_all)(struct curl_slist *list);
  time_t (*getdate)(const char *p, const time_t *unused);
} SignetCurlFunctions;

/* Filled by signet_curl_load(); all NULL before. */
extern SignetCurlFunctions signet_curl_functions;

/* Opens libcurl (once) and runs curl_global_init(); FALSE with @error
 * saying what is missing and what to install. */
gboolean signet_curl_load(GError **error);

#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#define curl_global_init    (signet_curl_functions.global_init)
#define curl_easy_init      (signet_curl_functions.easy_init)
#define curl_easy_setopt    (signet_curl_functions.easy_setopt)
#define curl_easy_perform   (signet_curl_functions.easy_perform)
#define curl_easy_getinfo   (signet_curl_functions.easy_getinfo)
#define curl_easy_cleanup   (signet_curl_functions.easy_cleanup)
#define curl_easy_strerror  (signet_curl_functions.easy_strerror)
#define curl_share_init     (signet_curl_functions.share_init)
#define curl_share_setopt   (signet_curl_functions.share_setopt)
#define curl_share_cleanup  (signet_curl_functions.share_cleanup)
#define curl_slist_append   (signet_curl_functions.slist_append)
#define curl_slist_free_all (signet_curl_functions.slist_free_all)
#define curl_getdate        (signet_curl_functions.getdate)

G_END_DECLS
