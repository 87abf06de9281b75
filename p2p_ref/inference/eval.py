"""p2p-eval: standard metrics and a gallery for a generator on a split, or for translated images.

    p2p-eval --checkpoint runs/facades/best.pt facades --split test --out eval/facades
    p2p-eval --results results/facades --dataset facades --split test --out eval/results
    p2p-eval --results my_outputs/ --targets my_targets/ [--inputs my_inputs/] --out eval/mine

Per image, on [0, 1] images: L1 (mean absolute error), PSNR (dB) and SSIM (torchmetrics), and
with --lpips LPIPS; over the set: FID and KID on Inception-v3 features (torchmetrics with
torch-fidelity's Inception weights). FID is biased and noisy on small sets: on ~100 images
(facades test has 106) it is unreliable and KID, which is unbiased, is the better figure. The
paper reports neither (it uses AMT studies and FCN-scores). G runs as the paper tests it
(--mode paper) unless told otherwise, and the direction is the dataset's declared one (facades:
BtoA, labels -> photo). Images stream past one at a time (the networks see them in batches), so
the set's size is bounded by the disk, not the memory. Writes metrics.json, per_image.csv and
index.html: input | output | target with the per-image metrics, sortable, worst first.
"""

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from p2p_ref.datasets.aligned import DIRECTIONS, AlignedDataset, resolve_dataset
from p2p_ref.datasets.direction import choose_direction
from p2p_ref.datasets.images import is_image_file, match_channels, read_image, write_image
from p2p_ref.paper.data import denormalize
from p2p_ref.training.devices import resolve_device
from p2p_ref.training.metrics import image_metrics
from p2p_ref.training.validation import TEST_MODES, to_rgb
from p2p_ref.inference.gallery import write_gallery
from p2p_ref.inference.set_metrics import (InceptionFeatures, LPIPSDistance, SetMetrics,
                                           distribution_metrics)
from p2p_ref.inference.translate import load_generator, translate_tensor

__all__ = ["InceptionFeatures", "LPIPSDistance", "distribution_metrics", "from_checkpoint",
           "from_results", "evaluate", "eval_command"]

FID_RELIABLE = 2000  # below this many images, FID is flagged as unreliable
PER_IMAGE = ("l1", "psnr", "ssim", "lpips")


@dataclass
class Items:
    """Pairs to evaluate, read only when iterated: (name, input or None, output, target) as
    [0, 1] tensors (C, H, W). `how` says where the outputs come from (for every report)."""
    names: list
    load: Callable  # index -> (input or None, output, target)
    how: str
    mode: str | None = None
    direction: str | None = None

    def __len__(self):
        return len(self.names)

    def __iter__(self):
        for i, name in enumerate(self.names):
            yield (name, *self.load(i))


def from_checkpoint(checkpoint, dataset, split="test", data_root="datasets", mode="paper",
                    device="cpu", seed=0, direction=None):
    """Items of G run at each image's own size on a split. The direction: `direction`, else the
    run's, refused (ValueError) where it contradicts the dataset's declared one, unless the run
    was trained on that dataset (see `choose_direction`)."""
    G, cfg = load_generator(checkpoint, device, mode)
    direction = choose_direction(dataset, direction, cfg["direction"], f"{checkpoint} (trained "
                                 f"on {cfg.get('dataset', 'an unknown dataset')})",
                                 cfg.get("dataset"))
    data = AlignedDataset(resolve_dataset(dataset, data_root), split, direction,
                          preprocess="none", flip=False, input_nc=cfg.get("input_nc", 3),
                          output_nc=cfg.get("output_nc", 3), check=False)

    def load(i):
        x, y = (denormalize(t) for t in data[i])
        return x, translate_tensor(G, x, device), y

    torch.manual_seed(seed)
    return Items([a.stem for a, _ in data.pairs], load, f"G in --mode {mode}, {direction}",
                 mode, direction)


def _by_stem(folder, what):
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder} ({what})")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and is_image_file(p)}


def from_results(results, dataset=None, split="test", targets=None, inputs=None,
                 data_root="datasets", direction=None):
    """Items of translated images matched by file name to a dataset split's pairs (read in the
    dataset's declared direction unless `direction` says otherwise) or to a folder of targets
    (and optionally of inputs)."""
    outs = _by_stem(results, "the translated images")
    input_files = {}
    if dataset is not None:
        direction = choose_direction(dataset, direction)
        data = AlignedDataset(resolve_dataset(dataset, data_root), split, direction,
                              preprocess="none", flip=False, check=False)
        wanted = {a.stem: i for i, (a, _) in enumerate(data.pairs)}
    elif targets is not None:
        wanted = _by_stem(targets, "the targets")
        input_files = _by_stem(inputs, "the inputs") if inputs else {}
    else:
        raise ValueError("--results needs --dataset (with --split) or --targets")
    missing = sorted(set(wanted) - set(outs))
    if missing:
        raise ValueError(f"{len(missing)} target(s) have no translated image of the same name in "
                         f"{results}: {', '.join(missing[:8])}")
    names = sorted(wanted)

    def load(i):
        stem = names[i]
        if dataset is not None:
            x, y = (denormalize(t) for t in data[wanted[stem]])
        else:
            y = read_image(wanted[stem])
            x = read_image(input_files[stem]) if stem in input_files else None
        out = match_channels(read_image(outs[stem]), y.shape[0], path=outs[stem])
        if out.shape != y.shape:
            raise ValueError(f"{outs[stem]} is {out.shape[-1]}x{out.shape[-2]} but its target is "
                             f"{y.shape[-1]}x{y.shape[-2]}: translate at the targets' size "
                             f"(p2p-translate keeps each image's size)")
        return x, out, y

    how = f"translated images in {results}" + (f", {direction}" if dataset is not None else "")
    return Items(names, load, how, None, direction if dataset is not None else None)


