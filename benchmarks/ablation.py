"""Ablation (issue 32): does each CHARM part earn its place? Not a test: run it and report.

On three data sets - the kit's own generator (`charm_xray.synthetic`, what `charm-synth`/`charm-demo` draw), the
independent evaluation generator (`benchmarks/eval_synth.py`) and the 50 real NIH films in `../shared/real-nih-sample`
(10 test films: a smoke test that the variants run on real films, not evidence) - it trains, per seed:

- full CHARM (the default `auto` recipe, every part on),
- each part off: multi-scale attention, momentum pathway, memory bank,
- stage-2 loss BCE or focal instead of ASL,
- the recipe alone (all three parts off: backbone + head, CHARM's two stages, ASL and rates),
- each stage's best validation epoch kept instead of the recipe's choice (`keep='best'`; the recipe keeps the last
  epoch below 5,000 training images, `benchmarks/keep_epoch_result.md`),
- plain fastai: `vision_learner` + BCE + `fine_tune(stage2_epochs, freeze_epochs=stage1_epochs)` at fastai's default rate,

all on EfficientNet-Lite0 with its offline ImageNet weights and `charm-demo`'s configuration (2 + 3 epochs, 600
films, 112 px by default). Runs are paired by seed (same split, same seed); every difference to full CHARM gets a paired bootstrap CI
over test images (each resample draws the same images for both variants and all seeds; the CI covers the test sample,
not the seed-to-seed spread, which the per-seed columns show).

    python benchmarks/ablation.py [--out runs/ablation] [--data charm-synth,eval-synth,real] [--n 600] [--size 112]
                                  [--seeds 0,1,2] [--jobs 2]

Each data set trains in its own process (one torch thread each: two threads per process on a shared 2-core machine
ran a step 8x slower); finished runs are kept in `OUT/<data>/runs.json` and a re-run only adds the missing ones.
Writes benchmarks/ablation_result.md and benchmarks/ablation_result.json.
"""
import argparse, dataclasses, json, os, subprocess, sys, time
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
VARIANTS = {  # name: CharmConfig changes (None: plain fastai)
    'full CHARM': {},
    'attention off': dict(attention=None),
    'momentum pathway off': dict(momentum=0),
    'memory bank off': dict(bank_size=0),
    'stage-2 BCE': dict(stage2_loss='bce'),
    'stage-2 focal': dict(stage2_loss='focal'),
    'recipe alone (all three off)': dict(attention=None, momentum=0, bank_size=0),
    'plain fastai fine_tune': None,
    'best validation epoch kept': dict(keep='best'),
}
DATA = ('charm-synth', 'eval-synth', 'real')
REAL = HERE.parent.parent/'shared'/'real-nih-sample'

def data_folder(name:str, n:int, seed:int=0) -> str:
    "The NIH-format folder of data set `name` (synthetic ones drawn once at 128 px with data seed `seed`, and cached)."
    if name == 'charm-synth':
        from charm_xray.synthetic import demo_data
        return str(demo_data(n=n, size=128, seed=seed))
    if name == 'eval-synth':
        from eval_synth import eval_data
        return str(eval_data(n=n, size=128, seed=seed))
    if not REAL.exists(): raise SystemExit(f"error: {REAL} not found (the real-film smoke set lives in ../shared)")
    return str(REAL)

def base_config(data:str, out:str, size:int, seed:int, epochs:tuple=(2, 3)):
    "charm-demo's configuration (`cli.demo_config`: Lite0 with ImageNet weights, 2 + 3 epochs, bank 256) on `data`, the auto recipe; `epochs` per stage."
    from charm_xray.cli import demo_config
    cfg = demo_config(out, size=size, data=data)
    return cfg.update(seed=42 + seed, num_workers=0, stages=[dataclasses.replace(s, epochs=e) for s, e in zip(cfg.stages, epochs)])

def plain_fastai(cfg):
    "fastai's vision_learner on the same pretrained backbone, BCE, `fine_tune` with its defaults, the recipe's batch."
    from fastai.vision.all import vision_learner, BCEWithLogitsLossFlat, set_seed
    from charm_xray.core import LABELS
    from charm_xray.data import dataloaders_from_config
    from charm_xray.backbones import create_backbone
    from charm_xray.train import choose_recipe
    set_seed(cfg.seed)
    dls = dataloaders_from_config(cfg, 32)
    cfg, _ = choose_recipe(cfg, len(dls.train.items))
    dls = dataloaders_from_config(cfg, cfg.stages[0].bs)
    learn = vision_learner(dls, cfg.arch, pretrained=False, n_out=len(LABELS), loss_func=BCEWithLogitsLossFlat(), path=cfg.out)
    learn.model[0].model.load_state_dict(create_backbone(cfg.arch, pretrained=cfg.pretrained).model.state_dict())
    learn.fine_tune(cfg.stages[1].epochs, freeze_epochs=cfg.stages[0].epochs)
    return learn, dls

