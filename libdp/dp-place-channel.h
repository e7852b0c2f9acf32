/* dp-place-channel.h: the two-ended channel a place talks through
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib-object.h>
#include "dp-version-macros.h"

G_BEGIN_DECLS

/**
 * DpPlaceChannel:
 *
 * One end of a place channel: the seed's `place-channel`. What is put on
 * one end is got, in order, from the other; the ends may be in the same
 * process (dp_place_channel_new_pair()) or a place's end may lead over
 * the network to its master. A get blocks until a message comes or the
 * channel is closed (then it returns %NULL); dp_place_channel_try_get()
 * and dp_place_channel_create_source() never block, for main-loop code.
 * Messages are #GVariant values: a floating reference is sunk by the put.
 *
 * Threads: every function may be called from any thread; a get is meant
 * for the thread that owns the end (a place's own thread).
 *
 * ```c
 * DpPlaceChannel *a, *b;
 * g_autoptr(GVariant) got = NULL;
 *
 * dp_place_channel_new_pair (&a, &b);
 * dp_place_channel_put (a, g_variant_new ("(si)", "ok", 10));
 * got = dp_place_channel_get (b);                 // ('ok', 10)
 * dp_place_channel_close (a);
 * g_assert_null (dp_place_channel_get (b));      // closed, nothing left
 * g_object_unref (a);
 * g_object_unref (b);
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_PLACE_CHANNEL (dp_place_channel_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpPlaceChannel, dp_place_channel, DP, PLACE_CHANNEL, GObject)

/**
 * DpPlaceFunc:
 * @channel: the place's end of its channel
 *
 * The body of a place. It runs in a thread of its own; when it returns,
 * the place has exited and the other end of @channel sees it closed.
 *
 * |[<!-- language="C" -->
 * // echoes every message until the other end closes
 * DP_PLACE_EXPORT void
 * echo (DpPlaceChannel *ch)
 * {
 *   GVariant *msg;
 *
 *   while ((msg = dp_place_channel_get (ch)) != NULL)
 *     {
 *       dp_place_channel_put (ch, msg);
 *       g_variant_unref (msg);
 *     }
 * }
 * ]|
 *
 * Since: 1.0
 */
typedef void (*DpPlaceFunc) (DpPlaceChannel *channel);

DP_AVAILABLE_IN_1_0
void      dp_place_channel_new_pair   (DpPlaceChannel **end_a,
                                       DpPlaceChannel **end_b);
DP_AVAILABLE_IN_1_0
gboolean  dp_place_channel_put        (DpPlaceChannel  *self,
                                       GVariant        *message);
DP_AVAILABLE_IN_1_0
gboolean  dp_place_channel_put_many   (DpPlaceChannel   *self,
                                       GVariant * const *messages,
                                       guint             n_messages);
DP_AVAILABLE_IN_1_0
GVariant *dp_place_channel_get        (DpPlaceChannel  *self);
DP_AVAILABLE_IN_1_0
guint     dp_place_channel_get_many   (DpPlaceChannel  *self,
                                       GVariant       **messages,
                                       guint            max_messages);
DP_AVAILABLE_IN_1_0
GVariant *dp_place_channel_get_full   (DpPlaceChannel  *self,
                                       DpPlaceChannel **reply_channel);
DP_AVAILABLE_IN_1_0
GVariant *dp_place_channel_get_timeout (DpPlaceChannel *self,
                                       gint64           timeout_us,
                                       gboolean        *closed);
DP_AVAILABLE_IN_1_0
GVariant *dp_place_channel_try_get    (DpPlaceChannel  *self);
DP_AVAILABLE_IN_1_0
void      dp_place_channel_close      (DpPlaceChannel  *self);
DP_AVAILABLE_IN_1_0
gboolean  dp_place_channel_is_closed  (DpPlaceChannel  *self);
DP_AVAILABLE_IN_1_0
GSource  *dp_place_channel_create_source (DpPlaceChannel *self);
DP_AVAILABLE_IN_1_0
void      dp_place_channel_log        (DpPlaceChannel  *self,
                                       const char      *severity,
                                       const char      *message);

/* The mesh (dp-mesh.c): places on different nodes talk directly */
DP_AVAILABLE_IN_1_0
DpPlaceChannel *dp_place_channel_connect      (DpPlaceChannel  *self,
                                               const char      *host,
                                               guint16          port,
                                               const char      *name,
                                               GError         **error);
DP_AVAILABLE_IN_1_0
DpPlaceChannel *dp_place_channel_start_place_at (DpPlaceChannel *self,
                                               const char      *host,
                                               guint16          port,
                                               const char      *plugin,
                                               const char      *symbol,
                                               const char      *name,
                                               GError         **error);
DP_AVAILABLE_IN_1_0
GVariant       *dp_place_channel_to_variant   (DpPlaceChannel  *channel);
DP_AVAILABLE_IN_1_0
DpPlaceChannel *dp_place_channel_from_variant (DpPlaceChannel  *self,
                                               GVariant        *value,
                                               GError         **error);

G_END_DECLS
