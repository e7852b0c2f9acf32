/* dp-node-server.c: the server half of a node — places started for peers
 *
 * A node that listens (dp-node, or any program calling dp_node_listen())
 * accepts authenticated connections and starts places on request: a place
 * function runs in a thread of its own, bound to the (connection, channel
 * id) that asked for it; a named place can in addition be reached by any
 * number of client connections, each message carrying the channel its
 * reply goes to. This file owns the listening socket, the accepted
 * connections, the places and the table of named places, and answers the
 * frames a master or a peer node sends.
 *
 * It runs in the router thread. It calls its node only through the
 * DpNodeServerHooks the node gave it (the secret, the plugin path, the
 * node's signals), and a channel's frames only through the entry's class:
 * a place it started (PLACE) or a client of a named place (CLIENT).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <stdio.h>

struct _DpNodeServer
{
  /* immutable after construction */
  GObject                 *node;            /* not a ref: the node owns us */
  const DpNodeServerHooks *hooks;
  GMainContext            *router_context;

  /* atomic */
  gint                     port;            /* 0 until listening */
  gint                     n_places;
  char                    *listen_address;  /* set once, before @port, by listen */
  /* set once, by the router thread: the address (not loopback) the first
   * authenticated peer reached this node at — what a node listening on a
   * wildcard names in channel references (dp-mesh.c) */
  char                    *reached_at;

  /* the mesh: node-to-node channels and channel references (dp-mesh.c) */
  DpMesh                  *mesh;

  /* router thread only */
  GSocketService          *service;
  GPtrArray               *conns;           /* DpConnection accepted */
  GHashTable              *named;           /* char* -> NamedPlace */
  GHashTable              *running;         /* PlaceRecord* / IsolatedRecord* -> a{sv} (listing) */
  DpConnection            *owner;           /* where logs of peers' places go */
  gboolean                 shut_down;

  /* limits (DpServerLimits), router thread only */
  GHashTable              *places_of;       /* DpConnection* -> places it started, as a pointer */
  GHashTable              *pending;         /* DpConnection* still in its handshake */
  guint                    refused;         /* connections refused since the last log line */
  gint64                   refused_logged_us;
};

#define REFUSED_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

/* a client of a named place: the entry its connection has for it */
typedef struct {
  DpConnection   *conn;
  DpChannelEntry *entry;
} NamedClient;

static void
named_client_free (gpointer data)
{
  NamedClient *nc = data;

  _dp_connection_unref (nc->conn);
  _dp_channel_entry_unref (nc->entry);
  g_free (nc);
}

/* whether @nc's channel is still open (its entry still in its table) */
static gboolean
named_client_is_open (NamedClient *nc)
{
  g_autoptr(DpChannelEntry) now = _dp_connection_lookup (nc->conn, nc->entry->id);

  return now == nc->entry;
}

typedef struct {
  DpPlace        *place;
  DpPlaceChannel *target;
  GPtrArray      *clients;   /* NamedClient: told when the place ends (router thread) */
} NamedPlace;

static void
named_place_free (gpointer data)
{
  NamedPlace *np = data;

  g_object_unref (np->place);
  g_object_unref (np->target);
  g_ptr_array_unref (np->clients);
  g_free (np);
}

/* The named place ended (router thread): its clients on other nodes see
 * their channels closed, after its last answers (sent before this, from
 * its thread). A master's client keeps its own protocol (it is not told). */
static void
named_place_tell_clients (DpNodeServer *self,
                          NamedPlace   *np,
                          DpPlaceExit   exit,
                          const char   *detail)
{
  for (guint i = 0; i < np->clients->len; i++)
    {
      NamedClient *nc = np->clients->pdata[i];
      g_autoptr(DpChannelEntry) gone = NULL;
      GVariantBuilder none;

      if (!named_client_is_open (nc) || !_dp_mesh_is_peer (self->mesh, nc->conn))
        continue;
      gone = _dp_connection_steal_entry (nc->conn, nc->entry->id);
      if (gone && gone->reply)
        _dp_place_channel_unbind (gone->reply);
      g_variant_builder_init (&none, G_VARIANT_TYPE ("av"));
      _dp_connection_send (nc->conn, DP_FRAME_PLACE_DIED, nc->entry->id, 0,
                           g_variant_new ("(usav)", (guint32) exit, detail ? detail : "", &none));
    }
}

/* ---- channels: a place started here, a client of a named place ---- */

static void
place_closed (DpChannelEntry *e,
              DpConnection   *conn)
{
  _dp_place_channel_close_inbox (e->target);
}

static void
place_lost (DpChannelEntry *e,
            DpConnection   *conn)
{
  /* the place sees its channel closed; what it puts is dropped */
  _dp_place_channel_close_inbox (e->target);
  _dp_place_channel_unbind (e->target);
}

static const DpChannelEntryClass place_entry_class = {
  .data   = _dp_channel_entry_deliver,
  .closed = place_closed,
  .lost   = place_lost,
};

static void
client_closed (DpChannelEntry *e,
               DpConnection   *conn)
{
  g_autoptr(DpChannelEntry) gone = _dp_connection_steal_entry (conn, e->id);

  if (gone && gone->reply)
    _dp_place_channel_unbind (gone->reply);
}

static void
client_lost (DpChannelEntry *e,
             DpConnection   *conn)
{
  if (e->reply)
    _dp_place_channel_unbind (e->reply);
}

