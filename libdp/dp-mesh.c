/* dp-mesh.c: the mesh — nodes dial each other, places talk to places on
 * other nodes directly, and channel ends travel inside messages
 *
 * Who dials whom. A node dials another only when one of its places asks
 * for a channel there (dp_place_channel_connect(), or redeeming a channel
 * reference with dp_place_channel_from_variant()): there is no full mesh.
 * The dial is the master's own client code (_dp_node_connect_async() in
 * dp-node.c: TCP, then the cluster secret's challenge-response, heartbeats,
 * flow control), so a node whose secret differs is refused exactly as a
 * master would be (DP_ERROR_AUTH_FAILED, naming where the secret came
 * from). Once ready, the dialler says who it is (PEER_HELLO, the address it
 * listens on) and the connection is served by the node server like any
 * accepted one (dp-node-server.c): either end may then open channels on it,
 * the dialler with ids from 1, the acceptor with the top bit set
 * (_dp_connection_alloc_channel()). Both nodes keep it in their table of
 * peers ("host:port" -> connection): every later channel between the two
 * reuses it, whichever side asks. (Two nodes that dial each other at the
 * same moment keep two connections; each works.)
 *
 * A channel over the mesh is one channel id on that connection with a
 * channel entry on each side (mesh_entry_class): DATA goes straight into
 * the receiving end's inbox (the same bounded inboxes and output queues as
 * a master's channels, so flow control applies: an inbox over its limit
 * stops the router reading that connection), CLOSE follows an end's last
 * message when it is closed or dropped, and a lost connection (a node died,
 * or its heartbeats stopped) closes every channel on it. A get on the other
 * end therefore returns NULL after every message sent before the close.
 *
 * Channel references. dp_place_channel_to_variant() takes an end of an
 * in-process pair out of its place: the end is *exported* — kept in this
 * node's table under a random 128-bit token — and the reference names
 * this node's listening address and the token:
 *
 *   (ssqay)  ("dp-channel", HOST, PORT, TOKEN)   TOKEN: 16 bytes
 *
 * HOST:PORT is the address the node listens on (dp-node --listen), its
 * host being dp_node_set_advertised_host()'s (dp-node --advertise; a
 * master spawning a node on another host passes that host) or else the
 * listening address, or the host name when that is a wildcard. Whoever
 * receives the reference redeems it with dp_place_channel_from_variant():
 * its node dials HOST:PORT (or reuses its connection there) and sends
 * NEW_PLACE {kind: 'redeem', token}; the owning node takes the token out
 * of its table (single use), binds the end that stayed to that channel
 * (what was already put to it is sent first, in order) and answers
 * STARTED. On this node itself no connection is involved: the exported end
 * is handed back as it is. An unknown token — forged, already redeemed, or
 * dropped — is answered FAILED (DP_ERROR_BAD_REFERENCE) and the requester
 * gets that GError; nothing else changes. The table is bounded
 * (MESH_MAX_EXPORTS): the oldest unredeemed export is dropped, with a
 * warning, to make room, and its other end sees the channel closed.
 *
 * Threads: the tables of peers and the requests are the router thread's;
 * the table of exports is under @lock (place threads add to it). A place
 * asking for a channel waits on its request's condition, never on the
 * router.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <string.h>

#define MESH_TOKEN_LEN   16
#define MESH_MAX_EXPORTS 1024
#define MESH_REF_MAGIC   "dp-channel"
#define MESH_REF_TYPE    "(ssqay)"
#define MESH_HOST_MAX    255

struct _DpMesh
{
  /* immutable after construction */
  GObject       *node;            /* not a ref: the node owns its server, which owns us */
  DpNodeServer  *server;
  GMainContext  *router_context;

  /* exports, under @lock */
  GMutex         lock;
  GHashTable    *exports;         /* token (hex, owned) -> Export */
  GQueue         export_order;    /* the same keys, oldest first */

  /* router thread only */
  GHashTable    *peers;           /* "host:port" -> Peer */
  GHashTable    *peer_conns;      /* DpConnection* -> "host:port" (owned): node connections */
  GPtrArray     *ops;             /* Op (refs): requests not answered yet */
  gboolean       shut_down;
};

/* An end sent away: a pair's end (@handle, its owner handle), or the
 * channel of a place this node runs for a master (@conn / @channel, the
 * place's output held meanwhile: dp_remote_connection_to_variant()) */
typedef struct {
  DpPlaceChannel *handle;
  DpConnection   *conn;
  guint32         channel;
} Export;

static void
export_free (gpointer data)
{
  Export *ex = data;

  g_clear_object (&ex->handle);
  g_clear_pointer (&ex->conn, _dp_connection_unref);
  g_free (ex);
}

typedef struct {
  char          *key;
  char          *host;
  guint16        port;
  DpConnection  *conn;            /* ready, or NULL while dialling */
  GPtrArray     *waiters;         /* Op (refs) */
  GCancellable  *cancel;
} Peer;

/* A place's request for a channel on another node (connect, redeem) */
typedef struct {
  gatomicrefcount  ref;
  /* immutable after construction */
  DpMesh          *mesh;
  char            *host;
  guint16          port;
  GVariant        *request;
  /* router thread only */
  DpConnection    *conn;
  guint32          channel;
  DpPlaceChannel  *end;           /* what the place gets once STARTED */
  /* under @lock */
  GMutex           lock;
  GCond            cond;
  gboolean         done;
  DpPlaceChannel  *result;
  GError          *error;
} Op;

