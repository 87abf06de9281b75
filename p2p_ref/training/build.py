"""G and D from a run's settings: the one place a config becomes networks (training, inference,
conversion and the GPU check all build them here)."""

from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator


def build_generator(cfg):
    """The U-Net a config dict describes (older checkpoints have no input_nc/output_nc: 3)."""
    return UNetGenerator(cfg.get("input_nc", 3), cfg.get("output_nc", 3),
                         num_downs=cfg["num_downs"], ngf=cfg["ngf"], norm=cfg["norm"])


def build_models(cfg):
    """G and D of a TrainConfig, initialised from N(0, 0.02) (appendix 6.2)."""
    G = build_generator(vars(cfg))
    D = PatchDiscriminator(cfg.input_nc + cfg.output_nc, ndf=cfg.ndf, n_layers=cfg.n_layers_d,
                           norm=cfg.norm)
    return G, D
