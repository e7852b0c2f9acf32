/* dp-codegen: C code for an RPC server and its clients, from a JSON
 * description — the seed's define-remote-server, in the manner of
 * gdbus-codegen.
 *
 *   dp-codegen --generate-c-code bank --output-directory build bank.json
 *
 * writes bank.h (everything both sides see), bank-server.c (the place
 * function make_bank and the dispatch of each request to a handler the
 * user writes) and bank-client.c (typed stubs per method: _sync, _async
 * and _finish for an rpc, one call for a cast). The description:
 *
 *   {
 *     "name": "bank",                      server name; C prefix bank_
 *     "named": false,                      define-named-remote-server?
 *     "state": "BankState",                optional: the handlers' state type
 *     "doc": "...",                        optional
 *     "rpc": [ { "name": "add", "doc": "...",
 *                "args": [ { "name": "who", "type": "s" }, ... ],
 *                "result": "(sv)" } ],
 *     "cast": [ { "name": "hello", "args": [] } ]
 *   }
 *
 * Types are GVariant type strings. Exit status: 0 written, 1 the
 * description is wrong (the message says where), 2 a usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#define EXIT_BAD_INPUT 1
#define EXIT_USAGE     2

typedef enum {
  CAT_BASIC,       /* b y n q i u x t d */
  CAT_STRING,      /* s o g */
  CAT_BYTESTRING,  /* ay */
  CAT_STRV,        /* as ao */
  CAT_VARIANT,     /* v */
  CAT_OTHER,       /* any other type: a GVariant of it */
} Category;

typedef struct {
  char     *name;   /* C name of the argument, "arg_" + name */
  char     *type;
  Category  cat;
} Arg;

typedef struct {
  char      *wire;      /* name on the wire */
  char      *c;         /* C name */
  char      *doc;
  gboolean   is_cast;
  GPtrArray *args;      /* Arg */
  char      *result;    /* NULL: a cast; "()": no result */
  Category   result_cat;
} Method;

typedef struct {
  char      *wire;
  char      *c;         /* bank, tuple_server */
  char      *camel;     /* Bank, TupleServer */
  char      *upper;     /* BANK, TUPLE_SERVER */
  char      *doc;
  char      *state;     /* NULL: no state */
  gboolean   named;
  GPtrArray *methods;
} Server;

static void
arg_free (Arg *a)
{
  g_free (a->name);
  g_free (a->type);
  g_free (a);
}

static void
method_free (Method *m)
{
  g_free (m->wire);
  g_free (m->c);
  g_free (m->doc);
  g_ptr_array_unref (m->args);
  g_free (m->result);
  g_free (m);
}

static void
server_free (Server *s)
{
  g_free (s->wire);
  g_free (s->c);
  g_free (s->camel);
  g_free (s->upper);
  g_free (s->doc);
  g_free (s->state);
  g_clear_pointer (&s->methods, g_ptr_array_unref);
  g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Server, server_free)

#define CODEGEN_ERROR (g_quark_from_static_string ("dp-codegen-error"))

/* ---- names and types ---- */

