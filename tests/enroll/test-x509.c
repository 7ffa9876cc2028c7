/* test-x509.c: enroll/signet-x509.h: certificate files, describing
 * certificates, subjects, certificate requests.
 *
 * The certificates are made at test time with OpenSSL's API (a root CA, an
 * intermediate CA, leaves); where the `openssl` command is installed it also
 * makes a PKCS#7 bundle and checks a request independently. Chain
 * verification is tested against roots given explicitly: a root that comes
 * with the chain never verifies it (docs/internals/trust.md).
 */
#include "config.h"

#include "enroll/signet-x509.h"
#include "enroll/signet-enroll-private.h"
#include "tests/testutil/signet-test-util.h"

#include <glib/gstdio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <string.h>

/* 2027-11-21T13:37:00Z */
#define FIXED_NOT_AFTER ((time_t)1826804220)

typedef struct
{
  EVP_PKEY *root_key, *inter_key, *leaf_key;
  X509 *root, *inter, *leaf;
  X509 *self_signed_leaf; /* no basicConstraints */
  X509_CRL *crl;
  char *tmpdir;
  char *openssl; /* the openssl command, or NULL */
} Chain;

static Chain chain;

/* ---- making certificates ---- */

static EVP_PKEY *
make_ec_key(void)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");

  g_assert_nonnull(key);
  return key;
}

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509_EXTENSION *ext;

  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  g_assert_nonnull(ext);
  g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
  X509_EXTENSION_free(ext);
}

/* @rdns: "C", "PL", "O", "…", …, NULL, in DER order (most significant first,
 * as CAs issue them). */
static X509_NAME *
make_name(const char *const *rdns)
{
  X509_NAME *name = X509_NAME_new();

  for (; rdns[0] != NULL; rdns += 2)
    g_assert_cmpint(X509_NAME_add_entry_by_txt(name, rdns[0], MBSTRING_UTF8,
                                               (const unsigned char *)rdns[1], -1, -1, 0),
                    ==, 1);
  return name;
}

/* @ca: "CA:TRUE", "CA:FALSE" or NULL (no basicConstraints). */
static X509 *
make_cert(const char *const *rdns, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
          const char *ca, const char *serial_hex, time_t not_after)
{
  X509 *cert = X509_new();
  g_autoptr(X509_NAME) name = make_name(rdns);
  g_autoptr(BIGNUM) bn = NULL;

  g_assert_cmpint(X509_set_version(cert, 2), ==, 1);
  g_assert_cmpint(BN_hex2bn(&bn, serial_hex), >, 0);
  g_assert_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)));
  g_assert_cmpint(X509_set_subject_name(cert, name), ==, 1);
  g_assert_cmpint(X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name),
                  ==, 1);
  g_assert_nonnull(X509_time_adj_ex(X509_getm_notBefore(cert), -1, 0, NULL));
  g_assert_nonnull(ASN1_TIME_set(X509_getm_notAfter(cert), not_after));
  g_assert_cmpint(X509_set_pubkey(cert, key), ==, 1);
  if (ca != NULL)
    add_ext(cert, issuer != NULL ? issuer : cert, NID_basic_constraints, ca);
  add_ext(cert, issuer != NULL ? issuer : cert, NID_subject_key_identifier, "hash");
  /* As CAs issue them: the issuer's key identifier, which tells apart two
   * CAs of the same name. */
  if (issuer != NULL)
    add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
  g_assert_cmpint(X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha256()), >, 0);
  return cert;
}

static X509_CRL *
make_crl(X509 *issuer, EVP_PKEY *issuer_key)
{
  X509_CRL *crl = X509_CRL_new();
  g_autoptr(ASN1_TIME) now = ASN1_TIME_set(NULL, time(NULL));

  g_assert_cmpint(X509_CRL_set_version(crl, 1), ==, 1);
  g_assert_cmpint(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), ==, 1);
  g_assert_cmpint(X509_CRL_set1_lastUpdate(crl, now), ==, 1);
  g_assert_cmpint(X509_CRL_sign(crl, issuer_key, EVP_sha256()), >, 0);
  return crl;
}

/* ---- encodings ---- */

static GBytes *
bio_to_bytes(BIO *bio)
{
  char *data = NULL;
  long len = BIO_get_mem_data(bio, &data);

  g_assert_cmpint(len, >, 0);
  return g_bytes_new(data, (gsize)len);
}

static GBytes *
cert_pem(X509 *cert)
{
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());

  g_assert_cmpint(PEM_write_bio_X509(bio, cert), ==, 1);
  return bio_to_bytes(bio);
}

static GBytes *
cert_der(X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509(cert, &der);
  GBytes *bytes;

  g_assert_cmpint(len, >, 0);
  bytes = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  return bytes;
}

/* A certs-only PKCS#7 signed-data, as `openssl crl2pkcs7` makes it. */
static PKCS7 *
make_pkcs7(X509 *const *certs, gsize n, X509_CRL *crl)
{
  PKCS7 *p7 = PKCS7_new();

  g_assert_cmpint(PKCS7_set_type(p7, NID_pkcs7_signed), ==, 1);
  g_assert_cmpint(PKCS7_content_new(p7, NID_pkcs7_data), ==, 1);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpint(PKCS7_add_certificate(p7, certs[i]), ==, 1);
  if (crl != NULL)
    g_assert_cmpint(PKCS7_add_crl(p7, crl), ==, 1);
  return p7;
}

static GBytes *
pkcs7_der(X509 *const *certs, gsize n, X509_CRL *crl)
{
  g_autoptr(PKCS7) p7 = make_pkcs7(certs, n, crl);
  unsigned char *der = NULL;
  int len = i2d_PKCS7(p7, &der);
  GBytes *bytes;

  g_assert_cmpint(len, >, 0);
  bytes = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  return bytes;
}

static GBytes *
pkcs7_pem(X509 *const *certs, gsize n)
{
  g_autoptr(PKCS7) p7 = make_pkcs7(certs, n, NULL);
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());

  g_assert_cmpint(PEM_write_bio_PKCS7(bio, p7), ==, 1);
  return bio_to_bytes(bio);
}

/* Base64 with a line break ("\r\n") every @width characters (0: none). */
static GBytes *
bare_base64(GBytes *der, guint width)
{
  g_autofree char *b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
  GString *out = g_string_new(NULL);

  for (gsize i = 0; b64[i] != '\0'; i++) {
    g_string_append_c(out, b64[i]);
    if (width > 0 && (i + 1) % width == 0)
      g_string_append(out, "\r\n");
  }
  g_string_append(out, "\r\n");
  return g_string_free_to_bytes(out);
}

static GBytes *
concat(GBytes *first, ...)
{
  GByteArray *out = g_byte_array_new();
  va_list args;

  va_start(args, first);
  for (GBytes *b = first; b != NULL; b = va_arg(args, GBytes *))
    g_byte_array_append(out, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
  va_end(args);
  return g_byte_array_free_to_bytes(out);
}

static GBytes *
text(const char *s)
{
  return g_bytes_new(s, strlen(s));
}

/* ---- checks ---- */

static GPtrArray *
parse_ok(GBytes *data)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *certs
      = signet_certfile_parse(g_bytes_get_data(data, NULL), g_bytes_get_size(data), &error);

  g_assert_no_error(error);
  g_assert_nonnull(certs);
  g_assert_cmpuint(certs->len, >, 0);
  return certs;
}

static void
assert_certs(GPtrArray *certs, X509 *const *expected, gsize n)
{
  g_assert_cmpuint(certs->len, ==, n);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpint(X509_cmp(g_ptr_array_index(certs, i), expected[i]), ==, 0);
}