static const DpChannelEntryClass client_entry_class = {
  .data   = _dp_channel_entry_deliver,
  .closed = client_closed,
  .lost   = client_lost,
};

/* ---- what runs here, for a "list" request ---- */

/* Router thread: @record runs a place (what a listing shows of it) */
static void
running_add (DpNodeServer *self,
             gpointer      record,
             const char   *symbol,
             guint32       channel,
             const char   *peer,
             const char   *name,
             gboolean      isolated)
{
  GVariantBuilder b;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "symbol", g_variant_new_string (symbol ? symbol : ""));
  g_variant_builder_add (&b, "{sv}", "channel", g_variant_new_uint32 (channel));
  g_variant_builder_add (&b, "{sv}", "peer", g_variant_new_string (peer ? peer : ""));
  if (name)
    g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  g_variant_builder_add (&b, "{sv}", "isolated", g_variant_new_boolean (isolated));
  g_hash_table_insert (self->running, record, g_variant_ref_sink (g_variant_builder_end (&b)));
}

/* A "list" request: answers on @channel with one message a{sv} — "places"
 * (aa{sv}: symbol, channel, peer, name, isolated), "named" (as: the names
 * and their client counts as a{su} "clients"), "connections" (u) — then
 * ends it, as a place that returned. Only an authenticated peer gets here. */
static gboolean
send_listing (DpNodeServer  *self,
              DpConnection  *conn,
              guint32        channel,
              GError       **error)
{
  GVariantBuilder b, places, clients;
  GHashTableIter iter;
  gpointer key, value;
  GVariantBuilder none;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  g_variant_builder_init (&places, G_VARIANT_TYPE ("aa{sv}"));
  g_hash_table_iter_init (&iter, self->running);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_variant_builder_add_value (&places, value);
  g_variant_builder_init (&clients, G_VARIANT_TYPE ("a{su}"));
  g_hash_table_iter_init (&iter, self->named);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_variant_builder_add (&clients, "{su}", (const char *) key, ((NamedPlace *) value)->clients->len);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "places", g_variant_builder_end (&places));
  g_variant_builder_add (&b, "{sv}", "named", g_variant_builder_end (&clients));
  g_variant_builder_add (&b, "{sv}", "connections", g_variant_new_uint32 (self->conns->len));

  g_variant_builder_init (&none, G_VARIANT_TYPE ("av"));
  _dp_connection_send (conn, DP_FRAME_PLACE_STARTED, channel, 0, NULL);
  _dp_connection_send (conn, DP_FRAME_DATA, channel, 0, g_variant_builder_end (&b));
  _dp_connection_send (conn, DP_FRAME_PLACE_DIED, channel, 0,
                       g_variant_new ("(usav)", (guint32) DP_PLACE_EXIT_RETURNED, "listed", &none));
  return TRUE;
}

/* ---- a place's end ---- */

static void send_failed (DpConnection *conn, guint32 channel, const GError *error);

typedef struct {
  DpNodeServer   *server;
  GObject        *node;         /* a ref: the node (and its server) outlive the place */
  /* under @lock (written by the router when the place's channel is
   * handed over, read by the place's thread when it ends) */
  GMutex          lock;
  DpConnection   *conn;
  guint32         channel;
  DpPlaceChannel *target;
  char           *name;
  char           *symbol;
  DpPlaceExit     exit;
  char           *detail;
} PlaceRecord;

static void
place_record_free (gpointer data)
{
  PlaceRecord *pr = data;

  g_object_unref (pr->node);
  _dp_connection_unref (pr->conn);
  g_mutex_clear (&pr->lock);
  g_clear_object (&pr->target);
  g_free (pr->name);
  g_free (pr->symbol);
  g_free (pr->detail);
  g_free (pr);
}

/* ---- limits for peers (DpServerLimits) ---- */

static void
count_place (DpNodeServer *self,
             DpConnection *conn,
             int           delta)
{
  guint had = GPOINTER_TO_UINT (g_hash_table_lookup (self->places_of, conn));
  guint n = delta < 0 && had == 0 ? 0 : had + delta;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  if (n == 0)
    g_hash_table_remove (self->places_of, conn);
  else
    g_hash_table_insert (self->places_of, conn, GUINT_TO_POINTER (n));
}

/* FALSE, with DP_ERROR_LIMIT naming the limit, when @conn may not start
 * one more place */
static gboolean
check_place_limits (DpNodeServer  *self,
                    DpConnection  *conn,
                    GError       **error)
{
  DpServerLimits limits;
  guint on_node = (guint) g_atomic_int_get (&self->n_places);
  guint of_conn = GPOINTER_TO_UINT (g_hash_table_lookup (self->places_of, conn));

  self->hooks->get_limits (self->node, &limits);
  if (on_node >= limits.max_places)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_LIMIT,
                   "this node runs %u places, its limit (max-places %u, "
                   "dp-node --max-places)", on_node, limits.max_places);
      return FALSE;
    }
  if (of_conn >= limits.max_places_per_connection)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_LIMIT,
                   "this connection has started %u places, its limit "
                   "(max-places-per-connection %u, dp-node --max-places-per-connection)",
                   of_conn, limits.max_places_per_connection);
      return FALSE;
    }
  return TRUE;
}

/* FALSE when @sconn must be closed at once: too many connections are
 * still in their handshake. Said in the log at most every 10 s. */
