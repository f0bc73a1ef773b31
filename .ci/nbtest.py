#!/usr/bin/env python
"""Run README.md's test command the way nbdev-test runs it, and count what actually ran.

`nbdev-test` prints "Success." whatever it found, and exits 0 after "No files were eligible for testing", so a run
that tested nothing looks like one that tested everything. This runner takes the README's test command (one or more
`[VAR=value ...] nbdev-test [PATH] [--flags "..."]` joined by `&&`), finds the same notebooks with nbdev's own glob,
skips the same cells (`tst_flags` in pyproject.toml, less the `--flags` given) and executes each notebook with
nbdev's machinery (execnb's `CaptureShell`, working directory the notebook's folder, `IN_TEST=1`), two at a time.
It prints, per notebook, its result, time and cell counts, then every cell skipped by a flag (by notebook, cell and
flag) and every runtime skip a test announced on stderr (a line starting `SKIPPED:`), and closes with

    notebooks: N passed, M failed, K skipped

where N and M count notebooks that executed and K counts skipped cells (by flag or announced). It fails when a
notebook fails, when no notebook ran, when a notebook with code executed no code cell, and when a chapter (a notebook
with `default_exp`) executed no test cell (a code cell that is not exported and does more than import).

    python3 .ci/nbtest.py                 # README.md's test command, counted
    python3 .ci/nbtest.py --self-test     # the runner on tiny notebooks: each defect above must fail
    python3 .ci/nbtest.py --summary FILE  # also write the closing line and skip list to FILE (for .ci/run's end)
    python3 .ci/nbtest.py --command "nbdev-test nbs/00_core.ipynb"   # another command of the same form
"""
import ast, json, os, re, shlex, sys, tempfile, time, traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
SKIP_NOTE = re.compile(r'^SKIPPED: (.*)$', re.M)
EXPORTS = {'export', 'exports', 'exporti', 'exec_doc'}

class RunnerError(Exception): pass

def parse_command(cmd:str) -> list:
    "[(env, path, force_flags)] for each `nbdev-test` of a test command; RunnerError on anything else."
    parts = []
    for part in cmd.split('&&'):
        toks, env = shlex.split(part), {}
        while toks and re.match(r'^[A-Za-z_]\w*=', toks[0]): k, v = toks.pop(0).split('=', 1); env[k] = v
        if not toks or toks[0] != 'nbdev-test': raise RunnerError(f"not an nbdev-test command: {part.strip()!r}")
        path, flags, it = None, [], iter(toks[1:])
        for t in it:
            if t == '--flags': flags += next(it).split()
            elif t.startswith('--flags='): flags += t.split('=', 1)[1].split()
            elif t.startswith('-'): raise RunnerError(f"nbdev-test option this runner does not know: {t} (in {part.strip()!r})")
            elif path is None: path = t
            else: raise RunnerError(f"nbdev-test takes one path, got another: {t}")
        parts.append((env, path, flags))
    return parts

def find_notebooks(path) -> list:
    "The notebooks nbdev-test would test for `path` (None: the project's nbs/), with nbdev's own glob and `.notest` rule."
    from nbdev.doclinks import nbglob
    from nbdev.config import get_config
    if path is not None and Path(path).is_file(): return [Path(path)]
    files = nbglob(path, as_path=True) if path is None or Path(path).exists() else []
    ign = get_config().get('ignore_fname', '.notest')
    return [f for f in files if not (f.parent/ign).exists()]

def _body(src:str) -> str:
    "A cell's code without directive lines, magics and shell escapes."
    return '\n'.join(l for l in src.splitlines() if not re.match(r'\s*(#\||%|!)', l))

def is_test(cell) -> bool:
    "A code cell that checks or shows something: not exported, and more than imports."
    if EXPORTS & set(getattr(cell, 'directives_', {}) or {}): return False
    try: tree = ast.parse(_body(cell.source))
    except SyntaxError: return True
    return any(not isinstance(s, (ast.Import, ast.ImportFrom)) for s in tree.body)

