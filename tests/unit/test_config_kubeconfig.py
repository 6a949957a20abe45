"""load_kubeconfig reads kubeconfig files the way kubectl does (clientcmd's loading and merge
rules), and every malformed file fails with an error naming the file, context and field."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from kcore import Config, load_kubeconfig
from kcore.errors import ConfigError

CA = b"-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQ\n-----END EC PRIVATE KEY-----\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(
    path: Path,
    *,
    clusters: Optional[dict[str, Any]] = None,
    users: Optional[dict[str, Any]] = None,
    contexts: Optional[dict[str, Any]] = None,
    current: Optional[str] = None,
) -> Path:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    if clusters is not None:
        doc["clusters"] = [{"name": n, "cluster": c} for n, c in clusters.items()]
    if users is not None:
        doc["users"] = [{"name": n, "user": u} for n, u in users.items()]
    if contexts is not None:
        doc["contexts"] = [{"name": n, "context": c} for n, c in contexts.items()]
    if current is not None:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def single(
    path: Path,
    *,
    cluster: Optional[dict[str, Any]] = None,
    user: Optional[dict[str, Any]] = None,
    context: Optional[dict[str, Any]] = None,
) -> Path:
    """One cluster 'c', one user 'u', one context 'ctx' (current)."""
    return kubeconfig(
        path,
        clusters={"c": cluster if cluster is not None else {"server": "https://c.example:6443"}},
        users={"u": user if user is not None else {"token": "tok"}},
        contexts={"ctx": context if context is not None else {"cluster": "c", "user": "u"}},
        current="ctx",
    )


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return home


def error_of(*args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_kubeconfig(*args, **kwargs)
    return str(info.value)


# -- locating and merging ----------------------------------------------------------------


def test_without_kubeconfig_env_the_file_in_the_home_directory_is_read(isolated_home: Path) -> None:
    (isolated_home / ".kube").mkdir()
    single(isolated_home / ".kube" / "config")
    config = load_kubeconfig()
    assert config.server == "https://c.example:6443"
    assert config.credentials().token == "tok"
    assert config.namespace == "default"


def test_kubeconfig_files_merge_first_file_wins_each_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = kubeconfig(tmp_path / "a", clusters={"c": {"server": "https://first:1"}}, users={"u": {"token": "first"}})
    second = kubeconfig(
        tmp_path / "b",
        clusters={"c": {"server": "https://second:1"}, "other": {"server": "https://other:1"}},
        users={"u": {"token": "second"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}, "o": {"cluster": "other", "user": "u"}},
        current="ctx",
    )
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    config = load_kubeconfig()
    assert (config.server, config.credentials().token) == ("https://first:1", "first")
    assert load_kubeconfig(context="o").server == "https://other:1"


def test_a_merged_entry_is_taken_whole_not_field_by_field(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "a", clusters={"c": {"server": "https://first:1"}})
    second = single(tmp_path / "b", cluster={"server": "https://second:1", "tls-server-name": "second.name"})
    config = load_kubeconfig([first, second])
    assert config.server == "https://first:1" and config.tls_server_name is None


def test_current_context_comes_from_the_first_file_that_sets_it(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "a", contexts={"other": {"cluster": "c", "user": "u", "namespace": "from-first"}})
    second = kubeconfig(tmp_path / "b", current="other")
    third = single(tmp_path / "c")  # current-context ctx, but the second file set it first
    assert load_kubeconfig([first, second, third]).namespace == "from-first"


def test_empty_and_missing_kubeconfig_entries_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = single(tmp_path / "real")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(["", str(tmp_path / "missing"), "", str(real), str(real)]))
    assert load_kubeconfig().server == "https://c.example:6443"


def test_when_no_kubeconfig_file_exists_the_error_lists_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    message = error_of()
    assert "no kubeconfig file found" in message and str(tmp_path / "nope") in message


def test_an_explicit_path_must_exist(tmp_path: Path) -> None:
    assert error_of(tmp_path / "absent") == f"{tmp_path / 'absent'}: kubeconfig file does not exist"


def test_an_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("")
    real = single(tmp_path / "real")
    assert load_kubeconfig([tmp_path / "empty", real]).server == "https://c.example:6443"


# -- contexts ------------------------------------------------------------------------------


def test_an_explicit_context_overrides_the_current_one(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "k",
        clusters={"c": {"server": "https://c:1"}},
        users={"u": {"token": "t"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}, "dev": {"cluster": "c", "user": "u", "namespace": "dev-ns"}},
        current="ctx",
    )
    assert load_kubeconfig(path, context="dev").namespace == "dev-ns"


def test_a_context_without_a_user_is_anonymous(tmp_path: Path) -> None:
    config = load_kubeconfig(single(tmp_path / "k", context={"cluster": "c"}))
    assert config.credentials().authorization is None


def test_missing_current_context_is_an_error(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "k", clusters={"c": {"server": "https://c:1"}})
    assert error_of(path) == f"{path}: no context was given and no current-context is set"


def test_current_context_naming_a_missing_context_names_the_file_that_set_it(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "k", current="gone")
    assert error_of(path) == f"{path}: current-context 'gone' is not defined in any kubeconfig file"


def test_an_explicit_context_that_is_not_defined(tmp_path: Path) -> None:
    path = single(tmp_path / "k")
    assert error_of(path, context="dev") == f"{path}: context 'dev' is not defined"


def test_a_context_naming_a_missing_user(tmp_path: Path) -> None:
    path = single(tmp_path / "k", context={"cluster": "c", "user": "bob"})
    assert error_of(path) == f"{path}: context 'ctx' refers to user 'bob', which is not defined"


def test_a_context_naming_a_missing_cluster(tmp_path: Path) -> None:
    path = single(tmp_path / "k", context={"cluster": "prod", "user": "u"})
    assert error_of(path) == f"{path}: context 'ctx' refers to cluster 'prod', which is not defined"


def test_a_context_naming_no_cluster(tmp_path: Path) -> None:
    path = single(tmp_path / "k", context={"user": "u"})
    assert error_of(path) == f"{path}: context 'ctx': names no cluster"


# -- clusters ------------------------------------------------------------------------------


def test_cluster_fields_are_read(tmp_path: Path) -> None:
    config = load_kubeconfig(
        single(
            tmp_path / "k",
            cluster={
                "server": "https://10.0.0.1:6443",
                "certificate-authority-data": b64(CA),
                "tls-server-name": "kubernetes.default",
                "proxy-url": "socks5://proxy:1080",
            },
        )
    )
    assert config.ca_data == CA
    assert config.tls_server_name == "kubernetes.default"
    assert config.proxy_url == "socks5://proxy:1080"
    assert config.insecure_skip_tls_verify is False


def test_base64_data_may_be_wrapped_over_lines(tmp_path: Path) -> None:
    encoded = b64(CA)
    wrapped = "\n".join(encoded[i : i + 20] for i in range(0, len(encoded), 20))
    config = load_kubeconfig(
        single(tmp_path / "k", cluster={"server": "https://c:1", "certificate-authority-data": wrapped})
    )
    assert config.ca_data == CA


def test_certificate_authority_path_is_relative_to_the_file_that_names_it(tmp_path: Path) -> None:
    (tmp_path / "conf" / "pki").mkdir(parents=True)
    (tmp_path / "conf" / "pki" / "ca.crt").write_bytes(CA)
    other = tmp_path / "elsewhere"
    other.mkdir()
    cluster_file = kubeconfig(
        tmp_path / "conf" / "clusters", clusters={"c": {"server": "https://c:1", "certificate-authority": "pki/ca.crt"}}
    )
    rest = kubeconfig(
        other / "rest", users={"u": {"token": "t"}}, contexts={"ctx": {"cluster": "c", "user": "u"}}, current="ctx"
    )
    assert load_kubeconfig([rest, cluster_file]).ca_data == CA


def test_a_bare_host_port_server_means_https(tmp_path: Path) -> None:
    assert (
        load_kubeconfig(single(tmp_path / "k", cluster={"server": "c.example:6443"})).server == "https://c.example:6443"
    )


def test_insecure_skip_tls_verify(tmp_path: Path) -> None:
    config = load_kubeconfig(
        single(tmp_path / "k", cluster={"server": "https://c:1", "insecure-skip-tls-verify": True})
    )
    assert config.insecure_skip_tls_verify is True and config.ca_data is None


@pytest.mark.parametrize(
    ("cluster", "problem"),
    [
        ({}, "cluster 'c' (context 'ctx'): has no server"),
        ({"server": 6443}, "cluster 'c' (context 'ctx'): server must be a string, found a number"),
        (
            {"server": "https://c:1", "certificate-authority-data": "not base64!"},
            "cluster 'c' (context 'ctx'): certificate-authority-data is not valid base64",
        ),
        (
            {"server": "https://c:1", "certificate-authority-data": b64(b"hello")},
            "cluster 'c' (context 'ctx'): certificate-authority-data is not PEM data",
        ),
        (
            {"server": "https://c:1", "certificate-authority": "missing.crt"},
            "cluster 'c' (context 'ctx'): certificate-authority {dir}/missing.crt cannot be read: No such file or directory",
        ),
        (
            {"server": "https://c:1", "certificate-authority": "x", "certificate-authority-data": b64(CA)},
            "cluster 'c' (context 'ctx'): both certificate-authority and certificate-authority-data are set",
        ),
        (
            {"server": "https://c:1", "insecure-skip-tls-verify": "yes please"},
            "cluster 'c' (context 'ctx'): insecure-skip-tls-verify must be true or false, found a string",
        ),
        (
            {"server": "https://c:1", "insecure-skip-tls-verify": True, "certificate-authority-data": b64(CA)},
            "context 'ctx' (cluster 'c', user 'u'): a certificate authority and insecure-skip-tls-verify are both set",
        ),
        ({"server": "ftp://c:1"}, "context 'ctx' (cluster 'c', user 'u'): server 'ftp://c:1' is not an http(s) URL"),
        (
            {"server": "https://c:1", "proxy-url": "ftp://p"},
            "context 'ctx' (cluster 'c', user 'u'): proxy URL 'ftp://p' must use one of the schemes http, https, socks5",
        ),
    ],
)
def test_a_malformed_cluster_names_the_file_cluster_context_and_field(
    tmp_path: Path, cluster: dict, problem: str
) -> None:
    path = single(tmp_path / "k", cluster=cluster)
    assert error_of(path).startswith(f"{path}: {problem.format(dir=tmp_path)}")


# -- users ---------------------------------------------------------------------------------


def test_client_certificate_files_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "me.crt").write_bytes(CERT)
    (tmp_path / "certs" / "me.key").write_bytes(KEY)
    config = load_kubeconfig(
        single(tmp_path / "k", user={"client-certificate": "certs/me.crt", "client-key": "certs/me.key"})
    )
    credentials = config.credentials()
    assert (credentials.client_cert_data, credentials.client_key_data) == (CERT, KEY)
    assert credentials.authorization is None


def test_client_certificate_data(tmp_path: Path) -> None:
    config = load_kubeconfig(
        single(tmp_path / "k", user={"client-certificate-data": b64(CERT), "client-key-data": b64(KEY)})
    )
    assert (config.client_cert_data, config.client_key_data) == (CERT, KEY)


def test_a_token_and_a_client_certificate_are_sent_together(tmp_path: Path) -> None:
    config = load_kubeconfig(
        single(tmp_path / "k", user={"token": "t", "client-certificate-data": b64(CERT), "client-key-data": b64(KEY)})
    )
    credentials = config.credentials()
    assert credentials.authorization == "Bearer t" and credentials.client_cert_data == CERT


def test_basic_auth(tmp_path: Path) -> None:
    config = load_kubeconfig(single(tmp_path / "k", user={"username": "admin", "password": "s3cret"}))
    assert config.credentials().authorization == "Basic " + b64(b"admin:s3cret")


def test_token_file_is_relative_to_the_kubeconfig_and_read(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    config = load_kubeconfig(single(tmp_path / "k", user={"tokenFile": "token"}))
    assert config.token_file == str(tmp_path / "token")
    assert config.credentials().token == "from-file"


def test_secrets_stay_out_of_the_repr(tmp_path: Path) -> None:
    config = load_kubeconfig(single(tmp_path / "k", user={"token": "very-secret-token"}))
    assert "very-secret-token" not in repr(config) and "very-secret-token" not in repr(config.credentials())


@pytest.mark.parametrize(
    ("user", "problem"),
    [
        (
            {"client-certificate-data": "%%%", "client-key-data": b64(KEY)},
            "user 'u' (context 'ctx'): client-certificate-data is not valid base64",
        ),
        ({"client-certificate-data": b64(CERT)}, "user 'u' (context 'ctx'): has client-certificate but no client-key"),
        ({"client-key-data": b64(KEY)}, "user 'u' (context 'ctx'): has client-key but no client-certificate"),
        (
            {"client-certificate-data": b64(CERT), "client-key-data": b64(CERT)},
            "user 'u' (context 'ctx'): client-key-data is not PEM data",
        ),
        (
            {"client-certificate": "c.crt", "client-certificate-data": b64(CERT), "client-key-data": b64(KEY)},
            "user 'u' (context 'ctx'): both client-certificate and client-certificate-data are set",
        ),
        (
            {"tokenFile": "nope"},
            "user 'u' (context 'ctx'): tokenFile {dir}/nope cannot be read: No such file or directory",
        ),
        ({"token": ["a"]}, "user 'u' (context 'ctx'): token must be a string, found a list"),
        (
            {"token": "t", "username": "u", "password": "p"},
            "context 'ctx' (cluster 'c', user 'u'): both a token and basic auth (username/password) are set",
        ),
        ({"auth-provider": {"name": "oidc"}}, "user 'u' (context 'ctx'): auth-provider 'oidc' is not supported"),
        ({"token": "t", "as": "admin"}, "user 'u' (context 'ctx'): impersonation ('as') is not supported yet"),
    ],
)
def test_a_malformed_user_names_the_file_user_context_and_field(tmp_path: Path, user: dict, problem: str) -> None:
    path = single(tmp_path / "k", user=user)
    assert error_of(path).startswith(f"{path}: {problem.format(dir=tmp_path)}")


def test_the_error_names_the_file_that_defined_the_user_not_the_context(tmp_path: Path) -> None:
    users = kubeconfig(tmp_path / "users", users={"u": {"client-certificate-data": "???", "client-key-data": b64(KEY)}})
    rest = single(tmp_path / "rest", user={"token": "shadowed"})  # user 'u' here loses: 'users' comes first
    assert error_of([users, rest]).startswith(f"{users}: user 'u' (context 'ctx'): client-certificate-data")


def test_only_the_context_in_use_is_checked(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "k",
        clusters={"c": {"server": "https://c:1"}, "broken": {"certificate-authority-data": "!!"}},
        users={"u": {"token": "t"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}, "bad": {"cluster": "broken", "user": "u"}},
        current="ctx",
    )
    assert load_kubeconfig(path).server == "https://c:1"


# -- malformed files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("clusters: [unclosed\n", "is not valid YAML"),
        ("- just\n- a list\n", "is not a kubeconfig: the top level is a list, not a mapping"),
        ("hello\n", "is not a kubeconfig: the top level is a string, not a mapping"),
        ("clusters: {c: {server: x}}\n", "clusters must be a list, found a mapping"),
        ("users: [plain]\n", "users[0] must be a mapping, found a string"),
        ("contexts: [{context: {cluster: c}}]\n", "contexts[0] has no name"),
        ("clusters: [{name: c, cluster: [1]}]\n", "clusters[0] ('c'): cluster must be a mapping, found a list"),
        ("current-context: [a]\n", "current-context must be a string, found a list"),
    ],
)
def test_a_malformed_file_is_named_with_what_is_wrong(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "k"
    path.write_text(text)
    assert error_of(path).startswith(f"{path}: {problem}")


def test_yaml_errors_say_where(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("apiVersion: v1\nclusters:\n  - name: c\n   bad: indent\n")
    assert "line 4" in error_of(path)


def test_an_unreadable_file_is_an_error_not_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = single(tmp_path / "k")
    path.chmod(0)
    if os.access(path, os.R_OK):
        path.chmod(0o600)
        path = tmp_path / "dir"  # running as root: a directory is unreadable as a file for everyone
        path.mkdir()
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert error_of().startswith(f"{path}: cannot read the kubeconfig file:")


def test_kubectl_style_json_kubeconfig_is_yaml_too(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text(
        '{"clusters":[{"name":"c","cluster":{"server":"https://j:1"}}],'
        '"contexts":[{"name":"x","context":{"cluster":"c"}}],"current-context":"x"}'
    )
    assert isinstance(load_kubeconfig(path), Config)


# -- exec users ------------------------------------------------------------------------------

EXEC_V1 = {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws", "interactiveMode": "Never"}


def test_an_exec_user_becomes_an_exec_provider(tmp_path: Path) -> None:
    user = {
        "exec": {
            **EXEC_V1,
            "args": ["eks", "get-token"],
            "env": [{"name": "AWS_PROFILE", "value": "dev"}],
            "installHint": "install the aws cli",
            "provideClusterInfo": True,
        }
    }
    path = single(
        tmp_path / "k",
        user=user,
        cluster={
            "server": "https://c:1",
            "extensions": [{"name": "client.authentication.k8s.io/exec", "extension": {"audience": "a"}}],
        },
    )
    provider = load_kubeconfig(path).exec_provider
    assert provider is not None
    assert (provider.command, provider.args, provider.env) == ("aws", ("eks", "get-token"), (("AWS_PROFILE", "dev"),))
    assert provider.install_hint == "install the aws cli" and provider.provide_cluster_info
    assert provider.cluster_config == {"audience": "a"}


def test_an_exec_command_with_a_slash_is_relative_to_the_kubeconfig_and_a_bare_name_is_left_for_path(
    tmp_path: Path,
) -> None:
    relative = single(tmp_path / "k", user={"exec": {**EXEC_V1, "command": "bin/get-token"}})
    assert load_kubeconfig(relative).exec_provider.command == str(tmp_path / "bin" / "get-token")  # type: ignore[union-attr]
    bare = single(tmp_path / "k2", user={"exec": EXEC_V1})
    assert load_kubeconfig(bare).exec_provider.command == "aws"  # type: ignore[union-attr]


def test_v1beta1_exec_may_omit_interactive_mode(tmp_path: Path) -> None:
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}}
    assert load_kubeconfig(single(tmp_path / "k", user=user)).exec_provider is not None


@pytest.mark.parametrize(
    ("exec_body", "problem"),
    [
        ({**EXEC_V1, "command": ""}, "command must be a non-empty string"),
        ({**EXEC_V1, "command": ["aws"]}, "command must be a non-empty string"),
        (
            {**EXEC_V1, "apiVersion": "client.authentication.k8s.io/v1alpha1"},
            "apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported; use one of",
        ),
        ({**EXEC_V1, "apiVersion": 1}, "apiVersion 1 is not supported"),
        ({k: v for k, v in EXEC_V1.items() if k != "interactiveMode"}, "interactiveMode must be specified"),
        (
            {**EXEC_V1, "interactiveMode": "Sometimes"},
            "interactiveMode 'Sometimes' is not one of Never, IfAvailable, Always",
        ),
        ({**EXEC_V1, "args": "get-token"}, "args must be a list of strings"),
        ({**EXEC_V1, "env": [{"value": "x"}]}, "env must be a list of {name, value} string pairs"),
        ({**EXEC_V1, "provideClusterInfo": "yes"}, "provideClusterInfo must be a boolean"),
        ("aws", "must be a mapping, found a string"),
    ],
)
def test_a_malformed_exec_section_is_named(tmp_path: Path, exec_body: Any, problem: str) -> None:
    path = single(tmp_path / "k", user={"exec": exec_body})
    assert error_of(path).startswith(f"{path}: user 'u' (context 'ctx'): exec: {problem}")
