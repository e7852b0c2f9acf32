/* Multi-process tests: real dp-node processes on loopback, ephemeral ports. */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <json-glib/json-glib.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>

typedef struct {
  DpNode       *router;
  DpRemoteNode *node;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->router = dp_test_new_router ();
  f->node = dp_test_spawn_node (f->router);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  /* while the node still runs: its warnings come through its stderr */
  dp_test_assert_expected_logs ();
  g_clear_object (&f->node);
  g_clear_object (&f->router);
}

static DpRemoteConnection *
launch (Fixture *f, const char *plugin, const char *symbol, DpLaunchFlags flags, const char *name)
{
  g_autoptr(GError) error = NULL;
  DpRemoteConnection *rc = dp_remote_node_launch_place (f->node, plugin, symbol, flags, name);

  g_assert_true (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_assert_no_error (error);
  return rc;
}

static void
test_echo_values (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (f, "echo", "echo", 0, NULL);
  const char *texts[] = {
    "'Hello'", "(1, 'two', [3, 4], {'k': <5>})", "{1: 'x'}", "@mi nothing", "@ms 'm'",
    "b'bytes'", "''", "(int64 -9223372036854775808, uint64 18446744073709551615)",
    "<<(true, 1.5)>>", "@a{sv} {}",
  };
  g_autofree guint8 *blob = g_malloc (4 * 1024 * 1024);

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GVariant) v = g_variant_parse (NULL, texts[i], NULL, NULL, NULL);   /* not floating */
      g_autoptr(GVariant) back = NULL;
      g_assert_true (dp_remote_connection_put (rc, v));
      back = dp_remote_connection_get (rc);
      g_assert_nonnull (back);
      g_assert_true (g_variant_equal (v, back));
    }
  for (gsize i = 0; i < 4 * 1024 * 1024; i++)
    blob[i] = (guint8) (i * 13);
  {
    g_autoptr(GVariant) v = g_variant_ref_sink (
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, 4 * 1024 * 1024, 1));
    g_autoptr(GVariant) back = NULL;
    dp_remote_connection_put (rc, v);
    back = dp_remote_connection_get (rc);
    g_assert_true (g_variant_equal (v, back));
  }
  dp_remote_connection_close (rc);
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
  g_assert_null (dp_remote_connection_get (rc));
}

/* A node loads what a node needs: not the ssh spawner (the module
 * dp-ssh.so) nor libssh and the crypto and Kerberos libraries it brings
 * (they cost every node's start-up; issue 12). Read from the maps of a
 * node serving a place. */
static void
test_node_libraries (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (f, "echo", "echo", 0, NULL);
  g_autoptr(GVariant) r = NULL;
  g_autofree char *file = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/maps",
                                           dp_remote_node_get_pid (f->node));
  g_autofree char *maps = NULL;
  g_autoptr(GError) error = NULL;
  const char *refused[] = { "/dp-ssh.so", "/libssh.so", "/libcrypto.so", "/libssl.so",
                            "/libkrb5.so", "/libgssapi_krb5.so" };

  g_assert_true (dp_remote_connection_put (rc, g_variant_new_string ("up")));
  r = dp_remote_connection_get (rc);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "up");
  g_assert_true (g_file_get_contents (file, &maps, NULL, &error));
  g_assert_no_error (error);
  /* the maps are the node's: its libraries are there */
  g_assert_nonnull (strstr (maps, "/libdp-1.0.so"));
  g_assert_nonnull (strstr (maps, "/echo.so"));
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    if (strstr (maps, refused[i]) != NULL)
      g_error ("the node maps %s:\n%s", refused[i], maps);
}

/* A node is started with posix_spawn(), its master's descriptors left open
 * (dp-local-node-process.c); it closes those it did not ask for before it
 * opens its own: a pipe of the master's that is not close-on-exec is not
 * held by the node. */
static void
test_node_descriptors (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = NULL;
  g_autofree char *link = NULL;
  g_autofree char *ours = NULL;
  g_autofree char *fd_dir = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  const char *name;
  guint n = 0;
  int p[2];

  g_assert_cmpint (pipe (p), ==, 0);      /* not close-on-exec */
  link = g_strdup_printf ("/proc/self/fd/%d", p[1]);
  ours = g_file_read_link (link, NULL);
  g_assert_nonnull (ours);
  node = dp_test_spawn_node (router);
  fd_dir = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/fd", dp_remote_node_get_pid (node));
  dir = g_dir_open (fd_dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fd_dir, name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      n++;
      if (g_strcmp0 (target, ours) == 0)
        g_error ("the node holds its master's pipe (%s) as its fd %s", ours, name);
    }
  g_assert_cmpuint (n, >=, 3);
  close (p[0]);
  close (p[1]);
}

static void
test_thunk (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (f, "test-places", "echo_thunk", DP_LAUNCH_THUNK, NULL);
  g_autoptr(GVariant) r = NULL;

  dp_channel_put (DP_CHANNEL (rc), g_variant_new_string ("Hello"));
  r = dp_channel_get (DP_CHANNEL (rc));
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "Hello");
}

static void
test_death_after_last_message (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = dp_remote_node_launch_place (f->node, "test-places", "burst", 0, NULL);
  GVariant *m;
  gint32 n = 0;

  while ((m = dp_remote_connection_get (rc)) != NULL)
    {
      g_assert_cmpint (g_variant_get_int32 (m), ==, n++);
      g_variant_unref (m);
    }
  g_assert_cmpint (n, ==, 100);
  g_assert_cmpint (dp_remote_connection_get_exit (rc), ==, DP_PLACE_EXIT_RETURNED);

  {
    g_autoptr(DpRemoteConnection) q = dp_remote_node_launch_place (f->node, "test-places", "quick", 0, NULL);
    g_assert_null (dp_remote_connection_get (q));
    g_assert_cmpint (dp_remote_connection_get_exit (q), ==, DP_PLACE_EXIT_RETURNED);
  }
}

static void
expect_failure (Fixture *f, const char *plugin, const char *symbol, DpLaunchFlags flags,
                int code, const char *mentions)
{
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autoptr(GError) error = NULL;

  rc = dp_remote_node_launch_place (f->node, plugin, symbol, flags, NULL);
  g_assert_false (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_assert_error (error, DP_ERROR, code);
  g_assert_nonnull (strstr (error->message, mentions));
  g_assert_cmpint (dp_remote_connection_get_exit (rc), ==, DP_PLACE_EXIT_FAILED);
}

static void
test_launch_errors (Fixture *f, gconstpointer data)
{
  expect_failure (f, "no-such-plugin", "x", 0, DP_ERROR_PLUGIN_NOT_FOUND, "no-such-plugin");
  expect_failure (f, "echo", "no_such_symbol", 0, DP_ERROR_SYMBOL_NOT_FOUND, "no_such_symbol");
  expect_failure (f, "bad-abi", "echo", 0, DP_ERROR_PLUGIN_ABI, "99.0");
  expect_failure (f, "test-places", "null_thunk", DP_LAUNCH_THUNK, DP_ERROR_PLACE_FAILED, "null_thunk");
  expect_failure (f, "/bin/true", "main", 0, DP_ERROR_PLUGIN_NOT_ALLOWED, "outside");
  /* confined plugins: their dependencies' symbols are no places; a plugin
   * with an unresolved symbol, or no shared object, is refused at load */
  expect_failure (f, "echo", "exit", 0, DP_ERROR_SYMBOL_NOT_FOUND, "defines no place 'exit'");
  expect_failure (f, "echo", "free", 0, DP_ERROR_SYMBOL_NOT_FOUND, "defines no place 'free'");
  expect_failure (f, "echo", "g_object_unref", 0, DP_ERROR_SYMBOL_NOT_FOUND,
                  "defines no place 'g_object_unref'");
  expect_failure (f, "unresolved", "calls_missing", 0, DP_ERROR_PLUGIN_INVALID,
                  "undefined symbol: dp_test_function_nobody_defines");
  expect_failure (f, "not-a-plugin", "echo", 0, DP_ERROR_PLUGIN_INVALID, "is not a shared object");
  /* the node still serves */
  g_object_unref (launch (f, "echo", "echo", 0, NULL));
}

static void
test_named (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) owner G_GNUC_UNUSED = launch (f, "echo", "echo_named", 0, "srv");
  g_autoptr(DpRemoteConnection) c1 = NULL;
  g_autoptr(DpRemoteConnection) c2 = NULL;
  g_autoptr(GVariant) r1 = NULL;
  g_autoptr(GVariant) r2 = NULL;
  g_autoptr(GError) error = NULL;

  c1 = dp_remote_node_connect_to_named_place (f->node, "srv");
  c2 = dp_remote_node_connect_to_named_place (f->node, "srv");
  dp_remote_connection_put (c2, g_variant_new_string ("two"));
  dp_remote_connection_put (c1, g_variant_new_string ("one"));
  r1 = dp_remote_connection_get (c1);
  r2 = dp_remote_connection_get (c2);
  g_assert_cmpstr (g_variant_get_string (r1, NULL), ==, "one");
  g_assert_cmpstr (g_variant_get_string (r2, NULL), ==, "two");
  {
    g_autoptr(DpRemoteConnection) none = NULL;

    none = dp_remote_node_connect_to_named_place (f->node, "nobody");
    g_assert_false (dp_remote_connection_wait_ready (none, NULL, &error));
    g_assert_error (error, DP_ERROR, DP_ERROR_NAME_NOT_FOUND);
  }
}

/* tc-get on both sides of a real place channel: the place (typed_reorder)
 * takes "second" before "first" through a DpTypedChannel on its
 * DpPlaceChannel; the master reads the replies through one on its
 * DpRemoteConnection, by type, out of arrival order. */
static void
test_typed_channel (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (f, "test-places", "typed_reorder", 0, NULL);
  g_autoptr(DpTypedChannel) tc = dp_typed_channel_new (DP_CHANNEL (rc));
  const char *sent[] = { "('first', 1)", "'noise'", "[<'second'>, <2>]", "('tail', 3)" };
  const char *want[] = { "'noise'", "('tail', 3)", "[<'second'>, <2>]", "('first', 1)" };
  const char *types[] = { "noise", "tail", NULL, NULL };

  for (gsize i = 0; i < G_N_ELEMENTS (sent); i++)
    g_assert_true (dp_remote_connection_put (rc, g_variant_new_parsed (sent[i])));
  dp_remote_connection_close (rc);
  /* the place answers second, first, noise, tail; the master asks for
   * noise and tail first, then takes the held-back ones in order */
  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) got = dp_typed_channel_get (tc, types[i], &error);
      g_autoptr(GVariant) w = g_variant_ref_sink (g_variant_new_parsed (want[i]));

      g_assert_no_error (error);
      g_assert_nonnull (got);
      g_assert_true (g_variant_equal (got, w));
    }
  g_assert_null (dp_typed_channel_get (tc, NULL, NULL));
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
}

