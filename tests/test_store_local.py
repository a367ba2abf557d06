"""The key layout and the local directory store: idempotent, atomic, checksum-verified."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import StoreError
from runner.stores import keys
from runner.stores.base import ResultStore, sha256_hex
from runner.stores.config import StoreConfig, open_store
from runner.stores.local import LocalStore

NAMES = st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")
TEXT = st.text(min_size=1, max_size=300)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(repo_root=tmp_path)


# key layout


def test_layout_matches_the_design() -> None:
    assert keys.definition_key("bell-fidelity") == "bell-fidelity/definition.json"
    assert keys.metadata_key("bell") == "bell/metadata.json"
    assert keys.circuit_key("ghz", "ghz[num_qubits=4]") == "ghz/circuits/ghz%5Bnum_qubits=4%5D.qasm"
    assert keys.job_result_key("bell", "r1", "d1abc") == "bell/r1/job_d1abc.json"
    assert keys.analysis_key("bell", "r1") == "bell/r1/analysis.json"
    assert keys.figure_key("bell", "r1", "hist.png") == "bell/r1/visualizations/hist.png"
    assert keys.template_key("qaoa") == "templates/qaoa.json"
    assert (
        keys.validated_circuit_key("local:fake_fez", "ghz", "ghz[num_qubits=3]")
        == "validated/local%3Afake_fez/ghz/ghz%5Bnum_qubits=3%5D.qasm"
    )
    assert keys.run_prefix("bell", "r1") == "bell/r1/"
    assert keys.experiment_prefix("bell") == "bell/"


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("qaoa[edges=[[0,1],[1,2]],p=2]", "qaoa%5Bedges=%5B%5B0%2C1%5D%2C%5B1%2C2%5D%5D%2Cp=2%5D"),
        ("..", "%2E."),
        (".hidden", "%2Ehidden"),
        ("a/b", "a%2Fb"),
        ("100%", "100%25"),
        ("é", "%C3%A9"),
    ],
)
def test_segments_are_escaped(raw: str, encoded: str) -> None:
    assert keys.encode_segment(raw) == encoded
    assert keys.decode_segment(encoded) == raw


def test_empty_segment_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        keys.encode_segment("")


@given(TEXT, TEXT)
def test_segment_encoding_is_injective(a: str, b: str) -> None:
    if a != b:
        assert keys.encode_segment(a) != keys.encode_segment(b)


@given(TEXT)
def test_segments_are_safe_and_decodable(raw: str) -> None:
    segment = keys.encode_segment(raw)
    assert "/" not in segment
    assert not segment.startswith(".")
    assert len(segment) <= keys.MAX_SEGMENT
    assert set(segment) <= keys.SAFE_CHARS | set("%~0123456789ABCDEF")
    if "~" not in segment:
        assert keys.decode_segment(segment) == raw


@given(st.text(min_size=300, max_size=600), st.text(min_size=300, max_size=600))
def test_long_segments_are_shortened_with_a_hash(a: str, b: str) -> None:
    ea, eb = keys.encode_segment(a), keys.encode_segment(b)
    assert "~" in ea
    assert len(ea) <= keys.MAX_SEGMENT
    assert (ea == eb) == (a == b)
    with pytest.raises(ValueError, match="hash"):
        keys.decode_segment(ea)


@given(NAMES, TEXT, NAMES, TEXT)
def test_keys_are_injective_and_safe(name1: str, cid1: str, name2: str, cid2: str) -> None:
    k1, k2 = keys.circuit_key(name1, cid1), keys.circuit_key(name2, cid2)
    assert (k1 == k2) == ((name1, cid1) == (name2, cid2))
    for key in (
        k1,
        keys.validated_circuit_key(cid1, name1, cid2),
        keys.figure_key(name1, cid1, cid2),
    ):
        assert keys.check_key(key) == key
        assert not key.startswith("/")
        assert ".." not in key.split("/")


@given(NAMES, TEXT, TEXT)
def test_run_keys_are_injective(name: str, run_a: str, run_b: str) -> None:
    same = run_a == run_b
    assert (keys.analysis_key(name, run_a) == keys.analysis_key(name, run_b)) == same
    assert (keys.job_result_key(name, run_a, "j") == keys.job_result_key(name, run_b, "j")) == same


@pytest.mark.parametrize("bad", ["/abs", "a/../b", "a//b", "./a", "a/", "a\\b", "a\x00b"])
def test_unsafe_keys_are_refused(bad: str, store: LocalStore) -> None:
    with pytest.raises(ValueError):
        keys.check_key(bad)
    with pytest.raises(StoreError, match="refusing"):
        store.put("results", bad, b"x")


# local store


def test_local_store_satisfies_the_protocol(store: LocalStore) -> None:
    typed: ResultStore = store
    assert typed.kind == "local"


def test_put_get_roundtrip_and_skip(store: LocalStore, tmp_path: Path) -> None:
    key = keys.job_result_key("bell", "r1", "job1")
    data = b'{"counts": {"00": 2048, "11": 2048}}'
    first = store.put("results", key, data)
    assert first.uploaded
    assert first.obj.sha256 == sha256_hex(data)
    assert first.obj.size == len(data)
    assert (tmp_path / ".qrun/store/results" / key).read_bytes() == data
    second = store.put("results", key, data)
    assert not second.uploaded
    assert second.obj == first.obj
    assert store.get("results", key, sha256=first.obj.sha256) == data
    assert store.get("results", key) == data
    assert store.exists("results", key) == first.obj.sha256
    assert (store.uploaded, store.skipped) == (1, 1)


def test_put_replaces_different_bytes(store: LocalStore) -> None:
    store.put("experiments", "bell/definition.json", b"v1")
    outcome = store.put("experiments", "bell/definition.json", b"v2")
    assert outcome.uploaded
    assert store.get("experiments", "bell/definition.json", sha256_hex(b"v2")) == b"v2"


def test_buckets_are_separate(store: LocalStore) -> None:
    store.put("experiments", "x/metadata.json", b"e")
    assert store.exists("results", "x/metadata.json") is None
    assert store.exists("circuits", "x/metadata.json") is None


def test_tampered_object_fails_verification(store: LocalStore, tmp_path: Path) -> None:
    key = keys.analysis_key("bell", "r1")
    expected = store.put("results", key, b'{"fidelity": 0.98}').obj.sha256
    (tmp_path / ".qrun/store/results" / key).write_bytes(b'{"fidelity": 0.99}')
    with pytest.raises(StoreError) as info:
        store.get("results", key, sha256=expected)
    message = str(info.value)
    assert key in message
    assert expected in message
    assert sha256_hex(b'{"fidelity": 0.99}') in message
    assert "qrun store verify" in message
    assert "modified after upload" in message


def test_missing_object_names_bucket_and_key(store: LocalStore) -> None:
    with pytest.raises(StoreError, match=r"results/bell/r9/analysis\.json not found"):
        store.get("results", "bell/r9/analysis.json")
    assert store.exists("results", "bell/r9/analysis.json") is None


def test_unknown_bucket_is_refused(store: LocalStore) -> None:
    with pytest.raises(StoreError, match="unknown bucket 'logs'"):
        store.put("logs", "a.json", b"x")  # type: ignore[arg-type]


def test_writes_are_atomic_under_concurrent_reads(store: LocalStore, tmp_path: Path) -> None:
    key = "big/r1/job_1.json"
    versions = [bytes([65 + i]) * 500_000 for i in range(4)]
    store.put("results", key, versions[0])
    path = tmp_path / ".qrun/store/results" / key
    seen: set[tuple[int, int]] = set()  # (size, distinct byte values) of each read
    done = threading.Event()

    def read() -> None:
        while True:  # at least one read, however the threads are scheduled
            content = path.read_bytes()
            seen.add((len(content), len(set(content))))
            if done.is_set():
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(12):
            store.put("results", key, versions[round_ % 4])
    finally:
        done.set()
        reader.join()
    assert seen == {(500_000, 1)}  # every read saw one whole version, never a torn one
    assert [p.name for p in path.parent.iterdir()] == ["job_1.json"]  # no temp files left


def test_url_is_repo_relative_posix(store: LocalStore) -> None:
    key = keys.circuit_key("ghz", "ghz[num_qubits=4]")
    assert store.url("experiments", key) == f".qrun/store/experiments/{key}"


def test_absolute_root_outside_repo(tmp_path: Path) -> None:
    outside = LocalStore(tmp_path / "elsewhere", repo_root=tmp_path / "repo")
    outside.put("circuits", "templates/bell.json", b"{}")
    assert outside.url("circuits", "templates/bell.json") == (
        (tmp_path / "elsewhere/circuits/templates/bell.json").as_posix()
    )


def test_unwritable_root_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = LocalStore(blocker, repo_root=tmp_path)
    with pytest.raises(StoreError, match=r"could not write results/a\.json"):
        store.put("results", "a.json", b"x")


@given(NAMES, TEXT)
def test_any_circuit_key_stays_inside_the_store(name: str, circuit_id: str) -> None:
    root = Path("/srv/qrun-store")
    path = LocalStore(root, repo_root=Path("/srv"))._path(
        "experiments", keys.circuit_key(name, circuit_id)
    )
    assert path.resolve().is_relative_to(root / "experiments")


def test_open_store_defaults_to_local(tmp_path: Path) -> None:
    config = StoreConfig.from_env({}, repo_root=tmp_path)
    opened = open_store(config)
    assert isinstance(opened, LocalStore)
    assert opened.root == tmp_path / ".qrun/store"
    custom = open_store(StoreConfig.from_env({"QRUN_STORE_DIR": "out/s"}, repo_root=tmp_path))
    assert isinstance(custom, LocalStore)
    assert custom.url("results", "a.json") == "out/s/results/a.json"
