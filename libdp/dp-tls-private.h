/* dp-tls-private.h: TLS credentials (dp-tls.c), shared with loader/
 *
 * dp-node links dp-tls.c's object (it reads its credentials line and its
 * --tls), as it links dp-host.c's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include "libdp.h"

G_BEGIN_DECLS


/* The channel binding the proofs of the secret are bound to (RFC 9266,
 * what TLS 1.3 offers; glib-networking's GnuTLS backend supports it) */
#define DP_TLS_BINDING G_TLS_CHANNEL_BINDING_TLS_EXPORTER

/* A node's TLS identity: its certificate (with its key) and the cluster's
 * CA certificate. Immutable, reference counted, any thread. */
typedef struct _DpTls DpTls;

DpTls           *_dp_tls_new             (GTlsCertificate *certificate, GTlsCertificate *ca);
DpTls           *_dp_tls_new_from_pem    (const char *cert_and_key_pem, const char *ca_pem,
                                          GError **error);
DpTls           *_dp_tls_ref             (DpTls *tls);
void             _dp_tls_unref           (DpTls *tls);
GTlsCertificate *_dp_tls_get_certificate (DpTls *tls);
GTlsCertificate *_dp_tls_get_ca          (DpTls *tls);
/* the peer's certificate is one the cluster's CA issued, valid now; else
 * FALSE and @why, a sentence */
gboolean         _dp_tls_check_peer      (DpTls *tls, GTlsCertificate *peer, char **why);
/* whether @mode wants TLS on @sconn: ON, or AUTO and a peer that is not
 * on a loopback address */
gboolean         _dp_tls_mode_wants      (DpTlsMode mode, GSocketConnection *sconn);
gboolean         _dp_tls_mode_parse      (const char *text, DpTlsMode *mode, GError **error);

/* The cluster CA (its certificate then its key, PEM) kept next to the
 * cookie @cookie_path (NULL: the default) as "COOKIE.tls-ca", mode 0600,
 * made on first use when @create (the cookie's rules: dp-secret.c). */
char            *_dp_tls_ca_path         (const char *cookie_path);
char            *_dp_tls_load_ca         (const char *cookie_path, gboolean create, GError **error);
/* a new CA's certificate and key (PEM), from the module */
char            *_dp_tls_make_ca_pem     (GError **error);
/* a certificate and key for @name from the CA (the module dp-tls.so) */
char            *_dp_tls_issue           (const char *ca_pem, const char *name,
                                          gint64 not_before, gint64 not_after, GError **error);
/* credentials for @name from the CA, valid from an hour ago for a year */
DpTls           *_dp_tls_new_issued      (const char *ca_pem, const char *name, GError **error);
/* the CERTIFICATE block of a PEM text */
char            *_dp_tls_pem_certificate (const char *pem);
/* what a master writes on a spawned node's standard input after the
 * secret (one line), and how the node reads it back */
char            *_dp_tls_line_build      (const char *cert_and_key_pem, const char *ca_pem);
DpTls           *_dp_tls_line_parse      (const char *line, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DpTls, _dp_tls_unref)

G_END_DECLS
