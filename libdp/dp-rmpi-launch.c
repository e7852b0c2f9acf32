/* dp-rmpi-launch.c: RMPI configs and the launcher (rmpi-launch)
 *
 * A config is JSON:
 *
 *   { "defaults": { "host": "localhost", "port": 0, "plugin": "rmpi-sample",
 *                   "symbol": "rank_main", "args": [1, 2] },
 *     "ranks": [ { "id": 0, "name": "rmpi0" }, { "id": 1, "host": "b", "port": 6345 } ] }
 *
 * Every rank has an id (0 .. n-1, each once), a host, a port (0: a node of
 * its own on any free port; ranks with the same host and non-zero port
 * share a node), a name (default "rmpi<id>"), a plugin and a symbol (its
 * place) and args (any JSON, given to dp_rmpi_get_args() as a GVariant);
 * what a rank leaves out comes from "defaults". Anything else is an error
 * before anything is spawned.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
  guint      id;
  char      *host;        /* as written (a host spec) */
  guint16    port;
  char      *name;
  char      *plugin;
  char      *symbol;
  GVariant  *args;
  guint      node;        /* index into the nodes spawned */
} Rank;

static void
rank_clear (Rank *r)
{
  g_free (r->host);
  g_free (r->name);
  g_free (r->plugin);
  g_free (r->symbol);
  g_clear_pointer (&r->args, g_variant_unref);
}

static gboolean
only_keys (JsonObject *o, const char * const *allowed, const char *what, GError **error)
{
  g_autoptr(GList) members = json_object_get_members (o);

  for (GList *l = members; l; l = l->next)
    if (!g_strv_contains (allowed, l->data))
      {
        g_autofree char *list = g_strjoinv (", ", (char **) allowed);
        g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                     "rmpi config: %s has an unknown key '%s' (known: %s)",
                     what, (const char *) l->data, list);
        return FALSE;
      }
  return TRUE;
}

/* member @key of the rank, else of the defaults, else NULL */
static JsonNode *
lookup (JsonObject *rank, JsonObject *defaults, const char *key)
{
  if (json_object_has_member (rank, key))
    return json_object_get_member (rank, key);
  if (defaults && json_object_has_member (defaults, key))
    return json_object_get_member (defaults, key);
  return NULL;
}

static gboolean
get_string (JsonNode *n, guint i, const char *key, char **out, GError **error)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING ||
      *json_node_get_string (n) == '\0')
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "rmpi config: rank %u has no %s (a non-empty string, in the rank or the defaults)",
                   i, key);
      return FALSE;
    }
  *out = g_strdup (json_node_get_string (n));
  return TRUE;
}

static gboolean
get_uint (JsonNode *n, gint64 max, const char *what, gint64 *out, GError **error)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64 ||
      json_node_get_int (n) < 0 || json_node_get_int (n) > max)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "rmpi config: %s must be an integer from 0 to %" G_GINT64_FORMAT, what, max);
      return FALSE;
    }
  *out = json_node_get_int (n);
  return TRUE;
}

