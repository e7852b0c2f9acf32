/* dp-node-process.c: what every way of starting a node has in common
 *
 * The node program is told where to listen and is handed the cluster secret
 * on its standard input (never on its command line). It answers with one
 * line of JSON on standard output,
 * `{"dp-node":"ready","port":N,"pid":P,"version":"V","protocol":1}`, once it
 * listens (members other than dp-node, port and pid are not needed here); after that its standard output carries what its places
 * print, and its standard error its log. Its standard input stays open: the
 * node exits when it closes, so no node outlives its master.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-node-process-private.h"
#include "dp-ssh-module-private.h"

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STDERR_TAIL_LINES 12

typedef struct {
  char             *host;         /* as the user wrote it, for messages */
  DpHostSpec       *spec;         /* its parts */
  DpSpawnOptions   *options;
  GBytes           *secret;
  DpTlsMode         tls_mode;     /* the master's, for --tls */
  char             *tls_line;     /* credentials after the secret (--tls-stdin), or NULL */
  GCancellable     *cancellable;

  GOutputStream    *stdin_pipe;
  GInputStream     *out_stream;
  int               out_fd;
  GString          *out_buf;
  GSource          *out_source;
  GInputStream     *err_stream;
  int               err_fd;
  GString          *err_buf;
  GSource          *err_source;

  GTask            *launch_task;
  GSource          *timeout;
  GError           *pending_error;

  guint16           port;
  gint64            pid;
  gboolean          raw;          /* any program: no secret, no ready line */
  gboolean          ready;
  gboolean          exited;
  gboolean          stderr_eof;
  gboolean          stdout_eof;
  GMutex            eof_lock;     /* stdout_eof/stderr_eof for other threads */
  GCond             eof_cond;
  int               exit_status;
  char             *exit_reason;
  GQueue            stderr_tail;
  /* the first crash report the node wrote on its stderr (dp-place.c) */
  gboolean          crashed;
  guint32           crash_channel;
  int               crash_signal;
} DpNodeProcessPrivate;

