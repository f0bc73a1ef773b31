#!/usr/bin/env python
"""The shell commands of README.md's Quick start, read from README.md itself, so CI runs exactly what a user pastes.

The Quick start section (`## Quick start`, up to the next `## ` heading) holds ```sh blocks; each command in them
(a line, or lines joined by a trailing backslash; `#` comments and blank lines dropped) is one of:

- `install`: the `pip install ...` line,
- `demo`: the main job, the line running `charm-demo`,
- `test`: the test command, the line running `nbdev-test`.

Each must appear exactly once, any other command in those blocks is an error, and every command must pass
`bash -n`.

    python3 .ci/readme_commands.py              # check, then print the three commands
    python3 .ci/readme_commands.py --run test   # check, then run that command with bash (-e -o pipefail)
    python3 .ci/readme_commands.py --self-test  # the checker on tiny READMEs (a garbled one must fail, a stale one fail when run)

Exits 1 with one line naming the problem."""
import re, shutil, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
KINDS = {'install': r'^pip install\b', 'demo': r'(^|[\s;&|])charm-demo\b', 'test': r'(^|[\s;&|])nbdev-test\b'}

class ReadmeError(Exception): pass

def quick_start(text:str) -> str:
    "The Quick start section of a README."
    m = re.search(r'^## Quick start[^\n]*\n(.*?)(?=^## |\Z)', text, flags=re.M | re.S)
    if not m: raise ReadmeError("README.md has no '## Quick start' section.")
    return m.group(1)

def commands(text:str) -> list:
    "Every command of the Quick start's ```sh blocks, continuation lines joined."
    cmds = []
    for block in re.findall(r'^```(?:sh|bash|shell)\s*\n(.*?)^```', quick_start(text), flags=re.M | re.S):
        cur = ''
        for line in block.splitlines():
            if not cur and (not line.strip() or line.lstrip().startswith('#')): continue
            if line.rstrip().endswith('\\'): cur += line.rstrip()[:-1] + ' '; continue
            cmds.append((cur + line).strip()); cur = ''
        if cur: cmds.append(cur.strip())
    return cmds

def classify(text:str) -> dict:
    "{'install': cmd, 'demo': cmd, 'test': cmd} from a README; ReadmeError if any is missing, doubled, unknown or not valid bash."
    found = {}
    for c in commands(text):
        r = subprocess.run(['bash', '-n', '-c', c], capture_output=True, text=True)
        if r.returncode: raise ReadmeError(f"Quick start command is not valid bash ({r.stderr.strip().splitlines()[-1]}): {c}")
        kinds = [k for k, pat in KINDS.items() if re.search(pat, c)]
        if len(kinds) != 1: raise ReadmeError(f"Quick start command is none (or more than one) of {list(KINDS)}: {c}")
        if kinds[0] in found: raise ReadmeError(f"Quick start has two {kinds[0]} commands: {found[kinds[0]]!r} and {c!r}")
        found[kinds[0]] = c
    missing = [k for k in KINDS if k not in found]
    if missing: raise ReadmeError(f"Quick start lacks the {', '.join(missing)} command(s) in its ```sh blocks.")
    return found

def run(kind:str, cmd:str) -> int:
    "Run one README command with bash (-e -o pipefail) in the project root; its exit status."
    print(f"$ {cmd}   # README.md, Quick start ({kind})", flush=True)
    return subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', cmd], cwd=root).returncode

def self_test():
    "The checker on tiny READMEs: a good one passes, each kind of defect fails."
    good = "# x\n\n## Quick start\n\n```sh\npip install -e \".[dev]\"   # install\ncharm-demo\n```\n\ntext\n\n" \
           "```sh\nnbdev-test && CHARM_DEMO=1 \\\n  nbdev-test kaggle\n```\n\n## Next\n\n```sh\necho other\n```\n"
    got = classify(good)
    assert got == {'install': 'pip install -e ".[dev]"   # install', 'demo': 'charm-demo',
                   'test': 'nbdev-test && CHARM_DEMO=1    nbdev-test kaggle'}, got
    bad = {'garbled (issue 16)': good.replace('CHARM_DEMO=1', 'CHARM_## Demo results (synthetic data, not NIH) … here.)=1'),
           'no demo': good.replace('charm-demo\n', ''),
           'two installs': good.replace('charm-demo\n', 'charm-demo\npip install x\n'),
           'unknown command': good.replace('charm-demo\n', 'charm-demo\nmake all\n'),
           'no section': good.replace('## Quick start', '## Start')}
    for name, text in bad.items():
        try: classify(text)
        except ReadmeError as e: print(f"ok, refused ({name}): {e}")
        else: raise AssertionError(f"the checker accepted a README with a defect: {name}")
    if shutil.which('nbdev-test'):   # a stale command (valid bash, an option nbdev-test no longer has) fails when run
        stale = classify(good.replace('nbdev-test && CHARM_DEMO', 'nbdev-test --no-such-option && CHARM_DEMO'))['test']
        rc = run('test', stale)
        assert rc != 0, f"a stale test command ran with exit 0: {stale}"
        print(f"ok, a stale command fails when run (exit {rc})")
    else: print("(nbdev-test not installed yet: the run of a stale command is not tried)")
    print("readme_commands self-test passed")

if __name__ == '__main__':
    args = sys.argv[1:]
    if args[:1] == ['--self-test']: self_test(); sys.exit()
    try: cmds = classify((root/'README.md').read_text())
    except ReadmeError as e: sys.exit(f"README.md: {e}")
    if args[:1] == ['--run']:
        kind = args[1] if len(args) > 1 else ''
        if kind not in cmds: sys.exit(f"--run takes one of {list(cmds)}, not {kind!r}")
        rc = run(kind, cmds[kind])
        if rc: sys.exit(f"README.md's {kind} command failed (exit {rc}): {cmds[kind]}")
    else:
        for k, c in cmds.items(): print(f"{k}: {c}")