def evaluate(items, out_dir, features="inception", kid_subsets=100, lpips=None, batch_size=16,
             device="cpu", progress=True):
    """Metrics of `items` (Items, or any iterable of (name, input, output, target)), written
    to out_dir (metrics.json, per_image.csv, index.html, images/), one image at a time.
    features: "inception" (the standard FID / KID features), an nn.Module of your own, or None
    (no FID / KID); lpips: an nn.Module (two batches -> distances, e.g. LPIPSDistance()) or
    None. Returns the summary dict."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    module = InceptionFeatures() if isinstance(features, str) else features
    metrics = SetMetrics(module, lpips, kid_subsets, batch_size, device)
    rows, has_input = [], False
    total = len(items) if hasattr(items, "__len__") else None
    for name, x, out, y in tqdm(items, total=total, desc="p2p-eval", unit="image",
                                disable=not progress):
        rows.append({"name": name, **image_metrics(out, y)})
        metrics.add(out, y, name)
        has_input = has_input or x is not None
        for kind, t in (("input", x), ("output", out), ("target", y)):
            if t is not None:
                write_image(to_rgb(t), out_dir / "images" / f"{name}_{kind}.png")
    figures, lpips_values = metrics.finish()
    for row, value in zip(rows, lpips_values):
        row["lpips"] = value
    n = len(rows)
    summary = {"images": n, "how": getattr(items, "how", ""), "mode": getattr(items, "mode", None),
               "direction": getattr(items, "direction", None)}
    for key in PER_IMAGE:
        values = [r[key] for r in rows if key in r and math.isfinite(r[key])]
        if key != "lpips" or values:
            summary[key] = sum(values) / len(values) if values else float("nan")
    summary.update(figures)
    notes = []
    if features is not None and n < 2:
        notes.append("FID and KID need at least 2 images")
    elif features is not None and n < FID_RELIABLE:
        notes.append(f"FID on {n} images is unreliable: it is biased and noisy below a few "
                     f"thousand images. KID (unbiased) is the better figure for a set this size")
    summary["notes"] = notes
    _write_reports(out_dir, rows, summary, has_input)
    return summary


def _write_reports(out_dir, rows, summary, has_input):
    (out_dir / "metrics.json").write_text(json.dumps({"summary": summary, "images": rows},
                                                     indent=2))
    with open(out_dir / "per_image.csv", "w", newline="") as f:
        fields = ["name"] + [k for k in PER_IMAGE if rows and k in rows[0]]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    write_gallery(out_dir / "index.html", rows, summary, has_input=has_input)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="p2p-eval", description="L1, PSNR, SSIM (LPIPS), KID and "
                                "FID of a generator on a split (or of translated images against "
                                "their targets), and an index.html gallery, worst first.")
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
    p.add_argument("--direction", choices=DIRECTIONS, default=None,
                   help="default: the dataset's declared direction (facades, cityscapes, "
                        "synthetic: BtoA; maps, edges2*, night2day: AtoB), with --checkpoint the "
                        "run's; one that contradicts the dataset's is used only when given here")
    p.add_argument("--mode", choices=TEST_MODES, default="paper",
                   help="G at test time: paper (default) keeps dropout and batch statistics on, "
                        "as the paper does; eval is model.eval()")
    p.add_argument("--out", required=True, help="folder for metrics.json, per_image.csv, "
                                                "index.html and the images")
    p.add_argument("--no-fid", action="store_true", help="skip FID and KID (no Inception weights "
                                                         "needed)")
    p.add_argument("--lpips", action="store_true", help="also LPIPS per image (AlexNet; its "
                                                        "weights are downloaded once, ~233 MB)")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16,
                   help="images per batch through the Inception / LPIPS networks")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.dataset = args.dataset or args.dataset_option
    if args.batch_size < 1:
        p.error(f"--batch-size {args.batch_size}: expected at least 1")
    return args


def _items(args, device):
    if (args.checkpoint is None) == (args.results is None):
        raise ValueError("give either --checkpoint with a dataset, or --results")
    if args.checkpoint:
        if args.dataset is None:
            raise ValueError("--checkpoint needs the dataset to evaluate on (a name or folder)")
        return from_checkpoint(args.checkpoint, args.dataset, args.split, args.data_root,
                               args.mode, device, args.seed, args.direction)
    return from_results(args.results, args.dataset, args.split, args.targets, args.inputs,
                        args.data_root, args.direction)


def eval_command(argv=None, features="inception", lpips="alex"):
    """p2p-eval; features / lpips: the networks to use (tests pass small ones). Returns the
    summary dict."""
    args = parse_args(argv)
    try:
        device = resolve_device(args.device)
        # load the networks' weights first: fail before the long part
        features = None if args.no_fid else (InceptionFeatures() if isinstance(features, str)
                                             else features)
        if not args.lpips:
            lpips = None
        elif isinstance(lpips, str):
            lpips = LPIPSDistance(lpips)
        items = _items(args, device)
        if not len(items):
            raise ValueError("no images to evaluate")
        summary = evaluate(items, args.out, features, args.kid_subsets, lpips, args.batch_size,
                           device)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f"p2p-eval: {e}")
    print(f"{summary['images']} images ({summary['how']}): L1 {summary['l1']:.4f}  "
          f"PSNR {summary['psnr']:.2f} dB  SSIM {summary['ssim']:.4f}"
          + (f"  LPIPS {summary['lpips']:.4f}" if "lpips" in summary else ""))
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
