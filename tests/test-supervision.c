/* Supervision and lifecycle: place and node restart, heartbeats, timers,
 * supervised processes, logging to the root. Real dp-node processes on
 * loopback; DP_TIME_SCALE-style clock scaling (dp_set_time_scale()) so that
 * schedules measured in seconds run in a fraction of that. */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <json-glib/json-glib.h>

#include <signal.h>
#include <string.h>


/* wakes the main context now and then so a loop sees its deadline */
static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* ---- place restart with messages in flight ---- */

typedef struct {
  GArray *restarting;
  GArray *restarted;
} Attempts;

static void
on_attempt (DpRemoteConnection *rc, guint attempt, gpointer data)
{
  g_array_append_val ((GArray *) data, attempt);
}

static void
test_place_restart_in_flight (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = dp_test_spawn_node (router);
  g_autoptr(DpRemoteConnection) rc =
    dp_remote_node_launch_place (node, "test-places", "one_then_exit", DP_LAUNCH_RESTART_ON_EXIT, NULL);
  g_autoptr(GArray) restarting = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) restarted = g_array_new (FALSE, FALSE, sizeof (guint));
  gint32 seen[5] = { 0 };

  g_signal_connect (rc, "restarting", G_CALLBACK (on_attempt), restarting);
  g_signal_connect (rc, "restarted", G_CALLBACK (on_attempt), restarted);

  /* five messages at once: each incarnation reads one and exits; the rest
   * are in flight (in the dead place's inbox, on the wire, or put while it
   * is restarting) and must reach a later incarnation — none lost */
  for (gint32 i = 0; i < 5; i++)
    g_assert_true (dp_remote_connection_put (rc, g_variant_new_int32 (i)));
  for (int n = 0; n < 5; n++)
    {
      g_autoptr(GVariant) r = dp_remote_connection_get_timeout (rc, 20 * G_USEC_PER_SEC, NULL);
      g_assert_nonnull (r);
      g_assert_cmpint (g_variant_get_int32 (r), >=, 0);
      g_assert_cmpint (g_variant_get_int32 (r), <, 5);
      seen[g_variant_get_int32 (r)]++;
    }
  for (int i = 0; i < 5; i++)
    g_assert_cmpint (seen[i], ==, 1);

  /* the signals carry the attempt numbers 1, 2, … in order */
  {
    gboolean enough = FALSE;
    gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    g_autoptr(GSource) t = g_timeout_source_new (100);   /* so the deadline is seen */

    g_source_set_callback (t, tick, NULL, NULL);
    g_source_attach (t, NULL);
    while (!enough && g_get_monotonic_time () < end)
      {
        g_main_context_iteration (NULL, TRUE);
        enough = restarted->len >= 4;
      }
    g_source_destroy (t);
  }
  g_assert_cmpuint (restarting->len, >=, 4);
  g_assert_cmpuint (restarted->len, >=, 4);
  for (guint i = 0; i < restarted->len; i++)
    g_assert_cmpuint (g_array_index (restarted, guint, i), ==, i + 1);
  for (guint i = 0; i < restarting->len; i++)
    g_assert_cmpuint (g_array_index (restarting, guint, i), ==, i + 1);
  dp_remote_connection_set_restart (rc, FALSE);
  g_signal_handlers_disconnect_by_data (rc, restarting);
  g_signal_handlers_disconnect_by_data (rc, restarted);
}

/* ---- what is put while a place waits to be restarted is bounded ---- */

static void
record_attempt (guint attempt, gpointer data)
{
  g_atomic_int_set ((gint *) data, (gint) attempt);
}

typedef struct {
  DpRemoteConnection *rc;
  gint                put;
  gint                refused;
} HeldPutter;

static gpointer
held_putter (gpointer data)
{
  HeldPutter *hp = data;

  for (guint i = 0; i < 3 * DP_DEFAULT_MAX_INBOX_MESSAGES; i++)
    {
      if (!dp_remote_connection_put (hp->rc, g_variant_new_uint32 (i)))
        {
          g_atomic_int_set (&hp->refused, 1);
          break;
        }
      g_atomic_int_inc (&hp->put);
    }
  return NULL;
}

