/* Many hosts on one machine: a master in the root network namespace and
 * nodes spawned over ssh on 16 hosts, each a network namespace with an
 * sshd of its own, joined by a bridge (tests/netns/netns.sh, which runs
 * this program and makes the faults: a link down, a partition, an sshd
 * killed).
 *
 * One cluster (4 nodes on every host, an echo place on each) is spawned by
 * the first test that needs it and shared by the others; each test leaves
 * it whole again. Every budget comes from what was measured here (one
 * spawn, the heartbeat settings derived from it); the waits have only a
 * hang guard.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODES_PER_HOST 4
#define HEARTBEAT_INTERVAL_S 0.2
/* The least heartbeat timeout. Under AddressSanitizer 6 s: not a
 * starvation in libdp (the TLS burst's cause, the trust store parsed per
 * connection on the router, is gone, and 2 s passes there on a quiet
 * machine) but capacity: 128 sanitized node processes share two cores, a
 * TLS record costs 19 µs to send and receive there against 3 µs without,
 * and with other work loading the machine to ~50 a rank went 2.4 s
 * without the CPU in the middle of the 64-rank job. */
#if defined(__SANITIZE_ADDRESS__)
#define HEARTBEAT_TIMEOUT_MIN_S 6.0
#else
#define HEARTBEAT_TIMEOUT_MIN_S 2.0
#endif

typedef struct {
  DpRemoteNode       *node;
  DpRemoteConnection *echo;       /* its echo place, relaunched with the node */
  guint               host;       /* index into Cluster.hosts */
  guint               deaths;     /* "died" signals */
  guint               restarts;   /* "restarted" signals */
  gint64              died_at;    /* monotonic time of the last "died" */
  char               *reason;     /* the last death's reason */
} Member;

typedef struct {
  DpNode         *router;
  DpSpawnOptions *options;
  char          **hosts;          /* "h01" ... */
  guint           n_hosts;
  GPtrArray      *members;        /* Member*, NODES_PER_HOST per host, host-major */
  gint64          one_spawn_us;   /* one node alone, spawned to ready */
  gint64          all_spawn_us;   /* all of them at once */
  gint64          all_spawn_cpu_us; /* this process's CPU time meanwhile */
  gdouble         hb_timeout;     /* seconds */
} Cluster;

static Cluster *cluster;

static const char *
env (const char *name)
{
  return dp_test_fixture_env (name, "tests/netns/netns.sh");
}

/* ---- the network's faults (tests/netns/netns.sh's commands) ---- */

