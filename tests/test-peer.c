/* test-peer.c: the protocol between two DpNodes in this one process
 *
 * As GLib's gio/tests/gdbus-peer.c runs both ends of a D-Bus connection in
 * one process, every test here has a server node listening on 127.0.0.1
 * (any free port) and a master node attached to it with
 * dp_remote_node_connect(): real sockets, real handshakes and frames, both
 * routers' threads, places from the plugins of the build tree (found through
 * DP_PLUGIN_PATH), and no process spawned. The whole suite takes a fraction
 * of a second; it says how long in its last line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <string.h>

typedef struct {
  DpNode       *server;   /* listens; runs the places */
  DpNode       *master;
  DpRemoteNode *node;     /* the master's handle on the server */
} Peer;

/* @data: NULL, or the heartbeat interval both nodes use (0: none) */
static void
setup (Peer *p, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  p->server = dp_test_new_router ();
  p->master = dp_test_new_router ();
  if (data)
    {
      g_object_set (p->server, "heartbeat-interval", *(const gdouble *) data, NULL);
      g_object_set (p->master, "heartbeat-interval", *(const gdouble *) data, NULL);
    }
  g_assert_true (dp_node_listen (p->server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dp_node_get_port (p->server), >, 0);

  p->node = dp_remote_node_connect (p->master, "127.0.0.1", dp_node_get_port (p->server),
                                    NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (p->node);
}

static void
teardown (Peer *p, gconstpointer data)
{
  dp_test_assert_expected_logs ();
  g_clear_object (&p->node);
  g_clear_object (&p->master);
  /* with the master gone, every place sees its channel closed and ends;
   * the server goes once they have (their records hold it) */
  while (dp_node_get_n_places (p->server) > 0)
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&p->server);
  dp_test_assert_expected_logs ();
}

static DpRemoteConnection *
launch (Peer *p, const char *plugin, const char *symbol, DpLaunchFlags flags, const char *name)
{
  g_autoptr(GError) error = NULL;
  DpRemoteConnection *rc = dp_remote_node_launch_place (p->node, plugin, symbol, flags, name);

  g_assert_true (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_assert_no_error (error);
  return rc;
}


static void
assert_node_serves (Peer *p)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", 0, NULL);

  dp_test_assert_echoes (rc, "still here");
}


/* ---- flow control ---- */

/* @size zero bytes as an "ay" (floating) */
static GVariant *
zeros_variant (gsize size)
{
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_malloc0 (size), size);

  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
}


typedef struct {
  DpPlaceChannel *ch;
  guint           n;
  gint            put;      /* atomic: messages put so far */
} PairPutter;

static gpointer
pair_putter (gpointer data)
{
  PairPutter *pp = data;

  for (guint i = 0; i < pp->n; i++)
    {
      g_assert_true (dp_place_channel_put (pp->ch, g_variant_new_uint32 (i)));
      g_atomic_int_inc (&pp->put);
    }
  return NULL;
}

/* An in-process pair: put waits while the other side's inbox holds
 * DP_DEFAULT_MAX_INBOX_MESSAGES, and goes on as it is read. */
static void
test_flow_pair_put_blocks (void)
{
  g_autoptr(DpPlaceChannel) a = NULL;
  g_autoptr(DpPlaceChannel) b = NULL;
  PairPutter pp = { NULL, 20 * DP_DEFAULT_MAX_INBOX_MESSAGES, 0 };
  GThread *t;

  dp_place_channel_new_pair (&a, &b);
  pp.ch = a;
  t = g_thread_new ("putter", pair_putter, &pp);
  /* wait for the first message, then for the inbox to fill: the putter
   * cannot get further than the limit (plus the one admitted below it) */
  while ((guint) g_atomic_int_get (&pp.put) < DP_DEFAULT_MAX_INBOX_MESSAGES)
    g_thread_yield ();
  for (guint i = 0; i < 1000; i++)
    g_thread_yield ();
  g_assert_cmpuint ((guint) g_atomic_int_get (&pp.put), <=, DP_DEFAULT_MAX_INBOX_MESSAGES + 1);
  /* reading lets it finish, in order */
  for (guint i = 0; i < pp.n; i++)
    {
      g_autoptr(GVariant) m = dp_place_channel_get (b);
      g_assert_cmpuint (g_variant_get_uint32 (m), ==, i);
    }
  g_thread_join (t);
  g_assert_cmpuint ((guint) g_atomic_int_get (&pp.put), ==, pp.n);
}

static gpointer
putter_until_closed (gpointer data)
{
  PairPutter *pp = data;

  while (dp_place_channel_put (pp->ch, g_variant_new_uint32 (0)))
    g_atomic_int_inc (&pp->put);
  return NULL;
}

/* Closing the reader's end releases a putter waiting for room: its put
 * returns FALSE */
static void
test_flow_pair_close_releases (void)
{
  g_autoptr(DpPlaceChannel) a = NULL;
  g_autoptr(DpPlaceChannel) b = NULL;
  PairPutter pp = { NULL, 0, 0 };
  GThread *t;

  dp_place_channel_new_pair (&a, &b);
  pp.ch = a;
  t = g_thread_new ("putter", putter_until_closed, &pp);
  while ((guint) g_atomic_int_get (&pp.put) < DP_DEFAULT_MAX_INBOX_MESSAGES)
    g_thread_yield ();
  dp_place_channel_close (b);
  g_thread_join (t);
  g_assert_cmpuint ((guint) g_atomic_int_get (&pp.put), <=, DP_DEFAULT_MAX_INBOX_MESSAGES + 1);
}

typedef struct {
  DpPlaceChannel *ch;
  guint           n;
  guint           got;
} PairSide;

static gpointer
pair_side_send (gpointer data)
{
  PairSide *s = data;

  for (guint i = 0; i < s->n; i++)
    g_assert_true (dp_place_channel_put (s->ch, g_variant_new ("(u@ay)", i,
                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "0123456789abcdef", 16, 1))));
  return NULL;
}

static gpointer
pair_side_recv (gpointer data)
{
  PairSide *s = data;

  while (s->got < s->n)
    {
      g_autoptr(GVariant) m = dp_place_channel_get (s->ch);
      guint32 seq;

      g_assert_nonnull (m);
      g_variant_get (m, "(u@ay)", &seq, NULL);
      g_assert_cmpuint (seq, ==, s->got);
      s->got++;
    }
  return NULL;
}

/* Two sides sending to each other with both inboxes full at once: each
 * reads on one thread and writes on another, and both finish. */
static void
test_flow_pair_both_full (void)
{
  g_autoptr(DpPlaceChannel) a = NULL;
  g_autoptr(DpPlaceChannel) b = NULL;
  guint n = 10 * DP_DEFAULT_MAX_INBOX_MESSAGES;
  PairSide sa = { NULL, n, 0 }, sb = { NULL, n, 0 }, ra = { NULL, n, 0 }, rb = { NULL, n, 0 };
  GThread *t[4];

  dp_place_channel_new_pair (&a, &b);
  sa.ch = ra.ch = a;
  sb.ch = rb.ch = b;
  t[0] = g_thread_new ("a-send", pair_side_send, &sa);
  t[1] = g_thread_new ("b-send", pair_side_send, &sb);
  t[2] = g_thread_new ("a-recv", pair_side_recv, &ra);
  t[3] = g_thread_new ("b-recv", pair_side_recv, &rb);
  for (guint i = 0; i < 4; i++)
    g_thread_join (t[i]);
  g_assert_cmpuint (ra.got, ==, n);
  g_assert_cmpuint (rb.got, ==, n);
}

/* Small limits, so that queues fill at once; heartbeats short enough that
 * a stall outlasts their timeout */
static const gdouble flow_hb_interval = 0.25;
static const gdouble flow_hb_timeout = 2.0;