/* The place has died and its restart is up to a callback that does not
 * restart yet: puts meanwhile are queued for the next incarnation, up to
 * the inbox limit — then put waits, as for a full peer — and closing the
 * connection releases the waiting put (it fails) */
static void
test_place_restart_held_bounded (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = dp_test_spawn_node (router);
  g_autoptr(DpRemoteConnection) rc =
    dp_remote_node_launch_place (node, "test-places", "one_then_exit", 0, NULL);
  g_autoptr(GVariant) echoed = NULL;
  gint asked = 0;
  HeldPutter hp = { rc, 0, 0 };
  GThread *t;

  dp_remote_connection_set_restart_func (rc, record_attempt, &asked, NULL);
  g_assert_true (dp_remote_connection_put (rc, g_variant_new_uint32 (G_MAXUINT32)));
  echoed = dp_remote_connection_get_timeout (rc, 20 * G_USEC_PER_SEC, NULL);
  g_assert_nonnull (echoed);
  /* the place returned: wait for the restart callback (main context) */
  {
    gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    g_autoptr(GSource) guard = g_timeout_source_new (100);   /* so the deadline is seen */

    g_source_set_callback (guard, tick, NULL, NULL);
    g_source_attach (guard, NULL);
    while (g_atomic_int_get (&asked) == 0 && g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, TRUE);
    g_source_destroy (guard);
  }
  g_assert_cmpint (g_atomic_int_get (&asked), ==, 1);

  t = g_thread_new ("held-putter", held_putter, &hp);
  while ((guint) g_atomic_int_get (&hp.put) < DP_DEFAULT_MAX_INBOX_MESSAGES &&
         !g_atomic_int_get (&hp.refused))
    g_thread_yield ();
  g_assert_false (g_atomic_int_get (&hp.refused));
  for (guint i = 0; i < 1000; i++)
    g_thread_yield ();
  g_assert_cmpuint ((guint) g_atomic_int_get (&hp.put), <=, DP_DEFAULT_MAX_INBOX_MESSAGES + 1);

  dp_remote_connection_close (rc);
  g_thread_join (t);
  g_assert_true (g_atomic_int_get (&hp.refused));
  g_assert_cmpuint ((guint) g_atomic_int_get (&hp.put), <=, DP_DEFAULT_MAX_INBOX_MESSAGES + 1);
}

/* ---- node restart ---- */

static void
set_flag (gpointer instance, guint attempt, gpointer data)
{
  *(guint *) data = attempt;
}

static void
died_flag (gpointer instance, const char *reason, gpointer data)
{
  *(char **) data = g_strdup (reason);
}

