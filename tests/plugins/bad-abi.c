/* A plugin whose descriptor names a plugin ABI no node supports. */
#include <libdp/libdp.h>
DP_PLACE_EXPORT const DpPluginDesc *dp_plugin_describe (void);
const DpPluginDesc *
dp_plugin_describe (void)
{
  static const DpPluginDesc d = { 99, 0, "bad-abi", "wrong ABI", "1", "CC0-1.0", NULL, { 0 } };
  return &d;
}
DP_PLACE_EXPORT void echo (DpPlaceChannel *ch) { }
