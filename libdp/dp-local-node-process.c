/* dp-local-node-process.c: a node started as a child process (GSubprocess)
 *
 * The first backend of DpNodeProcess; _dp_node_process_new_for_host()
 * chooses it for this machine.
 *
 * A node is started with posix_spawn() (GLib takes that path when there is
 * no child-setup function, no working directory and descriptors are not to
 * be closed: G_SUBPROCESS_FLAGS_INHERIT_FDS): no copy of the master's page
 * tables, which costs milliseconds in a large or many-threaded master.
 * Everything libdp and GLib open is close-on-exec, and dp-node closes any
 * other descriptor it was handed before it opens its own
 * (loader/dp-node-main.c). Any other program (supervise-process-at) is
 * spawned with the master's other descriptors closed, as GLib does by
 * default: we do not know what it would do with them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-node-process-private.h"

#include <string.h>
#include <sys/wait.h>


#define DP_TYPE_LOCAL_NODE_PROCESS (dp_local_node_process_get_type ())
G_DECLARE_FINAL_TYPE (DpLocalNodeProcess, dp_local_node_process, DP, LOCAL_NODE_PROCESS, DpNodeProcess)

struct _DpLocalNodeProcess
{
  DpNodeProcess  parent_instance;
  GSubprocess   *subprocess;
};

G_DEFINE_FINAL_TYPE (DpLocalNodeProcess, dp_local_node_process, DP_TYPE_NODE_PROCESS)

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  DpLocalNodeProcess *self = user_data;
  GSubprocess *sp = G_SUBPROCESS (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  int status = -1;

  if (!g_subprocess_wait_finish (sp, result, &error))
    reason = g_strdup_printf ("could not be waited for: %s", error->message);
  else if (g_subprocess_get_if_exited (sp))
    {
      status = g_subprocess_get_exit_status (sp);
      reason = g_strdup_printf ("exited with status %d", status);
    }
  else if (g_subprocess_get_if_signaled (sp))
    {
      int sig = g_subprocess_get_term_sig (sp);
      status = 128 + sig;
      reason = g_strdup_printf ("was killed by signal %d (%s)", sig, g_strsignal (sig));
    }
  else
    reason = g_strdup ("ended");

  dp_node_process_notify_exited (DP_NODE_PROCESS (self), status, reason);
  g_object_unref (self);
}

/* After a failed spawn: whether @program is there to be run. (posix_spawn()
 * failures come from GLib as G_SPAWN_ERROR_FAILED whatever the errno.) */
static gboolean
program_exists (const char *program)
{
  g_autofree char *found = NULL;

  if (strchr (program, G_DIR_SEPARATOR) != NULL)
    return g_file_test (program, G_FILE_TEST_IS_REGULAR) &&
           g_file_test (program, G_FILE_TEST_IS_EXECUTABLE);
  found = g_find_program_in_path (program);
  return found != NULL;
}

static void
local_start (DpNodeProcess      *process,
             const char * const *argv,
             GCancellable       *cancellable)
{
  DpLocalNodeProcess *self = DP_LOCAL_NODE_PROCESS (process);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE |
                                        (_dp_node_process_is_raw (process)
                                         ? 0 : G_SUBPROCESS_FLAGS_INHERIT_FDS));
  self->subprocess = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (self->subprocess == NULL)
    {
      int code = DP_ERROR_SPAWN_FAILED;
      if (g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT) ||
          g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_ACCES) ||
          g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOEXEC) ||
          !program_exists (argv[0]))
        code = DP_ERROR_NODE_NOT_FOUND;
      dp_node_process_start_failed (process,
                                    g_error_new (DP_ERROR, code,
                                                 "dp-node not found or not executable on %s: %s: %s",
                                                 dp_node_process_get_host (process),
                                                 argv[0], error->message));
      return;
    }
  g_subprocess_wait_async (self->subprocess, NULL, wait_cb, g_object_ref (self));
  dp_node_process_take_streams (process,
                                g_object_ref (g_subprocess_get_stdin_pipe (self->subprocess)),
                                g_object_ref (g_subprocess_get_stdout_pipe (self->subprocess)),
                                g_object_ref (g_subprocess_get_stderr_pipe (self->subprocess)));
}

static void
local_terminate (DpNodeProcess *process,
                 gboolean       force)
{
  DpLocalNodeProcess *self = DP_LOCAL_NODE_PROCESS (process);

  if (force && self->subprocess)
    g_subprocess_force_exit (self->subprocess);
}

/* the listen address it was given, unless that is "any" */
static const char *
local_get_address (DpNodeProcess *process)
{
  const DpSpawnOptions *options = dp_node_process_get_options (process);
  const char *listen = options ? dp_spawn_options_get_listen_address (options) : NULL;

  if (listen && g_strcmp0 (listen, "0.0.0.0") != 0)
    return listen;
  return "127.0.0.1";
}

static void
dp_local_node_process_finalize (GObject *object)
{
  DpLocalNodeProcess *self = DP_LOCAL_NODE_PROCESS (object);

  g_clear_object (&self->subprocess);
  G_OBJECT_CLASS (dp_local_node_process_parent_class)->finalize (object);
}

static void
dp_local_node_process_class_init (DpLocalNodeProcessClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_local_node_process_finalize;
  DP_NODE_PROCESS_CLASS (klass)->start = local_start;
  DP_NODE_PROCESS_CLASS (klass)->terminate = local_terminate;
  DP_NODE_PROCESS_CLASS (klass)->get_address = local_get_address;
}

static void
dp_local_node_process_init (DpLocalNodeProcess *self)
{
}
