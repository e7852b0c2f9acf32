/* dp-plugin.c: loading place plugins with libltdl
 *
 * A plugin is a shared object exporting place functions (and, optionally,
 * a DP_PLUGIN_DEFINE() descriptor). A node opens plugins found on its
 * plugin path (DP_PLUGIN_PATH, --plugin-dir, the installed plugin
 * directory) by name, or by a file path inside one of those directories.
 * When the plugin has a descriptor it is checked (the ABI version, then
 * every field non-empty) before any other symbol is looked up; a plugin
 * without one loads unchecked. Plugins stay loaded for the life of the
 * process.
 *
 * libltdl is not thread-safe; every call into it is made under one lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <errno.h>
#include <ltdl.h>
#include <stdio.h>
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

/* The file lt_dlopenext() would have opened for @key, if there is one:
 * libltdl says only "file not found" whatever went wrong, so the loader
 * looks itself to tell a file that is not a shared object apart. */
static char *
find_plugin_file (const char         *key,
                  const char * const *dirs)
{
  g_autofree char *with_ext = g_strconcat (key, ".so", NULL);

  if (strchr (key, G_DIR_SEPARATOR) != NULL)
    {
      if (g_file_test (key, G_FILE_TEST_IS_REGULAR))
        return g_strdup (key);
      return g_file_test (with_ext, G_FILE_TEST_IS_REGULAR) ? g_strdup (with_ext) : NULL;
    }
  for (guint i = 0; dirs && dirs[i]; i++)
    {
      const char *names[] = { key, with_ext };
      for (gsize j = 0; j < G_N_ELEMENTS (names); j++)
        {
          g_autofree char *file = g_build_filename (dirs[i], names[j], NULL);
          if (g_file_test (file, G_FILE_TEST_IS_REGULAR))
            return g_steal_pointer (&file);
        }
    }
  return NULL;
}

static gboolean
is_elf_file (const char *file)
{
  static const char magic[4] = { 0x7f, 'E', 'L', 'F' };
  char head[4];
  FILE *f = fopen (file, "rb");
  gboolean elf;

  if (f == NULL)
    return TRUE;           /* cannot tell: let the loader's reason stand */
  elf = fread (head, 1, sizeof head, f) == sizeof head && memcmp (head, magic, sizeof magic) == 0;
  fclose (f);
  return elf;
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
          g_autofree char *found = find_plugin_file (key, dirs);

          if (found && !is_elf_file (found))
            g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_NOT_FOUND,
                         "cannot open plugin '%s': %s is not a shared object",
                         key, found);
          else
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

/* The first field of @desc that is missing or empty, or NULL */
static const char *
empty_desc_field (const DpPluginDesc *desc)
{
  const struct { const char *field; const char *value; } fields[] = {
    { "name", desc->name }, { "description", desc->description },
    { "version", desc->version }, { "license", desc->license },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    if (fields[i].value == NULL || *fields[i].value == '\0')
      return fields[i].field;
  return NULL;
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
      if (empty_desc_field (desc) != NULL)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_ABI,
                       "plugin '%s' has an invalid descriptor: its %s is missing or empty",
                       file, empty_desc_field (desc));
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
