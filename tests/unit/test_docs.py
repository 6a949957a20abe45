"""The docs site (mkdocs.yml, docs/) builds with --strict: a broken link, a page missing from
the nav, a snippet that is not there or an API reference entry that does not resolve fails CI."""

from __future__ import annotations

import html
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its successor
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{build.stdout}{build.stderr}", pytrace=False)
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text()


def test_the_site_builds_with_strict_checks(site: Path) -> None:
    assert (site / "index.html").exists()


PACKAGE = ROOT / "python" / "kcore"
# kcore and each of its modules and packages whose name is not private: a new one needs its page.
PUBLIC_MODULES = [
    "kcore",
    *sorted(
        f"kcore.{path.stem}"
        for path in PACKAGE.iterdir()
        if not path.name.startswith("_") and (path.suffix == ".py" or (path / "__init__.py").is_file())
    ),
]


def public_names(module: Any) -> list[str]:
    names = getattr(module, "__all__", None) or [
        name for name, value in vars(module).items() if getattr(value, "__module__", None) == module.__name__
    ]
    # Dunders (__version__) are not API entries; names kcore only re-exports from elsewhere
    # (kcore.workqueue.Empty is queue.Empty) are Python's to document.
    return [
        name
        for name in names
        if not name.startswith("_")
        and (getattr(getattr(module, name), "__module__", None) or "kcore").startswith("kcore")
    ]


def test_every_public_name_of_every_public_module_has_its_entry_in_the_reference(site: Path) -> None:
    assert {"kcore.codec", "kcore.aio", "kcore.errors"} <= set(PUBLIC_MODULES)
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        reference = page(site, f"reference/{module_name}")
        names = public_names(module)
        assert names, module_name
        missing = [name for name in names if f'id="{module_name}.{name}"' not in reference]
        assert not missing, f"{module_name}: {missing}"


def test_the_reference_shows_the_rust_built_api_with_its_rust_docstrings(site: Path) -> None:
    import kcore.codec

    codec = page(site, "reference/kcore.codec")
    assert 'id="kcore.codec.decode"' in codec
    assert kcore.codec.decode.__doc__.split("\n")[0] in codec


def test_the_reference_never_names_the_private_extension_as_api(site: Path) -> None:
    for reference in (site / "reference").glob("*/index.html"):
        html = reference.read_text()
        assert 'id="kcore._core' not in html and "kcore._core." not in html, reference


def test_the_benchmarks_page_is_bench_readme_with_its_plots(site: Path) -> None:
    bench_readme = (ROOT / "bench" / "README.md").read_text()
    benchmarks = page(site, "benchmarks")
    text = html.unescape(re.sub(r"<[^>]+>", "", benchmarks))
    for heading in re.findall(r"(?m)^## (.*)$", bench_readme):  # each benchmark's section, as last written
        assert heading.replace("`", "") in text, heading
    plots = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", bench_readme)
    assert "informer.png" in plots
    for plot in plots:
        assert f'src="../{plot}"' in benchmarks, plot
        assert (site / plot).read_bytes() == (ROOT / "bench" / plot).read_bytes(), plot


def test_every_relative_link_in_the_readme_reaches_a_file() -> None:
    # The site's own links are checked by --strict; the README's point into docs/ from outside it.
    readme = (ROOT / "README.md").read_text()
    links = [link for link in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in link]
    assert links
    for link in links:
        assert (ROOT / link.split("#")[0]).is_file(), link
