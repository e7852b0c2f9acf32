/* dp-launch: run a place on a node from the command line
 *
 *   dp-launch [OPTIONS] HOST:PORT PLUGIN SYMBOL
 *   dp-launch --connect --attach NAME [OPTIONS] HOST:PORT
 *
 * Spawns a node on HOST (locally for a local host name, over ssh otherwise)
 * listening on PORT (0: a free one), or attaches to a running one with
 * --connect; starts the place SYMBOL of PLUGIN there; sends it each --message
 * and then each line of standard input, parsed as JSON; prints every
 * message the place sends as one line of JSON on standard output. When
 * standard input ends the channel is closed; dp-launch exits once the place
 * has finished. Lifecycle events and errors go to standard error.
 *
 * With --attach NAME it starts nothing: it connects to the place already
 * registered as NAME on the running node, as one more client of it
 * (dp_remote_node_connect_to_named_place()), and exchanges JSON lines the
 * same way. A client cannot see the place finish, and closing its channel
 * drops the answers still on their way, so at the end of the input it
 * waits for one answer per message sent (the request/answer shape of named
 * places), then closes its channel and exits; --no-wait closes at once.
 *
 * Flow control: a line of standard input is read only once the previous
 * one is queued on the connection (dp_remote_connection_put_async()), so
 * while the place does not consume, dp-launch stops reading and the writer
 * of our standard input blocks. Standard output is written with blocking
 * writes from the main thread: while nobody reads it, the place's messages
 * wait in the connection's bounded inbox, the router stops reading the
 * socket, and the place blocks in its put. The router has its own thread,
 * so heartbeats go on meanwhile.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-config.h"

#include <libdp/libdp.h>
#include "dp-host-private.h"
#include "dp-hosts-file-private.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

enum {
  EXIT_OK = 0,
  EXIT_FAILURE_ = 1,
  EXIT_USAGE = 2,
  EXIT_NODE = 3,
  EXIT_PLACE_START = 4,
  EXIT_PLACE_CRASHED = 5,
  EXIT_LOST = 6,
  EXIT_BAD_INPUT = 7,
  EXIT_NO_SUCH_NAME = 8,
};

static GMainLoop *loop;
static DpRemoteNode *the_node;
static int exit_code = EXIT_OK;
static gboolean bad_input;
static gboolean verbose;
static guint line_no;
static DpRemoteConnection *place;
static GDataInputStream *input;
static char **messages;
static char *signature;
static gboolean log_json;
static gboolean events_json;
static gboolean list_mode;          /* --list: print what runs on the node */
static guint progress_id;           /* -v: the spawn's progress timer */
static gint64 spawn_started_us;
/* --attach: the name, messages queued and answers printed so far, whether
 * standard input has ended, --no-wait */
static char *attach_name;
static guint64 n_sent, n_answers;
static gboolean input_done, no_wait;

/* One JSON object on a line of standard error: @first_key, then string
 * values and keys, ending with NULL (a NULL value is left out); @event,
 * when not NULL, comes first with the time (--events-json) */
static void
print_json_valist (const char *event_name,
                   const char *first_key,
                   va_list     ap)
{
  GVariantBuilder b;
  g_autoptr(GVariant) v = NULL;
  g_autofree char *json = NULL;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (event_name)
    {
      g_variant_builder_add (&b, "{sv}", "event", g_variant_new_string (event_name));
      g_variant_builder_add (&b, "{sv}", "time", g_variant_new_double (g_get_real_time () / 1e6));
    }
  for (const char *key = first_key; key; key = va_arg (ap, const char *))
    {
      const char *value = va_arg (ap, const char *);
      if (value)
        g_variant_builder_add (&b, "{sv}", key, g_variant_new_string (value));
    }
  v = g_variant_ref_sink (g_variant_builder_end (&b));
  json = dp_variant_to_json (v);
  g_printerr ("%s\n", json);
}

/* --log-json: one record */
static void print_json_line (const char *first_key, ...) G_GNUC_NULL_TERMINATED;
static void
print_json_line (const char *first_key,
                 ...)
{
  va_list ap;

  va_start (ap, first_key);
  print_json_valist (NULL, first_key, ap);
  va_end (ap);
}

/* Every line dp-launch itself writes on standard error: "dp-launch: TEXT",
 * or with --log-json {"source": "dp-launch", "message": TEXT} */
static void say (const char *format, ...) G_GNUC_PRINTF (1, 2);
static void
say (const char *format,
     ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (log_json)
    print_json_line ("source", "dp-launch", "message", g_strchomp (text), NULL);
  else
    g_printerr ("dp-launch: %s", text);
}

/* --events-json: one lifecycle event as a JSON line on standard error:
 * {"event": NAME, "time": seconds since the epoch, ...@kv (string pairs,
 * NULL values left out)} */
static void event (const char *name, ...) G_GNUC_NULL_TERMINATED;
static void
event (const char *name,
       ...)
{
  va_list ap;

  if (!events_json)
    return;
  va_start (ap, name);
  print_json_valist (name, va_arg (ap, const char *), ap);
  va_end (ap);
}

