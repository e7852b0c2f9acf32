/* dp-tls-transport-private.h: the byte stream under a connection's TLS
 * session (dp-tls-transport.c), for dp-connection.c's byte movers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The largest batch of records _dp_tls_transport_begin_batch() takes:
 * what fits in its output buffer (a TLS 1.3 record adds at most 256 bytes
 * to its 16 KiB of payload). */
#define DP_TLS_TRANSPORT_BATCH  (16 * 16 * 1024)

#define DP_TYPE_TLS_TRANSPORT (_dp_tls_transport_get_type ())
G_DECLARE_FINAL_TYPE (DpTlsTransport, _dp_tls_transport, DP, TLS_TRANSPORT, GIOStream)

/* A GIOStream over @base (a connection's GSocketConnection, pollable)
 * for a GTlsConnection to run over. Closing it closes @base. */
DpTlsTransport *_dp_tls_transport_new         (GIOStream *base);
/* The writer (one thread at a time): the records the TLS session makes
 * from now on are kept (up to DP_TLS_TRANSPORT_BATCH of payload) until
 * _dp_tls_transport_flush() */
void            _dp_tls_transport_begin_batch (DpTlsTransport *self);
void            _dp_tls_transport_end_batch   (DpTlsTransport *self);
/* Room for one more record of @len payload bytes in the batch. */
gboolean        _dp_tls_transport_has_room    (DpTlsTransport *self, gsize len);
/* Sends what is kept, without blocking: TRUE once all of it is sent;
 * FALSE with G_IO_ERROR_WOULD_BLOCK when some is left, or another error. */
gboolean        _dp_tls_transport_flush       (DpTlsTransport *self, GError **error);
/* Whether bytes are kept that _dp_tls_transport_flush() has to send. */
gboolean        _dp_tls_transport_pending     (DpTlsTransport *self);
/* Whether a read of the TLS session cannot return more before the
 * socket's poll says so: nothing read ahead is left, and the last read of
 * the socket returned less than it asked for (the socket was empty). */
gboolean        _dp_tls_transport_drained     (DpTlsTransport *self);

G_END_DECLS
