"""Is the GPU fed? CPU cost per image of the training loader and of the cache build, on the real NIH films.

Kaggle's T4 x2 session has 4 vCPUs (reportedly 2 physical cores) for two training processes, each with its
DataLoader workers. What a worker does per training image is: read and decode the PNG, resize it when it is not
already at the training size, make the tensor and collate. The batch transforms (uint8 -> float, augmentation,
ImageNet normalisation) run on the GPU, after the batch is moved there, so they are left out here.

The benchmark times that work in this process, with one torch thread (`num_workers=0`: exactly what one worker
process does), and reports it as CPU seconds per image (`time.process_time`), so the figure stays meaningful on a
busy machine, where wall-clock rates drop with the load. `1 / (CPU s per image)` is the rate of one worker that has
a core to itself. From it, at `--gpu-rate` images/s per GPU, the number of cores the workers of `--gpus` processes
need; each training process's main thread also needs about a core of its own (launching kernels, collating).

Sources (`--repeat` passes over each of the 50 real films per timing, so each timing covers hundreds of images):
- the raw 1024x1024 PNGs of `../shared/real-nih-sample` (decode 1024 px, resize on load);
- `charm-prepare` caches at 256 and 224 px (decode only), and the 256 px cache read at 224 (resize on load).
The cache build itself (`prepare_cache`, one process) is timed the same way, giving images/s per core and the
projected build time for the 112,120 films of ChestX-ray14.

    python benchmarks/bench_loader.py --out benchmarks/loader_result.md
"""
import argparse, json, sys, tempfile, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).parent))
from conditions import Conditions
from bench_data import loader
from charm_xray.data import prepare_cache, real_nih_sample, read_nih

N_NIH = 112_120   # films in ChestX-ray14


def cpu_per_image(dl, repeats:int) -> tuple[float, float, int]:
    "Smallest CPU seconds per image over `repeats` passes of `dl` (batch transforms left to the GPU), its wall seconds per image, and the images per pass."
    dl = dl.new(after_batch=None, num_workers=0)
    best = None
    for _ in range(repeats):
        c, w, n = time.process_time(), time.perf_counter(), 0
        for xb, yb in dl: n += len(xb)
        r = ((time.process_time() - c) / n, (time.perf_counter() - w) / n)
        best = r if best is None or r[0] < best[0] else best
    return (*best, n)