def one_run(name:str, change, data:str, out:Path, size:int, seed:int, epochs:tuple=(2, 3)) -> dict:
    "Train one variant; its test predictions go to `out/test_preds.npz`; returns its row."
    from charm_xray.train import train
    from charm_xray.data import nih_test_dl
    from charm_xray.callbacks import train_prevalence
    from charm_xray.layers import rare_classes
    from charm_xray.metrics import per_class_auc
    cfg = base_config(data, str(out), size, seed, epochs)
    t0 = time.time()
    if change is None: learn, dls = plain_fastai(cfg)
    else:
        learn = train(cfg.update(**change)); dls = learn.dls
    secs = time.time() - t0
    p, t = learn.get_preds(dl=nih_test_dl(dls, dls.test_items, bs=64))
    p, t = p.float().numpy(), t.numpy()
    np.savez_compressed(out/'test_preds.npz', preds=p, targs=t, images=dls.test_items['Image Index'].to_numpy(str))
    auc = per_class_auc(t, p)
    rare = rare_classes(train_prevalence(dls), 0.2)
    return dict(variant=name, seed=seed, train_s=round(secs, 1), n_train=len(dls.train.items), n_valid=len(dls.valid.items),
                n_test=len(t), test_mean_auc=float(np.nanmean(auc)),
                test_rare_auc=float(np.nanmean(auc[rare])) if np.isfinite(auc[rare]).any() else float('nan'))

def worker(a):
    "Every (seed, variant) run of one data set, skipping the finished ones."
    import torch
    torch.set_num_threads(1)
    from charm_xray.cli import _plain_progress
    _plain_progress()
    root = Path(a.out)/a.worker; root.mkdir(parents=True, exist_ok=True)
    res = root/f"runs_seeds{'-'.join(map(str, a.seeds))}{'_v' + a.variants.replace(',', '-') if a.variants else ''}.json"   # one file per worker: workers of one data set may run side by side
    rows, mine = load_runs(root), []
    data = data_folder(a.worker, a.n)
    for seed in a.seeds:
        for i, (name, change) in enumerate(VARIANTS.items()):
            if a.variants and str(i) not in a.variants.split(','): continue
            if any(r['variant'] == name and r['seed'] == seed for r in rows): continue
            out = root/f'seed{seed}'/f'v{i}'; out.mkdir(parents=True, exist_ok=True)
            row = one_run(name, change, data, out, a.size, seed)
            row['preds'] = str(out.relative_to(root)/'test_preds.npz')
            print('ROW', json.dumps(row), flush=True); rows.append(row); mine.append(row)
            tmp = res.with_suffix('.tmp'); tmp.write_text(json.dumps(mine, indent=1)); os.replace(tmp, res)

def load_runs(root:Path) -> list:
    "Every finished run under `root` (all workers' files), each (variant, seed) once."
    rows, seen = [], set()
    for f in sorted(root.glob('runs*.json')):
        for r in json.loads(f.read_text()):
            if (r['variant'], r['seed']) not in seen: seen.add((r['variant'], r['seed'])); rows.append(r)
    return rows

# ---- the report: paired bootstrap over test images ----

def auc_resampled(t:np.ndarray, p:np.ndarray, idx:np.ndarray) -> np.ndarray:
    "Mean-class AUC for each resample `idx` (B, N) of the test images (classes without both labels left out, as per_class_auc)."
    from scipy.stats import rankdata
    B, N = idx.shape
    out = np.full((B, t.shape[1]), np.nan)
    for c in range(t.shape[1]):
        tt, pp = t[idx, c], p[idx, c]
        npos = tt.sum(1); nneg = N - npos
        r = rankdata(pp, axis=1)
        with np.errstate(invalid='ignore', divide='ignore'):
            out[:, c] = np.where((npos > 0) & (nneg > 0), ((r * tt).sum(1) - npos * (npos + 1) / 2) / (npos * nneg), np.nan)
    with np.errstate(all='ignore'): import warnings; warnings.simplefilter('ignore', RuntimeWarning); return np.nanmean(out, 1)

