#!/usr/bin/env python
"""The main job must learn: check `charm-demo`'s test-list results against a floor and against its label-permuted control.

A demo that ran but learned nothing (a model that outputs constants scores 0.5) must fail CI, and so must one whose
AUC comes from something other than the films (the control, trained on the same films with the training labels
shuffled among them, must stay near chance: if it scores like the real run, the pipeline leaks).

    python3 .ci/demo_check.py runs/demo runs/demo-control   # results_test.json of each
    python3 .ci/demo_check.py --self-test

Exits 1 with one line per failed condition."""
import json, sys
from pathlib import Path

FLOOR = 0.75    # measured 0.83-0.84 on an idle machine (benchmarks/demo_result.md); a constant model scores 0.5
MARGIN = 0.10   # the demo must beat its control by at least this much

def problems(demo:dict, control:dict) -> list:
    "What is wrong with a demo's and its control's test-list results (empty: the main job learned)."
    out = []
    for name, r in (('demo', demo), ('control', control)):
        if r.get('split') != 'test': out.append(f"{name}: results are on the {r.get('split')!r} split, not the test list")
        if not r.get('n_images'): out.append(f"{name}: no test images were scored")
    d, c = demo.get('mean_auc'), control.get('mean_auc')
    if d is None or not d >= FLOOR: out.append(f"demo: test-list mean AUC {d} is below {FLOOR}: the main job did not learn")
    if d is not None and c is not None and not d >= c + MARGIN:
        out.append(f"demo: test-list mean AUC {d:.3f} does not beat the label-permuted control's {c:.3f} by {MARGIN}")
    return out

def self_test():
    good, ctrl = dict(split='test', n_images=139, mean_auc=0.83), dict(split='test', n_images=139, mean_auc=0.52)
    assert problems(good, ctrl) == [], problems(good, ctrl)
    for name, d, c in [('constant model', {**good, 'mean_auc': 0.5}, ctrl), ('leaky control', good, {**ctrl, 'mean_auc': 0.8}),
                       ('validation numbers', {**good, 'split': 'validation'}, ctrl), ('nothing scored', {**good, 'n_images': 0}, ctrl),
                       ('no AUC', {**good, 'mean_auc': None}, ctrl)]:
        assert problems(d, c), f"accepted: {name}"
        print(f"ok, refused ({name}): {problems(d, c)[0]}")
    print("demo_check self-test passed")

if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']: self_test(); sys.exit()
    files = [Path(d)/'results_test.json' for d in sys.argv[1:3]]
    for f in files:
        if not f.exists(): sys.exit(f"{f} not found: charm-demo did not finish (its output above says why)")
    demo, control = (json.loads(f.read_text()) for f in files)
    print(f"demo: test-list mean AUC {demo['mean_auc']:.3f} on {demo['n_images']} images ({demo.get('split_name')}); "
          f"label-permuted control: {control['mean_auc']:.3f}; floor {FLOOR}, margin {MARGIN}")
    bad = problems(demo, control)
    for b in bad: print(b, file=sys.stderr)
    sys.exit(1 if bad else 0)
