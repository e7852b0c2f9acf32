/* dp-router.c: the seed's message-router API on top of DpNode
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <stdarg.h>

GMainLoop *_dp_node_get_user_loop (DpNode *self);

/**
 * dp_message_router: (skip)
 * @node: the master's #DpNode
 * @first_source: (nullable): a #GSource (a timer from dp_after_seconds(),
 *   dp_every_seconds(), or any other), then more, ending with %NULL
 * @...: more sources, %NULL-terminated
 *
 * The seed's `message-router`: attaches the sources to the node's main
 * context (the caller's thread-default context when the node was made)
 * and runs it until dp_message_router_quit(). The node's own traffic runs
 * on its router thread, so a source's callback may block on
 * dp_remote_connection_get().
 *
 * Since: 1.0
 */
void
dp_message_router (DpNode  *node,
                   GSource *first_source,
                   ...)
{
  g_autoptr(GPtrArray) sources = g_ptr_array_new ();
  va_list ap;
  GSource *source;

  g_return_if_fail (DP_IS_NODE (node));

  va_start (ap, first_source);
  for (source = first_source; source != NULL; source = va_arg (ap, GSource *))
    g_ptr_array_add (sources, source);
  va_end (ap);
  dp_message_router_run (node, (GSource **) sources->pdata, sources->len);
  for (guint i = 0; i < sources->len; i++)
    g_source_unref (sources->pdata[i]);
}

/**
 * dp_message_router_run:
 * @node: the master's #DpNode
 * @sources: (array length=n_sources) (nullable) (transfer none): the
 *   #GSource values to attach (timers from dp_after_seconds(),
 *   dp_every_seconds(), or any other)
 * @n_sources: the length of @sources
 *
 * dp_message_router() with an array instead of a %NULL-terminated list:
 * the form bindings call. The sources are attached to the node's main
 * context and the context runs until dp_message_router_quit(). Unlike
 * dp_message_router(), it does not take the caller's references.
 *
 * ```c
 * GSource *timer = dp_every_seconds (1.0, tick, NULL, NULL);
 *
 * dp_message_router_run (node, &timer, 1);   // until dp_message_router_quit()
 * g_source_unref (timer);
 * ```
 *
 * Since: 1.0
 */
void
dp_message_router_run (DpNode   *node,
                       GSource **sources,
                       gsize     n_sources)
{
  GMainLoop *loop;

  g_return_if_fail (DP_IS_NODE (node));
  g_return_if_fail (sources != NULL || n_sources == 0);

  for (gsize i = 0; i < n_sources; i++)
    g_source_attach (sources[i], dp_node_get_context (node));

  loop = g_main_loop_ref (_dp_node_get_user_loop (node));
  g_main_context_push_thread_default (dp_node_get_context (node));
  g_main_loop_run (loop);
  g_main_context_pop_thread_default (dp_node_get_context (node));
  g_main_loop_unref (loop);
}

/**
 * dp_message_router_quit:
 * @node: the #DpNode passed to dp_message_router()
 *
 * Makes dp_message_router() return.
 *
 * Since: 1.0
 */
void
dp_message_router_quit (DpNode *node)
{
  g_return_if_fail (DP_IS_NODE (node));
  g_main_loop_quit (_dp_node_get_user_loop (node));
}

/**
 * dp_after_seconds:
 * @seconds: delay
 * @func: called once, after @seconds
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * The seed's `after-seconds`. The delay counts from when the source is
 * attached (by dp_message_router()), that is, from the start of the event
 * loop. The return value of @func is ignored: it runs once.
 *
 * Returns: (transfer full): a #GSource for dp_message_router()
 *
 * Since: 1.0
 */
GSource *
dp_after_seconds (gdouble         seconds,
                  GSourceFunc     func,
                  gpointer        user_data,
                  GDestroyNotify  notify)
{
  GSource *source = dp_timeout_source_new (seconds);

  g_source_set_callback (source, func, user_data, notify);
  g_source_set_static_name (source, "dp_after_seconds");
  return source;
}

typedef struct {
  GSourceFunc    func;
  gpointer       user_data;
  GDestroyNotify notify;
  gboolean       first;
} EveryData;

static gboolean
every_cb (gpointer data)
{
  EveryData *ed = data;

  return ed->func (ed->user_data);
}

static void
every_free (gpointer data)
{
  EveryData *ed = data;

  if (ed->notify)
    ed->notify (ed->user_data);
  g_free (ed);
}

