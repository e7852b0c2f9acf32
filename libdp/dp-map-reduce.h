/* dp-map-reduce.h: map-reduce over worker places that reduce pairwise
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib-object.h>
#include "dp-version-macros.h"
#include "dp-node.h"
#include "dp-place-channel.h"
#include "dp-router.h"

G_BEGIN_DECLS

/**
 * DpMapperFunc:
 * @task: one task (an element of the tasks given to dp_map_reduce())
 * @error: return location for a #GError
 *
 * A mapper, exported by a plugin: turns a task into key/value pairs.
 *
 * |[<!-- language="C" -->
 * // in a plugin: each word of a string task counts 1
 * DP_PLACE_EXPORT GVariant *
 * mapper (GVariant *task, GError **error)
 * {
 *   g_auto(GStrv) words = g_strsplit (g_variant_get_string (task, NULL), " ", -1);
 *   GVariantBuilder b;
 *
 *   g_variant_builder_init (&b, G_VARIANT_TYPE ("a(si)"));
 *   for (guint i = 0; words[i]; i++)
 *     if (*words[i])
 *       g_variant_builder_add (&b, "(si)", words[i], 1);
 *   return g_variant_builder_end (&b);
 * }
 * ]|
 *
 * Returns: (transfer full) (nullable): an array of 2-tuples (key, value),
 *   e.g. `a(si)` (floating is fine)
 *
 * Since: 1.0
 */
typedef GVariant *(*DpMapperFunc)  (GVariant *task, GError **error);

/**
 * DpReducerFunc:
 * @key: a key
 * @values: an `av`: every value gathered for @key
 * @error: return location for a #GError
 *
 * A reducer, exported by a plugin: replaces the values of a key (e.g. by
 * their sum). It may be applied again to its own results, merged with
 * others.
 *
 * |[<!-- language="C" -->
 * // in a plugin: the values of a word become their sum
 * DP_PLACE_EXPORT GVariant *
 * reducer (GVariant *key, GVariant *values, GError **error)
 * {
 *   GVariantIter iter;
 *   GVariant *v;
 *   gint32 sum = 0;
 *
 *   g_variant_iter_init (&iter, values);
 *   while (g_variant_iter_next (&iter, "v", &v))
 *     {
 *       sum += g_variant_get_int32 (v);
 *       g_variant_unref (v);
 *     }
 *   v = g_variant_new_int32 (sum);
 *   return g_variant_new_array (G_VARIANT_TYPE_INT32, &v, 1);
 * }
 * ]|
 *
 * Returns: (transfer full) (nullable): the new values, an array
 *
 * Since: 1.0
 */
typedef GVariant *(*DpReducerFunc) (GVariant *key, GVariant *values, GError **error);

/**
 * DpSorterFunc:
 * @a: a key
 * @b: a key
 *
 * Orders keys, like strcmp(); equal keys are grouped.
 * dp_map_reduce_default_sorter() is used when none is given.
 *
 * |[<!-- language="C" -->
 * // in a plugin: string keys, longest first
 * DP_PLACE_EXPORT gint
 * by_length (GVariant *a, GVariant *b)
 * {
 *   gsize la, lb;
 *
 *   g_variant_get_string (a, &la);
 *   g_variant_get_string (b, &lb);
 *   if (la != lb)
 *     return la > lb ? -1 : 1;
 *   return dp_map_reduce_default_sorter (a, b);
 * }
 *
 * DpPluginFunc sorter = { "my-fns", "by_length" };   // for dp_map_reduce()
 * ]|
 *
 * Returns: <0, 0 or >0
 *
 * Since: 1.0
 */
typedef gint      (*DpSorterFunc)  (GVariant *a, GVariant *b);

/**
 * DpOutputerFunc:
 * @result: the final `a(vav)`: each key with its values
 * @error: return location for a #GError
 *
 * What dp_map_reduce() returns instead of @result, run on the master.
 *
 * |[<!-- language="C" -->
 * // in a plugin: the number of distinct keys instead of the pairs
 * DP_PLACE_EXPORT GVariant *
 * count_keys (GVariant *result, GError **error)
 * {
 *   return g_variant_new_uint64 (g_variant_n_children (result));
 * }
 * ]|
 *
 * Returns: (transfer full) (nullable): anything
 *
 * Since: 1.0
 */
typedef GVariant *(*DpOutputerFunc) (GVariant *result, GError **error);

/**
 * DpPluginFunc:
 * @plugin: a plugin name (on the node's plugin path) or file
 * @symbol: the function it exports
 *
 * Where a map-reduce function is: the seed's `(list MODULE 'symbol)`.
 *
 * |[<!-- language="C" -->
 * // the "mapper" function exported by wordcount-fns.so on the nodes'
 * // plugin path
 * DpPluginFunc mapper = { "wordcount-fns", "mapper" };
 * ]|
 *
 * Since: 1.0
 */
typedef struct {
  const char *plugin;
  const char *symbol;
} DpPluginFunc;

/**
 * DpMapReduceWorkers:
 *
 * The worker places of map-reduce: the seed's `make-map-reduce-workers`
 * result. Worker i is the named place `mpw<i>` (dp_map_reduce_worker(),
 * from the `dp-map-reduce` plugin shipped with libdp) on node i.
 *
 * dp_map_reduce() hands each worker a task to map (mapper, then sort by
 * the sorter and group equal keys); whenever two workers hold mapped
 * results, one is told to send its results to the other, directly over
 * the mesh, which merges them and reduces each key; the last one holding
 * results gives them to the master. A worker (or its node) lost, or a
 * function failing, is an error of dp_map_reduce(), never a hang.
 *
 * ```c
 * DpNodeDesc nodes[] = { { "localhost", 0, NULL }, { "localhost", 0, NULL } };
 * g_autoptr(DpMapReduceWorkers) w = dp_make_map_reduce_workers (router, nodes, 2, &error);
 * DpPluginFunc mapper = { "wordcount-fns", "mapper" }, reducer = { "wordcount-fns", "reducer" };
 * g_autoptr(GVariant) r = dp_map_reduce (w, tasks, &mapper, &reducer, NULL, NULL, &error);
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_MAP_REDUCE_WORKERS (dp_map_reduce_workers_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpMapReduceWorkers, dp_map_reduce_workers, DP, MAP_REDUCE_WORKERS, GObject)

DP_AVAILABLE_IN_1_0
DpMapReduceWorkers *dp_make_map_reduce_workers (DpNode           *router,
                                                const DpNodeDesc *descs,
                                                gsize             n_descs,
                                                GError          **error);
DP_AVAILABLE_IN_1_0
guint       dp_map_reduce_workers_get_count (DpMapReduceWorkers *workers);
DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_map_reduce_workers_get_node (DpMapReduceWorkers *workers,
                                              guint               i);
DP_AVAILABLE_IN_1_0
GVariant   *dp_map_reduce         (DpMapReduceWorkers *workers,
                                   GVariant           *tasks,
                                   const DpPluginFunc *mapper,
                                   const DpPluginFunc *reducer,
                                   const DpPluginFunc *sorter,
                                   const DpPluginFunc *outputer,
                                   GError            **error);
DP_AVAILABLE_IN_1_0
void        dp_map_reduce_worker  (DpPlaceChannel *channel);
DP_AVAILABLE_IN_1_0
gint        dp_map_reduce_default_sorter (GVariant *a,
                                          GVariant *b);

G_END_DECLS
