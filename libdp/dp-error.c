/* dp-error.c: the DP_ERROR domain, and what maps into it
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

/* The one mapping of GIO's errors (connecting, resolving a name) to
 * DP_ERROR: refused and timed out keep their meaning; anything else that
 * keeps a host out of reach (an unknown name, no route, a reset…) is
 * DP_ERROR_HOST_UNREACHABLE. A cancellation stays G_IO_ERROR_CANCELLED, as
 * GIO's callers expect. */
GError *
_dp_error_from_gio (const GError *gio_error,
                    const char   *what)
{
  int code = DP_ERROR_HOST_UNREACHABLE;

  if (g_error_matches (gio_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (gio_error);
  if (g_error_matches (gio_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    code = DP_ERROR_CONNECTION_REFUSED;
  else if (g_error_matches (gio_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    code = DP_ERROR_TIMED_OUT;
  if (what)
    return g_error_new (DP_ERROR, code, "%s: %s", what, gio_error->message);
  return g_error_new_literal (DP_ERROR, code, gio_error->message);
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
