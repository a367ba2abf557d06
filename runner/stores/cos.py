"""IBM Cloud Object Storage through ibm_boto3: idempotent, checksum-verified, retried.

Every object carries its SHA-256 in user metadata (``x-amz-meta-sha256``); ``put`` heads
the key first and skips identical bytes, uploads send Content-MD5 so COS rejects bytes
damaged in transit, and objects above the multipart threshold go up in parts (aborted if
they fail; incomplete uploads a killed runner left are aborted before the key is uploaded
again, and by each apply once they are older than the claim lease). Every upload asks for
server-side encryption with the provider's keys (``COS_SSE``). Transient failures (resets,
timeouts, 5xx, throttling) are retried by botocore's standard retry mode; one request
takes at most about ``max_attempts × (connect + read timeout)`` plus backoff. Permanent
failures become one ``StoreError`` naming the bucket and the fix, and never the
credentials. ibm_boto3 is imported only when the first request is made.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote

from runner.errors import StoreError
from runner.stores.base import BUCKETS, Bucket, PutOutcome, StoredObject, sha256_hex
from runner.stores.config import BUCKET_VARS, StoreConfig, make_s3_client
from runner.stores.keys import check_key, is_qrun_key

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3 and COS refuse multipart parts below 5 MiB (except the last)."""
_WRITES = frozenset({"put", "multipart upload"})
_CREDENTIAL_HINTS = {
    "InvalidAccessKeyId": "check COS_HMAC_ACCESS_KEY_ID (COS does not know this access key)",
    "SignatureDoesNotMatch": "check that COS_HMAC_SECRET_ACCESS_KEY belongs to "
    "COS_HMAC_ACCESS_KEY_ID (the request signature did not match)",
}


