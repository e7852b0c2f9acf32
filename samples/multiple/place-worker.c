/* The place-worker of the seed's examples/multiple, as a plugin.
 *
 * `place_worker` is a place function. It runs 5 to 9 iterations (chosen at
 * random); each prints `(SECONDS "HI" i)`, with SECONDS the time since the
 * epoch, and sends the same to its master as the tuple (SECONDS, "HI", i)
 * of type "(xsx)", then sleeps 3 s (dp_sleep(), so $DP_TIME_SCALE speeds
 * it up). Then it returns. As in the seed, the id is always "HI" and an
 * initial message, if any, is not read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <stdio.h>

DP_PLUGIN_DEFINE ("place-worker", "Says HI to its master every 3 s, 5 to 9 times", "1.0",
                  "LGPL-2.1-or-later")

DP_PLACE_EXPORT void place_worker (DpPlaceChannel *ch);

DP_PLACE_EXPORT void
place_worker (DpPlaceChannel *ch)
{
  gint32 n = g_random_int_range (5, 10);

  for (gint32 i = 0; i < n; i++)
    {
      gint64 seconds = g_get_real_time () / G_USEC_PER_SEC;

      printf ("(%" G_GINT64_FORMAT " \"HI\" %d)\n", seconds, i);
      fflush (stdout);
      if (!dp_place_channel_put (ch, g_variant_new ("(xsx)", seconds, "HI", (gint64) i)))
        return;   /* the master has gone */
      dp_sleep (3);
    }
}
