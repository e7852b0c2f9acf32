/* test-tools.c: the command-line tools as their users run them
 *
 * dp-inspect (descriptor, place table, --json, errors), the plugindir
 * variable of libdp-1.0.pc, dp-launch's error messages (each once, naming
 * the cause and the fix) and --log-json.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <glib/gstdio.h>

/* echo by name: the descriptor and its four places, nothing on stderr */
static void
test_inspect_echo (void)
{
  const char *args[] = { "echo", NULL };
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (dp_test_run_tool ("loader/dp-inspect", args, NULL, NULL, &out, &err), ==, 0);
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

  g_assert_cmpint (dp_test_run_tool ("loader/dp-inspect", args, NULL, NULL, &out, &err), ==, 1);
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

  g_assert_cmpint (dp_test_run_tool ("loader/dp-inspect", args1, NULL, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "Name:         test-places\n"));
  g_assert_nonnull (strstr (out, "Places:       not listed (declared with DP_PLUGIN_DEFINE"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (dp_test_run_tool ("loader/dp-inspect", args2, NULL, NULL, &out, &err), ==, 0);
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
        status = dp_test_run_tool ("loader/dp-inspect", args, NULL, NULL, &out, &err);
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

/* dp-launch's usage mistakes: exactly one line naming the mistake, exit 2 */
static void
test_launch_usage_errors (void)
{
  static const char usage[] = "; usage: dp-launch [OPTIONS] HOST:PORT PLUGIN SYMBOL, or "
                              "dp-launch --connect --attach NAME [OPTIONS] HOST:PORT (see --help)\n";
  struct { const char *args[5]; const char *err; } cases[] = {
    { { NULL }, "dp-launch: no HOST:PORT given (localhost:0 spawns a node here on a free port)" },
    { { "localhost:0", NULL }, "dp-launch: no PLUGIN and SYMBOL after localhost:0 (the place to start, e.g. echo echo)" },
    { { "localhost:0", "echo", NULL }, "dp-launch: no SYMBOL after the plugin echo (the place function to start)" },
    { { "localhost:0", "echo", "echo", "x", NULL }, "dp-launch: unexpected argument 'x' after SYMBOL" },
    /* the host parser's own messages, alone */
    { { "localhost", "echo", "echo", NULL }, "dp-launch: 'localhost': no :PORT at the end (the node's port; 0 picks a free one)\n" },
    { { "localhost:abc", "echo", "echo", NULL }, "dp-launch: 'localhost:abc': the port 'abc' is not a number\n" },
    { { "localhost:70000", "echo", "echo", NULL }, "dp-launch: 'localhost:70000': the port 70000 is out of range (0-65535)\n" },
    { { "[::1:0", "echo", "echo", NULL }, "dp-launch: '[::1:0': unbalanced brackets (an IPv6 address is written [address])\n" },
    { { "@host:0", "echo", "echo", NULL }, "dp-launch: '@host:0': the user name before '@' is empty\n" },
    { { "a b:0", "echo", "echo", NULL }, "dp-launch: 'a b:0': the host 'a b' contains ' ', which no host name has\n" },
    { { "plugins/x:0", "echo", "echo", NULL },
      "dp-launch: 'plugins/x:0': the host 'plugins/x' contains '/', which no host name has (a plugin path goes after HOST:PORT)\n" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) args = g_ptr_array_new ();
      g_autofree char *out = NULL, *err = NULL;
      g_autofree char *want = g_str_has_suffix (cases[i].err, "\n") ? g_strdup (cases[i].err)
                                                                     : g_strconcat (cases[i].err, usage, NULL);

      g_ptr_array_add (args, "--no-stdin");
      for (gsize j = 0; cases[i].args[j]; j++)
        g_ptr_array_add (args, (gpointer) cases[i].args[j]);
      g_ptr_array_add (args, NULL);
      g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", (const char * const *) args->pdata, NULL, NULL, &out, &err), ==, 2);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpstr (err, ==, want);
    }
}

/* A plugin that is not found: said once (the node does not also log it),
 * naming the plugin path and the fix */
static void
test_launch_plugin_not_found (void)
{
  const char *args[] = { "--no-stdin", "localhost:0", "no-such-plugin", "echo", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", args, NULL, NULL, &out, &err), ==, 4);
  g_test_message ("%s", err);
  lines = g_strsplit (err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);       /* two lines and "" */
  g_assert_true (g_str_has_prefix (lines[0], "dp-launch: node localhost:"));
  g_assert_true (g_str_has_prefix (lines[1], "dp-launch: cannot start place: cannot open plugin 'no-such-plugin': "
                                             "file not found (plugin path: "));
  g_assert_true (g_str_has_suffix (lines[1], "); give a path (./no-such-plugin.so) or add its directory to DP_PLUGIN_PATH"));
  g_assert_cmpstr (lines[2], ==, "");
}

/* --log-json: standard error is JSON lines only, dp-launch's own messages
 * and libdp's log included */
static void
test_launch_log_json_only (void)
{
  const char *args[] = { "--log-json", "--no-stdin", "localhost:0", "echo", "nope", NULL };
  const char *bad_host[] = { "--log-json", "localhost", "echo", "echo", NULL };
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  guint n = 0;

  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", args, NULL, NULL, &out, &err), ==, 4);
  lines = g_strsplit (err, "\n", -1);
  for (guint i = 0; lines[i] && *lines[i]; i++, n++)
    {
      g_autoptr(JsonNode) line = json_from_string (lines[i], &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (line));
    }
  g_assert_cmpuint (n, >=, 2);      /* the node ready, the place not started */
  g_assert_nonnull (strstr (err, "has no symbol 'nope'"));

  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", bad_host, NULL, NULL, &out2, &err2), ==, 2);
  node = json_from_string (err2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "source"), ==, "dp-launch");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "message"), ==,
                   "'localhost': no :PORT at the end (the node's port; 0 picks a free one)");
}

/* --events-json: the lifecycle as JSON lines, in order; -v says what it
 * spawns (without -v nothing of it) */
static void
test_launch_events_json (void)
{
  const char *args[] = { "--events-json", "--no-stdin", "-m", "\"hi\"", "localhost:0", "echo", "echo", NULL };
  const char *failing[] = { "--events-json", "--no-stdin", "localhost:0", "echo", "nope", NULL };
  const char *verbose[] = { "-v", "--no-stdin", "localhost:0", "echo", "echo", NULL };
  const char *quiet[] = { "--no-stdin", "localhost:0", "echo", "echo", NULL };
  const char *want[] = { "node-spawning", "node-ready", "place-started", "place-died", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", args, NULL, NULL, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "\"hi\"\n");
  lines = g_strsplit (err, "\n", -1);
  for (guint i = 0; lines[i] && *lines[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = json_from_string (lines[i], &error);
      JsonObject *o;

      g_assert_no_error (error);
      o = json_node_get_object (node);
      g_assert_nonnull (want[n]);
      g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, want[n]);
      g_assert_true (json_object_get_double_member (o, "time") > 0);
      if (n == 3)
        g_assert_cmpstr (json_object_get_string_member (o, "exit"), ==, "returned");
      n++;
    }
  g_assert_null (want[n]);

  /* a place that cannot start: its event, then one error line; nothing
   * about the messages it never got */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", failing, NULL, NULL, &out, &err), ==, 4);
  g_assert_nonnull (strstr (err, "{\"event\":\"place-failed\""));
  g_assert_null (strstr (err, "WARNING"));

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", verbose, NULL, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (err, "dp-launch: spawning the node on localhost:0\n"));
  g_assert_null (strstr (err, "GLib-GIO-DEBUG"));     /* -v: libdp's debug, not all of GLib's */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", quiet, NULL, NULL, &out, &err), ==, 0);
  g_assert_null (strstr (err, "spawning"));
}

/* What runs on a node started by hand, asked over the authenticated
 * connection: by the API, and by dp-launch --connect --list */
static void
test_list_places (void)
{
  g_autofree char *node_path = dp_test_build_path ("loader/dp-node");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) node = NULL;
  g_autoptr(GDataInputStream) nout = NULL;
  g_autofree char *ready = NULL, *addr = NULL, *out = NULL, *err = NULL;
  g_autoptr(GBytes) secret = dp_cookie_load (g_getenv ("DP_COOKIE_FILE"), TRUE, &error);
  g_autoptr(DpNode) router = dp_node_new ();
  g_autoptr(DpRemoteNode) rn = NULL;
  g_autoptr(DpRemoteConnection) named = NULL, plain = NULL, client = NULL;
  g_autoptr(GVariant) listing = NULL, places = NULL, clients = NULL;
  g_autoptr(JsonNode) json = NULL;
  guint32 n_clients = 0;
  const char *p;
  guint16 port;

  g_assert_no_error (error);
  dp_node_set_secret (router, secret);
  node = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           node_path, "--listen", "127.0.0.1:0", NULL);
  g_assert_no_error (error);
  nout = g_data_input_stream_new (g_subprocess_get_stdout_pipe (node));
  ready = g_data_input_stream_read_line_utf8 (nout, NULL, NULL, &error);
  g_assert_no_error (error);
  p = ready ? strstr (ready, "\"port\":") : NULL;
  g_assert_nonnull (p);
  port = (guint16) g_ascii_strtoull (p + 7, NULL, 10);

  rn = dp_remote_node_connect (router, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  named = dp_remote_node_launch_place (rn, "echo", "echo_named", 0, "srv");
  g_assert_true (dp_remote_connection_wait_ready (named, NULL, &error));
  plain = dp_remote_node_launch_place (rn, "echo", "echo", 0, NULL);
  g_assert_true (dp_remote_connection_wait_ready (plain, NULL, &error));
  client = dp_remote_node_connect_to_named_place (rn, "srv");
  g_assert_true (dp_remote_connection_wait_ready (client, NULL, &error));

  listing = dp_remote_node_list_places (rn, NULL, &error);
  g_assert_no_error (error);
  places = g_variant_lookup_value (listing, "places", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_cmpuint (g_variant_n_children (places), ==, 2);
  clients = g_variant_lookup_value (listing, "named", G_VARIANT_TYPE ("a{su}"));
  g_assert_true (g_variant_lookup (clients, "srv", "u", &n_clients));
  g_assert_cmpuint (n_clients, ==, 1);

  /* the tool: one line of JSON on stdout, nothing else */
  addr = g_strdup_printf ("127.0.0.1:%u", port);
  {
    const char *args[] = { "--connect", "--list", addr, NULL };
    JsonArray *list;
    gboolean saw_named = FALSE;

    g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", args, NULL, NULL, &out, &err), ==, 0);
    json = json_from_string (out, &error);
    g_assert_no_error (error);
    list = json_object_get_array_member (json_node_get_object (json), "places");
    g_assert_cmpuint (json_array_get_length (list), ==, 2);
    for (guint i = 0; i < 2; i++)
      {
        JsonObject *o = json_array_get_object_element (list, i);
        g_assert_true (g_str_has_prefix (json_object_get_string_member (o, "symbol"), "echo"));
        if (json_object_has_member (o, "name"))
          saw_named = g_str_equal (json_object_get_string_member (o, "name"), "srv");
      }
    g_assert_true (saw_named);
    g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (json_node_get_object (json), "named"), "srv"), ==, 1);
  }
  {
    const char *args[] = { "--list", addr, NULL };
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", args, NULL, NULL, &out, &err), ==, 2);
    g_assert_cmpstr (err, ==, "dp-launch: --list goes with --connect (and not --attach): it asks a running node\n");
  }

  dp_remote_connection_close (client);
  dp_remote_connection_close (plain);
  dp_remote_connection_close (named);
  g_clear_object (&client);
  g_clear_object (&plain);
  g_clear_object (&named);
  g_clear_object (&rn);
  g_subprocess_communicate_utf8 (node, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
}

