"""The GitHub Actions workflows, checked offline: linted (actionlint, zizmor), read as data,
and their `run:` steps executed with GitHub's env files against real git repositories.

GitHub's API is unreachable here, so a fake `gh` on PATH stands in for it: it records each
call and answers the comment listing from a file the test writes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflow_runner import JobRun, evaluate, parse_env_file, run_job, substitute

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
SCRIPTS = Path(sysconfig.get_path("scripts"))
REPO = "octo-org/qrun-lab"
MARKER = "<!-- qrun:plan -->"
TOKEN = "ghs_notarealtokenjustfortests0000000000"

BELL = """\
name = "bell"
description = "Bell pair on the noiseless simulator"

[backend]
target = "local:aer"

[execution]
shots = 1000

[[circuits]]
name = "bell"
template = "bell"
"""

GHZ = """\
name = "ghz"
description = "Three-qubit GHZ state"

[backend]
target = "local:aer"

[execution]
shots = 1000

[[circuits]]
name = "ghz3"
template = "ghz"
params = { num_qubits = 3 }
"""

FAKE_GH = """\
#!{python}
# A stand-in for the GitHub CLI: records each `gh api` call and answers like the REST API.
import json, os, sys

args = sys.argv[1:]
call = {{"args": args, "method": "GET", "endpoint": None, "fields": {{}}}}
i = 1
while i < len(args):
    arg = args[i]
    if arg in ("-X", "--method"):
        call["method"] = args[i + 1]
        i += 1
    elif arg in ("-F", "--field", "-f", "--raw-field"):
        key, _, value = args[i + 1].partition("=")
        if arg in ("-F", "--field") and value.startswith("@"):
            value = sys.stdin.read() if value == "@-" else open(value[1:]).read()
        call["fields"][key] = value
        i += 1
    elif not arg.startswith("-") and call["endpoint"] is None:
        call["endpoint"] = arg
    i += 1
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps(call) + "\\n")
if args[:1] != ["api"] or call["endpoint"] is None:
    sys.exit("fake gh: only `gh api ENDPOINT` is emulated")
if call["method"] == "GET":
    page = json.load(open(os.environ["FAKE_GH_COMMENTS"]))
    print(json.dumps([page] if "--slurp" in args else page))
elif call["method"] in ("POST", "PATCH"):
    print(json.dumps({{"id": 4242, "body": call["fields"].get("body", "")}}))
else:
    sys.exit("fake gh: unexpected method " + call["method"])
"""


def load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    """The `on:` mapping (YAML 1.1 reads the bare key `on` as True)."""
    on = doc.get("on", doc.get(True))
    return on if isinstance(on, dict) else {name: None for name in ([on] if on else [])}


def all_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def tool(name: str) -> str:
    path = SCRIPTS / name
    assert path.exists(), f"{name} is not installed beside {sys.executable} (pip install .[dev])"
    return str(path)


# --- linters -------------------------------------------------------------------------


def test_actionlint_passes_on_every_workflow() -> None:
    assert {p.name for p in WORKFLOW_FILES} >= {"plan.yml", "run.yml", "ci.yml"}
    done = subprocess.run(
        [tool("actionlint"), *map(str, WORKFLOW_FILES)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ nosuchcontext.value }}\n"
    )
    done = subprocess.run([tool("actionlint"), str(bad)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "nosuchcontext" in done.stdout


def zizmor(*paths: Path) -> list[dict[str, Any]]:
    """zizmor's findings of medium severity or above, offline, without local config."""
    done = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 11, 12, 13, 14), done.stderr  # 1x: findings of a severity
    findings = json.loads(done.stdout)
    return [f for f in findings if f["determinations"]["severity"] in ("Medium", "High")]


def test_zizmor_finds_nothing_medium_or_high() -> None:
    found = zizmor(*WORKFLOW_FILES)
    assert found == [], [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in found]


