/* dp-node: the node bootstrap a master runs, locally or over ssh
 *
 *   dp-node [--listen ADDR:PORT] [--secret-stdin | --cookie-file FILE]
 *           [--plugin-dir DIR]... [--max-frame-size BYTES] [--max-places N]
 *           [--advertise HOST]
 *           [--max-places-per-connection N] [--max-pending-connections N]
 *           [--max-output-queue BYTES] [--max-inbox-size BYTES]
 *           [--max-inbox-messages N]
 *           [--daemon] [-v]
 *   dp-node --place-host FD --secret-stdin [--plugin-dir DIR]...
 *
 * With --place-host, dp-node is an isolated place's process, a child its
 * node started (dp-isolated-place.c): it listens nowhere and prints no
 * ready line, but serves the connected socket FD (its node's end of a
 * socketpair) with the secret on its standard input, and exits when that
 * standard input closes.
 *
 * With --secret-stdin the first line of standard input is the cluster
 * secret (hexadecimal); otherwise the cookie file's is used. Once it
 * listens, dp-node prints exactly one line on standard output:
 *
 *   {"dp-node":"ready","port":6340,"pid":1234,"version":"0.1.0","protocol":1}
 *
 * ("version" is the project's version from meson, as --version prints it.)
 * Afterwards standard output carries what places print; the log goes to
 * standard error. dp-node exits (status 0) when its standard input closes
 * (unless --daemon), when a master sends node-send-exit, or on SIGTERM /
 * SIGINT; it exits with status 1 when it cannot start (the reason on
 * standard error).
 *
 * A node always ends within STOP_DEADLINE_MS (1.8 s) of being told to stop:
 * the signal handler (or quit()) arms a one-shot interval timer first, and
 * SIGALRM _exit()s the process, with a line on stderr, if the orderly
 * shutdown has not finished by then (a place blocked in user code, a lock
 * nobody releases). A place that crashes ends the node at once (dp-place.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-config.h"

#include <libdp/libdp.h>
#include "dp-host-private.h"
#include "dp-tls-private.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <sys/time.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>

static GMainLoop *loop;

/* One line per record on stderr, "LEVEL: message", which the master's
 * spawner reads back and logs at the same level with the node attached. */
static GLogWriterOutput
node_log_writer (GLogLevelFlags   level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         data)
{
  const char *message = NULL, *name;
  g_autofree char *line = NULL;

  if (g_log_writer_default_would_drop (level, "dp-node") &&
      g_log_writer_default_would_drop (level, "Dp"))
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR:    name = "error"; break;
    case G_LOG_LEVEL_CRITICAL: name = "critical"; break;
    case G_LOG_LEVEL_WARNING:  name = "warning"; break;
    case G_LOG_LEVEL_MESSAGE:  name = "message"; break;
    case G_LOG_LEVEL_INFO:     name = "info"; break;
    default:                   name = "debug"; break;
    }
  line = g_strdup_printf ("%s: %s\n", name, message ? message : "");
  fputs (line, stderr);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}
static const char *quit_reason = "stopped";

/* ---- the stop deadline: async-signal-safe code only ---- */

#define STOP_DEADLINE_MS 1800

static struct sigaction glib_actions[2];   /* SIGTERM, SIGINT: GLib's, chained to */
static volatile sig_atomic_t deadline_armed;

static void
arm_stop_deadline (void)
{
  struct itimerval t = { { 0, 0 }, { STOP_DEADLINE_MS / 1000, (STOP_DEADLINE_MS % 1000) * 1000 } };

  if (deadline_armed)
    return;
  deadline_armed = 1;
  setitimer (ITIMER_REAL, &t, NULL);
}

static void
stop_deadline_expired (int sig)
{
  static const char msg[] = "error: did not stop within the stop deadline; exiting now\n";
  ssize_t ignored = write (STDERR_FILENO, msg, sizeof msg - 1);

  (void) ignored;
  _exit (0);
}

static void
stop_signal_handler (int        sig,
                     siginfo_t *info,
                     void      *ucontext)
{
  const struct sigaction *glib = &glib_actions[sig == SIGTERM ? 0 : 1];

  arm_stop_deadline ();
  if (glib->sa_flags & SA_SIGINFO)
    glib->sa_sigaction (sig, info, ucontext);
  else if (glib->sa_handler != SIG_DFL && glib->sa_handler != SIG_IGN)
    glib->sa_handler (sig);
}

