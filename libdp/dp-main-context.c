/* dp-main-context.c: running code on another thread's main loop
 *
 * libdp has two kinds of main context: a node's router context (its own
 * thread, every socket) and the owner context of each object (the
 * thread-default context where it was made, where its signals are
 * emitted). Whatever one thread wants done in another's context goes
 * through the one idle helper here, _dp_main_context_invoke(): always an
 * idle source, never inline — the caller may hold locks or be in the middle
 * of the router's bookkeeping (commit a0eb979 fixed a deadlock that running
 * such a callback inline caused). Every source it makes carries a name,
 * so a stuck loop shows in a debugger what it was asked to do.
 *
 * The wrappers differ only in what they keep alive meanwhile:
 * _dp_object_invoke() holds a ref on a GObject, _dp_node_invoke() (in
 * dp-node.c) runs on the router, _dp_main_context_invoke_sync() waits for
 * the call. _dp_run_sync() is the one way a sync API waits for its _async
 * form without iterating any context of the caller's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

typedef struct {
  DpInvokeFunc    func;
  gpointer        data;
} Call;

static gboolean
call_cb (gpointer user_data)
{
  Call *c = user_data;

  c->func (c->data);
  return G_SOURCE_REMOVE;
}

/* The idle source every invoke is made of. @user_data is freed by
 * @destroy when the source goes (run or not). */
static void
attach_idle (GMainContext   *context,
             const char     *name,
             GSourceFunc     func,
             gpointer        user_data,
             GDestroyNotify  destroy)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, user_data, destroy);
  g_source_set_static_name (source, name);
  g_source_attach (source, context);
  g_source_unref (source);
}

typedef struct {
  Call            call;
  GDestroyNotify  notify;
} AsyncCall;

static void
async_call_free (gpointer user_data)
{
  AsyncCall *ac = user_data;

  if (ac->notify)
    ac->notify (ac->call.data);
  g_free (ac);
}

/* Runs @func (@data) in @context, from an idle source named @name (a
 * string literal); @notify frees @data afterwards, or when the source is
 * destroyed without running. Safe from any thread. */
void
_dp_main_context_invoke (GMainContext   *context,
                         const char     *name,
                         DpInvokeFunc    func,
                         gpointer        data,
                         GDestroyNotify  notify)
{
  AsyncCall *ac = g_new (AsyncCall, 1);

  ac->call.func = func;
  ac->call.data = data;
  ac->notify = notify;
  attach_idle (context, name, call_cb, ac, async_call_free);
}

typedef struct {
  Call      call;
  GMutex    lock;
  GCond     cond;
  gboolean  done;
} SyncCall;

static gboolean
sync_call_cb (gpointer user_data)
{
  SyncCall *sc = user_data;

  sc->call.func (sc->call.data);
  g_mutex_lock (&sc->lock);
  sc->done = TRUE;
  g_cond_signal (&sc->cond);
  g_mutex_unlock (&sc->lock);
  return G_SOURCE_REMOVE;
}

/* Runs @func (@data) in @context and returns when it has run: inline when
 * the caller owns @context (it is that context's thread, in its loop),
 * else from an idle source while the caller waits. @context must be
 * iterated by some thread, or this never returns. */
void
_dp_main_context_invoke_sync (GMainContext *context,
                              const char   *name,
                              DpInvokeFunc  func,
                              gpointer      data)
{
  SyncCall sc = { { func, data }, { 0 }, { 0 }, FALSE };

  if (g_main_context_is_owner (context))
    {
      func (data);
      return;
    }
  g_mutex_init (&sc.lock);
  g_cond_init (&sc.cond);
  /* no destroy notify: @sc lives on this stack frame only until done */
  attach_idle (context, name, sync_call_cb, &sc, NULL);
  g_mutex_lock (&sc.lock);
  while (!sc.done)
    g_cond_wait (&sc.cond, &sc.lock);
  g_mutex_unlock (&sc.lock);
  g_mutex_clear (&sc.lock);
  g_cond_clear (&sc.cond);
}

typedef struct {
  GObject        *object;
  void          (*func) (gpointer object, gpointer data);
  gpointer        data;
  GDestroyNotify  data_free;
} ObjectCall;

