/* dp-ssh-node-process.c: a node started over ssh (libssh)
 *
 * The second backend of DpNodeProcess. Everything that blocks (name
 * resolution, the TCP connect, key exchange, host key check, public key
 * authentication, the exec request, and then moving bytes) runs on a worker
 * thread of its own, one per session, so spawning many nodes at once is
 * concurrent and the router never waits for a remote host.
 *
 * The worker hands the base class three ordinary pipes, so reading the ready
 * line, forwarding the node's stderr into the log and writing the secret are
 * the same code for local and remote nodes:
 *
 *   router thread                worker thread              remote host
 *   stdin  pipe  ── write ──▶  read ─ ssh_channel_write ──▶ dp-node stdin
 *   stdout pipe  ◀── read ───  write ◀ channel (stdout) ─── dp-node stdout
 *   stderr pipe  ◀── read ───  write ◀ channel (stderr) ─── dp-node stderr
 *
 * The host comes from the user (the spawn call), never from a peer, and is
 * given to libssh as an option value; the remote command line is the node's
 * argv with every argument quoted for the remote shell. The secret travels
 * on the channel's standard input, never on a command line. When the master
 * goes away the session closes, sshd closes the node's standard input and the
 * node exits.
 *
 * The TCP connection is made with GIO (so the errors are GIO's precise ones:
 * refused, unreachable, unknown name, timed out) and handed to libssh as a
 * file descriptor; libssh does everything else, including reading
 * ~/.ssh/config (or the file of dp_spawn_options_set_ssh_config()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-node-process-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <libssh/libssh.h>

#define SSH_CONNECT_TIMEOUT_S 10

#define DP_TYPE_SSH_NODE_PROCESS (dp_ssh_node_process_get_type ())
G_DECLARE_FINAL_TYPE (DpSshNodeProcess, dp_ssh_node_process, DP, SSH_NODE_PROCESS, DpNodeProcess)

struct _DpSshNodeProcess
{
  DpNodeProcess  parent_instance;

  /* set before the worker starts, read-only afterwards */
  char          *user;          /* from "user@host", or NULL */
  char          *target;        /* host name or ssh config alias */
  int            port;          /* from "host:port", or 0 */
  char          *command;       /* quoted remote command line */
  GMainContext  *context;       /* the router's */
  GThread       *worker;

  /* worker → router */
  int            wake_fds[2];   /* router writes 'k' to force the end */
  gint           forced;        /* atomic */
  char          *resolved_host; /* HostName after ssh config */
};

G_DEFINE_FINAL_TYPE (DpSshNodeProcess, dp_ssh_node_process, DP_TYPE_NODE_PROCESS)

/* ---- host strings ---- */

/* "user@host", "host:port", "user@[v6]:port", plain "host" */
static void
parse_target (const char  *spec,
              char       **user,
              char       **host,
              int         *port)
{
  const char *at = strrchr (spec, '@');
  const char *rest = at ? at + 1 : spec;
  const char *colon;

  *user = at ? g_strndup (spec, at - spec) : NULL;
  *port = 0;
  if (rest[0] == '[' && strchr (rest, ']'))
    {
      const char *end = strchr (rest, ']');
      *host = g_strndup (rest + 1, end - rest - 1);
      if (end[1] == ':')
        *port = atoi (end + 2);
      return;
    }
  colon = strchr (rest, ':');
  if (colon && strchr (colon + 1, ':') == NULL)
    {
      *host = g_strndup (rest, colon - rest);
      *port = atoi (colon + 1);
    }
  else
    *host = g_strdup (rest);
}

/* ---- handing results to the router thread ---- */

typedef struct {
  DpSshNodeProcess *self;
  GError           *error;       /* start failed */
  int               fds[3];      /* or: stdin (write end), stdout, stderr (read ends) */
  gboolean          exited;      /* or: the session ended */
  int               status;
  char             *reason;
} Report;

static gboolean
report_in_router (gpointer data)
{
  Report *r = data;
  DpNodeProcess *process = DP_NODE_PROCESS (r->self);

  if (r->error)
    dp_node_process_start_failed (process, g_steal_pointer (&r->error));
  else if (r->exited)
    dp_node_process_notify_exited (process, r->status, r->reason);
  else
    dp_node_process_take_streams (process,
                                  g_unix_output_stream_new (r->fds[0], TRUE),
                                  g_unix_input_stream_new (r->fds[1], TRUE),
                                  g_unix_input_stream_new (r->fds[2], TRUE));
  return G_SOURCE_REMOVE;
}