/* Reads and checks a config: the ranks in id order */
static GArray *
parse_config (const char *config, GError **error)
{
  static const char * const top_keys[] = { "defaults", "ranks", NULL };
  static const char * const default_keys[] = { "host", "port", "plugin", "symbol", "args", NULL };
  static const char * const rank_keys[] = { "id", "host", "port", "name", "plugin", "symbol", "args", NULL };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GArray) ranks = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  GError *local = NULL;
  JsonNode *root;
  JsonObject *top, *defaults = NULL;
  JsonArray *list;
  guint n;

  if (!json_parser_load_from_data (parser, config, -1, &local))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "rmpi config: not JSON: %s", local->message);
      g_error_free (local);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                           "rmpi config: not a JSON object with \"ranks\"");
      return NULL;
    }
  top = json_node_get_object (root);
  if (!only_keys (top, top_keys, "the config", error))
    return NULL;
  if (json_object_has_member (top, "defaults"))
    {
      JsonNode *d = json_object_get_member (top, "defaults");

      if (!JSON_NODE_HOLDS_OBJECT (d))
        {
          g_set_error_literal (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                               "rmpi config: \"defaults\" is not an object");
          return NULL;
        }
      defaults = json_node_get_object (d);
      if (!only_keys (defaults, default_keys, "\"defaults\"", error))
        return NULL;
    }
  if (!json_object_has_member (top, "ranks") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (top, "ranks")) ||
      json_array_get_length (json_object_get_array_member (top, "ranks")) == 0)
    {
      g_set_error_literal (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                           "rmpi config: \"ranks\" must be a non-empty array");
      return NULL;
    }
  list = json_object_get_array_member (top, "ranks");
  n = json_array_get_length (list);
  ranks = g_array_sized_new (FALSE, TRUE, sizeof (Rank), n);
  g_array_set_clear_func (ranks, (GDestroyNotify) rank_clear);
  g_array_set_size (ranks, n);
  for (guint i = 0; i < n; i++)
    g_array_index (ranks, Rank, i).id = G_MAXUINT;

  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (list, i);
      JsonObject *o;
      JsonNode *a;
      gint64 id, port;
      Rank *r;
      g_autofree char *what = g_strdup_printf ("ranks[%u]", i);
      g_autoptr(DpHostSpec) spec = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (e))
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "rmpi config: %s is not an object", what);
          return NULL;
        }
      o = json_node_get_object (e);
      if (!only_keys (o, rank_keys, what, error))
        return NULL;
      if (!json_object_has_member (o, "id"))
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "rmpi config: %s has no \"id\"", what);
          return NULL;
        }
      {
        g_autofree char *idwhat = g_strdup_printf ("the id of %s (there are %u ranks)", what, n);
        if (!get_uint (json_object_get_member (o, "id"), n - 1, idwhat, &id, error))
          return NULL;
      }
      r = &g_array_index (ranks, Rank, id);
      if (r->id != G_MAXUINT)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "rmpi config: two ranks have id %" G_GINT64_FORMAT, id);
          return NULL;
        }
      r->id = (guint) id;
      if (!get_string (lookup (o, defaults, "host"), r->id, "host", &r->host, error) ||
          !get_string (lookup (o, defaults, "plugin"), r->id, "plugin", &r->plugin, error) ||
          !get_string (lookup (o, defaults, "symbol"), r->id, "symbol", &r->symbol, error))
        return NULL;
      spec = _dp_host_spec_parse (r->host, DP_HOST_SPEC_DEFAULT, &local);
      if (spec == NULL)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "rmpi config: rank %u: %s", r->id, local->message);
          g_error_free (local);
          return NULL;
        }
      port = 0;
      if (lookup (o, defaults, "port"))
        {
          g_autofree char *pwhat = g_strdup_printf ("the port of rank %u", r->id);
          if (!get_uint (lookup (o, defaults, "port"), 65535, pwhat, &port, error))
            return NULL;
        }
      r->port = (guint16) port;
      if (json_object_has_member (o, "name"))
        {
          if (!get_string (json_object_get_member (o, "name"), r->id, "name", &r->name, error))
            return NULL;
        }
      else
        r->name = g_strdup_printf ("rmpi%u", r->id);
      if (g_hash_table_contains (names, r->name))
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "rmpi config: two ranks are named '%s'", r->name);
          return NULL;
        }
      g_hash_table_add (names, r->name);
      a = lookup (o, defaults, "args");
      if (a == NULL || JSON_NODE_HOLDS_NULL (a))
        r->args = g_variant_ref_sink (g_variant_new ("()"));
      else
        {
          g_autofree char *text = json_to_string (a, FALSE);

          r->args = dp_variant_from_json (text, NULL, &local);
          if (r->args == NULL)
            {
              g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                           "rmpi config: the args of rank %u: %s", r->id, local->message);
              g_error_free (local);
              return NULL;
            }
        }
    }
  return g_steal_pointer (&ranks);
}

/**
 * dp_rmpi_check_config:
 * @config: an RMPI config (JSON text)
 * @error: return location for a #GError
 *
 * Checks a config as dp_rmpi_launch() does before it spawns anything:
 * known keys only, ids 0 .. n-1 each once, every rank with a host, a
 * plugin and a symbol, ports 0 .. 65535, distinct names, args that convert.
 *
 * Returns: %TRUE if dp_rmpi_launch() would accept it
 *
 * Since: 1.0
 */