static gboolean
object_call_cb (gpointer user_data)
{
  ObjectCall *oc = user_data;

  oc->func (oc->object, oc->data);
  return G_SOURCE_REMOVE;
}

static void
object_call_free (gpointer user_data)
{
  ObjectCall *oc = user_data;

  if (oc->data_free)
    oc->data_free (oc->data);
  g_object_unref (oc->object);
  g_free (oc);
}

/* Runs @func (@object, @data) in @context (usually the object's owner
 * context), keeping a ref on @object meanwhile. */
void
_dp_object_invoke (GMainContext   *context,
                   gpointer        object,
                   void          (*func) (gpointer object, gpointer data),
                   gpointer        data,
                   GDestroyNotify  data_free)
{
  ObjectCall *oc = g_new (ObjectCall, 1);

  oc->object = g_object_ref (object);
  oc->func = func;
  oc->data = data;
  oc->data_free = data_free;
  attach_idle (context, "[libdp] object call", object_call_cb, oc, object_call_free);
}

/* ---- sync forms of _async operations ---- */

typedef struct {
  GMutex        lock;
  GCond         cond;
  gboolean      done;
  GAsyncResult *result;
} SyncWait;

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  SyncWait *w = user_data;

  g_mutex_lock (&w->lock);
  w->result = g_object_ref (result);
  w->done = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

/* Runs an _async operation (started by @start with a callback) whose task
 * completes in a private context, and waits for it without iterating any
 * context of the caller's. Returns the result (transfer full). */
GAsyncResult *
_dp_run_sync (DpSyncStart start,
              gpointer    data)
{
  SyncWait w = { 0 };
  g_autoptr(GMainContext) ctx = g_main_context_new ();

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  g_main_context_push_thread_default (ctx);
  start (data, sync_done, &w);
  g_main_context_pop_thread_default (ctx);
  for (;;)
    {
      g_mutex_lock (&w.lock);
      if (w.done)
        {
          g_mutex_unlock (&w.lock);
          break;
        }
      g_mutex_unlock (&w.lock);
      g_main_context_iteration (ctx, TRUE);
    }
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  return w.result;
}

/* ---- tasks waiting for an object's news (DpPendingTasks) ---- */

typedef struct {
  gint            ref_count;
  GTask          *task;        /* owned while on the list */
  GObject        *owner;       /* keeps @pt (inside it) alive */
  DpPendingTasks *pt;
  GSource        *cancel;      /* NULL without a cancellable */
} DpPendingTask;

static void
pending_task_unref (gpointer data)
{
  DpPendingTask *p = data;

  if (!g_atomic_int_dec_and_test (&p->ref_count))
    return;
  g_clear_object (&p->task);
  g_clear_pointer (&p->cancel, g_source_unref);
  g_object_unref (p->owner);
  g_free (p);
}

/* The task's context: its cancellable fired. Completes the task unless
 * whoever reports the news took it first. */
static gboolean
pending_task_cancelled (GCancellable *cancellable,
                        gpointer      data)
{
  DpPendingTask *p = data;
  GTask *task = NULL;

  g_mutex_lock (p->pt->lock);
  if (g_queue_remove (&p->pt->tasks, p))
    task = g_steal_pointer (&p->task);
  g_mutex_unlock (p->pt->lock);
  if (task)
    {
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
      pending_task_unref (p);        /* the list's reference */
    }
  return G_SOURCE_REMOVE;
}

void
_dp_pending_tasks_init (DpPendingTasks *pt,
                        GMutex         *lock)
{
  pt->lock = lock;
  g_queue_init (&pt->tasks);
}

void
_dp_pending_task_add (DpPendingTasks *pt,
                      GTask          *task)
{
  DpPendingTask *p = g_new0 (DpPendingTask, 1);
  GCancellable *cancellable = g_task_get_cancellable (task);

  p->ref_count = 1;
  p->task = g_object_ref (task);
  p->owner = g_object_ref (g_task_get_source_object (task));
  p->pt = pt;
  g_mutex_lock (pt->lock);
  g_queue_push_tail (&pt->tasks, p);
  g_mutex_unlock (pt->lock);
  if (cancellable)
    {
      p->cancel = g_cancellable_source_new (cancellable);
      g_atomic_int_inc (&p->ref_count);
      g_source_set_callback (p->cancel, G_SOURCE_FUNC (pending_task_cancelled), p, pending_task_unref);
      g_source_set_static_name (p->cancel, "[libdp] pending task cancelled");
      g_source_attach (p->cancel, g_task_get_context (task));
    }
}

