/* test-async.c: the main-loop forms — async and cancellable get, wait and
 * wait-for-die; properties notified in the owner's context; the embedding
 * sample (samples/embed/) in both its forms.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"

#include <string.h>

typedef struct {
  GMainLoop *loop;
  GPtrArray *seen;         /* what happened, in order (strings) */
  GString   *states;       /* notify::state, in order: "1" "2" ... */
  guint      pending;      /* callbacks still to come */
} Run;

static void
run_init (Run *r)
{
  r->loop = g_main_loop_new (NULL, FALSE);
  r->seen = g_ptr_array_new_with_free_func (g_free);
  r->states = g_string_new (NULL);
}

static void
run_clear (Run *r)
{
  g_main_loop_unref (r->loop);
  g_ptr_array_unref (r->seen);
  g_string_free (r->states, TRUE);
}

static void
run_done (Run *r, char *what)
{
  g_ptr_array_add (r->seen, what);
  if (--r->pending == 0)
    g_main_loop_quit (r->loop);
}

static void
got (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) msg = dp_remote_connection_get_finish (DP_REMOTE_CONNECTION (source), res, &error);

  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  if (error)
    run_done (data, g_strdup_printf ("error:%s", g_quark_to_string (error->domain)));
  else if (msg)
    run_done (data, g_variant_print (msg, FALSE));
  else
    run_done (data, g_strdup ("end"));
}

static void
waited (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  DpPlaceExit exit = dp_remote_connection_wait_finish (DP_REMOTE_CONNECTION (source), res, &error);

  g_assert_no_error (error);
  run_done (data, g_strdup_printf ("wait:%s", dp_place_exit_to_string (exit)));
}

static void
on_state (GObject *obj, GParamSpec *pspec, gpointer data)
{
  Run *r = data;

  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_string_append_printf (r->states, "%d", dp_remote_connection_get_state (DP_REMOTE_CONNECTION (obj)));
}

/* Gets served in order, each with its message; a cancelled get returns
 * G_IO_ERROR_CANCELLED and takes no message; after the place ends a get
 * returns NULL without an error; wait_async says how it ended; the state is
 * notified in this (the owner's) context */
static void
test_get_wait_async (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = dp_test_spawn_node (router);
  g_autoptr(DpRemoteConnection) rc = dp_remote_node_launch_place (node, "echo", "echo", 0, NULL);
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Run r;

  run_init (&r);
  g_signal_connect (rc, "notify::state", G_CALLBACK (on_state), &r);
  g_assert_true (dp_remote_connection_wait_ready (rc, NULL, &error));

  /* a cancelled get, then two that get the two messages in order */
  r.pending = 3;
  dp_remote_connection_get_async (rc, cancel, got, &r);
  g_cancellable_cancel (cancel);
  dp_remote_connection_get_async (rc, NULL, got, &r);
  dp_remote_connection_get_async (rc, NULL, got, &r);
  dp_remote_connection_put (rc, g_variant_new_int32 (1));
  dp_remote_connection_put (rc, g_variant_new_string ("two"));
  g_main_loop_run (r.loop);
  /* the cancelled get completes whenever its cancellation is dispatched;
   * the others get the messages in order */
  g_assert_cmpuint (r.seen->len, ==, 3);
  for (guint i = 0; i < r.seen->len; i++)
    if (g_str_equal (r.seen->pdata[i], "error:g-io-error-quark"))
      {
        g_ptr_array_remove_index (r.seen, i);
        break;
      }
  g_assert_cmpuint (r.seen->len, ==, 2);
  g_assert_cmpstr (r.seen->pdata[0], ==, "1");
  g_assert_cmpstr (r.seen->pdata[1], ==, "'two'");

  /* the end: a pending get returns NULL, wait_async the exit */
  g_ptr_array_set_size (r.seen, 0);
  r.pending = 2;
  dp_remote_connection_get_async (rc, NULL, got, &r);
  dp_remote_connection_wait_async (rc, NULL, waited, &r);
  dp_remote_connection_close (rc);
  g_main_loop_run (r.loop);
  /* the get may end as soon as the channel closes, before the death is
   * dispatched; the wait ends with the death, after the notification */
  g_assert_cmpuint (r.seen->len, ==, 2);
  g_assert_true (g_str_equal (r.seen->pdata[0], "end") || g_str_equal (r.seen->pdata[1], "end"));
  g_assert_true (g_str_equal (r.seen->pdata[0], "wait:returned") || g_str_equal (r.seen->pdata[1], "wait:returned"));
  /* READY then EXITED, each notified once, in this context */
  g_assert_cmpstr (r.states->str, ==, "12");

  /* after the end: both complete at once */
  g_ptr_array_set_size (r.seen, 0);
  r.pending = 2;
  dp_remote_connection_wait_async (rc, NULL, waited, &r);
  dp_remote_connection_get_async (rc, NULL, got, &r);
  g_main_loop_run (r.loop);
  g_assert_cmpuint (r.seen->len, ==, 2);

  g_signal_handlers_disconnect_by_data (rc, &r);
  run_clear (&r);
}

