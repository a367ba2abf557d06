"""The COS store against moto's S3 server over HTTP, with real faults injected on the wire."""

from __future__ import annotations

import logging
import random
import re
import socket
from pathlib import Path

import pytest

from runner.errors import QrunError, StoreError
from runner.stores import keys
from runner.stores.base import ResultStore, sha256_hex
from runner.stores.config import StoreConfig, open_store
from runner.stores.cos import CosStore
from tests.s3_fixtures import (
    HMAC_SECRET,
    IAM_API_KEY,
    INSTANCE_ID,
    FaultProxy,
    IamTokenServer,
    S3Setup,
)

MIB = 1024 * 1024


def cos(env: dict[str, str]) -> CosStore:
    """Open the store exactly as the CLI does: environment → config → store."""
    store = open_store(StoreConfig.from_env(env, repo_root=Path.cwd()))
    assert isinstance(store, CosStore)
    return store


def listed(s3: S3Setup, bucket: str, prefix: str) -> list[str]:
    """Keys under a prefix, asked of moto directly (not through the store or the proxy)."""
    response = s3.client().list_objects_v2(Bucket=s3.buckets[bucket], Prefix=prefix)
    return sorted(item["Key"] for item in response.get("Contents", []))


def unique(name: str) -> str:
    return f"{name}-{random.getrandbits(32):08x}"


# idempotent, verified uploads


def test_cos_store_satisfies_the_protocol(moto_s3: S3Setup) -> None:
    typed: ResultStore = cos(moto_s3.env())
    assert typed.kind == "cos"


def test_put_twice_skips_the_second(moto_s3: S3Setup) -> None:
    store = cos(moto_s3.env())
    key = keys.job_result_key(unique("bell"), "r1", "job1")
    data = b'{"counts": {"00": 2000, "11": 2096}}'
    first = store.put("results", key, data)
    second = store.put("results", key, data)
    assert first.uploaded and not second.uploaded
    assert first.obj == second.obj
    assert (store.uploaded, store.skipped) == (1, 1)
    head = moto_s3.client().head_object(Bucket=moto_s3.buckets["results"], Key=key)
    assert head["Metadata"] == {"sha256": sha256_hex(data)}
    assert head["ContentType"] == "application/json"
    assert store.get("results", key, sha256=sha256_hex(data)) == data
    assert store.exists("results", key) == sha256_hex(data)


def test_circuit_ids_survive_as_keys(moto_s3: S3Setup) -> None:
    store = cos(moto_s3.env())
    name = unique("qaoa")
    key = keys.circuit_key(name, "qaoa[edges=[[0,1],[1,2]],p=2]")
    store.put("experiments", key, b"OPENQASM 3.0;", content_type="text/plain")
    assert listed(moto_s3, "experiments", name) == [key]
    assert store.get("experiments", key) == b"OPENQASM 3.0;"
    bucket = moto_s3.buckets["experiments"]
    assert store.url("experiments", key) == (
        f"{moto_s3.endpoint}/{bucket}/{name}/circuits/qaoa%255Bedges=%255B%255B0%252C1"
        "%255D%252C%255B1%252C2%255D%255D%252Cp=2%255D.qasm"
    )


def test_get_with_wrong_expected_checksum_fails(moto_s3: S3Setup) -> None:
    store = cos(moto_s3.env())
    key = keys.analysis_key(unique("bell"), "r1")
    store.put("results", key, b"{}")
    with pytest.raises(StoreError, match=r"expected sha256 0{64}, got"):
        store.get("results", key, sha256="0" * 64)


@pytest.mark.parametrize("keep_metadata", [True, False])
def test_tampered_object_is_detected(moto_s3: S3Setup, keep_metadata: bool) -> None:
    store = cos(moto_s3.env())
    key = keys.analysis_key(unique("ghz"), "r1")
    original = b'{"fidelity": 0.91}'
    expected = store.put("results", key, original).obj.sha256
    metadata = {"sha256": expected} if keep_metadata else {}
    moto_s3.client().put_object(
        Bucket=moto_s3.buckets["results"], Key=key, Body=b'{"fidelity": 0.99}', Metadata=metadata
    )
    with pytest.raises(StoreError) as info:
        store.get("results", key, sha256=expected)
    message = str(info.value)
    assert key in message and expected in message and "qrun store verify" in message
    if keep_metadata:  # the metadata alone convicts the bytes, no lock needed
        with pytest.raises(StoreError, match="its metadata records sha256"):
            store.get("results", key)
    else:
        assert store.exists("results", key) == sha256_hex(b'{"fidelity": 0.99}')
    repaired = store.put("results", key, original)  # a re-upload restores the object
    assert repaired.uploaded
    assert store.get("results", key, sha256=expected) == original