class CosStore:
    """A ResultStore over IBM COS (or any S3 API) that counts what it uploaded and skipped."""

    kind = "cos"

    def __init__(self, config: StoreConfig) -> None:
        if config.kind != "cos" or config.endpoint is None:
            raise StoreError("CosStore needs a COS configuration; set COS_ENDPOINT")
        self.config = config
        self.endpoint = config.endpoint
        self.uploaded = 0
        self.skipped = 0
        self._client: Any = None
        self._checked_buckets: set[str] = set()

    def __repr__(self) -> str:
        return f"CosStore(endpoint={self.endpoint!r}, auth={self.config.auth!r})"

    @property
    def client(self) -> Any:
        """The ibm_boto3 S3 client, created on first use."""
        if self._client is None:
            self._client = make_s3_client(self.config)
        return self._client

    def bucket_name(self, bucket: Bucket) -> str:
        """The real COS bucket behind a logical bucket."""
        if bucket not in BUCKETS:
            raise StoreError(f"unknown bucket {bucket!r}; valid: {', '.join(BUCKETS)}")
        return self.config.buckets[bucket]

    def put(
        self, bucket: Bucket, key: str, data: bytes, content_type: str = "application/json"
    ) -> PutOutcome:
        """Upload data unless the same bytes (by metadata SHA-256) are already stored."""
        name, key = self.bucket_name(bucket), _checked(bucket, key)
        digest = sha256_hex(data)
        obj = StoredObject(bucket=bucket, key=key, sha256=digest, size=len(data))
        head = self._head(bucket, name, key, "put")
        if head is not None and _same_bytes(head, data, digest):
            self.skipped += 1
            log.debug("skip %s/%s: identical object already in COS", name, key)
            return PutOutcome(obj=obj, uploaded=False)
        if head is not None:
            log.warning("replacing %s/%s: the stored object differs", name, key)
        if len(data) > self.config.multipart_threshold:
            with self._errors(bucket, key, "multipart upload"):
                self._multipart(name, key, data, content_type, digest)
        else:
            with self._errors(bucket, key, "put"):
                self.client.put_object(
                    Bucket=name,
                    Key=key,
                    Body=data,
                    ContentType=content_type,
                    ContentMD5=_md5(data),
                    Metadata={"sha256": digest},
                    **self._encryption(),
                )
        self.uploaded += 1
        log.debug("uploaded %s/%s (%d bytes, sha256 %s)", name, key, len(data), digest)
        return PutOutcome(obj=obj, uploaded=True)

    def get(self, bucket: Bucket, key: str, sha256: str | None = None) -> bytes:
        """Download an object and check it against the expected and the recorded SHA-256."""
        name, key = self.bucket_name(bucket), _checked(bucket, key)
        data, recorded = self._download(bucket, name, key)
        actual = sha256_hex(data)
        if sha256 is not None and actual != sha256:
            raise StoreError(
                f"checksum mismatch for {bucket}/{key} in COS bucket '{name}': expected sha256 "
                f"{sha256}, got {actual}; the object was modified after upload; "
                "re-run `qrun store verify`"
            )
        if recorded is not None and actual != recorded:
            raise StoreError(
                f"checksum mismatch for {bucket}/{key} in COS bucket '{name}': its metadata "
                f"records sha256 {recorded} but the bytes hash to {actual}; the object was "
                "modified after upload; re-run `qrun store verify`"
            )
        return data

    def exists(self, bucket: Bucket, key: str) -> str | None:
        """The object's SHA-256 (from metadata, else from its bytes), or None when absent."""
        name, key = self.bucket_name(bucket), _checked(bucket, key)
        head = self._head(bucket, name, key, "head")
        if head is None:
            return None
        recorded = head.get("Metadata", {}).get("sha256")
        return str(recorded) if recorded else sha256_hex(self._download(bucket, name, key)[0])

    def read(self, bucket: Bucket, key: str) -> bytes | None:
        """The stored bytes without any check, or None when the object is absent."""
        name, key = self.bucket_name(bucket), _checked(bucket, key)
        if self._head(bucket, name, key, "get") is None:
            return None
        return self._download(bucket, name, key)[0]

    def url(self, bucket: Bucket, key: str) -> str:
        """``<endpoint>/<bucket>/<key>``, URL-quoted, for links in reports."""
        name = self.bucket_name(bucket)
        return f"{self.endpoint}/{quote(name)}/{quote(_checked(bucket, key), safe='/=')}"

    def abort_stale_uploads(self, before: datetime) -> list[str]:
        """Abort incomplete multipart uploads of qrun's keys begun before `before`. A runner
        killed mid-upload ran no cleanup and COS keeps (and bills) the parts; a key uploaded
        again is cleared by `_abort_leftover_uploads`, but some are not (an experiment's
        definition is written only when a run is submitted). One listing per bucket (its
        first 1000 uploads: the next apply takes the rest)."""
        from ibm_botocore.exceptions import BotoCoreError, ClientError

        aborted = []
        for bucket in BUCKETS:
            name = self.config.buckets[bucket]
            try:
                for upload in self.client.list_multipart_uploads(Bucket=name).get("Uploads", []):
                    key = str(upload.get("Key", ""))
                    if upload["Initiated"] < before and is_qrun_key(bucket, key):
                        self.client.abort_multipart_upload(
                            Bucket=name, Key=key, UploadId=upload["UploadId"]
                        )
                        aborted.append(f"{bucket}/{key}")
            except (BotoCoreError, ClientError) as err:  # housekeeping: never a reason to stop
                log.warning("could not clear incomplete uploads in %s: %s", name, err)
        return aborted

    def _encryption(self) -> dict[str, str]:
        """Encryption at rest with the provider's keys, asked for on every upload."""
        return {"ServerSideEncryption": self.config.sse} if self.config.sse else {}

    def _head(self, bucket: Bucket, name: str, key: str, action: str) -> dict[str, Any] | None:
        """HEAD the object; on 404 ask once whether the bucket itself is missing."""
        from ibm_botocore.exceptions import ClientError

        with self._errors(bucket, key, action):
            try:
                head: dict[str, Any] = self.client.head_object(Bucket=name, Key=key)
                return head
            except ClientError as err:
                if _status(err) != 404:
                    raise
            if name not in self._checked_buckets:
                try:
                    self.client.head_bucket(Bucket=name)
                except ClientError as err:
                    if _status(err) == 404:
                        raise StoreError(self._no_bucket(bucket)) from None
                    raise
                self._checked_buckets.add(name)
        return None

    def _no_bucket(self, bucket: Bucket) -> str:
        name = self.config.buckets[bucket]
        return (
            f"COS bucket '{name}' does not exist at {self.endpoint}; create it, or set "
            f"{BUCKET_VARS[bucket]} to the name of your {bucket} bucket"
        )

    def _download(self, bucket: Bucket, name: str, key: str) -> tuple[bytes, str | None]:
        """Bytes and recorded SHA-256; a body cut off mid-stream is fetched again."""
        from ibm_botocore.exceptions import (
            IncompleteReadError,
            ReadTimeoutError,
            ResponseStreamingError,
        )

        for attempt in range(1, self.config.max_attempts + 1):
            with self._errors(bucket, key, "get"):
                response = self.client.get_object(Bucket=name, Key=key)
                try:
                    data: bytes = response["Body"].read()
                except (IncompleteReadError, ReadTimeoutError, ResponseStreamingError):
                    if attempt == self.config.max_attempts:
                        raise
                    log.info("download of %s/%s cut off; retrying", name, key)
                    continue
            return data, response.get("Metadata", {}).get("sha256")
        raise AssertionError("unreachable")  # pragma: no cover

    def _multipart(self, name: str, key: str, data: bytes, content_type: str, digest: str) -> None:
        """Upload in parts with Content-MD5 each; abort the upload if we do not finish."""
        from ibm_botocore.exceptions import BotoCoreError, ClientError

        client = self.client
        part_size = max(MIN_PART_SIZE, self.config.multipart_threshold)
        self._abort_leftover_uploads(name, key)
        upload = client.create_multipart_upload(
            Bucket=name,
            Key=key,
            ContentType=content_type,
            Metadata={"sha256": digest},
            **self._encryption(),
        )
        upload_id = upload["UploadId"]
        finished = False
        try:
            parts = []
            for number, start in enumerate(range(0, len(data), part_size), start=1):
                chunk = data[start : start + part_size]
                part = client.upload_part(
                    Bucket=name,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ContentMD5=_md5(chunk),
                )
                parts.append({"ETag": part["ETag"], "PartNumber": number})
            try:
                client.complete_multipart_upload(
                    Bucket=name, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            except ClientError as err:
                # A retried complete whose first attempt succeeded finds no upload left.
                if _code(err) != "NoSuchUpload":
                    raise
                head = client.head_object(Bucket=name, Key=key)
                if head.get("Metadata", {}).get("sha256") != digest:
                    raise
            finished = True
        finally:
            if not finished:
                try:
                    client.abort_multipart_upload(Bucket=name, Key=key, UploadId=upload_id)
                except (BotoCoreError, ClientError) as err:
                    log.warning("could not abort multipart upload of %s/%s: %s", name, key, err)

    def _abort_leftover_uploads(self, name: str, key: str) -> None:
        """Abort incomplete uploads of this key: a runner killed mid-upload ran no cleanup,
        and COS keeps (and bills) the parts until someone aborts them. Keys are per run and
        job, so the next collect of that run uploads the same key and clears them here."""
        from ibm_botocore.exceptions import ClientError

        try:
            listing = self.client.list_multipart_uploads(Bucket=name, Prefix=key)
            for upload in listing.get("Uploads", []):
                if upload.get("Key") == key:
                    log.info("aborting an incomplete earlier upload of %s/%s", name, key)
                    self.client.abort_multipart_upload(
                        Bucket=name, Key=key, UploadId=upload["UploadId"]
                    )
        except ClientError as err:  # housekeeping: never a reason not to upload
            log.warning("could not clear earlier uploads of %s/%s: %s", name, key, _code(err))

    @contextmanager
    def _errors(self, bucket: Bucket, key: str, action: str) -> Iterator[None]:
        """Boundary with the SDK: its exceptions become one clear, secret-free StoreError."""
        from ibm_botocore.exceptions import BotoCoreError, ClientError
        from requests.exceptions import RequestException

        try:
            yield
        except (BotoCoreError, ClientError, RequestException) as err:
            message = self._describe(err, bucket, key, action)
            raise StoreError(_scrub(message, self.config.secrets())) from None

    def _describe(self, err: Exception, bucket: Bucket, key: str, action: str) -> str:
        """What went wrong, where, and what to do about it."""
        from ibm_botocore import exceptions as sdk

        name = self.config.buckets[bucket]
        what = f"{action} of {key} in COS bucket '{name}'"
        if isinstance(err, sdk.ClientError):
            code = _code(err)
            status = _status(err)
            if code == "NoSuchBucket":
                return self._no_bucket(bucket)
            if code in _CREDENTIAL_HINTS:
                return (
                    f"COS rejected the credentials for bucket '{name}'; {_CREDENTIAL_HINTS[code]}"
                )
            if code in ("AccessDenied", "Forbidden") or status == 403:
                role = "Writer" if action in _WRITES else "Reader"
                return (
                    f"COS denied {what} ({code}); the credentials need the {role} role "
                    f"on bucket '{name}'"
                )
            if code == "NoSuchKey" or status == 404:
                return (
                    f"object {bucket}/{key} not found in COS bucket '{name}'; "
                    "it was never uploaded, or was deleted"
                )
            detail = err.response.get("Error", {}).get("Message", "")
            return f"COS {what} failed: {code} (HTTP {status}) {detail}".rstrip()
        if isinstance(err, sdk.CredentialRetrievalError):
            return (
                f"could not get an IAM token from {self.config.auth_endpoint} ({err}); "
                "check COS_API_KEY"
            )
        if isinstance(err, (sdk.ConnectionError, sdk.HTTPClientError)):
            return (
                f"could not reach COS at {self.endpoint} for {what} after "
                f"{self.config.max_attempts} attempts ({type(err).__name__}); "
                "check COS_ENDPOINT and the network, then re-run"
            )
        if not isinstance(err, sdk.BotoCoreError):  # requests, used for the IAM token
            return (
                f"could not get an IAM token from {self.config.auth_endpoint} "
                f"({type(err).__name__}); check COS_AUTH_ENDPOINT and the network"
            )
        return f"COS {what} failed: {err}"


def _checked(bucket: Bucket, key: str) -> str:
    try:
        return check_key(key)
    except ValueError as err:
        raise StoreError(f"refusing to use key {bucket}/{key}: {err}") from None


def _status(err: Any) -> int | None:
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _code(err: Any) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def _same_bytes(head: dict[str, Any], data: bytes, digest: str) -> bool:
    """Skip only when recorded SHA-256, size and (single-part) ETag all agree with data.

    The ETag check costs no request and catches bytes replaced under forged metadata.
    """
    if head.get("Metadata", {}).get("sha256") != digest or head.get("ContentLength") != len(data):
        return False
    etag = str(head.get("ETag", "")).strip('"')
    return "-" in etag or etag == hashlib.md5(data, usedforsecurity=False).hexdigest()


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Last defence: no configured secret survives into an error message."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
