/* test-rmpi.c: RMPI ranks on real dp-node processes (loopback, ephemeral
 * ports), launched from JSON configs; the ranks' places are in
 * tests/plugins/rmpi-places.c, and samples/rmpi is run as a program.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* ---- samples/rmpi: its output, exactly ---- */

static char *
expected_sample (guint n)
{
  static const char *ops[] = { "broadcast", "reduce", "barrier", "allreduce", "gather",
                               "allgather", "alltoall", "partition", "split" };
  GString *out = g_string_new (NULL);

  for (guint k = 0; k < G_N_ELEMENTS (ops); k++)
    for (guint r = 0; r < n; r++)
      {
        GString *res = g_string_new (NULL);

        switch (k)
          {
          case 0: g_string_append (res, "\"Hello World\""); break;
          case 1:
            if (r == 0) g_string_append_printf (res, "%u", n * (n + 1) / 2);
            else g_string_append (res, "null");
            break;
          case 2: g_string_append (res, "true"); break;
          case 3: g_string_append_printf (res, "%u", n - 1); break;
          case 4:
            if (r != 0) { g_string_append (res, "null"); break; }
            g_string_append_c (res, '[');
            for (guint i = 0; i < n; i++)
              g_string_append_printf (res, "%s%u", i ? "," : "", i * i);
            g_string_append_c (res, ']');
            break;
          case 5:
            g_string_append_c (res, '[');
            for (guint i = 0; i < n; i++)
              g_string_append_printf (res, "%s[%u]", i ? "," : "", i);
            g_string_append_c (res, ']');
            break;
          case 6:
            g_string_append_c (res, '[');
            for (guint i = 0; i < n; i++)
              g_string_append_printf (res, "%s\"%u->%u\"", i ? "," : "", i, r);
            g_string_append_c (res, ']');
            break;
          case 7:
            {
              guint q = 10 / n, rem = 10 % n;
              g_string_append_printf (res, "[%u,%u]", r * q + MIN (r, rem), q + (r < rem ? 1 : 0));
            }
            break;
          case 8:
            {
              guint c = r % 2, size = c == 0 ? (n + 1) / 2 : n / 2;
              g_string_append_printf (res, "{\"color\":%u,\"size\":%u,\"rank\":%u}", c, size, r / 2);
            }
            break;
          }
        g_string_append_printf (out, "{\"rank\": %u, \"op\": \"%s\", \"result\": %s}\n", r, ops[k], res->str);
        g_string_free (res, TRUE);
      }
  return g_string_free (out, FALSE);
}

static void
test_sample (gconstpointer data)
{
  guint n = GPOINTER_TO_UINT (data);
  g_autofree char *prog = dp_test_build_path ("samples/rmpi/rmpi");
  g_autofree char *ranks = g_strdup_printf ("%u", n);
  g_autofree char *expected = expected_sample (n);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         prog, "--ranks", ranks, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (sp) || g_subprocess_get_exit_status (sp) != 0)
    g_error ("rmpi --ranks %u failed: %s", n, err);
  g_assert_cmpstr (out, ==, expected);
}

/* ---- scenarios from tests/plugins/rmpi-places.c ---- */

static char *
config_for (guint n, const char *scenario)
{
  g_autoptr(GVariant) args = g_variant_ref_sink (g_variant_new_string (scenario));
  g_autofree char *defaults = dp_rmpi_build_default_config ("rmpi-places", "scenario", args);

  return dp_rmpi_make_localhost_config (defaults, n, 0, "r");
}

static GVariant *
launch (guint n, const char *scenario, GError **error)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autofree char *config = config_for (n, scenario);

  return dp_rmpi_launch (router, config, NULL, error);
}

/* rank @r's result */
static GVariant *
result_of (GVariant *results, guint r)
{
  GVariant *v;

  g_variant_get_child (results, r, "v", &v);
  return v;
}

static void
assert_variant (GVariant *got, const char *expected_text)
{
  g_autofree char *text = g_variant_print (got, FALSE);

  g_assert_cmpstr (text, ==, expected_text);
}

/* p2p messages sent before a collective (to others and to oneself) are
 * neither taken by it nor reordered */
static void
test_mix (gconstpointer data)
{
  guint n = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (n, "mix", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (results), ==, n);
  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GVariant) v = result_of (results, r);
      assert_variant (v, "true");
    }
}

