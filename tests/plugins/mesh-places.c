/* Places for the mesh tests (tests/test-mesh.c): places that reach places
 * on other nodes directly, and pass channel ends to each other. */
#include <libdp/libdp.h>
#include <signal.h>
#include <string.h>

DP_PLUGIN_DEFINE ("mesh-places", "Places for libdp's mesh tests", "1.0", "LGPL-2.1-or-later")

static void
report_error (DpPlaceChannel *ch, const GError *error)
{
  dp_place_channel_put (ch, g_variant_new ("(sis)", "error", error->code, error->message));
}

/* ('exchange', host, port, name, n, window): connects to the place named
 * @name on @host:@port, sends the integers 0 .. n-1 (at most @window
 * unanswered) and checks that they come back in order; answers
 * ('done', got, in_order) or ('error', code, message). */
DP_PLACE_EXPORT void
exchange (DpPlaceChannel *ch)
{
  GVariant *m;

  while ((m = dp_place_channel_get (ch)) != NULL)
    {
      g_autoptr(GVariant) msg = m;
      g_autoptr(GError) error = NULL;
      g_autoptr(DpPlaceChannel) srv = NULL;
      const char *host, *name;
      guint16 port;
      guint32 n, window, sent = 0, got = 0;
      gboolean in_order = TRUE;

      g_variant_get (msg, "(&s&sq&suu)", NULL, &host, &port, &name, &n, &window);
      srv = dp_place_channel_connect (ch, host, port, name, &error);
      if (srv == NULL)
        {
          report_error (ch, error);
          continue;
        }
      while (got < n)
        {
          g_autoptr(GVariant) r = NULL;

          while (sent < n && sent - got < window)
            dp_place_channel_put (srv, g_variant_new_uint32 (sent++));
          r = dp_place_channel_get (srv);
          if (r == NULL)
            break;
          if (!g_variant_is_of_type (r, G_VARIANT_TYPE_UINT32) || g_variant_get_uint32 (r) != got)
            in_order = FALSE;
          got++;
        }
      dp_place_channel_put (ch, g_variant_new ("(sub)", "done", got, in_order));
    }
}

/* ('hold', host, port, name): connects, does one round trip, says
 * ('connected'), then waits for the channel to close and says ('closed', n)
 * with the messages got meanwhile. */
DP_PLACE_EXPORT void
hold (DpPlaceChannel *ch)
{
  g_autoptr(GVariant) msg = dp_place_channel_get (ch);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpPlaceChannel) srv = NULL;
  g_autoptr(GVariant) first = NULL;
  const char *host, *name;
  guint16 port;
  guint32 n = 0;
  GVariant *r;

  if (msg == NULL)
    return;
  g_variant_get (msg, "(&s&sq&s)", NULL, &host, &port, &name);
  srv = dp_place_channel_connect (ch, host, port, name, &error);
  if (srv == NULL)
    {
      report_error (ch, error);
      return;
    }
  dp_place_channel_put (srv, g_variant_new_string ("ping"));
  first = dp_place_channel_get (srv);
  dp_place_channel_put (ch, g_variant_new ("(s)", "connected"));
  while ((r = dp_place_channel_get (srv)) != NULL)
    {
      n++;
      g_variant_unref (r);
    }
  dp_place_channel_put (ch, g_variant_new ("(su)", "closed", n));
}

/* Makes a pair, sends one end to its master as ('ref', <reference>), puts
 * 0 .. 99 on its own end before anybody has it, then checks that they come
 * back in order (the peer echoes) and says ('ready', ok). Then, on
 * ('stop-master', pid): stops the master (SIGSTOP), exchanges messages with
 * the peer for one second measured here, continues the master (SIGCONT)
 * and says ('window', round trips). On ('close'): closes its end and says
 * ('closed', round trips in all). */