def compare(root:Path, rows:list, B:int=2000, seed:int=0) -> dict:
    "For each variant: per-seed test AUC, and its mean difference to full CHARM over the seeds both ran, with a 95% paired bootstrap CI."
    preds = {(r['variant'], r['seed']): dict(np.load(root/r['preds'], allow_pickle=True)) for r in rows}   # our own files (image names: an object array)
    seeds = sorted({r['seed'] for r in rows if r['variant'] == 'full CHARM'} & {r['seed'] for r in rows if r['variant'] != 'full CHARM'})
    n = len(next(iter(preds.values()))['targs'])
    idx = np.random.default_rng(seed).integers(0, n, (B, n))
    full = {s: auc_resampled(preds['full CHARM', s]['targs'], preds['full CHARM', s]['preds'], idx) for s in seeds}
    out = {}
    for v in VARIANTS:
        ss = [s for s in seeds if (v, s) in preds]
        if not ss: continue
        for s in ss: assert (preds[v, s]['images'] == preds['full CHARM', s]['images']).all(), 'paired runs must share the test images'
        auc = {s: next(r['test_mean_auc'] for r in rows if r['variant'] == v and r['seed'] == s) for s in ss}
        fullauc = {s: next(r['test_mean_auc'] for r in rows if r['variant'] == 'full CHARM' and r['seed'] == s) for s in ss}
        d = {s: auc[s] - fullauc[s] for s in ss}
        boot = np.mean([auc_resampled(preds[v, s]['targs'], preds[v, s]['preds'], idx) - full[s] for s in ss], 0)
        lo, hi = np.nanpercentile(boot, [2.5, 97.5])
        out[v] = dict(seeds=ss, auc=auc, mean_auc=float(np.mean(list(auc.values()))), diff=d,
                      mean_diff=float(np.mean(list(d.values()))), ci=[float(lo), float(hi)],
                      train_s=float(np.mean([r['train_s'] for r in rows if r['variant'] == v])), n_test=n)
    return out

def verdict(c:dict) -> str:
    "The word for a difference to full CHARM: beyond its CI or within it."
    if c['ci'][1] < 0: return 'below full (CI below 0)'
    if c['ci'][0] > 0: return 'above full (CI above 0)'
    return 'within CI (no difference shown)'

def table(name:str, comp:dict, rows:list) -> list:
    seeds = comp['full CHARM']['seeds']
    r0 = next(r for r in rows if r['variant'] == 'full CHARM')
    lines = [f"### {name}", "", f"{r0['n_train']} training, {r0['n_valid']} validation, {r0['n_test']} test images.", "",
             "| variant | " + " | ".join(f"seed {s}" for s in seeds) + " | mean test AUC | change vs full (mean over seeds) | 95% CI (paired bootstrap over test images) | verdict | train time |",
             "|---|" + "---:|" * len(seeds) + "---:|---:|---|---|---:|"]
    for v, c in comp.items():
        per = " | ".join(f"{c['auc'][s]:.3f}" if s in c['auc'] else '—' for s in seeds)
        per_seed = ', '.join(f"{c['diff'][s]:+.3f}" for s in c['seeds'])
        ch = '—' if v == 'full CHARM' else f"{c['mean_diff']:+.3f} ({per_seed})"
        ci = '—' if v == 'full CHARM' else f"[{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}]"
        lines.append(f"| {v} | {per} | {c['mean_auc']:.3f} | {ch} | {ci} | {'—' if v == 'full CHARM' else verdict(c)} | {c['train_s']:.0f} s |")
    return lines + [""]

PARTS = {'attention off': 'multi-scale attention', 'momentum pathway off': 'momentum pathway', 'memory bank off': 'memory bank'}

def seeds_below(c:dict) -> str:
    "How many seeds a variant scored below full CHARM on: the seed-to-seed view the bootstrap CI does not give."
    return f"{sum(d < 0 for d in c['diff'].values())} of {len(c['diff'])} seeds below full"

def summary(js:dict) -> list:
    "What the two generators say together: which part helps or costs beyond its CI, and the default against plain fastai."
    gens = [g for g in ('charm-synth', 'eval-synth') if g in js]
    out = ["## Reading", ""]
    for v, part in PARTS.items():
        words = [f"{g}: {'helps' if c['ci'][1] < 0 else 'costs AUC' if c['ci'][0] > 0 else 'no difference shown'} "
                 f"(off: {c['mean_diff']:+.3f} [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}], {seeds_below(c)})"
                 for g in gens if (c := js[g]['comparison'].get(v))]
        out.append(f"- {part}: " + '; '.join(words))
    costs = [part for v, part in PARTS.items() if gens and all(v in js[g]['comparison'] and js[g]['comparison'][v]['ci'][0] > 0 for g in gens)]
    out.append(f"- parts that cost AUC beyond their CI on both generators (the `auto` recipe's rule for switching a part off "
               f"below 5,000 training images): {', '.join(costs) or 'none'}")
    for g in gens:
        c = js[g]['comparison'].get('plain fastai fine_tune')
        if c: out.append(f"- {g}: plain fastai fine_tune minus full CHARM {c['mean_diff']:+.3f} [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}] "
                         f"({seeds_below(c)}): "
                         + ('the default is ahead beyond CI' if c['ci'][1] < 0 else 'plain fastai is ahead beyond CI' if c['ci'][0] > 0
                            else f"no difference shown beyond the CI; in the mean over seeds {'the default' if c['mean_diff'] < 0 else 'plain fastai'} is ahead"))
    return out + [""]