/* with 6 ranks (recursive doubling) and 3 or 4 (one direct round) */
static void
test_reductions (gconstpointer data)
{
  const guint n = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (n, "reductions", &error);
  g_autoptr(GString) digits = g_string_new (NULL);
  g_autoptr(GString) gathered = g_string_new ("[");
  g_autofree char *sum_array = g_strdup_printf ("[%u, %u, -%u]", n * (n - 1) / 2, n, n * (n - 1) / 2);
  g_autofree char *min_tuple = g_strdup_printf ("(0.5, -%u)", n - 1);
  g_autofree char *bcast_mid = g_strdup_printf ("'%u'", n / 2);
  g_autofree char *concat = NULL;
  g_autofree char *product = NULL;
  double fact = 1;

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      fact *= i + 1;
      g_string_append_printf (digits, "%u", i);
      g_string_append_printf (gathered, "%s<'%u'>", i ? ", " : "", i);
    }
  g_string_append_c (gathered, ']');
  concat = g_strdup_printf ("'%s'", digits->str);
  {
    g_autoptr(GVariant) f = g_variant_ref_sink (g_variant_new_double (fact));
    product = g_variant_print (f, FALSE);
  }
  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GVariant) v = result_of (results, r);
      g_autoptr(GVariantDict) d = g_variant_dict_new (v);
      g_autoptr(GVariant) x = NULL;

#define CHECK(key, text) \
      x = g_variant_dict_lookup_value (d, key, NULL); \
      g_assert_nonnull (x); \
      assert_variant (x, text); \
      g_clear_pointer (&x, g_variant_unref)
      CHECK ("sum-array", sum_array);
      CHECK ("min-tuple", min_tuple);
      CHECK ("product", product);
      CHECK ("and", "false");
      CHECK ("or", "true");
      CHECK ("concat", concat);
      CHECK ("bcast-mid", bcast_mid);
      if (r == n - 1)
        {
          CHECK ("reduce-last", concat);
          CHECK ("gather-last", gathered->str);
        }
#undef CHECK
    }
}

static void
test_reduce_values (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) a = g_variant_ref_sink (g_variant_new_parsed ("[1, 2, 3]"));
  g_autoptr(GVariant) b = g_variant_ref_sink (g_variant_new_parsed ("[10, 20]"));
  g_autoptr(GVariant) s = g_variant_ref_sink (g_variant_new_string ("x"));
  g_autoptr(GVariant) r = NULL;

  r = dp_rmpi_reduce_values (DP_RMPI_MAX, a, a, &error);
  g_assert_no_error (error);
  assert_variant (r, "[1, 2, 3]");
  g_assert_null (dp_rmpi_reduce_values (DP_RMPI_SUM, a, b, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (dp_rmpi_reduce_values (DP_RMPI_SUM, s, s, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
}

static void
test_alltoallv (void)
{
  const guint n = 4;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (n, "alltoallv", &error);

  g_assert_no_error (error);
  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GVariant) v = result_of (results, r);
      g_autoptr(GString) expected = g_string_new ("[");

      /* r+1 copies of every rank's id */
      for (guint i = 0; i < n; i++)
        for (guint k = 0; k <= r; k++)
          g_string_append_printf (expected, "%s%u", expected->len > 1 ? ", " : "", i);
      g_string_append_c (expected, ']');
      assert_variant (v, expected->str);
    }
}

static void
test_split_duplicate (void)
{
  const guint n = 4;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (n, "split-duplicate", &error);

  g_assert_no_error (error);
  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GVariant) v = result_of (results, r);
      gint32 code;
      const char *message;

      g_assert_cmpstr (g_variant_get_type_string (v), ==, "(is)");
      g_variant_get (v, "(i&s)", &code, &message);
      g_assert_cmpint (code, ==, DP_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (message, "ranks 1 and 2 both have color 0 and key 1"));
    }
}

static void
test_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (3, "timeout", &error);
  g_autoptr(GVariant) r0 = NULL;

  g_assert_no_error (error);
  r0 = result_of (results, 0);
  assert_variant (r0, "(true, 'late')");
}

/* a rank that goes (its node dies, or its place returns) while the others
 * need it: dp_rmpi_launch fails naming it, no hang */
static void
test_lost (gconstpointer data)
{
  const char *scenario = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (5, scenario, &error);

  g_assert_null (results);
  g_assert_error (error, DP_ERROR, DP_ERROR_RANK_LOST);
  if (strstr (error->message, "rank 2") == NULL)
    g_error ("the error does not name rank 2: %s", error->message);
}

/* ---- a process stopped on purpose ---- */

/* A guard that kills a process stopped on purpose whatever happens to the
 * test: a shell reading its standard input, a pipe from this process; when
 * the pipe closes (guard_end(), or this process dies on a failed
 * assertion) it kills the pid written first in @pidfile if that process is
 * still stopped. */
