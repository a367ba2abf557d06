"""COS uploads under real faults and at rest: a runner killed (SIGKILL, a real subprocess)
halfway through a multipart upload leaves an incomplete upload that the next upload of that
key aborts; a failing one is aborted at once; every upload asks for server-side encryption.
Moto's S3 server over HTTP, behind the recording, fault-injecting TCP proxy."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.errors import StoreError
from runner.stores import keys
from runner.stores.base import sha256_hex
from runner.stores.config import StoreConfig, open_store
from runner.stores.cos import CosStore
from tests.s3_fixtures import FaultProxy, S3Setup

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
UPLOAD = """
import json, random, sys
from pathlib import Path
from runner.stores.config import StoreConfig, open_store
env, key = json.loads(sys.argv[1]), sys.argv[2]
store = open_store(StoreConfig.from_env(env, Path.cwd()))
store.put("results", key, random.Random(1).randbytes(6 * 1024 * 1024))
"""


def cos(env: dict[str, str]) -> CosStore:
    store = open_store(StoreConfig.from_env(env, repo_root=Path.cwd()))
    assert isinstance(store, CosStore)
    return store


def incomplete(s3: S3Setup, key: str) -> list[str]:
    """Upload ids of incomplete multipart uploads of key, asked of moto directly."""
    found = s3.client().list_multipart_uploads(Bucket=s3.buckets["results"], Prefix=key)
    return [u["UploadId"] for u in found.get("Uploads", []) if u["Key"] == key]


def key_for(name: str) -> str:
    return keys.job_result_key(f"{name}-{random.getrandbits(32):08x}", "0001-abcd", "job1")


def test_an_upload_killed_midway_is_aborted_by_the_next_upload_of_its_key(
    moto_s3: S3Setup, fault_proxy: FaultProxy
) -> None:
    key = key_for("killed")
    env = moto_s3.env(fault_proxy.endpoint, COS_MULTIPART_THRESHOLD=str(MIB))
    fault_proxy.delay_next(1, 3.0, match=r"^PUT .*partNumber=2")  # hold it there to kill it
    child = subprocess.Popen(
        [sys.executable, "-c", UPLOAD, json.dumps(env), key], cwd=ROOT, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not fault_proxy.injected and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fault_proxy.injected, child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert len(incomplete(moto_s3, key)) == 1  # part 1 stored, billed, never completed
    # a later run uploads the same key (the killed run recorded nothing): the leftover goes
    data = random.Random(2).randbytes(6 * MIB)
    store = cos(moto_s3.env(COS_MULTIPART_THRESHOLD=str(MIB)))
    assert store.put("results", key, data).uploaded
    assert incomplete(moto_s3, key) == []
    assert store.get("results", key, sha256=sha256_hex(data)) == data


def test_an_upload_stopped_by_sigterm_is_aborted_at_once(
    moto_s3: S3Setup, fault_proxy: FaultProxy
) -> None:
    """SIGTERM (a cancelled CI job) unwinds qrun like Ctrl-C: the upload is aborted."""
    key = key_for("terminated")
    env = moto_s3.env(fault_proxy.endpoint, COS_MULTIPART_THRESHOLD=str(MIB))
    fault_proxy.delay_next(1, 3.0, match=r"^PUT .*partNumber=2")
    script = UPLOAD.replace("store.put(", "with sigterm_as_interrupt(): store.put(")
    script = "from runner.interrupts import sigterm_as_interrupt\n" + script
    child = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(env), key], cwd=ROOT, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not fault_proxy.injected and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fault_proxy.injected, child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert b"KeyboardInterrupt" in err
    assert any(line.startswith("DELETE ") for line in fault_proxy.request_lines)
    assert incomplete(moto_s3, key) == []


def test_a_failing_multipart_upload_is_aborted(moto_s3: S3Setup, fault_proxy: FaultProxy) -> None:
    key = key_for("denied")
    store = cos(moto_s3.env(fault_proxy.endpoint, COS_MULTIPART_THRESHOLD=str(MIB)))
    fault_proxy.respond_next(1, 403, "AccessDenied", "no", match=r"^PUT .*partNumber=2")
    with pytest.raises(StoreError, match="AccessDenied"):
        store.put("results", key, random.Random(3).randbytes(6 * MIB))
    assert any(
        line.startswith("DELETE ") and "uploadId=" in line for line in fault_proxy.request_lines
    )
    assert incomplete(moto_s3, key) == []


def _sent(proxy: FaultProxy, start: str) -> list[str]:
    """Request heads (as sent on the wire) whose request line starts with `start`."""
    heads = [h.decode("latin-1") for h in proxy.heads]
    return [h for h in heads if h.startswith(start)]


def _sse_header(head: str) -> str | None:
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-amz-server-side-encryption":
            return value.strip()
    return None


def test_every_upload_requests_encryption_at_rest(
    moto_s3: S3Setup, fault_proxy: FaultProxy
) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint, COS_MULTIPART_THRESHOLD=str(MIB)))
    small, big = key_for("small"), key_for("big")
    store.put("results", small, b'{"counts": {"00": 1}}')
    store.put("results", big, random.Random(4).randbytes(6 * MIB))
    creations = [
        *_sent(fault_proxy, "PUT "),  # single PUTs and the parts
        *_sent(fault_proxy, "POST "),  # create and complete of the multipart upload
    ]
    whole = [h for h in creations if "partNumber=" not in h.split("\r\n", 1)[0]]
    starts = [h for h in whole if "?uploads" in h.split("\r\n", 1)[0] or h.startswith("PUT ")]
    assert len(starts) == 2, creations
    assert [_sse_header(h) for h in starts] == ["AES256", "AES256"]
    client = moto_s3.client()
    for key in (small, big):
        head = client.head_object(Bucket=moto_s3.buckets["results"], Key=key)
        assert head["ServerSideEncryption"] == "AES256"


def test_encryption_can_be_turned_off_for_stores_without_it(
    moto_s3: S3Setup, fault_proxy: FaultProxy
) -> None:
    store = cos(moto_s3.env(fault_proxy.endpoint, COS_SSE="off"))
    store.put("results", key_for("plain"), b"{}")
    (put,) = _sent(fault_proxy, "PUT ")
    assert _sse_header(put) is None


def test_a_bad_sse_setting_names_the_variable(tmp_path: Path, moto_s3: S3Setup) -> None:
    from runner.errors import QrunError

    with pytest.raises(QrunError, match=r"^COS_SSE must be AES256 or off"):
        StoreConfig.from_env(moto_s3.env(COS_SSE="aws:kms"), tmp_path)
