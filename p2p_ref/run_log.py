"""What a run writes besides checkpoints: per-epoch metrics and sample grids, JSON-lines logs and
TensorBoard scalars.

losses.jsonl holds one record per step, metrics.jsonl one per epoch; a resumed run first drops
the records written after the checkpoint it continues (`truncate_jsonl`), so each file reads as
if the run had never stopped.
"""

import json

from p2p_ref.validation import sample_grid, validate


def end_of_epoch(cfg, G, val_set, fixed_pairs, device, epoch, step, writer, lr, samples_dir,
                  metrics_path, d, log):
    """Validation metrics and sample grids; every rank computes (SyncBatchNorm needs them all),
    rank 0 writes. Neither touches the training RNG or G's BatchNorm statistics. Returns the
    epoch's record (epoch, step, lr and, in validation epochs, val_l1, val_psnr, val_ssim)."""
    from torchvision.utils import make_grid, save_image
    record = {"epoch": epoch, "step": step, "lr": lr}
    if val_set and epoch % cfg.val_every == 0:
        record.update(validate(G, val_set, device, cfg.test_mode, cfg.seed, cfg.channels_last))
    if epoch % cfg.sample_every == 0:
        grid = sample_grid(G, fixed_pairs, device, cfg.test_mode, cfg.seed)
        if d.is_main:
            save_image(grid, samples_dir / f"epoch_{epoch:03d}.png", nrow=3)
            writer.add_image("samples (input | output | target)", make_grid(grid, nrow=3), step)
    if d.is_main:
        append_jsonl(metrics_path, record)
        for k, v in record.items():
            if k not in ("epoch", "step"):
                writer.add_scalar(f"val/{k}" if k != "lr" else "lr", v, step)
        if "val_psnr" in record:
            log(f"epoch {epoch}: val L1 {record['val_l1']:.4f}  PSNR {record['val_psnr']:.2f} dB  "
                f"SSIM {record['val_ssim']:.4f}")
    return record


def append_jsonl(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def truncate_jsonl(path, key, last):
    """Drop the records with record[key] > last (written after the checkpoint we resume from)."""
    if not path.is_file():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    keep = [ln for ln in lines if json.loads(ln).get(key, -1) <= last]
    path.write_text("".join(ln + "\n" for ln in keep))
