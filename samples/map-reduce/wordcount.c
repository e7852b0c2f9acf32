/* wordcount: the seed's map-reduce example, in C
 *
 *   wordcount [--workers N] FILE...
 *
 * Starts N map-reduce workers (default 2), each on a node of its own on
 * localhost; every 64 lines of every FILE is one task, mapped to
 * (word, 1) pairs (wordcount-fns.c); workers reduce pairwise, directly;
 * prints one ["word", count] JSON line per word, sorted by word. A lost
 * worker is an error (exit 1).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <stdio.h>

#define LINES_PER_TASK 64

int
main (int argc, char **argv)
{
  gint workers = 2;
  GOptionEntry entries[] = {
    { "workers", 'w', 0, G_OPTION_ARG_INT, &workers, "How many workers (default 2)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("FILE... - count words with map-reduce");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) node = NULL;
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autoptr(DpMapReduceWorkers) w = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");
  g_autofree DpNodeDesc *descs = NULL;
  GVariantBuilder tasks;
  DpPluginFunc mapper = { "wordcount-fns", "mapper" }, reducer = { "wordcount-fns", "reducer" };
  GVariantIter iter;
  GVariant *key, *values;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("wordcount: %s\n", error->message);
      return 2;
    }
  if (workers < 1 || workers > 256 || argc < 2)
    {
      g_printerr ("wordcount: usage: wordcount [--workers N (1..256)] FILE...\n");
      return 2;
    }
  g_variant_builder_init (&tasks, G_VARIANT_TYPE ("as"));
  for (int f = 1; f < argc; f++)
    {
      g_autofree char *text = NULL;
      g_auto(GStrv) lines = NULL;
      guint n;

      if (!g_file_get_contents (argv[f], &text, NULL, &error))
        {
          g_printerr ("wordcount: %s\n", error->message);
          return 2;
        }
      lines = g_strsplit (text, "\n", -1);
      n = g_strv_length (lines);
      for (guint i = 0; i < n; i += LINES_PER_TASK)
        {
          char *saved = i + LINES_PER_TASK < n ? lines[i + LINES_PER_TASK] : NULL;
          g_autofree char *chunk = NULL;

          if (saved)
            lines[i + LINES_PER_TASK] = NULL;
          chunk = g_strjoinv ("\n", lines + i);
          if (saved)
            lines[i + LINES_PER_TASK] = saved;
          if (!g_utf8_validate (chunk, -1, NULL))
            {
              g_printerr ("wordcount: %s is not UTF-8 text\n", argv[f]);
              return 2;
            }
          g_variant_builder_add (&tasks, "s", chunk);
        }
    }

  node = dp_node_new ();
  /* the functions' plugin is built beside this program */
  dp_spawn_options_add_plugin_dir (opts, self_dir);
  descs = g_new0 (DpNodeDesc, workers);
  for (gint i = 0; i < workers; i++)
    descs[i] = (DpNodeDesc) { "localhost", 0, opts };
  w = dp_make_map_reduce_workers (node, descs, (gsize) workers, &error);
  if (w)
    result = dp_map_reduce (w, g_variant_builder_end (&tasks), &mapper, &reducer, NULL, NULL, &error);
  else
    g_variant_builder_clear (&tasks);
  if (result == NULL)
    {
      g_printerr ("wordcount: %s\n", error->message);
      return 1;
    }
  g_variant_iter_init (&iter, result);
  while (g_variant_iter_next (&iter, "(v@av)", &key, &values))
    {
      g_autofree char *k = dp_variant_to_json (key);
      gint64 count = 0;

      /* one task only: the reducer never ran, the 1s are still there */
      for (gsize i = 0; i < g_variant_n_children (values); i++)
        {
          g_autoptr(GVariant) boxed = g_variant_get_child_value (values, i);
          g_autoptr(GVariant) v = g_variant_get_variant (boxed);
          count += g_variant_is_of_type (v, G_VARIANT_TYPE_INT64) ? g_variant_get_int64 (v)
                                                                  : g_variant_get_int32 (v);
        }
      printf ("[%s, %" G_GINT64_FORMAT "]\n", k, count);
      g_variant_unref (key);
      g_variant_unref (values);
    }
  return 0;
}
