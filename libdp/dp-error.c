/* dp-error.c: the DP_ERROR domain, and what maps into it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

G_DEFINE_QUARK (dp-error-quark, dp_error)

GError *
_dp_error_from_remote (guint32     code,
                       const char *message)
{
  if (code > DP_ERROR_RANK_LOST)
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
