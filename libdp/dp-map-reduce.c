/* dp-map-reduce.c: map-reduce workers and the master's loop
 *
 * Worker requests (on its place channel, from the master or a peer
 * worker), each (what, ...):
 *   ('map', (mapper), (sorter), <task>)            -> master: ('reduce-ready', <()>)
 *   ('reduce-to', (reducer), (sorter), host, port, name)
 *        sends ('reduce', (reducer), (sorter), kvs) to that worker, directly
 *                                                   -> master: ('reduce-done', <()>)
 *   ('reduce', (reducer), (sorter), kvs)  merges, reduces each key
 *                                                   -> master: ('reduce-ready', <()>)
 *   ('get-results',)                                -> master: ('results', <kvs>)
 * Functions travel as (plugin, symbol); a sorter ('', '') is the default
 * one. kvs is a(vav), sorted by key, one entry per key. Any failure is
 * ('error', <message>) to the master.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <string.h>

/* ---- the default sorter ---- */

static int
class_rank (GVariant *v)
{
  switch (g_variant_classify (v))
    {
    case G_VARIANT_CLASS_BOOLEAN: case G_VARIANT_CLASS_BYTE: case G_VARIANT_CLASS_INT16:
    case G_VARIANT_CLASS_UINT16: case G_VARIANT_CLASS_INT32: case G_VARIANT_CLASS_UINT32:
    case G_VARIANT_CLASS_INT64: case G_VARIANT_CLASS_UINT64: case G_VARIANT_CLASS_DOUBLE:
    case G_VARIANT_CLASS_HANDLE:
      return 0;
    case G_VARIANT_CLASS_STRING: case G_VARIANT_CLASS_OBJECT_PATH: case G_VARIANT_CLASS_SIGNATURE:
      return 1;
    default:
      return 2;
    }
}

/* a number as (is_unsigned_big, int64, double) for comparing exactly */
static void
number_of (GVariant *v, gboolean *is_double, gint64 *i, guint64 *u, gboolean *big, gdouble *d)
{
  *is_double = FALSE;
  *big = FALSE;
  *u = 0;
  *d = 0;
  switch (g_variant_classify (v))
    {
    case G_VARIANT_CLASS_BOOLEAN: *i = g_variant_get_boolean (v); break;
    case G_VARIANT_CLASS_BYTE: *i = g_variant_get_byte (v); break;
    case G_VARIANT_CLASS_INT16: *i = g_variant_get_int16 (v); break;
    case G_VARIANT_CLASS_UINT16: *i = g_variant_get_uint16 (v); break;
    case G_VARIANT_CLASS_INT32: *i = g_variant_get_int32 (v); break;
    case G_VARIANT_CLASS_HANDLE: *i = g_variant_get_handle (v); break;
    case G_VARIANT_CLASS_UINT32: *i = g_variant_get_uint32 (v); break;
    case G_VARIANT_CLASS_INT64: *i = g_variant_get_int64 (v); break;
    case G_VARIANT_CLASS_UINT64:
      *u = g_variant_get_uint64 (v);
      *big = *u > G_MAXINT64;
      *i = (gint64) (*big ? G_MAXINT64 : *u);
      break;
    default:
      *is_double = TRUE;
      *d = g_variant_get_double (v);
      *i = 0;
      break;
    }
}

/**
 * dp_map_reduce_default_sorter:
 * @a: a key
 * @b: a key
 *
 * The seed's `default-sorter`, total: numbers by value (any GVariant number
 * type, booleans as 0 and 1), strings by strcmp(), tuples and arrays
 * element by element (a pair by its first element, then its second),
 * variants by what they hold; numbers before strings before containers.
 *
 * Returns: <0, 0 or >0
 *
 * Since: 1.0
 */
