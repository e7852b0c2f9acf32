/* dp-wire.c: the wire codec — frame headers, payloads, handshake
 *
 * A frame is a 16-byte header followed by a body:
 *
 *   u32 body_len | u8 type | u8 flags | u16 sig_len | u32 channel | u32 arg
 *   body: GVariant type string (sig_len bytes), zero padding to a multiple
 *         of 8, then the GVariant's own serialised data.
 *
 * All integers are big-endian. The padding keeps the data 8-aligned inside a
 * freshly allocated body so that it is loaded without a copy.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dp-private.h"

#include <string.h>

/* Payloads up to this size are checked to be in normal form; larger ones
 * are loaded as untrusted data, which GVariant reads safely whatever the
 * bytes (out-of-range offsets read as defaults), without an O(n) scan. */
#define DP_NORMAL_FORM_CHECK_MAX (1024 * 1024)

void
_dp_frame_header_pack (const DpFrameHeader *h,
                       guint8               out[DP_FRAME_HEADER_LEN])
{
  guint32 be32;
  guint16 be16;

  be32 = GUINT32_TO_BE (h->body_len);
  memcpy (out, &be32, 4);
  out[4] = h->type;
  out[5] = h->flags;
  be16 = GUINT16_TO_BE (h->sig_len);
  memcpy (out + 6, &be16, 2);
  be32 = GUINT32_TO_BE (h->channel);
  memcpy (out + 8, &be32, 4);
  be32 = GUINT32_TO_BE (h->arg);
  memcpy (out + 12, &be32, 4);
}

void
_dp_frame_header_unpack (const guint8   in[DP_FRAME_HEADER_LEN],
                         DpFrameHeader *h)
{
  guint32 be32;
  guint16 be16;

  memcpy (&be32, in, 4);
  h->body_len = GUINT32_FROM_BE (be32);
  h->type = in[4];
  h->flags = in[5];
  memcpy (&be16, in + 6, 2);
  h->sig_len = GUINT16_FROM_BE (be16);
  memcpy (&be32, in + 8, 4);
  h->channel = GUINT32_FROM_BE (be32);
  memcpy (&be32, in + 12, 4);
  h->arg = GUINT32_FROM_BE (be32);
}

gsize
_dp_frame_sig_padded (gsize sig_len)
{
  return (sig_len + 7) & ~(gsize) 7;
}

gboolean
_dp_frame_type_is_known (guint8 type)
{
  switch (type)
    {
    case DP_FRAME_DIE:
    case DP_FRAME_DATA:
    case DP_FRAME_PLACE_DIED:
    case DP_FRAME_LOG:
    case DP_FRAME_NEW_PLACE:
    case DP_FRAME_PLACE_FAILED:
    case DP_FRAME_SET_OWNER:
    case DP_FRAME_PLACE_STARTED:
    case DP_FRAME_CLOSE:
    case DP_FRAME_BOUNCE:
    case DP_FRAME_PING:
    case DP_FRAME_PONG:
    case DP_FRAME_NEW_NODE:
    case DP_FRAME_PEER_HELLO:
    case DP_FRAME_EXPORT:
    case DP_FRAME_EXPORTED:
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
_dp_frame_header_check (const DpFrameHeader *h,
                        gsize                max_frame,
                        GError             **error)
{
  if (!_dp_frame_type_is_known (h->type))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "unknown frame type %u", h->type);
      return FALSE;
    }
  if ((gsize) h->body_len + DP_FRAME_HEADER_LEN > max_frame)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_FRAME_TOO_LARGE,
                   "frame of %" G_GUINT32_FORMAT " bytes is over the maximum of %"
                   G_GSIZE_FORMAT, h->body_len, max_frame);
      return FALSE;
    }
  if (_dp_frame_sig_padded (h->sig_len) > h->body_len)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "frame type string (%u bytes) is longer than its body (%"
                   G_GUINT32_FORMAT " bytes)", h->sig_len, h->body_len);
      return FALSE;
    }
  if (h->sig_len == 0 && h->body_len != 0)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "frame without a type string has a body");
      return FALSE;
    }
  return TRUE;
}

/* Checks a payload's type string: a single definite GVariant type. */
gboolean
_dp_wire_check_type (const char  *sig,
                     gsize        sig_len,
                     GError     **error)
{
  const char *end = NULL;

  if (sig_len == 0 || memchr (sig, '\0', sig_len) != NULL ||
      !g_variant_type_string_scan (sig, sig + sig_len, &end) ||
      end != sig + sig_len)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "payload type string is not a valid GVariant type");
      return FALSE;
    }
  if (!g_variant_type_is_definite ((const GVariantType *) sig))
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "payload type '%.*s' is not a definite type", (int) sig_len, sig);
      return FALSE;
    }
  return TRUE;
}

