/* dp-ssh-node-process.c: a node started over ssh (libssh)
 *
 * The second backend of DpNodeProcess, which _dp_node_process_new_for_host()
 * chooses for any host but this machine. Everything that blocks (name
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
 * The host comes from the user (the spawn call), never from a peer; its
 * user, name and ssh port (dp-host.c) are given to libssh as option values; the remote command line is the node's
 * argv with every argument quoted for the remote shell. The secret travels
 * on the channel's standard input, never on a command line. When the master
 * goes away the session closes, sshd closes the node's standard input and the
 * node exits.
 *
 * The TCP connection is made with GIO (so the errors are GIO's precise ones:
 * refused, unreachable, unknown name, timed out; _dp_error_from_gio() says
 * which DpError each is) and handed to libssh as a
 * file descriptor; libssh does everything else, including reading
 * ~/.ssh/config (or the file of dp_spawn_options_set_ssh_config()).
 *
 * This file is the module dp-ssh.so (dp-ssh-module-private.h), not part of
 * libdp: it links libssh, which a node must not load. It calls libdp only
 * through the table dp_ssh_module_init() is given (`dp->`), and casts to
 * the parent class with plain C casts (the checked casts of
 * G_DECLARE_DERIVABLE_TYPE would call libdp's hidden get_type function).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-node-process-private.h"
#include "dp-ssh-module-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <gmodule.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

/* libdp, as given to dp_ssh_module_init() */
static const DpSshModuleImports *dp;

#undef DP_ERROR
#define DP_ERROR (dp->error_domain)
#undef DP_TYPE_NODE_PROCESS
#define DP_TYPE_NODE_PROCESS (dp->node_process_type)
#define AS_PROCESS(self) ((DpNodeProcess *) (self))

#define SSH_CONNECT_TIMEOUT_S 10

#define DP_TYPE_SSH_NODE_PROCESS (dp_ssh_node_process_get_type ())
G_DECLARE_FINAL_TYPE (DpSshNodeProcess, dp_ssh_node_process, DP, SSH_NODE_PROCESS, DpNodeProcess)

struct _DpSshNodeProcess
{
  DpNodeProcess  parent_instance;

  /* set before the worker starts, read-only afterwards (user, host and
   * ssh port are the base class's DpHostSpec) */
  char          *command;       /* quoted remote command line */
  GMainContext  *context;       /* the router's */
  GThread       *worker;

  /* worker → router */
  int            wake_fds[2];   /* router writes 'k' to force the end */
  gint           forced;        /* atomic */
  char          *resolved_host; /* HostName after ssh config */
};

G_DEFINE_FINAL_TYPE (DpSshNodeProcess, dp_ssh_node_process, DP_TYPE_NODE_PROCESS)

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
  DpNodeProcess *process = AS_PROCESS (r->self);

  /* A start failure or the end is the worker's last report: wait for the
   * thread to be gone (it only drops a reference and returns; its thread
   * destructors free libssh's crypto state), so whoever sees the end sees
   * no thread of this process left behind, at exit either. */
  if (r->error || r->exited)
    {
      GThread *thread = g_steal_pointer (&r->self->worker);

      if (thread)
        g_thread_join (thread);
    }

  if (r->error)
    dp->start_failed (process, g_steal_pointer (&r->error));
  else if (r->exited)
    dp->notify_exited (process, r->status, r->reason);
  else
    dp->take_streams (process,
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
  /* always through an idle on the router's context, never inline: the
   * context may be nobody's for a moment (a reader leading it has just
   * left, see DpSharedLoop in dp-main-context.c), and
   * g_main_context_invoke() would then run this on the worker itself,
   * which joins the worker */
  {
    GSource *idle = g_idle_source_new ();

    g_source_set_name (idle, "[libdp] ssh worker report");
    g_source_set_priority (idle, G_PRIORITY_DEFAULT);
    g_source_set_callback (idle, report_in_router, r, report_free);
    g_source_attach (idle, self->context);
    g_source_unref (idle);
  }
}

