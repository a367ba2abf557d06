"""Fuzzing the spec loader: whatever the file holds, load_spec returns a Spec or raises
SpecError, and every diagnostic points at a real line and column.

Derandomized (the same examples on every run), so a CI failure reproduces locally.
"""

from __future__ import annotations

import copy
import math
import shutil
import string
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.errors import SpecError
from runner.spec.loader import load_spec
from runner.spec.locate import locate
from runner.spec.model import Spec
from runner.templates.registry import TEMPLATES

INVALID = Path(__file__).resolve().parent / "data" / "specs" / "invalid"

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with good, broken and escaping QASM files for specs to refer to."""
    root = tmp_path_factory.mktemp("fuzz") / "repo"
    shutil.copytree(INVALID / "circuits", root / "specs" / "circuits")
    outside = root.parent / "outside.qasm"
    outside.write_text((INVALID / "circuits" / "ok.qasm").read_text())
    (root / "specs" / "circuits" / "link.qasm").symlink_to(outside)
    return root


def lines_of(path: Path) -> int:
    """How many lines a diagnostic may point into (as the loader reads the file)."""
    return path.read_text(encoding="utf-8", errors="replace").count("\n") + 1


def check_load(repo: Path, write: Any) -> Spec | None:
    """Write a spec with write(path), load it, and check the outcome's invariants."""
    path = repo / "specs" / "fuzz.toml"
    write(path)
    try:
        spec = load_spec(path, repo)
    except SpecError as exc:
        assert exc.diagnostics, "a SpecError must say what is wrong"
        for diag in exc.diagnostics:
            assert diag.line >= 1, diag
            assert diag.col >= 1, diag
            assert diag.message.strip(), diag
            pointed = repo / diag.path
            assert pointed.is_file(), f"diagnostic names a file that is not there: {diag}"
            assert diag.line <= lines_of(pointed), f"{diag} is past the end of the file"
        return None
    assert spec.name == "fuzz"
    assert len(spec.run_hash) == 64
    assert spec.circuits, "a valid spec has at least one circuit"
    return spec


# --- arbitrary TOML documents --------------------------------------------------------------

keys = st.one_of(
    st.sampled_from(
        ["name", "backend", "target", "execution", "shots", "circuits", "template", "params"]
    ),
    st.text(max_size=8),
)
scalars = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.booleans(),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)
documents = st.dictionaries(keys, values, max_size=8)


@FUZZ
@given(doc=documents)
def test_random_toml_documents(repo, doc):
    text = tomli_w.dumps(doc)
    check_load(repo, lambda path: path.write_text(text, encoding="utf-8"))


FRAGMENTS = [
    'name = "fuzz"',
    "[backend]",
    'target = "local:aer"',
    'target = "local:fake_manila"',
    "[execution]",
    "shots = 100",
    "shots = 1e400",
    "shots = 999999999999999999999",
    'primitive = "estimator"',
    'schedule = "weekly"',
    "[[circuits]]",
    'name = "c"',
    'template = "ghz"',
    'template = "bell"',
    "params = { num_qubits = 3 }",
    "sweep = { num_qubits = [2, 3] }",
    'qasm = "circuits/ok.qasm"',
    'qasm = "circuits/broken.qasm"',
    'observables = ["ZZ"]',
    "[analysis]",
    "[[circuits.params]]",
    "a.b.c = 1",
    '"quoted key" = 1',
    "x = [",
    "]",
    "y = { z = [1, {}] }",
    's = """',
    "multi",
    '"""',
    "t = '''x'''",
    "# comment ]] [[",
    "",
    "=",
    "[",
    "[[",
    "\t",
    "d = 1979-05-27T07:32:00Z",
]
lines = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)), max_size=25)


@FUZZ
@given(text_lines=lines, newline=st.sampled_from(["\n", "\r\n"]))
def test_random_text_lines(repo, text_lines, newline):
    text = newline.join(text_lines)
    check_load(repo, lambda path: path.write_bytes(text.encode("utf-8", "surrogatepass")))


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes(repo, data):
    check_load(repo, lambda path: path.write_bytes(data))


# --- spec-shaped documents: valid specs with a few mutations ------------------------------

junk = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.dates(),
    st.lists(st.integers(min_value=-5, max_value=40), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
)

# (template, params or sweep, width) for circuits that are valid on every target below.
TEMPLATE_CIRCUITS = st.one_of(
    st.just(("bell", {"params": {}}, 2)),
    st.sampled_from(["phi+", "phi-", "psi+", "psi-"]).map(
        lambda v: ("bell", {"params": {"variant": v}}, 2)
    ),
    st.integers(min_value=2, max_value=5).map(lambda n: ("ghz", {"params": {"num_qubits": n}}, n)),
    st.integers(min_value=2, max_value=5).map(lambda n: ("ghz", {"sweep": {"num_qubits": [n]}}, n)),
    st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=4, unique=True).map(
        lambda states: ("qft", {"sweep": {"initial_state": states}}, 3)
    ),
    st.just(("qaoa_maxcut", {"params": {"edges": [[0, 1], [1, 2]], "p": 1}}, 3)),
)


