"""Re-grade a submitted notebook in a fresh process, where the student's code cannot switch the
checks off.

nbgrader runs the test cells in the student's own kernel, after the student's code, so a
submission can reach the checks: replace the functions of `p2p_ref.course.checks.ex4`, patch
`torch.allclose`, rebind the name `check`, swap `CheckFailed`. This module runs the notebook again,
cell by cell, in a new Python process that imports the checks (and torch, numpy, the builtins)
*before* any student code and takes a snapshot of them:

* before each test cell, everything the checks rely on is compared with the snapshot; what a
  student cell changed is put back and reported (which cell, what);
* the test cell then runs with the instructor's source, and the names that read-only cells bound
  to modules or to check functions (`check`, `torch`, ...) as those cells bound them;
* after the test cell the comparison runs again: student code called by a check could have
  patched something while the check ran, and a test cell during which anything changed fails.

Changes made by read-only (locked) cells are the instructor's and are kept. Private names of
third-party modules (`torch._foo`) are not compared: libraries rebind those themselves.

    python -m p2p_ref.course.grading.regrade submission.ipynb --out result.jsonl [--cwd DIR] [--timeout 120]

writes one JSON line per test cell as soon as it has run (so a run that is killed still reports
what it reached), then a summary line. nbgrader runs it through
`p2p_ref.course.grading.nbgrader_step.IsolatedRegrade` (see nbgrader_config.py). What it cannot stop is
documented in the README (instructors' section): code that walks the interpreter's frames or the
garbage collector to reach the re-grader's own data, edits memory through ctypes, or behaves
differently when it detects that it is being re-graded; notebooks whose solution cells use such
tools are flagged for review (`suspicious_code`).
"""

import argparse
import builtins
import json
import os
import re
import signal
import sys
import time
import types
import warnings

# Modules whose state the checks rely on; every loaded module under these top-level names is
# watched. p2p_ref is watched completely, the others by their public names and dunders.
WATCHED = ("p2p_ref", "torch", "torchvision", "numpy", "PIL", "builtins", "math", "inspect", "types",
           "functools", "copy", "contextlib", "io", "itertools", "operator")
FULLY_WATCHED = ("p2p_ref", "builtins")

# Tools a pix2pix exercise never needs and tampering usually does; their use is flagged, not scored.
SUSPICIOUS = {
    r"\bsys\s*\.\s*_getframe|\binspect\s*\.\s*(currentframe|stack)\b|\bf_back\b|\bf_locals\b": "frame inspection",
    r"\bgc\s*\.\s*get_(objects|referrers|referents)\b": "the garbage collector's object lists",
    r"\bctypes\b": "ctypes",
    r"\bsettrace\b|\bsetprofile\b": "a trace/profile hook",
    r"\bp2p_ref\s*\.\s*course\s*\.\s*(checks|grading)\b|from\s+p2p_ref\.course\.(checks|grading)\b"
    r"|from\s+p2p_ref\.course\s+import\s+[^\n]*\b(checks|grading)\b": "the grading code",
    r"\bbuiltins\b|__builtins__": "the builtins",
    r"\bsys\s*\.\s*modules\b": "sys.modules",
    r"__code__|__globals__|__closure__": "function internals",
    r"\bos\s*\.\s*_exit\b|\bsys\s*\.\s*exit\b|\bos\s*\.\s*kill\b": "ending the process",
    r"NBGRADER_EXECUTION|P2P_REGRADE": "the grader's environment",
    r"\b(torch|np|numpy)\s*\.\s*(allclose|equal|isclose|testing)\s*=(?!=)": "replacing torch/numpy comparisons",
}


def suspicious_code(source):
    """What in a cell's source looks like tampering: a sorted list of short descriptions."""
    return sorted({what for pattern, what in SUSPICIOUS.items() if re.search(pattern, source)})


def _watched(name):
    """p2p_ref and the builtins completely; of the others, modules whose dotted name is public
    (torch._dynamo and friends rebind their own globals as they run)."""
    parts = name.split(".")
    return parts[0] in WATCHED and (_fully(name) or all(_public(part) for part in parts))


