/* dp-spawned-process.c: supervise-process-at, a supervised OS process
 *
 * The seed's `spawned-process%` / `supervise-process-at`: any program, run
 * on this machine or on another one over ssh, by the same spawner that
 * starts nodes (DpNodeProcess in its "run" mode). The master learns its pid,
 * sees its output and gets its exit status; the process is killed when its
 * DpSpawnedProcess is released.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-node-process-private.h"

struct _DpSpawnedProcess
{
  GObject         parent_instance;

  DpNode         *router;
  GMainContext   *owner_context;
  char           *host;
  DpNodeProcess  *process;        /* router thread */

  GMutex          lock;
  GCond           cond;
  gint64          pid;
  gboolean        running;
  gboolean        exited;
  int             exit_status;
  char           *exit_reason;
};

enum {
  SIGNAL_EXITED,
  SIGNAL_OUTPUT,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (DpSpawnedProcess, dp_spawned_process, G_TYPE_OBJECT)

static void
detach_in_router (gpointer data)
{
  DpSpawnedProcess *self = data;

  if (self->process)
    {
      g_signal_handlers_disconnect_by_data (self->process, self);
      if (!dp_node_process_has_exited (self->process))
        dp_node_process_terminate (self->process, TRUE);
    }
}

static void
dp_spawned_process_dispose (GObject *object)
{
  DpSpawnedProcess *self = DP_SPAWNED_PROCESS (object);

  if (self->router)
    {
      _dp_node_invoke_sync (self->router, detach_in_router, self);
      g_clear_object (&self->process);
      g_clear_object (&self->router);
    }
  G_OBJECT_CLASS (dp_spawned_process_parent_class)->dispose (object);
}

static void
dp_spawned_process_finalize (GObject *object)
{
  DpSpawnedProcess *self = DP_SPAWNED_PROCESS (object);

  g_main_context_unref (self->owner_context);
  g_free (self->host);
  g_free (self->exit_reason);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (dp_spawned_process_parent_class)->finalize (object);
}

static void
dp_spawned_process_class_init (DpSpawnedProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = dp_spawned_process_dispose;
  object_class->finalize = dp_spawned_process_finalize;

  /**
   * DpSpawnedProcess::exited:
   * @process: the process
   * @status: its exit status; 128 + N when killed by signal N; -1 when
   *   unknown (its ssh session was lost)
   * @reason: "exited with status 3", "was killed by signal 9 (Killed)", …
   *
   * The process ended (or its ssh session was lost). Emitted once, in the
   * main context the process was spawned from.
   *
   * Since: 1.0
   */
  signals[SIGNAL_EXITED] =
    g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
  /**
   * DpSpawnedProcess::output:
   * @process: the process
   * @fd: 1 for its standard output, 2 for its standard error
   * @line: a line it wrote (without the newline)
   *
   * The process wrote a line on its standard output or error. Emitted in
   * the main context the process was spawned from.
   *
   * Since: 1.0
   */
  signals[SIGNAL_OUTPUT] =
    g_signal_new ("output", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static void
dp_spawned_process_init (DpSpawnedProcess *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->exit_status = -1;
  self->owner_context = g_main_context_ref_thread_default ();
}

/* ---- router thread → owner ---- */

typedef struct {
  int   value;
  char *text;
} Emission;

static void
emission_free (gpointer data)
{
  Emission *e = data;

  g_free (e->text);
  g_free (e);
}

static void
emit_exited (gpointer object, gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpSpawnedProcess *) object)->owner_context);
  Emission *e = data;

  g_signal_emit (object, signals[SIGNAL_EXITED], 0, e->value, e->text);
}

static void
emit_output (gpointer object, gpointer data)
{
  DP_ASSERT_OWNER_CONTEXT (((DpSpawnedProcess *) object)->owner_context);
  Emission *e = data;

  g_signal_emit (object, signals[SIGNAL_OUTPUT], 0, e->value, e->text);
}

