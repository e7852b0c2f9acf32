/* dp-test-utils.c: what every libdp test program shares
 *
 * The log hook is a GLib structured log writer (libdp logs with
 * G_LOG_USE_STRUCTURED). Debug, info and message records go to GLib's
 * default writer, as in any GLib test. A warning or a critical is matched
 * against the expectations of the running test: a match consumes the
 * expectation and is not printed; anything else fails the test — at once
 * (GLib's default writer, fatal) when it is logged on the test's own thread,
 * or, from another thread (the router's, a place's), when the test next
 * checks its expectations, with the message shown both times.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-test-utils.h"
#include "dp-private.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Only a guard against a hang: expected messages are waited for as
 * conditions, and a passing test never gets near this. */
#define EXPECTED_LOG_GUARD_SECONDS 60

typedef struct {
  char           *domain;       /* NULL: any */
  GLogLevelFlags  level;
  char           *pattern;
  char           *seen;         /* the message that matched it, or NULL */
  gboolean        optional;     /* dp_test_allow_log(): any number of times, or never */
} Expected;

typedef struct {
  guint          id;
  DpTestLogWatch func;
  gpointer       data;
} Watch;

static GThread      *test_thread;

static GMutex        log_lock;
static GPtrArray    *expected;      /* Expected*, under log_lock */
static GPtrArray    *unexpected;    /* char*, under log_lock */
static GMainContext *waiting;       /* the context waiting for messages, under log_lock */

static GRecMutex     watch_lock;
static GArray       *watches;       /* Watch, under watch_lock */
static guint         last_watch_id;

static void
expected_free (gpointer data)
{
  Expected *e = data;

  g_free (e->domain);
  g_free (e->pattern);
  g_free (e->seen);
  g_free (e);
}

static const char *
level_name (GLogLevelFlags level)
{
  return (level & G_LOG_LEVEL_CRITICAL) ? "CRITICAL" : "WARNING";
}

static void
run_watches (GLogLevelFlags   level,
             const GLogField *fields,
             gsize            n_fields)
{
  g_rec_mutex_lock (&watch_lock);
  for (guint i = 0; watches && i < watches->len; i++)
    {
      Watch *w = &g_array_index (watches, Watch, i);
      w->func (level, fields, n_fields, w->data);
    }
  g_rec_mutex_unlock (&watch_lock);
}

static GLogWriterOutput
test_log_writer (GLogLevelFlags   level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  const char *domain = NULL, *message = NULL;
  gboolean matched = FALSE;

  run_watches (level, fields, n_fields);
  if ((level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) == 0)
    return g_log_writer_default (level, fields, n_fields, user_data);

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }

  g_mutex_lock (&log_lock);
  for (guint i = 0; i < expected->len && !matched; i++)
    {
      Expected *e = expected->pdata[i];

      if ((e->seen == NULL || e->optional) && (e->level & level) != 0 &&
          (e->domain == NULL || g_strcmp0 (e->domain, domain) == 0) &&
          g_pattern_match_simple (e->pattern, message ? message : ""))
        {
          g_free (e->seen);
          e->seen = g_strdup (message);
          matched = TRUE;
        }
    }
  if (!matched && g_thread_self () != test_thread)
    g_ptr_array_add (unexpected, g_strdup_printf ("%s-%s: %s", domain ? domain : "(no domain)",
                                                  level_name (level), message ? message : ""));
  if (waiting)
    g_main_context_wakeup (waiting);
  g_mutex_unlock (&log_lock);

  if (matched)
    return G_LOG_WRITER_HANDLED;
  if (g_thread_self () == test_thread)
    return g_log_writer_default (level, fields, n_fields, user_data);   /* fatal */

  /* another thread: show it now, fail when the test checks */
  {
    g_autofree char *text = g_log_writer_format_fields (level, fields, n_fields, FALSE);
    fprintf (stderr, "unexpected, from another thread: %s\n", text);
    fflush (stderr);
  }
  return G_LOG_WRITER_HANDLED;
}

