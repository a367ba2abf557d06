"""`qrun store verify` and `qrun pull` on the local store (and a pull from COS over moto)."""

from __future__ import annotations

import hashlib
import json
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from tests.s3_fixtures import S3Setup

STORE = Path(".qrun/store")


def runs(root: Path, name: str) -> list[dict[str, Any]]:
    return tomllib.loads((root / "specs" / f"{name}.lock.toml").read_text())["runs"]


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def bell(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The project with one completed run of bell in the local store."""
    assert main(["apply", "--only", "bell"]) == 0
    capsys.readouterr()
    return project


def second_run(project: Path) -> None:
    spec = project / "specs" / "bell.toml"
    spec.write_text(spec.read_text().replace("shots = 4096", "shots = 1024"))
    assert main(["apply", "--only", "bell"]) == 0


# store verify


def test_verify_clean_store(bell: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "verify"]) == 0
    out = capsys.readouterr().out
    assert "against the local store at" in out
    assert "3 objects verified, 0 missing, 0 corrupted" in out
    assert main(["store", "verify", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == 1 and doc["command"] == "store verify" and doc["ok"] is True
    assert doc["data"] == {
        "store": "local",
        "verified": 3,
        "missing": 0,
        "corrupted": 0,
        "problems": [],
    }


def test_verify_without_locks(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "verify"]) == 0
    assert "0 objects verified, 0 missing, 0 corrupted" in capsys.readouterr().out


def test_verify_reports_each_problem_once(bell: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second_run(bell)
    first, latest = runs(bell, "bell")
    gone = next(o for o in first["objects"] if o["key"].endswith("/request.json"))
    damaged = next(o for o in latest["objects"] if o["key"].endswith("/analysis.json"))
    (bell / STORE / "results" / gone["key"]).unlink()
    (bell / STORE / "results" / damaged["key"]).write_bytes(b"{}\n")
    actual = hashlib.sha256(b"{}\n").hexdigest()
    capsys.readouterr()
    assert main(["--quiet", "store", "verify"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"bell run {first['id']}: results/{gone['key']}: missing "
        f"(expected sha256 {gone['sha256']})",
        f"bell run {latest['id']}: results/{damaged['key']}: corrupted: expected sha256 "
        f"{damaged['sha256']}, actual {actual}",
    ]
    assert main(["store", "verify"]) == 1
    out = capsys.readouterr().out
    assert "6 objects verified, 1 missing, 1 corrupted" in out
    assert "set COS_ENDPOINT" in out  # a local store only has this machine's results


# pull


def test_pull_latest_completed_run(bell: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second_run(bell)
    capsys.readouterr()
    latest = runs(bell, "bell")[-1]
    assert main(["pull", "bell"]) == 0
    out = capsys.readouterr().out
    dest = bell / ".qrun/pull" / "bell" / latest["id"]
    pulled = tree(dest)
    assert len(pulled) == len(latest["objects"]) == 3
    for obj in latest["objects"]:
        name = obj["key"].rsplit("/", 1)[1]
        assert pulled[name] == (bell / STORE / "results" / obj["key"]).read_bytes()
        assert hashlib.sha256(pulled[name]).hexdigest() == obj["sha256"]
        assert f"wrote .qrun/pull/bell/{latest['id']}/{name} ({obj['size']} bytes" in out
    assert f"Pulled 3 objects of bell run {latest['id']} (completed)" in out
    assert main(["pull", "bell"]) == 0  # again: nothing to write
    assert capsys.readouterr().out.count("unchanged ") == 3
    assert tree(dest) == pulled


def test_pull_named_run_by_prefix_to_dest(bell: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second_run(bell)
    first = runs(bell, "bell")[0]
    assert main(["pull", "bell", "0001", "--dest", "out/first"]) == 0
    pulled = tree(bell / "out" / "first")
    assert sorted(pulled) == sorted(o["key"].rsplit("/", 1)[1] for o in first["objects"])
    analysis = json.loads(pulled["analysis.json"])
    assert analysis["run_id"] == first["id"] and analysis["shots"] == 4096


def test_pull_refuses_a_tracked_dest_inside_the_repository(
    bell: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import git

    git(bell, "init")
    (bell / ".gitignore").write_text(".qrun/\nscratch/\n")
    assert main(["pull", "bell", "--dest", "results-here"]) == 2
    assert "not ignored by git" in capsys.readouterr().err
    assert not (bell / "results-here").exists()
    assert main(["pull", "bell", "--dest", "scratch/bell"]) == 0  # ignored: fine
    assert main(["pull", "bell"]) == 0  # default: .qrun/pull, ignored
    assert (bell / ".qrun/pull/bell").is_dir()


def test_pull_errors_name_what_exists(bell: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second_run(bell)
    ids = [r["id"] for r in runs(bell, "bell")]
    capsys.readouterr()
    assert main(["pull", "bel"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'bel'. Experiments with runs: bell." in err
    assert "Did you mean 'bell'?" in err
    assert main(["pull", "bell", "0007-deadbeef"]) == 2
    err = capsys.readouterr().err
    assert "'0007-deadbeef' is not a run of bell" in err
    assert f"its runs: {ids[1]} (completed), {ids[0]} (completed)" in err
    assert main(["pull", "bell", "000"]) == 2
    assert "'000' is ambiguous" in capsys.readouterr().err
    assert main(["pull", "qft4"]) == 1
    assert "qft4 has no runs yet" in capsys.readouterr().err
    assert not (bell / ".qrun/pull").exists()


def test_pull_refuses_a_damaged_object_and_writes_nothing(
    bell: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run,) = runs(bell, "bell")
    job = next(o for o in run["objects"] if "/job_" in o["key"])
    (bell / STORE / "results" / job["key"]).write_bytes(b"[]")
    assert main(["pull", "bell"]) == 1
    err = capsys.readouterr().err
    assert f"checksum mismatch for results/{job['key']}: expected sha256 {job['sha256']}" in err
    assert not (bell / ".qrun/pull").exists()


def test_local_store_pages_give_the_pull_command_not_a_dead_link(
    bell: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run,) = runs(bell, "bell")
    page = (bell / "reports" / "bell.md").read_text()
    assert ".qrun/" not in page  # gitignored: a link into it is dead on GitHub
    command = f"qrun pull bell {run['id']}"
    assert page.count(f"`{command}`") == 1  # once per page
    capsys.readouterr()
    assert main(command.split()[1:]) == 0  # the command given works
    assert "checksums verified" in capsys.readouterr().out


def test_pull_from_cos(
    project: Path,
    moto_s3: S3Setup,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    suffix = uuid.uuid4().hex[:10]
    buckets = {b: f"qp-{b}-{suffix}" for b in ("experiments", "results", "circuits")}
    for name in buckets.values():
        moto_s3.client().create_bucket(Bucket=name)
    env = moto_s3.env(**{f"COS_BUCKET_{b.upper()}": n for b, n in buckets.items()})
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert main(["apply", "--only", "ghz-sweep"]) == 0
    assert main(["store", "verify"]) == 0
    (run,) = runs(project, "ghz-sweep")
    assert main(["pull", "ghz-sweep", "--dest", "pulled"]) == 0
    pulled = tree(project / "pulled")
    assert len(pulled) == len(run["objects"]) == 3
    for obj in run["objects"]:
        stored = moto_s3.client().get_object(Bucket=buckets["results"], Key=obj["key"])
        assert pulled[obj["key"].rsplit("/", 1)[1]] == stored["Body"].read()
    assert not (project / STORE).exists()
    assert "objects verified, 0 missing, 0 corrupted" in capsys.readouterr().out
