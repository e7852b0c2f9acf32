/* logging: the seed's examples/logging/master.rkt, in C — what it means to
 * do (reference §10 E3), not what Racket 8.7 does (log records taken for
 * replies, every later reply shifted by one).
 *
 * As samples/named, with the servers' -logging builds, whose handlers call
 * dp_rpc_log_to_parent() (the seed's log-to-parent #:severity 'debug), no
 * hello, and the bank account user1. The records come to the root node as
 * LOG frames, never as replies; this master writes each on its standard
 * error, date-prefixed:
 *
 *   2026-11-30T23:59:59+0000 debug: user0 set to 100
 *
 * Standard output: 100 200 100 200 100 200 (created user1) (ok 10) (ok 5),
 * one per line. At +6 s the node is told to exit; at +8 s the master exits
 * with status 0.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sample-master.h"

#include <stdio.h>

typedef struct {
  DpNode             *router;
  DpRemoteNode       *node;
  DpRemoteConnection *tuple_server;
  DpRemoteConnection *bank;
} Logging;

/* the seed's intended format-log-message: the date, then the record */
static void
on_log (DpNode     *router,
        const char *from_node,
        const char *place,
        const char *severity,
        const char *message,
        gpointer    data)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *date = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S%z");

  fprintf (stderr, "%s %s: %s\n", date, severity, message);
  fflush (stderr);
}

static gboolean
use_servers (gpointer data)
{
  Logging *l = data;
  g_autoptr(DpRemoteConnection) c = dp_connect_to_named_place (l->node, TUPLE_SERVER_SERVER_NAME);
  g_autoptr(DpRemoteConnection) d = dp_connect_to_named_place (l->node, TUPLE_SERVER_SERVER_NAME);
  struct { DpRemoteConnection *via; const char *key; gint64 value; } sets[] = {
    { c, "user0", 100 }, { d, "user2", 200 },
  };
  struct { DpRemoteConnection *via; const char *key; } gets[] = {
    { c, "user0" }, { d, "user2" }, { d, "user0" }, { c, "user2" },
  };
  DpChannel *bank = DP_CHANNEL (l->bank);
  GVariant *result = NULL;
  GError *error = NULL;
  gboolean ok;

  for (guint i = 0; i < G_N_ELEMENTS (sets); i++)
    {
      ok = tuple_server_call_set_sync (DP_CHANNEL (sets[i].via), sets[i].key,
                                       g_variant_new_int64 (sets[i].value), &result, NULL, &error);
      sample_print (ok, result, error);
      g_clear_pointer (&result, g_variant_unref);
      g_clear_error (&error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (gets); i++)
    {
      ok = tuple_server_call_get_sync (DP_CHANNEL (gets[i].via), gets[i].key, &result, NULL, &error);
      sample_print (ok, result, error);
      g_clear_pointer (&result, g_variant_unref);
      g_clear_error (&error);
    }

  ok = bank_call_new_account_sync (bank, "user1", &result, NULL, &error);
  sample_print (ok, result, error);
  g_clear_pointer (&result, g_variant_unref);
  g_clear_error (&error);
  ok = bank_call_add_sync (bank, "user1", 10, &result, NULL, &error);
  sample_print (ok, result, error);
  g_clear_pointer (&result, g_variant_unref);
  g_clear_error (&error);
  ok = bank_call_removem_sync (bank, "user1", 5, &result, NULL, &error);
  sample_print (ok, result, error);
  g_clear_pointer (&result, g_variant_unref);
  g_clear_error (&error);
  return G_SOURCE_REMOVE;
}

static gboolean
die (gpointer data)
{
  Logging *l = data;

  dp_remote_node_send_exit (l->node);
  return G_SOURCE_REMOVE;
}

static gboolean
quit (gpointer data)
{
  Logging *l = data;

  dp_message_router_quit (l->router);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree char *host = NULL;
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Where to spawn the node (default localhost)", "HOST" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the seed's logging example");
  g_autoptr(GError) error = NULL;
  g_autoptr(DpNode) router = dp_node_new ();
  Logging l = { router, NULL, NULL, NULL };
  int status;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("logging: %s\n", error->message);
      return 2;
    }
  g_signal_connect (router, "log", G_CALLBACK (on_log), NULL);
  l.node = sample_spawn_node (router, host, &error);
  if (l.node == NULL)
    {
      g_printerr ("logging: %s\n", error->message);
      return 1;
    }
  l.tuple_server = dp_remote_node_launch_place (l.node, "tuple-server-logging", TUPLE_SERVER_PLACE_SYMBOL,
                                                DP_LAUNCH_NONE, TUPLE_SERVER_SERVER_NAME);
  l.bank = dp_remote_node_launch_place (l.node, "bank-logging", BANK_PLACE_SYMBOL, DP_LAUNCH_NONE, NULL);

  dp_message_router (router,
                     dp_after_seconds (2, use_servers, &l, NULL),
                     dp_after_seconds (6, die, &l, NULL),
                     dp_after_seconds (8, quit, &l, NULL),
                     NULL);

  status = sample_status ();
  dp_remote_node_terminate (l.node);
  dp_remote_node_wait_for_die (l.node, 10 * G_USEC_PER_SEC);
  g_clear_object (&l.tuple_server);
  g_clear_object (&l.bank);
  g_clear_object (&l.node);
  return status;
}