gint
dp_map_reduce_default_sorter (GVariant *a,
                              GVariant *b)
{
  int ca, cb;

  if (g_variant_classify (a) == G_VARIANT_CLASS_VARIANT || g_variant_classify (b) == G_VARIANT_CLASS_VARIANT)
    {
      g_autoptr(GVariant) x = g_variant_classify (a) == G_VARIANT_CLASS_VARIANT ? g_variant_get_variant (a) : g_variant_ref (a);
      g_autoptr(GVariant) y = g_variant_classify (b) == G_VARIANT_CLASS_VARIANT ? g_variant_get_variant (b) : g_variant_ref (b);
      return dp_map_reduce_default_sorter (x, y);
    }
  ca = class_rank (a);
  cb = class_rank (b);
  if (ca != cb)
    return ca < cb ? -1 : 1;
  if (ca == 0)
    {
      gboolean da, db, ba, bb;
      gint64 ia, ib;
      guint64 ua, ub;
      gdouble fa, fb;

      number_of (a, &da, &ia, &ua, &ba, &fa);
      number_of (b, &db, &ib, &ub, &bb, &fb);
      if (da || db)
        {
          if (!da) fa = ba ? (gdouble) ua : (gdouble) ia;
          if (!db) fb = bb ? (gdouble) ub : (gdouble) ib;
          return fa < fb ? -1 : fa > fb ? 1 : 0;
        }
      if (ba || bb)
        {
          if (ba && bb) return ua < ub ? -1 : ua > ub;
          return ba ? 1 : -1;
        }
      return ia < ib ? -1 : ia > ib;
    }
  if (ca == 1)
    {
      int c = strcmp (g_variant_get_string (a, NULL), g_variant_get_string (b, NULL));
      return c < 0 ? -1 : c > 0;
    }
  {
    gsize na = g_variant_is_container (a) ? g_variant_n_children (a) : 0;
    gsize nb = g_variant_is_container (b) ? g_variant_n_children (b) : 0;

    for (gsize i = 0; i < MIN (na, nb); i++)
      {
        g_autoptr(GVariant) x = g_variant_get_child_value (a, i);
        g_autoptr(GVariant) y = g_variant_get_child_value (b, i);
        int c = dp_map_reduce_default_sorter (x, y);

        if (c)
          return c;
      }
    return na < nb ? -1 : na > nb;
  }
}

/* ---- the worker ---- */

typedef struct {
  GVariant  *key;
  GPtrArray *values;   /* GVariant* */
} Group;

static void
group_free (Group *g)
{
  if (g == NULL)
    return;
  g_variant_unref (g->key);
  g_ptr_array_unref (g->values);
  g_free (g);
}

typedef struct {
  DpPlaceChannel *ch;
  DpPlaceChannel *master;
  GPtrArray      *kvs;      /* Group*, sorted */
  GHashTable     *peers;    /* "host:port/name" -> DpPlaceChannel */
} Worker;

static gpointer
lookup (Worker *w, GVariant *fn, const char *what, GError **error)
{
  const char *plugin, *symbol;
  gpointer f;

  g_variant_get (fn, "(&s&s)", &plugin, &symbol);
  if (*plugin == '\0' && strcmp (what, "sorter") == 0)
    return dp_map_reduce_default_sorter;
  f = _dp_place_channel_lookup_plugin (w->ch, plugin, symbol, error);
  if (f == NULL)
    g_prefix_error (error, "map-reduce: the %s %s:%s: ", what, plugin, symbol);
  return f;
}

static DpSorterFunc sort_by;

static gint
by_key (gconstpointer a, gconstpointer b)
{
  const Group *x = *(Group * const *) a, *y = *(Group * const *) b;

  return sort_by (x->key, y->key);
}

/* sorts @groups by key (stably) and merges equal keys, their values in
 * order; takes @groups */
static GPtrArray *
sort_and_group (GPtrArray *groups, DpSorterFunc sorter)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) group_free);

  sort_by = sorter;   /* the place's own thread */
  g_ptr_array_sort (groups, by_key);
  for (guint i = 0; i < groups->len; i++)
    {
      Group *g = groups->pdata[i];
      Group *last = out->len ? out->pdata[out->len - 1] : NULL;

      if (last && sorter (last->key, g->key) == 0)
        for (guint k = 0; k < g->values->len; k++)
          g_ptr_array_add (last->values, g_variant_ref (g->values->pdata[k]));
      else
        {
          g_ptr_array_add (out, g);
          groups->pdata[i] = NULL;
        }
    }
  g_ptr_array_unref (groups);
  return out;
}

