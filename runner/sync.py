"""GitOps around apply: catch up with origin, claim runs by pushing (the push is the
compare-and-swap), checkpoint job ids, and publish locks and reports — replaying our
lock records on top of whatever another runner pushed meanwhile, never dropping either side.
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.config import Config
from runner.errors import GitError
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

MAX_PUSH_ATTEMPTS = 5


def is_ours(path: str) -> bool:
    """Files the runner writes: lock files and everything under reports/."""
    return path.endswith(".lock.toml") or path.startswith("reports/")


class Sync:
    """Commit and push the runner's own files; on rejection, replay them on the new upstream."""

    def __init__(self, config: Config, out: Output, push: bool) -> None:
        self.config, self.out, self.push_enabled = config, out, push
        self.ws = Workspace(
            config.repo_root, config.environ.get("QRUN_GIT_AUTHOR") or DEFAULT_AUTHOR
        )
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
            ahead = self.ws.commits_ahead()
            if ahead:  # replaying a lost push resets to the remote: never over a person's commits
                raise GitError(
                    f"the branch has {ahead} commit(s) not on {self.ws.upstream()}; push or "
                    "drop them first (`qrun apply --push` publishes only qrun's own commits)"
                )
            self.ws.fast_forward()

    def _paths(self) -> list[str]:
        """Exactly the runner's files: lock files (new, changed or deleted) and reports/."""
        locks = [
            p.relative_to(self.config.repo_root).as_posix()
            for p in self.config.specs_dir.rglob("*.lock.toml")
        ]
        changed = [p for p in self.ws.dirty_paths() if is_ours(p)]
        return sorted({*locks, *changed, "reports"})

    def _replay(self) -> None:
        """Fetch, reset onto upstream, and merge our lock records into theirs."""
        ours = read_all_locks(self.config.specs_dir)
        self.ws.fetch()
        self.ws.reset_to_upstream()
        for name, lock in ours.items():
            theirs = read_lock(self.config.specs_dir, name)
            write_lock(self.config.specs_dir, merge_locks(theirs, lock))
        build_reports(self.config)  # quietly: alerts were already reported once

    def publish(self, message: str) -> bool:
        """Commit our files; push with bounded retries. Returns whether a commit was made."""
        committed = self.ws.commit(self._paths(), message)
        if not self.push_enabled or not (committed or self._ahead()):
            return committed
        for _ in range(MAX_PUSH_ATTEMPTS):
            if self.ws.push():
                return True
            self.out.line("push rejected (the remote moved on): replaying on top of it")
            self._replay()
            self.ws.commit(self._paths(), message)
        raise GitError(f"push still rejected after {MAX_PUSH_ATTEMPTS} attempts; run apply again")

    def _ahead(self) -> bool:
        return self.ws.commits_ahead() > 0

    def claim(self, lock: Lock, run: RunRecord) -> bool:
        """Push the claim; if another runner's claim for the same run landed first, back off."""
        if not self.push_enabled:
            return True
        message = f"qrun: claim {lock.name} run {run.id} [skip ci]"
        self.ws.commit(self._paths(), message)
        for _ in range(MAX_PUSH_ATTEMPTS):
            if self.ws.push():
                return True
            self._replay()
            current = next(
                (r for r in read_lock(self.config.specs_dir, lock.name).runs if r.id == run.id),
                None,
            )
            if (
                current is None
                or current.status is not RunStatus.CLAIMED
                or current.claimed_by != run.claimed_by
            ):
                return False
            self.ws.commit(self._paths(), message)
        raise GitError(f"could not push the claim for {lock.name} run {run.id}; run apply again")


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
) -> ApplyResult:
    """apply, with claims pushed before submitting and the results committed (and pushed)."""
    sync = Sync(config, out, push)

    def checkpoint(message: str) -> None:
        sync.publish(message + " [skip ci]")

    hooks = Hooks(claim=sync.claim, checkpoint=checkpoint)
    result = apply(config, out, trigger, only, retry, hooks)
    if sync.publish(commit_message(result)):
        out.line("committed" + (" and pushed" if push else "") + " locks and reports")
    else:
        out.line("nothing to commit")
    return result
