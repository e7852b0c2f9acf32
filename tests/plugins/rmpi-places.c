/* Ranks for tests/test-rmpi.c. Each runs the scenario named by its args
 * (a string) and gives what it saw to dp_rmpi_finish(). */
#include <libdp/libdp.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

DP_PLUGIN_DEFINE ("rmpi-places", "Ranks for libdp's RMPI tests", "1.0", "LGPL-2.1-or-later")

/* non-commutative: concatenation */
static GVariant *
concat (GVariant *a, GVariant *b, gpointer data, GError **error)
{
  g_autofree char *s = g_strconcat (g_variant_get_string (a, NULL), g_variant_get_string (b, NULL), NULL);

  return g_variant_new_string (s);
}

/* Values of the shapes a message envelope must carry as they are (its
 * serialisation is made by hand: see envelope_new() in dp-rmpi.c) */
static GVariant *
odd_value (guint i)
{
  static const guint8 none[1] = { 0 };

  switch (i)
    {
    case 0: return g_variant_new ("()");
    case 1: return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, none, 0, 1);
    case 2: return g_variant_new ("mi", FALSE, 0);
    case 3: return g_variant_new ("v", g_variant_new ("(sd)", "in", 2.5));
    case 4: return g_variant_new ("(ybx)", 7, TRUE, (gint64) -3);
    case 5: return g_variant_new_string ("");
    default: return g_variant_new_parsed ("{'a': <[1, 2]>, 'b': <@ms nothing>}");
    }
}
#define N_ODD 7

/* p2p and collectives interleaved: each rank sends 0..9 to every rank
 * (itself too), runs an allreduce and a barrier, then receives: the p2p
 * messages come in order, none taken by the collectives; then values of
 * odd shapes (odd_value()) to every rank, which come back equal. Result:
 * TRUE. */
static GVariant *
mix (DpRmpiComm *comm, GError **error)
{
  guint id = dp_rmpi_id (comm), n = dp_rmpi_cnt (comm);
  g_autoptr(GVariant) sum = NULL;
  gboolean ok = TRUE;

  for (guint j = 0; j < n; j++)
    for (guint k = 0; k < 10; k++)
      if (!dp_rmpi_send (comm, j, g_variant_new ("(uu)", id, k), error))
        return NULL;
  sum = dp_rmpi_allreduce (comm, DP_RMPI_SUM, g_variant_new_int64 (id), error);
  if (sum == NULL || !dp_rmpi_barrier (comm, error))
    return NULL;
  ok = g_variant_get_int64 (sum) == (gint64) n * (n - 1) / 2;
  for (guint j = 0; j < n; j++)
    for (guint k = 0; k < 10; k++)
      {
        g_autoptr(GVariant) m = dp_rmpi_recv (comm, j, error);
        guint32 from, seq;

        if (m == NULL)
          return NULL;
        g_variant_get (m, "(uu)", &from, &seq);
        ok = ok && from == j && seq == k;
      }
  for (guint j = 0; j < n; j++)
    for (guint k = 0; k < N_ODD; k++)
      if (!dp_rmpi_send (comm, j, odd_value (k), error))
        return NULL;
  for (guint j = 0; j < n; j++)
    for (guint k = 0; k < N_ODD; k++)
      {
        g_autoptr(GVariant) m = dp_rmpi_recv (comm, j, error);
        g_autoptr(GVariant) want = g_variant_ref_sink (odd_value (k));

        if (m == NULL)
          return NULL;
        ok = ok && g_variant_equal (m, want);
      }
  return g_variant_new_boolean (ok);
}

/* reductions: element-wise arrays, doubles, booleans, a user function in
 * rank order at a root that is not 0 and in allreduce */
