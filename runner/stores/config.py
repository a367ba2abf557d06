"""Which result store to use, read once from the environment into a typed, secret-safe object.

No ``COS_ENDPOINT`` means the local directory store. With it, COS credentials are an IAM
API key (``COS_API_KEY`` + ``COS_INSTANCE_ID``) or an HMAC pair
(``COS_HMAC_ACCESS_KEY_ID`` + ``COS_HMAC_SECRET_ACCESS_KEY``); the API key wins when both
are complete. Empty values count as unset, because GitHub Actions expands a missing
secret to an empty string.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runner.endpoints import checked_url
from runner.errors import QrunError
from runner.stores.base import Bucket

if TYPE_CHECKING:
    from runner.stores.base import ResultStore

DEFAULT_LOCAL_ROOT = Path(".qrun/store")
DEFAULT_AUTH_ENDPOINT = "https://iam.cloud.ibm.com/identity/token"
DEFAULT_BUCKETS: Mapping[Bucket, str] = {
    "experiments": "qrun-experiments",
    "results": "qrun-results",
    "circuits": "qrun-circuits",
}
BUCKET_VARS: Mapping[Bucket, str] = {
    "experiments": "COS_BUCKET_EXPERIMENTS",
    "results": "COS_BUCKET_RESULTS",
    "circuits": "COS_BUCKET_CIRCUITS",
}
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MIB = 1024 * 1024
_COS_EXAMPLE = "https://s3.us-south.cloud-object-storage.appdomain.cloud"
_HMAC_VARS = ("COS_HMAC_ACCESS_KEY_ID", "COS_HMAC_SECRET_ACCESS_KEY")


class Secret:
    """A credential that never shows itself in repr(), str() or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The raw value, for the one call that hands it to the SDK."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class StoreConfig:
    """Everything needed to open a result store; secrets are Secret and excluded from repr."""

    kind: Literal["local", "cos"]
    repo_root: Path
    local_root: Path = DEFAULT_LOCAL_ROOT
    endpoint: str | None = None
    buckets: Mapping[Bucket, str] = field(default_factory=lambda: dict(DEFAULT_BUCKETS))
    region: str | None = None
    auth: Literal["iam", "hmac"] | None = None
    api_key: Secret | None = field(default=None, repr=False)
    instance_id: str | None = None
    auth_endpoint: str = DEFAULT_AUTH_ENDPOINT
    hmac_access_key_id: Secret | None = field(default=None, repr=False)
    hmac_secret_access_key: Secret | None = field(default=None, repr=False)
    multipart_threshold: int = 8 * _MIB
    max_attempts: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    sse: str | None = "AES256"
    """Server-side encryption requested on every upload (provider-managed keys); None: off."""

    def secrets(self) -> tuple[str, ...]:
        """Raw secret values, so error text can be scrubbed of them as a last defence."""
        found = (self.api_key, self.hmac_access_key_id, self.hmac_secret_access_key)
        return tuple(s.reveal() for s in found if s is not None and s.reveal())

    @classmethod
    def from_env(cls, environ: Mapping[str, str], repo_root: Path) -> StoreConfig:
        """Read the store settings once, naming the exact variable to fix when incomplete."""

        def get(var: str) -> str | None:
            value = environ.get(var, "").strip()
            return value or None

        local_root = Path(get("QRUN_STORE_DIR") or DEFAULT_LOCAL_ROOT)
        endpoint = get("COS_ENDPOINT")
        cos_vars = ("COS_API_KEY", "COS_INSTANCE_ID", *_HMAC_VARS)
        if endpoint is None:
            stray = [var for var in cos_vars if get(var)]
            if stray:
                raise QrunError(
                    f"{stray[0]} is set but COS_ENDPOINT is not; set COS_ENDPOINT (e.g. "
                    "https://s3.us-south.cloud-object-storage.appdomain.cloud) to store results "
                    f"in IBM COS, or unset {', '.join(stray)} to use the local store"
                )
            return cls(kind="local", repo_root=repo_root, local_root=local_root)
        checked_url("COS_ENDPOINT", endpoint, example=_COS_EXAMPLE)
        buckets: dict[Bucket, str] = {}
        for bucket, var in BUCKET_VARS.items():
            name = get(var) or DEFAULT_BUCKETS[bucket]
            if not _BUCKET_NAME.match(name):
                raise QrunError(
                    f"{var}={name!r} is not a valid bucket name; use 3-63 lowercase letters, "
                    "digits, '.' or '-', starting and ending with a letter or digit"
                )
            buckets[bucket] = name
        creds = _credentials(get)
        return cls(
            kind="cos",
            repo_root=repo_root,
            local_root=local_root,
            endpoint=endpoint.rstrip("/"),
            buckets=buckets,
            region=get("COS_REGION"),
            auth_endpoint=checked_url(
                "COS_AUTH_ENDPOINT", get("COS_AUTH_ENDPOINT") or DEFAULT_AUTH_ENDPOINT
            ),
            multipart_threshold=int(_positive(get, "COS_MULTIPART_THRESHOLD", 8 * _MIB, True)),
            max_attempts=int(_positive(get, "COS_MAX_ATTEMPTS", 5, True)),
            connect_timeout=_positive(get, "COS_CONNECT_TIMEOUT", 5.0),
            read_timeout=_positive(get, "COS_READ_TIMEOUT", 30.0),
            sse=_sse(get("COS_SSE")),
            **creds,
        )


