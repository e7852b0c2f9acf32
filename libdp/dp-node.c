/* dp-node.c: DpNode, the message router of a node
 *
 * A DpNode owns a router thread running its own GMainContext: every socket
 * of the node is read there, so a blocking get in the application (even in
 * a main-loop callback) never stops the traffic. Signals are emitted in the
 * thread-default main context that was current when the node was created.
 *
 * As a server (dp-node, or any program calling dp_node_listen()) it accepts
 * authenticated connections and starts places on request: a place function
 * runs in a thread of its own, bound to the (connection, channel id) that
 * asked for it; a named place can in addition be reached by any number of
 * client connections, each message carrying the channel its reply goes to.
 * As a client (a master) it connects to nodes on behalf of DpRemoteNode.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <stdio.h>

#include <string.h>

typedef struct {
  DpPlace        *place;
  DpPlaceChannel *target;
} NamedPlace;

struct _DpNode
{
  GObject           parent_instance;

  GMainContext     *owner_context;
  GMainContext     *router_context;
  GMainLoop        *router_loop;
  GThread          *router_thread;
  GMainLoop        *user_loop;          /* dp_message_router() */

  GMutex            lock;
  GBytes           *secret;
  char             *secret_source;      /* where it came from, for error messages */
  GPtrArray        *plugin_dirs;        /* char*, NULL-terminated on use */
  gsize             max_frame;
  gdouble           hb_interval;
  gdouble           hb_timeout;
  guint             n_places;           /* atomic */

  /* router thread only */
  GSocketService   *service;
  guint16           port;
  GPtrArray        *server_conns;       /* DpConnection */
  GHashTable       *named;              /* char* -> NamedPlace */
  DpConnection     *owner;              /* where logs of peers' places go */
  gboolean          shut_down;
};

enum {
  PROP_0,
  PROP_MAX_FRAME_SIZE,
  PROP_PORT,
  PROP_HEARTBEAT_INTERVAL,
  PROP_HEARTBEAT_TIMEOUT,
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
  return g_thread_self () == self->router_thread;
}

GMainContext *
_dp_node_get_router_context (DpNode *self)
{
  return self->router_context;
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
  g_autoptr(GMainContext) context = g_main_context_ref (self->router_context);
  g_autoptr(GMainLoop) loop = g_main_loop_ref (self->router_loop);

  g_main_context_push_thread_default (context);
  g_main_loop_run (loop);
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* ---- places on this node ---- */

typedef struct {
  DpNode         *node;
  DpConnection   *conn;
  DpPlaceChannel *target;
  guint32         channel;
  char         *name;
  char         *symbol;
  DpPlaceExit   exit;
  char         *detail;
} PlaceRecord;

static void
place_record_free (gpointer data)
{
  PlaceRecord *pr = data;

  g_object_unref (pr->node);
  _dp_connection_unref (pr->conn);
  g_clear_object (&pr->target);
  g_free (pr->name);
  g_free (pr->symbol);
  g_free (pr->detail);
  g_free (pr);
}

static void
emit_place_exited (gpointer object,
                   gpointer data)
{
  PlaceRecord *pr = data;

  g_signal_emit (object, signals[SIGNAL_PLACE_EXITED], 0,
                 pr->symbol, pr->exit, pr->detail);
}

static void
place_exited_in_router (gpointer data)
{
  PlaceRecord *pr = data;
  DpNode *self = pr->node;
  g_autoptr(DpChannelEntry) entry = NULL;

  entry = _dp_connection_steal_entry (pr->conn, pr->channel);
  if (pr->name)
    {
      NamedPlace *np = g_hash_table_lookup (self->named, pr->name);
      if (np && entry && np->place == entry->place)
        g_hash_table_remove (self->named, pr->name);
    }
  g_atomic_int_dec_and_test ((gint *) &self->n_places);
  g_log_structured (G_LOG_DOMAIN, pr->exit == DP_PLACE_EXIT_RETURNED ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING,
                    "DP_EVENT", "place-exited",
                    "MESSAGE", "place %s (channel %u of %s) exited: %s", pr->symbol, pr->channel, _dp_connection_get_peer (pr->conn), pr->detail);
  _dp_object_invoke (self->owner_context, self, emit_place_exited, pr, place_record_free);
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

  pr->exit = exit;
  pr->detail = g_strdup (detail);

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
  _dp_connection_send (pr->conn, DP_FRAME_PLACE_DIED, pr->channel, 0,
                       g_variant_new ("(usav)", (guint32) exit, detail ? detail : "", &returned));
  _dp_node_invoke (pr->node, place_exited_in_router, pr, NULL);
}

static void
send_failed (DpConnection *conn,
             guint32       channel,
             const GError *error)
{
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "DP_EVENT", "place-failed",
                    "MESSAGE", "request from %s on channel %u failed: %s", _dp_connection_get_peer (conn), channel, error->message);
  _dp_connection_send (conn, DP_FRAME_PLACE_FAILED, channel, 0,
                       g_variant_new ("(us)", (guint32) error->code, error->message));
}