static GSubprocess *
guard_new (const char *pidfile)
{
  static const char script[] =
    "read _; p=$(cut -d' ' -f1 \"$1\" 2>/dev/null) || exit 0; [ -n \"$p\" ] || exit 0; "
    "grep -q '^State:[[:space:]]*[tT]' /proc/$p/status 2>/dev/null && kill -KILL $p; exit 0";
  g_autoptr(GError) error = NULL;
  GSubprocess *sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE, &error,
                                      "/bin/sh", "-c", script, "guard", pidfile, NULL);

  g_assert_no_error (error);
  return sp;
}

static void
guard_end (GSubprocess *guard)
{
  g_output_stream_close (g_subprocess_get_stdin_pipe (guard), NULL, NULL);
  g_assert_true (g_subprocess_wait (guard, NULL, NULL));
}

/* "PID TIME" as the stopped process wrote it */
static void
read_stopped (const char *pidfile, gint64 *pid, gint64 *t_stop)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) parts = NULL;

  g_assert_true (g_file_get_contents (pidfile, &text, NULL, NULL));
  parts = g_strsplit (text, " ", 2);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  *pid = g_ascii_strtoll (parts[0], NULL, 10);
  *t_stop = g_ascii_strtoll (parts[1], NULL, 10);
  g_assert_cmpint (*pid, >, 0);
}

/* A rank lost only through the heartbeat: rank 1 stops its node (SIGSTOP:
 * its sockets stay open) while ranks 0, 2 and 3 wait for a message from
 * it. The nodes take their master's heartbeat settings (a new DpNode's:
 * every 2 s, dead after 10 s), so each waiting rank gets
 * DP_ERROR_RANK_LOST naming rank 1 once its node's timeout has passed and
 * ends; dp_rmpi_launch fails the same way once the master's own heartbeat
 * timeout has passed for rank 1's node (it waits for every rank to end:
 * the others already did). The margin above the timeout is ten times what
 * the same job took when it finished (at least 1 s), measured here. */
static void
test_lost_heartbeat (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autofree char *dir = g_dir_make_tmp ("rmpi-stop-XXXXXX", NULL);
  g_autofree char *pidfile = g_build_filename (dir, "pid", NULL);
  g_autofree char *scenario = g_strconcat ("stop:", dir, NULL);
  g_autofree char *config = config_for (4, scenario);
  g_autoptr(GSubprocess) guard = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = NULL;
  double node_interval, node_timeout, master_interval, master_timeout, margin;
  gint64 t0, took_us, t_end, pid, t_stop;

  g_object_get (router, "heartbeat-interval", &master_interval, "heartbeat-timeout", &master_timeout, NULL);
  node_interval = master_interval;
  node_timeout = master_timeout;
  t0 = g_get_monotonic_time ();
  {
    g_autofree char *ok = config_for (4, "mix");
    g_autoptr(GVariant) r = dp_rmpi_launch (router, ok, NULL, &error);

    g_assert_no_error (error);
  }
  took_us = g_get_monotonic_time () - t0;
  margin = MAX (1.0, 10.0 * took_us / G_USEC_PER_SEC);
  g_test_message ("a 4-rank job took %.0f ms; the heartbeat timeout %.1f s (master and nodes)",
                  took_us / 1000.0, master_timeout);

  /* the nodes whose connection to rank 1's node timed out say so */
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*no sign of life*heartbeat timeout*");
  guard = guard_new (pidfile);
  results = dp_rmpi_launch (router, config, NULL, &error);
  t_end = g_get_monotonic_time ();
  guard_end (guard);

  read_stopped (pidfile, &pid, &t_stop);
  g_assert_true (dp_test_wait_process_gone (pid, 10000));
  g_assert_null (results);
  g_assert_error (error, DP_ERROR, DP_ERROR_RANK_LOST);
  if (strstr (error->message, "rank 1") == NULL)
    g_error ("the launcher's error does not name rank 1: %s", error->message);
  g_test_message ("launcher after %.2f s: %s", (t_end - t_stop) / 1e6, error->message);
  /* the launcher heard of it from its heartbeats: not before its timeout
   * since it last heard from the node (at most an interval before the stop) */
  g_assert_cmpint (t_end - t_stop, >=, (gint64) ((master_timeout - master_interval - 0.01) * G_USEC_PER_SEC));
  g_assert_cmpint (t_end - t_stop, <=, (gint64) ((master_timeout + master_interval + margin) * G_USEC_PER_SEC));

  for (guint r = 0; r < 4; r++)
    {
      g_autofree char *name = g_strdup_printf ("rank-%u", r);
      g_autofree char *file = g_build_filename (dir, name, NULL);
      g_autofree char *text = NULL;
      g_auto(GStrv) parts = NULL;
      gint64 dt;

      if (r == 1)
        continue;
      if (!g_file_get_contents (file, &text, NULL, NULL))
        g_error ("rank %u said nothing before the launcher stopped it", r);
      parts = g_strsplit (text, " ", 3);
      g_assert_cmpuint (g_strv_length (parts), ==, 3);
      dt = g_ascii_strtoll (parts[1], NULL, 10) - t_stop;
      g_test_message ("rank %u after %.2f s: %s", r, dt / 1e6, parts[2]);
      g_assert_cmpint (g_ascii_strtoll (parts[0], NULL, 10), ==, DP_ERROR_RANK_LOST);
      if (strstr (parts[2], "rank 1 ") == NULL)
        g_error ("rank %u's error does not name rank 1: %s", r, parts[2]);
      /* from a heartbeat timeout, not sooner; within it (and the margin) */
      g_assert_cmpint (dt, >=, (gint64) ((node_timeout - node_interval - 0.01) * G_USEC_PER_SEC));
      g_assert_cmpint (dt, <=, (gint64) ((node_timeout + node_interval + margin) * G_USEC_PER_SEC));
      g_unlink (file);
    }
  g_unlink (pidfile);
  g_rmdir (dir);
}

