/* dp-rpc.c: RPC servers in places, and their clients (define-remote-server)
 *
 * One codec for both sides: a request is `(yusv)` — kind ('c' call, 'k'
 * cast), id, method, arguments — and a reply `(yusv)` with kind 'r' and the
 * result, or 'e' and `(sis)` (the error's domain, code, message).
 *
 * The server (dp_rpc_serve()) is a plain loop on the place's thread: get a
 * request with the channel it came on (a named place serves many clients),
 * check it, dispatch, put the reply on that channel. Nothing is kept
 * between requests, so its memory is flat whatever the number of requests.
 *
 * The client keeps, per channel (object data on the channel), the calls in
 * flight by id. Whoever waits for a reply reads the channel for everybody:
 * a synchronous caller that finds nobody reading becomes the reader, hands
 * the replies that are not its own to their callers and stops once its own
 * has come (the next waiter takes over); while asynchronous calls are in
 * flight a reader thread does the same, and completes their GTasks (which
 * return in the caller's main context). So a call costs no thread hop when
 * it is alone, and replies are matched by id, never by arrival order.
 *
 * A server place that dies and is restarted (a DpRemoteConnection with a
 * restart policy) keeps its channel open: at its death, on the router
 * thread, client_died() marks the calls then in flight with the error and
 * queues a KIND_DIED message behind the replies the dead place sent. The
 * reader, whoever it is, wakes up with it and fails the marked calls that
 * have not been answered meanwhile; calls made later go to the next
 * incarnation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <string.h>

#define KIND_CALL  'c'
#define KIND_CAST  'k'
#define KIND_REPLY 'r'
#define KIND_ERROR 'e'
/* never on the wire: queued by the client's death func (see client_died) */
#define KIND_DIED  'd'
#define MESSAGE_TYPE ((const GVariantType *) "(yusv)")
#define ERROR_TYPE   ((const GVariantType *) "(sis)")

/* how long a reader that has a cancellable to watch, or the reader thread,
 * waits in one get before looking again */
#define READ_SLICE_US (100 * G_TIME_SPAN_MILLISECOND)
/* an error domain from the wire longer than this is not made a quark */
#define MAX_DOMAIN_LEN 128

/* ---- the codec ---- */

/* (Built and read child by child: GVariant's format-string functions cost
 * more than the rest of a call.) */
static GVariant *
encode (guchar      kind,
        guint32     id,
        const char *method,
        GVariant   *body)
{
  GVariant *children[4] = {
    g_variant_new_byte (kind),
    g_variant_new_uint32 (id),
    g_variant_new_string (method),
    g_variant_new_variant (body),
  };

  return g_variant_new_tuple (children, G_N_ELEMENTS (children));
}

/* The kind and id of a message of type MESSAGE_TYPE; with @method, its
 * method's child (the name is g_variant_get_string() of it); with @body,
 * the boxed value. */
static void
decode (GVariant  *msg,
        guchar    *kind,
        guint32   *id,
        GVariant **method,
        GVariant **body)
{
  GVariant *child;

  child = g_variant_get_child_value (msg, 0);
  *kind = g_variant_get_byte (child);
  g_variant_unref (child);
  child = g_variant_get_child_value (msg, 1);
  *id = g_variant_get_uint32 (child);
  g_variant_unref (child);
  if (method)
    *method = g_variant_get_child_value (msg, 2);
  if (body)
    {
      child = g_variant_get_child_value (msg, 3);
      *body = g_variant_get_variant (child);
      g_variant_unref (child);
    }
}

static GVariant *
encode_error (guint32       id,
              const GError *error)
{
  return encode (KIND_ERROR, id, "",
                 g_variant_new ("(sis)", g_quark_to_string (error->domain), error->code,
                                error->message));
}

/* The GError an error reply carries. A domain this process does not know
 * yet is registered, as GDBus does for its remote errors. */