static Op *
op_ref (Op *op)
{
  g_atomic_ref_count_inc (&op->ref);
  return op;
}

static void
op_unref (gpointer data)
{
  Op *op = data;

  if (!g_atomic_ref_count_dec (&op->ref))
    return;
  g_free (op->host);
  g_variant_unref (op->request);
  g_clear_pointer (&op->conn, _dp_connection_unref);
  g_clear_object (&op->end);
  g_clear_object (&op->result);
  g_clear_error (&op->error);
  g_mutex_clear (&op->lock);
  g_cond_clear (&op->cond);
  g_free (op);
}

/* Router thread: the request's answer (takes @result, or @error) */
static void
op_complete (Op             *op,
             DpPlaceChannel *result,
             GError         *error)
{
  DpMesh *mesh = op->mesh;

  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  g_mutex_lock (&op->lock);
  if (op->done)
    {
      g_mutex_unlock (&op->lock);
      g_clear_object (&result);
      g_clear_error (&error);
      return;
    }
  op->done = TRUE;
  op->result = result;
  op->error = error;
  g_cond_broadcast (&op->cond);
  g_mutex_unlock (&op->lock);
  g_ptr_array_remove_fast (mesh->ops, op);   /* may drop the last router ref */
}

static void
peer_free (gpointer data)
{
  Peer *peer = data;

  if (peer->cancel)
    g_cancellable_cancel (peer->cancel);
  g_clear_object (&peer->cancel);
  g_clear_pointer (&peer->conn, _dp_connection_unref);
  g_ptr_array_unref (peer->waiters);
  g_free (peer->key);
  g_free (peer->host);
  g_free (peer);
}

/* ---- the node and its address ---- */

typedef struct {
  GWeakRef node;
} NodeLink;

static void
node_link_free (gpointer data)
{
  NodeLink *link = data;

  g_weak_ref_clear (&link->node);
  g_free (link);
}

static GQuark
node_link_quark (void)
{
  static GQuark q;

  if (G_UNLIKELY (q == 0))
    q = g_quark_from_static_string ("dp-mesh-node");
  return q;
}

void
_dp_mesh_mark_channel (DpPlaceChannel *channel,
                       GObject        *node)
{
  NodeLink *link = g_new0 (NodeLink, 1);

  g_weak_ref_init (&link->node, node);
  g_object_set_qdata_full (G_OBJECT (channel), node_link_quark (), link, node_link_free);
}

/* The node @channel belongs to (a ref): the one its place runs on. An end
 * a place made itself (a pair) belongs to the place running this thread. */
static DpNode *
ref_node_of (DpPlaceChannel  *channel,
             GError         **error)
{
  NodeLink *link = channel ? g_object_get_qdata (G_OBJECT (channel), node_link_quark ()) : NULL;
  GObject *node;

  if (link == NULL)
    {
      DpPlaceChannel *own = _dp_place_get_current_channel ();
      link = own ? g_object_get_qdata (G_OBJECT (own), node_link_quark ()) : NULL;
    }
  node = link ? g_weak_ref_get (&link->node) : NULL;
  if (node == NULL)
    g_set_error_literal (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                         "not a place of a node: the mesh is reached from a place "
                         "that a node (dp-node) runs in a thread");
  return (DpNode *) node;
}

gpointer
_dp_place_channel_lookup_plugin (DpPlaceChannel  *channel,
                                 const char      *plugin,
                                 const char      *symbol,
                                 GError         **error)
{
  g_autoptr(DpNode) node = ref_node_of (channel, error);

  if (node == NULL)
    return NULL;
  return _dp_node_lookup_plugin (node, plugin, symbol, error);
}

static DpMesh *
mesh_of (DpNode *node)
{
  return _dp_node_server_get_mesh (_dp_node_get_server (node));
}

/* The address this node advertises in channel references: the one it was
 * told (dp-node --advertise), or where it listens; for a wildcard, the
 * address the first peer (not on loopback) reached it at, else its host
 * name. FALSE when the node does not listen (nobody could dial it). */
static gboolean
advertised_address (DpMesh   *mesh,
                    char    **host,
                    guint16  *port,
                    GError  **error)
{
  g_autofree char *addr = _dp_node_server_dup_listen_address (mesh->server);
  g_autofree char *chosen = dp_node_dup_advertised_host (DP_NODE (mesh->node));
  g_autoptr(GInetAddress) inet = NULL;

  *port = _dp_node_server_get_port (mesh->server);
  if (*port == 0 || addr == NULL || *addr == '\0')
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                           "this node does not listen: no other node could reach "
                           "a channel end it sends");
      return FALSE;
    }
  if (chosen)
    {
      *host = g_steal_pointer (&chosen);
      return TRUE;
    }
  inet = g_inet_address_new_from_string (addr);
  if (inet && g_inet_address_get_is_any (inet))
    {
      *host = _dp_node_server_dup_reached_address (mesh->server);
      if (*host == NULL)
        *host = g_strdup (g_get_host_name ());
    }
  else
    *host = g_steal_pointer (&addr);
  return TRUE;
}

static char *
peer_key (const char *host,
          guint16     port)
{
  return g_strdup_printf ("%s:%u", host, port);
}

/* ---- channels over the mesh: the entries on either side ---- */

static gboolean
mesh_data (DpChannelEntry  *e,
           DpConnection    *conn,
           GVariant       **msgs,
           guint            n)
{
  return _dp_channel_entry_deliver (e, conn, msgs, n);
}

