/* A plugin whose descriptor has the right ABI but no name (NULL) and an
 * empty licence: refused before any of its symbols is looked up. */
#include <libdp/libdp.h>

DP_PLACE_EXPORT const DpPluginDesc *dp_plugin_describe (void);
const DpPluginDesc *
dp_plugin_describe (void)
{
  static const DpPluginDesc d = {
    DP_PLUGIN_ABI_MAJOR, DP_PLUGIN_ABI_MINOR, NULL, "no name", "1", "", NULL, { 0 }
  };
  return &d;
}

DP_PLACE_EXPORT void echo (DpPlaceChannel *ch) { }
