"""Check a run report (report.html) in a real browser: headless Chromium renders it, every picture decodes, and every
number the page shows equals the results file it names (issue 30).

    python3 .ci/report_check.py runs/demo/report.html            # the results file: the one the page names, beside it
    python3 .ci/report_check.py PAGE --results FILE --screenshot nbs/images/report.png
    python3 .ci/report_check.py --self-test                      # must refuse a broken picture and a number that differs

How: a copy of the page gets a small script that, once the page has loaded, writes each <img>'s naturalWidth into
the DOM; `chromium --headless --dump-dom` returns that DOM. An image the browser could not decode has naturalWidth
0. The numbers are read from the rendered DOM (`report.report_numbers`: each carries its place in the results file)
and compared with the file (`report.check_report_numbers`). A screenshot of the page must not be blank. Needs
Chromium: `apt-get install -y chromium` (Debian).
"""
import argparse, json, re, shutil, subprocess, sys, tempfile, warnings
warnings.filterwarnings("ignore", category=FutureWarning)   # torch.jit.script, at the import of fastai
from pathlib import Path

PROBE = ("<script>window.addEventListener('load', () => { for (const i of document.images) "
         "i.setAttribute('data-natural-width', i.naturalWidth); document.body.setAttribute('data-loaded', '1'); });</script>")

def chromium() -> str:
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        if exe := shutil.which(name): return exe
    sys.exit("error: report_check: no Chromium found: install it (Debian: apt-get install -y chromium)")

def _run(args, timeout=120):
    base = [chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--virtual-time-budget=10000']
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout)

def rendered_dom(page:Path) -> str:
    "The DOM Chromium holds after loading `page` with the probe script added."
    with tempfile.TemporaryDirectory() as d:
        copy = Path(d)/'page.html'
        copy.write_text(page.read_text().replace('</body>', PROBE + '</body>', 1))
        r = _run(['--dump-dom', copy.as_uri()])
    if r.returncode or '<body' not in r.stdout: raise SystemExit(f"error: report_check: Chromium did not render {page}: {r.stderr[-500:]}")
    return r.stdout

def screenshot(page:Path, dest:Path, width:int=1150, height:int=2400):
    r = _run([f'--screenshot={dest}', f'--window-size={width},{height}', page.resolve().as_uri()])
    if r.returncode or not dest.exists(): raise SystemExit(f"error: report_check: no screenshot of {page}: {r.stderr[-500:]}")

def check(page:Path, results:Path|None=None, min_images:int=3, shot:Path|None=None) -> list:
    "Problems with the report at `page` (empty: it renders, every picture decodes, its numbers equal the results file)."
    from charm_xray.report import report_numbers, check_report_numbers
    from PIL import Image
    import numpy as np
    if not page.is_file(): return [f"{page}: no such report"]
    text = page.read_text()
    bad = [f"fetches {m}: the page must be self-contained" for m in re.findall(r"""(?:src|href)\s*=\s*['"]((?!data:|#)[^'"]+)""", text)]
    dom = rendered_dom(page)
    if 'data-loaded="1"' not in dom: bad.append("the page never finished loading")
    widths = re.findall(r'<img\b[^>]*?data-natural-width="(\d+)"', dom)
    n_img = len(re.findall(r'<img\b', dom))
    if n_img < min_images: bad.append(f"{n_img} pictures, at least {min_images} expected")
    if len(widths) != n_img: bad.append(f"{n_img - len(widths)} pictures not reached by the probe")
    if broken := sum(int(w) == 0 for w in widths): bad.append(f"{broken} broken picture(s): the browser could not decode them")
    found, name = report_numbers(dom)
    results = results or (page.parent/name if name else None)
    if results is None or not Path(results).is_file(): bad.append(f"results file {results} not found (the page names {name!r})")
    else:
        bad += check_report_numbers(found, json.loads(Path(results).read_text()))
        print(f"report_check: {len(found)} numbers of {page} compared with {results}")
    with tempfile.TemporaryDirectory() as d:
        png = Path(d)/'shot.png'
        screenshot(page, png)
        if np.asarray(Image.open(png).convert('L'), dtype=float).std() < 5: bad.append("the screenshot is blank")
        if shot: Path(shot).parent.mkdir(parents=True, exist_ok=True); shutil.copy(png, shot)
    return bad

def self_test():
    "A good page passes; a broken picture fails; a number that differs from the file fails."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from charm_xray.core import LABELS
    from charm_xray.report import report_html, figure_uri
    res = dict(split='test', split_name='official test list', n_images=30, mean_auc=0.75, micro_auc=0.8,
               per_class={l: 0.6 + i / 100 for i, l in enumerate(LABELS)}, thresholds={l: 0.25 for l in LABELS})
    imgs = {}
    for k in ('one', 'two', 'three'):
        fig, ax = plt.subplots(); ax.plot([0, 1], [0, 1]); ax.set_title(k); imgs[k] = figure_uri(fig)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); (d/'results.json').write_text(json.dumps(res))
        cases = {'good': (imgs, res), 'broken picture': ({**imgs, 'two': 'data:image/png;base64,iVBORw0KGgoAAAAN'}, res),
                 'a number that differs': (imgs, {**res, 'per_class': {**res['per_class'], 'Hernia': 0.99}})}
        for what, (im, shown) in cases.items():
            page = d/f"{what.replace(' ', '_')}.html"
            page.write_text(report_html(shown, 'results.json', dict(title=what), im))
            bad = check(page)
            print(f"  {what}: {'; '.join(bad) or 'passes'}")
            if (what == 'good') == bool(bad): sys.exit(f"error: report_check --self-test: the {what} page {'failed' if bad else 'passed'}")
    print("report_check --self-test: a good page passes, a broken picture and a number that differs are refused")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('page', nargs='?', help='report.html')
    ap.add_argument('--results', help='the results file (default: the one the page names, beside it)')
    ap.add_argument('--screenshot', help='also save the screenshot here (the docs picture)')
    ap.add_argument('--min-images', type=int, default=3)
    ap.add_argument('--self-test', action='store_true')
    a = ap.parse_args()
    if a.self_test: self_test(); sys.exit(0)
    if not a.page: ap.error('give a report or --self-test')
    problems = check(Path(a.page), a.results and Path(a.results), a.min_images, a.screenshot and Path(a.screenshot))
    if problems: sys.exit("error: report_check: " + f"{a.page}: " + '; '.join(problems))
    print(f"report_check: {a.page} renders in headless Chromium, every picture decodes, its numbers equal its results file")
