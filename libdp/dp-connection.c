/* dp-connection.c: one authenticated TCP connection — the one frame reader
 * and the one frame writer
 *
 * Reading happens in the router thread, driven by a unix-fd GSource on the
 * router's context: bytes are read into a buffer, complete frames are cut
 * out and handed to the owner's DpConnectionHandler. A frame over 64 KiB
 * gets a buffer of its own, read into directly, and its payload is loaded
 * without a copy; that buffer grows (×4, from 1 MiB, up to the frame's
 * length) as the bytes arrive, so what a peer makes the node hold follows
 * what it has sent, never what its header claims. The buffer goes to the
 * place with the message and comes back when the message is freed: a
 * connection keeps up to BIG_POOL_MAX of them, BIG_POOL_BYTES in all
 * (16 MiB: what a peer can make it keep idle), for its next big frames
 * (a fresh one costs a page fault per 4 KiB, glibc having given the last
 * one back to the kernel), and lets them go when a heartbeat interval
 * passed without a big frame, and when it closes. A pooled buffer is only
 * ever one a frame the peer sent has filled, so it does not let a header
 * claim memory either; the buffers out with messages are bounded by the
 * flow control (the inboxes' limits). The input buffer that the payloads
 * of a stream of small frames refer to (rather than to copies) comes back
 * the same way, to a second pool of the same kind.
 *
 * Writing may happen from any thread (a place putting a message, the app
 * putting to a remote place): the frame is appended to the output queue
 * under a lock, and the thread that finds nobody writing writes everything
 * queued with one sendmsg() — at once for a request or a reply, in batches
 * for a stream (see _dp_connection_send()), and, for what the router sends
 * while it handles input, once it is done (cork()). When the socket is
 * full the router takes over on POLLOUT, so a slow peer never blocks
 * anyone but itself. Small payloads are copied into the queue; large ones
 * are queued by reference.
 *
 * Flow control (DESIGN rule 8). The output queue is bounded by bytes
 * (@out_limit, DpNode:max-output-queue, default 8 MiB): once what is
 * queued reaches it the connection is *full* (@out_full) and a DATA frame
 * put from any thread but the router waits (_dp_connection_wait_writable(),
 * called by the channel before it sends) until the writer has brought the
 * queue down to half the limit — one broadcast on that transition, never
 * per frame. A frame is admitted whenever the queue is below the limit, so
 * a single message larger than the limit still passes. The router thread
 * never waits: what it sends (PONG, death notices, BOUNCE, CLOSE, log
 * records it forwards) bypasses the limit, and is bounded by what it
 * answers. Heartbeats and log records go into a small control queue
 * (@ctrl) that is written before any queued data at the next frame
 * boundary (the data queue is cut into segments of at most 64 KiB for
 * that), so a full data queue never delays them; a PING or PONG is not
 * queued twice while one is still unsent, and a place's log records wait
 * (like data) while the control queue holds more than 256 KiB. Death
 * notices and CLOSE keep their place after the channel's data (the
 * protocol promises a death after the last message) but never wait.
 *
 * Input is paused, never refused: when a delivery leaves an inbox over its
 * limit, the inbox *stalls* this connection (_dp_connection_stall(), a
 * count: several inboxes may), and the router stops reading the socket —
 * G_IO_IN leaves the poll condition — so TCP pushes back on the sender.
 * The inbox's reader unstalls it once it has read the inbox down to its
 * low-water mark (one wake-up on the router, on that transition). While
 * input is paused the peer's heartbeats cannot be read; the paused side
 * does not hold them against the peer (it chose not to read them), and the
 * peer keeps seeing ours, since our output is not paused. A paused side
 * whose peer dies finds out when it reads again (EOF, or the heartbeat
 * timeout counted from then).
 *
 * Nothing but the handshake is read or written before the peer has proved
 * it knows the secret (see dp-wire.c); frames queued before are held. A
 * side that finds the peer's proof wrong says so (REFUSED) before closing,
 * and the error on either side names where its secret came from (a cookie
 * file, standard input), which is what a user has to look at.
 *
 * TLS (dp-tls.c says when and with which credentials). The bytes go
 * through one of two byte movers and nothing else changes: conn_read()
 * and conn_writev() call recv()/sendmsg() on the socket, or, once the TLS
 * handshake has completed, read and write the GTlsConnection's pollable
 * streams, which move the same bytes, encrypted, over the same socket. The
 * frame reader, the writer, the queues and the flow control are the same.
 * The HELLO is the preamble both sides send in the clear: its TLS flag
 * says whether the side will speak TLS, and a side that finds the peer's
 * flag different from its own closes with an error that says which side
 * has TLS off. With TLS, the socket's watch is removed while GIO runs the
 * handshake (in its own thread; the handshake timeout still runs), the
 * peer's certificate is checked against the cluster's CA (mutual TLS),
 * and the proofs of the secret are then exchanged inside TLS with the
 * session's channel binding (tls-exporter, RFC 9266) mixed into the MAC,
 * so that a relay holding two TLS sessions cannot pass one side's proof
 * on to the other. The session runs over a DpTlsTransport
 * (dp-tls-transport.c), not the socket's own stream: it reads the socket
 * ahead, up to 256 KiB at a time, and keeps the records of one
 * conn_writev() (up to 256 KiB of payload) to send them with one system
 * call; conn_writev() sends what the socket did not take before anything
 * else, and the writer comes back for it on POLLOUT even with nothing
 * queued. conn_read() reads records until the buffer is full or the
 * session has none left without a new poll; the session may keep bytes
 * that the socket's poll does not report: the reader reads on unless
 * conn_read() found it drained (TLS_MORE()), and when it leaves early
 * (its bounded rounds, a stall) it comes back through the source's ready
 * time instead of the poll. Bytes altered in flight fail the record's
 * authentication: the read fails and the connection closes; nothing of
 * the record is delivered.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"
#include "dp-tls-transport-private.h"

#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#define BIG_FRAME        (64 * 1024)
#define BIG_FIRST        (1024 * 1024)  /* a big frame's first buffer, then ×4 */
#define BIG_POOL_MAX     4              /* free big-frame buffers kept for reuse */
#define BIG_POOL_BYTES   (16 * 1024 * 1024)   /* and at most this many bytes of them */
#define COPY_MAX         (64 * 1024)
#define READ_CHUNK       (128 * 1024)
#define MAX_IOV          64
#define STREAM_AFTER     4      /* unanswered frames before writes are batched */
#define STREAM_WRITE     (32 * 1024)   /* a streaming sender writes itself from this many bytes */
#define STREAM_DELAY_US  100    /* the router writes what a stream left queued after this */
#define BATCH_MAX        128    /* DATA frames handed to the owner at once */
#define SEND_MANY_MAX    64     /* DATA frames queued at once by _dp_connection_send_many() */
#define SIG_CACHE_MAX    32
#define SHARE_MIN        (16 * 1024)   /* input read at once before payloads refer to it */
#define HANDSHAKE_TIMEOUT_S 10
#define SEG_MAX          (64 * 1024)   /* data queue segments: where control frames may go in */
#define TLS_RECORD       (16 * 1024)   /* a TLS record's payload: what one TLS write takes */
/* The TLS session may hold input (read ahead from the socket) that the
 * socket's poll does not report: with TLS the reader reads on after a
 * short read unless conn_read() found the session drained. */
#define TLS_MORE(conn, n) ((conn)->tin != NULL && !(conn)->tls_drained)
#define CTRL_MAX         (256 * 1024)  /* a place's log records wait beyond this */
/* a segment of the data queue that starts inside a frame (a large payload
 * queued by reference): control frames cannot go in before it */
#define SEG_CONT(b)      ((gpointer) ((guintptr) (b) | 1))
#define SEG_BYTES(p)     ((GBytes *) ((guintptr) (p) & ~(guintptr) 1))
#define SEG_IS_CONT(p)   (((guintptr) (p) & 1) != 0)

/* The big-frame buffers a connection keeps for reuse (see the header),
 * shared by the connection and the payloads that hold its buffers: those
 * give them back from whatever thread frees the last reference to their
 * message. */
typedef struct {
  gatomicrefcount ref;
  GMutex          lock;
  /* under @lock */
  gboolean        closed;               /* buffers that come back are freed */
  guint           n_free;
  gsize           bytes;                /* the sum of cap[0 .. n_free) */
  guint8         *buf[BIG_POOL_MAX];
  gsize           cap[BIG_POOL_MAX];
} BigPool;

/* one buffer out with a message: the GBytes' free function gives it back */
typedef struct {
  BigPool *pool;
  guint8  *buf;
  gsize    cap;
} BigLoan;

typedef enum {
  STATE_HANDSHAKE,
  STATE_READY,
  STATE_CLOSED,
} ConnState;

struct _DpConnection
{
  gatomicrefcount            ref;

  /* immutable after construction */
  GMainContext              *context;        /* the router's: input, closing, timers */
  GSocketConnection         *sconn;
  int                        fd;
  DpConnectionRole           role;
  char                      *peer;
  GBytes                    *secret;
  char                      *secret_source;  /* for error messages: "cookie file …" */
  gsize                      max_frame;
  guint8                     own_nonce[DP_NONCE_LEN];

  /* atomic: written once (router thread) from the peer's HELLO, read by
   * senders: the largest frame body the peer accepts, 0 while not known */
  guint                      peer_max_frame;

  /* router thread only */
  GSource                   *source;
  gpointer                   fd_tag;
  GSource                   *hs_timeout;
  ConnState                  state;
  guint8                     peer_nonce[DP_NONCE_LEN];
  gboolean                   got_hello;
  gboolean                   got_frame;      /* server: a first frame, not REFUSED */
  const DpConnectionHandler *handler;
  gpointer                   handler_data;

  /* input, router thread only */
  guint8                    *in;
  GBytes                    *in_bytes;       /* owns @in once a payload refers to it */
  gsize                      in_len;
  gsize                      in_cap;
  gboolean                   big;
  DpFrameHeader              big_h;
  guint8                    *big_buf;
  gsize                      big_have;
  gsize                      big_cap;        /* <= big_h.body_len, <= big_alloc */
  gsize                      big_alloc;      /* @big_buf's size */
  BigPool                   *big_pool;       /* shared, see BigPool */
  gboolean                   big_pool_used;  /* a big frame since the last heartbeat */
  BigPool                   *in_pool;        /* the same for input buffers a stream's payloads held */
  gboolean                   in_pool_used;   /* one was shared since the last heartbeat */
  char                       sig_cache[SIG_CACHE_MAX];   /* last checked type string */
  gsize                      sig_cache_len;
  GVariant                  *batch[BATCH_MAX];           /* DATA frames for batch_chan */
  gsize                      batch_size[BATCH_MAX];      /* their payloads' sizes */
  guint                      batch_len;
  guint32                    batch_chan;
  gboolean                   in_share;                   /* process_input(): payloads may refer to @in */

  /* output, under @out_lock (taken with _dp_mutex_lock: held for a few
   * instructions, never across the system call) */
  GMutex                     out_lock;
  GQueue                     segs;           /* GBytes */
  gsize                      head_off;
  GByteArray                *tail;
  GByteArray                *spare;          /* a written buffer, for the next tail */
  GByteArray                *held;           /* frames sent before READY */
  gboolean                   out_ready;
  gboolean                   out_closed;
  gboolean                   writing;
  gboolean                   want_out;
  gboolean                   flush_scheduled; /* the router's flush is armed */
  gboolean                   stream_active;   /* a stream queued since the router's last flush */
  GThread                   *corked_by;       /* the router, while it handles input (see cork()) */
  gboolean                   cork_queued;     /* it queued frames meanwhile */
  guint                      unanswered;     /* frames sent since one was received */
  gint64                     last_send_us;   /* when the previous unanswered frame past STREAM_AFTER was queued */
  GByteArray                *ctrl;           /* PING, PONG, LOG: written before queued data */
  gsize                      out_queued;     /* bytes in @segs, @tail and @ctrl not written yet */
  GCond                      out_cond;       /* with @out_lock: @out_full cleared or closed */
  guint                      out_waiters;    /* threads waiting on @out_cond */
  GSList                     *writable_watches; /* WritableWatch: called once when no longer full */
  /* set under @out_lock, read without it (one word) by the senders' fast path */
  gint                       out_full;
  /* immutable after _dp_connection_set_flow() (before _dp_connection_start()) */
  gsize                      out_limit;
  gsize                      inbox_max_bytes;  /* for the inboxes this connection feeds */
  guint                      inbox_max_msgs;
  /* input flow control: @stalls is atomic (inboxes over their limit that
   * this connection delivered to); @in_paused is router thread only */
  gint                       stalls;
  gboolean                   in_paused;
  /* router thread only: the peer hung up while input was paused; its fd
   * is not watched (poll reports a hang-up whatever one asks for) until
   * input resumes and reads what the peer sent before it went */
  gboolean                   hup_while_paused;
  /* set by _dp_connection_start() (router thread) before the handshake;
   * read under @out_lock once @out_ready, which publishes it */
  GSource                   *flush_source;   /* router: write what was queued */

