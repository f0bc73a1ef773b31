"""How long does the README's main job take? (issue 16, item 4)

Times `charm-demo` end to end as a user runs it (a fresh process: imports, synthetic data if not yet built, both
stages, evaluation on the synthetic test list), then reads the run's test-list mean-class AUC with `evaluate` (not
timed). Records the load average before and after, since other jobs may share the CPU.

    python benchmarks/bench_demo.py [--out runs/bench_demo] [--repeats 1]

Appends one row per timed run to OUT/demo_times.json (durable) and writes benchmarks/demo_result.md.
"""
import argparse, json, os, platform, resource, subprocess, time
from pathlib import Path
import torch
from charm_xray.core import CharmConfig, durable_write
from charm_xray.evaluate import evaluate

def one_run(out):
    "One timed `charm-demo` in a fresh process; its wall time, epoch times, recipe and test-list AUCs."
    import shutil, pandas as pd
    shutil.rmtree(out, ignore_errors=True)
    ru = lambda: (lambda u: u.ru_utime + u.ru_stime)(resource.getrusage(resource.RUSAGE_CHILDREN))
    load0, t0, c0 = os.getloadavg()[0], time.time(), ru()
    r = subprocess.run(['charm-demo', '--out', str(out)], capture_output=True, text=True)
    wall, load1, cpu = time.time() - t0, os.getloadavg()[0], ru() - c0
    if r.returncode: raise SystemExit(r.stdout[-3000:] + r.stderr[-3000:])
    rep = evaluate(Path(out)/'best.pth', split='test', num_samples=-1)
    cfg = CharmConfig.from_file(Path(out)/'config.yaml')
    h = pd.read_csv(Path(out)/'history.csv')
    recipe = [l.strip() for l in r.stdout.splitlines() if l.strip().startswith(('stage 1 ', 'stage 2 ', 'Stage 1:', 'Stage 2:'))]
    return dict(wall_s=round(wall, 1), cpu_s=round(cpu, 1), load_before=round(load0, 2), load_after=round(load1, 2),
                test_mean_auc=rep['mean_auc'], test_micro_auc=rep.get('micro_auc'), n_test=rep.get('n_images'),
                bs1=cfg.bs1, bs2=cfg.bs2, epochs=len(h), epoch_times=h['time'].astype(str).tolist() if 'time' in h else None,
                recipe=recipe, when=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='runs/bench_demo'); ap.add_argument('--repeats', type=int, default=1)
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    res = out/'demo_times.json'
    rows = json.loads(res.read_text()) if res.exists() else []
    for i in range(a.repeats):
        row = one_run(out/'demo'); rows.append(row); print(json.dumps(row))
        durable_write(res, json.dumps(rows, indent=1))
    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU" if not torch.cuda.is_available() else
               f"{platform.machine()}, {os.cpu_count()} CPU cores, GPU {torch.cuda.get_device_name()}") + f", torch {torch.__version__}"
    lines = ["# `charm-demo` end to end (issue 16)", "",
             "`charm-demo` as the README runs it: 600 synthetic NIH-format images (charm-synth, 256 px files read at 112 px), "
             "EfficientNet-Lite0 with its real ImageNet weights, 2 + 3 epochs, the automatic recipe, evaluation on the "
             f"synthetic test list. Wall time of the whole command in a fresh process. Machine: {machine}. The CPU is shared "
             "with other jobs; the 1-minute load average before and after each run says how busy it was (2.0 = both "
             "cores taken by one job). CPU time is the user + system time of `charm-demo` and its data-loading workers: on a "
             "quiet 2-core machine the wall time is at most that (both cores work in parallel), so it bounds what the run "
             "needs when it has the machine to itself.", "",
             "| when | wall time | CPU time | load before / after | batches | epochs | test-list mean AUC (synthetic) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['when']} | {r['wall_s'] / 60:.1f} min ({r['wall_s']:.0f} s) | {r.get('cpu_s', float('nan')):.0f} s | {r['load_before']} / {r['load_after']} | "
              f"{r['bs1']} / {r['bs2']} | {r['epochs']} | {r['test_mean_auc']:.4f} |" for r in rows]
    lines += ["", "What the recipe printed (last run):", ""] + [f"- {l}" for l in rows[-1]['recipe']]
    durable_write(Path(__file__).with_name('demo_result.md'), '\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__': main()
