/* multiple: the seed's examples/multiple/master.rkt, in C
 *
 * Five nodes on localhost, spawned concurrently:
 *
 *  - one with the bank place (bank-place.so);
 *  - three with a place-worker each (place-worker.so), which print and
 *    send `(SECONDS "HI" i)` every 3 s, 5 to 9 times;
 *  - one with the wait-place thunk of samples/restart (sleeps 5 s, returns)
 *    with restart-on-exit, so it runs again and again.
 *
 * The master prints `Hello from every-seconds` at once and then every
 * 3.3 s; after 2 s it opens account user0 on the bank, adds 10 and removes
 * 5, printing each reply (`(created user0)`, `(ok 10)`, `(ok 5)`). The
 * workers' messages are only logged (at debug level), as in the seed.
 *
 * The seed runs for ever; this one stops, with status 0, after --seconds
 * or on SIGINT/SIGTERM, and waits until every node has exited.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

typedef struct {
  const char    *plugin;
  const char    *symbol;
  DpLaunchFlags  flags;
} PlaceSpec;

/* the seed's nodes 6344, 6341, 6342, 6343 and 6345 */
static const PlaceSpec places[] = {
  { "bank-place",   "bank",             DP_LAUNCH_NONE },
  { "place-worker", "place_worker",     DP_LAUNCH_NONE },
  { "place-worker", "place_worker",     DP_LAUNCH_NONE },
  { "place-worker", "place_worker",     DP_LAUNCH_NONE },
  { "wait-place",   "wait_place_thunk", DP_LAUNCH_THUNK | DP_LAUNCH_RESTART_ON_EXIT },
};
#define N_PLACES G_N_ELEMENTS (places)

typedef struct {
  guint         pending;
  DpRemoteNode *nodes[N_PLACES];
  GError       *error;
} Spawning;

static Spawning spawning;
static DpNode *router;
static DpRemoteConnection *bank;

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

/* A reply as the seed prints a list: (created user0), (ok 10) */
static char *
format_reply (GVariant *reply)
{
  GString *out = g_string_new ("(");
  gsize n = g_variant_is_container (reply) ? g_variant_n_children (reply) : 0;

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (reply, i);

      if (i > 0)
        g_string_append_c (out, ' ');
      if (g_variant_is_of_type (child, G_VARIANT_TYPE_STRING))
        g_string_append (out, g_variant_get_string (child, NULL));
      else
        {
          g_autofree char *text = g_variant_print (child, FALSE);
          g_string_append (out, text);
        }
    }
  g_string_append_c (out, ')');
  return g_string_free (out, FALSE);
}

/* A blocking call on the bank, inside a timer, as in the seed */
static void
bank_call (GVariant *request)
{
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *text = NULL;

  if (!dp_channel_put (DP_CHANNEL (bank), request))
    {
      g_autofree char *detail = dp_remote_connection_dup_exit_detail (bank);
      g_printerr ("multiple: the bank is gone: %s\n", detail);
      return;
    }
  reply = dp_channel_get (DP_CHANNEL (bank));
  if (reply == NULL)
    {
      g_autofree char *detail = dp_remote_connection_dup_exit_detail (bank);
      g_printerr ("multiple: the bank ended without answering: %s\n", detail);
      return;
    }
  text = format_reply (reply);
  printf ("%s\n", text);
  fflush (stdout);
}

static gboolean
use_the_bank (gpointer data)
{
  bank_call (g_variant_new ("(ss)", "new-account", "user0"));
  bank_call (g_variant_new ("(ssx)", "add", "user0", (gint64) 10));
  bank_call (g_variant_new ("(ssx)", "removeM", "user0", (gint64) 5));
  return G_SOURCE_REMOVE;
}

static gboolean
say_hello (gpointer data)
{
  printf ("Hello from every-seconds\n");
  fflush (stdout);
  return G_SOURCE_CONTINUE;
}

static void
on_worker_message (DpRemoteConnection *rc,
                   GVariant           *message,
                   gpointer            data)
{
  g_autofree char *text = g_variant_print (message, FALSE);

  g_debug ("PLACE %s: %s", (const char *) data, text);
}