static void
setup_flow (Peer *p, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean small = data != NULL;

  p->server = dp_test_new_router ();
  p->master = dp_test_new_router ();
  g_object_set (p->server, "heartbeat-interval", flow_hb_interval,
                "heartbeat-timeout", flow_hb_timeout, NULL);
  g_object_set (p->master, "heartbeat-interval", flow_hb_interval,
                "heartbeat-timeout", flow_hb_timeout, NULL);
  if (small)
    {
      g_object_set (p->server, "max-output-queue", (guint64) 256 * 1024,
                    "max-inbox-size", (guint64) 256 * 1024, NULL);
      g_object_set (p->master, "max-output-queue", (guint64) 256 * 1024,
                    "max-inbox-size", (guint64) 256 * 1024, NULL);
    }
  g_assert_true (dp_node_listen (p->server, "127.0.0.1", 0, &error));
  p->node = dp_remote_node_connect (p->master, "127.0.0.1", dp_node_get_port (p->server),
                                    NULL, &error);
  g_assert_no_error (error);
}

static void
put_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (dp_remote_connection_put_finish (DP_REMOTE_CONNECTION (source), result, &error));
  g_assert_no_error (error);
  (*(guint *) data)++;
}

static gboolean
deadline_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static GVariant *
flood_msg (guint32 seq, GVariant *pad)
{
  return g_variant_ref_sink (g_variant_new ("(u@ay)", seq, pad));
}

/* A master floods an echo place and never reads the replies: it stalls
 * (is_writable turns FALSE, a put_async stays pending for longer than a
 * heartbeat timeout), memory stays bounded, nobody is declared dead,
 * another master is served meanwhile, and once read everything arrives in
 * order. */
static void
flood_unread (Peer *p, DpLaunchFlags flags)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", flags, NULL);
  const gsize size = 1024 * 1024;
  const guint max = 2048;           /* 2 GiB of attempts */
  GVariant *pad = g_variant_ref_sink (zeros_variant (size));
  gint64 rss0, rss1, max_wait = 0;
  guint sent = 0, done = 0, got = 0;
  gboolean stalled = FALSE;

  dp_test_assert_echoes (rc, "warm up");
  rss0 = dp_test_proc_status_kib (0, "VmRSS");
  while (sent < max)
    {
      g_autoptr(GVariant) m = flood_msg (sent, pad);
      gint64 t0 = g_get_monotonic_time (), budget;
      gboolean late = FALSE;
      guint before = done;
      GSource *timer;

      if (dp_remote_connection_is_writable (rc))
        {
          g_assert_true (dp_remote_connection_put (rc, m));
          sent++;
          continue;
        }
      /* full: wait for room as a main loop does; a budget from what the
       * waits took so far (at least longer than a heartbeat timeout) */
      budget = MAX ((gint64) (1.5 * flow_hb_timeout * G_USEC_PER_SEC), 20 * max_wait);
      dp_remote_connection_put_async (rc, m, NULL, put_done_cb, &done);
      timer = g_timeout_source_new ((guint) (budget / 1000));
      g_source_set_callback (timer, deadline_cb, &late, NULL);
      g_source_attach (timer, NULL);
      while (done == before && !late)
        g_main_context_iteration (NULL, TRUE);
      g_source_destroy (timer);
      g_source_unref (timer);
      if (done == before)
        {
          stalled = TRUE;
          break;
        }
      sent++;
      max_wait = MAX (max_wait, g_get_monotonic_time () - t0);
    }
  rss1 = dp_test_proc_status_kib (0, "VmRSS");
  g_test_message ("flood: %u MiB put before the sender stalled; RSS %" G_GINT64_FORMAT
                  " -> %" G_GINT64_FORMAT " MiB (both nodes: this process)",
                  sent, rss0 / 1024, rss1 / 1024);
  g_assert_true (stalled);
  g_assert_cmpuint (sent, <, max);
#ifndef __SANITIZE_ADDRESS__
  /* (AddressSanitizer's quarantine keeps what is freed: no figure there) */
  g_assert_cmpint (rss1 - rss0, <, 64 * 1024);
#endif
  g_assert_false (dp_remote_connection_is_writable (rc));

  /* another master is served meanwhile, and nobody was declared dead */
  {
    g_autoptr(DpNode) other = dp_test_new_router ();
    g_autoptr(GError) error = NULL;
    g_autoptr(DpRemoteNode) n = dp_remote_node_connect (other, "127.0.0.1",
                                                        dp_node_get_port (p->server), NULL, &error);
    g_autoptr(DpRemoteConnection) rc2 = NULL;

    g_assert_no_error (error);
    rc2 = dp_remote_node_launch_place (n, "echo", "echo", 0, NULL);
    g_assert_true (dp_remote_connection_wait_ready (rc2, NULL, &error));
    dp_test_assert_echoes (rc2, "served meanwhile");
  }
  g_assert_true (dp_remote_node_is_alive (p->node));
  g_assert_cmpint (dp_remote_connection_get_state (rc), ==, DP_REMOTE_CONNECTION_READY);

  /* reading lets everything through, in order, the pending put too */
  while (got < sent + 1)
    {
      g_autoptr(GVariant) r = NULL;
      guint32 seq;

      if (got == sent)
        while (done == sent)      /* the pending put goes out in this context */
          g_main_context_iteration (NULL, TRUE);
      r = dp_remote_connection_get (rc);
      g_assert_nonnull (r);
      g_variant_get (r, "(u@ay)", &seq, NULL);
      g_assert_cmpuint (seq, ==, got);
      got++;
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_true (dp_remote_connection_is_writable (rc));
  dp_test_assert_echoes (rc, "after the flood");
  g_variant_unref (pad);
}

static void
test_flow_echo_flood_unread (Peer *p, gconstpointer data)
{
  flood_unread (p, DP_LAUNCH_NONE);
}

/* the same through an isolated place: the node relays between the master
 * and the place's process, and the relay holds back as an inbox does */
static void
test_flow_isolated_flood_unread (Peer *p, gconstpointer data)
{
  flood_unread (p, DP_LAUNCH_ISOLATE);
}

typedef struct {
  DpRemoteConnection *rc;
  guint               count;
  GVariant           *pad;
  guint               sent;      /* requests put (completed) */
  guint               replies;   /* replies to ours */
  guint               answered;  /* requests of the place's answered */
  guint               answers_done;
  gboolean            saw_full;
} ReqRep;

static void request_done (GObject *source, GAsyncResult *result, gpointer data);

static void
send_request (ReqRep *rr)
{
  if (!dp_remote_connection_is_writable (rr->rc))
    rr->saw_full = TRUE;
  dp_remote_connection_put_async (rr->rc, g_variant_new ("(su@ay)", "req", rr->sent, rr->pad),
                                  NULL, request_done, rr);
}

static void
request_done (GObject *source, GAsyncResult *result, gpointer data)
{
  ReqRep *rr = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (dp_remote_connection_put_finish (rr->rc, result, &error));
  if (++rr->sent < rr->count)
    send_request (rr);
}

static void
answer_done (GObject *source, GAsyncResult *result, gpointer data)
{
  ReqRep *rr = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (dp_remote_connection_put_finish (rr->rc, result, &error));
  rr->answers_done++;
}

static void
on_reqrep_message (DpRemoteConnection *rc, GVariant *msg, gpointer data)
{
  ReqRep *rr = data;
  const char *kind;
  guint32 seq;

  g_variant_get (msg, "(&su@ay)", &kind, &seq, NULL);
  if (g_str_equal (kind, "req"))
    {
      g_assert_cmpuint (seq, ==, rr->answered);
      rr->answered++;
      if (!dp_remote_connection_is_writable (rc))
        rr->saw_full = TRUE;
      dp_remote_connection_put_async (rc, g_variant_new ("(su@ay)", "rep", seq, rr->pad),
                                      NULL, answer_done, rr);
    }
  else
    {
      g_assert_cmpuint (seq, ==, rr->replies);
      rr->replies++;
    }
}

/* Requests and replies both ways at full queues: the place puts (and
 * blocks), the master never blocks its loop (put_async, "message"). */