static GVariant *
reductions (DpRmpiComm *comm, GError **error)
{
  guint id = dp_rmpi_id (comm);
  GVariantBuilder b;
  g_autofree char *digit = g_strdup_printf ("%u", id);
  gint32 arr[3] = { (gint32) id, 1, -(gint32) id };
  GVariant *v;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  v = dp_rmpi_allreduce (comm, DP_RMPI_SUM,
                         g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, arr, 3, sizeof (gint32)), error);
  if (!v) return NULL;
  g_variant_builder_add (&b, "{sv}", "sum-array", v);
  g_variant_unref (v);
  v = dp_rmpi_allreduce (comm, DP_RMPI_MIN, g_variant_new ("(di)", id + 0.5, -(gint32) id), error);
  if (!v) return NULL;
  g_variant_builder_add (&b, "{sv}", "min-tuple", v);
  g_variant_unref (v);
  v = dp_rmpi_allreduce (comm, DP_RMPI_PRODUCT, g_variant_new_double (id + 1.0), error);
  if (!v) return NULL;
  g_variant_builder_add (&b, "{sv}", "product", v);
  g_variant_unref (v);
  v = dp_rmpi_allreduce (comm, DP_RMPI_AND, g_variant_new_boolean (id != 1), error);
  if (!v) return NULL;
  g_variant_builder_add (&b, "{sv}", "and", v);
  g_variant_unref (v);
  v = dp_rmpi_allreduce (comm, DP_RMPI_OR, g_variant_new_boolean (id == 1), error);
  if (!v) return NULL;
  g_variant_builder_add (&b, "{sv}", "or", v);
  g_variant_unref (v);
  v = dp_rmpi_allreduce_full (comm, concat, NULL, g_variant_new_string (digit), error);
  if (!v) return NULL;
  g_variant_builder_add (&b, "{sv}", "concat", v);
  g_variant_unref (v);
  v = dp_rmpi_reduce_full (comm, dp_rmpi_cnt (comm) - 1, concat, NULL, g_variant_new_string (digit), error);
  if (!v) return NULL;
  if (id == dp_rmpi_cnt (comm) - 1)
    g_variant_builder_add (&b, "{sv}", "reduce-last", v);
  g_variant_unref (v);
  v = dp_rmpi_broadcast (comm, dp_rmpi_cnt (comm) / 2,
                         id == dp_rmpi_cnt (comm) / 2 ? g_variant_new_string (digit) : NULL, error);
  if (!v) return NULL;
  g_variant_builder_add (&b, "{sv}", "bcast-mid", v);
  g_variant_unref (v);
  v = dp_rmpi_gather (comm, dp_rmpi_cnt (comm) - 1, g_variant_new_string (digit), error);
  if (!v) return NULL;
  if (id == dp_rmpi_cnt (comm) - 1)
    g_variant_builder_add (&b, "{sv}", "gather-last", v);
  g_variant_unref (v);
  return g_variant_builder_end (&b);
}

/* alltoallv: rank i sends j+1 copies of i to rank j */
static GVariant *
alltoallv (DpRmpiComm *comm, GError **error)
{
  guint id = dp_rmpi_id (comm), n = dp_rmpi_cnt (comm);
  g_autofree guint *counts = g_new (guint, n);
  g_autofree guint *displs = g_new (guint, n);
  g_autofree guint *got = g_new (guint, n);
  GVariantBuilder b;
  guint at = 0;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("au"));
  for (guint j = 0; j < n; j++)
    {
      counts[j] = j + 1;
      displs[j] = at;
      for (guint k = 0; k <= j; k++)
        g_variant_builder_add (&b, "u", id);
      at += j + 1;
    }
  return dp_rmpi_alltoallv (comm, g_variant_builder_end (&b), counts, displs, got, error);
}

/* comm_split with two ranks of one color on one key: an error everywhere */
static GVariant *
split_duplicate (DpRmpiComm *comm, GError **error)
{
  g_autoptr(DpRmpiComm) sub = dp_rmpi_comm_split (comm, 0, dp_rmpi_id (comm) == 2 ? 1 : (gint32) dp_rmpi_id (comm), error);

  if (sub != NULL)
    return g_variant_new_string ("no error");
  {
    GVariant *r = g_variant_new ("(is)", (*error)->code, (*error)->message);
    g_clear_error (error);
    return r;
  }
}

/* a receive with a timeout: rank 0 waits 1 ms for rank 1, which sends
 * only after a barrier that follows — the receive times out, not before
 * its 1 ms (the wait leads the node's router until its deadline); then
 * the value comes */
