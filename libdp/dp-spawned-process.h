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
