/* A plugin that refers to a function nothing defines: linked with
 * undefined symbols allowed, it must be refused when it is loaded, naming
 * the function, never when a place first calls it. */
#include <libdp/libdp.h>

DP_PLUGIN_DEFINE ("unresolved", "Calls a function nobody defines", "1.0", "LGPL-2.1-or-later")

void dp_test_function_nobody_defines (void);

DP_PLACE_EXPORT void
calls_missing (DpPlaceChannel *ch)
{
  dp_test_function_nobody_defines ();
}