def build_cost(data, dest, size:int) -> tuple[float, int]:
    "CPU seconds per film of `prepare_cache` in this process (no worker processes), and the films cached."
    c = time.process_time()
    prepare_cache(data, dest, size=size, n_workers=0, progress=False)
    n = len(read_nih(data))
    return (time.process_time() - c) / n, n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--real', default=None, help='folder of real NIH films (default: ../shared/real-nih-sample)')
    p.add_argument('--repeat', type=int, default=8, help='passes over each film per timing')
    p.add_argument('--repeats', type=int, default=3, help='timings per source; the cheapest is reported')
    p.add_argument('--bs', type=int, default=32, help='batch size')
    p.add_argument('--gpus', type=int, default=2, help='training processes to feed (Kaggle: T4 x2)')
    p.add_argument('--gpu-rate', type=float, default=300., help='training images/s one GPU consumes')
    p.add_argument('--vcpus', type=int, default=4, help='vCPUs of the target machine (Kaggle T4 x2: 4)')
    p.add_argument('--out', default=None, help='write the result here (Markdown; a .json beside it)')
    a = p.parse_args()
    torch.set_num_threads(1)
    cond = Conditions()
    real = Path(a.real) if a.real else real_nih_sample('shared')
    if real is None: sys.exit("error: no real NIH films (../shared/real-nih-sample): pass --real DIR")
    root = Path(tempfile.mkdtemp(prefix='charm_loader_'))
    build = {s: build_cost(real, root / f'cache{s}', s) for s in (256, 224)}
    runs = {'raw 1024 px PNG, resized to 256 on load': (None, 256), 'raw 1024 px PNG, resized to 224 on load': (None, 224),
            '256 px cache at 256 (decode only)': (root / 'cache256', 256), '224 px cache at 224 (decode only)': (root / 'cache224', 224),
            '256 px cache at 224 (resized on load)': (root / 'cache256', 224)}
    res = {}
    for name, (cache, size) in runs.items():
        dl = loader(real, cache, a.bs, 0, a.repeat, size=size)
        cpu, wall, n = cpu_per_image(dl, a.repeats)
        res[name] = dict(size=size, cpu_s_per_image=cpu, wall_s_per_image=wall, images=n, per_core=1 / cpu,
                         worker_cores=a.gpus * a.gpu_rate * cpu)
    need = a.gpus * a.gpu_rate
    rows = [f"| {k} | {v['cpu_s_per_image'] * 1e3:.2f} | {v['per_core']:.0f} | {1 / v['wall_s_per_image']:.0f} | "
            f"{v['worker_cores']:.2f} | {v['worker_cores'] + a.gpus:.1f} |" for k, v in res.items()]
    brows = [f"| {s} px | {c * 1e3:.1f} | {1 / c:.0f} | {N_NIH * c / a.vcpus / 60:.0f}-{N_NIH * c / (a.vcpus / 2) / 60:.0f} min |"
             for s, (c, n) in build.items()]
    best = res['256 px cache at 256 (decode only)']   # the kit's default: charm-prepare --size 256, training at 256
    raw = res['raw 1024 px PNG, resized to 256 on load']
    verdict = (f"Feeding {a.gpus} x {a.gpu_rate:.0f} images/s from the default 256 px cache at 256 px takes {best['worker_cores']:.2f} "
               f"cores of workers, plus about one core per training process: {best['worker_cores'] + a.gpus:.1f} of the "
               f"{a.vcpus} vCPUs (about {a.vcpus // 2} physical cores) of a Kaggle T4 x2 session. "
               f"From the raw PNGs it would take {raw['worker_cores']:.1f} cores of workers: "
               f"{'impossible' if raw['worker_cores'] + a.gpus > a.vcpus else 'possible'} on {a.vcpus} vCPUs, so train from the cache.")
    text = '\n'.join([cond.header('Is the GPU fed? Loader and cache-build CPU cost per image, real NIH films').rstrip('\n'), '',
        f"Real NIH films: the {build[256][1]} of `{real}`, each read {a.repeat} times per timing; batch {a.bs}; one process, "
        f"one torch thread, no DataLoader workers (what one worker does); cheapest of {a.repeats} timings. The batch transforms "
        "(to float, augmentation, normalisation) are left out: they run on the GPU. CPU s per image is `time.process_time`, "
        "which the machine's load changes little; wall-clock rates on this busy 2-core machine are lower and are given for reference.", '',
        f"Cores needed: {a.gpus} training processes at {a.gpu_rate:.0f} images/s each (`--gpu-rate`; an assumption for EfficientNetV2-S "
        "at 256 px in fp16 on a T4, not measured here: no GPU) = "
        f"{need:.0f} images/s; workers' cores = {need:.0f} x CPU s per image; 'all cores' adds one core per training process "
        "for its main thread (an estimate).", '',
        '| source | CPU ms per image | images/s per core | wall images/s here | worker cores for ' f'{need:.0f}/s | all cores |',
        '|---|---|---|---|---|---|', *rows, '',
        f"**{verdict}**", '',
        f"Cache build (`prepare_cache`, one process, real 1024 px films, PNG compression 0), projected to the {N_NIH:,} films of "
        f"ChestX-ray14 on {a.vcpus} vCPUs: the first figure counts each vCPU as a core, the second counts {a.vcpus // 2} physical "
        "cores (hyper-threads share one); disk reads from Kaggle's input mount are not included.", '',
        '| cache | CPU ms per film | films/s per core | 112,120 films on ' f'{a.vcpus} vCPUs |', '|---|---|---|---|', *brows])
    print('\n' + text)
    if a.out:
        Path(a.out).write_text(text + '\n')
        Path(a.out).with_suffix('.json').write_text(json.dumps(dict(loader=res, build={s: dict(cpu_s_per_film=c, films=n) for s, (c, n) in build.items()},
            gpus=a.gpus, gpu_rate=a.gpu_rate, vcpus=a.vcpus), indent=1) + '\n')


if __name__ == '__main__': main()
