"""DataLoader throughput: raw 1024x1024 NIH-format PNGs vs the 256 px `charm-prepare` cache.

Same CPU, same run, same pipeline: `nih_dataloaders(..., size=256, aug=False)` over the training split, once
reading the original PNGs (decode 1024x1024 + resize in the workers) and once reading the cache. Prints a
Markdown table and the speed-up.

    python benchmarks/bench_data.py --n 1000 --workers 2 --bs 32
"""
import argparse, os, platform, tempfile, time
from pathlib import Path
import torch
from charm_xray.synthetic import make_synthetic_nih
from charm_xray.data import nih_dataloaders, prepare_cache


def images_per_s(data, cache, bs, workers, repeats, batch_tfms=True):
    """Best images/s over `repeats` full passes of the training DataLoader (resize to 256, no augmentation).
    `batch_tfms=False` leaves out the batch transforms (uint8 -> float, ImageNet normalisation), which fastai runs
    after moving the batch to the GPU when there is one: then only the loading (read, decode, resize, collate) is timed."""
    dls = nih_dataloaders(data, size=256, bs=bs, cache=cache, aug=False, num_workers=workers, seed=0)
    dl = dls.train if batch_tfms else dls.train.new(after_batch=None)
    best, n = 0., 0
    for _ in range(repeats):
        t, n = time.perf_counter(), 0
        for xb, yb in dl: n += len(xb)
        best = max(best, n / (time.perf_counter() - t))
    return best, n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=1000, help='synthetic images (about 70%% land in the training split)')
    p.add_argument('--workers', type=int, default=2, help='DataLoader workers (same for both)')
    p.add_argument('--bs', type=int, default=32, help='batch size')
    p.add_argument('--repeats', type=int, default=3, help='passes per source; the best is reported')
    p.add_argument('--dir', default=None, help='work folder (default: a temporary folder)')
    a = p.parse_args()
    root = Path(a.dir or tempfile.mkdtemp(prefix='charm_bench_'))
    data, cache = root / 'nih1024', root / 'cache256'
    t = time.perf_counter()
    if not (data / 'Data_Entry_2017.csv').exists(): make_synthetic_nih(data, n=a.n, size=1024, seed=0)
    t_gen = time.perf_counter() - t
    t = time.perf_counter()
    prepare_cache(data, cache, size=256, n_workers=a.workers, progress=False)
    t_prep = time.perf_counter() - t
    res = {(src, bt): images_per_s(data, c, a.bs, a.workers, a.repeats, bt)
           for bt in (False, True) for src, c in (('raw', None), ('cache', cache))}
    n = res['raw', True][1]
    mb = lambda d: sum(f.stat().st_size for f in d.rglob('*.png')) / 2**20
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads; {a.workers} DataLoader workers, batch size {a.bs}, "
          f"{n} training images per pass, best of {a.repeats} passes, aug=False, size=256.")
    print(f"(generating {a.n} synthetic 1024 px images took {t_gen:.0f}s; charm-prepare to 256 px took {t_prep:.0f}s)\n")
    print('| source | PNGs on disk | loading only: images/s | + batch tfms on the CPU: images/s |')
    print('|---|---|---|---|')
    print(f"| raw 1024x1024 PNGs | {mb(data):.0f} MB | {res['raw', False][0]:.1f} | {res['raw', True][0]:.1f} |")
    print(f"| 256 px cache | {mb(cache):.0f} MB | {res['cache', False][0]:.1f} | {res['cache', True][0]:.1f} |")
    print(f"| **cache speed-up** | | **{res['cache', False][0] / res['raw', False][0]:.1f}x** | "
          f"{res['cache', True][0] / res['raw', True][0]:.1f}x |")
    print('\n(target: cached >= 8x raw for the loading part; on a GPU machine the batch transforms run on the GPU)')


if __name__ == '__main__': main()
