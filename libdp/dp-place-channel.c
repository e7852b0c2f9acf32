/* dp-place-channel.c: the two-ended channel a place talks through
 *
 * A pipe has two sides, each with an inbox. An end is a handle on one side:
 * dp_place_channel_put() on side i appends to the inbox of side 1-i, or,
 * when side i is bound to a connection, sends a DATA frame there. Frames
 * the router receives for a channel id are delivered straight into the
 * inbox of the side that owns the id. So a place on a node and the master's
 * DpRemoteConnection talk through one object each, and the path between the
 * socket and the place has no extra queue or thread.
 *
 * Flow control. An inbox is bounded by bytes (the sum of the messages'
 * serialised sizes) and by messages: DpNode:max-inbox-size and
 * :max-inbox-messages for the inboxes a connection feeds, the defaults
 * (8 MiB, 4096) for an in-process pair. A put on an in-process pair waits
 * while the other side's inbox is at its limit (a message is admitted
 * whenever the inbox is below it, so a large one passes); a put that goes
 * to the wire waits while the connection's output queue is full (see
 * dp-connection.c). The router never waits: a delivery that leaves an
 * inbox over its limit stalls the connection it came on, and the reader
 * that takes the inbox down to half its limits unstalls it. Readers and
 * writers are woken only on those transitions, never per message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <string.h>

typedef struct {
  GVariant       *msg;
  DpPlaceChannel *reply;
  gsize           size;      /* g_variant_get_size (msg), which takes its lock */
} DpQueued;

/* How long a receiver spins before it sleeps: $DP_SPIN_US, default 50;
 * 0 on a machine with one processor (the sender cannot run meanwhile). */
static gint64 spin_us = -1;

static gint64
get_spin_us (void)
{
  if (G_UNLIKELY (spin_us < 0))
    {
      const char *env = g_getenv ("DP_SPIN_US");
      gint64 us = env ? g_ascii_strtoll (env, NULL, 10) : 50;

      if (g_get_num_processors () < 2)
        us = 0;
      spin_us = MAX (us, 0);
    }
  return spin_us;
}

/* The shortest timed get that leads the router's context (see
 * inbox_pop_many()) */
#define LEAD_MIN_US  1000

/* The spin's credit (DpInbox.spin_credit): a spin that finds a message
 * earns SPIN_HIT, one that ends empty-handed costs 1, so spinning goes on
 * while more than about one in SPIN_HIT + 1 pays; at 0 the receiver sleeps
 * at once and spins again only on every SPIN_PROBE-th wait, to find out
 * whether it pays again. */
#define SPIN_HIT     4
#define SPIN_CREDIT  64
#define SPIN_PROBE   32

static inline void
cpu_relax (void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_ia32_pause ();
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__ __volatile__ ("yield" ::: "memory");
#endif
}

typedef struct {
  GMutex         lock;
  GCond          cond;
  DpQueued      *ring;
  guint          cap;
  guint          head;
  gint           len;        /* read without the lock by spinners */
  gboolean       closed;
  guint          waiters;
  DpInboxNotify  notify;
  gpointer       notify_data;
  /* flow control, under @lock (the limits are set before the inbox is
   * shared: when its pipe is made or bound) */
  gsize          bytes;      /* sum of the queued messages' sizes */
  gsize          max_bytes;
  guint          max_msgs;
  GCond          room;       /* with @lock: below the low-water mark, or closed */
  guint          room_waiters;
  GSList        *stalled;    /* DpConnection (refs) whose input waits for room here */
  /* the receive spin's estimate of whether it pays (see SPIN_HIT), read and
   * written atomically by the receivers, no lock: a lost update only
   * shifts the estimate */
  gint           spin_credit;
  gint           spin_skipped;
  /* atomic: this side has put a message since it last got one, so an
   * answer may be on its way — the only case the receive spin is for */
  gint           awaiting;
  /* atomic: the router context this inbox's reader leads while it waits
   * (see inbox_pop_many()): a message or a close from another thread
   * wakes that context */
  GMainContext  *lead_ctx;
} DpInbox;

typedef struct {
  gatomicrefcount ref;
  DpInbox         box[2];
  GMutex          out_lock[2];
  DpConnection   *sink[2];
  guint32         sink_chan[2];
  gboolean        out_closed[2];
  /* under @out_lock[i]: side i has been bound to a connection; its puts
   * while it is held (a restart, a hand-over) are queued in box[1 - i],
   * bounded like an inbox (a put waits for room; unbinding fails it) */
  gboolean        bound[2];
  /* under @out_lock[i]: side i leads to a node of the mesh (dp-mesh.c):
   * closing it sends CLOSE after its last DATA frame */
  gboolean        close_frame[2];
  /* under @out_lock[i]: the router context of sink[i] as last looked up
   * (a ref) and its shared loop (a ref, or NULL), for the reader of side
   * i (see feeding_loop()) */
  GMainContext   *lead_ctx[2];
  DpSharedLoop   *lead_loop[2];
} DpPipe;

struct _DpPlaceChannel
{
  GObject  parent_instance;
  DpPipe  *pipe;
  guint    side;
  gboolean owner;      /* closing / finalizing this handle closes the side */
  gboolean moved;      /* sent away (dp_place_channel_to_variant()): dead here */
};

static void dp_place_channel_channel_iface_init (DpChannelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DpPlaceChannel, dp_place_channel, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (DP_TYPE_CHANNEL,
                                                      dp_place_channel_channel_iface_init))

/* ---- inbox ---- */

static void
inbox_init (DpInbox *box)
{
  g_mutex_init (&box->lock);
  g_cond_init (&box->cond);
  g_cond_init (&box->room);
  box->max_bytes = DP_DEFAULT_MAX_INBOX_SIZE;
  box->max_msgs = DP_DEFAULT_MAX_INBOX_MESSAGES;
  /* no credit at first: a new inbox spins only once a probe (the fourth
   * wait) has found that it pays — a thousand new places waiting for
   * their first messages would otherwise spin away the CPU that delivers
   * them */
  box->spin_credit = 0;
  box->spin_skipped = SPIN_PROBE - 4;
}

static inline gboolean
inbox_full_locked (DpInbox *box)
{
  return (guint) box->len >= box->max_msgs || box->bytes >= box->max_bytes;
}

static inline gboolean
inbox_low_locked (DpInbox *box)
{
  return (guint) box->len <= box->max_msgs / 2 && box->bytes <= box->max_bytes / 2;
}

/* Lets go of the connections this inbox stalled (call without the lock) */
static void
unstall_all (GSList *stalled)
{
  for (GSList *l = stalled; l; l = l->next)
    {
      _dp_connection_unstall (l->data);
      _dp_connection_unref (l->data);
    }
  g_slist_free (stalled);
}

