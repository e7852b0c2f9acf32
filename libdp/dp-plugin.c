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
 * Plugins are confined to their own code (DESIGN rule 11):
 *
 * - a plugin is loaded only from the node's plugin path: the file libltdl
 *   opens must be the one found there;
 * - every symbol is bound when the plugin is loaded: before libltdl opens
 *   it (lazily, as it always does), the loader opens the file itself with
 *   RTLD_NOW, so a plugin that refers to a function nothing defines is
 *   refused at load, naming that function, instead of taking the node down
 *   when a place first calls it; a file that is no shared object is
 *   refused as such (%DP_ERROR_PLUGIN_INVALID);
 * - a place (or the descriptor) must be a function the plugin object
 *   itself defines: lt_dlsym() also finds what the plugin's dependencies
 *   define (libc's exit() and free(), GLib, libdp), so the loader asks
 *   dladdr() which object the address belongs to and refuses a symbol of
 *   any other object, or one that is not a function
 *   (%DP_ERROR_SYMBOL_NOT_FOUND).
 *
 * libltdl is not thread-safe; every call into it is made under one lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DP_PLUGINDIR
# define DP_PLUGINDIR "/usr/local/lib/libdp-1.0/plugins"
#endif

/* A plugin once loaded: never unloaded, so @map stays valid */
typedef struct {
  lt_dlhandle       handle;
  struct link_map  *map;      /* the object's own link map (dlinfo) */
  char             *file;     /* canonical path */
} Plugin;

static GMutex plugin_lock;
/* canonical file or name -> Plugin (never freed: plugins are never
 * unloaded); under @plugin_lock */
static GHashTable *plugin_cache;

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
canonical_path (const char *dir)
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
      g_autofree char *d = canonical_path (dirs[i]);
      if (g_strcmp0 (d, dir) == 0)
        return TRUE;
    }
  return FALSE;
}

/* The file to open for @key on @dirs, if there is one: @key itself when
 * it has a directory (it was made canonical), else @key (with the ".so"
 * extension added when it has none) in the first directory that has it.
 * (A plugin is a ".so" on the plugin path; libltdl is handed this file's
 * path and opens exactly it, never libtool's ".la" archives nor anything
 * on LTDL_LIBRARY_PATH, LD_LIBRARY_PATH or the system's directories.) */
static char *
find_plugin_file (const char         *key,
                  const char * const *dirs)
{
  g_autofree char *name = g_str_has_suffix (key, ".so") ? g_strdup (key)
                                                         : g_strconcat (key, ".so", NULL);

  if (strchr (key, G_DIR_SEPARATOR) != NULL)
    return g_file_test (key, G_FILE_TEST_IS_REGULAR) ? g_strdup (key) : NULL;
  for (guint i = 0; dirs && dirs[i]; i++)
    {
      g_autofree char *file = g_build_filename (dirs[i], name, NULL);
      if (g_file_test (file, G_FILE_TEST_IS_REGULAR))
        return canonical_path (file);
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

/* Opens @file with every symbol bound now (RTLD_NOW), which libltdl
 * cannot be asked to do: the handle (to be closed once libltdl holds its
 * own reference) or NULL with an error naming what is wrong: not a shared
 * object, a symbol nothing defines, a library missing. */
static void *
open_bound_now (const char  *key,
                const char  *file,
                GError     **error)
{
  void *handle = dlopen (file, RTLD_NOW | RTLD_LOCAL);

  if (handle == NULL)
    {
      const char *why = dlerror ();

      if (!is_elf_file (file))
        g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_INVALID,
                     "cannot open plugin '%s': %s is not a shared object", key, file);
      else
        g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_INVALID,
                     "cannot load plugin '%s': %s", key, why ? why : file);
    }
  return handle;
}

