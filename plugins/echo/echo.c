/* echo: places that send back what they get
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

DP_PLUGIN_DEFINE ("echo", "Places that echo every message back", "1.0", "LGPL-2.1-or-later")

/* echo: returns each message unchanged until the channel closes */
DP_PLACE_EXPORT void
echo (DpPlaceChannel *ch)
{
  GVariant *msg;

  while ((msg = dp_place_channel_get (ch)) != NULL)   /* NULL: channel closed */
    {
      dp_place_channel_put (ch, msg);                  /* sinks a floating ref */
      g_variant_unref (msg);
    }
}

/* echo_named: for a named place, answers each client on its own channel */
DP_PLACE_EXPORT void
echo_named (DpPlaceChannel *ch)
{
  GVariant *msg;
  DpPlaceChannel *reply = NULL;

  while ((msg = dp_place_channel_get_full (ch, &reply)) != NULL)
    {
      dp_place_channel_put (reply, msg);
      g_variant_unref (msg);
      g_clear_object (&reply);
    }
}

/* count: counts messages and their bytes; answers (tt) count, bytes on
 * the message "count?" (a string) */
DP_PLACE_EXPORT void
count (DpPlaceChannel *ch)
{
  GVariant *msg;
  guint64 n = 0, bytes = 0;

  while ((msg = dp_place_channel_get (ch)) != NULL)
    {
      if (g_variant_is_of_type (msg, G_VARIANT_TYPE_STRING) &&
          g_strcmp0 (g_variant_get_string (msg, NULL), "count?") == 0)
        dp_place_channel_put (ch, g_variant_new ("(tt)", n, bytes));
      else
        {
          n++;
          bytes += g_variant_get_size (msg);
        }
      g_variant_unref (msg);
    }
}