@st.composite
def circuits(draw: st.DrawFn, estimator: bool, count: int) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        entry: dict[str, Any] = {"name": f"c{n}"}
        if draw(st.booleans()) and not estimator:
            entry["qasm"] = "circuits/ok.qasm"
            width = 2
        else:
            template, extra, width = draw(TEMPLATE_CIRCUITS)
            entry.update({"template": template, **extra})
        if estimator:
            entry["observables"] = draw(
                st.lists(st.text("IXYZ", min_size=width, max_size=width), min_size=1, max_size=3)
            )
        out.append(entry)
    return out


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    estimator = draw(st.booleans())
    execution: dict[str, Any] = {"primitive": "estimator" if estimator else "sampler"}
    optional = {
        "shots": st.integers(min_value=1, max_value=100_000),
        "optimization_level": st.integers(min_value=0, max_value=3),
        "seed_transpiler": st.integers(min_value=0, max_value=2**32 - 1),
        "schedule": st.sampled_from(["daily", "weekly", "monthly", "0 6 * * 1", "*/15 * * * *"]),
        "max_qpu_seconds": st.floats(min_value=0.5, max_value=36000),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            execution[key] = draw(strategy)
    if estimator and draw(st.booleans()):
        execution["options"] = {"resilience_level": draw(st.integers(0, 2))}
    doc: dict[str, Any] = {
        "name": "fuzz",
        "description": draw(st.text(max_size=30)),
        "tags": draw(st.lists(st.sampled_from(["a", "b", "c.d"]), unique=True, max_size=3)),
        "backend": {"target": draw(st.sampled_from(["local:aer", "local:fake_manila", "ibm_fez"]))},
        "execution": execution,
        "circuits": draw(circuits(estimator, draw(st.integers(min_value=1, max_value=3)))),
        "analysis": {"history": draw(st.integers(min_value=2, max_value=1000))},
    }
    return doc


def paths_of(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside doc (table keys and array indices)."""
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        yield (*prefix, key)
        yield from paths_of(value, (*prefix, key))


NEAR_MISSES = [
    0,
    -1,
    100_001,
    4,
    1.5,
    math.nan,
    "",
    "gzh",
    "local:fake_manilla",
    "ZQ",
    "../x.qasm",
    date(1979, 5, 27),
    [],
    {},
]


def mutate(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """Replace, delete or add one thing somewhere in doc (in place)."""
    path = data.draw(st.sampled_from(list(paths_of(doc))))
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = data.draw(st.sampled_from(["junk", "near", "delete", "unknown"]))
    if action == "junk":
        parent[last] = data.draw(junk)
    elif action == "near":
        parent[last] = data.draw(st.sampled_from(NEAR_MISSES))
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[
            data.draw(st.sampled_from(["shot", "templates", "qasm", "sweep", "params", "x"]))
        ] = data.draw(junk)
    return doc


def test_spec_shaped_documents(repo):
    outcomes: list[bool] = []

    @FUZZ
    @given(doc=valid_specs(), mutations=st.integers(min_value=0, max_value=3), data=st.data())
    def run(doc, mutations, data):
        doc = copy.deepcopy(doc)  # strategies such as st.just share their objects
        for _ in range(mutations):
            mutate(doc, data)
        text = tomli_w.dumps(doc)
        spec = check_load(repo, lambda path: path.write_text(text, encoding="utf-8"))
        outcomes.append(spec is not None)
        if spec is not None:
            assert 1 <= len(spec.circuits) <= 300
            assert len({c.circuit_id for c in spec.circuits}) == len(spec.circuits)
        if mutations == 0:
            assert spec is not None, text  # the unmutated generator makes only valid specs

    run()
    # the generator explores both sides of the line
    assert outcomes.count(True) >= 20
    assert outcomes.count(False) >= 20


# --- loose circuits: any template, any parameter values, on a valid skeleton --------------

PARAM_NAMES = [
    "num_qubits",
    "variant",
    "initial_state",
    "inverse",
    "edges",
    "p",
    "gammas",
    "betas",
    "layers",
    "entanglement",
    "rotation_blocks",
    "width",
    "depth",
    "seed",
    "nope",
]
param_values = st.one_of(
    st.integers(min_value=-2, max_value=12),
    st.sampled_from(["phi+", "psi-", "linear", "full", "rx", "x", "3"]),
    st.lists(st.lists(st.integers(min_value=0, max_value=6), min_size=2, max_size=3), max_size=4),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3),
    st.lists(st.sampled_from(["rx", "ry", "rz", "cx", 1]), max_size=3),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    junk,
)
QASM_PATHS = [
    "circuits/ok.qasm",
    "circuits/broken.qasm",
    "circuits/link.qasm",
    "circuits/missing.qasm",
    "circuits/../../../outside.qasm",
    "circuits/\x00.qasm",
    "circuits/" + "x" * 300 + ".qasm",
    "circuits",
]
observables = st.lists(st.text("IXYZ", min_size=1, max_size=5), min_size=1, max_size=3)


def template_circuit(template: str) -> st.SearchStrategy[dict[str, Any]]:
    """A circuit of one template with parameters and sweeps over (mostly) its own names."""
    names = st.sampled_from([*TEMPLATES[template].params_schema["properties"], "nope"])
    return st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "c"]), "template": st.just(template)},
        optional={
            "params": st.dictionaries(names, param_values, max_size=3),
            "sweep": st.dictionaries(
                names, st.lists(param_values, min_size=1, max_size=5), min_size=1, max_size=3
            ),
            "observables": observables,
        },
    )


loose_circuit = st.one_of(
    st.sampled_from([*TEMPLATES, "gzh"]).flatmap(
        lambda name: template_circuit(name) if name in TEMPLATES else st.just({"template": name})
    ),
    st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "c"]), "qasm": st.sampled_from(QASM_PATHS)},
        optional={"observables": observables, "params": st.just({"x": 1})},
    ),
)
loose_specs = st.fixed_dictionaries(
    {
        "name": st.just("fuzz"),
        "backend": st.fixed_dictionaries(
            {"target": st.sampled_from(["local:aer", "local:fake_manila", "ibm_fez"])}
        ),
        "execution": st.fixed_dictionaries(
            {"primitive": st.sampled_from(["sampler", "estimator"])}
        ),
        "circuits": st.lists(loose_circuit, min_size=1, max_size=3),
    }
)


@FUZZ
@given(doc=loose_specs)
def test_loose_circuits(repo, doc):
    text = tomli_w.dumps(doc)
    check_load(repo, lambda path: path.write_text(text, encoding="utf-8"))


sweeps = st.sampled_from(sorted(TEMPLATES)).flatmap(
    lambda name: st.fixed_dictionaries(
        {
            "name": st.just("s"),
            "template": st.just(name),
            "sweep": st.dictionaries(
                st.sampled_from(sorted(TEMPLATES[name].params_schema["properties"])),
                st.lists(param_values, min_size=1, max_size=4),
                min_size=1,
                max_size=2,
            ),
        }
    )
)


@FUZZ
@given(entry=sweeps)
def test_sweep_values_of_any_type(repo, entry):
    """Every sweep point is checked and named (ids like s[edges=...]) whatever its values."""
    doc = {"name": "fuzz", "backend": {"target": "local:aer"}, "circuits": [entry]}
    text = tomli_w.dumps(doc)
    check_load(repo, lambda path: path.write_text(text, encoding="utf-8"))


# --- the position scanner on its own ------------------------------------------------------


def key_paths(doc: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every key path of a parsed document (through tables and arrays of tables)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from key_paths(value, (*prefix, key))
    elif isinstance(doc, list) and doc and all(isinstance(v, dict) for v in doc):
        for index, value in enumerate(doc):
            yield from key_paths(value, (*prefix, index))


def _is_float_special(value: Any) -> bool:
    return isinstance(value, float) and (math.isnan(value) or math.isinf(value))


@FUZZ
@given(doc=documents)
def test_locate_points_every_key_at_its_text(doc):
    text = tomli_w.dumps(doc)
    parsed = tomllib.loads(text)
    positions = locate(text)
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    for path in key_paths(parsed):
        if isinstance(path[-1], int):
            continue
        line, col = positions.key(path)
        assert 1 <= line <= text.count("\n") + 1
        at = text[starts[line - 1] + col - 1 :]
        key = str(path[-1])
        bare = key and all(c in string.ascii_letters + string.digits + "_-" for c in key)
        assert at.startswith(key if bare else ('"', "'")) or at.startswith(("[", '"', "'")), (
            path,
            line,
            col,
            text,
        )


def test_scalars_generator_covers_special_values():
    """The TOML generator really does produce the awkward values (nan, inf, dates)."""
    found: set[str] = set()

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(value=scalars)
    def collect(value):
        if _is_float_special(value):
            found.add("special float")
        elif isinstance(value, datetime):
            found.add("datetime")
        elif isinstance(value, date):
            found.add("date")
        elif isinstance(value, time):
            found.add("time")
        elif isinstance(value, str) and any(ord(c) > 127 for c in value):
            found.add("unicode")

    collect()
    assert found == {"special float", "datetime", "date", "time", "unicode"}
