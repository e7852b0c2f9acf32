/* dp-rmpi.h: RMPI, message passing between the ranks of a launched job
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__LIBDP_INSIDE__) && !defined(LIBDP_COMPILATION)
# error "Only <libdp/libdp.h> can be included directly."
#endif

#include <glib-object.h>
#include "dp-version-macros.h"
#include "dp-node.h"
#include "dp-place-channel.h"
#include "dp-spawn-options.h"

G_BEGIN_DECLS

/**
 * DpRmpiComm:
 *
 * A communicator: the seed's `rmpi-comm`. Each rank of a job launched by
 * dp_rmpi_launch() is a named place; dp_rmpi_init() (in that place) waits
 * for the launcher's table of ranks and opens one direct mesh channel to
 * every other rank (dp_place_channel_connect() to the rank's name, then a
 * channel end sent with dp_place_channel_to_variant()). Messages between
 * two ranks keep their order; a rank may send to itself.
 *
 * Every message is tagged with its communicator and, for a collective, the
 * collective's sequence number, so point-to-point messages and collectives
 * never take each other's messages; what arrives early waits (bounded)
 * until it is asked for. All ranks of a communicator call the same
 * collectives in the same order.
 *
 * Failure is an error, never a hang: when a rank ends or its node is lost,
 * every rank waiting on it gets %DP_ERROR_RANK_LOST naming that rank (its
 * channels close: at once for a place that ends or a process that dies,
 * within the heartbeat timeout for a host that stops answering), and tells
 * the others, which fail with the same error. After an error in a
 * collective the communicator stays failed.
 *
 * Threads: a communicator belongs to the rank's place thread.
 *
 * ```c
 * DP_PLACE_EXPORT void
 * rank_main (DpPlaceChannel *ch)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(DpRmpiComm) comm = dp_rmpi_init (ch, &error);
 *   g_autoptr(GVariant) total = NULL;
 *
 *   if (comm == NULL)
 *     return;
 *   total = dp_rmpi_allreduce (comm, DP_RMPI_SUM,
 *                              g_variant_new_int32 (dp_rmpi_id (comm)), &error);
 *   dp_rmpi_finish (comm, total, NULL);
 * }
 * ```
 *
 * Since: 1.0
 */
#define DP_TYPE_RMPI_COMM (dp_rmpi_comm_get_type ())
DP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (DpRmpiComm, dp_rmpi_comm, DP, RMPI_COMM, GObject)

/**
 * DpRmpiOp:
 * @DP_RMPI_SUM: a + b
 * @DP_RMPI_PRODUCT: a × b
 * @DP_RMPI_MIN: the smaller
 * @DP_RMPI_MAX: the larger
 * @DP_RMPI_AND: logical and (1 or 0 of the values' type; booleans stay booleans)
 * @DP_RMPI_OR: logical or
 *
 * The built-in reductions. They apply to numbers (any GVariant number type
 * and booleans, both values of the same type) and element by element to
 * arrays, tuples and variants of them (of the same shape).
 *
 * |[<!-- language="C" -->
 * // in a rank: the largest of every rank's (count, seconds), element by element
 * g_autoptr(GVariant) worst =
 *   dp_rmpi_allreduce (comm, DP_RMPI_MAX, g_variant_new ("(ud)", count, seconds), &error);
 * ]|
 *
 * Since: 1.0
 */
typedef enum {
  DP_RMPI_SUM,
  DP_RMPI_PRODUCT,
  DP_RMPI_MIN,
  DP_RMPI_MAX,
  DP_RMPI_AND,
  DP_RMPI_OR,
} DpRmpiOp;

/**
 * DpRmpiReduceFunc:
 * @a: the value of the lower ranks
 * @b: the value of the higher ranks
 * @user_data: what was given with the function
 * @error: return location for a #GError
 *
 * A user reduction. It must be associative; it is always called with the
 * lower ranks' value first, so it need not be commutative.
 *
 * |[<!-- language="C" -->
 * // joins the ranks' strings in rank order
 * static GVariant *
 * concat (GVariant *a, GVariant *b, gpointer user_data, GError **error)
 * {
 *   g_autofree char *s = g_strconcat (g_variant_get_string (a, NULL),
 *                                     g_variant_get_string (b, NULL), NULL);
 *   return g_variant_new_string (s);
 * }
 *
 * g_autoptr(GVariant) all =
 *   dp_rmpi_allreduce_full (comm, concat, NULL, g_variant_new_string (mine), &error);
 * ]|
 *
 * Returns: (transfer full): the combined value (floating is fine), or
 *   %NULL with @error set
 *
 * Since: 1.0
 */
typedef GVariant *(*DpRmpiReduceFunc) (GVariant  *a,
                                       GVariant  *b,
                                       gpointer   user_data,
                                       GError   **error);