static GError *
decode_error (GVariant *body)
{
  const char *domain, *message;
  gint32 code;
  GQuark quark;

  if (!g_variant_is_of_type (body, ERROR_TYPE))
    return g_error_new (DP_ERROR, DP_ERROR_PROTOCOL, "an RPC error reply of type %s",
                        g_variant_get_type_string (body));
  g_variant_get (body, "(&si&s)", &domain, &code, &message);
  quark = g_quark_try_string (domain);
  if (quark == 0 && domain[0] != '\0' && strlen (domain) <= MAX_DOMAIN_LEN)
    quark = g_quark_from_string (domain);
  if (quark == 0)
    return g_error_new (DP_ERROR, DP_ERROR_FAILED, "%s", message);
  return g_error_new_literal (quark, code, message);
}

/* ---- server ---- */

static GPrivate current_server;   /* the DpPlaceChannel dp_rpc_serve() runs on */

static const DpRpcMethodInfo *
find_method (const DpRpcInterfaceInfo *info,
             const char               *name)
{
  for (gsize i = 0; i < info->n_methods; i++)
    if (strcmp (info->methods[i].name, name) == 0)
      return &info->methods[i];
  return NULL;
}

static void
reply_error (DpPlaceChannel *reply,
             guint32         id,
             const GError   *error)
{
  dp_place_channel_put (reply, encode_error (id, error));
}

/* One request, answered on @reply unless it is a cast. */
static void
serve_one (const DpRpcInterfaceInfo *info,
           gpointer                  state,
           GVariant                 *msg,
           DpPlaceChannel           *reply)
{
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GVariant) method_v = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  const DpRpcMethodInfo *m;
  const char *method;
  guchar kind;
  guint32 id;

  if (!g_variant_is_of_type (msg, MESSAGE_TYPE))
    {
      /* not a request at all: answered with id 0, which no call has */
      g_set_error (&error, DP_ERROR, DP_ERROR_INVALID_ARGS,
                   "server %s: a request is of type (yusv), not %s", info->name,
                   g_variant_get_type_string (msg));
      reply_error (reply, 0, error);
      return;
    }
  decode (msg, &kind, &id, &method_v, &args);
  method = g_variant_get_string (method_v, NULL);
  if (kind != KIND_CALL && kind != KIND_CAST)
    g_set_error (&error, DP_ERROR, DP_ERROR_INVALID_ARGS,
                 "server %s: a request of unknown kind %u", info->name, kind);
  else if ((m = find_method (info, method)) == NULL)
    g_set_error (&error, DP_ERROR, DP_ERROR_UNKNOWN_METHOD,
                 "server %s has no method %s", info->name, method);
  else if (kind == KIND_CALL && m->result_type == NULL)
    g_set_error (&error, DP_ERROR, DP_ERROR_UNKNOWN_METHOD,
                 "%s of server %s is a cast: it has no reply to call for", method, info->name);
  else if (!g_variant_is_of_type (args, (const GVariantType *) m->args_type))
    g_set_error (&error, DP_ERROR, DP_ERROR_INVALID_ARGS,
                 "%s of server %s takes %s, not %s", method, info->name, m->args_type,
                 g_variant_get_type_string (args));
  else if (m->dispatch (state, args, &result, &error))
    {
      if (kind == KIND_CAST || m->result_type == NULL)
        return;
      if (result != NULL)
        g_variant_take_ref (result);
      if (result != NULL && g_variant_is_of_type (result, (const GVariantType *) m->result_type))
        {
          dp_place_channel_put (reply, encode (KIND_REPLY, id, "", result));
          return;
        }
      g_set_error (&error, DP_ERROR, DP_ERROR_INVALID_ARGS,
                   "the handler of %s (server %s) returned %s, not %s", method, info->name,
                   result ? g_variant_get_type_string (result) : "nothing", m->result_type);
    }
  else if (error == NULL)
    g_set_error (&error, DP_ERROR, DP_ERROR_FAILED,
                 "the handler of %s (server %s) failed without saying why", method, info->name);

  if (kind == KIND_CALL)
    reply_error (reply, id, error);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "DP_EVENT", "rpc-cast-failed",
                      "MESSAGE", "a cast was dropped: %s", error->message);
}

