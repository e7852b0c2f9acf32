/* dp-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

G_DEFINE_QUARK (dp-error-quark, dp_error)

GError *
_dp_error_from_remote (guint32     code,
                       const char *message)
{
  if (code > DP_ERROR_CLOSED)
    code = DP_ERROR_FAILED;
  return g_error_new_literal (DP_ERROR, (int) code, message);
}

void
_dp_random_bytes (guint8 *buf,
                  gsize   len)
{
  gsize i = 0;

  /* getrandom(2) through GLib is not exposed; read the kernel's pool. */
  {
    int fd = g_open ("/dev/urandom", O_RDONLY | O_CLOEXEC, 0);
    if (fd >= 0)
      {
        while (i < len)
          {
            gssize n = read (fd, buf + i, len - i);
            if (n <= 0)
              break;
            i += (gsize) n;
          }
        close (fd);
      }
  }
  /* Never reached on Linux; keep going with GRand rather than fail open. */
  for (; i < len; i++)
    buf[i] = (guint8) g_random_int ();
}
