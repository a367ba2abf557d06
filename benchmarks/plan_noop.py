"""A no-op `qrun plan` over 1,000 up-to-date specs versus only parsing those files with tomllib,
in the same process; and whether qiskit was imported on that path.

Then the cold plan, as every CI run is a fresh checkout: a new process with no .qrun/cache
and CI=true (qrun neither reads nor writes its caches there),
against a new process that parses the same specs and their locks with tomllib (ratio 1,
target at most 3x), and the cold plan over 10,000 specs against 10 times the 1,000-spec
plan (ratio 2; 1.0 is linear growth).

The steady state (locks with a completed run of the current hash, report pages carrying the
current digest) is built once, for 10,000 specs, with the runner's own lock and digest
functions (written without fsync: simulating or durably storing 10,000 experiments is not
what is measured); the 1,000-spec repository is a copy of its first 1,000. Processes run
with bytecode caching on (in a temporary PYTHONPYCACHEPREFIX), as an installed qrun has it,
and every process has a time limit, so the benchmark always ends.
"""

from __future__ import annotations

import io
import os
import shutil
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
LIMIT_SECONDS = 120  # per process; a plan over 10,000 specs takes a few seconds


def steady_state(root: Path) -> None:
    from runner.lock import Lock, render_lock
    from runner.reports.digest import MARKER, page_digest
    from runner.spec.loader import find_specs, load_spec

    (root / "reports").mkdir(exist_ok=True)
    for path in find_specs(root / "specs"):
        spec = load_spec(path, root)
        lock = Lock(spec.name, (completed_run(spec),))
        (root / "specs" / f"{spec.name}.lock.toml").write_text(render_lock(lock))
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


def _seconds(args: list[str], root: Path, env: dict[str, str]) -> float:
    """One fresh process without qrun's cache; exit 0 (planned nothing) or it is an error."""
    shutil.rmtree(root / ".qrun", ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], check=True, capture_output=True, env=env, timeout=LIMIT_SECONDS
    )
    return time.perf_counter() - start


def cold(root: Path, env: dict[str, str], rounds: int) -> tuple[float, float]:
    """Best (cold no-op plan, tomllib parse of specs and locks), alternating the two so
    that load from other processes on the machine falls on both alike."""
    plan = ["-m", "runner", "--repo", str(root), "plan", "--detailed-exitcode"]
    parse = ["-c", PARSE_ONLY, str(root)]
    pairs = [(_seconds(plan, root, env), _seconds(parse, root, env)) for _ in range(rounds)]
    return min(p for p, _ in pairs), min(q for _, q in pairs)


def _copy_first(src: Path, dest: Path, count: int) -> None:
    for sub in ("specs", "reports"):
        (dest / sub).mkdir(parents=True)
    for i in range(count):
        name = f"bench-{i:04d}"
        for rel in (f"specs/{name}.toml", f"specs/{name}.lock.toml", f"reports/{name}.md"):
            shutil.copyfile(src / rel, dest / rel)


def main_cold() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp, "10k"), Path(tmp, "1k")
        write_specs(big, 10 * COUNT)
        steady_state(big)
        _copy_first(big, small, COUNT)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["CI"] = "true"  # as on CI, where a checkout is fresh: qrun keeps no cache there
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp, "pycache"))
        _seconds(["-m", "runner", "--repo", str(small), "plan"], small, env)  # writes bytecode
        plan_1k, parse_1k = cold(small, env, rounds=9)
        plan_10k, parse_10k = cold(big, env, rounds=2)
    print(
        f"cold no-op plan over {COUNT} specs with locks, no cache: {plan_1k * 1e3:.0f} ms vs "
        f"tomllib parse of specs and locks {parse_1k * 1e3:.0f} ms -> ratio "
        f"{plan_1k / parse_1k:.2f}x (target <= 3x)"
    )
    print(
        f"cold no-op plan over {10 * COUNT} specs: {plan_10k * 1e3:.0f} ms (tomllib parse "
        f"{parse_10k * 1e3:.0f} ms, ratio {plan_10k / parse_10k:.2f}x) -> growth "
        f"t(10k) / (10 x t(1k)) = {plan_10k / (10 * plan_1k):.2f} (1.0 is linear)"
    )
    # the machine's load while measuring: on a shared one, ratios drift with it
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
    main_cold()
