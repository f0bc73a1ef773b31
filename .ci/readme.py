#!/usr/bin/env python
"""Write README.md from the markdown cells of nbs/index.ipynb (nbdev-readme needs Quarto, which is not installable
offline). `--check` exits 1 when README.md is out of date instead of writing it."""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
cells = json.loads((root/'nbs'/'index.ipynb').read_text())['cells']
md = [''.join(c['source']).strip() for c in cells if c['cell_type'] == 'markdown']
text = '<!-- Written from nbs/index.ipynb by .ci/readme.py (nbdev-readme needs Quarto, which is not installed offline). -->\n\n' \
       + '\n\n'.join(md) + '\n'
readme = root/'README.md'
if '--check' in sys.argv:
    if readme.read_text() != text: sys.exit("README.md is out of date with nbs/index.ipynb: run python .ci/readme.py and commit.")
else: readme.write_text(text)
