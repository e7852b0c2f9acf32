/* dp-place.h: a place running in a thread of this process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib-object.h>
#include "dp-version-macros.h"
#include "dp-place-channel.h"

G_BEGIN_DECLS

/**
 * DpPlaceExit:
 * @DP_PLACE_EXIT_RUNNING: the place has not exited yet
 * @DP_PLACE_EXIT_RETURNED: the place function returned
 * @DP_PLACE_EXIT_CRASHED: the place was stopped by a fatal signal (abort,
 *   segmentation fault…); the detail names the signal. A place running in a
 *   thread of its node takes the node with it (native code cannot be
 *   resumed after a crash; the node's restart policy brings it back); an
 *   isolated place (%DP_LAUNCH_ISOLATE) dies alone
 * @DP_PLACE_EXIT_FAILED: the place could not be started
 * @DP_PLACE_EXIT_LOST: the node or the connection to it went away
 *
 * How a place ended.
 *
 * |[<!-- language="C" -->
 * DpPlaceExit how = dp_remote_connection_wait (conn);
 *
 * if (how != DP_PLACE_EXIT_RETURNED)
 *   g_printerr ("the place %s: %s\n", dp_place_exit_to_string (how),
 *               dp_remote_connection_get_exit_detail (conn));
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_PLACE_EXIT_RUNNING,
  DP_PLACE_EXIT_RETURNED,
  DP_PLACE_EXIT_CRASHED,
  DP_PLACE_EXIT_FAILED,
  DP_PLACE_EXIT_LOST,
} DpPlaceExit;

/**
 * DpPlace:
 *
 * A place: user code running in a thread of its own, talking to the rest
 * of the program only through its #DpPlaceChannel — the seed's `place`.
 * A node makes one for every launch request, from a plugin symbol
 * (dp_place_new_from_plugin(); see #DpPluginDesc); a thunk
 * (#DpPlaceThunk, the seed's `#:thunk #t`) makes its own with
 * dp_place_new(). A place ends when its function returns
 * (%DP_PLACE_EXIT_RETURNED) or crashes (%DP_PLACE_EXIT_CRASHED); its
 * death is reported after the last message it put.
 *
 * Threads: the place function runs on the place's thread; the other
 * functions may be called from any thread.
 *
 * ```c
 * static void
 * counter (DpPlaceChannel *ch)
 * {
 *   gint64 n = 0;
 *   GVariant *msg;
 *
 *   while ((msg = dp_place_channel_get (ch)) != NULL)   // NULL: closed
 *     {
 *       dp_place_channel_put (ch, g_variant_new_int64 (++n));
 *       g_variant_unref (msg);
 *     }
 * }
 *
 * DP_PLACE_EXPORT DpPlace *
 * counter_thunk (void)
 * {
 *   return dp_place_new (counter);      // launched with DP_LAUNCH_THUNK
 * }
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_PLACE (dp_place_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpPlace, dp_place, DP, PLACE, GObject)

/**
 * DpPlaceThunk:
 *
 * The `--thunk` form of a place symbol: it creates the place itself with
 * dp_place_new() and returns it. A node calls it on the thread of the place
 * being launched (in the place's process when it is isolated), never on its
 * router, and runs the place it returns on that same thread: a thunk that
 * blocks delays only its place, one that crashes is its place's crash, and
 * one that returns %NULL (or a place it did not make with dp_place_new())
 * fails the launch.
 *
 * |[<!-- language="C" -->
 * static void
 * counter (DpPlaceChannel *ch)
 * {
 *   GVariant *msg;
 *   guint n = 0;
 *
 *   while ((msg = dp_place_channel_get (ch)) != NULL)
 *     {
 *       dp_place_channel_put (ch, g_variant_new_uint32 (++n));
 *       g_variant_unref (msg);
 *     }
 * }
 *
 * // the thunk: launched with DP_LAUNCH_THUNK
 * DP_PLACE_EXPORT DpPlace *
 * counter_thunk (void)
 * {
 *   return dp_place_new (counter);
 * }
 * ]|
 *
 * Returns: (transfer full) (nullable): the new place
 *
 * Since: 1.0
 */
typedef DpPlace *(*DpPlaceThunk) (void);

DP_AVAILABLE_IN_1_0
DpPlace        *dp_place_new          (DpPlaceFunc  func);
DP_AVAILABLE_IN_1_0
DpPlace        *dp_place_new_from_plugin (const char  *plugin,
                                          const char  *symbol,
                                          GError     **error);
DP_AVAILABLE_IN_1_0
DpPlaceChannel *dp_place_get_channel  (DpPlace     *self);
DP_AVAILABLE_IN_1_0
DpPlaceExit     dp_place_wait         (DpPlace     *self);
DP_AVAILABLE_IN_1_0
DpPlaceExit     dp_place_get_exit     (DpPlace     *self);
DP_AVAILABLE_IN_1_0
const char     *dp_place_get_exit_detail (DpPlace  *self);
DP_AVAILABLE_IN_1_0
const char     *dp_place_exit_to_string (DpPlaceExit exit);

G_END_DECLS