def report(a, cond):
    titles = {'charm-synth': "The kit's generator (charm_xray.synthetic, as charm-synth / charm-demo draw)",
              'eval-synth': 'The independent evaluation generator (benchmarks/eval_synth.py)',
              'real': 'Real NIH films (../shared/real-nih-sample, 40 train/val + 10 test): SMOKE TEST ONLY, not evidence'}
    body, js = [], {}
    for d in a.data:
        root = Path(a.out)/d
        rows = load_runs(root)
        if not any(r['variant'] == 'full CHARM' for r in rows): continue
        comp = compare(root, rows)
        js[d] = dict(rows=rows, comparison=comp)
        body += table(titles[d], comp, rows)
    from charm_xray.train import KEEP_SMALL
    kept = "its last epoch, as fastai's fine_tune" if KEEP_SMALL == 'last' else 'its best validation epoch'
    intro = [f"EfficientNet-Lite0 with its offline ImageNet weights, {a.size} px, charm-demo's schedule (2 + 3 epochs, bank 256, "
             f"the `auto` recipe: batch 32, stage 1 rate 5e-3, stage 2 slice(1e-4, 5e-3), each stage keeps {kept}); synthetic sets of {a.n} films "
             f"(drawn at 128 px), their official-style test lists; seeds {','.join(map(str, a.seeds))} (config seed 42 + seed; each table shows the seeds its data set ran). "
             "Test mean AUC is the mean over findings with both labels in the test list. A change is the variant's test AUC "
             "minus full CHARM's on the same seed; its CI is a 95% percentile interval over 2,000 paired bootstrap resamples "
             "of the test images (the same images for both and for every seed), so it covers the test sample, not the "
             "seed-to-seed spread (the per-seed changes in brackets show that). Plain fastai: `vision_learner` + BCE, "
             "`fine_tune(3, freeze_epochs=2)` at its default rate 2e-3, its last epoch.", ""]
    body += summary(js)
    if a.note: intro += [a.note, ""]
    text = cond.header('Ablation: does each CHARM part earn its place? (issue 32)') + '\n'.join(intro + body)
    (HERE/'ablation_result.md').write_text(text)
    (HERE/'ablation_result.json').write_text(json.dumps(dict(settings=dict(n=a.n, size=a.size, seeds=a.seeds), results=js), indent=1))
    print(text)

def run_workers(script:str, data:list, out:str, jobs:int, args:list):
    "Run `script --worker D *args` for each data set D, `jobs` at a time (one torch thread each), each logging to `out/D.log`; an error if any fails."
    Path(out).mkdir(parents=True, exist_ok=True)
    todo, procs, failed = list(data), [], []
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    while todo or procs:
        while todo and len(procs) < jobs:
            d = todo.pop(0)
            log = open(Path(out)/f'{d}.log', 'a')
            procs.append((d, subprocess.Popen([sys.executable, script, '--worker', d, *args], stdout=log, stderr=subprocess.STDOUT, env=env)))
        time.sleep(5)
        for d, p in list(procs):
            if p.poll() is not None:
                procs.remove((d, p))
                if p.returncode: failed.append(d); print(f"{d}: worker failed (exit {p.returncode}), see {out}/{d}.log")
    if failed: raise SystemExit(f"error: no report written, {len(failed)} worker(s) failed ({', '.join(failed)}); "
                                f"fix the cause and run again (finished runs are kept), or write it from what ran with --report-only")

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='runs/ablation'); ap.add_argument('--data', default=','.join(DATA))
    ap.add_argument('--n', type=int, default=600); ap.add_argument('--size', type=int, default=112)   # charm-demo's
    ap.add_argument('--seeds', default='0,1,2'); ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--worker', help=argparse.SUPPRESS); ap.add_argument('--report-only', action='store_true')
    ap.add_argument('--note', help="a paragraph for the result file (how the runs were made, when --report-only writes it)")
    ap.add_argument('--variants', help=argparse.SUPPRESS)       # a worker's share: variant numbers (0-8), comma-separated
    a = ap.parse_args()
    a.seeds, a.data = [int(s) for s in a.seeds.split(',')], a.data.split(',')
    if a.worker: return worker(a)
    from conditions import Conditions
    cond = Conditions()
    if not a.report_only:
        run_workers(__file__, a.data, a.out, a.jobs, ['--out', a.out, '--n', str(a.n), '--size', str(a.size), '--seeds', ','.join(map(str, a.seeds))])
    report(a, cond)

if __name__ == '__main__': main()
