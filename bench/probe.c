/* probe: the machine's basic costs, printed beside the benchmark results
 *
 *   probe      prints {"syscall_ns":..,"page_fault_ns":..,"thread_wake_ns":..}
 *
 * A table measured on one VM reads differently on another: these three
 * costs (a null system call, the first touch of a fresh page, waking a
 * thread blocked on a condition variable and being woken back) say why.
 * Each is the median of a few rounds, so one hiccup does not decide it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, n, sizeof v[0], cmp_double);
  return v[n / 2];
}

#define ROUNDS 5

static double
syscall_ns (void)
{
  double r[ROUNDS];
  const int n = 200000;

  for (int k = 0; k < ROUNDS; k++)
    {
      double t0 = now_ns ();
      for (int i = 0; i < n; i++)
        syscall (SYS_getppid);
      r[k] = (now_ns () - t0) / n;
    }
  return median (r, ROUNDS);
}

static double
page_fault_ns (void)
{
  double r[ROUNDS];
  const size_t size = 32 * 1024 * 1024;
  long page = sysconf (_SC_PAGESIZE);

  for (int k = 0; k < ROUNDS; k++)
    {
      char *p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      double t0;

      if (p == MAP_FAILED)
        return -1;
      t0 = now_ns ();
      for (size_t off = 0; off < size; off += (size_t) page)
        p[off] = 1;
      r[k] = (now_ns () - t0) / (size / (size_t) page);
      munmap (p, size);
    }
  return median (r, ROUNDS);
}

/* ping-pong between two threads through a mutex and two condition
 * variables: half a round trip is one wake-up */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int turn, stop;

static void *
ponger (void *data)
{
  pthread_mutex_lock (&lock);
  while (!stop)
    {
      while (turn != 1 && !stop)
        pthread_cond_wait (&cond, &lock);
      turn = 0;
      pthread_cond_broadcast (&cond);
    }
  pthread_mutex_unlock (&lock);
  return data;
}

static double
thread_wake_ns (void)
{
  double r[ROUNDS];
  const int n = 5000;
  pthread_t t;

  pthread_create (&t, NULL, ponger, NULL);
  for (int k = 0; k < ROUNDS; k++)
    {
      double t0 = now_ns ();
      pthread_mutex_lock (&lock);
      for (int i = 0; i < n; i++)
        {
          turn = 1;
          pthread_cond_broadcast (&cond);
          while (turn != 0)
            pthread_cond_wait (&cond, &lock);
        }
      pthread_mutex_unlock (&lock);
      r[k] = (now_ns () - t0) / n / 2;
    }
  pthread_mutex_lock (&lock);
  stop = 1;
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
  pthread_join (t, NULL);
  return median (r, ROUNDS);
}

int
main (void)
{
  printf ("{\"syscall_ns\":%.1f,\"page_fault_ns\":%.1f,\"thread_wake_ns\":%.1f}\n",
          syscall_ns (), page_fault_ns (), thread_wake_ns ());
  return 0;
}
