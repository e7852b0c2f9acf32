/* raw-tcp: the floor — libdp's benchmark workloads on plain blocking TCP sockets
 *
 *   raw-tcp W0|W1|W2|W3|W4|W6|W7|E0
 *   floor   W0|W1|W6|E0
 *
 * Prints one JSON line {"workload":..,"system":"raw-tcp","value":..,"unit":..,"ok":true}
 * like libdp-bench; a wrong result (value, count, byte total) prints ok:false
 * and exits 1.
 *
 * Every message is a 4-byte big-endian length and the payload, over
 * 127.0.0.1 with TCP_NODELAY. The server is a separate process: this program
 * again (posix_spawn of /proc/self/exe, see bench-util.h), listening on an
 * ephemeral port it reports through a pipe. Reads go through a userspace
 * buffer (one read() takes every frame that has arrived), small writes are
 * batched in a 64 KiB buffer, a large payload goes out with writev() without
 * a copy and comes in with one recv(MSG_WAITALL) straight into its buffer.
 *
 *   W0  the whole process: spawn a client process that spawns a server,
 *       sends "Hello", prints the reply and exits after the server did (ms)
 *   W1  spawn a server + connect + one round trip of an int64 (ms)
 *   W2  10,000 sequential round trips of the int64 42 (µs per round trip)
 *   W3  200,000 one-way 64-byte messages, then one reply with the count (msg/s)
 *   W4  256 one-way 4 MiB messages, then one reply with the byte total (MB/s)
 *   W6  spawn 8 servers at once, one round trip with each (ms to all 8 replies)
 *   W7  1,000 "places" on one server process: the natural analogue with
 *       sockets is thread-per-connection, so each place is a connection
 *       accepted by the server and served by a thread of its own (started
 *       for it), which echoes; 1,000 connections each send one int32 and
 *       wait for it back (ms; plus the server's idle and peak RSS)
 *   E0  an empty process: spawn this program (it exits at once, before
 *       doing anything) and wait for it, 21 times; the median (ms). What a
 *       process costs before it runs any code of its own: exec, the dynamic
 *       loader, the libraries it links.
 *
 * bench/floor is this same program linked exactly like dp-node (the same
 * libraries: libdp, GLib, GIO, json-glib and all they bring): its W0, W1
 * and W6 are what those workloads cost at least in processes that load what
 * a node loads, and its E0 is the start of an empty program linked like
 * dp-node. It reports itself as the system "floor".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* bench/floor is this program again, linked like dp-node (meson.build) */
#ifndef SYSTEM
#define SYSTEM     "raw-tcp"
#endif
#define MAX_FRAME  (64u * 1024 * 1024)

#define W2_N       10000
#define W3_N       200000
#define W3_SIZE    64
#define W4_N       256
#define W4_SIZE    (4u * 1024 * 1024)
#define W6_N       8
#define W7_N       1000

/* ---- framing ---------------------------------------------------------- */

typedef struct {
  int      fd;
  uint8_t *buf;
  size_t   cap, start, end;
  uint8_t *big;          /* frames larger than buf land here */
  size_t   bigcap;
} Reader;

typedef struct {
  int      fd;
  uint8_t *buf;
  size_t   cap, len;
} Writer;

static void
reader_init (Reader *r, int fd, size_t cap)
{
  *r = (Reader) { .fd = fd, .buf = malloc (cap), .cap = cap };
  if (r->buf == NULL)
    bench_fail ("out of memory");
}

static void
reader_clear (Reader *r)
{
  free (r->buf);
  free (r->big);
}

