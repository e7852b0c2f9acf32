/* dp-place.c: a place running in a thread of this process
 *
 * A place is a thread running a DpPlaceFunc with one end of a channel; the
 * other end belongs to whoever made it (the node's router binds it to the
 * connection that asked for the place).
 *
 * A place that crashes (abort(), a failed assertion, a bad pointer) must
 * not take the node and every other place with it. Place threads run with
 * an alternate signal stack and a jump buffer; the handler for the fatal
 * signals jumps back to the thread's start when the signal arrived on a
 * place thread, so the place is reported as crashed and the node goes on.
 * On any other thread the default action is restored and the signal raised
 * again, exactly as without libdp.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <setjmp.h>
#include <signal.h>
#include <string.h>

struct _DpPlace
{
  GObject            parent_instance;

  DpPlaceFunc        func;
  DpPlaceChannel    *child_end;
  DpPlaceChannel    *parent_end;
  GThread           *thread;

  GMutex             lock;
  GCond              cond;
  DpPlaceExit        exit;
  char              *detail;
  DpPlaceExitNotify  notify;
  gpointer           notify_data;
};

G_DEFINE_FINAL_TYPE (DpPlace, dp_place, G_TYPE_OBJECT)

static const int crash_signals[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL };
#define ALT_STACK_SIZE (64 * 1024)

static __thread sigjmp_buf *place_jump;
static __thread DpPlaceChannel *current_channel;

DpPlaceChannel *
_dp_place_get_current_channel (void)
{
  return current_channel;
}
static __thread volatile sig_atomic_t place_signal;

static void
crash_handler (int        sig,
               siginfo_t *info,
               void      *ucontext)
{
  if (place_jump != NULL)
    {
      sigjmp_buf *jump = place_jump;
      place_jump = NULL;
      place_signal = sig;
      siglongjmp (*jump, 1);
    }
  signal (sig, SIG_DFL);
  raise (sig);
}

void
_dp_place_install_crash_handlers (void)
{
  static gsize installed = 0;

  if (g_once_init_enter (&installed))
    {
      struct sigaction sa;

      memset (&sa, 0, sizeof sa);
      sa.sa_sigaction = crash_handler;
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
      sigemptyset (&sa.sa_mask);
      for (gsize i = 0; i < G_N_ELEMENTS (crash_signals); i++)
        sigaction (crash_signals[i], &sa, NULL);
      g_once_init_leave (&installed, 1);
    }
}

static void
place_finish (DpPlace     *self,
              DpPlaceExit  exit,
              char        *detail)
{
  DpPlaceExitNotify notify;
  gpointer notify_data;

  /* Everything the place put has been handed on; now the other side may
   * see it gone. */
  dp_place_channel_close (self->child_end);

  g_mutex_lock (&self->lock);
  self->exit = exit;
  self->detail = detail;
  notify = self->notify;
  notify_data = self->notify_data;
  self->notify = NULL;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  if (notify)
    notify (self, exit, self->detail, notify_data);
}

static gpointer
place_thread (gpointer data)
{
  DpPlace *self = data;
  sigjmp_buf jump;
  stack_t alt = { 0 }, old_alt = { 0 };
  void *alt_mem = g_malloc (ALT_STACK_SIZE);
  DpPlaceExit exit;
  char *detail;

  alt.ss_sp = alt_mem;
  alt.ss_size = ALT_STACK_SIZE;
  sigaltstack (&alt, &old_alt);

  if (sigsetjmp (jump, 1) == 0)
    {
      place_jump = &jump;
      current_channel = self->child_end;
      self->func (self->child_end);
      place_jump = NULL;
      exit = DP_PLACE_EXIT_RETURNED;
      detail = g_strdup ("returned");
    }
  else
    {
      int sig = place_signal;
      exit = DP_PLACE_EXIT_CRASHED;
      detail = g_strdup_printf ("killed by signal %d (%s)", sig, g_strsignal (sig));
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "DP_EVENT", "place-crashed",
                        "MESSAGE", "place crashed: %s", detail);
    }

  current_channel = NULL;
  alt.ss_flags = SS_DISABLE;
  sigaltstack (&alt, NULL);
  g_free (alt_mem);

  place_finish (self, exit, detail);
  g_object_unref (self);           /* the thread's reference */
  return NULL;
}

static void
dp_place_finalize (GObject *object)
{
  DpPlace *self = DP_PLACE (object);

  if (self->thread)
    g_thread_unref (self->thread);
  g_clear_object (&self->child_end);
  g_clear_object (&self->parent_end);
  g_free (self->detail);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (dp_place_parent_class)->finalize (object);
}

static void
dp_place_class_init (DpPlaceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_place_finalize;
}

static void
dp_place_init (DpPlace *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
}

