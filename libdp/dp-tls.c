/* dp-tls.c: TLS credentials — the cluster CA, node certificates, the mode
 *
 * When. DpNode:tls (DpTlsMode): AUTO, the default, speaks TLS with every
 * peer that is not on a loopback address; ON speaks it with every peer;
 * OFF with none. The HELLO says which (dp-wire.c); both ends must agree.
 *
 * With what. A cluster has one CA, made by the master on first use next
 * to its cookie file ("COOKIE.tls-ca": the CA's certificate and key, PEM,
 * mode 0600 in the cookie's 0700 directory; the cookie's rules, checked as
 * the cookie is: dp-secret.c). Every node certificate comes from it: the
 * master issues its own when it first needs one, and one for each node it
 * spawns, written on the node's standard input right after the secret
 * (one line, _dp_tls_line_build()), locally or over the ssh channel; it
 * is never on a command line, nor on the node's disk. A node started by
 * hand takes --tls-cert/--tls-key/--tls-ca files, or issues its own from
 * the CA in its cookie directory (dp-node-main.c). Certificate making
 * needs GnuTLS's X.509 API: that is the module dp-tls.so
 * (dp-tls-module-private.h), opened on first use like dp-ssh.so, so a node
 * given its certificate never maps it. Keys are ECDSA P-256.
 *
 * Trust. A connection trusts no system CA (it has no GTlsDatabase): a
 * peer's certificate is accepted when the cluster's CA issued it and it is
 * valid now (_dp_tls_check_peer()), on both ends (mutual TLS). Names are
 * not checked — the CA issues to the cluster's nodes only, and the secret's
 * proofs, bound to the TLS session, still have to follow.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-tls-module-private.h"

#include <string.h>
#include <gmodule.h>

#ifndef DP_TLS_MODULE_PATH
# define DP_TLS_MODULE_PATH "/usr/local/lib/libdp-1.0/modules/dp-tls.so"
#endif

#define CERT_DAYS 365

struct _DpTls
{
  gatomicrefcount  ref;
  GTlsCertificate *cert;
  GTlsCertificate *ca;
};

DpTls *
_dp_tls_new (GTlsCertificate *certificate,
             GTlsCertificate *ca)
{
  DpTls *tls = g_new0 (DpTls, 1);

  g_atomic_ref_count_init (&tls->ref);
  tls->cert = g_object_ref (certificate);
  tls->ca = g_object_ref (ca);
  return tls;
}

DpTls *
_dp_tls_new_from_pem (const char  *cert_and_key_pem,
                      const char  *ca_pem,
                      GError     **error)
{
  g_autoptr(GTlsCertificate) cert = NULL;
  g_autoptr(GTlsCertificate) ca = NULL;

  cert = g_tls_certificate_new_from_pem (cert_and_key_pem, -1, error);
  if (cert == NULL)
    {
      g_prefix_error (error, "TLS certificate: ");
      return NULL;
    }
  ca = g_tls_certificate_new_from_pem (ca_pem, -1, error);
  if (ca == NULL)
    {
      g_prefix_error (error, "TLS CA certificate: ");
      return NULL;
    }
  return _dp_tls_new (cert, ca);
}

DpTls *
_dp_tls_ref (DpTls *tls)
{
  g_atomic_ref_count_inc (&tls->ref);
  return tls;
}

void
_dp_tls_unref (DpTls *tls)
{
  if (!g_atomic_ref_count_dec (&tls->ref))
    return;
  g_object_unref (tls->cert);
  g_object_unref (tls->ca);
  g_free (tls);
}

GTlsCertificate *
_dp_tls_get_certificate (DpTls *tls)
{
  return tls->cert;
}

GTlsCertificate *
_dp_tls_get_ca (DpTls *tls)
{
  return tls->ca;
}

gboolean
_dp_tls_check_peer (DpTls           *tls,
                    GTlsCertificate *peer,
                    char           **why)
{
  GTlsCertificateFlags flags = g_tls_certificate_verify (peer, NULL, tls->ca);
  g_autofree char *subject = NULL;

  if (flags == 0)
    return TRUE;
  g_object_get (peer, "subject-name", &subject, NULL);
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    *why = g_strdup_printf ("its certificate (%s) has expired", subject ? subject : "no name");
  else if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    *why = g_strdup_printf ("its certificate (%s) is not valid yet", subject ? subject : "no name");
  else if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    *why = g_strdup_printf ("its certificate (%s) was not issued by this cluster's CA: it "
                            "belongs to another cluster (another cookie directory's CA)",
                            subject ? subject : "no name");
  else
    *why = g_strdup_printf ("its certificate (%s) is not valid (flags 0x%x)",
                            subject ? subject : "no name", (unsigned) flags);
  return FALSE;
}

static gboolean
is_loopback (GSocketAddress *addr)
{
  GInetAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (addr))
    return TRUE;   /* a socketpair, a unix socket: never leaves the host */
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr));
  if (g_inet_address_get_is_loopback (inet))
    return TRUE;
  /* ::ffff:127.x */
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    {
      const guint8 *b = g_inet_address_to_bytes (inet);
      static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

      return memcmp (b, mapped, 12) == 0 && b[12] == 127;
    }
  return FALSE;
}

gboolean
_dp_tls_mode_wants (DpTlsMode          mode,
                    GSocketConnection *sconn)
{
  g_autoptr(GSocketAddress) remote = NULL;

  if (mode == DP_TLS_ON)
    return TRUE;
  if (mode == DP_TLS_OFF)
    return FALSE;
  remote = g_socket_connection_get_remote_address (sconn, NULL);
  return remote != NULL && !is_loopback (remote);
}

