/* dp-channel.h: the interface shared by everything a message can be put on
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
 * DpChannel:
 *
 * Anything a message can be put on and got from: a place's
 * #DpPlaceChannel and a master's #DpRemoteConnection alike. The seed's
 * `*channel-put` and `*channel-get` (dp_channel_put(), dp_channel_get())
 * work on both, so code written for one works with the other.
 *
 * Threads: as the implementing type says; both libdp implementations may
 * be used from any thread.
 *
 * ```c
 * static GVariant *
 * ask (DpChannel *ch, const char *question)
 * {
 *   dp_channel_put (ch, g_variant_new_string (question));
 *   return dp_channel_get (ch);              // the reply, or NULL when closed
 * }
 *
 * ask (DP_CHANNEL (remote_connection), "balance");    // from a master
 * ask (DP_CHANNEL (place_channel), "balance");        // from inside a place
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_CHANNEL (dp_channel_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_INTERFACE (DpChannel, dp_channel, DP, CHANNEL, GObject)

/**
 * DpChannelInterface:
 * @put: send one message; returns %FALSE once the other side has gone
 * @get: block until a message arrives; %NULL once the other side has gone
 * @try_get: return a queued message or %NULL at once
 *
 * The seed's `*channel-put` / `*channel-get` work on place channels and on
 * remote connections alike; in libdp both implement #DpChannel.
 *
 * Since: 1.0
 */
struct _DpChannelInterface
{
  GTypeInterface g_iface;

  gboolean   (*put)     (DpChannel *self, GVariant *message);
  GVariant * (*get)     (DpChannel *self);
  GVariant * (*try_get) (DpChannel *self);
};

DP_AVAILABLE_IN_1_0
gboolean  dp_channel_put     (DpChannel *self, GVariant *message);
DP_AVAILABLE_IN_1_0
GVariant *dp_channel_get     (DpChannel *self);
DP_AVAILABLE_IN_1_0
GVariant *dp_channel_try_get (DpChannel *self);

G_END_DECLS
