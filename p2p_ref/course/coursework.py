"""Carry your own code from one lesson to the next, so that lesson 5 trains what you wrote.

Lessons 2, 3 and 4 end with a cell that saves what the student wrote:

    save_work("ex2_unet", UNetGenerator=UNetGenerator, EncoderBlock=EncoderBlock)

and lesson 5 picks each piece up again, checks it once more and falls back to the reference for a
piece that is missing or fails its check:

    UNet = use_own("ex2_unet", "UNetGenerator", reference=models.UNetGenerator, check=ex2.unet)

Classes and functions defined in a notebook live in its `__main__` and cannot be pickled by name,
so they are saved *by value* with cloudpickle (their code, and the notebook globals they use).
The files go to `my_work/` beside the lesson folders (`lessons/my_work/ex2_unet.pkl` after
`make lab`), or to the folder named by the environment variable P2P_MY_WORK. Nothing is saved
or loaded while nbgrader grades a notebook (NBGRADER_EXECUTION is set): each lesson is graded on
its own, and lesson 5's checks never depend on lessons 2 to 4: a piece that `use_own` hands out
is marked (`carried`), so that a check can put the reference in its place while it grades.
"""

import contextlib
import io
import os
import re
import sys
from pathlib import Path

import cloudpickle

FORMAT = "p2p_ref.coursework/1"
MARK = "__p2p_carried__"  # set on every piece use_own hands out: (lesson, name)


def grading():
    """True while nbgrader runs the notebook (autograde or validate)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def work_dir():
    """Where saved work lives: $P2P_MY_WORK, else my_work/ beside the lesson folders when the
    notebook runs in lessons/exN_name/, else my_work/ in the current folder (e.g. on Colab)."""
    if os.environ.get("P2P_MY_WORK"):
        return Path(os.environ["P2P_MY_WORK"])
    here = Path.cwd()
    return (here.parent if re.match(r"ex\d+_", here.name) else here) / "my_work"


def work_file(lesson, folder=None):
    return (Path(folder) if folder is not None else work_dir()) / f"{lesson}.pkl"


def save_work(lesson, **objects):
    """Save the student's classes and functions of `lesson` (e.g. "ex2_unet") by value; returns
    the file, or None while grading. Objects that are None (not written yet) are left out."""
    if not objects:
        raise ValueError("save_work needs at least one object, e.g. save_work('ex2_unet', "
                         "UNetGenerator=UNetGenerator)")
    kept = {name: obj for name, obj in objects.items() if obj is not None}
    if grading():
        print(f"(grading: {lesson}'s work is not saved)")
        return None
    path = work_file(lesson)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    payload = {"format": FORMAT, "lesson": lesson, "python": sys.version.split()[0],
               "objects": kept}
    try:
        with open(tmp, "wb") as f:
            cloudpickle.dump(payload, f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    names = ", ".join(kept) or "nothing"
    print(f"Saved {names} to {path}: lesson 5 trains with it.")
    return path


class WorkNotFound(Exception):
    """No usable saved work for a lesson; the message says why and what to do."""


def load_work(lesson, folder=None):
    """{name: object} that `save_work(lesson, ...)` saved (in `folder`, default work_dir());
    WorkNotFound says why when there is none. Loading runs the saved code's definitions: load only
    your own work."""
    path = work_file(lesson, folder)
    if grading():
        raise WorkNotFound("the notebook is being graded: each lesson is graded on its own")
    if not path.is_file():
        if "google.colab" in sys.modules:  # each Colab notebook runs on a machine of its own
            raise WorkNotFound(f"no {path}: on Colab, run the last cell of lesson {lesson}, download "
                               f"my_work/{path.name} there (Files panel), then upload it here into "
                               f"{path.parent}/ and run this cell again")
        raise WorkNotFound(f"no {path}: run the last cell of lesson {lesson} (on Colab, upload the "
                           f"file saved there into my_work/ here)")
    try:
        with open(path, "rb") as f:
            payload = cloudpickle.load(f)
    except Exception as e:  # truncated file, code saved by another Python version, ...
        raise WorkNotFound(f"cannot read {path} ({type(e).__name__}: {e}); run the last cell "
                           f"of lesson {lesson} again") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise WorkNotFound(f"{path} was not written by save_work; run the last cell of lesson "
                           f"{lesson} again")
    return payload["objects"]


def use_own(lesson, name, reference, check=None):
    """The student's `name` from `lesson` when it was saved and passes `check` (a function that
    raises on a wrong object, e.g. a p2p_ref.course.checks function), else `reference`. Prints which
    one it uses and why; returns (object, True when it is the student's)."""
    label = f"{name} (lesson {lesson})"
    try:
        obj = load_work(lesson).get(name)
        if obj is None:
            raise WorkNotFound(f"{name} was not among the saved work; define it in lesson {lesson} "
                               f"and run its last cell again")
    except WorkNotFound as e:
        print(f"  reference {label}: {e}")
        return reference, False
    if check is not None:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(obj)
        except Exception as e:  # CheckFailed, or the student's code raising anything
            first = next((line.strip() for line in str(e).splitlines() if line.strip()),
                         type(e).__name__)
            print(f"  reference {label}: yours does not pass its check ({first}); fix it in "
                  f"lesson {lesson}")
            return reference, False
    print(f"  yours     {label}" + (": passes its check" if check is not None else ""))
    try:
        setattr(obj, MARK, (lesson, name))
    except (AttributeError, TypeError):  # an object that takes no attributes stays unmarked
        pass
    return obj, True


def carried(obj):
    """(lesson, name) when `obj` is a student's piece that use_own handed out, else None."""
    mark = getattr(obj, MARK, None) if not isinstance(obj, type) else obj.__dict__.get(MARK)
    return mark if isinstance(mark, tuple) and len(mark) == 2 else None
