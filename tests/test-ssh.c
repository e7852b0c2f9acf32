/* Nodes spawned over ssh, against a real sshd on loopback.
 *
 * Run by tests/sshd-fixture.sh, which starts a private sshd and tells these
 * tests where it is through DP_TEST_SSH* variables. Every node here is a real
 * dp-node started by sshd on 127.0.0.1; the master talks to it over real TCP.
 */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>

static const char *
env (const char *name)
{
  return dp_test_fixture_env (name, "tests/sshd-fixture.sh");
}

/* "127.0.0.1:SSHPORT" or "USER@127.0.0.1:SSHPORT" */
static char *
ssh_target (gboolean with_user)
{
  if (with_user)
    return g_strdup_printf ("%s@127.0.0.1:%s", g_get_user_name (), env ("DP_TEST_SSHD_PORT"));
  return g_strdup_printf ("127.0.0.1:%s", env ("DP_TEST_SSHD_PORT"));
}

static DpSpawnOptions *
ssh_options (const char *known_hosts,
             const char *identity)
{
  DpSpawnOptions *o = dp_spawn_options_new ();
  g_autofree char *plugins = dp_test_build_path ("plugins");
  g_autofree char *tests = dp_test_build_path ("tests");

  dp_spawn_options_set_method (o, DP_SPAWN_SSH);
  dp_spawn_options_set_ssh_known_hosts (o, known_hosts ? known_hosts : env ("DP_TEST_SSH_KNOWN_HOSTS"));
  dp_spawn_options_set_ssh_identity (o, identity ? identity : env ("DP_TEST_SSH_IDENTITY"));
  dp_spawn_options_add_plugin_dir (o, plugins);
  dp_spawn_options_add_plugin_dir (o, tests);
  return o;
}

static void
assert_echo (DpRemoteNode *node,
             gint32        value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteConnection) rc = dp_remote_node_launch_place (node, "echo", "echo", 0, NULL);
  g_autoptr(GVariant) back = NULL;

  g_assert_true (dp_remote_connection_wait_ready (rc, NULL, &error));
  g_assert_no_error (error);
  dp_remote_connection_put (rc, g_variant_new_int32 (value));
  back = dp_remote_connection_get (rc);
  g_assert_nonnull (back);
  g_assert_cmpint (g_variant_get_int32 (back), ==, value);
}


/* ---- tests ---- */

static void
test_hello_world (void)
{
  g_autofree char *hello = dp_test_build_path ("samples/hello-world/hello-world");
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GSubprocess) sp = NULL;

  /* through an ssh_config alias: HostName, Port, User, IdentityFile and
   * UserKnownHostsFile all come from the file */
  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, hello, "--fast",
                         "--host", "dp-test", "--ssh-config", env ("DP_TEST_SSH_CONFIG"), NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (out, "hello-world received: Hello\n"));
  g_assert_nonnull (strstr (out, "message-router received: Hello World\n"));
  g_assert_true (g_subprocess_get_if_exited (sp));
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);
}

static void
test_dp_launch (void)
{
  g_autofree char *launch = dp_test_build_path ("loader/dp-launch");
  g_autofree char *echo = dp_test_build_path ("plugins/echo.so");
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GSubprocess) sp = NULL;

  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                         G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         launch, "--ssh-config", env ("DP_TEST_SSH_CONFIG"), "dp-test:0", echo, "echo", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sp, "\"over ssh\"\n[1, 2]\n", NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "\"over ssh\"\n[1,2]\n");
  g_assert_cmpint (g_subprocess_get_exit_status (sp), ==, 0);
}

static void
spawned_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  GPtrArray *results = data;
  GError *error = NULL;
  DpRemoteNode *node = dp_remote_node_spawn_finish (result, &error);

  g_assert_no_error (error);
  g_ptr_array_add (results, node);
}

static void
test_concurrent (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autofree char *target = ssh_target (TRUE);
  g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 t0 = g_get_monotonic_time ();

  for (int i = 0; i < 4; i++)
    dp_remote_node_spawn_async (router, target, 0, o, NULL, spawned_cb, nodes);
  while (nodes->len < 4)
    g_main_context_iteration (NULL, TRUE);
  g_test_message ("4 nodes over ssh in %.1f ms", (g_get_monotonic_time () - t0) / 1000.0);

  for (guint i = 0; i < 4; i++)
    {
      DpRemoteNode *n = nodes->pdata[i];
      g_assert_true (dp_remote_node_is_alive (n));
      g_assert_cmpint (dp_remote_node_get_pid (n), >, 0);
      for (guint j = 0; j < i; j++)
        g_assert_cmpint (dp_remote_node_get_pid (n), !=, dp_remote_node_get_pid (nodes->pdata[j]));
      assert_echo (n, (gint32) i * 7);
    }
}

