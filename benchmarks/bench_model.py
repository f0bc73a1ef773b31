"""Benchmark: a CHARM-Xray training step vs a plain fastai `vision_learner` step (same backbone, image size, batch),
and memory-bank retrieval time vs bank size. Not a test: run it and report the numbers.

    python benchmarks/bench_model.py [--archs resnet18,efficientnet_lite0] [--size 128] [--bs 32] [--steps 9]
"""
import argparse, time, platform, os, statistics
import torch
from fastai.vision.all import vision_learner, DataLoaders, DataLoader, BCEWithLogitsLossFlat
from charm_xray.core import LABELS
from charm_xray.learner import charm_learner
from charm_xray.layers import RareMemoryBank, MemoryFusion
from charm_xray.model import ema_tensors, ema_update

def fixed_dls(bs, size):
    xs, ys = torch.randn(bs, 3, size, size), (torch.rand(bs, 14) < 0.2).float()
    items = [(xs[i], ys[i]) for i in range(bs)]
    dls = DataLoaders(DataLoader(items, bs=bs, shuffle=False), DataLoader(items[:2], bs=2))
    dls.vocab = LABELS
    return dls

def one_step(learn):
    "Seconds for one `fit` of 1 training batch + a 2-image validation, without bars or logging."
    t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-4)
    return time.perf_counter() - t0

def interleaved(a, b, steps):
    "Median step time of learners `a` and `b`, measured alternately so that machine drift hits both alike."
    for l in (a, b): one_step(l); one_step(l)  # warm-up (optimizer, callbacks' state, allocator)
    ta, tb = [], []
    for _ in range(steps): ta.append(one_step(a)); tb.append(one_step(b))
    return statistics.median(ta), statistics.median(tb), statistics.median(y / x for x, y in zip(ta, tb))

def ms(f, n=5):
    "Median milliseconds of `f()` over `n` calls after one warm-up call."
    f(); ts = []
    for _ in range(n): t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1000

def breakdown(model, bs, size):
    "Milliseconds of the parts CHARM adds to a step: momentum forward, EMA update, attention, bank."
    x = torch.randn(bs, 3, size, size)
    model.train()
    with torch.no_grad(): fm = model.body(x)
    tensors = ema_tensors(model.ema.copies, model.online())
    f = model.pool(fm)
    def attention():  # forward + backward of the attention module alone
        out = model.attention(fm.requires_grad_()); out.sum().backward()
    def bank():       # retrieval + fusion forward and backward, and one enqueue, at the default size
        q = f.clone().requires_grad_()
        vals, sims, idx, mask = model.bank.retrieve(q)
        model.fusion(q, vals, sims, mask).sum().backward()
        model.bank.enqueue(f[:bs // 4], torch.zeros(bs // 4, model.n_out))
    def momentum_fwd():
        with torch.no_grad(): model.encode(x, 'momentum')
    return {'momentum forward (no grad)': ms(momentum_fwd), 'EMA update': ms(lambda: ema_update(model.ema.copies, model.online(), 0.99, tensors)),
            'attention (fwd+bwd)': ms(attention), 'bank: retrieve + fuse + enqueue': ms(bank)}

def compare(arch, bs, size, steps):
    torch.manual_seed(0)
    dls = fixed_dls(bs, size)
    plain = vision_learner(dls, arch, pretrained=False, n_out=14, loss_func=BCEWithLogitsLossFlat(), metrics=[])
    plain.unfreeze()
    charm = charm_learner(dls, arch, pretrained=False, bank_size=512, k=3, metrics=[])
    charm.memory_bank.verbose = False
    charm.metrics = []
    for l in (plain, charm): l.recorder.train_metrics = False
    tp, tc, ratio = interleaved(plain, charm, steps)
    print(f"\n| {arch}, {size}px, batch {bs} | seconds per step |\n|---|---|")
    print(f"| plain vision_learner | {tp:.3f} |\n| CHARM-Xray | {tc:.3f} |\n| **ratio** (median of paired steps) | **{ratio:.2f}x** |")
    print(f"\n| what CHARM adds ({arch}) | ms | % of a plain step |\n|---|---|---|")
    for k, v in breakdown(charm.model, bs, size).items(): print(f"| {k} | {v:.1f} | {v / 10 / tp:.1f} % |")
    return charm, tc

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--archs', default='resnet18,efficientnet_lite0'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', type=int, default=32); p.add_argument('--steps', type=int, default=9)
    a = p.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("Each step is one `fit` of 1 training batch plus a 2-image validation, through fastai's full loop.")
    for arch in a.archs.split(','): charm, tc = compare(arch, a.bs, a.size, a.steps)
    dim = charm.model.body.num_channels
    print(f"\n| bank size | retrieval + fusion, ms per batch of {a.bs} (dim {dim}, k 3) | enqueue of {a.bs // 4}, ms | % of a CHARM step (both) |\n|---|---|---|---|")
    fus = MemoryFusion(dim)
    for size in [512, 4096, 16384, 65536]:
        bank = RareMemoryBank(size, dim, k=3)
        bank.enqueue(torch.randn(size, dim), (torch.rand(size, 14) < .2).float(), torch.arange(size))
        q, ids = torch.randn(a.bs, dim), torch.arange(a.bs)
        def step():
            vals, sims, idx, mask = bank.retrieve(q, exclude_ids=ids)
            return fus(q, vals, sims, mask)
        r = ms(step, 10)
        e = ms(lambda: bank.enqueue(q[:a.bs // 4], torch.zeros(a.bs // 4, 14), ids[:a.bs // 4]), 10)
        print(f"| {size:,} | {r:.2f} | {e:.2f} | {(r + e) / 10 / tc:.2f} % |")

if __name__ == '__main__': main()
