"""Commands that write a file never destroy data: not the database, not an input, not an existing
file without --force, and a failed write leaves no partial file behind."""

from __future__ import annotations

import errno
import json
import os
import pathlib
from pathlib import Path

import pandas as pd
import pytest

from workbench.store import Store

LOOP = "Blue is a colour. Blue is a colour. Blue is a colour. Blue is a colour."


def _run(tmp_path: Path) -> tuple[Path, Path, str]:
    """A database (the one the CLI opens) with a finished run of a suite with no references."""
    sdir = tmp_path / "suite"
    sdir.mkdir()
    (sdir / "data.jsonl").write_text('{"id": "1", "prompt": "Name a colour."}\n'
                                     '{"id": "2", "prompt": "Say hi."}\n')
    (sdir / "suite.yaml").write_text("name: t\ndata: data.jsonl\n")
    db = Path(os.environ["WORKBENCH_DB"])
    s = Store(db)
    items = pd.DataFrame({"item_id": ["1", "2"], "prompt": ["Name a colour.", "Say hi."],
                          "split": ["eval", "eval"], "tags": [[], []]})
    s.upsert_suite("t@1", "t", "custom", str(sdir / "suite.yaml"), "fp",
                   {"name": "t", "data": "data.jsonl"}, items)
    run_id, _ = s.start_run(model_id="m", model_name="m", suite_id="t@1", config_key="k",
                            gen_config={}, seed=0)
    s.add_outputs(pd.DataFrame({"output_id": ["a", "b"], "run_id": run_id, "item_id": ["1", "2"],
                                "text": [LOOP, "Hello!"], "finish_reason": ["eos", "eos"]}))
    s.finish_run(run_id, {})
    return db, sdir, run_id


def _error_line(res) -> str:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


class _FullDisk:
    """A file whose second write writes half its text and then fails with ENOSPC."""

    def __init__(self, fh):
        self.fh, self.writes = fh, 0

    def write(self, s):
        self.writes += 1
        if self.writes > 1 or len(s) > 40:
            self.fh.write(s[: len(s) // 2])
            self.fh.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.fh.write(s)

    def close(self):
        self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def _fill_disk(monkeypatch):
    real = pathlib.Path.open

    def open_(self, mode="r", *a, **k):
        fh = real(self, mode, *a, **k)
        return _FullDisk(fh) if "w" in mode else fh

    monkeypatch.setattr(pathlib.Path, "open", open_)


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".part"))


# -- export ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_onto_the_database_is_refused_and_the_database_intact(tmp_path, cli, fmt):
    db, _, run_id = _run(tmp_path)
    before = db.read_bytes()
    line = _error_line(cli("export", "latest", "--db", db, "--out", db, "--format", fmt, "--force"))
    assert "the database" in line
    assert db.read_bytes() == before and Store(db).resolve_run("latest") == run_id
    # a hard link to the database is the database too
    link = tmp_path / "link.duckdb"
    os.link(db, link)
    assert "the database" in _error_line(cli("export", "latest", "--out", link, "--format", fmt))


def test_export_keeps_an_existing_file_unless_forced(tmp_path, cli):
    _run(tmp_path)
    out = tmp_path / "e.jsonl"
    out.write_text("keep me\n")
    assert "--force" in _error_line(cli("export", "latest", "--out", out))
    assert out.read_text() == "keep me\n"
    assert cli("export", "latest", "--out", out, "--force").exit_code == 0
    assert [json.loads(x)["item_id"] for x in out.read_text().splitlines()] == ["1", "2"]
    assert _leftovers(tmp_path) == []


def test_export_parquet_of_a_run_without_references(tmp_path, cli):
    _run(tmp_path)
    out = tmp_path / "e.parquet"
    res = cli("export", "latest", "--format", "parquet", "--out", out)
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert list(df.item_id) == ["1", "2"] and [json.loads(m) for m in df.metrics] == [{}, {}]


