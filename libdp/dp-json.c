/* dp-json.c: messages as JSON lines (json-glib), for people and configs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <json-glib/json-glib.h>

/**
 * dp_variant_to_json:
 * @value: a message
 *
 * Formats @value as one line of JSON with json-glib's GVariant mapping.
 *
 * Returns: (transfer full): the JSON text, without a newline
 */
char *
dp_variant_to_json (GVariant *value)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (value != NULL, NULL);
  node = json_gvariant_serialize (value);
  return json_to_string (node, FALSE);
}

/**
 * dp_variant_from_json:
 * @json: one JSON value
 * @signature: (nullable): the GVariant type to produce, or %NULL to infer one
 *   (strings, int64 numbers, doubles, booleans, `av` arrays, `a{sv}` objects)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a non-floating message, or %NULL with
 *   @error set
 */
GVariant *
dp_variant_from_json (const char  *json,
                      const char  *signature,
                      GError     **error)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) local_error = NULL;
  GVariant *value;

  g_return_val_if_fail (json != NULL, NULL);

  node = json_from_string (json, &local_error);
  if (node == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "not valid JSON: %s",
                   local_error ? local_error->message : "empty input");
      return NULL;
    }
  if (JSON_NODE_HOLDS_NULL (node))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "JSON null has no message form");
      return NULL;
    }
  value = json_gvariant_deserialize (node, signature, &local_error);
  if (value == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "JSON cannot be made a message: %s", local_error->message);
      return NULL;
    }
  return g_variant_ref_sink (value);
}