/* After g_unix_signal_add(): ours first, then GLib's (which wakes the loop) */
static void
install_stop_deadline (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = stop_deadline_expired;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGALRM, &sa, NULL);

  memset (&sa, 0, sizeof sa);
  sa.sa_sigaction = stop_signal_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, &glib_actions[0]);
  sigaction (SIGINT, &sa, &glib_actions[1]);
}

static void
quit (const char *why)
{
  quit_reason = why;
  arm_stop_deadline ();
  g_main_loop_quit (loop);
}

static gboolean
on_signal (gpointer data)
{
  quit (data);
  return G_SOURCE_REMOVE;
}

static void
on_exit_requested (DpNode *node, gpointer data)
{
  quit ("a master asked it to exit");
}

/* Standard input after the lines read at start-up: a plain fd watch (no
 * GUnixInputStream and GTask, whose first use costs a type set-up and
 * GTask's thread pool); its end is the master's. */
static gboolean
stdin_readable (gint          fd,
                GIOCondition  condition,
                gpointer      data)
{
  char buf[4096];
  ssize_t n = read (fd, buf, sizeof buf);

  if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
    return G_SOURCE_CONTINUE;   /* nothing is read from it after the secret yet */
  quit ("its standard input closed");
  return G_SOURCE_REMOVE;
}

/* The longest line read from fd 0 (the TLS credentials) */
#define STDIN_LINE_MAX (64 * 1024)

/* What was read from fd 0 past the lines returned so far */
static GByteArray *stdin_ahead;

/* Reads one line (at most @max bytes) from fd 0, a block at a time (a
 * byte at a time took one system call per byte of the secret); what comes
 * after it stays for the next call. */
static char *
read_stdin_line (gsize        max,
                 const char  *what,
                 GError     **error)
{
  char buf[4096];

  /* sized once for the longest line and a block past it: growing would
   * leave copies of the secret in memory given back (what is read is
   * zeroed once used) */
  if (stdin_ahead == NULL)
    stdin_ahead = g_byte_array_sized_new (STDIN_LINE_MAX + sizeof buf + 1);
  g_return_val_if_fail (max <= STDIN_LINE_MAX, NULL);
  for (;;)
    {
      guint8 *nl = stdin_ahead->len ? memchr (stdin_ahead->data, '\n', stdin_ahead->len) : NULL;
      ssize_t n;

      if (nl != NULL || stdin_ahead->len > max)
        {
          gsize len = nl ? (gsize) (nl - stdin_ahead->data) : stdin_ahead->len;
          char *line;

          if (len > max)
            {
              g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                           "the %s on standard input is longer than %" G_GSIZE_FORMAT " bytes",
                           what, max);
              return NULL;
            }
          line = g_strndup ((const char *) stdin_ahead->data, len);
          memset (stdin_ahead->data, 0, len);
          g_byte_array_remove_range (stdin_ahead, 0, nl ? len + 1 : len);
          return line;
        }
      n = read (STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n > 0)
        {
          g_byte_array_append (stdin_ahead, (const guint8 *) buf, (guint) n);
          memset (buf, 0, (gsize) n);
          continue;
        }
      if (n == 0 && stdin_ahead->len > 0)
        {
          /* a last line without its newline */
          char *line = g_strndup ((const char *) stdin_ahead->data, stdin_ahead->len);

          memset (stdin_ahead->data, 0, stdin_ahead->len);
          g_byte_array_set_size (stdin_ahead, 0);
          return line;
        }
      g_set_error (error, DP_ERROR, DP_ERROR_COOKIE, "no %s on standard input", what);
      return NULL;
    }
}

/* A master starts its nodes with posix_spawn() and leaves its other
 * descriptors open (dp-local-node-process.c: libdp's and GLib's are all
 * close-on-exec, but a program may hold some that are not): the node closes
 * what it inherited beyond its standard streams and @keep (--place-host's
 * socket), so that it holds nothing of its master's. What it inherited is
 * what is not close-on-exec (it survived the exec); what the node's own
 * libraries may have opened by now is (GLib and glibc open close-on-exec),
 * and stays. The descriptors are collected first: closing while reading
 * the directory could skip some. */