static const char *
level_name (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR:    return "error";
    case G_LOG_LEVEL_CRITICAL: return "critical";
    case G_LOG_LEVEL_WARNING:  return "warning";
    case G_LOG_LEVEL_MESSAGE:  return "message";
    case G_LOG_LEVEL_INFO:     return "info";
    default:                   return "debug";
    }
}

/* Records from places are printed by on_log(); everything else as usual,
 * or with --log-json as {"source": "log", "domain", "level", "event",
 * "message"} (what GLib would show, nothing more) */
static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         data)
{
  const char *domain = NULL, *event = NULL, *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "DP_EVENT") == 0)
        event = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }
  if (g_strcmp0 (event, "place-log") == 0)
    return G_LOG_WRITER_HANDLED;
  if (!log_json)
    return g_log_writer_default (level, fields, n_fields, data);
  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  print_json_line ("source", "log", "domain", domain, "level", level_name (level),
                   "event", event, "message", message ? message : "", NULL);
  if (level & G_LOG_FLAG_FATAL)
    G_BREAKPOINT ();
  return G_LOG_WRITER_HANDLED;
}

static void
on_log (DpNode *router, const char *node, const char *from_place, const char *severity,
        const char *message, gpointer data)
{
  if (log_json)
    {
      g_autoptr(GVariant) v = g_variant_ref_sink (
        g_variant_new_parsed ("{'node': <%s>, 'place': <%s>, 'severity': <%s>, 'message': <%s>}",
                              node, from_place, severity, message));
      g_autofree char *json = dp_variant_to_json (v);
      g_printerr ("%s\n", json);
    }
  else
    say ("[%s %s] %s: %s\n", node, from_place, severity, message);
}

static void
finish (int code)
{
  exit_code = code;
  g_main_loop_quit (loop);
}

static void attach_maybe_done (void);

static void
on_message (DpRemoteConnection *rc, GVariant *msg, gpointer data)
{
  g_autofree char *json = dp_variant_to_json (msg);

  printf ("%s\n", json);
  fflush (stdout);
  n_answers++;
  attach_maybe_done ();
}

/* --attach: a message came back unread, the named place has ended */
static void
on_undelivered (DpRemoteConnection *rc, GVariant *msg, gpointer data)
{
  say ("the place named '%s' has ended: a message came back undelivered\n",
              attach_name);
  finish (EXIT_LOST);
}

static void
on_died (DpRemoteConnection *rc, int exit, const char *detail, gpointer data)
{
  g_autoptr(GError) error = dp_remote_connection_dup_error (rc);

  event (exit == DP_PLACE_EXIT_FAILED ? "place-failed" : exit == DP_PLACE_EXIT_LOST ? "place-lost" : "place-died",
         "symbol", dp_remote_connection_get_symbol (rc),
         "exit", dp_place_exit_to_string (exit), "detail", detail, NULL);

  switch (exit)
    {
    case DP_PLACE_EXIT_RETURNED:
      if (verbose)
        say ("place %s finished\n", dp_remote_connection_get_symbol (rc));
      finish (bad_input ? EXIT_BAD_INPUT : EXIT_OK);
      break;
    case DP_PLACE_EXIT_CRASHED:
      say ("place %s crashed: %s\n", dp_remote_connection_get_symbol (rc), detail);
      finish (EXIT_PLACE_CRASHED);
      break;
    case DP_PLACE_EXIT_FAILED:
      if (attach_name && g_error_matches (error, DP_ERROR, DP_ERROR_NAME_NOT_FOUND))
        {
          say ("no place named '%s' on node %s:%u\n", attach_name,
                      dp_remote_node_get_host (the_node), dp_remote_node_get_port (the_node));
          finish (EXIT_NO_SUCH_NAME);
        }
      else if (attach_name)
        {
          say ("cannot attach to the place named '%s': %s\n", attach_name,
                      error ? error->message : detail);
          finish (EXIT_PLACE_START);
        }
      else
        {
          say ("cannot start place: %s\n", error ? error->message : detail);
          finish (EXIT_PLACE_START);
        }
      break;
    default:
      say ("place %s lost: %s\n", dp_remote_connection_get_symbol (rc), detail);
      finish (EXIT_LOST);
      break;
    }
}

static void line_cb (GObject *source, GAsyncResult *result, gpointer data);

static void
read_next_line (void)
{
  g_data_input_stream_read_line_async (input, G_PRIORITY_DEFAULT, NULL, line_cb, NULL);
}

static guint puts_in_flight;
static gboolean close_when_sent;

/* --attach, once the input has ended and every put is queued: when every
 * message has had its answer (or at once with --no-wait), closes the
 * channel and ends; the place goes on serving its other clients */