/* a name of the description: a letter, then letters, digits, '-' or '_' */
static gboolean
valid_name (const char *name)
{
  if (!g_ascii_isalpha (name[0]))
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
valid_c_identifier (const char *name)
{
  if (!g_ascii_isalpha (name[0]) && name[0] != '_')
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

static char *
to_c (const char *name)
{
  char *c = g_ascii_strdown (name, -1);

  g_strdelimit (c, "-", '_');
  return c;
}

static char *
to_camel (const char *name)
{
  GString *out = g_string_new (NULL);
  gboolean up = TRUE;

  for (const char *p = name; *p; p++)
    {
      if (*p == '-' || *p == '_')
        up = TRUE;
      else
        {
          g_string_append_c (out, up ? g_ascii_toupper (*p) : *p);
          up = FALSE;
        }
    }
  return g_string_free (out, FALSE);
}

static Category
categorize (const char *type)
{
  if (strlen (type) == 1 && strchr ("bynqiuxtd", type[0]))
    return CAT_BASIC;
  if (strlen (type) == 1 && strchr ("sog", type[0]))
    return CAT_STRING;
  if (strcmp (type, "ay") == 0)
    return CAT_BYTESTRING;
  if (strcmp (type, "as") == 0 || strcmp (type, "ao") == 0)
    return CAT_STRV;
  if (strcmp (type, "v") == 0)
    return CAT_VARIANT;
  return CAT_OTHER;
}

static const char *
basic_ctype (char t)
{
  switch (t)
    {
    case 'b': return "gboolean";
    case 'y': return "guchar";
    case 'n': return "gint16";
    case 'q': return "guint16";
    case 'i': return "gint32";
    case 'u': return "guint32";
    case 'x': return "gint64";
    case 't': return "guint64";
    case 'd': return "gdouble";
    default: g_assert_not_reached ();
    }
}

static const char *
basic_getter (char t)
{
  switch (t)
    {
    case 'b': return "boolean";
    case 'y': return "byte";
    case 'n': return "int16";
    case 'q': return "uint16";
    case 'i': return "int32";
    case 'u': return "uint32";
    case 'x': return "int64";
    case 't': return "uint64";
    case 'd': return "double";
    default: g_assert_not_reached ();
    }
}

/* the C type of an argument passed in ("const gchar *") */
static char *
ctype_in (const char *type,
          Category    cat)
{
  switch (cat)
    {
    case CAT_BASIC:      return g_strdup_printf ("%s ", basic_ctype (type[0]));
    case CAT_STRING:
    case CAT_BYTESTRING: return g_strdup ("const gchar *");
    case CAT_STRV:       return g_strdup ("const gchar *const *");
    case CAT_VARIANT:
    case CAT_OTHER:      return g_strdup ("GVariant *");
    }
  g_assert_not_reached ();
}

/* the C type a result is returned in (its out parameter is a pointer to it) */
static char *
ctype_out (const char *type,
           Category    cat)
{
  switch (cat)
    {
    case CAT_BASIC:      return g_strdup_printf ("%s ", basic_ctype (type[0]));
    case CAT_STRING:
    case CAT_BYTESTRING: return g_strdup ("gchar *");
    case CAT_STRV:       return g_strdup ("gchar **");
    case CAT_VARIANT:
    case CAT_OTHER:      return g_strdup ("GVariant *");
    }
  g_assert_not_reached ();
}

/* The GVariant of an argument, built from its C value (the generated code
 * builds and reads messages child by child: GVariant's format strings cost
 * more than the rest of a call) */
static char *
pack_expr (Arg *a)
{
  switch (a->cat)
    {
    case CAT_BASIC:
      return g_strdup_printf ("g_variant_new_%s (%s)", basic_getter (a->type[0]), a->name);
    case CAT_STRING:
      return g_strdup_printf ("g_variant_new_%s (%s)",
                              a->type[0] == 's' ? "string" : a->type[0] == 'o' ? "object_path" : "signature",
                              a->name);
    case CAT_BYTESTRING:
      return g_strdup_printf ("g_variant_new_bytestring (%s)", a->name);
    case CAT_STRV:
      return g_strdup_printf ("g_variant_new_%s (%s, -1)", a->type[1] == 'o' ? "objv" : "strv", a->name);
    case CAT_VARIANT:
      return g_strdup_printf ("g_variant_new_variant (%s)", a->name);
    case CAT_OTHER:
      return g_strdup (a->name);
    }
  g_assert_not_reached ();
}

/* The C value of an argument, read from its child @child on the server */
static char *
unpack_expr (Arg        *a,
             const char *child)
{
  switch (a->cat)
    {
    case CAT_BASIC:      return g_strdup_printf ("g_variant_get_%s (%s)", basic_getter (a->type[0]), child);
    case CAT_STRING:     return g_strdup_printf ("g_variant_get_string (%s, NULL)", child);
    case CAT_BYTESTRING: return g_strdup_printf ("g_variant_get_bytestring (%s)", child);
    case CAT_STRV:       return g_strdup_printf ("g_variant_get_%s (%s, NULL)",
                                                 a->type[1] == 'o' ? "objv" : "strv", child);
    case CAT_VARIANT:    return g_strdup_printf ("g_variant_get_variant (%s)", child);
    case CAT_OTHER:      return g_strdup (child);
    }
  g_assert_not_reached ();
}

/* the C type the server unpacks an argument into */
static char *
ctype_unpacked (const char *type,
                Category    cat)
{
  if (cat == CAT_STRV)
    return g_strdup ("const gchar **");
  return ctype_in (type, cat);
}

static char *
args_tuple_type (Method *m)
{
  GString *t = g_string_new ("(");

  for (guint i = 0; i < m->args->len; i++)
    g_string_append (t, ((Arg *) m->args->pdata[i])->type);
  g_string_append_c (t, ')');
  return g_string_free (t, FALSE);
}

/* ---- reading the description ---- */

static gboolean
check_keys (JsonObject  *obj,
            const char  *where,
            const char **allowed,
            GError     **error)
{
  g_autoptr(GList) members = json_object_get_members (obj);

  for (GList *l = members; l; l = l->next)
    if (!g_strv_contains (allowed, l->data))
      {
        g_set_error (error, CODEGEN_ERROR, 0, "%s: unknown key \"%s\"", where, (char *) l->data);
        return FALSE;
      }
  return TRUE;
}

static const char *
get_string (JsonObject  *obj,
            const char  *key,
            const char  *where,
            gboolean     required,
            GError     **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL)
    {
      if (required)
        g_set_error (error, CODEGEN_ERROR, 0, "%s: \"%s\" is missing", where, key);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, CODEGEN_ERROR, 0, "%s: \"%s\" must be a string", where, key);
      return NULL;
    }
  return json_node_get_string (node);
}

/* a GVariant type a message can carry: valid, definite, no handles */
static gboolean
check_type (const char  *type,
            const char  *where,
            GError     **error)
{
  if (!g_variant_type_string_is_valid (type))
    {
      g_set_error (error, CODEGEN_ERROR, 0, "%s: \"%s\" is not a GVariant type string", where, type);
      return FALSE;
    }
  if (!g_variant_type_is_definite ((const GVariantType *) type))
    {
      g_set_error (error, CODEGEN_ERROR, 0,
                   "%s: \"%s\" is not a definite type (no '*', '?' or 'r': a message has one type)",
                   where, type);
      return FALSE;
    }
  if (strchr (type, 'h'))
    {
      g_set_error (error, CODEGEN_ERROR, 0,
                   "%s: \"%s\" holds a file handle ('h'), which cannot cross to another process",
                   where, type);
      return FALSE;
    }
  return TRUE;
}

static const char *reserved_arg_names[] = {
  "channel", "state", "cancellable", "callback", "user_data", "error", "result", "res", NULL,
};