DP_PLACE_EXPORT void
giver (DpPlaceChannel *ch)
{
  g_autoptr(DpPlaceChannel) mine = NULL;
  DpPlaceChannel *theirs = NULL;
  GVariant *ref, *m;
  guint32 total = 0;
  gboolean ok = TRUE;

  dp_place_channel_new_pair (&mine, &theirs);
  ref = dp_place_channel_to_variant (theirs);
  g_object_unref (theirs);
  if (ref == NULL)
    {
      dp_place_channel_put (ch, g_variant_new ("(sv)", "no-ref", g_variant_new_boolean (FALSE)));
      return;
    }
  dp_place_channel_put (ch, g_variant_new ("(sv)", "ref", ref));
  for (guint32 i = 0; i < 100; i++)
    dp_place_channel_put (mine, g_variant_new_uint32 (i));
  for (guint32 i = 0; i < 100; i++)
    {
      g_autoptr(GVariant) r = dp_place_channel_get (mine);
      if (r == NULL || g_variant_get_uint32 (r) != i)
        ok = FALSE;
      total++;
    }
  dp_place_channel_put (ch, g_variant_new ("(sv)", "ready", g_variant_new_boolean (ok)));

  while ((m = dp_place_channel_get (ch)) != NULL)
    {
      g_autoptr(GVariant) cmd = m;
      const char *what;

      g_variant_get_child (cmd, 0, "&s", &what);
      if (strcmp (what, "stop-master") == 0)
        {
          gint64 pid, start, window = G_USEC_PER_SEC;
          guint32 count = 0;

          g_variant_get_child (cmd, 1, "x", &pid);
          kill ((pid_t) pid, SIGSTOP);
          start = g_get_monotonic_time ();
          while (g_get_monotonic_time () - start < window)
            {
              g_autoptr(GVariant) r = NULL;

              dp_place_channel_put (mine, g_variant_new_uint32 (total));
              r = dp_place_channel_get (mine);
              if (r == NULL)
                break;
              count++;
              total++;
            }
          kill ((pid_t) pid, SIGCONT);
          dp_place_channel_put (ch, g_variant_new ("(sv)", "window", g_variant_new_uint32 (count)));
        }
      else if (strcmp (what, "close") == 0)
        {
          dp_place_channel_close (mine);
          dp_place_channel_put (ch, g_variant_new ("(sv)", "closed", g_variant_new_uint32 (total)));
          return;
        }
    }
}

/* ('take', <reference>): redeems it and echoes what comes on it, says
 * ('taken') (or ('error', code, message)); when the channel closes, says
 * ('closed', n) with the messages echoed. */
DP_PLACE_EXPORT void
taker (DpPlaceChannel *ch)
{
  g_autoptr(GVariant) msg = dp_place_channel_get (ch);
  g_autoptr(GVariant) ref = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DpPlaceChannel) peer = NULL;
  guint32 n = 0;
  GVariant *m;

  if (msg == NULL)
    return;
  g_variant_get (msg, "(&sv)", NULL, &ref);
  peer = dp_place_channel_from_variant (ch, g_steal_pointer (&ref), &error);
  if (peer == NULL)
    {
      report_error (ch, error);
      return;
    }
  dp_place_channel_put (ch, g_variant_new ("(s)", "taken"));
  while ((m = dp_place_channel_get (peer)) != NULL)
    {
      dp_place_channel_put (peer, m);
      g_variant_unref (m);
      n++;
    }
  dp_place_channel_put (ch, g_variant_new ("(su)", "closed", n));
}

/* Redeems every value it gets: answers ('ok', echoed) after one round trip
 * on the channel ('hello' out, the peer's answer back), or ('error', code,
 * message). Keeps serving whatever it is sent. */
DP_PLACE_EXPORT void
redeemer (DpPlaceChannel *ch)
{
  GVariant *m;

  while ((m = dp_place_channel_get (ch)) != NULL)
    {
      g_autoptr(GVariant) msg = m;
      g_autoptr(GError) error = NULL;
      g_autoptr(DpPlaceChannel) peer = dp_place_channel_from_variant (ch, g_variant_ref (msg), &error);
      g_autoptr(GVariant) back = NULL;

      if (peer == NULL)
        {
          report_error (ch, error);
          continue;
        }
      dp_place_channel_put (peer, g_variant_new_string ("hello"));
      back = dp_place_channel_get (peer);
      dp_place_channel_put (ch, g_variant_new ("(sv)", "ok",
                                               back ? g_variant_ref (back) : g_variant_new_string ("")));
    }
}

/* Sends ('ref', <reference>) for a pair's end, then answers on its own end
 * what it gets there, prefixed 'echo:', until closed. */