gboolean
dp_rmpi_check_config (const char *config,
                      GError    **error)
{
  g_autoptr(GArray) ranks = NULL;

  g_return_val_if_fail (config != NULL, FALSE);
  ranks = parse_config (config, error);
  return ranks != NULL;
}

static JsonNode *
args_node (GVariant *args)
{
  g_autofree char *text = NULL;

  if (args == NULL)
    return json_node_new (JSON_NODE_NULL);
  text = dp_variant_to_json (args);
  return json_from_string (text, NULL);
}

/**
 * dp_rmpi_build_default_config:
 * @plugin: the plugin of every rank's place
 * @symbol: its function
 * @args: (nullable): what every rank gets from dp_rmpi_get_args() (a
 *   floating reference is sunk)
 *
 * The seed's `rmpi-build-default-config`: the shared part of a config.
 *
 * Returns: (transfer full): a config (JSON) with these defaults and no ranks
 *
 * Since: 1.0
 */
char *
dp_rmpi_build_default_config (const char *plugin,
                              const char *symbol,
                              GVariant   *args)
{
  g_autoptr(GVariant) a = args ? g_variant_ref_sink (args) : NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (plugin != NULL && symbol != NULL, NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "defaults");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "plugin");
  json_builder_add_string_value (b, plugin);
  json_builder_set_member_name (b, "symbol");
  json_builder_add_string_value (b, symbol);
  json_builder_set_member_name (b, "args");
  json_builder_add_value (b, args_node (a));
  json_builder_end_object (b);
  json_builder_set_member_name (b, "ranks");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

