/* dp-spawn-options.h: how a node is to be started
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib-object.h>
#include "dp-version-macros.h"

G_BEGIN_DECLS

/**
 * DpSpawnMethod:
 * @DP_SPAWN_AUTO: local for a host that names this machine (`localhost`,
 *   a loopback address such as `127.0.0.1` or `::1`, this machine's name)
 *   given without a user or an ssh port; ssh otherwise
 * @DP_SPAWN_LOCAL: start the node as a child process of this one
 * @DP_SPAWN_SSH: start the node over ssh (libssh), even on localhost
 *
 * How a node process is started.
 *
 * |[<!-- language="C" -->
 * g_autoptr(DpSpawnOptions) o = dp_spawn_options_new ();
 *
 * // over ssh even on this machine (to test the ssh path)
 * dp_spawn_options_set_method (o, DP_SPAWN_SSH);
 * node = dp_remote_node_spawn (router, "localhost", 0, o, NULL, &error);
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_SPAWN_AUTO,
  DP_SPAWN_LOCAL,
  DP_SPAWN_SSH,
} DpSpawnMethod;

/**
 * DpSpawnOutput:
 * @DP_SPAWN_OUTPUT_STDOUT: copy what the node's places print to our stdout
 * @DP_SPAWN_OUTPUT_STDERR: copy it to our stderr
 * @DP_SPAWN_OUTPUT_LOG: log each line (at info level, with the node's address)
 * @DP_SPAWN_OUTPUT_DISCARD: drop it
 *
 * Where the standard output of a spawned node goes once it is ready. Its
 * standard error (the node's log) always goes to our log.
 *
 * |[<!-- language="C" -->
 * g_autoptr(DpSpawnOptions) o = dp_spawn_options_new ();
 *
 * // what the places print becomes log records naming the node
 * dp_spawn_options_set_output (o, DP_SPAWN_OUTPUT_LOG);
 * node = dp_remote_node_spawn (router, "rack1", 0, o, NULL, &error);
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_SPAWN_OUTPUT_STDOUT,
  DP_SPAWN_OUTPUT_STDERR,
  DP_SPAWN_OUTPUT_LOG,
  DP_SPAWN_OUTPUT_DISCARD,
} DpSpawnOutput;

typedef struct _DpSpawnOptions DpSpawnOptions;

/**
 * DpSpawnOptions:
 *
 * How a node (or any program, see #DpSpawnedProcess) is spawned: locally
 * or over ssh (%DP_SPAWN_AUTO picks ssh for any host that is not this
 * machine), which `dp-node` program, which plugin directories the node may
 * load from, where the node's output goes, how long to wait for it to be
 * ready, and the ssh settings (config file, identity, known hosts, whether
 * a new host key may be accepted). A boxed type: copied by value, freed
 * with dp_spawn_options_free().
 *
 * Threads: not thread-safe; the spawn functions take a copy.
 *
 * ```c
 * g_autoptr(DpSpawnOptions) o = dp_spawn_options_new ();
 *
 * dp_spawn_options_add_plugin_dir (o, "/opt/places");
 * dp_spawn_options_set_ssh_config (o, "/home/alice/cluster.conf");
 * dp_spawn_options_set_output (o, DP_SPAWN_OUTPUT_STDOUT);   // places' printf here
 * dp_spawn_options_set_ready_timeout (o, 60000);             // a slow host
 * node = dp_remote_node_spawn (router, "rack1:0", 0, o, NULL, &error);
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_SPAWN_OPTIONS (dp_spawn_options_get_type ())
DP_AVAILABLE_IN_1_0
GType           dp_spawn_options_get_type   (void) G_GNUC_CONST;
DP_AVAILABLE_IN_1_0
DpSpawnOptions *dp_spawn_options_new        (void);
DP_AVAILABLE_IN_1_0
DpSpawnOptions *dp_spawn_options_copy       (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_free       (DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_method (DpSpawnOptions *self,
                                             DpSpawnMethod   method);
DP_AVAILABLE_IN_1_0
DpSpawnMethod   dp_spawn_options_get_method (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_node_path (DpSpawnOptions *self,
                                                const char     *node_path);
DP_AVAILABLE_IN_1_0
const char     *dp_spawn_options_get_node_path (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_add_plugin_dir (DpSpawnOptions *self,
                                                 const char     *dir);
DP_AVAILABLE_IN_1_0
const char * const *dp_spawn_options_get_plugin_dirs (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_listen_address (DpSpawnOptions *self,
                                                     const char     *address);
DP_AVAILABLE_IN_1_0
const char     *dp_spawn_options_get_listen_address (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_output (DpSpawnOptions *self,
                                             DpSpawnOutput   output);
DP_AVAILABLE_IN_1_0
DpSpawnOutput   dp_spawn_options_get_output (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_ready_timeout (DpSpawnOptions *self,
                                                    guint           timeout_ms);
DP_AVAILABLE_IN_1_0
guint           dp_spawn_options_get_ready_timeout (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_accept_new_host_key (DpSpawnOptions *self,
                                                          gboolean        accept);
DP_AVAILABLE_IN_1_0
gboolean        dp_spawn_options_get_accept_new_host_key (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_ssh_identity (DpSpawnOptions *self,
                                                   const char     *identity_file);
DP_AVAILABLE_IN_1_0
const char     *dp_spawn_options_get_ssh_identity (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_ssh_known_hosts (DpSpawnOptions *self,
                                                      const char     *known_hosts_file);
DP_AVAILABLE_IN_1_0
const char     *dp_spawn_options_get_ssh_known_hosts (const DpSpawnOptions *self);
DP_AVAILABLE_IN_1_0
void            dp_spawn_options_set_ssh_config (DpSpawnOptions *self,
                                                 const char     *config_file);
DP_AVAILABLE_IN_1_0
const char     *dp_spawn_options_get_ssh_config (const DpSpawnOptions *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DpSpawnOptions, dp_spawn_options_free)

G_END_DECLS
