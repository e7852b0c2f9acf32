/* dp-remote-connection.c: the master's handle on one remote place
 *
 * A DpRemoteConnection is one channel id on the connection to a node,
 * leading to a place started there or to a named place. Messages put on it
 * go straight to the socket; messages from the place land in its inbox,
 * from where dp_remote_connection_get() takes them (blocking, from any
 * thread, also inside a main-loop callback), or, when a handler is
 * connected to #DpRemoteConnection::message, they are emitted in the main
 * context the connection was made in.
 *
 * Flow control: dp_remote_connection_put() waits while the connection's
 * output queue is full (the router runs on its own thread, so this cannot
 * stop the router; but a thread that waits there is not reading). Main-loop
 * code uses dp_remote_connection_put_async(): the puts wait in order in
 * @pending_puts, and a one-shot watch on the connection brings them out
 * when it has room again, in the owner context; the loop never waits.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

struct _DpRemoteConnection
{
  GObject                  parent_instance;

  /* immutable after construction */
  GMainContext            *owner_context;   /* where signals are emitted */
  GWeakRef                 node;            /* DpRemoteNode (thread-safe) */
  DpRefConnectionFunc      ref_connection;  /* given by the node */
  DpPlaceChannel          *end;             /* its inbox is ours; puts go to the wire */
  GVariant                *request;
  char                    *symbol;

  /* atomic */
  gint                     dispatch_pending;

  /* under @lock */
  GMutex                   lock;
  GCond                    cond;            /* with @lock: @state changed */
  DpConnection            *conn;            /* a new one after a node restart */
  guint32                  id;              /* a new one after each restart */
  GArray                  *ids;             /* every channel id used on @conn, for cleanup */
  DpRemoteConnectionState  state;
  DpPlaceExit              exit;
  char                    *detail;
  GError                  *error;
  GList                   *ready_tasks;
  gboolean                 closed_by_user;
  DpRestartPolicy          policy;          /* its lock is @lock; attempt 0: the first incarnation */
  GQueue                   pending_puts;    /* GTask of put_async (message as task data), in order */
  GTask                   *export_task;     /* dp_remote_connection_to_variant_async(): EXPORTED awaited */
  gboolean                 watching;        /* a writable watch will call flush_pending_puts() */
  DpRemoteDeathFunc        death_func;      /* the RPC client's, see dp-rpc.c */
  gpointer                 death_data;
  DpPendingTasks           get_tasks;       /* get_async, served in the owner context */
  DpPendingTasks           wait_tasks;      /* wait_async, completed at the death */
};

enum {
  PROP_0,
  PROP_STATE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

typedef enum {
  EVENT_READY,
  EVENT_DIED,
  EVENT_RESTARTING,
  EVENT_UNDELIVERED,
} EventType;

typedef struct {
  EventType    type;
  DpPlaceExit  exit;
  char        *detail;
  guint        attempt;
  GVariant    *msg;
} Event;

static void
event_free (Event *e)
{
  g_free (e->detail);
  g_clear_pointer (&e->msg, g_variant_unref);
  g_free (e);
}

enum {
  SIGNAL_READY,
  SIGNAL_MESSAGE,
  SIGNAL_DIED,
  SIGNAL_RESTARTING,
  SIGNAL_RESTARTED,
  SIGNAL_UNDELIVERED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void dp_remote_connection_channel_iface_init (DpChannelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DpRemoteConnection, dp_remote_connection, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (DP_TYPE_CHANNEL,
                                                      dp_remote_connection_channel_iface_init))

static void apply_restart_policy (DpRemoteConnection *self);
static void add_entry (DpRemoteConnection *self, DpConnection *conn, guint32 id);

static void
emit_messages (DpRemoteConnection *self)
{
  GVariant *msg;

  if (!g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE], 0, FALSE))
    return;
  while ((msg = dp_place_channel_try_get (self->end)) != NULL)
    {
      g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, msg);
      g_variant_unref (msg);
    }
}

/* The owner's context: hands what has arrived to the pending
 * get_async()s, in order; NULL to each once the place has exited and
 * everything was got */
static void
serve_gets (DpRemoteConnection *self)
{
  DP_ASSERT_OWNER_CONTEXT (self->owner_context);
  _dp_pending_tasks_drop_cancelled (&self->get_tasks);
  while (!_dp_pending_tasks_is_empty (&self->get_tasks))
    {
      gboolean closed = FALSE;
      GVariant *msg = dp_place_channel_get_timeout (self->end, 0, &closed);
      GTask *task;

      if (msg == NULL && !closed)
        return;
      task = _dp_pending_task_pop (&self->get_tasks);
      if (task == NULL)
        {
          /* cannot happen: adds and cancels run in this context too */
          g_clear_pointer (&msg, g_variant_unref);
          return;
        }
      g_task_return_pointer (task, msg, (GDestroyNotify) g_variant_unref);
      g_object_unref (task);
    }
}

/* Completes the pending wait_async()s when the place has exited for good */
static void
complete_waits (DpRemoteConnection *self)
{
  DpRemoteConnectionState state;
  DpPlaceExit exit;
  GTask *task;

  g_mutex_lock (&self->lock);
  state = self->state;
  exit = self->exit;
  g_mutex_unlock (&self->lock);
  if (state != DP_REMOTE_CONNECTION_EXITED)
    return;
  while ((task = _dp_pending_task_pop (&self->wait_tasks)) != NULL)
    {
      g_task_return_int (task, exit);
      g_object_unref (task);
    }
}

static void
serve_gets_in_owner (gpointer object,
                     gpointer data)
{
  serve_gets (object);
}

static void
complete_waits_in_owner (gpointer object,
                         gpointer data)
{
  complete_waits (object);
}

/* Runs in the owner's context: one lifecycle event. Each has an idle of its
 * own (they are rare), so they keep their order with everything else libdp
 * hands to the owner's context — e.g. a node's output before the death of
 * the place that printed it. Messages come before the death that followed
 * them. */
static void
dispatch_event (gpointer object,
                gpointer data)
{
  DpRemoteConnection *self = object;
  Event *e = data;

  DP_ASSERT_OWNER_CONTEXT (self->owner_context);
  if (e->type != EVENT_UNDELIVERED)
    g_object_notify_by_pspec (object, properties[PROP_STATE]);
  switch (e->type)
    {
    case EVENT_READY:
      if (e->attempt == 0)
        g_signal_emit (self, signals[SIGNAL_READY], 0);
      else
        g_signal_emit (self, signals[SIGNAL_RESTARTED], 0, e->attempt);
      break;
    case EVENT_DIED:
      serve_gets (self);
      emit_messages (self);
      g_signal_emit (self, signals[SIGNAL_DIED], 0, (int) e->exit, e->detail);
      complete_waits (self);
      if (e->attempt)   /* a death the restart policy is to act on */
        apply_restart_policy (self);
      break;
    case EVENT_RESTARTING:
      g_signal_emit (self, signals[SIGNAL_RESTARTING], 0, e->attempt);
      break;
    case EVENT_UNDELIVERED:
      g_signal_emit (self, signals[SIGNAL_UNDELIVERED], 0, e->msg);
      break;
    }
}

/* Runs in the owner's context: "message" for what has arrived (coalesced:
 * one idle for any number of messages) */
static void
dispatch_in_owner (gpointer object,
                   gpointer data)
{
  DpRemoteConnection *self = object;

  DP_ASSERT_OWNER_CONTEXT (self->owner_context);
  g_atomic_int_set (&self->dispatch_pending, 0);
  serve_gets (self);
  emit_messages (self);
}

static void
push_event (DpRemoteConnection *self,
            EventType           type,
            DpPlaceExit         exit,
            const char         *detail,
            guint               attempt,
            GVariant           *msg)
{
  Event *e = g_new0 (Event, 1);

  e->type = type;
  e->exit = exit;
  e->detail = g_strdup (detail);
  e->attempt = attempt;
  e->msg = msg ? g_variant_ref (msg) : NULL;
  _dp_object_invoke (self->owner_context, self, dispatch_event, e, (GDestroyNotify) event_free);
}