/* The job's own timeout: the last rank never finishes. The timeout is ten
 * times what the same job took when every rank finished, measured here
 * (the other ranks finish well before it). */
static void
test_launch_timeout (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autofree char *ok = config_for (3, "mix");
  g_autofree char *hang = config_for (3, "hang");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;
  g_autofree char *list = NULL;
  gint64 t0, took_us;
  guint timeout_ms;

  t0 = g_get_monotonic_time ();
  r = dp_rmpi_launch (router, ok, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&r, g_variant_unref);
  timeout_ms = (guint) MAX (1, 10 * (g_get_monotonic_time () - t0) / 1000);

  t0 = g_get_monotonic_time ();
  r = dp_rmpi_launch_full (router, hang, NULL, timeout_ms, NULL, &error);
  took_us = g_get_monotonic_time () - t0;
  g_test_message ("timeout %u ms, failed after %.0f ms: %s", timeout_ms, took_us / 1000.0,
                  error ? error->message : "");
  g_assert_null (r);
  g_assert_error (error, DP_ERROR, DP_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "did not finish within its timeout"));
  g_assert_cmpint (took_us, >=, (gint64) timeout_ms * 1000);
  /* the list of ranks that had not finished has the last one */
  g_assert_true (g_str_has_suffix (error->message, "]"));
  list = g_strdup (strrchr (error->message, '[') + 1);
  g_assert_true (g_str_has_suffix (list, "2]"));

  /* the router goes on: a job after it runs */
  g_clear_error (&error);
  r = dp_rmpi_launch (router, ok, NULL, &error);
  g_assert_no_error (error);
}

static gpointer
cancel_soon (gpointer data)
{
  GCancellable *c = data;

  /* when does not matter: whatever the launch is doing, it ends cancelled */
  g_usleep (GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (c), "after-us")));
  g_cancellable_cancel (c);
  return NULL;
}

