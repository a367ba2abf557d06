"""Checks a JSON Schema cannot express: names, templates, sweeps, QASM files, widths."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from runner.backends.catalog import target_qubits, unknown_local_target
from runner.errors import Diagnostic, QrunError
from runner.output import plural
from runner.schedule import schedule_problem
from runner.spec.expand import MAX_CIRCUITS, circuit_id, sweep_points, sweep_size
from runner.spec.locate import Path as KeyPath
from runner.spec.locate import Positions, locate
from runner.spec.model import CircuitEntry, Execution, ExpandedCircuit
from runner.spec.salvage import NO_DOUBTS, Doubts


@dataclass
class Context:
    """Where the spec came from, to resolve QASM paths and point at source positions."""

    file: str
    path: Path
    repo_root: Path
    text: str

    @cached_property
    def positions(self) -> Positions:
        """Computed only when a problem needs pointing at (most specs have none)."""
        return locate(self.text)


@dataclass
class CheckResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    params: list[dict[str, Any]] = field(default_factory=list)
    circuits: list[ExpandedCircuit] = field(default_factory=list)
    qasm_digests: dict[str, str] = field(default_factory=dict)


class _Reporter:
    def __init__(self, ctx: Context, result: CheckResult) -> None:
        self.ctx, self.result = ctx, result

    def at_key(self, path: KeyPath, message: str) -> None:
        line, col = self.ctx.positions.key(path)
        self.result.diagnostics.append(Diagnostic(self.ctx.file, line, col, message))

    def at_value(self, path: KeyPath, message: str) -> None:
        line, col = self.ctx.positions.value(path)
        self.result.diagnostics.append(Diagnostic(self.ctx.file, line, col, message))


def check_spec(
    name: str,
    targets: tuple[str, ...],
    execution: Execution,
    entries: tuple[CircuitEntry, ...],
    ctx: Context,
    indices: tuple[int, ...] | None = None,
    doubts: Doubts = NO_DOUBTS,
) -> CheckResult:
    """Every semantic problem of a spec, plus the expanded circuits. For a spec that failed
    its schema, entries are the usable ones at their indices in the file, and the checks
    whose input the schema rejected (doubts) are skipped (see runner.spec.salvage)."""
    result = CheckResult()
    report = _Reporter(ctx, result)
    places = indices if indices is not None else tuple(range(len(entries)))
    if not doubts.name and name != ctx.path.stem:
        report.at_value(
            ("name",),
            f"name '{name}' must equal the file stem '{ctx.path.stem}'; "
            f'rename the file to {name}.toml or set name = "{ctx.path.stem}"',
        )
    for n, target in enumerate(targets):
        at: KeyPath = ("backend", "target", n) if len(targets) > 1 else ("backend", "target")
        if problem := unknown_local_target(target):
            report.at_value(at, problem)
    if execution.schedule and (problem := schedule_problem(execution.schedule)):
        report.at_value(("execution", "schedule"), problem)
    options = execution.options
    if "resilience_level" in options and execution.primitive != "estimator":
        report.at_value(
            ("execution", "options", "resilience_level"),
            "resilience_level applies to the estimator only; remove it or set "
            'primitive = "estimator"',
        )
    seen: set[str] = set()
    total = sum(sweep_size(e) for e in entries)
    if total > MAX_CIRCUITS:
        report.at_key(
            ("circuits",),
            f"the spec expands to {total} circuits (at most {MAX_CIRCUITS}); "
            "shrink the sweeps or split the spec",
        )
    for index, entry in zip(places, entries, strict=True):
        where: KeyPath = ("circuits", index)
        if entry.name in seen:
            report.at_value(
                (*where, "name"), f"circuit name '{entry.name}' is used twice; names must be unique"
            )
        seen.add(entry.name)
        checked = total <= MAX_CIRCUITS
        params = _check_entry(entry, where, execution, report, ctx, doubts) if checked else {}
        result.params.append(params)
    for target in targets:  # on the circuits that were built; their problems are their own
        _check_widths(target, entries, places, report)
    return result


def _check_entry(
    entry: CircuitEntry,
    where: KeyPath,
    execution: Execution,
    report: _Reporter,
    ctx: Context,
    doubts: Doubts,
) -> dict[str, Any]:
    index = where[1]
    observed = not doubts.primitive and index not in doubts.observables
    if observed and execution.primitive == "estimator" and not entry.observables:
        report.at_key(
            where, f"circuit '{entry.name}' needs observables with primitive = \"estimator\""
        )
    if observed and execution.primitive == "sampler" and entry.observables:
        report.at_key(
            (*where, "observables"),
            'observables are for the estimator; remove them or set primitive = "estimator"',
        )
    if entry.qasm is not None:
        if entry.params or entry.sweep:
            report.at_key(where, "params and sweep apply to templates, not QASM circuits")
        width = _check_qasm(entry.qasm, (*where, "qasm"), report, ctx)
        if width is not None:
            _add(report, entry, {}, width)
        return {}
    if index in doubts.unbuilt:  # its params or sweep failed the schema: only the template
        _template_of(entry, where, report)
        return {}
    return _check_template(entry, where, report)


def _template_of(entry: CircuitEntry, where: KeyPath, report: _Reporter) -> Any:
    """The entry's template, or None when the name is unknown (reported)."""
    from runner.templates.registry import get_template

    try:
        return get_template(entry.template or "")
    except QrunError as exc:
        report.at_value((*where, "template"), str(exc))
        return None