/* TRUE when @value is an array of fixed-size basic elements ('ay', 'ai',
 * 'ad', …) that is certainly in normal form: its size is a multiple of the
 * element size and its data is aligned for the element. Every bit pattern
 * of such an element is a normal value ('b' is not among them: only 0 and 1
 * are), so g_variant_is_normal_form(), which walks every element, has
 * nothing more to find. FALSE means "not known": the full check decides. */
static gboolean
fixed_array_is_normal (const GVariantType *type,
                       GVariant           *value)
{
  gsize elem, size;

  if (!g_variant_type_is_array (type))
    return FALSE;
  switch (*(const char *) g_variant_type_peek_string (g_variant_type_element (type)))
    {
    case 'y':
      elem = 1;
      break;
    case 'n': case 'q':
      elem = 2;
      break;
    case 'i': case 'u': case 'h':
      elem = 4;
      break;
    case 'x': case 't': case 'd':
      elem = 8;
      break;
    default:
      return FALSE;
    }
  size = g_variant_get_size (value);
  return size % elem == 0 &&
         (size == 0 || (guintptr) g_variant_get_data (value) % elem == 0);
}

/* Whether the @len bytes at @s are UTF-8 without a nul: ASCII is checked
 * a word at a time (most strings are ASCII), the rest by GLib from the
 * first byte that is not */
static gboolean
utf8_no_nul (const char *s,
             gsize       len)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  const guint64 highs = G_GUINT64_CONSTANT (0x8080808080808080);
  gsize i = 0;

  for (; i + 8 <= len; i += 8)
    {
      guint64 w;

      memcpy (&w, s + i, 8);
      /* a byte >= 0x80, or a zero byte */
      if ((w & highs) != 0 || ((w - ones) & ~w & highs) != 0)
        break;
    }
  for (; i < len; i++)
    if ((guchar) s[i] >= 0x80 || s[i] == '\0')
      break;
  return i == len || g_utf8_validate_len (s + i, len - i, NULL);
}

/* The serialised size of every value of the basic type @c, or 0: a type
 * of variable size ('s', 'o', 'g'), or not a basic type */
static gsize
basic_fixed_size (char c)
{
  switch (c)
    {
    case 'b': case 'y':
      return 1;
    case 'n': case 'q':
      return 2;
    case 'i': case 'u': case 'h':
      return 4;
    case 'x': case 't': case 'd':
      return 8;
    default:
      return 0;
    }
}

/* Whether the @size bytes at @d are a value of the basic type @type in
 * normal form, by the rules g_variant_is_normal_form() applies to it: 1
 * yes, 0 no, -1 not a type decided here (a container). The common small
 * messages (a string, a number) are so checked without building a value
 * first, then loaded as trusted: GVariant's own check would take the
 * value's lock and make its serialised form once more to find the same. */
static int
basic_is_normal (const GVariantType *type,
                 const guint8       *d,
                 gsize               size)
{
  /* a basic type's string is its one character (a container's starts
   * with another one): no need to ask GLib for the length, which checks
   * the whole type string on each call */
  char c = *(const char *) g_variant_type_peek_string (type);

  switch (c)
    {
    case 'b':
      return size == 1 && d[0] < 2;
    case 's':
      /* nul-terminated, no nul inside, UTF-8 */
      return size > 0 && d[size - 1] == '\0' && utf8_no_nul ((const char *) d, size - 1);
    case 'o':
      return size > 0 && d[size - 1] == '\0' && memchr (d, '\0', size - 1) == NULL &&
             g_variant_is_object_path ((const char *) d);
    case 'g':
      return size > 0 && d[size - 1] == '\0' && memchr (d, '\0', size - 1) == NULL &&
             g_variant_is_signature ((const char *) d);
    default:
      return basic_fixed_size (c) != 0 ? size == basic_fixed_size (c) : -1;
    }
}

/* Loads untrusted @data as a value of @type (checked by
 * _dp_wire_check_type()); returns a full (non-floating) reference. */
GVariant *
_dp_wire_load_payload (const GVariantType  *type,
                       GBytes              *data,
                       GError             **error)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (data, &size);
  int basic = basic_is_normal (type, d, size);
  GVariant *value;

  /* a new floating value nobody else has seen: taking its reference needs
   * no lock (g_variant_ref_sink() takes the value's lock) */
  if (basic == 1)
    return g_variant_take_ref (g_variant_new_from_bytes (type, data, TRUE));
  value = g_variant_take_ref (g_variant_new_from_bytes (type, data, FALSE));
  if (basic == 0 ||
      (size <= DP_NORMAL_FORM_CHECK_MAX &&
       !fixed_array_is_normal (type, value) &&
       !g_variant_is_normal_form (value)))
    {
      g_autofree char *type_string = g_variant_type_dup_string (type);
      g_variant_unref (value);
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "payload of type '%s' is not a valid serialised GVariant",
                   type_string);
      return NULL;
    }
  return value;
}

