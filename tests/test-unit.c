/* Unit tests: codec, handshake, cookie, JSON, place channels, places. */
#include "dp-private.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

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
      v = g_variant_ref_sink (parsed);
      back = roundtrip (g_variant_ref (v), &error);
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
    g_autoptr(GVariant) back = roundtrip (g_variant_ref (keep), &error);
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

static void
test_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = dp_variant_from_json ("[1, 2.5, \"x\"]", NULL, &error);
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  text = dp_variant_to_json (v);
  g_assert_cmpstr (text, ==, "[1,2.5,\"x\"]");
  g_assert_null (dp_variant_from_json ("not json", NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
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

static void
test_place_crash_survived (void)
{
  g_autoptr(DpPlace) p = dp_place_new (abort_body);

  g_assert_cmpint (dp_place_wait (p), ==, DP_PLACE_EXIT_CRASHED);
  g_assert_nonnull (strstr (dp_place_get_exit_detail (p), "signal 6"));
  /* and this process goes on */
  test_place_local ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* libdp warns about crashed places and rejected peers, which these tests
   * cause on purpose; criticals stay fatal */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/wire/codec/values", test_codec_values);
  g_test_add_func ("/wire/codec/rejects", test_codec_rejects);
  g_test_add_func ("/wire/frame-header", test_frame_header);
  g_test_add_func ("/wire/handshake", test_handshake);
  g_test_add_func ("/wire/refusal", test_refusal);
  g_test_add_func ("/secret/cookie", test_cookie);
  g_test_add_func ("/secret/source", test_secret_source);
  g_test_add_func ("/json/round-trip", test_json);
  g_test_add_func ("/channel/fifo-and-close", test_channel_fifo_and_close);
  g_test_add_func ("/channel/timeout", test_channel_timeout);
  g_test_add_func ("/place/local", test_place_local);
  g_test_add_func ("/place/crash-survived", test_place_crash_survived);
  return g_test_run ();
}
