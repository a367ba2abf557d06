"""The reusable workflows, adopted the way the README says: a scratch repository gets the
README's two caller files, which call qrun-plan.yml / qrun-apply.yml with `uses:`; the
whole workflow (plan job, matrix of shards, dashboard job) runs with the local workflow
runner against a bare origin, each job in a fresh clone as a hosted runner would be."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

import runner
from runner.shard import shard_of
from tests.test_shards import TINY  # one tiny local spec for every scale test
from tests.test_workflows import (
    REPO,
    ROOT,
    TOKEN,
    WORKFLOWS,
    base_env,
    gh_calls,
    git,
    new_clone,
    pull_request_event,
    push_event,
    repository,
    skip_install,
    tool,
    triggers,
)
from tests.test_workflows import bin_dir as bin_dir  # the fake gh and the qrun shim
from tests.workflow_runner import WorkflowRun, run_workflow

NAMES = [f"exp-{i:02d}" for i in range(12)]  # 12 specs with work: the default is 2 shards
CALL = re.compile(r"uses: [\w-]+/qrun/\.github/workflows/(qrun-\w+)\.yml@.*")


def readme_callers() -> dict[str, str]:
    """The caller workflows of the README's adoption section, by the path their first line names."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Adopting qrun in a repository", 1)[1].split("\n## ", 1)[0]
    found = {}
    for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL):
        body = "\n".join(line.removeprefix("   ") for line in block.splitlines()) + "\n"
        first = body.splitlines()[0]
        if first.startswith("# .github/workflows/"):
            found[first[2:]] = body
    return found


def test_the_reusable_workflows_are_called_and_pinned() -> None:
    for name in ("qrun-plan.yml", "qrun-apply.yml"):
        doc = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
        call = triggers(doc)["workflow_call"]
        assert call["inputs"]["qrun_package"]["default"] == f"qrun=={runner.__version__}"
        assert call["inputs"]["python_version"]["type"] == "string"
        installs = [
            s["run"]
            for job in doc["jobs"].values()
            for s in job["steps"]
            if "pip install" in s.get("run", "")
        ]
        assert installs and all(r == 'python -m pip install "${QRUN_PACKAGE}"' for r in installs)
    apply = triggers(yaml.safe_load((WORKFLOWS / "qrun-apply.yml").read_text()))["workflow_call"]
    assert {"shards", "only", "dry_run"} <= set(apply["inputs"])
    assert not any(s.get("required") for s in apply["secrets"].values())
    callers = readme_callers()
    assert set(callers) == {".github/workflows/qrun-plan.yml", ".github/workflows/qrun-apply.yml"}
    on = triggers(yaml.safe_load(callers[".github/workflows/qrun-apply.yml"]))
    assert {"push", "schedule", "workflow_dispatch", "repository_dispatch"} <= set(on)
    for body in callers.values():
        assert CALL.search(body) and "secrets: inherit" not in body


@pytest.fixture
def scratch(tmp_path: Path) -> tuple[Path, Path]:
    """A scratch adopter: specs, .gitignore and the README's caller workflows, which call the
    reusable workflows (copied beside them as lib-*.yml, so actionlint checks the call)."""
    bare = tmp_path / "adopter.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    work = tmp_path / "adopter"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    git(work, "config", "user.name", "Test Person")
    git(work, "config", "user.email", "person@example.test")
    (work / "specs").mkdir()
    for name in NAMES:
        (work / "specs" / f"{name}.toml").write_text(TINY.format(name=name))
    (work / ".gitignore").write_text(".qrun/\n")
    flows = work / ".github" / "workflows"
    flows.mkdir(parents=True)
    for path, body in readme_callers().items():
        (work / path).write_text(CALL.sub(r"uses: ./.github/workflows/lib-\1.yml", body))
    for name in ("qrun-plan.yml", "qrun-apply.yml"):
        shutil.copy(WORKFLOWS / name, flows / f"lib-{name}")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "Adopt qrun")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "--quiet", "origin", "main")
    return bare, work