def _credentials(get: Callable[[str], str | None]) -> dict[str, Any]:
    """Pick IAM or HMAC credentials, or say which variable completes a half-set pair."""
    api_key, instance = get("COS_API_KEY"), get("COS_INSTANCE_ID")
    access, secret = get("COS_HMAC_ACCESS_KEY_ID"), get("COS_HMAC_SECRET_ACCESS_KEY")
    if api_key and instance:
        return {"auth": "iam", "api_key": Secret(api_key), "instance_id": instance}
    if access and secret:
        return {
            "auth": "hmac",
            "hmac_access_key_id": Secret(access),
            "hmac_secret_access_key": Secret(secret),
        }
    if api_key:
        raise QrunError(
            "COS_API_KEY is set but COS_INSTANCE_ID is not; set COS_INSTANCE_ID to the "
            "COS service instance CRN (IBM Cloud console > Object Storage > Service credentials)"
        )
    if instance:
        raise QrunError(
            "COS_INSTANCE_ID is set but COS_API_KEY is not; set COS_API_KEY to an IBM Cloud "
            "API key with the Writer role on the result buckets"
        )
    if access:
        raise QrunError(
            "COS_HMAC_ACCESS_KEY_ID is set but COS_HMAC_SECRET_ACCESS_KEY is not; "
            "set COS_HMAC_SECRET_ACCESS_KEY from the same HMAC service credential"
        )
    if secret:
        raise QrunError(
            "COS_HMAC_SECRET_ACCESS_KEY is set but COS_HMAC_ACCESS_KEY_ID is not; "
            "set COS_HMAC_ACCESS_KEY_ID from the same HMAC service credential"
        )
    raise QrunError(
        "COS_ENDPOINT is set but no COS credentials are; set COS_API_KEY and "
        "COS_INSTANCE_ID (IAM), or COS_HMAC_ACCESS_KEY_ID and COS_HMAC_SECRET_ACCESS_KEY "
        "(HMAC), or unset COS_ENDPOINT to use the local store"
    )


_SSE_CHOICES = {"aes256": "AES256", "off": None}


def _sse(raw: str | None) -> str | None:
    """COS_SSE: AES256 (default, keys managed by the provider) or off (for S3-compatible
    stores that reject the header)."""
    if raw is None:
        return "AES256"
    if raw.lower() not in _SSE_CHOICES:
        raise QrunError(
            f"COS_SSE must be AES256 or off (got {raw!r}); off only for S3-compatible "
            "stores that do not support server-side encryption"
        )
    return _SSE_CHOICES[raw.lower()]


def _positive(
    get: Callable[[str], str | None], var: str, default: float, integer: bool = False
) -> float:
    """A positive number from the environment, with an error naming the variable."""
    raw = get(var)
    if raw is None:
        return default
    kind = "integer" if integer else "number"
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = 0
    if not value > 0 or value == float("inf"):
        raise QrunError(f"{var} must be a positive {kind} (got {raw!r})")
    return value


def open_store(config: StoreConfig) -> ResultStore:
    """The store the configuration names; COS code (and ibm_boto3) loads only when used."""
    if config.kind == "local":
        from runner.stores.local import LocalStore

        return LocalStore(config.local_root, repo_root=config.repo_root)
    from runner.stores.cos import CosStore

    return CosStore(config)


def make_s3_client(config: StoreConfig) -> Any:
    """An ibm_boto3 S3 client with bounded retries; the one place secrets are revealed."""
    import ibm_boto3
    from ibm_botocore.config import Config

    for sdk_logger in ("ibm_botocore", "ibm_boto3", "ibm_s3transfer"):
        if logging.getLogger(sdk_logger).level == logging.NOTSET:
            logging.getLogger(sdk_logger).setLevel(logging.INFO)  # DEBUG logs the bearer token
    credentials: dict[str, str | None]
    if config.auth == "iam" and config.api_key is not None:
        credentials = {
            "ibm_api_key_id": config.api_key.reveal(),
            "ibm_service_instance_id": config.instance_id,
            "ibm_auth_endpoint": config.auth_endpoint,
        }
    elif config.hmac_access_key_id is not None and config.hmac_secret_access_key is not None:
        credentials = {
            "aws_access_key_id": config.hmac_access_key_id.reveal(),
            "aws_secret_access_key": config.hmac_secret_access_key.reveal(),
        }
    else:
        raise QrunError("no COS credentials configured; set COS_API_KEY or COS_HMAC_* variables")
    settings = Config(
        signature_version="oauth" if config.auth == "iam" else "s3v4",
        retries={"total_max_attempts": config.max_attempts, "mode": "standard"},
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",  # the store sends Content-MD5 itself
        response_checksum_validation="when_required",
    )
    return ibm_boto3.session.Session().client(
        "s3",
        endpoint_url=config.endpoint,
        region_name=config.region,
        config=settings,
        **credentials,
    )
