/* The mesh: real dp-node processes whose places talk to each other
 * directly (dp-mesh.c), on loopback with ephemeral ports. Places come from
 * tests/plugins/mesh-places.c. */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  DpNode       *router;
  DpRemoteNode *a, *b, *c;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->router = dp_test_new_router ();
  f->a = dp_test_spawn_node (f->router);
  f->b = dp_test_spawn_node (f->router);
  f->c = dp_test_spawn_node (f->router);
}

/* The same with TLS on (also over loopback): the master's credentials are
 * made from the CA next to the test's cookie, each node's are issued by
 * the master and handed over on its standard input, and the nodes speak
 * TLS to each other too (a node with TLS on refuses a plain peer). A node
 * never loads the certificate issuer (dp-tls.so): only GIO's TLS. */
static void
setup_tls (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->router = dp_node_new ();
  g_assert_true (dp_node_load_cookie (f->router, NULL, &error));
  g_assert_no_error (error);
  g_object_set (f->router, "tls", DP_TLS_ON, NULL);
  f->a = dp_test_spawn_node (f->router);
  f->b = dp_test_spawn_node (f->router);
  f->c = dp_test_spawn_node (f->router);
  for (int i = 0; i < 3; i++)
    {
      DpRemoteNode *n = i == 0 ? f->a : i == 1 ? f->b : f->c;
      g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/maps",
                                               dp_remote_node_get_pid (n));
      g_autofree char *maps = NULL;

      g_assert_true (g_file_get_contents (path, &maps, NULL, NULL));
      g_assert_null (strstr (maps, "dp-tls.so"));
    }
}

static void
teardown (Fixture *f, gconstpointer data)
{
  dp_test_assert_expected_logs ();
  g_clear_object (&f->a);
  g_clear_object (&f->b);
  g_clear_object (&f->c);
  g_clear_object (&f->router);
}

static DpRemoteConnection *
launch (DpRemoteNode *node, const char *plugin, const char *symbol, const char *name)
{
  g_autoptr(GError) error = NULL;
  DpRemoteConnection *rc = dp_remote_node_launch_place (node, plugin, symbol, 0, name);

  g_assert_true (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_assert_no_error (error);
  return rc;
}

/* where a node listens (spawned locally: 127.0.0.1) */
#define HOST "127.0.0.1"

static GVariant *
get (DpRemoteConnection *rc)
{
  GVariant *m = dp_remote_connection_get (rc);

  g_assert_nonnull (m);
  return m;
}

/* @got equals @expected (floating: taken) */
static void
assert_is (GVariant *got, GVariant *expected)
{
  g_autoptr(GVariant) e = g_variant_ref_sink (expected);

  if (!g_variant_equal (got, e))
    {
      g_autofree char *a = g_variant_print (got, TRUE);
      g_autofree char *b = g_variant_print (e, TRUE);
      g_error ("got %s, expected %s", a, b);
    }
}

/* the uint32 in an answer (s, <u>) */
static guint32
boxed_u (GVariant *m)
{
  g_autoptr(GVariant) v = NULL;

  g_assert_cmpstr (g_variant_get_type_string (m), ==, "(sv)");
  g_variant_get (m, "(sv)", NULL, &v);
  g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32));
  return g_variant_get_uint32 (v);
}

/* an answer ('error', code, message): asserts the code and returns the message */
static char *
expect_error (DpRemoteConnection *rc, int code)
{
  g_autoptr(GVariant) m = get (rc);
  const char *what, *message;
  gint32 got;

  g_assert_cmpstr (g_variant_get_type_string (m), ==, "(sis)");
  g_variant_get (m, "(&si&s)", &what, &got, &message);
  g_assert_cmpstr (what, ==, "error");
  if (got != code)
    g_error ("expected error code %d, got %d: %s", code, got, message);
  return g_strdup (message);
}