/**
 * dp_every_seconds:
 * @seconds: period
 * @func: called at once, then every @seconds, while it returns
 *   %G_SOURCE_CONTINUE
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * The seed's `every-seconds`: like the original, the body runs once as soon
 * as the loop starts, then every @seconds.
 *
 * Returns: (transfer full): a #GSource for dp_message_router()
 *
 * Since: 1.0
 */
GSource *
dp_every_seconds (gdouble         seconds,
                  GSourceFunc     func,
                  gpointer        user_data,
                  GDestroyNotify  notify)
{
  GSource *source = dp_timeout_source_new (seconds);
  EveryData *ed = g_new0 (EveryData, 1);

  ed->func = func;
  ed->user_data = user_data;
  ed->notify = notify;
  g_source_set_callback (source, every_cb, ed, every_free);
  g_source_set_static_name (source, "dp_every_seconds");
  /* first run at once */
  g_source_set_ready_time (source, 0);
  return source;
}

/**
 * dp_spawn_remote_node:
 * @router: the master's #DpNode
 * @host: where
 * @port: the node's port (0: any)
 * @options: (nullable): spawn options
 * @error: return location for a #GError
 *
 * The seed's `spawn-remote-racket-node`; see dp_remote_node_spawn().
 *
 * Returns: (transfer full) (nullable): the node
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_spawn_remote_node (DpNode               *router,
                      const char           *host,
                      guint16               port,
                      const DpSpawnOptions *options,
                      GError              **error)
{
  return dp_remote_node_spawn (router, host, port, options, NULL, error);
}

/**
 * dp_create_place_node:
 * @router: the master's #DpNode
 * @host: where
 * @port: the node's port (0: any)
 * @options: (nullable): spawn options
 * @error: return location for a #GError
 *
 * The seed's `create-place-node`: dp_spawn_remote_node() with what the
 * node's places print copied to our standard output, whatever @options say.
 *
 * Returns: (transfer full) (nullable): the node
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_create_place_node (DpNode               *router,
                      const char           *host,
                      guint16               port,
                      const DpSpawnOptions *options,
                      GError              **error)
{
  g_autoptr(DpSpawnOptions) o = options ? dp_spawn_options_copy (options) : dp_spawn_options_new ();

  dp_spawn_options_set_output (o, DP_SPAWN_OUTPUT_STDOUT);
  return dp_remote_node_spawn (router, host, port, o, NULL, error);
}

/**
 * dp_spawn_node_at:
 * @router: the master's #DpNode
 * @host: where
 * @port: the node's port (0: any)
 * @options: (nullable): spawn options
 * @callback: called in the caller's thread-default context once the node is
 *   up (dp_remote_node_spawn_finish() gives it) or failed
 * @user_data: data for @callback
 *
 * The seed's `spawn-node-at`: starts spawning a node in the background. (The
 * seed returns a channel that becomes ready with the node; in C that is the
 * callback. Unlike the seed, a failure is reported, with its #GError.)
 *
 * Since: 1.0
 */
void
dp_spawn_node_at (DpNode               *router,
                  const char           *host,
                  guint16               port,
                  const DpSpawnOptions *options,
                  GAsyncReadyCallback   callback,
                  gpointer              user_data)
{
  dp_remote_node_spawn_async (router, host, port, options, NULL, callback, user_data);
}


typedef struct {
  GPtrArray *nodes;      /* in the order of the descriptions; NULL until up */
  GError    *error;      /* the first failure */
  guint      pending;
} JoinState;

typedef struct {
  JoinState *state;
  guint      index;
} JoinSlot;

static void
join_spawned (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  JoinSlot *slot = user_data;
  JoinState *st = slot->state;
  GError *error = NULL;
  DpRemoteNode *node = dp_remote_node_spawn_finish (result, &error);

  if (node)
    st->nodes->pdata[slot->index] = node;
  else if (st->error == NULL)
    st->error = error;
  else
    g_error_free (error);
  st->pending--;
  g_free (slot);
}

/**
 * dp_spawn_nodes_join:
 * @router: the master's #DpNode
 * @descs: (array length=n_descs): the nodes
 * @n_descs: how many
 * @error: return location for a #GError
 *
 * The seed's `spawn-nodes/join`: spawns all the nodes at once (local ones as
 * child processes, remote ones each over its own ssh session) and waits
 * until every one is up. If any fails, the others are released (they exit)
 * and the first error is returned.
 *
 * Returns: (transfer full) (element-type DpRemoteNode) (nullable): the
 *   nodes, in the order of @descs
 *
 * Since: 1.0
 */