static void
attach_maybe_done (void)
{
  if (attach_name == NULL || !input_done || puts_in_flight > 0 || !g_main_loop_is_running (loop))
    return;
  if (!no_wait && n_answers < n_sent)
    return;
  if (verbose)
    say ("detaching from '%s': %" G_GUINT64_FORMAT " messages sent, %"
                G_GUINT64_FORMAT " received\n", attach_name, n_sent, n_answers);
  dp_remote_connection_close (place);
  finish (bad_input ? EXIT_BAD_INPUT : EXIT_OK);
}

/* Closes the channel once every message put so far is queued */
static void
close_after_puts (void)
{
  input_done = TRUE;
  if (attach_name)
    attach_maybe_done ();
  else if (puts_in_flight > 0)
    close_when_sent = TRUE;
  else
    dp_remote_connection_close (place);
}

static void
put_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autofree char *what = data;
  g_autoptr(GError) error = NULL;
  gboolean from_stdin = g_str_has_prefix (what, "line ");

  if (!dp_remote_connection_put_finish (place, result, &error) &&
      dp_remote_connection_get_state (place) != DP_REMOTE_CONNECTION_EXITED)
    {
      say ("%s: the place is gone, message dropped\n", what);
      bad_input = TRUE;
    }
  else
    n_sent++;
  if (--puts_in_flight == 0 && close_when_sent)
    dp_remote_connection_close (place);
  attach_maybe_done ();
  if (from_stdin)
    read_next_line ();   /* the next line only once this one is queued */
}

/* Returns whether a put was started (put_done() follows) */
static gboolean
put_json (const char *text, const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = dp_variant_from_json (text, signature, &error);

  if (v == NULL)
    {
      say ("%s: %s\n", what, error->message);
      bad_input = TRUE;
      return FALSE;
    }
  puts_in_flight++;
  dp_remote_connection_put_async (place, v, NULL, put_done, g_strdup (what));
  return TRUE;
}

static void
line_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (input, result, &len, &error);

  if (line == NULL)
    {
      if (error)
        {
          say ("standard input: %s\n", error->message);
          bad_input = TRUE;
        }
      close_after_puts ();
      return;
    }
  line_no++;
  g_strstrip (line);
  if (*line)
    {
      g_autofree char *what = g_strdup_printf ("line %u", line_no);
      if (put_json (line, what))
        return;   /* put_done() reads the next line */
    }
  read_next_line ();
}

typedef struct {
  char          *plugin;
  char          *symbol;
  char          *name;
  DpLaunchFlags  flags;
  gboolean       read_stdin;
} LaunchArgs;

/* Sends the --message's, then the lines of standard input */
static void
start_input (LaunchArgs *a)
{
  for (guint i = 0; messages && messages[i]; i++)
    {
      g_autofree char *what = g_strdup_printf ("--message %u", i + 1);
      put_json (messages[i], what);
    }
  if (a->read_stdin)
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
      input = g_data_input_stream_new (in);
      read_next_line ();
    }
  else
    close_after_puts ();
}

static void
ready_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  LaunchArgs *a = data;
  g_autoptr(GError) error = NULL;

  if (!dp_remote_connection_wait_ready_finish (place, result, &error))
    return;  /* "died" reports it */
  event (attach_name ? "attached" : "place-started",
         "symbol", dp_remote_connection_get_symbol (place), "name", attach_name, NULL);
  if (verbose && attach_name)
    say ("attached to the place named '%s'\n", attach_name);
  else if (verbose)
    say ("place %s runs\n", dp_remote_connection_get_symbol (place));
  /* --attach: nothing is sent before the name is known to be there */
  if (attach_name)
    start_input (a);
}

static void
on_restarting (DpRemoteConnection *rc, guint attempt, gpointer data)
{
  g_autofree char *n = g_strdup_printf ("%u", attempt);

  event ("place-restarting", "symbol", dp_remote_connection_get_symbol (rc), "attempt", n, NULL);
}

static void
on_node_died (DpRemoteNode *node, const char *reason, gpointer data)
{
  event ("node-lost", "host", dp_remote_node_get_host (node), "reason", reason, NULL);
}

static void
start_place (DpRemoteNode *node, LaunchArgs *a)
{
  g_autofree char *port = g_strdup_printf ("%u", dp_remote_node_get_port (node));
  g_autofree char *pid = g_strdup_printf ("%" G_GINT64_FORMAT, dp_remote_node_get_pid (node));

  if (events_json)
    event ("node-ready", "host", dp_remote_node_get_host (node), "port", port, "pid", pid, NULL);
  else
    say ("node %s:%u ready (pid %" G_GINT64_FORMAT ")\n",
         dp_remote_node_get_host (node), dp_remote_node_get_port (node),
         dp_remote_node_get_pid (node));
  g_signal_connect (node, "died", G_CALLBACK (on_node_died), NULL);
  if (attach_name)
    {
      place = dp_remote_node_connect_to_named_place (node, attach_name);
      g_signal_connect (place, "undelivered", G_CALLBACK (on_undelivered), NULL);
    }
  else
    place = dp_remote_node_launch_place (node, a->plugin, a->symbol, a->flags, a->name);
  g_signal_connect (place, "message", G_CALLBACK (on_message), NULL);
  g_signal_connect (place, "died", G_CALLBACK (on_died), NULL);
  g_signal_connect (place, "restarting", G_CALLBACK (on_restarting), NULL);
  dp_remote_connection_wait_ready_async (place, NULL, ready_cb, a);
  if (!attach_name)
    start_input (a);
}

