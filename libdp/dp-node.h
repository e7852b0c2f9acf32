/* dp-node.h: the message router of a node
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <gio/gio.h>
#include "dp-version-macros.h"
#include "dp-place.h"

G_BEGIN_DECLS

/**
 * DpTlsMode:
 * @DP_TLS_AUTO: TLS on every connection whose peer is not on a loopback
 *   address (the default)
 * @DP_TLS_OFF: no TLS: every connection is plain TCP (for loopback-only
 *   clusters where the last microseconds matter)
 * @DP_TLS_ON: TLS on every connection, loopback included
 *
 * Whether a node's connections speak TLS (#DpNode:tls). Both ends of a
 * connection must agree: a node that wants TLS on a connection refuses a
 * peer that does not, and the other way round, with %DP_ERROR_AUTH_FAILED
 * naming the side that has it off.
 *
 * |[<!-- language="C" -->
 * g_object_set (node, "tls", DP_TLS_ON, NULL);   // also over loopback
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_TLS_AUTO,
  DP_TLS_OFF,
  DP_TLS_ON,
} DpTlsMode;

/**
 * DP_DEFAULT_ROUTER_PORT:
 *
 * The seed's `DEFAULT-ROUTER-PORT`.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_ROUTER_PORT 6340

/**
 * DP_DEFAULT_MAX_FRAME_SIZE:
 *
 * Frames over this many bytes (64 MiB: a message of a little less) close
 * the connection that sent them, unless #DpNode:max-frame-size says
 * otherwise.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_FRAME_SIZE (64u * 1024u * 1024u)

/**
 * DP_DEFAULT_MAX_PLACES:
 *
 * The default of #DpNode:max-places: places peers may run on a node at once.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_PLACES 2048

/**
 * DP_DEFAULT_MAX_PLACES_PER_CONNECTION:
 *
 * The default of #DpNode:max-places-per-connection: enough for one master
 * to run a thousand places on a node (as benchmark W7 does), not the
 * thousands of threads one request could once start.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_PLACES_PER_CONNECTION 1024

/**
 * DP_DEFAULT_MAX_PENDING_CONNECTIONS:
 *
 * The default of #DpNode:max-pending-connections: accepted connections
 * still in their handshake.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_PENDING_CONNECTIONS 64

/**
 * DP_DEFAULT_MAX_OUTPUT_QUEUE:
 *
 * Bytes a connection queues for writing before a put waits (or a
 * dp_remote_connection_put_async() stays pending): #DpNode:max-output-queue.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_OUTPUT_QUEUE (8u * 1024u * 1024u)

/**
 * DP_DEFAULT_MAX_INBOX_SIZE:
 *
 * Bytes of messages an inbox holds before its sender waits (in-process) or
 * the router stops reading the connection they come on: #DpNode:max-inbox-size.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_INBOX_SIZE (8u * 1024u * 1024u)

/**
 * DP_DEFAULT_MAX_INBOX_MESSAGES:
 *
 * Messages an inbox holds before its sender waits, whatever their size:
 * #DpNode:max-inbox-messages.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_INBOX_MESSAGES 4096u

/**
 * DP_DEFAULT_MAX_CONCURRENT_SPAWNS:
 *
 * The default of #DpNode:max-concurrent-spawns: node spawns a router has
 * under way at once.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_CONCURRENT_SPAWNS 64u

/**
 * DP_DEFAULT_MAX_CONCURRENT_SPAWNS_PER_HOST:
 *
 * The default of #DpNode:max-concurrent-spawns-per-host: under OpenSSH's
 * default `MaxStartups` of 10.
 *
 * Since: 1.0
 */
#define DP_DEFAULT_MAX_CONCURRENT_SPAWNS_PER_HOST 8u

