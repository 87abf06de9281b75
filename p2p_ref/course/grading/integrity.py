"""The integrity record: every file that decides a grade, hashed when the course is released and
checked around each submission while autograding.

Recorded (SHA-256 per file): the p2p_ref package that grading imports (the checks, the answer key,
this grader), nbgrader_config.py, the release and source notebooks (lessons/, solutions/), and
the environment's start-up hooks (`*.pth`, sitecustomize.py, usercustomize.py in the
site-packages folders), which every later Python process runs. `make release` writes
.grading/manifest.json and a pristine copy of the package under .grading/pristine/:

    python -m p2p_ref.course.grading.integrity [COURSE_ROOT]     # what `make release` runs

While autograding, `Pristine.load` reads these files into memory before any student code has run
(and refuses to start when they no longer match the manifest); `restore()` then names every file
that was changed, added or removed since, and puts the pristine state back. `SharedState` does the
same for the gradebook and the other students' submitted/ and autograded/ folders.
"""

import hashlib
import json
import os
import shutil
import site
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = Path(".grading") / "manifest.json"
PRISTINE = Path(".grading") / "pristine"
HOOK_NAMES = ("sitecustomize.py", "usercustomize.py")
SKIPPED_DIRS = {".ipynb_checkpoints", "__pycache__"}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def package_dir():
    """The folder of the p2p_ref package this process imports (what grading runs): this module's
    p2p_ref/course/grading/integrity.py, three levels up."""
    return Path(__file__).resolve().parents[2]


def hook_dirs():
    """Folders whose start-up hooks Python runs: site-packages (system and user), and the folders
    of PYTHONPATH, where a sitecustomize.py would be imported. The same in every process started
    with the same environment (sys.path[0], the script's folder, is left out)."""
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    dirs.append(site.getusersitepackages())
    dirs += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return sorted({str(Path(d).resolve()) for d in dirs if Path(d).is_dir()})


def _tree(root, keep=lambda p: True):
    """Every file under root (skipping notebook checkpoints and bytecode caches)."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        out += [Path(folder) / f for f in sorted(files) if keep(Path(folder) / f)]
    return out


@dataclass
class Watched:
    """Where the graded files live: folders whose every file counts (new files there are removed
    on restore), and hook folders where only start-up hooks count. While a submission runs, the
    source notebooks sit in `solutions` (a hidden folder, see hide_solutions); their labels stay
    solutions/..."""
    course: Path
    package: Path
    hooks: list = field(default_factory=list)
    solutions: Path = None

    def scan(self):
        """{label: absolute path} of the files there now."""
        out = {"nbgrader_config.py": self.course / "nbgrader_config.py"}
        out.update({str(p.relative_to(self.course)): p for p in _tree(self.course / "lessons")})
        out.update({"solutions/" + str(p.relative_to(self.solutions)): p for p in _tree(self.solutions)})
        out.update({"p2p_ref/" + str(p.relative_to(self.package)): p for p in _tree(self.package)})
        if (self.course / MANIFEST).is_file():
            out[str(MANIFEST)] = self.course / MANIFEST
        for d in self.hooks:
            for p in sorted(Path(d).glob("*.pth")) + [Path(d) / n for n in HOOK_NAMES]:
                if p.is_file() and p not in out.values():
                    out[f"start-up hook {p}"] = p
        return {label: p for label, p in out.items() if p.is_file()}

    def path(self, label):
        """Where the file of `label` belongs."""
        if label.startswith("p2p_ref/"):
            return self.package / label[len("p2p_ref/"):]
        if label.startswith("solutions/"):
            return self.solutions / label[len("solutions/"):]
        if label.startswith("start-up hook "):
            return Path(label[len("start-up hook "):])
        return self.course / label


def watched(course, hooks=None, package=None):
    """What to watch for the course root `course`; by default the imported p2p_ref package and
    the start-up hook folders of this interpreter."""
    course = Path(course).resolve()
    return Watched(course, Path(package or package_dir()).resolve(),
                   hook_dirs() if hooks is None else [str(Path(h).resolve()) for h in hooks], course / "solutions")


def write_manifest(course, hooks=None, package=None):
    """Write COURSE/.grading/manifest.json ({label: sha256}) and the pristine copy of the package;
    returns the manifest."""
    w = watched(course, hooks, package)
    manifest = {label: sha256(p.read_bytes()) for label, p in w.scan().items() if label != str(MANIFEST)}
    out = w.course / MANIFEST
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    pristine = w.course / PRISTINE / "p2p_ref"
    shutil.rmtree(pristine, ignore_errors=True)
    shutil.copytree(w.package, pristine, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    return manifest


class IntegrityError(RuntimeError):
    """The files that decide grades differ from the record made at release."""


@dataclass
class Pristine:
    """The graded files' content as it was before any submission ran (held in memory)."""
    watched: Watched
    files: dict  # label -> bytes

    @classmethod
    def load(cls, course, hooks=None, package=None):
        w = watched(course, hooks, package)
        show_solutions(w.course)  # a run that was killed while they were hidden
        files = {label: p.read_bytes() for label, p in w.scan().items()}
        manifest_path = w.course / MANIFEST
        if manifest_path.exists():
            manifest = json.loads(manifest_path.read_text())
            now = {label: sha256(data) for label, data in files.items() if label != str(MANIFEST)}
            differ = sorted({label for label, _ in set(manifest.items()) ^ set(now.items())})
            if differ:
                raise IntegrityError(
                    f"{manifest_path}: these files differ from the record made at release: {', '.join(differ)}. "
                    "Check them, then run `make release` again (it rewrites the record) before autograding.")
        return cls(w, files)

    def restore(self):
        """Put every changed, added or removed file back (and drop the package's bytecode caches,
        where a planted .pyc would run instead of the source); returns the sorted labels of what
        changed."""
        now = self.watched.scan()
        drop_bytecode(self.watched.package)
        changed = []
        for label, data in self.files.items():
            path = now.get(label) or self.watched.path(label)
            if not path.is_file() or path.read_bytes() != data:
                changed.append(label)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        for label, path in now.items():
            if label not in self.files:
                changed.append(label)
                path.unlink()
        return sorted(changed)

    def write_package(self, dest):
        """Write the pristine p2p_ref package under dest/p2p_ref; returns dest (for sys.path)."""
        for label, data in self.files.items():
            if label.startswith("p2p_ref/"):
                out = Path(dest) / label
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
        return Path(dest)

    def hide_solutions(self):
        """Move solutions/ out of the way while student code runs (see hide_solutions)."""
        self.watched.solutions = hide_solutions(self.watched.course)

    def show_solutions(self):
        show_solutions(self.watched.course)
        self.watched.solutions = self.watched.course / "solutions"