static void
test_flow_request_reply_both_ways (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "test-places", "requester", 0, NULL);
  const gsize size = 16 * 1024;
  ReqRep rr = { rc, 1024, NULL, 0, 0, 0, 0, FALSE };

  rr.pad = g_variant_ref_sink (zeros_variant (size));
  g_signal_connect (rc, "message", G_CALLBACK (on_reqrep_message), &rr);
  g_assert_true (dp_remote_connection_put (rc, g_variant_new ("(uu)", rr.count, (guint32) size)));
  send_request (&rr);
  while (rr.replies < rr.count || rr.answered < rr.count || rr.answers_done < rr.count ||
         rr.sent < rr.count)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
  g_test_message ("request/reply both ways: %u each way; the output queue was full: %s",
                  rr.count, rr.saw_full ? "yes" : "no");
  g_assert_true (rr.saw_full);
  g_signal_handlers_disconnect_by_data (rc, &rr);
  g_variant_unref (rr.pad);
}

typedef struct {
  DpRemoteConnection *rc;
  guint               count;
  gsize               size;
} BidiMaster;

static gpointer
bidi_master_send (gpointer data)
{
  BidiMaster *bm = data;
  GVariant *pad = g_variant_ref_sink (zeros_variant (bm->size));

  for (guint i = 0; i < bm->count; i++)
    g_assert_true (dp_remote_connection_put (bm->rc, g_variant_new ("(u@ay)", i, pad)));
  g_variant_unref (pad);
  return NULL;
}

/* A place and its master send to each other with both directions full at
 * once, each with blocking puts on one thread and gets on another. */
static void
test_flow_both_directions_full (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "test-places", "bidi", 0, NULL);
  BidiMaster bm = { rc, 4096, 8 * 1024 };
  g_autoptr(GVariant) last = NULL;
  GThread *t;
  const char *kind;
  guint32 n;

  g_assert_true (dp_remote_connection_put (rc, g_variant_new ("(uu)", bm.count, (guint32) bm.size)));
  t = g_thread_new ("bidi-master", bidi_master_send, &bm);
  for (guint i = 0; i < bm.count; i++)
    {
      g_autoptr(GVariant) m = dp_remote_connection_get (rc);
      guint32 seq;

      g_assert_nonnull (m);
      g_variant_get (m, "(u@ay)", &seq, NULL);
      g_assert_cmpuint (seq, ==, i);
    }
  g_thread_join (t);
  last = dp_remote_connection_get (rc);
  g_assert_nonnull (last);
  g_variant_get (last, "(&su)", &kind, &n);
  g_assert_cmpstr (kind, ==, "received");
  g_assert_cmpuint (n, ==, bm.count);
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
}

static void
on_count_message (DpRemoteConnection *rc, GVariant *msg, gpointer data)
{
  guint *got = data;
  guint32 seq;

  g_variant_get (msg, "(u@ay)", &seq, NULL);
  g_assert_cmpuint (seq, ==, *got);
  (*got)++;
}

static gboolean
tick_cb (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

/* A main-loop program queues many messages with put_async and never
 * blocks its loop: replies are handled and an idle keeps running while
 * puts wait for room. */
static void
test_flow_put_async (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", 0, NULL);
  const guint count = 2048;
  const gsize size = 16 * 1024;
  GVariant *pad = g_variant_ref_sink (zeros_variant (size));
  guint done = 0, got = 0, ticks = 0, ticks_while_full = 0;
  gboolean saw_full = FALSE;
  guint idle;

  g_signal_connect (rc, "message", G_CALLBACK (on_count_message), &got);
  idle = g_timeout_add (1, tick_cb, &ticks);
  for (guint i = 0; i < count; i++)
    dp_remote_connection_put_async (rc, g_variant_new ("(u@ay)", i, pad), NULL, put_done_cb, &done);
  while (got < count || done < count)
    {
      if (!dp_remote_connection_is_writable (rc))
        {
          saw_full = TRUE;
          ticks_while_full++;
        }
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (idle);
  g_test_message ("put_async: %u messages of %zu KiB; loop iterations while full: %u",
                  count, size / 1024, ticks_while_full);
  g_assert_true (saw_full);
  g_assert_cmpuint (ticks, >, 0);
  g_signal_handlers_disconnect_by_data (rc, &got);
  g_variant_unref (pad);
}

/* ---- batches (put_many / get_many) ---- */

typedef struct {
  DpPlaceChannel *ch;
  guint           n;
  guint           batch;
  gint            done;     /* atomic: set once every put_many returned */
  gboolean        ok;
} ManyPutter;

static gpointer
many_putter (gpointer data)
{
  ManyPutter *mp = data;
  GVariant **batch = g_new (GVariant *, mp->batch);

  mp->ok = TRUE;
  for (guint i = 0; i < mp->n; i += mp->batch)
    {
      guint k = MIN (mp->batch, mp->n - i);

      for (guint j = 0; j < k; j++)
        batch[j] = g_variant_new_uint32 (i + j);
      mp->ok = dp_place_channel_put_many (mp->ch, batch, k) && mp->ok;
    }
  g_free (batch);
  g_atomic_int_set (&mp->done, TRUE);
  return NULL;
}

/* In process: put_many waits at the inbox's limit as put does (a batch
 * puts one message at a time there), get_many takes what is queued, in
 * order, never more than asked, and 0 once the other side has gone */
static void
test_flow_pair_put_many (void)
{
  g_autoptr(DpPlaceChannel) a = NULL;
  g_autoptr(DpPlaceChannel) b = NULL;
  ManyPutter mp = { NULL, 20 * DP_DEFAULT_MAX_INBOX_MESSAGES, 1000, FALSE, FALSE };
  GVariant *got[100];
  guint next = 0, n;
  GThread *t;

  dp_place_channel_new_pair (&a, &b);
  mp.ch = a;
  t = g_thread_new ("putter", many_putter, &mp);
  while ((n = dp_place_channel_get_many (b, got, G_N_ELEMENTS (got))) > 0)
    {
      g_assert_cmpuint (n, <=, G_N_ELEMENTS (got));
      for (guint i = 0; i < n; i++)
        {
          g_assert_cmpuint (g_variant_get_uint32 (got[i]), ==, next);
          next++;
          g_variant_unref (got[i]);
        }
      if (next == mp.n)
        {
          g_thread_join (t);
          t = NULL;
          g_assert_true (mp.ok);
          dp_place_channel_close (a);
        }
    }
  g_assert_null (t);
  g_assert_cmpuint (next, ==, mp.n);
  /* the other side gone: a put_many says so */
  {
    GVariant *late[2] = { g_variant_new_uint32 (1), g_variant_ref_sink (g_variant_new_uint32 (2)) };

    g_assert_false (dp_place_channel_put_many (b, late, 2));
    /* a full reference stays the caller's */
    g_assert_cmpuint (g_variant_get_uint32 (late[1]), ==, 2);
    g_variant_unref (late[1]);
  }
}

/* Over a connection: batches of mixed sizes (small ones copied into the
 * queue, one over 64 KiB queued by reference) come back from an echo
 * place in order, read in batches */
static void
test_place_batches (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", 0, NULL);
  const guint n = 5000;
  GVariant *batch[150];
  GVariant *got[64];
  guint next = 0, sent = 0;

  while (sent < n)
    {
      guint k = MIN (G_N_ELEMENTS (batch), n - sent);

      for (guint j = 0; j < k; j++)
        {
          guint seq = sent + j;

          if (seq % 1000 == 999)
            batch[j] = g_variant_new ("(u@ay)", seq, zeros_variant (100 * 1024));
          else
            batch[j] = g_variant_new ("(u@ay)", seq, zeros_variant (seq % 200));
        }
      g_assert_true (dp_remote_connection_put_many (rc, batch, k));
      sent += k;
    }
  while (next < n)
    {
      guint got_n = dp_remote_connection_get_many (rc, got, G_N_ELEMENTS (got));

      g_assert_cmpuint (got_n, >, 0);
      for (guint i = 0; i < got_n; i++)
        {
          guint32 seq;
          g_autoptr(GVariant) pad = NULL;

          g_variant_get (got[i], "(u@ay)", &seq, &pad);
          g_assert_cmpuint (seq, ==, next);
          g_assert_cmpuint (g_variant_get_size (pad),
                            ==, seq % 1000 == 999 ? 100 * 1024 : seq % 200);
          next++;
          g_variant_unref (got[i]);
        }
    }
}

typedef struct {
  DpRemoteConnection *rc;
  GVariant           *pad;
  guint               count;
  gint                done;     /* atomic */
} BoundedPutter;

static gpointer
bounded_putter (gpointer data)
{
  BoundedPutter *bp = data;
  GVariant *batch[64];

  for (guint i = 0; i < bp->count; i += G_N_ELEMENTS (batch))
    {
      for (guint j = 0; j < G_N_ELEMENTS (batch); j++)
        batch[j] = g_variant_new ("(u@ay)", i + j, bp->pad);
      g_assert_true (dp_remote_connection_put_many (bp->rc, batch, G_N_ELEMENTS (batch)));
    }
  g_atomic_int_set (&bp->done, TRUE);
  return NULL;
}

/* Over a connection nobody reads: put_many is held back by the flow
 * control (the connection becomes full while the batches cannot all have
 * gone: they are more than every queue and socket buffer on the way can
 * hold), and once read everything arrives, in order */
static void
test_flow_put_many_bounded (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", 0, NULL);
  BoundedPutter bp = { rc, NULL, 4096, FALSE };   /* 64 MiB */
  GVariant *got[64];
  guint next = 0;
  GThread *t;

  bp.pad = g_variant_ref_sink (zeros_variant (16 * 1024));
  t = g_thread_new ("put-many", bounded_putter, &bp);
  while (dp_remote_connection_is_writable (rc))
    g_thread_yield ();
  g_assert_false (g_atomic_int_get (&bp.done));
  while (next < bp.count)
    {
      guint n = dp_remote_connection_get_many (rc, got, G_N_ELEMENTS (got));

      g_assert_cmpuint (n, >, 0);
      for (guint i = 0; i < n; i++)
        {
          guint32 seq;

          g_variant_get (got[i], "(u@ay)", &seq, NULL);
          g_assert_cmpuint (seq, ==, next);
          next++;
          g_variant_unref (got[i]);
        }
    }
  g_thread_join (t);
  g_assert_true (g_atomic_int_get (&bp.done));
  g_variant_unref (bp.pad);
}

/* ---- handshake ---- */

static void
on_peer_rejected (DpNode *node, const char *peer, const char *reason, gpointer data)
{
  *(char **) data = g_strdup (reason);
}

static void
test_handshake_ok (Peer *p, gconstpointer data)
{
  g_assert_true (dp_remote_node_is_alive (p->node));
  g_assert_cmpuint (dp_remote_node_get_port (p->node), ==, dp_node_get_port (p->server));
  g_assert_cmpint (dp_remote_node_get_pid (p->node), <=, 0);     /* not ours to run */
  assert_node_serves (p);
}

static void
test_handshake_wrong_secret (Peer *p, gconstpointer data)
{
  g_autoptr(DpNode) stranger = dp_node_new ();
  g_autoptr(GBytes) wrong = g_bytes_new_static ("wrong-secret-0123456789abcdef", 29);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) n = NULL;
  g_autofree char *reason = NULL;

  g_signal_connect (p->server, "peer-rejected", G_CALLBACK (on_peer_rejected), &reason);
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                      "connection from 127.0.0.1:* closed: 127.0.0.1:* failed authentication (wrong secret)*");
  dp_node_set_secret (stranger, wrong);
  n = dp_remote_node_connect (stranger, "127.0.0.1", dp_node_get_port (p->server), NULL, &error);
  g_assert_null (n);
  g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
  g_assert_nonnull (strstr (error->message, "refused our authentication"));
  g_test_message ("refused: %s", error->message);

  while (reason == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (strstr (reason, "failed authentication (wrong secret)"));
  g_signal_handlers_disconnect_by_data (p->server, &reason);
  /* and the master that knows the secret is still served */
  assert_node_serves (p);
}

/* ---- places ---- */

static void
test_echo_values (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", 0, NULL);
  const char *texts[] = {
    "'Hello'", "(1, 'two', [3, 4], {'k': <5>})", "{1: 'x'}", "@mi nothing", "@ms 'm'",
    "b'bytes'", "''", "(int64 -9223372036854775808, uint64 18446744073709551615)",
    "<<(true, 1.5)>>", "@a{sv} {}", "[nan, inf, -0.0]",
  };
  /* large messages: /peer/place/large-message */
  g_autofree guint8 *blob = g_malloc (48 * 1024);

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GVariant) v = g_variant_parse (NULL, texts[i], NULL, NULL, NULL);   /* not floating */
      g_autoptr(GVariant) back = NULL;

      g_assert_true (dp_remote_connection_put (rc, v));
      back = dp_remote_connection_get (rc);
      g_assert_nonnull (back);
      g_assert_true (g_variant_get_size (v) == g_variant_get_size (back));
      g_assert_cmpmem (g_variant_get_data (v), g_variant_get_size (v),
                       g_variant_get_data (back), g_variant_get_size (back));
    }
  for (gsize i = 0; i < 48 * 1024; i++)
    blob[i] = (guint8) (i * 13);
  {
    g_autoptr(GVariant) v = g_variant_ref_sink (
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, 48 * 1024, 1));
    g_autoptr(GVariant) back = NULL;

    g_assert_true (dp_remote_connection_put (rc, v));
    back = dp_remote_connection_get (rc);
    g_assert_true (g_variant_equal (v, back));
  }
  /* in order, many at once */
  for (gint32 i = 0; i < 1000; i++)
    g_assert_true (dp_remote_connection_put (rc, g_variant_new_int32 (i)));
  for (gint32 i = 0; i < 1000; i++)
    {
      g_autoptr(GVariant) r = dp_remote_connection_get (rc);
      g_assert_cmpint (g_variant_get_int32 (r), ==, i);
    }
  dp_remote_connection_close (rc);
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
  g_assert_null (dp_remote_connection_get (rc));
}

