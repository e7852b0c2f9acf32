/* Temporary: replaced by dp-ssh-node-process.c */
#include "dp-private.h"
#include "dp-node-process-private.h"

DpNodeProcess *
dp_ssh_node_process_new (const char *host)
{
  return dp_local_node_process_new (host);
}
