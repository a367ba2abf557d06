"""Results back to the pull request: applies after a merge comment on the merged PR (found
through a local HTTP stand-in for the GitHub API), one comment, updated as more runs finish."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import main
from runner.pr_results import RESULTS_MARKER
from tests.conftest import git
from tests.github_standin import GitHubStandIn, serve

TINY = """name = "{name}"
[backend]
target = "local:aer"
[execution]
shots = 200
[[circuits]]
name = "bell"
template = "bell"
"""
TOKEN = "ghs_standintoken111111111111111111111"


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    yield from serve()


def test_merged_pr_gets_one_results_comment_updated_as_runs_finish(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, github: GitHubStandIn,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for p in (project / "specs").glob("*.toml"):
        p.unlink()
    for name in ("alpha", "beta"):
        (project / "specs" / f"{name}.toml").write_text(TINY.format(name=name))
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--bare", "--initial-branch=main", str(bare))
    git(project, "init", "--initial-branch=main")
    (project / ".gitignore").write_text(".qrun/\n")
    git(project, "add", "-A")
    git(project, "commit", "-m", "Add alpha and beta (#7)")
    git(project, "remote", "add", "origin", str(bare))
    git(project, "push", "-u", "origin", "main")
    sha = git(project, "rev-parse", "HEAD")
    github.routes[("GET", f"/repos/octo/lab/commits/{sha}/pulls")] = [
        {"number": 7, "merged_at": "2026-11-30T10:00:00Z", "labels": []}
    ]
    github.routes[("GET", "/repos/octo/lab/pulls/7/commits")] = [{"sha": sha}]
    env = {"GITHUB_REPOSITORY": "octo/lab", "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url,
           "GITHUB_EVENT_NAME": "push", "GIT_CONFIG_GLOBAL": os.devnull}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    assert main(["apply", "--push", "--only", "alpha"]) == 0
    (first,) = github.comments[7]
    assert first["body"].rstrip().endswith(RESULTS_MARKER)
    assert first["body"].startswith("qrun results for #7: 1 of 1 run(s) completed")
    assert "beta" not in first["body"]

    assert main(["apply", "--push", "--only", "beta"]) == 0
    (comment,) = github.comments[7]  # edited, not a second comment
    body = comment["body"]
    assert body.startswith("qrun results for #7: 2 of 2 run(s) completed (all finished)")
    for name in ("alpha", "beta"):
        lock = tomllib.loads(git(bare, "show", f"main:specs/{name}.lock.toml"))
        (run,) = lock["runs"]
        head = run["headline"]
        row = next(line for line in body.splitlines() if line.startswith(f"| [{name}]"))
        assert f"(https://github.com/octo/lab/blob/main/reports/{name}.md)" in row
        assert f"{head['value']:.3f} [{head['low']:.3f}, {head['high']:.3f}]" in row
        assert f"`{run['id']}`" in row and "completed" in row
    methods = [r.method for r in github.requests if "/comments" in r.path]
    assert methods.count("POST") == 1 and methods.count("PATCH") == 1
    assert TOKEN not in capsys.readouterr().out


def test_racing_runners_converge_on_one_comment(github: GitHubStandIn) -> None:
    """Two shards that both found no comment and both posted: whichever upserts next keeps
    the oldest of qrun's comments (with its own body) and deletes the other; a person's
    comment and a comment without the marker are left alone."""
    from runner.github_api import GitHub

    api = GitHub(github.url, "octo/lab", TOKEN)
    for body in ("a person", f"shard 1\n{RESULTS_MARKER}", f"shard 2\n{RESULTS_MARKER}"):
        api.call("POST", "issues/7/comments", {"body": body})
    github.comments[7][0]["user"] = {"login": "octocat"}
    kept = api.upsert_comment(7, RESULTS_MARKER, f"shard 2, later\n{RESULTS_MARKER}")
    assert [c["body"].split("\n")[0] for c in github.comments[7]] == ["a person", "shard 2, later"]
    assert kept == github.comments[7][1]["id"] == 1001  # the oldest of qrun's two
    again = api.upsert_comment(7, RESULTS_MARKER, f"final\n{RESULTS_MARKER}")
    assert again == kept and len(github.comments[7]) == 2
    fresh = api.upsert_comment(8, RESULTS_MARKER, f"new\n{RESULTS_MARKER}")
    assert [c["id"] for c in github.comments[8]] == [fresh]
    assert [r.method for r in github.requests[-3:]] == ["GET", "POST", "GET"]  # no extra edit
