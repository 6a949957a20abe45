"""Exec credential plugins, run for real: small scripts written by each test print an
ExecCredential, and Config caches, refreshes and validates what they print."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kcore import Config
from kcore.config import ExecProvider
from kcore.errors import CredentialError

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"
CA = b"-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"


def script(tmp_path: Path, body: str, name: str = "plugin") -> Path:
    """An executable Python script; ``runs`` (beside it) gets one line per run."""
    path = tmp_path / name
    path.write_text(
        f"#!{sys.executable}\nimport json, os, sys, time\n"
        f"with open({str(tmp_path / 'runs')!r}, 'a') as f: f.write('run\\n')\n"
        f"{body}\n"
    )
    path.chmod(0o755)
    return path


def credential(status: dict[str, Any], api_version: str = V1) -> str:
    return f"print(json.dumps({json.dumps({'apiVersion': api_version, 'kind': 'ExecCredential', 'status': status})}))"


def runs(tmp_path: Path) -> int:
    runs_file = tmp_path / "runs"
    return len(runs_file.read_text().splitlines()) if runs_file.exists() else 0


def config_for(command: Path, api_version: str = V1, **kwargs: Any) -> Config:
    server_fields = {k: kwargs.pop(k) for k in ("ca_data", "tls_server_name") if k in kwargs}
    return Config(
        server="https://c.example:6443",
        exec_provider=ExecProvider(str(command), api_version, **kwargs),
        **server_fields,
    )


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure(config: Config) -> str:
    with pytest.raises(CredentialError) as info:
        config.credentials()
    return str(info.value)


@pytest.mark.parametrize("api_version", [V1, V1BETA1])
def test_a_plugin_token_becomes_the_bearer_token(tmp_path: Path, api_version: str) -> None:
    config = config_for(script(tmp_path, credential({"token": "from-plugin"}, api_version)), api_version)
    assert config.credentials().authorization == "Bearer from-plugin"


def test_a_plugin_may_return_a_client_certificate(tmp_path: Path) -> None:
    status = {"clientCertificateData": "-----BEGIN CERTIFICATE-----", "clientKeyData": "-----BEGIN EC PRIVATE KEY-----"}
    credentials = config_for(script(tmp_path, credential(status))).credentials()
    assert credentials.client_cert_data == b"-----BEGIN CERTIFICATE-----"
    assert credentials.client_key_data == b"-----BEGIN EC PRIVATE KEY-----"
    assert credentials.token is None


def test_credentials_are_cached_until_their_expiration_timestamp(tmp_path: Path) -> None:
    expires = datetime.now(timezone.utc) + timedelta(seconds=2)
    body = (
        "n = len(open(os.path.join(os.path.dirname(sys.argv[0]), 'runs')).read().splitlines())\n"
        f"print(json.dumps({{'apiVersion': {V1!r}, 'kind': 'ExecCredential', "
        f"'status': {{'token': 'token-%d' % n, 'expirationTimestamp': {rfc3339(expires)!r}}}}}))"
    )
    config = config_for(script(tmp_path, body))
    first = config.credentials()
    assert first.token == "token-1" and first.expires_at == expires.replace(microsecond=0)
    assert config.credentials() is first and runs(tmp_path) == 1
    time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 1.0)
    assert config.credentials().token == "token-2" and runs(tmp_path) == 2


def test_credentials_without_expiration_are_kept_until_a_refresh(tmp_path: Path) -> None:
    config = config_for(script(tmp_path, credential({"token": "t"})))
    for _ in range(3):
        config.credentials()
    assert runs(tmp_path) == 1
    config.refresh_credentials()
    assert runs(tmp_path) == 2


def test_refresh_after_401_runs_the_plugin_again_but_only_once_for_the_same_stale_credentials(tmp_path: Path) -> None:
    body = (
        "n = len(open(os.path.join(os.path.dirname(sys.argv[0]), 'runs')).read().splitlines())\n"
        f"print(json.dumps({{'apiVersion': {V1!r}, 'kind': 'ExecCredential', 'status': {{'token': 'token-%d' % n}}}}))"
    )
    config = config_for(script(tmp_path, body))
    stale = config.credentials()
    fresh = config.refresh_credentials(stale)
    assert (stale.token, fresh.token) == ("token-1", "token-2")
    # A second request that also got a 401 with the old token does not trigger another run.
    assert config.refresh_credentials(stale) is fresh and runs(tmp_path) == 2


def test_concurrent_callers_share_one_plugin_run(tmp_path: Path) -> None:
    config = config_for(script(tmp_path, "time.sleep(0.3)\n" + credential({"token": "t"})))
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(config.credentials().token or "")) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["t"] * 8 and runs(tmp_path) == 1


def test_the_async_variant_runs_the_plugin_without_blocking_the_event_loop(tmp_path: Path) -> None:
    config = config_for(script(tmp_path, "time.sleep(0.5)\n" + credential({"token": "async"})))

    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        task = asyncio.ensure_future(ticker())
        credentials = await config.credentials_async()
        task.cancel()
        again = await config.credentials_async()  # cached: no thread, no run
        assert again is credentials
        refreshed = await config.refresh_credentials_async(credentials)
        return (refreshed.token or ""), ticks

    token, ticks = asyncio.run(main())
    assert token == "async" and ticks >= 5 and runs(tmp_path) == 2


def test_args_and_env_reach_the_plugin_and_exec_info_describes_the_cluster(tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    body = (
        f"json.dump({{'argv': sys.argv[1:], 'env': os.environ.get('PLUGIN_ENV'), 'path': os.environ.get('PATH'),"
        f" 'info': json.loads(os.environ['KUBERNETES_EXEC_INFO']), 'stdin': sys.stdin.read()}}, open({str(out)!r}, 'w'))\n"
        + credential({"token": "t"})
    )
    config = config_for(
        script(tmp_path, body),
        args=["--region", "eu"],
        env={"PLUGIN_ENV": "yes"},
        provide_cluster_info=True,
        cluster_config={"audience": "kcore"},
        ca_data=CA,
        tls_server_name="k8s.internal",
    )
    config.credentials()
    seen = json.loads(out.read_text())
    assert seen["argv"] == ["--region", "eu"]
    assert seen["env"] == "yes" and seen["path"]  # the plugin's env adds to ours, it does not replace it
    assert seen["stdin"] == ""  # interactive mode is never used: stdin is closed
    assert seen["info"] == {
        "apiVersion": V1,
        "kind": "ExecCredential",
        "spec": {
            "interactive": False,
            "cluster": {
                "server": "https://c.example:6443",
                "tls-server-name": "k8s.internal",
                "certificate-authority-data": base64.b64encode(CA).decode(),
                "config": {"audience": "kcore"},
            },
        },
    }


def test_without_provide_cluster_info_exec_info_has_no_cluster(tmp_path: Path) -> None:
    out = tmp_path / "info.json"
    body = f"open({str(out)!r}, 'w').write(os.environ['KUBERNETES_EXEC_INFO'])\n" + credential({"token": "t"}, V1BETA1)
    config_for(script(tmp_path, body), V1BETA1).credentials()
    assert json.loads(out.read_text()) == {
        "apiVersion": V1BETA1,
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }


def test_a_missing_command_says_so_with_the_install_hint(tmp_path: Path) -> None:
    config = config_for(tmp_path / "no-such-plugin", install_hint="Install it with: brew install no-such-plugin")
    message = failure(config)
    assert "no-such-plugin" in message and "was not found" in message
    assert "Install it with: brew install no-such-plugin" in message


def test_a_command_that_is_not_executable_says_it_could_not_be_started(tmp_path: Path) -> None:
    path = tmp_path / "plain-file"
    path.write_text("not a program")
    assert "could not be started" in failure(config_for(path))


def test_a_failing_plugin_reports_its_exit_code_and_stderr(tmp_path: Path) -> None:
    config = config_for(script(tmp_path, "sys.stderr.write('token service unreachable\\n'); sys.exit(3)"))
    message = failure(config)
    assert "failed with exit code 3" in message and "token service unreachable" in message


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ("print('Please log in')", "printed something that is not JSON"),
        ("print('[1, 2]')", "did not print an ExecCredential object"),
        (
            credential({"token": "t"}, V1BETA1),
            "is configured for client.authentication.k8s.io/v1 but returned apiVersion",
        ),
        (f"print(json.dumps({{'apiVersion': {V1!r}, 'kind': 'ExecCredential'}}))", "without a status"),
        (credential({}), "returned neither a token nor a client certificate and key"),
        (credential({"token": 42}), "returned a non-string status.token"),
        (credential({"clientCertificateData": "cert"}), "returned only one of clientCertificateData and clientKeyData"),
        (credential({"token": "t", "expirationTimestamp": "tomorrow"}), "which is not an RFC 3339 time"),
    ],
)
def test_bad_plugin_output_is_a_clear_error(tmp_path: Path, output: str, problem: str) -> None:
    message = failure(config_for(script(tmp_path, output)))
    assert problem in message and "plugin" in message


def test_a_failed_run_is_not_cached(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    body = f"if not os.path.exists({str(flag)!r}): sys.exit(1)\n" + credential({"token": "t"})
    config = config_for(script(tmp_path, body))
    failure(config)
    flag.touch()
    assert config.credentials().token == "t"


def test_fractional_and_offset_expiration_timestamps_are_understood(tmp_path: Path) -> None:
    stamp = "2999-01-02T03:04:05.123456789+02:00"
    credentials = config_for(script(tmp_path, credential({"token": "t", "expirationTimestamp": stamp}))).credentials()
    assert credentials.expires_at == datetime(2999, 1, 2, 1, 4, 5, 123456, tzinfo=timezone.utc)


def test_a_static_token_wins_over_the_exec_plugin(tmp_path: Path) -> None:
    config = Config(
        server="https://c:1",
        token="static",
        exec_provider=ExecProvider(str(script(tmp_path, credential({"token": "plugin"}))), V1),
    )
    assert config.credentials().token == "static" and runs(tmp_path) == 0


def test_an_unsupported_plugin_api_version_is_a_config_error() -> None:
    from kcore.errors import ConfigError

    with pytest.raises(ConfigError, match="apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported"):
        ExecProvider("plugin", "client.authentication.k8s.io/v1alpha1")
