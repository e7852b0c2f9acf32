/* Unit tests of the channel utilities: DpAsyncBiChannel, DpTypedChannel.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-test-utils.h"

#include <string.h>

/* ---- DpAsyncBiChannel ---- */

/* What is put on one end is got from the other, in order, both ways, and
 * through the DpChannel interface too */
static void
test_abc_order (void)
{
  DpAsyncBiChannel *a, *b;
  g_autoptr(GError) error = NULL;
  const gint32 n = 1000;

  dp_async_bi_channel_new_pair (&a, &b);
  for (gint32 i = 0; i < n; i++)
    {
      g_assert_true (dp_async_bi_channel_put (a, g_variant_new_int32 (i), &error));
      g_assert_no_error (error);
      g_assert_true (dp_channel_put (DP_CHANNEL (b), g_variant_new ("(si)", "back", i)));
    }
  for (gint32 i = 0; i < n; i++)
    {
      g_autoptr(GVariant) x = dp_async_bi_channel_get (b);
      g_autoptr(GVariant) y = dp_channel_get (DP_CHANNEL (a));
      gint32 j;

      g_assert_cmpint (g_variant_get_int32 (x), ==, i);
      g_variant_get (y, "(&si)", NULL, &j);
      g_assert_cmpint (j, ==, i);
    }
  g_assert_null (dp_async_bi_channel_try_get (a));
  g_assert_null (dp_channel_try_get (DP_CHANNEL (b)));
  g_assert_false (dp_async_bi_channel_is_closed (a));
  g_object_unref (a);
  g_object_unref (b);
}

typedef struct {
  DpAsyncBiChannel *end;
  gint              started;
} Getter;

static gpointer
getter_thread (gpointer data)
{
  Getter *g = data;

  g_atomic_int_set (&g->started, 1);
  return dp_async_bi_channel_get (g->end);
}

/* A get on an empty end waits; a put from another thread wakes it, and so
 * does a close (it then returns NULL) */
static void
test_abc_blocking_get (void)
{
  DpAsyncBiChannel *a, *b;
  Getter g = { 0 };
  GThread *t;
  GVariant *got;

  dp_async_bi_channel_new_pair (&a, &b);
  g.end = b;
  t = g_thread_new ("getter", getter_thread, &g);
  while (!g_atomic_int_get (&g.started))
    g_thread_yield ();
  g_assert_true (dp_async_bi_channel_put (a, g_variant_new_string ("wake"), NULL));
  got = g_thread_join (t);
  g_assert_cmpstr (g_variant_get_string (got, NULL), ==, "wake");
  g_variant_unref (got);

  /* a getter waiting when the other end closes gets NULL */
  g.started = 0;
  t = g_thread_new ("getter", getter_thread, &g);
  while (!g_atomic_int_get (&g.started))
    g_thread_yield ();
  dp_async_bi_channel_close (a);
  g_assert_null (g_thread_join (t));
  g_object_unref (a);
  g_object_unref (b);
}

#define N_PRODUCERS 4
#define PER_PRODUCER 5000

static gpointer
producer_thread (gpointer data)
{
  DpAsyncBiChannel *a = data;
  static gint next_id;
  guint32 id = (guint32) g_atomic_int_add (&next_id, 1) % N_PRODUCERS;

  for (guint32 i = 0; i < PER_PRODUCER; i++)
    g_assert_true (dp_async_bi_channel_put (a, g_variant_new ("(uu)", id, i), NULL));
  return NULL;
}

/* Producers on several threads, one reader: every message arrives once,
 * each producer's in its order */