/**
 * dp_rpc_serve:
 * @channel: the place's channel
 * @info: the server's methods
 * @state: (nullable): handed to every dispatch
 *
 * Serves requests on @channel until it is closed: the seed's server loop
 * of `define-remote-server` (and, on a named place, of
 * `define-named-remote-server`: each request is answered on the channel of
 * the client that sent it, see dp_place_channel_get_full()). A request for
 * an unknown method, or with arguments that are not of the method's
 * @args_type, gets an error reply and the server serves on. Inside the
 * handlers dp_rpc_log_to_parent() logs to the root node.
 *
 * Since: 1.0
 */
void
dp_rpc_serve (DpPlaceChannel           *channel,
              const DpRpcInterfaceInfo *info,
              gpointer                  state)
{
  gpointer outer;
  GVariant *msg;
  DpPlaceChannel *reply = NULL;

  g_return_if_fail (DP_IS_PLACE_CHANNEL (channel));
  g_return_if_fail (info != NULL);

  outer = g_private_get (&current_server);
  g_private_set (&current_server, channel);
  while ((msg = dp_place_channel_get_full (channel, &reply)) != NULL)
    {
      serve_one (info, state, msg, reply);
      g_variant_unref (msg);
      g_clear_object (&reply);
    }
  g_private_set (&current_server, outer);
}

/**
 * dp_rpc_log_to_parent:
 * @severity: "fatal", "error", "warning", "info" or "debug"
 * @format: printf()-style format of the message
 * @...: its arguments
 *
 * The seed's `log-to-parent`, for the handlers of a server run by
 * dp_rpc_serve(): sends a log record to the root node (through
 * dp_place_channel_log() on the server's place channel), where it is logged
 * with GLib structured logging and emitted as #DpNode::log. It is never
 * seen as a reply. Outside a handler it is dp_log_message().
 *
 * ```c
 * dp_rpc_log_to_parent ("debug", "%s set to %" G_GINT64_FORMAT, key, value);
 * ```
 *
 * Since: 1.0
 */
void
dp_rpc_log_to_parent (const char *severity,
                      const char *format,
                      ...)
{
  DpPlaceChannel *channel = g_private_get (&current_server);
  g_autofree char *message = NULL;
  va_list ap;

  g_return_if_fail (severity != NULL && format != NULL);
  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* the server's channel, or the place's own (a handler of a server run
   * by hand inside a place) */
  _dp_log_to_parent (channel ? channel : _dp_place_get_current_channel (), severity, message);
}

/* ---- client ---- */

typedef struct {
  guint32       id;
  char         *method;
  GVariantType *result_type;
  GVariant     *reply;      /* the reply message, once it has come */
  gboolean      done;       /* replied, or failed (closed, cancelled) */
  GTask        *task;       /* an asynchronous call */
  gulong        cancel_handler;
  GError       *died;       /* the server died under it (fails at its KIND_DIED), or
                             * the channel closed: what it fails with */
} Call;

typedef struct {
  GMutex      lock;
  GCond       cond;         /* with @lock: a call is done, or nobody reads */
  guint32     next_id;
  GHashTable *calls;        /* id → Call (not owned) */
  gboolean    reading;      /* somebody is in a get on the channel */
  guint       waiters;      /* threads in g_cond_wait (@cond): woken only if any */
  gboolean    closed;       /* the channel has closed: every call fails */
  guint       n_async;      /* asynchronous calls in flight */
  gboolean    reader_thread;
} Client;

static GQuark client_quark;
static GMutex client_quark_lock;

static void
call_free (Call *call)
{
  g_free (call->method);
  g_variant_type_free (call->result_type);
  g_clear_pointer (&call->reply, g_variant_unref);
  g_clear_object (&call->task);
  g_clear_error (&call->died);
  g_free (call);
}

static void
client_free (gpointer data)
{
  Client *c = data;

  /* the channel is being finalized: no call can be in flight (each holds
   * a reference on it) */
  g_hash_table_unref (c->calls);
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_free (c);
}

