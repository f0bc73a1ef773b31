"""The GPU check: what a session with a lent GPU runs first (under 8 minutes on one GPU), and CI runs reduced.

    python benchmarks/gpu_check.py            # on a GPU: writes benchmarks/gpu_result.md
    python benchmarks/gpu_check.py --dry-run  # on a CPU, tiny versions of every section (< 2 min): a temporary file

Sections: 1. CUDA and architectures; 2. a mixed-precision (`to_fp16`) CHARM fit on synthetic data: finite loss,
AUC within noise of an fp32 fit; 3. training images/s of CHARM vs a plain `vision_learner` with the same backbone at
224 and 256 px, batch 64 and 128, channels_last + AMP; 4. peak GPU memory of one CHARM training step at the paper's
stage-2 batch (128 on one GPU) and whether stage 2 would need gradient accumulation; 5. DataLoader images/s from
the image cache against the GPU's step rate (is the GPU fed?); 6. with two GPUs, the 2-process DDP check
(.ci/ddp_check.py, NCCL); 7. the notebooks' `cuda` cells (the fp16 tests that `nbdev-test` skips on every machine
without a GPU), run with `.ci/nbtest.py`'s runner with the `cuda` flag forced. The dry run uses resnet18 at 64 px, batches of 8, `to_bf16` instead of `to_fp16` (fastai disables autocast on a
CPU, so it checks the code paths, not the numbers), and
never overwrites benchmarks/gpu_result.md.
"""
import argparse, os, platform, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
from fastai.torch_core import set_seed
from fastai.vision.all import vision_learner, DataLoaders, DataLoader, BCEWithLogitsLossFlat, Callback
from charm_xray.core import LABELS
from charm_xray.synthetic import tiny_config, demo_data
from charm_xray.data import dataloaders_from_config, prepare_cache
from charm_xray.learner import charm_learner, learner_from_config
from charm_xray.losses import get_loss
from charm_xray.metrics import mean_class_auc
from charm_xray.distributed import fits_in_memory

ROOT = Path(__file__).resolve().parent.parent


class Rate(Callback):
    "Training images/s over the batches after `warm` (GPU synchronised)."
    order = 99
    def __init__(self, warm=3): self.warm = warm
    def before_fit(self): self.n, self.t0, self.seen = 0, None, 0
    def after_batch(self):
        if not self.training: return
        self.n += 1
        if self.n == self.warm or self.n > self.warm:
            if torch.cuda.is_available(): torch.cuda.synchronize()
            if self.n == self.warm: self.t0 = time.perf_counter()
            else: self.seen += len(self.yb[0]); self.t1 = time.perf_counter()
    @property
    def rate(self): return self.seen / (self.t1 - self.t0) if self.seen else float('nan')


def random_dls(n, bs, size, device):
    xs, ys = torch.randn(n, 3, size, size), (torch.rand(n, 14) < 0.2).float()
    items = [(xs[i], ys[i]) for i in range(n)]
    dls = DataLoaders(DataLoader(items, bs=bs, shuffle=True, drop_last=True), DataLoader(items[:bs], bs=bs), device=device)
    dls.vocab = LABELS
    return dls


def amp(learn, dry):
    return learn.to_bf16() if dry else learn.to_fp16()


def section_cuda(dry):
    lines = [f"- python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda or 'none'}"]
    if not torch.cuda.is_available(): return lines + ["- no GPU (dry run on the CPU)" if dry else "- **no GPU**"]
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        lines.append(f"- GPU {i}: {p.name}, sm_{p.major}{p.minor}, {p.total_memory / 2**30:.1f} GiB")
    lines.append(f"- torch compiled for: {' '.join(torch.cuda.get_arch_list())}")
    return lines


def section_amp(dry, device):
    "fp32 and mixed-precision CHARM fits on the same synthetic data from the same initial weights."
    n, size, epochs = (200, 64, 1) if dry else (1000, 128, 3)
    res = {}
    for name in ('fp32', 'amp'):
        cfg = tiny_config(n_images=n, size=size, bs1=32, fp16=False)
        set_seed(0)      # same data order, same initial weights, same dropout: only the precision differs
        dls = dataloaders_from_config(cfg, 32)
        learn = learner_from_config(cfg, dls.to(device) if hasattr(dls, 'to') else dls, loss_func=get_loss('asl'))
        if name == 'amp': amp(learn, dry)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 2e-3)
        losses = [float(v) for v in learn.recorder.losses]
        p, t = learn.get_preds(dl=learn.dls.valid)
        res[name] = (all(np.isfinite(losses)), float(mean_class_auc(t.numpy(), p.float().numpy())), losses[-1])
    (f32, a32, l32), (f16, a16, l16) = res['fp32'], res['amp']
    # on the CPU (dry run) 20 validation images and one epoch make the AUC too noisy to compare: finite losses only
    ok = f32 and f16 and (dry or abs(a16 - a32) < 0.05)
    kind = 'to_bf16 (fastai turns autocast off on a CPU: the code path only)' if dry else 'fp16 (to_fp16)'
    return [f"- {kind} vs fp32 CHARM fit ({n} synthetic images, {size} px, {epochs} epochs, same initial weights): "
            f"losses finite {f16}/{f32}, last loss {l16:.4f} vs {l32:.4f}, validation mean AUC {a16:.3f} vs {a32:.3f} "
            f"(|diff| {abs(a16 - a32):.3f}, within noise < 0.05: **{'yes' if abs(a16 - a32) < 0.05 else 'NO'}**"
            f"{'; not judged in a dry run' if dry else ''})"], ok