/* a port nothing listens on */
static guint16
closed_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  guint16 port;

  g_assert_true (g_socket_bind (s, addr, FALSE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (s, NULL);
  return port;
}

/* A place on node A connects to the named place on node C (and to one on
 * its own node) and they exchange 10^5 messages, in order; unknown names
 * and unreachable nodes are clear errors, and the place keeps working. */
static void
test_connect (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) srv = launch (f->c, "echo", "echo_named", "srv");
  g_autoptr(DpRemoteConnection) local = launch (f->a, "echo", "echo_named", "local");
  g_autoptr(DpRemoteConnection) ex = launch (f->a, "mesh-places", "exchange", NULL);
  guint16 port_c = dp_remote_node_get_port (f->c);
  guint16 port_a = dp_remote_node_get_port (f->a);
  g_autofree char *msg = NULL;

  dp_remote_connection_put (ex, g_variant_new ("(ssqsuu)", "exchange", HOST, port_c, "srv",
                                               (guint32) 100000, (guint32) 64));
  {
    g_autoptr(GVariant) r = get (ex);
    g_assert_cmpstr (g_variant_get_type_string (r), ==, "(sub)");
    assert_is (r, g_variant_new ("(sub)", "done", (guint32) 100000, TRUE));
  }
  /* the named place on the place's own node */
  dp_remote_connection_put (ex, g_variant_new ("(ssqsuu)", "exchange", HOST, port_a, "local",
                                               (guint32) 1000, (guint32) 1));
  {
    g_autoptr(GVariant) r = get (ex);
    assert_is (r, g_variant_new ("(sub)", "done", (guint32) 1000, TRUE));
  }

  /* an unknown name: said by node C, which keeps serving */
  dp_remote_connection_put (ex, g_variant_new ("(ssqsuu)", "exchange", HOST, port_c, "nobody",
                                               (guint32) 1, (guint32) 1));
  msg = expect_error (ex, DP_ERROR_NAME_NOT_FOUND);
  g_assert_nonnull (strstr (msg, "nobody"));
  g_clear_pointer (&msg, g_free);

  /* no node there */
  dp_remote_connection_put (ex, g_variant_new ("(ssqsuu)", "exchange", HOST, closed_port (), "srv",
                                               (guint32) 1, (guint32) 1));
  msg = expect_error (ex, DP_ERROR_CONNECTION_REFUSED);
  g_assert_nonnull (strstr (msg, "cannot reach node"));

  /* the connection to C is reused, and still works */
  dp_remote_connection_put (ex, g_variant_new ("(ssqsuu)", "exchange", HOST, port_c, "srv",
                                               (guint32) 10, (guint32) 10));
  {
    g_autoptr(GVariant) r = get (ex);
    assert_is (r, g_variant_new ("(sub)", "done", (guint32) 10, TRUE));
  }
}

/* A place on node A sends an end of a pair to a place on node B (the
 * reference goes through the master); the two then talk directly: what A
 * put before B had the end comes first, in order; while the master is
 * stopped (SIGSTOP, for a second measured by the place) the traffic goes
 * on; when A closes its end, B's get returns NULL after the last message. */
