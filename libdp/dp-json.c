/* dp-json.c: messages as JSON lines (json-glib), for people and configs
 *
 * The mapping is json-glib's: JSON is read with JsonParser and made a
 * GVariant by json_gvariant_deserialize(), and a GVariant is written with
 * the mapping of json_gvariant_serialize(). Where json-glib (1.6, the
 * version this project builds against) would change a value silently, or
 * write something that is not JSON, libdp does not let it:
 *
 * - reading: JsonParser keeps only 64 bits of an integer literal
 *   (18446744073709551615 becomes -1) and json_gvariant_deserialize()
 *   truncates to the signature's type (300 as 'y' becomes 44). Each number
 *   node is therefore matched with its literal in the text (the parser's
 *   "array-element"/"object-member" signals give the nodes in document
 *   order; a small scanner gives the literals in the same order) and
 *   checked against the type it is made: an integer that does not fit is
 *   an error naming it; so is a number too large for a double (1e400), an
 *   object path or signature that is not one, and a dictionary key of type
 *   'o' or 'g' (which json-glib cannot build). An unsigned integer above
 *   the int64 range is read exactly where the signature asks for a 't'.
 *
 * - writing: the mapping of json_gvariant_serialize() is kept (tuples are
 *   arrays, dictionaries objects, maybes null or their value, variants
 *   their value, 'ay' an array of numbers), but the text is written here,
 *   because json-glib 1.6's generator writes `1e+20.0`, `inf.0`, `nan.0`
 *   and an unescaped U+001F, and json_gvariant_serialize() makes a 't'
 *   above the int64 range negative. Doubles are written in the shortest
 *   form that reads back as the same double (with ".0" when it would read
 *   as an integer); infinities and NaN, which JSON cannot write as
 *   numbers, are the strings "inf", "-inf" and "nan" — which json-glib
 *   reads back as a double where a signature asks for a 'd'. Every line
 *   written is valid JSON.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ *
 * GVariant → JSON                                                     *
 * ------------------------------------------------------------------ */

static void append_value (GString *out, GVariant *value);

static void
append_string (GString    *out,
               const char *s)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) s; *p; p++)
    {
      switch (*p)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
          break;
        }
    }
  g_string_append_c (out, '"');
}

/* The shortest of %.15g, %.16g, %.17g that reads back as @d; "inf",
 * "-inf" or "nan" when @d is not finite. */
static void
format_double (char   buf[G_ASCII_DTOSTR_BUF_SIZE],
               double d)
{
  if (isnan (d))
    {
      g_strlcpy (buf, "nan", G_ASCII_DTOSTR_BUF_SIZE);
      return;
    }
  if (isinf (d))
    {
      g_strlcpy (buf, d > 0 ? "inf" : "-inf", G_ASCII_DTOSTR_BUF_SIZE);
      return;
    }
  for (int precision = 15; precision <= 17; precision++)
    {
      static const char *formats[] = { "%.15g", "%.16g", "%.17g" };
      g_ascii_formatd (buf, G_ASCII_DTOSTR_BUF_SIZE, formats[precision - 15], d);
      if (g_ascii_strtod (buf, NULL) == d)
        break;
    }
}

static void
append_double (GString *out,
               double   d)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  format_double (buf, d);
  if (!isfinite (d))
    {
      append_string (out, buf);
      return;
    }
  g_string_append (out, buf);
  /* a double stays a double when it is read back */
  if (strpbrk (buf, ".eE") == NULL)
    g_string_append (out, ".0");
}

/* A dictionary key as json-glib names the member, except doubles, which
 * json-glib writes with "%f" (1e-9 would become "0.000000"). */
