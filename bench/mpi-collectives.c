/* mpi-collectives: W5's Open MPI baseline (run by bench/run.py under
 * `mpirun -np 4 --mca pml ob1 --mca btl tcp,self`): the mean latency of
 * MPI_Allreduce (one double, sum), MPI_Barrier and MPI_Bcast (one double
 * from rank 0), WARMUP then N iterations each, back to back, as
 * bench/rmpi-bench.c does. Rank 0 prints one JSON line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <mpi.h>
#include <stdio.h>

#define WARMUP 200
#define N 5000

int
main (int argc, char **argv)
{
  int rank, size, ok = 1;
  double t[3];

  MPI_Init (&argc, &argv);
  MPI_Comm_rank (MPI_COMM_WORLD, &rank);
  MPI_Comm_size (MPI_COMM_WORLD, &size);
  for (int kind = 0; kind < 3; kind++)
    {
      double t0 = 0;

      MPI_Barrier (MPI_COMM_WORLD);
      for (int i = 0; i < WARMUP + N; i++)
        {
          if (i == WARMUP)
            t0 = MPI_Wtime ();
          if (kind == 0)
            {
              double one = 1.0, sum = 0;
              MPI_Allreduce (&one, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
              ok = ok && sum == (double) size;
            }
          else if (kind == 1)
            MPI_Barrier (MPI_COMM_WORLD);
          else
            {
              double v = rank == 0 ? (double) i : -1;
              MPI_Bcast (&v, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
              ok = ok && v == (double) i;
            }
        }
      t[kind] = (MPI_Wtime () - t0) * 1e6 / N;
    }
  if (rank == 0)
    printf ("{\"workload\":\"W5\",\"system\":\"openmpi\",\"value\":%.6g,\"unit\":\"us/op\",\"ok\":%s,"
            "\"barrier_us\":%.6g,\"broadcast_us\":%.6g,\"ranks\":%d}\n",
            t[0], ok ? "true" : "false", t[1], t[2], size);
  MPI_Finalize ();
  return ok ? 0 : 1;
}
