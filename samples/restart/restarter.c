/* restarter: the seed's test restarter.rkt (and examples/restart/restarter.rkt)
 *
 * Spawns a node on localhost and launches the short-wait-place thunk on it
 * (BEGINING SLEEP, 1 s, SLEEP DONE, return) under the seed's
 *
 *   (restart-every 5 #:retry 3 #:on-final-fail ...)
 *
 * The place runs four times: the second run starts at once, the third and
 * fourth 5 s after the previous one died (at most one restart per 5 s).
 * When the fourth dies the policy gives up: the master prints
 * `Failed 3 times exititing` (sic) and exits with status 1.
 *
 * With --keep-running there is no on-final-fail (examples/restart/
 * restarter.rkt): after four runs nothing is restarted and the master
 * keeps running until SIGINT/SIGTERM or --seconds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

static DpNode *router;
static int exit_status;

static gboolean
quit (gpointer data)
{
  dp_message_router_quit (router);
  return G_SOURCE_REMOVE;
}

static GSource *
quit_on_signal (int signum)
{
  GSource *source = g_unix_signal_source_new (signum);

  g_source_set_callback (source, quit, NULL, NULL);
  return source;
}

/* The seed's on-final-fail prints and exits at once. Here it stops the
 * router, and main() prints and returns 1 once the node has been shut down
 * cleanly. (What the last run printed, SLEEP DONE, is shown before its
 * death is handled either way: libdp hands a node's output on before the
 * death notices that follow it.) */
static void
on_final_fail (DpRestarter *restarter,
               gpointer     data)
{
  exit_status = 1;
  dp_message_router_quit (router);
}

static void
on_restarting (DpRemoteConnection *rc,
               guint               attempt,
               gpointer            data)
{
  g_debug ("restarter: relaunching %s (restart %u)", dp_remote_connection_get_symbol (rc), attempt);
}

int
main (int argc, char **argv)
{
  gint port = 0;
  gdouble seconds = 0;
  gboolean keep_running = FALSE;
  g_autofree char *host = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "The node's port (default: any free one; the seed uses 6345)", "PORT" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Where to spawn the node (default localhost)", "HOST" },
    { "keep-running", 'k', 0, G_OPTION_ARG_NONE, &keep_running, "No on-final-fail: keep running after the last restart", NULL },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "Exit with status 0 after this many seconds (default: never)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the seed's restarter test");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) node = NULL;
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRestarter) restarter = NULL;
  g_autoptr(DpRemoteConnection) pl = NULL;
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autoptr(GSource) on_sigint = NULL;
  g_autoptr(GSource) on_sigterm = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("restarter: %s\n", error->message);
      return 2;
    }
  if (port < 0 || port > G_MAXUINT16)
    {
      g_printerr ("restarter: --port must be between 0 and 65535\n");
      return 2;
    }

  node = router = dp_node_new ();
  /* SIGINT/SIGTERM stop it cleanly from now on, even while it is spawning */
  on_sigint = quit_on_signal (SIGINT);
  on_sigterm = quit_on_signal (SIGTERM);
  dp_spawn_options_add_plugin_dir (opts, self_dir);
  dp_spawn_options_set_output (opts, DP_SPAWN_OUTPUT_STDOUT);

  remote = dp_remote_node_spawn (node, host ? host : "localhost", (guint16) port, opts, NULL, &error);
  if (remote == NULL)
    {
      g_printerr ("restarter: %s\n", error->message);
      return 1;
    }

  /* (supervise-place-at node ... #:thunk #t
   *   #:restart-on-exit (restart-every 5 #:retry 3 #:on-final-fail ...)) */
  restarter = dp_restart_every (5, 3, keep_running ? NULL : G_CALLBACK (on_final_fail), NULL);
  pl = dp_remote_node_launch_place_with_restarter (remote, "wait-place", "short_wait_place_thunk",
                                                   DP_LAUNCH_THUNK, NULL, restarter);
  g_signal_connect (pl, "restarting", G_CALLBACK (on_restarting), NULL);
  if (!dp_remote_connection_wait_ready (pl, NULL, &error))
    {
      g_printerr ("restarter: %s\n", error->message);
      return 1;
    }

  /* the list ends at the first NULL: the optional timer goes last */
  dp_message_router (node,
                     g_steal_pointer (&on_sigint),
                     g_steal_pointer (&on_sigterm),
                     seconds > 0 ? dp_after_seconds (seconds, quit, NULL, NULL) : NULL,
                     NULL);

  /* the main loop no longer runs, so nothing is restarted any more:
   * close the node's stdin and wait until it has exited */
  dp_restarter_cancel (restarter);
  dp_remote_node_terminate (remote);
  dp_remote_node_wait_for_die (remote, 10 * G_USEC_PER_SEC);
  if (exit_status == 1)
    {
      /* sic, as in the seed */
      printf ("Failed 3 times exititing\n");
      fflush (stdout);
    }
  return exit_status;
}