static const char *
dict_str (GVariantDict *d,
          const char   *key)
{
  const char *s = NULL;

  if (!g_variant_dict_lookup (d, key, "&s", &s))
    return NULL;
  return (s && *s) ? s : NULL;
}

static void
handle_new_place (DpNode       *self,
                  DpConnection *conn,
                  guint32       channel,
                  GVariant     *payload)
{
  g_autoptr(GVariantDict) d = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DpChannelEntry) entry = NULL;
  const char *kind, *plugin, *symbol, *name;

  if (payload == NULL || !g_variant_is_of_type (payload, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (&error, DP_ERROR, DP_ERROR_PROTOCOL, "malformed place request");
      send_failed (conn, channel, error);
      return;
    }
  entry = _dp_connection_lookup (conn, channel);
  if (entry != NULL)
    {
      g_set_error (&error, DP_ERROR, DP_ERROR_PROTOCOL, "channel %u is already in use", channel);
      send_failed (conn, channel, error);
      return;
    }
  d = g_variant_dict_new (payload);
  kind = dict_str (d, "kind");
  plugin = dict_str (d, "plugin");
  symbol = dict_str (d, "symbol");
  name = dict_str (d, "name");

  if (g_strcmp0 (kind, "connect") == 0)
    {
      NamedPlace *np = name ? g_hash_table_lookup (self->named, name) : NULL;

      if (np == NULL)
        {
          g_set_error (&error, DP_ERROR, DP_ERROR_NAME_NOT_FOUND,
                       "no place named '%s' on this node", name ? name : "");
          send_failed (conn, channel, error);
          return;
        }
      entry = _dp_channel_entry_new (DP_ENTRY_CLIENT, channel);
      entry->target = g_object_ref (np->target);
      entry->reply = _dp_place_channel_new_bound (conn, channel);
      _dp_connection_add_entry (conn, channel, _dp_channel_entry_ref (entry));
      _dp_connection_send (conn, DP_FRAME_PLACE_STARTED, channel, 0, NULL);
      return;
    }

  if (g_strcmp0 (kind, "place") != 0 && g_strcmp0 (kind, "thunk") != 0)
    {
      g_set_error (&error, DP_ERROR, DP_ERROR_PROTOCOL, "unknown request kind '%s'",
                   kind ? kind : "");
      send_failed (conn, channel, error);
      return;
    }
  if (name && g_hash_table_contains (self->named, name))
    {
      g_set_error (&error, DP_ERROR, DP_ERROR_NAME_IN_USE,
                   "a place named '%s' already runs on this node", name);
      send_failed (conn, channel, error);
      return;
    }

  {
    gpointer fn;
    DpPlace *place = NULL;
    DpPlaceChannel *target = NULL;
    PlaceRecord *pr;

    g_mutex_lock (&self->lock);
    g_ptr_array_add (self->plugin_dirs, NULL);
    fn = _dp_plugin_lookup (plugin, symbol, (const char * const *) self->plugin_dirs->pdata,
                            FALSE, &error);
    g_ptr_array_remove_index (self->plugin_dirs, self->plugin_dirs->len - 1);
    g_mutex_unlock (&self->lock);
    if (fn == NULL)
      {
        send_failed (conn, channel, error);
        return;
      }

    entry = _dp_channel_entry_new (DP_ENTRY_PLACE, channel);
    if (g_strcmp0 (kind, "thunk") == 0)
      {
        place = ((DpPlaceThunk) fn) ();
        if (place == NULL || !DP_IS_PLACE (place))
          {
            g_set_error (&error, DP_ERROR, DP_ERROR_PLACE_FAILED,
                         "thunk '%s' of plugin '%s' did not return a place", symbol, plugin);
            send_failed (conn, channel, error);
            return;
          }
        _dp_connection_send (conn, DP_FRAME_PLACE_STARTED, channel, 0, NULL);
        target = _dp_place_channel_bind_peer (dp_place_get_channel (place), conn, channel);
      }
    else
      {
        target = _dp_place_channel_new_bound (conn, channel);
        _dp_connection_send (conn, DP_FRAME_PLACE_STARTED, channel, 0, NULL);
        /* register before the thread runs, so nothing it triggers is missed */
        entry->target = g_object_ref (target);
        _dp_connection_add_entry (conn, channel, _dp_channel_entry_ref (entry));
        place = _dp_place_new_with_channel ((DpPlaceFunc) fn, g_object_ref (target), NULL);
      }
    if (entry->target == NULL)
      {
        entry->target = g_object_ref (target);
        _dp_connection_add_entry (conn, channel, _dp_channel_entry_ref (entry));
      }
    entry->place = g_object_ref (place);
    g_object_unref (target);

    if (name)
      {
        NamedPlace *np = g_new0 (NamedPlace, 1);
        np->place = g_object_ref (place);
        np->target = g_object_ref (entry->target);
        g_hash_table_insert (self->named, g_strdup (name), np);
      }

    g_atomic_int_inc ((gint *) &self->n_places);
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                      "DP_EVENT", "place-started",
                      "MESSAGE", "started place %s:%s on channel %u of %s%s%s", plugin, symbol, channel, _dp_connection_get_peer (conn), name ? " as " : "", name ? name : "");

    pr = g_new0 (PlaceRecord, 1);
    pr->node = g_object_ref (self);
    pr->conn = _dp_connection_ref (conn);
    pr->target = g_object_ref (entry->target);
    pr->channel = channel;
    pr->name = g_strdup (name);
    pr->symbol = g_strdup (symbol);
    _dp_place_set_exit_notify (place, on_place_exit, pr);
    g_object_unref (place);
  }
}