def _fully(name):
    return name.split(".")[0] in FULLY_WATCHED


def _code_like(value):
    """Functions, classes, modules and descriptors: what a check calls. Third-party data (counters,
    caches, flags) is left alone: libraries update their own."""
    return callable(value) or isinstance(value, (types.ModuleType, property, staticmethod, classmethod))


def _public(key):
    return not key.startswith("_") or (key.startswith("__") and key.endswith("__"))


def _function_state(f):
    return (f.__code__, f.__defaults__, f.__kwdefaults__, f.__globals__, f.__closure__)


class Snapshot:
    """The watched state: module dicts, the dicts of classes they define, the code of their Python
    functions, p2p_ref's mutable containers, sys.modules entries and the import machinery."""

    def __init__(self):
        self.modules, self.classes, self.functions, self.containers = {}, {}, {}, {}
        self.sys_modules, self.meta_path, self.path_hooks = {}, list(sys.meta_path), list(sys.path_hooks)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, module in list(sys.modules.items()):
                if module is not None and _watched(name):
                    self._add_module(name, module)

    def _add_module(self, name, module):
        self.sys_modules[name] = module
        if id(module) in self.modules:
            return
        fully = _fully(name)
        contents = {k: v for k, v in vars(module).items()
                    if (fully or (_public(k) and _code_like(v))) and not (name == "builtins" and k.strip("_") == "")}
        self.modules[id(module)] = (name, module, contents)
        for key, value in contents.items():
            owner = vars(value).get("__module__") if isinstance(value, type) else None
            if isinstance(owner, str) and owner.split(".")[0] in WATCHED:
                self._add_class(f"{owner}.{getattr(value, '__qualname__', key)}", value, fully)
            elif isinstance(value, types.FunctionType):
                self.functions.setdefault(id(value), (f"{name}.{key}", value, _function_state(value)))
            elif (fully and name.startswith("p2p_ref") and isinstance(value, (list, dict, set))
                  and not key.startswith("__")):
                self.containers[id(value)] = (f"{name}.{key}", value, value.copy())

    def _add_class(self, label, cls, fully):
        if id(cls) in self.classes:
            return
        contents = {k: v for k, v in vars(cls).items() if fully or (_public(k) and _code_like(v))}
        self.classes[id(cls)] = (label, cls, contents)
        for key, value in contents.items():
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if isinstance(func, types.FunctionType):
                self.functions.setdefault(id(func), (f"{label}.{key}", func, _function_state(func)))

    def changes(self):
        """What differs from the snapshot: a list of (description, undo) pairs."""
        found = []
        for name, module in self.sys_modules.items():
            if sys.modules.get(name) is not module:
                found.append((f"sys.modules[{name!r}] was replaced or removed",
                              lambda n=name, m=module: sys.modules.__setitem__(n, m)))
        for name, module, contents in self.modules.values():
            found += _dict_changes(name, module, vars(module), contents, _fully(name),
                                   lambda obj, k, v: setattr(obj, k, v), delattr, fully=True)
        for label, cls, contents in self.classes.values():
            found += _dict_changes(label, cls, vars(cls), contents, True,
                                   lambda obj, k, v: setattr(obj, k, v), delattr,
                                   fully=label.startswith("p2p_ref"))
        for label, func, state in self.functions.values():
            if _function_state(func) != state:
                found.append((f"the code of {label} was replaced", lambda f=func, s=state: _restore_function(f, s)))
        for label, value, copy in self.containers.values():
            if value != copy:
                found.append((f"the contents of {label} were changed",
                              lambda v=value, c=copy: (v.clear(), v.update(c) if not isinstance(v, list) else v.extend(c))))
        if sys.meta_path != self.meta_path or sys.path_hooks != self.path_hooks:
            found.append(("the import machinery (sys.meta_path / sys.path_hooks) was changed",
                          lambda: (sys.meta_path.__setitem__(slice(None), self.meta_path),
                                   sys.path_hooks.__setitem__(slice(None), self.path_hooks))))
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append(("a trace or profile hook was installed",
                          lambda: (sys.settrace(None), sys.setprofile(None))))
        return found

    def restore(self):
        """Put back everything that changed; returns the descriptions."""
        changes = self.changes()
        for _, undo in changes:
            try:
                undo()
            except Exception:  # an immutable type: then it cannot have been changed either
                pass
        return [what for what, _ in changes]

    def accept(self):
        """Take the current state as the reference (after a read-only cell: the instructor's)."""
        fresh = Snapshot()
        self.__dict__.update(fresh.__dict__)


