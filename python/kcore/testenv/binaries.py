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
from typing import Callable, Optional

from kcore.testenv.errors import ControlPlaneError

GO_MODULE_DIR = Path(__file__).resolve().parent / "controlplane"

# Binary name -> Go package that builds it.
PACKAGES = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "etcd": "go.etcd.io/etcd/server/v3",
}

ASSETS_ENV = "KCORE_TESTENV_ASSETS"
"""Set to a folder holding kube-apiserver, kube-scheduler and etcd to use those instead."""


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
    return all(
        os.access(p, os.X_OK) for p in (binaries.kube_apiserver, binaries.kube_scheduler, binaries.etcd)
    )


def build_command(release: str, out_dir: Path) -> list[str]:
    """The ``go build`` that makes all three binaries, stamped with the release's version."""
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
    return ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", f"{out_dir}/", *PACKAGES.values()]


def _build_env() -> dict[str, str]:
    env = dict(os.environ)
    # The module's go.mod/go.sum are complete and may sit in a read-only site-packages;
    # a user's go.work or GOFLAGS must not change what gets built.
    env.update(GOWORK="off", GOFLAGS="-mod=readonly -buildvcs=false", CGO_ENABLED="0")
    return env


def _manual_command(release: str, out_dir: Path) -> str:
    cmd = build_command(release, out_dir)
    quoted = " ".join(f"'{a}'" if " " in a else a for a in cmd)
    return f"cd {GO_MODULE_DIR} && GOWORK=off CGO_ENABLED=0 {quoted} && mv {out_dir}/server {out_dir}/etcd"


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
    if _complete(binaries):
        return binaries

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{release}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same release
        if _complete(binaries):
            return binaries
        if shutil.which("go") is None:
            raise ControlPlaneError(
                "the Go toolchain (go >= 1.26) is needed to build the control plane, and `go` is "
                f"not on PATH. Install Go, then build by hand with:\n  {_manual_command(release, target)}"
            )
        staging = Path(tempfile.mkdtemp(prefix=f".{release}-", dir=target.parent))
        try:
            if log:
                log(f"building kube-apiserver, kube-scheduler and etcd {release} (first time only: minutes)")
            result = subprocess.run(
                build_command(release, staging),
                cwd=GO_MODULE_DIR,
                env=_build_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            if result.returncode != 0:
                tail = "\n".join(result.stdout.strip().splitlines()[-30:])
                raise ControlPlaneError(
                    f"building the control plane {release} failed (go build exit {result.returncode}):\n"
                    f"{tail}\nTo build by hand:\n  {_manual_command(release, target)}"
                )
            # Go names a binary after the last element of its package path that is not a major
            # version: go.etcd.io/etcd/server/v3 comes out as "server".
            (staging / "server").rename(staging / "etcd")
            if target.exists():
                shutil.rmtree(target)
            staging.chmod(0o755)  # mkdtemp made it private; the binaries are not secret
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    return binaries
