"""Train one small pix2pix per value of lambda and save what the lambda explorer shows.

The objective is G* = arg min_G max_D L_cGAN(G, D) + lambda * L_L1(G) (eq. 4; the paper uses
lambda = 100). This script trains the same small U-Net / PatchGAN pair, from the same initial
weights and on the same batches, once per lambda, then measures each generator on the test split:

    l1         mean |y - G(x)| in the [-1, 1] pixel range (the L_L1 of eq. 3): faithfulness
    sharpness  variance of the Laplacian of the grey output in [0, 1], mean over images: detail
    d_score    mean sigmoid(D(x, G(x))) of the D trained alongside that G: how real D finds it

and saves a few test inputs, targets and outputs as uint8 images, the metrics and the config to an
.npz file that `p2p_ref.course.widgets.lambda_explorer.lambda_explorer(path)` loads. The committed file
p2p_ref/course/widgets/assets/lambda_sweep.npz was made on a CPU with the defaults: the real CMP facades
(`p2p-data download facades`) at 64 x 64, 5 x 4000 steps, about an hour on one core;
`--dataset synthetic --steps 1000` is the offline, few-minute version. On a GPU, the real facades
at the paper's size:

    python -m p2p_ref.course.widgets.lambda_sweep --dataset facades --size 256 --steps 20000 --device cuda \\
        --ngf 64 --ndf 64 --out my_sweep.npz
"""

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from p2p_ref.course.widgets.sweep import batches, sweep_command, sweep_data, to_uint8, torch_threads
from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.paper.sharpness import laplacian_variance, measure
from p2p_ref.paper.train_step import make_optimizers, train_step

DEFAULT_OUT = Path(__file__).parent / "assets" / "lambda_sweep.npz"
FORMAT_VERSION = 1


@dataclass
class SweepConfig:
    """What the sweep trains; the defaults make the committed file (5 x 4000 steps of 64 x 64 real
    facades on a CPU)."""
    dataset: str = "facades"            # a dataset name (facades, synthetic, ...) or a folder of A|B pairs
    data_root: str = "datasets"         # where dataset names are looked up
    direction: str = "BtoA"             # labels -> photo for facades and the synthetic set
    size: int = 64                      # images are resized to size x size (a power of 2, >= 32)
    steps: int = 4000                   # training steps per lambda, one pair per step (batch size 1)
    lambdas: list = field(default_factory=lambda: [0.0, 1.0, 10.0, 100.0, 1000.0])
    ngf: int = 32                       # generator width (the paper: 64)
    ndf: int = 32                       # discriminator width (the paper: 64)
    lr: float = 2e-4                    # Adam, betas (0.5, 0.999), as in the paper
    n_show: int = 4                     # test images stored for the explorer
    n_eval: int = 50                    # test images the metrics average over
    seed: int = 0
    device: str = "cpu"
    threads: int = 0                    # CPU threads for torch; 0 keeps torch's default (one per core)

    def __post_init__(self):
        if self.size < 32 or self.size & (self.size - 1):
            raise ValueError(f"size={self.size}: expected a power of 2 of at least 32 (the U-Net halves "
                             f"the image down to 1 x 1)")
        if not self.lambdas or any(lam < 0 for lam in self.lambdas):
            raise ValueError(f"lambdas={self.lambdas}: expected one or more values >= 0")
        for name in ("steps", "n_show", "n_eval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: expected at least 1")
        if self.threads < 0:
            raise ValueError(f"threads={self.threads}: expected 0 (torch's default) or a positive number")

    @property
    def num_downs(self):
        return int(math.log2(self.size))  # 256 -> 8, the paper's unet_256


def train_one(cfg, lambda_l1, train_set, initial_G, initial_D):
    """Train a copy of (initial_G, initial_D) for cfg.steps steps with this lambda (p2p_ref.paper.train_step.train_step)."""
    G = UNetGenerator(num_downs=cfg.num_downs, ngf=cfg.ngf).to(cfg.device)
    D = PatchDiscriminator(ndf=cfg.ndf).to(cfg.device)
    G.load_state_dict(initial_G)
    D.load_state_dict(initial_D)
    opt_G, opt_D = make_optimizers(G, D, lr=cfg.lr)
    torch.manual_seed(cfg.seed)  # the same jitter and dropout draws for every lambda
    pairs = batches(train_set, cfg.seed)
    for _ in tqdm(range(cfg.steps), desc=f"lambda = {lambda_l1:g}", leave=False):
        x, y = next(pairs)
        train_step(G, D, opt_G, opt_D, x.to(cfg.device), y.to(cfg.device), lambda_l1=lambda_l1)
    return G, D