static void
assert_bad_input(GBytes *data, const char *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs
      = signet_certfile_parse(g_bytes_get_data(data, NULL), g_bytes_get_size(data), &error);

  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
  if (strstr(error->message, message_part) == NULL)
    g_error("message \"%s\" does not contain \"%s\"", error->message, message_part);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

/* Runs @argv, a command of the test's own making, in the temporary directory. */
static void
run(const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_true(g_spawn_sync(chain.tmpdir, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                             NULL, NULL, &err, &status, &error));
  g_assert_no_error(error);
  if (!g_spawn_check_wait_status(status, NULL))
    g_error("%s failed: %s", argv[1], err);
}

static char *
tmp_path(const char *name)
{
  return g_build_filename(chain.tmpdir, name, NULL);
}

static void
write_tmp(const char *name, GBytes *data)
{
  g_autofree char *path = tmp_path(name);
  g_autoptr(GError) error = NULL;

  g_file_set_contents(path, g_bytes_get_data(data, NULL), (gssize)g_bytes_get_size(data), &error);
  g_assert_no_error(error);
}

static GBytes *
read_tmp(const char *name)
{
  g_autofree char *path = tmp_path(name);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_file_get_contents(path, &data, &len, &error);
  g_assert_no_error(error);
  return g_bytes_new_take(data, len);
}

/* ---- certificate files ---- */

static void
test_certfile_pem(void)
{
  g_autoptr(GBytes) pem = cert_pem(chain.leaf);
  g_autoptr(GPtrArray) certs = parse_ok(pem);

  assert_certs(certs, &chain.leaf, 1);
}

static void
test_certfile_der(void)
{
  g_autoptr(GBytes) der = cert_der(chain.leaf);
  g_autoptr(GPtrArray) certs = parse_ok(der);

  assert_certs(certs, &chain.leaf, 1);
}

static void
test_certfile_der_concatenated(void)
{
  g_autoptr(GBytes) a = cert_der(chain.leaf);
  g_autoptr(GBytes) b = cert_der(chain.inter);
  g_autoptr(GBytes) both = concat(a, b, NULL);
  g_autoptr(GPtrArray) certs = parse_ok(both);
  X509 *expected[] = { chain.leaf, chain.inter };

  assert_certs(certs, expected, 2);
}

static void
test_certfile_bundle(void)
{
  g_autoptr(GBytes) leaf = cert_pem(chain.leaf);
  g_autoptr(GBytes) inter = cert_pem(chain.inter);
  g_autoptr(GBytes) root = cert_pem(chain.root);
  g_autoptr(GBytes) bag = text("Bag Attributes\n    localKeyID: 01 00 00 00\n"
                               "    friendlyName: Jan Kowalski\n"
                               "subject=C = PL, O = Signet Test, CN = Leaf\n");
  g_autoptr(GBytes) comment = text("\n# the intermediate CA\r\nissuer: Root\n\n");
  g_autoptr(GBytes) tail = text("\n-- end of bundle --\n");
  g_autoptr(GBytes) bundle = concat(bag, leaf, comment, inter, root, tail, NULL);
  g_autoptr(GPtrArray) certs = parse_ok(bundle);
  X509 *expected[] = { chain.leaf, chain.inter, chain.root };

  assert_certs(certs, expected, 3);
}

static void
test_certfile_bundle_crlf(void)
{
  g_autoptr(GBytes) leaf = cert_pem(chain.leaf);
  g_autoptr(GBytes) root = cert_pem(chain.root);
  g_autoptr(GBytes) both = concat(leaf, root, NULL);
  g_autofree char *unix_text = g_strndup(g_bytes_get_data(both, NULL), g_bytes_get_size(both));
  g_auto(GStrv) lines = g_strsplit(unix_text, "\n", -1);
  g_autofree char *dos_text = g_strjoinv("\r\n", lines);
  g_autoptr(GBytes) dos = text(dos_text);
  g_autoptr(GPtrArray) certs = parse_ok(dos);
  X509 *expected[] = { chain.leaf, chain.root };

  assert_certs(certs, expected, 2);
}

/* PEM text of @der as a portal or a copy and paste leaves it: armour @name,
 * base64 lines of @width characters (0: one line) ending in @eol, each line
 * of the body after @indent. */
static GBytes *
pem_text(GBytes *der, const char *name, guint width, const char *eol, const char *indent)
{
  g_autofree char *b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
  GString *out = g_string_new(NULL);
  gsize n = strlen(b64);

  g_string_append_printf(out, "-----BEGIN %s-----%s", name, eol);
  for (gsize i = 0; i<n; i += width> 0 ? width : n)
    g_string_append_printf(out, "%s%.*s%s", indent, (int)(width > 0 ? width : n), b64 + i, eol);
  g_string_append_printf(out, "-----END %s-----\n", name);
  return g_string_free_to_bytes(out);
}

/* What CA portals and copying from their pages hand out, beyond plain PEM. */
static void
test_certfile_portal_forms(void)
{
  X509 *bag[] = { chain.leaf, chain.inter, chain.root };
  X509 *leaf_only[] = { chain.leaf };
  X509 *leaf_root[] = { chain.leaf, chain.root };
  g_autoptr(GBytes) leaf_der = cert_der(chain.leaf);
  g_autoptr(GBytes) root_pem = cert_pem(chain.root);
  g_autoptr(GBytes) p7_der = pkcs7_der(bag, 3, NULL);
  struct
  {
    const char *what;
    GBytes *data;
    X509 **expected;
    gsize n;
  } good[] = {
    /* Microsoft AD CS web enrollment: "Base 64 encoded" chain, a .p7b whose
     * PKCS#7 is armoured as CERTIFICATE. */
    { "PKCS#7 in CERTIFICATE armour", pem_text(p7_der, "CERTIFICATE", 64, "\r\n", ""), bag, 3 },
    /* Pasted from a web form: the line breaks lost, or turned into spaces. */
    { "one line", pem_text(leaf_der, "CERTIFICATE", 0, "", ""), leaf_only, 1 },
    { "spaces for line breaks", pem_text(leaf_der, "CERTIFICATE", 64, " ", ""), leaf_only, 1 },
    /* From an e-mail or a web page: indented, a blank line, CR line ends. */
    { "indented", pem_text(leaf_der, "CERTIFICATE", 64, "\n", "    "), leaf_only, 1 },
    { "CR line ends", pem_text(leaf_der, "CERTIFICATE", 76, "\r", ""), leaf_only, 1 },
    { "tabs", pem_text(leaf_der, "CERTIFICATE", 64, "\n\t", ""), leaf_only, 1 },
    { "short lines, blank lines", pem_text(leaf_der, "CERTIFICATE", 16, "\n\n", ""), leaf_only, 1 },
    { "PKCS #7 SIGNED DATA on one line", pem_text(p7_der, "PKCS #7 SIGNED DATA", 0, "", ""), bag,
      3 },
  };
  g_autoptr(GBytes) one_line = pem_text(leaf_der, "CERTIFICATE", 0, "", "");
  /* OpenSSL's reader skips a line it does not take as a BEGIN line and
   * would have read the root in the leaf's place. */
  g_autoptr(GBytes) one_line_then_root = concat(one_line, root_pem, NULL);
  g_autoptr(GBytes) prose
      = text("Paste everything from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE----- "
             "into the form. Your certificate:\n");
  g_autoptr(GBytes) prose_then_leaf = concat(prose, one_line, root_pem, NULL);
  g_autoptr(GBytes) quoted = NULL, bad_char = NULL, header = NULL, prose_only = NULL;
  g_autoptr(GString) damaged = NULL;

  for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
    g_autoptr(GPtrArray) certs = NULL;

    g_test_message("%s", good[i].what);
    certs = parse_ok(good[i].data);
    assert_certs(certs, good[i].expected, good[i].n);
    g_bytes_unref(good[i].data);
  }
  {
    g_autoptr(GPtrArray) certs = parse_ok(one_line_then_root);

    assert_certs(certs, leaf_root, 2);
  }
  {
    g_autoptr(GPtrArray) certs = parse_ok(prose_then_leaf);

    assert_certs(certs, leaf_root, 2);
  }

  /* Only whitespace is forgiven. */
  quoted = pem_text(leaf_der, "CERTIFICATE", 64, "\n", "> ");
  assert_bad_input(quoted, "PEM block 1 is damaged");
  damaged = g_string_new_len(g_bytes_get_data(one_line, NULL), g_bytes_get_size(one_line));
  damaged->str[60] = '!';
  bad_char = text(damaged->str);
  assert_bad_input(bad_char, "PEM block 1 is damaged");
  header = text("-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nMIIB\n"
                "-----END CERTIFICATE-----\n");
  assert_bad_input(header, "PEM block 1 (\"CERTIFICATE\") is damaged");
  /* A PKCS#7 that is no certificate in CERTIFICATE armour stays damaged. */
  {
    g_autoptr(GBytes) crl_der = NULL;
    g_autoptr(GBytes) crl_pem = NULL;
    unsigned char *der = NULL;
    int len = i2d_X509_CRL(chain.crl, &der);

    g_assert_cmpint(len, >, 0);
    crl_der = g_bytes_new(der, (gsize)len);
    OPENSSL_free(der);
    crl_pem = pem_text(crl_der, "CERTIFICATE", 64, "\n", "");
    assert_bad_input(crl_pem, "PEM block 1 (\"CERTIFICATE\") is damaged");
  }
  /* A mention of the armour alone is text. */
  prose_only = text("Save the part from -----BEGIN CERTIFICATE----- on.\n");
  assert_bad_input(prose_only, "text without a PEM block");
}

static void
test_certfile_duplicates(void)
{
  g_autoptr(GBytes) leaf = cert_pem(chain.leaf);
  g_autoptr(GBytes) root = cert_pem(chain.root);
  g_autoptr(GBytes) file = concat(leaf, root, leaf, root, NULL);
  g_autoptr(GPtrArray) certs = parse_ok(file);
  X509 *expected[] = { chain.leaf, chain.root };

  assert_certs(certs, expected, 2);
}

static void
test_certfile_pkcs7_der(void)
{
  /* The bag's order, not the chain's. */
  X509 *bag[] = { chain.inter, chain.leaf, chain.root };
  g_autoptr(GBytes) p7 = pkcs7_der(bag, 3, NULL);
  g_autoptr(GBytes) p7_crl = pkcs7_der(bag, 3, chain.crl);
  g_autoptr(GPtrArray) certs = parse_ok(p7);
  g_autoptr(GPtrArray) certs_crl = parse_ok(p7_crl);

  assert_certs(certs, bag, 3);
  assert_certs(certs_crl, bag, 3);
}

static void
test_certfile_pkcs7_pem(void)
{
  X509 *bag[] = { chain.leaf, chain.inter, chain.root };
  g_autoptr(GBytes) p7 = pkcs7_pem(bag, 3);
  g_autoptr(GPtrArray) certs = parse_ok(p7);

  g_assert_nonnull(g_strstr_len(g_bytes_get_data(p7, NULL), 40, "-----BEGIN PKCS7-----"));
  assert_certs(certs, bag, 3);
}

static void
test_certfile_pkcs7_openssl(void)
{
  g_autoptr(GBytes) leaf = cert_pem(chain.leaf);
  g_autoptr(GBytes) inter = cert_pem(chain.inter);
  g_autoptr(GBytes) root = cert_pem(chain.root);
  g_autoptr(GBytes) bundle = concat(leaf, inter, root, NULL);
  g_autoptr(GBytes) der = NULL, pem = NULL;
  g_autoptr(GPtrArray) certs_der = NULL, certs_pem = NULL;
  const char *to_der[] = { chain.openssl, "crl2pkcs7", "-nocrl", "-certfile", "bundle.pem",
                           "-outform",    "DER",       "-out",   "chain.p7b", NULL };
  const char *to_pem[] = { chain.openssl, "crl2pkcs7", "-nocrl",    "-certfile",
                           "bundle.pem",  "-out",      "chain.p7c", NULL };
  X509 *expected[] = { chain.leaf, chain.inter, chain.root };

  if (chain.openssl == NULL) {
    g_test_skip("the openssl command is not installed (apt-get install openssl)");
    return;
  }
  write_tmp("bundle.pem", bundle);
  run(to_der);
  run(to_pem);
  der = read_tmp("chain.p7b");
  pem = read_tmp("chain.p7c");
  certs_der = parse_ok(der);
  certs_pem = parse_ok(pem);
  assert_certs(certs_der, expected, 3);
  assert_certs(certs_pem, expected, 3);
}

static void
test_certfile_pem_names(void)
{
  g_autoptr(GBytes) pem = cert_pem(chain.leaf);
  g_autofree char *old = NULL;
  g_autoptr(GBytes) old_bytes = NULL;
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
  g_autoptr(GBytes) trusted = NULL;
  g_autoptr(X509) root = NULL;
  g_autoptr(GPtrArray) certs_old = NULL, certs_trusted = NULL;
  g_autoptr(GString) s = g_string_new_len(g_bytes_get_data(pem, NULL), g_bytes_get_size(pem));

  g_string_replace(s, "CERTIFICATE-----", "X509 CERTIFICATE-----", 0);
  old_bytes = text(s->str);
  certs_old = parse_ok(old_bytes);
  assert_certs(certs_old, &chain.leaf, 1);

  root = X509_dup(chain.root);
  g_assert_cmpint(X509_add1_trust_object(root, OBJ_nid2obj(NID_server_auth)), ==, 1);
  g_assert_cmpint(PEM_write_bio_X509_AUX(bio, root), ==, 1);
  trusted = bio_to_bytes(bio);
  g_assert_nonnull(
      g_strstr_len(g_bytes_get_data(trusted, NULL), 40, "-----BEGIN TRUSTED CERTIFICATE"));
  certs_trusted = parse_ok(trusted);
  assert_certs(certs_trusted, &chain.root, 1);
}

/* PEM saved as UTF-16 by a Windows editor, either byte order. */
static void
test_certfile_utf16(void)
{
  g_autoptr(GBytes) pem = cert_pem(chain.leaf);
  gsize len = g_bytes_get_size(pem);
  const guint8 *text8 = g_bytes_get_data(pem, NULL);
  g_autofree guint8 *le = g_malloc(2 + 2 * len);
  g_autofree guint8 *be = g_malloc(2 + 2 * len);
  g_autoptr(GBytes) le_bytes = NULL, be_bytes = NULL, odd = NULL;
  g_autoptr(GPtrArray) certs_le = NULL, certs_be = NULL;

  le[0] = 0xff, le[1] = 0xfe, be[0] = 0xfe, be[1] = 0xff;
  for (gsize i = 0; i < len; i++) {
    le[2 + 2 * i] = text8[i], le[3 + 2 * i] = 0;
    be[2 + 2 * i] = 0, be[3 + 2 * i] = text8[i];
  }
  le_bytes = g_bytes_new(le, 2 + 2 * len);
  be_bytes = g_bytes_new(be, 2 + 2 * len);
  certs_le = parse_ok(le_bytes);
  certs_be = parse_ok(be_bytes);
  assert_certs(certs_le, &chain.leaf, 1);
  assert_certs(certs_be, &chain.leaf, 1);

  /* An odd length is not UTF-16: no crash, a plain refusal. */
  odd = g_bytes_new(le, 2 + 2 * len - 1);
  assert_bad_input(odd, "Not a certificate");
}