static void
report_error (DpSshNodeProcess *self,
              GError           *error)
{
  Report *r = g_new0 (Report, 1);

  r->error = error;
  report (self, r);
}

/* ---- the worker ----
 *
 * A sequence of steps, each returning NULL or why the start failed:
 * configure (the ssh config and the user's choices), connect (TCP with GIO,
 * then libssh's key exchange), check the host key, authenticate, exec the
 * node, hand the pipes to the router; then pump until the node ends. */

/* What the steps share */
typedef struct {
  ssh_session   session;
  ssh_channel   channel;
  char         *host;        /* after the ssh config: the HostName */
  unsigned int  port;        /* and the Port */
  int           in[2];       /* the node's stdin pipe: the worker reads [0] */
  int           out[2];      /* its stdout and stderr: the worker writes [1] */
  int           err[2];
} Session;

static void
session_clear (Session *s)
{
  /* The session goes first, the pipes after: the end of the node's output
   * tells the master that this thread has let go of libssh, so a master
   * that exits right after it leaves nothing half freed behind. */
  if (s->channel)
    {
      ssh_channel_close (s->channel);
      ssh_channel_free (s->channel);
    }
  if (s->session)
    {
      ssh_disconnect (s->session);
      ssh_free (s->session);
    }
  for (int i = 0; i < 2; i++)
    {
      if (s->in[i] >= 0) close (s->in[i]);
      if (s->out[i] >= 0) close (s->out[i]);
      if (s->err[i] >= 0) close (s->err[i]);
    }
  g_free (s->host);
}

/* libssh's own log, as debug records of ours: shown only with libdp's
 * debug on (dp-launch -v, G_MESSAGES_DEBUG=Dp), never on its own on
 * stderr */
static void
libssh_log (int         priority,
            const char *function,
            const char *buffer,
            void       *userdata)
{
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "libssh",
                    "MESSAGE", "libssh: %s", buffer);
}

/* The user-given host first (an alias is resolved by the config), then the
 * config, then what the user said explicitly, which wins over the config */
static GError *
configure (DpSshNodeProcess *self,
           Session          *s)
{
  DpNodeProcess *process = AS_PROCESS (self);
  const DpSpawnOptions *options = dp->get_options (process);
  const DpHostSpec *spec = dp->get_host_spec (process);
  long timeout = SSH_CONNECT_TIMEOUT_S;
  char *opt_host = NULL;

  s->session = ssh_new ();
  if (s->session == NULL)
    return g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s: out of memory",
                        dp->get_host (process));
  ssh_options_set (s->session, SSH_OPTIONS_HOST, spec->host);
  if (ssh_options_parse_config (s->session, options ? dp->get_ssh_config (options) : NULL) != SSH_OK)
    return g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s: cannot read the ssh configuration: %s",
                        dp->get_host (process), ssh_get_error (s->session));
  /* after the config (whose LogLevel would print on stderr): libssh logs
   * through ours, and only when our debug is on (the callback and the
   * level are per thread in libssh: set on the thread of the session) */
  {
    int verbosity = g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN)
                    ? SSH_LOG_NOLOG : SSH_LOG_PROTOCOL;

    ssh_set_log_callback (libssh_log);
    ssh_options_set (s->session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
  }
  if (spec->user)
    ssh_options_set (s->session, SSH_OPTIONS_USER, spec->user);
  if (spec->ssh_port)
    {
      unsigned int port = spec->ssh_port;
      ssh_options_set (s->session, SSH_OPTIONS_PORT, &port);
    }
  if (options && dp->get_ssh_identity (options))
    ssh_options_set (s->session, SSH_OPTIONS_ADD_IDENTITY, dp->get_ssh_identity (options));
  if (options && dp->get_ssh_known_hosts (options))
    ssh_options_set (s->session, SSH_OPTIONS_KNOWNHOSTS, dp->get_ssh_known_hosts (options));
  ssh_options_set (s->session, SSH_OPTIONS_TIMEOUT, &timeout);

  if (ssh_options_get (s->session, SSH_OPTIONS_HOST, &opt_host) == SSH_OK && opt_host)
    {
      s->host = g_strdup (opt_host);
      ssh_string_free_char (opt_host);
    }
  else
    s->host = g_strdup (spec->host);
  ssh_options_get_port (s->session, &s->port);
  g_atomic_pointer_set (&self->resolved_host, g_strdup (s->host));
  return NULL;
}

