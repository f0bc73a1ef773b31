"""What does CHARM-Xray cost per training epoch, callbacks included, against a plain fastai learner? (issues 26 and 28)

Why: `bench_model.py` timed single steps (one batch + a 2-image validation) and its numbers are stale. A user pays
per epoch: training *and* validation, the data loading, every callback, the metrics. This script measures that, on
the same DataLoaders for both learners, and says where CHARM's extra time goes and what its momentum copy weighs.

How, for each setting (backbone, image size, batch):

- one `DataLoaders` from `dataloaders_from_config` (synthetic NIH-format data, the demo's by default: 600 images,
  256 px files), the same object for both learners;
- plain: `vision_learner(dls, arch, n_out=14, loss_func=BCEWithLogitsLossFlat(), pretrained=False,
  metrics=[MeanClassAUC(), MicroAUC()])`, unfrozen (plus the same `ChannelsLastBatches` CHARM gets on a CPU, unless
  `--plain-as-is`, so that the ratio is CHARM's additions and not the memory layout);
- CHARM: `learner_from_config(cfg, dls, loss_func=BCEWithLogitsLossFlat())` exactly as `charm-train` builds it (the
  config's defaults: multi-scale attention, momentum pathway 0.99 with its consistency loss 0.1, memory bank, their
  callbacks, channels-last on a CPU), unfrozen: stage-2-like (the expensive stage), but with stage 1's BCE loss on
  both learners (`--charm-loss asl` gives CHARM stage 2's ASL instead);
- pretrained=False for both: random weights time the same as ImageNet ones;
- one warm-up `fit(1, lr)` each, then `--pairs` interleaved pairs plain, CHARM, plain, CHARM, ... so that drifts in
  the machine's load hit both alike; each `learn.fit(1, lr)` is timed whole (training + validation, metrics
  included), and split into its training and validation parts by a callback;
- inside the CHARM fits: time spent in each event of each CHARM callback (the EMA update, the consistency loss, the
  bank's enqueue, the channels-last copy ...), and, by hooks in the model, its momentum pathway's extra forward, the
  bank retrieval, the fusion and attention forwards;
- the momentum copy's memory: the bytes of its state dict (parameters and buffers), against the whole model's.

    python benchmarks/bench_cost.py [--settings demo,resnet18[,v2s]] [--pairs 3] [--n-images N] [--threads T]
                                    [--out benchmarks/cost_result.md] [--data FOLDER]

Writes OUT (markdown: the conditions header, one table per setting, a paragraph on what the numbers are on) and the
raw numbers beside it as OUT with a .json suffix, both with `durable_write`. A test-sized run:

    python benchmarks/bench_cost.py --settings resnet18 --n-images 32 --pairs 1 --out /tmp/cost_test.md
"""
import argparse, json, os, statistics, sys, time
from collections import defaultdict
from pathlib import Path
import torch
from fastai.callback.core import Callback
from fastai.losses import BCEWithLogitsLossFlat
from fastai.torch_core import set_seed
from fastai.vision.learner import vision_learner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditions import Conditions
from charm_xray.core import CharmConfig, LABELS, durable_write
from charm_xray.data import dataloaders_from_config
from charm_xray.learner import learner_from_config, ChannelsLastBatches
from charm_xray.callbacks import EmaUpdate, MemoryBankCallback
from charm_xray.metrics import MeanClassAUC, MicroAUC
from charm_xray.losses import get_loss

SETTINGS = {  # name: backbone, image size, batch, bank size, default training images (None: all of the data's)
    'demo':     dict(arch='efficientnet_lite0', size=112, bs=32, bank_size=256, n_images=None,
                     what="The demo's backbone, image size and bank (`demo_config`: EfficientNet-Lite0, 112 px, bank 256)"),
    'resnet18': dict(arch='resnet18', size=128, bs=32, bank_size=CharmConfig.bank_size, n_images=None,
                     what="ResNet-18 at 128 px, the config's default bank"),
    'v2s':      dict(arch='tf_efficientnetv2_s', size=224, bs=32, bank_size=CharmConfig.bank_size, n_images=64,
                     what="The paper's backbone (EfficientNetV2-S) at a Kaggle-like 224 px, the config's default bank"),
}

def sync():
    "Wait for the GPU (if any) so that a host clock times the work, not its launch."
    if torch.cuda.is_available(): torch.cuda.synchronize()