static void
emit_exit_requested (gpointer object,
                     gpointer data)
{
  g_signal_emit (object, signals[SIGNAL_EXIT_REQUESTED], 0);
}

static void
server_frame (DpConnection        *conn,
              const DpFrameHeader *h,
              GVariant            *payload,
              gpointer             data)
{
  DpNode *self = data;
  g_autoptr(DpChannelEntry) entry = NULL;

  switch (h->type)
    {
    case DP_FRAME_DATA:
      if (payload == NULL)
        return;
      entry = _dp_connection_lookup (conn, h->channel);
      if (entry == NULL || !_dp_place_channel_deliver (entry->target, payload, entry->reply))
        {
          /* the place has ended (or never was): send it back, don't drop it */
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                            "MESSAGE", "bounced a message from %s for channel %u: %s",
                            _dp_connection_get_peer (conn), h->channel,
                            entry ? "the place has ended" : "no such channel");
          _dp_connection_send (conn, DP_FRAME_BOUNCE, h->channel, 0, payload);
        }
      break;

    case DP_FRAME_NEW_PLACE:
      handle_new_place (self, conn, h->channel, payload);
      break;

    case DP_FRAME_CLOSE:
      entry = _dp_connection_lookup (conn, h->channel);
      if (entry == NULL)
        return;
      if (entry->kind == DP_ENTRY_PLACE)
        _dp_place_channel_close_inbox (entry->target);
      else
        {
          g_autoptr(DpChannelEntry) gone = _dp_connection_steal_entry (conn, h->channel);
          if (gone && gone->reply)
            _dp_place_channel_unbind (gone->reply);
        }
      break;


    case DP_FRAME_DIE:
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "DP_EVENT", "exit-requested",
                        "MESSAGE", "%s asked this node to exit", _dp_connection_get_peer (conn));
      _dp_object_invoke (self->owner_context, self, emit_exit_requested, NULL, NULL);
      break;

    case DP_FRAME_SET_OWNER:
      g_clear_pointer (&self->owner, _dp_connection_unref);
      self->owner = _dp_connection_ref (conn);
      break;

    case DP_FRAME_LOG:
      /* a record from a place that a peer node started: pass it on to our
       * own owner, towards the root */
      if (payload && self->owner && self->owner != conn &&
          g_variant_is_of_type (payload, G_VARIANT_TYPE ("(ssa{sv})")))
        _dp_connection_send (self->owner, DP_FRAME_LOG, 0, 0, payload);
      else if (payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(ssa{sv})")))
        {
          const char *sev, *msg;
          g_variant_get (payload, "(&s&s@a{sv})", &sev, &msg, NULL);
          g_log_structured (G_LOG_DOMAIN, _dp_severity_to_level (sev),
                            "DP_NODE", _dp_connection_get_peer (conn),
                            "DP_SEVERITY", sev,
                            "MESSAGE", "%s", msg);
        }
      break;

    case DP_FRAME_PONG:
    case DP_FRAME_NEW_NODE:
      break;

    default:
      {
        GError *error = g_error_new (DP_ERROR, DP_ERROR_PROTOCOL,
                                     "%s sent frame type %u, which only nodes send",
                                     _dp_connection_get_peer (conn), h->type);
        _dp_connection_close (conn, error);
        g_error_free (error);
      }
      break;
    }
}

