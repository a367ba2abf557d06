"""Reading the repository's inputs once per command: specs (valid and not), locks, report digests."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner.config import Config
from runner.errors import Diagnostic, SpecError, UsageError
from runner.files import Containment
from runner.lock import Lock, lock_cache, read_all_locks
from runner.shard import Shard
from runner.spec.cache import SpecCache
from runner.spec.loader import display_path, find_specs, load_spec
from runner.spec.locate import locate
from runner.spec.model import Spec


@dataclass
class Inputs:
    specs: list[Spec] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    locks: dict[str, Lock] = field(default_factory=dict)
    only: frozenset[str] = frozenset()  # restrict actions to these names (locks stay whole)
    shard: Shard | None = None  # restrict actions to this shard's names (locks stay whole)
    elsewhere: list[Spec] = field(default_factory=list)  # other shards' valid specs: planned
    # with ours, so per-PR rules and the budget count the whole plan, then left to their shard

    def selects(self, name: str) -> bool:
        """Whether this invocation acts on name (--only and --shard narrow; budgets do not)."""
        return (not self.only or name in self.only) and (
            self.shard is None or self.shard.owns(name)
        )


def _quietly(
    path: Path, config: Config, cache: SpecCache | None, inside: Containment
) -> Spec | None:
    """Another shard's spec, or None when it is not valid (its own shard reports why)."""
    try:
        return load_spec(path, config.repo_root, cache, inside) if path.is_file() else None
    except SpecError:
        return None


def load_inputs(
    config: Config,
    only: Sequence[str] = (),
    paths: Sequence[Path] | None = None,
    shard: Shard | None = None,
) -> Inputs:
    """Load every spec (or only the named ones) and every lock; invalid specs are kept as
    problems. With explicit paths (validation), just those specs: no caches, no locks. On CI
    no cache either: a fresh checkout has none of its own, writing one is time spent for a
    directory thrown away, and one committed to the repository is not to be trusted as
    validated specs.
    With a shard, `specs` and the problems are the specs it owns; the other shards' valid
    specs go to `elsewhere` (their shard reports their problems)."""
    found = Inputs(shard=shard)
    files = list(paths) if paths is not None else find_specs(config.specs_dir)
    seen: dict[str, str] = {}
    cached = paths is None and not config.in_ci
    spec_cache = SpecCache(config.repo_root) if cached else None
    inside = Containment(config.repo_root)
    for path in files:
        if only and path.stem not in only:
            continue
        if shard is not None and not shard.owns(path.stem):
            other = _quietly(path, config, spec_cache, inside)
            found.elsewhere.extend([other] if other is not None else [])
            continue
        shown = display_path(path, config.repo_root)
        if not path.is_file():
            found.problems.append(Diagnostic(shown, 1, 1, "no such spec file"))
            found.invalid[path.stem] = f"{shown}: no such spec file"
            continue
        try:
            spec = load_spec(path, config.repo_root, spec_cache, inside)
        except SpecError as exc:
            found.problems.extend(exc.diagnostics)
            found.invalid[path.stem] = str(exc.diagnostics[0])
            continue
        if spec.name in seen:
            line, col = locate(path.read_text(encoding="utf-8")).value(("name",))
            message = f"experiment name '{spec.name}' is also used by {seen[spec.name]}; names must be unique"
            found.problems.append(Diagnostic(shown, line, col, message))
            found.invalid[spec.name] = message
            continue
        seen[spec.name] = shown
        found.specs.append(spec)
    if spec_cache is not None:
        spec_cache.save(prune=not only and shard is None)
    # Every lock is loaded even with --only: budgets and pending-job limits span all specs.
    # Explicit paths mean validation only: no locks needed.
    if paths is None and config.specs_dir.is_dir():
        cache = lock_cache(config.repo_root) if cached else None
        found.locks = read_all_locks(config.specs_dir, cache)
        if cache is not None:
            cache.save()
    found.only = frozenset(only)
    unknown = sorted(set(only) - {p.stem for p in files} - set(found.locks))
    if unknown and paths is None:
        known = sorted({p.stem for p in files} | set(found.locks))
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"no experiment named '{unknown[0]}' in specs/.{hint}")
    return found