static void
inbox_clear (DpInbox *box)
{
  for (guint i = 0; i < (guint) box->len; i++)
    {
      DpQueued *q = &box->ring[(box->head + i) % box->cap];
      g_variant_unref (q->msg);
      g_clear_object (&q->reply);
    }
  g_free (box->ring);
  box->ring = NULL;
  box->len = box->cap = box->head = 0;
  unstall_all (g_steal_pointer (&box->stalled));
  g_mutex_clear (&box->lock);
  g_cond_clear (&box->cond);
  g_cond_clear (&box->room);
}

/* With the lock held: room for @n more */
static void
inbox_reserve (DpInbox *box,
               guint    n)
{
  guint new_cap;
  DpQueued *ring;

  if ((guint) box->len + n <= box->cap)
    return;
  new_cap = box->cap ? box->cap : 16;
  while (new_cap < (guint) box->len + n)
    new_cap *= 2;
  ring = g_new (DpQueued, new_cap);
  for (guint i = 0; i < (guint) box->len; i++)
    ring[i] = box->ring[(box->head + i) % box->cap];
  g_free (box->ring);
  box->ring = ring;
  box->cap = new_cap;
  box->head = 0;
}

/* A message or a close for @box from a thread that does not run the
 * context its reader leads: that reader must look again */
static inline void
wake_leader (DpInbox *box)
{
  GMainContext *ctx = g_atomic_pointer_get (&box->lead_ctx);

  if (G_UNLIKELY (ctx != NULL) && !g_main_context_is_owner (ctx))
    g_main_context_wakeup (ctx);
}

/* With the lock held: appends @msg and @reply (taking them), wakes a
 * reader, releases the lock and then calls the notify hook */
static void
inbox_append_unlock (DpInbox        *box,
                     GVariant       *msg,
                     DpPlaceChannel *reply,
                     gsize           size)
{
  DpInboxNotify notify;
  gpointer notify_data;
  gboolean wake;

  DP_ASSERT_LOCK_HELD (&box->lock);
  inbox_reserve (box, 1);
  box->ring[(box->head + (guint) box->len) % box->cap] = (DpQueued) { msg, reply, size };
  box->bytes += size;
  g_atomic_int_inc (&box->len);
  wake = box->waiters > 0;
  notify = box->notify;
  notify_data = box->notify_data;
  g_mutex_unlock (&box->lock);
  /* after the unlock: a reader woken under the lock would only wait for it */
  if (wake)
    g_cond_signal (&box->cond);
  wake_leader (box);

  if (notify)
    notify (notify_data);
}

static gboolean
inbox_is_full (DpInbox *box)
{
  gboolean full;

  _dp_mutex_lock (&box->lock);
  full = !box->closed && inbox_full_locked (box);
  g_mutex_unlock (&box->lock);
  return full;
}

/* With the lock held: waits until @box has room or is closed. */
static void
inbox_wait_room_locked (DpInbox *box)
{
  DP_ASSERT_LOCK_HELD (&box->lock);
  while (!box->closed && inbox_full_locked (box))
    {
      box->room_waiters++;
      g_cond_wait (&box->room, &box->lock);
      box->room_waiters--;
    }
}

static void
inbox_wait_room (DpInbox *box)
{
  _dp_mutex_lock (&box->lock);
  inbox_wait_room_locked (box);
  g_mutex_unlock (&box->lock);
}

/* Takes @msg and @reply. Returns FALSE (and frees them) when closed.
 * With @wait, first waits while the inbox is at its limit (a put on an
 * in-process pair). */
static gboolean
inbox_push (DpInbox        *box,
            GVariant       *msg,
            DpPlaceChannel *reply,
            gboolean        wait)
{
  gsize size = g_variant_get_size (msg);

  _dp_mutex_lock (&box->lock);
  if (wait)
    inbox_wait_room_locked (box);
  if (box->closed)
    {
      g_mutex_unlock (&box->lock);
      g_variant_unref (msg);
      g_clear_object (&reply);
      return FALSE;
    }
  inbox_append_unlock (box, msg, reply, size);
  return TRUE;
}

/* Takes all of @msgs (each with a new ref on @reply, if any) under one lock
 * and with one wake-up, or none when closed (returns FALSE). */
static gboolean
inbox_push_many (DpInbox         *box,
                 GVariant       **msgs,
                 guint            n,
                 DpPlaceChannel  *reply,
                 DpConnection    *from)
{
  DpInboxNotify notify;
  gpointer notify_data;
  guint tail;
  guint waiters;
  /* from the frames, when the router hands over a batch it read */
  const gsize *sizes = from ? _dp_connection_batch_sizes (from, msgs) : NULL;

  _dp_mutex_lock (&box->lock);
  if (box->closed)
    {
      g_mutex_unlock (&box->lock);
      return FALSE;
    }
  inbox_reserve (box, n);
  tail = box->head + (guint) box->len;
  for (guint i = 0; i < n; i++)
    {
      gsize size = sizes ? sizes[i] : g_variant_get_size (msgs[i]);

      box->ring[(tail + i) % box->cap] = (DpQueued) { msgs[i], reply ? g_object_ref (reply) : NULL, size };
      box->bytes += size;
    }
  g_atomic_int_add (&box->len, (gint) n);
  /* over the limit: the connection stops reading until this is read down */
  if (G_UNLIKELY (from && inbox_full_locked (box)) && !g_slist_find (box->stalled, from))
    {
      box->stalled = g_slist_prepend (box->stalled, _dp_connection_ref (from));
      _dp_connection_stall (from);
    }
  waiters = box->waiters;
  notify = box->notify;
  notify_data = box->notify_data;
  g_mutex_unlock (&box->lock);
  /* after the unlock: a reader woken under the lock would only wait for it */
  if (waiters > 1 && n > 1)
    g_cond_broadcast (&box->cond);
  else if (waiters)
    g_cond_signal (&box->cond);
  wake_leader (box);

  if (notify)
    notify (notify_data);
  return TRUE;
}

static void
inbox_close (DpInbox *box)
{
  DpInboxNotify notify;
  gpointer notify_data;
  GSList *stalled;

  _dp_mutex_lock (&box->lock);
  if (box->closed)
    {
      g_mutex_unlock (&box->lock);
      return;
    }
  g_atomic_int_set (&box->closed, TRUE);
  g_cond_broadcast (&box->cond);
  g_cond_broadcast (&box->room);
  stalled = g_steal_pointer (&box->stalled);
  notify = box->notify;
  notify_data = box->notify_data;
  g_mutex_unlock (&box->lock);
  wake_leader (box);
  unstall_all (stalled);
  if (notify)
    notify (notify_data);
}

/* Whether a receiver about to wait should spin first: while the spin has
 * credit, and then on one wait in SPIN_PROBE. */
static gboolean
inbox_spin_wanted (DpInbox *box)
{
  if (g_atomic_int_get (&box->spin_credit) > 0)
    return TRUE;
  if (g_atomic_int_add (&box->spin_skipped, 1) % SPIN_PROBE != SPIN_PROBE - 1)
    return FALSE;
  /* a probe: one hit puts the spin back in credit */
  return TRUE;
}

