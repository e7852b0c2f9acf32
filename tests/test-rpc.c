/* test-rpc.c: RPC servers (dp_rpc_serve, dp-codegen's stubs) and their
 * clients: the seed's define-remote-server as it is meant to behave
 *
 * In-process tests run the generated server "everything"
 * (plugins/everything.json) on one end of a place-channel pair, in a
 * thread; the node tests run it, and the seed's bank and tuple-server
 * (samples/servers), in a dp-node.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"
#include "everything.h"
#include "bank.h"
#include "tuple-server.h"
#include "sexp.h"

#include <signal.h>
#include <string.h>

/* ---- an in-process server ---- */

typedef struct {
  DpPlaceChannel *client;   /* our end */
  DpPlaceChannel *server;   /* the server's end */
  GThread        *thread;
} Local;

static gpointer
serve_thread (gpointer data)
{
  make_everything (data);
  return NULL;
}

static void
local_start (Local *l)
{
  dp_place_channel_new_pair (&l->client, &l->server);
  l->thread = g_thread_new ("everything", serve_thread, l->server);
}

static void
local_stop (Local *l)
{
  dp_place_channel_close (l->client);
  g_thread_join (l->thread);
  g_clear_object (&l->client);
  g_clear_object (&l->server);
}

#define CH(l) DP_CHANNEL ((l)->client)

/* every type dp-codegen supports goes there and back unchanged */
static void
test_types (void)
{
  Local l;
  g_autoptr(GError) error = NULL;
  const char *strv[] = { "a", "", "ü", NULL };
  const char *objv[] = { "/a", "/b/c", NULL };

  local_start (&l);
#define ECHO_BASIC(suffix, type, value, cmp)                                    \
  {                                                                             \
    type out = 0;                                                               \
    g_assert_true (everything_call_echo_##suffix##_sync (CH (&l), value, &out,  \
                                                         NULL, &error));        \
    g_assert_no_error (error);                                                  \
    cmp (out, ==, value);                                                       \
  }
  ECHO_BASIC (b, gboolean, TRUE, g_assert_cmpint)
  ECHO_BASIC (y, guchar, 250, g_assert_cmpuint)
  ECHO_BASIC (n, gint16, -32000, g_assert_cmpint)
  ECHO_BASIC (q, guint16, 65000, g_assert_cmpuint)
  ECHO_BASIC (i, gint32, G_MININT32, g_assert_cmpint)
  ECHO_BASIC (u, guint32, G_MAXUINT32, g_assert_cmpuint)
  ECHO_BASIC (x, gint64, G_MININT64, g_assert_cmpint)
  ECHO_BASIC (t, guint64, G_MAXUINT64, g_assert_cmpuint)
  ECHO_BASIC (d, gdouble, -1.5e300, g_assert_cmpfloat)
