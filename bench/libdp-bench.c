/* libdp-bench: the benchmark workloads on libdp's public API
 *
 *   libdp-bench WORKLOAD      (W0 W1 W2 W2R W3 W3B W4 W2T W3T W4T W5 W6 W7 W8 W8R)
 *
 * W2T, W3T and W4T are W2, W3 and W4 with TLS on (DpNode:tls, over
 * loopback; credentials from the CA next to the cookie).
 *
 * Prints one JSON line {"workload":..,"value":..,"unit":..,"ok":true,...}
 * and exits 0; a wrong result (count, byte total, value) exits 1. Nodes are
 * real dp-node processes reached over loopback TCP (DP_NODE_PATH); places
 * come from the echo plugin (DP_PLUGIN_PATH or --plugin-dir).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include "bank.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char *plugin_dir;
static char *echo_plugin = "echo";

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static G_NORETURN void
die (const char *what, const GError *error)
{
  fprintf (stderr, "libdp-bench: %s: %s\n", what, error ? error->message : "failed");
  printf ("{\"ok\":false,\"error\":\"%s\"}\n", what);
  exit (1);
}

static DpSpawnOptions *
options (void)
{
  DpSpawnOptions *o = dp_spawn_options_new ();

  if (plugin_dir)
    dp_spawn_options_add_plugin_dir (o, plugin_dir);
  dp_spawn_options_set_output (o, DP_SPAWN_OUTPUT_STDERR);
  return o;
}

/* "T" for W2T, W3T, W4T: the workload with TLS on */
static const char *suffix = "";

static void
report (const char *w, double value, const char *unit, const char *extra)
{
  printf ("{\"workload\":\"%s%s\",\"system\":\"libdp\",\"value\":%.6g,\"unit\":\"%s\",\"ok\":true%s%s}\n",
          w, suffix, value, unit, extra ? "," : "", extra ? extra : "");
}

static DpRemoteConnection *
start_place (DpNode *node, DpRemoteNode **remote, const char *symbol)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnOptions) o = options ();
  DpRemoteConnection *pl = NULL;

  if (!dp_spawn_node_supervise_place_at (node, "localhost", 0, echo_plugin, symbol,
                                         DP_LAUNCH_NONE, NULL, o, remote, &pl, &error))
    die ("spawn", error);
  return pl;
}

/* W1S: W1 with the node spawned over ssh, to the host alias and ssh config
 * given in $DP_BENCH_SSH_HOST / $DP_BENCH_SSH_CONFIG (bench/run.sh runs
 * under tests/sshd-fixture.sh: a private sshd on loopback) */
static void
w1s (DpNode *node)
{
  const char *host = g_getenv ("DP_BENCH_SSH_HOST");
  const char *config = g_getenv ("DP_BENCH_SSH_CONFIG");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnOptions) o = options ();
  g_autoptr(DpRemoteNode) remote = NULL;
  DpRemoteConnection *pl = NULL;
  g_autoptr(GVariant) r = NULL;
  double t0;

  if (host == NULL || config == NULL)
    die ("W1S needs DP_BENCH_SSH_HOST and DP_BENCH_SSH_CONFIG", NULL);
  dp_spawn_options_set_method (o, DP_SPAWN_SSH);
  dp_spawn_options_set_ssh_config (o, config);
  t0 = now_s ();
  if (!dp_spawn_node_supervise_place_at (node, host, 0, echo_plugin, "echo",
                                         DP_LAUNCH_NONE, NULL, o, &remote, &pl, &error))
    die ("W1S spawn", error);
  dp_remote_connection_put (pl, g_variant_new_int64 (42));
  r = dp_remote_connection_get (pl);
  if (r == NULL || g_variant_get_int64 (r) != 42)
    die ("W1S reply", NULL);
  report ("W1S", (now_s () - t0) * 1e3, "ms", NULL);
  g_object_unref (pl);
}

