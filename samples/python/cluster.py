#!/usr/bin/env python3
# cluster.py: drives a libdp cluster from Python through GObject
# introspection (Dp-1.0.typelib).
#
# It spawns a node on this machine, launches the `echo` place of the echo
# plugin on it, puts a message and gets the reply (blocking form), then
# connects a "message" signal handler and lets a running GLib main loop
# deliver the next replies; at the end it stops the node and waits for it.
#
# From a build tree:
#   meson devenv -C build python3 samples/python/cluster.py
# (devenv sets GI_TYPELIB_PATH, LD_LIBRARY_PATH, DP_NODE_PATH and
# DP_PLUGIN_PATH). Installed, only the typelib's directory needs naming
# when the prefix is not /usr (PyGObject looks under /usr/lib only):
#   GI_TYPELIB_PATH=/usr/local/lib/x86_64-linux-gnu/girepository-1.0 python3 cluster.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import sys

import gi
gi.require_version('Dp', '1.0')
from gi.repository import Dp, GLib  # noqa: E402


def main(argv):
    host = argv[1] if len(argv) > 1 else 'localhost'
    master = Dp.Node.new()

    # spawn a node (blocking) and launch a place on it
    opts = Dp.SpawnOptions.new()
    opts.set_output(Dp.SpawnOutput.STDERR)
    try:
        remote = Dp.RemoteNode.spawn(master, host, 0, opts)
    except GLib.Error as e:
        print('cluster.py: cannot spawn a node: %s' % e.message, file=sys.stderr)
        return 1
    place = remote.launch_place('echo.so', 'echo', Dp.LaunchFlags.NONE, None)
    try:
        place.wait_ready(None)
    except GLib.Error as e:
        print('cluster.py: the place did not start: %s' % e.message, file=sys.stderr)
        return 1

    # put/get, the blocking form
    place.put(GLib.Variant('s', 'ping'))
    reply = place.get()
    print('get: %s' % reply.unpack())
    if reply.unpack() != 'ping':
        return 1

    # a signal handler on a running main loop: each reply is emitted as
    # "message" in this thread's main context
    loop = GLib.MainLoop.new(None, False)
    got = []

    def on_message(conn, msg):
        got.append(msg.unpack())
        print('message: %s' % (msg.unpack(),))
        if len(got) == 3:
            loop.quit()

    def on_died(conn, exit_, detail):
        print('cluster.py: the place ended: %s' % detail, file=sys.stderr)
        loop.quit()

    place.connect('message', on_message)
    place.connect('died', on_died)
    for v in (GLib.Variant('i', 1), GLib.Variant('(sd)', ('two', 2.0)),
              GLib.Variant('as', ['three'])):
        place.put(v)
    loop.run()
    if len(got) != 3:
        return 1

    place.close()
    remote.terminate()
    remote.wait_for_die(10 * GLib.USEC_PER_SEC)
    print('done: %d replies, node %s' % (len(got), 'dead' if not remote.is_alive() else 'alive'))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
