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
 * @DP_LAUNCH_ISOLATE: run the place in a process of its own, a child of
 *   the node (`dp-node --place-host`, exec'd afresh), relayed by the node
 *   over a socketpair: its crash is only that place's death
 *   (%DP_PLACE_EXIT_CRASHED, with the signal) and the node serves on, where
 *   a thread place's crash ends its node. It costs a process start and a
 *   relay hop per message (see the README); it cannot be named. The child
 *   dies with its node.
 *
 * How a place is launched on a node.
 *
 * |[<!-- language="C" -->
 * // a thunk-made place, relaunched whenever it exits, in a process of its own
 * g_autoptr(DpRemoteConnection) pl =
 *   dp_remote_node_launch_place (node, "echo", "echo_thunk",
 *                                DP_LAUNCH_THUNK | DP_LAUNCH_RESTART_ON_EXIT | DP_LAUNCH_ISOLATE,
 *                                NULL);
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_LAUNCH_NONE            = 0,
  DP_LAUNCH_THUNK           = 1 << 0,
  DP_LAUNCH_RESTART_ON_EXIT = 1 << 1,
  DP_LAUNCH_ISOLATE         = 1 << 2,
} DpLaunchFlags;

/**
 * DpRemoteNode:
 *
 * The master's handle on a node: the seed's `remote-node%`. It is made by
 * spawning a `dp-node` process — here with #GSubprocess, on another host
 * over ssh (libssh), see #DpSpawnOptions — or by attaching to a node
 * started by hand (dp_remote_node_connect()). Through it the master
 * launches places (dp_remote_node_launch_place(), the seed's
 * `supervise-place-at`), reaches named places, asks the node to exit, and
 * learns of its death: the process exited, its ssh session ended, or its
 * heartbeats stopped (#DpNode:heartbeat-timeout). With a restart policy
 * (dp_remote_node_set_restart(), _set_restarter(), _set_restart_func())
 * a dead node is spawned again and its places are relaunched on the same
 * #DpRemoteConnection objects.
 *
 * Threads: the object may be used from any thread; the blocking calls
 * (dp_remote_node_spawn(), dp_remote_node_wait_for_die()) must not be
 * made on the router's own thread. Signals (#DpRemoteNode::ready,
 * ::died, ::restarting, ::restarted, ::output) are emitted in the
 * thread-default main context in which the spawn or connect was started.
 *
 * ```c
 * g_autoptr(DpNode) router = dp_node_new ();
 * g_autoptr(GError) error = NULL;
 * g_autoptr(DpRemoteNode) node =
 *   dp_remote_node_spawn (router, "localhost", 0, NULL, NULL, &error);  // or "alice@host7:0"
 *
 * if (node == NULL)
 *   g_error ("%s", error->message);       // DP_ERROR_NODE_NOT_FOUND, _HOST_UNREACHABLE, …
 * g_print ("node %s:%u, pid %" G_GINT64_FORMAT "\n", dp_remote_node_get_host (node),
 *          dp_remote_node_get_port (node), dp_remote_node_get_pid (node));
 * dp_remote_node_set_restart (node, TRUE);             // respawn it if it dies
 * ```
 *
 * Since: 1.0
 */
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
DpRemoteConnection *dp_remote_node_launch_place_with_restarter (DpRemoteNode  *self,
                                                                const char    *plugin,
                                                                const char    *symbol,
                                                                DpLaunchFlags  flags,
                                                                const char    *name,
                                                                DpRestarter   *restarter);
DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_remote_node_connect_to_named_place (DpRemoteNode *self,
                                                           const char   *name);
DP_AVAILABLE_IN_1_0
DpRemoteConnection *dp_remote_node_get_first_place (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
GVariant     *dp_remote_node_list_places   (DpRemoteNode  *self,
                                            GCancellable  *cancellable,
                                            GError       **error);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_send_exit      (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_terminate      (DpRemoteNode *self);
DP_AVAILABLE_IN_1_0
gboolean      dp_remote_node_wait_for_die   (DpRemoteNode *self,
                                             gint64        timeout_us);
DP_AVAILABLE_IN_1_0
void          dp_remote_node_wait_for_die_async  (DpRemoteNode        *self,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
DP_AVAILABLE_IN_1_0
gboolean      dp_remote_node_wait_for_die_finish (DpRemoteNode  *self,
                                                  GAsyncResult  *result,
                                                  GError       **error);
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
char         *dp_remote_node_dup_address    (DpRemoteNode *self);
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

/* from inside a place: its node spawns a node (dp-mesh.c) */
DP_AVAILABLE_IN_1_0
DpRemoteNode *dp_place_channel_spawn_node   (DpPlaceChannel *self,
                                             const char     *host,
                                             guint16         port,
                                             GError        **error);

G_END_DECLS