static char *
key_string (GVariant *key)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  switch (g_variant_classify (key))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return g_strdup (g_variant_get_boolean (key) ? "true" : "false");
    case G_VARIANT_CLASS_BYTE:
      return g_strdup_printf ("%u", g_variant_get_byte (key));
    case G_VARIANT_CLASS_INT16:
      return g_strdup_printf ("%d", g_variant_get_int16 (key));
    case G_VARIANT_CLASS_UINT16:
      return g_strdup_printf ("%u", g_variant_get_uint16 (key));
    case G_VARIANT_CLASS_INT32:
      return g_strdup_printf ("%d", g_variant_get_int32 (key));
    case G_VARIANT_CLASS_UINT32:
      return g_strdup_printf ("%u", g_variant_get_uint32 (key));
    case G_VARIANT_CLASS_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, g_variant_get_int64 (key));
    case G_VARIANT_CLASS_UINT64:
      return g_strdup_printf ("%" G_GUINT64_FORMAT, g_variant_get_uint64 (key));
    case G_VARIANT_CLASS_HANDLE:
      return g_strdup_printf ("%d", g_variant_get_handle (key));
    case G_VARIANT_CLASS_DOUBLE:
      format_double (buf, g_variant_get_double (key));
      return g_strdup (buf);
    default:   /* string, object path, signature: keys are basic types */
      return g_variant_dup_string (key, NULL);
    }
}

/* An array of dictionary entries: an object. A key that comes again
 * later is left out, so the last value wins, as with json-glib. */
static void
append_dict (GString  *out,
             GVariant *dict)
{
  gsize n = g_variant_n_children (dict);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_full (n, g_free);
  g_autoptr(GHashTable) last = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean first = TRUE;

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (dict, i);
      g_autoptr(GVariant) key = g_variant_get_child_value (entry, 0);
      char *name = key_string (key);

      g_ptr_array_add (keys, name);
      g_hash_table_insert (last, name, GSIZE_TO_POINTER (i + 1));
    }
  g_string_append_c (out, '{');
  for (gsize i = 0; i < n; i++)
    {
      const char *name = g_ptr_array_index (keys, i);
      g_autoptr(GVariant) entry = NULL;
      g_autoptr(GVariant) value = NULL;

      if (GPOINTER_TO_SIZE (g_hash_table_lookup (last, name)) != i + 1)
        continue;
      entry = g_variant_get_child_value (dict, i);
      value = g_variant_get_child_value (entry, 1);
      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      append_string (out, name);
      g_string_append_c (out, ':');
      append_value (out, value);
    }
  g_string_append_c (out, '}');
}

static void
append_children (GString  *out,
                 GVariant *container)
{
  gsize n = g_variant_n_children (container);

  g_string_append_c (out, '[');
  if (g_variant_is_of_type (container, G_VARIANT_TYPE_BYTESTRING))
    {
      const guint8 *bytes = g_variant_get_fixed_array (container, &n, 1);
      for (gsize i = 0; i < n; i++)
        g_string_append_printf (out, i ? ",%u" : "%u", bytes[i]);
    }
  else
    for (gsize i = 0; i < n; i++)
      {
        g_autoptr(GVariant) child = g_variant_get_child_value (container, i);
        if (i)
          g_string_append_c (out, ',');
        append_value (out, child);
      }
  g_string_append_c (out, ']');
}