static void
process_exited (DpNodeProcess *process,
                int            status,
                const char    *reason,
                gpointer       data)
{
  DpSpawnedProcess *self = data;
  Emission *e = g_new0 (Emission, 1);

  g_mutex_lock (&self->lock);
  self->running = FALSE;
  self->exited = TRUE;
  self->exit_status = status;
  self->exit_reason = g_strdup (reason);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "DP_NODE", self->host,
                    "DP_EVENT", "process-exited",
                    "MESSAGE", "process %" G_GINT64_FORMAT " on %s %s", self->pid, self->host, reason);
  e->value = status;
  e->text = g_strdup (reason);
  _dp_object_invoke (self->owner_context, self, emit_exited, e, emission_free);
}

static void
process_output (DpNodeProcess *process,
                int            fd,
                const char    *line,
                gpointer       data)
{
  DpSpawnedProcess *self = data;
  Emission *e = g_new0 (Emission, 1);

  e->value = fd;
  e->text = g_strdup (line);
  _dp_object_invoke (self->owner_context, self, emit_output, e, emission_free);
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GTask *task = user_data;
  DpSpawnedProcess *self = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!dp_node_process_launch_finish (DP_NODE_PROCESS (source), result, &error))
    {
      g_signal_handlers_disconnect_by_data (self->process, self);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  g_mutex_lock (&self->lock);
  self->pid = dp_node_process_get_pid (self->process);
  self->running = !self->exited;
  g_mutex_unlock (&self->lock);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_NODE", self->host,
                    "DP_EVENT", "process-started",
                    "MESSAGE", "process %" G_GINT64_FORMAT " started on %s", self->pid, self->host);
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
  g_object_unref (task);
}

typedef struct {
  char           **argv;
  DpSpawnOptions  *options;
} RunArgs;

static void
run_args_free (RunArgs *a)
{
  g_strfreev (a->argv);
  dp_spawn_options_free (a->options);
  g_free (a);
}

static void
spawn_in_router (gpointer data)
{
  GTask *task = data;
  DpSpawnedProcess *self = g_task_get_task_data (task);
  RunArgs *a = g_object_get_data (G_OBJECT (task), "dp-run-args");
  GError *error = NULL;

  self->process = _dp_node_process_new_for_host (self->host, a->options, &error);
  if (self->process == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_signal_connect (self->process, "exited", G_CALLBACK (process_exited), self);
  g_signal_connect (self->process, "output", G_CALLBACK (process_output), self);
  dp_node_process_run_async (self->process, (const char * const *) a->argv, a->options,
                             g_task_get_cancellable (task), run_done, task);
}

/**
 * dp_spawned_process_spawn_async:
 * @router: the master's #DpNode
 * @host: where: `localhost` (a child process) or a host for ssh, as for
 *   dp_remote_node_spawn_async()
 * @argv: (array zero-terminated=1): the program and its arguments; over
 *   ssh each is quoted for the remote shell
 * @options: (nullable): how to spawn (method, ssh settings, output mode,
 *   the start timeout)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the program runs, or failed to start
 * @user_data: data for @callback
 *
 * Starts a supervised OS process (`supervise-process-at`,
 * `spawned-process%`). Its output goes where @options say (by default to
 * our stdout) and to #DpSpawnedProcess::output; its end is
 * #DpSpawnedProcess::exited with the exit status.
 *
 * Since: 1.0
 */
static void
spawn_full (DpNode               *router,
            const char           *host,
            const char * const   *argv,
            const DpSpawnOptions *options,
            GMainContext         *owner,
            GCancellable         *cancellable,
            GAsyncReadyCallback   callback,
            gpointer              user_data)
{
  DpSpawnedProcess *self;
  RunArgs *a;
  GTask *task;

  self = g_object_new (DP_TYPE_SPAWNED_PROCESS, NULL);
  /* signals go to @owner from the very first one */
  g_main_context_unref (self->owner_context);
  self->owner_context = g_main_context_ref (owner);
  self->router = g_object_ref (router);
  self->host = g_strdup (host ? host : "localhost");
  a = g_new0 (RunArgs, 1);
  a->argv = g_strdupv ((char **) argv);
  a->options = options ? dp_spawn_options_copy (options) : dp_spawn_options_new ();

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, dp_spawned_process_spawn_async);
  g_task_set_task_data (task, self, g_object_unref);
  g_object_set_data_full (G_OBJECT (task), "dp-run-args", a, (GDestroyNotify) run_args_free);
  _dp_node_invoke (router, spawn_in_router, task, NULL);
}