def run_notebook(fn, skip_flags:list, force_flags:list, env:dict, cell_timeout:int=1800) -> dict:
    "Execute one notebook as nbdev-test does; what ran, what was skipped (and why), the error if any."
    from execnb.shell import CaptureShell
    from fastcore.xtras import str2bool, working_directory
    from nbdev.process import NBProcessor, nb_lang
    from nbdev.frontmatter import nb_frontmatter
    from nbdev.test import _skip_cell
    saved = dict(os.environ)
    os.environ.update(env); os.environ['IN_TEST'] = '1'
    fn, t0 = Path(fn), time.time()
    r = dict(nb=str(fn.relative_to(root) if fn.is_relative_to(root) else fn), status='passed', error=None,
             code=0, ran=0, tests=0, skipped=[], notes=[], chapter=False)
    try:
        nb = NBProcessor(fn, rm_directives=False, process=True).nb
        code = [c for c in nb.cells if c.cell_type == 'code']
        r['code'] = len(code)
        r['chapter'] = any('default_exp' in (getattr(c, 'directives_', {}) or {}) for c in code)
        if not code: r['status'] = 'page'; return r
        fm = nb_frontmatter(nb)
        if str2bool(fm.get('skip_exec', False)) or nb_lang(nb) != 'python':
            r.update(status='failed', error='the whole notebook is skipped (skip_exec or not Python): nothing of it ran'); return r
        skip = _skip_cell(nb, skip_flags, force_flags)
        flags = set(skip_flags) - set(force_flags)
        for i, c in enumerate(nb.cells):
            hit = sorted(flags & set(getattr(c, 'directives_', {}) or {}))
            if c.cell_type == 'code' and hit:
                first = next((l for l in _body(c.source).splitlines() if l.strip()), '')[:70]
                r['skipped'].append(f"{r['nb']} cell {i} [{', '.join(hit)}]: {first}")
        ran = []
        def post(cell): ran.append(cell)
        k = CaptureShell(fn, profile=False)
        try:
            with working_directory(fn.parent):
                k.run_all(nb, exc_stop=True, preproc=skip, postproc=post, cell_timeout=cell_timeout)
        except BaseException:
            r.update(status='failed', error=(k.prettytb(fname=fn) or traceback.format_exc())[-4000:])
        r['ran'], r['tests'] = len(ran), sum(map(is_test, ran))
        for c in ran:
            for o in c.get('outputs', []):
                if o.get('output_type') == 'stream' and o.get('name') == 'stderr':
                    r['notes'] += [f"{r['nb']}: {m}" for m in SKIP_NOTE.findall(''.join(o.get('text', '')))]
        if r['status'] == 'passed' and r['ran'] == 0:
            r.update(status='failed', error='no code cell executed (every code cell was skipped)')
        elif r['status'] == 'passed' and r['chapter'] and r['tests'] == 0:
            r.update(status='failed', error='a chapter with no test cell executed: only exports and imports ran')
    except Exception: r.update(status='failed', error=traceback.format_exc()[-4000:])
    finally:
        r['secs'] = time.time() - t0
        os.environ.clear(); os.environ.update(saved)          # the next notebook in this worker sees the environment it was given
    return r

def run_command(cmd:str, workers:int=2, out=print) -> dict:
    "Run every notebook of a README test command; the totals and per-notebook results."
    from nbdev.config import get_config
    skip_flags = get_config().tst_flags.split()
    jobs = []
    for env, path, force in parse_command(cmd):
        jobs += [(f, skip_flags, force, env) for f in find_notebooks(path)]
    results = []
    if jobs:
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context('fork')) as ex:
            futs = [ex.submit(run_notebook, *j) for j in jobs]
            for f in as_completed(futs):
                r = f.result(); results.append(r)
                extra = f", {len(r['skipped'])} skipped by a flag" if r['skipped'] else ''
                out(f"{r['status']:>7} {r['secs']:6.1f} s  {r['nb']}  ({r['ran']} of {r['code']} code cells ran, {r['tests']} tests{extra})", flush=True)
                if r['error']: out(f"        {r['error']}")
    tally = {s: sum(r['status'] == s for r in results) for s in ('passed', 'failed', 'page')}
    skipped = [s for r in results for s in r['skipped']] + [n for r in results for n in r['notes']]
    errors = [] if jobs else [f"no notebook found for the test command {cmd!r}: nothing ran"]
    if jobs and tally['passed'] + tally['failed'] == 0: errors.append('no notebook executed any code')
    return dict(results=results, tally=tally, skipped=skipped, errors=errors,
                line=f"notebooks: {tally['passed']} passed, {tally['failed'] + len(errors)} failed, {len(skipped)} skipped")

