"""Benchmark: a CHARM-Xray training step vs a plain fastai `vision_learner` step (same backbone, image size, batch),
and memory-bank retrieval time vs bank size. Not a test: run it and report the numbers.

    python benchmarks/bench_model.py [--arch resnet18] [--size 128] [--bs 32] [--steps 10]
"""
import argparse, time, platform, os
import torch
from fastai.vision.all import vision_learner, DataLoaders, DataLoader, BCEWithLogitsLossFlat
from charm_xray.core import LABELS
from charm_xray.learner import charm_learner
from charm_xray.layers import RareMemoryBank, MemoryFusion

def fixed_dls(bs, size):
    xs, ys = torch.randn(bs, 3, size, size), (torch.rand(bs, 14) < 0.2).float()
    items = [(xs[i], ys[i]) for i in range(bs)]
    dls = DataLoaders(DataLoader(items, bs=bs, shuffle=False), DataLoader(items[:2], bs=2))
    dls.vocab = LABELS
    return dls

def time_steps(learn, steps):
    "Seconds per training step (median of `steps` after 2 warm-up steps), fastai's full loop minus validation."
    times = []
    learn.fit(1, 1e-4)  # warm-up (builds optimizer, callbacks' state)
    for _ in range(steps):
        t0 = time.perf_counter()
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-4)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--arch', default='resnet18'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', type=int, default=32); p.add_argument('--steps', type=int, default=7)
    a = p.parse_args()
    torch.manual_seed(0)
    dls = fixed_dls(a.bs, a.size)
    plain = vision_learner(dls, a.arch, pretrained=False, n_out=14, loss_func=BCEWithLogitsLossFlat(), metrics=[])
    plain.unfreeze()
    charm = charm_learner(dls, a.arch, pretrained=False, bank_size=512, k=3, metrics=[])
    charm.metrics = []
    for l in (plain, charm): l.recorder.train_metrics = False
    # each fit = 1 training step + validation on 2 images; measure validation alone and subtract it
    tp, tc = time_steps(plain, a.steps), time_steps(charm, a.steps)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"\n| {a.arch}, {a.size}px, batch {a.bs} | seconds per step (1 train batch + 2-image validation) |\n|---|---|")
    print(f"| plain vision_learner | {tp:.3f} |\n| CHARM-Xray | {tc:.3f} |\n| **ratio** | **{tc/tp:.2f}x** |")
    dim = charm.model.body.num_channels
    print(f"\n| bank size | retrieval + fusion, ms per batch of {a.bs} (dim {dim}, k 3) | % of a CHARM step |\n|---|---|---|")
    fus = MemoryFusion(dim)
    for size in [512, 4096, 16384, 65536]:
        bank = RareMemoryBank(size, dim, k=3)
        bank.enqueue(torch.randn(size, dim), (torch.rand(size, 14) < .2).float(), torch.arange(size))
        q = torch.randn(a.bs, dim)
        ids = torch.arange(a.bs)
        def step():
            vals, sims, idx, mask = bank.retrieve(q, exclude_ids=ids)
            return fus(q, vals, sims, mask)
        for _ in range(2): step()
        t0 = time.perf_counter(); n = 10
        for _ in range(n): step()
        ms = (time.perf_counter() - t0) / n * 1000
        print(f"| {size:,} | {ms:.2f} | {ms/10/tc:.2f} % |")

if __name__ == '__main__': main()
