/* dp-ssh-module.c: loading the ssh spawner on first use
 *
 * The ssh backend of DpNodeProcess lives in the module dp-ssh.so so that
 * nothing that does not spawn over ssh (every node, a master spawning local
 * nodes) loads libssh and the crypto libraries it brings
 * (dp-ssh-module-private.h says why and how). The first spawn over ssh
 * opens the module with GModule, hands it the table of what it may call in
 * libdp and receives its GType; the module then stays loaded for the life
 * of the process. A module that is missing or cannot be loaded fails that
 * spawn (DP_ERROR_SPAWN_FAILED, naming the file and why); the next spawn
 * over ssh tries again.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-node-process-private.h"
#include "dp-ssh-module-private.h"

#include <gmodule.h>

#ifndef DP_SSH_MODULE_PATH
# define DP_SSH_MODULE_PATH "/usr/local/lib/libdp-1.0/modules/dp-ssh.so"
#endif

static GMutex module_lock;
static GType ssh_type;            /* under @module_lock; set once */

const char *
_dp_ssh_module_path (void)
{
  const char *env = g_getenv ("DP_SSH_MODULE");

  return env && *env ? env : DP_SSH_MODULE_PATH;
}

/* what the module may call in libdp; static: the module keeps it */
static DpSshModuleImports imports = {
  .abi = DP_SSH_MODULE_ABI,
  .size = sizeof (DpSshModuleImports),
  .get_options = dp_node_process_get_options,
  .get_host_spec = _dp_node_process_get_host_spec,
  .get_host = dp_node_process_get_host,
  .take_streams = dp_node_process_take_streams,
  .start_failed = dp_node_process_start_failed,
  .notify_exited = dp_node_process_notify_exited,
  .error_from_gio = _dp_error_from_gio,
  .get_ssh_config = dp_spawn_options_get_ssh_config,
  .get_ssh_identity = dp_spawn_options_get_ssh_identity,
  .get_ssh_known_hosts = dp_spawn_options_get_ssh_known_hosts,
  .get_accept_new_host_key = dp_spawn_options_get_accept_new_host_key,
};

static GType
load_module (const char  *path,
             GError     **error)
{
  GModule *module;
  gpointer symbol = NULL;
  GType type;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_SPAWN_FAILED,
                   "cannot spawn over ssh: the ssh module %s does not exist "
                   "(libdp is not fully installed, or DP_SSH_MODULE is wrong)", path);
      return 0;
    }
  /* its own symbols (libssh's) stay out of the global scope */
  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_SPAWN_FAILED,
                   "cannot spawn over ssh: cannot load the ssh module %s: %s",
                   path, g_module_error ());
      return 0;
    }
  if (!g_module_symbol (module, DP_SSH_MODULE_ENTRY, &symbol) || symbol == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_SPAWN_FAILED,
                   "cannot spawn over ssh: %s is not libdp's ssh module (no %s)",
                   path, DP_SSH_MODULE_ENTRY);
      g_module_close (module);
      return 0;
    }
  imports.node_process_type = DP_TYPE_NODE_PROCESS;
  imports.error_domain = DP_ERROR;
  type = ((DpSshModuleInit) symbol) (&imports);
  if (type == 0 || !g_type_is_a (type, DP_TYPE_NODE_PROCESS))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_SPAWN_FAILED,
                   "cannot spawn over ssh: the ssh module %s is of another build of libdp",
                   path);
      /* it may have registered a type: never unloaded once called */
      g_module_make_resident (module);
      return 0;
    }
  g_module_make_resident (module);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "DP_EVENT", "ssh-module-loaded",
                    "MESSAGE", "loaded the ssh spawner from %s", path);
  return type;
}

GType
_dp_ssh_node_process_get_type (GError **error)
{
  GType type;

  g_mutex_lock (&module_lock);
  if (ssh_type == 0)
    ssh_type = load_module (_dp_ssh_module_path (), error);
  type = ssh_type;
  g_mutex_unlock (&module_lock);
  return type;
}
