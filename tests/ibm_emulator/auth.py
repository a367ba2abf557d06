"""IBM Cloud identity side of the emulator: IAM tokens, Global Search, Global Catalog.

The client exchanges its API key for a JWT at ``POST /identity/token`` and sends the
JWT as ``Authorization: Bearer`` afterwards. The JWT is unsigned in spirit (HS256 with a
per-emulator secret) because the client decodes it without checking the signature; the
emulator checks it by looking it up in the set of tokens it issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs

TOKEN_LIFETIME_S = 3600
PLAN_ID = "emulator-open-plan"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenIssuer:
    """Issues and checks IAM access tokens for one API key."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key
        self._secret = secrets.token_bytes(16)
        self._issued: set[str] = set()
        self._lock = threading.Lock()

    def exchange(self, form_body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer ``POST /identity/token`` like IAM does (400 for an unknown key)."""
        form = parse_qs(form_body.decode("utf-8", "replace"))
        grant = form.get("grant_type", [""])[0]
        api_key = form.get("apikey", [""])[0]
        if grant != "urn:ibm:params:oauth:grant-type:apikey":
            return 400, {"errorCode": "BXNIM0109E", "errorMessage": "Unsupported grant type"}
        if not hmac.compare_digest(api_key.encode(), self._api_key.encode()):
            return 400, {
                "errorCode": "BXNIM0415E",
                "errorMessage": "Provided API key could not be found.",
            }
        now = int(time.time())
        token = self._jwt(
            {
                "iam_id": "iam-emulator",
                "sub": "emulator",
                "iat": now,
                "exp": now + TOKEN_LIFETIME_S,
                "jti": secrets.token_hex(8),
            }
        )
        with self._lock:
            self._issued.add(token)
        return 200, {
            "access_token": token,
            "refresh_token": "not-supported",
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "expiration": now + TOKEN_LIFETIME_S,
            "scope": "ibm openid",
        }

    def _jwt(self, claims: dict[str, Any]) -> str:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = _b64url(hmac.new(self._secret, signing_input, hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    def is_valid(self, authorization: str | None) -> bool:
        """True when the header carries a bearer token this emulator issued and still honours."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            return token in self._issued

    def revoke_all(self) -> None:
        """Forget every issued token: the next API call with one of them gets 401."""
        with self._lock:
            self._issued.clear()

    @property
    def issued_count(self) -> int:
        """How many tokens are currently honoured (one per IAM exchange)."""
        with self._lock:
            return len(self._issued)


def search_response(crn: str, instance_name: str) -> dict[str, Any]:
    """Global Search answer listing the single emulated Quantum instance."""
    return {
        "items": [
            {
                "crn": crn,
                "name": instance_name,
                "tags": [],
                "service_plan_unique_id": PLAN_ID,
                "doc": {"extensions": {"quantum_computing": {"allocations": ["emulator"]}}},
            }
        ],
        "limit": 100,
        "search_cursor": None,
    }


def catalog_response(plan_id: str) -> tuple[int, dict[str, Any]]:
    """Global Catalog entry for the emulated plan (an Open Plan look-alike)."""
    if plan_id != PLAN_ID:
        return 404, {"message": f"catalog entry {plan_id} not found"}
    return 200, {
        "id": PLAN_ID,
        "name": "open",
        "overview_ui": {"en": {"display_name": "Open"}},
        "metadata": {"pricing": {"type": "free"}},
    }
