/* test-client.c: libsignet's client rules (signet-client.h), as the CLI and
 * the window rely on them: when a PIN or PUK may be asked for, the words
 * for a state and a validity, error kinds, PEM from an export. */
#include "config.h"

#include "libsignet/signet-client.h"

#include <glib/gstdio.h>
#include <string.h>

/* A GetTokenStatus-like dictionary: "pin" and "puk" with the flags given
 * as "locked,final_try", and an optional unblock_method. */
static GVariant *
status_new(const char *pin_flags, const char *puk_flags, const char *unblock_method)
{
  GVariantBuilder b;
  const char *which[] = { "pin", "puk" };
  const char *flags[] = { pin_flags, puk_flags };

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < 2; i++) {
    GVariantBuilder s;
    g_auto(GStrv) set = g_strsplit(flags[i] != NULL ? flags[i] : "", ",", -1);

    if (flags[i] == NULL)
      continue;
    g_variant_builder_init(&s, G_VARIANT_TYPE_VARDICT);
    for (const char *const *f = (const char *const[]){ "locked", "final_try", "count_low",
                                                       "pin_pad", "to_be_changed", NULL };
         *f != NULL; f++)
      g_variant_builder_add(&s, "{sv}", *f,
                            g_variant_new_boolean(g_strv_contains((const char *const *)set, *f)));
    g_variant_builder_add(&b, "{sv}", which[i], g_variant_builder_end(&s));
  }
  if (unblock_method != NULL)
    g_variant_builder_add(&b, "{sv}", "unblock_method", g_variant_new_string(unblock_method));
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

static SignetClientAsk
ask(GVariant *status, SignetClientOp op, GError **error)
{
  return signet_client_before_secret(status, op, "Tok", error);
}

static void
test_before_secret_pin(void)
{
  g_autoptr(GVariant) fine = status_new("", "", NULL);
  g_autoptr(GVariant) last = status_new("final_try", "", NULL);
  g_autoptr(GVariant) locked = status_new("locked", "", NULL);
  g_autoptr(GVariant) pad = status_new("pin_pad", "", NULL);
  g_autoptr(GVariant) silent = status_new(NULL, NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(ask(fine, SIGNET_CLIENT_OP_ACTIVATE, NULL), ==, SIGNET_CLIENT_ASK);
  g_assert_cmpint(ask(last, SIGNET_CLIENT_OP_RENEW, NULL), ==, SIGNET_CLIENT_ASK_FINAL_TRY);
  g_assert_cmpint(ask(last, SIGNET_CLIENT_OP_CHANGE_PIN, NULL), ==, SIGNET_CLIENT_ASK_FINAL_TRY);
  /* A locked PIN: nothing is sent, and the message says what to do. */
  g_assert_cmpint(ask(locked, SIGNET_CLIENT_OP_IMPORT, &error), ==, SIGNET_CLIENT_REFUSE);
  g_assert_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_PIN_LOCKED);
  g_assert_nonnull(strstr(error->message, "'Tok'"));
  g_assert_nonnull(strstr(error->message, "PUK"));
  g_clear_error(&error);
  /* The PIN pad asks itself, but not for a PIN change (both PINs are sent). */
  g_assert_cmpint(ask(pad, SIGNET_CLIENT_OP_GENERATE_KEY, NULL), ==, SIGNET_CLIENT_ASK_PIN_PAD);
  g_assert_cmpint(ask(pad, SIGNET_CLIENT_OP_CHANGE_PIN, NULL), ==, SIGNET_CLIENT_ASK);
  /* A status without the dictionaries (the token does not say): ask. */
  g_assert_cmpint(ask(silent, SIGNET_CLIENT_OP_ACTIVATE, NULL), ==, SIGNET_CLIENT_ASK);
}

static void
test_before_secret_puk(void)
{
  g_autoptr(GVariant) pin_locked = status_new("locked", "", "change-pin");
  g_autoptr(GVariant) puk_last = status_new("locked", "final_try", NULL);
  g_autoptr(GVariant) puk_locked = status_new("locked", "locked", NULL);
  g_autoptr(GVariant) unknown = status_new("locked", "", "unknown");
  g_autoptr(GError) error = NULL;

  /* The unblock is what a locked PIN is for. */
  g_assert_cmpint(ask(pin_locked, SIGNET_CLIENT_OP_UNBLOCK_PIN, NULL), ==, SIGNET_CLIENT_ASK);
  g_assert_cmpint(ask(puk_last, SIGNET_CLIENT_OP_UNBLOCK_PIN, NULL), ==,
                  SIGNET_CLIENT_ASK_FINAL_TRY);
  g_assert_cmpint(ask(puk_locked, SIGNET_CLIENT_OP_UNBLOCK_PIN, &error), ==, SIGNET_CLIENT_REFUSE);
  g_assert_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_PUK_LOCKED);
  g_assert_nonnull(strstr(error->message, "new token"));
  g_clear_error(&error);
  /* A guess could spend a PUK try: refused. */
  g_assert_cmpint(ask(unknown, SIGNET_CLIENT_OP_UNBLOCK_PIN, &error), ==, SIGNET_CLIENT_REFUSE);
  g_assert_error(error, SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_NOT_SUPPORTED);
  g_assert_nonnull(strstr(error->message, "unblock-method"));
}

