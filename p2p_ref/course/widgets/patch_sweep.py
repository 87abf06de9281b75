"""Train one small pix2pix per PatchGAN depth and save what lesson 3's experiment shows.

The paper (sec. 4.4, Table 3, Figure 6) trains the same U-Net with L1 + cGAN against discriminators
whose patch is 1 x 1 (PixelGAN), 16 x 16, 70 x 70 and 286 x 286 (ImageGAN: every decision sees the
whole 256 x 256 image). This script does the same at 64 x 64 with the course's PatchDiscriminator
at depths n_layers = 0, 1, 2 and 4 (patches 1, 16, 34 and 142 pixels). Scaled to the image, that
is 1 pixel, a quarter of the side (the paper's 70 / 256), half of the side, and the whole image
(each of the 2 x 2 decisions of n_layers = 4 sees all of it, as each of the 6 x 6 decisions of the
paper's 286 x 286 D does at 256). The paper's n_layers = 5 does not fit a 64 x 64 image: its sides
go 64 -> 32 -> 16 -> 8 -> 4 -> 2 -> 1 -> 0.

Every run starts from the same generator weights and sees the same pairs in the same order
(lambda = 100, the reference train_step), then each generator translates the test split:

    l1             mean |y - G(x)| in [-1, 1] units
    sharpness      variance of the Laplacian of the grey output in [0, 1] (p2p_ref.paper.sharpness)
    colourfulness  Hasler and Suesstrunk's M, 0..255 scale (p2p_ref.paper.patch_metrics)
    grid_energy    share of the output's detail on an 8-pixel grid: tiling (p2p_ref.paper.patch_metrics)

The committed p2p_ref/course/widgets/assets/patch_sweep.npz is what the defaults make on the real
CMP facades (`p2p-data download facades`) at 64 x 64: 4 x 1000 steps, measured 447 s (7.5 minutes) wall
on a 2-core AMD EPYC CPU, `--threads 1`, `nice -n 10`, the CPU shared with other jobs (86% of one
core; with four other jobs on the two cores, 4 x 1500 steps took 39 minutes).
`--dataset synthetic --steps 200` is the offline, few-minute version.
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

from p2p_ref.course.widgets.lambda_sweep import evaluate
from p2p_ref.course.widgets.sweep import batches, sweep_command, sweep_data, to_uint8, torch_threads
from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.paper.patch_metrics import colourfulness, grid_energy
from p2p_ref.paper.receptive_field import conv_geometry, output_size, receptive_field
from p2p_ref.paper.sharpness import laplacian_variance
from p2p_ref.paper.train_step import make_optimizers, train_step

DEFAULT_OUT = Path(__file__).parent / "assets" / "patch_sweep.npz"
FORMAT_VERSION = 1


@dataclass
class PatchSweepConfig:
    """What the sweep trains; the defaults make the committed file."""
    dataset: str = "facades"            # a dataset name (facades, synthetic, ...) or a folder of A|B pairs
    data_root: str = "datasets"         # where dataset names are looked up
    direction: str = "BtoA"             # labels -> photo
    size: int = 64                      # images are resized to size x size (a power of 2, >= 32)
    steps: int = 1000                   # training steps per discriminator, one pair per step
    depths: list = field(default_factory=lambda: [0, 1, 2, 4])   # n_layers of each PatchGAN
    lambda_l1: float = 100.0            # the paper's weight of the L1 term
    ngf: int = 32                       # generator width (the paper: 64)
    ndf: int = 32                       # discriminator width (the paper: 64)
    lr: float = 2e-4
    n_show: int = 6                     # test images stored for the lesson
    n_eval: int = 50                    # test images the metrics average over
    seed: int = 0
    device: str = "cpu"
    threads: int = 0                    # CPU threads for torch; 0 keeps torch's default

    def __post_init__(self):
        if self.size < 32 or self.size & (self.size - 1):
            raise ValueError(f"size={self.size}: expected a power of 2 of at least 32")
        if not self.depths or any(n < 0 for n in self.depths):
            raise ValueError(f"depths={self.depths}: expected one or more n_layers >= 0")
        for n in self.depths:
            side = patch_map_side(n, self.size)
            if side < 1:
                raise ValueError(f"n_layers={n} does not fit a {self.size} x {self.size} image: its patch map "
                                 f"would be {side} x {side} (each stride-2 conv halves the side)")
        for name in ("steps", "n_show", "n_eval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: expected at least 1")

    @property
    def num_downs(self):
        return int(math.log2(self.size))


def patch_map_side(n_layers, size):
    """Side of the reference D's logit map for a size x size pair; 0 when the map vanishes."""
    try:
        return output_size(conv_geometry(PatchDiscriminator(ndf=1, n_layers=n_layers, norm="none")), size)
    except ValueError:  # a side reached 0 on the way
        return 0