/* A GCancellable ends a job that would run for the default hour */
static void
test_launch_cancel (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autofree char *ok = config_for (2, "mix");
  g_autofree char *hang = config_for (2, "hang");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;
  GThread *thread;
  gint64 t0;

  /* cancelled already: nothing is spawned */
  g_cancellable_cancel (cancellable);
  g_assert_null (dp_rmpi_launch_full (router, hang, NULL, 0, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_cancellable_reset (cancellable);

  t0 = g_get_monotonic_time ();
  r = dp_rmpi_launch (router, ok, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&r, g_variant_unref);
  /* cancelled from another thread about when the job runs */
  g_object_set_data (G_OBJECT (cancellable), "after-us",
                     GUINT_TO_POINTER ((guint) MIN (g_get_monotonic_time () - t0, G_MAXUINT / 2)));
  thread = g_thread_new ("cancel", cancel_soon, cancellable);
  r = dp_rmpi_launch_full (router, hang, NULL, 0, cancellable, &error);
  g_thread_join (thread);
  g_assert_null (r);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* bad configs: clear errors, nothing spawned */
static void
test_bad_config (void)
{
  static const struct { const char *config, *says; } cases[] = {
    { "not json", "not JSON" },
    { "[]", "not a JSON object" },
    { "{\"ranks\": []}", "non-empty array" },
    { "{\"rank\": [{\"id\": 0}]}", "unknown key 'rank'" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\", \"colour\": 1}, \"ranks\": [{\"id\": 0}]}", "unknown key 'colour'" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0}, {\"id\": 0}]}", "two ranks have id 0" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0}, {\"id\": 2}]}", "the id of ranks[1]" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\"}, \"ranks\": [{\"id\": 0}]}", "rank 0 has no host" },
    { "{\"defaults\": {\"plugin\": \"p\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0}]}", "rank 0 has no symbol" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0, \"port\": 70000}]}", "port of rank 0" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0, \"name\": \"a\"}, {\"id\": 1, \"name\": \"a\"}]}", "two ranks are named 'a'" },
    { "{\"defaults\": {\"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0}, {\"id\": 1, \"plugin\": \"p\"}]}", "rank 0 has no plugin" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": \"0\"}]}", "the id of ranks[0]" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"name\": \"x\"}]}", "ranks[0] has no \"id\"" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [7]}", "ranks[0] is not an object" },
    { "{\"defaults\": [], \"ranks\": [{\"id\": 0}]}", "\"defaults\" is not an object" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"\"}, \"ranks\": [{\"id\": 0}]}", "rank 0 has no host" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\", \"port\": -1}, \"ranks\": [{\"id\": 0}]}", "port of rank 0" },
  };
  g_autoptr(DpNode) router = dp_test_new_router ();
  /* the "node program" only leaves a mark that it was run */
  g_autofree char *dir = g_dir_make_tmp ("rmpi-bad-XXXXXX", NULL);
  g_autofree char *mark = g_build_filename (dir, "spawned", NULL);
  g_autofree char *program = g_build_filename (dir, "node", NULL);
  g_autofree char *script = g_strdup_printf ("#!/bin/sh\ntouch '%s'\nexit 1\n", mark);
  g_autoptr(DpSpawnOptions) o = dp_spawn_options_new ();

  g_assert_true (g_file_set_contents (program, script, -1, NULL));
  g_assert_cmpint (g_chmod (program, 0700), ==, 0);
  dp_spawn_options_set_node_path (o, program);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) r = dp_rmpi_launch (router, cases[i].config, o, &error);

      g_assert_null (r);
      g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, cases[i].says) == NULL)
        g_error ("config %s: expected '%s' in: %s", cases[i].config, cases[i].says, error->message);
      g_clear_error (&error);
      g_assert_false (dp_rmpi_check_config (cases[i].config, &error));
    }
  /* nothing was spawned; a good config would have been */
  g_assert_false (g_file_test (mark, G_FILE_TEST_EXISTS));
  {
    g_autofree char *good = config_for (1, "mix");
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) r = dp_rmpi_launch (router, good, o, &error);

    g_assert_null (r);
    g_assert_nonnull (error);
    g_assert_true (g_file_test (mark, G_FILE_TEST_EXISTS));
  }
  g_unlink (mark);
  g_unlink (program);
  g_rmdir (dir);
}

/* a rank whose place cannot start: an error naming it, every node stopped */
static void
test_bad_symbol (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  const char *config = "{\"defaults\": {\"host\": \"localhost\", \"plugin\": \"rmpi-places\", "
                       "\"symbol\": \"scenario\", \"args\": \"mix\"}, "
                       "\"ranks\": [{\"id\": 0}, {\"id\": 1, \"symbol\": \"no_such_rank\"}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;

  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*no_such_rank*");
  r = dp_rmpi_launch (router, config, NULL, &error);
  g_assert_null (r);
  g_assert_error (error, DP_ERROR, DP_ERROR_SYMBOL_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "rank 1"));
}