static gboolean
admit_connection (DpNodeServer      *self,
                  GSocketConnection *sconn)
{
  DpServerLimits limits;
  gint64 now;

  self->hooks->get_limits (self->node, &limits);
  if (g_hash_table_size (self->pending) < limits.max_pending_connections)
    return TRUE;
  g_io_stream_close (G_IO_STREAM (sconn), NULL, NULL);
  self->refused++;
  now = g_get_monotonic_time ();
  if (self->refused_logged_us == 0 || now - self->refused_logged_us >= REFUSED_LOG_INTERVAL_US)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "DP_EVENT", "connection-refused",
                        "MESSAGE", "refused %u connection(s): %u are still in their handshake "
                        "(max-pending-connections %u, dp-node --max-pending-connections)",
                        self->refused, g_hash_table_size (self->pending),
                        limits.max_pending_connections);
      self->refused = 0;
      self->refused_logged_us = now;
    }
  return FALSE;
}

static void
place_exited_in_router (gpointer data)
{
  PlaceRecord *pr = data;
  DpNodeServer *self = pr->server;
  g_autoptr(DpChannelEntry) entry = NULL;

  g_hash_table_remove (self->running, pr);
  entry = _dp_connection_steal_entry (pr->conn, pr->channel);
  if (pr->name)
    {
      NamedPlace *np = g_hash_table_lookup (self->named, pr->name);
      if (np && entry && np->place == entry->place)
        {
          named_place_tell_clients (self, np, pr->exit, pr->detail);
          g_hash_table_remove (self->named, pr->name);
        }
    }
  g_atomic_int_dec_and_test (&self->n_places);
  count_place (self, pr->conn, -1);
  /* a launch that failed was said so by send_failed() */
  g_log_structured (G_LOG_DOMAIN, pr->exit == DP_PLACE_EXIT_RETURNED || pr->exit == DP_PLACE_EXIT_FAILED
                                  ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING,
                    "DP_EVENT", "place-exited",
                    "MESSAGE", "place %s (channel %u of %s) exited: %s", pr->symbol, pr->channel, _dp_connection_get_peer (pr->conn), pr->detail);
  self->hooks->place_exited (self->node, pr->symbol, pr->exit, pr->detail);
}

/* Runs in the place's thread, right after it ended: its last messages are
 * already queued on the connection, so the death notice follows them. */
static void
on_place_exit (DpPlace     *place,
               DpPlaceExit  exit,
               const char  *detail,
               gpointer     data)
{
  PlaceRecord *pr = data;
  g_autoptr(GPtrArray) replies = NULL;
  g_autoptr(GPtrArray) unread = _dp_place_channel_drain_inbox (pr->target, &replies);
  GVariantBuilder returned;
  DpConnection *conn;
  guint32 channel;

  pr->exit = exit;
  pr->detail = g_strdup (detail);
  g_mutex_lock (&pr->lock);
  conn = _dp_connection_ref (pr->conn);
  channel = pr->channel;
  g_mutex_unlock (&pr->lock);

  /* Nothing is dropped silently: what the place never read goes back to
   * whoever sent it — with the death notice to the place's owner, or
   * bounced to the client of a named place. */
  g_variant_builder_init (&returned, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < unread->len; i++)
    {
      DpPlaceChannel *reply = replies->pdata[i];
      if (reply)
        _dp_place_channel_bounce (reply, unread->pdata[i]);
      else
        g_variant_builder_add (&returned, "v", unread->pdata[i]);
    }
  /* what the place printed goes out before its death is told */
  fflush (stdout);
  if (exit == DP_PLACE_EXIT_FAILED)
    {
      /* a thunk that gave no place: the launch failed */
      g_autoptr(GError) error = g_error_new (DP_ERROR, DP_ERROR_PLACE_FAILED, "%s", detail);
      g_variant_builder_clear (&returned);
      send_failed (conn, channel, error);
    }
  else
    _dp_connection_send (conn, DP_FRAME_PLACE_DIED, channel, 0,
                         g_variant_new ("(usav)", (guint32) exit, detail ? detail : "", &returned));
  _dp_connection_unref (conn);
  _dp_main_context_invoke (pr->server->router_context, "[libdp] place exited",
                           place_exited_in_router, pr, place_record_free);
}

/* ---- NEW_PLACE: start a place, or connect to a named one ---- */

typedef struct {
  const char *kind;      /* "place", "thunk" or "connect" */
  const char *plugin;
  const char *symbol;
  const char *name;      /* NULL: none */
  gboolean    isolate;   /* in a process of its own (dp-isolated-place.c) */
} PlaceRequest;

static void
send_failed (DpConnection *conn,
             guint32       channel,
             const GError *error)
{
  /* the requester gets the error (and reports it): not a warning here
   * as well, which its master would print a second time */
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "DP_EVENT", "place-failed",
                    "MESSAGE", "request from %s on channel %u failed: %s", _dp_connection_get_peer (conn), channel, error->message);
  _dp_connection_send (conn, DP_FRAME_PLACE_FAILED, channel, 0,
                       g_variant_new ("(us)", (guint32) error->code, error->message));
}

static const char *
request_str (GVariant   *payload,
             const char *key)
{
  const char *s = NULL;

  if (!g_variant_lookup (payload, key, "&s", &s))
    return NULL;
  return (s && *s) ? s : NULL;
}

/* The request's fields (borrowed from @payload), or FALSE when it is
 * malformed or its channel is taken. */
