#!/usr/bin/env python3
"""Run a Kaggle notebook the way "Run All" does: every cell in order, in a real IPython kernel, with papermill.

Usage: kaggle_run_notebook.py NOTEBOOK [-p NAME YAML_VALUE]... [--expect-error TEXT] [--out EXECUTED.ipynb]

- The settings are injected by papermill after the cell tagged `parameters` (`-p GPUS 2`, `-p CONFIG '{size: 64}'`;
  values are YAML), as `papermill -p` does; `!` and `%` lines run as in Jupyter.
- The kernel is an IPython kernel of the Python that runs this script (a kernelspec written for it), so a second
  environment (Kaggle's package versions) runs its notebooks by running this script with its own Python.
- The working directory is Kaggle's working folder under $CHARM_KAGGLE_ROOT (default /kaggle).
- Every cell's output is printed after the run, with its duration, so the caller can check what the notebook said.
- --expect-error TEXT: the run must stop with an error whose message contains TEXT; then it prints
  "== NOTEBOOK stopped at cell N (first line), as expected: ..." and exits 0. Running through is a failure (exit 1).
Exit 1 on a failure, with one line saying at which cell and why.
"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument('notebook')
p.add_argument('-p', '--parameter', nargs=2, action='append', default=[], metavar=('NAME', 'VALUE'))
p.add_argument('--expect-error', default=None)
p.add_argument('--out', default=None)
a = p.parse_args()
try:
    import papermill as pm, yaml
except ImportError as e:
    sys.exit(f"kaggle_run_notebook: {e}: install papermill and ipykernel (pip install -e '.[dev]') for {sys.executable}")

params = {k: yaml.safe_load(v) for k, v in a.parameter}
os.environ.setdefault('MPLBACKEND', 'Agg'); os.environ.setdefault('PYTHONUNBUFFERED', '1')
work = Path(os.environ.get('CHARM_KAGGLE_ROOT') or '/kaggle')/'working'
tmp = Path(tempfile.mkdtemp(prefix='kaggle-nb-'))
out = Path(a.out) if a.out else tmp/Path(a.notebook).name
# a kernelspec for this very Python (not whatever 'python3' means on this machine)
spec = tmp/'jupyter'/'kernels'/'charm-kaggle'
spec.mkdir(parents=True)
(spec/'kernel.json').write_text(json.dumps({'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                                            'display_name': 'charm-kaggle', 'language': 'python'}))
os.environ['JUPYTER_PATH'] = str(tmp/'jupyter') + os.pathsep + os.environ.get('JUPYTER_PATH', '')

name = Path(a.notebook).name
t0, err = time.time(), None
try:
    pm.execute_notebook(a.notebook, str(out), parameters=params, kernel_name='charm-kaggle', progress_bar=False,
                        cwd=str(work) if work.is_dir() else None, start_timeout=120)
except pm.PapermillExecutionError as e: err = e

def text(o):
    "An output as text (nbformat stores text as a string or a list of lines)."
    j = lambda t: ''.join(t) if isinstance(t, list) else t or ''
    if o.get('output_type') == 'stream': return j(o.get('text'))
    if o.get('output_type') == 'error': return f"{o['ename']}: {o['evalue']}\n"
    return j(o.get('data', {}).get('text/plain')) + '\n' if 'data' in o else ''

nb = json.loads(out.read_text()) if out.exists() else {'cells': []}
for i, c in enumerate(nb['cells']):
    if c['cell_type'] != 'code' or not c.get('outputs') and c.get('execution_count') is None: continue
    dur = c.get('metadata', {}).get('papermill', {}).get('duration')
    print(f"-- cell {i}" + (f" ({dur:.1f} s)" if isinstance(dur, (int, float)) else '') + ': ' + ''.join(c['source']).split('\n')[0][:90])
    for o in c.get('outputs', []): print(''.join(text(o)), end='')

import importlib.metadata as md
v = lambda d: md.version(d) if any(True for _ in md.distributions(name=d)) else 'none'
where = f"(fastai {v('fastai')}, fastcore {v('fastcore')}, torch {v('torch')}, accelerate {v('accelerate')}; {sys.executable})"
if err is not None:
    first = ''.join(err.source).strip().split('\n')[0][:100] if err.source else ''
    msg = f"cell {err.cell_index} ({first}): {err.ename}: {str(err.evalue)[:2000]}"
    if a.expect_error is not None and a.expect_error in str(err.evalue):
        print(f"== {name} stopped at {msg}, as expected {where}"); sys.exit(0)
    print(f"== {name} FAILED at {msg} {where}"); sys.exit(1)
if a.expect_error is not None: print(f"== {name} ran through but should have stopped with {a.expect_error!r}"); sys.exit(1)
print(f"== {name} ran in {time.time() - t0:.0f} s {where}")
