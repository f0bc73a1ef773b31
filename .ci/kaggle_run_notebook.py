#!/usr/bin/env python3
"""Run a Kaggle notebook's code cells in order, in one namespace, the way "Run All" does on Kaggle.

Usage: kaggle_run_notebook.py NOTEBOOK [--expect-error TEXT]
The notebook reads its settings from CHARM_* environment variables (CHARM_KAGGLE_ROOT, CHARM_QUICK, ...). Lines
starting with '!' or '%' (shell and magics) are skipped. The working directory is Kaggle's working folder when it
exists. With --expect-error, the run must stop with an exception whose message contains TEXT (exit 0), and
running through is a failure. This needs no nbdev or Jupyter, so it also runs in an environment with fastcore 1.x.
"""
import argparse, json, os, sys, time, traceback
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument('notebook'); p.add_argument('--expect-error', default=None)
a = p.parse_args()
os.environ.setdefault('MPLBACKEND', 'Agg')
nb = json.loads(Path(a.notebook).read_text())
work = Path(os.environ.get('CHARM_KAGGLE_ROOT') or '/kaggle')/'working'
if work.is_dir(): os.chdir(work)
ns = {'__name__': '__main__'}
t0 = time.time()
for i, c in enumerate(nb['cells']):
    if c['cell_type'] != 'code': continue
    src = ''.join(l for l in ''.join(c['source']).splitlines(True) if not l.lstrip().startswith(('!', '%')))
    tc = time.time()
    try: exec(compile(src, f'{Path(a.notebook).name}[cell {i}]', 'exec'), ns)
    except Exception as e:
        if a.expect_error is not None and a.expect_error in str(e):
            print(f"== {a.notebook} stopped at cell {i}, as expected: {type(e).__name__}: {e}"); sys.exit(0)
        traceback.print_exc(); print(f"== {a.notebook} FAILED at cell {i}"); sys.exit(1)
    print(f"-- cell {i}: {time.time() - tc:.1f} s")
if a.expect_error is not None: print(f"== {a.notebook} ran through but should have stopped with {a.expect_error!r}"); sys.exit(1)
import fastai, fastcore, torch
print(f"== {a.notebook} ran in {time.time() - t0:.0f} s (fastai {fastai.__version__}, fastcore {fastcore.__version__}, torch {torch.__version__})")
