"""Save the solution notebooks' code as a student's work (my_work/*.pkl), in a subprocess whose
`__main__` holds it as a notebook kernel would: the import cells and the solution cells of each
lesson run there, then the lesson's save_work call. `breaks` replaces pieces before they are saved,
e.g. {"gan_loss": "def gan_loss(*a, **k):\\n    raise NotImplementedError"}.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAVES = {
    "ex1_paired_translation": "split_ab=split_ab, normalize=normalize, denormalize=denormalize, "
                              "paired_jitter=paired_jitter",
    "ex2_unet": "UNetGenerator=UNetGenerator, EncoderBlock=EncoderBlock, DecoderBlock=DecoderBlock",
    "ex3_patchgan": "PatchDiscriminator=PatchDiscriminator",
    "ex4_losses": "gan_loss=gan_loss, l1_loss=l1_loss, discriminator_loss=discriminator_loss, "
                  "generator_loss=generator_loss",
    "ex5_training": "make_train_set=make_train_set, make_optimizers=make_optimizers, "
                    "lr_factor=lr_factor, train_step=train_step, save_samples=save_samples",
}


def _import_lines(source):
    """The top-level import statements of a cell (one line each in the course's notebooks)."""
    return [ln for ln in source.splitlines()
            if ln.startswith(("import ", "from ")) and "(" not in ln.split("#")[0]]


def lesson_code(lesson, breaks=None):
    """The code a kernel of `lesson` would have run before its save_work cell."""
    nb = json.loads((ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text())
    cells = []
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "save_work" in source:
            continue
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            cells.append(source)
        else:
            cells.extend(_import_lines(source))
    cells += list((breaks or {}).values())
    return "\n\n".join(cells) + f"\n\nsave_work({lesson!r}, {SAVES[lesson]})\n"


def save_solution_work(work_dir, lessons=tuple(SAVES), breaks=None):
    """Save `lessons` into work_dir, as a student who ran them in one kernel after another."""
    code = "from p2p_ref.course.coursework import save_work\nimport torch\ntorch.set_num_threads(1)\n"
    code += "\n".join(lesson_code(lesson, {k: v for k, v in (breaks or {}).items()
                                           if k in SAVES_OF[lesson]}) for lesson in lessons)
    env = {**os.environ, "P2P_MY_WORK": str(work_dir), "PYTHONPATH": str(ROOT)}
    env.pop("NBGRADER_EXECUTION", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, cwd=work_dir.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work_dir


SAVES_OF = {lesson: {part.split("=")[0].strip() for part in names.split(",")}
            for lesson, names in SAVES.items()}