gboolean
_dp_tls_mode_parse (const char  *text,
                    DpTlsMode   *mode,
                    GError     **error)
{
  if (g_strcmp0 (text, "auto") == 0)
    *mode = DP_TLS_AUTO;
  else if (g_strcmp0 (text, "on") == 0)
    *mode = DP_TLS_ON;
  else if (g_strcmp0 (text, "off") == 0)
    *mode = DP_TLS_OFF;
  else
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "--tls wants auto, on or off, got '%s'", text ? text : "");
      return FALSE;
    }
  return TRUE;
}

/* ---- the module ---- */

static GMutex module_lock;
static const DpTlsModuleExports *module;   /* under @module_lock; set once */

static const char *
module_path (void)
{
  const char *env = g_getenv ("DP_TLS_MODULE");

  return env && *env ? env : DP_TLS_MODULE_PATH;
}

static const DpTlsModuleExports *
get_module (GError **error)
{
  const DpTlsModuleExports *m;

  g_mutex_lock (&module_lock);
  if (module == NULL)
    {
      const char *path = module_path ();
      GModule *gm = g_module_open (path, G_MODULE_BIND_LOCAL);
      gpointer symbol = NULL;

      if (gm == NULL)
        g_set_error (error, DP_ERROR, DP_ERROR_FAILED,
                     "cannot make TLS certificates: cannot load the TLS module %s: %s "
                     "(libdp is not fully installed, or DP_TLS_MODULE is wrong)",
                     path, g_module_error ());
      else if (!g_module_symbol (gm, DP_TLS_MODULE_ENTRY, &symbol) || symbol == NULL ||
               (module = ((DpTlsModuleInit) symbol) (DP_TLS_MODULE_ABI, DP_ERROR,
                                                     DP_ERROR_FAILED)) == NULL)
        {
          g_set_error (error, DP_ERROR, DP_ERROR_FAILED,
                       "cannot make TLS certificates: %s is not this libdp's TLS module", path);
          g_module_close (gm);
        }
      else
        {
          g_module_make_resident (gm);
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                            "DP_EVENT", "tls-module-loaded",
                            "MESSAGE", "loaded the certificate issuer from %s", path);
        }
    }
  m = module;
  g_mutex_unlock (&module_lock);
  return m;
}

/* dp-secret.c calls it when it creates the CA file */
char *
_dp_tls_make_ca_pem (GError **error)
{
  const DpTlsModuleExports *m = get_module (error);
  g_autofree char *name = NULL;

  if (m == NULL)
    return NULL;
  name = g_strdup_printf ("libdp cluster CA (%s)", g_get_host_name ());
  return m->make_ca (name, error);
}

char *
_dp_tls_issue (const char  *ca_pem,
               const char  *name,
               gint64       not_before,
               gint64       not_after,
               GError     **error)
{
  const DpTlsModuleExports *m = get_module (error);

  return m ? m->issue (ca_pem, name, not_before, not_after, error) : NULL;
}

DpTls *
_dp_tls_new_issued (const char  *ca_pem,
                    const char  *name,
                    GError     **error)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *pem = _dp_tls_issue (ca_pem, name, now - 3600,
                                        now + (gint64) CERT_DAYS * 86400, error);
  g_autofree char *ca = NULL;
  DpTls *tls;

  if (pem == NULL)
    return NULL;
  ca = _dp_tls_pem_certificate (ca_pem);
  tls = _dp_tls_new_from_pem (pem, ca ? ca : "", error);
  memset (pem, 0, strlen (pem));
  return tls;
}

char *
_dp_tls_pem_certificate (const char *pem)
{
  static const char begin[] = "-----BEGIN CERTIFICATE-----";
  static const char end[] = "-----END CERTIFICATE-----";
  const char *b = strstr (pem, begin);
  const char *e = b ? strstr (b, end) : NULL;

  if (e == NULL)
    return NULL;
  return g_strdup_printf ("%.*s\n", (int) (e + strlen (end) - b), b);
}

/* ---- the line on a spawned node's standard input ---- */

char *
_dp_tls_line_build (const char *cert_and_key_pem,
                    const char *ca_pem)
{
  g_autofree char *a = g_base64_encode ((const guchar *) cert_and_key_pem, strlen (cert_and_key_pem));
  g_autofree char *b = g_base64_encode ((const guchar *) ca_pem, strlen (ca_pem));
  char *line = g_strconcat ("tls ", a, " ", b, "\n", NULL);

  memset (a, 0, strlen (a));
  return line;
}

DpTls *
_dp_tls_line_parse (const char  *line,
                    GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (line, " ", 0);
  g_autofree guchar *a = NULL;
  g_autofree guchar *b = NULL;
  g_autofree char *cert = NULL;
  g_autofree char *ca = NULL;
  gsize alen = 0, blen = 0;
  DpTls *tls;

  if (g_strv_length (parts) != 3 || strcmp (parts[0], "tls") != 0)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_INVALID_ARGUMENT,
                   "no TLS credentials on standard input (--tls-stdin)");
      return NULL;
    }
  a = g_base64_decode (parts[1], &alen);
  b = g_base64_decode (parts[2], &blen);
  cert = g_strndup ((const char *) a, alen);
  ca = g_strndup ((const char *) b, blen);
  tls = _dp_tls_new_from_pem (cert, ca, error);
  memset (a, 0, alen);
  memset (cert, 0, alen);
  memset (parts[1], 0, strlen (parts[1]));
  return tls;
}
