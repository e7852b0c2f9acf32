/* rmpi: the seed's RMPI example, in C
 *
 * Launches N ranks (default 5) on localhost, each on a node of its own;
 * every rank runs broadcast, reduce, barrier, allreduce, gather,
 * allgather, alltoall, partition and comm_split (rmpi-place.c) and the
 * program prints one JSON object per operation and rank:
 * {"rank": R, "op": OP, "result": ...}. A lost rank is an error (exit 1).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
  gint ranks = 5;
  g_autofree char *config_file = NULL;
  GOptionEntry entries[] = {
    { "ranks", 'n', 0, G_OPTION_ARG_INT, &ranks, "How many ranks (default 5)", "N" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Launch from this config instead (JSON)", "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the seed's RMPI example");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) node = NULL;
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autoptr(GVariant) results = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");
  g_autofree char *config = NULL;
  g_autoptr(GVariant) first = NULL;
  GVariantIter ops;
  const char *op;
  GVariant *ignored;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("rmpi: %s\n", error->message);
      return 2;
    }
  if (ranks < 1 || ranks > 1024)
    {
      g_printerr ("rmpi: --ranks must be from 1 to 1024\n");
      return 2;
    }
  if (config_file)
    {
      if (!g_file_get_contents (config_file, &config, NULL, &error))
        {
          g_printerr ("rmpi: %s\n", error->message);
          return 2;
        }
    }
  else
    {
      g_autofree char *defaults = dp_rmpi_build_default_config ("rmpi-place", "rmpi_rank", NULL);
      config = dp_rmpi_make_localhost_config (defaults, (guint) ranks, 0, "rmpi");
    }

  node = dp_node_new ();
  /* the rank's plugin is built beside this program */
  dp_spawn_options_add_plugin_dir (opts, self_dir);
  results = dp_rmpi_launch (node, config, opts, &error);
  if (results == NULL)
    {
      g_printerr ("rmpi: %s\n", error->message);
      return 1;
    }

  /* operation by operation, rank by rank */
  g_variant_get_child (results, 0, "v", &first);
  g_variant_iter_init (&ops, first);
  for (guint k = 0; g_variant_iter_next (&ops, "(&sv)", &op, &ignored); k++)
    {
      g_variant_unref (ignored);
      for (gsize r = 0; r < g_variant_n_children (results); r++)
        {
          g_autoptr(GVariant) mine = NULL;
          g_autoptr(GVariant) value = NULL;
          g_autofree char *json = NULL;

          g_variant_get_child (results, r, "v", &mine);
          g_variant_get_child (mine, k, "(&sv)", NULL, &value);
          json = dp_variant_to_json (value);
          printf ("{\"rank\": %" G_GSIZE_FORMAT ", \"op\": \"%s\", \"result\": %s}\n", r, op, json);
        }
    }
  return 0;
}
