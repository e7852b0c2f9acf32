/* dp-node.c: DpNode, the message router of a node
 *
 * A DpNode owns a router thread running its own GMainContext: every socket
 * of the node is read there, so a blocking get in the application (even in
 * a main-loop callback) never stops the traffic. Signals are emitted in the
 * thread-default main context that was current when the node was created.
 *
 * This file owns the router thread, the node's settings (secret, plugin
 * path, frame size, heartbeats, limits for peers), its signals, and the
 * client side's one step: connecting and authenticating to a node for a
 * DpRemoteNode. The
 * server half — accepting connections and starting places for peers —
 * is dp-node-server.c, which calls back only through the hooks given it
 * here; running code on the router is dp-main-context.c.
 *
 * Threads: the public API may be called from any thread; settings are
 * read by the router when it accepts or makes a connection. Signals are
 * emitted in the owner context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

struct _DpNode
{
  GObject           parent_instance;

  /* immutable after construction */
  GMainContext     *owner_context;      /* where signals are emitted */
  GMainContext     *router_context;
  GMainLoop        *router_loop;
  DpSharedLoop     *router_shared;   /* runs router_context: the router's thread, or a reader */
  DpNodeServer     *server;             /* the server half; router thread only */

  /* owner context only (set in dispose) */
  GThread          *router_thread;
  /* created on first use by dp_message_router(), in the owner context */
  GMainLoop        *user_loop;

  /* under @lock */
  GMutex            lock;
  GBytes           *secret;
  char             *secret_source;      /* where it came from, for error messages */
  GPtrArray        *plugin_dirs;        /* char*, NULL-terminated on use */
  char             *advertised_host;    /* in channel references (dp-mesh.c), or NULL */
  char             *cookie_path;        /* the cookie the secret came from (NULL: the default) */
  gboolean          cookie_secret;      /* the secret came from a cookie file */
  DpTls            *tls;                /* this node's TLS credentials, set or made */
  char             *ca_pem;             /* a master's cluster CA (certificate and key) */

  /* set by the application, read by the router when a connection is made
   * or accepted: not locked (a word each; set them before connecting) */
  gsize             max_frame;
  gdouble           hb_interval;
  gdouble           hb_timeout;
  DpServerLimits    limits;             /* max-places, -per-connection, max-pending-connections */
  /* flow control (same rule): bytes a connection queues for writing, and
   * the limits of the inboxes its messages go into */
  gsize             max_output_queue;
  gsize             max_inbox_size;
  guint             max_inbox_messages;
  DpTlsMode         tls_mode;           /* DpNode:tls */
  /* spawn pacing: the limits (same rule: read when a spawn starts) */
  guint             max_spawns;
  guint             max_spawns_per_host;

  /* spawn pacing, router thread only */
  guint             spawns_running;
  GHashTable       *spawns_per_host;    /* host (as given) -> running spawns */
  GQueue            spawns_waiting;     /* WaitingSpawn*, in request order */
};

/* a spawn waiting for DpNode:max-concurrent-spawns(-per-host) */
typedef struct {
  char         *host;
  DpInvokeFunc  start;
  gpointer      data;
} WaitingSpawn;

enum {
  PROP_0,
  PROP_MAX_FRAME_SIZE,
  PROP_PORT,
  PROP_HEARTBEAT_INTERVAL,
  PROP_HEARTBEAT_TIMEOUT,
  PROP_MAX_PLACES,
  PROP_MAX_PLACES_PER_CONNECTION,
  PROP_MAX_PENDING_CONNECTIONS,
  PROP_MAX_OUTPUT_QUEUE,
  PROP_MAX_INBOX_SIZE,
  PROP_MAX_INBOX_MESSAGES,
  PROP_MAX_CONCURRENT_SPAWNS,
  PROP_MAX_CONCURRENT_SPAWNS_PER_HOST,
  PROP_TLS,
  N_PROPS
};

enum {
  SIGNAL_EXIT_REQUESTED,
  SIGNAL_PLACE_EXITED,
  SIGNAL_PEER_REJECTED,
  SIGNAL_LOG,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (DpNode, dp_node, G_TYPE_OBJECT)

static GBytes *get_secret (DpNode *self, char **source, GError **error);

/* ---- the router thread ---- */

gboolean
_dp_node_in_router (DpNode *self)
{
  /* the router's thread, or a reader leading its context for a while
   * (see DpSharedLoop): whoever runs the router's context is the router */
  return g_main_context_is_owner (self->router_context);
}

GMainContext *
_dp_node_get_router_context (DpNode *self)
{
  return self->router_context;
}

DpNodeServer *
_dp_node_get_server (DpNode *self)
{
  return self->server;
}

void
_dp_node_invoke (DpNode         *self,
                 DpInvokeFunc    func,
                 gpointer        data,
                 GDestroyNotify  notify)
{
  _dp_main_context_invoke (self->router_context, "[libdp] router call", func, data, notify);
}

/* Runs @func on the router and waits; inline when called on the router. */
void
_dp_node_invoke_sync (DpNode       *self,
                      DpInvokeFunc  func,
                      gpointer      data)
{
  if (_dp_node_in_router (self))
    func (data);
  else
    _dp_main_context_invoke_sync (self->router_context, "[libdp] router call (sync)", func, data);
}

static gpointer
router_thread_main (gpointer data)
{
  DpNode *self = data;
  /* The node may be finalized on this thread (its last reference dropped
   * by something the router runs): never touch @self after the loop. */
  DpSharedLoop *shared = _dp_shared_loop_ref (self->router_shared);

  _dp_shared_loop_run (shared);
  _dp_shared_loop_unref (shared);
  return NULL;
}

/* ---- what the server half asks of its node (DpNodeServerHooks) ---- */

static GBytes *
server_get_secret (GObject  *node,
                   char    **source,
                   GError  **error)
{
  return get_secret (DP_NODE (node), source, error);
}

static gpointer
server_lookup_plugin (GObject     *node,
                      const char  *plugin,
                      const char  *symbol,
                      GError     **error)
{
  DpNode *self = DP_NODE (node);

  DP_ASSERT_ROUTER_THREAD (self);
  return _dp_node_lookup_plugin (self, plugin, symbol, error);
}

/* any thread: a function from a plugin on this node's plugin path */
gpointer
_dp_node_lookup_plugin (DpNode      *self,
                        const char  *plugin,
                        const char  *symbol,
                        GError     **error)
{
  gpointer fn;

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->plugin_dirs, NULL);
  fn = _dp_plugin_lookup (plugin, symbol, (const char * const *) self->plugin_dirs->pdata,
                          FALSE, error);
  g_ptr_array_remove_index (self->plugin_dirs, self->plugin_dirs->len - 1);
  g_mutex_unlock (&self->lock);
  return fn;
}

static void
server_accept_params (GObject *node,
                      gsize   *max_frame,
                      gdouble *hb_interval,
                      gdouble *hb_timeout)
{
  DpNode *self = DP_NODE (node);

  DP_ASSERT_ROUTER_THREAD (self);
  *max_frame = self->max_frame;
  *hb_interval = self->hb_interval;
  *hb_timeout = self->hb_timeout;
}

