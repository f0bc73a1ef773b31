"""Do test-time views or the momentum pathway score better than the plain online prediction? (issue 30, item 4)

For each of the project's two synthetic generators and each seed (a seed draws a new data set and seeds the
training), one small model is trained as `charm-demo` trains (EfficientNet-Lite0 with its real ImageNet weights,
2 + 3 epochs, the automatic recipe) but CPU-cheap (N images, 64 px); then its test split is predicted with every
option of `charm-test` (`evaluate.averaged_preds`):

- `online`, 1 view: the plain prediction, the baseline every other option is paired with;
- `--tta 4`, `--tta 8` on the online pathway (`evaluate.TTA_VIEWS`: small zooms and shifts, no flip);
- `--pathway momentum` (the EMA copy), `--pathway both` (mean of the two), each with 1 and 4 views.

Each difference is paired: the same model, the same test films. Its 95 % CI comes from a bootstrap over the test
images (the same resamples for the option and the baseline; `metrics._boot_counts`, `metrics._boot_class_aucs`,
as `auc_report` draws them); a generator's difference is the mean over its seeds, its CI from the seeds'
independent resamples averaged. An option "wins" only if its CI lies above 0 on BOTH generators.

    python benchmarks/bench_tta.py [--out runs/tta] [--n 400] [--size 64] [--seeds 0,1,2]

Resumable: OUT/GEN_seedS/preds.npz keeps each model's predictions; a second call skips what is there.
`--generators charm-synth` and `--generators eval-synth` run as two parallel workers on a busy machine; then
`--report-only` writes the result from every model there.
Writes benchmarks/tta_result.md.
"""
import argparse, json, shutil, sys, time
from pathlib import Path
import numpy as np
from charm_xray.core import durable_write
from charm_xray.synthetic import demo_data
from charm_xray.cli import demo_config
from charm_xray.train import train
from charm_xray.checkpoint import learner_from_checkpoint
from charm_xray.data import nih_test_dl
from charm_xray.metrics import mean_class_auc, _boot_counts, _boot_class_aucs
from charm_xray.evaluate import averaged_preds
sys.path.insert(0, str(Path(__file__).parent))
from eval_synth import eval_data, EVAL_SYNTH_VERSION
from conditions import Conditions

OPTIONS = (('online', 1), ('online', 4), ('online', 8), ('momentum', 1), ('momentum', 4), ('both', 1), ('both', 4))
"(pathway, views) of every option measured; the first is the baseline."
GENERATORS = ('charm-synth', 'eval-synth')
N_BOOT = 1000

def key(pw, n): return f"{pw}_tta{n}"
def name(pw, n): return 'online, 1 view (baseline)' if (pw, n) == OPTIONS[0] else f"`--pathway {pw}`" + (f" `--tta {n}`" if n > 1 else '')

def data_for(gen, n, seed):
    return demo_data(n=n, size=128, seed=seed) if gen == 'charm-synth' else eval_data(n=n, size=128, seed=seed)

def run_one(gen, seed, n, size, out):
    "Train one small model (or reuse it) and save its test predictions under every option."
    d = out/f"{gen}_seed{seed}"
    if (d/'preds.npz').exists(): return
    if not (d/'best.pth').exists():
        shutil.rmtree(d, ignore_errors=True)
        cfg = demo_config(str(d), size=size, data=str(data_for(gen, n, seed))).update(seed=42 + seed, num_workers=0)   # charm-demo's
        t0 = time.time(); train(cfg); durable_write(d/'train_s.txt', f"{time.time() - t0:.0f}")
    learn, cfg, _ = learner_from_checkpoint(d/'best.pth', bs=64)
    dl = nih_test_dl(learn.dls, learn.dls.test_items, bs=64)
    preds, secs = {}, {}
    for pw, k in OPTIONS:
        t0 = time.time(); p, t = averaged_preds(learn, dl, tta=k, pathway=pw); secs[key(pw, k)] = time.time() - t0
        preds[key(pw, k)] = p.numpy()
    tmp = d/'preds.tmp.npz'
    np.savez(tmp, targs=t.numpy(), **preds); tmp.rename(d/'preds.npz')
    durable_write(d/'secs.json', json.dumps(secs))

def boot_means(t, p, seed):
    "Mean-class AUC in each of N_BOOT resamples of the test images (the resamples of `auc_report` with this seed)."
    W = _boot_counts(len(t), N_BOOT, seed)
    with np.errstate(all='ignore'):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            return np.nanmean(_boot_class_aucs(t, p, W), axis=1)

