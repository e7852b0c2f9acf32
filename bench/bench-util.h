/* bench-util: what the baseline benchmarks (raw-tcp, zmq) share
 *
 * Output: one JSON line per run, the same as libdp-bench's:
 *   {"workload":"W2","system":"raw-tcp","value":21.3,"unit":"us/rt","ok":true}
 * A wrong result or any error prints {"ok":false,...}, kills the children
 * and exits 1.
 *
 * Children: the program spawns itself (/proc/self/exe) as
 *   PROG --child PARENT_PID MODE ARGS...
 * with PR_SET_PDEATHSIG, so a server never outlives its client. A server
 * reports where it listens as one line on fd 3 (a pipe to the parent).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* client side: name the run (system, workload) for bench_report/bench_fail */
void bench_start (const char *system, const char *workload);

/* child side: call first in "--child PARENT_PID" mode; output is then stderr only */
void bench_child_start (const char *parent_pid);

double bench_now (void);

_Noreturn void bench_fail (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* prints the JSON line; extra is more JSON members (without the leading comma) or NULL */
void bench_report (double value, const char *unit, const char *extra);

/* Spawns this program as a child: PROG --child PID args...
 * report_fd: if not NULL, receives the read end of a pipe that is the child's fd 3;
 * stdout_fd: if not NULL, receives the read end of a pipe that is the child's
 *            stdout (else the child's stdout is /dev/null). */
pid_t bench_spawn (const char *const args[], int *report_fd, int *stdout_fd);

/* reads one line (without the newline) from fd into buf; fails on EOF or error */
void bench_read_line (int fd, char *buf, size_t size);

/* waits (at most 10 s, then kills) for every child still running; fails if one
 * did not exit with status 0 */
void bench_reap_all (void);

/* For clients whose blocking calls do not see a peer's death (ZeroMQ):
 * a SIGCHLD handler (without SA_RESTART, so the call returns EINTR), and a
 * check to call before blocking and on EINTR that fails if a child exited. */
void bench_watch_children (void);
void bench_check_children (void);

/* raises the soft RLIMIT_NOFILE to the hard limit */
void bench_raise_nofile (void);

/* a kB field of /proc/PID/status ("VmRSS:", "VmHWM:"), -1 if unknown */
long bench_status_kb (pid_t pid, const char *field);

/* I/O that completes or fails */
void bench_write_all (int fd, const void *buf, size_t len);
