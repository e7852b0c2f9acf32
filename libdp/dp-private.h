/* dp-private.h: internals shared by libdp's sources (never installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "libdp.h"
#include "dp-host-private.h"   /* host strings (dp-host.c), shared with loader/ */
#include "dp-tls-private.h"    /* TLS credentials (dp-tls.c), shared with loader/ */

G_BEGIN_DECLS

/* ------------------------------------------------------------------ *
 * Wire format (dp-wire.c): the one codec                              *
 * ------------------------------------------------------------------ */

#define DP_PROTOCOL_VERSION 1
#define DP_WIRE_MAGIC "\x89" "DPL\r\n\x1a\n"
#define DP_WIRE_MAGIC_LEN 8
#define DP_NONCE_LEN 32
#define DP_HELLO_LEN (DP_WIRE_MAGIC_LEN + 4 + 4 + DP_NONCE_LEN)   /* 48 */
#define DP_AUTH_LEN 32                                             /* HMAC-SHA256 */
#define DP_REFUSAL_LEN DP_AUTH_LEN                                 /* in a proof's place */
#define DP_FRAME_HEADER_LEN 16
#define DP_SECRET_MIN_LEN 16

/* Frame types. The numbers the seed's protocol uses on TCP are kept. */
typedef enum {
  DP_FRAME_DIE           = 1,   /* node: exit */
  DP_FRAME_DATA          = 4,   /* channel: one message */
  DP_FRAME_PLACE_DIED    = 7,   /* channel: the place ended; payload (us) exit, detail */
  DP_FRAME_LOG           = 8,   /* payload (ssa{sv}) severity, message, fields */
  DP_FRAME_NEW_PLACE     = 9,   /* channel: start a place / connect; payload a{sv} */
  DP_FRAME_PLACE_FAILED  = 10,  /* channel: could not start; payload (us) code, message */
  DP_FRAME_SET_OWNER     = 11,  /* the sender wants the node's logs */
  DP_FRAME_PLACE_STARTED = 12,  /* channel: the place runs */
  DP_FRAME_CLOSE         = 13,  /* channel: the sender closed its end */
  DP_FRAME_BOUNCE        = 14,  /* channel: a message that could not be delivered, sent back */
  DP_FRAME_EXPORT        = 15,  /* channel: hand this place's channel over; payload ay token (dp-mesh.c) */
  DP_FRAME_EXPORTED      = 16,  /* channel: answer to EXPORT; payload (ssqay) reference or (us) error */
  DP_FRAME_PING          = 20,  /* arg: cookie; answered by PONG */
  DP_FRAME_PONG          = 21,
  DP_FRAME_NEW_NODE      = 50,  /* payload (sq): a peer node to know about */
  DP_FRAME_PEER_HELLO    = 51,  /* payload (sq): the dialling node's address (dp-mesh.c) */
} DpFrameType;

typedef struct {
  guint32 body_len;   /* bytes after the header */
  guint8  type;
  guint8  flags;
  guint16 sig_len;    /* length of the GVariant type string, 0 = no payload */
  guint32 channel;
  guint32 arg;
} DpFrameHeader;

void      _dp_frame_header_pack   (const DpFrameHeader *h, guint8 out[DP_FRAME_HEADER_LEN]);
void      _dp_frame_header_unpack (const guint8 in[DP_FRAME_HEADER_LEN], DpFrameHeader *h);
gsize     _dp_frame_sig_padded    (gsize sig_len);
gboolean  _dp_frame_header_check  (const DpFrameHeader *h, gsize max_frame, GError **error);
GVariant *_dp_wire_decode_payload (const char *sig, gsize sig_len, GBytes *data, GError **error);
gboolean  _dp_wire_check_type     (const char *sig, gsize sig_len, GError **error);
GVariant *_dp_wire_load_payload   (const GVariantType *type, GBytes *data, GError **error);
gboolean  _dp_frame_type_is_known (guint8 type);

void      _dp_wire_hello_build    (guint8 out[DP_HELLO_LEN], const guint8 nonce[DP_NONCE_LEN]);
void      _dp_wire_hello_set_max_frame (guint8 hello[DP_HELLO_LEN], gsize max_frame);
gsize     _dp_wire_hello_get_max_frame (const guint8 hello[DP_HELLO_LEN]);
gboolean  _dp_wire_hello_parse    (const guint8 in[DP_HELLO_LEN], guint8 nonce_out[DP_NONCE_LEN], GError **error);
void      _dp_wire_auth_compute   (GBytes *secret, char role,
                                   const guint8 peer_nonce[DP_NONCE_LEN],
                                   const guint8 own_nonce[DP_NONCE_LEN],
                                   guint8 out[DP_AUTH_LEN]);
gboolean  _dp_wire_auth_verify    (GBytes *secret, char role,
                                   const guint8 verifier_nonce[DP_NONCE_LEN],
                                   const guint8 prover_nonce[DP_NONCE_LEN],
                                   const guint8 proof[DP_AUTH_LEN]);
