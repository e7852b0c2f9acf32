/* fuzz-common.c: what the libFuzzer harnesses share (see fuzz-common.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include <stdarg.h>
#include <string.h>

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags   level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return g_log_writer_default (level, fields, n_fields, user_data);   /* fatal */
  return G_LOG_WRITER_HANDLED;
}

void
fuzz_init_logging (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
      g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
      g_once_init_leave (&done, 1);
    }
}

GBytes *
fuzz_secret (void)
{
  static const char secret[] = "libdp fuzzing: a fixed test secret";

  return g_bytes_new_static (secret, sizeof secret - 1);
}

GBytes *
fuzz_frame (guint8    type,
            guint32   channel,
            guint32   arg,
            GVariant *payload)
{
  g_autoptr(GVariant) value = payload ? g_variant_ref_sink (payload) : NULL;
  GByteArray *out = g_byte_array_new ();
  DpFrameHeader h = { 0 };
  guint8 header[DP_FRAME_HEADER_LEN];
  const char *sig = value ? g_variant_get_type_string (value) : "";
  gsize sig_len = strlen (sig);
  gsize data_len = value ? g_variant_get_size (value) : 0;
  static const guint8 zeros[8] = { 0 };

  h.body_len = (guint32) (_dp_frame_sig_padded (sig_len) + data_len);
  h.type = type;
  h.sig_len = (guint16) sig_len;
  h.channel = channel;
  h.arg = arg;
  _dp_frame_header_pack (&h, header);
  g_byte_array_append (out, header, sizeof header);
  g_byte_array_append (out, (const guint8 *) sig, sig_len);
  g_byte_array_append (out, zeros, _dp_frame_sig_padded (sig_len) - sig_len);
  if (data_len > 0)
    g_byte_array_append (out, g_variant_get_data (value), data_len);
  return g_byte_array_free_to_bytes (out);
}

GBytes *
fuzz_frame_partial (guint8  type,
                    guint32 body_len,
                    gsize   have)
{
  GByteArray *out = g_byte_array_new ();
  DpFrameHeader h = { 0 };
  guint8 header[DP_FRAME_HEADER_LEN];

  h.body_len = body_len;
  h.type = type;
  h.sig_len = 2;   /* "ay", padded to 8 */
  _dp_frame_header_pack (&h, header);
  g_byte_array_append (out, header, sizeof header);
  g_byte_array_append (out, (const guint8 *) "ay\0\0\0\0\0\0", MIN (have, 8));
  for (gsize i = 8; i < have; i++)
    g_byte_array_append (out, (const guint8 *) "\x5a", 1);
  return g_byte_array_free_to_bytes (out);
}

GBytes *
fuzz_concat (GBytes *first,
             ...)
{
  GByteArray *out = g_byte_array_new ();
  va_list ap;

  va_start (ap, first);
  for (GBytes *b = first; b != NULL; b = va_arg (ap, GBytes *))
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (b, &len);
      g_byte_array_append (out, data, len);
      g_bytes_unref (b);
    }
  va_end (ap);
  return g_byte_array_free_to_bytes (out);
}

void
fuzz_write_seed (const char   *dir,
                 const char   *name,
                 const guint8 *prefix,
                 gsize         prefix_len,
                 GBytes       *bytes)
{
  g_autoptr(GBytes) owned = bytes;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GByteArray) all = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (owned, &len);

  g_byte_array_append (all, prefix, prefix_len);
  g_byte_array_append (all, data, len);
  if (!g_file_set_contents (path, (const char *) all->data, all->len, &error))
    g_error ("%s", error->message);
}
