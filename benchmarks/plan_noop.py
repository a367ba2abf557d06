"""A no-op `qrun plan` over 1,000 up-to-date specs versus only parsing those files with tomllib,
in the same process; and whether qiskit was imported on that path.

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


if __name__ == "__main__":
    main()