/* A named place reads through a DpTypedChannel with get_full: messages it
 * holds back keep the channel to their client, so each client gets its own
 * answers, in the order the place took them. */
static void
test_typed_channel_named (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) owner G_GNUC_UNUSED =
    launch (f, "test-places", "typed_named_reorder", 0, "tsrv");
  const char *clients[] = { "c1", "c2" };

  for (gsize i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autoptr(DpRemoteConnection) c = dp_remote_node_connect_to_named_place (f->node, "tsrv");
      g_autoptr(GVariant) r1 = NULL;
      g_autoptr(GVariant) r2 = NULL;

      dp_remote_connection_put (c, g_variant_new ("(ss)", "first", clients[i]));
      dp_remote_connection_put (c, g_variant_new ("(ss)", "second", clients[i]));
      r1 = dp_remote_connection_get (c);
      r2 = dp_remote_connection_get (c);
      g_assert_nonnull (r1);
      g_assert_nonnull (r2);
      {
        g_autoptr(GVariant) want1 = g_variant_ref_sink (g_variant_new ("(ss)", "second", clients[i]));
        g_autoptr(GVariant) want2 = g_variant_ref_sink (g_variant_new ("(ss)", "first", clients[i]));
        g_assert_true (g_variant_equal (r1, want1));
        g_assert_true (g_variant_equal (r2, want2));
      }
    }
}

static void
test_two_nodes (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) other = dp_remote_node_spawn (f->router, "localhost", 0, NULL, NULL, &error);
  g_autoptr(DpRemoteConnection) a = launch (f, "echo", "echo", 0, NULL);
  g_autoptr(DpRemoteConnection) b = NULL;
  g_autoptr(GVariant) ra = NULL;
  g_autoptr(GVariant) rb = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (dp_remote_node_get_port (other), !=, dp_remote_node_get_port (f->node));
  b = dp_remote_node_launch_place (other, "echo", "echo", 0, NULL);
  dp_remote_connection_put (a, g_variant_new_string ("a"));
  dp_remote_connection_put (b, g_variant_new_string ("b"));
  ra = dp_remote_connection_get (a);
  rb = dp_remote_connection_get (b);
  g_assert_cmpstr (g_variant_get_string (ra, NULL), ==, "a");
  g_assert_cmpstr (g_variant_get_string (rb, NULL), ==, "b");
}

/* ---- raw, misbehaving peers ---- */

static void
assert_node_serves (Fixture *f)
{
  g_autoptr(DpRemoteConnection) rc = launch (f, "echo", "echo", 0, NULL);
  g_autoptr(GVariant) r = NULL;

  dp_remote_connection_put (rc, g_variant_new_string ("still here"));
  r = dp_remote_connection_get (rc);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "still here");
}

static void
test_bad_peers (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) secret = dp_node_get_secret (f->router, NULL);
  g_autoptr(GBytes) wrong = g_bytes_new ("wrong-secret-0123456789abcdef", 29);
  g_autoptr(GSocketConnection) half = dp_test_raw_connect (dp_remote_node_get_port (f->node));
  g_autoptr(DpRemoteConnection) busy = launch (f, "echo", "echo", 0, NULL);

  /* a half-sent frame on an authenticated connection stays pending while
   * everybody else is served */
  dp_test_raw_handshake (half, secret);
  {
    guint8 hdr[DP_FRAME_HEADER_LEN];
    DpFrameHeader h = { 100, DP_FRAME_DATA, 0, 1, 1, 0 };
    _dp_frame_header_pack (&h, hdr);
    dp_test_raw_write (half, hdr, 10);
  }
  assert_node_serves (f);

  /* each bad peer is dropped with a warning in the node's log, which comes
   * back to us */
  /* garbage instead of a handshake */
  {
    g_autoptr(GSocketConnection) c = dp_test_raw_connect (dp_remote_node_get_port (f->node));
    dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                        "node *: connection from * closed: *peer does not speak the libdp protocol (bad magic)");
    dp_test_raw_write (c, "GET / HTTP/1.0\r\n\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 71);
    dp_test_expect_dropped (c);
  }
  /* the wrong secret */
  {
    g_autoptr(GSocketConnection) c = dp_test_raw_connect (dp_remote_node_get_port (f->node));
    dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                        "node *: connection from * closed: * failed authentication (wrong secret)*");
    dp_test_raw_handshake (c, wrong);
    dp_test_expect_dropped (c);
  }
  dp_test_assert_expected_logs ();
  /* an oversized frame, an unknown frame type, a payload that is not a GVariant */
  {
    DpFrameHeader bad[] = {
      { 0x7fffffff, DP_FRAME_DATA, 0, 1, 1, 0 },
      { 0, 99, 0, 0, 1, 0 },
      { 16, DP_FRAME_DATA, 0, 2, 1, 0 },
    };
    const char *why[] = {
      "node *: connection from * closed: bad frame from *: frame of 2147483647 bytes is over the maximum of *",
      "node *: connection from * closed: bad frame from *: unknown frame type 99",
      "node *: connection from * closed: payload type string is not a valid GVariant type",
    };
    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(GSocketConnection) c = dp_test_raw_connect (dp_remote_node_get_port (f->node));
        guint8 hdr[DP_FRAME_HEADER_LEN];
        dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, why[i]);
        dp_test_raw_handshake (c, secret);
        _dp_frame_header_pack (&bad[i], hdr);
        dp_test_raw_write (c, hdr, sizeof hdr);
        if (bad[i].sig_len == 2)
          dp_test_raw_write (c, "a{\0\0\0\0\0\0xxxxxxxx", 16);
        dp_test_expect_dropped (c);
      }
  }
  /* a master with another secret cannot connect: the node refuses it */
  {
    g_autoptr(DpNode) stranger = dp_node_new ();
    g_autoptr(GError) error = NULL;
    g_autoptr(DpRemoteNode) n = NULL;
    dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                        "node *: connection from * closed: * failed authentication (wrong secret)*");
    dp_node_set_secret (stranger, wrong);
    n = dp_remote_node_connect (stranger, "127.0.0.1", dp_remote_node_get_port (f->node), NULL, &error);
    g_assert_null (n);
    g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
    g_assert_nonnull (strstr (error->message, "refused our authentication"));
    g_assert_nonnull (strstr (error->message, "(a secret set by the application)"));
  }
  dp_test_assert_expected_logs ();
  /* through all of that, an old connection and new ones work */
  {
    g_autoptr(GVariant) r = NULL;
    dp_remote_connection_put (busy, g_variant_new_int32 (5));
    r = dp_remote_connection_get (busy);
    g_assert_cmpint (g_variant_get_int32 (r), ==, 5);
  }
  assert_node_serves (f);
}

/* ---- a wrong secret is named ---- */

/* A fake node: says hello, takes any proof, proves with a wrong secret and
 * reports whether the master answered REFUSED before it closed. */
typedef struct {
  GSocketListener *listener;
  gboolean         refused;
  gboolean         closed_after;
} FakeNode;

static gpointer
fake_node_thread (gpointer data)
{
  FakeNode *fn = data;
  g_autoptr(GSocketConnection) c = g_socket_listener_accept (fn->listener, NULL, NULL, NULL);
  g_autoptr(GBytes) wrong = g_bytes_new ("not-the-secret-0123456789", 25);
  guint8 nonce[DP_NONCE_LEN], hello[DP_HELLO_LEN], theirs[DP_HELLO_LEN + DP_AUTH_LEN];
  guint8 peer[DP_NONCE_LEN], proof[DP_AUTH_LEN], answer[DP_REFUSAL_LEN], more[1];
  GInputStream *in;
  GOutputStream *out;
  gsize got = 0;

  if (c == NULL)
    return NULL;
  g_socket_set_timeout (g_socket_connection_get_socket (c), 0);
  in = g_io_stream_get_input_stream (G_IO_STREAM (c));
  out = g_io_stream_get_output_stream (G_IO_STREAM (c));
  _dp_random_bytes (nonce, sizeof nonce);
  _dp_wire_hello_build (hello, nonce);
  if (!g_output_stream_write_all (out, hello, sizeof hello, NULL, NULL, NULL) ||
      !g_input_stream_read_all (in, theirs, sizeof theirs, &got, NULL, NULL) ||
      got != sizeof theirs || !_dp_wire_hello_parse (theirs, peer, NULL))
    return NULL;
  _dp_wire_auth_compute (wrong, 'S', peer, nonce, proof);
  if (!g_output_stream_write_all (out, proof, sizeof proof, NULL, NULL, NULL) ||
      !g_input_stream_read_all (in, answer, sizeof answer, &got, NULL, NULL))
    return NULL;
  fn->refused = got == sizeof answer && _dp_wire_refusal_match (answer, sizeof answer);
  fn->closed_after = g_input_stream_read (in, more, 1, NULL, NULL) == 0;
  return NULL;
}