static Method *
read_method (JsonNode    *node,
             gboolean     is_cast,
             guint        index,
             GError     **error)
{
  static const char *rpc_keys[] = { "name", "doc", "args", "result", NULL };
  static const char *cast_keys[] = { "name", "doc", "args", NULL };
  g_autofree char *where = g_strdup_printf ("%s[%u]", is_cast ? "cast" : "rpc", index);
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func ((GDestroyNotify) arg_free);
  JsonObject *obj;
  JsonNode *args_node;
  const char *name, *doc = NULL, *result = NULL;
  Method *m;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, CODEGEN_ERROR, 0, "%s: a method must be an object", where);
      return NULL;
    }
  obj = json_node_get_object (node);
  if ((name = get_string (obj, "name", where, TRUE, error)) == NULL)
    return NULL;
  if (!valid_name (name))
    {
      g_set_error (error, CODEGEN_ERROR, 0,
                   "%s: method name \"%s\" must be a letter followed by letters, digits, '-' or '_'",
                   where, name);
      return NULL;
    }
  g_free (where);
  where = g_strdup_printf ("%s[%u] (\"%s\")", is_cast ? "cast" : "rpc", index, name);
  if (!check_keys (obj, where, is_cast ? cast_keys : rpc_keys, error))
    return NULL;
  if (json_object_has_member (obj, "doc") &&
      (doc = get_string (obj, "doc", where, FALSE, error)) == NULL)
    return NULL;
  if (!is_cast)
    {
      if ((result = get_string (obj, "result", where, TRUE, error)) == NULL)
        return NULL;
      {
        g_autofree char *rwhere = g_strdup_printf ("%s: result", where);
        if (!check_type (result, rwhere, error))
          return NULL;
      }
    }

  args_node = json_object_get_member (obj, "args");
  if (args_node && !JSON_NODE_HOLDS_ARRAY (args_node))
    {
      g_set_error (error, CODEGEN_ERROR, 0, "%s: \"args\" must be an array", where);
      return NULL;
    }
  for (guint i = 0; args_node && i < json_array_get_length (json_node_get_array (args_node)); i++)
    {
      static const char *arg_keys[] = { "name", "type", NULL };
      JsonNode *an = json_array_get_element (json_node_get_array (args_node), i);
      g_autofree char *awhere = g_strdup_printf ("%s: args[%u]", where, i);
      const char *aname, *atype;
      Arg *a;

      if (!JSON_NODE_HOLDS_OBJECT (an))
        {
          g_set_error (error, CODEGEN_ERROR, 0, "%s: an argument must be an object", awhere);
          return NULL;
        }
      if (!check_keys (json_node_get_object (an), awhere, arg_keys, error) ||
          (aname = get_string (json_node_get_object (an), "name", awhere, TRUE, error)) == NULL ||
          (atype = get_string (json_node_get_object (an), "type", awhere, TRUE, error)) == NULL)
        return NULL;
      if (!valid_c_identifier (aname) || g_strv_contains (reserved_arg_names, aname))
        {
          g_set_error (error, CODEGEN_ERROR, 0,
                       "%s: argument name \"%s\" must be a C identifier other than %s",
                       awhere, aname, "channel, state, cancellable, callback, user_data, error, result, res");
          return NULL;
        }
      for (guint j = 0; j < args->len; j++)
        if (strcmp (((Arg *) args->pdata[j])->name + 4, aname) == 0)
          {
            g_set_error (error, CODEGEN_ERROR, 0, "%s: two arguments are named \"%s\"", awhere, aname);
            return NULL;
          }
      if (!check_type (atype, awhere, error))
        return NULL;
      a = g_new0 (Arg, 1);
      a->name = g_strconcat ("arg_", aname, NULL);
      a->type = g_strdup (atype);
      a->cat = categorize (atype);
      g_ptr_array_add (args, a);
    }

  m = g_new0 (Method, 1);
  m->wire = g_strdup (name);
  m->c = to_c (name);
  m->doc = g_strdup (doc);
  m->is_cast = is_cast;
  m->args = g_steal_pointer (&args);
  m->result = g_strdup (result);
  m->result_cat = result ? categorize (result) : CAT_OTHER;
  return m;
}

static Server *
read_description (const char  *path,
                  GError     **error)
{
  static const char *keys[] = { "name", "named", "state", "doc", "rpc", "cast", NULL };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(Server) s = g_new0 (Server, 1);
  JsonNode *root;
  JsonObject *obj;
  const char *name, *state = NULL, *doc = NULL;
  const char *kinds[] = { "rpc", "cast" };

  if (!json_parser_load_from_file (parser, path, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, CODEGEN_ERROR, 0, "the description must be a JSON object");
      return NULL;
    }
  obj = json_node_get_object (root);
  if (!check_keys (obj, "the server", keys, error) ||
      (name = get_string (obj, "name", "the server", TRUE, error)) == NULL)
    return NULL;
  if (!valid_name (name))
    {
      g_set_error (error, CODEGEN_ERROR, 0,
                   "the server's name \"%s\" must be a letter followed by letters, digits, '-' or '_'",
                   name);
      return NULL;
    }
  if (json_object_has_member (obj, "state"))
    {
      if ((state = get_string (obj, "state", "the server", FALSE, error)) == NULL)
        return NULL;
      if (!valid_c_identifier (state))
        {
          g_set_error (error, CODEGEN_ERROR, 0, "the server: \"state\" (\"%s\") must be a C type name",
                       state);
          return NULL;
        }
    }
  if (json_object_has_member (obj, "doc") &&
      (doc = get_string (obj, "doc", "the server", FALSE, error)) == NULL)
    return NULL;
  if (json_object_has_member (obj, "named"))
    {
      JsonNode *n = json_object_get_member (obj, "named");

      if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
        {
          g_set_error (error, CODEGEN_ERROR, 0, "the server: \"named\" must be true or false");
          return NULL;
        }
      s->named = json_node_get_boolean (n);
    }

  s->wire = g_strdup (name);
  s->c = to_c (name);
  s->camel = to_camel (name);
  s->upper = g_ascii_strup (s->c, -1);
  s->doc = g_strdup (doc);
  s->state = g_strdup (state);
  s->methods = g_ptr_array_new_with_free_func ((GDestroyNotify) method_free);

  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      JsonNode *list = json_object_get_member (obj, kinds[k]);

      if (list == NULL)
        continue;
      if (!JSON_NODE_HOLDS_ARRAY (list))
        {
          g_set_error (error, CODEGEN_ERROR, 0, "the server: \"%s\" must be an array of methods",
                       kinds[k]);
          return NULL;
        }
      for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
        {
          Method *m = read_method (json_array_get_element (json_node_get_array (list), i),
                                   k == 1, i, error);

          if (m == NULL)
            return NULL;
          for (guint j = 0; j < s->methods->len; j++)
            {
              Method *o = s->methods->pdata[j];

              if (strcmp (o->c, m->c) == 0)
                {
                  g_set_error (error, CODEGEN_ERROR, 0,
                               "%s[%u]: methods \"%s\" and \"%s\" have the same C name %s",
                               kinds[k], i, o->wire, m->wire, m->c);
                  method_free (m);
                  return NULL;
                }
            }
          g_ptr_array_add (s->methods, m);
        }
    }
  if (s->methods->len == 0)
    {
      g_set_error (error, CODEGEN_ERROR, 0, "the server has no method: give \"rpc\" or \"cast\"");
      return NULL;
    }
  return g_steal_pointer (&s);
}

/* ---- writing ---- */

/* the C parameters of the in-arguments: ",\n    const gchar *arg_who" */
static void
append_in_params (GString *out,
                  Method  *m,
                  int      indent)
{
  for (guint i = 0; i < m->args->len; i++)
    {
      Arg *a = m->args->pdata[i];
      g_autofree char *ct = ctype_in (a->type, a->cat);

      g_string_append_printf (out, ",\n%*s%s%s", indent, "", ct, a->name);
    }
}

