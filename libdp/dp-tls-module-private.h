/* dp-tls-module-private.h: the certificate issuer, a module loaded on first use
 *
 * GIO speaks TLS (glib-networking's GnuTLS backend, loaded by GIO itself
 * the first time a TLS connection is made) but cannot make certificates.
 * Making the cluster's CA and issuing node certificates needs an X.509
 * library (GnuTLS's gnutls_x509_* API): that code is the module
 * `dp-tls.so` (dp-tls-issuer.c), which libdp opens (GModule) the first time
 * a master needs a certificate (dp-tls.c), as it opens dp-ssh.so. A node
 * handed its certificate by its master, and a process that never uses TLS,
 * never map it; dp-node does not link GnuTLS.
 *
 * Where the module is: $DP_TLS_MODULE (a file; the build tree's tests and
 * benchmarks set it), else the installed DP_TLS_MODULE_PATH
 * (LIBDIR/libdp-1.0/modules/dp-tls.so).
 *
 * The module links GLib and GnuTLS only, never libdp: it exports one
 * function returning the table below. Certificates and keys travel as PEM
 * text (the key as unencrypted PKCS#8, which GTlsCertificate reads).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bumped whenever the table changes; libdp refuses another one */
#define DP_TLS_MODULE_ABI 1
#define DP_TLS_MODULE_ENTRY "dp_tls_module_init"

typedef struct {
  guint     abi;                       /* DP_TLS_MODULE_ABI */
  gsize     size;                      /* sizeof (DpTlsModuleExports) */

  /* A new self-signed CA named @name (ECDSA P-256, 20 years): its
   * certificate then its key, in one PEM text. */
  char * (*make_ca) (const char  *name,
                     GError     **error);
  /* A certificate for @name signed by @ca_pem (a CA's certificate and key
   * as make_ca() returns them), valid from @not_before to @not_after
   * (seconds since the epoch), usable by TLS servers and clients: the
   * certificate then its new key, in one PEM text. */
  char * (*issue)   (const char  *ca_pem,
                     const char  *name,
                     gint64       not_before,
                     gint64       not_after,
                     GError     **error);
} DpTlsModuleExports;

/* The module's one export: the table, or NULL when @abi is not the
 * module's. Errors are set in @error_domain with @error_code. */
typedef const DpTlsModuleExports * (*DpTlsModuleInit) (guint  abi,
                                                       GQuark error_domain,
                                                       gint   error_code);

G_END_DECLS