static void
append_value (GString  *out,
              GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      g_string_append (out, g_variant_get_boolean (value) ? "true" : "false");
      break;
    case G_VARIANT_CLASS_BYTE:
      g_string_append_printf (out, "%u", g_variant_get_byte (value));
      break;
    case G_VARIANT_CLASS_INT16:
      g_string_append_printf (out, "%d", g_variant_get_int16 (value));
      break;
    case G_VARIANT_CLASS_UINT16:
      g_string_append_printf (out, "%u", g_variant_get_uint16 (value));
      break;
    case G_VARIANT_CLASS_INT32:
      g_string_append_printf (out, "%d", g_variant_get_int32 (value));
      break;
    case G_VARIANT_CLASS_UINT32:
      g_string_append_printf (out, "%u", g_variant_get_uint32 (value));
      break;
    case G_VARIANT_CLASS_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, g_variant_get_int64 (value));
      break;
    case G_VARIANT_CLASS_UINT64:
      g_string_append_printf (out, "%" G_GUINT64_FORMAT, g_variant_get_uint64 (value));
      break;
    case G_VARIANT_CLASS_HANDLE:
      g_string_append_printf (out, "%d", g_variant_get_handle (value));
      break;
    case G_VARIANT_CLASS_DOUBLE:
      append_double (out, g_variant_get_double (value));
      break;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      append_string (out, g_variant_get_string (value, NULL));
      break;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);
        append_value (out, inner);
      }
      break;
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (value);
        if (inner)
          append_value (out, inner);
        else
          g_string_append (out, "null");
      }
      break;
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_type_is_dict_entry (g_variant_type_element (g_variant_get_type (value))))
        append_dict (out, value);
      else
        append_children (out, value);
      break;
    case G_VARIANT_CLASS_TUPLE:
      append_children (out, value);
      break;
    case G_VARIANT_CLASS_DICT_ENTRY:
      {
        g_autoptr(GVariant) key = g_variant_get_child_value (value, 0);
        g_autoptr(GVariant) inner = g_variant_get_child_value (value, 1);
        g_autofree char *name = key_string (key);
        g_string_append_c (out, '{');
        append_string (out, name);
        g_string_append_c (out, ':');
        append_value (out, inner);
        g_string_append_c (out, '}');
      }
      break;
    default:
      g_assert_not_reached ();
    }
}

/**
 * dp_variant_to_json:
 * @value: a message
 *
 * Formats @value as one line of JSON with json-glib's GVariant mapping:
 * numbers and booleans as themselves, strings, object paths and
 * signatures as strings, arrays and tuples as arrays (a bytestring `ay`
 * as an array of numbers), dictionaries and dictionary entries as
 * objects (keys as text), a maybe as `null` or its value, a variant as its
 * value. Doubles that are not finite are the strings `"inf"`, `"-inf"`
 * and `"nan"`. The result is always valid JSON.
 *
 * Returns: (transfer full): the JSON text, without a newline
 *
 * Since: 1.0
 */