@torch.no_grad()
def evaluate(cfg, G, D, test_pairs):
    """Metrics over the test pairs and G's outputs for them. As in the paper (sec. 3.3) G keeps dropout and
    batch statistics at test time, so it stays in train mode and sees one image at a time."""
    torch.manual_seed(cfg.seed + 1)
    outputs, targets, d_fake, d_real = [], [], [], []
    for x, y in test_pairs:
        x, y = x.unsqueeze(0).to(cfg.device), y.unsqueeze(0).to(cfg.device)
        fake = G(x)
        outputs.append(fake)
        targets.append(y)
        d_fake.append(torch.sigmoid(D(x, fake)).mean())
        d_real.append(torch.sigmoid(D(x, y)).mean())
    fakes = torch.cat(outputs)
    m = measure(fakes, torch.cat(targets))
    return fakes, {"l1": m.l1, "sharpness": m.sharpness, "d_score": torch.stack(d_fake).mean().item(),
                   "d_real": torch.stack(d_real).mean().item()}


def run_sweep(cfg, out=DEFAULT_OUT):
    """Train and evaluate one model per lambda and write the .npz file; returns its path."""
    with torch_threads(cfg.threads):
        return _run_sweep(cfg, out)


def _run_sweep(cfg, out):
    root, train_set, test_pairs = sweep_data(cfg)
    n_show = min(cfg.n_show, len(test_pairs))
    torch.manual_seed(cfg.seed)
    initial_G = UNetGenerator(num_downs=cfg.num_downs, ngf=cfg.ngf).state_dict()
    initial_D = PatchDiscriminator(ndf=cfg.ndf).state_dict()
    metrics = {name: [] for name in ("l1", "sharpness", "d_score", "d_real")}
    outputs = []
    start = time.time()
    for lam in cfg.lambdas:
        G, D = train_one(cfg, lam, train_set, initial_G, initial_D)
        fakes, m = evaluate(cfg, G, D, test_pairs)
        outputs.append(to_uint8(fakes[:n_show]))
        for name, value in m.items():
            metrics[name].append(value)
        print(f"lambda = {lam:g}: L1 to target {m['l1']:.3f}, sharpness {m['sharpness']:.4f}, "
              f"D score {m['d_score']:.2f} (real pairs {m['d_real']:.2f})", flush=True)
    xs = torch.stack([x for x, _ in test_pairs])
    ys = torch.stack([y for _, y in test_pairs])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out, format_version=np.int64(FORMAT_VERSION), lambdas=np.array(cfg.lambdas, dtype=np.float64),
        inputs=to_uint8(xs[:n_show]), targets=to_uint8(ys[:n_show]), outputs=np.stack(outputs),
        **{name: np.array(values) for name, values in metrics.items()},
        target_sharpness=np.float64(laplacian_variance((ys + 1) / 2).mean().item()),
        config=np.array(json.dumps({**asdict(cfg), "dataset_path": str(root), "n_eval": len(test_pairs),
                                    "seconds": round(time.time() - start)})))
    print(f"wrote {out}", flush=True)
    return out


def parse_args(argv=None):
    d = SweepConfig()
    p = argparse.ArgumentParser(prog="python -m p2p_ref.course.widgets.lambda_sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default=d.dataset, help="synthetic, facades (downloaded) or a folder of A|B pairs")
    p.add_argument("--data-root", default=d.data_root, help="where dataset names are looked up")
    p.add_argument("--direction", default=d.direction, choices=("AtoB", "BtoA"))
    p.add_argument("--size", type=int, default=d.size, help="image side, a power of 2 (the paper: 256)")
    p.add_argument("--steps", type=int, default=d.steps, help="training steps per lambda (batch size 1)")
    p.add_argument("--lambdas", default=",".join(f"{v:g}" for v in d.lambdas),
                   help="comma-separated values of lambda")
    p.add_argument("--ngf", type=int, default=d.ngf, help="generator width (the paper: 64)")
    p.add_argument("--ndf", type=int, default=d.ndf, help="discriminator width (the paper: 64)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--n-show", type=int, default=d.n_show, help="test images saved for the explorer")
    p.add_argument("--n-eval", type=int, default=d.n_eval, help="test images the metrics average over")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="cpu, cuda, cuda:1, mps ...")
    p.add_argument("--threads", type=int, default=d.threads,
                   help="CPU threads for torch (0: torch's default). On a CPU shared with other jobs, 1 "
                        "avoids the threads waiting on each other")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="the .npz file to write")
    args = p.parse_args(argv)
    try:
        lambdas = [float(v) for v in args.lambdas.split(",") if v.strip()]
    except ValueError:
        p.error(f"--lambdas {args.lambdas!r}: expected numbers separated by commas, e.g. 0,1,10,100,1000")
    out = args.out
    kwargs = {k: v for k, v in vars(args).items() if k not in ("out", "lambdas")}
    try:
        return SweepConfig(lambdas=lambdas, **kwargs), out
    except ValueError as e:
        p.error(str(e))


def main(argv=None):
    sweep_command("p2p_ref.course.widgets.lambda_sweep", parse_args, run_sweep, argv)


if __name__ == "__main__":
    main()
