/* hello-world: the seed's first example, in C
 *
 * Spawns a node on localhost, starts the hello-world place on it (a thunk
 * in the hello-world-place plugin), and runs the message router with two
 * timers: after 2 s it sends "Hello" and prints the reply, after 6 s it
 * exits — the node exits with it. --fast does the same without waiting.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <stdio.h>
#include <stdlib.h>

static DpNode *node;
static DpRemoteConnection *pl;
static gboolean fast;

static gboolean
say_hello (gpointer data)
{
  g_autoptr(GVariant) reply = NULL;

  dp_channel_put (DP_CHANNEL (pl), g_variant_new_string ("Hello"));
  /* a blocking get inside a main-loop callback, as in the seed */
  reply = dp_channel_get (DP_CHANNEL (pl));
  if (reply == NULL)
    {
      g_autofree char *detail = dp_remote_connection_dup_exit_detail (pl);
      g_printerr ("hello-world: the place ended without answering: %s\n", detail);
      exit (1);
    }
  printf ("message-router received: %s\n", g_variant_get_string (reply, NULL));
  fflush (stdout);
  if (fast)
    dp_message_router_quit (node);
  return G_SOURCE_REMOVE;
}

/* Leaving the router ends the node (below). */
static gboolean
quit (gpointer data)
{
  dp_message_router_quit (node);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gint port = 0;
  g_autofree char *host = NULL;
  g_autofree char *ssh_config = NULL;
  GOptionEntry entries[] = {
    { "fast", 'f', 0, G_OPTION_ARG_NONE, &fast, "Send at once and exit as soon as the reply arrives", NULL },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "The node's port (default: any free one; the seed uses 6344)", "PORT" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Where to spawn the node (default localhost)", "HOST" },
    { "ssh-config", 0, 0, G_OPTION_ARG_FILENAME, &ssh_config, "ssh config file to read instead of ~/.ssh/config", "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the seed's hello-world");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("hello-world: %s\n", error->message);
      return 2;
    }

  node = dp_node_new ();
  /* the place plugin is built beside this program */
  dp_spawn_options_add_plugin_dir (opts, self_dir);
  /* what the place prints shows up here */
  dp_spawn_options_set_output (opts, DP_SPAWN_OUTPUT_STDOUT);
  if (ssh_config)
    dp_spawn_options_set_ssh_config (opts, ssh_config);

  /* 1) spawn a node on localhost, 2) start the place made by the thunk
   * hello_world of the plugin hello-world-place, 3) get both handles */
  if (!dp_spawn_node_supervise_place_at (node, host ? host : "localhost", (guint16) port,
                                         "hello-world-place", "hello_world", DP_LAUNCH_THUNK,
                                         NULL, opts, &remote, &pl, &error))
    {
      g_printerr ("hello-world: %s\n", error->message);
      return 1;
    }

  dp_message_router (node,
                     dp_after_seconds (fast ? 0 : 2, say_hello, NULL, NULL),
                     dp_after_seconds (fast ? 30 : 6, quit, NULL, NULL),
                     NULL);
  /* the node exits when its standard input closes; wait until it has,
   * and until what its place printed last is shown */
  dp_remote_node_terminate (remote);
  dp_remote_node_wait_for_die (remote, 10 * G_USEC_PER_SEC);
  g_clear_object (&pl);
  g_clear_object (&remote);
  g_clear_object (&node);
  return 0;
}
