"""Data-parallel training on the CPU (gloo), two processes, tiny synthetic data: the checks of issue #11.

    python .ci/ddp_check.py          # about two minutes on 2 cores

1. `torchrun --standalone --nproc_per_node 2` runs this file as a worker: the two-stage run of `train(cfg)` (the
   same `TrainingRun` steps), with a callback that records each rank's rare rows before they are gathered. Each
   worker then checks, across ranks: banks identical, and equal to a single bank fed the recorded global batches in
   rank order (the bank a single process fed the same global batches builds); bank ids are dataset indices whose
   labels match the data; the momentum (EMA) weights, online weights and warm-up counter identical.
2. Here, in one process: one history with one row per epoch; results.json has world_size 2; the logged best
   validation AUC equals `charm-test --split valid` on best.pth (one process, same weights); the 2-process run's
   stage-1 checkpoint resumes in one process.
3. `torchrun --standalone --nproc_per_node 2 --no-python charm-train ...` finishes with world_size 2 in results.json.
"""
import json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2']
ENV = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONUNBUFFERED='1', MPLBACKEND='Agg')


def worker(cfg_path):
    import torch, torch.distributed as dist
    from fastai.callback.core import Callback
    from charm_xray.core import CharmConfig, LABELS
    from charm_xray.layers import RareMemoryBank
    from charm_xray.comm import charm_model
    from charm_xray.callbacks import MemoryBankCallback
    from charm_xray.train import TrainingRun

    class RareRows(Callback):
        "Record this rank's rare rows (momentum features, labels, dataset ids) of every training batch, before the gather."
        order = MemoryBankCallback.order + 1
        def __init__(self): self.log = []
        def after_batch(self):
            if not self.training: return
            m = charm_model(self.learn)
            y = self.yb[0].as_subclass(torch.Tensor)
            keep = (y[:, m.rare_mask] > 0).any(1)
            out, ids = self.learn.charm_outputs.out, self.learn.memory_bank.ids       # what the forward returned, and was given
            self.log.append(tuple(t.detach().float().cpu() for t in (out.ema_feats[keep], y[keep])) + (ids.cpu()[keep.cpu()],))

    cfg = CharmConfig.from_file(cfg_path)
    run, rows = TrainingRun(cfg), RareRows()
    rank, ws = run.rank, run.world_size
    assert ws == 2 and dist.get_backend() == ('nccl' if torch.cuda.is_available() else 'gloo'), (ws, dist.get_backend())
    assert run.learn.dls.train.bs == run.stages[0].bs // 2, "a stage's bs is global: each process loads half"
    for n in range(1, len(run.stages) + 1):
        run.stage(n).fit([rows])                # the stage's freeze/unfreeze and fit_one_cycle, with the recorder
        if n == 1 and rank == 0:     # a copy of the 2-process run's stage-1 checkpoint, to resume in one process
            mid = Path(cfg.out).parent/'mid'; mid.mkdir(exist_ok=True)
            shutil.copy(Path(cfg.out)/'last.pth', mid/'last.pth')
    learn = run.finish()
    m = charm_model(learn)

    def gathered(t):
        parts = [torch.empty_like(t) for _ in range(ws)]
        dist.all_gather(parts, t.contiguous()); return parts
    # banks identical on every rank
    for name, t in m.bank.named_buffers():
        a, b = gathered(t)
        assert torch.equal(a, b), f"bank.{name} differs between ranks"
    # momentum (EMA) weights, online weights, BN statistics and the warm-up counter identical on every rank
    flat = lambda mods: torch.cat([t.detach().double().flatten() for mm in mods for t in [*mm.parameters(), *mm.buffers()]])
    for what, mods in (('momentum', list(m.ema)), ('online', m.online()), ('head', [m.head, m.fusion])):
        a, b = gathered(flat(mods))
        assert torch.equal(a, b), f"{what} weights differ between ranks (max diff {float((a - b).abs().max())})"
    a, b = gathered(m.ema.steps.reshape(1))
    assert int(a) == int(b) > 0, (a, b)
    # the bank a single process builds from the same global batches (rank 0's rows, then rank 1's, step by step)
    logs = [None] * ws
    dist.all_gather_object(logs, [(f.numpy(), y.numpy(), i.numpy()) for f, y, i in rows.log])
    replay = RareMemoryBank(m.bank.size, m.bank.dim, k=m.bank.k, n_labels=m.bank.n_labels)
    n_rows = 0
    for step in zip(*logs):
        ids = [set(s[2].tolist()) for s in step]
        assert not (ids[0] & ids[1]), 'the two ranks saw the same image in one step'
        cat = lambda j: torch.cat([torch.as_tensor(s[j]) for s in step])
        replay.enqueue(cat(0), cat(1), cat(2)); n_rows += len(cat(2))
    assert n_rows > 0 and len(m.bank) == min(n_rows, m.bank.size), (n_rows, len(m.bank))
    for name in ('feats', 'labels', 'ids', 'ptr', 'count'):
        assert torch.equal(getattr(replay, name), getattr(m.bank, name).cpu()), f"bank.{name} != the single-process replay"
    # the ids are global dataset indices: their labels are those of the training table's rows
    items = learn.dls.train.items
    filled = m.bank.ids[:len(m.bank)].cpu()
    assert (filled >= 0).all()
    want = torch.tensor(items[LABELS].to_numpy()[filled.numpy()], dtype=torch.float32)
    assert torch.equal(want, m.bank.labels[:len(m.bank)].cpu()), 'bank labels do not match the dataset rows of their ids'
    if rank == 0:
        json.dump(dict(bank_entries=len(m.bank), rows=n_rows, momentum_steps=int(m.ema.steps)),
                  open(Path(cfg.out)/'ddp_checks.json', 'w'))
    print(f"rank {rank}: banks and EMA identical across ranks; bank == single-process replay ({len(m.bank)} entries, "
          f"{n_rows} rows enqueued); {int(m.ema.steps)} EMA steps", flush=True)


