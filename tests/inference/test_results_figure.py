"""The results figure of a run (p2p_ref.inference.results_figure): kept epochs, curves, embedding in notebooks."""

from dataclasses import replace

import nbformat
import pytest
from PIL import Image

from p2p_ref.inference.results_figure import embed_in_notebooks, kept_epochs, make_figure, pick
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.training.config import TrainConfig
from p2p_ref.training.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_pick_spreads_over_the_history():
    assert pick([5, 10, 15, 20, 25, 30, 35, 40]) == [5, 25, 40]
    assert pick([1, 2]) == [1, 2]


def test_a_run_without_history_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="--keep-every-epochs"):
        kept_epochs(tmp_path)


def test_a_run_whose_direction_contradicts_the_dataset_is_refused(tmp_path):
    import torch
    from p2p_ref.paper.models import UNetGenerator
    from p2p_ref.training.checkpoint import save_checkpoint
    data = make_synthetic_dataset(tmp_path / "synthetic", n_train=0, n_val=0, n_test=2, size=32)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "run" / "checkpoints" / "epoch_001.pt", {
        "G": UNetGenerator(num_downs=5, ngf=8).state_dict(), "config": dict(
            num_downs=5, ngf=8, norm="batch", direction="AtoB", crop_size=32, dataset="maps")})
    with pytest.raises(ValueError, match="is synthetic, whose pairs are read BtoA .* uses AtoB"):
        make_figure(tmp_path / "run", str(data), tmp_path / "fig.png", rows=2)


def test_figure_of_a_tiny_run_and_its_attachment(tmp_path):
    data = make_synthetic_dataset(tmp_path / "synthetic", n_train=2, n_val=2, n_test=3, size=32, seed=0)
    cfg = replace(TrainConfig(), dataset=str(data), load_size=36, crop_size=32, num_downs=5, ngf=8, ndf=8,
                  n_epochs=2, n_epochs_decay=1, keep_every_epochs=1, out=str(tmp_path / "run"),
                  num_workers=0, device="cpu")
    train(cfg)
    assert sorted(kept_epochs(tmp_path / "run")) == [1, 2, 3]
    out, shown = make_figure(tmp_path / "run", str(data), tmp_path / "fig.png", rows=2,
                             caption="tiny run")
    assert shown == [1, 2, 3]
    with Image.open(out) as img:
        assert img.width > 400 and img.height > 300

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "Results:\n\n![pix2pix on CMP facades](../../docs/img/fig.png)\n\nCMP citation")])
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nb, str(path))
    embed_in_notebooks(out, [path])
    cell = nbformat.read(str(path), as_version=4).cells[0]
    assert "](attachment:fig.jpg)" in cell.source and "docs/img" not in cell.source
    assert set(cell.attachments["fig.jpg"]) == {"image/jpeg"}
    embed_in_notebooks(out, [path])  # again: the attachment is replaced, the link kept
    assert nbformat.read(str(path), as_version=4).cells[0].source == cell.source
    with pytest.raises(ValueError, match="no markdown cell links fig.png"):
        embed_in_notebooks(out, [_empty(tmp_path)])


def _empty(tmp_path):
    path = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("nothing")]), str(path))
    return path
