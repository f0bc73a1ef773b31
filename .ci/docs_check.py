#!/usr/bin/env python
"""Checks on the processed notebooks of the docs step (`_proc/`, written by `nbdev.serve.proc_nbs`, what Quarto
would render), none needing Quarto:

1. no stderr, error or warning output in any processed notebook (a warning with the build machine's path, a traceback);
2. no markdown list that follows a paragraph line without the blank line Pandoc needs (GitHub forgives it, Pandoc
   renders running text);
3. every function and class in a module's `__all__` has a doc entry (a `show_doc` heading) with a docstring;
4. no doc entry's anchor collides with a heading of its page (Quarto would give one of them `-1` and links to the
   entry would land on the heading);

and `nbs/sidebar.yml` (written by nbdev-docs) is ignored by git (5), and the docs show at least six pictures, one on the
landing page (6).

    python3 .ci/docs_check.py              # after proc_nbs; exits 1 listing every problem, by check
    python3 .ci/docs_check.py --self-test  # each check on tiny notebooks: a clean one passes, a defect fails
"""
import importlib, inspect, json, re, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def _src(c): return ''.join(c.get('source', ''))
def _md_outputs(c):
    for o in c.get('outputs', []):
        t = o.get('data', {}).get('text/markdown')
        if t is not None: yield ''.join(t)

def check_outputs(nbs:dict) -> list:
    "Check 1: stderr streams, errors, and warnings or tracebacks in any output."
    bad = []
    for name, nb in nbs.items():
        for i, c in enumerate(nb['cells']):
            for o in c.get('outputs', []):
                if o['output_type'] == 'error': bad.append(f"{name} cell {i}: error output {o.get('ename')}: {o.get('evalue', '')[:100]}")
                elif o['output_type'] == 'stream' and o.get('name') == 'stderr':
                    bad.append(f"{name} cell {i}: stderr output: {''.join(o.get('text', '')).strip()[:120]!r}")
                else:
                    text = ''.join(o.get('text', '')) + ''.join(''.join(v) for k, v in o.get('data', {}).items() if k.startswith('text/'))
                    m = re.search(r'Traceback \(most recent call last\)|\b\w*Warning: ', text)
                    if m: bad.append(f"{name} cell {i}: {m.group(0).strip()} in an output")
    return bad

_ITEM = re.compile(r'^ {0,3}([-*+]|\d+[.)])\s+\S')
def list_problems(md:str) -> list:
    "Lines of markdown `md` that start a list inside a paragraph (no blank line before it; outside code fences)."
    bad, fence, prev, ok = [], None, '', True   # ok: the current block may hold list items (it began with one, or with a heading/table)
    for line in md.splitlines():
        s = line.strip()
        if fence:
            if s.startswith(fence): fence, prev = None, ''
            continue
        m = re.match(r'(`{3,}|~{3,})', s)
        if m: fence, prev = m.group(1), ''; continue
        if not s: prev = ''; continue
        if not prev: ok = bool(_ITEM.match(line))
        elif re.match(r'\s*(#|\||>|<)', prev) and _ITEM.match(line): ok = True
        if _ITEM.match(line) and not ok: bad.append(s[:80])
        prev = line
    return bad

def check_lists(nbs:dict) -> list:
    "Check 2: markdown cells (and markdown outputs) whose lists lack the blank line before them."
    bad = []
    for name, nb in nbs.items():
        for i, c in enumerate(nb['cells']):
            mds = [_src(c)] if c['cell_type'] == 'markdown' else list(_md_outputs(c))
            for md in mds:
                bad += [f"{name} cell {i}: list without a blank line before it: {l!r}" for l in list_problems(md)]
    return bad

_DOC = re.compile(r'^#{2,4} (\S+)\s*$', re.M)
def doc_entries(nb:dict) -> dict:
    "{name: docstring} of the `show_doc` entries of a processed notebook (their markdown outputs)."
    out = {}
    for c in nb['cells']:
        if 'show_doc' not in _src(c): continue
        for md in _md_outputs(c):
            m = _DOC.search(md)
            if not m: continue
            rest = re.sub(r'```.*?```', '', md[m.end():], flags=re.S)
            out[m.group(1).split('.')[-1]] = re.sub(r'[*\s]+', ' ', rest).strip()
    return out

