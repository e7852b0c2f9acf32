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
 *
 * Since: 1.0
 */
#define DP_PLUGIN_ABI_MAJOR 1
/**
 * DP_PLUGIN_ABI_MINOR:
 *
 * The plugin ABI minor version. A node refuses a plugin built against a
 * newer minor version than its own.
 *
 * Since: 1.0
 */
#define DP_PLUGIN_ABI_MINOR 0

/**
 * DpPluginPlaceKind:
 * @DP_PLUGIN_PLACE_FUNCTION: a place function, `void fn (DpPlaceChannel *)`
 * @DP_PLUGIN_PLACE_THUNK: a place thunk, `DpPlace *fn (void)` (launched
 *   with %DP_LAUNCH_THUNK)
 *
 * What a symbol listed in a plugin's place table is.
 *
 * |[<!-- language="C" -->
 * DP_PLACE_EXPORT void echo (DpPlaceChannel *ch);   // DP_PLUGIN_PLACE_FUNCTION
 * DP_PLACE_EXPORT DpPlace *echo_thunk (void);       // DP_PLUGIN_PLACE_THUNK
 *
 * // the thunk is launched with DP_LAUNCH_THUNK
 * conn = dp_remote_node_launch_place (node, "echo", "echo_thunk", DP_LAUNCH_THUNK, NULL);
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_PLUGIN_PLACE_FUNCTION,
  DP_PLUGIN_PLACE_THUNK,
} DpPluginPlaceKind;

/**
 * DpPluginPlace:
 * @symbol: the exported symbol (a string literal)
 * @description: one line saying what the place does
 * @kind: a function or a thunk
 *
 * One entry of the place table of DP_PLUGIN_DEFINE_WITH_PLACES(): what
 * `dp-inspect` lists. The table ends with an entry whose @symbol is %NULL.
 *
 * |[<!-- language="C" -->
 * static const DpPluginPlace places[] = {
 *   { "counter", "counts the messages it gets", DP_PLUGIN_PLACE_FUNCTION },
 *   { NULL }
 * };
 * DP_PLUGIN_DEFINE_WITH_PLACES ("counter", "A counting place", "1.0", "MIT", places)
 * ]|
 *
 * Since: 1.0
 */
typedef struct {
  const char        *symbol;
  const char        *description;
  DpPluginPlaceKind  kind;
  /*< private >*/
  gpointer           _reserved[2];
} DpPluginPlace;

/**
 * DpPluginDesc:
 * @abi_major: %DP_PLUGIN_ABI_MAJOR at build time
 * @abi_minor: %DP_PLUGIN_ABI_MINOR at build time
 * @name: short name of the plugin
 * @description: one line saying what its places do
 * @version: the plugin's own version
 * @license: its licence (SPDX identifier)
 * @places: (nullable) (array zero-terminated=1): the places it exports,
 *   ending with an entry whose symbol is %NULL; %NULL when the plugin was
 *   declared with DP_PLUGIN_DEFINE() (no table) or built before tables
 *   existed (the field was reserved, zero)
 *
 * The optional descriptor of a plugin, emitted by DP_PLUGIN_DEFINE() or
 * DP_PLUGIN_DEFINE_WITH_PLACES(). When a plugin has one, the loader checks
 * it before it looks up any other symbol.
 *
 * Reading the descriptor of a plugin opened by hand (what `dp-inspect`
 * prints):
 *
 * |[<!-- language="C" -->
 * #include <gmodule.h>
 *
 * GModule *module = g_module_open ("./counter.so", G_MODULE_BIND_LOCAL);
 * const DpPluginDesc *(*describe) (void) = NULL;
 *
 * if (module && g_module_symbol (module, DP_PLUGIN_DESCRIBE_SYMBOL, (gpointer *) &describe))
 *   {
 *     const DpPluginDesc *d = describe ();
 *
 *     g_print ("%s %s (ABI %d.%d): %s\n", d->name, d->version,
 *              d->abi_major, d->abi_minor, d->description);
 *     for (const DpPluginPlace *p = d->places; p && p->symbol; p++)
 *       g_print ("  %s: %s\n", p->symbol, p->description);
 *   }
 * if (module)
 *   g_module_close (module);
 * ]|
 *
 * Since: 1.0
 */
typedef struct {
  int         abi_major;
  int         abi_minor;
  const char *name;
  const char *description;
  const char *version;
  const char *license;
  const DpPluginPlace *places;
  /*< private >*/
  gpointer    _reserved[3];
} DpPluginDesc;

/**
 * DP_PLUGIN_DESCRIBE_SYMBOL:
 *
 * The name of the function DP_PLUGIN_DEFINE() exports.
 *
 * Since: 1.0
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
 *
 * Since: 1.0
 */
#define DP_PLUGIN_DEFINE(name, description, version, license)              \
  DP_PLUGIN_DEFINE_WITH_PLACES (name, description, version, license, NULL)

/**
 * DP_PLUGIN_DEFINE_WITH_PLACES:
 * @name: short name (a string literal)
 * @description: one line (a string literal)
 * @version: the plugin's version (a string literal)
 * @license: SPDX licence identifier (a string literal)
 * @places: a static array of #DpPluginPlace ending with `{ NULL }`
 *
 * DP_PLUGIN_DEFINE() with the table of the places the plugin exports,
 * which `dp-inspect` prints. A node still launches any exported place,
 * listed or not.
 *
 * |[<!-- language="C" -->
 * static const DpPluginPlace places[] = {
 *   { "echo", "echoes every message back", DP_PLUGIN_PLACE_FUNCTION },
 *   { "echo_thunk", "the same, made by a thunk", DP_PLUGIN_PLACE_THUNK },
 *   { NULL }
 * };
 * DP_PLUGIN_DEFINE_WITH_PLACES ("echo", "Echoes every message", "1.0",
 *                               "LGPL-2.1-or-later", places)
 * ]|
 *
 * Since: 1.0
 */
#define DP_PLUGIN_DEFINE_WITH_PLACES(name, description, version, license, places) \
  DP_PLACE_EXPORT const DpPluginDesc *dp_plugin_describe (void);            \
  DP_PLACE_EXPORT const DpPluginDesc *                                      \
  dp_plugin_describe (void)                                                 \
  {                                                                         \
    static const DpPluginDesc desc = {                                      \
      DP_PLUGIN_ABI_MAJOR, DP_PLUGIN_ABI_MINOR,                             \
      name, description, version, license, places, { NULL, NULL, NULL }    \
    };                                                                      \
    return &desc;                                                           \
  }

G_END_DECLS
