/* dp-remote-node.c: the master's handle on a node process
 *
 * Spawning runs in the router thread: the node process is started by a
 * DpNodeProcess backend (local child or ssh), which reports the port from
 * the node's ready line; then the router connects and authenticates. No
 * sleeping and no polling: each step is driven by the previous one's
 * completion.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-node-process-private.h"

#include <string.h>

#define DIE_GRACE_MS 2000

struct _DpRemoteNode
{
  GObject         parent_instance;

  /* immutable after construction */
  DpNode         *router;
  GMainContext   *owner_context;    /* where signals are emitted */
  gint            heartbeat_notify_pending;   /* atomic */
  DpPendingTasks  die_tasks;        /* wait_for_die_async(), completed at a death */
  char           *host;
  guint16         requested_port;
  DpSpawnOptions *options;
  gboolean        spawned;          /* made by spawn: can be spawned again */

  /* router thread only */
  char           *connect_host;
  DpNodeProcess  *process;
  GSource        *grace;
  GSource        *retry;            /* retry of a failed respawn */
  gboolean        conn_closed;
  gboolean        process_ignored;
  char           *conn_reason;
  GPtrArray      *relaunch;         /* places waiting for the new node, in creation order */

  /* set once, in dispose (owner context), before the router is told with
   * a sync invoke, which publishes it; read by the router */
  gboolean        detached;

  /* under @lock; @conn, @port, @address, @pid and @death_reason are
   * written only by the router thread (under @lock), which may read them
   * without it */
  GMutex          lock;
  GCond           cond;             /* with @lock: @died changed */
  DpConnection   *conn;
  guint16         port;
  char           *address;          /* where the master dials it */
  gint64          pid;
  gboolean        alive;
  gboolean        died;
  gboolean        respawn_failed;
  char           *death_reason;
  GPtrArray      *connections;      /* DpRemoteConnection, in creation order */
  gboolean        stopping;         /* terminate / send-exit: do not restart */
  DpRestartPolicy policy;           /* restart-on-exit of the node (its lock is @lock) */
};


/* set (on this thread) while a sync call starts its async form */
static _Thread_local GMainContext *sync_owner;

enum {
  SIGNAL_READY,
  SIGNAL_DIED,
  SIGNAL_RESTARTING,
  SIGNAL_RESTARTED,
  SIGNAL_OUTPUT,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

enum {
  PROP_0,
  PROP_RTT,
  PROP_LAST_SEEN,
  PROP_HOST,
  PROP_PORT,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
dp_remote_node_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  DpRemoteNode *self = DP_REMOTE_NODE (object);