  /* heartbeat, router thread only (@rtt_us and @last_seen_us are also read,
   * without a lock, by the getters: a word each, a stale value is fine) */
  GSource                   *heartbeat;
  gdouble                    hb_interval;    /* libdp seconds, 0: off */
  gdouble                    hb_timeout;
  gint64                     last_seen_us;   /* monotonic */
  gint64                     ping_sent_us;
  guint32                    ping_seq;
  gboolean                   peer_pings;     /* the peer runs heartbeats too */
  gint64                     rtt_us;         /* -1 until measured */

  /* channels, under @chan_lock (@next_id atomic) */
  GMutex                     chan_lock;
  GHashTable                *channels;       /* id -> DpChannelEntry */
  gint                       next_id;

  /* TLS: @tls set before _dp_connection_start() (NULL: plain TCP); the
   * rest router thread only, but @tout, set under @out_lock before the
   * proofs are sent, is read by the writer (out_lock publishes it) */
  DpTls                     *tls;
  GTlsConnection            *tconn;          /* once the handshake started */
  DpTlsTransport            *ttransport;     /* the stream tconn runs over */
  GCancellable              *tls_cancel;
  GPollableInputStream      *tin;            /* once it completed */
  GPollableOutputStream     *tout;
  /* the reader and the writer use the TLS session one at a time, each
   * for one record: GnuTLS allows a send and a receive at once, but keeps
   * the transport's errno (what glib-networking's pull and push functions
   * report, EAGAIN) in the session, one for both directions */
  GMutex                     tls_lock;
  GBytes                    *binding;        /* channel binding data, in the proofs */
  char                      *tls_refusal;    /* why the peer's certificate was refused */
  char                      *io_error;       /* why the last TLS read failed */
  guint8                    *tls_wbuf;       /* small segments gathered into one record */
  gboolean                   tls_more;       /* decrypted input may be left: read again */
  gboolean                   tls_drained;    /* the last conn_read() left none (TLS_MORE()) */
  int                        tls_read_errno; /* what the next conn_read() returns (0: none) */
};

typedef struct {
  GSource       source;
  DpConnection *conn;
} ConnSource;

typedef struct {
  DpInvokeFunc func;
  gpointer     data;
} WritableWatch;

/* ---- the big-frame buffer pool ---- */

static BigPool *
big_pool_new (void)
{
  BigPool *pool = g_new0 (BigPool, 1);

  g_atomic_ref_count_init (&pool->ref);
  g_mutex_init (&pool->lock);
  return pool;
}

static BigPool *
big_pool_ref (BigPool *pool)
{
  g_atomic_ref_count_inc (&pool->ref);
  return pool;
}

static void
big_pool_unref (BigPool *pool)
{
  if (!g_atomic_ref_count_dec (&pool->ref))
    return;
  for (guint i = 0; i < pool->n_free; i++)
    g_free (pool->buf[i]);
  g_mutex_clear (&pool->lock);
  g_free (pool);
}

/* Frees the buffers kept (they are freed outside the lock) */
static void
big_pool_drain (BigPool *pool)
{
  guint8 *bufs[BIG_POOL_MAX];
  guint n;

  _dp_mutex_lock (&pool->lock);
  n = pool->n_free;
  memcpy (bufs, pool->buf, n * sizeof bufs[0]);
  pool->n_free = 0;
  pool->bytes = 0;
  g_mutex_unlock (&pool->lock);
  for (guint i = 0; i < n; i++)
    g_free (bufs[i]);
}

/* The connection lets go of its pool: what is kept is freed now, what is
 * out with messages when it comes back. */
static void
big_pool_close (BigPool *pool)
{
  _dp_mutex_lock (&pool->lock);
  pool->closed = TRUE;
  g_mutex_unlock (&pool->lock);
  big_pool_drain (pool);
  big_pool_unref (pool);
}

/* The largest buffer kept, or NULL; *cap its size */
static guint8 *
big_pool_take (BigPool *pool,
               gsize   *cap)
{
  guint8 *buf = NULL;

  _dp_mutex_lock (&pool->lock);
  if (pool->n_free > 0)
    {
      guint best = 0;
      for (guint i = 1; i < pool->n_free; i++)
        if (pool->cap[i] > pool->cap[best])
          best = i;
      buf = pool->buf[best];
      *cap = pool->cap[best];
      pool->bytes -= pool->cap[best];
      pool->n_free--;
      pool->buf[best] = pool->buf[pool->n_free];
      pool->cap[best] = pool->cap[pool->n_free];
    }
  g_mutex_unlock (&pool->lock);
  return buf;
}

/* GDestroyNotify of a big frame's GBytes: any thread */
static void
big_loan_return (gpointer data)
{
  BigLoan *loan = data;
  BigPool *pool = loan->pool;

  _dp_mutex_lock (&pool->lock);
  if (!pool->closed && pool->n_free < BIG_POOL_MAX &&
      pool->bytes + loan->cap <= BIG_POOL_BYTES)
    {
      pool->buf[pool->n_free] = g_steal_pointer (&loan->buf);
      pool->cap[pool->n_free] = loan->cap;
      pool->bytes += loan->cap;
      pool->n_free++;
    }
  g_mutex_unlock (&pool->lock);
  g_free (loan->buf);
  big_pool_unref (pool);
  g_free (loan);
}

/* A GBytes of the first @len bytes of @buf (@cap bytes, transfer full),
 * which goes back to @pool when it is freed */
static GBytes *
pool_lend (BigPool *pool,
           guint8  *buf,
           gsize    cap,
           gsize    len)
{
  BigLoan *loan = g_new (BigLoan, 1);

  loan->pool = big_pool_ref (pool);
  loan->buf = buf;
  loan->cap = cap;
  return g_bytes_new_with_free_func (buf, len, big_loan_return, loan);
}

static void handle_input  (DpConnection *conn);
static void handle_output (DpConnection *conn);
static void close_with    (DpConnection *conn, GError *error);
static void heartbeat_stop (DpConnection *conn);
static void update_poll   (DpConnection *conn);

/* ---- GSource on the socket ---- */