static gboolean
has_result (Method *m)
{
  return m->result && strcmp (m->result, "()") != 0;
}

static void
append_arg_docs (GString *out,
                 Method  *m)
{
  for (guint i = 0; i < m->args->len; i++)
    {
      Arg *a = m->args->pdata[i];

      g_string_append_printf (out, " * @%s: Argument to pass (GVariant type `%s`).\n", a->name, a->type);
    }
}

static void
append_method_doc (GString *out,
                   Method  *m)
{
  if (m->doc)
    g_string_append_printf (out, " *\n * %s\n", m->doc);
}

/* _bank_pack_add (arg_who, arg_amount) */
static void
append_pack_args (GString *out,
                  Server  *s,
                  Method  *m)
{
  g_string_append_printf (out, "_%s_pack_%s (", s->c, m->c);
  for (guint i = 0; i < m->args->len; i++)
    g_string_append_printf (out, "%s%s", i ? ", " : "", ((Arg *) m->args->pdata[i])->name);
  g_string_append (out, ")");
}

/* static GVariant *_bank_pack_add (const gchar *arg_who, gint64 arg_amount):
 * the arguments' tuple */
static void
append_pack_function (GString *c,
                      Server  *s,
                      Method  *m)
{
  int ind = (int) (strlen (s->c) + strlen (m->c) + strlen ("__pack_ ("));

  g_string_append_printf (c, "static GVariant *\n_%s_pack_%s (", s->c, m->c);
  if (m->args->len == 0)
    {
      g_string_append (c, "void)\n{\n  return g_variant_new_tuple (NULL, 0);\n}\n\n");
      return;
    }
  for (guint i = 0; i < m->args->len; i++)
    {
      Arg *a = m->args->pdata[i];
      g_autofree char *ct = ctype_in (a->type, a->cat);
      g_string_append_printf (c, "%s%*s%s%s", i ? ",\n" : "", i ? ind : 0, "", ct, a->name);
    }
  g_string_append_printf (c, ")\n{\n  GVariant *_children[%u];\n\n", m->args->len);
  for (guint i = 0; i < m->args->len; i++)
    {
      g_autofree char *e = pack_expr (m->args->pdata[i]);
      g_string_append_printf (c, "  _children[%u] = %s;\n", i, e);
    }
  g_string_append_printf (c, "  return g_variant_new_tuple (_children, %u);\n}\n\n", m->args->len);
}

/* *out_result = <from the GVariant @var> */
static void
append_unpack_result (GString    *out,
                      Method     *m,
                      const char *var)
{
  switch (m->result_cat)
    {
    case CAT_BASIC:
      g_string_append_printf (out, "g_variant_get_%s (%s)", basic_getter (m->result[0]), var);
      break;
    case CAT_STRING:
      g_string_append_printf (out, "g_variant_dup_string (%s, NULL)", var);
      break;
    case CAT_BYTESTRING:
      g_string_append_printf (out, "g_variant_dup_bytestring (%s, NULL)", var);
      break;
    case CAT_STRV:
      g_string_append_printf (out, "g_variant_dup_%s (%s, NULL)", m->result[1] == 'o' ? "objv" : "strv", var);
      break;
    case CAT_VARIANT:
      g_string_append_printf (out, "g_variant_get_variant (%s)", var);
      break;
    case CAT_OTHER:
      g_string_append_printf (out, "g_variant_ref (%s)", var);
      break;
    }
}