def test_missing_object_names_bucket_and_key(moto_s3: S3Setup) -> None:
    store = cos(moto_s3.env())
    key = keys.analysis_key(unique("nothing"), "r1")
    with pytest.raises(StoreError) as info:
        store.get("results", key)
    assert key in str(info.value)
    assert moto_s3.buckets["results"] in str(info.value)
    assert store.exists("results", key) is None


@pytest.mark.parametrize("operation", ["put", "get", "exists"])
def test_missing_bucket_is_named(moto_s3: S3Setup, operation: str) -> None:
    store = cos(moto_s3.env(COS_BUCKET_RESULTS="qrun-no-such-bucket"))
    with pytest.raises(StoreError) as info:
        if operation == "put":
            store.put("results", "a/r/analysis.json", b"{}")
        elif operation == "get":
            store.get("results", "a/r/analysis.json")
        else:
            store.exists("results", "a/r/analysis.json")
    message = str(info.value)
    assert "COS bucket 'qrun-no-such-bucket' does not exist" in message
    assert "COS_BUCKET_RESULTS" in message


def test_multipart_upload_roundtrips(moto_s3: S3Setup) -> None:
    store = cos(moto_s3.env(COS_MULTIPART_THRESHOLD=str(MIB)))
    key = keys.job_result_key(unique("big"), "r1", "job1")
    data = random.Random(7).randbytes(11 * MIB)  # parts of 5 MiB: 5 + 5 + 1
    outcome = store.put("results", key, data)
    assert outcome.uploaded
    client = moto_s3.client()
    head = client.head_object(Bucket=moto_s3.buckets["results"], Key=key)
    assert head["ETag"].strip('"').endswith("-3")
    assert head["Metadata"] == {"sha256": sha256_hex(data)}
    assert store.get("results", key, sha256=sha256_hex(data)) == data
    assert not store.put("results", key, data).uploaded
    uploads = client.list_multipart_uploads(Bucket=moto_s3.buckets["results"], Prefix=key)
    assert uploads.get("Uploads", []) == []


# transient faults on the wire


def test_resets_and_lost_answers_lose_and_duplicate_nothing(
    moto_s3: S3Setup, fault_proxy: FaultProxy
) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint))
    name = unique("flaky")
    # one fault per request, so each costs a single botocore backoff
    fault_proxy.reset_next(1)  # the first request: the HEAD for job0
    fault_proxy.reset_next(1, match=r"^PUT .*/job_job1\.json")
    fault_proxy.drop_response_next(1, match=r"^PUT .*/job_job2\.json")  # stored, answer lost
    fault_proxy.drop_response_next(1, match=r"^PUT .*/job_job3\.json")
    fault_proxy.reset_next(1, match=r"^GET .*/job_job4\.json")
    objects = {
        keys.job_result_key(name, "r1", f"job{i}"): f'{{"job": {i}}}'.encode() for i in range(6)
    }
    for key, data in objects.items():
        assert store.put("results", key, data).uploaded
    assert fault_proxy.pending() == 1
    for key, data in objects.items():
        assert store.get("results", key, sha256=sha256_hex(data)) == data
    assert fault_proxy.pending() == 0
    assert [kind for kind, _ in fault_proxy.injected].count("drop") == 2
    assert listed(moto_s3, "results", name) == sorted(objects)
    assert (store.uploaded, store.skipped) == (6, 0)


def test_multipart_survives_part_reset_and_lost_completion(
    moto_s3: S3Setup, fault_proxy: FaultProxy
) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint, COS_MULTIPART_THRESHOLD=str(MIB)))
    key = keys.job_result_key(unique("big"), "r1", "job1")
    data = random.Random(3).randbytes(11 * MIB)
    fault_proxy.reset_next(1, match=r"^PUT .*partNumber=2")
    fault_proxy.drop_response_next(1, match=r"^POST .*uploadId=")  # completed, answer lost
    assert store.put("results", key, data).uploaded
    assert fault_proxy.pending() == 0
    completions = [line for line in fault_proxy.request_lines if line.startswith("POST ")]
    assert len(completions) == 3  # create, the completion whose answer was lost, its retry
    assert store.get("results", key, sha256=sha256_hex(data)) == data
    client = moto_s3.client()
    assert listed(moto_s3, "results", key) == [key]
    uploads = client.list_multipart_uploads(Bucket=moto_s3.buckets["results"], Prefix=key)
    assert uploads.get("Uploads", []) == []