def test_actionlint_accepts_the_readme_callers(scratch: tuple[Path, Path]) -> None:
    _bare, work = scratch
    flows = sorted((work / ".github" / "workflows").glob("*.yml"))
    done = subprocess.run([tool("actionlint"), *map(str, flows)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def run_caller(
    tmp_path: Path, bin_dir: Path, scratch: tuple[Path, Path], caller: str, **event: Any
) -> WorkflowRun:
    bare, work = scratch
    count = iter(range(100))
    return run_workflow(
        work / ".github" / "workflows" / caller,
        event_name=event.pop("event_name"),
        event=event.pop("event"),
        context={"github": {"token": TOKEN}, "inputs": event.pop("inputs", {}), "vars": {}},
        base_env=base_env(tmp_path, bin_dir),
        temp=tmp_path / f"temp-{caller}",
        checkout=lambda job: new_clone(bare, tmp_path / f"runner-{next(count)}"),
        resolve=lambda uses: work / uses,
        skip=skip_install,
    )


def origin_head(bare: Path) -> str:
    return git(bare, "rev-parse", "main")


def test_merge_runs_plan_matrix_and_dashboard(
    tmp_path: Path, bin_dir: Path, scratch: tuple[Path, Path]
) -> None:
    bare, _work = scratch
    head = origin_head(bare)
    run = run_caller(
        tmp_path, bin_dir, scratch, "qrun-apply.yml",
        event_name="push", event=push_event(head, head),
    )  # fmt: skip
    assert run.ok, run.log
    owned = {k: " ".join(n for n in NAMES if shard_of(n, 2) == k) for k in (1, 2)}
    assert all(owned.values())  # both shards have work
    assert list(run.jobs) == [
        "apply/plan",
        *(f"apply/apply[shard={k}/2,specs={names}]" for k, names in owned.items()),
        "apply/dashboard",
    ]
    for job in run.jobs.values():
        install = next(s for s in job.steps if s.name == "Install qrun")
        assert install.skipped  # the test's qrun stands in for the pinned release
    for name in NAMES:
        lock = tomllib.loads(git(bare, "show", f"main:specs/{name}.lock.toml"))
        assert [r["status"] for r in lock["runs"]] == ["completed"], name
        assert f"[{name}]" in git(bare, "show", "main:reports/README.md")
    first = run.jobs[f"apply/apply[shard=1/2,specs={owned[1]}]"]
    assert "### qrun apply, shard 1/2" in first.summary
    assert all(re.search(rf"\b{n}\b", first.summary) for n in owned[1].split())
    assert not any(re.search(rf"\b{n}\b", first.summary) for n in owned[2].split())
    assert TOKEN not in run.log


def test_repository_dispatch_dry_run_plans_only_the_named_spec(
    tmp_path: Path, bin_dir: Path, scratch: tuple[Path, Path]
) -> None:
    bare, _work = scratch
    head = origin_head(bare)
    event = {
        "action": "qrun-apply",
        "client_payload": {"only": NAMES[3], "dry_run": True},
        "repository": repository(),
        "sender": {"login": "calibration-bot"},
    }
    run = run_caller(
        tmp_path, bin_dir, scratch, "qrun-apply.yml",
        event_name="repository_dispatch", event=event,
    )  # fmt: skip
    assert run.ok, run.log
    assert list(run.jobs) == ["apply/plan"]
    assert run.skipped == ["apply/apply", "apply/dashboard"]
    summary = run.jobs["apply/plan"].summary
    assert NAMES[3] in summary and NAMES[4] not in summary
    assert origin_head(bare) == head


def test_pull_request_gets_the_plan_comment(
    tmp_path: Path, bin_dir: Path, scratch: tuple[Path, Path]
) -> None:
    bare, work = scratch
    base = origin_head(bare)
    git(work, "checkout", "--quiet", "-b", "more")
    (work / "specs" / "extra.toml").write_text(TINY.format(name="extra"))
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "Add extra")
    git(work, "push", "--quiet", "origin", "more")
    (tmp_path / "gh-comments.json").write_text("[]")
    count = iter(range(100))

    def pr_checkout(job: str) -> Path:
        dest = new_clone(bare, tmp_path / f"pr-{next(count)}")
        git(dest, "checkout", "--quiet", "--detach", "origin/main")
        git(dest, "merge", "--quiet", "--no-ff", "-m", "Merge more", "origin/more")
        return dest

    run = run_workflow(
        work / ".github" / "workflows" / "qrun-plan.yml",
        event_name="pull_request",
        event=pull_request_event(5, base, git(work, "rev-parse", "HEAD")),
        context={"github": {"token": TOKEN}},
        base_env=base_env(tmp_path, bin_dir),
        temp=tmp_path / "temp-plan",
        checkout=pr_checkout,
        resolve=lambda uses: work / uses,
        skip=skip_install,
    )
    assert run.ok, run.log
    posted = [c for c in gh_calls(tmp_path) if c["method"] == "POST"]
    assert [c["endpoint"] for c in posted] == [f"repos/{REPO}/issues/5/comments"]
    assert "extra" in posted[0]["fields"]["body"]
    assert json.dumps(TOKEN) not in run.log