  switch (prop_id)
    {
    case PROP_RTT:       g_value_set_double (value, dp_remote_node_get_rtt (self)); break;
    case PROP_LAST_SEEN: g_value_set_double (value, dp_remote_node_get_last_seen (self)); break;
    case PROP_HOST:      g_value_set_string (value, self->host); break;
    case PROP_PORT:      g_value_set_uint (value, dp_remote_node_get_port (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

G_DEFINE_FINAL_TYPE (DpRemoteNode, dp_remote_node, G_TYPE_OBJECT)

static void lose_places (DpRemoteNode *self, DpConnection *conn, const char *why);

/* Router thread: after this no callback of the connection or the process
 * reaches @self any more. */
static void
detach_in_router (gpointer data)
{
  DpRemoteNode *self = data;

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (self->conn)
    {
      _dp_connection_set_handler (self->conn, NULL, NULL);
      lose_places (self, self->conn, "the DpRemoteNode was released");
      _dp_connection_close (self->conn, NULL);
    }
  if (self->grace)
    {
      g_source_destroy (self->grace);
      g_clear_pointer (&self->grace, g_source_unref);
    }
  if (self->process)
    {
      /* Our node goes when we do: its standard input closes. */
      g_signal_handlers_disconnect_by_data (self->process, self);
      dp_node_process_terminate (self->process, FALSE);
    }
}

static void
dp_remote_node_dispose (GObject *object)
{
  DpRemoteNode *self = DP_REMOTE_NODE (object);

  if (!self->detached)
    {
      self->detached = TRUE;
      _dp_node_invoke_sync (self->router, detach_in_router, self);
      /* the node is exiting (its stdin closed): let what it printed last
       * reach us before we go, so a master that exits right after a reply
       * still shows its places' output */
      if (self->process && !_dp_node_in_router (self->router))
        dp_node_process_wait_output (self->process, 2 * G_USEC_PER_SEC);
    }
  G_OBJECT_CLASS (dp_remote_node_parent_class)->dispose (object);
}

static void
dp_remote_node_finalize (GObject *object)
{
  DpRemoteNode *self = DP_REMOTE_NODE (object);

  g_clear_pointer (&self->conn, _dp_connection_unref);
  g_clear_object (&self->process);
  _dp_pending_tasks_clear (&self->die_tasks);
  _dp_restart_policy_clear (&self->policy);
  g_clear_pointer (&self->relaunch, g_ptr_array_unref);
  if (self->retry)
    {
      g_source_destroy (self->retry);
      g_clear_pointer (&self->retry, g_source_unref);
    }
  g_clear_object (&self->router);
  g_main_context_unref (self->owner_context);
  g_free (self->host);
  g_free (self->connect_host);
  g_free (self->address);
  g_free (self->conn_reason);
  g_free (self->death_reason);
  g_clear_pointer (&self->options, dp_spawn_options_free);
  g_ptr_array_unref (self->connections);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (dp_remote_node_parent_class)->finalize (object);
}

static void
dp_remote_node_class_init (DpRemoteNodeClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = dp_remote_node_dispose;
  G_OBJECT_CLASS (klass)->finalize = dp_remote_node_finalize;
  G_OBJECT_CLASS (klass)->get_property = dp_remote_node_get_property;

  /**
   * DpRemoteNode:rtt:
   *
   * Round-trip time of the last heartbeat, in seconds; -1 before the first.
   * Notified (with #DpRemoteNode:last-seen) in the main context the node
   * was made in, each time a heartbeat comes back.
   *
   * Since: 1.0
   */
  properties[PROP_RTT] =
    g_param_spec_double ("rtt", NULL, NULL, -1, G_MAXDOUBLE, -1,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DpRemoteNode:last-seen:
   *
   * Seconds since anything last arrived from the node; -1 when not
   * connected. It grows between frames without notifications: it is
   * notified when a heartbeat comes back (it is then near 0), in the main
   * context the node was made in.
   *
   * Since: 1.0
   */
  properties[PROP_LAST_SEEN] =
    g_param_spec_double ("last-seen", NULL, NULL, -1, G_MAXDOUBLE, -1,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DpRemoteNode:host:
   *
   * The host the node was spawned on or connected to, as given.
   *
   * Since: 1.0
   */
  properties[PROP_HOST] =
    g_param_spec_string ("host", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DpRemoteNode:port:
   *
   * The port the node listens on (the one it picked, for port 0); 0 until
   * it is known.
   *
   * Since: 1.0
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (G_OBJECT_CLASS (klass), N_PROPS, properties);

  /**
   * DpRemoteNode::ready:
   *
   * The node runs and the connection to it is authenticated.
   *
   * Since: 1.0
   */
  signals[SIGNAL_READY] =
    g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * DpRemoteNode::died:
   * @node: the node
   * @reason: what happened ("exited with status 1", "connection lost: …")
   *
   * The node process ended or the connection to it was lost. Every
   * #DpRemoteConnection of the node has emitted #DpRemoteConnection::died
   * with %DP_PLACE_EXIT_LOST before (unless its place had ended already).
   *
   * Since: 1.0
   */
  signals[SIGNAL_DIED] =
    g_signal_new ("died", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * DpRemoteNode::restarting:
   * @node: the node
   * @attempt: 1 for the first restart, 2 for the second…
   *
   * The node died and is being spawned again (restart-on-exit: see
   * dp_remote_node_set_restart()).
   *
   * Since: 1.0
   */
  signals[SIGNAL_RESTARTING] =
    g_signal_new ("restarting", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * DpRemoteNode::restarted:
   * @node: the node
   * @attempt: the restart's number
   *
   * The node is up again and its places are being relaunched; each of their
   * #DpRemoteConnection emits #DpRemoteConnection::restarting.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RESTARTED] =
    g_signal_new ("restarted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * DpRemoteNode::output:
   * @node: the node
   * @line: a line its places printed on the node's standard output
   *
   * Emitted for every line (besides what #DpSpawnOptions' output mode does
   * with it), in order with the node's other events: a place's output comes
   * before its connection's #DpRemoteConnection::died.
   *
   * Since: 1.0
   */
  signals[SIGNAL_OUTPUT] =
    g_signal_new ("output", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
dp_remote_node_init (DpRemoteNode *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  _dp_restart_policy_init (&self->policy, &self->lock);
  _dp_pending_tasks_init (&self->die_tasks, &self->lock);
  self->owner_context = g_main_context_ref_thread_default ();
  self->connections = g_ptr_array_new_with_free_func (g_object_unref);
  self->relaunch = g_ptr_array_new_with_free_func (g_object_unref);
}

static DpRemoteNode *
remote_node_new (DpNode               *router,
                 const char           *host,
                 guint16               port,
                 const DpSpawnOptions *options)
{
  DpRemoteNode *self = g_object_new (DP_TYPE_REMOTE_NODE, NULL);

  self->router = g_object_ref (router);
  self->host = g_strdup (host ? host : "localhost");
  self->requested_port = port;
  self->options = options ? dp_spawn_options_copy (options) : dp_spawn_options_new ();
  if (sync_owner)
    {
      g_main_context_unref (self->owner_context);
      self->owner_context = g_main_context_ref (sync_owner);
    }
  return self;
}

/* ---- death ---- */

static void apply_restart_policy (DpRemoteNode *self);
static DpRestartDecision restart_decision (DpRemoteNode *self);
static void respawn_in_router (gpointer data);

static void
emit_died (gpointer object,
           gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpRemoteNode *) object)->owner_context);
  DpRemoteNode *self = object;

  /* @data: the reason at the time (a restart may have cleared it since) */
  g_signal_emit (self, signals[SIGNAL_DIED], 0, (const char *) data);
  apply_restart_policy (self);
}

static void
emit_ready (gpointer object,
            gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpRemoteNode *) object)->owner_context);
  g_signal_emit (object, signals[SIGNAL_READY], 0);
}

/* In the task's own context: the waiter's callback runs, and the task's
 * last reference goes there (the idle's destroy notify) */
static void
return_dead (gpointer task)
{
  g_task_return_boolean (task, TRUE);
}

/* Completes the pending wait_for_die_async()s: the node is dead. With
 * @lock not held; from the router thread (declare_dead) or the caller's
 * (a wait added after the death).
 *
 * Each task is handed, with our reference, to its own context, where it
 * is returned and released. The router thread never drops a task's last
 * reference: a task holds its source object, so that could be the node's
 * last reference too (the waiter's callback already ran and its owner let
 * the node go), finalizing the node on the router thread in the middle of
 * declare_dead or its caller — the use-after-free once seen when
 * /async/wait-for-die released its node as soon as the waits completed.
 * The tasks still on the list keep @self alive meanwhile, and an owner
 * releasing the node on its side waits for the router in dispose. */
static void
complete_die_waits (DpRemoteNode *self)
{
  GTask *task;

  while ((task = _dp_pending_task_pop (&self->die_tasks)) != NULL)
    _dp_main_context_invoke (g_task_get_context (task), "[libdp] node died",
                             return_dead, task, g_object_unref);
}

static void
declare_dead (DpRemoteNode *self)
{
  const char *proc_reason = (self->process && !self->process_ignored)
                            ? dp_node_process_get_exit_reason (self->process) : NULL;

  DP_ASSERT_ROUTER_THREAD (self->router);
  g_mutex_lock (&self->lock);
  if (self->died)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  self->died = TRUE;
  self->alive = FALSE;
  if (proc_reason)
    self->death_reason = g_strdup_printf ("node %s:%u %s", self->host, self->port, proc_reason);
  else
    self->death_reason = g_strdup_printf ("node %s:%u: %s", self->host, self->port,
                                          self->conn_reason ? self->conn_reason : "connection lost");
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  if (self->grace)
    {
      g_source_destroy (self->grace);
      g_clear_pointer (&self->grace, g_source_unref);
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "DP_NODE", self->host,
                    "DP_EVENT", "node-died",
                    "MESSAGE", "%s", self->death_reason);
  _dp_object_invoke (self->owner_context, self, emit_died, g_strdup (self->death_reason), g_free);
  /* restart TRUE needs nobody's main loop: done from the router thread */
  if (restart_decision (self) == DP_RESTART_NOW)
    _dp_node_invoke (self->router, respawn_in_router, g_object_ref (self), g_object_unref);
  /* the waiters' callbacks run in their own contexts (complete_die_waits) */
  complete_die_waits (self);
}

static gboolean
grace_expired (gpointer data)
{
  DpRemoteNode *self = data;

  DP_ASSERT_ROUTER_THREAD (self->router);
  g_clear_pointer (&self->grace, g_source_unref);
  if (self->process)
    dp_node_process_terminate (self->process, TRUE);
  declare_dead (self);
  return G_SOURCE_REMOVE;
}

/* What the node's death means: the policy's decision, unless the node was
 * not spawned (it cannot be again), was stopped on purpose or released */
static DpRestartDecision
restart_decision (DpRemoteNode *self)
{
  DpRestartDecision d;

  g_mutex_lock (&self->lock);
  if (!self->spawned || self->stopping || self->detached)
    d = DP_RESTART_NEVER;
  else
    d = _dp_restart_policy_decide_locked (&self->policy);
  g_mutex_unlock (&self->lock);
  return d;
}

static gint
by_creation (gconstpointer a,
             gconstpointer b,
             gpointer      data)
{
  GPtrArray *order = data;
  guint ia = 0, ib = 0;

  g_ptr_array_find (order, *(gpointer *) a, &ia);
  g_ptr_array_find (order, *(gpointer *) b, &ib);
  return (gint) ia - (gint) ib;
}

static void
lose_places (DpRemoteNode *self,
             DpConnection *conn,
             const char   *why)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autofree char *detail = g_strdup_printf ("lost the node: %s", why);
  g_autofree char *crash_detail = NULL;
  GError error = { DP_ERROR, DP_ERROR_CONNECTION_CLOSED, detail };
  gboolean keep = restart_decision (self) != DP_RESTART_NEVER;
  guint32 crashed_channel = 0;
  int sig = 0;

  DP_ASSERT_ROUTER_THREAD (self->router);
  /* A place that crashed took the node with it; the node said which on
   * its stderr before it died (dp-place.c), so that is there to read now */
  if (self->process)
    {
      dp_node_process_drain_errors (self->process);
      if (dp_node_process_get_crash (self->process, &crashed_channel, &sig) && crashed_channel != 0)
        crash_detail = g_strdup_printf ("killed by signal %d (%s); the node died with it",
                                        sig, g_strsignal (sig));
    }
  entries = _dp_connection_steal_all_entries (conn);
  for (guint i = 0; i < entries->len; i++)
    {
      DpChannelEntry *e = entries->pdata[i];
      g_autoptr(DpRemoteConnection) rc = _dp_remote_connection_ref_from_entry (e);
      if (rc == NULL)
        continue;
      if (keep && g_ptr_array_find (self->relaunch, rc, NULL))
        continue;
      if (crash_detail && e->id == crashed_channel)
        {
          if (_dp_remote_connection_crashed_with_node (rc, crash_detail, keep))
            g_ptr_array_add (self->relaunch, g_object_ref (rc));
          continue;
        }
      if (keep && _dp_remote_connection_node_lost (rc, detail))
        g_ptr_array_add (self->relaunch, g_object_ref (rc));
      else
        _dp_remote_connection_ended (rc, DP_PLACE_EXIT_LOST, detail, &error, NULL);
    }
  if (keep)
    {
      /* relaunch in creation order: a named place before connections to it */
      g_mutex_lock (&self->lock);
      g_ptr_array_sort_with_data (self->relaunch, by_creation, self->connections);
      g_mutex_unlock (&self->lock);
    }
}

/* a place's log record: the node's "log" signal, naming the place */
static void
forward_log (DpRemoteNode   *self,
             DpConnection   *conn,
             DpChannelEntry *entry,
             GVariant       *payload)
{
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autoptr(GVariant) fields = NULL;
  const char *sev, *msg, *place = NULL, *via = NULL;

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (payload == NULL || !g_variant_is_of_type (payload, G_VARIANT_TYPE ("(ssa{sv})")))
    return;
  g_variant_get (payload, "(&s&s@a{sv})", &sev, &msg, &fields);
  if (entry)
    rc = _dp_remote_connection_ref_from_entry (entry);
  if (rc)
    place = dp_remote_connection_get_symbol (rc);
  g_variant_lookup (fields, "place", "&s", &place);
  g_variant_lookup (fields, "node", "&s", &via);
  _dp_node_peer_log (self->router, via ? via : _dp_connection_get_peer (conn), place, sev, msg);
}

/* The frames a node sends its master: find the channel's entry and let it
 * act (dp-remote-connection.c), or log. */
static void
remote_frame (DpConnection        *conn,
              const DpFrameHeader *h,
              GVariant            *payload,
              gpointer             data)
{
  DpRemoteNode *self = data;
  g_autoptr(DpChannelEntry) entry = NULL;
  GVariant *msg;

  DP_ASSERT_ROUTER_THREAD (self->router);
  /* A place's death comes after what it printed: the node flushed its
   * stdout before sending this, so hand that on first. */
  if (h->type == DP_FRAME_PLACE_DIED && self->process)
    dp_node_process_drain_output (self->process);
  if (h->type != DP_FRAME_PONG)
    entry = _dp_connection_lookup (conn, h->channel);

  switch (h->type)
    {
    case DP_FRAME_DATA:
      if (entry && payload && entry->klass->data)
        {
          msg = g_variant_ref (payload);
          if (!entry->klass->data (entry, conn, &msg, 1))
            g_variant_unref (msg);
        }
      break;

    case DP_FRAME_PLACE_STARTED:
      if (entry && entry->klass->started)
        entry->klass->started (entry);
      break;

    case DP_FRAME_PLACE_FAILED:
      if (entry && entry->klass->failed)
        entry->klass->failed (entry, payload);
      break;

    case DP_FRAME_PLACE_DIED:
      if (entry && entry->klass->died)
        entry->klass->died (entry, payload);
      break;

    case DP_FRAME_BOUNCE:
      if (entry && payload && entry->klass->bounce)
        entry->klass->bounce (entry, payload);
      break;

    case DP_FRAME_EXPORTED:
      if (entry && entry->klass->exported)
        entry->klass->exported (entry, payload);
      break;

    case DP_FRAME_LOG:
      forward_log (self, conn, entry, payload);
      break;

    case DP_FRAME_PONG:
      break;

    default:
      _dp_connection_reject_frame (conn, h, "masters");
      break;
    }
}

static void
remote_closed (DpConnection *conn,
               const GError *reason,
               gpointer      data)
{
  DpRemoteNode *self = data;

  DP_ASSERT_ROUTER_THREAD (self->router);
  self->conn_closed = TRUE;
  self->conn_reason = g_strdup (reason ? reason->message : "connection closed");
  g_mutex_lock (&self->lock);
  self->alive = FALSE;
  g_mutex_unlock (&self->lock);
  lose_places (self, conn, self->conn_reason);

  if (g_error_matches (reason, DP_ERROR, DP_ERROR_TIMED_OUT))
    {
      /* frozen or cut off: it is dead to us now; make sure it goes */
      if (self->process)
        dp_node_process_terminate (self->process, TRUE);
      g_free (self->conn_reason);
      self->conn_reason = g_strdup (reason->message);
      if (self->process)
        g_signal_handlers_disconnect_by_data (self->process, self);
      self->process_ignored = TRUE;
      declare_dead (self);
    }
  else if (self->process == NULL || dp_node_process_has_exited (self->process))
    declare_dead (self);
  else
    {
      /* The process should follow; give it a moment to say how it ended. */
      dp_node_process_terminate (self->process, FALSE);
      self->grace = g_timeout_source_new (DIE_GRACE_MS);
      g_source_set_callback (self->grace, grace_expired, self, NULL);
      g_source_attach (self->grace, _dp_node_get_router_context (self->router));
    }
}

/* Runs in the owner's context: DpRemoteNode:rtt and :last-seen changed */
static void
notify_heartbeat (gpointer object,
                  gpointer data)
{
  DpRemoteNode *self = object;

  DP_ASSERT_OWNER_CONTEXT (self->owner_context);
  g_atomic_int_set (&self->heartbeat_notify_pending, 0);
  g_object_freeze_notify (object);
  g_object_notify_by_pspec (object, properties[PROP_RTT]);
  g_object_notify_by_pspec (object, properties[PROP_LAST_SEEN]);
  g_object_thaw_notify (object);
}

/* Router thread: a heartbeat came back; the notifications go to the
 * owner's context (one pending at a time) */
static void
remote_heartbeat (DpConnection *conn,
                  gpointer      data)
{
  DpRemoteNode *self = data;

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (g_atomic_int_compare_and_exchange (&self->heartbeat_notify_pending, 0, 1))
    _dp_object_invoke (self->owner_context, self, notify_heartbeat, NULL, NULL);
}

static const DpConnectionHandler remote_handler = {
  NULL, remote_frame, remote_closed, NULL, remote_heartbeat,
};

static void
process_exited (DpNodeProcess *process,
                int            status,
                const char    *reason,
                gpointer       data)
{
  DpRemoteNode *self = data;

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (self->conn == NULL || self->conn_closed)
    declare_dead (self);
  else
    {
      /* the connection's EOF follows at once; make sure of it */
      GError error = { DP_ERROR, DP_ERROR_CONNECTION_CLOSED, (char *) reason };
      _dp_connection_close (self->conn, &error);
    }
}

/* ---- spawn / connect (router thread) ---- */

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  DpRemoteNode *self = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  DpConnection *conn;

  DP_ASSERT_ROUTER_THREAD (self->router);
  conn = _dp_node_connect_finish (DP_NODE (source), result, &error);
  if (conn == NULL)
    {
      /* a refused or failed authentication names the node already */
      if (!g_error_matches (error, DP_ERROR, DP_ERROR_AUTH_FAILED))
        g_prefix_error (&error, "cannot connect to node %s:%u: ", self->connect_host, self->port);
      if (self->process)
        dp_node_process_terminate (self->process, TRUE);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  _dp_connection_set_handler (conn, &remote_handler, self);
  g_mutex_lock (&self->lock);
  self->conn = conn;
  self->alive = TRUE;
  g_mutex_unlock (&self->lock);
  _dp_connection_send (conn, DP_FRAME_SET_OWNER, 0, 0, NULL);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_NODE", self->host,
                    "DP_EVENT", "node-ready",
                    "MESSAGE", "node %s:%u is ready (pid %" G_GINT64_FORMAT ")", self->host, self->port, self->pid);
  _dp_object_invoke (self->owner_context, self, emit_ready, NULL, NULL);
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
  g_object_unref (task);
}

static void
emit_output (gpointer object,
             gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpRemoteNode *) object)->owner_context);
  g_signal_emit (object, signals[SIGNAL_OUTPUT], 0, (const char *) data);
}

static void
process_output (DpNodeProcess *process,
                int            fd,
                const char    *line,
                gpointer       data)
{
  DpRemoteNode *self = data;

  if (fd == 1)
    _dp_object_invoke (self->owner_context, self, emit_output, g_strdup (line), g_free);
}

static void
launched_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GTask *task = user_data;
  DpRemoteNode *self = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  DP_ASSERT_ROUTER_THREAD (self->router);
  _dp_node_spawn_done (self->router, self->host);
  if (!dp_node_process_launch_finish (DP_NODE_PROCESS (source), result, &error))
    {
      /* the backend names the address it reached for (an ssh_config alias
       * resolved, say); the caller knows the host by the name it gave */
      if (strstr (error->message, self->host) == NULL)
        g_prefix_error (&error, "%s: ", self->host);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  g_free (self->connect_host);
  self->connect_host = g_strdup (_dp_node_process_get_address (self->process));
  g_mutex_lock (&self->lock);
  self->port = dp_node_process_get_port (self->process);
  self->pid = dp_node_process_get_pid (self->process);
  g_free (self->address);
  self->address = g_strdup (self->connect_host);
  g_mutex_unlock (&self->lock);
  g_signal_connect (self->process, "exited", G_CALLBACK (process_exited), self);
  g_signal_connect (self->process, "output", G_CALLBACK (process_output), self);
  _dp_node_connect_async (self->router, self->connect_host, self->port, &remote_handler, self,
                          g_task_get_cancellable (task), connected_cb, task);
}

/* A spawned node's TLS credentials are issued on a thread of their own: a
 * key and a certificate cost milliseconds (tens under a sanitizer), and
 * the router that would pay them for 64 nodes at once sent no heartbeat
 * meanwhile (its other nodes dropped it: /netns/rmpi under ASan). */
typedef struct {
  GTask  *task;    /* (owned) the spawn */
  char   *name;    /* the certificate's name */
  char   *line;    /* (nullable) the credentials line, wiped when freed */
  GError *error;
} IssueCall;

static void
issue_call_free (gpointer data)
{
  IssueCall *ic = data;

  if (ic->line)
    memset (ic->line, 0, strlen (ic->line));
  g_free (ic->line);
  g_free (ic->name);
  g_clear_error (&ic->error);
  g_clear_object (&ic->task);
  g_free (ic);
}

/* router thread: the process exists; @tls_line (nullable) goes on its stdin */
static void
launch_process (GTask      *task,
                DpTlsMode   mode,
                const char *tls_line)
{
  DpRemoteNode *self = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) secret = dp_node_get_secret (self->router, &error);
  gdouble hb_interval, hb_timeout;

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (secret == NULL)
    {
      g_clear_object (&self->process);
      _dp_node_spawn_done (self->router, self->host);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  g_object_get (self->router, "heartbeat-interval", &hb_interval,
                "heartbeat-timeout", &hb_timeout, NULL);
  _dp_node_process_set_tls (self->process, mode, tls_line);
  dp_node_process_launch_async (self->process, secret, self->requested_port, hb_interval,
                                hb_timeout, self->options,
                                g_task_get_cancellable (task), launched_cb, task);
}

/* router thread: the credentials were issued, or not */
static void
issued (gpointer data)
{
  IssueCall *ic = data;
  DpRemoteNode *self = g_task_get_task_data (ic->task);
  DpTlsMode mode = _dp_node_get_tls_mode (self->router);

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (ic->line == NULL && mode == DP_TLS_AUTO)
    {
      /* it may never need them (a host reached over loopback): a
       * connection that does says so (dp-tls.c) */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                        "MESSAGE", "the node on %s gets no TLS credentials: %s",
                        self->host, ic->error->message);
    }
  else if (ic->line == NULL)
    {
      g_clear_object (&self->process);
      _dp_node_spawn_done (self->router, self->host);
      g_prefix_error (&ic->error, "cannot give the node on %s its TLS credentials: ", self->host);
      g_task_return_error (ic->task, g_steal_pointer (&ic->error));
      return;   /* issue_call_free drops the task */
    }
  launch_process (g_steal_pointer (&ic->task), mode, ic->line);
}

/* its own thread */
static gpointer
issue_thread (gpointer data)
{
  IssueCall *ic = data;
  DpRemoteNode *self = g_task_get_task_data (ic->task);

  ic->line = _dp_node_issue_tls_line (self->router, ic->name, &ic->error);
  _dp_node_invoke (self->router, issued, ic, issue_call_free);
  return NULL;
}

/* router thread, once the spawn limits let it (spawn_in_router) */
static void
start_spawn (gpointer data)
{
  GTask *task = data;
  DpRemoteNode *self = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) secret = dp_node_get_secret (self->router, &error);
  DpTlsMode mode;

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (secret)
    self->process = _dp_node_process_new_for_host (self->host, self->options, &error);
  if (self->process == NULL)
    {
      _dp_node_spawn_done (self->router, self->host);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  /* TLS: the node gets the master's mode, and credentials when it may
   * need them: TLS on, or a node on another host (dp-tls.c) */
  mode = _dp_node_get_tls_mode (self->router);
  if (mode == DP_TLS_ON ||
      (mode == DP_TLS_AUTO && !_dp_host_spec_is_local (_dp_node_process_get_host_spec (self->process))))
    {
      IssueCall *ic = g_new0 (IssueCall, 1);

      ic->task = task;
      ic->name = g_strdup_printf ("libdp node on %s", self->host);
      g_thread_unref (g_thread_new ("dp-tls-issue", issue_thread, ic));
      return;
    }
  launch_process (task, mode, NULL);
}

/* router thread: a spawn or a restart, paced by DpNode:max-concurrent-spawns
 * (-per-host) until the node's ready line (launched_cb) */
static void
spawn_in_router (gpointer data)
{
  GTask *task = data;
  DpRemoteNode *self = g_task_get_task_data (task);

  DP_ASSERT_ROUTER_THREAD (self->router);
  _dp_node_spawn_when_allowed (self->router, self->host, start_spawn, task);
}

static void
connect_in_router (gpointer data)
{
  GTask *task = data;
  DpRemoteNode *self = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpHostSpec) spec = _dp_host_spec_parse (self->host, DP_HOST_SPEC_DEFAULT, &error);

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (spec == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  self->connect_host = g_strdup (spec->host);
  g_mutex_lock (&self->lock);
  self->port = self->requested_port;
  g_free (self->address);
  self->address = g_strdup (self->connect_host);
  g_mutex_unlock (&self->lock);
  _dp_node_connect_async (self->router, self->connect_host, self->port, &remote_handler, self,
                          g_task_get_cancellable (task), connected_cb, task);
}

/**
 * dp_remote_node_spawn_async:
 * @router: the master's #DpNode
 * @host: where: `localhost`, a host name, `user@host`, `host:sshport`
 * @port: the port the node is to listen on; 0 lets it pick a free one
 * @options: (nullable): spawn options
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the node is up and connected, or failed
 * @user_data: data for @callback
 *
 * Starts a node (`spawn-remote-racket-node`): as a child process for a
 * local host, over ssh otherwise (see #DpSpawnMethod). The node receives
 * the router's secret on its standard input and exits when that closes —
 * when the returned #DpRemoteNode is finalized or this process exits.
 *
 * Since: 1.0
 */
void
dp_remote_node_spawn_async (DpNode               *router,
                            const char           *host,
                            guint16               port,
                            const DpSpawnOptions *options,
                            GCancellable         *cancellable,
                            GAsyncReadyCallback   callback,
                            gpointer              user_data)
{
  DpRemoteNode *self;
  GTask *task;

  g_return_if_fail (DP_IS_NODE (router));
  self = remote_node_new (router, host, port, options);
  self->spawned = TRUE;
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_remote_node_spawn_async);
  g_task_set_task_data (task, self, g_object_unref);
  _dp_node_invoke (router, spawn_in_router, task, NULL);
}

