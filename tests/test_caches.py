"""The content caches in .qrun/cache/ only accelerate: results equal a cold load, and any
change to an input (spec bytes, a QASM file, a lock) is a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main
from runner.config import Config
from runner.inputs import load_inputs


def test_warm_load_equals_cold_load(project: Path) -> None:
    assert main(["apply"]) == 0
    config = Config.load(str(project))
    cold_dir = project / ".qrun" / "cache"
    for f in cold_dir.glob("*.json"):
        f.unlink()
    cold = load_inputs(config)
    assert (cold_dir / "specs.json").is_file() and (cold_dir / "locks.json").is_file()
    warm = load_inputs(config)
    assert warm.specs == cold.specs and warm.locks == cold.locks
    assert [repr(s) for s in warm.specs] == [repr(s) for s in cold.specs]  # digests use repr


def test_a_changed_qasm_file_is_a_miss(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = Config.load(str(project))
    before = {s.name: s.run_hash for s in load_inputs(config).specs}
    qasm = project / "specs" / "circuits" / "qft4.qasm"
    qasm.write_text(qasm.read_text().replace("x q[2];", "x q[3];"))
    after = {s.name: s.run_hash for s in load_inputs(config).specs}
    assert after["qft4"] != before["qft4"]
    assert {k: v for k, v in after.items() if k != "qft4"} == {
        k: v for k, v in before.items() if k != "qft4"
    }


def test_a_corrupt_cache_is_ignored(project: Path) -> None:
    config = Config.load(str(project))
    expected = load_inputs(config).specs
    (project / ".qrun" / "cache" / "specs.json").write_text("{not json")
    assert load_inputs(config).specs == expected


def test_an_invalid_edit_is_still_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config.load(str(project))
    load_inputs(config)  # warm the cache
    spec = project / "specs" / "bell.toml"
    spec.write_text(spec.read_text().replace("shots = 4096", "shots = 0"))
    inputs = load_inputs(config)
    assert "bell" in inputs.invalid and "shots" in inputs.invalid["bell"]


def test_entries_without_a_json_form_are_left_out_when_saved(tmp_path: Path) -> None:
    import datetime

    from runner.content_cache import ContentCache

    path = tmp_path / "cache.json"
    cache = ContentCache(path, "env")
    cache.put("plain", {"shots": 1000})
    cache.put("dated", {"when": datetime.date(2026, 12, 1)})  # a TOML date in a spec
    cache.save()
    again = ContentCache(path, "env")
    assert again.get("plain") == {"shots": 1000} and again.get("dated") is None


def test_on_ci_no_cache_is_read_or_written(project: Path) -> None:
    """A CI checkout is fresh: writing a cache there is time spent for nothing, and a cache
    in it came with the repository (a pull request can commit one), so it is not trusted: a
    forged entry would stand in for the spec file as validated."""
    import json

    config = Config.load(str(project))
    truth = {s.name: s.execution.shots for s in load_inputs(config).specs}
    cache = project / ".qrun" / "cache" / "specs.json"
    doc = json.loads(cache.read_text())
    for entry in doc["entries"].values():
        entry["execution"]["shots"] = 7  # what a forged cache would claim the specs say
    cache.write_text(json.dumps(doc))
    assert {s.execution.shots for s in load_inputs(config).specs} == {7}  # trusted off CI

    on_ci = Config.load(str(project), {**config.environ, "CI": "true"})
    for path in cache.parent.glob("*.json"):
        path.unlink()
    assert {s.name: s.execution.shots for s in load_inputs(on_ci).specs} == truth
    assert not list(cache.parent.glob("*.json"))  # nothing written
    cache.write_text(json.dumps(doc))
    assert {s.name: s.execution.shots for s in load_inputs(on_ci).specs} == truth  # not read