def test_zizmor_flags_a_template_injection(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        '    steps:\n      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    assert "template-injection" in {f["ident"] for f in zizmor(bad)}


# --- static checks ---------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_release_commit(path: Path) -> None:
    lines = [line for line in path.read_text().splitlines() if re.match(r"\s*-?\s*uses:", line)]
    assert lines
    for line in lines:
        assert re.fullmatch(
            r"\s*-?\s*uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line
        ), line


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_expression_in_scripts_and_no_pull_request_target(path: Path) -> None:
    doc = load(path)
    assert "pull_request_target" not in triggers(doc)
    for step in all_steps(doc):
        assert "${{" not in step.get("run", ""), step.get("name")
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_plan_workflow_shape() -> None:
    doc = load(WORKFLOWS / "plan.yml")
    assert set(triggers(doc)) == {"pull_request"}
    assert triggers(doc)["pull_request"]["paths"] == ["specs/**"]
    assert doc["permissions"] == {}
    (job,) = doc["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    checkout = job["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0
    assert not any("secrets." in json.dumps(step) for step in job["steps"])


def test_run_workflow_shape() -> None:
    doc = load(WORKFLOWS / "run.yml")
    on = triggers(doc)
    assert set(on) == {"push", "schedule", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert "specs/**" in on["push"]["paths"]
    minute = on["schedule"][0]["cron"].split()[0]
    assert minute.isdigit() and int(minute) != 0
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["only"]["type"] == "string" and not inputs["only"]["required"]
    assert inputs["dry_run"]["type"] == "boolean"
    assert doc["concurrency"] == {"group": "qrun-apply", "cancel-in-progress": False}
    assert doc["permissions"] == {}
    (job,) = doc["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    apply = next(s for s in job["steps"] if s.get("name") == "Apply")
    for name in ("IBM_QUANTUM_TOKEN", "IBM_QUANTUM_INSTANCE", "COS_API_KEY", "COS_INSTANCE_ID"):
        assert apply["env"][name] == f"${{{{ secrets.{name} }}}}"
    assert apply["env"]["ONLY"] == "${{ inputs.only }}"
    assert "qrun apply --push" in apply["run"]


def test_ci_workflow_runs_the_nox_sessions() -> None:
    doc = load(WORKFLOWS / "ci.yml")
    assert set(triggers(doc)) == {"push", "pull_request"}
    runs = [step.get("run", "") for step in all_steps(doc)]
    assert "nox -s lint tests" in runs


# --- the local runner itself -------------------------------------------------------------


def test_runner_expressions_and_env_files(tmp_path: Path) -> None:
    ctx = {"github": {"repository": "a/b", "event": {"pull_request": {"number": 7}}}}
    status = {"success": True, "failure": False, "always": True, "cancelled": False}
    assert evaluate("!cancelled() && github.repository == 'A/B'", ctx, status) is True
    assert evaluate("github.event.pull_request.number", ctx, status) == 7
    assert evaluate("inputs.only || 'all'", ctx, status) == "all"
    assert substitute("pr-${{ github.event.pull_request.number }}", ctx, status) == "pr-7"
    with pytest.raises(NotImplementedError):
        evaluate("contains(github.repository, 'a')", ctx, status)
    env_file = tmp_path / "env"
    env_file.write_text("A=1=2\nB<<EOF\nline one\nline two\nEOF\n")
    assert parse_env_file(env_file) == {"A": "1=2", "B": "line one\nline two"}


# --- running the workflows against real repositories ------------------------------------


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def new_clone(bare: Path, dest: Path, branch: str = "main") -> Path:
    git(bare.parent, "clone", "--quiet", "--branch", branch, str(bare), str(dest))
    git(dest, "config", "user.name", "Test Person")
    git(dest, "config", "user.email", "person@example.test")
    return dest


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare origin whose main holds specs/bell.toml (and the usual .gitignore)."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    work = tmp_path / "author"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    git(work, "config", "user.name", "Test Person")
    git(work, "config", "user.email", "person@example.test")
    (work / "specs").mkdir()
    (work / "specs" / "bell.toml").write_text(BELL)
    (work / ".gitignore").write_text(".qrun/\n__pycache__/\nbuild/\n*.egg-info/\n")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "Add the bell experiment")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "--quiet", "origin", "main")
    return bare


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """PATH entries: the fake gh, and `qrun` running this checkout's runner package."""
    path = tmp_path / "bin"
    path.mkdir()
    (path / "gh").write_text(FAKE_GH.format(python=sys.executable))
    (path / "qrun").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m runner "$@"\n')
    for script in path.iterdir():
        script.chmod(0o755)
    return path


def base_env(tmp_path: Path, bin_dir: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    keep = ("LANG", "LC_ALL", "TZ", "TMPDIR")
    return {
        **{k: os.environ[k] for k in keep if k in os.environ},
        "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.defpath]),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "FAKE_GH_LOG": str(tmp_path / "gh-calls.jsonl"),
        # nothing listens on the discard port: qrun's own API calls fail fast, on loopback
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "FAKE_GH_COMMENTS": str(tmp_path / "gh-comments.json"),
    }


def repository() -> dict[str, Any]:
    owner, name = REPO.split("/")
    return {"full_name": REPO, "name": name, "owner": {"login": owner}, "default_branch": "main"}


def pull_request_event(
    number: int, base_sha: str, head_sha: str, head_repo: str = REPO
) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "title": "Add a GHZ experiment",
            "state": "open",
            "user": {"login": "alice"},
            "base": {"ref": "main", "sha": base_sha, "repo": repository()},
            "head": {
                "ref": "add-ghz",
                "sha": head_sha,
                "repo": {**repository(), "full_name": head_repo, "fork": head_repo != REPO},
            },
        },
        "repository": repository(),
        "sender": {"login": "alice"},
    }


def push_event(before: str, after: str) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "repository": repository(),
        "pusher": {"name": "alice"},
        "sender": {"login": "alice"},
        "head_commit": {"id": after, "message": "Add the bell experiment"},
    }