static Group *
group_new (GVariant *key)
{
  Group *g = g_new0 (Group, 1);

  g->key = g_variant_ref (key);
  g->values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  return g;
}

static GVariant *
kvs_to_variant (GPtrArray *kvs)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(vav)"));
  for (guint i = 0; kvs && i < kvs->len; i++)
    {
      Group *g = kvs->pdata[i];
      GVariantBuilder vs;

      g_variant_builder_init (&vs, G_VARIANT_TYPE ("av"));
      for (guint k = 0; k < g->values->len; k++)
        g_variant_builder_add (&vs, "v", g->values->pdata[k]);
      g_variant_builder_add (&b, "(vav)", g->key, &vs);
    }
  return g_variant_builder_end (&b);
}

/* groups (one per entry) from an a(vav) */
static GPtrArray *
kvs_from_variant (GVariant *v)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) group_free);
  GVariantIter iter;
  GVariant *key, *values;

  g_variant_iter_init (&iter, v);
  while (g_variant_iter_next (&iter, "(v@av)", &key, &values))
    {
      Group *g = group_new (key);
      GVariantIter vi;
      GVariant *x;

      g_variant_iter_init (&vi, values);
      while (g_variant_iter_next (&vi, "v", &x))
        g_ptr_array_add (g->values, x);
      g_ptr_array_add (out, g);
      g_variant_unref (key);
      g_variant_unref (values);
    }
  return out;
}

static gboolean
do_map (Worker *w, GVariant *msg, GError **error)
{
  g_autoptr(GVariant) mfn = g_variant_get_child_value (msg, 1);
  g_autoptr(GVariant) sfn = g_variant_get_child_value (msg, 2);
  g_autoptr(GVariant) task = NULL;
  g_autoptr(GVariant) pairs = NULL;
  g_autoptr(GPtrArray) groups = NULL;
  DpMapperFunc mapper;
  DpSorterFunc sorter;
  GVariant *r;

  g_variant_get_child (msg, 3, "v", &task);
  if ((mapper = lookup (w, mfn, "mapper", error)) == NULL ||
      (sorter = lookup (w, sfn, "sorter", error)) == NULL)
    return FALSE;
  r = mapper (task, error);
  if (r == NULL)
    {
      if (error && *error == NULL)
        g_set_error_literal (error, DP_ERROR, DP_ERROR_FAILED, "map-reduce: the mapper returned nothing");
      return FALSE;
    }
  pairs = g_variant_ref_sink (r);
  if (!g_variant_is_of_type (pairs, G_VARIANT_TYPE_ARRAY))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "map-reduce: the mapper returned a %s, not an array of (key, value)",
                   g_variant_get_type_string (pairs));
      return FALSE;
    }
  groups = g_ptr_array_new_with_free_func ((GDestroyNotify) group_free);
  for (gsize i = 0; i < g_variant_n_children (pairs); i++)
    {
      g_autoptr(GVariant) p = g_variant_get_child_value (pairs, i);
      g_autoptr(GVariant) k = NULL;
      Group *g;

      if (g_variant_classify (p) == G_VARIANT_CLASS_VARIANT)
        {
          GVariant *inner = g_variant_get_variant (p);
          g_variant_unref (p);
          p = inner;
        }
      if (!g_variant_is_of_type (p, G_VARIANT_TYPE_TUPLE) || g_variant_n_children (p) != 2)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "map-reduce: the mapper's element %" G_GSIZE_FORMAT " is a %s, not a (key, value)",
                       i, g_variant_get_type_string (p));
          return FALSE;
        }
      k = g_variant_get_child_value (p, 0);
      g = group_new (k);
      g_ptr_array_add (g->values, g_variant_get_child_value (p, 1));
      g_ptr_array_add (groups, g);
    }
  g_clear_pointer (&w->kvs, g_ptr_array_unref);
  w->kvs = sort_and_group (g_steal_pointer (&groups), sorter);
  return TRUE;
}