static void
w1 (DpNode *node)
{
  double t0 = now_s ();
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRemoteConnection) pl = start_place (node, &remote, "echo");
  g_autoptr(GVariant) r = NULL;

  dp_remote_connection_put (pl, g_variant_new_int64 (42));
  r = dp_remote_connection_get (pl);
  if (r == NULL || g_variant_get_int64 (r) != 42)
    die ("W1 reply", NULL);
  report ("W1", (now_s () - t0) * 1e3, "ms", NULL);
}

static void
w2 (DpNode *node)
{
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRemoteConnection) pl = start_place (node, &remote, "echo");
  const int n = 10000;
  double t0;

  for (int i = 0; i < 200; i++)  /* warm up */
    {
      dp_remote_connection_put (pl, g_variant_new_int64 (42));
      g_variant_unref (dp_remote_connection_get (pl));
    }
  t0 = now_s ();
  for (int i = 0; i < n; i++)
    {
      GVariant *r;
      dp_remote_connection_put (pl, g_variant_new_int64 (42));
      r = dp_remote_connection_get (pl);
      if (r == NULL || g_variant_get_int64 (r) != 42)
        die ("W2 reply", NULL);
      g_variant_unref (r);
    }
  report ("W2", (now_s () - t0) * 1e6 / n, "us/rt", NULL);
}

/* W8: a place on node A makes 10,000 sequential round trips with the
 * named place on node B — directly (the nodes connected to each other,
 * dp_place_channel_connect()), and the same exchange relayed through this
 * master (each message got from A and put to B, and back). The place
 * measures each pass; passes alternate, the median of each is reported:
 * the direct one as the value, the relayed one as "relayed_us_rt". */
static gint64
w8_pass (DpRemoteConnection *pinger, DpRemoteConnection *named, const char *mode,
         guint16 port, guint32 n)
{
  g_autoptr(GVariant) done = NULL;
  const char *what;
  gint64 us;

  dp_remote_connection_put (pinger, g_variant_new ("(ssqsu)", mode, "127.0.0.1", port, "pong", n));
  if (g_strcmp0 (mode, "relay") == 0)
    for (guint32 i = 0; i < n; i++)
      {
        GVariant *m = dp_remote_connection_get (pinger);
        GVariant *r;

        if (m == NULL)
          die ("W8 relay", NULL);
        dp_remote_connection_put (named, m);
        g_variant_unref (m);
        r = dp_remote_connection_get (named);
        if (r == NULL)
          die ("W8 relay reply", NULL);
        dp_remote_connection_put (pinger, r);
        g_variant_unref (r);
      }
  done = dp_remote_connection_get (pinger);
  if (done == NULL)
    die ("W8 result", dp_remote_connection_get_error (pinger));
  g_variant_get (done, "(&sx)", &what, &us);
  if (g_strcmp0 (what, "done") != 0 || us <= 0)
    {
      fprintf (stderr, "libdp-bench: W8 %s: %s\n", mode, what);
      die ("W8 exchange", NULL);
    }
  return us;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
w8 (DpNode *node)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnOptions) o = options ();
  g_autoptr(DpRemoteNode) a = dp_remote_node_spawn (node, "localhost", 0, o, NULL, &error);
  g_autoptr(DpRemoteNode) b = NULL;
  g_autoptr(DpRemoteConnection) pinger = NULL;
  g_autoptr(DpRemoteConnection) named = NULL;
  const guint32 n = 10000;
  enum { PASSES = 3 };
  double direct[PASSES], relayed[PASSES];
  char extra[128];
  guint16 port;

  if (a == NULL)
    die ("W8 spawn", error);
  b = dp_remote_node_spawn (node, "localhost", 0, o, NULL, &error);
  if (b == NULL)
    die ("W8 spawn", error);
  port = dp_remote_node_get_port (b);
  named = dp_remote_node_launch_place (b, echo_plugin, "echo_named", DP_LAUNCH_NONE, "pong");
  pinger = dp_remote_node_launch_place (a, echo_plugin, "mesh_pinger", DP_LAUNCH_NONE, NULL);
  if (!dp_remote_connection_wait_ready (named, NULL, &error) ||
      !dp_remote_connection_wait_ready (pinger, NULL, &error))
    die ("W8 launch", error);
  /* warm up both paths (the nodes' connection is made here) */
  w8_pass (pinger, named, "direct", port, 200);
  w8_pass (pinger, named, "relay", port, 200);
  for (int i = 0; i < PASSES; i++)
    {
      direct[i] = (double) w8_pass (pinger, named, "direct", port, n) / n;
      relayed[i] = (double) w8_pass (pinger, named, "relay", port, n) / n;
    }
  qsort (direct, PASSES, sizeof (double), cmp_double);
  qsort (relayed, PASSES, sizeof (double), cmp_double);
  g_snprintf (extra, sizeof extra, "\"relayed_us_rt\":%.6g", relayed[PASSES / 2]);
  report ("W8", direct[PASSES / 2], "us/rt", extra);
}