static void
test_abc_threads (void)
{
  DpAsyncBiChannel *a, *b;
  GThread *t[N_PRODUCERS];
  guint32 next[N_PRODUCERS] = { 0 };

  dp_async_bi_channel_new_pair_full (N_PRODUCERS * PER_PRODUCER, G_MAXSIZE, &a, &b);
  for (guint i = 0; i < N_PRODUCERS; i++)
    t[i] = g_thread_new ("producer", producer_thread, a);
  for (guint n = 0; n < N_PRODUCERS * PER_PRODUCER; n++)
    {
      g_autoptr(GVariant) m = dp_async_bi_channel_get (b);
      guint32 id, i;

      g_variant_get (m, "(uu)", &id, &i);
      g_assert_cmpuint (id, <, N_PRODUCERS);
      g_assert_cmpuint (i, ==, next[id]);
      next[id]++;
    }
  for (guint i = 0; i < N_PRODUCERS; i++)
    g_thread_join (t[i]);
  g_assert_null (dp_async_bi_channel_try_get (b));
  g_object_unref (a);
  g_object_unref (b);
}

/* Close: the other end reads what was sent before, then NULL; puts on
 * either end fail with DP_ERROR_CLOSED; what the closed end had not read is
 * dropped; dropping an end closes it */
static void
test_abc_close (void)
{
  DpAsyncBiChannel *a, *b;
  g_autoptr(GError) error = NULL;

  dp_async_bi_channel_new_pair (&a, &b);
  for (gint32 i = 0; i < 3; i++)
    g_assert_true (dp_async_bi_channel_put (a, g_variant_new_int32 (i), NULL));
  g_assert_true (dp_async_bi_channel_put (b, g_variant_new_string ("unread"), NULL));
  dp_async_bi_channel_close (a);
  dp_async_bi_channel_close (a);     /* twice is harmless */
  g_assert_true (dp_async_bi_channel_is_closed (a));
  g_assert_null (dp_async_bi_channel_try_get (a));   /* dropped */

  g_assert_false (dp_async_bi_channel_put (a, g_variant_new_int32 (9), &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (dp_async_bi_channel_put (b, g_variant_new_int32 (9), &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (dp_channel_put (DP_CHANNEL (b), g_variant_new_int32 (9)));

  g_assert_false (dp_async_bi_channel_is_closed (b));
  for (gint32 i = 0; i < 3; i++)
    {
      g_autoptr(GVariant) m = dp_async_bi_channel_get (b);
      g_assert_cmpint (g_variant_get_int32 (m), ==, i);
    }
  g_assert_true (dp_async_bi_channel_is_closed (b));
  g_assert_null (dp_async_bi_channel_get (b));
  g_assert_null (dp_async_bi_channel_get (b));
  g_object_unref (a);
  g_object_unref (b);

  /* the last reference dropped: closed after what was sent */
  dp_async_bi_channel_new_pair (&a, &b);
  g_assert_true (dp_async_bi_channel_put (a, g_variant_new_int32 (1), NULL));
  g_object_unref (a);
  {
    g_autoptr(GVariant) m = dp_async_bi_channel_get (b);
    g_assert_cmpint (g_variant_get_int32 (m), ==, 1);
  }
  g_assert_null (dp_async_bi_channel_get (b));
  g_object_unref (b);

  /* an end made alone has no other end: closed */
  {
    g_autoptr(DpAsyncBiChannel) lone = g_object_new (DP_TYPE_ASYNC_BI_CHANNEL, NULL);
    g_assert_false (dp_async_bi_channel_put (lone, g_variant_new_int32 (1), &error));
    g_assert_error (error, DP_ERROR, DP_ERROR_CLOSED);
    g_clear_error (&error);
    g_assert_null (dp_async_bi_channel_get (lone));
    g_assert_true (dp_async_bi_channel_is_closed (lone));
  }
}

/* Bounded: a put to an end holding max-messages (or max-bytes) unread
 * fails with DP_ERROR_LIMIT at once and drops the message; room comes back
 * as the end is read. Through DpChannel: FALSE and one warning. */
static void
test_abc_bounds (void)
{
  DpAsyncBiChannel *a, *b;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) m = NULL;
  g_autofree char *pad = g_strnfill (300, 'x');

  dp_async_bi_channel_new_pair_full (4, 1024 * 1024, &a, &b);
  g_assert_cmpuint (dp_async_bi_channel_get_max_messages (b), ==, 4);
  g_assert_cmpuint (dp_async_bi_channel_get_max_bytes (b), ==, 1024 * 1024);
  for (gint32 i = 0; i < 4; i++)
    g_assert_true (dp_async_bi_channel_put (a, g_variant_new_int32 (i), NULL));
  g_assert_false (dp_async_bi_channel_put (a, g_variant_new_int32 (4), &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, "max-messages 4"));
  g_clear_error (&error);

  /* the DpChannel put says FALSE and warns once per filling up */
  dp_test_expect_log ("Dp", G_LOG_LEVEL_WARNING, "*holds its limit of unread messages (max-messages 4*");
  g_assert_false (dp_channel_put (DP_CHANNEL (a), g_variant_new_int32 (4)));
  g_assert_false (dp_channel_put (DP_CHANNEL (a), g_variant_new_int32 (4)));
  dp_test_assert_expected_logs ();

  /* the other direction is not affected */
  g_assert_true (dp_async_bi_channel_put (b, g_variant_new_int32 (0), NULL));

  m = dp_async_bi_channel_get (b);
  g_assert_cmpint (g_variant_get_int32 (m), ==, 0);
  g_assert_true (dp_async_bi_channel_put (a, g_variant_new_int32 (4), NULL));
  for (gint32 i = 1; i <= 4; i++)
    {
      g_autoptr(GVariant) x = dp_async_bi_channel_get (b);
      g_assert_cmpint (g_variant_get_int32 (x), ==, i);
    }
  g_assert_null (dp_async_bi_channel_try_get (b));
  g_object_unref (a);
  g_object_unref (b);

  /* by bytes: a message is admitted while the end is below the limit, so
   * one larger than the limit passes, and the next waits for room */
  dp_async_bi_channel_new_pair_full (1000, 100, &a, &b);
  g_assert_true (dp_async_bi_channel_put (a, g_variant_new_string (pad), NULL));
  g_assert_false (dp_async_bi_channel_put (a, g_variant_new_string ("small"), &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_LIMIT);
  g_clear_error (&error);
  g_clear_pointer (&m, g_variant_unref);
  m = dp_async_bi_channel_get (b);
  g_assert_cmpstr (g_variant_get_string (m, NULL), ==, pad);
  g_assert_true (dp_async_bi_channel_put (a, g_variant_new_string ("small"), NULL));
  g_object_unref (a);
  g_object_unref (b);
}

typedef struct {
  GMainContext *context;
  GThread      *thread;
  gint32        next;
  gboolean      closed;
  gboolean      wrong;
} SignalState;

static void
on_abc_message (DpAsyncBiChannel *ch,
                GVariant         *msg,
                gpointer          data)
{
  SignalState *s = data;

  if (!g_main_context_is_owner (s->context) || g_thread_self () != s->thread ||
      s->closed || g_variant_get_int32 (msg) != s->next)
    s->wrong = TRUE;
  s->next++;
}

static void
on_abc_closed (DpAsyncBiChannel *ch,
               gpointer          data)
{
  SignalState *s = data;

  if (!g_main_context_is_owner (s->context) || g_thread_self () != s->thread || s->closed)
    s->wrong = TRUE;
  s->closed = TRUE;
}

static gpointer
putter_thread (gpointer data)
{
  DpAsyncBiChannel *a = data;

  for (gint32 i = 0; i < 500; i++)
    g_assert_true (dp_async_bi_channel_put (a, g_variant_new_int32 (i), NULL));
  dp_async_bi_channel_close (a);
  return NULL;
}

/* ::message and ::closed are emitted in the thread-default context of the
 * thread that made the pair — not in another context, not in the thread
 * that puts — in order, ::closed once and last; with a handler the signal
 * takes the messages */
static void
test_abc_signals (void)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  SignalState s = { .context = ctx, .thread = g_thread_self () };
  DpAsyncBiChannel *a, *b;
  GThread *t;

  g_main_context_push_thread_default (ctx);
  dp_async_bi_channel_new_pair_full (1000, 1024 * 1024, &a, &b);
  g_main_context_pop_thread_default (ctx);
  g_signal_connect (b, "message", G_CALLBACK (on_abc_message), &s);
  g_signal_connect (b, "closed", G_CALLBACK (on_abc_closed), &s);

  t = g_thread_new ("putter", putter_thread, a);
  g_thread_join (t);
  /* the default context has nothing of it */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpint (s.next, ==, 0);
  g_assert_false (s.closed);

  while (!s.closed)
    g_main_context_iteration (ctx, TRUE);
  g_assert_false (s.wrong);
  g_assert_cmpint (s.next, ==, 500);
  g_assert_null (dp_async_bi_channel_try_get (b));
  g_assert_true (dp_async_bi_channel_is_closed (b));
  g_object_unref (a);
  g_object_unref (b);
  /* nothing more is dispatched */
  while (g_main_context_iteration (ctx, FALSE))
    ;
  g_assert_false (s.wrong);
}

/* Without a ::message handler the messages stay for get; ::closed comes
 * once the end is read dry */
static void
test_abc_closed_without_handler (void)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  SignalState s = { .context = ctx, .thread = g_thread_self () };
  DpAsyncBiChannel *a, *b;
  g_autoptr(GVariant) m = NULL;

  g_main_context_push_thread_default (ctx);
  dp_async_bi_channel_new_pair (&a, &b);
  g_signal_connect (b, "closed", G_CALLBACK (on_abc_closed), &s);
  g_assert_true (dp_async_bi_channel_put (a, g_variant_new_int32 (0), NULL));
  dp_async_bi_channel_close (a);
  while (g_main_context_iteration (ctx, FALSE))
    ;
  g_assert_false (s.closed);      /* one message left */
  m = dp_async_bi_channel_get (b);
  g_assert_cmpint (g_variant_get_int32 (m), ==, 0);
  g_assert_null (dp_async_bi_channel_get (b));
  while (!s.closed)
    g_main_context_iteration (ctx, TRUE);
  g_assert_false (s.wrong);
  g_main_context_pop_thread_default (ctx);
  g_object_unref (a);
  g_object_unref (b);
}

/* ---- DpTypedChannel ---- */

/* The type of every GVariant shape, as documented in dp-typed-channel.h */
static void
test_typed_shapes (void)
{
  struct { const char *text; const char *type; } cases[] = {
    { "'ping'", "ping" },
    { "objectpath '/a/b'", "/a/b" },
    { "signature 'ii'", "ii" },
    { "('add', 1, 2)", "add" },
    { "(('add', 1), 7)", "add" },                /* the seed's ((TYPE …) extra …) */
    { "[<'add'>, <1>, <2>]", "add" },            /* JSON ["add", 1, 2] */
    { "['a', 'b']", "a" },
    { "[[[('deep',)]]]", "deep" },
    { "<'inside'>", "inside" },
    { "<<('two', 2)>>", "two" },
    { "@ms 'm'", "m" },
    { "@ms nothing", NULL },
    { "{'key', 1}", "key" },                     /* a dict entry: its key */
    { "{'k': <'v'>}", NULL },                    /* a dictionary: none */
    { "@a{ss} {}", NULL },
    { "@as []", NULL },
    { "()", NULL },
    { "(1, 'late')", NULL },                     /* the first child decides */
    { "(@ms nothing, 'x')", NULL },
    { "42", NULL },
    { "true", NULL },
    { "3.5", NULL },
    { "handle 1", NULL },
    { "b'bytes'", NULL },
    { "[(1, 'x')]", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = g_variant_parse (NULL, cases[i].text, NULL, NULL, &error);
      g_autofree char *type = NULL;

      g_assert_no_error (error);
      type = dp_typed_channel_dup_message_type (v);
      g_test_message ("%s -> %s", cases[i].text, type ? type : "(none)");
      g_assert_cmpstr (type, ==, cases[i].type);
    }

  /* deep nesting costs no stack: 100000 variants inside each other */
  {
    GVariant *v = g_variant_new_string ("bottom");
    g_autofree char *type = NULL;

    for (guint i = 0; i < 100000; i++)
      v = g_variant_new_variant (v);
    g_variant_ref_sink (v);
    type = dp_typed_channel_dup_message_type (v);
    g_assert_cmpstr (type, ==, "bottom");
    g_variant_unref (v);
  }

  /* a message from the wire that is not in normal form: no crash */
  {
    const guint8 junk[] = { 0xff, 0xff, 0xff, 0x07, 0x00, 0x41 };
    g_autoptr(GVariant) v = g_variant_ref_sink (
      g_variant_new_from_data (G_VARIANT_TYPE ("(sv)"), junk, sizeof junk, FALSE, NULL, NULL));
    g_autofree char *type = dp_typed_channel_dup_message_type (v);
    g_test_message ("junk -> %s", type ? type : "(none)");
  }
}

static void
put_parsed (DpPlaceChannel *ch,
            const char     *text)
{
  g_assert_true (dp_place_channel_put (ch, g_variant_new_parsed (text)));
}

static void
assert_got (GVariant   *got,
            const char *text)
{
  g_autoptr(GVariant) want = g_variant_new_parsed (text);

  g_assert_nonnull (got);
  g_assert_true (g_variant_equal (got, want));
  g_variant_unref (got);
}

/* tc-get: the oldest message of the type, the others held back in arrival
 * order; NULL takes any (held first); the end of the channel */
static void
test_typed_selective (void)
{
  DpPlaceChannel *a, *b;
  g_autoptr(DpTypedChannel) tc = NULL;
  g_autoptr(GError) error = NULL;

  dp_place_channel_new_pair (&a, &b);
  tc = dp_typed_channel_new (DP_CHANNEL (b));
  g_assert_true (dp_typed_channel_get_channel (tc) == DP_CHANNEL (b));
  g_assert_cmpuint (dp_typed_channel_get_max_held (tc), ==, DP_TYPED_CHANNEL_DEFAULT_MAX_HELD);
  put_parsed (a, "('a', 1)");
  put_parsed (a, "('b', 1)");
  put_parsed (a, "('a', 2)");
  put_parsed (a, "('c', 1)");
  put_parsed (a, "42");
  put_parsed (a, "('b', 2)");

  assert_got (dp_typed_channel_get (tc, "b", &error), "('b', 1)");
  g_assert_cmpuint (dp_typed_channel_get_n_held (tc), ==, 1);
  assert_got (dp_typed_channel_get (tc, "c", &error), "('c', 1)");
  g_assert_cmpuint (dp_typed_channel_get_n_held (tc), ==, 2);
  {
    /* get_full: on a channel that is no named place's, the reply channel
     * is the channel itself */
    g_autoptr(DpChannel) reply = NULL;

    assert_got (dp_typed_channel_get_full (tc, "a", &reply, &error), "('a', 1)");
    g_assert_true (reply == DP_CHANNEL (b));
  }
  /* try_get: nothing of type 'z' queued; what it read is held */
  g_assert_null (dp_typed_channel_try_get (tc, "z", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dp_typed_channel_get_n_held (tc), ==, 3);   /* ('a', 2), 42, ('b', 2) */
  assert_got (dp_typed_channel_try_get (tc, "b", &error), "('b', 2)");
  assert_got (dp_typed_channel_get (tc, NULL, &error), "('a', 2)");
  assert_got (dp_typed_channel_get (tc, NULL, &error), "42");
  g_assert_no_error (error);

  /* closed: NULL without an error, for a type and for any */
  put_parsed (a, "('late', 0)");
  dp_place_channel_close (a);
  g_assert_null (dp_typed_channel_get (tc, "a", &error));
  g_assert_no_error (error);
  assert_got (dp_typed_channel_get (tc, "late", &error), "('late', 0)");
  g_assert_null (dp_typed_channel_get (tc, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (a);
  g_object_unref (b);
}

/* Against a plain model (a list scanned from its head): random messages
 * of three types and none, random gets by type and for any */
static void
test_typed_model (void)
{
  const char *types[] = { "a", "b", "c", NULL };
  DpPlaceChannel *a, *b;
  g_autoptr(DpTypedChannel) tc = NULL;
  g_autoptr(GPtrArray) model = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);
  guint sent = 0;

  dp_place_channel_new_pair (&a, &b);
  tc = dp_typed_channel_new_full (DP_CHANNEL (b), 100000);
  for (guint step = 0; step < 4000; step++)
    {
      if (g_rand_int_range (rand, 0, 3) < 2)
        {
          const char *t = types[g_rand_int_range (rand, 0, 4)];
          GVariant *m = t ? g_variant_new ("(su)", t, sent) : g_variant_new_uint32 (sent);

          sent++;
          g_ptr_array_add (model, g_variant_ref_sink (m));
          g_assert_true (dp_place_channel_put (a, m));
        }
      else
        {
          const char *t = types[g_rand_int_range (rand, 0, 4)];
          g_autoptr(GError) error = NULL;
          g_autoptr(GVariant) got = dp_typed_channel_try_get (tc, t, &error);
          GVariant *want = NULL;
          guint i;

          g_assert_no_error (error);
          for (i = 0; i < model->len; i++)
            {
              g_autofree char *mt = dp_typed_channel_dup_message_type (model->pdata[i]);
              if (t == NULL || g_strcmp0 (mt, t) == 0)
                {
                  want = model->pdata[i];
                  break;
                }
            }
          if (want == NULL)
            g_assert_null (got);
          else
            {
              g_assert_nonnull (got);
              g_assert_true (g_variant_equal (got, want));
              g_ptr_array_remove_index (model, i);
            }
        }
    }
  /* the rest, in arrival order */
  for (guint i = 0; i < model->len; i++)
    {
      g_autoptr(GVariant) got = dp_typed_channel_try_get (tc, NULL, NULL);
      g_assert_nonnull (got);
      g_assert_true (g_variant_equal (got, model->pdata[i]));
    }
  g_assert_null (dp_typed_channel_try_get (tc, NULL, NULL));
  g_assert_cmpuint (dp_typed_channel_get_n_held (tc), ==, 0);
  g_object_unref (a);
  g_object_unref (b);
}

/* At most max-held messages held back: a get for a type none of them has
 * then fails with DP_ERROR_LIMIT without reading; taking one makes room */
static void
test_typed_bounds (void)
{
  DpPlaceChannel *a, *b;
  g_autoptr(DpTypedChannel) tc = NULL;
  g_autoptr(GError) error = NULL;

  dp_place_channel_new_pair (&a, &b);
  tc = dp_typed_channel_new_full (DP_CHANNEL (b), 2);
  put_parsed (a, "('x', 1)");
  put_parsed (a, "('x', 2)");
  put_parsed (a, "('x', 3)");
  put_parsed (a, "('y', 1)");

  g_assert_null (dp_typed_channel_get (tc, "y", &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, "max-held 2"));
  g_assert_nonnull (strstr (error->message, "'y'"));
  g_clear_error (&error);
  g_assert_cmpuint (dp_typed_channel_get_n_held (tc), ==, 2);
  /* and so does a try_get */
  g_assert_null (dp_typed_channel_try_get (tc, "y", &error));
  g_assert_error (error, DP_ERROR, DP_ERROR_LIMIT);
  g_clear_error (&error);

  assert_got (dp_typed_channel_get (tc, "x", &error), "('x', 1)");
  g_assert_null (dp_typed_channel_get (tc, "y", &error));   /* held: x2, x3 */
  g_assert_error (error, DP_ERROR, DP_ERROR_LIMIT);
  g_clear_error (&error);
  assert_got (dp_typed_channel_get (tc, NULL, &error), "('x', 2)");
  assert_got (dp_typed_channel_get (tc, "y", &error), "('y', 1)");
  assert_got (dp_typed_channel_get (tc, "x", &error), "('x', 3)");
  g_assert_no_error (error);
  g_object_unref (a);
  g_object_unref (b);
}

typedef struct {
  DpTypedChannel *tc;
  gint            started;
} TypedGetter;

static gpointer
typed_getter_thread (gpointer data)
{
  TypedGetter *g = data;
  g_autoptr(GError) error = NULL;
  GVariant *m;

  g_atomic_int_set (&g->started, 1);
  m = dp_typed_channel_get (g->tc, "want", &error);
  g_assert_no_error (error);
  return m;
}

/* A blocking typed get, over a DpAsyncBiChannel: woken by puts from
 * another thread, it holds back the others and returns the one wanted */
static void
test_typed_blocking (void)
{
  DpAsyncBiChannel *a, *b;
  TypedGetter g = { 0 };
  GThread *t;

  dp_async_bi_channel_new_pair (&a, &b);
  g.tc = dp_typed_channel_new (DP_CHANNEL (b));
  t = g_thread_new ("typed-getter", typed_getter_thread, &g);
  while (!g_atomic_int_get (&g.started))
    g_thread_yield ();
  g_assert_true (dp_async_bi_channel_put (a, g_variant_new_parsed ("['other']"), NULL));
  g_assert_true (dp_async_bi_channel_put (a, g_variant_new_parsed ("('want', <1>)"), NULL));
  assert_got (g_thread_join (t), "('want', <1>)");
  g_assert_cmpuint (dp_typed_channel_get_n_held (g.tc), ==, 1);
  assert_got (dp_typed_channel_get (g.tc, "other", NULL), "['other']");

  /* a close wakes a blocked typed get: NULL, no error */
  g.started = 0;
  t = g_thread_new ("typed-getter", typed_getter_thread, &g);
  while (!g_atomic_int_get (&g.started))
    g_thread_yield ();
  dp_async_bi_channel_close (a);
  g_assert_null (g_thread_join (t));
  g_object_unref (g.tc);
  g_object_unref (a);
  g_object_unref (b);
}

int
main (int argc, char **argv)
{
  dp_test_init (&argc, &argv);

  dp_test_add_func ("/async-bi-channel/order", test_abc_order);
  dp_test_add_func ("/async-bi-channel/blocking-get", test_abc_blocking_get);
  dp_test_add_func ("/async-bi-channel/threads", test_abc_threads);
  dp_test_add_func ("/async-bi-channel/close", test_abc_close);
  dp_test_add_func ("/async-bi-channel/bounds", test_abc_bounds);
  dp_test_add_func ("/async-bi-channel/signals", test_abc_signals);
  dp_test_add_func ("/async-bi-channel/closed-without-handler", test_abc_closed_without_handler);
  dp_test_add_func ("/typed-channel/shapes", test_typed_shapes);
  dp_test_add_func ("/typed-channel/selective", test_typed_selective);
  dp_test_add_func ("/typed-channel/model", test_typed_model);
  dp_test_add_func ("/typed-channel/bounds", test_typed_bounds);
  dp_test_add_func ("/typed-channel/blocking", test_typed_blocking);
  return g_test_run ();
}