static void
schedule_dispatch (gpointer data)
{
  DpRemoteConnection *self = data;

  if (g_atomic_int_compare_and_exchange (&self->dispatch_pending, 0, 1))
    _dp_object_invoke (self->owner_context, self, dispatch_in_owner, NULL, NULL);
}

void
_dp_remote_connection_set_death_func (DpRemoteConnection *self,
                                      DpRemoteDeathFunc   func,
                                      gpointer            data)
{
  g_mutex_lock (&self->lock);
  self->death_func = func;
  self->death_data = data;
  g_mutex_unlock (&self->lock);
}

/* Router thread: the place died and is to be restarted (its inbox stays
 * open). The death func's message goes behind what the dead incarnation
 * sent. */
static void
notify_death (DpRemoteConnection *self,
              DpPlaceExit         exit,
              const char         *detail)
{
  DpRemoteDeathFunc func;
  gpointer data;
  g_autoptr(GVariant) msg = NULL;

  g_mutex_lock (&self->lock);
  func = self->death_func;
  data = self->death_data;
  g_mutex_unlock (&self->lock);
  if (func)
    msg = func (data, exit, detail);
  if (msg)
    _dp_place_channel_deliver (self->end, msg, NULL);
}

static void
dp_remote_connection_finalize (GObject *object)
{
  g_warn_if_fail (DP_REMOTE_CONNECTION (object)->export_task == NULL);
  DpRemoteConnection *self = DP_REMOTE_CONNECTION (object);

  if (self->end)
    _dp_place_channel_set_notify (self->end, NULL, NULL);
  if (self->conn)
    for (guint i = 0; i < self->ids->len; i++)
      {
        DpChannelEntry *e = _dp_connection_steal_entry (self->conn, g_array_index (self->ids, guint32, i));
        g_clear_pointer (&e, _dp_channel_entry_unref);
      }
  g_array_unref (self->ids);
  _dp_pending_tasks_clear (&self->get_tasks);
  _dp_pending_tasks_clear (&self->wait_tasks);
  g_queue_clear_full (&self->pending_puts, g_object_unref);
  _dp_restart_policy_clear (&self->policy);
  g_clear_object (&self->end);
  g_clear_pointer (&self->conn, _dp_connection_unref);
  g_clear_pointer (&self->request, g_variant_unref);
  g_weak_ref_clear (&self->node);
  g_main_context_unref (self->owner_context);
  g_free (self->symbol);
  g_free (self->detail);
  g_clear_error (&self->error);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (dp_remote_connection_parent_class)->finalize (object);
}

