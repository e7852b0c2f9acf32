/* Unit tests: codec, handshake, cookie, JSON, place channels, places. */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/* Encodes @v (borrowed; a floating one is sunk and freed here) as the
 * wire does, and decodes it back */
static GVariant *
roundtrip (GVariant *v, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (v);
  g_autoptr(GBytes) data = g_variant_get_data_as_bytes (owned);
  const char *sig = g_variant_get_type_string (owned);
  return _dp_wire_decode_payload (sig, strlen (sig), data, error);
}

static void
test_codec_values (void)
{
  g_autofree guint8 *blob = g_malloc (4 * 1024 * 1024);
  const char *texts[] = {
    "(1, 'two', [3, 4], {'k': <5>})", "[(1, 'a'), (2, '')]", "{1: 'x', 2: 'y'}",
    "@mi 7", "@mi nothing", "@ms 'maybe'", "b'bytes'", "@ay []", "''",
    "(int64 -9223372036854775808, int64 9223372036854775807, uint64 18446744073709551615)",
    "<<(true, false)>>", "(@a{sv} {}, @as [], 0.5, -0.0)", "((((((((1,),),),),),),),)",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      GVariant *parsed = g_variant_parse (NULL, texts[i], NULL, NULL, &error);
      g_autoptr(GVariant) v = NULL;
      g_autoptr(GVariant) back = NULL;
      g_assert_no_error (error);
      v = parsed;                 /* g_variant_parse(): not floating */
      back = roundtrip (v, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (v, back));
    }

  /* doubles incl. NaN and infinities: compare bit patterns */
  {
    double d[] = { NAN, INFINITY, -INFINITY, 1e-300 };
    for (gsize i = 0; i < G_N_ELEMENTS (d); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) back = roundtrip (g_variant_new_double (d[i]), &error);
        double got;
        g_assert_no_error (error);
        got = g_variant_get_double (back);
        g_assert_cmpmem (&got, sizeof got, &d[i], sizeof d[i]);
      }
  }

  /* a 4 MiB blob */
  for (gsize i = 0; i < 4 * 1024 * 1024; i++)
    blob[i] = (guint8) (i * 7);
  {
    g_autoptr(GError) error = NULL;
    GVariant *v = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, 4 * 1024 * 1024, 1);
    g_autoptr(GVariant) keep = g_variant_ref_sink (v);
    g_autoptr(GVariant) back = roundtrip (keep, &error);
    g_assert_no_error (error);
    g_assert_true (g_variant_equal (keep, back));
  }
}

static void
test_codec_rejects (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = g_bytes_new ("abc", 3);   /* 's' without its NUL */
  GVariant *v;

  v = _dp_wire_decode_payload ("s", 1, data, &error);
  g_assert_null (v);
  g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
  g_clear_error (&error);
  v = _dp_wire_decode_payload ("a{", 2, data, &error);
  g_assert_null (v);
  g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
  g_clear_error (&error);
  v = _dp_wire_decode_payload ("*", 1, data, &error);
  g_assert_null (v);
  g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
}

/* basic values are checked by the codec itself and loaded as trusted: it
 * accepts exactly what GVariant's own normal-form check accepts */
static void
test_codec_basic (void)
{
  static const guint8 one = 1, two = 2;
  static const gint32 i32 = -5;
  static const gint64 i64 = 7;
  /* a literal with its terminating nul */
#define LIT(text) text, sizeof (text)
  struct { const char *sig; const char *data; gsize size; } cases[] = {
    { "s", LIT ("") }, { "s", LIT ("hello") }, { "s", "hello", 5 },  /* no terminator */
    { "s", LIT ("he\0lo") }, { "s", "", 0 },                          /* nul inside, empty */
    { "s", LIT ("0123456789abcdef0123456789abcdef") },                /* ASCII words */
    { "s", LIT ("0123456789abcdef" "\0" "123456789abcde") },          /* nul in a word */
    { "s", LIT ("caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 ok") },  /* UTF-8 */
    { "s", LIT ("abcdefgh\xc3\x28zzzzzzz") },                        /* bad UTF-8 */
    { "s", LIT ("abcdefgh\xed\xa0\x80zzzzzz") },                    /* a surrogate */
    { "s", LIT ("abcdefghijklmno\xc3") },                            /* cut short */
    { "o", LIT ("/a/b") }, { "o", LIT ("a/b") }, { "o", LIT ("/a//b") }, { "o", LIT ("/") },
    { "g", LIT ("a{sv}") }, { "g", LIT ("a{") }, { "g", LIT ("(ii") },
    { "b", (const char *) &one, 1 }, { "b", (const char *) &two, 1 }, { "b", "", 0 },
    { "i", (const char *) &i32, 4 }, { "i", (const char *) &i32, 3 }, { "i", "", 0 },
    { "x", (const char *) &i64, 8 }, { "t", (const char *) &i64, 4 },
    { "d", (const char *) &i64, 8 }, { "y", "z", 1 }, { "y", "zz", 2 },
  };
#undef LIT

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) data = g_bytes_new (cases[i].data, cases[i].size);
      g_autoptr(GVariant) v = _dp_wire_decode_payload (cases[i].sig, strlen (cases[i].sig),
                                                       data, &error);
      g_autoptr(GVariant) glib = g_variant_ref_sink (
        g_variant_new_from_bytes (G_VARIANT_TYPE (cases[i].sig), data, FALSE));
      gboolean normal = g_variant_is_normal_form (glib);

      g_test_message ("case %" G_GSIZE_FORMAT ": '%s', %" G_GSIZE_FORMAT " bytes: GLib says %s",
                      i, cases[i].sig, cases[i].size, normal ? "normal" : "not normal");
      if (normal)
        {
          g_assert_no_error (error);
          g_assert_true (g_variant_equal (v, glib));
          g_assert_cmpmem (g_variant_get_data (v), g_variant_get_size (v),
                           cases[i].data, cases[i].size);
        }
      else
        {
          g_assert_null (v);
          g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
        }
    }
}

/* arrays of fixed-size elements skip the element walk of the normal-form
 * check only when they are certainly normal: anything else is still checked */
