/* sexp.h: a GVariant as Racket's display prints the seed's values
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* 100, #f, user0, (created user0), (ok 10): strings bare, numbers,
 * booleans as #t/#f, variants unboxed, tuples and arrays as lists; the
 * seed's (symbol values...) — a (sav) — as one flat list. */
char *sample_sexp (GVariant *value);