static void
test_certfile_mixed(void)
{
  X509 *bag[] = { chain.inter, chain.root };
  g_autoptr(GBytes) p7 = pkcs7_pem(bag, 2);
  g_autoptr(GBytes) leaf = cert_pem(chain.leaf);
  g_autoptr(GBytes) root = cert_pem(chain.root);
  g_autoptr(GBytes) file = concat(leaf, p7, root, NULL);
  g_autoptr(GPtrArray) certs = parse_ok(file);
  X509 *expected[] = { chain.leaf, chain.inter, chain.root };

  assert_certs(certs, expected, 3);
}

static void
test_certfile_base64(void)
{
  X509 *bag[] = { chain.leaf, chain.inter };
  g_autoptr(GBytes) p7 = pkcs7_der(bag, 2, NULL);
  g_autoptr(GBytes) der = cert_der(chain.leaf);
  g_autoptr(GBytes) p7_b64 = bare_base64(p7, 76);
  g_autoptr(GBytes) der_b64 = bare_base64(der, 0);
  g_autoptr(GPtrArray) certs_p7 = parse_ok(p7_b64);
  g_autoptr(GPtrArray) certs_der = parse_ok(der_b64);
  g_autofree char *unpadded = NULL;
  g_autoptr(GBytes) unpadded_bytes = NULL;
  g_autoptr(GPtrArray) certs_unpadded = NULL;

  assert_certs(certs_p7, bag, 2);
  assert_certs(certs_der, &chain.leaf, 1);

  /* Without the trailing '=' (some servers strip it), if the length needs it. */
  unpadded = g_strndup(g_bytes_get_data(der_b64, NULL), g_bytes_get_size(der_b64));
  g_strstrip(unpadded);
  if (g_str_has_suffix(unpadded, "=")) {
    while (g_str_has_suffix(unpadded, "="))
      unpadded[strlen(unpadded) - 1] = '\0';
    unpadded_bytes = text(unpadded);
    certs_unpadded = parse_ok(unpadded_bytes);
    assert_certs(certs_unpadded, &chain.leaf, 1);
  }
}

static void
test_certfile_cert_and_key(void)
{
  g_autoptr(GBytes) leaf = cert_pem(chain.leaf);
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
  g_autoptr(GBytes) key = NULL, file = NULL;
  g_autoptr(GPtrArray) certs = NULL;

  g_assert_cmpint(PEM_write_bio_PrivateKey(bio, chain.leaf_key, NULL, NULL, 0, NULL, NULL), ==, 1);
  key = bio_to_bytes(bio);
  file = concat(key, leaf, NULL);
  certs = parse_ok(file);
  assert_certs(certs, &chain.leaf, 1);
}

static void
test_certfile_private_key(void)
{
  g_autoptr(BIO) pkcs8 = BIO_new(BIO_s_mem());
  g_autoptr(BIO) traditional = BIO_new(BIO_s_mem());
  g_autoptr(BIO) der = BIO_new(BIO_s_mem());
  g_autoptr(GBytes) pkcs8_bytes = NULL, traditional_bytes = NULL, der_bytes = NULL;

  g_assert_cmpint(PEM_write_bio_PrivateKey(pkcs8, chain.leaf_key, NULL, NULL, 0, NULL, NULL), ==,
                  1);
  g_assert_cmpint(
      PEM_write_bio_PrivateKey_traditional(traditional, chain.leaf_key, NULL, NULL, 0, NULL, NULL),
      ==, 1);
  g_assert_cmpint(i2d_PKCS8PrivateKey_bio(der, chain.leaf_key, NULL, NULL, 0, NULL, NULL), ==, 1);
  pkcs8_bytes = bio_to_bytes(pkcs8);
  traditional_bytes = bio_to_bytes(traditional);
  der_bytes = bio_to_bytes(der);
  g_assert_nonnull(g_strstr_len(g_bytes_get_data(traditional_bytes, NULL), 40, "EC PRIVATE"));

  assert_bad_input(pkcs8_bytes, "The file holds a private key, not a certificate: import the "
                                "certificate your CA issued");
  assert_bad_input(traditional_bytes, "The file holds a private key, not a certificate");
  assert_bad_input(der_bytes, "The file holds a private key, not a certificate");
}

static void
test_certfile_pkcs12(void)
{
  g_autoptr(PKCS12) p12
      = PKCS12_create("test", "leaf", chain.leaf_key, chain.leaf, NULL, 0, 0, 0, 0, 0);
  unsigned char *der = NULL;
  int len;
  g_autoptr(GBytes) bytes = NULL;

  g_assert_nonnull(p12);
  len = i2d_PKCS12(p12, &der);
  g_assert_cmpint(len, >, 0);
  bytes = g_bytes_new(der, (gsize)len);
  OPENSSL_free(der);
  assert_bad_input(bytes, "PKCS#12");
}

static GBytes *
make_csr_pem(void)
{
  g_autoptr(X509_REQ) req = X509_REQ_new();
  g_autoptr(X509_NAME) name = make_name((const char *[]){ "CN", "Request", NULL });
  g_autoptr(BIO) bio = BIO_new(BIO_s_mem());

  X509_REQ_set_subject_name(req, name);
  X509_REQ_set_pubkey(req, chain.leaf_key);
  g_assert_cmpint(X509_REQ_sign(req, chain.leaf_key, EVP_sha256()), >, 0);
  g_assert_cmpint(PEM_write_bio_X509_REQ(bio, req), ==, 1);
  return bio_to_bytes(bio);
}

static void
test_certfile_csr(void)
{
  g_autoptr(GBytes) pem = make_csr_pem();
  g_autoptr(BIO) bio = BIO_new_mem_buf(g_bytes_get_data(pem, NULL), (int)g_bytes_get_size(pem));
  g_autoptr(X509_REQ) req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
  unsigned char *der = NULL;
  int len = i2d_X509_REQ(req, &der);
  g_autoptr(GBytes) der_bytes = g_bytes_new(der, (gsize)len);
  g_autoptr(GString) new_pem = g_string_new_len(g_bytes_get_data(pem, NULL), g_bytes_get_size(pem));
  g_autoptr(GBytes) new_pem_bytes = NULL;

  OPENSSL_free(der);
  g_string_replace(new_pem, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", 0);
  new_pem_bytes = text(new_pem->str);

  assert_bad_input(pem, "The file is a certificate request (CSR), not a certificate: send it "
                        "to your CA and import what it returns");
  assert_bad_input(der_bytes, "certificate request (CSR)");
  assert_bad_input(new_pem_bytes, "certificate request (CSR)");
}

static void
test_certfile_other_kinds(void)
{
  g_autoptr(BIO) crl_bio = BIO_new(BIO_s_mem());
  g_autoptr(BIO) pub_bio = BIO_new(BIO_s_mem());
  g_autoptr(GBytes) crl = NULL, pub = NULL, empty_p7 = NULL, unknown = NULL;

  g_assert_cmpint(PEM_write_bio_X509_CRL(crl_bio, chain.crl), ==, 1);
  g_assert_cmpint(PEM_write_bio_PUBKEY(pub_bio, chain.leaf_key), ==, 1);
  crl = bio_to_bytes(crl_bio);
  pub = bio_to_bytes(pub_bio);
  empty_p7 = pkcs7_der(NULL, 0, chain.crl);
  unknown = text("-----BEGIN DH PARAMETERS-----\nMAYCAQACAQI=\n-----END DH PARAMETERS-----\n");

  assert_bad_input(crl, "revocation list (CRL), not a certificate");
  assert_bad_input(pub, "public key, not a certificate");
  assert_bad_input(empty_p7, "PKCS#7 data holds no certificate");
  assert_bad_input(unknown, "PEM block \"DH PARAMETERS\", not a certificate");
}

static void
test_certfile_empty(void)
{
  g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
  g_autoptr(GBytes) blank = text(" \r\n\t\n");
  g_autoptr(GError) error = NULL;

  assert_bad_input(empty, "The file is empty");
  assert_bad_input(blank, "The file is empty");
  g_assert_null(signet_certfile_parse(NULL, 0, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
}

static void
test_certfile_garbage(void)
{
  g_autoptr(GBytes) words = text("Hello, this is not a certificate.\n");
  g_autoptr(GBytes) base64_junk = text("SGVsbG8gd29ybGQsIG5vdCBERVIK\n");
  guint8 random_bytes[512];
  g_autoptr(GBytes) binary = NULL;
  GRand *rand = g_rand_new_with_seed(7);

  for (gsize i = 0; i < sizeof random_bytes; i++)
    random_bytes[i] = (guint8)g_rand_int_range(rand, 0, 256);
  random_bytes[0] = 0x01;
  g_rand_free(rand);
  binary = g_bytes_new(random_bytes, sizeof random_bytes);

  assert_bad_input(words, "Not a certificate");
  assert_bad_input(words, "expected PEM, DER or PKCS#7 (.p7b) data");
  assert_bad_input(base64_junk, "Not a certificate");
  assert_bad_input(binary, "Not a certificate: expected PEM, DER or PKCS#7 (.p7b) data");
}

static void
test_certfile_truncated(void)
{
  g_autoptr(GBytes) pem = cert_pem(chain.leaf);
  g_autoptr(GBytes) der = cert_der(chain.leaf);
  g_autoptr(GBytes) pem_half = g_bytes_new_from_bytes(pem, 0, g_bytes_get_size(pem) / 2);
  g_autoptr(GBytes) der_half = g_bytes_new_from_bytes(der, 0, g_bytes_get_size(der) / 2);
  g_autoptr(GBytes) der_short = g_bytes_new_from_bytes(der, 0, g_bytes_get_size(der) - 1);
  g_autoptr(GBytes) begin_only = text("-----BEGIN CERTIFICATE");
  g_autofree char *der_half_message = g_strdup_printf(
      "cut short: it has %" G_GSIZE_FORMAT " bytes, its header announces %" G_GSIZE_FORMAT,
      g_bytes_get_size(der_half), g_bytes_get_size(der));

  assert_bad_input(pem_half, "PEM block 1 is damaged (it has no END line: the file is cut short)");
  assert_bad_input(der_half, der_half_message);
  assert_bad_input(der_short, "cut short");
  assert_bad_input(begin_only, "PEM block 1 is damaged (its BEGIN line is incomplete)");
}

static void
test_certfile_damaged_block(void)
{
  g_autoptr(GBytes) leaf = cert_pem(chain.leaf);
  g_autoptr(GBytes) root = cert_pem(chain.root);
  g_autoptr(GString) broken
      = g_string_new_len(g_bytes_get_data(root, NULL), g_bytes_get_size(root));
  g_autoptr(GBytes) broken_bytes = NULL, file = NULL;
  gsize first_line_end = (gsize)(strchr(broken->str, '\n') - broken->str) + 1;
  g_autoptr(GString) bad_char = NULL;
  g_autoptr(GBytes) bad_char_bytes = NULL, file2 = NULL;

  /* Block 2 loses a line of its base64: still base64, no longer DER. */
  g_string_erase(broken, (gssize)first_line_end, 65);
  broken_bytes = text(broken->str);
  file = concat(leaf, broken_bytes, NULL);
  assert_bad_input(file, "PEM block 2 (\"CERTIFICATE\") is damaged (");

  /* Block 2 has a character that is not base64. */
  bad_char = g_string_new_len(g_bytes_get_data(root, NULL), g_bytes_get_size(root));
  bad_char->str[first_line_end + 10] = '!';
  bad_char_bytes = text(bad_char->str);
  file2 = concat(leaf, bad_char_bytes, NULL);
  assert_bad_input(file2, "PEM block 2 is damaged (");
}

static void
test_certfile_oversize(void)
{
  gsize len = SIGNET_CERTFILE_MAX + 1;
  g_autofree guint8 *data = g_malloc0(len);
  g_autoptr(GBytes) pem = cert_pem(chain.leaf);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = NULL;

  /* A valid certificate at the start does not make it acceptable. */
  memset(data, '\n', len);
  memcpy(data, g_bytes_get_data(pem, NULL), g_bytes_get_size(pem));
  certs = signet_certfile_parse(data, len, &error);
  g_assert_null(certs);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
  g_assert_nonnull(strstr(error->message, "too large"));
}

static void
test_certfile_too_many(void)
{
  GByteArray *file = g_byte_array_new();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GPtrArray) certs = NULL;
  const char *const rdns[] = { "CN", "Many", NULL };

  for (int i = 0; i <= SIGNET_CERTFILE_MAX_CERTS; i++) {
    g_autofree char *serial = g_strdup_printf("%x", i + 1);
    g_autoptr(X509) cert = make_cert(rdns, chain.leaf_key, chain.root, chain.root_key, "CA:FALSE",
                                     serial, FIXED_NOT_AFTER);
    g_autoptr(GBytes) pem = cert_pem(cert);

    g_byte_array_append(file, g_bytes_get_data(pem, NULL), g_bytes_get_size(pem));
    /* Exactly the maximum is fine. */
    if (i == SIGNET_CERTFILE_MAX_CERTS - 1) {
      g_autoptr(GBytes) max = g_bytes_new(file->data, file->len);

      certs = parse_ok(max);
      g_assert_cmpuint(certs->len, ==, SIGNET_CERTFILE_MAX_CERTS);
    }
  }
  bytes = g_byte_array_free_to_bytes(file);
  assert_bad_input(bytes, "more than 64 certificates");
}

/* Every prefix and many single-byte changes of real files: either
 * certificates or BAD_INPUT, never anything else (the fuzzers go further). */
static void
mutate(GBytes *original)
{
  gsize len = g_bytes_get_size(original);
  g_autofree guint8 *data = g_memdup2(g_bytes_get_data(original, NULL), len);
  static const guint8 values[] = { 0x00, 0x30, 0x80, 0xff, '-', '\n', 'A' };

  for (gsize cut = 0; cut <= len; cut += len > 2000 ? 3 : 1) {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) certs = signet_certfile_parse(data, cut, &error);

    if (certs == NULL)
      g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
    else
      g_assert_cmpuint(certs->len, >, 0);
    g_assert_cmpuint(ERR_peek_error(), ==, 0);
  }
  for (gsize i = 0; i < len; i += 5) {
    guint8 saved = data[i];

    for (gsize v = 0; v < G_N_ELEMENTS(values); v++) {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) certs = NULL;

      data[i] = values[v];
      certs = signet_certfile_parse(data, len, &error);
      if (certs == NULL)
        g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
    }
    data[i] = saved;
  }
}