enum {
  SIGNAL_EXITED,
  SIGNAL_OUTPUT,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (DpNodeProcess, dp_node_process, G_TYPE_OBJECT)

#define PRIV(self) ((DpNodeProcessPrivate *) dp_node_process_get_instance_private (self))

static void
dp_node_process_finalize (GObject *object)
{
  DpNodeProcessPrivate *priv = PRIV (DP_NODE_PROCESS (object));

  g_free (priv->host);
  g_clear_pointer (&priv->spec, _dp_host_spec_free);
  g_clear_pointer (&priv->options, dp_spawn_options_free);
  g_clear_pointer (&priv->secret, g_bytes_unref);
  if (priv->tls_line)
    memset (priv->tls_line, 0, strlen (priv->tls_line));
  g_clear_pointer (&priv->tls_line, g_free);
  g_clear_object (&priv->cancellable);
  g_clear_object (&priv->stdin_pipe);
  g_clear_object (&priv->out_stream);
  if (priv->out_buf)
    g_string_free (priv->out_buf, TRUE);
  g_clear_object (&priv->err_stream);
  if (priv->err_buf)
    g_string_free (priv->err_buf, TRUE);
  g_clear_error (&priv->pending_error);
  if (priv->timeout)
    {
      g_source_destroy (priv->timeout);
      g_source_unref (priv->timeout);
    }
  g_free (priv->exit_reason);
  g_queue_clear_full (&priv->stderr_tail, g_free);
  g_mutex_clear (&priv->eof_lock);
  g_cond_clear (&priv->eof_cond);
  G_OBJECT_CLASS (dp_node_process_parent_class)->finalize (object);
}

static void
dp_node_process_dispose (GObject *object)
{
  DpNodeProcessPrivate *priv = PRIV (DP_NODE_PROCESS (object));

  if (priv->cancellable)
    g_cancellable_cancel (priv->cancellable);
  G_OBJECT_CLASS (dp_node_process_parent_class)->dispose (object);
}

static void
dp_node_process_class_init (DpNodeProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = dp_node_process_dispose;
  object_class->finalize = dp_node_process_finalize;

  signals[SIGNAL_EXITED] =
    g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
  /* "output" (int fd, const char *line): a line the program wrote on its
   * stdout (1, after the ready line) or stderr (2) */
  signals[SIGNAL_OUTPUT] =
    g_signal_new ("output", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static void
dp_node_process_init (DpNodeProcess *self)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  g_queue_init (&priv->stderr_tail);
  g_mutex_init (&priv->eof_lock);
  g_cond_init (&priv->eof_cond);
  priv->cancellable = g_cancellable_new ();
  priv->exit_status = -1;
}

/* ---- the spawner ---- */

DpNodeProcess *
_dp_node_process_new_for_host (const char           *host,
                               const DpSpawnOptions *options,
                               GError              **error)
{
  g_autoptr(DpHostSpec) spec = NULL;
  DpSpawnMethod method = options ? dp_spawn_options_get_method (options) : DP_SPAWN_AUTO;
  DpNodeProcess *self;
  GType type;

  if (host == NULL)
    host = "localhost";
  spec = _dp_host_spec_parse (host, DP_HOST_SPEC_DEFAULT, error);
  if (spec == NULL)
    return NULL;
  if (method == DP_SPAWN_AUTO)
    method = _dp_host_spec_is_local (spec) ? DP_SPAWN_LOCAL : DP_SPAWN_SSH;
  /* ssh: the module, loaded on first use (dp-ssh-module.c) */
  type = method == DP_SPAWN_LOCAL ? dp_local_node_process_get_type ()
                                  : _dp_ssh_node_process_get_type (error);
  if (type == 0)
    return NULL;
  self = g_object_new (type, NULL);
  PRIV (self)->host = g_strdup (host);
  PRIV (self)->spec = g_steal_pointer (&spec);
  return self;
}

/* ---- helpers ---- */

char *
dp_find_node_program (const DpSpawnOptions *options)
{
  const char *env = g_getenv ("DP_NODE_PATH");
  g_autofree char *self_exe = NULL;
  char *found;

  if (options && dp_spawn_options_get_node_path (options))
    return g_strdup (dp_spawn_options_get_node_path (options));
  if (env && *env)
    return g_strdup (env);
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe)
    {
      g_autofree char *dir = g_path_get_dirname (self_exe);
      g_autofree char *beside = g_build_filename (dir, "dp-node", NULL);
      if (g_file_test (beside, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer (&beside);
    }
#ifdef DP_BINDIR
  if (g_file_test (DP_BINDIR "/dp-node", G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup (DP_BINDIR "/dp-node");
#endif
  found = g_find_program_in_path ("dp-node");
  return found ? found : g_strdup ("dp-node");
}

static char *
stderr_tail_text (DpNodeProcessPrivate *priv)
{
  GString *s = g_string_new (NULL);

  for (GList *l = priv->stderr_tail.head; l; l = l->next)
    {
      if (s->len)
        g_string_append (s, " | ");
      g_string_append (s, l->data);
    }
  return g_string_free (s, FALSE);
}

static void
finish_launch (DpNodeProcess *self,
               GError        *error)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  GTask *task = g_steal_pointer (&priv->launch_task);

  if (priv->timeout)
    {
      g_source_destroy (priv->timeout);
      g_clear_pointer (&priv->timeout, g_source_unref);
    }
  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
fail_before_ready (DpNodeProcess *self)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  g_autofree char *tail = stderr_tail_text (priv);
  GError *error;

  if (priv->pending_error)
    error = g_steal_pointer (&priv->pending_error);
  else if (priv->exit_status == 127 || priv->exit_status == 126)
    error = g_error_new (DP_ERROR, DP_ERROR_NODE_NOT_FOUND,
                         "%s not found or not executable on %s%s%s",
                         priv->raw ? "program" : "dp-node",
                         priv->host, *tail ? ": " : "", tail);
  else
    error = g_error_new (DP_ERROR, DP_ERROR_NODE_EXITED,
                         "node on %s %s before it was ready%s%s", priv->host,
                         priv->exit_reason ? priv->exit_reason : "exited",
                         *tail ? ": " : "", tail);
  finish_launch (self, error);
}

/* ---- output ---- */

static void
mark_eof (DpNodeProcess *self,
          gboolean       out,
          gboolean       err)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  g_mutex_lock (&priv->eof_lock);
  if (out)
    priv->stdout_eof = TRUE;
  if (err)
    priv->stderr_eof = TRUE;
  g_cond_broadcast (&priv->eof_cond);
  g_mutex_unlock (&priv->eof_lock);
}


static gboolean
parse_ready_line (DpNodeProcess  *self,
                  const char     *line,
                  GError        **error)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *obj;

  if (!json_parser_load_from_data (parser, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto bad;
  obj = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (obj, "dp-node", ""), "ready") != 0)
    goto bad;
  priv->port = (guint16) json_object_get_int_member_with_default (obj, "port", 0);
  priv->pid = json_object_get_int_member_with_default (obj, "pid", 0);
  if (priv->port == 0)
    goto bad;
  return TRUE;

bad:
  g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
               "node on %s did not start with a ready line (got \"%.80s\")",
               priv->host, line);
  return FALSE;
}

/* One line of the program's stdout. Returns FALSE when reading is to stop
 * (a bad ready line: the node is being killed). */
static gboolean
handle_stdout_line (DpNodeProcess *self,
                    const char    *line)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  if (!priv->ready && priv->raw)
    {
      /* the wrapper's first line: the program's pid ($$ before exec) */
      priv->pid = g_ascii_strtoll (line, NULL, 10);
      priv->ready = TRUE;
      finish_launch (self, NULL);
    }
  else if (!priv->ready)
    {
      GError *perr = NULL;
      if (!parse_ready_line (self, line, &perr))
        {
          finish_launch (self, perr);
          dp_node_process_terminate (self, TRUE);
          return FALSE;
        }
      priv->ready = TRUE;
      finish_launch (self, NULL);
    }
  else
    {
      g_signal_emit (self, signals[SIGNAL_OUTPUT], 0, 1, line);
      switch (dp_spawn_options_get_output (priv->options))
        {
        case DP_SPAWN_OUTPUT_STDOUT:
          g_print ("%s\n", line);
          fflush (stdout);
          break;
        case DP_SPAWN_OUTPUT_STDERR:
          g_printerr ("%s\n", line);
          break;
        case DP_SPAWN_OUTPUT_LOG:
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                            "DP_NODE", priv->host,
                            "MESSAGE", "[%s:%u] %s", priv->host, priv->port, line);
          break;
        case DP_SPAWN_OUTPUT_DISCARD:
        default:
          break;
        }
    }
  return TRUE;
}