def schedule_event() -> dict[str, Any]:
    return {"schedule": "17 */3 * * *", "repository": repository()}


def dispatch_event(only: str, dry_run: bool) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "inputs": {"only": only, "dry_run": str(dry_run).lower()},
        "repository": repository(),
        "sender": {"login": "alice"},
    }


def gh_calls(tmp_path: Path) -> list[dict[str, Any]]:
    log = tmp_path / "gh-calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def skip_install(step: Mapping[str, Any]) -> bool:
    """qrun is already installed for the test; `pip install .` would reach PyPI."""
    return "pip install" in step.get("run", "")


@pytest.fixture
def pr_checkout(origin: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A branch adding specs/ghz.toml, pushed; checked out as the PR's merge commit."""
    author = tmp_path / "author"
    git(author, "checkout", "--quiet", "-b", "add-ghz")
    (author / "specs" / "ghz.toml").write_text(GHZ)
    git(author, "add", "specs/ghz.toml")
    git(author, "commit", "--quiet", "-m", "Add a GHZ experiment")
    git(author, "push", "--quiet", "origin", "add-ghz")
    checkout = new_clone(origin, tmp_path / "pr-checkout")
    git(checkout, "checkout", "--quiet", "--detach", "origin/main")
    git(checkout, "merge", "--quiet", "--no-ff", "-m", "Merge add-ghz into main", "origin/add-ghz")
    event = pull_request_event(
        12, git(checkout, "rev-parse", "origin/main"), git(checkout, "rev-parse", "origin/add-ghz")
    )
    return checkout, event


def run_plan(tmp_path: Path, bin_dir: Path, checkout: Path, event: dict[str, Any]) -> JobRun:
    return run_job(
        WORKFLOWS / "plan.yml",
        "plan",
        workdir=checkout,
        event_name="pull_request",
        event=event,
        context={"github": {"token": TOKEN}},
        base_env=base_env(tmp_path, bin_dir),
        temp=tmp_path / "runner-temp",
        skip=skip_install,
    )


def test_plan_workflow_comments_once_then_updates(
    tmp_path: Path, bin_dir: Path, pr_checkout: tuple[Path, dict[str, Any]]
) -> None:
    checkout, event = pr_checkout
    comments = tmp_path / "gh-comments.json"
    comments.write_text("[]")

    first = run_plan(tmp_path, bin_dir, checkout, event)

    assert first.ok, first.log
    assert [s.name for s in first.steps if s.skipped] == [
        "Check out the pull request",
        "Set up Python",
        "Install qrun",
    ]
    validate = next(s for s in first.steps if s.name == "Validate specs")
    assert "::error" not in validate.stdout + validate.stderr
    assert first.summary.rstrip().endswith(MARKER)
    assert first.summary.startswith("1 to submit (ghz)"), first.summary
    assert "- 🚀 submit **ghz**" in first.summary
    assert "bell" not in first.summary  # unchanged by the PR: not even planned
    assert "ghz3" in first.summary  # the simulator preview of the new circuit
    calls = gh_calls(tmp_path)
    assert [c["method"] for c in calls] == ["GET", "POST"]
    assert calls[0]["endpoint"] == f"repos/{REPO}/issues/12/comments"
    assert calls[1]["endpoint"] == f"repos/{REPO}/issues/12/comments"
    body = calls[1]["fields"]["body"]
    assert body.rstrip().endswith(MARKER) and "**ghz**" in body
    assert body == first.summary
    assert TOKEN not in first.log

    # The next push to the PR: the bot's comment exists, so it is edited, not duplicated.
    (tmp_path / "gh-calls.jsonl").unlink()
    comments.write_text(
        json.dumps(
            [
                {"id": 17, "user": {"login": "alice"}, "body": "Looks good\n" + MARKER},
                {"id": 99, "user": {"login": "github-actions[bot]"}, "body": body},
            ]
        )
    )
    second = run_plan(tmp_path, bin_dir, checkout, event)

    assert second.ok, second.log
    calls = gh_calls(tmp_path)
    assert [c["method"] for c in calls] == ["GET", "PATCH"]
    assert calls[1]["endpoint"] == f"repos/{REPO}/issues/comments/99"
    assert calls[1]["fields"]["body"].rstrip().endswith(MARKER)


def test_plan_workflow_on_a_fork_writes_the_summary_but_no_comment(
    tmp_path: Path, bin_dir: Path, pr_checkout: tuple[Path, dict[str, Any]]
) -> None:
    checkout, event = pr_checkout
    event["pull_request"]["head"]["repo"]["full_name"] = "mallory/qrun-lab"
    run = run_plan(tmp_path, bin_dir, checkout, event)
    assert run.ok, run.log
    assert run.steps[-1].skipped
    assert "**ghz**" in run.summary
    assert gh_calls(tmp_path) == []


def test_plan_workflow_annotates_an_invalid_spec(
    tmp_path: Path, bin_dir: Path, pr_checkout: tuple[Path, dict[str, Any]]
) -> None:
    checkout, event = pr_checkout
    (tmp_path / "gh-comments.json").write_text("[]")
    spec = checkout / "specs" / "ghz.toml"
    spec.write_text(GHZ.replace("shots = 1000", "shots = -5"))
    git(checkout, "commit", "--quiet", "-am", "Break the GHZ spec")
    run = run_plan(tmp_path, bin_dir, checkout, event)
    assert not run.ok
    validate = next(s for s in run.steps if s.name == "Validate specs")
    assert validate.returncode == 1
    assert "::error file=specs/ghz.toml,line=" in validate.stdout
    # Later steps still run, so the PR shows what is wrong in the comment as well.
    assert MARKER in run.summary
    assert [c["method"] for c in gh_calls(tmp_path)] == ["GET", "POST"]


def run_apply(
    tmp_path: Path,
    bin_dir: Path,
    checkout: Path,
    event_name: str,
    event: dict[str, Any],
    inputs: dict[str, Any] | None = None,
) -> JobRun:
    return run_job(
        WORKFLOWS / "run.yml",
        "apply",
        workdir=checkout,
        event_name=event_name,
        event=event,
        context={"github": {"token": TOKEN}, "inputs": inputs or {}, "secrets": {}, "vars": {}},
        base_env=base_env(tmp_path, bin_dir),
        temp=tmp_path / f"runner-temp-{event_name}",
        skip=skip_install,
    )


def origin_log(origin: Path) -> list[tuple[str, str]]:
    lines = git(origin, "log", "--format=%H %an", "main").splitlines()
    return [(sha, author) for sha, _, author in (line.partition(" ") for line in lines)]


@pytest.mark.slow
def test_run_workflow_on_merge_pushes_locks_and_reports(
    tmp_path: Path, bin_dir: Path, origin: Path
) -> None:
    before = origin_log(origin)
    checkout = new_clone(origin, tmp_path / "merge-checkout")
    event = push_event(before[-1][0], before[0][0])

    run = run_apply(tmp_path, bin_dir, checkout, "push", event)

    assert run.ok, run.log
    after = origin_log(origin)
    new = after[: len(after) - len(before)]
    assert new, "the apply pushed no commit"
    assert {author for _, author in new} == {"qrun-bot"}
    changed = git(origin, "diff", "--name-only", before[0][0], "main").splitlines()
    assert "specs/bell.lock.toml" in changed
    assert "reports/README.md" in changed
    lock = git(origin, "show", "main:specs/bell.lock.toml")
    assert 'trigger = "merge"' in lock
    assert "### qrun apply" in run.summary and MARKER in run.summary
    assert TOKEN not in run.log


@pytest.mark.slow
def test_run_workflow_scheduled_tick_in_a_fresh_checkout_changes_nothing(
    tmp_path: Path, bin_dir: Path, origin: Path
) -> None:
    """Hosted runners start from a fresh clone: a tick with nothing due must push nothing.

    Without COS configured the result store is the gitignored .qrun/store of the previous
    runner, which a new checkout does not have; the reports must not lose their results.
    """
    first = new_clone(origin, tmp_path / "merge-checkout")
    before = origin_log(origin)
    merged = run_apply(tmp_path, bin_dir, first, "push", push_event(before[-1][0], before[0][0]))
    assert merged.ok, merged.log
    after_merge = origin_log(origin)

    tick = new_clone(origin, tmp_path / "schedule-checkout")
    run = run_apply(tmp_path, bin_dir, tick, "schedule", schedule_event())

    assert run.ok, run.log
    assert origin_log(origin) == after_merge, git(origin, "log", "--stat", "-1", "main")


def test_run_workflow_dry_run_dispatch_changes_nothing(
    tmp_path: Path, bin_dir: Path, origin: Path
) -> None:
    before = origin_log(origin)
    checkout = new_clone(origin, tmp_path / "dispatch-checkout")
    inputs = {"only": "bell", "dry_run": True}
    run = run_apply(
        tmp_path, bin_dir, checkout, "workflow_dispatch", dispatch_event("bell", True), inputs
    )
    assert run.ok, run.log
    assert "**bell**" in run.summary
    assert "bell" in run.steps[-1].stdout
    assert origin_log(origin) == before
    assert git(checkout, "status", "--porcelain") == ""