static void
report_free (gpointer data)
{
  Report *r = data;

  g_object_unref (r->self);
  g_clear_error (&r->error);
  g_free (r->reason);
  g_free (r);
}

static void
report (DpSshNodeProcess *self,
        Report           *r)
{
  r->self = g_object_ref (self);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
                              report_in_router, r, report_free);
}

static void
report_error (DpSshNodeProcess *self,
              GError           *error)
{
  Report *r = g_new0 (Report, 1);

  r->error = error;
  report (self, r);
}

/* ---- the worker ---- */

static GError *
connect_error (const char *host,
               int         port,
               GError     *gio_error)
{
  int code = DP_ERROR_HOST_UNREACHABLE;

  if (g_error_matches (gio_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    code = DP_ERROR_CONNECTION_REFUSED;
  else if (g_error_matches (gio_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    code = DP_ERROR_TIMED_OUT;
  return g_error_new (DP_ERROR, code, "ssh to %s port %d: %s", host, port, gio_error->message);
}

static char *
known_hosts_hint (ssh_session session)
{
  char *file = NULL;

  if (ssh_options_get (session, SSH_OPTIONS_KNOWNHOSTS, &file) == SSH_OK && file)
    {
      char *copy = g_strdup (file);
      ssh_string_free_char (file);
      return copy;
    }
  return g_strdup ("~/.ssh/known_hosts");
}

static GError *
check_host_key (DpSshNodeProcess *self,
                ssh_session       session,
                const char       *host,
                int               port)
{
  const DpSpawnOptions *options = dp_node_process_get_options (DP_NODE_PROCESS (self));
  enum ssh_known_hosts_e state = ssh_session_is_known_server (session);
  g_autofree char *known = known_hosts_hint (session);
  g_autofree char *fingerprint = NULL;
  ssh_key key = NULL;

  if (ssh_get_server_publickey (session, &key) == SSH_OK)
    {
      unsigned char *hash = NULL;
      size_t hlen = 0;
      if (ssh_get_publickey_hash (key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == SSH_OK)
        {
          char *fp = ssh_get_fingerprint_hash (SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
          fingerprint = g_strdup (fp);
          ssh_string_free_char (fp);
          ssh_clean_pubkey_hash (&hash);
        }
      ssh_key_free (key);
    }

  switch (state)
    {
    case SSH_KNOWN_HOSTS_OK:
      return NULL;

    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return g_error_new (DP_ERROR, DP_ERROR_HOST_KEY_CHANGED,
                          "ssh to %s port %d: THE HOST KEY HAS CHANGED (now %s); %s lists a "
                          "different key for this host. Someone may be intercepting the "
                          "connection, or the host was reinstalled: check, then remove the "
                          "old entry (ssh-keygen -R) yourself",
                          host, port, fingerprint ? fingerprint : "unknown", known);

    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (options && dp_spawn_options_get_accept_new_host_key (options))
        {
          if (ssh_session_update_known_hosts (session) != SSH_OK)
            return g_error_new (DP_ERROR, DP_ERROR_HOST_KEY_UNKNOWN,
                                "ssh to %s port %d: could not add the host key to %s: %s",
                                host, port, known, ssh_get_error (session));
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                            "DP_NODE", host,
                            "DP_EVENT", "ssh-host-key-added",
                            "MESSAGE", "ssh: added the host key of %s port %d (%s) to %s",
                            host, port, fingerprint ? fingerprint : "?", known);
          return NULL;
        }
      return g_error_new (DP_ERROR, DP_ERROR_HOST_KEY_UNKNOWN,
                          "ssh to %s port %d: the host key (%s) is not in %s; if it is the "
                          "right one, accept it with --accept-new-host-key "
                          "(dp_spawn_options_set_accept_new_host_key()) or by connecting once "
                          "with ssh",
                          host, port, fingerprint ? fingerprint : "unknown", known);

    case SSH_KNOWN_HOSTS_ERROR:
    default:
      return g_error_new (DP_ERROR, DP_ERROR_HOST_KEY_UNKNOWN,
                          "ssh to %s port %d: cannot check the host key against %s: %s",
                          host, port, known, ssh_get_error (session));
    }
}

static gboolean
write_all_fd (int         fd,
              const char *buf,
              gssize      len)
{
  while (len > 0)
    {
      gssize n = write (fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      buf += n;
      len -= n;
    }
  return TRUE;
}

/* Moves what libssh already holds of the command's stdout and stderr to
 * their pipes, until neither has more. Reading one stream can take in the
 * other's bytes (and the EOF) from the socket, so both are read again until
 * a whole pass finds nothing. FALSE when the session is lost. */
static gboolean
drain_channel (ssh_channel  channel,
               char        *buf,
               gsize        size,
               gboolean     out_open[2],
               int          out_fd,
               int          err_fd)
{
  gboolean more = TRUE;

  while (more)
    {
      more = FALSE;
      for (int s = 0; s < 2; s++)
        for (;;)
          {
            int n = ssh_channel_read_nonblocking (channel, buf, (uint32_t) size, s);
            if (n == SSH_ERROR)
              return FALSE;
            if (n <= 0)
              break;
            more = TRUE;
            if (out_open[s] && !write_all_fd (s ? err_fd : out_fd, buf, n))
              out_open[s] = FALSE;     /* nobody reads it any more: discard */
          }
    }
  return TRUE;
}

/* Move bytes until the remote command ends or the session is lost;
 * returns how it ended. */
static Report *
pump (DpSshNodeProcess *self,
      ssh_session       session,
      ssh_channel       channel,
      int               in_fd,
      int               out_fd,
      int               err_fd)
{
  Report *r = g_new0 (Report, 1);
  char buf[32768];
  gboolean in_open = TRUE;
  gboolean out_open[2] = { TRUE, TRUE };
  int sock = ssh_get_fd (session);

  r->exited = TRUE;
  r->status = -1;

  for (;;)
    {
      struct pollfd fds[3];
      nfds_t n_fds = 0;
      gboolean lost = FALSE;

      /* drain what libssh already has, both streams */
      lost = !drain_channel (channel, buf, sizeof buf, out_open, out_fd, err_fd);

      if (lost || !ssh_is_connected (session))
        {
          r->reason = g_strdup_printf ("lost its ssh session (%s)", ssh_get_error (session));
          break;
        }
      if (ssh_channel_is_eof (channel) || ssh_channel_is_closed (channel))
        {
          int status;

          /* the EOF may have come in with the last bytes of either stream */
          drain_channel (channel, buf, sizeof buf, out_open, out_fd, err_fd);
          status = ssh_channel_get_exit_status (channel);
          r->status = status;
          r->reason = status >= 0 ? g_strdup_printf ("exited with status %d", status)
                                  : g_strdup ("ended (its ssh channel closed without an exit status)");
          break;
        }
      if (g_atomic_int_get (&self->forced))
        {
          r->reason = g_strdup ("was disconnected");
          break;
        }

      fds[n_fds++] = (struct pollfd) { sock, POLLIN, 0 };
      fds[n_fds++] = (struct pollfd) { self->wake_fds[0], POLLIN, 0 };
      if (in_open)
        fds[n_fds++] = (struct pollfd) { in_fd, POLLIN, 0 };
      if (poll (fds, n_fds, -1) < 0 && errno != EINTR)
        {
          r->reason = g_strdup_printf ("lost its ssh session (poll: %s)", g_strerror (errno));
          break;
        }
      if (in_open && n_fds == 3 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)))
        {
          gssize n = read (in_fd, buf, sizeof buf);
          if (n > 0)
            {
              if (ssh_channel_write (channel, buf, (uint32_t) n) == SSH_ERROR)
                {
                  r->reason = g_strdup_printf ("lost its ssh session (%s)", ssh_get_error (session));
                  break;
                }
            }
          else if (n == 0 || errno != EINTR)
            {
              /* the master closed the node's stdin: pass the EOF on */
              in_open = FALSE;
              ssh_channel_send_eof (channel);
            }
        }
    }

  return r;
}

static gpointer
worker (gpointer data)
{
  DpSshNodeProcess *self = data;
  DpNodeProcess *process = DP_NODE_PROCESS (self);
  const DpSpawnOptions *options = dp_node_process_get_options (process);
  const char *spec = dp_node_process_get_host (process);
  ssh_session session = ssh_new ();
  ssh_channel channel = NULL;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  char *opt_host = NULL;
  unsigned int port = 0;
  int fd, rc;
  int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
  GError *fail = NULL;
  Report *ended = NULL;
  g_autofree char *host = NULL;

  if (session == NULL)
    {
      fail = g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s: out of memory", spec);
      goto out;
    }

  /* user-given host (an alias is resolved by the config), then the config,
   * then what the user said explicitly, which wins over the config */
  ssh_options_set (session, SSH_OPTIONS_HOST, self->target);
  if (options && dp_spawn_options_get_ssh_config (options))
    rc = ssh_options_parse_config (session, dp_spawn_options_get_ssh_config (options));
  else
    rc = ssh_options_parse_config (session, NULL);
  if (rc != SSH_OK)
    {
      fail = g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s: cannot read the ssh configuration: %s",
                          spec, ssh_get_error (session));
      goto out;
    }
  if (self->user)
    ssh_options_set (session, SSH_OPTIONS_USER, self->user);
  if (self->port > 0)
    ssh_options_set (session, SSH_OPTIONS_PORT, &self->port);
  if (options && dp_spawn_options_get_ssh_identity (options))
    ssh_options_set (session, SSH_OPTIONS_ADD_IDENTITY, dp_spawn_options_get_ssh_identity (options));
  if (options && dp_spawn_options_get_ssh_known_hosts (options))
    ssh_options_set (session, SSH_OPTIONS_KNOWNHOSTS, dp_spawn_options_get_ssh_known_hosts (options));
  {
    long timeout = SSH_CONNECT_TIMEOUT_S;
    ssh_options_set (session, SSH_OPTIONS_TIMEOUT, &timeout);
  }

  if (ssh_options_get (session, SSH_OPTIONS_HOST, &opt_host) == SSH_OK && opt_host)
    {
      host = g_strdup (opt_host);
      ssh_string_free_char (opt_host);
    }
  else
    host = g_strdup (self->target);
  ssh_options_get_port (session, &port);
  g_atomic_pointer_set (&self->resolved_host, g_strdup (host));

  /* TCP with GIO: precise errors */
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, SSH_CONNECT_TIMEOUT_S);
  conn = g_socket_client_connect_to_host (client, host, (guint16) port, NULL, &error);
  if (conn == NULL)
    {
      fail = connect_error (host, (int) port, error);
      goto out;
    }
  fd = dup (g_socket_get_fd (g_socket_connection_get_socket (conn)));
  g_clear_object (&conn);
  if (fd < 0)
    {
      fail = g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s: dup: %s", host, g_strerror (errno));
      goto out;
    }
  {
    /* blocking, as libssh expects of a descriptor it is given */
    int flags = fcntl (fd, F_GETFL);
    fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  ssh_options_set (session, SSH_OPTIONS_FD, &fd);   /* libssh closes it */

  if (ssh_connect (session) != SSH_OK)
    {
      fail = g_error_new (DP_ERROR, DP_ERROR_HOST_UNREACHABLE, "ssh to %s port %u: %s",
                          host, port, ssh_get_error (session));
      goto out;
    }
  if ((fail = check_host_key (self, session, host, (int) port)))
    goto out;

  /* public keys only: the agent, then the identity files; never a prompt */
  rc = ssh_userauth_publickey_auto (session, NULL, NULL);
  if (rc != SSH_AUTH_SUCCESS)
    {
      char *user = NULL;
      g_autofree char *who = NULL;
      if (ssh_options_get (session, SSH_OPTIONS_USER, &user) == SSH_OK && user)
        {
          who = g_strdup (user);
          ssh_string_free_char (user);
        }
      fail = g_error_new (DP_ERROR, DP_ERROR_SSH_AUTH_FAILED,
                          "ssh to %s port %u: public key authentication as %s failed "
                          "(no key from the agent or the identity files was accepted)%s%s",
                          host, port, who ? who : "?",
                          rc == SSH_AUTH_ERROR ? ": " : "",
                          rc == SSH_AUTH_ERROR ? ssh_get_error (session) : "");
      goto out;
    }

  channel = ssh_channel_new (session);
  if (channel == NULL ||
      ssh_channel_open_session (channel) != SSH_OK ||
      ssh_channel_request_exec (channel, self->command) != SSH_OK)
    {
      fail = g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s port %u: cannot run the node: %s",
                          host, port, ssh_get_error (session));
      goto out;
    }

  if (!g_unix_open_pipe (in_pipe, FD_CLOEXEC, NULL) ||
      !g_unix_open_pipe (out_pipe, FD_CLOEXEC, NULL) ||
      !g_unix_open_pipe (err_pipe, FD_CLOEXEC, NULL))
    {
      fail = g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s: pipe: %s", host, g_strerror (errno));
      goto out;
    }

  {
    Report *r = g_new0 (Report, 1);
    r->fds[0] = in_pipe[1];
    r->fds[1] = out_pipe[0];
    r->fds[2] = err_pipe[0];
    in_pipe[1] = out_pipe[0] = err_pipe[0] = -1;
    report (self, r);
  }

  ended = pump (self, session, channel, in_pipe[0], out_pipe[1], err_pipe[1]);

out:
  /* The session goes first, the pipes after: the end of the node's output
   * tells the master that this thread has let go of libssh, so a master
   * that exits right after it leaves nothing half freed behind. */
  if (channel)
    {
      ssh_channel_close (channel);
      ssh_channel_free (channel);
    }
  if (session)
    {
      ssh_disconnect (session);
      ssh_free (session);
    }
  for (int i = 0; i < 2; i++)
    {
      if (in_pipe[i] >= 0) close (in_pipe[i]);
      if (out_pipe[i] >= 0) close (out_pipe[i]);
      if (err_pipe[i] >= 0) close (err_pipe[i]);
    }
  if (ended)
    report (self, ended);
  if (fail)
    report_error (self, fail);
  g_object_unref (self);
  return NULL;
}

/* ---- DpNodeProcess ---- */

static void
ssh_start (DpNodeProcess      *process,
           const char * const *argv,
           GCancellable       *cancellable)
{
  DpSshNodeProcess *self = DP_SSH_NODE_PROCESS (process);
  GString *cmd = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; argv[i]; i++)
    {
      g_autofree char *quoted = g_shell_quote (argv[i]);
      if (i)
        g_string_append_c (cmd, ' ');
      g_string_append (cmd, quoted);
    }
  /* exec: the node is the session's command, not a child of a shell */
  g_string_prepend (cmd, "exec ");
  self->command = g_string_free (cmd, FALSE);
  self->context = g_main_context_ref_thread_default ();

  self->worker = g_thread_try_new ("dp-ssh", worker, g_object_ref (self), &error);
  if (self->worker == NULL)
    {
      g_object_unref (self);
      dp_node_process_start_failed (process,
                                    g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED,
                                                 "ssh to %s: cannot start a thread: %s",
                                                 dp_node_process_get_host (process), error->message));
    }
}

