/* dp-version-macros.h: symbol visibility and availability for libdp
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib.h>

#if defined(__GNUC__)
# define _DP_EXTERN __attribute__((visibility ("default"))) extern
#else
# define _DP_EXTERN extern
#endif

/**
 * DP_AVAILABLE_IN_1_0:
 *
 * Marks a public symbol that is part of the libdp 1.0 API.
 *
 * Since: 1.0
 */
#define DP_AVAILABLE_IN_1_0 _DP_EXTERN

/**
 * DP_PLACE_EXPORT:
 *
 * Put in front of a place function (`void fn (DpPlaceChannel *ch)`) or a
 * place thunk (`DpPlace *fn (void)`) in a plugin so that the node can find
 * it by name, whatever visibility the plugin is compiled with.
 *
 * Since: 1.0
 */
#ifdef __cplusplus
# define DP_PLACE_EXPORT extern "C" __attribute__((visibility ("default")))
#else
# define DP_PLACE_EXPORT __attribute__((visibility ("default")))
#endif

#define DP_MAJOR_VERSION 1
#define DP_MINOR_VERSION 0
