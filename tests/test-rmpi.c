/* test-rmpi.c: RMPI ranks on real dp-node processes (loopback, ephemeral
 * ports), launched from JSON configs; the ranks' places are in
 * tests/plugins/rmpi-places.c, and samples/rmpi is run as a program.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"

#include <string.h>
#include <glib/gstdio.h>

/* ---- samples/rmpi: its output, exactly ---- */

static char *
expected_sample (guint n)
{
  static const char *ops[] = { "broadcast", "reduce", "barrier", "allreduce", "gather",
                               "allgather", "alltoall", "partition", "split" };
  GString *out = g_string_new (NULL);

  for (guint k = 0; k < G_N_ELEMENTS (ops); k++)
    for (guint r = 0; r < n; r++)
      {
        GString *res = g_string_new (NULL);

        switch (k)
          {
          case 0: g_string_append (res, "\"Hello World\""); break;
          case 1:
            if (r == 0) g_string_append_printf (res, "%u", n * (n + 1) / 2);
            else g_string_append (res, "null");
            break;
          case 2: g_string_append (res, "true"); break;
          case 3: g_string_append_printf (res, "%u", n - 1); break;
          case 4:
            if (r != 0) { g_string_append (res, "null"); break; }
            g_string_append_c (res, '[');
            for (guint i = 0; i < n; i++)
              g_string_append_printf (res, "%s%u", i ? "," : "", i * i);
            g_string_append_c (res, ']');
            break;
          case 5:
            g_string_append_c (res, '[');
            for (guint i = 0; i < n; i++)
              g_string_append_printf (res, "%s[%u]", i ? "," : "", i);
            g_string_append_c (res, ']');
            break;
          case 6:
            g_string_append_c (res, '[');
            for (guint i = 0; i < n; i++)
              g_string_append_printf (res, "%s\"%u->%u\"", i ? "," : "", i, r);
            g_string_append_c (res, ']');
            break;
          case 7:
            {
              guint q = 10 / n, rem = 10 % n;
              g_string_append_printf (res, "[%u,%u]", r * q + MIN (r, rem), q + (r < rem ? 1 : 0));
            }
            break;
          case 8:
            {
              guint c = r % 2, size = c == 0 ? (n + 1) / 2 : n / 2;
              g_string_append_printf (res, "{\"color\":%u,\"size\":%u,\"rank\":%u}", c, size, r / 2);
            }
            break;
          }
        g_string_append_printf (out, "{\"rank\": %u, \"op\": \"%s\", \"result\": %s}\n", r, ops[k], res->str);
        g_string_free (res, TRUE);
      }
  return g_string_free (out, FALSE);
}

static void
test_sample (gconstpointer data)
{
  guint n = GPOINTER_TO_UINT (data);
  g_autofree char *prog = dp_test_build_path ("samples/rmpi/rmpi");
  g_autofree char *ranks = g_strdup_printf ("%u", n);
  g_autofree char *expected = expected_sample (n);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         prog, "--ranks", ranks, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (sp) || g_subprocess_get_exit_status (sp) != 0)
    g_error ("rmpi --ranks %u failed: %s", n, err);
  g_assert_cmpstr (out, ==, expected);
}

/* ---- scenarios from tests/plugins/rmpi-places.c ---- */

static char *
config_for (guint n, const char *scenario)
{
  g_autoptr(GVariant) args = g_variant_ref_sink (g_variant_new_string (scenario));
  g_autofree char *defaults = dp_rmpi_build_default_config ("rmpi-places", "scenario", args);

  return dp_rmpi_make_localhost_config (defaults, n, 0, "r");
}

static GVariant *
launch (guint n, const char *scenario, GError **error)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autofree char *config = config_for (n, scenario);

  return dp_rmpi_launch (router, config, NULL, error);
}

/* rank @r's result */
static GVariant *
result_of (GVariant *results, guint r)
{
  GVariant *v;

  g_variant_get_child (results, r, "v", &v);
  return v;
}

static void
assert_variant (GVariant *got, const char *expected_text)
{
  g_autofree char *text = g_variant_print (got, FALSE);

  g_assert_cmpstr (text, ==, expected_text);
}

/* p2p messages sent before a collective (to others and to oneself) are
 * neither taken by it nor reordered */