/**
 * dp_remote_node_spawn_finish:
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes dp_remote_node_spawn_async().
 *
 * Returns: (transfer full) (nullable): the node
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_remote_node_spawn_finish (GAsyncResult  *result,
                             GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  DpNode               *router;
  const char           *host;
  guint16               port;
  const DpSpawnOptions *options;
  GCancellable         *cancellable;
  gboolean              spawn;
  GMainContext         *owner;
} SyncArgs;

static void
sync_start (gpointer data, GAsyncReadyCallback cb, gpointer user_data)
{
  SyncArgs *a = data;

  /* the node's signals go to the caller's context from the first one */
  sync_owner = a->owner;
  if (a->spawn)
    dp_remote_node_spawn_async (a->router, a->host, a->port, a->options, a->cancellable, cb, user_data);
  else
    dp_remote_node_connect_async (a->router, a->host, a->port, a->cancellable, cb, user_data);
  sync_owner = NULL;
}

/**
 * dp_remote_node_spawn:
 * @router: the master's #DpNode
 * @host: where
 * @port: the node's port, 0 for any
 * @options: (nullable): spawn options
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The synchronous form of dp_remote_node_spawn_async(). Signals of the
 * returned object are emitted in the caller's thread-default main context.
 *
 * Returns: (transfer full) (nullable): the node
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_remote_node_spawn (DpNode               *router,
                      const char           *host,
                      guint16               port,
                      const DpSpawnOptions *options,
                      GCancellable         *cancellable,
                      GError              **error)
{
  g_autoptr(GMainContext) owner = g_main_context_ref_thread_default ();
  SyncArgs a = { router, host, port, options, cancellable, TRUE, owner };
  g_autoptr(GAsyncResult) result = NULL;
  DpRemoteNode *self;

  result = _dp_run_sync (sync_start, &a);
  self = dp_remote_node_spawn_finish (result, error);
  return self;
}

/**
 * dp_remote_node_connect_async:
 * @router: the master's #DpNode
 * @host: the node's host
 * @port: the node's port
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when connected, or failed
 * @user_data: data for @callback
 *
 * Attaches to a node that already runs (for example one started by hand
 * with `dp-node --listen`), authenticating with the router's secret.
 *
 * Since: 1.0
 */
