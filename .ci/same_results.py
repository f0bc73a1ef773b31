"""Results unchanged by a refactor: a few training steps of the demo configuration at tiny scale, on a fixed seed.

`python .ci/same_results.py OUT.json` trains both stages of `demo_config` (EfficientNet-Lite0 with its ImageNet weights) on
96 synthetic images at 64 px, one epoch each (about 3 optimizer steps per stage), and writes every batch's loss, sums of
the online and EMA weights, the memory bank's contents, the validation AUCs and the predictions on a fixed batch.
`--compare A.json B.json` fails unless two such files agree (to float32 rounding). Run it on two commits to compare them."""
import sys, json, tempfile
from pathlib import Path
import numpy as np, torch

def record(path):
    from fastai.callback.core import Callback
    from charm_xray.cli import demo_config
    from charm_xray.train import TrainingRun
    out = Path(tempfile.mkdtemp())/'run'
    # the old flat names: a config written before the stage table must still give the same run
    cfg = demo_config(str(out), size=64).update(n=96, num_workers=0, stage1_epochs=1, stage2_epochs=1)
    losses = []
    class Rec(Callback):
        order = 100
        def after_batch(self):
            if self.training: losses.append(float(self.loss))
    run = TrainingRun(cfg)
    learn = run.fit([Rec()])
    m = learn.model
    ema_mods = m.pathway('momentum')
    wsum = lambda mods: float(sum(p.double().sum() for mod in mods for p in mod.parameters()))
    torch.manual_seed(0); x = torch.randn(4, 3, 64, 64)
    m.eval()
    with torch.no_grad(): pred = m(x)
    pred = pred[0] if isinstance(pred, tuple) else pred
    res = dict(losses=losses, online=wsum([m.body, m.attention]), ema=wsum(ema_mods),
               bank=float(m.bank.feats.double().abs().sum()) if m.bank is not None else None,
               bank_ids=sorted(int(i) for i in m.bank.ids if i >= 0) if m.bank is not None else None,
               results={k: v for k, v in json.loads((out/'results.json').read_text()).items() if k in ('mean_auc', 'micro_auc', 'rare_mean_auc')},
               pred=pred.float().flatten().tolist())
    Path(path).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != 'pred'}, indent=1))

def compare(a, b):
    A, B = json.loads(Path(a).read_text()), json.loads(Path(b).read_text())
    bad = []
    for k in A:
        x, y = A[k], B.get(k)
        if isinstance(x, dict): x, y = [x[j] for j in x if j in y], [y[j] for j in x if j in y]   # the keys both record
        ok = x == y if not isinstance(x, (float, list)) or (isinstance(x, list) and x and isinstance(x[0], int)) else \
             np.allclose(np.asarray(x, float), np.asarray(y, float), rtol=1e-5, atol=1e-6, equal_nan=True)
        if not ok: bad.append(k)
        print(f"{k}: {'same' if ok else 'DIFFERENT'}")
    if bad: sys.exit(f"different: {', '.join(bad)}")
    print("same results")

if __name__ == '__main__':
    if sys.argv[1] == '--compare': compare(sys.argv[2], sys.argv[3])
    else: record(sys.argv[1])
