"""A second synthetic NIH-format generator, for EVALUATION ONLY (issue 20).

`charm-synth` (`charm_xray.synthetic`) is the generator the recipe was developed on; a recipe tuned there may only
have learned its quirks. This file draws films that share nothing with it but the NIH layout and the label rows:

- **anatomy and placement**: superellipse lungs with a per-film aspect, a tapered mediastinum, clavicles, a
  diaphragm dome; each film rotated (up to ±7°), shifted (up to ±7 %) and scaled (0.85-1.1) as a whole, and
  sometimes collimated (dark borders) - `charm-synth` only shifts by ±4 % and never rotates;
- **texture**: 1/f (fractal) noise for the lung markings instead of a cosine rib grating and a smooth grid;
- **noise**: signal-dependent (Poisson-like) noise, a random blur, a film-grain gamma, and, independent of the
  labels, distractors: ECG electrodes, a tube line, a burned-in side marker;
- **signs**: each finding drawn another way (atelectasis a basal wedge with volume loss, effusion a blunted
  meniscus, nodule one or two dense spots, mass a lobulated blob, pneumonia a lobar haze with air bronchograms,
  consolidation a dense zone under a sharp fissure, pneumothorax an apical lucent rim behind a pleural line, edema
  a basal gradient with Kerley lines, emphysema hyperlucency and a flat diaphragm, fibrosis upper-zone strands,
  pleural thickening an irregular lumpy rind, hernia a retrocardiac air-fluid bubble, cardiomegaly a wider heart
  of another shape, infiltration scattered fine speckle), at weaker and more varied strengths.

Labels: the project's own `synthetic_index`/`assign_labels` (NIH's per-class imbalance, co-occurrence and patient
structure, official-style `train_val_list.txt`/`test_list.txt`), written in `Data_Entry_2017.csv` form.

ALL PARAMETERS BELOW WERE FIXED BEFORE ANY RECIPE RESULT WAS LOOKED AT (written 2026-12-01 23:40 UTC, before
bench_small_data.py ran on it) and must not be changed to favour a recipe. Changing them makes a new generator:
bump `EVAL_SYNTH_VERSION`.

    python benchmarks/eval_synth.py DEST [--n 700] [--size 256] [--seed 0]
"""
from __future__ import annotations
import argparse, math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np
from PIL import Image, ImageFilter
from charm_xray.core import LABELS, NO_FINDING, CharmError, parse_labels
from charm_xray.synthetic import synthetic_index, assign_labels, CSV_COLUMNS

EVAL_SYNTH_VERSION = 1

def _fractal(rng, size, beta=2.0):
    "1/f^(beta/2) noise in [0, 1] (a fractal texture, unlike charm-synth's bicubic grid noise)."
    f = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2
    f[0, 0] = 1
    spec = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) / f ** (beta / 4)
    x = np.real(np.fft.ifft2(spec)); x -= x.min()
    return (x / (x.max() + 1e-8)).astype(np.float32)

def _sell(u, v, cx, cy, rx, ry, p=2.6):
    "Superellipse radius^p (< 1 inside)."
    return np.abs((u - cx) / rx) ** p + np.abs((v - cy) / ry) ** p

def _in(r, edge=0.25): return np.clip((1 - r) / edge, 0, 1)
def _g(u, v, cx, cy, s): return np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / (2 * s * s))

def _segment(u, v, x0, y0, x1, y1, w):
    "Soft line segment of half-width w."
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((u - x0) * dx + (v - y0) * dy) / (dx * dx + dy * dy + 1e-9), 0, 1)
    d = np.hypot(u - x0 - t * dx, v - y0 - t * dy)
    return np.clip(1 - d / w, 0, 1)