/* TLS on (over loopback too): the nodes' certificates, issued by the
 * master, go over the ssh channel on their standard input after the
 * secret; the command line only says --tls-stdin. */
static void
test_tls (void)
{
  g_autoptr(DpNode) router = dp_node_new ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autofree char *target = ssh_target (TRUE);
  g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;

  g_assert_true (dp_node_load_cookie (router, NULL, &error));
  g_assert_no_error (error);
  g_object_set (router, "tls", DP_TLS_ON, NULL);
  for (int i = 0; i < 2; i++)
    dp_remote_node_spawn_async (router, target, 0, o, NULL, spawned_cb, nodes);
  while (nodes->len < 2)
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < 2; i++)
    {
      DpRemoteNode *n = nodes->pdata[i];
      g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/cmdline",
                                               dp_remote_node_get_pid (n));
      g_autofree char *cmdline = NULL;
      gsize len = 0;

      g_assert_true (dp_remote_node_is_alive (n));
      assert_echo (n, (gint32) i + 100);
      g_assert_true (g_file_get_contents (path, &cmdline, &len, NULL));
      g_assert_nonnull (memmem (cmdline, len, "--tls-stdin", 11));
      g_assert_nonnull (memmem (cmdline, len, "--tls=on", 8));
      g_assert_null (memmem (cmdline, len, "BEGIN", 5));
    }
}

static void
test_host_key_unknown (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autofree char *kh = g_build_filename (env ("DP_TEST_SSH_DIR"), "unknown_known_hosts", NULL);
  g_autoptr(DpSpawnOptions) o = ssh_options (kh, NULL);
  g_autofree char *target = ssh_target (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;
  g_autofree char *contents = NULL;

  g_assert_true (g_file_set_contents (kh, "", 0, NULL));
  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_HOST_KEY_UNKNOWN);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_nonnull (strstr (error->message, "--accept-new-host-key"));
  g_assert_true (g_file_get_contents (kh, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "");           /* nothing added without the opt-in */
  g_clear_error (&error);
  g_clear_pointer (&contents, g_free);

  /* the opt-in: accepted, added, and from then on known */
  dp_spawn_options_set_accept_new_host_key (o, TRUE);
  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_no_error (error);
  assert_echo (node, 11);
  g_clear_object (&node);
  g_assert_true (g_file_get_contents (kh, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "ssh-ed25519"));

  dp_spawn_options_set_accept_new_host_key (o, FALSE);
  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_no_error (error);
  assert_echo (node, 12);
}

static void
test_host_key_changed (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (env ("DP_TEST_SSH_WRONG_KNOWN_HOSTS"), NULL);
  g_autofree char *target = ssh_target (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;

  /* a changed key fails even with the opt-in for new keys */
  dp_spawn_options_set_accept_new_host_key (o, TRUE);
  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_HOST_KEY_CHANGED);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_nonnull (strstr (error->message, "CHANGED"));
}

static void
test_auth_failed (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, env ("DP_TEST_SSH_OTHER_IDENTITY"));
  g_autofree char *target = ssh_target (TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;

  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_SSH_AUTH_FAILED);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
}

static void
test_node_not_found (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autofree char *target = ssh_target (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;

  /* a space and a quote in the path: quoted for the remote shell, not split */
  dp_spawn_options_set_node_path (o, "/no/such dir/dp-node's");
  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_NODE_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_nonnull (strstr (error->message, "/no/such dir/dp-node's"));
  g_clear_error (&error);

  /* a node that fails before it is ready: its exit status and stderr */
  dp_spawn_options_set_node_path (o, "/bin/false");
  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_NODE_EXITED);
  g_assert_nonnull (strstr (error->message, "status 1"));
  g_clear_error (&error);
  {
    g_autofree char *script = g_build_filename (env ("DP_TEST_SSH_DIR"), "failing-node", NULL);
    g_assert_true (g_file_set_contents (script,
                                        "#!/bin/sh\necho 'error: cannot listen: address in use' >&2\nexit 3\n",
                                        -1, NULL));
    g_assert_cmpint (chmod (script, 0755), ==, 0);
    dp_spawn_options_set_node_path (o, script);
    /* its "error: " line is logged as the node's warning */
    dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, "node 127.0.0.1:*: cannot listen: address in use");
    node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
    g_assert_null (node);
    g_assert_error (error, DP_ERROR, DP_ERROR_NODE_EXITED);
    g_assert_nonnull (strstr (error->message, "127.0.0.1"));
    g_assert_nonnull (strstr (error->message, "status 3"));
    g_assert_nonnull (strstr (error->message, "cannot listen: address in use"));
  }
}

/* How long one spawn over ssh takes here, to a node that is ready: the
 * unit every ssh budget of these tests is derived from, so that a machine
 * where a session takes 1 s passes as one where it takes 0.2 s. */