static gboolean connect_mode;

static void
node_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  LaunchArgs *a = data;
  g_autoptr(GError) error = NULL;

  if (progress_id)
    g_clear_handle_id (&progress_id, g_source_remove);
  the_node = connect_mode ? dp_remote_node_connect_finish (result, &error)
                     : dp_remote_node_spawn_finish (result, &error);
  if (the_node == NULL)
    {
      say ("%s\n", error->message);
      finish (EXIT_NODE);
      return;
    }
  if (list_mode)
    {
      g_autoptr(GVariant) listing = dp_remote_node_list_places (the_node, NULL, &error);
      g_autofree char *json = NULL;

      if (listing == NULL)
        {
          say ("cannot list the node: %s\n", error->message);
          finish (EXIT_NODE);
          return;
        }
      json = dp_variant_to_json (listing);
      printf ("%s\n", json);
      fflush (stdout);
      finish (EXIT_OK);
      return;
    }
  start_place (the_node, a);
}

/* -v: a slow spawn (ssh, a busy host) says it is still at it */
static gboolean
spawn_progress (gpointer data)
{
  say ("still waiting for the node on %s (%.0f s)\n", (const char *) data,
       (g_get_monotonic_time () - spawn_started_us) / 1e6);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint (gpointer data)
{
  say ("interrupted\n");
  finish (130);
  return G_SOURCE_REMOVE;
}

/* The command line's options (the globals above are shared with the
 * callbacks: messages, signature, log_json, verbose). */
typedef struct {
  gboolean  thunk, connect, use_ssh, use_local, accept_new, no_stdin, version;
  gboolean  isolate;
  char     *named, *attach, *node_path, *cookie_file, *identity, *known_hosts, *ssh_config;
  char     *rmpi;
  char     *tls;                    /* --tls: auto, on, off */
  char     *hosts_file;
  GPtrArray *hosts;                 /* --hosts: DpHostsEntry */
  const DpHostsEntry *entry;        /* HOST named a host of the file */
  GStrv     plugin_dirs;
  gint      ready_timeout;
  gint      rmpi_timeout;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->named);
  g_free (o->attach);
  g_free (o->rmpi);
  g_free (o->tls);
  g_free (o->node_path);
  g_free (o->cookie_file);
  g_free (o->identity);
  g_free (o->known_hosts);
  g_free (o->ssh_config);
  g_free (o->hosts_file);
  g_clear_pointer (&o->hosts, g_ptr_array_unref);
  g_strfreev (o->plugin_dirs);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

static const char summary[] =
  "Starts the place SYMBOL of PLUGIN on a node at HOST:PORT (PORT 0: any free\n"
  "port), sends it the --message's and then each line of standard input as a\n"
  "JSON message, and prints every message it sends back as a line of JSON.\n"
  "When standard input ends the channel is closed; dp-launch exits once the\n"
  "place has finished.\n\n"
  "HOST is spawned locally when it names this machine (localhost, 127.0.0.1…),\n"
  "over ssh otherwise; it may be user@host or host:sshport for ssh, and an IPv6\n"
  "address goes in brackets ([::1]:0, user@[fe80::1]:22:0). PLUGIN is a\n"
  "file (its directory is added to a spawned node's plugin path) or a name on\n"
  "the node's plugin path ($DP_PLUGIN_PATH, --plugin-dir).\n\n"
  "With --connect --attach NAME and only HOST:PORT, dp-launch starts nothing:\n"
  "it becomes one more client of the place registered as NAME on the running\n"
  "node (dp-launch --named NAME, dp_remote_node_launch_place()), sends it the\n"
  "--message's and the lines of standard input, and prints what the place\n"
  "sends back to this client. At the end of the input it waits for one answer\n"
  "per message sent, then closes its channel and exits 0 (the place goes on\n"
  "serving others); --no-wait closes at once. An unknown NAME is exit status 8.";

static const char description[] =
  "Exit status:\n"
  "  0  the place finished normally\n"
  "  1  other failure\n"
  "  2  usage error\n"
  "  3  the node could not be spawned or connected to\n"
  "  4  the place could not be started (plugin, symbol, ABI, name)\n"
  "  5  the place crashed\n"
  "  6  the node or the connection to it was lost\n"
  "  7  some input lines were not valid JSON messages (the rest was sent)\n"
  "  8  --attach: no place has that name on the node\n"
  "  130 interrupted\n\n"
  "JSON and messages (json-glib's mapping; a number is never changed):\n"
  "  JSON         read as     read with --signature TYPE  written from\n"
  "  \"text\"       s           s; o, g when it is one      s o g\n"
  "  -12          x (int64)   y n q i u x t h, in range   y n q i u x t h\n"
  "  2.5  1e3     d           d (integers too)            d, shortest exact form\n"
  "  \"inf\" \"nan\"  s           d (\"inf\" \"-inf\" \"nan\")      d infinite or NaN\n"
  "  true false   b           b                           b\n"
  "  null         mv nothing  mT nothing                  mT nothing\n"
  "  [...]        av          aT; (T...) one per item     aT (ay too), (T...)\n"
  "  {\"k\":...}    a{sv}       a{KV}; {KV} one member      a{KV}, {KV}; keys as text\n"
  "  any value    -           v as without TYPE; mT as T  v, mT: the value inside\n"
  "  An integer outside int64 (no --signature) or outside TYPE, a number beyond\n"
  "  a double (1e400), a string that is not wholly a number where TYPE wants\n"
  "  one: that line is an error naming the number (exit 7). Every output line\n"
  "  is valid JSON; doubles print in the shortest form that reads back the same\n"
  "  (2.0, 0.1, 1e+20); an infinite or NaN double prints as \"inf\" \"-inf\" \"nan\".\n"
  "\n"
  "Examples:\n"
  "  printf '\"ping\"\\n[1, 2.5]\\n' | dp-launch localhost:0 ./echo.so echo\n"
  "  dp-node --listen 127.0.0.1:6340 --plugin-dir /opt/plugins &\n"
  "  dp-launch --connect -m '\"hi\"' --no-stdin 127.0.0.1:6340 echo echo\n"
  "  dp-launch --connect --named srv 127.0.0.1:6340 echo echo_named &\n"
  "  echo '\"ping\"' | dp-launch --connect --attach srv 127.0.0.1:6340\n"
  "  dp-launch --rmpi job.json      (an RMPI job: see README, RMPI)\n"
  "  dp-launch --connect --list 127.0.0.1:6340     # what runs there, as JSON\n";

/* Parses the command line into @o, @host and @port (HOST:PORT, the rest
 * of argv being PLUGIN SYMBOL); returns -1 to go on, or the exit status. */
static int
parse_command_line (Options  *o,
                    int      *argc,
                    char   ***argv,
                    char    **host,
                    guint16  *port)
{
  GOptionEntry entries[] = {
    { "message", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &messages, "Send this JSON message first (repeatable)", "JSON" },
    { "named", 'n', 0, G_OPTION_ARG_STRING, &o->named, "Register the place under NAME on the node", "NAME" },
    { "thunk", 't', 0, G_OPTION_ARG_NONE, &o->thunk, "SYMBOL is a thunk that creates the place (DpPlace *fn (void))", NULL },
    { "isolate", 0, 0, G_OPTION_ARG_NONE, &o->isolate, "Run the place in a process of its own: its crash does not end the node", NULL },
    { "connect", 'c', 0, G_OPTION_ARG_NONE, &o->connect, "Attach to a node already running at HOST:PORT instead of spawning one", NULL },
    { "attach", 'a', 0, G_OPTION_ARG_STRING, &o->attach, "With --connect and no PLUGIN SYMBOL: talk to the place already named NAME on the node, start none", "NAME" },
    { "hosts", 'H', 0, G_OPTION_ARG_FILENAME, &o->hosts_file, "A JSON hosts file: HOST may then be one of its names (its host, port and spawn settings)", "FILE" },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &list_mode, "With --connect and only HOST:PORT: print what runs on the node (its places, named places and their clients, connections) as one line of JSON, and exit", NULL },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait, "With --attach: at the end of the input close at once, without waiting for one answer per message", NULL },
    { "local", 0, 0, G_OPTION_ARG_NONE, &o->use_local, "Spawn the node as a local child process, whatever HOST says", NULL },
    { "ssh", 0, 0, G_OPTION_ARG_NONE, &o->use_ssh, "Spawn the node over ssh, even on localhost", NULL },
    { "node-path", 0, 0, G_OPTION_ARG_FILENAME, &o->node_path, "The dp-node program on the node's host", "PATH" },
    { "plugin-dir", 'P', 0, G_OPTION_ARG_FILENAME_ARRAY, &o->plugin_dirs, "Let the node load plugins from DIR (repeatable)", "DIR" },
    { "cookie-file", 0, 0, G_OPTION_ARG_FILENAME, &o->cookie_file, "Cookie file with the cluster secret", "FILE" },
    { "tls", 0, 0, G_OPTION_ARG_STRING, &o->tls, "TLS on the cluster's connections: auto (the default: with peers not on loopback), on (loopback too), off", "MODE" },
    { "signature", 's', 0, G_OPTION_ARG_STRING, &signature, "Parse input as this GVariant type instead of inferring one", "TYPE" },
    { "no-stdin", 0, 0, G_OPTION_ARG_NONE, &o->no_stdin, "Do not read standard input: send the --message's, then close", NULL },
    { "ready-timeout", 0, 0, G_OPTION_ARG_INT, &o->ready_timeout, "How long a node may take to start, in ms (default 30000)", "MS" },
    { "accept-new-host-key", 0, 0, G_OPTION_ARG_NONE, &o->accept_new, "Add an unknown ssh host key to known_hosts", NULL },
    { "ssh-identity", 0, 0, G_OPTION_ARG_FILENAME, &o->identity, "ssh private key to use", "FILE" },
    { "ssh-known-hosts", 0, 0, G_OPTION_ARG_FILENAME, &o->known_hosts, "ssh known_hosts file to use", "FILE" },
    { "ssh-config", 0, 0, G_OPTION_ARG_FILENAME, &o->ssh_config, "ssh config file to read instead of ~/.ssh/config", "FILE" },
    { "events-json", 0, 0, G_OPTION_ARG_NONE, &events_json, "Write lifecycle events (node-spawning, node-ready, place-started, place-died, place-failed, place-lost, place-restarting, node-lost) as JSON lines on standard error", NULL },
    { "log-json", 0, 0, G_OPTION_ARG_NONE, &log_json, "Write standard error as JSON lines only: log records from places, libdp's and dp-launch's own messages", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Say more on standard error: spawn progress, libdp's debug log (libssh's included)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &o->version, "Print the version and exit", NULL },
    { "rmpi", 0, 0, G_OPTION_ARG_FILENAME, &o->rmpi, "Launch the RMPI job described by this JSON config (no HOST:PORT): print each rank's result as a JSON line", "CONFIG.json" },
    { "rmpi-timeout", 0, 0, G_OPTION_ARG_INT, &o->rmpi_timeout, "With --rmpi: how long the whole job may take, in ms (default 3600000, one hour); then it fails and its nodes are stopped", "MS" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("HOST:PORT PLUGIN SYMBOL | --connect --attach NAME HOST:PORT"
                                                        " - run a place on a node, or talk to a named one");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_summary (ctx, summary);
  g_option_context_set_description (ctx, description);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      say ("%s\n", error->message);
      return EXIT_USAGE;
    }
  if (o->version)
    {
      g_print ("dp-launch %s\n", DP_PROJECT_VERSION);
      return EXIT_OK;
    }
  if (o->rmpi)
    {
      if (*argc != 1 || o->attach || o->connect || list_mode || o->named || o->thunk || o->isolate)
        {
          say ("--rmpi CONFIG.json takes no HOST:PORT, PLUGIN or SYMBOL and "
          "no --connect, --attach, --list, --named, --thunk or --isolate: the config says it all\n");
          return EXIT_USAGE;
        }
      if (o->rmpi_timeout < 0)
        {
          say ("--rmpi-timeout takes a positive number of milliseconds\n");
          return EXIT_USAGE;
        }
      return -1;
    }
  if (o->rmpi_timeout != 0)
    {
      say ("--rmpi-timeout goes with --rmpi\n");
      return EXIT_USAGE;
    }
  if (list_mode)
    {
      if (!o->connect || o->attach)
        {
          say ("--list goes with --connect (and not --attach): it asks a running node\n");
          return EXIT_USAGE;
        }
      if (*argc != 2)
        {
          say ("--list takes HOST:PORT only (usage: dp-launch --connect --list HOST:PORT)\n");
          return EXIT_USAGE;
        }
      o->attach = NULL;
    }
  if (o->attach)
    {
      if (!o->connect)
        {
          say ("--attach needs --connect: it talks to a place on a running node\n");
          return EXIT_USAGE;
        }
      if (*argc != 2)
        {
          say ("--attach %s takes HOST:PORT only, no PLUGIN or SYMBOL: the place "
                      "already runs (usage: dp-launch --connect --attach NAME HOST:PORT)\n", o->attach);
          return EXIT_USAGE;
        }
      if (o->named || o->thunk || o->isolate)
        {
          say ("--attach starts no place: --named, --thunk and --isolate do not apply\n");
          return EXIT_USAGE;
        }
      if (*o->attach == '\0')
        {
          say ("--attach needs a place name\n");
          return EXIT_USAGE;
        }
    }
  else if (no_wait)
    {
      say ("--no-wait goes with --attach\n");
      return EXIT_USAGE;
    }
  if (o->hosts_file)
    {
      o->hosts = _dp_hosts_file_load (o->hosts_file, &error);
      if (o->hosts == NULL)
        {
          say ("%s\n", error->message);
          return EXIT_USAGE;
        }
      if (*argc >= 2)
        o->entry = _dp_hosts_file_lookup (o->hosts, (*argv)[1]);
    }
  if (*argc == ((o->attach || list_mode) ? 2 : 4) && o->entry)
    {
      *host = g_strdup (o->entry->host);
      *port = o->entry->port;
    }
  else if (*argc == ((o->attach || list_mode) ? 2 : 4))
    {
      g_autoptr(DpHostSpec) spec = _dp_host_spec_parse ((*argv)[1], DP_HOST_SPEC_NODE_PORT, &error);
      if (spec == NULL)
        {
          /* the parser's message names the mistake: no usage line after it */
          say ("%s\n", error->message);
          return EXIT_USAGE;
        }
      else
        {
          /* the host as the spawn and connect calls take it: no port */
          *host = _dp_host_spec_to_string (spec);
          *port = spec->port;
        }
    }
  if (*host == NULL)
    {
      /* which part is missing or extra, then the usage */
      g_autofree char *what =
        *argc == 1 ? g_strdup ("no HOST:PORT given (localhost:0 spawns a node here on a free port)")
        : *argc == 2 ? g_strdup_printf ("no PLUGIN and SYMBOL after %s (the place to start, e.g. echo echo)", (*argv)[1])
        : *argc == 3 ? g_strdup_printf ("no SYMBOL after the plugin %s (the place function to start)", (*argv)[2])
        : g_strdup_printf ("unexpected argument '%s' after SYMBOL", (*argv)[o->attach ? 2 : 4]);

      say ("%s; usage: dp-launch [OPTIONS] HOST:PORT PLUGIN SYMBOL, or "
           "dp-launch --connect --attach NAME [OPTIONS] HOST:PORT (see --help)\n", what);
      return EXIT_USAGE;
    }
  if (o->use_ssh && o->use_local)
    {
      say ("--ssh and --local exclude each other\n");
      return EXIT_USAGE;
    }
  if (signature && (!g_variant_type_string_is_valid (signature) ||
                    !g_variant_type_is_definite (G_VARIANT_TYPE (signature))))
    {
      say ("--signature '%s' is not a definite GVariant type\n", signature);
      return EXIT_USAGE;
    }
  return -1;
}