static gint64
echo_blob_us (DpRemoteConnection *rc, gsize size, gint64 timeout_us)
{
  g_autofree guint8 *blob = g_malloc (size);
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) back = NULL;
  gint64 t0;

  for (gsize i = 0; i < size; i++)
    blob[i] = (guint8) (i * 7);
  v = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, size, 1));
  t0 = g_get_monotonic_time ();
  g_assert_true (dp_remote_connection_put (rc, v));
  back = dp_remote_connection_get_timeout (rc, timeout_us, NULL);
  if (back == NULL)
    return -1;
  t0 = g_get_monotonic_time () - t0;
  /* byte for byte (g_variant_equal() prints untrusted values as text) */
  g_assert_true (g_variant_is_of_type (back, G_VARIANT_TYPE_BYTESTRING));
  g_assert_cmpmem (g_variant_get_data (back), g_variant_get_size (back), blob, size);
  return t0;
}

/* Messages over the 64 KiB "big frame" size, with no heartbeat timer on
 * either node: they must arrive without any timer's help (they once waited
 * in the reader's batch for the next frame: a heartbeat, or for ever). The
 * timeout is only a hang guard. */
static void
test_large_message (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", 0, NULL);
  gsize sizes[] = { 64 * 1024 + 1, 128 * 1024, 1024 * 1024, 4 * 1024 * 1024, 1000 };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      gint64 took = echo_blob_us (rc, sizes[i], 20 * G_USEC_PER_SEC);

      g_assert_cmpint (took, >, 0);
      g_test_message ("%zu bytes there and back in %.1f ms", sizes[i], took / 1000.0);
    }
}

/* A stream of big messages of mixed sizes: the receive buffers are reused
 * (each connection keeps a few for its next big frames), so each message
 * must hold its own bytes, whether its buffer was fresh, larger than it or
 * grown; and messages kept after their connection went keep their bytes. */
