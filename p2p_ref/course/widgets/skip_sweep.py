"""U-Net against encoder-decoder: train both briefly on the same data and save what lesson 2 shows.

The paper's sec. 4.3 ("Analysis of the generator architecture") and Figure 5 (arXiv 1611.07004 v3):
"the U-Net architecture allows low-level information to shortcut across the network"; the
encoder-decoder is the same network with the skips removed (appendix 6.1.1: its decoder is
CD512-CD512-CD512-C512-C256-C128-C64, the U-Net's CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128).
This script trains both, from the same encoder weights and on the same pairs in the same order,
with the paper's objective (L1 + cGAN, lambda = 100, p2p_ref.paper.train_step.train_step), and
measures on held-out pairs (the test split, used as a validation set: nothing is selected on it):

    l1          mean |y - G(x)| in [-1, 1] units (eq. 3), also along training (the curve)
    edge_error  mean |grad G(x) - grad y| of the grey images in [0, 1]: are the edges where y has them?
    sharpness   variance of the Laplacian of G(x) (p2p_ref.paper.sharpness): how much detail

G is run as in the paper at test time (dropout and batch statistics on, one image at a time).
The committed file p2p_ref/course/widgets/assets/skip_sweep.npz was made with the defaults on the
real CMP facades (`p2p-data download facades`) at 64 x 64: 2 x 1500 steps, batch size 1, ngf = ndf
= 32, one torch thread (--threads 1), under nice -n 10. Measured: 27 min 55 s wall on a 2-core CPU
shared with other jobs (load average 6 to 9; the process got 18% of a core: 273 s user and 45 s
system CPU time). The U-Net ended at validation L1 0.321, the encoder-decoder 0.359.
`--dataset synthetic --steps 20` is the offline check. On a GPU:

    python -m p2p_ref.course.widgets.skip_sweep --dataset facades --size 256 --steps 40000 --device cuda \\
        --ngf 64 --ndf 64 --out my_skip_sweep.npz
"""

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from p2p_ref.course.widgets.sweep import batches, sweep_command, sweep_data, to_uint8, torch_threads
from p2p_ref.paper.models import DecoderBlock, PatchDiscriminator, UNetGenerator, init_weights
from p2p_ref.paper.sharpness import laplacian_variance
from p2p_ref.paper.train_step import make_optimizers, train_step

DEFAULT_OUT = Path(__file__).parent / "assets" / "skip_sweep.npz"
FORMAT_VERSION = 1
MODELS = ("unet", "encoder-decoder")


class EncoderDecoderGenerator(UNetGenerator):
    """The U-Net with its skips removed: appendix 6.1.1's encoder-decoder. The same encoder; each
    decoder reads only the level below (CD512-CD512-CD512-C512-C256-C128-C64 for num_downs = 8), so
    everything the output needs passes the 1 x 1 bottleneck."""

    def __init__(self, in_channels=3, out_channels=3, num_downs=8, ngf=64, norm="batch", dropout=0.5):
        super().__init__(in_channels, out_channels, num_downs, ngf, norm, dropout)
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        self.decoders = torch.nn.ModuleList(
            DecoderBlock(widths[num_downs - 1 - j], widths[num_downs - 2 - j], norm, dropout=dropout if j < 3 else 0.0)
            for j in range(num_downs - 1))
        self.decoders.append(DecoderBlock(widths[0], out_channels, norm, outermost=True))
        init_weights(self.decoders)

    def forward(self, x):
        self.check_size(x.shape[-2], x.shape[-1])
        for encoder in self.encoders:
            x = encoder(x)
        for decoder in self.decoders:
            x = decoder(x)
        return x


def edge_error(fakes, targets):
    """Mean |grad G(x) - grad y| over pixels and images: finite differences of the grey images in
    [0, 1] (the same grey as laplacian_variance). Low when the output has its edges where y has them."""
    def grey(images):
        images = (images + 1) / 2
        return 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]

    f, t = grey(fakes), grey(targets)
    dx = (f.diff(dim=-1) - t.diff(dim=-1)).abs().mean()
    dy = (f.diff(dim=-2) - t.diff(dim=-2)).abs().mean()
    return ((dx + dy) / 2).item()


@torch.no_grad()
def validation_outputs(G, pairs, seed):
    """G(x) for each held-out pair, as the paper tests (sec. 3.3): train mode (dropout and batch
    statistics on), one image at a time, the same dropout draws for every model."""
    torch.manual_seed(seed)
    G.train()
    return torch.cat([G(x.unsqueeze(0)) for x, _ in pairs])


