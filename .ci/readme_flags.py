#!/usr/bin/env python
"""Every `--option` README.md gives a `charm-*` command is an option of that command (its `--help`), issue 26.

A renamed or imagined flag in the README (`--batch-size` for charm-train, which has `--bs1`, `--bs2`, `--test-bs`)
fails only when a reader types it; this check reads the README's claims and asks each command's argparse help.

Which command a flag belongs to:
- ```sh blocks: each command (continuation lines joined, `# comments` dropped, split at `&&`, `||`, `;`, `|`):
  the flags after a `charm-*` word belong to it (`torchrun --standalone ... charm-train`: torchrun's are skipped);
- prose (a paragraph, or one table row): inline code and bare `charm-*` words in reading order; a flag in inline
  code belongs to the last `charm-*` command named before it in that paragraph or row, so `charm-test` ...
  (`--split valid`) and "a flag of `charm-train` (both spellings: `--valid-pct` and `--valid_pct`)" are checked.
Commands are the console scripts of pyproject.toml; options are the invocations in `--help`'s option lines.

    python3 .ci/readme_flags.py              # list what was checked; exit 1 naming each wrong flag
    python3 .ci/readme_flags.py --self-test  # the checker on a tiny README with a fake flag (it must fail)"""
import re, shlex, subprocess, sys
from functools import cache
from pathlib import Path

root = Path(__file__).resolve().parent.parent
FLAG = re.compile(r'^--[A-Za-z][\w-]*')

def commands() -> set:
    "The console scripts of pyproject.toml's [project.scripts]."
    m = re.search(r'^\[project\.scripts\]\n(.*?)(?=^\[|\Z)', (root/'pyproject.toml').read_text(), flags=re.M | re.S)
    return set(re.findall(r'^([\w-]+)\s*=', m.group(1), flags=re.M))

@cache
def options(cmd:str) -> set:
    "The options of `cmd --help` (the invocations of its option lines, aliases included)."
    r = subprocess.run([cmd, '--help'], capture_output=True, text=True)
    if r.returncode: raise SystemExit(f"`{cmd} --help` failed (exit {r.returncode}): {r.stderr.strip()[-300:]}")
    return {f for l in r.stdout.splitlines() if re.match(r'\s+-', l) for f in re.findall(r'--[\w-]+', re.split(r'\s{2,}', l.strip())[0])}

def claims(text:str, cmds:set) -> list:
    "(command, flag, where) for every flag README `text` gives a command."
    out, fence, prose = [], None, []
    for i, l in enumerate(text.replace('\\\n', ' ').splitlines()):   # fence: None in prose, else the block's language
        if l.startswith('```'): fence = (l[3:].strip() or 'text') if fence is None else None; prose.append(''); continue
        if fence in ('sh', 'bash', 'shell'):   # one command at a time; other blocks (python, outputs) are skipped
            for part in re.split(r'&&|\|\||;|\|', re.sub(r'(^|\s)#.*$', '', l)):
                owner = None
                for tok in part.split():
                    if tok in cmds: owner = tok
                    elif owner and FLAG.match(tok): out.append((owner, FLAG.match(tok).group(), f"line {i+1}: {l.strip()}"))
        elif fence is None: prose.append(l)
    for unit in re.split(r'\n\s*\n|\n(?=\|)', '\n'.join(prose)):   # paragraphs and table rows
        current = None
        for m in re.finditer(r'`([^`\n]+)`|\b(charm-[\w-]+)', unit):
            words = (m.group(1) or m.group(2)).split()
            owner = current if FLAG.match(words[0]) else None   # `torchrun --x charm-train`: not torchrun's flags
            for w in words:
                if w in cmds: owner = current = w
                elif owner and FLAG.match(w): out.append((owner, FLAG.match(w).group(), ' '.join(unit.split())[:90]))
    return out

def check(text:str, cmds:set) -> list:
    "The wrong claims: (command, flag, where) whose flag is not among the command's options."
    return [c for c in claims(text, cmds) if c[1] not in options(c[0])]

def self_test():
    "A tiny README: its real flags pass, a fake one in a sh block and one in prose fail."
    cmds = commands()
    good = ("# x\n\n```sh\ncharm-test best.pth --num-samples -1   # all\n```\n\n| `charm-test` | (`--split valid`) |\n\n"
            "A flag of `charm-train` (both: `--valid-pct` and `--valid_pct`). `torchrun --standalone charm-train`\n\n"
            "```python\nx = '--not-checked'\n```\n")
    got = claims(good, cmds)
    assert [(c, f) for c, f, _ in got] == [('charm-test', '--num-samples'), ('charm-test', '--split'),
                                           ('charm-train', '--valid-pct'), ('charm-train', '--valid_pct')], got
    assert check(good, cmds) == [], check(good, cmds)
    for bad in [good.replace('--num-samples', '--no-such-flag'), good.replace('--valid_pct', '--batch_size')]:
        wrong = check(bad, cmds)
        assert len(wrong) == 1, f"the checker passed a fake flag: {wrong}"
        print(f"ok, refused: {wrong[0][0]} has no {wrong[0][1]} ({wrong[0][2]})")
    print("readme_flags self-test passed")

if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']: self_test(); sys.exit()
    text, cmds = (root/'README.md').read_text(), commands()
    found = claims(text, cmds)
    for cmd in sorted({c for c, _, _ in found}): print(f"{cmd}: {' '.join(sorted({f for c, f, _ in found if c == cmd}))}")
    wrong = check(text, cmds)
    for cmd, flag, where in wrong: print(f"README.md: {cmd} has no {flag} (see `{cmd} --help`): {where}")
    if wrong: sys.exit(1)