static void
test_node_sigkill_restart (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = dp_test_spawn_node (router);
  g_autoptr(DpRemoteConnection) named = dp_remote_node_launch_place (node, "echo", "echo_named", 0, "svc");
  g_autoptr(DpRemoteConnection) rc = dp_remote_node_launch_place (node, "echo", "echo", 0, NULL);
  g_autoptr(DpRemoteConnection) finished = dp_remote_node_launch_place (node, "test-places", "quick", 0, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;
  g_autofree char *reason = NULL;
  guint restarted = 0;
  gint64 old_pid = dp_remote_node_get_pid (node);

  dp_remote_node_set_restart (node, TRUE);
  g_assert_true (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_assert_cmpint (dp_remote_connection_wait (finished), ==, DP_PLACE_EXIT_RETURNED);
  dp_remote_connection_put (rc, g_variant_new_string ("before"));
  r = dp_remote_connection_get (rc);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "before");
  g_clear_pointer (&r, g_variant_unref);

  g_signal_connect (node, "died", G_CALLBACK (died_flag), &reason);
  g_signal_connect (node, "restarted", G_CALLBACK (set_flag), &restarted);
  g_assert_cmpint (kill ((pid_t) old_pid, SIGKILL), ==, 0);
  g_assert_true (dp_test_wait_process_gone (old_pid, 10000));

  /* once the death is known, what is put is queued for the relaunched
   * place (what the dead node had received but not handled is gone) */
  while (reason == NULL)
    g_main_context_iteration (NULL, TRUE);
  dp_remote_connection_put (rc, g_variant_new_string ("while down"));

  while (restarted == 0)
    g_main_context_iteration (NULL, TRUE);
  g_test_message ("died: %s", reason);
  g_assert_nonnull (reason);
  g_assert_nonnull (strstr (reason, "signal 9"));
  g_assert_cmpuint (restarted, ==, 1);
  g_assert_cmpuint (dp_remote_node_get_restarts (node), ==, 1);
  g_assert_true (dp_remote_node_is_alive (node));
  g_assert_cmpint (dp_remote_node_get_pid (node), !=, old_pid);

  /* the same DpRemoteConnection talks to the relaunched place */
  r = dp_remote_connection_get_timeout (rc, 20 * G_USEC_PER_SEC, NULL);
  g_assert_nonnull (r);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "while down");
  g_clear_pointer (&r, g_variant_unref);
  g_assert_true (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_assert_no_error (error);
  dp_remote_connection_put (rc, g_variant_new_string ("after"));
  r = dp_remote_connection_get (rc);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, "after");
  g_clear_pointer (&r, g_variant_unref);

  /* the named place came back under its name; the finished one did not */
  dp_remote_connection_put (named, g_variant_new_int32 (3));
  r = dp_remote_connection_get_timeout (named, 20 * G_USEC_PER_SEC, NULL);
  g_assert_nonnull (r);
  g_assert_cmpint (g_variant_get_int32 (r), ==, 3);
  g_clear_pointer (&r, g_variant_unref);
  {
    g_autoptr(DpRemoteConnection) c = dp_remote_node_connect_to_named_place (node, "svc");
    dp_remote_connection_put (c, g_variant_new_int32 (4));
    r = dp_remote_connection_get_timeout (c, 20 * G_USEC_PER_SEC, NULL);
    g_assert_nonnull (r);
    g_assert_cmpint (g_variant_get_int32 (r), ==, 4);
  }
  g_assert_cmpint (dp_remote_connection_get_state (finished), ==, DP_REMOTE_CONNECTION_EXITED);

  /* a node stopped on purpose is not restarted */
  {
    gint64 pid = dp_remote_node_get_pid (node);
    dp_remote_node_terminate (node);
    g_assert_true (dp_remote_node_wait_for_die (node, 10 * G_USEC_PER_SEC));
    g_assert_true (dp_test_wait_process_gone (pid, 10000));
    g_assert_cmpuint (dp_remote_node_get_restarts (node), ==, 1);
    g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_LOST);
  }
  g_signal_handlers_disconnect_by_data (node, &reason);
  g_signal_handlers_disconnect_by_data (node, &restarted);
}

static void
final_fail (DpRestarter *r, gpointer data)
{
  *(gboolean *) data = TRUE;
}

static void
kill_again (DpRemoteNode *node, gpointer data)
{
  gint64 *last = data;
  gint64 pid = dp_remote_node_get_pid (node);

  if (pid > 0 && pid != *last && dp_remote_node_is_alive (node))
    {
      g_test_message ("node up again: killing %" G_GINT64_FORMAT, pid);
      *last = pid;
      kill ((pid_t) pid, SIGKILL);
    }
}

static void
kill_when_restarted (gpointer data, guint attempt, DpRemoteNode *node)
{
  kill_again (node, data);
}

