#!/usr/bin/env python3
"""The installed programs run from the installed prefix with nothing set.

    check-installed-programs.py BUILDDIR

Installs BUILDDIR into a scratch DESTDIR (`meson install --no-rebuild`),
then reads each installed program's dynamic section: a program that needs
libdp-1.0.so.0 has the installed libdir in its RUNPATH, and the programs
that load place plugins (dp-node, dp-inspect) need libdp-1.0.so.0
themselves: a plugin links libdp, and a libdp already loaded is the only
one it finds when the prefix is off the linker's path (the RUNPATH of a
program is not searched for the libraries of what it dlopen()s). Prints
one line per problem; exits 1 if there is any.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

PLUGIN_LOADERS = ('dp-node', 'dp-inspect')
LIBDP = 'libdp-1.0.so.0'


def option(options, name):
    for o in options:
        if o['name'] == name:
            return o['value']
    raise KeyError(name)


def main():
    build = sys.argv[1]
    with open(os.path.join(build, 'meson-info', 'intro-buildoptions.json'), encoding='utf-8') as f:
        options = json.load(f)
    prefix = option(options, 'prefix')
    bindir = os.path.join(prefix, option(options, 'bindir'))
    libdir = os.path.join(prefix, option(options, 'libdir'))
    problems = []
    with tempfile.TemporaryDirectory(prefix='dp-install-') as dest:
        r = subprocess.run(['meson', 'install', '-C', build, '--no-rebuild', '--quiet',
                            '--destdir', dest], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if r.returncode != 0:
            print(r.stdout)
            print('meson install failed')
            return 1
        progdir = dest + bindir
        programs = sorted(os.listdir(progdir))
        for prog in programs:
            d = subprocess.run(['readelf', '-d', os.path.join(progdir, prog)],
                               stdout=subprocess.PIPE, text=True, check=True).stdout
            needed = re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', d)
            runpath = re.findall(r'\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]+)\]', d)
            dirs = [p for rp in runpath for p in rp.split(':')]
            if prog in PLUGIN_LOADERS and LIBDP not in needed:
                problems.append(f'{prog}: loads plugins but does not need {LIBDP}')
            if LIBDP in needed and libdir not in dirs:
                problems.append(f'{prog}: needs {LIBDP} but its RUNPATH {dirs} lacks {libdir}')
        print('programs:', ' '.join(programs))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
