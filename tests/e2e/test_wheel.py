"""`pip install kcore` needs no compiler: the abi3 wheel, installed into fresh virtualenvs of every
CPython this machine has (3.9 and up, as abi3-py39 claims) whose PATH holds no cargo, rustc or go,
imports, decodes protobuf and talks to a real control plane. The sdist builds into the same wheel
(the same files; only the platform tag of a local build differs).

The wheel is built as ``./dev wheel`` builds it (``maturin build --release``, then ``maturin
sdist``), from the release build the test run already made, so it costs seconds; the sdist's own
build compiles everything from the unpacked sources (a few minutes).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kcore.testenv import ensure_binaries

ROOT = Path(__file__).resolve().parents[2]
MATURIN = Path(sys.executable).parent / "maturin"
ABI3_FLOOR = (3, 9)

SMOKE = r"""
import shutil, sys
import kcore
from kcore import codec
from kcore.clients import Clientset
from kcore.testenv import ControlPlane

for tool in ("cargo", "rustc", "go"):
    assert shutil.which(tool) is None, f"{tool} is on PATH"
assert "site-packages" in kcore.__file__, kcore.__file__
configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "wheel"}, "data": {"python": sys.version}}
body = codec.encode(configmap, codec.PROTOBUF)
assert body[:4] == b"k8s\x00" and codec.decode(body, codec.PROTOBUF) == configmap
with ControlPlane() as cp:
    clientset = Clientset(kcore.load_kubeconfig(str(cp.kubeconfig)))
    clientset.core_v1.config_maps("default").create(configmap)
    got = clientset.core_v1.config_maps("default").get("wheel")
    assert got["data"] == configmap["data"], got
print("kcore works on", ".".join(map(str, sys.version_info[:2])))
"""


def interpreters() -> dict[str, str]:
    """Every CPython >= 3.9 on this machine: on PATH, or installed by pyenv."""
    found: dict[str, str] = {}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in range(ABI3_FLOOR[1], 20):
        version = f"3.{minor}"
        candidates = [
            shutil.which(f"python{version}"),
            *sorted(glob.glob(str(pyenv / f"{version}.*" / "bin" / f"python{version}"))),
        ]
        for candidate in candidates:
            if candidate and subprocess.run([candidate, "-c", "import venv"], capture_output=True).returncode == 0:
                found[version] = candidate
                break
    return found


PYTHONS = interpreters()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    for command in (["build", "--release", "--quiet"], ["sdist"]):
        subprocess.run([str(MATURIN), *command, "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    return out


def the(pattern: str, folder: Path) -> Path:
    (found,) = folder.glob(pattern)
    return found


def test_the_wheel_is_abi3_for_3_9_up_with_a_manylinux_tag_auditwheel_accepts(dist: Path) -> None:
    wheel = the("*.whl", dist)
    assert wheel.name.startswith("kcore-0.1.0-cp39-abi3-manylinux_")
    tag = wheel.name.removesuffix(".whl").split("-")[-1]
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "auditwheel"), "show", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f'consistent with the\nfollowing platform tag: "{tag}"' in shown.stdout, shown.stdout


def test_this_machine_has_the_interpreters_the_readme_lists() -> None:
    assert sorted(PYTHONS, key=lambda v: int(v.split(".")[1])) == ["3.9", "3.10", "3.11", "3.12", "3.13"]


@pytest.mark.parametrize("version", sorted(PYTHONS, key=lambda v: int(v.split(".")[1])))
def test_the_wheel_installed_where_no_compiler_is_works(dist: Path, tmp_path: Path, version: str) -> None:
    venv = tmp_path / "venv"
    subprocess.run([PYTHONS[version], "-m", "venv", str(venv)], check=True)
    bare = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": os.environ["HOME"],
        "KCORE_TESTENV_ASSETS": str(ensure_binaries().kube_apiserver.parent),
    }
    installed = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"kcore[testenv] @ {the('*.whl', dist).as_uri()}",
        ],
        env=bare,
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    smoke = subprocess.run(
        [str(venv / "bin" / "python"), "-c", SMOKE], env=bare, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert smoke.returncode == 0, smoke.stderr
    assert smoke.stdout.strip() == f"kcore works on {version}"


def test_the_sdist_builds_into_the_same_wheel(dist: Path, tmp_path: Path) -> None:
    # A target folder of its own, so that everything is compiled from the unpacked sdist (with
    # the repository's, cargo finds the crate fresh and compiles nothing); without LTO, which
    # changes the code, not the files, and would double the build's time.
    env = {
        **os.environ,
        "CARGO_TARGET_DIR": str(tmp_path / "target"),
        "CARGO_PROFILE_RELEASE_LTO": "false",
        "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16",
    }
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(tmp_path),
            str(the("*.tar.gz", dist)),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert built.returncode == 0, built.stderr
    ours, theirs = the("*.whl", dist), the("*.whl", tmp_path)
    # Same name but for the platform tag: pip's build is for this machine (linux_x86_64), not
    # audited for others as `maturin build` audits the wheel it tags manylinux.
    assert theirs.name.split("-")[:4] == ours.name.split("-")[:4]

    def contents(wheel: Path) -> set[str]:
        # RECORD holds hashes, and the SBOM a build path: neither says what is installed.
        return {n for n in zipfile.ZipFile(wheel).namelist() if not n.endswith(("RECORD", ".json"))}

    assert contents(theirs) == contents(ours)
