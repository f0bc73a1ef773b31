"""Which epoch should a small-data run keep, its best validation epoch or its last? (issue 32) Not a test: run it and report.

The plan, with the rule for adopting `keep='last'`, was committed before any run: `benchmarks/keep_epoch_plan.md`.
On fresh data of both generators (data seed 7, which no other benchmark draws), per training seed: the default
`auto` recipe keeping each stage's best validation epoch (`keep='best'`), the same keeping the last epoch
(`keep='last'`, as fastai's `fine_tune`), and plain fastai `fine_tune`; EfficientNet-Lite0 with its ImageNet weights,
charm-demo's model (bank 256), 800 films drawn and trained at 128 px, 2 + 4 epochs by default.

    python benchmarks/keep_epoch.py [--out runs/keep_epoch] [--data charm-synth,eval-synth] [--data-seed 7]
                                    [--n 800] [--size 128] [--epochs 2,4] [--seeds 0,1,2] [--jobs 2]

Each data set trains in its own process (one torch thread each); finished runs are kept in `OUT/<data>/runs.json`
and a re-run only adds the missing ones. Writes benchmarks/keep_epoch_result.md and .json.
"""
import argparse, json, os, sys
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ablation import data_folder, one_run, load_runs, auc_resampled, run_workers

VARIANTS = {'keep best': dict(keep='best'), 'keep last': dict(keep='last'), 'plain fastai fine_tune': None}
PAIRS = [('keep last', 'keep best'), ('keep best', 'plain fastai fine_tune'), ('keep last', 'plain fastai fine_tune')]

def worker(a):
    "Every (seed, variant) run of one data set, skipping the finished ones."
    import torch
    torch.set_num_threads(1)
    from charm_xray.cli import _plain_progress
    _plain_progress()
    root = Path(a.out)/a.worker; root.mkdir(parents=True, exist_ok=True)
    res, rows = root/'runs.json', load_runs(root)
    data = data_folder(a.worker, a.n, a.data_seed)
    for seed in a.seeds:
        for i, (name, change) in enumerate(VARIANTS.items()):
            if any(r['variant'] == name and r['seed'] == seed for r in rows): continue
            out = root/f'seed{seed}'/f'v{i}'; out.mkdir(parents=True, exist_ok=True)
            row = one_run(name, change, data, out, a.size, seed, a.epochs)
            row['preds'] = str(out.relative_to(root)/'test_preds.npz')
            print('ROW', json.dumps(row), flush=True); rows.append(row)
            tmp = res.with_suffix('.tmp'); tmp.write_text(json.dumps(rows, indent=1)); os.replace(tmp, res)

def compare(root:Path, rows:list, B:int=2000) -> dict:
    "For each pair (a, b): per-seed test AUC differences a - b, their mean, and a 95% paired bootstrap CI over test images."
    preds = {(r['variant'], r['seed']): dict(np.load(root/r['preds'], allow_pickle=True)) for r in rows}
    auc = {(r['variant'], r['seed']): r['test_mean_auc'] for r in rows}
    n = len(next(iter(preds.values()))['targs'])
    idx = np.random.default_rng(0).integers(0, n, (B, n))
    out = {}
    for va, vb in PAIRS:
        seeds = sorted(s for (v, s) in preds if v == va and (vb, s) in preds)
        if not seeds: continue
        for s in seeds: assert (preds[va, s]['images'] == preds[vb, s]['images']).all(), 'paired runs must share the test images'
        boot = np.mean([auc_resampled(preds[va, s]['targs'], preds[va, s]['preds'], idx)
                        - auc_resampled(preds[vb, s]['targs'], preds[vb, s]['preds'], idx) for s in seeds], 0)
        d = {s: auc[va, s] - auc[vb, s] for s in seeds}
        out[f'{va} - {vb}'] = dict(seeds=seeds, diff=d, mean_diff=float(np.mean(list(d.values()))),
                                   ci=[float(x) for x in np.nanpercentile(boot, [2.5, 97.5])])
    return out

