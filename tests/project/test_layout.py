"""The package's layout and its import rules, read from the source with `ast`.

    paper      imports nothing from p2p_ref
    datasets   imports only paper
    training   imports only paper and datasets
    inference  imports only paper, datasets and training
    course, gpu_check   may import anything below them, never each other
    nothing imports course or gpu_check; the checks never import a widget

Imports inside functions count too. A broken rule fails with the file, the line and the import.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "p2p_ref"
JOBS = ("paper", "datasets", "training", "inference", "course", "gpu_check")
ALLOWED = {
    "paper": set(),
    "datasets": {"paper"},
    "training": {"paper", "datasets"},
    "inference": {"paper", "datasets", "training"},
    "course": {"paper", "datasets", "training", "inference"},
    "gpu_check": {"paper", "datasets", "training", "inference"},
}


def module_name(path, package=PACKAGE):
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path, package=PACKAGE):
    """[(line, imported module)] of every p2p_ref import in the file, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path, package).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] if base in ("p2p_ref",) else [base]
            found += [(node.lineno, n) for n in names]
    return [(line, name) for line, name in found if name.split(".")[0] == "p2p_ref"]


def job_of(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in JOBS else None


def violations(package=PACKAGE):
    """Every import that breaks a rule, as 'file:line: module imports target (reason)'."""
    out = []
    for path in sorted(package.rglob("*.py")):
        me = module_name(path, package)
        mine = job_of(me)
        for line, target in imports_of(path, package):
            theirs = job_of(target)
            where = f"{path.relative_to(package.parent)}:{line}: {me} imports {target}"
            if mine is None:  # the package root re-exports the answer key only
                if theirs != "paper":
                    out.append(f"{where} (the package root may import only p2p_ref.paper)")
            elif theirs is None:
                out.append(f"{where} (import a module of one of {', '.join(JOBS)})")
            elif theirs != mine and theirs not in ALLOWED[mine]:
                out.append(f"{where} ({mine} may import only "
                           f"{', '.join(sorted(ALLOWED[mine])) or 'nothing else from p2p_ref'})")
            elif me.startswith("p2p_ref.course.checks") and target.startswith(
                    "p2p_ref.course.widgets"):
                out.append(f"{where} (the checks never import a widget)")
    return out


def test_import_rules_hold():
    assert violations() == []


def test_import_rules_catch_a_broken_rule(tmp_path):
    """A copy of the layout with one forbidden import (paper importing training), one lazy
    import inside a function (datasets importing course) and a check importing a widget."""
    fake = tmp_path / "p2p_ref"
    for job in JOBS:
        (fake / job).mkdir(parents=True)
        (fake / job / "__init__.py").write_text("")
    (fake / "course" / "checks").mkdir()
    (fake / "__init__.py").write_text("from p2p_ref.paper.models import UNetGenerator\n")
    (fake / "paper" / "models.py").write_text("from p2p_ref.training.train import train\n")
    (fake / "datasets" / "aligned.py").write_text(
        "def load():\n    from p2p_ref.course import coursework\n    return coursework\n")
    (fake / "course" / "checks" / "ex4.py").write_text(
        "from p2p_ref.course.widgets import lambda_sweep\nfrom p2p_ref.paper import losses\n")
    (fake / "inference" / "eval.py").write_text("from ..training import metrics\n")
    found = violations(fake)
    assert len(found) == 3, found
    assert any(v.startswith("p2p_ref/paper/models.py:1: p2p_ref.paper.models imports "
                            "p2p_ref.training.train") for v in found)
    assert any("datasets/aligned.py:2" in v and "course" in v for v in found)
    assert any("checks never import a widget" in v for v in found)


def import_graph(package=PACKAGE):
    graph = {}
    for path in package.rglob("*.py"):
        graph[module_name(path, package)] = {t for _, t in imports_of(path, package)}
    return graph


def test_no_import_cycles():
    """Module-level and lazy imports together form no circle (label_maps <-> synthetic was one)."""
    graph = import_graph()
    resolved = {m: {t if t in graph else t.rsplit(".", 1)[0] for t in ts} for m, ts in graph.items()}
    state = {}

    def visit(m, path):
        state[m] = "open"
        for t in sorted(resolved.get(m, ())):
            if t == m or t not in resolved or t == "p2p_ref":
                continue
            if state.get(t) == "open":
                pytest.fail("import cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t, path + [t])
        state[m] = "done"

    for m in sorted(resolved):
        if m not in state:
            visit(m, [m])


def test_each_job_is_a_folder_and_the_root_is_small():
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") \
        == sorted(JOBS)
    assert [p.name for p in PACKAGE.glob("*.py")] == ["__init__.py"]


def test_old_flat_names_are_gone():
    """No shims: the flat modules of the old layout must not import."""
    import importlib
    for old in ("models", "losses", "data", "train", "checks", "regrade", "playground",
                "processes", "official", "evaluate", "datasets_cli", "gpu_check_steps"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"p2p_ref.{old}")
