#!/usr/bin/env python3
"""upgrade-draft.py OLD.sql NEW.sql [--sync STEP.sql] — the function part of an upgrade step.

OLD.sql is a released install script (extension/releases/), NEW.sql today's
(cat extension/schema/*.sql). Prints, in install order, CREATE OR REPLACE of
every function that is new or whose definition changed, with its COMMENT and
grants when those are new or changed, and a comment line for each function
that is gone (write its DROP FUNCTION by hand, with its argument types, also
when a signature changed). Tables, types, triggers, grants of tables and data
are not drafted: write them by hand. test/sh/upgrade.sh tells what is missing.

With --sync STEP.sql it updates that step in place instead: every CREATE OR
REPLACE FUNCTION already there gets today's definition (and its COMMENT, when
the step has one), and every function changed since OLD.sql that the step
lacks is added, with its comment and grants (a function whose words alone
changed: its COMMENT), before the line
"-- Triggers ---" that ends the step's function section.
"""
import re
import sys


def statements(text):
    """{name: [CREATE FUNCTION statements]} of an install script."""
    out = {}
    for m in re.finditer(r'^CREATE FUNCTION ([a-z_]+\.[a-z_0-9]+)\(', text, re.M):
        body = re.compile(r'\sAS\s+').search(text, m.start()).end()
        if text[body] == '$':
            tag = re.match(r'\$[A-Za-z_]*\$', text[body:]).group(0)
            end = text.index(';', text.index(tag, body + len(tag)) + len(tag)) + 1
        else:
            end = text.index(';\n', body) + 1
        out.setdefault(m.group(1), []).append(text[m.start():end])
    return out


def comment(text, name):
    m = re.search(r'^COMMENT ON FUNCTION ' + re.escape(name) + r"\(.*?';$", text, re.M | re.S)
    return m.group(0) if m else ''


def grants(text, name):
    return '\n'.join(re.findall(r'^(?:REVOKE|GRANT) [^\n]* ON FUNCTION ' + re.escape(name) + r'\([^\n]*;$', text, re.M))


def sync(old_text, new_text, step_path):
    step = open(step_path).read()
    old, new = statements(old_text), statements(new_text)
    present = statements(step.replace('CREATE OR REPLACE FUNCTION', 'CREATE FUNCTION'))
    for name, stmts in present.items():
        if name not in new:
            continue
        # One definition today: every copy in the step gets it (merges of
        # two branches' steps may leave two copies; the later one wins).
        fresh_list = new[name] * len(stmts) if len(new[name]) == 1 else new[name]
        for cur, fresh in zip(stmts, fresh_list):
            step = step.replace(cur.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION', 1),
                                fresh.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION', 1), 1)
        if comment(new_text, name):
            step = re.sub(r'^COMMENT ON FUNCTION ' + re.escape(name) + r"\(.*?';$",
                          lambda m: comment(new_text, name), step, flags=re.M | re.S)
    added = []
    for name in sorted(new, key=lambda n: new_text.index('CREATE FUNCTION ' + n + '(')):
        if name in present:
            continue
        if old.get(name) == new[name]:
            # Same body, new words: the COMMENT alone (once).
            if comment(old_text, name) != comment(new_text, name) and comment(new_text, name) not in step:
                added.append(comment(new_text, name) + '\n')
            continue
        part = [s.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION', 1) for s in new[name]]
        part += [x for x in (comment(new_text, name), grants(new_text, name)) if x]
        added.append('\n'.join(part) + '\n')
    if added:
        marker = step.index('-- Triggers ---')
        step = step[:marker] + '\n'.join(added) + '\n' + step[marker:]
    open(step_path, 'w').write(step)
    print(f'{step_path}: {len(present)} definitions refreshed, {len(added)} added')


def main(old_path, new_path):
    old_text, new_text = open(old_path).read(), open(new_path).read()
    old, new = statements(old_text), statements(new_text)
    for name in sorted(set(old) - set(new)):
        print(f'-- {name}: gone (DROP FUNCTION {name}(...) by hand)')
    for name in sorted(new, key=lambda n: new_text.index('CREATE FUNCTION ' + n + '(')):
        if old.get(name) == new[name]:
            if comment(old_text, name) != comment(new_text, name):
                print(comment(new_text, name) + '\n')
            continue
        for stmt in new[name]:
            print(stmt.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION', 1))
        for extra in (comment, grants):
            part = extra(new_text, name)
            if part and (name not in old or part != extra(old_text, name)):
                print(part)
        print()


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[3] == '--sync':
        sync(open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[4])
    elif len(sys.argv) == 3:
        main(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