GPtrArray *
dp_spawn_nodes_join (DpNode            *router,
                     const DpNodeDesc  *descs,
                     gsize              n_descs,
                     GError           **error)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  JoinState st = { 0 };

  g_return_val_if_fail (DP_IS_NODE (router), NULL);
  g_return_val_if_fail (descs != NULL || n_descs == 0, NULL);

  st.nodes = g_ptr_array_new_full ((guint) n_descs, _dp_object_unref_nullable);
  g_ptr_array_set_size (st.nodes, (guint) n_descs);
  st.pending = (guint) n_descs;

  /* completions arrive in a private context: nothing of the caller's runs */
  g_main_context_push_thread_default (ctx);
  for (gsize i = 0; i < n_descs; i++)
    {
      JoinSlot *slot = g_new0 (JoinSlot, 1);
      slot->state = &st;
      slot->index = (guint) i;
      dp_remote_node_spawn_async (router, descs[i].host, descs[i].port, descs[i].options,
                                  NULL, join_spawned, slot);
    }
  while (st.pending > 0)
    g_main_context_iteration (ctx, TRUE);
  g_main_context_pop_thread_default (ctx);

  if (st.error)
    {
      g_propagate_error (error, st.error);
      g_ptr_array_unref (st.nodes);
      return NULL;
    }
  return st.nodes;
}

/**
 * dp_supervise_thread_at:
 * @node: a #DpRemoteNode
 * @plugin: the plugin
 * @symbol: the place function
 *
 * The seed's `supervise-thread-at`: runs @symbol as a thread on the node.
 * In libdp every place is a thread of its node process already, so this is
 * dp_supervise_place_at() without flags; the connection works the same way.
 *
 * Returns: (transfer full): the connection to the place
 *
 * Since: 1.0
 */
DpRemoteConnection *
dp_supervise_thread_at (DpRemoteNode *node,
                        const char   *plugin,
                        const char   *symbol)
{
  return dp_remote_node_launch_place (node, plugin, symbol, 0, NULL);
}

/**
 * dp_spawn_node_supervise_place_at:
 * @router: the master's #DpNode
 * @host: where
 * @port: the node's port (0: any)
 * @plugin: the place's plugin
 * @symbol: the place function or thunk
 * @flags: #DpLaunchFlags
 * @name: (nullable): name the place on its node
 * @options: (nullable): spawn options
 * @node_out: (out) (transfer full) (optional): the node
 * @connection_out: (out) (transfer full) (optional): the place
 * @error: return location for a #GError
 *
 * The seed's `spawn-node-supervise-place-at`: spawns a node, starts one
 * place on it and waits until the place runs.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
dp_spawn_node_supervise_place_at (DpNode               *router,
                                  const char           *host,
                                  guint16               port,
                                  const char           *plugin,
                                  const char           *symbol,
                                  DpLaunchFlags         flags,
                                  const char           *name,
                                  const DpSpawnOptions *options,
                                  DpRemoteNode        **node_out,
                                  DpRemoteConnection  **connection_out,
                                  GError              **error)
{
  g_autoptr(DpRemoteNode) node = NULL;
  g_autoptr(DpRemoteConnection) rc = NULL;

  node = dp_remote_node_spawn (router, host, port, options, NULL, error);
  if (node == NULL)
    return FALSE;
  rc = dp_remote_node_launch_place (node, plugin, symbol, flags, name);
  if (!dp_remote_connection_wait_ready (rc, NULL, error))
    return FALSE;
  if (node_out)
    *node_out = g_steal_pointer (&node);
  if (connection_out)
    *connection_out = g_steal_pointer (&rc);
  return TRUE;
}

/**
 * dp_spawn_node_with_place_at:
 * @router: the master's #DpNode
 * @host: where
 * @port: the node's port (0: any)
 * @plugin: the place's plugin
 * @symbol: the place function or thunk
 * @flags: #DpLaunchFlags
 * @name: (nullable): name the place on its node
 * @options: (nullable): spawn options
 * @error: return location for a #GError
 *
 * The seed's `spawn-node-with-place-at`: like
 * dp_spawn_node_supervise_place_at() but returns only the node; get the
 * place with dp_node_get_first_place().
 *
 * Returns: (transfer full) (nullable): the node
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_spawn_node_with_place_at (DpNode               *router,
                             const char           *host,
                             guint16               port,
                             const char           *plugin,
                             const char           *symbol,
                             DpLaunchFlags         flags,
                             const char           *name,
                             const DpSpawnOptions *options,
                             GError              **error)
{
  DpRemoteNode *node = NULL;

  if (!dp_spawn_node_supervise_place_at (router, host, port, plugin, symbol, flags, name,
                                         options, &node, NULL, error))
    return NULL;
  return node;
}

/**
 * dp_supervise_place_at:
 * @node: a #DpRemoteNode
 * @plugin: the place's plugin
 * @symbol: the place function or thunk
 * @flags: #DpLaunchFlags
 * @name: (nullable): name the place on its node
 *
 * The seed's `supervise-place-at`; see dp_remote_node_launch_place().
 *
 * Returns: (transfer full): the connection to the place
 *
 * Since: 1.0
 */