static void handle_stderr_line (DpNodeProcess *self, const char *line);

/* The program's stdout (1) or stderr (2): fd, line buffer, source */
static int *
stream_fd (DpNodeProcessPrivate *priv, int which)
{
  return which == 1 ? &priv->out_fd : &priv->err_fd;
}

static GString *
stream_buf (DpNodeProcessPrivate *priv, int which)
{
  return which == 1 ? priv->out_buf : priv->err_buf;
}

static GSource **
stream_source (DpNodeProcessPrivate *priv, int which)
{
  return which == 1 ? &priv->out_source : &priv->err_source;
}

static void
stop_stream (DpNodeProcess *self,
             int            which)
{
  GSource *source = g_steal_pointer (stream_source (PRIV (self), which));

  if (source)
    {
      g_source_destroy (source);
      g_source_unref (source);     /* drops the source's ref on @self last */
    }
}

static gboolean
handle_line (DpNodeProcess *self,
             int            which,
             const char    *line)
{
  if (which == 1)
    return handle_stdout_line (self, line);
  handle_stderr_line (self, line);
  return TRUE;
}

/* Reads everything the program's stdout or stderr has for us now, without
 * blocking, and handles each complete line. Returns FALSE at EOF or when
 * reading is to stop. */
static gboolean
drain_stream (DpNodeProcess *self,
              int            which)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  int fd = *stream_fd (priv, which);
  GString *acc = stream_buf (priv, which);
  char buf[16384];

  for (;;)
    {
      gssize n = read (fd, buf, sizeof buf);
      char *nl;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return TRUE;
      if (n <= 0)
        {
          /* EOF (or broken): a last line without its newline, then done */
          if (acc->len > 0)
            handle_line (self, which, acc->str);
          g_string_truncate (acc, 0);
          mark_eof (self, which == 1, which == 2);
          if (which == 2 && priv->exited && priv->launch_task)
            fail_before_ready (self);
          return FALSE;
        }
      g_string_append_len (acc, buf, n);
      while ((nl = memchr (acc->str, '\n', acc->len)) != NULL)
        {
          gsize len = nl - acc->str;
          g_autofree char *line = g_strndup (acc->str, len);
          if (len > 0 && line[len - 1] == '\r')
            line[len - 1] = '\0';
          g_string_erase (acc, 0, len + 1);
          if (!g_utf8_validate (line, -1, NULL))
            {
              char *valid = g_utf8_make_valid (line, -1);
              g_free (line);
              line = valid;
            }
          if (!handle_line (self, which, line))
            return FALSE;
        }
    }
}