#define DP_HELLO_FLAG_TLS 0x0001   /* the sender speaks TLS on this connection */
void      _dp_wire_hello_set_flags (guint8 hello[DP_HELLO_LEN], guint flags);
guint     _dp_wire_hello_get_flags (const guint8 hello[DP_HELLO_LEN]);
void      _dp_wire_auth_compute_bound (GBytes *secret, char role,
                                       const guint8 peer_nonce[DP_NONCE_LEN],
                                       const guint8 own_nonce[DP_NONCE_LEN],
                                       GBytes *binding, guint8 out[DP_AUTH_LEN]);
gboolean  _dp_wire_auth_verify_bound  (GBytes *secret, char role,
                                       const guint8 verifier_nonce[DP_NONCE_LEN],
                                       const guint8 prover_nonce[DP_NONCE_LEN],
                                       GBytes *binding, const guint8 proof[DP_AUTH_LEN]);
void      _dp_wire_refusal_build  (guint8 out[DP_REFUSAL_LEN]);
gboolean  _dp_wire_refusal_match  (const guint8 *in, gsize len);
/* dp-secret.c: getrandom(2); aborts the process when it gives nothing */
void      _dp_random_bytes        (guint8 *buf, gsize len);


/* ------------------------------------------------------------------ *
 * Connections (dp-connection.c): the one frame reader and writer      *
 * ------------------------------------------------------------------ */

typedef struct _DpConnection DpConnection;
typedef struct _DpChannelEntry DpChannelEntry;

typedef enum {
  DP_CONNECTION_CLIENT,
  DP_CONNECTION_SERVER,
} DpConnectionRole;

/* What a connection tells its owner. Called in the router thread. */
typedef struct {
  void (*ready)  (DpConnection *conn, gpointer data);
  void (*frame)  (DpConnection *conn, const DpFrameHeader *h, GVariant *payload, gpointer data);
  void (*closed) (DpConnection *conn, const GError *reason, gpointer data);
  /* Optional: consecutive DATA frames (arg 0, with a payload) for one
   * channel, delivered together; takes the messages (transfer full of each,
   * not of the array). Without it each goes to frame(). */
  void (*data)   (DpConnection *conn, guint32 channel, GVariant **msgs, guint n, gpointer data);
  /* Optional: a heartbeat came back (the rtt was measured) */
  void (*heartbeat) (DpConnection *conn, gpointer data);
} DpConnectionHandler;

DpConnection *_dp_connection_new        (GSocketConnection *sconn,
                                         DpConnectionRole   role,
                                         GBytes            *secret,
                                         const char        *secret_source,
                                         gsize              max_frame,
                                         GMainContext      *context,
                                         const DpConnectionHandler *handler,
                                         gpointer           handler_data);
DpConnection *_dp_connection_ref        (DpConnection *conn);
void          _dp_connection_unref      (DpConnection *conn);
void          _dp_connection_start      (DpConnection *conn);
/* before _dp_connection_start(): TLS with these credentials */
void          _dp_connection_set_tls    (DpConnection *conn, DpTls *tls);
gboolean      _dp_connection_send       (DpConnection *conn,
                                         guint8        type,
                                         guint32       channel,
                                         guint32       arg,
                                         GVariant     *payload);
guint         _dp_connection_send_many  (DpConnection     *conn,
                                         guint32           channel,
                                         GVariant * const *msgs,
                                         guint             n,
                                         guint            *n_dropped);
void          _dp_connection_close      (DpConnection *conn, const GError *reason);
/* closes the connection: the peer sent frame @h, which only @who send */
void          _dp_connection_reject_frame (DpConnection *conn, const DpFrameHeader *h,
                                           const char *who);
GMainContext *_dp_connection_get_context (DpConnection *conn);
/* flow control (see dp-connection.c's header) */
void          _dp_connection_set_flow   (DpConnection *conn, gsize out_limit,
                                         gsize inbox_max_bytes, guint inbox_max_msgs);
void          _dp_connection_get_inbox_limits (DpConnection *conn, gsize *max_bytes,
                                               guint *max_msgs);
gboolean      _dp_connection_is_full    (DpConnection *conn);
const gsize  *_dp_connection_batch_sizes (DpConnection *conn, GVariant * const *msgs);
void          _dp_connection_wait_writable (DpConnection *conn, gboolean for_log);
gboolean      _dp_connection_add_writable_watch (DpConnection *conn,
                                                 void (*func) (gpointer data),
                                                 gpointer data);
void          _dp_connection_stall      (DpConnection *conn);
void          _dp_connection_unstall    (DpConnection *conn);
gboolean      _dp_connection_is_open    (DpConnection *conn);
const char   *_dp_connection_get_peer   (DpConnection *conn);
/* the address of this end as the peer reached it (no port), or NULL */
char         *_dp_connection_dup_local_host (DpConnection *conn);
guint32       _dp_connection_alloc_channel (DpConnection *conn);
void          _dp_connection_set_heartbeat (DpConnection *conn, gdouble interval, gdouble timeout);
gdouble       _dp_connection_get_rtt     (DpConnection *conn);
gdouble       _dp_connection_get_idle    (DpConnection *conn);
void          _dp_connection_set_handler (DpConnection *conn, const DpConnectionHandler *handler, gpointer data);
/* channel table (thread-safe) */
void          _dp_connection_add_entry  (DpConnection *conn, guint32 id, DpChannelEntry *entry);
DpChannelEntry *_dp_connection_lookup   (DpConnection *conn, guint32 id);     /* returns a ref */
DpChannelEntry *_dp_connection_steal_entry (DpConnection *conn, guint32 id);
GPtrArray    *_dp_connection_steal_all_entries (DpConnection *conn);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DpConnection, _dp_connection_unref)

