/* dp-remote-node.h: the master's handle on a node process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <gio/gio.h>
#include "dp-version-macros.h"
#include "dp-node.h"
#include "dp-remote-connection.h"
#include "dp-spawn-options.h"

G_BEGIN_DECLS

/**
 * DpLaunchFlags:
 * @DP_LAUNCH_NONE: the symbol is a place function `void fn (DpPlaceChannel *)`
 * @DP_LAUNCH_THUNK: the symbol is a thunk `DpPlace *fn (void)` that creates
 *   the place itself (the seed's `#:thunk #t`)
 * @DP_LAUNCH_RESTART_ON_EXIT: relaunch the place whenever it exits
 *
 * How a place is launched on a node.
 */
typedef enum {
  DP_LAUNCH_NONE            = 0,
  DP_LAUNCH_THUNK           = 1 << 0,
  DP_LAUNCH_RESTART_ON_EXIT = 1 << 1,
} DpLaunchFlags;

#define DP_TYPE_REMOTE_NODE (dp_remote_node_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpRemoteNode, dp_remote_node, DP, REMOTE_NODE, GObject)

DP_AVAILABLE_IN_1_0
void          dp_remote_node_spawn_async    (DpNode               *router,
                                             const char           *host,
                                             guint16               port,
                                             const DpSpawnOptions *options,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_remote_node_spawn_finish   (GAsyncResult         *result,
                                             GError              **error);
DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_remote_node_spawn          (DpNode               *router,
                                             const char           *host,
                                             guint16               port,
                                             const DpSpawnOptions *options,
                                             GCancellable         *cancellable,
                                             GError              **error);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_connect_async  (DpNode               *router,
                                             const char           *host,
                                             guint16               port,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_remote_node_connect_finish (GAsyncResult         *result,
                                             GError              **error);
DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_remote_node_connect        (DpNode               *router,
                                             const char           *host,
                                             guint16               port,
                                             GCancellable         *cancellable,
                                             GError              **error);

DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_remote_node_launch_place (DpRemoteNode  *self,
                                                 const char    *plugin,
                                                 const char    *symbol,
                                                 DpLaunchFlags  flags,
                                                 const char    *name);
DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_remote_node_connect_to_named_place (DpRemoteNode *self,
                                                           const char   *name);
DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_remote_node_get_first_place (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_send_exit      (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_terminate      (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
gboolean      dp_remote_node_wait_for_die   (DpRemoteNode *self,
                                             gint64        timeout_us);
DP_AVAILABLE_IN_1_0
gboolean      dp_remote_node_is_alive       (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
gboolean      dp_remote_node_restart        (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_set_restart    (DpRemoteNode *self,
                                             gboolean      restart);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_set_restarter  (DpRemoteNode *self,
                                             DpRestarter  *restarter);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_set_restart_func (DpRemoteNode   *self,
                                               DpRestartFunc   func,
                                               gpointer        user_data,
                                               GDestroyNotify  notify);
DP_AVAILABLE_IN_1_0
guint         dp_remote_node_get_restarts   (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
const char   *dp_remote_node_get_host       (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
guint16       dp_remote_node_get_port       (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
gint64        dp_remote_node_get_pid        (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
char         *dp_remote_node_dup_death_reason (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
const char   *dp_remote_node_get_death_reason (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
gdouble       dp_remote_node_get_rtt        (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
gdouble       dp_remote_node_get_last_seen  (DpRemoteNode *self);

G_END_DECLS
