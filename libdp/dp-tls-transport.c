/* dp-tls-transport.c: the byte stream under a connection's TLS session
 *
 * GIO's TLS (glib-networking's GnuTLS backend) moves a stream's records
 * through the stream it was made over, one system call at a time: each
 * record is sent on its own (a 16 KiB send: 256 of them for a 4 MiB
 * frame, each through the whole loopback or network stack), and each is
 * received in two reads (its 5-byte header, then its body), with a third
 * that finds the socket empty. DpTlsTransport is the stream the session
 * runs over instead of the socket's own (dp-connection.c's byte movers,
 * conn_read()/conn_writev(), are still the only ones):
 *
 * - Input is read ahead: one read of the socket takes up to 256 KiB, and
 *   the session's small reads are served from that. Bytes read ahead are
 *   what the socket's poll no longer reports, as those GnuTLS holds were;
 *   _dp_tls_transport_drained() says when there can be none, so that the
 *   reader need not ask the socket again only to hear EAGAIN.
 * - Output is batched while the writer asks for it: the records the
 *   session makes for one conn_writev() (up to DP_TLS_TRANSPORT_BATCH of
 *   payload) are kept and sent with one system call
 *   (_dp_tls_transport_flush()); what the socket does not take stays, in
 *   order, and is sent first the next time. Outside a batch, and in the
 *   handshake, writes go through as they come (after what is kept).
 *
 * The bytes are the session's: nothing here reads or changes them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-tls-transport-private.h"

#include <string.h>

#define READ_AHEAD   (256 * 1024)
#define RECORD_MAX   (16 * 1024 + 256)   /* a TLS 1.3 record on the wire, at most */
#define WRITE_KEEP   (DP_TLS_TRANSPORT_BATCH / (16 * 1024) * RECORD_MAX)

/* ---- input: read ahead ---- */

#define DP_TYPE_TLS_IN (_dp_tls_in_get_type ())
G_DECLARE_FINAL_TYPE (DpTlsIn, _dp_tls_in, DP, TLS_IN, GInputStream)

struct _DpTlsIn {
  GInputStream          parent;
  GPollableInputStream *base;
  guint8               *buf;
  gsize                 pos, len;
  gboolean              drained;   /* the last read of @base was short */
};

static void dp_tls_in_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (DpTlsIn, _dp_tls_in, G_TYPE_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                dp_tls_in_pollable_init))

static gssize
tls_in_read (DpTlsIn      *self,
             void         *buffer,
             gsize         count,
             gboolean      blocking,
             GCancellable *cancellable,
             GError      **error)
{
  gsize take;

  if (self->pos == self->len)
    {
      gssize n;

      if (self->buf == NULL)
        self->buf = g_malloc (READ_AHEAD);   /* on first use */
      n = g_pollable_stream_read (G_INPUT_STREAM (self->base), self->buf, READ_AHEAD,
                              blocking, cancellable, error);

      if (n <= 0)
        return n;
      self->pos = 0;
      self->len = (gsize) n;
      self->drained = (gsize) n < READ_AHEAD;
    }
  take = MIN (count, self->len - self->pos);
  memcpy (buffer, self->buf + self->pos, take);
  self->pos += take;
  return (gssize) take;
}

static gssize
dp_tls_in_read (GInputStream  *stream,
                void          *buffer,
                gsize          count,
                GCancellable  *cancellable,
                GError       **error)
{
  return tls_in_read (DP_TLS_IN (stream), buffer, count, TRUE, cancellable, error);
}

static gssize
dp_tls_in_read_nonblocking (GPollableInputStream *stream,
                            void                 *buffer,
                            gsize                 count,
                            GError              **error)
{
  return tls_in_read (DP_TLS_IN (stream), buffer, count, FALSE, NULL, error);
}

static gboolean
dp_tls_in_is_readable (GPollableInputStream *stream)
{
  DpTlsIn *self = DP_TLS_IN (stream);

  return self->pos < self->len || g_pollable_input_stream_is_readable (self->base);
}

static gboolean
dp_tls_in_can_poll (GPollableInputStream *stream)
{
  return g_pollable_input_stream_can_poll (DP_TLS_IN (stream)->base);
}

static GSource *
dp_tls_in_create_source (GPollableInputStream *stream,
                         GCancellable         *cancellable)
{
  DpTlsIn *self = DP_TLS_IN (stream);
  g_autoptr(GSource) child = self->pos < self->len
                             ? g_timeout_source_new (0)
                             : g_pollable_input_stream_create_source (self->base, NULL);

  return g_pollable_source_new_full (stream, child, cancellable);
}

static gboolean
dp_tls_in_close (G_GNUC_UNUSED GInputStream  *stream,
                 G_GNUC_UNUSED GCancellable  *cancellable,
                 G_GNUC_UNUSED GError       **error)
{
  return TRUE;   /* the transport closes the base stream */
}

