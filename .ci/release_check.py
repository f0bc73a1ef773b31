#!/usr/bin/env python3
"""Release readiness: what a Kaggle user gets from the notebooks is this release.

1. Every `charm-xray==VERSION` the Kaggle notebooks (kaggle/*.ipynb) and the library's install help
   (`kaggle_setup.INSTALL_HELP`) name is `charm_xray.__version__` (read from charm_xray/__init__.py of this checkout).
2. With --kaggle-env DIR (the Kaggle-versions environment that .ci/kaggle_stack.sh builds): the wheel built from this
   checkout installs into a throwaway environment over DIR with `pip install --no-index --find-links FOLDER`
   (the bundle route: nothing from an index), replaces none of torch, torchvision, fastai, fastcore, accelerate, and
   imports (charm_xray, its training and Kaggle modules) from the wheel's copy. --wheels FOLDER takes a folder that
   already holds the wheel (kaggle_stack's bundle); without it the wheel is built here (pip wheel --no-deps).

Usage: python3 .ci/release_check.py [--kaggle-env DIR] [--wheels FOLDER]
Exit 1 on a failure, with a line saying what and why.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

repo = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser()
p.add_argument('--kaggle-env', default=None); p.add_argument('--wheels', default=None)
a = p.parse_args()

def fail(msg): sys.exit(f"release_check FAILED: {msg}")
def ok(msg): print(f"   ok: {msg}")

version = re.search(r'^__version__\s*=\s*["\']([^"\']+)', (repo/'charm_xray'/'__init__.py').read_text(), re.M).group(1)
PIN = re.compile(r'charm-xray==([0-9][\w.+-]*[0-9a-zA-Z])')
found = {}
for nb in sorted((repo/'kaggle').glob('*.ipynb')):
    for c in json.loads(nb.read_text())['cells']:
        if c['cell_type'] == 'code':
            for v in PIN.findall(''.join(c['source'])): found.setdefault(v, set()).add(nb.name)
if not found: fail("the Kaggle notebooks pin no charm-xray==VERSION in their code cells")
help_text = (repo/'charm_xray'/'kaggle_setup.py').read_text()
for v in PIN.findall(help_text): found.setdefault(v, set()).add('charm_xray/kaggle_setup.py')
wrong = {v: sorted(w) for v, w in found.items() if v != version}
if wrong: fail(f"charm_xray.__version__ is {version}, but {wrong} pin other versions: update them together")
ok(f"the notebooks and the install help pin charm-xray=={version}, the package's version ({', '.join(sorted(set().union(*found.values())))})")

if not a.kaggle_env:
    print("   (no --kaggle-env: the wheel's install into the Kaggle-versions environment is not checked here; .ci/kaggle_stack.sh does)")
    sys.exit(0)
env = Path(a.kaggle_env)
kpy = env/'bin'/'python'
if not kpy.exists(): fail(f"{kpy} does not exist: build the environment with .ci/kaggle_stack.sh")
tmp = Path(tempfile.mkdtemp(prefix='release-check-'))
clean = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}   # the new environment must not see this checkout
try:
    wheels = Path(a.wheels) if a.wheels else tmp/'wheels'
    if not a.wheels:
        r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(wheels), str(repo)],
                           capture_output=True, text=True)
        if r.returncode: fail(f"pip wheel could not build the wheel from {repo}: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    whl = sorted(wheels.glob(f'charm_xray-{version}-*.whl'))
    if not whl: fail(f"{wheels} holds no charm_xray-{version}-*.whl (it has: {sorted(p.name for p in wheels.iterdir())})")
    subprocess.run([str(kpy), '-m', 'venv', str(tmp/'venv')], check=True, env=clean)
    py = tmp/'venv'/'bin'/'python'
    site = subprocess.run([str(py), '-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, env=clean).stdout.strip()
    ksite = subprocess.run([str(kpy), '-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, env=clean).stdout.strip()
    Path(site, '_kaggle_image.pth').write_text(ksite + '\n')
    KEEP = re.compile(r'^(torch|torchvision|fastai|fastcore|accelerate)==', re.I)
    def kept(): return sorted(l for l in subprocess.run([str(py), '-m', 'pip', 'freeze'], capture_output=True, text=True, env=clean).stdout.splitlines() if KEEP.match(l))
    before = kept()
    r = subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-index', '--find-links', str(wheels), f'charm-xray=={version}'],
                       capture_output=True, text=True, env=clean)
    if r.returncode: fail(f"pip install --no-index --find-links {wheels} charm-xray=={version} failed: {(r.stderr or r.stdout).strip().splitlines()[-3:]}")
    ok(f"{whl[-1].name} installed with --no-index from {wheels} into an environment over {env}")
    if kept() != before: fail(f"installing the wheel changed Kaggle's packages: {before} -> {kept()}")
    ok(f"Kaggle's packages unchanged: {', '.join(before)}")
    code = ("import sys, charm_xray, charm_xray.train, charm_xray.kaggle, charm_xray.kaggle_setup, charm_xray.preflight; from pathlib import Path\n"
            "assert Path(sys.prefix) in Path(charm_xray.__file__).resolve().parents, charm_xray.__file__\n"
            "print(charm_xray.__version__, charm_xray.__file__, 'Python', sys.version.split()[0])")
    r = subprocess.run([str(py), '-c', code], capture_output=True, text=True, cwd=tmp, env=clean)
    if r.returncode: fail(f"the installed wheel does not import: {r.stderr.strip().splitlines()[-3:]}")
    v, path, *rest = r.stdout.split()
    if v != version: fail(f"the installed charm_xray says {v}, not {version}")
    ok(f"charm_xray {v} imports from the wheel ({path}) on {' '.join(rest)}")
finally: shutil.rmtree(tmp, ignore_errors=True)
print("release_check: passed")
