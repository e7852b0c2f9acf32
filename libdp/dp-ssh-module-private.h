/* dp-ssh-module-private.h: the ssh spawner, a module loaded on first use
 *
 * The ssh backend of DpNodeProcess (dp-ssh-node-process.c) links libssh,
 * and libssh brings OpenSSL and Kerberos: some fifteen libraries that a node
 * never needs and that every process linking them pays for at start-up
 * (mapping, relocating and faulting them in). So the backend is not part of
 * libdp: it is built as the module `dp-ssh.so`, which libdp opens (GModule)
 * the first time a node is spawned over ssh (dp-ssh-module.c). A node, and
 * a master that only spawns local nodes, never map libssh.
 *
 * Where the module is: $DP_SSH_MODULE (a file; the build tree's tests and
 * benchmarks set it), else the installed DP_SSH_MODULE_PATH
 * (LIBDIR/libdp-1.0/modules/dp-ssh.so).
 *
 * The module links GLib, GIO and libssh only, never libdp: libdp's
 * internals (hidden symbols) reach it through the table below, filled by
 * libdp and handed to the module's one exported function. So the module
 * works the same in libdp-1.0.so and in a program that links libdp's
 * internals statically (the tests), and binds to that program's one copy of
 * DpNodeProcess.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include "dp-host-private.h"
#include "dp-spawn-options.h"

G_BEGIN_DECLS

typedef struct _DpNodeProcess DpNodeProcess;

/* Bumped whenever the table changes; the module refuses another one */
#define DP_SSH_MODULE_ABI 1
#define DP_SSH_MODULE_ENTRY "dp_ssh_module_init"

typedef struct {
  guint     abi;                       /* DP_SSH_MODULE_ABI */
  gsize     size;                      /* sizeof (DpSshModuleImports) */

  GType     node_process_type;         /* the parent class: DP_TYPE_NODE_PROCESS */
  GQuark    error_domain;              /* DP_ERROR */

  /* dp-node-process-private.h, for backends */
  const DpSpawnOptions * (*get_options)   (DpNodeProcess *process);
  const DpHostSpec *     (*get_host_spec) (DpNodeProcess *process);
  const char *           (*get_host)      (DpNodeProcess *process);
  void (*take_streams)  (DpNodeProcess *process,
                         GOutputStream *stdin_pipe,
                         GInputStream  *stdout_pipe,
                         GInputStream  *stderr_pipe);
  void (*start_failed)  (DpNodeProcess *process,
                         GError        *error);
  void (*notify_exited) (DpNodeProcess *process,
                         int            status,
                         const char    *reason);

  /* dp-private.h */
  GError * (*error_from_gio) (const GError *gio_error,
                              const char   *what);

  /* dp-spawn-options.h */
  const char * (*get_ssh_config)          (const DpSpawnOptions *options);
  const char * (*get_ssh_identity)        (const DpSpawnOptions *options);
  const char * (*get_ssh_known_hosts)     (const DpSpawnOptions *options);
  gboolean     (*get_accept_new_host_key) (const DpSpawnOptions *options);
} DpSshModuleImports;

/* The module's one export: registers its DpNodeProcess subclass and
 * returns its GType, or 0 when @imports is not of the module's ABI */
typedef GType (*DpSshModuleInit) (const DpSshModuleImports *imports);

/* libdp (dp-ssh-module.c): the ssh backend's GType, the module loaded on
 * the first call (any thread); 0 and DP_ERROR_SPAWN_FAILED naming the file
 * when it cannot be loaded */
GType _dp_ssh_node_process_get_type (GError **error);
/* the file the module is loaded from ($DP_SSH_MODULE or the installed one) */
const char *_dp_ssh_module_path (void);

G_END_DECLS