static void
test_codec_fixed_arrays (void)
{
  gsize big = 1024 * 1024 - 8;   /* under the normal-form check's limit */
  g_autofree guint8 *blob = g_malloc (big);
  guint8 bools[] = { 1, 0, 2 };
  gint32 ints[3] = { 1, -2, 3 };
  double doubles[2] = { 0.5, -1e300 };
  struct { const char *sig; gconstpointer data; gsize size; gboolean ok; } cases[] = {
    { "ai", ints, 6, FALSE },           /* not a multiple of 4 */
    { "ai", ints, 12, TRUE },
    { "ai", ints, 0, TRUE },
    { "ad", doubles, 12, FALSE },
    { "ad", doubles, 16, TRUE },
    { "an", ints, 3, FALSE },
    { "ab", bools, 2, TRUE },
    { "ab", bools, 3, FALSE },          /* 2 is not a boolean: the full check */
    { "ay", blob, big, TRUE },
  };

  memset (blob, 0xab, big);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) data = g_bytes_new (cases[i].data, cases[i].size);
      g_autoptr(GVariant) v = _dp_wire_decode_payload (cases[i].sig, strlen (cases[i].sig),
                                                       data, &error);
      if (cases[i].ok)
        {
          g_assert_no_error (error);
          g_assert_nonnull (v);
          g_assert_cmpuint (g_variant_n_children (v), ==,
                            cases[i].size / (cases[i].sig[1] == 'y' || cases[i].sig[1] == 'b' ? 1
                                             : cases[i].sig[1] == 'n' ? 2
                                             : cases[i].sig[1] == 'i' ? 4 : 8));
        }
      else
        {
          g_assert_null (v);
          g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
        }
    }
}

