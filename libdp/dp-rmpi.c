/* dp-rmpi.c: RMPI communicators, point to point and collectives
 *
 * A rank is a named place. dp_rmpi_init() gets the launcher's
 * ('rmpi-init', id, cnt, [(host, port, name)], args, config) and wires the
 * ranks: rank i connects to the named place of every rank j > i, makes a
 * pair and puts ('rmpi-hello', i, <reference to one end>) there; rank j
 * redeems it. Every pair of ranks then has its own channel, node to node.
 *
 * Every message between ranks is (ctx, seq, <value>): ctx names the
 * communicator (0 for the world, a hash for those made by comm_split),
 * seq is 0 for point to point and the collective's number otherwise. A
 * receive takes the first message from its source with its tag; others
 * wait in that source's pending queue (bounded). ctx ABORT carries
 * (rank, why) from a rank that failed: whoever gets it fails too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <string.h>

#define CTX_WORLD 0u
#define CTX_ABORT G_MAXUINT32
/* messages that arrived before they were asked for, per rank */
#define MAX_PENDING 65536

typedef struct {
  DpPlaceChannel  *master;     /* leads back to the launcher */
  guint            id, cnt;    /* in the world */
  DpPlaceChannel **peers;      /* [cnt], NULL at id */
  DpPlaceChannel **named;      /* the connections to higher ranks' names */
  GQueue          *pending;    /* [cnt] of (uuv) */
  guint            n_pending;
  GError          *failed;
  GVariant        *args;
  char            *config;
  gint64           timeout_us; /* 0: none */
  gboolean         finished;
  GThread         *owner;      /* the rank's place thread: every call is made there */
} World;

struct _DpRmpiComm
{
  GObject  parent_instance;
  World   *w;
  guint32  ctx;
  guint    id, cnt;
  guint   *ranks;      /* [cnt]: world rank of each member */
  guint32  seq;        /* collectives so far */
};

G_DEFINE_FINAL_TYPE (DpRmpiComm, dp_rmpi_comm, G_TYPE_OBJECT)

typedef struct {
  DpRmpiReduceFunc func;
  gpointer         data;
} Reducer;

static void
world_free (World *w)
{
  /* a rank that ends without finishing tells the launcher why */
  if (!w->finished && w->master)
    dp_place_channel_put (w->master,
                          g_variant_new ("(sus)", "rmpi-failed", w->id,
                                         w->failed ? w->failed->message
                                                   : "the rank ended without rmpi-finish"));
  for (guint i = 0; i < w->cnt; i++)
    {
      if (w->peers[i])
        dp_place_channel_close (w->peers[i]);
      g_clear_object (&w->peers[i]);
      g_clear_object (&w->named[i]);
      g_queue_clear_full (&w->pending[i], (GDestroyNotify) g_variant_unref);
    }
  g_free (w->peers);
  g_free (w->named);
  g_free (w->pending);
  g_clear_object (&w->master);
  g_clear_error (&w->failed);
  g_clear_pointer (&w->args, g_variant_unref);
  g_free (w->config);
}

static void
dp_rmpi_comm_finalize (GObject *object)
{
  DpRmpiComm *self = DP_RMPI_COMM (object);

  g_free (self->ranks);
  g_rc_box_release_full (self->w, (GDestroyNotify) world_free);
  G_OBJECT_CLASS (dp_rmpi_comm_parent_class)->finalize (object);
}

static void
dp_rmpi_comm_class_init (DpRmpiCommClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_rmpi_comm_finalize;
}

static void
dp_rmpi_comm_init (DpRmpiComm *self)
{
}

/* ---- messages between ranks ---- */

/* (ctx, seq, <value>), built and taken apart child by child: no format
 * string to parse on every message of a collective */
static GVariant *
envelope_new (guint32 ctx, guint32 seq, GVariant *value)
{
  GVariant *kids[3] = { g_variant_new_uint32 (ctx), g_variant_new_uint32 (seq),
                        g_variant_new_variant (value) };

  return g_variant_new_tuple (kids, 3);
}

static guint32
envelope_u (GVariant *m, gsize i)
{
  g_autoptr(GVariant) x = g_variant_get_child_value (m, i);

  return g_variant_get_uint32 (x);
}

/* the value inside an envelope (full) */
static GVariant *
envelope_value (GVariant *m)
{
  g_autoptr(GVariant) boxed = g_variant_get_child_value (m, 2);

  return g_variant_get_variant (boxed);
}

/* ---- failure ---- */

/* Records the first failure and tells every other rank (best effort):
 * they fail with the same message. */
static void
fail (DpRmpiComm *self, const GError *why)
{
  World *w = self->w;

  if (w->failed)
    return;
  if (g_error_matches (why, DP_ERROR, DP_ERROR_RANK_LOST))
    w->failed = g_error_copy (why);
  else
    w->failed = g_error_new (DP_ERROR, DP_ERROR_RANK_LOST, "rank %u failed: %s", w->id, why->message);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "rmpi-failed",
                    "MESSAGE", "rank %u: %s", w->id, why->message);
  for (guint i = 0; i < w->cnt; i++)
    if (w->peers[i])
      dp_place_channel_put (w->peers[i],
                            envelope_new (CTX_ABORT, 0u,
                                          g_variant_new ("(us)", w->id, w->failed->message)));
}

static gboolean
check_ok (DpRmpiComm *self, GError **error)
{
  /* immutable after init; the communicator is its place thread's */
  g_assert (self->w->owner == g_thread_self ());
  if (self->w->failed)
    {
      g_propagate_error (error, g_error_copy (self->w->failed));
      return FALSE;
    }
  if (self->w->finished)
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_CLOSED, "rmpi: the communicator is finished");
      return FALSE;
    }
  return TRUE;
}

static void
set_lost (GError **error, guint rank)
{
  g_set_error (error, DP_ERROR, DP_ERROR_RANK_LOST,
               "rank %u was lost: its channel closed (the rank ended or its node died)", rank);
}

/* ---- tagged messages ---- */


static gboolean
send_tagged (DpRmpiComm *self, guint dest, guint32 seq, GVariant *value, GError **error)
{
  World *w = self->w;
  guint world_dest = self->ranks[dest];
  GVariant *msg = envelope_new (self->ctx, seq, value);

  if (world_dest == w->id)
    {
      if (w->n_pending >= MAX_PENDING)
        {
          g_variant_unref (g_variant_ref_sink (msg));
          g_set_error (error, DP_ERROR, DP_ERROR_LIMIT,
                       "rmpi: more than %d messages wait to be received", MAX_PENDING);
          return FALSE;
        }
      g_queue_push_tail (&w->pending[w->id], g_variant_ref_sink (msg));
      w->n_pending++;
      return TRUE;
    }
  if (!dp_place_channel_put (w->peers[world_dest], msg))
    {
      set_lost (error, world_dest);
      return FALSE;
    }
  return TRUE;
}

