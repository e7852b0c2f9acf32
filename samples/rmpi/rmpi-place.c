/* rmpi-place: the rank of samples/rmpi (the seed's RMPI example)
 *
 * Every rank runs each collective once and tells the launcher what it got,
 * as a list of (operation, result) given to dp_rmpi_finish(); the program
 * (rmpi.c) prints them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

DP_PLUGIN_DEFINE ("rmpi-place", "The rank of the RMPI sample", "1.0", "LGPL-2.1-or-later")

/* what a rank that is not the root gets: nothing to show */
#define NOTHING g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL)

DP_PLACE_EXPORT void
rmpi_rank (DpPlaceChannel *ch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DpRmpiComm) comm = dp_rmpi_init (ch, &error);
  g_autoptr(DpRmpiComm) sub = NULL;
  g_autoptr(GVariant) v = NULL;
  GVariantBuilder out, row;
  guint id, cnt;
  guint64 offset, length;

  if (comm == NULL)
    {
      g_printerr ("rmpi-place: %s\n", error->message);
      return;
    }
  id = dp_rmpi_id (comm);
  cnt = dp_rmpi_cnt (comm);
  g_variant_builder_init (&out, G_VARIANT_TYPE ("a(sv)"));

#define RECORD(op, value) \
  G_STMT_START { \
    if ((value) == NULL) goto failed; \
    g_variant_builder_add (&out, "(sv)", op, value); \
  } G_STMT_END

  v = dp_rmpi_broadcast (comm, 0, id == 0 ? g_variant_new_string ("Hello World") : NULL, &error);
  RECORD ("broadcast", v);
  g_clear_pointer (&v, g_variant_unref);

  v = dp_rmpi_reduce (comm, 0, DP_RMPI_SUM, g_variant_new_int32 ((gint32) id + 1), &error);
  RECORD ("reduce", id == 0 ? v : NOTHING);
  g_clear_pointer (&v, g_variant_unref);

  if (!dp_rmpi_barrier (comm, &error))
    goto failed;
  g_variant_builder_add (&out, "(sv)", "barrier", g_variant_new_boolean (TRUE));

  v = dp_rmpi_allreduce (comm, DP_RMPI_MAX, g_variant_new_int32 ((gint32) id), &error);
  RECORD ("allreduce", v);
  g_clear_pointer (&v, g_variant_unref);

  v = dp_rmpi_gather (comm, 0, g_variant_new_int32 ((gint32) (id * id)), &error);
  RECORD ("gather", id == 0 ? v : NOTHING);
  g_clear_pointer (&v, g_variant_unref);

  {
    gint32 mine = (gint32) id;
    v = dp_rmpi_allgather (comm, g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, &mine, 1, sizeof mine),
                           &error);
  }
  RECORD ("allgather", v);
  g_clear_pointer (&v, g_variant_unref);

  g_variant_builder_init (&row, G_VARIANT_TYPE ("as"));
  for (guint j = 0; j < cnt; j++)
    {
      g_autofree char *s = g_strdup_printf ("%u->%u", id, j);
      g_variant_builder_add (&row, "s", s);
    }
  v = dp_rmpi_alltoall (comm, g_variant_builder_end (&row), &error);
  RECORD ("alltoall", v);
  g_clear_pointer (&v, g_variant_unref);

  dp_rmpi_partition (comm, 10, &offset, &length);
  g_variant_builder_add (&out, "(sv)", "partition", g_variant_new ("(tt)", offset, length));

  sub = dp_rmpi_comm_split (comm, (gint32) (id % 2), (gint32) (id / 2), &error);
  if (sub == NULL)
    goto failed;
  g_variant_builder_add (&out, "(sv)", "split",
                         g_variant_new_parsed ("{'color': <%i>, 'size': <%i>, 'rank': <%i>}",
                                               (gint32) (id % 2), (gint32) dp_rmpi_cnt (sub),
                                               (gint32) dp_rmpi_id (sub)));
  dp_rmpi_finish (comm, g_variant_builder_end (&out), NULL);
  return;

failed:
  g_variant_builder_clear (&out);
  g_printerr ("rmpi-place: rank %u: %s\n", id, error->message);
}
