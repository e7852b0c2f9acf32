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
 * Returns: (transfer full) (nullable): an array of 2-tuples (key, value),
 *   e.g. `a(si)` (floating is fine)
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
 * Returns: (transfer full) (nullable): the new values, an array
 */
typedef GVariant *(*DpReducerFunc) (GVariant *key, GVariant *values, GError **error);

/**
 * DpSorterFunc:
 * @a: a key
 * @b: a key
 *
 * Orders keys, like strcmp(); equal keys are grouped.
 *
 * Returns: <0, 0 or >0
 */
typedef gint      (*DpSorterFunc)  (GVariant *a, GVariant *b);

/**
 * DpOutputerFunc:
 * @result: the final `a(vav)`: each key with its values
 * @error: return location for a #GError
 *
 * What dp_map_reduce() returns instead of @result, run on the master.
 *
 * Returns: (transfer full) (nullable): anything
 */
typedef GVariant *(*DpOutputerFunc) (GVariant *result, GError **error);

/**
 * DpPluginFunc:
 * @plugin: a plugin name (on the node's plugin path) or file
 * @symbol: the function it exports
 *
 * Where a map-reduce function is: the seed's `(list MODULE 'symbol)`.
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
