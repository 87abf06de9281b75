"""The results figure of a training run: test pairs at a few points of training, and the curves.

    python -m p2p_ref.inference.results_figure runs/facades --dataset facades --out docs/img/facades_results.png \\
        --caption "make facades: ..." --embed solutions/ex1_paired_translation/*.ipynb ...

It reads what `p2p-train --keep-every-epochs N` leaves in a run folder: the checkpoint history
(checkpoints/epoch_NNN.pt), losses.jsonl (every step) and metrics.jsonl (validation, per epoch).
Rows are test-split pairs: the input (labels), G's output at up to three kept epochs, and the
target (photo). G runs in the paper's test mode (dropout and batch statistics on) with a fixed
seed, at the run's crop size. Below them: the three losses (moving average) and the validation
L1 / PSNR / SSIM per epoch.

--embed puts the figure into notebooks as a cell attachment (a JPEG, so that it stays small),
replacing a markdown link to the file: notebooks show it in JupyterLab, on Colab and after
`nbgrader generate_assignment` alike, with no path to resolve.
"""

import argparse
import base64
import io
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from p2p_ref.datasets.aligned import AlignedDataset, resolve_dataset
from p2p_ref.datasets.direction import choose_direction  # noqa: E402
from p2p_ref.paper.data import denormalize  # noqa: E402
from p2p_ref.inference.translate import load_generator  # noqa: E402


def kept_epochs(run):
    """{epoch: path} of the checkpoint history of a run folder."""
    found = {}
    for path in sorted((Path(run) / "checkpoints").glob("epoch_*.pt")):
        m = re.fullmatch(r"epoch_(\d+)\.pt", path.name)
        if m:
            found[int(m.group(1))] = path
    if not found:
        raise FileNotFoundError(f"{run}/checkpoints/ holds no epoch_NNN.pt: train with "
                                f"--keep-every-epochs N to keep a history")
    return found


def pick(epochs, n=3):
    """Up to n epochs spread over the history: the first, the middle and the last."""
    epochs = sorted(epochs)
    if len(epochs) <= n:
        return epochs
    return sorted({epochs[round(i * (len(epochs) - 1) / (n - 1))] for i in range(n)})


def read_jsonl(path):
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def moving_average(values, k):
    k = max(1, min(k, len(values)))
    t = torch.tensor(values, dtype=torch.float64)
    return t.unfold(0, k, 1).mean(dim=1).tolist() if len(values) >= k else values


@torch.no_grad()
def outputs_at(checkpoint, inputs, seed=0):
    """G(inputs) of a checkpoint in the paper's test mode, seeded, as [0, 1] images."""
    G, _ = load_generator(checkpoint, "cpu", "paper")
    torch.manual_seed(seed)
    return denormalize(G(inputs)).clamp(0, 1)


