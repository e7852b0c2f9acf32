/* The bank place of the seed's examples (bank.rkt), as a plugin.
 *
 * `bank` is a place function: it answers each request on its channel with
 * one reply, until the channel closes. Requests and replies are GVariant
 * tuples, the seed's lists:
 *
 *   ("new-account", who)        → ("created", who) | ("already-exists",)
 *   ("add", who, amount)        → ("ok", new_balance) | ("invalid-account", who)
 *   ("removeM", who, amount)    → ("ok", new_balance)
 *                               | ("insufficient-funds", balance)
 *                               | ("invalid-account", who)
 *
 * who is a string, amounts and balances are int64 ("x"). A new account
 * holds 0, and a balance of 0 still counts as an account.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libdp/libdp.h>

DP_PLUGIN_DEFINE ("bank-place", "The seed's bank: accounts with a balance", "1.0",
                  "LGPL-2.1-or-later")

static GVariant *
bank_handle (GHashTable *accounts,
             GVariant   *request)
{
  const char *who;
  gint64 amount;
  gint64 *balance;

  if (g_variant_is_of_type (request, G_VARIANT_TYPE ("(ss)")))
    {
      const char *op;

      g_variant_get (request, "(&s&s)", &op, &who);
      if (g_strcmp0 (op, "new-account") != 0)
        goto unknown;
      if (g_hash_table_contains (accounts, who))
        return g_variant_new ("(s)", "already-exists");
      g_hash_table_insert (accounts, g_strdup (who), g_new0 (gint64, 1));
      return g_variant_new ("(ss)", "created", who);
    }

  if (g_variant_is_of_type (request, G_VARIANT_TYPE ("(ssx)")))
    {
      const char *op;

      g_variant_get (request, "(&s&sx)", &op, &who, &amount);
      if (g_strcmp0 (op, "add") != 0 && g_strcmp0 (op, "removeM") != 0)
        goto unknown;
      balance = g_hash_table_lookup (accounts, who);
      if (balance == NULL)
        return g_variant_new ("(ss)", "invalid-account", who);
      if (g_strcmp0 (op, "add") == 0)
        *balance += amount;
      else if (amount <= *balance)
        *balance -= amount;
      else
        return g_variant_new ("(sx)", "insufficient-funds", *balance);
      return g_variant_new ("(sx)", "ok", *balance);
    }

unknown:
  {
    g_autofree char *text = g_variant_print (request, TRUE);
    return g_variant_new ("(ss)", "unknown-request", text);
  }
}

DP_PLACE_EXPORT void bank (DpPlaceChannel *ch);

DP_PLACE_EXPORT void
bank (DpPlaceChannel *ch)
{
  g_autoptr(GHashTable) accounts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GVariant *request;

  while ((request = dp_place_channel_get (ch)) != NULL)   /* NULL: channel closed */
    {
      dp_place_channel_put (ch, bank_handle (accounts, request));
      g_variant_unref (request);
    }
}