static void
test_mix (gconstpointer data)
{
  guint n = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (n, "mix", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (results), ==, n);
  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GVariant) v = result_of (results, r);
      assert_variant (v, "true");
    }
}

static void
test_reductions (void)
{
  const guint n = 6;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (n, "reductions", &error);

  g_assert_no_error (error);
  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GVariant) v = result_of (results, r);
      g_autoptr(GVariantDict) d = g_variant_dict_new (v);
      g_autoptr(GVariant) x = NULL;

#define CHECK(key, text) \
      x = g_variant_dict_lookup_value (d, key, NULL); \
      g_assert_nonnull (x); \
      assert_variant (x, text); \
      g_clear_pointer (&x, g_variant_unref)
      CHECK ("sum-array", "[15, 6, -15]");
      CHECK ("min-tuple", "(0.5, -5)");
      CHECK ("product", "720.0");
      CHECK ("and", "false");
      CHECK ("or", "true");
      CHECK ("concat", "'012345'");
      CHECK ("bcast-mid", "'3'");
      if (r == n - 1)
        {
          CHECK ("reduce-last", "'012345'");
          CHECK ("gather-last", "[<'0'>, <'1'>, <'2'>, <'3'>, <'4'>, <'5'>]");
        }
#undef CHECK
    }
}

static void
test_reduce_values (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) a = g_variant_ref_sink (g_variant_new_parsed ("[1, 2, 3]"));
  g_autoptr(GVariant) b = g_variant_ref_sink (g_variant_new_parsed ("[10, 20]"));
  g_autoptr(GVariant) s = g_variant_ref_sink (g_variant_new_string ("x"));
  g_autoptr(GVariant) r = NULL;

  r = dp_rmpi_reduce_values (DP_RMPI_MAX, a, a, &error);
  g_assert_no_error (error);
  assert_variant (r, "[1, 2, 3]");
  g_assert_null (dp_rmpi_reduce_values (DP_RMPI_SUM, a, b, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (dp_rmpi_reduce_values (DP_RMPI_SUM, s, s, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
}

static void
test_alltoallv (void)
{
  const guint n = 4;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (n, "alltoallv", &error);

  g_assert_no_error (error);
  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GVariant) v = result_of (results, r);
      g_autoptr(GString) expected = g_string_new ("[");

      /* r+1 copies of every rank's id */
      for (guint i = 0; i < n; i++)
        for (guint k = 0; k <= r; k++)
          g_string_append_printf (expected, "%s%u", expected->len > 1 ? ", " : "", i);
      g_string_append_c (expected, ']');
      assert_variant (v, expected->str);
    }
}

static void
test_split_duplicate (void)
{
  const guint n = 4;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (n, "split-duplicate", &error);

  g_assert_no_error (error);
  for (guint r = 0; r < n; r++)
    {
      g_autoptr(GVariant) v = result_of (results, r);
      gint32 code;
      const char *message;

      g_assert_cmpstr (g_variant_get_type_string (v), ==, "(is)");
      g_variant_get (v, "(i&s)", &code, &message);
      g_assert_cmpint (code, ==, DP_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (message, "ranks 1 and 2 both have color 0 and key 1"));
    }
}

static void
test_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (3, "timeout", &error);
  g_autoptr(GVariant) r0 = NULL;

  g_assert_no_error (error);
  r0 = result_of (results, 0);
  assert_variant (r0, "(true, 'late')");
}

/* a rank that goes (its node dies, or its place returns) while the others
 * need it: dp_rmpi_launch fails naming it, no hang */
static void
test_lost (gconstpointer data)
{
  const char *scenario = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = launch (5, scenario, &error);

  g_assert_null (results);
  g_assert_error (error, DP_ERROR, DP_ERROR_RANK_LOST);
  if (strstr (error->message, "rank 2") == NULL)
    g_error ("the error does not name rank 2: %s", error->message);
}

