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
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

struct _DpRemoteConnection
{
  GObject                  parent_instance;

  GMainContext            *owner_context;
  GWeakRef                 node;
  DpConnection            *conn;
  guint32                  id;
  DpPlaceChannel          *end;
  GVariant                *request;
  char                    *symbol;

  GMutex                   lock;
  GCond                    cond;
  DpRemoteConnectionState  state;
  DpPlaceExit              exit;
  char                    *detail;
  GError                  *error;
  GList                   *ready_tasks;
  gint                     dispatch_pending;
  gboolean                 ready_emitted;
  gboolean                 died_emitted;
};

enum {
  SIGNAL_READY,
  SIGNAL_MESSAGE,
  SIGNAL_DIED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void dp_remote_connection_channel_iface_init (DpChannelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DpRemoteConnection, dp_remote_connection, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (DP_TYPE_CHANNEL,
                                                      dp_remote_connection_channel_iface_init))

static void
dispatch_in_owner (gpointer object,
                   gpointer data)
{
  DpRemoteConnection *self = object;
  gboolean emit_ready = FALSE, emit_died = FALSE;

  g_atomic_int_set (&self->dispatch_pending, 0);

  g_mutex_lock (&self->lock);
  if (self->state != DP_REMOTE_CONNECTION_STARTING && !self->ready_emitted &&
      self->error == NULL)
    emit_ready = self->ready_emitted = TRUE;
  g_mutex_unlock (&self->lock);
  if (emit_ready)
    g_signal_emit (self, signals[SIGNAL_READY], 0);

  if (g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE], 0, FALSE))
    {
      GVariant *msg;
      while ((msg = dp_place_channel_try_get (self->end)) != NULL)
        {
          g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, msg);
          g_variant_unref (msg);
        }
    }

  g_mutex_lock (&self->lock);
  if (self->state == DP_REMOTE_CONNECTION_EXITED && !self->died_emitted)
    emit_died = self->died_emitted = TRUE;
  g_mutex_unlock (&self->lock);
  if (emit_died)
    g_signal_emit (self, signals[SIGNAL_DIED], 0, (int) self->exit, self->detail);
}

static void
schedule_dispatch (gpointer data)
{
  DpRemoteConnection *self = data;

  if (g_atomic_int_compare_and_exchange (&self->dispatch_pending, 0, 1))
    _dp_object_invoke (self->owner_context, self, dispatch_in_owner, NULL, NULL);
}

static void
dp_remote_connection_finalize (GObject *object)
{
  DpRemoteConnection *self = DP_REMOTE_CONNECTION (object);

  if (self->end)
    _dp_place_channel_set_notify (self->end, NULL, NULL);
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
dp_remote_connection_class_init (DpRemoteConnectionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_remote_connection_finalize;

  /**
   * DpRemoteConnection::ready:
   *
   * The place runs (or the named place was found). Emitted in the main
   * context the connection was made in.
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
   */
  signals[SIGNAL_DIED] =
    g_signal_new ("died", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static void
dp_remote_connection_init (DpRemoteConnection *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_weak_ref_init (&self->node, NULL);
  self->owner_context = g_main_context_ref_thread_default ();
}

DpRemoteConnection *
_dp_remote_connection_new (DpRemoteNode *node,
                           DpConnection *conn,
                           guint32       id,
                           GVariant     *request,
                           const char   *symbol)
{
  DpRemoteConnection *self = g_object_new (DP_TYPE_REMOTE_CONNECTION, NULL);
  DpChannelEntry *entry;

  g_weak_ref_set (&self->node, node);
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
                                               (char *) "the node is not connected" });
      return self;
    }

  self->conn = _dp_connection_ref (conn);
  self->end = _dp_place_channel_new_bound (conn, id);
  _dp_place_channel_set_notify (self->end, schedule_dispatch, self);

  entry = _dp_channel_entry_new (DP_ENTRY_REMOTE, id);
  entry->target = g_object_ref (self->end);
  g_weak_ref_set (&entry->remote, self);
  _dp_connection_add_entry (conn, id, entry);

  if (!_dp_connection_send (conn, DP_FRAME_NEW_PLACE, id, 0, self->request))
    {
      g_autoptr(DpChannelEntry) gone = _dp_connection_steal_entry (conn, id);
      _dp_remote_connection_ended (self, DP_PLACE_EXIT_LOST, "the connection to the node is closed",
                                   &(GError) { DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                                               (char *) "the connection to the node is closed" });
    }
  return self;
}

