/* The place of the seed's restart examples, as a plugin.
 *
 * Both symbols are thunks (the seed's `#:thunk #t`). The place prints
 * `BEGINING SLEEP` (sic, as in the seed), sleeps, prints `SLEEP DONE` and
 * returns, so that whoever supervises it has something to restart:
 *
 *  - `wait_place_thunk` sleeps 5 s (examples/restart/master.rkt and
 *    examples/multiple/master.rkt);
 *  - `short_wait_place_thunk` sleeps 1 s (the test restarter.rkt).
 *
 * It sleeps with dp_sleep(), so $DP_TIME_SCALE speeds it up with libdp's
 * timers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <stdio.h>

DP_PLUGIN_DEFINE ("wait-place", "Sleeps a while, then returns (for restart-on-exit)", "1.0",
                  "LGPL-2.1-or-later")

static void
sleep_and_return (gdouble seconds)
{
  printf ("BEGINING SLEEP\n");
  fflush (stdout);
  dp_sleep (seconds);
  printf ("SLEEP DONE\n");
  fflush (stdout);
}

static void
wait_place_body (DpPlaceChannel *ch)
{
  sleep_and_return (5);
}

static void
short_wait_place_body (DpPlaceChannel *ch)
{
  sleep_and_return (1);
}

DP_PLACE_EXPORT DpPlace *wait_place_thunk (void);
DP_PLACE_EXPORT DpPlace *short_wait_place_thunk (void);

DP_PLACE_EXPORT DpPlace *
wait_place_thunk (void)
{
  return dp_place_new (wait_place_body);
}

DP_PLACE_EXPORT DpPlace *
short_wait_place_thunk (void)
{
  return dp_place_new (short_wait_place_body);
}