char *
dp_variant_to_json (GVariant *value)
{
  GString *out;

  g_return_val_if_fail (value != NULL, NULL);
  out = g_string_new (NULL);
  append_value (out, value);
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------ *
 * JSON → GVariant                                                     *
 * ------------------------------------------------------------------ */

/* A number literal as written in the text. */
typedef struct {
  const char *text;        /* into the input, without the sign */
  gsize       len;
  gboolean    negative;
  gboolean    is_float;
  gboolean    decimal;     /* an integer in base 10 */
  gboolean    fits_u64;    /* an integer whose magnitude fits 64 bits */
  guint64     magnitude;
  double      dvalue;      /* a float's value, without the sign */
} NumberLiteral;

/* The number literals of @text, in order, as json-glib's scanner (a
 * GScanner) tokenises them: whitespace, '/'…'/' comments, "…" strings
 * with escapes, '…' strings, identifiers, numbers (decimal, 0x/$ hex,
 * 0b binary, 0 octal, floats) and a '-' before a number. */
static GArray *
scan_numbers (const char *text)
{
  GArray *literals = g_array_new (FALSE, TRUE, sizeof (NumberLiteral));
  const char *p = text;
  gboolean minus = FALSE;

  while (*p)
    {
      char c = *p;

      if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
        p++;
      else if (c == '/')     /* a comment, to the next '/': the sign stays */
        {
          p = strchr (p + 1, '/');
          p = p ? p + 1 : text + strlen (text);
        }
      else if (c == '"' || c == '\'')
        {
          for (p++; *p && *p != c; p++)
            if (c == '"' && *p == '\\' && p[1])
              p++;
          if (*p)
            p++;
          minus = FALSE;
        }
      else if (g_ascii_isalpha (c) || c == '_')
        {
          while (g_ascii_isalnum (*p) || *p == '_' || *p == '-')
            p++;
          minus = FALSE;
        }
      else if (g_ascii_isdigit (c) || c == '.' || c == '$')
        {
          NumberLiteral lit = { .text = p, .negative = minus };
          gboolean hex = c == '$' || (c == '0' && (p[1] == 'x' || p[1] == 'X'));
          g_autofree char *digits = NULL;
          guint base = 10;
          const char *start;

          if (c == '$')
            p++;
          for (; *p; p++)
            {
              if (g_ascii_isalnum (*p) || *p == '.')
                continue;
              if ((*p == '+' || *p == '-') && !hex && (p[-1] == 'e' || p[-1] == 'E'))
                continue;
              break;
            }
          lit.len = p - lit.text;
          start = lit.text;
          if (hex)
            {
              base = 16;
              start += c == '$' ? 1 : 2;
            }
          else if (c == '0' && (lit.text[1] == 'b' || lit.text[1] == 'B'))
            {
              base = 2;
              start += 2;
            }
          else if (memchr (lit.text, '.', lit.len) || memchr (lit.text, 'e', lit.len) ||
                   memchr (lit.text, 'E', lit.len))
            lit.is_float = TRUE;
          else if (c == '0' && lit.len > 1)
            {
              base = 8;
              start += 1;
            }
          digits = g_strndup (start, lit.text + lit.len - start);
          if (lit.is_float)
            lit.dvalue = g_ascii_strtod (digits, NULL);
          else
            {
              lit.decimal = base == 10;
              lit.fits_u64 = g_ascii_string_to_unsigned (digits, base, 0, G_MAXUINT64,
                                                         &lit.magnitude, NULL);
            }
          g_array_append_val (literals, lit);
          minus = FALSE;
        }
      else
        {
          minus = c == '-';
          p++;
        }
    }
  return literals;
}

static gboolean
literal_fits_int64 (const NumberLiteral *lit)
{
  return lit->fits_u64 &&
         lit->magnitude <= (lit->negative ? (guint64) G_MAXINT64 + 1 : (guint64) G_MAXINT64);
}

static char *
literal_text (const NumberLiteral *lit)
{
  return g_strdup_printf ("%s%.*s", lit->negative ? "-" : "", (int) lit->len, lit->text);
}

static void
collect_number (GPtrArray *nodes,
                JsonNode  *node)
{
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      (json_node_get_value_type (node) == G_TYPE_INT64 ||
       json_node_get_value_type (node) == G_TYPE_DOUBLE))
    g_ptr_array_add (nodes, json_node_ref (node));
}

static void
on_array_element (JsonParser *parser,
                  JsonArray  *array,
                  int         index,
                  gpointer    nodes)
{
  collect_number (nodes, json_array_get_element (array, index));
}

static void
on_object_member (JsonParser *parser,
                  JsonObject *object,
                  const char *name,
                  gpointer    nodes)
{
  collect_number (nodes, json_object_get_member (object, name));
}

/* Pairs each number node with its literal; FALSE when they do not agree
 * (which would be a scanner that tokenises differently from json-glib's). */
static gboolean
match_numbers (GPtrArray  *nodes,
               GArray     *literals,
               GHashTable *numbers)
{
  if (nodes->len != literals->len)
    return FALSE;
  for (guint i = 0; i < nodes->len; i++)
    {
      JsonNode *node = g_ptr_array_index (nodes, i);
      NumberLiteral *lit = &g_array_index (literals, NumberLiteral, i);
      gboolean is_float = json_node_get_value_type (node) == G_TYPE_DOUBLE;

      if (is_float != lit->is_float)
        return FALSE;
      if (is_float)
        {
          if (json_node_get_double (node) != (lit->negative ? -lit->dvalue : lit->dvalue))
            return FALSE;
        }
      else if (literal_fits_int64 (lit))
        {
          gint64 expected = !lit->negative ? (gint64) lit->magnitude
                            : lit->magnitude == (guint64) G_MAXINT64 + 1 ? G_MININT64
                            : -(gint64) lit->magnitude;
          if (json_node_get_int (node) != expected)
            return FALSE;
        }
      g_hash_table_insert (numbers, node, lit);
    }
  return TRUE;
}