/* An ABORT message as an error */
static void
set_aborted (GError **error, GVariant *inner)
{
  guint32 from = 0;
  const char *why = "a rank failed";

  if (g_variant_is_of_type (inner, G_VARIANT_TYPE ("(us)")))
    g_variant_get (inner, "(u&s)", &from, &why);
  g_set_error_literal (error, DP_ERROR, DP_ERROR_RANK_LOST, why);
}

static GVariant *
take_pending (World *w, guint src, guint32 ctx, guint32 seq)
{
  for (GList *l = w->pending[src].head; l; l = l->next)
    {
      if (envelope_u (l->data, 0) == ctx && envelope_u (l->data, 1) == seq)
        {
          GVariant *m = l->data;
          GVariant *inner = envelope_value (m);

          g_queue_delete_link (&w->pending[src], l);
          w->n_pending--;
          g_variant_unref (m);
          return inner;
        }
    }
  return NULL;
}

/* While a rank waits for one peer it looks at the other peers' channels
 * every ABORT_CHECK_US for an abort. A rank that sees a loss first tells
 * every other (fail()); one blocked on the lost rank whose own connection
 * to it has not timed out yet (a node holds an accepted connection to a
 * heartbeat timeout only once the peer has sent a heartbeat, so a peer
 * that froze young is noticed by some nodes only) fails with it instead
 * of waiting for the launcher to stop its node. Only a wait that already
 * lasted that long pays for it. */
#define ABORT_CHECK_US (100 * 1000)

/* What the other peers sent meanwhile goes to their pending queues (it
 * would be received from there); an abort among it is the error. */
static gboolean
check_others (World *w, guint world_src, GError **error)
{
  for (guint i = 0; i < w->cnt; i++)
    {
      GVariant *m;

      if (i == world_src || w->peers[i] == NULL)
        continue;
      while (w->n_pending < MAX_PENDING && (m = dp_place_channel_try_get (w->peers[i])) != NULL)
        {
          if (g_variant_is_of_type (m, G_VARIANT_TYPE ("(uuv)")) && envelope_u (m, 0) == CTX_ABORT)
            {
              g_autoptr(GVariant) inner = envelope_value (m);

              set_aborted (error, inner);
              g_variant_unref (m);
              return FALSE;
            }
          g_queue_push_tail (&w->pending[i], m);
          w->n_pending++;
        }
    }
  return TRUE;
}

/* The next message from @src (comm rank) tagged (ctx, seq). @timeout_us:
 * -1 uses the communicator's own timeout. */
static GVariant *
recv_tagged (DpRmpiComm *self, guint src, guint32 seq, gint64 timeout_us, GError **error)
{
  World *w = self->w;
  guint world_src = self->ranks[src];
  GVariant *got;
  gint64 deadline;

  got = take_pending (w, world_src, self->ctx, seq);
  if (got)
    return got;
  if (world_src == w->id)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "rmpi: rank %u receives from itself but sent itself nothing", src);
      return NULL;
    }
  if (timeout_us < 0)
    timeout_us = w->timeout_us;
  deadline = timeout_us > 0 ? g_get_monotonic_time () + timeout_us : 0;
  for (;;)
    {
      g_autoptr(GVariant) m = NULL;
      g_autoptr(GVariant) boxed = NULL;
      guint32 c, s;

      {
        gboolean closed = FALSE;
        gint64 left = deadline ? deadline - g_get_monotonic_time () : ABORT_CHECK_US;

        m = left > 0 ? dp_place_channel_get_timeout (w->peers[world_src], MIN (left, ABORT_CHECK_US),
                                                     &closed)
                     : NULL;
        if (m == NULL && closed)
          {
            set_lost (error, world_src);
            return NULL;
          }
        if (m == NULL && deadline && g_get_monotonic_time () >= deadline)
          {
            g_set_error (error, DP_ERROR, DP_ERROR_TIMED_OUT,
                         "rmpi: nothing from rank %u in %" G_GINT64_FORMAT " us", src, timeout_us);
            return NULL;
          }
        if (m == NULL)
          {
            if (!check_others (w, world_src, error))
              return NULL;
            continue;
          }
      }
      if (!g_variant_is_of_type (m, G_VARIANT_TYPE ("(uuv)")))
        {
          g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                       "rmpi: rank %u sent a message of type %s", world_src,
                       g_variant_get_type_string (m));
          return NULL;
        }
      c = envelope_u (m, 0);
      s = envelope_u (m, 1);
      if (c == CTX_ABORT)
        {
          boxed = envelope_value (m);
          set_aborted (error, boxed);
          return NULL;
        }
      if (c == self->ctx && s == seq)
        return envelope_value (m);
      if (w->n_pending >= MAX_PENDING)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_LIMIT,
                       "rmpi: more than %d messages wait to be received", MAX_PENDING);
          return NULL;
        }
      g_queue_push_tail (&w->pending[world_src], g_steal_pointer (&m));
      w->n_pending++;
    }
}

/* ---- init ---- */

static gboolean
is_cmd (GVariant *m, const char *type, const char *cmd)
{
  const char *s;

  if (!g_variant_is_of_type (m, G_VARIANT_TYPE (type)))
    return FALSE;
  g_variant_get_child (m, 0, "&s", &s);
  return strcmp (s, cmd) == 0;
}

/* The next message on the place's channel that init expects: a hello
 * (stashed in @hellos by source) or the init itself (returned). */
static GVariant *
next_control (DpPlaceChannel *ch, GHashTable *hellos, DpPlaceChannel **reply, GError **error)
{
  for (;;)
    {
      g_autoptr(DpPlaceChannel) from = NULL;
      g_autoptr(GVariant) m = dp_place_channel_get_full (ch, &from);

      if (m == NULL)
        {
          g_set_error_literal (error, DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                               "rmpi: the rank's channel closed before it was wired");
          return NULL;
        }
      if (is_cmd (m, "(suv)", "rmpi-hello"))
        {
          guint32 src;
          GVariant *ref;

          g_variant_get (m, "(&suv)", NULL, &src, &ref);
          g_hash_table_replace (hellos, GUINT_TO_POINTER (src), ref);
          return NULL;
        }
      if (is_cmd (m, "(suua(sqs)vs)", "rmpi-init"))
        {
          *reply = g_steal_pointer (&from);
          return g_steal_pointer (&m);
        }
      if (is_cmd (m, "(sus)", "rmpi-abort"))
        {
          guint32 rank;
          const char *why;

          g_variant_get (m, "(&su&s)", NULL, &rank, &why);
          g_set_error (error, DP_ERROR, DP_ERROR_RANK_LOST, "rank %u was lost: %s", rank, why);
          return NULL;
        }
      {
        g_autofree char *s = g_variant_print (m, FALSE);
        g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                     "rmpi: unexpected message while wiring the ranks: %.200s", s);
      }
      return NULL;
    }
}

/**
 * dp_rmpi_init:
 * @channel: the rank's place channel
 * @error: return location for a #GError
 *
 * The seed's `rmpi-init`: inside a rank started by dp_rmpi_launch(), waits
 * for the launcher's table and opens a direct channel to every other rank.
 * dp_rmpi_get_args() and dp_rmpi_get_config() give what the rank was
 * launched with.
 *
 * Returns: (transfer full) (nullable): the world communicator
 *
 * Since: 1.0
 */