static DpSpawnOptions *
spawn_options_new (const Options *o)
{
  /* a host of the hosts file: its settings, then the command line's */
  DpSpawnOptions *opts = o->entry ? dp_spawn_options_copy (o->entry->options) : dp_spawn_options_new ();

  /* with --log-json what the node's places print is logged (so it is
   * JSON too) instead of copied */
  dp_spawn_options_set_output (opts, log_json ? DP_SPAWN_OUTPUT_LOG : DP_SPAWN_OUTPUT_STDERR);
  if (o->use_ssh || o->use_local || o->entry == NULL)
    dp_spawn_options_set_method (opts, o->use_ssh ? DP_SPAWN_SSH : o->use_local ? DP_SPAWN_LOCAL : DP_SPAWN_AUTO);
  if (o->ready_timeout >= 0 || o->entry == NULL)
    dp_spawn_options_set_ready_timeout (opts, o->ready_timeout >= 0 ? (guint) o->ready_timeout : 30000);
  if (o->accept_new || o->entry == NULL)
    dp_spawn_options_set_accept_new_host_key (opts, o->accept_new);
  if (o->node_path)
    dp_spawn_options_set_node_path (opts, o->node_path);
  if (o->identity)
    dp_spawn_options_set_ssh_identity (opts, o->identity);
  if (o->known_hosts)
    dp_spawn_options_set_ssh_known_hosts (opts, o->known_hosts);
  if (o->ssh_config)
    dp_spawn_options_set_ssh_config (opts, o->ssh_config);
  for (guint i = 0; o->plugin_dirs && o->plugin_dirs[i]; i++)
    dp_spawn_options_add_plugin_dir (opts, o->plugin_dirs[i]);
  return opts;
}