typedef struct {
  char        *symbol;
  DpPlaceExit  exit;
  char        *detail;
} PlaceExited;

static void
place_exited_free (gpointer data)
{
  PlaceExited *pe = data;

  g_free (pe->symbol);
  g_free (pe->detail);
  g_free (pe);
}

static void
emit_place_exited (gpointer object,
                   gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpNode *) object)->owner_context);
  PlaceExited *pe = data;

  g_signal_emit (object, signals[SIGNAL_PLACE_EXITED], 0, pe->symbol, pe->exit, pe->detail);
}

static void
server_place_exited (GObject     *node,
                     const char  *symbol,
                     DpPlaceExit  exit,
                     const char  *detail)
{
  DpNode *self = DP_NODE (node);
  PlaceExited *pe = g_new (PlaceExited, 1);

  DP_ASSERT_ROUTER_THREAD (self);
  pe->symbol = g_strdup (symbol);
  pe->exit = exit;
  pe->detail = g_strdup (detail);
  _dp_object_invoke (self->owner_context, self, emit_place_exited, pe, place_exited_free);
}

static void
emit_exit_requested (gpointer object,
                     gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpNode *) object)->owner_context);
  g_signal_emit (object, signals[SIGNAL_EXIT_REQUESTED], 0);
}

static void
server_exit_requested (GObject *node)
{
  DpNode *self = DP_NODE (node);

  DP_ASSERT_ROUTER_THREAD (self);
  _dp_object_invoke (self->owner_context, self, emit_exit_requested, NULL, NULL);
}

static void
emit_peer_rejected (gpointer object,
                    gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpNode *) object)->owner_context);
  char **pair = data;

  g_signal_emit (object, signals[SIGNAL_PEER_REJECTED], 0, pair[0], pair[1]);
}

static void
server_peer_rejected (GObject    *node,
                      const char *peer,
                      const char *reason)
{
  DpNode *self = DP_NODE (node);
  char **pair = g_new0 (char *, 3);

  DP_ASSERT_ROUTER_THREAD (self);
  pair[0] = g_strdup (peer);
  pair[1] = g_strdup (reason);
  _dp_object_invoke (self->owner_context, self, emit_peer_rejected, pair,
                     (GDestroyNotify) g_strfreev);
}

static GStrv
server_dup_plugin_dirs (GObject *node)
{
  DpNode *self = DP_NODE (node);
  GStrv dirs;

  g_mutex_lock (&self->lock);
  dirs = g_new0 (char *, self->plugin_dirs->len + 1);
  for (guint i = 0; i < self->plugin_dirs->len; i++)
    dirs[i] = g_strdup (self->plugin_dirs->pdata[i]);
  g_mutex_unlock (&self->lock);
  return dirs;
}

static void
server_get_limits (GObject        *node,
                   DpServerLimits *limits)
{
  DpNode *self = DP_NODE (node);

  DP_ASSERT_ROUTER_THREAD (self);
  *limits = self->limits;
}

static void
server_flow_params (GObject *node,
                    gsize   *max_output_queue,
                    gsize   *max_inbox_size,
                    guint   *max_inbox_messages)
{
  DpNode *self = DP_NODE (node);

  *max_output_queue = self->max_output_queue;
  *max_inbox_size = self->max_inbox_size;
  *max_inbox_messages = self->max_inbox_messages;
}

static DpTls *
server_get_tls (GObject           *node,
                GSocketConnection *sconn,
                GError           **error)
{
  return _dp_node_tls_for (DP_NODE (node), sconn, error);
}

static const DpNodeServerHooks server_hooks = {
  server_get_secret,
  server_lookup_plugin,
  server_accept_params,
  server_place_exited,
  server_exit_requested,
  server_peer_rejected,
  server_dup_plugin_dirs,
  server_get_limits,
  .flow_params = server_flow_params,
  .get_tls = server_get_tls,
};

/* ---- client side (a master) ---- */

typedef struct {
  char *node;
  char *place;
  char *severity;
  char *message;
} LogRecord;

static void
log_record_free (gpointer data)
{
  LogRecord *lr = data;

  g_free (lr->node);
  g_free (lr->place);
  g_free (lr->severity);
  g_free (lr->message);
  g_free (lr);
}

static void
emit_log (gpointer object,
          gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpNode *) object)->owner_context);
  LogRecord *lr = data;

  g_signal_emit (object, signals[SIGNAL_LOG], 0, lr->node, lr->place, lr->severity, lr->message);
}

/* A log record from a place on a node this one started (router thread):
 * through GLib structured logging, then #DpNode::log in the owner's context. */
void
_dp_node_peer_log (DpNode     *self,
                   const char *from_node,
                   const char *place,
                   const char *severity,
                   const char *message)
{
  LogRecord *lr = g_new (LogRecord, 1);

  DP_ASSERT_ROUTER_THREAD (self);
  lr->node = g_strdup (from_node);
  lr->place = g_strdup (place ? place : "");
  lr->severity = g_strdup (severity);
  lr->message = g_strdup (message);
  g_log_structured (G_LOG_DOMAIN, _dp_severity_to_level (severity),
                    "DP_NODE", lr->node,
                    "DP_PLACE", lr->place,
                    "DP_SEVERITY", severity,
                    "DP_EVENT", "place-log",
                    "MESSAGE", "[%s %s] %s", lr->node, lr->place, message);
  _dp_object_invoke (self->owner_context, self, emit_log, lr, log_record_free);
}

typedef struct {
  const DpConnectionHandler *handler;
  gpointer                   handler_data;
  DpConnection              *conn;
  GTask                     *task;
} ConnectOp;

static void
connect_op_free (ConnectOp *op)
{
  g_clear_pointer (&op->conn, _dp_connection_unref);
  g_free (op);
}

static void
connect_ready (DpConnection *conn,
               gpointer      data)
{
  GTask *task = data;
  ConnectOp *op = g_task_get_task_data (task);

  _dp_connection_set_handler (conn, op->handler, op->handler_data);
  g_task_return_pointer (task, _dp_connection_ref (conn), (GDestroyNotify) _dp_connection_unref);
  g_object_unref (task);
}

static void
connect_closed (DpConnection *conn,
                const GError *reason,
                gpointer      data)
{
  GTask *task = data;

  if (reason)
    g_task_return_error (task, g_error_copy (reason));
  else
    g_task_return_new_error (task, DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                             "connection closed during the handshake");
  g_object_unref (task);
}