static void
emit_peer_rejected (gpointer object,
                    gpointer data)
{
  char **pair = data;

  g_signal_emit (object, signals[SIGNAL_PEER_REJECTED], 0, pair[0], pair[1]);
}

static void
server_closed (DpConnection *conn,
               const GError *reason,
               gpointer      data)
{
  DpNode *self = data;
  g_autoptr(GPtrArray) entries = _dp_connection_steal_all_entries (conn);
  gboolean bad = reason && !g_error_matches (reason, DP_ERROR, DP_ERROR_CONNECTION_CLOSED);

  for (guint i = 0; i < entries->len; i++)
    {
      DpChannelEntry *e = entries->pdata[i];
      if (e->kind == DP_ENTRY_PLACE)
        {
          /* the place sees its channel closed; what it puts is dropped */
          _dp_place_channel_close_inbox (e->target);
          _dp_place_channel_unbind (e->target);
        }
      else if (e->reply)
        _dp_place_channel_unbind (e->reply);
    }

  g_log_structured (G_LOG_DOMAIN, bad ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_DEBUG,
                    "DP_PEER", _dp_connection_get_peer (conn),
                    "DP_EVENT", bad ? "peer-rejected" : "peer-closed",
                    "MESSAGE", "connection from %s closed: %s", _dp_connection_get_peer (conn), reason ? reason->message : "closed");
  if (bad)
    {
      char **pair = g_new0 (char *, 3);
      pair[0] = g_strdup (_dp_connection_get_peer (conn));
      pair[1] = g_strdup (reason->message);
      _dp_object_invoke (self->owner_context, self, emit_peer_rejected, pair,
                         (GDestroyNotify) g_strfreev);
    }
  if (self->owner == conn)
    g_clear_pointer (&self->owner, _dp_connection_unref);
  g_ptr_array_remove (self->server_conns, conn);
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

  if (entry && _dp_place_channel_deliver_many (entry->target, msgs, n, entry->reply))
    return;
  /* the place has ended (or never was): send them back, don't drop them */
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

static const DpConnectionHandler server_handler = {
  NULL, server_frame, server_closed, server_data,
};

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *sconn,
             GObject           *source_object,
             gpointer           user_data)
{
  DpNode *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *secret_source = NULL;
  g_autoptr(GBytes) secret = get_secret (self, &secret_source, &error);
  DpConnection *conn;

  if (secret == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "MESSAGE", "refusing a connection: %s", error->message);
      return TRUE;
    }
  conn = _dp_connection_new (sconn, DP_CONNECTION_SERVER, secret, secret_source, self->max_frame,
                             self->router_context, &server_handler, self);
  g_ptr_array_add (self->server_conns, conn);
  _dp_connection_set_heartbeat (conn, self->hb_interval, self->hb_timeout);
  _dp_connection_start (conn);
  return TRUE;
}

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
  LogRecord *lr = data;

  g_signal_emit (object, signals[SIGNAL_LOG], 0, lr->node, lr->place, lr->severity, lr->message);
}