/* 1: at least need bytes buffered; 0: EOF first; fails on error */
static int
reader_fill (Reader *r, size_t need)
{
  if (r->cap - r->start < need)
    {
      memmove (r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->start = 0;
    }
  while (r->end - r->start < need)
    {
      ssize_t n = read (r->fd, r->buf + r->end, r->cap - r->end);
      if (n > 0)
        r->end += (size_t) n;
      else if (n == 0)
        return 0;
      else if (errno != EINTR)
        bench_fail ("read: %s", strerror (errno));
    }
  return 1;
}

/* The next frame's payload (valid until the next call), or NULL at EOF
 * between frames. */
static const uint8_t *
read_frame (Reader *r, uint32_t *len)
{
  uint32_t n;
  const uint8_t *p;

  if (!reader_fill (r, 4))
    {
      if (r->end == r->start)
        return NULL;
      bench_fail ("connection closed inside a frame header");
    }
  memcpy (&n, r->buf + r->start, 4);
  n = ntohl (n);
  if (n > MAX_FRAME)
    bench_fail ("frame of %u bytes", n);
  r->start += 4;
  *len = n;
  if (n <= r->cap)
    {
      if (!reader_fill (r, n))
        bench_fail ("connection closed inside a frame");
      p = r->buf + r->start;
      r->start += n;
      return p;
    }
  else
    {
      size_t have = r->end - r->start, got;
      if (r->bigcap < n)
        {
          free (r->big);
          if ((r->big = malloc (n)) == NULL)
            bench_fail ("out of memory");
          r->bigcap = n;
        }
      memcpy (r->big, r->buf + r->start, have);
      r->start = r->end = 0;
      for (got = have; got < n; )
        {
          ssize_t k = recv (r->fd, r->big + got, n - got, MSG_WAITALL);
          if (k > 0)
            got += (size_t) k;
          else if (k == 0)
            bench_fail ("connection closed inside a frame");
          else if (errno != EINTR)
            bench_fail ("recv: %s", strerror (errno));
        }
      return r->big;
    }
}

/* a whole frame is buffered: reading it will not block */
static bool
frame_buffered (const Reader *r)
{
  uint32_t n;

  if (r->end - r->start < 4)
    return false;
  memcpy (&n, r->buf + r->start, 4);
  return r->end - r->start - 4 >= ntohl (n);
}

static void
writev_all (int fd, struct iovec *iov, int cnt)
{
  while (cnt > 0)
    {
      ssize_t n = writev (fd, iov, cnt);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        bench_fail ("writev: %s", n < 0 ? strerror (errno) : "nothing written");
      while (cnt > 0 && (size_t) n >= iov->iov_len)
        {
          n -= (ssize_t) iov->iov_len;
          iov++;
          cnt--;
        }
      if (cnt > 0)
        {
          iov->iov_base = (char *) iov->iov_base + n;
          iov->iov_len -= (size_t) n;
        }
    }
}

/* one frame, one system call, no copy of the payload */
static void
send_frame (int fd, const void *payload, uint32_t len)
{
  uint32_t hdr = htonl (len);
  struct iovec iov[2] = { { &hdr, 4 }, { (void *) payload, len } };

  writev_all (fd, iov, len ? 2 : 1);
}

static void
writer_init (Writer *w, int fd, size_t cap)
{
  *w = (Writer) { .fd = fd, .buf = malloc (cap), .cap = cap };
  if (w->buf == NULL)
    bench_fail ("out of memory");
}

static void
writer_flush (Writer *w)
{
  bench_write_all (w->fd, w->buf, w->len);
  w->len = 0;
}

static void
writer_frame (Writer *w, const void *payload, uint32_t len)
{
  uint32_t hdr = htonl (len);

  if (w->cap - w->len < 4 + (size_t) len)
    writer_flush (w);
  if (w->cap < 4 + (size_t) len)
    {
      send_frame (w->fd, payload, len);
      return;
    }
  memcpy (w->buf + w->len, &hdr, 4);
  memcpy (w->buf + w->len + 4, payload, len);
  w->len += 4 + (size_t) len;
}

/* ---- sockets ---------------------------------------------------------- */

static void
nodelay (int fd)
{
  int one = 1;

  if (setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    bench_fail ("TCP_NODELAY: %s", strerror (errno));
}

static int
connect_port (int port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    bench_fail ("socket: %s", strerror (errno));
  nodelay (fd);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    bench_fail ("connect 127.0.0.1:%d: %s", port, strerror (errno));
  return fd;
}

/* spawns a server in MODE (args: extra arguments or NULL); returns its port */
static int
spawn_server (const char *mode, const char *arg, pid_t *pid_out)
{
  const char *args[] = { mode, arg, NULL };
  char line[64];
  int fd;
  pid_t pid = bench_spawn (args, &fd, NULL);

  bench_read_line (fd, line, sizeof line);
  close (fd);
  if (pid_out)
    *pid_out = pid;
  return atoi (line);
}

static int64_t
round_trip_i64 (int fd, Reader *r, int64_t v)
{
  uint8_t msg[12];
  uint32_t hdr = htonl (8), len;
  const uint8_t *p;
  int64_t got;

  memcpy (msg, &hdr, 4);
  memcpy (msg + 4, &v, 8);
  bench_write_all (fd, msg, sizeof msg);
  if ((p = read_frame (r, &len)) == NULL)
    bench_fail ("connection closed before the reply");
  if (len != 8)
    bench_fail ("reply of %u bytes, expected 8", len);
  memcpy (&got, p, 8);
  return got;
}

/* the reply (count, bytes) of a count server */
static void
read_count (Reader *r, uint64_t *count, uint64_t *bytes)
{
  uint32_t len;
  const uint8_t *p = read_frame (r, &len);

  if (p == NULL || len != 16)
    bench_fail ("no (count, bytes) reply");
  memcpy (count, p, 8);
  memcpy (bytes, p + 8, 8);
}

/* ---- servers ---------------------------------------------------------- */

static int
listen_and_report (void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0,
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t sl = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  char line[32];

  if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (fd, SOMAXCONN) < 0 ||
      getsockname (fd, (struct sockaddr *) &sa, &sl) < 0)
    bench_fail ("listen: %s", strerror (errno));
  snprintf (line, sizeof line, "%d\n", ntohs (sa.sin_port));
  bench_write_all (3, line, strlen (line));
  close (3);
  return fd;
}

static int
accept_one (int lfd)
{
  int fd;

  while ((fd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
    if (errno != EINTR && errno != ECONNABORTED)
      bench_fail ("accept: %s", strerror (errno));
  nodelay (fd);
  return fd;
}

/* echoes every frame; answers every batch of frames that arrived together
 * with one write */
static void
serve_echo (int fd, size_t bufsize)
{
  Reader r;
  Writer w;
  const uint8_t *p;
  uint32_t len;

  reader_init (&r, fd, bufsize);
  writer_init (&w, fd, bufsize);
  while ((p = read_frame (&r, &len)) != NULL)
    {
      writer_frame (&w, p, len);
      if (!frame_buffered (&r))
        writer_flush (&w);
    }
  writer_flush (&w);
  reader_clear (&r);
  free (w.buf);
}

/* counts frames and their bytes; answers (count, bytes) to "count?" */
static void
serve_count (int fd)
{
  Reader r;
  const uint8_t *p;
  uint32_t len;
  uint64_t reply[2] = { 0, 0 };

  reader_init (&r, fd, 256 * 1024);
  while ((p = read_frame (&r, &len)) != NULL)
    {
      if (len == 6 && memcmp (p, "count?", 6) == 0)
        send_frame (fd, reply, sizeof reply);
      else
        {
          reply[0]++;
          reply[1] += len;
        }
    }
  reader_clear (&r);
}

static void *
place_thread (void *data)
{
  int fd = (int) (intptr_t) data;

  serve_echo (fd, 4096);     /* a place's small buffers */
  close (fd);
  return NULL;
}

/* n places: a thread per accepted connection, each an echo */
static void
serve_places (int lfd, int n)
{
  pthread_t *threads = calloc ((size_t) n, sizeof *threads);
  int err;

  if (threads == NULL)
    bench_fail ("out of memory");
  for (int i = 0; i < n; i++)
    {
      int fd = accept_one (lfd);
      if ((err = pthread_create (&threads[i], NULL, place_thread, (void *) (intptr_t) fd)) != 0)
        bench_fail ("place %d: pthread_create: %s", i, strerror (err));
    }
  for (int i = 0; i < n; i++)
    pthread_join (threads[i], NULL);
  free (threads);
}

static int
server_main (const char *mode, const char *arg)
{
  int lfd, fd;

  bench_raise_nofile ();
  lfd = listen_and_report ();
  if (strcmp (mode, "places") == 0)
    {
      if (arg == NULL)
        bench_fail ("places: how many?");
      serve_places (lfd, atoi (arg));
      close (lfd);
      return 0;
    }
  fd = accept_one (lfd);
  close (lfd);
  if (strcmp (mode, "echo") == 0)
    serve_echo (fd, 64 * 1024);
  else if (strcmp (mode, "count") == 0)
    serve_count (fd);
  else
    bench_fail ("unknown server mode %s", mode);
  close (fd);
  return 0;
}

/* W0's launcher process: spawn a server, say Hello, print the reply */
static int
hello_main (void)
{
  int port = spawn_server ("echo", NULL, NULL);
  int fd = connect_port (port);
  Reader r;
  const uint8_t *p;
  uint32_t len;

  reader_init (&r, fd, 4096);
  send_frame (fd, "Hello", 5);
  if ((p = read_frame (&r, &len)) == NULL || len != 5 || memcmp (p, "Hello", 5) != 0)
    bench_fail ("no Hello back");
  printf ("Hello\n");
  fflush (stdout);
  close (fd);
  bench_reap_all ();
  reader_clear (&r);
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

#define E0_N 21

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
e0 (void)
{
  const char *args[] = { "empty", NULL };
  double t[E0_N];

  for (int i = 0; i < E0_N; i++)
    {
      double t0 = bench_now ();
      bench_spawn (args, NULL, NULL);
      bench_reap_all ();
      t[i] = (bench_now () - t0) * 1e3;
    }
  qsort (t, E0_N, sizeof t[0], cmp_double);
  bench_report (t[E0_N / 2], "ms", NULL);
}

static void
w1 (void)
{
  double t0 = bench_now (), dt;
  int fd = connect_port (spawn_server ("echo", NULL, NULL));
  Reader r;

  reader_init (&r, fd, 4096);
  if (round_trip_i64 (fd, &r, 42) != 42)
    bench_fail ("W1 reply is not 42");
  dt = bench_now () - t0;
  close (fd);
  reader_clear (&r);
  bench_reap_all ();
  bench_report (dt * 1e3, "ms", NULL);
}

static void
w2 (void)
{
  int fd = connect_port (spawn_server ("echo", NULL, NULL));
  Reader r;
  double t0, dt;

  reader_init (&r, fd, 4096);
  for (int i = 0; i < 200; i++)   /* warm up, as libdp-bench does */
    if (round_trip_i64 (fd, &r, 42) != 42)
      bench_fail ("W2 warm-up reply is not 42");
  t0 = bench_now ();
  for (int i = 0; i < W2_N; i++)
    if (round_trip_i64 (fd, &r, 42) != 42)
      bench_fail ("W2 reply %d is not 42", i);
  dt = bench_now () - t0;
  close (fd);
  reader_clear (&r);
  bench_reap_all ();
  bench_report (dt * 1e6 / W2_N, "us/rt", NULL);
}

static void
w3 (void)
{
  int fd = connect_port (spawn_server ("count", NULL, NULL));
  uint8_t payload[W3_SIZE];
  uint64_t count, bytes;
  Reader r;
  Writer w;
  double t0, dt;

  memset (payload, 'x', sizeof payload);
  reader_init (&r, fd, 4096);
  writer_init (&w, fd, 64 * 1024);
  t0 = bench_now ();
  for (int i = 0; i < W3_N; i++)
    writer_frame (&w, payload, sizeof payload);
  writer_frame (&w, "count?", 6);
  writer_flush (&w);
  read_count (&r, &count, &bytes);
  dt = bench_now () - t0;
  if (count != W3_N || bytes != (uint64_t) W3_N * W3_SIZE)
    bench_fail ("W3 count %llu bytes %llu, expected %d and %llu", (unsigned long long) count,
                (unsigned long long) bytes, W3_N, (unsigned long long) W3_N * W3_SIZE);
  close (fd);
  reader_clear (&r);
  free (w.buf);
  bench_reap_all ();
  bench_report (W3_N / dt, "msg/s", NULL);
}

static void
w4 (void)
{
  int fd = connect_port (spawn_server ("count", NULL, NULL));
  uint8_t *blob = malloc (W4_SIZE);
  uint64_t count, bytes, total = (uint64_t) W4_N * W4_SIZE;
  Reader r;
  double t0, dt;

  if (blob == NULL)
    bench_fail ("out of memory");
  memset (blob, 0xab, W4_SIZE);
  reader_init (&r, fd, 4096);
  t0 = bench_now ();
  for (int i = 0; i < W4_N; i++)
    send_frame (fd, blob, W4_SIZE);
  send_frame (fd, "count?", 6);
  read_count (&r, &count, &bytes);
  dt = bench_now () - t0;
  if (count != W4_N || bytes != total)
    bench_fail ("W4 count %llu bytes %llu, expected %d and %llu", (unsigned long long) count,
                (unsigned long long) bytes, W4_N, (unsigned long long) total);
  close (fd);
  reader_clear (&r);
  free (blob);
  bench_reap_all ();
  bench_report ((double) total / dt / 1e6, "MB/s", NULL);
}

static void
w6 (void)
{
  int rfd[W6_N], fd[W6_N];
  Reader r[W6_N];
  double t0 = bench_now (), dt;

  for (int i = 0; i < W6_N; i++)     /* all 8 at once */
    {
      const char *args[] = { "echo", NULL };
      bench_spawn (args, &rfd[i], NULL);
    }
  for (int i = 0; i < W6_N; i++)
    {
      char line[64];
      int64_t v = 7;
      bench_read_line (rfd[i], line, sizeof line);
      close (rfd[i]);
      fd[i] = connect_port (atoi (line));
      reader_init (&r[i], fd[i], 4096);
      send_frame (fd[i], &v, 8);
    }
  for (int i = 0; i < W6_N; i++)
    {
      uint32_t len;
      const uint8_t *p = read_frame (&r[i], &len);
      int64_t v;
      if (p == NULL || len != 8)
        bench_fail ("W6 server %d: no reply", i);
      memcpy (&v, p, 8);
      if (v != 7)
        bench_fail ("W6 server %d replied %lld", i, (long long) v);
    }
  dt = bench_now () - t0;
  for (int i = 0; i < W6_N; i++)
    {
      close (fd[i]);
      reader_clear (&r[i]);
    }
  bench_reap_all ();
  bench_report (dt * 1e3, "ms", NULL);
}

static void
w7 (void)
{
  char n_str[16], extra[160];
  pid_t pid;
  int port, *fd = calloc (W7_N, sizeof *fd);
  long idle_kb, peak_kb;
  double t0, dt;

  if (fd == NULL)
    bench_fail ("out of memory");
  bench_raise_nofile ();
  snprintf (n_str, sizeof n_str, "%d", W7_N);
  port = spawn_server ("places", n_str, &pid);
  idle_kb = bench_status_kb (pid, "VmRSS:");
  t0 = bench_now ();
  for (int i = 0; i < W7_N; i++)
    {
      int32_t v = i;
      fd[i] = connect_port (port);
      send_frame (fd[i], &v, 4);
    }
  for (int i = 0; i < W7_N; i++)
    {
      uint8_t buf[8];
      uint32_t len;
      int32_t v;
      Reader r = { .fd = fd[i], .buf = buf, .cap = sizeof buf };
      const uint8_t *p = read_frame (&r, &len);
      if (p == NULL || len != 4)
        bench_fail ("W7 place %d: no reply", i);
      memcpy (&v, p, 4);
      if (v != i)
        bench_fail ("W7 place %d replied %d", i, (int) v);
      if (r.end != r.start)
        bench_fail ("W7 place %d: more than one reply", i);
    }
  dt = bench_now () - t0;
  peak_kb = bench_status_kb (pid, "VmHWM:");
  for (int i = 0; i < W7_N; i++)
    close (fd[i]);
  free (fd);
  bench_reap_all ();
  snprintf (extra, sizeof extra, "\"node_idle_rss_kb\":%ld,\"node_peak_rss_kb\":%ld", idle_kb, peak_kb);
  bench_report (dt * 1e3, "ms", extra);
}

int
main (int argc, char **argv)
{
  const char *w;

  if (argc >= 4 && strcmp (argv[1], "--child") == 0)
    {
      if (strcmp (argv[3], "empty") == 0)     /* E0: nothing at all */
        return 0;
      bench_start (SYSTEM, argv[3]);
      bench_child_start (argv[2]);
      if (strcmp (argv[3], "hello") == 0)
        return hello_main ();
      return server_main (argv[3], argc > 4 ? argv[4] : NULL);
    }
  if (argc != 2)
    {
      fprintf (stderr, "usage: %s W0|W1|W2|W3|W4|W6|W7|E0\n", SYSTEM);
      return 2;
    }
  w = argv[1];
  bench_start (SYSTEM, w);
  if (strcmp (w, "W0") == 0) w0 ();
  else if (strcmp (w, "W1") == 0) w1 ();
  else if (strcmp (w, "W2") == 0) w2 ();
  else if (strcmp (w, "W3") == 0) w3 ();
  else if (strcmp (w, "W4") == 0) w4 ();
  else if (strcmp (w, "W6") == 0) w6 ();
  else if (strcmp (w, "W7") == 0) w7 ();
  else if (strcmp (w, "E0") == 0) e0 ();
  else
    {
      fprintf (stderr, "%s: unknown workload %s\n", SYSTEM, w);
      return 2;
    }
  return 0;
}
