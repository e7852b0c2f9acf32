/* sample-master.c: what the masters of the RPC samples share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sample-master.h"

#include <stdio.h>

static int status;

DpRemoteNode *
sample_start (DpNode      *router,
              const char  *summary,
              int          argc,
              char       **argv,
              int         *exit_status)
{
  g_autofree char *host = NULL;
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Where to spawn the node (default localhost)", "HOST" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (summary);
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");
  g_autofree char *servers = g_build_filename (self_dir, "..", "servers", NULL);
  DpRemoteNode *node;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      *exit_status = 2;
      return NULL;
    }
  /* the servers are built in samples/servers, beside this program's folder */
  dp_spawn_options_add_plugin_dir (opts, servers);
  dp_spawn_options_set_output (opts, DP_SPAWN_OUTPUT_STDOUT);
  node = dp_remote_node_spawn (router, host ? host : "localhost", 0, opts, NULL, &error);
  if (node == NULL)
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      *exit_status = 1;
    }
  return node;
}

static gboolean
die (gpointer data)
{
  dp_remote_node_send_exit (data);
  return G_SOURCE_REMOVE;
}

static gboolean
quit (gpointer data)
{
  dp_message_router_quit (data);
  return G_SOURCE_REMOVE;
}

int
sample_run (DpNode       *router,
            DpRemoteNode *node,
            gpointer      data,
            gdouble       die_at,
            gdouble       quit_at,
            ...)
{
  GMainContext *ctx = dp_node_get_context (router);
  GSList *sources = NULL;
  gdouble at;
  va_list ap;

  va_start (ap, quit_at);
  while ((at = va_arg (ap, gdouble)) >= 0)
    {
      GSourceFunc func = va_arg (ap, GSourceFunc);
      sources = g_slist_prepend (sources, dp_after_seconds (at, func, data, NULL));
    }
  va_end (ap);
  sources = g_slist_prepend (sources, dp_after_seconds (die_at, die, node, NULL));
  sources = g_slist_prepend (sources, dp_after_seconds (quit_at, quit, router, NULL));
  for (GSList *l = sources; l; l = l->next)
    {
      g_source_attach (l->data, ctx);
      g_source_unref (l->data);
    }
  g_slist_free (sources);
  dp_message_router (router, NULL, NULL);

  /* whatever happened, the node goes with us */
  dp_remote_node_terminate (node);
  dp_remote_node_wait_for_die (node, 10 * G_USEC_PER_SEC);
  return status;
}

void
sample_print (gboolean  ok,
              GVariant *result,
              GError   *error)
{
  if (ok)
    {
      g_autofree char *text = sample_sexp (result);
      printf ("%s\n", text);
      fflush (stdout);
    }
  else
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error ? error->message : "failed");
      status = 1;
    }
  g_clear_pointer (&result, g_variant_unref);
  g_clear_error (&error);
}

void
sample_use_bank (DpChannel  *bank,
                 const char *who)
{
  GVariant *result = NULL;
  GError *error = NULL;
  gboolean ok;

  ok = bank_call_new_account_sync (bank, who, &result, NULL, &error);
  sample_print (ok, result, error);
  result = NULL, error = NULL;
  ok = bank_call_add_sync (bank, who, 10, &result, NULL, &error);
  sample_print (ok, result, error);
  result = NULL, error = NULL;
  ok = bank_call_removem_sync (bank, who, 5, &result, NULL, &error);
  sample_print (ok, result, error);
}

void
sample_use_tuples (DpChannel *c,
                   DpChannel *d)
{
  struct { DpChannel *via; const char *key; gint64 value; } sets[] = {
    { c, "user0", 100 }, { d, "user2", 200 },
  };
  struct { DpChannel *via; const char *key; } gets[] = {
    { c, "user0" }, { d, "user2" }, { d, "user0" }, { c, "user2" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (sets); i++)
    {
      GVariant *result = NULL;
      GError *error = NULL;
      gboolean ok = tuple_server_call_set_sync (sets[i].via, sets[i].key,
                                                g_variant_new_int64 (sets[i].value),
                                                &result, NULL, &error);
      sample_print (ok, result, error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (gets); i++)
    {
      GVariant *result = NULL;
      GError *error = NULL;
      gboolean ok = tuple_server_call_get_sync (gets[i].via, gets[i].key, &result, NULL, &error);
      sample_print (ok, result, error);
    }
}
