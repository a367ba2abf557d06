"""Developer and CI sessions: the same commands run locally and in .ci/run."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The pytest suite: real git repos, an S3 server and the IBM Quantum emulator on 127.0.0.1."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-n", "2", "--dist", "loadfile", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint + format check), mypy on the package, actionlint and zizmor on the workflows."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "runner")
    session.run(
        "actionlint",
        ".github/workflows/plan.yml",
        ".github/workflows/run.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/qrun-plan.yml",
        ".github/workflows/qrun-apply.yml",
    )
    session.run("zizmor", "--offline", "--min-severity", "medium", ".github/workflows")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Apply every example spec on the local simulator and render reports/."""
    session.install("-e", ".")
    session.run("qrun", "validate")
    session.run("qrun", "apply", "--no-push")
    session.log("Reports: reports/README.md (one page per experiment beside it)")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Speed checks that print ratios against a baseline measured in the same run."""
    session.install("-e", ".[dev]")
    for script in (
        "benchmarks/validate_speed.py",
        "benchmarks/plan_noop.py",
        "benchmarks/local_noise.py",
        "benchmarks/apply_sweep.py",
        "benchmarks/reports.py",
        "benchmarks/collect_requests.py",
        "benchmarks/interval_coverage.py",
        "benchmarks/characterisation.py",
    ):
        session.run("python", script)