static gboolean
parse_request (DpConnection  *conn,
               guint32        channel,
               GVariant      *payload,
               PlaceRequest  *req,
               GError       **error)
{
  g_autoptr(DpChannelEntry) entry = NULL;

  if (payload == NULL || !g_variant_is_of_type (payload, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL, "malformed place request");
      return FALSE;
    }
  entry = _dp_connection_lookup (conn, channel);
  if (entry != NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL, "channel %u is already in use", channel);
      return FALSE;
    }
  req->kind = request_str (payload, "kind");
  req->plugin = request_str (payload, "plugin");
  req->symbol = request_str (payload, "symbol");
  req->name = request_str (payload, "name");
  if (!g_variant_lookup (payload, "isolate", "b", &req->isolate))
    req->isolate = FALSE;
  return TRUE;
}

/* A client of a named place: what it sends goes to that place's inbox,
 * with this channel as the reply channel. */
static gboolean
connect_named (DpNodeServer        *self,
               DpConnection        *conn,
               guint32              channel,
               const PlaceRequest  *req,
               GError             **error)
{
  NamedPlace *np = req->name ? g_hash_table_lookup (self->named, req->name) : NULL;
  DpChannelEntry *entry;

  if (np == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_NAME_NOT_FOUND,
                   "no place named '%s' on this node", req->name ? req->name : "");
      return FALSE;
    }
  entry = _dp_channel_entry_new (&client_entry_class, channel);
  entry->target = g_object_ref (np->target);
  entry->reply = _dp_place_channel_new_bound (conn, channel);
  _dp_connection_add_entry (conn, channel, entry);
  /* remembered, to be told when the place ends; the closed ones go */
  for (guint i = np->clients->len; i > 0; i--)
    if (!named_client_is_open (np->clients->pdata[i - 1]))
      g_ptr_array_remove_index_fast (np->clients, i - 1);
  {
    NamedClient *nc = g_new0 (NamedClient, 1);
    nc->conn = _dp_connection_ref (conn);
    nc->entry = _dp_channel_entry_ref (entry);
    g_ptr_array_add (np->clients, nc);
  }
  _dp_connection_send (conn, DP_FRAME_PLACE_STARTED, channel, 0, NULL);
  return TRUE;
}

/* A thunk's place, on its thread: the thunk gave a place, which runs now */
typedef struct {
  DpConnection *conn;
  guint32       channel;
} StartedNote;

static void
started_note_free (gpointer data)
{
  StartedNote *sn = data;

  _dp_connection_unref (sn->conn);
  g_free (sn);
}

static void
thunk_started (DpPlace  *place,
               gpointer  data)
{
  StartedNote *sn = data;

  _dp_connection_send (sn->conn, DP_FRAME_PLACE_STARTED, sn->channel, 0, NULL);
}

/* Makes the place (a place function in a new thread, or a thunk called on
 * that thread, which says STARTED once the thunk gave a place: the router
 * never runs plugin code), registers its channel; returns the place
 * (transfer full) and its inbox end in @entry->target. */
static DpPlace *
make_place (DpNodeServer        *self,
            DpConnection        *conn,
            guint32              channel,
            const PlaceRequest  *req,
            gpointer             fn,
            DpChannelEntry      *entry,
            GError             **error)
{
  DpPlaceStart how = { .channel = channel, .symbol = req->symbol };
  DpPlace *place;

  entry->target = _dp_place_channel_new_bound (conn, channel);
  /* the place may reach other nodes' places through its node */
  _dp_mesh_mark_channel (entry->target, self->node);
  if (g_strcmp0 (req->kind, "thunk") == 0)
    {
      StartedNote *sn = g_new0 (StartedNote, 1);

      sn->conn = _dp_connection_ref (conn);
      sn->channel = channel;
      how.thunk = (DpPlaceThunk) fn;
      how.started = thunk_started;
      how.started_data = sn;
      how.started_free = started_note_free;
    }
  else
    {
      how.func = (DpPlaceFunc) fn;
      _dp_connection_send (conn, DP_FRAME_PLACE_STARTED, channel, 0, NULL);
    }
  /* register before the thread runs, so nothing it triggers is missed */
  _dp_connection_add_entry (conn, channel, _dp_channel_entry_ref (entry));
  place = _dp_place_start (&how, g_object_ref (entry->target), NULL);
  entry->place = g_object_ref (place);
  return place;
}

/* ---- an isolated place: its process's end ---- */

typedef struct {
  DpNodeServer *server;
  GObject      *node;      /* a ref, as a PlaceRecord's */
  DpConnection *conn;      /* a ref: the place counts against it */
  guint32       channel;
  char         *peer;
} IsolatedRecord;

static void
isolated_record_free (IsolatedRecord *ir)
{
  g_object_unref (ir->node);
  _dp_connection_unref (ir->conn);
  g_free (ir->peer);
  g_free (ir);
}

static void
isolated_exited (gpointer     data,
                 const char  *symbol,
                 DpPlaceExit  exit,
                 const char  *detail)
{
  IsolatedRecord *ir = data;

  g_atomic_int_dec_and_test (&ir->server->n_places);
  count_place (ir->server, ir->conn, -1);
  g_log_structured (G_LOG_DOMAIN, exit == DP_PLACE_EXIT_RETURNED || exit == DP_PLACE_EXIT_FAILED
                                  ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING,
                    "DP_EVENT", "place-exited",
                    "MESSAGE", "isolated place %s (channel %u of %s) exited: %s", symbol, ir->channel, ir->peer, detail);
  ir->server->hooks->place_exited (ir->node, symbol, exit, detail);
  g_hash_table_remove (ir->server->running, ir);
  isolated_record_free (ir);
}