static void
test_certfile_mutations(void)
{
  X509 *bag[] = { chain.leaf, chain.inter };
  g_autoptr(GBytes) der = cert_der(chain.leaf);
  g_autoptr(GBytes) p7 = pkcs7_der(bag, 2, chain.crl);
  g_autoptr(GBytes) leaf = cert_pem(chain.leaf);
  g_autoptr(GBytes) root = cert_pem(chain.root);
  g_autoptr(GBytes) bundle = concat(leaf, root, NULL);
  g_autoptr(GBytes) b64 = bare_base64(p7, 64);

  mutate(der);
  mutate(p7);
  mutate(bundle);
  mutate(b64);
}

/* ---- describing certificates ---- */

static void
test_x509_describe(void)
{
  const char *const rdns[] = { "C", "PL", "O", "Signet Test", "CN", "Zażółć Gęślą", NULL };
  g_autoptr(X509) cert = make_cert(rdns, chain.leaf_key, chain.inter, chain.inter_key, "CA:FALSE",
                                   "0102ABCDEF", FIXED_NOT_AFTER);
  g_autoptr(X509) high = make_cert(rdns, chain.leaf_key, chain.inter, chain.inter_key, "CA:FALSE",
                                   "80", FIXED_NOT_AFTER);
  g_autofree char *subject = signet_x509_name_to_string(X509_get_subject_name(cert));
  g_autofree char *issuer = signet_x509_name_to_string(X509_get_issuer_name(cert));
  g_autofree char *serial = signet_x509_serial_to_string(cert);
  g_autofree char *serial_high = signet_x509_serial_to_string(high);
  g_autofree char *not_after = signet_asn1_time_to_iso8601(X509_get0_notAfter(cert));
  g_autofree char *empty = signet_x509_name_to_string(NULL);
  g_autoptr(ASN1_TIME) generalized = ASN1_TIME_set(NULL, (time_t)2556144000); /* 2051 */
  g_autofree char *generalized_text = signet_asn1_time_to_iso8601(generalized);
  g_autoptr(ASN1_TIME) broken = ASN1_TIME_new();
  g_autofree char *broken_text = NULL;
  g_autoptr(X509_NAME) escaped = make_name((const char *[]){ "CN", "Doe, John", NULL });
  g_autofree char *escaped_text = signet_x509_name_to_string(escaped);

  g_assert_cmpstr(subject, ==, "CN=Zażółć Gęślą,O=Signet Test,C=PL");
  g_assert_cmpstr(issuer, ==, "CN=Signet Test Intermediate CA,O=Signet Test,C=PL");
  g_assert_cmpstr(serial, ==, "0102abcdef");
  g_assert_cmpstr(serial_high, ==, "80");
  g_assert_cmpstr(not_after, ==, "2027-11-21T13:37:00Z");
  g_assert_cmpstr(empty, ==, "");
  g_assert_cmpint(ASN1_STRING_type(generalized), ==, V_ASN1_GENERALIZEDTIME);
  g_assert_cmpstr(generalized_text, ==, "2051-01-01T00:00:00Z");
  g_assert_cmpstr(escaped_text, ==, "CN=Doe\\, John");

  g_assert_cmpint(ASN1_STRING_set(broken, "not a time", -1), ==, 1);
  broken_text = signet_asn1_time_to_iso8601(broken);
  g_assert_null(broken_text);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

static void
test_x509_days_left(void)
{
  const char *const rdns[] = { "CN", "Days", NULL };
  g_autoptr(X509) cert = make_cert(rdns, chain.leaf_key, chain.root, chain.root_key, "CA:FALSE",
                                   "5", FIXED_NOT_AFTER);
  g_autoptr(X509) soon = make_cert(rdns, chain.leaf_key, chain.root, chain.root_key, "CA:FALSE",
                                   "6", time(NULL) + 30 * 86400 + 3600);
  g_autoptr(GDateTime) not_after = g_date_time_new_from_unix_utc(FIXED_NOT_AFTER);
  struct
  {
    gint64 offset; /* seconds from notAfter */
    gint64 days;
  } cases[] = {
    { -10 * 86400, 10 },
    { -10 * 86400 + 1, 9 },
    { -86400, 1 },
    { -1, 0 },
    { 0, 0 },
    { 1, -1 },
    { 86399, -1 },
    { 86400, -1 },
    { 86401, -2 },
    { -365 * 86400, 365 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GDateTime) now = g_date_time_add_seconds(not_after, (gdouble)cases[i].offset);

    g_assert_cmpint(signet_x509_days_left(cert, now), ==, cases[i].days);
  }
  g_assert_cmpint(signet_x509_days_left(soon, NULL), ==, 30);
}

static void
test_x509_is_ca(void)
{
  const char *const rdns[] = { "CN", "Plain", NULL };
  g_autoptr(X509) no_bc_issued
      = make_cert(rdns, chain.leaf_key, chain.root, chain.root_key, NULL, "7", FIXED_NOT_AFTER);

  g_assert_true(signet_x509_is_ca(chain.root));
  g_assert_true(signet_x509_is_ca(chain.inter));
  g_assert_false(signet_x509_is_ca(chain.leaf));
  g_assert_true(signet_x509_is_ca(chain.self_signed_leaf));
  g_assert_false(signet_x509_is_ca(no_bc_issued));
}

/* An answer's certificates, then the CA's list: each certificate once, in
 * that order, equal ones (another X509 object with the same DER) too. */
static void
test_x509_join_unique(void)
{
  g_autoptr(GPtrArray) answer = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  g_autoptr(GPtrArray) cacerts = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) alone = NULL;

  g_ptr_array_add(answer, X509_dup(chain.leaf));
  g_ptr_array_add(answer, X509_dup(chain.inter));
  g_ptr_array_add(cacerts, X509_dup(chain.inter));
  g_ptr_array_add(cacerts, X509_dup(chain.root));
  g_ptr_array_add(cacerts, X509_dup(chain.root));
  all = signet_x509_join_unique(answer, cacerts);
  g_assert_cmpuint(all->len, ==, 3);
  g_assert_true(g_ptr_array_index(all, 0) == g_ptr_array_index(answer, 0));
  g_assert_true(g_ptr_array_index(all, 1) == g_ptr_array_index(answer, 1));
  g_assert_true(g_ptr_array_index(all, 2) == g_ptr_array_index(cacerts, 1));
  alone = signet_x509_join_unique(answer, NULL);
  g_assert_cmpuint(alone->len, ==, 2);
}

static void
test_x509_matches_key(void)
{
  g_assert_true(signet_x509_matches_key(chain.leaf, chain.leaf_key));
  g_assert_false(signet_x509_matches_key(chain.leaf, chain.root_key));
  g_assert_false(signet_x509_matches_key(chain.leaf, NULL));
  g_assert_true(signet_x509_matches_key(chain.root, chain.root_key));
}