static gboolean
stdout_readable (gint         fd,
                 GIOCondition condition,
                 gpointer     user_data)
{
  DpNodeProcess *self = user_data;
  DpNodeProcessPrivate *priv = PRIV (self);

  if (drain_stream (self, 1))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&priv->out_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static gboolean
stderr_readable (gint         fd,
                 GIOCondition condition,
                 gpointer     user_data)
{
  DpNodeProcess *self = user_data;
  DpNodeProcessPrivate *priv = PRIV (self);

  if (drain_stream (self, 2))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&priv->err_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
read_stream (DpNodeProcess *self,
             int            which)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  int fd = *stream_fd (priv, which);
  GSource *source;

  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  source = g_unix_fd_source_new (fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void))
                         (which == 1 ? stdout_readable : stderr_readable),
                         g_object_ref (self), g_object_unref);
  g_source_attach (source, g_main_context_get_thread_default ());
  *stream_source (priv, which) = source;
}

/* Router thread: hands on what the program printed before now (the node
 * wrote it before the frame being handled was sent, or before it died). */
void
dp_node_process_drain_output (DpNodeProcess *self)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  if (priv->out_source && !drain_stream (self, 1))
    stop_stream (self, 1);
}

/* Router thread: reads what the program wrote on its stderr before now;
 * a crash report among it is then known (dp_node_process_get_crash()) */
void
dp_node_process_drain_errors (DpNodeProcess *self)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  if (priv->err_source && !drain_stream (self, 2))
    stop_stream (self, 2);
}

/* A node's crash report (dp-place.c writes it from its crash handler):
 *   error: crash pid=P channel=C signal=N: … */
static void
parse_crash_line (DpNodeProcess *self,
                  const char    *line)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  gint64 pid;
  guint64 channel, sig;
  char *end;

  if (priv->crashed || !g_str_has_prefix (line, "error: crash pid="))
    return;
  pid = g_ascii_strtoll (line + strlen ("error: crash pid="), &end, 10);
  if (!g_str_has_prefix (end, " channel="))
    return;
  channel = g_ascii_strtoull (end + strlen (" channel="), &end, 10);
  if (!g_str_has_prefix (end, " signal="))
    return;
  sig = g_ascii_strtoull (end + strlen (" signal="), &end, 10);
  /* an isolated place's process writes on the same stderr: only the
   * node's own report is the node's crash */
  if (*end != ':' || pid != priv->pid || channel > G_MAXUINT32 || sig == 0 || sig > 64)
    return;
  priv->crashed = TRUE;
  priv->crash_channel = (guint32) channel;
  priv->crash_signal = (int) sig;
}

gboolean
dp_node_process_get_crash (DpNodeProcess *self,
                           guint32       *channel,
                           int           *signal_number)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  if (!priv->crashed)
    return FALSE;
  *channel = priv->crash_channel;
  *signal_number = priv->crash_signal;
  return TRUE;
}

static void
handle_stderr_line (DpNodeProcess *self,
                    const char    *line)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  g_queue_push_tail (&priv->stderr_tail, g_strdup (line));
  while (priv->stderr_tail.length > STDERR_TAIL_LINES)
    g_free (g_queue_pop_head (&priv->stderr_tail));
  g_signal_emit (self, signals[SIGNAL_OUTPUT], 0, 2, line);
  if (priv->raw)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                      "DP_NODE", priv->host,
                      "DP_EVENT", "process-stderr",
                      "MESSAGE", "process %" G_GINT64_FORMAT " on %s: %s", priv->pid, priv->host, line);
  else
  {
    /* dp-node writes "LEVEL: message"; log it at that level, naming the
     * node. A node's "error" (its own fatal condition; the node is gone or
     * going) is a warning here; a "critical" (a programming error in the
     * node or a place) stays critical, so that tests catch it. */
    static const struct { const char *prefix; GLogLevelFlags level; } levels[] = {
      { "error: ", G_LOG_LEVEL_WARNING }, { "critical: ", G_LOG_LEVEL_CRITICAL },
      { "warning: ", G_LOG_LEVEL_WARNING }, { "message: ", G_LOG_LEVEL_MESSAGE },
      { "info: ", G_LOG_LEVEL_INFO }, { "debug: ", G_LOG_LEVEL_DEBUG },
    };
    GLogLevelFlags level = G_LOG_LEVEL_MESSAGE;
    const char *text = line;
    g_autofree char *node = priv->port ? g_strdup_printf ("%s:%u", priv->host, priv->port)
                                       : g_strdup (priv->host);

    parse_crash_line (self, line);
    for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
      if (g_str_has_prefix (line, levels[i].prefix))
        {
          level = levels[i].level;
          text = line + strlen (levels[i].prefix);
          break;
        }
    g_log_structured (G_LOG_DOMAIN, level,
                      "DP_NODE", node,
                      "DP_EVENT", "node-log",
                      "MESSAGE", "node %s: %s", node, text);
  }
}