static gboolean
conn_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  DpConnection *conn = ((ConnSource *) source)->conn;
  GIOCondition revents = conn->fd_tag ? g_source_query_unix_fd (source, conn->fd_tag) : 0;

  _dp_connection_ref (conn);
  if (G_UNLIKELY (conn->tls_more))
    {
      /* decrypted bytes left in the TLS session (see the header) */
      conn->tls_more = FALSE;
      g_source_set_ready_time (source, -1);
      if (conn->state != STATE_CLOSED && !conn->in_paused && conn->fd_tag)
        revents |= G_IO_IN;
    }
  if (revents & G_IO_OUT)
    handle_output (conn);
  if (conn->state != STATE_CLOSED && conn->in_paused && (revents & G_IO_ERR))
    close_with (conn, g_error_new (DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                                   "the connection to %s broke", conn->peer));
  else if (conn->state != STATE_CLOSED && conn->in_paused && (revents & G_IO_HUP))
    {
      /* what the peer sent before it hung up is still to be read: stop
       * watching until input resumes (resume_in_router) */
      g_source_remove_unix_fd (source, conn->fd_tag);
      conn->fd_tag = NULL;
      conn->hup_while_paused = TRUE;
    }
  else if (conn->state != STATE_CLOSED && (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    handle_input (conn);
  _dp_connection_unref (conn);
  return G_SOURCE_CONTINUE;
}

static void
conn_source_finalize (GSource *source)
{
  g_clear_pointer (&((ConnSource *) source)->conn, _dp_connection_unref);
}

static GSourceFuncs conn_source_funcs = {
  NULL, NULL, conn_source_dispatch, conn_source_finalize, NULL, NULL,
};

static void flush_locked (DpConnection *conn);

/* The router's flush of what a stream left queued (see _dp_connection_send()).
 * While the stream goes on it re-arms itself, so that the senders never
 * touch the router's context (its lock, its wake-up) during a stream; it
 * stops after a window in which nothing was queued. A sender holding the
 * queue's lock is at work and writes for itself: the router does not wait
 * for it, and looks again a window later. */
static gboolean
flush_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  DpConnection *conn = ((ConnSource *) source)->conn;

  if (!g_mutex_trylock (&conn->out_lock))
    {
      g_source_set_ready_time (source, g_get_monotonic_time () + STREAM_DELAY_US);
      return G_SOURCE_CONTINUE;
    }
  if (conn->out_ready && !conn->writing && !conn->want_out)
    flush_locked (conn);
  if (conn->stream_active && !conn->out_closed)
    {
      gint64 now = g_get_monotonic_time ();

      /* the stream's frames of this window did not read the clock (see
       * write_queued_locked()): the last one was queued about now */
      conn->stream_active = FALSE;
      conn->last_send_us = now;
      g_source_set_ready_time (source, now + STREAM_DELAY_US);
    }
  else
    {
      conn->flush_scheduled = FALSE;
      g_source_set_ready_time (source, -1);
    }
  g_mutex_unlock (&conn->out_lock);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_source_funcs = {
  NULL, NULL, flush_source_dispatch, conn_source_finalize, NULL, NULL,
};

/* ---- byte I/O: the socket, or the TLS session over it ---- */

/* Router thread: come back to read what the TLS session may hold. */
static void
read_again (DpConnection *conn)
{
  conn->tls_more = TRUE;
  if (conn->source)
    g_source_set_ready_time (conn->source, 0);
}

/* Router thread: one read of the TLS session (one record's bytes at
 * most), as conn_read(). */
static gssize
tls_read_once (DpConnection *conn,
               guint8       *buf,
               gsize         len)
{
  GError *error = NULL;
  gssize n;

  g_mutex_lock (&conn->tls_lock);
  n = g_pollable_input_stream_read_nonblocking (conn->tin, buf, len, NULL, &error);
  g_mutex_unlock (&conn->tls_lock);
  if (n >= 0)
    return n;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    errno = EAGAIN;
  else
    {
      g_free (conn->io_error);
      conn->io_error = g_strdup (error->message);
      /* TLS itself failed (a record that fails its authentication: bytes
       * altered in flight), or the socket did (a reset: the peer went) */
      errno = error->domain == G_TLS_ERROR ? EPROTO : ECONNRESET;
    }
  g_error_free (error);
  return -1;
}

/* Router thread. Up to @len bytes: > 0 read, 0 the peer closed, -1 with
 * errno (EAGAIN: nothing now; EPROTO: TLS failed, ECONNRESET: the socket
 * did; @io_error says why). With TLS, as many records as fit, until the
 * session has no more without a new poll (tls_drained); an end or an
 * error after some records is kept for the next call. */
static gssize
conn_read (DpConnection *conn,
           guint8       *buf,
           gsize         len)
{
  gsize got = 0;

  if (conn->tin == NULL)
    return recv (conn->fd, buf, len, MSG_DONTWAIT);
  if (G_UNLIKELY (conn->tls_read_errno != 0))
    {
      int kept = conn->tls_read_errno;

      conn->tls_read_errno = 0;
      if (kept < 0)
        return 0;
      errno = kept;
      return -1;
    }
  conn->tls_drained = FALSE;
  while (got < len)
    {
      gssize n = tls_read_once (conn, buf + got, len - got);

      if (n > 0)
        {
          got += (gsize) n;
          /* less than asked: the record is used up; if nothing was read
           * ahead, the next one needs the socket's poll first */
          if (got < len && _dp_tls_transport_drained (conn->ttransport))
            {
              conn->tls_drained = TRUE;
              break;
            }
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        conn->tls_drained = TRUE;
      else if (got > 0)
        conn->tls_read_errno = n == 0 ? -1 : errno;
      if (got == 0)
        return n;
      break;
    }
  return (gssize) got;
}

/* The writer (one thread at a time, out_lock not held): as sendmsg().
 * With TLS, records of up to 16 KiB: a vector that fills one on its own,
 * or what fits gathered; up to DP_TLS_TRANSPORT_BATCH of them, kept by
 * the transport and sent at once. What the socket did not take is sent
 * before anything else (EAGAIN until it is; @iov may be empty to send
 * only that). After EAGAIN on a record the next call starts with the same
 * bytes, as the TLS library wants (it sends the record it had made). */
static gssize
conn_writev (DpConnection *conn,
             struct iovec *iov,
             gsize         n_iov)
{
  GError *error = NULL;
  gsize total = 0, i = 0, off = 0;

  if (conn->tout == NULL)
    {
      struct msghdr msg = { 0 };

      msg.msg_iov = iov;
      msg.msg_iovlen = n_iov;
      return sendmsg (conn->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  if (!_dp_tls_transport_flush (conn->ttransport, &error))
    goto failed;
  _dp_tls_transport_begin_batch (conn->ttransport);
  while (i < n_iov && total < DP_TLS_TRANSPORT_BATCH)
    {
      const guint8 *data;
      gsize len = 0;
      gssize n;

      if (off == iov[i].iov_len)
        {
          i++;
          off = 0;
          continue;
        }
      if (iov[i].iov_len - off >= TLS_RECORD || i == n_iov - 1)
        {
          data = (const guint8 *) iov[i].iov_base + off;
          len = MIN (iov[i].iov_len - off, (gsize) TLS_RECORD);
        }
      else
        {
          for (gsize j = i, o = off; j < n_iov && len < TLS_RECORD; j++, o = 0)
            {
              gsize take = MIN (iov[j].iov_len - o, TLS_RECORD - len);

              memcpy (conn->tls_wbuf + len, (const guint8 *) iov[j].iov_base + o, take);
              len += take;
            }
          data = conn->tls_wbuf;
        }
      if (!_dp_tls_transport_has_room (conn->ttransport, len))
        break;
      g_mutex_lock (&conn->tls_lock);
      n = g_pollable_output_stream_write_nonblocking (conn->tout, data, len, NULL, &error);
      g_mutex_unlock (&conn->tls_lock);
      if (n < 0)
        break;
      total += (gsize) n;
      /* past the bytes written */
      for (gsize left = (gsize) n; left > 0;)
        {
          gsize take = MIN (left, iov[i].iov_len - off);

          off += take;
          left -= take;
          if (off == iov[i].iov_len && left > 0)
            {
              i++;
              off = 0;
            }
        }
      if ((gsize) n < len)
        break;
    }
  _dp_tls_transport_end_batch (conn->ttransport);
  if (total == 0 && error != NULL)
    goto failed;
  g_clear_error (&error);   /* a later record's: the next call meets it again */
  /* what the socket does not take now is sent first next time */
  if (!_dp_tls_transport_flush (conn->ttransport, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    goto failed;
  g_clear_error (&error);
  return (gssize) total;

failed:
  errno = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ? EAGAIN : EPIPE;
  g_error_free (error);
  return -1;
}

/* ---- life cycle ---- */

DpConnection *
_dp_connection_new (GSocketConnection         *sconn,
                    DpConnectionRole           role,
                    GBytes                    *secret,
                    const char                *secret_source,
                    gsize                      max_frame,
                    GMainContext              *context,
                    const DpConnectionHandler *handler,
                    gpointer                   handler_data)
{
  DpConnection *conn = g_new0 (DpConnection, 1);
  GSocket *socket = g_socket_connection_get_socket (sconn);
  g_autoptr(GSocketAddress) remote = NULL;

  g_atomic_ref_count_init (&conn->ref);
  conn->context = g_main_context_ref (context);
  conn->sconn = g_object_ref (sconn);
  conn->fd = g_socket_get_fd (socket);
  conn->role = role;
  conn->state = STATE_HANDSHAKE;
  conn->secret = g_bytes_ref (secret);
  conn->secret_source = g_strdup (secret_source ? secret_source : "a secret set by the application");
  conn->max_frame = max_frame;
  conn->handler = handler;
  conn->handler_data = handler_data;
  conn->in_cap = READ_CHUNK;
  conn->in = g_malloc (conn->in_cap);
  conn->big_pool = big_pool_new ();
  conn->in_pool = big_pool_new ();
  g_mutex_init (&conn->out_lock);
  g_mutex_init (&conn->chan_lock);
  g_mutex_init (&conn->tls_lock);
  g_queue_init (&conn->segs);
  conn->tail = g_byte_array_sized_new (4096);
  conn->held = g_byte_array_new ();
  conn->channels = g_hash_table_new_full (NULL, NULL, NULL,
                                          (GDestroyNotify) _dp_channel_entry_unref);
  conn->next_id = 1;
  conn->rtt_us = -1;
  conn->last_seen_us = g_get_monotonic_time ();
  conn->ctrl = g_byte_array_new ();
  g_cond_init (&conn->out_cond);
  conn->out_limit = DP_DEFAULT_MAX_OUTPUT_QUEUE;
  conn->inbox_max_bytes = DP_DEFAULT_MAX_INBOX_SIZE;
  conn->inbox_max_msgs = DP_DEFAULT_MAX_INBOX_MESSAGES;

  g_socket_set_blocking (socket, FALSE);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  remote = g_socket_get_remote_address (socket, NULL);
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    {
      g_autofree char *addr =
        g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
      conn->peer = g_strdup_printf ("%s:%u", addr,
                                    g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote)));
    }
  else
    conn->peer = g_strdup ("(unknown peer)");

  _dp_random_bytes (conn->own_nonce, DP_NONCE_LEN);
  return conn;
}

DpConnection *
_dp_connection_ref (DpConnection *conn)
{
  g_atomic_ref_count_inc (&conn->ref);
  return conn;
}

void
_dp_connection_unref (DpConnection *conn)
{
  if (!g_atomic_ref_count_dec (&conn->ref))
    return;
  g_clear_object (&conn->tconn);
  g_clear_object (&conn->ttransport);
  g_clear_object (&conn->tls_cancel);
  g_clear_pointer (&conn->tls, _dp_tls_unref);
  g_clear_pointer (&conn->binding, g_bytes_unref);
  g_free (conn->tls_refusal);
  g_free (conn->io_error);
  g_free (conn->tls_wbuf);
  g_clear_object (&conn->sconn);
  g_main_context_unref (conn->context);
  g_bytes_unref (conn->secret);
  g_free (conn->secret_source);
  g_free (conn->peer);
  if (conn->in_bytes)
    g_bytes_unref (conn->in_bytes);
  else
    g_free (conn->in);
  g_free (conn->big_buf);
  big_pool_close (conn->big_pool);
  big_pool_close (conn->in_pool);
  for (guint i = 0; i < conn->batch_len; i++)
    g_variant_unref (conn->batch[i]);
  while (!g_queue_is_empty (&conn->segs))
    g_bytes_unref (SEG_BYTES (g_queue_pop_head (&conn->segs)));
  g_byte_array_unref (conn->tail);
  g_clear_pointer (&conn->spare, g_byte_array_unref);
  g_byte_array_unref (conn->ctrl);
  g_cond_clear (&conn->out_cond);
  g_slist_free_full (conn->writable_watches, g_free);
  g_byte_array_unref (conn->held);
  g_hash_table_unref (conn->channels);
  g_mutex_clear (&conn->out_lock);
  g_mutex_clear (&conn->chan_lock);
  g_mutex_clear (&conn->tls_lock);
  g_free (conn);
}

static gboolean
handshake_timed_out (gpointer data)
{
  DpConnection *conn = data;

  g_clear_pointer (&conn->hs_timeout, g_source_unref);
  close_with (conn, g_error_new (DP_ERROR, DP_ERROR_TIMED_OUT,
                                 "handshake not completed within %d s",
                                 HANDSHAKE_TIMEOUT_S));
  return G_SOURCE_REMOVE;
}

static void
send_raw (DpConnection *conn,
          const guint8 *data,
          gsize         len)
{
  _dp_mutex_lock (&conn->out_lock);
  g_byte_array_append (conn->tail, data, len);
  conn->out_queued += len;
  if (!conn->writing && !conn->want_out)
    flush_locked (conn);
  g_mutex_unlock (&conn->out_lock);
}

/* Must be called in the router thread. */
void
_dp_connection_start (DpConnection *conn)
{
  guint8 hello[DP_HELLO_LEN];
  ConnSource *cs;

  DP_ASSERT_OWNER_CONTEXT (conn->context);
  conn->source = g_source_new (&conn_source_funcs, sizeof (ConnSource));
  cs = (ConnSource *) conn->source;
  cs->conn = _dp_connection_ref (conn);
  g_source_set_static_name (conn->source, "DpConnection");
  /* GLib blocks a source that cannot recurse while it dispatches: its fd
   * leaves the poll set and comes back, and each change wakes the context
   * (an eventfd write, and one more loop iteration to read it) — twice
   * per frame that arrives alone. The router never iterates its context
   * from inside a dispatch, so there is no recursion to guard against. */
  g_source_set_can_recurse (conn->source, TRUE);
  g_source_set_priority (conn->source, G_PRIORITY_DEFAULT);
  conn->fd_tag = g_source_add_unix_fd (conn->source, conn->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_attach (conn->source, conn->context);

  conn->flush_source = g_source_new (&flush_source_funcs, sizeof (ConnSource));
  ((ConnSource *) conn->flush_source)->conn = _dp_connection_ref (conn);
  g_source_set_static_name (conn->flush_source, "DpConnection flush");
  g_source_attach (conn->flush_source, conn->context);

  conn->hs_timeout = g_timeout_source_new_seconds (HANDSHAKE_TIMEOUT_S);
  g_source_set_callback (conn->hs_timeout, handshake_timed_out, _dp_connection_ref (conn),
                         (GDestroyNotify) _dp_connection_unref);
  g_source_attach (conn->hs_timeout, conn->context);

  _dp_wire_hello_build (hello, conn->own_nonce);
  _dp_wire_hello_set_max_frame (hello, conn->max_frame);
  _dp_wire_hello_set_flags (hello, conn->tls ? DP_HELLO_FLAG_TLS : 0);
  send_raw (conn, hello, sizeof hello);
}

/* Before _dp_connection_start(): speak TLS with these credentials. */
void
_dp_connection_set_tls (DpConnection *conn,
                        DpTls        *tls)
{
  g_return_if_fail (conn->source == NULL);
  g_clear_pointer (&conn->tls, _dp_tls_unref);
  conn->tls = tls ? _dp_tls_ref (tls) : NULL;
}

void
_dp_connection_set_handler (DpConnection              *conn,
                            const DpConnectionHandler *handler,
                            gpointer                   data)
{
  DP_ASSERT_OWNER_CONTEXT (conn->context);
  conn->handler = handler;
  conn->handler_data = data;
}

char *
_dp_connection_dup_local_host (DpConnection *conn)
{
  g_autoptr(GSocketAddress) addr = g_socket_connection_get_local_address (conn->sconn, NULL);

  if (!G_IS_INET_SOCKET_ADDRESS (addr))
    return NULL;
  return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
}

const char *
_dp_connection_get_peer (DpConnection *conn)
{
  return conn->peer;
}

gboolean
_dp_connection_is_open (DpConnection *conn)
{
  gboolean open;

  _dp_mutex_lock (&conn->out_lock);
  open = !conn->out_closed;
  g_mutex_unlock (&conn->out_lock);
  return open;
}

/* With @out_lock held: the queue is no longer full (or the connection
 * closed): wake the threads waiting in _dp_connection_wait_writable() and
 * call the writable watches, once. */
static void
wake_writers_locked (DpConnection *conn)
{
  GSList *watches;

  DP_ASSERT_LOCK_HELD (&conn->out_lock);
  g_atomic_int_set (&conn->out_full, FALSE);
  if (conn->out_waiters)
    g_cond_broadcast (&conn->out_cond);
  watches = g_steal_pointer (&conn->writable_watches);
  for (GSList *l = watches; l; l = l->next)
    {
      WritableWatch *w = l->data;
      w->func (w->data);
    }
  g_slist_free_full (watches, g_free);
}

static void
close_with (DpConnection *conn,
            GError       *error)
{
  DP_ASSERT_OWNER_CONTEXT (conn->context);
  if (conn->state == STATE_CLOSED)
    {
      g_clear_error (&error);
      return;
    }
  conn->state = STATE_CLOSED;

  _dp_mutex_lock (&conn->out_lock);
  conn->out_closed = TRUE;
  wake_writers_locked (conn);
  g_mutex_unlock (&conn->out_lock);

  if (conn->source)
    {
      g_source_destroy (conn->source);
      g_clear_pointer (&conn->source, g_source_unref);
    }
  if (conn->hs_timeout)
    {
      g_source_destroy (conn->hs_timeout);
      g_clear_pointer (&conn->hs_timeout, g_source_unref);
    }
  if (conn->flush_source)
    {
      g_source_destroy (conn->flush_source);
      g_clear_pointer (&conn->flush_source, g_source_unref);
    }
  heartbeat_stop (conn);
  if (conn->tls_cancel)
    g_cancellable_cancel (conn->tls_cancel);
  /* the socket itself: a TLS close would wait to send close_notify */
  g_io_stream_close (G_IO_STREAM (conn->sconn), NULL, NULL);

  _dp_connection_ref (conn);
  if (conn->handler && conn->handler->closed)
    conn->handler->closed (conn, error, conn->handler_data);
  _dp_connection_unref (conn);
  g_clear_error (&error);
}

void
_dp_connection_close (DpConnection *conn,
                      const GError *reason)
{
  close_with (conn, reason ? g_error_copy (reason) : NULL);
}

void
_dp_connection_reject_frame (DpConnection        *conn,
                             const DpFrameHeader *h,
                             const char          *who)
{
  GError *error = g_error_new (DP_ERROR, DP_ERROR_PROTOCOL,
                               "%s sent frame type %u, which only %s send",
                               conn->peer, h->type, who);

  close_with (conn, error);
}

GMainContext *
_dp_connection_get_context (DpConnection *conn)
{
  return conn->context;
}

/* ---- output ---- */

static void
arm_pollout_in_router (gpointer data)
{
  DpConnection *conn = data;
  gboolean want;

  DP_ASSERT_OWNER_CONTEXT (conn->context);
  _dp_mutex_lock (&conn->out_lock);
  want = conn->want_out;
  g_mutex_unlock (&conn->out_lock);
  if (want)
    update_poll (conn);
}

/* Router thread: what the socket's source waits for — input unless it is
 * paused, room to write while the queue could not be written. */
static void
update_poll (DpConnection *conn)
{
  GIOCondition cond = G_IO_HUP | G_IO_ERR;
  gboolean want;

  DP_ASSERT_OWNER_CONTEXT (conn->context);
  if (conn->source == NULL || conn->fd_tag == NULL || conn->state == STATE_CLOSED)
    return;
  _dp_mutex_lock (&conn->out_lock);
  want = conn->want_out;
  g_mutex_unlock (&conn->out_lock);
  if (!conn->in_paused)
    cond |= G_IO_IN;
  if (want)
    cond |= G_IO_OUT;
  g_source_modify_unix_fd (conn->source, conn->fd_tag, cond);
}

static void
close_broken_in_router (gpointer data)
{
  DpConnection *conn = data;

  DP_ASSERT_OWNER_CONTEXT (conn->context);
  if (conn->state != STATE_CLOSED)
    close_with (conn, g_error_new (DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                                   "write to %s failed", conn->peer));
}

/* Always through an idle source, never inline: the callers hold out_lock
 * (flush_locked), and the callbacks take it — run inline on the router
 * thread (a write failing there, e.g. to a node that just died) they
 * deadlocked the router. */
static void
in_router (DpConnection *conn,
           DpInvokeFunc  func)
{
  _dp_main_context_invoke (conn->context, "[libdp] connection call", func,
                           _dp_connection_ref (conn), (GDestroyNotify) _dp_connection_unref);
}

/* With @out_lock held: the data queue's tail becomes a segment, and a
 * buffer that was written before becomes the new tail (no allocation per
 * write while frames go out one or a few at a time). */
static void
tail_to_segment_locked (DpConnection *conn)
{
  DP_ASSERT_LOCK_HELD (&conn->out_lock);
  g_queue_push_tail (&conn->segs, g_byte_array_free_to_bytes (conn->tail));
  conn->tail = conn->spare ? g_steal_pointer (&conn->spare) : g_byte_array_sized_new (4096);
}

/* With @out_lock held: a segment that has been written. One of our own
 * buffers (not a payload queued by reference) is kept as the next tail. */
static void
segment_done_locked (DpConnection *conn,
                     gpointer      seg)
{
  if (conn->spare == NULL && !SEG_IS_CONT (seg) && g_bytes_get_size (seg) <= 2 * SEG_MAX)
    {
      conn->spare = g_bytes_unref_to_array (seg);
      g_byte_array_set_size (conn->spare, 0);
    }
  else
    g_bytes_unref (SEG_BYTES (seg));
}

/* Called with out_lock held; drops it around the system call. */
static void
flush_locked (DpConnection *conn)
{
  struct iovec iov[MAX_IOV];

  DP_ASSERT_LOCK_HELD (&conn->out_lock);
  conn->writing = TRUE;
  while (!conn->out_closed)
    {
      gsize n_iov = 0;
      gssize n;
      GList *l;

      if (conn->tail->len > 0)
        tail_to_segment_locked (conn);
      /* control frames go first, at the next frame boundary */
      if (conn->ctrl->len > 0 && conn->head_off == 0 &&
          (conn->segs.length == 0 || !SEG_IS_CONT (g_queue_peek_head (&conn->segs))))
        {
          g_queue_push_head (&conn->segs, g_byte_array_free_to_bytes (conn->ctrl));
          conn->ctrl = g_byte_array_new ();
          if (conn->out_waiters)
            g_cond_broadcast (&conn->out_cond);   /* log records waiting for room */
        }
      /* with TLS, records the socket did not take may be left to send */
      if (conn->segs.length == 0 &&
          (conn->tout == NULL || !_dp_tls_transport_pending (conn->ttransport)))
        break;

      for (l = conn->segs.head; l && n_iov < MAX_IOV; l = l->next)
        {
          gsize size;
          const guint8 *data;

          /* a control frame waits: write only up to the next frame
           * boundary (the start of a segment that is not a continuation) */
          if (conn->ctrl->len > 0 && l != conn->segs.head && !SEG_IS_CONT (l->data))
            break;
          data = g_bytes_get_data (SEG_BYTES (l->data), &size);
          gsize off = (l == conn->segs.head) ? conn->head_off : 0;
          iov[n_iov].iov_base = (void *) (data + off);
          iov[n_iov].iov_len = size - off;
          n_iov++;
        }
      g_mutex_unlock (&conn->out_lock);
      n = conn_writev (conn, iov, n_iov);
      _dp_mutex_lock (&conn->out_lock);

      if (n < 0)
        {
          int err = errno;
          if (err == EINTR)
            continue;
          if (err == EAGAIN || err == EWOULDBLOCK)
            {
              conn->want_out = TRUE;
              if (g_main_context_is_owner (conn->context))
                {
                  g_mutex_unlock (&conn->out_lock);
                  arm_pollout_in_router (conn);
                  _dp_mutex_lock (&conn->out_lock);
                }
              else
                in_router (conn, arm_pollout_in_router);
              break;
            }
          conn->out_closed = TRUE;
          in_router (conn, close_broken_in_router);
          break;
        }

      /* consume n bytes */
      conn->out_queued -= (gsize) n;
      while (n > 0)
        {
          GBytes *head = SEG_BYTES (g_queue_peek_head (&conn->segs));
          gsize left = g_bytes_get_size (head) - conn->head_off;
          if ((gsize) n >= left)
            {
              n -= (gssize) left;
              segment_done_locked (conn, g_queue_pop_head (&conn->segs));
              conn->head_off = 0;
            }
          else
            {
              conn->head_off += (gsize) n;
              n = 0;
            }
        }
      /* full → not full: once, at half the limit */
      if (G_UNLIKELY (conn->out_full) && conn->out_queued <= conn->out_limit / 2)
        wake_writers_locked (conn);
    }
  if (conn->out_closed && (conn->out_full || conn->writable_watches || conn->out_waiters))
    wake_writers_locked (conn);
  conn->writing = FALSE;
}

static void
handle_output (DpConnection *conn)
{
  gboolean still;

  _dp_mutex_lock (&conn->out_lock);
  conn->want_out = FALSE;
  if (!conn->writing)
    flush_locked (conn);
  still = conn->want_out;
  g_mutex_unlock (&conn->out_lock);
  if (!still)
    update_poll (conn);
}

/* A frame whose body the peer would refuse (over the maximum it announced
 * in its HELLO), or that does not fit the frame header's 32-bit length, is
 * not sent: the peer would close the connection, and everything else on
 * it with it. The sender is told instead (a warning naming the limit). */
static gboolean
frame_fits (DpConnection *conn,
            guint8        type,
            guint32       channel,
            gsize         body_len)
{
  gsize peer_max = g_atomic_int_get (&conn->peer_max_frame);

  if (body_len <= G_MAXUINT32 && (peer_max == 0 || body_len <= peer_max))
    return TRUE;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "DP_PEER", conn->peer,
                    "DP_EVENT", "frame-too-large",
                    "MESSAGE", "a frame of %" G_GSIZE_FORMAT " bytes (type %u, channel %u) for %s "
                    "was not sent: it is over %s's maximum frame size of %" G_GSIZE_FORMAT
                    " bytes (DpNode:max-frame-size, dp-node --max-frame-size)",
                    body_len, type, channel, conn->peer, conn->peer,
                    peer_max ? peer_max : (gsize) G_MAXUINT32);
  return FALSE;
}

/* One frame's body, as _dp_connection_send() and _dp_connection_send_many()
 * queue it: the payload's type string and data (a large payload's data by
 * reference, in @data) */
typedef struct {
  const char   *sig;
  gsize         sig_len;
  gsize         pad;
  gsize         data_len;
  const guint8 *data_ptr;
  GBytes       *data;      /* owned: a payload over COPY_MAX */
} FrameBody;

/* Fills @b for @payload (or none). FALSE, with a warning, when the frame
 * is over what the peer accepts (see frame_fits()). */
static gboolean
frame_body_init (DpConnection *conn,
                 FrameBody    *b,
                 guint8        type,
                 guint32       channel,
                 GVariant     *payload)
{
  memset (b, 0, sizeof *b);
  if (payload)
    {
      b->sig = g_variant_get_type_string (payload);
      b->sig_len = strlen (b->sig);
      b->pad = _dp_frame_sig_padded (b->sig_len) - b->sig_len;
      b->data_len = g_variant_get_size (payload);
      if (b->data_len <= COPY_MAX)
        b->data_ptr = g_variant_get_data (payload);    /* copied: no GBytes */
      else
        {
          b->data = g_variant_get_data_as_bytes (payload);
          b->data_ptr = g_bytes_get_data (b->data, &b->data_len);
        }
    }
  if (G_UNLIKELY (!frame_fits (conn, type, channel, b->sig_len + b->pad + b->data_len)))
    {
      g_clear_pointer (&b->data, g_bytes_unref);
      return FALSE;
    }
  return TRUE;
}

/* With @out_lock held: appends one frame to @buf (the held, control or
 * data queue): header, type string, padding and a copied payload in one
 * append; a large payload is queued by reference after what is there.
 * Takes @b's data. */
static void
queue_frame_locked (DpConnection *conn,
                    GByteArray   *buf,
                    gboolean      ctrl,
                    guint8        type,
                    guint32       channel,
                    guint32       arg,
                    FrameBody    *b)
{
  guint8 header[DP_FRAME_HEADER_LEN];
  DpFrameHeader h = { 0 };
  gboolean by_ref = b->data_len > COPY_MAX && conn->out_ready && !ctrl;
  gsize copied = by_ref ? 0 : b->data_len;
  guint at = buf->len;
  guint8 *p;

  DP_ASSERT_LOCK_HELD (&conn->out_lock);
  h.body_len = (guint32) (b->sig_len + b->pad + b->data_len);
  h.type = type;
  h.sig_len = (guint16) b->sig_len;
  h.channel = channel;
  h.arg = arg;
  _dp_frame_header_pack (&h, header);

  conn->out_queued += DP_FRAME_HEADER_LEN + h.body_len;
  if (conn->out_queued >= conn->out_limit && !conn->out_full)
    g_atomic_int_set (&conn->out_full, TRUE);

  g_byte_array_set_size (buf, at + sizeof header + b->sig_len + b->pad + copied);
  p = buf->data + at;
  memcpy (p, header, sizeof header);
  p += sizeof header;
  if (b->sig_len)
    {
      memcpy (p, b->sig, b->sig_len);
      memset (p + b->sig_len, 0, b->pad);
      p += b->sig_len + b->pad;
    }
  if (copied)
    memcpy (p, b->data_ptr, copied);
  if (by_ref)
    {
      tail_to_segment_locked (conn);
      g_queue_push_tail (&conn->segs, SEG_CONT (g_steal_pointer (&b->data)));
    }
  g_clear_pointer (&b->data, g_bytes_unref);
}

/* With @out_lock held, after @n_frames were queued: write them now, or
 * leave them to the stream's writer.
 *
 * While the peer answers what we send (request and reply) the frame is
 * written at once, by this thread: the lowest latency. Once we are
 * streaming (several frames with no answer) frames gather in the queue
 * and go out together, in one system call per STREAM_WRITE bytes,
 * written by the sender that fills it that far; what a stream leaves
 * below that is written by the router at most STREAM_DELAY_US later
 * (its flush re-arms itself while the stream goes on). So a stream
 * costs neither a system call nor a wake-up of the router per frame
 * (each one a context switch, and contended locks, when the router and
 * the sender share the CPUs). Frames that come further apart than
 * STREAM_DELAY_US are no stream, answered or not (one-way traffic such
 * as RMPI's barrier and broadcast): each is written at once, as waiting
 * would only add the router's wake-up to its latency. Telling the two
 * apart takes the clock; within a window of the router's flush that a
 * frame has already joined, the others are the stream's and do not read
 * it (a vDSO call per frame, 2 % of W3's time in a profile): the router's
 * flush then stands for their time. */
static void
write_queued_locked (DpConnection *conn,
                     guint         n_frames)
{
  DP_ASSERT_LOCK_HELD (&conn->out_lock);
  if (G_UNLIKELY (conn->corked_by != NULL) && conn->corked_by == g_thread_self ())
    conn->cork_queued = TRUE;   /* the router answers input: written once it is done */
  else if (conn->out_ready && !conn->writing && !conn->want_out)
    {
      gboolean sparse = FALSE;
      gint64 now = 0;

      /* the clock is read only past STREAM_AFTER (not in request/reply),
       * and not again once a frame went into the router's current window
       * (it is armed, and the stream is active): a stream reads it once a
       * window, not once a frame */
      conn->unanswered += n_frames;
      if (conn->unanswered > STREAM_AFTER && !(conn->stream_active && conn->flush_scheduled))
        {
          now = g_get_monotonic_time ();
          sparse = now - conn->last_send_us >= STREAM_DELAY_US;
          conn->last_send_us = now;
        }
      if (conn->unanswered <= STREAM_AFTER || sparse || conn->out_queued >= STREAM_WRITE)
        flush_locked (conn);
      else if (!conn->flush_scheduled && conn->flush_source)
        {
          conn->flush_scheduled = TRUE;
          g_source_set_ready_time (conn->flush_source,
                                   (now ? now : g_get_monotonic_time ()) + STREAM_DELAY_US);
        }
      else
        conn->stream_active = TRUE;
    }
}

/**
 * _dp_connection_send: (skip)
 *
 * Queues one frame and writes it unless somebody else is writing; a
 * floating @payload is consumed. Safe from any thread. Returns FALSE when
 * the connection is closed, or when
 * the frame is over the largest one the peer accepts (a warning says so;
 * the connection stays up).
 */
gboolean
_dp_connection_send (DpConnection *conn,
                     guint8        type,
                     guint32       channel,
                     guint32       arg,
                     GVariant     *payload)
{
  FrameBody b;
  GByteArray *buf;
  gboolean ctrl;
  /* a floating payload is the frame's alone: it goes with it (a full
   * reference is the caller's and stays so; only a floating one pays for
   * the GVariant lock) */
  g_autoptr(GVariant) sunk G_GNUC_UNUSED = payload && g_variant_is_floating (payload)
                             ? g_variant_ref_sink (payload) : NULL;

  if (G_UNLIKELY (!frame_body_init (conn, &b, type, channel, payload)))
    return FALSE;

  ctrl = type == DP_FRAME_PING || type == DP_FRAME_PONG || type == DP_FRAME_LOG;
  _dp_mutex_lock (&conn->out_lock);
  if (conn->out_closed)
    {
      g_mutex_unlock (&conn->out_lock);
      g_clear_pointer (&b.data, g_bytes_unref);
      return FALSE;
    }
  if (ctrl && type != DP_FRAME_LOG && conn->out_ready && conn->ctrl->len > 0)
    {
      /* a heartbeat is still unsent: another one would say nothing more */
      g_mutex_unlock (&conn->out_lock);
      g_clear_pointer (&b.data, g_bytes_unref);
      return TRUE;
    }
  if (!conn->out_ready)
    buf = conn->held;
  else if (ctrl)
    buf = conn->ctrl;
  else
    {
      /* segments of at most SEG_MAX: control frames can go in between */
      if (conn->tail->len >= SEG_MAX)
        tail_to_segment_locked (conn);
      buf = conn->tail;
    }
  queue_frame_locked (conn, buf, ctrl, type, channel, arg, &b);
  write_queued_locked (conn, 1);
  g_mutex_unlock (&conn->out_lock);
  return TRUE;
}

/**
 * _dp_connection_send_many: (skip)
 *
 * Queues DATA frames for @channel, one per message of @msgs (references
 * the caller keeps), up to SEND_MANY_MAX of them under one lock, and
 * writes them as _dp_connection_send() would have written the last. The
 * first is always queued; the others only while the output queue is below
 * its limit (flow control: the caller waits for room,
 * _dp_connection_wait_writable(), and sends the rest). Safe from any
 * thread.
 *
 * Returns: how many of @msgs were taken (queued, or dropped with a warning
 *   as over the peer's maximum frame size: @n_dropped counts those), or
 *   0 when the connection is closed
 */
guint
_dp_connection_send_many (DpConnection     *conn,
                          guint32           channel,
                          GVariant * const *msgs,
                          guint             n,
                          guint            *n_dropped)
{
  FrameBody b[SEND_MANY_MAX];
  gboolean fits[SEND_MANY_MAX];
  guint i, queued = 0;

  n = MIN (n, SEND_MANY_MAX);
  *n_dropped = 0;
  /* the payloads' type strings, sizes and data (each takes the value's
   * lock), and the warning for one over the peer's limit: not under ours */
  for (i = 0; i < n; i++)
    fits[i] = frame_body_init (conn, &b[i], DP_FRAME_DATA, channel, msgs[i]);

  _dp_mutex_lock (&conn->out_lock);
  for (i = 0; i < n; i++)
    {
      GByteArray *buf;

      if (conn->out_closed || (i > 0 && conn->out_full))
        break;
      if (G_UNLIKELY (!fits[i]))
        {
          (*n_dropped)++;
          continue;
        }
      if (!conn->out_ready)
        buf = conn->held;
      else
        {
          if (conn->tail->len >= SEG_MAX)
            tail_to_segment_locked (conn);
          buf = conn->tail;
        }
      queue_frame_locked (conn, buf, FALSE, DP_FRAME_DATA, channel, 0, &b[i]);
      queued++;
    }
  if (queued > 0)
    write_queued_locked (conn, queued);
  if (i == 0 && conn->out_closed)
    *n_dropped = 0;
  g_mutex_unlock (&conn->out_lock);
  for (guint j = i; j < n; j++)
    g_clear_pointer (&b[j].data, g_bytes_unref);
  return i;
}

/* ---- flow control ---- */

/* Before _dp_connection_start(), in the router thread. */
void
_dp_connection_set_flow (DpConnection *conn,
                         gsize         out_limit,
                         gsize         inbox_max_bytes,
                         guint         inbox_max_msgs)
{
  conn->out_limit = MAX (out_limit, 1);
  conn->inbox_max_bytes = MAX (inbox_max_bytes, 1);
  conn->inbox_max_msgs = MAX (inbox_max_msgs, 1);
}

void
_dp_connection_get_inbox_limits (DpConnection *conn,
                                 gsize        *max_bytes,
                                 guint        *max_msgs)
{
  *max_bytes = conn->inbox_max_bytes;
  *max_msgs = conn->inbox_max_msgs;
}

/* Any thread, no lock: TRUE when the output queue is full. */
gboolean
_dp_connection_is_full (DpConnection *conn)
{
  return g_atomic_int_get (&conn->out_full);
}

/**
 * _dp_connection_wait_writable: (skip)
 * @for_log: wait for room in the control queue (a log record) rather than
 *   in the data queue
 *
 * Blocks the calling thread while the output queue is full, until the
 * writer has brought it down to half its limit or the connection closes.
 * Returns at once on the router thread, which never waits. Call it with
 * no lock held.
 */
void
_dp_connection_wait_writable (DpConnection *conn,
                              gboolean      for_log)
{
  if (g_main_context_is_owner (conn->context))
    return;
  _dp_mutex_lock (&conn->out_lock);
  conn->out_waiters++;
  while (!conn->out_closed &&
         (for_log ? conn->ctrl->len > CTRL_MAX : conn->out_full))
    g_cond_wait (&conn->out_cond, &conn->out_lock);
  conn->out_waiters--;
  g_mutex_unlock (&conn->out_lock);
}

/* FALSE when the queue is not full (@func is not called). Else @func is
 * called once, when it is no longer full or the connection has closed,
 * from the thread that wrote, with the output lock held: it may only
 * schedule work elsewhere (e.g. an idle in some context). */
gboolean
_dp_connection_add_writable_watch (DpConnection *conn,
                                   DpInvokeFunc  func,
                                   gpointer      data)
{
  WritableWatch *w;

  _dp_mutex_lock (&conn->out_lock);
  if (!conn->out_full || conn->out_closed)
    {
      g_mutex_unlock (&conn->out_lock);
      return FALSE;
    }
  w = g_new (WritableWatch, 1);
  w->func = func;
  w->data = data;
  conn->writable_watches = g_slist_append (conn->writable_watches, w);
  g_mutex_unlock (&conn->out_lock);
  return TRUE;
}

/* Router thread (a delivery): an inbox this connection fed is over its
 * limit; input pauses until every such inbox has called
 * _dp_connection_unstall(). */
void
_dp_connection_stall (DpConnection *conn)
{
  g_atomic_int_inc (&conn->stalls);
}

static void
resume_in_router (gpointer data)
{
  DpConnection *conn = data;

  DP_ASSERT_OWNER_CONTEXT (conn->context);
  if (conn->in_paused && g_atomic_int_get (&conn->stalls) == 0 && conn->state != STATE_CLOSED)
    {
      conn->in_paused = FALSE;
      /* the peer's silence while we were not reading was ours */
      conn->last_seen_us = g_get_monotonic_time ();
      if (conn->hup_while_paused && conn->source)
        {
          conn->fd_tag = g_source_add_unix_fd (conn->source, conn->fd,
                                               G_IO_IN | G_IO_HUP | G_IO_ERR);
          conn->hup_while_paused = FALSE;
        }
      update_poll (conn);
      if (conn->tin)
        read_again (conn);   /* what the TLS session holds is not polled */
    }
}

/* Any thread: an inbox that stalled this connection has room again */
void
_dp_connection_unstall (DpConnection *conn)
{
  if (g_atomic_int_dec_and_test (&conn->stalls))
    in_router (conn, resume_in_router);
}

/* Router thread, after a delivery: stop reading while an inbox is full */
static gboolean
input_stalled (DpConnection *conn)
{
  if (G_LIKELY (g_atomic_int_get (&conn->stalls) == 0))
    return FALSE;
  if (!conn->in_paused)
    {
      conn->in_paused = TRUE;
      update_poll (conn);
    }
  return TRUE;
}

/* ---- input ---- */

/* The type of a frame's payload (@h passed _dp_frame_header_check()), or
 * NULL with @error. The type string is checked once per distinct string
 * (the last one is remembered); one that is not remembered is put in
 * *@type_string. */
static const GVariantType *
frame_type (DpConnection         *conn,
            const DpFrameHeader  *h,
            const guint8         *body,
            char                **type_string,
            GError              **error)
{
  if (h->sig_len == conn->sig_cache_len && memcmp (conn->sig_cache, body, h->sig_len) == 0)
    return (const GVariantType *) conn->sig_cache;
  if (!_dp_wire_check_type ((const char *) body, h->sig_len, error))
    return NULL;
  if (h->sig_len < SIG_CACHE_MAX)
    {
      memcpy (conn->sig_cache, body, h->sig_len);
      conn->sig_cache[h->sig_len] = '\0';
      conn->sig_cache_len = h->sig_len;
      return (const GVariantType *) conn->sig_cache;
    }
  *type_string = g_strndup ((const char *) body, h->sig_len);
  return (const GVariantType *) *type_string;
}

/* The payload of a frame, of type @type, or NULL with @error. The data is
 * always loaded as untrusted and checked. @big_body: the body of a big
 * frame (see big_take()), which the payload refers to; else the body is
 * in @in at @body, and the payload refers to @in in a stream (see
 * process_input()), else to a copy. */
static GVariant *
decode_body (DpConnection        *conn,
             const DpFrameHeader *h,
             const GVariantType  *type,
             const guint8        *body,
             GBytes              *big_body,
             GError             **error)
{
  gsize off = _dp_frame_sig_padded (h->sig_len);
  g_autoptr(GBytes) data = NULL;
  GVariant *payload;

  if (big_body)
    data = g_bytes_new_from_bytes (big_body, off, h->body_len - off);
  else if (conn->in_share)
    {
      /* the payload refers to the input buffer rather than a copy (the
       * buffer lives as long as any of its payloads) */
      if (conn->in_bytes == NULL)
        conn->in_bytes = pool_lend (conn->in_pool, conn->in, conn->in_cap, conn->in_cap);
      data = g_bytes_new_from_bytes (conn->in_bytes, (gsize) (body - conn->in) + off,
                                     h->body_len - off);
    }
  else
    data = g_bytes_new (body + off, h->body_len - off);
  payload = _dp_wire_load_payload (type, data, error);
  if (payload == NULL)
    g_prefix_error (error, "frame type %u from %s: ", h->type, conn->peer);
  return payload;
}

static void
frame_received (DpConnection *conn)
{
  if (conn->unanswered)
    {
      _dp_mutex_lock (&conn->out_lock);
      conn->unanswered = 0;
      g_mutex_unlock (&conn->out_lock);
    }
}

static gboolean dispatch_payload (DpConnection *conn, const DpFrameHeader *h, GVariant *payload);

/* ---- a big frame's body: memory follows the bytes received ---- */

static void
big_begin (DpConnection        *conn,
           const DpFrameHeader *h,
           const guint8        *data,
           gsize                len)
{
  gsize want = MIN (h->body_len, MAX (BIG_FIRST, len));

  conn->big = TRUE;
  conn->big_h = *h;
  conn->big_buf = big_pool_take (conn->big_pool, &conn->big_alloc);
  if (conn->big_buf != NULL && conn->big_alloc < want)
    {
      conn->big_buf = g_realloc (conn->big_buf, want);
      conn->big_alloc = want;
    }
  else if (conn->big_buf == NULL)
    {
      conn->big_buf = g_malloc (want);
      conn->big_alloc = want;
    }
  conn->big_cap = MIN (h->body_len, conn->big_alloc);
  conn->big_pool_used = TRUE;
  memcpy (conn->big_buf, data, len);
  conn->big_have = len;
}

/* Room for the next read: the buffer grows ×4 (up to the frame's length)
 * only once it is full. */
static gsize
big_room (DpConnection *conn)
{
  if (conn->big_have == conn->big_cap)
    {
      conn->big_cap = MIN ((gsize) conn->big_h.body_len, conn->big_cap * 4);
      if (conn->big_cap > conn->big_alloc)
        {
          conn->big_buf = g_realloc (conn->big_buf, conn->big_cap);
          conn->big_alloc = conn->big_cap;
        }
    }
  return conn->big_cap - conn->big_have;
}

/* The body (transfer full) once all of it has arrived, else NULL */
static GBytes *
big_take (DpConnection *conn)
{
  GBytes *body;

  if (conn->big_have < conn->big_h.body_len)
    return NULL;
  body = pool_lend (conn->big_pool, g_steal_pointer (&conn->big_buf), conn->big_alloc,
                    conn->big_h.body_len);
  conn->big = FALSE;
  conn->big_cap = 0;
  conn->big_alloc = 0;
  return body;
}

/* Hands the DATA frames gathered for one channel to the owner. Returns
 * FALSE when the connection closed meanwhile. */
static gboolean
flush_batch (DpConnection *conn)
{
  guint n = conn->batch_len;

  if (n == 0)
    return conn->state != STATE_CLOSED;
  conn->batch_len = 0;
  if (conn->handler && conn->handler->data)
    {
      frame_received (conn);
      conn->handler->data (conn, conn->batch_chan, conn->batch, n, conn->handler_data);
      return conn->state != STATE_CLOSED;
    }
  /* the owner changed its handler meanwhile: one frame at a time */
  for (guint i = 0; i < n; i++)
    {
      DpFrameHeader h = { 0 };
      GVariant *payload = conn->batch[i];

      h.type = DP_FRAME_DATA;
      h.channel = conn->batch_chan;
      if (conn->state == STATE_CLOSED || !dispatch_payload (conn, &h, payload))
        {
          for (guint j = i + 1; j < n; j++)
            g_variant_unref (conn->batch[j]);
          g_variant_unref (payload);
          return FALSE;
        }
      g_variant_unref (payload);
    }
  return conn->state != STATE_CLOSED;
}

/* Router thread, while flush_batch() hands @msgs over: their serialised
 * sizes, known from their frames (g_variant_get_size() would take each
 * value's lock to say it); NULL for any other array */
const gsize *
_dp_connection_batch_sizes (DpConnection     *conn,
                            GVariant * const *msgs)
{
  return msgs == (GVariant * const *) conn->batch ? conn->batch_size : NULL;
}

/* Takes a ref on @payload only as long as the handler runs */
static gboolean
dispatch_payload (DpConnection        *conn,
                  const DpFrameHeader *h,
                  GVariant            *payload)
{
  frame_received (conn);
  if (h->type == DP_FRAME_PING)
    {
      conn->peer_pings = TRUE;
      _dp_connection_send (conn, DP_FRAME_PONG, h->channel, h->arg, NULL);
      return TRUE;
    }
  if (h->type == DP_FRAME_PONG)
    {
      if (h->arg == conn->ping_seq && conn->ping_sent_us)
        {
          conn->rtt_us = g_get_monotonic_time () - conn->ping_sent_us;
          if (conn->handler && conn->handler->heartbeat)
            conn->handler->heartbeat (conn, conn->handler_data);
        }
      return TRUE;
    }
  if (conn->handler && conn->handler->frame)
    conn->handler->frame (conn, h, payload, conn->handler_data);
  return conn->state != STATE_CLOSED;
}

/* A frame (@h passed _dp_frame_header_check()) whose body is at @body:
 * in @in, or, for a big frame, in @big_body. */
static gboolean
dispatch_frame (DpConnection        *conn,
                const DpFrameHeader *h,
                const guint8        *body,
                GBytes              *big_body)
{
  g_autoptr(GVariant) payload = NULL;
  /* DATA frames for one channel are gathered and handed over together: one
   * channel lookup, one inbox lock and one wake-up of the reader for many
   * frames. Any other frame first hands over what was gathered, so the
   * owner sees frames in the order they came. */
  gboolean batched = h->type == DP_FRAME_DATA && h->sig_len > 0 && h->arg == 0 &&
                     conn->handler && conn->handler->data;

  if (batched && conn->batch_len > 0 &&
      (conn->batch_chan != h->channel || conn->batch_len == BATCH_MAX) &&
      !flush_batch (conn))
    return FALSE;

  if (h->sig_len > 0)
    {
      GError *error = NULL;
      g_autofree char *type_string = NULL;
      const GVariantType *type = frame_type (conn, h, body, &type_string, &error);

      if (type != NULL)
        payload = decode_body (conn, h, type, body, big_body, &error);
      if (payload == NULL)
        {
          if (flush_batch (conn))
            close_with (conn, error);
          else
            g_clear_error (&error);
          return FALSE;
        }
    }

  if (batched)
    {
      conn->batch_chan = h->channel;
      conn->batch_size[conn->batch_len] = h->body_len - _dp_frame_sig_padded (h->sig_len);
      conn->batch[conn->batch_len++] = g_steal_pointer (&payload);
      return TRUE;
    }
  if (!flush_batch (conn))
    return FALSE;
  return dispatch_payload (conn, h, payload);
}

/* Bytes wait in the socket that this thread has not read yet: the peer
 * spoke. A router kept from running (a starved CPU, a long dispatch) may
 * run its overdue heartbeat check before the read of what came
 * meanwhile: the silence is its own, not the peer's. One poll(2), only
 * when a timeout would be declared. */
static gboolean
input_waiting (DpConnection *conn)
{
  struct pollfd p = { .fd = conn->fd, .events = POLLIN };

  /* with TLS, what the session holds already (read, not yet handed over)
   * is not in the socket any more */
  if (!conn->tls_more &&
      (conn->fd < 0 || poll (&p, 1, 0) <= 0 || (p.revents & POLLIN) == 0))
    return FALSE;
  conn->last_seen_us = g_get_monotonic_time ();
  return TRUE;
}

/* What a process spends on heartbeats is bounded: it sends at most
 * HEARTBEATS_MAX_PER_S PINGs a second. With more connections than its
 * interval allows, each connection's interval stretches — never beyond a
 * quarter of its timeout, so a dead peer is still found within the timeout
 * and a quarter. A master of 128 nodes, or a rank of a 64-rank mesh, at
 * the netns suite's 0.2 s / 2 s pings every 0.5 s: at 0.2 s, 2,016 mesh
 * connections under ASan left two cores no time for anything else. */
#define HEARTBEATS_MAX_PER_S 100
static gint heartbeat_conns;   /* atomic: connections with a heartbeat timer */

static gdouble
heartbeat_interval (DpConnection *conn)
{
  gdouble spread = g_atomic_int_get (&heartbeat_conns) / (gdouble) HEARTBEATS_MAX_PER_S;

  if (conn->hb_timeout <= 0 || spread <= conn->hb_interval)
    return conn->hb_interval;
  return MAX (conn->hb_interval, MIN (spread, conn->hb_timeout / 4));
}

static void
heartbeat_stop (DpConnection *conn)
{
  if (conn->heartbeat == NULL)
    return;
  g_source_destroy (conn->heartbeat);
  g_clear_pointer (&conn->heartbeat, g_source_unref);
  g_atomic_int_add (&heartbeat_conns, -1);
}

/* The heartbeats of a process fire together, at the multiples of their
 * interval on the monotonic clock, rather than each an interval after its
 * connection became ready: a node of a 64-rank mesh wakes once an interval
 * to send its PINGs, not 63 times, and their PONGs come back together.
 * Each wake-up polls every socket of the router; in a mesh those wake-ups
 * were most of what heartbeats cost. Real time: a liveness check measures
 * real processes, so DP_TIME_SCALE does not shorten it. */
static gint64
heartbeat_next (gint64  now,
                gdouble interval)
{
  gint64 step = MAX ((gint64) 1000, (gint64) (interval * G_USEC_PER_SEC));

  return (now / step + 1) * step;
}

static gboolean
heartbeat_source_dispatch (GSource     *source,
                           GSourceFunc  callback,
                           gpointer     data)
{
  return callback (data);
}

static GSourceFuncs heartbeat_source_funcs = {
  .dispatch = heartbeat_source_dispatch,
};

static gboolean
heartbeat_cb (gpointer data)
{
  DpConnection *conn = data;
  gint64 now = g_get_monotonic_time ();
  gint64 timeout_us = (gint64) (conn->hb_timeout * G_USEC_PER_SEC);

  DP_ASSERT_OWNER_CONTEXT (conn->context);
  g_source_set_ready_time (conn->heartbeat, heartbeat_next (now, heartbeat_interval (conn)));
  /* While we do not read, the peer's heartbeats wait in our socket: its
   * silence is ours (see the header) */
  if (conn->in_paused)
    conn->last_seen_us = now;
  /* no big frame for an interval: the buffers kept for them go */
  if (!conn->big_pool_used)
    big_pool_drain (conn->big_pool);
  conn->big_pool_used = FALSE;
  if (!conn->in_pool_used)
    big_pool_drain (conn->in_pool);
  conn->in_pool_used = FALSE;
  /* A server only holds a peer to a timeout once the peer has shown it
   * sends heartbeats itself. */
  if (conn->hb_timeout > 0 && (conn->role == DP_CONNECTION_CLIENT || conn->peer_pings) &&
      now - conn->last_seen_us > timeout_us && !input_waiting (conn))
    {
      close_with (conn, g_error_new (DP_ERROR, DP_ERROR_TIMED_OUT,
                                     "no sign of life from %s for %.1f s (heartbeat timeout)",
                                     conn->peer, (now - conn->last_seen_us) / 1e6));
      return G_SOURCE_REMOVE;
    }
  /* The side that accepted the connection answers the peer's PINGs and
   * sends none of its own while they come (one an interval at least): our
   * PONG tells the peer we live, its PING tells us it does. One PING and
   * one PONG an interval on a connection, not two of each: in a mesh every
   * record is a wake-up of a router somewhere, and twice as many kept two
   * cores busy. A peer that pings less often than we would, or not at
   * all, still gets ours. */
  if (conn->role == DP_CONNECTION_SERVER && conn->peer_pings &&
      now - conn->last_seen_us <
        (gint64) (MAX (heartbeat_interval (conn), conn->hb_timeout / 4) * G_USEC_PER_SEC))
    return G_SOURCE_CONTINUE;
  conn->ping_sent_us = now;
  _dp_connection_send (conn, DP_FRAME_PING, 0, ++conn->ping_seq, NULL);
  return G_SOURCE_CONTINUE;
}

/* Router thread, before or after the handshake. 0 turns it off. Both are
 * seconds of real time, whatever the time scale: a node that a test speeds
 * up still starts, schedules and answers at the machine's own pace. */
void
_dp_connection_set_heartbeat (DpConnection *conn,
                              gdouble       interval,
                              gdouble       timeout)
{
  DP_ASSERT_OWNER_CONTEXT (conn->context);
  conn->hb_interval = interval;
  conn->hb_timeout = timeout;
  heartbeat_stop (conn);
  if (conn->state == STATE_READY && interval > 0)
    {
      g_atomic_int_inc (&heartbeat_conns);
      conn->heartbeat = g_source_new (&heartbeat_source_funcs, sizeof (GSource));
      g_source_set_static_name (conn->heartbeat, "[libdp] heartbeat");
      g_source_set_ready_time (conn->heartbeat,
                               heartbeat_next (g_get_monotonic_time (), heartbeat_interval (conn)));
      /* before the connections' input: a router that gets the CPU back
       * after a wait sends its overdue heartbeats first, in an iteration
       * of their own, rather than after reading and dispatching all that
       * came meanwhile (the check of the peer's silence counts what waits
       * unread: input_waiting()) */
      g_source_set_priority (conn->heartbeat, G_PRIORITY_HIGH);
      g_source_set_callback (conn->heartbeat, heartbeat_cb, conn, NULL);
      g_source_attach (conn->heartbeat, conn->context);
    }
}

gdouble
_dp_connection_get_rtt (DpConnection *conn)
{
  gint64 rtt = conn->rtt_us;
  return rtt < 0 ? -1.0 : rtt / 1e6;
}

gdouble
_dp_connection_get_idle (DpConnection *conn)
{
  return (g_get_monotonic_time () - conn->last_seen_us) / 1e6;
}

static void
become_ready (DpConnection *conn)
{
  DP_ASSERT_OWNER_CONTEXT (conn->context);
  if (conn->hs_timeout)
    {
      g_source_destroy (conn->hs_timeout);
      g_clear_pointer (&conn->hs_timeout, g_source_unref);
    }
  conn->state = STATE_READY;

  _dp_mutex_lock (&conn->out_lock);
  conn->out_ready = TRUE;
  if (conn->held->len > 0)
    {
      g_byte_array_append (conn->tail, conn->held->data, conn->held->len);
      g_byte_array_set_size (conn->held, 0);
    }
  if (!conn->writing && !conn->want_out)
    flush_locked (conn);
  g_mutex_unlock (&conn->out_lock);

  _dp_connection_set_heartbeat (conn, conn->hb_interval, conn->hb_timeout);
  /* The first heartbeat goes at once, not an interval later: a server
   * holds its peer to the timeout only once it has seen the peer's, so a
   * link cut before then would never be noticed on the server's side */
  if (conn->heartbeat)
    {
      conn->ping_sent_us = g_get_monotonic_time ();
      _dp_connection_send (conn, DP_FRAME_PING, 0, ++conn->ping_seq, NULL);
    }
  if (conn->handler && conn->handler->ready)
    conn->handler->ready (conn, conn->handler_data);
}

/* The peer has sent REFUSED: it found our proof wrong. */
static void
close_refused (DpConnection *conn)
{
  close_with (conn, g_error_new (DP_ERROR, DP_ERROR_AUTH_FAILED,
                                 conn->role == DP_CONNECTION_CLIENT
                                 ? "node %s refused our authentication: it does not share "
                                   "this cluster's secret (%s)"
                                 : "%s refused our authentication: it does not share "
                                   "this node's secret (%s)",
                                 conn->peer, conn->secret_source));
}

/* The peer's proof is wrong: say so (REFUSED) before closing. */
static void
refuse (DpConnection *conn)
{
  guint8 refused[DP_REFUSAL_LEN];

  _dp_wire_refusal_build (refused);
  send_raw (conn, refused, sizeof refused);
  close_with (conn, g_error_new (DP_ERROR, DP_ERROR_AUTH_FAILED,
                                 conn->role == DP_CONNECTION_SERVER
                                 ? "%s failed authentication (wrong secret): it does not "
                                   "share this node's secret (%s)"
                                 : "node %s failed authentication (wrong secret): it does "
                                   "not share this cluster's secret (%s)",
                                 conn->peer, conn->secret_source));
}

/* The proof of the secret a client sends first, over the session's
 * channel binding when it is TLS. */
static void
send_client_proof (DpConnection *conn)
{
  guint8 proof[DP_AUTH_LEN];

  _dp_wire_auth_compute_bound (conn->secret, 'C', conn->peer_nonce, conn->own_nonce,
                               conn->binding, proof);
  send_raw (conn, proof, sizeof proof);
}

/* The HELLOs' TLS flags: both on, or both off. Closes the connection
 * (FALSE) otherwise, saying which side has TLS off. */
static gboolean
tls_agree (DpConnection *conn,
           guint         peer_flags)
{
  gboolean peer_tls = (peer_flags & DP_HELLO_FLAG_TLS) != 0;

  if (peer_tls == (conn->tls != NULL))
    return TRUE;
  close_with (conn, g_error_new (DP_ERROR, DP_ERROR_AUTH_FAILED,
                                 conn->tls
                                 ? "%s does not speak TLS, which this side requires on this "
                                   "connection: the peer has TLS off (DpNode:tls, --tls) or is "
                                   "a libdp without TLS"
                                 : "%s requires TLS on this connection, which this side has "
                                   "off (DpNode:tls, --tls)", conn->peer));
  return FALSE;
}

/* GIO found the peer's certificate not trusted (it knows no CA: the
 * connection has no database): it is if the cluster's CA issued it and it
 * is valid now. Emitted during the handshake, which holds a reference. */
static gboolean
tls_accept_certificate (GTlsConnection       *tconn,
                        GTlsCertificate      *peer_cert,
                        GTlsCertificateFlags  errors,
                        gpointer              data)
{
  DpConnection *conn = data;
  char *why = NULL;

  if (_dp_tls_check_peer (conn->tls, peer_cert, &why))
    return TRUE;
  g_free (conn->tls_refusal);
  conn->tls_refusal = why;
  return FALSE;
}

static void
tls_handshake_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      data)
{
  DpConnection *conn = data;
  GError *error = NULL;
  gboolean ok = g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);
  g_autoptr(GByteArray) binding = NULL;

  g_signal_handlers_disconnect_by_data (source, conn);
  if (conn->state == STATE_CLOSED)
    ;
  else if (!ok)
    close_with (conn, conn->tls_refusal
                      ? g_error_new (DP_ERROR, DP_ERROR_AUTH_FAILED,
                                     "TLS with %s refused: %s", conn->peer, conn->tls_refusal)
                      : g_error_new (DP_ERROR, DP_ERROR_AUTH_FAILED,
                                     "TLS handshake with %s failed: %s (a node refuses a "
                                     "certificate its cluster's CA did not issue, or one that "
                                     "expired: do both sides use the same cluster CA?)",
                                     conn->peer, error->message));
  else if (binding = g_byte_array_new (),
           !g_tls_connection_get_channel_binding_data (conn->tconn, DP_TLS_BINDING, binding, &error))
    close_with (conn, g_error_new (DP_ERROR, DP_ERROR_AUTH_FAILED,
                                   "TLS with %s: no channel binding: %s", conn->peer,
                                   error->message));
  else
    {
      conn->binding = g_byte_array_free_to_bytes (g_steal_pointer (&binding));
      _dp_mutex_lock (&conn->out_lock);
      conn->tls_wbuf = g_malloc (TLS_RECORD);
      conn->tin = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (G_IO_STREAM (conn->tconn)));
      conn->tout = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (G_IO_STREAM (conn->tconn)));
      g_mutex_unlock (&conn->out_lock);
      conn->fd_tag = g_source_add_unix_fd (conn->source, conn->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
      if (conn->role == DP_CONNECTION_CLIENT)
        send_client_proof (conn);
      read_again (conn);   /* the peer's proof may already be in the session */
    }
  g_clear_error (&error);
  _dp_connection_unref (conn);
}

/* After the HELLOs, both with the TLS flag: GIO's TLS over the socket,
 * which is not watched until the handshake is done. */
static void
tls_start (DpConnection *conn)
{
  GError *error = NULL;
  GTlsBackend *backend;
  GIOStream *tstream;

  DP_ASSERT_OWNER_CONTEXT (conn->context);
  g_source_remove_unix_fd (conn->source, conn->fd_tag);
  conn->fd_tag = NULL;
  /* No system CAs: only the cluster's, in tls_accept_certificate(). The
   * database is NULL from construction on: a connection made with the
   * default one (g_tls_client_connection_new() and the server's) parses
   * the whole system trust store as it is made (about 150 certificates:
   * 17 ms of CPU, 57 ms on AddressSanitizer's allocator) only to have it
   * replaced — on this thread, for every connection: a node dialling its
   * 63 peers of an RMPI job spent seconds in it, heartbeats waiting. */
  /* the session runs over the transport (reads ahead, batches writes:
   * dp-tls-transport.c), which runs over the socket */
  conn->ttransport = _dp_tls_transport_new (G_IO_STREAM (conn->sconn));
  backend = g_tls_backend_get_default ();
  if (conn->role == DP_CONNECTION_SERVER)
    tstream = g_initable_new (g_tls_backend_get_server_connection_type (backend), NULL, &error,
                              "base-io-stream", conn->ttransport,
                              "certificate", _dp_tls_get_certificate (conn->tls),
                              "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED,
                              "database", NULL, NULL);
  else
    tstream = g_initable_new (g_tls_backend_get_client_connection_type (backend), NULL, &error,
                              "base-io-stream", conn->ttransport,
                              "certificate", _dp_tls_get_certificate (conn->tls),
                              "database", NULL, NULL);
  if (tstream == NULL)
    {
      close_with (conn, g_error_new (DP_ERROR, DP_ERROR_AUTH_FAILED,
                                     "cannot speak TLS with %s: %s (is glib-networking "
                                     "installed?)", conn->peer, error->message));
      g_error_free (error);
      return;
    }
  conn->tconn = G_TLS_CONNECTION (tstream);
  /* the frames say where a stream ends; the socket is closed, not TLS */
  g_tls_connection_set_require_close_notify (conn->tconn, FALSE);
  g_signal_connect (conn->tconn, "accept-certificate", G_CALLBACK (tls_accept_certificate), conn);
  conn->tls_cancel = g_cancellable_new ();
  g_tls_connection_handshake_async (conn->tconn, G_PRIORITY_DEFAULT, conn->tls_cancel,
                                    tls_handshake_done, _dp_connection_ref (conn));
}

/* Returns the number of bytes used, or 0 when more are needed; closes the
 * connection on a failed handshake. */
static gsize
handle_handshake (DpConnection *conn,
                  const guint8 *data,
                  gsize         len)
{
  GError *error = NULL;

  if (!conn->got_hello)
    {
      if (len < DP_HELLO_LEN)
        return 0;
      if (!_dp_wire_hello_parse (data, conn->peer_nonce, &error))
        {
          g_prefix_error (&error, "handshake with %s: ", conn->peer);
          close_with (conn, error);
          return 0;
        }
      conn->got_hello = TRUE;
      g_atomic_int_set (&conn->peer_max_frame, (guint) _dp_wire_hello_get_max_frame (data));
      if (!tls_agree (conn, _dp_wire_hello_get_flags (data)))
        return 0;
      if (conn->tls)
        tls_start (conn);   /* the client's proof follows the TLS handshake */
      else if (conn->role == DP_CONNECTION_CLIENT)
        send_client_proof (conn);
      return DP_HELLO_LEN;
    }

  if (len < DP_AUTH_LEN)
    return 0;

  if (conn->role == DP_CONNECTION_CLIENT && _dp_wire_refusal_match (data, DP_AUTH_LEN))
    {
      close_refused (conn);
      return 0;
    }
  if (conn->role == DP_CONNECTION_SERVER)
    {
      guint8 proof[DP_AUTH_LEN];

      if (!_dp_wire_auth_verify_bound (conn->secret, 'C', conn->own_nonce, conn->peer_nonce,
                                       conn->binding, data))
        {
          refuse (conn);
          return 0;
        }
      _dp_wire_auth_compute_bound (conn->secret, 'S', conn->peer_nonce, conn->own_nonce,
                                   conn->binding, proof);
      send_raw (conn, proof, sizeof proof);
    }
  else if (!_dp_wire_auth_verify_bound (conn->secret, 'S', conn->own_nonce, conn->peer_nonce,
                                        conn->binding, data))
    {
      refuse (conn);
      return 0;
    }
  become_ready (conn);
  return DP_AUTH_LEN;
}

static void
process_input (DpConnection *conn)
{
  gsize pos = 0;
  /* Only a buffer that holds many frames (a stream) is shared by their
   * payloads: a message that is kept for long keeps its whole buffer alive
   * (at most READ_CHUNK plus a partial frame), so a frame or two (a request,
   * a reply) is copied instead. */
  conn->in_share = conn->in_len >= SHARE_MIN;

  while (conn->state != STATE_CLOSED)
    {
      gsize avail = conn->in_len - pos;
      DpFrameHeader h;
      GError *error = NULL;
      gsize total;

      if (conn->state == STATE_HANDSHAKE)
        {
          gsize used;

          if (conn->tconn && conn->tin == NULL)
            break;   /* the TLS handshake runs */
          used = handle_handshake (conn, conn->in + pos, avail);
          if (used == 0)
            break;
          pos += used;
          continue;
        }

      if (!conn->got_frame && conn->role == DP_CONNECTION_SERVER)
        {
          /* a client that found our proof wrong sends REFUSED instead */
          if (_dp_wire_refusal_match (conn->in + pos, avail))
            {
              if (avail >= DP_REFUSAL_LEN)
                close_refused (conn);
              break;
            }
          conn->got_frame = TRUE;
        }
      if (avail < DP_FRAME_HEADER_LEN)
        break;
      _dp_frame_header_unpack (conn->in + pos, &h);
      if (!_dp_frame_header_check (&h, conn->max_frame, &error))
        {
          g_prefix_error (&error, "bad frame from %s: ", conn->peer);
          if (flush_batch (conn))
            close_with (conn, error);
          else
            g_clear_error (&error);
          return;
        }
      total = DP_FRAME_HEADER_LEN + h.body_len;

      if (h.body_len > BIG_FRAME)
        {
          gsize have = MIN (avail - DP_FRAME_HEADER_LEN, h.body_len);
          g_autoptr(GBytes) body = NULL;

          big_begin (conn, &h, conn->in + pos + DP_FRAME_HEADER_LEN, have);
          pos += DP_FRAME_HEADER_LEN + have;
          body = big_take (conn);
          if (body != NULL)
            {
              if (!dispatch_frame (conn, &h, g_bytes_get_data (body, NULL), body))
                return;
              continue;
            }
          break;
        }

      if (avail < total)
        break;
      if (!dispatch_frame (conn, &h, conn->in + pos + DP_FRAME_HEADER_LEN, NULL))
        return;
      pos += total;
    }

  if (!flush_batch (conn))
    return;
  if (conn->in_bytes)
    {
      /* payloads use this buffer now: what is left goes to a new one,
       * one they gave back if there is one (a fresh one costs a page
       * fault per 4 KiB) */
      gsize cap = 0;
      guint8 *in = big_pool_take (conn->in_pool, &cap);

      if (in == NULL || cap < conn->in_cap)
        in = g_realloc (in, conn->in_cap);
      else
        conn->in_cap = cap;
      conn->in_pool_used = TRUE;
      memcpy (in, conn->in + pos, conn->in_len - pos);
      g_clear_pointer (&conn->in_bytes, g_bytes_unref);
      conn->in = in;
      conn->in_len -= pos;
    }
  else if (pos > 0)
    {
      memmove (conn->in, conn->in + pos, conn->in_len - pos);
      conn->in_len -= pos;
    }
}

/* While the router handles what it read, the frames it sends on this
 * connection in answer (a place started, a PONG, a message for a place
 * that has ended sent back) are queued, and written together when it is
 * done: one system call for a batch of requests instead of one each. */
static void
cork (DpConnection *conn)
{
  DP_ASSERT_OWNER_CONTEXT (conn->context);
  _dp_mutex_lock (&conn->out_lock);
  conn->corked_by = g_thread_self ();
  conn->cork_queued = FALSE;
  g_mutex_unlock (&conn->out_lock);
}

static void
uncork (DpConnection *conn)
{
  _dp_mutex_lock (&conn->out_lock);
  conn->corked_by = NULL;
  if (conn->cork_queued && conn->out_ready && !conn->writing && !conn->want_out)
    flush_locked (conn);
  conn->cork_queued = FALSE;
  g_mutex_unlock (&conn->out_lock);
}

static void handle_input_rounds (DpConnection *conn);

static void
handle_input (DpConnection *conn)
{
  cork (conn);
  handle_input_rounds (conn);
  uncork (conn);
}

static void
handle_input_rounds (DpConnection *conn)
{
  /* Read a bounded amount per dispatch, so one busy peer cannot starve the
   * others on the same router. */
  for (int round = 0; round < 8 && conn->state != STATE_CLOSED; round++)
    {
      gssize n;

      if (input_stalled (conn))
        return;
      if (conn->tconn && conn->tin == NULL)
        return;   /* the TLS handshake reads the socket now */

      if (conn->big)
        {
          gsize room = big_room (conn);

          n = conn_read (conn, conn->big_buf + conn->big_have, room);
          if (n > 0)
            {
              g_autoptr(GBytes) body = NULL;

              conn->last_seen_us = g_get_monotonic_time ();
              conn->big_have += (gsize) n;
              body = big_take (conn);
              if (body != NULL)
                {
                  DpFrameHeader h = conn->big_h;
                  /* a DATA frame joins the batch: hand it over now, as
                   * process_input() does at its end — otherwise it waits
                   * for the next frame to arrive (a heartbeat, or never) */
                  if (!dispatch_frame (conn, &h, g_bytes_get_data (body, NULL), body) ||
                      !flush_batch (conn))
                    return;
                }
              /* less than there was room for: the socket is empty (the
               * poll, level-triggered, reports what comes next), so no
               * read that would only say EAGAIN; see TLS_MORE() */
              if ((gsize) n < room && !TLS_MORE (conn, n))
                return;
              continue;
            }
        }
      else
        {
          if (conn->in_cap - conn->in_len < READ_CHUNK / 2)
            {
              conn->in_cap = MAX (conn->in_cap * 2, conn->in_len + READ_CHUNK);
              conn->in = g_realloc (conn->in, conn->in_cap);
            }
          gsize room = conn->in_cap - conn->in_len;

          /* a side that will speak TLS reads the HELLO and not a byte
           * more: what follows it is the TLS handshake's */
          if (conn->tls && !conn->got_hello)
            room = MIN (room, DP_HELLO_LEN - conn->in_len);
          n = conn_read (conn, conn->in + conn->in_len, room);
          if (n > 0)
            {
              conn->last_seen_us = g_get_monotonic_time ();
              conn->in_len += (gsize) n;
              process_input (conn);
              if ((gsize) n < room && !TLS_MORE (conn, n))
                return;
              /* a frame header may have announced a big frame */
              continue;
            }
        }

      if (n <= 0 && conn->tin && conn->state == STATE_HANDSHAKE && conn->role == DP_CONNECTION_CLIENT &&
          (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)))
        {
          /* TLS 1.3: the client's handshake ends before the server has
           * checked the client's certificate */
          close_with (conn, g_error_new (DP_ERROR, DP_ERROR_AUTH_FAILED,
                                         "TLS handshake with %s failed: it closed the "
                                         "connection (%s): it refused this side's certificate? "
                                         "(a node refuses a certificate its cluster's CA did not "
                                         "issue, or one that expired)", conn->peer,
                                         n == 0 ? "end of stream" : conn->io_error));
          return;
        }
      if (n == 0)
        {
          close_with (conn, g_error_new (DP_ERROR, DP_ERROR_CONNECTION_CLOSED,
                                         conn->state == STATE_HANDSHAKE
                                         ? "%s closed the connection during the handshake"
                                         : "%s closed the connection", conn->peer));
          return;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      /* a TLS record that fails its authentication (altered in flight) is
       * the peer's stream broken, not a connection that merely ended */
      close_with (conn, g_error_new (DP_ERROR, errno == EPROTO ? DP_ERROR_PROTOCOL
                                                               : DP_ERROR_CONNECTION_CLOSED,
                                     "reading from %s failed: %s", conn->peer,
                                     conn->tin && conn->io_error
                                     ? conn->io_error : g_strerror (errno)));
      return;
    }
  /* rounds used up: TLS may hold input the poll does not report */
  if (conn->tin && conn->state != STATE_CLOSED)
    read_again (conn);
}

/* ---- channel table ---- */

/* Both ends of a connection between two nodes open channels on it (the
 * mesh): the dialling side's ids count up from 1, the accepting side's
 * have the top bit set, so they never meet. */
#define SERVER_CHANNEL_BIT 0x80000000u

guint32
_dp_connection_alloc_channel (DpConnection *conn)
{
  guint32 id = (guint32) g_atomic_int_add (&conn->next_id, 1) & ~SERVER_CHANNEL_BIT;

  return conn->role == DP_CONNECTION_SERVER ? id | SERVER_CHANNEL_BIT : id;
}

void
_dp_connection_add_entry (DpConnection   *conn,
                          guint32         id,
                          DpChannelEntry *entry)
{
  g_mutex_lock (&conn->chan_lock);
  g_hash_table_replace (conn->channels, GUINT_TO_POINTER (id), entry);
  g_mutex_unlock (&conn->chan_lock);
}

DpChannelEntry *
_dp_connection_lookup (DpConnection *conn,
                       guint32       id)
{
  DpChannelEntry *e;

  g_mutex_lock (&conn->chan_lock);
  e = g_hash_table_lookup (conn->channels, GUINT_TO_POINTER (id));
  if (e)
    _dp_channel_entry_ref (e);
  g_mutex_unlock (&conn->chan_lock);
  return e;
}

DpChannelEntry *
_dp_connection_steal_entry (DpConnection *conn,
                            guint32       id)
{
  gpointer key, value = NULL;

  g_mutex_lock (&conn->chan_lock);
  if (!g_hash_table_steal_extended (conn->channels, GUINT_TO_POINTER (id), &key, &value))
    value = NULL;
  g_mutex_unlock (&conn->chan_lock);
  return value;
}

GPtrArray *
_dp_connection_steal_all_entries (DpConnection *conn)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) _dp_channel_entry_unref);
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&conn->chan_lock);
  g_hash_table_iter_init (&iter, conn->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_ptr_array_add (all, value);
      g_hash_table_iter_steal (&iter);
    }
  g_mutex_unlock (&conn->chan_lock);
  return all;
}

/* ---- entries ---- */

DpChannelEntry *
_dp_channel_entry_new (const DpChannelEntryClass *klass,
                       guint32                    id)
{
  DpChannelEntry *e = g_new0 (DpChannelEntry, 1);

  g_atomic_ref_count_init (&e->ref);
  e->klass = klass;
  e->id = id;
  g_weak_ref_init (&e->owner, NULL);
  return e;
}

gboolean
_dp_channel_entry_deliver (DpChannelEntry  *e,
                           DpConnection    *conn,
                           GVariant       **msgs,
                           guint            n)
{
  return _dp_place_channel_deliver_many (e->target, msgs, n, e->reply, conn);
}

DpChannelEntry *
_dp_channel_entry_ref (DpChannelEntry *e)
{
  g_atomic_ref_count_inc (&e->ref);
  return e;
}

void
_dp_channel_entry_unref (DpChannelEntry *e)
{
  if (!g_atomic_ref_count_dec (&e->ref))
    return;
  g_clear_object (&e->target);
  g_clear_object (&e->reply);
  g_clear_object (&e->place);
  g_weak_ref_clear (&e->owner);
  g_free (e);
}
