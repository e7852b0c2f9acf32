/* dp-plugin.c: loading place plugins with libltdl
 *
 * A plugin is a shared object exporting place functions (and, optionally,
 * a DP_PLUGIN_DEFINE() descriptor). A node opens plugins found on its
 * plugin path (DP_PLUGIN_PATH, --plugin-dir, the installed plugin
 * directory) by name, or by a file path inside one of those directories.
 * When the plugin has a descriptor it is checked before any other symbol is
 * looked up. Plugins stay loaded for the life of the process.
 *
 * libltdl is not thread-safe; every call into it is made under one lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <errno.h>
#include <ltdl.h>
#include <stdlib.h>
#include <string.h>

#ifndef DP_PLUGINDIR
# define DP_PLUGINDIR "/usr/local/lib/libdp-1.0/plugins"
#endif

static GMutex plugin_lock;
static GHashTable *plugin_cache;   /* canonical file or name -> lt_dlhandle */

static void
ensure_ltdl (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      lt_dlinit ();
      plugin_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_once_init_leave (&done, 1);
    }
}

GStrv
_dp_plugin_default_dirs (void)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  const char *env = g_getenv ("DP_PLUGIN_PATH");

  if (env && *env)
    {
      g_auto(GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; parts[i]; i++)
        if (*parts[i])
          g_strv_builder_add (b, parts[i]);
    }
  g_strv_builder_add (b, DP_PLUGINDIR);
  return g_strv_builder_end (b);
}

static char *
canonical_dir (const char *dir)
{
  char *real = realpath (dir, NULL);
  char *ret = g_strdup (real ? real : dir);

  free (real);
  return ret;
}

static gboolean
path_in_dirs (const char         *file,
              const char * const *dirs)
{
  g_autofree char *dir = g_path_get_dirname (file);

  for (guint i = 0; dirs && dirs[i]; i++)
    {
      g_autofree char *d = canonical_dir (dirs[i]);
      if (g_strcmp0 (d, dir) == 0)
        return TRUE;
    }
  return FALSE;
}

static lt_dlhandle
open_plugin_locked (const char         *plugin,
                    const char * const *dirs,
                    gboolean            allow_any_path,
                    char              **file_out,
                    GError            **error)
{
  lt_dlhandle handle;
  g_autofree char *key = NULL;

  if (strchr (plugin, G_DIR_SEPARATOR) != NULL)
    {
      char *real = realpath (plugin, NULL);

      if (real == NULL)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_NOT_FOUND,
                       "plugin '%s' not found: %s", plugin, g_strerror (errno));
          return NULL;
        }
      key = g_strdup (real);
      free (real);
      if (!allow_any_path && !path_in_dirs (key, dirs))
        {
          g_autofree char *joined = g_strjoinv (":", (char **) dirs);
          g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_NOT_ALLOWED,
                       "plugin '%s' is outside the node's plugin path (%s)",
                       key, joined);
          return NULL;
        }
    }
  else
    key = g_strdup (plugin);

  handle = g_hash_table_lookup (plugin_cache, key);
  if (handle == NULL)
    {
      if (strchr (key, G_DIR_SEPARATOR) == NULL)
        {
          g_autofree char *joined = g_strjoinv (":", (char **) dirs);
          lt_dlsetsearchpath (joined);
        }
      handle = lt_dlopenext (key);
      if (handle == NULL)
        {
          g_autofree char *joined = g_strjoinv (":", (char **) dirs);
          const char *why = lt_dlerror ();
          g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_NOT_FOUND,
                       "cannot open plugin '%s': %s (plugin path: %s)",
                       key, why ? why : "not found", joined);
          return NULL;
        }
      g_hash_table_insert (plugin_cache, g_strdup (key), handle);
    }

  if (file_out)
    {
      const lt_dlinfo *info = lt_dlgetinfo (handle);
      *file_out = g_strdup (info && info->filename ? info->filename : key);
    }
  return handle;
}

gpointer
_dp_plugin_lookup (const char         *plugin,
                   const char         *symbol,
                   const char * const *dirs,
                   gboolean            allow_any_path,
                   GError            **error)
{
  lt_dlhandle handle;
  g_autofree char *file = NULL;
  const DpPluginDesc *(*describe) (void);
  gpointer fn;

  if (plugin == NULL || *plugin == '\0' || symbol == NULL || *symbol == '\0')
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "a place needs a plugin and a symbol");
      return NULL;
    }

  ensure_ltdl ();
  g_mutex_lock (&plugin_lock);
  handle = open_plugin_locked (plugin, dirs, allow_any_path, &file, error);
  if (handle == NULL)
    {
      g_mutex_unlock (&plugin_lock);
      return NULL;
    }

  describe = (const DpPluginDesc *(*) (void)) lt_dlsym (handle, DP_PLUGIN_DESCRIBE_SYMBOL);
  if (describe != NULL)
    {
      const DpPluginDesc *desc = describe ();

      if (desc == NULL || desc->abi_major != DP_PLUGIN_ABI_MAJOR ||
          desc->abi_minor > DP_PLUGIN_ABI_MINOR)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_ABI,
                       "plugin '%s' was built for plugin ABI %d.%d; this node supports %d.%d",
                       file, desc ? desc->abi_major : -1, desc ? desc->abi_minor : -1,
                       DP_PLUGIN_ABI_MAJOR, DP_PLUGIN_ABI_MINOR);
          g_mutex_unlock (&plugin_lock);
          return NULL;
        }
    }

  fn = lt_dlsym (handle, symbol);
  g_mutex_unlock (&plugin_lock);
  if (fn == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_SYMBOL_NOT_FOUND,
                   "plugin '%s' has no symbol '%s'", file, symbol);
      return NULL;
    }
  return fn;
}