/* With the lock held and a message queued: takes the first one (and its
 * reply channel into @reply, or drops that); at the low-water mark wakes
 * the writers and moves the connections to unstall into @stalled */
static GVariant *
inbox_take_locked (DpInbox         *box,
                   DpPlaceChannel **reply,
                   GSList         **stalled)
{
  DpQueued *q = &box->ring[box->head];
  GVariant *msg = q->msg;

  DP_ASSERT_LOCK_HELD (&box->lock);
  if (reply)
    *reply = q->reply;
  else
    g_clear_object (&q->reply);
  box->head = (box->head + 1) % box->cap;
  g_atomic_int_add (&box->len, -1);
  if (box->awaiting)
    g_atomic_int_set (&box->awaiting, 0);
  box->bytes -= q->size;
  /* at the low-water mark: wake the writers, let the connections read */
  if (G_UNLIKELY (box->room_waiters || box->stalled) && inbox_low_locked (box))
    {
      if (box->room_waiters)
        g_cond_broadcast (&box->room);
      if (box->stalled)
        *stalled = g_slist_concat (g_steal_pointer (&box->stalled), *stalled);
    }
  return msg;
}

/* deadline: -1 = wait forever, 0 = don't wait, else monotonic end time.
 * With @n_more, the messages queued after the first one, up to @more_max,
 * are taken too, into @more (their reply channels dropped). */
static gboolean
inbox_has_news (gpointer data)
{
  DpInbox *box = data;

  return g_atomic_int_get (&box->len) > 0 || g_atomic_int_get (&box->closed);
}

static GVariant *
inbox_pop_many (DpInbox         *box,
                gint64           deadline,
                DpSharedLoop    *lead,
                DpPlaceChannel **reply,
                gboolean        *closed,
                GVariant       **more,
                guint            more_max,
                guint           *n_more)
{
  GVariant *msg = NULL;
  GSList *stalled = NULL;

  /* A receiver that would block first spins briefly: a message that is
   * already on its way (the other half of a round trip) is then picked up
   * without the cost of sleeping and being woken. The spin never gives
   * the CPU away (a sched_yield() hands it to any other process, for as
   * long as that one likes), is bounded by DP_SPIN_US and stops being
   * tried while it rarely pays (see SPIN_HIT). Only a side that has put
   * since it last got (a request out, its answer awaited) spins: a reader
   * that only reads (a consumer of a stream, a place waiting for its
   * first message) sleeps at once, leaving the CPU to whoever sends. */
  if (lead != NULL && deadline != 0 && !inbox_has_news (box))
    {
      /* Blocked on a channel a connection feeds: this thread runs the
       * router's context itself until its message is there or its
       * deadline has passed (see DpSharedLoop in dp-main-context.c) — the
       * socket wakes this thread, not the router, which would then have
       * to wake it. No spin: the thread that reads is the one that
       * waits. */
      gpointer place = _dp_place_suspend_thread ();

      g_atomic_pointer_set (&box->lead_ctx, _dp_shared_loop_get_context (lead));
      _dp_shared_loop_lead (lead, inbox_has_news, box, deadline);
      g_atomic_pointer_set (&box->lead_ctx, NULL);
      _dp_place_resume_thread (place);
    }
  else if (deadline != 0 && g_atomic_int_get (&box->awaiting) && get_spin_us () > 0 &&
      !g_atomic_int_get (&box->len) && !g_atomic_int_get (&box->closed) &&
      inbox_spin_wanted (box))
    {
      gint64 until = g_get_monotonic_time () + spin_us;
      gboolean hit = FALSE;

      for (guint i = 1; ; i++)
        {
          cpu_relax ();
          if (g_atomic_int_get (&box->len) || g_atomic_int_get (&box->closed))
            {
              hit = TRUE;
              break;
            }
          if (i % 16 == 0 && g_get_monotonic_time () >= until)
            break;
        }
      if (hit)
        g_atomic_int_set (&box->spin_credit,
                          MIN (g_atomic_int_get (&box->spin_credit) + SPIN_HIT, SPIN_CREDIT));
      else
        g_atomic_int_set (&box->spin_credit, MAX (g_atomic_int_get (&box->spin_credit) - 1, 0));
    }

  _dp_mutex_lock (&box->lock);
  while (box->len == 0 && !box->closed && deadline != 0)
    {
      box->waiters++;
      if (deadline < 0)
        g_cond_wait (&box->cond, &box->lock);
      else if (!g_cond_wait_until (&box->cond, &box->lock, deadline))
        deadline = 0;
      box->waiters--;
    }
  if (box->len > 0)
    {
      msg = inbox_take_locked (box, reply, &stalled);
      /* a batch (dp_place_channel_get_many()): what else is queued, up to
       * @n_more, under the same lock */
      while (n_more != NULL && *n_more < more_max && box->len > 0)
        more[(*n_more)++] = inbox_take_locked (box, NULL, &stalled);
    }
  if (closed)
    *closed = (box->len == 0 && box->closed);
  g_mutex_unlock (&box->lock);
  if (G_UNLIKELY (stalled))
    unstall_all (stalled);
  return msg;
}

static GVariant *
inbox_pop (DpInbox         *box,
           gint64           deadline,
           DpPlaceChannel **reply,
           gboolean        *closed)
{
  return inbox_pop_many (box, deadline, NULL, reply, closed, NULL, 0, NULL);
}

static gboolean
inbox_ready (DpInbox *box)
{
  gboolean ready;

  _dp_mutex_lock (&box->lock);
  ready = box->len > 0 || box->closed;
  g_mutex_unlock (&box->lock);
  return ready;
}

/* ---- pipe ---- */

static DpPipe *
pipe_new (void)
{
  DpPipe *p = g_new0 (DpPipe, 1);

  g_atomic_ref_count_init (&p->ref);
  for (guint i = 0; i < 2; i++)
    {
      inbox_init (&p->box[i]);
      g_mutex_init (&p->out_lock[i]);
    }
  return p;
}

static DpPipe *
pipe_ref (DpPipe *p)
{
  g_atomic_ref_count_inc (&p->ref);
  return p;
}

static void
pipe_unref (DpPipe *p)
{
  if (!g_atomic_ref_count_dec (&p->ref))
    return;
  for (guint i = 0; i < 2; i++)
    {
      inbox_clear (&p->box[i]);
      g_mutex_clear (&p->out_lock[i]);
      g_clear_pointer (&p->sink[i], _dp_connection_unref);
      g_clear_pointer (&p->lead_ctx[i], g_main_context_unref);
      g_clear_pointer (&p->lead_loop[i], _dp_shared_loop_unref);
    }
  g_free (p);
}

static DpPlaceChannel *
end_new (DpPipe   *pipe,
         guint     side,
         gboolean  owner)
{
  DpPlaceChannel *self = g_object_new (DP_TYPE_PLACE_CHANNEL, NULL);

  self->pipe = pipe_ref (pipe);
  self->side = side;
  self->owner = owner;
  return self;
}

