/* dp-isolated-place.c: a place in a process of its own (DP_LAUNCH_ISOLATE)
 *
 * A thread place that crashes takes its node with it (dp-place.c). A place
 * launched isolated runs instead in a child of its node: the node execs
 * `dp-node --place-host 3 --secret-stdin --plugin-dir DIR…` afresh (never a
 * bare fork() of the threaded node), found as a master finds dp-node
 * (dp_find_node_program(): $DP_NODE_PATH, beside /proc/self/exe, the
 * install's bindir, $PATH). Between them:
 *
 *  - fd 3 of the child is one end of a socketpair; the node keeps the
 *    other. The child serves it as an accepted connection
 *    (dp_node_serve_socket()): the same handshake and frames as over TCP,
 *    with a one-time random secret handed on the child's standard input
 *    (never on its command line);
 *  - the node sends the child the launch request (kind, plugin, symbol:
 *    the child loads the plugin from the node's plugin directories, under
 *    the same rules; no plugin code is loaded in the node) on the child's
 *    channel 1, and relays: what the master sends on its channel goes to
 *    channel 1 of the child, and what the child sends on channel 1 (data,
 *    started, failed, died, bounces, log records) goes back to the master's
 *    channel. The thunk of an isolated thunk place runs in the child;
 *  - the child dies with its node: PR_SET_PDEATHSIG (SIGKILL) set between
 *    fork and exec, and its standard input (the node holds the pipe)
 *    closing, on which any dp-node exits; the node closes it when the
 *    place has ended or its master has gone;
 *  - the child's exit status is read (GSubprocess, so it is reaped): once
 *    both the socketpair has closed and the status is known, the place's
 *    death is told to the master — as the child said it, or, when it died
 *    without saying (a crash), DP_PLACE_EXIT_CRASHED with the signal. The
 *    node serves on.
 *
 * Everything here runs in the node's router thread: the entry callbacks,
 * the child connection's handler and the child watch.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-node-process-private.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_FD       3
#define CHILD_CHANNEL  1

#define DP_TYPE_ISOLATED_PLACE (dp_isolated_place_get_type ())
G_DECLARE_FINAL_TYPE (DpIsolatedPlace, dp_isolated_place, DP, ISOLATED_PLACE, GObject)

/* Every field: router thread only */
struct _DpIsolatedPlace
{
  GObject             parent_instance;

  DpConnection       *master;        /* the connection that asked for the place */
  guint32             channel;       /* its channel there */
  char               *symbol;
  GSubprocess        *process;
  DpConnection       *child;         /* the socketpair, to the child's channel 1 */
  DpIsolatedExitFunc  on_exit;
  gpointer            on_exit_data;

  gboolean            started;       /* the child said STARTED */
  gboolean            told;          /* the child said FAILED or DIED, relayed */
  DpPlaceExit         exit;          /* what it said */
  char               *detail;
  gboolean            child_closed;
  gboolean            exited;
  int                 wait_status;
  gboolean            finished;
};

G_DEFINE_FINAL_TYPE (DpIsolatedPlace, dp_isolated_place, G_TYPE_OBJECT)

static void
dp_isolated_place_finalize (GObject *object)
{
  DpIsolatedPlace *self = DP_ISOLATED_PLACE (object);

  g_clear_pointer (&self->master, _dp_connection_unref);
  g_clear_pointer (&self->child, _dp_connection_unref);
  g_clear_object (&self->process);
  g_free (self->symbol);
  g_free (self->detail);
  G_OBJECT_CLASS (dp_isolated_place_parent_class)->finalize (object);
}

static void
dp_isolated_place_class_init (DpIsolatedPlaceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_isolated_place_finalize;
}

static void
dp_isolated_place_init (DpIsolatedPlace *self)
{
  self->exit = DP_PLACE_EXIT_RUNNING;
}

/* The child exits once its standard input closes */
static void
let_child_go (DpIsolatedPlace *self)
{
  GOutputStream *in = self->process ? g_subprocess_get_stdin_pipe (self->process) : NULL;

  if (in && !g_output_stream_is_closed (in))
    g_output_stream_close (in, NULL, NULL);
}

/* Both the socketpair and the process are gone: tell the master (unless
 * the child did), and we are done. */