DpRmpiComm *
dp_rmpi_init (DpPlaceChannel *channel,
              GError        **error)
{
  g_autoptr(GHashTable) hellos =
    g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_variant_unref);
  g_autoptr(GVariant) init = NULL;
  g_autoptr(DpPlaceChannel) master = NULL;
  g_autoptr(GVariant) table = NULL;
  g_autoptr(DpRmpiComm) self = NULL;
  GError *local = NULL;
  World *w;
  guint32 id, cnt;

  g_return_val_if_fail (DP_IS_PLACE_CHANNEL (channel), NULL);
  while (init == NULL)
    {
      init = next_control (channel, hellos, &master, &local);
      if (local)
        {
          g_propagate_error (error, local);
          return NULL;
        }
    }
  table = g_variant_get_child_value (init, 3);
  g_variant_get_child (init, 1, "u", &id);
  g_variant_get_child (init, 2, "u", &cnt);
  if (cnt == 0 || id >= cnt || g_variant_n_children (table) != cnt)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "rmpi: rank %u of %u with a table of %" G_GSIZE_FORMAT,
                   id, cnt, g_variant_n_children (table));
      return NULL;
    }

  self = g_object_new (DP_TYPE_RMPI_COMM, NULL);
  w = self->w = g_rc_box_new0 (World);
  w->id = id;
  w->cnt = cnt;
  w->owner = g_thread_self ();
  w->master = g_steal_pointer (&master);
  w->peers = g_new0 (DpPlaceChannel *, cnt);
  w->named = g_new0 (DpPlaceChannel *, cnt);
  w->pending = g_new0 (GQueue, cnt);
  g_variant_get_child (init, 4, "v", &w->args);
  g_variant_get_child (init, 5, "s", &w->config);
  self->ctx = CTX_WORLD;
  self->id = id;
  self->cnt = cnt;
  self->ranks = g_new (guint, cnt);
  for (guint i = 0; i < cnt; i++)
    self->ranks[i] = i;

  /* to every higher rank: a fresh pair, one end sent to its name */
  for (guint j = id + 1; j < cnt; j++)
    {
      const char *host, *name;
      guint16 port;
      DpPlaceChannel *theirs = NULL;
      GVariant *ref;

      g_variant_get_child (table, j, "(&sq&s)", &host, &port, &name);
      w->named[j] = dp_place_channel_connect (channel, host, port, name, &local);
      if (w->named[j] == NULL)
        {
          g_prefix_error (&local, "rmpi: rank %u cannot reach rank %u (%s on %s:%u): ",
                          id, j, name, host, port);
          g_propagate_error (error, local);
          return NULL;
        }
      dp_place_channel_new_pair (&w->peers[j], &theirs);
      ref = dp_place_channel_to_variant (theirs);
      g_object_unref (theirs);
      if (ref == NULL ||
          !dp_place_channel_put (w->named[j], g_variant_new ("(suv)", "rmpi-hello", id, ref)))
        {
          set_lost (error, j);
          return NULL;
        }
    }
  /* from every lower rank: its hello */
  for (guint i = 0; i < id; i++)
    {
      GVariant *ref;

      while ((ref = g_hash_table_lookup (hellos, GUINT_TO_POINTER (i))) == NULL)
        {
          g_autoptr(DpPlaceChannel) ignored = NULL;
          g_autoptr(GVariant) extra = next_control (channel, hellos, &ignored, &local);

          if (local)
            {
              g_propagate_error (error, local);
              return NULL;
            }
          if (extra)
            {
              g_set_error_literal (error, DP_ERROR, DP_ERROR_PROTOCOL, "rmpi: a second rmpi-init");
              return NULL;
            }
        }
      w->peers[i] = dp_place_channel_from_variant (channel, g_variant_ref (ref), &local);
      if (w->peers[i] == NULL)
        {
          g_prefix_error (&local, "rmpi: rank %u cannot take rank %u's channel: ", id, i);
          g_propagate_error (error, local);
          return NULL;
        }
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "rmpi-wired",
                    "MESSAGE", "rank %u of %u wired", id, cnt);
  return g_steal_pointer (&self);
}

/**
 * dp_rmpi_id:
 * @comm: a #DpRmpiComm
 *
 * This rank's id in @comm, from 0 to dp_rmpi_cnt() - 1.
 *
 * Returns: this rank's id in @comm (the seed's `rmpi-id`)
 *
 * Since: 1.0
 */
guint
dp_rmpi_id (DpRmpiComm *comm)
{
  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), 0);
  return comm->id;
}

/**
 * dp_rmpi_cnt:
 * @comm: a #DpRmpiComm
 *
 * The number of ranks in @comm.
 *
 * Returns: how many ranks @comm has (the seed's `rmpi-cnt`)
 *
 * Since: 1.0
 */
guint
dp_rmpi_cnt (DpRmpiComm *comm)
{
  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), 0);
  return comm->cnt;
}

/**
 * dp_rmpi_get_args:
 * @comm: a #DpRmpiComm
 *
 * This rank's arguments, from the `args` of its entry in the launch
 * config.
 *
 * Returns: (transfer none): the rank's `args` from the launch config
 *   (converted from JSON)
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_get_args (DpRmpiComm *comm)
{
  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  return comm->w->args;
}

/**
 * dp_rmpi_get_config:
 * @comm: a #DpRmpiComm
 *
 * The whole launch config, for a rank that reads more of it than its own
 * `args`.
 *
 * Returns: (transfer none): the launch config, as the JSON text the
 *   launcher read
 *
 * Since: 1.0
 */
const char *
dp_rmpi_get_config (DpRmpiComm *comm)
{
  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  return comm->w->config;
}

/**
 * dp_rmpi_set_timeout:
 * @comm: a #DpRmpiComm
 * @timeout_us: microseconds, or 0 for none (the default)
 *
 * Bounds every wait for another rank in every communicator of this rank
 * (a lost rank is noticed without it: its channel closes); a wait that
 * runs out fails with %DP_ERROR_TIMED_OUT.
 *
 * Since: 1.0
 */
void
dp_rmpi_set_timeout (DpRmpiComm *comm,
                     gint64      timeout_us)
{
  g_return_if_fail (DP_IS_RMPI_COMM (comm));
  comm->w->timeout_us = MAX (timeout_us, 0);
}

/* ---- point to point ---- */

/**
 * dp_rmpi_send:
 * @comm: a #DpRmpiComm
 * @dest: a rank of @comm (this rank too)
 * @value: what to send (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-send`: never waits for the receiver (only for room in
 * the channel's bounded queue).
 *
 * Returns: %TRUE if sent; %DP_ERROR_RANK_LOST if @dest is gone
 *
 * Since: 1.0
 */
gboolean
dp_rmpi_send (DpRmpiComm *comm,
              guint       dest,
              GVariant   *value,
              GError    **error)
{
  g_autoptr(GVariant) v = NULL;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  v = g_variant_ref_sink (value);
  if (!check_ok (comm, error))
    return FALSE;
  if (dest >= comm->cnt)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "rmpi: no rank %u in a communicator of %u", dest, comm->cnt);
      return FALSE;
    }
  return send_tagged (comm, dest, 0, v, error);
}

