#!/usr/bin/env bash
# The GPU check on a lent device machine: Python 3.12 with torch, timm, accelerate and the scientific stack, but no
# fastai and no internet. Prepare here once, then run it there in one call, so the device minutes go to measuring.
#
#   bash benchmarks/gpu_session.sh prepare   # here: download the pure-Python wheels it lacks into .whl/ (git ignores it)
#   bash benchmarks/gpu_session.sh run       # there, through the device tool with carry [".whl"]: install them into
#                                            # /tmp/site, run benchmarks/gpu_check.py, write gpu_result.md and the log to $OUT
#                                            # (and check that the Kaggle notebooks' P100 cell reads the GPU from nvidia-smi)
# Then copy $OUT/gpu_result.md to benchmarks/gpu_result.md, commit it, and put its numbers in the README (nbs/index.ipynb).
set -euo pipefail
cd "$(dirname "$0")/.."
# fastai and what it imports that the image lacks; nbdev, execnb and IPython for section 7 (the notebooks' cuda cells)
WHEELS="fastai fastcore fasttransform fastprogress<1.1 fastdownload plum-dispatch<2.10 beartype nbdev execnb ghapi asttokens astunparse watchdog
  ipython ipython-pygments-lexers decorator jedi parso matplotlib-inline pexpect ptyprocess prompt_toolkit wcwidth stack_data executing pure_eval traitlets"
case "${1:-}" in
  prepare)
    rm -rf .whl && mkdir -p .whl
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl $WHEELS   # fastprogress 1.1 needs fasthtml, which the image lacks; plum 2.10 cannot be pickled (learn.export fails)
    ls .whl; du -sh .whl ;;
  run)
    [ -n "$(ls .whl/*.whl 2>/dev/null)" ] || { echo "no wheels in .whl/: run 'bash benchmarks/gpu_session.sh prepare' here and carry .whl"; exit 1; }
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
    out="${OUT:-benchmarks}"
    nvidia-smi -L || true
    # the Kaggle notebook's GPU cell (kaggle_gpus) decides from nvidia-smi, before torch is imported: check its reading of a real GPU
    python3 - <<'EOF' 2>&1 | tee "$out/gpu_cell_probe.txt" || true
from charm_xray.kaggle_setup import nvidia_gpus, gpu_route
gpus = nvidia_gpus()
print('kaggle_gpus cell, nvidia-smi reading:', gpus, '->', gpu_route(gpus))
assert gpus and all(cap for _, cap in gpus), 'the GPU cell could not read the GPU and its compute capability'
EOF
    python3 benchmarks/gpu_check.py --out "$out/gpu_result.md" 2>&1 | tee "$out/gpu_check.log" ;;
  *) echo "usage: bash benchmarks/gpu_session.sh prepare|run"; exit 2 ;;
esac