static gint64
measure_ssh_spawn_us (DpNode *router)
{
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autofree char *target = ssh_target (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;
  gint64 t0 = g_get_monotonic_time (), dt;

  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_no_error (error);
  dt = g_get_monotonic_time () - t0;
  g_test_message ("one node spawned over ssh to ready: %.0f ms", dt / 1000.0);
  return dt;
}

static void
test_ready_timeout (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autofree char *target = ssh_target (FALSE);
  g_autofree char *script = g_build_filename (env ("DP_TEST_SSH_DIR"), "silent-node", NULL);
  g_autofree char *in_message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;
  guint timeout_ms;

  /* The silent node says "starting" when a real node would say "ready";
   * the timeout gives it four times what a real spawn took here. */
  timeout_ms = (guint) MAX (1000, 4 * measure_ssh_spawn_us (router) / 1000);

  /* a "node" that never says it is ready (and exits when its stdin closes) */
  g_assert_true (g_file_set_contents (script, "#!/bin/sh\necho starting >&2\nexec cat >/dev/null\n", -1, NULL));
  g_assert_cmpint (chmod (script, 0755), ==, 0);
  dp_spawn_options_set_node_path (o, script);
  dp_spawn_options_set_ready_timeout (o, timeout_ms);
  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_TIMED_OUT);
  in_message = g_strdup_printf ("within %u ms", timeout_ms);
  g_assert_nonnull (strstr (error->message, in_message));
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_nonnull (strstr (error->message, "starting"));   /* its stderr tail */
}

static void
test_connect_errors (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autofree char *refused = NULL;

  {
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) a = g_inet_socket_address_new (lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;
    g_assert_true (g_socket_bind (s, a, FALSE, NULL));
    bound = g_socket_get_local_address (s, NULL);
    refused = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  }
  node = dp_remote_node_spawn (router, refused, 0, o, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_CONNECTION_REFUSED);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_clear_error (&error);

  /* .invalid never resolves (RFC 2606) */
  node = dp_remote_node_spawn (router, "no-such-host.invalid", 0, o, NULL, &error);
  g_assert_null (node);
  g_assert_error (error, DP_ERROR, DP_ERROR_HOST_UNREACHABLE);
  g_assert_nonnull (strstr (error->message, "no-such-host.invalid"));
}

static void
test_master_killed (void)
{
  g_autofree char *launch = dp_test_build_path ("loader/dp-launch");
  g_autofree char *echo = dp_test_build_path ("plugins/echo.so");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sp = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  gint64 node_pid;

  sp = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         launch, "--ssh-config", env ("DP_TEST_SSH_CONFIG"), "dp-test:0", echo, "echo", NULL);
  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (sp));
  node_pid = dp_test_read_node_pid (err);
  g_assert_cmpint (node_pid, >, 0);
  g_assert_false (dp_test_wait_process_gone (node_pid, 0));

  /* kill -9 the master: the ssh session closes, so does the node's stdin */
  dp_test_kill_master (sp, node_pid);
}

/* SIGKILL every sshd process below the fixture's listener: the sessions */
static guint
cut_ssh_sessions (void)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  gint64 listener = g_ascii_strtoll (env ("DP_TEST_SSHD_PID"), NULL, 10);
  const char *name;
  guint killed = 0;

  while ((name = g_dir_read_name (proc)))
    {
      gint64 pid = g_ascii_strtoll (name, NULL, 10);
      gint64 cur = pid;
      g_autofree char *comm = NULL;
      g_autofree char *comm_path = g_strdup_printf ("/proc/%s/comm", name);

      if (pid <= 0 || pid == listener)
        continue;
      if (!g_file_get_contents (comm_path, &comm, NULL, NULL) || !g_str_has_prefix (comm, "sshd"))
        continue;
      /* is the listener an ancestor? */
      for (int depth = 0; depth < 8 && cur > 1; depth++)
        {
          g_autofree char *stat_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/stat", cur);
          g_autofree char *stat = NULL;
          const char *rp;
          if (!g_file_get_contents (stat_path, &stat, NULL, NULL) || !(rp = strrchr (stat, ')')))
            break;
          /* ") S PPID ..." */
          cur = g_ascii_strtoll (rp + 4, NULL, 10);
          if (cur == listener)
            {
              if (kill ((pid_t) pid, SIGKILL) == 0)
                killed++;
              break;
            }
        }
    }
  return killed;
}

static void
died_cb (DpRemoteNode *node, const char *reason, gpointer data)
{
  *(char **) data = g_strdup (reason);
}