def test_slow_answer_is_retried_after_read_timeout(
    moto_s3: S3Setup, fault_proxy: FaultProxy
) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint, COS_READ_TIMEOUT="0.5"))
    name = unique("slow")
    key = keys.analysis_key(name, "r1")
    # HEAD, not PUT: a PUT waits up to 1 s for "100 Continue", which would hide the delay
    fault_proxy.delay_next(1, 1.0, match=r"^HEAD ")
    assert store.put("results", key, b'{"ok": true}').uploaded
    target = f"HEAD /{moto_s3.buckets['results']}/{key} "
    heads = [line for line in fault_proxy.request_lines if line.startswith(target)]
    assert len(heads) == 2  # the held one timed out on the client and was sent again
    assert listed(moto_s3, "results", name) == [key]
    assert store.get("results", key, sha256=sha256_hex(b'{"ok": true}')) == b'{"ok": true}'


def test_download_cut_off_mid_body_is_fetched_again(
    moto_s3: S3Setup, fault_proxy: FaultProxy
) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint))
    key = keys.job_result_key(unique("cut"), "r1", "job1")
    data = random.Random(5).randbytes(256 * 1024)
    store.put("results", key, data)
    fault_proxy.cut_response_next(1, 4096, match=r"^GET ")  # headers arrive, body does not
    assert store.get("results", key, sha256=sha256_hex(data)) == data
    assert fault_proxy.pending() == 0
    gets = [
        line
        for line in fault_proxy.request_lines
        if line.startswith(f"GET /{moto_s3.buckets['results']}/{key}")
    ]
    assert len(gets) == 2  # fetched again by the store: botocore does not retry a cut body


def test_throttling_is_retried(moto_s3: S3Setup, fault_proxy: FaultProxy) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint))
    key = keys.analysis_key(unique("busy"), "r1")
    fault_proxy.respond_next(1, 503, "SlowDown", "Please reduce your request rate.", r"^PUT ")
    assert store.put("results", key, b"{}").uploaded
    assert fault_proxy.pending() == 0
    assert store.get("results", key) == b"{}"


def test_retries_are_bounded(moto_s3: S3Setup, fault_proxy: FaultProxy) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint, COS_MAX_ATTEMPTS="2"))
    fault_proxy.reset_next(2)
    with pytest.raises(StoreError) as info:
        store.put("results", "x/r1/analysis.json", b"{}")
    message = str(info.value)
    assert f"could not reach COS at {fault_proxy.endpoint}" in message
    assert "after 2 attempts" in message
    assert moto_s3.buckets["results"] in message
    assert fault_proxy.pending() == 0


@pytest.mark.parametrize(
    ("match", "status", "code", "expected"),
    [
        (r"^PUT ", 403, "AccessDenied", "need the Writer role on bucket '{bucket}'"),
        (r"^HEAD ", 403, "AccessDenied", "need the Writer role on bucket '{bucket}'"),
        (r"^PUT ", 403, "InvalidAccessKeyId", "check COS_HMAC_ACCESS_KEY_ID"),
        (r"^PUT ", 403, "SignatureDoesNotMatch", "check that COS_HMAC_SECRET_ACCESS_KEY"),
    ],
)
def test_permanent_errors_on_put_are_explained(
    moto_s3: S3Setup, fault_proxy: FaultProxy, match: str, status: int, code: str, expected: str
) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint))
    fault_proxy.respond_next(1, status, code, "Denied.", match)
    with pytest.raises(StoreError) as info:
        store.put("results", unique("deny") + "/r1/analysis.json", b"{}")
    bucket = moto_s3.buckets["results"]
    assert expected.format(bucket=bucket) in str(info.value)
    assert bucket in str(info.value)
    assert fault_proxy.pending() == 0  # not retried: one answer was enough
    assert len(fault_proxy.injected) == 1


