"""ControlPlane: etcd + kube-apiserver (+ kube-scheduler, kube-controller-manager, kwok) on free
loopback ports in a temp dir."""

from __future__ import annotations

import atexit
import json
import secrets
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Callable, Mapping, Optional, Sequence

from kcore.testenv.binaries import Binaries, ensure_binaries, ensure_controller_manager, ensure_kwok
from kcore.testenv.errors import ControlPlaneError
from kcore.testenv.pki import CertificateAuthority, CertificateFiles, write_service_account_key
from kcore.testenv.process import ManagedProcess

ADMIN_USER = "kcore-admin"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
"""Annotate a Node ``kwok.x-k8s.io/node: fake`` and, with ``with_kwok=True``, kwok runs it."""
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together so none is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _self_signed() -> ssl.SSLContext:
    """For the health endpoints of kube-scheduler and kube-controller-manager, which serve with
    certificates they made themselves."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def kubeconfig_text(
    server: str,
    ca_file: Path,
    *,
    user: str,
    token: Optional[str] = None,
    client: Optional[CertificateFiles] = None,
    namespace: str = "default",
) -> str:
    """A kubeconfig with one cluster, one user and one current context, as kubectl reads it."""
    credentials: dict[str, str] = {}
    if token is not None:
        credentials["token"] = token
    if client is not None:
        credentials["client-certificate"] = str(client.cert_file)
        credentials["client-key"] = str(client.key_file)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kcore-testenv", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {"name": "kcore-testenv", "context": {"cluster": "kcore-testenv", "user": user, "namespace": namespace}}
        ],
        "current-context": "kcore-testenv",
        "preferences": {},
    }
    # JSON is YAML: every kubeconfig reader accepts it, and no YAML writer is needed.
    return json.dumps(config, indent=2) + "\n"


class ControlPlane:
    """A real, private Kubernetes control plane for tests, started in a temporary directory.

    ``with ControlPlane() as cp:`` starts etcd and kube-apiserver (RBAC on; an admin identity
    in ``system:masters`` reachable by ``cp.token`` and through ``cp.kubeconfig``), waits for
    ``/readyz``, and on exit -- normal, exception, SIGINT or SIGTERM -- stops every process it
    started and removes the directory. If the Python process is killed outright the kernel
    kills the children too.

    ``with_scheduler`` adds kube-scheduler; ``controllers=["replicaset", ...]`` adds
    kube-controller-manager running only those controllers (its ``--controllers`` names);
    ``with_kwok`` adds kwok, the kubelet of every fake node: exec in any of its pods' containers
    runs the command on this machine, attach follows ``container_log``, and
    ``kwok_port_forwards={pod_port: local_port}`` makes a port-forward to ``pod_port`` of any
    pod reach ``127.0.0.1:local_port``.
    """

    def __init__(
        self,
        *,
        with_scheduler: bool = False,
        with_kwok: bool = False,
        kwok_port_forwards: Optional[Mapping[int, int]] = None,
        root_dir: Optional[Path] = None,
        apiserver_args: Optional[Mapping[str, str]] = None,
        scheduler_config: Optional[Mapping[str, Any]] = None,
        controllers: Sequence[str] = (),
        startup_timeout: float = 120.0,
        log: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.with_scheduler = with_scheduler
        self.with_kwok = with_kwok
        self.kwok_port_forwards = dict(kwok_port_forwards or {})
        if self.kwok_port_forwards and not with_kwok:
            raise ValueError("kwok_port_forwards needs with_kwok=True")
        self._root_dir = root_dir
        self._apiserver_args = dict(apiserver_args or {})
        self._scheduler_config = dict(scheduler_config or {})
        self.controllers = list(controllers)
        self._startup_timeout = startup_timeout
        self._log = log
        self._processes: list[ManagedProcess] = []
        self._owns_dir = False
        self._previous_sigterm: Any = None
        self.dir: Optional[Path] = None
        self.binaries: Optional[Binaries] = None
        self._ca: Optional[CertificateAuthority] = None
        self._server: Optional[str] = None
        self._token: Optional[str] = None
        self._kubeconfig: Optional[Path] = None
        self._etcd_url: Optional[str] = None

    # -- what users read -------------------------------------------------------------------

    def _running(self, value: Any) -> Any:
        if value is None:
            raise ControlPlaneError("the control plane is not running: use `with ControlPlane() as cp:` or start()")
        return value

    @property
    def server(self) -> str:
        """``https://127.0.0.1:<port>`` of kube-apiserver."""
        return str(self._running(self._server))

    @property
    def ca_file(self) -> Path:
        """PEM of the CA that signed the serving certificate and every client certificate."""
        return Path(self._running(self._ca).cert_file)

    @property
    def token(self) -> str:
        """Bearer token of the admin user (group ``system:masters``)."""
        return str(self._running(self._token))

    @property
    def kubeconfig(self) -> Path:
        """Path of a kubeconfig for the admin user, with the token."""
        return Path(self._running(self._kubeconfig))

    @property
    def etcd_url(self) -> str:
        """``http://127.0.0.1:<port>`` of etcd, e.g. to compact it and expire continue tokens."""
        return str(self._running(self._etcd_url))

    @property
    def container_log(self) -> Path:
        """With ``with_kwok=True``: the file kwok serves as the log of every container on its
        nodes (``pods/{name}/log``, ``follow=true`` too), in the CRI format kubelets read, one
        ``<RFC 3339 time> stdout F <text>`` per line. Append to it and followers get the text."""
        if not self.with_kwok:
            raise ControlPlaneError("container logs need ControlPlane(with_kwok=True)")
        return Path(self._running(self.dir)) / "container.log"

    @property
    def release(self) -> str:
        """The Kubernetes release the binaries were built at, e.g. ``v1.37.2``."""
        return self._running(self.binaries).release

    def issue_client_certificate(self, user: str, groups: Sequence[str] = ()) -> CertificateFiles:
        """A client certificate that authenticates as ``user`` in ``groups`` (RBAC decides the rest)."""
        ca = self._running(self._ca)
        stem = "client-" + "".join(c if c.isalnum() else "_" for c in user) + "-" + secrets.token_hex(4)
        return ca.issue_client(stem, user, groups)

    def issue_serving_certificate(
        self,
        dns_names: Sequence[str] = ("localhost",),
        ip_addresses: Sequence[str] = ("127.0.0.1",),
    ) -> CertificateFiles:
        """A server certificate the cluster's CA vouches for: for webhooks, scheduler
        extenders, aggregated API servers or a test's own proxy in front of the API server."""
        ca = self._running(self._ca)
        return ca.issue_serving("serving-" + secrets.token_hex(4), list(dns_names), list(ip_addresses))

    def write_kubeconfig(
        self,
        path: Path,
        *,
        user: str,
        token: Optional[str] = None,
        client: Optional[CertificateFiles] = None,
        namespace: str = "default",
    ) -> Path:
        """Write a kubeconfig for this server with the given credentials; returns ``path``."""
        path = Path(path)
        path.write_text(
            kubeconfig_text(self.server, self.ca_file, user=user, token=token, client=client, namespace=namespace)
        )
        path.chmod(0o600)
        return path

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> "ControlPlane":
        return self.start()

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.stop()

    def start(self) -> "ControlPlane":
        if self._processes:
            raise ControlPlaneError("this ControlPlane is already running")
        self.binaries = ensure_binaries(log=self._log)
        self._install_sigterm_handler()
        atexit.register(self.stop)
        try:
            self._prepare_dir()
            self._start_etcd_and_apiserver()
            if self.with_scheduler:
                self._start_scheduler()
            if self.controllers:
                self._start_controller_manager()
            if self.with_kwok:
                self._start_kwok()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process this started (newest first) and remove its directory. Idempotent."""
        while self._processes:
            self._processes.pop().stop()
        atexit.unregister(self.stop)
        self._restore_sigterm_handler()
        if self._owns_dir and self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self._owns_dir = False
        self._server = self._token = self._kubeconfig = self._etcd_url = None
        self._ca = None

    def restart_apiserver(self, down_for: float = 0.0) -> None:
        """Stop kube-apiserver (SIGTERM, as a rolling upgrade does), leave it down ``down_for``
        seconds, start it again on the same port with the same etcd, and wait for /readyz.
        Clients see their connections end, then refused connections, then the same cluster."""
        apiserver = next((p for p in self._processes if p.name == "kube-apiserver"), None)
        if apiserver is None:
            raise ControlPlaneError("the control plane is not running: there is no kube-apiserver to restart")
        apiserver.stop()
        time.sleep(down_for)
        apiserver.start()
        context = ssl.create_default_context(cafile=str(self.ca_file))
        self._wait_until(apiserver, f"{self.server}/readyz", context, lambda body: body.strip() == b"ok")

    def _install_sigterm_handler(self) -> None:
        # SIGTERM's default action ends Python without running `finally` blocks; turn it into
        # SystemExit so the stop above runs. Only if nobody else handles SIGTERM already.
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

            def _exit(signum: int, frame: Optional[FrameType]) -> None:
                raise SystemExit(128 + signum)

            self._previous_sigterm = signal.signal(signal.SIGTERM, _exit)

    def _restore_sigterm_handler(self) -> None:
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    def _prepare_dir(self) -> None:
        if self._root_dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="kcore-testenv-"))
            self._owns_dir = True
        else:
            self.dir = Path(self._root_dir)
            self.dir.mkdir(parents=True, exist_ok=True)
        for sub in ("pki", "logs", "etcd", "apiserver-certs"):
            (self.dir / sub).mkdir(exist_ok=True)
        self._ca = CertificateAuthority(self.dir / "pki")

    def _spawn(self, name: str, argv: Sequence[str]) -> ManagedProcess:
        assert self.dir is not None
        process = ManagedProcess(name, argv, self.dir / "logs" / f"{name}.log")
        process.start()
        self._processes.append(process)
        return process

    def _start_etcd_and_apiserver(self) -> None:
        assert self.dir is not None and self._ca is not None and self.binaries is not None
        pki = self.dir / "pki"
        etcd_port, peer_port, api_port = _free_ports(3)
        etcd = self._spawn(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=default",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._wait_until(etcd, f"{self._etcd_url}/health", None, lambda body: b'"health":"true"' in body)

        serving = self._ca.issue_serving(
            "apiserver",
            ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
            ["127.0.0.1", "10.0.0.1"],
        )
        self._token = secrets.token_urlsafe(32)
        tokens = pki / "tokens.csv"
        tokens.write_text(f'{self._token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        tokens.chmod(0o600)
        # The front proxy's identity: lets aggregated API servers and the scheduler's delegated
        # authentication trust requests the API server forwards.
        front_proxy = self._ca.issue_client("front-proxy-client", "front-proxy-client")
        sa_key = pki / "service-account.key"
        write_service_account_key(sa_key)

        args = {
            "etcd-servers": f"http://127.0.0.1:{etcd_port}",
            "bind-address": "127.0.0.1",
            "advertise-address": "127.0.0.1",
            "secure-port": str(api_port),
            "cert-dir": str(self.dir / "apiserver-certs"),
            "tls-cert-file": str(serving.cert_file),
            "tls-private-key-file": str(serving.key_file),
            "client-ca-file": str(self._ca.cert_file),
            "token-auth-file": str(tokens),
            "authorization-mode": "RBAC",
            "requestheader-client-ca-file": str(self._ca.cert_file),
            "requestheader-allowed-names": "front-proxy-client",
            "requestheader-username-headers": "X-Remote-User",
            "requestheader-group-headers": "X-Remote-Group",
            "requestheader-extra-headers-prefix": "X-Remote-Extra-",
            "proxy-client-cert-file": str(front_proxy.cert_file),
            "proxy-client-key-file": str(front_proxy.key_file),
            "service-account-issuer": "https://kubernetes.default.svc.cluster.local",
            "service-account-key-file": str(sa_key),
            "service-account-signing-key-file": str(sa_key),
            "service-cluster-ip-range": SERVICE_CLUSTER_IP_RANGE,
            "endpoint-reconciler-type": "none",
            "disable-admission-plugins": "ServiceAccount",
            "allow-privileged": "true",
            "v": "0",
        }
        args.update(self._apiserver_args)
        apiserver = self._spawn(
            "kube-apiserver", [str(self.binaries.kube_apiserver)] + [f"--{k}={v}" for k, v in args.items()]
        )
        self._server = f"https://127.0.0.1:{api_port}"
        self._kubeconfig = self.write_kubeconfig(self.dir / "kubeconfig", user=ADMIN_USER, token=self._token)
        context = ssl.create_default_context(cafile=str(self._ca.cert_file))
        self._wait_until(apiserver, f"{self._server}/readyz", context, lambda body: body.strip() == b"ok")

    def _start_scheduler(self) -> None:
        assert self.dir is not None and self._ca is not None and self.binaries is not None
        # The scheduler authenticates as itself; the bootstrap RBAC policy grants it what it needs.
        identity = self._ca.issue_client("kube-scheduler", "system:kube-scheduler")
        kubeconfig = self.write_kubeconfig(
            self.dir / "scheduler.kubeconfig", user="system:kube-scheduler", client=identity
        )
        config: dict[str, Any] = {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            "leaderElection": {"leaderElect": False},
        }
        # Merged over the generated fields: clientConnection may add qps and burst to the kubeconfig.
        connection = {**config["clientConnection"], **self._scheduler_config.get("clientConnection", {})}
        config.update(self._scheduler_config)
        config["clientConnection"] = connection
        config_file = self.dir / "scheduler.yaml"
        config_file.write_text(json.dumps(config, indent=2))
        (port,) = _free_ports(1)
        scheduler = self._spawn(
            "kube-scheduler",
            [
                str(self.binaries.kube_scheduler),
                f"--config={config_file}",
                f"--secure-port={port}",
                "--bind-address=127.0.0.1",
                f"--cert-dir={self.dir / 'scheduler-certs'}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
            ],
        )
        # The scheduler serves /readyz with a self-signed certificate of its own.
        self._wait_until(
            scheduler, f"https://127.0.0.1:{port}/readyz", _self_signed(), lambda body: body.strip() == b"ok"
        )

    def _start_controller_manager(self) -> None:
        assert self.dir is not None and self.binaries is not None
        binary = ensure_controller_manager(log=self._log)
        (port,) = _free_ports(1)
        # Only the named controllers run, as the admin (the bootstrap policy's per-controller
        # service accounts would need the token controller, which tests rarely ask for).
        manager = self._spawn(
            "kube-controller-manager",
            [
                str(binary),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                f"--controllers={','.join(self.controllers)}",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                f"--secure-port={port}",
                "--bind-address=127.0.0.1",
                f"--cert-dir={self.dir / 'controller-manager-certs'}",
            ],
        )
        self._wait_until(
            manager, f"https://127.0.0.1:{port}/healthz", _self_signed(), lambda body: body.strip() == b"ok"
        )

    def _start_kwok(self) -> None:
        assert self.dir is not None
        kwok = ensure_kwok(log=self._log)
        # kwok plays the kubelet of every node that carries this annotation: it marks the node
        # Ready, keeps its lease, and moves pods bound to it to Running. It also serves the
        # kubelet API on loopback, at the address and port it writes into each node's status, so
        # the API server's pods/log reaches it (over TLS with kwok's own certificate, which
        # kube-apiserver does not check without --kubelet-certificate-authority).
        (port,) = _free_ports(1)
        self.container_log.touch()
        # The streaming subresources, for every container of every pod: exec runs the command
        # here, attach follows the log file, and port-forwards go to the ports the caller chose.
        configs = {
            "ClusterLogs": {"logs": [{"logsFile": str(self.container_log), "follow": True}]},
            "ClusterAttach": {"attaches": [{"logsFile": str(self.container_log)}]},
            "ClusterExec": {"execs": [{"local": {}}]},
            "ClusterPortForward": {
                "forwards": [
                    {"ports": [pod_port], "target": {"address": "127.0.0.1", "port": local_port}}
                    for pod_port, local_port in sorted(self.kwok_port_forwards.items())
                ]
            },
        }
        logs = self.dir / "kwok-streaming.yaml"
        logs.write_text(
            "---\n".join(
                json.dumps(
                    {
                        "apiVersion": "kwok.x-k8s.io/v1alpha1",
                        "kind": kind,
                        "metadata": {"name": "every-container"},
                        "spec": spec,
                    }
                )
                + "\n"
                for kind, spec in configs.items()
            )
        )
        self._spawn(
            "kwok",
            [
                str(kwok.binary),
                *[f"--config={stage}" for stage in kwok.stages],
                f"--config={logs}",
                f"--kubeconfig={self.kubeconfig}",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                "--cidr=10.0.1.0/24",
                "--node-ip=127.0.0.1",
                f"--node-port={port}",
                f"--server-address=127.0.0.1:{port}",
            ],
        )

    def _wait_until(
        self,
        process: ManagedProcess,
        url: str,
        context: Optional[ssl.SSLContext],
        ready: Callable[[bytes], bool],
    ) -> None:
        """Poll ``url`` until ``ready(body)``; fail fast, with its log, if the process exits."""
        headers = {"Authorization": f"Bearer {self._token}"} if self._token and context is not None else {}
        # No proxy: a user's HTTPS_PROXY must not swallow loopback traffic.
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        deadline = time.monotonic() + self._startup_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = process.exit_code()
            if code is not None:
                raise ControlPlaneError(
                    f"{process.name} exited with status {code} while starting; "
                    f"its log ({process.log_file}) ends with:\n{process.log_tail()}"
                )
            try:
                with opener.open(urllib.request.Request(url, headers=headers), timeout=5) as r:
                    body = r.read()
                if ready(body):
                    return
                last_error = f"answered {body[:200]!r}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        raise ControlPlaneError(
            f"{process.name} was not ready at {url} within {self._startup_timeout:.0f}s ({last_error}); "
            f"its log ({process.log_file}) ends with:\n{process.log_tail()}"
        )
