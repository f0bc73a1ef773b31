"""What the install costs: time and disk of `pip install -e ".[dev]"` in a new virtual environment.

Creates a fresh venv, runs the README's install line in it from this checkout (timed, wall clock), then sizes the
installed packages (the venv's site-packages, and its largest parts: torch, the NVIDIA CUDA libraries, triton).
Pip's cache and any local wheel files on the machine speed the install up: the result says which pip and index
were used, and times depend on the network and disk.

    python benchmarks/bench_install.py [--venv /tmp/charm-venv] [--keep] [--out benchmarks/install_result.md]

The venv is removed afterwards unless --keep (CI can then reuse it)."""
import argparse, os, shutil, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from conditions import Conditions, ROOT

def du(p:Path) -> int:
    "Bytes under `p` (files only, links not followed)."
    return sum(f.stat().st_size for f in p.rglob('*') if f.is_file() and not f.is_symlink()) if p.exists() else 0

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--venv', default='/tmp/charm-venv'); ap.add_argument('--keep', action='store_true')
    ap.add_argument('--out', default=str(Path(__file__).with_name('install_result.md')))
    a = ap.parse_args()
    cond, venv = Conditions(), Path(a.venv)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    py = venv/'bin'/'python'
    subprocess.run([py, '-m', 'pip', 'install', '-q', '--upgrade', 'pip'], check=True)
    t0 = time.time()
    r = subprocess.run([py, '-m', 'pip', 'install', '-q', '-e', '.[dev]'], cwd=ROOT, capture_output=True, text=True)
    secs = time.time() - t0
    if r.returncode: raise SystemExit(f"install failed:\n{r.stderr[-3000:]}")
    site = Path(subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], capture_output=True, text=True).stdout.strip())
    vers = subprocess.run([py, '-c', 'import torch, fastai, timm; print(torch.__version__, fastai.__version__, timm.__version__)'],
                          capture_output=True, text=True).stdout.split()
    parts = {'all installed packages (site-packages)': du(site), 'torch': du(site/'torch'),
             'NVIDIA CUDA libraries (nvidia/)': du(site/'nvidia'), 'triton': du(site/'triton')}
    pipv = subprocess.run([py, '-m', 'pip', '--version'], capture_output=True, text=True).stdout.split(' from ')[0]
    lines = [cond.header('What the install costs (`pip install -e ".[dev]"` in a new venv)'),
             f"Installed: torch {vers[0] if vers else '?'}, fastai {vers[1] if len(vers) > 1 else '?'}, timm {vers[2] if len(vers) > 2 else '?'}; "
             f"{pipv}; pip config: {os.environ.get('PIP_CONFIG_FILE') or ('/etc/xdg/pip' if Path('/etc/xdg/pip').exists() else 'default')}.", "",
             "| what | value |", "|---|---:|",
             f"| install time (wall clock, `pip install -e \".[dev]\"`) | {secs:.0f} s ({secs / 60:.1f} min) |"]
    lines += [f"| {k} | {v / 1e9:.1f} GB |" for k, v in parts.items()]
    lines += ["", "The install time counts downloads: on this machine torch and torchvision come from a local disk "
              "(pip's configured cap), so a machine that downloads them takes longer."]
    from charm_xray.core import durable_write
    durable_write(a.out, '\n'.join(lines) + '\n')
    print('\n'.join(lines))
    if not a.keep: shutil.rmtree(venv, ignore_errors=True)

if __name__ == '__main__': main()
