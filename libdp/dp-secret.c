/* dp-secret.c: the shared secret and its cookie file
 *
 * Nodes of one cluster share a secret; every connection starts with a
 * challenge-response over it (dp-wire.c). A master keeps it in a cookie
 * file, created on first use with mode 0600 in a 0700 directory, and hands
 * it to the nodes it spawns over their standard input. A cookie file (or
 * its directory) that others can read is refused, naming path and mode.
 *
 * Secrets and handshake nonces come from the kernel's cryptographic
 * generator, getrandom(2), and from nothing else: a process that cannot
 * get random bytes from it ends at once (fail closed) rather than run
 * with guessable nonces. getrandom() without flags blocks only until the
 * kernel's pool has been seeded once after boot, and otherwise cannot fail
 * on a kernel that has it (Linux 3.17 and later); the failure path is
 * exercised by the unit test /secret/random/fails-closed (a seccomp filter
 * that makes getrandom() fail).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define SECRET_BYTES 32

/* Fills @buf with @len bytes from getrandom(2), retrying on EINTR and
 * short reads; aborts the process (g_error()) when the kernel gives none. */
void
_dp_random_bytes (guint8 *buf,
                  gsize   len)
{
  gsize have = 0;

  while (have < len)
    {
      gssize n = getrandom (buf + have, len - have, 0);

      if (n > 0)
        have += (gsize) n;
      else if (n < 0 && errno == EINTR)
        continue;
      else
        g_error ("libdp: no cryptographic randomness: getrandom() failed: %s; "
                 "refusing to run with guessable nonces and secrets",
                 n < 0 ? g_strerror (errno) : "it returned no bytes");
    }
}

/**
 * dp_cookie_get_default_path:
 *
 * `$DP_COOKIE_FILE` if set, else `$XDG_CONFIG_HOME/libdp/cookie`.
 *
 * Returns: (transfer full): the path of the cookie file
 *
 * Since: 1.0
 */
char *
dp_cookie_get_default_path (void)
{
  const char *env = g_getenv ("DP_COOKIE_FILE");

  if (env && *env)
    return g_strdup (env);
  return g_build_filename (g_get_user_config_dir (), "libdp", "cookie", NULL);
}

/**
 * dp_secret_parse:
 * @text: a secret as hexadecimal digits (surrounding white space is ignored)
 * @error: return location for a #GError
 *
 * Parses a cluster secret written as hexadecimal digits (the cookie file's
 * format).
 *
 * Returns: (transfer full) (nullable): the secret's bytes
 *
 * Since: 1.0
 */
GBytes *
dp_secret_parse (const char  *text,
                 GError     **error)
{
  g_autofree char *s = g_strstrip (g_strdup (text ? text : ""));
  gsize len = strlen (s);
  g_autofree guint8 *bytes = NULL;

  if (len < DP_SECRET_MIN_LEN * 2 || len % 2 != 0)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                   "a secret is at least %d hexadecimal digits, in pairs",
                   DP_SECRET_MIN_LEN * 2);
      return NULL;
    }
  bytes = g_malloc (len / 2);
  for (gsize i = 0; i < len / 2; i++)
    {
      int hi = g_ascii_xdigit_value (s[2 * i]);
      int lo = g_ascii_xdigit_value (s[2 * i + 1]);
      if (hi < 0 || lo < 0)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                       "a secret is made of hexadecimal digits only");
          return NULL;
        }
      bytes[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (g_steal_pointer (&bytes), len / 2);
}

/**
 * dp_secret_to_string:
 * @secret: a secret
 *
 * Writes a cluster secret as hexadecimal digits (the cookie file's
 * format).
 *
 * Returns: (transfer full): @secret as lower-case hexadecimal digits
 *
 * Since: 1.0
 */
char *
dp_secret_to_string (GBytes *secret)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (secret, &len);
  GString *s = g_string_sized_new (len * 2);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
  return g_string_free (s, FALSE);
}

static gboolean
check_mode (const char  *path,
            gboolean     is_dir,
            GError     **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                   "cannot read %s: %s", path, g_strerror (errno));
      return FALSE;
    }
  if ((st.st_mode & (is_dir ? 022 : 077)) != 0)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                   "refusing %s %s: its mode is %04o, others can %s it "
                   "(chmod %s %s)", is_dir ? "cookie directory" : "cookie file",
                   path, (unsigned) (st.st_mode & 07777),
                   is_dir ? "write" : "read", is_dir ? "700" : "600", path);
      return FALSE;
    }
  if (st.st_uid != getuid ())
    {
      g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                   "refusing %s: it belongs to another user", path);
      return FALSE;
    }
  return TRUE;
}