static void
mesh_started (DpChannelEntry *e)
{
  Op *op = g_steal_pointer (&e->pending);

  if (op == NULL)
    return;
  op_complete (op, g_steal_pointer (&op->end), NULL);
  op_unref (op);
}

static GError *
error_from_failed (GVariant *payload)
{
  guint32 code = DP_ERROR_FAILED;
  const char *message = "the node refused the request";

  if (payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(us)")))
    g_variant_get (payload, "(u&s)", &code, &message);
  return _dp_error_from_remote (code, message);
}

/* FAILED (the caller takes the entry out of the table afterwards) */
static void
mesh_failed (DpChannelEntry *e,
             GVariant       *payload)
{
  Op *op = g_steal_pointer (&e->pending);

  _dp_place_channel_close_inbox (e->target);
  _dp_place_channel_unbind (e->target);
  if (op == NULL)
    return;
  op_complete (op, NULL, error_from_failed (payload));
  op_unref (op);
}

/* PLACE_DIED: a named place this channel led to ended (the caller takes
 * the entry out of the table afterwards) */
static void
mesh_died (DpChannelEntry *e,
           GVariant       *payload)
{
  _dp_place_channel_close_inbox (e->target);
  _dp_place_channel_unbind (e->target);
}

/* CLOSE: the other end sent its last message */
static void
mesh_closed (DpChannelEntry *e,
             DpConnection   *conn)
{
  DpChannelEntry *gone = _dp_connection_steal_entry (conn, e->id);

  _dp_place_channel_close_inbox (e->target);
  if (gone)
    _dp_channel_entry_unref (gone);
}

static void
mesh_lost (DpChannelEntry *e,
           DpConnection   *conn)
{
  Op *op = g_steal_pointer (&e->pending);

  _dp_place_channel_close_inbox (e->target);
  _dp_place_channel_unbind (e->target);
  if (op == NULL)
    return;
  op_complete (op, NULL, g_error_new (DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                                      "the connection to node %s:%u closed before it answered",
                                      op->host, op->port));
  op_unref (op);
}

static const DpChannelEntryClass mesh_entry_class = {
  .data    = mesh_data,
  .started = mesh_started,
  .failed  = mesh_failed,
  .died    = mesh_died,
  .closed  = mesh_closed,
  .lost    = mesh_lost,
};

/* ---- requests: the router's half ---- */

/* @conn is ready: open a channel on it and ask */
static void
op_send (Op           *op,
         DpConnection *conn)
{
  DpChannelEntry *entry;

  op->conn = _dp_connection_ref (conn);
  op->channel = _dp_connection_alloc_channel (conn);
  op->end = _dp_place_channel_new_bound (conn, op->channel);
  _dp_place_channel_set_close_frame (op->end);
  _dp_mesh_mark_channel (op->end, op->mesh->node);
  entry = _dp_channel_entry_new (&mesh_entry_class, op->channel);
  entry->target = _dp_place_channel_dup_handle (op->end);
  entry->pending = op_ref (op);
  _dp_connection_add_entry (conn, op->channel, entry);
  _dp_connection_send (conn, DP_FRAME_NEW_PLACE, op->channel, 0, op->request);
}

static void
send_hello (DpMesh       *mesh,
            DpConnection *conn)
{
  g_autofree char *host = NULL;
  guint16 port;

  if (advertised_address (mesh, &host, &port, NULL))
    _dp_connection_send (conn, DP_FRAME_PEER_HELLO, 0, 0, g_variant_new ("(sq)", host, port));
}

typedef struct {
  DpMesh *mesh;
  char   *key;
} DialData;

static void
dialled_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  DialData *dd = user_data;
  DpMesh *mesh = dd->mesh;
  g_autoptr(GError) error = NULL;
  g_autoptr(DpConnection) conn = _dp_node_connect_finish (DP_NODE (source), result, &error);
  Peer *peer = g_hash_table_lookup (mesh->peers, dd->key);
  g_autoptr(GPtrArray) waiters = NULL;

  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  if (peer == NULL || peer->conn != NULL || mesh->shut_down)
    {
      /* shut down meanwhile (its waiters were told), or replaced */
      if (conn)
        _dp_connection_close (conn, NULL);
      goto out;
    }
  waiters = g_steal_pointer (&peer->waiters);
  peer->waiters = g_ptr_array_new_with_free_func (op_unref);
  g_clear_object (&peer->cancel);
  if (conn == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                        "DP_EVENT", "mesh-dial-failed",
                        "MESSAGE", "cannot reach node %s: %s", dd->key, error->message);
      for (guint i = 0; i < waiters->len; i++)
        {
          GError *e = g_error_copy (error);
          g_prefix_error (&e, "cannot reach node %s: ", dd->key);
          op_complete (waiters->pdata[i], NULL, e);
        }
      g_hash_table_remove (mesh->peers, dd->key);
      goto out;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "mesh-dialled",
                    "MESSAGE", "connected to node %s", dd->key);
  peer->conn = _dp_connection_ref (conn);
  g_hash_table_insert (mesh->peer_conns, conn, g_strdup (dd->key));
  _dp_node_server_add_dialled (mesh->server, conn);
  send_hello (mesh, conn);
  for (guint i = 0; i < waiters->len; i++)
    op_send (waiters->pdata[i], conn);

