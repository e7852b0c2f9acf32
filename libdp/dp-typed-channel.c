/* dp-typed-channel.c: receive selectively by a message's type
 *
 * The seed's named-place-typed-channel% (distributed.rkt) takes the type
 * of a message as its caaar and fails on any other shape; here the type is
 * found by following first elements down to a string (see the table in
 * dp-typed-channel.h), and a message without one is simply never of any
 * type. Held-back messages wait in a bounded queue, in arrival order, and
 * in one queue per type besides (the links are in the entry: no
 * allocation), so that a get takes the oldest of its type, or the oldest of
 * all, without looking at the others; a message's type is found once, when
 * it arrives.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

/* A held-back message: in the arrival-order queue and, when it has a type,
 * in its type's queue */
typedef struct {
  GVariant  *msg;
  DpChannel *reply;      /* where to answer it */
  char      *type;       /* NULL: none */
  GList     order_link;  /* data: this entry */
  GList     type_link;   /* data: this entry */
} DpHeld;

struct _DpTypedChannel
{
  GObject     parent_instance;
  /* immutable after construction */
  DpChannel  *channel;
  guint       max_held;
  /* one get at a time; @held and @by_type are under it */
  GMutex      reader;
  GQueue      held;      /* DpHeld, in arrival order */
  GHashTable *by_type;   /* type (owned) -> GQueue of DpHeld; never an empty one */
  guint       n_held;    /* atomic: the length of @held */
};