/* W8R: W8 as RPC: a place on node A (rpc_pinger, bench/bench-places.c,
 * found in $DP_BENCH_PLACES_DIR) makes 10,000 sequential calls of the
 * bank's add through the generated stubs, on the bank named "bank" on node
 * B ($DP_BENCH_SERVERS_DIR), reached with dp_place_channel_connect(). The
 * place measures each pass; the median of the passes is reported. */
static gint64
w8r_pass (DpRemoteConnection *pinger, guint16 port, guint32 n)
{
  g_autoptr(GVariant) done = NULL;
  const char *what;
  gint64 us;

  dp_remote_connection_put (pinger, g_variant_new ("(sqsu)", "127.0.0.1", port, "bank", n));
  done = dp_remote_connection_get (pinger);
  if (done == NULL)
    die ("W8R result", dp_remote_connection_get_error (pinger));
  g_variant_get (done, "(&sx)", &what, &us);
  if (g_strcmp0 (what, "done") != 0 || us <= 0)
    {
      fprintf (stderr, "libdp-bench: W8R: %s\n", what);
      die ("W8R calls", NULL);
    }
  return us;
}

static void
w8r (DpNode *node)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnOptions) o = options ();
  g_autoptr(DpRemoteNode) a = NULL;
  g_autoptr(DpRemoteNode) b = NULL;
  g_autoptr(DpRemoteConnection) pinger = NULL;
  g_autoptr(DpRemoteConnection) bank = NULL;
  const char *servers = g_getenv ("DP_BENCH_SERVERS_DIR");
  const char *places = g_getenv ("DP_BENCH_PLACES_DIR");
  const guint32 n = 10000;
  enum { PASSES = 3 };
  double pass[PASSES];
  guint16 port;

  if (servers)
    dp_spawn_options_add_plugin_dir (o, servers);
  if (places)
    dp_spawn_options_add_plugin_dir (o, places);
  a = dp_remote_node_spawn (node, "localhost", 0, o, NULL, &error);
  if (a == NULL)
    die ("W8R spawn", error);
  b = dp_remote_node_spawn (node, "localhost", 0, o, NULL, &error);
  if (b == NULL)
    die ("W8R spawn", error);
  port = dp_remote_node_get_port (b);
  bank = dp_remote_node_launch_place (b, "bank", BANK_PLACE_SYMBOL, DP_LAUNCH_NONE, "bank");
  pinger = dp_remote_node_launch_place (a, "bench-places", "rpc_pinger", DP_LAUNCH_NONE, NULL);
  if (!dp_remote_connection_wait_ready (bank, NULL, &error) ||
      !dp_remote_connection_wait_ready (pinger, NULL, &error))
    die ("W8R launch", error);
  /* warm up (the nodes' connection is made here) */
  w8r_pass (pinger, port, 200);
  for (int i = 0; i < PASSES; i++)
    pass[i] = (double) w8r_pass (pinger, port, n) / n;
  qsort (pass, PASSES, sizeof (double), cmp_double);
  report ("W8R", pass[PASSES / 2], "us/rt", NULL);
}