/* Router thread: the server place of a DpRemoteConnection died and is being
 * restarted. Marks the calls in flight; the reader fails them when it gets
 * to the KIND_DIED message returned (the replies before it still count). */
static GVariant *
client_died (gpointer     data,
             DpPlaceExit  exit,
             const char  *detail)
{
  Client *c = data;
  GHashTableIter iter;
  gpointer value;
  gboolean any = FALSE;

  _dp_mutex_lock (&c->lock);
  g_hash_table_iter_init (&iter, c->calls);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Call *call = value;

      if (call->died)
        continue;   /* from an earlier death: its KIND_DIED is queued already */
      call->died = g_error_new (DP_ERROR, DP_ERROR_PLACE_FAILED,
                                "the server place died (%s) before %s was answered; "
                                "it is being restarted",
                                detail ? detail : dp_place_exit_to_string (exit), call->method);
      any = TRUE;
    }
  g_mutex_unlock (&c->lock);
  return any ? g_variant_ref_sink (encode (KIND_DIED, 0, "", g_variant_new ("()"))) : NULL;
}

static Client *
client_for (DpChannel *channel)
{
  Client *c;

  g_mutex_lock (&client_quark_lock);
  if (client_quark == 0)
    client_quark = g_quark_from_static_string ("dp-rpc-client");
  c = g_object_get_qdata (G_OBJECT (channel), client_quark);
  if (c == NULL)
    {
      c = g_new0 (Client, 1);
      g_mutex_init (&c->lock);
      g_cond_init (&c->cond);
      c->next_id = 1;
      c->calls = g_hash_table_new (NULL, NULL);
      g_object_set_qdata_full (G_OBJECT (channel), client_quark, c, client_free);
      /* (the func goes with the connection: the Client lives as long) */
      if (DP_IS_REMOTE_CONNECTION (channel))
        _dp_remote_connection_set_death_func (DP_REMOTE_CONNECTION (channel), client_died, c);
    }
  g_mutex_unlock (&client_quark_lock);
  return c;
}

/* A get that gives up after @timeout_us (-1: never) where the channel can;
 * *closed: nothing more will come. */
static GVariant *
channel_get (DpChannel *channel,
             gint64     timeout_us,
             gboolean  *closed)
{
  GVariant *msg;

  *closed = FALSE;
  if (timeout_us >= 0 && DP_IS_PLACE_CHANNEL (channel))
    return dp_place_channel_get_timeout (DP_PLACE_CHANNEL (channel), timeout_us, closed);
  if (timeout_us >= 0 && DP_IS_REMOTE_CONNECTION (channel))
    {
      g_autoptr(GError) error = NULL;

      msg = dp_remote_connection_get_timeout (DP_REMOTE_CONNECTION (channel), timeout_us, &error);
      *closed = msg == NULL && g_error_matches (error, DP_ERROR, DP_ERROR_CLOSED);
      return msg;
    }
  msg = dp_channel_get (channel);
  *closed = msg == NULL;
  return msg;
}

/* The result of a done call, or its error */
static GVariant *
call_result (Call    *call,
             GError **error)
{
  g_autoptr(GVariant) body = NULL;
  guchar kind;
  guint32 id;

  if (call->reply == NULL && call->died)
    {
      g_propagate_error (error, g_steal_pointer (&call->died));
      return NULL;
    }
  if (call->reply == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_CLOSED,
                   "the channel closed before %s was answered", call->method);
      return NULL;
    }
  decode (call->reply, &kind, &id, NULL, &body);
  if (kind == KIND_ERROR)
    {
      g_propagate_error (error, decode_error (body));
      return NULL;
    }
  if (call->result_type && !g_variant_is_of_type (body, call->result_type))
    {
      g_autofree char *want = g_variant_type_dup_string (call->result_type);
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGS,
                   "the reply to %s is of type %s, not %s", call->method,
                   g_variant_get_type_string (body), want);
      return NULL;
    }
  return g_steal_pointer (&body);
}

