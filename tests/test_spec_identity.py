"""The run identity: edits that cannot change an outcome keep spec.run_hash, the rest change it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.cli import main
from runner.spec.loader import load_spec

QASM = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""

SAMPLER = """#:schema ../schemas/experiment.schema.json
# A spec touching every part of the identity.
name = "exp"
description = "Bell and GHZ on a noisy device"
tags = ["bell", "ghz"]

[backend]
target = "local:fake_manila"

[execution]
primitive = "sampler"
shots = 1000
optimization_level = 2
schedule = "weekly"
max_qpu_seconds = 60

[[circuits]]
name = "bell"
template = "bell"

[[circuits]]
name = "ghz"
template = "ghz"
sweep = { num_qubits = [2, 3] }

[[circuits]]
name = "qft"
template = "qft"
sweep = { num_qubits = [2, 3], initial_state = [0, 1] }

[[circuits]]
name = "file"
qasm = "circuits/pair.qasm"

[analysis]
fidelity_threshold = 0.9
drift_sigma = 3.0
"""

# The same spec, reformatted: other comments, inline tables, dotted keys, literal strings,
# keys and tables in another order, defaults written out, description/tags/schedule/budget/
# analysis all different. Its run hash must equal SAMPLER's.
SAMPLER_RESTATED = """
[analysis]
history = 50                       # analysis settings are not part of the identity

[[circuits]]
template = 'bell'
name = 'bell'
params = { variant = "phi+" }      # the default, written out

[[circuits]]
name    =    "ghz"
template="ghz"
sweep = {num_qubits=[2,3]}

[[circuits]]
name = "qft"
template = "qft"
sweep = { initial_state = [0, 1], num_qubits = [2, 3] }   # sweep key order is irrelevant

[[circuits]]
qasm = "circuits/pair.qasm"
name = "file"
"""

SAMPLER_RESTATED_HEAD = """name = 'exp'
backend.target = "local:fake_manila"
execution = { optimization_level = 2, shots = 1000, seed_transpiler = 1234, schedule = "0 6 * * *" }
"""

ESTIMATOR = """name = "exp"

[backend]
target = "local:aer"

[execution]
primitive = "estimator"