/* W2R: W2 as RPC: sequential calls of the bank's add (samples/servers,
 * generated by dp-codegen) from the master to a place; the bank plugin is
 * found in $DP_BENCH_SERVERS_DIR */
static void
w2r (DpNode *node)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnOptions) o = options ();
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRemoteConnection) bank = NULL;
  g_autoptr(GVariant) r = NULL;
  const char *servers = g_getenv ("DP_BENCH_SERVERS_DIR");
  const int n = 10000;
  double t0;

  if (servers)
    dp_spawn_options_add_plugin_dir (o, servers);
  if (!dp_spawn_node_supervise_place_at (node, "localhost", 0, "bank", BANK_PLACE_SYMBOL,
                                         DP_LAUNCH_NONE, NULL, o, &remote, &bank, &error))
    die ("W2R spawn", error);
  if (!bank_call_new_account_sync (DP_CHANNEL (bank), "user0", &r, NULL, &error))
    die ("W2R new-account", error);
  for (int i = 0; i < 200; i++)  /* warm up */
    {
      g_clear_pointer (&r, g_variant_unref);
      if (!bank_call_add_sync (DP_CHANNEL (bank), "user0", 0, &r, NULL, &error))
        die ("W2R add", error);
    }
  t0 = now_s ();
  for (int i = 0; i < n; i++)
    {
      g_clear_pointer (&r, g_variant_unref);
      if (!bank_call_add_sync (DP_CHANNEL (bank), "user0", 1, &r, NULL, &error))
        die ("W2R add", error);
    }
  report ("W2R", (now_s () - t0) * 1e6 / n, "us/rt", NULL);
  /* the last reply is (ok n) */
  {
    g_autoptr(GVariant) values = g_variant_get_child_value (r, 1);
    g_autoptr(GVariant) boxed = g_variant_n_children (values) ? g_variant_get_child_value (values, 0) : NULL;
    g_autoptr(GVariant) balance = boxed ? g_variant_get_variant (boxed) : NULL;

    if (balance == NULL || !g_variant_is_of_type (balance, G_VARIANT_TYPE_INT64) ||
        g_variant_get_int64 (balance) != n)
      die ("W2R balance", NULL);
  }
}

/* W5: RMPI collectives with 4 ranks, each on a node of its own
 * (bench/rmpi-bench.c, built beside this program) */
static void
w5 (DpNode *node)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnOptions) o = options ();
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");
  g_autofree char *defaults = dp_rmpi_build_default_config ("rmpi-bench", "rmpi_bench_rank", NULL);
  const char *ranks_env = g_getenv ("DP_BENCH_W5_RANKS");   /* for experiments; W5 is 4 */
  guint ranks = ranks_env ? (guint) atoi (ranks_env) : 4;
  g_autofree char *config = dp_rmpi_make_localhost_config (defaults, ranks, 0, "w5-");
  g_autoptr(GVariant) results = NULL;
  g_autoptr(GVariant) r0 = NULL;
  gboolean ok = TRUE;
  double allreduce, barrier, broadcast, cpu[3] = { 0, 0, 0 };
  char extra[320];

  dp_spawn_options_add_plugin_dir (o, self_dir);
  results = dp_rmpi_launch (node, config, o, &error);
  if (results == NULL)
    die ("W5 launch", error);
  for (gsize i = 0; i < g_variant_n_children (results); i++)
    {
      g_autoptr(GVariant) r = NULL;
      gboolean rank_ok;
      double c[3];

      g_variant_get_child (results, i, "v", &r);
      if (!g_variant_is_of_type (r, G_VARIANT_TYPE ("(bdddddd)")))
        die ("W5 result", NULL);
      g_variant_get (r, "(bdddddd)", &rank_ok, NULL, NULL, NULL, &c[0], &c[1], &c[2]);
      ok = ok && rank_ok;
      for (int k = 0; k < 3; k++)
        cpu[k] += c[k];
    }
  if (!ok)
    die ("W5 values", NULL);
  g_variant_get_child (results, 0, "v", &r0);
  g_variant_get (r0, "(bdddddd)", NULL, &allreduce, &barrier, &broadcast, NULL, NULL, NULL);
  /* the CPU time of all the ranks' nodes per operation */
  g_snprintf (extra, sizeof extra, "\"barrier_us\":%.6g,\"broadcast_us\":%.6g,\"ranks\":%u,"
              "\"allreduce_cpu_us\":%.6g,\"barrier_cpu_us\":%.6g,\"broadcast_cpu_us\":%.6g",
              barrier, broadcast, ranks, cpu[0], cpu[1], cpu[2]);
  report ("W5", allreduce, "us/op", extra);
}

