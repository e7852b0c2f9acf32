/* A plugin whose place table lists a function, a thunk, and a place it
 * does not define (dp-inspect reports it; tests/test-tools.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

static const DpPluginPlace places[] = {
  { "listed", "a listed place function", DP_PLUGIN_PLACE_FUNCTION, { NULL, NULL } },
  { "listed_thunk", "a listed thunk", DP_PLUGIN_PLACE_THUNK, { NULL, NULL } },
  { "ghost", "listed, but not defined", DP_PLUGIN_PLACE_FUNCTION, { NULL, NULL } },
  { NULL, NULL, 0, { NULL, NULL } }
};

DP_PLUGIN_DEFINE_WITH_PLACES ("inspect-places", "A place table for dp-inspect", "2.5",
                              "CC0-1.0", places)

static void
body (DpPlaceChannel *ch)
{
}

DP_PLACE_EXPORT void
listed (DpPlaceChannel *ch)
{
}

DP_PLACE_EXPORT DpPlace *
listed_thunk (void)
{
  return dp_place_new (body);
}