DpRemoteConnection *
dp_supervise_place_at (DpRemoteNode  *node,
                       const char    *plugin,
                       const char    *symbol,
                       DpLaunchFlags  flags,
                       const char    *name)
{
  return dp_remote_node_launch_place (node, plugin, symbol, flags, name);
}

/**
 * dp_connect_to_named_place:
 * @node: a #DpRemoteNode
 * @name: the place's name
 *
 * The seed's `connect-to-named-place`: the same as
 * dp_remote_node_connect_to_named_place().
 *
 * Returns: (transfer full): the connection
 *
 * Since: 1.0
 */
DpRemoteConnection *
dp_connect_to_named_place (DpRemoteNode *node,
                           const char   *name)
{
  return dp_remote_node_connect_to_named_place (node, name);
}

/**
 * dp_node_send_exit:
 * @node: a #DpRemoteNode
 *
 * The seed's `node-send-exit`.
 *
 * Since: 1.0
 */
void
dp_node_send_exit (DpRemoteNode *node)
{
  dp_remote_node_send_exit (node);
}

/**
 * dp_node_get_first_place:
 * @node: a #DpRemoteNode
 *
 * The seed's `node-get-first-place`: the place that was started with the
 * node, if any (see dp_remote_node_get_first_place()).
 *
 * Returns: (transfer none) (nullable): the seed's `node-get-first-place`
 *
 * Since: 1.0
 */
DpRemoteConnection *
dp_node_get_first_place (DpRemoteNode *node)
{
  return dp_remote_node_get_first_place (node);
}

/* One way a record goes to the root: on @ch when there is one (a place's,
 * a server's), else logged here (this process is the root). */
void
_dp_log_to_parent (DpPlaceChannel *ch,
                   const char     *severity,
                   const char     *text)
{
  if (ch)
    dp_place_channel_log (ch, severity, text);
  else
    g_log_structured (G_LOG_DOMAIN, _dp_severity_to_level (severity),
                      "DP_SEVERITY", severity,
                      "MESSAGE", "%s", text);
}

/**
 * dp_log_message: (skip)
 * @severity: "fatal", "error", "warning", "info" or "debug"
 * @format: printf-style format
 * @...: arguments
 *
 * The seed's `log-message`: logs at the root node. Called in a place, the
 * record travels to the master that started it (see
 * dp_place_channel_log()); elsewhere this process is the root and logs it.
 * Bindings call dp_log_message_literal().
 *
 * Since: 1.0
 */
void
dp_log_message (const char *severity,
                const char *format,
                ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  dp_log_message_literal (severity, text);
}

/**
 * dp_log_message_literal:
 * @severity: "fatal", "error", "warning", "info" or "debug"
 * @message: the text, used as is (no format)
 *
 * dp_log_message() without a format: the form bindings call.
 *
 * ```c
 * dp_log_message_literal ("info", "worker 3 done");
 * ```
 *
 * Since: 1.0
 */
void
dp_log_message_literal (const char *severity,
                        const char *message)
{
  g_return_if_fail (severity != NULL);
  g_return_if_fail (message != NULL);

  _dp_log_to_parent (_dp_place_get_current_channel (), severity, message);
}

/**
 * dp_distributed_place_wait:
 * @connection: a #DpRemoteConnection
 *
 * The seed's `distributed-place-wait`.
 *
 * Returns: how the place ended
 *
 * Since: 1.0
 */
DpPlaceExit
dp_distributed_place_wait (DpRemoteConnection *connection)
{
  return dp_remote_connection_wait (connection);
}
