"""The docs' evaluation, calibration and heatmap pictures, from a run that learned: the demo's.

The chapters' own figures come from models trained for a few seconds in their tests, which learn nothing (every
probability near 0.45): they show the format, not what a reader wants to see. This script draws the same figures
with the library's functions from a finished `charm-demo` run (EfficientNet-Lite0 with ImageNet weights, 600 synthetic
NIH-format films at 112 px, 2 + 3 epochs) on its synthetic test list, into `nbs/images/`, and writes
`benchmarks/demo_figures_result.md` (conditions and the numbers the pictures show). It also writes the run's report
page (`report.write_report`, numbers from its `results_test.json`) and photographs it in headless Chromium with
`.ci/report_check.py --screenshot` (which checks it first): `nbs/images/demo_report.png`.

    charm-demo --out runs/demo && python benchmarks/demo_figures.py runs/demo
"""
import argparse, json, subprocess, sys
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt, numpy as np
sys.path.insert(0, str(Path(__file__).parent))
from conditions import Conditions, ROOT

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('run', help='A finished charm-demo run folder (with best.pth)')
    ap.add_argument('--images', default=str(ROOT/'nbs'/'images'), help='Where the PNGs go')
    a = ap.parse_args()
    cond, run, dest = Conditions(), Path(a.run), Path(a.images)
    dest.mkdir(parents=True, exist_ok=True)
    from charm_xray.core import LABELS, DISPLAY_NAMES, durable_write
    from charm_xray.evaluate import evaluate, plot_roc_curves, report_json
    from charm_xray.metrics import plot_reliability
    from charm_xray.checkpoint import learner_from_checkpoint
    import charm_xray.localize  # noqa: F401  (adds CharmLearner.show_heatmap)
    rep = evaluate(run/'best.pth', split='test', num_samples=-1)
    what = f"the demo's run, {rep['n_images']} films of the synthetic test list"
    f = plot_roc_curves(rep['targs'], rep['probs'], title=f"ROC curves: {what}")
    f.savefig(dest/'demo_roc_test.png', dpi=80, bbox_inches='tight'); plt.close(f)
    f = plot_reliability(rep['targs'], rep['calibrated_probs'], title=f"Reliability: {what}")
    f.savefig(dest/'demo_reliability_test.png', dpi=60, bbox_inches='tight'); plt.close(f)
    # heatmaps: for three different findings, the test film where that finding is true and most probable
    learn, cfg, _ = learner_from_checkpoint(run/'best.pth')
    items = learn.dls.test_items.reset_index(drop=True)
    p, t = rep['probs'], rep['targs']
    top = p.argmax(1)
    hits, used = [], set()
    for i in np.argsort(-p.max(1)):
        if t[i, top[i]] == 1 and top[i] not in used: hits.append(i); used.add(top[i])
        if len(hits) == 3: break
    fig, axs = plt.subplots(1, len(hits), figsize=(3.2 * len(hits), 3.4))
    for ax, i in zip(np.atleast_1d(axs), hits): learn.show_heatmap(items.iloc[i], LABELS[top[i]], ax=ax)
    fig.suptitle("Grad-CAM of each film's top finding (a true one; three findings): the demo's run, synthetic test films", fontsize=9)
    fig.tight_layout(); fig.savefig(dest/'demo_heatmaps.png', dpi=80); plt.close(fig)
    from PIL import Image
    from charm_xray.report import write_report
    res_f = run/'results_test.json'
    page = write_report(run/'best.pth', rep, run/'report.html', results=json.loads(res_f.read_text()) if res_f.is_file() else None,
                        results_name='results_test.json', title="CHARM-Xray demo: the synthetic test list", command='charm-demo')
    if not res_f.is_file(): durable_write(res_f, json.dumps(report_json(rep), indent=2))
    subprocess.run([sys.executable, str(ROOT/'.ci'/'report_check.py'), str(page), '--screenshot', str(dest/'demo_report.png')], check=True)
    for f in ('demo_roc_test.png', 'demo_reliability_test.png', 'demo_heatmaps.png', 'demo_report.png'):   # 256 colours: a light page
        Image.open(dest/f).convert('RGB').quantize(256).save(dest/f, optimize=True)
    names = [f"{items.iloc[i]['Image Index']} ({DISPLAY_NAMES[LABELS[top[i]]]} {p[i, top[i]]:.2f})" for i in hits]
    lines = [cond.header("The docs' figures from the demo's run"),
             f"Run: `{run}` (config: {cfg.arch}, {cfg.size} px, pretrained={Path(str(cfg.pretrained)).name}); data: {cfg.data} (synthetic NIH-format).",
             "", "| figure | shows | numbers |", "|---|---|---|",
             f"| nbs/images/demo_roc_test.png | ROC per finding, synthetic test list | mean AUC {rep['mean_auc']:.3f} on {rep['n_images']} images |",
             f"| nbs/images/demo_reliability_test.png | reliability per finding | mean ECE {np.nanmean(list(rep['ece'].values())):.3f} |",
             f"| nbs/images/demo_heatmaps.png | Grad-CAM, online pathway | {'; '.join(names)} |",
             f"| nbs/images/demo_report.png | the top of the run's report.html in headless Chromium (1150 x 2400 px) | mean AUC {rep['mean_auc']:.3f} on {rep['n_images']} images |"]
    durable_write(ROOT/'benchmarks'/'demo_figures_result.md', '\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__': main()