/* ---- GObject ---- */

static void
close_side (DpPlaceChannel *self)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  gboolean had_sink;

  if (self->moved)
    return;
  g_mutex_lock (&p->out_lock[i]);
  /* a mesh channel says so after its last message */
  if (p->sink[i] != NULL && p->close_frame[i] && !p->out_closed[i])
    _dp_connection_send (p->sink[i], DP_FRAME_CLOSE, p->sink_chan[i], 0, NULL);
  p->out_closed[i] = TRUE;
  had_sink = p->sink[i] != NULL;
  g_mutex_unlock (&p->out_lock[i]);

  /* The other side sees this one gone once it has read what was sent. */
  if (!had_sink)
    inbox_close (&p->box[1 - i]);
  /* Nothing more is read on this side. */
  inbox_close (&p->box[i]);
}

static void
dp_place_channel_finalize (GObject *object)
{
  DpPlaceChannel *self = DP_PLACE_CHANNEL (object);

  if (self->pipe)
    {
      if (self->owner)
        close_side (self);
      pipe_unref (self->pipe);
    }
  G_OBJECT_CLASS (dp_place_channel_parent_class)->finalize (object);
}

static void
dp_place_channel_class_init (DpPlaceChannelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_place_channel_finalize;
}

static void
dp_place_channel_init (DpPlaceChannel *self)
{
}

/* ---- public API ---- */

/**
 * dp_place_channel_new_pair:
 * @end_a: (out) (transfer full): one end
 * @end_b: (out) (transfer full): the other end
 *
 * Creates an in-process channel: what is put on one end is got from the
 * other, in order. Either end may be used from any thread.
 *
 * Since: 1.0
 */
void
dp_place_channel_new_pair (DpPlaceChannel **end_a,
                           DpPlaceChannel **end_b)
{
  DpPipe *p;

  g_return_if_fail (end_a != NULL && end_b != NULL);
  p = pipe_new ();
  *end_a = end_new (p, 0, TRUE);
  *end_b = end_new (p, 1, TRUE);
  pipe_unref (p);
}

/* put:
 * Sends @message (a floating reference is sunk) to the other end; @wait:
 * whether a full inbox or output queue makes it wait for room.
 *
 * Returns: %FALSE when the other side has gone, or when the message is
 *   over the largest frame the peer accepts (a warning names the limit):
 *   the message is dropped
 */
static gboolean
put (DpPlaceChannel *self,
     GVariant       *message,
     gboolean        wait)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  gboolean ok;

  /* this side now waits for an answer, maybe (see inbox_pop()) */
  if (!g_atomic_int_get (&p->box[i].awaiting))
    g_atomic_int_set (&p->box[i].awaiting, 1);

  /* a floating ref is the caller's to hand over: taking it needs no lock
   * (g_variant_ref_sink() takes the value's lock) */
  if (g_variant_is_floating (message))
    g_variant_take_ref (message);
  else
    g_variant_ref (message);
  if (G_UNLIKELY (self->moved))
    {
      g_variant_unref (message);
      return FALSE;
    }

  g_mutex_lock (&p->out_lock[i]);
  for (;;)
    {
      if (p->out_closed[i])
        ok = FALSE;
      else if (p->sink[i] != NULL)
        {
          /* a full connection: wait for room once, without the lock (the
           * router takes it to unbind) — then the message is admitted */
          if (G_UNLIKELY (wait && _dp_connection_is_full (p->sink[i])))
            {
              DpConnection *conn = _dp_connection_ref (p->sink[i]);

              g_mutex_unlock (&p->out_lock[i]);
              _dp_connection_wait_writable (conn, FALSE);
              _dp_connection_unref (conn);
              g_mutex_lock (&p->out_lock[i]);
              continue;
            }
          ok = _dp_connection_send (p->sink[i], DP_FRAME_DATA, p->sink_chan[i], 0, message);
        }
      else if (!p->bound[i])
        {
          /* in-process: the other end's inbox, waiting for room there */
          g_mutex_unlock (&p->out_lock[i]);
          return inbox_push (&p->box[1 - i], message, NULL, wait);
        }
      else if (wait && inbox_is_full (&p->box[1 - i]))
        {
          /* held (the place restarts, or its channel is being handed
           * over): the queue for its next incarnation is bounded like an
           * inbox. Wait for room without the lock, then look again: the
           * hold may have ended (rebound: send; unbound: fail) */
          g_mutex_unlock (&p->out_lock[i]);
          inbox_wait_room (&p->box[1 - i]);
          g_mutex_lock (&p->out_lock[i]);
          continue;
        }
      else
        {
          /* held: queued, sent in order when the place is back */
          ok = inbox_push (&p->box[1 - i], message, NULL, FALSE);
          g_mutex_unlock (&p->out_lock[i]);
          return ok;
        }
      break;
    }
  g_mutex_unlock (&p->out_lock[i]);
  g_variant_unref (message);
  return ok;
}

/**
 * dp_place_channel_put:
 * @self: a #DpPlaceChannel
 * @message: the message; a floating reference is sunk
 *
 * Sends @message to the other end. When the other end's inbox (in this
 * process) or the connection's output queue (to another process) is full,
 * waits for room, as a write to a full pipe does: the receiver's reading
 * releases it (see #DpNode:max-output-queue and #DpNode:max-inbox-size).
 * A message is admitted whenever there is any room, so one larger than the
 * limit still passes. On a node's router thread it never waits.
 *
 * A thread that both puts and gets must not put into a full channel whose
 * reader is itself waiting for this thread to read: as with two pipes, use
 * a second thread for one direction, or, in a main loop,
 * dp_remote_connection_put_async().
 *
 * Returns: %FALSE when the other side has gone (the message is dropped)
 *
 * Since: 1.0
 */
gboolean
dp_place_channel_put (DpPlaceChannel *self,
                      GVariant       *message)
{
  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  return put (self, message, TRUE);
}

/**
 * dp_place_channel_put_many:
 * @self: a #DpPlaceChannel
 * @messages: (array length=n_messages): the messages; floating references
 *   are sunk
 * @n_messages: how many
 *
 * Sends @messages, in order, as that many dp_place_channel_put() calls
 * would, for less: to another process they are queued on the connection
 * under one lock per batch of up to 64 and written together, which is
 * what a stream of small messages costs most. Flow control is the same
 * as for a put: when the connection's output queue or the other end's
 * inbox is full, the call waits for room before going on (a batch is
 * admitted while there is room, so it overshoots the limit by at most one
 * batch of 64).
 *
 * ```c
 * GVariant *batch[64];
 *
 * for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
 *   batch[i] = g_variant_new_uint32 (i);       // floating: sunk by the put
 * if (!dp_place_channel_put_many (ch, batch, G_N_ELEMENTS (batch)))
 *   g_warning ("the other side has gone");
 * ```
 *
 * Returns: %FALSE when the other side has gone (the messages from there
 *   on are dropped), or when a message was over the largest frame the
 *   peer accepts (a warning names the limit; that one is dropped, the
 *   others are sent)
 *
 * Since: 1.0
 */