class Clock:
    "Seconds accumulated per (item, phase); phase is 'train' or 'valid' for batch events, 'fit' for the others."
    def __init__(self): self.t = defaultdict(float)
    def reset(self): self.t.clear()
    def add(self, item, phase, dt): self.t[(item, phase)] += dt
    def snapshot(self): return {f"{k[0]}|{k[1]}": v for k, v in self.t.items()}

_FIT_EVENTS = {'after_create', 'before_fit', 'before_epoch', 'before_train', 'after_train', 'after_cancel_train',
               'before_validate', 'after_validate', 'after_cancel_validate', 'after_epoch', 'after_cancel_epoch',
               'after_cancel_fit', 'after_fit'}

def _phase(learn, event=None):
    if event in _FIT_EVENTS: return 'fit'
    return 'train' if getattr(learn, 'training', False) else 'valid'

LABEL = {  # (callback class, event): what the time is
    ('EmaUpdate', 'after_step'): 'EMA update of the EMA pathway (EmaUpdate.after_step)',
    ('EmaUpdate', 'after_loss'): 'consistency loss, forward (EmaUpdate.after_loss)',
    ('EmaUpdate', 'before_fit'): 'EMA tensor lists, once per fit (EmaUpdate.before_fit)',
    ('MemoryBankCallback', 'after_batch'): 'bank enqueue of rare images (MemoryBankCallback.after_batch)',
    ('MemoryBankCallback', 'before_batch'): "batch's dataset ids (MemoryBankCallback.before_batch)",
    ('MemoryBankCallback', 'before_fit'): 'rare findings check (MemoryBankCallback.before_fit)',
    ('ChannelsLastBatches', 'before_batch'): 'channels-last copy of each batch (ChannelsLastBatches.before_batch)',
    ('ChannelsLastBatches', 'before_fit'): 'model to channels-last (ChannelsLastBatches.before_fit)',
}

def time_callbacks(learn, classes, clock):
    "Wrap every event method that the callbacks of `classes` in `learn` define with a timer feeding `clock`."
    from fastai.callback.core import _events
    for cb in learn.cbs:
        if not isinstance(cb, classes): continue
        for ev in _events:
            f = getattr(type(cb), ev, None)
            if f is None: continue
            item = LABEL.get((type(cb).__name__, ev), f"{type(cb).__name__}.{ev}")
            def timed(f=f.__get__(cb), item=item, ev=ev):
                sync(); t0 = time.perf_counter()
                try: return f()
                finally: sync(); clock.add(item, _phase(learn, ev), time.perf_counter() - t0)
            object.__setattr__(cb, ev, timed)   # an instance attribute: fastai calls `getattr(cb, event)`

def time_model(learn, clock):
    "Hooks and wrappers timing the forward parts CHARM adds inside `CharmModel.forward`."
    m, start = learn.model, {}
    def pre(key):
        def hook(mod, args): sync(); start[key] = time.perf_counter()
        return hook
    def post(key, item):
        def hook(mod, args, out): sync(); clock.add(item, _phase(learn), time.perf_counter() - start[key])
        return hook
    if m.ema is not None:   # encode(x, 'momentum') = pool(attention(body(x))): body's start to attention's end
        m.ema.copies[0].register_forward_pre_hook(pre('mom'))
        m.ema.copies[-1].register_forward_hook(post('mom', 'momentum pathway forward, no grad (in CharmModel.forward)'))
    if m.attention is not None and len(list(m.attention.parameters())):
        m.attention.register_forward_pre_hook(pre('att'))
        m.attention.register_forward_hook(post('att', 'online attention forward (in CharmModel.forward)'))
    if m.fusion is not None:
        m.fusion.register_forward_pre_hook(pre('fus'))
        m.fusion.register_forward_hook(post('fus', 'memory fusion forward (in CharmModel.forward)'))
    if m.bank is not None:
        retrieve = m.bank.retrieve
        def timed_retrieve(*a, **k):
            sync(); t0 = time.perf_counter()
            try: return retrieve(*a, **k)
            finally: sync(); clock.add('bank retrieval (in CharmModel.forward)', _phase(learn), time.perf_counter() - t0)
        m.bank.retrieve = timed_retrieve