#undef ECHO_BASIC
  {
    g_autofree char *s = NULL, *o = NULL, *g = NULL, *ay = NULL;
    g_auto(GStrv) as = NULL, ao = NULL;

    g_assert_true (everything_call_echo_s_sync (CH (&l), "grüß dich", &s, NULL, &error));
    g_assert_cmpstr (s, ==, "grüß dich");
    g_assert_true (everything_call_echo_o_sync (CH (&l), "/org/libdp/x", &o, NULL, &error));
    g_assert_cmpstr (o, ==, "/org/libdp/x");
    g_assert_true (everything_call_echo_g_sync (CH (&l), "a{sv}(xi)", &g, NULL, &error));
    g_assert_cmpstr (g, ==, "a{sv}(xi)");
    g_assert_true (everything_call_echo_ay_sync (CH (&l), "bytes", &ay, NULL, &error));
    g_assert_cmpstr (ay, ==, "bytes");
    g_assert_true (everything_call_echo_as_sync (CH (&l), strv, &as, NULL, &error));
    g_assert_true (g_strv_equal ((const char *const *) as, strv));
    g_assert_true (everything_call_echo_ao_sync (CH (&l), objv, &ao, NULL, &error));
    g_assert_true (g_strv_equal ((const char *const *) ao, objv));
    g_assert_no_error (error);
  }
  {
    GVariant *values[] = {
      g_variant_new_parsed ("('user0', 100)"),                  /* v */
      g_variant_new_parsed ("{'a': <1>, 'b': <'two'>}"),       /* a{sv} */
      g_variant_new_parsed ("('user0', int64 100)"),           /* (sx) */
      g_variant_new_parsed ("[int64 1, 2, 3]"),                /* ax */
      g_variant_new_parsed ("@mv just <false>"),               /* mv */
    };
    gboolean (*calls[]) (DpChannel *, GVariant *, GVariant **, GCancellable *, GError **) = {
      everything_call_echo_v_sync, everything_call_echo_asv_sync, everything_call_echo_tuple_sync,
      everything_call_echo_ax_sync, everything_call_echo_mv_sync,
    };

    for (guint i = 0; i < G_N_ELEMENTS (values); i++)
      {
        g_autoptr(GVariant) in = g_variant_ref_sink (values[i]);
        g_autoptr(GVariant) out = NULL;

        g_assert_true (calls[i] (CH (&l), in, &out, NULL, &error));
        g_assert_no_error (error);
        g_assert_true (g_variant_equal (in, out));
      }
  }
  {
    g_autoptr(GVariant) out = NULL;
    g_autoptr(GVariant) want = g_variant_ref_sink (
      g_variant_new_parsed ("(true, byte 7, int16 -7, uint16 7, -70000, uint32 70000, int64 -7,"
                            " uint64 7, 0.5, 's', ['x', 'y'], <int64 9>)"));
    const char *xy[] = { "x", "y", NULL };

    g_assert_true (everything_call_echo_many_sync (CH (&l), TRUE, 7, -7, 7, -70000, 70000, -7, 7, 0.5,
                                                   "s", xy, g_variant_new_int64 (9), &out,
                                                   NULL, &error));
    g_assert_no_error (error);
    g_assert_true (g_variant_equal (out, want));
    g_assert_true (everything_call_nothing_sync (CH (&l), NULL, &error));
    g_assert_no_error (error);
  }
  local_stop (&l);
}

/* a handler's GError arrives as itself; bad requests are error replies and
 * the server serves on */