static void
dp_remote_connection_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  DpRemoteConnection *self = DP_REMOTE_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_STATE: g_value_set_enum (value, dp_remote_connection_get_state (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_remote_connection_class_init (DpRemoteConnectionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_remote_connection_finalize;
  G_OBJECT_CLASS (klass)->get_property = dp_remote_connection_get_property;

  /**
   * DpRemoteConnection:state:
   *
   * Where the connection is in its life (dp_remote_connection_get_state()).
   * Notified in the main context the connection was made in, with the
   * #DpRemoteConnection::ready, #DpRemoteConnection::died and
   * #DpRemoteConnection::restarting signals (just before each).
   *
   * ```c
   * static void
   * on_state (DpRemoteConnection *rc, GParamSpec *pspec, gpointer data)
   * {
   *   g_print ("now %d\n", dp_remote_connection_get_state (rc));
   * }
   * g_signal_connect (rc, "notify::state", G_CALLBACK (on_state), NULL);
   * ```
   *
   * Since: 1.0
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, DP_TYPE_REMOTE_CONNECTION_STATE,
                       DP_REMOTE_CONNECTION_STARTING,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (G_OBJECT_CLASS (klass), N_PROPS, properties);

  /**
   * DpRemoteConnection::ready:
   *
   * The place runs (or the named place was found). Emitted in the main
   * context the connection was made in.
   *
   * Since: 1.0
   */
  signals[SIGNAL_READY] =
    g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * DpRemoteConnection::message:
   * @connection: the connection
   * @message: the message (a #GVariant)
   *
   * A message from the place (the seed's `set-on-channel!`). While a handler
   * is connected, messages are emitted here instead of waiting for
   * dp_remote_connection_get().
   *
   * Since: 1.0
   */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
  /**
   * DpRemoteConnection::died:
   * @connection: the connection
   * @exit: how the place ended (a #DpPlaceExit)
   * @detail: in words
   *
   * The place ended, could not be started, or the node was lost. Emitted
   * after every message the place sent before.
   *
   * Since: 1.0
   */
  signals[SIGNAL_DIED] =
    g_signal_new ("died", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
  /**
   * DpRemoteConnection::restarting:
   * @connection: the connection
   * @attempt: 1 for the first restart, 2 for the second…
   *
   * The place is being launched again (restart-on-exit). Messages put
   * meanwhile are queued and delivered to the new incarnation.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RESTARTING] =
    g_signal_new ("restarting", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * DpRemoteConnection::restarted:
   * @connection: the connection
   * @attempt: the restart's number
   *
   * The new incarnation of the place runs.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RESTARTED] =
    g_signal_new ("restarted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * DpRemoteConnection::undelivered:
   * @connection: the connection
   * @message: a message the place never got (a #GVariant)
   *
   * The place ended before it read @message and will not be restarted;
   * the node sent it back. Nothing is dropped without this signal and a
   * log line.
   *
   * Since: 1.0
   */
  signals[SIGNAL_UNDELIVERED] =
    g_signal_new ("undelivered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
}


static void
dp_remote_connection_init (DpRemoteConnection *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  _dp_restart_policy_init (&self->policy, &self->lock);
  g_weak_ref_init (&self->node, NULL);
  self->ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  _dp_pending_tasks_init (&self->get_tasks, &self->lock);
  _dp_pending_tasks_init (&self->wait_tasks, &self->lock);
  self->owner_context = g_main_context_ref_thread_default ();
}

DpRemoteConnection *
_dp_remote_connection_new (DpRemoteNode        *node,
                           DpRefConnectionFunc  ref_connection,
                           DpConnection        *conn,
                           guint32              id,
                           GVariant            *request,
                           const char          *symbol,
                           gboolean             restart,
                           DpRestarter         *restarter)
{
  DpRemoteConnection *self = g_object_new (DP_TYPE_REMOTE_CONNECTION, NULL);

  /* the restart policy is in place before the request goes out: a place
   * that ends at once is restarted too */
  if (restart || restarter)
    _dp_restart_policy_set (&self->policy, restart, restarter, NULL, NULL, NULL);

  g_weak_ref_set (&self->node, node);
  self->ref_connection = ref_connection;
  self->id = id;
  self->request = g_variant_ref_sink (request);
  self->symbol = g_strdup (symbol);
  self->state = DP_REMOTE_CONNECTION_STARTING;

  if (conn == NULL)
    {
      DpPlaceChannel *other;
      /* no node: an end that is closed from the start */
      dp_place_channel_new_pair (&self->end, &other);
      g_object_unref (other);
      _dp_remote_connection_ended (self, DP_PLACE_EXIT_LOST, "the node is not connected",
                                   &(GError) { DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                                               (char *) "the node is not connected" }, NULL);
      return self;
    }

  self->conn = _dp_connection_ref (conn);
  g_array_append_val (self->ids, id);
  self->end = _dp_place_channel_new_bound (conn, id);
  _dp_place_channel_set_notify (self->end, schedule_dispatch, self);

  add_entry (self, conn, id);

  if (!_dp_connection_send (conn, DP_FRAME_NEW_PLACE, id, 0, self->request))
    {
      g_autoptr(DpChannelEntry) gone G_GNUC_UNUSED = _dp_connection_steal_entry (conn, id);
      _dp_remote_connection_ended (self, DP_PLACE_EXIT_LOST, "the connection to the node is closed",
                                   &(GError) { DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                                               (char *) "the connection to the node is closed" }, NULL);
    }
  return self;
}

static void
complete_ready_tasks (DpRemoteConnection *self,
                      GList              *tasks)
{
  g_autoptr(GError) error = NULL;

  if (tasks == NULL)
    return;
  /* the outcome as it is now, read once under the lock */
  g_mutex_lock (&self->lock);
  if (self->state != DP_REMOTE_CONNECTION_READY)
    error = self->error ? g_error_copy (self->error)
                        : g_error_new (DP_ERROR, DP_ERROR_PLACE_FAILED,
                                       "place %s ended before it was ready: %s",
                                       self->symbol ? self->symbol : "", self->detail);
  g_mutex_unlock (&self->lock);

  for (GList *l = tasks; l; l = l->next)
    {
      GTask *task = l->data;
      if (error == NULL)
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
  g_list_free (tasks);
}

static void
started (DpRemoteConnection *self)
{
  GList *tasks;
  guint attempt;

  g_mutex_lock (&self->lock);
  if (self->state == DP_REMOTE_CONNECTION_STARTING)
    self->state = DP_REMOTE_CONNECTION_READY;
  attempt = _dp_restart_policy_get_attempt_locked (&self->policy);
  tasks = g_steal_pointer (&self->ready_tasks);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  complete_ready_tasks (self, tasks);
  push_event (self, EVENT_READY, 0, NULL, attempt, NULL);
  schedule_dispatch (self);
}

/* What the place's death means: never restarted when it could not start,
 * its node is lost (the node's policy decides) or its user closed it;
 * else as the policy says */
static DpRestartDecision
restart_decision_locked (DpRemoteConnection *self,
                         DpPlaceExit         exit)
{
  DP_ASSERT_LOCK_HELD (&self->lock);
  if (self->closed_by_user || exit == DP_PLACE_EXIT_FAILED || exit == DP_PLACE_EXIT_LOST)
    return DP_RESTART_NEVER;
  return _dp_restart_policy_decide_locked (&self->policy);
}

static void
report_undelivered (DpRemoteConnection *self,
                    GVariant           *msg)
{
  g_autofree char *text = g_variant_print (msg, FALSE);
  gboolean never_started;

  /* a place that never started was reported as such (its error): what
   * was put for it is said here only for the debug log */
  g_mutex_lock (&self->lock);
  never_started = self->exit == DP_PLACE_EXIT_FAILED;
  g_mutex_unlock (&self->lock);
  g_log_structured (G_LOG_DOMAIN, never_started ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING,
                    "DP_PLACE", self->symbol ? self->symbol : "",
                    "DP_EVENT", "undelivered",
                    "MESSAGE", "place %s ended before it read %.200s; not delivered", self->symbol ? self->symbol : "", text);
  push_event (self, EVENT_UNDELIVERED, 0, NULL, 0, msg);
}

/* The place ended, or its node went, before the node answered EXPORT */
static void
fail_export (DpRemoteConnection *self)
{
  GTask *task;

  g_mutex_lock (&self->lock);
  task = g_steal_pointer (&self->export_task);
  g_mutex_unlock (&self->lock);
  if (task == NULL)
    return;
  g_task_return_new_error (task, DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                           "the place ended, or its node went, before it could be sent away");
  g_object_unref (task);
}

gboolean
_dp_remote_connection_ended (DpRemoteConnection *self,
                             DpPlaceExit         exit,
                             const char         *detail,
                             const GError       *error,
                             GVariant           *returned)
{
  GList *tasks;
  DpRestartDecision decision;
  gboolean restart;
  g_autofree char *text = g_strdup (detail ? detail : dp_place_exit_to_string (exit));

  g_mutex_lock (&self->lock);
  if (self->state == DP_REMOTE_CONNECTION_EXITED)
    {
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  decision = restart_decision_locked (self, exit);
  restart = decision != DP_RESTART_NEVER;
  self->state = restart ? DP_REMOTE_CONNECTION_STARTING : DP_REMOTE_CONNECTION_EXITED;
  self->exit = exit;
  g_free (self->detail);
  self->detail = g_strdup (text);
  g_clear_error (&self->error);
  if (error)
    self->error = g_error_copy (error);
  tasks = restart ? NULL : g_steal_pointer (&self->ready_tasks);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  fail_export (self);

  if (restart)
    {
      /* Keep the inbox open for the next incarnation; queue what is put
       * meanwhile behind what the dead one never read. */
      _dp_place_channel_hold (self->end, returned);
      notify_death (self, exit, text);
      /* restart TRUE needs nobody's main loop: relaunch from here (the
       * router thread); a restarter or a callback act in the owner's
       * context, once "died" has been emitted there */
      push_event (self, EVENT_DIED, exit, text, decision == DP_RESTART_NOW ? 0 : 1, NULL);
      if (decision == DP_RESTART_NOW)
        dp_remote_connection_restart (self);
    }
  else
    {
      _dp_place_channel_unbind (self->end);
      _dp_place_channel_close_inbox (self->end);
      if (returned)
        {
          GVariantIter iter;
          GVariant *child;

          g_variant_iter_init (&iter, returned);
          while ((child = g_variant_iter_next_value (&iter)) != NULL)
            {
              g_autoptr(GVariant) msg = g_variant_get_variant (child);
              report_undelivered (self, msg);
              g_variant_unref (child);
            }
        }
      complete_ready_tasks (self, tasks);
      push_event (self, EVENT_DIED, exit, text, 0, NULL);
    }
  schedule_dispatch (self);
  return restart;
}

/* Router thread: the node died and is to be respawned (node restart-on-exit).
 * Unless the place had ended or its connection was closed, keep this
 * connection for the place's next incarnation on the new node: "died" is
 * emitted (DP_PLACE_EXIT_LOST), what is put meanwhile is queued, and
 * dp_remote_connection_restart() relaunches it once the node is back.
 * Returns whether it is to be relaunched. */
gboolean
_dp_remote_connection_node_lost (DpRemoteConnection *self,
                                 const char         *detail)
{
  g_mutex_lock (&self->lock);
  if (self->state == DP_REMOTE_CONNECTION_EXITED || self->closed_by_user)
    {
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  self->state = DP_REMOTE_CONNECTION_STARTING;
  self->exit = DP_PLACE_EXIT_LOST;
  g_free (self->detail);
  self->detail = g_strdup (detail);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  fail_export (self);

  _dp_place_channel_hold (self->end, NULL);
  notify_death (self, DP_PLACE_EXIT_LOST, detail);
  push_event (self, EVENT_DIED, DP_PLACE_EXIT_LOST, detail, 0, NULL);
  schedule_dispatch (self);
  return TRUE;
}

/* Router thread: the place crashed and took its node with it (the node's
 * crash report named it). It ends CRASHED with @detail; it is relaunched
 * with the node only when its own restart policy says so and the node is
 * to be respawned (@node_restarts). Returns whether it is to be relaunched. */
gboolean
_dp_remote_connection_crashed_with_node (DpRemoteConnection *self,
                                         const char         *detail,
                                         gboolean            node_restarts)
{
  DpRestartDecision decision;

  g_mutex_lock (&self->lock);
  if (self->state == DP_REMOTE_CONNECTION_EXITED)
    {
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  decision = restart_decision_locked (self, DP_PLACE_EXIT_CRASHED);
  if (decision == DP_RESTART_NEVER || !node_restarts)
    {
      /* final: no restart from here, where the node is gone */
      self->closed_by_user = self->closed_by_user || decision != DP_RESTART_NEVER;
      g_mutex_unlock (&self->lock);
      _dp_remote_connection_ended (self, DP_PLACE_EXIT_CRASHED, detail, NULL, NULL);
      return FALSE;
    }
  self->state = DP_REMOTE_CONNECTION_STARTING;
  self->exit = DP_PLACE_EXIT_CRASHED;
  g_free (self->detail);
  self->detail = g_strdup (detail);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  fail_export (self);

  _dp_place_channel_hold (self->end, NULL);
  notify_death (self, DP_PLACE_EXIT_CRASHED, detail);
  push_event (self, EVENT_DIED, DP_PLACE_EXIT_CRASHED, detail, 0, NULL);
  schedule_dispatch (self);
  return TRUE;
}

static void
bounced (DpRemoteConnection *self,
         GVariant           *msg)
{
  gboolean exited;

  g_mutex_lock (&self->lock);
  exited = self->state == DP_REMOTE_CONNECTION_EXITED;
  g_mutex_unlock (&self->lock);

  /* While the place is being restarted this queues it for the new one */
  if (exited || !dp_place_channel_put (self->end, msg))
    {
      report_undelivered (self, msg);
      schedule_dispatch (self);
    }
}

/* ---- the channel's frames (router thread; dp-remote-node.c finds the
 * entry and calls these through its class) ---- */

static void
entry_started (DpChannelEntry *e)
{
  g_autoptr(DpRemoteConnection) rc = g_weak_ref_get (&e->owner);

  if (rc)
    started (rc);
}

/* The entry stays (marked dead) so that bounced messages still find their
 * connection; the connection removes it when it goes. */
static void
entry_ended (DpChannelEntry *e,
             DpPlaceExit     exit,
             const char     *detail,
             const GError   *error,
             GVariant       *returned)
{
  g_autoptr(DpRemoteConnection) rc = g_weak_ref_get (&e->owner);

  e->dead = TRUE;
  if (rc)
    _dp_remote_connection_ended (rc, exit, detail, error, returned);
  else if (e->target)
    _dp_place_channel_close_inbox (e->target);
}

/* FAILED is (us) code, message; DIED is (usav) exit, detail, unread */
static void
parse_end (GVariant    *payload,
           guint32     *code,
           const char **text,
           GVariant   **returned)
{
  *code = 0;
  *text = "";
  *returned = NULL;
  if (payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(us)")))
    g_variant_get (payload, "(u&s)", code, text);
  else if (payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(usav)")))
    g_variant_get (payload, "(u&s@av)", code, text, returned);
}

static void
entry_failed (DpChannelEntry *e,
              GVariant       *payload)
{
  guint32 code;
  const char *text;
  g_autoptr(GVariant) returned = NULL;
  g_autoptr(GError) error = NULL;

  if (e->dead)
    return;
  parse_end (payload, &code, &text, &returned);
  error = _dp_error_from_remote (code, text);
  entry_ended (e, DP_PLACE_EXIT_FAILED, text, error, NULL);
}

static void
entry_died (DpChannelEntry *e,
            GVariant       *payload)
{
  guint32 code;
  const char *text;
  g_autoptr(GVariant) returned = NULL;

  if (e->dead)
    return;
  parse_end (payload, &code, &text, &returned);
  entry_ended (e, code <= DP_PLACE_EXIT_LOST ? (DpPlaceExit) code : DP_PLACE_EXIT_CRASHED,
               text, NULL, returned);
}

static void
entry_bounce (DpChannelEntry *e,
              GVariant       *msg)
{
  g_autoptr(DpRemoteConnection) rc = g_weak_ref_get (&e->owner);

  if (rc)
    bounced (rc, msg);
}

/* the node's answer to dp_remote_connection_to_variant() */
static void
entry_exported (DpChannelEntry *e,
                GVariant       *payload)
{
  g_autoptr(DpRemoteConnection) rc = g_weak_ref_get (&e->owner);
  gboolean sent = payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(ssqay)"));
  GTask *task;

  if (rc == NULL)
    return;
  g_mutex_lock (&rc->lock);
  task = g_steal_pointer (&rc->export_task);
  if (task && sent)
    rc->closed_by_user = TRUE;     /* never restarted from here on */
  g_mutex_unlock (&rc->lock);
  if (task == NULL)
    return;
  if (sent)
    {
      _dp_remote_connection_ended (rc, DP_PLACE_EXIT_LOST,
                                   "sent away in a message (dp_remote_connection_to_variant)",
                                   NULL, NULL);
      g_task_return_pointer (task, g_variant_ref (payload), (GDestroyNotify) g_variant_unref);
    }
  else
    {
      guint32 code = DP_ERROR_FAILED;
      const char *message = "the node could not hand the place over";

      if (payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(us)")))
        g_variant_get (payload, "(u&s)", &code, &message);
      g_task_return_error (task, _dp_error_from_remote (code, message));
    }
  g_object_unref (task);
}

static const DpChannelEntryClass remote_entry_class = {
  .data     = _dp_channel_entry_deliver,
  .started  = entry_started,
  .failed   = entry_failed,
  .died     = entry_died,
  .bounce   = entry_bounce,
  .exported = entry_exported,
};

/* Channel @id of @conn leads to this connection from now on */
static void
add_entry (DpRemoteConnection *self,
           DpConnection       *conn,
           guint32             id)
{
  DpChannelEntry *entry = _dp_channel_entry_new (&remote_entry_class, id);

  entry->target = g_object_ref (self->end);
  g_weak_ref_set (&entry->owner, self);
  _dp_connection_add_entry (conn, id, entry);
}

DpRemoteConnection *
_dp_remote_connection_ref_from_entry (DpChannelEntry *entry)
{
  if (entry->klass != &remote_entry_class)
    return NULL;
  return g_weak_ref_get (&entry->owner);
}

static void
restart_cb (guint    attempt,
            gpointer data)
{
  dp_remote_connection_restart (DP_REMOTE_CONNECTION (data));
}

/* owner context, after "died" was emitted for a death the policy is to
 * act on (a restarter or a callback; restart TRUE was done in
 * _dp_remote_connection_ended()) */
static void
apply_restart_policy (DpRemoteConnection *self)
{
  DpPlaceExit exit;
  g_autofree char *detail = NULL;

  DP_ASSERT_OWNER_CONTEXT (self->owner_context);
  if (_dp_restart_policy_apply (&self->policy, G_OBJECT (self), restart_cb))
    return;
  /* no further incarnation: the connection ends for good */
  g_mutex_lock (&self->lock);
  exit = self->exit;
  detail = g_strdup_printf ("%s; the restart policy gave up",
                            self->detail ? self->detail : dp_place_exit_to_string (exit));
  g_mutex_unlock (&self->lock);
  _dp_remote_connection_ended (self, exit, detail, NULL, NULL);
}

/**
 * dp_remote_connection_restart:
 * @self: a #DpRemoteConnection
 *
 * Launches the place again on its node, with the same plugin, symbol,
 * flags and name, keeping this connection: what is put while the place is
 * down is delivered to the new incarnation. Restart policies
 * (%DP_LAUNCH_RESTART_ON_EXIT, dp_remote_connection_set_restarter()) call
 * this; a restart callback calls it when it decides to.
 *
 * Returns: %FALSE when the node is gone (the connection then exits)
 *
 * Since: 1.0
 */
gboolean
dp_remote_connection_restart (DpRemoteConnection *self)
{
  g_autoptr(DpRemoteNode) node = NULL;
  DpConnection *conn = NULL;
  guint32 id;
  guint attempt;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), FALSE);

  node = g_weak_ref_get (&self->node);
  if (node)
    conn = self->ref_connection (node);
  if (conn == NULL)
    {
      GError error = { DP_ERROR, DP_ERROR_CONNECTION_CLOSED, (char *) "the node is gone" };
      g_mutex_lock (&self->lock);
      self->closed_by_user = TRUE;                /* no further restart */
      self->state = DP_REMOTE_CONNECTION_READY;   /* let ended() finish it */
      g_mutex_unlock (&self->lock);
      _dp_remote_connection_ended (self, DP_PLACE_EXIT_LOST, "cannot restart: the node is gone",
                                   &error, NULL);
      return FALSE;
    }

  id = _dp_connection_alloc_channel (conn);
  add_entry (self, conn, id);

  g_mutex_lock (&self->lock);
  attempt = _dp_restart_policy_next_attempt_locked (&self->policy);
  self->state = DP_REMOTE_CONNECTION_STARTING;
  self->id = id;
  if (self->conn != conn)
    {
      g_clear_pointer (&self->conn, _dp_connection_unref);
      self->conn = _dp_connection_ref (conn);
      g_array_set_size (self->ids, 0);
    }
  g_array_append_val (self->ids, id);
  g_mutex_unlock (&self->lock);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "DP_PLACE", self->symbol,
                    "DP_EVENT", "place-restarting",
                    "MESSAGE", "restarting place %s (attempt %u)", self->symbol, attempt);
  push_event (self, EVENT_RESTARTING, 0, NULL, attempt, NULL);
  _dp_place_channel_rebind (self->end, conn, id, DP_FRAME_NEW_PLACE, self->request);
  _dp_connection_unref (conn);
  schedule_dispatch (self);
  return TRUE;
}

/**
 * dp_remote_connection_set_restart:
 * @self: a #DpRemoteConnection
 * @restart: %TRUE to relaunch the place at once whenever it exits
 *
 * The seed's `#:restart-on-exit #t` (also %DP_LAUNCH_RESTART_ON_EXIT).
 * A place that could not be started, or whose node is lost, is not
 * restarted; nor is one whose connection was closed with
 * dp_remote_connection_close().
 *
 * A connection has one restart policy: this, a restarter
 * (dp_remote_connection_set_restarter()) or a callback
 * (dp_remote_connection_set_restart_func()); setting one replaces the
 * other two, as for #DpRemoteNode. After each death that is restarted:
 * #DpRemoteConnection::died, then ::restarting and ::restarted with the
 * restart's number (1, 2…).
 *
 * Since: 1.0
 */
void
dp_remote_connection_set_restart (DpRemoteConnection *self,
                                  gboolean            restart)
{
  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  _dp_restart_policy_set (&self->policy, restart, NULL, NULL, NULL, NULL);
}

/**
 * dp_remote_connection_set_restarter:
 * @self: a #DpRemoteConnection
 * @restarter: (nullable): a policy such as dp_restart_every()'s
 *
 * Restart the place whenever it exits, as @restarter allows; when it
 * gives up, the connection exits (its detail ends "; the restart policy
 * gave up"). Replaces any other restart policy (see
 * dp_remote_connection_set_restart()).
 *
 * Since: 1.0
 */
void
dp_remote_connection_set_restarter (DpRemoteConnection *self,
                                    DpRestarter        *restarter)
{
  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  _dp_restart_policy_set (&self->policy, FALSE, restarter, NULL, NULL, NULL);
}

/**
 * dp_remote_connection_set_restart_func:
 * @self: a #DpRemoteConnection
 * @func: (nullable): called after each death with the number the next
 *   restart would have; it calls dp_remote_connection_restart() if and
 *   when it wants to
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * The seed's restart procedure. Replaces any other restart policy (see
 * dp_remote_connection_set_restart()).
 *
 * Since: 1.0
 */
void
dp_remote_connection_set_restart_func (DpRemoteConnection *self,
                                       DpRestartFunc       func,
                                       gpointer            user_data,
                                       GDestroyNotify      notify)
{
  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  _dp_restart_policy_set (&self->policy, FALSE, NULL, func, user_data, notify);
}

/* ---- public API ---- */

/**
 * dp_remote_connection_put:
 * @self: a #DpRemoteConnection
 * @message: the message; a floating reference is sunk
 *
 * Sends @message to the place. Messages put before the place has started
 * are delivered once it has; if it cannot be started they are dropped.
 *
 * When the connection's output queue is full (#DpNode:max-output-queue)
 * this waits until the node has read enough — in any thread, including a
 * main-loop callback: the router has its own thread, so it goes on, but
 * the caller reads nothing meanwhile. Code that also reads the place's
 * replies in the same thread (a #DpRemoteConnection::message handler, a
 * loop of gets) must not wait here while the place waits for it to read:
 * use dp_remote_connection_put_async() or dp_remote_connection_is_writable().
 *
 * Returns: %FALSE when the place has exited or the connection is closed,
 *   or when @message is over the largest frame the node accepts
 *   (#DpNode:max-frame-size there; a warning names it)
 *
 * Since: 1.0
 */
gboolean
dp_remote_connection_put (DpRemoteConnection *self,
                          GVariant           *message)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), FALSE);
  return dp_place_channel_put (self->end, message);
}

/**
 * dp_remote_connection_put_many:
 * @self: a #DpRemoteConnection
 * @messages: (array length=n_messages): the messages; floating references
 *   are sunk
 * @n_messages: how many
 *
 * Sends @messages to the place, in order: dp_place_channel_put_many() on
 * the master's end (one lock and one write per batch of up to 64 instead
 * of one each; the same flow control as dp_remote_connection_put()).
 *
 * ```c
 * GVariant *batch[64];
 *
 * for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
 *   batch[i] = g_variant_new_string ("tick");
 * dp_remote_connection_put_many (pl, batch, G_N_ELEMENTS (batch));
 * ```
 *
 * Returns: %FALSE when the place has gone (the rest are dropped) or a
 *   message was over the peer's maximum frame size
 *
 * Since: 1.0
 */
gboolean
dp_remote_connection_put_many (DpRemoteConnection *self,
                               GVariant * const   *messages,
                               guint               n_messages)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), FALSE);
  return dp_place_channel_put_many (self->end, messages, n_messages);
}

/* ---- put without waiting (main loops) ---- */

static void flush_pending_puts (DpRemoteConnection *self);

/* the connection has room again (called with its output lock held: only
 * schedules) */
static void
writable_cb (gpointer data)
{
  DpRemoteConnection *self = data;   /* a ref, handed to the idle */

  _dp_main_context_invoke (self->owner_context, "[libdp] remote connection writable",
                           (DpInvokeFunc) flush_pending_puts, self, g_object_unref);
}

/* Puts what put_async() queued, in order, as long as the connection has
 * room; else leaves a watch that calls this again. Any thread that holds
 * no libdp lock. */
static void
flush_pending_puts (DpRemoteConnection *self)
{
  for (;;)
    {
      GTask *task;
      gboolean ok;

      g_mutex_lock (&self->lock);
      self->watching = FALSE;
      task = g_queue_peek_head (&self->pending_puts);
      if (task == NULL)
        {
          g_mutex_unlock (&self->lock);
          return;
        }
      if (!g_cancellable_is_cancelled (g_task_get_cancellable (task)) &&
          !_dp_place_channel_is_writable (self->end))
        {
          self->watching = TRUE;
          g_mutex_unlock (&self->lock);
          if (_dp_place_channel_add_writable_watch (self->end, writable_cb, g_object_ref (self)))
            return;
          g_object_unref (self);   /* room already: go on */
          continue;
        }
      /* its turn: queue it (still under the lock, so that the order of the
       * puts is kept), then complete it without the lock — the callback may
       * run at once and put again */
      g_queue_pop_head (&self->pending_puts);
      ok = !g_cancellable_is_cancelled (g_task_get_cancellable (task)) &&
           _dp_place_channel_put_nowait (self->end, g_task_get_task_data (task));
      g_mutex_unlock (&self->lock);
      if (g_task_return_error_if_cancelled (task))
        ;
      else if (ok)
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_new_error (task, DP_ERROR, DP_ERROR_CLOSED,
                                 "place %s has exited or its connection is closed",
                                 self->symbol ? self->symbol : "");
      g_object_unref (task);
    }
}

/**
 * dp_remote_connection_put_async:
 * @self: a #DpRemoteConnection
 * @message: the message; a floating reference is sunk
 * @cancellable: (nullable): a #GCancellable, checked when the message's
 *   turn comes (a cancelled put is not sent)
 * @callback: called once the message is queued on the connection
 * @user_data: data for @callback
 *
 * Puts @message without ever waiting, for code that runs in a main loop:
 * when the connection's output queue is full (#DpNode:max-output-queue,
 * because the node is not reading as fast as we write), the message waits
 * here until there is room, and @callback runs then, in the thread-default
 * main context of the caller. Puts made with this function are sent in the
 * order they were made. A program that waits for each callback before the
 * next put (as dp-launch does with its standard input) holds at most one
 * message in hand.
 *
 * Since: 1.0
 */
void
dp_remote_connection_put_async (DpRemoteConnection  *self,
                                GVariant            *message,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;
  gboolean first;

  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  g_return_if_fail (message != NULL);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_remote_connection_put_async);
  g_task_set_task_data (task, g_variant_ref_sink (message), (GDestroyNotify) g_variant_unref);
  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->pending_puts, task);
  first = self->pending_puts.length == 1 && !self->watching;
  g_mutex_unlock (&self->lock);
  if (first)
    flush_pending_puts (self);
}

/**
 * dp_remote_connection_put_finish:
 * @self: a #DpRemoteConnection
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes dp_remote_connection_put_async().
 *
 * Returns: %TRUE when the message was queued on the connection; %FALSE
 *   with %DP_ERROR_CLOSED when the place has exited or the connection
 *   closed, or %G_IO_ERROR_CANCELLED
 *
 * Since: 1.0
 */
gboolean
dp_remote_connection_put_finish (DpRemoteConnection  *self,
                                 GAsyncResult        *result,
                                 GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * dp_remote_connection_is_writable:
 * @self: a #DpRemoteConnection
 *
 * Whether a put would be queued at once: %FALSE while the connection's
 * output queue is full or dp_remote_connection_put_async() has puts
 * waiting. A snapshot: another thread may fill the queue meanwhile.
 *
 * Returns: %TRUE when dp_remote_connection_put() would not wait
 *
 * Since: 1.0
 */
gboolean
dp_remote_connection_is_writable (DpRemoteConnection *self)
{
  gboolean pending;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), FALSE);
  g_mutex_lock (&self->lock);
  pending = self->pending_puts.length > 0;
  g_mutex_unlock (&self->lock);
  return !pending && _dp_place_channel_is_writable (self->end);
}

/**
 * dp_remote_connection_get:
 * @self: a #DpRemoteConnection
 *
 * Blocks until the place sends a message. Works from any thread, and from
 * inside a main-loop callback: the router runs on a thread of its own.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL once the place
 *   has exited and all it sent has been got
 *
 * Since: 1.0
 */
GVariant *
dp_remote_connection_get (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  return dp_place_channel_get (self->end);
}

/**
 * dp_remote_connection_get_many:
 * @self: a #DpRemoteConnection
 * @messages: (out caller-allocates) (array length=max_messages): where the
 *   messages go (transfer full, each)
 * @max_messages: at most this many are taken
 *
 * Blocks until the place sends a message, then takes it and whatever else
 * has arrived, up to @max_messages (dp_place_channel_get_many()).
 *
 * ```c
 * GVariant *got[64];
 * guint n = dp_remote_connection_get_many (pl, got, G_N_ELEMENTS (got));
 *
 * for (guint i = 0; i < n; i++)
 *   g_variant_unref (got[i]);
 * ```
 *
 * Returns: how many were stored: at least one, or 0 once the place has
 *   gone and everything it sent has been read
 *
 * Since: 1.0
 */
guint
dp_remote_connection_get_many (DpRemoteConnection *self,
                               GVariant          **messages,
                               guint               max_messages)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), 0);
  return dp_place_channel_get_many (self->end, messages, max_messages);
}

