"""JSON-lines logs: losses.jsonl holds one record per step, metrics.jsonl one per epoch.

A resumed run first drops the records written after the checkpoint it continues
(`truncate_jsonl`), so each file reads as if the run had never stopped.
"""

import json


def append_jsonl(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def truncate_jsonl(path, key, last):
    """Drop the records with record[key] > last (written after the checkpoint we resume from)."""
    if not path.is_file():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    keep = [ln for ln in lines if json.loads(ln).get(key, -1) <= last]
    path.write_text("".join(ln + "\n" for ln in keep))