/* A certificate's key in a profile's key-type form. */
static void
test_x509_key_type(void)
{
  const char *const rdns[] = { "CN", "Key Type", NULL };
  g_autoptr(EVP_PKEY) p384 = EVP_EC_gen("P-384");
  g_autoptr(EVP_PKEY) p521 = EVP_EC_gen("P-521");
  g_autoptr(EVP_PKEY) rsa = EVP_RSA_gen(2048);
  time_t year = time(NULL) + 365 * 86400;
  g_autoptr(X509) c384 = make_cert(rdns, p384, NULL, NULL, NULL, "1", year);
  g_autoptr(X509) c521 = make_cert(rdns, p521, NULL, NULL, NULL, "2", year);
  g_autoptr(X509) crsa = make_cert(rdns, rsa, NULL, NULL, NULL, "3", year);
  g_autofree char *t256 = signet_x509_key_type(chain.leaf);
  g_autofree char *t384 = signet_x509_key_type(c384);
  g_autofree char *t521 = signet_x509_key_type(c521);
  g_autofree char *trsa = signet_x509_key_type(crsa);

  g_assert_cmpstr(t256, ==, "ec:p256");
  g_assert_cmpstr(t384, ==, "ec:p384");
  g_assert_cmpstr(t521, ==, "ec");
  g_assert_cmpstr(trsa, ==, "rsa:2048");
}

/* ---- verifying a chain against trusted roots ---- */

/* A root, an intermediate and a leaf valid now (for a year), and a forged
 * root and intermediate with the same names but keys of their own, with a
 * leaf of the forger's. */
typedef struct
{
  EVP_PKEY *root_key, *inter_key, *leaf_key, *forged_root_key, *forged_inter_key;
  X509 *root, *inter, *leaf, *forged_root, *forged_inter, *forged_leaf, *other_root;
} Pki;

static const char *const pki_root_rdns[] = { "O", "Signet Test", "CN", "Trust Root", NULL };
static const char *const pki_inter_rdns[] = { "O", "Signet Test", "CN", "Trust Issuing", NULL };
static const char *const pki_leaf_rdns[] = { "CN", "Trust Holder", NULL };

static void
pki_make(Pki *pki)
{
  const char *const other_rdns[] = { "CN", "Some Other Root", NULL };
  time_t year = time(NULL) + 365 * 86400;
  g_autoptr(EVP_PKEY) other_key = make_ec_key();

  pki->root_key = make_ec_key();
  pki->inter_key = make_ec_key();
  pki->leaf_key = make_ec_key();
  pki->forged_root_key = make_ec_key();
  pki->forged_inter_key = make_ec_key();
  pki->root
      = make_cert(pki_root_rdns, pki->root_key, NULL, NULL, "critical,CA:TRUE", "a1", year + 86400);
  pki->inter = make_cert(pki_inter_rdns, pki->inter_key, pki->root, pki->root_key,
                         "critical,CA:TRUE,pathlen:0", "a2", year + 3600);
  pki->leaf
      = make_cert(pki_leaf_rdns, pki->leaf_key, pki->inter, pki->inter_key, "CA:FALSE", "a3", year);
  pki->forged_root = make_cert(pki_root_rdns, pki->forged_root_key, NULL, NULL, "critical,CA:TRUE",
                               "a1", year + 86400);
  pki->forged_inter
      = make_cert(pki_inter_rdns, pki->forged_inter_key, pki->forged_root, pki->forged_root_key,
                  "critical,CA:TRUE,pathlen:0", "a2", year + 3600);
  pki->forged_leaf = make_cert(pki_leaf_rdns, pki->leaf_key, pki->forged_inter,
                               pki->forged_inter_key, "CA:FALSE", "a3", year);
  pki->other_root
      = make_cert(other_rdns, other_key, NULL, NULL, "critical,CA:TRUE", "b1", year + 86400);
}

static void
pki_clear(Pki *pki)
{
  X509 **certs[] = { &pki->root,         &pki->inter,       &pki->leaf,      &pki->forged_root,
                     &pki->forged_inter, &pki->forged_leaf, &pki->other_root };
  EVP_PKEY **keys[] = { &pki->root_key, &pki->inter_key, &pki->leaf_key, &pki->forged_root_key,
                        &pki->forged_inter_key };

  for (gsize i = 0; i < G_N_ELEMENTS(certs); i++)
    g_clear_pointer(certs[i], X509_free);
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
    g_clear_pointer(keys[i], EVP_PKEY_free);
}

static GPtrArray *
certs_of(X509 *first, ...)
{
  GPtrArray *certs = g_ptr_array_new();
  va_list args;

  va_start(args, first);
  for (X509 *c = first; c != NULL; c = va_arg(args, X509 *))
    g_ptr_array_add(certs, c);
  va_end(args);
  return certs;
}

static void
assert_chain_fails(X509 *leaf, GPtrArray *untrusted, GPtrArray *anchors, const char *why)
{
  g_autoptr(GError) error = NULL;
  X509 *anchor = NULL;

  g_assert_false(signet_x509_verify_chain(leaf, untrusted, anchors, NULL, &anchor, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH);
  g_assert_null(anchor);
  if (why != NULL && strstr(error->message, why) == NULL)
    g_error("message \"%s\" does not contain \"%s\"", error->message, why);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

static void
assert_chain_ends_at(X509 *leaf, GPtrArray *untrusted, GPtrArray *anchors, X509 *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) anchor = NULL;

  g_assert_true(signet_x509_verify_chain(leaf, untrusted, anchors, NULL, &anchor, &error));
  g_assert_no_error(error);
  g_assert_nonnull(anchor);
  g_assert_cmpint(X509_cmp(anchor, expected), ==, 0);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

/* A root that came with the chain is no anchor, self-signed or not. */
static void
test_verify_root_untrusted(void)
{
  Pki pki = { 0 };
  g_autoptr(GPtrArray) chain_with_root = NULL;
  g_autoptr(GPtrArray) other = NULL;
  g_autoptr(GPtrArray) empty = g_ptr_array_new();
  g_autoptr(GError) error = NULL;

  pki_make(&pki);
  chain_with_root = certs_of(pki.inter, pki.root, NULL);
  other = certs_of(pki.other_root, NULL);
  /* Before: "self-signed CA certificates among them are the anchors". */
  assert_chain_fails(pki.leaf, chain_with_root, other,
                     "self-signed certificate in certificate chain");
  assert_chain_fails(pki.leaf, chain_with_root, empty, "no trusted root");
  assert_chain_fails(pki.leaf, chain_with_root, NULL, "no trusted root");
  /* Nor does a holder certificate given as an anchor count. */
  {
    g_autoptr(GPtrArray) leaf_as_anchor = certs_of(pki.leaf, NULL);

    assert_chain_fails(pki.leaf, chain_with_root, leaf_as_anchor, "no trusted root");
  }
  /* The same with a store. */
  {
    g_autoptr(X509_STORE) store = X509_STORE_new();

    g_assert_cmpint(X509_STORE_add_cert(store, pki.other_root), ==, 1);
    g_assert_false(
        signet_x509_verify_chain_with_store(pki.leaf, chain_with_root, store, NULL, NULL, &error));
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH);
  }
  pki_clear(&pki);
}

static void
test_verify_to_anchor(void)
{
  Pki pki = { 0 };
  g_autoptr(GPtrArray) inter = NULL;
  g_autoptr(GPtrArray) inter_and_root = NULL;
  g_autoptr(GPtrArray) roots = NULL;
  g_autoptr(GPtrArray) with_junk = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) anchor = NULL;
  g_autoptr(GDateTime) today = g_date_time_new_now_utc();
  g_autoptr(GDateTime) later = g_date_time_add_days(today, 400);

  pki_make(&pki);
  inter = certs_of(pki.inter, NULL);
  inter_and_root = certs_of(pki.leaf, pki.inter, pki.root, NULL);
  roots = certs_of(pki.other_root, pki.root, NULL);
  with_junk = certs_of(pki.other_root, pki.leaf, pki.root, NULL);
  assert_chain_ends_at(pki.leaf, inter, roots, pki.root);
  /* The root in the chain too (as CAs send it), and the leaf itself: skipped. */
  assert_chain_ends_at(pki.leaf, inter_and_root, roots, pki.root);
  /* A holder certificate among the anchors is left out, the rest count. */
  assert_chain_ends_at(pki.leaf, inter, with_junk, pki.root);
  /* No intermediate: no chain. */
  assert_chain_fails(pki.leaf, NULL, roots, "unable to get local issuer certificate");
  /* Expired by the time given. */
  g_assert_false(signet_x509_verify_chain(pki.leaf, inter, roots, later, NULL, &error));
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH);
  g_assert_nonnull(strstr(error->message, "expired"));
  g_clear_error(&error);
  /* A store of the caller's, left as it was. */
  {
    g_autoptr(X509_STORE) store = X509_STORE_new();

    g_assert_cmpint(X509_STORE_add_cert(store, pki.root), ==, 1);
    g_assert_true(
        signet_x509_verify_chain_with_store(pki.leaf, inter, store, NULL, &anchor, &error));
    g_assert_no_error(error);
    g_assert_cmpint(X509_cmp(anchor, pki.root), ==, 0);
    g_assert_cmpint(X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(store))
                        & X509_V_FLAG_PARTIAL_CHAIN,
                    ==, 0);
  }
  pki_clear(&pki);
}

/* An intermediate given as anchor is trusted as given: the chain may end
 * there (partial chain), as RFC 5280 allows a trust anchor that is not
 * self-signed. Nothing from the untrusted side becomes one that way. */
static void
test_verify_partial(void)
{
  Pki pki = { 0 };
  g_autoptr(GPtrArray) inter_anchor = NULL;
  g_autoptr(GPtrArray) inter = NULL;
  g_autoptr(GPtrArray) root_anchor = NULL;

  pki_make(&pki);
  inter_anchor = certs_of(pki.inter, NULL);
  inter = certs_of(pki.inter, NULL);
  root_anchor = certs_of(pki.other_root, NULL);
  assert_chain_ends_at(pki.leaf, NULL, inter_anchor, pki.inter);
  assert_chain_ends_at(pki.leaf, inter, inter_anchor, pki.inter);
  /* The intermediate untrusted (not given as anchor): no partial chain. */
  assert_chain_fails(pki.leaf, inter, root_anchor, "unable to get");
  /* The forger's leaf does not verify to the real intermediate. */
  assert_chain_fails(pki.forged_leaf, NULL, inter_anchor, NULL);
  pki_clear(&pki);
}

/* An anchor must be valid now like every certificate of the chain. */
static void
test_verify_expired_anchor(void)
{
  Pki pki = { 0 };
  g_autoptr(X509) expired_root = NULL;
  g_autoptr(X509) inter = NULL;
  g_autoptr(X509) leaf = NULL;
  g_autoptr(GPtrArray) untrusted = NULL;
  g_autoptr(GPtrArray) anchors = NULL;

  pki_make(&pki);
  /* notBefore a day ago, notAfter an hour ago; same key and name as the root. */
  expired_root = make_cert(pki_root_rdns, pki.root_key, NULL, NULL, "critical,CA:TRUE", "c1",
                           time(NULL) - 3600);
  inter = make_cert(pki_inter_rdns, pki.inter_key, expired_root, pki.root_key,
                    "critical,CA:TRUE,pathlen:0", "c2", time(NULL) + 365 * 86400);
  leaf = make_cert(pki_leaf_rdns, pki.leaf_key, inter, pki.inter_key, "CA:FALSE", "c3",
                   time(NULL) + 300 * 86400);
  untrusted = certs_of(inter, NULL);
  anchors = certs_of(expired_root, NULL);
  assert_chain_fails(leaf, untrusted, anchors, "certificate has expired");
  /* The valid root of the same key and name verifies the same chain. */
  g_ptr_array_add(anchors, pki.root);
  assert_chain_ends_at(leaf, untrusted, anchors, pki.root);
  pki_clear(&pki);
}

