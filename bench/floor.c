/* floor.c: what makes bench/floor link libdp (with raw-tcp.c)
 *
 * bench/floor is raw-tcp linked like dp-node (bench/meson.build). libdp is
 * linked --as-needed whatever the target says, so this program refers to
 * one of its symbols, as dp-node refers to many: libdp-1.0.so stays among
 * its libraries and is loaded, relocated and initialised like dp-node's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

GType (*const bench_floor_libdp) (void) = dp_node_get_type;
