"""Hostile input is a clear error naming the file, never a crash, a memory blow-up or a
second paid run: over-deep TOML (specs in tests/data/specs/invalid/, locks here), specs,
locks and reports/ linking out of the repository, and locks that lie about their name."""

from __future__ import annotations

import shutil
import tomllib
import tracemalloc
from pathlib import Path

import pytest

from runner.cli import main
from runner.errors import SpecError
from runner.spec.loader import parse_toml
from tests.test_crash_recovery import TINY

DATA = Path(__file__).resolve().parent / "data"
LOCKS = sorted((DATA / "locks" / "invalid").glob("*.lock.toml"))


def header(path: Path, directive: str) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    prefix = f"# {directive}: "
    return [ln.removeprefix(prefix) for ln in lines if ln.startswith(prefix)]


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with one small noiseless spec; cwd set to it, the clock pinned."""
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "tiny.toml").write_text(TINY.format(name="tiny"))
    monkeypatch.chdir(root)
    for var in ("CI", "GITHUB_ACTIONS", "IBM_QUANTUM_TOKEN", "COS_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QRUN_NOW", "2026-01-05T00:00:00Z")
    return root


def test_a_dotted_header_20000_keys_deep_stays_small_in_memory() -> None:
    text = (DATA / "specs" / "invalid" / "deep-dotted-header.toml").read_text()
    assert len(text) < 45_000 and text.count(".") > 20_000
    tracemalloc.start()
    try:
        with pytest.raises(SpecError) as caught:
            parse_toml(text, "specs/deep-dotted-header.toml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "nested more than 32 levels deep" in str(caught.value)
    # linear: a few hundred bytes per key (tomllib's own nested dicts), not a path per prefix
    assert peak < 2_000 * len(text), f"peak {peak / 1e6:.1f} MB for {len(text)} bytes"


@pytest.mark.parametrize("fixture", LOCKS, ids=[p.name.removesuffix(".lock.toml") for p in LOCKS])
def test_an_invalid_lock_is_an_error_naming_it(
    fixture: Path, tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = fixture.name.removesuffix(".lock.toml")
    (tiny / "specs" / f"{name}.toml").write_text(TINY.format(name=name))
    target = tiny / "specs" / fixture.name
    if header(fixture, "symlink-self"):
        outside = tiny.parent / "outside" / fixture.name
        outside.parent.mkdir()
        shutil.copy(fixture, outside)
        target.symlink_to(outside)
    else:
        shutil.copy(fixture, target)
    for command in (["plan"], ["apply"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        for expected in header(fixture, "expect"):
            position, _, message = expected.partition(" ")
            assert f"specs/{fixture.name}:{position}: {message}" in err, err
    assert not (tiny / "specs" / "tiny.lock.toml").exists()  # nothing was run


def test_renaming_a_spec_and_its_lock_does_not_run_it_again(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply"]) == 0
    specs = tiny / "specs"
    (run,) = tomllib.loads((specs / "tiny.lock.toml").read_text())["runs"]
    (specs / "tiny.toml").unlink()
    (specs / "renamed.toml").write_text(TINY.format(name="renamed"))
    (specs / "tiny.lock.toml").rename(specs / "renamed.lock.toml")
    capsys.readouterr()
    assert main(["apply"]) == 1
    err = capsys.readouterr().err
    assert "specs/renamed.lock.toml:" in err
    assert 'set name = "renamed" here' in err
    lock = specs / "renamed.lock.toml"
    assert [r["id"] for r in tomllib.loads(lock.read_text())["runs"]] == [run["id"]]
    # following the message: the runs are kept and the run is not submitted again
    lock.write_text(lock.read_text().replace('name = "tiny"', 'name = "renamed"'))
    assert main(["apply"]) == 0
    runs = tomllib.loads(lock.read_text())["runs"]
    assert [(r["id"], r["run_hash"]) for r in runs] == [(run["id"], run["run_hash"])]


def test_a_reports_directory_linking_out_is_refused(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tiny.parent / "elsewhere"
    outside.mkdir()
    (tiny / "reports").symlink_to(outside)
    assert main(["apply"]) == 2
    assert "links outside the repository" in capsys.readouterr().err
    assert list(outside.iterdir()) == []
    assert not (tiny / "specs" / "tiny.lock.toml").exists()


def test_a_reports_link_inside_the_repository_is_fine(tiny: Path) -> None:
    (tiny / "pages").mkdir()
    (tiny / "reports").symlink_to(tiny / "pages")
    assert main(["apply"]) == 0
    assert (tiny / "pages" / "README.md").exists()