def test_access_denied_on_read_asks_for_reader(moto_s3: S3Setup, fault_proxy: FaultProxy) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint))
    fault_proxy.respond_next(1, 403, "AccessDenied", "Access Denied", r"^GET ")
    with pytest.raises(StoreError, match="need the Reader role on bucket 'qrun-results-"):
        store.get("results", "any/r1/analysis.json")


# IAM API key authentication


def iam_env(s3: S3Setup, proxy: FaultProxy, iam: IamTokenServer, api_key: str) -> dict[str, str]:
    env = s3.env(proxy.endpoint, COS_API_KEY=api_key, COS_INSTANCE_ID=INSTANCE_ID)
    del env["COS_HMAC_ACCESS_KEY_ID"], env["COS_HMAC_SECRET_ACCESS_KEY"]
    env["COS_AUTH_ENDPOINT"] = iam.url
    return env


def test_iam_api_key_gets_a_bearer_token(
    moto_s3: S3Setup,
    fault_proxy: FaultProxy,
    iam_token_server: IamTokenServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    store = cos(iam_env(moto_s3, fault_proxy, iam_token_server, IAM_API_KEY))
    assert store.config.auth == "iam"
    key = keys.analysis_key(unique("iam"), "r1")
    assert store.put("results", key, b'{"iam": 1}').uploaded
    assert store.get("results", key, sha256=sha256_hex(b'{"iam": 1}')) == b'{"iam": 1}'
    assert iam_token_server.accepted >= 1
    tokens = [t.encode() for t in iam_token_server.issued]
    heads = fault_proxy.heads
    assert heads and all(any(b"Authorization: Bearer " + t in h for t in tokens) for h in heads)
    assert not any(IAM_API_KEY.encode() in h for h in heads)  # the key goes only to IAM
    # ibm_botocore logs request headers at DEBUG; the store keeps it at INFO unless asked
    assert caplog.records
    assert IAM_API_KEY not in caplog.text
    assert not any(token in caplog.text for token in iam_token_server.issued)


def test_rejected_api_key_is_explained_without_the_key(
    moto_s3: S3Setup, fault_proxy: FaultProxy, iam_token_server: IamTokenServer
) -> None:
    wrong = "wrong-apikey-do-not-log-42"
    store = cos(iam_env(moto_s3, fault_proxy, iam_token_server, wrong))
    rejected_before = iam_token_server.rejected
    with pytest.raises(StoreError) as info:
        store.put("results", "x/r1/analysis.json", b"{}")
    message = str(info.value)
    assert f"could not get an IAM token from {iam_token_server.url}" in message
    assert "check COS_API_KEY" in message
    assert wrong not in message
    assert iam_token_server.rejected > rejected_before
    assert fault_proxy.request_lines == []  # nothing reached COS without a token


def test_unreachable_iam_endpoint_is_explained(
    moto_s3: S3Setup, fault_proxy: FaultProxy, iam_token_server: IamTokenServer
) -> None:
    env = iam_env(moto_s3, fault_proxy, iam_token_server, IAM_API_KEY)
    with socket.socket() as closed:  # a port with nothing listening
        closed.bind(("127.0.0.1", 0))
        env["COS_AUTH_ENDPOINT"] = f"http://127.0.0.1:{closed.getsockname()[1]}/identity/token"
        with pytest.raises(StoreError) as info:
            cos(env).exists("results", "x/r1/analysis.json")
    message = str(info.value)
    assert "could not get an IAM token from http://127.0.0.1:" in message
    assert "check COS_AUTH_ENDPOINT" in message
    assert IAM_API_KEY not in message


# secrets never leak


def test_secrets_stay_out_of_errors_reprs_and_logs(
    moto_s3: S3Setup, fault_proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = moto_s3.env(fault_proxy.endpoint, COS_MAX_ATTEMPTS="2")
    config = StoreConfig.from_env(env, repo_root=Path.cwd())
    store = cos(env)
    texts = [repr(config), str(config), repr(store), repr(config.hmac_secret_access_key)]
    key = keys.analysis_key(unique("secret"), "r1")
    store.put("results", key, b"{}")
    store.put("results", key, b"{}")
    fault_proxy.reset_next(2)
    fault_proxy.respond_next(1, 403, "SignatureDoesNotMatch", "Signature mismatch", r"^GET ")
    failing = [
        lambda: store.put("results", key, b"[]"),
        lambda: store.get("results", key),
        lambda: store.get("results", key, sha256="0" * 64),
        lambda: cos(moto_s3.env(COS_BUCKET_RESULTS="qrun-missing")).put("results", key, b"{}"),
    ]
    for call in failing:
        with pytest.raises(StoreError) as info:
            call()
        texts.append(str(info.value))
        texts.append(repr(info.value))
    assert len(texts) == 12
    for text in [*texts, caplog.text]:
        assert HMAC_SECRET not in text
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("runner")]
    assert any("skip" in line for line in ours)


# configuration


def test_no_endpoint_means_local(tmp_path: Path) -> None:
    assert StoreConfig.from_env({"COS_ENDPOINT": ""}, tmp_path).kind == "local"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"COS_API_KEY": "k"}, "COS_INSTANCE_ID"),
        ({"COS_INSTANCE_ID": "crn"}, "set COS_API_KEY"),
        ({"COS_HMAC_ACCESS_KEY_ID": "a"}, "set COS_HMAC_SECRET_ACCESS_KEY"),
        ({"COS_HMAC_SECRET_ACCESS_KEY": "s"}, "set COS_HMAC_ACCESS_KEY_ID"),
        ({"COS_API_KEY": "", "COS_HMAC_SECRET_ACCESS_KEY": ""}, "no COS credentials"),
        ({"COS_BUCKET_RESULTS": "Bad_Name"}, "COS_BUCKET_RESULTS='Bad_Name'"),
        ({"COS_MAX_ATTEMPTS": "0"}, "COS_MAX_ATTEMPTS must be a positive integer"),
        ({"COS_READ_TIMEOUT": "soon"}, "COS_READ_TIMEOUT must be a positive number"),
        ({"COS_HMAC_ACCESS_KEY_ID": "a", "COS_ENDPOINT": "s3.example"}, "must start with https"),
    ],
)
def test_incomplete_cos_config_names_the_variable(
    tmp_path: Path, env: dict[str, str], names: str
) -> None:
    full = {"COS_ENDPOINT": "https://s3.us-south.cloud-object-storage.appdomain.cloud", **env}
    if "COS_BUCKET_RESULTS" in env or "COS_MAX_ATTEMPTS" in env or "COS_READ_TIMEOUT" in env:
        full |= {"COS_API_KEY": "k", "COS_INSTANCE_ID": "crn"}
    with pytest.raises(QrunError, match=re.escape(names)):
        StoreConfig.from_env(full, tmp_path)


