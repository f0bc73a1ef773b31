"""What training's start-up check of an image cache costs, against decoding the same files.

`use_cache` reads 20 bytes of each cached file a run uses (PNG's 8-byte start and the 12-byte `IEND` chunk,
`data._ends_whole`) and names every damaged file at once. This measures that check beside the two deeper ones a
start could have made instead: PIL's `verify` (reads every chunk and checks its CRC) and `verify` plus a full decode
(`data._check_one`, what `charm-prepare --verify` does), on a cache of synthetic films made by `prepare_cache`, once
with the files just written (in the page cache) and once after asking the kernel to drop its caches where allowed.

    python benchmarks/bench_cache_check.py [--n 600] [--size 256] [--repeats 3]

Writes benchmarks/cache_check_result.md."""
import argparse, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from conditions import Conditions

def timed(f, files, repeats):
    "Median seconds of `f` over every file, `repeats` times."
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter(); ok = [f(p) for p in files]; out.append(time.perf_counter() - t0)
        assert all(ok), 'a freshly made cache file failed'
    return statistics.median(out)

def drop_caches() -> bool:
    "Ask Linux to drop the page cache (root only); whether it worked."
    try:
        subprocess.run(['sync'], check=True); Path('/proc/sys/vm/drop_caches').write_text('3\n'); return True
    except OSError: return False

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=600); ap.add_argument('--size', type=int, default=256); ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args()
    from PIL import Image
    from charm_xray.synthetic import demo_data
    from charm_xray.data import prepare_cache, _ends_whole, _check_one
    def crc(p):
        with Image.open(p) as im: im.verify()
        return True
    cond = Conditions()
    data = demo_data(n=a.n)
    with tempfile.TemporaryDirectory() as d:
        cache = prepare_cache(data, Path(d)/'cache', size=a.size, n_workers=0, progress=False)
        files = sorted(cache.glob('*.png'))
        mb = sum(f.stat().st_size for f in files) / 2**20
        rows = []
        for name, f in (('start-up check (`_ends_whole`: 20 bytes per file)', _ends_whole), ("PIL `verify` (every chunk's CRC)", crc),
                        ('`verify` + full decode (`_check_one`, `charm-prepare --verify`)', _check_one)):
            warm = timed(f, files, a.repeats)
            cold = timed(f, files, 1) if drop_caches() else None
            rows.append((name, warm, cold))
    base = rows[0][1]
    lines = [cond.header(f"Training's start-up check of an image cache, against decoding it").rstrip('\n'), '',
             f"{len(files)} synthetic films (`demo_data(n={a.n})`, 256 px files) cached by `prepare_cache` at {a.size} px, "
             f"compress level 0 (the default), {mb:.1f} MB; one process, files read in name order. Warm: the files in "
             f"the page cache (median of {a.repeats}); cold: after `echo 3 > /proc/sys/vm/drop_caches` (one pass; "
             f"'not measured' where the kernel refused).", '',
             '| check | warm: ms in all | µs per file | cold: ms in all | × the start-up check (warm) |', '|---|---:|---:|---:|---:|']
    for name, warm, cold in rows:
        lines.append(f"| {name} | {warm * 1e3:.1f} | {warm / len(files) * 1e6:.0f} | {'not measured' if cold is None else f'{cold * 1e3:.1f}'} | {warm / base:.0f} |")
    from charm_xray.core import durable_write
    durable_write(Path(__file__).with_name('cache_check_result.md'), '\n'.join(lines) + '\n')
    print('\n'.join(lines))