static void
died (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean dead = dp_remote_node_wait_for_die_finish (DP_REMOTE_NODE (source), res, &error);

  run_done (data, dead ? g_strdup ("dead") : g_strdup_printf ("error:%s", g_quark_to_string (error->domain)));
}

static void
on_rtt (GObject *obj, GParamSpec *pspec, gpointer data)
{
  Run *r = data;

  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_assert_cmpfloat (dp_remote_node_get_rtt (DP_REMOTE_NODE (obj)), >=, 0);
  if (r->pending == 1)    /* the first heartbeat is enough */
    run_done (r, g_strdup ("rtt"));
}

/* wait_for_die_async: cancelled while alive; completed by the death (and
 * at once after it); rtt is notified when a heartbeat comes back */
static void
test_wait_for_die_async (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = NULL;
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  Run r;
  gulong id;

  /* heartbeats as often as the node allows, so one comes back soon */
  g_object_set (router, "heartbeat-interval", 0.05, NULL);
  node = dp_test_spawn_node (router);
  run_init (&r);

  r.pending = 1;
  id = g_signal_connect (node, "notify::rtt", G_CALLBACK (on_rtt), &r);
  g_main_loop_run (r.loop);
  g_signal_handler_disconnect (node, id);
  g_assert_cmpstr (r.seen->pdata[0], ==, "rtt");

  g_ptr_array_set_size (r.seen, 0);
  r.pending = 1;
  dp_remote_node_wait_for_die_async (node, cancel, died, &r);
  g_cancellable_cancel (cancel);
  g_main_loop_run (r.loop);
  g_assert_cmpstr (r.seen->pdata[0], ==, "error:g-io-error-quark");
  g_assert_true (dp_remote_node_is_alive (node));

  r.pending = 2;
  dp_remote_node_wait_for_die_async (node, NULL, died, &r);
  dp_remote_node_terminate (node);
  dp_remote_node_wait_for_die_async (node, NULL, died, &r);
  g_main_loop_run (r.loop);
  g_assert_cmpstr (r.seen->pdata[1], ==, "dead");
  g_assert_cmpstr (r.seen->pdata[2], ==, "dead");
  r.pending = 1;
  dp_remote_node_wait_for_die_async (node, NULL, died, &r);
  g_main_loop_run (r.loop);
  g_assert_cmpstr (r.seen->pdata[3], ==, "dead");
  /* released at once, with no blocking wait to order it after the router
   * thread's completion of the waits (which once used a freed node) */
  run_clear (&r);
}

static char *
run_embed (const char *arg, int *status)
{
  g_autofree char *embed = dp_test_build_path ("samples/embed/embed");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, embed, arg, NULL);
  char *out = NULL;

  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  *status = g_subprocess_get_exit_status (sp);
  return out;
}

/* samples/embed: the handler runs on the running main loop; the blocking
 * form needs none */
static void
test_embed_sample (void)
{
  int status;
  g_autofree char *loop_out = run_embed ("localhost", &status);
  g_autofree char *blocking_out = NULL;

  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (loop_out, ==, "place state: ready\nmessage handler got: Hello\n"
                                 "place state: exited\nnode stopped\n");
  blocking_out = run_embed ("--blocking", &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (blocking_out, ==, "blocking get got: Hello\nnode stopped\n");
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/async/get-wait", test_get_wait_async);
  dp_test_add_func ("/async/wait-for-die", test_wait_for_die_async);
  dp_test_add_func ("/async/embed-sample", test_embed_sample);
  return g_test_run ();
}
