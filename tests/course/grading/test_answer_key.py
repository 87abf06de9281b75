"""Handing in the answer key (p2p_ref/course/grading/answer_key.py): the re-grade, run on a small
notebook in a fresh process, fails a test cell whose piece calls the reference version of itself,
however the student reached it, and passes honest code and the uses a lesson allows."""

import json
import subprocess
import sys

import nbformat

from grading_harness import make_cell, nbgrader_env
from p2p_ref.course.grading.regrade import read_results

RIGHT_L1 = "def l1_loss(fake, target):\n    return (target - fake).abs().mean()\n"
# (grade id of the test cell, the student cell before it, the test cell, expected to pass)
STEPS = [
    ("direct-import", "def l1_loss(fake, target):\n    from p2p_ref.paper.losses import l1_loss as key\n"
                      "    return key(fake, target)\n", "check.l1_loss(l1_loss)", False),
    ("importlib", "import importlib\ndef l1_loss(fake, target):\n"
                  "    return getattr(importlib.import_module('p2p_ref.' + 'paper.losses'), 'l1_loss')(fake, target)\n",
     "check.l1_loss(l1_loss)", False),
    ("package-getattr", "import p2p_ref.paper as P\n_f = getattr(P.losses, 'l1' + '_loss')\n"
                        "def l1_loss(fake, target):\n    return _f(fake, target)\n", "check.l1_loss(l1_loss)", False),
    ("function-copy", "import types, p2p_ref.paper.losses as L\n_k = L.l1_loss\n"
                      "_copy = types.FunctionType(_k.__code__, _k.__globals__, 'mine')\n"
                      "def l1_loss(fake, target):\n    return _copy(fake, target)\n", "check.l1_loss(l1_loss)", False),
    ("subclass", "import p2p_ref.paper.models as M\nclass PatchDiscriminator(M.PatchDiscriminator):\n    pass\n",
     "assert PatchDiscriminator(6, 8, 1)(torch.zeros(1, 6, 16, 16)).shape[1] == 1", False),
    ("honest", RIGHT_L1, "check.l1_loss(l1_loss)", True),
    # the composed loss may call the reference l1_loss (lesson 4 allows the earlier blocks)
    ("allowed-block", "from p2p_ref.paper.losses import gan_loss as _gan, l1_loss as _l1\n"
                      "def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode='vanilla'):\n"
                      "    gan = _gan(fake_logits, True, mode)\n    l1 = _l1(fake, target)\n"
                      "    return gan + lambda_l1 * l1, gan, l1\n", "check.generator_loss(generator_loss)", True),
]


def test_the_answer_key_fails_its_own_piece_and_allowed_uses_pass(tmp_path):
    test = dict(grade=True, solution=False, locked=True, points=1)
    cells = [make_cell("code", "import torch\nfrom p2p_ref.course.checks import ex4 as check", grade_id="setup",
                       grade=False, solution=False, locked=True)]
    for gid, student, check, _ in STEPS:
        cells.append(make_cell("code", student, grade_id=f"{gid}-code", grade=False, solution=True, locked=False))
        cells.append(make_cell("code", check, grade_id=gid, **test))
    nb_path, out = tmp_path / "nb.ipynb", tmp_path / "out.jsonl"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(nb_path))
    env = nbgrader_env()
    subprocess.run([sys.executable, "-m", "p2p_ref.course.grading.regrade", str(nb_path), "--out", str(out)],
                   check=True, env=env, timeout=600, capture_output=True)
    results, summary = read_results(out)
    assert summary is not None, out.read_text()
    for gid, _, _, passes in STEPS:
        record = results[gid]
        assert record["passed"] == passes, (gid, json.dumps(record, indent=1))
        if not passes:  # found while it ran, or already by ensure_own_code's look at the function
            assert "AnswerKeyUsed" in record["error"] or "reference" in record["error"], (gid, record["error"])
    for gid in ("direct-import", "importlib", "subclass"):  # the routes ensure_own_code cannot see
        assert results[gid]["error"].startswith("AnswerKeyUsed"), (gid, results[gid]["error"])
    assert "p2p_ref.paper.losses.l1_loss" in results["importlib"]["error"]
    assert "subclass of the reference" in results["subclass"]["error"]