/* TCP with GIO (so the errors are its precise ones), handed to libssh for
 * the key exchange */
static GError *
connect_session (Session *s)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  g_socket_client_set_timeout (client, SSH_CONNECT_TIMEOUT_S);
  conn = g_socket_client_connect_to_host (client, s->host, (guint16) s->port, NULL, &error);
  if (conn == NULL)
    {
      g_autofree char *what = g_strdup_printf ("ssh to %s port %u", s->host, s->port);
      return dp->error_from_gio (error, what);
    }
  fd = dup (g_socket_get_fd (g_socket_connection_get_socket (conn)));
  g_clear_object (&conn);
  if (fd < 0)
    return g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s: dup: %s", s->host, g_strerror (errno));
  /* blocking, as libssh expects of a descriptor it is given */
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  ssh_options_set (s->session, SSH_OPTIONS_FD, &fd);   /* libssh closes it */

  if (ssh_connect (s->session) != SSH_OK)
    return g_error_new (DP_ERROR, DP_ERROR_HOST_UNREACHABLE, "ssh to %s port %u: %s",
                        s->host, s->port, ssh_get_error (s->session));
  return NULL;
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

static char *
server_key_fingerprint (ssh_session session)
{
  char *fingerprint = NULL;
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
  return fingerprint;
}

static GError *
check_host_key (DpSshNodeProcess *self,
                Session          *s)
{
  const DpSpawnOptions *options = dp->get_options (AS_PROCESS (self));
  enum ssh_known_hosts_e state = ssh_session_is_known_server (s->session);
  g_autofree char *known = known_hosts_hint (s->session);
  g_autofree char *fingerprint = server_key_fingerprint (s->session);
  const char *host = s->host;
  int port = (int) s->port;

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
      if (options && dp->get_accept_new_host_key (options))
        {
          if (ssh_session_update_known_hosts (s->session) != SSH_OK)
            return g_error_new (DP_ERROR, DP_ERROR_HOST_KEY_UNKNOWN,
                                "ssh to %s port %d: could not add the host key to %s: %s",
                                host, port, known, ssh_get_error (s->session));
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
                          host, port, known, ssh_get_error (s->session));
    }
}

/* Public keys only: the agent, then the identity files; never a prompt */
static GError *
authenticate (Session *s)
{
  int rc = ssh_userauth_publickey_auto (s->session, NULL, NULL);
  char *user = NULL;
  g_autofree char *who = NULL;

  if (rc == SSH_AUTH_SUCCESS)
    return NULL;
  if (ssh_options_get (s->session, SSH_OPTIONS_USER, &user) == SSH_OK && user)
    {
      who = g_strdup (user);
      ssh_string_free_char (user);
    }
  return g_error_new (DP_ERROR, DP_ERROR_SSH_AUTH_FAILED,
                      "ssh to %s port %u: public key authentication as %s failed "
                      "(no key from the agent or the identity files was accepted)%s%s",
                      s->host, s->port, who ? who : "?",
                      rc == SSH_AUTH_ERROR ? ": " : "",
                      rc == SSH_AUTH_ERROR ? ssh_get_error (s->session) : "");
}