void
dp_test_init (int    *argc,
              char ***argv)
{
  g_test_init (argc, argv, NULL);
  test_thread = g_thread_self ();
  expected = g_ptr_array_new_with_free_func (expected_free);
  unexpected = g_ptr_array_new_with_free_func (g_free);
  watches = g_array_new (FALSE, FALSE, sizeof (Watch));
  /* what g_test_init() sets, said once more: no warning passes unnoticed */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (test_log_writer, NULL, NULL);
}

static void
run_and_check_logs (gconstpointer data)
{
  GTestFunc func = (GTestFunc) data;

  func ();
  dp_test_assert_expected_logs ();
}

void
dp_test_add_func (const char *testpath,
                  GTestFunc   test_func)
{
  g_test_add_data_func (testpath, (gconstpointer) test_func, run_and_check_logs);
}

const char *
dp_test_fixture_env (const char *name,
                     const char *fixture)
{
  const char *v = g_getenv (name);

  if (v == NULL)
    g_error ("%s is not set: run this test through %s", name, fixture);
  return v;
}

char *
dp_test_build_path (const char *relative)
{
  const char *dir = g_getenv ("DP_BUILD_DIR");

  g_assert_nonnull (dir);
  return g_build_filename (dir, relative, NULL);
}

DpNode *
dp_test_new_router (void)
{
  DpNode *router = dp_node_new ();
  g_autoptr(GBytes) secret = g_bytes_new_static ("test-secret-0123456789abcdef", 28);

  dp_node_set_secret (router, secret);
  return router;
}

