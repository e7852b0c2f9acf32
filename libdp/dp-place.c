/* dp-place.c: a place running in a thread of this process
 *
 * A place is a thread running a DpPlaceFunc with one end of a channel; the
 * other end belongs to whoever made it (the node's router binds it to the
 * connection that asked for the place).
 *
 * Crashes. Native code cannot be resumed after a fatal signal (a bad
 * pointer, abort(), a failed assertion): whatever locks the crashing code
 * held — libdp's, GLib's, malloc's — stay held. So a crash in a place
 * thread ends its process at once. The handler for the fatal signals
 * (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP; on the place thread's
 * alternate stack, so a stack overflow is caught too) does only
 * async-signal-safe work: it formats one line from data fixed when the
 * place started and write(2)s it to standard error,
 *
 *   error: crash pid=PID channel=CHANNEL signal=N: place SYMBOL crashed: killed by signal N (SIGSEGV)
 *
 * (channel 0 and "crashed outside any place" when the signal hit a thread
 * that runs no place), then puts back the default action and raises the
 * signal again, so that the process dies of that signal (under a sanitizer
 * too: its own report of the fault is replaced by this line). A node's master reads this line from the node's
 * standard error before it sees the node's connection close (the line is
 * written before the process dies), and reports that place as
 * DP_PLACE_EXIT_CRASHED with the signal; the node itself dies and its
 * restart policy, if any, brings it back (dp-remote-node.c). A place that
 * must not take its node down is launched isolated (DP_LAUNCH_ISOLATE,
 * dp-node-server.c): in a process of its own.
 *
 * Thunks. A thunk (DpPlaceThunk, DP_LAUNCH_THUNK) runs on the place's own
 * thread, never on the router: _dp_place_start() with a thunk starts the
 * thread, which calls the thunk; dp_place_new() called there does not start
 * another thread but returns a place to be run by this one, whose function
 * then runs on this thread with the place's channel. A thunk that returns
 * anything else (NULL, a place made elsewhere) fails the place
 * (DP_PLACE_EXIT_FAILED); one that blocks delays only its place; one that
 * crashes is that place's crash.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define CRASH_SYMBOL_MAX 96

struct _DpPlace
{
  GObject            parent_instance;

  /* immutable after construction */
  DpPlaceFunc        func;
  DpPlaceThunk       thunk;          /* a thunk host: the thread calls it first */
  DpPlaceStartedFunc started;        /* called on the place's thread once a thunk gave a place */
  gpointer           started_data;
  GDestroyNotify     started_free;
  DpPlaceChannel    *child_end;
  DpPlaceChannel    *parent_end;
  GThread           *thread;
  guint32            crash_channel;  /* read by the crash handler */
  char               crash_symbol[CRASH_SYMBOL_MAX];

  /* the place's thread only */
  DpPlace           *made;           /* not a ref: what dp_place_new() returned in the thunk */

  GMutex             lock;
  GCond              cond;
  DpPlaceExit        exit;           /* under @lock */
  char              *detail;         /* under @lock; immutable once exit is set */
  DpPlaceExitNotify  notify;         /* under @lock */
  gpointer           notify_data;    /* under @lock */
};

G_DEFINE_FINAL_TYPE (DpPlace, dp_place, G_TYPE_OBJECT)

