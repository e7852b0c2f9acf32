/* test-samples.c: the ported seed examples, run as their users run them
 *
 * Each sample program from samples/ is started as a subprocess with
 * DP_TIME_SCALE=20, so libdp timers and the places' dp_sleep() run twenty
 * times faster; its standard output is compared with what the seed prints.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <string.h>

#define TIME_SCALE 20.0
/* a hung sample is killed after this long, and the test fails */
#define WATCHDOG_SECONDS 120

typedef struct {
  GMainLoop  *loop;
  char       *out;
  GError     *error;
  gboolean    timed_out;
  gboolean    done;
} Run;

typedef struct {
  char     *out;        /* everything the sample wrote on stdout */
  gboolean  exited;     /* it exited (rather than being killed) */
  int       status;     /* its exit status, if it exited */
  gdouble   elapsed;    /* real seconds from spawn to exit */
} Result;

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->out, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Result, result_clear)

static char *
build_path (const char *rel)
{
  const char *dir = g_getenv ("DP_BUILD_DIR");

  g_assert_nonnull (dir);
  return g_build_filename (dir, rel, NULL);
}

static void
communicated (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Run *run = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &run->out, NULL, &run->error);
  run->done = TRUE;
  g_main_loop_quit (run->loop);
}

static gboolean
watchdog (gpointer data)
{
  Run *run = data;

  run->timed_out = TRUE;
  g_main_loop_quit (run->loop);
  return G_SOURCE_REMOVE;
}

/* Runs build/samples/@rel with @args (NULL-terminated) at TIME_SCALE and
 * waits until it has exited and closed its stdout. */
static void
run_sample (const char  *rel,
            Result      *result,
            const char  *first_arg,
            ...)
{
  g_autofree char *path = build_path (rel);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (ctx, FALSE);
  g_autoptr(GSource) timeout = g_timeout_source_new_seconds (WATCHDOG_SECONDS);
  g_autofree char *scale = g_strdup_printf ("%g", TIME_SCALE);
  Run run = { loop, NULL, NULL, FALSE, FALSE };
  gint64 start;
  va_list ap;

  g_ptr_array_add (argv, path);
  va_start (ap, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "DP_TIME_SCALE", scale, TRUE);
  g_main_context_push_thread_default (ctx);
  start = g_get_monotonic_time ();
  sp = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);

  g_subprocess_communicate_utf8_async (sp, NULL, NULL, communicated, &run);
  g_source_set_callback (timeout, watchdog, &run, NULL);
  g_source_attach (timeout, ctx);
  g_main_loop_run (loop);
  if (!run.done)
    {
      /* killed by the watchdog: let the communication finish */
      g_subprocess_force_exit (sp);
      while (!run.done)
        g_main_context_iteration (ctx, TRUE);
    }
  g_source_destroy (timeout);
  g_subprocess_wait (sp, NULL, &error);
  g_assert_no_error (error);
  result->elapsed = (g_get_monotonic_time () - start) / (gdouble) G_USEC_PER_SEC;
  g_main_context_pop_thread_default (ctx);

  if (run.out)
    g_test_message ("%s wrote (in %.2f s):\n%s", rel, result->elapsed, run.out);
  g_assert_no_error (run.error);
  g_assert_false (run.timed_out);
  result->out = g_steal_pointer (&run.out);
  result->exited = g_subprocess_get_if_exited (sp);
  result->status = result->exited ? g_subprocess_get_exit_status (sp) : -1;
}

static guint
count_lines (const char *text,
             const char *line)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_equal (lines[i], line))
      n++;
  return n;
}

/* the index of the first line equal to @line, or -1 */
static gint
find_line (const char *text,
           const char *line)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_equal (lines[i], line))
      return (gint) i;
  return -1;
}

/* restarter.rkt: four runs (the 2nd at once, the 3rd and 4th 5 s after the
 * previous death), then `Failed 3 times exititing` and status 1 */
static void
test_restarter (void)
{
  g_auto(Result) r = { 0, };
  g_autoptr(GString) expected = g_string_new (NULL);
  /* run 1, restart at once, run 2, 5 s, run 3, 5 s, run 4 */
  const gdouble schedule = (1 + 1 + 5 + 1 + 5 + 1) / TIME_SCALE;

  run_sample ("samples/restart/restarter", &r, NULL);
  for (int i = 0; i < 4; i++)
    g_string_append (expected, "BEGINING SLEEP\nSLEEP DONE\n");
  g_string_append (expected, "Failed 3 times exititing\n");
  g_assert_cmpstr (r.out, ==, expected->str);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 1);
  /* the 3rd and 4th runs were deferred, and nothing waited much longer */
  g_assert_cmpfloat (r.elapsed, >=, schedule);
  g_assert_cmpfloat (r.elapsed, <, schedule + 30);
}

/* examples/restart/master.rkt: the place is relaunched whenever it ends */
static void
test_restart (void)
{
  g_auto(Result) r = { 0, };

  run_sample ("samples/restart/restart", &r, "--seconds", "12", NULL);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 0);
  /* a run takes 5 s: in 12 s it ran at least twice */
  g_assert_cmpuint (count_lines (r.out, "BEGINING SLEEP"), >=, 2);
  g_assert_cmpuint (count_lines (r.out, "SLEEP DONE"), >=, 1);
}

/* examples/multiple/master.rkt, stopped after 8 s */
static void
test_multiple (void)
{
  g_auto(Result) r = { 0, };
  gint created, ok10, ok5;

  run_sample ("samples/multiple/multiple", &r, "--seconds", "8", NULL);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (count_lines (r.out, "Hello from every-seconds"), >=, 1);
  created = find_line (r.out, "(created user0)");
  ok10 = find_line (r.out, "(ok 10)");
  ok5 = find_line (r.out, "(ok 5)");
  g_assert_cmpint (created, >=, 0);
  g_assert_cmpint (ok10, >, created);
  g_assert_cmpint (ok5, >, ok10);
  g_assert_cmpuint (count_lines (r.out, "BEGINING SLEEP"), >=, 1);
  /* the workers print (SECONDS "HI" i) */
  g_assert_true (g_regex_match_simple ("^\\([0-9]+ \"HI\" 0\\)$", r.out, G_REGEX_MULTILINE, 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/samples/restarter", test_restarter);
  g_test_add_func ("/samples/restart", test_restart);
  g_test_add_func ("/samples/multiple", test_multiple);
  return g_test_run ();
}