static gboolean
start_isolated (DpNodeServer        *self,
                DpConnection        *conn,
                guint32              channel,
                const PlaceRequest  *req,
                GError             **error)
{
  g_auto(GStrv) dirs = self->hooks->dup_plugin_dirs (self->node);
  IsolatedRecord *ir;
  gsize max_frame;
  gdouble hb_interval, hb_timeout;

  if (req->name)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "an isolated place cannot be named ('%s')", req->name);
      return FALSE;
    }
  self->hooks->accept_params (self->node, &max_frame, &hb_interval, &hb_timeout);
  ir = g_new0 (IsolatedRecord, 1);
  ir->server = self;
  ir->node = g_object_ref (self->node);
  ir->conn = _dp_connection_ref (conn);
  ir->channel = channel;
  ir->peer = g_strdup (_dp_connection_get_peer (conn));
  g_atomic_int_inc (&self->n_places);
  if (!_dp_isolated_place_start (conn, channel, req->kind, req->plugin, req->symbol,
                                 (const char * const *) dirs, max_frame,
                                 isolated_exited, ir, error))
    {
      g_atomic_int_dec_and_test (&self->n_places);
      isolated_record_free (ir);
      return FALSE;
    }
  running_add (self, ir, req->symbol, channel, ir->peer, NULL, TRUE);
  return TRUE;
}

/* A place from a plugin, under its name if it has one; its end is watched
 * so its death is told (on_place_exit). */
static gboolean
start_place (DpNodeServer        *self,
             DpConnection        *conn,
             guint32              channel,
             const PlaceRequest  *req,
             GError             **error)
{
  g_autoptr(DpChannelEntry) entry = NULL;
  g_autoptr(DpPlace) place = NULL;
  gpointer fn;
  PlaceRecord *pr;

  if (g_strcmp0 (req->kind, "place") != 0 && g_strcmp0 (req->kind, "thunk") != 0)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL, "unknown request kind '%s'",
                   req->kind ? req->kind : "");
      return FALSE;
    }
  if (req->name && g_hash_table_contains (self->named, req->name))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_NAME_IN_USE,
                   "a place named '%s' already runs on this node", req->name);
      return FALSE;
    }
  if (req->isolate)
    return start_isolated (self, conn, channel, req, error);
  fn = self->hooks->lookup_plugin (self->node, req->plugin, req->symbol, error);
  if (fn == NULL)
    return FALSE;
  entry = _dp_channel_entry_new (&place_entry_class, channel);
  place = make_place (self, conn, channel, req, fn, entry, error);
  if (place == NULL)
    return FALSE;

  if (req->name)
    {
      NamedPlace *np = g_new0 (NamedPlace, 1);
      np->place = g_object_ref (place);
      np->target = g_object_ref (entry->target);
      np->clients = g_ptr_array_new_with_free_func (named_client_free);
      g_hash_table_insert (self->named, g_strdup (req->name), np);
    }

  g_atomic_int_inc (&self->n_places);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "place-started",
                    "MESSAGE", "started place %s:%s on channel %u of %s%s%s", req->plugin, req->symbol, channel, _dp_connection_get_peer (conn), req->name ? " as " : "", req->name ? req->name : "");

  pr = g_new0 (PlaceRecord, 1);
  g_mutex_init (&pr->lock);
  pr->server = self;
  pr->node = g_object_ref (self->node);
  pr->conn = _dp_connection_ref (conn);
  pr->target = g_object_ref (entry->target);
  pr->channel = channel;
  pr->name = g_strdup (req->name);
  pr->symbol = g_strdup (req->symbol);
  running_add (self, pr, req->symbol, channel, _dp_connection_get_peer (conn), req->name, FALSE);
  /* the entry lives no longer than the record: both go when the place
   * has exited (place_exited_in_router) */
  entry->record = pr;
  _dp_place_set_exit_notify (place, on_place_exit, pr);
  return TRUE;
}

static void
handle_new_place (DpNodeServer *self,
                  DpConnection *conn,
                  guint32       channel,
                  GVariant     *payload)
{
  g_autoptr(GError) error = NULL;
  PlaceRequest req = { NULL, };
  gboolean ok;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  if (!parse_request (conn, channel, payload, &req, &error))
    ok = FALSE;
  else if (g_strcmp0 (req.kind, "connect") == 0)
    ok = connect_named (self, conn, channel, &req, &error);
  else if (g_strcmp0 (req.kind, "redeem") == 0)
    ok = _dp_mesh_redeem (self->mesh, conn, channel, payload, &error);
  else if (g_strcmp0 (req.kind, "list") == 0)
    ok = send_listing (self, conn, channel, &error);
  else if ((ok = check_place_limits (self, conn, &error) &&
                 start_place (self, conn, channel, &req, &error)))
    count_place (self, conn, 1);
  if (!ok)
    send_failed (conn, channel, error);
}

/* ---- handing a place's channel over (dp_remote_connection_to_variant) ---- */

/* The entry of the place started for @conn on @channel, or NULL */
static DpChannelEntry *
lookup_place (DpConnection *conn,
              guint32       channel,
              GError      **error)
{
  DpChannelEntry *entry = _dp_connection_lookup (conn, channel);

  if (entry && entry->klass == &place_entry_class && entry->record)
    return entry;
  g_clear_pointer (&entry, _dp_channel_entry_unref);
  g_set_error (error, DP_ERROR, DP_ERROR_BAD_REFERENCE,
               "channel %u leads to no place running in a thread of this node "
               "(ended, isolated, or a client of a named place): it cannot be handed over",
               channel);
  return NULL;
}