static char *
make_config (const char *defaults, const char * const *hosts, guint cnt, guint16 start_port,
             const char *name)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) root = NULL;
  JsonObject *top;
  JsonArray *ranks;

  if (defaults == NULL || !json_parser_load_from_data (parser, defaults, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_from_string ("{}", NULL);
  else
    root = json_node_copy (json_parser_get_root (parser));
  top = json_node_get_object (root);
  ranks = json_array_new ();
  for (guint i = 0; i < cnt && (hosts == NULL || hosts[i] != NULL); i++)
    {
      JsonObject *r = json_object_new ();
      g_autofree char *rname = g_strdup_printf ("%s%u", name ? name : "rmpi", i);

      json_object_set_int_member (r, "id", i);
      json_object_set_string_member (r, "host", hosts ? hosts[i] : "localhost");
      json_object_set_int_member (r, "port", start_port ? start_port + i : 0);
      json_object_set_string_member (r, "name", rname);
      json_array_add_object_element (ranks, r);
    }
  json_object_set_array_member (top, "ranks", ranks);
  return json_to_string (root, TRUE);
}

/**
 * dp_rmpi_make_localhost_config:
 * @defaults: (nullable): a config from dp_rmpi_build_default_config()
 * @cnt: how many ranks
 * @start_port: rank i's node listens on @start_port + i; 0: any free port
 * @name: (nullable): rank i is named @name followed by i (default "rmpi")
 *
 * The seed's `rmpi-make-localhost-config`.
 *
 * Returns: (transfer full): @defaults with @cnt ranks on localhost
 *
 * Since: 1.0
 */
char *
dp_rmpi_make_localhost_config (const char *defaults,
                               guint       cnt,
                               guint16     start_port,
                               const char *name)
{
  return make_config (defaults, NULL, cnt, start_port, name);
}

/**
 * dp_rmpi_make_remote_config:
 * @defaults: (nullable): a config from dp_rmpi_build_default_config()
 * @hosts: (array zero-terminated=1): rank i runs on @hosts[i]
 * @cnt: how many ranks (at most as many as @hosts)
 * @start_port: rank i's node listens on @start_port + i; 0: any free port
 * @name: (nullable): rank i is named @name followed by i (default "rmpi")
 *
 * The seed's `rmpi-make-remote-config`.
 *
 * Returns: (transfer full): @defaults with the ranks
 *
 * Since: 1.0
 */
char *
dp_rmpi_make_remote_config (const char         *defaults,
                            const char * const *hosts,
                            guint               cnt,
                            guint16             start_port,
                            const char         *name)
{
  g_return_val_if_fail (hosts != NULL, NULL);
  return make_config (defaults, hosts, cnt, start_port, name);
}

/* ---- the launch ---- */

typedef struct {
  DpRemoteConnection *rc;
  guint               index;
  GAsyncQueue        *events;
  DpWatchLastFunc     is_last;
} Watcher;

static gpointer
watch (gpointer data)
{
  Watcher *w = data;

  for (;;)
    {
      GVariant *m = dp_remote_connection_get (w->rc);
      DpWatchEvent *e = g_new0 (DpWatchEvent, 1);
      gboolean last = m == NULL || (w->is_last && w->is_last (m));

      e->index = w->index;
      e->msg = m;
      g_async_queue_push (w->events, e);
      if (last)
        break;
    }
  g_object_unref (w->rc);
  g_async_queue_unref (w->events);
  g_free (w);
  return NULL;
}

GThread *
_dp_watch_connection (DpRemoteConnection *rc,
                      guint               index,
                      GAsyncQueue        *events,
                      DpWatchLastFunc     is_last)
{
  Watcher *w = g_new0 (Watcher, 1);

  w->rc = g_object_ref (rc);
  w->index = index;
  w->events = g_async_queue_ref (events);
  w->is_last = is_last;
  return g_thread_new ("dp-watch", watch, w);
}

void
_dp_watch_event_free (DpWatchEvent *e)
{
  g_clear_pointer (&e->msg, g_variant_unref);
  g_free (e);
}

/* The job's deadline: a thread that cancels @job when the time is up
 * (or sooner, when the caller's cancellable is cancelled, through the
 * handler the launch connects), and ends when the launch does. */
typedef struct {
  GMutex        lock;
  GCond         cond;
  gboolean      done;
  gint64        deadline;   /* monotonic */
  GCancellable *job;
  GThread      *thread;
} Deadline;

static gpointer
deadline_run (gpointer data)
{
  Deadline *d = data;
  gboolean expired = FALSE;

  g_mutex_lock (&d->lock);
  while (!d->done && !expired)
    if (!g_cond_wait_until (&d->cond, &d->lock, d->deadline))
      expired = !d->done && g_get_monotonic_time () >= d->deadline;
  g_mutex_unlock (&d->lock);
  if (expired)
    g_cancellable_cancel (d->job);
  return NULL;
}

static void
deadline_start (Deadline *d, guint timeout_ms, GCancellable *job)
{
  g_mutex_init (&d->lock);
  g_cond_init (&d->cond);
  d->deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  d->job = job;
  d->thread = g_thread_new ("dp-rmpi-deadline", deadline_run, d);
}

/* ends the thread */
static void
deadline_stop (Deadline *d)
{
  g_mutex_lock (&d->lock);
  d->done = TRUE;
  g_cond_signal (&d->cond);
  g_mutex_unlock (&d->lock);
  g_thread_join (d->thread);
  g_mutex_clear (&d->lock);
  g_cond_clear (&d->cond);
}

static void
cancel_job (GCancellable *caller, gpointer job)
{
  g_cancellable_cancel (job);
}

/* the job was cancelled (any thread): the launch's loop wakes up */
static void
wake_launcher (GCancellable *job, gpointer events)
{
  DpWatchEvent *e = g_new0 (DpWatchEvent, 1);

  e->index = G_MAXUINT;
  g_async_queue_push (events, e);
}

/* why the job was cancelled: its time ran out, or the caller cancelled it */
static GError *
job_stopped (GCancellable *caller, guint timeout_ms, GVariant **results, guint n)
{
  g_autoptr(GString) pending = g_string_new (NULL);
  guint missing = 0;

  if (g_cancellable_is_cancelled (caller))
    return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "rmpi: the launch was cancelled");
  for (guint i = 0; results && i < n; i++)
    if (results[i] == NULL)
      {
        if (missing < 16)
          g_string_append_printf (pending, "%s%u", missing ? ", " : "", i);
        missing++;
      }
  if (results == NULL)
    return g_error_new (DP_ERROR, DP_ERROR_TIMED_OUT,
                        "rmpi: the job did not finish within its timeout (%u ms): "
                        "its ranks were still starting", timeout_ms);
  return g_error_new (DP_ERROR, DP_ERROR_TIMED_OUT,
                      "rmpi: the job did not finish within its timeout (%u ms): "
                      "%u of %u ranks had not called rmpi-finish: [%s%s]",
                      timeout_ms, missing, n, pending->str, missing > 16 ? ", …" : "");
}