static void
test_pass_channel (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) giver = launch (f->a, "mesh-places", "giver", NULL);
  g_autoptr(DpRemoteConnection) taker = launch (f->b, "mesh-places", "taker", NULL);
  g_autoptr(GVariant) ref = get (giver);
  g_autoptr(GVariant) taken = NULL;
  g_autoptr(GVariant) ready = NULL;
  g_autoptr(GVariant) window = NULL;
  g_autoptr(GVariant) given_closed = NULL;
  g_autoptr(GVariant) taker_closed = NULL;
  guint32 in_window, total, echoed;

  g_assert_cmpstr (g_variant_get_type_string (ref), ==, "(sv)");
  {
    g_autoptr(GVariant) inner = g_variant_get_child_value (ref, 1);
    g_autoptr(GVariant) r = g_variant_get_variant (inner);
    g_assert_cmpstr (g_variant_get_type_string (r), ==, "(ssqay)");
  }
  {
    g_autoptr(GVariant) boxed = g_variant_get_child_value (ref, 1);
    dp_remote_connection_put (taker, g_variant_new ("(s@v)", "take", boxed));
  }
  taken = get (taker);
  assert_is (taken, g_variant_new ("(s)", "taken"));
  ready = get (giver);
  assert_is (ready, g_variant_new ("(sv)", "ready", g_variant_new_boolean (TRUE)));

  /* this process is stopped meanwhile: nothing it relays could move */
  dp_remote_connection_put (giver, g_variant_new ("(sx)", "stop-master", (gint64) getpid ()));
  window = get (giver);
  in_window = boxed_u (window);
  g_test_message ("%u round trips between nodes A and B while the master was stopped", in_window);
  g_assert_cmpuint (in_window, >=, 10);

  dp_remote_connection_put (giver, g_variant_new ("(sx)", "close", (gint64) 0));
  given_closed = get (giver);
  total = boxed_u (given_closed);
  taker_closed = get (taker);
  g_variant_get (taker_closed, "(su)", NULL, &echoed);
  /* every message the giver sent was echoed before the taker saw the close */
  g_assert_cmpuint (echoed, ==, total);
  g_assert_cmpint (dp_remote_connection_wait (taker), ==, DP_PLACE_EXIT_RETURNED);
}

/* A named place on node C ends: the place on node A connected to it gets
 * its last three messages, then sees the channel closed. */
static void
test_named_place_ends (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) once = launch (f->c, "mesh-places", "serve_then_exit", "once");
  g_autoptr(DpRemoteConnection) hold = launch (f->a, "mesh-places", "hold", NULL);
  g_autoptr(GVariant) connected = NULL;
  g_autoptr(GVariant) closed = NULL;

  dp_remote_connection_put (hold, g_variant_new ("(ssqs)", "hold", HOST,
                                                 dp_remote_node_get_port (f->c), "once"));
  connected = get (hold);
  assert_is (connected, g_variant_new ("(s)", "connected"));
  closed = get (hold);
  assert_is (closed, g_variant_new ("(su)", "closed", (guint32) 3));
  g_assert_cmpint (dp_remote_connection_wait (once), ==, DP_PLACE_EXIT_RETURNED);
}

/* The node of a named place dies: the place connected to it sees its
 * channel closed (no hang), and reports it. */
static void
test_peer_death (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) srv = launch (f->c, "echo", "echo_named", "srv");
  g_autoptr(DpRemoteConnection) hold = launch (f->a, "mesh-places", "hold", NULL);
  g_autoptr(GVariant) connected = NULL;
  g_autoptr(GVariant) closed = NULL;

  dp_remote_connection_put (hold, g_variant_new ("(ssqs)", "hold", HOST,
                                                 dp_remote_node_get_port (f->c), "srv"));
  connected = get (hold);
  assert_is (connected, g_variant_new ("(s)", "connected"));
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*");
  g_assert_cmpint (kill ((pid_t) dp_remote_node_get_pid (f->c), SIGKILL), ==, 0);
  closed = get (hold);
  assert_is (closed, g_variant_new ("(su)", "closed", (guint32) 0));
}

/* A node whose secret differs cannot dial in: its place gets
 * DP_ERROR_AUTH_FAILED, and node C keeps serving the others. */
static void
test_wrong_secret (Fixture *f, gconstpointer data)
{
  g_autoptr(DpNode) other = dp_node_new ();
  g_autoptr(GBytes) secret = g_bytes_new_static ("another-secret-0123456789", 25);
  g_autoptr(DpRemoteNode) w = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteConnection) srv = launch (f->c, "echo", "echo_named", "srv");
  g_autoptr(DpRemoteConnection) ex = NULL;
  g_autoptr(DpRemoteConnection) good = launch (f->a, "mesh-places", "exchange", NULL);
  guint16 port_c = dp_remote_node_get_port (f->c);
  g_autofree char *msg = NULL;

  dp_node_set_secret (other, secret);
  w = dp_remote_node_spawn (other, "localhost", 0, NULL, NULL, &error);
  g_assert_no_error (error);
  ex = launch (w, "mesh-places", "exchange", NULL);
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*");
  dp_remote_connection_put (ex, g_variant_new ("(ssqsuu)", "exchange", HOST, port_c, "srv",
                                               (guint32) 1, (guint32) 1));
  msg = expect_error (ex, DP_ERROR_AUTH_FAILED);
  g_test_message ("%s", msg);

  dp_remote_connection_put (good, g_variant_new ("(ssqsuu)", "exchange", HOST, port_c, "srv",
                                                 (guint32) 10, (guint32) 2));
  {
    g_autoptr(GVariant) r = get (good);
    assert_is (r, g_variant_new ("(sub)", "done", (guint32) 10, TRUE));
  }
}