static gboolean
ready_timed_out (gpointer user_data)
{
  DpNodeProcess *self = user_data;
  DpNodeProcessPrivate *priv = PRIV (self);
  g_autofree char *tail = stderr_tail_text (priv);

  g_clear_pointer (&priv->timeout, g_source_unref);
  finish_launch (self, g_error_new (DP_ERROR, DP_ERROR_TIMED_OUT,
                                    "node on %s did not report ready within %u ms%s%s",
                                    priv->host,
                                    dp_spawn_options_get_ready_timeout (priv->options),
                                    *tail ? ": " : "", tail));
  dp_node_process_terminate (self, TRUE);
  return G_SOURCE_REMOVE;
}

/* ---- API ---- */

void
dp_node_process_launch_async (DpNodeProcess        *self,
                              GBytes               *secret,
                              guint16               port,
                              gdouble               hb_interval,
                              gdouble               hb_timeout,
                              const DpSpawnOptions *options,
                              GCancellable         *cancellable,
                              GAsyncReadyCallback   callback,
                              gpointer              user_data)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  const char *listen = NULL;
  const char * const *dirs;

  g_return_if_fail (priv->launch_task == NULL);

  priv->options = options ? dp_spawn_options_copy (options) : dp_spawn_options_new ();
  priv->secret = g_bytes_ref (secret);
  priv->launch_task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (priv->launch_task, dp_node_process_launch_async);

  listen = dp_spawn_options_get_listen_address (priv->options);
  if (listen == NULL)
    listen = _dp_host_spec_is_local (priv->spec) ? "127.0.0.1" : "0.0.0.0";

  g_ptr_array_add (argv, dp_find_node_program (priv->options));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, strchr (listen, ':')
                         ? g_strdup_printf ("[%s]:%u", listen, port)
                         : g_strdup_printf ("%s:%u", listen, port));
  g_ptr_array_add (argv, g_strdup ("--secret-stdin"));
  /* the master's heartbeats on the node's every connection, those to other
   * nodes too: a host that stops answering is lost to them within the
   * timeout the master holds it to (not the node's default) */
  {
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    g_ptr_array_add (argv, g_strdup ("--heartbeat-interval"));
    g_ptr_array_add (argv, g_strdup (g_ascii_dtostr (buf, sizeof buf, hb_interval)));
    g_ptr_array_add (argv, g_strdup ("--heartbeat-timeout"));
    g_ptr_array_add (argv, g_strdup (g_ascii_dtostr (buf, sizeof buf, hb_timeout)));
  }
  if (priv->tls_mode != DP_TLS_AUTO)
    g_ptr_array_add (argv, g_strdup (priv->tls_mode == DP_TLS_ON ? "--tls=on" : "--tls=off"));
  if (priv->tls_line)
    g_ptr_array_add (argv, g_strdup ("--tls-stdin"));   /* the line itself goes on stdin */
  /* no --advertise: a node listening on a wildcard names itself in channel
   * references by the address this master reaches it at (an ssh alias
   * such as the spec's host may mean nothing to the other nodes) */
  dirs = dp_spawn_options_get_plugin_dirs (priv->options);
  for (guint i = 0; dirs && dirs[i]; i++)
    {
      g_ptr_array_add (argv, g_strdup ("--plugin-dir"));
      g_ptr_array_add (argv, g_strdup (dirs[i]));
    }
  g_ptr_array_add (argv, NULL);

  if (dp_spawn_options_get_ready_timeout (priv->options) > 0)
    {
      priv->timeout = g_timeout_source_new (dp_spawn_options_get_ready_timeout (priv->options));
      g_source_set_callback (priv->timeout, ready_timed_out, self, NULL);
      g_source_attach (priv->timeout, g_main_context_get_thread_default ());
    }

  DP_NODE_PROCESS_GET_CLASS (self)->start (self, (const char * const *) argv->pdata,
                                           priv->cancellable);
}