def draw_eval_xray(labels:list, size:int, rng:np.random.Generator) -> np.ndarray:
    "A `(size, size)` uint8 film with this generator's sign for each finding in `labels`."
    labs = set(labels)
    s = {l: rng.uniform(0.3, 0.9) for l in sorted(labs)}
    g = (np.arange(size, dtype=np.float32) + 0.5) / size
    u0, v0 = np.meshgrid(g, g)
    th, sc = np.deg2rad(rng.uniform(-7, 7)), rng.uniform(0.85, 1.1)
    dx, dy = rng.uniform(-0.07, 0.07, 2)
    c, sn = np.cos(th), np.sin(th)
    u = ((u0 - 0.5 - dx) * c - (v0 - 0.5 - dy) * sn) / sc + 0.5
    v = ((u0 - 0.5 - dx) * sn + (v0 - 0.5 - dy) * c) / sc + 0.5
    emph = s.get('Emphysema', 0)
    asp = rng.uniform(0.9, 1.1)
    dome = 0.80 + 0.06 * emph
    lungs = []
    for k, cx in enumerate((0.31, 0.69)):
        ry = 0.29 * asp * (1 + 0.12 * emph)
        if 'Atelectasis' in labs and k == 0: ry *= 1 - 0.12 * s['Atelectasis']     # volume loss of the left lung
        lungs.append((cx + rng.uniform(-.015, .015), dome - ry, 0.16 * rng.uniform(0.92, 1.08), ry))
    lung_m = [_in(_sell(u, v, *L), 0.3) for L in lungs]
    lung = np.maximum(*lung_m)
    img = 0.18 + 0.4 * _in(_sell(u, v, 0.5, 0.55, 0.46 - 0.05 * (v - 0.5), 0.55, 3.0), 0.12)    # tapered thorax
    img += 0.12 * _in(np.abs(u - 0.5) / (0.05 + 0.03 * v), 0.6) * (v > 0.05)                      # mediastinum
    for k in (-1, 1):                                                                             # clavicles
        img += 0.12 * _segment(u, v, 0.5 + 0.04 * k, 0.2, 0.5 + 0.3 * k, 0.14 + rng.uniform(-.02, .02), 0.012)
    tex = _fractal(rng, size, 2.4)
    img -= (0.30 + 0.18 * emph) * lung * (0.8 + 0.4 * tex)                                        # aerated lungs
    img += (0.06 * (1 - 0.7 * emph)) * (_fractal(rng, size, 1.6) - 0.5) * lung                    # markings
    hw = 0.13 * (1 + (0.35 + 0.35 * s['Cardiomegaly'] if 'Cardiomegaly' in labs else rng.uniform(-0.1, 0.1)))
    img += 0.22 * _in(_sell(u, v, 0.53, dome - 0.1, hw, 0.12, 2.2), 0.35) * (v < dome + 0.02)
    img += 0.3 * np.clip((v - dome - 0.04 * np.cos((u - 0.5) * 6)) / 0.02, 0, 1) * (np.abs(u - 0.5) < 0.42)  # abdomen
    pick = lambda: lungs[int(rng.integers(2))]
    def inlung(L, lo=0.2, hi=0.8):
        return L[0] + rng.uniform(-0.6, 0.6) * L[2], L[1] + rng.uniform(2 * lo - 1, 2 * hi - 1) * L[3]
    if 'Infiltration' in labs:
        sp = np.clip((_fractal(rng, size, 0.6) - 0.55) * 6, 0, 1)
        zone = _g(u, v, *inlung(pick()), 0.12)
        img += 0.22 * s['Infiltration'] * sp * zone * lung
    if 'Edema' in labs:
        grad = np.clip((v - 0.35) / 0.4, 0, 1)
        img += 0.18 * s['Edema'] * grad * lung
        for L in lungs:
            side = 1 if L[0] > 0.5 else -1
            for _ in range(6):
                y = L[1] + rng.uniform(0.3, 0.9) * L[3]; x = L[0] + side * 0.85 * L[2]
                img += 0.25 * s['Edema'] * _segment(u, v, x, y, x - side * 0.05, y, 0.004) * lung
    if 'Pneumonia' in labs:
        L = pick(); cx, cy = inlung(L, 0.45, 0.8)
        hz = _g(u, v, cx, cy, 0.07) * (0.6 + 0.4 * tex)
        br = sum(_segment(u, v, cx, cy - 0.05, cx + rng.uniform(-.06, .06), cy + 0.06, 0.006) for _ in range(3))
        img += 0.35 * s['Pneumonia'] * hz * (1 - 0.6 * np.clip(br, 0, 1)) * lung
    if 'Consolidation' in labs:
        L = pick(); fis = L[1] + rng.uniform(0.1, 0.4) * L[3]
        zone = np.clip((v - fis) / 0.005, 0, 1) * _in(_sell(u, v, L[0], fis + 0.08, 0.7 * L[2], 0.1), 0.4)
        img += 0.4 * s['Consolidation'] * zone * lung
    if 'Mass' in labs:
        cx, cy = inlung(pick()); r = rng.uniform(0.04, 0.07)
        blob = sum(_g(u, v, cx + rng.uniform(-r, r) * 0.6, cy + rng.uniform(-r, r) * 0.6, r * rng.uniform(0.5, 0.8)) for _ in range(4))
        img += 0.35 * s['Mass'] * np.clip(blob, 0, 1)
    if 'Nodule' in labs:
        for _ in range(int(rng.integers(1, 3))):
            cx, cy = inlung(pick()); r = rng.uniform(0.008, 0.014)
            img += 0.5 * s['Nodule'] * _in(((u - cx) ** 2 + (v - cy) ** 2) / r ** 2, 0.8)
    if 'Atelectasis' in labs:
        L = lungs[0]; base = L[1] + 0.8 * L[3]
        wedge = np.clip(1 - (np.abs(u - L[0]) / (0.6 * L[2])) - (base - v) / 0.12, 0, 1) * (v < base + 0.1)
        img += 0.3 * s['Atelectasis'] * wedge * lung_m[0]
    if 'Fibrosis' in labs:
        fib = 0
        for _ in range(10):
            L = pick(); x, y = inlung(L, 0.05, 0.45); a = rng.uniform(0, np.pi)
            fib = fib + _segment(u, v, x, y, x + 0.06 * np.cos(a), y + 0.06 * np.sin(a), 0.004)
        img += 0.3 * s['Fibrosis'] * np.clip(fib, 0, 1) * lung
    if 'Pleural_Thickening' in labs:
        L = pick(); r = _sell(u, v, *L)
        lumpy = 0.6 + 0.4 * np.sin(v * rng.uniform(30, 50) + rng.uniform(0, 6))
        img += 0.35 * s['Pleural_Thickening'] * ((r > 0.75) & (r < 1.15)) * lumpy * (v < L[1] + 0.3 * L[3])
    if 'Effusion' in labs:
        L = pick(); lat = np.abs(u - L[0]) / L[2]
        surf = L[1] + (0.75 - 0.25 * s['Effusion']) * L[3] - 0.12 * lat ** 2 * (np.sign(u - 0.5) == np.sign(L[0] - 0.5))
        img += 0.35 * s['Effusion'] * np.clip((v - surf) / 0.04, 0, 1) * _in(_sell(u, v, *L), 0.6)
    if 'Hernia' in labs:
        cx, cy, r = 0.47 + rng.uniform(-.03, .03), dome - 0.08, rng.uniform(0.035, 0.05)
        disc = _in(((u - cx) ** 2 + (v - cy) ** 2) / r ** 2, 0.3)
        img += 0.25 * s['Hernia'] * disc * (v > cy) - 0.35 * s['Hernia'] * disc * (v <= cy)
    if 'Pneumothorax' in labs:
        L = pick(); r = _sell(u, v, *L); apex = v < L[1] - (0.2 - 0.5 * s['Pneumothorax']) * L[3]
        rim = (r < 1) & (r > 0.55) & apex
        img = np.where(rim, 0.06 + 0.01 * tex, img)
        img += 0.2 * ((r > 0.5) & (r < 0.58) & apex)                                              # pleural line
    for _ in range(int(rng.integers(0, 4))):                                                     # ECG electrodes
        img += 0.5 * _in(((u0 - rng.uniform(.1, .9)) ** 2 + (v0 - rng.uniform(.1, .9)) ** 2) / 0.012 ** 2, 0.3)
    if rng.random() < 0.3:                                                                       # a tube line
        img += 0.3 * _segment(u0, v0, 0.5 + rng.uniform(-.02, .02), 0.0, 0.5 + rng.uniform(-.05, .05), rng.uniform(.35, .6), 0.005)
    mx, my = rng.choice([0.08, 0.92]), rng.uniform(0.05, 0.15)                                   # side marker
    img += 0.6 * (np.abs(u0 - mx) < 0.015) * (np.abs(v0 - my) < 0.025)
    img = np.clip(img, 0, 1)
    img = img + rng.normal(0, 1, img.shape).astype(np.float32) * np.sqrt(img + 0.02) * rng.uniform(0.02, 0.05)
    if rng.random() < 0.4:                                                                       # collimation
        b = rng.uniform(0.02, 0.06); img = img * ((u0 > b) & (u0 < 1 - b) & (v0 > b / 2))
    img = np.clip(img, 0, 1) ** rng.uniform(0.8, 1.25)
    out = Image.fromarray((img * 255 + 0.5).astype(np.uint8), 'L')
    return np.asarray(out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2) * size / 256)))

