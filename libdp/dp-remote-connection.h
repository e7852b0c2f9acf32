/* dp-remote-connection.h: the master's handle on one remote place
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
#include "dp-restarter.h"

G_BEGIN_DECLS

/**
 * DpRemoteConnectionState:
 * @DP_REMOTE_CONNECTION_STARTING: the request is on its way
 * @DP_REMOTE_CONNECTION_READY: the place runs (or the named place was found)
 * @DP_REMOTE_CONNECTION_EXITED: the place ended or could not be started
 *
 * Where a #DpRemoteConnection is in its life.
 *
 * |[<!-- language="C" -->
 * static void
 * on_state (GObject *conn, GParamSpec *pspec, gpointer data)
 * {
 *   if (dp_remote_connection_get_state (DP_REMOTE_CONNECTION (conn)) == DP_REMOTE_CONNECTION_EXITED)
 *     g_print ("the place ended: %s\n",
 *              dp_remote_connection_get_exit_detail (DP_REMOTE_CONNECTION (conn)));
 * }
 *
 * g_signal_connect (conn, "notify::state", G_CALLBACK (on_state), NULL);
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_REMOTE_CONNECTION_STARTING,
  DP_REMOTE_CONNECTION_READY,
  DP_REMOTE_CONNECTION_EXITED,
} DpRemoteConnectionState;

/**
 * DpRemoteConnection:
 *
 * The master's end of a channel to one place on a node, or to a named
 * place: the seed's `remote-connection%`. It is a #DpChannel, so
 * dp_channel_put() and dp_channel_get() work on it as on a place's own
 * channel. Replies are matched by channel: what another place or a log
 * record sends never arrives here. Messages are #GVariant values; any
 * value put arrives equal (g_variant_equal()) on the other side.
 *
 * A connection lives through restarts of its place (or of its node): what
 * is put while the place is down is queued for the next incarnation, and
 * what a place could not read comes back as #DpRemoteConnection::undelivered
 * when no restart follows. Its state (dp_remote_connection_get_state())
 * goes STARTING → READY → EXITED, with the exit and its detail.
 *
 * Threads: put, get and the getters may be called from any thread, and a
 * blocking get may be made inside a main-loop callback (the router runs on
 * its own thread). Signals (::message, ::died, ::restarting, ::restarted,
 * ::undelivered) are emitted in the thread-default main context of the
 * thread that launched the place or connected.
 *
 * ```c
 * g_autoptr(DpRemoteConnection) pl =
 *   dp_remote_node_launch_place (node, "echo", "echo", DP_LAUNCH_NONE, NULL);
 * g_autoptr(GVariant) reply = NULL;
 *
 * dp_remote_connection_put (pl, g_variant_new_string ("Hello"));   // sinks the floating ref
 * reply = dp_remote_connection_get (pl);                            // blocks; NULL: the place ended
 * g_print ("%s\n", g_variant_get_string (reply, NULL));
 * dp_remote_connection_close (pl);
 * g_assert (dp_remote_connection_wait (pl) == DP_PLACE_EXIT_RETURNED);
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_REMOTE_CONNECTION (dp_remote_connection_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpRemoteConnection, dp_remote_connection, DP, REMOTE_CONNECTION, GObject)

DP_AVAILABLE_IN_1_0
gboolean     dp_remote_connection_put        (DpRemoteConnection *self,
                                              GVariant           *message);
DP_AVAILABLE_IN_1_0
gboolean     dp_remote_connection_put_many   (DpRemoteConnection *self,
                                              GVariant * const   *messages,
                                              guint               n_messages);
DP_AVAILABLE_IN_1_0
GVariant    *dp_remote_connection_get        (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
guint        dp_remote_connection_get_many   (DpRemoteConnection *self,
                                              GVariant          **messages,
                                              guint               max_messages);
DP_AVAILABLE_IN_1_0
GVariant    *dp_remote_connection_get_timeout (DpRemoteConnection *self,
                                              gint64              timeout_us,
                                              GError            **error);
DP_AVAILABLE_IN_1_0
void         dp_remote_connection_get_async  (DpRemoteConnection  *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
DP_AVAILABLE_IN_1_0
GVariant    *dp_remote_connection_get_finish (DpRemoteConnection  *self,
                                              GAsyncResult        *result,
                                              GError             **error);
DP_AVAILABLE_IN_1_0
void         dp_remote_connection_wait_async (DpRemoteConnection  *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
DP_AVAILABLE_IN_1_0
DpPlaceExit  dp_remote_connection_wait_finish (DpRemoteConnection  *self,
                                               GAsyncResult        *result,
                                               GError             **error);
DP_AVAILABLE_IN_1_0
void         dp_remote_connection_put_async  (DpRemoteConnection  *self,
                                             GVariant            *message,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
DP_AVAILABLE_IN_1_0
gboolean     dp_remote_connection_put_finish (DpRemoteConnection  *self,
                                             GAsyncResult        *result,
                                             GError             **error);
DP_AVAILABLE_IN_1_0
gboolean     dp_remote_connection_is_writable (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
GVariant    *dp_remote_connection_try_get    (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
void         dp_remote_connection_close      (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
gboolean     dp_remote_connection_wait_ready (DpRemoteConnection *self,
                                              GCancellable       *cancellable,
                                              GError            **error);
DP_AVAILABLE_IN_1_0
void         dp_remote_connection_wait_ready_async  (DpRemoteConnection  *self,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
DP_AVAILABLE_IN_1_0
gboolean     dp_remote_connection_wait_ready_finish (DpRemoteConnection  *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);
DP_AVAILABLE_IN_1_0
DpPlaceExit  dp_remote_connection_wait       (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
DpRemoteConnectionState dp_remote_connection_get_state (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
DpPlaceExit  dp_remote_connection_get_exit   (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
char        *dp_remote_connection_dup_exit_detail (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
const char  *dp_remote_connection_get_exit_detail (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
const GError *dp_remote_connection_get_error (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
GError      *dp_remote_connection_dup_error  (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
const char  *dp_remote_connection_get_symbol (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
guint32      dp_remote_connection_get_id     (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
gboolean     dp_remote_connection_restart    (DpRemoteConnection *self);
DP_AVAILABLE_IN_1_0
void         dp_remote_connection_set_restart (DpRemoteConnection *self,
                                               gboolean            restart);
DP_AVAILABLE_IN_1_0
void         dp_remote_connection_set_restarter (DpRemoteConnection *self,
                                                 DpRestarter        *restarter);
DP_AVAILABLE_IN_1_0
void         dp_remote_connection_set_restart_func (DpRemoteConnection *self,
                                                    DpRestartFunc       func,
                                                    gpointer            user_data,
                                                    GDestroyNotify      notify);

DP_AVAILABLE_IN_1_0
GVariant *dp_remote_connection_to_variant (DpRemoteConnection  *self,
                                          GError             **error);
DP_AVAILABLE_IN_1_0
void      dp_remote_connection_to_variant_async  (DpRemoteConnection  *self,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
DP_AVAILABLE_IN_1_0
GVariant *dp_remote_connection_to_variant_finish (DpRemoteConnection  *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);

G_END_DECLS
