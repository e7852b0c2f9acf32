/* test-tls.c: TLS on node connections (dp-tls.c, dp-connection.c)
 *
 * Most tests run two DpNodes in this process, as test-peer.c does, with
 * DpNode:tls on over loopback; some put a proxy of their own between
 * them (threads relaying bytes: they record them, or flip one in flight).
 * /tls/cluster spawns dp-node processes with TLS on: the credentials go
 * over their standard input, and two of them talk directly (the mesh).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* ---- a proxy: one connection, relayed by two threads ---- */

typedef struct {
  GSocketListener *listener;
  guint16          port;        /* where it listens */
  guint16          upstream;    /* where it connects */
  GThread         *thread;
  GMutex           lock;
  GByteArray      *seen;        /* client -> server bytes, under @lock */
  gint             flip;        /* atomic: flip a byte of the next client -> server chunk */
  gint             flipped;     /* atomic: it did */
  gboolean         slow;        /* set before it starts: reads of 512 bytes */
  int              stop[2];     /* a pipe: the test ends the relay */
} Proxy;

static gboolean
relay (int from, int to, Proxy *px, gboolean record)
{
  guint8 buf[64 * 1024];
  ssize_t n = read (from, buf, px->slow ? 512 : sizeof buf);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return TRUE;
  if (n <= 0)
    return FALSE;
  if (record)
    {
      if (g_atomic_int_compare_and_exchange (&px->flip, 1, 0))
        {
          buf[n / 2] ^= 0x01;
          g_atomic_int_set (&px->flipped, 1);
        }
      g_mutex_lock (&px->lock);
      g_byte_array_append (px->seen, buf, (guint) n);
      g_mutex_unlock (&px->lock);
    }
  /* GSocket's descriptors are non-blocking: a full socket says EAGAIN,
   * and the rest of the chunk waits for room (dropping it cut the stream
   * in the middle of a TLS record) */
  for (ssize_t off = 0; off < n;)
    {
      ssize_t w = write (to, buf + off, (size_t) (n - off));

      if (w < 0 && (errno == EAGAIN || errno == EINTR))
        {
          struct pollfd room = { to, POLLOUT, 0 };

          if (poll (&room, 1, -1) < 0 && errno != EINTR)
            return FALSE;
          continue;
        }
      if (w <= 0)
        return FALSE;
      off += w;
    }
  return TRUE;
}

/* One direction of the relay, until either end or the stop pipe says
 * so; each direction has a thread of its own, so that a write that waits
 * for one peer to read never keeps the other direction from moving. */
typedef struct {
  Proxy   *px;
  int      from, to;
  gboolean record;
} Pump;