@dataclass
class SkipSweepConfig:
    """What the sweep trains; the defaults make the committed file (2 x 2500 steps of 64 x 64 real
    facades on a CPU)."""
    dataset: str = "facades"            # a dataset name (facades, synthetic, ...) or a folder of A|B pairs
    data_root: str = "datasets"
    direction: str = "BtoA"             # labels -> photo
    size: int = 64                      # a power of 2, >= 32; num_downs = log2(size) (1 x 1 bottleneck)
    steps: int = 1500                   # training steps per model, one pair per step
    eval_every: int = 150               # steps between two points of the validation-L1 curve
    ngf: int = 32
    ndf: int = 32
    lambda_l1: float = 100.0            # the paper's lambda (L1 + cGAN)
    n_show: int = 4
    n_eval: int = 50
    seed: int = 0
    device: str = "cpu"
    threads: int = 0                    # 0 keeps torch's default

    def __post_init__(self):
        if self.size < 32 or self.size & (self.size - 1):
            raise ValueError(f"size={self.size}: expected a power of 2 of at least 32")
        for name in ("steps", "eval_every", "n_show", "n_eval", "ngf", "ndf"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: expected at least 1")
        if self.threads < 0:
            raise ValueError(f"threads={self.threads}: expected 0 (torch's default) or a positive number")

    @property
    def num_downs(self):
        return self.size.bit_length() - 1


def pair_of_models(num_downs, ngf, seed=0):
    """{"unet": U-Net, "encoder-decoder": the same without skips}, starting from the same encoder weights."""
    torch.manual_seed(seed)
    unet = UNetGenerator(num_downs=num_downs, ngf=ngf)
    plain = EncoderDecoderGenerator(num_downs=num_downs, ngf=ngf)
    plain.encoders.load_state_dict(unet.encoders.state_dict())
    return {"unet": unet, "encoder-decoder": plain}


def build_models(cfg):
    return pair_of_models(cfg.num_downs, cfg.ngf, cfg.seed)


def train_and_measure(cfg, G, train_set, val_pairs, initial_D, name):
    """Train G against a copy of initial_D; returns the validation-L1 curve (one value per eval_every)."""
    G.to(cfg.device)
    D = PatchDiscriminator(ndf=cfg.ndf).to(cfg.device)
    D.load_state_dict(initial_D)
    opt_G, opt_D = make_optimizers(G, D)
    targets = torch.stack([y for _, y in val_pairs]).to(cfg.device)
    pairs = [(x.to(cfg.device), y) for x, y in val_pairs]
    torch.manual_seed(cfg.seed)
    train_pairs, curve = batches(train_set, cfg.seed), []
    for step in tqdm(range(1, cfg.steps + 1), desc=name, leave=False):
        x, y = next(train_pairs)
        G.train()
        train_step(G, D, opt_G, opt_D, x.to(cfg.device), y.to(cfg.device), lambda_l1=cfg.lambda_l1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            fakes = validation_outputs(G, pairs, cfg.seed + 1)
            curve.append((step, (targets - fakes).abs().mean().item()))
    return curve


def run_sweep(cfg, out=DEFAULT_OUT):
    """Train and measure both models and write the .npz file; returns its path."""
    with torch_threads(cfg.threads):
        return _run_sweep(cfg, Path(out))


def _run_sweep(cfg, out):
    root, train_set, val_pairs = sweep_data(cfg)
    targets = torch.stack([y for _, y in val_pairs])
    models = build_models(cfg)
    torch.manual_seed(cfg.seed)
    initial_D = PatchDiscriminator(ndf=cfg.ndf).state_dict()
    start, results = time.time(), {}
    for name in MODELS:
        G = models[name]
        curve = train_and_measure(cfg, G, train_set, val_pairs, initial_D, name)
        fakes = validation_outputs(G, [(x.to(cfg.device), y) for x, y in val_pairs], cfg.seed + 1).cpu()
        results[name] = {"curve": curve, "fakes": fakes, "l1": (targets - fakes).abs().mean().item(),
                         "edge_error": edge_error(fakes, targets),
                         "sharpness": laplacian_variance((fakes + 1) / 2).mean().item()}
        r = results[name]
        print(f"{name}: validation L1 {r['l1']:.3f}, edge error {r['edge_error']:.4f}, "
              f"sharpness {r['sharpness']:.4f} ({time.time() - start:.0f} s)", flush=True)
    n_show = min(cfg.n_show, len(val_pairs))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out, format_version=np.int64(FORMAT_VERSION), models=np.array(MODELS),
        inputs=to_uint8(torch.stack([x for x, _ in val_pairs[:n_show]])), targets=to_uint8(targets[:n_show]),
        outputs=np.stack([to_uint8(results[m]["fakes"][:n_show]) for m in MODELS]),
        **{key: np.array([results[m][key] for m in MODELS]) for key in ("l1", "edge_error", "sharpness")},
        curve_steps=np.array([s for s, _ in results[MODELS[0]]["curve"]], dtype=np.int64),
        curve_l1=np.array([[v for _, v in results[m]["curve"]] for m in MODELS]),
        target_sharpness=np.float64(laplacian_variance((targets + 1) / 2).mean().item()),
        config=np.array(json.dumps({**asdict(cfg), "dataset_path": str(root), "n_eval": len(val_pairs),
                                    "seconds": round(time.time() - start)})))
    print(f"wrote {out}", flush=True)
    return out


class SkipSweep(NamedTuple):
    """What lesson 2 shows: per model (in the order of `models`) its validation L1, edge error and
    sharpness, the validation-L1 curve, and a few held-out inputs, targets and outputs (uint8)."""
    models: tuple
    l1: np.ndarray            # (2,)
    edge_error: np.ndarray    # (2,)
    sharpness: np.ndarray     # (2,)
    curve_steps: np.ndarray   # (K,)
    curve_l1: np.ndarray      # (2, K)
    inputs: np.ndarray        # (n_show, H, W, 3)
    targets: np.ndarray       # (n_show, H, W, 3)
    outputs: np.ndarray       # (2, n_show, H, W, 3)
    target_sharpness: float
    config: dict


def load_sweep(path=DEFAULT_OUT):
    """Read a file written by run_sweep (the committed one by default)."""
    with np.load(path) as f:
        if int(f["format_version"]) != FORMAT_VERSION:
            raise ValueError(f"{path}: format version {int(f['format_version'])}, expected {FORMAT_VERSION}: "
                             f"make it again with python -m p2p_ref.course.widgets.skip_sweep")
        return SkipSweep(models=tuple(str(m) for m in f["models"]), l1=f["l1"], edge_error=f["edge_error"],
                         sharpness=f["sharpness"], curve_steps=f["curve_steps"], curve_l1=f["curve_l1"],
                         inputs=f["inputs"], targets=f["targets"], outputs=f["outputs"],
                         target_sharpness=float(f["target_sharpness"]), config=json.loads(str(f["config"])))


def plot_sweep(sweep):
    """The validation-L1 curves and the held-out images: input | U-Net | encoder-decoder | target."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11, 4.2))
    ax = fig.add_axes([0.05, 0.12, 0.3, 0.78])
    for name, values in zip(sweep.models, sweep.curve_l1):
        ax.plot(sweep.curve_steps, values, "o-", ms=3, label=name)
    ax.set(xlabel="training steps", ylabel="validation L1", title="L1 on held-out pairs")
    ax.grid(alpha=0.3)
    ax.legend()
    columns = [("input", sweep.inputs)] + list(zip(sweep.models, sweep.outputs)) + [("target", sweep.targets)]
    rows = len(sweep.inputs)
    for c, (title, images) in enumerate(columns):
        for r in range(rows):
            a = fig.add_axes([0.4 + c * 0.15, 0.9 - (r + 1) * 0.8 / rows, 0.14, 0.8 / rows - 0.01])
            a.imshow(images[r])
            a.axis("off")
            if r == 0:
                a.set_title(title, fontsize=9)
    return fig


def parse_args(argv=None):
    d = SkipSweepConfig()
    p = argparse.ArgumentParser(prog="python -m p2p_ref.course.widgets.skip_sweep",
                                description=__doc__.split("\n\n")[0])
    for name, value in asdict(d).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    p.add_argument("--out", default=str(DEFAULT_OUT), help="the .npz file to write")
    args = vars(p.parse_args(argv))
    out = args.pop("out")
    try:
        return SkipSweepConfig(**args), out
    except ValueError as e:
        p.error(str(e))


def main(argv=None):
    sweep_command("p2p_ref.course.widgets.skip_sweep", parse_args, run_sweep, argv)


if __name__ == "__main__":
    main()