static void
complete_ready_tasks (DpRemoteConnection *self,
                      GList              *tasks)
{
  for (GList *l = tasks; l; l = l->next)
    {
      GTask *task = l->data;
      if (self->state == DP_REMOTE_CONNECTION_READY)
        g_task_return_boolean (task, TRUE);
      else if (self->error)
        g_task_return_error (task, g_error_copy (self->error));
      else
        g_task_return_new_error (task, DP_ERROR, DP_ERROR_PLACE_FAILED,
                                 "place %s ended before it was ready: %s",
                                 self->symbol ? self->symbol : "", self->detail);
      g_object_unref (task);
    }
  g_list_free (tasks);
}

void
_dp_remote_connection_started (DpRemoteConnection *self)
{
  GList *tasks;

  g_mutex_lock (&self->lock);
  if (self->state == DP_REMOTE_CONNECTION_STARTING)
    self->state = DP_REMOTE_CONNECTION_READY;
  tasks = g_steal_pointer (&self->ready_tasks);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  complete_ready_tasks (self, tasks);
  schedule_dispatch (self);
}

void
_dp_remote_connection_ended (DpRemoteConnection *self,
                             DpPlaceExit         exit,
                             const char         *detail,
                             const GError       *error)
{
  GList *tasks;

  g_mutex_lock (&self->lock);
  if (self->state == DP_REMOTE_CONNECTION_EXITED)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  self->state = DP_REMOTE_CONNECTION_EXITED;
  self->exit = exit;
  self->detail = g_strdup (detail ? detail : dp_place_exit_to_string (exit));
  if (error)
    self->error = g_error_copy (error);
  tasks = g_steal_pointer (&self->ready_tasks);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  _dp_place_channel_unbind (self->end);
  _dp_place_channel_close_inbox (self->end);
  complete_ready_tasks (self, tasks);
  schedule_dispatch (self);
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
 * Returns: %FALSE when the place has exited or the connection is closed
 */
gboolean
dp_remote_connection_put (DpRemoteConnection *self,
                          GVariant           *message)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), FALSE);
  return dp_place_channel_put (self->end, message);
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
 */
GVariant *
dp_remote_connection_get (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  return dp_place_channel_get (self->end);
}

/**
 * dp_remote_connection_get_timeout:
 * @self: a #DpRemoteConnection
 * @timeout_us: how long to wait, in microseconds
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the message, or %NULL with
 *   %DP_ERROR_TIMED_OUT or %DP_ERROR_CLOSED
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
        g_set_error (error, DP_ERROR, DP_ERROR_CLOSED, "place %s has exited: %s",
                     self->symbol ? self->symbol : "", self->detail ? self->detail : "");
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
 * Returns: (transfer full) (nullable): a message that has arrived, or %NULL
 */
GVariant *
dp_remote_connection_try_get (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  return dp_place_channel_try_get (self->end);
}

/**
 * dp_remote_connection_close:
 * @self: a #DpRemoteConnection
 *
 * Tells the place that nothing more will be sent: its
 * dp_place_channel_get() returns %NULL once it has read what was. Messages
 * the place sends afterwards still arrive.
 */
void
dp_remote_connection_close (DpRemoteConnection *self)
{
  g_return_if_fail (DP_IS_REMOTE_CONNECTION (self));
  if (self->conn)
    _dp_connection_send (self->conn, DP_FRAME_CLOSE, self->id, 0, NULL);
  _dp_place_channel_unbind (self->end);
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
 * Returns: %TRUE when the place runs
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

DpPlaceExit
dp_remote_connection_get_exit (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), DP_PLACE_EXIT_FAILED);
  return self->exit;
}

/**
 * dp_remote_connection_get_exit_detail:
 * @self: a #DpRemoteConnection
 *
 * Returns: (nullable): how the place ended, in words
 */
const char *
dp_remote_connection_get_exit_detail (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  return self->detail;
}

/**
 * dp_remote_connection_get_error:
 * @self: a #DpRemoteConnection
 *
 * Returns: (nullable): why the place could not be started or was lost
 */
const GError *
dp_remote_connection_get_error (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  return self->error;
}

const char *
dp_remote_connection_get_symbol (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), NULL);
  return self->symbol;
}

guint32
dp_remote_connection_get_id (DpRemoteConnection *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_CONNECTION (self), 0);
  return self->id;
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
