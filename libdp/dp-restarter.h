/* dp-restarter.h: restart-every, a rate-limited restart policy
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib-object.h>
#include "dp-version-macros.h"

G_BEGIN_DECLS

/**
 * DpRestarter:
 *
 * A restart policy that limits how often something is restarted: the
 * seed's `restart-every`. A request made less than #DpRestarter:seconds
 * after the previous restart waits until that much time has passed; after
 * `retry` restarts the restarter gives up and emits
 * #DpRestarter::final-fail. The count starts again when a request comes
 * more than twice #DpRestarter:seconds after the previous restart (the
 * thing stayed up that long). Times are libdp time (see dp_now()).
 *
 * Threads: requests may be made from any thread; the restart functions,
 * timers and signals run in the thread-default main context of the thread
 * that created the restarter.
 *
 * ```c
 * // at most one restart per 5 s, 3 restarts, then on_final_fail (r, data)
 * g_autoptr(DpRestarter) r = dp_restart_every (5, 3, G_CALLBACK (on_final_fail), data);
 *
 * dp_remote_connection_set_restarter (place, r);    // or dp_remote_node_set_restarter (node, r)
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_RESTARTER (dp_restarter_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpRestarter, dp_restarter, DP, RESTARTER, GObject)

/**
 * DpRestartFunc:
 * @attempt: 1 for the first restart, 2 for the second…
 * @user_data: data given with the request
 *
 * Does one restart.
 *
 * |[<!-- language="C" -->
 * static void
 * bring_back (guint attempt, gpointer node)
 * {
 *   g_print ("restart %u\n", attempt);
 *   dp_remote_node_restart (node);
 * }
 *
 * dp_remote_node_set_restart_func (node, bring_back, node, NULL);
 * ]|
 *
 * Since: 1.0
 */
typedef void (*DpRestartFunc) (guint attempt, gpointer user_data);

DP_AVAILABLE_IN_1_0
DpRestarter *dp_restarter_new         (gdouble        seconds,
                                       gint           retry);
DP_AVAILABLE_IN_1_0
DpRestarter *dp_restart_every         (gdouble        seconds,
                                       gint           retry,
                                       GCallback      on_final_fail,
                                       gpointer       user_data);
DP_AVAILABLE_IN_1_0
void         dp_restarter_request     (DpRestarter   *self,
                                       DpRestartFunc  restart,
                                       gpointer       user_data,
                                       GDestroyNotify notify);
DP_AVAILABLE_IN_1_0
void         dp_restarter_cancel      (DpRestarter   *self);
DP_AVAILABLE_IN_1_0
gdouble      dp_restarter_get_seconds (DpRestarter   *self);
DP_AVAILABLE_IN_1_0
gint         dp_restarter_get_retry   (DpRestarter   *self);
DP_AVAILABLE_IN_1_0
guint        dp_restarter_get_retries (DpRestarter   *self);
DP_AVAILABLE_IN_1_0
gboolean     dp_restarter_has_given_up (DpRestarter  *self);

G_END_DECLS
