#!/usr/bin/env python3
"""What `meson install` installs: the programs, as a new user meets them.

    check-installed-programs.py man BUILDDIR
    check-installed-programs.py runpath BUILDDIR

man: every installed program (bindir, libexecdir) has an installed man page
(mandir/man1), and `man -l` renders each installed page with no warning.
The lists come from BUILDDIR/meson-info (intro-installed.json, the same as
`meson introspect --installed`).

runpath: installs BUILDDIR into a scratch DESTDIR (`meson install
--no-rebuild`) and reads each installed program's dynamic section: a
program that needs libdp-1.0.so.0 has the installed libdir in its RUNPATH,
and the programs that load place plugins (dp-node, dp-inspect) need
libdp-1.0.so.0 themselves: a plugin links libdp, and a libdp already
loaded is the only one it finds when the prefix is off the linker's path
(a program's RUNPATH is not searched for the libraries of what it
dlopen()s).

Prints one line per problem; exits 1 if there is any.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PLUGIN_LOADERS = ('dp-node', 'dp-inspect')
LIBDP = 'libdp-1.0.so.0'


class Build:
    def __init__(self, build):
        self.dir = build
        info = os.path.join(build, 'meson-info')
        with open(os.path.join(info, 'intro-installed.json'), encoding='utf-8') as f:
            self.installed = json.load(f)
        with open(os.path.join(info, 'intro-buildoptions.json'), encoding='utf-8') as f:
            self.options = {o['name']: o['value'] for o in json.load(f)}

    def path(self, option):
        return os.path.join(self.options['prefix'], self.options[option])

    def installed_in(self, dirs):
        """{basename: source} of the files installed directly in @dirs"""
        return {os.path.basename(dest): src for src, dest in self.installed.items()
                if os.path.dirname(dest) in dirs}


def check_man(b):
    problems = []
    programs = sorted(b.installed_in({b.path('bindir'), b.path('libexecdir')}))
    pages = b.installed_in({os.path.join(b.path('mandir'), 'man1')})
    if not programs:
        problems.append('no installed program found (is the build set up?)')
    for prog in programs:
        if prog + '.1' not in pages:
            problems.append(f'{prog}: installed without a man page ({prog}.1 in docs/man/)')
    man = shutil.which('man')
    if man is None:
        problems.append('man is not installed (sdk/install-deps.sh installs man-db)')
        pages = {}
    env = dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8', MANPAGER='cat', PAGER='cat')
    for name, src in sorted(pages.items()):
        r = subprocess.run([man, '--warnings=all', '-l', src], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0 or r.stderr.strip():
            problems.append(f'{name}: man -l: exit {r.returncode}: {r.stderr.strip()}')
        elif 'NAME' not in r.stdout or len(r.stdout.splitlines()) < 5:
            problems.append(f'{name}: man -l rendered next to nothing')
    print('programs:', ' '.join(programs))
    print('man pages:', ' '.join(sorted(pages)))
    return problems


def check_runpath(b):
    problems = []
    bindir, libdir = b.path('bindir'), b.path('libdir')
    with tempfile.TemporaryDirectory(prefix='dp-install-') as dest:
        r = subprocess.run(['meson', 'install', '-C', b.dir, '--no-rebuild', '--quiet',
                            '--destdir', dest], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if r.returncode != 0:
            return [f'meson install failed:\n{r.stdout}']
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
    return problems


def main():
    what, build = sys.argv[1], sys.argv[2]
    problems = {'man': check_man, 'runpath': check_runpath}[what](Build(build))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
