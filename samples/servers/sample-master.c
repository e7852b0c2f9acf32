/* sample-master.c: what the masters of the RPC samples share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sample-master.h"

#include <stdio.h>

static int status;

DpRemoteNode *
sample_spawn_node (DpNode      *router,
                   const char  *host,
                   GError     **error)
{
  g_autoptr(DpSpawnOptions) opts = dp_spawn_options_new ();
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *self_dir = self_exe ? g_path_get_dirname (self_exe) : g_strdup (".");
  g_autofree char *servers = g_build_filename (self_dir, "..", "servers", NULL);

  /* the servers are built in samples/servers, beside this program's folder */
  dp_spawn_options_add_plugin_dir (opts, servers);
  dp_spawn_options_set_output (opts, DP_SPAWN_OUTPUT_STDOUT);
  return dp_remote_node_spawn (router, host ? host : "localhost", 0, opts, NULL, error);
}

void
sample_print (gboolean  ok,
              GVariant *result,
              GError   *error)
{
  if (ok)
    {
      g_autofree char *text = sample_sexp (result);
      printf ("%s\n", text);
      fflush (stdout);
    }
  else
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error ? error->message : "failed");
      status = 1;
    }
}

int
sample_status (void)
{
  return status;
}
