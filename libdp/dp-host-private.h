/* dp-host-private.h: the one reader of host strings (dp-host.c)
 *
 * Private to libdp and its programs (dp-launch, dp-node link dp-host.c's
 * object): never installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  DP_HOST_SPEC_DEFAULT   = 0,
  DP_HOST_SPEC_NODE_PORT = 1 << 0,   /* "HOST:PORT": a last ":port", the node's, is required */
} DpHostSpecFlags;

typedef struct {
  char    *user;       /* before the '@', or NULL */
  char    *host;       /* a name, an ssh config alias or an address (IPv6 without brackets) */
  guint16  ssh_port;   /* 0: not given (the ssh config's, else 22) */
  guint16  port;       /* DP_HOST_SPEC_NODE_PORT: the node's port, 0 for any */
} DpHostSpec;

DpHostSpec *_dp_host_spec_parse     (const char *text, DpHostSpecFlags flags, GError **error);
void        _dp_host_spec_free      (DpHostSpec *spec);
char       *_dp_host_spec_to_string (const DpHostSpec *spec);
gboolean    _dp_host_spec_is_local  (const DpHostSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DpHostSpec, _dp_host_spec_free)

G_END_DECLS