typedef struct {
  char     type;
  gboolean is_signed;
  gint64   min;
  guint64  max;
} IntRange;

static const IntRange int_ranges[] = {
  { 'y', FALSE, 0, G_MAXUINT8 },
  { 'n', TRUE, G_MININT16, G_MAXINT16 },
  { 'q', FALSE, 0, G_MAXUINT16 },
  { 'i', TRUE, G_MININT32, G_MAXINT32 },
  { 'u', FALSE, 0, G_MAXUINT32 },
  { 'x', TRUE, G_MININT64, G_MAXINT64 },
  { 't', FALSE, 0, G_MAXUINT64 },
  { 'h', TRUE, G_MININT32, G_MAXINT32 },
};

static const IntRange *
int_range (char type)
{
  for (gsize i = 0; i < G_N_ELEMENTS (int_ranges); i++)
    if (int_ranges[i].type == type)
      return &int_ranges[i];
  return NULL;
}

static void
set_range_error (GError         **error,
                 const char      *what,
                 const IntRange  *range)
{
  g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
               "%s does not fit type '%c' (%" G_GINT64_FORMAT " to %" G_GUINT64_FORMAT ")",
               what, range->type, range->min, range->max);
}

/* A string json-glib would read as a number of @type (with strtoll, which
 * stops at the first non-digit and wraps): all of it must be one, in range. */
static gboolean
check_number_string (const char  *s,
                     char         type,
                     GError     **error)
{
  const IntRange *range = int_range (type);
  g_autofree char *what = g_strdup_printf ("\"%s\"", s);

  if (range != NULL)
    {
      gboolean ok = range->is_signed
        ? g_ascii_string_to_signed (s, 10, range->min, (gint64) range->max, NULL, NULL)
        : g_ascii_string_to_unsigned (s, 10, 0, range->max, NULL, NULL);
      if (!ok)
        set_range_error (error, what, range);
      return ok;
    }
  if (type == 'd')
    {
      char *end = NULL;
      errno = 0;
      g_ascii_strtod (s, &end);
      if (errno != 0 || end == s || *end != '\0')
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "%s is not a double", what);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_inferred (GHashTable  *numbers,
                JsonNode    *node,
                GError     **error);

static gboolean check_typed (GHashTable          *numbers,
                             JsonNode            *node,
                             const GVariantType  *type,
                             GError             **error);

/* An integer of the type of @range: a number as written that fits it, or
 * a string json-glib would read as one. */
static gboolean
check_integer (JsonNode             *node,
               const NumberLiteral  *lit,
               const IntRange       *range,
               char                  type_char,
               gboolean              is_string,
               GError              **error)
{
  gboolean negative, fits;

  if (is_string)
    return check_number_string (json_node_get_string (node), type_char, error);
  if (lit == NULL || lit->is_float)
    return TRUE;
  negative = lit->negative && lit->magnitude != 0;
  fits = lit->fits_u64 &&
    (negative ? range->is_signed && lit->magnitude - 1 <= (guint64) -(range->min + 1)
              : lit->magnitude <= range->max);
  if (!fits)
    {
      g_autofree char *what = literal_text (lit);
      set_range_error (error, what, range);
      return FALSE;
    }
  /* json-glib keeps 64 bits, which is the value for a 't' */
  return TRUE;
}

/* A double: finite as written (an integer beyond 64 bits, which json-glib
 * holds wrapped, is given its real value). */
static gboolean
check_double (JsonNode             *node,
              const NumberLiteral  *lit,
              gboolean              is_string,
              GError              **error)
{
  double d;

  if (is_string)
    return check_number_string (json_node_get_string (node), 'd', error);
  if (lit == NULL)
    return TRUE;
  d = lit->is_float ? lit->dvalue : (double) lit->magnitude;
  if (!lit->is_float && !literal_fits_int64 (lit))
    {
      if (lit->decimal)
        {
          g_autofree char *digits = g_strndup (lit->text, lit->len);
          d = g_ascii_strtod (digits, NULL);
        }
      else if (!lit->fits_u64)
        d = INFINITY;
      json_node_set_double (node, lit->negative ? -d : d);
    }
  if (!isfinite (d))
    {
      g_autofree char *what = literal_text (lit);
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "%s is out of the range of a double", what);
      return FALSE;
    }
  return TRUE;
}