/* dp-launch --hosts FILE NAME: the host, port and spawn settings of NAME;
 * each mistake in the file is one line naming the file, the host and
 * the member */
static void
test_launch_hosts_file (void)
{
  g_autofree char *plugins = dp_test_build_path ("plugins");
  g_autofree char *dir = g_dir_make_tmp ("dp-hosts-XXXXXX", NULL);
  g_autofree char *good = g_build_filename (dir, "good.json", NULL);
  g_autofree char *good_text = g_strdup_printf (
    "{\"hosts\": {\"here\": {\"host\": \"localhost\", \"method\": \"local\", "
    "\"plugin-dirs\": [\"%s\"], \"ready-timeout\": 60000}}}", plugins);
  struct { const char *text, *err; } bad[] = {
    { "{\"hosts\": {\"here\": {\"host\": \"localhost\", \"prot\": 1}}}",
      ": host 'here': unknown member 'prot' (known: host, port, method, node-path, plugin-dirs, "
      "ready-timeout, ssh-identity, ssh-known-hosts, ssh-config, accept-new-host-key)\n" },
    { "{\"hosts\": {\"here\": {\"host\": \"local host\"}}}",
      ": host 'here': 'local host': the host 'local host' contains ' ', which no host name has\n" },
    { "{\"hosts\": {\"here\": {\"host\": \"localhost\", \"port\": 70000}}}",
      ": host 'here': \"port\" must be a number from 0 to 65535 (0: any)\n" },
    { "{\"hosts\": {\"here\": {\"port\": 1}}}",
      ": host 'here' has no \"host\" string (e.g. \"localhost\", \"user@machine:22\")\n" },
    { "{\"hosts\": [\"localhost\"]}",
      ": expected {\"hosts\": {\"NAME\": {\"host\": ...}, ...}}\n" },
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;

  g_file_set_contents (good, good_text, -1, &error);
  g_assert_no_error (error);
  {
    /* no DP_PLUGIN_PATH: echo is found through the file's plugin-dirs */
    const char *args[] = { "env", "DP_PLUGIN_PATH=", NULL };
    g_autofree char *launch = dp_test_build_path ("loader/dp-launch");
    const char *argv[] = { args[0], args[1], launch, "--hosts", good, "--no-stdin", "-m", "\"x\"",
                           "here", "echo", "echo", NULL };
    g_autoptr(GSubprocess) sp = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                          G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, &err, &error);
    g_assert_no_error (error);
    g_test_message ("%s", err);
    g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);
    g_assert_cmpstr (out, ==, "\"x\"\n");
  }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *file = g_build_filename (dir, "bad.json", NULL);
      g_autofree char *want = NULL;
      const char *args[] = { "--hosts", file, "here", "echo", "echo", NULL };

      g_file_set_contents (file, bad[i].text, -1, &error);
      g_assert_no_error (error);
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (dp_test_run_tool ("loader/dp-launch", args, NULL, NULL, &out, &err), ==, 2);
      want = g_strconcat (i == 4 ? "dp-launch: hosts file " : "dp-launch: ", file, bad[i].err, NULL);
      g_assert_cmpstr (err, ==, want);
      g_unlink (file);
    }
  g_unlink (good);
  g_rmdir (dir);
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
  dp_test_add_func ("/tools/launch/usage-errors", test_launch_usage_errors);
  dp_test_add_func ("/tools/launch/plugin-not-found", test_launch_plugin_not_found);
  dp_test_add_func ("/tools/launch/log-json-only", test_launch_log_json_only);
  dp_test_add_func ("/tools/launch/events-json", test_launch_events_json);
  dp_test_add_func ("/tools/launch/list", test_list_places);
  dp_test_add_func ("/tools/launch/hosts-file", test_launch_hosts_file);
  return g_test_run ();
}
