"""p2p-eval: standard metrics and a gallery for a generator on a split, or for translated images.

    p2p-eval --checkpoint runs/facades/best.pt facades --split test --out eval/facades
    p2p-eval --results results/facades --dataset facades --split test --out eval/results
    p2p-eval --results my_outputs/ --targets my_targets/ [--inputs my_inputs/] --out eval/mine

Per image, on [0, 1] images: L1 (mean absolute error), PSNR (dB) and SSIM (torchmetrics); over the
set: FID and KID on Inception-v3 features (torchmetrics with torch-fidelity's Inception weights).
FID is biased and noisy on small sets: on ~100 images (facades test has 106) it is unreliable and
KID, which is unbiased, is the better figure. The paper reports neither (it uses AMT studies and
FCN-scores). Writes metrics.json, per_image.csv and index.html: input | output | target with the
per-image metrics, sortable, worst first.
"""

import argparse
import csv
import html
import json
import math
import sys
from pathlib import Path

import torch
from torch import nn

from p2p_ref.datasets.aligned import AlignedDataset, resolve_dataset
from p2p_ref.paper.data import denormalize
from p2p_ref.datasets.images import is_image_file, match_channels, read_image, write_image
from p2p_ref.training.devices import resolve_device
from p2p_ref.training.metrics import image_metrics
from p2p_ref.training.validation import TEST_MODES, to_rgb
from p2p_ref.inference.translate import load_generator, translate_tensor

FID_RELIABLE = 2000  # below this many images, FID is flagged as unreliable


class InceptionFeatures(nn.Module):
    """The 2048 pool features of the Inception v3 that FID is defined with (torch-fidelity's
    port of the TensorFlow original), taking [0, 1] float RGB images of any size. The weights
    are downloaded once by torch-fidelity (~100 MB, into torch hub's cache)."""
    num_features = 2048

    def __init__(self):
        super().__init__()
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
            self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"])
        except ImportError as e:
            raise RuntimeError(f"FID and KID need the package torch-fidelity ({e}): pip install "
                               f"torch-fidelity, or pass --no-fid") from None
        except Exception as e:  # the weights are fetched from the internet the first time
            import torch_fidelity.feature_extractor_inceptionv3 as fe
            raise RuntimeError(
                f"FID and KID need the Inception v3 weights, and fetching them failed "
                f"({type(e).__name__}: {e}). They are downloaded once from {fe.URL_INCEPTION_V3} "
                f"into {Path(torch.hub.get_dir()) / 'checkpoints'}: run once with internet "
                f"access, or put that file there by hand, or pass --no-fid for L1, PSNR and "
                f"SSIM only") from None

    def forward(self, x):
        return self.net((x.clamp(0, 1) * 255).to(torch.uint8)).reshape(x.shape[0], -1)


def distribution_metrics(outputs, targets, features, kid_subsets=100):
    """FID and KID (mean and std over subsets) between the outputs and the targets, on the
    features of `features` (an nn.Module: [0, 1] RGB batch -> N x d)."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance
    n = len(outputs)
    fid = FrechetInceptionDistance(feature=features, normalize=True)
    kid = KernelInceptionDistance(feature=features, normalize=True, subsets=kid_subsets,
                                  subset_size=min(1000, n))
    for out, tgt in zip(outputs, targets):
        for metric in (fid, kid):
            metric.update(to_rgb(tgt)[None], real=True)
            metric.update(to_rgb(out)[None], real=False)
    kid_mean, kid_std = kid.compute()
    return {"fid": fid.compute().item(), "kid": kid_mean.item(), "kid_std": kid_std.item()}


def from_checkpoint(checkpoint, dataset, split="test", data_root="datasets", mode="eval",
                    device="cpu", seed=0, direction=None):
    """[(name, input, output, target)] in [0, 1]: G run at each image's own size on a split."""
    G, cfg = load_generator(checkpoint, device, mode)
    root = resolve_dataset(dataset, data_root)
    data = AlignedDataset(root, split, direction or cfg["direction"], preprocess="none",
                          flip=False, input_nc=cfg.get("input_nc", 3),
                          output_nc=cfg.get("output_nc", 3), check=False)
    torch.manual_seed(seed)
    items = []
    for i, (a, _) in enumerate(data.pairs):
        x, y = (denormalize(t) for t in data[i])
        items.append((a.stem, x, translate_tensor(G, x, device), y))
    return items


def _by_stem(folder, what):
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder} ({what})")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and is_image_file(p)}