static void
test_wrong_secret_named (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_dir_make_tmp ("dp-auth-XXXXXX", NULL);
  g_autofree char *cookie = g_build_filename (dir, "cookie", NULL);
  guint16 port = dp_remote_node_get_port (f->node);
  const char *node_refused =
    "node *: connection from * closed: * failed authentication (wrong secret): it does not "
    "share this node's secret (the secret given on standard input)";
  const char *node_was_refused =
    "node *: connection from * closed: * refused our authentication: it does not share this "
    "node's secret (the secret given on standard input)";

  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, node_refused);

  /* a master with the secret of another cookie file: the node refuses it,
   * and the error says so, naming the cookie file */
  {
    g_autoptr(DpNode) stranger = dp_node_new ();
    g_autoptr(GError) error = NULL;
    g_autoptr(DpRemoteNode) n = NULL;
    g_autofree char *source = NULL;
    g_autofree char *want = NULL;

    g_assert_true (dp_node_load_cookie (stranger, cookie, &error));
    g_assert_no_error (error);
    source = dp_node_dup_secret_source (stranger);
    want = g_strdup_printf ("cookie file %s", cookie);
    g_assert_cmpstr (source, ==, want);
    n = dp_remote_node_connect (stranger, "127.0.0.1", port, NULL, &error);
    g_assert_null (n);
    g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
    g_clear_pointer (&want, g_free);
    want = g_strdup_printf ("node 127.0.0.1:%u refused our authentication: it does not share "
                            "this cluster's secret (cookie file %s)", port, cookie);
    g_assert_cmpstr (error->message, ==, want);
  }
  /* the node still says it on its side, naming its own secret */
  dp_test_assert_expected_logs ();

  /* REFUSED on the wire: in place of the node's proof, then the close */
  {
    g_autoptr(GBytes) wrong = g_bytes_new ("wrong-secret-0123456789abcdef", 29);
    g_autoptr(GSocketConnection) c = dp_test_raw_connect (dp_remote_node_get_port (f->node));
    guint8 answer[DP_REFUSAL_LEN];
    gsize got = 0;
    g_autoptr(GError) error = NULL;

    dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, node_refused);
    dp_test_raw_handshake (c, wrong);
    g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (c)), answer, sizeof answer,
                             &got, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (got, ==, sizeof answer);
    g_assert_true (_dp_wire_refusal_match (answer, sizeof answer));
    dp_test_expect_dropped (c);
  }
  dp_test_assert_expected_logs ();

  /* a client that finds the node's proof wrong refuses it in turn: the
   * node reads REFUSED where it expects the first frame */
  {
    g_autoptr(GBytes) secret = dp_node_get_secret (f->router, NULL);
    g_autoptr(GSocketConnection) c = dp_test_raw_connect (dp_remote_node_get_port (f->node));
    guint8 proof[DP_AUTH_LEN], refused[DP_REFUSAL_LEN];
    gsize got = 0;
    g_autoptr(GError) error = NULL;

    dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, node_was_refused);
    dp_test_raw_handshake (c, secret);
    g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (c)), proof, sizeof proof,
                             &got, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (got, ==, sizeof proof);
    g_assert_false (_dp_wire_refusal_match (proof, sizeof proof));
    _dp_wire_refusal_build (refused);
    dp_test_raw_write (c, refused, sizeof refused);
    dp_test_expect_dropped (c);
  }
  dp_test_assert_expected_logs ();

  /* a "node" whose proof is wrong: the master refuses it (REFUSED, then
   * the close) and says which secret it used */
  {
    FakeNode fn = { g_socket_listener_new () };
    g_autoptr(GError) error = NULL;
    g_autoptr(DpRemoteNode) n = NULL;
    g_autofree char *want = NULL;
    GThread *t;
    guint16 fake_port = 0;
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    g_socket_listener_add_address (fn.listener, addr, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                   NULL, &bound, &error);
    g_assert_no_error (error);
    fake_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
    t = g_thread_new ("fake-node", fake_node_thread, &fn);
    n = dp_remote_node_connect (f->router, "127.0.0.1", fake_port, NULL, &error);
    g_thread_join (t);
    g_object_unref (fn.listener);
    g_assert_null (n);
    g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
    want = g_strdup_printf ("node 127.0.0.1:%u failed authentication (wrong secret): it does not "
                            "share this cluster's secret (a secret set by the application)",
                            fake_port);
    g_assert_cmpstr (error->message, ==, want);
    g_assert_true (fn.refused);
    g_assert_true (fn.closed_after);
  }

  assert_node_serves (f);
  g_unlink (cookie);
  g_rmdir (dir);
}

/* A node that refuses the master's proof during a spawn: this dp-node
 * drops the secret its master hands it on standard input and uses another
 * cookie file's. */
static void
test_spawn_refused (void)
{
  g_autofree char *dir = g_dir_make_tmp ("dp-auth-XXXXXX", NULL);
  g_autofree char *ours = g_build_filename (dir, "ours", NULL);
  g_autofree char *theirs = g_build_filename (dir, "theirs", NULL);
  g_autofree char *wrapper = g_build_filename (dir, "dp-node-other-secret", NULL);
  g_autofree char *script = NULL;
  g_autofree char *want = NULL;
  g_autoptr(GBytes) other = NULL;
  g_autoptr(DpNode) router = dp_node_new ();
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autoptr(DpRemoteNode) node = NULL;
  g_autoptr(GError) error = NULL;

  other = dp_cookie_load (theirs, TRUE, &error);
  g_assert_no_error (error);
  script = g_strdup_printf ("#!/bin/sh\n"
                            "read -r _ || exit 1\n"
                            "for a; do shift\n"
                            "  if [ \"$a\" = --secret-stdin ]; then set -- \"$@\" --cookie-file '%s'\n"
                            "  else set -- \"$@\" \"$a\"; fi\n"
                            "done\n"
                            "exec \"$DP_NODE_PATH\" \"$@\"\n", theirs);
  g_assert_true (g_file_set_contents (wrapper, script, -1, &error));
  g_assert_cmpint (g_chmod (wrapper, 0700), ==, 0);
  dp_spawn_options_set_node_path (opts, wrapper);
  g_assert_true (dp_node_load_cookie (router, ours, &error));

  /* the node may say it too before it is stopped */
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "node *: * failed authentication (wrong secret)*");
  node = dp_remote_node_spawn (router, "localhost", 0, opts, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "node 127.0.0.1:"));
  want = g_strdup_printf ("refused our authentication: it does not share this cluster's secret "
                          "(cookie file %s)", ours);
  g_assert_true (g_str_has_suffix (error->message, want));
  /* nothing more comes from that node once its router is gone */
  g_clear_object (&router);

  g_unlink (wrapper);
  g_unlink (ours);
  g_unlink (theirs);
  g_rmdir (dir);
}

/* ---- whole programs ---- */

static void
test_dp_launch (void)
{
  g_autofree char *launch_path = dp_test_build_path ("loader/dp-launch");
  g_autofree char *echo = dp_test_build_path ("plugins/echo.so");
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GSubprocess) sp = NULL;

  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                         launch_path, "localhost:0", echo, "echo", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, "\"ping\"\n[1, 2.5, \"x\"]\n{\"k\": true}\n", NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "\"ping\"\n[1,2.5,\"x\"]\n{\"k\":true}\n");
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);

  /* a missing symbol: 4; a bad input line: 7, the rest still sent */
  g_clear_object (&sp);
  g_clear_pointer (&out, g_free);
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                         G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                         launch_path, "localhost:0", echo, "nope", NULL);
  g_subprocess_communicate_utf8 (sp, "1\n", NULL, NULL, NULL, &error);
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 4);
  g_clear_object (&sp);
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                         G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                         launch_path, "localhost:0", echo, "echo", NULL);
  g_subprocess_communicate_utf8 (sp, "oops\n2\n", NULL, &out, NULL, &error);
  g_assert_cmpstr (out, ==, "2\n");
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 7);
}