static void
write_header (GString *h,
              Server  *s,
              const char *input)
{
  g_autofree char *base = g_path_get_basename (input);

  g_string_append_printf (h,
    "/* Generated by dp-codegen from %s. Do not edit. */\n"
    "#pragma once\n\n"
    "#include <libdp/libdp.h>\n\n"
    "G_BEGIN_DECLS\n\n", base);

  g_string_append_printf (h,
    "/**\n"
    " * %s_SERVER_NAME:\n"
    " *\n"
    " * The name of the server \"%s\".%s\n"
    " */\n"
    "#define %s_SERVER_NAME \"%s\"\n\n",
    s->upper, s->wire,
    s->named ? " A named server (the seed's `define-named-remote-server`):\n"
               " * launch it under this name and connect to it with\n"
               " * dp_connect_to_named_place(); its clients share its state." : "",
    s->upper, s->wire);
  g_string_append_printf (h,
    "/**\n"
    " * %s_PLACE_SYMBOL:\n"
    " *\n"
    " * The symbol of its place function make_%s(), for\n"
    " * dp_remote_node_launch_place().\n"
    " */\n"
    "#define %s_PLACE_SYMBOL \"make_%s\"\n\n",
    s->upper, s->c, s->upper, s->c);

  /* ---- the server side ---- */
  g_string_append (h, "/* ---- the server: written by you, called by make_");
  g_string_append_printf (h, "%s() ---- */\n\n", s->c);
  if (s->state)
    {
      g_string_append_printf (h,
        "typedef struct _%s %s;\n\n"
        "/**\n"
        " * %s_state_new:\n"
        " *\n"
        " * Written by you: the server's state (the seed's `define-state`), made\n"
        " * when the server starts and passed to every handler.\n"
        " *\n"
        " * Returns: (transfer full): the state\n"
        " */\n"
        "%s *%s_state_new (void);\n\n"
        "/**\n"
        " * %s_state_free:\n"
        " * @state: the state\n"
        " *\n"
        " * Written by you: frees the state when the server ends.\n"
        " */\n"
        "void %s_state_free (%s *state);\n\n",
        s->state, s->state, s->c, s->state, s->c, s->c, s->c, s->state);
    }
  for (guint i = 0; i < s->methods->len; i++)
    {
      Method *m = s->methods->pdata[i];
      int indent = (int) strlen (s->c) + (int) strlen (m->c) + (int) strlen ("_handle_ (") +
                   (m->is_cast ? 5 : 9);

      g_string_append_printf (h, "/**\n * %s_handle_%s:\n", s->c, m->c);
      if (s->state)
        g_string_append (h, " * @state: the server's state\n");
      append_arg_docs (h, m);
      if (!m->is_cast)
        {
          if (has_result (m))
            g_string_append_printf (h, " * @out_result: (out) (transfer full): return location for the result\n"
                                       " *   (GVariant type `%s`; a #GVariant may be floating)\n",
                                    m->result);
          g_string_append (h, " * @error: return location for a #GError, sent to the caller\n");
        }
      g_string_append_printf (h, " *\n * Written by you: the %s `%s` of the server \"%s\" (the seed's `%s`).\n",
                              m->is_cast ? "cast" : "rpc", m->wire, s->wire,
                              m->is_cast ? "define-cast" : "define-rpc");
      append_method_doc (h, m);
      if (!m->is_cast)
        g_string_append (h, " *\n * Returns: %TRUE with the result set, or %FALSE with @error set\n");
      g_string_append (h, " */\n");
      {
        g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func (g_free);

        if (s->state)
          g_ptr_array_add (params, g_strdup_printf ("%s *state", s->state));
        for (guint j = 0; j < m->args->len; j++)
          {
            Arg *a = m->args->pdata[j];
            g_autofree char *ct = ctype_in (a->type, a->cat);
            g_ptr_array_add (params, g_strconcat (ct, a->name, NULL));
          }
        if (has_result (m))
          {
            g_autofree char *ot = ctype_out (m->result, m->result_cat);
            g_ptr_array_add (params, g_strconcat (ot, "*out_result", NULL));
          }
        if (!m->is_cast)
          g_ptr_array_add (params, g_strdup ("GError **error"));
        g_string_append_printf (h, "%s %s_handle_%s (", m->is_cast ? "void" : "gboolean", s->c, m->c);
        if (params->len == 0)
          g_string_append (h, "void");
        for (guint j = 0; j < params->len; j++)
          g_string_append_printf (h, "%s%*s%s", j ? ",\n" : "", j ? indent : 0, "",
                                  (char *) params->pdata[j]);
      }
      g_string_append (h, ");\n\n");
    }
  g_string_append_printf (h,
    "/**\n"
    " * make_%s:\n"
    " * @channel: the place's channel\n"
    " *\n"
    " * The place function of the server \"%s\" (the seed's `make-%s`):\n"
    " * serves requests with dp_rpc_serve() until @channel closes.%s\n"
    " */\n"
    "DP_PLACE_EXPORT void make_%s (DpPlaceChannel *channel);\n\n"
    "/**\n"
    " * %s_get_interface_info:\n"
    " *\n"
    " * Returns: (transfer none): the server's methods, for dp_rpc_serve()\n"
    " */\n"
    "const DpRpcInterfaceInfo *%s_get_interface_info (void);\n\n",
    s->c, s->wire, s->wire,
    s->doc ? "" : "", s->c, s->c, s->c);
  if (s->doc)
    {
      g_autofree char *pat = g_strdup_printf ("until @channel closes.\n");
      g_autofree char *rep = g_strdup_printf ("until @channel closes.\n *\n * %s\n", s->doc);
      g_string_replace (h, pat, rep, 1);
    }

  /* ---- the client side ---- */
  g_string_append (h, "/* ---- the clients: on any DpChannel leading to the server ---- */\n\n");
  for (guint i = 0; i < s->methods->len; i++)
    {
      Method *m = s->methods->pdata[i];

      if (m->is_cast)
        {
          int indent = (int) strlen (s->c) + (int) strlen (m->c) + (int) strlen ("gboolean _cast_ (");
          g_string_append_printf (h, "gboolean %s_cast_%s (DpChannel *channel", s->c, m->c);
          append_in_params (h, m, indent);
          g_string_append_printf (h, ",\n%*sGError **error);\n\n", indent, "");
          continue;
        }
      {
        int indent = (int) strlen (s->c) + (int) strlen (m->c) + (int) strlen ("gboolean _call__sync (");
        g_string_append_printf (h, "gboolean %s_call_%s_sync (DpChannel *channel", s->c, m->c);
        append_in_params (h, m, indent);
        if (has_result (m))
          {
            g_autofree char *ot = ctype_out (m->result, m->result_cat);
            g_string_append_printf (h, ",\n%*s%s*out_result", indent, "", ot);
          }
        g_string_append_printf (h, ",\n%*sGCancellable *cancellable,\n%*sGError **error);\n",
                                indent, "", indent, "");
      }
      {
        int indent = (int) strlen (s->c) + (int) strlen (m->c) + (int) strlen ("void _call__async (");
        g_string_append_printf (h, "void %s_call_%s_async (DpChannel *channel", s->c, m->c);
        append_in_params (h, m, indent);
        g_string_append_printf (h, ",\n%*sGCancellable *cancellable,\n%*sGAsyncReadyCallback callback,\n%*sgpointer user_data);\n",
                                indent, "", indent, "", indent, "");
      }
      {
        int indent = (int) strlen (s->c) + (int) strlen (m->c) + (int) strlen ("gboolean _call__finish (");
        g_string_append_printf (h, "gboolean %s_call_%s_finish (DpChannel *channel", s->c, m->c);
        if (has_result (m))
          {
            g_autofree char *ot = ctype_out (m->result, m->result_cat);
            g_string_append_printf (h, ",\n%*s%s*out_result", indent, "", ot);
          }
        g_string_append_printf (h, ",\n%*sGAsyncResult *res,\n%*sGError **error);\n\n",
                                indent, "", indent, "");
      }
    }
  g_string_append (h, "G_END_DECLS\n");
}

/* the first lines of a .c file */
static void
append_preamble (GString    *c,
                 const char *input,
                 const char *header)
{
  g_autofree char *base = g_path_get_basename (input);

  g_string_append_printf (c,
    "/* Generated by dp-codegen from %s. Do not edit. */\n"
    "#include \"%s\"\n\n", base, header);
}

