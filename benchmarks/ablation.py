"""Ablation on the synthetic NIH-format data: plain fastai `vision_learner` + BCE, full CHARM-Xray, and CHARM-Xray
without each component (momentum pathway, memory bank, attention). Same data, pretrained backbone (EfficientNet-Lite0
with its ImageNet weights), batch size and epochs as `charm-demo`, at 128 px (its measured size; the demo itself now runs at 112 px). Not a test: run it and report.

    python benchmarks/ablation.py [--out runs/ablation] [--n 600] [--seeds 0]

Reports validation and test-list mean-class AUC, the mean AUC over the rare findings (the bank's rule: training
prevalence <= 0.2 x that of the most frequent finding), and the training time.
"""
import argparse, json, time, platform, os, dataclasses
from pathlib import Path
import numpy as np, torch
from fastai.vision.all import vision_learner, BCEWithLogitsLossFlat, SaveModelCallback, set_seed
from charm_xray.core import LABELS
from charm_xray.train import train
from charm_xray.cli import demo_config
from charm_xray.data import dataloaders_from_config
from charm_xray.backbones import create_backbone
from charm_xray.callbacks import train_prevalence
from charm_xray.layers import rare_classes
from charm_xray.metrics import MeanClassAUC, MicroAUC, per_class_auc
from charm_xray.data import nih_test_dl

VARIANTS = {  # name: CharmConfig changes (None: the plain vision_learner baseline)
    'plain vision_learner + BCE': None,
    'CHARM-Xray (full)': {},
    'without momentum pathway': dict(ema_decay=0),
    'without memory bank': dict(bank_size=0),
    'without attention': dict(attention=None),
    'none of the three (backbone + head, CHARM recipe)': dict(ema_decay=0, bank_size=0, attention=None),
}

def scores(learn, dls, rare):
    "Validation and test-list mean-class AUC, and the rare-finding mean AUC on each."
    out = {}
    for split, dl in (('valid', dls.valid), ('test', nih_test_dl(dls, dls.test_items, bs=64))):
        p, t = learn.get_preds(dl=dl)
        auc = per_class_auc(t.numpy(), p.float().numpy())
        out[f'{split}_mean_auc'] = float(np.nanmean(auc))
        out[f'{split}_rare_auc'] = float(np.nanmean(auc[rare])) if np.isfinite(auc[rare]).any() else float('nan')
    return out

def plain_run(cfg):
    "The baseline: fastai's vision_learner on the same pretrained backbone, BCE in both stages, same schedule."
    set_seed(cfg.seed)
    dls = dataloaders_from_config(cfg, cfg.stages[0].bs)
    learn = vision_learner(dls, cfg.arch, pretrained=False, n_out=len(LABELS), loss_func=BCEWithLogitsLossFlat(),
                           metrics=[MeanClassAUC(), MicroAUC()], path=cfg.out)
    # the same ImageNet weights as CHARM's backbone (the Lite0 file needs our key mapping, so load it through it)
    learn.model[0].model.load_state_dict(create_backbone(cfg.arch, pretrained=cfg.pretrained).model.state_dict())
    for n, s in enumerate(cfg.stages, 1):            # the run's stages (the paper's two), each with its rate
        learn.freeze() if s.frozen else learn.unfreeze()
        learn.fit_one_cycle(s.epochs, s.lr if s.lr_min is None else slice(s.lr_min, s.lr),
                            cbs=SaveModelCallback(monitor='mean_auc', fname='plain_best') if n == len(cfg.stages) else None)  # best epoch, as charm-train keeps
    return learn, dls

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='runs/ablation'); ap.add_argument('--n', type=int, default=600)
    ap.add_argument('--seeds', default='0')
    a = ap.parse_args()
    res = Path(a.out)/'ablation.json'
    rows = json.loads(res.read_text()) if res.exists() else []   # finished runs are kept; a re-run adds the rest
    for seed in [int(s) for s in a.seeds.split(',')]:
        for i, (name, change) in enumerate(VARIANTS.items()):
            if any(r['variant'] == name and r['seed'] == seed for r in rows): continue
            cfg = demo_config(out=f'{a.out}/seed{seed}/variant{i}', n=a.n, size=128)   # the size it was measured at
            # the schedule this ablation was measured with: batch 32, stage-2 slice(1e-4, 1e-3) (fixed, not the auto recipe)
            cfg = cfg.update(seed=42 + seed, bs1=32, bs2=32, stage2_lr_min=1e-4, stage2_lr_max=1e-3, **(change or {}))
            t0 = time.time()
            if change is None: learn, dls = plain_run(cfg)
            else:
                learn = train(cfg)
                dls = learn.dls
            secs = time.time() - t0
            rare = rare_classes(train_prevalence(dls), 0.2)
            row = dict(variant=name, seed=seed, train_s=round(secs, 1), **scores(learn, dls, rare),
                       rare_findings=[l for l, r in zip(LABELS, rare) if r])
            print(json.dumps(row)); rows.append(row)
            Path(a.out).mkdir(parents=True, exist_ok=True)
            res.write_text(json.dumps(rows, indent=1))
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, no GPU: {not torch.cuda.is_available()}")
    print(f"rare findings: {', '.join(rows[0]['rare_findings'])}\n")
    print("| variant | valid mean AUC | valid rare-class AUC | test mean AUC | test rare-class AUC | training time |")
    print("|---|---|---|---|---|---|")
    for name in VARIANTS:
        rs = [r for r in rows if r['variant'] == name]
        if not rs: continue
        m = lambda k: np.mean([r[k] for r in rs])
        print(f"| {name} | {m('valid_mean_auc'):.3f} | {m('valid_rare_auc'):.3f} | {m('test_mean_auc'):.3f} | "
              f"{m('test_rare_auc'):.3f} | {m('train_s'):.0f} s |")
    print(f"\nMeans over seeds {sorted({r['seed'] for r in rows})}; per seed:")
    for r in rows: print(f"  seed {r['seed']}: {r['variant']}: test mean AUC {r['test_mean_auc']:.3f}, test rare {r['test_rare_auc']:.3f}")

if __name__ == '__main__': main()