static GError *
exec_node (DpSshNodeProcess *self,
           Session          *s)
{
  s->channel = ssh_channel_new (s->session);
  if (s->channel == NULL ||
      ssh_channel_open_session (s->channel) != SSH_OK ||
      ssh_channel_request_exec (s->channel, self->command) != SSH_OK)
    return g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s port %u: cannot run the node: %s",
                        s->host, s->port, ssh_get_error (s->session));
  return NULL;
}

/* Three pipes; their router ends become the node's streams (the launch
 * goes on in the base class: the secret, the ready line) */
static GError *
hand_over_streams (DpSshNodeProcess *self,
                   Session          *s)
{
  Report *r;

  if (!g_unix_open_pipe (s->in, FD_CLOEXEC, NULL) ||
      !g_unix_open_pipe (s->out, FD_CLOEXEC, NULL) ||
      !g_unix_open_pipe (s->err, FD_CLOEXEC, NULL))
    return g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED, "ssh to %s: pipe: %s", s->host, g_strerror (errno));

  r = g_new0 (Report, 1);
  r->fds[0] = s->in[1];
  r->fds[1] = s->out[0];
  r->fds[2] = s->err[0];
  s->in[1] = s->out[0] = s->err[0] = -1;
  report (self, r);
  return NULL;
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

/* The pump's state: a session that runs */
typedef struct {
  Session  *s;
  gboolean  in_open;         /* the master has not closed the node's stdin */
  gboolean  out_open[2];     /* somebody reads the node's stdout, stderr */
  char      buf[32768];
} Pump;

/* Why the session is over (moving what libssh holds meanwhile), or NULL
 * while it goes on; @status: the node's exit status, when it sent one */
static char *
pump_ended (DpSshNodeProcess *self,
            Pump             *p,
            int              *status)
{
  Session *s = p->s;

  if (!drain_channel (s->channel, p->buf, sizeof p->buf, p->out_open, s->out[1], s->err[1]) ||
      !ssh_is_connected (s->session))
    return g_strdup_printf ("lost its ssh session (%s)", ssh_get_error (s->session));
  if (ssh_channel_is_eof (s->channel) || ssh_channel_is_closed (s->channel))
    {
      /* the EOF may have come in with the last bytes of either stream */
      drain_channel (s->channel, p->buf, sizeof p->buf, p->out_open, s->out[1], s->err[1]);
      *status = ssh_channel_get_exit_status (s->channel);
      return *status >= 0 ? g_strdup_printf ("exited with status %d", *status)
                          : g_strdup ("ended (its ssh channel closed without an exit status)");
    }
  if (g_atomic_int_get (&self->forced))
    return g_strdup ("was disconnected");
  return NULL;
}

/* Sleeps until the socket, the wake pipe or the node's stdin pipe has
 * something; @stdin_ready: the last one */
static char *
pump_wait (DpSshNodeProcess *self,
           Pump             *p,
           gboolean         *stdin_ready)
{
  struct pollfd fds[3];
  nfds_t n_fds = 0;

  fds[n_fds++] = (struct pollfd) { ssh_get_fd (p->s->session), POLLIN, 0 };
  fds[n_fds++] = (struct pollfd) { self->wake_fds[0], POLLIN, 0 };
  if (p->in_open)
    fds[n_fds++] = (struct pollfd) { p->s->in[0], POLLIN, 0 };
  *stdin_ready = FALSE;
  if (poll (fds, n_fds, -1) < 0)
    return errno == EINTR ? NULL : g_strdup_printf ("lost its ssh session (poll: %s)", g_strerror (errno));
  *stdin_ready = n_fds == 3 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR));
  return NULL;
}

/* Passes what the master wrote on the node's stdin on to the channel, and
 * its EOF */
