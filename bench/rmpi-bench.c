/* rmpi-bench: the ranks of W5 (libdp-bench W5): collectives' latency
 *
 * Every rank runs WARMUP then N iterations of each operation back to back
 * (allreduce of one double, sum; barrier; broadcast of one double from
 * rank 0), a barrier between kinds; rank 0 reports the mean time per
 * operation in microseconds, and every rank checks the values. Each rank
 * also gives the CPU time its node process (place thread, router thread and
 * all) spent per operation: libdp-bench adds them up, a cost that a loaded
 * machine does not hide as it does the latency.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include <time.h>

DP_PLUGIN_DEFINE ("rmpi-bench", "W5: RMPI collectives' latency", "1.0", "LGPL-2.1-or-later")

#define WARMUP 200
#define N 5000

DP_PLACE_EXPORT void
rmpi_bench_rank (DpPlaceChannel *ch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRmpiComm) comm = dp_rmpi_init (ch, &error);
  double t[3], cpu[3];
  gboolean ok = TRUE;
  guint cnt;

  if (comm == NULL)
    return;
  cnt = dp_rmpi_cnt (comm);
  for (int kind = 0; kind < 3; kind++)
    {
      gint64 t0 = 0;
      struct timespec c0 = { 0 }, c1;

      if (!dp_rmpi_barrier (comm, &error))
        return;
      for (int i = 0; i < WARMUP + N; i++)
        {
          if (i == WARMUP)
            {
              t0 = g_get_monotonic_time ();
              clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
            }
          if (kind == 0)
            {
              g_autoptr(GVariant) v = dp_rmpi_allreduce (comm, DP_RMPI_SUM, g_variant_new_double (1.0), &error);
              if (v == NULL)
                return;
              ok = ok && g_variant_get_double (v) == (double) cnt;
            }
          else if (kind == 1)
            {
              if (!dp_rmpi_barrier (comm, &error))
                return;
            }
          else
            {
              g_autoptr(GVariant) v = dp_rmpi_broadcast (comm, 0, dp_rmpi_id (comm) == 0
                                                         ? g_variant_new_double (i) : NULL, &error);
              if (v == NULL)
                return;
              ok = ok && g_variant_get_double (v) == (double) i;
            }
        }
      t[kind] = (double) (g_get_monotonic_time () - t0) / N;
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
      cpu[kind] = ((c1.tv_sec - c0.tv_sec) * 1e6 + (c1.tv_nsec - c0.tv_nsec) / 1e3) / N;
    }
  dp_rmpi_finish (comm, g_variant_new ("(bdddddd)", ok, t[0], t[1], t[2], cpu[0], cpu[1], cpu[2]),
                  NULL);
}
