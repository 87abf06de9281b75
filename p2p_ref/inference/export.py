"""p2p-export: the generator alone, for inference: a small PyTorch file and/or ONNX.

    p2p-export runs/facades/best.pt --out facades_G.pt --onnx facades_G.onnx

The PyTorch file holds G's weights and the run's config (no D, no optimizer state, no RNG), so it
is about a third of a training checkpoint; p2p-translate, p2p-eval and `p2p-train --init-from`
read it like a checkpoint. The ONNX file takes any height and width that are multiples of
2**num_downs (pad to that, as p2p-translate does: `p2p_ref.datasets.preprocess.pad_to_multiple`), inputs in
[-1, 1], N x input_nc x H x W; it is G in eval mode (no dropout, BatchNorm's running
statistics: the paper's test-time noise is not part of it). After writing, the ONNX model is run
with onnxruntime at two sizes and compared with PyTorch. The config travels in the ONNX file's
metadata (key "p2p_config").

ONNX needs the extra packages: pip install "p2p_ref[onnx]" (onnx, onnxruntime, onnxscript).
"""

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch

from p2p_ref.training.checkpoint import load_checkpoint, save_checkpoint
from p2p_ref.inference.translate import load_generator

EXPORT_FORMAT = "p2p_ref generator"


def export_generator(checkpoint, out):
    """Write G's weights and config from a checkpoint (or an exported file) to `out`."""
    ck = load_checkpoint(checkpoint)
    G, cfg = load_generator(checkpoint, "cpu", "eval")  # checks that the weights fit the config
    save_checkpoint(out, {"G": G.state_dict(), "config": cfg, "format": EXPORT_FORMAT,
                          "step": ck.get("step"), "epoch": ck.get("epoch"),
                          "exported_from": str(checkpoint)})
    return Path(out)


def _need(module, what):
    try:
        return __import__(module)
    except ImportError:
        raise RuntimeError(f"{what} needs the package {module!r}: pip install \"p2p_ref[onnx]\" "
                           f"(onnx, onnxruntime, onnxscript)") from None


def export_onnx(G, cfg, path, opset=17, dynamo=False):
    """Write G (put in eval mode) as ONNX with dynamic batch, height and width. dynamo=False
    uses PyTorch's TorchScript-based exporter (fast), dynamo=True the torch.export-based one
    (PyTorch's newer default; also used when the other is not available)."""
    onnx = _need("onnx", "ONNX export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    G = G.cpu().eval()
    m = 2 ** cfg["num_downs"]
    x = torch.rand(1, cfg.get("input_nc", 3), 2 * m, 3 * m) * 2 - 1
    legacy = not dynamo
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings of the exporters
        if legacy:
            try:
                torch.onnx.export(G, (x,), str(path), dynamo=False, opset_version=opset,
                                  input_names=["input"], output_names=["output"],
                                  dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                                "output": {0: "batch", 2: "height",
                                                           3: "width"}})
            except (TypeError, RuntimeError, ImportError, AttributeError):
                legacy = False  # a PyTorch without the TorchScript exporter
        if not legacy:
            _need("onnxscript", "ONNX export with torch.export")
            h, w = torch.export.Dim("h", min=1, max=2 ** 16 // m), torch.export.Dim(
                "w", min=1, max=2 ** 16 // m)
            program = torch.onnx.export(G, (x,), dynamo=True, opset_version=opset,
                                        input_names=["input"], output_names=["output"],
                                        dynamic_shapes={"x": {2: m * h, 3: m * w}})
            program.save(str(path))
    model = onnx.load(str(path))
    for key, value in (("p2p_config", json.dumps(cfg)), ("multiple", str(m)),
                       ("input_range", "[-1, 1]"), ("mode", "eval")):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def check_onnx(G, cfg, path, sizes=((2, 3), (3, 1)), atol=1e-4):
    """Run the ONNX file with onnxruntime at a few sizes (multiples of 2**num_downs) and compare
    with G in eval mode; returns the largest absolute difference, raises if above atol."""
    ort = _need("onnxruntime", "checking the ONNX file")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    G = G.cpu().eval()
    m = 2 ** cfg["num_downs"]
    worst = 0.0
    for hm, wm in sizes:
        x = torch.rand(1, cfg.get("input_nc", 3), hm * m, wm * m) * 2 - 1
        with torch.no_grad():
            want = G(x).numpy()
        got = session.run(None, {name: x.numpy()})[0]
        if got.shape != want.shape:
            raise RuntimeError(f"{path}: onnxruntime gives shape {got.shape} for an input of "
                               f"{tuple(x.shape)}; PyTorch gives {want.shape}")
        worst = max(worst, float(abs(got - want).max()))
    if worst > atol:
        raise RuntimeError(f"{path}: onnxruntime and PyTorch differ by up to {worst:.2e} "
                           f"(more than {atol:.0e})")
    return worst


def main(argv=None):
    p = argparse.ArgumentParser(prog="p2p-export", description="Write a trained generator alone: "
                                "weights + config (for p2p-translate), and/or ONNX.")
    p.add_argument("checkpoint", help="RUN_DIR, RUN_DIR/checkpoint.pt, best.pt, an epoch "
                                      "checkpoint or a p2p-convert file")
    p.add_argument("--out", default=None,
                   help="the PyTorch file to write (default: generator.pt next to the checkpoint)")
    p.add_argument("--onnx", default=None, metavar="PATH", help="also write ONNX here")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    p.add_argument("--dynamo", action="store_true",
                   help="use PyTorch's torch.export-based ONNX exporter (slower to export)")
    args = p.parse_args(argv)
    source = Path(args.checkpoint)
    out = Path(args.out) if args.out else (source if source.is_dir() else source.parent) / \
        "generator.pt"
    try:
        export_generator(source, out)
        G, cfg = load_generator(out, "cpu", "eval")
        print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): G and its config; "
              f"p2p-translate --checkpoint {out} ... reads it")
        if args.onnx:
            export_onnx(G, cfg, args.onnx, args.opset, args.dynamo)
            diff = check_onnx(G, cfg, args.onnx)
            m = 2 ** cfg["num_downs"]
            print(f"wrote {args.onnx}: input 'input' N x {cfg.get('input_nc', 3)} x H x W in "
                  f"[-1, 1] with H and W multiples of {m}; eval mode (no dropout). onnxruntime "
                  f"matches PyTorch to {diff:.1e}")
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f"p2p-export: {e}")


if __name__ == "__main__":
    main()
