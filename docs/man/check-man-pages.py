#!/usr/bin/env python3
"""Every installed program has an installed man page, and each installed
page renders with `man -l` without a warning.

    check-man-pages.py BUILDDIR

Reads what `meson install` would install from BUILDDIR/meson-info
(intro-installed.json, the same as `meson introspect --installed`): the
programs are the files installed in bindir or libexecdir, the pages the
files installed in mandir/man1. Prints one line per problem; exits 1 if
there is any.
"""
import json
import os
import shutil
import subprocess
import sys


def option(options, name):
    for o in options:
        if o['name'] == name:
            return o['value']
    raise KeyError(name)


def main():
    build = sys.argv[1]
    info = os.path.join(build, 'meson-info')
    with open(os.path.join(info, 'intro-installed.json'), encoding='utf-8') as f:
        installed = json.load(f)
    with open(os.path.join(info, 'intro-buildoptions.json'), encoding='utf-8') as f:
        options = json.load(f)
    prefix = option(options, 'prefix')
    prog_dirs = {os.path.join(prefix, option(options, d)) for d in ('bindir', 'libexecdir')}
    man1 = os.path.join(prefix, option(options, 'mandir'), 'man1')

    programs = sorted(os.path.basename(dest) for dest in installed.values()
                      if os.path.dirname(dest) in prog_dirs)
    pages = {os.path.basename(dest): src for src, dest in installed.items()
             if os.path.dirname(dest) == man1}
    problems = []
    if not programs:
        problems.append('no installed program found (is the build set up?)')
    for prog in programs:
        if prog + '.1' not in pages:
            problems.append(f'{prog}: installed without a man page ({prog}.1 in docs/man/)')

    man = shutil.which('man')
    if man is None:
        problems.append('man is not installed (sdk/install-deps.sh installs man-db)')
    else:
        env = dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8', MANPAGER='cat', PAGER='cat')
        for name, src in sorted(pages.items()):
            r = subprocess.run([man, '--warnings=all', '-l', src], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0 or r.stderr.strip():
                problems.append(f'{name}: man -l: exit {r.returncode}: {r.stderr.strip()}')
            elif 'NAME' not in r.stdout or len(r.stdout.splitlines()) < 5:
                problems.append(f'{name}: man -l rendered next to nothing')

    print(f'programs: {" ".join(programs)}')
    print(f'man pages: {" ".join(sorted(pages))}')
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