/* merges @theirs into the worker's kvs and reduces every key */
static gboolean
do_reduce (Worker *w, GVariant *msg, GError **error)
{
  g_autoptr(GVariant) rfn = g_variant_get_child_value (msg, 1);
  g_autoptr(GVariant) sfn = g_variant_get_child_value (msg, 2);
  g_autoptr(GVariant) theirs = g_variant_get_child_value (msg, 3);
  g_autoptr(GPtrArray) all = kvs_from_variant (theirs);
  g_autoptr(GPtrArray) merged = NULL;
  DpReducerFunc reducer;
  DpSorterFunc sorter;

  if ((reducer = lookup (w, rfn, "reducer", error)) == NULL ||
      (sorter = lookup (w, sfn, "sorter", error)) == NULL)
    return FALSE;
  /* own first: the values of a key keep the order they came in */
  if (w->kvs)
    {
      GPtrArray *own = g_steal_pointer (&w->kvs);

      g_ptr_array_extend_and_steal (own, g_steal_pointer (&all));
      all = own;
    }
  merged = sort_and_group (g_steal_pointer (&all), sorter);
  for (guint i = 0; i < merged->len; i++)
    {
      Group *g = merged->pdata[i];
      g_autoptr(GVariant) vs = NULL;
      g_autoptr(GVariant) out = NULL;
      GVariant *r;

      {
        GVariantBuilder b;
        g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
        for (guint k = 0; k < g->values->len; k++)
          g_variant_builder_add (&b, "v", g->values->pdata[k]);
        vs = g_variant_ref_sink (g_variant_builder_end (&b));
      }
      r = reducer (g->key, vs, error);
      if (r == NULL)
        {
          if (error && *error == NULL)
            g_set_error_literal (error, DP_ERROR, DP_ERROR_FAILED, "map-reduce: the reducer returned nothing");
          return FALSE;
        }
      out = g_variant_ref_sink (r);
      if (!g_variant_is_of_type (out, G_VARIANT_TYPE_ARRAY))
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "map-reduce: the reducer returned a %s, not an array of values",
                       g_variant_get_type_string (out));
          return FALSE;
        }
      g_ptr_array_set_size (g->values, 0);
      for (gsize k = 0; k < g_variant_n_children (out); k++)
        {
          GVariant *x = g_variant_get_child_value (out, k);

          if (g_variant_classify (x) == G_VARIANT_CLASS_VARIANT && g_variant_is_of_type (out, G_VARIANT_TYPE ("av")))
            {
              GVariant *inner = g_variant_get_variant (x);
              g_variant_unref (x);
              x = inner;
            }
          g_ptr_array_add (g->values, x);
        }
    }
  g_clear_pointer (&w->kvs, g_ptr_array_unref);
  w->kvs = g_steal_pointer (&merged);
  return TRUE;
}

static gboolean
do_reduce_to (Worker *w, GVariant *msg, GError **error)
{
  g_autoptr(GVariant) rfn = g_variant_get_child_value (msg, 1);
  g_autoptr(GVariant) sfn = g_variant_get_child_value (msg, 2);
  const char *host, *name;
  guint16 port;
  g_autofree char *key = NULL;
  DpPlaceChannel *peer;

  g_variant_get_child (msg, 3, "&s", &host);
  g_variant_get_child (msg, 4, "q", &port);
  g_variant_get_child (msg, 5, "&s", &name);
  key = g_strdup_printf ("%s:%u/%s", host, port, name);
  peer = g_hash_table_lookup (w->peers, key);
  if (peer == NULL)
    {
      peer = dp_place_channel_connect (w->ch, host, port, name, error);
      if (peer == NULL)
        return FALSE;
      g_hash_table_insert (w->peers, g_strdup (key), peer);
    }
  if (!dp_place_channel_put (peer, g_variant_new ("(s@(ss)@(ss)@a(vav))", "reduce", rfn, sfn,
                                                  kvs_to_variant (w->kvs))))
    {
      g_hash_table_remove (w->peers, key);
      g_set_error (error, DP_ERROR, DP_ERROR_RANK_LOST, "map-reduce: worker %s is gone", name);
      return FALSE;
    }
  g_clear_pointer (&w->kvs, g_ptr_array_unref);
  return TRUE;
}

