/* dp-typed-channel.h: receive selectively by a message's type
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib-object.h>
#include "dp-version-macros.h"
#include "dp-channel.h"

G_BEGIN_DECLS

/**
 * DP_TYPED_CHANNEL_DEFAULT_MAX_HELD:
 *
 * How many messages of other types a #DpTypedChannel made by
 * dp_typed_channel_new() holds back.
 *
 * Since: 1.0
 */
#define DP_TYPED_CHANNEL_DEFAULT_MAX_HELD 4096u

/**
 * DpTypedChannel:
 *
 * Receives selectively from any #DpChannel by the type of a message: the
 * seed's `named-place-typed-channel%` and `tc-get`.
 * dp_typed_channel_get() returns the oldest message of the type asked for;
 * messages of other types that arrive meanwhile are held back, in arrival
 * order, for later gets. A %NULL type takes any message (held-back ones
 * first).
 *
 * The type of a message is the string found by following first elements
 * from the message down until a string comes — so `('add', 1, 2)`,
 * `[<'add'>, <1>]` (JSON `["add", 1, 2]`) and `(('add', 1), reply)` (the
 * seed's `((TYPE …) extra …)`) all have the type `add`:
 *
 * | message (GVariant) | its type |
 * |---|---|
 * | string `s`, object path `o`, signature `g` | the string itself: `'ping'` is of type `ping` |
 * | tuple `(…)` | the type of its first child; `()` has none |
 * | array `a…` | the type of its first element; an empty array has none |
 * | dictionary `a{…}` | none (its entries have no order that means anything) |
 * | dict entry `{k v}` | the type of its key |
 * | variant `v` | the type of the value inside |
 * | maybe `m…` | the type of the value inside; `nothing` has none |
 * | number, boolean, handle | none |
 *
 * On a named place's channel, dp_typed_channel_get_full() also gives the
 * channel back to the client that sent each message (held-back messages
 * keep theirs).
 *
 * A message that has no type is never returned by a get for a type, only
 * by a get for %NULL (until then it is held back like any other).
 *
 * Bounded: at most #DpTypedChannel:max-held messages are held back. A get
 * for a type none of them has, made while that many are held, reads
 * nothing from the channel and fails with %DP_ERROR_LIMIT; the held
 * messages stay, and gets for their types (or for %NULL) take them.
 *
 * Threads: any thread; gets are served one at a time (a blocking get holds
 * the others back while it waits; a try_get meanwhile returns %NULL).
 *
 * ```c
 * // the place's channel carries ("result", …), ("log", …) and ("stop") messages
 * g_autoptr(DpTypedChannel) tc = dp_typed_channel_new (DP_CHANNEL (ch));
 * g_autoptr(GError) error = NULL;
 * g_autoptr(GVariant) r = dp_typed_channel_get (tc, "result", &error);  // skips the logs
 *
 * if (r == NULL && error == NULL)
 *   return;                       // the channel closed without a "result"
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_TYPED_CHANNEL (dp_typed_channel_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpTypedChannel, dp_typed_channel, DP, TYPED_CHANNEL, GObject)

DP_AVAILABLE_IN_1_0
DpTypedChannel *dp_typed_channel_new          (DpChannel       *channel);
DP_AVAILABLE_IN_1_0
DpTypedChannel *dp_typed_channel_new_full     (DpChannel       *channel,
                                               guint            max_held);
DP_AVAILABLE_IN_1_0
GVariant       *dp_typed_channel_get          (DpTypedChannel  *self,
                                               const char      *type,
                                               GError         **error);
DP_AVAILABLE_IN_1_0
GVariant       *dp_typed_channel_get_full     (DpTypedChannel  *self,
                                               const char      *type,
                                               DpChannel      **reply_channel,
                                               GError         **error);
DP_AVAILABLE_IN_1_0
GVariant       *dp_typed_channel_try_get      (DpTypedChannel  *self,
                                               const char      *type,
                                               GError         **error);
DP_AVAILABLE_IN_1_0
DpChannel      *dp_typed_channel_get_channel  (DpTypedChannel  *self);
DP_AVAILABLE_IN_1_0
guint           dp_typed_channel_get_n_held   (DpTypedChannel  *self);
DP_AVAILABLE_IN_1_0
guint           dp_typed_channel_get_max_held (DpTypedChannel  *self);
DP_AVAILABLE_IN_1_0
char           *dp_typed_channel_dup_message_type (GVariant    *message);

G_END_DECLS