static void
test_errors (void)
{
  Local l;
  GError *error = NULL;
  gboolean b = TRUE;
  gint64 x = 0;
  g_autoptr(GVariant) raw = NULL;

  local_start (&l);
  g_assert_false (everything_call_fail_sync (CH (&l), 7, "no such account", &b, NULL, &error));
  g_assert_error (error, g_quark_from_string ("everything-test-error"), 7);
  g_assert_cmpstr (error->message, ==, "no such account");
  g_clear_error (&error);

  g_assert_null (dp_rpc_call_sync (CH (&l), "no-such-method", g_variant_new ("()"), NULL, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_UNKNOWN_METHOD);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* a wrong type, one argument too few, one too many */
  g_assert_null (dp_rpc_call_sync (CH (&l), "echo-x", g_variant_new ("(s)", "ten"), NULL, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "takes (x), not (s)"));
  g_clear_error (&error);
  g_assert_null (dp_rpc_call_sync (CH (&l), "echo-x", g_variant_new ("()"), NULL, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  g_assert_null (dp_rpc_call_sync (CH (&l), "echo-x", g_variant_new ("(xx)", (gint64) 1, (gint64) 2),
                                   NULL, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  /* a cast is not called for; a result that is not of the declared type */
  g_assert_null (dp_rpc_call_sync (CH (&l), "bump", g_variant_new ("()"), NULL, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_UNKNOWN_METHOD);
  g_clear_error (&error);
  g_assert_null (dp_rpc_call_sync (CH (&l), "bad-result", g_variant_new ("()"), NULL, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  /* the client checks the reply's type too */
  g_assert_null (dp_rpc_call_sync (CH (&l), "echo-x", g_variant_new ("(x)", (gint64) 1),
                                   G_VARIANT_TYPE_STRING, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  /* not a request at all: an error reply with id 0 */
  dp_place_channel_put (l.client, g_variant_new_string ("hello?"));
  raw = dp_place_channel_get (l.client);
  g_assert_true (g_variant_is_of_type (raw, G_VARIANT_TYPE ("(yusv)")));
  {
    guchar kind;
    guint32 id;

    g_variant_get (raw, "(yu&sv)", &kind, &id, NULL, NULL);
    g_assert_cmpint (kind, ==, 'e');
    g_assert_cmpuint (id, ==, 0);
  }
  /* and it serves on */
  g_assert_true (everything_call_echo_x_sync (CH (&l), 42, &x, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (x, ==, 42);
  local_stop (&l);
}

typedef struct {
  DpChannel *ch;
  gint64     base;
  guint      n;
} CallerData;

static gpointer
caller_thread (gpointer data)
{
  CallerData *cd = data;

  for (guint i = 0; i < cd->n; i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 out = -1;

      g_assert_true (everything_call_echo_x_sync (cd->ch, cd->base + i, &out, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (out, ==, cd->base + i);
    }
  return NULL;
}

typedef struct {
  guint pending;
  guint n_ok;
} AsyncState;

typedef struct {
  AsyncState *st;
  gint64      want;
} AsyncCall;

static void
echo_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  AsyncCall *ac = data;
  g_autoptr(GError) error = NULL;
  gint64 out = -1;

  g_assert_true (everything_call_echo_x_finish (DP_CHANNEL (source), &out, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (out, ==, ac->want);
  ac->st->n_ok++;
  ac->st->pending--;
  g_free (ac);
}

/* several calls in flight on one channel, from threads and async: each
 * caller gets its own reply */
static void
test_in_flight (void)
{
  Local l;
  GThread *threads[6];
  CallerData cds[G_N_ELEMENTS (threads)];
  AsyncState st = { 0, 0 };
  const guint n_async = 500;

  local_start (&l);
  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    {
      cds[t] = (CallerData) { CH (&l), (gint64) t * 1000000, 2000 };
      threads[t] = g_thread_new ("caller", caller_thread, &cds[t]);
    }
  for (guint i = 0; i < n_async; i++)
    {
      AsyncCall *ac = g_new (AsyncCall, 1);

      ac->st = &st;
      ac->want = -(gint64) i;
      st.pending++;
      everything_call_echo_x_async (CH (&l), ac->want, NULL, echo_done, ac);
    }
  while (st.pending > 0)
    g_main_context_iteration (NULL, TRUE);
  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    g_thread_join (threads[t]);
  g_assert_cmpuint (st.n_ok, ==, n_async);
  local_stop (&l);
}

/* casts get no reply and never wait for one; an unknown cast is dropped
 * and the server serves on */
static void
test_casts (void)
{
  Local l;
  g_autoptr(GError) error = NULL;
  gint64 count = -1;

  local_start (&l);
  for (guint i = 0; i < 1000; i++)
    g_assert_true (everything_cast_bump (CH (&l), &error));
  g_assert_true (everything_cast_bump_by (CH (&l), 10, &error));
  g_assert_true (dp_rpc_cast (CH (&l), "no-such-cast", g_variant_new ("()"), &error));
  g_assert_true (dp_rpc_cast (CH (&l), "bump-by", g_variant_new ("(s)", "x"), &error));
  g_assert_no_error (error);
  g_assert_true (everything_call_count_sync (CH (&l), &count, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count, ==, 1010);
  /* nothing came back for the casts: the channel is empty */
  g_assert_null (dp_place_channel_try_get (l.client));
  local_stop (&l);
}

static gpointer
cancel_when_asked (gpointer data)
{
  DpPlaceChannel *server_end = ((gpointer *) data)[0];
  GCancellable *cancellable = ((gpointer *) data)[1];
  g_autoptr(GVariant) request = dp_place_channel_get (server_end);   /* the call is out */

  g_assert_nonnull (request);
  g_cancellable_cancel (cancellable);
  return NULL;
}

/* any call that is to fail: its error goes to *data */
static void
call_failed_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(GVariant) r = dp_rpc_call_finish (DP_CHANNEL (source), result, data);

  g_assert_null (r);
}

/* a cancelled call returns G_IO_ERROR_CANCELLED, sync or async, before or
 * while it waits; a closed channel fails the calls in flight */
static void
test_cancel_and_close (void)
{
  DpPlaceChannel *a, *b;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  GError *error = NULL;
  gint64 x;
  gpointer pair[2];
  GThread *t;

  /* no server: b is read by hand */
  dp_place_channel_new_pair (&a, &b);
  pair[0] = b;
  pair[1] = cancellable;
  t = g_thread_new ("cancel", cancel_when_asked, pair);
  g_assert_false (everything_call_echo_x_sync (DP_CHANNEL (a), 1, &x, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (t);

  /* already cancelled */
  g_assert_false (everything_call_echo_x_sync (DP_CHANNEL (a), 1, &x, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  everything_call_echo_x_async (DP_CHANNEL (a), 1, cancellable, call_failed_done, &error);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* cancelled while in flight (async) */
  g_cancellable_reset (cancellable);
  everything_call_echo_x_async (DP_CHANNEL (a), 2, cancellable, call_failed_done, &error);
  {
    g_autoptr(GVariant) request = dp_place_channel_get (b);
    g_assert_nonnull (request);
  }
  g_cancellable_cancel (cancellable);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* the server's end closes under a call */
  g_clear_object (&b);
  g_assert_false (everything_call_echo_x_sync (DP_CHANNEL (a), 3, &x, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_CLOSED);
  g_clear_error (&error);
  g_object_unref (a);

  /* ... under an async call, once the server has read its request */
  dp_place_channel_new_pair (&a, &b);
  everything_call_echo_x_async (DP_CHANNEL (a), 4, NULL, call_failed_done, &error);
  {
    g_autoptr(GVariant) request = dp_place_channel_get (b);
    g_assert_nonnull (request);
  }
  g_clear_object (&b);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, DP_ERROR, DP_ERROR_CLOSED);
  g_clear_error (&error);
  g_object_unref (a);
}

/* ---- over a node ---- */

static DpRemoteNode *
spawn_node (DpNode *router)
{
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autofree char *servers = dp_test_build_path ("samples/servers");
  g_autoptr(GError) error = NULL;
  DpRemoteNode *node;

  dp_spawn_options_add_plugin_dir (opts, servers);
  /* what the places print comes as DpRemoteNode::output (our stdout is TAP) */
  dp_spawn_options_set_output (opts, DP_SPAWN_OUTPUT_DISCARD);
  node = dp_remote_node_spawn (router, "localhost", 0, opts, NULL, &error);
  g_assert_no_error (error);
  return node;
}

typedef struct {
  GPtrArray *records;
} LogSeen;

static void
on_log (DpNode     *router,
        const char *from_node,
        const char *place,
        const char *severity,
        const char *message,
        gpointer    data)
{
  GPtrArray *records = data;

  g_ptr_array_add (records, g_strdup_printf ("%s %s", severity, message));
}

/* log-to-parent from a handler reaches the root node as a log record,
 * never as a reply (the seed returned it as the reply: E3) */
static void
test_node_log (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = spawn_node (router);
  g_autoptr(DpRemoteConnection) rc =
    dp_remote_node_launch_place (node, "everything", EVERYTHING_PLACE_SYMBOL, DP_LAUNCH_NONE, NULL);
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  g_signal_connect (router, "log", G_CALLBACK (on_log), records);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("record %u", i);
      g_autofree char *out = NULL;
      gint64 x = 0;

      g_assert_true (everything_call_log_sync (DP_CHANNEL (rc), text, &out, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (out, ==, text);
      g_assert_true (everything_call_echo_x_sync (DP_CHANNEL (rc), i, &x, NULL, &error));
      g_assert_cmpint (x, ==, i);
    }
  while (records->len < 3)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (records->pdata[0], ==, "debug record 0");
  g_assert_cmpstr (records->pdata[1], ==, "debug record 1");
  g_assert_cmpstr (records->pdata[2], ==, "debug record 2");
  dp_remote_node_terminate (node);
  g_assert_true (dp_remote_node_wait_for_die (node, 30 * G_USEC_PER_SEC));
}

/* "blocking in PID": the pid of the server blocked in its handler */
static void
on_block_log (DpNode     *router,
              const char *from_node,
              const char *place,
              const char *severity,
              const char *message,
              gpointer    data)
{
  gint64 *pid = data;

  if (g_str_has_prefix (message, "blocking in "))
    *pid = g_ascii_strtoll (message + strlen ("blocking in "), NULL, 10);
}

static gpointer
call_block_thread (gpointer data)
{
  GError *error = NULL;
  gboolean out;

  g_assert_false (everything_call_block_sync (data, &out, NULL, &error));
  return error;
}

/* Kills the server once it blocks in a handler (it says so with its pid:
 * an isolated place has a process of its own) */
static void
kill_blocked_server (gint64 *pid)
{
  while (*pid == 0)
    g_main_context_iteration (NULL, TRUE);
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                      "*isolated place make_everything * exited: killed by signal 9*only its process died");
  g_assert_cmpint (kill ((pid_t) *pid, SIGKILL), ==, 0);
  *pid = 0;
}

static void
assert_died (const GError *error)
{
  g_assert_error (error, DP_ERROR, DP_ERROR_PLACE_FAILED);
  g_assert_nonnull (strstr (error->message, "the server place died ("));
  g_assert_nonnull (strstr (error->message, "it is being restarted"));
}

/* A server place that dies under calls (killed in a handler) and is
 * restarted: the calls in flight fail with DP_ERROR_PLACE_FAILED, whoever
 * reads the channel (a sync caller blocked in its get on another thread, or
 * the reader thread of async calls); the calls after the restart work. */
static void
test_node_server_dies (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = spawn_node (router);
  g_autoptr(DpRemoteConnection) rc =
    dp_remote_node_launch_place (node, "everything", EVERYTHING_PLACE_SYMBOL,
                                 DP_LAUNCH_ISOLATE | DP_LAUNCH_RESTART_ON_EXIT, NULL);
  DpChannel *ch = DP_CHANNEL (rc);
  GError *sync_error = NULL, *async_error = NULL;
  g_autoptr(GError) error = NULL;
  gint64 pid = 0, x = 0;
  GThread *t;

  g_signal_connect (router, "log", G_CALLBACK (on_block_log), &pid);

  /* a sync call blocked in its get on another thread (it reads for
   * everybody), and an async call queued behind it */
  t = g_thread_new ("block", call_block_thread, ch);
  while (pid == 0)
    g_main_context_iteration (NULL, TRUE);
  everything_call_echo_x_async (ch, 7, NULL, call_failed_done, &async_error);
  kill_blocked_server (&pid);
  sync_error = g_thread_join (t);
  assert_died (sync_error);
  while (async_error == NULL)
    g_main_context_iteration (NULL, TRUE);
  assert_died (async_error);
  g_clear_error (&sync_error);
  g_clear_error (&async_error);

  /* the next call goes to the new incarnation */
  g_assert_true (everything_call_echo_x_sync (ch, 8, &x, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (x, ==, 8);

  /* an async call alone: the reader thread gets the news */
  everything_call_block_async (ch, NULL, call_failed_done, &async_error);
  kill_blocked_server (&pid);
  while (async_error == NULL)
    g_main_context_iteration (NULL, TRUE);
  assert_died (async_error);
  g_clear_error (&async_error);
  g_assert_true (everything_call_echo_x_sync (ch, 9, &x, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (x, ==, 9);

  dp_test_assert_expected_logs ();
  g_signal_handlers_disconnect_by_func (router, on_block_log, &pid);
  dp_remote_node_terminate (node);
  g_assert_true (dp_remote_node_wait_for_die (node, 30 * G_USEC_PER_SEC));
}

/* "(call) ==> result": the seed's distributed test prints this; the part
 * after ==> is compared */
static char *
line (const char *call,
      gboolean    ok,
      GVariant   *result,
      GError     *error)
{
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  g_assert_true (ok);
  text = sample_sexp (result);
  return g_strdup_printf ("%s ==> %s", call, text);
}

static void
on_output (DpRemoteNode *node,
           const char   *text,
           gpointer      data)
{
  g_ptr_array_add (data, g_strdup (text));
}

typedef struct {
  DpChannel  *ch;
  const char *prefix;
} TupleClient;

/* sets and gets keys of its own through its own connection, checking
 * every reply */
static gpointer
tuple_client_thread (gpointer data)
{
  TupleClient *tc = data;

  for (gint64 i = 0; i < 300; i++)
    {
      g_autofree char *key = g_strdup_printf ("%s%" G_GINT64_FORMAT, tc->prefix, i);
      g_autoptr(GVariant) set = NULL;
      g_autoptr(GVariant) got = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_true (tuple_server_call_set_sync (tc->ch, key, g_variant_new_int64 (i), &set, NULL, &error));
      g_assert_true (tuple_server_call_get_sync (tc->ch, key, &got, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (set), ==, i);
      g_assert_cmpint (g_variant_get_int64 (got), ==, i);
    }
  return NULL;
}

/* T1: the seed's distributed-places test (named tuple-server, private
 * bank): nine results in order, and the casts' two lines on the node */
static void
test_node_distributed (void)
{
  static const char *expected[] = {
    "100", "200", "100", "200", "100", "200", "(created user1)", "(ok 10)", "(ok 5)",
  };
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = spawn_node (router);
  g_autoptr(DpRemoteConnection) ts =
    dp_remote_node_launch_place (node, "tuple-server", TUPLE_SERVER_PLACE_SYMBOL, DP_LAUNCH_NONE,
                                 TUPLE_SERVER_SERVER_NAME);
  g_autoptr(DpRemoteConnection) bank =
    dp_remote_node_launch_place (node, "bank", BANK_PLACE_SYMBOL, DP_LAUNCH_NONE, NULL);
  g_autoptr(DpRemoteConnection) c = NULL, d = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) output = g_ptr_array_new_with_free_func (g_free);
  GError *error = NULL;
  GVariant *r = NULL;
  gboolean ok;

  g_signal_connect (node, "output", G_CALLBACK (on_output), output);
  g_assert_true (dp_remote_connection_wait_ready (ts, NULL, &error));
  c = dp_connect_to_named_place (node, TUPLE_SERVER_SERVER_NAME);
  d = dp_connect_to_named_place (node, TUPLE_SERVER_SERVER_NAME);
  g_assert_true (tuple_server_cast_hello (DP_CHANNEL (c), &error));
  g_assert_true (tuple_server_cast_hello (DP_CHANNEL (d), &error));

#define CALL(desc, expr)                                  \
  ok = (expr);                                            \
  g_ptr_array_add (lines, line (desc, ok, r, error));     \
  g_clear_pointer (&r, g_variant_unref);
  CALL ("(tuple-server-set c \"user0\" 100)",
        tuple_server_call_set_sync (DP_CHANNEL (c), "user0", g_variant_new_int64 (100), &r, NULL, &error));
  CALL ("(tuple-server-set d \"user2\" 200)",
        tuple_server_call_set_sync (DP_CHANNEL (d), "user2", g_variant_new_int64 (200), &r, NULL, &error));
  CALL ("(tuple-server-get c \"user0\")",
        tuple_server_call_get_sync (DP_CHANNEL (c), "user0", &r, NULL, &error));
  CALL ("(tuple-server-get d \"user2\")",
        tuple_server_call_get_sync (DP_CHANNEL (d), "user2", &r, NULL, &error));
  CALL ("(tuple-server-get d \"user0\")",
        tuple_server_call_get_sync (DP_CHANNEL (d), "user0", &r, NULL, &error));
  CALL ("(tuple-server-get c \"user2\")",
        tuple_server_call_get_sync (DP_CHANNEL (c), "user2", &r, NULL, &error));
  CALL ("(bank-new-account bank \"user1\")",
        bank_call_new_account_sync (DP_CHANNEL (bank), "user1", &r, NULL, &error));
  CALL ("(bank-add bank \"user1\" 10)",
        bank_call_add_sync (DP_CHANNEL (bank), "user1", 10, &r, NULL, &error));
  CALL ("(bank-removeM bank \"user1\" 5)",
        bank_call_removem_sync (DP_CHANNEL (bank), "user1", 5, &r, NULL, &error));
#undef CALL

  g_assert_cmpuint (lines->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < lines->len; i++)
    {
      const char *after = strstr (lines->pdata[i], " ==> ");

      g_test_message ("%s", (char *) lines->pdata[i]);
      g_assert_nonnull (after);
      g_assert_cmpstr (after + 5, ==, expected[i]);
    }

  /* both clients at once: each gets its own replies, the state is shared */
  {
    TupleClient tcs[] = { { DP_CHANNEL (c), "c-" }, { DP_CHANNEL (d), "d-" } };
    GThread *threads[G_N_ELEMENTS (tcs)];

    for (guint i = 0; i < G_N_ELEMENTS (tcs); i++)
      threads[i] = g_thread_new ("tuple-client", tuple_client_thread, &tcs[i]);
    for (guint i = 0; i < G_N_ELEMENTS (tcs); i++)
      g_thread_join (threads[i]);
    g_assert_true (tuple_server_call_get_sync (DP_CHANNEL (c), "d-299", &r, NULL, &error));
    g_assert_cmpint (g_variant_get_int64 (r), ==, 299);
    g_clear_pointer (&r, g_variant_unref);
  }

  while (output->len < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (output->pdata[0], ==, "Hello from define-cast");
  g_assert_cmpstr (output->pdata[1], ==, "Hello from define-cast");
  dp_remote_node_send_exit (node);
  g_assert_true (dp_remote_node_wait_for_die (node, 30 * G_USEC_PER_SEC));
}

static char *
bank_sexp (gboolean ok,
           GVariant *r,
           GError   *error)
{
  g_assert_no_error (error);
  g_assert_true (ok);
  return sample_sexp (r);
}

/* T3: the bank's and the tuple server's full semantics */
static void
test_node_servers (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = spawn_node (router);
  g_autoptr(DpRemoteConnection) ts =
    dp_remote_node_launch_place (node, "tuple-server", TUPLE_SERVER_PLACE_SYMBOL, DP_LAUNCH_NONE,
                                 TUPLE_SERVER_SERVER_NAME);
  g_autoptr(DpRemoteConnection) bank_rc =
    dp_remote_node_launch_place (node, "bank", BANK_PLACE_SYMBOL, DP_LAUNCH_NONE, NULL);
  DpChannel *bank = DP_CHANNEL (bank_rc);
  GError *error = NULL;
  GVariant *r = NULL;
  gboolean ok;
  struct { const char *op; const char *who; gint64 amount; const char *want; } steps[] = {
    { "new",    "ann",  0, "(created ann)" },
    { "new",    "ann",  0, "(already-exists)" },        /* a balance of 0 is an account */
    { "remove", "ann",  0, "(ok 0)" },
    { "remove", "ann",  1, "(insufficient-funds 0)" },
    { "add",    "ann",  7, "(ok 7)" },
    { "remove", "ann",  7, "(ok 0)" },
    { "new",    "ann",  0, "(already-exists)" },
    { "add",    "bob",  1, "(invalid-account bob)" },
    { "remove", "bob",  1, "(invalid-account bob)" },
    { "add",    "ann", -3, "(ok -3)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autofree char *got = NULL;

      if (g_str_equal (steps[i].op, "new"))
        ok = bank_call_new_account_sync (bank, steps[i].who, &r, NULL, &error);
      else if (g_str_equal (steps[i].op, "add"))
        ok = bank_call_add_sync (bank, steps[i].who, steps[i].amount, &r, NULL, &error);
      else
        ok = bank_call_removem_sync (bank, steps[i].who, steps[i].amount, &r, NULL, &error);
      got = bank_sexp (ok, r, error);
      g_clear_pointer (&r, g_variant_unref);
      g_assert_cmpstr (got, ==, steps[i].want);
    }

  /* get of a missing key is false; a value of any type is kept */
  g_assert_true (tuple_server_call_get_sync (DP_CHANNEL (ts), "nobody", &r, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (r, G_VARIANT_TYPE_BOOLEAN));
  g_assert_false (g_variant_get_boolean (r));
  g_clear_pointer (&r, g_variant_unref);
  g_assert_true (tuple_server_call_set_sync (DP_CHANNEL (ts), "k", g_variant_new_parsed ("['a', 'b']"),
                                             &r, NULL, &error));
  g_clear_pointer (&r, g_variant_unref);
  g_assert_true (tuple_server_call_get_sync (DP_CHANNEL (ts), "k", &r, NULL, &error));
  g_assert_no_error (error);
  {
    g_autoptr(GVariant) want = g_variant_ref_sink (g_variant_new_parsed ("['a', 'b']"));
    g_assert_true (g_variant_equal (r, want));
  }
  g_clear_pointer (&r, g_variant_unref);
  dp_remote_node_send_exit (node);
  g_assert_true (dp_remote_node_wait_for_die (node, 30 * G_USEC_PER_SEC));
}

#if !defined(__SANITIZE_ADDRESS__)   /* see main() */
#define FLAT_TOTAL    1000000
#define FLAT_WARMUP   100000
/* one call (a round trip) in every FLAT_CALL_EVERY requests, the rest
 * casts: every path of the server is taken, and the casts keep the run
 * short (a put waits only while the channel is full; round trips are what
 * a slow or loaded machine pays for) */
#define FLAT_CALL_EVERY 32
/* The smallest leak a request could make is one allocation, and malloc's
 * smallest chunk is 32 bytes. The calls are the rarer path: the bound is
 * half of what one such leak per call would add after the warm-up, so a
 * leak on either path (per call, or per cast: 31 times as many) is caught,
 * with a margin of 2 for the allocator's own slack. (Racket kept ~48 bytes
 * per request.) */
#define FLAT_LEAK_BYTES 32

/* @n requests; returns how many casts were among them */
static gint64
flood (DpChannel *ch,
       guint      n)
{
  g_autoptr(GError) error = NULL;
  gint64 casts = 0;

  for (guint i = 0; i < n; i++)
    {
      gint64 out;

      if (i % FLAT_CALL_EVERY == FLAT_CALL_EVERY - 1)
        {
          g_assert_true (everything_call_echo_x_sync (ch, i, &out, NULL, &error));
          g_assert_cmpint (out, ==, i);
        }
      else
        {
          g_assert_true (everything_cast_bump (ch, &error));
          casts++;
        }
      g_assert_no_error (error);
    }
  return casts;
}

/* 10^6 requests: the node's memory stays flat (the seed's server kept a
 * frame per request) */
static void
test_node_flat_memory (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = spawn_node (router);
  g_autoptr(DpRemoteConnection) rc =
    dp_remote_node_launch_place (node, "everything", EVERYTHING_PLACE_SYMBOL, DP_LAUNCH_NONE, NULL);
  gint64 pid = dp_remote_node_get_pid (node);
  g_autoptr(GError) error = NULL;
  gint64 before, after, bound_kib, casts, count = -1;
  gint64 start;

  start = g_get_monotonic_time ();
  casts = flood (DP_CHANNEL (rc), FLAT_WARMUP);
  before = dp_test_proc_status_kib (pid, "VmRSS");
  casts += flood (DP_CHANNEL (rc), FLAT_TOTAL - FLAT_WARMUP);
  /* every cast was handled */
  g_assert_true (everything_call_count_sync (DP_CHANNEL (rc), &count, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count, ==, casts);
  after = dp_test_proc_status_kib (pid, "VmRSS");
  bound_kib = (gint64) (FLAT_TOTAL - FLAT_WARMUP) / FLAT_CALL_EVERY * FLAT_LEAK_BYTES / 2 / 1024;
  g_test_message ("node RSS %" G_GINT64_FORMAT " KiB after %u requests, %" G_GINT64_FORMAT
                  " KiB after %u (bound: +%" G_GINT64_FORMAT " KiB); %.1f s",
                  before, FLAT_WARMUP, after, FLAT_TOTAL, bound_kib,
                  (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpint (after - before, <, bound_kib);
  dp_remote_node_terminate (node);
  g_assert_true (dp_remote_node_wait_for_die (node, 30 * G_USEC_PER_SEC));
}
#endif

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/rpc/types", test_types);
  dp_test_add_func ("/rpc/errors", test_errors);
  dp_test_add_func ("/rpc/in-flight", test_in_flight);
  dp_test_add_func ("/rpc/casts", test_casts);
  dp_test_add_func ("/rpc/cancel-and-close", test_cancel_and_close);
  dp_test_add_func ("/rpc/node/log-to-parent", test_node_log);
  dp_test_add_func ("/rpc/node/distributed", test_node_distributed);
  dp_test_add_func ("/rpc/node/servers", test_node_servers);
  dp_test_add_func ("/rpc/node/server-dies", test_node_server_dies);
#if !defined(__SANITIZE_ADDRESS__)
  /* not in a sanitizer build: the node's RSS there includes
   * AddressSanitizer's quarantine of freed memory (LeakSanitizer checks
   * every other test's leaks instead); the plain build runs it */
  dp_test_add_func ("/rpc/node/flat-memory", test_node_flat_memory);
#endif
  return g_test_run ();
}
