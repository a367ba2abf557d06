"""Run a GitHub Actions job's `run:` steps locally, the way the hosted runner would.

GitHub itself is out of reach, so the tests execute the workflows' own shell scripts with
bash, in order, with the env files a runner provides (GITHUB_STEP_SUMMARY, GITHUB_OUTPUT,
GITHUB_ENV, GITHUB_PATH, GITHUB_EVENT_PATH) and the `${{ }}` expressions of `env:` and
`if:` evaluated against a context. `uses:` steps are skipped: the caller prepares the
checkout and Python itself. `run_workflow` runs a whole workflow: jobs in `needs` order,
job `if:`, job outputs, `strategy.matrix` (also from `fromJSON`), and jobs that call a
reusable workflow (`uses:` at job level, with `with:` inputs and explicit `secrets:`).
Only the small expression language our workflows use is understood; anything else raises,
so a workflow change cannot be silently misread.
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
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|[!(),])"
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
    job_outputs: dict[str, str] = field(default_factory=dict)  # the job's `outputs:`

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


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "fromJSON": lambda text: json.loads(text),
    "toJSON": lambda value: json.dumps(value),
}


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
        if kind == "name" and text in FUNCTIONS and tokens[index][1] == "(":
            take()
            args = [either()]
            while tokens[index][1] == ",":
                take()
                args.append(either())
            take()
            return FUNCTIONS[text](*args)
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


def _default_env(
    event_name: str, event_path: Path, workdir: Path, temp: Path, api_url: str
) -> dict[str, str]:
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
        "GITHUB_API_URL": api_url,
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
    return _run_steps(
        doc, doc["jobs"][job_id], workdir, event_name, event, context, base_env, temp, skip
    )


def _run_steps(
    doc: Mapping[str, Any],
    job: Mapping[str, Any],
    workdir: Path,
    event_name: str,
    event: Mapping[str, Any],
    context: Mapping[str, Any],
    base_env: Mapping[str, str],
    temp: Path,
    skip: Callable[[Mapping[str, Any]], bool],
) -> JobRun:
    temp.mkdir(parents=True, exist_ok=True)
    event_path = temp / "event.json"
    event_path.write_text(json.dumps(event, indent=2), encoding="utf-8")
    defaults = {**doc.get("defaults", {}).get("run", {}), **job.get("defaults", {}).get("run", {})}
    # the GitHub API is out of reach: the caller's base_env may point it at a local stand-in
    api_url = base_env.get("GITHUB_API_URL", "https://api.github.com")
    env = {**base_env, **_default_env(event_name, event_path, workdir, temp, api_url)}
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
    run.job_outputs = {
        k: substitute(str(v), ctx, {"success": not failed})
        for k, v in job.get("outputs", {}).items()
    }
    return run


@dataclass
class WorkflowRun:
    """Every job run of a workflow (a matrix job once per combination), keyed like
    `apply/plan` or `apply/apply[shard=1/4]`; skipped jobs are listed in `skipped`."""

    jobs: dict[str, JobRun] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(j.ok for j in self.jobs.values())

    @property
    def log(self) -> str:
        return "\n".join(f"# job {k}\n{j.log}" for k, j in self.jobs.items())


def _typed(value: str, declared: Mapping[str, Any]) -> Any:
    kind = declared.get("type", "string")
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "number":
        return float(value)
    return value


def _with_value(raw: Any, ctx: Mapping[str, Any], status: Mapping[str, bool]) -> Any:
    """A `with:` value: a lone ${{ }} keeps its type, like GitHub; anything else is text."""
    text = str(raw)
    whole = _EXPR.fullmatch(text.strip())
    if isinstance(raw, str) and whole:
        return evaluate(whole.group(1), ctx, status)
    return raw if not isinstance(raw, str) else substitute(text, ctx, status)


def _combinations(matrix: Mapping[str, Any]) -> list[dict[str, Any]]:
    import itertools

    keys = [k for k in matrix if k not in ("include", "exclude")]
    combos = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(matrix[k] for k in keys))
    ]
    if not keys:
        combos = []
    return combos + [dict(entry) for entry in matrix.get("include", [])]


def run_workflow(
    workflow: Path,
    *,
    event_name: str,
    event: Mapping[str, Any],
    context: Mapping[str, Any],
    base_env: Mapping[str, str],
    temp: Path,
    checkout: Callable[[str], Path],
    resolve: Callable[[str], Path] = lambda uses: Path(uses),
    skip: Callable[[Mapping[str, Any]], bool] = lambda step: False,
    prefix: str = "",
) -> WorkflowRun:
    """Run every job of workflow in `needs` order, each in checkout(job key) (a fresh clone,
    as a hosted runner starts from). A job-level `uses:` is resolve()d to a local file and
    run with its `with:` inputs (declared defaults applied) and only the secrets passed."""
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    result = WorkflowRun()
    needs_ctx: dict[str, dict[str, Any]] = {}
    pending = dict(doc["jobs"])
    while pending:
        job_id, job = next(
            (j, spec) for j, spec in pending.items() if all(n in needs_ctx for n in _needs(spec))
        )
        del pending[job_id]
        needs = {n: needs_ctx[n] for n in _needs(job)}
        results = [n["result"] for n in needs.values()]
        status = {
            "success": all(r == "success" for r in results),
            "failure": any(r == "failure" for r in results),
            "always": True,
            "cancelled": False,
        }
        ctx = {
            "inputs": {},
            "secrets": {},
            "vars": {},
            **context,
            "needs": needs,
            "github": {"event_name": event_name, "event": event, **context.get("github", {})},
        }
        key = f"{prefix}{job_id}"
        if not _truthy(evaluate(_condition(job), ctx, status)):
            result.skipped.append(key)
            needs_ctx[job_id] = {"result": "skipped", "outputs": {}}
            continue
        if "uses" in job:
            called = resolve(job["uses"])
            declared = _triggers(yaml.safe_load(called.read_text("utf-8")))["workflow_call"]
            inputs = {
                name: _typed(
                    _with_value(
                        job.get("with", {}).get(name, spec.get("default", "")), ctx, status
                    ),
                    spec,
                )
                for name, spec in (declared.get("inputs") or {}).items()
            }
            unknown = set(job.get("with", {})) - set(declared.get("inputs") or {})
            if unknown:
                raise ValueError(f"{key}: inputs not declared by {called.name}: {unknown}")
            passed = job.get("secrets", {})
            if passed == "inherit":
                raise NotImplementedError("secrets: inherit (pass secrets explicitly)")
            secrets = {k: _with_value(v, ctx, status) for k, v in passed.items()}
            inner = run_workflow(
                called,
                event_name=event_name,
                event=event,
                context={**context, "inputs": inputs, "secrets": secrets},
                base_env=base_env,
                temp=temp / job_id,
                checkout=checkout,
                resolve=resolve,
                skip=skip,
                prefix=f"{key}/",
            )
            result.jobs.update(inner.jobs)
            result.skipped += inner.skipped
            needs_ctx[job_id] = {"result": "success" if inner.ok else "failure", "outputs": {}}
            continue
        matrix = job.get("strategy", {}).get("matrix")
        if isinstance(matrix, str):
            matrix = _with_value(matrix, ctx, status)
        combos = _combinations(matrix) if matrix is not None else [{}]
        if matrix is not None and not combos:
            raise ValueError(f"{key}: the matrix is empty (GitHub fails such a job)")
        outputs: dict[str, str] = {}
        ok = True
        for n, combo in enumerate(combos):
            label = key + (
                "[" + ",".join(f"{k}={v}" for k, v in combo.items()) + "]" if combo else ""
            )
            run = _run_steps(
                doc,
                job,
                checkout(label),
                event_name,
                event,
                {**ctx, "matrix": combo},
                base_env,
                temp / f"{job_id}-{n}",
                skip,
            )
            result.jobs[label] = run
            outputs.update(run.job_outputs)
            ok = ok and run.ok
        needs_ctx[job_id] = {"result": "success" if ok else "failure", "outputs": outputs}
    return result


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _triggers(doc: Mapping[Any, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))
    return on if isinstance(on, dict) else {name: None for name in ([on] if on else [])}