/* A root of the same name as the trusted one, but another key (a forgery,
 * or a CA that changed its root): the chain through it fails, and
 * signet_x509_chain_top() names the forged root, not the trusted one. */
static void
test_verify_forged_root(void)
{
  Pki pki = { 0 };
  g_autoptr(GPtrArray) forged = NULL;
  g_autoptr(GPtrArray) mixed = NULL;
  g_autoptr(GPtrArray) trusted = NULL;
  g_autoptr(GPtrArray) forged_trusted = NULL;
  g_autoptr(GPtrArray) real = NULL;
  g_autofree char *real_fp = NULL;
  g_autofree char *forged_fp = NULL;
  g_autofree char *described = NULL;

  pki_make(&pki);
  forged = certs_of(pki.forged_inter, pki.forged_root, NULL);
  mixed = certs_of(pki.forged_inter, pki.forged_root, pki.inter, pki.root, NULL);
  trusted = certs_of(pki.root, NULL);
  forged_trusted = certs_of(pki.forged_root, NULL);
  real = certs_of(pki.inter, NULL);
  assert_chain_fails(pki.forged_leaf, forged, trusted, NULL);
  assert_chain_fails(pki.forged_leaf, mixed, trusted, NULL);
  /* Nor does the forged root, trusted, make the real chain verify. */
  assert_chain_fails(pki.leaf, real, forged_trusted, NULL);
  assert_chain_ends_at(pki.leaf, mixed, trusted, pki.root);

  g_assert_true(signet_x509_chain_top(pki.forged_leaf, mixed) == pki.forged_root);
  g_assert_true(signet_x509_chain_top(pki.leaf, mixed) == pki.root);
  g_assert_true(signet_x509_chain_top(pki.leaf, NULL) == pki.leaf);
  g_assert_true(signet_x509_chain_top(pki.leaf, trusted) == pki.leaf);
  g_assert_true(signet_x509_is_self_signed(pki.forged_root));
  g_assert_false(signet_x509_is_self_signed(pki.inter));
  real_fp = signet_x509_fingerprint(pki.root);
  forged_fp = signet_x509_fingerprint(pki.forged_root);
  g_assert_cmpuint(strlen(real_fp), ==, 95);
  g_assert_cmpstr(real_fp, !=, forged_fp);
  described = signet_x509_describe(pki.forged_root);
  g_assert_true(g_str_has_prefix(described, "CN=Trust Root,O=Signet Test (SHA-256 "));
  g_assert_nonnull(strstr(described, forged_fp));
  pki_clear(&pki);
}

/* ---- subjects ---- */

typedef struct
{
  const char *sn;
  const char *value;
  int set;
} Entry;

static void
assert_subject(const char *subject, const Entry *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(X509_NAME) name = signet_subject_parse(subject, &error);
  int n = 0;

  /* The slash form is in ASN.1 order; the comma form is RFC 4514, whose
   * last RDN is the first in the certificate. @expected is in string order. */
  const char *p = subject;
  gboolean slash;
  int count, max_set;

  while (g_ascii_isspace(*p))
    p++;
  slash = *p == '/';
  g_assert_no_error(error);
  g_assert_nonnull(name);
  count = X509_NAME_entry_count(name);
  max_set = count > 0 ? X509_NAME_ENTRY_set(X509_NAME_get_entry(name, count - 1)) : 0;
  for (; expected[n].sn != NULL; n++) {
    X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, slash ? n : count - 1 - n);
    unsigned char *utf8 = NULL;
    int len, nid;
    char oid[80];

    g_assert_nonnull(entry);
    nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
    if (nid != NID_undef)
      g_assert_cmpstr(OBJ_nid2sn(nid), ==, expected[n].sn);
    else {
      OBJ_obj2txt(oid, sizeof oid, X509_NAME_ENTRY_get_object(entry), 1);
      g_assert_cmpstr(oid, ==, expected[n].sn);
    }
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    g_assert_cmpint(len, >=, 0);
    g_assert_cmpstr((const char *)utf8, ==, expected[n].value);
    g_assert_cmpint((int)strlen((const char *)utf8), ==, len);
    OPENSSL_free(utf8);
    g_assert_cmpint(X509_NAME_ENTRY_set(entry), ==,
                    slash ? expected[n].set : max_set - expected[n].set);
  }
  g_assert_cmpint(X509_NAME_entry_count(name), ==, n);
}

static void
test_subject_good(void)
{
  const Entry jan[]
      = { { "CN", "Jan Kowalski", 0 }, { "O", "Example", 1 }, { "C", "PL", 2 }, { NULL } };
  const Entry inc[]
      = { { "CN", "Jan Kowalski", 0 }, { "O", "Example, Inc.", 1 }, { "C", "PL", 2 }, { NULL } };
  const Entry escapes[] = { { "CN", "a+b=c\\d\"e ", 0 }, { "O", " x", 1 }, { NULL } };
  const Entry slash[] = { { "CN", "a/b", 0 }, { "O", "x,y", 1 }, { "OU", "q+r", 2 }, { NULL } };
  const Entry utf8[] = { { "CN", "Zażółć Gęślą", 0 }, { "C", "PL", 1 }, { NULL } };
  const Entry hex[] = { { "CN", "Zaż", 0 }, { NULL } };
  const Entry names[] = { { "CN", "A", 0 },
                          { "serialNumber", "PNOPL-12345678901", 1 },
                          { "emailAddress", "jan@example.com", 2 },
                          { "GN", "Jan", 3 },
                          { "SN", "Kowalski", 4 },
                          { "GN", "J", 5 },
                          { "SN", "K", 6 },
                          { "title", "Dr", 7 },
                          { "emailAddress", "x@y.z", 8 },
                          { "organizationIdentifier", "VATPL-1234567890", 9 },
                          { "ST", "Mazowieckie", 10 },
                          { "L", "Warszawa", 11 },
                          { "DC", "example", 12 },
                          { NULL } };
  const Entry multi[] = { { "CN", "A", 0 }, { "serialNumber", "1", 0 }, { "O", "B", 1 }, { NULL } };
  const Entry quoted[] = { { "CN", "Kowalski, Jan", 0 }, { "O", "X", 1 }, { NULL } };
  const Entry oid[] = { { "1.3.6.1.4.1.99999.1", "hello", 0 }, { "CN", "x", 1 }, { NULL } };
  const Entry trailing[] = { { "CN", "A", 0 }, { NULL } };
  const Entry lower[] = { { "CN", "a", 0 }, { "O", "b", 1 }, { "C", "DE", 2 }, { NULL } };
  g_autofree char *cn64 = g_strdup_printf("CN=%s", "żżżżżżżżżżżżżżżżżżżżżżżżżżżżżżżż"
                                                   "żżżżżżżżżżżżżżżżżżżżżżżżżżżżżżżż");
  g_autoptr(GError) error = NULL;
  g_autoptr(X509_NAME) name64 = NULL;

  assert_subject("CN=Jan Kowalski,O=Example,C=PL", jan);
  assert_subject("/CN=Jan Kowalski/O=Example/C=PL", jan);
  assert_subject("  CN = Jan Kowalski , O=Example,   C=PL  ", jan);
  assert_subject("CN=Jan Kowalski,O=Example\\, Inc.,C=pl", inc);
  assert_subject("/CN=Jan Kowalski/O=Example, Inc./C=PL", inc);
  assert_subject("CN=a\\+b\\=c\\\\d\\\"e\\ ,O=\\ x", escapes);
  assert_subject("/CN=a\\/b/O=x,y/OU=q\\+r", slash);
  assert_subject("CN=Zażółć Gęślą,C=PL", utf8);
  assert_subject("CN=Za\\C5\\BC", hex);
  assert_subject("commonName=A,serialNumber=PNOPL-12345678901,emailAddress=jan@example.com,"
                 "GN=Jan,SN=Kowalski,givenName=J,surname=K,title=Dr,E=x@y.z,"
                 "2.5.4.97=VATPL-1234567890,ST=Mazowieckie,L=Warszawa,DC=example",
                 names);
  assert_subject("CN=A+serialNumber=1,O=B", multi);
  assert_subject("/CN=A+serialNumber=1/O=B", multi);
  assert_subject("CN=\"Kowalski, Jan\",O=X", quoted);
  assert_subject("1.3.6.1.4.1.99999.1=hello,CN=x", oid);
  assert_subject("CN=A,", trailing);
  assert_subject("/CN=A/", trailing);
  assert_subject("cn=a,o=b,c=de", lower);

  name64 = signet_subject_parse(cn64, &error);
  g_assert_no_error(error);
  g_assert_nonnull(name64);
}

static void
assert_bad_subject(const char *subject, const char *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(X509_NAME) name = signet_subject_parse(subject, &error);

  g_assert_null(name);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT);
  if (strstr(error->message, message_part) == NULL)
    g_error("subject \"%s\": message \"%s\" does not contain \"%s\"", subject, error->message,
            message_part);
  g_assert_true(g_utf8_validate(error->message, -1, NULL));
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

static void
test_subject_bad(void)
{
  g_autofree char *cn65 = g_strdup_printf("CN=%0*d", 65, 0);
  g_autofree char *huge = g_strnfill(5000, 'x');
  g_autoptr(GString) many = g_string_new(NULL);

  for (int i = 0; i < 65; i++)
    g_string_append_printf(many, "%sOU=%d", i > 0 ? "," : "", i);

  assert_bad_subject(NULL, "The subject is empty");
  assert_bad_subject("", "The subject is empty");
  assert_bad_subject(" \t ", "The subject is empty");
  assert_bad_subject("/", "Empty part");
  assert_bad_subject("CN", "Missing '=' in 'CN'");
  assert_bad_subject("CN=Jan,Kowalski", "Missing '=' in 'Kowalski'");
  assert_bad_subject("XYZ=1,CN=a", "Unknown attribute in 'XYZ=1'");
  assert_bad_subject("sha256=1", "Unknown attribute in 'sha256=1'");
  assert_bad_subject("CN=", "Empty value in 'CN='");
  assert_bad_subject("/CN=a/O=", "Empty value in 'O='");
  assert_bad_subject("CN=a,,O=b", "Empty part in 'CN=a,,O=b': remove the extra ','");
  assert_bad_subject("CN=a+", "Empty part");
  assert_bad_subject("=x", "Missing attribute name in '=x'");
  assert_bad_subject("C=Poland", "'C=Poland': the country must be a two-letter");
  assert_bad_subject("C=P1", "two-letter");
  assert_bad_subject(cn65, "too long: 65 characters, at most 64");
  assert_bad_subject("emailAddress=jań@example.com",
                     "'emailAddress=jań@example.com' has characters emailAddress does not allow");
  assert_bad_subject("serialNumber=PNO_1", "digits, spaces and");
  assert_bad_subject("CN=a\\", "lone '\\'");
  assert_bad_subject("CN=\"abc", "Missing closing '\"'");
  assert_bad_subject("CN=\"abc\"def", "Text after the closing '\"'");
  assert_bad_subject("CN=a=b", "Unescaped '=' in the value of 'CN=a=b'");
  assert_bad_subject("CN=a/O=b", "Unescaped '='");
  assert_bad_subject("CN=a\\00b", "NUL");
  assert_bad_subject("CN=a\\0Ab", "control character");
  assert_bad_subject("CN=a\x1b[31mb", "'CN=a?[31mb' contains a control character");
  assert_bad_subject("CN=\xff", "not valid UTF-8");
  assert_bad_subject("CN=a\\FFb", "not valid UTF-8");
  assert_bad_subject(many->str, "more than 64 attributes");
  assert_bad_subject(huge, "too long");
}