/**
 * dp_remote_connection_get_timeout:
 * @self: a #DpRemoteConnection
 * @timeout_us: how long to wait, in microseconds
 * @error: return location for a #GError
 *
 * Gets the next message from the place, waiting at most @timeout_us.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL with
 *   %DP_ERROR_TIMED_OUT or %DP_ERROR_CLOSED
 *
 * Since: 1.0
 */
GVariant *
dp_remote_connection_get_timeout (DpRemoteConnection  *self,
                                  gint64               timeout_us,
                                  GError             **error)
{
  gboolean closed = FALSE;
  GVariant *msg;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  msg = dp_place_channel_get_timeout (self->end, timeout_us, &closed);
  if (msg == NULL)
    {
      if (closed)
        {
          g_autofree char *detail = dp_remote_connection_dup_exit_detail (self);
          g_set_error (error, DP_ERROR, DP_ERROR_CLOSED, "place %s has exited: %s",
                       self->symbol ? self->symbol : "", detail ? detail : "");
        }
      else
        g_set_error (error, DP_ERROR, DP_ERROR_TIMED_OUT,
                     "no message from place %s within %" G_GINT64_FORMAT " ms",
                     self->symbol ? self->symbol : "", timeout_us / 1000);
    }
  return msg;
}

/**
 * dp_remote_connection_try_get:
 * @self: a #DpRemoteConnection
 *
 * Takes the next message the place sent without waiting.
 *
 * Returns: (transfer full) (nullable): a message that has arrived, or %NULL
 *
 * Since: 1.0
 */