/* bad configs: clear errors, nothing spawned */
static void
test_bad_config (void)
{
  static const struct { const char *config, *says; } cases[] = {
    { "not json", "not JSON" },
    { "[]", "not a JSON object" },
    { "{\"ranks\": []}", "non-empty array" },
    { "{\"rank\": [{\"id\": 0}]}", "unknown key 'rank'" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\", \"colour\": 1}, \"ranks\": [{\"id\": 0}]}", "unknown key 'colour'" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0}, {\"id\": 0}]}", "two ranks have id 0" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0}, {\"id\": 2}]}", "the id of ranks[1]" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\"}, \"ranks\": [{\"id\": 0}]}", "rank 0 has no host" },
    { "{\"defaults\": {\"plugin\": \"p\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0}]}", "rank 0 has no symbol" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0, \"port\": 70000}]}", "port of rank 0" },
    { "{\"defaults\": {\"plugin\": \"p\", \"symbol\": \"s\", \"host\": \"localhost\"}, \"ranks\": [{\"id\": 0, \"name\": \"a\"}, {\"id\": 1, \"name\": \"a\"}]}", "two ranks are named 'a'" },
  };
  g_autoptr(DpNode) router = dp_test_new_router ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) r = dp_rmpi_launch (router, cases[i].config, NULL, &error);

      g_assert_null (r);
      g_assert_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, cases[i].says) == NULL)
        g_error ("config %s: expected '%s' in: %s", cases[i].config, cases[i].says, error->message);
      g_clear_error (&error);
      g_assert_false (dp_rmpi_check_config (cases[i].config, &error));
    }
}

/* a rank whose place cannot start: an error naming it, every node stopped */
static void
test_bad_symbol (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  const char *config = "{\"defaults\": {\"host\": \"localhost\", \"plugin\": \"rmpi-places\", "
                       "\"symbol\": \"scenario\", \"args\": \"mix\"}, "
                       "\"ranks\": [{\"id\": 0}, {\"id\": 1, \"symbol\": \"no_such_rank\"}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;

  dp_test_allow_log ("Dp", G_LOG_LEVEL_WARNING, "*no_such_rank*");
  r = dp_rmpi_launch (router, config, NULL, &error);
  g_assert_null (r);
  g_assert_error (error, DP_ERROR, DP_ERROR_SYMBOL_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "rank 1"));
}

static void
test_configs (void)
{
  g_autofree char *defaults = dp_rmpi_build_default_config ("pl", "sym", g_variant_new_int32 (7));
  const char *hosts[] = { "a", "b", NULL };
  g_autofree char *local = dp_rmpi_make_localhost_config (defaults, 3, 6340, "x");
  g_autofree char *remote = dp_rmpi_make_remote_config (defaults, hosts, 5, 7000, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (dp_rmpi_check_config (local, &error));
  g_assert_no_error (error);
  g_assert_true (dp_rmpi_check_config (remote, &error));
  g_assert_nonnull (strstr (local, "\"x2\""));
  g_assert_nonnull (strstr (local, "6342"));
  /* stops at the shorter of the hosts and the count */
  g_assert_nonnull (strstr (remote, "\"rmpi1\""));
  g_assert_null (strstr (remote, "\"rmpi2\""));
  g_assert_nonnull (strstr (remote, "7001"));
}

/* dp-launch --rmpi CONFIG.json: one JSON line per rank; a lost rank is
 * exit status 6 with {"error": ...}; a bad config exit status 2 */
static void
run_launch (const char *json, int expect_status, char **out)
{
  g_autofree char *prog = dp_test_build_path ("loader/dp-launch");
  g_autofree char *dir = g_dir_make_tmp ("rmpi-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "job.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autofree char *err = NULL;

  g_assert_true (g_file_set_contents (file, json, -1, &error));
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         prog, "--rmpi", file, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (sp));
  if (g_subprocess_get_exit_status (sp) != expect_status)
    g_error ("dp-launch --rmpi exited %d, expected %d: %s", g_subprocess_get_exit_status (sp),
             expect_status, err);
  g_unlink (file);
  g_rmdir (dir);
}

static void
test_cli (void)
{
  g_autofree char *ok = NULL, *lost = NULL, *bad = NULL;

  run_launch ("{\"defaults\": {\"host\": \"localhost\", \"plugin\": \"rmpi-places\", "
              "\"symbol\": \"scenario\", \"args\": \"mix\"}, "
              "\"ranks\": [{\"id\": 1}, {\"id\": 0, \"name\": \"first\"}, {\"id\": 2}]}", 0, &ok);
  g_assert_cmpstr (ok, ==, "{\"rank\": 0, \"result\": true}\n{\"rank\": 1, \"result\": true}\n"
                           "{\"rank\": 2, \"result\": true}\n");
  run_launch ("{\"defaults\": {\"host\": \"localhost\", \"plugin\": \"rmpi-places\", "
              "\"symbol\": \"scenario\", \"args\": \"lose-return\"}, "
              "\"ranks\": [{\"id\": 0}, {\"id\": 1}, {\"id\": 2}, {\"id\": 3}]}", 6, &lost);
  g_assert_true (g_str_has_prefix (lost, "{\"error\": "));
  g_assert_nonnull (strstr (lost, "rank 2"));
  run_launch ("{\"ranks\": [{\"id\": 0, \"hots\": \"x\"}]}", 2, &bad);
  g_assert_cmpstr (bad, ==, "");
}

/* ---- map-reduce ---- */

static DpMapReduceWorkers *
workers_new (DpNode *router, guint n)
{
  g_autoptr(GError) error = NULL;
  g_autofree DpNodeDesc *descs = g_new0 (DpNodeDesc, n);
  DpMapReduceWorkers *w;

  for (guint i = 0; i < n; i++)
    descs[i] = (DpNodeDesc) { "localhost", 0, NULL };
  w = dp_make_map_reduce_workers (router, descs, n, &error);
  g_assert_no_error (error);
  return w;
}

static GVariant *
int_tasks (gint32 from, gint32 to, gint32 extra)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("ai"));
  for (gint32 i = from; i < to; i++)
    g_variant_builder_add (&b, "i", i);
  if (extra != 0)
    g_variant_builder_add (&b, "i", extra);
  return g_variant_builder_end (&b);
}