static GVariant *
timeout (DpRmpiComm *comm, GError **error)
{
  if (dp_rmpi_id (comm) == 0)
    {
      g_autoptr(GError) local = NULL;
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(GVariant) early = dp_rmpi_recv_timeout (comm, 1, 1000, &local);
      gint64 waited = g_get_monotonic_time () - t0;
      g_autoptr(GVariant) late = NULL;
      gboolean timed_out = early == NULL && g_error_matches (local, DP_ERROR, DP_ERROR_TIMED_OUT) &&
                           waited >= 1000;

      if (!dp_rmpi_barrier (comm, error))
        return NULL;
      late = dp_rmpi_recv (comm, 1, error);
      if (late == NULL)
        return NULL;
      return g_variant_new ("(bs)", timed_out, g_variant_get_string (late, NULL));
    }
  if (!dp_rmpi_barrier (comm, error))
    return NULL;
  if (dp_rmpi_id (comm) == 1 && !dp_rmpi_send (comm, 0, g_variant_new_string ("late"), error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

/* "stop:DIR" (/rmpi/lost/heartbeat): after a barrier rank 1 writes DIR/pid
 * ("PID TIME", its monotonic time) and stops its own node (SIGSTOP: its
 * sockets stay open, only the heartbeats stop); every other rank waits
 * for a message from rank 1, writes DIR/rank-N ("CODE TIME MESSAGE") when
 * that fails and ends, as a rank does: its communicator tells the launcher
 * why (rmpi-failed). Rank 1 never ends: the launcher learns of its loss
 * only from its own heartbeats. */
static void
stop_scenario (DpPlaceChannel *ch, DpRmpiComm *comm, const char *dir)
{
  g_autoptr(GError) error = NULL;

  if (!dp_rmpi_barrier (comm, &error))
    return;
  if (dp_rmpi_id (comm) == 1)
    {
      g_autofree char *file = g_build_filename (dir, "pid", NULL);
      g_autofree char *text = g_strdup_printf ("%d %" G_GINT64_FORMAT, (int) getpid (),
                                               g_get_monotonic_time ());

      if (g_file_set_contents (file, text, -1, NULL))
        raise (SIGSTOP);   /* this thread stops before it returns */
    }
  else
    {
      g_autoptr(GVariant) m = dp_rmpi_recv (comm, 1, &error);
      g_autofree char *file = g_strdup_printf ("%s/rank-%u", dir, dp_rmpi_id (comm));
      g_autofree char *text = g_strdup_printf ("%d %" G_GINT64_FORMAT " %s",
                                               m ? -1 : error->code, g_get_monotonic_time (),
                                               m ? "a message came" : error->message);

      g_file_set_contents (file, text, -1, NULL);
    }
}

DP_PLACE_EXPORT void
scenario (DpPlaceChannel *ch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRmpiComm) comm = dp_rmpi_init (ch, &error);
  const char *what;
  GVariant *result = NULL;

  if (comm == NULL)
    return;
  what = g_variant_get_string (dp_rmpi_get_args (comm), NULL);
  if (strcmp (what, "mix") == 0)
    result = mix (comm, &error);
  else if (strcmp (what, "reductions") == 0)
    result = reductions (comm, &error);
  else if (strcmp (what, "alltoallv") == 0)
    result = alltoallv (comm, &error);
  else if (strcmp (what, "split-duplicate") == 0)
    result = split_duplicate (comm, &error);
  else if (strcmp (what, "timeout") == 0)
    result = timeout (comm, &error);
  else if (strcmp (what, "allreduce") == 0)
    {
      /* the sum of one 1 per rank, then the mean time of 10 more
       * allreduces after a barrier (tests/test-netns.c: 64 ranks) */
      g_autoptr(GVariant) sum = dp_rmpi_allreduce (comm, DP_RMPI_SUM, g_variant_new_int32 (1), &error);
      gint64 t0;

      if (sum == NULL || !dp_rmpi_barrier (comm, &error))
        return;
      t0 = g_get_monotonic_time ();
      for (int i = 0; i < 10; i++)
        {
          g_autoptr(GVariant) again = dp_rmpi_allreduce (comm, DP_RMPI_SUM, g_variant_new_int32 (1), &error);

          if (again == NULL)
            return;
        }
      result = g_variant_new ("(@ix)", sum, (g_get_monotonic_time () - t0) / 10);
    }
  else if (g_str_has_prefix (what, "stop:"))
    {
      stop_scenario (ch, comm, what + 5);
      return;
    }
  else if (strcmp (what, "hang") == 0)
    {
      /* the last rank never finishes (/rmpi/launch-timeout) */
      if (!dp_rmpi_barrier (comm, &error))
        return;
      if (dp_rmpi_id (comm) == dp_rmpi_cnt (comm) - 1)
        {
          g_autoptr(GVariant) none = dp_place_channel_get (ch);
          return;
        }
      result = g_variant_new_boolean (TRUE);
    }
  else if (g_str_has_prefix (what, "lose-"))
    {
      /* "lose-exit" / "lose-return": rank 2 goes after the barrier (its
       * node dies / its place returns); the others run an allreduce */
      g_autoptr(GVariant) sum = NULL;

      if (!dp_rmpi_barrier (comm, &error))
        return;
      if (dp_rmpi_id (comm) == 2)
        {
          if (strcmp (what, "lose-exit") == 0)
            _exit (3);
          return;
        }
      sum = dp_rmpi_allreduce (comm, DP_RMPI_SUM, g_variant_new_int32 (1), &error);
      result = sum ? g_variant_ref (sum) : NULL;
    }
  if (result == NULL)
    return;   /* the launcher hears why (the communicator tells it) */
  dp_rmpi_finish (comm, result, NULL);
}

/* ---- map-reduce (tests/test-rmpi.c /map-reduce/...) ---- */

/* an int32 n -> [((n % 3, n % 2), 1), ((n % 3, n % 2), n)]; the task -1
 * ends the worker's node, -2 stops it */
DP_PLACE_EXPORT GVariant *
pair_mapper (GVariant *task, GError **error)
{
  gint32 n = g_variant_get_int32 (task);
  GVariantBuilder b;

  if (n == -2)
    {
      /* the worker's node stops (SIGSTOP): its sockets stay open, only
       * its heartbeats stop; the test (our node's parent) finds its pid in
       * TMPDIR/dp-test-stopped-<the test's pid> */
      g_autofree char *name = g_strdup_printf ("dp-test-stopped-%d", (int) getppid ());
      g_autofree char *file = g_build_filename (g_get_tmp_dir (), name, NULL);
      g_autofree char *text = g_strdup_printf ("%d %" G_GINT64_FORMAT, (int) getpid (),
                                               g_get_monotonic_time ());

      if (g_file_set_contents (file, text, -1, NULL))
        raise (SIGSTOP);   /* this thread stops before it returns */
    }
  if (n < 0)
    _exit (4);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a((ii)i)"));
  g_variant_builder_add (&b, "((ii)i)", n % 3, n % 2, 1);
  g_variant_builder_add (&b, "((ii)i)", n % 3, n % 2, n);
  return g_variant_builder_end (&b);
}

/* the values of a key -> [their sum] */
DP_PLACE_EXPORT GVariant *
sum_reducer (GVariant *key, GVariant *values, GError **error)
{
  GVariantIter iter;
  GVariant *v;
  gint32 sum = 0;

  g_variant_iter_init (&iter, values);
  while (g_variant_iter_next (&iter, "v", &v))
    {
      sum += g_variant_get_int32 (v);
      g_variant_unref (v);
    }
  return g_variant_new_parsed ("[%i]", sum);
}

/* the result -> how many keys */
DP_PLACE_EXPORT GVariant *
count_outputer (GVariant *result, GError **error)
{
  return g_variant_new_uint32 ((guint32) g_variant_n_children (result));
}

/* ---- a host cut off (tests/test-netns.c /netns/link-down) ---- */

/* args "FIRST N DIR": ranks FIRST .. FIRST+N-1 (those on the host to be
 * cut) wait for a message from rank 0 that never comes; every other rank
 * enters an allreduce, which cannot end without them. Once a barrier has
 * passed (every rank wired), rank 0 writes a line to the FIFO DIR/blocked.
 * Each rank whose wait fails appends "ID CODE MONOTONIC-US MESSAGE" to
 * DIR/outcomes (one write each, so that the lines of ranks on many hosts
 * never mix; CODE is -1 outside DP_ERROR) and returns: the launcher hears
 * why from the communicator. */
DP_PLACE_EXPORT void
wait_on_host (DpPlaceChannel *ch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRmpiComm) comm = dp_rmpi_init (ch, &error);
  g_autoptr(GVariant) got = NULL;
  g_autofree char *fifo = NULL;
  g_autofree char *outcomes = NULL;
  g_autofree char *line = NULL;
  const char *args, *dir;
  char *end;
  guint first, n, id;
  int fd;

  if (comm == NULL)
    return;
  id = dp_rmpi_id (comm);
  args = g_variant_get_string (dp_rmpi_get_args (comm), NULL);
  first = (guint) strtoul (args, &end, 10);
  n = (guint) strtoul (end, &end, 10);
  dir = end + 1;
  fifo = g_build_filename (dir, "blocked", NULL);
  outcomes = g_build_filename (dir, "outcomes", NULL);

  if (dp_rmpi_barrier (comm, &error))
    {
      if (id == 0 && (fd = open (fifo, O_WRONLY | O_NONBLOCK)) >= 0)
        {
          if (write (fd, "blocked\n", 8) != 8)
            g_warning ("rank 0: cannot write %s", fifo);
          close (fd);
        }
      if (id >= first && id < first + n)
        got = dp_rmpi_recv (comm, 0, &error);
      else
        got = dp_rmpi_allreduce (comm, DP_RMPI_SUM, g_variant_new_int32 (1), &error);
    }
  if (got != NULL)
    return;   /* not what is tested: the launcher says the rank never finished */
  line = g_strdup_printf ("%u %d %" G_GINT64_FORMAT " %s\n", id,
                          error->domain == DP_ERROR ? error->code : -1,
                          g_get_monotonic_time (), error->message);
  if ((fd = open (outcomes, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) >= 0)
    {
      if (write (fd, line, strlen (line)) != (ssize_t) strlen (line))
        g_warning ("rank %u: cannot write %s", id, outcomes);
      close (fd);
    }
}