/**
 * dp_cookie_load:
 * @path: (nullable): the cookie file, or %NULL for the default
 * @create: whether to create it (mode 0600) when it does not exist
 * @error: return location for a #GError
 *
 * Reads the cluster secret. A file that group or others can read, or a
 * directory others can write, is refused with %DP_ERROR_COOKIE.
 *
 * Returns: (transfer full) (nullable): the secret
 *
 * Since: 1.0
 */
GBytes *
dp_cookie_load (const char  *path,
                gboolean     create,
                GError     **error)
{
  g_autofree char *default_path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *contents = NULL;

  if (path == NULL)
    path = default_path = dp_cookie_get_default_path ();
  dir = g_path_get_dirname (path);

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      guint8 raw[SECRET_BYTES];
      g_autoptr(GBytes) secret = NULL;
      g_autofree char *hex = NULL;
      g_autofree char *line = NULL;
      int fd;

      if (!create)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                       "cookie file %s does not exist", path);
          return NULL;
        }
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                       "cannot create %s: %s", dir, g_strerror (errno));
          return NULL;
        }
      _dp_random_bytes (raw, sizeof raw);
      secret = g_bytes_new (raw, sizeof raw);
      hex = dp_secret_to_string (secret);
      line = g_strconcat (hex, "\n", NULL);
      fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0 && errno != EEXIST)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                       "cannot create cookie file %s: %s", path, g_strerror (errno));
          return NULL;
        }
      if (fd >= 0)
        {
          gboolean ok = write (fd, line, strlen (line)) == (gssize) strlen (line);
          close (fd);
          if (!ok)
            {
              g_unlink (path);
              g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                           "cannot write cookie file %s", path);
              return NULL;
            }
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                            "MESSAGE", "created cookie file %s", path);
        }
      /* else somebody else created it meanwhile: read theirs */
    }

  if (!check_mode (dir, TRUE, error) || !check_mode (path, FALSE, error))
    return NULL;
  if (!g_file_get_contents (path, &contents, NULL, error))
    return NULL;
  {
    GError *local = NULL;
    GBytes *secret = dp_secret_parse (contents, &local);
    if (secret == NULL)
      {
        g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                     "cookie file %s: %s", path, local->message);
        g_error_free (local);
      }
    return secret;
  }
}

/* ---- the cluster CA next to the cookie (dp-tls.c) ---- */

char *
_dp_tls_ca_path (const char *cookie_path)
{
  g_autofree char *default_path = cookie_path ? NULL : dp_cookie_get_default_path ();

  return g_strconcat (cookie_path ? cookie_path : default_path, ".tls-ca", NULL);
}

/* The CA's certificate and key, PEM. Made on first use when @create, with
 * the cookie's rules: the directory (0700) made if needed, the file 0600,
 * written whole under a temporary name and then linked into place, so that
 * two masters making it at once both end with the one that was linked
 * first. Refused, as the cookie is, when others can read it. */
char *
_dp_tls_load_ca (const char  *cookie_path,
                 gboolean     create,
                 GError     **error)
{
  g_autofree char *path = _dp_tls_ca_path (cookie_path);
  g_autofree char *dir = g_path_get_dirname (path);
  char *contents = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *pem = NULL;
      g_autofree char *tmp = NULL;
      gboolean ok;
      int fd;

      if (!create)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                       "the cluster's TLS CA %s does not exist (a master makes it on first "
                       "use)", path);
          return NULL;
        }
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                       "cannot create %s: %s", dir, g_strerror (errno));
          return NULL;
        }
      if (!check_mode (dir, TRUE, error))
        return NULL;
      pem = _dp_tls_make_ca_pem (error);
      if (pem == NULL)
        return NULL;
      tmp = g_strconcat (path, ".XXXXXX", NULL);
      fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                       "cannot create %s: %s", tmp, g_strerror (errno));
          return NULL;
        }
      ok = write (fd, pem, strlen (pem)) == (gssize) strlen (pem);
      ok = close (fd) == 0 && ok;
      memset (pem, 0, strlen (pem));
      if (ok && link (tmp, path) == 0)
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                          "MESSAGE", "created the cluster's TLS CA %s", path);
      else if (!ok || errno != EEXIST)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_COOKIE,
                       "cannot create the cluster's TLS CA %s: %s", path,
                       ok ? g_strerror (errno) : "write failed");
          g_unlink (tmp);
          return NULL;
        }
      /* else another master made it meanwhile: use theirs */
      g_unlink (tmp);
    }
  if (!check_mode (dir, TRUE, error) || !check_mode (path, FALSE, error))
    return NULL;
  if (!g_file_get_contents (path, &contents, NULL, error))
    return NULL;
  return contents;
}
