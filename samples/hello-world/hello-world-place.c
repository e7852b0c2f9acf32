/* The place of the seed's hello-world, as a plugin.
 *
 * `hello_world` is a thunk (the seed's `#:thunk #t`): the node calls it and
 * it creates the place itself, as `(place ch ...)` does in Racket.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <stdio.h>

DP_PLUGIN_DEFINE ("hello-world", "The seed's hello-world place", "1.0", "LGPL-2.1-or-later")

static void
hello_world_body (DpPlaceChannel *ch)
{
  g_autoptr(GVariant) msg = dp_place_channel_get (ch);

  if (msg == NULL)
    return;
  printf ("hello-world received: %s\n",
          g_variant_is_of_type (msg, G_VARIANT_TYPE_STRING)
          ? g_variant_get_string (msg, NULL) : "(not a string)");
  fflush (stdout);
  dp_place_channel_put (ch, g_variant_new_string ("Hello World\n"));
  printf ("hello-world sent: Hello World\n");
  fflush (stdout);
}

DP_PLACE_EXPORT DpPlace *
hello_world (void)
{
  return dp_place_new (hello_world_body);
}