def patch_size(n_layers):
    """The patch (receptive field) of the reference D with this depth: 1, 16, 34, 70, 142, 286."""
    return receptive_field(conv_geometry(PatchDiscriminator(ndf=1, n_layers=n_layers, norm="none"))).size


def train_one(cfg, n_layers, train_set, initial_G):
    """Train a copy of initial_G against a fresh PatchGAN of this depth for cfg.steps steps."""
    G = UNetGenerator(num_downs=cfg.num_downs, ngf=cfg.ngf).to(cfg.device)
    G.load_state_dict(initial_G)
    torch.manual_seed(cfg.seed)  # every D starts from the paper's init with the same random stream
    D = PatchDiscriminator(ndf=cfg.ndf, n_layers=n_layers).to(cfg.device)
    opt_G, opt_D = make_optimizers(G, D, lr=cfg.lr)
    pairs = batches(train_set, cfg.seed)  # the same pairs, jitter and order for every depth
    for _ in tqdm(range(cfg.steps), desc=f"n_layers = {n_layers}", leave=False):
        x, y = next(pairs)
        train_step(G, D, opt_G, opt_D, x.to(cfg.device), y.to(cfg.device), lambda_l1=cfg.lambda_l1)
    return G, D


def run_sweep(cfg, out=DEFAULT_OUT):
    """Train and evaluate one model per depth and write the .npz file; returns its path."""
    with torch_threads(cfg.threads):
        return _run_sweep(cfg, out)


def _run_sweep(cfg, out):
    root, train_set, test_pairs = sweep_data(cfg)
    n_show = min(cfg.n_show, len(test_pairs))
    torch.manual_seed(cfg.seed)
    initial_G = UNetGenerator(num_downs=cfg.num_downs, ngf=cfg.ngf).state_dict()
    names = ("l1", "sharpness", "colourfulness", "grid_energy", "d_score", "d_real", "seconds")
    metrics = {name: [] for name in names}
    outputs = []
    start = time.time()
    for n_layers in cfg.depths:
        t0 = time.time()
        G, D = train_one(cfg, n_layers, train_set, initial_G)
        fakes, m = evaluate(cfg, G, D, test_pairs)
        m.update(colourfulness=colourfulness(fakes).mean().item(), grid_energy=grid_energy(fakes).mean().item(),
                 seconds=time.time() - t0)
        outputs.append(to_uint8(fakes[:n_show]))
        for name in names:
            metrics[name].append(m[name])
        print(f"n_layers = {n_layers} ({patch_size(n_layers)} x {patch_size(n_layers)} patch): L1 {m['l1']:.3f}, "
              f"sharpness {m['sharpness']:.4f}, colourfulness {m['colourfulness']:.1f}, "
              f"grid energy {m['grid_energy']:.4f}, D score {m['d_score']:.2f} (real {m['d_real']:.2f}), "
              f"{m['seconds']:.0f} s", flush=True)
    ys = torch.stack([y for _, y in test_pairs])
    xs = torch.stack([x for x, _ in test_pairs])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out, format_version=np.int64(FORMAT_VERSION), depths=np.array(cfg.depths, dtype=np.int64),
        patch_sizes=np.array([patch_size(n) for n in cfg.depths], dtype=np.int64),
        patch_maps=np.array([patch_map_side(n, cfg.size) for n in cfg.depths], dtype=np.int64),
        inputs=to_uint8(xs[:n_show]), targets=to_uint8(ys[:n_show]), outputs=np.stack(outputs),
        **{name: np.array(values, dtype=np.float64) for name, values in metrics.items()},
        target_sharpness=np.float64(laplacian_variance((ys + 1) / 2).mean().item()),
        target_colourfulness=np.float64(colourfulness(ys).mean().item()),
        target_grid_energy=np.float64(grid_energy(ys).mean().item()),
        config=np.array(json.dumps({**asdict(cfg), "dataset_path": str(root), "n_eval": len(test_pairs),
                                    "seconds": round(time.time() - start),
                                    "torch_threads": torch.get_num_threads()})))
    print(f"wrote {out} in {time.time() - start:.0f} s", flush=True)
    return out


