"""Results back to the pull request: when runs submitted because of a merged PR finish,
qrun keeps one comment on that PR with each run's headline result and a link to its page,
edited (never duplicated) as further runs finish.

The PR is found from the commit that produced the spec revision (GET /commits/{sha}/pulls);
the comment lists every merge run whose spec commit belongs to the PR (GET /pulls/{n}/commits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runner.config import Config
from runner.github_api import GitHub, GitHubError
from runner.lock import Lock, RunRecord, RunStatus
from runner.output import Output
from runner.reports.markdown import badge, md

RESULTS_MARKER = "<!-- qrun:results -->"


def _headline(run: RunRecord) -> str:
    h = run.headline or {}
    if run.status is not RunStatus.COMPLETED or h.get("value") is None:
        return md(run.error) if run.error else "—"
    interval = (
        f" [{h['low']:.3f}, {h['high']:.3f}]"
        if h.get("low") is not None and h.get("high") is not None
        else ""
    )
    ideal = f" (ideal {h['ideal']:g})" if h.get("ideal") is not None else ""
    unit = f" {md(h['unit'])}" if h.get("unit") else ""
    name = md(h.get("label") or h.get("name", "headline"))
    return f"{name} {h['value']:.3f}{interval}{unit}{ideal}"


def results_comment(
    number: int, runs: Sequence[tuple[str, RunRecord]], page_url: str, all_done: bool
) -> str:
    """The comment: a summary line, then one row per run (spec, target, status, headline)."""
    done = sum(r.status is RunStatus.COMPLETED for _, r in runs)
    state = "all finished" if all_done else "more to come; this comment is updated"
    lines = [
        f"qrun results for #{number}: {done} of {len(runs)} run(s) completed ({state})",
        "",
        "| spec | run | target | status | headline (95% interval) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, run in runs:
        page = f"[{md(name)}]({page_url}/{name}.md)"
        lines.append(
            f"| {page} | `{md(run.id)}` | {md(run.backend or run.target)} | "
            f"{badge(run.status)} | {_headline(run)} |"
        )
    return "\n".join([*lines, "", RESULTS_MARKER, ""])


def post_results(
    config: Config, out: Output, finished: Sequence[tuple[str, str]], locks: Mapping[str, Lock]
) -> list[int]:
    """Comment on the PRs of the merge runs in finished ((spec, run id) that completed or
    failed in this apply); returns the PR numbers commented on. Nothing outside Actions."""
    github = GitHub.from_env(config.environ)
    if github is None:
        return []
    runs = {(n, r.id): r for n, lock in locks.items() for r in lock.runs}
    commits = {runs[k].spec_commit for k in finished if k in runs and runs[k].trigger == "merge"}
    posted = []
    try:
        numbers = sorted({n for sha in commits if sha for n in _merged_prs(github, sha)})
        for number in numbers:
            shas = {c["sha"] for c in github.call("GET", f"pulls/{number}/commits?per_page=100")}
            mine = sorted(
                (
                    (n, r)
                    for (n, _), r in runs.items()
                    if r.trigger == "merge" and r.spec_commit in shas
                ),
                key=lambda item: (item[0], item[1].id),
            )
            branch = config.environ.get("GITHUB_REF_NAME", "main")
            server = config.environ.get("GITHUB_SERVER_URL", "https://github.com")
            page_url = f"{server}/{github.repo}/blob/{branch}/reports"
            all_done = not any(r.status.pending for _, r in mine)
            github.upsert_comment(
                number, RESULTS_MARKER, results_comment(number, mine, page_url, all_done)
            )
            posted.append(number)
            out.line(f"results posted to pull request #{number}")
    except GitHubError as exc:  # the results are committed already; the comment can wait
        out.line(f"warning: could not post results to the pull request: {exc}")
    return posted


def _merged_prs(github: GitHub, sha: str) -> list[int]:
    return [int(p["number"]) for p in github.pulls_of_commit(sha) if p.get("merged_at")]