static guint
count_occurrences (const char *haystack, const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

static int run_launch (const char * const *args, const char *input, char **out, char **err);

/* Confined plugins through dp-launch: a symbol of the plugin's
 * dependencies, an unresolved symbol, a file that is no shared object —
 * each exit 4 with one line saying why, and only that line. */
static void
test_dp_launch_confined (void)
{
  struct { const char *plugin, *symbol, *why; } cases[] = {
    { "echo", "exit", "echo.so' defines no place 'exit' (the symbol belongs to libc.so.6)" },
    { "echo", "free", "echo.so' defines no place 'free' (the symbol belongs to " },
    { "echo", "g_object_unref", "echo.so' defines no place 'g_object_unref' (the symbol belongs to libgobject-2.0.so" },
    { "unresolved", "calls_missing", "cannot load plugin 'unresolved': " },
    { "not-a-plugin", "x", "not-a-plugin.so is not a shared object" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *args[] = { "--no-stdin", "localhost:0", cases[i].plugin, cases[i].symbol, NULL };
      g_autofree char *out = NULL, *err = NULL;
      const char *line = "dp-launch: cannot start place: ";
      int status = run_launch (args, NULL, &out, &err);
      const char *at;

      g_test_message ("%s %s: %s", cases[i].plugin, cases[i].symbol, err);
      g_assert_cmpint (status, ==, 4);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpuint (count_occurrences (err, line), ==, 1);
      at = strstr (err, line);
      g_assert_nonnull (strstr (at, cases[i].why));
      g_assert_nonnull (strchr (at, '\n'));
      if (g_str_equal (cases[i].plugin, "unresolved"))
        g_assert_nonnull (strstr (at, "undefined symbol: dp_test_function_nobody_defines\n"));
      /* said once: the node does not also log it (it returned the error) */
      g_assert_cmpuint (count_occurrences (err, cases[i].why), ==, 1);
    }
}

/* Runs dp-launch with @args after its own path, @input on standard input;
 * returns its exit status, standard output and standard error. */
static int
run_launch (const char * const *args,
            const char          *input,
            char               **out,
            char               **err)
{
  return dp_test_run_tool ("loader/dp-launch", args, NULL, input, out, err);
}

static void
assert_lines_are_json (const char *out)
{
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);

  for (guint i = 0; lines[i] && *lines[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = json_from_string (lines[i], &error);
      g_assert_no_error (error);
      g_assert_nonnull (node);
    }
}

/* The JSON contract: top-level null as nested null, an integer out of range
 * is an error for its line (exit 7, the rest sent), 't' takes it. */
static void
test_dp_launch_json (void)
{
  g_autofree char *echo = dp_test_build_path ("plugins/echo.so");
  g_autofree char *out = NULL, *err = NULL;
  int status;

  {
    const char *args[] = { "localhost:0", echo, "echo", NULL };
    status = run_launch (args, "null\n18446744073709551615\n[null]\n[1e400]\n3\n", &out, &err);
    g_assert_cmpstr (out, ==, "null\n[null]\n3\n");
    g_assert_cmpint (status, ==, 7);
    g_assert_nonnull (strstr (err, "line 2: integer 18446744073709551615 does not fit int64"));
    g_assert_nonnull (strstr (err, "line 4: 1e400 is out of the range of a double"));
    g_assert_null (strstr (err, "line 1"));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *args[] = { "--signature", "t", "localhost:0", echo, "echo", NULL };
    status = run_launch (args, "18446744073709551615\n-1\n7\n", &out, &err);
    g_assert_cmpstr (out, ==, "18446744073709551615\n7\n");
    g_assert_cmpint (status, ==, 7);
    g_assert_nonnull (strstr (err, "line 2: -1 does not fit type 't'"));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    /* doubles JSON has no number for go out and come back as strings */
    const char *args[] = { "-s", "d", "localhost:0", echo, "echo", NULL };
    status = run_launch (args, "\"inf\"\n\"-inf\"\n\"nan\"\n2\n1e20\n", &out, &err);
    g_assert_cmpstr (out, ==, "\"inf\"\n\"-inf\"\n\"nan\"\n2.0\n1e+20\n");
    g_assert_cmpint (status, ==, 0);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    const char *args[] = { "-s", "a*", "localhost:0", echo, "echo", NULL };
    status = run_launch (args, "", &out, &err);
    g_assert_cmpint (status, ==, 2);
    g_assert_nonnull (strstr (err, "not a definite GVariant type"));
  }
}

/* What a C place sends that JSON has no direct form for still prints as
 * valid JSON, one line each. */
static void
test_dp_launch_odd_values (void)
{
  g_autofree char *places = dp_test_build_path ("tests/test-places.so");
  const char *args[] = { "--no-stdin", "localhost:0", places, "odd_values", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = run_launch (args, NULL, &out, &err);

  g_assert_cmpstr (out, ==,
                   "\"nan\"\n"
                   "\"inf\"\n"
                   "\"-inf\"\n"
                   "1e+20\n"
                   "18446744073709551615\n"
                   "\"unit\\u001fseparator\"\n"
                   "[[97,98,0],3,\"/a\",\"ii\",null,1.5,{\"1\":\"x\"},{\"k\":\"v\"},{\"nan\":1}]\n");
  g_assert_cmpint (status, ==, 0);
  assert_lines_are_json (out);
}

/* --version says the project's version (from meson); so does the ready line */
static void
test_versions (void)
{
  const char *version = g_getenv ("DP_PROJECT_VERSION");
  g_autofree char *node_path = dp_test_build_path ("loader/dp-node");
  g_autofree char *launch_expected = NULL, *node_expected = NULL;
  g_autofree char *out = NULL, *line = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GDataInputStream) node_out = NULL;
  g_autoptr(JsonNode) ready = NULL;
  JsonObject *obj;

  g_assert_nonnull (version);
  launch_expected = g_strdup_printf ("dp-launch %s\n", version);
  node_expected = g_strdup_printf ("dp-node %s\n", version);
  {
    const char *args[] = { "--version", NULL };
    g_autofree char *err = NULL;
    g_assert_cmpint (run_launch (args, NULL, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, launch_expected);
  }
  g_clear_pointer (&out, g_free);
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, node_path, "--version", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, node_expected);
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);
  g_clear_object (&sp);

  /* the ready line of a node started by hand */
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                         G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                         node_path, "--listen", "127.0.0.1:0", "--secret-stdin", NULL);
  g_assert_no_error (error);
  g_output_stream_write_all (g_subprocess_get_stdin_pipe (sp),
                             "00112233445566778899aabbccddeeff\n", 33, NULL, NULL, &error);
  g_assert_no_error (error);
  node_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (sp));
  line = g_data_input_stream_read_line_utf8 (node_out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  ready = json_from_string (line, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (ready));
  obj = json_node_get_object (ready);
  g_assert_cmpstr (json_object_get_string_member (obj, "dp-node"), ==, "ready");
  g_assert_cmpstr (json_object_get_string_member (obj, "version"), ==, version);
  g_assert_cmpint (json_object_get_int_member (obj, "port"), >, 0);
  g_assert_cmpint (json_object_get_int_member (obj, "pid"), ==,
                   g_ascii_strtoll (g_subprocess_get_identifier (sp), NULL, 10));
  /* its standard input closing ends it */
  g_output_stream_close (g_subprocess_get_stdin_pipe (sp), NULL, &error);
  g_assert_no_error (error);
  g_subprocess_wait (sp, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);
}

/* Reads a dp-node's ready line ({"dp-node":"ready","port":N,…}) from its
 * standard output and returns N */
static guint16
read_node_port (GSubprocess *node)
{
  g_autoptr(GDataInputStream) out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (node));
  g_autoptr(GError) error = NULL;
  g_autofree char *ready = NULL;
  const char *p;
  guint64 port;

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (out), FALSE);
  ready = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  p = ready ? strstr (ready, "\"port\":") : NULL;
  g_assert_nonnull (p);
  port = g_ascii_strtoull (p + 7, NULL, 10);
  g_assert_cmpuint (port, >, 0);
  g_assert_cmpuint (port, <=, G_MAXUINT16);
  return (guint16) port;
}

/* dp-launch --connect to a node started by hand with another cookie: one
 * line naming the cookie file, exit status 3 */
static void
test_dp_launch_wrong_cookie (void)
{
  g_autofree char *launch_path = dp_test_build_path ("loader/dp-launch");
  g_autofree char *node_path = dp_test_build_path ("loader/dp-node");
  g_autofree char *dir = g_dir_make_tmp ("dp-auth-XXXXXX", NULL);
  g_autofree char *node_cookie = g_build_filename (dir, "node-cookie", NULL);
  g_autofree char *our_cookie = g_build_filename (dir, "our-cookie", NULL);
  g_autofree char *spec = NULL;
  g_autofree char *node_err = NULL;
  g_autoptr(GSubprocessLauncher) nl = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                  G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                  G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) a = dp_cookie_load (node_cookie, TRUE, NULL);
  g_autoptr(GBytes) b = dp_cookie_load (our_cookie, TRUE, NULL);

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_false (g_bytes_equal (a, b));
  /* the node exits when its standard input (our pipe) closes */
  node = g_subprocess_launcher_spawn (nl, &error, node_path, "--listen", "127.0.0.1:0",
                                      "--cookie-file", node_cookie, NULL);
  g_assert_no_error (error);
  spec = g_strdup_printf ("127.0.0.1:%u", read_node_port (node));

  /* the cookie file from $DP_COOKIE_FILE, then from --cookie-file */
  for (int i = 0; i < 2; i++)
    {
      g_autoptr(GSubprocessLauncher) ll = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                      G_SUBPROCESS_FLAGS_STDERR_PIPE);
      g_autoptr(GSubprocess) sp = NULL;
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autofree char *want = NULL;

      if (i == 0)
        {
          g_subprocess_launcher_setenv (ll, "DP_COOKIE_FILE", our_cookie, TRUE);
          sp = g_subprocess_launcher_spawn (ll, &error, launch_path, "--connect", "--no-stdin",
                                            "-m", "\"hi\"", spec, "echo", "echo", NULL);
        }
      else
        sp = g_subprocess_launcher_spawn (ll, &error, launch_path, "--connect", "--no-stdin",
                                          "--cookie-file", our_cookie,
                                          "-m", "\"hi\"", spec, "echo", "echo", NULL);
      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, &err, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 3);
      g_assert_cmpstr (out, ==, "");
      want = g_strdup_printf ("dp-launch: node %s refused our authentication: it does not share "
                              "this cluster's secret (cookie file %s)\n", spec, our_cookie);
      g_assert_cmpstr (err, ==, want);
    }

  /* the node said it twice on its side; closing its standard input (as
   * communicate does) ends it */
  g_subprocess_communicate_utf8 (node, NULL, NULL, NULL, &node_err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (node));
  g_assert_cmpint (g_subprocess_get_exit_status (node), ==, 0);
  {
    g_autofree char *want = g_strdup_printf ("failed authentication (wrong secret): it does not "
                                             "share this node's secret (cookie file %s)\n",
                                             node_cookie);
    const char *first = strstr (node_err, want);
    g_assert_nonnull (first);
    g_assert_nonnull (strstr (first + 1, want));
  }

  g_unlink (node_cookie);
  g_unlink (our_cookie);
  g_rmdir (dir);
}

/* Writes @line and a newline to @sp's standard input, reads one line of
 * its standard output (through @out) and returns it */
