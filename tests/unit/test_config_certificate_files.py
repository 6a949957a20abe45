"""A client certificate and key from files are re-read when the files change (client-go's
ReloadTLSFiles); inline data never changes."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from kcore import Config, load_kubeconfig
from kcore.config.certificate_files import CertificateFiles
from kcore.config.credential_source import FixedCredentials
from kcore.config.credentials import Credentials
from kcore.config.token_file import TokenFile
from kcore.errors import ConfigError


def pem(kind: str, body: str) -> bytes:
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode()


def write(path: Path, data: bytes) -> None:
    """As rotations do it: a new file swapped in."""
    staged = path.with_suffix(".new")
    staged.write_bytes(data)
    os.replace(staged, path)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    write(cert, pem("CERTIFICATE", "one"))
    write(key, pem("PRIVATE KEY", "one"))
    return cert, key


def kubeconfig(tmp_path: Path, user: dict) -> Path:
    path = tmp_path / "config"
    path.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": "https://c:6443"}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_a_kubeconfig_naming_files_gives_credentials_that_follow_them(tmp_path: Path, files: tuple[Path, Path]) -> None:
    cert, key = files
    config = load_kubeconfig(str(kubeconfig(tmp_path, {"client-certificate": cert.name, "client-key": key.name})))
    assert (config.client_cert_file, config.client_key_file) == (str(cert), str(key))
    first = config.credentials()
    assert first.client_cert_data == pem("CERTIFICATE", "one")
    assert config.credentials() is first  # unchanged files: the same credentials, nothing read
    write(cert, pem("CERTIFICATE", "two"))
    write(key, pem("PRIVATE KEY", "two"))
    rotated = config.credentials()
    assert (rotated.client_cert_data, rotated.client_key_data) == (pem("CERTIFICATE", "two"), pem("PRIVATE KEY", "two"))


def test_inline_data_or_a_file_paired_with_inline_data_does_not_rotate(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    import base64

    cert, _key = files
    key_data = base64.b64encode(pem("PRIVATE KEY", "inline")).decode()
    config = load_kubeconfig(str(kubeconfig(tmp_path, {"client-certificate": cert.name, "client-key-data": key_data})))
    assert (config.client_cert_file, config.client_key_file) == (None, None)
    write(cert, pem("CERTIFICATE", "two"))
    assert config.credentials().client_cert_data == pem("CERTIFICATE", "one")


def test_a_file_that_cannot_be_read_keeps_the_pair_that_worked(
    files: tuple[Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cert, key = files
    source = CertificateFiles(FixedCredentials(Credentials()), str(cert), str(key))
    cert.unlink()
    with caplog.at_level(logging.WARNING, logger="kcore.config"):
        assert source.current().client_cert_data == pem("CERTIFICATE", "one")
    assert "keeping the previous client certificate" in caplog.text
    write(cert, pem("CERTIFICATE", "three"))
    assert source.current().client_cert_data == pem("CERTIFICATE", "three")


def test_a_token_file_and_certificate_files_rotate_together(tmp_path: Path, files: tuple[Path, Path]) -> None:
    cert, key = files
    token = tmp_path / "token"
    write(token, b"first")
    source = CertificateFiles(TokenFile(str(token)), str(cert), str(key))
    before = source.current()
    assert (before.token, before.client_cert_data) == ("first", pem("CERTIFICATE", "one"))
    write(token, b"second")
    write(cert, pem("CERTIFICATE", "two"))
    after = source.current()
    assert (after.token, after.client_cert_data) == ("second", pem("CERTIFICATE", "two"))


def test_a_refresh_after_a_401_rereads_the_token_only_for_the_credentials_that_failed(
    tmp_path: Path,
    files: tuple[Path, Path],
) -> None:
    cert, key = files
    token = tmp_path / "token"
    write(token, b"first")
    source = CertificateFiles(TokenFile(str(token)), str(cert), str(key))
    stale = source.current()
    # Rewritten in place, same size, same mtime: only a refresh reads it.
    before = os.stat(token)
    token.write_bytes(b"fresh")
    os.utime(token, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert source.current() is stale
    fresh = source.refresh(stale)
    assert (fresh.token, fresh.client_cert_data) == ("fresh", pem("CERTIFICATE", "one"))
    assert source.refresh(stale) is fresh  # another request that failed with the old one


def test_a_certificate_file_without_its_key_file_is_refused(files: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError, match="needs its key file too"):
        Config(server="https://c:1", client_cert_file=str(files[0]))
