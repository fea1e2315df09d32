"""Run registry on a real SQLite file: record, list, show, resolve ids, compare, stored document."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from trading_playbook.core.metrics import compute_metrics
from trading_playbook.history import (
    RegistryError,
    compare_runs,
    get_run,
    git_commit,
    list_runs,
    load_document,
    pack_written_document,
    record_run,
    registry_path,
)
from trading_playbook.reports import write_run
from trading_playbook.reports.json_result import config_hash, dumps_canonical
from trading_playbook.reports.samples import hand_worked_run, random_run


def _run(run):
    return dataclasses.replace(run, metrics=compute_metrics(run), timings={"simulate": 0.25})


def test_registry_path_honours_playbook_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    assert registry_path() == tmp_path / "home" / "runs.sqlite"
    assert registry_path(tmp_path) == tmp_path / "runs.sqlite"
    monkeypatch.delenv("PLAYBOOK_HOME")
    assert registry_path().name == "runs.sqlite" and "trading-playbook" in str(registry_path())


def test_record_list_show_and_stored_document(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    run = _run(hand_worked_run())
    out = tmp_path / "out"
    write_run(run, out, formats=("json",), created_at="2021-02-01T10:11:12Z")
    run_id = record_run(run, out, db_path=db)
    assert run_id.startswith("20210201-101112-") and len(run_id) == 22
    records = list_runs(db_path=db)
    assert [r.run_id for r in records] == [run_id]
    rec = get_run(run_id, db_path=db)
    assert rec.config == run.config and rec.config_hash == config_hash(run.config)
    assert rec.data_fingerprint == "hand" and rec.engine == "hand"
    assert rec.timings == {"simulate": 0.25}
    assert rec.metrics["total_return"] == pytest.approx(0.21)
    assert rec.package_version and rec.out_dir == str(out.resolve())
    assert rec.git_commit is None or len(rec.git_commit) == 40
    # the stored document is the result.json, byte for byte once serialised again
    assert dumps_canonical(load_document(run_id, db_path=db)) == (out / "result.json").read_text()
    # ids resolve from a prefix or from the random suffix
    assert get_run(run_id[-6:], db_path=db).run_id == run_id
    assert get_run(run_id[:12], db_path=db).run_id == run_id


def test_a_document_packed_ahead_is_stored_as_the_file_itself(tmp_path: Path) -> None:
    # `playbook backtest` compresses result.json on a thread while it writes the other reports; the
    # registry then holds the same document as when record_run reads the file itself
    db = tmp_path / "runs.sqlite"
    run = _run(random_run(seed=4, n_trades=40))
    out = tmp_path / "out"
    write_run(run, out, formats=("json",), created_at="2021-03-04T05:06:07Z")
    packed = pack_written_document(out)
    assert packed is not None and packed.created_at == "2021-03-04T05:06:07Z"
    ahead = record_run(run, out, db_path=db, packed=packed)
    itself = record_run(run, out, db_path=db)
    text = (out / "result.json").read_text()
    assert dumps_canonical(load_document(ahead, db_path=db)) == text
    assert load_document(ahead, db_path=db) == load_document(itself, db_path=db)
    assert get_run(ahead, db_path=db).metrics == get_run(itself, db_path=db).metrics
    assert ahead.startswith("20210304-050607-")
    assert pack_written_document(tmp_path / "nowhere") is None


def test_record_without_out_dir_builds_the_document(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    run_id = record_run(_run(hand_worked_run()), db_path=db)
    doc = load_document(run_id, db_path=db)
    assert doc["metrics"]["trades"] == 3 and len(doc["equity"]) == 5
    assert get_run(run_id, db_path=db).out_dir is None


def test_unknown_and_ambiguous_ids_are_clear_errors(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    a = record_run(_run(hand_worked_run()), db_path=db)
    b = record_run(_run(random_run(n_sessions=60, n_trades=5)), db_path=db)
    with pytest.raises(RegistryError, match="no recorded run 'zzz'"):
        get_run("zzz", db_path=db)
    common = a[:8]
    assert b.startswith(common)
    with pytest.raises(RegistryError, match="ambiguous"):
        get_run(common, db_path=db)
    with pytest.raises(RegistryError, match="no recorded run"):
        get_run("%", db_path=db)  # LIKE wildcards are literal


def test_compare_runs_side_by_side(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    a = record_run(_run(hand_worked_run()), db_path=db)
    b = record_run(_run(random_run(n_sessions=300, n_trades=40)), db_path=db)
    records, rows = compare_runs([a, b], db_path=db)
    assert [r.run_id for r in records] == [a, b]
    table = dict(rows)
    assert table["trades"] == [3, 40]
    assert table["sample_size_status"] == ["INSUFFICIENT", "PRELIMINARY"]
    assert table["total_return"][0] == pytest.approx(0.21)


def test_corrupt_registry_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RegistryError, match="move it aside"):
        list_runs(db_path=db)


def test_git_commit_never_fails(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None  # not a repository
    assert git_commit(tmp_path / "missing") is None  # not even a folder


def test_schema_is_plain_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    record_run(_run(hand_worked_run()), db_path=db)
    with sqlite3.connect(db) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    assert {"run_id", "created_at", "config_json", "config_hash", "data_fingerprint", "package_version",
            "git_commit", "metrics_json", "result_json_z"} <= set(cols)  # fmt: skip