def report(res:dict, out=print) -> int:
    "Print the skip list and the closing line; the exit status."
    t = res['tally']
    out(f"\n{t['passed']} notebooks passed, {t['failed']} failed; {t['page']} pages without code (not counted); "
        f"{len(res['skipped'])} cells skipped:")
    for s in res['skipped']: out(f"  skipped: {s}")
    for e in res['errors']: out(f"  error: {e}")
    out(res['line'])
    return 1 if t['failed'] or res['errors'] else 0

def self_test():
    "The runner on tiny notebooks in a temporary folder: a good chapter passes and counts; each defect fails."
    import nbformat
    from nbformat.v4 import new_notebook, new_code_cell, new_markdown_cell
    def nb(path, *cells):
        n = new_notebook(cells=[new_markdown_cell('# T')] + [new_code_cell(c) for c in cells])
        n.metadata['kernelspec'] = dict(name='python3', display_name='Python 3', language='python')
        nbformat.write(n, str(path))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for name, cells, want in [
            ('good', ['#| default_exp x', '#| export\ndef f(): return 1', 'import os', 'assert f() == 1',
                      '#| slow\nraise SystemExit("a slow cell ran")', 'import sys; print("SKIPPED: no GPU here", file=sys.stderr)'],
             dict(status='passed', ran=5, tests=2, skipped=1, notes=1)),
            ('no-tests', ['#| default_exp x', '#| export\ndef f(): return 1', 'import os'], dict(status='failed', tests=0)),
            ('failing', ['#| default_exp x', '#| export\ndef f(): return 1', 'assert f() == 2'], dict(status='failed')),
            ('all-flagged', ['#| slow\nx = 1', '#| cuda\ny = 2'], dict(status='failed', ran=0)),
            ('page', [], dict(status='page'))]:
            (d/name).mkdir(); nb(d/name/'t.ipynb', *cells)
            r = run_notebook(d/name/'t.ipynb', ['notest', 'slow', 'cuda'], [], {})
            got = dict(status=r['status'], ran=r['ran'], tests=r['tests'], skipped=len(r['skipped']), notes=len(r['notes']))
            assert all(got[k] == v for k, v in want.items()), f"self-test {name}: expected {want}, got {got} ({r['error']})"
            print(f"ok ({name}): {r['status']}, {r['ran']} cells ran, {r['tests']} tests, {len(r['skipped'])} skipped by a flag"
                  + (f": {r['error'].strip().splitlines()[-1]}" if r['error'] else ''))
        r = run_notebook(d/'good'/'t.ipynb', ['notest', 'slow', 'cuda'], ['slow'], {})
        assert r['status'] == 'failed' and 'a slow cell ran' in r['error'], r
        print("ok (--flags slow): the slow cell runs")
        os.chdir(root)
        res = run_command(f"nbdev-test {d/'nowhere'}", out=lambda *a, **k: None)
        assert res['errors'] and report(res, out=lambda *a, **k: None) == 1, res
        print(f"ok (no files): {res['errors'][0]}")
        for bad in ['nbdev-test --no-such-option', 'echo hi && nbdev-test']:
            try: parse_command(bad)
            except RunnerError as e: print(f"ok, refused: {e}")
            else: raise AssertionError(f"accepted {bad!r}")
    print("nbtest self-test passed")

def main(args:list) -> int:
    "Run README.md's test command (or `--command CMD`), counted; the exit status."
    from readme_commands import classify
    os.chdir(root)
    cmd = args[args.index('--command') + 1] if '--command' in args else classify((root/'README.md').read_text())['test']
    where = 'given' if '--command' in args else "README.md's test command"
    print(f"$ {cmd}   # {where}, run and counted by .ci/nbtest.py", flush=True)
    try: res = run_command(cmd)
    except RunnerError as e: sys.exit(f"the test command: {e}")
    rc = report(res)
    if '--summary' in args:
        Path(args[args.index('--summary') + 1]).write_text(json.dumps(dict(line=res['line'], skipped=res['skipped'], tally=res['tally'],
            notebooks=[{k: r[k] for k in ('nb', 'status', 'secs', 'ran', 'tests')} for r in res['results']]), indent=1))
    return rc

if __name__ == '__main__':
    args = sys.argv[1:]
    if args[:1] == ['--self-test']: self_test(); sys.exit()
    import nbtest   # run from the module, not __main__: a notebook's IPython shell replaces __main__ in the workers
    sys.exit(nbtest.main(args))