static void
test_op_secret(void)
{
  g_assert_cmpint(signet_client_op_secret(SIGNET_CLIENT_OP_UNBLOCK_PIN), ==,
                  SIGNET_CLIENT_SECRET_PUK);
  for (int op = SIGNET_CLIENT_OP_GENERATE_KEY; op <= SIGNET_CLIENT_OP_CHANGE_PIN; op++)
    g_assert_cmpint(signet_client_op_secret((SignetClientOp)op), ==, SIGNET_CLIENT_SECRET_PIN);
  g_assert_true(signet_client_op_sets_new_pin(SIGNET_CLIENT_OP_CHANGE_PIN));
  g_assert_true(signet_client_op_sets_new_pin(SIGNET_CLIENT_OP_UNBLOCK_PIN));
  g_assert_false(signet_client_op_sets_new_pin(SIGNET_CLIENT_OP_RENEW));
}

static void
test_words(void)
{
  g_autoptr(GVariant) s = status_new("final_try,to_be_changed", "count_low", NULL);
  g_autoptr(GVariant) pin = g_variant_lookup_value(s, "pin", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) puk = g_variant_lookup_value(s, "puk", G_VARIANT_TYPE_VARDICT);
  g_autofree char *pin_words = signet_client_describe_secret_state(pin, FALSE);
  g_autofree char *puk_words = signet_client_describe_secret_state(puk, TRUE);
  g_autofree char *none = signet_client_describe_secret_state(NULL, TRUE);

  g_assert_cmpstr(pin_words, ==, "one try left: a wrong PIN locks it, must be changed");
  g_assert_cmpstr(puk_words, ==, "fewer tries left than the maximum");
  g_assert_cmpstr(none, ==, "unknown");
  g_assert_true(signet_client_state_flag(s, "pin", "final_try"));
  g_assert_false(signet_client_state_flag(s, "puk", "final_try"));
  g_assert_false(signet_client_state_flag(s, "nothing", "final_try"));
}

static char *
not_after(gint64 days, gboolean expired)
{
  GVariantBuilder b;
  g_autoptr(GVariant) d = NULL;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "not_after", g_variant_new_string("2027-12-04T10:00:00Z"));
  g_variant_builder_add(&b, "{sv}", "days_left", g_variant_new_int64(days));
  g_variant_builder_add(&b, "{sv}", "expired", g_variant_new_boolean(expired));
  d = g_variant_ref_sink(g_variant_builder_end(&b));
  return signet_client_format_not_after(d);
}

/* ImportCertificate's chain in words, the same for the CLI and the window. */
static GVariant *
chain_result(gboolean verified, const char *anchor)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(NULL);

  g_variant_dict_insert(&d, "chain_verified", "b", verified);
  if (verified) {
    g_variant_dict_insert(&d, "chain_root", "s", "CN=Root (SHA-256 3F:A2)");
    g_variant_dict_insert(&d, "chain_anchor", "s", anchor);
  } else
    g_variant_dict_insert(&d, "chain_error", "s", "it ends at CN=Other: name the root");
  return g_variant_ref_sink(g_variant_dict_end(&d));
}

static void
test_import_chain(void)
{
  g_autoptr(GVariant) system = chain_result(TRUE, "system");
  g_autoptr(GVariant) anchored = chain_result(TRUE, "anchor");
  g_autoptr(GVariant) not_verified = chain_result(FALSE, NULL);
  g_autofree char *a = signet_client_describe_import_chain(system, "the --anchor file");
  g_autofree char *b = signet_client_describe_import_chain(anchored, "the --anchor file");
  g_autofree char *c = signet_client_describe_import_chain(not_verified, "the --anchor file");

  g_assert_cmpstr(a, ==,
                  "The chain verifies to CN=Root (SHA-256 3F:A2), a root the system trusts.");
  g_assert_cmpstr(b, ==,
                  "The chain verifies to CN=Root (SHA-256 3F:A2), a root from the --anchor file.");
  g_assert_cmpstr(c, ==, "The chain was NOT verified: it ends at CN=Other: name the root.");
}

