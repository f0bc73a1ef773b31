#!/usr/bin/env python3
"""A simulated Kaggle: run kaggle/train.ipynb and kaggle/test.ipynb as Kaggle would, in a temporary Kaggle root.

CHARM_KAGGLE_ROOT points at a temporary folder with input/, working/ and temp/; NIH-format synthetic data is
attached where Kaggle attaches the real dataset today (input/datasets/organizations/nih-chest-xrays/data). Sessions:
 1. train.ipynb in QUICK mode trains; its run lands in working/run, nothing else does.
 2. A new session (working emptied) with session 1's output attached as a dataset: test.ipynb evaluates it, and
    train.ipynb resumes from it (both stages finished: both skipped).
 3. An earlier output that stopped after stage 1 attached: train.ipynb copies it and trains stage 2 only.
 4. No data attached: train.ipynb stops with the advice and writes nothing.
Usage: kaggle_sim.py [--python PY] [--sessions 1,2,3,4]   (PY runs the notebooks; default: this Python)
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument('--python', default=sys.executable); p.add_argument('--sessions', default='1,2,3,4')
a = p.parse_args()
sessions = {int(s) for s in a.sessions.split(',')}
repo = Path(__file__).resolve().parents[1]
runner = repo/'.ci'/'kaggle_run_notebook.py'
root = Path(tempfile.mkdtemp(prefix='kaggle-sim-'))
inp, work = root/'input', root/'working'
CONFIG = '{arch: resnet18, pretrained: false, size: 64, num_workers: 0, bs1: 32, bs2: 32, stage1_lr: 1.0e-3, stage2_lr_min: 1.0e-4, stage2_lr_max: 1.0e-3}'
env = {**os.environ, 'CHARM_KAGGLE_ROOT': str(root), 'CHARM_QUICK': '1', 'CHARM_ALLOW_CPU': '1', 'CHARM_INTERNET': '0',
       'CHARM_CONFIG': CONFIG, 'MPLBACKEND': 'Agg', 'PYTHONUNBUFFERED': '1'}
t0 = time.time()

def check(cond, what):
    if not cond: sys.exit(f"kaggle_sim FAILED: {what} (Kaggle root {root})")
    print(f"   ok: {what}")

def run(nb, expect_error=None):
    cmd = [a.python, str(runner), str(repo/'kaggle'/nb)] + (['--expect-error', expect_error] if expect_error else [])
    t = time.time()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    out = r.stdout + r.stderr
    if r.returncode: print(out[-6000:]); sys.exit(f"kaggle_sim FAILED: {nb} exited {r.returncode}")
    print(f"   {nb}: {time.time() - t:.0f} s: " + next(l for l in reversed(out.splitlines()) if l.startswith('== ')))
    return out

def new_session():
    "Kaggle gives each session an empty working and temp folder."
    for d in (work, root/'temp'): shutil.rmtree(d, ignore_errors=True); d.mkdir(parents=True)

def files(d): return sorted(str(f.relative_to(d)) for f in d.rglob('*') if f.is_file())

sys.path.insert(0, str(repo))
from charm_xray.synthetic import make_synthetic_nih
nih = inp/'datasets'/'organizations'/'nih-chest-xrays'/'data'
make_synthetic_nih(nih, n=240, size=64, seed=0)
new_session()

print(f"== session 1: train.ipynb, QUICK, on the attached data ({root})")
out = run('train.ipynb')
run1 = work/'run'
check((run1/'best.pth').is_file() and (run1/'results.json').is_file(), 'the run wrote best.pth and results.json in working/run')
check(all(f.startswith('run/') for f in files(work)), 'nothing but the run in the working folder')
check('Stage 1: ' in out and 'training images/s' in out and 'speed estimated' in out, 'the time projection of both stages was printed')
check(f'NIH data: {nih}' in out, 'the NIH data was found four folders down')
stages = [l.split(',')[0] for l in (run1/'history.csv').read_text().splitlines()[1:]]
check(stages == ['1', '2'], 'history.csv holds one epoch of each stage')
earlier = inp/'notebooks'/'me'/'charm-train'/'run'          # session 1's output, attached as a dataset
shutil.copytree(run1, earlier)

if 2 in sessions:
    print("== session 2: test.ipynb evaluates the attached output; train.ipynb resumes from it")
    new_session()
    out = run('test.ipynb')
    check(f'Checkpoint: {earlier}/best.pth' in out and 'official test list' in out, 'test.ipynb evaluated the attached best.pth')
    out = run('train.ipynb')
    check('Continuing the earlier run' in out and 'Stage 1 finished in an earlier session' in out
          and 'Stage 2 finished in an earlier session' in out, 'train.ipynb continued the attached run and skipped both stages')
    check((work/'run'/'history.csv').read_text() == (earlier/'history.csv').read_text(), 'no epoch was trained again')

if 3 in sessions:
    print("== session 3: an earlier output that stopped after stage 1: train.ipynb trains stage 2 only")
    new_session()
    half = inp/'notebooks'/'me'/'charm-train-half'/'run'
    half.mkdir(parents=True)
    for f in ('config.yaml', 'best_stage1.pth'): shutil.copyfile(earlier/f, half/f)
    shutil.copyfile(earlier/'best_stage1.pth', half/'last.pth')     # what last.pth holds after stage 1's last epoch
    lines = (earlier/'history.csv').read_text().splitlines()
    (half/'history.csv').write_text('\n'.join(lines[:2]) + '\n')
    os.utime(half/'last.pth')                                       # the newest attached run
    out = run('train.ipynb')
    check(f'Continuing the earlier run attached at {half}' in out, 'train.ipynb copied the newest attached run')
    stages = [l.split(',')[0] for l in (work/'run'/'history.csv').read_text().splitlines()[1:]]
    check(stages == ['1', '2'] and (work/'run'/'results.json').is_file(), 'stage 1 was skipped, stage 2 trained and the run finished')

if 4 in sessions:
    print("== session 4: no NIH data attached: train.ipynb stops with the advice and writes nothing")
    shutil.rmtree(inp); inp.mkdir(); new_session()
    env.pop('CHARM_DEMO', None)
    run('train.ipynb', expect_error="search 'NIH Chest X-rays'")
    check(files(work) == [], 'the working folder is empty')

shutil.rmtree(root)
print(f"kaggle_sim: sessions {sorted(sessions)} passed in {time.time() - t0:.0f} s")