gboolean
_dp_node_server_hold_place (DpNodeServer  *self,
                            DpConnection  *conn,
                            guint32        channel,
                            GError       **error)
{
  g_autoptr(DpChannelEntry) entry = NULL;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  entry = lookup_place (conn, channel, error);
  if (entry == NULL)
    return FALSE;
  _dp_place_channel_hold (entry->target, NULL);
  return TRUE;
}

gboolean
_dp_node_server_hand_over (DpNodeServer  *self,
                           DpConnection  *from,
                           guint32        channel,
                           DpConnection  *to,
                           guint32        to_channel,
                           GError       **error)
{
  g_autoptr(DpChannelEntry) old = NULL;
  g_autoptr(DpChannelEntry) stolen = NULL;
  DpChannelEntry *entry;
  PlaceRecord *pr;
  DpConnection *prev;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  old = lookup_place (from, channel, error);
  if (old == NULL)
    return FALSE;
  stolen = _dp_connection_steal_entry (from, channel);
  pr = old->record;
  entry = _dp_channel_entry_new (&place_entry_class, to_channel);
  entry->target = g_object_ref (old->target);
  entry->place = old->place ? g_object_ref (old->place) : NULL;
  entry->record = pr;
  g_mutex_lock (&pr->lock);
  prev = pr->conn;
  pr->conn = _dp_connection_ref (to);
  pr->channel = to_channel;
  g_mutex_unlock (&pr->lock);
  count_place (self, from, -1);
  count_place (self, to, 1);
  _dp_connection_add_entry (to, to_channel, entry);
  /* STARTED, then what the place put while held, then its puts go to @to */
  _dp_place_channel_rebind (entry->target, to, to_channel, DP_FRAME_PLACE_STARTED, NULL);
  _dp_connection_unref (prev);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "place-handed-over",
                    "MESSAGE", "place %s (channel %u of %s) handed over to %s (channel %u)",
                    pr->symbol, channel, _dp_connection_get_peer (from),
                    _dp_connection_get_peer (to), to_channel);
  return TRUE;
}

static void
handle_export (DpNodeServer *self,
               DpConnection *conn,
               guint32       channel,
               GVariant     *payload)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = NULL;

  if (payload == NULL || !g_variant_is_of_type (payload, G_VARIANT_TYPE_BYTESTRING))
    g_set_error_literal (&error, DP_ERROR, DP_ERROR_PROTOCOL, "malformed EXPORT");
  else
    ref = _dp_mesh_export_place (self->mesh, conn, channel, payload, &error);
  if (ref)
    _dp_connection_send (conn, DP_FRAME_EXPORTED, channel, 0, ref);
  else
    _dp_connection_send (conn, DP_FRAME_EXPORTED, channel, 0,
                         g_variant_new ("(us)", (guint32) error->code, error->message));
}

/* ---- the connections' handler ---- */

/* DATA frames for one channel (transfer full of each): into the place's
 * inbox, or — the place has ended, or never was — back to the sender,
 * never dropped. */
static void
deliver_or_bounce (DpConnection   *conn,
                   guint32         channel,
                   DpChannelEntry *entry,
                   GVariant      **msgs,
                   guint           n)
{
  if (entry && entry->klass->data && entry->klass->data (entry, conn, msgs, n))
    return;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "MESSAGE", "bounced %u message(s) from %s for channel %u: %s",
                    n, _dp_connection_get_peer (conn), channel,
                    entry ? "the place has ended" : "no such channel");
  for (guint i = 0; i < n; i++)
    {
      _dp_connection_send (conn, DP_FRAME_BOUNCE, channel, 0, msgs[i]);
      g_variant_unref (msgs[i]);
    }
}

/* a record from a place that a peer node started: pass it on to our own
 * owner, towards the root, or log it here when we are the root */
static void
handle_log (DpNodeServer *self,
            DpConnection *conn,
            GVariant     *payload)
{
  const char *sev, *msg;

  if (payload == NULL || !g_variant_is_of_type (payload, G_VARIANT_TYPE ("(ssa{sv})")))
    return;
  if (self->owner && self->owner != conn)
    {
      _dp_connection_send (self->owner, DP_FRAME_LOG, 0, 0, payload);
      return;
    }
  g_variant_get (payload, "(&s&s@a{sv})", &sev, &msg, NULL);
  g_log_structured (G_LOG_DOMAIN, _dp_severity_to_level (sev),
                    "DP_NODE", _dp_connection_get_peer (conn),
                    "DP_SEVERITY", sev,
                    "MESSAGE", "%s", msg);
}

