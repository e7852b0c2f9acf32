/* dp-hosts-file.c: a cluster's hosts, from a JSON file (json-glib)
 *
 * For dp-launch --hosts FILE (and any launcher): names for the hosts of a
 * cluster, each with where its node goes and how it is spawned:
 *
 *   { "hosts": {
 *       "here":   { "host": "localhost" },
 *       "build1": { "host": "alice@build1.example:2222", "port": 6340,
 *                   "method": "ssh", "node-path": "/opt/libdp/bin/dp-node",
 *                   "plugin-dirs": ["/opt/plugins"], "ready-timeout": 60000,
 *                   "ssh-identity": "/home/alice/.ssh/id_ed25519",
 *                   "ssh-known-hosts": "/home/alice/.ssh/known_hosts",
 *                   "ssh-config": "/home/alice/.ssh/config",
 *                   "accept-new-host-key": false } } }
 *
 * "host" is read by the one host parser (dp-host.c) and is required;
 * "port" (the node's, 0 by default: any), "method" ("auto", "local",
 * "ssh") and the rest are optional. An unknown member, a wrong type or a
 * bad host is an error naming the file, the host and the member.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-host-private.h"
#include "dp-hosts-file-private.h"

#include <json-glib/json-glib.h>

static void
entry_free (gpointer data)
{
  DpHostsEntry *e = data;

  g_free (e->name);
  g_free (e->host);
  g_clear_pointer (&e->options, dp_spawn_options_free);
  g_free (e);
}

static const char *const known_members[] = {
  "host", "port", "method", "node-path", "plugin-dirs", "ready-timeout",
  "ssh-identity", "ssh-known-hosts", "ssh-config", "accept-new-host-key", NULL
};

/* @member of @o as a string, or NULL (absent); FALSE when it is not one */
static gboolean
member_string (JsonObject  *o,
               const char  *member,
               const char **out)
{
  JsonNode *n = json_object_get_member (o, member);

  *out = NULL;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return FALSE;
  *out = json_node_get_string (n);
  return TRUE;
}