static void
close_inherited_fds (int keep)
{
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *e;

  if (dir == NULL)
    return;
  while ((e = readdir (dir)) != NULL)
    {
      int fd, flags;

      if (e->d_name[0] < '0' || e->d_name[0] > '9')
        continue;
      fd = atoi (e->d_name);
      if (fd < 3 || fd == keep || fd == dirfd (dir))
        continue;
      flags = fcntl (fd, F_GETFD);
      if (flags >= 0 && !(flags & FD_CLOEXEC))
        g_array_append_val (fds, fd);
    }
  closedir (dir);
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
}

/* ADDRESS:PORT: a HOST:PORT as dp-launch reads it (dp-host.c), with
 * neither a user nor an ssh port */
static gboolean
parse_listen (const char *text, char **addr, guint16 *port, GError **error)
{
  g_autoptr(DpHostSpec) spec = _dp_host_spec_parse (text, DP_HOST_SPEC_NODE_PORT, error);

  if (spec == NULL)
    {
      g_prefix_error (error, "--listen: ");
      return FALSE;
    }
  if (spec->user || spec->ssh_port)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "--listen wants ADDRESS:PORT, got '%s'", text);
      return FALSE;
    }
  *addr = g_strdup (g_strcmp0 (spec->host, "localhost") == 0 ? "127.0.0.1" : spec->host);
  *port = spec->port;
  return TRUE;
}

/* The secret from the first line of standard input (as a master hands
 * it over), or from the cookie file. */
static gboolean
load_secret (DpNode      *node,
             gboolean     from_stdin,
             const char  *cookie_file,
             GError     **error)
{
  g_autofree char *line = NULL;
  g_autoptr(GBytes) secret = NULL;

  if (!from_stdin)
    return dp_node_load_cookie (node, cookie_file, error);
  line = read_stdin_line (4096, "secret (--secret-stdin)", error);
  if (line == NULL)
    return FALSE;
  secret = dp_secret_parse (line, error);
  memset (line, 0, strlen (line));
  if (secret == NULL)
    return FALSE;
  dp_node_set_secret_full (node, secret, "the secret given on standard input");
  return TRUE;
}

/* TLS credentials: the line after the secret on standard input (its
 * master's), or files given by hand; neither: the node issues its own from
 * the CA next to its cookie when a connection needs TLS (dp-tls.c). */
static gboolean
load_tls (DpNode      *node,
          const char  *mode_text,
          gboolean     from_stdin,
          const char  *cert_file,
          const char  *key_file,
          const char  *ca_file,
          GError     **error)
{
  DpTlsMode mode = DP_TLS_AUTO;

  if (mode_text && !_dp_tls_mode_parse (mode_text, &mode, error))
    return FALSE;
  g_object_set (node, "tls", mode, NULL);
  if (from_stdin)
    {
      g_autofree char *line = read_stdin_line (STDIN_LINE_MAX, "TLS credentials (--tls-stdin)", error);
      g_autoptr(DpTls) tls = NULL;

      if (line == NULL)
        return FALSE;
      tls = _dp_tls_line_parse (line, error);
      memset (line, 0, strlen (line));
      if (tls == NULL)
        return FALSE;
      dp_node_set_tls_credentials (node, _dp_tls_get_certificate (tls), _dp_tls_get_ca (tls));
    }
  else if (cert_file || key_file || ca_file)
    {
      g_autoptr(GTlsCertificate) cert = NULL;
      g_autoptr(GTlsCertificate) ca = NULL;

      if (!cert_file || !key_file || !ca_file)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "--tls-cert, --tls-key and --tls-ca go together");
          return FALSE;
        }
      cert = g_tls_certificate_new_from_files (cert_file, key_file, error);
      if (cert)
        ca = g_tls_certificate_new_from_file (ca_file, error);
      if (ca == NULL)
        {
          g_prefix_error (error, "TLS credentials: ");
          return FALSE;
        }
      dp_node_set_tls_credentials (node, cert, ca);
    }
  return TRUE;
}

/* The one line a spawner waits for (dp-node-process.c reads it): numbers
 * and the version, nothing to escape, so printed as it is (a JsonBuilder
 * and a JsonGenerator cost their type set-up on a node's way to ready) */