/* A member of an object read as a dictionary entry of @entry_type: its
 * name as the key, its value as the value. */
static gboolean
check_member (GHashTable          *numbers,
              JsonObject          *object,
              const char          *name,
              const GVariantType  *entry_type,
              GError             **error)
{
  const char *key_ts = g_variant_type_peek_string (g_variant_type_key (entry_type));

  if (key_ts[0] == 'o' || key_ts[0] == 'g')
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "dictionary keys of type '%c' cannot be read from JSON", key_ts[0]);
      return FALSE;
    }
  return check_number_string (name, key_ts[0], error) &&
         check_typed (numbers, json_object_get_member (object, name),
                      g_variant_type_value (entry_type), error);
}

/* An array (`aT`, or `a{KV}` from an object) or a tuple: each element. */
static gboolean
check_container (GHashTable          *numbers,
                 JsonNode            *node,
                 const GVariantType  *type,
                 GError             **error)
{
  const GVariantType *element = g_variant_type_is_array (type) ? g_variant_type_element (type) : NULL;

  if (element && g_variant_type_is_dict_entry (element))
    {
      g_autoptr(GList) members = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return TRUE;
      members = json_object_get_members (json_node_get_object (node));
      for (GList *l = members; l; l = l->next)
        if (!check_member (numbers, json_node_get_object (node), l->data, element, error))
          return FALSE;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return TRUE;
  if (element)
    {
      for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
        if (!check_typed (numbers, json_array_get_element (json_node_get_array (node), i),
                          element, error))
          return FALSE;
      return TRUE;
    }
  /* a tuple: one item per element, as far as both go */
  {
    JsonArray *array = json_node_get_array (node);
    const GVariantType *item = g_variant_type_first (type);

    for (guint i = 0; item && i < json_array_get_length (array); i++, item = g_variant_type_next (item))
      if (!check_typed (numbers, json_array_get_element (array, i), item, error))
        return FALSE;
    return TRUE;
  }
}

/* Checks @node before json-glib makes it a value of @type: each check
 * stands for a conversion that json-glib would get wrong without a word.
 * A node of the wrong kind is left for json-glib to refuse. */
static gboolean
check_typed (GHashTable          *numbers,
             JsonNode            *node,
             const GVariantType  *type,
             GError             **error)
{
  const char *ts = g_variant_type_peek_string (type);
  const NumberLiteral *lit = g_hash_table_lookup (numbers, node);
  const IntRange *range = int_range (ts[0]);
  gboolean is_string = JSON_NODE_HOLDS_VALUE (node) &&
                       json_node_get_value_type (node) == G_TYPE_STRING;

  if (range != NULL)
    return check_integer (node, lit, range, ts[0], is_string, error);

  switch (ts[0])
    {
    case 'v':
      return check_inferred (numbers, node, error);

    case 'd':
      return check_double (node, lit, is_string, error);

    case 'o':
    case 'g':
      if (is_string && !(ts[0] == 'o' ? g_variant_is_object_path (json_node_get_string (node))
                                      : g_variant_is_signature (json_node_get_string (node))))
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "\"%s\" is not a%s", json_node_get_string (node),
                       ts[0] == 'o' ? "n object path" : " type signature");
          return FALSE;
        }
      return TRUE;

    case 'm':
      return JSON_NODE_HOLDS_NULL (node) ||
             check_typed (numbers, node, g_variant_type_element (type), error);

    case 'a':
    case '(':
      return check_container (numbers, node, type, error);

    case '{':
      {
        JsonObject *object;
        g_autoptr(GList) members = NULL;

        if (!JSON_NODE_HOLDS_OBJECT (node) || json_object_get_size (json_node_get_object (node)) != 1)
          return TRUE;
        object = json_node_get_object (node);
        members = json_object_get_members (object);
        return check_member (numbers, object, members->data, type, error);
      }

    default:   /* 'b', 's' */
      return TRUE;
    }
}