DpRemoteNode *
dp_test_spawn_node (DpNode *router)
{
  g_autoptr(GError) error = NULL;
  DpRemoteNode *node = dp_remote_node_spawn (router, "localhost", 0, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_true (dp_remote_node_is_alive (node));
  return node;
}

DpRemoteConnection *
dp_test_launch_ready (DpRemoteNode *node,
                      const char   *plugin,
                      const char   *symbol)
{
  g_autoptr(GError) error = NULL;
  DpRemoteConnection *rc = dp_remote_node_launch_place (node, plugin, symbol, 0, NULL);

  g_assert_true (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_assert_no_error (error);
  return rc;
}

gboolean
dp_test_wait_process_gone (gint64 pid,
                           int    timeout_ms)
{
  int fd = (int) syscall (SYS_pidfd_open, (pid_t) pid, 0);
  struct pollfd p;
  int r;

  if (fd < 0)
    return TRUE;           /* already gone */
  p = (struct pollfd) { fd, POLLIN, 0 };
  do
    r = poll (&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  close (fd);
  return r == 1;
}

static void
add_expected (const char     *log_domain,
              GLogLevelFlags  log_level,
              const char     *pattern,
              gboolean        optional)
{
  Expected *e = g_new0 (Expected, 1);

  g_assert_nonnull (expected);      /* dp_test_init() first */
  g_assert_true ((log_level & ~(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) == 0);
  e->domain = g_strdup (log_domain);
  e->level = log_level;
  e->pattern = g_strdup (pattern);
  e->optional = optional;
  g_mutex_lock (&log_lock);
  g_ptr_array_add (expected, e);
  g_mutex_unlock (&log_lock);
}

void
dp_test_expect_log (const char     *log_domain,
                    GLogLevelFlags  log_level,
                    const char     *pattern)
{
  add_expected (log_domain, log_level, pattern, FALSE);
}

void
dp_test_allow_log (const char     *log_domain,
                   GLogLevelFlags  log_level,
                   const char     *pattern)
{
  add_expected (log_domain, log_level, pattern, TRUE);
}

static gboolean
guard_fired (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* under log_lock */
static gboolean
all_seen_locked (void)
{
  for (guint i = 0; i < expected->len; i++)
    {
      Expected *e = expected->pdata[i];
      if (e->seen == NULL && !e->optional)
        return FALSE;
    }
  return TRUE;
}

void
dp_test_assert_expected_logs (void)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  g_autoptr(GSource) guard = g_timeout_source_new_seconds (EXPECTED_LOG_GUARD_SECONDS);
  g_autoptr(GString) failure = g_string_new (NULL);
  gboolean given_up = FALSE;

  g_source_set_callback (guard, guard_fired, &given_up, NULL);
  g_source_attach (guard, context);

  g_mutex_lock (&log_lock);
  waiting = context;
  while (!all_seen_locked () && unexpected->len == 0 && !given_up)
    {
      g_mutex_unlock (&log_lock);
      g_main_context_iteration (context, TRUE);
      g_mutex_lock (&log_lock);
    }
  waiting = NULL;

  for (guint i = 0; i < expected->len; i++)
    {
      Expected *e = expected->pdata[i];
      if (e->seen)
        g_test_message ("%s %s-%s: %s", e->optional ? "allowed" : "expected",
                        e->domain ? e->domain : "*", level_name (e->level), e->seen);
      else if (!e->optional)
        g_string_append_printf (failure, "\n  expected but not logged: %s-%s '%s'",
                                e->domain ? e->domain : "*", level_name (e->level), e->pattern);
    }
  for (guint i = 0; i < unexpected->len; i++)
    g_string_append_printf (failure, "\n  logged but not expected: %s",
                            (char *) unexpected->pdata[i]);
  g_ptr_array_set_size (expected, 0);
  g_ptr_array_set_size (unexpected, 0);
  g_mutex_unlock (&log_lock);
  g_source_destroy (guard);

  if (failure->len > 0)
    g_error ("log messages differ from what the test expected:%s", failure->str);
}

guint
dp_test_add_log_watch (DpTestLogWatch watch,
                       gpointer       user_data)
{
  Watch w = { 0, watch, user_data };

  g_rec_mutex_lock (&watch_lock);
  w.id = ++last_watch_id;
  g_array_append_val (watches, w);
  g_rec_mutex_unlock (&watch_lock);
  return w.id;
}

void
dp_test_remove_log_watch (guint id)
{
  g_rec_mutex_lock (&watch_lock);
  for (guint i = 0; i < watches->len; i++)
    if (g_array_index (watches, Watch, i).id == id)
      {
        g_array_remove_index (watches, i);
        break;
      }
  g_rec_mutex_unlock (&watch_lock);
}

GSocketConnection *
dp_test_raw_connect (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  GSocketConnection *c = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);

  g_assert_no_error (error);
  g_socket_set_timeout (g_socket_connection_get_socket (c), 10);
  return c;
}

void
dp_test_raw_write (GSocketConnection *c,
                   const void        *data,
                   gsize              len)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (c)), data, len,
                             NULL, NULL, &error);
  g_assert_no_error (error);
}

void
dp_test_raw_handshake (GSocketConnection *c,
                       GBytes            *secret)
{
  guint8 nonce[DP_NONCE_LEN], hello[DP_HELLO_LEN], theirs[DP_HELLO_LEN];
  guint8 peer[DP_NONCE_LEN], proof[DP_AUTH_LEN];
  gsize got = 0;
  g_autoptr(GError) error = NULL;

  _dp_random_bytes (nonce, sizeof nonce);
  _dp_wire_hello_build (hello, nonce);
  dp_test_raw_write (c, hello, sizeof hello);
  g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (c)), theirs, sizeof theirs,
                           &got, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (_dp_wire_hello_parse (theirs, peer, &error));
  _dp_wire_auth_compute (secret, 'C', peer, nonce, proof);
  dp_test_raw_write (c, proof, sizeof proof);
}

/* Fails on the socket's 10 s timeout. */
void
dp_test_expect_dropped (GSocketConnection *c)
{
  guint8 buf[256];
  GError *error = NULL;

  while (g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (c)),
                              buf, sizeof buf, NULL, &error) > 0)
    ;
  if (error && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    g_assert_no_error (error);
  g_clear_error (&error);
}

