#!/usr/bin/env bash
# Kaggle's own packages: a second environment that has what Kaggle's image has -- fastai 2.8.7 with fastcore < 2
# (Kaggle pins fastcore<2) over this machine's torch -- gets charm-xray from its wheel, the way an internet-off
# Kaggle notebook does (the charm-kaggle-bundle folder, pip --no-index). Fails if the install replaces any of torch,
# torchvision, fastai, fastcore, if the bundle for that image holds more than our wheel, or if the bundle for an
# image that lacks one requirement does not carry it. Then kaggle/train.ipynb runs there in QUICK mode on the
# simulated Kaggle (its cells executed directly: nbdev needs fastcore 2).
set -euo pipefail
cd "$(dirname "$0")/.."
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
PY=$T/venv/bin/python
KEEP='^(torch|torchvision|fastai|fastcore)=='

echo "-- the environment: fastai 2.8.7, fastcore<2 over the system's torch"
python3 -m venv --system-site-packages "$T/venv"
$PY -m pip install -q "fastai==2.8.7" "fastcore<2"
$PY -m pip freeze | grep -iE "$KEEP" | sort > "$T/before.txt"
grep -q '^fastai==2.8.7$' "$T/before.txt" && grep -q '^fastcore==1\.' "$T/before.txt" || { cat "$T/before.txt"; exit 1; }
cat "$T/before.txt"

echo "-- the bundle for that image (charm-kaggle-bundle): our wheel and nothing else"
$PY -m pip freeze > "$T/have.txt"
python3 -c "from charm_xray.kaggle import kaggle_bundle; kaggle_bundle('$T/bundle', project='.', have='$T/have.txt')"
test "$(ls "$T/bundle" | grep -v '^charm_xray-.*\.whl$' | grep -v '^dataset-metadata.json$' | wc -l)" = 0
echo "-- the bundle for an image without pyyaml carries its wheel"
grep -vi '^pyyaml==' "$T/have.txt" > "$T/have-no-yaml.txt"
python3 -c "from charm_xray.kaggle import kaggle_bundle; kaggle_bundle('$T/bundle2', project='.', have='$T/have-no-yaml.txt')"
ls "$T/bundle2" | grep -qi '^pyyaml-.*\.whl$'

echo "-- install from the bundle without an index, as on Kaggle with the internet off"
WHEEL=$(ls "$T"/bundle/charm_xray-*.whl)
# The checkout is installed editable in the system site-packages this venv sees: put the wheel's copy in the venv.
$PY -m pip install --no-index --no-deps --force-reinstall "$WHEEL" > "$T/install.log"
$PY -m pip install --no-index --find-links "$T/bundle" charm-xray >> "$T/install.log"
grep -E "^Successfully installed|^Installing" "$T/install.log" || true
if grep -iE 'Successfully installed.*(torch|fastai|fastcore)' "$T/install.log"; then echo "the install replaced Kaggle's packages"; exit 1; fi
$PY -m pip freeze | grep -iE "$KEEP" | sort > "$T/after.txt"
diff "$T/before.txt" "$T/after.txt"
(cd "$T" && $PY -c "import charm_xray, fastai, fastcore, sys; from pathlib import Path
assert Path(sys.prefix) in Path(charm_xray.__file__).resolve().parents, charm_xray.__file__
print('imports from the wheel:', charm_xray.__file__, '| fastai', fastai.__version__, '| fastcore', fastcore.__version__)")

echo "-- kaggle/train.ipynb, QUICK, on the simulated Kaggle, in that environment"
python3 .ci/kaggle_sim.py --python "$PY" --sessions 1
