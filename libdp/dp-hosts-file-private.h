/* dp-hosts-file-private.h: a cluster's hosts, from a JSON file
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "dp-version-macros.h"
#include "dp-spawn-options.h"

G_BEGIN_DECLS

/* One host of a hosts file: where a node goes and how it is spawned */
typedef struct {
  char           *name;
  char           *host;      /* as the spawn calls take it: [user@]host[:sshport] */
  guint16         port;      /* the node's port, 0: any */
  DpSpawnOptions *options;
} DpHostsEntry;

/* The hosts of @path (see dp-hosts-file.c), in file order, as an array of
 * DpHostsEntry; NULL with an error naming the file, the host and what is
 * wrong */
GPtrArray          *_dp_hosts_file_load   (const char *path, GError **error);
const DpHostsEntry *_dp_hosts_file_lookup (GPtrArray *hosts, const char *name);

G_END_DECLS