/* W3 and W3B: this many messages of 64 bytes (a string of 64 'x') */
#define W3_N       ((guint64) 200000)
#define W3_PAYLOAD "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
G_STATIC_ASSERT (sizeof W3_PAYLOAD == 64 + 1);

/* The end of W3 and W3B: the place's count of the @n messages put since
 * @t0 (asked for with "count?") is checked, and the rate reported */
static void
w3_report (DpRemoteConnection *pl,
           const char         *workload,
           guint64             n,
           double              t0)
{
  g_autoptr(GVariant) r = NULL;
  guint64 count = 0, bytes = 0;
  char what[32];

  dp_remote_connection_put (pl, g_variant_new_string ("count?"));
  r = dp_remote_connection_get (pl);
  g_snprintf (what, sizeof what, "%s reply", workload);
  if (r == NULL)
    die (what, NULL);
  g_variant_get (r, "(tt)", &count, &bytes);
  g_snprintf (what, sizeof what, "%s count", workload);
  if (count != n)
    die (what, NULL);
  report (workload, n / (now_s () - t0), "msg/s", NULL);
}

static void
w3 (DpNode *node)
{
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRemoteConnection) pl = start_place (node, &remote, "count");
  double t0 = now_s ();

  for (guint64 i = 0; i < W3_N; i++)
    dp_remote_connection_put (pl, g_variant_new_string (W3_PAYLOAD));
  w3_report (pl, "W3", W3_N, t0);
}

/* W3B: W3 through the batch API: the master puts batches of 64
 * (dp_remote_connection_put_many()), the place reads up to 64 at a time
 * (the echo plugin's count_many, dp_place_channel_get_many()) */
static void
w3b (DpNode *node)
{
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRemoteConnection) pl = start_place (node, &remote, "count_many");
  GVariant *batch[64];
  double t0 = now_s ();

  for (guint64 i = 0; i < W3_N; i += G_N_ELEMENTS (batch))
    {
      guint k = (guint) MIN ((guint64) G_N_ELEMENTS (batch), W3_N - i);

      for (guint j = 0; j < k; j++)
        batch[j] = g_variant_new_string (W3_PAYLOAD);
      if (!dp_remote_connection_put_many (pl, batch, k))
        die ("W3B put", NULL);
    }
  w3_report (pl, "W3B", W3_N, t0);
}

static void
w4 (DpNode *node)
{
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRemoteConnection) pl = start_place (node, &remote, "count");
  const guint64 n = 256, size = 4 * 1024 * 1024;
  g_autofree guint8 *blob = g_malloc (size);
  g_autoptr(GBytes) bytes_obj = NULL;
  g_autoptr(GVariant) r = NULL;
  guint64 count = 0, bytes = 0;
  double t0, dt;

  memset (blob, 0xab, size);
  bytes_obj = g_bytes_new_static (blob, size);
  t0 = now_s ();
  for (guint64 i = 0; i < n; i++)
    dp_remote_connection_put (pl, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes_obj, TRUE));
  dp_remote_connection_put (pl, g_variant_new_string ("count?"));
  r = dp_remote_connection_get (pl);
  if (r == NULL)
    die ("W4 reply", NULL);
  g_variant_get (r, "(tt)", &count, &bytes);
  dt = now_s () - t0;
  if (count != n || bytes != n * size)
    die ("W4 byte total", NULL);
  report ("W4", (double) (n * size) / dt / 1e6, "MB/s", NULL);
}