out:
  g_free (dd->key);
  g_free (dd);
}

static void
op_start (gpointer data)
{
  Op *op = data;
  DpMesh *mesh = op->mesh;
  g_autofree char *key = peer_key (op->host, op->port);
  Peer *peer;

  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  if (mesh->shut_down)
    {
      op_complete (op, NULL, g_error_new_literal (DP_ERROR, DP_ERROR_CLOSED,
                                                  "the node is shutting down"));
      return;
    }
  g_ptr_array_add (mesh->ops, op_ref (op));
  peer = g_hash_table_lookup (mesh->peers, key);
  if (peer && peer->conn)
    {
      op_send (op, peer->conn);
      return;
    }
  if (peer == NULL)
    {
      DialData *dd = g_new0 (DialData, 1);

      peer = g_new0 (Peer, 1);
      peer->key = g_strdup (key);
      peer->host = g_strdup (op->host);
      peer->port = op->port;
      peer->waiters = g_ptr_array_new_with_free_func (op_unref);
      peer->cancel = g_cancellable_new ();
      g_hash_table_insert (mesh->peers, peer->key, peer);
      dd->mesh = mesh;
      dd->key = g_strdup (key);
      _dp_node_connect_async (DP_NODE (mesh->node), op->host, op->port,
                              _dp_node_server_get_handler (), mesh->server,
                              peer->cancel, dialled_cb, dd);
    }
  g_ptr_array_add (peer->waiters, op_ref (op));
}

/* Any thread but the router: asks node @host:@port for a channel and waits
 * for the answer. */
static DpPlaceChannel *
mesh_request (DpNode      *node,
              const char  *host,
              guint16      port,
              GVariant    *request,
              GError     **error)
{
  DpMesh *mesh = mesh_of (node);
  Op *op;
  DpPlaceChannel *result;

  g_variant_ref_sink (request);
  if (_dp_node_in_router (node))
    {
      g_variant_unref (request);
      g_set_error_literal (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                           "a channel over the mesh cannot be opened on the node's router thread");
      return NULL;
    }
  op = g_new0 (Op, 1);
  g_atomic_ref_count_init (&op->ref);
  g_mutex_init (&op->lock);
  g_cond_init (&op->cond);
  op->mesh = mesh;
  op->host = g_strdup (host);
  op->port = port;
  op->request = request;
  _dp_main_context_invoke (mesh->router_context, "[libdp] mesh request", op_start,
                           op_ref (op), op_unref);
  g_mutex_lock (&op->lock);
  while (!op->done)
    g_cond_wait (&op->cond, &op->lock);
  result = g_steal_pointer (&op->result);
  if (result == NULL)
    g_propagate_error (error, g_steal_pointer (&op->error));
  g_mutex_unlock (&op->lock);
  op_unref (op);
  return result;
}

/* ---- the router's side of peers ---- */

gboolean
_dp_mesh_is_peer (DpMesh       *mesh,
                  DpConnection *conn)
{
  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  return g_hash_table_contains (mesh->peer_conns, conn);
}

void
_dp_mesh_peer_hello (DpMesh       *mesh,
                     DpConnection *conn,
                     GVariant     *payload)
{
  const char *host;
  guint16 port, own_port = 0;
  g_autofree char *own_host = NULL;
  g_autofree char *key = NULL;
  Peer *peer;

  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  if (payload == NULL || !g_variant_is_of_type (payload, G_VARIANT_TYPE ("(sq)")) ||
      g_hash_table_contains (mesh->peer_conns, conn))
    return;
  g_variant_get (payload, "(&sq)", &host, &port);
  if (*host == '\0' || strlen (host) > MESH_HOST_MAX || port == 0)
    return;
  key = peer_key (host, port);
  g_hash_table_insert (mesh->peer_conns, conn, g_strdup (key));
  /* a node that dialled itself is no peer of its own */
  if (advertised_address (mesh, &own_host, &own_port, NULL) &&
      own_port == port && g_strcmp0 (own_host, host) == 0)
    return;
  if (g_hash_table_contains (mesh->peers, key))
    return;   /* we dialled it too, or another connection says the same */
  peer = g_new0 (Peer, 1);
  peer->key = g_strdup (key);
  peer->host = g_strdup (host);
  peer->port = port;
  peer->conn = _dp_connection_ref (conn);
  peer->waiters = g_ptr_array_new_with_free_func (op_unref);
  g_hash_table_insert (mesh->peers, peer->key, peer);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "mesh-peer",
                    "MESSAGE", "node %s (%s) dialled this node", key, _dp_connection_get_peer (conn));
}

void
_dp_mesh_connection_closed (DpMesh       *mesh,
                            DpConnection *conn)
{
  const char *key;
  Peer *peer;

  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  key = g_hash_table_lookup (mesh->peer_conns, conn);
  if (key == NULL)
    return;
  peer = g_hash_table_lookup (mesh->peers, key);
  if (peer && peer->conn == conn)
    g_hash_table_remove (mesh->peers, key);
  g_hash_table_remove (mesh->peer_conns, conn);
}

/* ---- exports ---- */

static char *
token_key (const guint8 *token)
{
  char *key = g_malloc (MESH_TOKEN_LEN * 2 + 1);

  for (guint i = 0; i < MESH_TOKEN_LEN; i++)
    g_snprintf (key + 2 * i, 3, "%02x", token[i]);
  return key;
}

/* The export for @token, taken out of the table, or NULL. With
 * @only_local, an export of a place's channel stays (it is redeemed over
 * a connection, even from this node). */
