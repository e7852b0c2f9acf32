/* dp-error.h: the DP_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib.h>
#include "dp-version-macros.h"

G_BEGIN_DECLS

/**
 * DP_ERROR:
 *
 * The error domain of libdp. Errors in it use the #DpError codes.
 *
 * |[<!-- language="C" -->
 * if (node == NULL && g_error_matches (error, DP_ERROR, DP_ERROR_NODE_NOT_FOUND))
 *   g_printerr ("install dp-node or set DP_NODE_PATH: %s\n", error->message);
 * ]|
 *
 * Since: 1.0
 */
#define DP_ERROR (dp_error_quark ())

/**
 * DpError:
 * @DP_ERROR_FAILED: generic failure
 * @DP_ERROR_INVALID_ARGUMENT: a caller passed something malformed
 * @DP_ERROR_PLUGIN_NOT_FOUND: the plugin file could not be found or opened
 * @DP_ERROR_PLUGIN_NOT_ALLOWED: the plugin is outside the node's plugin path
 * @DP_ERROR_PLUGIN_ABI: the plugin's descriptor has an incompatible ABI version
 * @DP_ERROR_SYMBOL_NOT_FOUND: the plugin does not export the requested symbol
 * @DP_ERROR_PLACE_FAILED: the place could not be started (e.g. a thunk returned %NULL);
 *   or an RPC call's server place died under it (see dp_rpc_call_sync())
 * @DP_ERROR_NAME_NOT_FOUND: no named place has that name on the node
 * @DP_ERROR_NAME_IN_USE: a named place of that name already exists on the node
 * @DP_ERROR_AUTH_FAILED: the peer failed the challenge-response, or refused
 *   ours: the two sides do not share the cluster's secret (the message names
 *   where ours came from, e.g. the cookie file)
 * @DP_ERROR_PROTOCOL: the peer broke the wire protocol (bad magic, version, frame)
 * @DP_ERROR_FRAME_TOO_LARGE: a frame was over the configured maximum
 * @DP_ERROR_CONNECTION_CLOSED: the connection ended
 * @DP_ERROR_COOKIE: the cookie file is missing, unreadable or has loose permissions
 * @DP_ERROR_SPAWN_FAILED: the node process could not be started
 * @DP_ERROR_NODE_NOT_FOUND: the node program does not exist or is not executable
 * @DP_ERROR_NODE_EXITED: the node process ended before it was ready
 * @DP_ERROR_TIMED_OUT: an operation took longer than its timeout
 * @DP_ERROR_HOST_UNREACHABLE: the host could not be reached
 * @DP_ERROR_CONNECTION_REFUSED: the host refused the connection
 * @DP_ERROR_SSH_AUTH_FAILED: ssh public-key authentication failed
 * @DP_ERROR_HOST_KEY_UNKNOWN: the ssh host key is not in known_hosts
 * @DP_ERROR_HOST_KEY_CHANGED: the ssh host key differs from the one in known_hosts
 * @DP_ERROR_CLOSED: the channel or connection was closed by this side
 * @DP_ERROR_PLUGIN_INVALID: the plugin file exists but cannot be loaded: it
 *   is not a shared object, or it refers to a symbol nothing defines (the
 *   message names it), or a library it needs is missing
 * @DP_ERROR_LIMIT: a limit of the node was reached (places on the node, or
 *   started by one connection); the message names the limit, its value and
 *   the #DpNode property (and dp-node option) that sets it
 * @DP_ERROR_BAD_REFERENCE: a channel reference (dp_place_channel_from_variant())
 *   is malformed, forged, already redeemed, or was dropped by its node
 * @DP_ERROR_UNKNOWN_METHOD: an RPC server has no method of that name (see
 *   dp_rpc_call_sync())
 * @DP_ERROR_INVALID_ARGS: an RPC request's arguments, or a reply, do not
 *   have the method's types (a wrong type or a wrong count); the message
 *   names the expected and the received type
 * @DP_ERROR_RANK_LOST: an RMPI rank ended, or its node was lost, while
 *   others still needed it (the message names the rank)
 *
 * Error codes in the %DP_ERROR domain.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GVariant) reply = dp_remote_connection_get_timeout (conn, G_USEC_PER_SEC, &error);
 *
 * if (reply == NULL)
 *   switch (error->code)
 *     {
 *     case DP_ERROR_TIMED_OUT: g_print ("no reply yet\n"); break;
 *     case DP_ERROR_CLOSED:    g_print ("the place has ended\n"); break;
 *     default:                 g_printerr ("%s\n", error->message);
 *     }
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_ERROR_FAILED,
  DP_ERROR_INVALID_ARGUMENT,
  DP_ERROR_PLUGIN_NOT_FOUND,
  DP_ERROR_PLUGIN_NOT_ALLOWED,
  DP_ERROR_PLUGIN_ABI,
  DP_ERROR_SYMBOL_NOT_FOUND,
  DP_ERROR_PLACE_FAILED,
  DP_ERROR_NAME_NOT_FOUND,
  DP_ERROR_NAME_IN_USE,
  DP_ERROR_AUTH_FAILED,
  DP_ERROR_PROTOCOL,
  DP_ERROR_FRAME_TOO_LARGE,
  DP_ERROR_CONNECTION_CLOSED,
  DP_ERROR_COOKIE,
  DP_ERROR_SPAWN_FAILED,
  DP_ERROR_NODE_NOT_FOUND,
  DP_ERROR_NODE_EXITED,
  DP_ERROR_TIMED_OUT,
  DP_ERROR_HOST_UNREACHABLE,
  DP_ERROR_CONNECTION_REFUSED,
  DP_ERROR_SSH_AUTH_FAILED,
  DP_ERROR_HOST_KEY_UNKNOWN,
  DP_ERROR_HOST_KEY_CHANGED,
  DP_ERROR_CLOSED,
  DP_ERROR_PLUGIN_INVALID,
  DP_ERROR_LIMIT,
  DP_ERROR_BAD_REFERENCE,
  DP_ERROR_UNKNOWN_METHOD,
  DP_ERROR_INVALID_ARGS,
  DP_ERROR_RANK_LOST,
} DpError;

/**
 * dp_error_quark:
 *
 * The quark of the %DP_ERROR domain (use %DP_ERROR).
 *
 * Returns: the quark
 *
 * Since: 1.0
 */
DP_AVAILABLE_IN_1_0
GQuark dp_error_quark (void);

G_END_DECLS