def _dict_changes(label, owner, current, saved, added, setter, deleter, fully=True):
    found = []
    for key, value in saved.items():
        if current.get(key, _MISSING) is not value:
            found.append((f"{label}.{key} was replaced" if key in current else f"{label}.{key} was deleted",
                          lambda o=owner, k=key, v=value: setter(o, k, v)))
    if added:
        for key in current.keys() - saved.keys():
            value = current[key]
            if key.strip("_") == "" or not (fully or (_public(key) and _code_like(value))):
                continue  # `_`, `__`: the interactive display hook's last results
            if isinstance(value, types.ModuleType) and value.__name__ == f"{label}.{key}":
                continue  # a submodule imported after the snapshot
            found.append((f"{label}.{key} was added", lambda o=owner, k=key: deleter(o, k)))
    return found


_MISSING = object()


def _restore_function(func, state):
    func.__code__, func.__defaults__, func.__kwdefaults__ = state[0], state[1], state[2]


def _prime_torch():
    """Make torch do its one-time patching before the snapshot: the first optimizer of each class
    wraps the class's `step` (profiling hooks), which would otherwise look like tampering."""
    import torch
    param = torch.zeros(1, requires_grad=True)
    for cls in vars(torch.optim).values():
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer:
            try:
                cls([param], lr=1e-3)
            except Exception:  # an optimizer that needs other arguments: it is not used in the course
                pass


# --------------------------------------------------------------------------------------------

class CellTimeout(BaseException):
    """A cell ran longer than the limit (BaseException: `except Exception` in student code does not
    swallow it)."""


def _on_alarm(signum, frame):
    raise CellTimeout()