static void
test_validity(void)
{
  g_autofree char *many = not_after(365, FALSE);
  g_autofree char *one = not_after(1, FALSE);
  g_autofree char *zero = not_after(0, FALSE);
  g_autofree char *past = not_after(-3, TRUE);
  g_autofree char *yesterday = not_after(-1, TRUE);
  g_autoptr(GVariant) zero_time = g_variant_ref_sink(g_variant_new_int64(0));
  g_autoptr(GVariant) not_a_time = g_variant_ref_sink(g_variant_new_string("not a time"));
  g_autofree char *t0 = signet_client_format_time(zero_time);
  g_autofree char *bad = signet_client_format_time(not_a_time);

  g_assert_cmpstr(many, ==, "2027-12-04T10:00:00Z (365 days left)");
  g_assert_cmpstr(one, ==, "2027-12-04T10:00:00Z (1 day left)");
  g_assert_cmpstr(zero, ==, "2027-12-04T10:00:00Z (0 days left)");
  g_assert_cmpstr(past, ==, "2027-12-04T10:00:00Z (expired 3 days ago)");
  g_assert_cmpstr(yesterday, ==, "2027-12-04T10:00:00Z (expired 1 day ago)");
  g_assert_cmpstr(t0, ==, "");
  g_assert_cmpstr(bad, ==, "not a time");
}

static void
test_error_kinds(void)
{
  g_autoptr(GError) remote = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GError) other = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "x");

  g_assert_cmpint(signet_client_error_kind_for_name("io.signet.Error.PinIncorrect"), ==,
                  SIGNET_CLIENT_ERROR_PIN_INCORRECT);
  g_assert_cmpint(signet_client_error_kind_for_name("io.signet.Error.BadUri"), ==,
                  SIGNET_CLIENT_ERROR_INVALID_ARGS);
  g_assert_cmpint(signet_client_error_kind_for_name("io.signet.Error.CaTimeout"), ==,
                  SIGNET_CLIENT_ERROR_CA_UNAVAILABLE);
  g_assert_cmpint(signet_client_error_kind_for_name("io.signet.Error.NoSuchThing"), ==,
                  SIGNET_CLIENT_ERROR_FAILED);
  g_assert_cmpint(signet_client_error_kind_for_name("org.example.PinIncorrect"), ==,
                  SIGNET_CLIENT_ERROR_FAILED);
  g_assert_cmpint(signet_client_error_kind_for_name(NULL), ==, SIGNET_CLIENT_ERROR_FAILED);
  /* Every kind has a name that maps back to it. */
  for (int k = SIGNET_CLIENT_ERROR_FAILED; k <= SIGNET_CLIENT_ERROR_CERTIFICATE_EXISTS; k++)
    g_assert_cmpint(
        signet_client_error_kind_for_name(signet_client_error_name((SignetClientErrorKind)k)), ==,
        k);
  remote = g_dbus_error_new_for_dbus_error("io.signet.Error.PukLocked", "locked");
  g_assert_cmpint(signet_client_error_kind(remote), ==, SIGNET_CLIENT_ERROR_PUK_LOCKED);
  local = g_error_new_literal(SIGNET_CLIENT_ERROR, SIGNET_CLIENT_ERROR_FINAL_TRY, "no");
  g_assert_cmpint(signet_client_error_kind(local), ==, SIGNET_CLIENT_ERROR_FINAL_TRY);
  g_assert_cmpint(signet_client_error_kind(other), ==, SIGNET_CLIENT_ERROR_FAILED);
  g_assert_nonnull(signet_client_error_next_step(SIGNET_CLIENT_ERROR_PIN_LOCKED));
  g_assert_nonnull(strstr(signet_client_error_next_step(SIGNET_CLIENT_ERROR_PIN_LOCKED), "PUK"));
  g_assert_null(signet_client_error_next_step(SIGNET_CLIENT_ERROR_FAILED));
}

