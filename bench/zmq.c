/* zmq: libdp's benchmark workloads on ZeroMQ, the peer users would otherwise pick
 *
 *   zmq W0|W1|W2|W3|W4|W6|W7
 *
 * Prints one JSON line {"workload":..,"system":"zeromq","value":..,"unit":..,"ok":true}
 * like libdp-bench; a wrong result (value, count, byte total) prints ok:false
 * and exits 1.
 *
 * PAIR sockets over tcp://127.0.0.1 (libzmq sets TCP_NODELAY itself). The
 * server is a separate process: this program again (posix_spawn of
 * /proc/self/exe, see bench-util.h), bound to tcp://127.0.0.1:* and
 * reporting ZMQ_LAST_ENDPOINT through a pipe. An empty message tells a
 * server to exit. Replies are received into zmq_msg_t (no copy out); the
 * echo server sends back the very message it got; W4's 4 MiB payloads go
 * out zero-copy (zmq_msg_init_data on the one buffer).
 *
 *   W0  the whole process: spawn a client process that spawns a server,
 *       sends "Hello", prints the reply and exits after the server did (ms)
 *   W1  spawn a server + connect + one round trip of an int64 (ms)
 *   W2  10,000 sequential round trips of the int64 42 (µs per round trip)
 *   W3  200,000 one-way 64-byte messages, then one reply with the count (msg/s)
 *   W4  256 one-way 4 MiB messages, then one reply with the byte total (MB/s)
 *   W6  spawn 8 servers at once, one round trip with each (ms to all 8 replies)
 *   W7  1,000 "places" on one server process, the way one builds actors with
 *       ZeroMQ (and the way a libdp node works): one tcp PAIR connection to
 *       the server; for each message on it the server starts a place (a
 *       thread with its own inproc PAIR socket to the server's main thread)
 *       and hands it the message; each place echoes, and the server's main
 *       thread forwards the replies over tcp (ms; plus the server's idle and
 *       peak RSS)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define SYSTEM     "zeromq"

#define W2_N       10000
#define W3_N       200000
#define W3_SIZE    64
#define W4_N       256
#define W4_SIZE    (4u * 1024 * 1024)
#define W6_N       8
#define W7_N       1000

static void *ctx;

/* ---- helpers ---------------------------------------------------------- */

static void *
pair_socket (void)
{
  void *s = zmq_socket (ctx, ZMQ_PAIR);
  int linger = 5000;

  if (s == NULL)
    bench_fail ("zmq_socket: %s", zmq_strerror (zmq_errno ()));
  /* bounded: closing never hangs on a dead peer */
  zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
  return s;
}

static void *
connect_to (const char *endpoint)
{
  void *s = pair_socket ();

  if (zmq_connect (s, endpoint) != 0)
    bench_fail ("zmq_connect %s: %s", endpoint, zmq_strerror (zmq_errno ()));
  return s;
}

static void
zsend (void *s, const void *buf, size_t len)
{
  while (zmq_send (s, buf, len, 0) != (int) len)
    {
      if (zmq_errno () != EINTR)
        bench_fail ("zmq_send: %s", zmq_strerror (zmq_errno ()));
      bench_check_children ();
    }
}

/* receives into msg (initialised); returns its size */
static size_t
zrecv (void *s, zmq_msg_t *msg)
{
  int n;

  bench_check_children ();      /* a dead server would never answer */
  while ((n = zmq_msg_recv (msg, s, 0)) < 0)
    {
      if (zmq_errno () != EINTR)
        bench_fail ("zmq_msg_recv: %s", zmq_strerror (zmq_errno ()));
      bench_check_children ();
    }
  return (size_t) n;
}

static int64_t
recv_i64 (void *s)
{
  zmq_msg_t msg;
  int64_t v;

  zmq_msg_init (&msg);
  if (zrecv (s, &msg) != 8)
    bench_fail ("reply of %zu bytes, expected 8", zmq_msg_size (&msg));
  memcpy (&v, zmq_msg_data (&msg), 8);
  zmq_msg_close (&msg);
  return v;
}

static void
recv_count (void *s, uint64_t *count, uint64_t *bytes)
{
  zmq_msg_t msg;

  zmq_msg_init (&msg);
  if (zrecv (s, &msg) != 16)
    bench_fail ("no (count, bytes) reply");
  memcpy (count, zmq_msg_data (&msg), 8);
  memcpy (bytes, (char *) zmq_msg_data (&msg) + 8, 8);
  zmq_msg_close (&msg);
}

/* tells the server to exit and closes the socket */
static void
stop_and_close (void *s)
{
  zsend (s, "", 0);
  zmq_close (s);
}