static Export *
take_export (DpMesh       *mesh,
             const guint8 *token,
             gboolean      only_local,
             gboolean     *is_place)
{
  g_autofree char *key = token_key (token);
  gpointer stored_key = NULL, ex = NULL;
  Export *found;

  g_mutex_lock (&mesh->lock);
  found = g_hash_table_lookup (mesh->exports, key);
  if (is_place)
    *is_place = found && found->conn;
  if (found && !(only_local && found->conn) &&
      g_hash_table_steal_extended (mesh->exports, key, &stored_key, &ex))
    g_queue_remove (&mesh->export_order, stored_key);
  g_mutex_unlock (&mesh->lock);
  g_free (stored_key);
  return ex;
}

/* Router thread: a place export dropped unredeemed: the place sees its
 * channel closed rather than waiting for ever */
typedef struct {
  DpMesh       *mesh;
  DpConnection *conn;
  guint32       channel;
} DropHeld;

static void
drop_held_free (gpointer data)
{
  DropHeld *dh = data;

  _dp_connection_unref (dh->conn);
  g_free (dh);
}

static void
drop_held_in_router (gpointer data)
{
  DropHeld *dh = data;
  g_autoptr(DpChannelEntry) entry = NULL;

  if (!_dp_node_server_hold_place (dh->mesh->server, dh->conn, dh->channel, NULL))
    return;
  entry = _dp_connection_steal_entry (dh->conn, dh->channel);
  if (entry && entry->klass->lost)
    entry->klass->lost (entry, dh->conn);
}

/* Adds @ex under a new token (the oldest export goes when the table is
 * full) and returns the reference to it, floating */
static GVariant *
add_export (DpMesh     *mesh,
            const char *host,
            guint16     port,
            Export     *ex)
{
  guint8 token[MESH_TOKEN_LEN];
  Export *evicted = NULL;
  char *key;

  _dp_random_bytes (token, sizeof token);
  key = token_key (token);
  g_mutex_lock (&mesh->lock);
  if (g_hash_table_size (mesh->exports) >= MESH_MAX_EXPORTS)
    {
      char *oldest = g_queue_pop_head (&mesh->export_order);
      gpointer k = NULL, v = NULL;

      if (g_hash_table_steal_extended (mesh->exports, oldest, &k, &v))
        {
          g_free (k);
          evicted = v;
        }
    }
  g_hash_table_insert (mesh->exports, key, ex);
  g_queue_push_tail (&mesh->export_order, key);
  g_mutex_unlock (&mesh->lock);
  if (evicted)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "DP_EVENT", "mesh-export-dropped",
                        "MESSAGE", "dropped the oldest channel end sent away and never redeemed: "
                        "a node keeps at most %u", MESH_MAX_EXPORTS);
      if (evicted->conn)
        {
          DropHeld *dh = g_new0 (DropHeld, 1);
          dh->mesh = mesh;
          dh->conn = _dp_connection_ref (evicted->conn);
          dh->channel = evicted->channel;
          _dp_main_context_invoke (mesh->router_context, "[libdp] mesh export dropped",
                                   drop_held_in_router, dh, drop_held_free);
        }
      export_free (evicted);
    }
  return g_variant_new ("(ssq@ay)", MESH_REF_MAGIC, host, port,
                        g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, token, sizeof token, 1));
}

GVariant *
_dp_mesh_export_place (DpMesh        *mesh,
                       DpConnection  *conn,
                       guint32        channel,
                       GVariant      *token,
                       GError       **error)
{
  g_autofree char *host = NULL;
  guint16 port;
  Export *ex;

  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  if (!advertised_address (mesh, &host, &port, error) ||
      !_dp_node_server_hold_place (mesh->server, conn, channel, error))
    return NULL;
  ex = g_new0 (Export, 1);
  ex->conn = _dp_connection_ref (conn);
  ex->channel = channel;
  return g_variant_ref_sink (add_export (mesh, host, port, ex));
}

static gboolean
token_from_variant (GVariant      *value,
                    const guint8 **token,
                    GError       **error)
{
  gsize len = 0;

  *token = g_variant_get_fixed_array (value, &len, 1);
  if (len != MESH_TOKEN_LEN)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_BAD_REFERENCE,
                   "a channel reference's token has %" G_GSIZE_FORMAT " bytes, not %u",
                   len, MESH_TOKEN_LEN);
      return FALSE;
    }
  return TRUE;
}

static void
set_unknown_token (GError **error)
{
  g_set_error_literal (error, DP_ERROR, DP_ERROR_BAD_REFERENCE,
                       "no channel end with this reference on the node: it is forged, "
                       "was already redeemed (a reference is good once), or was dropped");
}