/**
 * DpNode:
 *
 * A message router: the seed's `node%` and `message-router`. Every process
 * of a cluster has one. In `dp-node` it listens, authenticates masters and
 * runs their places; in a master it owns the connections to the nodes the
 * program spawns (#DpRemoteNode) and runs the timers of
 * dp_message_router().
 *
 * A node owns every socket of its process on one private router thread,
 * as GDBus does, so a place or a main-loop callback may block on a get
 * without stopping the traffic. Connections are authenticated by a
 * challenge-response over the cluster's shared secret
 * (dp_node_load_cookie(), dp_node_set_secret()); nothing else is read
 * before it succeeds.
 *
 * Threads: the object may be used from any thread. Signals are emitted
 * in the thread-default main context of the thread that called
 * dp_node_new() (see dp_node_get_context()); network I/O never runs there.
 *
 * A node that serves places, as `dp-node` does:
 *
 * ```c
 * g_autoptr(DpNode) node = dp_node_new ();
 * g_autoptr(GError) error = NULL;
 *
 * dp_node_add_plugin_dir (node, "/opt/places");
 * if (!dp_node_load_cookie (node, NULL, &error) ||       // ~/.config/libdp/cookie
 *     !dp_node_listen (node, "127.0.0.1", 6340, &error))
 *   g_error ("%s", error->message);
 * g_main_loop_run (g_main_loop_new (NULL, FALSE));      // places run meanwhile
 * ```
 *
 * A master uses the same type as the router its remote nodes hang off:
 * see #DpRemoteNode.
 *
 * Since: 1.0
 */
#define DP_TYPE_NODE (dp_node_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpNode, dp_node, DP, NODE, GObject)

DP_AVAILABLE_IN_1_0
DpNode       *dp_node_new                 (void);
DP_AVAILABLE_IN_1_0
void          dp_node_set_secret          (DpNode       *self,
                                           GBytes       *secret);
DP_AVAILABLE_IN_1_0
void          dp_node_set_secret_full     (DpNode       *self,
                                           GBytes       *secret,
                                           const char   *source);
DP_AVAILABLE_IN_1_0
char         *dp_node_dup_secret_source   (DpNode       *self);
DP_AVAILABLE_IN_1_0
void          dp_node_set_tls_credentials (DpNode          *self,
                                           GTlsCertificate *certificate,
                                           GTlsCertificate *ca);
DP_AVAILABLE_IN_1_0
gboolean      dp_node_load_cookie         (DpNode       *self,
                                           const char   *path,
                                           GError      **error);
DP_AVAILABLE_IN_1_0
GBytes       *dp_node_get_secret          (DpNode       *self,
                                           GError      **error);
DP_AVAILABLE_IN_1_0
gboolean      dp_node_listen              (DpNode       *self,
                                           const char   *address,
                                           guint16       port,
                                           GError      **error);
DP_AVAILABLE_IN_1_0
guint16       dp_node_get_port            (DpNode       *self);
DP_AVAILABLE_IN_1_0
gboolean      dp_node_serve_socket        (DpNode       *self,
                                           GSocket      *socket,
                                           GError      **error);
DP_AVAILABLE_IN_1_0
void          dp_node_add_plugin_dir      (DpNode       *self,
                                           const char   *dir);
DP_AVAILABLE_IN_1_0
void          dp_node_set_advertised_host (DpNode       *self,
                                           const char   *host);
DP_AVAILABLE_IN_1_0
char         *dp_node_dup_advertised_host (DpNode       *self);
DP_AVAILABLE_IN_1_0
void          dp_node_set_max_frame_size  (DpNode       *self,
                                           gsize         max_frame_size);
DP_AVAILABLE_IN_1_0
gsize         dp_node_get_max_frame_size  (DpNode       *self);
DP_AVAILABLE_IN_1_0
GMainContext *dp_node_get_context         (DpNode       *self);
DP_AVAILABLE_IN_1_0
guint         dp_node_get_n_places        (DpNode       *self);
DP_AVAILABLE_IN_1_0
void          dp_node_shutdown            (DpNode       *self);

DP_AVAILABLE_IN_1_0
GBytes       *dp_cookie_load              (const char   *path,
                                           gboolean      create,
                                           GError      **error);
DP_AVAILABLE_IN_1_0
char         *dp_cookie_get_default_path  (void);
DP_AVAILABLE_IN_1_0
GBytes       *dp_secret_parse             (const char   *text,
                                           GError      **error);
DP_AVAILABLE_IN_1_0
char         *dp_secret_to_string         (GBytes       *secret);

G_END_DECLS
