/* A place plugin, ready to copy.
 *
 *   meson setup build && ninja -C build      # or: make
 *   dp-launch localhost:0 ./build/my-place.so upcase
 *
 * SPDX-License-Identifier: CC0-1.0
 */
#include <libdp/libdp.h>

/* Optional, but recommended: lets a node check the plugin before it calls
 * anything in it, and say which plugin failed if it does not fit; the
 * table lists the places for `dp-inspect my-place.so`. */
static const DpPluginPlace places[] = {
  { "upcase", "upper-cases each string it gets", DP_PLUGIN_PLACE_FUNCTION, { NULL, NULL } },
  { NULL, NULL, 0, { NULL, NULL } }
};
DP_PLUGIN_DEFINE_WITH_PLACES ("my-place", "Upper-cases strings", "0.1", "CC0-1.0", places)

/* A place function: runs in a thread of its own on the node. The channel
 * leads back to whoever started the place; get returns NULL once they have
 * closed it (dp-launch does when its standard input ends). */
DP_PLACE_EXPORT void
upcase (DpPlaceChannel *ch)
{
  GVariant *msg;

  while ((msg = dp_place_channel_get (ch)) != NULL)
    {
      if (g_variant_is_of_type (msg, G_VARIANT_TYPE_STRING))
        {
          g_autofree char *up = g_utf8_strup (g_variant_get_string (msg, NULL), -1);
          dp_place_channel_put (ch, g_variant_new_string (up));
        }
      else
        dp_place_channel_put (ch, msg);
      g_variant_unref (msg);
    }
}
