/* dp-map-reduce: the map-reduce worker place (dp_map_reduce_worker())
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

DP_PLUGIN_DEFINE ("dp-map-reduce", "libdp's map-reduce worker", "1.0", "LGPL-2.1-or-later")

/* started by dp_make_map_reduce_workers() as the named place mpw<i> */
DP_PLACE_EXPORT void
map_reduce_worker (DpPlaceChannel *channel)
{
  dp_map_reduce_worker (channel);
}
