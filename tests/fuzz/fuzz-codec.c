/* fuzz-codec.c: libFuzzer harness for the wire codec (dp-wire.c)
 *
 * The input is read as the frame reader reads a stream of frames, with the
 * functions it calls: each header unpacked and checked against the default
 * maximum frame size, its type string checked, its payload loaded as
 * untrusted GVariant and checked to be in normal form — half of them from
 * a slice of the input (shared, possibly unaligned, as a stream's payloads
 * are), half from a copy (as a lone frame's is). The stream ends where the
 * reader would close the connection or wait for more. Each payload is then
 * read as the node reads it (the fields of a request, a log record, a
 * death notice) and printed, which visits every value in it.
 *
 * The same bytes are also read as the handshake's messages: a hello, a
 * proof, REFUSED.
 *
 * What must hold, besides no crash, leak or undefined behaviour: a header
 * packs back to the bytes it came from, and a payload that loads gives
 * back the very bytes it was loaded from (what was sent arrives equal).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include <string.h>

static void
read_payload (const DpFrameHeader *h,
              GVariant            *payload)
{
  g_autofree char *text = g_variant_print (payload, TRUE);

  g_assert (text != NULL);
  switch (h->type)
    {
    case DP_FRAME_NEW_PLACE:
      if (g_variant_is_of_type (payload, G_VARIANT_TYPE_VARDICT))
        {
          static const char * const keys[] = { "kind", "plugin", "symbol", "name" };
          for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
            {
              const char *s = NULL;
              if (g_variant_lookup (payload, keys[i], "&s", &s))
                g_assert (s != NULL && g_utf8_validate (s, -1, NULL));
            }
        }
      break;
    case DP_FRAME_PLACE_DIED:
      if (g_variant_is_of_type (payload, G_VARIANT_TYPE ("(usav)")))
        {
          g_autoptr(GVariantIter) iter = NULL;
          GVariant *msg;
          guint32 exit;
          const char *detail;

          g_variant_get (payload, "(u&sav)", &exit, &detail, &iter);
          while (g_variant_iter_loop (iter, "v", &msg))
            g_assert (g_variant_is_normal_form (msg));
        }
      break;
    case DP_FRAME_PLACE_FAILED:
      if (g_variant_is_of_type (payload, G_VARIANT_TYPE ("(us)")))
        {
          guint32 code;
          const char *message;
          g_autoptr(GError) error = NULL;

          g_variant_get (payload, "(u&s)", &code, &message);
          error = _dp_error_from_remote (code, message);
        }
      break;
    case DP_FRAME_LOG:
      if (g_variant_is_of_type (payload, G_VARIANT_TYPE ("(ssa{sv})")))
        {
          g_autoptr(GVariant) fields = NULL;
          g_autoptr(GVariant) place = NULL;
          const char *severity, *message;

          g_variant_get (payload, "(&s&s@a{sv})", &severity, &message, &fields);
          (void) _dp_severity_to_level (severity);
          place = g_variant_lookup_value (fields, "place", G_VARIANT_TYPE_STRING);
        }
      break;
    case DP_FRAME_NEW_NODE:
      if (g_variant_is_of_type (payload, G_VARIANT_TYPE ("(sq)")))
        {
          const char *host;
          guint16 port;
          g_variant_get (payload, "(&sq)", &host, &port);
        }
      break;
    default:
      break;
    }
}

/* The payload of a frame whose header passed the check, loaded as
 * dp-connection.c's decode_body() loads it, or NULL where the reader
 * closes the connection. */
static GVariant *
load_payload (const DpFrameHeader *h,
              const guint8        *body,
              GBytes              *stream,
              gsize                body_off,
              gboolean             shared)
{
  gsize off = _dp_frame_sig_padded (h->sig_len);
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GError) error = NULL;
  GVariant *payload;

  if (shared)
    {
      g_autofree char *type_string = NULL;

      if (!_dp_wire_check_type ((const char *) body, h->sig_len, &error))
        return NULL;
      type_string = g_strndup ((const char *) body, h->sig_len);
      data = g_bytes_new_from_bytes (stream, body_off + off, h->body_len - off);
      payload = _dp_wire_load_payload (G_VARIANT_TYPE (type_string), data, &error);
    }
  else
    {
      data = g_bytes_new (body + off, h->body_len - off);
      payload = _dp_wire_decode_payload ((const char *) body, h->sig_len, data, &error);
    }
  if (payload == NULL)
    {
      g_assert (error != NULL && error->domain == DP_ERROR);
      return NULL;
    }
  g_assert (!g_variant_is_floating (payload));
  /* what the codec accepts (and may load as trusted) GVariant's own check
   * finds in normal form too (up to the size the codec checks) */
  if (h->body_len - off <= 1024 * 1024)
    {
      g_autoptr(GVariant) copy =
        g_variant_ref_sink (g_variant_new_from_bytes (g_variant_get_type (payload), data, FALSE));
      g_assert (g_variant_is_normal_form (copy));
    }
  /* what was sent arrives equal: the value serialises to the same bytes */
  g_assert_cmpuint (g_variant_get_size (payload), ==, h->body_len - off);
  if (h->body_len > off)
    g_assert (memcmp (g_variant_get_data (payload), body + off, h->body_len - off) == 0);
  return payload;
}

