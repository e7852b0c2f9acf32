/* dp-restarter.c: restart-every, a rate-limited restart policy
 *
 * The seed's `restart-every seconds #:retry n #:on-final-fail f`, with the
 * arithmetic of the original:
 *
 *  - at most one restart per @seconds: a thing that dies within @seconds
 *    of the last restart is restarted @seconds after its death;
 *  - a request that comes more than 2×@seconds after the last restart
 *    (the thing stayed up that long) starts the count afresh;
 *  - after @retry restarts, the next death is final: #DpRestarter::final-fail
 *    is emitted and nothing is restarted any more.
 *
 * With `retry = 3` the thing runs four times. Times are libdp time
 * (dp-clock.c), so tests can run it faster. A restarter may be shared by
 * several places; they then share its count. Signals and restarts happen
 * in the thread-default main context of the thread that made it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

struct _DpRestarter
{
  GObject        parent_instance;

  GMainContext  *context;
  gdouble        seconds;
  gint           retry;            /* < 0: unlimited */
  gdouble        last_attempt;     /* libdp time; -inf before the first */
  guint          retries;
  gboolean       given_up;
  GSource       *pending;
};

enum {
  PROP_0,
  PROP_SECONDS,
  PROP_RETRY,
  N_PROPS
};

enum {
  SIGNAL_FINAL_FAIL,
  SIGNAL_RESTARTING,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (DpRestarter, dp_restarter, G_TYPE_OBJECT)

typedef struct {
  DpRestarter    *self;
  DpRestartFunc   restart;
  gpointer        user_data;
  GDestroyNotify  notify;
} Request;

static void
request_free (gpointer data)
{
  Request *r = data;

  if (r->notify)
    r->notify (r->user_data);
  g_object_unref (r->self);
  g_free (r);
}

static void decide (DpRestarter *self, Request *r);

static gboolean
deferred_cb (gpointer data)
{
  Request *r = data;
  DpRestarter *self = r->self;
  Request *again = g_new0 (Request, 1);

  /* hand the request over to a fresh record: this source frees @r */
  *again = *r;
  again->self = g_object_ref (self);
  r->notify = NULL;
  g_clear_pointer (&self->pending, g_source_unref);
  decide (self, again);
  return G_SOURCE_REMOVE;
}

static void
decide (DpRestarter *self,
        Request     *r)
{
  gdouble now = dp_now ();

  if (!self->given_up && now - self->last_attempt > 2 * self->seconds)
    self->retries = 0;

  if (self->given_up || (self->retry >= 0 && self->retries >= (guint) self->retry))
    {
      gboolean first = !self->given_up;
      self->given_up = TRUE;
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "DP_EVENT", "final-fail",
                        "MESSAGE", "already retried to restart %u times; giving up", self->retries);
      request_free (r);
      if (first)
        g_signal_emit (self, signals[SIGNAL_FINAL_FAIL], 0);
      return;
    }

  if (now - self->last_attempt > self->seconds)
    {
      self->last_attempt = now;
      self->retries++;
      g_signal_emit (self, signals[SIGNAL_RESTARTING], 0, self->retries);
      r->restart (self->retries, r->user_data);
      request_free (r);
      return;
    }

  /* too soon: try again @seconds after this death */
  if (self->pending)
    {
      g_source_destroy (self->pending);
      g_clear_pointer (&self->pending, g_source_unref);
    }
  self->pending = dp_timeout_source_new (self->seconds);
  g_source_set_callback (self->pending, deferred_cb, r, request_free);
  g_source_attach (self->pending, self->context);
}

/**
 * dp_restarter_request:
 * @self: a #DpRestarter
 * @restart: does the restart
 * @user_data: data for @restart
 * @notify: (nullable): frees @user_data
 *
 * Something died: restart it now, later, or never, as the policy says.
 * Called by the supervision of places and nodes; usable for anything.
 *
 * Since: 1.0
 */
void
dp_restarter_request (DpRestarter    *self,
                      DpRestartFunc   restart,
                      gpointer        user_data,
                      GDestroyNotify  notify)
{
  Request *r;

  g_return_if_fail (DP_IS_RESTARTER (self));
  r = g_new0 (Request, 1);
  r->self = g_object_ref (self);
  r->restart = restart;
  r->user_data = user_data;
  r->notify = notify;
  decide (self, r);
}

/**
 * dp_restarter_cancel:
 * @self: a #DpRestarter
 *
 * Drops a deferred restart, if one is waiting.
 *
 * Since: 1.0
 */
void
dp_restarter_cancel (DpRestarter *self)
{
  g_return_if_fail (DP_IS_RESTARTER (self));
  if (self->pending)
    {
      g_source_destroy (self->pending);
      g_clear_pointer (&self->pending, g_source_unref);
    }
}

static void
dp_restarter_dispose (GObject *object)
{
  dp_restarter_cancel (DP_RESTARTER (object));
  G_OBJECT_CLASS (dp_restarter_parent_class)->dispose (object);
}

