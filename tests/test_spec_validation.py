"""`qrun validate`: every failure mode points at the right file, line and column.

Table-driven over tests/data/specs/invalid/*.toml. Each fixture's leading comments say what
must be reported:

    # expect: 8:9 message substring            -> specs/<file>:8:9: message substring
    # expect-at: specs/x.qasm:5:1: substring   -> that exact prefix (another file)
    # symlink: circuits/a.qasm -> OUTSIDE       -> specs/circuits/a.qasm links out of the repo
    # copy-to: team                             -> also copied to specs/team/<file>
    # spec-symlink: OUTSIDE                     -> the spec itself links out of the repo

and nothing else may be reported: the number of diagnostics equals the number of expects.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runner.cli import main
from runner.errors import Diagnostic
from runner.output import Output

INVALID = Path(__file__).resolve().parent / "data" / "specs" / "invalid"
FIXTURES = sorted(INVALID.glob("*.toml"))
DIAGNOSTIC = re.compile(r"^\S+:\d+:\d+: ", re.MULTILINE)

# Every error class the validator must catch has its fixture (guards against deletions).
REQUIRED = {
    "toml-syntax",
    "toml-duplicate-key",
    "unknown-key",
    "wrong-type",
    "float-shots",
    "shots-too-large",
    "optimization-level",
    "primitive-enum",
    "name-stem",
    "duplicate-name",
    "missing-target",
    "missing-circuits",
    "circuit-both",
    "circuit-neither",
    "duplicate-circuit",
    "unknown-template",
    "ghz-one-qubit",
    "ghz-string-qubits",
    "sweep-not-param",
    "sweep-and-params",
    "sweep-point-invalid",
    "sweep-too-large",
    "sweep-duplicate-value",
    "qasm-missing",
    "qasm-dotdot",
    "qasm-absolute",
    "qasm-symlink",
    "qasm-unparsable",
    "too-wide",
    "estimator-no-observables",
    "observables-length",
    "observable-pattern",
    "sampler-observables",
    "resilience-sampler",
    "unknown-local-target",
    "layout-length",
    "layout-missing-qubit",
    "layout-repeated",
    "bad-schedule-word",
    "bad-schedule-cron",
    "schedule-never",
    "tags-duplicate",
    "inline-tables",
    "many-errors",
    "six-kinds",
    "deep-arrays",
    "deep-inline-tables",
    "deep-dotted-header",
    "spec-symlink",
}

VALID_QASM = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n'


@dataclass
class Case:
    """What a fixture's header asks for."""

    expects: list[str] = field(default_factory=list)
    symlinks: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    spec_symlink: bool = False