static void
test_node_restarter_final_fail (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = dp_test_spawn_node (router);
  g_autoptr(DpRemoteConnection) rc = dp_remote_node_launch_place (node, "echo", "echo", 0, NULL);
  gboolean failed = FALSE;
  g_autoptr(DpRestarter) restarter = dp_restart_every (1.0, 2, G_CALLBACK (final_fail), &failed);
  gint64 last_killed = 0;
  /* 1 s between restarts, and the count resets only after 2 s up: a node
   * killed as soon as it is ready never stays up that long, however slow
   * the machine */
  g_autoptr(GSource) t = g_timeout_source_new (100);

  g_source_set_callback (t, tick, NULL, NULL);
  g_source_attach (t, NULL);
  dp_remote_node_set_restarter (node, restarter);
  /* every incarnation is killed as soon as it is up ("ready"; the loop
   * below looks too, in case a signal is late) */
  g_signal_connect (node, "ready", G_CALLBACK (kill_again), &last_killed);
  g_signal_connect_swapped (node, "restarted", G_CALLBACK (kill_when_restarted), &last_killed);
  kill_again (node, &last_killed);
  {
    gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
    while (!failed && g_get_monotonic_time () < end)
      {
        g_main_context_iteration (NULL, TRUE);
        kill_again (node, &last_killed);
      }
  }
  g_assert_true (failed);
  g_assert_cmpuint (dp_remote_node_get_restarts (node), ==, 2);
  /* the place waiting for a node that will not come back has ended */
  g_assert_cmpint (dp_remote_connection_wait (rc), ==, DP_PLACE_EXIT_LOST);
  g_signal_handlers_disconnect_by_data (node, &last_killed);
  g_source_destroy (t);
}

/* ---- heartbeats ---- */

static void
test_heartbeat_sigstop (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = NULL;
  g_autofree char *reason = NULL;
  gint64 pid, t0, dt, spawn_us;
  double timeout, seen_before;
  const double interval = 0.05;

  /* The timeout must never catch a healthy node on a slow, loaded machine:
   * it is ten times what a whole spawn took here, and at least 1 s. */
  t0 = g_get_monotonic_time ();
  {
    g_autoptr(DpRemoteNode) probe G_GNUC_UNUSED = dp_test_spawn_node (router);
  }
  spawn_us = g_get_monotonic_time () - t0;
  timeout = MAX (1.0, 10.0 * spawn_us / G_USEC_PER_SEC);
  g_test_message ("a node spawn took %.1f ms: heartbeat timeout %.2f s", spawn_us / 1000.0, timeout);

  g_object_set (router, "heartbeat-interval", interval, "heartbeat-timeout", timeout, NULL);
  node = dp_test_spawn_node (router);
  pid = dp_remote_node_get_pid (node);
  g_signal_connect (node, "died", G_CALLBACK (died_flag), &reason);

  /* heartbeats measure the link: wait for the first answer */
  {
    g_autoptr(GSource) t = g_timeout_source_new (10);
    gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
    g_source_set_callback (t, tick, NULL, NULL);
    g_source_attach (t, NULL);
    while (dp_remote_node_get_rtt (node) <= 0.0 && g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, TRUE);
    g_source_destroy (t);
  }
  g_assert_cmpfloat (dp_remote_node_get_rtt (node), >, 0.0);
  g_assert_cmpfloat (dp_remote_node_get_rtt (node), <, timeout);
  g_assert_null (reason);

  seen_before = dp_remote_node_get_last_seen (node);
  g_assert_cmpfloat (seen_before, <, timeout);
  g_assert_cmpint (kill ((pid_t) pid, SIGSTOP), ==, 0);
  t0 = g_get_monotonic_time ();
  while (reason == NULL)
    g_main_context_iteration (NULL, TRUE);
  dt = g_get_monotonic_time () - t0;
  g_test_message ("frozen node declared dead after %.3f s (timeout %.2f s): %s",
                  dt / 1e6, timeout, reason);
  /* never before the timeout since it was last heard of */
  g_assert_cmpint (dt, >=, (gint64) ((timeout - seen_before - 0.01) * G_USEC_PER_SEC));
  g_assert_nonnull (strstr (reason, "heartbeat"));
  g_assert_false (dp_remote_node_is_alive (node));
  /* and it was killed, frozen as it was */
  g_assert_true (dp_test_wait_process_gone (pid, 10000));
  g_signal_handlers_disconnect_by_data (node, &reason);
}

/* ---- timers under the test clock ---- */

typedef struct {
  GArray *times;
  gboolean done;
} Fired;

static gboolean
record_time (gpointer data)
{
  Fired *f = data;
  double now = dp_now ();
  g_array_append_val (f->times, now);
  return G_SOURCE_CONTINUE;
}

static gboolean
after_done (gpointer data)
{
  Fired *f = data;
  record_time (f);
  f->done = TRUE;
  return G_SOURCE_REMOVE;
}