static void
test_large_stream (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", 0, NULL);
  gsize sizes[] = { 4 * 1024 * 1024, 100 * 1024, 2 * 1024 * 1024 + 3, 4 * 1024 * 1024,
                    1024 * 1024, 3 * 1024 * 1024, 70 * 1024, 6 * 1024 * 1024 + 5 };
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

  for (guint round = 0; round < 2; round++)
    for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
      {
        guint8 *blob = g_malloc (sizes[i]);
        guint8 seed = (guint8) (round * 16 + i + 1);
        GVariant *v;

        for (gsize k = 0; k < sizes[i]; k++)
          blob[k] = (guint8) (k * seed + seed);
        v = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, blob, sizes[i],
                                                         TRUE, g_free, blob));
        g_ptr_array_add (sent, v);
        g_assert_true (dp_remote_connection_put (rc, v));
      }
  /* all sent before any is read: several buffers are out at once */
  for (guint i = 0; i < sent->len; i++)
    {
      GVariant *v = sent->pdata[i];
      GVariant *back = dp_remote_connection_get_timeout (rc, 20 * G_USEC_PER_SEC, NULL);

      g_assert_nonnull (back);
      g_assert_true (g_variant_is_of_type (back, G_VARIANT_TYPE_BYTESTRING));
      g_assert_cmpmem (g_variant_get_data (back), g_variant_get_size (back),
                       g_variant_get_data (v), g_variant_get_size (v));
      g_ptr_array_add (kept, back);
      if (kept->len > 3)
        g_ptr_array_remove_index (kept, 0);
    }
  /* the connection goes; the last replies stay whole */
  dp_remote_connection_close (rc);
  g_clear_object (&rc);
  g_clear_object (&p->node);
  g_clear_object (&p->master);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint i = 0; i < kept->len; i++)
    {
      GVariant *v = sent->pdata[sent->len - kept->len + i];
      GVariant *back = kept->pdata[i];

      g_assert_cmpmem (g_variant_get_data (back), g_variant_get_size (back),
                       g_variant_get_data (v), g_variant_get_size (v));
    }
}

static void
test_thunk (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "test-places", "echo_thunk", DP_LAUNCH_THUNK, NULL);

  dp_test_assert_echoes (rc, "Hello");
}

static void
on_place_exited (DpNode *node, const char *symbol, DpPlaceExit exit, const char *detail, gpointer data)
{
  g_ptr_array_add (data, g_strdup_printf ("%s:%d", symbol, exit));
}

/* a place that returns: its death notice comes after its last message,
 * and its node says so */
static void
test_death_after_last_message (Peer *p, gconstpointer data)
{
  g_autoptr(GPtrArray) exited = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autofree char *burst_exit = g_strdup_printf ("burst:%d", DP_PLACE_EXIT_RETURNED);
  GVariant *m;
  gint32 n = 0;

  g_signal_connect (p->server, "place-exited", G_CALLBACK (on_place_exited), exited);
  rc = dp_remote_node_launch_place (p->node, "test-places", "burst", 0, NULL);
  while ((m = dp_remote_connection_get (rc)) != NULL)
    {
      g_assert_cmpint (g_variant_get_int32 (m), ==, n++);
      g_variant_unref (m);
    }
  g_assert_cmpint (n, ==, 100);
  g_assert_cmpint (dp_remote_connection_get_exit (rc), ==, DP_PLACE_EXIT_RETURNED);
  g_assert_cmpint (dp_remote_connection_get_state (rc), ==, DP_REMOTE_CONNECTION_EXITED);

  {
    g_autoptr(DpRemoteConnection) q = dp_remote_node_launch_place (p->node, "test-places", "quick", 0, NULL);
    g_assert_null (dp_remote_connection_get (q));
    g_assert_cmpint (dp_remote_connection_get_exit (q), ==, DP_PLACE_EXIT_RETURNED);
  }
  while (exited->len < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_ptr_array_find_with_equal_func (exited, burst_exit, g_str_equal, NULL));
  g_signal_handlers_disconnect_by_data (p->server, exited);
}

/* In one process a thread place's crash ends the process — the node and
 * its master with it — after the place was named on stderr */
static void
test_crash_ends_node (Peer *p, gconstpointer data)
{
  if (g_test_subprocess ())
    {
      g_autoptr(DpRemoteConnection) bad = launch (p, "test-places", "crash", 0, NULL);
      g_assert_true (dp_remote_connection_put (bad, g_variant_new_int32 (1)));
      dp_remote_connection_wait (bad);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*error: crash pid=* channel=* signal=6: place crash crashed: killed by signal 6 (SIGABRT)*");
}

/* A node's router thread and the application's own thread both set up GIO
 * classes for the first time at once: GLib 2.74 could deadlock there (a
 * GSocketService's class set-up on this thread waiting on a get_type()
 * the router was inside, which waited for the class lock this thread
 * held), so the classes a router needs are set up when the first DpNode
 * is made. Each run is a fresh process (classes are set up once per
 * process); a deadlock is a run that never ends. */
static void
test_first_classes_two_threads (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DpNode) node = dp_node_new ();
      g_autoptr(GSocketService) service = NULL;
      g_autoptr(GSocketClient) client = NULL;
      g_autoptr(GSocketConnection) conn = NULL;

      g_assert_true (dp_node_listen (node, "127.0.0.1", 0, &error));
      g_assert_no_error (error);
      /* while the router starts accepting */
      service = g_socket_service_new ();
      g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
      g_assert_no_error (error);
      client = g_socket_client_new ();
      conn = g_socket_client_connect_to_host (client, "127.0.0.1", dp_node_get_port (node),
                                              NULL, &error);
      g_assert_no_error (error);
      dp_node_shutdown (node);
      return;
    }
  /* 20 fresh processes, each with a minute (the work is milliseconds;
   * the bound only turns a deadlock into a failure) */
  for (guint i = 0; i < 20; i++)
    {
      g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
    }
}

/* An isolated place's crash is only that place's death, in this process
 * too: the node (this process) and its other places serve on */
static void
test_isolated_crash_others_live (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) echo = launch (p, "echo", "echo", 0, NULL);
  g_autoptr(DpRemoteConnection) bad = launch (p, "test-places", "crash", DP_LAUNCH_ISOLATE, NULL);

  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                      "isolated place crash (channel * of 127.0.0.1:*) exited: killed by signal 6 *");
  g_assert_true (dp_remote_connection_put (bad, g_variant_new_int32 (1)));
  g_assert_cmpint (dp_remote_connection_wait (bad), ==, DP_PLACE_EXIT_CRASHED);
  g_assert_nonnull (strstr (dp_remote_connection_get_exit_detail (bad), "signal 6"));
  dp_test_assert_echoes (echo, "after the crash");
  g_assert_true (dp_remote_node_is_alive (p->node));
}

/* ---- named places ---- */

static void
test_named_several_clients (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) owner G_GNUC_UNUSED = launch (p, "echo", "echo_named", 0, "srv");
  g_autoptr(DpRemoteConnection) c1 = dp_remote_node_connect_to_named_place (p->node, "srv");
  g_autoptr(DpRemoteConnection) c2 = dp_remote_node_connect_to_named_place (p->node, "srv");
  g_autoptr(DpRemoteConnection) c3 = dp_remote_node_connect_to_named_place (p->node, "srv");
  g_autoptr(GError) error = NULL;

  /* each client gets its own answers, whatever the order */
  for (int round = 0; round < 3; round++)
    {
      g_autoptr(GVariant) r1 = NULL, r2 = NULL, r3 = NULL;

      g_assert_true (dp_remote_connection_put (c3, g_variant_new_int32 (300 + round)));
      g_assert_true (dp_remote_connection_put (c1, g_variant_new_int32 (100 + round)));
      g_assert_true (dp_remote_connection_put (c2, g_variant_new_int32 (200 + round)));
      r1 = dp_remote_connection_get (c1);
      r2 = dp_remote_connection_get (c2);
      r3 = dp_remote_connection_get (c3);
      g_assert_cmpint (g_variant_get_int32 (r1), ==, 100 + round);
      g_assert_cmpint (g_variant_get_int32 (r2), ==, 200 + round);
      g_assert_cmpint (g_variant_get_int32 (r3), ==, 300 + round);
    }

  /* one client leaving does not end the place for the others */
  dp_remote_connection_close (c3);
  g_clear_object (&c3);
  {
    g_autoptr(GVariant) r = NULL;
    g_assert_true (dp_remote_connection_put (c1, g_variant_new_int32 (7)));
    r = dp_remote_connection_get (c1);
    g_assert_cmpint (g_variant_get_int32 (r), ==, 7);
  }

  {
    g_autoptr(DpRemoteConnection) none = NULL;

    none = dp_remote_node_connect_to_named_place (p->node, "nobody");
    g_assert_false (dp_remote_connection_wait_ready (none, NULL, &error));
    g_assert_error (error, DP_ERROR, DP_ERROR_NAME_NOT_FOUND);
    g_clear_error (&error);
  }
  {
    g_autoptr(DpRemoteConnection) twice = NULL;

    twice = dp_remote_node_launch_place (p->node, "echo", "echo_named", 0, "srv");
    g_assert_false (dp_remote_connection_wait_ready (twice, NULL, &error));
    g_assert_error (error, DP_ERROR, DP_ERROR_NAME_IN_USE);
  }
}