static void
spawned (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Spawning *sp = &spawning;
  guint i = GPOINTER_TO_UINT (data);
  GError *error = NULL;

  sp->nodes[i] = dp_remote_node_spawn_finish (result, &error);
  if (error != NULL && sp->error == NULL)
    sp->error = g_steal_pointer (&error);
  g_clear_error (&error);
  sp->pending--;
}

int
main (int argc, char **argv)
{
  gdouble seconds = 0;
  g_autofree char *host = NULL;
  GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "Exit after this many seconds (default: run until SIGINT/SIGTERM)", "N" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Where to spawn the nodes (default localhost)", "HOST" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the seed's multiple-nodes example");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) node = NULL;
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autoptr(GSource) on_sigint = NULL;
  g_autoptr(GSource) on_sigterm = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");
  g_autofree char *restart_dir = g_build_filename (self_dir, "..", "restart", NULL);
  Spawning *sp = &spawning;
  DpRemoteConnection *pls[N_PLACES] = { NULL, };
  int status = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("multiple: %s\n", error->message);
      return 2;
    }

  node = router = dp_node_new ();
  /* SIGINT/SIGTERM stop it cleanly from now on, even while it is spawning */
  on_sigint = quit_on_signal (SIGINT);
  on_sigterm = quit_on_signal (SIGTERM);
  /* bank-place and place-worker are built beside this program,
   * wait-place in samples/restart */
  dp_spawn_options_add_plugin_dir (opts, self_dir);
  dp_spawn_options_add_plugin_dir (opts, restart_dir);
  dp_spawn_options_set_output (opts, DP_SPAWN_OUTPUT_STDOUT);

  /* spawn every node at once, then wait for all of them */
  for (guint i = 0; i < N_PLACES; i++)
    {
      sp->pending++;
      dp_remote_node_spawn_async (node, host ? host : "localhost", 0, opts, NULL,
                                  spawned, GUINT_TO_POINTER (i));
    }
  while (sp->pending > 0)
    g_main_context_iteration (NULL, TRUE);
  if (sp->error)
    {
      g_printerr ("multiple: %s\n", sp->error->message);
      status = 1;
      goto out;
    }

  for (guint i = 0; i < N_PLACES; i++)
    {
      pls[i] = dp_remote_node_launch_place (sp->nodes[i], places[i].plugin, places[i].symbol,
                                            places[i].flags, NULL);
      if (g_str_equal (places[i].symbol, "place_worker"))
        g_signal_connect (pls[i], "message", G_CALLBACK (on_worker_message), (gpointer) places[i].symbol);
    }
  for (guint i = 0; i < N_PLACES; i++)
    if (!dp_remote_connection_wait_ready (pls[i], NULL, &error))
      {
        g_printerr ("multiple: %s\n", error->message);
        status = 1;
        goto out;
      }
  bank = pls[0];

  /* the list ends at the first NULL: the optional timer goes last */
  dp_message_router (node,
                     dp_every_seconds (3.3, say_hello, NULL, NULL),
                     dp_after_seconds (2, use_the_bank, NULL, NULL),
                     g_steal_pointer (&on_sigint),
                     g_steal_pointer (&on_sigterm),
                     seconds > 0 ? dp_after_seconds (seconds, quit, NULL, NULL) : NULL,
                     NULL);

out:
  /* the main loop no longer runs, so nothing is restarted any more:
   * close every node's stdin and wait until all have exited */
  for (guint i = 0; i < N_PLACES; i++)
    if (sp->nodes[i])
      dp_remote_node_terminate (sp->nodes[i]);
  for (guint i = 0; i < N_PLACES; i++)
    {
      if (sp->nodes[i])
        dp_remote_node_wait_for_die (sp->nodes[i], 10 * G_USEC_PER_SEC);
      g_clear_object (&pls[i]);
      g_clear_object (&sp->nodes[i]);
    }
  g_clear_error (&sp->error);
  return status;
}
