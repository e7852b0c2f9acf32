/* wordcount-fns: the mapper and reducer of samples/map-reduce/wordcount
 *
 * A word is a run of ASCII letters and digits, lowercased.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

DP_PLUGIN_DEFINE ("wordcount-fns", "Word count for map-reduce", "1.0", "LGPL-2.1-or-later")

/* a text -> [(word, 1), ...] */
DP_PLACE_EXPORT GVariant *
mapper (GVariant *task, GError **error)
{
  const char *text;
  GVariantBuilder b;
  GString *word = g_string_new (NULL);

  if (!g_variant_is_of_type (task, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "wordcount: a task is a string, not a %s",
                   g_variant_get_type_string (task));
      g_string_free (word, TRUE);
      return NULL;
    }
  text = g_variant_get_string (task, NULL);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(si)"));
  for (const char *p = text;; p++)
    {
      if (g_ascii_isalnum (*p))
        g_string_append_c (word, g_ascii_tolower (*p));
      else
        {
          if (word->len)
            g_variant_builder_add (&b, "(si)", word->str, 1);
          g_string_truncate (word, 0);
          if (*p == '\0')
            break;
        }
    }
  g_string_free (word, TRUE);
  return g_variant_builder_end (&b);
}

/* a word's counts -> [their sum] */
DP_PLACE_EXPORT GVariant *
reducer (GVariant *key, GVariant *values, GError **error)
{
  GVariantIter iter;
  GVariant *v;
  gint64 sum = 0;

  g_variant_iter_init (&iter, values);
  while (g_variant_iter_next (&iter, "v", &v))
    {
      if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
        sum += g_variant_get_int32 (v);
      else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
        sum += g_variant_get_int64 (v);
      g_variant_unref (v);
    }
  {
    GVariant *one = g_variant_new_int64 (sum);
    return g_variant_new_array (G_VARIANT_TYPE_INT64, &one, 1);
  }
}