/* Without a type json-glib reads integers as 'x', other numbers as 'd'. */
static gboolean
check_inferred (GHashTable  *numbers,
                JsonNode    *node,
                GError     **error)
{
  const NumberLiteral *lit = g_hash_table_lookup (numbers, node);

  if (lit != NULL)
    {
      g_autofree char *what = NULL;

      if (lit->is_float && !isfinite (lit->dvalue))
        {
          what = literal_text (lit);
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "%s is out of the range of a double", what);
          return FALSE;
        }
      if (!lit->is_float && !literal_fits_int64 (lit))
        {
          what = literal_text (lit);
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "integer %s does not fit int64 (a signature with 't' takes "
                       "unsigned integers up to 18446744073709551615)", what);
          return FALSE;
        }
      return TRUE;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        if (!check_inferred (numbers, json_array_get_element (array, i), error))
          return FALSE;
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr(GList) members = json_object_get_members (object);
      for (GList *l = members; l; l = l->next)
        if (!check_inferred (numbers, json_object_get_member (object, l->data), error))
          return FALSE;
    }
  return TRUE;
}

/**
 * dp_variant_from_json:
 * @json: one JSON value
 * @signature: (nullable): the GVariant type to produce, or %NULL to infer one
 *   (strings, int64 numbers, doubles, booleans, `av` arrays, `a{sv}` objects,
 *   `mv` nothing for null)
 * @error: return location for a #GError
 *
 * Reads @json with json-glib's GVariant mapping (json_gvariant_deserialize()).
 * A number is never changed on the way: an integer that does not fit its
 * type (int64 without a signature, the signature's type otherwise — 't'
 * takes 0 to 18446744073709551615), a number too large for a double, and a
 * string that is not all a number where the signature asks for one are
 * errors that name the number. Where the signature asks for a 'd', the
 * strings "inf", "-inf" and "nan" (what dp_variant_to_json() writes for
 * them) are read as those doubles.
 *
 * Returns: (transfer full) (nullable): a non-floating message, or %NULL with
 *   @error set
 *
 * Since: 1.0
 */
GVariant *
dp_variant_from_json (const char  *json,
                      const char  *signature,
                      GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GPtrArray) nodes = NULL;
  g_autoptr(GArray) literals = NULL;
  g_autoptr(GHashTable) numbers = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  GVariant *value;
  gboolean ok;

  g_return_val_if_fail (json != NULL, NULL);

  if (signature != NULL &&
      (!g_variant_type_string_is_valid (signature) ||
       !g_variant_type_is_definite (G_VARIANT_TYPE (signature))))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a definite GVariant type", signature);
      return NULL;
    }

  parser = json_parser_new ();
  nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_signal_connect (parser, "array-element", G_CALLBACK (on_array_element), nodes);
  g_signal_connect (parser, "object-member", G_CALLBACK (on_object_member), nodes);
  if (!json_parser_load_from_data (parser, json, -1, &local_error) ||
      (root = json_parser_get_root (parser)) == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "not valid JSON: %s",
                   local_error ? local_error->message : "empty input");
      return NULL;
    }
  collect_number (nodes, root);   /* a number alone: no signal for it */

  literals = scan_numbers (json);
  numbers = g_hash_table_new (g_direct_hash, g_direct_equal);
  if (!match_numbers (nodes, literals, numbers))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "cannot check the numbers of this JSON (unusual number syntax?)");
      return NULL;
    }
  ok = signature ? check_typed (numbers, root, G_VARIANT_TYPE (signature), error)
                 : check_inferred (numbers, root, error);
  if (!ok)
    return NULL;

  value = json_gvariant_deserialize (root, signature, &local_error);
  if (value == NULL)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "JSON cannot be made a message: %s", local_error->message);
      return NULL;
    }
  return g_variant_ref_sink (value);
}
