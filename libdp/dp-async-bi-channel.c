/* dp-async-bi-channel.c: a two-ended channel whose put never blocks
 *
 * An end wraps one end of an in-process DpPlaceChannel pair (its bounded
 * inbox, its ordering, its blocking get and its close), with a put that
 * refuses instead of waiting (_dp_place_channel_try_put()) and a GSource in
 * the creator's context that emits ::message and ::closed. No thread.
 *
 * The inbox's notify hook is called by whoever pushes into it or closes it,
 * after that thread has released the inbox's lock; what it points to must
 * outlive every such call. Only the two ends of a pair push into or close
 * each other's inbox, and each holds the shared DpAbcPair while it does, so
 * the pair's wakers (the notify data) outlive them all; an end that goes
 * away unhooks its source from its waker under the waker's lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

/* ::message emissions per dispatch before the source yields to others */
#define DISPATCH_BATCH 64

typedef struct {
  GMutex   lock;
  GSource *source;      /* under @lock: the end's source, or NULL */
} DpAbcWaker;

typedef struct {
  gatomicrefcount ref;
  DpAbcWaker      waker[2];
} DpAbcPair;

struct _DpAsyncBiChannel
{
  GObject          parent_instance;
  /* immutable after construction */
  DpPlaceChannel  *end;
  DpAbcPair       *pair;
  guint            side;
  guint            max_messages;
  gsize            max_bytes;
  GMainContext    *context;
  GSource         *source;
  /* owner context only */
  gboolean         closed_emitted;
  /* atomic: a refused put through DpChannel has been logged */
  gint             full_logged;
};

typedef struct {
  GSource  source;
  GWeakRef owner;
} DpAbcSource;

enum {
  PROP_0,
  PROP_MAX_MESSAGES,
  PROP_MAX_BYTES,
  N_PROPS
};

enum {
  SIGNAL_MESSAGE,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void dp_async_bi_channel_channel_iface_init (DpChannelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DpAsyncBiChannel, dp_async_bi_channel, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (DP_TYPE_CHANNEL,
                                                      dp_async_bi_channel_channel_iface_init))

/* ---- the shared pair ---- */

static DpAbcPair *
pair_new (void)
{
  DpAbcPair *pair = g_new0 (DpAbcPair, 1);

  g_atomic_ref_count_init (&pair->ref);
  for (guint i = 0; i < 2; i++)
    g_mutex_init (&pair->waker[i].lock);
  return pair;
}

static DpAbcPair *
pair_ref (DpAbcPair *pair)
{
  g_atomic_ref_count_inc (&pair->ref);
  return pair;
}

static void
pair_unref (DpAbcPair *pair)
{
  if (!g_atomic_ref_count_dec (&pair->ref))
    return;
  for (guint i = 0; i < 2; i++)
    {
      g_assert (pair->waker[i].source == NULL);
      g_mutex_clear (&pair->waker[i].lock);
    }
  g_free (pair);
}

/* The inbox's notify hook: any thread */
static void
waker_wake (gpointer data)
{
  DpAbcWaker *w = data;

  g_mutex_lock (&w->lock);
  if (w->source)
    g_source_set_ready_time (w->source, 0);
  g_mutex_unlock (&w->lock);
}

/* ---- the source: ::message and ::closed in the owner context ---- */

static gboolean
source_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  DpAbcSource *as = (DpAbcSource *) source;
  g_autoptr(DpAsyncBiChannel) self = g_weak_ref_get (&as->owner);
  guint n = 0;

  g_source_set_ready_time (source, -1);
  if (self == NULL)
    return G_SOURCE_REMOVE;
  DP_ASSERT_OWNER_CONTEXT (self->context);

  if (g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE], 0, FALSE))
    {
      GVariant *msg;

      while (n < DISPATCH_BATCH && (msg = dp_place_channel_try_get (self->end)) != NULL)
        {
          g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, msg);
          g_variant_unref (msg);
          n++;
        }
      if (n == DISPATCH_BATCH)
        {
          g_source_set_ready_time (source, 0);   /* more, after the others */
          return G_SOURCE_CONTINUE;
        }
    }
  if (!self->closed_emitted && dp_place_channel_is_closed (self->end))
    {
      self->closed_emitted = TRUE;
      g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
    }
  return G_SOURCE_CONTINUE;
}

static void
source_finalize (GSource *source)
{
  g_weak_ref_clear (&((DpAbcSource *) source)->owner);
}

static GSourceFuncs source_funcs = {
  NULL, NULL, source_dispatch, source_finalize, NULL, NULL,
};

/* ---- GObject ---- */

