/* dp-router.h: the seed's message-router API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <gio/gio.h>
#include "dp-version-macros.h"
#include "dp-channel.h"
#include "dp-node.h"
#include "dp-remote-node.h"

G_BEGIN_DECLS

DP_AVAILABLE_IN_1_0
void     dp_message_router       (DpNode   *node,
                                  GSource  *first_source,
                                  ...) G_GNUC_NULL_TERMINATED;
DP_AVAILABLE_IN_1_0
void     dp_message_router_run   (DpNode   *node,
                                  GSource **sources,
                                  gsize     n_sources);
DP_AVAILABLE_IN_1_0
void     dp_message_router_quit  (DpNode   *node);

DP_AVAILABLE_IN_1_0
GSource *dp_after_seconds        (gdouble         seconds,
                                  GSourceFunc     func,
                                  gpointer        user_data,
                                  GDestroyNotify  notify);
DP_AVAILABLE_IN_1_0
GSource *dp_every_seconds        (gdouble         seconds,
                                  GSourceFunc     func,
                                  gpointer        user_data,
                                  GDestroyNotify  notify);

DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_spawn_remote_node (DpNode               *router,
                                    const char           *host,
                                    guint16               port,
                                    const DpSpawnOptions *options,
                                    GError              **error);
DP_AVAILABLE_IN_1_0
gboolean dp_spawn_node_supervise_place_at (DpNode               *router,
                                           const char           *host,
                                           guint16               port,
                                           const char           *plugin,
                                           const char           *symbol,
                                           DpLaunchFlags         flags,
                                           const char           *name,
                                           const DpSpawnOptions *options,
                                           DpRemoteNode        **node_out,
                                           DpRemoteConnection  **connection_out,
                                           GError              **error);
DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_spawn_node_with_place_at (DpNode               *router,
                                           const char           *host,
                                           guint16               port,
                                           const char           *plugin,
                                           const char           *symbol,
                                           DpLaunchFlags         flags,
                                           const char           *name,
                                           const DpSpawnOptions *options,
                                           GError              **error);
DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_supervise_place_at (DpRemoteNode  *node,
                                           const char    *plugin,
                                           const char    *symbol,
                                           DpLaunchFlags  flags,
                                           const char    *name);
DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_connect_to_named_place (DpRemoteNode *node,
                                               const char   *name);
DP_AVAILABLE_IN_1_0
void     dp_node_send_exit       (DpRemoteNode *node);
DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_node_get_first_place (DpRemoteNode *node);
DP_AVAILABLE_IN_1_0
DpPlaceExit dp_distributed_place_wait (DpRemoteConnection *connection);

 /**
 * DpNodeDesc:
 * @host: where (as for dp_remote_node_spawn_async())
 * @port: the node's port (0: any)
 * @options: (nullable): spawn options
 *
 * One node for dp_spawn_nodes_join().
 *
 * |[<!-- language="C" -->
 * DpNodeDesc descs[] = {
 *   { "localhost", 0, NULL },
 *   { "alice@rack2", 0, NULL },
 * };
 * g_autoptr(GPtrArray) nodes = dp_spawn_nodes_join (router, descs, G_N_ELEMENTS (descs), &error);
 * ]|
 *
 * Since: 1.0
 */
typedef struct {
  const char           *host;
  guint16               port;
  const DpSpawnOptions *options;
} DpNodeDesc;

DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_create_place_node (DpNode               *router,
                                    const char           *host,
                                    guint16               port,
                                    const DpSpawnOptions *options,
                                    GError              **error);
DP_AVAILABLE_IN_1_0
void      dp_spawn_node_at       (DpNode               *router,
                                  const char           *host,
                                  guint16               port,
                                  const DpSpawnOptions *options,
                                  GAsyncReadyCallback   callback,
                                  gpointer              user_data);
DP_AVAILABLE_IN_1_0
GPtrArray *dp_spawn_nodes_join   (DpNode               *router,
                                  const DpNodeDesc     *descs,
                                  gsize                 n_descs,
                                  GError              **error);
DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_supervise_thread_at (DpRemoteNode *node,
                                            const char   *plugin,
                                            const char   *symbol);

DP_AVAILABLE_IN_1_0
void     dp_log_message          (const char *severity,
                                  const char *format,
                                  ...) G_GNUC_PRINTF (2, 3);
DP_AVAILABLE_IN_1_0
void     dp_log_message_literal  (const char *severity,
                                  const char *message);

G_END_DECLS
