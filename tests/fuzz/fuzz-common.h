/* fuzz-common.h: what the libFuzzer harnesses share
 *
 * Each harness (fuzz-codec.c, fuzz-connection.c) defines
 * LLVMFuzzerTestOneInput() and the seeds of its corpus. Built with
 * -Dfuzz=true it is linked with libFuzzer; in every other build it is
 * linked with fuzz-replay.c, whose main() runs it once over each file of
 * its corpus (a regression test that needs no clang) and writes the seed
 * corpus anew (--make-seeds DIR).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "dp-private.h"

#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* the harness */
int      LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
/* writes the harness's seed corpus into @dir (which exists) */
void     fuzz_make_seeds        (const char *dir);

/* Once per process: warnings and criticals abort (a crash the fuzzer
 * reports), anything less is dropped — a closed connection is no news. */
void     fuzz_init_logging      (void);

/* The secret both ends of a fuzzed connection share. */
GBytes  *fuzz_secret            (void);

/* A frame as _dp_connection_send() writes it: header, type string,
 * padding, data. @payload may be floating; NULL: none. */
GBytes  *fuzz_frame             (guint8    type,
                                 guint32   channel,
                                 guint32   arg,
                                 GVariant *payload);
/* A frame whose body is @body_len bytes but of which only @have follow
 * the header (0x5a), e.g. the start of a big frame */
GBytes  *fuzz_frame_partial     (guint8    type,
                                 guint32   body_len,
                                 gsize     have);

/* Concatenates a NULL-terminated list of GBytes, taking them */
GBytes  *fuzz_concat            (GBytes   *first,
                                 ...) G_GNUC_NULL_TERMINATED;
/* @dir/@name := @prefix (@prefix_len bytes, may be 0) then @bytes (taken) */
void     fuzz_write_seed        (const char   *dir,
                                 const char   *name,
                                 const guint8 *prefix,
                                 gsize         prefix_len,
                                 GBytes       *bytes);

G_END_DECLS
