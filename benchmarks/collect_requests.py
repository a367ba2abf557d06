"""IBM Quantum API requests of one `qrun apply` collect pass: 100 completed experiments plus
1, 10 and 100 pending jobs. Completed experiments must cost nothing, and pending jobs O(1):
one listing of the instance's pending qrun-tagged jobs per pass. Then the pass that finishes
the 100: per finished job one request of its state (GET /jobs/{id}), its results and its
metrics; per pass a page of the finished-jobs listing and, per device, a calibration read as
of the first start and one as of now (they span the starts between).

The emulator from tests/ibm_emulator runs in this process; the completed experiments' locks
are written directly with the runner's own lock functions (their history is not what is
measured), the pending ones are submitted for real and held queued by the emulator.
Run from the repository root: `python benchmarks/collect_requests.py`.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# Importing qiskit_ibm_runtime first in an emulator thread and transpiling later in the main
# thread segfaults (qiskit 2.6.1 / qiskit-ibm-runtime 0.51): import it here first.
import qiskit_ibm_runtime  # noqa: E402, F401
from _specs import completed_run  # noqa: E402

from tests.ibm_emulator import IBMRuntimeEmulator  # noqa: E402

COMPLETED = 100
SPEC = """name = "{name}"
description = "collect benchmark"

[backend]
target = "ibm_fez"

[execution]
shots = 100

[[circuits]]
name = "bell"
template = "bell"
"""
SWEEP = """[[circuits]]
name = "qv"
template = "quantum_volume"
params = {{ width = 2, depth = 1 }}
sweep = {{ seed = {seeds} }}
"""


def write_spec(root: Path, name: str, jobs: int = 1) -> Path:
    """A spec of `jobs` circuits (one job each, with QRUN_MAX_CIRCUITS_PER_JOB=1)."""
    path = root / "specs" / f"{name}.toml"
    text = SPEC.format(name=name)
    if jobs > 1:
        text = text.split("[[circuits]]")[0] + SWEEP.format(seeds=list(range(jobs)))
    path.write_text(text, encoding="utf-8")
    return path


def completed_history(root: Path) -> None:
    """COMPLETED experiments whose latest run finished on ibm_fez (locks only)."""
    from runner.lock import JobRecord, Lock, write_lock
    from runner.spec.loader import load_spec

    for i in range(COMPLETED):
        spec = load_spec(write_spec(root, f"done-{i:03d}"), root)
        run = completed_run(
            spec,
            backend="ibm_fez",
            qpu_seconds=2.0,
            jobs=(JobRecord(f"done{i:016d}", ("bell",), "completed", None, 2.0),),
        )
        write_lock(root / "specs", Lock(spec.name, (run,)))


def apply(root: Path) -> None:
    from runner.cli import main as qrun

    with redirect_stdout(io.StringIO()) as out:
        code = qrun(["--repo", str(root), "apply"])
    assert code == 0, out.getvalue()


def collect_pass(root: Path, emulator: IBMRuntimeEmulator) -> Counter[str]:
    """Requests of one apply that only collects (the held jobs stay queued)."""
    emulator.clear_requests()
    apply(root)
    return Counter(f"{r.method} {shape(r.path)}" for r in emulator.requests)


def shape(path: str) -> str:
    for prefix in ("/api/v1/jobs/", "/catalog/"):
        if path.startswith(prefix):
            rest = path[len(prefix) :].split("/", 1)
            return prefix + "{id}" + ("/" + rest[1] if len(rest) > 1 else "")
    return path


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        IBMRuntimeEmulator(queued_polls=0, running_polls=0) as emulator,
    ):
        root = Path(tmp)
        (root / "specs").mkdir()
        (root / "reports").mkdir()
        os.environ.update(emulator.client_env())
        for var in ("QRUN_MAX_PENDING_JOBS", "QRUN_SUBMISSIONS_PER_MINUTE"):
            os.environ[var] = "1000"
        os.environ["QRUN_MAX_CIRCUITS_PER_JOB"] = "1"
        completed_history(root)
        emulator.jobs.hold()
        counts = {}
        for pending in (1, 10, 100):
            write_spec(root, f"pending-{pending:03d}", pending - emulator.submissions)
            apply(root)  # submits the new spec's jobs; they are held queued
            assert emulator.submissions == pending
            counts[pending] = collect_pass(root, emulator)
        emulator.jobs.release()
        finishing = collect_pass(root, emulator)
    base = sum(counts[1].values())
    for pending, count in counts.items():
        total = sum(count.values())
        print(
            f"collect pass over {COMPLETED} completed experiments and {pending:3d} pending "
            f"job(s): {total} requests, {total / base:.2f}x the 1-pending pass"
        )
    total = sum(finishing.values())
    print(f"the pass that finishes all 100: {total} requests, {total / 100:.2f} per finished job")
    for line, n in sorted(finishing.items()):
        print(f"  finishing 100: {n:3d} x {line}")
    for line, n in sorted(counts[100].items()):
        print(f"  100 pending: {n:3d} x {line}")


if __name__ == "__main__":
    main()