static void
test_frame_header (void)
{
  DpFrameHeader h = { 24, DP_FRAME_DATA, 0, 1, 7, 9 }, back;
  guint8 buf[DP_FRAME_HEADER_LEN];
  g_autoptr(GError) error = NULL;

  _dp_frame_header_pack (&h, buf);
  _dp_frame_header_unpack (buf, &back);
  g_assert_cmpmem (&h, sizeof h, &back, sizeof back);
  g_assert_true (_dp_frame_header_check (&h, 1024, &error));

  h.type = 200;
  g_assert_false (_dp_frame_header_check (&h, 1024, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
  g_clear_error (&error);
  h.type = DP_FRAME_DATA;
  h.body_len = 5000;
  g_assert_false (_dp_frame_header_check (&h, 1024, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_FRAME_TOO_LARGE);
  g_clear_error (&error);
  h.body_len = 8;
  h.sig_len = 20;
  g_assert_false (_dp_frame_header_check (&h, 1024, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
}

static void
test_handshake (void)
{
  g_autoptr(GBytes) secret = g_bytes_new ("0123456789abcdef0123", 20);
  g_autoptr(GBytes) other = g_bytes_new ("XXXXXXXXXXabcdef0123", 20);
  guint8 cn[DP_NONCE_LEN], sn[DP_NONCE_LEN], proof[DP_AUTH_LEN], hello[DP_HELLO_LEN], got[DP_NONCE_LEN];
  g_autoptr(GError) error = NULL;

  _dp_random_bytes (cn, sizeof cn);
  _dp_random_bytes (sn, sizeof sn);
  _dp_wire_auth_compute (secret, 'C', sn, cn, proof);
  g_assert_true (_dp_wire_auth_verify (secret, 'C', sn, cn, proof));
  g_assert_false (_dp_wire_auth_verify (other, 'C', sn, cn, proof));
  g_assert_false (_dp_wire_auth_verify (secret, 'S', sn, cn, proof));   /* no reflection */

  _dp_wire_hello_build (hello, cn);
  g_assert_cmpuint (_dp_wire_hello_get_max_frame (hello), ==, 0);      /* not said */
  _dp_wire_hello_set_max_frame (hello, 64 * 1024 * 1024);
  g_assert_cmpuint (_dp_wire_hello_get_max_frame (hello), ==, 64 * 1024 * 1024);
  _dp_wire_hello_set_max_frame (hello, (gsize) 8 << 30);                /* capped at 32 bits */
  g_assert_cmpuint (_dp_wire_hello_get_max_frame (hello), ==, G_MAXUINT32);
  g_assert_true (_dp_wire_hello_parse (hello, got, &error));
  g_assert_cmpmem (got, sizeof got, cn, sizeof cn);
  hello[DP_WIRE_MAGIC_LEN + 1] = 9;          /* version 9 */
  g_assert_false (_dp_wire_hello_parse (hello, got, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
  g_clear_error (&error);
  hello[0] = 'X';
  g_assert_false (_dp_wire_hello_parse (hello, got, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
}

/* REFUSED, which a side sends in place of its proof when the peer's is wrong */
static void
test_refusal (void)
{
  g_autoptr(GBytes) secret = g_bytes_new ("0123456789abcdef0123", 20);
  guint8 refused[DP_REFUSAL_LEN], cn[DP_NONCE_LEN], sn[DP_NONCE_LEN], proof[DP_AUTH_LEN];
  DpFrameHeader h;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (DP_REFUSAL_LEN, ==, DP_AUTH_LEN);
  _dp_wire_refusal_build (refused);
  g_assert_true (_dp_wire_refusal_match (refused, sizeof refused));
  /* a part of it is "read more to know"; a byte off is not it */
  g_assert_true (_dp_wire_refusal_match (refused, 5));
  refused[DP_REFUSAL_LEN - 1] ^= 1;
  g_assert_false (_dp_wire_refusal_match (refused, sizeof refused));
  g_assert_true (_dp_wire_refusal_match (refused, DP_REFUSAL_LEN - 1));
  _dp_wire_refusal_build (refused);

  /* a proof is not a refusal */
  _dp_random_bytes (cn, sizeof cn);
  _dp_random_bytes (sn, sizeof sn);
  _dp_wire_auth_compute (secret, 'S', cn, sn, proof);
  g_assert_false (_dp_wire_refusal_match (proof, sizeof proof));
  g_assert_false (_dp_wire_auth_verify (secret, 'S', sn, cn, refused));

  /* nor is any frame: read as a header, its type is one no frame has */
  _dp_frame_header_unpack (refused, &h);
  g_assert_false (_dp_frame_type_is_known (h.type));
  g_assert_false (_dp_frame_header_check (&h, G_MAXSIZE, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_PROTOCOL);
}

/* ---- randomness ---- */

static gboolean
all_zero (const guint8 *buf, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (buf[i] != 0)
      return FALSE;
  return TRUE;
}

static void
test_random_bytes (void)
{
  guint8 a[32], b[32];
  g_autofree guint8 *big = g_malloc0 (1024 * 1024);

  _dp_random_bytes (a, sizeof a);
  _dp_random_bytes (b, sizeof b);
  g_assert_false (all_zero (a, sizeof a));
  g_assert_false (all_zero (b, sizeof b));
  g_assert_cmpint (memcmp (a, b, sizeof a), !=, 0);
  /* more than one getrandom() call may return: the whole buffer is filled */
  _dp_random_bytes (big, 1024 * 1024);
  g_assert_false (all_zero (big + 1024 * 1024 - 64, 64));
}

#if defined(__x86_64__)
# define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
# define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Makes getrandom(2) fail with ENOSYS in this process from now on. */
static gboolean
deny_getrandom (void)
{
#ifdef TEST_AUDIT_ARCH
  struct sock_filter filter[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, __NR_getrandom, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { G_N_ELEMENTS (filter), filter };

  return prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#else
  return FALSE;
#endif
}

/* Without getrandom() (a seccomp filter makes it fail) the process ends
 * with a clear message; /dev/urandom, readable all along, is not used
 * instead, nor is any non-cryptographic generator. */
static void
test_random_fails_closed (void)
{
  if (g_test_subprocess ())
    {
      guint8 nonce[16];

      if (!deny_getrandom ())
        {
          g_print ("seccomp unavailable\n");
          return;
        }
      _dp_random_bytes (nonce, sizeof nonce);
      g_print ("got random bytes without getrandom()\n");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  if (g_test_trap_has_passed ())
    {
      /* only when no filter could be installed (else: the defect) */
      g_test_trap_assert_stdout ("*seccomp unavailable*");
      g_test_skip ("cannot install a seccomp filter here");
      return;
    }
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*no cryptographic randomness: getrandom() failed: "
                             "Function not implemented*");
}

static void
test_cookie (void)
{
  g_autofree char *dir = g_dir_make_tmp ("dp-cookie-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sub", "cookie", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) a = dp_cookie_load (path, TRUE, &error);
  g_autoptr(GBytes) b = NULL;
  GStatBuf st;

  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  b = dp_cookie_load (path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (a, b));

  g_chmod (path, 0644);
  g_clear_pointer (&b, g_bytes_unref);
  b = dp_cookie_load (path, FALSE, &error);
  g_assert_null (b);
  g_assert_error (error, DP_ERROR, DP_ERROR_COOKIE);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "0644"));
  g_clear_error (&error);

  g_assert_null (dp_secret_parse ("zz", &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_COOKIE);
  g_unlink (path);
}

/* where a node's secret came from, which authentication errors name */
static void
test_secret_source (void)
{
  g_autofree char *dir = g_dir_make_tmp ("dp-cookie-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "cookie", NULL);
  g_autofree char *want = g_strdup_printf ("cookie file %s", path);
  g_autoptr(GBytes) secret = g_bytes_new ("0123456789abcdef0123", 20);
  g_autoptr(DpNode) node = dp_node_new ();
  g_autoptr(GError) error = NULL;
  char *source;

  g_assert_null (dp_node_dup_secret_source (node));
  dp_node_set_secret (node, secret);
  source = dp_node_dup_secret_source (node);
  g_assert_cmpstr (source, ==, "a secret set by the application");
  g_free (source);
  dp_node_set_secret_full (node, secret, "the secret given on standard input");
  source = dp_node_dup_secret_source (node);
  g_assert_cmpstr (source, ==, "the secret given on standard input");
  g_free (source);
  g_assert_true (dp_node_load_cookie (node, path, &error));
  g_assert_no_error (error);
  source = dp_node_dup_secret_source (node);
  g_assert_cmpstr (source, ==, want);
  g_free (source);
  g_unlink (path);
  g_rmdir (dir);
}

/* ---- JSON ↔ GVariant: one test per row of the mapping (README, dp-launch --help) ---- */

static GVariant *
parse_variant (const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = g_variant_parse (NULL, text, NULL, NULL, &error);

  g_assert_no_error (error);
  return v;                       /* g_variant_parse(): not floating */
}

/* @json read with @signature gives exactly @expected (GVariant text format). */
static void
assert_reads (const char *json,
              const char *signature,
              const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = dp_variant_from_json (json, signature, &error);
  g_autoptr(GVariant) want = parse_variant (expected);

  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_false (g_variant_is_floating (v));
  if (!g_variant_equal (v, want))
    {
      g_autofree char *got = g_variant_print (v, TRUE);
      g_error ("%s as %s: got %s, expected %s", json, signature ? signature : "(inferred)",
               got, expected);
    }
}

/* @json read with @signature is an error whose message has @needle. */
static void
assert_refused (const char *json,
                const char *signature,
                const char *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = dp_variant_from_json (json, signature, &error);

  g_assert_null (v);
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, needle) == NULL)
    g_error ("%s as %s: error \"%s\" does not say \"%s\"", json,
             signature ? signature : "(inferred)", error->message, needle);
}

/* @text (GVariant text format) is written as exactly @expected, which
 * json-glib reads back. */
static void
assert_writes (const char *text,
               const char *expected)
{
  g_autoptr(GVariant) v = parse_variant (text);
  g_autofree char *json = dp_variant_to_json (v);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) back = NULL;

  g_assert_cmpstr (json, ==, expected);
  back = json_from_string (json, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
}

static void
test_json_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = dp_variant_from_json ("[1, 2.5, \"x\"]", NULL, &error);
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  text = dp_variant_to_json (v);
  g_assert_cmpstr (text, ==, "[1,2.5,\"x\"]");
  assert_refused ("not json", NULL, "not valid JSON");
  assert_refused ("", NULL, "not valid JSON");
  assert_refused ("1", "*", "not a definite GVariant type");
  assert_refused ("[]", "a*", "not a definite GVariant type");
  assert_refused ("1", "(i", "not a definite GVariant type");
}

/* Reading without a signature (json-glib's inference) */

static void
test_json_read_string (void)
{
  assert_reads ("\"text\"", NULL, "'text'");
  assert_reads ("\"é \\u0001 \\\"q\\\"\"", NULL, "'é \\u0001 \"q\"'");
}

static void
test_json_read_integer (void)
{
  assert_reads ("-12", NULL, "int64 -12");
  assert_reads ("0", NULL, "int64 0");
  assert_reads ("9223372036854775807", NULL, "int64 9223372036854775807");
  assert_reads ("-9223372036854775808", NULL, "int64 -9223372036854775808");
  /* json-glib's parser would make these -1, the minimum, the maximum */
  assert_refused ("18446744073709551615", NULL, "integer 18446744073709551615 does not fit int64");
  assert_refused ("9223372036854775808", NULL, "9223372036854775808");
  assert_refused ("-9223372036854775809", NULL, "-9223372036854775809");
  assert_refused ("99999999999999999999999", NULL, "99999999999999999999999");
  assert_refused ("[1, {\"a\": [18446744073709551616]}]", NULL, "18446744073709551616");
  /* numbers inside strings are not numbers */
  assert_reads ("[\"a\\\"1\", \"18446744073709551615\", 3]", NULL,
                "[<'a\"1'>, <'18446744073709551615'>, <int64 3>]");
}

static void
test_json_read_double (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  assert_reads ("2.5", NULL, "2.5");
  assert_reads ("1e3", NULL, "1000.0");
  assert_reads ("-0.5", NULL, "-0.5");
  assert_reads ("1e-400", NULL, "0.0");            /* underflow is rounding */
  assert_refused ("1e400", NULL, "1e400 is out of the range of a double");
  assert_refused ("[0, -1e400]", NULL, "-1e400");
  v = dp_variant_from_json ("-0.0", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (signbit (g_variant_get_double (v)));
}

static void
test_json_read_boolean (void)
{
  assert_reads ("true", NULL, "true");
  assert_reads ("false", NULL, "false");
}

static void
test_json_read_null (void)
{
  /* the same at the top as nested: json-glib's mv nothing */
  assert_reads ("null", NULL, "@mv nothing");
  assert_reads ("[null]", NULL, "[<@mv nothing>]");
  assert_reads ("{\"a\": null}", NULL, "{'a': <@mv nothing>}");
}

static void
test_json_read_array (void)
{
  assert_reads ("[1, \"a\", [true]]", NULL, "[<int64 1>, <'a'>, <[<true>]>]");
  assert_reads ("[]", NULL, "@av []");
}

static void
test_json_read_object (void)
{
  assert_reads ("{\"k\": true, \"n\": 1}", NULL, "{'k': <true>, 'n': <int64 1>}");
  assert_reads ("{}", NULL, "@a{sv} {}");
  /* a repeated member: the last wins, as in json-glib; only what is kept is checked */
  assert_reads ("{\"a\": 5, \"a\": 6, \"b\": 7}", NULL, "{'a': <int64 6>, 'b': <int64 7>}");
  assert_refused ("{\"a\": 5, \"a\": 6, \"b\": 18446744073709551615}", NULL,
                  "18446744073709551615");
}

/* json-glib's own syntax beyond JSON: every number is still checked */
static void
test_json_read_json_glib_syntax (void)
{
  assert_reads ("[0x10, $ff, 010, 0b11, .5, 5., - 5, 'a', /c 9 c/ 7]", NULL,
                "[<int64 16>, <int64 255>, <int64 8>, <int64 3>, <0.5>, <5.0>, <int64 -5>,"
                " <'a'>, <int64 7>]");
  assert_refused ("[0xFFFFFFFFFFFFFFFF]", NULL, "0xFFFFFFFFFFFFFFFF does not fit int64");
  assert_reads ("0xFFFFFFFFFFFFFFFF", "t", "uint64 18446744073709551615");
}

/* Reading with a signature (json_gvariant_deserialize, range-checked) */

static void
test_json_read_typed_string (void)
{
  assert_reads ("\"x\"", "s", "'x'");
  assert_reads ("\"/a/b\"", "o", "objectpath '/a/b'");
  assert_reads ("\"a{sv}\"", "g", "signature 'a{sv}'");
  /* json-glib would hit a critical making these */
  assert_refused ("\"a/b\"", "o", "\"a/b\" is not an object path");
  assert_refused ("\"z(\"", "g", "\"z(\" is not a type signature");
}

static void
test_json_read_typed_integer (void)
{
  assert_reads ("255", "y", "byte 255");
  assert_reads ("-32768", "n", "int16 -32768");
  assert_reads ("65535", "q", "uint16 65535");
  assert_reads ("-2147483648", "i", "-2147483648");
  assert_reads ("4294967295", "u", "uint32 4294967295");
  assert_reads ("-9223372036854775808", "x", "int64 -9223372036854775808");
  assert_reads ("18446744073709551615", "t", "uint64 18446744073709551615");
  assert_reads ("9223372036854775808", "t", "uint64 9223372036854775808");
  assert_reads ("3", "h", "handle 3");
  assert_reads ("\"12\"", "i", "12");               /* json-glib reads strings too */
  /* json-glib would wrap each of these */
  assert_refused ("300", "y", "300 does not fit type 'y' (0 to 255)");
  assert_refused ("-1", "y", "-1 does not fit type 'y'");
  assert_refused ("32768", "n", "32768 does not fit type 'n'");
  assert_refused ("-1", "q", "-1 does not fit type 'q'");
  assert_refused ("2147483648", "i", "2147483648 does not fit type 'i'");
  assert_refused ("-1", "u", "-1 does not fit type 'u'");
  assert_refused ("9223372036854775808", "x", "9223372036854775808 does not fit type 'x'");
  assert_refused ("-1", "t", "-1 does not fit type 't'");
  assert_refused ("18446744073709551616", "t", "18446744073709551616 does not fit type 't'");
  assert_refused ("2147483648", "h", "2147483648 does not fit type 'h'");
  assert_refused ("\"300\"", "y", "\"300\" does not fit type 'y'");
  assert_refused ("\"12abc\"", "i", "\"12abc\" does not fit type 'i'");
  assert_refused ("2.5", "i", "cannot be made a message");
}

static void
test_json_read_typed_double (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) nan_v = NULL;

  assert_reads ("2.5", "d", "2.5");
  assert_reads ("1", "d", "1.0");
  assert_reads ("18446744073709551616", "d", "1.8446744073709552e19");
  assert_reads ("\"inf\"", "d", "inf");
  assert_reads ("\"-inf\"", "d", "-inf");
  assert_reads ("\"1.5\"", "d", "1.5");
  nan_v = dp_variant_from_json ("\"nan\"", "d", &error);
  g_assert_no_error (error);
  g_assert_true (isnan (g_variant_get_double (nan_v)));
  assert_refused ("1e400", "d", "1e400 is out of the range of a double");
  assert_refused ("\"1.5x\"", "d", "\"1.5x\" is not a double");
}

static void
test_json_read_typed_boolean (void)
{
  assert_reads ("true", "b", "true");
  assert_reads ("\"false\"", "b", "false");
}

static void
test_json_read_typed_maybe (void)
{
  assert_reads ("null", "mi", "@mi nothing");
  assert_reads ("5", "mi", "@mi 5");
  assert_reads ("null", "mmi", "@mmi nothing");
  assert_reads ("[null, 2]", "ami", "[nothing, just 2]");
  assert_refused ("300", "my", "300 does not fit type 'y'");
  assert_refused ("null", "i", "cannot be made a message");
}

static void
test_json_read_typed_array (void)
{
  assert_reads ("[1, 255]", "ay", "[byte 1, 255]");
  assert_reads ("[]", "ai", "@ai []");
  assert_reads ("[1, \"a\"]", "(is)", "(1, 'a')");
  assert_reads ("[]", "()", "()");
  assert_refused ("[1, 256]", "ay", "256 does not fit type 'y'");
  assert_refused ("[1, [2, 70000]]", "(i(nn))", "70000 does not fit type 'n'");
  assert_refused ("[1]", "(is)", "cannot be made a message");
}

static void
test_json_read_typed_object (void)
{
  assert_reads ("{\"1\": \"a\", \"-2\": \"b\"}", "a{is}", "{1: 'a', -2: 'b'}");
  assert_reads ("{\"k\": 7}", "a{st}", "{'k': uint64 7}");
  assert_reads ("{\"0.5\": true}", "a{db}", "{0.5: true}");
  assert_reads ("{\"1\": \"a\"}", "{is}", "@{is} {1, 'a'}");
  assert_refused ("{\"300\": \"a\"}", "a{ys}", "\"300\" does not fit type 'y'");
  assert_refused ("{\"k\": -1}", "a{st}", "-1 does not fit type 't'");
  assert_refused ("{\"/a\": 1}", "a{oi}", "keys of type 'o'");
  assert_refused ("{\"a\": 1, \"b\": 2}", "{si}", "cannot be made a message");
}

static void
test_json_read_typed_variant (void)
{
  assert_reads ("1", "v", "<int64 1>");
  assert_reads ("[1, null]", "(vv)", "(<int64 1>, <@mv nothing>)");
  assert_refused ("18446744073709551615", "v", "does not fit int64");
}

/* Writing */

static void
test_json_write_string (void)
{
  assert_writes ("'text'", "\"text\"");
  assert_writes ("'é \"q\" \\\\ \\n \\t \\u0001 \\u001f \\u007f'",
                 "\"é \\\"q\\\" \\\\ \\n \\t \\u0001 \\u001f \\u007f\"");
  assert_writes ("objectpath '/a/b'", "\"/a/b\"");
  assert_writes ("signature 'a{sv}'", "\"a{sv}\"");
}

static void
test_json_write_integer (void)
{
  assert_writes ("byte 200", "200");
  assert_writes ("int16 -5", "-5");
  assert_writes ("uint16 65535", "65535");
  assert_writes ("int32 -2147483648", "-2147483648");
  assert_writes ("uint32 4294967295", "4294967295");
  assert_writes ("int64 -9223372036854775808", "-9223372036854775808");
  /* json-glib would write -1 */
  assert_writes ("uint64 18446744073709551615", "18446744073709551615");
  assert_writes ("handle 3", "3");
}

static void
test_json_write_double (void)
{
  double values[] = { 0.1, 1e20, 1e-9, 5e-324, 1.7976931348623157e308, -0.0, 2.0, 1.0 / 3 };

  assert_writes ("2.5", "2.5");
  assert_writes ("2.0", "2.0");
  assert_writes ("0.1", "0.1");
  assert_writes ("-0.0", "-0.0");
  assert_writes ("1e20", "1e+20");                 /* json-glib 1.6: 1e+20.0 */
  assert_writes ("1e-9", "1e-09");
  /* what JSON has no number for: the strings that 'd' reads back */
  assert_writes ("inf", "\"inf\"");
  assert_writes ("-inf", "\"-inf\"");
  assert_writes ("nan", "\"nan\"");
  assert_writes ("[1.5, inf]", "[1.5,\"inf\"]");

  /* every finite double comes back with the same bits */
  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_double (values[i]));
      g_autofree char *json = dp_variant_to_json (v);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) back = dp_variant_from_json (json, "d", &error);
      double got;

      g_assert_no_error (error);
      got = g_variant_get_double (back);
      g_assert_cmpmem (&got, sizeof got, &values[i], sizeof values[i]);
    }
  /* and so do the ones that are not */
  {
    double odd[] = { INFINITY, -INFINITY };
    for (gsize i = 0; i < G_N_ELEMENTS (odd); i++)
      {
        g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_double (odd[i]));
        g_autofree char *json = dp_variant_to_json (v);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) back = dp_variant_from_json (json, "d", &error);
        g_assert_no_error (error);
        g_assert_cmpfloat (g_variant_get_double (back), ==, odd[i]);
      }
  }
}

static void
test_json_write_boolean (void)
{
  assert_writes ("true", "true");
  assert_writes ("false", "false");
}

static void
test_json_write_maybe (void)
{
  assert_writes ("@mi nothing", "null");
  assert_writes ("@mi 5", "5");
  assert_writes ("@mv nothing", "null");
  assert_writes ("@mmi just nothing", "null");
  assert_writes ("@(ms) (nothing,)", "[null]");
}

static void
test_json_write_array (void)
{
  assert_writes ("[1, 2]", "[1,2]");
  assert_writes ("@ai []", "[]");
  assert_writes ("@ay [1, 255]", "[1,255]");
  assert_writes ("b'ab'", "[97,98,0]");            /* a bytestring's NUL is data */
  assert_writes ("(1, 'a', [true])", "[1,\"a\",[true]]");
  assert_writes ("()", "[]");
  assert_writes ("[(1, 'a'), (2, '')]", "[[1,\"a\"],[2,\"\"]]");
}

static void
test_json_write_object (void)
{
  assert_writes ("{'k': <true>, 'n': <int64 1>}", "{\"k\":true,\"n\":1}");
  assert_writes ("@a{sv} {}", "{}");
  assert_writes ("{1: 'x', -2: 'y'}", "{\"1\":\"x\",\"-2\":\"y\"}");
  assert_writes ("{true: 'x'}", "{\"true\":\"x\"}");
  assert_writes ("{0.1: 'x', inf: 'y'}", "{\"0.1\":\"x\",\"inf\":\"y\"}");
  assert_writes ("{uint64 18446744073709551615: 1}", "{\"18446744073709551615\":1}");
  assert_writes ("{objectpath '/a': 1}", "{\"/a\":1}");
  assert_writes ("{'a': 'x\"'}", "{\"a\":\"x\\\"\"}");
  assert_writes ("@{is} {1, 'x'}", "{\"1\":\"x\"}");
  /* a repeated key (a GVariant dictionary may have one): the last wins */
  assert_writes ("[{1, 'a'}, {2, 'b'}, {1, 'c'}]", "{\"2\":\"b\",\"1\":\"c\"}");
}

static void
test_json_write_variant (void)
{
  assert_writes ("<int32 5>", "5");
  assert_writes ("<<'x'>>", "\"x\"");
  assert_writes ("[<1>, <'a'>, <@mv nothing>]", "[1,\"a\",null]");
}

static gpointer
producer (gpointer data)
{
  for (gint32 i = 0; i < 10000; i++)
    dp_place_channel_put (data, g_variant_new_int32 (i));
  dp_place_channel_close (data);
  return NULL;
}

static void
test_channel_fifo_and_close (void)
{
  DpPlaceChannel *a, *b;
  GThread *t;
  GVariant *m;
  gint32 expect = 0;

  dp_place_channel_new_pair (&a, &b);
  t = g_thread_new ("producer", producer, a);
  while ((m = dp_place_channel_get (b)) != NULL)
    {
      g_assert_cmpint (g_variant_get_int32 (m), ==, expect++);
      g_variant_unref (m);
    }
  g_assert_cmpint (expect, ==, 10000);
  g_thread_join (t);
  g_assert_true (dp_place_channel_is_closed (b));
  g_assert_false (dp_place_channel_put (b, g_variant_new_int32 (1)));
  g_assert_null (dp_place_channel_try_get (b));
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_channel_timeout (void)
{
  DpPlaceChannel *a, *b;
  gboolean closed = TRUE;

  dp_place_channel_new_pair (&a, &b);
  g_assert_null (dp_place_channel_get_timeout (b, 1000, &closed));
  g_assert_false (closed);
  g_object_unref (a);
  g_assert_null (dp_place_channel_get_timeout (b, 1000, &closed));
  g_assert_true (closed);
  g_object_unref (b);
}

static void
echo_body (DpPlaceChannel *ch)
{
  GVariant *m;
  while ((m = dp_place_channel_get (ch)) != NULL)
    {
      dp_place_channel_put (ch, m);
      g_variant_unref (m);
    }
}

static void
abort_body (DpPlaceChannel *ch)
{
  abort ();
}

static void
test_place_local (void)
{
  g_autoptr(DpPlace) p = dp_place_new (echo_body);
  g_autoptr(GVariant) r = NULL;

  dp_place_channel_put (dp_place_get_channel (p), g_variant_new_string ("hi"));
  r = dp_place_channel_get (dp_place_get_channel (p));
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "hi");
  dp_place_channel_close (dp_place_get_channel (p));
  g_assert_cmpint (dp_place_wait (p), ==, DP_PLACE_EXIT_RETURNED);
}

/* A crash in a place thread ends the process, after one line on stderr
 * naming the place and the signal (dp-place.c); it is never "survived" */
static void
test_place_crash_ends_process (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(DpPlace) p = dp_place_new (abort_body);
      dp_place_wait (p);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*error: crash pid=* channel=0 signal=6: place (anonymous) crashed: killed by signal 6 (SIGABRT)*");
}

/* ---- host strings (dp-host.c), the spawner's choice, GIO errors ---- */

#include "dp-node-process-private.h"
#include "dp-ssh-module-private.h"

typedef struct {
  const char      *path;
  const char      *text;
  DpHostSpecFlags  flags;
  const char      *user;       /* expected; for an error: */
  const char      *host;       /* NULL, and */
  guint            ssh_port;
  guint            port;
  const char      *says;       /* what the message must contain */
} HostCase;

#define NODE_PORT DP_HOST_SPEC_NODE_PORT

static const HostCase host_forms[] = {
  /* what the spawn and connect calls take */
  { "/host/parse/name",               "node7",               0, NULL,    "node7",     0,     0 },
  { "/host/parse/user",               "alice@node7",         0, "alice", "node7",     0,     0 },
  { "/host/parse/ssh-port",           "localhost:2222",      0, NULL,    "localhost", 2222,  0 },
  { "/host/parse/user-ssh-port",      "alice@127.0.0.1:2200", 0, "alice", "127.0.0.1", 2200, 0 },
  { "/host/parse/ipv6",               "[::1]",               0, NULL,    "::1",       0,     0 },
  { "/host/parse/ipv6-bare",          "fe80::1",             0, NULL,    "fe80::1",   0,     0 },
  { "/host/parse/ipv6-ssh-port",      "[::1]:2222",          0, NULL,    "::1",       2222,  0 },
  { "/host/parse/user-ipv6-ssh-port", "bob@[fe80::1]:22",    0, "bob",   "fe80::1",   22,    0 },
  /* HOST:PORT (dp-launch, dp-node --listen) */
  { "/host/parse/port/name",          "localhost:0",         NODE_PORT, NULL,    "localhost", 0,    0 },
  { "/host/parse/port/alias",         "rack1:6340",          NODE_PORT, NULL,    "rack1",     0,    6340 },
  { "/host/parse/port/user",          "alice@node7:0",       NODE_PORT, "alice", "node7",     0,    0 },
  { "/host/parse/port/ssh-port",      "localhost:2222:0",    NODE_PORT, NULL,    "localhost", 2222, 0 },
  { "/host/parse/port/ipv6",          "[::1]:6340",          NODE_PORT, NULL,    "::1",       0,    6340 },
  { "/host/parse/port/ipv6-bare",     "::1:0",               NODE_PORT, NULL,    "::1",       0,    0 },
  { "/host/parse/port/user-ipv6-ssh-port", "user@[fe80::1]:22:0", NODE_PORT, "user", "fe80::1", 22, 0 },
  { "/host/parse/port/largest",       "node7:65535",         NODE_PORT, NULL,    "node7",     0,    65535 },
};

static const HostCase host_errors[] = {
  { "/host/error/empty",              "",                    0, NULL, NULL, 0, 0, "the host is empty" },
  { "/host/error/empty-host",         "alice@",              0, NULL, NULL, 0, 0, "the host is empty" },
  { "/host/error/empty-host-port",    ":2222",               0, NULL, NULL, 0, 0, "the host is empty" },
  { "/host/error/empty-user",         "@node7",              0, NULL, NULL, 0, 0, "user name before '@' is empty" },
  { "/host/error/unbalanced-open",    "[::1:0",              NODE_PORT, NULL, NULL, 0, 0, "unbalanced brackets" },
  { "/host/error/unbalanced-close",   "::1]:0",              NODE_PORT, NULL, NULL, 0, 0, "unbalanced brackets" },
  { "/host/error/bracket-inside",     "node[7]",             0, NULL, NULL, 0, 0, "a '[' must open the host" },
  { "/host/error/after-bracket",      "[::1]x",              0, NULL, NULL, 0, 0, "']'" },
  { "/host/error/no-port",            "localhost",           NODE_PORT, NULL, NULL, 0, 0, "no :PORT" },
  { "/host/error/no-port-ipv6",       "[::1]",               NODE_PORT, NULL, NULL, 0, 0, "no :PORT" },
  { "/host/error/empty-port",         "localhost:",          NODE_PORT, NULL, NULL, 0, 0, "no port after the ':'" },
  { "/host/error/port-not-number",    "localhost:x",         NODE_PORT, NULL, NULL, 0, 0, "the port 'x' is not a number" },
  { "/host/error/port-sign",          "localhost:-1",        NODE_PORT, NULL, NULL, 0, 0, "the port '-1' is not a number" },
  { "/host/error/port-range",         "localhost:65536",     NODE_PORT, NULL, NULL, 0, 0, "the port 65536 is out of range (0-65535)" },
  { "/host/error/ssh-port-not-number", "localhost:ssh",      0, NULL, NULL, 0, 0, "the ssh port 'ssh' is not a number" },
  { "/host/error/ssh-port-range",     "node7:70000:0",       NODE_PORT, NULL, NULL, 0, 0, "the ssh port 70000 is out of range (1-65535)" },
  { "/host/error/ssh-port-zero",      "node7:0",             0, NULL, NULL, 0, 0, "the ssh port 0 is out of range (1-65535)" },
  { "/host/error/too-many-colons",    "node7:22:0",          0, NULL, NULL, 0, 0, "neither a host name nor an IPv6 address" },
};

static void
test_host_form (gconstpointer data)
{
  const HostCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(DpHostSpec) spec = _dp_host_spec_parse (c->text, c->flags, &error);

  g_assert_no_error (error);
  g_assert_nonnull (spec);
  g_assert_cmpstr (spec->user, ==, c->user);
  g_assert_cmpstr (spec->host, ==, c->host);
  g_assert_cmpuint (spec->ssh_port, ==, c->ssh_port);
  g_assert_cmpuint (spec->port, ==, c->port);
}

static void
test_host_error (gconstpointer data)
{
  const HostCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(DpHostSpec) spec = _dp_host_spec_parse (c->text, c->flags, &error);
  g_autofree char *quoted = g_strdup_printf ("'%s'", c->text);

  g_assert_null (spec);
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
  /* says what is wrong, and with what */
  g_assert_nonnull (strstr (error->message, c->says));
  g_assert_nonnull (strstr (error->message, quoted));
}

static void
test_host_to_string (void)
{
  const char *texts[] = { "node7", "alice@node7", "localhost:2222", "[::1]", "bob@[fe80::1]:22" };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DpHostSpec) spec = _dp_host_spec_parse (texts[i], 0, &error);
      g_autofree char *back = NULL;

      g_assert_no_error (error);
      back = _dp_host_spec_to_string (spec);
      g_assert_cmpstr (back, ==, texts[i]);
    }
}

static gboolean
host_is_local (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpHostSpec) spec = _dp_host_spec_parse (text, 0, &error);

  g_assert_no_error (error);
  return _dp_host_spec_is_local (spec);
}