/* ---- certificate requests ---- */

static void
check_csr(const char *pem, EVP_PKEY *key, const char *subject, int sig_nid)
{
  g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
  g_autoptr(X509_REQ) req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
  g_autoptr(X509_NAME) expected = signet_subject_parse(subject, NULL);
  g_autofree char *subject_text = NULL;
  g_autoptr(GBytes) pem_bytes = text(pem);

  g_assert_true(g_str_has_prefix(pem, "-----BEGIN CERTIFICATE REQUEST-----\n"));
  g_assert_nonnull(req);
  g_assert_cmpint(X509_REQ_get_version(req), ==, 0);
  g_assert_cmpint(X509_REQ_verify(req, key), ==, 1);
  g_assert_cmpint(X509_REQ_get_signature_nid(req), ==, sig_nid);
  g_assert_cmpint(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key), ==, 1);
  g_assert_nonnull(expected);
  g_assert_cmpint(X509_NAME_cmp(X509_REQ_get_subject_name(req), expected), ==, 0);
  subject_text = signet_x509_name_to_string(X509_REQ_get_subject_name(req));
  g_assert_nonnull(strstr(subject_text, "CN=Jan Kowalski"));
  /* The certificate file reader knows it for what it is. */
  assert_bad_input(pem_bytes, "certificate request (CSR)");

  if (chain.openssl != NULL) {
    const char *argv[] = { chain.openssl, "req", "-in", "request.pem", "-verify", "-noout", NULL };
    g_autoptr(GBytes) bytes = text(pem);

    write_tmp("request.pem", bytes);
    run(argv);
  }
}

static void
test_csr_rsa(void)
{
  g_autoptr(EVP_PKEY) key = EVP_RSA_gen(2048);
  g_autoptr(GError) error = NULL;
  const char *subject = "CN=Jan Kowalski,O=Example\\, Inc.,C=PL";
  g_autofree char *pem = signet_csr_build_pem(key, NULL, subject, &error);

  g_assert_nonnull(key);
  g_assert_no_error(error);
  g_assert_nonnull(pem);
  check_csr(pem, key, subject, NID_sha256WithRSAEncryption);
}

static void
test_csr_ec(void)
{
  g_autoptr(EVP_PKEY) key = make_ec_key();
  g_autoptr(GError) error = NULL;
  const char *subject = "/CN=Jan Kowalski/serialNumber=PNOPL-12345678901/C=PL";
  g_autofree char *pem = signet_csr_build_pem(key, NULL, subject, &error);

  g_assert_no_error(error);
  g_assert_nonnull(pem);
  check_csr(pem, key, subject, NID_ecdsa_with_SHA256);
}

/* The hash and challengePassword a CA asked for (its /csrattrs). */
static void
test_csr_options(void)
{
  g_autoptr(EVP_PKEY) key = make_ec_key();
  g_autoptr(GError) error = NULL;
  g_autoptr(X509_NAME) name = signet_subject_parse("CN=Jan Kowalski", NULL);
  static const guint8 code[] = "ABCD-EFGH-JKLM";
  const SignetCsrOptions options = {
    .hash = "sha384",
    .challenge_password = code,
    .challenge_password_len = sizeof code - 1,
  };
  const SignetCsrOptions sha512 = { .hash = "sha512" };
  const SignetCsrOptions sha1 = { .hash = "sha1" };
  g_autofree char *pem = signet_csr_build_pem_with(key, NULL, name, &options, &error);
  g_autofree char *pem512 = NULL;
  g_autofree char *bad = NULL;

  g_assert_no_error(error);
  check_csr(pem, key, "CN=Jan Kowalski", NID_ecdsa_with_SHA384);
  {
    g_autoptr(BIO) bio = BIO_new_mem_buf(pem, -1);
    g_autoptr(X509_REQ) req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    int at = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
    ASN1_TYPE *value;

    g_assert_cmpint(at, >=, 0);
    g_assert_cmpint(X509_REQ_get_attr_count(req), ==, 1);
    value = X509_ATTRIBUTE_get0_type(X509_REQ_get_attr(req, at), 0);
    g_assert_nonnull(value);
    g_assert_cmpint(value->type, ==, V_ASN1_UTF8STRING);
    g_assert_cmpmem(ASN1_STRING_get0_data(value->value.asn1_string),
                    ASN1_STRING_length(value->value.asn1_string), code, sizeof code - 1);
  }

  pem512 = signet_csr_build_pem_with(key, NULL, name, &sha512, &error);
  g_assert_no_error(error);
  check_csr(pem512, key, "CN=Jan Kowalski", NID_ecdsa_with_SHA512);

  bad = signet_csr_build_pem_with(key, NULL, name, &sha1, &error);
  g_assert_null(bad);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
  g_assert_nonnull(strstr(error->message, "'sha1'"));
}

/* What signet_csr_build_pem_with()'s @sign callback gets: the private key
 * (a token's, in the agent), and what to do. */
typedef struct
{
  EVP_PKEY *key;
  gboolean fail;
  guint calls;
} SignWith;

static GBytes *
sign_with_key(const EVP_MD *md, const guint8 *data, gsize len, gpointer user_data, GError **error)
{
  SignWith *w = user_data;
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
  guint8 sig[1024];
  size_t sig_len = sizeof sig;

  w->calls++;
  if (w->fail) {
    g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "the token said no");
    return NULL;
  }
  g_assert_cmpint(EVP_DigestSignInit(ctx, NULL, md, NULL, w->key), ==, 1);
  g_assert_cmpint(EVP_DigestSign(ctx, sig, &sig_len, data, len), ==, 1);
  return g_bytes_new(sig, sig_len);
}

/* A request signed by a callback (the agent's own session on the token)
 * rather than an EVP_PKEY: RSA and EC, the hash asked for, the
 * challengePassword kept; many rounds, so that signatures whose last byte
 * ends in zero bits are among them (the BIT STRING must keep them). A
 * callback that fails fails the request, saying so; one that signs with
 * another key is caught before the request is returned. */
static void
test_csr_sign_func(void)
{
  g_autoptr(EVP_PKEY) ec = make_ec_key();
  g_autoptr(EVP_PKEY) rsa = EVP_RSA_gen(2048);
  g_autoptr(EVP_PKEY) other = make_ec_key();
  g_autoptr(X509_NAME) name = signet_subject_parse("CN=Jan Kowalski", NULL);
  static const guint8 code[] = "ABCD-EFGH";

  for (guint round = 0; round < 12; round++) {
    EVP_PKEY *key = round % 3 == 0 ? rsa : ec;
    SignWith w = { .key = key };
    const SignetCsrOptions options = {
      .hash = round % 2 == 0 ? "sha256" : "sha384",
      .challenge_password = code,
      .challenge_password_len = sizeof code - 1,
      .sign = sign_with_key,
      .sign_data = &w,
    };
    g_autoptr(GError) error = NULL;
    g_autofree char *pem = signet_csr_build_pem_with(NULL, key, name, &options, &error);
    int nid = key == rsa
                  ? (round % 2 == 0 ? NID_sha256WithRSAEncryption : NID_sha384WithRSAEncryption)
                  : (round % 2 == 0 ? NID_ecdsa_with_SHA256 : NID_ecdsa_with_SHA384);

    g_assert_no_error(error);
    g_assert_cmpuint(w.calls, ==, 1);
    check_csr(pem, key, "CN=Jan Kowalski", nid);
  }
  {
    SignWith w = { .key = ec, .fail = TRUE };
    const SignetCsrOptions options = { .sign = sign_with_key, .sign_data = &w };
    g_autoptr(GError) error = NULL;
    g_autofree char *pem = signet_csr_build_pem_with(NULL, ec, name, &options, &error);

    g_assert_null(pem);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "Signing the certificate request failed"));
    g_assert_nonnull(strstr(error->message, "the token said no"));
  }
  {
    SignWith w = { .key = other };
    const SignetCsrOptions options = { .sign = sign_with_key, .sign_data = &w };
    g_autoptr(GError) error = NULL;
    g_autofree char *pem = signet_csr_build_pem_with(NULL, ec, name, &options, &error);

    g_assert_null(pem);
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "does not verify"));
  }
}

/* The test signature after a renewal, through a callback as the agent signs
 * on the token: the key of the certificate passes, RSA and EC; another
 * key's signature is CERT_MISMATCH; a callback that fails is FAILED with
 * its own reason kept. */
static void
test_test_signature(void)
{
  g_autoptr(EVP_PKEY) ec = make_ec_key();
  g_autoptr(EVP_PKEY) rsa = EVP_RSA_gen(2048);
  g_autoptr(EVP_PKEY) other = make_ec_key();
  EVP_PKEY *keys[] = { ec, rsa };
  static const char *const rdns[] = { "CN", "Holder", NULL };

  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    g_autoptr(X509) cert
        = make_cert(rdns, keys[i], NULL, keys[i], "CA:FALSE", "1F", time(NULL) + 86400);
    SignWith w = { .key = keys[i] }, wrong = { .key = other },
             failing = { .key = keys[i], .fail = TRUE };
    g_autoptr(GError) error = NULL;

    g_assert_true(signet_x509_test_signature(sign_with_key, &w, cert, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(w.calls, ==, 1);
    g_assert_false(signet_x509_test_signature(sign_with_key, &wrong, cert, &error));
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_CERT_MISMATCH);
    g_clear_error(&error);
    g_assert_false(signet_x509_test_signature(sign_with_key, &failing, cert, &error));
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "could not make a test signature"));
    g_assert_nonnull(strstr(error->message, "the token said no"));
  }
}

