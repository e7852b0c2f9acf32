/* dp-clock.h: the time every libdp timer runs on
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib.h>
#include "dp-version-macros.h"

G_BEGIN_DECLS

DP_AVAILABLE_IN_1_0
gdouble  dp_time_scale          (void);
DP_AVAILABLE_IN_1_0
void     dp_set_time_scale      (gdouble scale);
DP_AVAILABLE_IN_1_0
gdouble  dp_now                 (void);
DP_AVAILABLE_IN_1_0
void     dp_sleep               (gdouble seconds);
DP_AVAILABLE_IN_1_0
GSource *dp_timeout_source_new  (gdouble seconds);

G_END_DECLS