enum {
  PROP_0,
  PROP_CHANNEL,
  PROP_MAX_HELD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (DpTypedChannel, dp_typed_channel, G_TYPE_OBJECT)

/* ---- a message's type ---- */

/* The value that holds @message's type (a string, object path or
 * signature), as a new reference, or NULL when it has none */
static GVariant *
type_value (GVariant *message)
{
  GVariant *v = g_variant_ref (message);

  for (;;)
    {
      const GVariantType *t = g_variant_get_type (v);
      GVariant *next = NULL;

      switch (g_variant_classify (v))
        {
        case G_VARIANT_CLASS_STRING:
        case G_VARIANT_CLASS_OBJECT_PATH:
        case G_VARIANT_CLASS_SIGNATURE:
          return v;
        case G_VARIANT_CLASS_VARIANT:
          next = g_variant_get_variant (v);
          break;
        case G_VARIANT_CLASS_MAYBE:
          next = g_variant_get_maybe (v);
          break;
        case G_VARIANT_CLASS_ARRAY:
          if (!g_variant_type_is_dict_entry (g_variant_type_element (t)) &&
              g_variant_n_children (v) > 0)
            next = g_variant_get_child_value (v, 0);
          break;
        case G_VARIANT_CLASS_TUPLE:
        case G_VARIANT_CLASS_DICT_ENTRY:
          if (g_variant_n_children (v) > 0)
            next = g_variant_get_child_value (v, 0);
          break;
        default:
          break;
        }
      g_variant_unref (v);
      if (next == NULL)
        return NULL;
      v = next;
    }
}

/* ---- the held-back messages (under @reader) ---- */

/* Takes @msg, @reply and @msg_type (its type, or NULL) */
static void
hold (DpTypedChannel *self,
      GVariant       *msg,
      DpChannel      *reply,
      char           *msg_type)
{
  DpHeld *h = g_new0 (DpHeld, 1);

  h->msg = msg;
  h->reply = reply;
  h->type = msg_type;
  h->order_link.data = h;
  h->type_link.data = h;
  g_queue_push_tail_link (&self->held, &h->order_link);
  if (h->type)
    {
      GQueue *q = g_hash_table_lookup (self->by_type, h->type);

      if (q == NULL)
        {
          q = g_queue_new ();
          g_hash_table_insert (self->by_type, g_strdup (h->type), q);
        }
      g_queue_push_tail_link (q, &h->type_link);
    }
  g_atomic_int_inc (&self->n_held);
}

/* Takes the oldest held message of @type (NULL: of any) and its reply
 * channel, or NULL */
static GVariant *
unhold (DpTypedChannel  *self,
        const char      *type,
        DpChannel      **reply)
{
  GQueue *q;
  DpHeld *h;
  GVariant *msg;

  if (type == NULL)
    {
      if (self->held.head == NULL)
        return NULL;
      h = self->held.head->data;
      q = h->type ? g_hash_table_lookup (self->by_type, h->type) : NULL;
    }
  else
    {
      q = g_hash_table_lookup (self->by_type, type);
      if (q == NULL)
        return NULL;
      h = q->head->data;
    }
  g_queue_unlink (&self->held, &h->order_link);
  if (q)
    {
      g_queue_unlink (q, &h->type_link);
      if (g_queue_is_empty (q))
        g_hash_table_remove (self->by_type, h->type);
    }
  g_atomic_int_add (&self->n_held, -1);
  msg = h->msg;
  *reply = h->reply;
  g_free (h->type);
  g_free (h);
  return msg;
}

/**
 * dp_typed_channel_dup_message_type:
 * @message: a message
 *
 * The type of @message as a #DpTypedChannel sees it: the string found by
 * following first elements down (see the table at #DpTypedChannel).
 *
 * Returns: (transfer full) (nullable): the type, or %NULL when @message has
 *   none
 *
 * Since: 1.0
 */
char *
dp_typed_channel_dup_message_type (GVariant *message)
{
  g_autoptr(GVariant) tv = NULL;

  g_return_val_if_fail (message != NULL, NULL);
  tv = type_value (message);
  return tv ? g_variant_dup_string (tv, NULL) : NULL;
}

/* ---- GObject ---- */

static void
dp_typed_channel_finalize (GObject *object)
{
  DpTypedChannel *self = DP_TYPED_CHANNEL (object);

  GVariant *msg;
  DpChannel *reply;

  while ((msg = unhold (self, NULL, &reply)) != NULL)
    {
      g_variant_unref (msg);
      g_clear_object (&reply);
    }
  g_hash_table_unref (self->by_type);
  g_mutex_clear (&self->reader);
  g_clear_object (&self->channel);
  G_OBJECT_CLASS (dp_typed_channel_parent_class)->finalize (object);
}

static void
dp_typed_channel_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  DpTypedChannel *self = DP_TYPED_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_CHANNEL:  g_value_set_object (value, self->channel); break;
    case PROP_MAX_HELD: g_value_set_uint (value, self->max_held); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_typed_channel_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  DpTypedChannel *self = DP_TYPED_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_CHANNEL:  self->channel = g_value_dup_object (value); break;
    case PROP_MAX_HELD: self->max_held = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_typed_channel_class_init (DpTypedChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = dp_typed_channel_finalize;
  object_class->get_property = dp_typed_channel_get_property;
  object_class->set_property = dp_typed_channel_set_property;

  /**
   * DpTypedChannel:channel:
   *
   * The channel read from.
   *
   * Since: 1.0
   */
  properties[PROP_CHANNEL] =
    g_param_spec_object ("channel", NULL, NULL, DP_TYPE_CHANNEL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * DpTypedChannel:max-held:
   *
   * How many messages of other types are held back at most.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_HELD] =
    g_param_spec_uint ("max-held", NULL, NULL, 1, G_MAXUINT, DP_TYPED_CHANNEL_DEFAULT_MAX_HELD,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
dp_typed_channel_init (DpTypedChannel *self)
{
  g_mutex_init (&self->reader);
  g_queue_init (&self->held);
  self->by_type = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_queue_free);
  self->max_held = DP_TYPED_CHANNEL_DEFAULT_MAX_HELD;
}

/* ---- public API ---- */

/**
 * dp_typed_channel_new:
 * @channel: the channel to read from
 *
 * `(new named-place-typed-channel% [ch channel])`, holding back at most
 * %DP_TYPED_CHANNEL_DEFAULT_MAX_HELD messages. Only the typed channel
 * should read from @channel from now on.
 *
 * Returns: (transfer full): the typed channel
 *
 * Since: 1.0
 */
DpTypedChannel *
dp_typed_channel_new (DpChannel *channel)
{
  return dp_typed_channel_new_full (channel, DP_TYPED_CHANNEL_DEFAULT_MAX_HELD);
}

/**
 * dp_typed_channel_new_full:
 * @channel: the channel to read from
 * @max_held: how many messages of other types are held back at most (at
 *   least 1)
 *
 * Makes a typed channel over @channel that holds back at most @max_held
 * messages of other types (dp_typed_channel_new() uses
 * %DP_TYPED_CHANNEL_DEFAULT_MAX_HELD).
 *
 * Returns: (transfer full): the typed channel
 *
 * Since: 1.0
 */
DpTypedChannel *
dp_typed_channel_new_full (DpChannel *channel,
                           guint      max_held)
{
  g_return_val_if_fail (DP_IS_CHANNEL (channel), NULL);
  g_return_val_if_fail (max_held > 0, NULL);
  return g_object_new (DP_TYPE_TYPED_CHANNEL, "channel", channel, "max-held", max_held, NULL);
}

/* Reads the next message and where to answer it from the channel */
static GVariant *
read_channel (DpTypedChannel  *self,
              gboolean         block,
              DpChannel      **reply)
{
  GVariant *msg;

  if (DP_IS_PLACE_CHANNEL (self->channel))
    {
      DpPlaceChannel *ch = DP_PLACE_CHANNEL (self->channel), *r = NULL;

      msg = block ? dp_place_channel_get_full (ch, &r) : _dp_place_channel_try_get_full (ch, &r);
      *reply = (DpChannel *) r;
      return msg;
    }
  msg = block ? dp_channel_get (self->channel) : dp_channel_try_get (self->channel);
  *reply = msg ? g_object_ref (self->channel) : NULL;
  return msg;
}

static GVariant *
take (DpTypedChannel  *self,
      const char      *type,
      gboolean         block,
      DpChannel      **reply_channel,
      GError         **error)
{
  GVariant *msg = NULL;
  DpChannel *reply = NULL;

  if (block)
    g_mutex_lock (&self->reader);
  else if (!g_mutex_trylock (&self->reader))
    return NULL;   /* a blocking get is under way */

  msg = unhold (self, type, &reply);
  while (msg == NULL)
    {
      if (self->held.length >= self->max_held)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_LIMIT,
                       "the typed channel holds back %u messages of other types, its limit "
                       "(max-held %u), and none of type '%s': take some of them first",
                       self->held.length, self->max_held, type ? type : "");
          break;
        }
      msg = read_channel (self, block, &reply);
      if (msg == NULL)
        break;
      if (type != NULL)
        {
          char *msg_type = dp_typed_channel_dup_message_type (msg);

          if (g_strcmp0 (msg_type, type) != 0)
            hold (self, g_steal_pointer (&msg), g_steal_pointer (&reply), msg_type);
          else
            g_free (msg_type);
        }
    }
  g_mutex_unlock (&self->reader);
  if (reply_channel)
    *reply_channel = reply;
  else
    g_clear_object (&reply);
  return msg;
}