static void
test_session_cut (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autofree char *target = ssh_target (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;
  g_autofree char *reason = NULL;
  gint64 pid;

  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_no_error (error);
  assert_echo (node, 5);
  pid = dp_remote_node_get_pid (node);
  g_signal_connect (node, "died", G_CALLBACK (died_cb), &reason);

  g_assert_cmpuint (cut_ssh_sessions (), >, 0);
  while (reason == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_test_message ("died: %s", reason);
  g_assert_false (dp_remote_node_is_alive (node));
  g_assert_nonnull (strstr (reason, "127.0.0.1"));
  /* and the node itself went away with its session */
  g_assert_true (dp_test_wait_process_gone (pid, 10000));
}

static void
restarted_cb (DpRemoteNode *node, guint attempt, gpointer data)
{
  *(guint *) data = attempt;
}

/* a node with restart-on-exit whose ssh session is cut comes back, with
 * its place relaunched on the same DpRemoteConnection */
static void
test_session_cut_restart (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autofree char *target = ssh_target (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) node = NULL;
  g_autoptr(DpRemoteConnection) rc = NULL;
  g_autoptr(GVariant) r = NULL;
  guint restarted = 0;
  gint64 pid;

  node = dp_remote_node_spawn (router, target, 0, o, NULL, &error);
  g_assert_no_error (error);
  dp_remote_node_set_restart (node, TRUE);
  rc = dp_remote_node_launch_place (node, "echo", "echo", 0, NULL);
  dp_remote_connection_put (rc, g_variant_new_int32 (1));
  r = dp_remote_connection_get (rc);
  g_assert_cmpint (g_variant_get_int32 (r), ==, 1);
  g_clear_pointer (&r, g_variant_unref);
  pid = dp_remote_node_get_pid (node);
  g_signal_connect (node, "restarted", G_CALLBACK (restarted_cb), &restarted);

  g_assert_cmpuint (cut_ssh_sessions (), >, 0);
  while (restarted == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (dp_test_wait_process_gone (pid, 10000));
  g_assert_cmpint (dp_remote_node_get_pid (node), !=, pid);
  dp_remote_connection_put (rc, g_variant_new_int32 (2));
  r = dp_remote_connection_get_timeout (rc, 20 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (r), ==, 2);
  g_signal_handlers_disconnect_by_data (node, &restarted);
}

static void
on_output (DpSpawnedProcess *p, int fd, const char *line, gpointer data)
{
  g_ptr_array_add (data, g_strdup_printf ("%d:%s", fd, line));
}

static void
test_process (void)
{
  g_autoptr(DpNode) router = dp_test_new_router ();
  g_autoptr(DpSpawnOptions) o = ssh_options (NULL, NULL);
  g_autofree char *target = ssh_target (TRUE);
  const char *argv[] = { "sh", "-c", "echo \"remote $1\"; exit 4", "sh", "it's quoted", NULL };
  const char *missing[] = { "/no/such/program", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(DpSpawnedProcess) p = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  dp_spawn_options_set_output (o, DP_SPAWN_OUTPUT_DISCARD);
  p = dp_supervise_process_at (router, target, argv, o, &error);
  g_assert_no_error (error);
  g_assert_cmpint (dp_spawned_process_get_pid (p), >, 0);
  g_signal_connect (p, "output", G_CALLBACK (on_output), lines);
  g_assert_true (dp_spawned_process_wait (p, 20 * G_USEC_PER_SEC));
  /* the exit status comes back over the ssh channel */
  g_assert_cmpint (dp_spawned_process_get_exit_status (p), ==, 4);
  while (lines->len < 1)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (lines->pdata[0], ==, "1:remote it's quoted");
  g_signal_handlers_disconnect_by_data (p, lines);
  g_clear_object (&p);

  p = dp_supervise_process_at (router, target, missing, o, &error);
  g_assert_null (p);
  g_assert_error (error, DP_ERROR, DP_ERROR_NODE_NOT_FOUND);
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);
  dp_test_add_func ("/ssh/hello-world", test_hello_world);
  dp_test_add_func ("/ssh/dp-launch", test_dp_launch);
  dp_test_add_func ("/ssh/concurrent", test_concurrent);
  dp_test_add_func ("/ssh/tls", test_tls);
  dp_test_add_func ("/ssh/host-key-unknown", test_host_key_unknown);
  dp_test_add_func ("/ssh/host-key-changed", test_host_key_changed);
  dp_test_add_func ("/ssh/auth-failed", test_auth_failed);
  dp_test_add_func ("/ssh/node-not-found", test_node_not_found);
  dp_test_add_func ("/ssh/ready-timeout", test_ready_timeout);
  dp_test_add_func ("/ssh/connect-errors", test_connect_errors);
  dp_test_add_func ("/ssh/master-killed", test_master_killed);
  dp_test_add_func ("/ssh/session-cut", test_session_cut);
  dp_test_add_func ("/ssh/process", test_process);
  dp_test_add_func ("/ssh/session-cut-restart", test_session_cut_restart);
  return g_test_run ();
}