/* ------------------------------------------------------------------ *
 * Channel table entries: what a channel id on a connection leads to   *
 * ------------------------------------------------------------------ */

typedef struct _DpChannelEntryClass DpChannelEntryClass;

/* What the frames of one channel do, set by the entry's owner — the node's
 * server (a place it started, a client of a named place: dp-node-server.c)
 * or a DpRemoteConnection (the master's end of a place). The connection's
 * handler finds the entry and calls it; it never switches on what kind of
 * channel it is. Every function runs in the router thread; a NULL one
 * means that frame has no meaning on this kind of channel (it is ignored). */
struct _DpChannelEntryClass
{
  /* DATA: takes @msgs (each transfer full, not the array), or — returning
   * FALSE, when the inbox is closed — none: the caller still owns them */
  gboolean (*data)    (DpChannelEntry *e, DpConnection *conn, GVariant **msgs, guint n);
  void     (*started) (DpChannelEntry *e);
  void     (*failed)  (DpChannelEntry *e, GVariant *payload);
  void     (*died)    (DpChannelEntry *e, GVariant *payload);
  void     (*bounce)  (DpChannelEntry *e, GVariant *msg);
  /* CLOSE: the peer will send nothing more on this channel */
  void     (*closed)  (DpChannelEntry *e, DpConnection *conn);
  /* the connection went; the entry has been taken out of its table */
  void     (*lost)    (DpChannelEntry *e, DpConnection *conn);
  /* EXPORTED: the node's answer to dp_remote_connection_to_variant() */
  void     (*exported) (DpChannelEntry *e, GVariant *payload);
};

struct _DpChannelEntry
{
  gatomicrefcount            ref;
  /* immutable after construction */
  const DpChannelEntryClass *klass;
  guint32                    id;
  /* set by the owner before the entry is added to a connection's table,
   * immutable afterwards (the table's lock publishes them) */
  DpPlaceChannel            *target;  /* incoming messages go into this end's inbox */
  DpPlaceChannel            *reply;   /* a named place's client: the reply channel handed with each message */
  DpPlace                   *place;   /* a place the server started */
  GWeakRef                   owner;   /* the master's DpRemoteConnection (thread-safe) */
  /* router thread only */
  gboolean                   dead;    /* master: that incarnation of the place ended */
  gpointer                   pending; /* mesh: the request waiting for STARTED (dp-mesh.c) */
  gpointer                   record;  /* server: the PlaceRecord of a place it started */
};

/* DATA for a channel whose messages go to @e->target with @e->reply */
gboolean        _dp_channel_entry_deliver (DpChannelEntry *e, DpConnection *conn,
                                           GVariant **msgs, guint n);
DpChannelEntry *_dp_channel_entry_new   (const DpChannelEntryClass *klass, guint32 id);
DpChannelEntry *_dp_channel_entry_ref   (DpChannelEntry *e);
void            _dp_channel_entry_unref (DpChannelEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DpChannelEntry, _dp_channel_entry_unref)

/* ------------------------------------------------------------------ *
 * Place channels (dp-place-channel.c)                                 *
 * ------------------------------------------------------------------ */

typedef void (*DpInboxNotify) (gpointer data);

/* An end whose puts go out as DATA frames on @conn / @channel */
DpPlaceChannel *_dp_place_channel_new_bound   (DpConnection *conn, guint32 channel);
/* Redirect: puts on the end paired with @parent_end go to the wire from now
 * on (what was queued for @parent_end is sent first, in order); returns the
 * paired end, whose inbox receives what arrives on the wire. */
DpPlaceChannel *_dp_place_channel_bind_peer   (DpPlaceChannel *parent_end,
                                               DpConnection   *conn,
                                               guint32         channel);
gboolean  _dp_place_channel_deliver     (DpPlaceChannel *self, GVariant *msg, DpPlaceChannel *reply);
/* Delivers all of @msgs (taking them) or, when the inbox is closed, none
 * (FALSE: the caller keeps them). Never waits: an inbox left over its
 * limit stalls @from (nullable), the connection they came on, until it
 * has been read down to its low-water mark. */
gboolean  _dp_place_channel_deliver_many (DpPlaceChannel *self, GVariant **msgs, guint n,
                                          DpPlaceChannel *reply, DpConnection *from);
/* Put without waiting for room (main-loop callers that checked first) */
gboolean  _dp_place_channel_put_nowait  (DpPlaceChannel *self, GVariant *message);
/* In-process pairs: a put that never waits. Takes @message (a floating
 * ref is sunk) and queues it, or drops it and says why: this end or the
 * other is closed, or the other end's inbox is at its limit. */