def _check_template(entry: CircuitEntry, where: KeyPath, report: _Reporter) -> dict[str, Any]:
    template = _template_of(entry, where, report)
    if template is None:
        return {}
    known = template.params_schema.get("properties", {})
    params = template.resolve(entry.params)
    for key in entry.sweep:
        if key not in known:
            report.at_key(
                (*where, "sweep", key),
                f"sweep key '{key}' is not a parameter of template "
                f"'{template.name}' (parameters: {', '.join(sorted(known))})",
            )
        elif key in entry.params:
            report.at_key((*where, "sweep", key), f"'{key}' is both in params and sweep; keep one")
    if any(k not in known or k in entry.params for k in entry.sweep):
        return params
    for point in sweep_points(entry) or [{}]:
        merged = {**params, **point}
        problems = template.validate(merged)
        if problems:
            label = f"{circuit_id(entry, point)}: " if point else ""
            path = (*where, "sweep") if point else (*where, "params")
            line_key = next((k for k in merged if any(p.startswith(k) for p in problems)), None)
            if line_key in point:  # the offending sweep value itself
                values = entry.sweep[line_key]
                path = (*where, "sweep", line_key, values.index(point[line_key]))
            elif line_key in entry.params:
                path = (*where, "params", line_key)
            report.at_value(path, f"{label}template '{template.name}': {'; '.join(problems[:3])}")
            return params
        _add(report, entry, point, template.width_of(merged), merged)
    return params


def _add(
    report: _Reporter,
    entry: CircuitEntry,
    point: dict[str, Any],
    width: int,
    params: dict[str, Any] | None = None,
) -> None:
    report.result.circuits.append(
        ExpandedCircuit(
            circuit_id=circuit_id(entry, point),
            entry=entry.name,
            template=entry.template,
            params=params or {},
            qasm=entry.qasm,
            observables=entry.observables,
            width=width,
            layout=entry.layout,
        )
    )