/* a rank's last message: its finish, or why it failed */
static gboolean
rank_is_done (GVariant *m)
{
  return g_variant_is_of_type (m, G_VARIANT_TYPE ("(suv)")) ||
         g_variant_is_of_type (m, G_VARIANT_TYPE ("(sus)"));
}

/**
 * dp_rmpi_launch:
 * @router: the master's #DpNode
 * @config: an RMPI config (JSON text; see dp_rmpi_check_config())
 * @options: (nullable): how to spawn the nodes (plugin dirs, ssh config…)
 * @error: return location for a #GError
 *
 * The seed's `rmpi-launch`: checks @config (a bad one is an error before
 * anything is spawned), spawns the nodes at once, starts every rank's
 * named place, sends each its id, the table of ranks, its args and
 * @config, and waits until every rank has called dp_rmpi_finish().
 *
 * A rank that ends before it finishes, or whose node is lost, is an error
 * (%DP_ERROR_RANK_LOST naming the rank), never a hang: the ranks waiting
 * on it fail (their channels to it close: within the heartbeat timeout for
 * a host that stops answering, since spawned nodes take @router's), and
 * are given one #DpNode:heartbeat-timeout to end; then every node is
 * stopped, and the first error heard is returned.
 *
 * The whole job has a timeout, %DP_RMPI_DEFAULT_TIMEOUT_MS (one hour);
 * dp_rmpi_launch_full() sets another and takes a #GCancellable.
 *
 * ```c
 * g_autofree char *defaults = dp_rmpi_build_default_config ("rmpi-sample", "rank_main", NULL);
 * g_autofree char *config = dp_rmpi_make_localhost_config (defaults, 5, 0, NULL);
 * g_autoptr(GVariant) results = dp_rmpi_launch (router, config, NULL, &error);
 * ```
 *
 * Returns: (transfer full) (nullable): an `av`: each rank's result as given
 *   to dp_rmpi_finish() (`()` for none), in rank order
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_launch (DpNode               *router,
                const char           *config,
                const DpSpawnOptions *options,
                GError              **error)
{
  return dp_rmpi_launch_full (router, config, options, 0, NULL, error);
}

/**
 * dp_rmpi_launch_full:
 * @router: the master's #DpNode
 * @config: an RMPI config (JSON text; see dp_rmpi_check_config())
 * @options: (nullable): how to spawn the nodes (plugin dirs, ssh config…)
 * @timeout_ms: how long the whole job may take, counted from this call, in
 *   milliseconds; 0 for %DP_RMPI_DEFAULT_TIMEOUT_MS
 * @cancellable: (nullable): a #GCancellable (from any thread)
 * @error: return location for a #GError
 *
 * dp_rmpi_launch() with a timeout and a cancellable. A job that has not
 * finished when @timeout_ms has passed fails with %DP_ERROR_TIMED_OUT
 * naming the ranks that had not called dp_rmpi_finish(); one cancelled
 * through @cancellable fails with %G_IO_ERROR_CANCELLED. Either way every
 * node of the job is stopped before this returns. (The spawn of the nodes
 * is bounded by @options' ready timeout as well, and is not interrupted:
 * the timeout is checked when it ends.)
 *
 * ```c
 * // a job that must be done within a minute
 * g_autoptr(GVariant) results = dp_rmpi_launch_full (router, config, NULL, 60000, NULL, &error);
 * if (results == NULL && g_error_matches (error, DP_ERROR, DP_ERROR_TIMED_OUT))
 *   g_printerr ("too slow: %s\n", error->message);
 * ```
 *
 * Returns: (transfer full) (nullable): as dp_rmpi_launch()
 *
 * Since: 1.0
 */
