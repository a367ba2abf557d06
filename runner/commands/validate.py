"""qrun validate: check specs and point at each problem in the TOML source."""

from __future__ import annotations

import argparse
from pathlib import Path

from runner.config import Config
from runner.errors import BackendError, Diagnostic, SpecError
from runner.output import Output
from runner.spec.loader import display_path, find_specs, load_spec
from runner.spec.locate import locate
from runner.spec.model import Spec


def load_all(config: Config, paths: list[str]) -> tuple[list[Spec], list[Diagnostic], int]:
    """Load specs (given paths, or all under specs/); return valid specs, problems, count."""
    files = [Path(p) for p in paths] if paths else find_specs(config.specs_dir)
    specs: list[Spec] = []
    problems: list[Diagnostic] = []
    seen: dict[str, str] = {}
    for path in files:
        shown = display_path(path, config.repo_root)
        if not path.is_file():
            problems.append(Diagnostic(shown, 1, 1, "no such spec file"))
            continue
        try:
            spec = load_spec(path, config.repo_root)
        except SpecError as exc:
            problems.extend(exc.diagnostics)
            continue
        if spec.name in seen:
            line, col = locate(path.read_text(encoding="utf-8")).value(("name",))
            problems.append(
                Diagnostic(
                    shown,
                    line,
                    col,
                    f"experiment name '{spec.name}' is also used "
                    f"by {seen[spec.name]}; names must be unique",
                )
            )
            continue
        seen[spec.name] = shown
        specs.append(spec)
    return specs, problems, len(files)


def check_ibm_targets(config: Config, specs: list[Spec], out: Output) -> list[Diagnostic]:
    """Unknown IBM backend names, checked only when IBM credentials are in the environment
    (pull requests have none, so validate stays offline and fast there)."""
    wanted = [s for s in specs if not s.target.startswith("local:") and s.target != "least_busy"]
    if not wanted or not config.environ.get("IBM_QUANTUM_TOKEN"):
        return []
    from runner.backends.ibm import available_backends, settings_from, unknown_backend_message

    try:
        names = available_backends(settings_from(config))
    except BackendError as exc:
        out.line(f"warning: IBM backend names not checked: {exc}")
        return []
    if not names:
        out.line("warning: IBM backend names not checked: the service listed no backends")
        return []
    problems = []
    for spec in (s for s in wanted if s.target not in names):
        line, col = locate(spec.path.read_text(encoding="utf-8")).value(("backend", "target"))
        shown = display_path(spec.path, config.repo_root)
        problems.append(Diagnostic(shown, line, col, unknown_backend_message(spec.target, names)))
    return problems


def run(args: argparse.Namespace) -> int:
    config = Config.load(args.repo)
    out = Output(args.format, quiet=args.quiet)
    specs, problems, count = load_all(config, args.paths)
    unknown = check_ibm_targets(config, specs, out)
    if unknown:
        problems += unknown
        bad_files = {d.path for d in unknown}
        specs = [s for s in specs if display_path(s.path, config.repo_root) not in bad_files]
    for diag in problems:
        out.diagnostic(diag)
    out.annotation_summary()
    if args.verbose:
        for spec in specs:
            out.line(
                f"{spec.name}: run hash {spec.run_hash[:16]}, {len(spec.circuits)} circuits "
                f"on {spec.target}"
            )
            for c in spec.circuits:
                out.line(f"  {c.circuit_id}  width={c.width}")
    bad = count - len(specs)
    out.line(
        f"{count} spec(s) checked: {count - bad} valid, {bad} invalid"
        + ("" if not problems else f" ({len(problems)} problem(s))")
    )
    out.envelope(
        "validate",
        not problems,
        {
            "checked": count,
            "valid": [s.name for s in specs],
            "problems": [d.__dict__ for d in problems],
        },
    )
    return 1 if problems else 0
