/* dp-restart-policy.c: restart-on-exit, one policy for place and node handles
 *
 * A DpRemoteConnection (a place) and a DpRemoteNode (a node) are restarted
 * the same way; this is the one description of how.
 *
 * The policy is one of three, and setting one replaces the others:
 *
 *  - restart TRUE (the seed's `#:restart-on-exit #t`): relaunch at once,
 *    from the router thread — it needs nobody's main loop;
 *  - a DpRestarter (`restart-every`): after "died" has been emitted in the
 *    owner context, the restarter is asked; it restarts now, later, or
 *    gives up (and emits its "final-fail");
 *  - a DpRestartFunc (the seed's restart procedure): called in the owner
 *    context after "died", with the number the next restart would have; it
 *    calls the handle's _restart() if and when it wants to.
 *
 * What a handle emits, in its owner context: "died" for every death (a
 * death that will be restarted too), then "restarting" (@attempt: 1 for the
 * first restart, 2 for the second…) when the relaunch starts, then
 * "restarted" (@attempt) once the new incarnation runs. When the policy
 * gives up — a restarter that has, or no policy left when the owner context
 * acts — the death is final: a place's connection exits with "; the restart
 * policy gave up" added to its detail, the places waiting for a node end
 * with %DP_PLACE_EXIT_LOST. Each handle adds its own reasons never to
 * restart (a place that could not start, a connection closed by its user,
 * a node stopped on purpose); those are checked by the handle.
 *
 * Lock rule: a DpRestartPolicy is embedded in its handle and guarded by
 * the handle's own lock (given to _dp_restart_policy_init()); it has none
 * of its own. Functions named *_locked are called with that lock held
 * (checked with DP_ASSERT_LOCK_HELD); the others take it themselves and
 * call out — the restarter, the callback, a GDestroyNotify — only after
 * releasing it, so none of those can deadlock on the handle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

void
_dp_restart_policy_init (DpRestartPolicy *policy,
                         GMutex          *lock)
{
  *policy = (DpRestartPolicy) { .lock = lock };
}

/* The handle is being finalized: nobody else can reach it, no lock */
void
_dp_restart_policy_clear (DpRestartPolicy *policy)
{
  if (policy->restarter)
    dp_restarter_cancel (policy->restarter);
  g_clear_object (&policy->restarter);
  if (policy->func_notify)
    policy->func_notify (policy->func_data);
  policy->func = NULL;
  policy->func_data = NULL;
  policy->func_notify = NULL;
  policy->always = FALSE;
}

/* Replaces the whole policy (takes the lock). The old restarter is
 * cancelled and the old callback's data freed after the lock is released. */
void
_dp_restart_policy_set (DpRestartPolicy *policy,
                        gboolean         always,
                        DpRestarter     *restarter,
                        DpRestartFunc    func,
                        gpointer         func_data,
                        GDestroyNotify   func_notify)
{
  DpRestartPolicy old;

  g_mutex_lock (policy->lock);
  old = *policy;
  policy->always = always;
  policy->restarter = restarter ? g_object_ref (restarter) : NULL;
  policy->func = func;
  policy->func_data = func_data;
  policy->func_notify = func_notify;
  g_mutex_unlock (policy->lock);

  _dp_restart_policy_clear (&old);
}

/* What a death means now, as far as the policy goes */
DpRestartDecision
_dp_restart_policy_decide_locked (DpRestartPolicy *policy)
{
  DP_ASSERT_LOCK_HELD (policy->lock);
  if (policy->always)
    return DP_RESTART_NOW;
  if (policy->restarter && dp_restarter_has_given_up (policy->restarter))
    return DP_RESTART_NEVER;
  if (policy->restarter || policy->func)
    return DP_RESTART_OWNER;
  return DP_RESTART_NEVER;
}

guint
_dp_restart_policy_get_attempt_locked (DpRestartPolicy *policy)
{
  DP_ASSERT_LOCK_HELD (policy->lock);
  return policy->attempt;
}

/* A restart begins: its number */
guint
_dp_restart_policy_next_attempt_locked (DpRestartPolicy *policy)
{
  DP_ASSERT_LOCK_HELD (policy->lock);
  return ++policy->attempt;
}

guint
_dp_restart_policy_get_attempt (DpRestartPolicy *policy)
{
  guint attempt;

  g_mutex_lock (policy->lock);
  attempt = _dp_restart_policy_get_attempt_locked (policy);
  g_mutex_unlock (policy->lock);
  return attempt;
}

/* Owner context, after the handle emitted "died" for a death the policy
 * is to act on (DP_RESTART_OWNER): asks the restarter, which calls
 * @restart (@handle) now or later, or calls the callback. Restart TRUE was
 * done already, from the router thread. Returns FALSE when the policy has
 * given up (or was removed meanwhile): the death is final. */
gboolean
_dp_restart_policy_apply (DpRestartPolicy *policy,
                          GObject         *handle,
                          DpRestartFunc    restart)
{
  g_autoptr(DpRestarter) restarter = NULL;
  DpRestartFunc func;
  gpointer func_data;
  gboolean always;
  guint next;

  g_mutex_lock (policy->lock);
  always = policy->always;
  restarter = policy->restarter ? g_object_ref (policy->restarter) : NULL;
  func = policy->func;
  func_data = policy->func_data;
  next = policy->attempt + 1;
  g_mutex_unlock (policy->lock);

  if (always)
    return TRUE;
  if (restarter)
    {
      dp_restarter_request (restarter, restart, g_object_ref (handle), g_object_unref);
      return !dp_restarter_has_given_up (restarter);
    }
  if (func)
    {
      func (next, func_data);
      return TRUE;
    }
  return FALSE;
}
