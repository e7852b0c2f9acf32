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
  DpRemoteNode       *node;
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

  sample_use_tuples (DP_CHANNEL (c), DP_CHANNEL (d));
  sample_use_bank (DP_CHANNEL (l->bank), "user1");
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autoptr(DpNode) router = dp_node_new ();
  g_autoptr(DpRemoteNode) node = NULL;
  g_autoptr(DpRemoteConnection) tuple_server = NULL;
  g_autoptr(DpRemoteConnection) bank = NULL;
  Logging l;
  int status = 0;

  g_signal_connect (router, "log", G_CALLBACK (on_log), NULL);
  node = sample_start (router, "- the seed's logging example", argc, argv, &status);
  if (node == NULL)
    return status;
  tuple_server = dp_remote_node_launch_place (node, "tuple-server-logging", TUPLE_SERVER_PLACE_SYMBOL,
                                              DP_LAUNCH_NONE, TUPLE_SERVER_SERVER_NAME);
  bank = dp_remote_node_launch_place (node, "bank-logging", BANK_PLACE_SYMBOL, DP_LAUNCH_NONE, NULL);
  l = (Logging) { node, bank };
  return sample_run (router, node, &l, 6, 8,
                     2.0, use_servers,
                     -1.0);
}
