/* embed: a master embedded in a GLib program — the README's snippet made
 * complete, in its two forms.
 *
 *   embed [--blocking] [HOST]
 *
 * It spawns a node on HOST (default localhost), starts the `echo` place of
 * the echo plugin there and says "Hello" to it.
 *
 * - Default, the main-loop form: a "message" handler and notify::state on
 *   a running GMainLoop; the reply arrives in the handler, the node is then
 *   stopped and dp_remote_node_wait_for_die_async() ends the loop.
 * - --blocking: dp_remote_connection_get() blocks for the reply; no main
 *   loop is needed (the router has its own thread).
 *
 * From a build tree: `meson devenv -C build samples/embed/embed` (devenv
 * finds dp-node, the plugins and the library); installed, nothing is set.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

typedef struct {
  GMainLoop    *loop;
  DpRemoteNode *remote;
  int           status;
} App;

static void
on_dead (GObject *source, GAsyncResult *res, gpointer data)
{
  App *app = data;

  if (dp_remote_node_wait_for_die_finish (DP_REMOTE_NODE (source), res, NULL))
    g_print ("node stopped\n");
  g_main_loop_quit (app->loop);
}

/* in the main loop's thread, while it runs */
static void
on_message (DpRemoteConnection *pl, GVariant *msg, gpointer data)
{
  App *app = data;

  g_print ("message handler got: %s\n", g_variant_get_string (msg, NULL));
  app->status = 0;
  dp_remote_node_terminate (app->remote);
  dp_remote_node_wait_for_die_async (app->remote, NULL, on_dead, app);
}

static void
on_state (DpRemoteConnection *pl, GParamSpec *pspec, gpointer data)
{
  g_autoptr(GEnumClass) states = g_type_class_ref (DP_TYPE_REMOTE_CONNECTION_STATE);

  g_print ("place state: %s\n",
           g_enum_get_value (states, dp_remote_connection_get_state (pl))->value_nick);
}

int
main (int argc, char **argv)
{
  gboolean blocking = argc > 1 && g_str_equal (argv[1], "--blocking");
  const char *host = argc > 1 + blocking ? argv[1 + blocking] : "localhost";
  g_autoptr(DpNode) node = dp_node_new ();          /* router on its own thread */
  g_autoptr(DpRemoteNode) remote = NULL;
  g_autoptr(DpRemoteConnection) pl = NULL;
  g_autoptr(GError) error = NULL;
  App app = { NULL, NULL, 1 };

  if (!dp_spawn_node_supervise_place_at (node, host, 0, "echo", "echo",
                                         DP_LAUNCH_NONE, NULL, NULL, &remote, &pl, &error))
    {
      g_printerr ("embed: %s\n", error->message);
      return 1;
    }

  if (blocking)
    {
      g_autoptr(GVariant) reply = NULL;

      dp_remote_connection_put (pl, g_variant_new_string ("Hello"));
      reply = dp_remote_connection_get (pl);               /* blocks */
      if (reply == NULL)
        {
          g_printerr ("embed: the place ended without answering\n");
          return 1;
        }
      g_print ("blocking get got: %s\n", g_variant_get_string (reply, NULL));
      dp_remote_node_terminate (remote);
      dp_remote_node_wait_for_die (remote, -1);
      g_print ("node stopped\n");
      return 0;
    }

  app.loop = g_main_loop_new (NULL, FALSE);
  app.remote = remote;
  g_signal_connect (pl, "message", G_CALLBACK (on_message), &app);
  g_signal_connect (pl, "notify::state", G_CALLBACK (on_state), NULL);
  dp_remote_connection_put (pl, g_variant_new_string ("Hello"));
  g_main_loop_run (app.loop);                           /* the handler runs here */
  g_main_loop_unref (app.loop);
  return app.status;
}
