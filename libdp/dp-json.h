/* dp-json.h: messages as JSON, for people and configs
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
char     *dp_variant_to_json   (GVariant    *value);
DP_AVAILABLE_IN_1_0
GVariant *dp_variant_from_json (const char  *json,
                                const char  *signature,
                                GError     **error);

G_END_DECLS