def check_docstrings(nbs:dict, public:dict) -> list:
    "Check 3: every function and class of `public` ({module: {name: object}}) has a doc entry with a docstring."
    entries = {}
    for nb in nbs.values():
        for k, v in doc_entries(nb).items(): entries[k] = entries.get(k) or v
    bad = []
    for mod, names in public.items():
        for n, o in names.items():
            if not (inspect.isfunction(o) or inspect.isclass(o)): continue
            if n not in entries: bad.append(f"{mod}.{n}: no doc entry in the processed notebooks")
            elif not entries[n] or not (o.__doc__ or '').strip(): bad.append(f"{mod}.{n}: doc entry without a docstring")
    return bad

def slug(heading:str) -> str:
    "Pandoc's automatic identifier of a heading."
    s = re.sub(r'`|\*|\[|\]\([^)]*\)', '', heading).strip().lower()
    s = re.sub(r'[^\w\s.-]', '', s)
    s = re.sub(r'\s+', '-', s)
    return re.sub(r'^[^a-z]+', '', s) or 'section'

def check_anchors(nbs:dict) -> list:
    "Check 4: a doc entry's anchor equal to the anchor of a markdown heading of the same page."
    bad = []
    for name, nb in nbs.items():
        heads = {}
        for c in nb['cells']:
            if c['cell_type'] != 'markdown': continue
            fence = False
            for line in _src(c).splitlines():
                if line.lstrip().startswith('```'): fence = not fence
                m = None if fence else re.match(r'#{1,6} (.+?)\s*#*\s*$', line)
                if m: heads[slug(m.group(1))] = m.group(1)
        for e in doc_entries(nb):
            if slug(e) in heads: bad.append(f"{name}: doc entry {e!r} and heading {heads[slug(e)]!r} share the anchor #{slug(e)}; rename the heading")
    return bad

MD_IMAGE = re.compile(r'!\[[^\]]*\]\((?!https?:)([^)\s]+)\)')

def count_pictures(nb:dict) -> int:
    "Pictures a notebook shows: image outputs kept in it, and markdown images of files committed beside it (nbs/)."
    outs = sum(any(m.startswith('image/') for m in o.get('data', {})) for c in nb['cells'] for o in c.get('outputs', []))
    return outs + sum(len(MD_IMAGE.findall(_src(c))) for c in nb['cells'] if c['cell_type'] == 'markdown')

def check_pictures(nbs:dict, least:int=6, base:Path|None=None) -> list:
    "Check 6: the docs show at least `least` pictures (image outputs, or markdown images of existing files), one of them on the landing page; no markdown image is missing."
    base = base or root/'nbs'
    n = {k: count_pictures(nb) for k, nb in nbs.items()}
    bad = [f"{k}: markdown image {f} not found in {base}" for k, nb in nbs.items() for c in nb['cells'] if c['cell_type'] == 'markdown'
           for f in MD_IMAGE.findall(_src(c)) if not (base/f).is_file()]
    bad += [f"only {sum(n.values())} pictures in the docs ({', '.join(f'{k} {v}' for k, v in n.items() if v) or 'none'}); keep at least {least} (a cell's image output, committed)"] if sum(n.values()) < least else []
    if 'index.ipynb' in nbs and not n.get('index.ipynb'): bad.append("the landing page (index.ipynb) shows no picture")
    return bad

def public_names() -> dict:
    "{module: {name: object}} of every charm_xray module's `__all__`."
    out = {}
    for f in sorted((root/'charm_xray').glob('*.py')):
        if f.stem.startswith('_'): continue
        m = importlib.import_module(f'charm_xray.{f.stem}')
        out[m.__name__] = {n: getattr(m, n) for n in getattr(m, '__all__', []) if getattr(getattr(m, n), '__module__', m.__name__) == m.__name__}
    return out

def run_all(nbs:dict, public:dict) -> dict:
    return {'1 stderr/error output': check_outputs(nbs), '2 lists without a blank line': check_lists(nbs),
            '3 exported names without a doc entry or docstring': check_docstrings(nbs, public),
            '4 doc anchors colliding with headings': check_anchors(nbs), '6 pictures in the docs': check_pictures(nbs)}

def _nb(*cells): return {'cells': list(cells)}
def _md(s): return {'cell_type': 'markdown', 'source': s}
def _doc(name, doc):
    md = f"---\n\n### {name}\n\n```python\ndef {name}(x):\n```\n\n" + (f"*{doc}*" if doc else '')
    return {'cell_type': 'code', 'source': f'#| echo: false\nshow_doc({name})',
            'outputs': [{'output_type': 'execute_result', 'data': {'text/markdown': md, 'text/plain': md}}]}

