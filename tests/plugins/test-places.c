/* Places for the tests: well-behaved and broken ones. */
#include <libdp/libdp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- flow control ---- */

/* @size zero bytes as an "ay" (floating) */
static GVariant *
zeros_variant (gsize size)
{
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_malloc0 (size), size);

  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
}

/* Gets (uu) count, size; puts count messages (u, s): a sequence number and
 * size bytes of padding, as fast as it can, logging "flood: sent N" every
 * 64 messages; then "flood: done" and returns. count 0: forever. */
DP_PLACE_EXPORT void
flood (DpPlaceChannel *ch)
{
  GVariant *m = dp_place_channel_get (ch);
  guint32 count = 0, size = 0;
  char *pad;

  if (m == NULL)
    return;
  g_variant_get (m, "(uu)", &count, &size);
  g_variant_unref (m);
  pad = g_malloc (size + 1);
  memset (pad, 'x', size);
  pad[size] = '\0';
  for (guint32 i = 0; count == 0 || i < count; i++)
    {
      if (!dp_place_channel_put (ch, g_variant_new ("(us)", i, pad)))
        break;
      if ((i + 1) % 64 == 0)
        {
          char text[64];
          g_snprintf (text, sizeof text, "flood: sent %u", i + 1);
          dp_place_channel_log (ch, "info", text);
        }
    }
  dp_place_channel_log (ch, "info", "flood: done");
  g_free (pad);
}

typedef struct {
  DpPlaceChannel *ch;
  guint32         count, size;
} BidiSender;

static gpointer
bidi_send (gpointer data)
{
  BidiSender *s = data;
  GVariant *v = g_variant_ref_sink (zeros_variant (s->size));
  for (guint32 i = 0; i < s->count; i++)
    {
      GVariant *m = g_variant_new ("(u@ay)", i, v);
      if (!dp_place_channel_put (s->ch, m))
        break;
    }
  g_variant_unref (v);
  return NULL;
}

/* Gets (uu) count, size; then sends count messages (u ay) from a second
 * thread while this one gets count messages of the other side's: both
 * directions full at once. Ends with (su) "received", n. */
DP_PLACE_EXPORT void
bidi (DpPlaceChannel *ch)
{
  GVariant *m = dp_place_channel_get (ch);
  BidiSender s = { ch, 0, 0 };
  GThread *sender;
  guint32 got = 0;

  if (m == NULL)
    return;
  g_variant_get (m, "(uu)", &s.count, &s.size);
  g_variant_unref (m);
  sender = g_thread_new ("bidi-send", bidi_send, &s);
  while (got < s.count && (m = dp_place_channel_get (ch)) != NULL)
    {
      guint32 seq;
      g_variant_get (m, "(u@ay)", &seq, NULL);
      if (seq == got)
        got++;
      g_variant_unref (m);
    }
  g_thread_join (sender);
  dp_place_channel_put (ch, g_variant_new ("(su)", "received", got));
}

/* Request and reply both ways. Gets (uu) count, size; sends count requests
 * ("req", i, pad) and answers each ("req", j, pad) it gets with
 * ("rep", j, pad); returns once it has had count replies and answered
 * count requests. Its puts block while the master does not read. */
DP_PLACE_EXPORT void
requester (DpPlaceChannel *ch)
{
  GVariant *m = dp_place_channel_get (ch);
  guint32 count = 0, size = 0, sent = 0, replies = 0, answered = 0;
  GVariant *pad;

  if (m == NULL)
    return;
  g_variant_get (m, "(uu)", &count, &size);
  g_variant_unref (m);
  pad = g_variant_ref_sink (zeros_variant (size));
  while (replies < count || answered < count)
    {
      /* what has come, then one request of ours, or wait */
      if (sent < count)
        m = dp_place_channel_try_get (ch);
      else
        m = dp_place_channel_get (ch);
      if (m == NULL && sent >= count)
        break;    /* closed */
      if (m)
        {
          const char *kind;
          guint32 seq;

          g_variant_get (m, "(&su@ay)", &kind, &seq, NULL);
          if (g_str_equal (kind, "req"))
            {
              dp_place_channel_put (ch, g_variant_new ("(su@ay)", "rep", seq, pad));
              answered++;
            }
          else
            replies++;
          g_variant_unref (m);
          continue;
        }
      dp_place_channel_put (ch, g_variant_new ("(su@ay)", "req", sent++, pad));
    }
  g_variant_unref (pad);
}

/* Never reads: its inbox fills, and whoever sends to it is pushed back.
 * Ends only with its node. */
DP_PLACE_EXPORT void
deaf (DpPlaceChannel *ch)
{
  static GMutex lock;
  static GCond never;

  g_mutex_lock (&lock);
  for (;;)
    g_cond_wait (&never, &lock);
}

/* ---- typed channels (issue 13): tc-get in a place ---- */

/* Takes the message of type "second", then the one of type "first", from
 * its channel through a DpTypedChannel, and sends them back in that order;
 * then sends back whatever else it gets, in order, until the channel
 * closes. */
DP_PLACE_EXPORT void
typed_reorder (DpPlaceChannel *ch)
{
  g_autoptr(DpTypedChannel) tc = dp_typed_channel_new (DP_CHANNEL (ch));
  const char *order[] = { "second", "first" };
  GVariant *m;

  for (gsize i = 0; i < G_N_ELEMENTS (order); i++)
    {
      g_autoptr(GError) error = NULL;

      m = dp_typed_channel_get (tc, order[i], &error);
      if (m == NULL)
        {
          dp_place_channel_log (ch, "error", error ? error->message : "closed early");
          return;
        }
      dp_place_channel_put (ch, m);
      g_variant_unref (m);
    }
  while ((m = dp_typed_channel_get (tc, NULL, NULL)) != NULL)
    {
      dp_place_channel_put (ch, m);
      g_variant_unref (m);
    }
}

/* A named place: of each pair of messages it takes the one of type
 * "second" before the one of type "first" (whatever their order), and
 * answers each on the channel of the client that sent it. */
DP_PLACE_EXPORT void
typed_named_reorder (DpPlaceChannel *ch)
{
  g_autoptr(DpTypedChannel) tc = dp_typed_channel_new (DP_CHANNEL (ch));

  for (;;)
    for (guint i = 0; i < 2; i++)
      {
        g_autoptr(DpChannel) reply = NULL;
        g_autoptr(GVariant) m = dp_typed_channel_get_full (tc, i == 0 ? "second" : "first",
                                                           &reply, NULL);
        if (m == NULL)
          return;
        dp_channel_put (reply, m);
      }
}
