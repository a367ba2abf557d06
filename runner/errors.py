"""One exception root, caught once in the CLI and mapped to an exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class QrunError(Exception):
    """An expected failure: printed as one line, exit code 1."""

    exit_code = 1
    # The jobs (JobRefs) a submission had created when it failed with this error: set by the
    # backend, so the caller records them even when the lookup by tag fails too.
    created: tuple[Any, ...] = ()


class UsageError(QrunError):
    """Bad command-line use: exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class Diagnostic:
    """One problem in an input file, pointing at the offending TOML key or value."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class SpecError(QrunError):
    """A spec (or lock) file is invalid; carries every problem found, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


class StoreError(QrunError):
    """The result store failed: missing object, checksum mismatch, access denied."""


class BackendError(QrunError):
    """The execution backend failed in a way the user must act on (auth, unknown backend)."""


class CredentialsError(BackendError):
    """The service refused (or was given no) credentials: stops the whole invocation."""


class ServiceUnavailable(BackendError):
    """A transient outage (after retries): nothing is concluded, the next apply tries again."""


class Rejected(BackendError):
    """The service answered and refused the request (a 4xx with a reason): final for a run."""


class SubmitUncertain(ServiceUnavailable):
    """A job creation whose answer never arrived (5xx, dropped connection, timeout): the job
    may exist. The answer is a lookup by tag, never a second POST."""


class SubmissionDeferred(BackendError):
    """An Open Plan cap (the pending-job cap, error 3458) refused a submission for now: the
    run waits for a later apply instead of failing."""


class GitError(QrunError):
    """A git operation failed (push rejected past the retry bound, dirty tree, no repo)."""
