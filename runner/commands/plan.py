"""qrun plan: what apply would do and why, as a table, Markdown (PR comment) or JSON."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.budget import qpu_seconds_held, qpu_seconds_used
from runner.config import Config
from runner.inputs import load_inputs
from runner.lock import Lock, RunStatus
from runner.output import Output, plural
from runner.pipeline import backend_factory, clock, detect_trigger
from runner.plan import Action, Kind
from runner.planning import decide
from runner.render_plan import (
    PLAN_COLUMNS,
    SUMMARY_LIMIT,
    PlanView,
    budget_line,
    label,
    money,
    plan_markdown,
    plan_rows,
    preview_lines,
)
from runner.shard import Shard, default_shards, matrix


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    finally:
        gc.unfreeze()  # the inputs frozen while planning are ordinary garbage again


@contextmanager
def _read_without_collecting() -> Iterator[None]:
    """Specs and locks form no reference cycles and live until the plan is printed: the
    cyclic collector does not run while thousands of them are read, nor walk them again
    afterwards (frozen until `run` ends). Over 10,000 specs it otherwise took 15% of a plan."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    config = Config.load(args.repo)
    out = Output("json" if args.format == "json" else "text", quiet=args.quiet)
    only = list(args.only)
    changes = None
    if args.base:
        from runner.git_ops import changed_specs

        changes = changed_specs(config.repo_root, args.base)
        # a removed spec has a lock (or nothing at all): plan only names qrun knows
        known = {p.name.removesuffix(".lock.toml").removesuffix(".toml")
                 for p in config.specs_dir.glob("*.toml")}  # fmt: skip
        only = only or sorted({c.name for c in changes} & known)
    if args.base and not only:  # the pull request touches no spec: nothing to plan
        from runner.inputs import Inputs

        inputs = Inputs()
    else:
        shard = Shard.parse(args.shard) if getattr(args, "shard", None) else None
        with _read_without_collecting():
            inputs = load_inputs(config, only, shard=shard)
    for diag in inputs.problems:
        if args.format != "markdown":
            out.diagnostic(diag)
    now = clock(config)
    # policy findings go to stderr (annotations included), so stdout stays the document
    decision = decide(config, Output("text", sys.stderr), inputs, now,
                      detect_trigger(config, args.trigger), backend_factory(config))  # fmt: skip
    actions, violations, budget = decision.actions, decision.violations, decision.budget
    specs = {s.name: s for s in inputs.specs}
    if any(a.kind is Kind.SUBMIT and a.estimate_cost is not None for a in actions):
        from runner.backends.ibm import settings_from
        from runner.backends.ibm_dry_run import annotate, wait_seconds

        wait = wait_seconds(config.environ)  # the service's own estimate, beside qrun's
        actions = annotate(settings_from(config), actions, specs, budget.price_per_qpu_second, wait)
    previews: dict[str, tuple[Any, list[Any]]] = {}
    submits = [a for a in actions if a.kind is Kind.SUBMIT and a.name in specs]
    if submits:
        from runner.preview import preview

        for a in submits:
            variant = specs[a.name].variant(a.target)
            previews[label(a)] = (variant, preview(variant, simulate=args.preview))
    if args.format == "markdown":
        view = PlanView(
            actions,
            specs,
            previews,
            inputs.problems,
            changes,
            last_runs=_last_runs(config, submits, inputs.locks),
            seconds_left=config.limits.qpu_seconds_budget
            - qpu_seconds_used(inputs.locks, now)
            - qpu_seconds_held(inputs.locks, now),
            violations=violations,
            budget=budget,
        )
        out.raw(plan_markdown(view))
        if getattr(args, "summary", None):  # the uncut plan, for the job summary
            with Path(args.summary).open("a", encoding="utf-8") as summary:
                summary.write(plan_markdown(view, SUMMARY_LIMIT, "the job log (`qrun plan`)"))
    elif args.format == "json":
        work = sorted({a.name for a in actions if a.changes})
        shards = getattr(args, "shards", None) or default_shards(len(work))
        out.envelope(
            "plan",
            not inputs.problems,
            [_action_json(a, previews) for a in actions],
            matrix=matrix(work, shards),
            budget={
                "qpu_seconds_left": budget.qpu_seconds_left,
                "price_per_qpu_second": budget.price_per_qpu_second,
                "open_plan": budget.open_plan,
            },
        )
    else:
        out.table(PLAN_COLUMNS, plan_rows(actions))
        for name, (_, items) in previews.items():
            for p in items:
                t = p.transpiled
                shape = (
                    f"depth {t.depth}, {plural(t.two_qubit_gates, 'two-qubit gate')}"
                    if t
                    else "not transpiled (no offline model of the target)"
                )
                out.line(f"  {name} {p.circuit_id}: {plural(p.width, 'qubit')}, {shape}")
                for line in preview_lines(p):
                    out.line(f"    {line}")
        todo = sum(a.changes for a in actions)
        out.line(
            f"Plan: {plural(todo, 'action')} to apply, "
            f"{sum(a.kind is Kind.BLOCKED for a in actions)} blocked, "
            f"{sum(a.kind is Kind.DEFER for a in actions)} deferred."
        )
        if line := budget_line(actions, budget):
            out.line(line)
        for a in actions:
            if "service_estimate" in a.details:
                out.line(
                    f"  {label(a)}: qrun est. {a.estimate_seconds:g} QPU s "
                    f"({money(a.estimate_cost)}); {a.details['service_estimate']}"
                )
    if inputs.problems:
        return 1
    if args.detailed_exitcode and any(a.changes for a in actions):
        return 2
    return 0


def _last_runs(
    config: Config, submits: list[Action], locks: dict[str, Lock]
) -> dict[str, tuple[str, dict]]:
    """The last completed run's analysis of each spec to be re-run, for the metric table;
    none when this checkout's result store does not hold it (a fresh CI runner without COS)."""
    import json

    from runner.stores.config import StoreConfig, open_store

    found: dict[str, tuple[str, dict]] = {}
    store = None
    for a in submits:
        lock = locks.get(a.name)
        target = a.target or (a.details or {}).get("target")
        runs = [r for r in (lock.runs if lock else []) if r.status is RunStatus.COMPLETED]
        last = next((r for r in reversed(runs) if r.target == target), None)
        if last is None:
            continue
        ref = next((o for o in last.objects if o.key.endswith("/analysis.json")), None)
        if ref is None:
            continue
        store = store or open_store(StoreConfig.from_env(config.environ, config.repo_root))
        if store.exists("results", ref.key) is not None:
            found[label(a)] = (last.id, json.loads(store.get("results", ref.key, ref.sha256)))
    return found


def _action_json(action: Action, previews: dict) -> dict:
    doc = {
        "kind": action.kind.value,
        "name": action.name,
        "reason": action.reason,
        "run_id": action.run_id,
        "target": action.target,
        "trigger": action.trigger,
        "estimate_qpu_seconds": action.estimate_seconds,
        "estimate_cost": action.estimate_cost,  # a number for hardware runs, null for local
        **dict(action.details),
    }
    if label(action) in previews and action.kind is Kind.SUBMIT:
        doc["circuits_preview"] = [
            {
                "circuit_id": p.circuit_id,
                "width": p.width,
                "depth": p.transpiled.depth if p.transpiled else None,
                "two_qubit_gates": p.transpiled.two_qubit_gates if p.transpiled else None,
                "ideal": p.ideal,
                "noisy": p.noisy,
                "ideal_expectation_values": p.expectations,
            }
            for p in previews[label(action)][1]
        ]
    return doc