static char *
exchange_line (GSubprocess      *sp,
               GDataInputStream *out,
               const char       *line)
{
  GOutputStream *in = g_subprocess_get_stdin_pipe (sp);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strconcat (line, "\n", NULL);
  char *reply;

  g_output_stream_write_all (in, text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_flush (in, NULL, &error);
  g_assert_no_error (error);
  reply = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  return reply;
}

/* dp-launch --connect --attach NAME HOST:PORT: one dp-launch starts a named
 * place on a node started by hand, a second attaches to it and exchanges
 * JSON lines with it (while its input is still open), and exits 0 when its
 * input ends, having had its answers; the place goes on serving its owner.
 * An unknown name is exit status 8 with a line naming it; --attach without
 * --connect, or with PLUGIN SYMBOL, is a usage error. */
static void
test_dp_launch_attach (void)
{
  g_autofree char *launch_path = dp_test_build_path ("loader/dp-launch");
  g_autofree char *node_path = dp_test_build_path ("loader/dp-node");
  g_autoptr(GSubprocessLauncher) pipes = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                     G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                     G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) node = NULL;
  g_autoptr(GSubprocess) owner = NULL;
  g_autoptr(GSubprocess) client = NULL;
  g_autoptr(GDataInputStream) owner_out = NULL;
  g_autoptr(GDataInputStream) client_out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *spec = NULL;
  g_autofree char *node_err = NULL;

  /* the node exits when its standard input (our pipe) closes */
  node = g_subprocess_launcher_spawn (pipes, &error, node_path, "--listen", "127.0.0.1:0", NULL);
  g_assert_no_error (error);
  spec = g_strdup_printf ("127.0.0.1:%u", read_node_port (node));

  /* the owner: its place answers it too, which says the name is there */
  owner = g_subprocess_launcher_spawn (pipes, &error, launch_path, "--connect", "--named", "srv",
                                       spec, "echo", "echo_named", NULL);
  g_assert_no_error (error);
  owner_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (owner));
  {
    g_autofree char *r = exchange_line (owner, owner_out, "\"owner\"");
    g_assert_cmpstr (r, ==, "\"owner\"");
  }

  /* the client: line by line, input still open */
  client = g_subprocess_launcher_spawn (pipes, &error, launch_path, "--connect", "--attach", "srv",
                                        spec, NULL);
  g_assert_no_error (error);
  client_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (client));
  {
    g_autofree char *r1 = exchange_line (client, client_out, "\"ping\"");
    g_autofree char *r2 = exchange_line (client, client_out, "[1, 2.5, \"x\"]");
    g_assert_cmpstr (r1, ==, "\"ping\"");
    g_assert_cmpstr (r2, ==, "[1,2.5,\"x\"]");
  }
  /* the rest in one go: all answered before it exits */
  {
    GOutputStream *in = g_subprocess_get_stdin_pipe (client);
    const char *last = "{\"k\": true}\n3\n";
    g_autoptr(GString) rest = g_string_new (NULL);
    char *line;

    g_output_stream_write_all (in, last, strlen (last), NULL, NULL, &error);
    g_assert_no_error (error);
    g_output_stream_close (in, NULL, &error);
    g_assert_no_error (error);
    while ((line = g_data_input_stream_read_line_utf8 (client_out, NULL, NULL, &error)) != NULL)
      {
        g_string_append_printf (rest, "%s\n", line);
        g_free (line);
      }
    g_assert_no_error (error);
    g_assert_cmpstr (rest->str, ==, "{\"k\":true}\n3\n");
    g_subprocess_wait (client, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_subprocess_get_if_exited (client));
    g_assert_cmpint (g_subprocess_get_exit_status (client), ==, 0);
  }

  /* --message's with --no-stdin */
  {
    const char *args[] = { "--connect", "--attach", "srv", "--no-stdin", "-m", "\"a\"", "-m", "2",
                           spec, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_launch (args, NULL, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "\"a\"\n2\n");
  }

  /* the place still serves its owner */
  {
    g_autofree char *r = exchange_line (owner, owner_out, "\"still\"");
    g_assert_cmpstr (r, ==, "\"still\"");
  }

  /* an unknown name: 8, one line naming it, nothing sent */
  {
    const char *args[] = { "--connect", "--attach", "nobody", spec, NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_autofree char *want = g_strdup_printf ("dp-launch: no place named 'nobody' on node %s\n", spec);

    g_assert_cmpint (run_launch (args, "\"hello\"\n", &out, &err), ==, 8);
    g_assert_cmpstr (out, ==, "");
    g_assert_nonnull (strstr (err, want));
    g_assert_null (strstr (err, "undelivered"));
  }

  /* usage errors: 2, before anything is started */
  {
    struct { const char *args[8]; const char *why; } cases[] = {
      { { "--attach", "srv", "127.0.0.1:1", NULL }, "--attach needs --connect" },
      { { "--connect", "--attach", "srv", "127.0.0.1:1", "echo", "echo", NULL }, "takes HOST:PORT only" },
      { { "--connect", "--attach", "srv", "--named", "x", "127.0.0.1:1", NULL }, "--attach starts no place" },
      { { "--connect", "--attach", "srv", NULL }, "usage:" },
      { { "--connect", "--no-wait", "127.0.0.1:1", "echo", "echo", NULL }, "--no-wait goes with --attach" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint (run_launch (cases[i].args, NULL, &out, &err), ==, 2);
        g_assert_nonnull (strstr (err, cases[i].why));
      }
  }

  /* the owner's input ends: its place finishes, it exits 0 */
  g_subprocess_communicate_utf8 (owner, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (owner), ==, 0);
  g_subprocess_communicate_utf8 (node, NULL, NULL, NULL, &node_err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (node));
  g_assert_cmpint (g_subprocess_get_exit_status (node), ==, 0);
  /* the client was told; the node does not log it a second time */
  g_assert_null (strstr (node_err, "no place named 'nobody' on this node"));
}

/* dp-node's limit options reach its node: --max-places-per-connection 1
 * makes a second place of one master fail with DP_ERROR_LIMIT (the master's
 * launch error), while the first one runs on. */
static void
test_dp_node_limit_options (void)
{
  g_autofree char *node_path = dp_test_build_path ("loader/dp-node");
  g_autoptr(GSubprocessLauncher) nl = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                  G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                  G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) node = NULL;
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) rn = NULL;
  g_autoptr(DpRemoteConnection) first = NULL, second = NULL;
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *node_err = NULL;
  guint64 port;

  g_autoptr(GBytes) secret = dp_node_get_secret (router, NULL);
  g_autofree char *hex = dp_secret_to_string (secret);
  g_autofree char *line = g_strconcat (hex, "\n", NULL);

  node = g_subprocess_launcher_spawn (nl, &error, node_path, "--listen", "127.0.0.1:0",
                                      "--secret-stdin",
                                      "--max-places", "8", "--max-places-per-connection", "1",
                                      "--max-pending-connections", "4",
                                      /* accepted, and small queues still carry the echo below */
                                      "--max-output-queue", "4096", "--max-inbox-size", "4096",
                                      "--max-inbox-messages", "2", NULL);
  g_assert_no_error (error);
  g_output_stream_write_all (g_subprocess_get_stdin_pipe (node), line, strlen (line), NULL, NULL, &error);
  g_assert_no_error (error);
  port = read_node_port (node);

  rn = dp_remote_node_connect (router, "127.0.0.1", (guint16) port, NULL, &error);
  g_assert_no_error (error);
  first = dp_remote_node_launch_place (rn, "echo", "echo", 0, NULL);
  g_assert_true (dp_remote_connection_wait_ready (first, NULL, &error));
  g_assert_no_error (error);
  second = dp_remote_node_launch_place (rn, "echo", "echo", 0, NULL);
  g_assert_false (dp_remote_connection_wait_ready (second, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, "(max-places-per-connection 1, dp-node --max-places-per-connection)"));
  g_clear_error (&error);
  dp_remote_connection_put (first, g_variant_new_string ("first runs on"));
  r = dp_remote_connection_get (first);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "first runs on");

  g_clear_object (&first);
  g_clear_object (&second);
  g_clear_object (&rn);
  /* closing its standard input ends the node; the refusal went to the
   * requester as its error, and is not logged by the node as well */
  g_subprocess_communicate_utf8 (node, NULL, NULL, NULL, &node_err, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (node), ==, 0);
  g_assert_null (strstr (node_err, "this connection has started 1 places"));
}

/* dp-node reads its secret a block at a time: a secret that arrives with
 * more after it in one write is still the first line (the master is then
 * let in, its places run), a line longer than a secret can be is refused
 * with a reason, and a port that is taken is named in the error. */
static void
test_dp_node_standard_input (void)
{
  g_autofree char *node_path = dp_test_build_path ("loader/dp-node");
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(GBytes) secret = dp_node_get_secret (router, NULL);
  g_autofree char *hex = dp_secret_to_string (secret);
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  guint16 port;

  {
    /* the secret, and more, in one write */
    g_autoptr(GSubprocessLauncher) nl = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                    G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                    G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr(GSubprocess) node = g_subprocess_launcher_spawn (nl, &error, node_path, "--listen",
                                                               "127.0.0.1:0", "--secret-stdin", NULL);
    g_autofree char *lines = g_strconcat (hex, "\nnot read by the node\n", NULL);
    g_autoptr(DpRemoteNode) rn = NULL;
    g_autoptr(DpRemoteConnection) pl = NULL;
    g_autoptr(GVariant) r = NULL;

    g_assert_no_error (error);
    g_output_stream_write_all (g_subprocess_get_stdin_pipe (node), lines, strlen (lines), NULL, NULL, &error);
    g_assert_no_error (error);
    port = read_node_port (node);
    rn = dp_remote_node_connect (router, "127.0.0.1", port, NULL, &error);
    g_assert_no_error (error);
    pl = dp_remote_node_launch_place (rn, "echo", "echo", 0, NULL);
    dp_remote_connection_put (pl, g_variant_new_string ("let in"));
    r = dp_remote_connection_get (pl);
    g_assert_nonnull (r);
    g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "let in");

    {
      /* a second node on the same port: taken, and said so */
      g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
      g_autoptr(GSubprocess) second = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                        G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                        G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                                                        node_path, "--listen", listen,
                                                        "--secret-stdin", NULL);
      g_autofree char *secret_line = g_strconcat (hex, "\n", NULL);
      g_autofree char *want = g_strdup_printf ("dp-node: cannot listen on %s: ", listen);

      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (second, secret_line, NULL, NULL, &err, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (second), ==, 1);
      g_assert_true (g_str_has_prefix (err, want));
      g_clear_pointer (&err, g_free);
    }

    g_clear_object (&pl);
    g_clear_object (&rn);
    g_subprocess_communicate_utf8 (node, NULL, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_subprocess_get_exit_status (node), ==, 0);
  }
  {
    /* a first line longer than the 4096 bytes a secret may take */
    g_autoptr(GSubprocess) node = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                    G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                    G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                                                    node_path, "--listen", "127.0.0.1:0",
                                                    "--secret-stdin", NULL);
    g_autofree char *long_line = g_strnfill (5000, 'a');

    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (node, long_line, NULL, NULL, &err, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_subprocess_get_exit_status (node), ==, 1);
    g_assert_cmpstr (err, ==, "dp-node: the secret (--secret-stdin) on standard input is longer than 4096 bytes\n");
    g_clear_pointer (&err, g_free);
  }
  {
    /* no line at all */
    g_autoptr(GSubprocess) node = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                    G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                    G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                                                    node_path, "--listen", "127.0.0.1:0",
                                                    "--secret-stdin", NULL);

    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (node, "", NULL, NULL, &err, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_subprocess_get_exit_status (node), ==, 1);
    g_assert_cmpstr (err, ==, "dp-node: no secret (--secret-stdin) on standard input\n");
  }
}

static void
test_hello_world (void)
{
  g_autofree char *hello = dp_test_build_path ("samples/hello-world/hello-world");
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GSubprocess) sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, hello, "--fast", NULL);

  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (out, "hello-world received: Hello\n"));
  g_assert_nonnull (strstr (out, "message-router received: Hello World\n"));
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);
}

static void
test_master_killed (void)
{
  g_autofree char *launch_path = dp_test_build_path ("loader/dp-launch");
  g_autofree char *echo = dp_test_build_path ("plugins/echo.so");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                &error, launch_path, "localhost:0", echo, "echo", NULL);
  g_autoptr(GDataInputStream) err = NULL;
  gint64 node_pid;

  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (sp));
  node_pid = dp_test_read_node_pid (err);
  g_assert_false (dp_test_wait_process_gone (node_pid, 0));

  dp_test_kill_master (sp, node_pid);
}


/* ---- flow control with real processes ---- */


