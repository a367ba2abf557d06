"""A store written by an older qrun re-analyses to the corrected numbers, with no service."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from runner.analysis.ideal import NOT_UNITARY
from runner.cli import main
from runner.lock import read_lock, write_lock

# The test itself writes a store as a qrun of before 0.50 did, with SamplerV2 (deprecated): qrun
# no longer calls it, and the rest of the suite runs with its DeprecationWarning as an error.
pytestmark = pytest.mark.filterwarnings("ignore:The SamplerV2 class is deprecated")

CIRCUITS = Path(__file__).parent / "data" / "circuits"
STEMS = ("bell_pairs_regs", "unused_register_no_measure", "mid_measure")
SPEC = """name = "regs"
description = "registers out of order, an unused register, a mid-circuit measurement"
[backend]
target = "local:aer"
[execution]
shots = 2000
"""


def _version1_result(request: dict) -> str:
    """What qrun stored before the result of record: sorted RuntimeEncoder JSON."""
    from qiskit import transpile
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime import RuntimeEncoder, SamplerV2

    from runner.templates.qasm import load_qasm

    sim = AerSimulator(seed_simulator=5)
    circuits = [transpile(load_qasm(c["qasm"]), sim) for c in request["circuits"]]
    result = SamplerV2(mode=sim).run(circuits, shots=request["shots"]).result()
    return json.dumps(result, cls=RuntimeEncoder, sort_keys=True)


def _page_fidelities(page: str) -> dict[str, str]:
    rows = [line.split(" | ") for line in page.splitlines() if line.startswith("| ")]
    return {
        r[0].strip("| ").replace("\\_", "_"): r[4]
        for r in rows
        if len(r) > 5 and r[0].strip("| ").replace("\\_", "_") in STEMS
    }


@pytest.fixture
def old_store(project: Path) -> Path:
    """An applied project whose store and lock look as an older qrun left them: version 1
    raw results, an unversioned analysis with the old (wrong) numbers, no dynamic ideal."""
    for spec in (project / "specs").glob("*.toml"):
        spec.unlink()
    (project / "specs" / "circuits").mkdir(exist_ok=True)
    text = SPEC
    for stem in STEMS:
        shutil.copy(CIRCUITS / f"{stem}.qasm", project / "specs" / "circuits" / f"{stem}.qasm")
        text += f'[[circuits]]\nname = "{stem}"\nqasm = "circuits/{stem}.qasm"\n'
    (project / "specs" / "regs.toml").write_text(text)
    assert main(["apply"]) == 0
    lock = read_lock(project / "specs", "regs")
    run = lock.runs[-1]
    store = project / ".qrun/store"
    by_name = {o.key.rsplit("/", 1)[-1]: o for o in run.objects}
    request = json.loads((store / "results" / by_name["request.json"].key).read_bytes())
    for circuit in request["circuits"]:
        circuit.pop("registers")
        if circuit["circuit_id"] == "mid_measure":
            circuit["ideal"], circuit["ideal_note"] = None, NOT_UNITARY
    analysis = json.loads((store / "results" / by_name["analysis.json"].key).read_bytes())
    analysis.pop("analysis_version")
    for circuit in analysis["circuits"]:
        circuit["fidelity"] = {
            "name": "hellinger_fidelity",
            "value": 0.123,
            "low": 0.1,
            "high": 0.2,
        }
    assert len(run.jobs) == 1
    job_key = next(k for k in by_name if k.startswith("job_"))
    new = {
        "request.json": json.dumps(request, sort_keys=True).encode(),
        "analysis.json": json.dumps(analysis, sort_keys=True).encode(),
        job_key: _version1_result(request).encode(),
    }
    objects = []
    for obj in run.objects:
        name = obj.key.rsplit("/", 1)[-1]
        if name in new:
            (store / obj.bucket / obj.key).write_bytes(new[name])
            obj = replace(obj, sha256=hashlib.sha256(new[name]).hexdigest(), size=len(new[name]))
        objects.append(obj)
    write_lock(project / "specs", lock.upsert(run.with_(objects=tuple(objects))))
    return project


def test_old_store_reanalyses_to_corrected_numbers(old_store: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("IBM_QUANTUM_URL", "https://127.0.0.1:9")  # nothing listens there
    assert main(["report"]) == 0
    page = (old_store / "reports" / "regs.md").read_text()
    fidelities = _page_fidelities(page)
    assert set(fidelities) == set(STEMS)
    for stem, cell in fidelities.items():
        value = float(cell.split(" ")[0])
        assert value > 0.99, (stem, cell)  # was 0.123 in the stored analysis
    assert "not re-derived" not in page


def test_old_store_without_raw_results_keeps_its_numbers_and_says_why(old_store: Path) -> None:
    for path in (old_store / ".qrun/store/results").rglob("job_*.json"):
        path.unlink()
    assert main(["report"]) == 0
    page = (old_store / "reports" / "regs.md").read_text()
    assert "not re-derived" in page and "job_" in page.replace("\\_", "_")
    assert "(analysis version 1)" in page  # the version that made it, not the one before now
    assert all(cell.startswith("0.123") for cell in _page_fidelities(page).values())