static void
write_client (GString    *c,
              Server     *s,
              const char *input,
              const char *header)
{
  append_preamble (c, input, header);

  for (guint i = 0; i < s->methods->len; i++)
    append_pack_function (c, s, s->methods->pdata[i]);

  for (guint i = 0; i < s->methods->len; i++)
    {
      Method *m = s->methods->pdata[i];
      g_autofree char *rtype = m->result ? g_strdup (m->result) : NULL;
      int ind;

      if (m->is_cast)
        {
          g_string_append_printf (c,
            "/**\n"
            " * %s_cast_%s:\n"
            " * @channel: a #DpChannel leading to the server \"%s\"\n", s->c, m->c, s->wire);
          append_arg_docs (c, m);
          g_string_append_printf (c,
            " * @error: return location for a #GError\n"
            " *\n"
            " * Sends the cast `%s` (the seed's `%s-%s`): the server calls its handler\n"
            " * and sends nothing back, so this never waits for the server.\n", m->wire, s->wire, m->wire);
          append_method_doc (c, m);
          g_string_append (c,
            " *\n"
            " * Returns: %FALSE with %DP_ERROR_CLOSED when the channel has gone\n"
            " */\n");
          ind = (int) (strlen (s->c) + strlen (m->c) + strlen ("_cast_ ("));
          g_string_append_printf (c, "gboolean\n%s_cast_%s (DpChannel *channel", s->c, m->c);
          append_in_params (c, m, ind);
          g_string_append_printf (c, ",\n%*sGError **error)\n{\n  return dp_rpc_cast (channel, ", ind, "");
          g_string_append_printf (c, "\"%s\", ", m->wire);
          append_pack_args (c, s, m);
          g_string_append (c, ", error);\n}\n\n");
          continue;
        }

      /* _sync */
      g_string_append_printf (c,
        "/**\n"
        " * %s_call_%s_sync:\n"
        " * @channel: a #DpChannel leading to the server \"%s\"\n", s->c, m->c, s->wire);
      append_arg_docs (c, m);
      if (has_result (m))
        g_string_append_printf (c, " * @out_result: (out) (optional): return location for the result (GVariant type `%s`)\n", m->result);
      g_string_append_printf (c,
        " * @cancellable: (nullable): a #GCancellable\n"
        " * @error: return location for a #GError\n"
        " *\n"
        " * Calls the rpc `%s` (the seed's `%s-%s`) and waits for its reply.\n"
        " * See %s_call_%s_async() for the asynchronous version.\n",
        m->wire, s->wire, m->wire, s->c, m->c);
      append_method_doc (c, m);
      g_string_append (c,
        " *\n"
        " * Returns: %TRUE on success, or %FALSE with @error set: the handler's\n"
        " *   own error, %DP_ERROR_UNKNOWN_METHOD, %DP_ERROR_INVALID_ARGS,\n"
        " *   %DP_ERROR_CLOSED, %DP_ERROR_PLACE_FAILED (the server place died and\n"
        " *   is being restarted) or %G_IO_ERROR_CANCELLED (see dp_rpc_call_sync())\n"
        " */\n");
      ind = (int) (strlen (s->c) + strlen (m->c) + strlen ("_call__sync ("));
      g_string_append_printf (c, "gboolean\n%s_call_%s_sync (DpChannel *channel", s->c, m->c);
      append_in_params (c, m, ind);
      if (has_result (m))
        {
          g_autofree char *ot = ctype_out (m->result, m->result_cat);
          g_string_append_printf (c, ",\n%*s%s*out_result", ind, "", ot);
        }
      g_string_append_printf (c, ",\n%*sGCancellable *cancellable,\n%*sGError **error)\n{\n  GVariant *_result;\n\n", ind, "", ind, "");
      g_string_append_printf (c, "  _result = dp_rpc_call_sync (channel, \"%s\", ", m->wire);
      append_pack_args (c, s, m);
      g_string_append_printf (c, ",\n                              G_VARIANT_TYPE (\"%s\"), cancellable, error);\n", rtype);
      g_string_append (c, "  if (_result == NULL)\n    return FALSE;\n");
      if (has_result (m))
        {
          g_string_append (c, "  if (out_result != NULL)\n    *out_result = ");
          append_unpack_result (c, m, "_result");
          g_string_append (c, ";\n");
        }
      g_string_append (c, "  g_variant_unref (_result);\n  return TRUE;\n}\n\n");

      /* _async */
      g_string_append_printf (c,
        "/**\n"
        " * %s_call_%s_async:\n"
        " * @channel: a #DpChannel leading to the server \"%s\"\n", s->c, m->c, s->wire);
      append_arg_docs (c, m);
      g_string_append_printf (c,
        " * @cancellable: (nullable): a #GCancellable\n"
        " * @callback: called with the reply, in the thread-default main context of the caller\n"
        " * @user_data: for @callback\n"
        " *\n"
        " * Calls the rpc `%s` without waiting; @callback gets the result with\n"
        " * %s_call_%s_finish(). See %s_call_%s_sync() for the synchronous version.\n",
        m->wire, s->c, m->c, s->c, m->c);
      append_method_doc (c, m);
      g_string_append (c, " */\n");
      ind = (int) (strlen (s->c) + strlen (m->c) + strlen ("_call__async ("));
      g_string_append_printf (c, "void\n%s_call_%s_async (DpChannel *channel", s->c, m->c);
      append_in_params (c, m, ind);
      g_string_append_printf (c, ",\n%*sGCancellable *cancellable,\n%*sGAsyncReadyCallback callback,\n%*sgpointer user_data)\n{\n", ind, "", ind, "", ind, "");
      g_string_append_printf (c, "  dp_rpc_call_async (channel, \"%s\", ", m->wire);
      append_pack_args (c, s, m);
      g_string_append_printf (c, ",\n                     G_VARIANT_TYPE (\"%s\"), cancellable, callback, user_data);\n}\n\n", rtype);

      /* _finish */
      g_string_append_printf (c,
        "/**\n"
        " * %s_call_%s_finish:\n"
        " * @channel: the #DpChannel given to %s_call_%s_async()\n", s->c, m->c, s->c, m->c);
      if (has_result (m))
        g_string_append_printf (c, " * @out_result: (out) (optional): return location for the result (GVariant type `%s`)\n", m->result);
      g_string_append_printf (c,
        " * @res: the #GAsyncResult given to the callback\n"
        " * @error: return location for a #GError\n"
        " *\n"
        " * Finishes %s_call_%s_async().\n"
        " *\n"
        " * Returns: %%TRUE on success, or %%FALSE with @error set (as for\n"
        " *   %s_call_%s_sync())\n"
        " */\n", s->c, m->c, s->c, m->c);
      ind = (int) (strlen (s->c) + strlen (m->c) + strlen ("_call__finish ("));
      g_string_append_printf (c, "gboolean\n%s_call_%s_finish (DpChannel *channel", s->c, m->c);
      if (has_result (m))
        {
          g_autofree char *ot = ctype_out (m->result, m->result_cat);
          g_string_append_printf (c, ",\n%*s%s*out_result", ind, "", ot);
        }
      g_string_append_printf (c, ",\n%*sGAsyncResult *res,\n%*sGError **error)\n{\n"
                          "  GVariant *_result = dp_rpc_call_finish (channel, res, error);\n\n"
                          "  if (_result == NULL)\n    return FALSE;\n", ind, "", ind, "");
      if (has_result (m))
        {
          g_string_append (c, "  if (out_result != NULL)\n    *out_result = ");
          append_unpack_result (c, m, "_result");
          g_string_append (c, ";\n");
        }
      g_string_append (c, "  g_variant_unref (_result);\n  return TRUE;\n}\n\n");
    }
}

