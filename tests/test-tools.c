/* test-tools.c: the command-line tools as their users run them
 *
 * dp-inspect (descriptor, place table, --json, errors), the plugindir
 * variable of libdp-1.0.pc.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* Runs the tool $DP_BUILD_DIR/@tool with @args, @input on standard input,
 * in @cwd (NULL: ours); returns its exit status, standard output and
 * standard error. */
static int
run_tool (const char          *tool,
          const char * const  *args,
          const char          *cwd,
          const char          *input,
          char               **out,
          char               **err)
{
  g_autofree char *path = dp_test_build_path (tool);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;

  g_ptr_array_add (argv, path);
  for (gsize i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (cwd)
    g_subprocess_launcher_set_cwd (l, cwd);
  sp = g_subprocess_launcher_spawnv (l, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, input, NULL, out, err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (sp));
  return g_subprocess_get_exit_status (sp);
}

/* echo by name: the descriptor and its four places, nothing on stderr */
static void
test_inspect_echo (void)
{
  const char *args[] = { "echo", NULL };
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (run_tool ("loader/dp-inspect", args, NULL, NULL, &out, &err), ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_assert_nonnull (strstr (out, "Name:         echo\n"));
  g_assert_nonnull (strstr (out, "Description:  Places that echo every message back\n"));
  g_assert_nonnull (strstr (out, "Version:      1.0\n"));
  g_assert_nonnull (strstr (out, "License:      LGPL-2.1-or-later\n"));
  g_assert_nonnull (strstr (out, "Plugin ABI:   1.0\n"));
  g_assert_nonnull (strstr (out, "\n  echo                 function "));
  g_assert_nonnull (strstr (out, "\n  echo_named           function "));
  g_assert_nonnull (strstr (out, "\n  count                function "));
  g_assert_nonnull (strstr (out, "\n  mesh_pinger          function "));
  g_assert_null (strstr (out, "MISSING"));
}

/* --json: one object; a listed place the plugin lacks is named with the
 * loader's reason, and the exit status is 1 */
static void
test_inspect_json (void)
{
  const char *args[] = { "--json", "inspect-places", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *o, *d;
  JsonArray *places;

  g_assert_cmpint (run_tool ("loader/dp-inspect", args, NULL, NULL, &out, &err), ==, 1);
  g_assert_cmpstr (err, ==, "");
  root = json_from_string (out, &error);
  g_assert_no_error (error);
  o = json_node_get_object (root);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (o, "file"), "/inspect-places.so"));
  d = json_object_get_object_member (o, "descriptor");
  g_assert_cmpstr (json_object_get_string_member (d, "name"), ==, "inspect-places");
  g_assert_cmpstr (json_object_get_string_member (d, "version"), ==, "2.5");
  g_assert_cmpstr (json_object_get_string_member (d, "license"), ==, "CC0-1.0");
  g_assert_cmpstr (json_object_get_string_member (d, "abi"), ==, "1.0");
  places = json_object_get_array_member (o, "places");
  g_assert_cmpuint (json_array_get_length (places), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (places, 0), "symbol"), ==, "listed");
  g_assert_false (json_object_has_member (json_array_get_object_element (places, 0), "error"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (places, 1), "kind"), ==, "thunk");
  g_assert_nonnull (strstr (json_object_get_string_member (json_array_get_object_element (places, 2), "error"),
                            "has no symbol 'ghost'"));
}

/* a plugin declared with DP_PLUGIN_DEFINE (no table: the reserved field of
 * plugins built before tables) and one with no descriptor load and say so */
static void
test_inspect_old_plugins (void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args1[] = { "test-places", NULL };
  const char *args2[] = { "--json", "no-descriptor", NULL };

  g_assert_cmpint (run_tool ("loader/dp-inspect", args1, NULL, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "Name:         test-places\n"));
  g_assert_nonnull (strstr (out, "Places:       not listed (declared with DP_PLUGIN_DEFINE"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_tool ("loader/dp-inspect", args2, NULL, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "\"descriptor\" : null"));
}

/* errors: one line each, naming the cause and the fix; exit 3 */
static void
test_inspect_errors (void)
{
  g_autofree char *plugins = dp_test_build_path ("plugins");
  struct { const char *plugin, *cwd, *err; } cases[] = {
    { "bad-abi", NULL, "was built for plugin ABI 99.0; this node supports 1.0\n" },
    { "no-such-plugin", NULL, "dp-inspect: cannot open plugin 'no-such-plugin': file not found (plugin path: " },
    /* a plugin in the current directory, named without ./ */
    { "echo", plugins, "; for the file in the current directory write ./echo.so, or add its directory to DP_PLUGIN_PATH\n" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *args[] = { cases[i].plugin, NULL };
      g_autofree char *out = NULL, *err = NULL;
      int status;

      /* the third case: the plugin path does not have it */
      if (cases[i].cwd)
        {
          g_autofree char *tool = dp_test_build_path ("loader/dp-inspect");
          const char *argv[] = { "env", "DP_PLUGIN_PATH=/nonexistent", tool, cases[i].plugin, NULL };
          g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (
            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
          g_autoptr(GSubprocess) sp = NULL;
          g_autoptr(GError) error = NULL;

          g_subprocess_launcher_set_cwd (l, cases[i].cwd);
          sp = g_subprocess_launcher_spawnv (l, argv, &error);
          g_assert_no_error (error);
          g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, &err, &error);
          g_assert_no_error (error);
          status = g_subprocess_get_exit_status (sp);
        }
      else
        status = run_tool ("loader/dp-inspect", args, NULL, NULL, &out, &err);
      g_test_message ("%s: %s", cases[i].plugin, err);
      g_assert_cmpint (status, ==, 3);
      g_assert_cmpstr (out, ==, "");
      g_assert_nonnull (strstr (err, cases[i].err));
      g_assert_nonnull (g_str_has_prefix (err, "dp-inspect: ") ? err : NULL);
      g_assert_cmpint (strchr (err, '\n') - err, ==, (int) strlen (err) - 1);   /* one line */
    }
}

/* libdp-1.0.pc says where plugins go; the uninstalled one, the build's */
static void
test_pc_plugindir (void)
{
  g_autofree char *pc = dp_test_build_path ("meson-private/libdp-1.0.pc");
  g_autofree char *upc = dp_test_build_path ("meson-uninstalled/libdp-1.0-uninstalled.pc");
  g_autofree char *plugins = dp_test_build_path ("plugins");
  g_autofree char *text = NULL, *utext = NULL, *want = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (pc, &text, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (text, "\nplugindir=${libdir}/libdp-1.0/plugins\n"));
  g_file_get_contents (upc, &utext, NULL, &error);
  g_assert_no_error (error);
  want = g_strdup_printf ("\nplugindir=%s\n", plugins);
  g_assert_nonnull (strstr (utext, want));
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/tools/inspect/echo", test_inspect_echo);
  dp_test_add_func ("/tools/inspect/json", test_inspect_json);
  dp_test_add_func ("/tools/inspect/old-plugins", test_inspect_old_plugins);
  dp_test_add_func ("/tools/inspect/errors", test_inspect_errors);
  dp_test_add_func ("/tools/pc-plugindir", test_pc_plugindir);
  return g_test_run ();
}
