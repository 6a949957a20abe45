"""A user's program type-checks against the Clientset's TypedDicts: mypy accepts correct key
paths through ``cs.core_v1.pods(...).get(...)`` and reports a misspelt key."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

# Warm between runs: analysing kcore's TypedDicts cold takes seconds, from the cache well under one.
MYPY_CACHE = Path(tempfile.gettempdir()) / "kcore-mypy-cache"


def mypy(tmp_path: Path, program: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "user_program.py"
    source.write_text(textwrap.dedent(program))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--follow-imports=silent",
            "--cache-dir",
            str(MYPY_CACHE),
            "--no-error-summary",
            "--hide-error-context",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mypy_accepts_a_pods_image_read_through_the_typed_clientset(tmp_path: Path) -> None:
    result = mypy(
        tmp_path,
        """
        import kcore
        from kcore import aio

        def image(cs: kcore.Clientset) -> str:
            pod = cs.core_v1.pods("x").get("p")
            return pod["spec"]["containers"][0]["image"]

        def node_names(cs: kcore.Clientset) -> list[str]:
            return [node["metadata"]["name"] for node in cs.core_v1.nodes().iter()]

        async def replicas(cs: aio.Clientset) -> int:
            deployment = await cs.apps_v1.deployments("web").get("front")
            return deployment["spec"]["replicas"]
    """,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_a_misspelt_key_and_a_namespace_given_to_a_cluster_scoped_resource(tmp_path: Path) -> None:
    result = mypy(
        tmp_path,
        """
        import kcore

        def image(cs: kcore.Clientset) -> str:
            pod = cs.core_v1.pods("x").get("p")
            return pod["spec"]["containers"][0]["imag"]

        def nodes(cs: kcore.Clientset) -> None:
            cs.core_v1.nodes("x")
    """,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'TypedDict "Container" has no key "imag"' in result.stdout
    assert "user_program.py:9: error: Too many arguments" in result.stdout