/* Completes an asynchronous call (without the client's lock: the task's
 * callback may run at once and call again). */
static void
complete_task (Call *call)
{
  GError *error = NULL;
  GVariant *result = call_result (call, &error);

  if (call->cancel_handler)
    g_cancellable_disconnect (g_task_get_cancellable (call->task), call->cancel_handler);

  if (result)
    g_task_return_pointer (call->task, result, (GDestroyNotify) g_variant_unref);
  else
    g_task_return_error (call->task, error);
  call_free (call);
}

/* With the lock: a call is done. A synchronous caller is woken (it frees
 * its Call); an asynchronous one is added to @tasks, to be completed once
 * the lock is let go. */
static void
finish_locked (Client  *c,
               Call    *call,
               GSList **tasks)
{
  g_hash_table_remove (c->calls, GUINT_TO_POINTER (call->id));
  call->done = TRUE;
  if (call->task)
    {
      c->n_async--;
      *tasks = g_slist_prepend (*tasks, call);
    }
}

static void
complete_tasks (GSList *tasks)
{
  g_slist_free_full (g_slist_reverse (tasks), (GDestroyNotify) complete_task);
}

/* With the lock, which it lets go meanwhile: reads one message (waiting at
 * most @timeout_us) and hands it to its call. */
static void
read_one_locked (Client    *c,
                 DpChannel *channel,
                 gint64     timeout_us)
{
  GSList *tasks = NULL;
  GVariant *msg;
  gboolean closed;

  c->reading = TRUE;
  g_mutex_unlock (&c->lock);
  msg = channel_get (channel, timeout_us, &closed);
  _dp_mutex_lock (&c->lock);
  c->reading = FALSE;

  if (msg != NULL)
    {
      Call *call = NULL;
      guchar kind = 0;
      guint32 id = 0;

      if (g_variant_is_of_type (msg, MESSAGE_TYPE))
        {
          decode (msg, &kind, &id, NULL, NULL);
          if (kind == KIND_REPLY || kind == KIND_ERROR)
            call = g_hash_table_lookup (c->calls, GUINT_TO_POINTER (id));
        }
      if (kind == KIND_DIED)
        {
          GHashTableIter iter;
          gpointer value;

          g_hash_table_iter_init (&iter, c->calls);
          while (g_hash_table_iter_next (&iter, NULL, &value))
            {
              Call *dead = value;

              if (dead->died == NULL)
                continue;
              g_hash_table_iter_steal (&iter);
              dead->done = TRUE;
              if (dead->task)
                {
                  c->n_async--;
                  tasks = g_slist_prepend (tasks, dead);
                }
            }
          g_variant_unref (msg);
        }
      else if (call)
        {
          call->reply = g_steal_pointer (&msg);
          finish_locked (c, call, &tasks);
        }
      else
        {
          /* the late reply of a cancelled call, or not a reply at all */
          g_autofree char *text = g_variant_print (msg, TRUE);
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                            "DP_EVENT", "rpc-unmatched",
                            "MESSAGE", "an RPC client dropped a message that answers no call: %.200s",
                            text);
          g_variant_unref (msg);
        }
    }
  else if (closed)
    {
      g_autofree char *detail = NULL;
      GHashTableIter iter;
      gpointer value;

      c->closed = TRUE;
      if (DP_IS_REMOTE_CONNECTION (channel))
        detail = dp_remote_connection_dup_exit_detail (DP_REMOTE_CONNECTION (channel));
      g_hash_table_iter_init (&iter, c->calls);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Call *call = value;

          g_hash_table_iter_steal (&iter);
          call->done = TRUE;
          if (call->died == NULL && detail)
            call->died = g_error_new (DP_ERROR, DP_ERROR_CLOSED,
                                      "the server place exited (%s) before %s was answered",
                                      detail, call->method);
          if (call->task)
            {
              c->n_async--;
              tasks = g_slist_prepend (tasks, call);
            }
        }
    }
  /* a broadcast is a system call even with nobody to wake */
  if (c->waiters)
    g_cond_broadcast (&c->cond);
  if (tasks)
    {
      g_mutex_unlock (&c->lock);
      complete_tasks (tasks);
      _dp_mutex_lock (&c->lock);
    }
}