/* Timers run on libdp time. What is asserted is what holds on any machine:
 * no timer fires early (in libdp time), the scale makes them faster than
 * real time, and every-seconds fires at once and then periodically; how late
 * a loaded machine dispatches them is not. */
static void
test_timers (void)
{
  const double scale = 5.0;
  Fired every = { g_array_new (FALSE, FALSE, sizeof (double)), FALSE };
  Fired after = { g_array_new (FALSE, FALSE, sizeof (double)), FALSE };
  GSource *e, *a;
  double t0;
  gint64 real0 = g_get_monotonic_time (), real;

  dp_set_time_scale (scale);
  t0 = dp_now ();
  e = dp_every_seconds (1.0, record_time, &every, NULL);
  a = dp_after_seconds (3.5, after_done, &after, NULL);
  g_source_attach (e, NULL);
  g_source_attach (a, NULL);
  while (!after.done)
    g_main_context_iteration (NULL, TRUE);
  real = g_get_monotonic_time () - real0;
  g_source_destroy (e);
  g_source_unref (e);
  g_source_unref (a);
  dp_set_time_scale (1.0);

  /* 3.5 libdp seconds took about 3.5/scale s of real time: never less,
   * and less than 3.5 s however slow the machine, or nothing was scaled */
  g_test_message ("after-seconds 3.5 at %gx: %.3f s real", scale, real / 1e6);
  g_assert_cmpint (real, >=, (gint64) (3.5 / scale * G_USEC_PER_SEC) - 1000);
  g_assert_cmpint (real, <, (gint64) (3.5 * G_USEC_PER_SEC));
  g_assert_cmpfloat (g_array_index (after.times, double, 0) - t0, >=, 3.5 - 0.01);
  /* every-seconds: at once (as the seed), then every second, never early;
   * by 3.5 s it fired at 0, 1 and 2 even with 1.5 s of dispatch delays */
  g_assert_cmpuint (every.times->len, >=, 3);
  g_assert_cmpuint (every.times->len, <=, 5);
  g_assert_cmpfloat (g_array_index (every.times, double, 0) - t0, <, 1.0);
  for (guint i = 1; i < every.times->len; i++)
    {
      double gap = g_array_index (every.times, double, i) - g_array_index (every.times, double, i - 1);
      g_assert_cmpfloat (gap, >=, 1.0 - 0.01);
    }
  g_array_unref (every.times);
  g_array_unref (after.times);
}

/* ---- logging to the root ---- */

typedef struct {
  GPtrArray *records;     /* "node|place|severity|message" */
} LogSeen;

static void
on_log (DpNode *node, const char *from, const char *place, const char *severity,
        const char *message, gpointer data)
{
  g_ptr_array_add (((LogSeen *) data)->records,
                   g_strdup_printf ("%s|%s|%s", place, severity, message));
  g_assert_nonnull (from);
  g_assert_true (strchr (from, ':') != NULL);   /* host:port of the node */
}

static GMutex structured_lock;
static GPtrArray *structured;   /* "place|severity|message" seen by the watch, under the lock */

/* a watch on the log: sees every record with its fields, from any thread */
static void
watch (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  const char *node = NULL, *place = NULL, *msg = NULL, *sev = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "DP_NODE") == 0)
        node = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "DP_PLACE") == 0)
        place = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "DP_SEVERITY") == 0)
        sev = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        msg = fields[i].value;
    }
  g_mutex_lock (&structured_lock);
  if (structured && place && sev && node && msg)
    g_ptr_array_add (structured, g_strdup_printf ("%s|%s|%s", place, sev, msg));
  g_mutex_unlock (&structured_lock);
}