/* pair keys (default sorter), pairwise reduces over the mesh, reused
 * workers, an outputer on the master */
static void
test_map_reduce_pairs (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpMapReduceWorkers) w = workers_new (router, 3);
  DpPluginFunc mapper = { "rmpi-places", "pair_mapper" }, reducer = { "rmpi-places", "sum_reducer" };
  DpPluginFunc outputer = { "rmpi-places", "count_outputer" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GVariant) counted = NULL;
  g_autoptr(GString) expected = g_string_new ("[");

  /* 0..29: key (n%3, n%2) has 5 numbers each; values: 5 ones + the numbers */
  r = dp_map_reduce (w, int_tasks (0, 30, 0), &mapper, &reducer, NULL, NULL, &error);
  g_assert_no_error (error);
  for (gint32 a = 0; a < 3; a++)
    for (gint32 b = 0; b < 2; b++)
      {
        gint32 sum = 5;
        for (gint32 n = 0; n < 30; n++)
          if (n % 3 == a && n % 2 == b)
            sum += n;
        g_string_append_printf (expected, "%s(<(%d, %d)>, [<%d>])", expected->len > 1 ? ", " : "", a, b, sum);
      }
  g_string_append_c (expected, ']');
  assert_variant (r, expected->str);

  counted = dp_map_reduce (w, int_tasks (0, 7, 0), &mapper, &reducer, NULL, &outputer, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (counted, G_VARIANT_TYPE_UINT32));
  g_assert_cmpuint (g_variant_get_uint32 (counted), ==, 6);
}

