"""https for every endpoint that is not this machine: IBM_QUANTUM_URL, COS_ENDPOINT and
COS_AUTH_ENDPOINT with plain http to any other host are refused, naming the variable,
before any credential is sent; loopback http (emulators, moto) stays allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.backends.ibm_client import IbmSettings
from runner.cli import main
from runner.endpoints import checked_url, is_loopback
from runner.errors import CredentialsError, QrunError
from runner.stores.config import StoreConfig

HMAC = {"COS_HMAC_ACCESS_KEY_ID": "a", "COS_HMAC_SECRET_ACCESS_KEY": "s"}
COS = "https://s3.us-south.cloud-object-storage.appdomain.cloud"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("api.localhost", True),
        ("10.0.0.1", False),
        ("quantum.cloud.ibm.com", False),
        ("localhost.example.com", False),
        ("127.0.0.1.nip.io", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_is_judged_from_the_literal_host(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("var", "url"),
    [
        ("COS_ENDPOINT", "http://s3.us-south.cloud-object-storage.appdomain.cloud"),
        ("COS_ENDPOINT", "http://10.1.2.3:9000"),
        ("COS_ENDPOINT", "ftp://127.0.0.1"),
        ("COS_AUTH_ENDPOINT", "http://iam.cloud.ibm.com/identity/token"),
    ],
)
def test_cos_refuses_plain_http_to_another_host(tmp_path: Path, var: str, url: str) -> None:
    env = {"COS_ENDPOINT": COS, **HMAC, var: url}
    with pytest.raises(QrunError, match=rf"^{var} must start with https://"):
        StoreConfig.from_env(env, tmp_path)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5000", "http://localhost:5000", "http://[::1]:5000", COS]
)
def test_cos_accepts_https_and_loopback_http(tmp_path: Path, url: str) -> None:
    env = {"COS_ENDPOINT": url, "COS_AUTH_ENDPOINT": url + "/identity/token", **HMAC}
    config = StoreConfig.from_env(env, tmp_path)
    assert config.endpoint == url
    assert config.auth_endpoint == url + "/identity/token"


def test_ibm_refuses_plain_http_to_another_host() -> None:
    env = {"IBM_QUANTUM_TOKEN": "t" * 44, "IBM_QUANTUM_URL": "http://quantum.cloud.ibm.com"}
    with pytest.raises(CredentialsError, match=r"^IBM_QUANTUM_URL must start with https://"):
        IbmSettings(env)
    assert IbmSettings({**env, "IBM_QUANTUM_URL": "http://127.0.0.1:8080"}).url
    assert IbmSettings({**env, "IBM_QUANTUM_URL": "https://quantum.cloud.ibm.com"}).url


def test_apply_stops_before_any_request_with_an_http_ibm_url(
    project: Path, capsys, monkeypatch
) -> None:
    """The autouse network guard would turn any attempt to reach the host into a bug (exit 3)."""
    (project / "specs" / "hw.toml").write_text(
        'name = "hw"\n[backend]\ntarget = "ibm_fez"\n[execution]\nshots = 100\n'
        '[[circuits]]\nname = "bell"\ntemplate = "bell"\n'
    )
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", "secret-token-do-not-print-0123456789")
    monkeypatch.setenv("IBM_QUANTUM_INSTANCE", "crn:v1:bluemix:public:quantum-computing:x")
    monkeypatch.setenv("IBM_QUANTUM_URL", "http://quantum.cloud.ibm.com")
    code = main(["apply", "--only", "hw"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "IBM_QUANTUM_URL must start with https://" in err
    assert "secret-token" not in err


def test_checked_url_keeps_good_urls_unchanged() -> None:
    assert checked_url("X", "https://a.example/b?c") == "https://a.example/b?c"


@pytest.mark.parametrize("url", ["http://api.github.com", "ftp://localhost/api", "file:///etc"])
def test_github_api_refuses_anything_but_https_or_loopback_http(url: str) -> None:
    from runner.github_api import GitHub, GitHubError

    env = {"GITHUB_REPOSITORY": "octo/lab", "GITHUB_TOKEN": "ghs_" + "x" * 36}
    with pytest.raises(GitHubError, match=r"^GITHUB_API_URL must start with https://"):
        GitHub.from_env({**env, "GITHUB_API_URL": url})
    for good in ("https://ghe.example/api/v3", "http://127.0.0.2:9", "http://[::1]:9"):
        assert GitHub.from_env({**env, "GITHUB_API_URL": good}) is not None