def make_eval_nih(dest:str|Path, n:int=700, size:int=256, seed:int=0) -> Path:
    "Write an NIH-format data set of `n` films from this generator to `dest` (CSV, official-style lists, images_XXX/images)."
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()): raise CharmError(f"{dest} is not empty.")
    rng = np.random.default_rng(10_000 + seed)          # never the seeds charm-synth's demo_data uses
    df = synthetic_index(n, rng)
    Y = np.zeros((n, len(LABELS)), dtype=np.int8)
    for lst in ('train_val', 'test'):
        m = (df.list == lst).values
        Y[m] = assign_labels(int(m.sum()), rng)
    names = np.array(LABELS)
    df['Finding Labels'] = ['|'.join(sorted(names[y == 1])) or NO_FINDING for y in Y]
    df['Patient Age'] = rng.integers(1, 90, n); df['Patient Gender'] = rng.choice(['M', 'F'], n)
    df['View Position'] = rng.choice(['PA', 'AP'], n, p=[0.6, 0.4])
    df['OriginalImage[Width'] = 2500; df['Height]'] = 2048; df['OriginalImagePixelSpacing[x'] = df['y]'] = 0.143
    df = df.sort_values('Image Index').reset_index(drop=True)
    per = math.ceil(n / 12)
    fns = [dest/f'images_{i // per + 1:03d}'/'images'/name for i, name in enumerate(df['Image Index'])]
    for d in sorted({f.parent for f in fns}): d.mkdir(parents=True, exist_ok=True)
    def one(a): Image.fromarray(draw_eval_xray(parse_labels(a[0]), size, a[1]), 'L').save(a[2], compress_level=1)
    with ThreadPoolExecutor(2) as ex: list(ex.map(one, zip(df['Finding Labels'], rng.spawn(n), fns)))
    df[CSV_COLUMNS].assign(**{'': ''}).to_csv(dest/'Data_Entry_2017.csv', index=False)
    for lst in ('train_val', 'test'):
        (dest/f'{lst}_list.txt').write_text('\n'.join(df.loc[df.list == lst, 'Image Index']) + '\n')
    return dest

def eval_data(n:int=700, size:int=256, seed:int=0, root:str|Path|None=None) -> Path:
    "This generator's data set with these settings, built once under `root` (default: charm_home()) and reused."
    from charm_xray.synthetic import charm_home
    dest = Path(root or charm_home())/f'evalsynth_v{EVAL_SYNTH_VERSION}_n{n}_s{size}_seed{seed}'
    if dest.exists(): return dest
    import os, shutil, tempfile
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{dest.name}.', dir=dest.parent))
    try:
        make_eval_nih(tmp, n, size, seed); os.rename(tmp, dest)      # atomic: another process may be building it too
    except OSError:
        if not dest.exists(): raise
    finally: shutil.rmtree(tmp, ignore_errors=True)
    return dest

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('dest'); ap.add_argument('--n', type=int, default=700); ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    print(make_eval_nih(a.dest, a.n, a.size, a.seed))