class PhaseClock(Callback):
    "Seconds of the training and the validation part of each fit, and the batches each had."
    order = -100
    def before_fit(self): self.res = dict(train_s=0., valid_s=0., train_batches=0, valid_batches=0)
    def before_train(self): sync(); self.t0 = time.perf_counter()
    def after_train(self): sync(); self.res['train_s'] += time.perf_counter() - self.t0
    def before_validate(self): sync(); self.t0 = time.perf_counter()
    def after_validate(self): sync(); self.res['valid_s'] += time.perf_counter() - self.t0
    def after_batch(self): self.res['train_batches' if self.training else 'valid_batches'] += 1

def state_bytes(module) -> int:
    "Bytes of a module's state dict (parameters and buffers)."
    return sum(t.numel() * t.element_size() for t in module.state_dict().values()) if module is not None else 0

def one_epoch(learn, lr, clock=None):
    "One timed `learn.fit(1, lr)` without bars or logging: wall seconds, its training/validation split, the callback times."
    if clock is not None: clock.reset()
    sync(); t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, lr)
    sync()
    r = dict(fit_s=time.perf_counter() - t0, **learn.phase_clock.res)
    if clock is not None: r['parts'] = clock.snapshot()
    return r

def build(name, spec, a, data):
    "The DataLoaders and both learners of one setting, and the CHARM learner's clock."
    n_images = a.n_images if a.n_images is not None else spec['n_images']
    cfg = CharmConfig(data=str(data), arch=spec['arch'], pretrained=False, size=spec['size'], n=n_images,
                      bank_size=spec['bank_size'], num_workers=a.workers, out='/tmp/bench_cost_unused').update(bs2=spec['bs'])
    set_seed(cfg.seed)
    dls = dataloaders_from_config(cfg, spec['bs'])
    set_seed(cfg.seed)
    plain = vision_learner(dls, cfg.arch, n_out=len(LABELS), loss_func=BCEWithLogitsLossFlat(), pretrained=False,
                           metrics=[MeanClassAUC(), MicroAUC()], cbs=[PhaseClock()])
    if not a.plain_as_is and not torch.cuda.is_available(): plain.add_cb(ChannelsLastBatches())
    plain.unfreeze()
    set_seed(cfg.seed)
    charm = learner_from_config(cfg, dls, loss_func=BCEWithLogitsLossFlat() if a.charm_loss == 'bce' else get_loss(a.charm_loss),
                                cbs=[PhaseClock()])
    charm.unfreeze()
    charm.memory_bank.verbose = False
    clock = Clock()
    time_callbacks(charm, (EmaUpdate, MemoryBankCallback, ChannelsLastBatches), clock)
    time_model(charm, clock)
    return cfg, dls, plain, charm, clock

def measure(name, spec, a, data):
    "Warm-up, then `a.pairs` interleaved epochs of both learners; the raw numbers of one setting."
    load0, t_start = os.getloadavg()[0], time.time()
    cfg, dls, plain, charm, clock = build(name, spec, a, data)
    print(f"[{name}] {cfg.arch} {cfg.size} px, batch {spec['bs']}: {len(dls.train_ds)} training, {len(dls.valid_ds)} "
          f"validation images", flush=True)
    w = [one_epoch(plain, a.lr), one_epoch(charm, a.lr, clock)]
    print(f"[{name}] warm-up: plain {w[0]['fit_s']:.1f} s, CHARM {w[1]['fit_s']:.1f} s", flush=True)
    pairs = []
    for i in range(a.pairs):
        p, c = one_epoch(plain, a.lr), one_epoch(charm, a.lr, clock)
        pairs.append(dict(plain=p, charm=c))
        print(f"[{name}] pair {i + 1}/{a.pairs}: plain {p['fit_s']:.1f} s, CHARM {c['fit_s']:.1f} s "
              f"({c['fit_s'] / p['fit_s']:.2f}x)", flush=True)
    m = charm.model
    mem = dict(momentum_bytes=state_bytes(m.ema.copies), online_bytes=sum(state_bytes(x) for x in m.online()),
               bank_bytes=state_bytes(m.bank), charm_total_bytes=state_bytes(m), plain_total_bytes=state_bytes(plain.model))
    return dict(setting=name, what=spec['what'], arch=cfg.arch, size=cfg.size, bs=spec['bs'], bank_size=cfg.bank_size,
                n_train=len(dls.train_ds), n_valid=len(dls.valid_ds), num_workers=dls.train.fake_l.num_workers,
                plain_channels_last=not a.plain_as_is and not torch.cuda.is_available(), charm_loss=a.charm_loss,
                lr=a.lr, warmup=dict(plain=w[0], charm=w[1]), pairs=pairs, memory=mem,
                load_before=round(load0, 2), load_after=round(os.getloadavg()[0], 2), took_s=round(time.time() - t_start, 1))