/* Runs any program (supervise-process-at): @argv as given, through
 * `/bin/sh -c 'echo $$; exec "$@"'` so that its pid arrives first on its
 * stdout, wherever it runs (the shell then execs the program under that
 * pid); no secret, no ready line. The launch completes when the pid line
 * arrives, or fails when the program cannot be run. */
void
dp_node_process_run_async (DpNodeProcess        *self,
                           const char * const   *argv,
                           const DpSpawnOptions *options,
                           GCancellable         *cancellable,
                           GAsyncReadyCallback   callback,
                           gpointer              user_data)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  g_autoptr(GPtrArray) full = g_ptr_array_new ();

  g_return_if_fail (priv->launch_task == NULL);
  g_return_if_fail (argv != NULL && argv[0] != NULL);

  priv->raw = TRUE;
  priv->options = options ? dp_spawn_options_copy (options) : dp_spawn_options_new ();
  priv->launch_task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (priv->launch_task, dp_node_process_run_async);

  g_ptr_array_add (full, (gpointer) "/bin/sh");
  g_ptr_array_add (full, (gpointer) "-c");
  /* a program that cannot be run fails the launch (127), before the pid */
  g_ptr_array_add (full, (gpointer)
                   "case $1 in "
                   "*/*) [ -f \"$1\" ] && [ -x \"$1\" ] || { echo \"$1: not found or not executable\" >&2; exit 127; } ;; "
                   "*) command -v \"$1\" >/dev/null || { echo \"$1: not found\" >&2; exit 127; } ;; "
                   "esac; echo $$; exec \"$@\"");
  g_ptr_array_add (full, (gpointer) "dp-process");
  for (gsize i = 0; argv[i]; i++)
    g_ptr_array_add (full, (gpointer) argv[i]);
  g_ptr_array_add (full, NULL);

  if (dp_spawn_options_get_ready_timeout (priv->options) > 0)
    {
      priv->timeout = g_timeout_source_new (dp_spawn_options_get_ready_timeout (priv->options));
      g_source_set_callback (priv->timeout, ready_timed_out, self, NULL);
      g_source_attach (priv->timeout, g_main_context_get_thread_default ());
    }
  DP_NODE_PROCESS_GET_CLASS (self)->start (self, (const char * const *) full->pdata,
                                           priv->cancellable);
}

/* Any thread but the router's: waits until the program's stdout and stderr
 * have ended (all it printed has been forwarded), at most @timeout_us. */
gboolean
dp_node_process_wait_output (DpNodeProcess *self,
                             gint64         timeout_us)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  gint64 end = g_get_monotonic_time () + timeout_us;
  gboolean done;

  g_mutex_lock (&priv->eof_lock);
  while (!(priv->stdout_eof && priv->stderr_eof))
    if (!g_cond_wait_until (&priv->eof_cond, &priv->eof_lock, end))
      break;
  done = priv->stdout_eof && priv->stderr_eof;
  g_mutex_unlock (&priv->eof_lock);
  return done;
}

int
dp_node_process_get_exit_status (DpNodeProcess *self)
{
  return PRIV (self)->exit_status;
}