/* ---- launch errors: the request fails, the node says why and serves on ---- */

static void
expect_launch_failure (Peer          *p,
                       const char    *plugin,
                       const char    *symbol,
                       DpLaunchFlags  flags,
                       int            code,
                       const char    *mentions)
{
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autoptr(GError) error = NULL;

  rc = dp_remote_node_launch_place (p->node, plugin, symbol, flags, NULL);
  g_assert_false (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_test_message ("%s %s: %s", plugin, symbol, error->message);
  g_assert_error (error, DP_ERROR, code);
  g_assert_nonnull (strstr (error->message, mentions));
  g_assert_cmpint (dp_remote_connection_get_exit (rc), ==, DP_PLACE_EXIT_FAILED);
  /* the connection keeps the error, and hands out copies */
  {
    g_autoptr(GError) kept = dp_remote_connection_dup_error (rc);
    g_assert_error (kept, DP_ERROR, code);
    g_assert_cmpstr (kept->message, ==, error->message);
  }
  dp_test_assert_expected_logs ();
  assert_node_serves (p);
}

static void
test_launch_missing_plugin (Peer *p, gconstpointer data)
{
  expect_launch_failure (p, "no-such-plugin", "x", 0, DP_ERROR_PLUGIN_NOT_FOUND,
                         "cannot open plugin 'no-such-plugin': file not found");
}

static void
test_launch_missing_symbol (Peer *p, gconstpointer data)
{
  expect_launch_failure (p, "echo", "no_such_symbol", 0, DP_ERROR_SYMBOL_NOT_FOUND,
                         "echo.so' has no symbol 'no_such_symbol'");
}

static void
test_launch_bad_abi (Peer *p, gconstpointer data)
{
  expect_launch_failure (p, "bad-abi", "echo", 0, DP_ERROR_PLUGIN_ABI,
                         "bad-abi.so' was built for plugin ABI 99.0");
}

/* the descriptor is optional: without one, a plugin's places load */
static void
test_launch_no_descriptor (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "no-descriptor", "echo", 0, NULL);

  dp_test_assert_echoes (rc, "no descriptor, no check");
}

/* a descriptor with a field missing or empty is refused, naming the first
 * such field and the file */
static void
test_launch_empty_descriptor (Peer *p, gconstpointer data)
{
  expect_launch_failure (p, "empty-descriptor", "echo", 0, DP_ERROR_PLUGIN_ABI,
                         "empty-descriptor.so' has an invalid descriptor: its name is missing or empty");
}

/* a file where a plugin is looked for that is no shared object: invalid,
 * saying so (not libltdl's "file not found") */
static void
test_launch_not_a_shared_object (Peer *p, gconstpointer data)
{
  expect_launch_failure (p, "not-a-plugin", "echo", 0, DP_ERROR_PLUGIN_INVALID,
                         "not-a-plugin.so is not a shared object");
}

/* a plugin referring to a function nothing defines is refused when it is
 * loaded, naming the function; asked again, it is refused again (it was
 * never half-loaded), and the node serves on */
static void
test_launch_unresolved_symbol (Peer *p, gconstpointer data)
{
  for (int i = 0; i < 2; i++)
    expect_launch_failure (p, "unresolved", "calls_missing", 0, DP_ERROR_PLUGIN_INVALID,
                           "unresolved.so: undefined symbol: dp_test_function_nobody_defines");
}

/* Plugins are confined to their own code: what lt_dlsym() finds in the
 * plugin's dependencies (libc, GLib, libdp, the program) is no place */
static void
test_launch_foreign_symbols (Peer *p, gconstpointer data)
{
  expect_launch_failure (p, "echo", "exit", 0, DP_ERROR_SYMBOL_NOT_FOUND,
                         "echo.so' defines no place 'exit' (the symbol belongs to ");
  expect_launch_failure (p, "echo", "free", 0, DP_ERROR_SYMBOL_NOT_FOUND,
                         "echo.so' defines no place 'free' (the symbol belongs to ");
  expect_launch_failure (p, "echo", "g_object_unref", 0, DP_ERROR_SYMBOL_NOT_FOUND,
                         "echo.so' defines no place 'g_object_unref' (the symbol belongs to libgobject-2.0.so");
  expect_launch_failure (p, "echo", "dp_place_channel_put", 0, DP_ERROR_SYMBOL_NOT_FOUND,
                         "echo.so' defines no place 'dp_place_channel_put' (the symbol belongs to ");
  /* a thunk too */
  expect_launch_failure (p, "echo", "abort", DP_LAUNCH_THUNK, DP_ERROR_SYMBOL_NOT_FOUND,
                         "echo.so' defines no place 'abort' (the symbol belongs to ");
  /* the plugin's own variable is no function either */
  expect_launch_failure (p, "exports-data", "answer", 0, DP_ERROR_SYMBOL_NOT_FOUND,
                         "exports-data.so' defines no place 'answer' (the symbol is not a function)");
  /* while its own functions are places */
  {
    g_autoptr(DpRemoteConnection) rc = dp_remote_node_launch_place (p->node, "exports-data", "quick", 0, NULL);
    g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
  }
}

static void
test_launch_null_thunk (Peer *p, gconstpointer data)
{
  expect_launch_failure (p, "test-places", "null_thunk", DP_LAUNCH_THUNK, DP_ERROR_PLACE_FAILED,
                         "thunk 'null_thunk' did not return a place");
}

static void
test_launch_outside_plugin_path (Peer *p, gconstpointer data)
{
  expect_launch_failure (p, "/bin/true", "main", 0, DP_ERROR_PLUGIN_NOT_ALLOWED,
                         "is outside the node's plugin path");
}

/* ---- exit request ---- */

static void
on_exit_requested (DpNode *node, gpointer data)
{
  (*(guint *) data)++;
}

static void
test_exit_request (Peer *p, gconstpointer data)
{
  guint requested = 0;

  g_signal_connect (p->server, "exit-requested", G_CALLBACK (on_exit_requested), &requested);
  dp_remote_node_send_exit (p->node);
  while (requested == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (requested, ==, 1);
  g_signal_handlers_disconnect_by_data (p->server, &requested);
}

/* ---- raw, misbehaving peers: each closes only its own connection ---- */

static void
test_malformed_frames (Peer *p, gconstpointer data)
{
  g_autoptr(GBytes) secret = dp_node_get_secret (p->server, NULL);
  g_autoptr(DpRemoteConnection) busy = launch (p, "echo", "echo", 0, NULL);
  DpFrameHeader bad[] = {
    { 0x7fffffff, DP_FRAME_DATA, 0, 1, 1, 0 },
    { 0, 99, 0, 0, 1, 0 },
    { 16, DP_FRAME_DATA, 0, 2, 1, 0 },
    { 0, DP_FRAME_PLACE_DIED, 0, 0, 1, 0 },
  };
  const char *why[] = {
    "connection from 127.0.0.1:* closed: bad frame from 127.0.0.1:*: frame of 2147483647 bytes is over the maximum of *",
    "connection from 127.0.0.1:* closed: bad frame from 127.0.0.1:*: unknown frame type 99",
    "connection from 127.0.0.1:* closed: payload type string is not a valid GVariant type",
    "connection from 127.0.0.1:* closed: 127.0.0.1:* sent frame type 7, which only nodes send",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GSocketConnection) c = dp_test_raw_connect (dp_node_get_port (p->server));
      guint8 hdr[DP_FRAME_HEADER_LEN];

      dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, why[i]);
      dp_test_raw_handshake (c, secret);
      _dp_frame_header_pack (&bad[i], hdr);
      dp_test_raw_write (c, hdr, sizeof hdr);
      if (bad[i].sig_len == 2)
        dp_test_raw_write (c, "a{\0\0\0\0\0\0xxxxxxxx", 16);
      dp_test_expect_dropped (c);
      /* the master's connection, opened before, is still served */
      dp_test_assert_echoes (busy, why[i]);
    }
  /* garbage instead of a handshake */
  {
    g_autoptr(GSocketConnection) c = dp_test_raw_connect (dp_node_get_port (p->server));

    dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                        "connection from 127.0.0.1:* closed: *peer does not speak the libdp protocol (bad magic)");
    dp_test_raw_write (c, "GET / HTTP/1.0\r\n\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 71);
    dp_test_expect_dropped (c);
  }
  dp_test_assert_echoes (busy, "through all of that");
  assert_node_serves (p);
}

