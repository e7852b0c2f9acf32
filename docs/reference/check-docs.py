#!/usr/bin/env python3
"""The reference's own rules, beyond what `gi-docgen check` sees.

    check-docs.py Dp-1.0.gir HEADER...

- every public type (class, interface, boxed record, enum, flags,
  callback, function-like macro) has a worked example in its doc comment
  (a |[ ... ]| or ``` block);
- every public symbol in the GIR (the types, their methods, constructors,
  functions, properties and signals, the namespace's functions and
  constants) says `Since:`;
- the macros of the public headers that the GIR cannot carry (an object-like
  DP_PLACE_EXPORT) have a doc comment with an example and `Since:` too.

Prints one line per gap and exits 1 if there is any.
"""
import re
import sys
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'
TYPES = ('class', 'interface', 'record', 'enumeration', 'bitfield', 'callback',
         'function-macro')
MEMBERS = ('method', 'constructor', 'function', 'property', GLIB + 'signal',
           'virtual-method')
# the macros a header defines that are API but not in the GIR
HEADER_ONLY_MACROS = ('DP_PLACE_EXPORT',)


def doc_of(el):
    d = el.find(CORE + 'doc')
    return d.text if d is not None and d.text else ''


def has_example(text):
    return '|[' in text or '```' in text


def main():
    gir, headers = sys.argv[1], sys.argv[2:]
    gaps = []
    ns = ET.parse(gir).getroot().find(CORE + 'namespace')
    for el in ns:
        tag = el.tag.replace(CORE, '')
        name = el.get('name')
        if tag == 'record' and el.get(GLIB + 'is-gtype-struct-for'):
            continue                    # DpNodeClass and the like
        if tag == 'docsection':
            continue
        if el.get('introspectable') == '0' and tag not in TYPES:
            pass                        # still public C API: checked
        if el.get('version') is None:
            gaps.append(f'{tag} Dp.{name}: no Since:')
        if tag in TYPES and not has_example(doc_of(el)):
            gaps.append(f'{tag} Dp.{name}: no example in its doc comment')
        for m in el:
            mtag = m.tag.replace(CORE, '')
            if m.tag.replace(CORE, '') not in MEMBERS and m.tag not in MEMBERS:
                continue
            if mtag == 'virtual-method':
                continue                # documented with the class struct
            if m.get('version') is None:
                gaps.append(f'{mtag.replace(GLIB, "")} Dp.{name}.{m.get("name")}: no Since:')

    text = ''.join(open(h, encoding='utf-8').read() for h in headers)
    for macro in HEADER_ONLY_MACROS:
        m = re.search(r'/\*\*\s*\n\s*\*\s*' + macro + r':(.*?)\*/', text, re.S)
        if m is None:
            gaps.append(f'macro {macro}: no doc comment')
            continue
        if not has_example(m.group(1)):
            gaps.append(f'macro {macro}: no example in its doc comment')
        if 'Since:' not in m.group(1):
            gaps.append(f'macro {macro}: no Since:')

    for g in gaps:
        print(g)
    if gaps:
        print(f'check-docs: {len(gaps)} gap(s)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
