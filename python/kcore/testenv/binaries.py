"""The control plane's binaries: built from the Go module proxy at one pinned release, cached.

The Go module in ``controlplane/`` (shipped inside this package) names the release once, as its
``k8s.io/kubernetes`` requirement. Binaries are built into ``<cache>/controlplane/<release>/``
outside any work tree, so the first build is slow (minutes) and every later one is instant.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from kcore.testenv import progress
from kcore.testenv.errors import ControlPlaneError

GO_MODULE_DIR = Path(__file__).resolve().parent / "controlplane"
KWOK_MODULE_DIR = Path(__file__).resolve().parent / "kwok"
KWOK_PACKAGE = "sigs.k8s.io/kwok/cmd/kwok"

# Binary name -> Go package that builds it.
PACKAGES = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "etcd": "go.etcd.io/etcd/server/v3",
}

CONTROLLER_MANAGER_PACKAGE = "k8s.io/kubernetes/cmd/kube-controller-manager"
"""Built apart, only when a test asks for upstream controllers: most never do."""

ASSETS_ENV = "KCORE_TESTENV_ASSETS"
"""Set to a folder holding kube-apiserver, kube-scheduler and etcd (and kube-controller-manager,
where controllers are asked for) to use those instead."""


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    kube_scheduler: Path
    etcd: Path
    release: str


def pinned_release() -> str:
    """The Kubernetes release the control plane is built at, e.g. ``v1.37.2``."""
    go_mod = (GO_MODULE_DIR / "go.mod").read_text()
    match = re.search(r"^\s*k8s\.io/kubernetes (v\d+\.\d+\.\d+)\b", go_mod, re.MULTILINE)
    if match is None:
        raise ControlPlaneError(f"{GO_MODULE_DIR / 'go.mod'} does not require k8s.io/kubernetes")
    return match.group(1)


def cache_root() -> Path:
    """``$KCORE_CACHE_DIR``, else ``$XDG_CACHE_HOME/kcore``, else ``~/.cache/kcore``."""
    explicit = os.environ.get("KCORE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kcore"


def _binaries_in(folder: Path, release: str) -> Binaries:
    return Binaries(
        kube_apiserver=folder / "kube-apiserver",
        kube_scheduler=folder / "kube-scheduler",
        etcd=folder / "etcd",
        release=release,
    )


def _complete(binaries: Binaries) -> bool:
    return all(os.access(p, os.X_OK) for p in (binaries.kube_apiserver, binaries.kube_scheduler, binaries.etcd))


def build_command(release: str, out_dir: Path, packages: Sequence[str] = tuple(PACKAGES.values())) -> list[str]:
    """The ``go build`` that makes ``packages`` (all three binaries unless told), stamped with
    the release's version."""
    major, minor = release.lstrip("v").split(".")[:2]
    ldflags = " ".join(
        [
            "-s -w",
            f"-X k8s.io/component-base/version.gitVersion={release}",
            f"-X k8s.io/component-base/version.gitMajor={major}",
            f"-X k8s.io/component-base/version.gitMinor={minor}",
            "-X k8s.io/component-base/version.gitTreeState=clean",
        ]
    )
    return ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", f"{out_dir}/", *packages]


def _build_env() -> dict[str, str]:
    env = dict(os.environ)
    # The module's go.mod/go.sum are complete and may sit in a read-only site-packages;
    # a user's go.work or GOFLAGS must not change what gets built.
    env.update(GOWORK="off", GOFLAGS="-mod=readonly -buildvcs=false", CGO_ENABLED="0")
    return env


def _manual_command(module_dir: Path, command: list[str], renames: dict[str, str], out_dir: Path) -> str:
    quoted = " ".join(f"'{a}'" if " " in a else a for a in command)
    moves = "".join(f" && mv {out_dir}/{old} {out_dir}/{new}" for old, new in renames.items())
    return f"cd {module_dir} && GOWORK=off CGO_ENABLED=0 {quoted}{moves}"


