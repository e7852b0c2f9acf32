/* dp-host.c: the one reader of host strings
 *
 * Every host a user names is read here: the host of a spawn or connect call
 * (DpRemoteNode, DpSpawnedProcess: where the node runs, and how ssh gets
 * there), dp-launch's HOST:PORT and dp-node's --listen ADDRESS:PORT. The
 * forms:
 *
 *   host            user@host            host:sshport     user@host:sshport
 *   [v6]            user@[v6]            [v6]:sshport     user@[v6]:sshport
 *   v6 (unbracketed, so without a port)
 *
 * and, with DP_HOST_SPEC_NODE_PORT, any of them followed by `:port`, the
 * node's port (0: any free one): `localhost:0`, `alice@node7:0`,
 * `localhost:2222:0`, `[::1]:6340`, `user@[fe80::1]:22:0`. A host is a name,
 * an ssh config alias or an address; an IPv6 address with a port goes in
 * brackets.
 *
 * g_network_address_parse() splits the host from its ssh port where there
 * are brackets or an unbracketed IPv6 literal ("host" and "host:sshport"
 * are split here, as it would); what it would take silently, or report only
 * as "invalid", is checked first so that the error says what is wrong: an
 * empty user or host, an unbalanced bracket, a port that is missing, not a
 * number or out of range. Every error is DP_ERROR_INVALID_ARGUMENT and
 * quotes the whole string.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <string.h>

void
_dp_host_spec_free (DpHostSpec *spec)
{
  if (spec == NULL)
    return;
  g_free (spec->user);
  g_free (spec->host);
  g_free (spec);
}

/* @text: the digits after a ':' of @whole; @what: which port, for the error */
static gboolean
read_port (const char  *whole,
           const char  *text,
           const char  *what,
           guint        min,
           guint16     *port,
           GError     **error)
{
  g_autoptr(GError) number_error = NULL;
  guint64 value;

  if (*text == '\0')
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "'%s': no %s after the ':'", whole, what);
      return FALSE;
    }
  if (!g_ascii_string_to_unsigned (text, 10, min, G_MAXUINT16, &value, &number_error))
    {
      if (g_error_matches (number_error, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS))
        g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                     "'%s': the %s %s is out of range (%u-%u)", whole, what, text, min, G_MAXUINT16);
      else
        g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                     "'%s': the %s '%s' is not a number", whole, what, text);
      return FALSE;
    }
  *port = (guint16) value;
  return TRUE;
}

/* A '[' opens the host and is closed by the one ']' */
static gboolean
check_brackets (const char  *whole,
                const char  *host,
                GError     **error)
{
  const char *open = strchr (host, '[');
  const char *close = strchr (host, ']');

  if (open == NULL && close == NULL)
    return TRUE;
  if (open == NULL || close == NULL || close < open ||
      strchr (open + 1, '[') || strchr (close + 1, ']'))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "'%s': unbalanced brackets (an IPv6 address is written [address])", whole);
      return FALSE;
    }
  if (open != host)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "'%s': a '[' must open the host (an IPv6 address is written [address])", whole);
      return FALSE;
    }
  return TRUE;
}

/* In "host:p" or "[v6]:p", the port as g_network_address_parse() will
 * find it; NULL when there is none (an unbracketed IPv6 address has none) */
static const char *
find_port (const char *address)
{
  const char *colon;

  if (address[0] == '[')
    {
      const char *end = strchr (address, ']');   /* there is one: check_brackets() */
      return end[1] == ':' ? end + 2 : NULL;
    }
  colon = strchr (address, ':');
  return colon && strchr (colon + 1, ':') == NULL ? colon + 1 : NULL;
}