/* What a kept request was made with, to make another for the same key. */
static void
test_csr_read_content(void)
{
  g_autoptr(EVP_PKEY) key = make_ec_key();
  g_autoptr(GError) error = NULL;
  g_autoptr(X509_NAME) name = signet_subject_parse("CN=Jan Kowalski,O=Example\\, Inc.,C=PL", NULL);
  static const guint8 code[] = "ABCD-EFGH-JKLM";
  const SignetCsrOptions options = {
    .hash = "sha384",
    .challenge_password = code,
    .challenge_password_len = sizeof code - 1,
  };
  g_autofree char *with = signet_csr_build_pem_with(key, NULL, name, &options, &error);
  g_autofree char *without = NULL;
  g_autoptr(SignetCsrContent) content = NULL;
  g_autoptr(SignetSecret) expected = signet_secret_new(code, sizeof code - 1);

  g_assert_no_error(error);
  content = signet_csr_read_content(with, &error);
  g_assert_no_error(error);
  g_assert_nonnull(content);
  g_assert_cmpint(X509_NAME_cmp(content->subject, name), ==, 0);
  g_assert_cmpstr(content->hash, ==, "sha384");
  g_assert_nonnull(content->challenge_password);
  g_assert_true(signet_secret_equal(content->challenge_password, expected));
  g_clear_pointer(&content, signet_csr_content_free);

  /* No challengePassword; the default hash. */
  without = signet_csr_build_pem_for_name(key, NULL, name, &error);
  g_assert_no_error(error);
  content = signet_csr_read_content(without, &error);
  g_assert_no_error(error);
  g_assert_cmpint(X509_NAME_cmp(content->subject, name), ==, 0);
  g_assert_cmpstr(content->hash, ==, "sha256");
  g_assert_null(content->challenge_password);
  g_clear_pointer(&content, signet_csr_content_free);

  /* A request made elsewhere: a PrintableString challengePassword is read;
   * a request signed with SHA-1 is not one Signet would make again. */
  {
    g_autoptr(X509_REQ) req = X509_REQ_new();
    g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
    g_autoptr(EVP_PKEY) rsa = EVP_RSA_gen(2048);
    g_autofree char *pem = NULL;
    char *data = NULL;
    long len;

    g_assert_nonnull(rsa);
    g_assert_cmpint(X509_REQ_set_subject_name(req, name), ==, 1);
    g_assert_cmpint(X509_REQ_set_pubkey(req, key), ==, 1);
    g_assert_cmpint(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword,
                                              V_ASN1_PRINTABLESTRING, (const guint8 *)"secret1", 7),
                    ==, 1);
    g_assert_cmpint(X509_REQ_sign(req, key, EVP_sha512()), >, 0);
    g_assert_cmpint(PEM_write_bio_X509_REQ(bio, req), ==, 1);
    len = BIO_get_mem_data(bio, &data);
    pem = g_strndup(data, (gsize)len);
    content = signet_csr_read_content(pem, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(content->hash, ==, "sha512");
    g_assert_cmpmem(signet_secret_get_data(content->challenge_password),
                    signet_secret_get_len(content->challenge_password), "secret1", 7);
    g_clear_pointer(&content, signet_csr_content_free);

    g_assert_cmpint(X509_REQ_set_pubkey(req, rsa), ==, 1);
    g_assert_cmpint(X509_REQ_sign(req, rsa, EVP_sha1()), >, 0);
    g_assert_cmpint(BIO_reset(bio), ==, 1);
    g_assert_cmpint(PEM_write_bio_X509_REQ(bio, req), ==, 1);
    len = BIO_get_mem_data(bio, &data);
    g_free(pem);
    pem = g_strndup(data, (gsize)len);
    content = signet_csr_read_content(pem, &error);
    g_assert_null(content);
    g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
    g_assert_nonnull(strstr(error->message, "SHA1"));
    g_clear_error(&error);
  }

  content = signet_csr_read_content("not a request", &error);
  g_assert_null(content);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_INPUT);
}

static void
test_csr_public_key(void)
{
  g_autoptr(EVP_PKEY) key = make_ec_key();
  g_autoptr(EVP_PKEY) public_only = NULL;
  g_autoptr(GError) error = NULL;
  unsigned char *der = NULL;
  const unsigned char *p;
  int len = i2d_PUBKEY(key, &der);
  g_autofree char *pem = NULL;

  g_assert_cmpint(len, >, 0);
  p = der;
  public_only = d2i_PUBKEY(NULL, &p, len);
  OPENSSL_free(der);
  g_assert_nonnull(public_only);

  pem = signet_csr_build_pem(key, public_only, "CN=Jan Kowalski", &error);
  g_assert_no_error(error);
  check_csr(pem, public_only, "CN=Jan Kowalski", NID_ecdsa_with_SHA256);
}

static void
test_csr_mismatch(void)
{
  g_autoptr(EVP_PKEY) key = make_ec_key();
  g_autoptr(EVP_PKEY) other = make_ec_key();
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = signet_csr_build_pem(key, other, "CN=Jan Kowalski", &error);

  g_assert_null(pem);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
  g_assert_nonnull(strstr(error->message, "does not verify"));
  g_assert_nonnull(strstr(error->message, "OpenSSL: "));
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

static void
test_csr_bad_subject(void)
{
  g_autoptr(EVP_PKEY) key = make_ec_key();
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = signet_csr_build_pem(key, NULL, "CN=a,,O=b", &error);

  g_assert_null(pem);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_BAD_SUBJECT);
}

static void
test_csr_unsupported_key(void)
{
  g_autoptr(EVP_PKEY) key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = NULL;

  g_assert_nonnull(key);
  pem = signet_csr_build_pem(key, NULL, "CN=Jan Kowalski", &error);
  g_assert_null(pem);
  g_assert_error(error, SIGNET_ENROLL_ERROR, SIGNET_ENROLL_ERROR_FAILED);
  g_assert_cmpuint(ERR_peek_error(), ==, 0);
}

/* ---- setup ---- */

static void
make_chain(void)
{
  const char *const root_rdns[]
      = { "C", "PL", "O", "Signet Test", "CN", "Signet Test Root CA", NULL };
  const char *const inter_rdns[]
      = { "C", "PL", "O", "Signet Test", "CN", "Signet Test Intermediate CA", NULL };
  const char *const leaf_rdns[] = { "C", "PL", "O", "Signet Test", "CN", "Jan Kowalski", NULL };
  const char *const self_rdns[] = { "CN", "Self", NULL };
  g_autoptr(GError) error = NULL;

  chain.root_key = make_ec_key();
  chain.inter_key = make_ec_key();
  chain.leaf_key = make_ec_key();
  chain.root = make_cert(root_rdns, chain.root_key, NULL, NULL, "critical,CA:TRUE", "1000",
                         FIXED_NOT_AFTER + 3650 * 86400L);
  chain.inter = make_cert(inter_rdns, chain.inter_key, chain.root, chain.root_key,
                          "critical,CA:TRUE,pathlen:0", "2000", FIXED_NOT_AFTER + 365 * 86400L);
  chain.leaf = make_cert(leaf_rdns, chain.leaf_key, chain.inter, chain.inter_key, "CA:FALSE",
                         "3000", FIXED_NOT_AFTER);
  chain.self_signed_leaf
      = make_cert(self_rdns, chain.leaf_key, NULL, NULL, NULL, "4000", FIXED_NOT_AFTER);
  chain.crl = make_crl(chain.root, chain.root_key);
  chain.tmpdir = g_dir_make_tmp("signet-test-x509-XXXXXX", &error);
  g_assert_no_error(error);
  chain.openssl = g_find_program_in_path("openssl");
}

int
main(int argc, char **argv)
{
  int ret;

  g_test_init(&argc, &argv, NULL);
  make_chain();

  g_test_add_func("/enroll/certfile/pem", test_certfile_pem);
  g_test_add_func("/enroll/certfile/der", test_certfile_der);
  g_test_add_func("/enroll/certfile/der-concatenated", test_certfile_der_concatenated);
  g_test_add_func("/enroll/certfile/bundle", test_certfile_bundle);
  g_test_add_func("/enroll/certfile/bundle-crlf", test_certfile_bundle_crlf);
  g_test_add_func("/enroll/certfile/portal-forms", test_certfile_portal_forms);
  g_test_add_func("/enroll/certfile/duplicates", test_certfile_duplicates);
  g_test_add_func("/enroll/certfile/pkcs7-der", test_certfile_pkcs7_der);
  g_test_add_func("/enroll/certfile/pkcs7-pem", test_certfile_pkcs7_pem);
  g_test_add_func("/enroll/certfile/pkcs7-openssl", test_certfile_pkcs7_openssl);
  g_test_add_func("/enroll/certfile/pem-names", test_certfile_pem_names);
  g_test_add_func("/enroll/certfile/utf16", test_certfile_utf16);
  g_test_add_func("/enroll/certfile/mixed", test_certfile_mixed);
  g_test_add_func("/enroll/certfile/base64", test_certfile_base64);
  g_test_add_func("/enroll/certfile/cert-and-key", test_certfile_cert_and_key);
  g_test_add_func("/enroll/certfile/private-key", test_certfile_private_key);
  g_test_add_func("/enroll/certfile/pkcs12", test_certfile_pkcs12);
  g_test_add_func("/enroll/certfile/csr", test_certfile_csr);
  g_test_add_func("/enroll/certfile/other-kinds", test_certfile_other_kinds);
  g_test_add_func("/enroll/certfile/empty", test_certfile_empty);
  g_test_add_func("/enroll/certfile/garbage", test_certfile_garbage);
  g_test_add_func("/enroll/certfile/truncated", test_certfile_truncated);
  g_test_add_func("/enroll/certfile/damaged-block", test_certfile_damaged_block);
  g_test_add_func("/enroll/certfile/oversize", test_certfile_oversize);
  g_test_add_func("/enroll/certfile/too-many", test_certfile_too_many);
  g_test_add_func("/enroll/certfile/mutations", test_certfile_mutations);
  g_test_add_func("/enroll/x509/describe", test_x509_describe);
  g_test_add_func("/enroll/x509/days-left", test_x509_days_left);
  g_test_add_func("/enroll/x509/is-ca", test_x509_is_ca);
  g_test_add_func("/enroll/x509/join-unique", test_x509_join_unique);
  g_test_add_func("/enroll/x509/matches-key", test_x509_matches_key);
  g_test_add_func("/enroll/x509/key-type", test_x509_key_type);
  g_test_add_func("/enroll/x509/verify/root-untrusted", test_verify_root_untrusted);
  g_test_add_func("/enroll/x509/verify/to-anchor", test_verify_to_anchor);
  g_test_add_func("/enroll/x509/verify/partial", test_verify_partial);
  g_test_add_func("/enroll/x509/verify/expired-anchor", test_verify_expired_anchor);
  g_test_add_func("/enroll/x509/verify/forged-root", test_verify_forged_root);
  g_test_add_func("/enroll/subject/good", test_subject_good);
  g_test_add_func("/enroll/subject/bad", test_subject_bad);
  g_test_add_func("/enroll/csr/rsa", test_csr_rsa);
  g_test_add_func("/enroll/csr/ec", test_csr_ec);
  g_test_add_func("/enroll/csr/public-key", test_csr_public_key);
  g_test_add_func("/enroll/csr/options", test_csr_options);
  g_test_add_func("/enroll/csr/sign-func", test_csr_sign_func);
  g_test_add_func("/enroll/x509/test-signature", test_test_signature);
  g_test_add_func("/enroll/csr/read-content", test_csr_read_content);
  g_test_add_func("/enroll/csr/mismatch", test_csr_mismatch);
  g_test_add_func("/enroll/csr/bad-subject", test_csr_bad_subject);
  g_test_add_func("/enroll/csr/unsupported-key", test_csr_unsupported_key);

  ret = g_test_run();

  signet_test_remove_tree(chain.tmpdir);
  g_free(chain.tmpdir);
  g_free(chain.openssl);
  X509_free(chain.root);
  X509_free(chain.inter);
  X509_free(chain.leaf);
  X509_free(chain.self_signed_leaf);
  X509_CRL_free(chain.crl);
  EVP_PKEY_free(chain.root_key);
  EVP_PKEY_free(chain.inter_key);
  EVP_PKEY_free(chain.leaf_key);
  return ret;
}