GTask *
_dp_pending_task_pop (DpPendingTasks *pt)
{
  DpPendingTask *p;
  GTask *task;

  g_mutex_lock (pt->lock);
  p = g_queue_pop_head (&pt->tasks);
  task = p ? g_steal_pointer (&p->task) : NULL;
  g_mutex_unlock (pt->lock);
  if (p == NULL)
    return NULL;
  if (p->cancel)
    g_source_destroy (p->cancel);
  pending_task_unref (p);
  return task;
}

gboolean
_dp_pending_tasks_is_empty (DpPendingTasks *pt)
{
  gboolean empty;

  g_mutex_lock (pt->lock);
  empty = g_queue_is_empty (&pt->tasks);
  g_mutex_unlock (pt->lock);
  return empty;
}

void
_dp_pending_tasks_drop_cancelled (DpPendingTasks *pt)
{
  GQueue dropped = G_QUEUE_INIT;
  DpPendingTask *p;

  g_mutex_lock (pt->lock);
  for (GList *l = pt->tasks.head, *next; l; l = next)
    {
      next = l->next;
      p = l->data;
      if (g_cancellable_is_cancelled (g_task_get_cancellable (p->task)))
        {
          g_queue_delete_link (&pt->tasks, l);
          g_queue_push_tail (&dropped, p);
        }
    }
  g_mutex_unlock (pt->lock);
  while ((p = g_queue_pop_head (&dropped)) != NULL)
    {
      GTask *task = g_steal_pointer (&p->task);

      if (p->cancel)
        g_source_destroy (p->cancel);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
      g_object_unref (task);
      pending_task_unref (p);
    }
}

/* At finalization: the list is empty (each task holds the owner) */
void
_dp_pending_tasks_clear (DpPendingTasks *pt)
{
  g_warn_if_fail (g_queue_is_empty (&pt->tasks));
}

/* ---- a router context its readers may run (DpSharedLoop) ----
 *
 * A message that the router reads for a place (or for the master's end of
 * one) costs two thread hops on top of the socket's wake-up: the router
 * wakes to read it, then wakes the reader. A reader that is blocked in a
 * get on a channel that a connection of this router feeds may instead run
 * the router's context itself, as leader, until its message is there: then
 * the socket wakes the thread that wants the message, which reads,
 * delivers it into its own inbox and returns, as a raw socket's reader
 * would (the connection's frame reader is the same code, run by whichever
 * thread owns the router's context: one at a time, and every assertion of
 * "the router's thread" is an assertion of owning that context).
 *
 * The router's thread steps aside when a reader asks (one wake-up), and
 * takes its context back once nobody has led it for a grace period: a
 * reader in a request/reply loop comes back within that time and takes it
 * again without waking anyone, so a round trip costs no hop at all. While
 * a leader is in, the router looks every grace period whether it is still
 * coming and going, and after SHARED_IDLE_CHECKS looks in which nobody
 * came or went sleeps until the leader leaves (the leader wakes it then).
 * The grace period starts at SHARED_GRACE_US and doubles, up to
 * SHARED_GRACE_MAX_US, at each look that finds readers still taking turns
 * (RMPI's ranks lead for every receive of a collective: the router's
 * looks, each a wake-up of a thread that has nothing to do, were a third
 * of their context switches); it starts over when the router takes its
 * context back. So what a leader's absence can delay (timers, other
 * connections, calls posted to the router) waits at most about two
 * grace periods, SHARED_GRACE_US after a lone leader's turn. */

#define SHARED_GRACE_US      200
#define SHARED_GRACE_MAX_US  1600
#define SHARED_IDLE_CHECKS   8