GVariant *
dp_remote_connection_try_get (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  return dp_place_channel_try_get (self->end);
}

/**
 * dp_remote_connection_get_async:
 * @self: a #DpRemoteConnection
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when a message is there
 * @user_data: data for @callback
 *
 * The non-blocking form of dp_remote_connection_get(), for main-loop code:
 * @callback runs (in the thread-default main context of the caller, which
 * must be the one the connection was made in: where its signals are
 * emitted) once a message has arrived,
 * or once the place has exited and everything it sent has been got. Gets
 * are served in the order they were asked for; a message is given to a
 * pending get before the #DpRemoteConnection::message signal.
 *
 * ```c
 * static void
 * got (GObject *source, GAsyncResult *res, gpointer data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(GVariant) msg =
 *     dp_remote_connection_get_finish (DP_REMOTE_CONNECTION (source), res, &error);
 *
 *   if (msg != NULL)
 *     g_print ("got %s\n", g_variant_print (msg, TRUE));
 *   else if (error == NULL)
 *     g_print ("the place has exited\n");
 * }
 *
 * dp_remote_connection_get_async (rc, cancellable, got, NULL);
 * ```
 *
 * Since: 1.0
 */
void
dp_remote_connection_get_async (DpRemoteConnection  *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GMainContext) here = g_main_context_ref_thread_default ();

  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  /* adds, cancels and serves all run in the one context: no races */
  g_return_if_fail (here == self->owner_context);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_remote_connection_get_async);
  /* a get that was given a message returns it, even if cancelled meanwhile:
   * nothing is lost (cancelled gets are dropped before messages are handed
   * out, see serve_gets()) */
  g_task_set_check_cancellable (task, FALSE);
  if (g_task_return_error_if_cancelled (task))
    return;
  _dp_pending_task_add (&self->get_tasks, task);
  _dp_object_invoke (self->owner_context, self, serve_gets_in_owner, NULL, NULL);
}