/* packs the handler's result into *_out_result and frees it */
static void
append_pack_result (GString *c,
                    Method  *m)
{
  const char *t = m->result;

  switch (m->result_cat)
    {
    case CAT_BASIC:
      g_string_append_printf (c, "  *_out_result = g_variant_new_%s (result);\n", basic_getter (t[0]));
      break;
    case CAT_STRING:
      g_string_append_printf (c,
        "  if (result != NULL)\n"
        "    *_out_result = g_variant_new_%s (result);\n"
        "  g_free (result);\n",
        t[0] == 's' ? "string" : t[0] == 'o' ? "object_path" : "signature");
      break;
    case CAT_BYTESTRING:
      g_string_append (c,
        "  if (result != NULL)\n"
        "    *_out_result = g_variant_new_bytestring (result);\n"
        "  g_free (result);\n");
      break;
    case CAT_STRV:
      g_string_append_printf (c,
        "  if (result != NULL)\n"
        "    *_out_result = g_variant_new_%s ((const gchar *const *) result, -1);\n"
        "  g_strfreev (result);\n", t[1] == 'o' ? "objv" : "strv");
      break;
    case CAT_VARIANT:
      g_string_append (c,
        "  if (result != NULL)\n"
        "    {\n"
        "      g_variant_take_ref (result);\n"
        "      *_out_result = g_variant_new_variant (result);\n"
        "      g_variant_unref (result);\n"
        "    }\n");
      break;
    case CAT_OTHER:
      g_string_append (c, "  *_out_result = result;   /* checked against the method's type */\n");
      break;
    }
}

static void
append_free_result_on_error (GString *c,
                             Method  *m)
{
  switch (m->result_cat)
    {
    case CAT_BASIC:
      break;
    case CAT_STRING:
    case CAT_BYTESTRING:
      g_string_append (c, "      g_free (result);\n");
      break;
    case CAT_STRV:
      g_string_append (c, "      g_strfreev (result);\n");
      break;
    case CAT_VARIANT:
    case CAT_OTHER:
      g_string_append (c, "      if (result != NULL)\n        g_variant_unref (g_variant_take_ref (result));\n");
      break;
    }
}

static void
append_free_args (GString *c,
                  Method  *m,
                  const char *indent)
{
  for (guint i = 0; i < m->args->len; i++)
    {
      Arg *a = m->args->pdata[i];

      if (a->cat == CAT_STRV)
        g_string_append_printf (c, "%sg_free (%s);\n", indent, a->name);
      else if (a->cat == CAT_VARIANT)
        g_string_append_printf (c, "%sg_variant_unref (%s);\n", indent, a->name);
    }
  for (guint i = 0; i < m->args->len; i++)
    g_string_append_printf (c, "%sg_variant_unref (_children[%u]);\n", indent, i);
}

static void
write_server (GString    *c,
              Server     *s,
              const char *input,
              const char *header)
{
  append_preamble (c, input, header);

  for (guint i = 0; i < s->methods->len; i++)
    {
      Method *m = s->methods->pdata[i];

      g_string_append_printf (c,
        "static gboolean\n"
        "_%s_dispatch_%s (gpointer   _state,\n"
        "%*sGVariant  *_args,\n"
        "%*sGVariant **_out_result,\n"
        "%*sGError   **error)\n{\n",
        s->c, m->c,
        (int) (strlen (s->c) + strlen (m->c) + strlen ("__dispatch_ (")), "",
        (int) (strlen (s->c) + strlen (m->c) + strlen ("__dispatch_ (")), "",
        (int) (strlen (s->c) + strlen (m->c) + strlen ("__dispatch_ (")), "");
      for (guint j = 0; j < m->args->len; j++)
        {
          Arg *a = m->args->pdata[j];
          g_autofree char *ct = ctype_unpacked (a->type, a->cat);
          g_string_append_printf (c, "  %s%s;\n", ct, a->name);
        }
      if (has_result (m))
        {
          g_autofree char *ot = ctype_out (m->result, m->result_cat);
          g_string_append_printf (c, "  %sresult = %s;\n", ot,
                                  m->result_cat == CAT_BASIC ? "0" : "NULL");
        }
      if (m->args->len > 0)
        g_string_append_printf (c, "  GVariant *_children[%u];\n", m->args->len);
      if (!m->is_cast)
        g_string_append (c, "  gboolean ok;\n");
      g_string_append (c, "\n");
      if (m->args->len > 0)
        {
          for (guint j = 0; j < m->args->len; j++)
            {
              Arg *a = m->args->pdata[j];
              g_autofree char *child = g_strdup_printf ("_children[%u]", j);
              g_autofree char *e = unpack_expr (a, child);

              g_string_append_printf (c, "  %s = g_variant_get_child_value (_args, %u);\n", child, j);
              g_string_append_printf (c, "  %s = %s;\n", a->name, e);
            }
        }
      else
        g_string_append (c, "  (void) _args;\n");
      if (!s->state)
        g_string_append (c, "  (void) _state;\n");
      if (m->is_cast)
        g_string_append (c, "  (void) _out_result;\n  (void) error;\n");

      g_string_append_printf (c, "  %s%s_handle_%s (", m->is_cast ? "" : "ok = ", s->c, m->c);
      {
        gboolean first = TRUE;
        if (s->state)
          {
            g_string_append_printf (c, "(%s *) _state", s->state);
            first = FALSE;
          }
        for (guint j = 0; j < m->args->len; j++)
          {
            Arg *a = m->args->pdata[j];
            g_string_append_printf (c, "%s%s", first ? "" : ", ", a->name);
            first = FALSE;
          }
        if (!m->is_cast)
          {
            if (has_result (m))
              {
                g_string_append_printf (c, "%s&result", first ? "" : ", ");
                first = FALSE;
              }
            g_string_append_printf (c, "%serror", first ? "" : ", ");
          }
      }
      g_string_append (c, ");\n");
      append_free_args (c, m, "  ");
      if (m->is_cast)
        {
          g_string_append (c, "  return TRUE;\n}\n\n");
          continue;
        }
      g_string_append (c, "  if (!ok)\n    {\n");
      if (has_result (m))
        append_free_result_on_error (c, m);
      g_string_append (c, "      return FALSE;\n    }\n");
      if (has_result (m))
        append_pack_result (c, m);
      else
        g_string_append (c, "  *_out_result = g_variant_new_tuple (NULL, 0);\n");
      g_string_append (c, "  return TRUE;\n}\n\n");
    }

  g_string_append_printf (c, "static const DpRpcMethodInfo _%s_methods[] = {\n", s->c);
  for (guint i = 0; i < s->methods->len; i++)
    {
      Method *m = s->methods->pdata[i];
      g_autofree char *at = args_tuple_type (m);

      if (m->is_cast)
        g_string_append_printf (c, "  { \"%s\", \"%s\", NULL, _%s_dispatch_%s },\n", m->wire, at, s->c, m->c);
      else
        g_string_append_printf (c, "  { \"%s\", \"%s\", \"%s\", _%s_dispatch_%s },\n",
                                m->wire, at, m->result, s->c, m->c);
    }
  g_string_append_printf (c, "};\n\n"
    "static const DpRpcInterfaceInfo _%s_info = {\n"
    "  \"%s\", _%s_methods, G_N_ELEMENTS (_%s_methods),\n"
    "};\n\n"
    "const DpRpcInterfaceInfo *\n"
    "%s_get_interface_info (void)\n"
    "{\n"
    "  return &_%s_info;\n"
    "}\n\n",
    s->c, s->wire, s->c, s->c, s->c, s->c);

  g_string_append_printf (c, "void\nmake_%s (DpPlaceChannel *channel)\n{\n", s->c);
  if (s->state)
    g_string_append_printf (c,
      "  %s *state = %s_state_new ();\n\n"
      "  dp_rpc_serve (channel, &_%s_info, state);\n"
      "  %s_state_free (state);\n", s->state, s->c, s->c, s->c);
  else
    g_string_append_printf (c, "  dp_rpc_serve (channel, &_%s_info, NULL);\n", s->c);
  g_string_append (c, "}\n");
}