/**
 * dp_rmpi_recv_timeout:
 * @comm: a #DpRmpiComm
 * @src: a rank of @comm
 * @timeout_us: how long to wait, or 0 for the communicator's timeout
 * @error: return location for a #GError
 *
 * Like dp_rmpi_recv(), but a wait that runs out fails with
 * %DP_ERROR_TIMED_OUT (and the communicator stays usable).
 *
 * Returns: (transfer full) (nullable): the value
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_recv_timeout (DpRmpiComm *comm,
                      guint       src,
                      gint64      timeout_us,
                      GError    **error)
{
  GError *local = NULL;
  GVariant *v;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  if (!check_ok (comm, error))
    return NULL;
  if (src >= comm->cnt)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "rmpi: no rank %u in a communicator of %u", src, comm->cnt);
      return NULL;
    }
  v = recv_tagged (comm, src, 0, timeout_us > 0 ? timeout_us : -1, &local);
  if (v == NULL)
    {
      if (g_error_matches (local, DP_ERROR, DP_ERROR_RANK_LOST))
        fail (comm, local);
      g_propagate_error (error, local);
    }
  return v;
}

/**
 * dp_rmpi_recv:
 * @comm: a #DpRmpiComm
 * @src: a rank of @comm (this rank too, for what it sent itself)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-recv`: the next value @src sent this rank with
 * dp_rmpi_send(), in order.
 *
 * Returns: (transfer full) (nullable): the value, or %NULL with
 *   %DP_ERROR_RANK_LOST when @src is gone
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_recv (DpRmpiComm *comm,
              guint       src,
              GError    **error)
{
  return dp_rmpi_recv_timeout (comm, src, 0, error);
}

/* ---- reductions ---- */

#define NUM_OP(T, a, b, op) \
  ((op) == DP_RMPI_SUM ? (T) ((a) + (b)) : \
   (op) == DP_RMPI_PRODUCT ? (T) ((a) * (b)) : \
   (op) == DP_RMPI_MIN ? ((a) < (b) ? (a) : (b)) : \
   (op) == DP_RMPI_MAX ? ((a) > (b) ? (a) : (b)) : \
   (op) == DP_RMPI_AND ? (T) ((a) != 0 && (b) != 0) : \
   (T) ((a) != 0 || (b) != 0))

/* signed sums and products wrap (computed unsigned) */
#define INT_OP(T, U, a, b, op) \
  ((op) == DP_RMPI_SUM ? (T) ((U) (a) + (U) (b)) : \
   (op) == DP_RMPI_PRODUCT ? (T) ((U) (a) * (U) (b)) : NUM_OP (T, a, b, op))

/**
 * dp_rmpi_reduce_values:
 * @op: a built-in reduction
 * @a: a value
 * @b: a value of the same type
 * @error: return location for a #GError
 *
 * Applies @op to two values as the collectives do: numbers of one type
 * (y n q i u x t d, and b), element by element through arrays, tuples
 * and variants of the same shape.
 *
 * Returns: (transfer full) (nullable): the result; %DP_ERROR_INVALID_ARGUMENT
 *   for other types, or shapes that differ
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_reduce_values (DpRmpiOp   op,
                       GVariant  *a,
                       GVariant  *b,
                       GError   **error)
{
  const GVariantType *t = g_variant_get_type (a);

  if (!g_variant_type_equal (t, g_variant_get_type (b)))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "rmpi: cannot reduce a %s with a %s",
                   g_variant_get_type_string (a), g_variant_get_type_string (b));
      return NULL;
    }
  switch (g_variant_classify (a))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      {
        gboolean x = g_variant_get_boolean (a), y = g_variant_get_boolean (b);
        gboolean r;
        switch (op)
          {
          case DP_RMPI_SUM: case DP_RMPI_MAX: case DP_RMPI_OR: r = x || y; break;
          default: r = x && y; break;
          }
        return g_variant_ref_sink (g_variant_new_boolean (r));
      }
    case G_VARIANT_CLASS_BYTE:
      return g_variant_ref_sink (g_variant_new_byte (NUM_OP (guint8, g_variant_get_byte (a), g_variant_get_byte (b), op)));
    case G_VARIANT_CLASS_INT16:
      return g_variant_ref_sink (g_variant_new_int16 (INT_OP (gint16, guint16, g_variant_get_int16 (a), g_variant_get_int16 (b), op)));
    case G_VARIANT_CLASS_UINT16:
      return g_variant_ref_sink (g_variant_new_uint16 (NUM_OP (guint16, g_variant_get_uint16 (a), g_variant_get_uint16 (b), op)));
    case G_VARIANT_CLASS_INT32:
      return g_variant_ref_sink (g_variant_new_int32 (INT_OP (gint32, guint32, g_variant_get_int32 (a), g_variant_get_int32 (b), op)));
    case G_VARIANT_CLASS_UINT32:
      return g_variant_ref_sink (g_variant_new_uint32 (NUM_OP (guint32, g_variant_get_uint32 (a), g_variant_get_uint32 (b), op)));
    case G_VARIANT_CLASS_INT64:
      return g_variant_ref_sink (g_variant_new_int64 (INT_OP (gint64, guint64, g_variant_get_int64 (a), g_variant_get_int64 (b), op)));
    case G_VARIANT_CLASS_UINT64:
      return g_variant_ref_sink (g_variant_new_uint64 (NUM_OP (guint64, g_variant_get_uint64 (a), g_variant_get_uint64 (b), op)));
    case G_VARIANT_CLASS_DOUBLE:
      return g_variant_ref_sink (g_variant_new_double (NUM_OP (gdouble, g_variant_get_double (a), g_variant_get_double (b), op)));
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) x = g_variant_get_variant (a);
        g_autoptr(GVariant) y = g_variant_get_variant (b);
        GVariant *r = dp_rmpi_reduce_values (op, x, y, error);
        GVariant *boxed;

        if (r == NULL)
          return NULL;
        boxed = g_variant_ref_sink (g_variant_new_variant (r));
        g_variant_unref (r);
        return boxed;
      }
    case G_VARIANT_CLASS_ARRAY:
    case G_VARIANT_CLASS_TUPLE:
      {
        gsize n = g_variant_n_children (a);
        g_autoptr(GPtrArray) kids = NULL;

        if (n != g_variant_n_children (b))
          {
            g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                         "rmpi: cannot reduce arrays of %" G_GSIZE_FORMAT " and %" G_GSIZE_FORMAT " elements",
                         n, g_variant_n_children (b));
            return NULL;
          }
        if (n == 0)
          return g_variant_ref (a);
        kids = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
        for (gsize i = 0; i < n; i++)
          {
            g_autoptr(GVariant) x = g_variant_get_child_value (a, i);
            g_autoptr(GVariant) y = g_variant_get_child_value (b, i);
            GVariant *r = dp_rmpi_reduce_values (op, x, y, error);

            if (r == NULL)
              return NULL;
            g_ptr_array_add (kids, r);
          }
        if (g_variant_classify (a) == G_VARIANT_CLASS_TUPLE)
          return g_variant_ref_sink (g_variant_new_tuple ((GVariant **) kids->pdata, n));
        return g_variant_ref_sink (g_variant_new_array (g_variant_type_element (t),
                                                        (GVariant **) kids->pdata, n));
      }
    default:
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "rmpi: cannot reduce a value of type %s (numbers, booleans and arrays "
                   "or tuples of them only)", g_variant_get_type_string (a));
      return NULL;
    }
}

static GVariant *
builtin_reduce (GVariant *a, GVariant *b, gpointer data, GError **error)
{
  return dp_rmpi_reduce_values ((DpRmpiOp) GPOINTER_TO_INT (data), a, b, error);
}

/* f(lower, upper), sunk */
static GVariant *
combine (const Reducer *r, GVariant *lower, GVariant *upper, GError **error)
{
  GVariant *v = r->func (lower, upper, r->data, error);

  if (v == NULL && error && *error == NULL)
    g_set_error_literal (error, DP_ERROR, DP_ERROR_FAILED, "rmpi: the reduction returned nothing");
  return v ? g_variant_ref_sink (v) : NULL;
}