static void
answer (DpPlaceChannel *to, const char *what, GVariant *payload)
{
  if (to)
    dp_place_channel_put (to, g_variant_new ("(sv)", what, payload ? payload : g_variant_new ("()")));
}

/**
 * dp_map_reduce_worker:
 * @channel: the worker place's channel
 *
 * The seed's `map-reduce-worker`: the body of a map-reduce worker place
 * (exported as `map_reduce_worker` by the `dp-map-reduce` plugin). It
 * serves dp_map_reduce() until its channel closes.
 *
 * Since: 1.0
 */
void
dp_map_reduce_worker (DpPlaceChannel *channel)
{
  Worker w = { 0 };
  GVariant *m;
  DpPlaceChannel *from = NULL;

  w.ch = channel;
  w.peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  while ((m = dp_place_channel_get_full (channel, &from)) != NULL)
    {
      g_autoptr(GVariant) msg = m;
      g_autoptr(DpPlaceChannel) reply = from;
      g_autoptr(GError) error = NULL;
      const char *what = NULL;
      gboolean ok = TRUE;

      from = NULL;
      if (g_variant_is_of_type (msg, G_VARIANT_TYPE ("(s(ss)(ss)v)")))
        {
          g_variant_get_child (msg, 0, "&s", &what);
          if (strcmp (what, "map") == 0)
            {
              g_set_object (&w.master, reply);
              if ((ok = do_map (&w, msg, &error)))
                answer (w.master, "reduce-ready", NULL);
            }
          else
            what = NULL;
        }
      else if (g_variant_is_of_type (msg, G_VARIANT_TYPE ("(s(ss)(ss)sqs)")))
        {
          g_variant_get_child (msg, 0, "&s", &what);
          g_set_object (&w.master, reply);
          if ((ok = do_reduce_to (&w, msg, &error)))
            answer (w.master, "reduce-done", NULL);
        }
      else if (g_variant_is_of_type (msg, G_VARIANT_TYPE ("(s(ss)(ss)a(vav))")))
        {
          g_variant_get_child (msg, 0, "&s", &what);
          if ((ok = do_reduce (&w, msg, &error)))
            answer (w.master, "reduce-ready", NULL);
        }
      else if (g_variant_is_of_type (msg, G_VARIANT_TYPE ("(s)")))
        {
          g_variant_get_child (msg, 0, "&s", &what);
          g_set_object (&w.master, reply);
          answer (w.master, "results", kvs_to_variant (w.kvs));
          g_clear_pointer (&w.kvs, g_ptr_array_unref);
        }
      if (what == NULL)
        {
          g_autofree char *s = g_variant_print (msg, FALSE);
          error = g_error_new (DP_ERROR, DP_ERROR_PROTOCOL, "map-reduce: a worker got %.200s", s);
          ok = FALSE;
        }
      if (!ok)
        answer (w.master ? w.master : reply, "error", g_variant_new_string (error->message));
    }
  g_clear_pointer (&w.kvs, g_ptr_array_unref);
  g_hash_table_unref (w.peers);
  g_clear_object (&w.master);
}

/* ---- the master ---- */

struct _DpMapReduceWorkers
{
  GObject       parent_instance;
  DpNode       *router;
  GPtrArray    *nodes;     /* DpRemoteNode */
  GPtrArray    *rcs;       /* DpRemoteConnection, one per worker */
  GPtrArray    *threads;   /* watchers */
  GAsyncQueue  *events;    /* DpWatchEvent */
  char        **hosts;     /* where other nodes dial worker i */
  gboolean      broken;    /* a worker was lost */
};

G_DEFINE_FINAL_TYPE (DpMapReduceWorkers, dp_map_reduce_workers, G_TYPE_OBJECT)

