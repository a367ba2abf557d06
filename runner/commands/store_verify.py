"""qrun store verify: read back every object the locks record and report the damaged ones.

The locks are the index of the store: each run lists the objects it stored with their
SHA-256. Every one of them, for every run of every experiment, is read through the
configured store (local directory or COS) and hashed, so a deleted, truncated or tampered
object shows up here, one line each, before a report or a pull trips over it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from runner.config import Config
from runner.lock import Lock, read_all_locks
from runner.output import Output
from runner.stores.base import Bucket, ResultStore, sha256_hex

CheckStatus = Literal["ok", "missing", "corrupted"]


@dataclass(frozen=True)
class Check:
    """One recorded object compared with what the store holds now."""

    experiment: str
    run: str
    bucket: str
    key: str
    expected: str
    actual: str | None  # SHA-256 of the stored bytes; None when the object is missing

    @property
    def status(self) -> CheckStatus:
        if self.actual is None:
            return "missing"
        return "ok" if self.actual == self.expected else "corrupted"

    def describe(self) -> str:
        """The one line a problem gets: where it is and what is wrong."""
        where = f"{self.experiment} run {self.run}: {self.bucket}/{self.key}"
        if self.actual is None:
            return f"{where}: missing (expected sha256 {self.expected})"
        return f"{where}: corrupted: expected sha256 {self.expected}, actual {self.actual}"


def verify(store: ResultStore, locks: Mapping[str, Lock]) -> list[Check]:
    """Every object of every run, in lock order, read back and hashed.

    Store failures other than a missing object (access denied, unreachable) raise
    StoreError: they would repeat for every object and say nothing about the data.
    """
    checks = []
    for name in sorted(locks):
        for run in locks[name].runs:
            for obj in run.objects:
                bucket: Bucket = obj.bucket  # type: ignore[assignment]
                data = store.read(bucket, obj.key)
                actual = None if data is None else sha256_hex(data)
                checks.append(Check(name, run.id, obj.bucket, obj.key, obj.sha256, actual))
    return checks


def store_description(store: ResultStore) -> str:
    """Where the objects were read from, for the header line."""
    from runner.stores.cos import CosStore
    from runner.stores.local import LocalStore

    if isinstance(store, CosStore):
        buckets = ", ".join(f"{b}={n}" for b, n in sorted(store.config.buckets.items()))
        return f"COS at {store.endpoint} ({buckets})"
    if isinstance(store, LocalStore):
        return f"the local store at {store.root}"
    return f"the {store.kind} store"


def run(args: argparse.Namespace) -> int:
    """Verify, print one line per problem and a summary; exit 1 when anything is wrong."""
    from runner.stores.config import StoreConfig, open_store

    config = Config.load(args.repo)
    out = Output(getattr(args, "format", "text"), quiet=args.quiet)
    store = open_store(StoreConfig.from_env(config.environ, config.repo_root))
    locks = read_all_locks(config.specs_dir)
    out.line(
        f"Verifying {sum(len(r.objects) for lock in locks.values() for r in lock.runs)} "
        f"object(s) recorded in {len(locks)} lock file(s) against {store_description(store)}"
    )
    checks = verify(store, locks)
    problems = [c for c in checks if c.status != "ok"]
    for check in problems:
        if out.format != "json":
            out.raw(check.describe())  # shown even with --quiet: these are the errors
        out.annotate("error", check.describe(), f"specs/{check.experiment}.lock.toml")
    missing = sum(c.status == "missing" for c in problems)
    corrupted = len(problems) - missing
    out.line(f"{len(checks)} objects verified, {missing} missing, {corrupted} corrupted")
    if missing and store.kind == "local":
        out.line(
            "a local store holds only what this machine collected; set COS_ENDPOINT "
            "(and credentials) to verify the shared store"
        )
    if problems:
        out.line(
            "each object must match the sha256 its lock records: restore the damaged ones "
            "from a backup or from COS object versioning"
        )
    out.envelope(
        "store verify",
        not problems,
        {
            "store": store.kind,
            "verified": len(checks),
            "missing": missing,
            "corrupted": corrupted,
            "problems": [{**asdict(c), "status": c.status} for c in problems],
        },
    )
    return 1 if problems else 0