/* Forged, malformed and used references are an error for that message
 * only; a real one works, once. */
static void
test_forged (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) exporter = launch (f->a, "mesh-places", "exporter", NULL);
  g_autoptr(DpRemoteConnection) redeemer = launch (f->b, "mesh-places", "redeemer", NULL);
  g_autoptr(GVariant) ref_msg = get (exporter);
  g_autoptr(GVariant) ref = NULL;
  guint16 port_a = dp_remote_node_get_port (f->a);
  guint8 token[16];
  GVariant *bad[5];

  g_variant_get (ref_msg, "(sv)", NULL, &ref);
  for (guint i = 0; i < sizeof token; i++)
    token[i] = (guint8) g_random_int ();
#define AY(n) g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, token, n, 1)
  bad[0] = g_variant_new_string ("dp-channel");
  bad[1] = g_variant_new ("(ssq@ay)", "not-a-channel", HOST, port_a, AY (16));
  bad[2] = g_variant_new ("(ssq@ay)", "dp-channel", HOST, port_a, AY (15));
  bad[3] = g_variant_new ("(ssq@ay)", "dp-channel", "", port_a, AY (16));
  bad[4] = g_variant_new ("(ssq@ay)", "dp-channel", HOST, (guint16) 0, AY (16));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *msg = NULL;

      dp_remote_connection_put (redeemer, bad[i]);
      msg = expect_error (redeemer, DP_ERROR_BAD_REFERENCE);
    }

  /* a guessed token, at the right node: refused by node A */
  dp_remote_connection_put (redeemer, g_variant_new ("(ssq@ay)", "dp-channel", HOST, port_a, AY (16)));
  g_free (expect_error (redeemer, DP_ERROR_BAD_REFERENCE));

  /* the real one, once */
  dp_remote_connection_put (redeemer, ref);
  {
    g_autoptr(GVariant) r = get (redeemer);
    assert_is (r, g_variant_new ("(sv)", "ok", g_variant_new_string ("echo:hello")));
  }
  dp_remote_connection_put (redeemer, ref);
  g_free (expect_error (redeemer, DP_ERROR_BAD_REFERENCE));

  /* a node that is not there */
  dp_remote_connection_put (redeemer, g_variant_new ("(ssq@ay)", "dp-channel", HOST, closed_port (), AY (16)));
  g_free (expect_error (redeemer, DP_ERROR_CONNECTION_REFUSED));
#undef AY
}

/* A place spawns a node (its node is that node's master), starts a named
 * place there and talks to it: the seed's mr-spawn-remote-node and
 * mr-supervise-named-dynamic-place-at from inside a place. */
static void
test_spawn_from_place (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) sp = launch (f->a, "mesh-places", "spawner", NULL);
  g_autoptr(GVariant) r = NULL;

  dp_remote_connection_put (sp, g_variant_new ("(s)", "spawn"));
  r = get (sp);
  assert_is (r, g_variant_new ("(su)", "ok", (guint32) 10));
  g_assert_cmpint (dp_remote_connection_wait (sp), ==, DP_PLACE_EXIT_RETURNED);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* The master sends its connection to a place on node A to a place on node
 * B, which then talks to it directly; the master's handle is done, the
 * reference good once; a named place's client cannot be sent. */
