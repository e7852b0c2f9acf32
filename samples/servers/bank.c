/* The seed's bank (bank.rkt), as the handlers of the server that
 * dp-codegen generates from bank.json. Results are the seed's lists: a
 * string (the symbol) and an array of values — (created who),
 * (already-exists), (ok balance), (invalid-account who),
 * (insufficient-funds balance). A new account holds 0, and a balance of 0
 * still counts as an account.
 *
 * Built twice: bank.so, and bank-logging.so with SAMPLE_LOG_TO_PARENT (the
 * seed's examples/logging), whose new-account logs "Logging new account for
 * WHO" to the root node at debug level.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bank.h"

DP_PLUGIN_DEFINE ("bank", "The seed's bank (define-remote-server)", "1.0", "LGPL-2.1-or-later")

struct _BankState
{
  GHashTable *accounts;   /* who → gint64 balance */
};

BankState *
bank_state_new (void)
{
  BankState *state = g_new0 (BankState, 1);

  state->accounts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return state;
}

void
bank_state_free (BankState *state)
{
  g_hash_table_unref (state->accounts);
  g_free (state);
}

/* (symbol) or (symbol value) */
static GVariant *
list (const char *symbol,
      GVariant   *value)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
  if (value)
    g_variant_builder_add (&b, "v", value);
  return g_variant_new ("(sav)", symbol, &b);
}

gboolean
bank_handle_new_account (BankState    *state,
                         const gchar  *arg_who,
                         GVariant    **out_result,
                         GError      **error)
{
#ifdef SAMPLE_LOG_TO_PARENT
  dp_rpc_log_to_parent ("debug", "Logging new account for %s", arg_who);
#endif
  if (g_hash_table_contains (state->accounts, arg_who))
    *out_result = list ("already-exists", NULL);
  else
    {
      g_hash_table_insert (state->accounts, g_strdup (arg_who), g_new0 (gint64, 1));
      *out_result = list ("created", g_variant_new_string (arg_who));
    }
  return TRUE;
}

gboolean
bank_handle_add (BankState    *state,
                 const gchar  *arg_who,
                 gint64        arg_amount,
                 GVariant    **out_result,
                 GError      **error)
{
  gint64 *balance = g_hash_table_lookup (state->accounts, arg_who);

  if (balance == NULL)
    *out_result = list ("invalid-account", g_variant_new_string (arg_who));
  else
    {
      *balance += arg_amount;
      *out_result = list ("ok", g_variant_new_int64 (*balance));
    }
  return TRUE;
}

gboolean
bank_handle_removem (BankState    *state,
                     const gchar  *arg_who,
                     gint64        arg_amount,
                     GVariant    **out_result,
                     GError      **error)
{
  gint64 *balance = g_hash_table_lookup (state->accounts, arg_who);

  if (balance == NULL)
    *out_result = list ("invalid-account", g_variant_new_string (arg_who));
  else if (arg_amount <= *balance)
    {
      *balance -= arg_amount;
      *out_result = list ("ok", g_variant_new_int64 (*balance));
    }
  else
    *out_result = list ("insufficient-funds", g_variant_new_int64 (*balance));
  return TRUE;
}