/* a worker whose node dies in the middle: an error naming it, no hang */
static void
test_map_reduce_lost (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpMapReduceWorkers) w = workers_new (router, 2);
  DpPluginFunc mapper = { "rmpi-places", "pair_mapper" }, reducer = { "rmpi-places", "sum_reducer" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = dp_map_reduce (w, int_tasks (0, 5, -1), &mapper, &reducer, NULL, NULL, &error);

  g_assert_null (r);
  g_assert_error (error, DP_ERROR, DP_ERROR_RANK_LOST);
  g_assert_nonnull (strstr (error->message, "worker mpw"));
  g_clear_error (&error);
  /* and the workers say so from then on */
  g_assert_null (dp_map_reduce (w, int_tasks (0, 2, 0), &mapper, &reducer, NULL, NULL, &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_RANK_LOST);
}

static void
test_default_sorter (void)
{
  static const char *ordered[] = { "-3", "false", "int64 2", "2.5", "uint64 18446744073709551615",
                                   "'a'", "'b'", "(1, 'a')", "(1, 'b')", "(2, 'a')", "(2, 'a', 0)" };

  for (guint i = 0; i < G_N_ELEMENTS (ordered); i++)
    for (guint j = 0; j < G_N_ELEMENTS (ordered); j++)
      {
        g_autoptr(GVariant) a = g_variant_ref_sink (g_variant_new_parsed (ordered[i]));
        g_autoptr(GVariant) b = g_variant_ref_sink (g_variant_new_parsed (ordered[j]));
        int c = dp_map_reduce_default_sorter (a, b);

        if ((i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0))
          g_error ("default sorter: %s vs %s gave %d", ordered[i], ordered[j], c);
      }
}

static gint
by_string (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* samples/map-reduce/wordcount against a count made here */
static void
test_wordcount (void)
{
  g_autofree char *prog = dp_test_build_path ("samples/map-reduce/wordcount");
  g_autofree char *dir = g_dir_make_tmp ("wc-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "text.txt", NULL);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) words = g_ptr_array_new ();
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  guint32 seed = 12345;
  static const char *vocab[] = { "alpha", "Beta", "gamma", "delta", "x1", "y", "zeta", "eta", "theta", "9" };

  for (guint i = 0; i < 3000; i++)
    {
      seed = seed * 1103515245u + 12345u;
      g_string_append (text, vocab[(seed >> 16) % G_N_ELEMENTS (vocab)]);
      g_string_append (text, i % 11 == 10 ? ".\n" : (i % 3 ? " " : ", "));
    }
  g_assert_true (g_file_set_contents (file, text->str, -1, &error));
  /* the count made another way: split on what is not a letter or digit */
  {
    g_auto(GStrv) parts = g_regex_split_simple ("[^A-Za-z0-9]+", text->str, 0, 0);
    for (guint i = 0; parts[i]; i++)
      if (*parts[i])
        {
          char *w = g_ascii_strdown (parts[i], -1);
          gpointer n = g_hash_table_lookup (counts, w);
          g_hash_table_replace (counts, w, GUINT_TO_POINTER (GPOINTER_TO_UINT (n) + 1));
        }
  }
  {
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init (&it, counts);
    while (g_hash_table_iter_next (&it, &k, NULL))
      g_ptr_array_add (words, k);
    g_ptr_array_sort (words, by_string);
    for (guint i = 0; i < words->len; i++)
      g_string_append_printf (expected, "[\"%s\", %u]\n", (char *) words->pdata[i],
                              GPOINTER_TO_UINT (g_hash_table_lookup (counts, words->pdata[i])));
  }
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         prog, "--workers", "3", file, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (sp) || g_subprocess_get_exit_status (sp) != 0)
    g_error ("wordcount failed: %s", err);
  g_assert_cmpstr (out, ==, expected->str);
  g_unlink (file);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  static const guint sizes[] = { 5, 1, 2, 3, 7, 8 };

  dp_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/rmpi/sample/%u", sizes[i]);
      g_test_add_data_func (path, GUINT_TO_POINTER (sizes[i]), test_sample);
    }
  g_test_add_data_func ("/rmpi/mix/3", GUINT_TO_POINTER (3), test_mix);
  g_test_add_data_func ("/rmpi/mix/6", GUINT_TO_POINTER (6), test_mix);
  dp_test_add_func ("/rmpi/reductions", test_reductions);
  dp_test_add_func ("/rmpi/reduce-values", test_reduce_values);
  dp_test_add_func ("/rmpi/alltoallv", test_alltoallv);
  dp_test_add_func ("/rmpi/split-duplicate-key", test_split_duplicate);
  dp_test_add_func ("/rmpi/recv-timeout", test_timeout);
  g_test_add_data_func ("/rmpi/lost/node-dies", "lose-exit", test_lost);
  g_test_add_data_func ("/rmpi/lost/place-returns", "lose-return", test_lost);
  dp_test_add_func ("/rmpi/bad-config", test_bad_config);
  dp_test_add_func ("/rmpi/configs", test_configs);
  dp_test_add_func ("/rmpi/bad-symbol", test_bad_symbol);
  dp_test_add_func ("/rmpi/dp-launch", test_cli);
  dp_test_add_func ("/map-reduce/pairs", test_map_reduce_pairs);
  dp_test_add_func ("/map-reduce/worker-lost", test_map_reduce_lost);
  dp_test_add_func ("/map-reduce/default-sorter", test_default_sorter);
  dp_test_add_func ("/map-reduce/wordcount", test_wordcount);
  return g_test_run ();
}
