/* dp-node-process-private.h: the one spawner abstraction
 *
 * A DpNodeProcess is a running `dp-node` program somewhere: a child process
 * of ours (DpLocalNodeProcess, GSubprocess) or a command run over ssh
 * (DpSshNodeProcess, libssh, in the module dp-ssh.so). The base class owns
 * everything the two have in common: the argument vector, handing the
 * secret over standard input, reading the one ready line, forwarding
 * output, the ready timeout and the "exited" signal. A backend only starts
 * the program and hands over three streams, and later reports the exit.
 *
 * Everything here runs in the router's main context (the thread-default
 * context of the DpNode's router thread).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include "dp-private.h"
#include "dp-spawn-options.h"

G_BEGIN_DECLS

#define DP_TYPE_NODE_PROCESS (dp_node_process_get_type ())
G_DECLARE_DERIVABLE_TYPE (DpNodeProcess, dp_node_process, DP, NODE_PROCESS, GObject)

struct _DpNodeProcessClass
{
  GObjectClass parent_class;

  /* Start @argv (argv[0] is the node program) on the target. Exactly once,
   * later (or before returning), the backend calls either
   * dp_node_process_take_streams() or dp_node_process_start_failed(). */
  void (*start)     (DpNodeProcess       *self,
                     const char * const  *argv,
                     GCancellable        *cancellable);

  /* Make the node go away: close its standard input (the node exits when
   * it closes); with @force, kill it / the session outright. */
  void (*terminate) (DpNodeProcess *self,
                     gboolean       force);

  /* After the launch: the address the node is reached at (loopback or
   * the listen address for a child; the host, or the HostName of an ssh
   * config alias, over ssh). */
  const char * (*get_address) (DpNodeProcess *self);
};

/* Public to the library */
void          dp_node_process_launch_async  (DpNodeProcess        *self,
                                             GBytes               *secret,
                                             guint16               port,
                                             gdouble               hb_interval,
                                             gdouble               hb_timeout,
                                             const DpSpawnOptions *options,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
gboolean      dp_node_process_launch_finish (DpNodeProcess        *self,
                                             GAsyncResult         *result,
                                             GError              **error);
void          dp_node_process_run_async     (DpNodeProcess        *self,
                                             const char * const   *argv,
                                             const DpSpawnOptions *options,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
int           dp_node_process_get_exit_status (DpNodeProcess *self);
gboolean      dp_node_process_wait_output   (DpNodeProcess *self,
                                             gint64         timeout_us);
void          dp_node_process_drain_output  (DpNodeProcess *self);
void          dp_node_process_drain_errors  (DpNodeProcess *self);
/* the node's crash report, once read from its stderr: the channel of the
 * place that crashed (0: none) and the signal */
gboolean      dp_node_process_get_crash     (DpNodeProcess *self,
                                             guint32       *channel,
                                             int           *signal_number);
const char   *dp_node_process_get_host      (DpNodeProcess *self);
guint16       dp_node_process_get_port      (DpNodeProcess *self);
gint64        dp_node_process_get_pid       (DpNodeProcess *self);
gboolean      dp_node_process_has_exited    (DpNodeProcess *self);
const char   *dp_node_process_get_exit_reason (DpNodeProcess *self);
void          dp_node_process_terminate     (DpNodeProcess *self,
                                             gboolean       force);
/* Signal "exited" (int status, const char *reason): status is the exit
 * status of the node program (or -1 when unknown, e.g. a lost session).
 * Signal "output" (int fd, const char *line): a line of its stdout (1) or
 * stderr (2). dp_node_process_launch_finish() also finishes _run_async(). */

/* For backends */
/* @stdout_pipe must be a GUnixInputStream (it is read as a file
 * descriptor, so that it can be drained on demand) */
void          dp_node_process_take_streams  (DpNodeProcess *self,
                                             GOutputStream *stdin_pipe,
                                             GInputStream  *stdout_pipe,
                                             GInputStream  *stderr_pipe);
void          dp_node_process_start_failed  (DpNodeProcess *self,
                                             GError        *error);
void          dp_node_process_notify_exited (DpNodeProcess *self,
                                             int            status,
                                             const char    *reason);
const DpSpawnOptions *dp_node_process_get_options (DpNodeProcess *self);
/* TRUE for any program (dp_node_process_run_async()), FALSE for dp-node */
gboolean      _dp_node_process_is_raw       (DpNodeProcess *self);

/* The one spawner: reads @host (any form of dp-host.c but the node's port)
 * and makes the backend the method of @options asks for, or, with
 * DP_SPAWN_AUTO, a child process for this machine (_dp_host_spec_is_local())
 * and ssh for any other. Fails on a malformed host
 * (DP_ERROR_INVALID_ARGUMENT), and for ssh when its module cannot be loaded
 * (DP_ERROR_SPAWN_FAILED, dp-ssh-module-private.h). */
DpNodeProcess *_dp_node_process_new_for_host (const char           *host,
                                              const DpSpawnOptions *options,
                                              GError              **error);
const DpHostSpec *_dp_node_process_get_host_spec (DpNodeProcess *self);
/* before launching: --tls, and the TLS credentials line for stdin (dp-tls.c) */
void _dp_node_process_set_tls (DpNodeProcess *self, DpTlsMode mode, const char *line);
const char   *_dp_node_process_get_address  (DpNodeProcess *self);

/* The backends (only _dp_node_process_new_for_host() makes them); the
 * ssh one is a module (dp-ssh-module-private.h) */
GType         dp_local_node_process_get_type (void);

/* Helpers */
char         *dp_find_node_program (const DpSpawnOptions *options);

G_END_DECLS
