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
 * |[<!-- language="C" -->
 * #include <libdp/libdp.h>
 *
 * DP_PLUGIN_DEFINE ("hello", "says hello", "1.0", "MIT")
 *
 * // a place function: runs in its own thread on the node
 * DP_PLACE_EXPORT void
 * hello_place (DpPlaceChannel *ch)
 * {
 *   g_autoptr(GVariant) who = dp_place_channel_get (ch);
 *
 *   dp_place_channel_put (ch, g_variant_new_printf ("Hello, %s", g_variant_get_string (who, NULL)));
 * }
 * ]|
 *
 * Since: 1.0
 */
#ifdef __cplusplus
# define DP_PLACE_EXPORT extern "C" __attribute__((visibility ("default")))
#else
# define DP_PLACE_EXPORT __attribute__((visibility ("default")))
#endif

/**
 * DP_MAJOR_VERSION:
 *
 * The major version of the libdp API these headers declare (the 1 of
 * `libdp-1.0`).
 *
 * |[<!-- language="C" -->
 * #if DP_MAJOR_VERSION > 1 || (DP_MAJOR_VERSION == 1 && DP_MINOR_VERSION >= 0)
 *   // the 1.0 API is there
 * #endif
 * ]|
 *
 * Since: 1.0
 */
#define DP_MAJOR_VERSION 1

/**
 * DP_MINOR_VERSION:
 *
 * The minor version of the libdp API these headers declare (the 0 of
 * `libdp-1.0`); see %DP_MAJOR_VERSION.
 *
 * Since: 1.0
 */
#define DP_MINOR_VERSION 0