static void
dp_map_reduce_workers_dispose (GObject *object)
{
  DpMapReduceWorkers *self = DP_MAP_REDUCE_WORKERS (object);

  if (self->nodes)
    {
      /* the nodes go, the watchers see their channels end */
      for (guint i = 0; i < self->nodes->len; i++)
        dp_remote_node_terminate (self->nodes->pdata[i]);
      for (guint i = 0; i < self->threads->len; i++)
        g_thread_join (self->threads->pdata[i]);
      g_ptr_array_set_size (self->threads, 0);
      if (self->events)
        {
          DpWatchEvent *e;
          while ((e = g_async_queue_try_pop (self->events)) != NULL)
            _dp_watch_event_free (e);
        }
      g_clear_pointer (&self->rcs, g_ptr_array_unref);
      g_clear_pointer (&self->nodes, g_ptr_array_unref);
    }
  G_OBJECT_CLASS (dp_map_reduce_workers_parent_class)->dispose (object);
}

static void
dp_map_reduce_workers_finalize (GObject *object)
{
  DpMapReduceWorkers *self = DP_MAP_REDUCE_WORKERS (object);

  g_clear_object (&self->router);
  g_clear_pointer (&self->threads, g_ptr_array_unref);
  g_clear_pointer (&self->events, g_async_queue_unref);
  g_strfreev (self->hosts);
  G_OBJECT_CLASS (dp_map_reduce_workers_parent_class)->finalize (object);
}

static void
dp_map_reduce_workers_class_init (DpMapReduceWorkersClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = dp_map_reduce_workers_dispose;
  G_OBJECT_CLASS (klass)->finalize = dp_map_reduce_workers_finalize;
}

static void
dp_map_reduce_workers_init (DpMapReduceWorkers *self)
{
  self->threads = g_ptr_array_new ();
  self->events = g_async_queue_new ();
}

/**
 * dp_make_map_reduce_workers:
 * @router: the master's #DpNode
 * @descs: (array length=n_descs): the nodes, one worker each
 * @n_descs: how many
 * @error: return location for a #GError
 *
 * The seed's `make-map-reduce-workers`: spawns the nodes at once and
 * starts the named worker place `mpw<i>` on node i.
 *
 * Returns: (transfer full) (nullable): the workers; dropping the last
 *   reference stops their nodes
 *
 * Since: 1.0
 */
DpMapReduceWorkers *
dp_make_map_reduce_workers (DpNode           *router,
                            const DpNodeDesc *descs,
                            gsize             n_descs,
                            GError          **error)
{
  g_autoptr(DpMapReduceWorkers) self = NULL;

  g_return_val_if_fail (DP_IS_NODE (router), NULL);
  g_return_val_if_fail (n_descs > 0, NULL);
  self = g_object_new (DP_TYPE_MAP_REDUCE_WORKERS, NULL);
  self->router = g_object_ref (router);
  self->nodes = dp_spawn_nodes_join (router, descs, n_descs, error);
  if (self->nodes == NULL)
    return NULL;
  self->rcs = g_ptr_array_new_with_free_func (g_object_unref);
  self->hosts = g_new0 (char *, n_descs + 1);
  for (gsize i = 0; i < n_descs; i++)
    {
      g_autofree char *name = g_strdup_printf ("mpw%" G_GSIZE_FORMAT, i);
      g_autoptr(DpHostSpec) spec = _dp_host_spec_parse (descs[i].host, DP_HOST_SPEC_DEFAULT, NULL);

      self->hosts[i] = g_strdup (spec == NULL ? descs[i].host
                                 : _dp_host_spec_is_local (spec) ? "127.0.0.1" : spec->host);
      g_ptr_array_add (self->rcs, dp_remote_node_launch_place (self->nodes->pdata[i], "dp-map-reduce",
                                                               "map_reduce_worker", DP_LAUNCH_NONE, name));
    }
  for (guint i = 0; i < self->rcs->len; i++)
    {
      if (!dp_remote_connection_wait_ready (self->rcs->pdata[i], NULL, error))
        {
          g_prefix_error (error, "map-reduce: worker mpw%u: ", i);
          return NULL;
        }
      g_ptr_array_add (self->threads, _dp_watch_connection (self->rcs->pdata[i], i, self->events, NULL));
    }
  return g_steal_pointer (&self);
}