[[circuits]]
name = "ring"
template = "qaoa_maxcut"
params = { edges = [[0, 1], [1, 2], [2, 3], [3, 0]] }
observables = ["IIZZ", "IZZI", "ZZII", "ZIIZ"]
"""


def spec_hash(root: Path, text: str, qasm: str = QASM) -> str:
    """run_hash of text saved as specs/exp.toml in a repository at root."""
    specs = root / "specs"
    (specs / "circuits").mkdir(parents=True, exist_ok=True)
    (specs / "circuits" / "pair.qasm").write_text(qasm)
    path = specs / "exp.toml"
    path.write_text(text)
    return load_spec(path, root).run_hash


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


SAME = {
    "description": lambda t: edit(t, "Bell and GHZ on a noisy device", "Something else entirely"),
    "no description": lambda t: edit(t, 'description = "Bell and GHZ on a noisy device"\n', ""),
    "tags": lambda t: edit(t, '["bell", "ghz"]', '["other"]'),
    "comments": lambda t: edit(
        t, "[execution]\n", "# budget guard below\n[execution]  # x\n"
    ).replace("shots = 1000", "shots = 1000   # per circuit"),
    "blank lines and spaces": lambda t: t.replace("\n\n", "\n\n\n").replace(" = ", "   =  "),
    "crlf line endings": lambda t: t.replace("\n", "\r\n"),
    "table order": lambda t: (
        t.split("[[circuits]]")[0].replace('[backend]\ntarget = "local:fake_manila"\n', "")
        + '[backend]\ntarget = "local:fake_manila"\n\n[[circuits]]'
        + "[[circuits]]".join(t.split("[[circuits]]")[1:])
    ),
    "schedule": lambda t: edit(t, 'schedule = "weekly"', 'schedule = "daily"'),
    "no schedule": lambda t: edit(t, 'schedule = "weekly"\n', ""),
    "max_qpu_seconds": lambda t: edit(t, "max_qpu_seconds = 60", "max_qpu_seconds = 5.5"),
    "no max_qpu_seconds": lambda t: edit(t, "max_qpu_seconds = 60\n", ""),
    "analysis": lambda t: edit(t, "fidelity_threshold = 0.9", "fidelity_threshold = 0.5"),
    "no analysis": lambda t: t.split("[analysis]")[0],
    "explicit defaults": lambda t: edit(
        t,
        "optimization_level = 2\n",
        "optimization_level = 2\nseed_transpiler = 1234\noptions = {}\n",
    ),
    "default template param": lambda t: edit(
        t, 'template = "bell"\n', 'template = "bell"\nparams = { variant = "phi+" }\n'
    ),
    "empty params": lambda t: edit(t, 'template = "bell"\n', 'template = "bell"\nparams = {}\n'),
    "sweep key order": lambda t: edit(
        t,
        "{ num_qubits = [2, 3], initial_state = [0, 1] }",
        "{ initial_state = [0, 1], num_qubits = [2, 3] }",
    ),
    "literal strings": lambda t: edit(
        t, 'target = "local:fake_manila"', "target = 'local:fake_manila'"
    ),
}

DIFFERENT = {
    "shots": lambda t: edit(t, "shots = 1000", "shots = 1001"),
    "no shots (default 4096)": lambda t: edit(t, "shots = 1000\n", ""),
    "optimization level": lambda t: edit(t, "optimization_level = 2", "optimization_level = 3"),
    "seed": lambda t: edit(
        t, "optimization_level = 2\n", "optimization_level = 2\nseed_transpiler = 7\n"
    ),
    "target": lambda t: edit(t, "local:fake_manila", "local:fake_lima"),
    "runtime options": lambda t: edit(
        t, "max_qpu_seconds = 60\n", "max_qpu_seconds = 60\noptions.twirling.enable_gates = true\n"
    ),
    "template param": lambda t: edit(
        t, 'template = "bell"\n', 'template = "bell"\nparams = { variant = "psi-" }\n'
    ),
    "template": lambda t: edit(
        t, 'name = "bell"\ntemplate = "bell"', 'name = "bell"\ntemplate = "ghz"'
    ),
    "circuit name": lambda t: edit(t, 'name = "bell"', 'name = "pair"'),
    "sweep values": lambda t: edit(t, "num_qubits = [2, 3] }\n", "num_qubits = [2, 4] }\n"),
    "sweep value order": lambda t: edit(t, "num_qubits = [2, 3] }\n", "num_qubits = [3, 2] }\n"),
    "extra sweep point": lambda t: edit(t, "initial_state = [0, 1]", "initial_state = [0, 1, 2]"),
    "circuit order": lambda t: edit(
        t,
        '[[circuits]]\nname = "bell"\ntemplate = "bell"\n\n[[circuits]]\nname = "ghz"\n'
        'template = "ghz"\nsweep = { num_qubits = [2, 3] }\n',
        '[[circuits]]\nname = "ghz"\ntemplate = "ghz"\nsweep = { num_qubits = [2, 3] }\n\n'
        '[[circuits]]\nname = "bell"\ntemplate = "bell"\n',
    ),
    "circuit removed": lambda t: edit(t, '[[circuits]]\nname = "bell"\ntemplate = "bell"\n', ""),
}


@pytest.fixture
def base(tmp_path: Path) -> str:
    return spec_hash(tmp_path / "base", SAMPLER)


def test_hash_is_sha256_hex(base):
    assert re.fullmatch(r"[0-9a-f]{64}", base)


@pytest.mark.parametrize("change", list(SAME))
def test_irrelevant_edits_keep_the_hash(change, base, tmp_path):
    assert spec_hash(tmp_path / "edited", SAME[change](SAMPLER)) == base


@pytest.mark.parametrize("change", list(DIFFERENT))
def test_relevant_edits_change_the_hash(change, base, tmp_path):
    assert spec_hash(tmp_path / "edited", DIFFERENT[change](SAMPLER)) != base


def test_restated_spec_has_the_same_hash(base, tmp_path):
    assert spec_hash(tmp_path / "restated", SAMPLER_RESTATED_HEAD + SAMPLER_RESTATED) == base


def test_every_relevant_edit_gives_a_distinct_hash(tmp_path):
    hashes = {
        change: spec_hash(tmp_path / str(n), DIFFERENT[change](SAMPLER))
        for n, change in enumerate(DIFFERENT)
    }
    assert len(set(hashes.values())) == len(hashes)


def test_qasm_bytes_are_part_of_the_identity(base, tmp_path):
    assert spec_hash(tmp_path / "a", SAMPLER, QASM + "x q[1];\n") != base
    # even a comment in the QASM file: the bytes are hashed, not the circuit
    assert spec_hash(tmp_path / "b", SAMPLER, "// reviewed\n" + QASM) != base
    assert spec_hash(tmp_path / "c", SAMPLER, QASM) == base


def test_explicit_default_shots(tmp_path):
    without = spec_hash(tmp_path / "a", SAMPLER.replace("shots = 1000\n", ""))
    explicit = spec_hash(tmp_path / "b", SAMPLER.replace("shots = 1000", "shots = 4096"))
    assert without == explicit


def test_explicit_default_primitive_and_level(tmp_path):
    stripped = SAMPLER.replace('primitive = "sampler"\n', "").replace(
        "optimization_level = 2\n", ""
    )
    explicit = SAMPLER.replace("optimization_level = 2", "optimization_level = 1")
    assert spec_hash(tmp_path / "a", stripped) == spec_hash(tmp_path / "b", explicit)


def test_template_param_equal_to_default(tmp_path):
    plain = SAMPLER.replace("sweep = { num_qubits = [2, 3] }\n", "")
    explicit = SAMPLER.replace("sweep = { num_qubits = [2, 3] }", "params = { num_qubits = 3 }")
    other = SAMPLER.replace("sweep = { num_qubits = [2, 3] }", "params = { num_qubits = 4 }")
    assert spec_hash(tmp_path / "a", plain) == spec_hash(tmp_path / "b", explicit)
    assert spec_hash(tmp_path / "c", other) != spec_hash(tmp_path / "a", plain)


ESTIMATOR_CHANGES = {
    "observables": lambda t: edit(t, '"ZIIZ"]', '"ZIIZ", "XXXX"]'),
    "observable order": lambda t: edit(t, '"IIZZ", "IZZI"', '"IZZI", "IIZZ"'),
    "observable": lambda t: edit(t, '"ZIIZ"', '"XIIX"'),
    "resilience": lambda t: edit(
        t, 'primitive = "estimator"\n', 'primitive = "estimator"\noptions.resilience_level = 1\n'
    ),
    "primitive": lambda t: edit(t, 'primitive = "estimator"\n', "").replace(
        'observables = ["IIZZ", "IZZI", "ZZII", "ZIIZ"]\n', ""
    ),
    "qaoa param": lambda t: edit(t, "[3, 0]]", "[3, 0]], p = 2"),
}


@pytest.mark.parametrize("change", list(ESTIMATOR_CHANGES))
def test_estimator_edits_change_the_hash(change, tmp_path):
    base = spec_hash(tmp_path / "a", ESTIMATOR)
    assert spec_hash(tmp_path / "b", ESTIMATOR_CHANGES[change](ESTIMATOR)) != base


def test_qaoa_default_params_written_out(tmp_path):
    explicit = ESTIMATOR.replace("[3, 0]]", "[3, 0]], p = 1")
    assert spec_hash(tmp_path / "a", ESTIMATOR) == spec_hash(tmp_path / "b", explicit)


def test_hash_does_not_depend_on_the_repository_location(tmp_path):
    assert spec_hash(tmp_path / "one", SAMPLER) == spec_hash(tmp_path / "two" / "deep", SAMPLER)


# Pinned hashes of the example specs: a change here means every existing experiment would
# re-run on the next apply. If that is intended, bump IDENTITY_VERSION and update these.
PINNED = {
    "bell": "5c95ca43fa055bd6",  # target local:fake_fez since the Heron examples
    "ghz-sweep": "c54e0c666d9a92b4",
    "qaoa-ring": "ad0f1122b4b5e5cb",
    "qft4": "ec90bfd6c6f5fb13",
}


def test_example_hashes_are_pinned(project):
    for name, prefix in PINNED.items():
        assert load_spec(project / "specs" / f"{name}.toml", project).run_hash[:16] == prefix


def test_validate_verbose_shows_hash_and_circuit_ids(project, capsys):
    assert main(["validate", "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    spec = load_spec(project / "specs" / "ghz-sweep.toml", project)
    lines = out.splitlines()
    header = lines.index(f"ghz-sweep: run hash {spec.run_hash[:16]}, 4 circuits on local:aer")
    assert lines[header + 1 : header + 5] == [
        f"  ghz[num_qubits={n}]  width={n}" for n in (2, 3, 4, 5)
    ]
    assert "  qft4  width=4" in lines
    assert lines[-1] == "6 specs checked: 6 valid, 0 invalid"


def test_expanded_circuit_ids_follow_sorted_sweep_keys(tmp_path):
    root = tmp_path / "repo"
    spec_hash(root, SAMPLER)
    spec = load_spec(root / "specs" / "exp.toml", root)
    assert [c.circuit_id for c in spec.circuits] == [
        "bell",
        "ghz[num_qubits=2]",
        "ghz[num_qubits=3]",
        "qft[initial_state=0,num_qubits=2]",
        "qft[initial_state=0,num_qubits=3]",
        "qft[initial_state=1,num_qubits=2]",
        "qft[initial_state=1,num_qubits=3]",
        "file",
    ]
    assert [c.width for c in spec.circuits] == [2, 2, 3, 2, 3, 2, 3, 2]
