/* dp-test-util.h: small helpers shared by the multi-process tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Waits (poll on a pidfd, no sleeping) until @pid — not necessarily our
 * child — is gone; TRUE when it is, FALSE after @timeout_ms. */
static inline gboolean
dp_test_wait_process_gone (gint64 pid,
                           int    timeout_ms)
{
  int fd = (int) syscall (SYS_pidfd_open, (pid_t) pid, 0);
  struct pollfd p;
  int r;

  if (fd < 0)
    return TRUE;           /* already gone */
  p = (struct pollfd) { fd, POLLIN, 0 };
  r = poll (&p, 1, timeout_ms);
  close (fd);
  return r == 1;
}