/* netns.sh COMMAND HOST... for @n hosts from @hosts */
static void
netns_ctl (const char         *command,
           const char * const *hosts,
           guint               n)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_ptr_array_add (argv, (char *) env ("DP_TEST_NETNS_CTL"));
  g_ptr_array_add (argv, (char *) command);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (argv, (char *) hosts[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("netns.sh %s: %s: %s", command, error->message, err);
}

/* ---- waiting, with a hang guard only ---- */

typedef gboolean (*Condition) (gpointer data);

static gboolean
guard_fired (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until @cond holds; fails (never hangs) after
 * @guard_us, which is only a guard against a hang. */
static void
wait_for (Condition   cond,
          gpointer    data,
          gint64      guard_us,
          const char *what)
{
  g_autoptr(GSource) guard = g_timeout_source_new ((guint) (guard_us / 1000));
  gboolean given_up = FALSE;

  g_source_set_callback (guard, guard_fired, &given_up, NULL);
  g_source_attach (guard, NULL);
  while (!cond (data) && !given_up)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (guard);
  if (given_up)
    g_error ("no %s within %.1f s (a hang guard)", what, guard_us / 1e6);
}

/* the hang guard of every wait: far beyond anything measured */
static gint64
guard_us (void)
{
  return MAX (60 * G_USEC_PER_SEC, 20 * cluster->all_spawn_us);
}

/* ---- the cluster ---- */

static void
member_free (gpointer data)
{
  Member *m = data;

  if (m->node)
    g_signal_handlers_disconnect_by_data (m->node, m);
  g_clear_object (&m->echo);
  g_clear_object (&m->node);
  g_free (m->reason);
  g_free (m);
}

static void
member_died (DpRemoteNode *node,
             const char   *reason,
             gpointer      data)
{
  Member *m = data;

  m->deaths++;
  m->died_at = g_get_monotonic_time ();
  g_free (m->reason);
  m->reason = g_strdup (reason);
}

static void
member_restarted (DpRemoteNode *node,
                  guint         attempt,
                  gpointer      data)
{
  ((Member *) data)->restarts++;
}

static DpSpawnOptions *
ssh_options (void)
{
  DpSpawnOptions *o = dp_spawn_options_new ();
  g_autofree char *plugins = dp_test_build_path ("plugins");

  dp_spawn_options_set_method (o, DP_SPAWN_SSH);
  dp_spawn_options_set_ssh_config (o, env ("DP_TEST_SSH_CONFIG"));
  dp_spawn_options_add_plugin_dir (o, plugins);
  {
    /* the mesh test's places (tests/plugins/mesh-places.c) */
    g_autofree char *test_plugins = dp_test_build_path ("tests");

    dp_spawn_options_add_plugin_dir (o, test_plugins);
  }
  dp_spawn_options_set_output (o, DP_SPAWN_OUTPUT_DISCARD);
  return o;
}

static void
spawned_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Member *m = data;
  g_autoptr(GError) error = NULL;

  m->node = dp_remote_node_spawn_finish (result, &error);
  g_assert_no_error (error);
  g_assert_true (dp_remote_node_is_alive (m->node));
}

static gboolean
all_spawned (gpointer data)
{
  GPtrArray *members = data;

  for (guint i = 0; i < members->len; i++)
    if (((Member *) members->pdata[i])->node == NULL)
      return FALSE;
  return TRUE;
}

/* one round of echoes: a value out to every member of @members (NULL:
 * all), then every answer back; fails on any error */
static gint64
fan_out (GPtrArray *members,
         gint32     base)
{
  gint64 t0 = g_get_monotonic_time ();

  if (members == NULL)
    members = cluster->members;
  for (guint i = 0; i < members->len; i++)
    g_assert_true (dp_remote_connection_put (((Member *) members->pdata[i])->echo,
                                             g_variant_new_int32 (base + (gint32) i)));
  for (guint i = 0; i < members->len; i++)
    {
      Member *m = members->pdata[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) back = dp_remote_connection_get_timeout (m->echo, guard_us (), &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (back), ==, base + (gint32) i);
    }
  return g_get_monotonic_time () - t0;
}

static void
cluster_free (void)
{
  if (cluster == NULL)
    return;
  /* every node ended and its end reported (its ssh worker thread joined)
   * before anything is freed: nothing of the cluster runs at exit */
  for (guint i = 0; i < cluster->members->len; i++)
    {
      Member *m = cluster->members->pdata[i];

      if (m->node == NULL)
        continue;
      dp_remote_node_set_restart (m->node, FALSE);
      dp_remote_node_terminate (m->node);
    }
  for (guint i = 0; i < cluster->members->len; i++)
    {
      Member *m = cluster->members->pdata[i];

      if (m->node)
        g_assert_true (dp_remote_node_wait_for_die (m->node, guard_us ()));
    }
  g_clear_pointer (&cluster->members, g_ptr_array_unref);
  g_clear_pointer (&cluster->options, dp_spawn_options_free);
  g_strfreev (cluster->hosts);
  g_clear_object (&cluster->router);
  g_clear_pointer (&cluster, g_free);
}

/* user + system CPU time of this process (every thread) */
static gint64
cpu_time_us (void)
{
  struct rusage ru;

  g_assert_cmpint (getrusage (RUSAGE_SELF, &ru), ==, 0);
  return (gint64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* how many entries /proc/self/@what has (fd: descriptors, task: threads) */
static guint
proc_self_count (const char *what)
{
  g_autofree char *path = g_build_filename ("/proc/self", what, NULL);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir))
    n++;
  return n;
}

/* The cluster every test shares, spawned on first use: one node alone
 * first (the unit of time), then NODES_PER_HOST on every host at once. */
/* A master with the test's cookie: between these hosts (not loopback) its
 * connections and its nodes' speak TLS by default, with credentials made
 * from the CA next to the cookie (see /netns/tls) */
static DpNode *
netns_router (void)
{
  DpNode *router = dp_node_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (dp_node_load_cookie (router, NULL, &error));
  g_assert_no_error (error);
  return router;
}

static Cluster *
cluster_get (void)
{
  g_autoptr(GError) error = NULL;
  gint64 t0, cpu0;
  gdouble max_rtt = 0;
  guint fds0, threads0;

  if (cluster)
    return cluster;
  cluster = g_new0 (Cluster, 1);
  cluster->router = netns_router ();
  cluster->options = ssh_options ();
  cluster->hosts = g_strsplit (env ("DP_TEST_NETNS_HOSTS"), " ", -1);
  cluster->n_hosts = g_strv_length (cluster->hosts);
  g_assert_cmpuint (cluster->n_hosts, >=, 8);   /* the partition takes 4, the rest go on */

  /* One node alone, three times (on three hosts): the median, so that
   * one stall of the machine does not set every budget below */
  {
    gint64 one[3];

    for (guint i = 0; i < G_N_ELEMENTS (one); i++)
      {
        g_autoptr(DpRemoteNode) node = NULL;

        t0 = g_get_monotonic_time ();
        node = dp_remote_node_spawn (cluster->router, cluster->hosts[i], 0, cluster->options,
                                     NULL, &error);
        g_assert_no_error (error);
        one[i] = g_get_monotonic_time () - t0;
      }
    cluster->one_spawn_us = MAX (MIN (one[0], one[1]), MIN (MAX (one[0], one[1]), one[2]));
    g_test_message ("one node alone, three times: %.0f, %.0f, %.0f ms", one[0] / 1e3,
                    one[1] / 1e3, one[2] / 1e3);
  }

  /* Heartbeats often, and a timeout this machine keeps to: five times what
   * a whole spawn (ssh session, exec, ready line, connect) took alone, at
   * least HEARTBEAT_TIMEOUT_MIN_S. Set before the nodes connect. */
  cluster->hb_timeout = MAX (HEARTBEAT_TIMEOUT_MIN_S, 5.0 * cluster->one_spawn_us / 1e6);
  g_object_set (cluster->router, "heartbeat-interval", HEARTBEAT_INTERVAL_S,
                "heartbeat-timeout", cluster->hb_timeout, NULL);
  /* all at once queue behind each other on two cores: room for each of
   * them to be spawned after all the others */
  dp_spawn_options_set_ready_timeout (cluster->options,
                                      (guint) MAX (30000, 2 * NODES_PER_HOST * cluster->n_hosts *
                                                          cluster->one_spawn_us / 1000));

  cluster->members = g_ptr_array_new_with_free_func (member_free);
  fds0 = proc_self_count ("fd");
  threads0 = proc_self_count ("task");
  cpu0 = cpu_time_us ();
  t0 = g_get_monotonic_time ();
  for (guint h = 0; h < cluster->n_hosts; h++)
    for (guint k = 0; k < NODES_PER_HOST; k++)
      {
        Member *m = g_new0 (Member, 1);

        m->host = h;
        g_ptr_array_add (cluster->members, m);
        dp_remote_node_spawn_async (cluster->router, cluster->hosts[h], 0, cluster->options,
                                    NULL, spawned_cb, m);
      }
  wait_for (all_spawned, cluster->members, MAX (120 * G_USEC_PER_SEC,
                                                (gint64) cluster->members->len * 4 * cluster->one_spawn_us),
            "spawn of every node");
  cluster->all_spawn_us = g_get_monotonic_time () - t0;
  cluster->all_spawn_cpu_us = cpu_time_us () - cpu0;

  for (guint i = 0; i < cluster->members->len; i++)
    {
      Member *m = cluster->members->pdata[i];

      g_assert_cmpstr (dp_remote_node_get_host (m->node), ==, cluster->hosts[m->host]);
      g_signal_connect (m->node, "died", G_CALLBACK (member_died), m);
      g_signal_connect (m->node, "restarted", G_CALLBACK (member_restarted), m);
      dp_remote_node_set_restart (m->node, TRUE);
      m->echo = dp_remote_node_launch_place (m->node, "echo", "echo", 0, NULL);
    }
  fan_out (NULL, 0);
  for (guint i = 0; i < cluster->members->len; i++)
    max_rtt = MAX (max_rtt, dp_remote_node_get_rtt (((Member *) cluster->members->pdata[i])->node));
  g_test_message ("%u nodes on %u hosts spawned at once over ssh, all ready in %.0f ms; "
                  "one node alone (median): %.0f ms; the master's CPU time per spawn %.1f ms; "
                  "per node up, the master holds %.1f descriptors and %.1f threads more; "
                  "heartbeat every %.1f s, timeout %.1f s; largest heartbeat round trip %.1f ms",
                  cluster->members->len, cluster->n_hosts, cluster->all_spawn_us / 1e3,
                  cluster->one_spawn_us / 1e3,
                  cluster->all_spawn_cpu_us / 1e3 / cluster->members->len,
                  ((gdouble) proc_self_count ("fd") - fds0) / cluster->members->len,
                  ((gdouble) proc_self_count ("task") - threads0) / cluster->members->len,
                  HEARTBEAT_INTERVAL_S, cluster->hb_timeout, max_rtt * 1e3);
  return cluster;
}

/* the members on hosts [@first, @first + @n) (host indexes), or, with
 * @inside FALSE, those on every other host */
static GPtrArray *
members_of (guint    first,
            guint    n,
            gboolean inside)
{
  GPtrArray *a = g_ptr_array_new ();

  for (guint i = 0; i < cluster->members->len; i++)
    {
      Member *m = cluster->members->pdata[i];
      if ((m->host >= first && m->host < first + n) == inside)
        g_ptr_array_add (a, m);
    }
  return a;
}

/* every member of @members has had at least @at_least of the counter at
 * @offset in Member (deaths, restarts) */
typedef struct {
  GPtrArray *members;
  gsize      offset;
  guint      at_least;
} Count;

static gboolean
all_reached (gpointer data)
{
  Count *c = data;

  for (guint i = 0; i < c->members->len; i++)
    if (G_STRUCT_MEMBER (guint, c->members->pdata[i], c->offset) < c->at_least)
      return FALSE;
  return TRUE;
}

static guint
total_deaths (GPtrArray *members)
{
  guint n = 0;

  for (guint i = 0; i < members->len; i++)
    n += ((Member *) members->pdata[i])->deaths;
  return n;
}

/* @dt after a cut, something only the heartbeat could find was found: not
 * before the timeout (less the interval, when the last sign of life came),
 * nor long after it */
static void
assert_heartbeat_found (gint64      dt,
                        const char *what)
{
  gint64 hb_timeout_us = (gint64) (cluster->hb_timeout * G_USEC_PER_SEC);
  gint64 hb_interval_us = (gint64) (HEARTBEAT_INTERVAL_S * G_USEC_PER_SEC);

  /* the last sign of life came up to an interval before the cut, and the
   * check runs every interval: the timeout, give or take an interval; and
   * half the timeout more for a loaded machine's late timers */
  if (dt < hb_timeout_us - 2 * hb_interval_us || dt > hb_timeout_us * 3 / 2 + hb_interval_us)
    g_error ("%s %.0f ms after the cut: not within the heartbeat timeout (%.1f s, every %.1f s)",
             what, dt / 1e3, cluster->hb_timeout, HEARTBEAT_INTERVAL_S);
}

/* what a test checks while hosts are cut off; @t0: when they were */
typedef void (*WhileCut) (gpointer data,
                          gint64   t0);

/* Cuts hosts [@first, @first + @n) off with @cut, checks that their nodes
 * are declared lost by the heartbeat within its timeout while every other
 * node carries on, runs @while_cut (if any), heals with @heal and checks
 * that restart-on-exit brings the lost nodes back, their places relaunched
 * on the same connections. Returns the time from the cut to the last of
 * them declared lost. */
static gint64
cut_and_heal (guint       first,
              guint       n,
              const char *cut,
              const char *heal,
              WhileCut    while_cut,
              gpointer    data)
{
  g_autoptr(GPtrArray) lost = members_of (first, n, TRUE);
  g_autoptr(GPtrArray) others = members_of (first, n, FALSE);
  const char * const *hosts = (const char * const *) cluster->hosts + first;
  Count died = { lost, G_STRUCT_OFFSET (Member, deaths), 0 };
  Count restarted = { lost, G_STRUCT_OFFSET (Member, restarts), 0 };
  guint others_deaths = total_deaths (others);
  gint64 t0, detect = 0;

  g_assert_cmpuint (lost->len, ==, n * NODES_PER_HOST);
  died.at_least = ((Member *) lost->pdata[0])->deaths + 1;
  restarted.at_least = ((Member *) lost->pdata[0])->restarts + 1;
  /* while the hosts are away, each respawn fails (and is tried again a
   * second later) */
  for (guint h = first; h < first + n; h++)
    {
      g_autofree char *pattern = g_strdup_printf ("could not restart node %s *", cluster->hosts[h]);
      dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, pattern);
    }
  /* and the nodes elsewhere with connections to theirs (an RMPI job's)
   * drop them after the same timeout, and say so */
  for (guint i = 0; i < lost->len; i += NODES_PER_HOST)
    {
      g_autofree char *address = dp_remote_node_dup_address (((Member *) lost->pdata[i])->node);
      g_autofree char *pattern = g_strdup_printf ("node *: connection * closed: no sign of life "
                                                  "from %s:* (heartbeat timeout)", address);
      dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, pattern);
    }

  t0 = g_get_monotonic_time ();
  netns_ctl (cut, hosts, n);
  wait_for (all_reached, &died, guard_us (), "death of every node on the hosts cut off");
  for (guint i = 0; i < lost->len; i++)
    {
      Member *m = lost->pdata[i];

      /* the heartbeat found it: nothing else could (no reset, no EOF) */
      g_assert_nonnull (strstr (m->reason, "heartbeat timeout"));
      g_assert_nonnull (strstr (m->reason, cluster->hosts[m->host]));
      detect = MAX (detect, m->died_at - t0);
      assert_heartbeat_found (m->died_at - t0, "a node declared lost");
    }

  /* the rest carry on */
  fan_out (others, 1000);
  g_assert_cmpuint (total_deaths (others), ==, others_deaths);
  if (while_cut)
    while_cut (data, t0);

  netns_ctl (heal, hosts, n);
  wait_for (all_reached, &restarted, guard_us (), "restart of every node on the hosts back");
  fan_out (lost, 2000);
  fan_out (NULL, 3000);
  g_assert_cmpuint (total_deaths (others), ==, others_deaths);
  return detect;
}