static void
maybe_finish (DpIsolatedPlace *self)
{
  g_autoptr(DpChannelEntry) entry = NULL;
  g_autofree char *detail = NULL;
  DpPlaceExit exit;

  DP_ASSERT_OWNER_CONTEXT (_dp_connection_get_context (self->master));
  if (!self->child_closed || !self->exited || self->finished)
    return;
  self->finished = TRUE;

  if (self->told)
    {
      exit = self->exit;
      detail = g_strdup (self->detail);
    }
  else if (WIFSIGNALED (self->wait_status))
    {
      int sig = WTERMSIG (self->wait_status);
      exit = DP_PLACE_EXIT_CRASHED;
      detail = g_strdup_printf ("killed by signal %d (%s); only its process died", sig, g_strsignal (sig));
    }
  else
    {
      exit = self->started ? DP_PLACE_EXIT_LOST : DP_PLACE_EXIT_FAILED;
      detail = g_strdup_printf ("the isolated place's process exited with status %d %s",
                                WIFEXITED (self->wait_status) ? WEXITSTATUS (self->wait_status) : -1,
                                self->started ? "before its place ended" : "before its place started");
    }

  if (!self->told)
    {
      g_autoptr(GVariant) payload = NULL;

      if (exit == DP_PLACE_EXIT_FAILED)
        payload = g_variant_ref_sink (g_variant_new ("(us)", (guint32) DP_ERROR_PLACE_FAILED, detail));
      else
        payload = g_variant_ref_sink (g_variant_new ("(us@av)", (guint32) exit, detail,
                                                     g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0)));
      _dp_connection_send (self->master, exit == DP_PLACE_EXIT_FAILED ? DP_FRAME_PLACE_FAILED
                                                                      : DP_FRAME_PLACE_DIED,
                           self->channel, 0, payload);
    }
  entry = _dp_connection_steal_entry (self->master, self->channel);
  self->on_exit (self->on_exit_data, self->symbol, exit, detail);
  g_object_unref (self);          /* the reference the running place held */
}

/* ---- flow control of the relay ---- */

static void
relay_resume (gpointer data)
{
  DpConnection *from = data;

  _dp_connection_unstall (from);
  _dp_connection_unref (from);
}

/* Router thread, after relaying frames that came on @from to @to: the
 * router never waits, so when @to's output queue is over its limit the
 * relay stops reading @from — as a full inbox does — until @to can take
 * more (or closes). Nothing piles up in the node between master and child. */
static void
relay_backpressure (DpConnection *from,
                    DpConnection *to)
{
  if (from == NULL || to == NULL || !_dp_connection_is_full (to))
    return;
  _dp_connection_stall (from);
  if (!_dp_connection_add_writable_watch (to, relay_resume, _dp_connection_ref (from)))
    relay_resume (from);        /* room again already: takes the ref back */
}

/* ---- the master's channel ---- */

static gboolean
entry_data (DpChannelEntry  *e,
            DpConnection    *conn,
            GVariant       **msgs,
            guint            n)
{
  g_autoptr(DpIsolatedPlace) self = g_weak_ref_get (&e->owner);

  if (self == NULL || self->child_closed || self->told)
    return FALSE;                 /* bounced by the caller */
  for (guint i = 0; i < n; i++)
    {
      _dp_connection_send (self->child, DP_FRAME_DATA, CHILD_CHANNEL, 0, msgs[i]);
      g_variant_unref (msgs[i]);
    }
  relay_backpressure (conn, self->child);
  return TRUE;
}

static void
entry_closed (DpChannelEntry *e,
              DpConnection   *conn)
{
  g_autoptr(DpIsolatedPlace) self = g_weak_ref_get (&e->owner);

  if (self && !self->child_closed)
    _dp_connection_send (self->child, DP_FRAME_CLOSE, CHILD_CHANNEL, 0, NULL);
}

/* The master went: its end of the channel is closed, as for a place in a
 * thread, and the place ends as it does then (its get returns NULL); once
 * it has said so, its process goes (child_frame). A place that ignores the
 * close lives on until its node exits, as a thread place would. */
static void
entry_lost (DpChannelEntry *e,
            DpConnection   *conn)
{
  g_autoptr(DpIsolatedPlace) self = g_weak_ref_get (&e->owner);

  if (self && !self->child_closed)
    _dp_connection_send (self->child, DP_FRAME_CLOSE, CHILD_CHANNEL, 0, NULL);
}

static const DpChannelEntryClass isolated_entry_class = {
  .data   = entry_data,
  .closed = entry_closed,
  .lost   = entry_lost,
};