def from_results(results, dataset=None, split="test", targets=None, inputs=None,
                 data_root="datasets", direction="AtoB"):
    """[(name, input or None, output, target)] for translated images matched by file name to
    a dataset split's pairs or to a folder of targets (and optionally of inputs)."""
    outs = _by_stem(results, "the translated images")
    if dataset is not None:
        data = AlignedDataset(resolve_dataset(dataset, data_root), split, direction,
                              preprocess="none", flip=False, check=False)
        wanted = {a.stem: i for i, (a, _) in enumerate(data.pairs)}
    elif targets is not None:
        target_files = _by_stem(targets, "the targets")
        input_files = _by_stem(inputs, "the inputs") if inputs else {}
        wanted = target_files
    else:
        raise ValueError("--results needs --dataset (with --split) or --targets")
    missing = sorted(set(wanted) - set(outs))
    if missing:
        raise ValueError(f"{len(missing)} target(s) have no translated image of the same name in "
                         f"{results}: {', '.join(missing[:8])}")
    items = []
    for stem in sorted(wanted):
        out = read_image(outs[stem])
        if dataset is not None:
            x, y = (denormalize(t) for t in data[wanted[stem]])
        else:
            y = read_image(target_files[stem])
            x = read_image(input_files[stem]) if stem in input_files else None
        out = match_channels(out, y.shape[0], path=outs[stem])
        if out.shape != y.shape:
            raise ValueError(f"{outs[stem]} is {out.shape[-1]}x{out.shape[-2]} but its target is "
                             f"{y.shape[-1]}x{y.shape[-2]}: translate at the targets' size "
                             f"(p2p-translate keeps each image's size)")
        items.append((stem, x, out, y))
    return items


def evaluate(items, out_dir, features="inception", kid_subsets=100):
    """Metrics of [(name, input, output, target)], written to out_dir (metrics.json,
    per_image.csv, index.html, images/). features: "inception" (the standard FID / KID
    features), an nn.Module of your own, or None (no FID / KID). Returns the summary dict."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for name, x, out, y in items:
        rows.append({"name": name, **image_metrics(out, y)})
        for kind, t in (("input", x), ("output", out), ("target", y)):
            if t is not None:
                write_image(to_rgb(t), out_dir / "images" / f"{name}_{kind}.png")
    n = len(rows)
    summary = {"images": n}
    for key in ("l1", "psnr", "ssim"):
        values = [r[key] for r in rows if math.isfinite(r[key])]
        summary[key] = sum(values) / len(values) if values else float("nan")
    notes = []
    if features is not None and n >= 2:
        module = InceptionFeatures() if isinstance(features, str) else features
        summary.update(distribution_metrics([o for _, _, o, _ in items],
                                            [t for _, _, _, t in items], module, kid_subsets))
        if n < FID_RELIABLE:
            notes.append(f"FID on {n} images is unreliable: it is biased and noisy below a few "
                         f"thousand images. KID (unbiased) is the better figure for a set this "
                         f"size")
    elif features is not None:
        notes.append("FID and KID need at least 2 images")
    summary["notes"] = notes
    (out_dir / "metrics.json").write_text(json.dumps({"summary": summary, "images": rows},
                                                     indent=2))
    with open(out_dir / "per_image.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["name", "l1", "psnr", "ssim"])
        writer.writeheader()
        writer.writerows(rows)
    write_gallery(out_dir / "index.html", rows, summary, has_input=any(x is not None
                                                                       for _, x, _, _ in items))
    return summary


GALLERY_SCRIPT = """
function sortBy(col, numeric, desc) {
  const body = document.querySelector('#gallery tbody');
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const u = a.cells[col].dataset.v, v = b.cells[col].dataset.v;
    const c = numeric ? parseFloat(u) - parseFloat(v) : u.localeCompare(v);
    return desc ? -c : c;
  });
  rows.forEach(r => body.appendChild(r));
}
document.querySelectorAll('#gallery th[data-col]').forEach(th => {
  th.addEventListener('click', () => {
    const desc = th.dataset.desc !== 'true';
    th.dataset.desc = desc;
    sortBy(parseInt(th.dataset.col), th.dataset.numeric === 'true', desc);
  });
});
"""


def write_gallery(path, rows, summary, has_input=True):
    """index.html: one row per image (input | output | target and its metrics), worst L1 first;
    click a column header to sort by it."""
    rows = sorted(rows, key=lambda r: -r["l1"])
    esc = html.escape
    figures = ", ".join(f"{k.upper()} {summary[k]:.4g}" for k in ("l1", "psnr", "ssim", "fid",
                                                                     "kid") if k in summary)
    panels = (["input"] if has_input else []) + ["output", "target"]
    head = "".join(f"<th>{p}</th>" for p in panels)
    first = 1 + len(panels)
    body = []
    for r in rows:
        name = esc(r["name"])
        cells = [f'<td data-v="{name}">{name}</td>']
        for p in panels:
            src = f"images/{esc(r['name'])}_{p}.png"
            cells.append(f'<td><img src="{src}" alt="{p}" loading="lazy"></td>')
        for key in ("l1", "psnr", "ssim"):
            cells.append(f'<td data-v="{r[key]:.6g}">{r[key]:.4f}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f"<p class=note>{esc(n)}</p>" for n in summary.get("notes", []))
    path.write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>p2p-eval: {summary['images']} images</title>
<style>body{{font-family:sans-serif}} img{{width:192px;image-rendering:pixelated}}
th[data-col]{{cursor:pointer;text-decoration:underline}} td{{padding:2px 6px}}
.note{{color:#a40}}</style></head><body>
<h1>p2p-eval: {summary['images']} images</h1>
<p>{esc(figures)} (L1 on [0, 1]; PSNR in dB; lower L1, FID and KID are better)</p>{notes}
<p>Sorted by L1, worst first. Click a column header to sort by it.</p>
<table id="gallery"><thead><tr><th data-col="0" data-numeric="false">image</th>{head}
<th data-col="{first}" data-numeric="true" data-desc="true">L1</th>
<th data-col="{first + 1}" data-numeric="true">PSNR</th>
<th data-col="{first + 2}" data-numeric="true">SSIM</th></tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
<script>{GALLERY_SCRIPT}</script>
</body></html>
""")
    return path