DP_AVAILABLE_IN_1_0
DpRmpiComm *dp_rmpi_init          (DpPlaceChannel *channel,
                                   GError        **error);
DP_AVAILABLE_IN_1_0
guint       dp_rmpi_id            (DpRmpiComm *comm);
DP_AVAILABLE_IN_1_0
guint       dp_rmpi_cnt           (DpRmpiComm *comm);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_get_args      (DpRmpiComm *comm);
DP_AVAILABLE_IN_1_0
const char *dp_rmpi_get_config    (DpRmpiComm *comm);
DP_AVAILABLE_IN_1_0
void        dp_rmpi_set_timeout   (DpRmpiComm *comm,
                                   gint64      timeout_us);

DP_AVAILABLE_IN_1_0
gboolean    dp_rmpi_send          (DpRmpiComm *comm,
                                   guint       dest,
                                   GVariant   *value,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_recv          (DpRmpiComm *comm,
                                   guint       src,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_recv_timeout  (DpRmpiComm *comm,
                                   guint       src,
                                   gint64      timeout_us,
                                   GError    **error);

DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_broadcast     (DpRmpiComm *comm,
                                   guint       root,
                                   GVariant   *value,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_reduce        (DpRmpiComm *comm,
                                   guint       root,
                                   DpRmpiOp    op,
                                   GVariant   *value,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_reduce_full   (DpRmpiComm       *comm,
                                   guint             root,
                                   DpRmpiReduceFunc  func,
                                   gpointer          user_data,
                                   GVariant         *value,
                                   GError          **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_allreduce     (DpRmpiComm *comm,
                                   DpRmpiOp    op,
                                   GVariant   *value,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_allreduce_full (DpRmpiComm       *comm,
                                    DpRmpiReduceFunc  func,
                                    gpointer          user_data,
                                    GVariant         *value,
                                    GError          **error);
DP_AVAILABLE_IN_1_0
gboolean    dp_rmpi_barrier       (DpRmpiComm *comm,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_gather        (DpRmpiComm *comm,
                                   guint       root,
                                   GVariant   *value,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_allgather     (DpRmpiComm *comm,
                                   GVariant   *value,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_alltoall      (DpRmpiComm *comm,
                                   GVariant   *values,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_alltoallv     (DpRmpiComm  *comm,
                                   GVariant    *values,
                                   const guint *send_counts,
                                   const guint *send_displs,
                                   guint       *recv_counts,
                                   GError     **error);
DP_AVAILABLE_IN_1_0
void        dp_rmpi_partition     (DpRmpiComm *comm,
                                   guint64     n,
                                   guint64    *offset,
                                   guint64    *length);
DP_AVAILABLE_IN_1_0
DpRmpiComm *dp_rmpi_comm_split    (DpRmpiComm *comm,
                                   gint32      color,
                                   gint32      key,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
gboolean    dp_rmpi_finish        (DpRmpiComm *comm,
                                   GVariant   *result,
                                   GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_reduce_values (DpRmpiOp    op,
                                   GVariant   *a,
                                   GVariant   *b,
                                   GError    **error);

/* The launcher (dp-rmpi-launch.c) */

/**
 * DP_RMPI_DEFAULT_TIMEOUT_MS:
 *
 * How long a job launched by dp_rmpi_launch() may take, in milliseconds
 * (one hour); dp_rmpi_launch_full() and `dp-launch --rmpi-timeout` set
 * another.
 *
 * Since: 1.0
 */
#define DP_RMPI_DEFAULT_TIMEOUT_MS 3600000u

DP_AVAILABLE_IN_1_0
char       *dp_rmpi_build_default_config  (const char *plugin,
                                           const char *symbol,
                                           GVariant   *args);
DP_AVAILABLE_IN_1_0
char       *dp_rmpi_make_localhost_config (const char *defaults,
                                           guint       cnt,
                                           guint16     start_port,
                                           const char *name);
DP_AVAILABLE_IN_1_0
char       *dp_rmpi_make_remote_config    (const char         *defaults,
                                           const char * const *hosts,
                                           guint               cnt,
                                           guint16             start_port,
                                           const char         *name);
DP_AVAILABLE_IN_1_0
gboolean    dp_rmpi_check_config          (const char *config,
                                           GError    **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_launch                (DpNode               *router,
                                           const char           *config,
                                           const DpSpawnOptions *options,
                                           GError              **error);
DP_AVAILABLE_IN_1_0
GVariant   *dp_rmpi_launch_full           (DpNode               *router,
                                           const char           *config,
                                           const DpSpawnOptions *options,
                                           guint                 timeout_ms,
                                           GCancellable         *cancellable,
                                           GError              **error);

G_END_DECLS
