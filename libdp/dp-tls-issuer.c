/* dp-tls-issuer.c: the module dp-tls.so — the cluster CA and node certificates
 *
 * GnuTLS's X.509 API, behind the table of dp-tls-module-private.h (which
 * says why this is a module). Keys are ECDSA P-256 (made in well under a
 * millisecond, unlike RSA), signatures SHA-256. A node certificate names
 * the node in its common name, is not a CA, and may serve both ends of a
 * TLS connection (a node accepts and dials). Nothing here keeps state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-tls-module-private.h"

#include <string.h>
#include <gmodule.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define CA_YEARS 20

static GQuark err_domain;
static gint   err_code;

static gboolean
check (int          ret,
       const char  *what,
       GError     **error)
{
  if (ret >= 0)
    return TRUE;
  g_set_error (error, err_domain, err_code, "TLS credentials: %s failed: %s",
               what, gnutls_strerror (ret));
  return FALSE;
}

/* GnuTLS started for this module's own use, once. glib-networking builds
 * GnuTLS with its implicit start-up skipped and starts it itself, lazily,
 * on whichever thread first needs TLS; an issuing thread that got there
 * first, or meanwhile, was told "An error has been detected in the library
 * and cannot continue operations". gnutls_global_init() is counted and
 * serialised, so it is safe beside glib-networking's own. */
static gboolean
gnutls_ready (GError **error)
{
  static gsize done;
  static int ret;

  if (g_once_init_enter (&done))
    {
      ret = gnutls_global_init ();
      g_once_init_leave (&done, 1);
    }
  return check (ret, "starting GnuTLS", error);
}

static gboolean
new_key (gnutls_x509_privkey_t *key,
         GError               **error)
{
  return gnutls_ready (error) &&
         check (gnutls_x509_privkey_init (key), "a key", error) &&
         check (gnutls_x509_privkey_generate (*key, GNUTLS_PK_ECDSA,
                                              GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
                "making a key", error);
}

/* the fields every certificate has */
static gboolean
set_common (gnutls_x509_crt_t      crt,
            gnutls_x509_privkey_t  key,
            const char            *name,
            gint64                 not_before,
            gint64                 not_after,
            GError               **error)
{
  guint8 serial[16];
  guint8 id[64];
  size_t id_len = sizeof id;

  for (gsize i = 0; i < sizeof serial; i++)
    serial[i] = (guint8) g_random_int ();
  serial[0] &= 0x7f;   /* positive */
  serial[0] |= 0x01;   /* and not shortened */
  return check (gnutls_x509_crt_set_version (crt, 3), "the version", error) &&
         check (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), "the serial", error) &&
         check (gnutls_x509_crt_set_activation_time (crt, (time_t) not_before), "the start", error) &&
         check (gnutls_x509_crt_set_expiration_time (crt, (time_t) not_after), "the end", error) &&
         check (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                               name, strlen (name)), "the name", error) &&
         check (gnutls_x509_crt_set_key (crt, key), "the key", error) &&
         check (gnutls_x509_crt_get_key_id (crt, 0, id, &id_len), "the key id", error) &&
         check (gnutls_x509_crt_set_subject_key_id (crt, id, id_len), "the key id", error);
}

/* the certificate's then the key's PEM, in one text */
static char *
export_pem (gnutls_x509_crt_t      crt,
            gnutls_x509_privkey_t  key,
            GError               **error)
{
  gnutls_datum_t c = { 0 }, k = { 0 };
  char *out = NULL;

  if (check (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &c), "exporting", error) &&
      check (gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                                GNUTLS_PKCS_PLAIN, &k), "exporting", error))
    out = g_strdup_printf ("%.*s%.*s", (int) c.size, (const char *) c.data,
                           (int) k.size, (const char *) k.data);
  if (k.data)
    {
      memset (k.data, 0, k.size);
      gnutls_free (k.data);
    }
  gnutls_free (c.data);
  return out;
}

static char *
make_ca (const char  *name,
         GError     **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  char *out = NULL;

  if (new_key (&key, error) &&
      check (gnutls_x509_crt_init (&crt), "a certificate", error) &&
      set_common (crt, key, name, now - 3600, now + (gint64) CA_YEARS * 365 * 86400, error) &&
      check (gnutls_x509_crt_set_basic_constraints (crt, 1, 0), "the constraints", error) &&
      check (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
                                                 GNUTLS_KEY_DIGITAL_SIGNATURE), "the usage", error) &&
      check (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0), "signing", error))
    out = export_pem (crt, key, error);
  if (crt)
    gnutls_x509_crt_deinit (crt);
  if (key)
    gnutls_x509_privkey_deinit (key);
  return out;
}

static char *
issue (const char  *ca_pem,
       const char  *name,
       gint64       not_before,
       gint64       not_after,
       GError     **error)
{
  gnutls_x509_crt_t ca = NULL, crt = NULL;
  gnutls_x509_privkey_t ca_key = NULL, key = NULL;
  gnutls_datum_t in = { (unsigned char *) ca_pem, (unsigned) strlen (ca_pem) };
  guint8 id[64];
  size_t id_len = sizeof id;
  char *out = NULL;

  if (gnutls_ready (error) &&
      check (gnutls_x509_crt_init (&ca), "a certificate", error) &&
      check (gnutls_x509_crt_import (ca, &in, GNUTLS_X509_FMT_PEM), "reading the CA", error) &&
      check (gnutls_x509_privkey_init (&ca_key), "a key", error) &&
      check (gnutls_x509_privkey_import2 (ca_key, &in, GNUTLS_X509_FMT_PEM, NULL, 0),
             "reading the CA's key", error) &&
      check (gnutls_x509_crt_get_subject_key_id (ca, id, &id_len, NULL), "the CA's key id", error) &&
      new_key (&key, error) &&
      check (gnutls_x509_crt_init (&crt), "a certificate", error) &&
      set_common (crt, key, name, not_before, not_after, error) &&
      check (gnutls_x509_crt_set_authority_key_id (crt, id, id_len), "the CA's key id", error) &&
      check (gnutls_x509_crt_set_basic_constraints (crt, 0, -1), "the constraints", error) &&
      check (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE), "the usage", error) &&
      check (gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0), "the purpose", error) &&
      check (gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_CLIENT, 0), "the purpose", error) &&
      check (gnutls_x509_crt_sign2 (crt, ca, ca_key, GNUTLS_DIG_SHA256, 0), "signing", error))
    out = export_pem (crt, key, error);
  if (crt)
    gnutls_x509_crt_deinit (crt);
  if (key)
    gnutls_x509_privkey_deinit (key);
  if (ca_key)
    gnutls_x509_privkey_deinit (ca_key);
  if (ca)
    gnutls_x509_crt_deinit (ca);
  return out;
}

static const DpTlsModuleExports exports = {
  .abi = DP_TLS_MODULE_ABI,
  .size = sizeof (DpTlsModuleExports),
  .make_ca = make_ca,
  .issue = issue,
};

G_MODULE_EXPORT const DpTlsModuleExports *dp_tls_module_init (guint abi, GQuark domain, gint code);

G_MODULE_EXPORT const DpTlsModuleExports *
dp_tls_module_init (guint  abi,
                    GQuark domain,
                    gint   code)
{
  if (abi != DP_TLS_MODULE_ABI)
    return NULL;
  err_domain = domain;
  err_code = code;
  return &exports;
}