/* Makes @self the end @side of @pair, on @end */
static void
end_setup (DpAsyncBiChannel *self,
           DpPlaceChannel   *end,
           DpAbcPair        *pair,
           guint             side)
{
  DpAbcSource *as;

  self->end = end;
  self->pair = pair_ref (pair);
  self->side = side;
  _dp_place_channel_set_inbox_limits (end, self->max_bytes, self->max_messages);

  self->source = g_source_new (&source_funcs, sizeof (DpAbcSource));
  as = (DpAbcSource *) self->source;
  g_weak_ref_init (&as->owner, self);
  g_source_set_static_name (self->source, "DpAsyncBiChannel");
  g_source_attach (self->source, self->context);

  g_mutex_lock (&pair->waker[side].lock);
  pair->waker[side].source = g_source_ref (self->source);
  g_mutex_unlock (&pair->waker[side].lock);
  _dp_place_channel_set_notify (end, waker_wake, &pair->waker[side]);
}

static void
dp_async_bi_channel_constructed (GObject *object)
{
  DpAsyncBiChannel *self = DP_ASYNC_BI_CHANNEL (object);

  G_OBJECT_CLASS (dp_async_bi_channel_parent_class)->constructed (object);
  self->context = g_main_context_ref_thread_default ();
}

static void
dp_async_bi_channel_finalize (GObject *object)
{
  DpAsyncBiChannel *self = DP_ASYNC_BI_CHANNEL (object);

  if (self->pair)
    {
      DpAbcWaker *w = &self->pair->waker[self->side];
      GSource *source;

      g_mutex_lock (&w->lock);
      source = g_steal_pointer (&w->source);
      g_mutex_unlock (&w->lock);
      g_clear_pointer (&source, g_source_unref);
      /* the other end sees this one closed after what was sent */
      dp_place_channel_close (self->end);
      _dp_place_channel_set_notify (self->end, NULL, NULL);
    }
  if (self->source)
    {
      g_source_destroy (self->source);
      g_source_unref (self->source);
    }
  g_clear_object (&self->end);
  g_clear_pointer (&self->pair, pair_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  G_OBJECT_CLASS (dp_async_bi_channel_parent_class)->finalize (object);
}

static void
dp_async_bi_channel_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  DpAsyncBiChannel *self = DP_ASYNC_BI_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_MAX_MESSAGES: g_value_set_uint (value, self->max_messages); break;
    case PROP_MAX_BYTES:    g_value_set_uint64 (value, self->max_bytes); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_async_bi_channel_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  DpAsyncBiChannel *self = DP_ASYNC_BI_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_MAX_MESSAGES: self->max_messages = g_value_get_uint (value); break;
    case PROP_MAX_BYTES:    self->max_bytes = (gsize) g_value_get_uint64 (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_async_bi_channel_class_init (DpAsyncBiChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = dp_async_bi_channel_constructed;
  object_class->finalize = dp_async_bi_channel_finalize;
  object_class->get_property = dp_async_bi_channel_get_property;
  object_class->set_property = dp_async_bi_channel_set_property;

  /**
   * DpAsyncBiChannel:max-messages:
   *
   * How many unread messages this end holds; a put from the other end
   * while it holds that many fails with %DP_ERROR_LIMIT. Set with
   * dp_async_bi_channel_new_pair_full().
   *
   * Since: 1.0
   */
  properties[PROP_MAX_MESSAGES] =
    g_param_spec_uint ("max-messages", NULL, NULL, 1, G_MAXUINT,
                       DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_MESSAGES,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * DpAsyncBiChannel:max-bytes:
   *
   * How many bytes of unread messages (their serialised sizes) this end
   * holds; a put from the other end while it holds that many fails with
   * %DP_ERROR_LIMIT. Set with dp_async_bi_channel_new_pair_full().
   *
   * Since: 1.0
   */
  properties[PROP_MAX_BYTES] =
    g_param_spec_uint64 ("max-bytes", NULL, NULL, 1, G_MAXSIZE,
                         DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_BYTES,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DpAsyncBiChannel::message:
   * @channel: the end the message arrived on
   * @message: the message (a #GVariant)
   *
   * A message arrived; emitted in the thread-default main context of the
   * thread that made the pair, only while a handler is connected (the
   * handlers then take every message: get and try_get see none).
   *
   * Since: 1.0
   */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
  /**
   * DpAsyncBiChannel::closed:
   * @channel: the end
   *
   * Nothing more can be got from this end: the pair is closed (by either
   * end) and every message sent before was taken (by ::message or a get).
   * Emitted once, in the same context as ::message.
   *
   * Since: 1.0
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
dp_async_bi_channel_init (DpAsyncBiChannel *self)
{
  self->max_messages = DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_MESSAGES;
  self->max_bytes = DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_BYTES;
}

/* ---- public API ---- */

/**
 * dp_async_bi_channel_new_pair:
 * @end_a: (out) (transfer full): one end
 * @end_b: (out) (transfer full): the other end
 *
 * `make-async-bi-channel`: makes the two ends of a channel; each holds at
 * most %DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_MESSAGES unread messages and
 * %DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_BYTES of them. Their signals are
 * emitted in the calling thread's thread-default main context.
 *
 * Since: 1.0
 */
void
dp_async_bi_channel_new_pair (DpAsyncBiChannel **end_a,
                              DpAsyncBiChannel **end_b)
{
  dp_async_bi_channel_new_pair_full (DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_MESSAGES,
                                     DP_ASYNC_BI_CHANNEL_DEFAULT_MAX_BYTES, end_a, end_b);
}

/**
 * dp_async_bi_channel_new_pair_full:
 * @max_messages: how many unread messages each end holds (at least 1)
 * @max_bytes: how many bytes of unread messages each end holds (at least 1)
 * @end_a: (out) (transfer full): one end
 * @end_b: (out) (transfer full): the other end
 *
 * Like dp_async_bi_channel_new_pair(), with the limits of each end's
 * inbox (#DpAsyncBiChannel:max-messages, #DpAsyncBiChannel:max-bytes).
 *
 * Since: 1.0
 */
void
dp_async_bi_channel_new_pair_full (guint              max_messages,
                                   gsize              max_bytes,
                                   DpAsyncBiChannel **end_a,
                                   DpAsyncBiChannel **end_b)
{
  DpPlaceChannel *pa, *pb;
  DpAbcPair *pair;
  DpAsyncBiChannel *a, *b;

  g_return_if_fail (max_messages > 0 && max_bytes > 0);
  g_return_if_fail (end_a != NULL && end_b != NULL);

  a = g_object_new (DP_TYPE_ASYNC_BI_CHANNEL, "max-messages", max_messages,
                    "max-bytes", (guint64) max_bytes, NULL);
  b = g_object_new (DP_TYPE_ASYNC_BI_CHANNEL, "max-messages", max_messages,
                    "max-bytes", (guint64) max_bytes, NULL);
  dp_place_channel_new_pair (&pa, &pb);
  pair = pair_new ();
  end_setup (a, pa, pair, 0);
  end_setup (b, pb, pair, 1);
  pair_unref (pair);
  *end_a = a;
  *end_b = b;
}

/* Lets the source see whether the end has closed (after a get found it so) */
static void
wake_own_source (DpAsyncBiChannel *self)
{
  if (self->source)
    g_source_set_ready_time (self->source, 0);
}

/**
 * dp_async_bi_channel_put:
 * @self: a #DpAsyncBiChannel
 * @message: the message; a floating reference is sunk, and the message is
 *   dropped when the put fails (keep a reference of your own to retry)
 * @error: return location for a #GError, or %NULL
 *
 * `async-bi-channel-put`: queues @message on the other end and returns at
 * once; it never blocks.
 *
 * Returns: %TRUE when queued; %FALSE with %DP_ERROR_LIMIT when the other
 *   end already holds #DpAsyncBiChannel:max-messages (or :max-bytes) of
 *   unread messages, with %DP_ERROR_CLOSED when either end is closed
 *
 * Since: 1.0
 */
gboolean
dp_async_bi_channel_put (DpAsyncBiChannel  *self,
                         GVariant          *message,
                         GError           **error)
{
  g_return_val_if_fail (DP_IS_ASYNC_BI_CHANNEL (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->end == NULL)
    {
      g_variant_unref (g_variant_ref_sink (message));
      g_set_error_literal (error, DP_ERROR, DP_ERROR_CLOSED,
                           "this end of the async bi-channel has no other end");
      return FALSE;
    }
  switch (_dp_place_channel_try_put (self->end, message))
    {
    case DP_TRY_PUT_OK:
      return TRUE;
    case DP_TRY_PUT_CLOSED:
      g_set_error_literal (error, DP_ERROR, DP_ERROR_CLOSED, "the async bi-channel is closed");
      return FALSE;
    case DP_TRY_PUT_FULL:
    default:
      /* both ends have the same limits */
      g_set_error (error, DP_ERROR, DP_ERROR_LIMIT,
                   "the other end of the async bi-channel holds its limit of unread messages "
                   "(max-messages %u, max-bytes %" G_GSIZE_FORMAT "): message dropped",
                   self->max_messages, self->max_bytes);
      return FALSE;
    }
}

/**
 * dp_async_bi_channel_get:
 * @self: a #DpAsyncBiChannel
 *
 * `async-bi-channel-get`: blocks until a message arrives.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL once the
 *   channel is closed and everything sent before has been read
 *
 * Since: 1.0
 */
GVariant *
dp_async_bi_channel_get (DpAsyncBiChannel *self)
{
  GVariant *msg;

  g_return_val_if_fail (DP_IS_ASYNC_BI_CHANNEL (self), NULL);
  if (self->end == NULL)
    return NULL;
  msg = dp_place_channel_get (self->end);
  if (msg == NULL)
    wake_own_source (self);
  return msg;
}

/**
 * dp_async_bi_channel_try_get:
 * @self: a #DpAsyncBiChannel
 *
 * Takes the next message that has arrived on this end without waiting.
 *
 * Returns: (transfer full) (nullable): a queued message, or %NULL at once
 *
 * Since: 1.0
 */
GVariant *
dp_async_bi_channel_try_get (DpAsyncBiChannel *self)
{
  GVariant *msg;

  g_return_val_if_fail (DP_IS_ASYNC_BI_CHANNEL (self), NULL);
  if (self->end == NULL)
    return NULL;
  msg = dp_place_channel_try_get (self->end);
  if (msg == NULL && dp_place_channel_is_closed (self->end))
    wake_own_source (self);
  return msg;
}

/**
 * dp_async_bi_channel_close:
 * @self: a #DpAsyncBiChannel
 *
 * Closes the pair from this end: puts on either end fail from now on, the
 * other end's get returns %NULL once it has read what was sent before, and
 * what this end had not read is dropped. Dropping the last reference to an
 * end closes it too. Closing twice is harmless.
 *
 * Since: 1.0
 */
void
dp_async_bi_channel_close (DpAsyncBiChannel *self)
{
  GVariant *msg;

  g_return_if_fail (DP_IS_ASYNC_BI_CHANNEL (self));
  if (self->end == NULL)
    return;
  dp_place_channel_close (self->end);
  /* what this end had not read goes now */
  while ((msg = dp_place_channel_try_get (self->end)) != NULL)
    g_variant_unref (msg);
  wake_own_source (self);
}

/**
 * dp_async_bi_channel_is_closed:
 * @self: a #DpAsyncBiChannel
 *
 * Whether this end is closed: the other end is gone and everything it sent
 * has been got.
 *
 * Returns: %TRUE when nothing more can be got from this end
 *
 * Since: 1.0
 */
gboolean
dp_async_bi_channel_is_closed (DpAsyncBiChannel *self)
{
  g_return_val_if_fail (DP_IS_ASYNC_BI_CHANNEL (self), TRUE);
  return self->end == NULL || dp_place_channel_is_closed (self->end);
}

/**
 * dp_async_bi_channel_get_max_messages:
 * @self: a #DpAsyncBiChannel
 *
 * How many messages this end holds at most before a put waits (the
 * #DpAsyncBiChannel:max-messages property).
 *
 * Returns: #DpAsyncBiChannel:max-messages
 *
 * Since: 1.0
 */
guint
dp_async_bi_channel_get_max_messages (DpAsyncBiChannel *self)
{
  g_return_val_if_fail (DP_IS_ASYNC_BI_CHANNEL (self), 0);
  return self->max_messages;
}

/**
 * dp_async_bi_channel_get_max_bytes:
 * @self: a #DpAsyncBiChannel
 *
 * How many bytes of messages this end holds at most before a put waits
 * (the #DpAsyncBiChannel:max-bytes property).
 *
 * Returns: #DpAsyncBiChannel:max-bytes
 *
 * Since: 1.0
 */
gsize
dp_async_bi_channel_get_max_bytes (DpAsyncBiChannel *self)
{
  g_return_val_if_fail (DP_IS_ASYNC_BI_CHANNEL (self), 0);
  return self->max_bytes;
}

/* ---- DpChannel ---- */

static gboolean
iface_put (DpChannel *ch,
           GVariant  *message)
{
  DpAsyncBiChannel *self = DP_ASYNC_BI_CHANNEL (ch);
  g_autoptr(GError) error = NULL;

  if (dp_async_bi_channel_put (self, message, &error))
    {
      g_atomic_int_set (&self->full_logged, 0);
      return TRUE;
    }
  if (g_error_matches (error, DP_ERROR, DP_ERROR_LIMIT) &&
      g_atomic_int_compare_and_exchange (&self->full_logged, 0, 1))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "DP_EVENT", "channel-full",
                      "MESSAGE", "%s", error->message);
  return FALSE;
}

static GVariant *
iface_get (DpChannel *ch)
{
  return dp_async_bi_channel_get (DP_ASYNC_BI_CHANNEL (ch));
}

static GVariant *
iface_try_get (DpChannel *ch)
{
  return dp_async_bi_channel_try_get (DP_ASYNC_BI_CHANNEL (ch));
}

static void
dp_async_bi_channel_channel_iface_init (DpChannelInterface *iface)
{
  iface->put = iface_put;
  iface->get = iface_get;
  iface->try_get = iface_try_get;
}
