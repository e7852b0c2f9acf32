/* dp-inspect: what a place plugin offers
 *
 *   dp-inspect [--json] [--plugin-dir DIR]... PLUGIN
 *
 * Loads PLUGIN (a name found on the plugin path — DP_PLUGIN_PATH,
 * --plugin-dir, the installed plugin directory — or a file path such as
 * ./my-place.so) as a node would, checks its descriptor, and prints the
 * descriptor (name, description, version, licence, plugin ABI) and the
 * places of its table (DP_PLUGIN_DEFINE_WITH_PLACES()). Each listed place
 * is looked up as a launch would: one the plugin does not define is
 * reported, and the exit status is then 1.
 *
 * Exit status: 0 fine, 1 a listed place is missing, 2 usage, 3 the plugin
 * cannot be loaded (the message names the cause).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-config.h"

#include "dp-private.h"

#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

static const char *
kind_name (DpPluginPlaceKind kind)
{
  return kind == DP_PLUGIN_PLACE_THUNK ? "thunk" : "function";
}

/* NULL when @symbol is launchable from @file, else why not */
static char *
check_place (const char        *file,
             const DpPluginPlace *p)
{
  g_autoptr(GError) error = NULL;
  const char * const no_dirs[] = { NULL };

  if (_dp_plugin_lookup (file, p->symbol, no_dirs, TRUE, &error) != NULL)
    return NULL;
  return g_strdup (error->message);
}

int
main (int argc, char **argv)
{
  gboolean json = FALSE, version = FALSE;
  g_auto(GStrv) extra_dirs = NULL;
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) defaults = NULL;
  g_autofree char *file = NULL;
  const DpPluginDesc *desc = NULL;
  gboolean missing = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { "plugin-dir", 'L', 0, G_OPTION_ARG_FILENAME_ARRAY, &extra_dirs,
      "Look for PLUGIN in DIR too (before DP_PLUGIN_PATH)", "DIR" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  ctx = g_option_context_new ("PLUGIN - show what a place plugin offers");
  g_option_context_set_summary (ctx,
    "PLUGIN is a name on the plugin path (DP_PLUGIN_PATH, --plugin-dir, the\n"
    "installed plugin directory) or a file path such as ./my-place.so.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("dp-inspect: %s (see --help)\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("dp-inspect %s\n", DP_PROJECT_VERSION);
      return 0;
    }
  if (argc != 2)
    {
      g_printerr ("dp-inspect: expected one PLUGIN (see --help)\n");
      return 2;
    }

  for (guint i = 0; extra_dirs && extra_dirs[i]; i++)
    g_ptr_array_add (dirs, g_strdup (extra_dirs[i]));
  defaults = _dp_plugin_default_dirs ();
  for (guint i = 0; defaults && defaults[i]; i++)
    g_ptr_array_add (dirs, g_strdup (defaults[i]));
  g_ptr_array_add (dirs, NULL);

  if (!_dp_plugin_describe (argv[1], (const char * const *) dirs->pdata, &file, &desc, &error))
    {
      g_printerr ("dp-inspect: %s\n", error->message);
      return 3;
    }

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "file");
      json_builder_add_string_value (b, file);
      json_builder_set_member_name (b, "descriptor");
      if (desc == NULL)
        json_builder_add_null_value (b);
      else
        {
          g_autofree char *abi = g_strdup_printf ("%d.%d", desc->abi_major, desc->abi_minor);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, desc->name);
          json_builder_set_member_name (b, "description");
          json_builder_add_string_value (b, desc->description);
          json_builder_set_member_name (b, "version");
          json_builder_add_string_value (b, desc->version);
          json_builder_set_member_name (b, "license");
          json_builder_add_string_value (b, desc->license);
          json_builder_set_member_name (b, "abi");
          json_builder_add_string_value (b, abi);
          json_builder_end_object (b);
        }
      json_builder_set_member_name (b, "places");
      if (desc == NULL || desc->places == NULL)
        json_builder_add_null_value (b);
      else
        {
          json_builder_begin_array (b);
          for (const DpPluginPlace *p = desc->places; p->symbol; p++)
            {
              g_autofree char *why = check_place (file, p);

              json_builder_begin_object (b);
              json_builder_set_member_name (b, "symbol");
              json_builder_add_string_value (b, p->symbol);
              json_builder_set_member_name (b, "kind");
              json_builder_add_string_value (b, kind_name (p->kind));
              json_builder_set_member_name (b, "description");
              json_builder_add_string_value (b, p->description ? p->description : "");
              if (why)
                {
                  missing = TRUE;
                  json_builder_set_member_name (b, "error");
                  json_builder_add_string_value (b, why);
                }
              json_builder_end_object (b);
            }
          json_builder_end_array (b);
        }
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      text = json_generator_to_data (gen, NULL);
      g_print ("%s\n", text);
      return missing ? 1 : 0;
    }

  g_print ("File:         %s\n", file);
  if (desc == NULL)
    {
      g_print ("Descriptor:   none (the plugin has no DP_PLUGIN_DEFINE)\n");
      return 0;
    }
  g_print ("Name:         %s\n", desc->name);
  g_print ("Description:  %s\n", desc->description);
  g_print ("Version:      %s\n", desc->version);
  g_print ("License:      %s\n", desc->license);
  g_print ("Plugin ABI:   %d.%d\n", desc->abi_major, desc->abi_minor);
  if (desc->places == NULL)
    {
      g_print ("Places:       not listed (declared with DP_PLUGIN_DEFINE, which has no table)\n");
      return 0;
    }
  g_print ("Places:\n");
  for (const DpPluginPlace *p = desc->places; p->symbol; p++)
    {
      g_autofree char *why = check_place (file, p);

      g_print ("  %-20s %-8s %s\n", p->symbol, kind_name (p->kind),
               p->description ? p->description : "");
      if (why)
        {
          missing = TRUE;
          g_print ("  %-20s MISSING  %s\n", "", why);
        }
    }
  return missing ? 1 : 0;
}