void
dp_spawned_process_spawn_async (DpNode               *router,
                                const char           *host,
                                const char * const   *argv,
                                const DpSpawnOptions *options,
                                GCancellable         *cancellable,
                                GAsyncReadyCallback   callback,
                                gpointer              user_data)
{
  g_autoptr(GMainContext) owner = g_main_context_ref_thread_default ();

  g_return_if_fail (DP_IS_NODE (router));
  g_return_if_fail (argv != NULL && argv[0] != NULL);
  spawn_full (router, host, argv, options, owner, cancellable, callback, user_data);
}

/**
 * dp_spawned_process_spawn_finish:
 * @result: the #GAsyncResult
 * @error: return location for a #GError (%DP_ERROR_NODE_NOT_FOUND when the
 *   program does not exist, the ssh errors of dp_remote_node_spawn_async())
 *
 * Finishes dp_spawned_process_spawn_async().
 *
 * Returns: (transfer full) (nullable): the running process
 *
 * Since: 1.0
 */
DpSpawnedProcess *
dp_spawned_process_spawn_finish (GAsyncResult  *result,
                                 GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  DpNode               *router;
  const char           *host;
  const char * const   *argv;
  const DpSpawnOptions *options;
  GMainContext         *owner;
} SyncArgs;

static void
sync_start (gpointer data, GAsyncReadyCallback cb, gpointer user_data)
{
  SyncArgs *a = data;

  spawn_full (a->router, a->host, a->argv, a->options, a->owner, NULL, cb, user_data);
}

/**
 * dp_supervise_process_at:
 * @router: the master's #DpNode
 * @host: where
 * @argv: (array zero-terminated=1): the program and its arguments
 * @options: (nullable): how to spawn
 * @error: return location for a #GError
 *
 * The seed's `supervise-process-at`: dp_spawned_process_spawn_async(),
 * waiting until the program runs.
 *
 * Returns: (transfer full) (nullable): the running process
 *
 * Since: 1.0
 */
DpSpawnedProcess *
dp_supervise_process_at (DpNode               *router,
                         const char           *host,
                         const char * const   *argv,
                         const DpSpawnOptions *options,
                         GError              **error)
{
  g_autoptr(GMainContext) owner = g_main_context_ref_thread_default ();
  SyncArgs a = { router, host, argv, options, owner };
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (DP_IS_NODE (router), NULL);
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);
  result = _dp_run_sync (sync_start, &a);
  return dp_spawned_process_spawn_finish (result, error);
}

/**
 * dp_spawned_process_get_pid:
 * @self: a #DpSpawnedProcess
 *
 * The process id on its host.
 *
 * Returns: the pid
 *
 * Since: 1.0
 */
gint64
dp_spawned_process_get_pid (DpSpawnedProcess *self)
{
  gint64 pid;

  g_return_val_if_fail (DP_IS_SPAWNED_PROCESS (self), 0);
  g_mutex_lock (&self->lock);
  pid = self->pid;
  g_mutex_unlock (&self->lock);
  return pid;
}

/**
 * dp_spawned_process_get_host:
 * @self: a #DpSpawnedProcess
 *
 * The host the process runs on, as given to
 * dp_spawned_process_spawn_async().
 *
 * Returns: the host
 *
 * Since: 1.0
 */