med = statistics.median
def _n(k, word): return f"{k} {word}{'' if k == 1 else 'es' if word.endswith('h') else 's'}"

def table(r) -> list:
    "The markdown lines of one setting's results."
    P, C = [p['plain'] for p in r['pairs']], [p['charm'] for p in r['pairs']]
    def row(label, key):
        ratios = [c[key] / p[key] for p, c in zip(P, C) if p[key] > 0]
        rng = f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ''
        return (f"| {label} | {med(p[key] for p in P):.2f} | {med(c[key] for c in C):.2f} | "
                f"**{med(ratios):.2f}x**{rng} |" if ratios else f"| {label} | - | - | - |")
    n = len(P)
    out = [f"## {r['setting']}: {r['arch']}, {r['size']} px, batch {r['bs']}", "",
           f"{r['what']}. {r['n_train']} training images ({_n(P[0]['train_batches'], 'batch')}), {r['n_valid']} validation "
           f"images ({_n(P[0]['valid_batches'], 'batch')}), {_n(r['num_workers'], 'DataLoader worker')}. Median of {n} interleaved "
           f"pair{'s' if n > 1 else ''} after one warm-up epoch each; the ratio is the median of the per-pair ratios "
           f"(range in brackets). Load average {r['load_before']} before, {r['load_after']} after this setting "
           f"({r['took_s'] / 60:.1f} min).", "",
           "| seconds per epoch | plain fastai | CHARM-Xray | CHARM / plain |", "|---|---:|---:|---:|",
           row('whole epoch: `fit(1)`, training + validation', 'fit_s'), row('training part', 'train_s'),
           row('validation part', 'valid_s'), ""]
    # per-item ms per epoch, median over the pairs, per phase
    keys = sorted({k for c in C for k in c['parts']})
    items = sorted({k.split('|')[0] for k in keys})
    epoch = med(c['fit_s'] for c in C)
    def ms(item, phase): return 1000 * med(c['parts'].get(f"{item}|{phase}", 0.) for c in C)
    rows = sorted(((ms(i, 'train'), ms(i, 'valid'), ms(i, 'fit'), i) for i in items), key=lambda x: -sum(x[:3]))
    out += ["| inside a CHARM epoch | ms, training batches | ms, validation batches | ms, once per fit | share of the epoch |",
            "|---|---:|---:|---:|---:|"]
    cb_total = 0.
    for tr, va, fi, i in rows:
        if 'in CharmModel.forward' not in i: cb_total += tr + va + fi
        out.append(f"| {i} | {tr:.0f} | {va:.0f} | {fi:.1f} | {(tr + va + fi) / 10 / epoch:.1f} % |")
    out += [f"| **all CHARM callbacks' events together** | | | | **{cb_total / 10 / epoch:.1f} %** |", ""]
    mem = r['memory']; MB = lambda b: b / 2**20
    out += ["| memory (state dict: parameters and buffers) | MB |", "|---|---:|",
            f"| momentum (EMA) copy: backbone + attention | {MB(mem['momentum_bytes']):.1f} |",
            f"| online backbone + attention | {MB(mem['online_bytes']):.1f} |",
            f"| memory bank | {MB(mem['bank_bytes']):.2f} |",
            f"| whole CHARM model | {MB(mem['charm_total_bytes']):.1f} |",
            f"| whole plain fastai model | {MB(mem['plain_total_bytes']):.1f} |", ""]
    return out