GVariant *
_dp_wire_decode_payload (const char *sig,
                         gsize       sig_len,
                         GBytes     *data,
                         GError    **error)
{
  g_autofree char *type_string = NULL;

  if (!_dp_wire_check_type (sig, sig_len, error))
    return NULL;
  type_string = g_strndup (sig, sig_len);
  return _dp_wire_load_payload (G_VARIANT_TYPE (type_string), data, error);
}

/* Handshake.
 *
 *   both sides:  HELLO = magic (8) | u16 version | u16 flags | u32 max frame | nonce (32)
 *   with TLS:    (both HELLOs have DP_HELLO_FLAG_TLS) the TLS handshake, then the rest
 *                inside TLS, the proofs over "libdp-auth-tls-1" and the session's
 *                channel binding data after the nonces (dp-connection.c)
 *   client:      AUTH  = HMAC-SHA256 (secret, "libdp-auth-1" 'C' server_nonce client_nonce)
 *   server:      checks it; only then AUTH = HMAC-SHA256 (secret, ... 'S' client_nonce server_nonce);
 *                if it is wrong, REFUSED instead, and closes
 *   client:      checks it; the connection is up. If it is wrong, REFUSED
 *                (where the server reads its first frame), and closes.
 *
 * Each side proves knowledge of the secret over a nonce the other chose, so
 * neither a replayed nor a reflected proof is accepted.
 *
 * REFUSED (DP_REFUSAL_LEN, the length of a proof, in a proof's place) is
 * the magic's first four bytes, a zero byte, "refused" and zeros: it tells
 * the peer that its proof was wrong — that it does not share our secret —
 * which the close alone tells an attacker anyway, but not a user. An HMAC
 * equal to it is as likely as a guessed secret; read as a frame header its
 * type is 0, which no frame has, so it is never taken for a first frame.
 * A peer that predates REFUSED takes it for a wrong proof (or a bad first
 * frame) and closes, as it did before; so the protocol version stays 1.
 */

static const char refusal[DP_REFUSAL_LEN] = "\x89" "DPL" "\0" "refused";

void
_dp_wire_refusal_build (guint8 out[DP_REFUSAL_LEN])
{
  memcpy (out, refusal, DP_REFUSAL_LEN);
}

/* Whether the @len bytes at @in (as many as have arrived) are REFUSED or the
 * start of it: TRUE with @len < DP_REFUSAL_LEN means "read more to know". */
gboolean
_dp_wire_refusal_match (const guint8 *in,
                        gsize         len)
{
  return memcmp (in, refusal, MIN (len, (gsize) DP_REFUSAL_LEN)) == 0;
}

void
_dp_wire_hello_build (guint8       out[DP_HELLO_LEN],
                      const guint8 nonce[DP_NONCE_LEN])
{
  guint16 be16 = GUINT16_TO_BE (DP_PROTOCOL_VERSION);

  memset (out, 0, DP_HELLO_LEN);
  memcpy (out, DP_WIRE_MAGIC, DP_WIRE_MAGIC_LEN);
  memcpy (out + DP_WIRE_MAGIC_LEN, &be16, 2);
  memcpy (out + DP_WIRE_MAGIC_LEN + 8, nonce, DP_NONCE_LEN);
}

/* The largest frame body the side that sends the HELLO accepts (its
 * DpNode:max-frame-size, at most 4 GiB - 1), so that a sender can refuse
 * a message over it with an error of its own instead of having its
 * connection closed by the peer. 0: not said (a peer from before this
 * field; the word was reserved and zero). Not authenticated, like the
 * rest of the HELLO: it only lets a sender fail early. */
void
_dp_wire_hello_set_max_frame (guint8 hello[DP_HELLO_LEN],
                              gsize  max_frame)
{
  guint32 be32 = GUINT32_TO_BE ((guint32) MIN (max_frame, (gsize) G_MAXUINT32));

  memcpy (hello + DP_WIRE_MAGIC_LEN + 4, &be32, 4);
}

gsize
_dp_wire_hello_get_max_frame (const guint8 hello[DP_HELLO_LEN])
{
  guint32 be32;

  memcpy (&be32, hello + DP_WIRE_MAGIC_LEN + 4, 4);
  return GUINT32_FROM_BE (be32);
}

/* The HELLO's flags: DP_HELLO_FLAG_TLS, the sender will speak TLS. The
 * word was reserved and zero: a peer from before TLS says "no TLS". Not
 * authenticated: a flag flipped in flight only makes the two sides
 * disagree, and each closes the connection. */
