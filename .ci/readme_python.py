#!/usr/bin/env python
"""Every ```python block of README.md runs as pasted into a plain `python3` prompt (issue 26).

A reader copies one block into the interactive interpreter, so each block must be self-contained (its own imports,
no names from a hidden notebook cell) and valid line by line at the prompt: there a compound statement ends only
at a blank line, so a one-line `with x: y` followed directly by another statement is a SyntaxError. nbdev-test
runs the notebook as a whole and cannot see either problem.

Each block runs in a fresh `python3` whose `code.InteractiveConsole` is fed the block one line at a time (then one
empty line, the Enter that closes a trailing compound statement); any exception or SyntaxError is a failure. Each
block runs twice: in the clone's root and in a new empty temporary folder (a relative path only valid in the clone
fails there).

    python3 .ci/readme_python.py              # one line per block and folder; exit 1 on any failure
    python3 .ci/readme_python.py --self-test  # the checker on tiny blocks: each kind of defect must fail"""
import re, subprocess, sys, tempfile, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent

# Runs in the fresh interpreter: the block is argv[1]; stops at the first error, with its traceback on stderr.
PASTE = r'''
import code, sys, traceback
class Console(code.InteractiveConsole):
    def showtraceback(self): traceback.print_exc(); sys.exit(1)
    def showsyntaxerror(self, filename=None, **kw): traceback.print_exc(limit=0); sys.exit(1)
con = Console()
for line in sys.argv[1].splitlines() + ['']: con.push(line)
'''

def blocks(text:str) -> list:
    "(first line number, source) of every ```python block of a markdown text."
    return [(text[:m.start()].count('\n') + 2, m.group(1))
            for m in re.finditer(r'^```python[ \t]*\n(.*?)^```', text, flags=re.M | re.S)]

def paste(src:str, cwd) -> tuple:
    "Feed `src` line by line to a fresh interactive `python3` in `cwd`: (ok, seconds, error text)."
    t = time.time()
    r = subprocess.run([sys.executable, '-c', PASTE, src], cwd=cwd, capture_output=True, text=True)
    return r.returncode == 0, time.time() - t, '\n'.join(r.stderr.strip().splitlines()[-20:])   # the traceback's end

def check(text:str, name='README.md') -> bool:
    "Paste every python block of `text` in the root and in a temporary folder, print one line each; all passed?"
    ok_all = True
    for line, src in blocks(text):
        for where in ('root', 'temp'):
            with tempfile.TemporaryDirectory(prefix='readme-paste-') as tmp:
                ok, secs, err = paste(src, root if where == 'root' else tmp)
            print(f"{name} python block at line {line}, from the {where} folder: {'ok' if ok else 'FAILED'} ({secs:.1f} s)", flush=True)
            if not ok: print('    ' + err.replace('\n', '\n    ')); ok_all = False
    return ok_all

def self_test():
    "A good block passes from both folders; each defect fails where it should."
    good = "import os\n\nfor i in range(2):\n    x = i\n\nprint(os.sep, x)\nif x:\n    print('a trailing compound statement')\n"
    assert paste(good, root)[0] and paste(good, tempfile.gettempdir())[0], "a good block failed"
    bad = {'one-line with, then a statement': ("import contextlib\nwith contextlib.nullcontext(): x = 1\nprint(x)\n", root),
           'NameError (a name from a hidden cell)': ("test_eq(1, 1)\n", root),
           'an exception': ("import json\njson.loads('{')\n", root),
           'path valid only in the root, run elsewhere': ("open('pyproject.toml').close()\n", tempfile.gettempdir())}
    for name, (src, cwd) in bad.items():
        ok, _, err = paste(src, cwd)
        assert not ok, f"the checker passed a bad block: {name}"
        print(f"ok, failed ({name}): {err.splitlines()[-1]}")
    assert paste(bad['path valid only in the root, run elsewhere'][0], root)[0], "the root-only path failed in the root"
    print("readme_python self-test passed")

if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']: self_test()
    elif not check((root/'README.md').read_text()): sys.exit("README.md: a python block fails when pasted (above).")
