#!/usr/bin/env bash
# Kaggle's own packages: a second environment that has what Kaggle's image has -- fastai 2.8.7 with fastcore < 2
# (Kaggle pins fastcore<2) and accelerate 1.10.1, over this machine's torch -- and no charm-xray. The notebooks then
# get charm-xray the way an internet-off Kaggle notebook does: their install cell finds the attached
# charm-kaggle-bundle folder and installs from it with pip --no-index. Fails, saying which check and why, if the
# bundle for that image holds more than our wheel, if the bundle for an image that lacks one requirement does not
# carry it, if the install replaces any of torch, torchvision, fastai, fastcore, accelerate, or if a simulated Kaggle
# session fails there: train.ipynb with GPUS = 2 (torchrun, two CPU processes) and test.ipynb, run with papermill.
#
# Works from the system Python and from inside a virtual environment: the new environment sees the packages of the
# Python that runs this script (a .pth file listing that Python's site-packages folders, behind its own), which
# `python3 -m venv --system-site-packages` would not do from a venv (it sees the base interpreter's instead).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "kaggle_stack FAILED: $*" >&2; exit 1; }
trap 'rc=$?; echo "kaggle_stack FAILED at line $LINENO (exit $rc): $BASH_COMMAND" >&2' ERR
PY=$T/venv/bin/python
KEEP='^(torch|torchvision|fastai|fastcore|accelerate)=='
t0=$(date +%s)

echo "-- the environment: fastai 2.8.7, fastcore<2, accelerate 1.10.1 over the packages of $(command -v python3)"
python3 -c "import charm_xray, papermill, ipykernel" 2>/dev/null \
  || fail "$(command -v python3) needs charm-xray, papermill and ipykernel: pip install -e '.[dev]'"
python3 -m venv "$T/venv" || fail "python3 -m venv could not make an environment (on Debian: apt-get install python3-venv)"
SITE=$($PY -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# The outer Python's site-packages, seen through folders of links that leave out charm-xray (an editable install's
# metadata would make pip believe it is installed here), listed in a .pth file behind the environment's own packages.
python3 - "$T/outer" "$SITE/_outer_packages.pth" <<'EOF' || fail "could not link the outer Python's packages into the new environment"
import os, re, sys
from pathlib import Path
dest, pth = Path(sys.argv[1]), Path(sys.argv[2])
dirs = [Path(p) for p in sys.path if p.rstrip('/').endswith(('site-packages', 'dist-packages')) and Path(p).is_dir()]
skip = re.compile(r'(__editable__[._-]*)?charm[_-]xray.*|.*\.pth$', re.I)
for i, d in enumerate(dirs):
    (dest/str(i)).mkdir(parents=True)
    for e in os.scandir(d):
        if not skip.fullmatch(e.name): os.symlink(e.path, dest/str(i)/e.name)
pth.write_text(''.join(f"{dest/str(i)}\n" for i in range(len(dirs))))
print(f"   the outer packages: {', '.join(map(str, dirs))}")
EOF
$PY -c "import torch, papermill" 2>/dev/null || fail "the new environment does not see torch and papermill through $SITE/_outer_packages.pth"
$PY -m pip install -q "fastai==2.8.7" "fastcore<2" "accelerate==1.10.1" > "$T/pip.log" 2>&1 \
  || { tail -5 "$T/pip.log"; fail "pip could not install fastai 2.8.7, fastcore<2, accelerate 1.10.1 in the new environment"; }
$PY -m pip freeze 2>/dev/null | grep -iE "$KEEP" | sort > "$T/before.txt"
cat "$T/before.txt"
grep -q '^fastai==2.8.7$' "$T/before.txt" && grep -q '^fastcore==1\.' "$T/before.txt" && grep -q '^accelerate==1.10.1$' "$T/before.txt" \
  || fail "the new environment does not have fastai 2.8.7, fastcore 1.x and accelerate 1.10.1 (above)"

echo "-- the bundle for that image (charm-kaggle-bundle): our wheel and nothing else"
$PY -m pip freeze 2>/dev/null > "$T/have.txt"
python3 -c "from charm_xray.bundle import kaggle_bundle; kaggle_bundle('$T/bundle', project='.', have='$T/have.txt', owner='ci-check')" \
  || fail "charm-kaggle-bundle for that image failed"
extra=$(ls "$T/bundle" | grep -v '^charm_xray-.*\.whl$' | grep -v '^dataset-metadata.json$' || true)
[ -z "$extra" ] || fail "the bundle for an image that has every requirement also holds: $extra"
echo "-- the bundle for an image without pyyaml carries its wheel (for Kaggle's Python 3.12)"
grep -vi '^pyyaml==' "$T/have.txt" > "$T/have-no-yaml.txt"
python3 -c "from charm_xray.bundle import kaggle_bundle; kaggle_bundle('$T/bundle2', project='.', have='$T/have-no-yaml.txt', owner='ci-check')" \
  || fail "charm-kaggle-bundle for an image without pyyaml failed"
ls "$T/bundle2" | grep -qi '^pyyaml-.*cp312.*\.whl$' || fail "the bundle for an image without pyyaml has no pyyaml wheel for Python 3.12: $(ls "$T/bundle2")"

echo "-- simulated Kaggle in that environment, internet off: the install cell installs from the attached bundle"
BUNDLE=(--bundle "$T/bundle")
if (cd "$T" && $PY -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('charm_xray') is None)"); then
  # the outer Python has a regular (not editable) charm-xray, which the new environment sees: put the wheel's copy first
  echo "   (charm_xray is visible from the outer Python: installing the wheel directly; the install cell is not exercised)"
  $PY -m pip install -q --no-index --no-deps --force-reinstall "$T"/bundle/charm_xray-*.whl || fail "pip could not install our wheel"
  BUNDLE=()
fi
python3 .ci/kaggle_sim.py --python "$PY" --sessions 1,2 "${BUNDLE[@]}" || fail "the simulated Kaggle failed in the Kaggle-stack environment (above)"

echo "-- after the notebooks: Kaggle's packages unchanged, charm-xray from the wheel"
$PY -m pip freeze 2>/dev/null | grep -iE "$KEEP" | sort > "$T/after.txt"
diff "$T/before.txt" "$T/after.txt" || fail "installing charm-xray changed Kaggle's packages (diff above)"
(cd "$T" && $PY -c "import charm_xray, fastai, fastcore, accelerate, sys; from pathlib import Path
assert Path(sys.prefix) in Path(charm_xray.__file__).resolve().parents, charm_xray.__file__
print('   charm_xray from the wheel:', charm_xray.__file__, '| fastai', fastai.__version__, '| fastcore', fastcore.__version__, '| accelerate', accelerate.__version__)") \
  || fail "charm_xray in the new environment is not the wheel's copy"
echo "kaggle_stack: passed in $(( $(date +%s) - t0 )) s"