static const DpConnectionHandler connect_handler = {
  connect_ready, NULL, connect_closed,
};

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  DpNode *self = g_task_get_source_object (task);
  ConnectOp *op = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) sconn = NULL;
  g_autoptr(GBytes) secret = NULL;
  g_autofree char *secret_source = NULL;
  g_autoptr(DpTls) tls = NULL;

  DP_ASSERT_ROUTER_THREAD (self);
  sconn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (sconn == NULL)
    {
      g_task_return_error (task, _dp_error_from_gio (error, NULL));
      g_object_unref (task);
      return;
    }
  secret = get_secret (self, &secret_source, &error);
  if (secret == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  tls = _dp_node_tls_for (self, sconn, &error);
  if (tls == NULL && error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  op->conn = _dp_connection_new (sconn, DP_CONNECTION_CLIENT, secret, secret_source, self->max_frame,
                                 self->router_context, &connect_handler, task);
  _dp_connection_set_tls (op->conn, tls);
  _dp_connection_set_heartbeat (op->conn, self->hb_interval, self->hb_timeout);
  _dp_connection_set_flow (op->conn, self->max_output_queue, self->max_inbox_size,
                           self->max_inbox_messages);
  _dp_connection_start (op->conn);
}

/* Call in the router thread. */
void
_dp_node_connect_async (DpNode                    *self,
                        const char                *host,
                        guint16                    port,
                        const DpConnectionHandler *handler,
                        gpointer                   handler_data,
                        GCancellable              *cancellable,
                        GAsyncReadyCallback        callback,
                        gpointer                   user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  ConnectOp *op = g_new0 (ConnectOp, 1);
  g_autoptr(GSocketClient) client = g_socket_client_new ();

  DP_ASSERT_ROUTER_THREAD (self);
  g_task_set_source_tag (task, _dp_node_connect_async);
  op->handler = handler;
  op->handler_data = handler_data;
  g_task_set_task_data (task, op, (GDestroyNotify) connect_op_free);
  g_socket_client_set_timeout (client, 30);
  /* A node is reached directly, as the seed's tcp-connect does: never
   * through an HTTP or SOCKS proxy of the desktop's settings. (Asking the
   * proxy resolver also loads GIO's modules, libproxy among them where it
   * is installed: a cost on every master's first connection.) */
  g_socket_client_set_enable_proxy (client, FALSE);
  if (g_hostname_is_ip_address (host))
    {
      /* an address (a local node's 127.0.0.1): nothing to resolve, so no
       * GNetworkAddress to parse it and enumerate its one address */
      g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string (host, port);

      if (address != NULL)
        {
          g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), cancellable,
                                         connected_cb, task);
          return;
        }
    }
  g_socket_client_connect_to_host_async (client, host, port, cancellable, connected_cb, task);
}

DpConnection *
_dp_node_connect_finish (DpNode        *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- spawn pacing (DpNode:max-concurrent-spawns, -per-host) ---- */

static guint
spawns_on (DpNode     *self,
           const char *host)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->spawns_per_host, host));
}

/* router thread: @host takes a slot and @start runs */
static void
spawn_start (DpNode       *self,
             const char   *host,
             DpInvokeFunc  start,
             gpointer      data)
{
  DP_ASSERT_ROUTER_THREAD (self);
  self->spawns_running++;
  g_hash_table_replace (self->spawns_per_host, g_strdup (host),
                        GUINT_TO_POINTER (spawns_on (self, host) + 1));
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_NODE", host,
                    "DP_EVENT", "spawn-start",
                    "MESSAGE", "spawning a node on %s (%u spawns under way, %u on this host)",
                    host, self->spawns_running, spawns_on (self, host));
  start (data);
}

static gboolean
spawn_allowed (DpNode     *self,
               const char *host)
{
  return self->spawns_running < self->max_spawns &&
         spawns_on (self, host) < self->max_spawns_per_host;
}

/* Router thread: runs @start (@data) now if the spawn limits allow one
 * more spawn, to @host, else once they do, in the order asked. Each call
 * is paired with one _dp_node_spawn_done() for @host, when the spawn has
 * got its node to ready or failed. The waiting line holds one entry per
 * spawn the application asked for (each already a DpRemoteNode of its). */
void
_dp_node_spawn_when_allowed (DpNode         *self,
                             const char     *host,
                             DpInvokeFunc    start,
                             gpointer        data)
{
  WaitingSpawn *w;

  DP_ASSERT_ROUTER_THREAD (self);
  if (g_queue_is_empty (&self->spawns_waiting) && spawn_allowed (self, host))
    {
      spawn_start (self, host, start, data);
      return;
    }
  w = g_new0 (WaitingSpawn, 1);
  w->host = g_strdup (host);
  w->start = start;
  w->data = data;
  g_queue_push_tail (&self->spawns_waiting, w);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_NODE", host,
                    "DP_EVENT", "spawn-waiting",
                    "MESSAGE", "a spawn on %s waits: %u under way, %u on this host, %u waiting",
                    host, self->spawns_running, spawns_on (self, host),
                    self->spawns_waiting.length);
}

/* Router thread: a spawn to @host has finished (ready or failed); the
 * first waiting ones that the limits now allow start. */
void
_dp_node_spawn_done (DpNode     *self,
                     const char *host)
{
  guint n = spawns_on (self, host);

  DP_ASSERT_ROUTER_THREAD (self);
  g_assert (n > 0 && self->spawns_running > 0);
  self->spawns_running--;
  if (n == 1)
    g_hash_table_remove (self->spawns_per_host, host);
  else
    g_hash_table_replace (self->spawns_per_host, g_strdup (host), GUINT_TO_POINTER (n - 1));
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_NODE", host,
                    "DP_EVENT", "spawn-done",
                    "MESSAGE", "a spawn on %s is done (%u under way)", host, self->spawns_running);

  /* In order, skipping those whose host is at its own limit. A start may
   * fail at once and come back here: each one is taken off the line
   * before it starts, and the line is looked at afresh after it. */
  while (self->spawns_running < self->max_spawns)
    {
      WaitingSpawn *w = NULL;
      GList *l;

      for (l = self->spawns_waiting.head; l; l = l->next)
        if (spawn_allowed (self, ((WaitingSpawn *) l->data)->host))
          break;
      if (l == NULL)
        break;
      w = l->data;
      g_queue_delete_link (&self->spawns_waiting, l);
      spawn_start (self, w->host, w->start, w->data);
      g_free (w->host);
      g_free (w);
    }
}

/* ---- GObject ---- */

static void
shutdown_in_router (gpointer data)
{
  DpNode *self = data;

  DP_ASSERT_ROUTER_THREAD (self);
  _dp_node_server_shutdown (self->server);
}

static void
dp_node_dispose (GObject *object)
{
  DpNode *self = DP_NODE (object);

  if (self->router_thread)
    {
      _dp_node_invoke_sync (self, shutdown_in_router, self);
      g_main_loop_quit (self->router_loop);
      _dp_shared_loop_quit (self->router_shared);
      if (_dp_node_in_router (self))
        g_thread_unref (self->router_thread);
      else
        g_thread_join (self->router_thread);
      self->router_thread = NULL;
    }
  G_OBJECT_CLASS (dp_node_parent_class)->dispose (object);
}