/* SIGTRAP: G_BREAKPOINT (), which a fatal GLib message may end in */
static const int crash_signals[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };
static const char * const crash_signal_names[] = { "SIGABRT", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP" };
#define ALT_STACK_SIZE (64 * 1024)

/* the place running on this thread (the thread holds a ref): read by the
 * crash handler, so only ever a plain pointer set by this thread */
static __thread DpPlace *current_place;
/* set while this thread runs a thunk: dp_place_new() makes a place for it */
static __thread DpPlace *thunk_host;

DpPlaceChannel *
_dp_place_get_current_channel (void)
{
  return current_place ? current_place->child_end : NULL;
}

/* A place's thread that runs its node's router for a while (a reader
 * leading the router's context, see DpSharedLoop) is no place meanwhile:
 * what the router logs or does is not the place's. Returns what to give
 * back to _dp_place_resume_thread(). */
gpointer
_dp_place_suspend_thread (void)
{
  DpPlace *place = current_place;

  current_place = NULL;
  return place;
}

void
_dp_place_resume_thread (gpointer place)
{
  current_place = place;
}

/* ---- the crash handler: async-signal-safe code only ---- */

static void
put_str (char *buf, gsize *n, gsize cap, const char *s)
{
  while (*s && *n < cap)
    buf[(*n)++] = *s++;
}

static void
put_uint (char *buf, gsize *n, gsize cap, unsigned long v)
{
  char digits[24];
  int i = 0;

  do
    digits[i++] = (char) ('0' + v % 10);
  while ((v /= 10) != 0);
  while (i > 0 && *n < cap)
    buf[(*n)++] = digits[--i];
}

static void
crash_handler (int        sig,
               siginfo_t *info,
               void      *ucontext)
{
  DpPlace *place = current_place;
  const char *name = "a fatal signal";
  char line[320];
  gsize n = 0, cap = sizeof line - 1;

  for (gsize i = 0; i < G_N_ELEMENTS (crash_signals); i++)
    if (crash_signals[i] == sig)
      name = crash_signal_names[i];

  put_str (line, &n, cap, "error: crash pid=");
  put_uint (line, &n, cap, (unsigned long) getpid ());
  put_str (line, &n, cap, " channel=");
  put_uint (line, &n, cap, place ? place->crash_channel : 0);
  put_str (line, &n, cap, " signal=");
  put_uint (line, &n, cap, (unsigned long) sig);
  if (place)
    {
      put_str (line, &n, cap, ": place ");
      put_str (line, &n, cap, place->crash_symbol);
      put_str (line, &n, cap, " crashed");
    }
  else
    put_str (line, &n, cap, ": crashed outside any place");
  put_str (line, &n, cap, ": killed by signal ");
  put_uint (line, &n, cap, (unsigned long) sig);
  put_str (line, &n, cap, " (");
  put_str (line, &n, cap, name);
  put_str (line, &n, cap, ")");
  line[n++] = '\n';
  for (gsize done = 0; done < n;)
    {
      ssize_t w = write (STDERR_FILENO, line + done, n - done);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        break;
      done += (gsize) w;
    }

  /* Die of it: the default action, raised again at once (SA_NODEFER); a
   * fault that comes back on return from here finds it too. Not the action
   * the signal had before ours: under a sanitizer that would be its report,
   * ending the process with another signal (SIGABRT) than the place's. */
  {
    struct sigaction dfl;

    memset (&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset (&dfl.sa_mask);
    sigaction (sig, &dfl, NULL);
  }
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

/* ---- life of a place ---- */

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

/* The place's thread: calls the thunk, if any, and takes the function of
 * the place it made; returns NULL with @detail set when it made none. */
static DpPlaceFunc
run_thunk (DpPlace  *self,
           char    **detail)
{
  DpPlace *made;
  DpPlaceFunc func;

  thunk_host = self;
  made = self->thunk ();
  thunk_host = NULL;
  /* compared, never dereferenced: a symbol that is no thunk returns junk */
  if (made == NULL || made != self->made)
    {
      *detail = g_strdup_printf ("thunk '%s' did not return a place%s", self->crash_symbol,
                                 made ? " it made with dp_place_new()" : "");
      return NULL;
    }
  func = made->func;
  self->made = NULL;
  g_object_unref (made);
  if (self->started)
    self->started (self, self->started_data);
  return func;
}

static gpointer
place_thread (gpointer data)
{
  DpPlace *self = data;
  stack_t alt = { 0 }, old_alt = { 0 };
  void *alt_mem = g_malloc (ALT_STACK_SIZE);
  DpPlaceFunc func = self->func;
  DpPlaceExit exit = DP_PLACE_EXIT_RETURNED;
  char *detail = NULL;

  alt.ss_sp = alt_mem;
  alt.ss_size = ALT_STACK_SIZE;
  sigaltstack (&alt, &old_alt);
  current_place = self;

  if (self->thunk)
    func = run_thunk (self, &detail);
  if (func)
    {
      func (self->child_end);
      detail = g_strdup ("returned");
    }
  else
    exit = DP_PLACE_EXIT_FAILED;

  current_place = NULL;
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
  if (self->started_free)
    self->started_free (self->started_data);
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
_dp_place_start (const DpPlaceStart *how,
                 DpPlaceChannel     *child_end,
                 DpPlaceChannel     *parent_end)
{
  DpPlace *self = g_object_new (DP_TYPE_PLACE, NULL);
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail ((how->func != NULL) != (how->thunk != NULL), NULL);
  _dp_place_install_crash_handlers ();
  self->func = how->func;
  self->thunk = how->thunk;
  self->started = how->started;
  self->started_data = how->started_data;
  self->started_free = how->started_free;
  self->crash_channel = how->channel;
  g_strlcpy (self->crash_symbol, how->symbol ? how->symbol : "(anonymous)", sizeof self->crash_symbol);
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

DpPlace *
_dp_place_new_with_channel (DpPlaceFunc     func,
                            DpPlaceChannel *child_end,
                            DpPlaceChannel *parent_end)
{
  DpPlaceStart how = { .func = func };

  return _dp_place_start (&how, child_end, parent_end);
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
 * @func: (scope forever): the body of the place
 *
 * Starts a place in a new thread of this process: `place` in the seed.
 *
 * In a place thunk (%DP_LAUNCH_THUNK) it starts no thread: the thunk runs
 * on the thread of the place being launched, and the place it returns runs
 * there, with the channel of the launch. The channel of the place it
 * returns is then %NULL until the thunk returns.
 *
 * Returns: (transfer full): the place
 *
 * Since: 1.0
 */
DpPlace *
dp_place_new (DpPlaceFunc func)
{
  DpPlaceChannel *a, *b;

  g_return_val_if_fail (func != NULL, NULL);
  if (thunk_host != NULL && thunk_host->made == NULL)
    {
      DpPlace *self = g_object_new (DP_TYPE_PLACE, NULL);

      self->func = func;
      self->exit = DP_PLACE_EXIT_RUNNING;
      thunk_host->made = self;
      return self;
    }
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
 *
 * Since: 1.0
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
 * The creator's end of the channel to the place: what is put there is got
 * by the place.
 *
 * Returns: (transfer none): the creator's end of the place's channel
 *
 * Since: 1.0
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
 *
 * Since: 1.0
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
 * How the place ended, or %DP_PLACE_EXIT_RUNNING while it runs.
 *
 * Returns: how the place ended, or %DP_PLACE_EXIT_RUNNING
 *
 * Since: 1.0
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
 * A sentence on how the place ended (the error or the signal), for
 * messages to a user.
 *
 * Returns: (nullable): a sentence on how the place ended, once it has
 *
 * Since: 1.0
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
 * A short name for @exit, for messages and logs.
 *
 * Returns: a short lower-case name for @exit ("returned", "crashed"…)
 *
 * Since: 1.0
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