gboolean
_dp_mesh_redeem (DpMesh        *mesh,
                 DpConnection  *conn,
                 guint32        channel,
                 GVariant      *request,
                 GError       **error)
{
  g_autoptr(GVariant) tv = g_variant_lookup_value (request, "token", G_VARIANT_TYPE_BYTESTRING);
  Export *ex;
  const guint8 *token;
  DpChannelEntry *entry;
  gboolean ok;

  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  if (tv == NULL)
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_BAD_REFERENCE,
                           "a redeem request without a token");
      return FALSE;
    }
  if (!token_from_variant (tv, &token, error))
    return FALSE;
  ex = take_export (mesh, token, FALSE, NULL);
  if (ex == NULL)
    {
      set_unknown_token (error);
      return FALSE;
    }
  if (ex->conn)
    {
      /* a master's channel to a place here: the place talks on this one */
      ok = _dp_node_server_hand_over (mesh->server, ex->conn, ex->channel, conn, channel, error);
      export_free (ex);
      return ok;
    }
  entry = _dp_channel_entry_new (&mesh_entry_class, channel);
  _dp_connection_send (conn, DP_FRAME_PLACE_STARTED, channel, 0, NULL);
  entry->target = _dp_place_channel_attach (ex->handle, conn, channel);
  _dp_connection_add_entry (conn, channel, entry);
  export_free (ex);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "mesh-redeemed",
                    "MESSAGE", "a channel end went to %s (channel %u)",
                    _dp_connection_get_peer (conn), channel);
  return TRUE;
}

/* ---- life cycle ---- */

DpMesh *
_dp_mesh_new (GObject      *node,
              DpNodeServer *server,
              GMainContext *router_context)
{
  DpMesh *mesh = g_new0 (DpMesh, 1);

  mesh->node = node;
  mesh->server = server;
  mesh->router_context = g_main_context_ref (router_context);
  g_mutex_init (&mesh->lock);
  mesh->exports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, export_free);
  g_queue_init (&mesh->export_order);
  mesh->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, peer_free);
  mesh->peer_conns = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  mesh->ops = g_ptr_array_new_with_free_func (op_unref);
  return mesh;
}

static void
drop_exports (DpMesh *mesh)
{
  g_autoptr(GHashTable) exports = NULL;

  g_mutex_lock (&mesh->lock);
  exports = g_steal_pointer (&mesh->exports);
  mesh->exports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, export_free);
  g_queue_clear (&mesh->export_order);
  g_mutex_unlock (&mesh->lock);
  /* unreferenced without the lock: each closes its pair */
}

/* Router thread: every request waiting is told, every dial stops; the
 * connections themselves are closed by the server. */
void
_dp_mesh_shutdown (DpMesh *mesh)
{
  DP_ASSERT_OWNER_CONTEXT (mesh->router_context);
  mesh->shut_down = TRUE;
  while (mesh->ops->len > 0)
    {
      Op *op = op_ref (mesh->ops->pdata[mesh->ops->len - 1]);
      op_complete (op, NULL, g_error_new_literal (DP_ERROR, DP_ERROR_CLOSED,
                                                  "the node is shutting down"));
      op_unref (op);
    }
  g_hash_table_remove_all (mesh->peers);
  g_hash_table_remove_all (mesh->peer_conns);
  drop_exports (mesh);
}

void
_dp_mesh_free (DpMesh *mesh)
{
  drop_exports (mesh);
  g_hash_table_unref (mesh->exports);
  g_hash_table_unref (mesh->peers);
  g_hash_table_unref (mesh->peer_conns);
  g_ptr_array_unref (mesh->ops);
  g_mutex_clear (&mesh->lock);
  g_main_context_unref (mesh->router_context);
  g_free (mesh);
}

/* ---- public API (declared in dp-place-channel.h) ---- */

/* A request (@req, cleared) to node @host:@port from the place @self
 * belongs to */
static DpPlaceChannel *
place_request (DpPlaceChannel  *self,
               const char      *host,
               guint16          port,
               GVariantDict    *req,
               GError         **error)
{
  g_autoptr(DpNode) node = ref_node_of (self, error);

  if (node == NULL)
    {
      g_variant_dict_clear (req);
      return NULL;
    }
  return mesh_request (node, host, port, g_variant_dict_end (req), error);
}

/**
 * dp_place_channel_connect:
 * @self: the calling place's channel (or any channel of that place)
 * @host: the node's host, as it listens (dp-node --listen)
 * @port: the node's port
 * @name: the name of a place on that node
 * @error: return location for a #GError
 *
 * From inside a place that a node runs: a channel to the place registered
 * as @name on the node at @host:@port — this node or another. The node
 * dials that node directly (or reuses its connection to it,
 * authenticated with the cluster secret as a master is); the master is not
 * on the path. What the place puts arrives at the named place with a reply
 * channel leading back here (dp_place_channel_get_full()); the named
 * place's answers are got here, in order. Closing or dropping the channel
 * tells the named place's side; when the named place's node goes, a get
 * here returns %NULL after what it sent. The seed's `mr-connect-to` and
 * `connect-to-named-place` from a place.
 *
 * Blocks the calling thread until the node answers (never call it on a
 * node's router thread).
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * g_autoptr(DpPlaceChannel) srv =
 *   dp_place_channel_connect (ch, "10.0.0.3", 6340, "counter", &error);
 * if (srv == NULL)
 *   return;                                      // e.g. DP_ERROR_NAME_NOT_FOUND
 * dp_place_channel_put (srv, g_variant_new_int32 (1));
 * g_autoptr(GVariant) answer = dp_place_channel_get (srv);
 * ```
 *
 * Returns: (transfer full) (nullable): the channel, or %NULL with @error
 *   set: %DP_ERROR_NAME_NOT_FOUND (no place of that name there),
 *   %DP_ERROR_CONNECTION_REFUSED or %DP_ERROR_HOST_UNREACHABLE (no node
 *   there), %DP_ERROR_AUTH_FAILED (that node has another secret),
 *   %DP_ERROR_INVALID_ARGUMENT (not called from a node's place)
 *
 * Since: 1.0
 */