static Plugin *
load_plugin_locked (const char         *key,
                    const char * const *dirs,
                    GError            **error)
{
  g_autofree char *joined = g_strjoinv (":", (char **) dirs);
  g_autofree char *found = find_plugin_file (key, dirs);
  g_autofree char *opened = NULL;
  const lt_dlinfo *info;
  lt_dlhandle handle;
  void *now;
  Plugin *plugin;

  DP_ASSERT_LOCK_HELD (&plugin_lock);
  if (found == NULL)
    {
      g_autofree char *local = g_str_has_suffix (key, ".so") ? g_strdup (key)
                                                              : g_strconcat (key, ".so", NULL);

      /* the usual mistake: a plugin in the current directory given by name */
      if (strchr (key, G_DIR_SEPARATOR) == NULL && g_file_test (local, G_FILE_TEST_IS_REGULAR))
        g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_NOT_FOUND,
                     "cannot open plugin '%s': file not found (plugin path: %s); "
                     "for the file in the current directory write ./%s, "
                     "or add its directory to DP_PLUGIN_PATH", key, joined, local);
      else
        g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_NOT_FOUND,
                     "cannot open plugin '%s': file not found (plugin path: %s); "
                     "give a path (./%s) or add its directory to DP_PLUGIN_PATH",
                     key, joined, local);
      return NULL;
    }
  now = open_bound_now (key, found, error);
  if (now == NULL)
    return NULL;

  /* the file found, by its path: libltdl searches nothing (a search would
   * look for libtool's "echo.la" in every directory of the plugin path and
   * the system's first, a failed open each) */
  handle = lt_dlopen (found);
  info = handle ? lt_dlgetinfo (handle) : NULL;
  opened = info && info->filename ? canonical_path (info->filename) : NULL;
  if (handle == NULL || g_strcmp0 (opened, found) != 0)
    {
      const char *why = handle ? NULL : lt_dlerror ();

      g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_NOT_FOUND,
                   "cannot open plugin '%s': %s (plugin path: %s)", key,
                   why ? why : "libltdl opened a file other than the one on the plugin path",
                   joined);
      if (handle)
        lt_dlclose (handle);
      dlclose (now);
      return NULL;
    }

  plugin = g_new0 (Plugin, 1);
  plugin->handle = handle;
  plugin->file = g_steal_pointer (&found);
  if (dlinfo (now, RTLD_DI_LINKMAP, &plugin->map) != 0)
    plugin->map = NULL;
  /* libltdl's reference keeps the object (bound now) loaded */
  dlclose (now);
  return plugin;
}

static Plugin *
open_plugin_locked (const char         *plugin,
                    const char * const *dirs,
                    gboolean            allow_any_path,
                    GError            **error)
{
  Plugin *loaded;
  g_autofree char *key = NULL;

  DP_ASSERT_LOCK_HELD (&plugin_lock);
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

  loaded = g_hash_table_lookup (plugin_cache, key);
  if (loaded == NULL)
    {
      loaded = load_plugin_locked (key, dirs, error);
      if (loaded == NULL)
        return NULL;
      g_hash_table_insert (plugin_cache, g_strdup (key), loaded);
    }
  return loaded;
}

#if __ELF_NATIVE_CLASS == 64
# define SYM_TYPE(info) ELF64_ST_TYPE (info)
#else
# define SYM_TYPE(info) ELF32_ST_TYPE (info)
#endif

/* @symbol of @plugin when the plugin object itself defines it as a
 * function; else NULL, with @owner set to the object that does define it
 * (NULL: nobody does) and @not_function when it is the plugin's, but data. */