gboolean
dp_place_channel_put_many (DpPlaceChannel   *self,
                           GVariant * const *messages,
                           guint             n_messages)
{
  DpPipe *p;
  guint i, done = 0;
  gboolean gone = FALSE, too_large = FALSE, waited = FALSE;

  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), FALSE);
  g_return_val_if_fail (messages != NULL || n_messages == 0, FALSE);
  for (i = 0; i < n_messages; i++)
    g_return_val_if_fail (messages[i] != NULL, FALSE);
  p = self->pipe;
  i = self->side;

  /* the floating references are ours to drop once sent; full ones stay
   * the caller's */
  for (guint k = 0; k < n_messages; k++)
    if (g_variant_is_floating (messages[k]))
      g_variant_take_ref (messages[k]);
    else
      g_variant_ref (messages[k]);

  if (!g_atomic_int_get (&p->box[i].awaiting))
    g_atomic_int_set (&p->box[i].awaiting, 1);

  g_mutex_lock (&p->out_lock[i]);
  while (done < n_messages && !gone)
    {
      guint dropped = 0, taken;

      if (p->out_closed[i] || self->moved)
        gone = TRUE;
      else if (p->sink[i] != NULL)
        {
          /* a full connection: wait for room once without the lock (as
           * put; the router's thread does not wait), then at least one
           * message is admitted */
          if (G_UNLIKELY (!waited && _dp_connection_is_full (p->sink[i])))
            {
              DpConnection *conn = _dp_connection_ref (p->sink[i]);

              g_mutex_unlock (&p->out_lock[i]);
              _dp_connection_wait_writable (conn, FALSE);
              _dp_connection_unref (conn);
              g_mutex_lock (&p->out_lock[i]);
              waited = TRUE;
              continue;
            }
          waited = FALSE;
          taken = _dp_connection_send_many (p->sink[i], p->sink_chan[i], messages + done,
                                            n_messages - done, &dropped);
          if (taken == 0)
            gone = TRUE;
          /* a message over the peer's limit is dropped, the others go */
          if (dropped > 0)
            too_large = TRUE;
          done += taken;
        }
      else
        {
          /* in process, or held: one put each (each waits for room as a
           * put does) */
          g_mutex_unlock (&p->out_lock[i]);
          for (; done < n_messages && !gone; done++)
            gone = !put (self, messages[done], TRUE);
          g_mutex_lock (&p->out_lock[i]);
        }
    }
  g_mutex_unlock (&p->out_lock[i]);
  for (guint k = 0; k < n_messages; k++)
    g_variant_unref (messages[k]);
  return !gone && !too_large;
}

gboolean
_dp_place_channel_put_nowait (DpPlaceChannel *self,
                              GVariant       *message)
{
  return put (self, message, FALSE);
}

DpTryPut
_dp_place_channel_try_put (DpPlaceChannel *self,
                           GVariant       *message)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  DpInbox *box = &p->box[1 - i];
  gboolean out_closed;
  gsize size = g_variant_get_size (message);

  if (g_variant_is_floating (message))
    g_variant_take_ref (message);
  else
    g_variant_ref (message);

  g_mutex_lock (&p->out_lock[i]);
  g_assert (p->sink[i] == NULL && !p->bound[i]);   /* in-process pairs only */
  out_closed = p->out_closed[i];
  g_mutex_unlock (&p->out_lock[i]);

  _dp_mutex_lock (&box->lock);
  if (out_closed || box->closed || inbox_full_locked (box))
    {
      DpTryPut why = out_closed || box->closed ? DP_TRY_PUT_CLOSED : DP_TRY_PUT_FULL;

      g_mutex_unlock (&box->lock);
      g_variant_unref (message);
      return why;
    }
  inbox_append_unlock (box, message, NULL, size);
  return DP_TRY_PUT_OK;
}

void
_dp_place_channel_set_inbox_limits (DpPlaceChannel *self,
                                    gsize           max_bytes,
                                    guint           max_msgs)
{
  DpInbox *box = &self->pipe->box[self->side];

  _dp_mutex_lock (&box->lock);
  box->max_bytes = max_bytes;
  box->max_msgs = max_msgs;
  g_mutex_unlock (&box->lock);
}

gboolean
_dp_place_channel_is_writable (DpPlaceChannel *self)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  gboolean writable = TRUE;

  g_mutex_lock (&p->out_lock[i]);
  if (p->sink[i])
    writable = !_dp_connection_is_full (p->sink[i]);
  g_mutex_unlock (&p->out_lock[i]);
  return writable;
}

gboolean
_dp_place_channel_add_writable_watch (DpPlaceChannel *self,
                                      void          (*func) (gpointer data),
                                      gpointer        data)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  DpConnection *conn;
  gboolean watching;

  g_mutex_lock (&p->out_lock[i]);
  conn = p->sink[i] ? _dp_connection_ref (p->sink[i]) : NULL;
  g_mutex_unlock (&p->out_lock[i]);
  if (conn == NULL)
    return FALSE;
  watching = _dp_connection_add_writable_watch (conn, func, data);
  _dp_connection_unref (conn);
  return watching;
}

/* The shared loop of the router whose connection feeds this end's inbox
 * (a ref), or NULL: an end in process, or one held */
static DpSharedLoop *
feeding_loop (DpPlaceChannel *self)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  DpSharedLoop *sl = NULL;

  g_mutex_lock (&p->out_lock[i]);
  if (p->sink[i] != NULL)
    {
      GMainContext *ctx = _dp_connection_get_context (p->sink[i]);

      if (ctx != p->lead_ctx[i])
        {
          g_clear_pointer (&p->lead_ctx[i], g_main_context_unref);
          g_clear_pointer (&p->lead_loop[i], _dp_shared_loop_unref);
          p->lead_ctx[i] = g_main_context_ref (ctx);
          p->lead_loop[i] = _dp_shared_loop_lookup (ctx);
        }
      if (p->lead_loop[i])
        sl = _dp_shared_loop_ref (p->lead_loop[i]);
    }
  g_mutex_unlock (&p->out_lock[i]);
  return sl;
}

/* A blocking get: see inbox_pop_many() */
static GVariant *
get_blocking (DpPlaceChannel  *self,
              DpPlaceChannel **reply,
              GVariant       **more,
              guint            more_max,
              guint           *n_more)
{
  DpInbox *box = &self->pipe->box[self->side];
  /* a message already queued (a stream) is taken at once: the router's
   * loop, and the lock and refs that finding it takes, only for a wait */
  DpSharedLoop *lead = inbox_has_news (box) ? NULL : feeding_loop (self);
  GVariant *msg = inbox_pop_many (box, -1, lead, reply, NULL, more, more_max, n_more);

  g_clear_pointer (&lead, _dp_shared_loop_unref);
  return msg;
}