@dataclass
class PatchSweep:
    """A sweep file as arrays: one row per discriminator depth (`depths`), images as uint8 (N, H, W, 3)."""
    depths: np.ndarray          # n_layers of each D
    patch_sizes: np.ndarray     # its receptive field: 1, 16, 34, 142 ...
    patch_maps: np.ndarray      # the side of its logit map for a size x size pair
    inputs: np.ndarray          # (n_show, H, W, 3) label maps
    targets: np.ndarray         # (n_show, H, W, 3) photos
    outputs: np.ndarray         # (len(depths), n_show, H, W, 3) each generator's translations
    l1: np.ndarray
    sharpness: np.ndarray
    colourfulness: np.ndarray
    grid_energy: np.ndarray
    d_score: np.ndarray
    d_real: np.ndarray
    seconds: np.ndarray         # training and evaluation time of each depth
    target_sharpness: float
    target_colourfulness: float
    target_grid_energy: float
    config: dict

    def as_tensor(self, images):
        """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1], the range of G's output."""
        return torch.from_numpy(np.asarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def load_patch_sweep(path=DEFAULT_OUT):
    """Read a file written by run_sweep (by default the committed one)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such sweep file; make one with `python -m "
                                f"p2p_ref.course.widgets.patch_sweep --out {path}`")
    with np.load(path) as f:
        if int(f["format_version"]) != FORMAT_VERSION:
            raise ValueError(f"{path}: format version {int(f['format_version'])}, expected {FORMAT_VERSION}")
        arrays = {name: f[name] for name in f.files if name not in ("format_version", "config")}
        config = json.loads(str(f["config"]))
    scalars = {name: float(arrays.pop(name)) for name in ("target_sharpness", "target_colourfulness",
                                                          "target_grid_energy")}
    return PatchSweep(**arrays, **scalars, config=config)


def parse_args(argv=None):
    d = PatchSweepConfig()
    p = argparse.ArgumentParser(prog="python -m p2p_ref.course.widgets.patch_sweep",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default=d.dataset, help="synthetic, facades (downloaded) or a folder of A|B pairs")
    p.add_argument("--data-root", default=d.data_root, help="where dataset names are looked up")
    p.add_argument("--direction", default=d.direction, choices=("AtoB", "BtoA"))
    p.add_argument("--size", type=int, default=d.size, help="image side, a power of 2 (the paper: 256)")
    p.add_argument("--steps", type=int, default=d.steps, help="training steps per discriminator (batch size 1)")
    p.add_argument("--depths", default=",".join(map(str, d.depths)),
                   help="comma-separated n_layers (0: PixelGAN; at 256 the paper's four are 0,1,3,5)")
    p.add_argument("--lambda-l1", type=float, default=d.lambda_l1)
    p.add_argument("--ngf", type=int, default=d.ngf)
    p.add_argument("--ndf", type=int, default=d.ndf)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--n-show", type=int, default=d.n_show, help="test images saved for the lesson")
    p.add_argument("--n-eval", type=int, default=d.n_eval, help="test images the metrics average over")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device)
    p.add_argument("--threads", type=int, default=d.threads, help="CPU threads for torch (0: torch's default)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="the .npz file to write")
    args = p.parse_args(argv)
    try:
        depths = [int(v) for v in args.depths.split(",") if v.strip()]
    except ValueError:
        p.error(f"--depths {args.depths!r}: expected whole numbers separated by commas, e.g. 0,1,2,4")
    kwargs = {k: v for k, v in vars(args).items() if k not in ("out", "depths")}
    try:
        return PatchSweepConfig(depths=depths, **kwargs), args.out
    except ValueError as e:
        p.error(str(e))


def main(argv=None):
    sweep_command("p2p_ref.course.widgets.patch_sweep", parse_args, run_sweep, argv)


if __name__ == "__main__":
    main()
