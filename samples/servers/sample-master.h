/* sample-master.h: what the masters of the RPC samples share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libdp/libdp.h>
#include "bank.h"
#include "tuple-server.h"
#include "sexp.h"

/* Parses the command line (--host) and spawns one node on that host (any
 * free port), with the sample servers' plugins on its plugin path and its
 * output copied to our standard output. NULL (the message printed) on
 * failure, with the exit status in @status. */
DpRemoteNode *sample_start      (DpNode       *router,
                                 const char   *summary,
                                 int           argc,
                                 char        **argv,
                                 int          *status);

/* Runs the router: each (seconds, GSourceFunc) pair after so many seconds,
 * with @data, until a negative number; the node is told to exit at @die_at
 * and the master stops at @quit_at. Then waits until the node has gone and
 * returns the exit status: 0, or 1 if a call failed. */
int           sample_run        (DpNode       *router,
                                 DpRemoteNode *node,
                                 gpointer      data,
                                 gdouble       die_at,
                                 gdouble       quit_at,
                                 ...);

/* The seed's bank calls: new-account, add 10, removeM 5, printing each
 * result: (created WHO) (ok 10) (ok 5) */
void          sample_use_bank   (DpChannel    *bank,
                                 const char   *who);

/* The seed's tuple-server calls on two connections: set c user0 100, set d
 * user2 200, get c user0, get d user2, get d user0, get c user2, printing
 * 100 200 100 200 100 200 */
void          sample_use_tuples (DpChannel    *c,
                                 DpChannel    *d);

/* Prints a call's result as the seed displays it, one per line, or the
 * error on stderr (and remembers that the sample failed); frees both. */
void          sample_print      (gboolean      ok,
                                 GVariant     *result,
                                 GError       *error);