def test_credentials_without_endpoint_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(QrunError, match="COS_API_KEY is set but COS_ENDPOINT is not"):
        StoreConfig.from_env({"COS_API_KEY": IAM_API_KEY}, tmp_path)


def test_config_reads_iam_and_hmac_and_hides_secrets(tmp_path: Path) -> None:
    base = {"COS_ENDPOINT": "https://s3.eu-de.cloud-object-storage.appdomain.cloud/"}
    hmac = StoreConfig.from_env(
        base | {"COS_HMAC_ACCESS_KEY_ID": "AKIDEXAMPLE", "COS_HMAC_SECRET_ACCESS_KEY": HMAC_SECRET},
        tmp_path,
    )
    assert hmac.auth == "hmac" and hmac.endpoint == base["COS_ENDPOINT"].rstrip("/")
    assert hmac.buckets == {
        "experiments": "qrun-experiments",
        "results": "qrun-results",
        "circuits": "qrun-circuits",
    }
    iam = StoreConfig.from_env(
        base
        | {"COS_API_KEY": IAM_API_KEY, "COS_INSTANCE_ID": INSTANCE_ID}
        | {"COS_HMAC_ACCESS_KEY_ID": "AKIDEXAMPLE", "COS_HMAC_SECRET_ACCESS_KEY": HMAC_SECRET},
        tmp_path,
    )
    assert iam.auth == "iam"  # the API key wins when both are complete
    assert iam.auth_endpoint == "https://iam.cloud.ibm.com/identity/token"
    assert iam.api_key is not None and iam.api_key.reveal() == IAM_API_KEY
    for shown in (repr(hmac), str(hmac), repr(iam), f"{iam.api_key}", repr(iam.api_key)):
        assert HMAC_SECRET not in shown
        assert IAM_API_KEY not in shown
        assert "AKIDEXAMPLE" not in shown