const char *
dp_spawned_process_get_host (DpSpawnedProcess *self)
{
  g_return_val_if_fail (DP_IS_SPAWNED_PROCESS (self), NULL);
  return self->host;
}

/**
 * dp_spawned_process_is_running:
 * @self: a #DpSpawnedProcess
 *
 * Whether the process still runs (#DpSpawnedProcess::exited not yet
 * emitted).
 *
 * Returns: %TRUE while it does
 *
 * Since: 1.0
 */
gboolean
dp_spawned_process_is_running (DpSpawnedProcess *self)
{
  gboolean r;

  g_return_val_if_fail (DP_IS_SPAWNED_PROCESS (self), FALSE);
  g_mutex_lock (&self->lock);
  r = self->running;
  g_mutex_unlock (&self->lock);
  return r;
}

/**
 * dp_spawned_process_get_exit_status:
 * @self: a #DpSpawnedProcess
 *
 * The process's exit status.
 *
 * Returns: the exit status once it exited (128 + N after signal N), -1
 *   while it runs or when it is not known
 *
 * Since: 1.0
 */
int
dp_spawned_process_get_exit_status (DpSpawnedProcess *self)
{
  int r;

  g_return_val_if_fail (DP_IS_SPAWNED_PROCESS (self), -1);
  g_mutex_lock (&self->lock);
  r = self->exited ? self->exit_status : -1;
  g_mutex_unlock (&self->lock);
  return r;
}

/**
 * dp_spawned_process_get_exit_reason:
 * @self: a #DpSpawnedProcess
 *
 * How the process ended, in words ("exited with status 3", "was killed by
 * signal 9 (Killed)").
 *
 * Returns: (nullable): how it ended, %NULL while it runs
 *
 * Since: 1.0
 */
const char *
dp_spawned_process_get_exit_reason (DpSpawnedProcess *self)
{
  const char *r;

  g_return_val_if_fail (DP_IS_SPAWNED_PROCESS (self), NULL);
  g_mutex_lock (&self->lock);
  r = self->exit_reason;    /* set once, never changed */
  g_mutex_unlock (&self->lock);
  return r;
}

/**
 * dp_spawned_process_wait:
 * @self: a #DpSpawnedProcess
 * @timeout_us: how long to wait; -1 for ever
 *
 * Blocks until the process has exited.
 *
 * Returns: %TRUE when it has, %FALSE when the time ran out
 *
 * Since: 1.0
 */
gboolean
dp_spawned_process_wait (DpSpawnedProcess *self,
                         gint64            timeout_us)
{
  gint64 end = timeout_us < 0 ? -1 : g_get_monotonic_time () + timeout_us;
  gboolean done;

  g_return_val_if_fail (DP_IS_SPAWNED_PROCESS (self), TRUE);
  g_mutex_lock (&self->lock);
  while (!self->exited)
    {
      if (end < 0)
        g_cond_wait (&self->cond, &self->lock);
      else if (!g_cond_wait_until (&self->cond, &self->lock, end))
        break;
    }
  done = self->exited;
  g_mutex_unlock (&self->lock);
  return done;
}

static void
terminate_in_router (gpointer data)
{
  DpSpawnedProcess *self = data;

  if (self->process && !dp_node_process_has_exited (self->process))
    dp_node_process_terminate (self->process, TRUE);
}

/**
 * dp_spawned_process_terminate:
 * @self: a #DpSpawnedProcess
 *
 * Kills the process (SIGKILL for a local one; over ssh, its session is
 * closed). #DpSpawnedProcess::exited follows.
 *
 * Since: 1.0
 */
void
dp_spawned_process_terminate (DpSpawnedProcess *self)
{
  g_return_if_fail (DP_IS_SPAWNED_PROCESS (self));
  if (self->router)
    _dp_node_invoke (self->router, terminate_in_router, g_object_ref (self), g_object_unref);
}