typedef enum {
  DP_TRY_PUT_OK,
  DP_TRY_PUT_CLOSED,
  DP_TRY_PUT_FULL,
} DpTryPut;
DpTryPut  _dp_place_channel_try_put     (DpPlaceChannel *self, GVariant *message);
/* The limits of this end's own inbox; set before the other end is used */
void      _dp_place_channel_set_inbox_limits (DpPlaceChannel *self, gsize max_bytes,
                                              guint max_msgs);
/* dp_place_channel_get_full() that does not wait */
GVariant *_dp_place_channel_try_get_full (DpPlaceChannel *self, DpPlaceChannel **reply_channel);
/* FALSE when a put to the wire would wait now */
gboolean  _dp_place_channel_is_writable (DpPlaceChannel *self);
/* FALSE when a put would not wait now; else @func(@data) is called once
 * (with a lock held: it may only schedule work) when it would not */
gboolean  _dp_place_channel_add_writable_watch (DpPlaceChannel *self,
                                               void (*func) (gpointer data),
                                               gpointer data);
/* What is still unread in the inbox: GVariant, with the reply channel of
 * each (or NULL) in @replies at the same index. */
GPtrArray *_dp_place_channel_drain_inbox (DpPlaceChannel *self, GPtrArray **replies);
/* Sends @msg back over the connection this end writes to (BOUNCE). */
gboolean  _dp_place_channel_bounce      (DpPlaceChannel *self, GVariant *msg);
/* Stop writing to the wire: puts are queued here from now on, after @first. */
void      _dp_place_channel_hold        (DpPlaceChannel *self, GVariant *first);
/* Write to @conn / @channel again: sends @type/@payload first, then what was
 * queued while held, in order. */
void      _dp_place_channel_rebind      (DpPlaceChannel *self, DpConnection *conn,
                                         guint32 channel, guint8 type, GVariant *payload);
void      _dp_place_channel_close_inbox (DpPlaceChannel *self);
void      _dp_place_channel_set_notify  (DpPlaceChannel *self, DpInboxNotify notify, gpointer data);
void      _dp_place_channel_unbind      (DpPlaceChannel *self);
/* The mesh (dp-mesh.c). Closing side @self (bound) sends CLOSE after its
 * last message. */
void      _dp_place_channel_set_close_frame (DpPlaceChannel *self);
/* a handle on @self's side that does not close it */
DpPlaceChannel *_dp_place_channel_dup_handle (DpPlaceChannel *self);
/* @self (an end of an in-process pair) is sent away: it is dead here from
 * now on; returns the handle (owner) that stands for it until redeemed */
DpPlaceChannel *_dp_place_channel_export (DpPlaceChannel *self, GError **error);
/* Redeemed over @conn / @channel: the end that stayed writes there from
 * now on (what was queued for the exported end goes first) and closes with
 * CLOSE; returns a handle (not owner) on the side that stayed, whose inbox
 * receives what arrives. @exported is spent. */
DpPlaceChannel *_dp_place_channel_attach (DpPlaceChannel *exported, DpConnection *conn,
                                          guint32 channel);
GLogLevelFlags _dp_severity_to_level    (const char *severity);
/* the channel of the place running on this thread, or NULL */
DpPlaceChannel *_dp_place_get_current_channel (void);
gpointer        _dp_place_suspend_thread (void);
void            _dp_place_resume_thread  (gpointer place);
void            _dp_log_to_parent (DpPlaceChannel *ch,
                                   const char     *severity,
                                   const char     *text);

/* ------------------------------------------------------------------ *
 * Places (dp-place.c) and plugins (dp-plugin.c)                       *
 * ------------------------------------------------------------------ */

typedef void (*DpPlaceExitNotify) (DpPlace *place, DpPlaceExit exit, const char *detail, gpointer data);

DpPlace  *_dp_place_new_with_channel (DpPlaceFunc func, DpPlaceChannel *child_end, DpPlaceChannel *parent_end);
/* How a place starts: @func runs on a new thread, or @thunk runs there
 * first and the place it makes with dp_place_new() runs in its stead, after
 * @started (on that thread). @channel and @symbol name the place in a crash
 * report (see dp-place.c). */
typedef void (*DpPlaceStartedFunc) (DpPlace *place, gpointer data);
typedef struct {
  DpPlaceFunc         func;
  DpPlaceThunk        thunk;
  guint32             channel;
  const char         *symbol;
  DpPlaceStartedFunc  started;
  gpointer            started_data;
  GDestroyNotify      started_free;   /* frees @started_data with the place */
} DpPlaceStart;
DpPlace  *_dp_place_start (const DpPlaceStart *how, DpPlaceChannel *child_end, DpPlaceChannel *parent_end);
void      _dp_place_set_exit_notify  (DpPlace *self, DpPlaceExitNotify notify, gpointer data);
void      _dp_place_install_crash_handlers (void);

gpointer  _dp_plugin_lookup (const char         *plugin,
                             const char         *symbol,
                             const char * const *plugin_dirs,
                             gboolean            allow_any_path,
                             GError            **error);