static gpointer
pump_thread (gpointer data)
{
  Pump *pump = data;

  for (;;)
    {
      struct pollfd fds[2] = { { pump->from, POLLIN, 0 }, { pump->px->stop[0], POLLIN, 0 } };

      if (poll (fds, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (fds[1].revents)
        break;
      if (fds[0].revents && !relay (pump->from, pump->to, pump->px, pump->record))
        break;
    }
  /* the other direction ends too */
  shutdown (pump->from, SHUT_RDWR);
  shutdown (pump->to, SHUT_RDWR);
  return NULL;
}

static gpointer
proxy_thread (gpointer data)
{
  Proxy *px = data;
  g_autoptr(GSocketConnection) in = NULL;
  g_autoptr(GSocketConnection) out = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  Pump up = { px, -1, -1, TRUE }, down = { px, -1, -1, FALSE };
  GThread *up_thread;
  int a, b;

  in = g_socket_listener_accept (px->listener, NULL, NULL, &error);
  g_assert_no_error (error);
  out = g_socket_client_connect_to_host (client, "127.0.0.1", px->upstream, NULL, &error);
  g_assert_no_error (error);
  a = g_socket_get_fd (g_socket_connection_get_socket (in));
  b = g_socket_get_fd (g_socket_connection_get_socket (out));
  g_socket_set_blocking (g_socket_connection_get_socket (in), TRUE);
  g_socket_set_blocking (g_socket_connection_get_socket (out), TRUE);
  up.from = down.to = a;
  up.to = down.from = b;
  up_thread = g_thread_new ("tls-test-proxy-up", pump_thread, &up);
  pump_thread (&down);
  g_thread_join (up_thread);
  return NULL;
}

static Proxy *
proxy_new (guint16 upstream, gboolean slow)
{
  Proxy *px = g_new0 (Proxy, 1);
  g_autoptr(GError) error = NULL;

  px->listener = g_socket_listener_new ();
  px->upstream = upstream;
  px->port = g_socket_listener_add_any_inet_port (px->listener, NULL, &error);
  g_assert_no_error (error);
  g_mutex_init (&px->lock);
  px->seen = g_byte_array_new ();
  px->slow = slow;
  g_assert_cmpint (pipe (px->stop), ==, 0);
  px->thread = g_thread_new ("tls-test-proxy", proxy_thread, px);
  return px;
}

static void
proxy_free (Proxy *px)
{
  g_assert_cmpint (write (px->stop[1], "x", 1), ==, 1);
  g_thread_join (px->thread);
  close (px->stop[0]);
  close (px->stop[1]);
  g_socket_listener_close (px->listener);
  g_object_unref (px->listener);
  g_byte_array_unref (px->seen);
  g_mutex_clear (&px->lock);
  g_free (px);
}

static gboolean
proxy_saw (Proxy *px, const char *text)
{
  gboolean found;

  g_mutex_lock (&px->lock);
  found = memmem (px->seen->data, px->seen->len, text, strlen (text)) != NULL;
  g_mutex_unlock (&px->lock);
  return found;
}

/* ---- credentials made here ---- */

static DpTls *
issue (const char *ca, const char *name, gint64 from_days, gint64 to_days)
{
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *pem = _dp_tls_issue (ca, name, now + from_days * 86400, now + to_days * 86400,
                                        &error);
  g_autofree char *ca_cert = NULL;
  DpTls *tls;

  g_assert_no_error (error);
  ca_cert = _dp_tls_pem_certificate (ca);
  tls = _dp_tls_new_from_pem (pem, ca_cert, &error);
  g_assert_no_error (error);
  return tls;
}

static void
give (DpNode *node, DpTls *tls)
{
  dp_node_set_tls_credentials (node, _dp_tls_get_certificate (tls), _dp_tls_get_ca (tls));
}

/* ---- two nodes in this process ---- */

typedef struct {
  DpNode       *server;
  DpNode       *master;
  Proxy        *proxy;
  gboolean      slow_proxy;   /* pair_connect()'s proxy relays slowly */
} Pair;

/* a node with the test's cookie (DP_COOKIE_FILE): its TLS credentials
 * are made from the CA next to it, with no help */
static DpNode *
new_node (DpTlsMode mode)
{
  DpNode *node = dp_node_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (dp_node_load_cookie (node, NULL, &error));
  g_assert_no_error (error);
  g_object_set (node, "tls", mode, NULL);
  return node;
}

static void
pair_free (Pair *p)
{
  g_clear_object (&p->master);
  if (p->server)
    while (dp_node_get_n_places (p->server) > 0)
      g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&p->server);
  g_clear_pointer (&p->proxy, proxy_free);
  dp_test_assert_expected_logs ();
}

/* the master connects to the server, through a proxy when @proxy */
static DpRemoteNode *
pair_connect (Pair *p, gboolean proxy, GError **error)
{
  g_autoptr(GError) local = NULL;
  guint16 port;

  if (dp_node_get_port (p->server) == 0)
    {
      g_assert_true (dp_node_listen (p->server, "127.0.0.1", 0, &local));
      g_assert_no_error (local);
    }
  port = dp_node_get_port (p->server);
  if (proxy)
    {
      p->proxy = proxy_new (port, p->slow_proxy);
      port = p->proxy->port;
    }
  return dp_remote_node_connect (p->master, "127.0.0.1", port, NULL, error);
}

/* TLS on over loopback, credentials made with no help (the CA next to the
 * test's cookie): messages go and come back, and a proxy in between sees
 * none of them in the clear; with TLS off it does (the control). */
static void
test_peer (void)
{
  for (int tls = 1; tls >= 0; tls--)
    {
      Pair p = { new_node (tls ? DP_TLS_ON : DP_TLS_OFF), new_node (tls ? DP_TLS_ON : DP_TLS_OFF) };
      g_autoptr(GError) error = NULL;
      g_autoptr(DpRemoteNode) node = pair_connect (&p, TRUE, &error);
      g_autoptr(DpRemoteConnection) rc = NULL;

      g_assert_no_error (error);
      rc = dp_test_launch_ready (node, "echo", "echo");
      dp_test_assert_echoes (rc, "a secret message 0123456789");
      g_assert_cmpint (proxy_saw (p.proxy, "a secret message 0123456789"), ==, !tls);
      g_assert_cmpint (proxy_saw (p.proxy, "echo"), ==, !tls);
      g_clear_object (&rc);
      g_clear_object (&node);
      pair_free (&p);
    }
  {
    g_autofree char *ca = _dp_tls_ca_path (NULL);
    GStatBuf st;

    g_assert_cmpint (g_stat (ca, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 077, ==, 0);
  }
}

/* Big messages and small ones, mixed, both ways through TLS with a proxy
 * in between that relays slowly (so that the senders' sockets fill and
 * what the TLS transport keeps waits for room: dp-tls-transport.c):
 * every one comes back whole and in order. A thread sends them while the
 * test reads the echoes. */
static const gsize bulk_sizes[] = { 1, 5, 16383, 16384, 16385, 3 * 1024 * 1024 + 7, 100,
                                    262143, 262144, 262145, 1 << 20, 42,
                                    4 * 1024 * 1024, 3, 4 * 1024 * 1024 - 1 };

typedef struct {
  DpRemoteConnection *rc;
  GPtrArray          *sent;
} Bulk;

static gpointer
bulk_sender (gpointer data)
{
  Bulk *b = data;

  for (guint i = 0; i < b->sent->len; i++)
    g_assert_true (dp_remote_connection_put (b->rc, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                                              b->sent->pdata[i], TRUE)));
  return NULL;
}

static void
test_bulk (void)
{
  Pair p = { new_node (DP_TLS_ON), new_node (DP_TLS_ON), NULL, TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = pair_connect (&p, TRUE, &error);
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GRand) rand = g_rand_new_with_seed (18);
  Bulk b;
  GThread *sender;

  g_assert_no_error (error);
  rc = dp_test_launch_ready (node, "echo", "echo");
  for (gsize i = 0; i < G_N_ELEMENTS (bulk_sizes); i++)
    {
      guint8 *data = g_malloc (bulk_sizes[i]);

      for (gsize j = 0; j < bulk_sizes[i]; j++)
        data[j] = (guint8) g_rand_int (rand);
      g_ptr_array_add (sent, g_bytes_new_take (data, bulk_sizes[i]));
    }
  b.rc = rc;
  b.sent = sent;
  sender = g_thread_new ("bulk-sender", bulk_sender, &b);
  for (gsize i = 0; i < G_N_ELEMENTS (bulk_sizes); i++)
    {
      g_autoptr(GVariant) r = dp_remote_connection_get (rc);
      g_autoptr(GBytes) got = NULL;

      g_assert_nonnull (r);
      got = g_variant_get_data_as_bytes (r);
      g_assert_cmpuint (g_bytes_get_size (got), ==, bulk_sizes[i]);
      g_assert_true (g_bytes_equal (got, sent->pdata[i]));
    }
  g_thread_join (sender);
  g_clear_object (&rc);
  g_clear_object (&node);
  pair_free (&p);
}

/* Without the switch: TLS is off over loopback (AUTO), and the two
 * agree; a side with it forced on and one with it off refuse each other,
 * each saying which side has it off. */
static void
test_mismatch (void)
{
  {
    Pair p = { new_node (DP_TLS_AUTO), new_node (DP_TLS_AUTO) };
    g_autoptr(GError) error = NULL;
    g_autoptr(DpRemoteNode) node = pair_connect (&p, TRUE, &error);
    g_autoptr(DpRemoteConnection) rc = NULL;

    g_assert_no_error (error);
    rc = dp_test_launch_ready (node, "echo", "echo");
    dp_test_assert_echoes (rc, "plain on loopback");
    g_assert_true (proxy_saw (p.proxy, "plain on loopback"));
    g_clear_object (&rc);
    g_clear_object (&node);
    pair_free (&p);
  }
  for (int server_tls = 1; server_tls >= 0; server_tls--)
    {
      Pair p = { new_node (server_tls ? DP_TLS_ON : DP_TLS_OFF),
                 new_node (server_tls ? DP_TLS_OFF : DP_TLS_ON) };
      g_autoptr(GError) error = NULL;
      g_autoptr(DpRemoteNode) node = NULL;

      dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                          server_tls ? "*does not speak TLS, which this side requires*"
                                     : "*requires TLS on this connection, which this side has off*");
      node = pair_connect (&p, FALSE, &error);
      g_assert_null (node);
      g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
      g_assert_nonnull (strstr (error->message, server_tls
                                ? "requires TLS on this connection, which this side has off"
                                : "does not speak TLS, which this side requires"));
      pair_free (&p);
    }
}

