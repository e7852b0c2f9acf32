/* fuzz-connection.c: libFuzzer harness for the connection reader
 * (dp-connection.c): the handshake state machine and the frame stream
 *
 * A real DpConnection on one end of a socketpair, on a private
 * GMainContext, and the fuzzer's bytes written into the other end. The
 * first byte chooses how:
 *
 *   bit 0     the connection's role: 0 a node's (server), 1 a master's (client)
 *   bit 1     1: this side first completes the handshake with the shared
 *             secret and the nonce the connection sent, so that the rest
 *             reaches the frame reader; 0: the bytes are the handshake
 *   bits 2-4  how the bytes are written: all at once, or in pieces of 1 to
 *             509 bytes with the connection reading each before the next,
 *             so that frames are cut everywhere
 *   bit 5     1: the connection speaks TLS (credentials below): the HELLO's
 *             TLS flag is checked, and with bit 1 this side sends a HELLO
 *             with the flag, so that the rest is the TLS handshake's input
 *             (the TLS handshake entry: the ClientHello or ServerHello a
 *             peer sends, read by GIO's TLS backend)
 *
 * Then this side shuts its end for writing, and the context is iterated
 * until the connection has closed (the peer's EOF closes it, if nothing
 * did before). The handler counts what arrives and echoes DATA as the echo
 * place does, so that the writer serialises values loaded from the wire,
 * and closes the connection on DIE from inside the handler; what the
 * connection writes is read and dropped. Everything is freed
 * before the next input: LeakSanitizer sees a connection that is not.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Smaller than a node's default (256 MiB) so that a claimed length costs
 * the fuzzer little; frames over it are refused all the same. */
#define FUZZ_MAX_FRAME (1024 * 1024)
#define MAX_PIECES     64

enum {
  MODE_CLIENT       = 1 << 0,
  MODE_AUTHENTICATE = 1 << 1,
  MODE_TLS          = 1 << 5,
};

/* A CA and a certificate it issued (valid until 2056), made for the
 * fuzzer with dp-tls.so: test credentials, used nowhere else. */