def section_speed(dry, device):
    arch = 'resnet18' if dry else 'tf_efficientnetv2_s'
    combos = [(64, 8)] if dry else [(224, 64), (224, 128), (256, 64), (256, 128)]
    rows, rates = ["| backbone | px | batch | plain vision_learner img/s | CHARM img/s | CHARM / plain |", "|---|---|---|---|---|---|"], {}
    for size, bs in combos:
        steps = 6 if dry else 12
        dls = random_dls(bs * steps, bs, size, device)
        r = {}
        for kind in ('plain', 'charm'):
            torch.manual_seed(0)
            if kind == 'plain': learn = vision_learner(dls, arch, pretrained=False, n_out=14, loss_func=BCEWithLogitsLossFlat())
            else: learn = charm_learner(dls, arch, pretrained=False, bank_size=512)
            learn.unfreeze(); learn.to_channelslast(use_amp=False)   # fastai's default use_amp=True would add a second GradScaler beside amp()'s
            amp(learn, dry)
            cb = Rate(warm=2)
            with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-4, cbs=cb)
            r[kind] = cb.rate
            del learn
            if torch.cuda.is_available(): torch.cuda.empty_cache()
        rates[(size, bs)] = r['charm']
        rows.append(f"| {arch} | {size} | {bs} | {r['plain']:.0f} | {r['charm']:.0f} | {r['charm'] / r['plain']:.2f} |")
    return rows, rates


def section_memory(dry, device):
    arch, size, bs = ('resnet18', 64, 16) if dry else ('tf_efficientnetv2_s', 256, 128)
    dls = random_dls(bs, bs, size, device)
    learn = charm_learner(dls, arch, pretrained=False, bank_size=512, loss_func=get_loss('asl'))
    learn.unfreeze(); amp(learn, dry); learn.model.to(device)
    if torch.cuda.is_available(): torch.cuda.reset_peak_memory_stats()
    ok = fits_in_memory(learn, bs, size)
    if not torch.cuda.is_available():
        return [f"- one CHARM training step of {arch} at batch {bs}, {size} px: fits {ok} (CPU: no GPU memory to measure)"]
    peak, total = torch.cuda.max_memory_allocated() / 2**30, torch.cuda.get_device_properties(0).total_memory / 2**30
    return [f"- one CHARM training step (forward with the momentum pathway, ASL loss, backward; AMP) of {arch} at the "
            f"paper's stage-2 batch {bs} on one GPU, {size} px: fits **{ok}**, peak {peak:.1f} GiB of {total:.1f} GiB "
            f"(+ Adam state, about {2 * sum(p.numel() for p in learn.model.parameters()) * 4 / 2**30:.2f} GiB). "
            + ("Stage 2 needs no gradient accumulation." if ok else "Stage 2 will halve the per-GPU batch and accumulate gradients.")]


def section_loader(dry, rates):
    size, bs = (64, 8) if dry else (256, 64)
    n = 200 if dry else 1000
    data = demo_data(n=n, size=size)
    cache = prepare_cache(data, Path(tempfile.mkdtemp(prefix='charm-cache-')), size=size, progress=False)
    cfg = tiny_config(n_images=n, size=size, bs1=bs, cache=str(cache), num_workers=None)
    cfg = cfg.update(data=str(data))
    dls = dataloaders_from_config(cfg, bs)
    it, t0, seen = iter(dls.train), None, 0
    for i, (x, y) in enumerate(it):
        if i == 2: t0 = time.perf_counter()
        elif i > 2: seen += len(x)
        if i >= (12 if dry else 40): break
    if torch.cuda.is_available(): torch.cuda.synchronize()
    rate = seen / (time.perf_counter() - t0)
    step = rates.get((size, bs)) or rates.get((256, 64)) or next(iter(rates.values()), float('nan'))
    fed = rate >= step
    return [f"- DataLoader from the image cache ({size} px, batch {bs}, {dls.train.num_workers} workers, "
            f"{os.cpu_count()} CPUs): {rate:.0f} images/s vs the GPU's CHARM step rate {step:.0f} images/s: "
            f"the GPU is {'fed' if fed else '**starved** (more workers, or a smaller cache size)'}"]