typedef struct {
  DpNode   *node;
  int       pending;
  gboolean  failed;
  GPtrArray *keep;
} W6State;

static void
w6_spawned (G_GNUC_UNUSED GObject *source, GAsyncResult *result, gpointer data)
{
  W6State *st = data;
  g_autoptr(GError) error = NULL;
  DpRemoteNode *remote = dp_remote_node_spawn_finish (result, &error);
  DpRemoteConnection *pl;
  GVariant *r;

  if (remote == NULL)
    die ("W6 spawn", error);
  pl = dp_remote_node_launch_place (remote, echo_plugin, "echo", DP_LAUNCH_NONE, NULL);
  dp_remote_connection_put (pl, g_variant_new_int64 (7));
  r = dp_remote_connection_get (pl);
  if (r == NULL || g_variant_get_int64 (r) != 7)
    st->failed = TRUE;
  g_clear_pointer (&r, g_variant_unref);
  g_ptr_array_add (st->keep, pl);
  g_ptr_array_add (st->keep, remote);
  st->pending--;
}

static void
w6 (DpNode *node)
{
  W6State st = { node, 8, FALSE, g_ptr_array_new_with_free_func (g_object_unref) };
  g_autoptr(DpSpawnOptions) o = options ();
  double t0 = now_s ();

  for (int i = 0; i < 8; i++)
    dp_remote_node_spawn_async (node, "localhost", 0, o, NULL, w6_spawned, &st);
  while (st.pending > 0)
    g_main_context_iteration (NULL, TRUE);
  if (st.failed)
    die ("W6 replies", NULL);
  report ("W6", (now_s () - t0) * 1e3, "ms", NULL);
  g_ptr_array_unref (st.keep);
}

static gint64
rss_kb (gint64 pid, const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/status", pid);
  g_autofree char *text = NULL;
  const char *p;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strstr (text, field)) == NULL)
    return -1;
  return g_ascii_strtoll (p + strlen (field), NULL, 10);
}

static void
w7 (DpNode *node)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnOptions) o = options ();
  g_autoptr(DpRemoteNode) remote = dp_remote_node_spawn (node, "localhost", 0, o, NULL, &error);
  g_autoptr(GPtrArray) places = g_ptr_array_new_with_free_func (g_object_unref);
  const int n = 1000;
  gint64 idle_rss;
  double t0;
  char extra[160];

  if (remote == NULL)
    die ("W7 spawn", error);
  idle_rss = rss_kb (dp_remote_node_get_pid (remote), "VmRSS:");
  t0 = now_s ();
  for (int i = 0; i < n; i++)
    {
      DpRemoteConnection *pl = dp_remote_node_launch_place (remote, echo_plugin, "echo", DP_LAUNCH_NONE, NULL);
      dp_remote_connection_put (pl, g_variant_new_int32 (i));
      g_ptr_array_add (places, pl);
    }
  for (int i = 0; i < n; i++)
    {
      g_autoptr(GVariant) r = dp_remote_connection_get (places->pdata[i]);
      if (r == NULL || g_variant_get_int32 (r) != i)
        die ("W7 reply", dp_remote_connection_get_error (places->pdata[i]));
    }
  g_snprintf (extra, sizeof extra, "\"node_idle_rss_kb\":%" G_GINT64_FORMAT ",\"node_peak_rss_kb\":%" G_GINT64_FORMAT,
              idle_rss, rss_kb (dp_remote_node_get_pid (remote), "VmHWM:"));
  report ("W7", (now_s () - t0) * 1e3, "ms", extra);
}

/* W0's launcher: dp-launch spawned, fed and waited for exactly as the
 * baselines' launchers are (bench-util.c: posix_spawn(), blocking pipe
 * I/O, waitpid()), so that the harness's own part is alike for all */