static const char fuzz_ca[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBdDCCARmgAwIBAgIQV7DLMFynhamLuYuMtZ47qTAKBggqhkjOPQQDAjAYMRYw\n"
  "FAYDVQQDEw1saWJkcCBmdXp6IENBMB4XDTI2MTIwMTAxMDkyN1oXDTQ2MTEyNjAy\n"
  "MDkyN1owGDEWMBQGA1UEAxMNbGliZHAgZnV6eiBDQTBZMBMGByqGSM49AgEGCCqG\n"
  "SM49AwEHA0IABMvrfCeiEyZU/mmeEn+MzHkqHIJXYgiytG54qEdGrKVGtHdQySbB\n"
  "IhoLhViD54wGQPXwl+Ovo6dlTh7yTcjnodqjRTBDMB0GA1UdDgQWBBS1tpDBS2kf\n"
  "cBDXYHlG9aFznw8DzDASBgNVHRMBAf8ECDAGAQH/AgEAMA4GA1UdDwEB/wQEAwIB\n"
  "hjAKBggqhkjOPQQDAgNJADBGAiEAq65T5ygPjMKsHiYCoM3R/5N0UHCfPud77lhk\n"
  "kbvr9PgCIQD8R4K7u5HnSW9hhWK2pNx6CLWyccYfC7hpt/aUqOkxdw==\n"
  "-----END CERTIFICATE-----\n";
static const char fuzz_cert[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBsDCCAVegAwIBAgIQeVU+fq7qh9dx2nBjhM7MjjAKBggqhkjOPQQDAjAYMRYw\n"
  "FAYDVQQDEw1saWJkcCBmdXp6IENBMCAXDTI2MTEzMDAyMDkyN1oYDzIwNTYxMTIz\n"
  "MDIwOTI3WjAaMRgwFgYDVQQDEw9saWJkcCBmdXp6IG5vZGUwWTATBgcqhkjOPQIB\n"
  "BggqhkjOPQMBBwNCAAQ2+1VCBtovGo31QY4qsJ3PR+PSctyE9kF2/OSjVan4eojz\n"
  "PRQlv9aBIWxVQp3xyY8C8fD6TiKnYMNK0I6VEoMho38wfTAdBgNVHQ4EFgQUIxav\n"
  "qw5UaZnaRVr40r44rQwhnf4wHwYDVR0jBBgwFoAUtbaQwUtpH3AQ12B5RvWhc58P\n"
  "A8wwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0lBBYwFAYIKwYB\n"
  "BQUHAwEGCCsGAQUFBwMCMAoGCCqGSM49BAMCA0cAMEQCIFxnUI+z+bjsxI4Auf1D\n"
  "8Z4klQTicUrTd0iLSNFGbZz5AiABSA8IERXzGbuE8s/5deDgoySttmfiBFPWRYmn\n"
  "HN94TQ==\n"
  "-----END CERTIFICATE-----\n"
  "-----BEGIN PRIVATE KEY-----\n"
  "MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgTuJEjkJbssA8LwwZ\n"
  "hqRoZ3DflIaJW3B/VNT4seGZK86gCgYIKoZIzj0DAQehRANCAAQ2+1VCBtovGo31\n"
  "QY4qsJ3PR+PSctyE9kF2/OSjVan4eojzPRQlv9aBIWxVQp3xyY8C8fD6TiKnYMNK\n"
  "0I6VEoMh\n"
  "-----END PRIVATE KEY-----\n";
#define MODE_PIECE(mode) (((mode) >> 2) & 7)

static const gsize piece_sizes[8] = { 0, 1, 3, 8, 16, 47, 100, 509 };

typedef struct {
  gboolean ready;
  gboolean closed;
  guint    frames;
  guint    messages;
} Record;

static GMainContext *context;
static GBytes       *secret;
static DpTls        *tls;
static gboolean      verbose;   /* DP_FUZZ_VERBOSE: what each input did */

static void
on_ready (DpConnection *conn,
          gpointer      data)
{
  Record *rec = data;

  rec->ready = TRUE;
}

static void
on_frame (DpConnection        *conn,
          const DpFrameHeader *h,
          GVariant            *payload,
          gpointer             data)
{
  Record *rec = data;

  g_assert (_dp_frame_type_is_known (h->type));
  g_assert ((payload != NULL) == (h->sig_len > 0));
  rec->frames++;
  if (h->type == DP_FRAME_CLOSE)
    _dp_connection_send (conn, DP_FRAME_CLOSE, h->channel, 0, NULL);
  /* the owner closes the connection from inside its handler, as a node
   * does with a frame it does not take: the reader must stop there */
  if (h->type == DP_FRAME_DIE)
    _dp_connection_reject_frame (conn, h, "the fuzzer's masters");
}

static void
on_data (DpConnection  *conn,
         guint32        channel,
         GVariant     **msgs,
         guint          n,
         gpointer       data)
{
  Record *rec = data;

  g_assert (n > 0);
  for (guint i = 0; i < n; i++)
    {
      _dp_connection_send (conn, DP_FRAME_DATA, channel, 0, msgs[i]);
      g_variant_unref (msgs[i]);
    }
  rec->messages += n;
}

static void
on_closed (DpConnection *conn,
           const GError *reason,
           gpointer      data)
{
  Record *rec = data;

  g_assert (!rec->closed);
  rec->closed = TRUE;
  if (verbose)
    g_printerr ("ready %d, %u frames, %u messages, closed: %s\n", rec->ready,
                rec->frames, rec->messages, reason ? reason->message : "(no reason)");
}

static const DpConnectionHandler handler = {
  .ready = on_ready,
  .frame = on_frame,
  .closed = on_closed,
  .data = on_data,
};

static void
drain (int fd)
{
  guint8 buf[16 * 1024];

  while (recv (fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
    ;
}

/* Writes @len bytes to @fd, iterating the context while the socket is
 * full. FALSE when the connection closed before (or its end is gone). */
static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         len,
           Record       *rec)
{
  while (len > 0 && !rec->closed)
    {
      gssize n = send (fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n > 0)
        {
          data += n;
          len -= (gsize) n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return FALSE;
      drain (fd);
      g_main_context_iteration (context, TRUE);
    }
  return !rec->closed;
}

static void
read_hello (int     fd,
            guint8  nonce[DP_NONCE_LEN])
{
  guint8 hello[DP_HELLO_LEN];
  gsize have = 0;

  /* written by _dp_connection_start() itself, into an empty socket */
  while (have < sizeof hello)
    {
      gssize n = recv (fd, hello + have, sizeof hello - have, MSG_DONTWAIT);
      g_assert (n > 0);
      have += (gsize) n;
    }
  g_assert (_dp_wire_hello_parse (hello, nonce, NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const guint8 own_nonce[DP_NONCE_LEN] = "the fuzzer's nonce, 32 bytes...";
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(GSocketConnection) sconn = NULL;
  DpConnection *conn;
  Record rec = { 0 };
  guint8 mode;
  gsize piece;
  int fds[2];

  if (context == NULL)
    {
      fuzz_init_logging ();
      context = g_main_context_new ();
      g_main_context_push_thread_default (context);
      secret = fuzz_secret ();
      tls = _dp_tls_new_from_pem (fuzz_cert, fuzz_ca, NULL);
      g_assert (tls != NULL);
      verbose = g_getenv ("DP_FUZZ_VERBOSE") != NULL;
    }
  if (size == 0)
    return 0;
  mode = data[0];
  piece = piece_sizes[MODE_PIECE (mode)];
  data++;
  size--;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    g_error ("socketpair: %s", g_strerror (errno));
  sock = g_socket_new_from_fd (fds[0], NULL);
  g_assert (sock != NULL);
  sconn = g_socket_connection_factory_create_connection (sock);
  conn = _dp_connection_new (sconn,
                             (mode & MODE_CLIENT) ? DP_CONNECTION_CLIENT : DP_CONNECTION_SERVER,
                             secret, "the fuzzer's secret", FUZZ_MAX_FRAME, context,
                             &handler, &rec);
  if (mode & MODE_TLS)
    _dp_connection_set_tls (conn, tls);
  _dp_connection_start (conn);

  if ((mode & MODE_AUTHENTICATE) && (mode & MODE_TLS))
    {
      guint8 conn_nonce[DP_NONCE_LEN];
      guint8 hello[DP_HELLO_LEN];

      /* a HELLO that agrees: what follows goes to the TLS handshake */
      read_hello (fds[1], conn_nonce);
      _dp_wire_hello_build (hello, own_nonce);
      _dp_wire_hello_set_flags (hello, DP_HELLO_FLAG_TLS);
      write_all (fds[1], hello, sizeof hello, &rec);
    }
  else if (mode & MODE_AUTHENTICATE)
    {
      guint8 conn_nonce[DP_NONCE_LEN];
      guint8 hello[DP_HELLO_LEN];
      guint8 proof[DP_AUTH_LEN];

      /* this side's proof is over the connection's nonce: as a client's
       * to a server, as a server's to a client */
      read_hello (fds[1], conn_nonce);
      _dp_wire_hello_build (hello, own_nonce);
      _dp_wire_auth_compute (secret, (mode & MODE_CLIENT) ? 'S' : 'C',
                             conn_nonce, own_nonce, proof);
      if (write_all (fds[1], hello, sizeof hello, &rec) &&
          write_all (fds[1], proof, sizeof proof, &rec))
        while (!rec.ready && !rec.closed)
          g_main_context_iteration (context, TRUE);
      g_assert (rec.ready);
    }

  if (piece == 0)
    write_all (fds[1], data, size, &rec);
  else
    {
      guint pieces = 0;

      while (size > 0 && !rec.closed)
        {
          gsize n = (++pieces < MAX_PIECES) ? MIN (piece, size) : size;

          if (!write_all (fds[1], data, n, &rec))
            break;
          data += n;
          size -= n;
          while (g_main_context_iteration (context, FALSE))
            ;
        }
    }

  shutdown (fds[1], SHUT_WR);
  while (!rec.closed)
    {
      drain (fds[1]);
      g_main_context_iteration (context, TRUE);
    }
  /* what the connection left to run (calls it queued for itself) */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_assert (!_dp_connection_is_open (conn));
  _dp_connection_unref (conn);
  close (fds[1]);
  return 0;
}

/* ---- seeds ---- */

static GVariant *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = g_variant_parse (NULL, text, NULL, NULL, &error);

  g_assert_no_error (error);
  return v;
}

static void
write_seed (const char *dir,
            const char *name,
            guint8      mode,
            GBytes     *bytes)
{
  fuzz_write_seed (dir, name, &mode, 1, bytes);
}

void
fuzz_make_seeds (const char *dir)
{
  static const guint8 nonce[DP_NONCE_LEN] = "the seed's nonce, 32 bytes long";
  guint8 hello[DP_HELLO_LEN];
  guint8 proof[DP_AUTH_LEN];
  guint8 refused[DP_REFUSAL_LEN];
  GVariantBuilder b;
  guint8 auth = MODE_AUTHENTICATE;

  /* the handshake from the start: a hello and a (wrong) proof, REFUSED */
  _dp_wire_hello_build (hello, nonce);
  memset (proof, 0x42, sizeof proof);
  _dp_wire_refusal_build (refused);
  write_seed (dir, "server-hello-proof", 0,
              fuzz_concat (g_bytes_new (hello, sizeof hello), g_bytes_new (proof, sizeof proof), NULL));
  write_seed (dir, "client-hello-refused", MODE_CLIENT,
              fuzz_concat (g_bytes_new (hello, sizeof hello), g_bytes_new (refused, sizeof refused), NULL));
  write_seed (dir, "server-hello-pieces", 3 << 2, g_bytes_new (hello, sizeof hello));

  /* after the handshake: REFUSED where a server reads its first frame */
  write_seed (dir, "server-refused", auth, g_bytes_new (refused, sizeof refused));

  /* frames */
  write_seed (dir, "server-ping-close", auth,
              fuzz_concat (fuzz_frame (DP_FRAME_PING, 0, 1, NULL),
                           fuzz_frame (DP_FRAME_SET_OWNER, 0, 0, NULL),
                           fuzz_frame (DP_FRAME_CLOSE, 3, 0, NULL),
                           fuzz_frame (DP_FRAME_DIE, 0, 0, NULL), NULL));
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string ("place"));
  g_variant_builder_add (&b, "{sv}", "plugin", g_variant_new_string ("echo"));
  g_variant_builder_add (&b, "{sv}", "symbol", g_variant_new_string ("echo"));
  write_seed (dir, "server-new-place-data", auth,
              fuzz_concat (fuzz_frame (DP_FRAME_NEW_PLACE, 1, 0, g_variant_builder_end (&b)),
                           fuzz_frame (DP_FRAME_DATA, 1, 0, g_variant_new_string ("Hello")),
                           fuzz_frame (DP_FRAME_DATA, 1, 0, parse ("(1, 'two', [3, 4], {'k': <5>})")),
                           fuzz_frame (DP_FRAME_DATA, 2, 0, parse ("@ay [1, 2, 3]")),
                           fuzz_frame (DP_FRAME_DATA, 2, 7, parse ("<<(true, @o '/p')>>")),
                           fuzz_frame (DP_FRAME_CLOSE, 1, 0, NULL), NULL));
  /* more DATA on one channel than the reader answers before it batches
   * its writes (the echoes) */
  write_seed (dir, "server-data-stream", auth | (7 << 2),
              fuzz_concat (fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (1)),
                           fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (2)),
                           fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (3)),
                           fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (4)),
                           fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (5)),
                           fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (6)),
                           fuzz_frame (DP_FRAME_DATA, 6, 0, g_variant_new_int32 (7)), NULL));
  /* the handler closes the connection between two batches */
  write_seed (dir, "server-die-in-stream", auth,
              fuzz_concat (fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (1)),
                           fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (2)),
                           fuzz_frame (DP_FRAME_DIE, 0, 0, NULL),
                           fuzz_frame (DP_FRAME_DATA, 5, 0, g_variant_new_int32 (3)), NULL));
  write_seed (dir, "client-replies", MODE_CLIENT | auth | (2 << 2),
              fuzz_concat (fuzz_frame (DP_FRAME_PLACE_STARTED, 1, 0, NULL),
                           fuzz_frame (DP_FRAME_DATA, 1, 0, g_variant_new_string ("Hello World")),
                           fuzz_frame (DP_FRAME_LOG, 0, 0,
                                       parse ("('info', 'a message', {'place': <'echo'>})")),
                           fuzz_frame (DP_FRAME_PLACE_DIED, 1, 0, parse ("(@u 0, '', @av [])")),
                           fuzz_frame (DP_FRAME_PLACE_FAILED, 2, 0, parse ("(@u 4, 'no such symbol')")),
                           fuzz_frame (DP_FRAME_BOUNCE, 3, 0, g_variant_new_int32 (5)),
                           fuzz_frame (DP_FRAME_PONG, 0, 1, NULL), NULL));
  write_seed (dir, "client-new-node", MODE_CLIENT | auth,
              fuzz_frame (DP_FRAME_NEW_NODE, 0, 0, parse ("('127.0.0.1', @q 6340)")));
  /* frames over 64 KiB get a buffer of their own: the start of one, in
   * pieces, and one over this harness's maximum */
  write_seed (dir, "server-big-frame", auth | (7 << 2),
              fuzz_frame_partial (DP_FRAME_DATA, 100000, 600));
  write_seed (dir, "server-too-big", auth, fuzz_frame_partial (DP_FRAME_DATA, FUZZ_MAX_FRAME, 8));
}