def parse_header(path: Path) -> Case:
    case = Case()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        directive, _, rest = line.lstrip("# ").partition(":")
        rest = rest.strip()
        if directive == "expect":
            position, _, message = rest.partition(" ")
            case.expects.append(f"specs/{path.name}:{position}: {message}")
        elif directive == "expect-at":
            case.expects.append(rest)
        elif directive == "symlink":
            case.symlinks.append(rest.partition(" -> ")[0])
        elif directive == "copy-to":
            case.copies.append(rest)
        elif directive == "spec-symlink":
            case.spec_symlink = True
    return case


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty repository with the fixtures' QASM files under specs/circuits/.

    The environment is neutral even when the suite itself runs under GitHub Actions."""
    for var in ("GITHUB_ACTIONS", "CI", "IBM_QUANTUM_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "repo"
    shutil.copytree(INVALID / "circuits", root / "specs" / "circuits")
    return root


def install(fixture: Path, case: Case, repo: Path) -> list[Path]:
    """Copy a fixture (and whatever its header sets up) into the repo; the paths to validate."""
    paths = [repo / "specs" / fixture.name]
    if case.spec_symlink:
        outside = repo.parent / "outside" / fixture.name
        outside.parent.mkdir(exist_ok=True)
        shutil.copy(fixture, outside)
        paths[0].symlink_to(outside)
    else:
        shutil.copy(fixture, paths[0])
    for rel in case.symlinks:
        outside = repo.parent / "outside" / Path(rel).name
        outside.parent.mkdir(exist_ok=True)
        outside.write_text(VALID_QASM)
        (repo / "specs" / rel).symlink_to(outside)
    for directory in case.copies:
        target = repo / "specs" / directory / fixture.name
        target.parent.mkdir(parents=True)
        shutil.copy(fixture, target)
        paths.append(target)
    return paths


def test_every_error_class_has_a_fixture():
    assert {f.stem for f in FIXTURES} >= REQUIRED
    for fixture in FIXTURES:
        assert parse_header(fixture).expects, f"{fixture.name} has no '# expect:' header"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_invalid_spec_is_reported_at_its_position(fixture, repo, capsys):
    case = parse_header(fixture)
    paths = install(fixture, case, repo)

    code = main(["--repo", str(repo), "validate", *map(str, paths)])

    out, err = capsys.readouterr()
    assert code == 1, out + err
    for expected in case.expects:
        assert expected in err, f"missing {expected!r} in:\n{err}"
    assert len(DIAGNOSTIC.findall(err)) == len(case.expects), err
    # one invalid spec (a duplicate's first copy is valid; a QASM file is not a spec)
    specs = f"{len(paths)} spec" + ("s" if len(paths) != 1 else "")
    assert f"{specs} checked: {len(paths) - 1} valid, 1 invalid" in out


def test_diagnostics_are_sorted_by_position(repo, capsys):
    fixture = INVALID / "many-errors.toml"
    install(fixture, Case(), repo)
    assert main(["--repo", str(repo), "validate"]) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if DIAGNOSTIC.match(ln + " ")]
    positions = [tuple(int(n) for n in ln.split(":")[1:3]) for ln in lines]
    assert len(positions) == 7
    assert positions == sorted(positions)


def test_symlink_inside_the_repository_is_fine(repo, capsys):
    (repo / "specs" / "circuits" / "alias.qasm").symlink_to(repo / "specs" / "circuits" / "ok.qasm")
    (repo / "specs" / "aliased.toml").write_text(
        'name = "aliased"\n[backend]\ntarget = "local:aer"\n'
        '[[circuits]]\nname = "c"\nqasm = "circuits/alias.qasm"\n'
    )
    assert main(["--repo", str(repo), "validate"]) == 0
    assert capsys.readouterr().err == ""


def test_valid_examples_print_only_the_summary(project, capsys):
    assert main(["validate"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == "6 specs checked: 6 valid, 0 invalid\n"


def test_valid_examples_quiet_prints_nothing(project, capsys):
    assert main(["--quiet", "validate"]) == 0
    assert capsys.readouterr() == ("", "")


def test_missing_spec_path_is_a_problem(project, capsys):
    assert main(["validate", "specs/nope.toml"]) == 1
    assert "specs/nope.toml:1:1: no such spec file" in capsys.readouterr().err


def test_json_envelope_for_valid_specs(project, capsys):
    assert main(["validate", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    doc = json.loads(out)
    assert doc == {
        "version": 1,
        "command": "validate",
        "ok": True,
        "data": {
            "checked": 6,
            "valid": ["bell", "coherence-fez", "ghz-fidelity", "ghz-sweep", "qaoa-ring", "qft4"],
            "problems": [],
        },
    }


def test_json_envelope_lists_problems_and_nothing_else(repo, capsys):
    install(INVALID / "shots-too-large.toml", Case(), repo)
    assert main(["--repo", str(repo), "validate", "--format", "json"]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    doc = json.loads(out)  # the whole of stdout is one JSON document
    assert doc["ok"] is False
    assert doc["data"]["checked"] == 1
    assert doc["data"]["valid"] == []
    [problem] = doc["data"]["problems"]
    assert problem["path"] == "specs/shots-too-large.toml"
    assert (problem["line"], problem["col"]) == (8, 9)
    assert problem["message"].startswith("execution.shots must be ≤ 100000 (got 250000)")


def _write_invalid(repo: Path, count: int) -> None:
    for n in range(count):
        name = f"bad-{n:02d}"
        (repo / "specs" / f"{name}.toml").write_text(
            f'name = "{name}"\n[backend]\ntarget = "local:aer"\n'
            "[execution]\nshots = 250000\n"
            '[[circuits]]\nname = "bell"\ntemplate = "bell"\n'
        )


def test_github_annotations_point_at_file_line_col(repo, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _write_invalid(repo, 2)
    assert main(["--repo", str(repo), "validate"]) == 1
    out, err = capsys.readouterr()
    annotations = [ln for ln in out.splitlines() if ln.startswith("::")]
    assert annotations == [
        f"::error file=specs/bad-{n:02d}.toml,line=5,col=9::execution.shots must be "
        "≤ 100000 (got 250000); lower shots or split the spec"
        for n in range(2)
    ]
    assert err.count("shots must be") == 2  # the plain lines are still in the log


def test_github_annotations_capped_at_ten_with_a_summary(repo, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _write_invalid(repo, 12)
    assert main(["--repo", str(repo), "validate"]) == 1
    out, err = capsys.readouterr()
    annotations = [ln for ln in out.splitlines() if ln.startswith("::error")]
    assert len(annotations) == 11
    assert all("file=specs/bad-" in a for a in annotations[:10])
    assert annotations[-1] == "::error::2 more errors not shown as annotations; see the job log"
    assert len(DIAGNOSTIC.findall(err)) == 12
    assert "12 specs checked: 0 valid, 12 invalid (12 problems)" in out


def test_no_annotations_outside_github(repo, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    _write_invalid(repo, 1)
    assert main(["--repo", str(repo), "validate"]) == 1
    assert "::error" not in capsys.readouterr().out


def test_duplicate_name_annotation_points_at_the_name(repo, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    install(INVALID / "duplicate-name.toml", Case(), repo)
    (repo / "specs" / "team").mkdir()
    shutil.copy(INVALID / "duplicate-name.toml", repo / "specs" / "team" / "duplicate-name.toml")
    assert main(["--repo", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    [annotation] = [ln for ln in out.splitlines() if ln.startswith("::error")]
    assert annotation.startswith("::error file=specs/team/duplicate-name.toml,line=3,col=8::")


def test_annotation_escapes_data_and_properties():
    stream = io.StringIO()
    output = Output(stream=stream, environ={"GITHUB_ACTIONS": "true"})
    output.diagnostic(Diagnostic("specs/a,b:c.toml", 2, 3, "50% bad\nsecond line"))
    assert stream.getvalue().splitlines() == [
        "specs/a,b:c.toml:2:3: 50% bad",
        "second line",
        "::error file=specs/a%2Cb%3Ac.toml,line=2,col=3::50%25 bad%0Asecond line",
    ]


@pytest.mark.parametrize(
    "name", ["experiment.schema.json", "lock.schema.json", "policy.schema.json"]
)
def test_published_schemas_match_the_package_data(name):
    """schemas/ is the copy editors point at (#:schema); it must be what the runner checks."""
    root = Path(__file__).resolve().parents[1]
    published = json.loads((root / "schemas" / name).read_text(encoding="utf-8"))
    packaged = json.loads((root / "runner" / "data" / name).read_text(encoding="utf-8"))
    assert published == packaged


def test_every_example_conforms_to_the_published_schema():
    from jsonschema import Draft202012Validator

    root = Path(__file__).resolve().parents[1]
    schema = json.loads((root / "schemas" / "experiment.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for path in sorted((root / "specs").glob("*.toml")):
        if not path.name.endswith(".lock.toml"):
            assert not list(validator.iter_errors(tomllib.loads(path.read_text()))), path