/**
 * dp_map_reduce_workers_get_count:
 * @workers: a #DpMapReduceWorkers
 *
 * The number of workers made by dp_make_map_reduce_workers().
 *
 * Returns: how many workers there are
 *
 * Since: 1.0
 */
guint
dp_map_reduce_workers_get_count (DpMapReduceWorkers *workers)
{
  g_return_val_if_fail (DP_IS_MAP_REDUCE_WORKERS (workers), 0);
  return workers->rcs ? workers->rcs->len : 0;
}

/**
 * dp_map_reduce_workers_get_node:
 * @workers: a #DpMapReduceWorkers
 * @i: a worker
 *
 * The node worker @i runs on, for example to watch it with
 * #DpRemoteNode::died.
 *
 * Returns: (transfer none): worker @i's node
 *
 * Since: 1.0
 */
DpRemoteNode *
dp_map_reduce_workers_get_node (DpMapReduceWorkers *workers,
                                guint               i)
{
  g_return_val_if_fail (DP_IS_MAP_REDUCE_WORKERS (workers), NULL);
  g_return_val_if_fail (workers->nodes && i < workers->nodes->len, NULL);
  return workers->nodes->pdata[i];
}

typedef enum { IDLE, MAPPING, READY, REDUCING } State;

static GVariant *
fn_variant (const DpPluginFunc *f)
{
  return g_variant_new ("(ss)", f ? f->plugin : "", f ? f->symbol : "");
}

/**
 * dp_map_reduce:
 * @workers: the workers
 * @tasks: an array: each element is one task, mapped by one worker (a
 *   floating reference is sunk)
 * @mapper: a #DpMapperFunc in a plugin on the workers' nodes
 * @reducer: a #DpReducerFunc there
 * @sorter: (nullable): a #DpSorterFunc there; %NULL for
 *   dp_map_reduce_default_sorter()
 * @outputer: (nullable): a #DpOutputerFunc in a plugin on the master's
 *   plugin path (dp_node_add_plugin_dir()), applied to the result
 * @error: return location for a #GError
 *
 * The seed's `map-reduce`. Tasks go to idle workers; two workers with
 * mapped results are paired, one sending its results to the other over
 * the mesh to merge and reduce; when nothing is left, the one holding
 * results gives them to the master. With a single task the reducer is
 * not applied (as in the seed). A worker lost (%DP_ERROR_RANK_LOST naming
 * it) or a failing function is an error, never a hang; after a lost
 * worker the workers are unusable.
 *
 * Returns: (transfer full) (nullable): an `a(vav)` (each key, sorted, with
 *   its values), or the outputer's result
 *
 * Since: 1.0
 */