static void
dp_tls_in_finalize (GObject *object)
{
  DpTlsIn *self = DP_TLS_IN (object);

  g_clear_object (&self->base);
  g_free (self->buf);
  G_OBJECT_CLASS (_dp_tls_in_parent_class)->finalize (object);
}

static void
dp_tls_in_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = dp_tls_in_can_poll;
  iface->is_readable = dp_tls_in_is_readable;
  iface->create_source = dp_tls_in_create_source;
  iface->read_nonblocking = dp_tls_in_read_nonblocking;
}

static void
_dp_tls_in_class_init (DpTlsInClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_tls_in_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = dp_tls_in_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = dp_tls_in_close;
}

static void
_dp_tls_in_init (G_GNUC_UNUSED DpTlsIn *self)
{
}

/* ---- output: batches ---- */

#define DP_TYPE_TLS_OUT (_dp_tls_out_get_type ())
G_DECLARE_FINAL_TYPE (DpTlsOut, _dp_tls_out, DP, TLS_OUT, GOutputStream)

/* @lock: the writer and the TLS session's reader (which may answer the
 * peer, e.g. an alert) both write here */
struct _DpTlsOut {
  GOutputStream          parent;
  GPollableOutputStream *base;
  GMutex                 lock;
  guint8                *buf;
  gsize                  pos, len;   /* kept: buf[pos..len) */
  gboolean               batching;
};

static void dp_tls_out_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (DpTlsOut, _dp_tls_out, G_TYPE_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                dp_tls_out_pollable_init))

/* With @lock held: send what is kept, blocking or not. */
static gboolean
tls_out_send_kept_locked (DpTlsOut     *self,
                          gboolean      blocking,
                          GCancellable *cancellable,
                          GError      **error)
{
  while (self->pos < self->len)
    {
      gssize n = g_pollable_stream_write (G_OUTPUT_STREAM (self->base), self->buf + self->pos,
                                          self->len - self->pos, blocking, cancellable, error);

      if (n < 0)
        return FALSE;
      self->pos += (gsize) n;
    }
  self->pos = self->len = 0;
  return TRUE;
}

static gssize
tls_out_write (DpTlsOut     *self,
               const void   *buffer,
               gsize         count,
               gboolean      blocking,
               GCancellable *cancellable,
               GError      **error)
{
  gssize n;

  g_mutex_lock (&self->lock);
  if (self->batching || self->pos < self->len)
    {
      if (self->pos > 0 && self->len + count > WRITE_KEEP)
        {
          memmove (self->buf, self->buf + self->pos, self->len - self->pos);
          self->len -= self->pos;
          self->pos = 0;
        }
      if (self->len + count <= WRITE_KEEP)
        {
          if (self->buf == NULL)
            self->buf = g_malloc (WRITE_KEEP);   /* on first use */
          memcpy (self->buf + self->len, buffer, count);
          self->len += count;
          g_mutex_unlock (&self->lock);
          return (gssize) count;
        }
      /* no room: what is kept goes first */
      if (!tls_out_send_kept_locked (self, blocking, cancellable, error))
        {
          g_mutex_unlock (&self->lock);
          return -1;
        }
    }
  n = g_pollable_stream_write (G_OUTPUT_STREAM (self->base), buffer, count, blocking,
                               cancellable, error);
  g_mutex_unlock (&self->lock);
  return n;
}

static gssize
dp_tls_out_write (GOutputStream  *stream,
                  const void     *buffer,
                  gsize           count,
                  GCancellable   *cancellable,
                  GError        **error)
{
  return tls_out_write (DP_TLS_OUT (stream), buffer, count, TRUE, cancellable, error);
}

static gssize
dp_tls_out_write_nonblocking (GPollableOutputStream *stream,
                              const void            *buffer,
                              gsize                  count,
                              GError               **error)
{
  return tls_out_write (DP_TLS_OUT (stream), buffer, count, FALSE, NULL, error);
}

static gboolean
dp_tls_out_is_writable (GPollableOutputStream *stream)
{
  DpTlsOut *self = DP_TLS_OUT (stream);
  gboolean kept, room;

  g_mutex_lock (&self->lock);
  kept = self->batching || self->pos < self->len;
  room = self->len - self->pos < WRITE_KEEP;
  g_mutex_unlock (&self->lock);
  /* with bytes kept, a write is kept too while there is room */
  return kept ? room : g_pollable_output_stream_is_writable (self->base);
}

static gboolean
dp_tls_out_can_poll (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_can_poll (DP_TLS_OUT (stream)->base);
}

static GSource *
dp_tls_out_create_source (GPollableOutputStream *stream,
                          GCancellable          *cancellable)
{
  g_autoptr(GSource) child = g_pollable_output_stream_create_source (DP_TLS_OUT (stream)->base, NULL);

  return g_pollable_source_new_full (stream, child, cancellable);
}