struct _DpSharedLoop
{
  gatomicrefcount ref;
  GMainContext   *ctx;
  GMutex          lock;
  GCond           cond;          /* readers: the router stepped aside */
  GCond           router_cond;   /* the router: a leader left, or quit */
  /* under @lock */
  gboolean        aside;         /* the router is not running its context */
  gboolean        inside;        /* a reader leads (owns the context) */
  guint           want;          /* readers waiting for the router to step aside */
  guint           gen;           /* leaderships so far */
  gboolean        deep;          /* the router sleeps until the leader leaves */
  gint64          left_us;       /* when the last leader left */
  GThread        *thread;        /* the router's own thread, once it runs */
  GQueue          calls;         /* ThreadCall: for the router's own thread */
  gint            quit;          /* atomic: the router is ending */
};

/* What must run on the router's own thread, whoever leads its context */
typedef struct {
  DpInvokeFunc func;
  gpointer     data;
  gboolean     done;
} ThreadCall;

static GMutex shared_loops_lock;
static GHashTable *shared_loops;   /* GMainContext -> DpSharedLoop (no ref) */

/* A shared loop for @ctx, found by _dp_shared_loop_lookup() until
 * _dp_shared_loop_run() returns */
DpSharedLoop *
_dp_shared_loop_new (GMainContext *ctx)
{
  DpSharedLoop *sl = g_new0 (DpSharedLoop, 1);

  g_atomic_ref_count_init (&sl->ref);
  sl->ctx = g_main_context_ref (ctx);
  g_mutex_init (&sl->lock);
  g_cond_init (&sl->cond);
  g_cond_init (&sl->router_cond);
  g_mutex_lock (&shared_loops_lock);
  if (shared_loops == NULL)
    shared_loops = g_hash_table_new (NULL, NULL);
  g_hash_table_insert (shared_loops, ctx, sl);
  g_mutex_unlock (&shared_loops_lock);
  return sl;
}

DpSharedLoop *
_dp_shared_loop_ref (DpSharedLoop *sl)
{
  g_atomic_ref_count_inc (&sl->ref);
  return sl;
}

void
_dp_shared_loop_unref (DpSharedLoop *sl)
{
  if (!g_atomic_ref_count_dec (&sl->ref))
    return;
  g_mutex_lock (&shared_loops_lock);
  if (shared_loops && g_hash_table_lookup (shared_loops, sl->ctx) == sl)
    g_hash_table_remove (shared_loops, sl->ctx);
  g_mutex_unlock (&shared_loops_lock);
  g_main_context_unref (sl->ctx);
  g_mutex_clear (&sl->lock);
  g_cond_clear (&sl->cond);
  g_cond_clear (&sl->router_cond);
  g_free (sl);
}

/* The shared loop whose router runs @ctx (a ref), or NULL */
DpSharedLoop *
_dp_shared_loop_lookup (GMainContext *ctx)
{
  DpSharedLoop *sl = NULL;

  g_mutex_lock (&shared_loops_lock);
  if (shared_loops)
    sl = g_hash_table_lookup (shared_loops, ctx);
  if (sl && !g_atomic_int_get (&sl->quit))
    _dp_shared_loop_ref (sl);
  else
    sl = NULL;
  g_mutex_unlock (&shared_loops_lock);
  return sl;
}

GMainContext *
_dp_shared_loop_get_context (DpSharedLoop *sl)
{
  return sl->ctx;
}

/* One iteration of @ctx (owned by the caller), as
 * g_main_context_iteration (ctx, TRUE) does, but waiting in the poll no
 * later than @deadline (monotonic time, -1: no limit). @fds is the
 * caller's buffer for the context's poll records: @on_stack, the
 * caller's, until more are needed (then allocated, freed by the caller):
 * a leader leads for every blocked get, and a router polls a few fds. */
static void
iterate_until (GMainContext  *ctx,
               gint64         deadline,
               GPollFD      **fds,
               gint          *n_alloc,
               GPollFD       *on_stack)
{
  gint max_priority, timeout, n;
  GPollFunc poll_func;

  g_main_context_prepare (ctx, &max_priority);
  while ((n = g_main_context_query (ctx, max_priority, &timeout, *fds, *n_alloc)) > *n_alloc)
    {
      *n_alloc = n;
      if (*fds == on_stack)
        *fds = g_new (GPollFD, n);
      else
        *fds = g_renew (GPollFD, *fds, n);
    }
  if (deadline >= 0)
    {
      /* the poll counts in milliseconds: round up, never spin on 0 */
      gint64 left_ms = (deadline - g_get_monotonic_time () + 999) / 1000;

      left_ms = CLAMP (left_ms, 0, G_MAXINT);
      if (timeout < 0 || timeout > left_ms)
        timeout = (gint) left_ms;
    }
  poll_func = g_main_context_get_poll_func (ctx);
  poll_func (*fds, (guint) n, timeout);
  if (g_main_context_check (ctx, max_priority, *fds, n))
    g_main_context_dispatch (ctx);
}

