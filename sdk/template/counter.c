/* An RPC server plugin, ready to copy: the handlers of counter.json.
 *
 * dp-codegen writes counter.h, counter-server.c (the place function
 * make_counter and the dispatch to these handlers) and counter-client.c
 * (counter_call_add_sync, _async, _finish and counter_cast_reset, for a
 * master or another place); meson.build shows how.
 *
 *   g_autoptr(DpRemoteConnection) c =
 *     dp_remote_node_launch_place (node, "counter", COUNTER_PLACE_SYMBOL, DP_LAUNCH_NONE, NULL);
 *   gint64 total;
 *   counter_call_add_sync (DP_CHANNEL (c), 5, &total, NULL, &error);   // total = 5
 *
 * SPDX-License-Identifier: CC0-1.0
 */
#include "counter.h"

DP_PLUGIN_DEFINE ("counter", "Counts (an RPC server)", "0.1", "CC0-1.0")

struct _CounterState
{
  gint64 total;
};

CounterState *
counter_state_new (void)
{
  return g_new0 (CounterState, 1);
}

void
counter_state_free (CounterState *state)
{
  g_free (state);
}

gboolean
counter_handle_add (CounterState  *state,
                    gint64         arg_n,
                    gint64        *out_result,
                    GError       **error)
{
  if (arg_n < 0)
    {
      /* reaches the caller as this GError */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "cannot add %" G_GINT64_FORMAT, arg_n);
      return FALSE;
    }
  state->total += arg_n;
  *out_result = state->total;
  return TRUE;
}

void
counter_handle_reset (CounterState *state)
{
  state->total = 0;
}