def eval_command(argv=None, features="inception"):
    p = argparse.ArgumentParser(prog="p2p-eval", description="L1, PSNR, SSIM, KID and FID of a "
                                "generator on a split (or of translated images against their "
                                "targets), and an index.html gallery, worst first.")
    p.add_argument("dataset", nargs="?", default=None,
                   help="with --checkpoint: a dataset name or folder (default split: test)")
    p.add_argument("--checkpoint", default=None, help="a p2p-train checkpoint, best.pt, or a "
                                                      "p2p-export / p2p-convert file")
    p.add_argument("--dataset", dest="dataset_option", default=None, metavar="DATASET",
                   help="the same as the positional DATASET (e.g. with --results)")
    p.add_argument("--results", default=None, help="a folder of translated images instead")
    p.add_argument("--targets", default=None, help="with --results: a folder of target images")
    p.add_argument("--inputs", default=None, help="with --results --targets: the inputs, shown "
                                                  "in the gallery")
    p.add_argument("--split", default="test")
    p.add_argument("--data-root", default="datasets")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), default=None,
                   help="default: the checkpoint's (with --results: AtoB)")
    p.add_argument("--mode", choices=TEST_MODES, default="eval",
                   help="G at test time (default: eval; paper keeps dropout and batch statistics)")
    p.add_argument("--out", required=True, help="folder for metrics.json, per_image.csv, "
                                                "index.html and the images")
    p.add_argument("--no-fid", action="store_true", help="skip FID and KID (no Inception weights "
                                                         "needed)")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.dataset = args.dataset or args.dataset_option
    try:
        if (args.checkpoint is None) == (args.results is None):
            raise ValueError("give either --checkpoint with a dataset, or --results")
        if args.no_fid:
            features = None
        elif isinstance(features, str):  # load the weights first: fail before the long part
            features = InceptionFeatures()
        if args.checkpoint:
            if args.dataset is None:
                raise ValueError("--checkpoint needs the dataset to evaluate on (a name or folder)")
            items = from_checkpoint(args.checkpoint, args.dataset, args.split, args.data_root,
                                    args.mode, resolve_device(args.device), args.seed,
                                    args.direction)
        else:
            items = from_results(args.results, args.dataset, args.split, args.targets,
                                 args.inputs, args.data_root, args.direction or "AtoB")
        if not items:
            raise ValueError("no images to evaluate")
        summary = evaluate(items, args.out, features, args.kid_subsets)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f"p2p-eval: {e}")
    print(f"{summary['images']} images: L1 {summary['l1']:.4f}  PSNR {summary['psnr']:.2f} dB  "
          f"SSIM {summary['ssim']:.4f}")
    if "fid" in summary:
        print(f"FID {summary['fid']:.2f}  KID {summary['kid']:.4f} +- {summary['kid_std']:.4f}")
    for note in summary["notes"]:
        print(f"note: {note}")
    print(f"gallery: {Path(args.out) / 'index.html'} (worst first); metrics.json, per_image.csv")
    return summary


def main(argv=None):
    """The p2p-eval command (exit status 0; `eval_command` returns the summary)."""
    eval_command(argv)


if __name__ == "__main__":
    main()