def test_export_disk_full_leaves_the_old_file_and_no_partial_one(tmp_path, cli, monkeypatch):
    _run(tmp_path)
    out = tmp_path / "e.jsonl"
    out.write_text("old\n")
    _fill_disk(monkeypatch)
    line = _error_line(cli("export", "latest", "--out", out, "--force"))
    assert "No space left" in line and str(out) in line
    assert out.read_text() == "old\n" and _leftovers(tmp_path) == []
    new = tmp_path / "new.jsonl"
    _error_line(cli("export", "latest", "--out", new))
    assert not new.exists() and _leftovers(tmp_path) == []


def test_parquet_write_failure_leaves_nothing(tmp_path, cli, monkeypatch):
    import pyarrow.parquet as pq

    _run(tmp_path)
    real = pq.ParquetWriter.write_table

    def broken(self, table, *a, **k):  # a row group reaches the file, then the disk is full
        real(self, table, *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", broken)
    out = tmp_path / "e.parquet"
    assert "No space left" in _error_line(cli("export", "latest", "-f", "parquet", "--out", out))
    assert not out.exists() and _leftovers(tmp_path) == []
    out.write_bytes(b"old")
    _error_line(cli("export", "latest", "-f", "parquet", "--out", out, "--force"))
    assert out.read_bytes() == b"old" and _leftovers(tmp_path) == []


# -- check ----------------------------------------------------------------------------------------
def _records(path: Path, n: int = 3) -> Path:
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": "Name a colour.",
                                        "output": LOOP}) + "\n" for i in range(n)))
    return path


def test_check_out_onto_its_input_is_refused_and_the_input_intact(tmp_path, cli):
    rec = _records(tmp_path / "r.jsonl")
    before = rec.read_text()
    for out in (rec, tmp_path / "." / "r.jsonl"):
        assert "the input" in _error_line(cli("check", rec, "--out", out, "--force"))
        assert rec.read_text() == before


def test_check_out_keeps_an_existing_file_unless_forced(tmp_path, cli):
    rec = _records(tmp_path / "r.jsonl")
    out = tmp_path / "f.jsonl"
    out.write_text("keep me\n")
    assert "--force" in _error_line(cli("check", rec, "--out", out))
    assert out.read_text() == "keep me\n"
    res = cli("check", rec, "--out", out, "--force", "--checks", "repetition")
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r["id"] for r in rows} == {"q0", "q1", "q2"}


def test_check_disk_full_leaves_the_old_file_and_no_partial_one(tmp_path, cli, monkeypatch):
    rec = _records(tmp_path / "r.jsonl", n=600)  # two batches: the second write fails
    out = tmp_path / "f.jsonl"
    out.write_text("old\n")
    _fill_disk(monkeypatch)
    line = _error_line(cli("check", rec, "--out", out, "--force", "--all-scores"))
    assert "No space left" in line
    assert out.read_text() == "old\n" and _leftovers(tmp_path) == []


# -- suggest --------------------------------------------------------------------------------------
def test_suggest_out_never_overwrites_the_suite_or_an_existing_file(tmp_path, cli):
    db, sdir, _ = _run(tmp_path)
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"instruction": "Name a fruit.", "output": "Apple."}\n')
    files = {p: p.read_bytes() for p in (sdir / "data.jsonl", sdir / "suite.yaml", pool, db)}
    for target in files:
        line = _error_line(cli("suggest", "latest", "--pool", pool, "--out", target, "--force"))
        assert "refusing to write" in line
    assert {p: p.read_bytes() for p in files} == files
    out = tmp_path / "s.jsonl"
    out.write_text("keep me\n")
    assert "--force" in _error_line(cli("suggest", "latest", "--pool", pool, "--out", out))
    assert out.read_text() == "keep me\n"
    res = cli("suggest", "latest", "--pool", pool, "--out", out, "--force")
    assert res.exit_code == 0, res.output
    assert out.read_text() == "" and _leftovers(tmp_path) == []  # no failures: nothing suggested