void
_dp_wire_hello_set_flags (guint8 hello[DP_HELLO_LEN],
                          guint  flags)
{
  guint16 be16 = GUINT16_TO_BE ((guint16) flags);

  memcpy (hello + DP_WIRE_MAGIC_LEN + 2, &be16, 2);
}

guint
_dp_wire_hello_get_flags (const guint8 hello[DP_HELLO_LEN])
{
  guint16 be16;

  memcpy (&be16, hello + DP_WIRE_MAGIC_LEN + 2, 2);
  return GUINT16_FROM_BE (be16);
}

gboolean
_dp_wire_hello_parse (const guint8  in[DP_HELLO_LEN],
                      guint8        nonce_out[DP_NONCE_LEN],
                      GError      **error)
{
  guint16 be16;
  guint16 version;

  if (memcmp (in, DP_WIRE_MAGIC, DP_WIRE_MAGIC_LEN) != 0)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "peer does not speak the libdp protocol (bad magic)");
      return FALSE;
    }
  memcpy (&be16, in + DP_WIRE_MAGIC_LEN, 2);
  version = GUINT16_FROM_BE (be16);
  if (version != DP_PROTOCOL_VERSION)
    {
      g_set_error (error, DP_ERROR, DP_ERROR_PROTOCOL,
                   "peer speaks libdp protocol version %u, this side speaks %u",
                   version, DP_PROTOCOL_VERSION);
      return FALSE;
    }
  memcpy (nonce_out, in + DP_WIRE_MAGIC_LEN + 8, DP_NONCE_LEN);
  return TRUE;
}

/* @binding: the TLS session's channel binding data, or NULL without TLS
 * (then the proof is the one libdp always sent). */
void
_dp_wire_auth_compute_bound (GBytes       *secret,
                             char          role,
                             const guint8  peer_nonce[DP_NONCE_LEN],
                             const guint8  own_nonce[DP_NONCE_LEN],
                             GBytes       *binding,
                             guint8        out[DP_AUTH_LEN])
{
  g_autoptr(GHmac) hmac = NULL;
  gsize key_len = 0;
  const guint8 *key = g_bytes_get_data (secret, &key_len);
  gsize digest_len = DP_AUTH_LEN;
  const char *label = binding ? "libdp-auth-tls-1" : "libdp-auth-1";

  hmac = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
  g_hmac_update (hmac, (const guchar *) label, strlen (label));
  g_hmac_update (hmac, (const guchar *) &role, 1);
  g_hmac_update (hmac, peer_nonce, DP_NONCE_LEN);
  g_hmac_update (hmac, own_nonce, DP_NONCE_LEN);
  if (binding)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (binding, &len);
      guint8 be32[4] = { (guint8) (len >> 24), (guint8) (len >> 16), (guint8) (len >> 8), (guint8) len };

      g_hmac_update (hmac, be32, 4);
      g_hmac_update (hmac, data, len);
    }
  g_hmac_get_digest (hmac, out, &digest_len);
  g_assert (digest_len == DP_AUTH_LEN);
}

void
_dp_wire_auth_compute (GBytes       *secret,
                       char          role,
                       const guint8  peer_nonce[DP_NONCE_LEN],
                       const guint8  own_nonce[DP_NONCE_LEN],
                       guint8        out[DP_AUTH_LEN])
{
  _dp_wire_auth_compute_bound (secret, role, peer_nonce, own_nonce, NULL, out);
}

gboolean
_dp_wire_auth_verify (GBytes       *secret,
                      char          role,
                      const guint8  verifier_nonce[DP_NONCE_LEN],
                      const guint8  prover_nonce[DP_NONCE_LEN],
                      const guint8  proof[DP_AUTH_LEN])
{
  return _dp_wire_auth_verify_bound (secret, role, verifier_nonce, prover_nonce, NULL, proof);
}

gboolean
_dp_wire_auth_verify_bound (GBytes       *secret,
                            char          role,
                            const guint8  verifier_nonce[DP_NONCE_LEN],
                            const guint8  prover_nonce[DP_NONCE_LEN],
                            GBytes       *binding,
                            const guint8  proof[DP_AUTH_LEN])
{
  guint8 expected[DP_AUTH_LEN];
  guint8 diff = 0;

  /* The prover computed HMAC (role, its peer's nonce = ours, its own). */
  _dp_wire_auth_compute_bound (secret, role, verifier_nonce, prover_nonce, binding, expected);
  for (gsize i = 0; i < DP_AUTH_LEN; i++)
    diff |= expected[i] ^ proof[i];
  return diff == 0;
}