void
dp_remote_node_connect_async (DpNode              *router,
                              const char          *host,
                              guint16              port,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  DpRemoteNode *self;
  GTask *task;

  g_return_if_fail (DP_IS_NODE (router));
  self = remote_node_new (router, host, port, NULL);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_remote_node_connect_async);
  g_task_set_task_data (task, self, g_object_unref);
  _dp_node_invoke (router, connect_in_router, task, NULL);
}

/**
 * dp_remote_node_connect_finish:
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes dp_remote_node_connect_async().
 *
 * Returns: (transfer full) (nullable): the node
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_remote_node_connect_finish (GAsyncResult  *result,
                               GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * dp_remote_node_connect:
 * @router: the master's #DpNode
 * @host: the node's host
 * @port: the node's port
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to a node that is already running (started by hand or by
 * another master) and authenticates with the router's secret. Blocks; see
 * dp_remote_node_connect_async().
 *
 * Returns: (transfer full) (nullable): the node
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_remote_node_connect (DpNode        *router,
                        const char    *host,
                        guint16        port,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(GMainContext) owner = g_main_context_ref_thread_default ();
  SyncArgs a = { router, host, port, NULL, cancellable, FALSE, owner };
  g_autoptr(GAsyncResult) result = NULL;

  result = _dp_run_sync (sync_start, &a);
  return dp_remote_node_connect_finish (result, error);
}

/* ---- restart-on-exit (node) ---- */