/* Runs one iteration of the router's context as its owner (@ready NULL),
 * or iterations until @ready, the router's end or @deadline (monotonic
 * time, -1: none). Between the router and a leader the context is
 * briefly nobody's: a thread calling g_main_context_invoke() on it then
 * runs its function there at once, owning the context meanwhile, so
 * taking it may have to wait for that. */
static void
iterate_as_owner (GMainContext *ctx,
                  gboolean    (*ready) (gpointer data),
                  gpointer      data,
                  gint         *quit,
                  gint64        deadline)
{
  while (!g_main_context_acquire (ctx))
    g_thread_yield ();
  g_main_context_push_thread_default (ctx);
  if (ready == NULL)
    g_main_context_iteration (ctx, TRUE);
  else
    {
      GPollFD on_stack[16];
      GPollFD *fds = on_stack;
      gint n_alloc = G_N_ELEMENTS (on_stack);

      /* at least once: whoever leads serves the context, even when its
       * deadline has passed by the time it leads (the poll does not wait
       * then) */
      do
        iterate_until (ctx, deadline, &fds, &n_alloc, on_stack);
      while (!ready (data) && !g_atomic_int_get (quit) &&
             (deadline < 0 || g_get_monotonic_time () < deadline));
      if (fds != on_stack)
        g_free (fds);
    }
  g_main_context_pop_thread_default (ctx);
  g_main_context_release (ctx);
}

/* The router, with @lock held: lets readers lead until none has for a
 * grace period */
static void
step_aside_locked (DpSharedLoop *sl)
{
  guint seen = sl->gen;
  guint idle = 0;
  gint64 grace = SHARED_GRACE_US;

  sl->aside = TRUE;
  g_cond_broadcast (&sl->cond);
  while (!g_atomic_int_get (&sl->quit))
    {
      gint64 now = g_get_monotonic_time ();
      ThreadCall *call = g_queue_pop_head (&sl->calls);

      if (call != NULL)
        {
          g_mutex_unlock (&sl->lock);
          call->func (call->data);
          g_mutex_lock (&sl->lock);
          call->done = TRUE;
          g_cond_broadcast (&sl->cond);
        }
      else if (sl->inside)
        {
          if (sl->gen != seen)
            {
              /* readers take turns: look less often */
              if (idle > 0)
                grace = MIN (grace * 2, SHARED_GRACE_MAX_US);
              seen = sl->gen;
              idle = 0;
            }
          if (idle++ < SHARED_IDLE_CHECKS)
            g_cond_wait_until (&sl->router_cond, &sl->lock, now + grace);
          else
            {
              /* a reader waiting long: sleep until it leaves */
              sl->deep = TRUE;
              g_cond_wait (&sl->router_cond, &sl->lock);
              sl->deep = FALSE;
            }
        }
      else if (sl->want > 0 || now < sl->left_us + grace)
        g_cond_wait_until (&sl->router_cond, &sl->lock, MAX (now, sl->left_us) + grace);
      else
        break;
    }
  sl->aside = FALSE;
}

/* The router's thread: runs @sl's context until _dp_shared_loop_quit(),
 * stepping aside while readers lead it */
void
_dp_shared_loop_run (DpSharedLoop *sl)
{
  g_mutex_lock (&sl->lock);
  sl->thread = g_thread_self ();
  while (!g_atomic_int_get (&sl->quit))
    {
      if (sl->want > 0)
        {
          step_aside_locked (sl);
          continue;
        }
      g_mutex_unlock (&sl->lock);
      iterate_as_owner (sl->ctx, NULL, NULL, &sl->quit, -1);
      g_mutex_lock (&sl->lock);
    }
  g_mutex_unlock (&sl->lock);
  g_mutex_lock (&shared_loops_lock);
  if (shared_loops && g_hash_table_lookup (shared_loops, sl->ctx) == sl)
    g_hash_table_remove (shared_loops, sl->ctx);
  g_mutex_unlock (&shared_loops_lock);
}