/**
 * dp_remote_connection_get_finish:
 * @self: a #DpRemoteConnection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError (%G_IO_ERROR_CANCELLED)
 *
 * Finishes dp_remote_connection_get_async().
 *
 * Returns: (transfer full) (nullable): the message; %NULL without an error
 *   once the place has exited and everything it sent has been got
 *
 * Since: 1.0
 */
GVariant *
dp_remote_connection_get_finish (DpRemoteConnection  *self,
                                 GAsyncResult        *result,
                                 GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * dp_remote_connection_wait_async:
 * @self: a #DpRemoteConnection
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the place has exited
 * @user_data: data for @callback
 *
 * The non-blocking form of dp_remote_connection_wait()
 * (`distributed-place-wait`): @callback runs, in the caller's
 * thread-default main context, once the place has exited for good (a
 * place restarted on exit has not).
 *
 * ```c
 * static void
 * ended (GObject *source, GAsyncResult *res, gpointer data)
 * {
 *   DpPlaceExit exit = dp_remote_connection_wait_finish (DP_REMOTE_CONNECTION (source),
 *                                                         res, NULL);
 *   g_print ("ended: %s\n", dp_place_exit_to_string (exit));
 * }
 *
 * dp_remote_connection_wait_async (rc, NULL, ended, NULL);
 * ```
 *
 * Since: 1.0
 */
void
dp_remote_connection_wait_async (DpRemoteConnection  *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_remote_connection_wait_async);
  if (g_task_return_error_if_cancelled (task))
    return;
  _dp_pending_task_add (&self->wait_tasks, task);
  /* already over: the death was dispatched before the add */
  if (dp_remote_connection_get_state (self) == DP_REMOTE_CONNECTION_EXITED)
    _dp_object_invoke (self->owner_context, self, complete_waits_in_owner, NULL, NULL);
}