/* ---- collectives ---- */

/* The start of a collective: its number, after checking the communicator */
static gboolean
begin (DpRmpiComm *self, guint root, guint32 *seq, GError **error)
{
  if (!check_ok (self, error))
    return FALSE;
  if (root >= self->cnt)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "rmpi: no rank %u in a communicator of %u", root, self->cnt);
      return FALSE;
    }
  *seq = ++self->seq;
  return TRUE;
}

/* An error inside a collective: fail the world (tell the others) */
static void
collective_failed (DpRmpiComm *self, GError **error, GError *local)
{
  fail (self, local);
  g_propagate_error (error, local);
}

/* binomial broadcast from @root; @v owned (NULL except at the root) */
static GVariant *
bcast (DpRmpiComm *self, guint root, guint32 seq, GVariant *v, GError **error)
{
  guint n = self->cnt, rel = (self->id + n - root) % n;
  guint mask = 1;

  while (mask < n)
    {
      if (rel & mask)
        {
          v = recv_tagged (self, (rel - mask + root) % n, seq, -1, error);
          if (v == NULL)
            return NULL;
          break;
        }
      mask <<= 1;
    }
  mask >>= 1;
  while (mask > 0)
    {
      if (rel + mask < n && !send_tagged (self, (rel + mask + root) % n, seq, v, error))
        {
          g_variant_unref (v);
          return NULL;
        }
      mask >>= 1;
    }
  return v;
}

/**
 * dp_rmpi_broadcast:
 * @comm: a #DpRmpiComm
 * @root: the rank whose value everybody gets
 * @value: (nullable): the value at @root (ignored elsewhere; a floating
 *   reference is sunk)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-broadcast`, as a binomial tree (⌈log₂ cnt⌉ steps).
 *
 * Returns: (transfer full) (nullable): @root's value, on every rank
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_broadcast (DpRmpiComm *comm,
                   guint       root,
                   GVariant   *value,
                   GError    **error)
{
  g_autoptr(GVariant) mine = value ? g_variant_ref_sink (value) : NULL;
  GError *local = NULL;
  guint32 seq;
  GVariant *v;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  if (!begin (comm, root, &seq, error))
    return NULL;
  if (comm->id == root && mine == NULL)
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                           "rmpi: the root of a broadcast has no value");
      return NULL;
    }
  v = bcast (comm, root, seq, comm->id == root ? g_variant_ref (mine) : NULL, &local);
  if (v == NULL)
    collective_failed (comm, error, local);
  return v;
}

/* reduce to rank 0 in rank order; @acc owned; returns the subtree's value */
static GVariant *
reduce0 (DpRmpiComm *self, guint32 seq, const Reducer *r, GVariant *acc, gboolean *sent,
         GError **error)
{
  guint n = self->cnt, id = self->id;

  *sent = FALSE;
  for (guint mask = 1; mask < n; mask <<= 1)
    {
      if (id & mask)
        {
          if (!send_tagged (self, id - mask, seq, acc, error))
            {
              g_variant_unref (acc);
              return NULL;
            }
          *sent = TRUE;
          return acc;
        }
      if (id + mask < n)
        {
          g_autoptr(GVariant) x = recv_tagged (self, id + mask, seq, -1, error);
          GVariant *next;

          if (x == NULL)
            {
              g_variant_unref (acc);
              return NULL;
            }
          next = combine (r, acc, x, error);
          g_variant_unref (acc);
          if (next == NULL)
            return NULL;
          acc = next;
        }
    }
  return acc;
}

static GVariant *
reduce_impl (DpRmpiComm *comm, guint root, const Reducer *r, GVariant *value, GError **error)
{
  g_autoptr(GVariant) mine = g_variant_ref_sink (value);
  GError *local = NULL;
  gboolean sent;
  guint32 seq;
  GVariant *v;

  if (!begin (comm, root, &seq, error))
    return NULL;
  v = reduce0 (comm, seq, r, g_variant_ref (mine), &sent, &local);
  if (v && root != 0)
    {
      /* the total goes from 0 to the root */
      if (comm->id == 0)
        {
          if (!send_tagged (comm, root, seq, v, &local))
            g_clear_pointer (&v, g_variant_unref);
        }
      else if (comm->id == root)
        {
          g_variant_unref (v);
          v = recv_tagged (comm, 0, seq, -1, &local);
        }
    }
  if (v == NULL)
    collective_failed (comm, error, local);
  return v;
}

/**
 * dp_rmpi_reduce:
 * @comm: a #DpRmpiComm
 * @root: the rank that gets the total
 * @op: a built-in reduction
 * @value: this rank's value (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-reduce`: a binomial tree combining in rank order.
 * Other ranks than @root get the value of their subtree, as the seed's do.
 *
 * Returns: (transfer full) (nullable): the total at @root
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_reduce (DpRmpiComm *comm,
                guint       root,
                DpRmpiOp    op,
                GVariant   *value,
                GError    **error)
{
  Reducer r = { builtin_reduce, GINT_TO_POINTER (op) };

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  g_return_val_if_fail (value != NULL, NULL);
  return reduce_impl (comm, root, &r, value, error);
}

/**
 * dp_rmpi_reduce_full:
 * @comm: a #DpRmpiComm
 * @root: the rank that gets the total
 * @func: (scope call): an associative reduction
 * @user_data: for @func
 * @value: this rank's value (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * dp_rmpi_reduce() with a function of the caller's.
 *
 * Returns: (transfer full) (nullable): the total at @root
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_reduce_full (DpRmpiComm       *comm,
                     guint             root,
                     DpRmpiReduceFunc  func,
                     gpointer          user_data,
                     GVariant         *value,
                     GError          **error)
{
  Reducer r = { func, user_data };

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  g_return_val_if_fail (func != NULL && value != NULL, NULL);
  return reduce_impl (comm, root, &r, value, error);
}

/* Up to DIRECT_MAX ranks the barrier takes one round: every rank tells
 * every other (all sends posted first) and waits for them all: a critical
 * path of one message instead of ⌈log₂ p⌉, for p - 1 messages per rank
 * instead of ⌈log₂ p⌉. Measured with 4 ranks (W5, 24 runs alternating with
 * the dissemination barrier on a loaded 2-core machine): faster in 19, the
 * median 303 µs against 478 µs. The same one-round scheme for a small
 * allreduce was faster in only 8 of those runs (435 µs against 388 µs for
 * recursive doubling), so the allreduce keeps recursive doubling. */