/* A plain TCP peer (the libdp handshake, no TLS) to a node with TLS on:
 * refused, the node saying why, and it keeps serving others. */
static void
test_plain_peer (void)
{
  g_autoptr(DpNode) server = new_node (DP_TLS_ON);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) secret = dp_node_get_secret (server, &error);
  g_autoptr(GSocketConnection) c = NULL;

  g_assert_no_error (error);
  g_assert_true (dp_node_listen (server, "127.0.0.1", 0, &error));
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, "*does not speak TLS, which this side requires*");
  c = dp_test_raw_connect (dp_node_get_port (server));
  dp_test_raw_handshake (c, secret);
  dp_test_expect_dropped (c);
  dp_test_assert_expected_logs ();
}

/* Certificates from another CA, expired or not valid yet: refused on
 * the side that checks them, with a message that says which. */
static void
test_bad_certificates (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ca = _dp_tls_load_ca (NULL, TRUE, &error);
  g_autofree char *other_ca = _dp_tls_make_ca_pem (&error);
  struct {
    const char *ca;
    gint64      from, to;
    const char *says;
  } cases[] = {
    { NULL, -1, 30, "*not issued by this cluster's CA*" },
    { NULL, -30, -1, "*has expired*" },
    { NULL, 1, 30, "*not valid yet*" },
  };

  g_assert_no_error (error);
  cases[0].ca = other_ca;
  cases[1].ca = cases[2].ca = ca;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Pair p = { new_node (DP_TLS_ON), new_node (DP_TLS_ON) };
      g_autoptr(DpTls) bad = issue (cases[i].ca, "the bad one", cases[i].from, cases[i].to);
      g_autoptr(DpRemoteNode) node = NULL;
      g_autofree char *pattern = g_strdup_printf ("*TLS with*refused: %s", cases[i].says);

      g_clear_error (&error);
      /* the master's credentials are the bad ones: the server refuses
       * its certificate — or, given another cluster's CA, the master
       * refuses the server's first (TLS 1.3: the client checks first) */
      give (p.master, bad);
      if (i == 0)
        dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*TLS handshake with*failed*");
      else
        dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, pattern);
      node = pair_connect (&p, FALSE, &error);
      g_assert_null (node);
      g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
      g_test_message ("master: %s", error->message);
      if (i == 0)
        g_assert_true (g_pattern_match_simple (pattern, error->message));
      else
        g_assert_nonnull (strstr (error->message, "TLS handshake with"));
      pair_free (&p);

      /* the server's: the master refuses it */
      {
        Pair q = { new_node (DP_TLS_ON), new_node (DP_TLS_ON) };

        g_clear_error (&error);
        give (q.server, bad);
        dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*TLS handshake with*failed*");
        node = pair_connect (&q, FALSE, &error);
        g_assert_null (node);
        g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
        g_assert_true (g_pattern_match_simple (pattern, error->message));
        pair_free (&q);
      }
    }
}