/**
 * dp_remote_connection_wait_finish:
 * @self: a #DpRemoteConnection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError (%G_IO_ERROR_CANCELLED)
 *
 * Finishes dp_remote_connection_wait_async().
 *
 * Returns: how the place ended; %DP_PLACE_EXIT_RUNNING with @error set
 *   when the wait was cancelled
 *
 * Since: 1.0
 */
DpPlaceExit
dp_remote_connection_wait_finish (DpRemoteConnection  *self,
                                  GAsyncResult        *result,
                                  GError             **error)
{
  gssize exit;

  g_return_val_if_fail (g_task_is_valid (result, self), DP_PLACE_EXIT_RUNNING);
  exit = g_task_propagate_int (G_TASK (result), error);
  return exit < 0 ? DP_PLACE_EXIT_RUNNING : (DpPlaceExit) exit;
}

/**
 * dp_remote_connection_close:
 * @self: a #DpRemoteConnection
 *
 * Tells the place that nothing more will be sent: its
 * dp_place_channel_get() returns %NULL once it has read what was. Messages
 * the place sends afterwards still arrive.
 *
 * Since: 1.0
 */
void
dp_remote_connection_close (DpRemoteConnection *self)
{
  DpConnection *conn;
  guint32 id;

  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  g_mutex_lock (&self->lock);
  self->closed_by_user = TRUE;
  conn = self->conn ? _dp_connection_ref (self->conn) : NULL;
  id = self->id;
  g_mutex_unlock (&self->lock);
  if (conn)
    {
      _dp_connection_send (conn, DP_FRAME_CLOSE, id, 0, NULL);
      _dp_connection_unref (conn);
    }
  _dp_place_channel_unbind (self->end);
}

/**
 * dp_remote_connection_to_variant_async:
 * @self: a #DpRemoteConnection to a running place
 * @cancellable: (nullable): a #GCancellable (once the request is sent, the
 *   node's answer stands: cancelling does not undo it)
 * @callback: called in the thread-default main context of the caller
 * @user_data: for @callback
 *
 * The asynchronous form of dp_remote_connection_to_variant(), for
 * main-loop code; finish with dp_remote_connection_to_variant_finish().
 *
 * Since: 1.0
 */
void
dp_remote_connection_to_variant_async (DpRemoteConnection  *self,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(DpConnection) conn = NULL;
  guint8 token[16];
  guint32 id;

  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_remote_connection_to_variant_async);
  /* once asked, the answer is the node's: a cancellation does not undo it */
  g_task_set_check_cancellable (task, FALSE);

  g_mutex_lock (&self->lock);
  if (self->state != DP_REMOTE_CONNECTION_READY || self->conn == NULL ||
      self->closed_by_user || self->export_task != NULL)
    {
      g_mutex_unlock (&self->lock);
      g_task_return_new_error (task, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                               "only a connection to a running place, not closed or sent "
                               "already, can be sent away");
      return;
    }
  conn = _dp_connection_ref (self->conn);
  id = self->id;
  self->export_task = g_object_ref (task);
  g_mutex_unlock (&self->lock);

  /* the payload only marks the request: the node makes the reference's token */
  _dp_random_bytes (token, sizeof token);
  if (!_dp_connection_send (conn, DP_FRAME_EXPORT, id, 0,
                            g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, token, sizeof token, 1)))
    {
      g_mutex_lock (&self->lock);
      g_clear_object (&self->export_task);
      g_mutex_unlock (&self->lock);
      g_task_return_new_error (task, DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                               "the connection to the place's node is closed");
    }
}

/**
 * dp_remote_connection_to_variant_finish:
 * @self: a #DpRemoteConnection
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes dp_remote_connection_to_variant_async().
 *
 * Returns: (transfer full) (nullable): the reference, or %NULL with @error
 *   set, as dp_remote_connection_to_variant()
 *
 * Since: 1.0
 */
GVariant *
dp_remote_connection_to_variant_finish (DpRemoteConnection  *self,
                                        GAsyncResult        *result,
                                        GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
to_variant_start (gpointer            data,
                  GAsyncReadyCallback cb,
                  gpointer            user_data)
{
  dp_remote_connection_to_variant_async (data, NULL, cb, user_data);
}

/**
 * dp_remote_connection_to_variant:
 * @self: a #DpRemoteConnection to a running place (not a named place's
 *   client)
 * @error: return location for a #GError
 *
 * Sends this connection away, as dp_place_channel_to_variant() does a
 * place's channel end: returns a channel reference (type `(ssqay)`, made by
 * the place's node) to put inside a message. The place that redeems it
 * (dp_place_channel_from_variant()) talks to this connection's place
 * directly, node to node; this master is then off the path. From here on
 * the connection is done: its puts return %FALSE, a get returns what had
 * arrived, then %NULL, and it ends (#DpRemoteConnection::died, exit
 * %DP_PLACE_EXIT_LOST, never restarted). What the place puts from the
 * moment its node got the request waits for the new holder and reaches
 * it first. The reference is good once.
 *
 * Blocks for one round trip to the node, without iterating any main
 * context of the caller's (main-loop code may prefer
 * dp_remote_connection_to_variant_async()); never call it on the router
 * thread.
 *
 * ```c
 * g_autoptr(GVariant) ref = dp_remote_connection_to_variant (worker, &error);
 * dp_remote_connection_put (coordinator, g_variant_new ("(sv)", "your-worker", ref));
 * ```
 *
 * Returns: (transfer full) (nullable): the reference (floating), or %NULL
 *   with @error set: %DP_ERROR_INVALID_ARGUMENT (the place is not running,
 *   or this connection is no place's own), %DP_ERROR_BAD_REFERENCE (the
 *   node cannot hand it over: an isolated place, a named place's client),
 *   %DP_ERROR_CONNECTION_CLOSED (the node went meanwhile)
 *
 * Since: 1.0
 */
GVariant *
dp_remote_connection_to_variant (DpRemoteConnection  *self,
                                 GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) ref = NULL;
  const char *magic, *host;
  guint16 port;
  g_autoptr(GVariant) tv = NULL;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  result = _dp_run_sync (to_variant_start, self);
  ref = dp_remote_connection_to_variant_finish (self, result, error);
  if (ref == NULL)
    return NULL;
  /* floating, as dp_place_channel_to_variant()'s */
  g_variant_get (ref, "(&s&sq@ay)", &magic, &host, &port, &tv);
  return g_variant_new ("(ssq@ay)", magic, host, port, tv);
}

/**
 * dp_remote_connection_wait_ready:
 * @self: a #DpRemoteConnection
 * @cancellable: (nullable): a #GCancellable (checked before waiting)
 * @error: return location for a #GError
 *
 * Blocks until the node has started the place, or failed to.
 *
 * Returns: %TRUE when the place runs
 *
 * Since: 1.0
 */
