"""Benchmark: how much slower stage 2 (everything trained) is than stage 1 (frozen backbone, new layers trained), per
training image, for the demo architecture and the default one. `TimeBudget` uses the measured ratio as its prior for
stage 2 until stage 2's own speed is measured in the run. Writes benchmarks/stage_ratio_result.md.

    python benchmarks/bench_stage_ratio.py [--cases efficientnet_lite0:112:32,tf_efficientnetv2_s:160:8] [--steps 5] [--batches 3]

Each step is one `fit` of `--batches` training batches (random images, fixed) plus a 2-image validation, through
fastai's full loop with CHARM-Xray's callbacks; the frozen and the unfrozen learner are timed alternately (paired
steps, so that the load of a shared machine hits both alike), and the ratio is the median over the pairs.
"""
import argparse, statistics, sys, time
from pathlib import Path
import torch
from fastai.vision.all import DataLoaders, DataLoader
from charm_xray.core import LABELS
from charm_xray.learner import charm_learner
sys.path.insert(0, str(Path(__file__).parent))
from conditions import Conditions

def fixed_dls(bs, size, batches):
    n = bs * batches
    xs, ys = torch.randn(n, 3, size, size), (torch.rand(n, 14) < 0.2).float()
    items = [(xs[i], ys[i]) for i in range(n)]
    dls = DataLoaders(DataLoader(items, bs=bs, shuffle=False, drop_last=True), DataLoader(items[:2], bs=2))
    dls.vocab = LABELS
    return dls

def learner(arch, dls, frozen):
    torch.manual_seed(0)
    l = charm_learner(dls, arch, pretrained=False, metrics=[])
    l.memory_bank.verbose, l.metrics, l.recorder.train_metrics = False, [], False
    l.freeze() if frozen else l.unfreeze()
    return l

def secs(l):
    t0 = time.perf_counter()
    with l.no_bar(), l.no_logging(): l.fit(1, 1e-4)
    return time.perf_counter() - t0

def case(arch, size, bs, steps, batches):
    dls = fixed_dls(bs, size, batches)
    s1, s2 = learner(arch, dls, True), learner(arch, dls, False)
    for l in (s1, s2): secs(l)                               # warm-up
    t1, t2 = [], []
    for _ in range(steps): t1.append(secs(s1)); t2.append(secs(s2))
    n = bs * batches
    r = dict(arch=arch, size=size, bs=bs, ips1=n / statistics.median(t1), ips2=n / statistics.median(t2),
             ratio=statistics.median(b / a for a, b in zip(t1, t2)), lo=min(b / a for a, b in zip(t1, t2)), hi=max(b / a for a, b in zip(t1, t2)))
    print(r, flush=True)
    return r

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--cases', default='efficientnet_lite0:112:32,tf_efficientnetv2_s:160:8')
    p.add_argument('--steps', type=int, default=5); p.add_argument('--batches', type=int, default=3)
    p.add_argument('--out', default=str(Path(__file__).parent/'stage_ratio_result.md'))
    a = p.parse_args()
    cond = Conditions()
    rows = [case(arch, int(size), int(bs), a.steps, a.batches) for arch, size, bs in (c.split(':') for c in a.cases.split(','))]
    body = ["Stage 1 trains the new layers over a frozen backbone (no gradients through it); stage 2 trains everything.",
            f"Each step: one `fit` of {a.batches} training batches of random images plus a 2-image validation, CHARM-Xray's",
            f"callbacks on (momentum encoder, memory bank); frozen and unfrozen timed alternately, {a.steps} pairs after a warm-up.",
            "The ratio is the median of the paired step times (stage 2 / stage 1), with the smallest and largest pair.", "",
            "| architecture | size | batch | stage 1 images/s | stage 2 images/s | **stage 2 / stage 1 time** | pairs' range |",
            "|---|---|---|---|---|---|---|"]
    body += [f"| {r['arch']} | {r['size']} px | {r['bs']} | {r['ips1']:.1f} | {r['ips2']:.1f} | **{r['ratio']:.2f}x** | {r['lo']:.2f}-{r['hi']:.2f} |" for r in rows]
    body += ["", "On a CPU. A GPU changes the balance (the frozen backbone's forward pass is cheap there too), so the figure is a",
             "prior until the run measures its own stage 2: `TimeBudget` only warns on it, never stops a run."]
    Path(a.out).write_text(cond.header('Stage 2 / stage 1 training speed') + '\n'.join(body) + '\n')
    print(Path(a.out).read_text())

if __name__ == '__main__': main()
