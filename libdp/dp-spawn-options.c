/* dp-spawn-options.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

struct _DpSpawnOptions
{
  DpSpawnMethod  method;
  char          *node_path;
  GPtrArray     *plugin_dirs;
  char          *listen_address;
  DpSpawnOutput  output;
  guint          ready_timeout_ms;
  gboolean       accept_new_host_key;
  char          *ssh_identity;
  char          *ssh_known_hosts;
  char          *ssh_config;
};

G_DEFINE_BOXED_TYPE (DpSpawnOptions, dp_spawn_options,
                     dp_spawn_options_copy, dp_spawn_options_free)

/**
 * dp_spawn_options_new:
 *
 * Options for spawning a node: automatic method, `dp-node` found as
 * described for dp_spawn_options_set_node_path(), output of the node's
 * places copied to our standard output, a 30 s ready timeout.
 *
 * Returns: (transfer full): new options
 *
 * Since: 1.0
 */
DpSpawnOptions *
dp_spawn_options_new (void)
{
  DpSpawnOptions *self = g_new0 (DpSpawnOptions, 1);

  self->plugin_dirs = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  self->output = DP_SPAWN_OUTPUT_STDOUT;
  self->ready_timeout_ms = 30000;
  return self;
}

/**
 * dp_spawn_options_copy:
 * @self: a #DpSpawnOptions
 *
 * Copies the options (the boxed type's copy function).
 *
 * Returns: (transfer full): a copy of @self
 *
 * Since: 1.0
 */
DpSpawnOptions *
dp_spawn_options_copy (const DpSpawnOptions *self)
{
  DpSpawnOptions *copy = dp_spawn_options_new ();

  copy->method = self->method;
  copy->node_path = g_strdup (self->node_path);
  for (guint i = 0; i < self->plugin_dirs->len; i++)
    g_ptr_array_add (copy->plugin_dirs, g_strdup (self->plugin_dirs->pdata[i]));
  copy->listen_address = g_strdup (self->listen_address);
  copy->output = self->output;
  copy->ready_timeout_ms = self->ready_timeout_ms;
  copy->accept_new_host_key = self->accept_new_host_key;
  copy->ssh_identity = g_strdup (self->ssh_identity);
  copy->ssh_known_hosts = g_strdup (self->ssh_known_hosts);
  copy->ssh_config = g_strdup (self->ssh_config);
  return copy;
}

/**
 * dp_spawn_options_free:
 * @self: (nullable): a #DpSpawnOptions
 *
 * Frees the options; %NULL is ignored.
 *
 * Since: 1.0
 */
void
dp_spawn_options_free (DpSpawnOptions *self)
{
  if (self == NULL)
    return;
  g_free (self->node_path);
  g_ptr_array_unref (self->plugin_dirs);
  g_free (self->listen_address);
  g_free (self->ssh_identity);
  g_free (self->ssh_known_hosts);
  g_free (self->ssh_config);
  g_free (self);
}

/**
 * dp_spawn_options_set_method:
 * @self: a #DpSpawnOptions
 * @method: local, ssh, or chosen by the host (%DP_SPAWN_AUTO, the default)
 *
 * Sets how the node is started.
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_method (DpSpawnOptions *self, DpSpawnMethod method)
{
  self->method = method;
}

/**
 * dp_spawn_options_get_method:
 * @self: a #DpSpawnOptions
 *
 * How the node is started.
 *
 * Returns: the #DpSpawnMethod set
 *
 * Since: 1.0
 */
DpSpawnMethod
dp_spawn_options_get_method (const DpSpawnOptions *self)
{
  return self->method;
}

/**
 * dp_spawn_options_set_node_path:
 * @self: options
 * @node_path: (nullable): the `dp-node` program on the target host
 *
 * When unset: `$DP_NODE_PATH`, else `dp-node` beside the running program,
 * else the installed one, else `dp-node` on the `PATH`.
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_node_path (DpSpawnOptions *self, const char *node_path)
{
  g_free (self->node_path);
  self->node_path = g_strdup (node_path);
}

/**
 * dp_spawn_options_get_node_path:
 * @self: a #DpSpawnOptions
 *
 * The `dp-node` program set with dp_spawn_options_set_node_path().
 *
 * Returns: (nullable): the path, or %NULL for the default
 *
 * Since: 1.0
 */
const char *
dp_spawn_options_get_node_path (const DpSpawnOptions *self)
{
  return self->node_path;
}

/**
 * dp_spawn_options_add_plugin_dir:
 * @self: options
 * @dir: a directory on the target host
 *
 * The node may load plugins from @dir (passed as `--plugin-dir`).
 *
 * Since: 1.0
 */
void
dp_spawn_options_add_plugin_dir (DpSpawnOptions *self, const char *dir)
{
  g_ptr_array_add (self->plugin_dirs, g_strdup (dir));
}

/**
 * dp_spawn_options_get_plugin_dirs:
 * @self: a #DpSpawnOptions
 *
 * The plugin directories added with dp_spawn_options_add_plugin_dir().
 *
 * Returns: (transfer none) (array zero-terminated=1): the directories, in
 *   the order added
 *
 * Since: 1.0
 */
const char * const *
dp_spawn_options_get_plugin_dirs (const DpSpawnOptions *self)
{
  return (const char * const *) self->plugin_dirs->pdata;
}