#define DIRECT_MAX   4

static gboolean
use_direct (DpRmpiComm *comm)
{
  return comm->cnt > 1 && comm->cnt <= DIRECT_MAX;
}

/* sends @v to every other rank, then takes one message from each (in[i],
 * in[id] = @v); @in has cnt slots */
static gboolean
exchange_all (DpRmpiComm *comm, guint32 seq, GVariant *v, GVariant **in, GError **error)
{
  guint n = comm->cnt, id = comm->id;

  for (guint i = 1; i < n; i++)
    if (!send_tagged (comm, (id + i) % n, seq, v, error))
      return FALSE;
  in[id] = g_variant_ref (v);
  for (guint i = 1; i < n; i++)
    {
      guint src = (id + n - i) % n;

      in[src] = recv_tagged (comm, src, seq, -1, error);
      if (in[src] == NULL)
        return FALSE;
    }
  return TRUE;
}

/* recursive doubling; ranks beyond the largest power of two first fold
 * into a partner (even into odd), and get the total back at the end */
static GVariant *
allreduce_impl (DpRmpiComm *comm, const Reducer *r, GVariant *value, GError **error)
{
  g_autoptr(GVariant) acc = g_variant_ref_sink (value);
  GError *local = NULL;
  guint n = comm->cnt, id = comm->id, pof2 = 1, rem;
  gint newrank;
  guint32 seq;

  if (!begin (comm, 0, &seq, error))
    return NULL;
  while (pof2 * 2 <= n)
    pof2 *= 2;
  rem = n - pof2;
  if (id < 2 * rem)
    {
      if (id % 2 == 0)
        {
          if (!send_tagged (comm, id + 1, seq, acc, &local))
            goto failed;
          newrank = -1;
        }
      else
        {
          g_autoptr(GVariant) x = recv_tagged (comm, id - 1, seq, -1, &local);
          GVariant *next;

          if (x == NULL || (next = combine (r, x, acc, &local)) == NULL)
            goto failed;
          g_variant_unref (acc);
          acc = next;
          newrank = (gint) (id / 2);
        }
    }
  else
    newrank = (gint) (id - rem);

  if (newrank >= 0)
    for (guint mask = 1; mask < pof2; mask <<= 1)
      {
        guint newdst = (guint) newrank ^ mask;
        guint dst = newdst < rem ? newdst * 2 + 1 : newdst + rem;
        g_autoptr(GVariant) x = NULL;
        GVariant *next;

        if (!send_tagged (comm, dst, seq, acc, &local) ||
            (x = recv_tagged (comm, dst, seq, -1, &local)) == NULL)
          goto failed;
        next = dst < id ? combine (r, x, acc, &local) : combine (r, acc, x, &local);
        if (next == NULL)
          goto failed;
        g_variant_unref (acc);
        acc = next;
      }

  if (id < 2 * rem)
    {
      if (id % 2 == 0)
        {
          g_variant_unref (acc);
          acc = recv_tagged (comm, id + 1, seq, -1, &local);
          if (acc == NULL)
            goto failed;
        }
      else if (!send_tagged (comm, id - 1, seq, acc, &local))
        goto failed;
    }
  return g_steal_pointer (&acc);

failed:
  collective_failed (comm, error, local);
  return NULL;
}

/**
 * dp_rmpi_allreduce:
 * @comm: a #DpRmpiComm
 * @op: a built-in reduction
 * @value: this rank's value (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-allreduce`, by recursive doubling: ⌊log₂ cnt⌋ exchange
 * steps, plus two when cnt is not a power of two.
 *
 * Returns: (transfer full) (nullable): the total, on every rank
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_allreduce (DpRmpiComm *comm,
                   DpRmpiOp    op,
                   GVariant   *value,
                   GError    **error)
{
  Reducer r = { builtin_reduce, GINT_TO_POINTER (op) };

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  g_return_val_if_fail (value != NULL, NULL);
  return allreduce_impl (comm, &r, value, error);
}

/**
 * dp_rmpi_allreduce_full:
 * @comm: a #DpRmpiComm
 * @func: (scope call): an associative reduction
 * @user_data: for @func
 * @value: this rank's value (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * dp_rmpi_allreduce() with a function of the caller's.
 *
 * Returns: (transfer full) (nullable): the total, on every rank
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_allreduce_full (DpRmpiComm       *comm,
                        DpRmpiReduceFunc  func,
                        gpointer          user_data,
                        GVariant         *value,
                        GError          **error)
{
  Reducer r = { func, user_data };

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  g_return_val_if_fail (func != NULL && value != NULL, NULL);
  return allreduce_impl (comm, &r, value, error);
}

/**
 * dp_rmpi_barrier:
 * @comm: a #DpRmpiComm
 * @error: return location for a #GError
 *
 * The seed's `rmpi-barrier`, as a dissemination barrier: ⌈log₂ cnt⌉
 * rounds, in round k each rank tells rank id+2^k and waits for id−2^k.
 * With at most 4 ranks, one round: each tells every other and waits for
 * them all.
 *
 * Returns: %TRUE once every rank has entered the barrier
 *
 * Since: 1.0
 */
gboolean
dp_rmpi_barrier (DpRmpiComm *comm,
                 GError    **error)
{
  GError *local = NULL;
  guint n, id;
  guint32 seq;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), FALSE);
  if (!begin (comm, 0, &seq, error))
    return FALSE;
  n = comm->cnt;
  id = comm->id;
  if (use_direct (comm))
    {
      g_autofree GVariant **in = g_new0 (GVariant *, n);
      g_autoptr(GVariant) token = g_variant_ref_sink (g_variant_new_uint32 (0));
      gboolean ok = exchange_all (comm, seq, token, in, &local);

      for (guint i = 0; i < n; i++)
        g_clear_pointer (&in[i], g_variant_unref);
      if (!ok)
        {
          collective_failed (comm, error, local);
          return FALSE;
        }
      return TRUE;
    }
  for (guint k = 1; k < n; k <<= 1)
    {
      g_autoptr(GVariant) x = NULL;

      if (!send_tagged (comm, (id + k) % n, seq, g_variant_new_uint32 (k), &local) ||
          (x = recv_tagged (comm, (id + n - k) % n, seq, -1, &local)) == NULL)
        {
          collective_failed (comm, error, local);
          return FALSE;
        }
    }
  return TRUE;
}