static void
emit_restart_signal (gpointer object,
                     gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpRemoteNode *) object)->owner_context);
  guint which = GPOINTER_TO_UINT (data) >> 24;
  guint attempt = GPOINTER_TO_UINT (data) & 0xffffff;

  g_signal_emit (object, signals[which], 0, attempt);
}

/* router thread: the places kept for a new node will not get one */
static void
abandon_relaunch_in_router (gpointer data)
{
  DpRemoteNode *self = data;
  g_autoptr(GPtrArray) rcs = g_steal_pointer (&self->relaunch);
  GError error = { DP_ERROR, DP_ERROR_CONNECTION_CLOSED, (char *) "the node was not restarted" };

  DP_ASSERT_ROUTER_THREAD (self->router);
  self->relaunch = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < rcs->len; i++)
    _dp_remote_connection_ended (rcs->pdata[i], DP_PLACE_EXIT_LOST,
                                 "lost the node, which was not restarted", &error, NULL);
}

/* router thread */
static gboolean
retry_respawn (gpointer data)
{
  DpRemoteNode *self = data;

  DP_ASSERT_ROUTER_THREAD (self->router);
  g_clear_pointer (&self->retry, g_source_unref);
  respawn_in_router (self);
  return G_SOURCE_REMOVE;
}

static void
respawned_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  DpRemoteNode *self = user_data;      /* the task's data holds a ref */
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = g_task_propagate_pointer (G_TASK (result), &error);
  guint attempt;

  DP_ASSERT_ROUTER_THREAD (self->router);
  attempt = _dp_restart_policy_get_attempt (&self->policy);

  if (node == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "DP_NODE", self->host,
                        "DP_EVENT", "node-restart-failed",
                        "MESSAGE", "could not restart node %s (attempt %u): %s",
                        self->host, attempt, error->message);
      g_mutex_lock (&self->lock);
      self->died = TRUE;
      self->respawn_failed = TRUE;
      g_free (self->death_reason);
      self->death_reason = g_strdup_printf ("node %s could not be restarted: %s", self->host, error->message);
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      complete_die_waits (self);
      _dp_object_invoke (self->owner_context, self, emit_died, g_strdup (self->death_reason), g_free);
      if (restart_decision (self) == DP_RESTART_NOW && self->retry == NULL)
        {
          /* the host may be down: do not spin, try again in a second */
          self->retry = dp_timeout_source_new (1.0);
          g_source_set_callback (self->retry, retry_respawn, self, NULL);
          g_source_attach (self->retry, _dp_node_get_router_context (self->router));
        }
      return;
    }

  if (self->detached)
    {
      /* released while it was being restarted: the new node goes too */
      if (self->conn)
        {
          _dp_connection_set_handler (self->conn, NULL, NULL);
          _dp_connection_close (self->conn, NULL);
        }
      if (self->process)
        {
          g_signal_handlers_disconnect_by_data (self->process, self);
          dp_node_process_terminate (self->process, FALSE);
        }
      abandon_relaunch_in_router (self);
      return;
    }

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "DP_NODE", self->host,
                    "DP_EVENT", "node-restarted",
                    "MESSAGE", "node %s restarted (attempt %u) on port %u; relaunching %u place(s)",
                    self->host, attempt, self->port, self->relaunch->len);
  _dp_object_invoke (self->owner_context, self, emit_restart_signal,
                     GUINT_TO_POINTER ((SIGNAL_RESTARTED << 24) | attempt), NULL);
  {
    g_autoptr(GPtrArray) rcs = g_steal_pointer (&self->relaunch);
    self->relaunch = g_ptr_array_new_with_free_func (g_object_unref);
    for (guint i = 0; i < rcs->len; i++)
      dp_remote_connection_restart (rcs->pdata[i]);
  }
}