# Every code cell of the decoy that stands in solutions/ while a submission runs raises this.
MODEL_ANSWER_HIDDEN = "ModelAnswersHidden"


def hide_solutions(course):
    """Rename COURSE/solutions to .grading/hidden-<random> and leave a decoy in its place, whose
    notebooks' code cells raise MODEL_ANSWER_HIDDEN; returns the hidden folder."""
    import nbformat
    course = Path(course)
    hidden = course / ".grading" / ("hidden-" + os.urandom(8).hex())
    hidden.parent.mkdir(parents=True, exist_ok=True)
    os.rename(course / "solutions", hidden)
    for nb_path in hidden.rglob("*.ipynb"):
        if ".ipynb_checkpoints" in nb_path.parts:
            continue
        nb = nbformat.read(str(nb_path), as_version=4)
        for cell in nb.cells:
            cell.source = (f"raise RuntimeError('{MODEL_ANSWER_HIDDEN}: the model answers cannot be read while grading')"
                           if cell.cell_type == "code" else "")
        decoy = course / "solutions" / nb_path.relative_to(hidden)
        decoy.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(decoy))
    return hidden


def show_solutions(course):
    """Put the hidden solutions/ back (removing the decoy); nothing to do when none is hidden."""
    course = Path(course)
    hidden = sorted((course / ".grading").glob("hidden-*"))
    if not hidden:
        return
    shutil.rmtree(course / "solutions", ignore_errors=True)
    os.rename(hidden[0], course / "solutions")


def drop_bytecode(package):
    """Delete the package's bytecode caches: a planted .pyc would run instead of the source."""
    for cache in Path(package).rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


@dataclass
class SharedState:
    """The gradebook and the other students' submitted/ and autograded/ files, as they were right
    before a submission's code ran."""
    course: Path
    files: dict  # absolute path -> bytes
    student: str

    @classmethod
    def capture(cls, course, student):
        course = Path(course).resolve()
        return cls(course, {p: p.read_bytes() for p in cls._scan(course, student)}, student)

    @staticmethod
    def _scan(course, student):
        out = [course / "gradebook.db"] if (course / "gradebook.db").is_file() else []
        for sub in ("submitted", "autograded"):
            if (course / sub).is_dir():
                for d in sorted((course / sub).iterdir()):
                    if d.is_dir() and d.name != student:
                        out += _tree(d)
        return out

    def restore(self):
        """Put back what changed since the capture; returns the sorted paths (course-relative)."""
        changed = []
        for path, data in self.files.items():
            if not path.is_file() or path.read_bytes() != data:
                changed.append(str(path.relative_to(self.course)))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        for path in self._scan(self.course, self.student):
            if path not in self.files:
                changed.append(str(path.relative_to(self.course)))
                path.unlink()
        return sorted(changed)


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="python -m p2p_ref.course.grading.integrity",
                                description="Write the integrity record of the course (run by `make release`).")
    p.add_argument("course", nargs="?", default=".", help="the course root (holds nbgrader_config.py)")
    args = p.parse_args(argv)
    if not (Path(args.course) / "nbgrader_config.py").is_file():
        p.error(f"{args.course}: no nbgrader_config.py here; pass the course root")
    manifest = write_manifest(args.course)
    print(f"{Path(args.course) / MANIFEST}: {len(manifest)} files recorded")


if __name__ == "__main__":
    main()
