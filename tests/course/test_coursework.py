"""p2p_ref.course.coursework: what a student writes in one notebook is trained in another.

Each side runs in its own Python process, as two notebooks run in two kernels, with the classes
and functions defined in `__main__` as a notebook defines them.
"""

import subprocess
import sys
import textwrap

import pytest

from p2p_ref.course import coursework

SAVE = """
import torch
from torch import nn
from p2p_ref.course.coursework import save_work

WIDTH = 4                                   # a notebook global the class uses

def helper(c):                              # a notebook helper the class calls
    return nn.Conv2d(c, WIDTH, 1)

class Net(nn.Module):
    def __init__(self, c=3):
        super().__init__()
        self.conv = helper(c)
    def forward(self, x):
        return self.conv(x)

def l1(a, b):
    return (a - b).abs().mean()

save_work("ex9_demo", Net=Net, l1=l1, missing=None)
"""

LOAD = """
import torch
from p2p_ref.course.coursework import use_own

def reference_l1(a, b):
    return (a - b).abs().mean()

def check_net(cls):
    assert cls(3)(torch.zeros(1, 3, 2, 2)).shape == (1, 4, 2, 2)

def check_wrong(cls):
    raise AssertionError("\\n  What is wrong:   made-up mistake\\n  Expected: x")

Net, own = use_own("ex9_demo", "Net", reference=None, check=check_net)
print("Net own:", own, getattr(Net, "__name__", Net))
l1, own = use_own("ex9_demo", "l1", reference=reference_l1)
print("l1 own:", own, float(l1(torch.ones(2), torch.zeros(2))))
_, own = use_own("ex9_demo", "Net", reference="REF", check=check_wrong)
print("wrong own:", own)
_, own = use_own("ex9_demo", "missing", reference="REF")
print("missing own:", own)
_, own = use_own("ex2_nothing", "UNetGenerator", reference="REF")
print("absent own:", own)

from p2p_ref.course.coursework import carried
SubNet = type("SubNet", (Net,), {}) if isinstance(Net, type) else None
print("marks:", carried(Net), carried(l1), carried(reference_l1), carried(SubNet), carried(None))
"""


def run(code, env, cwd):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def env(tmp_path, monkeypatch):
    import os
    e = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    e["P2P_MY_WORK"] = str(tmp_path / "work")
    return e


def test_classes_and_functions_of_main_travel_to_another_process(env, tmp_path):
    out = run(SAVE, env, tmp_path)
    assert f"Saved Net, l1 to {tmp_path / 'work' / 'ex9_demo.pkl'}" in out
    out = run(LOAD, env, tmp_path)
    assert "Net own: True Net" in out and "yours     Net (lesson ex9_demo): passes its check" in out
    assert "l1 own: True 1.0" in out
    # a piece that fails its check is replaced by the reference, with the first line of the reason
    assert "wrong own: False" in out
    assert "yours does not pass its check (What is wrong:   made-up mistake)" in out
    # a piece that was never written, and a lesson never saved, fall back with a message
    assert "missing own: False" in out and "missing was not among the saved work" in out
    assert "absent own: False" in out and "ex2_nothing.pkl: run the last cell of lesson ex2_nothing" in out
    # what use_own handed out is marked with its lesson and name (lesson 5's checks swap it for the
    # reference while they grade); the reference, a subclass and anything else are not
    assert "marks: ('ex9_demo', 'Net') ('ex9_demo', 'l1') None None None" in out


def test_nothing_is_saved_or_loaded_while_grading(env, tmp_path):
    run(SAVE, env, tmp_path)
    graded = dict(env, NBGRADER_EXECUTION="autograde")
    out = run(SAVE.replace("ex9_demo", "ex9_graded"), graded, tmp_path)
    assert "not saved" in out and not (tmp_path / "work" / "ex9_graded.pkl").exists()
    out = run(LOAD, graded, tmp_path)
    # every piece falls back to the reference (None here), saying why, and nothing is marked
    assert "Net own: False None" in out and "l1 own: False 1.0" in out
    assert out.count("the notebook is being graded") == 5
    assert "marks: None None None None None" in out


def test_work_dir_sits_beside_the_lesson_folders(monkeypatch, tmp_path):
    monkeypatch.delenv("P2P_MY_WORK", raising=False)
    lesson = tmp_path / "lessons" / "ex2_unet"
    lesson.mkdir(parents=True)
    monkeypatch.chdir(lesson)
    assert coursework.work_dir() == tmp_path / "lessons" / "my_work"
    monkeypatch.chdir(tmp_path)  # e.g. /content on Colab
    assert coursework.work_dir() == tmp_path / "my_work"


def test_a_corrupt_file_names_itself_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("P2P_MY_WORK", str(tmp_path))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    (tmp_path / "ex3_patchgan.pkl").write_bytes(b"\x80\x05garbage")
    with pytest.raises(coursework.WorkNotFound, match=r"cannot read .*ex3_patchgan.pkl.*run the last cell"):
        coursework.load_work("ex3_patchgan")
    with pytest.raises(ValueError, match="at least one object"):
        coursework.save_work("ex3_patchgan")