static void
respawn_in_router (gpointer data)
{
  DpRemoteNode *self = data;
  GTask *task;
  guint attempt;

  DP_ASSERT_ROUTER_THREAD (self->router);
  g_mutex_lock (&self->lock);
  if (!self->died || self->detached || self->stopping)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  self->died = FALSE;
  self->alive = FALSE;
  self->respawn_failed = FALSE;
  attempt = _dp_restart_policy_next_attempt_locked (&self->policy);
  g_clear_pointer (&self->death_reason, g_free);
  g_mutex_unlock (&self->lock);

  if (self->conn)
    _dp_connection_set_handler (self->conn, NULL, NULL);
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->conn, _dp_connection_unref);
  g_mutex_unlock (&self->lock);
  if (self->process)
    {
      g_signal_handlers_disconnect_by_data (self->process, self);
      dp_node_process_terminate (self->process, TRUE);
      g_clear_object (&self->process);
    }
  self->conn_closed = FALSE;
  self->process_ignored = FALSE;
  g_clear_pointer (&self->conn_reason, g_free);
  g_clear_pointer (&self->connect_host, g_free);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "DP_NODE", self->host,
                    "DP_EVENT", "node-restarting",
                    "MESSAGE", "restarting node %s (attempt %u)", self->host, attempt);
  _dp_object_invoke (self->owner_context, self, emit_restart_signal,
                     GUINT_TO_POINTER ((SIGNAL_RESTARTING << 24) | attempt), NULL);

  task = g_task_new (NULL, NULL, respawned_cb, self);
  g_task_set_source_tag (task, respawn_in_router);
  g_task_set_task_data (task, g_object_ref (self), g_object_unref);
  spawn_in_router (task);
}

/**
 * dp_remote_node_restart:
 * @self: a #DpRemoteNode made by dp_remote_node_spawn() (or its async form)
 *
 * Spawns a dead node again, the same way, and relaunches the places it ran
 * (those that had neither ended nor been closed), keeping their
 * #DpRemoteConnection objects. Restart policies (dp_remote_node_set_restart()
 * and friends) call this; a restart callback calls it when it decides to.
 * Does nothing while the node is alive.
 *
 * Returns: %FALSE when @self cannot be restarted (it was not spawned, or it
 *   was stopped with dp_remote_node_terminate() / dp_remote_node_send_exit())
 *
 * Since: 1.0
 */
gboolean
dp_remote_node_restart (DpRemoteNode *self)
{
  gboolean can;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), FALSE);
  g_mutex_lock (&self->lock);
  can = self->spawned && !self->stopping;
  g_mutex_unlock (&self->lock);
  if (can)
    _dp_node_invoke (self->router, respawn_in_router, g_object_ref (self), g_object_unref);
  return can;
}

static void
restarter_cb (guint    attempt,
              gpointer data)
{
  dp_remote_node_restart (DP_REMOTE_NODE (data));
}


/* owner context, after "died": the policies that involve the owner (a
 * restarter's timers and signals, a callback); restart TRUE is handled in
 * the router thread (declare_dead) */
static void
apply_restart_policy (DpRemoteNode *self)
{
  DP_ASSERT_OWNER_CONTEXT (self->owner_context);
  if (restart_decision (self) == DP_RESTART_NEVER ||
      !_dp_restart_policy_apply (&self->policy, G_OBJECT (self), restarter_cb))
    _dp_node_invoke (self->router, abandon_relaunch_in_router, g_object_ref (self), g_object_unref);
}

/**
 * dp_remote_node_set_restart:
 * @self: a spawned #DpRemoteNode
 * @restart: %TRUE to spawn the node again at once whenever it dies
 *
 * Node restart-on-exit (the seed's `remote-node%` `restart-on-exit`): when
 * the node process dies, its connection is lost (heartbeat timeout) or its
 * ssh session ends, the node is spawned again with the same host, port and
 * options, and every place it ran that had not ended is launched again on
 * it, keeping its #DpRemoteConnection. Messages put to those places while
 * the node is down are queued and delivered to the new incarnations;
 * messages the old node had received but its places had not read are lost
 * with it. A node stopped with dp_remote_node_terminate() or
 * dp_remote_node_send_exit() is not restarted. A respawn that fails is tried
 * again a second later.
 *
 * Since: 1.0
 */
void
dp_remote_node_set_restart (DpRemoteNode *self,
                            gboolean      restart)
{
  g_return_if_fail (DP_IS_REMOTE_NODE (self));
  _dp_restart_policy_set (&self->policy, restart, NULL, NULL, NULL, NULL);
}

/**
 * dp_remote_node_set_restarter:
 * @self: a spawned #DpRemoteNode
 * @restarter: (nullable): a policy such as dp_restart_every()'s
 *
 * Like dp_remote_node_set_restart(), but restarts as @restarter allows;
 * when it gives up, the places waiting for the node end with
 * %DP_PLACE_EXIT_LOST.
 *
 * Since: 1.0
 */
void
dp_remote_node_set_restarter (DpRemoteNode *self,
                              DpRestarter  *restarter)
{
  g_return_if_fail (DP_IS_REMOTE_NODE (self));
  _dp_restart_policy_set (&self->policy, FALSE, restarter, NULL, NULL, NULL);
}

/**
 * dp_remote_node_set_restart_func:
 * @self: a spawned #DpRemoteNode
 * @func: (nullable): called (in the owner's context) after the node died;
 *   it calls dp_remote_node_restart() if and when it wants the node back
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * The seed's restart procedure, for a node. The places wait for the node
 * until it is restarted or @self is released.
 *
 * Since: 1.0
 */
void
dp_remote_node_set_restart_func (DpRemoteNode   *self,
                                 DpRestartFunc   func,
                                 gpointer        user_data,
                                 GDestroyNotify  notify)
{
  g_return_if_fail (DP_IS_REMOTE_NODE (self));
  _dp_restart_policy_set (&self->policy, FALSE, NULL, func, user_data, notify);
}

/**
 * dp_remote_node_get_restarts:
 * @self: a #DpRemoteNode
 *
 * How many times the node was restarted under its restart policy.
 *
 * Returns: how many times the node was restarted
 *
 * Since: 1.0
 */
guint
dp_remote_node_get_restarts (DpRemoteNode *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), 0);
  return _dp_restart_policy_get_attempt (&self->policy);
}

/* ---- places ---- */

/* the connection to the node while it is alive (a ref), or NULL */
static DpConnection *
ref_connection (DpRemoteNode *self)
{
  DpConnection *conn;

  g_mutex_lock (&self->lock);
  conn = (self->conn && self->alive) ? _dp_connection_ref (self->conn) : NULL;
  g_mutex_unlock (&self->lock);
  return conn;
}

static DpRemoteConnection *
open_channel (DpRemoteNode *self,
              GVariant     *request,
              const char   *symbol,
              gboolean      restart,
              DpRestarter  *restarter)
{
  DpConnection *conn = ref_connection (self);
  DpRemoteConnection *rc;

  rc = _dp_remote_connection_new (self, ref_connection, conn,
                                  conn ? _dp_connection_alloc_channel (conn) : 0,
                                  request, symbol, restart, restarter);
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->connections, g_object_ref (rc));
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&conn, _dp_connection_unref);
  return rc;
}

/**
 * dp_remote_node_launch_place:
 * @self: a #DpRemoteNode
 * @plugin: the plugin: a name on the node's plugin path, or a file in one
 *   of its plugin directories
 * @symbol: the place function (or, with %DP_LAUNCH_THUNK, the thunk)
 * @flags: #DpLaunchFlags
 * @name: (nullable): register the place under this name on the node
 *
 * Asks the node to start a place (`supervise-place-at`). Returns at once;
 * the connection becomes ready, or dies with the node's error (a missing
 * plugin or symbol, a wrong plugin ABI…), asynchronously: see
 * dp_remote_connection_wait_ready() and the #DpRemoteConnection signals.
 * Messages may be put on it right away.
 *
 * Returns: (transfer full): the connection to the place
 *
 * Since: 1.0
 */
DpRemoteConnection *
dp_remote_node_launch_place (DpRemoteNode  *self,
                             const char    *plugin,
                             const char    *symbol,
                             DpLaunchFlags  flags,
                             const char    *name)
{
  return dp_remote_node_launch_place_with_restarter (self, plugin, symbol, flags, name, NULL);
}