static void
test_log_records (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpRemoteNode) node = dp_test_spawn_node (router);
  LogSeen seen = { g_ptr_array_new_with_free_func (g_free) };
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) second = NULL;
  gboolean two = FALSE;
  guint watch_id;

  structured = g_ptr_array_new_with_free_func (g_free);
  watch_id = dp_test_add_log_watch (watch, NULL);
  /* the logger place's warning reaches the root's log as a warning */
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, "[127.0.0.1:* logger] a record from the logger place");
  g_signal_connect (router, "log", G_CALLBACK (on_log), &seen);
  rc = dp_remote_node_launch_place (node, "test-places", "logger", 0, NULL);

  /* the data stream has only data: the first message is 1, not a record */
  first = dp_remote_connection_get (rc);
  g_assert_true (g_variant_is_of_type (first, G_VARIANT_TYPE_INT32));
  g_assert_cmpint (g_variant_get_int32 (first), ==, 1);
  dp_remote_connection_put (rc, g_variant_new_string ("data"));
  second = dp_remote_connection_get (rc);
  g_assert_cmpstr (g_variant_get_string (second, NULL), ==, "data");
  g_assert_null (dp_remote_connection_try_get (rc));

  while (!two)
    {
      g_main_context_iteration (NULL, TRUE);
      two = seen.records->len >= 2;
    }
  g_assert_cmpstr (seen.records->pdata[0], ==, "logger|warning|a record from the logger place");
  g_assert_cmpstr (seen.records->pdata[1], ==, "logger|info|a second record");
  /* and through GLib structured logging with its fields (logged before
   * the signal is emitted) */
  dp_test_remove_log_watch (watch_id);
  g_assert_cmpuint (structured->len, >=, 2);
  g_assert_nonnull (strstr (structured->pdata[0], "logger|warning|"));
  g_assert_nonnull (strstr (structured->pdata[0], "a record from the logger place"));
  g_clear_pointer (&structured, g_ptr_array_unref);
  g_signal_handlers_disconnect_by_data (router, &seen);
  g_ptr_array_unref (seen.records);
}

/* dp-launch shows log records on stderr, as JSON lines with --log-json
 * (and nothing else: its own lines are JSON objects too, with "source");
 * its stdout carries only the place's data */
static void
test_launch_log_json (void)
{
  g_autofree char *launch = dp_test_build_path ("loader/dp-launch");
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_auto(GStrv) lines = NULL;
  guint records = 0;

  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         launch, "--log-json", "--no-stdin", "-m", "\"x\"",
                         "localhost:0", "test-places", "logger", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);
  g_assert_cmpstr (out, ==, "1\n\"x\"\n");
  lines = g_strsplit (err, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *o;

      if (lines[i][0] == '\0')
        continue;
      g_assert_true (json_parser_load_from_data (parser, lines[i], -1, NULL));
      o = json_node_get_object (json_parser_get_root (parser));
      if (!json_object_has_member (o, "place"))
        {
          g_assert_true (json_object_has_member (o, "source"));
          continue;
        }
      g_assert_cmpstr (json_object_get_string_member (o, "place"), ==, "logger");
      g_assert_nonnull (strchr (json_object_get_string_member (o, "node"), ':'));
      if (records == 0)
        {
          g_assert_cmpstr (json_object_get_string_member (o, "severity"), ==, "warning");
          g_assert_cmpstr (json_object_get_string_member (o, "message"), ==, "a record from the logger place");
        }
      else
        g_assert_cmpstr (json_object_get_string_member (o, "severity"), ==, "info");
      records++;
    }
  g_assert_cmpuint (records, ==, 2);
}

/* ---- a place's output comes before its death ---- */

static void
order_output (DpRemoteNode *node, const char *line, gpointer data)
{
  g_ptr_array_add (data, g_strconcat ("output:", line, NULL));
}

static void
order_died (DpRemoteConnection *rc, DpPlaceExit exit, const char *detail, gpointer data)
{
  g_ptr_array_add (data, g_strdup ("died"));
}