GVariant *
dp_rmpi_launch_full (DpNode               *router,
                     const char           *config,
                     const DpSpawnOptions *options,
                     guint                 timeout_ms,
                     GCancellable         *cancellable,
                     GError              **error)
{
  g_autoptr(GArray) ranks = NULL;
  g_autoptr(GArray) descs = g_array_new (FALSE, TRUE, sizeof (DpNodeDesc));
  g_autoptr(GHashTable) node_of = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) nodes = NULL;
  g_autoptr(GPtrArray) rcs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GAsyncQueue) events = NULL;
  g_autofree GThread **threads = NULL;
  g_autofree GVariant **results = NULL;
  g_autoptr(GVariant) table = NULL;
  g_autoptr(GCancellable) job = g_cancellable_new ();
  Deadline deadline = { 0 };
  gulong caller_handler = 0, job_handler = 0;
  GVariantBuilder tb;
  GError *failure = NULL;
  guint n, finished = 0, ended = 0;

  g_return_val_if_fail (DP_IS_NODE (router), NULL);
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  ranks = parse_config (config, error);
  if (ranks == NULL)
    return NULL;
  n = ranks->len;
  if (timeout_ms == 0)
    timeout_ms = DP_RMPI_DEFAULT_TIMEOUT_MS;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* one node per host:port, or per rank with port 0 */
  for (guint i = 0; i < n; i++)
    {
      Rank *r = &g_array_index (ranks, Rank, i);
      g_autofree char *key = r->port ? g_strdup_printf ("%s:%u", r->host, r->port)
                                     : g_strdup_printf ("#%u", i);
      gpointer idx;

      if (g_hash_table_lookup_extended (node_of, key, NULL, &idx))
        r->node = GPOINTER_TO_UINT (idx);
      else
        {
          DpNodeDesc d = { r->host, r->port, options };

          r->node = descs->len;
          g_array_append_val (descs, d);
          g_hash_table_insert (node_of, g_steal_pointer (&key), GUINT_TO_POINTER (r->node));
        }
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "rmpi-launch",
                    "MESSAGE", "rmpi: launching %u ranks on %u nodes", n, descs->len);
  /* from here the time runs: @job is cancelled when it is up, or when
   * the caller cancels */
  deadline_start (&deadline, timeout_ms, job);
  if (cancellable)
    caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_job), job, NULL);
  nodes = dp_spawn_nodes_join (router, (DpNodeDesc *) descs->data, descs->len, &failure);
  if (nodes == NULL)
    goto stop;
  if (g_cancellable_is_cancelled (job))
    {
      failure = job_stopped (cancellable, timeout_ms, NULL, n);
      goto stop;
    }

  for (guint i = 0; i < n; i++)
    {
      Rank *r = &g_array_index (ranks, Rank, i);

      g_ptr_array_add (rcs, dp_remote_node_launch_place (nodes->pdata[r->node], r->plugin,
                                                         r->symbol, DP_LAUNCH_NONE, r->name));
    }
  for (guint i = 0; i < n; i++)
    {
      Rank *r = &g_array_index (ranks, Rank, i);

      if (g_cancellable_is_cancelled (job))
        {
          failure = job_stopped (cancellable, timeout_ms, NULL, n);
          goto stop;
        }
      if (!dp_remote_connection_wait_ready (rcs->pdata[i], NULL, &failure))
        {
          g_prefix_error (&failure, "rmpi: rank %u (%s.%s as '%s'): ", i, r->plugin, r->symbol, r->name);
          goto stop;
        }
    }
  g_variant_builder_init (&tb, G_VARIANT_TYPE ("a(sqs)"));
  for (guint i = 0; i < n; i++)
    {
      Rank *r = &g_array_index (ranks, Rank, i);
      /* where the other nodes dial it: the address this master reached it
       * at (the spawner's: loopback for a local node, the ssh config's
       * HostName for an alias, which the other nodes could not resolve) */
      g_autofree char *address = dp_remote_node_dup_address (nodes->pdata[r->node]);

      g_variant_builder_add (&tb, "(sqs)", address,
                             dp_remote_node_get_port (nodes->pdata[r->node]), r->name);
    }
  table = g_variant_ref_sink (g_variant_builder_end (&tb));

  events = g_async_queue_new ();
  threads = g_new0 (GThread *, n);
  results = g_new0 (GVariant *, n);
  for (guint i = 0; i < n; i++)
    {
      Rank *r = &g_array_index (ranks, Rank, i);

      dp_remote_connection_put (rcs->pdata[i],
                                g_variant_new ("(suu@a(sqs)@vs)", "rmpi-init", i, n, table,
                                               g_variant_new_variant (r->args), config));
      threads[i] = _dp_watch_connection (rcs->pdata[i], i, events, rank_is_done);
    }
  /* a cancellation (the time is up, or the caller's) is an event too (at
   * once if it came already) */
  job_handler = g_cancellable_connect (job, G_CALLBACK (wake_launcher), events, NULL);

  while (finished < n && failure == NULL)
    {
      DpWatchEvent *e = g_async_queue_pop (events);
      g_autoptr(GVariant) m = g_steal_pointer (&e->msg);
      guint rank = e->index;

      _dp_watch_event_free (e);
      if (rank == G_MAXUINT)
        failure = job_stopped (cancellable, timeout_ms, results, n);
      else if (m == NULL)
        {
          g_autofree char *detail = dp_remote_connection_dup_exit_detail (rcs->pdata[rank]);

          ended++;
          if (results[rank] == NULL)
            failure = g_error_new (DP_ERROR, DP_ERROR_RANK_LOST,
                                   "rank %u was lost before rmpi-finish: %s", rank,
                                   detail ? detail : "its channel closed");
        }
      else if (g_variant_is_of_type (m, G_VARIANT_TYPE ("(suv)")))
        {
          g_variant_get (m, "(&suv)", NULL, NULL, &results[rank]);
          finished++;
          ended++;
        }
      else if (g_variant_is_of_type (m, G_VARIANT_TYPE ("(sus)")))
        {
          const char *why;

          g_variant_get (m, "(&su&s)", NULL, NULL, &why);
          ended++;
          failure = g_error_new (DP_ERROR, DP_ERROR_RANK_LOST, "rank %u: %s", rank, why);
        }
      /* anything else a rank puts on its channel is not for the launcher */
    }

  /* After the first failure the other ranks get one heartbeat timeout to
   * end by themselves: those waiting on a rank lost with its host learn it
   * from their own channels within that time (the nodes hold each other to
   * the timeout their master gave them), fail with DP_ERROR_RANK_LOST
   * naming it and tell the launcher; what still runs then is stopped. */
  if (failure && ended < n)
    {
      gdouble hb_timeout = 0;
      gint64 grace_end;

      g_object_get (router, "heartbeat-timeout", &hb_timeout, NULL);
      grace_end = g_get_monotonic_time () + (gint64) (hb_timeout * G_USEC_PER_SEC);
      while (ended < n)
        {
          gint64 left = grace_end - g_get_monotonic_time ();
          DpWatchEvent *e = left > 0 ? g_async_queue_timeout_pop (events, (guint64) left) : NULL;

          if (e == NULL)
            break;
          if (e->msg == NULL || rank_is_done (e->msg))
            ended++;
          _dp_watch_event_free (e);
        }
    }

