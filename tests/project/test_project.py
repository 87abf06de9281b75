"""The project's setup files stay in step: pyproject.toml, environment.yml, Makefile, CI entry."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement):
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r): r.replace(" ", "") for r in pip_list if not r.startswith("-e")}
    assert listed == wanted, "environment.yml and pyproject.toml disagree: keep their dependency lists equal"
    assert "-e ." in pip_list, "environment.yml must install the p2p_ref package itself"
    assert "python=3.11" in env["dependencies"] and "pip" in env["dependencies"]


def test_console_scripts_point_at_real_functions():
    import importlib
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"p2p-train", "p2p-translate", "p2p-bench", "p2p-data", "p2p-export",
                            "p2p-convert", "p2p-eval", "p2p-student-train"}
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), target


def test_make_targets_and_ci_entry():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "test", "train", "release"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile lacks the `{target}` target"
    assert "python3 -m venv" in makefile.replace("$(PYTHON)", "python3")
    assert 'pip install --quiet -e ".[dev]"' in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "set -e" in ci


def test_readme_puts_the_two_commands_first():
    readme = (ROOT / "README.md").read_text()
    first_code = readme.index("```")
    block = readme[first_code:readme.index("```", first_code + 3)]
    assert "make lab" in block and "make test" in block
