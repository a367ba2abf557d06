"""`qrun apply` end to end with the COS store: moto's S3 server over HTTP, ibm_boto3, HMAC or IAM.

Every test gets fresh buckets, so deterministic run ids never meet objects of another test.
What the store holds is always checked through a plain S3 client, never through qrun.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tomllib
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.stores import keys
from runner.stores.config import StoreConfig, open_store
from tests.s3_fixtures import (
    HMAC_SECRET,
    IAM_API_KEY,
    INSTANCE_ID,
    FaultProxy,
    IamTokenServer,
    S3Setup,
)

NAMES = ("bell", "coherence-fez", "ghz-fidelity", "ghz-sweep", "qaoa-ring", "qft4")
STORE_LINE = re.compile(r"store: (\d+) uploaded, (\d+) already present")


@dataclass
class Cos:
    """Fresh buckets on the module's moto server, and the environment pointing qrun at them."""

    s3: S3Setup
    buckets: dict[str, str]
    monkeypatch: pytest.MonkeyPatch

    def use(self, endpoint: str | None = None, **extra: str) -> None:
        """Point qrun (via the process environment) at these buckets, maybe through a proxy."""
        names = {f"COS_BUCKET_{b.upper()}": n for b, n in self.buckets.items()}
        for var, value in self.s3.env(endpoint, **{**names, **extra}).items():
            self.monkeypatch.setenv(var, value)

    def client(self) -> Any:
        return self.s3.client()

    def listing(self, bucket: str) -> dict[str, str]:
        """Key → ETag of everything in a bucket, asked of moto directly."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.buckets[bucket])
        return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}

    def fetch(self, bucket: str, key: str) -> tuple[bytes, dict[str, str]]:
        response = self.client().get_object(Bucket=self.buckets[bucket], Key=key)
        return response["Body"].read(), response["Metadata"]


@pytest.fixture
def cos(project: Path, moto_s3: S3Setup, monkeypatch: pytest.MonkeyPatch) -> Cos:
    suffix = uuid.uuid4().hex[:10]
    buckets = {b: f"qa-{b}-{suffix}" for b in ("experiments", "results", "circuits")}
    client = moto_s3.client()
    for name in buckets.values():
        client.create_bucket(Bucket=name)
    setup = Cos(moto_s3, buckets, monkeypatch)
    setup.use()
    return setup


def locks(root: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name.removesuffix(".lock.toml"): tomllib.loads(p.read_text())
        for p in sorted((root / "specs").glob("*.lock.toml"))
    }


def recorded(root: Path) -> dict[str, dict[str, Any]]:
    """key → object record, for every object every lock records."""
    return {
        o["key"]: o
        for lock in locks(root).values()
        for run in lock.get("runs", [])
        for o in run.get("objects", [])
    }


def store_counts(text: str) -> tuple[int, int]:
    match = STORE_LINE.search(text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def assert_lock_matches_bucket(cos: Cos, root: Path) -> None:
    """Every recorded object is in COS with its bytes, size and metadata; nothing extra."""
    objects = recorded(root)
    assert objects and {o["bucket"] for o in objects.values()} == {"results"}
    for key, obj in objects.items():
        data, metadata = cos.fetch("results", key)
        assert hashlib.sha256(data).hexdigest() == obj["sha256"] == metadata["sha256"], key
        assert len(data) == obj["size"]
    assert set(cos.listing("results")) == set(objects)


def expected_experiment_keys(cos: Cos, root: Path) -> set[str]:
    """definition, metadata and one QASM per circuit the runs' requests name."""
    expected = set()
    for name, lock in locks(root).items():
        expected |= {keys.definition_key(name), keys.metadata_key(name)}
        for run in lock["runs"]:
            request = next(o for o in run["objects"] if o["key"].endswith("/request.json"))
            doc = json.loads(cos.fetch("results", request["key"])[0])
            expected |= {keys.circuit_key(name, c["circuit_id"]) for c in doc["circuits"]}
    return expected


