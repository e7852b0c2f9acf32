/* sample-master.h: what the masters of the RPC samples share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libdp/libdp.h>
#include "bank.h"
#include "tuple-server.h"
#include "sexp.h"

/* Spawns one node on @host (NULL: localhost), any free port, with the
 * sample servers' plugins on its plugin path and its output copied to our
 * standard output. */
DpRemoteNode *sample_spawn_node (DpNode      *router,
                                 const char  *host,
                                 GError     **error);

/* Prints a call's result as the seed displays it, one per line, or the
 * error on stderr (and remembers that the sample failed). */
void          sample_print      (gboolean     ok,
                                 GVariant    *result,
                                 GError      *error);

/* 0, or 1 once sample_print() has seen an error */
int           sample_status     (void);
