"""qrun diff NAME [RUN_A RUN_B]: how the metrics moved between two runs (default: the last two)."""

from __future__ import annotations

import argparse
import json

from runner.analysis.compare import metric_diff
from runner.config import Config
from runner.errors import UsageError
from runner.lock import RunStatus, read_lock
from runner.output import Output
from runner.reports.markdown import md


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def run(args: argparse.Namespace) -> int:
    config = Config.load(args.repo)
    out = Output("json" if args.format == "json" else "text", quiet=args.quiet)
    lock = read_lock(config.specs_dir, args.name)
    done = [r for r in lock.runs if r.status is RunStatus.COMPLETED]
    if args.runs and len(args.runs) != 2:
        raise UsageError("give two run ids, or none to compare the last two completed runs")
    if args.runs:
        ids = {r.id: r for r in lock.runs}
        missing = [r for r in args.runs if r not in ids]
        if missing:
            raise UsageError(
                f"unknown run {missing[0]!r} of '{args.name}'; runs: {', '.join(ids) or 'none'}"
            )
        old, new = ids[args.runs[0]], ids[args.runs[1]]
    else:
        if len(done) < 2:
            raise UsageError(f"'{args.name}' has {len(done)} completed run(s); diff needs two")
        old, new = done[-2], done[-1]
    from runner.stores.config import StoreConfig, open_store

    store = open_store(StoreConfig.from_env(config.environ, config.repo_root))
    docs = []
    for record in (old, new):
        ref = next((o for o in record.objects if o.key.endswith("/analysis.json")), None)
        if ref is None:
            raise UsageError(
                f"run {record.id} has no stored analysis (status {record.status.value})"
            )
        docs.append(json.loads(store.get("results", ref.key, ref.sha256)))
    rows = metric_diff(docs[0], docs[1])
    if args.format == "markdown":
        lines = [
            f"| circuit | metric | {md(old.id)} | {md(new.id)} | change |",
            "| --- | --- | ---: | ---: | --- |",
        ]
        lines += [
            f"| {md(d.circuit_id)} | {md(d.metric)} | {_fmt(d.old)} | {_fmt(d.new)} | "
            f"{'' if d.change is None else f'{d.change:+.4g} '}{d.verdict} |"
            for d in rows
        ]
        out.raw("\n".join(lines))
    else:
        out.line(f"{args.name}: {old.id} ({old.backend}) → {new.id} ({new.backend})")
        out.table(
            ["circuit", "metric", old.id, new.id, "change"],
            [
                [
                    d.circuit_id,
                    d.metric,
                    _fmt(d.old),
                    _fmt(d.new),
                    ("" if d.change is None else f"{d.change:+.4g} ") + d.verdict,
                ]
                for d in rows
            ],
        )
    out.envelope(
        "diff",
        True,
        {
            "old": old.id,
            "new": new.id,
            "rows": [
                {
                    "circuit_id": d.circuit_id,
                    "metric": d.metric,
                    "old": d.old,
                    "new": d.new,
                    "change": d.change,
                    "verdict": d.verdict,
                }
                for d in rows
            ],
        },
    )
    return 0