GStrv     _dp_plugin_default_dirs (void);
/* opens @plugin (a name on @plugin_dirs or any file path) and checks its
 * descriptor: *@desc_out is NULL when it has none (dp-inspect) */
gboolean  _dp_plugin_describe (const char          *plugin,
                               const char * const  *plugin_dirs,
                               char               **file_out,
                               const DpPluginDesc **desc_out,
                               GError             **error);

/* ------------------------------------------------------------------ *
 * Isolated places (dp-isolated-place.c): a place in a process of its  *
 * own, relayed by its node                                            *
 * ------------------------------------------------------------------ */

/* Router thread: the isolated place ended (@exit, @detail) and its
 * process is gone; called once */
typedef void (*DpIsolatedExitFunc) (gpointer data, const char *symbol,
                                    DpPlaceExit exit, const char *detail);

/* Router thread: starts `dp-node --place-host` for @kind ("place" or
 * "thunk") @plugin:@symbol and relays channel @channel of @conn to it;
 * says STARTED (or FAILED) when the child does. */
gboolean _dp_isolated_place_start (DpConnection        *conn,
                                   guint32              channel,
                                   const char          *kind,
                                   const char          *plugin,
                                   const char          *symbol,
                                   const char * const  *plugin_dirs,
                                   gsize                max_frame,
                                   DpIsolatedExitFunc   on_exit,
                                   gpointer             on_exit_data,
                                   GError             **error);

/* ------------------------------------------------------------------ *
 * Running code on another thread's loop (dp-main-context.c)           *
 * ------------------------------------------------------------------ */

typedef void (*DpInvokeFunc) (gpointer data);

/* the one idle helper: @name is a string literal naming the source */
void  _dp_main_context_invoke      (GMainContext *context, const char *name,
                                    DpInvokeFunc func, gpointer data, GDestroyNotify notify);
void  _dp_main_context_invoke_sync (GMainContext *context, const char *name,
                                    DpInvokeFunc func, gpointer data);
/* Run @func on @object in @context (the owner's), keeping a ref meanwhile */
void  _dp_object_invoke (GMainContext *context, gpointer object,
                         void (*func) (gpointer object, gpointer data),
                         gpointer data, GDestroyNotify data_free);
/* Runs an _async operation (started by @start with a callback) whose task
 * completes in a private context, and waits for it without iterating any
 * context of the caller's. Returns the result (transfer full). */
typedef void (*DpSyncStart) (gpointer data, GAsyncReadyCallback cb, gpointer user_data);
GAsyncResult *_dp_run_sync (DpSyncStart start, gpointer data);

/* A router context its blocked readers may run themselves (see
 * dp-main-context.c): the router's thread runs it with _dp_shared_loop_run();
 * a reader waiting for a message leads it with _dp_shared_loop_lead() */
typedef struct _DpSharedLoop DpSharedLoop;
DpSharedLoop *_dp_shared_loop_new         (GMainContext *ctx);
DpSharedLoop *_dp_shared_loop_ref         (DpSharedLoop *sl);
void          _dp_shared_loop_unref       (DpSharedLoop *sl);
DpSharedLoop *_dp_shared_loop_lookup      (GMainContext *ctx);
GMainContext *_dp_shared_loop_get_context (DpSharedLoop *sl);
void          _dp_shared_loop_run         (DpSharedLoop *sl);
void          _dp_shared_loop_quit        (DpSharedLoop *sl);
gboolean      _dp_shared_loop_lead        (DpSharedLoop *sl,
                                           gboolean    (*ready) (gpointer data),
                                           gpointer      data,
                                           gint64        deadline);
void          _dp_main_context_call_on_router_thread (GMainContext *ctx,
                                                      DpInvokeFunc  func,
                                                      gpointer      data);

/* Tasks waiting for something an object will report (a message, a death),
 * in a list under the object's @lock. A task whose cancellable fires is
 * taken off the list and returns G_IO_ERROR_CANCELLED in its own context;
 * whoever takes a task off the list (either way) completes it, once.
 * _dp_pending_task_add(): with @lock not held; the task's source object
 * must be the list's owner. _dp_pending_task_pop(): the oldest task (full
 * reference), or NULL; with @lock not held. */
typedef struct {
  GMutex *lock;
  GQueue  tasks;     /* of DpPendingTask, under @lock */
} DpPendingTasks;
void   _dp_pending_tasks_init (DpPendingTasks *pt, GMutex *lock);
void   _dp_pending_task_add   (DpPendingTasks *pt, GTask *task);
GTask *_dp_pending_task_pop   (DpPendingTasks *pt);
gboolean _dp_pending_tasks_is_empty (DpPendingTasks *pt);
/* completes (G_IO_ERROR_CANCELLED) and drops the tasks already cancelled */
void   _dp_pending_tasks_drop_cancelled (DpPendingTasks *pt);
void   _dp_pending_tasks_clear (DpPendingTasks *pt);

/* ------------------------------------------------------------------ *
 * A node's server half (dp-node-server.c): places started for peers   *
 * ------------------------------------------------------------------ */

typedef struct _DpNodeServer DpNodeServer;

/* The node's limits for its peers (DpNode properties), read by the server
 * when it needs them */