def _check_qasm(rel: str, where: KeyPath, report: _Reporter, ctx: Context) -> int | None:
    root = ctx.repo_root.resolve()
    try:
        resolved = (ctx.path.parent / rel).resolve()
        inside = not Path(rel).is_absolute() and resolved.is_relative_to(root)
        data = resolved.read_bytes() if inside and resolved.is_file() else None
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, no permission
        reason = getattr(exc, "strerror", None) or str(exc)
        report.at_value(where, f"QASM file '{rel}' cannot be read ({reason}); check the path")
        return None
    if not inside:
        report.at_value(
            where,
            f"QASM path '{rel}' leaves the repository; keep circuit files "
            "inside it (relative to the spec, no '..' escape or symlink out)",
        )
        return None
    if data is None:
        report.at_value(
            where,
            f"QASM file '{rel}' not found (looked for {resolved.relative_to(root).as_posix()}); "
            "fix the path (relative to the spec file) or add the file",
        )
        return None
    report.result.qasm_digests[rel] = hashlib.sha256(data).hexdigest()
    return _qasm_width(data, rel, resolved.relative_to(root).as_posix(), where, report)


_QASM_WIDTHS: dict[str, int] = {}  # by content: a file shared by several specs is parsed once


def _qasm_width(data: bytes, rel: str, shown: str, where: KeyPath, report: _Reporter) -> int | None:
    """The circuit's width, parsing the file once per content (qiskit is imported only here)."""
    digest = hashlib.sha256(data).hexdigest()
    if digest in _QASM_WIDTHS:
        return _QASM_WIDTHS[digest]
    from runner.templates.qasm import QasmError, load_qasm

    try:
        width = int(load_qasm(data.decode("utf-8", errors="replace")).num_qubits)
    except QasmError as exc:
        report.result.diagnostics.append(
            Diagnostic(shown, exc.line, exc.col, f"OpenQASM: {exc.message}")
        )
        report.at_value(where, f"QASM file '{rel}' does not parse (see {shown}:{exc.line})")
        return None
    _QASM_WIDTHS[digest] = width
    return width


def _check_layout(
    circuit: ExpandedCircuit, target: str, size: int | None, path: KeyPath, report: _Reporter
) -> bool:
    """A layout gives one distinct physical qubit per circuit qubit, all on the device.
    (Distinctness is the schema's uniqueItems.) False when a problem was reported."""
    layout = circuit.layout or ()
    if len(layout) != circuit.width:
        report.at_value(
            (*path, "layout"),
            f"layout lists {len(layout)} physical qubit(s) but circuit '{circuit.circuit_id}' "
            f"has {circuit.width}; give one physical qubit per circuit qubit",
        )
        return False
    for n, qubit in enumerate(layout):
        if size is not None and target != "local:aer" and qubit >= size:
            report.at_value(
                (*path, "layout", n),
                f"physical qubit {qubit} does not exist on {target} (qubits 0-{size - 1}); "
                "pick qubits of the device",
            )
            return False
    return True


def _check_widths(
    target: str, entries: tuple[CircuitEntry, ...], at: tuple[int, ...], report: _Reporter
) -> None:
    size = target_qubits(target)
    index = {entry.name: i for i, entry in zip(at, entries, strict=True)}
    reported: set[str] = set()  # one layout problem per entry, not one per sweep point
    bad_observables: set[tuple[str, int]] = set()
    for circuit in report.result.circuits:
        path: KeyPath = ("circuits", index[circuit.entry])
        fresh = circuit.layout is not None and circuit.entry not in reported
        if fresh and not _check_layout(circuit, target, size, path, report):
            reported.add(circuit.entry)
        if size is not None and circuit.width > size:
            report.at_key(
                path,
                f"circuit '{circuit.circuit_id}' needs {circuit.width} qubits but "
                f"{target} has {size}; pick a larger backend or a smaller circuit",
            )
        for n, obs in enumerate(circuit.observables):
            # every bad observable, once per entry (not again for each sweep point)
            # (a blank one failed the schema, which said so)
            if obs and len(obs) != circuit.width and (circuit.entry, n) not in bad_observables:
                bad_observables.add((circuit.entry, n))
                report.at_value(
                    (*path, "observables", n),
                    f"observable '{obs}' has {plural(len(obs), 'qubit')} but circuit "
                    f"'{circuit.circuit_id}' has {circuit.width}; write one Pauli letter per qubit",
                )
