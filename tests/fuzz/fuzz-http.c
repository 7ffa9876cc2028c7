/* fuzz-http.c: libFuzzer harness for how the EST client reads a CA's
 * answer: the status, Content-Type, Retry-After and WWW-Authenticate
 * headers and the body, kept as signet_http_request() keeps them
 * (signet_http_response_new()) and interpreted by
 * signet_est_answer_parse() / signet_est_csr_attrs_answer_parse(), the
 * client's only reading of an answer. The input is text:
 *
 *   OPERATION STATUS SENT          (cacerts|csrattrs|enroll|reenroll,
 *   Header-Name: value              100-599, none|basic|digest)
 *   ...
 *                                  (an empty line)
 *   body (any bytes)
 */
#include "config.h"

#include "tests/fuzz/fuzz.h"

#include "common/signet-util.h"
#include "enroll/signet-http.h"
#include "enroll/signet-x509.h"

#include <openssl/err.h>
#include <string.h>

/* 2027-01-15T08:00:00Z: the fixed "now" of a Retry-After. */
#define FUZZ_NOW 1800000000
#define FUZZ_URL "https://ca.example/.well-known/est"

static const char *const op_names[] = { "cacerts", "csrattrs", "enroll", "reenroll" };
static const char *const sent_names[] = { "none", "basic", "digest" };

/* A message for a holder: UTF-8, no control character (CA text is made
 * printable before it goes in). */
static void
check_message(const char *text)
{
  g_assert_true(g_utf8_validate(text, -1, NULL));
  g_assert_false(signet_has_control_chars(text));
}