static void
dp_node_finalize (GObject *object)
{
  DpNode *self = DP_NODE (object);

  g_clear_pointer (&self->user_loop, g_main_loop_unref);
  g_main_loop_unref (self->router_loop);
  _dp_shared_loop_unref (self->router_shared);
  g_main_context_unref (self->router_context);
  g_main_context_unref (self->owner_context);
  g_clear_pointer (&self->secret, g_bytes_unref);
  g_free (self->secret_source);
  g_free (self->advertised_host);
  g_free (self->cookie_path);
  g_clear_pointer (&self->tls, _dp_tls_unref);
  if (self->ca_pem)
    memset (self->ca_pem, 0, strlen (self->ca_pem));
  g_free (self->ca_pem);
  g_ptr_array_unref (self->plugin_dirs);
  _dp_node_server_free (self->server);
  /* a waiting spawn holds its DpRemoteNode, which holds this node: none
   * is left by now */
  g_assert (g_queue_is_empty (&self->spawns_waiting));
  g_hash_table_unref (self->spawns_per_host);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (dp_node_parent_class)->finalize (object);
}

static void
dp_node_get_property (GObject    *object,
                      guint       prop_id,
                      GValue     *value,
                      GParamSpec *pspec)
{
  DpNode *self = DP_NODE (object);

  switch (prop_id)
    {
    case PROP_MAX_FRAME_SIZE:
      g_value_set_uint64 (value, self->max_frame);
      break;
    case PROP_PORT:
      g_value_set_uint (value, _dp_node_server_get_port (self->server));
      break;
    case PROP_HEARTBEAT_INTERVAL:
      g_value_set_double (value, self->hb_interval);
      break;
    case PROP_HEARTBEAT_TIMEOUT:
      g_value_set_double (value, self->hb_timeout);
      break;
    case PROP_MAX_PLACES:
      g_value_set_uint (value, self->limits.max_places);
      break;
    case PROP_MAX_PLACES_PER_CONNECTION:
      g_value_set_uint (value, self->limits.max_places_per_connection);
      break;
    case PROP_MAX_PENDING_CONNECTIONS:
      g_value_set_uint (value, self->limits.max_pending_connections);
      break;
    case PROP_MAX_OUTPUT_QUEUE:
      g_value_set_uint64 (value, self->max_output_queue);
      break;
    case PROP_MAX_INBOX_SIZE:
      g_value_set_uint64 (value, self->max_inbox_size);
      break;
    case PROP_MAX_INBOX_MESSAGES:
      g_value_set_uint (value, self->max_inbox_messages);
      break;
    case PROP_MAX_CONCURRENT_SPAWNS:
      g_value_set_uint (value, self->max_spawns);
      break;
    case PROP_MAX_CONCURRENT_SPAWNS_PER_HOST:
      g_value_set_uint (value, self->max_spawns_per_host);
      break;
    case PROP_TLS:
      g_value_set_enum (value, self->tls_mode);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_node_set_property (GObject      *object,
                      guint         prop_id,
                      const GValue *value,
                      GParamSpec   *pspec)
{
  DpNode *self = DP_NODE (object);

  switch (prop_id)
    {
    case PROP_MAX_FRAME_SIZE:
      dp_node_set_max_frame_size (self, g_value_get_uint64 (value));
      break;
    case PROP_HEARTBEAT_INTERVAL:
      self->hb_interval = g_value_get_double (value);
      break;
    case PROP_HEARTBEAT_TIMEOUT:
      self->hb_timeout = g_value_get_double (value);
      break;
    case PROP_MAX_PLACES:
      self->limits.max_places = g_value_get_uint (value);
      break;
    case PROP_MAX_PLACES_PER_CONNECTION:
      self->limits.max_places_per_connection = g_value_get_uint (value);
      break;
    case PROP_MAX_PENDING_CONNECTIONS:
      self->limits.max_pending_connections = g_value_get_uint (value);
      break;
    case PROP_MAX_OUTPUT_QUEUE:
      self->max_output_queue = g_value_get_uint64 (value);
      break;
    case PROP_MAX_INBOX_SIZE:
      self->max_inbox_size = g_value_get_uint64 (value);
      break;
    case PROP_MAX_INBOX_MESSAGES:
      self->max_inbox_messages = g_value_get_uint (value);
      break;
    case PROP_MAX_CONCURRENT_SPAWNS:
      self->max_spawns = g_value_get_uint (value);
      break;
    case PROP_MAX_CONCURRENT_SPAWNS_PER_HOST:
      self->max_spawns_per_host = g_value_get_uint (value);
      break;
    case PROP_TLS:
      self->tls_mode = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_node_class_init (DpNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  /* The classes a router thread sets up on first use — a node's first
   * accepted or dialled connection (its GSocket, GTcpConnection and peer
   * address), a master's first ready line (JsonParser) and first place
   * (DpRemoteConnection) — are set up here, on the thread making the
   * first DpNode, before any router thread runs (and the GSocketService
   * and GSocketClient a router listens and dials with). Set up on a router
   * thread while another thread sets up GIO classes of its own, GLib
   * (2.74) can deadlock: one thread in g_type_class_ref() waits on a
   * get_type() the other is inside, which waits for the class lock the
   * first holds (seen: a test's GSocketService against a node's first
   * GSocket). */
  {
    const GType types[] = {
      G_TYPE_SOCKET, G_TYPE_SOCKET_ADDRESS, G_TYPE_INET_ADDRESS, G_TYPE_INET_SOCKET_ADDRESS,
      G_TYPE_SOCKET_CONNECTION, G_TYPE_TCP_CONNECTION, G_TYPE_SOCKET_SERVICE,
      G_TYPE_SOCKET_CLIENT, G_TYPE_TASK, JSON_TYPE_PARSER, DP_TYPE_REMOTE_CONNECTION,
    };

    for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
      g_type_class_unref (g_type_class_ref (types[i]));
  }

  object_class->dispose = dp_node_dispose;
  object_class->finalize = dp_node_finalize;
  object_class->get_property = dp_node_get_property;
  object_class->set_property = dp_node_set_property;

  /**
   * DpNode:max-frame-size:
   *
   * Frames over this many bytes close the connection that sent them
   * (default %DP_DEFAULT_MAX_FRAME_SIZE). Whatever a frame's header claims,
   * the memory held for it grows only with the bytes that have arrived.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_FRAME_SIZE] =
    g_param_spec_uint64 ("max-frame-size", NULL, NULL,
                         1024, G_MAXUINT32, DP_DEFAULT_MAX_FRAME_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * DpNode:port:
   *
   * The TCP port the node listens on, 0 before dp_node_listen().
   *
   * Since: 1.0
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:heartbeat-interval:
   *
   * Every connection made or accepted from now on sends a heartbeat this
   * often (seconds of real time, not scaled by DP_TIME_SCALE; 0 turns
   * heartbeats off). Set before connecting. A node spawned from now on
   * gets it too (`dp-node --heartbeat-interval`), for its connections to
   * other nodes as well. The side that dialled pings and the other
   * answers; and a process sends at most 100 heartbeats a second: with
   * more connections than the interval allows, the interval stretches, up
   * to a quarter of #DpNode:heartbeat-timeout.
   *
   * Since: 1.0
   */
  properties[PROP_HEARTBEAT_INTERVAL] =
    g_param_spec_double ("heartbeat-interval", NULL, NULL, 0, G_MAXDOUBLE, 2.0,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:heartbeat-timeout:
   *
   * A connection on which nothing (data or heartbeat) has arrived for this
   * long is declared dead and closed: a frozen peer (SIGSTOP) or a link cut
   * without a TCP reset is noticed within this time (seconds of real time,
   * not scaled by DP_TIME_SCALE: a sped-up test still runs at the machine's
   * own pace). 0: never. A node spawned from now on gets it too
   * (`dp-node --heartbeat-timeout`): the nodes find a host that stops
   * answering within the same time as their master.
   *
   * Since: 1.0
   */
  properties[PROP_HEARTBEAT_TIMEOUT] =
    g_param_spec_double ("heartbeat-timeout", NULL, NULL, 0, G_MAXDOUBLE, 10.0,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:max-places:
   *
   * The most places peers may run on this node at once (default
   * %DP_DEFAULT_MAX_PLACES). A request for one more fails with
   * %DP_ERROR_LIMIT, naming this limit; the requester sees it as its
   * launch error. Read when a request arrives.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_PLACES] =
    g_param_spec_uint ("max-places", NULL, NULL, 1, G_MAXINT, DP_DEFAULT_MAX_PLACES,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:max-places-per-connection:
   *
   * The most places one connection (one master, one peer node) may run on
   * this node at once (default %DP_DEFAULT_MAX_PLACES_PER_CONNECTION);
   * beyond it a request fails with %DP_ERROR_LIMIT. Clients of named
   * places are not places.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_PLACES_PER_CONNECTION] =
    g_param_spec_uint ("max-places-per-connection", NULL, NULL, 1, G_MAXINT,
                       DP_DEFAULT_MAX_PLACES_PER_CONNECTION,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:max-pending-connections:
   *
   * The most accepted connections still in their handshake (default
   * %DP_DEFAULT_MAX_PENDING_CONNECTIONS); one more is closed at once, and
   * the refusals are logged at most every 10 s. A handshake ends within
   * 10 s, so a legitimate peer gets in once others have finished or timed
   * out. Connections that have authenticated do not count.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_PENDING_CONNECTIONS] =
    g_param_spec_uint ("max-pending-connections", NULL, NULL, 1, G_MAXINT,
                       DP_DEFAULT_MAX_PENDING_CONNECTIONS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:max-output-queue:
   *
   * Bytes a connection made or accepted from now on queues for writing
   * before a data put waits for the peer to read: a place thread (or any
   * thread but the router) blocks in put, a main-loop program sees
   * dp_remote_connection_is_writable() turn %FALSE and its
   * dp_remote_connection_put_async() stay pending. A message is admitted
   * whenever the queue is below the limit, so one larger than it still
   * passes. Control frames (heartbeats, log records, death notices) never
   * wait. Default %DP_DEFAULT_MAX_OUTPUT_QUEUE (8 MiB).
   *
   * Since: 1.0
   */
  properties[PROP_MAX_OUTPUT_QUEUE] =
    g_param_spec_uint64 ("max-output-queue", NULL, NULL, 1, G_MAXUINT64,
                         DP_DEFAULT_MAX_OUTPUT_QUEUE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:max-inbox-size:
   *
   * Bytes of messages the inbox of a place (or of a #DpRemoteConnection)
   * fed by a connection made or accepted from now on holds before the
   * router stops reading that connection, until the reader has taken the
   * inbox down to half. Default %DP_DEFAULT_MAX_INBOX_SIZE (8 MiB).
   *
   * Since: 1.0
   */
  properties[PROP_MAX_INBOX_SIZE] =
    g_param_spec_uint64 ("max-inbox-size", NULL, NULL, 1, G_MAXUINT64,
                         DP_DEFAULT_MAX_INBOX_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:max-inbox-messages:
   *
   * As #DpNode:max-inbox-size, counted in messages. Default
   * %DP_DEFAULT_MAX_INBOX_MESSAGES (4096).
   *
   * Since: 1.0
   */
  properties[PROP_MAX_INBOX_MESSAGES] =
    g_param_spec_uint ("max-inbox-messages", NULL, NULL, 1, G_MAXUINT,
                       DP_DEFAULT_MAX_INBOX_MESSAGES,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:max-concurrent-spawns:
   *
   * The most node spawns (dp_remote_node_spawn() and its async form,
   * restarts included) this router has under way at once: from the start
   * of the ssh session (or the fork) to the node's ready line. More wait,
   * in the order they were asked for, and start as others get there; a
   * node that is up no longer counts. It paces the master's own work (a
   * thread, a key exchange and a few descriptors each) when a program
   * spawns hundreds of nodes. Default %DP_DEFAULT_MAX_CONCURRENT_SPAWNS.
   *
   * ```c
   * // a thousand hosts, 32 ssh sessions starting at a time, 4 per host
   * g_object_set (router, "max-concurrent-spawns", 32,
   *               "max-concurrent-spawns-per-host", 4, NULL);
   * ```
   *
   * Since: 1.0
   */
  properties[PROP_MAX_CONCURRENT_SPAWNS] =
    g_param_spec_uint ("max-concurrent-spawns", NULL, NULL, 1, G_MAXINT,
                       DP_DEFAULT_MAX_CONCURRENT_SPAWNS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:max-concurrent-spawns-per-host:
   *
   * As #DpNode:max-concurrent-spawns, for each host (as named in the spawn
   * call). The default, %DP_DEFAULT_MAX_CONCURRENT_SPAWNS_PER_HOST, stays
   * under OpenSSH's `MaxStartups` (10 unauthenticated connections before
   * sshd starts dropping new ones), so that spawning many nodes on one
   * host does not make its sshd refuse some of them.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_CONCURRENT_SPAWNS_PER_HOST] =
    g_param_spec_uint ("max-concurrent-spawns-per-host", NULL, NULL, 1, G_MAXINT,
                       DP_DEFAULT_MAX_CONCURRENT_SPAWNS_PER_HOST,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:tls:
   *
   * Whether this node's connections speak TLS (#DpTlsMode): by default
   * (%DP_TLS_AUTO) every connection to or from a peer that is not on a
   * loopback address does; %DP_TLS_OFF turns it off for loopback-only
   * clusters, %DP_TLS_ON turns it on for loopback too. The nodes a master
   * spawns get its setting (`dp-node --tls`). The credentials are made
   * with no help: see dp_node_set_tls_credentials(). Set it before the
   * node listens or connects.
   *
   * |[<!-- language="C" -->
   * g_object_set (node, "tls", DP_TLS_OFF, NULL);
   * ]|
   *
   * Since: 1.0
   */
  properties[PROP_TLS] =
    g_param_spec_enum ("tls", NULL, NULL, DP_TYPE_TLS_MODE, DP_TLS_AUTO,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DpNode::exit-requested:
   *
   * A master sent `node-send-exit`. dp-node exits; an embedding
   * application decides for itself.
   *
   * Since: 1.0
   */
  signals[SIGNAL_EXIT_REQUESTED] =
    g_signal_new ("exit-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * DpNode::place-exited:
   * @node: the node
   * @symbol: the place's symbol
   * @exit: a #DpPlaceExit
   * @detail: how it ended, in words
   *
   * A place on this node ended. The peer that started it has been told.
   *
   * Since: 1.0
   */
  signals[SIGNAL_PLACE_EXITED] =
    g_signal_new ("place-exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_INT, G_TYPE_STRING);
  /**
   * DpNode::peer-rejected:
   * @node: the node
   * @peer: the peer's address
   * @reason: why
   *
   * A connection was dropped because its peer failed the handshake or broke
   * the protocol (malformed or oversized frame). Nothing it sent was acted on
   * after that point; every other connection is unaffected.
   *
   * Since: 1.0
   */
  signals[SIGNAL_PEER_REJECTED] =
    g_signal_new ("peer-rejected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * DpNode::log:
   * @node: the root node
   * @from_node: the node the record comes from (host:port)
   * @place: the place that logged it (its symbol), or ""
   * @severity: "fatal", "error", "warning", "info" or "debug"
   * @message: the text
   *
   * A place on a node this one started logged something (the seed's
   * `log-message` / `log-to-parent`). The record has also gone through GLib
   * structured logging with the fields `DP_NODE`, `DP_PLACE` and
   * `DP_SEVERITY`.
   *
   * Since: 1.0
   */
  signals[SIGNAL_LOG] =
    g_signal_new ("log", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
dp_node_init (DpNode *self)
{
  g_mutex_init (&self->lock);
  self->owner_context = g_main_context_ref_thread_default ();
  self->router_context = g_main_context_new ();
  self->router_loop = g_main_loop_new (self->router_context, FALSE);
  self->router_shared = _dp_shared_loop_new (self->router_context);
  self->plugin_dirs = g_ptr_array_new_with_free_func (g_free);
  self->max_frame = DP_DEFAULT_MAX_FRAME_SIZE;
  self->hb_interval = 2.0;
  self->hb_timeout = 10.0;
  self->limits.max_places = DP_DEFAULT_MAX_PLACES;
  self->limits.max_places_per_connection = DP_DEFAULT_MAX_PLACES_PER_CONNECTION;
  self->limits.max_pending_connections = DP_DEFAULT_MAX_PENDING_CONNECTIONS;
  self->max_output_queue = DP_DEFAULT_MAX_OUTPUT_QUEUE;
  self->max_inbox_size = DP_DEFAULT_MAX_INBOX_SIZE;
  self->max_inbox_messages = DP_DEFAULT_MAX_INBOX_MESSAGES;
  self->max_spawns = DP_DEFAULT_MAX_CONCURRENT_SPAWNS;
  self->max_spawns_per_host = DP_DEFAULT_MAX_CONCURRENT_SPAWNS_PER_HOST;
  self->spawns_per_host = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->spawns_waiting);
  self->server = _dp_node_server_new (G_OBJECT (self), self->router_context, &server_hooks);
  {
    g_auto(GStrv) dirs = _dp_plugin_default_dirs ();
    for (guint i = 0; dirs[i]; i++)
      g_ptr_array_add (self->plugin_dirs, g_strdup (dirs[i]));
  }
  self->router_thread = g_thread_new ("dp-router", router_thread_main, self);
}

/* ---- public API ---- */

/**
 * dp_node_new:
 *
 * Creates a message router. Its network I/O runs on a thread of its own;
 * its signals, and those of the objects made through it, are emitted in the
 * thread-default main context of the caller.
 *
 * Returns: (transfer full): a new #DpNode
 *
 * Since: 1.0
 */
DpNode *
dp_node_new (void)
{
  return g_object_new (DP_TYPE_NODE, NULL);
}

/**
 * dp_node_set_secret_full:
 * @self: a #DpNode
 * @secret: the cluster secret (at least 16 bytes)
 * @source: (nullable): where it came from, as error messages are to name
 *   it: "cookie file /home/u/.config/libdp/cookie", "the secret given on
 *   standard input"; %NULL for "a secret set by the application"
 *
 * Sets the secret every connection of this node is authenticated with.
 * When a peer refuses our proof, or fails ours, the #GError
 * (%DP_ERROR_AUTH_FAILED) names @source, which is where a user has to look.
 *
 * Since: 1.0
 */
void
dp_node_set_secret_full (DpNode     *self,
                         GBytes     *secret,
                         const char *source)
{
  g_return_if_fail (DP_IS_NODE (self));
  g_return_if_fail (secret != NULL && g_bytes_get_size (secret) >= DP_SECRET_MIN_LEN);
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->secret, g_bytes_unref);
  self->cookie_secret = FALSE;
  self->secret = g_bytes_ref (secret);
  g_free (self->secret_source);
  self->secret_source = g_strdup (source ? source : "a secret set by the application");
  g_mutex_unlock (&self->lock);
}

/**
 * dp_node_set_secret:
 * @self: a #DpNode
 * @secret: the cluster secret (at least 16 bytes)
 *
 * Sets the secret every connection of this node is authenticated with;
 * error messages call it "a secret set by the application" (see
 * dp_node_set_secret_full()).
 *
 * Since: 1.0
 */
void
dp_node_set_secret (DpNode *self,
                    GBytes *secret)
{
  dp_node_set_secret_full (self, secret, NULL);
}

static char *
cookie_source (const char *path)
{
  g_autofree char *default_path = path ? NULL : dp_cookie_get_default_path ();
  g_autofree char *full = g_canonicalize_filename (path ? path : default_path, NULL);

  return g_strdup_printf ("cookie file %s", full);
}

/**
 * dp_node_load_cookie:
 * @self: a #DpNode
 * @path: (nullable): the cookie file, %NULL for the default
 * @error: return location for a #GError
 *
 * Uses the secret of a cookie file, creating it (mode 0600) if needed.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
dp_node_load_cookie (DpNode      *self,
                     const char  *path,
                     GError     **error)
{
  g_autoptr(GBytes) secret = dp_cookie_load (path, TRUE, error);
  g_autofree char *source = NULL;

  if (secret == NULL)
    return FALSE;
  source = cookie_source (path);
  dp_node_set_secret_full (self, secret, source);
  g_mutex_lock (&self->lock);
  g_free (self->cookie_path);
  self->cookie_path = g_strdup (path);
  self->cookie_secret = TRUE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* The secret and where it came from; the default cookie file's when none
 * was set. */
static GBytes *
get_secret (DpNode  *self,
            char   **source,
            GError **error)
{
  GBytes *secret;

  g_mutex_lock (&self->lock);
  if (self->secret == NULL)
    {
      self->secret = dp_cookie_load (NULL, TRUE, error);
      if (self->secret)
        {
          self->secret_source = cookie_source (NULL);
          self->cookie_secret = TRUE;
        }
    }
  secret = self->secret ? g_bytes_ref (self->secret) : NULL;
  if (source)
    *source = g_strdup (self->secret_source);
  g_mutex_unlock (&self->lock);
  return secret;
}

/**
 * dp_node_get_secret:
 * @self: a #DpNode
 * @error: return location for a #GError
 *
 * The node's secret; when none was set, the default cookie file's (created
 * if needed).
 *
 * Returns: (transfer full) (nullable): the secret
 *
 * Since: 1.0
 */
GBytes *
dp_node_get_secret (DpNode  *self,
                    GError **error)
{
  g_return_val_if_fail (DP_IS_NODE (self), NULL);
  return get_secret (self, NULL, error);
}

/**
 * dp_node_dup_secret_source:
 * @self: a #DpNode
 *
 * Where the node's secret came from, as error messages name it: "cookie
 * file PATH", "the secret given on standard input", "a secret set by the
 * application".
 *
 * Returns: (transfer full) (nullable): the description, or %NULL while the
 *   node has no secret yet
 *
 * Since: 1.0
 */
char *
dp_node_dup_secret_source (DpNode *self)
{
  char *source;

  g_return_val_if_fail (DP_IS_NODE (self), NULL);
  g_mutex_lock (&self->lock);
  source = g_strdup (self->secret_source);
  g_mutex_unlock (&self->lock);
  return source;
}

typedef struct {
  DpNode     *node;
  const char *address;
  guint16     port;
  GError     *error;
  gboolean    ok;
} ListenCall;

static void
listen_in_router (gpointer data)
{
  ListenCall *lc = data;

  DP_ASSERT_ROUTER_THREAD (lc->node);
  lc->ok = _dp_node_server_listen (lc->node->server, lc->address, lc->port, &lc->error);
}

/**
 * dp_node_listen:
 * @self: a #DpNode
 * @address: (nullable): the IP address to listen on; %NULL for loopback
 * @port: the TCP port, 0 for one the system picks (see dp_node_get_port())
 * @error: return location for a #GError
 *
 * Makes the node accept connections from masters and peers that know its
 * secret, and start places for them.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
dp_node_listen (DpNode      *self,
                const char  *address,
                guint16      port,
                GError     **error)
{
  ListenCall lc = { self, address ? address : "127.0.0.1", port, NULL, FALSE };
  g_autoptr(GBytes) secret = NULL;

  g_return_val_if_fail (DP_IS_NODE (self), FALSE);
  secret = dp_node_get_secret (self, error);
  if (secret == NULL)
    return FALSE;
  _dp_node_invoke_sync (self, listen_in_router, &lc);
  if (!lc.ok)
    {
      g_propagate_error (error, lc.error);
      return FALSE;
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
  return TRUE;
}

typedef struct {
  DpNode            *node;
  GSocketConnection *connection;
} ServeCall;

static void
serve_in_router (gpointer data)
{
  ServeCall *sc = data;

  DP_ASSERT_ROUTER_THREAD (sc->node);
  _dp_node_server_adopt (sc->node->server, sc->connection);
}

/**
 * dp_node_serve_socket:
 * @self: a #DpNode
 * @socket: a connected stream socket (one end of a socketpair, say)
 * @error: return location for a #GError
 *
 * Serves @socket as if the node had accepted it: the peer at its other end
 * must pass the handshake with the node's secret, and may then start
 * places, as over TCP. This is how an isolated place's process
 * (%DP_LAUNCH_ISOLATE, `dp-node --place-host`) serves the node that
 * started it, over an inherited socketpair.
 *
 * Returns: %TRUE when the node serves it, %FALSE (with @error) when the
 *   node has no secret or @socket is no stream
 *
 * Since: 1.0
 */
gboolean
dp_node_serve_socket (DpNode   *self,
                      GSocket  *socket,
                      GError  **error)
{
  g_autoptr(GBytes) secret = NULL;
  ServeCall sc = { self, NULL };

  g_return_val_if_fail (DP_IS_NODE (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);
  secret = dp_node_get_secret (self, error);
  if (secret == NULL)
    return FALSE;
  if (g_socket_get_socket_type (socket) != G_SOCKET_TYPE_STREAM)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "not a stream socket");
      return FALSE;
    }
  sc.connection = g_socket_connection_factory_create_connection (socket);
  _dp_node_invoke_sync (self, serve_in_router, &sc);
  g_object_unref (sc.connection);
  return TRUE;
}

/**
 * dp_node_get_port:
 * @self: a #DpNode
 *
 * The TCP port the node listens on, once dp_node_listen() has bound it
 * (the #DpNode:port property).
 *
 * Returns: the port the node listens on, or 0
 *
 * Since: 1.0
 */
guint16
dp_node_get_port (DpNode *self)
{
  g_return_val_if_fail (DP_IS_NODE (self), 0);
  return _dp_node_server_get_port (self->server);
}

/**
 * dp_node_add_plugin_dir:
 * @self: a #DpNode
 * @dir: a directory
 *
 * Adds @dir to the directories places may be loaded from.
 *
 * Since: 1.0
 */
void
dp_node_add_plugin_dir (DpNode     *self,
                        const char *dir)
{
  g_return_if_fail (DP_IS_NODE (self));
  g_return_if_fail (dir != NULL);
  g_mutex_lock (&self->lock);
  g_ptr_array_insert (self->plugin_dirs, 0, g_strdup (dir));
  g_mutex_unlock (&self->lock);
}

/**
 * dp_node_set_advertised_host:
 * @self: a #DpNode
 * @host: (nullable): a host name or address other nodes reach this one by,
 *   or %NULL for the default
 *
 * The host a node names in the channel references it makes
 * (dp_place_channel_to_variant()), for other nodes to dial. By default it
 * is the address the node listens on; for a wildcard (0.0.0.0, ::), the
 * address the first peer not on loopback (its master, for a spawned node)
 * reached it at, else its host name. `dp-node --advertise HOST` sets it.
 *
 * ```c
 * dp_node_listen (node, "0.0.0.0", 6340, &error);
 * dp_node_set_advertised_host (node, "node7.cluster.example");
 * ```
 *
 * Since: 1.0
 */
void
dp_node_set_advertised_host (DpNode     *self,
                             const char *host)
{
  g_return_if_fail (DP_IS_NODE (self));
  g_mutex_lock (&self->lock);
  g_free (self->advertised_host);
  self->advertised_host = (host && *host) ? g_strdup (host) : NULL;
  g_mutex_unlock (&self->lock);
}

/**
 * dp_node_dup_advertised_host:
 * @self: a #DpNode
 *
 * The host this node names itself by in the channel references it hands
 * out.
 *
 * Returns: (transfer full) (nullable): what dp_node_set_advertised_host()
 *   set, or %NULL
 *
 * Since: 1.0
 */
char *
dp_node_dup_advertised_host (DpNode *self)
{
  char *host;

  g_return_val_if_fail (DP_IS_NODE (self), NULL);
  g_mutex_lock (&self->lock);
  host = g_strdup (self->advertised_host);
  g_mutex_unlock (&self->lock);
  return host;
}

/**
 * dp_node_set_max_frame_size:
 * @self: a #DpNode
 * @max_frame_size: the largest frame, in bytes, connections made or
 *   accepted from now on accept
 *
 * Sets the largest frame the node accepts (the #DpNode:max-frame-size
 * property); a larger frame closes the connection that sent it.
 *
 * Since: 1.0
 */
void
dp_node_set_max_frame_size (DpNode *self,
                            gsize   max_frame_size)
{
  g_return_if_fail (DP_IS_NODE (self));
  g_return_if_fail (max_frame_size >= 1024);
  if (self->max_frame == max_frame_size)
    return;
  self->max_frame = max_frame_size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_FRAME_SIZE]);
}

/**
 * dp_node_get_max_frame_size:
 * @self: a #DpNode
 *
 * The largest frame the node accepts on a connection (the #DpNode:max-
 * frame-size property).
 *
 * Returns: the largest frame accepted, in bytes
 *
 * Since: 1.0
 */
gsize
dp_node_get_max_frame_size (DpNode *self)
{
  g_return_val_if_fail (DP_IS_NODE (self), 0);
  return self->max_frame;
}

/**
 * dp_node_get_context:
 * @self: a #DpNode
 *
 * The main context the node was made in: its signals are emitted there and
 * its async calls complete there.
 *
 * Returns: (transfer none): the main context signals are emitted in
 *
 * Since: 1.0
 */
GMainContext *
dp_node_get_context (DpNode *self)
{
  g_return_val_if_fail (DP_IS_NODE (self), NULL);
  return self->owner_context;
}

/**
 * dp_node_get_n_places:
 * @self: a #DpNode
 *
 * The number of places running on this node (its own places, not those of
 * the nodes it started).
 *
 * Returns: how many places run on this node now
 *
 * Since: 1.0
 */
guint
dp_node_get_n_places (DpNode *self)
{
  g_return_val_if_fail (DP_IS_NODE (self), 0);
  return _dp_node_server_get_n_places (self->server);
}

/**
 * dp_node_shutdown:
 * @self: a #DpNode
 *
 * Stops listening and closes every connection made to the node.
 *
 * Since: 1.0
 */
void
dp_node_shutdown (DpNode *self)
{
  g_return_if_fail (DP_IS_NODE (self));
  _dp_node_invoke_sync (self, shutdown_in_router, self);
}

/* used by dp-router.c */
GMainLoop *_dp_node_get_user_loop (DpNode *self);

GMainLoop *
_dp_node_get_user_loop (DpNode *self)
{
  if (self->user_loop == NULL)
    self->user_loop = g_main_loop_new (self->owner_context, FALSE);
  return self->user_loop;
}

/* ---- TLS credentials (dp-tls.c) ---- */

/**
 * dp_node_set_tls_credentials:
 * @self: a #DpNode
 * @certificate: this node's certificate, with its private key
 * @ca: the cluster CA's certificate: peers must have one it issued
 *
 * The credentials this node's TLS connections use (see #DpNode:tls).
 * Usually there is no need: a master makes the cluster's CA next to its
 * cookie file on first use (`COOKIE.tls-ca`, mode 0600) and issues itself
 * a certificate, and hands each node it spawns one over the node's
 * standard input; a node started by hand issues its own from the CA in
 * its cookie directory, or is given files (`dp-node --tls-cert --tls-key
 * --tls-ca`). Set them before the node listens or connects.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GTlsCertificate) cert =
 *   g_tls_certificate_new_from_files ("node.pem", "node.key", &error);
 * g_autoptr(GTlsCertificate) ca = g_tls_certificate_new_from_file ("ca.pem", &error);
 * dp_node_set_tls_credentials (node, cert, ca);
 * ]|
 *
 * Since: 1.0
 */
void
dp_node_set_tls_credentials (DpNode          *self,
                             GTlsCertificate *certificate,
                             GTlsCertificate *ca)
{
  g_return_if_fail (DP_IS_NODE (self));
  g_return_if_fail (G_IS_TLS_CERTIFICATE (certificate));
  g_return_if_fail (G_IS_TLS_CERTIFICATE (ca));
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->tls, _dp_tls_unref);
  self->tls = _dp_tls_new (certificate, ca);
  g_mutex_unlock (&self->lock);
}

/* With @lock held: the cluster CA of a node whose secret is a cookie's */
static const char *
ca_locked (DpNode  *self,
           GError **error)
{
  DP_ASSERT_LOCK_HELD (&self->lock);
  if (self->ca_pem == NULL && !self->cookie_secret)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_AUTH_FAILED,
                   "this node has no TLS credentials: its secret is not a cookie file's "
                   "(%s), so it has no cluster CA next to one; its master hands them over "
                   "when it spawns it with TLS on, or give them (dp_node_set_tls_credentials(), "
                   "dp-node --tls-cert --tls-key --tls-ca)",
                   self->secret_source ? self->secret_source : "none yet");
      return NULL;
    }
  if (self->ca_pem == NULL)
    self->ca_pem = _dp_tls_load_ca (self->cookie_path, TRUE, error);
  return self->ca_pem;
}

/* This node's credentials: set, or issued from the cluster CA next to its
 * cookie (made on first use). Any thread. */
static DpTls *
get_tls (DpNode  *self,
         GError **error)
{
  DpTls *tls = NULL;

  g_mutex_lock (&self->lock);
  if (self->tls == NULL)
    {
      const char *ca = ca_locked (self, error);
      g_autofree char *name = g_strdup_printf ("libdp node %s pid %d", g_get_host_name (),
                                               (int) getpid ());

      if (ca)
        self->tls = _dp_tls_new_issued (ca, name, error);
    }
  if (self->tls)
    tls = _dp_tls_ref (self->tls);
  g_mutex_unlock (&self->lock);
  return tls;
}

/* The credentials for a connection on @sconn when DpNode:tls wants TLS on
 * it; NULL without @error when it does not. */
DpTls *
_dp_node_tls_for (DpNode             *self,
                  GSocketConnection  *sconn,
                  GError            **error)
{
  DpTls *tls;

  if (!_dp_tls_mode_wants (self->tls_mode, sconn))
    return NULL;
  tls = get_tls (self, error);
  if (tls == NULL)
    g_prefix_error (error, "TLS is on for this connection (DpNode:tls) but ");
  return tls;
}

DpTlsMode
_dp_node_get_tls_mode (DpNode *self)
{
  return self->tls_mode;
}

/* A spawned node's credentials, for its standard input: a certificate for
 * @name from the cluster CA (_dp_tls_line_build()). */
char *
_dp_node_issue_tls_line (DpNode      *self,
                         const char  *name,
                         GError     **error)
{
  g_autofree char *ca = NULL;
  g_autofree char *ca_cert = NULL;
  g_autofree char *pem = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  char *line;

  g_mutex_lock (&self->lock);
  ca = g_strdup (ca_locked (self, error));
  g_mutex_unlock (&self->lock);
  if (ca == NULL)
    return NULL;
  pem = _dp_tls_issue (ca, name, now - 3600, now + 365 * 86400, error);
  if (pem == NULL)
    return NULL;
  ca_cert = _dp_tls_pem_certificate (ca);
  line = _dp_tls_line_build (pem, ca_cert ? ca_cert : "");
  memset (pem, 0, strlen (pem));
  memset (ca, 0, strlen (ca));
  return line;
}