typedef struct {
  guint max_places;                 /* on the node */
  guint max_places_per_connection;  /* started by one connection */
  guint max_pending_connections;    /* accepted, still in their handshake */
} DpServerLimits;

/* What the server asks of its node: given once, by the node, and called in
 * the router thread. The server calls its node only through these. */
typedef struct {
  GBytes  *(*get_secret)     (GObject *node, char **source, GError **error);
  gpointer (*lookup_plugin)  (GObject *node, const char *plugin, const char *symbol,
                              GError **error);
  void     (*accept_params)  (GObject *node, gsize *max_frame,
                              gdouble *hb_interval, gdouble *hb_timeout);
  void     (*place_exited)   (GObject *node, const char *symbol, DpPlaceExit exit,
                              const char *detail);
  void     (*exit_requested) (GObject *node);
  void     (*peer_rejected)  (GObject *node, const char *peer, const char *reason);
  GStrv    (*dup_plugin_dirs) (GObject *node);
  void     (*get_limits)     (GObject *node, DpServerLimits *limits);
  void     (*flow_params)    (GObject *node, gsize *max_output_queue,
                              gsize *max_inbox_size, guint *max_inbox_messages);
  /* optional: TLS credentials for an accepted connection, NULL (no error)
   * when it is plain TCP */
  DpTls   *(*get_tls)        (GObject *node, GSocketConnection *sconn, GError **error);
} DpNodeServerHooks;

DpNodeServer *_dp_node_server_new      (GObject *node, GMainContext *router_context,
                                        const DpNodeServerHooks *hooks);
void          _dp_node_server_free     (DpNodeServer *server);
/* router thread */
gboolean      _dp_node_server_listen   (DpNodeServer *server, const char *address,
                                        guint16 port, GError **error);
void          _dp_node_server_shutdown (DpNodeServer *server);
/* router thread: serve an already connected socket as if accepted */
void          _dp_node_server_adopt    (DpNodeServer *server, GSocketConnection *sconn);
/* any thread */
guint16       _dp_node_server_get_port (DpNodeServer *server);
guint         _dp_node_server_get_n_places (DpNodeServer *server);

/* router thread: the server serves @conn, a connection this node dialled
 * to another node (dp-mesh.c), as it serves those it accepted */
void          _dp_node_server_add_dialled (DpNodeServer *server, DpConnection *conn);
const DpConnectionHandler *_dp_node_server_get_handler (void);
typedef struct _DpMesh DpMesh;
DpMesh       *_dp_node_server_get_mesh (DpNodeServer *server);
/* router thread: the place on channel @channel of @from talks on @to /
 * @to_channel from now on (what it put meanwhile goes first) */
gboolean      _dp_node_server_hand_over (DpNodeServer *server, DpConnection *from,
                                         guint32 channel, DpConnection *to,
                                         guint32 to_channel, GError **error);
/* router thread: the place on @channel of @conn stops writing there (its
 * puts are queued) until handed over; FALSE if it is no place of @conn */
gboolean      _dp_node_server_hold_place (DpNodeServer *server, DpConnection *conn,
                                          guint32 channel, GError **error);
/* any thread: the address the node listens on ("" while it does not) */
char         *_dp_node_server_dup_listen_address (DpNodeServer *server);
char         *_dp_node_server_dup_reached_address (DpNodeServer *server);

/* ------------------------------------------------------------------ *
 * The mesh (dp-mesh.c): node-to-node connections, place-to-place      *
 * channels, channel references                                        *
 * ------------------------------------------------------------------ */

DpMesh   *_dp_mesh_new       (GObject *node, DpNodeServer *server, GMainContext *router_context);
void      _dp_mesh_free      (DpMesh *mesh);
/* router thread */
void      _dp_mesh_shutdown  (DpMesh *mesh);
void      _dp_mesh_connection_closed (DpMesh *mesh, DpConnection *conn);
void      _dp_mesh_peer_hello (DpMesh *mesh, DpConnection *conn, GVariant *payload);
gboolean  _dp_mesh_is_peer   (DpMesh *mesh, DpConnection *conn);
/* router thread: EXPORT of channel @channel of @conn (a place started
 * for it): a reference to it (transfer full), or NULL */
GVariant *_dp_mesh_export_place (DpMesh *mesh, DpConnection *conn, guint32 channel,
                                 GVariant *token, GError **error);
/* router thread: NEW_PLACE {kind: redeem, token} on @conn / @channel */
gboolean  _dp_mesh_redeem    (DpMesh *mesh, DpConnection *conn, guint32 channel,
                              GVariant *request, GError **error);
/* any thread: which node a place's channel belongs to (a weak link) */
void      _dp_mesh_mark_channel (DpPlaceChannel *channel, GObject *node);
/* a place's thread: a function from a plugin on its node's plugin path */
gpointer  _dp_place_channel_lookup_plugin (DpPlaceChannel *channel, const char *plugin,
                                           const char *symbol, GError **error);

/* ------------------------------------------------------------------ *
 * Watching channels of a master (dp-rmpi-launch.c; RMPI, map-reduce)  *
 * ------------------------------------------------------------------ */

