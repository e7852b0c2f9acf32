/* libdp.h: distributed places for C
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define __LIBDP_INSIDE__

#include "dp-version-macros.h"
#include "dp-error.h"
#include "dp-channel.h"
#include "dp-clock.h"
#include "dp-place-channel.h"
#include "dp-async-bi-channel.h"
#include "dp-typed-channel.h"
#include "dp-place.h"
#include "dp-plugin.h"
#include "dp-node.h"
#include "dp-spawn-options.h"
#include "dp-remote-connection.h"
#include "dp-remote-node.h"
#include "dp-restarter.h"
#include "dp-spawned-process.h"
#include "dp-router.h"
#include "dp-json.h"
#include "dp-rpc.h"
#include "dp-rmpi.h"
#include "dp-map-reduce.h"
#include "dp-enum-types.h"

#undef __LIBDP_INSIDE__
