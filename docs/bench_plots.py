"""MkDocs hook: the plots in bench/ are served beside the Benchmarks page.

docs/benchmarks.md includes bench/README.md, which the benchmarks rewrite and which names its
plots relative to bench/ (``informer.png``). Adding bench/*.png to the site at its root, where
the page is, keeps those links working without a copy that would go stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files


def on_files(files: Files, config: Any) -> Files:
    bench = Path(config.config_file_path).parent / "bench"
    for plot in sorted(bench.glob("*.png")):
        files.append(
            File(plot.name, src_dir=str(bench), dest_dir=config.site_dir, use_directory_urls=config.use_directory_urls)
        )
    return files
