"""GitOps around apply: catch up with origin, claim runs by pushing (the push is the
compare-and-swap), checkpoint job ids, and publish locks and reports — replaying our
lock records on top of whatever another runner pushed meanwhile, never dropping either side.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.config import Config
from runner.errors import GitError
from runner.files import is_temp, remove_stray_temps
from runner.git_ops import DEFAULT_AUTHOR, Workspace
from runner.lock import (
    Lock,
    RunRecord,
    RunStatus,
    merge_locks,
    read_all_locks,
    read_lock,
    write_lock,
)
from runner.output import Output
from runner.pipeline import ApplyResult, Hooks, Status, apply
from runner.reports.build import build_reports
from runner.shard import Shard


@dataclass(frozen=True)
class Backoff:
    """Bounded, jittered retries of a rejected push: N runners pushing to one origin at once
    spread out instead of colliding again in lockstep ("full jitter": a uniform wait up to
    min(cap, base·2^attempt))."""

    attempts: int = 12
    base: float = 0.25
    cap: float = 8.0

    @classmethod
    def from_env(cls, environ: Callable[[str], str | None]) -> Backoff:
        """QRUN_PUSH_ATTEMPTS and QRUN_PUSH_BACKOFF_MAX (seconds) override the defaults."""
        attempts, cap = environ("QRUN_PUSH_ATTEMPTS"), environ("QRUN_PUSH_BACKOFF_MAX")
        try:
            return cls(
                attempts=int(attempts) if attempts else cls.attempts,
                cap=float(cap) if cap else cls.cap,
            )
        except ValueError:
            raise GitError(
                "QRUN_PUSH_ATTEMPTS must be a whole number and QRUN_PUSH_BACKOFF_MAX a "
                f"number of seconds (got {attempts!r}, {cap!r})"
            ) from None

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap, self.base * 2**attempt))


def is_ours(path: str) -> bool:
    """Files the runner writes: lock files under specs/ and everything under reports/
    (never the atomic writer's temp files)."""
    mine = (path.startswith("specs/") and path.endswith(".lock.toml")) or path.startswith(
        "reports/"
    )
    return mine and not is_temp(path)


class Sync:
    """Commit and push the runner's own files; on rejection, replay them on the new upstream."""

    def __init__(self, config: Config, out: Output, push: bool, shard: Shard | None = None) -> None:
        self.config, self.out, self.push_enabled, self.shard = config, out, push, shard
        self.backoff = Backoff.from_env(config.environ.get)
        self.rng = random.Random()
        self.ws = Workspace(
            config.repo_root, config.environ.get("QRUN_GIT_AUTHOR") or DEFAULT_AUTHOR
        )
        for stray in remove_stray_temps(config.specs_dir, config.reports_dir):
            out.line(f"removed {stray.relative_to(config.repo_root)}, left by a killed qrun")
        # .qrun/ (local store, caches) is the runner's scratch space, never committed
        dirty = [p for p in self.ws.dirty_paths() if not is_ours(p) and not p.startswith(".qrun/")]
        if dirty:
            shown = ", ".join(dirty[:5]) + (" …" if len(dirty) > 5 else "")
            raise GitError(
                f"uncommitted changes outside qrun's files ({shown}); commit or stash "
                "them before `qrun apply --commit/--push`"
            )
        if push and self.ws.has_remote():
            self.ws.fetch()
            self._recover_unpushed()
            self.ws.fast_forward()

    def _recover_unpushed(self) -> None:
        """Publish what a killed qrun committed but never pushed; a person's commits block.

        Replaying resets to the remote, so it is done only when every unpushed commit is
        qrun's own; their lock records are merged onto the remote's, never dropped."""
        commits = self.ws.unpushed()
        if not commits:
            return
        foreign = [c for c in commits if not self.ws.made_by_qrun(c, is_ours)]
        if foreign:
            raise GitError(
                f"the branch has {len(commits)} commit(s) not on {self.ws.upstream()}, "
                f"{len(foreign)} not made by qrun (first: {foreign[0].sha[:12]}); push or "
                "drop them first (`qrun apply --push` publishes only qrun's own commits)"
            )
        self.out.line(
            f"found {len(commits)} unpushed qrun commit(s) of an interrupted run: publishing them"
        )
        if self.ws.behind_upstream():
            self._replay()
            self.ws.commit(self._paths(), "qrun: records of an interrupted run [skip ci]")

    def _paths(self) -> list[str]:
        """Exactly the runner's files: lock files (new, changed or deleted) and what changed
        under reports/; never a temp file or anything else found there."""
        locks = [
            p.relative_to(self.config.repo_root).as_posix()
            for p in self.config.specs_dir.rglob("*.lock.toml")
            if not is_temp(p)
        ]
        changed = [p for p in self.ws.dirty_paths() if is_ours(p)]
        return sorted({*locks, *changed})

    def _replay(self) -> None:
        """Fetch, reset onto upstream, and merge our lock records into theirs."""
        ours = read_all_locks(self.config.specs_dir)
        self.ws.fetch()
        self.ws.reset_to_upstream()
        for name, lock in ours.items():
            theirs = read_lock(self.config.specs_dir, name)
            write_lock(self.config.specs_dir, merge_locks(theirs, lock))
        build_reports(self.config, shard=self.shard)  # quietly: alerts were reported once

    def _push(self, message: str, still_wanted: Callable[[], bool] = lambda: True) -> bool:
        """Push; on rejection wait (jittered), replay onto the new upstream, re-commit and try
        again, up to the attempt bound. False when still_wanted() says to give up after a replay."""
        for attempt in range(self.backoff.attempts):
            if self.ws.push():
                return True
            wait = self.backoff.delay(attempt, self.rng)
            self.out.line(
                f"push rejected (the remote moved on): replaying on top of it in {wait:.1f} s"
            )
            time.sleep(wait)
            self._replay()
            if not still_wanted():
                return False
            self.ws.commit(self._paths(), message)
        raise GitError(
            f"push still rejected after {self.backoff.attempts} attempts; run apply again "
            "(or raise QRUN_PUSH_ATTEMPTS)"
        )

    def publish(self, message: str) -> bool:
        """Commit our files; push with bounded retries. Returns whether a commit was made."""
        committed = self.ws.commit(self._paths(), message)
        if not self.push_enabled or not (committed or self._ahead()):
            return committed
        return self._push(message)

    def _ahead(self) -> bool:
        return self.ws.commits_ahead() > 0

    def claim(self, lock: Lock, run: RunRecord) -> bool:
        """Push the claim; if another runner's claim for the same run landed first, back off."""
        if not self.push_enabled:
            return True
        message = f"qrun: claim {lock.name} run {run.id} [skip ci]"
        self.ws.commit(self._paths(), message)

        def still_ours() -> bool:
            current = next(
                (r for r in read_lock(self.config.specs_dir, lock.name).runs if r.id == run.id),
                None,
            )
            return (
                current is not None
                and current.status is RunStatus.CLAIMED
                and current.claimed_by == run.claimed_by
            )

        return self._push(message, still_ours)


def commit_message(result: ApplyResult) -> str:
    """One line of what happened, then one line per spec; [skip ci] so CI does not loop."""
    done = [o for o in result.outcomes if o.status is not Status.SKIPPED]
    head = f"qrun: {len(done)} experiment(s) updated" if done else "qrun: refresh reports"
    body = [f"- {o.name}: {o.action.value} {o.detail}" for o in done]
    return "\n".join([head + " [skip ci]", "", *body]) if body else head + " [skip ci]"


def apply_and_sync(
    config: Config,
    out: Output,
    trigger: str | None,
    only: Sequence[str],
    retry: frozenset[str],
    push: bool,
    shard: Shard | None = None,
) -> ApplyResult:
    """apply, with claims pushed before submitting and the results committed (and pushed)."""
    sync = Sync(config, out, push, shard)

    def checkpoint(message: str) -> None:
        sync.publish(message + " [skip ci]")

    hooks = Hooks(claim=sync.claim, checkpoint=checkpoint)
    result = apply(config, out, trigger, only, retry, hooks, shard)
    if sync.publish(commit_message(result)):
        out.line("committed" + (" and pushed" if push else "") + " locks and reports")
    else:
        out.line("nothing to commit")
    ended = {o.name for o in result.outcomes if o.status in (Status.DONE, Status.FAILED)}
    finished = [(a.name, a.run_id) for a in result.actions if a.run_id and a.name in ended]
    if push and finished:  # the pages they link to are on the remote now
        from runner.pr_results import post_results

        post_results(config, out, finished, read_all_locks(config.specs_dir))
    return result