def report(out, seeds, n, size, cond):
    base = key(*OPTIONS[0])
    rows, summary = [], {}
    for gen in GENERATORS:
        diffs = {key(*o): [] for o in OPTIONS[1:]}; boots = {key(*o): [] for o in OPTIONS[1:]}
        for s in seeds:
            f = out/f"{gen}_seed{s}"/'preds.npz'
            if not f.exists(): continue
            z = np.load(f); t = z['targs']
            secs = json.loads((out/f"{gen}_seed{s}"/'secs.json').read_text())
            b0, a0 = boot_means(t, z[base], s), mean_class_auc(t, z[base])
            rows.append(f"| {gen} | {s} | {len(t)} | {name(*OPTIONS[0])} | {a0:.4f} | | {secs[base]:.1f} s |")
            for o in OPTIONS[1:]:
                k = key(*o); a = mean_class_auc(t, z[k]); bd = boot_means(t, z[k], s) - b0
                lo, hi = np.nanpercentile(bd, [2.5, 97.5])
                diffs[k].append(a - a0); boots[k].append(bd)
                rows.append(f"| {gen} | {s} | {len(t)} | {name(*o)} | {a:.4f} | {a - a0:+.4f} [{lo:+.4f}, {hi:+.4f}] | {secs[k]:.1f} s |")
        for k in diffs:
            if not diffs[k]: continue
            m = float(np.mean(diffs[k])); lo, hi = np.nanpercentile(np.mean(boots[k], axis=0), [2.5, 97.5])
            summary.setdefault(k, {})[gen] = (m, float(lo), float(hi), len(diffs[k]))
    lines = [cond.header("Test-time views and pathways against the plain online prediction (issue 30)"),
             f"Small models trained as `charm-demo` trains (EfficientNet-Lite0 with its real ImageNet weights, 2 + 3 epochs, "
             f"automatic recipe, momentum 0.99, memory bank 256) but CPU-cheap: {n} NIH-format films per data set (128 px files "
             f"read at {size} px), one model per generator and seed (a seed draws a new data set and seeds the training; seeds "
             f"asked: {', '.join(map(str, seeds))}; models finished: " + '; '.join(f"{g} {', '.join(str(s) for s in seeds if (out/f'{g}_seed{s}'/'preds.npz').exists()) or 'none'}" for g in GENERATORS) +
             f"). Generators: `charm-synth` (the project's own, `charm_xray.synthetic`) and "
             f"`eval-synth` (`benchmarks/eval_synth.py` v{EVAL_SYNTH_VERSION}, written for evaluation only). Scored by "
             f"mean-class ROC-AUC on each data set's whole test list. Every difference is paired with the plain online prediction "
             f"of the same model on the same films; brackets: 95 % bootstrap CI over the test images ({N_BOOT} resamples). "
             f"Synthetic films only: this says what the options do on these generators, not on NIH. AUCs do not depend on the "
             f"machine's load; the prediction times do.", "",
             "## Per generator (mean over seeds of the paired difference; CI from the seeds' bootstrap resamples averaged)", "",
             "| option | " + " | ".join(GENERATORS) + " | wins on both? |", "|---|" + "---:|" * len(GENERATORS) + "---|"]
    winners = []
    for o in OPTIONS[1:]:
        k = key(*o); s = summary.get(k, {})
        cells = [f"{s[g][0]:+.4f} [{s[g][1]:+.4f}, {s[g][2]:+.4f}] ({s[g][3]} seeds)" if g in s else 'n/a' for g in GENERATORS]
        win = all(g in s and s[g][1] > 0 for g in GENERATORS)
        if win: winners.append((min(s[g][0] for g in GENERATORS), o))
        lines.append(f"| {name(*o)} | " + " | ".join(cells) + f" | {'yes' if win else 'no'} |")
    few = [g for g in GENERATORS if sum((out/f'{g}_seed{s}'/'preds.npz').exists() for s in seeds) < 3]
    verdict = (f"**Incomplete:** fewer than 3 finished models on {', '.join(few)}: no option can be declared a winner from "
               "this file; `charm-test` keeps the plain prediction (`--tta 1`, the checkpoint's own pathway) as its default. "
               "Finish it with the same command (resumable: models and predictions already in OUT are reused)." if few else
               f"**Verdict:** {name(*max(winners)[1])} is above the plain prediction beyond its CI on both generators."
               if winners else "**Verdict:** no option is above the plain online prediction beyond its CI on both generators: "
               "`charm-test` keeps the plain prediction (`--tta 1`, the checkpoint's own pathway) as its default.")
    base_aucs = [float(r.split('|')[5]) for r in rows if 'baseline' in r]
    if base_aucs and min(base_aucs) < 0.65:
        verdict += (f" Read with care: the plain prediction of these models scores {min(base_aucs):.4f}-{max(base_aucs):.4f} "
                    "(0.5 is chance): models this small and short barely learned, and what views or the EMA copy do to them "
                    "says little about a trained model. A run with models that learned (larger images, more films or epochs) "
                    "is what decides a default.")
    lines += ["", verdict, "", "## Every model", "",
              "| generator | seed | test films | option | mean AUC | difference [95 % CI] | prediction time |", "|---|---:|---:|---|---:|---:|---:|", *rows]
    durable_write(Path(__file__).with_name('tta_result.md'), '\n'.join(lines) + '\n')
    durable_write(out/'summary.json', json.dumps(dict(summary=summary, winners=[list(w[1]) for w in winners]), indent=1))
    return lines

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='runs/tta'); ap.add_argument('--n', type=int, default=400)
    ap.add_argument('--size', type=int, default=64); ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--generators', default=','.join(GENERATORS), help='train and predict only these (parallel workers); the report reads all')
    ap.add_argument('--report-only', action='store_true')
    a = ap.parse_args()
    cond, out, seeds = Conditions(), Path(a.out), [int(s) for s in a.seeds.split(',')]
    out.mkdir(parents=True, exist_ok=True)
    if not a.report_only:
        for s in seeds:
            for gen in a.generators.split(','): run_one(gen, s, a.n, a.size, out)
    print('\n'.join(report(out, seeds, a.n, a.size, cond)))

if __name__ == '__main__': main()
