"""Configuration read once, at the start of a command, into a typed object."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.deadline import check_below_lease
from runner.errors import QrunError, UsageError

DOTENV = ".env"
# Variables whose values are credentials: never logged, never allowed in a tracked .env.
SECRET_VARS = (
    "IBM_QUANTUM_TOKEN",
    "COS_API_KEY",
    "COS_HMAC_ACCESS_KEY_ID",
    "COS_HMAC_SECRET_ACCESS_KEY",
)


def find_repo_root(start: Path) -> Path:
    """The nearest directory at or above start holding specs/ (else start itself)."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "specs").is_dir():
            return candidate
    return start


def read_environment(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment over the repository's .env file (the process wins)."""
    env = dict(os.environ if environ is None else environ)
    path = root / DOTENV
    if not path.is_file():
        return env
    from dotenv import dotenv_values

    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {**from_file, **env}


def refuse_tracked_secrets(root: Path) -> None:
    """A .env committed to git with a credential in it leaks the key to every clone."""
    path = root / DOTENV
    if not path.is_file():
        return
    from dotenv import dotenv_values

    values = dotenv_values(path)
    held = [name for name in SECRET_VARS if values.get(name)]
    if not held:
        return
    from runner.git_ops import is_tracked

    if is_tracked(root, DOTENV):
        raise QrunError(
            f"{DOTENV} is tracked by git and holds {', '.join(held)}: remove it from git "
            f"(`git rm --cached {DOTENV}`, add it to .gitignore) and rotate the key, "
            "which every clone of the repository now has"
        )


@dataclass(frozen=True)
class Limits:
    """Service and budget limits (IBM Open Plan defaults); all overridable by environment."""

    qpu_seconds_budget: float = 600.0  # per rolling 28 days on the Open Plan
    max_pending_jobs: int = 3
    submissions_per_minute: int = 5
    max_circuits_per_job: int = 300
    stale_claim_minutes: float = 30.0
    price_per_qpu_second: float = 1.60  # IBM's published Pay-As-You-Go rate, USD

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Limits:
        """QRUN_QPU_SECONDS_BUDGET, QRUN_MAX_PENDING_JOBS, QRUN_SUBMISSIONS_PER_MINUTE, …"""
        names = {
            "qpu_seconds_budget": ("QRUN_QPU_SECONDS_BUDGET", float),
            "max_pending_jobs": ("QRUN_MAX_PENDING_JOBS", int),
            "submissions_per_minute": ("QRUN_SUBMISSIONS_PER_MINUTE", int),
            "max_circuits_per_job": ("QRUN_MAX_CIRCUITS_PER_JOB", int),
            "stale_claim_minutes": ("QRUN_STALE_CLAIM_MINUTES", float),
            "price_per_qpu_second": ("QRUN_PRICE_PER_QPU_SECOND", float),
        }
        values: dict[str, float | int] = {}
        for attr, (var, kind) in names.items():
            if var in environ:
                try:
                    value = kind(environ[var])
                except ValueError:
                    raise UsageError(f"{var} must be a number (got {environ[var]!r})") from None
                # 0: take over any claim at once / QPU time is free
                zero_ok = attr in ("stale_claim_minutes", "price_per_qpu_second")
                if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
                    raise UsageError(f"{var} must be a positive number (got {environ[var]!r})")
                values[attr] = value
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Config:
    """Everything a command needs to know about where it runs."""

    repo_root: Path
    environ: Mapping[str, str] = field(repr=False)
    limits: Limits

    @property
    def specs_dir(self) -> Path:
        return self.repo_root / "specs"

    @property
    def reports_dir(self) -> Path:
        return self.repo_root / "reports"

    @property
    def in_ci(self) -> bool:
        return self.environ.get("CI") == "true"

    @classmethod
    def load(cls, repo: str | None, environ: Mapping[str, str] | None = None) -> Config:
        """The repository, its .env under the process environment, and the limits they set."""
        root = Path(repo).resolve() if repo else find_repo_root(Path.cwd())
        if not root.is_dir():
            raise UsageError(f"--repo {repo}: no such directory")
        refuse_tracked_secrets(root)
        env = read_environment(root, environ)
        if not (root / "specs").is_dir():
            raise UsageError(
                f"{root} has no specs/ directory: run qrun in a repository of "
                "experiment specs (or pass --repo DIR)"
            )
        reports = root / "reports"
        if reports.is_symlink() and not reports.resolve().is_relative_to(root):
            raise UsageError(
                f"{reports} links outside the repository (to {reports.resolve()}); qrun "
                "writes reports only inside it: replace the link with a directory"
            )
        limits = Limits.from_env(env)
        check_below_lease(env, limits.stale_claim_minutes * 60)  # at the start of every command
        return cls(repo_root=root, environ=env, limits=limits)