static char *
pump_stdin (Pump *p)
{
  Session *s = p->s;
  gssize n = read (s->in[0], p->buf, sizeof p->buf);

  if (n > 0)
    {
      if (ssh_channel_write (s->channel, p->buf, (uint32_t) n) == SSH_ERROR)
        return g_strdup_printf ("lost its ssh session (%s)", ssh_get_error (s->session));
    }
  else if (n == 0 || errno != EINTR)
    {
      /* the master closed the node's stdin: pass the EOF on */
      p->in_open = FALSE;
      ssh_channel_send_eof (s->channel);
    }
  return NULL;
}

/* Move bytes until the remote command ends or the session is lost;
 * returns how it ended, to be reported once the session is cleared. */
static Report *
pump (DpSshNodeProcess *self,
      Session          *s)
{
  g_autofree Pump *p = g_new0 (Pump, 1);
  Report *r = g_new0 (Report, 1);
  gboolean stdin_ready = FALSE;

  p->s = s;
  p->in_open = p->out_open[0] = p->out_open[1] = TRUE;
  r->exited = TRUE;
  r->status = -1;
  while ((r->reason = pump_ended (self, p, &r->status)) == NULL &&
         (r->reason = pump_wait (self, p, &stdin_ready)) == NULL &&
         (!stdin_ready || (r->reason = pump_stdin (p)) == NULL))
    ;
  return r;
}

static gpointer
worker (gpointer data)
{
  DpSshNodeProcess *self = data;
  Session s = { .in = { -1, -1 }, .out = { -1, -1 }, .err = { -1, -1 } };
  Report *ended = NULL;
  GError *fail;

  if ((fail = configure (self, &s)) == NULL &&
      (fail = connect_session (&s)) == NULL &&
      (fail = check_host_key (self, &s)) == NULL &&
      (fail = authenticate (&s)) == NULL &&
      (fail = exec_node (self, &s)) == NULL &&
      (fail = hand_over_streams (self, &s)) == NULL)
    ended = pump (self, &s);
  session_clear (&s);
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
      dp->start_failed (process,
                        g_error_new (DP_ERROR, DP_ERROR_SPAWN_FAILED,
                                     "ssh to %s: cannot start a thread: %s",
                                     dp->get_host (process), error->message));
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

/* Router thread, after the launch finished: the HostName of an ssh config
 * alias (without user and ssh port) */
static const char *
ssh_get_address (DpNodeProcess *process)
{
  const char *resolved = g_atomic_pointer_get (&DP_SSH_NODE_PROCESS (process)->resolved_host);

  return resolved ? resolved : dp->get_host_spec (process)->host;
}

static void
dp_ssh_node_process_finalize (GObject *object)
{
  DpSshNodeProcess *self = DP_SSH_NODE_PROCESS (object);

  /* the worker holds a reference until it returns, and its last report
   * joins it; without that report (it was never started) there is no
   * thread to join */
  g_clear_pointer (&self->worker, g_thread_unref);
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
  DpNodeProcessClass *process_class = (DpNodeProcessClass *) klass;

  G_OBJECT_CLASS (klass)->finalize = dp_ssh_node_process_finalize;
  process_class->start = ssh_start;
  process_class->terminate = ssh_terminate;
  process_class->get_address = ssh_get_address;
}

static void
dp_ssh_node_process_init (DpSshNodeProcess *self)
{
  self->wake_fds[0] = self->wake_fds[1] = -1;
  if (!g_unix_open_pipe (self->wake_fds, FD_CLOEXEC, NULL))
    self->wake_fds[0] = self->wake_fds[1] = -1;
}

/* ---- the module's one export ---- */

G_MODULE_EXPORT GType dp_ssh_module_init (const DpSshModuleImports *imports);

/* libdp calls it once, under its lock, before any ssh node is made */
G_MODULE_EXPORT GType
dp_ssh_module_init (const DpSshModuleImports *imports)
{
  if (imports == NULL || imports->abi != DP_SSH_MODULE_ABI ||
      imports->size != sizeof (DpSshModuleImports))
    return 0;
  dp = imports;
  return dp_ssh_node_process_get_type ();
}