DpPlaceChannel *
dp_place_channel_connect (DpPlaceChannel  *self,
                          const char      *host,
                          guint16          port,
                          const char      *name,
                          GError         **error)
{
  GVariantDict req;

  g_return_val_if_fail (self == NULL || DP_IS_PLACE_CHANNEL (self), NULL);
  g_return_val_if_fail (host != NULL && *host != '\0', NULL);
  g_return_val_if_fail (name != NULL && *name != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_variant_dict_init (&req, NULL);
  g_variant_dict_insert (&req, "kind", "s", "connect");
  g_variant_dict_insert (&req, "name", "s", name);
  return place_request (self, host, port, &req, error);
}

/**
 * dp_place_channel_start_place_at:
 * @self: the calling place's channel (or any channel of that place)
 * @host: the node's host
 * @port: the node's port
 * @plugin: the plugin (a name on that node's plugin path)
 * @symbol: the place function it exports
 * @name: (nullable): the name to register the place under, or %NULL
 * @error: return location for a #GError
 *
 * From inside a place: starts a place on the node at @host:@port (this
 * node or another), through this node's connection to it, and returns the
 * channel to it — the seed's `mr-supervise-named-dynamic-place-at` (without
 * restarts: when the place ends its channel here closes, after its last
 * message, and the caller decides). With @name, other places reach it with
 * dp_place_channel_connect(). The place belongs to this node's connection:
 * if this node goes, the place sees its channel closed.
 *
 * ```c
 * g_autoptr(DpPlaceChannel) w =
 *   dp_place_channel_start_place_at (ch, "10.0.0.4", 6340, "workers", "mapper",
 *                                    "mapper-1", &error);
 * ```
 *
 * Returns: (transfer full) (nullable): the channel, or %NULL with @error
 *   set: what starting a place says (%DP_ERROR_PLUGIN_NOT_FOUND,
 *   %DP_ERROR_SYMBOL_NOT_FOUND, %DP_ERROR_NAME_IN_USE, %DP_ERROR_LIMIT…) and
 *   the errors of dp_place_channel_connect()
 *
 * Since: 1.0
 */
DpPlaceChannel *
dp_place_channel_start_place_at (DpPlaceChannel  *self,
                                 const char      *host,
                                 guint16          port,
                                 const char      *plugin,
                                 const char      *symbol,
                                 const char      *name,
                                 GError         **error)
{
  GVariantDict req;

  g_return_val_if_fail (self == NULL || DP_IS_PLACE_CHANNEL (self), NULL);
  g_return_val_if_fail (host != NULL && *host != '\0', NULL);
  g_return_val_if_fail (plugin != NULL && symbol != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_variant_dict_init (&req, NULL);
  g_variant_dict_insert (&req, "kind", "s", "place");
  g_variant_dict_insert (&req, "plugin", "s", plugin);
  g_variant_dict_insert (&req, "symbol", "s", symbol);
  if (name && *name)
    g_variant_dict_insert (&req, "name", "s", name);
  return place_request (self, host, port, &req, error);
}

/**
 * dp_place_channel_spawn_node:
 * @self: the calling place's channel (or any channel of that place)
 * @host: where: "localhost", a host reached by ssh, "user@host", with
 *   ":PORT" for the new node's port (as dp_remote_node_spawn())
 * @port: the new node's port (0: any free one)
 * @error: return location for a #GError
 *
 * From inside a place: this node spawns a node (the seed's
 * `mr-spawn-remote-node`), as a master does with dp_remote_node_spawn(),
 * this node being its master: it lives as long as the returned handle and
 * this node. Its address (dp_remote_node_get_host(),
 * dp_remote_node_get_port()) is what dp_place_channel_start_place_at()
 * and dp_place_channel_connect() take.
 *
 * ```c
 * g_autoptr(DpRemoteNode) extra = dp_place_channel_spawn_node (ch, "localhost", 0, &error);
 * g_autoptr(DpPlaceChannel) w =
 *   dp_place_channel_start_place_at (ch, "127.0.0.1", dp_remote_node_get_port (extra),
 *                                    "echo", "echo", NULL, &error);
 * ```
 *
 * Returns: (transfer full) (nullable): the node, or %NULL with @error set
 *   (the errors of dp_remote_node_spawn())
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_place_channel_spawn_node (DpPlaceChannel  *self,
                             const char      *host,
                             guint16          port,
                             GError         **error)
{
  g_autoptr(DpNode) node = NULL;

  g_return_val_if_fail (self == NULL || DP_IS_PLACE_CHANNEL (self), NULL);
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  node = ref_node_of (self, error);
  if (node == NULL)
    return NULL;
  return dp_remote_node_spawn (node, host, port, NULL, NULL, error);
}

/**
 * dp_place_channel_to_variant:
 * @channel: an end of a pair made by dp_place_channel_new_pair() in a place
 *
 * Sends @channel away: returns a reference to it, to be put inside a
 * message (alone, or anywhere in a tuple, array or dictionary), and the
 * end is dead here from then on (a put returns %FALSE, a get %NULL; drop
 * your reference). The place that receives the reference turns it into a
 * working channel with dp_place_channel_from_variant(); the pair's other
 * end, which stays here, then talks to it directly, node to node, and
 * what was put to that end before is delivered first, in order.
 *
 * The reference is a value of type `(ssqay)`: the string "dp-channel", the
 * host and port of this node (the address it listens on; its host name
 * when that is a wildcard), and a random 128-bit token that this node
 * checks when the reference is redeemed, once. It is good for one
 * redemption; a node keeps at most 1024 unredeemed ends (the oldest is
 * dropped, with a warning, and its other end sees the channel closed).
 *
 * ```c
 * DpPlaceChannel *mine, *theirs;
 *
 * dp_place_channel_new_pair (&mine, &theirs);
 * dp_place_channel_put (peer, g_variant_new ("(sv)", "talk-to-me",
 *                                            dp_place_channel_to_variant (theirs)));
 * g_object_unref (theirs);
 * dp_place_channel_put (mine, g_variant_new_string ("hello"));   // queued until redeemed
 * ```
 *
 * Returns: (transfer none) (nullable): a floating reference, or %NULL (with
 *   a warning) when @channel cannot travel: it already leads to another
 *   process, was sent before, or the calling thread is no place of a
 *   listening node
 *
 * Since: 1.0
 */
GVariant *
dp_place_channel_to_variant (DpPlaceChannel *channel)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) node = NULL;
  g_autofree char *host = NULL;
  DpPlaceChannel *handle;
  DpMesh *mesh;
  Export *ex;
  guint16 port;

  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (channel), NULL);
  node = ref_node_of (channel, &error);
  if (node == NULL)
    goto fail;
  mesh = mesh_of (node);
  if (!advertised_address (mesh, &host, &port, &error))
    goto fail;
  handle = _dp_place_channel_export (channel, &error);
  if (handle == NULL)
    goto fail;
  ex = g_new0 (Export, 1);
  ex->handle = handle;
  return add_export (mesh, host, port, ex);

