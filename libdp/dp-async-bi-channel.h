/* dp-async-bi-channel.h: a two-ended channel whose put never blocks
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
 * DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_MESSAGES:
 *
 * How many unread messages an end of a #DpAsyncBiChannel pair made by
 * dp_async_bi_channel_new_pair() holds before a put to it is refused.
 *
 * Since: 1.0
 */
#define DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_MESSAGES 4096u

/**
 * DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_BYTES:
 *
 * How many bytes of unread messages (their serialised sizes) an end of a
 * pair made by dp_async_bi_channel_new_pair() holds before a put to it is
 * refused: 8 MiB.
 *
 * Since: 1.0
 */
#define DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_BYTES (8u * 1024u * 1024u)

/**
 * DpAsyncBiChannel:
 *
 * One end of an asynchronous bidirectional channel in this process: the
 * seed's `make-async-bi-channel`, `async-bi-channel-put` and
 * `async-bi-channel-get`. What is put on one end is got, in order, from
 * the other. It is a #DpChannel, so it works wherever a channel does.
 *
 * - **put never blocks.** dp_async_bi_channel_put() queues the message on
 *   the other end and returns at once. It is bounded: when the other end
 *   already holds #DpAsyncBiChannel:max-messages unread messages, or
 *   #DpAsyncBiChannel:max-bytes of them, the put is refused with
 *   %DP_ERROR_LIMIT and the message is dropped (a message is admitted
 *   whenever the end is below both limits, so a single large one passes).
 *   The sender decides what to do: keep a reference and retry later, drop,
 *   or slow down. Through the #DpChannel interface a refused put returns
 *   %FALSE and logs a warning (`DP_EVENT` `channel-full`) the first time
 *   the end fills up.
 * - **get blocks** until a message arrives, and returns %NULL once the
 *   channel is closed and everything sent before has been read;
 *   dp_async_bi_channel_try_get() never blocks.
 * - **#DpAsyncBiChannel::message** is emitted, for main-loop code, in the
 *   thread-default main context of the thread that made the pair, once for
 *   each message that arrives — while a handler is connected: it then
 *   takes the messages, and get and try_get see none of them. Connect it
 *   right after making the pair (messages that arrived before are emitted
 *   with the next one). Use either the signal or get on one end, not both.
 * - **Closing.** dp_async_bi_channel_close() (or dropping the last
 *   reference to an end) closes both directions: puts on either end fail
 *   with %DP_ERROR_CLOSED from then on, the other end's get returns %NULL
 *   after the messages sent before the close, and what was still unread on
 *   the closed end is dropped. Each end emits #DpAsyncBiChannel::closed
 *   once, in its context, after ::message for every message it was sent.
 *
 * No thread is involved (Racket's version runs two forwarding threads per
 * pair, for ever, and cannot be closed).
 *
 * Threads: every function may be called from any thread; the signals are
 * emitted in the thread-default main context of the thread that called
 * dp_async_bi_channel_new_pair().
 *
 * ```c
 * DpAsyncBiChannel *a, *b;
 * g_autoptr(GError) error = NULL;
 * g_autoptr(GVariant) got = NULL;
 *
 * dp_async_bi_channel_new_pair (&a, &b);
 * dp_async_bi_channel_put (a, g_variant_new ("(si)", "job", 7), &error);  // never waits
 * got = dp_async_bi_channel_get (b);                                      // ('job', 7)
 * dp_async_bi_channel_close (a);
 * g_assert_null (dp_async_bi_channel_get (b));                            // closed, nothing left
 * g_object_unref (a);
 * g_object_unref (b);
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_ASYNC_BI_CHANNEL (dp_async_bi_channel_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpAsyncBiChannel, dp_async_bi_channel, DP, ASYNC_BI_CHANNEL, GObject)

DP_AVAILABLE_IN_1_0
void      dp_async_bi_channel_new_pair      (DpAsyncBiChannel **end_a,
                                             DpAsyncBiChannel **end_b);
DP_AVAILABLE_IN_1_0
void      dp_async_bi_channel_new_pair_full (guint              max_messages,
                                             gsize              max_bytes,
                                             DpAsyncBiChannel **end_a,
                                             DpAsyncBiChannel **end_b);
DP_AVAILABLE_IN_1_0
gboolean  dp_async_bi_channel_put           (DpAsyncBiChannel  *self,
                                             GVariant          *message,
                                             GError           **error);
DP_AVAILABLE_IN_1_0
GVariant *dp_async_bi_channel_get           (DpAsyncBiChannel  *self);
DP_AVAILABLE_IN_1_0
GVariant *dp_async_bi_channel_try_get       (DpAsyncBiChannel  *self);
DP_AVAILABLE_IN_1_0
void      dp_async_bi_channel_close         (DpAsyncBiChannel  *self);
DP_AVAILABLE_IN_1_0
gboolean  dp_async_bi_channel_is_closed     (DpAsyncBiChannel  *self);
DP_AVAILABLE_IN_1_0
guint     dp_async_bi_channel_get_max_messages (DpAsyncBiChannel *self);
DP_AVAILABLE_IN_1_0
gsize     dp_async_bi_channel_get_max_bytes (DpAsyncBiChannel  *self);

G_END_DECLS