/* A place floods a dp-launch whose standard output nobody reads: the
 * place stalls, and neither dp-launch nor the node grows by 64 MiB. While
 * stdout is full dp-launch's main thread is blocked in a write, so it says
 * nothing: the test samples both processes' RSS until it stops growing
 * (two samples 1 s apart within 1 MiB; an unbounded flood grows by
 * hundreds of MiB a second). */
static void
test_flow_launch_stdout_unread (void)
{
  g_autofree char *launch_path = dp_test_build_path ("loader/dp-launch");
  g_autofree char *places = dp_test_build_path ("tests/test-places.so");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *first = NULL;
  gint64 node_pid = 0, launch_pid;
  gint64 node0, launch0, node1 = 0, launch1 = 0, node2, launch2;
  guint samples;

  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         launch_path, "--no-stdin", "--signature", "(uu)", "-m", "[0, 65536]",
                         "localhost:0", places, "flood", NULL);
  g_assert_no_error (error);
  launch_pid = g_ascii_strtoll (g_subprocess_get_identifier (sp), NULL, 10);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (sp));
  node_pid = dp_test_read_node_pid (err);
  node0 = dp_test_proc_status_kib (node_pid, "VmRSS");
  launch0 = dp_test_proc_status_kib (launch_pid, "VmRSS");
  /* the flood has begun once its first message is out */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (sp));
  first = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);
  g_assert_true (g_str_has_prefix (first, "[0,\"xxxx"));
  node2 = node0;
  launch2 = launch0;
  for (samples = 0; samples < 60; samples++)
    {
      node1 = node2;
      launch1 = launch2;
      g_usleep (G_USEC_PER_SEC);   /* the sampling period */
      node2 = dp_test_proc_status_kib (node_pid, "VmRSS");
      launch2 = dp_test_proc_status_kib (launch_pid, "VmRSS");
      if (samples > 0 && ABS (node2 - node1) < 1024 && ABS (launch2 - launch1) < 1024)
        break;
    }
  g_test_message ("flood into an unread stdout, stalled after %u s: node RSS %" G_GINT64_FORMAT
                  " -> %" G_GINT64_FORMAT " MiB, dp-launch %" G_GINT64_FORMAT " -> %"
                  G_GINT64_FORMAT " MiB", samples + 1, node0 / 1024, node2 / 1024,
                  launch0 / 1024, launch2 / 1024);
  g_assert_cmpuint (samples, <, 60);
#ifndef __SANITIZE_ADDRESS__   /* its quarantine keeps what is freed: no figure there */
  g_assert_cmpint (node2 - node0, <, 64 * 1024);
  g_assert_cmpint (launch2 - launch0, <, 64 * 1024);
#endif

  /* blocked in a write to stdout: only SIGKILL; the node follows */
  dp_test_kill_master (sp, node_pid);
}

/* dp-launch stops reading its standard input while the place does not
 * consume: a writer that floods it (64 KiB lines) stalls after a bounded
 * amount, and neither dp-launch nor the node grows by 64 MiB. A write that
 * waits longer than 20 times the longest wait so far (2 s at least) counts
 * as stalled. */
static void
test_flow_launch_stdin_paused (void)
{
  g_autofree char *launch_path = dp_test_build_path ("loader/dp-launch");
  g_autofree char *places = dp_test_build_path ("tests/test-places.so");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  const gsize line_len = 64 * 1024;
  const guint64 cap = 1024 * 1024 * 1024;   /* 1 GiB: it never stalled */
  g_autofree char *line = g_malloc (line_len);
  gint64 node_pid = 0, launch_pid, node0, launch0, node1, launch1, max_wait = 0;
  guint64 written = 0;
  gboolean stalled = FALSE;
  int fd;

  memset (line, 'x', line_len);
  line[0] = '"';
  line[line_len - 2] = '"';
  line[line_len - 1] = '\n';
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                         G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         launch_path, "localhost:0", places, "deaf", NULL);
  g_assert_no_error (error);
  launch_pid = g_ascii_strtoll (g_subprocess_get_identifier (sp), NULL, 10);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (sp));
  node_pid = dp_test_read_node_pid (err);
  node0 = dp_test_proc_status_kib (node_pid, "VmRSS");
  launch0 = dp_test_proc_status_kib (launch_pid, "VmRSS");

  fd = g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (g_subprocess_get_stdin_pipe (sp)));
  g_assert_true (g_unix_set_fd_nonblocking (fd, TRUE, NULL));
  while (written < cap)
    {
      gssize n = write (fd, line + written % line_len, line_len - written % line_len);

      if (n > 0)
        {
          written += (guint64) n;
          continue;
        }
      g_assert_true (n < 0 && (errno == EAGAIN || errno == EINTR));
      if (errno == EAGAIN)
        {
          struct pollfd pfd = { fd, POLLOUT, 0 };
          gint64 t0 = g_get_monotonic_time ();
          gint64 budget = MAX (2 * G_USEC_PER_SEC, 20 * max_wait);

          if (poll (&pfd, 1, (int) (budget / 1000)) == 0)
            {
              stalled = TRUE;
              break;
            }
          max_wait = MAX (max_wait, g_get_monotonic_time () - t0);
        }
    }
  node1 = dp_test_proc_status_kib (node_pid, "VmRSS");
  launch1 = dp_test_proc_status_kib (launch_pid, "VmRSS");
  g_test_message ("stdin flood into a place that does not read: %" G_GUINT64_FORMAT
                  " MiB written before dp-launch stopped reading; node RSS %" G_GINT64_FORMAT
                  " -> %" G_GINT64_FORMAT " MiB, dp-launch %" G_GINT64_FORMAT " -> %"
                  G_GINT64_FORMAT " MiB", written >> 20, node0 / 1024, node1 / 1024,
                  launch0 / 1024, launch1 / 1024);
  g_assert_true (stalled);
#ifndef __SANITIZE_ADDRESS__   /* its quarantine keeps what is freed: no figure there */
  g_assert_cmpint (node1 - node0, <, 64 * 1024);
  g_assert_cmpint (launch1 - launch0, <, 64 * 1024);
#endif

  dp_test_kill_master (sp, node_pid);
}

/* The master (dp-launch) is stopped for less than the heartbeat timeout
 * while a place floods it: afterwards nobody was declared dead and every
 * message arrives, in order. */
static void
test_flow_master_stopped (void)
{
  g_autofree char *launch_path = dp_test_build_path ("loader/dp-launch");
  g_autofree char *places = dp_test_build_path ("tests/test-places.so");
  const guint count = 4096;   /* 64 MiB of 16 KiB messages: more than every buffer */
  g_autofree char *arg = g_strdup_printf ("[%u, 16384]", count);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *err_text = NULL;
  guint got = 0;

  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         launch_path, "--no-stdin", "--signature", "(uu)", "-m", arg,
                         "localhost:0", places, "flood", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (sp));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
      g_autofree char *expect = NULL;

      g_assert_no_error (error);
      if (line == NULL)
        break;
      expect = g_strdup_printf ("[%u,", got);
      g_assert_true (g_str_has_prefix (line, expect));
      if (++got == 1)
        {
          /* the flood runs: stop the master for 4 s — twice the heartbeat
           * interval, less than its timeout (2 s, 10 s: the defaults) */
          g_subprocess_send_signal (sp, SIGSTOP);
          g_usleep (4 * G_USEC_PER_SEC);
          g_subprocess_send_signal (sp, SIGCONT);
        }
    }
  g_assert_cmpuint (got, ==, count);
  g_assert_true (g_subprocess_wait (sp, NULL, &error));
  {
    g_autoptr(GInputStream) err = g_object_ref (g_subprocess_get_stderr_pipe (sp));
    g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
    g_output_stream_splice (mem, err, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error);
    g_assert_no_error (error);
    err_text = g_strndup (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (mem)),
                          g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (mem)));
  }
  g_assert_null (strstr (err_text, "lost"));
  g_assert_null (strstr (err_text, "heartbeat"));
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);
}

static void
final_fail (DpRestarter *r, gpointer data)
{
  *(gboolean *) data = TRUE;
}

static gboolean
set_flag_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Each incarnation reads one message and ends, so none can end before the
 * restarter is set (a place that ended at once could, on a loaded
 * machine, and then nothing would restart it). 4 messages: the first run
 * and 3 restarts, then final-fail. */
static void
test_restarter (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = dp_remote_node_launch_place (f->node, "test-places", "one_then_exit", 0, NULL);
  gboolean failed = FALSE, late = FALSE;
  g_autoptr(DpRestarter) r = dp_restart_every (0.5, 3, G_CALLBACK (final_fail), &failed);
  g_autoptr(GSource) guard = g_timeout_source_new_seconds (60);   /* a hang guard only */

  dp_remote_connection_set_restarter (rc, r);
  for (gint32 i = 0; i < 4; i++)
    g_assert_true (dp_remote_connection_put (rc, g_variant_new_int32 (i)));
  g_source_set_callback (guard, set_flag_cb, &late, NULL);
  g_source_attach (guard, NULL);
  while (!failed && !late)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (guard);
  g_assert_true (failed);
  g_assert_cmpuint (dp_restarter_get_retries (r), ==, 3);
  /* given up: the connection has ended for good */
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
  g_assert_cmpint (dp_remote_connection_get_state (rc), ==, DP_REMOTE_CONNECTION_EXITED);
}

/* A place that ends at once, launched with its restarter (the policy is
 * in place before the node is asked): the first run and 3 restarts, then
 * final-fail — on any machine, however soon it ends */
static void
test_restarter_at_launch (Fixture *f, gconstpointer data)
{
  gboolean failed = FALSE, late = FALSE;
  g_autoptr(DpRestarter) r = dp_restart_every (0.1, 3, G_CALLBACK (final_fail), &failed);
  g_autoptr(DpRemoteConnection) rc =
    dp_remote_node_launch_place_with_restarter (f->node, "test-places", "say_and_exit", 0, NULL, r);
  g_autoptr(GSource) guard = g_timeout_source_new_seconds (60);   /* a hang guard only */

  g_source_set_callback (guard, set_flag_cb, &late, NULL);
  g_source_attach (guard, NULL);
  while (!failed && !late)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (guard);
  g_assert_true (failed);
  g_assert_cmpuint (dp_restarter_get_retries (r), ==, 3);
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
}

/* ---- crashes (issue 11) ---- */

typedef struct {
  const char *symbol;
  int         signal;
} CrashCase;