stop:
  if (job_handler)
    g_cancellable_disconnect (job, job_handler);
  if (caller_handler)
    g_cancellable_disconnect (cancellable, caller_handler);
  deadline_stop (&deadline);
  if (nodes == NULL)
    {
      g_propagate_error (error, failure);
      return NULL;
    }
  if (failure)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                        "DP_EVENT", "rmpi-launch-failed",
                        "MESSAGE", "rmpi: %s", failure->message);
      /* every rank still running goes with its node */
      for (guint i = 0; i < nodes->len; i++)
        dp_remote_node_terminate (nodes->pdata[i]);
    }
  /* every watcher ends: its rank finished, or its channel closed */
  if (threads)
    for (guint i = 0; i < n; i++)
      if (threads[i])
        g_thread_join (threads[i]);
  if (events)
    {
      DpWatchEvent *e;

      while ((e = g_async_queue_try_pop (events)) != NULL)
        _dp_watch_event_free (e);
    }
  if (failure == NULL)
    for (guint i = 0; i < nodes->len; i++)
      dp_remote_node_send_exit (nodes->pdata[i]);
  g_clear_pointer (&nodes, g_ptr_array_unref);
  if (failure)
    {
      if (results)
        for (guint i = 0; i < n; i++)
          g_clear_pointer (&results[i], g_variant_unref);
      g_propagate_error (error, failure);
      return NULL;
    }
  {
    GVariantBuilder b;

    g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
    for (guint i = 0; i < n; i++)
      {
        g_variant_builder_add (&b, "v", results[i]);
        g_variant_unref (results[i]);
      }
    (void) ended;
    return g_variant_ref_sink (g_variant_builder_end (&b));
  }
}
