/* dp-spawned-process.h: a supervised OS process, here or over ssh
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <gio/gio.h>
#include "dp-version-macros.h"
#include "dp-node.h"
#include "dp-spawn-options.h"

G_BEGIN_DECLS

/**
 * DpSpawnedProcess:
 *
 * Any program run here or on another host over ssh and supervised: the
 * seed's `supervise-process-at` and `spawned-process%`. It gives the
 * program's pid (on its own host), each line it prints
 * (#DpSpawnedProcess::output) and its exit status
 * (#DpSpawnedProcess::exited), and can wait for it or kill it. It is
 * started by the same spawner as nodes, so the same #DpSpawnOptions and
 * ssh settings apply.
 *
 * Threads: the object may be used from any thread; signals are emitted in
 * the thread-default main context in which the spawn was started.
 *
 * ```c
 * const char *argv[] = { "make", "-C", "/src", NULL };
 * g_autoptr(DpSpawnedProcess) p = dp_supervise_process_at (router, "build7", argv, NULL, &error);
 *
 * g_signal_connect (p, "output", G_CALLBACK (on_line), NULL);   // (p, fd, line, data)
 * dp_spawned_process_wait (p, -1);
 * g_print ("make: %s\n", dp_spawned_process_get_exit_reason (p));   // "exited with status 0"
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_SPAWNED_PROCESS (dp_spawned_process_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpSpawnedProcess, dp_spawned_process, DP, SPAWNED_PROCESS, GObject)

DP_AVAILABLE_IN_1_0
void              dp_spawned_process_spawn_async  (DpNode               *router,
                                                   const char           *host,
                                                   const char * const   *argv,
                                                   const DpSpawnOptions *options,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
DP_AVAILABLE_IN_1_0
DpSpawnedProcess *dp_spawned_process_spawn_finish (GAsyncResult  *result,
                                                   GError       **error);
DP_AVAILABLE_IN_1_0
DpSpawnedProcess *dp_supervise_process_at         (DpNode               *router,
                                                   const char           *host,
                                                   const char * const   *argv,
                                                   const DpSpawnOptions *options,
                                                   GError              **error);
DP_AVAILABLE_IN_1_0
gint64            dp_spawned_process_get_pid      (DpSpawnedProcess *self);
DP_AVAILABLE_IN_1_0
const char       *dp_spawned_process_get_host     (DpSpawnedProcess *self);
DP_AVAILABLE_IN_1_0
gboolean          dp_spawned_process_is_running   (DpSpawnedProcess *self);
DP_AVAILABLE_IN_1_0
int               dp_spawned_process_get_exit_status (DpSpawnedProcess *self);
DP_AVAILABLE_IN_1_0
const char       *dp_spawned_process_get_exit_reason (DpSpawnedProcess *self);
DP_AVAILABLE_IN_1_0
gboolean          dp_spawned_process_wait         (DpSpawnedProcess *self,
                                                   gint64            timeout_us);
DP_AVAILABLE_IN_1_0
void              dp_spawned_process_terminate    (DpSpawnedProcess *self);

G_END_DECLS