/* ---- the child's connection ---- */

static void
child_frame (DpConnection        *conn,
             const DpFrameHeader *h,
             GVariant            *payload,
             gpointer             data)
{
  DpIsolatedPlace *self = data;
  guint32 code;
  const char *text;

  DP_ASSERT_OWNER_CONTEXT (_dp_connection_get_context (conn));
  switch (h->type)
    {
    case DP_FRAME_PLACE_STARTED:
      self->started = TRUE;
      G_GNUC_FALLTHROUGH;
    case DP_FRAME_DATA:
    case DP_FRAME_BOUNCE:
      if (h->channel == CHILD_CHANNEL)
        {
          _dp_connection_send (self->master, h->type, self->channel, h->arg, payload);
          relay_backpressure (conn, self->master);
        }
      break;

    case DP_FRAME_LOG:
      _dp_connection_send (self->master, DP_FRAME_LOG,
                           h->channel == CHILD_CHANNEL ? self->channel : 0, h->arg, payload);
      break;

    case DP_FRAME_PLACE_FAILED:
    case DP_FRAME_PLACE_DIED:
      if (h->channel != CHILD_CHANNEL || self->told || payload == NULL ||
          !g_variant_is_of_type (payload, h->type == DP_FRAME_PLACE_DIED ? G_VARIANT_TYPE ("(usav)")
                                                                         : G_VARIANT_TYPE ("(us)")))
        break;
      g_variant_get_child (payload, 0, "u", &code);
      g_variant_get_child (payload, 1, "&s", &text);
      self->told = TRUE;
      self->exit = h->type == DP_FRAME_PLACE_FAILED ? DP_PLACE_EXIT_FAILED
                   : code <= DP_PLACE_EXIT_LOST ? (DpPlaceExit) code : DP_PLACE_EXIT_CRASHED;
      self->detail = g_strdup (text);
      _dp_connection_send (self->master, h->type, self->channel, h->arg, payload);
      let_child_go (self);
      break;

    default:
      break;
    }
}

static void
child_data (DpConnection  *conn,
            guint32        channel,
            GVariant     **msgs,
            guint          n,
            gpointer       data)
{
  DpIsolatedPlace *self = data;

  for (guint i = 0; i < n; i++)
    {
      if (channel == CHILD_CHANNEL)
        _dp_connection_send (self->master, DP_FRAME_DATA, self->channel, 0, msgs[i]);
      g_variant_unref (msgs[i]);
    }
  relay_backpressure (conn, self->master);
}

static void
child_closed (DpConnection *conn,
              const GError *reason,
              gpointer      data)
{
  DpIsolatedPlace *self = data;

  self->child_closed = TRUE;
  maybe_finish (self);
}

static const DpConnectionHandler child_handler = {
  NULL, child_frame, child_closed, child_data,
};

static void
child_exited (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(DpIsolatedPlace) self = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  self->exited = TRUE;
  self->wait_status = g_subprocess_get_status (G_SUBPROCESS (source));
  /* the socketpair closes with the process (its end was only the child's) */
  if (!self->child_closed)
    _dp_connection_close (self->child, NULL);
  maybe_finish (self);
}

/* ---- starting ---- */

/* Between fork and exec: async-signal-safe only */
static void
child_setup (gpointer data)
{
  pid_t parent = (pid_t) GPOINTER_TO_INT (data);

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)       /* the node died before prctl */
    _exit (1);
}

typedef struct {
  GSubprocessLauncher *launcher;
  const char * const  *argv;
  GSubprocess         *process;
  GError             **error;
} SpawnCall;

static void
spawn_call (gpointer data)
{
  SpawnCall *c = data;

  c->process = g_subprocess_launcher_spawnv (c->launcher, c->argv, c->error);
}

/* @ctx: the router's, whose own thread starts the child (its death signal
 * is tied to that thread: see _dp_main_context_call_on_router_thread()) */
