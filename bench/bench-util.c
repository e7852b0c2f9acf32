/* bench-util: what the baseline benchmarks (raw-tcp, zmq) share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CHILDREN 64

static const char *run_system = "?";
static const char *run_workload = "?";
static int is_child;
static pid_t children[MAX_CHILDREN];
static int n_children;

void
bench_start (const char *system, const char *workload)
{
  run_system = system;
  run_workload = workload;
  signal (SIGPIPE, SIG_IGN);      /* a dead peer is an error, not a silent death */
  alarm (300);                    /* a watchdog when run by hand; children die with us */
}

void
bench_child_start (const char *parent_pid)
{
  is_child = 1;
  signal (SIGPIPE, SIG_IGN);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != (pid_t) strtol (parent_pid, NULL, 10))   /* parent gone already */
    _exit (1);
}

double
bench_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
kill_children (void)
{
  for (int i = 0; i < n_children; i++)
    {
      kill (children[i], SIGKILL);
      waitpid (children[i], NULL, 0);
    }
  n_children = 0;
}

void
bench_fail (const char *fmt, ...)
{
  char msg[256];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  kill_children ();
  fprintf (stderr, "%s%s%s: %s\n", run_system, is_child ? " (child)" : " ", is_child ? "" : run_workload, msg);
  if (!is_child)
    {
      for (char *p = msg; *p; p++)      /* keep the JSON valid */
        if (*p == '"' || *p == '\\' || (unsigned char) *p < 0x20)
          *p = '\'';
      printf ("{\"workload\":\"%s\",\"system\":\"%s\",\"ok\":false,\"error\":\"%s\"}\n",
              run_workload, run_system, msg);
    }
  fflush (stdout);
  fflush (stderr);
  _exit (1);
}

void
bench_report (double value, const char *unit, const char *extra)
{
  printf ("{\"workload\":\"%s\",\"system\":\"%s\",\"value\":%.6g,\"unit\":\"%s\",\"ok\":true%s%s}\n",
          run_workload, run_system, value, unit, extra ? "," : "", extra ? extra : "");
  fflush (stdout);
}

pid_t
bench_spawn (const char *const args[], int *report_fd, int *stdout_fd)
{
  static char self[4096];
  char ppid[32];
  const char *argv[32];
  int n = 0, rp[2] = { -1, -1 }, op[2] = { -1, -1 }, err;
  posix_spawn_file_actions_t fa;
  pid_t pid;

  if (self[0] == '\0')
    {
      ssize_t len = readlink ("/proc/self/exe", self, sizeof self - 1);
      if (len <= 0)
        bench_fail ("readlink /proc/self/exe: %s", strerror (errno));
      self[len] = '\0';
    }
  if (n_children == MAX_CHILDREN)
    bench_fail ("too many children");
  snprintf (ppid, sizeof ppid, "%ld", (long) getpid ());
  argv[n++] = self;
  argv[n++] = "--child";
  argv[n++] = ppid;
  for (int i = 0; args[i] && n < 31; i++)
    argv[n++] = args[i];
  argv[n] = NULL;

  posix_spawn_file_actions_init (&fa);
  if (report_fd)
    {
      if (pipe2 (rp, O_CLOEXEC) < 0)
        bench_fail ("pipe: %s", strerror (errno));
      posix_spawn_file_actions_adddup2 (&fa, rp[1], 3);   /* dup2 clears CLOEXEC */
    }
  if (stdout_fd)
    {
      if (pipe2 (op, O_CLOEXEC) < 0)
        bench_fail ("pipe: %s", strerror (errno));
      posix_spawn_file_actions_adddup2 (&fa, op[1], 1);
    }
  else
    posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  err = posix_spawn (&pid, self, &fa, NULL, (char *const *) argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rp[1] >= 0)
    close (rp[1]);
  if (op[1] >= 0)
    close (op[1]);
  if (err != 0)
    bench_fail ("posix_spawn %s: %s", self, strerror (err));
  children[n_children++] = pid;
  if (report_fd)
    *report_fd = rp[0];
  if (stdout_fd)
    *stdout_fd = op[0];
  return pid;
}

void
bench_read_line (int fd, char *buf, size_t size)
{
  size_t len = 0;

  for (;;)
    {
      ssize_t n = read (fd, buf + len, 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        bench_fail ("reading a child's report: %s", strerror (errno));
      if (n == 0)
        bench_fail ("a child exited before reporting where it listens");
      if (buf[len] == '\n')
        break;
      if (++len == size - 1)
        bench_fail ("a child's report is too long");
    }
  buf[len] = '\0';
}

static int
wait_exit (pid_t pid, int timeout_ms)
{
  int status, pidfd = (int) syscall (SYS_pidfd_open, pid, 0);

  if (pidfd >= 0)
    {
      struct pollfd p = { .fd = pidfd, .events = POLLIN };
      int r;
      while ((r = poll (&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
      close (pidfd);
      if (r == 0)
        {
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          return -1;
        }
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

void
bench_reap_all (void)
{
  while (n_children > 0)
    {
      pid_t pid = children[--n_children];
      int rc = wait_exit (pid, 10000);
      if (rc != 0)
        bench_fail (rc < 0 ? "child %ld did not exit" : "child %ld exited with status %d",
                    (long) pid, rc);
    }
}

static volatile sig_atomic_t child_event;

static void
on_sigchld (int sig)
{
  (void) sig;
  child_event = 1;
}

void
bench_watch_children (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGCHLD, &sa, NULL);
}

void
bench_check_children (void)
{
  if (!child_event)
    return;
  child_event = 0;
  for (int i = 0; i < n_children; i++)
    {
      int status;
      pid_t pid = children[i];
      if (waitpid (pid, &status, WNOHANG) == pid)
        {
          children[i] = children[--n_children];
          bench_fail ("child %ld ended early (%s %d)", (long) pid,
                      WIFEXITED (status) ? "exit status" : "signal",
                      WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
        }
    }
}

void
bench_raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

long
bench_status_kb (pid_t pid, const char *field)
{
  char path[64], line[256];
  size_t flen = strlen (field);
  long kb = -1;
  FILE *f;

  snprintf (path, sizeof path, "/proc/%ld/status", (long) pid);
  if ((f = fopen (path, "r")) == NULL)
    return -1;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, field, flen) == 0)
      {
        kb = strtol (line + flen, NULL, 10);
        break;
      }
  fclose (f);
  return kb;
}

void
bench_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        bench_fail ("write: %s", n < 0 ? strerror (errno) : "nothing written");
      p += n;
      len -= (size_t) n;
    }
}