static GVariant *
new_av (GPtrArray *values)
{
  g_autoptr(GPtrArray) boxed = g_ptr_array_new ();

  for (guint i = 0; i < values->len; i++)
    g_ptr_array_add (boxed, g_variant_new_variant (values->pdata[i]));
  return g_variant_new_array (G_VARIANT_TYPE_VARIANT, (GVariant **) boxed->pdata, boxed->len);
}

/* binomial gather to @root: the root gets every value, in rank order */
static GVariant *
gather_impl (DpRmpiComm *comm, guint root, guint32 seq, GVariant *value, GError **error)
{
  guint n = comm->cnt, rel = (comm->id + n - root) % n;
  g_autoptr(GPtrArray) block = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(GPtrArray) ordered = NULL;

  g_ptr_array_add (block, g_variant_ref (value));
  for (guint mask = 1; mask < n; mask <<= 1)
    {
      if (rel & mask)
        {
          if (!send_tagged (comm, (rel - mask + root) % n, seq, new_av (block), error))
            return NULL;
          return g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0));
        }
      if (rel + mask < n)
        {
          g_autoptr(GVariant) x = recv_tagged (comm, (rel + mask + root) % n, seq, -1, error);
          GVariantIter iter;
          GVariant *item;

          if (x == NULL)
            return NULL;
          if (!g_variant_is_of_type (x, G_VARIANT_TYPE ("av")))
            {
              g_set_error_literal (error, DP_ERROR, DP_ERROR_PROTOCOL, "rmpi: a gather block is not an av");
              return NULL;
            }
          g_variant_iter_init (&iter, x);
          while (g_variant_iter_next (&iter, "v", &item))
            g_ptr_array_add (block, item);
        }
    }
  if (block->len != n)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL, "rmpi: gathered %u values of %u", block->len, n);
      return NULL;
    }
  ordered = g_ptr_array_new ();
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (ordered, block->pdata[(i + n - root) % n]);
  return g_variant_ref_sink (new_av (ordered));
}

/**
 * dp_rmpi_gather:
 * @comm: a #DpRmpiComm
 * @root: the rank that gets every value
 * @value: this rank's value (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-gather`, as a binomial tree.
 *
 * Returns: (transfer full) (nullable): at @root, an `av` of every rank's
 *   value in rank order; elsewhere an empty `av`
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_gather (DpRmpiComm *comm,
                guint       root,
                GVariant   *value,
                GError    **error)
{
  g_autoptr(GVariant) mine = g_variant_ref_sink (value);
  GError *local = NULL;
  guint32 seq;
  GVariant *v;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  if (!begin (comm, root, &seq, error))
    return NULL;
  v = gather_impl (comm, root, seq, mine, &local);
  if (v == NULL)
    collective_failed (comm, error, local);
  return v;
}

/**
 * dp_rmpi_allgather:
 * @comm: a #DpRmpiComm
 * @value: this rank's value (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-allgather`: a gather to rank 0 and a broadcast.
 *
 * Returns: (transfer full) (nullable): an `av` of every rank's value in
 *   rank order, on every rank
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_allgather (DpRmpiComm *comm,
                   GVariant   *value,
                   GError    **error)
{
  g_autoptr(GVariant) mine = g_variant_ref_sink (value);
  GError *local = NULL;
  guint32 seq;
  GVariant *v;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  if (!begin (comm, 0, &seq, error))
    return NULL;
  v = gather_impl (comm, 0, seq, mine, &local);
  if (v != NULL)
    {
      if (comm->id != 0)
        g_clear_pointer (&v, g_variant_unref);
      v = bcast (comm, 0, seq, v, &local);
    }
  if (v == NULL)
    collective_failed (comm, error, local);
  return v;
}

/* every rank sends @out[j] to j: in[j] = what j sent here */
static GVariant *
alltoall_impl (DpRmpiComm *comm, guint32 seq, GVariant *out, GError **error)
{
  guint n = comm->cnt, id = comm->id;
  g_autoptr(GPtrArray) in = g_ptr_array_new_full (n, (GDestroyNotify) g_variant_unref);

  for (guint i = 1; i < n; i++)
    {
      guint dst = (id + i) % n;
      g_autoptr(GVariant) item = g_variant_get_child_value (out, dst);

      if (!send_tagged (comm, dst, seq, item, error))
        return NULL;
    }
  g_ptr_array_set_size (in, n);
  in->pdata[id] = g_variant_get_child_value (out, id);
  for (guint i = 1; i < n; i++)
    {
      guint src = (id + n - i) % n;

      in->pdata[src] = recv_tagged (comm, src, seq, -1, error);
      if (in->pdata[src] == NULL)
        return NULL;
    }
  return g_variant_ref_sink (new_av (in));
}

/**
 * dp_rmpi_alltoall:
 * @comm: a #DpRmpiComm
 * @values: an array (or tuple) of dp_rmpi_cnt() values: element j goes to
 *   rank j (a floating reference is sunk)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-alltoall`: each rank sends directly to each other.
 *
 * Returns: (transfer full) (nullable): an `av` whose element j is what
 *   rank j sent this rank
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_alltoall (DpRmpiComm *comm,
                  GVariant   *values,
                  GError    **error)
{
  g_autoptr(GVariant) out = g_variant_ref_sink (values);
  GError *local = NULL;
  guint32 seq;
  GVariant *v;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  if (!begin (comm, 0, &seq, error))
    return NULL;
  if (!g_variant_is_container (out) || g_variant_n_children (out) != comm->cnt)
    {
      local = g_error_new (DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                           "rmpi: alltoall needs an array of %u values, got a %s", comm->cnt,
                           g_variant_get_type_string (out));
      collective_failed (comm, error, local);
      return NULL;
    }
  v = alltoall_impl (comm, seq, out, &local);
  if (v == NULL)
    collective_failed (comm, error, local);
  return v;
}

/**
 * dp_rmpi_alltoallv:
 * @comm: a #DpRmpiComm
 * @values: an array (a floating reference is sunk)
 * @send_counts: (array): for each rank, how many elements go to it
 * @send_displs: (array): for each rank, where its elements start in @values
 * @recv_counts: (out caller-allocates) (array) (optional): set to how many
 *   elements came from each rank
 * @error: return location for a #GError
 *
 * The seed's `rmpi-alltoallv`.
 *
 * Returns: (transfer full) (nullable): an array of @values' type: what
 *   every rank sent this one, in rank order
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_alltoallv (DpRmpiComm  *comm,
                   GVariant    *values,
                   const guint *send_counts,
                   const guint *send_displs,
                   guint       *recv_counts,
                   GError     **error)
{
  g_autoptr(GVariant) out = g_variant_ref_sink (values);
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_autoptr(GVariant) blocks = NULL;
  g_autoptr(GVariant) in = NULL;
  GVariantBuilder b;
  GError *local = NULL;
  gsize len;
  guint32 seq;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  g_return_val_if_fail (send_counts != NULL && send_displs != NULL, NULL);
  if (!begin (comm, 0, &seq, error))
    return NULL;
  len = g_variant_is_of_type (out, G_VARIANT_TYPE_ARRAY) ? g_variant_n_children (out) : 0;
  for (guint j = 0; j < comm->cnt; j++)
    if (!g_variant_is_of_type (out, G_VARIANT_TYPE_ARRAY) ||
        (gsize) send_displs[j] + send_counts[j] > len)
      {
        local = g_error_new (DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                             "rmpi: alltoallv: elements %u..%u for rank %u are outside the array",
                             send_displs[j], send_displs[j] + send_counts[j], j);
        collective_failed (comm, error, local);
        return NULL;
      }
  for (guint j = 0; j < comm->cnt; j++)
    {
      GVariantBuilder part;

      g_variant_builder_init (&part, g_variant_get_type (out));
      for (guint k = 0; k < send_counts[j]; k++)
        g_variant_builder_add_value (&part, g_variant_get_child_value (out, send_displs[j] + k));
      g_ptr_array_add (parts, g_variant_builder_end (&part));
    }
  blocks = g_variant_ref_sink (g_variant_new_tuple ((GVariant **) parts->pdata, parts->len));
  in = alltoall_impl (comm, seq, blocks, &local);
  if (in == NULL)
    {
      collective_failed (comm, error, local);
      return NULL;
    }
  g_variant_builder_init (&b, g_variant_get_type (out));
  for (guint j = 0; j < comm->cnt; j++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (in, j);
      g_autoptr(GVariant) part = g_variant_get_variant (boxed);
      gsize m = g_variant_is_of_type (part, g_variant_get_type (out)) ? g_variant_n_children (part) : 0;

      for (gsize k = 0; k < m; k++)
        g_variant_builder_add_value (&b, g_variant_get_child_value (part, k));
      if (recv_counts)
        recv_counts[j] = (guint) m;
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/**
 * dp_rmpi_partition:
 * @comm: a #DpRmpiComm
 * @n: how many items
 * @offset: (out): where this rank's share starts
 * @length: (out): how many items it has
 *
 * The seed's `rmpi-partition`: @n items in dp_rmpi_cnt() contiguous
 * shares, the first n mod cnt ranks one item more.
 *
 * Since: 1.0
 */
