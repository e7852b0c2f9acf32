/* test-samples.c: the ported seed examples, run as their users run them
 *
 * Each sample program from samples/ is started as a subprocess with
 * DP_TIME_SCALE=20, so libdp timers and the places' dp_sleep() run twenty
 * times faster; its standard output is compared with what the seed prints.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"

#include <string.h>

#include <signal.h>

#define TIME_SCALE 10.0
/* a hung sample is killed after this long, and the test fails */
#define WATCHDOG_SECONDS 120

/* Decides from what a sample has printed so far whether it has shown what
 * the test waits for; the sample is then stopped with SIGTERM. */
typedef gboolean (*SeenEnough) (const char *out);

typedef struct {
  GMainLoop        *loop;
  GSubprocess      *sp;
  GDataInputStream *in;
  GString          *out;
  SeenEnough        until;
  GError           *error;
  gboolean          terminated;   /* we sent SIGTERM */
  gboolean          timed_out;
  gboolean          done;
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

static void
line_read (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Run *run = data;
  gsize len;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (run->in, result, &len, &run->error);

  if (line == NULL)
    {
      /* end of its stdout (or an error): it has exited or is exiting */
      run->done = TRUE;
      g_main_loop_quit (run->loop);
      return;
    }
  g_string_append_len (run->out, line, len);
  g_string_append_c (run->out, '\n');
  if (run->until && !run->terminated && run->until (run->out->str))
    {
      run->terminated = TRUE;
      g_subprocess_send_signal (run->sp, SIGTERM);
    }
  g_data_input_stream_read_line_async (run->in, G_PRIORITY_DEFAULT, NULL, line_read, run);
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
 * waits until it has exited and closed its stdout. With @until, the sample
 * is stopped with SIGTERM as soon as its output satisfies @until: a test
 * waits for what it wants to see, never for a number of seconds. */
static void
run_sample (const char  *rel,
            Result      *result,
            SeenEnough   until,
            const char  *first_arg,
            ...)
{
  g_autofree char *path = dp_test_build_path (rel);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (ctx, FALSE);
  g_autoptr(GSource) timeout = g_timeout_source_new_seconds (WATCHDOG_SECONDS);
  g_autofree char *scale = g_strdup_printf ("%g", TIME_SCALE);
  Run run = { loop, NULL, NULL, g_string_new (NULL), until, NULL, FALSE, FALSE, FALSE };
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
  run.sp = sp;
  run.in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (sp));

  g_data_input_stream_read_line_async (run.in, G_PRIORITY_DEFAULT, NULL, line_read, &run);
  g_source_set_callback (timeout, watchdog, &run, NULL);
  g_source_attach (timeout, ctx);
  g_main_loop_run (loop);
  if (!run.done)
    {
      /* killed by the watchdog: let the reading finish */
      g_subprocess_force_exit (sp);
      while (!run.done)
        g_main_context_iteration (ctx, TRUE);
    }
  g_source_destroy (timeout);
  g_subprocess_wait (sp, NULL, &error);
  g_assert_no_error (error);
  result->elapsed = (g_get_monotonic_time () - start) / (gdouble) G_USEC_PER_SEC;
  g_clear_object (&run.in);
  g_main_context_pop_thread_default (ctx);

  g_test_message ("%s wrote (in %.2f s):\n%s", rel, result->elapsed, run.out->str);
  g_assert_no_error (run.error);
  g_assert_false (run.timed_out);
  if (until)
    g_assert_true (run.terminated);     /* it showed what we waited for */
  result->out = g_string_free (run.out, FALSE);
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

  run_sample ("samples/restart/restarter", &r, NULL, NULL);
  for (int i = 0; i < 4; i++)
    g_string_append (expected, "BEGINING SLEEP\nSLEEP DONE\n");
  g_string_append (expected, "Failed 3 times exititing\n");
  g_assert_cmpstr (r.out, ==, expected->str);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 1);
  /* the 3rd and 4th runs were deferred: never sooner than the schedule */
  g_assert_cmpfloat (r.elapsed, >=, schedule);
}

/* the second run began after the first ended */
static gboolean
restarted_once (const char *out)
{
  const char *done = strstr (out, "SLEEP DONE\n");

  return done && strstr (done, "BEGINING SLEEP\n");
}

/* examples/restart/master.rkt: the place is relaunched whenever it ends */
static void
test_restart (void)
{
  g_auto(Result) r = { 0, };

  run_sample ("samples/restart/restart", &r, restarted_once, NULL);
  /* stopped with SIGTERM, it exits cleanly */
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "BEGINING SLEEP\nSLEEP DONE\nBEGINING SLEEP\n"));
}

/* all that examples/multiple/master.rkt shows once its nodes are up */
static gboolean
multiple_shown (const char *out)
{
  return find_line (out, "Hello from every-seconds") >= 0 &&
         find_line (out, "(ok 5)") >= 0 &&
         find_line (out, "BEGINING SLEEP") >= 0 &&
         g_regex_match_simple ("^\\([0-9]+ \"HI\" 0\\)$", out, G_REGEX_MULTILINE, 0);
}

/* examples/multiple/master.rkt, stopped with SIGTERM once it has shown
 * everything (the seed's runs for ever) */
static void
test_multiple (void)
{
  g_auto(Result) r = { 0, };
  gint created, ok10, ok5;

  run_sample ("samples/multiple/multiple", &r, multiple_shown, NULL);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (count_lines (r.out, "Hello from every-seconds"), >=, 1);
  created = find_line (r.out, "(created user0)");
  ok10 = find_line (r.out, "(ok 10)");
  ok5 = find_line (r.out, "(ok 5)");
  g_assert_cmpint (created, >=, 0);
  g_assert_cmpint (ok10, >, created);
  g_assert_cmpint (ok5, >, ok10);
}

/* --seconds: the samples stop by themselves, with status 0 */
static void
test_seconds (void)
{
  g_auto(Result) r = { 0, };

  run_sample ("samples/restart/restart", &r, NULL, "--seconds", "1", NULL);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpfloat (r.elapsed, >=, 1 / TIME_SCALE);
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/samples/restarter", test_restarter);
  dp_test_add_func ("/samples/restart", test_restart);
  dp_test_add_func ("/samples/multiple", test_multiple);
  dp_test_add_func ("/samples/seconds", test_seconds);
  return g_test_run ();
}