def about(results, a) -> str:
    "The plain-language paragraph on what the numbers are on, from the run's own settings."
    dev = f"GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else f"the CPU ({os.cpu_count()} cores, no GPU)"
    loads = [x for r in results for x in (r['load_before'], r['load_after'])]
    busy = ('a quiet machine (1-minute load average below 1.5 throughout)' if max(loads) < 1.5 else
            f"a machine shared with other work (1-minute load average up to {max(loads):.1f} on {os.cpu_count()} cores): "
            "interleaving makes both learners share the disturbance, but the seconds are slower than on an idle machine")
    layout = ("both channels-last (CHARM adds `ChannelsLastBatches` on a CPU; the plain learner got the same callback)"
              if results[0]['plain_channels_last'] else
              "CHARM channels-last, the plain learner in fastai's default layout" if not torch.cuda.is_available() else
              "both in fastai's default layout, fp32 (`learner_from_config` would add mixed precision with `fp16`: not here)")
    return (f"What these numbers are on: synthetic NIH-format data ({Path(a.data_used).name}: PNG files read and "
            f"resized by the same fastai pipeline as NIH images, augmented as in training), on {dev}, with "
            f"{torch.get_num_threads()} torch threads, on {busy}. Random initial weights (pretrained=False) on both "
            f"learners: the time per epoch does not depend on the weights. Both learners are unfrozen (stage 2's "
            f"setting, the expensive one), use the same DataLoaders, the same AUC metrics, {layout}, and "
            f"{'the same BCE loss' if a.charm_loss == 'bce' else 'BCE (plain) against ' + a.charm_loss.upper() + ' (CHARM)'}; "
            f"`fit(1, {a.lr:g})` with a constant rate. The plain learner is fastai's `vision_learner` with its own head "
            f"(concat pooling, a hidden layer); CHARM's epoch includes its attention, momentum pathway (a second "
            f"forward without gradients), consistency loss, memory bank and their callbacks. Left out of both: "
            f"`charm-train`'s checkpointing, CSV log and early stopping (once per epoch, the same kind of work a plain "
            f"run with `SaveModelCallback` does). Callback and model-part times are wall time inside each event or "
            f"forward, taken with a host clock (synchronised with the GPU when there is one); the backward of "
            f"CHARM's parts is not separated out and is inside the training part's remainder. Every number on this "
            f"page was written by `benchmarks/bench_cost.py`; the raw numbers are in `{Path(a.out).with_suffix('.json').name}`.")

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--settings', default='demo,resnet18', help=f"Comma-separated, of {', '.join(SETTINGS)}")
    ap.add_argument('--n-images', type=int, default=None,
                    help="Training images per epoch (default: all of the data's for demo and resnet18, 64 for v2s)")
    ap.add_argument('--pairs', type=int, default=3, help='Interleaved plain/CHARM epoch pairs after the warm-up')
    ap.add_argument('--threads', type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument('--workers', type=int, default=None, help="DataLoader workers (default: the config's, i.e. fastai's)")
    ap.add_argument('--lr', type=float, default=1e-4, help='Learning rate of each fit(1, lr)')
    ap.add_argument('--charm-loss', default='bce', choices=['bce', 'asl', 'focal'], help="CHARM's loss (plain: BCE)")
    ap.add_argument('--plain-as-is', action='store_true', help="Leave the plain learner in fastai's default memory layout")
    ap.add_argument('--data', default=None, help='NIH-format folder (default: the demo\'s synthetic data, demo_data(600))')
    ap.add_argument('--out', default=str(Path(__file__).with_name('cost_result.md')), help='Result file (.md); raw numbers beside it (.json)')
    a = ap.parse_args(argv)
    names = [s.strip() for s in a.settings.split(',') if s.strip()]
    if bad := [s for s in names if s not in SETTINGS]: ap.error(f"unknown setting(s) {bad}: use {', '.join(SETTINGS)}")
    if a.threads: torch.set_num_threads(a.threads)
    cond = Conditions(sys.argv if argv is None else [sys.argv[0], *argv])
    if a.data is None:
        from charm_xray.synthetic import demo_data
        a.data = str(demo_data(n=600))
    a.data_used = a.data
    results = []
    out, js = Path(a.out), Path(a.out).with_suffix('.json')
    for name in names:
        results.append(measure(name, SETTINGS[name], a, a.data))
        durable_write(js, json.dumps(dict(args={k: v for k, v in vars(a).items()}, conditions=cond.lines(),
                                          results=results), indent=1))   # after each setting: a crash keeps what is done
    body = [l for r in results for l in table(r)] + [about(results, a), ""]
    text = cond.header('Cost per training epoch: CHARM-Xray against a plain fastai learner (issues 26, 28)') + '\n'.join(body)
    durable_write(out, text)
    print(text)

if __name__ == '__main__': main()