static GSubprocess *
spawn_child (GMainContext        *ctx,
             const char * const  *plugin_dirs,
             int                  child_fd,
             GBytes              *secret,
             GError             **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *hex = NULL;
  g_autofree char *line = NULL;
  GOutputStream *in;
  gboolean ok;

  g_ptr_array_add (argv, dp_find_node_program (NULL));
  g_ptr_array_add (argv, g_strdup ("--place-host"));
  g_ptr_array_add (argv, g_strdup_printf ("%d", CHILD_FD));
  g_ptr_array_add (argv, g_strdup ("--secret-stdin"));
  for (guint i = 0; plugin_dirs && plugin_dirs[i]; i++)
    {
      g_ptr_array_add (argv, g_strdup ("--plugin-dir"));
      g_ptr_array_add (argv, g_strdup (plugin_dirs[i]));
    }
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_take_fd (launcher, child_fd, CHILD_FD);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, GINT_TO_POINTER (getpid ()), NULL);
  {
    SpawnCall call = { launcher, (const char * const *) argv->pdata, NULL, error };

    _dp_main_context_call_on_router_thread (ctx, spawn_call, &call);
    process = call.process;
  }
  if (process == NULL)
    {
      g_prefix_error (error, "cannot start an isolated place: ");
      return NULL;
    }

  hex = dp_secret_to_string (secret);
  line = g_strconcat (hex, "\n", NULL);
  in = g_subprocess_get_stdin_pipe (process);
  /* 65 bytes into an empty pipe never block */
  ok = g_output_stream_write_all (in, line, strlen (line), NULL, NULL, error);
  memset (line, 0, strlen (line));
  memset (hex, 0, strlen (hex));
  if (!ok)
    {
      g_prefix_error (error, "cannot start an isolated place: ");
      g_subprocess_force_exit (process);
      return NULL;
    }
  return g_steal_pointer (&process);
}

gboolean
_dp_isolated_place_start (DpConnection        *conn,
                          guint32              channel,
                          const char          *kind,
                          const char          *plugin,
                          const char          *symbol,
                          const char * const  *plugin_dirs,
                          gsize                max_frame,
                          DpIsolatedExitFunc   on_exit,
                          gpointer             on_exit_data,
                          GError             **error)
{
  g_autoptr(DpIsolatedPlace) self = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) sconn = NULL;
  g_autoptr(GBytes) secret = NULL;
  g_autoptr(GVariant) payload = NULL;
  DpChannelEntry *entry;
  GVariantBuilder request;
  guint8 raw[32];
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
      int errsv = errno;
      g_set_error (error, DP_ERROR, DP_ERROR_PLACE_FAILED,
                   "cannot start an isolated place: socketpair: %s", g_strerror (errsv));
      return FALSE;
    }
  socket = g_socket_new_from_fd (sv[0], error);
  if (socket == NULL)
    {
      close (sv[0]);
      close (sv[1]);
      return FALSE;
    }
  _dp_random_bytes (raw, sizeof raw);
  secret = g_bytes_new (raw, sizeof raw);
  memset (raw, 0, sizeof raw);

  self = g_object_new (DP_TYPE_ISOLATED_PLACE, NULL);
  self->master = _dp_connection_ref (conn);
  self->channel = channel;
  self->symbol = g_strdup (symbol);
  self->on_exit = on_exit;
  self->on_exit_data = on_exit_data;
  self->process = spawn_child (_dp_connection_get_context (conn), plugin_dirs, sv[1], secret, error);   /* takes sv[1] */
  if (self->process == NULL)
    return FALSE;

  sconn = g_socket_connection_factory_create_connection (socket);
  self->child = _dp_connection_new (sconn, DP_CONNECTION_CLIENT, secret,
                                    "an isolated place's one-time secret", max_frame,
                                    _dp_connection_get_context (conn), &child_handler, self);
  /* held until the handshake is done */
  g_variant_builder_init (&request, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&request, "{sv}", "kind", g_variant_new_string (kind ? kind : "place"));
  g_variant_builder_add (&request, "{sv}", "plugin", g_variant_new_string (plugin ? plugin : ""));
  g_variant_builder_add (&request, "{sv}", "symbol", g_variant_new_string (symbol ? symbol : ""));
  payload = g_variant_ref_sink (g_variant_builder_end (&request));
  _dp_connection_send (self->child, DP_FRAME_NEW_PLACE, CHILD_CHANNEL, 0, payload);
  _dp_connection_start (self->child);

  entry = _dp_channel_entry_new (&isolated_entry_class, channel);
  g_weak_ref_set (&entry->owner, self);
  _dp_connection_add_entry (conn, channel, entry);

  g_subprocess_wait_async (self->process, NULL, child_exited, g_object_ref (self));
  g_object_ref (self);            /* the running place's, dropped in maybe_finish() */
  return TRUE;
}
