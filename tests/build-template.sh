#!/usr/bin/env bash
# The SDK's template project (sdk/template) builds against this build tree,
# with meson (its dp-codegen custom_target included) and with make, and
# without a warning.
#   tests/build-template.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKG_CONFIG_PATH="$build/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

cp -r "$src/sdk/template" "$work/meson"
cp -r "$src/sdk/template" "$work/make"
meson setup "$work/meson/build" "$work/meson" -Dwerror=true >/dev/null
ninja -C "$work/meson/build"
test -f "$work/meson/build/counter.so" && test -f "$work/meson/build/my-place.so"
make -C "$work/make" CFLAGS="-O2 -g -Wall -Wextra -Werror"
test -f "$work/make/counter.so" && test -f "$work/make/my-place.so"
echo "template: built with meson and make"