/* Router code: runs @func on the router's own thread, now — for what is
 * bound to the thread that does it rather than to the context (a child
 * started with PR_SET_PDEATHSIG dies with the thread that started it: a
 * reader leading the context may end long before its node). From the
 * router's own thread, or a context no shared loop runs, @func runs at
 * once; from a reader that leads, the router's thread (stepped aside)
 * runs it while the reader waits. */
void
_dp_main_context_call_on_router_thread (GMainContext *ctx,
                                        DpInvokeFunc  func,
                                        gpointer      data)
{
  DpSharedLoop *sl = _dp_shared_loop_lookup (ctx);
  ThreadCall call = { func, data, FALSE };

  if (sl == NULL)
    {
      func (data);
      return;
    }
  g_mutex_lock (&sl->lock);
  if (sl->thread == NULL || sl->thread == g_thread_self () || !sl->aside ||
      g_atomic_int_get (&sl->quit))
    {
      g_mutex_unlock (&sl->lock);
      _dp_shared_loop_unref (sl);
      func (data);
      return;
    }
  g_queue_push_tail (&sl->calls, &call);
  g_cond_signal (&sl->router_cond);
  while (!call.done && !g_atomic_int_get (&sl->quit))
    g_cond_wait (&sl->cond, &sl->lock);
  if (!call.done)
    g_queue_remove (&sl->calls, &call);
  g_mutex_unlock (&sl->lock);
  _dp_shared_loop_unref (sl);
  if (!call.done)
    func (data);      /* the router is ending: here, then */
}

/* Any thread: _dp_shared_loop_run() returns (a leader leaves first) */
void
_dp_shared_loop_quit (DpSharedLoop *sl)
{
  g_mutex_lock (&sl->lock);
  g_atomic_int_set (&sl->quit, TRUE);
  g_cond_broadcast (&sl->cond);
  g_cond_broadcast (&sl->router_cond);
  g_mutex_unlock (&sl->lock);
  g_main_context_wakeup (sl->ctx);
}

/* A reader blocked until @ready: leads the router's context until @ready
 * returns TRUE (whoever makes it TRUE from another thread wakes the
 * context: g_main_context_wakeup()) or @deadline (monotonic time; -1:
 * none) has passed. Returns FALSE at once, without waiting for @ready,
 * when it cannot lead (another reader does, the router ends, or the
 * caller owns the context already): the caller then waits as it would
 * have. */
gboolean
_dp_shared_loop_lead (DpSharedLoop *sl,
                      gboolean    (*ready) (gpointer data),
                      gpointer      data,
                      gint64        deadline)
{
  if (g_main_context_is_owner (sl->ctx))
    return FALSE;
  g_mutex_lock (&sl->lock);
  if (!sl->aside && !sl->inside && !g_atomic_int_get (&sl->quit))
    {
      /* ask the router to step aside (it is in its poll, or busy) */
      sl->want++;
      g_mutex_unlock (&sl->lock);
      g_main_context_wakeup (sl->ctx);
      g_mutex_lock (&sl->lock);
      while (!sl->aside && !g_atomic_int_get (&sl->quit) && !ready (data))
        g_cond_wait (&sl->cond, &sl->lock);
      sl->want--;
    }
  if (!sl->aside || sl->inside || g_atomic_int_get (&sl->quit) || ready (data))
    {
      g_mutex_unlock (&sl->lock);
      return FALSE;
    }
  sl->inside = TRUE;
  sl->gen++;
  g_mutex_unlock (&sl->lock);

  iterate_as_owner (sl->ctx, ready, data, &sl->quit, deadline);

  g_mutex_lock (&sl->lock);
  sl->inside = FALSE;
  sl->left_us = g_get_monotonic_time ();
  if (sl->deep || g_atomic_int_get (&sl->quit))
    g_cond_signal (&sl->router_cond);
  g_mutex_unlock (&sl->lock);
  return TRUE;
}
