/* Places for the tests: well-behaved and broken ones. */
#include <libdp/libdp.h>
#include <math.h>
#include <stdlib.h>

DP_PLUGIN_DEFINE ("test-places", "Places for libdp's tests", "1.0", "LGPL-2.1-or-later")

DP_PLACE_EXPORT void quick (DpPlaceChannel *ch) { }

DP_PLACE_EXPORT void
crash (DpPlaceChannel *ch)
{
  GVariant *m = dp_place_channel_get (ch);
  if (m)
    g_variant_unref (m);
  abort ();
}

/* sends 100 integers, then returns */
DP_PLACE_EXPORT void
burst (DpPlaceChannel *ch)
{
  for (gint32 i = 0; i < 100; i++)
    dp_place_channel_put (ch, g_variant_new_int32 (i));
}

static void
echo_body (DpPlaceChannel *ch)
{
  GVariant *m;
  while ((m = dp_place_channel_get (ch)) != NULL)
    {
      dp_place_channel_put (ch, m);
      g_variant_unref (m);
    }
}

DP_PLACE_EXPORT DpPlace *echo_thunk (void) { return dp_place_new (echo_body); }
DP_PLACE_EXPORT DpPlace *null_thunk (void) { return NULL; }

/* reads one message, sends it back, returns: each incarnation handles one */
DP_PLACE_EXPORT void
one_then_exit (DpPlaceChannel *ch)
{
  GVariant *m = dp_place_channel_get (ch);
  if (m)
    {
      dp_place_channel_put (ch, m);
      g_variant_unref (m);
    }
}

/* logs to the root (never data), then sends 1, then echoes */
DP_PLACE_EXPORT void
logger (DpPlaceChannel *ch)
{
  dp_place_channel_log (ch, "warning", "a record from the logger place");
  dp_place_channel_log (ch, "info", "a second record");
  dp_place_channel_put (ch, g_variant_new_int32 (1));
  echo_body (ch);
}

/* prints a line, then returns: its output must reach the master first */
DP_PLACE_EXPORT void
say_and_exit (DpPlaceChannel *ch)
{
  g_print ("last words\n");
}

/* sends values that JSON has no direct form for, then returns */
DP_PLACE_EXPORT void
odd_values (DpPlaceChannel *ch)
{
  dp_place_channel_put (ch, g_variant_new_double (NAN));
  dp_place_channel_put (ch, g_variant_new_double (INFINITY));
  dp_place_channel_put (ch, g_variant_new_double (-INFINITY));
  dp_place_channel_put (ch, g_variant_new_double (1e20));
  dp_place_channel_put (ch, g_variant_new_uint64 (G_MAXUINT64));
  dp_place_channel_put (ch, g_variant_new_string ("unit\x1fseparator"));
  dp_place_channel_put (ch, g_variant_new_parsed (
    "(b'ab', handle 3, objectpath '/a', signature 'ii', @mmi just nothing, <<1.5>>,"
    " {1: 'x'}, @{ss} {'k', 'v'}, {nan: 1})"));
}

/* ---- crashes (issue 11): each reads one message first, then crashes ---- */

static volatile gintptr bad_address = 8;

DP_PLACE_EXPORT void
crash_segv (DpPlaceChannel *ch)
{
  GVariant *m = dp_place_channel_get (ch);
  if (m)
    g_variant_unref (m);
  *(volatile int *) bad_address = 1;
}

/* puts a message whose data pointer is bad: the crash comes inside
 * libdp's send path, under the connection's output lock */
DP_PLACE_EXPORT void
crash_in_put (DpPlaceChannel *ch)
{
  GVariant *m = dp_place_channel_get (ch);
  if (m)
    g_variant_unref (m);
  dp_place_channel_put (ch, g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING,
                                                     (gconstpointer) (bad_address * 2), 64,
                                                     TRUE, NULL, NULL));
}

DP_PLACE_EXPORT DpPlace *crash_thunk (void) { abort (); }

/* a thunk that never returns */
DP_PLACE_EXPORT DpPlace *
blocking_thunk (void)
{
  for (;;)
    g_usleep (G_USEC_PER_SEC);
}

/* says 1, then blocks in user code for ever */
DP_PLACE_EXPORT void
block (DpPlaceChannel *ch)
{
  dp_place_channel_put (ch, g_variant_new_int32 (1));
  for (;;)
    g_usleep (G_USEC_PER_SEC);
}