/* Registers a new call, or fails at once on a closed channel */
static Call *
call_new_locked (Client             *c,
                 const char         *method,
                 const GVariantType *result_type)
{
  Call *call = g_new0 (Call, 1);

  do
    call->id = c->next_id++;
  while (call->id == 0 || g_hash_table_contains (c->calls, GUINT_TO_POINTER (call->id)));
  call->method = g_strdup (method);
  call->result_type = result_type ? g_variant_type_copy (result_type) : NULL;
  g_hash_table_insert (c->calls, GUINT_TO_POINTER (call->id), call);
  return call;
}

static void
wake_waiters (GCancellable *cancellable,
              gpointer      data)
{
  Client *c = data;

  _dp_mutex_lock (&c->lock);
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
}

/* Puts a request. FALSE (with @error) when the channel has gone. */
static gboolean
send_request (DpChannel   *channel,
              guchar       kind,
              guint32      id,
              const char  *method,
              GVariant    *args,
              GError     **error)
{
  if (dp_channel_put (channel, encode (kind, id, method, args)))
    return TRUE;
  g_set_error (error, DP_ERROR, DP_ERROR_CLOSED,
               "cannot send %s: the server's channel is closed", method);
  return FALSE;
}

static gboolean
check_call_args (const char *method,
                 GVariant   *args)
{
  g_return_val_if_fail (method != NULL, FALSE);
  g_return_val_if_fail (args != NULL, FALSE);
  g_return_val_if_fail (g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE), FALSE);
  return TRUE;
}

/**
 * dp_rpc_call_sync:
 * @channel: the server's channel (a #DpRemoteConnection, a #DpPlaceChannel)
 * @method: the method
 * @args: its arguments, a tuple; a floating reference is sunk
 * @result_type: (nullable): the type the result must have
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Calls @method and waits for its reply. Any number of calls may be in
 * flight on @channel (from other threads, or dp_rpc_call_async()): each
 * gets its own reply. The channel must be used for RPC only while calls
 * are in flight: whatever else arrives on it is dropped.
 *
 * Returns: (transfer full): the result, or %NULL with @error: the
 *   handler's own error, %DP_ERROR_UNKNOWN_METHOD, %DP_ERROR_INVALID_ARGS
 *   (wrong arguments, or a result that is not of @result_type),
 *   %DP_ERROR_CLOSED (the channel closed first: the other end of a
 *   #DpPlaceChannel closed, or the place of a #DpRemoteConnection exited
 *   for good), %DP_ERROR_PLACE_FAILED (the server place of a
 *   #DpRemoteConnection died and is being restarted: calls made from then
 *   on go to its next incarnation; the request of the failed call may still
 *   reach it when the dead one had not read it, and its answer is then
 *   dropped) or %G_IO_ERROR_CANCELLED
 *
 * Since: 1.0
 */