def self_test():
    "Each check on tiny notebooks: the clean one passes all four, each defect is caught by its own check."
    def f():
        "Has a docstring."
    def g(): pass
    clean = {'ok.ipynb': _nb(_md("# Title\n\n## Building a thing\n\nText:\n\n- one\n- two\n  continued\n\n| a | b |\n|---|---|\n\n```\nx\n- not a list\n```"),
                             _doc('f', 'Has a docstring.'),
                             {'cell_type': 'code', 'source': 'f()', 'outputs': [{'output_type': 'stream', 'name': 'stdout', 'text': 'fine\n'}]})}
    img = {'cell_type': 'code', 'source': 'plot()', 'outputs': [{'output_type': 'display_data', 'data': {'image/png': 'iVBOR', 'text/plain': '<Figure>'}}]}
    clean['index.ipynb'] = _nb(_md('# Landing page'), *[img] * 6)
    res = run_all(clean, {'m': {'f': f, 'CONST': 3}})
    assert not any(res.values()), res
    defects = {
        '1 stderr/error output': {'w.ipynb': _nb({'cell_type': 'code', 'source': 'import x', 'outputs': [
            {'output_type': 'stream', 'name': 'stderr', 'text': '/x/torch/jit/_script.py:1491: FutureWarning: `torch.jit.script` is deprecated.\n'}]})},
        '2 lists without a blank line': {'l.ipynb': _nb(_md("**Setup.**\n1. Add the data\n2. Pick a GPU"))},
        '3 exported names without a doc entry or docstring': {'d.ipynb': _nb(_doc('f', 'Has a docstring.'), _doc('g', ''))},
        '4 doc anchors colliding with headings': {'a.ipynb': _nb(_md('## create_backbone\n\nText.'), _doc('f', 'Has a docstring.'),
                                                                  _md('## f'))},
    }
    for check, nbs in defects.items():
        public = {'m': {'f': f, 'g': g}} if check.startswith('3') else {}
        got = {k: v for k, v in run_all({**nbs, 'index.ipynb': clean['index.ipynb']}, public).items() if v}
        assert list(got) == [check], (check, got)
        print(f"ok, check {check} fails on its defect: {got[check][0]}")
    assert check_docstrings({}, {'m': {'f': f}}) == ['m.f: no doc entry in the processed notebooks']
    assert len(check_pictures({'index.ipynb': _nb(img), 'a.ipynb': _nb(img)})) == 1 and len(check_pictures({'index.ipynb': _nb(), 'a.ipynb': _nb(*[img] * 6)})) == 1
    broken = {'cell_type': 'markdown', 'source': '![x](images/no-such-picture.png)'}
    assert any('not found' in b for b in check_pictures({'index.ipynb': _nb(img), 'a.ipynb': _nb(*[img] * 6, broken)}))
    print("ok, check 6 pictures in the docs fails with too few pictures, none on the landing page, or a missing markdown image")
    test_slug = {'create_backbone': 'create_backbone', 'The `Backbone` class': 'the-backbone-class', '2. Data': 'data'}
    for h, s in test_slug.items(): assert slug(h) == s, (h, slug(h), s)
    print("docs_check self-test passed")

if __name__ == '__main__':
    if '--self-test' in sys.argv: self_test(); sys.exit()
    proc = root/'_proc'
    files = sorted(p for p in proc.glob('*.ipynb')) if proc.exists() else []
    if not files: sys.exit("docs check: no processed notebooks in _proc/: run the docs step (proc_nbs) first.")
    nbs = {p.name: json.loads(p.read_text()) for p in files}
    res = run_all(nbs, public_names())
    r = subprocess.run(['git', 'check-ignore', '-q', 'nbs/sidebar.yml'], cwd=root)
    tracked = subprocess.run(['git', 'ls-files', '--error-unmatch', 'nbs/sidebar.yml'], cwd=root, capture_output=True).returncode == 0
    res['5 nbs/sidebar.yml ignored or committed'] = [] if r.returncode == 0 or tracked else ['nbs/sidebar.yml is neither ignored nor committed (.gitignore)']
    n_bad = 0
    for check, problems in res.items():
        print(f"docs check {check}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for p in problems: print(f"  {p}")
        n_bad += len(problems)
    pics = {k: count_pictures(nb) for k, nb in nbs.items()}
    print(f"{len(nbs)} processed notebooks checked; pictures: {sum(pics.values())} ({', '.join(f'{k} {v}' for k, v in pics.items() if v)})")
    if n_bad: sys.exit(f"docs check failed: {n_bad} problem(s) above")
