"""Gather what the reports need (specs, locks, stored analyses) and write the pages.

Reports are a pure function of locks and stored results: every stored analysis is read
back through the store and verified against the checksum the lock recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import reanalyse
from runner.budget import qpu_seconds_used
from runner.config import Config
from runner.inputs import load_inputs
from runner.lock import Lock, RunStatus
from runner.reports.digest import page_digest, read_digest
from runner.reports.render import MANIFEST
from runner.schedule import parse_time
from runner.shard import Shard
from runner.spec.loader import display_path


def _analyses(store: Any, lock: Lock) -> dict[str, dict[str, Any]]:
    found = {}
    for run in lock.runs:
        if run.status is not RunStatus.COMPLETED:
            continue
        ref = next((o for o in run.objects if o.key.endswith("/analysis.json")), None)
        # A run recorded by another machine's local store has no results here: the page says
        # so. A present object whose checksum differs is an error (store.get raises).
        if ref is not None and store.exists("results", ref.key) is not None:
            doc = json.loads(store.get("results", ref.key, ref.sha256))
            found[run.id] = reanalyse.current(store, lock, run, doc)  # older analysis: redo
    return found


@dataclass(frozen=True)
class ReportResult:
    changed: list[str]
    alerts: list[tuple[str, str]]  # (experiment, message) of current drift alerts
    warnings: list[str]


def build_reports(
    config: Config, queue_lengths: dict[str, int] | None = None, shard: Shard | None = None
) -> ReportResult:
    """Render reports/ from the repository's current specs and locks.

    A shard writes only the pages of the specs it owns, never the dashboard, and prunes
    nothing: N shards pushing to one origin each touch disjoint files."""
    from runner.reports.render import (
        ExperimentView,
        ReportContext,
        alerts_of,
        render_reports,
        write_reports,
    )
    from runner.stores.config import StoreConfig, open_store
    from runner.stores.keys import analysis_key

    store = open_store(StoreConfig.from_env(config.environ, config.repo_root))
    inputs = load_inputs(config)
    specs = {s.name: s for s in inputs.specs}
    known = set(specs) | set(inputs.locks) | set(inputs.invalid)
    names = sorted(n for n in known if shard is None or shard.owns(n))
    views = []
    warnings: list[str] = []
    reuse: dict[str, dict[str, bytes]] = {}
    manifest = _manifest(config.reports_dir)
    for name in names:
        lock = inputs.locks.get(name, Lock(name))
        spec = specs.get(name)
        kept = _current_files(config.reports_dir, name, page_digest(spec, lock), manifest)
        analyses = {} if kept is not None else _analyses(store, lock)
        lost = [r.id for r in lock.runs if r.status is RunStatus.COMPLETED and r.id not in analyses]
        if kept is None and lost:
            # Results this store does not hold (a local store on another machine): keep the
            # committed page rather than re-render it without them.
            kept = _current_files(config.reports_dir, name, None, manifest)
            if kept is not None:
                warnings.append(
                    f"{name}: kept the committed report: stored results of run(s) "
                    f"{', '.join(lost)} are not in this result store (configure COS to keep "
                    "results between runners)"
                )
        if kept is not None:
            reuse[name] = kept
        links = {
            r.id: url
            for r in lock.runs
            if r.status is RunStatus.COMPLETED
            and (url := _link(store.url("results", analysis_key(name, r.id))))
        }
        path = spec.path if spec else config.specs_dir / f"{name}.toml"
        views.append(
            ExperimentView(
                name=name,
                spec=spec,
                lock=lock,
                analyses={} if name in reuse else analyses,
                spec_path=display_path(path, config.repo_root),
                object_links=links,
                invalid=inputs.invalid.get(name) if spec is None else None,
            )
        )
    # Stamp pages with the newest run's time and spec commit, not the clock or HEAD:
    # otherwise committing the reports would make the next run re-render them.
    runs = sorted(
        (r for lock in inputs.locks.values() for r in lock.runs),
        key=lambda r: (parse_time(r.updated), r.id),
    )
    newest = runs[-1].updated if runs else "never"
    now = parse_time(newest) if runs else None
    commit = next((r.spec_commit for r in reversed(runs) if r.spec_commit), None)
    ctx = ReportContext(
        generated_from=commit[:12] if commit else None,
        generated_at=newest,
        qpu_budget_seconds=config.limits.qpu_seconds_budget,
        qpu_used_seconds=qpu_seconds_used(inputs.locks, now) if now else 0.0,
        queue_lengths=queue_lengths or {},
        price_per_qpu_second=config.limits.price_per_qpu_second,
    )
    files = render_reports(views, ctx, reuse=reuse)
    if shard is not None:
        del files["README.md"]
    alerts = [(v.name, a.message) for v in views for a in alerts_of(v)]
    changed = write_reports(config.reports_dir, files, prune=shard is None)
    return ReportResult(changed, alerts, warnings)


def _link(url: str) -> str | None:
    """A stored object's web address (COS), or None for a local store: its paths lie in the
    gitignored .qrun/ (or off the repository), dead links on GitHub; pages give the
    `qrun pull` command instead."""
    return url if "://" in url else None


def _manifest(reports_dir: Path) -> list[str]:
    path = reports_dir / MANIFEST
    return path.read_text("utf-8").splitlines() if path.exists() else []


def _current_files(
    reports_dir: Path, name: str, digest: str | None, manifest: list[str]
) -> dict[str, bytes] | None:
    """The committed page and figures of an experiment, when the page is whole and (unless
    digest is None) current."""
    page = reports_dir / f"{name}.md"
    found = read_digest(page)
    if found is None or (digest is not None and found != digest):
        return None
    prefix = f"figures/{name}/"
    files = {f"{name}.md": page.read_bytes()}
    for rel in manifest:
        if rel.startswith(prefix):
            path = reports_dir / rel
            if not path.is_file():
                return None  # a figure went missing: render again
            files[rel] = path.read_bytes()
    return files