def report(a, cond):
    body, js = [], {}
    for d in a.data:
        root = Path(a.out)/d
        rows = load_runs(root)
        if not rows: continue
        comp = compare(root, rows)
        js[d] = dict(rows=rows, comparison=comp)
        seeds = sorted({r['seed'] for r in rows})
        r0 = rows[0]
        body += [f"### {d} (data seed {a.data_seed})", "", f"{r0['n_train']} training, {r0['n_valid']} validation, {r0['n_test']} test images.", "",
                 "| variant | " + " | ".join(f"seed {s}" for s in seeds) + " | mean test AUC | train time |", "|---|" + "---:|" * (len(seeds) + 2)]
        for v in VARIANTS:
            vr = {r['seed']: r for r in rows if r['variant'] == v}
            if not vr: continue
            body.append(f"| {v} | " + " | ".join(f"{vr[s]['test_mean_auc']:.3f}" if s in vr else '—' for s in seeds)
                        + f" | {np.mean([r['test_mean_auc'] for r in vr.values()]):.3f} | {np.mean([r['train_s'] for r in vr.values()]):.0f} s |")
        body += ["", "| difference | per seed | mean | 95% CI (paired bootstrap over test images) |", "|---|---|---:|---|"]
        for k, c in comp.items():
            body.append(f"| {k} | {', '.join(f'{x:+.3f}' for x in c['diff'].values())} | {c['mean_diff']:+.3f} | [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}] |")
        body.append("")
    # the plan's rule (benchmarks/keep_epoch_plan.md): adopt 'last' if the mean of last - best over all pairs is above 0
    # and neither generator's mean is below -0.01
    k = 'keep last - keep best'
    per = {d: js[d]['comparison'][k]['mean_diff'] for d in js if k in js[d]['comparison']}
    pairs = [x for d in js if k in js[d]['comparison'] for x in js[d]['comparison'][k]['diff'].values()]
    adopt = bool(pairs) and len(per) == 2 and np.mean(pairs) > 0 and min(per.values()) >= -0.01
    body += ["## The plan's rule", "",
             f"- last minus best over all {len(pairs)} (generator, seed) pairs: {np.mean(pairs):+.3f}" if pairs else "- no pairs",
             *[f"- {d}: {v:+.3f}" for d, v in per.items()],
             f"- rule (above 0 overall, no generator below -0.01, both generators run): {'ADOPT' if adopt else 'DO NOT ADOPT'} `keep='last'` below 5,000 training images", ""]
    intro = [f"EfficientNet-Lite0 with its offline ImageNet weights, charm-demo's model (bank 256), the `auto` recipe "
             f"(batch 32, stage 1 rate 5e-3, stage 2 slice(1e-4, 5e-3)), {a.epochs[0]} + {a.epochs[1]} epochs; synthetic sets of "
             f"{a.n} films drawn at 128 px with data seed {a.data_seed}, trained at {a.size} px, their official-style test lists; "
             f"seeds {','.join(map(str, a.seeds))} (config seed 42 + seed). Plain fastai: `vision_learner` + BCE, "
             f"`fine_tune({a.epochs[1]}, freeze_epochs={a.epochs[0]})` at its default rate 2e-3, its last epoch. A difference's CI is a 95% "
             "percentile interval over 2,000 paired bootstrap resamples of the test images (the same for every seed), so it "
             "covers the test sample, not the seed-to-seed spread. The plan and its rule: benchmarks/keep_epoch_plan.md.", ""]
    if a.note: intro += [a.note, ""]
    text = cond.header('Keep the best validation epoch or the last? (issue 32)') + '\n'.join(intro + body)
    (HERE/'keep_epoch_result.md').write_text(text)
    (HERE/'keep_epoch_result.json').write_text(json.dumps(dict(settings=dict(n=a.n, size=a.size, epochs=a.epochs, data_seed=a.data_seed,
                                                                            seeds=a.seeds), adopt_last=adopt, results=js), indent=1))
    print(text)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='runs/keep_epoch'); ap.add_argument('--data', default='charm-synth,eval-synth')
    ap.add_argument('--data-seed', type=int, default=7); ap.add_argument('--n', type=int, default=800)
    ap.add_argument('--size', type=int, default=128); ap.add_argument('--epochs', default='2,4')
    ap.add_argument('--seeds', default='0,1,2'); ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--worker', help=argparse.SUPPRESS); ap.add_argument('--report-only', action='store_true')
    ap.add_argument('--note', help="a paragraph for the result file (how the runs were made)")
    a = ap.parse_args()
    a.seeds, a.data, a.epochs = [int(s) for s in a.seeds.split(',')], a.data.split(','), tuple(int(e) for e in a.epochs.split(','))
    if a.worker: return worker(a)
    from conditions import Conditions
    cond = Conditions()
    if not a.report_only: run_workers(__file__, a.data, a.out, a.jobs, sys.argv[1:])
    report(a, cond)

if __name__ == '__main__': main()