static void
test_configs (void)
{
  g_autofree char *defaults = dp_rmpi_build_default_config ("pl", "sym", g_variant_new_int32 (7));
  const char *hosts[] = { "a", "b", NULL };
  g_autofree char *local = dp_rmpi_make_localhost_config (defaults, 3, 6340, "x");
  g_autofree char *remote = dp_rmpi_make_remote_config (defaults, hosts, 5, 7000, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (dp_rmpi_check_config (local, &error));
  g_assert_no_error (error);
  g_assert_true (dp_rmpi_check_config (remote, &error));
  g_assert_nonnull (strstr (local, "\"x2\""));
  g_assert_nonnull (strstr (local, "6342"));
  /* stops at the shorter of the hosts and the count */
  g_assert_nonnull (strstr (remote, "\"rmpi1\""));
  g_assert_null (strstr (remote, "\"rmpi2\""));
  g_assert_nonnull (strstr (remote, "7001"));
}

/* dp-launch --rmpi CONFIG.json: one JSON line per rank; a lost rank is
 * exit status 6 with {"error": ...}, a job past --rmpi-timeout 3; a bad
 * config exit status 2 */
static void
run_launch_with (const char *json, const char *option, int expect_status, char **out)
{
  g_autofree char *prog = dp_test_build_path ("loader/dp-launch");
  g_autofree char *dir = g_dir_make_tmp ("rmpi-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "job.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autofree char *err = NULL;

  g_assert_true (g_file_set_contents (file, json, -1, &error));
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         prog, "--rmpi", file, option, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (sp));
  if (g_subprocess_get_exit_status (sp) != expect_status)
    g_error ("dp-launch --rmpi exited %d, expected %d: %s", g_subprocess_get_exit_status (sp),
             expect_status, err);
  g_unlink (file);
  g_rmdir (dir);
}

static void
run_launch (const char *json, int expect_status, char **out)
{
  run_launch_with (json, NULL, expect_status, out);
}

static void
test_cli (void)
{
  g_autofree char *ok = NULL, *lost = NULL, *bad = NULL, *hung = NULL, *timeout = NULL;
  gint64 t0 = g_get_monotonic_time ();

  run_launch ("{\"defaults\": {\"host\": \"localhost\", \"plugin\": \"rmpi-places\", "
              "\"symbol\": \"scenario\", \"args\": \"mix\"}, "
              "\"ranks\": [{\"id\": 1}, {\"id\": 0, \"name\": \"first\"}, {\"id\": 2}]}", 0, &ok);
  g_assert_cmpstr (ok, ==, "{\"rank\": 0, \"result\": true}\n{\"rank\": 1, \"result\": true}\n"
                           "{\"rank\": 2, \"result\": true}\n");
  /* --rmpi-timeout: four times what that job took (the whole process) */
  timeout = g_strdup_printf ("--rmpi-timeout=%" G_GINT64_FORMAT,
                             MAX (1, 4 * (g_get_monotonic_time () - t0) / 1000));
  run_launch_with ("{\"defaults\": {\"host\": \"localhost\", \"plugin\": \"rmpi-places\", "
                   "\"symbol\": \"scenario\", \"args\": \"hang\"}, "
                   "\"ranks\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}]}", timeout, 3, &hung);
  g_assert_true (g_str_has_prefix (hung, "{\"error\": "));
  g_assert_nonnull (strstr (hung, "did not finish within its timeout"));
  run_launch ("{\"defaults\": {\"host\": \"localhost\", \"plugin\": \"rmpi-places\", "
              "\"symbol\": \"scenario\", \"args\": \"lose-return\"}, "
              "\"ranks\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}, {\"id\": 3}]}", 6, &lost);
  g_assert_true (g_str_has_prefix (lost, "{\"error\": "));
  g_assert_nonnull (strstr (lost, "rank 2"));
  run_launch ("{\"ranks\": [{\"id\": 0, \"hots\": \"x\"}]}", 2, &bad);
  g_assert_cmpstr (bad, ==, "");
}

/* ---- map-reduce ---- */

static DpMapReduceWorkers *
workers_new (DpNode *router, guint n)
{
  g_autoptr(GError) error = NULL;
  g_autofree DpNodeDesc *descs = g_new0 (DpNodeDesc, n);
  DpMapReduceWorkers *w;

  for (guint i = 0; i < n; i++)
    descs[i] = (DpNodeDesc) { "localhost", 0, NULL };
  w = dp_make_map_reduce_workers (router, descs, n, &error);
  g_assert_no_error (error);
  return w;
}

static GVariant *
int_tasks (gint32 from, gint32 to, gint32 extra)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("ai"));
  for (gint32 i = from; i < to; i++)
    g_variant_builder_add (&b, "i", i);
  if (extra != 0)
    g_variant_builder_add (&b, "i", extra);
  return g_variant_builder_end (&b);
}

/* pair keys (default sorter), pairwise reduces over the mesh, reused
 * workers, an outputer on the master */
static void
test_map_reduce_pairs (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpMapReduceWorkers) w = workers_new (router, 3);
  DpPluginFunc mapper = { "rmpi-places", "pair_mapper" }, reducer = { "rmpi-places", "sum_reducer" };
  DpPluginFunc outputer = { "rmpi-places", "count_outputer" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GVariant) counted = NULL;
  g_autoptr(GString) expected = g_string_new ("[");

  /* 0..29: key (n%3, n%2) has 5 numbers each; values: 5 ones + the numbers */
  r = dp_map_reduce (w, int_tasks (0, 30, 0), &mapper, &reducer, NULL, NULL, &error);
  g_assert_no_error (error);
  for (gint32 a = 0; a < 3; a++)
    for (gint32 b = 0; b < 2; b++)
      {
        gint32 sum = 5;
        for (gint32 n = 0; n < 30; n++)
          if (n % 3 == a && n % 2 == b)
            sum += n;
        g_string_append_printf (expected, "%s(<(%d, %d)>, [<%d>])", expected->len > 1 ? ", " : "", a, b, sum);
      }
  g_string_append_c (expected, ']');
  assert_variant (r, expected->str);

  counted = dp_map_reduce (w, int_tasks (0, 7, 0), &mapper, &reducer, NULL, &outputer, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (counted, G_VARIANT_TYPE_UINT32));
  g_assert_cmpuint (g_variant_get_uint32 (counted), ==, 6);
}