/**
 * dp_remote_node_launch_place_with_restarter:
 * @self: a #DpRemoteNode
 * @plugin: as for dp_remote_node_launch_place()
 * @symbol: as for dp_remote_node_launch_place()
 * @flags: #DpLaunchFlags
 * @name: (nullable): register the place under this name on the node
 * @restarter: (nullable): the restart policy (`#:restart-on-exit
 *   (restart-every …)`), or %NULL
 *
 * dp_remote_node_launch_place() with its restart policy in place before
 * the node is asked: a place that ends at once is restarted as @restarter
 * allows. (Setting it afterwards with dp_remote_connection_set_restarter()
 * can come too late for such a place.)
 *
 * |[<!-- language="C" -->
 * g_autoptr(DpRestarter) r = dp_restart_every (5, 3, G_CALLBACK (on_final_fail), NULL);
 * g_autoptr(DpRemoteConnection) pl =
 *   dp_remote_node_launch_place_with_restarter (node, "wait-place", "short_wait_place_thunk",
 *                                               DP_LAUNCH_THUNK, NULL, r);
 * ]|
 *
 * Returns: (transfer full): the connection to the place
 *
 * Since: 1.0
 */
DpRemoteConnection *
dp_remote_node_launch_place_with_restarter (DpRemoteNode  *self,
                                            const char    *plugin,
                                            const char    *symbol,
                                            DpLaunchFlags  flags,
                                            const char    *name,
                                            DpRestarter   *restarter)
{
  GVariantBuilder b;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), NULL);
  g_return_val_if_fail (plugin != NULL && symbol != NULL, NULL);
  g_return_val_if_fail (restarter == NULL || DP_IS_RESTARTER (restarter), NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind",
                         g_variant_new_string ((flags & DP_LAUNCH_THUNK) ? "thunk" : "place"));
  g_variant_builder_add (&b, "{sv}", "plugin", g_variant_new_string (plugin));
  g_variant_builder_add (&b, "{sv}", "symbol", g_variant_new_string (symbol));
  if (name)
    g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  if (flags & DP_LAUNCH_ISOLATE)
    g_variant_builder_add (&b, "{sv}", "isolate", g_variant_new_boolean (TRUE));
  return open_channel (self, g_variant_builder_end (&b), symbol,
                       (flags & DP_LAUNCH_RESTART_ON_EXIT) != 0, restarter);
}

/**
 * dp_remote_node_connect_to_named_place:
 * @self: a #DpRemoteNode
 * @name: the name the place was started under
 *
 * Opens a connection to a named place (`connect-to-named-place`). Each
 * connection gets the replies to what it sent; the place's state is shared.
 *
 * Returns: (transfer full): the connection
 *
 * Since: 1.0
 */
DpRemoteConnection *
dp_remote_node_connect_to_named_place (DpRemoteNode *self,
                                       const char   *name)
{
  GVariantBuilder b;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string ("connect"));
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  return open_channel (self, g_variant_builder_end (&b), name, FALSE, NULL);
}

/**
 * dp_remote_node_list_places:
 * @self: a #DpRemoteNode
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks the node what runs on it, over the authenticated connection: a
 * dictionary (`a{sv}`) with "places" (`aa{sv}`: each place's "symbol",
 * "channel", "peer" — the connection that started it —, "name" for a
 * named place, "isolated"), "named" (`a{su}`: each named place and its
 * number of clients) and "connections" (`u`: masters and peers connected).
 * `dp-launch --connect --list HOST:PORT` prints it.
 *
 * ```c
 * g_autoptr(GVariant) what = dp_remote_node_list_places (node, NULL, &error);
 * g_autoptr(GVariant) places = g_variant_lookup_value (what, "places", NULL);
 * g_print ("%" G_GSIZE_FORMAT " places\n", g_variant_n_children (places));
 * ```
 *
 * Returns: (transfer full): the listing, or %NULL with @error set
 *
 * Since: 1.0
 */
GVariant *
dp_remote_node_list_places (DpRemoteNode  *self,
                            GCancellable  *cancellable,
                            GError       **error)
{
  GVariantBuilder b;
  g_autoptr(DpRemoteConnection) rc = NULL;
  GVariant *listing;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), NULL);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string ("list"));
  rc = open_channel (self, g_variant_builder_end (&b), "list", FALSE, NULL);
  if (!dp_remote_connection_wait_ready (rc, cancellable, error))
    return NULL;
  listing = dp_remote_connection_get (rc);
  if (listing == NULL || !g_variant_is_of_type (listing, G_VARIANT_TYPE_VARDICT))
    {
      g_clear_pointer (&listing, g_variant_unref);
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL, "node %s:%u sent no listing",
                   self->host, dp_remote_node_get_port (self));
    }
  return listing;
}

/**
 * dp_remote_node_get_first_place:
 * @self: a #DpRemoteNode
 *
 * The place started with the node (dp_remote_node_spawn_with_place() or
 * dp_spawn_node_with_place_at()), if any.
 *
 * Returns: (transfer none) (nullable): the first connection made through
 *   @self (`node-get-first-place`)
 *
 * Since: 1.0
 */
DpRemoteConnection *
dp_remote_node_get_first_place (DpRemoteNode *self)
{
  DpRemoteConnection *rc;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), NULL);
  g_mutex_lock (&self->lock);
  rc = self->connections->len ? self->connections->pdata[0] : NULL;
  g_mutex_unlock (&self->lock);
  return rc;
}

/**
 * dp_remote_node_send_exit:
 * @self: a #DpRemoteNode
 *
 * Asks the node to exit (`node-send-exit`). Harmless on a dead node.
 *
 * Since: 1.0
 */
void
dp_remote_node_send_exit (DpRemoteNode *self)
{
  DpConnection *conn;

  g_return_if_fail (DP_IS_REMOTE_NODE (self));
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  conn = self->conn ? _dp_connection_ref (self->conn) : NULL;
  g_mutex_unlock (&self->lock);
  if (conn)
    {
      _dp_connection_send (conn, DP_FRAME_DIE, 0, 0, NULL);
      _dp_connection_unref (conn);
    }
}

static void
terminate_in_router (gpointer data)
{
  DpRemoteNode *self = data;

  DP_ASSERT_ROUTER_THREAD (self->router);
  if (self->process)
    dp_node_process_terminate (self->process, FALSE);
  else if (self->conn)
    _dp_connection_close (self->conn, NULL);
}

/**
 * dp_remote_node_terminate:
 * @self: a #DpRemoteNode
 *
 * Closes the node's standard input (a spawned node exits) or, for a node
 * attached with dp_remote_node_connect(), the connection to it.
 *
 * Since: 1.0
 */
void
dp_remote_node_terminate (DpRemoteNode *self)
{
  g_return_if_fail (DP_IS_REMOTE_NODE (self));
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_mutex_unlock (&self->lock);
  _dp_node_invoke (self->router, terminate_in_router, g_object_ref (self), g_object_unref);
}

/**
 * dp_remote_node_wait_for_die:
 * @self: a #DpRemoteNode
 * @timeout_us: how long to wait; -1 for ever
 *
 * Blocks until the node is dead (`wait-for-die`) and, for a node we
 * spawned, until what it printed last has arrived (its standard output and
 * error have ended), within the same time.
 *
 * Returns: %TRUE when it is, %FALSE when the time ran out
 *
 * Since: 1.0
 */
typedef struct {
  DpRemoteNode  *node;
  DpNodeProcess *process;
} ProcessRef;

static void
ref_process_in_router (gpointer data)
{
  ProcessRef *pr = data;

  DP_ASSERT_ROUTER_THREAD (pr->node->router);
  if (pr->node->process)
    pr->process = g_object_ref (pr->node->process);
}

