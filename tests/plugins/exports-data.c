/* A plugin that exports a variable beside its place: only functions the
 * plugin defines may be started as places. */
#include <libdp/libdp.h>

DP_PLUGIN_DEFINE ("exports-data", "A place and a variable", "1.0", "LGPL-2.1-or-later")

DP_PLACE_EXPORT const char answer[64] = "42";

DP_PLACE_EXPORT void
quick (DpPlaceChannel *ch)
{
}