/**
 * dp_spawn_options_set_listen_address:
 * @self: options
 * @address: (nullable): the address the node binds; default 127.0.0.1 for
 *   a local node, 0.0.0.0 for one on another host
 *
 * Sets the address the spawned node binds.
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_listen_address (DpSpawnOptions *self, const char *address)
{
  g_free (self->listen_address);
  self->listen_address = g_strdup (address);
}

/**
 * dp_spawn_options_get_listen_address:
 * @self: a #DpSpawnOptions
 *
 * The address set with dp_spawn_options_set_listen_address().
 *
 * Returns: (nullable): the address, or %NULL for the default
 *
 * Since: 1.0
 */
const char *
dp_spawn_options_get_listen_address (const DpSpawnOptions *self)
{
  return self->listen_address;
}

/**
 * dp_spawn_options_set_output:
 * @self: a #DpSpawnOptions
 * @output: where the node's standard output goes (default
 *   %DP_SPAWN_OUTPUT_STDOUT)
 *
 * Sets where what the node's places print goes once the node is ready.
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_output (DpSpawnOptions *self, DpSpawnOutput output)
{
  self->output = output;
}

/**
 * dp_spawn_options_get_output:
 * @self: a #DpSpawnOptions
 *
 * Where the node's standard output goes.
 *
 * Returns: the #DpSpawnOutput set
 *
 * Since: 1.0
 */
DpSpawnOutput
dp_spawn_options_get_output (const DpSpawnOptions *self)
{
  return self->output;
}

/**
 * dp_spawn_options_set_ready_timeout:
 * @self: options
 * @timeout_ms: how long a node may take to report ready
 *
 * Sets how long a spawned node may take to report that it is ready before
 * the spawn fails (default 30000: 30 s).
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_ready_timeout (DpSpawnOptions *self, guint timeout_ms)
{
  self->ready_timeout_ms = timeout_ms;
}

/**
 * dp_spawn_options_get_ready_timeout:
 * @self: a #DpSpawnOptions
 *
 * How long a spawned node may take to report ready.
 *
 * Returns: the time in milliseconds
 *
 * Since: 1.0
 */
guint
dp_spawn_options_get_ready_timeout (const DpSpawnOptions *self)
{
  return self->ready_timeout_ms;
}

/**
 * dp_spawn_options_set_accept_new_host_key:
 * @self: options
 * @accept: add an unknown ssh host key to known_hosts instead of failing
 *
 * A changed host key is refused whatever this says.
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_accept_new_host_key (DpSpawnOptions *self, gboolean accept)
{
  self->accept_new_host_key = accept;
}

/**
 * dp_spawn_options_get_accept_new_host_key:
 * @self: a #DpSpawnOptions
 *
 * Whether an ssh host key not yet in the known hosts is accepted (and
 * added).
 *
 * Returns: %TRUE when it is
 *
 * Since: 1.0
 */
gboolean
dp_spawn_options_get_accept_new_host_key (const DpSpawnOptions *self)
{
  return self->accept_new_host_key;
}

/**
 * dp_spawn_options_set_ssh_identity:
 * @self: a #DpSpawnOptions
 * @identity_file: (nullable): a private key file; %NULL for ssh's defaults
 *   (the agent, `~/.ssh/id_*`)
 *
 * Sets the key an ssh spawn authenticates with.
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_ssh_identity (DpSpawnOptions *self, const char *identity_file)
{
  g_free (self->ssh_identity);
  self->ssh_identity = g_strdup (identity_file);
}

/**
 * dp_spawn_options_get_ssh_identity:
 * @self: a #DpSpawnOptions
 *
 * The key file set with dp_spawn_options_set_ssh_identity().
 *
 * Returns: (nullable): the file, or %NULL
 *
 * Since: 1.0
 */
const char *
dp_spawn_options_get_ssh_identity (const DpSpawnOptions *self)
{
  return self->ssh_identity;
}

/**
 * dp_spawn_options_set_ssh_known_hosts:
 * @self: a #DpSpawnOptions
 * @known_hosts_file: (nullable): a known hosts file; %NULL for
 *   `~/.ssh/known_hosts`
 *
 * Sets the known hosts file an ssh spawn checks the host key against.
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_ssh_known_hosts (DpSpawnOptions *self, const char *known_hosts_file)
{
  g_free (self->ssh_known_hosts);
  self->ssh_known_hosts = g_strdup (known_hosts_file);
}

/**
 * dp_spawn_options_get_ssh_known_hosts:
 * @self: a #DpSpawnOptions
 *
 * The file set with dp_spawn_options_set_ssh_known_hosts().
 *
 * Returns: (nullable): the file, or %NULL
 *
 * Since: 1.0
 */
const char *
dp_spawn_options_get_ssh_known_hosts (const DpSpawnOptions *self)
{
  return self->ssh_known_hosts;
}

/**
 * dp_spawn_options_set_ssh_config:
 * @self: a #DpSpawnOptions
 * @config_file: (nullable): an ssh config file (`Host` aliases, `User`,
 *   `Port`, `IdentityFile`...); %NULL for `~/.ssh/config`
 *
 * Sets the ssh config file an ssh spawn reads.
 *
 * Since: 1.0
 */
void
dp_spawn_options_set_ssh_config (DpSpawnOptions *self, const char *config_file)
{
  g_free (self->ssh_config);
  self->ssh_config = g_strdup (config_file);
}

/**
 * dp_spawn_options_get_ssh_config:
 * @self: a #DpSpawnOptions
 *
 * The file set with dp_spawn_options_set_ssh_config().
 *
 * Returns: (nullable): the file, or %NULL
 *
 * Since: 1.0
 */
const char *
dp_spawn_options_get_ssh_config (const DpSpawnOptions *self)
{
  return self->ssh_config;
}
