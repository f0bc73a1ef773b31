"""Which ONNX exporter for `charm-export`, and what an export costs (issue 30).

Why: PyTorch 2.14's `torch.onnx.export` defaults to the `torch.export`-based exporter (`dynamo=True`), which needs
the `onnxscript` package; the TorchScript-based one (`dynamo=False`) is deprecated but still there and needs only
`onnx`. `export_onnx` uses the latter; this script records the evidence: for each exporter, the time to export and
how far onnxruntime's outputs are from the torch model's on real NIH films.

How: for each setting, a `CharmModel` (ResNet-18 at 64 px and EfficientNetV2-S at 256 px with random weights,
EfficientNet-Lite0 at 112 px with the ImageNet weights that install offline) with a momentum pathway used for
evaluation (`use_ema_for_eval=True`, its weights nudged by 1% of each tensor's spread) and its memory bank holding the
features of 16 other real films, wrapped in `PredictionGraph` (temperature 1.5) under `using_pathway(model,
'momentum')`, is exported with each exporter (the new one only when onnxscript is installed); the first `--films`
films of the real NIH sample (through `film_input`) are run by onnxruntime and by the torch model, and the largest
difference of the probabilities is recorded, beside the model's own rounding sensitivity (the same torch model in
float64 against float32).

    python benchmarks/bench_export.py [--settings tiny,demo,default] [--films 8] [--out benchmarks/export_result.md]
"""
import argparse, copy, io, sys, time, warnings
from pathlib import Path
import numpy as np, torch
from fastai.vision.all import imagenet_stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditions import Conditions
from charm_xray.core import durable_write
from charm_xray.model import CharmModel, using_pathway
from charm_xray.backbones import lite0_weights
from charm_xray.data import real_nih_sample
from charm_xray.export import PredictionGraph
from charm_xray.onnx_predict import film_input

SETTINGS = {'tiny': dict(arch='resnet18', size=64, pretrained=False, what="the tests' tiny model: ResNet-18 at 64 px, random weights"),
            'demo': dict(arch='efficientnet_lite0', size=112, pretrained=True, what="the demo's: EfficientNet-Lite0 at 112 px, ImageNet weights"),
            'default': dict(arch='tf_efficientnetv2_s', size=256, pretrained=False, what="the config's default: EfficientNetV2-S at 256 px, random weights")}

def model_for(arch:str, bank_films:list, size:int, pretrained:bool=False) -> CharmModel:
    "A `CharmModel` with random weights, its momentum copy nudged (1% of each tensor's spread), its bank holding real films' features."
    torch.manual_seed(0)
    weights = str(lite0_weights()) if pretrained else False           # offline ImageNet weights exist for Lite0 only
    m = CharmModel(arch, pretrained=weights, bank_size=64, use_ema_for_eval=True).eval()
    with torch.no_grad():
        for p in m.momentum.parameters(): p.add_(0.01 * p.std().nan_to_num(0.) * torch.randn_like(p))
        x = torch.from_numpy(np.stack([film_input(f, size, *imagenet_stats) for f in bank_films]))
        m.bank.enqueue(m.encode(x, 'momentum'), torch.randint(0, 2, (len(x), m.n_out)).float())
    return m

def export(graph, size:int, dynamo:bool) -> tuple[bytes, float]:
    "The ONNX bytes of `graph` from one exporter, and the seconds the export took."
    import tempfile
    fn, t0 = Path(tempfile.mkdtemp())/'m.onnx', time.time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if dynamo:
            torch.onnx.export(graph, (torch.zeros(2, 3, size, size),), str(fn), dynamo=True, external_data=False, input_names=['image'],
                              output_names=['logits', 'probabilities'], dynamic_shapes={'x': {0: torch.export.Dim('batch', min=1)}})
        else:
            torch.onnx.export(graph, (torch.zeros(2, 3, size, size),), str(fn), dynamo=False, input_names=['image'],
                              output_names=['logits', 'probabilities'], opset_version=17,
                              dynamic_axes={n: {0: 'batch'} for n in ('image', 'logits', 'probabilities')})
    secs = time.time() - t0
    return fn.read_bytes(), secs

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--settings', default='tiny,demo,default')
    p.add_argument('--films', type=int, default=8)
    p.add_argument('--out', default=str(Path(__file__).resolve().parent/'export_result.md'))
    a = p.parse_args(argv)
    cond = Conditions()
    import onnxruntime as ort
    try: import onnxscript; has_new = True
    except ImportError: has_new = False
    sample = real_nih_sample()
    films = sorted((sample/'images').glob('*.png'))[:a.films]
    bank = sorted((sample/'images').glob('*.png'))[-16:]                   # other films' features fill the bank
    rows = []
    for name in a.settings.split(','):
        s = SETTINGS[name]
        model = model_for(s['arch'], bank, s['size'], s['pretrained'])
        x = np.stack([film_input(f, s['size'], *imagenet_stats) for f in films])
        with using_pathway(model, 'momentum'), torch.no_grad():
            graph = PredictionGraph(model, 1.5).eval()
            want = graph(torch.from_numpy(x))[1].numpy()
            m64 = copy.deepcopy(model).double()             # the model's own sensitivity to rounding: float64 vs float32
            with using_pathway(m64, 'momentum'): spread = np.abs(PredictionGraph(m64, 1.5)(torch.from_numpy(x).double())[1].numpy() - want).max()
            for dynamo in ([False, True] if has_new else [False]):
                data, secs = export(graph, s['size'], dynamo)
                sess = ort.InferenceSession(data, providers=['CPUExecutionProvider'])
                got = sess.run(['probabilities'], {sess.get_inputs()[0].name: x})[0]
                rows.append(f"| {name} ({s['what']}) | {'torch.export (dynamo=True)' if dynamo else 'TorchScript (dynamo=False)'} | "
                            f"{secs:.1f} s | {len(data) / 2**20:.1f} MB | {np.abs(got - want).max():.1e} | {spread:.1e} |")
                print(rows[-1], flush=True)
    body = ["| model | exporter | export time | file | largest probability difference, onnxruntime vs torch | the same, torch float64 vs float32 |",
            "|---|---|---|---|---|---|", *rows, "",
            f"On {len(films)} real NIH films of `{sample.name}` (first by name), preprocessed by `film_input`; momentum pathway, a bank of 16 other real films' features, temperature 1.5. One export each, on this "
            f"machine's CPU under the load stated above. The last column is the model's own sensitivity to rounding: a "
            f"randomly initialised deep backbone without ImageNet weights amplifies its activations so much (feature norms of "
            f"1e5 and more) that float32 and float64 runs of the same torch model disagree, and so does any other float32 runtime; "
            f"an agreement check needs a model with sane activations (trained, or with ImageNet weights)." + ("" if has_new else " onnxscript was not installed: the "
            "torch.export-based exporter was not run.")]
    durable_write(a.out, cond.header('ONNX export: exporters, time and agreement') + '\n'.join(body) + '\n')
    print(f"wrote {a.out}")

if __name__ == '__main__': main()