GVariant *
dp_map_reduce (DpMapReduceWorkers *workers,
               GVariant           *tasks,
               const DpPluginFunc *mapper,
               const DpPluginFunc *reducer,
               const DpPluginFunc *sorter,
               const DpPluginFunc *outputer,
               GError            **error)
{
  g_autoptr(GVariant) all = g_variant_ref_sink (tasks);
  g_autofree State *state = NULL;
  g_autoptr(GQueue) ready = g_queue_new ();
  g_autoptr(GVariant) result = NULL;
  gsize next_task = 0, n_tasks;
  guint n, busy = 0;
  gboolean asked = FALSE;

  g_return_val_if_fail (DP_IS_MAP_REDUCE_WORKERS (workers), NULL);
  g_return_val_if_fail (mapper != NULL && reducer != NULL, NULL);
  if (workers->broken || workers->rcs == NULL)
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_RANK_LOST, "map-reduce: a worker was lost before");
      return NULL;
    }
  if (!g_variant_is_of_type (all, G_VARIANT_TYPE_ARRAY))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "map-reduce: the tasks are a %s, not an array", g_variant_get_type_string (all));
      return NULL;
    }
  n = workers->rcs->len;
  n_tasks = g_variant_n_children (all);
  state = g_new0 (State, n);

  while (result == NULL)
    {
      DpWatchEvent *e;
      g_autoptr(GVariant) m = NULL;
      const char *what;
      GVariant *payload = NULL;
      guint i;

      for (i = 0; i < n && next_task < n_tasks; i++)
        if (state[i] == IDLE)
          {
            g_autoptr(GVariant) task = g_variant_get_child_value (all, next_task++);
            dp_remote_connection_put (workers->rcs->pdata[i],
                                      g_variant_new ("(s@(ss)@(ss)v)", "map", fn_variant (mapper),
                                                     fn_variant (sorter), task));
            state[i] = MAPPING;
            busy++;
          }
      while (g_queue_get_length (ready) >= 2)
        {
          guint a = GPOINTER_TO_UINT (g_queue_pop_head (ready));
          guint b = GPOINTER_TO_UINT (g_queue_pop_head (ready));
          g_autofree char *name = g_strdup_printf ("mpw%u", b);

          dp_remote_connection_put (workers->rcs->pdata[a],
                                    g_variant_new ("(s@(ss)@(ss)sqs)", "reduce-to", fn_variant (reducer),
                                                   fn_variant (sorter), workers->hosts[b],
                                                   dp_remote_node_get_port (workers->nodes->pdata[b]), name));
          state[a] = state[b] = REDUCING;
          busy += 2;
        }
      if (next_task == n_tasks && busy == 0 && !asked)
        {
          if (g_queue_get_length (ready) == 0)
            {
              result = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("(vav)"), NULL, 0));
              break;
            }
          i = GPOINTER_TO_UINT (g_queue_pop_head (ready));
          dp_remote_connection_put (workers->rcs->pdata[i], g_variant_new ("(s)", "get-results"));
          state[i] = IDLE;
          asked = TRUE;
          busy++;
        }

      e = g_async_queue_pop (workers->events);
      i = e->index;
      m = g_steal_pointer (&e->msg);
      _dp_watch_event_free (e);
      if (m == NULL)
        {
          g_autofree char *detail = dp_remote_connection_dup_exit_detail (workers->rcs->pdata[i]);

          workers->broken = TRUE;
          g_set_error (error, DP_ERROR, DP_ERROR_RANK_LOST, "map-reduce: worker mpw%u was lost: %s",
                       i, detail ? detail : "its channel closed");
          return NULL;
        }
      if (!g_variant_is_of_type (m, G_VARIANT_TYPE ("(sv)")))
        continue;
      g_variant_get (m, "(&sv)", &what, &payload);
      if (strcmp (what, "error") == 0)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_FAILED, "map-reduce: worker mpw%u: %s", i,
                       g_variant_is_of_type (payload, G_VARIANT_TYPE_STRING)
                       ? g_variant_get_string (payload, NULL) : "failed");
          g_variant_unref (payload);
          /* the others finish what they were doing; their answers are dropped */
          workers->broken = TRUE;
          return NULL;
        }
      if (strcmp (what, "reduce-ready") == 0 && (state[i] == MAPPING || state[i] == REDUCING))
        {
          state[i] = READY;
          g_queue_push_tail (ready, GUINT_TO_POINTER (i));
          busy--;
        }
      else if (strcmp (what, "reduce-done") == 0 && state[i] == REDUCING)
        {
          state[i] = IDLE;
          busy--;
        }
      else if (strcmp (what, "results") == 0 && asked)
        result = g_variant_ref (payload);
      g_variant_unref (payload);
    }

  if (outputer)
    {
      DpOutputerFunc out;
      GVariant *r;

      out = _dp_node_lookup_plugin (workers->router, outputer->plugin, outputer->symbol, error);
      if (out == NULL)
        return NULL;
      r = out (result, error);
      return r ? g_variant_ref_sink (r) : NULL;
    }
  return g_steal_pointer (&result);
}
