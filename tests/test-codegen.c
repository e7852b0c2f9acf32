/* test-codegen.c: dp-codegen as its users run it
 *
 * Good descriptions give three files; bad ones are refused with exit
 * status 1 and a message that says where; usage errors give status 2.
 * (That the generated code compiles without warnings is checked by the
 * build: tests/meson.build compiles everything.json's code with -Werror.)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  int   status;
  char *out;
  char *err;
} Ran;

static void
ran_clear (Ran *r)
{
  g_free (r->out);
  g_free (r->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Ran, ran_clear)

static void
run_codegen (Ran         *r,
             const char  *dir,
             const char  *first_arg,
             ...)
{
  g_autofree char *prog = dp_test_build_path ("sdk/dp-codegen");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GError) error = NULL;
  va_list ap;

  g_ptr_array_add (argv, prog);
  va_start (ap, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_cwd (launcher, dir);
  sp = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &r->out, &r->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (sp));
  r->status = g_subprocess_get_exit_status (sp);
}

static char *
write_json (const char *dir,
            const char *name,
            const char *json)
{
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  return path;
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

static void
test_help (void)
{
  g_autofree char *dir = g_dir_make_tmp ("dp-codegen-XXXXXX", NULL);
  g_auto(Ran) help = { 0, };
  g_auto(Ran) none = { 0, };
  g_auto(Ran) bad_option = { 0, };

  run_codegen (&help, dir, "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  g_assert_nonnull (strstr (help.out, "--generate-c-code"));
  g_assert_nonnull (strstr (help.out, "\"rpc\""));
  run_codegen (&none, dir, NULL);
  g_assert_cmpint (none.status, ==, 2);
  g_assert_nonnull (strstr (none.err, "--generate-c-code"));
  run_codegen (&bad_option, dir, "--no-such-option", NULL);
  g_assert_cmpint (bad_option.status, ==, 2);
  remove_dir (dir);
}

static void
test_good (void)
{
  g_autofree char *dir = g_dir_make_tmp ("dp-codegen-XXXXXX", NULL);
  g_autofree char *json = write_json (dir, "kv.json",
    "{ \"name\": \"kv-store\", \"named\": true,"
    "  \"rpc\": [ { \"name\": \"put-value\", \"args\": [ { \"name\": \"key\", \"type\": \"s\" } ],"
    "             \"result\": \"()\" } ],"
    "  \"cast\": [ { \"name\": \"ping\" } ] }");
  g_auto(Ran) r = { 0, };
  const char *files[] = { "kv.h", "kv-server.c", "kv-client.c" };

  run_codegen (&r, dir, "--generate-c-code", "kv", json, NULL);
  g_assert_cmpstr (r.err, ==, "");
  g_assert_cmpint (r.status, ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (dir, files[i], NULL);
      g_autofree char *text = NULL;

      g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
      if (i == 0)
        {
          g_assert_nonnull (strstr (text, "gboolean kv_store_call_put_value_sync (DpChannel *channel"));
          g_assert_nonnull (strstr (text, "void kv_store_call_put_value_async (DpChannel *channel"));
          g_assert_nonnull (strstr (text, "gboolean kv_store_call_put_value_finish (DpChannel *channel"));
          g_assert_nonnull (strstr (text, "gboolean kv_store_cast_ping (DpChannel *channel"));
          g_assert_nonnull (strstr (text, "gboolean kv_store_handle_put_value (const gchar *arg_key"));
          g_assert_nonnull (strstr (text, "void kv_store_handle_ping (void);"));
          g_assert_nonnull (strstr (text, "DP_PLACE_EXPORT void make_kv_store (DpPlaceChannel *channel);"));
          g_assert_nonnull (strstr (text, "#define KV_STORE_SERVER_NAME \"kv-store\""));
        }
    }
  remove_dir (dir);
}

/* each bad description: exit status 1, and the message names the place */
static void
test_bad (void)
{
  static const struct { const char *json; const char *message; } cases[] = {
    { "{ \"name\": ", "" },                                                   /* not JSON */
    { "[]", "must be a JSON object" },
    { "{ \"rpc\": [] }", "\"name\" is missing" },
    { "{ \"name\": \"1x\", \"cast\": [ { \"name\": \"a\" } ] }", "must be a letter" },
    { "{ \"name\": \"x\" }", "has no method" },
    { "{ \"name\": \"x\", \"rcp\": [] }", "unknown key \"rcp\"" },
    { "{ \"name\": \"x\", \"named\": \"yes\", \"cast\": [ { \"name\": \"a\" } ] }", "\"named\" must be true or false" },
    { "{ \"name\": \"x\", \"state\": \"my state\", \"cast\": [ { \"name\": \"a\" } ] }", "must be a C type name" },
    { "{ \"name\": \"x\", \"rpc\": {} }", "\"rpc\" must be an array" },
    { "{ \"name\": \"x\", \"rpc\": [ { \"name\": \"a\" } ] }", "rpc[0] (\"a\"): \"result\" is missing" },
    { "{ \"name\": \"x\", \"rpc\": [ { \"name\": \"a\", \"result\": \"z\" } ] }", "\"z\" is not a GVariant type string" },
    { "{ \"name\": \"x\", \"rpc\": [ { \"name\": \"a\", \"result\": \"a*\" } ] }", "not a definite type" },
    { "{ \"name\": \"x\", \"rpc\": [ { \"name\": \"a\", \"result\": \"h\" } ] }", "file handle" },
    { "{ \"name\": \"x\", \"cast\": [ { \"name\": \"a\", \"result\": \"s\" } ] }", "cast[0] (\"a\"): unknown key \"result\"" },
    { "{ \"name\": \"x\", \"cast\": [ { \"name\": \"a\", \"args\": [ { \"name\": \"n\" } ] } ] }", "args[0]: \"type\" is missing" },
    { "{ \"name\": \"x\", \"cast\": [ { \"name\": \"a\", \"args\": [ { \"name\": \"n\", \"type\": \"?\" } ] } ] }", "not a definite type" },
    { "{ \"name\": \"x\", \"cast\": [ { \"name\": \"a\", \"args\": [ { \"name\": \"error\", \"type\": \"s\" } ] } ] }", "must be a C identifier other than" },
    { "{ \"name\": \"x\", \"cast\": [ { \"name\": \"a\", \"args\": [ { \"name\": \"n\", \"type\": \"s\" }, { \"name\": \"n\", \"type\": \"x\" } ] } ] }", "two arguments are named \"n\"" },
    { "{ \"name\": \"x\", \"rpc\": [ { \"name\": \"a-b\", \"result\": \"s\" } ], \"cast\": [ { \"name\": \"a_b\" } ] }", "same C name a_b" },
    { "{ \"name\": \"x\", \"cast\": [ 5 ] }", "cast[0]: a method must be an object" },
  };
  g_autofree char *dir = g_dir_make_tmp ("dp-codegen-XXXXXX", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = write_json (dir, "bad.json", cases[i].json);
      g_auto(Ran) r = { 0, };
      g_autofree char *h = g_build_filename (dir, "bad.h", NULL);

      run_codegen (&r, dir, "--generate-c-code", "bad", json, NULL);
      g_test_message ("%s -> %s", cases[i].json, r.err);
      g_assert_cmpint (r.status, ==, 1);
      g_assert_true (g_str_has_prefix (r.err, "dp-codegen: "));
      g_assert_nonnull (strstr (r.err, "bad.json"));
      g_assert_nonnull (strstr (r.err, cases[i].message));
      g_assert_false (g_file_test (h, G_FILE_TEST_EXISTS));    /* nothing written */
    }
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/codegen/help", test_help);
  dp_test_add_func ("/codegen/good", test_good);
  dp_test_add_func ("/codegen/bad", test_bad);
  return g_test_run ();
}