/* spawns a server in MODE; returns its endpoint in buf */
static pid_t
spawn_server (const char *mode, const char *arg, char *endpoint, size_t size)
{
  const char *args[] = { mode, arg, NULL };
  int fd;
  pid_t pid = bench_spawn (args, &fd, NULL);

  bench_read_line (fd, endpoint, size);
  close (fd);
  return pid;
}

/* the end of every run: let the stop messages out, then wait for the servers */
static void
finish (void)
{
  while (zmq_ctx_term (ctx) != 0 && zmq_errno () == EINTR)
    ;
  ctx = NULL;
  bench_reap_all ();
}

/* ---- servers ---------------------------------------------------------- */

static void *
bind_and_report (void)
{
  void *s = pair_socket ();
  char endpoint[256], line[260];
  size_t len = sizeof endpoint;

  if (zmq_bind (s, "tcp://127.0.0.1:*") != 0 ||
      zmq_getsockopt (s, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0)
    bench_fail ("zmq_bind: %s", zmq_strerror (zmq_errno ()));
  snprintf (line, sizeof line, "%s\n", endpoint);
  bench_write_all (3, line, strlen (line));
  close (3);
  return s;
}

/* sends back every message as it is, until an empty one */
static void
serve_echo (void *s)
{
  zmq_msg_t msg;

  zmq_msg_init (&msg);
  while (zrecv (s, &msg) > 0)
    if (zmq_msg_send (&msg, s, 0) < 0)     /* leaves msg empty, ready for the next */
      bench_fail ("zmq_msg_send: %s", zmq_strerror (zmq_errno ()));
  zmq_msg_close (&msg);
}

/* counts messages and their bytes; answers (count, bytes) to "count?" */
static void
serve_count (void *s)
{
  zmq_msg_t msg;
  uint64_t reply[2] = { 0, 0 };
  size_t n;

  zmq_msg_init (&msg);
  while ((n = zrecv (s, &msg)) > 0)
    {
      if (n == 6 && memcmp (zmq_msg_data (&msg), "count?", 6) == 0)
        zsend (s, reply, sizeof reply);
      else
        {
          reply[0]++;
          reply[1] += n;
        }
    }
  zmq_msg_close (&msg);
}

static void *
place_thread (void *data)
{
  char endpoint[64];
  void *s = pair_socket ();

  snprintf (endpoint, sizeof endpoint, "inproc://place-%d", (int) (intptr_t) data);
  if (zmq_bind (s, endpoint) != 0)
    bench_fail ("zmq_bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
  serve_echo (s);
  zmq_close (s);
  return NULL;
}

/* n places, each a thread with an inproc PAIR to this (main) thread */
static void
serve_places (void *s, int n)
{
  pthread_t *threads = calloc ((size_t) n, sizeof *threads);
  void **place = calloc ((size_t) n, sizeof *place);
  zmq_msg_t msg;
  int err;

  if (threads == NULL || place == NULL)
    bench_fail ("out of memory");
  zmq_msg_init (&msg);
  for (int i = 0; i < n; i++)
    {
      char endpoint[64];
      if (zrecv (s, &msg) == 0)
        bench_fail ("place %d: stopped early", i);
      snprintf (endpoint, sizeof endpoint, "inproc://place-%d", i);
      /* connect before the place binds: the message waits in the pipe,
       * this thread does not wait for the place's to start */
      place[i] = pair_socket ();
      if (zmq_connect (place[i], endpoint) != 0)
        bench_fail ("zmq_connect %s: %s", endpoint, zmq_strerror (zmq_errno ()));
      if ((err = pthread_create (&threads[i], NULL, place_thread, (void *) (intptr_t) i)) != 0)
        bench_fail ("place %d: pthread_create: %s", i, strerror (err));
      if (zmq_msg_send (&msg, place[i], 0) < 0)
        bench_fail ("zmq_msg_send: %s", zmq_strerror (zmq_errno ()));
    }
  /* the client sent all its messages before it reads: forward in order */
  for (int i = 0; i < n; i++)
    {
      zrecv (place[i], &msg);
      if (zmq_msg_send (&msg, s, 0) < 0)
        bench_fail ("zmq_msg_send: %s", zmq_strerror (zmq_errno ()));
    }
  if (zrecv (s, &msg) != 0)
    bench_fail ("places: unexpected message after the replies");
  for (int i = 0; i < n; i++)
    {
      zsend (place[i], "", 0);      /* the place's loop ends */
      pthread_join (threads[i], NULL);
      zmq_close (place[i]);
    }
  zmq_msg_close (&msg);
  free (threads);
  free (place);
}

static int
server_main (const char *mode, const char *arg)
{
  void *s;

  if (strcmp (mode, "places") == 0)
    {
      int n = arg ? atoi (arg) : 0;
      bench_raise_nofile ();      /* every socket has a mailbox fd */
      zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, 2 * n + 64);
      s = bind_and_report ();
      serve_places (s, n);
    }
  else
    {
      s = bind_and_report ();
      if (strcmp (mode, "echo") == 0)
        serve_echo (s);
      else if (strcmp (mode, "count") == 0)
        serve_count (s);
      else
        bench_fail ("unknown server mode %s", mode);
    }
  zmq_close (s);
  zmq_ctx_term (ctx);
  return 0;
}

/* W0's launcher process: spawn a server, say Hello, print the reply */
static int
hello_main (void)
{
  char endpoint[256];
  void *s;
  zmq_msg_t msg;

  spawn_server ("echo", NULL, endpoint, sizeof endpoint);
  s = connect_to (endpoint);
  zsend (s, "Hello", 5);
  zmq_msg_init (&msg);
  if (zrecv (s, &msg) != 5 || memcmp (zmq_msg_data (&msg), "Hello", 5) != 0)
    bench_fail ("no Hello back");
  zmq_msg_close (&msg);
  printf ("Hello\n");
  fflush (stdout);
  stop_and_close (s);
  finish ();
  return 0;
}

/* ---- workloads -------------------------------------------------------- */

static void
w0 (void)
{
  const char *args[] = { "hello", NULL };
  char out[64];
  size_t len = 0;
  int fd;
  double t0 = bench_now ();

  bench_spawn (args, NULL, &fd);
  for (;;)
    {
      ssize_t n = read (fd, out + len, sizeof out - 1 - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        bench_fail ("read: %s", strerror (errno));
      if (n == 0 || (len += (size_t) n) == sizeof out - 1)
        break;
    }
  out[len] = '\0';
  close (fd);
  bench_reap_all ();
  if (strcmp (out, "Hello\n") != 0)
    bench_fail ("W0 output '%s'", out);
  bench_report ((bench_now () - t0) * 1e3, "ms", NULL);
}

static void
w1 (void)
{
  char endpoint[256];
  double t0 = bench_now (), dt;
  void *s;
  int64_t v = 42;

  spawn_server ("echo", NULL, endpoint, sizeof endpoint);
  s = connect_to (endpoint);
  zsend (s, &v, 8);
  if (recv_i64 (s) != 42)
    bench_fail ("W1 reply is not 42");
  dt = bench_now () - t0;
  stop_and_close (s);
  finish ();
  bench_report (dt * 1e3, "ms", NULL);
}

static void
w2 (void)
{
  char endpoint[256];
  void *s;
  int64_t v = 42;
  double t0, dt;

  spawn_server ("echo", NULL, endpoint, sizeof endpoint);
  s = connect_to (endpoint);
  for (int i = 0; i < 200; i++)   /* warm up, as libdp-bench does */
    {
      zsend (s, &v, 8);
      if (recv_i64 (s) != 42)
        bench_fail ("W2 warm-up reply is not 42");
    }
  t0 = bench_now ();
  for (int i = 0; i < W2_N; i++)
    {
      zsend (s, &v, 8);
      if (recv_i64 (s) != 42)
        bench_fail ("W2 reply %d is not 42", i);
    }
  dt = bench_now () - t0;
  stop_and_close (s);
  finish ();
  bench_report (dt * 1e6 / W2_N, "us/rt", NULL);
}

static void
w3 (void)
{
  char endpoint[256];
  uint8_t payload[W3_SIZE];
  uint64_t count, bytes;
  void *s;
  double t0, dt;

  spawn_server ("count", NULL, endpoint, sizeof endpoint);
  s = connect_to (endpoint);
  memset (payload, 'x', sizeof payload);
  t0 = bench_now ();
  for (int i = 0; i < W3_N; i++)
    zsend (s, payload, sizeof payload);
  zsend (s, "count?", 6);
  recv_count (s, &count, &bytes);
  dt = bench_now () - t0;
  if (count != W3_N || bytes != (uint64_t) W3_N * W3_SIZE)
    bench_fail ("W3 count %llu bytes %llu, expected %d and %llu", (unsigned long long) count,
                (unsigned long long) bytes, W3_N, (unsigned long long) W3_N * W3_SIZE);
  stop_and_close (s);
  finish ();
  bench_report (W3_N / dt, "msg/s", NULL);
}

static void
no_free (void *data, void *hint)
{
  (void) data;
  (void) hint;
}

static void
w4 (void)
{
  char endpoint[256];
  uint8_t *blob = malloc (W4_SIZE);
  uint64_t count, bytes, total = (uint64_t) W4_N * W4_SIZE;
  void *s;
  double t0, dt;

  if (blob == NULL)
    bench_fail ("out of memory");
  memset (blob, 0xab, W4_SIZE);
  spawn_server ("count", NULL, endpoint, sizeof endpoint);
  s = connect_to (endpoint);
  t0 = bench_now ();
  for (int i = 0; i < W4_N; i++)
    {
      zmq_msg_t msg;
      zmq_msg_init_data (&msg, blob, W4_SIZE, no_free, NULL);   /* zero-copy */
      if (zmq_msg_send (&msg, s, 0) < 0)
        bench_fail ("zmq_msg_send: %s", zmq_strerror (zmq_errno ()));
    }
  zsend (s, "count?", 6);
  recv_count (s, &count, &bytes);
  dt = bench_now () - t0;
  if (count != W4_N || bytes != total)
    bench_fail ("W4 count %llu bytes %llu, expected %d and %llu", (unsigned long long) count,
                (unsigned long long) bytes, W4_N, (unsigned long long) total);
  stop_and_close (s);
  finish ();            /* every message is out: the blob is no longer used */
  free (blob);
  bench_report ((double) total / dt / 1e6, "MB/s", NULL);
}

static void
w6 (void)
{
  int rfd[W6_N];
  void *s[W6_N];
  double t0 = bench_now (), dt;

  for (int i = 0; i < W6_N; i++)     /* all 8 at once */
    {
      const char *args[] = { "echo", NULL };
      bench_spawn (args, &rfd[i], NULL);
    }
  for (int i = 0; i < W6_N; i++)
    {
      char endpoint[256];
      int64_t v = 7;
      bench_read_line (rfd[i], endpoint, sizeof endpoint);
      close (rfd[i]);
      s[i] = connect_to (endpoint);
      zsend (s[i], &v, 8);
    }
  for (int i = 0; i < W6_N; i++)
    if (recv_i64 (s[i]) != 7)
      bench_fail ("W6 server %d did not reply 7", i);
  dt = bench_now () - t0;
  for (int i = 0; i < W6_N; i++)
    stop_and_close (s[i]);
  finish ();
  bench_report (dt * 1e3, "ms", NULL);
}

static void
w7 (void)
{
  char n_str[16], endpoint[256], extra[160];
  bool *seen = calloc (W7_N, sizeof *seen);
  pid_t pid;
  void *s;
  long idle_kb, peak_kb;
  zmq_msg_t msg;
  double t0, dt;

  if (seen == NULL)
    bench_fail ("out of memory");
  snprintf (n_str, sizeof n_str, "%d", W7_N);
  pid = spawn_server ("places", n_str, endpoint, sizeof endpoint);
  s = connect_to (endpoint);
  idle_kb = bench_status_kb (pid, "VmRSS:");
  zmq_msg_init (&msg);
  t0 = bench_now ();
  for (int32_t i = 0; i < W7_N; i++)
    zsend (s, &i, 4);
  for (int i = 0; i < W7_N; i++)
    {
      int32_t v;
      if (zrecv (s, &msg) != 4)
        bench_fail ("W7: a reply of %zu bytes", zmq_msg_size (&msg));
      memcpy (&v, zmq_msg_data (&msg), 4);
      if (v < 0 || v >= W7_N || seen[v])
        bench_fail ("W7: unexpected reply %d", (int) v);
      seen[v] = true;
    }
  dt = bench_now () - t0;
  peak_kb = bench_status_kb (pid, "VmHWM:");
  zmq_msg_close (&msg);
  stop_and_close (s);
  finish ();
  free (seen);
  snprintf (extra, sizeof extra, "\"node_idle_rss_kb\":%ld,\"node_peak_rss_kb\":%ld", idle_kb, peak_kb);
  bench_report (dt * 1e3, "ms", extra);
}

int
main (int argc, char **argv)
{
  const char *w;

  if ((ctx = zmq_ctx_new ()) == NULL)
    {
      fprintf (stderr, "zmq: zmq_ctx_new failed\n");
      return 1;
    }
  if (argc >= 4 && strcmp (argv[1], "--child") == 0)
    {
      bench_start (SYSTEM, argv[3]);
      bench_child_start (argv[2]);
      if (strcmp (argv[3], "hello") == 0)
        {
          bench_watch_children ();
          return hello_main ();
        }
      return server_main (argv[3], argc > 4 ? argv[4] : NULL);
    }
  if (argc != 2)
    {
      fprintf (stderr, "usage: zmq W0|W1|W2|W3|W4|W6|W7\n");
      return 2;
    }
  w = argv[1];
  bench_start (SYSTEM, w);
  bench_watch_children ();
  if (strcmp (w, "W0") == 0) w0 ();
  else if (strcmp (w, "W1") == 0) w1 ();
  else if (strcmp (w, "W2") == 0) w2 ();
  else if (strcmp (w, "W3") == 0) w3 ();
  else if (strcmp (w, "W4") == 0) w4 ();
  else if (strcmp (w, "W6") == 0) w6 ();
  else if (strcmp (w, "W7") == 0) w7 ();
  else
    {
      fprintf (stderr, "zmq: unknown workload %s\n", w);
      return 2;
    }
  return 0;
}
