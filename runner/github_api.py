"""The few GitHub REST calls qrun makes with the workflow's token: the pull request a merge
commit came from, its reviews, and the one results comment qrun keeps on it.

Configured from the Actions environment (GITHUB_API_URL, GITHUB_REPOSITORY, and the token in
GITHUB_TOKEN); the API must be https unless it is on this machine (the tests' stand-in).
The token is sent only in the Authorization header and never appears in an error.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.endpoints import checked_url
from runner.errors import QrunError

TIMEOUT = 15.0  # seconds per call; GitHub answers in well under one


class GitHubError(QrunError):
    """A GitHub API call failed (its status and path, never the token)."""


@dataclass(frozen=True)
class GitHub:
    api_url: str
    repo: str  # owner/name
    token: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GitHub | None:
        """The API of the repository the workflow runs for; None outside Actions or without
        a token (results and approvals then stay on the reports and labels alone)."""
        repo, token = environ.get("GITHUB_REPOSITORY"), environ.get("GITHUB_TOKEN")
        if not repo or not token:
            return None
        url = environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        return cls(checked_url("GITHUB_API_URL", url, GitHubError), repo, token)

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        import urllib.error  # here: urllib.request (with ssl, http, email) costs every plan
        import urllib.request  # ~15 ms to import, and most plans call no API

        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(
            f"{self.api_url}/repos/{self.repo}/{path}",
            data=data,
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "qrun",
                **({"Content-Type": "application/json"} if data else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise GitHubError(f"GitHub {method} {path}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(f"GitHub {method} {path}: {reason}") from None

    def pulls_of_commit(self, sha: str) -> list[dict[str, Any]]:
        """The pull requests a commit belongs to (for a merge commit: the merged PR)."""
        found = self.call("GET", f"commits/{sha}/pulls")
        return [p for p in found or [] if isinstance(p, dict)]

    def approvers(self, number: int) -> list[str]:
        """Logins whose latest review of the pull request approves it."""
        latest: dict[str, str] = {}
        for review in self.call("GET", f"pulls/{number}/reviews?per_page=100") or []:
            login = (review.get("user") or {}).get("login")
            if login and review.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[login] = review["state"]
        return sorted(u for u, state in latest.items() if state == "APPROVED")

    def upsert_comment(self, number: int, marker: str, body: str) -> int:
        """Edit qrun's comment (the one ending with marker) or post it; returns its id.

        Two runners (shards) may both find no comment and both post: after posting, the
        oldest of qrun's comments is kept (edited to this body) and the others are deleted,
        so racing runners converge on one comment."""
        found = self._marked(number, marker)
        posted = None
        if not found:
            posted = int(self.call("POST", f"issues/{number}/comments", {"body": body})["id"])
            found = self._marked(number, marker) or [posted]
        keep, *extra = found
        for comment_id in extra:
            with contextlib.suppress(GitHubError):  # the other runner deleted it first
                self.call("DELETE", f"issues/comments/{comment_id}")
        if keep != posted:
            self.call("PATCH", f"issues/comments/{keep}", {"body": body})
        return keep

    def _marked(self, number: int, marker: str) -> list[int]:
        """Ids of qrun's comments (by the workflow's bot, ending with marker), oldest first."""
        return sorted(
            int(comment["id"])
            for comment in self.call("GET", f"issues/{number}/comments?per_page=100") or []
            if (comment.get("user") or {}).get("login") == "github-actions[bot]"
            and comment.get("body", "").rstrip().endswith(marker)
        )
