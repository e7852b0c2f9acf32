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
  GOutputStream    *err;          /* its stderr, spliced into memory */
  gboolean          err_done;
} Run;

typedef struct {
  char     *out;        /* everything the sample wrote on stdout */
  char     *err;        /* and on stderr */
  gboolean  exited;     /* it exited (rather than being killed) */
  int       status;     /* its exit status, if it exited */
  gdouble   elapsed;    /* real seconds from spawn to exit */
} Result;

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
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

static void
err_spliced (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;

  g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, &error);
  g_assert_no_error (error);
  run->err_done = TRUE;
  g_main_context_wakeup (NULL);
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
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (ctx, FALSE);
  g_autoptr(GSource) timeout = g_timeout_source_new_seconds (WATCHDOG_SECONDS);
  g_autofree char *scale = g_strdup_printf ("%g", TIME_SCALE);
  Run run = { loop, NULL, NULL, g_string_new (NULL), until, NULL, FALSE, FALSE, FALSE, NULL, FALSE };
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
  run.err = g_memory_output_stream_new_resizable ();
  g_output_stream_splice_async (run.err, g_subprocess_get_stderr_pipe (sp),
                                G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                G_PRIORITY_DEFAULT, NULL, err_spliced, &run);
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
  while (!run.err_done)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timeout);
  g_subprocess_wait (sp, NULL, &error);
  g_assert_no_error (error);
  result->elapsed = (g_get_monotonic_time () - start) / (gdouble) G_USEC_PER_SEC;
  g_clear_object (&run.in);
  g_main_context_pop_thread_default (ctx);

  {
    GMemoryOutputStream *mem = G_MEMORY_OUTPUT_STREAM (run.err);
    const char *data = g_memory_output_stream_get_data (mem);

    result->err = data ? g_strndup (data, g_memory_output_stream_get_data_size (mem)) : g_strdup ("");
  }
  g_clear_object (&run.err);
  g_test_message ("%s wrote (in %.2f s):\n%s", rel, result->elapsed, run.out->str);
  if (result->err[0])
    g_test_message ("and on stderr:\n%s", result->err);
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

/* @text without the lines equal to @line, and how many there were */
static char *
without_lines (const char *text,
               const char *line,
               guint      *n)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_new (NULL);

  *n = 0;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_equal (lines[i], line))
        (*n)++;
      else if (lines[i + 1] != NULL || lines[i][0])
        g_string_append_printf (out, "%s\n", lines[i]);
    }
  return g_string_free (out, FALSE);
}

/* examples/named/master.rkt (E2): the tuple server's results, the bank's,
 * and the cast's two lines from the node (its output comes to our stdout,
 * among the results in an order of its own) */
static void
test_named (void)
{
  g_auto(Result) r = { 0, };
  g_autofree char *results = NULL;
  guint hellos;

  run_sample ("samples/named/named", &r, NULL, NULL);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 0);
  results = without_lines (r.out, "Hello from define-cast", &hellos);
  g_assert_cmpstr (results, ==, "100\n200\n100\n200\n100\n200\n(created user0)\n(ok 10)\n(ok 5)\n");
  g_assert_cmpuint (hellos, ==, 2);
}

/* examples/logging/master.rkt as meant (E3): the replies in order, and the
 * three log records on stderr, at debug level, each after a date */
static void
test_logging (void)
{
  g_auto(Result) r = { 0, };
  const char *records[] = {
    "user0 set to 100", "user2 set to 200", "Logging new account for user1",
  };

  run_sample ("samples/logging/logging", &r, NULL, NULL);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "100\n200\n100\n200\n100\n200\n(created user1)\n(ok 10)\n(ok 5)\n");
  for (guint i = 0; i < G_N_ELEMENTS (records); i++)
    {
      g_autofree char *pattern =
        g_strdup_printf ("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[-+][0-9]{4} debug: %s$", records[i]);
      g_assert_true (g_regex_match_simple (pattern, r.err, G_REGEX_MULTILINE, 0));
    }
}

/* examples/thread/master.rkt as meant (E4): the bank as a thread place */
static void
test_thread (void)
{
  g_auto(Result) r = { 0, };

  run_sample ("samples/thread/thread", &r, NULL, NULL);
  g_assert_true (r.exited);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "(created user0)\n(ok 10)\n(ok 5)\n");
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/samples/restarter", test_restarter);
  dp_test_add_func ("/samples/restart", test_restart);
  dp_test_add_func ("/samples/multiple", test_multiple);
  dp_test_add_func ("/samples/seconds", test_seconds);
  dp_test_add_func ("/samples/named", test_named);
  dp_test_add_func ("/samples/logging", test_logging);
  dp_test_add_func ("/samples/thread", test_thread);
  return g_test_run ();
}
