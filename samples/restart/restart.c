/* restart: the seed's examples/restart/master.rkt, in C
 *
 * Spawns a node on localhost and launches the wait-place thunk on it with
 * restart-on-exit: the place prints BEGINING SLEEP, sleeps 5 s, prints
 * SLEEP DONE and returns, and the master relaunches it at once, again and
 * again. The master exits with status 0 after 50 s (--seconds), or on
 * SIGINT/SIGTERM; the node exits with it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

static gboolean
quit (gpointer data)
{
  dp_message_router_quit (DP_NODE (data));
  return G_SOURCE_REMOVE;
}

static GSource *
quit_on_signal (DpNode *node,
                int     signum)
{
  GSource *source = g_unix_signal_source_new (signum);

  g_source_set_callback (source, quit, node, NULL);
  return source;
}

static void
on_restarting (DpRemoteConnection *rc,
               guint               attempt,
               gpointer            data)
{
  g_debug ("restart: relaunching %s (restart %u)", dp_remote_connection_get_symbol (rc), attempt);
}

int
main (int argc, char **argv)
{
  gint port = 0;
  gdouble seconds = 50;
  g_autofree char *host = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "The node's port (default: any free one; the seed uses 6345)", "PORT" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Where to spawn the node (default localhost)", "HOST" },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "Exit after this many seconds (default 50)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the seed's restart example");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) node = NULL;
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRemoteConnection) pl = NULL;
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autoptr(GSource) on_sigint = NULL;
  g_autoptr(GSource) on_sigterm = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("restart: %s\n", error->message);
      return 2;
    }
  if (port < 0 || port > G_MAXUINT16)
    {
      g_printerr ("restart: --port must be between 0 and 65535\n");
      return 2;
    }

  node = dp_node_new ();
  /* SIGINT/SIGTERM stop it cleanly from now on, even while it is spawning */
  on_sigint = quit_on_signal (node, SIGINT);
  on_sigterm = quit_on_signal (node, SIGTERM);
  /* the place plugin is built beside this program */
  dp_spawn_options_add_plugin_dir (opts, self_dir);
  /* what the place prints shows up here */
  dp_spawn_options_set_output (opts, DP_SPAWN_OUTPUT_STDOUT);

  remote = dp_remote_node_spawn (node, host ? host : "localhost", (guint16) port, opts, NULL, &error);
  if (remote == NULL)
    {
      g_printerr ("restart: %s\n", error->message);
      return 1;
    }
  /* the seed's (supervise-place-at ... #:thunk #t #:restart-on-exit #t) */
  pl = dp_remote_node_launch_place (remote, "wait-place", "wait_place_thunk",
                                    DP_LAUNCH_THUNK | DP_LAUNCH_RESTART_ON_EXIT, NULL);
  g_signal_connect (pl, "restarting", G_CALLBACK (on_restarting), NULL);
  if (!dp_remote_connection_wait_ready (pl, NULL, &error))
    {
      g_printerr ("restart: %s\n", error->message);
      return 1;
    }

  dp_message_router (node,
                     dp_after_seconds (seconds, quit, node, NULL),
                     g_steal_pointer (&on_sigint),
                     g_steal_pointer (&on_sigterm),
                     NULL);

  /* the main loop no longer runs, so nothing is restarted any more:
   * close the node's stdin and wait until it has exited */
  dp_remote_node_terminate (remote);
  dp_remote_node_wait_for_die (remote, 10 * G_USEC_PER_SEC);
  return 0;
}
