/* A plugin without a DP_PLUGIN_DEFINE() descriptor. The descriptor is
 * optional (dp-plugin.h): its places load, with no ABI check. */
#include <libdp/libdp.h>

DP_PLACE_EXPORT void
echo (DpPlaceChannel *ch)
{
  GVariant *m;

  while ((m = dp_place_channel_get (ch)) != NULL)
    {
      dp_place_channel_put (ch, m);
      g_variant_unref (m);
    }
}