/* A plugin given as a file is made absolute and its directory goes on a
 * spawned node's plugin path; FALSE when there is no such file. */
static gboolean
resolve_plugin (LaunchArgs     *a,
                DpSpawnOptions *opts)
{
  g_autofree char *dir = NULL;
  char *real;

  if (strchr (a->plugin, '/') == NULL)
    return TRUE;           /* a name on the node's plugin path */
  real = realpath (a->plugin, NULL);
  if (real == NULL)
    {
      say ("plugin %s: %s\n", a->plugin, g_strerror (errno));
      return FALSE;
    }
  g_free (a->plugin);
  a->plugin = g_strdup (real);
  free (real);
  dir = g_path_get_dirname (a->plugin);
  dp_spawn_options_add_plugin_dir (opts, dir);
  return TRUE;
}

/* --rmpi: launches the job, prints {"rank": R, "result": ...} per rank */
static int
run_rmpi (DpNode *router, DpSpawnOptions *opts, const char *file, guint timeout_ms)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autoptr(GVariant) results = NULL;

  if (!g_file_get_contents (file, &config, NULL, &error))
    {
      g_printerr ("dp-launch: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (!dp_rmpi_check_config (config, &error))
    {
      g_printerr ("dp-launch: %s: %s\n", file, error->message);
      return EXIT_USAGE;
    }
  results = dp_rmpi_launch_full (router, config, opts, timeout_ms, NULL, &error);
  if (results == NULL)
    {
      g_autoptr(GVariant) what = g_variant_ref_sink (g_variant_new_string (error->message));
      g_autofree char *msg = dp_variant_to_json (what);

      g_printerr ("dp-launch: %s\n", error->message);
      printf ("{\"error\": %s}\n", msg);
      return g_error_matches (error, DP_ERROR, DP_ERROR_RANK_LOST) ? EXIT_LOST : EXIT_NODE;
    }
  for (gsize i = 0; i < g_variant_n_children (results); i++)
    {
      g_autoptr(GVariant) r = NULL;
      g_autofree char *json = NULL;

      g_variant_get_child (results, i, "v", &r);
      json = dp_variant_to_json (r);
      printf ("{\"rank\": %" G_GSIZE_FORMAT ", \"result\": %s}\n", i, json);
    }
  fflush (stdout);
  return EXIT_OK;
}

int
main (int argc, char **argv)
{
  g_auto(Options) o = { .ready_timeout = -1 };   /* -1: not given */
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) router = NULL;
  g_autoptr(DpSpawnOptions) opts = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;
  LaunchArgs a = { 0 };
  int status;

  setlocale (LC_ALL, "");
  status = parse_command_line (&o, &argc, &argv, &host, &port);
  if (status >= 0)
    return status;
  if (verbose)
    {
      /* libdp's debug and ours, not every library's (G_MESSAGES_DEBUG as
       * given is kept) */
      const char *was = g_getenv ("G_MESSAGES_DEBUG");
      g_autofree char *domains = g_strconcat (was ? was : "", was ? " " : "", "Dp dp-launch", NULL);

      g_setenv ("G_MESSAGES_DEBUG", domains, TRUE);
    }

  loop = g_main_loop_new (NULL, FALSE);
  /* standard output carries only the place's JSON: every log record,
   * debug and info included, goes to standard error */
  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (log_writer, NULL, NULL);
  router = dp_node_new ();
  g_signal_connect (router, "log", G_CALLBACK (on_log), NULL);
  if (o.cookie_file && !dp_node_load_cookie (router, o.cookie_file, &error))
    {
      say ("%s\n", error->message);
      return EXIT_NODE;
    }
  if (o.tls)
    {
      DpTlsMode mode = DP_TLS_AUTO;

      if (g_strcmp0 (o.tls, "on") == 0)
        mode = DP_TLS_ON;
      else if (g_strcmp0 (o.tls, "off") == 0)
        mode = DP_TLS_OFF;
      else if (g_strcmp0 (o.tls, "auto") != 0)
        {
          say ("--tls wants auto, on or off, got '%s'\n", o.tls);
          return EXIT_USAGE;
        }
      g_object_set (router, "tls", mode, NULL);
    }

  opts = spawn_options_new (&o);
  if (o.rmpi)
    return run_rmpi (router, opts, o.rmpi, o.rmpi_timeout > 0 ? (guint) o.rmpi_timeout : 0);
  attach_name = o.attach;
  if (!attach_name && !list_mode)
    {
      a.plugin = g_strdup (argv[2]);
      a.symbol = g_strdup (argv[3]);
    }
  a.name = g_strdup (o.named);
  a.flags = o.thunk ? DP_LAUNCH_THUNK : DP_LAUNCH_NONE;
  if (o.isolate)
    a.flags |= DP_LAUNCH_ISOLATE;
  a.read_stdin = !o.no_stdin;
  if (a.plugin && !resolve_plugin (&a, opts))
    return EXIT_PLACE_START;

  g_unix_signal_add (SIGINT, on_sigint, NULL);
  g_unix_signal_add (SIGTERM, on_sigint, NULL);

  connect_mode = o.connect;
  {
    g_autofree char *port_s = g_strdup_printf ("%u", port);

    event (o.connect ? "node-connecting" : "node-spawning", "host", host, "port", port_s, NULL);
  }
  if (verbose)
    {
      say ("%s the node on %s:%u\n", o.connect ? "connecting to" : "spawning", host, port);
      spawn_started_us = g_get_monotonic_time ();
      progress_id = g_timeout_add_seconds (2, spawn_progress, host);
    }
  if (o.connect)
    dp_remote_node_connect_async (router, host, port, NULL, node_cb, &a);
  else
    dp_remote_node_spawn_async (router, host, port, opts, NULL, node_cb, &a);

  g_main_loop_run (loop);

  if (progress_id)
    g_clear_handle_id (&progress_id, g_source_remove);
  if (the_node)
    g_signal_handlers_disconnect_by_func (the_node, on_node_died, NULL);
  if (place)
    {
      g_signal_handlers_disconnect_by_data (place, NULL);
      g_object_unref (place);
    }
  g_clear_object (&input);
  g_clear_object (&the_node);
  g_free (a.plugin);
  g_free (a.symbol);
  g_free (a.name);
  g_strfreev (messages);
  g_free (signature);
  g_main_loop_unref (loop);
  return exit_code;
}