static void
test_host_is_local (void)
{
  const char *local[] = { "localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "::1", "[::1]" };
  const char *remote[] = { "node7", "10.0.0.1", "alice@localhost", "localhost:2222",
                           "127.0.0.1:2222", "[::1]:22" };

  for (gsize i = 0; i < G_N_ELEMENTS (local); i++)
    g_assert_true (host_is_local (local[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (remote); i++)
    g_assert_false (host_is_local (remote[i]));
  g_assert_true (host_is_local (g_get_host_name ()));
}

static void
test_spawn_factory (void)
{
  struct { const char *host; DpSpawnMethod method; gboolean local; } cases[] = {
    { "localhost",       DP_SPAWN_AUTO,  TRUE },
    { "127.0.0.1",       DP_SPAWN_AUTO,  TRUE },
    { "node7",           DP_SPAWN_AUTO,  FALSE },
    { "alice@localhost", DP_SPAWN_AUTO,  FALSE },
    { "localhost:2222",  DP_SPAWN_AUTO,  FALSE },
    { "localhost",       DP_SPAWN_SSH,   FALSE },
    { "node7",           DP_SPAWN_LOCAL, TRUE },
  };
  g_autoptr(DpSpawnOptions) options = dp_spawn_options_new ();
  g_autoptr(GError) error = NULL;
  DpNodeProcess *process;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      dp_spawn_options_set_method (options, cases[i].method);
      process = _dp_node_process_new_for_host (cases[i].host, options, &error);
      g_assert_no_error (error);
      g_assert_true (G_TYPE_CHECK_INSTANCE_TYPE (process, dp_local_node_process_get_type ()) == cases[i].local);
      g_assert_true (G_TYPE_CHECK_INSTANCE_TYPE (process, _dp_ssh_node_process_get_type (NULL)) == !cases[i].local);
      g_assert_cmpstr (dp_node_process_get_host (process), ==, cases[i].host);
      g_object_unref (process);
    }

  /* no options: automatic; no host: localhost */
  process = _dp_node_process_new_for_host (NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (G_TYPE_CHECK_INSTANCE_TYPE (process, dp_local_node_process_get_type ()));
  g_assert_cmpstr (_dp_node_process_get_host_spec (process)->host, ==, "localhost");
  g_object_unref (process);

  /* a malformed host is refused before anything starts */
  process = _dp_node_process_new_for_host ("node7:x", options, &error);
  g_assert_null (process);
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
}

/* The ssh spawner is a module (dp-ssh-module-private.h): one that cannot
 * be loaded fails the ssh spawn with an error naming the file; local spawns
 * go on. Each case runs in a fresh process (the module, once loaded, stays). */
static void
test_ssh_module_missing (void)
{
  struct { const char *file; const char *says; } cases[] = {
    { "/nonexistent/libdp/dp-ssh.so", "does not exist" },
    /* a file that is no shared object */
    { "tests/not-a-plugin.so", "cannot load the ssh module" },
    /* a shared object that is not the module */
    { "plugins/echo.so", "is not libdp's ssh module" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      if (g_test_subprocess ())
        {
          const char *which = g_getenv ("DP_TEST_SSH_MODULE_CASE");
          g_autofree char *file = NULL;
          g_autoptr(GError) error = NULL;
          DpNodeProcess *process;

          if (which == NULL || atoi (which) != (int) i)
            continue;
          file = cases[i].file[0] == '/' ? g_strdup (cases[i].file)
                 : g_build_filename (g_getenv ("DP_BUILD_DIR"), cases[i].file, NULL);
          g_assert_true (cases[i].file[0] == '/' || g_file_test (file, G_FILE_TEST_IS_REGULAR));
          g_setenv ("DP_SSH_MODULE", file, TRUE);
          g_assert_cmpstr (_dp_ssh_module_path (), ==, file);
          process = _dp_node_process_new_for_host ("node7", NULL, &error);
          g_assert_null (process);
          g_assert_error (error, DP_ERROR, DP_ERROR_SPAWN_FAILED);
          g_assert_nonnull (strstr (error->message, file));
          g_assert_nonnull (strstr (error->message, cases[i].says));
          g_clear_error (&error);
          /* and again: the next ssh spawn tries again, and fails alike */
          g_assert_null (_dp_node_process_new_for_host ("node7", NULL, &error));
          g_assert_error (error, DP_ERROR, DP_ERROR_SPAWN_FAILED);
          g_clear_error (&error);
          /* a local node needs no module */
          process = _dp_node_process_new_for_host ("localhost", NULL, &error);
          g_assert_no_error (error);
          g_object_unref (process);
          return;
        }
      else
        {
          g_autofree char *n = g_strdup_printf ("%" G_GSIZE_FORMAT, i);
          g_setenv ("DP_TEST_SSH_MODULE_CASE", n, TRUE);
          g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
          g_unsetenv ("DP_TEST_SSH_MODULE_CASE");
          g_test_trap_assert_passed ();
        }
    }
}

static void
test_error_from_gio (void)
{
  struct { GQuark domain; int code; int expected; } cases[] = {
    { G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, DP_ERROR_CONNECTION_REFUSED },
    { G_IO_ERROR, G_IO_ERROR_TIMED_OUT, DP_ERROR_TIMED_OUT },
    { G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE, DP_ERROR_HOST_UNREACHABLE },
    { G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, DP_ERROR_HOST_UNREACHABLE },
    { G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, DP_ERROR_HOST_UNREACHABLE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) gio = g_error_new_literal (cases[i].domain, cases[i].code, "it went wrong");
      g_autoptr(GError) plain = _dp_error_from_gio (gio, NULL);
      g_autoptr(GError) prefixed = _dp_error_from_gio (gio, "ssh to node7 port 22");

      g_assert_error (plain, DP_ERROR, cases[i].expected);
      g_assert_cmpstr (plain->message, ==, "it went wrong");
      g_assert_error (prefixed, DP_ERROR, cases[i].expected);
      g_assert_cmpstr (prefixed->message, ==, "ssh to node7 port 22: it went wrong");
    }

  /* a cancellation stays one */
  {
    g_autoptr(GError) gio = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
    g_autoptr(GError) same = _dp_error_from_gio (gio, "connect");
    g_assert_error (same, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  }
}

static void
add_host_tests (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (host_forms); i++)
    g_test_add_data_func (host_forms[i].path, &host_forms[i], test_host_form);
  for (gsize i = 0; i < G_N_ELEMENTS (host_errors); i++)
    g_test_add_data_func (host_errors[i].path, &host_errors[i], test_host_error);
  g_test_add_func ("/host/to-string", test_host_to_string);
  g_test_add_func ("/host/is-local", test_host_is_local);
  g_test_add_func ("/spawn/factory", test_spawn_factory);
  g_test_add_func ("/spawn/ssh-module-missing", test_ssh_module_missing);
  g_test_add_func ("/error/from-gio", test_error_from_gio);
}

/* Every public enum and flags type is a registered GType with the C names
 * as value names (what bindings and GObject properties use). */
static void
test_enum_types (void)
{
  g_autoptr(GEnumClass) err = g_type_class_ref (DP_TYPE_ERROR);
  g_autoptr(GFlagsClass) launch = g_type_class_ref (DP_TYPE_LAUNCH_FLAGS);
  GType enums[] = { DP_TYPE_PLACE_EXIT, DP_TYPE_REMOTE_CONNECTION_STATE, DP_TYPE_SPAWN_METHOD,
                    DP_TYPE_SPAWN_OUTPUT, DP_TYPE_PLUGIN_PLACE_KIND };

  g_assert_true (G_TYPE_IS_ENUM (DP_TYPE_ERROR));
  g_assert_cmpstr (g_enum_get_value (err, DP_ERROR_BAD_REFERENCE)->value_name, ==, "DP_ERROR_BAD_REFERENCE");
  g_assert_true (G_TYPE_IS_FLAGS (DP_TYPE_LAUNCH_FLAGS));
  g_assert_cmpstr (g_flags_get_first_value (launch, DP_LAUNCH_ISOLATE)->value_nick, ==, "isolate");
  for (gsize i = 0; i < G_N_ELEMENTS (enums); i++)
    g_assert_true (G_TYPE_IS_ENUM (enums[i]));
}

static gboolean
quit_router (gpointer data)
{
  dp_message_router_quit (data);
  return G_SOURCE_REMOVE;
}

/* dp_message_router_run(): the array form of dp_message_router(); the
 * caller keeps its references */
static void
test_message_router_run (void)
{
  g_autoptr(DpNode) node = dp_node_new ();
  GSource *sources[] = { dp_after_seconds (0, quit_router, node, NULL) };

  dp_message_router_run (node, sources, G_N_ELEMENTS (sources));
  g_assert_true (g_source_is_destroyed (sources[0]));
  g_source_unref (sources[0]);
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/wire/codec/values", test_codec_values);
  dp_test_add_func ("/wire/codec/rejects", test_codec_rejects);
  dp_test_add_func ("/wire/codec/basic", test_codec_basic);
  dp_test_add_func ("/wire/codec/fixed-arrays", test_codec_fixed_arrays);
  dp_test_add_func ("/wire/frame-header", test_frame_header);
  dp_test_add_func ("/wire/handshake", test_handshake);
  dp_test_add_func ("/wire/refusal", test_refusal);
  dp_test_add_func ("/secret/random/bytes", test_random_bytes);
  dp_test_add_func ("/secret/random/fails-closed", test_random_fails_closed);
  dp_test_add_func ("/secret/cookie", test_cookie);
  dp_test_add_func ("/secret/source", test_secret_source);
  dp_test_add_func ("/json/round-trip", test_json_round_trip);
  dp_test_add_func ("/json/read/string", test_json_read_string);
  dp_test_add_func ("/json/read/integer", test_json_read_integer);
  dp_test_add_func ("/json/read/double", test_json_read_double);
  dp_test_add_func ("/json/read/boolean", test_json_read_boolean);
  dp_test_add_func ("/json/read/null", test_json_read_null);
  dp_test_add_func ("/json/read/array", test_json_read_array);
  dp_test_add_func ("/json/read/object", test_json_read_object);
  dp_test_add_func ("/json/read/json-glib-syntax", test_json_read_json_glib_syntax);
  dp_test_add_func ("/json/read/typed/string", test_json_read_typed_string);
  dp_test_add_func ("/json/read/typed/integer", test_json_read_typed_integer);
  dp_test_add_func ("/json/read/typed/double", test_json_read_typed_double);
  dp_test_add_func ("/json/read/typed/boolean", test_json_read_typed_boolean);
  dp_test_add_func ("/json/read/typed/maybe", test_json_read_typed_maybe);
  dp_test_add_func ("/json/read/typed/array", test_json_read_typed_array);
  dp_test_add_func ("/json/read/typed/object", test_json_read_typed_object);
  dp_test_add_func ("/json/read/typed/variant", test_json_read_typed_variant);
  dp_test_add_func ("/json/write/string", test_json_write_string);
  dp_test_add_func ("/json/write/integer", test_json_write_integer);
  dp_test_add_func ("/json/write/double", test_json_write_double);
  dp_test_add_func ("/json/write/boolean", test_json_write_boolean);
  dp_test_add_func ("/json/write/maybe", test_json_write_maybe);
  dp_test_add_func ("/json/write/array", test_json_write_array);
  dp_test_add_func ("/json/write/object", test_json_write_object);
  dp_test_add_func ("/json/write/variant", test_json_write_variant);
  dp_test_add_func ("/channel/fifo-and-close", test_channel_fifo_and_close);
  dp_test_add_func ("/channel/timeout", test_channel_timeout);
  dp_test_add_func ("/place/local", test_place_local);
  dp_test_add_func ("/gobject/enum-types", test_enum_types);
  dp_test_add_func ("/router/message-router-run", test_message_router_run);
  dp_test_add_func ("/place/crash-ends-process", test_place_crash_ends_process);
  add_host_tests ();
  return g_test_run ();
}