static void
server_frame (DpConnection        *conn,
              const DpFrameHeader *h,
              GVariant            *payload,
              gpointer             data)
{
  DpNodeServer *self = data;
  g_autoptr(DpChannelEntry) entry = NULL;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  switch (h->type)
    {
    case DP_FRAME_DATA:
      if (payload == NULL)
        return;
      entry = _dp_connection_lookup (conn, h->channel);
      deliver_or_bounce (conn, h->channel, entry, (GVariant *[]) { g_variant_ref (payload) }, 1);
      break;

    case DP_FRAME_NEW_PLACE:
      handle_new_place (self, conn, h->channel, payload);
      break;

    case DP_FRAME_CLOSE:
      entry = _dp_connection_lookup (conn, h->channel);
      if (entry && entry->klass->closed)
        entry->klass->closed (entry, conn);
      break;

    case DP_FRAME_DIE:
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "DP_EVENT", "exit-requested",
                        "MESSAGE", "%s asked this node to exit", _dp_connection_get_peer (conn));
      self->hooks->exit_requested (self->node);
      break;

    case DP_FRAME_SET_OWNER:
      g_clear_pointer (&self->owner, _dp_connection_unref);
      self->owner = _dp_connection_ref (conn);
      break;

    case DP_FRAME_LOG:
      handle_log (self, conn, payload);
      break;

    case DP_FRAME_PONG:
    case DP_FRAME_NEW_NODE:
      break;

    case DP_FRAME_PEER_HELLO:
      _dp_mesh_peer_hello (self->mesh, conn, payload);
      break;

    case DP_FRAME_EXPORT:
      handle_export (self, conn, h->channel, payload);
      break;

    /* answers to what this node asked of a peer node (dp-mesh.c); a
     * master never sends them */
    case DP_FRAME_PLACE_STARTED:
    case DP_FRAME_PLACE_FAILED:
    case DP_FRAME_PLACE_DIED:
    case DP_FRAME_BOUNCE:
      if (!_dp_mesh_is_peer (self->mesh, conn))
        {
          _dp_connection_reject_frame (conn, h, "nodes");
          break;
        }
      entry = _dp_connection_lookup (conn, h->channel);
      if (entry == NULL)
        break;
      if (h->type == DP_FRAME_PLACE_STARTED && entry->klass->started)
        entry->klass->started (entry);
      else if (h->type == DP_FRAME_PLACE_FAILED && entry->klass->failed)
        entry->klass->failed (entry, payload);
      else if (h->type == DP_FRAME_PLACE_DIED && entry->klass->died)
        entry->klass->died (entry, payload);
      else
        break;   /* no answer this channel waits for */
      /* nothing more comes on that channel */
      if (h->type == DP_FRAME_PLACE_FAILED || h->type == DP_FRAME_PLACE_DIED)
        {
          g_clear_pointer (&entry, _dp_channel_entry_unref);
          entry = _dp_connection_steal_entry (conn, h->channel);
        }
      break;

    default:
      _dp_connection_reject_frame (conn, h, "nodes");
      break;
    }
}

/* DATA frames for one channel, in a batch: one lookup, one inbox push */
static void
server_data (DpConnection  *conn,
             guint32        channel,
             GVariant     **msgs,
             guint          n,
             gpointer       data)
{
  g_autoptr(DpChannelEntry) entry = _dp_connection_lookup (conn, channel);

  deliver_or_bounce (conn, channel, entry, msgs, n);
}

static void
server_closed (DpConnection *conn,
               const GError *reason,
               gpointer      data)
{
  DpNodeServer *self = data;
  g_autoptr(GPtrArray) entries = _dp_connection_steal_all_entries (conn);
  gboolean bad = reason && !g_error_matches (reason, DP_ERROR, DP_ERROR_CONNECTION_CLOSED);

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  g_hash_table_remove (self->pending, conn);
  for (guint i = 0; i < entries->len; i++)
    {
      DpChannelEntry *e = entries->pdata[i];
      if (e->klass->lost)
        e->klass->lost (e, conn);
    }

  g_log_structured (G_LOG_DOMAIN, bad ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_DEBUG,
                    "DP_PEER", _dp_connection_get_peer (conn),
                    "DP_EVENT", bad ? "peer-rejected" : "peer-closed",
                    "MESSAGE", "connection from %s closed: %s", _dp_connection_get_peer (conn), reason ? reason->message : "closed");
  if (bad)
    self->hooks->peer_rejected (self->node, _dp_connection_get_peer (conn), reason->message);
  if (self->owner == conn)
    g_clear_pointer (&self->owner, _dp_connection_unref);
  _dp_mesh_connection_closed (self->mesh, conn);
  g_ptr_array_remove (self->conns, conn);
}

static void
server_ready (DpConnection *conn,
              gpointer      data)
{
  DpNodeServer *self = data;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  g_hash_table_remove (self->pending, conn);
  if (g_atomic_pointer_get (&self->reached_at) == NULL)
    {
      g_autofree char *local = _dp_connection_dup_local_host (conn);
      g_autoptr(GInetAddress) inet = local ? g_inet_address_new_from_string (local) : NULL;

      if (inet && !g_inet_address_get_is_loopback (inet) && !g_inet_address_get_is_any (inet))
        g_atomic_pointer_set (&self->reached_at, g_steal_pointer (&local));
    }
}

/* Any thread: see @reached_at */
char *
_dp_node_server_dup_reached_address (DpNodeServer *self)
{
  return g_strdup (g_atomic_pointer_get (&self->reached_at));
}

static const DpConnectionHandler server_handler = {
  server_ready, server_frame, server_closed, server_data,
};

const DpConnectionHandler *
_dp_node_server_get_handler (void)
{
  return &server_handler;
}

/* A connection this node dialled to a peer node, handshake done: its
 * frames are answered as an accepted connection's are, so either end of a
 * node-to-node connection may ask the other for channels. */
void
_dp_node_server_add_dialled (DpNodeServer *self,
                             DpConnection *conn)
{
  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  g_ptr_array_add (self->conns, _dp_connection_ref (conn));
}