gboolean
dp_remote_connection_wait_ready (DpRemoteConnection  *self,
                                 GCancellable        *cancellable,
                                 GError             **error)
{
  gboolean ok;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), FALSE);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  g_mutex_lock (&self->lock);
  while (self->state == DP_REMOTE_CONNECTION_STARTING)
    g_cond_wait (&self->cond, &self->lock);
  ok = self->state == DP_REMOTE_CONNECTION_READY ||
       (self->state == DP_REMOTE_CONNECTION_EXITED && self->error == NULL);
  if (!ok)
    g_propagate_error (error, g_error_copy (self->error));
  g_mutex_unlock (&self->lock);
  return ok;
}

/**
 * dp_remote_connection_wait_ready_async:
 * @self: a #DpRemoteConnection
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the place runs or failed to start
 * @user_data: data for @callback
 *
 * Waits, without blocking, until the place runs or failed to start;
 * @callback runs in the caller's thread-default main context. Finish with
 * dp_remote_connection_wait_ready_finish().
 *
 * Since: 1.0
 */
void
dp_remote_connection_wait_ready_async (DpRemoteConnection  *self,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_remote_connection_wait_ready_async);
  g_mutex_lock (&self->lock);
  if (self->state == DP_REMOTE_CONNECTION_STARTING)
    {
      self->ready_tasks = g_list_prepend (self->ready_tasks, task);
      g_mutex_unlock (&self->lock);
      return;
    }
  g_mutex_unlock (&self->lock);
  complete_ready_tasks (self, g_list_prepend (NULL, task));
}

/**
 * dp_remote_connection_wait_ready_finish:
 * @self: a #DpRemoteConnection
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes dp_remote_connection_wait_ready_async().
 *
 * Returns: %TRUE when the place runs
 *
 * Since: 1.0
 */
gboolean
dp_remote_connection_wait_ready_finish (DpRemoteConnection  *self,
                                        GAsyncResult        *result,
                                        GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * dp_remote_connection_wait:
 * @self: a #DpRemoteConnection
 *
 * Blocks until the place has exited: `distributed-place-wait`. Messages it
 * sent stay available to dp_remote_connection_get().
 *
 * Returns: how the place ended
 *
 * Since: 1.0
 */
DpPlaceExit
dp_remote_connection_wait (DpRemoteConnection *self)
{
  DpPlaceExit exit;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), DP_PLACE_EXIT_FAILED);
  g_mutex_lock (&self->lock);
  while (self->state != DP_REMOTE_CONNECTION_EXITED)
    g_cond_wait (&self->cond, &self->lock);
  exit = self->exit;
  g_mutex_unlock (&self->lock);
  return exit;
}

/**
 * dp_remote_connection_get_state:
 * @self: a #DpRemoteConnection
 *
 * Where the place is in its life (the #DpRemoteConnection:state property,
 * notified in the owner's main context).
 *
 * Returns: the state
 *
 * Since: 1.0
 */
DpRemoteConnectionState
dp_remote_connection_get_state (DpRemoteConnection *self)
{
  DpRemoteConnectionState state;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), DP_REMOTE_CONNECTION_EXITED);
  g_mutex_lock (&self->lock);
  state = self->state;
  g_mutex_unlock (&self->lock);
  return state;
}

/**
 * dp_remote_connection_get_exit:
 * @self: a #DpRemoteConnection
 *
 * How the place ended.
 *
 * Returns: the #DpPlaceExit, %DP_PLACE_EXIT_RUNNING until it has
 *
 * Since: 1.0
 */
DpPlaceExit
dp_remote_connection_get_exit (DpRemoteConnection *self)
{
  DpPlaceExit exit;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), DP_PLACE_EXIT_FAILED);
  g_mutex_lock (&self->lock);
  exit = self->exit;
  g_mutex_unlock (&self->lock);
  return exit;
}

/**
 * dp_remote_connection_dup_exit_detail:
 * @self: a #DpRemoteConnection
 *
 * How the place's last incarnation ended, in words. Safe from any thread,
 * also while the place is being restarted.
 *
 * Returns: (transfer full) (nullable): the detail, %NULL while the place
 *   has not ended yet
 *
 * Since: 1.0
 */
char *
dp_remote_connection_dup_exit_detail (DpRemoteConnection *self)
{
  char *detail;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  g_mutex_lock (&self->lock);
  detail = g_strdup (self->detail);
  g_mutex_unlock (&self->lock);
  return detail;
}

/**
 * dp_remote_connection_get_exit_detail:
 * @self: a #DpRemoteConnection
 *
 * How the place ended, in words. The string belongs to @self and is freed
 * when the place dies again (after a restart): use it only in the owner
 * context while no restart can happen — or, better, use
 * dp_remote_connection_dup_exit_detail(), which is safe anywhere.
 *
 * Deprecated: use dp_remote_connection_dup_exit_detail()
 *
 * Returns: (transfer none) (nullable): how the place ended, in words
 *
 * Since: 1.0
 */
const char *
dp_remote_connection_get_exit_detail (DpRemoteConnection *self)
{
  const char *detail;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  g_mutex_lock (&self->lock);
  detail = self->detail;
  g_mutex_unlock (&self->lock);
  return detail;
}

/**
 * dp_remote_connection_dup_error:
 * @self: a #DpRemoteConnection
 *
 * Why the place's last incarnation could not be started or was lost. Safe
 * from any thread, also while the place is being restarted.
 *
 * Returns: (transfer full) (nullable): a copy of the error, %NULL when
 *   there is none
 *
 * Since: 1.0
 */
GError *
dp_remote_connection_dup_error (DpRemoteConnection *self)
{
  GError *error;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  g_mutex_lock (&self->lock);
  error = self->error ? g_error_copy (self->error) : NULL;
  g_mutex_unlock (&self->lock);
  return error;
}

/**
 * dp_remote_connection_get_error:
 * @self: a #DpRemoteConnection
 *
 * The error belongs to @self and is replaced when the place dies again
 * (after a restart), like dp_remote_connection_get_exit_detail()'s string:
 * use it only in the owner context while no restart can happen — or use
 * dp_remote_connection_dup_error(), which is safe anywhere.
 *
 * Deprecated: use dp_remote_connection_dup_error()
 *
 * Returns: (nullable): why the place could not be started or was lost
 *
 * Since: 1.0
 */
const GError *
dp_remote_connection_get_error (DpRemoteConnection *self)
{
  const GError *error;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  g_mutex_lock (&self->lock);
  error = self->error;
  g_mutex_unlock (&self->lock);
  return error;
}

/**
 * dp_remote_connection_get_symbol:
 * @self: a #DpRemoteConnection
 *
 * The place's symbol (the place function or thunk in its plugin), or the
 * name of a named place.
 *
 * Returns: the symbol
 *
 * Since: 1.0
 */
const char *
dp_remote_connection_get_symbol (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  return self->symbol;
}

/**
 * dp_remote_connection_get_id:
 * @self: a #DpRemoteConnection
 *
 * The channel id of the connection on its node connection (unique among
 * the node's open channels; for logs).
 *
 * Returns: the id
 *
 * Since: 1.0
 */
guint32
dp_remote_connection_get_id (DpRemoteConnection *self)
{
  guint32 id;

  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), 0);
  g_mutex_lock (&self->lock);
  id = self->id;
  g_mutex_unlock (&self->lock);
  return id;
}

/* ---- DpChannel ---- */

static gboolean
iface_put (DpChannel *ch, GVariant *message)
{
  return dp_remote_connection_put (DP_REMOTE_CONNECTION (ch), message);
}

static GVariant *
iface_get (DpChannel *ch)
{
  return dp_remote_connection_get (DP_REMOTE_CONNECTION (ch));
}

static GVariant *
iface_try_get (DpChannel *ch)
{
  return dp_remote_connection_try_get (DP_REMOTE_CONNECTION (ch));
}

static void
dp_remote_connection_channel_iface_init (DpChannelInterface *iface)
{
  iface->put = iface_put;
  iface->get = iface_get;
  iface->try_get = iface_try_get;
}