static void
test_pem(void)
{
  /* 100 bytes with NULs: 136 base64 characters, so three lines (64, 64, 8). */
  guint8 a[100];
  guint8 b[3] = { 0, 1, 2 };
  GVariantBuilder aay;
  g_autoptr(GVariant) certs = NULL;
  g_autoptr(GVariant) empty = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *b64 = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *body = NULL;
  gsize len = 0;

  for (guint i = 0; i < sizeof a; i++)
    a[i] = (guint8)(i * 7);
  g_variant_builder_init(&aay, G_VARIANT_TYPE("aay"));
  g_variant_builder_add_value(
      &aay, g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, a, sizeof a, sizeof(guint8)));
  g_variant_builder_add_value(
      &aay, g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, b, sizeof b, sizeof(guint8)));
  certs = g_variant_ref_sink(g_variant_builder_end(&aay));
  pem = signet_client_certificates_to_pem(certs);
  lines = g_strsplit(pem, "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 9); /* 5 + 3 lines, and "" after the last \n */
  g_assert_cmpstr(lines[0], ==, "-----BEGIN CERTIFICATE-----");
  g_assert_cmpuint(strlen(lines[1]), ==, 64);
  g_assert_cmpuint(strlen(lines[2]), ==, 64);
  g_assert_cmpuint(strlen(lines[3]), ==, 8);
  g_assert_cmpstr(lines[4], ==, "-----END CERTIFICATE-----");
  b64 = g_base64_encode(b, sizeof b);
  g_assert_cmpstr(lines[6], ==, b64);
  body = g_strconcat(lines[1], lines[2], lines[3], NULL);
  (void)g_base64_decode_inplace(body, &len);
  g_assert_cmpmem(body, len, a, sizeof a);
  /* An empty certificate is no PEM. */
  g_variant_builder_init(&aay, G_VARIANT_TYPE("aay"));
  g_variant_builder_add_value(&aay, g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, b, 0, 1));
  empty = g_variant_ref_sink(g_variant_builder_end(&aay));
  g_assert_null(signet_client_certificates_to_pem(empty));
}

/* Certificate files: bounded before read, in words, sync and async. */
static void
on_read_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  GBytes **out = data;
  g_autoptr(GError) error = NULL;

  (void)source;
  *out = signet_client_read_certfile_finish(res, &error);
  g_assert_no_error(error);
}

static void
test_read_certfile(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) zero = g_file_new_for_path("/dev/zero");
  g_autofree char *dir = g_dir_make_tmp("signet-client-XXXXXX", NULL);
  g_autofree char *empty_path = g_build_filename(dir, "empty.pem", NULL);
  g_autofree char *small_path = g_build_filename(dir, "small.pem", NULL);
  g_autofree char *exact_path = g_build_filename(dir, "exact.der", NULL);
  g_autofree char *exact = g_malloc0(SIGNET_CLIENT_CERTFILE_MAX);
  g_autoptr(GFile) empty = NULL, small = NULL, exactly = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GBytes *async_bytes = NULL;

  g_assert_true(g_file_set_contents(empty_path, "", 0, NULL));
  g_assert_true(g_file_set_contents(small_path, "-----BEGIN CERTIFICATE-----\n", -1, NULL));
  g_assert_true(g_file_set_contents(exact_path, exact, SIGNET_CLIENT_CERTFILE_MAX, NULL));
  empty = g_file_new_for_path(empty_path);
  small = g_file_new_for_path(small_path);
  exactly = g_file_new_for_path(exact_path);

  g_assert_null(signet_client_read_certfile(zero, NULL, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_nonnull(strstr(error->message, "/dev/zero is larger than 1 MiB"));
  g_clear_error(&error);
  g_assert_null(signet_client_read_certfile(empty, NULL, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error(&error);
  bytes = signet_client_read_certfile(exactly, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_bytes_get_size(bytes), ==, SIGNET_CLIENT_CERTFILE_MAX);
  g_clear_pointer(&bytes, g_bytes_unref);

  signet_client_read_certfile_async(small, NULL, on_read_cb, &async_bytes);
  while (async_bytes == NULL)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpuint(g_bytes_get_size(async_bytes), ==, 28);
  g_bytes_unref(async_bytes);

  g_assert_cmpint(g_remove(empty_path), ==, 0);
  g_assert_cmpint(g_remove(small_path), ==, 0);
  g_assert_cmpint(g_remove(exact_path), ==, 0);
  g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/client/before-secret/pin", test_before_secret_pin);
  g_test_add_func("/client/before-secret/puk", test_before_secret_puk);
  g_test_add_func("/client/op-secret", test_op_secret);
  g_test_add_func("/client/words", test_words);
  g_test_add_func("/client/validity", test_validity);
  g_test_add_func("/client/import-chain", test_import_chain);
  g_test_add_func("/client/error-kinds", test_error_kinds);
  g_test_add_func("/client/pem", test_pem);
  g_test_add_func("/client/read-certfile", test_read_certfile);
  return g_test_run();
}