static const CrashCase crash_abort = { "crash", SIGABRT };
static const CrashCase crash_segv = { "crash_segv", SIGSEGV };
static const CrashCase crash_in_put = { "crash_in_put", SIGSEGV };

static void
set_attempt (gpointer instance, guint attempt, gpointer data)
{
  *(guint *) data = attempt;
}

static void
set_reason (gpointer instance, const char *reason, gpointer data)
{
  *(char **) data = g_strdup (reason);
}

/* What a master logs when its node dies of a place's crash */
static void
expect_node_crash_logs (const char *symbol, int sig)
{
  g_autofree char *line = g_strdup_printf ("node *: crash pid=* channel=* signal=%d: place %s crashed: *",
                                           sig, symbol);

  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, line);
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*node *");
}

/* A thread place that crashes (abort, a bad pointer, a bad pointer handed
 * to libdp's send path) ends its node at once; the master is told which
 * place died of which signal, and the node's restart policy brings the
 * node back with its other places. */
static void
test_crash_thread (Fixture *f, gconstpointer data)
{
  const CrashCase *c = data;
  g_autoptr(DpRemoteConnection) echo = launch (f, "echo", "echo", 0, NULL);
  g_autoptr(DpRemoteConnection) bad = launch (f, "test-places", c->symbol, 0, NULL);
  g_autoptr(GVariant) r = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *sig_text = g_strdup_printf ("signal %d", c->signal);
  gint64 old_pid = dp_remote_node_get_pid (f->node);
  guint restarted = 0;

  dp_remote_node_set_restart (f->node, TRUE);
  g_signal_connect (f->node, "died", G_CALLBACK (set_reason), &reason);
  g_signal_connect (f->node, "restarted", G_CALLBACK (set_attempt), &restarted);
  expect_node_crash_logs (c->symbol, c->signal);

  g_assert_true (dp_remote_connection_put (bad, g_variant_new_int32 (1)));
  g_assert_cmpint (dp_remote_connection_wait (bad), ==, DP_PLACE_EXIT_CRASHED);
  g_assert_nonnull (strstr (dp_remote_connection_get_exit_detail (bad), sig_text));
  g_assert_true (dp_test_wait_process_gone (old_pid, 30000));
  while (reason == NULL || restarted == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (strstr (reason, "signal"));
  g_assert_cmpint (dp_remote_node_get_pid (f->node), !=, old_pid);

  /* the echo place was relaunched on the new node */
  g_assert_true (dp_remote_connection_put (echo, g_variant_new_string ("after")));
  r = dp_remote_connection_get (echo);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "after");
  /* the crashed one stays dead */
  g_assert_cmpint (dp_remote_connection_get_state (bad), ==, DP_REMOTE_CONNECTION_EXITED);
  dp_test_assert_expected_logs ();
  g_signal_handlers_disconnect_by_data (f->node, &reason);
  g_signal_handlers_disconnect_by_data (f->node, &restarted);
}

/* A thunk runs on its place's thread: one that crashes is that place's
 * crash (reported as such); the symbol of a place function called as a
 * thunk (a user's mistake) crashes or fails only its place */
static void
test_thunk_crash (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) bad = NULL;

  /* before the launch: the crash may be told before it returns */
  expect_node_crash_logs ("crash_thunk", SIGABRT);
  bad = dp_remote_node_launch_place (f->node, "test-places", "crash_thunk", DP_LAUNCH_THUNK, NULL);
  g_assert_cmpint (dp_remote_connection_wait (bad), ==, DP_PLACE_EXIT_CRASHED);
  g_assert_nonnull (strstr (dp_remote_connection_get_exit_detail (bad), "signal 6"));
}

static void
test_thunk_not_a_thunk (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) bad = NULL;
  DpPlaceExit exit;

  /* echo (DpPlaceChannel *) called with no argument: whatever it does with
   * the junk it finds, only its place suffers (the node, at worst). The
   * logs are allowed before the launch: its end may be told before the
   * launch returns. */
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*");
  dp_test_allow_log ("Dp", G_LOG_LEVEL_CRITICAL, "*");
  bad = dp_remote_node_launch_place (f->node, "echo", "echo", DP_LAUNCH_THUNK, NULL);
  exit = dp_remote_connection_wait (bad);
  g_test_message ("echo as a thunk: %s (%s)", dp_place_exit_to_string (exit),
                  dp_remote_connection_get_exit_detail (bad));
  g_assert_true (exit == DP_PLACE_EXIT_CRASHED || exit == DP_PLACE_EXIT_FAILED);
  if (exit == DP_PLACE_EXIT_CRASHED)
    {
      g_assert_nonnull (strstr (dp_remote_connection_get_exit_detail (bad), "signal"));
      /* a crash ends the node: its end (and the warnings that tell of it)
       * comes while they are allowed, not in the teardown */
      g_assert_true (dp_remote_node_wait_for_die (f->node, 30 * G_USEC_PER_SEC));
    }
}

/* a thunk that never returns delays only its own place */
static void
test_thunk_blocking (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) blocked = dp_remote_node_launch_place (f->node, "test-places", "blocking_thunk",
                                                                       DP_LAUNCH_THUNK, NULL);
  g_autoptr(DpRemoteConnection) echo = launch (f, "echo", "echo", 0, NULL);
  g_autoptr(GVariant) r = NULL;

  g_assert_true (dp_remote_connection_put (echo, g_variant_new_string ("served")));
  r = dp_remote_connection_get (echo);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "served");
  g_assert_cmpint (dp_remote_connection_get_state (blocked), ==, DP_REMOTE_CONNECTION_STARTING);
}

/* SIGTERM ends a node within 2 s even when a place (or a thunk) is stuck
 * in user code. Measured from the signal to the process being gone, on a
 * node otherwise idle. */
static void
test_sigterm_blocked (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) blocked = launch (f, "test-places", "block", 0, NULL);
  g_autoptr(DpRemoteConnection) thunk G_GNUC_UNUSED = dp_remote_node_launch_place (f->node, "test-places", "blocking_thunk",
                                                                     DP_LAUNCH_THUNK, NULL);
  g_autoptr(GVariant) r = dp_remote_connection_get (blocked);     /* it is blocking now */
  gint64 pid = dp_remote_node_get_pid (f->node);
  gint64 start;

  g_assert_cmpint (g_variant_get_int32 (r), ==, 1);
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*");
  start = g_get_monotonic_time ();
  g_assert_cmpint (kill ((pid_t) pid, SIGTERM), ==, 0);
  g_assert_true (dp_test_wait_process_gone (pid, 10000));
  g_test_message ("node gone %.3f s after SIGTERM", (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
}

/* ---- isolated places (DP_LAUNCH_ISOLATE) ---- */

/* the pids of @parent's children, from /proc/PID/stat (field 4: ppid) */
static GArray *
children_of (gint64 parent)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *stat = NULL;
      const char *close_paren;
      gint64 ppid;
      char state;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_build_filename ("/proc", name, "stat", NULL);
      if (!g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      close_paren = strrchr (stat, ')');
      if (close_paren == NULL || sscanf (close_paren + 1, " %c %" G_GINT64_FORMAT, &state, &ppid) != 2)
        continue;
      if (ppid == parent)
        {
          gint64 pid = g_ascii_strtoll (name, NULL, 10);
          g_array_append_val (pids, pid);
        }
    }
  return pids;
}

/* the one child of @parent that is not in @before */
static gint64
new_child (gint64 parent, GArray *before)
{
  g_autoptr(GArray) now = children_of (parent);
  gint64 found = 0;

  for (guint i = 0; i < now->len; i++)
    {
      gboolean old = FALSE;
      for (guint j = 0; before && j < before->len; j++)
        old = old || g_array_index (before, gint64, j) == g_array_index (now, gint64, i);
      if (!old)
        {
          g_assert_cmpint (found, ==, 0);
          found = g_array_index (now, gint64, i);
        }
    }
  g_assert_cmpint (found, >, 0);
  return found;
}


static void
test_isolated_echo (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (f, "echo", "echo", DP_LAUNCH_ISOLATE, NULL);
  g_autofree guint8 *blob = g_malloc (4 * 1024 * 1024);

  dp_test_assert_echoes (rc, "Hello");
  for (gsize i = 0; i < 4 * 1024 * 1024; i++)
    blob[i] = (guint8) (i * 7);
  {
    g_autoptr(GVariant) v = g_variant_ref_sink (
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, 4 * 1024 * 1024, 1));
    g_autoptr(GVariant) back = NULL;
    g_assert_true (dp_remote_connection_put (rc, v));
    back = dp_remote_connection_get (rc);
    g_assert_true (g_variant_equal (v, back));
  }
  dp_remote_connection_close (rc);
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
}

/* An isolated place's crash is only that place's death: the node, a
 * thread place and another isolated place on it answer on, and the
 * crashed place's process is gone (reaped, not a zombie). */
static void
test_crash_isolated (Fixture *f, gconstpointer data)
{
  const CrashCase *c = data;
  gint64 node_pid = dp_remote_node_get_pid (f->node);
  g_autoptr(DpRemoteConnection) echo = launch (f, "echo", "echo", 0, NULL);
  g_autoptr(DpRemoteConnection) echo_iso = launch (f, "echo", "echo", DP_LAUNCH_ISOLATE, NULL);
  g_autoptr(GArray) before = children_of (node_pid);
  g_autoptr(DpRemoteConnection) bad = launch (f, "test-places", c->symbol, DP_LAUNCH_ISOLATE, NULL);
  g_autofree char *sig_text = g_strdup_printf ("signal %d", c->signal);
  g_autofree char *line = g_strdup_printf ("node *: crash pid=* channel=1 signal=%d: place %s crashed: *",
                                           c->signal, c->symbol);
  g_autofree char *proc_path = NULL;
  gint64 child = new_child (node_pid, before);

  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, line);
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "node *: isolated place * exited: killed by signal *");
  g_assert_true (dp_remote_connection_put (bad, g_variant_new_int32 (1)));
  g_assert_cmpint (dp_remote_connection_wait (bad), ==, DP_PLACE_EXIT_CRASHED);
  g_assert_nonnull (strstr (dp_remote_connection_get_exit_detail (bad), sig_text));
  proc_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT, child);
  g_assert_false (g_file_test (proc_path, G_FILE_TEST_EXISTS));

  dp_test_assert_echoes (echo, "thread place");
  dp_test_assert_echoes (echo_iso, "isolated place");
  g_assert_true (dp_remote_node_is_alive (f->node));
  g_assert_cmpint (dp_remote_node_get_pid (f->node), ==, node_pid);
}

