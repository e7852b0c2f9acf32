/* echo: places that send back what they get
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

static const DpPluginPlace echo_places[] = {
  { "echo", "sends back every message unchanged", DP_PLUGIN_PLACE_FUNCTION, { NULL, NULL } },
  { "echo_named", "as a named place, answers each client on its own channel",
    DP_PLUGIN_PLACE_FUNCTION, { NULL, NULL } },
  { "count", "counts messages and bytes; answers (tt) on \"count?\"",
    DP_PLUGIN_PLACE_FUNCTION, { NULL, NULL } },
  { "count_many", "count, reading with dp_place_channel_get_many() (bench W3B)",
    DP_PLUGIN_PLACE_FUNCTION, { NULL, NULL } },
  { "mesh_pinger", "round trips to a named place, direct or relayed (bench W8)",
    DP_PLUGIN_PLACE_FUNCTION, { NULL, NULL } },
  { NULL, NULL, 0, { NULL, NULL } }
};

DP_PLUGIN_DEFINE_WITH_PLACES ("echo", "Places that echo every message back", "1.0",
                              "LGPL-2.1-or-later", echo_places)

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

/* one message for count and count_many: counted, or, "count?", answered */
static void
count_one (DpPlaceChannel *ch,
           GVariant       *msg,
           guint64        *n,
           guint64        *bytes)
{
  if (g_variant_is_of_type (msg, G_VARIANT_TYPE_STRING) &&
      g_strcmp0 (g_variant_get_string (msg, NULL), "count?") == 0)
    dp_place_channel_put (ch, g_variant_new ("(tt)", *n, *bytes));
  else
    {
      (*n)++;
      *bytes += g_variant_get_size (msg);
    }
  g_variant_unref (msg);
}

/* count: counts messages and their bytes; answers (tt) count, bytes on
 * the message "count?" (a string) */
DP_PLACE_EXPORT void
count (DpPlaceChannel *ch)
{
  GVariant *msg;
  guint64 n = 0, bytes = 0;

  while ((msg = dp_place_channel_get (ch)) != NULL)
    count_one (ch, msg, &n, &bytes);
}

/* count_many: count, reading up to 64 messages at a time
 * (dp_place_channel_get_many(): one lock per batch) */
DP_PLACE_EXPORT void
count_many (DpPlaceChannel *ch)
{
  GVariant *batch[64];
  guint got;
  guint64 n = 0, bytes = 0;

  while ((got = dp_place_channel_get_many (ch, batch, G_N_ELEMENTS (batch))) > 0)
    for (guint i = 0; i < got; i++)
      count_one (ch, batch[i], &n, &bytes);
}

/* mesh_pinger: for the benchmark of the mesh (bench W8). Gets
 * (s mode, s host, q port, s name, u n): in mode "direct" it connects to
 * the place named @name on @host:@port (dp_place_channel_connect(): node
 * to node, the master not on the path), in mode "relay" its peer is its
 * own channel (the master passes each message on); then makes @n
 * sequential round trips of an int64 42 and answers ('done', elapsed µs)
 * as it measured them, or ('error', message). Serves any number of runs. */
DP_PLACE_EXPORT void
mesh_pinger (DpPlaceChannel *ch)
{
  GVariant *msg;

  while ((msg = dp_place_channel_get (ch)) != NULL)
    {
      const char *mode, *host, *name;
      guint16 port;
      guint32 n;
      GError *error = NULL;
      DpPlaceChannel *peer;
      gint64 t0;
      gboolean ok = TRUE;

      g_variant_get (msg, "(&s&sq&su)", &mode, &host, &port, &name, &n);
      if (g_strcmp0 (mode, "direct") == 0)
        peer = dp_place_channel_connect (ch, host, port, name, &error);
      else
        peer = g_object_ref (ch);
      if (peer == NULL)
        {
          dp_place_channel_put (ch, g_variant_new ("(sx)", error->message, (gint64) -1));
          g_error_free (error);
          g_variant_unref (msg);
          continue;
        }
      t0 = g_get_monotonic_time ();
      for (guint32 i = 0; i < n && ok; i++)
        {
          GVariant *r;

          dp_place_channel_put (peer, g_variant_new_int64 (42));
          r = dp_place_channel_get (peer);
          ok = r != NULL && g_variant_is_of_type (r, G_VARIANT_TYPE_INT64) &&
               g_variant_get_int64 (r) == 42;
          if (r)
            g_variant_unref (r);
        }
      dp_place_channel_put (ch, g_variant_new ("(sx)", ok ? "done" : "bad reply",
                                               ok ? g_get_monotonic_time () - t0 : (gint64) -1));
      g_object_unref (peer);
      g_variant_unref (msg);
    }
}
