"""qrun validate: check specs and point at each problem in the TOML source."""

from __future__ import annotations

import argparse
from pathlib import Path

from runner.backends.fleet import is_retired, retirement_message
from runner.config import Config
from runner.errors import BackendError, Diagnostic
from runner.inputs import load_inputs
from runner.output import Output, plural
from runner.spec.loader import display_path, find_specs
from runner.spec.locate import locate
from runner.spec.model import Spec


def check_ibm_targets(config: Config, specs: list[Spec], out: Output) -> list[Diagnostic]:
    """Unknown and retired IBM backend names, checked only when IBM credentials are in the environment
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
        message = (
            retirement_message(spec.target, names)
            if is_retired(spec.target, names)
            else unknown_backend_message(spec.target, names)
        )
        problems.append(Diagnostic(shown, line, col, message))
    return problems


def run(args: argparse.Namespace) -> int:
    config = Config.load(args.repo)
    out = Output(args.format, quiet=args.quiet)
    files = [Path(p) for p in args.paths] if args.paths else find_specs(config.specs_dir)
    inputs = load_inputs(config, paths=files)
    specs, problems, count = inputs.specs, inputs.problems, len(files)
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
        f"{plural(count, 'spec')} checked: {count - bad} valid, {bad} invalid"
        + ("" if not problems else f" ({plural(len(problems), 'problem')})")
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