def cell_kind(cell):
    """'test' (auto-graded, read-only), 'locked' (other read-only instructor cells) or 'student'
    (solution cells, and any cell without nbgrader's lock, which students can edit)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("locked") and not meta.get("solution"):
        return "locked"
    return "student"


def _bindings(ns, names=None):
    """The names of `ns` bound to modules or to objects of p2p_ref.checks."""
    out = {}
    for name in (ns if names is None else names):
        value = ns.get(name)
        module = getattr(value, "__module__", None) if not isinstance(value, types.ModuleType) else None
        if isinstance(value, types.ModuleType) or (isinstance(module, str) and module.startswith("p2p_ref.course.checks")):
            out[name] = value
    return out


def regrade(cells, out, timeout=120.0):
    """Run a notebook's code cells in this process and write one JSON line per test cell to the
    open file `out`: {"grade_id", "passed", "error", "changed_before", "changed_during"}."""
    # Everything the checks use is imported before the first student cell.
    import torch  # noqa: F401
    import p2p_ref.course.checks.common
    for n in range(1, 6):
        __import__(f"p2p_ref.course.checks.ex{n}")
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.core.interactiveshell import InteractiveShell

    transform = TransformerManager().transform_cell
    compile_, exec_, dumps, monotonic = builtins.compile, builtins.exec, json.dumps, time.monotonic
    set_handler, set_timer, ITIMER_REAL, SIGALRM = signal.signal, signal.setitimer, signal.ITIMER_REAL, signal.SIGALRM
    from p2p_ref.course.grading.answer_key import AnswerKeyWatch

    _prime_torch()
    shell = InteractiveShell.instance()  # before the snapshot: it adds its own builtins
    ns = shell.user_ns
    answer_key = AnswerKeyWatch.for_this_interpreter()  # imports p2p_ref.paper: before the snapshot
    snapshot = Snapshot()
    protected = {}  # name -> object, bound by read-only cells
    summary = {"tampering": [], "suspicious_code": {}, "errors_in_student_cells": 0}
    delegated = []  # what the last test cell's answer-key watch found

    def clean(where):
        """Put back what student cells changed since the last look; returns the descriptions."""
        changed = snapshot.restore()
        for name, value in protected.items():
            if ns.get(name) is not value:
                changed.append(f"the name `{name}` was rebound in the notebook")
                ns[name] = value
        summary["tampering"] += [f"{where}: {c}" for c in changed]
        return changed

    def run(source, kind, index):
        before = dict(ns)
        set_handler(SIGALRM, _on_alarm)
        set_timer(ITIMER_REAL, timeout)
        try:
            if kind == "test":
                answer_key.start(source, ns, protected)
                exec_(compile_(transform(source), f"<test cell {index}>", "exec"), ns)
            else:
                result = shell.run_cell(source, store_history=False)
                if result.error_in_exec is not None:
                    raise result.error_in_exec
            return None
        except CellTimeout:
            return f"CellTimeout: the cell ran longer than {timeout:g} s and was interrupted"
        except BaseException as e:  # noqa: BLE001 -- a test cell fails on any exception
            return f"{type(e).__name__}: {e}"
        finally:
            delegated[:] = answer_key.stop() if kind == "test" else []
            set_timer(ITIMER_REAL, 0)
            if kind != "student":
                changed = [k for k in ns if k not in before or ns[k] is not before[k]]
                protected.update(_bindings(ns, changed))

    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        kind = cell_kind(cell)
        if kind == "student":
            found = suspicious_code(source) if cell["metadata"].get("nbgrader", {}).get("solution") else []
            if found:
                summary["suspicious_code"][str(index)] = found
            if run(source, kind, index) is not None:
                summary["errors_in_student_cells"] += 1
            continue
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id") or f"cell {index}"
        changed_before = clean(f"before {gid}")
        if kind == "locked":
            compiled = set(getattr(shell.compile, "_filename_map", {}))
            run(source, kind, index)
            answer_key.trusted_files |= set(getattr(shell.compile, "_filename_map", {})) - compiled
            snapshot.accept()  # what the instructor's cell changed is part of the lesson
            continue
        start = monotonic()
        error = run(source, kind, index)
        changed_during = clean(f"during {gid}")
        if changed_during and error is None:
            error = ("TamperingDetected: while this check ran, the code it called changed "
                     + "; ".join(changed_during))
        if delegated:
            error = ("AnswerKeyUsed: the piece this cell checks must be your own code, but "
                     + "; ".join(delegated) + (f" (and the check said: {error})" if error else ""))
        record = {"grade_id": gid, "cell": index, "passed": error is None, "error": error,
                  "answer_key": list(delegated),
                  "changed_before": changed_before, "changed_during": changed_during,
                  "seconds": round(monotonic() - start, 2)}
        out.write(dumps(record) + "\n")
        out.flush()
    out.write(dumps({"summary": summary}) + "\n")
    out.flush()
    return summary


def read_results(path):
    """(per test cell {grade_id: record}, summary or None when the run did not finish)."""
    results, summary = {}, None
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    break  # a line cut off when the process was killed
                if "summary" in record:
                    summary = record["summary"]
                elif isinstance(record, dict) and "grade_id" in record:
                    results[record["grade_id"]] = record
    return results, summary


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m p2p_ref.course.grading.regrade", description=__doc__.split("\n\n")[0])
    p.add_argument("notebook", help="the submitted notebook (.ipynb)")
    p.add_argument("--out", required=True, help="JSON-lines result file")
    p.add_argument("--cwd", default=None, help="run the cells in this folder (default: the notebook's)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per cell")
    args = p.parse_args(argv)
    with open(args.notebook) as f:
        cells = json.load(f)["cells"]
    os.chdir(args.cwd or os.path.dirname(os.path.abspath(args.notebook)))
    os.environ["P2P_REGRADE"] = "1"
    with open(args.out, "w") as out:
        regrade(cells, out, timeout=args.timeout)


if __name__ == "__main__":
    main()
