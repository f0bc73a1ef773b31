"""DataLoader throughput: raw 1024x1024 NIH PNGs vs the 256 px `charm-prepare` cache, on synthetic and real films.

Same CPU, same run, same pipeline: `nih_dataloaders(..., size=256, aug=False)`, once reading the original PNGs
(decode 1024x1024 + resize in the workers) and once reading the cache. Two sources:

- synthetic: `--n` NIH-format 1024 px films from `charm-synth`, over the training split;
- real: the 50 NIH ChestX-ray14 films of `../shared/real-nih-sample` (or `--real DIR`), every film `--real-repeat`
  times per pass (50 films are too few for a steady rate). Real NIH PNGs compress and decode differently from
  synthetic ones. Skipped, saying so, where the folder is absent.

Prints a Markdown table and the speed-ups (and writes them to `--out` when given).

    python benchmarks/bench_data.py --n 1000 --workers 2 --bs 32 --out benchmarks/data_result.md
"""
import argparse, sys, tempfile, time
from pathlib import Path
import pandas as pd
sys.path.insert(0, str(Path(__file__).parent))
from conditions import Conditions
from charm_xray.synthetic import make_synthetic_nih
from charm_xray.data import nih_dataloaders, prepare_cache, real_nih_sample, read_nih


def loader(data, cache, bs, workers, repeat=0, size=256):
    """The training DataLoader (resize to `size`, no augmentation); with `repeat`, an un-shuffled DataLoader over every
    film of `data` (train, validation and test) `repeat` times, with the same item and batch transforms."""
    dls = nih_dataloaders(data, size=size, bs=bs, cache=cache, aug=False, num_workers=workers, seed=0,
                          valid_pct=0.2 if repeat else 0.1)
    if not repeat: return dls.train
    items = pd.concat([dls.train.items, dls.valid.items, dls.test_items.drop(columns='paper_scored', errors='ignore')] * repeat,
                      ignore_index=True)
    return dls.test_dl(items, with_labels=True, bs=bs, num_workers=workers)


def images_per_s(dl, repeats, batch_tfms=True):
    """Best images/s over `repeats` full passes of `dl`.
    `batch_tfms=False` leaves out the batch transforms (uint8 -> float, ImageNet normalisation), which fastai runs
    after moving the batch to the GPU when there is one: then only the loading (read, decode, resize, collate) is timed."""
    dl = dl if batch_tfms else dl.new(after_batch=None)
    best, n = 0., 0
    for _ in range(repeats):
        t, n = time.perf_counter(), 0
        for xb, yb in dl: n += len(xb)
        best = max(best, n / (time.perf_counter() - t))
    return best, n


def mb(d): return sum(f.stat().st_size for f in Path(d).rglob('*.png')) / 2**20


def measure(name, data, cache, a, repeat=0):
    "Cache `data` at 256 px into `cache`, then time raw and cached loading; the Markdown rows and a summary line."
    t = time.perf_counter()
    prepare_cache(data, cache, size=256, n_workers=a.workers, progress=False)
    t_prep = time.perf_counter() - t
    res = {(src, bt): images_per_s(loader(data, c, a.bs, a.workers, repeat), a.repeats, bt)
           for bt in (False, True) for src, c in (('raw', None), ('cache', cache))}
    n_files = len(read_nih(data))
    rows = [f"| {name} | raw 1024x1024 PNGs | {n_files} | {mb(data) / n_files * 1024:.0f} kB | {res['raw', False][0]:.1f} | {res['raw', True][0]:.1f} |",
            f"| {name} | 256 px cache | {n_files} | {mb(cache) / n_files * 1024:.0f} kB | {res['cache', False][0]:.1f} | {res['cache', True][0]:.1f} |",
            f"| {name} | **cache speed-up** | | | **{res['cache', False][0] / res['raw', False][0]:.1f}x** | "
            f"{res['cache', True][0] / res['raw', True][0]:.1f}x |"]
    what = f"{res['raw', True][1]} images per pass" + (f" ({n_files} films x {repeat})" if repeat else " (training split)")
    return rows, f"{name}: {n_files} films, {what}; charm-prepare to 256 px took {t_prep:.1f}s"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=1000, help='synthetic images (about 70%% land in the training split; 0: skip)')
    p.add_argument('--real', default=None, help='folder of real NIH films (default: ../shared/real-nih-sample; "none": skip)')
    p.add_argument('--real-repeat', type=int, default=8, help='passes over each real film per timed pass')
    p.add_argument('--workers', type=int, default=2, help='DataLoader workers (same for both)')
    p.add_argument('--bs', type=int, default=32, help='batch size')
    p.add_argument('--repeats', type=int, default=3, help='timed passes per source; the best is reported')
    p.add_argument('--dir', default=None, help='work folder (default: a temporary folder)')
    p.add_argument('--out', default=None, help='also write the table to this Markdown file')
    a = p.parse_args()
    cond = Conditions()
    root = Path(a.dir or tempfile.mkdtemp(prefix='charm_bench_'))
    rows, notes = [], []
    if a.n:
        data = root / 'nih1024'
        t = time.perf_counter()
        if not (data / 'Data_Entry_2017.csv').exists(): make_synthetic_nih(data, n=a.n, size=1024, seed=0)
        notes.append(f"(generating {a.n} synthetic 1024 px images took {time.perf_counter() - t:.0f}s)")
        r, note = measure('synthetic', data, root / 'cache256', a); rows += r; notes.append(note)
    real = None if a.real == 'none' else Path(a.real) if a.real else real_nih_sample('shared')
    if real is not None:
        r, note = measure('real NIH', real, root / 'real_cache256', a, repeat=a.real_repeat); rows += r; notes.append(note)
    else: notes.append('real NIH films: skipped (no folder)')
    head = (f"No GPU used; {a.workers} DataLoader workers, batch size {a.bs}, best of {a.repeats} passes, aug=False, size=256. "
            "The speed-up is the ratio of the two rates measured in this run, one right after the other.")
    table = ['| films | source | files | PNG size per film | loading only: images/s | + batch tfms on the CPU: images/s |',
             '|---|---|---|---|---|---|', *rows]
    text = '\n'.join([cond.header('Data loading: raw 1024 px PNGs vs the 256 px cache').rstrip('\n'), '', head, '', *[f'- {x}' for x in notes], '', *table, '',
                      '(target: cached >= 8x raw for the loading part; on a GPU machine the batch transforms run on the GPU)'])
    print('\n' + text)
    if a.out: Path(a.out).write_text(text + '\n')


if __name__ == '__main__': main()
