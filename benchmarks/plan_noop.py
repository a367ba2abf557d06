"""A no-op `qrun plan` over 1,000 up-to-date specs versus only parsing those files with tomllib,
in the same process; and whether qiskit was imported on that path.

Then the cold plan, as every CI run is a fresh checkout: a new process with no .qrun/cache,
against a new process that parses the same specs and their locks with tomllib (ratio 1),
and the cold plan over 10,000 specs against 1,000 (ratio 2; 10 means linear growth).

The steady state (locks with a completed run of the current hash, report pages carrying the
current digest) is built directly with the runner's own lock and digest functions, since
simulating 1,000 experiments is not what is being measured.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import time
import tomllib
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _specs import completed_run, write_specs

COUNT = 1000


def steady_state(root: Path) -> None:
    from runner.lock import Lock, write_lock
    from runner.reports.digest import MARKER, page_digest
    from runner.spec.loader import find_specs, load_spec

    (root / "reports").mkdir(exist_ok=True)
    for path in find_specs(root / "specs"):
        spec = load_spec(path, root)
        run = completed_run(spec)
        lock = Lock(spec.name, (run,))
        write_lock(root / "specs", lock)
        (root / "reports" / f"{spec.name}.md").write_text(
            MARKER.format(page_digest(spec, lock)) + "\n"
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_specs(root, COUNT)
        steady_state(root)
        start = time.perf_counter()
        for p in paths:
            tomllib.loads(p.read_text(encoding="utf-8"))
        parse = time.perf_counter() - start
        from runner.cli import main as qrun

        timings = []
        for _ in range(3):
            start = time.perf_counter()
            with redirect_stdout(io.StringIO()):
                code = qrun(
                    ["--repo", str(root), "plan", "--detailed-exitcode", "--format", "json"]
                )
            timings.append(time.perf_counter() - start)
            assert code == 0, "the steady state should plan nothing"
        probe = (
            "import sys, io, contextlib, runner.cli as c\n"
            "with contextlib.redirect_stdout(io.StringIO()): c.main(['--repo', sys.argv[1], 'plan'])\n"
            "print('qiskit' in sys.modules)"
        )
        imported = subprocess.run(
            [sys.executable, "-c", probe, str(root)], capture_output=True, text=True, check=True
        ).stdout.strip()
    best = min(timings)
    print(
        f"no-op plan over {COUNT} specs: tomllib parse only {parse * 1e3:.0f} ms; qrun plan "
        f"{timings[0] * 1e3:.0f} ms first, {best * 1e3:.0f} ms best -> ratio {timings[0] / parse:.1f}x "
        f"(first) / {best / parse:.1f}x (best); qiskit imported: {imported}"
    )


PARSE_ONLY = (
    "import sys, tomllib, pathlib\n"
    "for p in sorted(pathlib.Path(sys.argv[1], 'specs').glob('*.toml')):\n"
    "    tomllib.loads(p.read_text(encoding='utf-8'))\n"
)


def _process_seconds(args: list[str], root: Path) -> float:
    """Best of three fresh processes, each without qrun's cache."""
    import shutil

    best = float("inf")
    for _ in range(3):
        shutil.rmtree(root / ".qrun", ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def cold(count: int) -> tuple[float, float]:
    """(cold no-op plan, tomllib parse of specs and locks), both as fresh processes."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_specs(root, count)
        steady_state(root)
        plan = ["-m", "runner", "--repo", str(root), "plan", "--detailed-exitcode"]
        return _process_seconds(plan, root), _process_seconds(["-c", PARSE_ONLY, tmp], root)


def main_cold() -> None:
    plan_1k, parse_1k = cold(COUNT)
    plan_10k, _ = cold(10 * COUNT)
    print(
        f"cold no-op plan over {COUNT} specs with locks, no cache: {plan_1k * 1e3:.0f} ms vs "
        f"tomllib parse of specs and locks {parse_1k * 1e3:.0f} ms -> ratio "
        f"{plan_1k / parse_1k:.1f}x (target <= 3x)"
    )
    print(
        f"cold no-op plan over {10 * COUNT} specs: {plan_10k * 1e3:.0f} ms -> ratio "
        f"{plan_10k / plan_1k:.1f}x of {COUNT} specs (10x is linear)"
    )


if __name__ == "__main__":
    main()
    main_cold()