/* ---- limits for authenticated peers ---- */

static void
expect_limit (DpRemoteNode *node, const char *mentions)
{
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autoptr(GError) error = NULL;

  rc = dp_remote_node_launch_place (node, "echo", "echo", 0, NULL);
  g_assert_false (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, DP_ERROR, DP_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, mentions));
  dp_test_assert_expected_logs ();
}

static DpRemoteConnection *
launch_on (DpRemoteNode *node)
{
  return dp_test_launch_ready (node, "echo", "echo");
}

/* max-places-per-connection, then max-places: the request over a limit
 * fails with DP_ERROR_LIMIT naming it; a place that ends makes room */
static void
test_limit_places (Peer *p, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) other = NULL;
  g_autoptr(DpRemoteConnection) a1 = NULL, a2 = NULL, a3 = NULL, b1 = NULL;
  guint max_places = 0, per_conn = 0, pending = 0;

  g_object_get (p->server, "max-places", &max_places, "max-places-per-connection", &per_conn,
                "max-pending-connections", &pending, NULL);
  g_assert_cmpuint (max_places, ==, DP_DEFAULT_MAX_PLACES);
  g_assert_cmpuint (per_conn, ==, DP_DEFAULT_MAX_PLACES_PER_CONNECTION);
  g_assert_cmpuint (pending, ==, DP_DEFAULT_MAX_PENDING_CONNECTIONS);

  g_object_set (p->server, "max-places", 3, "max-places-per-connection", 2, NULL);
  a1 = launch_on (p->node);
  a2 = launch_on (p->node);
  expect_limit (p->node, "this connection has started 2 places, its limit "
                         "(max-places-per-connection 2, dp-node --max-places-per-connection)");
  /* another connection may still start one: the node's third */
  other = dp_remote_node_connect (p->master, "127.0.0.1", dp_node_get_port (p->server), NULL, &error);
  g_assert_no_error (error);
  b1 = launch_on (other);
  expect_limit (other, "this node runs 3 places, its limit (max-places 3, dp-node --max-places)");
  dp_test_assert_echoes (b1, "b1 still runs");

  /* a place that has ended counts no more (the node's count drops in its
   * router, which tells us with place-exited) */
  dp_remote_connection_close (a1);
  g_assert_cmpint (dp_remote_connection_wait (a1), ==, DP_PLACE_EXIT_RETURNED);
  while (dp_node_get_n_places (p->server) > 2)
    g_main_context_iteration (NULL, TRUE);
  a3 = launch_on (p->node);
  dp_test_assert_echoes (a3, "room again");
  dp_test_assert_echoes (a2, "a2 still runs");
}

/* isolated places count as places, and stop counting when they end */
static void
test_limit_isolated_places (Peer *p, gconstpointer data)
{
  g_object_set (p->server, "max-places-per-connection", 1, NULL);
  for (int round = 0; round < 3; round++)
    {
      g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", DP_LAUNCH_ISOLATE, NULL);

      dp_test_assert_echoes (rc, "isolated, within its limit");
      expect_limit (p->node, "this connection has started 1 places, its limit "
                             "(max-places-per-connection 1, dp-node --max-places-per-connection)");
      dp_remote_connection_close (rc);
      g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_RETURNED);
      while (dp_node_get_n_places (p->server) > 0)
        g_main_context_iteration (NULL, TRUE);
    }
}


/* Memory held for a frame follows the bytes received, not the length its
 * header claims: 8 authenticated peers claim 200 MiB each (under a raised
 * max-frame-size) and send 4 KiB; this process (which runs the node) grows
 * by far less than one claim. The address space is measured as well as
 * the resident set: a buffer allocated for the claim would be mapped at
 * once, though its pages are touched only as bytes arrive. */
static void
test_limit_big_frame_memory (Peer *p, gconstpointer data)
{
  g_autoptr(GBytes) secret = dp_node_get_secret (p->server, NULL);
  g_autoptr(DpRemoteConnection) busy = launch (p, "echo", "echo", 0, NULL);
  const guint32 claim = 200 * 1024 * 1024;
  GSocketConnection *peers[8];
  gint64 size0, rss0, size1, rss1;
  guint8 body[4096] = { 0, };

  g_object_set (p->server, "max-frame-size", (guint64) 256 * 1024 * 1024, NULL);
  dp_test_assert_echoes (busy, "before");
  size0 = dp_test_proc_status_kib (0, "VmSize");
  rss0 = dp_test_proc_status_kib (0, "VmRSS");
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    {
      DpFrameHeader h = { claim, DP_FRAME_DATA, 2, 1, 0, 0 };
      guint8 hdr[DP_FRAME_HEADER_LEN];

      peers[i] = dp_test_raw_connect (dp_node_get_port (p->server));
      dp_test_raw_handshake (peers[i], secret);
      _dp_frame_header_pack (&h, hdr);
      dp_test_raw_write (peers[i], hdr, sizeof hdr);
      memcpy (body, "ay\0\0\0\0\0\0", 8);
      dp_test_raw_write (peers[i], body, sizeof body);
    }
  /* what they wrote is in the node's socket buffers before this request
   * is: once it is answered, the router has read theirs */
  dp_test_assert_echoes (busy, "after");
  size1 = dp_test_proc_status_kib (0, "VmSize");
  rss1 = dp_test_proc_status_kib (0, "VmRSS");
  g_test_message ("8 frames claiming %u MiB each, 4 KiB sent: address space %+" G_GINT64_FORMAT
                  " KiB, resident %+" G_GINT64_FORMAT " KiB", claim >> 20,
                  size1 - size0, rss1 - rss0);
  g_assert_cmpint (size1 - size0, <, claim / 1024);
  g_assert_cmpint (rss1 - rss0, <, claim / 1024 / 4);
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    g_object_unref (peers[i]);
  assert_node_serves (p);
}

/* The default maximum frame (64 MiB): a header over it closes only its
 * connection */
static void
test_limit_frame_size (Peer *p, gconstpointer data)
{
  g_autoptr(GBytes) secret = dp_node_get_secret (p->server, NULL);
  g_autoptr(GSocketConnection) c = dp_test_raw_connect (dp_node_get_port (p->server));
  DpFrameHeader h = { DP_DEFAULT_MAX_FRAME_SIZE, DP_FRAME_DATA, 2, 1, 0, 0 };
  guint8 hdr[DP_FRAME_HEADER_LEN];

  g_assert_cmpuint (DP_DEFAULT_MAX_FRAME_SIZE, ==, 64 * 1024 * 1024);
  g_assert_cmpuint (dp_node_get_max_frame_size (p->server), ==, DP_DEFAULT_MAX_FRAME_SIZE);
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                      "connection from 127.0.0.1:* closed: bad frame from 127.0.0.1:*: "
                      "frame of 67108864 bytes is over the maximum of 67108864");
  dp_test_raw_handshake (c, secret);
  _dp_frame_header_pack (&h, hdr);
  dp_test_raw_write (c, hdr, sizeof hdr);
  dp_test_expect_dropped (c);
  assert_node_serves (p);
}

/* Each side says in its HELLO the largest frame it accepts (here: the
 * node 64 KiB, the master 32 KiB) */
static void
setup_small_frames (Peer *p, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  p->server = dp_test_new_router ();
  p->master = dp_test_new_router ();
  dp_node_set_max_frame_size (p->server, 64 * 1024);
  dp_node_set_max_frame_size (p->master, 32 * 1024);
  g_assert_true (dp_node_listen (p->server, "127.0.0.1", 0, &error));
  p->node = dp_remote_node_connect (p->master, "127.0.0.1", dp_node_get_port (p->server),
                                    NULL, &error);
  g_assert_no_error (error);
}

