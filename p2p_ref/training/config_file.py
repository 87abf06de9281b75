"""A run's settings as a file: `p2p-train --config run.yaml` (or .toml) reads one, and every run
writes the settings it used to OUT/config.yaml (readable without loading a checkpoint, with the
versions of p2p_ref and torch), which `--config` reads back to repeat the run."""

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml


def read_settings(path):
    """The mapping in a YAML (.yaml, .yml) or TOML (.toml) file; FileNotFoundError or ValueError
    naming the file and what was expected."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: no such file; expected a YAML or TOML file of "
                                f"p2p-train settings (e.g. a run's config.yaml)")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text())
        else:
            data = yaml.safe_load(path.read_text())
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        kind = "TOML" if path.suffix.lower() == ".toml" else "YAML"
        raise ValueError(f"--config {path}: cannot read it as {kind}: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"--config {path}: expected a mapping of settings (name: value), found "
                         f"a {type(data).__name__}")
    return data


def package_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown (not installed)"


def config_text(settings, run_info):
    """config.yaml's text: a header, the settings (one per line, in TrainConfig's order), then
    the `run` section (versions, device, fast path), which --config skips."""
    header = ("# The settings of this p2p-train run (the fast path resolved for its device).\n"
              "# p2p-train --config THIS_FILE repeats it; the `run` section is only a record.\n")
    return (header + yaml.safe_dump(dict(settings), sort_keys=False)
            + yaml.safe_dump({"run": dict(run_info)}, sort_keys=False))


def write_config(path, settings, run_info):
    """Write config.yaml (atomically: a temporary file, then a rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(config_text(settings, run_info))
    tmp.replace(path)
    return path


def read_run_info(path):
    """The `run` section of an existing config.yaml ({} when there is none)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data.get("run") or {} if isinstance(data, dict) else {}