/* a worker whose node dies in the middle: an error naming it, no hang */
static void
test_map_reduce_lost (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpMapReduceWorkers) w = workers_new (router, 2);
  DpPluginFunc mapper = { "rmpi-places", "pair_mapper" }, reducer = { "rmpi-places", "sum_reducer" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = dp_map_reduce (w, int_tasks (0, 5, -1), &mapper, &reducer, NULL, NULL, &error);

  g_assert_null (r);
  g_assert_error (error, DP_ERROR, DP_ERROR_RANK_LOST);
  g_assert_nonnull (strstr (error->message, "worker mpw"));
  g_clear_error (&error);
  /* and the workers say so from then on */
  g_assert_null (dp_map_reduce (w, int_tasks (0, 2, 0), &mapper, &reducer, NULL, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_RANK_LOST);
}

/* A worker lost only through the heartbeat: its node stops (SIGSTOP) in
 * the mapper; map-reduce fails naming it once the master's heartbeat
 * timeout has passed (ten times a node's spawn measured here, at least
 * 1 s), not sooner. */
static void
test_map_reduce_stopped (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpMapReduceWorkers) w = NULL;
  DpPluginFunc mapper = { "rmpi-places", "pair_mapper" }, reducer = { "rmpi-places", "sum_reducer" };
  g_autofree char *name = g_strdup_printf ("dp-test-stopped-%d", (int) getpid ());
  g_autofree char *pidfile = g_build_filename (g_get_tmp_dir (), name, NULL);
  g_autoptr(GSubprocess) guard = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;
  const double interval = 0.05;
  double timeout;
  gint64 t0, t_end, pid, t_stop, spawn_us;

  g_unlink (pidfile);
  t0 = g_get_monotonic_time ();
  {
    g_autoptr(DpRemoteNode) probe G_GNUC_UNUSED = dp_test_spawn_node (router);
  }
  spawn_us = g_get_monotonic_time () - t0;
  timeout = MAX (1.0, 10.0 * spawn_us / G_USEC_PER_SEC);
  g_object_set (router, "heartbeat-interval", interval, "heartbeat-timeout", timeout, NULL);
  w = workers_new (router, 2);

  /* a connection the stopped worker's node made to this router (the
   * nodes take its heartbeat settings) may time out on its own as well */
  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*no sign of life*heartbeat timeout*");
  guard = guard_new (pidfile);
  r = dp_map_reduce (w, int_tasks (0, 5, -2), &mapper, &reducer, NULL, NULL, &error);
  t_end = g_get_monotonic_time ();
  guard_end (guard);

  read_stopped (pidfile, &pid, &t_stop);
  g_assert_true (dp_test_wait_process_gone (pid, 10000));
  g_unlink (pidfile);
  g_test_message ("heartbeat timeout %.2f s; failed after %.2f s: %s", timeout,
                  (t_end - t_stop) / 1e6, error ? error->message : "");
  g_assert_null (r);
  g_assert_error (error, DP_ERROR, DP_ERROR_RANK_LOST);
  g_assert_nonnull (strstr (error->message, "worker mpw"));
  g_assert_cmpint (t_end - t_stop, >=, (gint64) ((timeout - interval - 0.01) * G_USEC_PER_SEC));
  g_assert_cmpint (t_end - t_stop, <=, (gint64) ((timeout + interval) * G_USEC_PER_SEC + 10 * spawn_us));
}

static void
test_default_sorter (void)
{
  static const char *ordered[] = { "-3", "false", "int64 2", "2.5", "uint64 18446744073709551615",
                                   "'a'", "'b'", "(1, 'a')", "(1, 'b')", "(2, 'a')", "(2, 'a', 0)" };

  for (guint i = 0; i < G_N_ELEMENTS (ordered); i++)
    for (guint j = 0; j < G_N_ELEMENTS (ordered); j++)
      {
        g_autoptr(GVariant) a = g_variant_ref_sink (g_variant_new_parsed (ordered[i]));
        g_autoptr(GVariant) b = g_variant_ref_sink (g_variant_new_parsed (ordered[j]));
        int c = dp_map_reduce_default_sorter (a, b);

        if ((i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0))
          g_error ("default sorter: %s vs %s gave %d", ordered[i], ordered[j], c);
      }
}

