"""load_kubeconfig: a Config for one context of the merged kubeconfig files, as kubectl reads them.

Only the context in use is checked field by field (like clientcmd's ConfirmUsable); every error
names the file that defined the entry at fault, the context, and the field. File paths resolve
against the directory of the file that names them. Client certificates and CAs are read once,
at load time; a token file is re-read as it rotates.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

from kcore.config.config import Config
from kcore.config.exec_credential import ExecProvider
from kcore.config.files import decode_base64, read_file, require_pem
from kcore.config.kubeconfig_files import Entry, MergedKubeconfig, PathLike, load_merged, type_name
from kcore.config.token_file import read_token
from kcore.errors import ConfigError

EXEC_EXTENSION = "client.authentication.k8s.io/exec"
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
V1 = "client.authentication.k8s.io/v1"  # the version that requires interactiveMode
IMPERSONATION_FIELDS = ("as", "as-uid", "as-groups", "as-user-extra")


def load_kubeconfig(
    path: Union[PathLike, Sequence[PathLike], None] = None,
    *,
    context: Optional[str] = None,
) -> Config:
    """The Config for ``context`` (default: the current-context) of the kubeconfig at ``path``
    (a file or a list of files merged in order), or of KUBECONFIG / ~/.kube/config."""
    merged = load_merged(path)
    name = context or merged.current_context
    if not name:
        raise ConfigError("no context was given and no current-context is set", source=merged.description)
    entry = merged.contexts.get(name)
    if entry is None:
        if context:
            raise ConfigError(f"context {context!r} is not defined", source=merged.description)
        raise ConfigError(
            f"current-context {name!r} is not defined in any kubeconfig file", source=merged.current_context_origin
        )
    return _ContextResolver(merged, entry).config()


class _ContextResolver:
    """Reads the fields of one context, its cluster and its user into a Config."""

    def __init__(self, merged: MergedKubeconfig, context: Entry) -> None:
        self.merged, self.context = merged, context

    def config(self) -> Config:
        ctx = self.context
        cluster_name = self._str(ctx, "context", "cluster")
        if not cluster_name:
            raise self._error(ctx, "context", "names no cluster")
        cluster = self._referenced("cluster", cluster_name, self.merged.clusters)
        user_name = self._str(ctx, "context", "user")
        user = self._referenced("user", user_name, self.merged.users) if user_name else None
        fields = {**self._cluster_fields(cluster), **(self._user_fields(user, cluster) if user else {})}
        try:
            return Config(namespace=self._str(ctx, "context", "namespace") or "default", **fields)
        except ConfigError as e:
            parts = f"cluster {cluster_name!r}" + (f", user {user_name!r}" if user_name else "")
            raise ConfigError(f"context {ctx.name!r} ({parts}): {e}", source=ctx.origin) from None

    def _referenced(self, kind: str, name: str, defined: dict[str, Entry]) -> Entry:
        entry = defined.get(name)
        if entry is None:
            raise ConfigError(
                f"context {self.context.name!r} refers to {kind} {name!r}, which is not defined",
                source=self.context.origin,
            )
        return entry

    # -- clusters ------------------------------------------------------------------------

    def _cluster_fields(self, cluster: Entry) -> dict[str, Any]:
        server = self._str(cluster, "cluster", "server")
        if not server:
            raise self._error(cluster, "cluster", "has no server")
        if "://" not in server:  # client-go's DefaultServerURL: a bare host:port means https
            server = "https://" + server
        ca = self._pem(cluster, "cluster", "certificate-authority", "CERTIFICATE")
        return {
            "server": server,
            "ca_data": ca,
            "insecure_skip_tls_verify": self._bool(cluster, "cluster", "insecure-skip-tls-verify"),
            "tls_server_name": self._str(cluster, "cluster", "tls-server-name") or None,
            "proxy_url": self._str(cluster, "cluster", "proxy-url") or None,
        }

    def _exec_extension(self, cluster: Entry) -> Any:
        extensions = cluster.body.get("extensions") or []
        if not isinstance(extensions, list):
            raise self._error(cluster, "cluster", f"extensions must be a list, found a {type_name(extensions)}")
        for item in extensions:
            if isinstance(item, dict) and item.get("name") == EXEC_EXTENSION:
                return item.get("extension")
        return None

    # -- users ---------------------------------------------------------------------------

    def _user_fields(self, user: Entry, cluster: Entry) -> dict[str, Any]:
        body = user.body
        provider = body.get("auth-provider")
        if provider is not None:
            name = provider.get("name") if isinstance(provider, dict) else provider
            raise self._error(
                user,
                "user",
                f"auth-provider {name!r} is not supported; use an exec plugin instead (e.g. kubelogin for OIDC)",
            )
        for field in IMPERSONATION_FIELDS:
            if body.get(field):
                raise self._error(user, "user", f"impersonation ({field!r}) is not supported yet")
        token = self._str(user, "user", "token") or None
        token_file = self._path(user, "user", "tokenFile")
        if token_file:  # it wins over token (it rotates), so it must be readable now
            read_token(token_file, what=f"{self._where(user, 'user')}: tokenFile", source=user.origin)
        cert = self._pem(user, "user", "client-certificate", "CERTIFICATE")
        key = self._pem(user, "user", "client-key", "PRIVATE KEY")
        if cert and not key:
            raise self._error(user, "user", "has client-certificate but no client-key (or client-key-data)")
        if key and not cert:
            raise self._error(user, "user", "has client-key but no client-certificate (or client-certificate-data)")
        cert_file, key_file = self._path(user, "user", "client-certificate"), self._path(user, "user", "client-key")
        username, password = self._str(user, "user", "username"), self._str(user, "user", "password")
        exec_body = body.get("exec")
        fields: dict[str, Any] = {
            "token": token,
            "token_file": token_file,
            "client_cert_data": cert,
            "client_key_data": key,
            # Files are re-read as they rotate (client-go's ReloadTLSFiles); data never changes.
            "client_cert_file": cert_file if cert_file and key_file else None,
            "client_key_file": key_file if cert_file and key_file else None,
            "username": username if username or password else None,
            "password": password if username or password else None,
        }
        if exec_body is not None:
            fields["exec_provider"] = self._exec(user, exec_body, cluster)
        return fields

    def _exec(self, user: Entry, body: Any, cluster: Entry) -> ExecProvider:
        where = self._where(user, "user") + ": exec"

        def fail(problem: str) -> ConfigError:
            return ConfigError(f"{where}: {problem}", source=user.origin)

        if not isinstance(body, dict):
            raise fail(f"must be a mapping, found a {type_name(body)}")
        # Any: ExecProvider itself checks that both are strings (one place for that rule).
        command: Any = body.get("command")
        api_version: Any = body.get("apiVersion")
        if isinstance(command, str) and os.sep in command and not os.path.isabs(command):
            # clientcmd resolves a path against the kubeconfig; a bare name is left for PATH.
            command = os.path.join(os.path.dirname(os.path.abspath(user.origin)), command)
        mode = body.get("interactiveMode")
        if mode is None and api_version == V1:
            raise fail(f"interactiveMode must be specified for {api_version} (kcore treats every mode as Never)")
        if mode is not None and mode not in INTERACTIVE_MODES:
            raise fail(f"interactiveMode {mode!r} is not one of {', '.join(INTERACTIVE_MODES)}")
        args = body.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise fail("args must be a list of strings")
        env = body.get("env") or []
        if not isinstance(env, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and e["name"] and isinstance(e.get("value", ""), str)
            for e in env
        ):
            raise fail("env must be a list of {name, value} string pairs, each with a name")
        provide = body.get("provideClusterInfo", False)
        hint = body.get("installHint")
        if not isinstance(provide, bool) or not isinstance(hint, (str, type(None))):
            raise fail("provideClusterInfo must be a boolean and installHint a string")
        return ExecProvider(
            command=command,
            api_version=api_version,
            args=args,
            env=[(e["name"], e.get("value", "")) for e in env],
            install_hint=hint,
            provide_cluster_info=provide,
            cluster_config=self._exec_extension(cluster),
            origin=f"{user.origin}: {where}",
        )

    # -- field readers -------------------------------------------------------------------

    def _pem(self, entry: Entry, kind: str, key: str, marker: str) -> Optional[bytes]:
        """``key`` (a path) or ``key``-data (base64), checked to be PEM; both set is an error."""
        where, data_key = self._where(entry, kind), f"{key}-data"
        encoded = self._str(entry, kind, data_key)
        path = self._path(entry, kind, key)
        if encoded and path:
            raise self._error(entry, kind, f"both {key} and {data_key} are set; choose one")
        if encoded:
            what = f"{where}: {data_key}"
            return require_pem(decode_base64(encoded, what, source=entry.origin), marker, what, source=entry.origin)
        if path:
            data = read_file(path, f"{where}: {key}", source=entry.origin)
            return require_pem(data, marker, f"{where}: {key} {path}", source=entry.origin)
        return None

    def _path(self, entry: Entry, kind: str, key: str) -> Optional[str]:
        value = self._str(entry, kind, key)
        if not value:
            return None
        return os.path.join(os.path.dirname(os.path.abspath(entry.origin)), value)

    def _str(self, entry: Entry, kind: str, key: str) -> str:
        value = entry.body.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._error(entry, kind, f"{key} must be a string, found a {type_name(value)}")
        return value

    def _bool(self, entry: Entry, kind: str, key: str) -> bool:
        value = entry.body.get(key, False)
        if not isinstance(value, bool):
            raise self._error(entry, kind, f"{key} must be true or false, found a {type_name(value)}")
        return value

    def _where(self, entry: Entry, kind: str) -> str:
        """ "user 'bob' (context 'dev')": the entry at fault and the context in use."""
        if entry is self.context:
            return f"context {entry.name!r}"
        return f"{kind} {entry.name!r} (context {self.context.name!r})"

    def _error(self, entry: Entry, kind: str, problem: str) -> ConfigError:
        return ConfigError(f"{self._where(entry, kind)}: {problem}", source=entry.origin)
