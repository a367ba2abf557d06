"""Reading the repository's inputs once per command: specs (valid and not), locks, report digests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner.config import Config
from runner.errors import Diagnostic, SpecError
from runner.lock import Lock, read_all_locks
from runner.spec.loader import display_path, find_specs, load_spec
from runner.spec.model import Spec


@dataclass
class Inputs:
    specs: list[Spec] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    locks: dict[str, Lock] = field(default_factory=dict)


def load_inputs(
    config: Config, only: Sequence[str] = (), paths: Sequence[Path] | None = None
) -> Inputs:
    """Load every spec (or only the named ones) and every lock; invalid specs are kept as problems."""
    found = Inputs()
    files = list(paths) if paths is not None else find_specs(config.specs_dir)
    seen: dict[str, str] = {}
    for path in files:
        if only and path.stem not in only:
            continue
        try:
            spec = load_spec(path, config.repo_root)
        except SpecError as exc:
            found.problems.extend(exc.diagnostics)
            found.invalid[path.stem] = str(exc.diagnostics[0])
            continue
        shown = display_path(path, config.repo_root)
        if spec.name in seen:
            message = f"experiment name '{spec.name}' is also used by {seen[spec.name]}"
            found.problems.append(Diagnostic(shown, 1, 1, message))
            found.invalid[spec.name] = message
            continue
        seen[spec.name] = shown
        found.specs.append(spec)
    locks = read_all_locks(config.specs_dir) if config.specs_dir.is_dir() else {}
    found.locks = {n: lk for n, lk in locks.items() if not only or n in only}
    return found
