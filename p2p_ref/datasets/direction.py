"""Which half of a pair is G's input: the direction a dataset declares, and the rule that a
direction which contradicts it is used only when given explicitly.

Known datasets declare theirs: the downloads in `download.DATASETS` (facades BtoA, labels ->
photo; maps AtoB, aerial -> map; ...) and the synthetic set (BtoA, labels -> photo). A folder
is recognised by a synthetic set's meta.json or by the name of a known download, itself or
its parent (a split such as datasets/facades/test). Other folders declare nothing.
"""

import json
from pathlib import Path

from p2p_ref.datasets.download import DATASETS

SYNTHETIC_DIRECTION = "BtoA"  # synthetic.py: A (left) = photo, B (right) = label map


def _is_synthetic(folder):
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("generator") == "p2p_ref.datasets.synthetic"


def declared_direction(dataset):
    """(direction, the dataset's name) that `dataset` (a name or a folder) declares, else
    (None, None)."""
    name = str(dataset)
    if name == "synthetic":
        return SYNTHETIC_DIRECTION, "synthetic"
    if name in DATASETS and not Path(name).is_dir():
        return DATASETS[name]["direction"], name
    folder = Path(dataset)
    for f in (folder, folder.parent):
        if f.is_dir() and _is_synthetic(f):
            return SYNTHETIC_DIRECTION, "synthetic"
        if f.is_dir() and f.name in DATASETS:
            return DATASETS[f.name]["direction"], f.name
    return None, None


def same_dataset(a, b):
    """Whether two dataset names or folders are the same dataset (by declaration or name)."""
    if a is None or b is None:
        return False
    x, y = declared_direction(a)[1], declared_direction(b)[1]
    return (x is not None and x == y) or Path(str(a)).name == Path(str(b)).name


def choose_direction(dataset, given=None, default=None, source="the checkpoint",
                     default_from=None):
    """The direction to read `dataset`'s pairs with: `given` (explicit, e.g. --direction) as it
    is; else `default` (e.g. a checkpoint's, trained on the dataset `default_from`) when it fits
    the declared direction or was chosen for this very dataset; else the declared one; else
    AtoB. Raises ValueError, saying how to proceed, when `default` contradicts the declared
    direction."""
    if given is not None:
        return given
    declared, name = declared_direction(dataset)
    if default is None:
        return declared or "AtoB"
    if declared is not None and default != declared and not same_dataset(default_from, dataset):
        raise ValueError(f"{dataset} is {name}, whose pairs are read {declared} ({_what(name)}), "
                         f"but {source} uses {default}: pass --direction {default} to read them "
                         f"{default} anyway, or --direction {declared}")
    return default


def _what(name):
    return DATASETS[name]["what"] if name in DATASETS else "label map -> photo"
