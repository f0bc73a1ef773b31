#!/usr/bin/env python
"""Every measured number in README.md comes from a result file that a benchmark script wrote, with its conditions.

README.md is cut into paragraphs, list items and table rows (code blocks and their outputs are left out: those are
run, not claimed). In each, a *measured* number is a decimal (0.829, 1.31) or a number with a unit of time, size,
speed or ratio (102 s, 6.3 GB, 12×). Each such number must either be a stated fact in `FACTS` below (with where it
comes from), or appear in a result file that the same paragraph or row cites by path (`benchmarks/..._result.md`);
every cited result file must exist and open with the conditions block of `benchmarks/conditions.py` (command, commit,
machine, date, load).

    python3 .ci/numbers_check.py               # README.md
    python3 .ci/numbers_check.py --self-test   # the check on tiny READMEs: each defect must fail

Exits 1 with one line per number that has no source."""
import re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root/'benchmarks'))
from conditions import FIELDS

FACTS = {   # numbers in README.md that are not our measurements, and where each comes from
    '3.10': "requires-python in pyproject.toml",
    '0.5': "the decision threshold of learn.predict (fastai's default), a setting",
    '95 %': "the confidence level of the bootstrap intervals, a setting",
    '0.8752': "the paper's reported mean AUC (its own patient split)",
    '0.81': "published official-test-list AUCs, low end (../shared/README.md: SwAV/BYOL/MoCo-v2 ResNet-50)",
    '0.83': "published official-test-list AUCs, high end (../shared/README.md: medical MAE ViT-B/16, 0.830)",
}
UNIT = r'(?:\s?(?:×|x\b|%|s\b|min\b|minutes?\b|h\b|hours?\b|GB\b|GiB\b|MB\b|MiB\b|kB\b|images/s|img/s|ms\b))'
NUMBER = re.compile(r'(?<![\w.])(\d[\d,]*\.\d+' + UNIT + r'?|\d[\d,]*' + UNIT + r')')
CITE = re.compile(r'benchmarks/\w+_result\.(?:md|json)')

def units(text:str) -> list:
    "Paragraphs, list items and table rows of a markdown text, code blocks and HTML comments left out."
    text = re.sub(r'^```.*?^```', '\n', text, flags=re.M | re.S)
    text = re.sub(r'<!--.*?-->', '', text, flags=re.S)
    out = []
    for para in re.split(r'\n\s*\n', text):
        lines = para.splitlines()
        if any(l.lstrip().startswith(('|', '- ', '* ')) for l in lines):   # rows and items stand alone; wrapped lines join their item
            cur = []
            for l in lines:
                if l.lstrip().startswith(('|', '- ', '* ')) and cur: out.append('\n'.join(cur)); cur = []
                cur.append(l)
            if cur: out.append('\n'.join(cur))
        elif para.strip(): out.append(para)
    return out

def numbers(unit:str) -> list:
    "The measured-looking numbers of one unit (inline code, links' targets and URLs left out)."
    t = re.sub(r'\]\([^)]*\)', ']', unit)
    t = re.sub(r'`[^`]*`', '', t)
    t = re.sub(r'https?://\S+', '', t)
    return [m.group(0).strip() for m in NUMBER.finditer(t)]

def _bare(tok:str) -> str:
    "The number of a token without its unit or thousands commas: '12.1×' -> '12.1', '1,234 s' -> '1234'."
    return re.match(r'[\d,]*\.?\d+', tok).group(0).replace(',', '')

def _has(text:str, num:str) -> bool:
    "Whether `num` appears in `text` as a number of its own (commas between thousands allowed)."
    pat = re.escape(num) if len(num.split('.')[0]) <= 3 else re.sub(r'(\d)(?=(\d{3})+(\D|$))', r'\1,?', num)
    return re.search(r'(?<![\d.])' + pat + r'(?![\d])', text) is not None

def problems(readme:str, base:Path=root) -> list:
    "What is wrong: numbers without a source, cited files that are missing or lack their conditions."
    out, seen = [], {}
    for u in units(readme):
        nums = [n for n in numbers(u) if n not in FACTS and _bare(n) not in FACTS]
        cited = sorted(set(CITE.findall(u)))
        for c in cited:
            if c in seen: continue
            f = base/c
            seen[c] = f.read_text() if f.exists() else None
            if seen[c] is None: out.append(f"{c}: cited but missing"); continue
            lacks = [k for k in FIELDS if not re.search(rf'^- {k}:', seen[c], re.M)]
            if lacks: out.append(f"{c}: lacks its conditions ({', '.join(lacks)}); rerun the script that writes it")
        where = ' '.join(u.split())[:90]
        for n in nums:
            if not cited: out.append(f"{n!r} has no result file (the text cites none): {where}")
            elif not any(seen.get(c) and _has(seen[c], _bare(n)) for c in cited):
                out.append(f"{n!r} is in none of {', '.join(cited)}: {where}")
    return out

def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); (d/'benchmarks').mkdir()
        head = ''.join(f"- {k}: x\n" for k in FIELDS)
        (d/'benchmarks/a_result.md').write_text(f"# A\n\n{head}\n| x | 1.31 | 2,345 |\n")
        (d/'benchmarks/old_result.md').write_text("machine: x\n\n1.31\n")
        good = ("Intro, Python ≥ 3.10.\n\n| what | number | where |\n|---|---|---|\n"
                "| ratio | **1.31×** | benchmarks/a_result.md |\n| films | 2,345 s | benchmarks/a_result.md |\n\n"
                "```\n{'loss': 0.685}\n```\n")
        assert problems(good, d) == [], problems(good, d)
        for name, text in [('uncited number', good + "\nThe demo takes 97 s.\n"),
                           ('number not in the cited file', good.replace('1.31×', '1.35×')),
                           ('missing file', good.replace('a_result.md |\n| films', 'b_result.md |\n| films')),
                           ('file without conditions', good.replace('a_result.md |\n| films', 'old_result.md |\n| films'))]:
            got = problems(text, d)
            assert got, f"accepted: {name}"
            print(f"ok, refused ({name}): {got[0]}")
    print("numbers_check self-test passed")

if __name__ == '__main__':
    if sys.argv[1:] == ['--self-test']: self_test(); sys.exit()
    bad = problems((root/'README.md').read_text())
    for b in bad: print(f"README.md: {b}", file=sys.stderr)
    n = sum(len(numbers(u)) for u in units((root/'README.md').read_text()))
    print(f"README.md: {n} measured-looking numbers, {len(bad)} without a source")
    sys.exit(1 if bad else 0)
