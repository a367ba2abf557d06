"""The one module that touches git (through gitpython): commits of specs, and later commit/push."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from runner.errors import GitError


@cache
def _repo(root: Path) -> Any:
    import git

    try:
        return git.Repo(root, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def last_commit_of(root: Path, path: Path) -> str | None:
    """The latest commit that touched path (the spec revision a run was made from)."""
    repo = _repo(root)
    if repo is None:
        return None
    try:
        commits = list(
            repo.iter_commits(paths=str(path.resolve().relative_to(root.resolve())), max_count=1)
        )
    except ValueError:
        return None
    return str(commits[0].hexsha) if commits else None


def is_tracked(root: Path, rel: str) -> bool:
    """Whether git tracks the file at rel (in the index), e.g. a .env holding keys."""
    repo = _repo.__wrapped__(root)  # uncached: asked once per command
    if repo is None:
        return False
    return any(path == rel for path, _stage in repo.index.entries)


def is_ignored(root: Path, path: Path) -> bool:
    """Whether git ignores path (True too when root is no git repository: nothing tracks it)."""
    import git

    repo = _repo.__wrapped__(root)  # uncached: asked once per command
    if repo is None:
        return True
    rel = path.resolve().relative_to(Path(repo.working_tree_dir).resolve()).as_posix()
    try:
        return bool(repo.ignored(rel + "/", rel))
    except git.GitCommandError:
        return False


@dataclass(frozen=True)
class SpecChange:
    name: str
    change: str  # added | modified | removed | renamed


def changed_specs(root: Path, base: str) -> list[SpecChange]:
    """Specs a branch adds, changes or removes relative to base (merge-base diff, like a PR)."""
    import git

    repo = _repo(root)
    if repo is None:
        raise GitError(f"--base {base}: {root} is not a git repository")
    try:
        merge_base = repo.merge_base(base, "HEAD")
        diff = merge_base[0].diff(None) if merge_base else repo.commit(base).diff(None)
    except (git.GitCommandError, git.BadName, ValueError) as exc:
        raise GitError(
            f"--base {base}: cannot diff against it ({exc.__class__.__name__}); "
            "fetch the base branch (actions/checkout with fetch-depth: 0)"
        ) from None
    kinds = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "T": "modified"}
    found: dict[str, SpecChange] = {}
    for item in diff:
        for path in {item.a_path, item.b_path}:
            if (
                path
                and path.startswith("specs/")
                and path.endswith(".toml")
                and not path.endswith(".lock.toml")
            ):
                name = Path(path).stem
                found[name] = SpecChange(name, kinds.get(item.change_type, "modified"))
            elif path and path.startswith("specs/") and not path.endswith(".toml"):
                # a QASM file: every spec in specs/ that references it may change; cheap to re-plan all
                found.setdefault("*", SpecChange("*", "circuit file"))
    if "*" in found:
        del found["*"]
        from runner.spec.loader import find_specs

        for spec_path in find_specs(root / "specs"):
            found.setdefault(spec_path.stem, SpecChange(spec_path.stem, "circuit file changed"))
    return sorted(found.values(), key=lambda c: c.name)


DEFAULT_AUTHOR = "qrun-bot <qrun-bot@users.noreply.github.com>"


def parse_author(text: str) -> tuple[str, str]:
    """'Name <email>' as written in QRUN_GIT_AUTHOR."""
    name, _, rest = text.partition("<")
    email = rest.rstrip("> ").strip()
    if not name.strip() or "@" not in email:
        raise GitError(f"QRUN_GIT_AUTHOR must look like 'Name <email>' (got {text!r})")
    return name.strip(), email


@dataclass(frozen=True)
class LocalCommit:
    """A commit on the local branch that the remote does not have."""

    sha: str
    author: str  # "Name <email>"
    message: str
    paths: tuple[str, ...]
    parents: int


class Workspace:
    """The runner's view of the checkout: commit its own files, push, and replay on rejection."""

    def __init__(self, root: Path, author: str = DEFAULT_AUTHOR, remote: str = "origin") -> None:
        import git

        self.root = root
        try:
            self.repo = git.Repo(root)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitError(f"{root} is not a git repository; --commit/--push need one") from None
        self.name, self.email = parse_author(author)
        self.remote = remote
        if self.repo.head.is_detached:
            raise GitError("HEAD is detached; check out the branch qrun should push to")
        self.branch = self.repo.active_branch.name

    def _git(self, *args: str) -> str:
        import git

        env = {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
            "GIT_TERMINAL_PROMPT": "0",
        }
        try:
            return str(self.repo.git.execute(["git", *args], env={**_base_env(), **env}))
        except git.GitCommandError as exc:
            raise GitError(f"git {args[0]} failed: {_scrub(str(exc.stderr or exc))}") from None

    def dirty_paths(self) -> list[str]:
        """Changed or untracked paths, relative to the root."""
        out = self._git("status", "--porcelain", "--untracked-files=all")
        return [line[3:].split(" -> ")[-1].strip('"') for line in out.splitlines() if line]

    def has_remote(self) -> bool:
        return self.remote in [r.name for r in self.repo.remotes]

    def fetch(self) -> None:
        self._git("fetch", "--quiet", self.remote, self.branch)

    def upstream(self) -> str:
        return f"{self.remote}/{self.branch}"

    def fast_forward(self) -> None:
        """Catch up with the remote before planning (never rewrites local commits)."""
        if not self.has_remote():
            return
        self.fetch()
        self._git("merge", "--ff-only", "--quiet", self.upstream())

    def commit(self, paths: list[str], message: str) -> bool:
        """Stage exactly these paths and commit as the bot; False when nothing changed."""
        existing = [p for p in paths if (self.root / p).exists() or self._tracked(p)]
        if not existing:
            return False
        self._git("add", "--all", "--", *existing)
        if not self._git("diff", "--cached", "--name-only"):
            return False
        self._git("commit", "--quiet", "--no-verify", "-m", message)
        return True

    def _tracked(self, path: str) -> bool:
        return bool(self._git("ls-files", "--", path))

    def push(self) -> bool:
        """Push the branch; False when the remote moved on (the compare-and-swap lost)."""
        import git

        from runner.crashpoint import crash_point

        crash_point("push")

        try:
            self.repo.git.execute(
                [
                    "git",
                    "push",
                    "--quiet",
                    "--porcelain",
                    self.remote,
                    f"HEAD:refs/heads/{self.branch}",
                ],
                env=_base_env(),
            )
        except git.GitCommandError as exc:
            text = str(exc.stdout or "") + str(exc.stderr or "")
            # Only a stale base is a lost compare-and-swap; a protected branch or a hook
            # refusing the push ("[remote rejected]") is an error the user must see.
            lost = ("non-fast-forward", "fetch first", "[rejected]", "cannot lock ref",
                    "failed to update ref", "stale info")  # fmt: skip
            if any(marker in text for marker in lost):
                return False
            raise GitError(f"git push failed: {_scrub(text.strip())}") from None
        return True

    def unpushed(self) -> list[LocalCommit]:
        """Local commits not on the remote branch, oldest first, with the paths each touches."""
        if not self.has_remote():
            return []
        out = self._git(
            "log", "--reverse", "--no-renames", "--name-only",
            "--format=%x1e%H %P%x1f%an <%ae>%x1f%B%x1f", f"{self.upstream()}..HEAD",
        )  # fmt: skip
        commits = []
        for record in out.split("\x1e")[1:]:
            shas, author, message, files = record.split("\x1f")
            sha, *parents = shas.split()
            paths = tuple(line for line in files.splitlines() if line)
            commits.append(LocalCommit(sha, author, message.strip(), paths, len(parents)))
        return commits

    def made_by_qrun(self, commit: LocalCommit, ours: Callable[[str], bool]) -> bool:
        """qrun's own commit: the bot's identity, `[skip ci]`, one parent, only qrun's files."""
        return (
            commit.author == f"{self.name} <{self.email}>"
            and "[skip ci]" in commit.message.split("\n", 1)[0]
            and commit.parents == 1
            and bool(commit.paths)
            and all(ours(p) for p in commit.paths)
        )

    def behind_upstream(self) -> bool:
        """Whether the remote branch has commits HEAD lacks (a replay is needed to push)."""
        return not self.repo.is_ancestor(self.repo.commit(self.upstream()), self.repo.head.commit)

    def commits_ahead(self) -> int:
        """Local commits not on the remote branch (0 without a remote)."""
        if not self.has_remote():
            return 0
        return len(self._git("rev-list", f"{self.upstream()}..HEAD").split())

    def reset_to_upstream(self) -> None:
        """Drop our unpushed commits (their content is replayed by the caller)."""
        self._git("reset", "--quiet", "--hard", self.upstream())


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}


def _scrub(text: str) -> str:
    """Credentials embedded in remote URLs (https://x-access-token:…@) never reach messages."""
    import re

    return re.sub(r"(https?://)[^/@\s]+@", r"\1***@", text)
