/* sexp.c: a GVariant as Racket's display prints the seed's values
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sexp.h"

static void
append (GString  *out,
        GVariant *v)
{
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (v);
      append (out, inner);
    }
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    g_string_append (out, g_variant_get_string (v, NULL));
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN))
    g_string_append (out, g_variant_get_boolean (v) ? "#t" : "#f");
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE ("(sav)")))
    {
      /* (symbol values...) */
      g_autoptr(GVariant) values = g_variant_get_child_value (v, 1);
      const char *symbol;

      g_variant_get_child (v, 0, "&s", &symbol);
      g_string_append_printf (out, "(%s", symbol);
      for (gsize i = 0; i < g_variant_n_children (values); i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (values, i);
          g_string_append_c (out, ' ');
          append (out, child);
        }
      g_string_append_c (out, ')');
    }
  else if (g_variant_is_container (v))
    {
      g_string_append_c (out, '(');
      for (gsize i = 0; i < g_variant_n_children (v); i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (v, i);
          if (i > 0)
            g_string_append_c (out, ' ');
          append (out, child);
        }
      g_string_append_c (out, ')');
    }
  else
    {
      g_autofree char *text = g_variant_print (v, FALSE);
      g_string_append (out, text);
    }
}

char *
sample_sexp (GVariant *value)
{
  GString *out = g_string_new (NULL);

  append (out, value);
  return g_string_free (out, FALSE);
}
