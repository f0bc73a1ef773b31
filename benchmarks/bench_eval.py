"""Evaluation at the official test list's scale: how long the report takes once the predictions exist.

The official test list holds 25,596 films x 14 findings. `charm-test` turns the predictions into: the mean and
micro AUC, per-finding AUCs with 1,000-resample bootstrap CIs (`auc_report`), decision thresholds (chosen on a
validation split of the same size, by Youden's J and by F1), sensitivity/specificity/PPV/F1 at them, the
calibration error, and a fitted temperature. This benchmark times each of these calls of `charm_xray.metrics` on
synthetic labels with NIH's real prevalence (`charm_xray.synthetic.assign_labels`, co-occurrence included) and
scores that separate the classes about as well as a good model (per-finding AUC near 0.85). The numbers of the
model's forward pass are not included: that is the GPU's part, measured by `gpu_check.py`.

    python benchmarks/bench_eval.py --out benchmarks/eval_result.md
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent))
from conditions import Conditions
from charm_xray.synthetic import assign_labels
from charm_xray.metrics import (per_class_auc, mean_class_auc, micro_auc, auc_report, choose_thresholds,
                                threshold_metrics, calibration_error, fit_temperature, apply_temperature)


def fake_predictions(n:int, seed:int) -> tuple[np.ndarray, np.ndarray]:
    "NIH-prevalence labels (n, 14) and probabilities whose per-finding AUC is about 0.85."
    rng = np.random.default_rng(seed)
    t = assign_labels(n, rng).astype(np.float32)
    logits = 1.5 * t + rng.normal(size=t.shape) - 2.0       # d' = 1.5: AUC = Phi(1.5 / sqrt 2) ~ 0.86
    return t, (1 / (1 + np.exp(-logits))).astype(np.float32)


def timed(fn, *args, **kw):
    "`fn(*args, **kw)` and its wall-clock and CPU seconds."
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - w, time.process_time() - c


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=25_596, help='test films (the official test list: 25,596)')
    p.add_argument('--n-boot', type=int, default=1000, help='bootstrap resamples')
    p.add_argument('--out', default=None, help='write the result here (Markdown; a .json beside it)')
    a = p.parse_args()
    cond = Conditions()
    tv, pv = fake_predictions(a.n, seed=1)          # the validation split that thresholds and temperature are fitted on
    t, pr = fake_predictions(a.n, seed=2)
    steps = [('per-finding AUC (scikit-learn)', per_class_auc, (t, pr), {}),
             ('mean and micro AUC', lambda t, p: (mean_class_auc(t, p), micro_auc(t, p)), (t, pr), {}),
             (f'AUC table with {a.n_boot}-resample bootstrap CIs (14 findings + mean + micro)', auc_report, (t, pr), dict(n_boot=a.n_boot)),
             ('thresholds by Youden J (validation)', choose_thresholds, (tv, pv), dict(method='youden')),
             ('thresholds by F1 (validation)', choose_thresholds, (tv, pv), dict(method='f1')),
             ('temperature fit (validation)', fit_temperature, (tv, pv), {})]
    rows, res, out = [], {}, {}
    for name, fn, args, kw in steps:
        out[name], w, c = timed(fn, *args, **kw)
        res[name] = dict(wall_s=w, cpu_s=c)
    thr = out['thresholds by Youden J (validation)']
    pc = apply_temperature(pr, out['temperature fit (validation)'])
    for name, fn, args in [('sensitivity, specificity, PPV, F1 at the thresholds', threshold_metrics, (t, pc, thr)),
                           ('calibration error (10 bins)', calibration_error, (t, pc))]:
        out[name], w, c = timed(fn, *args)
        res[name] = dict(wall_s=w, cpu_s=c)
    total_w, total_c = sum(v['wall_s'] for v in res.values()), sum(v['cpu_s'] for v in res.values())
    rep = out[f'AUC table with {a.n_boot}-resample bootstrap CIs (14 findings + mean + micro)']
    mean_row = rep[rep.finding == 'Mean AUC (macro)'].iloc[0]
    rows = [f"| {k} | {v['wall_s']:.2f} | {v['cpu_s']:.2f} |" for k, v in res.items()]
    text = '\n'.join([cond.header('Evaluation at the official test list\'s scale: the report from predictions').rstrip('\n'), '',
        f"Synthetic predictions, not a model's: {a.n:,} test films x 14 findings with NIH's prevalence and co-occurrence "
        f"(positives per finding: {int(t.sum(0).min())} to {int(t.sum(0).max())}), scores with a per-finding AUC near 0.85 "
        f"(here mean AUC {mean_row.auc:.3f}, 95% CI {mean_row.ci_low:.3f}-{mean_row.ci_high:.3f}); thresholds and temperature "
        f"are fitted on a second draw of the same size, as charm-test fits them on validation. The model's forward pass is "
        "not included.", '',
        '| step | wall s | CPU s |', '|---|---|---|', *rows,
        f"| **the whole report** | **{total_w:.1f}** | **{total_c:.1f}** |"])
    print('\n' + text)
    if a.out:
        Path(a.out).write_text(text + '\n')
        Path(a.out).with_suffix('.json').write_text(json.dumps(dict(n=a.n, n_boot=a.n_boot, steps=res, total_wall_s=total_w,
                                                                     total_cpu_s=total_c, mean_auc=float(mean_row.auc)), indent=1) + '\n')


if __name__ == '__main__': main()