/* ---- tests ---- */

static void
test_spawn (void)
{
  cluster_get ();
  for (guint i = 0; i < cluster->members->len; i++)
    {
      Member *m = cluster->members->pdata[i];

      g_assert_true (dp_remote_node_is_alive (m->node));
      g_assert_cmpint (dp_remote_node_get_pid (m->node), >, 0);
    }
}

static void
test_fan_out (void)
{
  gint64 dt;

  cluster_get ();
  dt = fan_out (NULL, 100);
  g_test_message ("fan-out: %u echo places on %u hosts answered in %.1f ms",
                  cluster->members->len, cluster->n_hosts, dt / 1e3);
}

/* ---- an RMPI job across a cut ---- */

#define JOB_FIRST_HOST 1      /* its hosts: 1 .. JOB_HOSTS, the cut one among them */
#define JOB_HOSTS 4
#define JOB_RANKS_PER_HOST 2

typedef struct {
  char      *dir;             /* the FIFO "blocked", the ranks' "outcomes" */
  char      *config;
  guint      cut_first;       /* the ranks on the host cut off */
  guint      cut_n;
  int        fifo;
  gboolean   blocked;         /* rank 0 said so on the FIFO */
  GThread   *thread;          /* dp_rmpi_launch() blocks its caller */
  gint       done;            /* atomic */
  GVariant  *results;
  GError    *error;
  gint64     ended_at;
} Job;

