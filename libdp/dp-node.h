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
 * DP_DEFAULT_ROUTER_PORT:
 *
 * The seed's `DEFAULT-ROUTER-PORT`.
 */
#define DP_DEFAULT_ROUTER_PORT 6340

/**
 * DP_DEFAULT_MAX_FRAME_SIZE:
 *
 * Frames over this many bytes close the connection that sent them, unless
 * #DpNode:max-frame-size says otherwise.
 */
#define DP_DEFAULT_MAX_FRAME_SIZE (256u * 1024u * 1024u)

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
void          dp_node_add_plugin_dir      (DpNode       *self,
                                           const char   *dir);
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