def _columns(history, shown, cfg, dataset, data_root, rows, first, run="the run"):
    """The figure's columns, (title, images in [0, 1]): the inputs, G's outputs at each shown
    epoch and the targets, for `rows` test pairs spread over the split from `first` on."""
    root = resolve_dataset(dataset, data_root)
    direction = choose_direction(dataset, None, cfg["direction"], f"{run} (trained on "
                                 f"{cfg.get('dataset', 'an unknown dataset')})", cfg.get("dataset"))
    test = AlignedDataset(root, "test", direction, load_size=cfg["crop_size"],
                          crop_size=cfg["crop_size"], flip=False)
    if len(test) == 0:
        raise ValueError(f"{root}/test holds no pairs")
    idx = [first + i * max(1, len(test) // rows) for i in range(rows)]
    pairs = [test[i % len(test)] for i in idx]
    x = torch.stack([p[0] for p in pairs])
    y = denormalize(torch.stack([p[1] for p in pairs]))
    columns = [("input (labels)", denormalize(x))]
    columns += [(f"output, epoch {e}", outputs_at(history[e], x)) for e in shown]
    columns.append(("target (photo)", y))
    return columns


def _plot_losses(ax, run):
    """The three losses of losses.jsonl, moving averages over about 1/50 of the run."""
    losses = read_jsonl(run / "losses.jsonl")
    if losses:
        k = max(1, len(losses) // 50)
        for key in ("loss_D", "loss_G_GAN"):
            ax.plot(moving_average([r[key] for r in losses], k), label=key, lw=1)
        ax2 = ax.twinx()
        ax2.plot(moving_average([r["loss_G_L1"] for r in losses], k), color="tab:green", lw=1, label="loss_G_L1")
        ax2.set_ylabel("loss_G_L1", fontsize=8, color="tab:green")
        ax2.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title("losses (moving average)", fontsize=9)


def _plot_validation(ax, run):
    """Validation L1 and SSIM per epoch from metrics.jsonl; the last L1 / PSNR / SSIM in the title."""
    metrics = [m for m in read_jsonl(run / "metrics.jsonl") if "val_l1" in m]
    if metrics:
        epochs = [m["epoch"] for m in metrics]
        ax.plot(epochs, [m["val_l1"] for m in metrics], "o-", ms=2, label="L1 (lower is better)")
        ax.set_ylabel("validation L1", fontsize=8, color="tab:blue")
        ax3 = ax.twinx()
        ax3.plot(epochs, [m["val_ssim"] for m in metrics], "s-", ms=2, color="tab:red", label="SSIM")
        ax3.set_ylabel("SSIM", fontsize=8, color="tab:red")
        ax3.tick_params(labelsize=7)
        last = metrics[-1]
        ax.set_title(f"validation: last L1 {last['val_l1']:.3f}, PSNR {last['val_psnr']:.1f} dB, "
                     f"SSIM {last['val_ssim']:.3f}", fontsize=9)
    ax.set_xlabel("epoch", fontsize=8)
    ax.tick_params(labelsize=7)


def make_figure(run, dataset, out, rows=4, caption="", first=0, data_root="datasets"):
    """Draw the results figure of `run` to `out`; return (out, the epochs shown)."""
    run = Path(run)
    history = kept_epochs(run)
    shown = pick(history)
    ck = torch.load(history[shown[-1]], map_location="cpu", weights_only=True)
    columns = _columns(history, shown, ck["config"], dataset, data_root, rows, first, run)

    height = 2.1 * rows + 3.2
    fig = plt.figure(figsize=(2.1 * len(columns), height), dpi=110)
    images_bottom = 3.2 / height  # inches kept free under the images for the curves and caption
    grid = fig.add_gridspec(rows, len(columns), left=0.02, right=0.98, bottom=images_bottom, top=0.97,
                            hspace=0.06, wspace=0.04)
    for c, (title, images) in enumerate(columns):
        for r in range(rows):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(images[r].permute(1, 2, 0).numpy())
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
    curves = fig.add_gridspec(1, 2, left=0.07, right=0.93, bottom=0.9 / height, top=images_bottom - 0.5 / height,
                              wspace=0.45)
    _plot_losses(fig.add_subplot(curves[0, 0]), run)
    _plot_validation(fig.add_subplot(curves[0, 1]), run)
    if caption:
        fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=7.5, wrap=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out, shown


def embed_in_notebooks(figure, notebooks, width=900, quality=82):
    """Attach `figure` (downscaled to `width` px, as JPEG) to every markdown cell of `notebooks`
    that links it by file name (`](.../NAME.png)`) or already holds it (`attachment:NAME.jpg`).
    Returns the notebooks changed."""
    import nbformat
    from PIL import Image

    figure = Path(figure)
    with Image.open(figure) as img:
        img = img.convert("RGB")
        if img.width > width:
            img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, optimize=True)
    data = base64.b64encode(buf.getvalue()).decode()
    name = figure.stem + ".jpg"
    link = re.compile(r"\]\((?:[^)\s]*/)?" + re.escape(figure.name) + r"\)|\]\(attachment:" + re.escape(name) + r"\)")
    changed = []
    for path in map(Path, notebooks):
        nb = nbformat.read(str(path), as_version=4)
        hits = [c for c in nb.cells if c.cell_type == "markdown" and link.search(c.source)]
        if not hits:
            raise ValueError(f"{path}: no markdown cell links {figure.name} (expected a link "
                             f"like ![...](../../docs/img/{figure.name}))")
        for cell in hits:
            cell.source = link.sub(f"](attachment:{name})", cell.source)
            cell["attachments"] = {name: {"image/jpeg": data}}
        nbformat.write(nb, str(path))
        changed.append(path)
    return changed


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m p2p_ref.inference.results_figure", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a p2p-train run folder trained with --keep-every-epochs")
    p.add_argument("--dataset", default="facades", help="where the test split is: a name or a folder")
    p.add_argument("--data-root", default="datasets")
    p.add_argument("--out", default="docs/img/facades_results.png")
    p.add_argument("--rows", type=int, default=4, help="test pairs shown")
    p.add_argument("--first", type=int, default=0, help="index of the first test pair shown")
    p.add_argument("--caption", default="", help="text under the figure (command, machine, time)")
    p.add_argument("--embed", nargs="*", default=[], metavar="NOTEBOOK",
                   help="notebooks whose link to the figure becomes an attachment of it")
    args = p.parse_args(argv)
    out, shown = make_figure(args.run, args.dataset, args.out, args.rows, args.caption, args.first, args.data_root)
    print(f"wrote {out} (epochs {', '.join(map(str, shown))})")
    for path in embed_in_notebooks(out, args.embed):
        print(f"embedded it in {path}")


if __name__ == "__main__":
    main()
