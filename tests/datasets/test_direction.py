"""The direction a dataset declares (download.DATASETS, the synthetic set, folders of either)
and the rule that a contradicting direction is used only when given explicitly."""

import pytest

from p2p_ref.datasets.direction import choose_direction, declared_direction, same_dataset
from p2p_ref.datasets.download import DATASETS
from p2p_ref.datasets.synthetic import make_synthetic_dataset


def test_known_names_folders_and_splits_declare_their_direction(tmp_path):
    assert declared_direction("facades") == ("BtoA", "facades")
    assert declared_direction("maps") == ("AtoB", "maps")
    assert declared_direction("synthetic") == ("BtoA", "synthetic")
    assert all(declared_direction(n)[0] == d["direction"] for n, d in DATASETS.items())
    (tmp_path / "maps" / "val").mkdir(parents=True)
    assert declared_direction(tmp_path / "maps") == ("AtoB", "maps")
    assert declared_direction(tmp_path / "maps" / "val") == ("AtoB", "maps")
    make_synthetic_dataset(tmp_path / "mine", n_train=1, n_val=0, n_test=1, size=32)
    assert declared_direction(tmp_path / "mine" / "test") == ("BtoA", "synthetic")
    (tmp_path / "xray" / "test").mkdir(parents=True)
    assert declared_direction(tmp_path / "xray" / "test") == (None, None)


def test_choose_direction_refuses_a_contradiction_unless_given():
    assert choose_direction("facades") == "BtoA" and choose_direction("nowhere/x") == "AtoB"
    assert choose_direction("facades", given="AtoB") == "AtoB"
    assert choose_direction("maps", default="AtoB") == "AtoB"
    with pytest.raises(ValueError, match=r"maps is maps, whose pairs are read AtoB \(aerial "
                                         r"photos <-> map tiles\), but G.pt uses BtoA: pass "
                                         r"--direction BtoA .* or --direction AtoB"):
        choose_direction("maps", default="BtoA", source="G.pt")
    assert choose_direction("maps", default="BtoA", default_from="datasets/maps") == "BtoA"
    assert same_dataset("synthetic", "synthetic") and not same_dataset("maps", "facades")