static gint
by_string (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* samples/map-reduce/wordcount against a count made here */
static void
test_wordcount (void)
{
  g_autofree char *prog = dp_test_build_path ("samples/map-reduce/wordcount");
  g_autofree char *dir = g_dir_make_tmp ("wc-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "text.txt", NULL);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) words = g_ptr_array_new ();
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  guint32 seed = 12345;
  static const char *vocab[] = { "alpha", "Beta", "gamma", "delta", "x1", "y", "zeta", "eta", "theta", "9" };

  for (guint i = 0; i < 3000; i++)
    {
      seed = seed * 1103515245u + 12345u;
      g_string_append (text, vocab[(seed >> 16) % G_N_ELEMENTS (vocab)]);
      g_string_append (text, i % 11 == 10 ? ".\n" : (i % 3 ? " " : ", "));
    }
  g_assert_true (g_file_set_contents (file, text->str, -1, &error));
  /* the count made another way: split on what is not a letter or digit */
  {
    g_auto(GStrv) parts = g_regex_split_simple ("[^A-Za-z0-9]+", text->str, 0, 0);
    for (guint i = 0; parts[i]; i++)
      if (*parts[i])
        {
          char *w = g_ascii_strdown (parts[i], -1);
          gpointer n = g_hash_table_lookup (counts, w);
          g_hash_table_replace (counts, w, GUINT_TO_POINTER (GPOINTER_TO_UINT (n) + 1));
        }
  }
  {
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init (&it, counts);
    while (g_hash_table_iter_next (&it, &k, NULL))
      g_ptr_array_add (words, k);
    g_ptr_array_sort (words, by_string);
    for (guint i = 0; i < words->len; i++)
      g_string_append_printf (expected, "[\"%s\", %u]\n", (char *) words->pdata[i],
                              GPOINTER_TO_UINT (g_hash_table_lookup (counts, words->pdata[i])));
  }
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         prog, "--workers", "3", file, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (sp) || g_subprocess_get_exit_status (sp) != 0)
    g_error ("wordcount failed: %s", err);
  g_assert_cmpstr (out, ==, expected->str);
  g_unlink (file);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  static const guint sizes[] = { 5, 1, 2, 3, 7, 8 };

  dp_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/rmpi/sample/%u", sizes[i]);
      g_test_add_data_func (path, GUINT_TO_POINTER (sizes[i]), test_sample);
    }
  g_test_add_data_func ("/rmpi/mix/3", GUINT_TO_POINTER (3), test_mix);
  g_test_add_data_func ("/rmpi/mix/6", GUINT_TO_POINTER (6), test_mix);
  g_test_add_data_func ("/rmpi/reductions/6", GUINT_TO_POINTER (6), test_reductions);
  g_test_add_data_func ("/rmpi/reductions/4", GUINT_TO_POINTER (4), test_reductions);
  g_test_add_data_func ("/rmpi/reductions/3", GUINT_TO_POINTER (3), test_reductions);
  dp_test_add_func ("/rmpi/reduce-values", test_reduce_values);
  dp_test_add_func ("/rmpi/alltoallv", test_alltoallv);
  dp_test_add_func ("/rmpi/split-duplicate-key", test_split_duplicate);
  dp_test_add_func ("/rmpi/recv-timeout", test_timeout);
  g_test_add_data_func ("/rmpi/lost/node-dies", "lose-exit", test_lost);
  g_test_add_data_func ("/rmpi/lost/place-returns", "lose-return", test_lost);
  dp_test_add_func ("/rmpi/lost/heartbeat", test_lost_heartbeat);
  dp_test_add_func ("/rmpi/launch-timeout", test_launch_timeout);
  dp_test_add_func ("/rmpi/launch-cancel", test_launch_cancel);
  dp_test_add_func ("/rmpi/bad-config", test_bad_config);
  dp_test_add_func ("/rmpi/configs", test_configs);
  dp_test_add_func ("/rmpi/bad-symbol", test_bad_symbol);
  dp_test_add_func ("/rmpi/dp-launch", test_cli);
  dp_test_add_func ("/map-reduce/pairs", test_map_reduce_pairs);
  dp_test_add_func ("/map-reduce/worker-lost", test_map_reduce_lost);
  dp_test_add_func ("/map-reduce/worker-stopped", test_map_reduce_stopped);
  dp_test_add_func ("/map-reduce/default-sorter", test_default_sorter);
  dp_test_add_func ("/map-reduce/wordcount", test_wordcount);
  return g_test_run ();
}