static void
print_ready_line (DpNode *node)
{
  printf ("{\"dp-node\":\"ready\",\"port\":%u,\"pid\":%ld,\"version\":\"%s\",\"protocol\":1}\n",
          (unsigned) dp_node_get_port (node), (long) getpid (), DP_PROJECT_VERSION);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  g_autofree char *advertise = NULL;
  g_autofree char *cookie_file = NULL;
  g_autofree char *tls_mode = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *tls_ca = NULL;
  gboolean tls_stdin = FALSE;
  g_auto(GStrv) plugin_dirs = NULL;
  gboolean secret_stdin = FALSE, daemon_mode = FALSE, verbose = FALSE, version = FALSE;
  gint64 max_frame = 0;
  gint place_host = -1;
  gint max_places = 0, max_places_per_conn = 0, max_pending = 0, max_inbox_messages = 0;
  gint64 max_output_queue = 0, max_inbox_size = 0;
  gdouble hb_interval = -1, hb_timeout = -1;
  GOptionEntry entries[] = {
    { "place-host", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &place_host, "Serve an isolated place over the socket FD (started by a node)", "FD" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Listen on ADDRESS:PORT (default 127.0.0.1:6340; port 0 picks a free one)", "ADDRESS:PORT" },
    { "secret-stdin", 0, 0, G_OPTION_ARG_NONE, &secret_stdin, "Read the cluster secret from the first line of standard input", NULL },
    { "cookie-file", 0, 0, G_OPTION_ARG_FILENAME, &cookie_file, "Cookie file with the secret (default $DP_COOKIE_FILE or ~/.config/libdp/cookie)", "FILE" },
    { "tls", 0, 0, G_OPTION_ARG_STRING, &tls_mode, "TLS on connections: auto (the default: with peers not on loopback), on, off", "MODE" },
    { "tls-stdin", 0, 0, G_OPTION_ARG_NONE, &tls_stdin, "Read TLS credentials from the line after the secret on standard input (as a master hands them over)", NULL },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "This node's TLS certificate (PEM; default: issued from the CA next to the cookie file)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "Its private key (PEM)", "FILE" },
    { "tls-ca", 0, 0, G_OPTION_ARG_FILENAME, &tls_ca, "The cluster CA's certificate (PEM): peers must have one it issued", "FILE" },
    { "plugin-dir", 'P', 0, G_OPTION_ARG_FILENAME_ARRAY, &plugin_dirs, "Also load plugins from DIR (repeatable; $DP_PLUGIN_PATH is used too)", "DIR" },
    { "max-frame-size", 0, 0, G_OPTION_ARG_INT64, &max_frame, "Drop connections that send frames over BYTES (default 64 MiB)", "BYTES" },
    { "advertise", 0, 0, G_OPTION_ARG_STRING, &advertise, "Name this host as HOST in channel references other nodes dial (default: the --listen address, or the host name for a wildcard)", "HOST" },
    { "max-places", 0, 0, G_OPTION_ARG_INT, &max_places, "Run at most N places at once (default 2048)", "N" },
    { "max-places-per-connection", 0, 0, G_OPTION_ARG_INT, &max_places_per_conn, "Run at most N places for one connection (default 1024)", "N" },
    { "max-pending-connections", 0, 0, G_OPTION_ARG_INT, &max_pending, "Close connections beyond N still in their handshake (default 64)", "N" },
    { "max-output-queue", 0, 0, G_OPTION_ARG_INT64, &max_output_queue, "Bytes a connection queues for writing before a put waits (default 8 MiB)", "BYTES" },
    { "max-inbox-size", 0, 0, G_OPTION_ARG_INT64, &max_inbox_size, "Bytes a place's inbox holds before the node stops reading its connection (default 8 MiB)", "BYTES" },
    { "max-inbox-messages", 0, 0, G_OPTION_ARG_INT, &max_inbox_messages, "The same counted in messages (default 4096)", "N" },
    { "heartbeat-interval", 0, 0, G_OPTION_ARG_DOUBLE, &hb_interval, "Send a heartbeat on every connection every SECONDS (default 2; 0: none). A master passes its own", "SECONDS" },
    { "heartbeat-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &hb_timeout, "Drop a connection silent for SECONDS (default 10; 0: never). A master passes its own", "SECONDS" },
    { "daemon", 0, 0, G_OPTION_ARG_NONE, &daemon_mode, "Keep running when standard input closes", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- run a libdp node");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) node = NULL;
  g_autofree char *addr = NULL;
  guint16 port = DP_DEFAULT_ROUTER_PORT;

  setlocale (LC_ALL, "");
  setvbuf (stdout, NULL, _IOLBF, 0);
  g_log_set_writer_func (node_log_writer, NULL, NULL);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Prints one JSON ready line on standard output once it listens, and exits\n"
    "when standard input closes (its master is gone) or a master asks it to.\n");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("dp-node: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("dp-node %s\n", DP_PROJECT_VERSION);
      return 0;
    }
  close_inherited_fds (place_host);
  if (verbose)
    {
      /* libdp's debug and ours, not every library's */
      const char *was = g_getenv ("G_MESSAGES_DEBUG");
      g_autofree char *domains = g_strconcat (was ? was : "", was ? " " : "", "Dp dp-node", NULL);

      g_setenv ("G_MESSAGES_DEBUG", domains, TRUE);
    }

  if (!parse_listen (listen ? listen : "127.0.0.1:6340", &addr, &port, &error))
    {
      g_printerr ("dp-node: %s\n", error->message);
      return 2;
    }

  node = dp_node_new ();
  if (!load_secret (node, secret_stdin, cookie_file, &error) ||
      !load_tls (node, tls_mode, tls_stdin, tls_cert, tls_key, tls_ca, &error))
    {
      g_printerr ("dp-node: %s\n", error->message);
      return 1;
    }

  for (guint i = 0; plugin_dirs && plugin_dirs[i]; i++)
    dp_node_add_plugin_dir (node, plugin_dirs[i]);
  if (advertise)
    dp_node_set_advertised_host (node, advertise);
  if (max_frame > 0)
    dp_node_set_max_frame_size (node, (gsize) max_frame);
  if (max_places > 0)
    g_object_set (node, "max-places", (guint) max_places, NULL);
  if (max_places_per_conn > 0)
    g_object_set (node, "max-places-per-connection", (guint) max_places_per_conn, NULL);
  if (max_pending > 0)
    g_object_set (node, "max-pending-connections", (guint) max_pending, NULL);
  if (max_output_queue > 0)
    g_object_set (node, "max-output-queue", (guint64) max_output_queue, NULL);
  if (max_inbox_size > 0)
    g_object_set (node, "max-inbox-size", (guint64) max_inbox_size, NULL);
  if (max_inbox_messages > 0)
    g_object_set (node, "max-inbox-messages", (guint) max_inbox_messages, NULL);
  if (hb_interval >= 0)
    g_object_set (node, "heartbeat-interval", hb_interval, NULL);
  if (hb_timeout >= 0)
    g_object_set (node, "heartbeat-timeout", hb_timeout, NULL);

  if (place_host >= 0)
    {
      g_autoptr(GSocket) socket = g_socket_new_from_fd (place_host, &error);
      if (socket == NULL || !dp_node_serve_socket (node, socket, &error))
        {
          g_printerr ("dp-node: --place-host: %s\n", error->message);
          return 1;
        }
    }
  else if (!dp_node_listen (node, addr, port, &error))
    {
      g_printerr ("dp-node: %s\n", error->message);
      return 1;
    }

  loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (node, "exit-requested", G_CALLBACK (on_exit_requested), NULL);
  g_unix_signal_add (SIGTERM, on_signal, (gpointer) "SIGTERM");
  g_unix_signal_add (SIGINT, on_signal, (gpointer) "SIGINT");
  install_stop_deadline ();
  if (!daemon_mode)
    g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_readable, NULL);

  if (place_host < 0)
    {
      print_ready_line (node);
      g_log_structured ("dp-node", G_LOG_LEVEL_DEBUG,
                        "MESSAGE", "listening on %s:%u", addr, dp_node_get_port (node));
    }

  g_main_loop_run (loop);
  g_log_structured ("dp-node", G_LOG_LEVEL_DEBUG, "MESSAGE", "exiting: %s", quit_reason);

  /* Places may still be running user code; don't wait for them. */
  dp_node_shutdown (node);
  fflush (stdout);
  fflush (stderr);
  _exit (0);
}