gboolean
dp_remote_node_wait_for_die (DpRemoteNode *self,
                             gint64        timeout_us)
{
  gint64 end = timeout_us < 0 ? -1 : g_get_monotonic_time () + timeout_us;
  gboolean died;
  ProcessRef pr = { self, NULL };

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), TRUE);
  g_mutex_lock (&self->lock);
  while (!self->died)
    {
      if (end < 0)
        g_cond_wait (&self->cond, &self->lock);
      else if (!g_cond_wait_until (&self->cond, &self->lock, end))
        break;
    }
  died = self->died;
  g_mutex_unlock (&self->lock);

  /* its last output travels apart from the connection (a pipe, or the ssh
   * channel): a master that exits right after this still shows it */
  if (died && !_dp_node_in_router (self->router))
    {
      _dp_node_invoke_sync (self->router, ref_process_in_router, &pr);
      if (pr.process)
        {
          dp_node_process_wait_output (pr.process, end < 0 ? 10 * G_USEC_PER_SEC
                                                           : MAX (0, end - g_get_monotonic_time ()));
          g_object_unref (pr.process);
        }
    }
  return died;
}

/**
 * dp_remote_node_wait_for_die_async:
 * @self: a #DpRemoteNode
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the node is dead
 * @user_data: data for @callback
 *
 * The non-blocking form of dp_remote_node_wait_for_die() (`wait-for-die`):
 * @callback runs in the caller's thread-default main context once the node
 * is dead (at once if it is already). Unlike the blocking form it does not
 * wait for the node's last output; a time limit is a #GCancellable that a
 * timeout cancels.
 *
 * ```c
 * static void
 * dead (GObject *source, GAsyncResult *res, gpointer loop)
 * {
 *   if (dp_remote_node_wait_for_die_finish (DP_REMOTE_NODE (source), res, NULL))
 *     g_main_loop_quit (loop);
 * }
 *
 * dp_remote_node_terminate (node);
 * dp_remote_node_wait_for_die_async (node, NULL, dead, loop);
 * ```
 *
 * Since: 1.0
 */
void
dp_remote_node_wait_for_die_async (DpRemoteNode        *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  gboolean died;

  g_return_if_fail (DP_IS_REMOTE_NODE (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_remote_node_wait_for_die_async);
  if (g_task_return_error_if_cancelled (task))
    return;
  _dp_pending_task_add (&self->die_tasks, task);
  g_mutex_lock (&self->lock);
  died = self->died;
  g_mutex_unlock (&self->lock);
  if (died)
    complete_die_waits (self);
}

/**
 * dp_remote_node_wait_for_die_finish:
 * @self: a #DpRemoteNode
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError (%G_IO_ERROR_CANCELLED)
 *
 * Finishes dp_remote_node_wait_for_die_async().
 *
 * Returns: %TRUE when the node is dead, %FALSE with @error when the wait
 *   was cancelled
 *
 * Since: 1.0
 */
gboolean
dp_remote_node_wait_for_die_finish (DpRemoteNode  *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * dp_remote_node_is_alive:
 * @self: a #DpRemoteNode
 *
 * Whether the node is connected and running (a lost or exited node is
 * not).
 *
 * Returns: %TRUE while it is
 *
 * Since: 1.0
 */
gboolean
dp_remote_node_is_alive (DpRemoteNode *self)
{
  gboolean alive;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), FALSE);
  g_mutex_lock (&self->lock);
  alive = self->alive;
  g_mutex_unlock (&self->lock);
  return alive;
}

/**
 * dp_remote_node_get_host:
 * @self: a #DpRemoteNode
 *
 * The host the node was spawned on or connected to, as given (the
 * #DpRemoteNode:host property).
 *
 * Returns: the host
 *
 * Since: 1.0
 */
const char *
dp_remote_node_get_host (DpRemoteNode *self)
{
  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), NULL);
  return self->host;
}

/**
 * dp_remote_node_dup_address:
 * @self: a #DpRemoteNode
 *
 * The address this master dials the node at: for an ssh host alias, the
 * ssh config's `HostName` — what a place on another node gives
 * dp_place_channel_connect() to reach a place here, with
 * dp_remote_node_get_port().
 *
 * Returns: (transfer full) (nullable): the address, or %NULL before the
 *   node was first reached
 *
 * Since: 1.0
 */
char *
dp_remote_node_dup_address (DpRemoteNode *self)
{
  char *address;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), NULL);
  g_mutex_lock (&self->lock);
  address = g_strdup (self->address);
  g_mutex_unlock (&self->lock);
  return address;
}

/**
 * dp_remote_node_get_port:
 * @self: a #DpRemoteNode
 *
 * The port the node listens on (the #DpRemoteNode:port property).
 *
 * Returns: the port the node listens on (the one it picked, for port 0)
 *
 * Since: 1.0
 */
guint16
dp_remote_node_get_port (DpRemoteNode *self)
{
  guint16 port;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), 0);
  g_mutex_lock (&self->lock);
  port = self->port;
  g_mutex_unlock (&self->lock);
  return port;
}

/**
 * dp_remote_node_get_pid:
 * @self: a #DpRemoteNode
 *
 * The node process's id on its host (as its ready line said).
 *
 * Returns: the node's process id on its host, or 0 when not known
 *
 * Since: 1.0
 */
gint64
dp_remote_node_get_pid (DpRemoteNode *self)
{
  gint64 pid;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), 0);
  g_mutex_lock (&self->lock);
  pid = self->pid;
  g_mutex_unlock (&self->lock);
  return pid;
}

/**
 * dp_remote_node_get_rtt:
 * @self: a #DpRemoteNode
 *
 * The round-trip time of the last heartbeat (the #DpRemoteNode:rtt property).
 *
 * Returns: seconds, or -1 when not measured yet
 *
 * Since: 1.0
 */
gdouble
dp_remote_node_get_rtt (DpRemoteNode *self)
{
  g_autoptr(DpConnection) conn = NULL;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), -1);
  conn = ref_connection (self);
  return conn ? _dp_connection_get_rtt (conn) : -1;
}

/**
 * dp_remote_node_get_last_seen:
 * @self: a #DpRemoteNode
 *
 * How long ago anything last arrived from the node (the
 * #DpRemoteNode:last-seen property).
 *
 * Returns: seconds (real time), or -1 when not connected
 *
 * Since: 1.0
 */
gdouble
dp_remote_node_get_last_seen (DpRemoteNode *self)
{
  g_autoptr(DpConnection) conn = NULL;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), -1);
  conn = ref_connection (self);
  return conn ? _dp_connection_get_idle (conn) : -1;
}

/**
 * dp_remote_node_dup_death_reason:
 * @self: a #DpRemoteNode
 *
 * Why the node died. Safe from any thread, also while the node is being
 * restarted.
 *
 * Returns: (transfer full) (nullable): the reason, %NULL while the node is
 *   alive
 *
 * Since: 1.0
 */
char *
dp_remote_node_dup_death_reason (DpRemoteNode *self)
{
  char *r;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), NULL);
  g_mutex_lock (&self->lock);
  r = g_strdup (self->death_reason);
  g_mutex_unlock (&self->lock);
  return r;
}

/**
 * dp_remote_node_get_death_reason:
 * @self: a #DpRemoteNode
 *
 * Why the node died. The string belongs to @self and is freed when the
 * node is restarted: use it only in the owner context while no restart can
 * happen — or, better, use dp_remote_node_dup_death_reason().
 *
 * Deprecated: use dp_remote_node_dup_death_reason()
 *
 * Returns: (transfer none) (nullable): why the node died, once it has
 *
 * Since: 1.0
 */
const char *
dp_remote_node_get_death_reason (DpRemoteNode *self)
{
  const char *r;

  g_return_val_if_fail (DP_IS_REMOTE_NODE (self), NULL);
  g_mutex_lock (&self->lock);
  r = self->death_reason;
  g_mutex_unlock (&self->lock);
  return r;
}