static gboolean
write_file (const char  *dir,
            const char  *name,
            GString     *text,
            GError     **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_set_contents (path, text->str, (gssize) text->len, error);
}

int
main (int argc, char **argv)
{
  g_autofree char *prefix = NULL;
  g_autofree char *outdir = NULL;
  g_autoptr(GOptionContext) ctx =
    g_option_context_new ("DESCRIPTION.json - C for an RPC server and its clients");
  GOptionEntry entries[] = {
    { "generate-c-code", 0, 0, G_OPTION_ARG_STRING, &prefix,
      "Write PREFIX.h, PREFIX-server.c and PREFIX-client.c", "PREFIX" },
    { "output-directory", 0, 0, G_OPTION_ARG_FILENAME, &outdir,
      "Where to write them (default: the current directory)", "DIR" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(Server) s = NULL;
  g_autoptr(GString) h = g_string_new (NULL);
  g_autoptr(GString) client = g_string_new (NULL);
  g_autoptr(GString) server = g_string_new (NULL);
  g_autofree char *header = NULL, *client_name = NULL, *server_name = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_summary (ctx,
    "Reads a JSON description of an RPC server (the seed's define-remote-server):\n"
    "\n"
    "  { \"name\": \"bank\", \"named\": false, \"state\": \"BankState\",\n"
    "    \"rpc\":  [ { \"name\": \"add\", \"args\": [ { \"name\": \"who\", \"type\": \"s\" },\n"
    "                                       { \"name\": \"amount\", \"type\": \"x\" } ],\n"
    "                \"result\": \"(sv)\" } ],\n"
    "    \"cast\": [ { \"name\": \"hello\", \"args\": [] } ] }\n"
    "\n"
    "and writes PREFIX.h (the declarations of both sides), PREFIX-server.c\n"
    "(the place function make_bank, which calls the handlers you write:\n"
    "bank_handle_add ...) and PREFIX-client.c (bank_call_add_sync, _async and\n"
    "_finish; bank_cast_hello), for any DpChannel. Types are GVariant type\n"
    "strings; \"doc\" (optional) documents the server or a method.");
  g_option_context_set_description (ctx,
    "Exit status: 0 written; 1 the description is wrong (the message says where);\n"
    "2 a usage error.");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("dp-codegen: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (argc != 2 || prefix == NULL || prefix[0] == '\0')
    {
      g_printerr ("dp-codegen: give --generate-c-code PREFIX and one description file "
                  "(see --help)\n");
      return EXIT_USAGE;
    }

  s = read_description (argv[1], &error);
  if (s == NULL)
    {
      /* json-glib's and GLib's messages name the file already */
      if (error->domain == CODEGEN_ERROR)
        g_printerr ("dp-codegen: %s: %s\n", argv[1], error->message);
      else
        g_printerr ("dp-codegen: %s\n", error->message);
      return EXIT_BAD_INPUT;
    }

  header = g_strconcat (prefix, ".h", NULL);
  client_name = g_strconcat (prefix, "-client.c", NULL);
  server_name = g_strconcat (prefix, "-server.c", NULL);
  {
    g_autofree char *header_base = g_path_get_basename (header);
    write_header (h, s, argv[1]);
    write_client (client, s, argv[1], header_base);
    write_server (server, s, argv[1], header_base);
  }
  if (!write_file (outdir ? outdir : ".", header, h, &error) ||
      !write_file (outdir ? outdir : ".", client_name, client, &error) ||
      !write_file (outdir ? outdir : ".", server_name, server, &error))
    {
      g_printerr ("dp-codegen: %s\n", error->message);
      return EXIT_USAGE;
    }
  return 0;
}
