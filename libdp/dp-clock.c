/* dp-clock.c: the time every libdp timer runs on
 *
 * Timers and restart delays are given in seconds of libdp time. Normally
 * that is real time; with $DP_TIME_SCALE=N (or dp_set_time_scale()) it runs
 * N times faster, so a test of a restarter that waits 5 s between restarts
 * takes 50 ms at a scale of 100. Spawned local nodes inherit the variable,
 * so places that pace themselves with dp_sleep() speed up with their master.
 *
 * What measures the machine rather than the program stays in real time:
 * heartbeats and their timeout, the ready timeout of a spawn, the handshake
 * timeout. A scaled test must not declare a node dead because the machine
 * it runs on is slow.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

static gdouble scale = -1;
static gint64 origin_us;

static void
ensure_scale (void)
{
  if (G_UNLIKELY (scale < 0))
    {
      const char *env = g_getenv ("DP_TIME_SCALE");
      gdouble s = env ? g_ascii_strtod (env, NULL) : 1.0;
      origin_us = g_get_monotonic_time ();
      scale = s > 0 ? s : 1.0;
    }
}

/**
 * dp_time_scale:
 *
 * The libdp time scale: DP_TIME_SCALE from the environment, or what
 * dp_set_time_scale() set, 1.0 by default.
 *
 * Returns: how many times faster than real time libdp time runs
 *
 * Since: 1.0
 */
gdouble
dp_time_scale (void)
{
  ensure_scale ();
  return scale;
}

/**
 * dp_set_time_scale:
 * @scale: how many times faster than real time libdp time is to run
 *
 * For tests. Set it before any timer is created.
 *
 * Since: 1.0
 */
void
dp_set_time_scale (gdouble new_scale)
{
  g_return_if_fail (new_scale > 0);
  ensure_scale ();
  scale = new_scale;
}

/**
 * dp_now:
 *
 * The current libdp time: the monotonic clock in seconds, run
 * DP_TIME_SCALE times faster (for tests of timeouts).
 *
 * |[<!-- language="C" -->
 * gdouble t0 = dp_now ();
 * dp_sleep (0.5);
 * g_print ("%.1f libdp seconds\n", dp_now () - t0);
 * ]|
 *
 * Returns: libdp time in seconds, from an arbitrary origin
 *
 * Since: 1.0
 */
gdouble
dp_now (void)
{
  ensure_scale ();
  return (g_get_monotonic_time () - origin_us) / 1e6 * scale;
}

/**
 * dp_sleep:
 * @seconds: libdp seconds to sleep
 *
 * Sleeps for @seconds of libdp time (scaled by DP_TIME_SCALE, see
 * dp_now()).
 *
 * Since: 1.0
 */
void
dp_sleep (gdouble seconds)
{
  ensure_scale ();
  if (seconds > 0)
    g_usleep ((gulong) (seconds * 1e6 / scale));
}

/**
 * dp_timeout_source_new:
 * @seconds: libdp seconds
 *
 * A timeout source counted in libdp time (see dp_now()).
 *
 * Returns: (transfer full): a #GSource that fires after @seconds of libdp
 *   time (and then every @seconds while its callback returns
 *   %G_SOURCE_CONTINUE)
 *
 * Since: 1.0
 */
GSource *
dp_timeout_source_new (gdouble seconds)
{
  ensure_scale ();
  return g_timeout_source_new ((guint) (MAX (seconds, 0) * 1000.0 / scale + 0.5));
}
