/* dp-plugin.h: what a place plugin declares about itself
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

/**
 * DP_PLUGIN_ABI_MAJOR:
 *
 * The plugin ABI major version. A node refuses a plugin whose descriptor
 * names another major version.
 */
#define DP_PLUGIN_ABI_MAJOR 1
/**
 * DP_PLUGIN_ABI_MINOR:
 *
 * The plugin ABI minor version. A node refuses a plugin built against a
 * newer minor version than its own.
 */
#define DP_PLUGIN_ABI_MINOR 0

/**
 * DpPluginDesc:
 * @abi_major: %DP_PLUGIN_ABI_MAJOR at build time
 * @abi_minor: %DP_PLUGIN_ABI_MINOR at build time
 * @name: short name of the plugin
 * @description: one line saying what its places do
 * @version: the plugin's own version
 * @license: its licence (SPDX identifier)
 *
 * The optional descriptor of a plugin, emitted by DP_PLUGIN_DEFINE(). When a
 * plugin has one, the loader checks it before it looks up any other symbol.
 */
typedef struct {
  int         abi_major;
  int         abi_minor;
  const char *name;
  const char *description;
  const char *version;
  const char *license;
  /*< private >*/
  gpointer    _reserved[4];
} DpPluginDesc;

/**
 * DP_PLUGIN_DESCRIBE_SYMBOL:
 *
 * The name of the function DP_PLUGIN_DEFINE() exports.
 */
#define DP_PLUGIN_DESCRIBE_SYMBOL "dp_plugin_describe"

/**
 * DP_PLUGIN_DEFINE:
 * @name: short name (a string literal)
 * @description: one line (a string literal)
 * @version: the plugin's version (a string literal)
 * @license: SPDX licence identifier (a string literal)
 *
 * Declares a plugin descriptor. Use it once in one source file of a plugin:
 *
 * |[<!-- language="C" -->
 * DP_PLUGIN_DEFINE ("echo", "Echoes every message", "1.0", "LGPL-2.1-or-later")
 * ]|
 */
#define DP_PLUGIN_DEFINE(name, description, version, license)              \
  DP_PLACE_EXPORT const DpPluginDesc *dp_plugin_describe (void);            \
  DP_PLACE_EXPORT const DpPluginDesc *                                      \
  dp_plugin_describe (void)                                                 \
  {                                                                         \
    static const DpPluginDesc desc = {                                      \
      DP_PLUGIN_ABI_MAJOR, DP_PLUGIN_ABI_MINOR,                             \
      name, description, version, license, { NULL, NULL, NULL, NULL }      \
    };                                                                      \
    return &desc;                                                           \
  }

G_END_DECLS