/**
 * dp_place_channel_get:
 * @self: a #DpPlaceChannel
 *
 * Blocks until a message arrives.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL once the other
 *   side has gone and everything it sent has been read
 *
 * Since: 1.0
 */
GVariant *
dp_place_channel_get (DpPlaceChannel *self)
{
  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), NULL);
  if (G_UNLIKELY (self->moved))
    return NULL;
  return get_blocking (self, NULL, NULL, 0, NULL);
}

/**
 * dp_place_channel_get_many:
 * @self: a #DpPlaceChannel
 * @messages: (out caller-allocates) (array length=max_messages): where the
 *   messages go (transfer full, each)
 * @max_messages: at most this many are taken
 *
 * Blocks until a message arrives, as dp_place_channel_get() does, then
 * takes it and whatever else is already queued, up to @max_messages, in
 * order and under one lock. For a reader of a stream of small messages
 * this costs one lock and at most one wake-up per batch instead of one
 * per message. It never waits for more than the first message.
 *
 * ```c
 * GVariant *batch[64];
 * guint n;
 *
 * while ((n = dp_place_channel_get_many (ch, batch, G_N_ELEMENTS (batch))) > 0)
 *   for (guint i = 0; i < n; i++)
 *     {
 *       handle (batch[i]);
 *       g_variant_unref (batch[i]);
 *     }
 * // 0: the other side has gone and everything it sent has been read
 * ```
 *
 * Returns: how many messages were stored in @messages: at least one, or
 *   0 once the other side has gone and everything it sent has been read
 *
 * Since: 1.0
 */
guint
dp_place_channel_get_many (DpPlaceChannel  *self,
                           GVariant       **messages,
                           guint            max_messages)
{
  guint n_more = 0;

  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), 0);
  g_return_val_if_fail (messages != NULL, 0);
  g_return_val_if_fail (max_messages > 0, 0);
  if (G_UNLIKELY (self->moved))
    return 0;
  messages[0] = get_blocking (self, NULL, messages + 1, max_messages - 1, &n_more);
  return messages[0] != NULL ? 1 + n_more : 0;
}

/**
 * dp_place_channel_get_full:
 * @self: a #DpPlaceChannel
 * @reply_channel: (out) (transfer full) (optional) (nullable): where to
 *   answer this message
 *
 * Like dp_place_channel_get(). A named place is shared by every client
 * connected to it; each message it gets comes with the channel that leads
 * back to the client that sent it. For other messages @reply_channel is set
 * to a new reference on @self.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL once closed
 *
 * Since: 1.0
 */
GVariant *
dp_place_channel_get_full (DpPlaceChannel  *self,
                           DpPlaceChannel **reply_channel)
{
  DpPlaceChannel *reply = NULL;
  GVariant *msg;

  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), NULL);
  if (G_UNLIKELY (self->moved))
    {
      if (reply_channel)
        *reply_channel = NULL;
      return NULL;
    }
  msg = get_blocking (self, &reply, NULL, 0, NULL);
  if (reply_channel)
    *reply_channel = reply ? reply : (msg ? g_object_ref (self) : NULL);
  else
    g_clear_object (&reply);
  return msg;
}

/**
 * dp_place_channel_get_timeout:
 * @self: a #DpPlaceChannel
 * @timeout_us: how long to wait, in microseconds
 * @closed: (out) (optional): set to %TRUE when %NULL is returned because the
 *   channel is closed rather than because the time ran out
 *
 * Gets the next message, waiting at most @timeout_us.
 *
 * Returns: (transfer full) (nullable): a message, or %NULL
 *
 * Since: 1.0
 */
GVariant *
dp_place_channel_get_timeout (DpPlaceChannel *self,
                              gint64          timeout_us,
                              gboolean       *closed)
{
  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), NULL);
  if (G_UNLIKELY (self->moved))
    {
      if (closed)
        *closed = TRUE;
      return NULL;
    }
  {
    /* a wait of some length leads the router that feeds this end, as a
     * get does; a shorter one is not worth the router's stepping aside
     * (a wake-up, and a wait for it), nor is a look (timeout 0) */
    DpSharedLoop *lead = timeout_us >= LEAD_MIN_US ? feeding_loop (self) : NULL;
    GVariant *msg = inbox_pop_many (&self->pipe->box[self->side],
                                    g_get_monotonic_time () + MAX (timeout_us, 1), lead, NULL,
                                    closed, NULL, 0, NULL);

    g_clear_pointer (&lead, _dp_shared_loop_unref);
    return msg;
  }
}

/**
 * dp_place_channel_try_get:
 * @self: a #DpPlaceChannel
 *
 * Takes the next message that has arrived on this end without waiting.
 *
 * Returns: (transfer full) (nullable): a queued message, or %NULL at once
 *
 * Since: 1.0
 */
GVariant *
dp_place_channel_try_get (DpPlaceChannel *self)
{
  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), NULL);
  if (G_UNLIKELY (self->moved))
    return NULL;
  return inbox_pop (&self->pipe->box[self->side], 0, NULL, NULL);
}

GVariant *
_dp_place_channel_try_get_full (DpPlaceChannel  *self,
                                DpPlaceChannel **reply_channel)
{
  DpPlaceChannel *reply = NULL;
  GVariant *msg = inbox_pop (&self->pipe->box[self->side], 0, &reply, NULL);

  *reply_channel = reply ? reply : (msg ? g_object_ref (self) : NULL);
  return msg;
}

/**
 * dp_place_channel_close:
 * @self: a #DpPlaceChannel
 *
 * Closes this end: further puts return %FALSE, the other end's get returns
 * %NULL once it has read what was sent, and what was queued here is dropped.
 *
 * Since: 1.0
 */
void
dp_place_channel_close (DpPlaceChannel *self)
{
  g_return_if_fail (DP_IS_PLACE_CHANNEL (self));
  close_side (self);
}

/**
 * dp_place_channel_is_closed:
 * @self: a #DpPlaceChannel
 *
 * Whether this end is closed: the other end is gone and everything it sent
 * has been got.
 *
 * Returns: %TRUE when nothing more will arrive on this end
 *
 * Since: 1.0
 */
gboolean
dp_place_channel_is_closed (DpPlaceChannel *self)
{
  DpInbox *box;
  gboolean closed;

  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), TRUE);
  if (self->moved)
    return TRUE;
  box = &self->pipe->box[self->side];
  _dp_mutex_lock (&box->lock);
  closed = box->closed && box->len == 0;
  g_mutex_unlock (&box->lock);
  return closed;
}

