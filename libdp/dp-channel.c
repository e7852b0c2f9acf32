/* dp-channel.c: DpChannel, what `*channel-put` and `*channel-get` work on
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

G_DEFINE_INTERFACE (DpChannel, dp_channel, G_TYPE_OBJECT)

static void
dp_channel_default_init (DpChannelInterface *iface)
{
}

/**
 * dp_channel_put:
 * @self: a #DpChannel
 * @message: the message; a floating reference is sunk
 *
 * The seed's `*channel-put`.
 *
 * Returns: %FALSE when the other side has gone and @message was dropped
 *
 * Since: 1.0
 */
gboolean
dp_channel_put (DpChannel *self,
                GVariant  *message)
{
  g_return_val_if_fail (DP_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  return DP_CHANNEL_GET_IFACE (self)->put (self, message);
}

/**
 * dp_channel_get:
 * @self: a #DpChannel
 *
 * The seed's `*channel-get`: blocks until a message arrives. It may be
 * called from inside a main-loop callback; no I/O of libdp runs there.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL once the other
 *   side has gone
 *
 * Since: 1.0
 */
GVariant *
dp_channel_get (DpChannel *self)
{
  g_return_val_if_fail (DP_IS_CHANNEL (self), NULL);
  return DP_CHANNEL_GET_IFACE (self)->get (self);
}

/**
 * dp_channel_try_get:
 * @self: a #DpChannel
 *
 * Takes the next message that has arrived without waiting.
 *
 * Returns: (transfer full) (nullable): a queued message, or %NULL
 *
 * Since: 1.0
 */
GVariant *
dp_channel_try_get (DpChannel *self)
{
  g_return_val_if_fail (DP_IS_CHANNEL (self), NULL);
  return DP_CHANNEL_GET_IFACE (self)->try_get (self);
}