/* what a watcher saw on connection @index: a message, or NULL (ended) */
typedef struct {
  guint     index;
  GVariant *msg;
} DpWatchEvent;

/* @msg is the last one to read (the watcher ends after it) */
typedef gboolean (*DpWatchLastFunc) (GVariant *msg);

/* A thread that gets every message of @rc and pushes a DpWatchEvent
 * (g_free, msg unref) to @events, until @rc ends or @is_last says so. */
GThread  *_dp_watch_connection (DpRemoteConnection *rc, guint index, GAsyncQueue *events,
                                DpWatchLastFunc is_last);
void      _dp_watch_event_free (DpWatchEvent *e);

/* ------------------------------------------------------------------ *
 * Node internals (dp-node.c)                                          *
 * ------------------------------------------------------------------ */

GMainContext *_dp_node_get_router_context (DpNode *self);
/* any thread: a function from a plugin on the node's plugin path */
gpointer      _dp_node_lookup_plugin      (DpNode *self, const char *plugin, const char *symbol,
                                           GError **error);
DpNodeServer *_dp_node_get_server         (DpNode *self);
gboolean      _dp_node_in_router          (DpNode *self);
void          _dp_node_invoke             (DpNode *self, DpInvokeFunc func, gpointer data, GDestroyNotify notify);
void          _dp_node_invoke_sync        (DpNode *self, DpInvokeFunc func, gpointer data);
void          _dp_node_connect_async      (DpNode *self, const char *host, guint16 port,
                                           const DpConnectionHandler *handler, gpointer handler_data,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
DpConnection *_dp_node_connect_finish     (DpNode *self, GAsyncResult *result, GError **error);
/* router thread: spawn pacing (DpNode:max-concurrent-spawns, -per-host) */
void          _dp_node_spawn_when_allowed (DpNode *self, const char *host,
                                           DpInvokeFunc start, gpointer data);
void          _dp_node_spawn_done         (DpNode *self, const char *host);
/* TLS (dp-node.c): a connection's credentials when DpNode:tls wants TLS on
 * it (NULL, no error, when not); the mode; a spawned node's credentials
 * line for its standard input */
DpTls        *_dp_node_tls_for            (DpNode *self, GSocketConnection *sconn, GError **error);
DpTlsMode     _dp_node_get_tls_mode       (DpNode *self);
char         *_dp_node_issue_tls_line     (DpNode *self, const char *name, GError **error);
/* router thread: a log record from a place on a node this one started */
void          _dp_node_peer_log           (DpNode *self, const char *from_node, const char *place,
                                           const char *severity, const char *message);

/* ------------------------------------------------------------------ *
 * Remote connections (dp-remote-connection.c)                         *
 * ------------------------------------------------------------------ */

/* How a DpRemoteConnection reaches its node's current connection (a new
 * one after a node restart): given by the DpRemoteNode that makes it. */
typedef DpConnection *(*DpRefConnectionFunc) (DpRemoteNode *node);

DpRemoteConnection *_dp_remote_connection_new (DpRemoteNode *node,
                                               DpRefConnectionFunc ref_connection,
                                               DpConnection *conn,
                                               guint32 id, GVariant *request,
                                               const char *symbol,
                                               gboolean restart,
                                               DpRestarter *restarter);
/* the connection a channel entry leads to (a ref), or NULL when the entry
 * is not a DpRemoteConnection's or that is gone */
DpRemoteConnection *_dp_remote_connection_ref_from_entry (DpChannelEntry *entry);
/* @returned: messages the node got for the place but the place never read
 * (an `av`), or NULL. Returns TRUE when the connection will restart the
 * place (its channel entry stays, for bounces). */
gboolean _dp_remote_connection_ended (DpRemoteConnection *self, DpPlaceExit exit,
                                      const char *detail, const GError *error,
                                      GVariant *returned);
/* Called (router thread, without the connection's lock) when the place
 * dies and is to be restarted, with how and why: the RPC client
 * (dp-rpc.c) fails the calls in flight there. It may return a message (a
 * new ref), queued in the connection's inbox behind what the dead
 * incarnation sent: a reader blocked in a get wakes up with it. */
typedef GVariant *(*DpRemoteDeathFunc) (gpointer data, DpPlaceExit exit, const char *detail);
void _dp_remote_connection_set_death_func (DpRemoteConnection *self, DpRemoteDeathFunc func,
                                           gpointer data);
gboolean _dp_remote_connection_node_lost (DpRemoteConnection *self, const char *detail);
gboolean _dp_remote_connection_crashed_with_node (DpRemoteConnection *self, const char *detail,
                                                  gboolean node_restarts);

/* ------------------------------------------------------------------ *
 * Restart-on-exit (dp-restart-policy.c): one policy for place and     *
 * node handles                                                        *
 * ------------------------------------------------------------------ */

typedef enum {
  DP_RESTART_NEVER,   /* no policy, or it gave up: the death is final */
  DP_RESTART_NOW,     /* restart TRUE: relaunch at once, from the router thread */
  DP_RESTART_OWNER,   /* a restarter or a callback decides, in the owner context, after "died" */
} DpRestartDecision;

/* Embedded in its handle. Lock rule: no lock of its own; every field but
 * @lock is under @lock, the handle's own lock. *_locked functions are
 * called with it held; the others take it, and call out (the restarter,
 * the callback, a GDestroyNotify) only with it released. */
typedef struct {
  GMutex         *lock;          /* immutable after construction: the handle's lock */
  gboolean        always;        /* under @lock */
  DpRestarter    *restarter;     /* under @lock */
  DpRestartFunc   func;          /* under @lock */
  gpointer        func_data;     /* under @lock */
  GDestroyNotify  func_notify;   /* under @lock */
  guint           attempt;       /* under @lock: restarts so far */
} DpRestartPolicy;

void              _dp_restart_policy_init   (DpRestartPolicy *policy, GMutex *lock);
void              _dp_restart_policy_clear  (DpRestartPolicy *policy);
void              _dp_restart_policy_set    (DpRestartPolicy *policy, gboolean always,
                                             DpRestarter *restarter, DpRestartFunc func,
                                             gpointer func_data, GDestroyNotify func_notify);
DpRestartDecision _dp_restart_policy_decide_locked       (DpRestartPolicy *policy);
guint             _dp_restart_policy_get_attempt_locked  (DpRestartPolicy *policy);
guint             _dp_restart_policy_next_attempt_locked (DpRestartPolicy *policy);
gboolean          _dp_restart_policy_apply  (DpRestartPolicy *policy, GObject *handle,
                                             DpRestartFunc restart);
guint             _dp_restart_policy_get_attempt (DpRestartPolicy *policy);

/* ------------------------------------------------------------------ *
 * The thread model, checked                                           *
 * ------------------------------------------------------------------ *
 *
 * Every field of the core structs says who may touch it: *immutable after
 * construction*, *router thread only*, *owner context only* or *under
 * lock X*. These assertions check it at the top of the functions that rely
 * on it; like g_assert() they compile to nothing with G_DISABLE_ASSERT.
 *
 * DP_ASSERT_ROUTER_THREAD (node): running on @node's router thread.
 * DP_ASSERT_OWNER_CONTEXT (ctx): running in a dispatch (or an acquire) of
 *   @ctx — true of the router's own context on the router thread, and of
 *   an object's owner context in what was invoked there.
 * DP_ASSERT_LOCK_HELD (mutex): somebody holds @mutex — GDBus's trick
 *   (CONNECTION_ENSURE_LOCK): a g_mutex_trylock() that succeeds means it
 *   was free, and the check fails (the lock is released again first). It
 *   does not tell which thread holds it. POSIX leaves a trylock on a
 *   non-recursive mutex the calling thread holds undefined; GLib's GMutex
 *   on Linux is a futex whose trylock simply fails when the mutex is held,
 *   by anyone, which is what this relies on. Not for GRecMutex.
 */
#ifdef G_DISABLE_ASSERT
# define DP_ASSERT_ROUTER_THREAD(node) G_STMT_START { } G_STMT_END
# define DP_ASSERT_OWNER_CONTEXT(ctx)  G_STMT_START { } G_STMT_END
# define DP_ASSERT_LOCK_HELD(mutex)    G_STMT_START { } G_STMT_END
#else
# define DP_ASSERT_ROUTER_THREAD(node) g_assert (_dp_node_in_router (node))
# define DP_ASSERT_OWNER_CONTEXT(ctx)  g_assert (g_main_context_is_owner (ctx))
# define DP_ASSERT_LOCK_HELD(mutex) G_STMT_START {                              \
    GMutex *dp_lock_held_ = (mutex);                                            \
    if (G_UNLIKELY (g_mutex_trylock (dp_lock_held_)))                           \
      {                                                                         \
        g_mutex_unlock (dp_lock_held_);                                         \
        g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC,       \
                             "DP_ASSERT_LOCK_HELD: " #mutex " is not locked");  \
      }                                                                         \
  } G_STMT_END
#endif

/* ------------------------------------------------------------------ *
 * Utilities                                                           *
 * ------------------------------------------------------------------ */

/* g_mutex_lock() for the locks of the message path (a connection's output
 * queue, an inbox), held only for a few instructions at a time: a thread
 * that finds one taken retries briefly before it sleeps in the kernel
 * (GMutex sleeps at once), so a collision costs no system call and no
 * context switch on either side. */
static inline void
_dp_mutex_lock (GMutex *mutex)
{
  for (int i = 0; i < 100; i++)
    {
      if (g_mutex_trylock (mutex))
        return;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
      __builtin_ia32_pause ();
#endif
    }
  g_mutex_lock (mutex);
}

/* g_object_unref() that accepts NULL, as a GDestroyNotify (arrays of
 * objects with holes) */
static inline void
_dp_object_unref_nullable (gpointer object)
{
  if (object)
    g_object_unref (object);
}

GError *_dp_error_from_remote (guint32 code, const char *message);
/* A GIO (or resolver) error from reaching a host, as a DP_ERROR; @what
 * (nullable) prefixes the message. G_IO_ERROR_CANCELLED stays as it is. */
GError *_dp_error_from_gio    (const GError *gio_error, const char *what);

G_END_DECLS
