"""Config built directly: its defaults, and the combinations it refuses."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import kcore
from kcore import Config
from kcore.errors import ConfigError

CERT = b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"


def test_defaults_match_client_go() -> None:
    config = Config(server="https://c:6443")
    assert (config.qps, config.burst, config.timeout, config.namespace) == (5.0, 10, None, "default")
    assert config.user_agent.startswith(f"kcore/{kcore.__version__} ")
    assert config.credentials().authorization is None


def test_a_negative_qps_means_no_rate_limit_and_needs_no_burst() -> None:
    assert Config(server="https://c:1", qps=-1, burst=0).qps == -1


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"server": "c.example:6443"}, "server 'c.example:6443' is not an http(s) URL with a host"),
        ({"server": "https://"}, "is not an http(s) URL with a host"),
        ({"token": "t", "username": "u"}, "both a token and basic auth"),
        ({"client_cert_data": CERT}, "needs both its certificate and its key"),
        ({"ca_data": CERT, "insecure_skip_tls_verify": True}, "a certificate authority and insecure-skip-tls-verify"),
        ({"burst": 0}, "burst must be positive when qps (5.0) is; got 0"),
        ({"timeout": 0}, "timeout must be positive seconds or None"),
        ({"proxy_url": "ftp://p:21"}, "must use one of the schemes http, https, socks5"),
    ],
)
def test_impossible_combinations_are_refused(fields: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**{"server": "https://c:1", **fields})
    assert problem in str(info.value)


def test_a_missing_token_file_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="token file .*/absent cannot be read"):
        Config(server="https://c:1", token_file=str(tmp_path / "absent"))


def test_a_token_file_wins_over_a_static_token(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("from-file")
    assert (
        Config(server="https://c:1", token="static", token_file=str(tmp_path / "t")).credentials().token == "from-file"
    )


def test_replace_gives_an_independent_config_with_its_own_credentials() -> None:
    config = Config(server="https://c:1", token="a")
    other = dataclasses.replace(config, token="b", namespace="ns")
    assert (config.credentials().token, other.credentials().token, other.namespace) == ("a", "b", "ns")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.token = "c"  # type: ignore[misc]


def test_configs_with_the_same_fields_are_equal() -> None:
    assert Config(server="https://c:1", token="a") == Config(server="https://c:1", token="a")