static gpointer
job_run (gpointer data)
{
  Job *job = data;
  g_autoptr(GMainContext) ctx = g_main_context_new ();

  g_main_context_push_thread_default (ctx);
  job->results = dp_rmpi_launch (cluster->router, job->config, cluster->options, &job->error);
  g_main_context_pop_thread_default (ctx);
  job->ended_at = g_get_monotonic_time ();
  g_atomic_int_set (&job->done, TRUE);
  g_main_context_wakeup (NULL);
  return NULL;
}

static gboolean
job_fifo_readable (gint fd, GIOCondition cond, gpointer data)
{
  ((Job *) data)->blocked = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
job_blocked_or_done (gpointer data)
{
  Job *job = data;

  return job->blocked || g_atomic_int_get (&job->done);
}

static gboolean
job_done (gpointer data)
{
  return g_atomic_int_get (&((Job *) data)->done);
}

/* whether @message names ("rank N") a rank of [@first, @first + @n) */
static gboolean
names_rank_in (const char *message,
               guint       first,
               guint       n)
{
  for (const char *p = strstr (message, "rank "); p; p = strstr (p + 1, "rank "))
    {
      char *end;
      guint64 r = g_ascii_strtoull (p + 5, &end, 10);

      if (end != p + 5 && r >= first && r < first + n)
        return TRUE;
    }
  return FALSE;
}

/* Starts a job of JOB_RANKS_PER_HOST ranks on each of JOB_HOSTS hosts, the
 * ranks on host @cut_host waiting for what never comes and the others in
 * an allreduce that needs them (rmpi-places.c wait_on_host); returns once
 * every rank is wired and they are blocked */
static Job *
job_start (guint cut_host)
{
  Job *job = g_new0 (Job, 1);
  g_autoptr(GPtrArray) hosts = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSource) readable = NULL;
  g_autofree char *fifo = NULL;
  g_autofree char *args = NULL;
  g_autofree char *defaults = NULL;
  const guint ranks = JOB_HOSTS * JOB_RANKS_PER_HOST;

  g_assert_cmpuint (cut_host, >=, JOB_FIRST_HOST);
  g_assert_cmpuint (cut_host, <, JOB_FIRST_HOST + JOB_HOSTS);
  job->dir = g_dir_make_tmp ("dp-netns-rmpi-XXXXXX", &error);
  g_assert_no_error (error);
  fifo = g_build_filename (job->dir, "blocked", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  /* read and write: opening never waits, and no writer is not an end */
  job->fifo = open (fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  g_assert_cmpint (job->fifo, >=, 0);
  job->cut_first = (cut_host - JOB_FIRST_HOST) * JOB_RANKS_PER_HOST;
  job->cut_n = JOB_RANKS_PER_HOST;
  for (guint i = 0; i < ranks; i++)
    g_ptr_array_add (hosts, cluster->hosts[JOB_FIRST_HOST + i / JOB_RANKS_PER_HOST]);
  g_ptr_array_add (hosts, NULL);
  args = g_strdup_printf ("%u %u %s", job->cut_first, job->cut_n, job->dir);
  defaults = dp_rmpi_build_default_config ("rmpi-places", "wait_on_host", g_variant_new_string (args));
  job->config = dp_rmpi_make_remote_config (defaults, (const char * const *) hosts->pdata, ranks,
                                            0, "cut-rank-");

  readable = g_unix_fd_source_new (job->fifo, G_IO_IN);
  g_source_set_callback (readable, G_SOURCE_FUNC (job_fifo_readable), job, NULL);
  g_source_attach (readable, NULL);
  job->thread = g_thread_new ("rmpi-job", job_run, job);
  wait_for (job_blocked_or_done, job, guard_us (), "RMPI job wired and blocked");
  g_source_destroy (readable);
  if (!job->blocked)
    g_error ("the RMPI job ended before it was blocked: %s",
             job->error ? job->error->message : "no error");
  return job;
}

static void
job_free (Job *job)
{
  g_autofree char *fifo = g_build_filename (job->dir, "blocked", NULL);
  g_autofree char *outcomes = g_build_filename (job->dir, "outcomes", NULL);

  if (job->thread)
    g_thread_join (job->thread);
  close (job->fifo);
  g_unlink (fifo);
  g_unlink (outcomes);
  g_rmdir (job->dir);
  g_free (job->dir);
  g_free (job->config);
  g_clear_pointer (&job->results, g_variant_unref);
  g_clear_error (&job->error);
  g_free (job);
}

/* while the host is cut: the launch and every rank on the other hosts end
 * with DP_ERROR_RANK_LOST naming a rank on the cut host, found by the
 * heartbeat, and nothing hangs */
static void
job_check_cut (gpointer data,
               gint64   t0)
{
  Job *job = data;
  const guint ranks = JOB_HOSTS * JOB_RANKS_PER_HOST;
  g_autofree char *outcomes = g_build_filename (job->dir, "outcomes", NULL);
  g_autofree char *text = NULL;
  g_autofree gint64 *told = g_new0 (gint64, ranks);
  g_auto(GStrv) lines = NULL;
  gint64 last = 0;

  wait_for (job_done, job, guard_us (), "end of the RMPI job");
  g_thread_join (g_steal_pointer (&job->thread));
  g_assert_null (job->results);
  g_assert_error (job->error, DP_ERROR, DP_ERROR_RANK_LOST);
  if (!names_rank_in (job->error->message, job->cut_first, job->cut_n))
    g_error ("the launch's error names no rank of the host cut (%u..%u): %s",
             job->cut_first, job->cut_first + job->cut_n - 1, job->error->message);
  assert_heartbeat_found (job->ended_at - t0, "the RMPI launch ended");

  /* every rank on the other hosts said why it ended */
  g_assert_true (g_file_get_contents (outcomes, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] && *lines[i]; i++)
    {
      char *p = lines[i], *end;
      guint64 id = g_ascii_strtoull (p, &end, 10);
      gint64 code = g_ascii_strtoll (end, &end, 10);
      gint64 at = g_ascii_strtoll (end, &end, 10);
      const char *message = end + 1;

      g_assert_cmpuint (id, <, ranks);
      if (id >= job->cut_first && id < job->cut_first + job->cut_n)
        continue;     /* cut off themselves: what they saw is not checked */
      g_assert_cmpint (told[id], ==, 0);
      if (code != DP_ERROR_RANK_LOST || !names_rank_in (message, job->cut_first, job->cut_n))
        g_error ("rank %u did not end with DP_ERROR_RANK_LOST naming a rank of the host cut "
                 "(%u..%u): code %" G_GINT64_FORMAT ", %s", (guint) id, job->cut_first,
                 job->cut_first + job->cut_n - 1, code, message);
      assert_heartbeat_found (at - t0, "an RMPI rank told of the loss");
      told[id] = at;
      last = MAX (last, at - t0);
      g_test_message ("rank %u: %.0f ms: %s", (guint) id, (at - t0) / 1e3, message);
    }
  for (guint i = 0; i < ranks; i++)
    if (told[i] == 0 && !(i >= job->cut_first && i < job->cut_first + job->cut_n))
      g_error ("rank %u on a host not cut did not end with an error", i);
  g_test_message ("rmpi across the cut: %u ranks on %u hosts; the %u on the other hosts "
                  "told of the loss (DP_ERROR_RANK_LOST) within %.0f ms, the launch failed in "
                  "%.0f ms: %s", ranks, JOB_HOSTS, ranks - job->cut_n, last / 1e3,
                  (job->ended_at - t0) / 1e3, job->error->message);
}

/* One host's cable pulled: its nodes are declared lost within the
 * heartbeat timeout, the others carry on, an RMPI job with ranks there
 * fails on every other host with an error naming one of them (no hang);
 * with the cable back, restart-on-exit brings the nodes back */
static void
test_link_down (void)
{
  const guint cut_host = 2;
  gint64 detect;
  Job *job;

  cluster_get ();
  job = job_start (cut_host);
  detect = cut_and_heal (cut_host, 1, "link-down", "link-up", job_check_cut, job);
  job_free (job);
  g_test_message ("a link cut: its %u nodes declared lost in %.0f ms (heartbeat timeout %.1f s)",
                  NODES_PER_HOST, detect / 1e3, cluster->hb_timeout);
}

static void
test_partition (void)
{
  gint64 detect;

  cluster_get ();
  detect = cut_and_heal (4, 4, "partition", "heal", NULL, NULL);
  g_test_message ("4 hosts partitioned off: their %u nodes declared lost in %.0f ms",
                  4 * NODES_PER_HOST, detect / 1e3);
}

/* RMPI across every host: 64 ranks, 4 per host, each on a node of its own
 * spawned over ssh by dp_rmpi_launch(); the allreduce of one 1 per rank
 * is 64 on every rank */
static void
test_rmpi (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *defaults = NULL;
  g_autofree char *config = NULL;
  g_autoptr(GVariant) results = NULL;
  g_autoptr(GPtrArray) hosts = g_ptr_array_new ();
  const guint ranks = 64;
  gint64 t0, worst = 0;

  cluster_get ();
  for (guint i = 0; i < ranks; i++)
    g_ptr_array_add (hosts, cluster->hosts[(i / NODES_PER_HOST) % cluster->n_hosts]);
  g_ptr_array_add (hosts, NULL);
  defaults = dp_rmpi_build_default_config ("rmpi-places", "scenario", g_variant_new_string ("allreduce"));
  config = dp_rmpi_make_remote_config (defaults, (const char * const *) hosts->pdata, ranks, 0, "netns-rank-");
  t0 = g_get_monotonic_time ();
  results = dp_rmpi_launch (cluster->router, config, cluster->options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (results), ==, ranks);
  for (guint i = 0; i < ranks; i++)
    {
      g_autoptr(GVariant) r = NULL;
      gint32 sum;
      gint64 us;

      g_variant_get_child (results, i, "v", &r);
      g_assert_true (g_variant_is_of_type (r, G_VARIANT_TYPE ("(ix)")));
      g_variant_get (r, "(ix)", &sum, &us);
      g_assert_cmpint (sum, ==, (gint32) ranks);
      worst = MAX (worst, us);
    }
  g_test_message ("rmpi: allreduce over %u ranks on %u hosts: %.2f ms (the slowest rank's mean "
                  "of 10); the whole launch %.1f s", ranks, cluster->n_hosts, worst / 1000.0,
                  (g_get_monotonic_time () - t0) / 1e6);
}

/* whether the network namespace of process @pid has an established TCP
 * connection to @address:@port (/proc/PID/net/tcp is that of the
 * process's namespace) */
static gboolean
has_tcp_to (gint64      pid,
            const char *address,
            guint16     port)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/net/tcp", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  struct in_addr in;
  g_autofree char *want = NULL;

  g_assert_cmpint (inet_pton (AF_INET, address, &in), ==, 1);
  /* the kernel prints the address as the 32-bit word in host order */
  want = g_strdup_printf ("%08X:%04X", (guint) in.s_addr, port);
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i]; i++)
    {
      g_auto(GStrv) f = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      guint n = 0;
      const char *field[4] = { NULL };

      for (guint j = 0; f[j] && n < 4; j++)
        if (*f[j])
          field[n++] = f[j];
      /* sl local rem st: 01 is ESTABLISHED */
      if (n == 4 && g_strcmp0 (field[2], want) == 0 && g_strcmp0 (field[3], "01") == 0)
        return TRUE;
    }
  return FALSE;
}

