"""Catch a solution that hands in the answer key: while a test cell runs in the re-grade, record the
calls into the reference version (p2p_ref.paper) of the very piece the cell checks that come from
the student's code.

The piece of a test cell is each name its source reads that a student cell bound to a function or
class (`check.l1_loss(l1_loss)` checks `l1_loss`); its reference version is every function or
class of p2p_ref.paper with that name (for a class, its methods). What runs decides, not the text:
an import inside the function, an alias, `importlib`, `getattr` on the package and a copy of the
function object all end in the same code object, and a subclass's inherited method runs with a
`self` whose class is not the reference's. A call counts when the nearest caller that is not
library code (the standard library, site-packages, p2p_ref) is student code; calls made by the
checks, by test cells and by the lesson's read-only cells (helpers it hands out) do not. Uses of
other reference pieces (the lesson-5 dataset built on AlignedDataset, the losses in train_step)
stay allowed.
"""

import ast
import importlib
import pkgutil
import sys
import sysconfig
import types
from pathlib import Path


def reference_pieces():
    """{name: [objects]} of the public functions and classes p2p_ref.paper defines."""
    import p2p_ref.paper as paper
    out = {}
    for info in pkgutil.iter_modules(paper.__path__, paper.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (isinstance(value, (types.FunctionType, type)) and getattr(value, "__module__", None) == module.__name__
                    and not name.startswith("_")):
                out.setdefault(name, []).append(value)
    return out


def _codes(obj):
    """The code objects that run when `obj` (a function or class) is called."""
    if isinstance(obj, types.FunctionType):
        return [obj.__code__]
    codes = []
    for value in vars(obj).values():
        value = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        value = value.fget if isinstance(value, property) else value
        if isinstance(value, types.FunctionType):
            codes.append(value.__code__)
    return codes


def _label(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


class AnswerKeyWatch:
    """Record student calls into the reference version of the pieces a test cell checks."""

    def __init__(self, library_roots):
        self.references = reference_pieces()
        self.library_roots = tuple(str(r) for r in library_roots)
        self.trusted_files = set()  # code of test cells and read-only cells
        self.watched, self.found = {}, []
        self._tracer = self._trace  # one bound method, to recognise it in sys.gettrace()

    @classmethod
    def for_this_interpreter(cls):
        """Library code: the standard library, site-packages and the imported p2p_ref."""
        roots = {sys.prefix, sys.base_prefix, *sysconfig.get_paths().values()}
        roots |= {p for p in sys.path if "site-packages" in p or "dist-packages" in p}
        roots |= {str(Path(__file__).parents[2]), str(Path(__file__).resolve().parents[2])}  # p2p_ref
        return cls(sorted(r for r in roots if r))

    def pieces(self, source, ns, protected):
        """{code object: label} of the reference versions of the pieces `source` checks."""
        try:
            names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
        except SyntaxError:
            return {}
        codes = {}
        for name in names:
            value = ns.get(name)
            if name in protected or not isinstance(value, (types.FunctionType, type)):
                continue
            for obj in self.references.get(name, []):
                codes.update({code: _label(obj) for code in _codes(obj)})
        return codes

    def start(self, source, ns, protected):
        self.watched, self.found = self.pieces(source, ns, protected), []
        if self.watched:
            sys.settrace(self._tracer)

    def stop(self):
        """Stop watching; returns the descriptions of the calls found (and of a watch that student
        code switched off)."""
        if not self.watched:
            return []
        switched_off = sys.gettrace() is not self._tracer
        sys.settrace(None)
        found = sorted(set(self.found))
        if switched_off:
            found.append("the answer-key watch was switched off while the check ran")
        self.watched = {}
        return found

    def _trace(self, frame, event, arg):
        if event == "call" and frame.f_code in self.watched:
            where = self._student_caller(frame)
            if where:
                self.found.append(f"{where} calls the answer key's {self.watched[frame.f_code]}")
        return None

    def _student_caller(self, frame):
        """Where the student's code reached this reference frame, or None."""
        owner = frame.f_locals.get("self", frame.f_locals.get("cls")) if frame.f_code.co_argcount else None
        cls = owner if isinstance(owner, type) else type(owner) if owner is not None else None
        if cls is not None and not cls.__module__.startswith("p2p_ref.") and self._is_student(cls):
            return f"your class {cls.__qualname__} (a subclass of the reference)"
        caller = frame.f_back
        while caller is not None:
            filename = caller.f_code.co_filename
            if filename in self.trusted_files or filename.startswith("<test cell"):
                return None
            if not filename.startswith(self.library_roots):
                return f"your code (`{caller.f_code.co_name}`)"
            caller = caller.f_back
        return None

    def _is_student(self, cls):
        """Whether a class was defined in a student cell (by its methods' code, else its module)."""
        files = [code.co_filename for code in _codes(cls)]
        if files:
            return any(not f.startswith(self.library_roots) and f not in self.trusted_files for f in files)
        return cls.__module__ == "__main__"
