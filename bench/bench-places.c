/* bench-places: places for the benchmark that need more than the echo
 * plugin (plugins/echo)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>
#include "bank.h"

DP_PLUGIN_DEFINE ("bench-places", "Places for libdp's benchmark (bench/)", "1.0",
                  "LGPL-2.1-or-later")

/* rpc_pinger: for bench W8R. Gets (s host, q port, s name, u n): connects
 * to the bank (samples/servers) named @name on @host:@port
 * (dp_place_channel_connect(): node to node), opens the account "pinger"
 * (or finds it), then makes @n sequential calls of add ("pinger", 1)
 * through the generated stubs; answers ('done', elapsed µs) as it measured
 * them, or (message, -1). Serves any number of runs. */
DP_PLACE_EXPORT void
rpc_pinger (DpPlaceChannel *ch)
{
  GVariant *msg;

  while ((msg = dp_place_channel_get (ch)) != NULL)
    {
      const char *host, *name;
      guint16 port;
      guint32 n;
      g_autoptr(GError) error = NULL;
      g_autoptr(DpPlaceChannel) bank = NULL;
      g_autoptr(GVariant) r = NULL;
      const char *what = "done";
      gint64 t0, us = -1;

      g_variant_get (msg, "(&sq&su)", &host, &port, &name, &n);
      bank = dp_place_channel_connect (ch, host, port, name, &error);
      if (bank != NULL && bank_call_new_account_sync (DP_CHANNEL (bank), "pinger", &r, NULL, &error))
        {
          t0 = g_get_monotonic_time ();
          for (guint32 i = 0; i < n && error == NULL; i++)
            {
              g_clear_pointer (&r, g_variant_unref);
              bank_call_add_sync (DP_CHANNEL (bank), "pinger", 1, &r, NULL, &error);
            }
          us = g_get_monotonic_time () - t0;
        }
      if (error == NULL && r != NULL && g_str_equal (g_variant_get_type_string (r), "(sav)"))
        {
          const char *status;

          g_variant_get_child (r, 0, "&s", &status);
          if (g_strcmp0 (status, "ok") != 0)
            what = "add did not answer (ok balance)";
        }
      else if (error == NULL)
        what = "no reply";
      dp_place_channel_put (ch, g_variant_new ("(sx)", error ? error->message : what,
                                               error || g_strcmp0 (what, "done") != 0 ? (gint64) -1 : us));
      g_variant_unref (msg);
    }
}
