"""qrun pull NAME [RUN_ID] [--dest DIR]: download one run's stored results, verified.

Every object the lock records for the run is read through the configured store and checked
against the SHA-256 the lock recorded before anything is written, so a pull is all or
nothing. Files land under DIR (default ``.qrun/pull/<name>/<run id>/`` at the repository root,
which git ignores) at their path below the run's prefix (``analysis.json``, ``job_<id>.json``,
``request.json``), written atomically. A DIR inside the repository that git would track is
refused: pulled results are not meant to be committed next to the specs.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from runner.config import Config
from runner.errors import QrunError, UsageError
from runner.files import write_atomic
from runner.lock import Lock, ObjectRecord, RunRecord, RunStatus, read_all_locks
from runner.output import Output, plural
from runner.stores import keys
from runner.stores.base import Bucket

DEFAULT_DEST = Path(".qrun") / "pull"
_SHOWN_RUNS = 20


def find_lock(locks: dict[str, Lock], name: str, specs_dir: Path) -> Lock:
    """The experiment's lock, or an error naming the experiments that have runs."""
    lock = locks.get(name)
    if lock is not None and lock.runs:
        return lock
    if lock is not None or (specs_dir / f"{name}.toml").is_file():
        raise QrunError(f"{name} has no runs yet; `qrun apply` runs it")
    known = sorted(n for n, lk in locks.items() if lk.runs)
    close = difflib.get_close_matches(name, known, n=1) or [k for k in known if name in k][:1]
    hint = f" Did you mean '{close[0]}'?" if close else ""
    listed = ", ".join(known) if known else "none (run `qrun apply` first)"
    raise UsageError(f"unknown experiment '{name}'. Experiments with runs: {listed}.{hint}")


def choose_run(lock: Lock, run_id: str | None) -> RunRecord:
    """The run named by id (or a unique id prefix); by default the latest completed run."""
    if run_id is None:
        completed = [r for r in lock.runs if r.status is RunStatus.COMPLETED]
        if completed:
            return completed[-1]
        raise QrunError(
            f"{lock.name} has no completed run yet ({_runs(lock)}); "
            f"name one to pull what it stored: `qrun pull {lock.name} RUN_ID`"
        )
    exact = [r for r in lock.runs if r.id == run_id]
    matches = exact or [r for r in lock.runs if r.id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    problem = "is ambiguous" if matches else "is not a run"
    raise UsageError(f"'{run_id}' {problem} of {lock.name}; its runs: {_runs(lock)}")


def _runs(lock: Lock) -> str:
    """Run ids with their status, newest first (the last 20)."""
    shown = [f"{r.id} ({r.status.value})" for r in reversed(lock.runs)][:_SHOWN_RUNS]
    more = len(lock.runs) - len(shown)
    return ", ".join(shown) + (f", … {more} older" if more > 0 else "")


def relative_path(obj: ObjectRecord, name: str, run_id: str) -> str:
    """Where an object goes under DEST: its key below the run prefix, else bucket/key."""
    prefix = keys.run_prefix(name, run_id)
    rel = obj.key[len(prefix) :] if obj.key.startswith(prefix) else f"{obj.bucket}/{obj.key}"
    try:
        return keys.check_key(rel)
    except ValueError as err:
        raise QrunError(f"refusing to write {obj.bucket}/{obj.key}: {err}") from None


def _shown(path: Path) -> Path:
    """path relative to the working directory when it lies below it (shorter messages)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _refuse_tracked_dest(root: Path, dest: Path) -> None:
    """Results pulled into the repository must land where git ignores them."""
    from runner.git_ops import is_ignored

    where = dest.resolve()
    if not where.is_relative_to(root.resolve()) or is_ignored(root, where):
        return
    raise UsageError(
        f"--dest {dest} is inside the repository and not ignored by git: pick a directory "
        "outside it, one listed in .gitignore, or omit --dest (default .qrun/pull/)"
    )


def run(args: argparse.Namespace) -> int:
    """Download, verify, then write; print every file written."""
    from runner.stores.config import StoreConfig, open_store

    config = Config.load(args.repo)
    out = Output("text", quiet=args.quiet)
    lock = find_lock(read_all_locks(config.specs_dir), args.name, config.specs_dir)
    chosen = choose_run(lock, args.run_id)
    if not chosen.objects:
        raise QrunError(
            f"{lock.name} run {chosen.id} ({chosen.status.value}) has no stored objects"
            + (f": {chosen.error}" if chosen.error else "")
        )
    dest = (
        Path(args.dest)
        if args.dest
        else _shown(
            config.repo_root
            / DEFAULT_DEST
            / keys.encode_segment(lock.name)
            / keys.encode_segment(chosen.id)
        )
    )
    _refuse_tracked_dest(config.repo_root, dest)
    store = open_store(StoreConfig.from_env(config.environ, config.repo_root))
    fetched: list[tuple[str, ObjectRecord, bytes]] = []
    for obj in chosen.objects:
        bucket: Bucket = obj.bucket  # type: ignore[assignment]
        rel = relative_path(obj, lock.name, chosen.id)
        fetched.append((rel, obj, store.get(bucket, obj.key, obj.sha256)))
    for rel, obj, data in fetched:
        changed = write_atomic(dest / rel, data)
        out.line(
            f"{'wrote' if changed else 'unchanged'} {dest / rel} "
            f"({len(data)} bytes, sha256 {obj.sha256[:12]}…)"
        )
    out.line(
        f"Pulled {plural(len(fetched), 'object')} of {lock.name} run {chosen.id} "
        f"({chosen.status.value}) to {dest}, checksums verified."
    )
    return 0