/* Places on nodes of different hosts talk directly: a place on host 1
 * connects to a named place on host 2 by the address and port the master
 * dials (10^4 messages, in order), and node 1's namespace holds the TCP
 * connection to node 2 (the master is not on the path); a channel end made
 * on host 3 and redeemed on host 4 works (its reference names host 3 by
 * the address its master reached it at, not by the ssh alias) */
static void
test_mesh (void)
{
  Member *a, *b, *c, *d;
  g_autoptr(DpRemoteConnection) named = NULL;
  g_autoptr(DpRemoteConnection) ex = NULL;
  g_autoptr(DpRemoteConnection) exporter = NULL;
  g_autoptr(DpRemoteConnection) redeemer = NULL;
  g_autoptr(GVariant) done = NULL;
  g_autoptr(GVariant) ref_msg = NULL;
  g_autoptr(GVariant) ref = NULL;
  g_autoptr(GVariant) ok = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *b_address = NULL;
  const char *what;
  guint32 got;
  gboolean in_order;

  cluster_get ();
  a = cluster->members->pdata[0 * NODES_PER_HOST];
  b = cluster->members->pdata[1 * NODES_PER_HOST];
  c = cluster->members->pdata[2 * NODES_PER_HOST];
  d = cluster->members->pdata[3 * NODES_PER_HOST];
  g_assert_cmpuint (a->host, !=, b->host);
  b_address = dp_remote_node_dup_address (b->node);
  g_assert_nonnull (b_address);

  named = dp_remote_node_launch_place (b->node, "echo", "echo_named", 0, "mesh-echo");
  g_assert_true (dp_remote_connection_wait_ready (named, NULL, &error));
  g_assert_no_error (error);
  ex = dp_remote_node_launch_place (a->node, "mesh-places", "exchange", 0, NULL);
  g_assert_true (dp_remote_connection_put (ex, g_variant_new ("(ssqsuu)", "exchange", b_address,
                                                              dp_remote_node_get_port (b->node),
                                                              "mesh-echo", 10000u, 64u)));
  done = dp_remote_connection_get_timeout (ex, guard_us (), &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (done, G_VARIANT_TYPE ("(sub)")));
  g_variant_get (done, "(&sub)", &what, &got, &in_order);
  g_assert_cmpstr (what, ==, "done");
  g_assert_cmpuint (got, ==, 10000);
  g_assert_true (in_order);
  g_assert_true (has_tcp_to (dp_remote_node_get_pid (a->node), b_address,
                             dp_remote_node_get_port (b->node)));
  g_test_message ("mesh: 10000 messages from %s to %s:%u in order, node to node",
                  cluster->hosts[a->host], b_address, dp_remote_node_get_port (b->node));

  /* a channel end across hosts */
  exporter = dp_remote_node_launch_place (c->node, "mesh-places", "exporter", 0, NULL);
  redeemer = dp_remote_node_launch_place (d->node, "mesh-places", "redeemer", 0, NULL);
  ref_msg = dp_remote_connection_get_timeout (exporter, guard_us (), &error);
  g_assert_no_error (error);
  g_variant_get (ref_msg, "(&sv)", &what, &ref);
  g_assert_cmpstr (what, ==, "ref");
  g_assert_true (dp_remote_connection_put (redeemer, ref));
  ok = dp_remote_connection_get_timeout (redeemer, guard_us (), &error);
  g_assert_no_error (error);
  {
    g_autofree char *printed = g_variant_print (ok, FALSE);

    g_assert_cmpstr (printed, ==, "('ok', <'echo:hello'>)");
  }
  /* and with the master stopped (SIGSTOP: nothing it could relay moves),
   * places on two more hosts keep exchanging over their channel */
  {
    Member *e = cluster->members->pdata[4 * NODES_PER_HOST];
    Member *f = cluster->members->pdata[5 * NODES_PER_HOST];
    g_autoptr(DpRemoteConnection) giver = dp_remote_node_launch_place (e->node, "mesh-places", "giver", 0, NULL);
    g_autoptr(DpRemoteConnection) taker = dp_remote_node_launch_place (f->node, "mesh-places", "taker", 0, NULL);
    g_autoptr(GVariant) given = NULL;
    g_autoptr(GVariant) taken = NULL;
    g_autoptr(GVariant) ready = NULL;
    g_autoptr(GVariant) window = NULL;
    g_autoptr(GVariant) boxed = NULL;
    guint32 in_window;

    given = dp_remote_connection_get_timeout (giver, guard_us (), &error);
    g_assert_no_error (error);
    g_variant_get (given, "(&sv)", &what, &boxed);
    g_assert_cmpstr (what, ==, "ref");
    g_assert_true (dp_remote_connection_put (taker, g_variant_new ("(sv)", "take", boxed)));
    taken = dp_remote_connection_get_timeout (taker, guard_us (), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_type_string (taken), ==, "(s)");
    ready = dp_remote_connection_get_timeout (giver, guard_us (), &error);
    g_assert_no_error (error);
    {
      g_autofree char *printed = g_variant_print (ready, FALSE);

      g_assert_cmpstr (printed, ==, "('ready', <true>)");
    }
    g_assert_true (dp_remote_connection_put (giver, g_variant_new ("(sx)", "stop-master",
                                                                   (gint64) getpid ())));
    window = dp_remote_connection_get_timeout (giver, guard_us (), &error);
    g_assert_no_error (error);
    g_variant_get (window, "(&sv)", &what, NULL);
    g_assert_cmpstr (what, ==, "window");
    {
      g_autoptr(GVariant) n = g_variant_get_child_value (window, 1);
      g_autoptr(GVariant) inner = g_variant_get_variant (n);

      in_window = g_variant_get_uint32 (inner);
    }
    g_test_message ("mesh: %u round trips between %s and %s while the master was stopped (1 s)",
                    in_window, cluster->hosts[e->host], cluster->hosts[f->host]);
    g_assert_cmpuint (in_window, >, 0);
    dp_remote_connection_close (giver);
    dp_remote_connection_close (taker);
  }

  dp_remote_connection_close (exporter);
  dp_remote_connection_close (redeemer);
  dp_remote_connection_close (ex);
  dp_remote_connection_close (named);
}

