#!/usr/bin/env python3
"""A simulated Kaggle: kaggle/train.ipynb and kaggle/test.ipynb run as Kaggle runs them, in a temporary Kaggle root.

Each notebook runs with papermill in an IPython kernel (.ci/kaggle_run_notebook.py: settings injected after the
cell tagged `parameters`, `!`/`%` lines executed). CHARM_KAGGLE_ROOT points at a temporary folder with input/ and
working/; NIH-format synthetic data (240 films, 64 px) is attached where Kaggle attaches the real dataset today
(input/datasets/organizations/nih-chest-xrays/data). The internet is off (CHARM_INTERNET=0). Sessions:
 1. train.ipynb with GPUS = 2 on two CPU processes (torchrun running charm-train, gloo), image cache on, and no
    temp/ folder: temp/ is created and the cache written there; the run (results.json, plots, best.pth) lands in
    working/run; rank 0 alone prints the 12-hour projection of each stage.
 2. A new session with session 1's output attached: test.ipynb evaluates it.
 6. A new session with session 1's output attached: train.ipynb (one process) resumes from it and skips both stages.
 3. An earlier output that stopped after stage 1 attached: train.ipynb copies it and trains stage 2 in the kernel.
 4. No data attached: train.ipynb stops with the advice and writes nothing.
 5. Internet off, pretrained weights asked for and none attached: train.ipynb stops at the preflight, before the
    image cache, with the advice.
Usage: kaggle_sim.py [--python PY] [--sessions 1,2,3,4,5,6] [--bundle DIR]
  PY runs papermill and so the kernel (default: this Python). DIR (a charm-kaggle-bundle folder) is attached as a
  dataset, and PY must not have charm_xray yet: the notebooks' install cell installs it from there, as on a Kaggle
  notebook with the internet off.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument('--python', default=sys.executable); p.add_argument('--sessions', default='1,2,3,4,5,6')
p.add_argument('--bundle', default=None)
a = p.parse_args()
sessions = {int(s) for s in a.sessions.split(',')}
repo = Path(__file__).resolve().parents[1]
runner = repo/'.ci'/'kaggle_run_notebook.py'
root = Path(tempfile.mkdtemp(prefix='kaggle-sim-'))
inp, work = root/'input', root/'working'
TINY = dict(arch='resnet18', pretrained=False, size=64, num_workers=0, bs1=32, bs2=32, stage1_lr=1e-3,
            stage2_lr_min=1e-4, stage2_lr_max=1e-3, stage1_epochs=1, stage2_epochs=1)
env = {**os.environ, 'CHARM_KAGGLE_ROOT': str(root), 'CHARM_INTERNET': '0', 'MPLBACKEND': 'Agg', 'PYTHONUNBUFFERED': '1',
       'OMP_NUM_THREADS': '1'}
for k in [k for k in env if k.startswith('CHARM_') and k not in ('CHARM_KAGGLE_ROOT', 'CHARM_INTERNET')]: env.pop(k)
if a.bundle: env.pop('PYTHONPATH', None)   # the notebooks must install charm-xray from the bundle, not see this checkout
t0 = time.time()

def check(cond, what):
    if not cond: sys.exit(f"kaggle_sim FAILED: {what} (Kaggle root {root})")
    print(f"   ok: {what}")

def run(nb, expect_error=None, **params):
    "Run a notebook with papermill; return its printed output."
    params = {'ALLOW_CPU': True, **params}
    cmd = [a.python, str(runner), str(repo/'kaggle'/nb)] + [x for k, v in params.items() for x in ('-p', k, json.dumps(v))]
    cmd += ['--expect-error', expect_error] if expect_error else []
    t = time.time()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    out = r.stdout + r.stderr
    last = next((l for l in reversed(out.splitlines()) if l.startswith('== ')), '(no summary line)')
    if r.returncode: print(out[-8000:]); sys.exit(f"kaggle_sim FAILED: {nb} {params}: {last}")
    print(f"   {nb}: {time.time() - t:.0f} s: {last}")
    return out

def new_session(temp=True):
    "Kaggle gives each session an empty working folder (and, usually, an empty temp folder)."
    for d in (work, root/'temp'): shutil.rmtree(d, ignore_errors=True)
    work.mkdir(parents=True)
    if temp: (root/'temp').mkdir()

def files(d): return sorted(str(f.relative_to(d)) for f in d.rglob('*') if f.is_file())

sys.path.insert(0, str(repo))
from charm_xray.synthetic import make_synthetic_nih
nih = inp/'datasets'/'organizations'/'nih-chest-xrays'/'data'
make_synthetic_nih(nih, n=240, size=64, seed=0)
if a.bundle: shutil.copytree(a.bundle, inp/'datasets'/'ci-check'/'charm-xray-wheels')
earlier = inp/'notebooks'/'me'/'charm-train'/'run'          # session 1's output, attached as a dataset

print(f"== session 1: train.ipynb, GPUS = 2 (two CPU processes), image cache on, no temp/ folder ({root})")
new_session(temp=False)
out = run('train.ipynb', GPUS=2, CONFIG=TINY)
run1 = work/'run'
if a.bundle:
    check('Installing charm-xray: --no-index --find-links' in out and 'charm-xray-wheels' in out and 'Installed.' in out,
          'the install cell installed charm-xray from the attached wheel')
check("torch.distributed.run --standalone --nproc_per_node=2 --no-python" in out and 'The 2 training processes finished' in out,
      'torchrun ran charm-train in 2 processes, its output streamed into the notebook')
res = json.loads((run1/'results.json').read_text()) if (run1/'results.json').is_file() else {}
check(res.get('world_size') == 2 and (run1/'best.pth').is_file(), 'the 2-process run wrote best.pth and results.json (world_size 2)')
check({'history.png', 'roc_valid.png'} <= set(os.listdir(run1/'plots')), 'the plots were written')
check(out.count('training images/s') == 2 and 'Stage 1: ' in out and 'speed estimated' in out,
      'the 12-hour projection was printed once per stage (rank 0 only)')
check(f"Created {root/'temp'}" in out and len(list((root/'temp'/'charm-cache-64').glob('*.png'))) == 240,
      'temp/ was created and the image cache written there')
check(all(f.startswith('run/') for f in files(work)), 'nothing but the run in the working folder')
check(f'NIH data: {nih}' in out, 'the NIH data was found four folders down')
stages = [l.split(',')[0] for l in (run1/'history.csv').read_text().splitlines()[1:]]
check(stages == ['1', '2'], 'history.csv holds one epoch of each stage')
check('Validation mean-class AUC' in out.split('The 2 training processes finished')[1], 'the notebook read the finished run back')
shutil.copytree(run1, earlier)

if 2 in sessions:
    print("== session 2: test.ipynb evaluates the attached output")
    new_session()
    out = run('test.ipynb', QUICK=True)
    check(f'Checkpoint: {earlier}/best.pth' in out and 'official test list' in out, 'test.ipynb evaluated the attached best.pth')

if 6 in sessions:
    print("== session 6: train.ipynb resumes from the attached finished output")
    new_session()
    out = run('train.ipynb', QUICK=True, CONFIG=TINY)
    check('Continuing the earlier run' in out and 'Stage 1 finished in an earlier session' in out
          and 'Stage 2 finished in an earlier session' in out, 'train.ipynb continued the attached run and skipped both stages')
    check((work/'run'/'history.csv').read_text() == (earlier/'history.csv').read_text(), 'no epoch was trained again')

if 3 in sessions:
    print("== session 3: an earlier output that stopped after stage 1: train.ipynb trains stage 2 only, in the kernel")
    new_session()
    half = inp/'notebooks'/'me'/'charm-train-half'/'run'
    half.mkdir(parents=True)
    for f in ('config.yaml', 'best_stage1.pth'): shutil.copyfile(earlier/f, half/f)
    shutil.copyfile(earlier/'best_stage1.pth', half/'last.pth')     # what last.pth holds after stage 1's last epoch
    lines = (earlier/'history.csv').read_text().splitlines()
    (half/'history.csv').write_text('\n'.join(lines[:2]) + '\n')
    os.utime(half/'last.pth')                                       # the newest attached run
    out = run('train.ipynb', QUICK=True, CONFIG=TINY)
    check(f'Continuing the earlier run attached at {half}' in out, 'train.ipynb copied the newest attached run')
    stages = [l.split(',')[0] for l in (work/'run'/'history.csv').read_text().splitlines()[1:]]
    check(stages == ['1', '2'] and (work/'run'/'results.json').is_file(), 'stage 1 was skipped, stage 2 trained and the run finished')
    check(out.count('training images/s') == 1, 'the projection of stage 2 was printed')

if 5 in sessions:
    print("== session 5: internet off, no weights attached: train.ipynb stops at the preflight, before the image cache")
    for d in ('notebooks',): shutil.rmtree(inp/d, ignore_errors=True)
    new_session()
    out = run('train.ipynb', expect_error='the timm hub cannot be reached', CONFIG={**TINY, 'pretrained': True})
    check('device = preflight' in out.split('stopped at cell', 1)[1].split('\n')[0], 'it stopped in the preflight cell')
    check('--weights resnet18' in out and 'Image cache' not in out and not (root/'temp'/'charm-cache-64').exists(),
          'with the advice, and before the cache step')

if 4 in sessions:
    print("== session 4: no NIH data attached: train.ipynb stops with the advice and writes nothing")
    shutil.rmtree(inp); inp.mkdir(); new_session()
    run('train.ipynb', expect_error="search 'NIH Chest X-rays'", CONFIG=TINY)
    check(files(work) == [], 'the working folder is empty')

shutil.rmtree(root)
print(f"kaggle_sim: sessions {sorted(sessions | {1})} passed in {time.time() - t0:.0f} s")
