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

#define DP_TYPE_RESTARTER (dp_restarter_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpRestarter, dp_restarter, DP, RESTARTER, GObject)

/**
 * DpRestartFunc:
 * @attempt: 1 for the first restart, 2 for the second…
 * @user_data: data given with the request
 *
 * Does one restart.
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
