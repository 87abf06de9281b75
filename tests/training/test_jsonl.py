"""p2p_ref.training.jsonl: the run's JSON-lines logs, and how a resumed run drops what came after
its checkpoint."""

import json

from p2p_ref.training.jsonl import append_jsonl, truncate_jsonl


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_append_writes_one_json_record_per_line(tmp_path):
    log = tmp_path / "losses.jsonl"
    records = [{"step": 1, "loss_D": 0.69}, {"step": 2, "loss_D": 0.5, "note": "a, b"}]
    for record in records:
        append_jsonl(log, record)
    assert _records(log) == records
    assert log.read_text().count("\n") == 2


def test_a_resumed_log_drops_the_records_after_the_checkpoint(tmp_path):
    log = tmp_path / "losses.jsonl"
    for step in range(1, 8):
        append_jsonl(log, {"step": step, "loss": step / 10})
    truncate_jsonl(log, "step", 4)  # the checkpoint was saved after step 4
    assert [r["step"] for r in _records(log)] == [1, 2, 3, 4]
    append_jsonl(log, {"step": 5, "loss": 0.55})  # the resumed run writes step 5 again
    assert [r["step"] for r in _records(log)] == [1, 2, 3, 4, 5]
    assert _records(log)[-1]["loss"] == 0.55


def test_truncate_keeps_records_without_the_key_and_skips_blank_lines(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"epoch": 1, "val_l1": 0.3}\n\n{"note": "resumed"}\n{"epoch": 2, "val_l1": 0.2}\n')
    truncate_jsonl(log, "epoch", 1)
    assert _records(log) == [{"epoch": 1, "val_l1": 0.3}, {"note": "resumed"}]


def test_truncate_of_a_missing_log_creates_nothing(tmp_path):
    log = tmp_path / "metrics.jsonl"
    truncate_jsonl(log, "epoch", 3)
    assert not log.exists()
