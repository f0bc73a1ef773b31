"""How long does the README's main job take, and does it learn? (issues 16 and 26)

Times `charm-demo` end to end as a user runs it (a fresh process: imports, synthetic data if not yet built, both
stages, evaluation on the synthetic test list) and reads the test-list results it wrote (`results_test.json`).
Then runs its control, `charm-demo --permuted-labels` (the same films and recipe with the training labels shuffled
among the films), which must score near 0.5. Records CPU time and the load average, since other jobs may share the CPU.

    python benchmarks/bench_demo.py [--out runs/bench_demo] [--repeats 1] [--no-control]

Writes benchmarks/demo_result.md (this invocation's runs only, with their conditions)."""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from conditions import Conditions

def one_run(out, *extra):
    "One timed `charm-demo` in a fresh process: wall and CPU time, load, epochs, the recipe it printed, its test-list results."
    import shutil, pandas as pd
    shutil.rmtree(out, ignore_errors=True)
    ru = lambda: (lambda u: u.ru_utime + u.ru_stime)(resource.getrusage(resource.RUSAGE_CHILDREN))
    load0, t0, c0 = os.getloadavg()[0], time.time(), ru()
    r = subprocess.run(['charm-demo', '--out', str(out), *extra], capture_output=True, text=True)
    wall, load1, cpu = time.time() - t0, os.getloadavg()[0], ru() - c0
    if r.returncode: raise SystemExit(r.stdout[-3000:] + r.stderr[-3000:])
    res = json.loads((Path(out)/'results_test.json').read_text())
    valid = json.loads((Path(out)/'results.json').read_text())
    h = pd.read_csv(Path(out)/'history.csv')
    recipe = [l.strip() for l in r.stdout.splitlines() if l.strip().startswith(('stage 1 ', 'stage 2 ', 'keep ', 'Stage 1:', 'Stage 2:'))]
    return dict(run=' '.join(['charm-demo', *extra]), wall_s=round(wall, 1), cpu_s=round(cpu, 1), load_before=round(load0, 2),
                load_after=round(load1, 2), test_mean_auc=res['mean_auc'], n_test=res['n_images'], valid_mean_auc=valid['mean_auc'],
                n_valid=valid['n_images'], epochs=len(h), recipe=recipe, when=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='runs/bench_demo'); ap.add_argument('--repeats', type=int, default=1)
    ap.add_argument('--no-control', action='store_true')
    a = ap.parse_args()
    cond, out, rows = Conditions(), Path(a.out), []
    for i in range(a.repeats):
        rows.append(one_run(out/'demo')); print(json.dumps(rows[-1]), flush=True)
    if not a.no_control:
        rows.append(one_run(out/'control', '--permuted-labels')); print(json.dumps(rows[-1]), flush=True)
    lines = [cond.header("`charm-demo` end to end, and its label-permuted control"),
             "`charm-demo` as the README runs it: 600 synthetic NIH-format films (charm-synth, 256 px files read at 112 px), "
             "EfficientNet-Lite0 with its real ImageNet weights, 2 + 3 epochs, the automatic recipe, evaluation on the "
             "synthetic test list (`results_test.json`). Wall time of the whole command in a fresh process, synthetic data "
             "already generated. CPU time is the user + system time of `charm-demo` and its data-loading workers. The "
             "control (`--permuted-labels`) trains the same way on the same films with the training labels shuffled among "
             "them: it shows what chance scores on this test list. Synthetic data: these numbers say the pipeline learns, "
             "not how it does on NIH.", "",
             "| run | wall time | CPU time | load before / after | epochs | synthetic test-list mean AUC (images) | validation mean AUC (images) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| `{r['run']}` | {r['wall_s']:.0f} s | {r['cpu_s']:.0f} s | {r['load_before']} / {r['load_after']} | {r['epochs']} | "
              f"{r['test_mean_auc']:.3f} ({r['n_test']}) | {r['valid_mean_auc']:.3f} ({r['n_valid']}) |" for r in rows]
    lines += ["", "What the recipe printed (first run):", ""] + [f"- {l}" for l in rows[0]['recipe']]
    from charm_xray.core import durable_write
    durable_write(Path(__file__).with_name('demo_result.md'), '\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__': main()