static gpointer
own_function (Plugin      *plugin,
              const char  *symbol,
              char       **owner,
              gboolean    *not_function)
{
  gpointer fn = lt_dlsym (plugin->handle, symbol);
  struct link_map *map = NULL;
  const ElfW(Sym) *sym = NULL;
  Dl_info info;

  *owner = NULL;
  *not_function = FALSE;
  if (fn == NULL)
    return NULL;
  if (dladdr1 (fn, &info, (void **) &map, RTLD_DL_LINKMAP) == 0 || map != plugin->map)
    {
      *owner = info.dli_fname && *info.dli_fname ? g_path_get_basename (info.dli_fname)
                                                  : g_strdup ("the program itself");
      return NULL;
    }
  if (dladdr1 (fn, &info, (void **) &sym, RTLD_DL_SYMENT) != 0 && sym != NULL &&
      info.dli_saddr == fn &&
      SYM_TYPE (sym->st_info) != STT_FUNC && SYM_TYPE (sym->st_info) != STT_GNU_IFUNC)
    {
      *not_function = TRUE;
      return NULL;
    }
  return fn;
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

/* Checks @loaded's descriptor, if it has one (the ABI version, then every
 * field): %TRUE with *@desc_out the descriptor (NULL: none). Under
 * @plugin_lock. */
static gboolean
check_descriptor_locked (Plugin              *loaded,
                         const DpPluginDesc **desc_out,
                         GError             **error)
{
  const DpPluginDesc *(*describe) (void);
  g_autofree char *owner = NULL;
  gboolean not_function;
  const DpPluginDesc *desc;

  DP_ASSERT_LOCK_HELD (&plugin_lock);
  *desc_out = NULL;
  /* a descriptor that is not the plugin's own is no descriptor */
  describe = (const DpPluginDesc *(*) (void))
    own_function (loaded, DP_PLUGIN_DESCRIBE_SYMBOL, &owner, &not_function);
  if (describe == NULL)
    return TRUE;
  desc = describe ();
  if (desc == NULL || desc->abi_major != DP_PLUGIN_ABI_MAJOR ||
      desc->abi_minor > DP_PLUGIN_ABI_MINOR)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_ABI,
                   "plugin '%s' was built for plugin ABI %d.%d; this node supports %d.%d",
                   loaded->file, desc ? desc->abi_major : -1, desc ? desc->abi_minor : -1,
                   DP_PLUGIN_ABI_MAJOR, DP_PLUGIN_ABI_MINOR);
      return FALSE;
    }
  if (empty_desc_field (desc) != NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PLUGIN_ABI,
                   "plugin '%s' has an invalid descriptor: its %s is missing or empty",
                   loaded->file, empty_desc_field (desc));
      return FALSE;
    }
  *desc_out = desc;
  return TRUE;
}

gboolean
_dp_plugin_describe (const char          *plugin,
                     const char * const  *dirs,
                     char               **file_out,
                     const DpPluginDesc **desc_out,
                     GError             **error)
{
  Plugin *loaded;
  gboolean ok;

  g_return_val_if_fail (plugin != NULL && desc_out != NULL, FALSE);
  ensure_ltdl ();
  g_mutex_lock (&plugin_lock);
  loaded = open_plugin_locked (plugin, dirs, TRUE, error);
  ok = loaded != NULL && check_descriptor_locked (loaded, desc_out, error);
  if (ok && file_out)
    *file_out = g_strdup (loaded->file);
  g_mutex_unlock (&plugin_lock);
  return ok;
}

gpointer
_dp_plugin_lookup (const char         *plugin,
                   const char         *symbol,
                   const char * const *dirs,
                   gboolean            allow_any_path,
                   GError            **error)
{
  Plugin *loaded;
  const DpPluginDesc *desc;
  g_autofree char *owner = NULL;
  gboolean not_function;
  gpointer fn;

  if (plugin == NULL || *plugin == '\0' || symbol == NULL || *symbol == '\0')
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "a place needs a plugin and a symbol");
      return NULL;
    }

  ensure_ltdl ();
  g_mutex_lock (&plugin_lock);
  loaded = open_plugin_locked (plugin, dirs, allow_any_path, error);
  if (loaded == NULL)
    {
      g_mutex_unlock (&plugin_lock);
      return NULL;
    }

  if (!check_descriptor_locked (loaded, &desc, error))
    {
      g_mutex_unlock (&plugin_lock);
      return NULL;
    }

  fn = own_function (loaded, symbol, &owner, &not_function);
  g_mutex_unlock (&plugin_lock);
  if (fn == NULL && owner != NULL)
    g_set_error (error, DP_ERROR, DP_ERROR_SYMBOL_NOT_FOUND,
                 "plugin '%s' defines no place '%s' (the symbol belongs to %s)",
                 loaded->file, symbol, owner);
  else if (fn == NULL && not_function)
    g_set_error (error, DP_ERROR, DP_ERROR_SYMBOL_NOT_FOUND,
                 "plugin '%s' defines no place '%s' (the symbol is not a function)",
                 loaded->file, symbol);
  else if (fn == NULL)
    g_set_error (error, DP_ERROR, DP_ERROR_SYMBOL_NOT_FOUND,
                 "plugin '%s' has no symbol '%s'", loaded->file, symbol);
  return fn;
}