void
dp_test_assert_echoes (DpRemoteConnection *rc,
                       const char         *value)
{
  g_autoptr(GVariant) r = NULL;

  g_assert_true (dp_remote_connection_put (rc, g_variant_new_string (value)));
  r = dp_remote_connection_get (rc);
  g_assert_nonnull (r);
  g_assert_cmpstr (g_variant_get_string (r, NULL), ==, value);
}

gint64
dp_test_proc_status_kib (gint64      pid,
                         const char *field)
{
  g_autofree char *path = pid ? g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/status", pid)
                              : g_strdup ("/proc/self/status");
  g_autofree char *status = NULL;
  g_autofree char *key = g_strconcat ("\n", field, ":", NULL);
  const char *at;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  at = strstr (status, key);
  g_assert_nonnull (at);
  return g_ascii_strtoll (at + strlen (key), NULL, 10);
}

gint64
dp_test_read_node_pid (GDataInputStream *err)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error);
      const char *p;

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (strstr (line, " ready (pid ") && (p = strstr (line, "(pid ")))
        {
          gint64 pid = g_ascii_strtoll (p + 5, NULL, 10);
          g_assert_cmpint (pid, >, 0);
          return pid;
        }
    }
}

void
dp_test_kill_master (GSubprocess *sp,
                     gint64       node_pid)
{
  g_subprocess_send_signal (sp, SIGKILL);
  g_subprocess_wait (sp, NULL, NULL);
  g_assert_true (dp_test_wait_process_gone (node_pid, 10000));
}

struct _DpTestSpawnWatch {
  guint       id;
  GMutex      lock;
  GHashTable *per_host;     /* host -> spawns under way */
  guint       running, max_running, max_per_host;
};

static void
spawn_watch_record (GLogLevelFlags   level,
                    const GLogField *fields,
                    gsize            n_fields,
                    gpointer         data)
{
  DpTestSpawnWatch *w = data;
  const char *event = NULL, *host = NULL;
  gboolean start;
  guint n;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "DP_EVENT") == 0)
        event = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "DP_NODE") == 0)
        host = fields[i].value;
    }
  start = g_strcmp0 (event, "spawn-start") == 0;
  if (host == NULL || (!start && g_strcmp0 (event, "spawn-done") != 0))
    return;
  g_mutex_lock (&w->lock);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (w->per_host, host));
  if (start)
    {
      w->running++;
      n++;
    }
  else if (n > 0)             /* not one that started before the watch */
    {
      w->running--;
      n--;
    }
  g_hash_table_replace (w->per_host, g_strdup (host), GUINT_TO_POINTER (n));
  w->max_running = MAX (w->max_running, w->running);
  w->max_per_host = MAX (w->max_per_host, n);
  g_mutex_unlock (&w->lock);
}

DpTestSpawnWatch *
dp_test_spawn_watch_new (void)
{
  DpTestSpawnWatch *w = g_new0 (DpTestSpawnWatch, 1);

  g_mutex_init (&w->lock);
  w->per_host = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  w->id = dp_test_add_log_watch (spawn_watch_record, w);
  return w;
}

void
dp_test_spawn_watch_free (DpTestSpawnWatch *w,
                          guint            *max_running,
                          guint            *max_per_host)
{
  dp_test_remove_log_watch (w->id);
  g_assert_cmpuint (w->running, ==, 0);
  *max_running = w->max_running;
  *max_per_host = w->max_per_host;
  g_hash_table_unref (w->per_host);
  g_mutex_clear (&w->lock);
  g_free (w);
}

/* Runs the tool $DP_BUILD_DIR/@tool with @args, @input on standard input,
 * in @cwd (NULL: ours); returns its exit status, standard output and
 * standard error. */
int
dp_test_run_tool (const char          *tool,
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