static DpHostsEntry *
parse_entry (const char  *path,
             const char  *name,
             JsonNode    *node,
             GError     **error)
{
  JsonObject *o;
  g_autoptr(GList) members = NULL;
  g_autoptr(DpHostSpec) spec = NULL;
  g_autoptr(GError) host_error = NULL;
  DpHostsEntry *e;
  const char *host, *method, *s;
  const char *const string_members[] = { "node-path", "ssh-identity", "ssh-known-hosts", "ssh-config" };
  void (*const setters[]) (DpSpawnOptions *, const char *) = {
    dp_spawn_options_set_node_path, dp_spawn_options_set_ssh_identity,
    dp_spawn_options_set_ssh_known_hosts, dp_spawn_options_set_ssh_config,
  };

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "%s: host '%s' is not an object ({\"host\": ...})", path, name);
      return NULL;
    }
  o = json_node_get_object (node);
  members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next)
    if (!g_strv_contains (known_members, l->data))
      {
        g_autofree char *known = g_strjoinv (", ", (char **) known_members);
        g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                     "%s: host '%s': unknown member '%s' (known: %s)", path, name,
                     (const char *) l->data, known);
        return NULL;
      }
  if (!member_string (o, "host", &host) || host == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "%s: host '%s' has no \"host\" string (e.g. \"localhost\", \"user@machine:22\")",
                   path, name);
      return NULL;
    }
  spec = _dp_host_spec_parse (host, DP_HOST_SPEC_DEFAULT, &host_error);
  if (spec == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "%s: host '%s': %s",
                   path, name, host_error->message);
      return NULL;
    }

  e = g_new0 (DpHostsEntry, 1);
  e->name = g_strdup (name);
  e->host = _dp_host_spec_to_string (spec);
  e->options = dp_spawn_options_new ();
  if (json_object_has_member (o, "port"))
    {
      JsonNode *n = json_object_get_member (o, "port");
      gint64 port = JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
                    ? json_node_get_int (n) : -1;
      if (port < 0 || port > G_MAXUINT16)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "%s: host '%s': \"port\" must be a number from 0 to 65535 (0: any)", path, name);
          entry_free (e);
          return NULL;
        }
      e->port = (guint16) port;
    }
  if (!member_string (o, "method", &method) ||
      (method && !g_strv_contains ((const char *const[]) { "auto", "local", "ssh", NULL }, method)))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "%s: host '%s': \"method\" is \"auto\", \"local\" or \"ssh\"", path, name);
      entry_free (e);
      return NULL;
    }
  if (method)
    dp_spawn_options_set_method (e->options, g_str_equal (method, "ssh") ? DP_SPAWN_SSH
                                           : g_str_equal (method, "local") ? DP_SPAWN_LOCAL : DP_SPAWN_AUTO);
  for (gsize i = 0; i < G_N_ELEMENTS (string_members); i++)
    {
      if (!member_string (o, string_members[i], &s))
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "%s: host '%s': \"%s\" must be a string", path, name, string_members[i]);
          entry_free (e);
          return NULL;
        }
      if (s)
        setters[i] (e->options, s);
    }
  if (json_object_has_member (o, "plugin-dirs"))
    {
      JsonNode *n = json_object_get_member (o, "plugin-dirs");
      JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;

      for (guint i = 0; a && i < json_array_get_length (a); i++)
        {
          JsonNode *d = json_array_get_element (a, i);
          if (!JSON_NODE_HOLDS_VALUE (d) || json_node_get_value_type (d) != G_TYPE_STRING)
            a = NULL;
          else
            dp_spawn_options_add_plugin_dir (e->options, json_node_get_string (d));
        }
      if (a == NULL)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "%s: host '%s': \"plugin-dirs\" must be an array of strings", path, name);
          entry_free (e);
          return NULL;
        }
    }
  if (json_object_has_member (o, "ready-timeout"))
    {
      JsonNode *n = json_object_get_member (o, "ready-timeout");
      gint64 ms = JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
                  ? json_node_get_int (n) : -1;
      if (ms < 0 || ms > G_MAXUINT)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "%s: host '%s': \"ready-timeout\" must be a number of milliseconds", path, name);
          entry_free (e);
          return NULL;
        }
      dp_spawn_options_set_ready_timeout (e->options, (guint) ms);
    }
  if (json_object_has_member (o, "accept-new-host-key"))
    {
      JsonNode *n = json_object_get_member (o, "accept-new-host-key");
      if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "%s: host '%s': \"accept-new-host-key\" must be true or false", path, name);
          entry_free (e);
          return NULL;
        }
      dp_spawn_options_set_accept_new_host_key (e->options, json_node_get_boolean (n));
    }
  return e;
}

GPtrArray *
_dp_hosts_file_load (const char  *path,
                     GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) json_error = NULL;
  g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func (entry_free);
  g_autoptr(GList) names = NULL;
  JsonNode *root;
  JsonObject *table;

  if (!json_parser_load_from_file (parser, path, &json_error))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "hosts file %s: %s",
                   path, json_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      !json_object_has_member (json_node_get_object (root), "hosts") ||
      !JSON_NODE_HOLDS_OBJECT (json_object_get_member (json_node_get_object (root), "hosts")))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "hosts file %s: expected {\"hosts\": {\"NAME\": {\"host\": ...}, ...}}", path);
      return NULL;
    }
  table = json_object_get_object_member (json_node_get_object (root), "hosts");
  names = json_object_get_members (table);
  for (GList *l = names; l; l = l->next)
    {
      DpHostsEntry *e = parse_entry (path, l->data, json_object_get_member (table, l->data), error);
      if (e == NULL)
        return NULL;
      g_ptr_array_add (hosts, e);
    }
  return g_steal_pointer (&hosts);
}

const DpHostsEntry *
_dp_hosts_file_lookup (GPtrArray  *hosts,
                       const char *name)
{
  for (guint i = 0; hosts && i < hosts->len; i++)
    {
      const DpHostsEntry *e = hosts->pdata[i];
      if (g_str_equal (e->name, name))
        return e;
    }
  return NULL;
}