static void
dp_restarter_finalize (GObject *object)
{
  DpRestarter *self = DP_RESTARTER (object);

  g_main_context_unref (self->context);
  G_OBJECT_CLASS (dp_restarter_parent_class)->finalize (object);
}

static void
dp_restarter_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DpRestarter *self = DP_RESTARTER (object);

  switch (prop_id)
    {
    case PROP_SECONDS: g_value_set_double (value, self->seconds); break;
    case PROP_RETRY:   g_value_set_int (value, self->retry); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_restarter_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DpRestarter *self = DP_RESTARTER (object);

  switch (prop_id)
    {
    case PROP_SECONDS: self->seconds = g_value_get_double (value); break;
    case PROP_RETRY:   self->retry = g_value_get_int (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dp_restarter_class_init (DpRestarterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = dp_restarter_dispose;
  object_class->finalize = dp_restarter_finalize;
  object_class->get_property = dp_restarter_get_property;
  object_class->set_property = dp_restarter_set_property;

  /**
   * DpRestarter:seconds:
   *
   * At most one restart per this many seconds.
   *
   * Since: 1.0
   */
  properties[PROP_SECONDS] =
    g_param_spec_double ("seconds", NULL, NULL, 0, G_MAXDOUBLE, 1,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * DpRestarter:retry:
   *
   * How many restarts before giving up; -1 for no limit.
   *
   * Since: 1.0
   */
  properties[PROP_RETRY] =
    g_param_spec_int ("retry", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DpRestarter::final-fail:
   *
   * The policy gave up: the seed's `#:on-final-fail`.
   *
   * Since: 1.0
   */
  signals[SIGNAL_FINAL_FAIL] =
    g_signal_new ("final-fail", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * DpRestarter::restarting:
   * @restarter: the restarter
   * @attempt: the restart's number since the count was last reset
   *
   * A restart is being made now.
   *
   * Since: 1.0
   */
  signals[SIGNAL_RESTARTING] =
    g_signal_new ("restarting", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
dp_restarter_init (DpRestarter *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->last_attempt = -G_MAXDOUBLE;
  self->retry = -1;
}

/**
 * dp_restarter_new:
 * @seconds: at most one restart per @seconds
 * @retry: restarts before giving up, -1 for no limit
 *
 * Makes a restart policy for dp_remote_node_launch_place_with_restarter():
 * a restart at most once per @seconds, @retry times at most.
 *
 * Returns: (transfer full): a new #DpRestarter
 *
 * Since: 1.0
 */
DpRestarter *
dp_restarter_new (gdouble seconds,
                  gint    retry)
{
  return g_object_new (DP_TYPE_RESTARTER, "seconds", seconds, "retry", retry, NULL);
}

/**
 * dp_restart_every:
 * @seconds: at most one restart per @seconds
 * @retry: restarts before giving up, -1 for no limit
 * @on_final_fail: (nullable) (scope notified): connected to
 *   #DpRestarter::final-fail: `void (*) (DpRestarter *, gpointer)`
 * @user_data: data for @on_final_fail
 *
 * The seed's `restart-every`.
 *
 * Returns: (transfer full): a new #DpRestarter
 *
 * Since: 1.0
 */
DpRestarter *
dp_restart_every (gdouble    seconds,
                  gint       retry,
                  GCallback  on_final_fail,
                  gpointer   user_data)
{
  DpRestarter *self = dp_restarter_new (seconds, retry);

  if (on_final_fail)
    g_signal_connect (self, "final-fail", on_final_fail, user_data);
  return self;
}

/**
 * dp_restarter_get_seconds:
 * @self: a #DpRestarter
 *
 * The least time between two restarts (the #DpRestarter:seconds property).
 *
 * Returns: the seconds
 *
 * Since: 1.0
 */
gdouble
dp_restarter_get_seconds (DpRestarter *self)
{
  g_return_val_if_fail (DP_IS_RESTARTER (self), 0);
  return self->seconds;
}

/**
 * dp_restarter_get_retry:
 * @self: a #DpRestarter
 *
 * How many restarts are allowed (the #DpRestarter:retry property).
 *
 * Returns: the number, -1 for no limit
 *
 * Since: 1.0
 */
gint
dp_restarter_get_retry (DpRestarter *self)
{
  g_return_val_if_fail (DP_IS_RESTARTER (self), -1);
  return self->retry;
}

/**
 * dp_restarter_get_retries:
 * @self: a #DpRestarter
 *
 * How many restarts were made so far.
 *
 * Returns: the number
 *
 * Since: 1.0
 */
guint
dp_restarter_get_retries (DpRestarter *self)
{
  g_return_val_if_fail (DP_IS_RESTARTER (self), 0);
  return self->retries;
}

/**
 * dp_restarter_has_given_up:
 * @self: a #DpRestarter
 *
 * Whether the restarter has used up its restarts (then
 * #DpRestarter::final-fail was emitted).
 *
 * Returns: %TRUE once it has
 *
 * Since: 1.0
 */
gboolean
dp_restarter_has_given_up (DpRestarter *self)
{
  g_return_val_if_fail (DP_IS_RESTARTER (self), FALSE);
  return self->given_up;
}