def torchrun(args, log):
    t = time.time()
    r = subprocess.run(TORCHRUN + args, env=ENV, capture_output=True, text=True)
    Path(log).write_text(r.stdout + r.stderr)
    if r.returncode:
        print(r.stdout[-6000:], r.stderr[-6000:]); sys.exit(f"FAILED: torchrun {' '.join(args)} (exit {r.returncode})")
    return r, time.time() - t


def main():
    import pandas as pd
    from charm_xray.synthetic import tiny_config
    from charm_xray.train import train
    tmp = Path(tempfile.mkdtemp(prefix='charm-ddp-'))
    try:
        cfg = tiny_config(out=tmp/'ddp'/'run', n_images=200)
        (tmp/'ddp').mkdir(); cfg.save(tmp/'ddp'/'cfg.yaml')
        r, dt = torchrun([__file__, '--worker', str(tmp/'ddp'/'cfg.yaml')], tmp/'worker.log')
        print('\n'.join(l for l in r.stdout.splitlines() if l.startswith('rank ')))
        out = Path(cfg.out)
        print(f"2-process gloo run + cross-rank checks: {dt:.0f}s")
        # one history, one row per epoch
        h = pd.read_csv(out/'history.csv')
        assert len(h) == sum(s.epochs for s in cfg.stages) and list(h.stage) == [1, 2], h
        assert (out/'history.csv').read_text().count('mean_auc') == 1, 'header written twice'
        res = json.loads((out/'results.json').read_text())
        assert res['world_size'] == 2, res.get('world_size')
        assert res['n_images'] % 2 == 1, 'an odd validation split: DistributedDL pads one shard, and the padding must not count'
        # the logged validation AUC (gathered from both ranks) == one process evaluating best.pth on the validation split
        logged = float(h[h.stage == len(cfg.stages)].mean_auc.max())
        r = subprocess.run(['charm-test', '--checkpoint', str(out/'best.pth'), '--split', 'valid', '--num_samples', '-1', '--tta', '1',   # the plain prediction, as training logs it
                            '--json', str(tmp/'valid.json'), '--reliability', str(tmp/'reliability.png')],
                           env=ENV, capture_output=True, text=True)
        if r.returncode: print(r.stdout[-3000:], r.stderr[-3000:]); sys.exit('FAILED: charm-test --split valid')
        single = float(json.loads((tmp/'valid.json').read_text())['mean_auc'])
        assert abs(logged - single) < 1e-6 and abs(res['mean_auc'] - single) < 1e-6, (logged, res['mean_auc'], single)
        print(f"logged validation AUC {logged:.6f} == single-process evaluation of best.pth {single:.6f} "
              f"(results.json {res['mean_auc']:.6f}, world_size {res['world_size']})")
        # the 2-process stage-1 checkpoint resumes in one process
        mid = out.parent/'mid'
        t = time.time()
        train(cfg.update(out=str(mid)), resume=True)
        r1 = json.loads((mid/'results.json').read_text())
        hist = list(pd.read_csv(mid/'history.csv').stage)   # stage 1's row comes back from last.pth (no history.csv was copied)
        assert r1['world_size'] == 1 and hist == [1, 2], (r1, hist)
        print(f"2-process checkpoint resumed in one process and finished: {time.time() - t:.0f}s")
        # charm-train itself under torchrun
        cli = tiny_config(out=tmp/'cli'/'run', n_images=200)
        (tmp/'cli').mkdir(); cli.save(tmp/'cli'/'cfg.yaml')
        _, dt = torchrun(['--no-python', 'charm-train', '--config', str(tmp/'cli'/'cfg.yaml')], tmp/'cli.log')
        rc = json.loads((Path(cli.out)/'results.json').read_text())
        assert rc['world_size'] == 2 and len(pd.read_csv(Path(cli.out)/'history.csv')) == 2, rc
        print(f"torchrun --nproc_per_node 2 --no-python charm-train: finished, world_size {rc['world_size']}: {dt:.0f}s")
        # charm-search under torchrun: each run trained by both processes, one row (rank 0's), evaluated on the test list
        _, dt = torchrun(['--no-python', 'charm-search', '--config', str(tmp/'cli'/'cfg.yaml'), '--momentum', '0.99', '--k', '2',
                          '--threshold', '0.2', '--test', '--out', str(tmp/'search')], tmp/'search.log')
        rows = pd.read_csv(tmp/'search'/'training_results.csv')
        rs = json.loads((tmp/'search'/rows.run[0]/'results.json').read_text())
        assert len(rows) == 1 and rows.test_mean_auc.notna().all() and rs['world_size'] == 2, (rows, rs.get('world_size'))
        print(f"torchrun --nproc_per_node 2 --no-python charm-search: one row, test AUC {rows.test_mean_auc[0]:.4f}, "
              f"world_size {rs['world_size']}: {dt:.0f}s")
        print("ddp_check: all checks passed")
    finally:
        if not os.environ.get('CHARM_KEEP'): shutil.rmtree(tmp, ignore_errors=True)
        else: print(f'kept {tmp}')


if __name__ == '__main__':
    if '--worker' in sys.argv: worker(sys.argv[sys.argv.index('--worker') + 1])
    else: main()