static void
w0 (void)
{
  /* the whole dp-launch process: spawn, place, one message, exit */
  const char *launch = g_getenv ("DP_LAUNCH_PATH");
  g_autofree char *plugin = NULL;
  posix_spawn_file_actions_t fa;
  int in[2], out[2], status, err;
  char buf[64];
  size_t got = 0;
  pid_t pid;
  double t0;

  if (launch == NULL || plugin_dir == NULL)
    die ("W0 needs DP_LAUNCH_PATH and --plugin-dir", NULL);
  plugin = g_build_filename (plugin_dir, "echo.so", NULL);
  {
    const char *argv[] = { launch, "localhost:0", plugin, "echo", NULL };

    t0 = now_s ();
    if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (out, O_CLOEXEC) < 0)
      die ("W0 pipe", NULL);
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_adddup2 (&fa, in[0], 0);     /* dup2 clears CLOEXEC */
    posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
    posix_spawn_file_actions_addopen (&fa, 2, "/dev/null", O_WRONLY, 0);
    err = posix_spawn (&pid, launch, &fa, NULL, (char *const *) argv, environ);
    posix_spawn_file_actions_destroy (&fa);
  }
  close (in[0]);
  close (out[1]);
  if (err != 0)
    die ("W0 posix_spawn dp-launch", NULL);
  if (write (in[1], "\"Hello\"\n", 8) != 8)
    die ("W0 write", NULL);
  close (in[1]);
  for (;;)
    {
      ssize_t n = read (out[0], buf + got, sizeof buf - 1 - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        die ("W0 read", NULL);
      if (n == 0 || (got += (size_t) n) == sizeof buf - 1)
        break;
    }
  buf[got] = '\0';
  close (out[0]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      die ("W0 waitpid", NULL);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0 || strcmp (buf, "\"Hello\"\n") != 0)
    die ("W0 output", NULL);
  report ("W0", (now_s () - t0) * 1e3, "ms", NULL);
}

int
main (int argc, char **argv)
{
  g_autoptr(DpNode) node = NULL;
  const char *w;

  for (int i = 1; i + 1 < argc; i++)
    if (strcmp (argv[i], "--plugin-dir") == 0)
      plugin_dir = argv[i + 1];
  if (argc < 2)
    {
      fprintf (stderr, "usage: libdp-bench W0|W1|W1S|W2|W2R|W3|W3B|W4|W2T|W3T|W4T|W5|W6|W7|W8|W8R [--plugin-dir DIR]\n");
      return 2;
    }
  w = argv[1];
  if (strcmp (w, "W0") == 0)
    {
      w0 ();
      return 0;
    }
  node = dp_node_new ();
  if (strcmp (w, "W2T") == 0 || strcmp (w, "W3T") == 0 || strcmp (w, "W4T") == 0)
    {
      /* TLS on over loopback: the credentials from the CA next to the
       * cookie, the node's handed over on its standard input */
      g_object_set (node, "tls", DP_TLS_ON, NULL);
      suffix = "T";
      w = w[1] == '2' ? "W2" : w[1] == '3' ? "W3" : "W4";
    }
  if (strcmp (w, "W1") == 0) w1 (node);
  else if (strcmp (w, "W1S") == 0) w1s (node);
  else if (strcmp (w, "W2") == 0) w2 (node);
  else if (strcmp (w, "W2R") == 0) w2r (node);
  else if (strcmp (w, "W3") == 0) w3 (node);
  else if (strcmp (w, "W3B") == 0) w3b (node);
  else if (strcmp (w, "W4") == 0) w4 (node);
  else if (strcmp (w, "W6") == 0) w6 (node);
  else if (strcmp (w, "W7") == 0) w7 (node);
  else if (strcmp (w, "W8") == 0) w8 (node);
  else if (strcmp (w, "W8R") == 0) w8r (node);
  else if (strcmp (w, "W5") == 0) w5 (node);
  else
    {
      fprintf (stderr, "libdp-bench: unknown workload %s\n", w);
      return 2;
    }
  fflush (stdout);
  _exit (0);
}