def section_ddp(dry):
    if dry or torch.cuda.device_count() < 2:
        return [f"- skipped: {'dry run (CI runs .ci/ddp_check.py on gloo separately)' if dry else 'fewer than two GPUs'}"]
    t = time.time()
    r = subprocess.run([sys.executable, str(ROOT/'.ci'/'ddp_check.py')], capture_output=True, text=True)
    tail = [l for l in r.stdout.splitlines() if l.strip()][-8:]
    return [f"- `.ci/ddp_check.py` on 2 GPUs (NCCL): {'passed' if r.returncode == 0 else '**FAILED**'} in "
            f"{time.time() - t:.0f}s", '', '```', *tail, *(r.stderr.splitlines()[-15:] if r.returncode else []), '```']


def cuda_cells() -> dict:
    "{notebook: [its `#| cuda` cells]} in nbs/, as `.ci/nbtest.py` names skipped cells."
    sys.path.insert(0, str(ROOT/'.ci'))
    from nbtest import find_notebooks
    from nbdev.process import NBProcessor
    out = {}
    for fn in find_notebooks(ROOT/'nbs'):
        nb = NBProcessor(fn, rm_directives=False, process=True).nb
        hits = [i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and 'cuda' in (getattr(c, 'directives_', {}) or {})]
        if hits: out[fn] = hits
    return out


def section_notebooks(dry):
    "Run every notebook that has `cuda` cells with those cells forced on (a dry run lists them: they need a GPU)."
    found = cuda_cells()
    if not found: return ["- **no `#| cuda` cell found in nbs/**: nothing to run"], False
    if dry: return [f"- would run {fn.relative_to(ROOT)} with its cuda cells {cells} (they need a GPU)" for fn, cells in found.items()], True
    from nbtest import run_notebook
    lines, ok = [], True
    for fn, cells in found.items():
        r = run_notebook(fn, ['notest', 'slow', 'cuda'], ['cuda'], {})
        ok &= r['status'] == 'passed'
        lines.append(f"- {r['nb']}: **{r['status']}** in {r['secs']:.0f}s ({r['ran']} of {r['code']} code cells ran, cuda cells {cells})")
        if r['error']: lines += ['', '```', *r['error'].strip().splitlines()[-15:], '```']
    return lines, ok


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--dry-run', action='store_true', help='Tiny CPU versions of every section (CI)')
    p.add_argument('--out', help='Result file (default: benchmarks/gpu_result.md on a GPU, a temporary file for --dry-run)')
    a = p.parse_args()
    dry = a.dry_run
    if not dry and not torch.cuda.is_available(): sys.exit("No GPU: run with --dry-run, or on a machine with a GPU.")
    device = torch.device('cuda' if torch.cuda.is_available() and not dry else 'cpu')
    out = Path(a.out) if a.out else (Path(tempfile.mkdtemp(prefix='charm-gpu-check-'))/'gpu_result.md' if dry else ROOT/'benchmarks'/'gpu_result.md')
    if dry and out.resolve() == (ROOT/'benchmarks'/'gpu_result.md').resolve(): sys.exit("--dry-run never overwrites benchmarks/gpu_result.md")
    sys.path.insert(0, str(ROOT/'benchmarks'))
    from conditions import Conditions
    cond, t0, md, failed = Conditions(), time.time(), [], []
    def timed(title, f):
        t = time.time(); print(f"== {title}", flush=True)
        r = f()
        lines = r[0] if isinstance(r, tuple) else r
        md.extend([f"## {title}", '', *lines, '', f"({time.time() - t:.0f}s)", ''])
        print('\n'.join(lines), flush=True)
        write(f"(incomplete: the run stopped after section {title.split('.')[0]}; {time.time() - t0:.0f}s so far)")
        return r
    def write(tail):     # after every section, so a run stopped by a time limit still leaves what it measured
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(cond.header(f"GPU check{' (DRY RUN on the CPU: not GPU numbers)' if dry else ''}") + '\n'.join(md + [tail]) + '\n')
    timed('1. CUDA and architectures', lambda: section_cuda(dry))
    _, ok = timed('2. Mixed precision', lambda: section_amp(dry, device))
    if not ok: failed.append('mixed precision')
    rows, rates = timed('3. Training images/s: CHARM vs plain vision_learner (channels_last, AMP)', lambda: section_speed(dry, device))
    timed("4. Peak GPU memory at the paper's stage-2 batch", lambda: section_memory(dry, device))
    timed('5. Is the GPU fed? DataLoader from the cache', lambda: section_loader(dry, rates))
    r = timed('6. Two processes (DDP)', lambda: section_ddp(dry))
    if any('FAILED' in l for l in r): failed.append('ddp')
    _, ok = timed("7. The notebooks' cuda cells", lambda: section_notebooks(dry))
    if not ok: failed.append('cuda cells')
    write(f"Total {time.time() - t0:.0f}s" + (f"; FAILED: {', '.join(failed)}" if failed else ''))
    print(f"wrote {out} in {time.time() - t0:.0f}s")
    if failed: sys.exit(f"gpu_check failed: {', '.join(failed)}")


if __name__ == '__main__': main()