GLogLevelFlags
_dp_severity_to_level (const char *severity)
{
  if (g_strcmp0 (severity, "debug") == 0)
    return G_LOG_LEVEL_DEBUG;
  if (g_strcmp0 (severity, "info") == 0)
    return G_LOG_LEVEL_INFO;
  if (g_strcmp0 (severity, "message") == 0)
    return G_LOG_LEVEL_MESSAGE;
  if (g_strcmp0 (severity, "warning") == 0)
    return G_LOG_LEVEL_WARNING;
  /* "error", "fatal": never G_LOG_LEVEL_ERROR, which would abort the root */
  return G_LOG_LEVEL_CRITICAL;
}

/**
 * dp_place_channel_log:
 * @self: a place's channel
 * @severity: "fatal", "error", "warning", "info" or "debug" (the seed's
 *   severities; "message" too)
 * @message: the text
 *
 * `log-to-parent`: sends a log record to whoever started the place — the
 * root node, through any node in between — where it is logged with GLib
 * structured logging (fields `DP_NODE`, `DP_PLACE`, `DP_SEVERITY`) and
 * emitted as #DpNode::log. A record never arrives as a message. On a
 * channel that leads nowhere remote the record is logged here.
 *
 * Since: 1.0
 */
void
dp_place_channel_log (DpPlaceChannel *self,
                      const char     *severity,
                      const char     *message)
{
  DpPipe *p;
  guint i;
  gboolean sent = FALSE;

  g_return_if_fail (DP_IS_PLACE_CHANNEL (self));
  g_return_if_fail (severity != NULL && message != NULL);

  p = self->pipe;
  i = self->side;
  g_mutex_lock (&p->out_lock[i]);
  if (p->sink[i])
    {
      /* records never wait behind data, but a place that logs faster than
       * its peer reads waits for room in the control queue */
      DpConnection *conn = _dp_connection_ref (p->sink[i]);

      g_mutex_unlock (&p->out_lock[i]);
      _dp_connection_wait_writable (conn, TRUE);
      _dp_connection_unref (conn);
      g_mutex_lock (&p->out_lock[i]);
    }
  if (p->sink[i])
    sent = _dp_connection_send (p->sink[i], DP_FRAME_LOG, p->sink_chan[i], 0,
                                g_variant_new ("(ssa{sv})", severity, message, NULL));
  g_mutex_unlock (&p->out_lock[i]);
  if (!sent)
    g_log_structured (G_LOG_DOMAIN, _dp_severity_to_level (severity),
                      "DP_SEVERITY", severity,
                      "MESSAGE", "%s", message);
}

/* ---- GSource ---- */

typedef struct {
  GSource         source;
  DpPlaceChannel *channel;
} DpChannelSource;

static gboolean
channel_source_dispatch (GSource     *source,
                         GSourceFunc  callback,
                         gpointer     user_data)
{
  DpChannelSource *cs = (DpChannelSource *) source;
  gboolean keep;

  g_source_set_ready_time (source, -1);
  if (callback == NULL)
    return G_SOURCE_CONTINUE;
  keep = ((gboolean (*) (DpPlaceChannel *, gpointer)) (void (*) (void)) callback) (cs->channel, user_data);
  if (keep && inbox_ready (&cs->channel->pipe->box[cs->channel->side]))
    g_source_set_ready_time (source, 0);
  return keep;
}

static void
channel_source_finalize (GSource *source)
{
  DpChannelSource *cs = (DpChannelSource *) source;

  _dp_place_channel_set_notify (cs->channel, NULL, NULL);
  g_clear_object (&cs->channel);
}

static GSourceFuncs channel_source_funcs = {
  NULL, NULL, channel_source_dispatch, channel_source_finalize, NULL, NULL,
};

static void
channel_source_wake (gpointer data)
{
  g_source_set_ready_time ((GSource *) data, 0);
}

/**
 * dp_place_channel_create_source:
 * @self: a #DpPlaceChannel
 *
 * Creates a #GSource that is ready whenever a message can be got from @self
 * without blocking, or the channel has closed. Its callback has the type
 * `gboolean (*) (DpPlaceChannel *channel, gpointer user_data)`. A channel
 * end has at most one such source at a time.
 *
 * Returns: (transfer full): the new source
 *
 * Since: 1.0
 */
GSource *
dp_place_channel_create_source (DpPlaceChannel *self)
{
  GSource *source;
  DpChannelSource *cs;

  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (self), NULL);
  source = g_source_new (&channel_source_funcs, sizeof (DpChannelSource));
  cs = (DpChannelSource *) source;
  cs->channel = g_object_ref (self);
  g_source_set_static_name (source, "DpPlaceChannel");
  _dp_place_channel_set_notify (self, channel_source_wake, source);
  if (inbox_ready (&self->pipe->box[self->side]))
    g_source_set_ready_time (source, 0);
  return source;
}

/* ---- internal ---- */

DpPlaceChannel *
_dp_place_channel_new_bound (DpConnection *conn,
                             guint32       channel)
{
  DpPipe *p = pipe_new ();
  DpPlaceChannel *self;

  p->sink[0] = _dp_connection_ref (conn);
  p->sink_chan[0] = channel;
  p->bound[0] = TRUE;
  _dp_connection_get_inbox_limits (conn, &p->box[0].max_bytes, &p->box[0].max_msgs);
  /* side 1 has no end: nothing is ever put into box[0] but deliveries */
  self = end_new (p, 0, TRUE);
  pipe_unref (p);
  return self;
}

DpPlaceChannel *
_dp_place_channel_bind_peer (DpPlaceChannel *parent_end,
                             DpConnection   *conn,
                             guint32         channel)
{
  DpPipe *p = parent_end->pipe;
  guint c = 1 - parent_end->side;
  DpInbox *pending = &p->box[parent_end->side];
  GVariant *msg;

  _dp_mutex_lock (&p->box[c].lock);
  _dp_connection_get_inbox_limits (conn, &p->box[c].max_bytes, &p->box[c].max_msgs);
  g_mutex_unlock (&p->box[c].lock);
  g_mutex_lock (&p->out_lock[c]);
  p->bound[c] = TRUE;
  /* What the place put before it was bound goes out first, in order. */
  while ((msg = inbox_pop (pending, 0, NULL, NULL)) != NULL)
    {
      _dp_connection_send (conn, DP_FRAME_DATA, channel, 0, msg);
      g_variant_unref (msg);
    }
  p->sink[c] = _dp_connection_ref (conn);
  p->sink_chan[c] = channel;
  g_mutex_unlock (&p->out_lock[c]);

  return end_new (p, c, FALSE);
}

void
_dp_place_channel_unbind (DpPlaceChannel *self)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  DpConnection *conn;

  gboolean held;

  g_mutex_lock (&p->out_lock[i]);
  conn = g_steal_pointer (&p->sink[i]);
  p->out_closed[i] = TRUE;
  held = p->bound[i];
  g_mutex_unlock (&p->out_lock[i]);
  g_clear_pointer (&conn, _dp_connection_unref);
  /* a put waiting for room in the hold queue fails now */
  if (held)
    inbox_close (&p->box[1 - i]);
}

