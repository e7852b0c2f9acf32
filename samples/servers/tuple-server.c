/* The seed's tuple server (tuple.rkt), as the handlers of the server that
 * dp-codegen generates from tuple-server.json: a named place whose table
 * every client shares.
 *
 * Built twice: tuple-server.so, and tuple-server-logging.so with
 * SAMPLE_LOG_TO_PARENT (the seed's examples/logging), whose set logs
 * "KEY set to VALUE" to the root node at debug level.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "tuple-server.h"
#include "sexp.h"

#include <stdio.h>

DP_PLUGIN_DEFINE ("tuple-server", "The seed's tuple server (named, define-named-remote-server)",
                  "1.0", "LGPL-2.1-or-later")

struct _TupleServerState
{
  GHashTable *table;   /* key → GVariant */
};

TupleServerState *
tuple_server_state_new (void)
{
  TupleServerState *state = g_new0 (TupleServerState, 1);

  state->table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_variant_unref);
  return state;
}

void
tuple_server_state_free (TupleServerState *state)
{
  g_hash_table_unref (state->table);
  g_free (state);
}

gboolean
tuple_server_handle_set (TupleServerState  *state,
                         const gchar       *arg_k,
                         GVariant          *arg_v,
                         GVariant         **out_result,
                         GError           **error)
{
  g_hash_table_replace (state->table, g_strdup (arg_k), g_variant_ref (arg_v));
#ifdef SAMPLE_LOG_TO_PARENT
  {
    g_autofree char *text = sample_sexp (arg_v);
    dp_rpc_log_to_parent ("debug", "%s set to %s", arg_k, text);
  }
#endif
  *out_result = g_variant_ref (arg_v);
  return TRUE;
}

gboolean
tuple_server_handle_get (TupleServerState  *state,
                         const gchar       *arg_k,
                         GVariant         **out_result,
                         GError           **error)
{
  GVariant *v = g_hash_table_lookup (state->table, arg_k);

  /* the seed's hash-ref with a default of #f */
  *out_result = v ? g_variant_ref (v) : g_variant_new_boolean (FALSE);
  return TRUE;
}

void
tuple_server_handle_hello (TupleServerState *state)
{
  printf ("Hello from define-cast\n");
  fflush (stdout);
}