static void
test_sshd_killed (void)
{
  const char *host;
  g_autoptr(GPtrArray) there = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;
  guint deaths;

  cluster_get ();
  host = cluster->hosts[cluster->n_hosts - 1];
  there = members_of (cluster->n_hosts - 1, 1, TRUE);
  deaths = total_deaths (there);

  netns_ctl ("kill-sshd", &host, 1);
  node = dp_remote_node_spawn (cluster->router, host, 0, cluster->options, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_CONNECTION_REFUSED);
  g_test_message ("spawn with the sshd gone: %s", error->message);
  g_assert_nonnull (strstr (error->message, host));
  g_clear_error (&error);

  /* the nodes it had started go on: the listener is not their session */
  fan_out (there, 4000);
  g_assert_cmpuint (total_deaths (there), ==, deaths);

  /* and with an sshd again, the host takes nodes again */
  netns_ctl ("start-sshd", &host, 1);
  node = dp_remote_node_spawn (cluster->router, host, 0, cluster->options, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (dp_remote_node_is_alive (node));
}


/* TLS between hosts, by default (DpNode:tls auto, addresses that are not
 * loopback): the cluster's nodes were handed their certificates on their
 * standard input (their command line says only --tls-stdin) and speak TLS
 * with the master and with each other (/netns/mesh); a master with TLS off
 * is refused by a node, with an error that says so, and the node serves
 * on. */
static void
test_tls (void)
{
  Member *m;
  g_autoptr(DpNode) plain = netns_router ();
  g_autoptr(DpRemoteNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *path = NULL;
  g_autofree char *cmdline = NULL;
  gsize len = 0;

  cluster_get ();
  m = cluster->members->pdata[0];
  path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/cmdline", dp_remote_node_get_pid (m->node));
  g_assert_true (g_file_get_contents (path, &cmdline, &len, NULL));
  g_assert_nonnull (memmem (cmdline, len, "--tls-stdin", 11));
  g_assert_null (memmem (cmdline, len, "BEGIN", 5));

  address = dp_remote_node_dup_address (m->node);
  g_object_set (plain, "tls", DP_TLS_OFF, NULL);
  /* the node says why, in its log (which its master shows) */
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING,
                      "*does not speak TLS, which this side requires on this connection*");
  node = dp_remote_node_connect (plain, address, dp_remote_node_get_port (m->node), NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED);
  g_assert_nonnull (strstr (error->message, "requires TLS on this connection, which this side has off"));
  g_assert_true (dp_remote_node_is_alive (m->node));
  g_clear_error (&error);
  {
    g_autoptr(GVariant) back = NULL;

    g_assert_true (dp_remote_connection_put (m->echo, g_variant_new_string ("over TLS")));
    back = dp_remote_connection_get_timeout (m->echo, guard_us (), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_string (back, NULL), ==, "over TLS");
  }
}

/* DpNode:max-concurrent-spawns and -per-host, over ssh */
static void
test_paced_spawns (void)
{
  g_autoptr(DpNode) router = netns_router ();
  g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func (member_free);
  DpTestSpawnWatch *w;
  const guint n_hosts = 4, per_host = 3, limit = 3;
  guint max_running, max_per_host;
  gint64 t0;

  cluster_get ();
  w = dp_test_spawn_watch_new ();
  g_object_set (router, "max-concurrent-spawns", limit, "max-concurrent-spawns-per-host", 1, NULL);
  t0 = g_get_monotonic_time ();
  for (guint k = 0; k < per_host; k++)
    for (guint h = 0; h < n_hosts; h++)
      {
        Member *m = g_new0 (Member, 1);

        m->host = h;
        g_ptr_array_add (members, m);
        dp_remote_node_spawn_async (router, cluster->hosts[h], 0, cluster->options, NULL,
                                    spawned_cb, m);
      }
  wait_for (all_spawned, members, guard_us (), "spawn of every paced node");
  dp_test_spawn_watch_free (w, &max_running, &max_per_host);
  g_test_message ("%u nodes on %u hosts, at most %u spawns at once and 1 per host: %.0f ms "
                  "(%u at once seen)", members->len, n_hosts, limit,
                  (g_get_monotonic_time () - t0) / 1e3, max_running);
  g_assert_cmpuint (max_running, <=, limit);
  g_assert_cmpuint (max_running, >=, 2);     /* paced, not serialised */
  g_assert_cmpuint (max_per_host, ==, 1);
  for (guint i = 0; i < members->len; i++)
    g_assert_true (dp_remote_node_is_alive (((Member *) members->pdata[i])->node));
}

int
main (int argc, char **argv)
{
  int status;

  dp_test_init (&argc, &argv);
  /* In this order: each leaves the cluster whole for the next */
  dp_test_add_func ("/netns/spawn", test_spawn);
  dp_test_add_func ("/netns/fan-out", test_fan_out);
  dp_test_add_func ("/netns/rmpi", test_rmpi);
  dp_test_add_func ("/netns/mesh", test_mesh);
  dp_test_add_func ("/netns/tls", test_tls);
  dp_test_add_func ("/netns/paced-spawns", test_paced_spawns);
  dp_test_add_func ("/netns/link-down", test_link_down);
  dp_test_add_func ("/netns/partition", test_partition);
  dp_test_add_func ("/netns/sshd-killed", test_sshd_killed);
  status = g_test_run ();
  cluster_free ();
  return status;
}