static void
test_output_before_death (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = dp_spawn_options_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func (g_free);

  dp_spawn_options_set_output (o, DP_SPAWN_OUTPUT_DISCARD);   /* keep TAP clean */
  node = dp_remote_node_spawn (router, "localhost", 0, o, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (node, "output", G_CALLBACK (order_output), events);
  for (int round = 0; round < 20; round++)
    {
      g_autoptr(DpRemoteConnection) rc = dp_remote_node_launch_place (node, "test-places", "say_and_exit", 0, NULL);
      gboolean died = FALSE;

      g_ptr_array_set_size (events, 0);
      g_signal_connect (rc, "died", G_CALLBACK (order_died), events);
      while (!died)
        {
          g_main_context_iteration (NULL, TRUE);
          died = g_ptr_array_find_with_equal_func (events, "died", g_str_equal, NULL);
        }
      g_assert_cmpuint (events->len, ==, 2);
      g_assert_cmpstr (events->pdata[0], ==, "output:last words");
      g_assert_cmpstr (events->pdata[1], ==, "died");
      g_signal_handlers_disconnect_by_data (rc, events);
    }
  g_signal_handlers_disconnect_by_data (node, events);
}

/* ---- supervised processes, spawn-nodes/join, supervise-thread-at ---- */

static void
on_output (DpSpawnedProcess *p, int fd, const char *line, gpointer data)
{
  g_ptr_array_add (data, g_strdup_printf ("%d:%s", fd, line));
}

static void
on_exited (DpSpawnedProcess *p, int status, const char *reason, gpointer data)
{
  *(int *) data = status;
}

static void
test_process_exit_status (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = dp_spawn_options_new ();
  const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
  const char *sleeper[] = { "sleep", "60", NULL };
  const char *missing[] = { "/no/such/program", "x", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnedProcess) p = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  int status = -2;

  /* keep the program's output off our stdout (TAP) */
  dp_spawn_options_set_output (o, DP_SPAWN_OUTPUT_DISCARD);
  p = dp_supervise_process_at (router, "localhost", argv, o, &error);
  g_assert_no_error (error);
  g_assert_cmpint (dp_spawned_process_get_pid (p), >, 0);
  g_signal_connect (p, "output", G_CALLBACK (on_output), lines);
  g_signal_connect (p, "exited", G_CALLBACK (on_exited), &status);
  g_assert_true (dp_spawned_process_wait (p, 10 * G_USEC_PER_SEC));
  g_assert_cmpint (dp_spawned_process_get_exit_status (p), ==, 3);
  g_assert_cmpstr (dp_spawned_process_get_exit_reason (p), ==, "exited with status 3");
  g_assert_false (dp_spawned_process_is_running (p));
  while (status == -2 || lines->len < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (status, ==, 3);
  g_assert_true (g_ptr_array_find_with_equal_func (lines, "1:out", g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (lines, "2:err", g_str_equal, NULL));
  g_signal_handlers_disconnect_by_data (p, lines);
  g_signal_handlers_disconnect_by_data (p, &status);
  g_clear_object (&p);

  /* killed: 128 + 9; the pid is the program's own (the wrapper shell
   * execs it under the same pid), so it is gone afterwards */
  p = dp_supervise_process_at (router, "localhost", sleeper, o, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kill ((pid_t) dp_spawned_process_get_pid (p), 0), ==, 0);
  g_assert_true (dp_spawned_process_is_running (p));
  dp_spawned_process_terminate (p);
  g_assert_true (dp_spawned_process_wait (p, 10 * G_USEC_PER_SEC));
  g_assert_cmpint (dp_spawned_process_get_exit_status (p), ==, 128 + SIGKILL);
  g_assert_true (dp_test_wait_process_gone (dp_spawned_process_get_pid (p), 10000));
  g_clear_object (&p);

  p = dp_supervise_process_at (router, "localhost", missing, o, &error);
  g_assert_null (p);
  g_assert_error (error, DP_ERROR, DP_ERROR_NODE_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/no/such/program"));
}

static void
test_spawn_nodes_join (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) bad = dp_spawn_options_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) nodes = NULL;
  DpNodeDesc descs[] = {
    { "localhost", 0, NULL }, { "localhost", 0, NULL }, { "127.0.0.1", 0, NULL },
  };
  DpNodeDesc with_bad[] = {
    { "localhost", 0, NULL }, { "localhost", 0, bad },
  };

  nodes = dp_spawn_nodes_join (router, descs, G_N_ELEMENTS (descs), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (nodes->len, ==, 3);
  for (guint i = 0; i < nodes->len; i++)
    {
      g_autoptr(DpRemoteConnection) rc = dp_supervise_thread_at (nodes->pdata[i], "echo", "echo");
      g_autoptr(GVariant) r = NULL;
      g_assert_true (dp_remote_node_is_alive (nodes->pdata[i]));
      g_assert_cmpstr (dp_remote_node_get_host (nodes->pdata[i]), ==, descs[i].host);
      dp_remote_connection_put (rc, g_variant_new_uint32 (i));
      r = dp_remote_connection_get (rc);
      g_assert_cmpuint (g_variant_get_uint32 (r), ==, i);
    }

  dp_spawn_options_set_node_path (bad, "/no/such/dp-node");
  g_clear_pointer (&nodes, g_ptr_array_unref);
  nodes = dp_spawn_nodes_join (router, with_bad, G_N_ELEMENTS (with_bad), &error);
  g_assert_null (nodes);
  g_assert_error (error, DP_ERROR, DP_ERROR_NODE_NOT_FOUND);
}

typedef struct {
  guint     done;
  guint     failed;
  GPtrArray *nodes;
} PacedSpawns;

static void
paced_spawned (GObject *source, GAsyncResult *result, gpointer data)
{
  PacedSpawns *p = data;
  g_autoptr(GError) error = NULL;
  DpRemoteNode *node = dp_remote_node_spawn_finish (result, &error);

  p->done++;
  if (node)
    g_ptr_array_add (p->nodes, node);
  else
    {
      g_assert_error (error, DP_ERROR, DP_ERROR_NODE_NOT_FOUND);
      p->failed++;
    }
}

/* DpNode:max-concurrent-spawns: no more spawns under way than it says,
 * and one that fails gives its place to the next */
static void
test_spawn_paced (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) bad = dp_spawn_options_new ();
  PacedSpawns p = { 0, 0, g_ptr_array_new_with_free_func (g_object_unref) };
  DpTestSpawnWatch *w = dp_test_spawn_watch_new ();
  const guint n = 7, limit = 2;
  guint max_running, max_per_host;
  guint u = 0;

  dp_spawn_options_set_node_path (bad, "/no/such/dp-node");
  g_object_set (router, "max-concurrent-spawns", limit, NULL);
  g_object_get (router, "max-concurrent-spawns-per-host", &u, NULL);
  g_assert_cmpuint (u, ==, DP_DEFAULT_MAX_CONCURRENT_SPAWNS_PER_HOST);
  for (guint i = 0; i < n; i++)
    dp_remote_node_spawn_async (router, "localhost", 0, i == 1 ? bad : NULL, NULL,
                                paced_spawned, &p);
  while (p.done < n)
    g_main_context_iteration (NULL, TRUE);
  dp_test_spawn_watch_free (w, &max_running, &max_per_host);
  g_assert_cmpuint (p.failed, ==, 1);
  g_assert_cmpuint (p.nodes->len, ==, n - 1);
  g_assert_cmpuint (max_running, <=, limit);
  g_assert_cmpuint (max_per_host, <=, limit);
  for (guint i = 0; i < p.nodes->len; i++)
    g_assert_true (dp_remote_node_is_alive (p.nodes->pdata[i]));
  g_ptr_array_unref (p.nodes);
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/supervision/place-restart-in-flight", test_place_restart_in_flight);
  dp_test_add_func ("/supervision/place-restart-held-bounded", test_place_restart_held_bounded);
  dp_test_add_func ("/supervision/node-sigkill-restart", test_node_sigkill_restart);
  dp_test_add_func ("/supervision/node-restarter-final-fail", test_node_restarter_final_fail);
  dp_test_add_func ("/supervision/heartbeat-sigstop", test_heartbeat_sigstop);
  dp_test_add_func ("/supervision/timers", test_timers);
  dp_test_add_func ("/supervision/log-records", test_log_records);
  dp_test_add_func ("/supervision/output-before-death", test_output_before_death);
  dp_test_add_func ("/supervision/launch-log-json", test_launch_log_json);
  dp_test_add_func ("/supervision/process-exit-status", test_process_exit_status);
  dp_test_add_func ("/supervision/spawn-nodes-join", test_spawn_nodes_join);
  dp_test_add_func ("/supervision/spawn-paced", test_spawn_paced);
  return g_test_run ();
}