static void
ssh_terminate (DpNodeProcess *process,
               gboolean       force)
{
  DpSshNodeProcess *self = DP_SSH_NODE_PROCESS (process);

  /* without force, the closed stdin (done by the base class) ends the node */
  if (force && self->wake_fds[1] >= 0)
    {
      g_atomic_int_set (&self->forced, 1);
      (void) !write (self->wake_fds[1], "k", 1);
    }
}

static void
dp_ssh_node_process_finalize (GObject *object)
{
  DpSshNodeProcess *self = DP_SSH_NODE_PROCESS (object);

  /* the worker holds a reference until it returns, so it is done (and this
   * may well be running on it) */
  g_clear_pointer (&self->worker, g_thread_unref);
  g_free (self->user);
  g_free (self->target);
  g_free (self->command);
  g_free (self->resolved_host);
  g_clear_pointer (&self->context, g_main_context_unref);
  for (int i = 0; i < 2; i++)
    if (self->wake_fds[i] >= 0)
      close (self->wake_fds[i]);
  G_OBJECT_CLASS (dp_ssh_node_process_parent_class)->finalize (object);
}

static void
dp_ssh_node_process_class_init (DpSshNodeProcessClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_ssh_node_process_finalize;
  DP_NODE_PROCESS_CLASS (klass)->start = ssh_start;
  DP_NODE_PROCESS_CLASS (klass)->terminate = ssh_terminate;
}

static void
dp_ssh_node_process_init (DpSshNodeProcess *self)
{
  self->wake_fds[0] = self->wake_fds[1] = -1;
  if (!g_unix_open_pipe (self->wake_fds, FD_CLOEXEC, NULL))
    self->wake_fds[0] = self->wake_fds[1] = -1;
}

/* Router thread, after the launch finished: the address to connect to (the
 * HostName of an ssh config alias, without user and ssh port). */
const char *
_dp_ssh_node_process_get_resolved_host (DpNodeProcess *process)
{
  if (!DP_IS_SSH_NODE_PROCESS (process))
    return NULL;
  return g_atomic_pointer_get (&DP_SSH_NODE_PROCESS (process)->resolved_host);
}

DpNodeProcess *
dp_ssh_node_process_new (const char *host)
{
  DpSshNodeProcess *self = g_object_new (DP_TYPE_SSH_NODE_PROCESS, NULL);

  _dp_node_process_set_host (DP_NODE_PROCESS (self), host ? host : "localhost");
  parse_target (host ? host : "localhost", &self->user, &self->target, &self->port);
  return DP_NODE_PROCESS (self);
}
