"""Run a GitHub Actions job's `run:` steps locally, the way the hosted runner would.

GitHub itself is out of reach, so the tests execute the workflows' own shell scripts with
bash, in order, with the env files a runner provides (GITHUB_STEP_SUMMARY, GITHUB_OUTPUT,
GITHUB_ENV, GITHUB_PATH, GITHUB_EVENT_PATH) and the `${{ }}` expressions of `env:` and
`if:` evaluated against a context. `uses:` steps are skipped: the caller prepares the
checkout and Python itself. Only the small expression language our workflows use is
understood; anything else raises, so a workflow change cannot be silently misread.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|[!()])"
    r"|(?P<name>[A-Za-z_][\w.-]*(?:\(\))?))"
)
_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class StepResult:
    name: str
    skipped: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobRun:
    """What a job run left behind: per-step results, the job summary, outputs and env."""

    steps: list[StepResult] = field(default_factory=list)
    summary: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s.returncode == 0 for s in self.steps)

    @property
    def log(self) -> str:
        return "\n".join(f"## {s.name}\n{s.stdout}{s.stderr}" for s in self.steps if not s.skipped)


def _lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()  # GitHub compares strings case-insensitively
    return bool(a == b)


def evaluate(expr: str, context: Mapping[str, Any], status: Mapping[str, bool]) -> Any:
    """Evaluate literals, context paths, ! == != && || (), and the status functions."""
    tokens: list[tuple[str, str]] = []
    pos, expr = 0, expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise NotImplementedError(f"expression not understood: {expr!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    tokens.append(("end", ""))
    index = 0

    def take() -> tuple[str, str]:
        nonlocal index
        index += 1
        return tokens[index - 1]

    def primary() -> Any:
        kind, text = take()
        if text == "!" and kind == "op":
            return not _truthy(primary())
        if text == "(":
            value = either()
            take()
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if kind == "name":
            if text.endswith("()"):
                if text[:-2] not in status:
                    raise NotImplementedError(f"function not supported: {text}")
                return status[text[:-2]]
            return {"true": True, "false": False, "null": None}.get(text, _lookup(context, text))
        raise NotImplementedError(f"unexpected {text!r} in {expr!r}")

    def comparison() -> Any:
        left = primary()
        while tokens[index][1] in ("==", "!="):
            op, right = take()[1], primary()
            left = _equal(left, right) == (op == "==")
        return left

    def both() -> Any:
        left = comparison()
        while tokens[index][1] == "&&":
            take()
            right = comparison()
            left = right if _truthy(left) else left
        return left

    def either() -> Any:
        left = both()
        while tokens[index][1] == "||":
            take()
            right = both()
            left = left if _truthy(left) else right
        return left

    value = either()
    if tokens[index][0] != "end":
        raise NotImplementedError(f"trailing text in expression: {expr!r}")
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    return str(value)


def substitute(text: str, context: Mapping[str, Any], status: Mapping[str, bool]) -> str:
    """Replace every ${{ expr }} in text with its value as GitHub would render it."""
    return _EXPR.sub(lambda m: _text(evaluate(m.group(1), context, status)), str(text))


def parse_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines and NAME<<DELIMITER heredocs (GITHUB_ENV and GITHUB_OUTPUT)."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


def _default_env(event_name: str, event_path: Path, workdir: Path, temp: Path) -> dict[str, str]:
    event = json.loads(event_path.read_text(encoding="utf-8"))
    repo = event.get("repository", {}).get("full_name", "octo-org/qrun-lab")
    pr = event.get("pull_request") or {}
    return {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": repo,
        "GITHUB_REPOSITORY_OWNER": repo.split("/")[0],
        "GITHUB_BASE_REF": pr.get("base", {}).get("ref", ""),
        "GITHUB_HEAD_REF": pr.get("head", {}).get("ref", ""),
        "GITHUB_REF": f"refs/pull/{pr['number']}/merge"
        if pr
        else event.get("ref", "refs/heads/main"),
        "GITHUB_SHA": event.get("after") or pr.get("head", {}).get("sha", ""),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_WORKSPACE": str(workdir),
        "GITHUB_RUN_ID": "1",
        "GITHUB_ACTOR": event.get("sender", {}).get("login", "octocat"),
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": str(temp),
    }


def _shell(step: Mapping[str, Any], defaults: Mapping[str, Any], script: Path) -> list[str]:
    shell = step.get("shell") or defaults.get("shell")
    if shell == "bash":
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
    if shell is None:
        return ["bash", "-e", str(script)]
    raise NotImplementedError(f"shell {shell!r} is not supported by the local runner")


def _condition(step: Mapping[str, Any]) -> str:
    """The step's `if:` as an expression, with GitHub's implicit `success() &&`."""
    condition = _EXPR.sub(lambda m: m.group(1), str(step.get("if", "success()")))
    if not re.search(r"\b(success|failure|always|cancelled)\(\)", condition):
        condition = f"success() && ({condition})"
    return condition


def run_job(
    workflow: Path,
    job_id: str,
    *,
    workdir: Path,
    event_name: str,
    event: Mapping[str, Any],
    context: Mapping[str, Any],
    base_env: Mapping[str, str],
    temp: Path,
    skip: Callable[[Mapping[str, Any]], bool] = lambda step: False,
) -> JobRun:
    """Run job_id's `run:` steps of workflow in workdir; `uses:` steps and skip(step) are skipped.

    context holds `inputs`, `secrets`, `vars` and any `github` overrides (`token`, …);
    `github.event` is event. A failed step skips later steps unless their `if:` says otherwise.
    """
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    job = doc["jobs"][job_id]
    temp.mkdir(parents=True, exist_ok=True)
    event_path = temp / "event.json"
    event_path.write_text(json.dumps(event, indent=2), encoding="utf-8")
    defaults = {**doc.get("defaults", {}).get("run", {}), **job.get("defaults", {}).get("run", {})}
    env = {**base_env, **_default_env(event_name, event_path, workdir, temp)}
    github = {k[7:].lower(): v for k, v in env.items() if k.startswith("GITHUB_")}
    ctx: dict[str, Any] = {"inputs": {}, "secrets": {}, "vars": {}, **context, "steps": {}}
    ctx["github"] = {**github, "event": event, **context.get("github", {})}
    ctx["runner"] = {"temp": str(temp), "os": "Linux"}
    run, failed = JobRun(), False
    for n, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses") or step.get("run", "").split("\n")[0]
        status = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
        ctx["env"] = {**run.env, **doc.get("env", {}), **job.get("env", {})}
        if "uses" in step or skip(step) or not _truthy(evaluate(_condition(step), ctx, status)):
            run.steps.append(StepResult(name, skipped=True))
            continue
        files = {
            k: temp / f"step{n}_{k.lower()}" for k in ("OUTPUT", "ENV", "PATH", "STEP_SUMMARY")
        }
        step_env = {**env, **run.env, **{f"GITHUB_{k}": str(f) for k, f in files.items()}}
        for scope in (doc.get("env", {}), job.get("env", {}), step.get("env", {})):
            step_env.update({k: substitute(str(v), ctx, status) for k, v in scope.items()})
        for f in files.values():
            f.write_text("", encoding="utf-8")
        script = temp / f"step{n}.sh"
        script.write_text(step["run"], encoding="utf-8")
        proc = subprocess.run(
            _shell(step, defaults, script),
            cwd=workdir / step.get("working-directory", defaults.get("working-directory", ".")),
            env=step_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,  # a hung step fails the test instead of stalling the suite
        )
        run.steps.append(StepResult(name, False, proc.returncode, proc.stdout, proc.stderr))
        run.summary += files["STEP_SUMMARY"].read_text(encoding="utf-8")
        run.env.update(parse_env_file(files["ENV"]))
        added = files["PATH"].read_text(encoding="utf-8").split()
        env["PATH"] = os.pathsep.join([*reversed(added), env.get("PATH", "")])
        if "id" in step:
            run.outputs[step["id"]] = parse_env_file(files["OUTPUT"])
            ctx["steps"][step["id"]] = {"outputs": run.outputs[step["id"]]}
        failed = failed or (proc.returncode != 0 and not step.get("continue-on-error", False))
    return run