gboolean
_dp_place_channel_deliver (DpPlaceChannel *self,
                           GVariant       *msg,
                           DpPlaceChannel *reply)
{
  return inbox_push (&self->pipe->box[self->side], g_variant_ref (msg),
                     reply ? g_object_ref (reply) : NULL, FALSE);
}

gboolean
_dp_place_channel_deliver_many (DpPlaceChannel  *self,
                                GVariant       **msgs,
                                guint            n,
                                DpPlaceChannel  *reply,
                                DpConnection    *from)
{
  return inbox_push_many (&self->pipe->box[self->side], msgs, n, reply, from);
}


GPtrArray *
_dp_place_channel_drain_inbox (DpPlaceChannel  *self,
                               GPtrArray      **replies)
{
  GPtrArray *msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  DpPlaceChannel *reply = NULL;
  GVariant *msg;

  if (replies)
    *replies = g_ptr_array_new_with_free_func (_dp_object_unref_nullable);
  while ((msg = inbox_pop (&self->pipe->box[self->side], 0, &reply, NULL)) != NULL)
    {
      g_ptr_array_add (msgs, msg);
      if (replies)
        g_ptr_array_add (*replies, reply);   /* may be NULL */
      else
        g_clear_object (&reply);
    }
  return msgs;
}

gboolean
_dp_place_channel_bounce (DpPlaceChannel *self,
                          GVariant       *msg)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  gboolean ok = FALSE;

  g_mutex_lock (&p->out_lock[i]);
  if (p->sink[i])
    ok = _dp_connection_send (p->sink[i], DP_FRAME_BOUNCE, p->sink_chan[i], 0, msg);
  g_mutex_unlock (&p->out_lock[i]);
  return ok;
}

void
_dp_place_channel_hold (DpPlaceChannel *self,
                        GVariant       *first)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  DpConnection *conn;

  g_mutex_lock (&p->out_lock[i]);
  conn = g_steal_pointer (&p->sink[i]);
  if (first)
    {
      GVariantIter iter;
      GVariant *child;

      g_variant_iter_init (&iter, first);
      while ((child = g_variant_iter_next_value (&iter)) != NULL)
        {
          GVariant *msg = g_variant_get_variant (child);
          inbox_push (&p->box[1 - i], msg, NULL, FALSE);
          g_variant_unref (child);
        }
    }
  g_mutex_unlock (&p->out_lock[i]);
  g_clear_pointer (&conn, _dp_connection_unref);
}

void
_dp_place_channel_rebind (DpPlaceChannel *self,
                          DpConnection   *conn,
                          guint32         channel,
                          guint8          type,
                          GVariant       *payload)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  DpConnection *old;
  GVariant *msg;

  g_mutex_lock (&p->out_lock[i]);
  /* the hold queue serves again (an unbind closed it) */
  _dp_mutex_lock (&p->box[1 - i].lock);
  g_atomic_int_set (&p->box[1 - i].closed, FALSE);
  g_mutex_unlock (&p->box[1 - i].lock);
  _dp_connection_send (conn, type, channel, 0, payload);
  while ((msg = inbox_pop (&p->box[1 - i], 0, NULL, NULL)) != NULL)
    {
      _dp_connection_send (conn, DP_FRAME_DATA, channel, 0, msg);
      g_variant_unref (msg);
    }
  old = p->sink[i];
  p->sink[i] = _dp_connection_ref (conn);
  p->sink_chan[i] = channel;
  p->out_closed[i] = FALSE;
  g_mutex_unlock (&p->out_lock[i]);
  g_clear_pointer (&old, _dp_connection_unref);
}

void
_dp_place_channel_close_inbox (DpPlaceChannel *self)
{
  inbox_close (&self->pipe->box[self->side]);
}

void
_dp_place_channel_set_notify (DpPlaceChannel *self,
                              DpInboxNotify   notify,
                              gpointer        data)
{
  DpInbox *box = &self->pipe->box[self->side];

  _dp_mutex_lock (&box->lock);
  box->notify = notify;
  box->notify_data = data;
  g_mutex_unlock (&box->lock);
}

/* ---- the mesh (dp-mesh.c) ---- */

void
_dp_place_channel_set_close_frame (DpPlaceChannel *self)
{
  DpPipe *p = self->pipe;
  guint i = self->side;

  g_mutex_lock (&p->out_lock[i]);
  p->close_frame[i] = TRUE;
  g_mutex_unlock (&p->out_lock[i]);
}

DpPlaceChannel *
_dp_place_channel_dup_handle (DpPlaceChannel *self)
{
  return end_new (self->pipe, self->side, FALSE);
}

DpPlaceChannel *
_dp_place_channel_export (DpPlaceChannel  *self,
                          GError         **error)
{
  DpPipe *p = self->pipe;
  guint i = self->side;
  gboolean local;

  g_mutex_lock (&p->out_lock[i]);
  local = p->sink[i] == NULL && !p->bound[i] && !p->bound[1 - i] && p->sink[1 - i] == NULL;
  g_mutex_unlock (&p->out_lock[i]);
  if (self->moved || !self->owner)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "this channel end has already been sent away, or is not one a place owns");
      return NULL;
    }
  if (!local)
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                           "only an end of a pair made by dp_place_channel_new_pair() "
                           "can travel in a message (this one leads to another process)");
      return NULL;
    }
  self->moved = TRUE;
  self->owner = FALSE;
  return end_new (p, i, TRUE);
}

DpPlaceChannel *
_dp_place_channel_attach (DpPlaceChannel *exported,
                          DpConnection   *conn,
                          guint32         channel)
{
  DpPipe *p = exported->pipe;
  guint c = 1 - exported->side;
  DpPlaceChannel *peer = _dp_place_channel_bind_peer (exported, conn, channel);

  g_mutex_lock (&p->out_lock[c]);
  p->close_frame[c] = TRUE;
  /* the end that stayed was closed before the reference was redeemed:
   * what it sent went first, then its close */
  if (p->out_closed[c] && p->sink[c])
    _dp_connection_send (p->sink[c], DP_FRAME_CLOSE, channel, 0, NULL);
  g_mutex_unlock (&p->out_lock[c]);
  /* the side that travelled is now the remote one: dropping the export's
   * handle must not close it */
  exported->owner = FALSE;
  return peer;
}

/* ---- DpChannel ---- */

static gboolean
iface_put (DpChannel *ch, GVariant *message)
{
  return dp_place_channel_put (DP_PLACE_CHANNEL (ch), message);
}

static GVariant *
iface_get (DpChannel *ch)
{
  return dp_place_channel_get (DP_PLACE_CHANNEL (ch));
}

static GVariant *
iface_try_get (DpChannel *ch)
{
  return dp_place_channel_try_get (DP_PLACE_CHANNEL (ch));
}

static void
dp_place_channel_channel_iface_init (DpChannelInterface *iface)
{
  iface->put = iface_put;
  iface->get = iface_get;
  iface->try_get = iface_try_get;
}