void
dp_rmpi_partition (DpRmpiComm *comm,
                   guint64     n,
                   guint64    *offset,
                   guint64    *length)
{
  guint64 q, r;

  g_return_if_fail (DP_IS_RMPI_COMM (comm));
  q = n / comm->cnt;
  r = n % comm->cnt;
  *offset = comm->id * q + MIN ((guint64) comm->id, r);
  *length = q + (comm->id < r ? 1 : 0);
}

typedef struct {
  gint32 color, key;
  guint  rank;
} Member;

static gint
by_key (gconstpointer a, gconstpointer b)
{
  const Member *x = a, *y = b;

  return x->key != y->key ? (x->key < y->key ? -1 : 1) : (x->rank < y->rank ? -1 : x->rank > y->rank);
}

/**
 * dp_rmpi_comm_split:
 * @comm: a #DpRmpiComm
 * @color: the group this rank joins
 * @key: its place in the group: the members are numbered in the order of
 *   their keys (0 .. m-1 gives each its key, as in the seed)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-comm-split`: every rank of @comm calls it; the ranks
 * with the same @color form a new communicator over the same channels
 * (its messages never mix with @comm's). Two ranks of one color with the
 * same key are an error (%DP_ERROR_INVALID_ARGUMENT, naming both) on every
 * rank.
 *
 * Returns: (transfer full) (nullable): this rank's new communicator
 *
 * Since: 1.0
 */
DpRmpiComm *
dp_rmpi_comm_split (DpRmpiComm *comm,
                    gint32      color,
                    gint32      key,
                    GError    **error)
{
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GArray) group = g_array_new (FALSE, FALSE, sizeof (Member));
  DpRmpiComm *sub;
  guint32 seq;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), NULL);
  seq = comm->seq + 1;
  all = dp_rmpi_allgather (comm, g_variant_new ("(ii)", color, key), error);
  if (all == NULL)
    return NULL;
  for (guint i = 0; i < comm->cnt; i++)
    {
      Member m = { 0, 0, i };

      {
        g_autoptr(GVariant) boxed = g_variant_get_child_value (all, i);
        g_autoptr(GVariant) pair = g_variant_get_variant (boxed);
        g_variant_get (pair, "(ii)", &m.color, &m.key);
      }
      if (m.color == color)
        g_array_append_val (group, m);
    }
  g_array_sort (group, by_key);
  for (guint i = 1; i < group->len; i++)
    {
      Member *a = &g_array_index (group, Member, i - 1), *b = &g_array_index (group, Member, i);

      if (a->key == b->key)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "rmpi: comm_split: ranks %u and %u both have color %d and key %d",
                       a->rank, b->rank, color, a->key);
          return NULL;
        }
    }
  sub = g_object_new (DP_TYPE_RMPI_COMM, NULL);
  sub->w = g_rc_box_acquire (comm->w);
  sub->cnt = group->len;
  sub->ranks = g_new (guint, group->len);
  for (guint i = 0; i < group->len; i++)
    {
      Member *m = &g_array_index (group, Member, i);

      sub->ranks[i] = comm->ranks[m->rank];
      if (m->rank == comm->id)
        sub->id = i;
    }
  /* the same on every member: the parent, the split's number, the color */
  sub->ctx = (comm->ctx * 0x9E3779B1u) ^ (seq * 0x85EBCA77u) ^ ((guint32) color * 0xC2B2AE3Du);
  sub->ctx = (sub->ctx ^ (sub->ctx >> 15)) * 0x2C1B3C6Du;
  if (sub->ctx == CTX_WORLD || sub->ctx == CTX_ABORT)
    sub->ctx = 1;
  return sub;
}

/**
 * dp_rmpi_finish:
 * @comm: the world communicator from dp_rmpi_init()
 * @result: (nullable): what this rank tells the launcher (a floating
 *   reference is sunk): dp_rmpi_launch() returns every rank's
 * @error: return location for a #GError
 *
 * The seed's `rmpi-finish`: tells the launcher this rank is done and
 * closes its channels to the other ranks (they still get what was sent
 * before). Every rank calls it; dp_rmpi_launch() returns once all have.
 * On a communicator from dp_rmpi_comm_split() it does nothing.
 *
 * Returns: %TRUE if the launcher was told
 *
 * Since: 1.0
 */
gboolean
dp_rmpi_finish (DpRmpiComm *comm,
                GVariant   *result,
                GError    **error)
{
  g_autoptr(GVariant) r = result ? g_variant_ref_sink (result) : NULL;
  World *w;

  g_return_val_if_fail (DP_IS_RMPI_COMM (comm), FALSE);
  w = comm->w;
  if (comm->ctx != CTX_WORLD)
    return TRUE;
  if (w->finished)
    return TRUE;
  w->finished = TRUE;
  if (!dp_place_channel_put (w->master,
                             g_variant_new ("(suv)", "rmpi-finish", w->id,
                                            r ? r : g_variant_new ("()"))))
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                           "rmpi: the launcher's channel is closed");
      return FALSE;
    }
  for (guint i = 0; i < w->cnt; i++)
    if (w->peers[i])
      dp_place_channel_close (w->peers[i]);
  return TRUE;
}