gboolean
dp_node_process_launch_finish (DpNodeProcess  *self,
                               GAsyncResult   *result,
                               GError        **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
dp_node_process_take_streams (DpNodeProcess *self,
                              GOutputStream *stdin_pipe,
                              GInputStream  *stdout_pipe,
                              GInputStream  *stderr_pipe)
{
  DpNodeProcessPrivate *priv = PRIV (self);
  g_autofree char *hex = NULL;
  g_autofree char *line = NULL;
  g_autoptr(GError) error = NULL;

  priv->stdin_pipe = stdin_pipe;
  priv->out_stream = stdout_pipe;
  priv->out_fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stdout_pipe));
  priv->out_buf = g_string_new (NULL);
  priv->err_stream = stderr_pipe;
  priv->err_fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stderr_pipe));
  priv->err_buf = g_string_new (NULL);

  read_stream (self, 1);
  read_stream (self, 2);
  if (priv->raw)
    return;

  hex = dp_secret_to_string (priv->secret);
  line = g_strconcat (hex, "\n", NULL);
  /* 65 bytes into an empty pipe never blocks */
  if (!g_output_stream_write_all (priv->stdin_pipe, line, strlen (line), NULL, NULL, &error) ||
      !g_output_stream_flush (priv->stdin_pipe, NULL, &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                      "MESSAGE", "could not hand the secret to the node on %s: %s",
                      priv->host, error->message);
  memset (line, 0, strlen (line));
  memset (hex, 0, strlen (hex));
  /* the node's TLS certificate and key, and the CA's certificate: a line
   * of a few KiB, into a pipe that holds 64 KiB */
  if (priv->tls_line && error == NULL &&
      (!g_output_stream_write_all (priv->stdin_pipe, priv->tls_line, strlen (priv->tls_line),
                                   NULL, NULL, &error) ||
       !g_output_stream_flush (priv->stdin_pipe, NULL, &error)))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                      "MESSAGE", "could not hand the TLS credentials to the node on %s: %s",
                      priv->host, error->message);
  if (priv->tls_line)
    memset (priv->tls_line, 0, strlen (priv->tls_line));
  g_clear_pointer (&priv->tls_line, g_free);
}

/* Before launching: the --tls the node gets, and the credentials line
 * written after the secret (NULL: none, the node has no TLS credentials) */
void
_dp_node_process_set_tls (DpNodeProcess *self,
                          DpTlsMode      mode,
                          const char    *line)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  priv->tls_mode = mode;
  g_free (priv->tls_line);
  priv->tls_line = g_strdup (line);
}

void
dp_node_process_start_failed (DpNodeProcess *self,
                              GError        *error)
{
  mark_eof (self, TRUE, TRUE);
  PRIV (self)->exited = TRUE;
  finish_launch (self, error);
}

void
dp_node_process_notify_exited (DpNodeProcess *self,
                               int            status,
                               const char    *reason)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  if (priv->exited)
    return;
  priv->exited = TRUE;
  priv->exit_status = status;
  priv->exit_reason = g_strdup (reason);
  if (priv->launch_task)
    {
      if (priv->stderr_eof || priv->err_stream == NULL)
        fail_before_ready (self);
      /* else: once the rest of its stderr is read (drain_stream) */
    }
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_EXITED], 0, status, reason);
  g_object_unref (self);
}

void
dp_node_process_terminate (DpNodeProcess *self,
                           gboolean       force)
{
  DpNodeProcessPrivate *priv = PRIV (self);

  if (priv->stdin_pipe)
    g_output_stream_close (priv->stdin_pipe, NULL, NULL);
  if (DP_NODE_PROCESS_GET_CLASS (self)->terminate)
    DP_NODE_PROCESS_GET_CLASS (self)->terminate (self, force);
}

const DpSpawnOptions *
dp_node_process_get_options (DpNodeProcess *self)
{
  return PRIV (self)->options;
}

gboolean
_dp_node_process_is_raw (DpNodeProcess *self)
{
  return PRIV (self)->raw;
}

const char *
dp_node_process_get_host (DpNodeProcess *self)
{
  return PRIV (self)->host;
}

guint16
dp_node_process_get_port (DpNodeProcess *self)
{
  return PRIV (self)->port;
}

gint64
dp_node_process_get_pid (DpNodeProcess *self)
{
  return PRIV (self)->pid;
}

gboolean
dp_node_process_has_exited (DpNodeProcess *self)
{
  return PRIV (self)->exited;
}

const char *
dp_node_process_get_exit_reason (DpNodeProcess *self)
{
  return PRIV (self)->exit_reason;
}

/* Immutable after construction: any thread */
const DpHostSpec *
_dp_node_process_get_host_spec (DpNodeProcess *self)
{
  return PRIV (self)->spec;
}

/* Router thread, after the launch finished */
const char *
_dp_node_process_get_address (DpNodeProcess *self)
{
  return DP_NODE_PROCESS_GET_CLASS (self)->get_address (self);
}