DpMesh *
_dp_node_server_get_mesh (DpNodeServer *self)
{
  return self->mesh;
}

char *
_dp_node_server_dup_listen_address (DpNodeServer *self)
{
  if (g_atomic_int_get (&self->port) == 0)
    return g_strdup ("");
  return g_strdup (g_atomic_pointer_get (&self->listen_address));
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *sconn,
             GObject           *source_object,
             gpointer           user_data)
{
  _dp_node_server_adopt (user_data, sconn);
  return TRUE;
}

void
_dp_node_server_adopt (DpNodeServer      *self,
                       GSocketConnection *sconn)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *secret_source = NULL;
  g_autoptr(GBytes) secret = self->hooks->get_secret (self->node, &secret_source, &error);
  g_autoptr(DpTls) tls = NULL;
  DpConnection *conn;
  gsize max_frame;
  gdouble hb_interval, hb_timeout;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  if (!admit_connection (self, sconn))
    return;
  if (secret == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "MESSAGE", "refusing a connection: %s", error->message);
      return;
    }
  if (self->hooks->get_tls)
    {
      tls = self->hooks->get_tls (self->node, sconn, &error);
      if (tls == NULL && error != NULL)
        {
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                            "MESSAGE", "refusing a connection: %s", error->message);
          return;
        }
    }
  self->hooks->accept_params (self->node, &max_frame, &hb_interval, &hb_timeout);
  conn = _dp_connection_new (sconn, DP_CONNECTION_SERVER, secret, secret_source, max_frame,
                             self->router_context, &server_handler, self);
  _dp_connection_set_tls (conn, tls);
  g_ptr_array_add (self->conns, conn);
  g_hash_table_add (self->pending, conn);
  _dp_connection_set_heartbeat (conn, hb_interval, hb_timeout);
  if (self->hooks->flow_params)
    {
      gsize out_limit, inbox_bytes;
      guint inbox_msgs;

      self->hooks->flow_params (self->node, &out_limit, &inbox_bytes, &inbox_msgs);
      _dp_connection_set_flow (conn, out_limit, inbox_bytes, inbox_msgs);
    }
  _dp_connection_start (conn);
}

/* ---- life cycle ---- */

DpNodeServer *
_dp_node_server_new (GObject                 *node,
                     GMainContext            *router_context,
                     const DpNodeServerHooks *hooks)
{
  DpNodeServer *self = g_new0 (DpNodeServer, 1);

  self->node = node;
  self->hooks = hooks;
  self->router_context = g_main_context_ref (router_context);
  self->conns = g_ptr_array_new_with_free_func ((GDestroyNotify) _dp_connection_unref);
  self->named = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, named_place_free);
  self->running = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_variant_unref);
  self->places_of = g_hash_table_new (NULL, NULL);
  self->pending = g_hash_table_new (NULL, NULL);
  self->mesh = _dp_mesh_new (node, self, router_context);
  return self;
}

/* After _dp_node_server_shutdown(), or when the router never ran */
void
_dp_node_server_free (DpNodeServer *self)
{
  g_clear_object (&self->service);
  g_ptr_array_unref (self->conns);
  g_hash_table_unref (self->named);
  g_hash_table_unref (self->running);
  g_hash_table_unref (self->places_of);
  g_hash_table_unref (self->pending);
  g_clear_pointer (&self->owner, _dp_connection_unref);
  _dp_mesh_free (self->mesh);
  g_free (self->listen_address);
  g_free (self->reached_at);
  g_main_context_unref (self->router_context);
  g_free (self);
}

gboolean
_dp_node_server_listen (DpNodeServer  *self,
                        const char    *address,
                        guint16        port,
                        GError       **error)
{
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GSocketAddress) effective = NULL;

  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  if (self->service != NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "the node already listens on port %u", _dp_node_server_get_port (self));
      return FALSE;
    }
  addr = g_inet_socket_address_new_from_string (address, port);
  if (addr == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "'%s' is not an IP address to listen on", address);
      return FALSE;
    }
  self->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), addr,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, error))
    {
      g_prefix_error (error, "cannot listen on %s:%u: ", address, port);
      g_clear_object (&self->service);
      return FALSE;
    }
  g_atomic_pointer_set (&self->listen_address, g_strdup (address));
  g_atomic_int_set (&self->port, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  return TRUE;
}

/* Stops listening and closes every connection accepted; the places see
 * their channels closed. */
void
_dp_node_server_shutdown (DpNodeServer *self)
{
  DP_ASSERT_OWNER_CONTEXT (self->router_context);
  if (self->shut_down)
    return;
  self->shut_down = TRUE;
  _dp_mesh_shutdown (self->mesh);
  if (self->service)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_clear_object (&self->service);
    }
  while (self->conns->len > 0)
    {
      DpConnection *conn = _dp_connection_ref (self->conns->pdata[0]);
      _dp_connection_close (conn, NULL);
      g_ptr_array_remove (self->conns, conn);
      _dp_connection_unref (conn);
    }
  g_hash_table_remove_all (self->named);
  g_clear_pointer (&self->owner, _dp_connection_unref);
}

guint16
_dp_node_server_get_port (DpNodeServer *self)
{
  return (guint16) g_atomic_int_get (&self->port);
}

guint
_dp_node_server_get_n_places (DpNodeServer *self)
{
  return (guint) g_atomic_int_get (&self->n_places);
}