static void
check_error(const GError *error, long status, SignetEstOperation op)
{
  g_assert_true(error->domain == SIGNET_ENROLL_ERROR);
  check_message(error->message);
  if (status == 200)
    g_assert_cmpint(error->code, ==, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  else if (status >= 500 || status == 429)
    g_assert_cmpint(error->code, ==, SIGNET_ENROLL_ERROR_UNAVAILABLE);
  else if (status == 404)
    g_assert_cmpint(error->code, ==, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
  else if (status == 400 || status == 403)
    g_assert_cmpint(error->code, ==, SIGNET_ENROLL_ERROR_REFUSED);
  else if (status == 401)
    g_assert_true(error->code == SIGNET_ENROLL_ERROR_REFUSED
                  || ((op == SIGNET_EST_OP_ENROLL || op == SIGNET_EST_OP_CSRATTRS)
                      && (error->code == SIGNET_ENROLL_ERROR_CODE_REJECTED
                          || error->code == SIGNET_ENROLL_ERROR_CODE_EXPIRED)));
  else
    g_assert_cmpint(error->code, ==, SIGNET_ENROLL_ERROR_BAD_RESPONSE);
}

static void
check_response(const SignetHttpResponse *response)
{
  SignetHttpAuthSchemes schemes = signet_http_response_auth_schemes(response);

  if (response->content_type != NULL)
    check_message(response->content_type);
  if (response->retry_after != NULL)
    check_message(response->retry_after);
  g_assert_nonnull(response->www_authenticate);
  g_assert_cmpuint(g_strv_length(response->www_authenticate), <=, SIGNET_HTTP_CHALLENGES_MAX);
  for (char **v = response->www_authenticate; *v != NULL; v++)
    check_message(*v);
  g_assert_cmpint(
      schemes & ~(SIGNET_HTTP_AUTH_BASIC | SIGNET_HTTP_AUTH_DIGEST | SIGNET_HTTP_AUTH_OTHER), ==,
      0);
  if (schemes != 0)
    g_assert_cmpuint(g_strv_length(response->www_authenticate), >, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  const char *end = text + size;
  const char *eol = memchr(text, '\n', size);
  g_autofree char *first = NULL;
  g_auto(GStrv) words = NULL;
  g_autofree char *content_type = NULL, *retry_after = NULL;
  g_autoptr(GPtrArray) challenges = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(SignetHttpResponse) response = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_from_unix_utc(FUZZ_NOW);
  g_autoptr(GError) error = NULL;
  SignetEstOperation op = SIGNET_EST_OP_ENROLL;
  SignetEstAuthSent sent = SIGNET_EST_SENT_NONE;
  guint64 status = 0;
  const char *p;

  if (eol == NULL || size > SIGNET_HTTP_BODY_MAX + 4096)
    return 0;
  first = g_strndup(text, (gsize)(eol - text));
  words = g_strsplit(first, " ", 3);
  if (g_strv_length(words) != 3
      || !g_ascii_string_to_unsigned(words[1], 10, 100, 599, &status, NULL))
    return 0;
  for (guint i = 0; i < G_N_ELEMENTS(op_names); i++)
    if (g_str_equal(words[0], op_names[i]))
      op = (SignetEstOperation)i;
  for (guint i = 0; i < G_N_ELEMENTS(sent_names); i++)
    if (g_str_equal(g_strstrip(words[2]), sent_names[i]))
      sent = (SignetEstAuthSent)i;

  /* Headers, as libcurl hands them over: "Name: value", CRLF or LF. */
  for (p = eol + 1; p < end;) {
    const char *nl = memchr(p, '\n', (gsize)(end - p));
    gsize len = nl != NULL ? (gsize)(nl - p) : (gsize)(end - p);
    g_autofree char *line = g_strndup(p, len);
    char *colon;

    p += len + (nl != NULL ? 1 : 0);
    g_strchomp(line);
    if (line[0] == '\0')
      break;
    if ((colon = strchr(line, ':')) == NULL)
      continue;
    *colon = '\0';
    if (g_ascii_strcasecmp(line, "content-type") == 0) {
      g_free(content_type);
      content_type = g_strdup(colon + 1);
    } else if (g_ascii_strcasecmp(line, "retry-after") == 0) {
      g_free(retry_after);
      retry_after = g_strdup(colon + 1);
    } else if (g_ascii_strcasecmp(line, "www-authenticate") == 0)
      g_ptr_array_add(challenges, g_strdup(colon + 1));
  }
  g_ptr_array_add(challenges, NULL);
  body = g_bytes_new(p, p < end ? (gsize)(end - p) : 0);
  response = signet_http_response_new((long)status, content_type, retry_after,
                                      (const char *const *)challenges->pdata, body);
  check_response(response);

  if (op == SIGNET_EST_OP_CSRATTRS) {
    g_autoptr(SignetEstCsrAttrs) attrs
        = signet_est_csr_attrs_answer_parse(FUZZ_URL, response, sent, &error);

    g_assert_true((attrs != NULL) != (error != NULL));
    if (attrs == NULL)
      check_error(error, (long)status, op);
    else {
      g_assert_true(status == 200 || status == 204 || status == 404);
      g_assert_nonnull(attrs->oids);
      if (attrs->subject != NULL)
        g_assert_true(g_utf8_validate(attrs->subject, -1, NULL));
    }
  } else {
    g_autoptr(SignetEstResult) result
        = signet_est_answer_parse(FUZZ_URL, op, response, sent, now, &error);

    g_assert_true((result != NULL) != (error != NULL));
    if (result == NULL)
      check_error(error, (long)status, op);
    else if (result->status == SIGNET_EST_ISSUED) {
      g_assert_cmpuint(status, ==, 200);
      g_assert_nonnull(result->certs);
      g_assert_cmpuint(result->certs->len, >, 0);
      g_assert_cmpuint(result->certs->len, <=, SIGNET_CERTFILE_MAX_CERTS);
      g_assert_null(result->retry_at);
    } else {
      GTimeSpan wait;

      g_assert_cmpint(result->status, ==, SIGNET_EST_PENDING);
      g_assert_cmpuint(status, ==, 202);
      g_assert_true(op != SIGNET_EST_OP_CACERTS);
      g_assert_null(result->certs);
      g_assert_nonnull(result->retry_at);
      wait = g_date_time_difference(result->retry_at, now);
      g_assert_cmpint(wait, >=, 1 * G_TIME_SPAN_SECOND);
      g_assert_cmpint(wait, <=, 7 * G_TIME_SPAN_DAY);
      if (result->message != NULL) {
        check_message(result->message);
        g_assert_cmpuint(g_utf8_strlen(result->message, -1), <=, 201);
      }
    }
  }
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
  return 0;
}