DP_PLACE_EXPORT void
exporter (DpPlaceChannel *ch)
{
  g_autoptr(DpPlaceChannel) mine = NULL;
  DpPlaceChannel *theirs = NULL;
  GVariant *m;

  dp_place_channel_new_pair (&mine, &theirs);
  dp_place_channel_put (ch, g_variant_new ("(sv)", "ref", dp_place_channel_to_variant (theirs)));
  g_object_unref (theirs);
  while ((m = dp_place_channel_get (mine)) != NULL)
    {
      g_autofree char *s = g_strdup_printf ("echo:%s", g_variant_get_string (m, NULL));
      dp_place_channel_put (mine, g_variant_new_string (s));
      g_variant_unref (m);
    }
}

/* A named place that answers its first client's first message, sends it
 * three more, and returns: that client then sees its channel closed after
 * those three. */
DP_PLACE_EXPORT void
serve_then_exit (DpPlaceChannel *ch)
{
  DpPlaceChannel *reply = NULL;
  GVariant *m = dp_place_channel_get_full (ch, &reply);

  if (m == NULL)
    return;
  dp_place_channel_put (reply, m);
  for (gint32 i = 0; i < 3; i++)
    dp_place_channel_put (reply, g_variant_new_int32 (i));
  g_variant_unref (m);
  g_object_unref (reply);
}

/* ('spawn'): spawns a node from this place (its node is that node's
 * master), starts echo's echo_named there as 'far' through the mesh, talks
 * to it on that channel and on a second one (connect), then says ('ok',
 * round trips) or ('error', code, message); drops it all when it returns. */
DP_PLACE_EXPORT void
spawner (DpPlaceChannel *ch)
{
  g_autoptr(GVariant) msg = dp_place_channel_get (ch);
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRemoteNode) extra = NULL;
  g_autoptr(DpPlaceChannel) w = NULL;
  g_autoptr(DpPlaceChannel) c = NULL;
  guint32 n = 0;

  if (msg == NULL)
    return;
  extra = dp_place_channel_spawn_node (ch, "localhost", 0, &error);
  if (extra)
    w = dp_place_channel_start_place_at (ch, "127.0.0.1", dp_remote_node_get_port (extra),
                                         "echo", "echo_named", "far", &error);
  if (w)
    c = dp_place_channel_connect (ch, "127.0.0.1", dp_remote_node_get_port (extra), "far", &error);
  if (c == NULL)
    {
      report_error (ch, error);
      return;
    }
  for (gint32 i = 0; i < 10; i++)
    {
      DpPlaceChannel *via = i % 2 ? w : c;
      g_autoptr(GVariant) r = NULL;

      dp_place_channel_put (via, g_variant_new_int32 (i));
      r = dp_place_channel_get (via);
      if (r && g_variant_get_int32 (r) == i)
        n++;
    }
  /* a second place of that name is refused */
  {
    g_autoptr(GError) again = NULL;
    g_autoptr(DpPlaceChannel) dup =
      dp_place_channel_start_place_at (ch, "127.0.0.1", dp_remote_node_get_port (extra),
                                       "echo", "echo_named", "far", &again);
    if (dup != NULL || !g_error_matches (again, DP_ERROR, DP_ERROR_NAME_IN_USE))
      n = 0;
  }
  dp_place_channel_put (ch, g_variant_new ("(su)", "ok", n));
}

/* Sends away one more end than its node keeps (1024) without anybody
 * redeeming them: the oldest is dropped, and the end that stayed here sees
 * its channel closed. Says ('dropped', closed) */
DP_PLACE_EXPORT void
export_many (DpPlaceChannel *ch)
{
  g_autoptr(GVariant) msg = dp_place_channel_get (ch);
  g_autoptr(DpPlaceChannel) first = NULL;
  g_autoptr(GVariant) got = NULL;

  for (guint i = 0; i <= 1024; i++)
    {
      DpPlaceChannel *mine, *theirs;
      GVariant *ref;

      dp_place_channel_new_pair (&mine, &theirs);
      ref = dp_place_channel_to_variant (theirs);
      g_variant_unref (g_variant_ref_sink (ref));
      g_object_unref (theirs);
      if (i == 0)
        first = mine;
      else
        g_object_unref (mine);   /* closed: its export stays until redeemed or dropped */
    }
  got = dp_place_channel_get (first);   /* NULL: the export was dropped */
  dp_place_channel_put (ch, g_variant_new ("(sb)", "dropped", got == NULL));
}