DpPlace *
_dp_place_new_with_channel (DpPlaceFunc     func,
                            DpPlaceChannel *child_end,
                            DpPlaceChannel *parent_end)
{
  DpPlace *self = g_object_new (DP_TYPE_PLACE, NULL);
  g_autoptr(GError) error = NULL;

  _dp_place_install_crash_handlers ();
  self->func = func;
  self->child_end = child_end;
  self->parent_end = parent_end;
  self->exit = DP_PLACE_EXIT_RUNNING;
  self->thread = g_thread_try_new ("dp-place", place_thread, g_object_ref (self), &error);
  if (self->thread == NULL)
    {
      g_object_unref (self);     /* the thread's reference */
      place_finish (self, DP_PLACE_EXIT_FAILED,
                    g_strdup_printf ("cannot start a thread: %s", error->message));
    }
  return self;
}

void
_dp_place_set_exit_notify (DpPlace           *self,
                           DpPlaceExitNotify  notify,
                           gpointer           data)
{
  gboolean already;

  g_mutex_lock (&self->lock);
  already = self->exit != DP_PLACE_EXIT_RUNNING;
  if (!already)
    {
      self->notify = notify;
      self->notify_data = data;
    }
  g_mutex_unlock (&self->lock);
  if (already && notify)
    notify (self, self->exit, self->detail, data);
}

/**
 * dp_place_new:
 * @func: the body of the place
 *
 * Starts a place in a new thread of this process: `place` in the seed. Use
 * it in a place thunk (`--thunk`) to create the place the node is to run.
 *
 * Returns: (transfer full): the place
 */
DpPlace *
dp_place_new (DpPlaceFunc func)
{
  DpPlaceChannel *a, *b;

  g_return_val_if_fail (func != NULL, NULL);
  dp_place_channel_new_pair (&a, &b);
  return _dp_place_new_with_channel (func, b, a);
}

/**
 * dp_place_new_from_plugin:
 * @plugin: a plugin file, or a name found on `DP_PLUGIN_PATH`
 * @symbol: the place function it exports
 * @error: return location for a #GError
 *
 * `dynamic-place` in the seed: starts the place function @symbol of
 * @plugin in a new thread of this process.
 *
 * Returns: (transfer full) (nullable): the place, or %NULL with @error set
 */
DpPlace *
dp_place_new_from_plugin (const char  *plugin,
                          const char  *symbol,
                          GError     **error)
{
  g_auto(GStrv) dirs = _dp_plugin_default_dirs ();
  gpointer fn;

  g_return_val_if_fail (plugin != NULL && symbol != NULL, NULL);
  fn = _dp_plugin_lookup (plugin, symbol, (const char * const *) dirs, TRUE, error);
  if (fn == NULL)
    return NULL;
  return dp_place_new ((DpPlaceFunc) fn);
}

/**
 * dp_place_get_channel:
 * @self: a #DpPlace
 *
 * Returns: (transfer none): the creator's end of the place's channel
 */
DpPlaceChannel *
dp_place_get_channel (DpPlace *self)
{
  g_return_val_if_fail (DP_IS_PLACE (self), NULL);
  return self->parent_end;
}

/**
 * dp_place_wait:
 * @self: a #DpPlace
 *
 * Blocks until the place has exited: `place-wait`.
 *
 * Returns: how it ended
 */
DpPlaceExit
dp_place_wait (DpPlace *self)
{
  DpPlaceExit exit;

  g_return_val_if_fail (DP_IS_PLACE (self), DP_PLACE_EXIT_FAILED);
  g_mutex_lock (&self->lock);
  while (self->exit == DP_PLACE_EXIT_RUNNING)
    g_cond_wait (&self->cond, &self->lock);
  exit = self->exit;
  g_mutex_unlock (&self->lock);
  return exit;
}

/**
 * dp_place_get_exit:
 * @self: a #DpPlace
 *
 * Returns: how the place ended, or %DP_PLACE_EXIT_RUNNING
 */
DpPlaceExit
dp_place_get_exit (DpPlace *self)
{
  DpPlaceExit exit;

  g_return_val_if_fail (DP_IS_PLACE (self), DP_PLACE_EXIT_FAILED);
  g_mutex_lock (&self->lock);
  exit = self->exit;
  g_mutex_unlock (&self->lock);
  return exit;
}

/**
 * dp_place_get_exit_detail:
 * @self: a #DpPlace
 *
 * Returns: (nullable): a sentence on how the place ended, once it has
 */
const char *
dp_place_get_exit_detail (DpPlace *self)
{
  const char *detail;

  g_return_val_if_fail (DP_IS_PLACE (self), NULL);
  g_mutex_lock (&self->lock);
  detail = self->detail;
  g_mutex_unlock (&self->lock);
  return detail;
}

/**
 * dp_place_exit_to_string:
 * @exit: a #DpPlaceExit
 *
 * Returns: a short lower-case name for @exit ("returned", "crashed"…)
 */
const char *
dp_place_exit_to_string (DpPlaceExit exit)
{
  switch (exit)
    {
    case DP_PLACE_EXIT_RUNNING:  return "running";
    case DP_PLACE_EXIT_RETURNED: return "returned";
    case DP_PLACE_EXIT_CRASHED:  return "crashed";
    case DP_PLACE_EXIT_FAILED:   return "failed";
    case DP_PLACE_EXIT_LOST:     return "lost";
    default:                     return "unknown";
    }
}