fail:
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "DP_EVENT", "mesh-export-failed",
                    "MESSAGE", "cannot send a channel end: %s", error->message);
  return NULL;
}

/**
 * dp_place_channel_from_variant:
 * @self: the calling place's channel (or any channel of that place)
 * @value: a channel reference made by dp_place_channel_to_variant(), as
 *   found in a message (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * Redeems a channel reference: returns a working channel whose other end
 * is the one that stayed where the reference was made. If that is another
 * node, this node dials it (or reuses its connection there) and the two
 * ends then talk directly. A reference is good once. Anything else —
 * another type, a forged or already used token, a node that cannot be
 * reached or refuses our secret — is an error for this call only.
 *
 * ```c
 * g_autoptr(GVariant) msg = dp_place_channel_get (ch);   // ('talk-to-me', <ref>)
 * g_autoptr(GVariant) ref = g_variant_get_child_value (msg, 1);
 * g_autoptr(GVariant) inner = g_variant_get_variant (ref);
 * g_autoptr(DpPlaceChannel) peer = dp_place_channel_from_variant (ch, inner, &error);
 * ```
 *
 * Returns: (transfer full) (nullable): the channel, or %NULL with @error
 *   set: %DP_ERROR_BAD_REFERENCE (not a reference, or one the node does
 *   not know), or the errors of dp_place_channel_connect()
 *
 * Since: 1.0
 */
DpPlaceChannel *
dp_place_channel_from_variant (DpPlaceChannel  *self,
                               GVariant        *value,
                               GError         **error)
{
  g_autoptr(GVariant) ref = NULL;
  g_autoptr(GVariant) tv = NULL;
  g_autoptr(DpNode) node = NULL;
  g_autofree char *own_host = NULL;
  const char *magic, *host;
  const guint8 *token;
  guint16 port, own_port = 0;
  DpMesh *mesh;
  GVariantDict req;

  g_return_val_if_fail (self == NULL || DP_IS_PLACE_CHANNEL (self), NULL);
  g_return_val_if_fail (value != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ref = g_variant_ref_sink (value);
  if (!g_variant_is_of_type (ref, G_VARIANT_TYPE (MESH_REF_TYPE)))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_BAD_REFERENCE,
                   "a channel reference is of type %s, not %s",
                   MESH_REF_TYPE, g_variant_get_type_string (ref));
      return NULL;
    }
  g_variant_get (ref, "(&s&sq@ay)", &magic, &host, &port, &tv);
  if (strcmp (magic, MESH_REF_MAGIC) != 0 || *host == '\0' ||
      strlen (host) > MESH_HOST_MAX || port == 0)
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_BAD_REFERENCE,
                           "not a channel reference (or a malformed one)");
      return NULL;
    }
  if (!token_from_variant (tv, &token, error))
    return NULL;
  node = ref_node_of (self, error);
  if (node == NULL)
    return NULL;
  mesh = mesh_of (node);

  /* made on this very node: the end is handed over as it is */
  if (advertised_address (mesh, &own_host, &own_port, NULL) &&
      own_port == port && strcmp (own_host, host) == 0)
    {
      gboolean is_place = FALSE;
      Export *ex = take_export (mesh, token, TRUE, &is_place);
      DpPlaceChannel *local;

      if (ex == NULL && !is_place)
        {
          set_unknown_token (error);
          return NULL;
        }
      if (ex)
        {
          local = g_steal_pointer (&ex->handle);
          export_free (ex);
          return local;
        }
      /* a place's channel: handed over through a connection to this node */
    }

  g_variant_dict_init (&req, NULL);
  g_variant_dict_insert (&req, "kind", "s", "redeem");
  g_variant_dict_insert_value (&req, "token", tv);
  return mesh_request (node, host, port, g_variant_dict_end (&req), error);
}