static void
deliver_remote_end (DpChannelEntry *entry,
                    DpPlaceExit     exit,
                    const char     *detail,
                    const GError   *error,
                    GVariant       *returned)
{
  g_autoptr(DpRemoteConnection) rc = g_weak_ref_get (&entry->remote);

  entry->dead = TRUE;
  if (rc)
    _dp_remote_connection_ended (rc, exit, detail, error, returned);
  else if (entry->target)
    _dp_place_channel_close_inbox (entry->target);
}

void
_dp_node_handle_client_frame (DpNode              *self,
                              DpConnection        *conn,
                              const DpFrameHeader *h,
                              GVariant            *payload)
{
  g_autoptr(DpChannelEntry) entry = NULL;

  switch (h->type)
    {
    case DP_FRAME_DATA:
      entry = _dp_connection_lookup (conn, h->channel);
      if (entry && payload)
        _dp_place_channel_deliver (entry->target, payload, NULL);
      break;

    case DP_FRAME_PLACE_STARTED:
      entry = _dp_connection_lookup (conn, h->channel);
      if (entry)
        {
          g_autoptr(DpRemoteConnection) rc = g_weak_ref_get (&entry->remote);
          if (rc)
            _dp_remote_connection_started (rc);
        }
      break;

    case DP_FRAME_PLACE_FAILED:
    case DP_FRAME_PLACE_DIED:
      /* The entry stays (marked dead) so that bounced messages still find
       * their connection; the connection removes it when it goes. */
      entry = _dp_connection_lookup (conn, h->channel);
      if (entry && !entry->dead)
        {
          guint32 code = 0;
          const char *text = "";
          g_autoptr(GError) error = NULL;
          g_autoptr(GVariant) returned = NULL;

          if (payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(us)")))
            g_variant_get (payload, "(u&s)", &code, &text);
          else if (payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(usav)")))
            g_variant_get (payload, "(u&s@av)", &code, &text, &returned);
          if (h->type == DP_FRAME_PLACE_FAILED)
            {
              error = _dp_error_from_remote (code, text);
              deliver_remote_end (entry, DP_PLACE_EXIT_FAILED, text, error, NULL);
            }
          else
            {
              DpPlaceExit exit = code <= DP_PLACE_EXIT_LOST ? (DpPlaceExit) code : DP_PLACE_EXIT_CRASHED;
              deliver_remote_end (entry, exit, text, NULL, returned);
            }
        }
      break;

    case DP_FRAME_BOUNCE:
      entry = _dp_connection_lookup (conn, h->channel);
      if (entry && payload)
        {
          g_autoptr(DpRemoteConnection) rc = g_weak_ref_get (&entry->remote);
          if (rc)
            _dp_remote_connection_bounced (rc, payload);
        }
      break;

    case DP_FRAME_LOG:
      if (payload && g_variant_is_of_type (payload, G_VARIANT_TYPE ("(ssa{sv})")))
        {
          g_autoptr(DpRemoteConnection) rc = NULL;
          const char *sev, *msg, *place = NULL, *via = NULL;
          g_autoptr(GVariant) fields = NULL;
          LogRecord *lr;

          g_variant_get (payload, "(&s&s@a{sv})", &sev, &msg, &fields);
          entry = _dp_connection_lookup (conn, h->channel);
          if (entry)
            rc = g_weak_ref_get (&entry->remote);
          if (rc)
            place = dp_remote_connection_get_symbol (rc);
          g_variant_lookup (fields, "place", "&s", &place);
          g_variant_lookup (fields, "node", "&s", &via);
          lr = g_new0 (LogRecord, 1);
          lr->node = g_strdup (via ? via : _dp_connection_get_peer (conn));
          lr->place = g_strdup (place ? place : "");
          lr->severity = g_strdup (sev);
          lr->message = g_strdup (msg);
          g_log_structured (G_LOG_DOMAIN, _dp_severity_to_level (sev),
                            "DP_NODE", lr->node,
                            "DP_PLACE", lr->place,
                            "DP_SEVERITY", sev,
                            "DP_EVENT", "place-log",
                            "MESSAGE", "[%s %s] %s", lr->node, lr->place, msg);
          _dp_object_invoke (self->owner_context, self, emit_log, lr, log_record_free);
        }
      break;

    case DP_FRAME_PONG:
      break;

    default:
      {
        GError *error = g_error_new (DP_ERROR, DP_ERROR_PROTOCOL,
                                     "node %s sent frame type %u, which only masters send",
                                     _dp_connection_get_peer (conn), h->type);
        _dp_connection_close (conn, error);
        g_error_free (error);
      }
      break;
    }
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

  sconn = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (sconn == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        g_task_return_new_error (task, DP_ERROR, DP_ERROR_CONNECTION_REFUSED, "%s", error->message);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, DP_ERROR, DP_ERROR_HOST_UNREACHABLE, "%s", error->message);
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
  op->conn = _dp_connection_new (sconn, DP_CONNECTION_CLIENT, secret, secret_source, self->max_frame,
                                 self->router_context, &connect_handler, task);
  _dp_connection_set_heartbeat (op->conn, self->hb_interval, self->hb_timeout);
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

  g_task_set_source_tag (task, _dp_node_connect_async);
  op->handler = handler;
  op->handler_data = handler_data;
  g_task_set_task_data (task, op, (GDestroyNotify) connect_op_free);
  g_socket_client_set_timeout (client, 30);
  g_socket_client_connect_to_host_async (client, host, port, cancellable, connected_cb, task);
}

DpConnection *
_dp_node_connect_finish (DpNode        *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- GObject ---- */

static void
shutdown_in_router (gpointer data)
{
  DpNode *self = data;

  if (self->shut_down)
    return;
  self->shut_down = TRUE;
  if (self->service)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_clear_object (&self->service);
    }
  while (self->server_conns->len > 0)
    {
      DpConnection *conn = _dp_connection_ref (self->server_conns->pdata[0]);
      _dp_connection_close (conn, NULL);
      g_ptr_array_remove (self->server_conns, conn);
      _dp_connection_unref (conn);
    }
  g_hash_table_remove_all (self->named);
  g_clear_pointer (&self->owner, _dp_connection_unref);
}

static void
dp_node_dispose (GObject *object)
{
  DpNode *self = DP_NODE (object);

  if (self->router_thread)
    {
      _dp_node_invoke_sync (self, shutdown_in_router, self);
      g_main_loop_quit (self->router_loop);
      if (_dp_node_in_router (self))
        g_thread_unref (self->router_thread);
      else
        g_thread_join (self->router_thread);
      self->router_thread = NULL;
    }
  G_OBJECT_CLASS (dp_node_parent_class)->dispose (object);
}

static void
named_place_free (gpointer data)
{
  NamedPlace *np = data;

  g_object_unref (np->place);
  g_object_unref (np->target);
  g_free (np);
}

static void
dp_node_finalize (GObject *object)
{
  DpNode *self = DP_NODE (object);

  g_clear_pointer (&self->user_loop, g_main_loop_unref);
  g_main_loop_unref (self->router_loop);
  g_main_context_unref (self->router_context);
  g_main_context_unref (self->owner_context);
  g_clear_pointer (&self->secret, g_bytes_unref);
  g_free (self->secret_source);
  g_ptr_array_unref (self->plugin_dirs);
  g_ptr_array_unref (self->server_conns);
  g_hash_table_unref (self->named);
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
      g_value_set_uint (value, self->port);
      break;
    case PROP_HEARTBEAT_INTERVAL:
      g_value_set_double (value, self->hb_interval);
      break;
    case PROP_HEARTBEAT_TIMEOUT:
      g_value_set_double (value, self->hb_timeout);
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_node_class_init (DpNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = dp_node_dispose;
  object_class->finalize = dp_node_finalize;
  object_class->get_property = dp_node_get_property;
  object_class->set_property = dp_node_set_property;

  /**
   * DpNode:max-frame-size:
   *
   * Frames over this many bytes close the connection that sent them.
   */
  properties[PROP_MAX_FRAME_SIZE] =
    g_param_spec_uint64 ("max-frame-size", NULL, NULL,
                         1024, G_MAXUINT32, DP_DEFAULT_MAX_FRAME_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * DpNode:port:
   *
   * The TCP port the node listens on, 0 before dp_node_listen().
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DpNode:heartbeat-interval:
   *
   * Every connection made or accepted from now on sends a heartbeat this
   * often (seconds of real time, not scaled by DP_TIME_SCALE; 0 turns
   * heartbeats off). Set before connecting.
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
   * own pace). 0: never.
   */
  properties[PROP_HEARTBEAT_TIMEOUT] =
    g_param_spec_double ("heartbeat-timeout", NULL, NULL, 0, G_MAXDOUBLE, 10.0,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DpNode::exit-requested:
   *
   * A master sent `node-send-exit`. dp-node exits; an embedding
   * application decides for itself.
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
  self->plugin_dirs = g_ptr_array_new_with_free_func (g_free);
  self->max_frame = DP_DEFAULT_MAX_FRAME_SIZE;
  self->hb_interval = 2.0;
  self->hb_timeout = 10.0;
  self->server_conns = g_ptr_array_new_with_free_func ((GDestroyNotify) _dp_connection_unref);
  self->named = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, named_place_free);
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
        self->secret_source = cookie_source (NULL);
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
  DpNode *self = lc->node;
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GSocketAddress) effective = NULL;

  if (self->service != NULL)
    {
      g_set_error (&lc->error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "the node already listens on port %u", self->port);
      return;
    }
  addr = g_inet_socket_address_new_from_string (lc->address, lc->port);
  if (addr == NULL)
    {
      g_set_error (&lc->error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "'%s' is not an IP address to listen on", lc->address);
      return;
    }
  self->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), addr,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, &lc->error))
    {
      g_prefix_error (&lc->error, "cannot listen on %s:%u: ", lc->address, lc->port);
      g_clear_object (&self->service);
      return;
    }
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  lc->ok = TRUE;
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

/**
 * dp_node_get_port:
 * @self: a #DpNode
 *
 * Returns: the port the node listens on, or 0
 */
guint16
dp_node_get_port (DpNode *self)
{
  g_return_val_if_fail (DP_IS_NODE (self), 0);
  return self->port;
}

/**
 * dp_node_add_plugin_dir:
 * @self: a #DpNode
 * @dir: a directory
 *
 * Adds @dir to the directories places may be loaded from.
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
 * dp_node_set_max_frame_size:
 * @self: a #DpNode
 * @max_frame_size: the largest frame, in bytes, connections made or
 *   accepted from now on accept
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
 * Returns: the largest frame accepted, in bytes
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
 * Returns: (transfer none): the main context signals are emitted in
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
 * Returns: how many places run on this node now
 */
guint
dp_node_get_n_places (DpNode *self)
{
  g_return_val_if_fail (DP_IS_NODE (self), 0);
  return (guint) g_atomic_int_get ((gint *) &self->n_places);
}

/**
 * dp_node_shutdown:
 * @self: a #DpNode
 *
 * Stops listening and closes every connection made to the node.
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