/* A byte flipped in flight after the handshake: the record fails its
 * authentication, the connection closes and the message is never
 * delivered (no echo comes back). */
static void
test_flipped_byte (void)
{
  Pair p = { new_node (DP_TLS_ON), new_node (DP_TLS_ON) };
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = pair_connect (&p, TRUE, &error);
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_no_error (error);
  rc = dp_test_launch_ready (node, "echo", "echo");
  dp_test_assert_echoes (rc, "before");
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, "*reading from*failed*");
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*");
  g_atomic_int_set (&p.proxy->flip, 1);
  dp_remote_connection_put (rc, g_variant_new_string ("altered in flight"));
  reply = dp_remote_connection_get (rc);
  g_assert_null (reply);   /* closed, no echo: the place never got it */
  g_assert_true (g_atomic_int_get (&p.proxy->flipped));
  g_clear_object (&rc);
  g_clear_object (&node);
  pair_free (&p);
}

static gboolean
accept_any (GTlsConnection *c, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer data)
{
  return TRUE;
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error));
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

/* The channel binding: both ends of a session get the same bytes, two
 * sessions different ones (what a relay splicing two sessions would need
 * to be equal). */
static void
test_binding (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ca = _dp_tls_load_ca (NULL, TRUE, &error);
  g_autoptr(GByteArray) first = NULL;

  g_assert_no_error (error);
  for (int round = 0; round < 2; round++)
    {
      g_autoptr(DpTls) tls = issue (ca, "binding", -1, 1);
      g_autoptr(GSocketListener) listener = g_socket_listener_new ();
      g_autoptr(GSocketClient) client = g_socket_client_new ();
      guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
      g_autoptr(GSocketConnection) c = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
      g_autoptr(GSocketConnection) s = g_socket_listener_accept (listener, NULL, NULL, &error);
      g_autoptr(GIOStream) tc = g_tls_client_connection_new (G_IO_STREAM (c), NULL, &error);
      g_autoptr(GIOStream) ts = g_tls_server_connection_new (G_IO_STREAM (s), _dp_tls_get_certificate (tls), &error);
      g_autoptr(GByteArray) bc = g_byte_array_new ();
      g_autoptr(GByteArray) bs = g_byte_array_new ();
      gboolean done_c = FALSE, done_s = FALSE;

      g_assert_no_error (error);
      g_tls_connection_set_database (G_TLS_CONNECTION (tc), NULL);
      g_signal_connect (tc, "accept-certificate", G_CALLBACK (accept_any), NULL);
      g_tls_connection_handshake_async (G_TLS_CONNECTION (tc), 0, NULL, handshake_cb, &done_c);
      g_tls_connection_handshake_async (G_TLS_CONNECTION (ts), 0, NULL, handshake_cb, &done_s);
      while (!done_c || !done_s)
        g_main_context_iteration (NULL, TRUE);
      g_assert_true (g_tls_connection_get_channel_binding_data (G_TLS_CONNECTION (tc), DP_TLS_BINDING, bc, &error));
      g_assert_no_error (error);
      g_assert_true (g_tls_connection_get_channel_binding_data (G_TLS_CONNECTION (ts), DP_TLS_BINDING, bs, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (bc->len, >=, 32);
      g_assert_cmpmem (bc->data, bc->len, bs->data, bs->len);
      if (first)
        g_assert_false (bc->len == first->len && memcmp (bc->data, first->data, bc->len) == 0);
      else
        first = g_byte_array_ref (bc);
      {
        GTlsProtocolVersion v = g_tls_connection_get_protocol_version (G_TLS_CONNECTION (tc));
        g_assert_cmpint (v, ==, G_TLS_PROTOCOL_VERSION_TLS_1_3);
        g_autofree char *suite = g_tls_connection_get_ciphersuite_name (G_TLS_CONNECTION (tc));
        g_test_message ("TLS 1.3, %s", suite);
      }
    }
}

/* dp-launch --tls=on: a node spawned with TLS on, its credentials made
 * and handed over with no help; a wrong mode is a usage error. */
static void
test_dp_launch (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *args[] = { "--tls=on", "--no-stdin", "-m", "\"over tls\"", "localhost:0", "echo", "echo", NULL };
  const char *bad[] = { "--tls=maybe", "localhost:0", "echo", "echo", NULL };

  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", args, NULL, NULL, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "\"over tls\"\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", bad, NULL, NULL, &out, &err), ==, 2);
  g_assert_nonnull (strstr (err, "--tls wants auto, on or off"));
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/tls/binding", test_binding);
  dp_test_add_func ("/tls/peer", test_peer);
  dp_test_add_func ("/tls/bulk", test_bulk);
  dp_test_add_func ("/tls/mismatch", test_mismatch);
  dp_test_add_func ("/tls/plain-peer", test_plain_peer);
  dp_test_add_func ("/tls/bad-certificates", test_bad_certificates);
  dp_test_add_func ("/tls/flipped-byte", test_flipped_byte);
  dp_test_add_func ("/tls/dp-launch", test_dp_launch);
  return g_test_run ();
}