GVariant *
dp_rpc_call_sync (DpChannel           *channel,
                  const char          *method,
                  GVariant            *args,
                  const GVariantType  *result_type,
                  GCancellable        *cancellable,
                  GError             **error)
{
  g_autoptr(GVariant) args_ref = NULL;
  Client *c;
  Call *call;
  gulong handler = 0;
  GVariant *result = NULL;

  g_return_val_if_fail (DP_IS_CHANNEL (channel), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (args)
    args_ref = g_variant_ref_sink (args);
  if (!check_call_args (method, args))
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  c = client_for (channel);
  _dp_mutex_lock (&c->lock);
  call = call_new_locked (c, method, result_type);
  g_mutex_unlock (&c->lock);

  if (!send_request (channel, KIND_CALL, call->id, method, args, error))
    {
      _dp_mutex_lock (&c->lock);
      g_hash_table_remove (c->calls, GUINT_TO_POINTER (call->id));
      g_mutex_unlock (&c->lock);
      call_free (call);
      return NULL;
    }

  if (cancellable)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (wake_waiters), c, NULL);
  _dp_mutex_lock (&c->lock);
  while (!call->done && !c->closed && !g_cancellable_is_cancelled (cancellable))
    {
      if (!c->reading)
        read_one_locked (c, channel, cancellable ? READ_SLICE_US : -1);
      else
        {
          c->waiters++;
          g_cond_wait (&c->cond, &c->lock);
          c->waiters--;
        }
    }
  if (!call->done)
    {
      /* cancelled, or the channel closed under a reader that was not us */
      g_hash_table_remove (c->calls, GUINT_TO_POINTER (call->id));
      call->done = TRUE;
    }
  g_mutex_unlock (&c->lock);
  if (handler)
    g_cancellable_disconnect (cancellable, handler);

  if (call->reply != NULL || !g_cancellable_set_error_if_cancelled (cancellable, error))
    result = call_result (call, error);
  call_free (call);
  return result;
}

/* The reader thread: reads while asynchronous calls are in flight and
 * nobody else is reading. */
static gpointer
reader_thread (gpointer data)
{
  DpChannel *channel = data;
  Client *c = client_for (channel);

  _dp_mutex_lock (&c->lock);
  while (c->n_async > 0 && !c->closed)
    {
      if (c->reading)
        {
          c->waiters++;
          g_cond_wait (&c->cond, &c->lock);
          c->waiters--;
        }
      else
        read_one_locked (c, channel, READ_SLICE_US);
    }
  c->reader_thread = FALSE;
  g_mutex_unlock (&c->lock);
  g_object_unref (channel);
  return NULL;
}

typedef struct {
  GWeakRef channel;
  guint32  id;
} CancelData;

static void
cancel_data_free (gpointer data)
{
  CancelData *cd = data;

  g_weak_ref_clear (&cd->channel);
  g_free (cd);
}

/* A cancelled asynchronous call: completed with G_IO_ERROR_CANCELLED at
 * once; a reply that comes later is dropped. (The handler stays connected
 * until the cancellable goes: it cannot disconnect itself.) */
static void
async_cancelled (GCancellable *cancellable,
                 gpointer      data)
{
  CancelData *cd = data;
  g_autoptr(GObject) channel = g_weak_ref_get (&cd->channel);
  GSList *tasks = NULL;
  Client *c;
  Call *call;

  if (channel == NULL)
    return;
  c = client_for (DP_CHANNEL (channel));
  _dp_mutex_lock (&c->lock);
  call = g_hash_table_lookup (c->calls, GUINT_TO_POINTER (cd->id));
  if (call)
    finish_locked (c, call, &tasks);
  g_mutex_unlock (&c->lock);
  for (GSList *l = tasks; l; l = l->next)
    {
      Call *done = l->data;

      g_task_return_error_if_cancelled (done->task);
      call_free (done);
    }
  g_slist_free (tasks);
}

/**
 * dp_rpc_call_async:
 * @channel: the server's channel
 * @method: the method
 * @args: its arguments, a tuple; a floating reference is sunk
 * @result_type: (nullable): the type the result must have
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the reply, in the thread-default main context of
 *   the caller
 * @user_data: for @callback
 *
 * Calls @method without waiting: the asynchronous form of
 * dp_rpc_call_sync(). Get the result with dp_rpc_call_finish(). While
 * such calls are in flight a thread of libdp reads @channel.
 *
 * Since: 1.0
 */