def _build_cached(
    what: str,
    module_dir: Path,
    command: Callable[[Path], list[str]],
    target: Path,
    renames: dict[str, str],
    log: Optional[Callable[[str], None]],
    finish: Optional[Callable[[Path], None]] = None,
) -> None:
    """Build into ``target`` unless another process already did (a file lock serializes
    builders); a failed or interrupted build leaves nothing half-made behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_dir():
            return
        if shutil.which("go") is None:
            raise ControlPlaneError(
                f"the Go toolchain (go >= 1.26) is needed to build {what}, and `go` is not on PATH. "
                f"Install Go, then build by hand with:\n  {_manual_command(module_dir, command(target), renames, target)}"
            )
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            if log:
                log(f"building {what} (first time only: minutes)")
            code, tail = progress.run(
                f"building {what}",
                command(staging),
                count=progress.GO_PACKAGE_LINE,
                cwd=str(module_dir),
                env=_build_env(),
            )
            if code != 0:
                raise ControlPlaneError(
                    f"building {what} failed (go build exit {code}):\n{tail}\n"
                    f"To build by hand:\n  {_manual_command(module_dir, command(target), renames, target)}"
                )
            for old, new in renames.items():
                (staging / old).rename(staging / new)
            if finish:
                finish(staging)
            staging.chmod(0o755)  # mkdtemp made it private; the binaries are not secret
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)


def ensure_binaries(log: Optional[Callable[[str], None]] = None) -> Binaries:
    """Return the cached binaries, building them first if needed (safe to call concurrently)."""
    release = pinned_release()
    assets = os.environ.get(ASSETS_ENV)
    if assets:
        binaries = _binaries_in(Path(assets), release)
        if not _complete(binaries):
            raise ControlPlaneError(
                f"{ASSETS_ENV}={assets} must hold executables kube-apiserver, kube-scheduler and etcd"
            )
        return binaries

    target = cache_root() / "controlplane" / release
    binaries = _binaries_in(target, release)
    if not _complete(binaries):
        if target.is_dir():
            shutil.rmtree(target)  # incomplete: someone deleted a binary
        # Go names a binary after the last element of its package path that is not a major
        # version: go.etcd.io/etcd/server/v3 comes out as "server".
        _build_cached(
            f"kube-apiserver, kube-scheduler and etcd {release}",
            GO_MODULE_DIR,
            lambda out: build_command(release, out),
            target,
            {"server": "etcd"},
            log,
        )
    return binaries


def ensure_controller_manager(log: Optional[Callable[[str], None]] = None) -> Path:
    """kube-controller-manager of the pinned release, built from the same Go module (cached
    beside the other binaries, built on first use), so kcore's controllers can be compared with
    upstream's own on the same inputs."""
    release = pinned_release()
    assets = os.environ.get(ASSETS_ENV)
    if assets:
        binary = Path(assets) / "kube-controller-manager"
        if not os.access(binary, os.X_OK):
            raise ControlPlaneError(f"{ASSETS_ENV}={assets} must hold an executable kube-controller-manager")
        return binary
    target = cache_root() / "controller-manager" / release
    binary = target / "kube-controller-manager"
    if not os.access(binary, os.X_OK):
        if target.is_dir():
            shutil.rmtree(target)
        _build_cached(
            f"kube-controller-manager {release}",
            GO_MODULE_DIR,
            lambda out: build_command(release, out, [CONTROLLER_MANAGER_PACKAGE]),
            target,
            {},
            log,
        )
    return binary


def kwok_version() -> str:
    """The sigs.k8s.io/kwok release its Go module pins."""
    match = re.search(r"^\s*sigs\.k8s\.io/kwok (v\S+)", (KWOK_MODULE_DIR / "go.mod").read_text(), re.MULTILINE)
    if match is None:
        raise ControlPlaneError(f"{KWOK_MODULE_DIR / 'go.mod'} does not require sigs.k8s.io/kwok")
    return match.group(1)


KWOK_STAGES = [
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
]
"""kwok's own "fast" stages (kustomize/stage in its module): nodes go Ready at once and keep a
lease; pods bound to them run, complete and are deleted as a kubelet would."""


def _copy_kwok_stages(out_dir: Path) -> None:
    listed = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
        cwd=KWOK_MODULE_DIR,
        env=_build_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    stages = Path(listed.stdout.strip()) / "kustomize" / "stage"
    (out_dir / "stages").mkdir()
    for stage in KWOK_STAGES:
        shutil.copyfile(stages / stage, out_dir / "stages" / Path(stage).name)


@dataclass(frozen=True)
class Kwok:
    binary: Path
    stages: list[Path]


def ensure_kwok(log: Optional[Callable[[str], None]] = None) -> Kwok:
    """kwok (simulated kubelets: fake nodes that go Ready and run pods) and its stage
    configuration, built and cached. It has its own Go module: kwok pins its own client-go,
    which must not move the control plane's dependencies."""
    version = kwok_version()
    target = cache_root() / "kwok" / version
    kwok = Kwok(target / "kwok", [target / "stages" / Path(s).name for s in KWOK_STAGES])
    if not (os.access(kwok.binary, os.X_OK) and all(s.is_file() for s in kwok.stages)):
        if target.is_dir():
            shutil.rmtree(target)
        _build_cached(
            f"kwok {version}",
            KWOK_MODULE_DIR,
            lambda out: ["go", "build", "-v", "-trimpath", "-ldflags", "-s -w", "-o", f"{out}/", KWOK_PACKAGE],
            target,
            {},
            log,
            finish=_copy_kwok_stages,
        )
    return kwok
