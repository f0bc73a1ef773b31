"""Benchmark: does a trained CHARM-Xray model look at the right place? Grad-CAM (and CHARM's attention map) scored
against the synthetic set's `BBox_List_2017.csv` as Wang et al. (2017, Table 4) scored ChestX-ray8: accuracy at
IoBB > T for T = 0.1 ... 0.7 and the pointing-game hit rate, per finding and overall, each beside a baseline that
always points at the image centre (with a centred box of the finding's average size). Not a test: run it and report.

    python benchmarks/bench_localize.py [--n 800] [--size 128] [--epochs1 1] [--epochs2 2] [--out runs/bench_localize]

Trains EfficientNet-Lite0 with its real ImageNet weights (`lite0_weights()`) on synthetic NIH-format films: stage 1
with the backbone frozen (BCE), stage 2 unfrozen (ASL), then scores the boxed images of the test list. Writes
benchmarks/localize_result.md.
"""
import argparse, time, platform, json, os
from pathlib import Path
import torch
from fastai.losses import BCEWithLogitsLossFlat
from charm_xray.core import CharmConfig, DISPLAY_NAMES
from charm_xray.synthetic import make_synthetic_nih
from charm_xray.data import nih_dataloaders
from charm_xray.backbones import lite0_weights
from charm_xray.learner import charm_learner
from charm_xray.losses import get_loss
from charm_xray.metrics import mean_class_auc
from charm_xray.checkpoint import save_checkpoint
from charm_xray.localize import localize, format_localization, IOBB_T

def train_checkpoint(data, out, size, epochs1, epochs2, bs=32):
    "Train Lite0 briefly on `data` and save `out/best.pth` the way learner_from_checkpoint can rebuild it."
    cfg = CharmConfig(data=str(data), out=str(out), arch='efficientnet_lite0', pretrained=False, size=size,
                      bank_size=256, num_workers=0, test_bs=bs).update(bs1=bs, bs2=bs)
    dls = nih_dataloaders(data, size=size, bs=bs, num_workers=0, seed=cfg.seed)
    learn = charm_learner(dls, 'efficientnet_lite0', pretrained=str(lite0_weights()), bank_size=256,
                          loss_func=BCEWithLogitsLossFlat())
    with learn.no_bar():
        learn.fit_one_cycle(epochs1, 2e-3)
        learn.loss_func = get_loss('asl'); learn.unfreeze()
        learn.fit_one_cycle(epochs2, slice(1e-4, 1e-3))
    probs, targs = learn.get_preds(dl=dls.valid)
    auc = mean_class_auc(targs.numpy(), probs.float().numpy())
    return save_checkpoint(Path(out)/'best.pth', learn, cfg, with_opt=False), auc

def table(res):
    "Markdown table: per finding and overall, method vs centre baseline."
    head = '| finding | cases | pointing game | centre | ' + ' | '.join(f'IoBB>{t}' for t in IOBB_T) + ' |'
    lines = [head, '|' + '---|' * (3 + len(IOBB_T) + 1)]
    for f, r in list(res['findings'].items()) + [('**Overall**', res['overall'])]:
        lines.append(f"| {DISPLAY_NAMES.get(f, f)} | {r['n']} | **{r['pointing']:.2f}** | {r['baseline_pointing']:.2f} | " +
                     ' | '.join(f"{r['accuracy'][str(t)]:.2f} ({r['baseline_accuracy'][str(t)]:.2f})" for t in IOBB_T) + ' |')
    return '\n'.join(lines)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=800); ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--epochs1', type=int, default=1); ap.add_argument('--epochs2', type=int, default=2)
    ap.add_argument('--out', default='runs/bench_localize'); ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    out = Path(a.out); data = out/'data'
    if not (data/'BBox_List_2017.csv').exists(): make_synthetic_nih(data, n=a.n, size=a.size, seed=a.seed)
    t0 = time.time()
    ckpt, auc = train_checkpoint(data, out, a.size, a.epochs1, a.epochs2)
    t_train = time.time() - t0
    runs = {}
    for name, kw in [('Grad-CAM, online pathway', dict(method='gradcam')),
                     ('Grad-CAM, momentum pathway', dict(method='gradcam', pathway='momentum')),
                     ('CHARM attention map, online pathway', dict(method='attention'))]:
        t1 = time.time()
        runs[name] = localize(ckpt, **kw, plot=out/f"localize_{kw['method']}{'_momentum' if kw.get('pathway') == 'momentum' else ''}.png")
        runs[name]['seconds'] = time.time() - t1
        print(name); print(format_localization(runs[name]))
    (out/'localize.json').write_text(json.dumps(runs, indent=1))
    g = runs['Grad-CAM, online pathway']
    md = [f"# Localisation benchmark (`benchmarks/bench_localize.py`)", "",
          f"Synthetic NIH-format data: {a.n} films at {a.size} px (seed {a.seed}), official-style split; boxes from the "
          f"generator's `BBox_List_2017.csv` (one per drawn sign of the 8 boxed findings, test-list images only). "
          f"EfficientNet-Lite0 with real ImageNet weights, {a.epochs1} frozen epochs (BCE) + {a.epochs2} unfrozen (ASL), "
          f"batch 32, {a.size} px; validation mean AUC {auc:.3f}. Trained in {t_train:.0f} s on {os.cpu_count()} CPU threads "
          f"({platform.processor() or platform.machine()}, torch {torch.__version__}).", "",
          f"Scored on {g['n_images']} boxed test images ({g['n_cases']} image-finding cases) as Wang et al. (2017, Table 4): "
          f"a box around the largest region of the heatmap at or above {g['heatmap_threshold']} of its maximum, correct when "
          f"IoBB (intersection over the detected box) > T; the pointing game counts a hit when the heatmap's maximum lies "
          f"in a true box. **Centre baseline** in brackets (and in its own column for the pointing game): it always points "
          f"at the image centre and proposes a centred box of the finding's average true size.", ""]
    for name, r in runs.items():
        md += [f"## {name}", "", table(r), "", f"({r['seconds']:.0f} s)", ""]
    md += ["Overall pointing game: " + ', '.join(f"{k} {r['overall']['pointing']:.2f}" for k, r in runs.items()) +
           f"; centre baseline {g['overall']['baseline_pointing']:.2f}.", ""]
    Path(__file__).with_name('localize_result.md').write_text('\n'.join(md))
    print('\n'.join(md))

if __name__ == '__main__': main()