void
dp_rpc_call_async (DpChannel           *channel,
                   const char          *method,
                   GVariant            *args,
                   const GVariantType  *result_type,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  g_autoptr(GVariant) args_ref = NULL;
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Client *c;
  Call *call;
  guint32 id;
  gboolean start_reader = FALSE;

  g_return_if_fail (DP_IS_CHANNEL (channel));
  if (args)
    args_ref = g_variant_ref_sink (args);
  task = g_task_new (channel, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_rpc_call_async);
  g_task_set_name (task, "[libdp] rpc call");
  if (!check_call_args (method, args))
    {
      g_task_return_new_error (task, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                               "the arguments of an RPC call must be a tuple");
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  c = client_for (channel);
  _dp_mutex_lock (&c->lock);
  call = call_new_locked (c, method, result_type);
  call->task = g_object_ref (task);
  id = call->id;
  c->n_async++;
  g_mutex_unlock (&c->lock);

  if (!send_request (channel, KIND_CALL, id, method, args, &error))
    {
      _dp_mutex_lock (&c->lock);
      call = g_hash_table_lookup (c->calls, GUINT_TO_POINTER (id));
      if (call)
        {
          g_hash_table_remove (c->calls, GUINT_TO_POINTER (id));
          c->n_async--;
        }
      g_mutex_unlock (&c->lock);
      /* else the channel closed meanwhile, and its reader failed the call */
      if (call)
        {
          call_free (call);
          g_task_return_error (task, g_steal_pointer (&error));
        }
      return;
    }

  /* From here on the call may be answered by any reader at any time: it
   * is looked up by id, under the lock. */
  if (cancellable)
    {
      CancelData *cd = g_new (CancelData, 1);
      gulong handler;

      g_weak_ref_init (&cd->channel, channel);
      cd->id = id;
      /* connected without the lock: the handler runs at once when the
       * cancellable is cancelled already (and then returns 0) */
      handler = g_cancellable_connect (cancellable, G_CALLBACK (async_cancelled), cd,
                                       cancel_data_free);
      _dp_mutex_lock (&c->lock);
      call = g_hash_table_lookup (c->calls, GUINT_TO_POINTER (id));
      if (call)
        call->cancel_handler = handler;
      g_mutex_unlock (&c->lock);
      if (call == NULL)
        {
          /* answered meanwhile, before its handler was known */
          if (handler)
            g_cancellable_disconnect (cancellable, handler);
          return;
        }
    }

  _dp_mutex_lock (&c->lock);
  if (c->closed)
    {
      /* closed while we sent: fail what is left */
      GSList *tasks = NULL;

      call = g_hash_table_lookup (c->calls, GUINT_TO_POINTER (id));
      if (call)
        finish_locked (c, call, &tasks);
      g_mutex_unlock (&c->lock);
      complete_tasks (tasks);
      return;
    }
  if (!c->reader_thread && c->n_async > 0)
    start_reader = c->reader_thread = TRUE;
  g_mutex_unlock (&c->lock);
  if (start_reader)
    g_thread_unref (g_thread_new ("dp-rpc-reader", reader_thread, g_object_ref (channel)));
}

/**
 * dp_rpc_call_finish:
 * @channel: the server's channel
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes dp_rpc_call_async().
 *
 * Returns: (transfer full): the result, or %NULL with @error (as for
 *   dp_rpc_call_sync())
 *
 * Since: 1.0
 */
GVariant *
dp_rpc_call_finish (DpChannel     *channel,
                    GAsyncResult  *result,
                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, channel), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * dp_rpc_cast:
 * @channel: the server's channel
 * @method: the method (a `define-cast`)
 * @args: its arguments, a tuple; a floating reference is sunk
 * @error: return location for a #GError
 *
 * Sends a cast: the server calls the method's handler and sends nothing
 * back. Never waits for the server (only, like any put, for room in a full
 * channel).
 *
 * Returns: %FALSE with %DP_ERROR_CLOSED when the channel has gone
 *
 * Since: 1.0
 */
gboolean
dp_rpc_cast (DpChannel   *channel,
             const char  *method,
             GVariant    *args,
             GError     **error)
{
  g_autoptr(GVariant) args_ref = NULL;

  g_return_val_if_fail (DP_IS_CHANNEL (channel), FALSE);
  if (args)
    args_ref = g_variant_ref_sink (args);
  if (!check_call_args (method, args))
    return FALSE;
  return send_request (channel, KIND_CAST, 0, method, args, error);
}
