"""The conditions block every benchmark result file starts with: what ran, where, when, and how busy the machine was.

A number is only as good as what it was measured on. Each `benchmarks/*_result.md` opens with the same lines, written
by `conditions()` before the measurement and `finish()` after it, so `.ci/numbers_check.py` can tell that a result
file names its command, commit, machine, date and load:

    from conditions import Conditions
    cond = Conditions()                 # before measuring: command, commit, machine, date, load before
    ...                                 # measure
    text = cond.header('Title') + body  # after: load after, duration
"""
import os, platform, re, shlex, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ('command', 'commit', 'machine', 'date', 'load')   # what numbers_check requires of every result file

def _commit() -> str:
    "The checkout's commit, marked `+dirty` when tracked files differ from it."
    try:
        sha = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
        dirty = [l for l in changed if not re.search(r'benchmarks/\w+_result\.(md|json)$', l)]   # result files written by a run before are not code
        return (sha or 'unknown') + ('+dirty' if dirty else '')
    except OSError: return 'unknown (no git)'

def _cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or 'unknown CPU'

def machine() -> str:
    "One line: architecture, CPU model and cores, GPU (or none), Python, torch and its threads."
    try:
        import torch
        gpu = f"GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else 'no GPU'
        tv = f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError: gpu, tv = 'GPU unknown', ''
    return f"{platform.machine()}, {os.cpu_count()} CPU cores ({_cpu_model()}), {gpu}, Python {platform.python_version()}{tv}"

class Conditions:
    "Record the conditions of one benchmark run: create before measuring, `header()` after."
    def __init__(self, argv:list|None=None):
        argv = sys.argv if argv is None else argv
        self.command = 'python ' + ' '.join(shlex.quote(str(a)) for a in [os.path.relpath(argv[0], ROOT) if Path(argv[0]).exists() else argv[0], *argv[1:]])
        self.commit, self.machine = _commit(), machine()
        self.t0, self.load0 = time.time(), os.getloadavg()[0]
        self.date = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(self.t0))

    def lines(self) -> list:
        "The conditions as markdown list lines (load after and duration taken now)."
        load1, secs = os.getloadavg()[0], time.time() - self.t0
        busy = 'quiet' if max(self.load0, load1) < 1.5 else 'shared with other work'
        return [f"- command: `{self.command}`", f"- commit: {self.commit}", f"- machine: {self.machine}",
                f"- date: {self.date}, took {secs / 60:.1f} min",
                f"- load: 1-minute load average {self.load0:.2f} before, {load1:.2f} after ({busy}; {os.cpu_count()} cores)"]

    def header(self, title:str) -> str:
        "`# title`, then the conditions, then a blank line."
        return '\n'.join([f"# {title}", "", *self.lines(), ""]) + '\n'