static void
read_frames (const guint8 *data,
             gsize         size)
{
  g_autoptr(GBytes) stream = g_bytes_new_static (data, size);
  gsize pos = 0;

  for (guint n = 0; size - pos >= DP_FRAME_HEADER_LEN; n++)
    {
      DpFrameHeader h;
      guint8 packed[DP_FRAME_HEADER_LEN];
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) payload = NULL;
      const guint8 *body = data + pos + DP_FRAME_HEADER_LEN;

      _dp_frame_header_unpack (data + pos, &h);
      _dp_frame_header_pack (&h, packed);
      g_assert (memcmp (packed, data + pos, DP_FRAME_HEADER_LEN) == 0);
      if (!_dp_frame_header_check (&h, DP_DEFAULT_MAX_FRAME_SIZE, &error))
        {
          g_assert (error != NULL);
          return;                                   /* the reader closes */
        }
      g_assert (_dp_frame_type_is_known (h.type));
      if (h.body_len > size - pos - DP_FRAME_HEADER_LEN)
        return;                                     /* the reader waits for more */
      if (h.sig_len > 0)
        {
          payload = load_payload (&h, body, stream, pos + DP_FRAME_HEADER_LEN, n % 2 == 1);
          if (payload == NULL)
            return;                                 /* the reader closes */
          read_payload (&h, payload);
        }
      pos += DP_FRAME_HEADER_LEN + h.body_len;
    }
}

static void
read_handshake (const guint8 *data,
                gsize         size)
{
  static const guint8 own_nonce[DP_NONCE_LEN] = "a nonce of this side, 32 bytes.";
  g_autoptr(GBytes) secret = fuzz_secret ();
  guint8 peer_nonce[DP_NONCE_LEN] = { 0 };
  g_autoptr(GError) error = NULL;

  if (size >= DP_HELLO_LEN)
    {
      if (_dp_wire_hello_parse (data, peer_nonce, &error))
        g_assert (memcmp (peer_nonce, data + DP_HELLO_LEN - DP_NONCE_LEN, DP_NONCE_LEN) == 0);
      else
        g_assert (error != NULL && error->domain == DP_ERROR);
    }
  if (_dp_wire_refusal_match (data, MIN (size, (gsize) DP_REFUSAL_LEN)) && size >= DP_REFUSAL_LEN)
    g_assert (memcmp (data, "\x89" "DPL", 4) == 0);
  if (size >= DP_HELLO_LEN + DP_AUTH_LEN)
    {
      /* the proof after the hello, checked as either side checks it */
      (void) _dp_wire_auth_verify (secret, 'C', own_nonce, peer_nonce, data + DP_HELLO_LEN);
      (void) _dp_wire_auth_verify (secret, 'S', own_nonce, peer_nonce, data + DP_HELLO_LEN);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  fuzz_init_logging ();
  read_handshake (data, size);
  read_frames (data, size);
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

static GVariant *
place_request (const char *kind,
               const char *plugin,
               const char *symbol,
               const char *name)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string (kind));
  if (plugin)
    g_variant_builder_add (&b, "{sv}", "plugin", g_variant_new_string (plugin));
  if (symbol)
    g_variant_builder_add (&b, "{sv}", "symbol", g_variant_new_string (symbol));
  if (name)
    g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  return g_variant_builder_end (&b);
}