def test_apply_stores_every_object_in_cos(
    project: Path, cos: Cos, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply"]) == 0
    out = capsys.readouterr().out
    assert set(locks(project)) == set(NAMES)
    assert all(r["status"] == "completed" for lk in locks(project).values() for r in lk["runs"])
    assert_lock_matches_bucket(cos, project)
    experiments = cos.listing("experiments")
    assert set(experiments) == expected_experiment_keys(cos, project)
    assert "ghz-sweep/circuits/ghz%5Bnum_qubits=5%5D.qasm" in experiments
    for key in experiments:
        data, metadata = cos.fetch("experiments", key)
        assert metadata["sha256"] == hashlib.sha256(data).hexdigest()
    # the template library (one entry per template the specs use); no hardware ran, so no
    # validated/ circuits
    circuits = cos.listing("circuits")
    assert set(circuits) == {
        "templates/bell.json",
        "templates/ghz.json",
        "templates/qaoa_maxcut.json",
        "templates/t1.json",
        "templates/t2_echo.json",
        "templates/readout.json",
        "templates/ghz_parity.json",
    }
    total = len(experiments) + len(recorded(project)) + len(circuits)
    assert store_counts(out) == (total, 0)
    assert not (project / ".qrun" / "store").exists()


def test_reports_link_to_the_objects_in_cos(project: Path, cos: Cos) -> None:
    assert main(["apply", "--only", "ghz-sweep"]) == 0
    store = open_store(StoreConfig.from_env(os.environ, project))
    (run,) = locks(project)["ghz-sweep"]["runs"]
    key = keys.analysis_key("ghz-sweep", run["id"])
    url = f"{cos.s3.endpoint}/{cos.buckets['results']}/{key}"
    assert store.url("results", key) == url
    page = (project / "reports" / "ghz-sweep.md").read_text()
    assert f"| Stored results | [{run['id']}]({url}) |" in page
    assert page.count(f"]({url})") == 1  # each thing linked once per page
    # as in a bucket shared read-only with readers, a plain GET of the link is the object
    client = cos.client()
    client.put_object_acl(Bucket=cos.buckets["results"], Key=key, ACL="public-read")
    with urllib.request.urlopen(url) as response:
        assert hashlib.sha256(response.read()).hexdigest() == run["objects"][-1]["sha256"]
    # keys holding escapes are quoted once more in URLs (%5B -> %255B) and still resolve
    qasm_key = keys.circuit_key("ghz-sweep", "ghz[num_qubits=3]")
    qasm_url = store.url("experiments", qasm_key)
    assert qasm_url.endswith("/ghz-sweep/circuits/ghz%255Bnum_qubits=3%255D.qasm")
    client.put_object_acl(Bucket=cos.buckets["experiments"], Key=qasm_key, ACL="public-read")
    with urllib.request.urlopen(qasm_url) as response:
        assert response.read() == cos.fetch("experiments", qasm_key)[0]


def test_reapply_uploads_nothing_and_changes_nothing(
    project: Path, cos: Cos, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QRUN_NOW", "2025-03-03T10:00:00Z")
    assert main(["apply"]) == 0
    uploaded, _ = store_counts(capsys.readouterr().out)
    before = (files(project), cos.listing("results"), cos.listing("experiments"))
    assert main(["apply"]) == 0
    assert store_counts(capsys.readouterr().out) == (0, 0)
    assert (files(project), cos.listing("results"), cos.listing("experiments")) == before
    # Runs redone from scratch (locks lost, say) find every object already there, unchanged.
    for lock in (project / "specs").glob("*.lock.toml"):
        lock.unlink()
    assert main(["apply"]) == 0
    assert store_counts(capsys.readouterr().out) == (0, uploaded)
    assert (files(project), cos.listing("results"), cos.listing("experiments")) == before


def test_tampered_and_deleted_objects_are_reported(
    project: Path, cos: Cos, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply"]) == 0
    objects = recorded(project)
    total = len(objects)
    capsys.readouterr()
    assert main(["store", "verify"]) == 0
    assert f"{total} objects verified, 0 missing, 0 corrupted" in capsys.readouterr().out

    bell = next(k for k in objects if k.startswith("bell/") and k.endswith("/analysis.json"))
    qft = next(k for k in objects if k.startswith("qft4/") and "/job_" in k)
    ghz = next(k for k in objects if k.startswith("ghz-sweep/") and k.endswith("/request.json"))
    client, results = cos.client(), cos.buckets["results"]
    client.put_object(Bucket=results, Key=bell, Body=b'{"tampered": true}')  # metadata dropped
    forged = {"sha256": objects[qft]["sha256"]}  # bytes changed, metadata kept
    client.put_object(Bucket=results, Key=qft, Body=b"{}", Metadata=forged)
    client.delete_object(Bucket=results, Key=ghz)

    assert main(["store", "verify"]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith(("bell", "qft4", "ghz"))]
    assert len(problems) == 3
    tampered = hashlib.sha256(b'{"tampered": true}').hexdigest()
    assert f"results/{bell}: corrupted: expected sha256 {objects[bell]['sha256']}, actual " in out
    assert tampered in out
    assert f"results/{qft}: corrupted" in out and hashlib.sha256(b"{}").hexdigest() in out
    assert f"results/{ghz}: missing" in out
    assert f"{total} objects verified, 1 missing, 2 corrupted" in out

    assert main(["store", "verify", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["data"]["missing"] == 1 and doc["data"]["corrupted"] == 2
    assert {p["key"]: p["status"] for p in doc["data"]["problems"]} == {
        bell: "corrupted",
        qft: "corrupted",
        ghz: "missing",
    }

    (project / "reports" / "bell.md").unlink()  # current pages are reused: force a render
    assert main(["report"]) == 1
    err = capsys.readouterr().err
    assert f"checksum mismatch for results/{bell}" in err and cos.buckets["results"] in err


def test_missing_bucket_fails_before_submitting_and_recovers(
    project: Path, cos: Cos, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = f"qa-missing-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("COS_BUCKET_RESULTS", missing)
    assert main(["apply"]) == 1
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert f"COS bucket '{missing}' does not exist" in text and "set COS_BUCKET_RESULTS" in text
    # nothing was claimed, submitted or written: the store is checked before the claim
    assert all(not lock.get("runs") for lock in locks(project).values())
    assert cos.listing("experiments") == {} and cos.listing("results") == {}

    monkeypatch.setenv("COS_BUCKET_RESULTS", cos.buckets["results"])
    assert main(["apply"]) == 0
    assert all(r["status"] == "completed" for lk in locks(project).values() for r in lk["runs"])
    assert_lock_matches_bucket(cos, project)


def test_store_failing_after_submission_claims_no_upload(
    project: Path,
    cos: Cos,
    fault_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Jobs ran but their results could not be stored: the lock says so, and what happens next.

    A local simulator job lives in the process that ran it, so a later process can only
    mark the run failed, with the way forward; `qrun retry` then runs it again.
    """
    cos.use(fault_proxy.endpoint)
    fault_proxy.respond_next(1, 403, "AccessDenied", "Access Denied", r"^PUT /[^ ]*/job_")
    assert main(["apply", "--only", "bell"]) == 1
    assert "the credentials need the Writer role" in capsys.readouterr().out
    (run,) = locks(project)["bell"]["runs"]
    assert run["status"] == "queued" and [j["id"] for j in run["jobs"]]
    assert [o["key"].rsplit("/", 1)[1] for o in run["objects"]] == ["request.json"]
    assert_lock_matches_bucket(cos, project)

    later = subprocess.run(
        [sys.executable, "-m", "runner", "apply", "--only", "bell"],
        cwd=project,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert later.returncode == 1, later.stdout + later.stderr
    (run,) = locks(project)["bell"]["runs"]
    assert run["status"] == "failed" and "qrun retry" in run["error"]
    assert_lock_matches_bucket(cos, project)

    assert main(["retry", "bell"]) == 0
    first, second = locks(project)["bell"]["runs"]
    assert first["status"] == "failed" and second["status"] == "completed"
    assert_lock_matches_bucket(cos, project)


@pytest.mark.parametrize("landed", [False, True], ids=["refused", "unacknowledged"])
def test_request_lost_after_submission_is_recovered(
    project: Path,
    cos: Cos,
    fault_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
    landed: bool,
) -> None:
    """request.json refused (or stored but never acknowledged) after the jobs were submitted:
    the next collection adopts the stored copy, else rebuilds it from the unchanged spec."""
    cos.use(fault_proxy.endpoint, COS_MAX_ATTEMPTS="2")
    pattern = r"^PUT /[^ ]*/request\.json"
    if landed:
        fault_proxy.drop_response_next(2, pattern)
    else:
        fault_proxy.respond_next(1, 403, "AccessDenied", "Access Denied", pattern)
    assert main(["apply", "--only", "bell"]) == 1
    (run,) = locks(project)["bell"]["runs"]
    assert run["status"] == "queued" and not run.get("objects")
    request_key = keys.run_prefix("bell", run["id"]) + "request.json"
    before = cos.listing("results")
    assert set(before) == ({request_key} if landed else set())
    capsys.readouterr()

    assert main(["apply", "--only", "bell"]) == 0  # same process: the local job is still here
    out = capsys.readouterr().out
    (run,) = locks(project)["bell"]["runs"]
    assert run["status"] == "completed"
    assert run["objects"][0]["key"] == request_key
    assert_lock_matches_bucket(cos, project)
    request = json.loads(cos.fetch("results", request_key)[0])
    if landed:  # the submitted request, calibration included, kept as it was
        assert cos.listing("results")[request_key] == before[request_key]
        assert request["calibration"]["qubits"]
        assert "rebuilt" not in out
    else:  # rebuilt: the calibration snapshot of submission time is gone
        assert request["calibration"] == {}
        assert f"request of run {run['id']} not in the store; rebuilt from the spec" in out


def test_transient_faults_lose_and_duplicate_nothing(
    project: Path, cos: Cos, fault_proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    cos.use(fault_proxy.endpoint)
    # One fault per request, so each costs one retry (botocore backs off exponentially).
    fault_proxy.reset_next(1)  # the very first request: connection reset by peer
    fault_proxy.drop_response_next(1, r"^PUT [^ ]*/bell/definition\.json")  # stored, unheard
    fault_proxy.drop_response_next(1, r"^PUT [^ ]*/job_")
    fault_proxy.reset_next(1, r"^PUT [^ ]*/analysis\.json")
    fault_proxy.reset_next(1, r"^GET [^ ]*/request\.json")
    fault_proxy.reset_next(1, r"^HEAD [^ ]*/metadata\.json")
    assert main(["apply"]) == 0
    out = capsys.readouterr().out
    assert fault_proxy.pending() == 0 and len(fault_proxy.injected) == 6
    assert all(r["status"] == "completed" for lk in locks(project).values() for r in lk["runs"])
    assert_lock_matches_bucket(cos, project)
    experiments = cos.listing("experiments")
    assert set(experiments) == expected_experiment_keys(cos, project)
    # each object counted once however often its PUT went over the wire
    circuits = cos.listing("circuits")
    assert store_counts(out) == (len(experiments) + len(recorded(project)) + len(circuits), 0)
    for bucket in ("results", "experiments"):
        uploads = cos.client().list_multipart_uploads(Bucket=cos.buckets[bucket])
        assert not uploads.get("Uploads")
    assert main(["store", "verify"]) == 0


def test_hmac_secret_never_leaks(
    project: Path,
    cos: Cos,
    fault_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # root logger at DEBUG, as `--debug`-style setups do
    caplog.set_level(logging.DEBUG, logger="ibm_botocore")  # even the SDK's wire log
    cos.use(fault_proxy.endpoint, COS_MAX_ATTEMPTS="2")
    fault_proxy.reset_next(1)
    fault_proxy.respond_next(
        1, 403, "SignatureDoesNotMatch", "Signature mismatch", r"^PUT [^ ]*qft4/[^ ]*/job_"
    )
    assert main(["apply"]) == 1
    assert main(["store", "verify"]) == 0  # the failed upload is not claimed by the lock
    assert main(["report"]) == 0
    assert main(["apply", "--format", "json"]) == 0  # collects qft4 now the store answers
    captured = capsys.readouterr()
    assert "COS rejected the credentials" in captured.out  # an error message was produced
    assert any(r.name.startswith("runner.stores") for r in caplog.records)
    assert any(
        r.name.startswith("ibm_botocore") and r.levelno == logging.DEBUG for r in caplog.records
    )
    texts = {"stdout": captured.out, "stderr": captured.err, "log": caplog.text}
    texts.update({path: data.decode("utf-8", "replace") for path, data in files(project).items()})
    for where, text in texts.items():
        assert HMAC_SECRET not in text, where


def test_iam_api_key_apply_end_to_end(
    project: Path,
    cos: Cos,
    fault_proxy: FaultProxy,
    iam_token_server: IamTokenServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cos.use(fault_proxy.endpoint)
    monkeypatch.delenv("COS_HMAC_ACCESS_KEY_ID")
    monkeypatch.delenv("COS_HMAC_SECRET_ACCESS_KEY")
    monkeypatch.setenv("COS_API_KEY", IAM_API_KEY)
    monkeypatch.setenv("COS_INSTANCE_ID", INSTANCE_ID)
    monkeypatch.setenv("COS_AUTH_ENDPOINT", iam_token_server.url)
    accepted = iam_token_server.accepted
    assert main(["apply"]) == 0
    assert main(["store", "verify"]) == 0
    captured = capsys.readouterr()
    assert iam_token_server.accepted > accepted
    assert fault_proxy.heads and all(b"Authorization: Bearer " in h for h in fault_proxy.heads)
    assert_lock_matches_bucket(cos, project)
    for text in (
        captured.out,
        captured.err,
        *(d.decode("utf-8", "replace") for d in files(project).values()),
    ):
        assert IAM_API_KEY not in text