/* "host", "host:sshport", "[v6]", "[v6]:sshport", "v6" */
static gboolean
read_address (const char  *whole,
              const char  *address,
              DpHostSpec  *spec,
              GError     **error)
{
  g_autoptr(GSocketConnectable) parsed = NULL;
  g_autoptr(GError) gio_error = NULL;
  const char *port = find_port (address);

  if (port && !read_port (whole, port, "ssh port", 1, &spec->ssh_port, error))
    return FALSE;
  if (strpbrk (address, "[]") == NULL && (port != NULL || strchr (address, ':') == NULL))
    {
      /* "host" or "host:sshport", the common case: nothing for GIO to
       * tell apart, so no GNetworkAddress (whose class a node would
       * otherwise initialise for its --listen alone) */
      spec->host = port ? g_strndup (address, port - 1 - address) : g_strdup (address);
    }
  else
    {
      parsed = g_network_address_parse (address, 0, &gio_error);
      if (parsed == NULL)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "'%s': %s", whole, gio_error->message);
          return FALSE;
        }
      spec->host = g_strdup (g_network_address_get_hostname (G_NETWORK_ADDRESS (parsed)));
      spec->ssh_port = g_network_address_get_port (G_NETWORK_ADDRESS (parsed));
    }
  if (spec->host[0] == '\0')
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "'%s': the host is empty", whole);
      return FALSE;
    }
  for (const char *c = spec->host; *c; c++)
    if (g_ascii_isspace (*c) || *c == '/' || *c == '\\' || *c == '\'' || *c == '"')
      {
        g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                     "'%s': the host '%s' contains '%c', which no host name has%s", whole, spec->host,
                     *c == '\t' ? ' ' : *c,
                     *c == '/' ? " (a plugin path goes after HOST:PORT)" : "");
        return FALSE;
      }
  if (strchr (spec->host, ':') && !g_hostname_is_ip_address (spec->host))
    {
      /* GIO took "name:22:0" for an unbracketed IPv6 address */
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "'%s': '%s' is neither a host name nor an IPv6 address (too many ':'; "
                   "an IPv6 address with a port is written [address]:port)", whole, spec->host);
      return FALSE;
    }
  return TRUE;
}

/**
 * _dp_host_spec_parse:
 * @text: a host as a user wrote it
 * @flags: %DP_HOST_SPEC_NODE_PORT when @text ends in the node's `:port`
 * @error: return location for a #GError (%DP_ERROR_INVALID_ARGUMENT)
 *
 * Reads any form of host (see the top of this file).
 *
 * Returns: (transfer full) (nullable): the parts, or %NULL with @error set
 */
DpHostSpec *
_dp_host_spec_parse (const char       *text,
                     DpHostSpecFlags   flags,
                     GError          **error)
{
  g_autoptr(DpHostSpec) spec = NULL;
  g_autofree char *address = NULL;
  const char *at, *rest;

  g_return_val_if_fail (text != NULL, NULL);
  spec = g_new0 (DpHostSpec, 1);
  at = strrchr (text, '@');
  rest = at ? at + 1 : text;
  if (at == text)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT, "'%s': the user name before '@' is empty", text);
      return NULL;
    }
  if (!check_brackets (text, rest, error))
    return NULL;
  if (flags & DP_HOST_SPEC_NODE_PORT)
    {
      /* the last ':' that is not inside the brackets */
      const char *close = strchr (rest, ']');
      const char *colon = strrchr (close ? close : rest, ':');

      if (colon == NULL)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                       "'%s': no :PORT at the end (the node's port; 0 picks a free one)", text);
          return NULL;
        }
      if (!read_port (text, colon + 1, "port", 0, &spec->port, error))
        return NULL;
      address = g_strndup (rest, colon - rest);
    }
  else
    address = g_strdup (rest);

  if (!read_address (text, address, spec, error))
    return NULL;
  spec->user = at ? g_strndup (text, at - text) : NULL;
  return g_steal_pointer (&spec);
}

/* "user@host:sshport", an IPv6 address in brackets: the host as the spawn
 * calls take it (without the node's port) */
char *
_dp_host_spec_to_string (const DpHostSpec *spec)
{
  GString *s = g_string_new (NULL);

  if (spec->user)
    g_string_append_printf (s, "%s@", spec->user);
  if (strchr (spec->host, ':'))
    g_string_append_printf (s, "[%s]", spec->host);
  else
    g_string_append (s, spec->host);
  if (spec->ssh_port)
    g_string_append_printf (s, ":%u", spec->ssh_port);
  return g_string_free (s, FALSE);
}

/* This machine, reached without ssh: a name of it (localhost, its host
 * name) or a loopback address, with neither a user nor an ssh port (either
 * says "over ssh") */
gboolean
_dp_host_spec_is_local (const DpHostSpec *spec)
{
  g_autoptr(GInetAddress) address = NULL;

  if (spec->user || spec->ssh_port)
    return FALSE;
  if (g_ascii_strcasecmp (spec->host, "localhost") == 0 ||
      g_ascii_strcasecmp (spec->host, g_get_host_name ()) == 0)
    return TRUE;
  address = g_inet_address_new_from_string (spec->host);
  return address && g_inet_address_get_is_loopback (address);
}