void
fuzz_make_seeds (const char *dir)
{
  static const guint8 nonce[DP_NONCE_LEN] = "the seed's nonce, 32 bytes long";
  guint8 hello[DP_HELLO_LEN];
  guint8 proof[DP_AUTH_LEN];
  guint8 refused[DP_REFUSAL_LEN];
  g_autoptr(GBytes) secret = fuzz_secret ();

  /* the handshake's messages */
  _dp_wire_hello_build (hello, nonce);
  _dp_wire_auth_compute (secret, 'C', nonce, nonce, proof);
  _dp_wire_refusal_build (refused);
  fuzz_write_seed (dir, "hello-auth", hello, sizeof hello, g_bytes_new (proof, sizeof proof));
  fuzz_write_seed (dir, "refused", NULL, 0, g_bytes_new (refused, sizeof refused));

  /* frames without a payload */
  fuzz_write_seed (dir, "ping-pong", NULL, 0,
                   fuzz_concat (fuzz_frame (DP_FRAME_PING, 0, 1, NULL),
                                fuzz_frame (DP_FRAME_PONG, 0, 1, NULL),
                                fuzz_frame (DP_FRAME_SET_OWNER, 0, 0, NULL),
                                fuzz_frame (DP_FRAME_PLACE_STARTED, 3, 0, NULL),
                                fuzz_frame (DP_FRAME_CLOSE, 3, 0, NULL),
                                fuzz_frame (DP_FRAME_DIE, 0, 0, NULL), NULL));

  /* DATA of various types, in one stream */
  fuzz_write_seed (dir, "data-basic", NULL, 0,
                   fuzz_concat (fuzz_frame (DP_FRAME_DATA, 1, 0, g_variant_new_string ("Hello")),
                                fuzz_frame (DP_FRAME_DATA, 1, 0, g_variant_new_int32 (-7)),
                                fuzz_frame (DP_FRAME_DATA, 1, 0, g_variant_new_double (0.5)),
                                fuzz_frame (DP_FRAME_DATA, 2, 0, g_variant_new_boolean (TRUE)),
                                fuzz_frame (DP_FRAME_DATA, 2, 0, parse ("@ay [1, 2, 3]")), NULL));
  fuzz_write_seed (dir, "data-containers", NULL, 0,
                   fuzz_concat (fuzz_frame (DP_FRAME_DATA, 1, 0,
                                            parse ("(1, 'two', [3, 4], {'k': <5>})")),
                                fuzz_frame (DP_FRAME_DATA, 1, 0, parse ("[(1, 'a'), (2, '')]")),
                                fuzz_frame (DP_FRAME_DATA, 1, 0, parse ("@mms just just 'm'")),
                                fuzz_frame (DP_FRAME_DATA, 1, 0, parse ("<<(true, @o '/p', @g 'a{sv}')>>")),
                                fuzz_frame (DP_FRAME_DATA, 1, 0,
                                            parse ("{'x': (int64 -1, uint64 2, @h 3, byte 4)}")), NULL));
  fuzz_write_seed (dir, "data-bytes", NULL, 0,
                   fuzz_frame (DP_FRAME_DATA, 9, 0, parse ("(@aay [[1], [2, 3]], @aas [['a'], []])")));

  /* the control frames with their payloads */
  fuzz_write_seed (dir, "new-place", NULL, 0,
                   fuzz_concat (fuzz_frame (DP_FRAME_NEW_PLACE, 1, 0,
                                            place_request ("place", "echo", "echo", NULL)),
                                fuzz_frame (DP_FRAME_NEW_PLACE, 2, 0,
                                            place_request ("connect", NULL, NULL, "bank")), NULL));
  fuzz_write_seed (dir, "place-died", NULL, 0,
                   fuzz_frame (DP_FRAME_PLACE_DIED, 1, 0,
                               parse ("(@u 2, 'crashed: signal 11', [<'unread'>, <@u 7>])")));
  fuzz_write_seed (dir, "place-failed", NULL, 0,
                   fuzz_frame (DP_FRAME_PLACE_FAILED, 1, 0, parse ("(@u 4, 'no such symbol')")));
  fuzz_write_seed (dir, "log", NULL, 0,
                   fuzz_frame (DP_FRAME_LOG, 0, 0,
                               parse ("('warning', 'a message', {'place': <'echo'>})")));
  fuzz_write_seed (dir, "new-node-bounce", NULL, 0,
                   fuzz_concat (fuzz_frame (DP_FRAME_NEW_NODE, 0, 0, parse ("('127.0.0.1', @q 6340)")),
                                fuzz_frame (DP_FRAME_BOUNCE, 4, 0, g_variant_new_string ("back")), NULL));

  /* a frame over 64 KiB (the reader's own buffer), of which the start */
  fuzz_write_seed (dir, "big-frame-start", NULL, 0, fuzz_frame_partial (DP_FRAME_DATA, 100000, 64));
}
