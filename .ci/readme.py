#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto, which is not installable offline).

Markdown cells are copied; code cells that are not hidden (`#| hide`) become ```python blocks (directive lines
dropped, `#| echo: false` keeps only the output), followed by their text outputs (stdout, plain-text results) as
plain ``` blocks. Pictures (image outputs) are left out: the README points to the rendered page for them, where they are shown.
Links to other notebooks (`02_data.ipynb`) become links to their page on the documentation site.
`--check` exits 1 when README.md is out of date instead of writing it."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
SITE = 'https://charm-xray.github.io/charm-xray/'
HEADER = '<!-- Written from nbs/index.ipynb by .ci/readme.py (nbdev-readme needs Quarto, which is not installed offline). -->\n\n'

def _directives(src):
    "The `#| key: value` directives of a code cell and its source without them."
    d, body = {}, []
    for line in src.splitlines():
        m = re.match(r'\s*#\|\s*([\w-]+)\s*:?\s*(.*)$', line)
        if m: d[m.group(1)] = m.group(2).strip()
        else: body.append(line)
    return d, '\n'.join(body).strip()

def _text(o):
    "The text of one output, or None (pictures, HTML-only displays, stderr)."
    if o['output_type'] == 'stream': return ''.join(o['text']) if o.get('name') == 'stdout' else None
    if o['output_type'] in ('execute_result', 'display_data'):
        data = o.get('data', {})
        if 'text/markdown' in data: return None
        t = ''.join(data.get('text/plain', ''))
        if any(k.startswith('image/') or k == 'text/html' for k in data) and (not t or t.startswith('<')): return None
        return t or None
    return None

def _page(m):
    "A link to a notebook, as a link to its page (nbdev drops the `NN_` prefix)."
    name = re.sub(r'^\d+[a-z]?_', '', Path(m.group(2)).stem)
    return f"]({SITE}{name}.html{m.group(3) or ''})"

def render(nb:dict) -> str:
    "README text of the notebook `nb`."
    parts = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown':
            parts.append(re.sub(r'\]\((?!https?:)(\./)?([\w./-]+\.ipynb)(#[\w-]+)?\)', _page, src.strip()))
            continue
        if c['cell_type'] != 'code': continue
        d, body = _directives(src)
        if 'hide' in d or d.get('include') == 'false': continue
        if body and d.get('echo') != 'false': parts.append(f"```python\n{body}\n```")
        if d.get('output') == 'false': continue
        outs = c.get('outputs', [])
        texts = [t for t in map(_text, outs) if t]
        if any(k.startswith('image/') for o in outs for k in o.get('data', {})): parts.append(f"*(A picture: see the [documentation page]({SITE}).)*")
        if texts: parts.append("```\n" + ''.join(texts).rstrip('\n') + "\n```")
    return HEADER + '\n\n'.join(p for p in parts if p) + '\n'

if __name__ == '__main__':
    text = render(json.loads((root/'nbs'/'index.ipynb').read_text()))
    readme = root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            sys.exit("README.md is out of date with nbs/index.ipynb: run python3 .ci/readme.py and commit.")
        if len(text.encode()) >= 10_000: sys.exit(f"README.md is {len(text.encode())} bytes; keep it under 10 KB (move detail to a chapter).")
    else: readme.write_text(text)