static gboolean
dp_tls_out_close (G_GNUC_UNUSED GOutputStream  *stream,
                  G_GNUC_UNUSED GCancellable   *cancellable,
                  G_GNUC_UNUSED GError        **error)
{
  return TRUE;   /* the transport closes the base stream */
}

static void
dp_tls_out_finalize (GObject *object)
{
  DpTlsOut *self = DP_TLS_OUT (object);

  g_clear_object (&self->base);
  g_free (self->buf);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (_dp_tls_out_parent_class)->finalize (object);
}

static void
dp_tls_out_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = dp_tls_out_can_poll;
  iface->is_writable = dp_tls_out_is_writable;
  iface->create_source = dp_tls_out_create_source;
  iface->write_nonblocking = dp_tls_out_write_nonblocking;
}

static void
_dp_tls_out_class_init (DpTlsOutClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_tls_out_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = dp_tls_out_write;
  G_OUTPUT_STREAM_CLASS (klass)->close_fn = dp_tls_out_close;
}

static void
_dp_tls_out_init (DpTlsOut *self)
{
  g_mutex_init (&self->lock);
}

/* ---- the transport ---- */

struct _DpTlsTransport {
  GIOStream  parent;
  GIOStream *base;
  DpTlsIn   *in;
  DpTlsOut  *out;
};

G_DEFINE_FINAL_TYPE (DpTlsTransport, _dp_tls_transport, G_TYPE_IO_STREAM)

static GInputStream *
dp_tls_transport_get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (DP_TLS_TRANSPORT (stream)->in);
}

static GOutputStream *
dp_tls_transport_get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (DP_TLS_TRANSPORT (stream)->out);
}

static gboolean
dp_tls_transport_close (GIOStream     *stream,
                        GCancellable  *cancellable,
                        GError       **error)
{
  return g_io_stream_close (DP_TLS_TRANSPORT (stream)->base, cancellable, error);
}

static void
dp_tls_transport_finalize (GObject *object)
{
  DpTlsTransport *self = DP_TLS_TRANSPORT (object);

  g_clear_object (&self->in);
  g_clear_object (&self->out);
  g_clear_object (&self->base);
  G_OBJECT_CLASS (_dp_tls_transport_parent_class)->finalize (object);
}

static void
_dp_tls_transport_class_init (DpTlsTransportClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dp_tls_transport_finalize;
  G_IO_STREAM_CLASS (klass)->get_input_stream = dp_tls_transport_get_input_stream;
  G_IO_STREAM_CLASS (klass)->get_output_stream = dp_tls_transport_get_output_stream;
  G_IO_STREAM_CLASS (klass)->close_fn = dp_tls_transport_close;
}

static void
_dp_tls_transport_init (G_GNUC_UNUSED DpTlsTransport *self)
{
}

DpTlsTransport *
_dp_tls_transport_new (GIOStream *base)
{
  DpTlsTransport *self = g_object_new (DP_TYPE_TLS_TRANSPORT, NULL);

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (base)), NULL);
  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (base)), NULL);
  self->base = g_object_ref (base);
  self->in = g_object_new (DP_TYPE_TLS_IN, NULL);
  self->in->base = g_object_ref (G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (base)));
  self->out = g_object_new (DP_TYPE_TLS_OUT, NULL);
  self->out->base = g_object_ref (G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (base)));
  return self;
}

void
_dp_tls_transport_begin_batch (DpTlsTransport *self)
{
  g_mutex_lock (&self->out->lock);
  self->out->batching = TRUE;
  g_mutex_unlock (&self->out->lock);
}

void
_dp_tls_transport_end_batch (DpTlsTransport *self)
{
  g_mutex_lock (&self->out->lock);
  self->out->batching = FALSE;
  g_mutex_unlock (&self->out->lock);
}

gboolean
_dp_tls_transport_has_room (DpTlsTransport *self,
                            gsize           len)
{
  gboolean room;

  g_mutex_lock (&self->out->lock);
  room = self->out->len + len + (RECORD_MAX - 16 * 1024) <= WRITE_KEEP;
  g_mutex_unlock (&self->out->lock);
  return room;
}

gboolean
_dp_tls_transport_flush (DpTlsTransport *self,
                         GError        **error)
{
  gboolean sent;

  g_mutex_lock (&self->out->lock);
  sent = tls_out_send_kept_locked (self->out, FALSE, NULL, error);
  g_mutex_unlock (&self->out->lock);
  return sent;
}

gboolean
_dp_tls_transport_pending (DpTlsTransport *self)
{
  gboolean kept;

  g_mutex_lock (&self->out->lock);
  kept = self->out->pos < self->out->len;
  g_mutex_unlock (&self->out->lock);
  return kept;
}

gboolean
_dp_tls_transport_drained (DpTlsTransport *self)
{
  return self->in->pos == self->in->len && self->in->drained;
}