/**
 * dp_typed_channel_get:
 * @self: a #DpTypedChannel
 * @type: (nullable): the type wanted, or %NULL for any message
 * @error: return location for a #GError, or %NULL
 *
 * `tc-get`: returns the oldest message of type @type, held back or
 * arriving; blocks until one arrives, holding back the messages of other
 * types that come meanwhile.
 *
 * Returns: (transfer full) (nullable): the message; %NULL without an error
 *   once the channel has closed with no message of @type held back, %NULL
 *   with %DP_ERROR_LIMIT when #DpTypedChannel:max-held messages of other
 *   types are held back
 *
 * Since: 1.0
 */
GVariant *
dp_typed_channel_get (DpTypedChannel  *self,
                      const char      *type,
                      GError         **error)
{
  g_return_val_if_fail (DP_IS_TYPED_CHANNEL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return take (self, type, TRUE, NULL, error);
}

/**
 * dp_typed_channel_get_full:
 * @self: a #DpTypedChannel
 * @type: (nullable): the type wanted, or %NULL for any message
 * @reply_channel: (out) (transfer full) (optional) (nullable): where to
 *   answer the message: when the channel is a named place's
 *   #DpPlaceChannel, the channel back to the client that sent it (see
 *   dp_place_channel_get_full()), else the channel itself; %NULL with no
 *   message
 * @error: return location for a #GError, or %NULL
 *
 * Like dp_typed_channel_get(), for a named place serving several clients:
 * each message keeps its reply channel while it is held back.
 *
 * ```c
 * // in a named place: answer "query" messages first, each to its sender
 * g_autoptr(DpTypedChannel) tc = dp_typed_channel_new (DP_CHANNEL (ch));
 * g_autoptr(DpChannel) reply = NULL;
 * g_autoptr(GVariant) q = dp_typed_channel_get_full (tc, "query", &reply, NULL);
 *
 * if (q)
 *   dp_channel_put (reply, g_variant_new ("(si)", "answer", 42));
 * ```
 *
 * Returns: (transfer full) (nullable): as dp_typed_channel_get()
 *
 * Since: 1.0
 */
GVariant *
dp_typed_channel_get_full (DpTypedChannel  *self,
                           const char      *type,
                           DpChannel      **reply_channel,
                           GError         **error)
{
  g_return_val_if_fail (DP_IS_TYPED_CHANNEL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return take (self, type, TRUE, reply_channel, error);
}

/**
 * dp_typed_channel_try_get:
 * @self: a #DpTypedChannel
 * @type: (nullable): the type wanted, or %NULL for any message
 * @error: return location for a #GError, or %NULL
 *
 * Like dp_typed_channel_get(), but never blocks: it holds back what the
 * channel has queued up to a message of @type, and returns %NULL when
 * there is none (or another thread's get is waiting).
 *
 * Returns: (transfer full) (nullable): the message, or %NULL (with
 *   %DP_ERROR_LIMIT as for dp_typed_channel_get())
 *
 * Since: 1.0
 */
GVariant *
dp_typed_channel_try_get (DpTypedChannel  *self,
                          const char      *type,
                          GError         **error)
{
  g_return_val_if_fail (DP_IS_TYPED_CHANNEL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return take (self, type, FALSE, NULL, error);
}

/**
 * dp_typed_channel_get_channel:
 * @self: a #DpTypedChannel
 *
 * The channel this typed channel reads from.
 *
 * Returns: (transfer none): the channel read from; puts go there directly
 *
 * Since: 1.0
 */
DpChannel *
dp_typed_channel_get_channel (DpTypedChannel *self)
{
  g_return_val_if_fail (DP_IS_TYPED_CHANNEL (self), NULL);
  return self->channel;
}

/**
 * dp_typed_channel_get_n_held:
 * @self: a #DpTypedChannel
 *
 * How many messages of other types are held back now, waiting for a get of
 * their type.
 *
 * Returns: how many messages are held back now
 *
 * Since: 1.0
 */
guint
dp_typed_channel_get_n_held (DpTypedChannel *self)
{
  g_return_val_if_fail (DP_IS_TYPED_CHANNEL (self), 0);
  return (guint) g_atomic_int_get (&self->n_held);
}

/**
 * dp_typed_channel_get_max_held:
 * @self: a #DpTypedChannel
 *
 * How many messages of other types are held back at most (the
 * #DpTypedChannel:max-held property).
 *
 * Returns: #DpTypedChannel:max-held
 *
 * Since: 1.0
 */
guint
dp_typed_channel_get_max_held (DpTypedChannel *self)
{
  g_return_val_if_fail (DP_IS_TYPED_CHANNEL (self), 0);
  return self->max_held;
}
