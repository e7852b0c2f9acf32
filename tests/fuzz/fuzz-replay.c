/* fuzz-replay.c: a harness without libFuzzer
 *
 *   fuzz-codec FILE|DIR...            runs the harness once on each file
 *   fuzz-codec --make-seeds DIR       writes its seed corpus into DIR
 *
 * Linked with each harness in the builds that are not -Dfuzz=true, so that
 * the harnesses build with any compiler and their corpora (the seeds and
 * the regression inputs kept from fuzzing) run with the rest of the tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

static void
run_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;
  g_autofree guint8 *copy = NULL;

  if (!g_file_get_contents (path, &contents, &len, &error))
    g_error ("%s", error->message);
  /* a buffer of exactly the input's size (never NULL), as libFuzzer gives:
   * a read past its end is seen by AddressSanitizer */
  copy = g_malloc (MAX (len, 1));
  memcpy (copy, contents, len);
  LLVMFuzzerTestOneInput (copy, len);
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

static guint
run_path (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      run_file (path);
      return 1;
    }
  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    g_error ("cannot read %s", path);
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_ptr_array_sort (names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    run_file (names->pdata[i]);
  return names->len;
}

int
main (int    argc,
      char **argv)
{
  guint n = 0;

  if (argc == 3 && strcmp (argv[1], "--make-seeds") == 0)
    {
      if (g_mkdir_with_parents (argv[2], 0755) != 0)
        g_error ("cannot create %s", argv[2]);
      fuzz_make_seeds (argv[2]);
      return 0;
    }
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE|DIR...\n       %s --make-seeds DIR\n", argv[0], argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    n += run_path (argv[i]);
  printf ("%s: %u inputs, no crash\n", argv[0], n);
  return 0;
}