static void
test_send_remote_connection (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) echo = launch (f->a, "echo", "echo", NULL);
  g_autoptr(DpRemoteConnection) redeemer = launch (f->b, "mesh-places", "redeemer", NULL);
  g_autoptr(DpRemoteConnection) named = launch (f->c, "echo", "echo_named", "srv");
  g_autoptr(DpRemoteConnection) client = dp_remote_node_connect_to_named_place (f->c, "srv");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = NULL;

  dp_test_assert_echoes (echo, "from the master first");
  ref = dp_remote_connection_to_variant (echo, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ref);
  g_variant_ref_sink (ref);
  g_assert_cmpstr (g_variant_get_type_string (ref), ==, "(ssqay)");
  g_assert_false (dp_remote_connection_put (echo, g_variant_new_string ("too late")));
  g_assert_cmpint (dp_remote_connection_wait (echo), ==, DP_PLACE_EXIT_LOST);
  g_assert_null (dp_remote_connection_to_variant (echo, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* the place on B talks to the echo place on A */
  dp_remote_connection_put (redeemer, ref);
  {
    g_autoptr(GVariant) r = get (redeemer);
    assert_is (r, g_variant_new ("(sv)", "ok", g_variant_new_string ("hello")));
  }
  dp_remote_connection_put (redeemer, ref);
  g_free (expect_error (redeemer, DP_ERROR_BAD_REFERENCE));

  /* the same from a main loop */
  {
    g_autoptr(DpRemoteConnection) echo2 = launch (f->a, "echo", "echo", NULL);
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GVariant) ref2 = NULL;
    g_autoptr(GVariant) r = NULL;

    dp_remote_connection_to_variant_async (echo2, NULL, store_result, &result);
    while (result == NULL)
      g_main_context_iteration (NULL, TRUE);
    ref2 = dp_remote_connection_to_variant_finish (echo2, result, &error);
    g_assert_no_error (error);
    dp_remote_connection_put (redeemer, ref2);
    r = get (redeemer);
    assert_is (r, g_variant_new ("(sv)", "ok", g_variant_new_string ("hello")));
  }

  g_assert_true (dp_remote_connection_wait_ready (client, NULL, &error));
  g_assert_null (dp_remote_connection_to_variant (client, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_BAD_REFERENCE);
  dp_test_assert_echoes (client, "still served");
}

/* A node keeps at most 1024 ends sent away and never redeemed: the oldest
 * is dropped with a warning, and its other end sees the channel closed. */
static void
test_exports_bounded (Fixture *f, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) many = launch (f->a, "mesh-places", "export_many", NULL);
  g_autoptr(GVariant) r = NULL;

  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, "node *: *dropped the oldest channel end sent away and never redeemed: a node keeps at most 1024");
  dp_remote_connection_put (many, g_variant_new ("(s)", "go"));
  r = get (many);
  assert_is (r, g_variant_new ("(sb)", "dropped", TRUE));
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  g_test_add ("/mesh/connect", Fixture, NULL, setup, test_connect, teardown);
  g_test_add ("/mesh/pass-channel", Fixture, NULL, setup, test_pass_channel, teardown);
  g_test_add ("/mesh/tls/connect", Fixture, NULL, setup_tls, test_connect, teardown);
  g_test_add ("/mesh/tls/pass-channel", Fixture, NULL, setup_tls, test_pass_channel, teardown);
  g_test_add ("/mesh/named-place-ends", Fixture, NULL, setup, test_named_place_ends, teardown);
  g_test_add ("/mesh/peer-death", Fixture, NULL, setup, test_peer_death, teardown);
  g_test_add ("/mesh/wrong-secret", Fixture, NULL, setup, test_wrong_secret, teardown);
  g_test_add ("/mesh/spawn-from-place", Fixture, NULL, setup, test_spawn_from_place, teardown);
  g_test_add ("/mesh/send-remote-connection", Fixture, NULL, setup, test_send_remote_connection, teardown);
  g_test_add ("/mesh/exports-bounded", Fixture, NULL, setup, test_exports_bounded, teardown);
  g_test_add ("/mesh/forged", Fixture, NULL, setup, test_forged, teardown);
  return g_test_run ();
}