/* killing the node kills its isolated places' processes */
static void
test_isolated_killed_with_node (Fixture *f, gconstpointer data)
{
  gint64 node_pid = dp_remote_node_get_pid (f->node);
  g_autoptr(DpRemoteConnection) a G_GNUC_UNUSED = launch (f, "echo", "echo", DP_LAUNCH_ISOLATE, NULL);
  g_autoptr(DpRemoteConnection) b = launch (f, "test-places", "block", DP_LAUNCH_ISOLATE, NULL);
  g_autoptr(GVariant) r G_GNUC_UNUSED = dp_remote_connection_get (b);   /* "1": it runs */
  g_autoptr(GArray) kids = children_of (node_pid);

  g_assert_cmpuint (kids->len, ==, 2);
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*");
  g_assert_cmpint (kill ((pid_t) node_pid, SIGKILL), ==, 0);
  g_assert_true (dp_test_wait_process_gone (node_pid, 30000));
  for (guint i = 0; i < kids->len; i++)
    g_assert_true (dp_test_wait_process_gone (g_array_index (kids, gint64, i), 30000));
}

/* thunks of isolated places run in the place's process */
static void
test_isolated_thunks (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) ok = launch (f, "test-places", "echo_thunk",
                                             DP_LAUNCH_THUNK | DP_LAUNCH_ISOLATE, NULL);
  g_autoptr(DpRemoteConnection) crash = NULL;
  g_autoptr(DpRemoteConnection) wrong = NULL;
  g_autoptr(DpRemoteConnection) null = NULL;
  g_autoptr(DpRemoteConnection) blocked = NULL;
  g_autoptr(GError) error = NULL;
  DpPlaceExit exit;

  dp_test_assert_echoes (ok, "from a thunk");
  /* before the launch: the crash may be told before it returns */
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, "node *: crash pid=* channel=1 signal=6: place crash_thunk crashed: *");
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "node *: isolated place * exited: *");
  crash = dp_remote_node_launch_place (f->node, "test-places", "crash_thunk",
                                       DP_LAUNCH_THUNK | DP_LAUNCH_ISOLATE, NULL);
  g_assert_cmpint (dp_remote_connection_wait (crash), ==, DP_PLACE_EXIT_CRASHED);
  g_assert_nonnull (strstr (dp_remote_connection_get_exit_detail (crash), "signal 6"));

  /* a place function called as a thunk: only its place suffers */
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "node *: crash pid=* channel=1 signal=*: place echo crashed: *");
  dp_test_allow_log ("Dp", G_LOG_LEVEL_CRITICAL, "node *");
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "node *: request from * failed: *");
  wrong = dp_remote_node_launch_place (f->node, "echo", "echo", DP_LAUNCH_THUNK | DP_LAUNCH_ISOLATE, NULL);
  exit = dp_remote_connection_wait (wrong);
  g_assert_true (exit == DP_PLACE_EXIT_CRASHED || exit == DP_PLACE_EXIT_FAILED);

  /* NULL: the launch fails */
  null = dp_remote_node_launch_place (f->node, "test-places", "null_thunk", DP_LAUNCH_THUNK | DP_LAUNCH_ISOLATE, NULL);
  g_assert_false (dp_remote_connection_wait_ready (null, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_PLACE_FAILED);
  g_assert_nonnull (strstr (error->message, "null_thunk"));

  /* one that blocks delays only its place */
  blocked = dp_remote_node_launch_place (f->node, "test-places", "blocking_thunk",
                                         DP_LAUNCH_THUNK | DP_LAUNCH_ISOLATE, NULL);
  dp_test_assert_echoes (ok, "still served");
  g_assert_true (dp_remote_node_is_alive (f->node));

  /* what the isolated children said last (the critical of echo called as
   * a thunk) comes through the node's stderr: all of it arrives while it
   * is allowed, not in the teardown */
  dp_remote_node_terminate (f->node);
  g_assert_true (dp_remote_node_wait_for_die (f->node, 30 * G_USEC_PER_SEC));
}

/* dp-launch --isolate: 0 for an echo, 5 (and the signal) for a crash */
static void
test_dp_launch_isolate (void)
{
  g_autofree char *plugin = dp_test_build_path ("tests/test-places.so");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *echo_args[] = { "--isolate", "localhost:0", "echo", "echo", NULL };
  const char *crash_args[] = { "--isolate", "localhost:0", plugin, "crash_segv", NULL };

  g_assert_cmpint (run_launch (echo_args, "\"ping\"\n", &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "\"ping\"\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_launch (crash_args, "1\n", &out, &err), ==, 5);
  g_assert_nonnull (strstr (err, "signal 11"));
}

/* What isolation costs beside a thread place: start (launch to ready) and
 * round trip (put to get), medians of several runs; figures only, no
 * assertion on speed. */
static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
measure (Fixture *f, DpLaunchFlags flags, double *start_ms, double *rtt_us)
{
  enum { STARTS = 9, TRIPS = 201 };
  double starts[STARTS], trips[TRIPS];

  for (int i = 0; i < STARTS; i++)
    {
      g_autoptr(DpRemoteConnection) rc = NULL;
      gint64 t0 = g_get_monotonic_time ();
      rc = launch (f, "echo", "echo", flags, NULL);
      starts[i] = (g_get_monotonic_time () - t0) / 1000.0;
      if (i == 0)
        for (int j = 0; j < TRIPS; j++)
          {
            g_autoptr(GVariant) r = NULL;
            gint64 t1 = g_get_monotonic_time ();
            dp_remote_connection_put (rc, g_variant_new_int32 (j));
            r = dp_remote_connection_get (rc);
            trips[j] = (double) (g_get_monotonic_time () - t1);
          }
      dp_remote_connection_close (rc);
      dp_remote_connection_wait (rc);
    }
  qsort (starts, STARTS, sizeof (double), cmp_double);
  qsort (trips, TRIPS, sizeof (double), cmp_double);
  *start_ms = starts[STARTS / 2];
  *rtt_us = trips[TRIPS / 2];
}

static void
test_isolated_cost (Fixture *f, gconstpointer data)
{
  double ts, tr, is, ir;

  measure (f, 0, &ts, &tr);
  measure (f, DP_LAUNCH_ISOLATE, &is, &ir);
  g_test_message ("start: thread place %.2f ms, isolated place %.2f ms (median of 9)", ts, is);
  g_test_message ("round trip: thread place %.1f us, isolated place %.1f us (median of 201)", tr, ir);
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/cluster/echo-values", test_echo_values);
  ADD ("/cluster/thunk", test_thunk);
  ADD ("/cluster/node-libraries", test_node_libraries);
  ADD ("/cluster/death-after-last-message", test_death_after_last_message);
  ADD ("/cluster/launch-errors", test_launch_errors);
  g_test_add ("/cluster/crash/thread/abort", Fixture, &crash_abort, setup, test_crash_thread, teardown);
  g_test_add ("/cluster/crash/thread/segv", Fixture, &crash_segv, setup, test_crash_thread, teardown);
  g_test_add ("/cluster/crash/thread/in-put", Fixture, &crash_in_put, setup, test_crash_thread, teardown);
  ADD ("/cluster/thunk/crash", test_thunk_crash);
  ADD ("/cluster/thunk/not-a-thunk", test_thunk_not_a_thunk);
  ADD ("/cluster/thunk/blocking", test_thunk_blocking);
  ADD ("/cluster/sigterm-blocked", test_sigterm_blocked);
  ADD ("/cluster/isolated/echo", test_isolated_echo);
  g_test_add ("/cluster/crash/isolated/abort", Fixture, &crash_abort, setup, test_crash_isolated, teardown);
  g_test_add ("/cluster/crash/isolated/segv", Fixture, &crash_segv, setup, test_crash_isolated, teardown);
  g_test_add ("/cluster/crash/isolated/in-put", Fixture, &crash_in_put, setup, test_crash_isolated, teardown);
  ADD ("/cluster/isolated/killed-with-node", test_isolated_killed_with_node);
  ADD ("/cluster/isolated/thunks", test_isolated_thunks);
  ADD ("/cluster/isolated/cost", test_isolated_cost);
  dp_test_add_func ("/cluster/dp-launch-isolate", test_dp_launch_isolate);
  ADD ("/cluster/named", test_named);
  ADD ("/cluster/typed-channel", test_typed_channel);
  ADD ("/cluster/typed-channel/named", test_typed_channel_named);
  ADD ("/cluster/two-nodes", test_two_nodes);
  ADD ("/cluster/bad-peers", test_bad_peers);
  ADD ("/cluster/restarter", test_restarter);
  ADD ("/cluster/restarter/at-launch", test_restarter_at_launch);
  ADD ("/cluster/wrong-secret-named", test_wrong_secret_named);
  dp_test_add_func ("/cluster/spawn-refused", test_spawn_refused);
  dp_test_add_func ("/cluster/node-descriptors", test_node_descriptors);
  dp_test_add_func ("/cluster/dp-launch", test_dp_launch);
  dp_test_add_func ("/cluster/dp-launch-json", test_dp_launch_json);
  dp_test_add_func ("/cluster/dp-launch-confined", test_dp_launch_confined);
  dp_test_add_func ("/cluster/dp-node-limit-options", test_dp_node_limit_options);
  dp_test_add_func ("/cluster/dp-node-standard-input", test_dp_node_standard_input);
  dp_test_add_func ("/cluster/dp-launch-odd-values", test_dp_launch_odd_values);
  dp_test_add_func ("/cluster/versions", test_versions);
  dp_test_add_func ("/cluster/dp-launch-wrong-cookie", test_dp_launch_wrong_cookie);
  dp_test_add_func ("/cluster/dp-launch-attach", test_dp_launch_attach);
  dp_test_add_func ("/cluster/hello-world", test_hello_world);
  dp_test_add_func ("/cluster/master-killed", test_master_killed);
  dp_test_add_func ("/cluster/flow/launch-stdout-unread", test_flow_launch_stdout_unread);
  dp_test_add_func ("/cluster/flow/master-stopped", test_flow_master_stopped);
  dp_test_add_func ("/cluster/flow/launch-stdin-paused", test_flow_launch_stdin_paused);
  return g_test_run ();
}