/* A message over the peer's maximum frame is refused by its sender, with
 * a warning naming the limit, and the connection stays up: the peer would
 * have closed it, and everything else on it with it. */
static void
test_limit_frame_size_told (Peer *p, gconstpointer data)
{
  g_autoptr(DpRemoteConnection) rc = launch (p, "echo", "echo", 0, NULL);
  g_autoptr(GVariant) big = g_variant_ref_sink (zeros_variant (100 * 1024));
  g_autoptr(GVariant) middle = g_variant_ref_sink (zeros_variant (48 * 1024));

  /* the master's own message: put says FALSE, the place never sees it */
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                      "a frame of * bytes (type 4, channel *) for 127.0.0.1:* was not sent: it is over "
                      "127.0.0.1:*'s maximum frame size of 65536 bytes (DpNode:max-frame-size, *)");
  g_assert_false (dp_remote_connection_put (rc, big));
  dp_test_assert_expected_logs ();
  dp_test_assert_echoes (rc, "still up");

  /* the place's reply, over the master's maximum: the place's put fails,
   * the node says why, and the place serves on */
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                      "a frame of * bytes (type 4, channel *) for 127.0.0.1:* was not sent: it is over "
                      "127.0.0.1:*'s maximum frame size of 32768 bytes (DpNode:max-frame-size, *)");
  g_assert_true (dp_remote_connection_put (rc, middle));
  dp_test_assert_expected_logs ();
  dp_test_assert_echoes (rc, "and still up");
  g_assert_true (dp_remote_node_is_alive (p->node));
}

/* Reads the node's proof: once it has come, the node has taken @c as
 * authenticated (in the same router callback). */
static void
finish_handshake (GSocketConnection *c, GBytes *secret)
{
  guint8 proof[DP_AUTH_LEN];
  gsize got = 0;
  g_autoptr(GError) error = NULL;

  dp_test_raw_handshake (c, secret);
  g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (c)), proof, sizeof proof,
                           &got, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got, ==, sizeof proof);
}

/* max-pending-connections: with 4 connections that say nothing, a fifth
 * is closed at once (logged once, not per connection), a master too; the
 * authenticated connection is served meanwhile; once one of the four has
 * authenticated, a master gets in. */
static void
test_limit_pending_connections (Peer *p, gconstpointer data)
{
  g_autoptr(GBytes) secret = dp_node_get_secret (p->server, NULL);
  guint16 port = dp_node_get_port (p->server);
  GSocketConnection *silent[4];
  g_autoptr(GError) error = NULL;

  g_object_set (p->server, "max-pending-connections", 4, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (silent); i++)
    silent[i] = dp_test_raw_connect (port);
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                      "refused 1 connection(s): 4 are still in their handshake "
                      "(max-pending-connections 4, dp-node --max-pending-connections)");
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(GSocketConnection) extra = dp_test_raw_connect (port);
      dp_test_expect_dropped (extra);
    }
  {
    g_autoptr(DpRemoteNode) refused = dp_remote_node_connect (p->master, "127.0.0.1", port, NULL, &error);

    g_assert_null (refused);
    g_test_message ("a master beyond the limit: %s", error->message);
    g_assert_error (error, DP_ERROR, DP_ERROR_CONNECTION_CLOSED);
    g_clear_error (&error);
  }
  dp_test_assert_expected_logs ();
  assert_node_serves (p);

  finish_handshake (silent[0], secret);
  {
    g_autoptr(DpRemoteNode) admitted = dp_remote_node_connect (p->master, "127.0.0.1", port, NULL, &error);
    g_autoptr(DpRemoteConnection) rc = NULL;

    g_assert_no_error (error);
    rc = launch_on (admitted);
    dp_test_assert_echoes (rc, "admitted");
  }
  for (guint i = 0; i < G_N_ELEMENTS (silent); i++)
    g_object_unref (silent[i]);
}

int
main (int argc, char **argv)
{
  static const gdouble no_heartbeat = 0.0;
  gint64 t0;
  int status;

  dp_test_init (&argc, &argv);
#define ADD(path, fn) g_test_add (path, Peer, NULL, setup, fn, teardown)
  ADD ("/peer/handshake/ok", test_handshake_ok);
  g_test_add_func ("/peer/first-classes-two-threads", test_first_classes_two_threads);
  ADD ("/peer/handshake/wrong-secret", test_handshake_wrong_secret);
  ADD ("/peer/place/echo-values", test_echo_values);
  g_test_add ("/peer/place/large-message", Peer, &no_heartbeat, setup, test_large_message, teardown);
  g_test_add ("/peer/place/large-stream", Peer, NULL, setup, test_large_stream, teardown);
  ADD ("/peer/place/thunk", test_thunk);
  ADD ("/peer/place/death-after-last-message", test_death_after_last_message);
  ADD ("/peer/place/crash-ends-node", test_crash_ends_node);
  ADD ("/peer/place/isolated-crash-others-live", test_isolated_crash_others_live);
  ADD ("/peer/named/several-clients", test_named_several_clients);
  ADD ("/peer/launch-error/missing-plugin", test_launch_missing_plugin);
  ADD ("/peer/launch-error/missing-symbol", test_launch_missing_symbol);
  ADD ("/peer/launch-error/bad-abi", test_launch_bad_abi);
  ADD ("/peer/launch-error/empty-descriptor", test_launch_empty_descriptor);
  ADD ("/peer/launch-error/not-a-shared-object", test_launch_not_a_shared_object);
  ADD ("/peer/launch-error/unresolved-symbol", test_launch_unresolved_symbol);
  ADD ("/peer/launch-error/foreign-symbols", test_launch_foreign_symbols);
  ADD ("/peer/launch-error/null-thunk", test_launch_null_thunk);
  ADD ("/peer/launch-error/outside-plugin-path", test_launch_outside_plugin_path);
  ADD ("/peer/plugin/no-descriptor", test_launch_no_descriptor);
  ADD ("/peer/exit-request", test_exit_request);
  ADD ("/peer/malformed-frames", test_malformed_frames);
  ADD ("/peer/limits/places", test_limit_places);
  ADD ("/peer/limits/isolated-places", test_limit_isolated_places);
  ADD ("/peer/limits/big-frame-memory", test_limit_big_frame_memory);
  ADD ("/peer/limits/frame-size", test_limit_frame_size);
  g_test_add ("/peer/limits/frame-size-told", Peer, NULL, setup_small_frames,
              test_limit_frame_size_told, teardown);
  ADD ("/peer/limits/pending-connections", test_limit_pending_connections);
  dp_test_add_func ("/peer/flow/pair-put-blocks", test_flow_pair_put_blocks);
  dp_test_add_func ("/peer/flow/pair-both-full", test_flow_pair_both_full);
  dp_test_add_func ("/peer/flow/pair-close-releases", test_flow_pair_close_releases);
  g_test_add ("/peer/flow/echo-flood-unread", Peer, NULL, setup_flow, test_flow_echo_flood_unread, teardown);
  g_test_add ("/peer/flow/isolated-flood-unread", Peer, NULL, setup_flow, test_flow_isolated_flood_unread, teardown);
  g_test_add ("/peer/flow/request-reply-both-ways", Peer, "small", setup_flow,
              test_flow_request_reply_both_ways, teardown);
  g_test_add ("/peer/flow/both-directions-full", Peer, "small", setup_flow,
              test_flow_both_directions_full, teardown);
  g_test_add ("/peer/flow/put-async", Peer, "small", setup_flow, test_flow_put_async, teardown);
  dp_test_add_func ("/peer/flow/pair-put-many", test_flow_pair_put_many);
  g_test_add ("/peer/flow/put-many-bounded", Peer, "small", setup_flow, test_flow_put_many_bounded, teardown);
  ADD ("/peer/place/batches", test_place_batches);
#undef ADD
  t0 = g_get_monotonic_time ();
  status = g_test_run ();
  g_test_message ("the in-process suite ran in %.1f ms", (g_get_monotonic_time () - t0) / 1000.0);
  return status;
}
